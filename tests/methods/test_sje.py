"""SJE: the structured max-margin loss by hand, the contract, two kinds of semantics."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kgzsl.context import RunContext
from kgzsl.methods.sje import SJE, structured_hinge_loss
from kgzsl.pipeline import run_experiment
from kgzsl.registry import METHODS
from kgzsl.testing import check_method, toy_task

FAST = {"epochs": 5, "batch_size": 32}


def test_structured_hinge_loss_by_hand():
    scores = torch.tensor(
        [
            [0.0, 0.5, 0.2, -2.0],  # class 0: the most violating is 1: 1 + 0.5 - 0
            [3.0, 1.0, 2.5, 0.0],  # class 0: the most violating is 2: 1 + 2.5 - 3
            [5.0, 0.0, 1.0, 0.0],  # class 0: no violator
        ]
    )
    expected = torch.tensor([1.5, 0.5, 0.0])
    torch.testing.assert_close(structured_hinge_loss(scores, torch.tensor([0, 0, 0]), margin=1.0), expected)
    # the true class scores highest (10) but within a margin of 3 of the next (9): 3 + 9 - 10
    ahead = torch.tensor([[0.0, 9.0, 0.0, 10.0]])
    torch.testing.assert_close(structured_hinge_loss(ahead, torch.tensor([3]), margin=1.0), torch.tensor([0.0]))
    torch.testing.assert_close(structured_hinge_loss(ahead, torch.tensor([3]), margin=3.0), torch.tensor([2.0]))


def test_gradient_touches_only_the_most_violating_class():
    scores = torch.tensor([[0.0, 0.5, 0.2, -2.0]], requires_grad=True)
    structured_hinge_loss(scores, torch.tensor([0]), margin=1.0).sum().backward()
    torch.testing.assert_close(scores.grad, torch.tensor([[-1.0, 1.0, 0.0, 0.0]]))


def test_contract_on_the_toy_task(tmp_path: Path):
    check_method(lambda: METHODS.build("sje"), tmp_path)


def test_scores_are_the_bilinear_compatibility_and_std_normalisation_uses_training_statistics():
    task = toy_task()
    method = SJE(**FAST, normalize_features="std").fit(task, context=RunContext(device="cpu", progress=False))
    torch.testing.assert_close(method.mean_, task.features.mean(0))
    x = (task.features - task.features.mean(0)) / task.features.std(0)
    expected = x @ method.W_ @ torch.nn.functional.normalize(task.semantics, dim=1).T
    torch.testing.assert_close(method.decision_function(task.features), expected)


def test_same_seed_same_numbers_other_seed_other_numbers():
    task = toy_task()

    def scores(seed):
        return SJE(**FAST).fit(task, context=RunContext(seed=seed, progress=False)).decision_function(task.features)

    assert torch.equal(scores(0), scores(0)) and not torch.equal(scores(0), scores(1))


def test_default_grid_and_parameters():
    assert SJE.default_select == {"lr": [1e-3, 1e-2, 1e-1], "epochs": [10, 50]}
    for key, values in SJE.default_select.items():
        for value in values:
            METHODS.check_params("sje", {key: value})


SMALL = {
    "dataset": {"name": "synthetic_kg", "n_features": 64, "min_images": 20, "max_images": 40},
    "knowledge": {"name": "files"},
    "train": {"device": "cpu"},
    "select": {},
}


@pytest.mark.parametrize("semantics", [{"name": "kg_attributes"}, {"name": "dataset", "key": "attributes"}])
def test_runs_from_a_config_with_two_kinds_of_semantics(semantics, tmp_path: Path):
    cfg = {**SMALL, "semantics": semantics, "method": {"name": "sje", "epochs": 10}}
    a = run_experiment(cfg, stem="s", out=tmp_path / "a", seed=0, progress=False).metrics
    b = run_experiment(cfg, stem="s", out=tmp_path / "b", seed=0, progress=False).metrics
    assert a["zsl/top1"] > 2 / 12  # 12 unseen classes: twice chance (ESZSL gets 0.30 on these data)
    assert np.isfinite(a["gzsl/h"]) and a["zsl/top1"] == b["zsl/top1"] and a["gzsl/h"] == b["gzsl/h"]
