"""Text semantics: class texts from names, KG labels, literals and documents; sentence,
CLIP-text and word-vector encoders."""

from __future__ import annotations

import gzip
import json
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from kgzsl.errors import ConfigError, DataError
from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.registry import SEMANTICS
from kgzsl.semantics.base import normalize_rows
from kgzsl.semantics.cache import encode_cached
from kgzsl.semantics.text import (
    CLIPText,
    SentenceEmbeddings,
    WordVectors,
    class_texts,
    read_word_vectors,
    readable_name,
    tokenize_words,
)
from kgzsl.testing import TINY_CLIP_CONFIG, TINY_GLOVE, TOY_CLASSES, toy_dataset, write_tiny_glove, write_toy_kg


@pytest.fixture
def kg(tmp_path: Path) -> KnowledgeGraph:
    return KnowledgeGraph.from_files(write_toy_kg(tmp_path / "toy.ttl"))


def _with_ids(ids: list[str]) -> SimpleNamespace:
    """A stand-in dataset of these class ids: text encoders read nothing else of a dataset."""
    return SimpleNamespace(name="texts", class_ids=list(ids))


def _cos(emb, a: str, b: str) -> float:
    i, j = emb.ids.index(a), emb.ids.index(b)
    return float(emb.matrix[i] @ emb.matrix[j])


# --- texts ---


def test_readable_names_and_words():
    assert readable_name("killer+whale") == "killer whale"
    assert readable_name("002.Laysan_Albatross") == "Laysan Albatross"
    assert readable_name("http://example.org/toy#polar_bear") == "polar bear"
    assert tokenize_words("a long, hooked bill") == ["a", "long", "hooked", "bill"]
    assert tokenize_words("Black-footed_Albatross+x / y.") == ["black", "footed", "albatross", "x", "y"]


def test_class_texts_of_each_kind(tmp_path: Path, kg: KnowledgeGraph):
    extra = tmp_path / "extra.ttl"
    extra.write_text(
        "@prefix t: <http://example.org/toy#> .\n@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        't:tiger rdfs:label "tiger, Panthera tigris"@en, "Tiger"@de ; t:note "striped big cat" ; t:weight 220 .\n'
    )
    kg.load(extra)
    ids = ["tiger", "killer+whale"]
    assert class_texts(None, ids)[0] == [["tiger"], ["killer whale"]]
    labels, _ = class_texts(kg, ["tiger", "cat"], "label")
    assert labels == [["Panthera tigris", "tiger"], ["cat"]]  # comma-split, German label left out
    assert class_texts(kg, ["tiger"], "label", language=None)[0] == [["Panthera tigris", "Tiger", "tiger"]]
    literals, _ = class_texts(kg, ["tiger"], "literals")
    assert literals == [["striped big cat", "tiger", "tiger, Panthera tigris"]]  # no number literal
    assert class_texts(kg, ["tiger"], "literals", relations=["note"])[0] == [["striped big cat"]]
    with pytest.raises(DataError, match="relation 'colour' is not in the knowledge graph"):
        class_texts(kg, ["tiger"], "literals", relations=["colour"])
    with pytest.raises(ConfigError, match="needs a knowledge source"):
        class_texts(None, ids, "label")
    with pytest.raises(ConfigError, match="language"):
        class_texts(kg, ids, "label", language='en") }')


def test_documents_from_the_kg_and_from_a_file(tmp_path: Path, kg: KnowledgeGraph):
    docs = {"tiger": ["a big striped cat", "orange fur"], "Killer Whale": ["a black and white dolphin"], "x": ["y"]}
    path = tmp_path / "docs.json"
    path.write_text(json.dumps(docs))
    # a file, keyed by class id or by readable name; keys of other classes are ignored
    texts, _ = class_texts(None, ["tiger", "killer+whale"], "documents", documents=str(path))
    assert texts == [["a big striped cat", "orange fur"], ["a black and white dolphin"]]
    # the same file loaded into the KG as kgzsl:description literals
    kg.load(path, format="documents", namespace="http://example.org/docs/")
    texts, _ = class_texts(kg, ["tiger", "killer+whale"], "documents", namespace="http://example.org/docs/")
    assert texts == [["a big striped cat", "orange fur"], ["a black and white dolphin"]]
    # toy classes without a description: one error naming them, or their names
    described = tmp_path / "described.ttl"
    described.write_text(
        "@prefix t: <http://example.org/toy#> .\n@prefix kgzsl: <https://w3id.org/kgzsl/vocab#> .\n"
        't:tiger kgzsl:description "a big cat with stripes"@en .\n'
    )
    kg.load(described)
    texts, _ = class_texts(kg, ["tiger"], "documents", namespace="http://example.org/toy#")
    assert texts == [["a big cat with stripes"]]
    with pytest.raises(DataError, match=r"2 of 3 classes have no kgzsl:description.*'cat', 'lion'.*fallback='name'"):
        class_texts(kg, ["cat", "lion", "tiger"], "documents", namespace="http://example.org/toy#")
    with pytest.raises(DataError, match=r"1 of 2 classes have no texts in .*docs.json: 'wolf'"):
        class_texts(None, ["tiger", "wolf"], "documents", documents=str(path))
    texts, fell_back = class_texts(None, ["tiger", "wolf"], "documents", documents=str(path), fallback="name")
    assert texts[1] == ["wolf"] and fell_back == ["wolf"]
    with pytest.raises(ConfigError, match="texts='documents'"):
        class_texts(None, ["tiger"], "name", documents=str(path))


# --- sentence (all-MiniLM-L6-v2) ---


def test_sentence_defaults_on_the_toy_dataset(kg: KnowledgeGraph):
    ds = toy_dataset()
    a = SEMANTICS.build("sentence").encode(kg, ds)
    b = SEMANTICS.build("sentence").encode(None, ds)  # names need no KG
    assert a.ids == ds.class_ids and a.matrix.shape == (len(TOY_CLASSES), 384) and a.columns == []
    assert a.matrix.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a.matrix, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(a.matrix, b.matrix)
    assert _cos(a, "tiger", "lion") > _cos(a, "tiger", "penguin") + 0.1
    assert _cos(a, "wolf", "dog") > _cos(a, "wolf", "eagle")
    # the rows follow the dataset's class order
    shuffled = SentenceEmbeddings().encode(None, _with_ids(TOY_CLASSES[::-1]))
    np.testing.assert_allclose(shuffled.matrix, a.matrix[::-1], atol=1e-6)


def test_sentence_texts_templates_and_normalisation(kg: KnowledgeGraph):
    ds = toy_dataset()
    names = SentenceEmbeddings(normalize="none").encode(kg, ds)
    labels = SentenceEmbeddings(texts="label", normalize="none").encode(kg, ds)
    np.testing.assert_allclose(labels.matrix, names.matrix, atol=1e-6)  # toy labels are the names
    prompted = SentenceEmbeddings(template="a photo of a {}.").encode(kg, ds)
    assert not np.allclose(prompted.matrix, normalize_rows(names.matrix, "l2"), atol=1e-3)
    zscore = SentenceEmbeddings(normalize="zscore").encode(kg, ds)
    np.testing.assert_allclose(zscore.matrix.mean(0), 0.0, atol=1e-5)
    with pytest.raises(ConfigError, match="no '\\{\\}'"):
        SentenceEmbeddings(template="a photo").encode(kg, ds)


def test_sentence_errors(tmp_path: Path):
    ds = toy_dataset()
    with pytest.raises(DataError, match="no such folder; pass a local sentence-transformers model folder"):
        SentenceEmbeddings(model=str(tmp_path / "nowhere")).encode(None, ds)
    with pytest.raises(DataError, match="no such folder"):  # a Hub name, offline
        SentenceEmbeddings(model="sentence-transformers/all-mpnet-base-v2").encode(None, ds)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="could not be loaded"):
        SentenceEmbeddings(model=str(tmp_path / "empty")).encode(None, ds)
    with pytest.raises(ConfigError, match="normalize: expected Literal"):
        SEMANTICS.build("sentence", normalize="l3")


def test_sentence_on_real_cub_descriptors(shared_data: Path):
    # 11 CUB classes as xlsa17 names them, their LLM descriptors keyed by plain names
    ids = sorted((shared_data / "xlsa17" / "CUB" / "allclasses.txt").read_text().split())[:11]
    assert ids[0] == "001.Black_footed_Albatross"
    path = shared_data / "text" / "descriptors" / "descriptors_cub.json"
    emb = SentenceEmbeddings(texts="documents", documents=str(path)).encode(None, _with_ids(ids))
    assert emb.matrix.shape == (11, 384) and np.isfinite(emb.matrix).all()
    sim = emb.matrix @ emb.matrix.T
    np.fill_diagonal(sim, -1)
    albatrosses = [0, 1, 2]  # each albatross's nearest class is another albatross
    assert all(int(sim[i].argmax()) in albatrosses for i in albatrosses)


# --- clip_text ---


def test_clip_text_tiny_model(clip_text_params: dict, kg: KnowledgeGraph):
    ds = toy_dataset()
    a = CLIPText(**clip_text_params).encode(kg, ds)
    b = SEMANTICS.build("clip_text", **clip_text_params).encode(kg, ds)
    assert a.ids == ds.class_ids and a.matrix.shape == (len(TOY_CLASSES), 16) and a.matrix.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a.matrix, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(a.matrix, b.matrix)
    # the name registered with open_clip works as well as the config file
    by_name = CLIPText(arch="kgzsl-tiny-clip", weights=clip_text_params["weights"]).encode(kg, ds)
    np.testing.assert_array_equal(by_name.matrix, a.matrix)


def test_clip_text_random_weights_warn_and_save_load(tmp_path: Path, clip_text_params: dict):
    import torch

    ds = toy_dataset()
    with pytest.warns(UserWarning, match="random weights"):
        random = CLIPText(arch=clip_text_params["arch"]).encode(None, ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = CLIPText(arch=clip_text_params["arch"]).encode(None, ds)
    np.testing.assert_array_equal(random.matrix, again.matrix)  # seeded
    import open_clip

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # the seed random weights are drawn with
        model = open_clip.create_model("kgzsl-tiny-clip")
    torch.save(model.state_dict(), tmp_path / "seed0.pt")
    loaded = CLIPText(arch=clip_text_params["arch"], weights=str(tmp_path / "seed0.pt")).encode(None, ds)
    np.testing.assert_array_equal(loaded.matrix, random.matrix)


def test_clip_text_prompt_ensembling(clip_text_params: dict):
    import open_clip
    import torch

    ds = toy_dataset()
    templates = ["a photo of a {}.", "a drawing of a {}."]
    emb = CLIPText(templates=templates, **clip_text_params).encode(None, ds)
    model = open_clip.create_model("kgzsl-tiny-clip", pretrained=clip_text_params["weights"]).eval()
    tokenizer = open_clip.get_tokenizer("kgzsl-tiny-clip")
    expected = open_clip.build_zero_shot_classifier(model, tokenizer, ds.class_ids, templates).T
    np.testing.assert_allclose(emb.matrix, expected.numpy(), atol=1e-5)
    single = CLIPText(templates=templates[:1], **clip_text_params).encode(None, ds)
    with torch.inference_mode():
        direct = model.encode_text(tokenizer([templates[0].format(c) for c in ds.class_ids]), normalize=True)
    np.testing.assert_allclose(single.matrix, direct.numpy(), atol=1e-5)


def test_clip_text_errors(tmp_path: Path, clip_text_params: dict, monkeypatch):
    ds = toy_dataset()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match="pretrained tag of ViT-B-32.*pass the path of a local checkpoint file"):
        CLIPText(arch="ViT-B-32", weights="openai").encode(None, ds)
    with pytest.raises(ConfigError, match="unknown open_clip architecture 'ViT-B-33'.*closest: ViT-B-32"):
        CLIPText(arch="ViT-B-33").encode(None, ds)
    with pytest.raises(DataError, match="no such file, nor a pretrained tag"):
        CLIPText(arch=clip_text_params["arch"], weights=str(tmp_path / "missing.pt")).encode(None, ds)
    other = dict(TINY_CLIP_CONFIG, embed_dim=8)
    (tmp_path / "kgzsl-tiny-clip-8.json").write_text(json.dumps(other))
    with pytest.raises(DataError, match="could not be loaded"):  # weights of another shape
        CLIPText(arch=str(tmp_path / "kgzsl-tiny-clip-8.json"), weights=clip_text_params["weights"]).encode(None, ds)
    with pytest.raises(DataError, match="no such model config file"):
        CLIPText(arch=str(tmp_path / "nope.json")).encode(None, ds)


# --- word_vectors ---


def test_read_word_vectors_formats(tmp_path: Path):
    plain = write_tiny_glove(tmp_path / "glove.txt")
    header = write_tiny_glove(tmp_path / "w2v.txt", header=True)
    packed = tmp_path / "glove.txt.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    results = [read_word_vectors(p, {"tiger", "whale", "unicorn"}) for p in (plain, header, packed)]
    for vectors, dim in results:
        assert dim == 4 and sorted(vectors) == ["tiger", "whale"]
        np.testing.assert_allclose(vectors["tiger"], TINY_GLOVE["tiger"], rtol=1e-6)
    # a capitalised entry matches; an exact lower-case one wins
    cased = write_tiny_glove(tmp_path / "cased.txt", words={"Tiger": [1, 0], "tiger": [0, 1], "Lion": [1, 1]})
    vectors, _ = read_word_vectors(cased, {"tiger", "lion"})
    assert vectors["tiger"].tolist() == [0, 1] and vectors["lion"].tolist() == [1, 1]


def test_read_word_vectors_malformed(tmp_path: Path):
    path = tmp_path / "bad.txt"
    path.write_text("cat 1 2 3\ndog 1 2\n")
    with pytest.raises(DataError, match=r"bad.txt:2: expected a word and 3 numbers, found 3 fields"):
        read_word_vectors(path, {"dog"})
    path.write_text("cat 1 2 3\ndog 1 x 3\n")
    with pytest.raises(DataError, match=r"bad.txt:2: the vector of 'dog' has a field that is not a number"):
        read_word_vectors(path, {"dog"})
    with pytest.raises(DataError, match="no such word-vector file"):
        read_word_vectors(tmp_path / "none.txt", {"dog"})
    (tmp_path / "w.bin").write_bytes(b"\x00")
    with pytest.raises(DataError, match="binary word2vec"):
        read_word_vectors(tmp_path / "w.bin", {"dog"})


def test_word_vectors_encoder(word_vectors_params: dict, kg: KnowledgeGraph, tmp_path: Path):
    ds = toy_dataset()
    a = WordVectors(**word_vectors_params).encode(kg, ds)
    assert a.ids == ds.class_ids and a.matrix.shape == (len(TOY_CLASSES), 4)
    np.testing.assert_allclose(np.linalg.norm(a.matrix, axis=1), 1.0, rtol=1e-5)
    expected = normalize_rows(np.array([TINY_GLOVE[c] for c in ds.class_ids]), "l2")
    np.testing.assert_allclose(a.matrix, expected, rtol=1e-6)
    header = WordVectors(path=str(write_tiny_glove(tmp_path / "w2v.txt", header=True))).encode(kg, ds)
    np.testing.assert_array_equal(header.matrix, a.matrix)
    assert _cos(a, "tiger", "lion") > _cos(a, "tiger", "penguin")
    # multi-word names average their words; an unknown word is skipped and counted
    enc = WordVectors(normalize="none", **word_vectors_params)
    emb = enc.encode(None, _with_ids(["big+whale", "killer+whale"] + TOY_CLASSES[2:]))
    np.testing.assert_allclose(emb.matrix[0], np.mean([TINY_GLOVE["big"], TINY_GLOVE["whale"]], axis=0), rtol=1e-6)
    np.testing.assert_allclose(emb.matrix[1], TINY_GLOVE["whale"], rtol=1e-6)
    assert enc.metrics_["word_vectors/oov_rate"] == pytest.approx(1 / 13)


def test_word_vectors_unknown_texts(word_vectors_params: dict, tmp_path: Path):
    ids = ["unicorn", "tiger", "griffin"]
    with pytest.raises(DataError, match=r"2 of 3 classes have no text with a word in .*'unicorn' \('unicorn'\)"):
        WordVectors(**word_vectors_params).encode(None, _with_ids(ids))
    # documents without a known word fall back to the class name
    docs = tmp_path / "docs.json"
    docs.write_text(json.dumps({"tiger": ["striped"], "lion": ["big"], "wolf": ["howls"]}))
    params = dict(texts="documents", documents=str(docs), **word_vectors_params)
    with pytest.raises(DataError, match="'tiger'"):
        WordVectors(**params).encode(None, _with_ids(["tiger", "lion", "wolf"]))
    enc = WordVectors(fallback="name", **params)
    emb = enc.encode(None, _with_ids(["tiger", "lion", "wolf", "cat"]))
    assert _cos(emb, "tiger", "tiger") == pytest.approx(1.0)
    np.testing.assert_allclose(emb.matrix[0], normalize_rows(np.array([TINY_GLOVE["tiger"]]), "l2")[0], rtol=1e-6)
    assert enc.metrics_["text/fallback_classes"] == 3.0  # cat has no document, tiger and wolf no known word
    assert enc.metrics_["word_vectors/dropped_texts"] == 2.0
    with pytest.raises(ConfigError, match="needs path="):
        SEMANTICS.build("word_vectors").encode(None, toy_dataset())


def test_word_vectors_cached(word_vectors_params: dict, tmp_path: Path):
    ds = toy_dataset()
    enc = WordVectors(**word_vectors_params)
    first, hit = encode_cached(enc, None, ds, tmp_path / "cache")
    again, hit_again = encode_cached(WordVectors(**word_vectors_params), None, ds, tmp_path / "cache")
    assert not hit and hit_again
    np.testing.assert_array_equal(first.matrix, again.matrix)


# --- the contract, for the encoders that need a file (see their ``needs_fixture``) ---


@pytest.mark.parametrize("name", ["sentence", "clip_text", "word_vectors"])
def test_text_encoders_keep_the_contract(name: str, request, kg: KnowledgeGraph):
    fixture = getattr(SEMANTICS.get(name), "needs_fixture", None)
    params = request.getfixturevalue(fixture) if fixture else {}
    ds = toy_dataset()
    a = SEMANTICS.build(name, **params).encode(kg, ds)
    b = SEMANTICS.build(name, **params).encode(kg, ds)
    assert a.ids == ds.class_ids and a.matrix.shape[0] == ds.num_classes and a.dim > 0
    assert np.isfinite(a.matrix).all()
    np.testing.assert_array_equal(a.matrix, b.matrix)
