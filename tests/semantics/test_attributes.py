from pathlib import Path

import numpy as np
import pytest

from kgzsl.errors import ConfigError, DataError
from kgzsl.knowledge.alignment import align_classes
from kgzsl.knowledge.store import KnowledgeGraph, local_name
from kgzsl.semantics.attributes import DatasetSemantics, KGAttributes, class_ancestor_matrix, class_attribute_matrix
from kgzsl.testing import toy_dataset


def test_attribute_matrix_matches_the_triples(toy_kg_file: Path):
    kg = KnowledgeGraph.from_files(toy_kg_file)
    iris = align_classes(kg, ["cat", "zebra", "penguin"])
    matrix, columns = class_attribute_matrix(kg, iris)
    names = [local_name(c) for c in columns]
    assert names == sorted(names)
    as_sets = [{names[j] for j in np.flatnonzero(row)} for row in matrix]
    assert as_sets == [
        {"fur", "small", "whiskers", "claws"},
        {"hooves", "big", "stripes", "mane"},
        {"feathers", "beak", "swims"},
    ]


def test_ancestor_matrix_drops_the_shared_root(toy_kg_file: Path):
    kg = KnowledgeGraph.from_files(toy_kg_file)
    iris = align_classes(kg, ["cat", "dog", "eagle"])
    matrix, columns = class_ancestor_matrix(kg, iris)
    names = [local_name(c) for c in columns]
    assert "Animal" not in names
    cat = {names[j] for j in np.flatnonzero(matrix[0])}
    assert cat == {"Felid", "Mammal"}


def test_relation_filter_and_missing_relation(toy_kg_file: Path):
    kg = KnowledgeGraph.from_files(toy_kg_file)
    iris = align_classes(kg, ["cat"])
    matrix, _ = class_attribute_matrix(kg, iris, relations=["has"])
    assert matrix.sum() == 4
    with pytest.raises(DataError, match="relation\\(s\\) hasColour not found"):
        class_attribute_matrix(kg, iris, relations=["hasColour"])


def test_kg_attributes_encoder_is_aligned_and_normalised(toy_kg_file: Path):
    kg = KnowledgeGraph.from_files(toy_kg_file)
    ds = toy_dataset()
    emb = KGAttributes().encode(kg, ds)
    assert emb.ids == ds.class_ids and emb.matrix.shape[0] == ds.num_classes
    np.testing.assert_allclose(np.linalg.norm(emb.matrix, axis=1), 1.0, rtol=1e-5)
    without = KGAttributes(hierarchy=False, normalize="none").encode(kg, ds)
    assert without.dim < emb.dim and set(np.unique(without.matrix)) <= {0.0, 1.0}
    with pytest.raises(ConfigError, match="needs a knowledge source"):
        KGAttributes().encode(None, ds)


def test_dataset_semantics():
    ds = toy_dataset()
    emb = DatasetSemantics(normalize="none").encode(None, ds)
    np.testing.assert_array_equal(emb.matrix, ds.semantics["attributes"])
    with pytest.raises(ConfigError, match="has no semantics 'w2v'; valid: attributes"):
        DatasetSemantics(key="w2v").encode(None, ds)


def test_dataset_semantics_raw_binary_and_l2():
    ds = toy_dataset()
    ds.semantics["continuous"] = np.linspace(-1, 1, ds.num_classes * 3).reshape(ds.num_classes, 3).astype(np.float32)
    raw = DatasetSemantics(key="continuous", normalize="none").encode(None, ds).matrix
    binary = DatasetSemantics(key="continuous", normalize="none", binary=True).encode(None, ds).matrix
    np.testing.assert_array_equal(binary, (raw > 0).astype(np.float32))
    l2 = DatasetSemantics(key="continuous", binary=True).encode(None, ds).matrix
    nonzero = np.linalg.norm(l2, axis=1) > 0
    np.testing.assert_allclose(np.linalg.norm(l2[nonzero], axis=1), 1.0, rtol=1e-6)
