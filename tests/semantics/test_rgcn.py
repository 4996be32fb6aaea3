"""R-GCN class semantics: shapes and alignment, determinism, no leakage of held-out edges, the real AwA KG."""

import json
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from kgzsl.errors import ConfigError, DataError
from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.knowledge.views import to_pyg
from kgzsl.registry import SEMANTICS
from kgzsl.semantics.kge import split_triples
from kgzsl.semantics.rgcn import RGCNEncoder, fit_rgcn, message_graph
from kgzsl.testing import TOY_TTL, toy_dataset, write_toy_kg

FAST = dict(hidden=16, epochs=20, eval_every=5, device="cpu")
METRIC_KEYS = ["rgcn/mrr", "rgcn/hits@1", "rgcn/hits@3", "rgcn/hits@10", "rgcn/valid_mrr", "rgcn/random_mrr"]


def _dataset(ids: list[str]) -> SimpleNamespace:
    return SimpleNamespace(name="classes", class_ids=list(ids))


@pytest.fixture
def toy_kg(tmp_path: Path) -> KnowledgeGraph:
    return KnowledgeGraph.from_files(write_toy_kg(tmp_path / "toy.ttl"))


def _toy_triples(kg: KnowledgeGraph) -> tuple[torch.Tensor, int, int]:
    view = to_pyg(kg)
    return torch.stack([view.edge_index[0], view.edge_type, view.edge_index[1]], 1), view.num_nodes, view.num_relations


@pytest.mark.parametrize("decomposition, num_bases", [("basis", 4), ("basis", None), ("block", 4)])
def test_aligned_finite_unit_class_embeddings_and_metrics(toy_kg, decomposition, num_bases):
    ds = toy_dataset()
    encoder = SEMANTICS.build("rgcn", decomposition=decomposition, num_bases=num_bases, **FAST)
    emb = encoder.encode(toy_kg, ds)
    assert emb.ids == ds.class_ids and emb.matrix.shape == (ds.num_classes, 16) and len(emb.columns) == 16
    assert np.isfinite(emb.matrix).all()
    np.testing.assert_allclose(np.linalg.norm(emb.matrix, axis=1), 1.0, rtol=1e-5)
    for key in METRIC_KEYS:
        assert 0.0 <= encoder.metrics_[key] <= 1.0, key
    assert 0 < encoder.metrics_["rgcn/epochs"] <= FAST["epochs"] and encoder.epoch_seconds_ > 0
    # the class rows are the node rows of the aligned IRIs
    cat = encoder.entity_ids_.index("http://example.org/toy#cat")
    raw = RGCNEncoder(normalize="none", decomposition=decomposition, num_bases=num_bases, **FAST)
    raw_emb = raw.encode(toy_kg, ds)
    np.testing.assert_allclose(raw_emb.matrix[ds.class_ids.index("cat")], encoder.entity_embeddings_[cat])


def test_same_seed_same_embeddings_and_global_rng_untouched(toy_kg):
    ds = toy_dataset()
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a, b, c = (RGCNEncoder(seed=s, **FAST) for s in (0, 0, 1))
    ea, eb, ec = (e.encode(toy_kg, ds) for e in (a, b, c))
    assert torch.equal(torch.rand(3), before)  # initialisation, negatives and dropout use their own RNGs
    np.testing.assert_array_equal(ea.matrix, eb.matrix)
    assert a.metrics_ == b.metrics_
    assert not np.allclose(ea.matrix, ec.matrix)


def test_held_out_triples_are_not_message_edges(toy_kg):
    triples, n_nodes, n_rel = _toy_triples(toy_kg)
    fit = fit_rgcn(triples, n_nodes, n_rel, hidden=8, epochs=2, valid_fraction=0.1, test_fraction=0.1, device="cpu")
    train, valid, test = split_triples(triples, 0.1, 0.1, seed=0)
    assert len(valid) and len(test)
    # every training triple and its inverse, nothing else
    assert fit.edge_index.shape[1] == 2 * len(train) == fit.metrics["message_edges"] < 2 * len(triples)
    edges = set(zip(fit.edge_index[0].tolist(), fit.edge_type.tolist(), fit.edge_index[1].tolist()))
    for h, r, t in torch.cat([valid, test]).tolist():
        assert (h, r, t) not in edges and (t, r + n_rel, h) not in edges
    for h, r, t in train.tolist():
        assert (h, r, t) in edges and (t, r + n_rel, h) in edges
    # the node representations are the encoder's output over exactly these edges
    with torch.no_grad():
        z = fit.model.encode(fit.edge_index, fit.edge_type)
        full = fit.model.encode(*message_graph(triples, n_rel))
    torch.testing.assert_close(fit.embeddings, z)
    assert not torch.allclose(fit.embeddings, full)


def test_message_graph_numbers_inverses_as_to_pyg(toy_kg):
    triples, _, n_rel = _toy_triples(toy_kg)
    edge_index, edge_type = message_graph(triples, n_rel)
    both = to_pyg(toy_kg, add_inverse=True)
    ours = sorted(zip(edge_type.tolist(), edge_index[0].tolist(), edge_index[1].tolist()))
    theirs = sorted(zip(both.edge_type.tolist(), both.edge_index[0].tolist(), both.edge_index[1].tolist()))
    assert ours == theirs


def test_early_stopping_and_errors(tmp_path: Path, toy_kg):
    ds = toy_dataset()
    stuck = RGCNEncoder(lr=0.0, epochs=200, eval_every=2, patience=2, hidden=8, dropout=0.0, device="cpu")
    stuck.encode(toy_kg, ds)
    # evaluations at epochs 0 (best), 2 and 4 (no improvement twice) → stop after epoch 4
    assert stuck.metrics_["rgcn/epochs"] == 4 and stuck.metrics_["rgcn/best_epoch"] == 0
    assert stuck.metrics_["rgcn/mrr"] == stuck.metrics_["rgcn/random_mrr"]
    with pytest.raises(ConfigError, match="needs a knowledge source"):
        RGCNEncoder(**FAST).encode(None, ds)
    with pytest.raises(ConfigError, match="must divide hidden"):
        RGCNEncoder(decomposition="block", num_bases=3, **FAST).encode(toy_kg, ds)
    with pytest.raises(DataError):
        RGCNEncoder(namespace="http://elsewhere.org/", **FAST).encode(toy_kg, ds)
    path = tmp_path / "okapi.ttl"
    path.write_text(TOY_TTL + 't:okapi a owl:Class ; rdfs:label "okapi" .\n', encoding="utf-8")
    kg = KnowledgeGraph.from_files(path)
    with pytest.raises(DataError, match="no triple to train on with relations has: .*okapi"):
        RGCNEncoder(relations=["has"], **FAST).encode(kg, _dataset(["cat", "okapi"]))


def test_rgcn_on_the_kzsl_awa_kg_beats_the_untrained_model(shared_data: Path):
    kg = KnowledgeGraph.from_files(shared_data / "kzsl" / "KG" / "KG-AwA.ttl")
    classes = json.loads((shared_data / "kzsl" / "ori_data" / "AwA" / "class.json").read_text())
    wnids = list(classes["seen"]) + list(classes["unseen"])
    # full-batch steps, as in the paper: one message-passing pass per epoch
    encoder = RGCNEncoder(hidden=32, epochs=20, eval_every=10, batch_size=16384, lr=0.03, device="cpu")
    started = time.perf_counter()
    emb = encoder.encode(kg, _dataset(wnids))
    seconds = time.perf_counter() - started
    assert emb.matrix.shape == (50, 32) and np.isfinite(emb.matrix).all()
    assert len({tuple(row) for row in emb.matrix.round(5).tolist()}) == 50  # 50 distinct class vectors
    m = encoder.metrics_
    print(f"R-GCN on KG-AwA: {seconds:.1f} s, {encoder.epoch_seconds_:.2f} s/epoch, {m}")
    # measured (2 shared CPU cores): test MRR ≈ 0.08 against ≈ 0.002 untrained (9.2k nodes), ≈ 0.5 s/epoch
    assert m["rgcn/message_edges"] == 2 * m["rgcn/train_triples"]
    assert m["rgcn/mrr"] > 10 * m["rgcn/random_mrr"] and m["rgcn/mrr"] > 0.04
    assert m["rgcn/hits@10"] > m["rgcn/hits@1"] and m["rgcn/test_triples"] > 100
