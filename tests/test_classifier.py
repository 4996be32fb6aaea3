"""The shared classifiers: global class space, learning, the run context, determinism, save/load."""

from pathlib import Path

import pytest
import torch

from kgzsl.classifier import CosineClassifier, SoftmaxClassifier
from kgzsl.context import RunContext
from kgzsl.errors import ConfigError
from kgzsl.registry import CLASSIFIERS

FAST = {"epochs": 60, "lr": 0.05, "batch_size": 16}


def _separable(n_per_class: int = 20, seed: int = 0):
    """Three well-separated 2-D blobs at different angles, labelled with global classes 1, 4, 6 of 8."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[4.0, 0.0], [-2.0, 3.5], [-2.0, -3.5]])
    features = (centres.repeat_interleave(n_per_class, 0) + 0.3 * torch.randn(3 * n_per_class, 2, generator=g)).float()
    classes = torch.tensor([1, 4, 6])
    labels = classes.repeat_interleave(n_per_class)
    return features, labels, classes


def test_registered():
    assert CLASSIFIERS.get("softmax") is SoftmaxClassifier
    assert CLASSIFIERS.get("cosine") is CosineClassifier
    assert CLASSIFIERS.build("cosine", scale=5.0, learn_scale=True).scale == 5.0
    with pytest.raises(ConfigError):
        CLASSIFIERS.build("softmax", epochs=1.5)


@pytest.mark.parametrize("cls", [SoftmaxClassifier, CosineClassifier])
def test_learns_separable_problem_in_global_space(cls):
    features, labels, classes = _separable()
    clf = cls(**FAST).fit(features, labels, classes, num_classes=8)
    scores = clf.decision_function(features)
    assert scores.shape == (60, 8) and scores.dtype == torch.float32
    others = torch.tensor([0, 2, 3, 5, 7])
    assert torch.isneginf(scores[:, others]).all()
    assert torch.isfinite(scores[:, classes]).all()
    # Log-softmax over the fitted classes: probabilities sum to one.
    torch.testing.assert_close(scores[:, classes].logsumexp(1), torch.zeros(60), atol=1e-5, rtol=0)
    assert torch.equal(scores.argmax(1), labels)


def _ctx(seed: int = 0, **kw) -> RunContext:
    return RunContext(seed=seed, device="cpu", progress=False, **kw)


@pytest.mark.parametrize("cls", [SoftmaxClassifier, CosineClassifier])
def test_the_context_seed_decides_and_an_explicit_seed_wins(cls):
    features, labels, classes = _separable()

    def scores(seed, own=None):
        return cls(epochs=3, seed=own).fit(features, labels, classes, 8, context=_ctx(seed)).decision_function(features)

    assert torch.equal(scores(0), scores(0))
    assert not torch.equal(scores(0), scores(1))  # the run's seed reaches the classifier
    assert torch.equal(scores(0, own=5), scores(1, own=5))  # its own seed wins over the run's
    assert torch.equal(scores(5), scores(1, own=5))


def test_fit_leaves_the_callers_random_stream_alone():
    features, labels, classes = _separable()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    SoftmaxClassifier(epochs=2).fit(features, labels, classes, 8, context=_ctx(7))
    assert torch.equal(torch.rand(3), expected)


def test_device_from_the_context_and_own_setting():
    features, labels, classes = _separable()
    clf = SoftmaxClassifier(epochs=1).fit(features, labels, classes, 8, context=_ctx())
    assert clf.classes_.device.type == "cpu" and next(clf.module_.parameters()).device.type == "cpu"
    with pytest.raises(ConfigError, match="device"):
        SoftmaxClassifier(epochs=1, device="tpu").fit(features, labels, classes, 8, context=_ctx())


def test_no_progress_silences_the_bar(capsys):
    features, labels, classes = _separable()
    SoftmaxClassifier(epochs=3).fit(features, labels, classes, 8, context=_ctx())
    assert "classifier" not in capsys.readouterr().err
    SoftmaxClassifier(epochs=3).fit(features, labels, classes, 8, context=_ctx().with_(progress=True))
    assert "classifier (softmax)" in capsys.readouterr().err


@pytest.mark.parametrize("cls", [SoftmaxClassifier, CosineClassifier])
def test_save_load_gives_identical_scores(cls, tmp_path: Path):
    features, labels, classes = _separable()
    clf = cls(epochs=3, learn_scale=True) if cls is CosineClassifier else cls(epochs=3)
    clf.fit(features, labels, classes, 8, context=_ctx())
    clf.save(tmp_path / "clf.pt", class_ids=list("abcdefgh"))
    loaded = cls.load(tmp_path / "clf.pt")
    assert loaded.get_params() == clf.get_params() and loaded is not clf
    assert torch.equal(loaded.decision_function(features), clf.decision_function(features))


def test_num_classes_defaults_to_largest_class_plus_one():
    features, labels, classes = _separable()
    assert SoftmaxClassifier(epochs=1).fit(features, labels, classes).decision_function(features).shape == (60, 7)


def test_rejects_labels_outside_classes():
    features, labels, classes = _separable()
    with pytest.raises(ValueError, match="one of `classes`"):
        SoftmaxClassifier(epochs=1).fit(features, labels, classes[:2], 8)
    with pytest.raises(ValueError, match="num_classes"):
        SoftmaxClassifier(epochs=1).fit(features, labels, classes, 5)


def test_cosine_scale_fixed_or_learned():
    features, labels, classes = _separable()
    fixed = CosineClassifier(epochs=5, scale=7.0).fit(features, labels, classes, 8)
    assert fixed.module_.log_scale.exp().item() == pytest.approx(7.0)
    learned = CosineClassifier(epochs=5, scale=7.0, learn_scale=True, lr=0.05).fit(features, labels, classes, 8)
    assert learned.module_.log_scale.exp().item() != pytest.approx(7.0)
    # Cosine logits ignore the feature norm.
    torch.testing.assert_close(fixed.decision_function(features), fixed.decision_function(3 * features))


def test_get_params_and_repr():
    clf = SoftmaxClassifier(lr=0.01)
    assert clf.get_params() == {
        "epochs": 30,
        "lr": 0.01,
        "batch_size": 64,
        "weight_decay": 0.0,
        "beta1": 0.5,
        "seed": None,
        "device": None,
    }
    assert repr(clf).startswith("SoftmaxClassifier(epochs=30, lr=0.01")
