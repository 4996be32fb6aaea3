"""GCNZ and DGP: class graph, hop masks, training on the toy data, end to end on the demo data."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kgzsl.knowledge.alignment import align_classes
from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.semantics.gnn import DGP, GCNZ, class_graph, gcn_adjacency, hop_masks
from kgzsl.testing import toy_dataset, write_toy_kg

FAST = {"hidden": [64], "epochs": 100, "target_epochs": 10, "device": "cpu"}


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> tuple[KnowledgeGraph, object]:
    path = write_toy_kg(tmp_path_factory.mktemp("kg") / "toy.ttl")
    return KnowledgeGraph.from_files(path), toy_dataset()


def test_chain_hop_masks_by_hand():
    # a 4-node chain 0 → 1 → 2 → 3 (child → parent): node 0's ancestors are 1, 2, 3 at 1, 2, 3 hops
    edges = np.array([[0, 1, 2], [1, 2, 3]])
    m = [x.toarray() for x in hop_masks(edges, 4, max_hops=4)]
    assert len(m) == 5
    np.testing.assert_array_equal(m[0], np.eye(4))
    np.testing.assert_array_equal(m[1], [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]])
    np.testing.assert_array_equal(m[2], [[0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(m[3], [[0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(m[4], np.zeros((4, 4)))
    # descendants are the transposes: node 3 gathers from 2, 1, 0 at 1, 2, 3 hops
    assert m[3].T[3, 0] == 1 and m[1].T[3, 2] == 1
    # with max_hops=2 the 3-hop ancestor joins the last group
    merged = [x.toarray() for x in hop_masks(edges, 4, max_hops=2)]
    np.testing.assert_array_equal(merged[2], m[2] + m[3])


def test_hop_masks_keep_the_shortest_distance():
    # 0 → 1 → 3 and 0 → 3 directly: 3 is a 1-hop ancestor of 0, not also a 2-hop one
    edges = np.array([[0, 1, 0], [1, 3, 3]])
    m = [x.toarray() for x in hop_masks(edges, 4, max_hops=3)]
    assert m[1][0, 3] == 1 and m[2][0, 3] == 0
    assert sum(x[0] for x in m).max() == 1


def test_gcn_adjacency_is_symmetric_normalised():
    adj = gcn_adjacency(np.array([[0, 1, 2], [1, 2, 3]]), 4).to_dense()
    deg = np.array([2, 3, 3, 2], dtype=np.float32)
    a = np.eye(4) + np.diag(np.ones(3), 1) + np.diag(np.ones(3), -1)
    np.testing.assert_allclose(adj.numpy(), a / np.sqrt(np.outer(deg, deg)), rtol=1e-6)


def test_class_graph_puts_the_classes_first(toy):
    kg, ds = toy
    iris = align_classes(kg, ds.class_ids)
    g = class_graph(kg, iris, ["rdfs:subClassOf"])
    assert g.node_ids[: len(iris)] == iris and g.num_classes == len(iris)
    assert g.edges.max() < g.num_nodes and g.edges.shape[1] > 0


@pytest.mark.parametrize("cls", [GCNZ, DGP])
def test_predicted_weights(cls, toy):
    kg, ds = toy
    enc = cls(**FAST)
    emb = enc.encode(kg, ds)
    assert emb.ids == ds.class_ids and emb.matrix.shape == (ds.num_classes, ds.features.shape[1])
    np.testing.assert_allclose(np.linalg.norm(emb.matrix, axis=1), 1.0, rtol=1e-5)
    name = enc.registry_name
    assert enc.metrics_[f"{name}/loss"] < 0.5 * enc.metrics_[f"{name}/loss_initial"]
    assert np.mean(enc.history_[-5:]) < np.mean(enc.history_[:5])
    assert enc.metrics_[f"{name}/seen_cosine"] > 0.5
    again = cls(**FAST).encode(kg, ds)
    np.testing.assert_array_equal(emb.matrix, again.matrix)


def test_encoding_leaves_the_global_rng_alone(toy):
    kg, ds = toy
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    GCNZ(**FAST).encode(kg, ds)
    torch.testing.assert_close(torch.rand(3), expected)


def test_dgp_hop_weights_are_learned(toy):
    kg, ds = toy
    enc = DGP(**FAST)
    enc.encode(kg, ds)
    logits = [p.detach() for p in enc.model_.hop_logits]
    assert len(logits) == 2 and logits[0].numel() == 5
    assert any(not torch.allclose(x, torch.ones_like(x)) for x in logits)


def test_needs_a_knowledge_graph(toy):
    from kgzsl.errors import ConfigError

    with pytest.raises(ConfigError, match="knowledge"):
        GCNZ(**FAST).encode(None, toy[1])
    with pytest.raises(ConfigError, match="word_vectors_path"):
        GCNZ(inputs="word_vectors", **FAST).encode(*toy)


def test_word_vector_inputs(toy, tmp_path: Path):
    from kgzsl.testing import write_tiny_glove

    glove = write_tiny_glove(tmp_path / "glove.txt")
    emb = DGP(inputs="word_vectors", word_vectors_path=str(glove), **FAST).encode(*toy)
    assert np.isfinite(emb.matrix).all()


@pytest.mark.parametrize("name", ["gcnz", "dgp"])
def test_zsl_on_the_demo_data_beats_chance(name, tmp_path: Path):
    from kgzsl.pipeline import run_experiment

    config = {
        "dataset": {"name": "synthetic_kg"},
        "knowledge": {"name": "files", "paths": "embedded:animals"},
        "semantics": {"name": name, "hidden": [256], "epochs": 300, "device": "cpu"},
        "method": {"name": "classifier_weights"},
        "eval": {"calibrate": False},
    }
    result = run_experiment(config, name, out=tmp_path, progress=False)
    # 12 unseen classes: chance is 1/12 ≈ 8.3%; the full defaults reach ~60%
    assert result.metrics["zsl/top1"] > 0.25
