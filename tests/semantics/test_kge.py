"""KG embeddings as class semantics: scoring, filtered ranking, splits, training, the real AwA KG."""

import copy
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from kgzsl.errors import ConfigError, DataError
from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.registry import SEMANTICS
from kgzsl.semantics.kge import (
    KGE_MODELS,
    KGEmbedding,
    KnownTriples,
    build_kge_model,
    entity_embeddings,
    filtered_ranks,
    link_prediction,
    score_candidates,
    split_triples,
)
from kgzsl.testing import TOY_TTL, toy_dataset, write_toy_kg

FAST = dict(dim=8, epochs=20, eval_every=5, device="cpu")
METRIC_KEYS = ["kge/mrr", "kge/hits@1", "kge/hits@3", "kge/hits@10", "kge/valid_mrr", "kge/random_mrr"]


def _dataset(ids: list[str]) -> SimpleNamespace:
    return SimpleNamespace(name="classes", class_ids=list(ids))


@pytest.fixture
def toy_kg(tmp_path: Path) -> KnowledgeGraph:
    return KnowledgeGraph.from_files(write_toy_kg(tmp_path / "toy.ttl"))


@pytest.mark.parametrize("name", list(KGE_MODELS))
def test_all_candidate_scores_equal_the_models_own_scores(name):
    torch.manual_seed(0)
    model = build_kge_model(name, num_entities=12, num_relations=3, dim=6)
    h, r, t = torch.randint(12, (4,)), torch.randint(3, (4,)), torch.randint(12, (4,))
    every = torch.arange(12)
    tails = score_candidates(model, h, r, "tail")
    heads = score_candidates(model, t, r, "head")
    expected_tails = torch.stack([model(h[i].expand(12), r[i].expand(12), every) for i in range(4)])
    expected_heads = torch.stack([model(every, r[i].expand(12), t[i].expand(12)) for i in range(4)])
    torch.testing.assert_close(tails, expected_tails, rtol=0, atol=1e-6)
    torch.testing.assert_close(heads, expected_heads, rtol=0, atol=1e-6)
    width = 12 if name in ("complex", "rotate") else 6
    assert entity_embeddings(model).shape == (12, width)


@pytest.mark.parametrize("name", list(KGE_MODELS))
def test_all_candidate_ranking_is_as_exact_as_the_forward_pass(name):
    # embeddings of a trained model's size, 200-d over 300 entities, where cdist's matrix-product
    # mode (‖a‖² + ‖b‖² - 2⟨a, b⟩) errs by ~1e-5 and reorders candidates (issue 8, item 8)
    torch.manual_seed(1)
    n, dim = 300, 200
    model = build_kge_model(name, num_entities=n, num_relations=4, dim=dim, margin=6.0)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    exact = copy.deepcopy(model).double()  # the float64 reference
    triples = torch.stack([torch.randint(n, (40,)), torch.randint(4, (40,)), torch.randint(n, (40,))], 1)
    h, r, t = triples.T
    every = torch.arange(n)

    def each_candidate(m, side, anchor):
        if side == "tail":
            return torch.stack([m(a.expand(n), q.expand(n), every) for a, q in zip(anchor, r)])
        return torch.stack([m(every, q.expand(n), a.expand(n)) for a, q in zip(anchor, r)])

    with torch.no_grad():
        for side, anchor, target in (("tail", h, t), ("head", t, h)):
            scores = score_candidates(model, anchor, r, side)
            forward = each_candidate(model, side, anchor)
            reference = each_candidate(exact, side, anchor)
            # no further from the exact scores than the model's own float32 forward pass
            forward_error = (forward.double() - reference).abs().max()
            assert (scores.double() - reference).abs().max() <= 2 * forward_error + 1e-7
            # the true triples' scores are the model's own, up to float32 rounding
            torch.testing.assert_close(
                scores.gather(1, target[:, None]).squeeze(1), model(h, r, t), rtol=1e-6, atol=2e-6
            )
            # and every query ranks its answer as the exact scores do (the float32 forward pass
            # itself misranks a near tie here: TransE's query 2 of the tails, 221 for 220)
            assert torch.equal(filtered_ranks(scores, target), filtered_ranks(reference, target))


def test_filtered_ranks_by_hand():
    scores = torch.tensor([[0.9, 0.5, 0.7, 0.1], [0.2, 0.2, 0.8, 0.2]])
    target = torch.tensor([1, 0])
    # raw: row 0 has 0.9 and 0.7 above the true 0.5; row 1 has 0.8 above and two ties
    assert filtered_ranks(scores, target, ties="average").tolist() == [3.0, 3.0]
    assert filtered_ranks(scores, target, ties="pessimistic").tolist() == [3.0, 4.0]
    assert filtered_ranks(scores, target, ties="optimistic").tolist() == [3.0, 2.0]
    # filtered: 0.9 of row 0 and 0.8 of row 1 are other true answers; listing the target itself is harmless
    rows, cols = torch.tensor([0, 1, 1]), torch.tensor([0, 2, 0])
    assert filtered_ranks(scores, target, rows, cols, ties="average").tolist() == [2.0, 2.0]
    assert filtered_ranks(scores, target, rows, cols, ties="pessimistic").tolist() == [2.0, 3.0]
    assert filtered_ranks(scores, target, rows, cols, ties="optimistic").tolist() == [2.0, 1.0]
    with pytest.raises(ValueError, match="ties"):
        filtered_ranks(scores, target, ties="random")


def test_known_triples_finds_every_true_answer():
    triples = torch.tensor([[0, 0, 1], [0, 0, 2], [3, 1, 1], [4, 0, 2], [0, 1, 4]])
    known = KnownTriples(triples, num_relations=2)
    rows, tails = known.answers(torch.tensor([0, 0, 2]), torch.tensor([0, 1, 0]), "tail")
    assert sorted(zip(rows.tolist(), tails.tolist())) == [(0, 1), (0, 2), (1, 4)]
    rows, heads = known.answers(torch.tensor([2, 1]), torch.tensor([0, 1]), "head")
    assert sorted(zip(rows.tolist(), heads.tolist())) == [(0, 0), (0, 4), (1, 3)]


def test_filtered_link_prediction_known_by_construction():
    # all-zero DistMult embeddings score every candidate 0: every rank comes from ties and filtering
    triples = torch.tensor([[0, 0, 1], [0, 0, 2], [3, 1, 1], [4, 0, 2]])
    model = build_kge_model("distmult", num_entities=5, num_relations=2, dim=4)
    torch.nn.init.zeros_(model.node_emb.weight)
    known = KnownTriples(triples, num_relations=2)
    test = triples[:1]  # (0, 0, 1)
    # tail query (0, 0, ?): 2 is another true tail, 3 candidates tie → 1 + 3/2; head query (?, 0, 1): 4 tie → 1 + 4/2
    avg = link_prediction(model, test, known, ties="average")
    assert avg["mrr"] == pytest.approx((1 / 2.5 + 1 / 3) / 2)
    assert avg["hits@1"] == 0.0 and avg["hits@3"] == 1.0
    pessimistic = link_prediction(model, test, known, ties="pessimistic")
    assert pessimistic["mrr"] == pytest.approx((1 / 4 + 1 / 5) / 2)
    raw = link_prediction(model, test, KnownTriples(test, num_relations=2), ties="average")
    assert raw["mrr"] == pytest.approx((1 / 3 + 1 / 3) / 2)


def test_split_is_seeded_and_keeps_every_held_out_entity_in_training():
    g = torch.Generator().manual_seed(0)
    triples = torch.unique(torch.stack([torch.randint(40, (400,), generator=g), torch.randint(3, (400,), generator=g),
                                        torch.randint(40, (400,), generator=g)], 1), dim=0)  # fmt: skip
    train, valid, test = split_triples(triples, 0.1, 0.1, seed=3)
    again = split_triples(triples, 0.1, 0.1, seed=3)
    assert all(torch.equal(a, b) for a, b in zip((train, valid, test), again))
    together = torch.cat([train, valid, test])
    assert len(together) == len(triples) and torch.equal(torch.unique(together, dim=0), triples)
    assert 0 < len(valid) <= round(0.1 * len(triples)) and 0 < len(test) <= round(0.1 * len(triples))
    trained = set(train[:, [0, 2]].flatten().tolist())
    assert set(torch.cat([valid, test])[:, [0, 2]].flatten().tolist()) <= trained
    # a star graph: every leaf has one triple, so nothing can be held out
    star = torch.stack([torch.zeros(10, dtype=torch.long), torch.zeros(10, dtype=torch.long), torch.arange(1, 11)], 1)
    train, valid, test = split_triples(star, 0.2, 0.2)
    assert len(train) == 10 and len(valid) == len(test) == 0
    with pytest.raises(ConfigError, match="sum to less than 1"):
        split_triples(triples, 0.6, 0.5)


@pytest.mark.parametrize("name", list(KGE_MODELS))
def test_each_model_gives_aligned_finite_class_embeddings(name, toy_kg):
    ds = toy_dataset()
    encoder = SEMANTICS.build("kge", model=name, **FAST)
    emb = encoder.encode(toy_kg, ds)
    width = 16 if name in ("complex", "rotate") else 8
    assert emb.ids == ds.class_ids and emb.matrix.shape == (ds.num_classes, width) and len(emb.columns) == width
    assert np.isfinite(emb.matrix).all()
    np.testing.assert_allclose(np.linalg.norm(emb.matrix, axis=1), 1.0, rtol=1e-5)
    for key in METRIC_KEYS:
        assert 0.0 <= encoder.metrics_[key] <= 1.0, key
    assert 0 < encoder.metrics_["kge/epochs"] <= FAST["epochs"]
    # the class rows are the entity rows of the aligned IRIs
    cat = encoder.entity_ids_.index("http://example.org/toy#cat")
    raw = KGEmbedding(model=name, normalize="none", **FAST).encode(toy_kg, ds)
    np.testing.assert_allclose(raw.matrix[ds.class_ids.index("cat")], encoder.entity_embeddings_[cat])


def test_same_seed_same_embeddings(toy_kg):
    ds = toy_dataset()
    a, b, c = (KGEmbedding(seed=s, **FAST) for s in (0, 0, 1))
    ea, eb, ec = (e.encode(toy_kg, ds) for e in (a, b, c))
    np.testing.assert_array_equal(ea.matrix, eb.matrix)
    assert a.metrics_ == b.metrics_
    assert not np.allclose(ea.matrix, ec.matrix)


def test_early_stopping_when_validation_does_not_improve(toy_kg):
    encoder = KGEmbedding(lr=0.0, epochs=200, eval_every=2, patience=2, dim=8, device="cpu")
    encoder.encode(toy_kg, toy_dataset())
    # evaluations at epochs 0 (best), 2 and 4 (no improvement twice) → stop after epoch 4
    assert encoder.metrics_["kge/epochs"] == 4 and encoder.metrics_["kge/best_epoch"] == 0
    # an untrained model is its own random baseline
    assert encoder.metrics_["kge/mrr"] == encoder.metrics_["kge/random_mrr"]


def test_relations_namespace_and_errors(tmp_path: Path, toy_kg):
    ds = toy_dataset()
    only_has = KGEmbedding(relations=["has"], namespace="http://example.org/toy#", **FAST)
    only_has.encode(toy_kg, ds)
    n_has = sum(len(line.split("t:has ", 1)[1].split(",")) for line in TOY_TTL.splitlines() if "t:has " in line)
    counts = ("kge/train_triples", "kge/valid_triples", "kge/test_triples")
    assert sum(only_has.metrics_[k] for k in counts) == n_has
    with pytest.raises(ConfigError, match="needs a knowledge source"):
        KGEmbedding(**FAST).encode(None, ds)
    with pytest.raises(DataError):
        KGEmbedding(namespace="http://elsewhere.org/", **FAST).encode(toy_kg, ds)
    # a class with no triple of the chosen relations would keep a random vector: refused
    path = tmp_path / "okapi.ttl"
    path.write_text(TOY_TTL + 't:okapi a owl:Class ; rdfs:label "okapi" .\n', encoding="utf-8")
    kg = KnowledgeGraph.from_files(path)
    with pytest.raises(DataError, match="no triple to train on with relations has: .*okapi"):
        KGEmbedding(relations=["has"], **FAST).encode(kg, _dataset(["cat", "okapi"]))
    with pytest.raises(ConfigError, match="unknown KG embedding model"):
        KGEmbedding(model="transh", **FAST).encode(toy_kg, ds)


def test_transe_on_the_kzsl_awa_kg_beats_the_random_model(shared_data: Path):
    kg = KnowledgeGraph.from_files(shared_data / "kzsl" / "KG" / "KG-AwA.ttl")
    classes = json.loads((shared_data / "kzsl" / "ori_data" / "AwA" / "class.json").read_text())
    wnids = list(classes["seen"]) + list(classes["unseen"])
    encoder = KGEmbedding(model="transe", dim=50, epochs=30, eval_every=10, device="cpu")
    emb = encoder.encode(kg, _dataset(wnids))
    assert emb.matrix.shape == (50, 50) and np.isfinite(emb.matrix).all()
    assert len({tuple(row) for row in emb.matrix.round(5).tolist()}) == 50  # 50 distinct class vectors
    m = encoder.metrics_
    # measured: filtered test MRR ≈ 0.18 against ≈ 0.001 for the untrained model (about 9.2k entities)
    assert m["kge/mrr"] > 5 * m["kge/random_mrr"] and m["kge/mrr"] > 0.05
    assert m["kge/hits@10"] > m["kge/hits@1"] and m["kge/test_triples"] > 100
