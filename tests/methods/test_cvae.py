"""CVAE: synthesis, the classifier it trains, the score contract, the run context, save/load."""

from pathlib import Path

import pytest
import torch

from kgzsl.classifier import SoftmaxClassifier
from kgzsl.methods.base import ZSLTask
from kgzsl.methods.cvae import CVAE
from kgzsl.methods.generative import GenerativeMethod
from kgzsl.registry import CLASSIFIERS, METHODS
from kgzsl.testing import (
    check_same_seed_same_numbers,
    check_save_load,
    check_training_log,
    cpu_context,
    toy_dataset,
    toy_task,
)

FAST = {"epochs": 3, "hidden": 32, "latent_dim": 4, "n_synthetic": 7, "batch_size": 32, "kl_warmup": 1}


class _SpyClassifier(SoftmaxClassifier):
    """Records what CVAE trains the classifier on."""

    def fit(self, features, labels, classes, num_classes=None, context=None):
        self.seen_fit = (features.clone(), labels.clone(), classes.clone(), num_classes)
        self.context = context
        return super().fit(features, labels, classes, num_classes, context=context)


def _test_features() -> torch.Tensor:
    ds = toy_dataset()
    return torch.as_tensor(ds.features[ds.splits["test_unseen"]])


def test_synthesize_shape_and_range():
    task = toy_task()
    torch.manual_seed(0)
    method = CVAE(**FAST).fit(task, classifier=SoftmaxClassifier(epochs=1))
    synthetic = method.synthesize(task.unseen, 5)  # global class indices
    assert synthetic.shape == (3 * 5, task.features.shape[1])
    assert torch.isfinite(synthetic).all()
    assert ((synthetic >= 0) & (synthetic <= 1)).all()  # decoder output lives in the min-max scaled space
    torch.manual_seed(1)
    a = method.synthesize(task.unseen, 5)
    torch.manual_seed(1)
    assert torch.equal(a, method.generate(task.semantics[task.unseen], 5))


def test_classifier_gets_real_seen_and_n_synthetic_per_unseen_class():
    task = toy_task()
    spy = _SpyClassifier(epochs=1)
    torch.manual_seed(0)
    method = CVAE(**FAST).fit(task, classifier=spy)
    assert method.classifier_ is spy
    features, labels, classes, num_classes = spy.seen_fit
    assert num_classes == task.num_classes
    assert torch.equal(classes, task.candidates)
    counts = torch.bincount(labels, minlength=task.num_classes)
    assert torch.equal(counts[task.unseen], torch.full((3,), FAST["n_synthetic"]))
    assert torch.equal(counts[task.seen], torch.bincount(task.labels, minlength=task.num_classes)[task.seen])
    # The real features are passed min-max scaled with the training statistics.
    real = features[: len(task.labels)]
    torch.testing.assert_close(real, method.transform(task.features))
    torch.testing.assert_close(real.amin(0), torch.zeros(real.shape[1]))
    torch.testing.assert_close(real.amax(0), torch.ones(real.shape[1]))


def test_default_classifier_is_softmax():
    torch.manual_seed(0)
    method = CVAE(**FAST).fit(toy_task())
    assert isinstance(method.classifier_, SoftmaxClassifier)


def test_scores_contract_and_determinism():
    full = toy_task()
    task = ZSLTask(full.features, full.labels, full.semantics, full.seen, full.unseen[1:])
    test = _test_features()
    # global_seed: the caller's global stream does not matter, the context's seed does
    runs = check_same_seed_same_numbers(
        lambda: METHODS.build("cvae", **FAST),
        task,
        test,
        classifier=lambda: CLASSIFIERS.build("softmax", epochs=2),
        global_seed=123,
    )
    scores = runs[0][1]
    assert scores.shape == (len(test), task.num_classes)
    inside = torch.zeros(task.num_classes, dtype=torch.bool)
    inside[task.candidates] = True
    assert torch.isfinite(scores[:, inside]).all()
    assert torch.isneginf(scores[:, ~inside]).all()


def test_an_explicit_seed_wins_over_the_context():
    task, test = toy_task(), _test_features()

    def scores(context_seed, own=None):
        method = CVAE(**FAST, seed=own).fit(
            task, classifier=SoftmaxClassifier(epochs=2), context=cpu_context(context_seed)
        )
        return method.decision_function(test)

    assert torch.equal(scores(0, own=4), scores(1, own=4))
    assert torch.equal(scores(4), scores(1, own=4))
    assert not torch.equal(scores(0), scores(1))


def test_the_classifier_gets_the_run_context_on_the_methods_device():
    spy = _SpyClassifier(epochs=1)
    CVAE(**FAST).fit(toy_task(), classifier=spy, context=cpu_context(3).with_(device="cpu"))
    assert spy.context.device == "cpu" and spy.context.progress is False
    assert spy.context.seed != 3  # a seed derived from the run's: not the CVAE's own stream


def test_save_load_gives_identical_scores(tmp_path: Path):
    method = CVAE(**FAST).fit(toy_task(), classifier=SoftmaxClassifier(epochs=2), context=cpu_context())
    loaded = check_save_load(method, tmp_path, _test_features(), classes=(0, 1))
    assert isinstance(loaded.classifier_, SoftmaxClassifier)
    with torch.random.fork_rng():  # and from torch's global generator
        torch.manual_seed(0)
        a = loaded.synthesize([0, 1], 3)
        torch.manual_seed(0)
        assert torch.equal(a, method.synthesize([0, 1], 3))


def test_registered_with_classifier():
    assert METHODS.get("cvae") is CVAE
    assert CVAE.uses_classifier is True and issubclass(CVAE, GenerativeMethod)
    assert set(FAST) <= set(METHODS.defaults("cvae"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_the_context_device(tmp_path: Path):
    task = toy_task(device="cpu")
    method = CVAE(**FAST).fit(
        task, classifier=CLASSIFIERS.build("cosine", epochs=2), context=cpu_context().with_(device="cuda")
    )
    scores = method.decision_function(_test_features())
    assert scores.device.type == "cuda" and scores.shape[1] == task.num_classes
    # saved on the GPU, loaded onto the CPU
    method.save(tmp_path / "cvae.pt")
    loaded = CVAE.load(tmp_path / "cvae.pt", device="cpu")
    on_cpu = loaded.decision_function(_test_features())
    assert on_cpu.device.type == "cpu"
    torch.testing.assert_close(on_cpu, scores.cpu(), rtol=1e-4, atol=1e-4)
    assert method.synthesize(task.unseen, 2).device.type == "cuda"


def test_no_progress_silences_every_bar_inner_ones_too(capsys):
    CVAE(**FAST).fit(toy_task(), classifier=SoftmaxClassifier(epochs=2), context=cpu_context())
    assert capsys.readouterr().err == ""
    CVAE(**FAST).fit(toy_task(), classifier=SoftmaxClassifier(epochs=2), context=cpu_context().with_(progress=True))
    err = capsys.readouterr().err
    assert "cvae" in err and "classifier (softmax)" in err


def test_training_log_has_the_losses_of_every_epoch():
    method = CVAE(**FAST).fit(toy_task(), classifier=SoftmaxClassifier(epochs=2), context=cpu_context())
    rows = check_training_log(method, {"recon", "kl"})
    assert len(rows) == len(method.train_log_)  # generator epochs only
    assert all(r["recon"] > 0 and r["kl"] >= 0 for r in rows)
