"""One contract for every registered component (datasets, knowledge, semantics, methods,
classifiers), and the proof that it can fail.

The checks live in :mod:`kgzsl.testing` (``check_method``, ``check_classifier``,
``check_encoder``, ``check_roundtrip``, chance levels and margins), so that a new component
gets them by registering. Methods: ``fit`` returns the method, a class outside the candidates
scores ``-inf``, ZSL top-1 beats chance by the method's margin, save -> load gives identical
scores, the same seed the same numbers. Every registered component has its own test module
mirroring its file.
"""

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import kgzsl.testing as testing
from kgzsl.context import RunContext
from kgzsl.data.dataset import ZSLDataset
from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.methods.eszsl import ESZSL
from kgzsl.registry import CLASSIFIERS, DATASETS, KNOWLEDGE, METHODS, SEMANTICS, Registry
from kgzsl.testing import (
    CHANCE,
    CONTRACT_PARAMS,
    MARGINS,
    check_classifier,
    check_encoder,
    check_generative_beats_chance,
    check_method,
    check_roundtrip,
    check_same_seed_same_numbers,
    check_save_load,
    check_training_log,
    contract_task,
    cpu_context,
    margin_for,
    toy_dataset,
    toy_kg,
    untested_components,
)

TESTS = Path(__file__).parent


@pytest.fixture
def xlsa17_params(shared_data: Path, tmp_path: Path) -> dict:
    """The real AWA2 split file beside a ``res101.mat`` of its schema (8-d features: none are shipped)."""
    import scipy.io

    folder = tmp_path / "AWA2"
    folder.mkdir()
    (folder / "att_splits.mat").symlink_to(shared_data / "xlsa17" / "AWA2" / "att_splits.mat")
    m = scipy.io.loadmat(folder / "att_splits.mat")
    n = sum(m[k].size for k in ("trainval_loc", "test_seen_loc", "test_unseen_loc"))
    labels = np.zeros(n)
    seen_images = np.concatenate([m["trainval_loc"].ravel(), m["test_seen_loc"].ravel()]) - 1
    labels[seen_images] = 1 + np.arange(seen_images.size) % 40  # 1-based: classes 1..40 seen
    labels[m["test_unseen_loc"].ravel() - 1] = 41 + np.arange(m["test_unseen_loc"].size) % 10
    features = np.random.default_rng(0).random((8, n), dtype=np.float32)  # D × N, as in res101.mat
    scipy.io.savemat(folder / "res101.mat", {"features": features, "labels": labels[:, None]})
    return {"root": str(tmp_path)}


@pytest.fixture
def kzsl_imagenet_params(shared_data: Path, tmp_path: Path) -> dict:
    """Per-class feature files of the real ImNet-A classes (3 images × 4-d each: none are shipped)."""
    import scipy.io

    split = scipy.io.loadmat(shared_data / "imagenet" / "split.mat", variable_names=["allwnids"])
    index = {str(w[0]): i + 1 for i, w in enumerate(split["allwnids"].ravel())}
    lists = shared_data / "kzsl" / "splits" / "ImNet_A"
    seen, unseen = ((lists / f).read_text().split() for f in ("seen.txt", "unseen.txt"))
    rng = np.random.default_rng(0)
    for folder, wnids in (("ILSVRC2012_train", seen), ("ILSVRC2012_val", seen), ("ILSVRC2011", unseen)):
        (tmp_path / folder).mkdir()
        for wnid in wnids:
            scipy.io.savemat(tmp_path / folder / f"{index[wnid]}.mat", {"features": rng.random((3, 4))})
    return {"root": str(tmp_path)}


@pytest.fixture
def arrays_params(tmp_path: Path) -> dict:
    """The toy dataset saved as the user's own ``.npy`` arrays and class lists."""
    ds = toy_dataset()
    np.save(tmp_path / "features.npy", ds.features)
    np.save(tmp_path / "labels.npy", ds.labels)
    (tmp_path / "classes.txt").write_text("\n".join(ds.class_ids))
    (tmp_path / "seen.txt").write_text("\n".join(ds.class_ids[i] for i in ds.seen))
    (tmp_path / "unseen.txt").write_text("\n".join(ds.class_ids[i] for i in ds.unseen))
    files = ("features.npy", "labels.npy", "classes.txt", "seen.txt", "unseen.txt")
    return {k.split(".")[0]: str(tmp_path / k) for k in files}


@pytest.mark.parametrize("name", DATASETS.names())
@pytest.mark.filterwarnings("ignore:.*(random|RANDOM).*:UserWarning")
def test_dataset_contract(name, request, tmp_path: Path):
    # Datasets whose defaults read $KGZSL_SHARED_DATA get the shared_data fixture. Datasets that
    # need files no machine here has (image features, the user's own arrays or images) name a
    # fixture giving the parameters to build them with: small files of the real schema.
    cls = DATASETS.get(name)
    if getattr(cls, "needs_shared_data", False):
        request.getfixturevalue("shared_data")
    fixture = getattr(cls, "needs_fixture", None)
    params = request.getfixturevalue(fixture) if fixture else {}
    source = DATASETS.build(name, **params)
    a = source.load()
    b = check_roundtrip(source, tmp_path).load()  # a saved dataset component loads the same data
    assert isinstance(a, ZSLDataset) and len(a.features) > 0
    assert a.features.dtype == np.float32 and a.features.ndim == 2
    assert np.isfinite(a.features).all()
    assert len(a.seen) and len(a.unseen) and all(p.exists() for p in a.source_files)
    np.testing.assert_array_equal(a.features, b.features)
    np.testing.assert_array_equal(a.labels, b.labels)
    for split in ("trainval", "test_seen", "test_unseen", "train", "val"):
        np.testing.assert_array_equal(a.splits[split], b.splits[split])


@pytest.mark.parametrize("name", KNOWLEDGE.names())
def test_knowledge_contract(name, request, tmp_path: Path):
    if getattr(KNOWLEDGE.get(name), "needs_shared_data", False):
        request.getfixturevalue("shared_data")  # its defaults read $KGZSL_SHARED_DATA
    if getattr(KNOWLEDGE.get(name), "needs_wordnet", False):
        request.getfixturevalue("wordnet")
    source = KNOWLEDGE.build(name)
    kg = source.build()
    assert isinstance(kg, KnowledgeGraph) and len(kg) > 0 and kg.source_files
    assert check_roundtrip(source, tmp_path).build().fingerprint() == kg.fingerprint()


@pytest.mark.parametrize("name", SEMANTICS.names())
@pytest.mark.filterwarnings("ignore:.*(random|RANDOM).*:UserWarning")
@pytest.mark.filterwarnings("ignore:.*have no text.*:UserWarning")  # the toy KG's inner classes have no label
def test_semantics_contract(name, tmp_path: Path, request):
    fixture = getattr(SEMANTICS.get(name), "needs_fixture", None)
    params = {**(request.getfixturevalue(fixture) if fixture else {}), **CONTRACT_PARAMS.get(name, {})}
    check_encoder(lambda: SEMANTICS.build(name, **params), toy_kg(), toy_dataset(), tmp_path)


def _method_params(name: str, request: pytest.FixtureRequest) -> dict:
    """A method's contract parameters: its ``needs_fixture``'s (files it needs), then CONTRACT_PARAMS."""
    fixture = getattr(METHODS.get(name), "needs_fixture", None)
    return {**(request.getfixturevalue(fixture) if fixture else {}), **CONTRACT_PARAMS.get(name, {})}


@pytest.mark.parametrize("name", METHODS.names())
def test_method_contract(name, tmp_path: Path, request):
    params = _method_params(name, request)
    measured = check_method(lambda: METHODS.build(name, **params), tmp_path)
    assert measured["zsl_top1"] >= CHANCE + margin_for(name)


@pytest.mark.parametrize("name", CLASSIFIERS.names())
def test_classifier_contract(name, tmp_path: Path):
    check_classifier(lambda: CLASSIFIERS.build(name, **CONTRACT_PARAMS.get(name, {})), tmp_path)


@pytest.mark.parametrize("name", METHODS.names())
def test_methods_ask_for_no_cuda_when_the_context_says_cpu(name, monkeypatch, request):
    # kgzsl's code is told CUDA is available (this machine may have none; torch's own checks get
    # the truth): a method resolving "auto" or asking for cuda by itself would try to use it and
    # fail, or leave its output off the CPU
    real = torch.cuda.is_available

    def available_to_kgzsl() -> bool:
        return sys._getframe(1).f_globals.get("__name__", "").startswith("kgzsl") or real()

    monkeypatch.setattr(torch.cuda, "is_available", available_to_kgzsl)
    from kgzsl.context import _resolve

    assert _resolve("auto").type == "cuda"  # the patch reaches kgzsl
    method = METHODS.build(name, **_method_params(name, request))
    task, test, _ = testing.contract_task(method)  # (a needs_fixture may replace it)
    classifier = CLASSIFIERS.build("softmax", **CONTRACT_PARAMS.get("softmax", {})) if method.uses_classifier else None
    method.fit(task, classifier=classifier, context=RunContext(seed=0, device="cpu", progress=False))
    assert method.decision_function(test).device.type == "cpu"
    tensors = [v for v in method.state_dict().values() if isinstance(v, torch.Tensor)]
    modules = [v for v in method.state_dict().values() if isinstance(v, torch.nn.Module)]
    assert all(t.device.type == "cpu" for t in tensors)
    assert all(p.device.type == "cpu" for m in modules for p in [*m.parameters(), *m.buffers()])


def test_every_component_has_its_own_test_module():
    assert untested_components(TESTS) == []


def test_margins_are_stated_for_every_method():
    assert 0 < CHANCE < 1 and MARGINS["default"] > 0
    assert all(CHANCE + margin_for(name) < 1 for name in METHODS.names())


# --------------------------------------------------------------------------- the contract can fail
#
# Deliberately broken components: each breaks one clause, and the check must raise.


@pytest.fixture
def registered(request):
    """Register test-only methods / classifiers under a unique name, and unregister them after."""
    added: list[tuple[Registry, str]] = []

    def register(registry: Registry, cls: type) -> type:
        name = f"broken_{cls.__name__.strip('_').lower()}"
        registry.register(name)(cls)
        added.append((registry, name))
        return cls

    yield register
    for registry, name in added:
        registry._entries.pop(name, None)


class _IgnoresCandidates(ESZSL):
    """Scores every class, candidates or not."""

    def decision_function(self, features):
        x = self._prepare(features.to(self.weights_.device), torch.float32)
        return x @ self.weights_


class _ForgetsReturn(ESZSL):
    def fit(self, task, classifier=None, context=None):
        super().fit(task, classifier, context)


class _LosesStateOnLoad(ESZSL):
    """Keeps what it learned in an attribute without the trailing ``_``: not saved."""

    def fit(self, task, classifier=None, context=None):
        super().fit(task, classifier, context)
        self.learned = self.weights_
        return self

    def decision_function(self, features):
        self.weights_ = self.learned
        return super().decision_function(features)


class _Unseeded(ESZSL):
    """Adds noise from a generator the run's seed does not reach."""

    def fit(self, task, classifier=None, context=None):
        super().fit(task, classifier, context)
        g = torch.Generator().manual_seed(int.from_bytes(np.random.default_rng().bytes(4), "little"))
        self.weights_ = self.weights_ + 1e-3 * torch.randn(self.weights_.shape, generator=g)
        return self


class _Chance(ESZSL):
    """Scores that ignore the image: chance level."""

    def decision_function(self, features):
        scores = super().decision_function(features)
        return torch.where(scores.isneginf(), scores, torch.zeros_like(scores))


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (_IgnoresCandidates, "outside the candidates not scored -inf"),
        (_ForgetsReturn, "fit returned None"),
        (_LosesStateOnLoad, "loaded method cannot score"),
        (_Unseeded, "same seed gave other scores"),
        (_Chance, "< chance"),
    ],
)
def test_method_contract_fails_on_a_broken_method(cls, message, registered, tmp_path: Path):
    registered(METHODS, cls)
    with pytest.raises(AssertionError, match=message):
        check_method(cls, tmp_path)


def test_method_contract_passes_the_unbroken_method(tmp_path: Path):
    # the broken methods above differ from this one only by their defect
    assert check_method(ESZSL, tmp_path)["zsl_top1"] >= CHANCE + margin_for("eszsl")


# --------------------------------------------------------------------------- the generative methods' checks can fail
#
# ESZSL (closed form, milliseconds) and the broken copies above, or one more, stand in for a method.


class _PerturbedOnLoad(ESZSL):
    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.weights_ = self.weights_ + 1e-3


def test_same_seed_check_fails_on_an_unseeded_method_and_on_one_that_ignores_the_seed():
    task, test, _ = contract_task()
    with pytest.raises(AssertionError, match=r"the same seed \(0\) gave other scores"):
        check_same_seed_same_numbers(_Unseeded, task, test)
    # ESZSL is deterministic whatever the seed: it passes the first clause, not the second
    runs = check_same_seed_same_numbers(ESZSL, task, test, other_seed=None)
    assert len(runs) == 2 and isinstance(runs[0][0], ESZSL)
    with pytest.raises(AssertionError, match=r"another seed \(1\) gave the same scores"):
        check_same_seed_same_numbers(ESZSL, task, test)


def test_save_load_check_fails_when_load_changes_the_scores(registered, tmp_path: Path):
    task, test, _ = contract_task()
    ok = ESZSL().fit(task, context=cpu_context())
    assert type(check_save_load(ok, tmp_path, test, classes=None)) is ESZSL
    registered(METHODS, _PerturbedOnLoad)
    broken = _PerturbedOnLoad().fit(task, context=cpu_context())
    with pytest.raises(AssertionError, match="save -> load changed the scores"):
        check_save_load(broken, tmp_path, test, classes=None)


def test_beats_chance_check_fails_at_chance():
    measured = check_generative_beats_chance(ESZSL, {"zsl/top1": CHANCE})
    assert {"zsl/top1", "gzsl/seen", "gzsl/unseen", "gzsl/h"} <= set(measured)
    # ties count as expected hits: a constant score is GZSL chance, 1/10 on each side of the toy task
    with pytest.raises(AssertionError, match=r"gzsl/h 0\.100 <= 0\.200"):
        check_generative_beats_chance(_Chance, {"gzsl/h": 0.2})
    with pytest.raises(AssertionError, match="no metric 'gzsl/H'"):
        check_generative_beats_chance(ESZSL, {"gzsl/H": 0.1})


def test_training_log_check_fails_on_a_missing_epoch_a_missing_loss_or_a_nan():
    def fitted(*rows):
        return SimpleNamespace(registry_name="fake", train_log_=[{"stage": "generator", **r} for r in rows])

    good = fitted({"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.4})
    assert len(check_training_log(good, {"loss"}, epochs=2)) == 2
    with pytest.raises(AssertionError, match=r"generator epochs logged \[1, 2\]"):
        check_training_log(good, {"loss"}, epochs=3)
    with pytest.raises(AssertionError, match=r"has no \['gp'\]"):
        check_training_log(good, {"loss", "gp"}, epochs=2)
    with pytest.raises(AssertionError, match=r"non-finite .* \[\(2, 'loss'\)\]"):
        check_training_log(fitted({"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": float("nan")}), {"loss"}, epochs=2)


def test_contract_task_has_a_class_outside_the_candidates():
    task, test, labels = contract_task()
    outside = np.setdiff1d(np.arange(task.num_classes), task.candidates.numpy())
    assert outside.tolist() == [7] and 7 not in task.labels.tolist() and 7 in labels.tolist()
    assert len(test) == len(labels)


def test_classifier_contract_fails_when_load_loses_the_weights(registered, tmp_path: Path):
    from kgzsl.classifier import SoftmaxClassifier

    class _ReinitialisedOnLoad(SoftmaxClassifier):
        def load_state_dict(self, state):
            super().load_state_dict(state)
            torch.nn.init.zeros_(self.module_.weight)

    registered(CLASSIFIERS, _ReinitialisedOnLoad)
    with pytest.raises(AssertionError, match="save -> load changed the scores"):
        check_classifier(lambda: _ReinitialisedOnLoad(lr=1e-2), tmp_path)


def test_encoder_roundtrip_check_fails_on_lost_state():
    from kgzsl.testing import assert_same_state

    a = {"embeddings_": torch.ones(3, 2), "history_": [1.0, 0.5]}
    assert_same_state(a, {"embeddings_": torch.ones(3, 2), "history_": [1.0, 0.5]})
    with pytest.raises(AssertionError, match="keys"):
        assert_same_state(a, {"embeddings_": torch.ones(3, 2)})
    with pytest.raises(AssertionError, match=r"state.embeddings_: tensors differ"):
        assert_same_state(a, {"embeddings_": torch.zeros(3, 2), "history_": [1.0, 0.5]})


def test_meta_test_finds_a_component_without_a_test_module():
    class Orphan:
        """Stands for a component in a file no test module mirrors."""

    Orphan.__module__ = "kgzsl.methods.orphan_method"
    registry = Registry("methods")
    registry._loaded = True  # nothing to import: only the orphan is registered
    registry.register("orphan")(Orphan)
    missing = untested_components(TESTS, {"method": registry})
    assert missing == [f"methods/orphan: no {TESTS / 'methods' / 'test_orphan_method.py'}"]
    # a mirror module that never names the component does not count either
    Orphan.__module__ = "kgzsl.methods.eszsl"
    assert "never names" in untested_components(TESTS, {"method": registry})[0]
