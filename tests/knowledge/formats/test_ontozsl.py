from pathlib import Path

import pytest

from kgzsl.errors import DataError
from kgzsl.knowledge.formats import format_for_path
from kgzsl.knowledge.store import KnowledgeGraph

RDFS = "http://www.w3.org/2000/01/rdf-schema#"


def _lines(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip())


@pytest.mark.parametrize("dataset", ["AwA2", "ImNet_A"])
def test_real_onto_file(shared_data: Path, dataset: str):
    folder = shared_data / "ontozsl" / dataset / "onto_file"
    assert format_for_path(folder).name == "ontozsl"
    kg = KnowledgeGraph()
    kg.load(folder)
    ns = f"https://w3id.org/kgzsl/ontozsl/{dataset}#"
    labels = [t for t in kg.triples() if t[1].value == RDFS + "label"]
    assert len(kg) - len(labels) == _lines(folder / "all_triples.txt")  # no duplicate lines in the source
    assert len(labels) == _lines(folder / "entities.dict")
    relations = {p.value for _, p, _ in kg.triples()}
    assert RDFS + "subClassOf" in relations and ns + "subClassOf" not in relations
    assert relations <= {RDFS + "subClassOf", RDFS + "label"} | {
        ns + line.split("\t")[1] for line in (folder / "relations.dict").read_text().splitlines()
    }
    if dataset == "AwA2":
        assert kg.query(f"SELECT ?l WHERE {{ <{ns}n02071294> <{RDFS}label> ?l }}") == [("killer_whale",)]
        # the parent folder works too, and the namespace option is used
        other = KnowledgeGraph()
        other.load(folder.parent, namespace="http://example.org/awa#", labels=False)
        assert len(other) == _lines(folder / "all_triples.txt")
        assert other.ask(f"ASK {{ <http://example.org/awa#n02110341> <{RDFS}subClassOf> ?x }}")


def _onto(tmp_path: Path, triples: str, entities: str = "0\tcat\n1\tanimal\n2\tfur\n", names: str | None = None):
    folder = tmp_path / "Toy" / "onto_file"
    folder.mkdir(parents=True)
    (folder / "all_triples.txt").write_text(triples)
    (folder / "entities.dict").write_text(entities)
    (folder / "relations.dict").write_text("0\tsubClassOf\n1\thas part\n")
    if names is not None:
        (folder / "entities_names.dict").write_text(names)
    return folder


def test_toy_folder_minting_and_labels(tmp_path: Path):
    folder = _onto(tmp_path, "cat\tsubClassOf\tanimal\ncat\thas part\tfur\n", names="0\tCat\n1\tAnimal\n2\tFur\n")
    kg = KnowledgeGraph()
    kg.load(folder)
    ns = "https://w3id.org/kgzsl/ontozsl/Toy#"
    assert kg.ask(f"ASK {{ <{ns}cat> <{RDFS}subClassOf> <{ns}animal> . <{ns}cat> <{ns}has_part> <{ns}fur> }}")
    assert sorted(r[0] for r in kg.query(f"SELECT ?l WHERE {{ ?e <{RDFS}label> ?l }}")) == ["Animal", "Cat", "Fur"]


@pytest.mark.parametrize(
    "triples, entities, names, message",
    [
        ("cat\tsubClassOf\tanimal\ncat\tsubClassOf\tdog\n", None, None, r"all_triples\.txt:2: tail 'dog' is not in"),
        ("cat\tisA\tanimal\n", None, None, r"all_triples\.txt:1: relation 'isA' is not in relations\.dict"),
        ("cat\tsubClassOf\n", None, None, r"all_triples\.txt:1: expected 3 non-empty tab-separated fields"),
        ("", None, None, r"all_triples\.txt: file is empty"),
        ("cat\tsubClassOf\tanimal\n", "0\tcat\n0\tanimal\n", None, r"entities\.dict:2: id '0' given twice"),
        ("cat\tsubClassOf\tanimal\n", None, "0\tCat\n", r"entities_names\.dict: no name for id '1'"),
    ],
)
def test_bad_folders(tmp_path: Path, triples, entities, names, message):
    folder = _onto(tmp_path, triples, **({"entities": entities} if entities else {}), names=names)
    with pytest.raises(DataError, match=message):
        KnowledgeGraph().load(folder, graph="toy")


def test_missing_file_and_not_a_folder(tmp_path: Path):
    folder = _onto(tmp_path, "cat\tsubClassOf\tanimal\n")
    (folder / "relations.dict").unlink()
    with pytest.raises(DataError, match=r"onto_file: missing relations\.dict"):
        KnowledgeGraph().load(folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(
        DataError,
        match=r"empty: folder not recognised as a knowledge folder; pass its format, one of .*documents-dir.*ontozsl",
    ):
        KnowledgeGraph().load(empty)


def test_failed_load_leaves_a_persistent_store_untouched(tmp_path: Path):
    good = _onto(tmp_path, "cat\tsubClassOf\tanimal\n")
    bad = _onto(tmp_path / "b", "cat\tsubClassOf\tanimal\nfur\tsubClassOf\tmouse\n")
    kg = KnowledgeGraph(tmp_path / "store")
    kg.load(good)
    before = set(kg.triples())
    with pytest.raises(DataError, match=r"all_triples\.txt:2: tail 'mouse'"):
        kg.load(bad, graph="bad")
    del kg
    reopened = KnowledgeGraph(tmp_path / "store")
    assert set(reopened.triples()) == before and len(reopened) == 1


def test_triple_names_must_agree_with_entity_names(tmp_path: Path):
    folder = _onto(tmp_path, "cat\tsubClassOf\tanimal\n", names="0\tCat\n1\tAnimal\n2\tFur\n")
    (folder / "all_triples_names.txt").write_text("Cat\tsubClassOf\tBeast\n")
    with pytest.raises(DataError, match=r"all_triples_names\.txt:1: 'animal' is named 'Beast' here but 'Animal'"):
        KnowledgeGraph().load(folder)
    # without entities_names.dict, the names come from all_triples_names.txt
    (folder / "entities_names.dict").unlink()
    kg = KnowledgeGraph()
    kg.load(folder)
    assert sorted(r[0] for r in kg.query(f"SELECT ?l WHERE {{ ?e <{RDFS}label> ?l }}")) == ["Beast", "Cat"]
