import json
from pathlib import Path

import pyoxigraph as ox
import pytest

from kgzsl.errors import DataError
from kgzsl.knowledge.alignment import align_classes
from kgzsl.knowledge.formats import format_for_path
from kgzsl.knowledge.formats.attributes import VOCAB
from kgzsl.knowledge.formats.documents import looks_like_attributes
from kgzsl.knowledge.store import KnowledgeGraph

DESCRIPTION = VOCAB + "description"


@pytest.mark.parametrize("name", ["cub", "flowers102", "imagenet"])
def test_real_descriptors(shared_data: Path, name: str):
    path = shared_data / "text" / "descriptors" / f"descriptors_{name}.json"
    assert format_for_path(path).name == "class-json"
    data = json.loads(path.read_text())
    assert not looks_like_attributes(data)
    kg = KnowledgeGraph()
    kg.load(path)  # guessed: documents
    texts = [(s, o) for s, p, o in kg.triples() if p.value == DESCRIPTION]
    assert len({s for s, _ in texts}) == len(data)
    assert len(texts) == sum(len(set(v)) for v in data.values())
    assert {o.language for _, o in texts} == {"en"}
    if name == "cub":
        [iri] = align_classes(kg, ["Black-footed Albatross"])
        assert iri == "https://w3id.org/kgzsl/data/descriptors/class/Black-footed_Albatross"
        rows = kg.query(f"SELECT ?t WHERE {{ <{iri}> <{DESCRIPTION}> ?t }}")
        assert sorted(r[0] for r in rows) == sorted(data["Black-footed Albatross"])


def test_explicit_format_and_plain_literals(tmp_path: Path):
    path = tmp_path / "words.json"
    path.write_text('{"cat": ["furry"], "dog": "loyal"}')
    assert looks_like_attributes({"cat": ["furry"], "dog": ["loyal"]})
    kg = KnowledgeGraph()
    kg.load(path, format="documents", language=None, namespace="http://x.org/")
    assert (ox.NamedNode("http://x.org/class/dog"), ox.NamedNode(DESCRIPTION), ox.Literal("loyal")) in set(kg.triples())


def test_documents_dir(tmp_path: Path):
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "polar bear.txt").write_text("A large white bear.\n\nIt lives in the Arctic.\n")
    (folder / "zebra.txt").write_text("Striped.\n")
    (folder / "notes.md").write_text("ignored")
    kg = KnowledgeGraph()
    kg.load(folder, format="documents-dir", split_lines=True)
    rows = kg.query(f"SELECT ?l ?t WHERE {{ ?c <http://www.w3.org/2000/01/rdf-schema#label> ?l ; <{DESCRIPTION}> ?t }}")
    assert sorted(rows) == [
        ("polar bear", "A large white bear."),
        ("polar bear", "It lives in the Arctic."),
        ("zebra", "Striped."),
    ]
    whole = KnowledgeGraph()
    whole.load(folder, format="documents-dir")
    assert len([t for t in whole.triples() if t[1].value == DESCRIPTION]) == 2


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"cat": ["a furry pet"], "dog": []}', r"d\.json: class 'dog' has no text"),
        ('{"cat": ["a furry pet"], "dog": ["  "]}', r"d\.json: class 'dog' has no text"),
        ('{"cat": ["a furry pet", 3]}', r"d\.json: class 'cat': expected a list of texts"),
        ('{"cat": [\n"a furry pet"\n', r"d\.json:3: malformed JSON"),
        ("{}", r"d\.json: expected a non-empty JSON object"),
        ('{"a b": ["x y"], "a_b": ["z w"]}', r"d\.json: classes 'a b' and 'a_b' both become"),
    ],
)
def test_bad_json(tmp_path: Path, content: str, message: str):
    path = tmp_path / "d.json"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        KnowledgeGraph().load(path, format="documents")


def test_bad_documents_dir(tmp_path: Path):
    folder = tmp_path / "texts"
    folder.mkdir()
    with pytest.raises(DataError, match=r"texts: no files matching '\*\.txt'"):
        KnowledgeGraph().load(folder, format="documents-dir")
    (folder / "cat.txt").write_text("A pet.")
    (folder / "dog.txt").write_text("\n  \n")
    with pytest.raises(DataError, match=r"dog\.txt: class 'dog' has no text"):
        KnowledgeGraph().load(folder, format="documents-dir")
    with pytest.raises(DataError, match=r"cat\.txt: expected a folder"):
        KnowledgeGraph().load(folder / "cat.txt", format="documents-dir")


def test_failed_load_leaves_a_persistent_store_untouched(tmp_path: Path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text('{"cat": ["a furry pet"]}')
    bad.write_text('{"dog": ["a loyal pet"], "cow": []}')
    kg = KnowledgeGraph(tmp_path / "store")
    kg.load(good)
    before = set(kg.triples())
    with pytest.raises(DataError, match="class 'cow' has no text"):
        kg.load(bad)
    del kg
    reopened = KnowledgeGraph(tmp_path / "store")
    assert set(reopened.triples()) == before and len(reopened) == 3
