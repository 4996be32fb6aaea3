"""DeViSE: the hinge rank loss by hand, the contract on the toy task, two kinds of semantics from a config."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kgzsl.context import RunContext
from kgzsl.methods.devise import DeViSE, hinge_rank_loss
from kgzsl.pipeline import run_experiment
from kgzsl.registry import METHODS
from kgzsl.testing import check_method, toy_task

FAST = {"epochs": 5, "batch_size": 32}


def test_hinge_rank_loss_by_hand():
    # image 0, class 0: wrong classes 1 (0.5 + 1 - 0 = 1.5) and 2 (0.2 + 1 - 0 = 1.2); 3 is far below (0)
    # image 1, class 2, margin 0.1: class 0 violates by 1 + 0.1 - 0.5 = 0.6, class 3 by 0.45 + 0.1 - 0.5 = 0.05;
    # class 1 does not (-1 + 0.1 - 0.5 < 0)
    scores = torch.tensor([[0.0, 0.5, 0.2, -2.0], [1.0, -1.0, 0.5, 0.45]])
    targets = torch.tensor([0, 2])
    torch.testing.assert_close(hinge_rank_loss(scores[:1], targets[:1], margin=1.0), torch.tensor([2.7]))
    torch.testing.assert_close(hinge_rank_loss(scores[1:], targets[1:], margin=0.1), torch.tensor([0.65]))
    # no violator: zero loss, and the true class's own max(0, margin) is never counted
    assert hinge_rank_loss(torch.tensor([[5.0, 0.0, 1.0]]), torch.tensor([0]), margin=1.0).item() == 0.0


def test_hinge_rank_loss_gradient_is_the_papers_update():
    # dℓ/dF(x, j) = 1 for each violator j, -(number of violators) for the true class
    scores = torch.tensor([[0.0, 0.5, 0.2, -2.0]], requires_grad=True)
    hinge_rank_loss(scores, torch.tensor([0]), margin=1.0).sum().backward()
    torch.testing.assert_close(scores.grad, torch.tensor([[-2.0, 1.0, 1.0, 0.0]]))


def test_contract_on_the_toy_task(tmp_path: Path):
    measured = check_method(lambda: METHODS.build("devise"), tmp_path)
    assert measured["zsl_top1"] > 0.5


@pytest.mark.parametrize(
    "params", [{"similarity": "dot"}, {"normalize_features": "std"}, {"optimizer": "sgd", "lr": 1.0}]
)
def test_options_fit_and_score(params):
    task = toy_task()
    method = DeViSE(**FAST, **params).fit(task, context=RunContext(device="cpu", progress=False))
    scores = method.decision_function(task.features)
    assert scores.shape == (len(task.features), task.num_classes) and torch.isfinite(scores).all()


def test_cosine_scores_are_cosines():
    task = toy_task()
    method = DeViSE(**FAST).fit(task, context=RunContext(device="cpu", progress=False))
    x = torch.nn.functional.normalize(task.features, dim=1) @ method.W_
    expected = torch.nn.functional.normalize(x, dim=1) @ torch.nn.functional.normalize(task.semantics, dim=1).T
    torch.testing.assert_close(method.decision_function(task.features), expected)
    assert method.decision_function(task.features).abs().max() <= 1 + 1e-5


def test_seed_decides_and_an_explicit_seed_wins():
    task = toy_task()

    def scores(run_seed, own=None):
        method = DeViSE(**FAST, seed=own).fit(task, context=RunContext(seed=run_seed, device="cpu", progress=False))
        return method.decision_function(task.features)

    assert torch.equal(scores(0), scores(0))
    assert not torch.equal(scores(0), scores(1))
    assert torch.equal(scores(0, own=5), scores(1, own=5))


def test_rejects_unseen_training_labels():
    task = toy_task()
    task.labels[0] = int(task.unseen[0])
    with pytest.raises(ValueError, match="seen class"):
        DeViSE(**FAST).fit(task)


def test_default_grid_and_parameters():
    assert DeViSE.default_select == {"lr": [1e-3, 1e-2, 1e-1], "epochs": [10, 50], "margin": [0.1, 1.0]}
    for key, values in DeViSE.default_select.items():
        for value in values:
            METHODS.check_params("devise", {key: value})
    assert METHODS.defaults("devise")["margin"] == 0.1  # the paper's
    assert METHODS.get("devise").uses_classifier is False


SMALL = {
    "dataset": {"name": "synthetic_kg", "n_features": 64, "min_images": 20, "max_images": 40},
    "knowledge": {"name": "files"},
    "train": {"device": "cpu"},
    "select": {},
}


@pytest.mark.parametrize("semantics", [{"name": "kg_attributes"}, {"name": "dataset", "key": "attributes"}])
def test_runs_from_a_config_with_two_kinds_of_semantics(semantics, tmp_path: Path):
    cfg = {**SMALL, "semantics": semantics, "method": {"name": "devise", "epochs": 10}}
    a = run_experiment(cfg, stem="d", out=tmp_path / "a", seed=0, progress=False).metrics
    b = run_experiment(cfg, stem="d", out=tmp_path / "b", seed=0, progress=False).metrics
    assert a["zsl/top1"] > 2 / 12  # 12 unseen classes: twice chance (ESZSL gets 0.30 on these data)
    assert np.isfinite(a["gzsl/h"]) and a["zsl/top1"] == b["zsl/top1"] and a["gzsl/h"] == b["gzsl/h"]
