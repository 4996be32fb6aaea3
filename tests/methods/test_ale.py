"""ALE: the rank-weighted (WARP) loss by hand, the softmax variant, the contract, two kinds of semantics."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kgzsl.context import RunContext
from kgzsl.methods.ale import ALE, rank_weights, softmax_loss, warp_loss
from kgzsl.pipeline import run_experiment
from kgzsl.registry import METHODS
from kgzsl.testing import check_method, toy_task

FAST = {"epochs": 5, "batch_size": 32}


def test_rank_weights_are_harmonic_over_rank():
    # β_r / r with β_r = 1 + 1/2 + … + 1/r; rank 0 has no weight
    expected = torch.tensor([0.0, 1.0, 1.5 / 2, (1 + 1 / 2 + 1 / 3) / 3, (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4])
    torch.testing.assert_close(rank_weights(torch.tensor([0, 1, 2, 3, 4])), expected)


def test_warp_loss_by_hand():
    scores = torch.tensor(
        [
            [0.0, 0.5, 0.2, -2.0],  # class 0: violators 1 (1.5) and 2 (1.2): r = 2, weight 1.5 / 2
            [3.0, 1.0, 2.5, 0.0],  # class 0: violator 2 only (0.5): r = 1, weight 1
            [5.0, 0.0, 1.0, 0.0],  # class 0: no violator
            [1.0, 1.0, 1.0, 1.0],  # class 3: all three violate by 1: r = 3, weight 11/18
        ]
    )
    targets = torch.tensor([0, 0, 0, 3])
    expected = torch.tensor([0.75 * 2.7, 0.5, 0.0, (11 / 6) / 3 * 3.0])
    torch.testing.assert_close(warp_loss(scores, targets, margin=1.0), expected)


def test_warp_weight_is_a_constant_of_the_step():
    scores = torch.tensor([[0.0, 0.5, 0.2, -2.0]], requires_grad=True)
    warp_loss(scores, torch.tensor([0]), margin=1.0).sum().backward()
    torch.testing.assert_close(scores.grad, torch.tensor([[-1.5, 0.75, 0.75, 0.0]]))


def test_softmax_loss_is_cross_entropy():
    scores = torch.tensor([[2.0, 0.0, 0.0]])
    expected = -torch.log(torch.tensor(np.exp(2.0) / (np.exp(2.0) + 2), dtype=torch.float32))
    torch.testing.assert_close(softmax_loss(scores, torch.tensor([0])), expected[None])


def test_contract_on_the_toy_task(tmp_path: Path):
    check_method(lambda: METHODS.build("ale"), tmp_path)


def test_softmax_variant_fits_the_contract(tmp_path: Path):
    check_method(lambda: METHODS.build("ale", loss="softmax"), tmp_path)


def test_scores_are_the_bilinear_compatibility():
    task = toy_task()
    method = ALE(**FAST).fit(task, context=RunContext(device="cpu", progress=False))
    x = torch.nn.functional.normalize(task.features, dim=1)
    expected = x @ method.W_ @ torch.nn.functional.normalize(task.semantics, dim=1).T
    torch.testing.assert_close(method.decision_function(task.features), expected)


def test_same_seed_same_numbers_other_seed_other_numbers():
    task = toy_task()

    def scores(seed):
        return ALE(**FAST).fit(task, context=RunContext(seed=seed, progress=False)).decision_function(task.features)

    assert torch.equal(scores(0), scores(0)) and not torch.equal(scores(0), scores(1))


def test_default_grid_and_parameters():
    assert ALE.default_select == {"lr": [1e-3, 1e-2, 1e-1], "epochs": [10, 50]}
    for key, values in ALE.default_select.items():
        for value in values:
            METHODS.check_params("ale", {key: value})
    assert METHODS.defaults("ale")["loss"] == "warp" and METHODS.defaults("ale")["margin"] == 1.0


SMALL = {
    "dataset": {"name": "synthetic_kg", "n_features": 64, "min_images": 20, "max_images": 40},
    "knowledge": {"name": "files"},
    "train": {"device": "cpu"},
    "select": {},
}


@pytest.mark.parametrize("semantics", [{"name": "kg_attributes"}, {"name": "dataset", "key": "attributes"}])
def test_runs_from_a_config_with_two_kinds_of_semantics(semantics, tmp_path: Path):
    cfg = {**SMALL, "semantics": semantics, "method": {"name": "ale", "epochs": 10}}
    a = run_experiment(cfg, stem="a", out=tmp_path / "a", seed=0, progress=False).metrics
    b = run_experiment(cfg, stem="a", out=tmp_path / "b", seed=0, progress=False).metrics
    assert a["zsl/top1"] > 2 / 12  # 12 unseen classes: twice chance (ESZSL gets 0.30 on these data)
    assert np.isfinite(a["gzsl/h"]) and a["zsl/top1"] == b["zsl/top1"] and a["gzsl/h"] == b["gzsl/h"]
