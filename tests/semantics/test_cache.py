"""The class-embedding cache: hits and misses, keys that follow code, seeds and devices; kgzsl cache."""

import argparse
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import kgzsl
from kgzsl.context import RunContext
from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.semantics import cache as cache_module
from kgzsl.semantics.attributes import DatasetSemantics, KGAttributes
from kgzsl.semantics.cache import cache_clear, cache_info, cache_key, code_fingerprint, code_modules, encode_cached
from kgzsl.semantics.kge import KGEmbedding
from kgzsl.testing import toy_dataset


class CountingEncoder(KGAttributes):
    calls = 0

    def encode(self, kg, dataset, context=None):
        CountingEncoder.calls += 1
        return super().encode(kg, dataset, context)


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


# --- a changed encoder never reuses stale embeddings ----------------------------------------

ENCODER_MODULE = """
from kgzsl.semantics.attributes import DatasetSemantics
from stale_helper import SCALE


class ScaledSemantics(DatasetSemantics):
    def encode(self, kg, dataset, context=None):
        emb = super().encode(kg, dataset, context)
        emb.matrix = emb.matrix * SCALE
        return emb
"""


def _import_fresh(name: str):
    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    return importlib.import_module(name)


def test_a_changed_encoder_or_helper_module_recomputes(tmp_path: Path, monkeypatch, request):
    code = tmp_path / "code"
    code.mkdir()
    monkeypatch.syspath_prepend(str(code))
    (code / "stale_encoder.py").write_text(ENCODER_MODULE)
    (code / "stale_helper.py").write_text("SCALE = 2.0\n")
    request.addfinalizer(lambda: [sys.modules.pop(name, None) for name in ("stale_encoder", "stale_helper")])
    ds = toy_dataset()
    _import_fresh("stale_helper")
    enc_cls = _import_fresh("stale_encoder").ScaledSemantics
    first, hit1 = encode_cached(enc_cls(normalize="none"), None, ds, tmp_path / "cache")
    again, hit2 = encode_cached(enc_cls(normalize="none"), None, ds, tmp_path / "cache")
    assert (hit1, hit2) == (False, True)
    np.testing.assert_array_equal(first.matrix, again.matrix)
    # the module the encoder imports is part of its code: editing it recomputes
    (code / "stale_helper.py").write_text("SCALE = 3.0  # changed\n")
    _import_fresh("stale_helper")
    enc_cls = _import_fresh("stale_encoder").ScaledSemantics
    changed, hit3 = encode_cached(enc_cls(normalize="none"), None, ds, tmp_path / "cache")
    assert not hit3
    np.testing.assert_allclose(changed.matrix, first.matrix * 1.5, rtol=1e-6)
    # so does editing the encoder's own module
    (code / "stale_encoder.py").write_text(ENCODER_MODULE.replace("* SCALE", "* SCALE * 2"))
    enc_cls = _import_fresh("stale_encoder").ScaledSemantics
    doubled, hit4 = encode_cached(enc_cls(normalize="none"), None, ds, tmp_path / "cache")
    assert not hit4
    np.testing.assert_allclose(doubled.matrix, first.matrix * 3, rtol=1e-6)


def test_the_code_fingerprint_follows_imports_inside_kgzsl():
    sources, libraries = code_modules(KGEmbedding())
    # the encoder's module, the shared training loop, the interface, the knowledge it reads
    for module in (
        "kgzsl.semantics.kge",
        "kgzsl.semantics.linkpred",
        "kgzsl.semantics.base",
        "kgzsl.knowledge.alignment",
    ):
        assert module in sources, module
    # not the layers above it
    assert "kgzsl.pipeline" not in sources and "kgzsl.semantics.cache" not in sources
    assert libraries["torch"].startswith("torch==") and "torch_geometric" in libraries
    assert code_fingerprint(KGEmbedding()) == code_fingerprint(KGEmbedding)


def test_a_new_version_or_fingerprint_recomputes(tmp_path: Path, toy_kg_file: Path, monkeypatch):
    kg = KnowledgeGraph.from_files(toy_kg_file)
    ds = toy_dataset()
    assert not encode_cached(KGAttributes(), kg, ds, tmp_path)[1]
    assert encode_cached(KGAttributes(), kg, ds, tmp_path)[1]
    monkeypatch.setattr(kgzsl, "__version__", kgzsl.__version__ + ".post1")
    assert not encode_cached(KGAttributes(), kg, ds, tmp_path)[1]
    monkeypatch.setattr(cache_module, "code_fingerprint", lambda encoder: "0" * 64)
    assert not encode_cached(KGAttributes(), kg, ds, tmp_path)[1]
    assert encode_cached(KGAttributes(), kg, ds, tmp_path)[1]


def test_encoders_without_readable_source_are_not_cached(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(cache_module, "code_fingerprint", lambda encoder: None)
    ds = toy_dataset()
    assert not encode_cached(DatasetSemantics(), None, ds, tmp_path)[1]
    assert not encode_cached(DatasetSemantics(), None, ds, tmp_path)[1]
    assert cache_info(tmp_path).entries == 0


def test_the_run_seed_and_device_are_part_of_the_key(toy_kg_file: Path, monkeypatch):
    kg = KnowledgeGraph.from_files(toy_kg_file)
    ds = toy_dataset()
    cpu0, cpu1 = RunContext(seed=0, device="cpu"), RunContext(seed=1, device="cpu")
    # an encoder with a seed: the run's seed counts, unless its own seed is set
    assert cache_key(KGEmbedding(), kg, ds, cpu0) != cache_key(KGEmbedding(), kg, ds, cpu1)
    assert cache_key(KGEmbedding(seed=5), kg, ds, cpu0) == cache_key(KGEmbedding(seed=5), kg, ds, cpu1)
    # a deterministic encoder is shared across seeds
    assert cache_key(KGAttributes(), kg, ds, cpu0) == cache_key(KGAttributes(), kg, ds, cpu1)
    # the device type counts for encoders that have a device
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    auto = RunContext(seed=0, device="auto")
    assert cache_key(KGEmbedding(), kg, ds, auto) != cache_key(KGEmbedding(), kg, ds, cpu0)
    assert cache_key(KGEmbedding(device="cpu"), kg, ds, auto) == cache_key(KGEmbedding(device="cpu"), kg, ds, cpu0)
    assert cache_key(KGAttributes(), kg, ds, auto) == cache_key(KGAttributes(), kg, ds, cpu0)


# --- kgzsl cache info | clear ---------------------------------------------------------------


def _cache_cli(argv: list[str]) -> int:
    from kgzsl.semantics import cli

    parser = argparse.ArgumentParser(prog="kgzsl")
    sub = parser.add_subparsers(dest="command", parser_class=argparse.ArgumentParser)
    cli.add_parser(sub, argparse.ArgumentParser)
    args = parser.parse_args(argv)
    assert args.command == "cache"
    return cli.run(args)


def test_cache_info_and_clear(tmp_path: Path, toy_kg_file: Path, capsys):
    kg = KnowledgeGraph.from_files(toy_kg_file)
    ds = toy_dataset()
    encode_cached(KGAttributes(), kg, ds, tmp_path)
    encode_cached(KGAttributes(hierarchy=False), kg, ds, tmp_path)
    encode_cached(DatasetSemantics(), None, ds, tmp_path)
    info = cache_info(tmp_path)
    assert info.entries == 3 and info.by_encoder == {"kg_attributes": 2, "dataset": 1} and info.bytes > 0
    assert _cache_cli(["cache", "info", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "3 class embedding(s)" in out and "kg_attributes" in out
    assert _cache_cli(["cache", "clear", "--cache-dir", str(tmp_path), "--encoder", "dataset"]) == 0
    assert "removed 1 " in capsys.readouterr().err
    assert cache_info(tmp_path).by_encoder == {"kg_attributes": 2}
    assert cache_clear(tmp_path) == 2 and cache_info(tmp_path).entries == 0
    # the next run recomputes
    assert not encode_cached(DatasetSemantics(), None, ds, tmp_path)[1]
    # an empty or missing folder is fine; a file is not a folder
    assert cache_info(tmp_path / "none").entries == 0
    (tmp_path / "file").write_text("x")
    from kgzsl.errors import KGZSLError

    with pytest.raises(KGZSLError, match="not a folder"):
        _cache_cli(["cache", "info", "--cache-dir", str(tmp_path / "file")])


def test_the_key_ignores_the_images(toy_kg_file: Path):
    # encoders never read images (what trains on them is a method: GCNZ, DGP), so other features
    # of the same classes share the cached embeddings
    kg = KnowledgeGraph.from_files(toy_kg_file)
    ds, other = toy_dataset(), toy_dataset()
    other.features = other.features + 1.0
    other.splits = {**other.splits, "trainval": other.splits["trainval"][:5]}
    assert cache_key(KGAttributes(), kg, ds) == cache_key(KGAttributes(), kg, other)
