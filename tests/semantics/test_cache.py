from pathlib import Path

import numpy as np

from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.semantics.attributes import DatasetSemantics, KGAttributes
from kgzsl.semantics.cache import cache_key, encode_cached
from kgzsl.testing import toy_dataset


class CountingEncoder(KGAttributes):
    calls = 0

    def encode(self, kg, dataset):
        CountingEncoder.calls += 1
        return super().encode(kg, dataset)


def test_hit_miss_and_invalidation(tmp_path: Path, toy_kg_file: Path):
    kg = KnowledgeGraph.from_files(toy_kg_file)
    ds = toy_dataset()
    CountingEncoder.calls = 0
    first, hit1 = encode_cached(CountingEncoder(), kg, ds, tmp_path)
    second, hit2 = encode_cached(CountingEncoder(), kg, ds, tmp_path)
    assert (hit1, hit2) == (False, True) and CountingEncoder.calls == 1
    np.testing.assert_array_equal(first.matrix, second.matrix)
    assert first.ids == second.ids and first.columns == second.columns
    # a changed setting recomputes
    _, hit3 = encode_cached(CountingEncoder(hierarchy=False), kg, ds, tmp_path)
    assert not hit3 and CountingEncoder.calls == 2
    # a changed KG recomputes
    changed = tmp_path / "changed.ttl"
    changed.write_text(toy_kg_file.read_text() + "t:cat t:has t:spots .\n")
    _, hit4 = encode_cached(CountingEncoder(), KnowledgeGraph.from_files(changed), ds, tmp_path)
    assert not hit4 and CountingEncoder.calls == 3


def test_key_ignores_file_order_but_not_content(toy_kg_file: Path, tmp_path: Path):
    ds = toy_dataset()
    extra = tmp_path / "extra.nt"
    extra.write_text("<http://example.org/toy#cat> <http://example.org/toy#has> <http://example.org/toy#tail> .\n")
    a = cache_key(KGAttributes(), KnowledgeGraph.from_files(toy_kg_file, extra), ds)
    b = cache_key(KGAttributes(), KnowledgeGraph.from_files(extra, toy_kg_file), ds)
    c = cache_key(KGAttributes(), KnowledgeGraph.from_files(toy_kg_file), ds)
    assert a == b != c
    # dataset semantics are part of the key for encoders that read them
    ds2 = toy_dataset()
    ds2.semantics["attributes"] = ds2.semantics["attributes"] * 2
    assert cache_key(DatasetSemantics(), None, ds) != cache_key(DatasetSemantics(), None, ds2)


def test_damaged_entry_is_recomputed(tmp_path: Path, toy_kg_file: Path):
    kg = KnowledgeGraph.from_files(toy_kg_file)
    ds = toy_dataset()
    encode_cached(KGAttributes(), kg, ds, tmp_path)
    (entry,) = (tmp_path / "semantics").glob("*.npz")
    entry.write_bytes(b"garbage")
    emb, hit = encode_cached(KGAttributes(), kg, ds, tmp_path)
    assert not hit and emb.matrix.shape[0] == ds.num_classes


def test_files_named_by_parameters_count_by_content(tmp_path: Path):
    ds = toy_dataset()
    doc = tmp_path / "docs.json"
    doc.write_text('{"cat": ["a cat"]}')

    class FileEncoder(DatasetSemantics):
        def __init__(self, key: str = "attributes", path: str = str(doc)) -> None:
            self.key, self.path, self.normalize = key, path, "none"

    before = cache_key(FileEncoder(), None, ds)
    doc.write_text('{"cat": ["a big cat"]}')
    assert cache_key(FileEncoder(), None, ds) != before
