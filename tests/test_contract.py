"""One contract for every registered component: builds with defaults, runs on toy data,
finite outputs, the same seed gives the same numbers."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kgzsl.data.dataset import ZSLDataset
from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.registry import CLASSIFIERS, DATASETS, KNOWLEDGE, METHODS, SEMANTICS
from kgzsl.testing import toy_dataset, toy_task, write_toy_kg
from kgzsl.utils import seed_everything


@pytest.mark.parametrize("name", DATASETS.names())
def test_dataset_contract(name):
    a = DATASETS.build(name).load()
    b = DATASETS.build(name).load()
    assert isinstance(a, ZSLDataset) and len(a.features) > 0
    assert np.isfinite(a.features).all()
    np.testing.assert_array_equal(a.features, b.features)
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
def test_semantics_contract(name, tmp_path: Path):
    kg = KnowledgeGraph.from_files(write_toy_kg(tmp_path / "toy.ttl"))
    ds = toy_dataset()
    a = SEMANTICS.build(name).encode(kg, ds)
    b = SEMANTICS.build(name).encode(kg, ds)
    assert a.ids == ds.class_ids and a.matrix.shape[0] == ds.num_classes and a.dim > 0
    assert np.isfinite(a.matrix).all()
    np.testing.assert_array_equal(a.matrix, b.matrix)


def _fit_method(name, seed=0):
    seed_everything(seed)
    method = METHODS.build(name)
    classifier = CLASSIFIERS.build("softmax") if method.uses_classifier else None
    task = toy_task()
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
