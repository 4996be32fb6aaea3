"""classifier_weights: cosine / dot scores with class weights, candidates, dimension check."""

import pytest
import torch

from kgzsl.errors import ConfigError
from kgzsl.methods.weights import ClassifierWeights
from kgzsl.testing import toy_task


def _weights_task():
    task = toy_task()
    task.semantics = torch.randn(task.num_classes, task.features.shape[1], generator=torch.Generator().manual_seed(0))
    return task


def test_cosine_and_dot_scores():
    task = _weights_task()
    x = task.features[:5]
    cos = ClassifierWeights("cosine").fit(task).decision_function(x)
    dot = ClassifierWeights("dot").fit(task).decision_function(x)
    c = task.candidates
    w = task.semantics
    torch.testing.assert_close(dot[:, c], x @ w[c].T)
    expected = torch.nn.functional.normalize(x, dim=1) @ torch.nn.functional.normalize(w[c], dim=1).T
    torch.testing.assert_close(cos[:, c], expected)
    assert cos[:, c].abs().max() <= 1 + 1e-6


def test_classes_outside_the_candidates_get_minus_inf():
    task = _weights_task()
    task.unseen = task.unseen[:1]
    scores = ClassifierWeights().fit(task).decision_function(task.features)
    others = [i for i in range(task.num_classes) if i not in set(task.candidates.tolist())]
    assert others and torch.isneginf(scores[:, others]).all()
    assert torch.isfinite(scores[:, task.candidates]).all()


def test_the_true_weights_classify():
    task = _weights_task()
    # weights = class means of the features: the nearest-mean classifier, which the toy data suits
    means = torch.stack([task.features[task.labels == c].mean(0) for c in task.seen.tolist()])
    task.semantics[task.seen] = means
    scores = ClassifierWeights().fit(task).decision_function(task.features)
    assert (scores.argmax(1) == task.labels).float().mean() > 0.5


def test_dimension_mismatch_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"10-d but the features are 16-d.*gcnz"):
        ClassifierWeights().fit(toy_task())
    with pytest.raises(ConfigError, match="score"):
        ClassifierWeights(score="l1").fit(_weights_task())


def test_context_device_and_save_load(tmp_path):
    from kgzsl.context import RunContext

    task = _weights_task()
    method = ClassifierWeights().fit(task, context=RunContext(device="cpu", progress=False))
    assert method.weights_.device.type == "cpu"
    method.save(tmp_path / "w.pt")
    loaded = ClassifierWeights.load(tmp_path / "w.pt")
    assert torch.equal(loaded.decision_function(task.features), method.decision_function(task.features))
