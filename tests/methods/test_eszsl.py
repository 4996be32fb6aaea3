"""ESZSL: the closed form against NumPy, the score contract, transfer on toy data."""

import numpy as np
import pytest
import torch

from kgzsl.context import RunContext
from kgzsl.evaluation import zsl_accuracy
from kgzsl.methods.base import ZSLMethod, ZSLTask
from kgzsl.methods.eszsl import ESZSL
from kgzsl.registry import METHODS
from kgzsl.testing import toy_dataset, toy_task


def _tiny_task(seed: int = 0) -> ZSLTask:
    """20 images of 3 seen classes (listed out of order), 5 classes in all, 4-d semantics."""
    rng = np.random.default_rng(seed)
    seen = np.array([2, 0, 3])
    labels = rng.choice(seen, size=20)
    return ZSLTask(
        features=torch.as_tensor(rng.normal(size=(20, 6)), dtype=torch.float32),
        labels=torch.as_tensor(labels),
        semantics=torch.as_tensor(rng.normal(size=(5, 4)), dtype=torch.float32),
        seen=torch.as_tensor(seen),
        unseen=torch.as_tensor([4]),
    )


@pytest.mark.parametrize("normalize", [False, True])
def test_closed_form_matches_numpy(normalize):
    task = _tiny_task()
    alpha, beta = -1, 0
    method = ESZSL(alpha=alpha, beta=beta, normalize_features=normalize).fit(task)

    x = task.features.numpy().astype(np.float64)
    if normalize:
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
    seen = task.seen.numpy()
    s = task.semantics.numpy().astype(np.float64)[seen]  # [Z, a], rows in task.seen order
    y = np.where(task.labels.numpy()[:, None] == seen[None, :], 1.0, -1.0)  # [N, Z] in {-1, +1}
    gamma, lam = 10.0**alpha, 10.0**beta
    v = np.linalg.inv(x.T @ x + gamma * np.eye(6)) @ x.T @ y @ s @ np.linalg.inv(s.T @ s + lam * np.eye(4))

    np.testing.assert_allclose(method.V_.numpy(), v, rtol=1e-5, atol=1e-6)
    scores = method.decision_function(task.features).numpy()
    candidates = [2, 0, 3, 4]
    expected = x @ v @ task.semantics.numpy().astype(np.float64).T
    np.testing.assert_allclose(scores[:, candidates], expected[:, candidates], rtol=1e-4, atol=1e-5)
    assert np.isneginf(scores[:, 1]).all()


def test_rejects_unseen_training_labels():
    task = _tiny_task()
    task.labels[0] = 1
    with pytest.raises(ValueError, match="seen class"):
        ESZSL().fit(task)


def test_scores_contract_on_toy_task():
    full = toy_task()
    # Leave one unseen class out of the candidates so that some columns must be -inf.
    task = ZSLTask(full.features, full.labels, full.semantics, full.seen, full.unseen[:2])
    ds = toy_dataset()
    test = torch.as_tensor(ds.features[ds.splits["test_unseen"]])
    scores = ESZSL().fit(task).decision_function(test)
    assert scores.shape == (len(test), task.num_classes) and scores.dtype == torch.float32
    inside = torch.zeros(task.num_classes, dtype=torch.bool)
    inside[task.candidates] = True
    assert torch.isfinite(scores[:, inside]).all()
    assert torch.isneginf(scores[:, ~inside]).all()
    again = ESZSL().fit(task).decision_function(test)
    assert torch.equal(scores, again)


def test_transfers_to_unseen_toy_classes():
    ds = toy_dataset()
    test = ds.splits["test_unseen"]
    scores = METHODS.build("eszsl").fit(toy_task()).decision_function(torch.as_tensor(ds.features[test]))
    chance = 1 / len(ds.unseen)
    assert zsl_accuracy(scores, ds.labels[test], ds.unseen) > chance + 0.25


def test_registered_without_classifier():
    assert METHODS.get("eszsl") is ESZSL
    assert ESZSL.uses_classifier is False
    assert METHODS.defaults("eszsl") == {"alpha": 0, "beta": -1, "normalize_features": True, "device": None}


def test_default_validation_grid_is_the_gbu_protocols():
    # Xian et al., TPAMI 2018: γ, λ ∈ 10^[-3..3]; alpha and beta are the exponents
    assert ESZSL.default_select == {"alpha": [-3, -2, -1, 0, 1, 2, 3], "beta": [-3, -2, -1, 0, 1, 2, 3]}
    for key, values in ESZSL.default_select.items():
        for value in values:
            METHODS.check_params("eszsl", {key: value})  # every grid point is a valid parameter
    assert ZSLMethod.default_select == {}


def test_context_device_and_save_load(tmp_path):
    method = ESZSL().fit(toy_task(), context=RunContext(device="cpu", progress=False))
    assert method.weights_.device.type == "cpu"
    method.save(tmp_path / "eszsl.pt", class_ids=["a"])
    loaded = ESZSL.load(tmp_path / "eszsl.pt")
    test = toy_task().features
    assert torch.equal(loaded.decision_function(test), method.decision_function(test))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_context_keeps_a_cuda_task_on_the_cpu_and_cuda_loads_onto_cpu(tmp_path):
    task = toy_task(device="cuda")
    assert ESZSL().fit(task, context=RunContext(device="cpu")).weights_.device.type == "cpu"
    on_gpu = ESZSL().fit(toy_task(), context=RunContext(device="cuda"))
    on_gpu.save(tmp_path / "eszsl.pt")
    loaded = ESZSL.load(tmp_path / "eszsl.pt", device="cpu")
    torch.testing.assert_close(
        loaded.decision_function(task.features.cpu()), on_gpu.decision_function(task.features).cpu()
    )
