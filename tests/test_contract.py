"""One contract for every registered component: builds with defaults, runs on toy data,
finite outputs, the same seed gives the same numbers."""

import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from kgzsl.data.dataset import ZSLDataset
from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.registry import CLASSIFIERS, DATASETS, KNOWLEDGE, METHODS, SEMANTICS
from kgzsl.testing import TOY_CLASSES, toy_dataset, toy_task, write_toy_kg
from kgzsl.utils import seed_everything


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
def test_dataset_contract(name, request):
    # Datasets whose defaults read $KGZSL_SHARED_DATA get the shared_data fixture. Datasets that
    # need files no machine here has (image features, the user's own arrays or images) name a
    # fixture giving the parameters to build them with: small files of the real schema.
    cls = DATASETS.get(name)
    if getattr(cls, "needs_shared_data", False):
        request.getfixturevalue("shared_data")
    fixture = getattr(cls, "needs_fixture", None)
    params = request.getfixturevalue(fixture) if fixture else {}
    a = DATASETS.build(name, **params).load()
    b = DATASETS.build(name, **params).load()
    assert isinstance(a, ZSLDataset) and len(a.features) > 0
    assert a.features.dtype == np.float32 and a.features.ndim == 2
    assert np.isfinite(a.features).all()
    assert len(a.seen) and len(a.unseen) and all(p.exists() for p in a.source_files)
    np.testing.assert_array_equal(a.features, b.features)
    np.testing.assert_array_equal(a.labels, b.labels)
    for split in ("trainval", "test_seen", "test_unseen", "train", "val"):
        np.testing.assert_array_equal(a.splits[split], b.splits[split])


@pytest.mark.parametrize("name", KNOWLEDGE.names())
def test_knowledge_contract(name, request):
    if getattr(KNOWLEDGE.get(name), "needs_shared_data", False):
        request.getfixturevalue("shared_data")  # its defaults read $KGZSL_SHARED_DATA
    if getattr(KNOWLEDGE.get(name), "needs_wordnet", False):
        request.getfixturevalue("wordnet")
    kg = KNOWLEDGE.build(name).build()
    assert isinstance(kg, KnowledgeGraph) and len(kg) > 0 and kg.source_files


@pytest.mark.parametrize("name", SEMANTICS.names())
@pytest.mark.filterwarnings("ignore:.*(random|RANDOM).*:UserWarning")
def test_semantics_contract(name, tmp_path: Path, request):
    fixture = getattr(SEMANTICS.get(name), "needs_fixture", None)
    params = request.getfixturevalue(fixture) if fixture else {}
    kg = KnowledgeGraph.from_files(write_toy_kg(tmp_path / "toy.ttl"))
    ds = toy_dataset()
    a = SEMANTICS.build(name, **params).encode(kg, ds)
    b = SEMANTICS.build(name, **params).encode(kg, ds)
    assert a.ids == ds.class_ids and a.matrix.shape[0] == ds.num_classes and a.dim > 0
    assert np.isfinite(a.matrix).all()
    np.testing.assert_array_equal(a.matrix, b.matrix)


def _fit_method(name, seed=0):
    seed_everything(seed)
    method = METHODS.build(name)
    classifier = CLASSIFIERS.build("softmax") if method.uses_classifier else None
    task = toy_task()
    if getattr(method, "needs_knowledge", False):
        # methods that learn over the graph end to end get the toy KG (its leaves are toy_task's classes)
        with tempfile.TemporaryDirectory() as tmp:
            task.knowledge = KnowledgeGraph.from_files(write_toy_kg(Path(tmp) / "toy.ttl"))
        task.class_ids = list(TOY_CLASSES)
    if getattr(method, "semantics_are_weights", False):
        # methods scoring with class weights need [C, D] semantics over the D-d features
        weights = torch.randn(task.num_classes, task.features.shape[1], generator=torch.Generator().manual_seed(0))
        task.semantics = weights
    method.fit(task, classifier=classifier)
    features = toy_dataset().features[toy_dataset().splits["test_unseen"]]
    return task, method.decision_function(torch.as_tensor(features))


@pytest.mark.parametrize("name", METHODS.names())
def test_method_contract(name):
    task, scores = _fit_method(name)
    assert scores.shape[1] == task.num_classes
    candidates = task.candidates.numpy()
    others = np.setdiff1d(np.arange(task.num_classes), candidates)
    assert torch.isfinite(scores[:, candidates]).all()
    assert torch.isneginf(scores[:, others]).all()
    _, again = _fit_method(name)
    torch.testing.assert_close(scores, again, rtol=0, atol=0)


@pytest.mark.parametrize("name", CLASSIFIERS.names())
def test_classifier_contract(name):
    task = toy_task()
    outputs = []
    for _ in range(2):
        seed_everything(0)
        clf = CLASSIFIERS.build(name).fit(task.features, task.labels, task.seen, task.num_classes)
        outputs.append(clf.decision_function(task.features))
    scores = outputs[0]
    assert scores.shape == (len(task.features), task.num_classes)
    assert torch.isfinite(scores[:, task.seen]).all()
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)
