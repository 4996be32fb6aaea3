"""The generative-method base: shared classifier, epochs chosen on validation, fidelity, training log."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from kgzsl.classifier import SoftmaxClassifier
from kgzsl.context import RunContext
from kgzsl.methods.cvae import CVAE
from kgzsl.methods.generative import GenerativeMethod, two_sample_accuracy, validation_score
from kgzsl.testing import toy_dataset, toy_task

FAST = {"epochs": 3, "hidden": 32, "latent_dim": 4, "n_synthetic": 7, "batch_size": 32, "kl_warmup": 1}


def _ctx(seed: int = 0, **kw) -> RunContext:
    return RunContext(seed=seed, device="cpu", progress=False, **kw)


def _validation_task():
    """The validation stage's task: fit on ``train``, the val classes unseen, validation images attached."""
    ds = toy_dataset()
    task = toy_task(split="train")
    held = ds.splits["test_seen"][np.isin(ds.labels[ds.splits["test_seen"]], ds.train_classes)]
    val_idx = np.concatenate([held, ds.splits["val"]])
    task.val_features = torch.as_tensor(ds.features[val_idx])
    task.val_labels = torch.as_tensor(ds.labels[val_idx])
    return task


def test_cvae_is_a_generative_method():
    assert issubclass(CVAE, GenerativeMethod) and CVAE.uses_classifier


def test_validation_score_by_criterion():
    seen, unseen = np.array([0, 1]), np.array([2, 3])
    # rows: seen 0 right, seen 1 wrong (called 2), unseen 2 right, unseen 3 right among unseen but beaten by seen 0
    scores = np.array(
        [[5.0, 0, 0, 0], [0, 1, 3, 0], [0, 0, 4, 1], [6, 0, 0, 5]],
    )
    labels = np.array([0, 1, 2, 3])
    assert validation_score(scores, labels, seen, unseen, "zsl_top1") == 1.0
    # GZSL: seen acc 1/2, unseen acc 1/2 -> H 1/2
    assert validation_score(scores, labels, seen, unseen, "gzsl_h") == pytest.approx(0.5)
    assert validation_score(scores, labels, seen, unseen, "gzsl_cs_h") >= 0.5


def test_two_sample_accuracy_is_near_half_for_one_distribution_and_one_for_two():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(600, 8, generator=g), torch.randn(600, 8, generator=g)
    assert abs(two_sample_accuracy(a, b) - 0.5) < 0.1
    assert two_sample_accuracy(a, b + 3.0) > 0.97
    with pytest.raises(ValueError):
        two_sample_accuracy(a[:1], b[:1])


def test_classifier_epochs_are_chosen_on_validation_along_one_run():
    task = _validation_task()
    method = CVAE(**FAST).fit(task, classifier=SoftmaxClassifier(epochs=6, lr=1e-2), context=_ctx())
    best = method.selected_["classifier.epochs"]
    assert 1 <= best <= 6
    rows = [r for r in method.train_log_ if r["stage"] == "classifier"]
    assert [r["epoch"] for r in rows] == list(range(1, 7))
    values = [r["val_gzsl_h"] for r in rows]
    assert values[best - 1] == max(values) and values.index(max(values)) == best - 1  # ties: earliest
    # the kept classifier is exactly the one a run of `best` epochs gives (no validation images)
    task.val_features = task.val_labels = None
    again = CVAE(**FAST).fit(task, classifier=SoftmaxClassifier(epochs=best, lr=1e-2), context=_ctx())
    assert again.selected_ == {}
    test = torch.as_tensor(toy_dataset().features[:40])
    assert torch.equal(method.decision_function(test), again.decision_function(test))


def test_zsl_criterion_is_used_when_asked():
    task = _validation_task()
    task.select_by = "zsl_top1"
    method = CVAE(**FAST).fit(task, classifier=SoftmaxClassifier(epochs=3, lr=1e-2), context=_ctx())
    assert {"val_zsl_top1"} <= set(method.train_log_[-1])


def test_without_validation_images_nothing_is_selected():
    method = CVAE(**FAST).fit(toy_task(), classifier=SoftmaxClassifier(epochs=2), context=_ctx())
    assert method.selected_ == {}
    assert not any(r["stage"] == "classifier" for r in method.train_log_)


class _Squares(CVAE):
    """A classifier transform: the classifier reads ``[x; x²]``."""

    def classifier_features(self, x):
        return torch.cat([x, x.pow(2)], dim=1)


class _Spy(SoftmaxClassifier):
    def fit(self, features, labels, classes, num_classes=None, context=None, on_epoch=None):
        self.dims = features.shape[1]
        return super().fit(features, labels, classes, num_classes, context=context, on_epoch=on_epoch)


def test_classifier_features_transform_reaches_training_and_scoring():
    task, spy = toy_task(), _Spy(epochs=2)
    method = _Squares(**FAST).fit(task, classifier=spy, context=_ctx())
    assert spy.dims == 2 * task.features.shape[1]
    scores = method.decision_function(task.features)
    assert scores.shape == (len(task.features), task.num_classes)
    expected = spy.decision_function(method.classifier_features(method.transform(task.features)))
    assert torch.equal(scores, expected)


def test_synthesize_takes_global_class_indices():
    task = toy_task()
    method = CVAE(**FAST).fit(task, classifier=SoftmaxClassifier(epochs=1), context=_ctx())
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a = method.synthesize(task.unseen, 4, g1)
    assert a.shape == (3 * 4, task.features.shape[1])
    assert torch.equal(a, method.generate(task.semantics[task.unseen], 4, g2))


def test_fidelity_score_log_and_tsne_in_the_work_folder(tmp_path: Path):
    task = toy_task()
    task.synthetic_features = True
    method = CVAE(**FAST).fit(task, classifier=SoftmaxClassifier(epochs=2), context=_ctx(workdir=tmp_path))
    assert 0.0 <= method.metrics_["gen/two_sample_acc"] <= 1.0
    assert {p.name for p in tmp_path.iterdir()} == {"train_log.csv", "train_log.png", "tsne.png"}
    with open(tmp_path / "train_log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"] and {"recon", "kl"} <= set(rows[0])
    # without a work folder nothing is written; without fidelity no score
    other = tmp_path / "none"
    other.mkdir()
    quiet = CVAE(**FAST, fidelity=False).fit(task, classifier=SoftmaxClassifier(epochs=2), context=_ctx())
    assert quiet.metrics_ == {} and list(other.iterdir()) == []


def test_a_cvae_that_emits_class_means_is_told_apart(monkeypatch):
    # the two-sample score sees what the issue describes: a generator emitting clean class
    # means is easy to tell from real features, one drawing real-like noise is not
    task = toy_task()
    method = CVAE(**FAST).fit(task, classifier=SoftmaxClassifier(epochs=1), context=_ctx())
    x = method.transform(task.features)
    means = torch.stack([x[task.labels == c].mean(0) for c in range(task.num_classes) if (task.labels == c).any()])
    labels = task.labels.unique(return_inverse=True)[1]
    clean = means[labels]
    assert two_sample_accuracy(x, clean, max_per_side=len(x)) > 0.7


SMALL_RUN = {
    "dataset": {"name": "synthetic_kg", "n_features": 32, "min_images": 20, "max_images": 30},
    "knowledge": {"name": "files"},
    "semantics": {"name": "kg_attributes"},
    "method": {"name": "cvae", "epochs": 2, "hidden": 32, "latent_dim": 4, "n_synthetic": 10},
    "classifier": {"name": "softmax", "epochs": 4, "lr": 0.01},
    "train": {"device": "cpu"},
    "select": {},
}


def test_run_applies_the_epochs_chosen_on_validation_and_never_shows_test_images(tmp_path: Path, monkeypatch):
    import kgzsl.pipeline as pipeline

    seen_tasks = []
    real_task = pipeline._task

    def spy_task(inputs, idx, semantics, seen, unseen, val_idx=None):
        task = real_task(inputs, idx, semantics, seen, unseen, val_idx)
        splits = inputs.dataset.splits
        test = np.concatenate([splits["test_seen"], splits["test_unseen"]])
        seen_tasks.append(val_idx is not None)
        if val_idx is not None:
            assert not np.isin(val_idx, test).any()  # validation images are never test images
            assert not np.isin(val_idx, idx).any()  # nor images the method trains on
        return task

    monkeypatch.setattr(pipeline, "_task", spy_task)
    result = pipeline.run_experiment(SMALL_RUN, stem="g", out=tmp_path, progress=False)
    assert seen_tasks == [True, False]  # validation stage, then trainval
    epochs = result.metrics["select/classifier.epochs"]
    assert 1 <= epochs <= 4
    run = result.run_dir
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["classifier"]["epochs"] == epochs  # applied unchanged to the trainval fit
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["select/classifier.epochs"] == epochs and 0 <= metrics["gen/two_sample_acc"] <= 1
    assert f"classifier.epochs = {int(epochs)}" in (run / "results.md").read_text()
    assert json.loads((run / "meta.json").read_text())["selected"] == {"classifier.epochs": int(epochs)}
    for name in ("train_log.csv", "train_log.png", "tsne.png"):
        assert (run / name).is_file()


def test_an_interrupted_fit_resumes_from_its_checkpoint_and_ends_identical(tmp_path: Path):
    from kgzsl.testing import check_resume

    task = toy_task()
    info = check_resume(lambda: CVAE(epochs=4, n_synthetic=20, fidelity=False), task, tmp_path, epochs=2)
    assert info == {"resumed_at": 2, "stage": "generator"}
    assert (tmp_path / "resumed" / "generator.pt").is_file()


def test_a_finished_loop_is_skipped_and_other_settings_ignore_the_checkpoint(tmp_path: Path):
    from kgzsl.methods.generative import TrainingLoop

    task = toy_task()
    ctx = RunContext(seed=0, device="cpu", progress=False, checkpoints=tmp_path)
    first = CVAE(epochs=3, n_synthetic=20, fidelity=False).fit(task, context=ctx)
    starts = []
    original = TrainingLoop._restore

    def spy(loop):
        starts.append(original(loop))
        return starts[-1]

    TrainingLoop._restore = spy
    try:
        again = CVAE(epochs=3, n_synthetic=20, fidelity=False).fit(task, context=ctx)
        other = CVAE(epochs=3, n_synthetic=20, fidelity=False, lr=5e-4).fit(task, context=ctx)
    finally:
        TrainingLoop._restore = original
    assert starts == [3, 0]  # the whole loop restored; another lr trains from the start
    assert torch.equal(first.decision_function(task.features), again.decision_function(task.features))
    assert not torch.equal(first.decision_function(task.features), other.decision_function(task.features))


def test_checkpoint_every_zero_writes_nothing(tmp_path: Path):
    ctx = RunContext(seed=0, device="cpu", progress=False, checkpoints=tmp_path / "c", checkpoint_every=0)
    CVAE(epochs=2, n_synthetic=10, fidelity=False).fit(toy_task(), context=ctx)
    assert not (tmp_path / "c").exists()
