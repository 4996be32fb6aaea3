"""OntoZSL's ontology encoder and precomputed class embeddings."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kgzsl.data.dataset import ZSLDataset, standard_splits
from kgzsl.errors import ConfigError, DataError
from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.semantics.ontozsl import OntoZSL, PrecomputedEmbeddings, entity_texts, text_aware_energy
from kgzsl.testing import TOY_CLASSES, toy_dataset, write_toy_kg

FAST = {"kge_epochs": 30, "epochs": 30}


def _dataset(class_ids: list[str]) -> ZSLDataset:
    """A featureless stand-in dataset over ``class_ids`` (the encoders only read the ids)."""
    labels = np.repeat(np.arange(len(class_ids)), 2)
    seen = np.arange(len(class_ids) - 1)  # a class-disjoint val split needs >= 2 seen classes
    return ZSLDataset(
        name="ids",
        features=np.zeros((len(labels), 2), np.float32),
        labels=labels,
        class_ids=list(class_ids),
        seen=seen,
        unseen=np.arange(len(seen), len(class_ids)),
        splits=standard_splits(labels, seen, seed=0),
    )


def _awa2_names(shared_data: Path) -> list[str]:
    from kgzsl.data.dataset import read_mat

    return read_mat(shared_data / "xlsa17" / "AWA2" / "att_splits.mat", ["allclasses_names"])["allclasses_names"]


@pytest.fixture
def toy_kg(tmp_path: Path) -> KnowledgeGraph:
    return KnowledgeGraph.from_files(write_toy_kg(tmp_path / "toy.ttl"))


def test_energy_is_zero_for_a_perfect_translation():
    h = torch.zeros(2, 3)
    r = torch.ones(2, 3)
    # the four cross terms vanish; only the sum term ‖(h_s + h_t) + r - (t_s + t_t)‖₁ = ‖-r‖₁ is left
    torch.testing.assert_close(text_aware_energy(h, h, r, h + r, h + r), torch.tensor([3.0, 3.0]))
    assert (text_aware_energy(h, h, r, h, h) > text_aware_energy(h, h, r, h + r, h + r)).all()


def test_entity_texts_labels_then_local_names(toy_kg):
    ids = ["http://example.org/toy#cat", "http://example.org/toy#Mammal", "_:b0"]
    texts, fell_back = entity_texts(toy_kg, ids)
    assert texts == [["cat"], ["Mammal"], []] and fell_back == 1


def test_ontozsl_on_toy_kg(toy_kg):
    ds = toy_dataset()
    enc = OntoZSL(mapping=16, dim=20, **FAST)
    a = enc.encode(toy_kg, ds)
    assert a.ids == ds.class_ids and a.matrix.shape == (len(TOY_CLASSES), 32)
    assert np.isfinite(a.matrix).all() and np.abs(a.matrix).max() <= 1.0  # tanh outputs
    for key in ("kge/mrr", "ontozsl/loss", "ontozsl/retrieval_mrr", "ontozsl/random_retrieval_mrr"):
        assert key in enc.metrics_ and np.isfinite(enc.metrics_[key])
    assert enc.metrics_["ontozsl/heldout_entities"] >= 1
    b = OntoZSL(mapping=16, dim=20, **FAST).encode(toy_kg, ds)
    np.testing.assert_array_equal(a.matrix, b.matrix)
    row = enc.entity_ids_.index("http://example.org/toy#cat")
    np.testing.assert_array_equal(a.matrix[0], enc.entity_embeddings_[row])


def test_ontozsl_word_vectors_and_errors(toy_kg, word_vectors_params):
    ds = toy_dataset()
    enc = OntoZSL(text_encoder="word_vectors", word_vectors_path=word_vectors_params["path"], mapping=8, **FAST)
    assert enc.encode(toy_kg, ds).matrix.shape == (len(TOY_CLASSES), 16)
    with pytest.raises(ConfigError, match="word_vectors_path"):
        OntoZSL(text_encoder="word_vectors", **FAST).encode(toy_kg, ds)
    with pytest.raises(ConfigError, match="knowledge"):
        OntoZSL().encode(None, ds)


def test_ontozsl_on_the_real_awa2_ontology(shared_data):
    kg = KnowledgeGraph.from_files(shared_data / "ontozsl" / "AwA2" / "onto_file")
    ds = _dataset(_awa2_names(shared_data))  # killer+whale ... matched to wnid entities by their labels
    enc = OntoZSL(kge_epochs=30, epochs=40, batch_size=256)
    emb = enc.encode(kg, ds)
    assert emb.matrix.shape == (50, 200) and np.isfinite(emb.matrix).all()
    assert len({tuple(r) for r in emb.matrix.round(5)}) == 50  # every class its own vector
    m = enc.metrics_
    assert m["kge/mrr"] > m["kge/random_mrr"]
    assert m["ontozsl/heldout_entities"] >= 10
    assert m["ontozsl/retrieval_mrr"] > 2 * m["ontozsl/random_retrieval_mrr"]


# --- precomputed -----------------------------------------------------------------------


def test_precomputed_npy_and_ids_round_trip(precomputed_params):
    ds = toy_dataset()
    emb = PrecomputedEmbeddings(**precomputed_params).encode(None, ds)
    stored = np.load(precomputed_params["path"])
    order = Path(precomputed_params["ids"]).read_text().split()
    np.testing.assert_array_equal(emb.matrix, stored[[order.index(c) for c in ds.class_ids]])


def test_precomputed_npz_names_normalised_and_missing(tmp_path):
    ds = _dataset(["killer+whale", "n02071294", "cat"])
    m = np.arange(12, dtype=np.float64).reshape(3, 4)
    np.savez(tmp_path / "e.npz", emb=m, ids=np.array(["Cat", "Killer_Whale", "http://x.org/wn#n02071294"]))
    out = PrecomputedEmbeddings(path=str(tmp_path / "e.npz")).encode(None, ds)  # ids found by name
    np.testing.assert_array_equal(out.matrix, m[[1, 2, 0]])
    with pytest.raises(DataError, match=r"1 of 4 classes have no row: 'dog'"):
        PrecomputedEmbeddings(path=str(tmp_path / "e.npz")).encode(None, _dataset([*ds.class_ids, "dog"]))


def test_precomputed_without_ids_needs_explicit_order(tmp_path):
    np.save(tmp_path / "e.npy", np.ones((3, 2)))
    ds = _dataset(["a", "b", "c"])
    with pytest.raises(DataError, match="assume_dataset_order"):
        PrecomputedEmbeddings(path=str(tmp_path / "e.npy")).encode(None, ds)
    assert PrecomputedEmbeddings(path=str(tmp_path / "e.npy"), assume_dataset_order=True).encode(None, ds).dim == 2


def test_precomputed_ontozsl_o2v_awa(shared_data, tmp_path):
    path = shared_data / "ontozsl" / "AwA2" / "onto_file" / "embeddings" / "o2v-awa.mat"
    names = _awa2_names(shared_data)
    # o2v-awa.mat holds only k2v (50 × 200), its rows in att_splits.mat's allclasses_names order
    (tmp_path / "ids.txt").write_text("\n".join(names))
    shuffled = _dataset(names[::-1])
    emb = PrecomputedEmbeddings(path=str(path), ids=str(tmp_path / "ids.txt")).encode(None, shuffled)
    in_order = PrecomputedEmbeddings(path=str(path), assume_dataset_order=True).encode(None, _dataset(names))
    assert emb.matrix.shape == (50, 200)
    np.testing.assert_array_equal(emb.matrix, in_order.matrix[::-1])
    with pytest.raises(DataError, match="'unicorn'"):
        PrecomputedEmbeddings(path=str(path), ids=str(tmp_path / "ids.txt")).encode(None, _dataset([*names, "unicorn"]))


def test_ontozsl_says_loudly_when_iris_stand_in_for_texts(toy_kg):
    # the toy KG labels its classes but not every node: those fall back on their local names
    enc = OntoZSL(mapping=8, dim=8, **FAST)
    with pytest.warns(UserWarning, match=r"ontozsl: [1-9]\d* of \d+ entities have no text .* local names stand in"):
        enc.encode(toy_kg, toy_dataset())
    m = enc.metrics_
    assert m["ontozsl/name_fallback_entities"] >= 1 and 0 < m["ontozsl/name_fallback_fraction"] < 1
    assert m["ontozsl/texts_from_label"] >= len(TOY_CLASSES)
    assert m["ontozsl/texts_from_fallback"] == m["ontozsl/name_fallback_entities"]
