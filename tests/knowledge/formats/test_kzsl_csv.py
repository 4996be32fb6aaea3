from pathlib import Path

import pyoxigraph as ox
import pytest

from kgzsl.errors import DataError
from kgzsl.knowledge.formats import format_for_path, triple_formats
from kgzsl.knowledge.store import KnowledgeGraph

AWA = "http://www.semanticweb.org/ontologies/AwA#"
CN = "http://www.semanticweb.org/ontologies/ConceptNet#"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def _triples(kg: KnowledgeGraph, graph: str) -> set:
    return set(kg.triples(graph))


@pytest.mark.parametrize("name, count", [("AwA", 14112), ("ImNet-A", 10461)])
def test_kzsl_csv_turtle_and_rdfxml_give_the_same_triples(shared_data: Path, name: str, count: int):
    folder = shared_data / "kzsl" / "KG"
    kg = KnowledgeGraph()
    from_csv = _triples(kg, kg.load(folder / f"KG-{name}.csv", graph="csv"))
    from_ttl = _triples(kg, kg.load(folder / f"KG-{name}.ttl", graph="ttl"))
    from_rdf = _triples(kg, kg.load(folder / f"KG-{name}.rdf", graph="rdf"))
    assert len(from_csv) == count
    assert from_csv == from_ttl == from_rdf


def test_kzsl_csv_terms(shared_data: Path):
    kg = KnowledgeGraph()
    kg.load(shared_data / "kzsl" / "KG" / "KG-AwA.csv")
    label = kg.query(f"SELECT ?l WHERE {{ <{AWA}n02403454> <http://www.w3.org/2000/01/rdf-schema#label> ?l }}")
    assert label == [("cow, moo-cow",)]
    assert kg.ask(f"ASK {{ <{CN}black_rat> <{CN}dbpedia/genus> <{CN}rat> }}")
    literals = [o for _, _, o in kg.triples() if isinstance(o, ox.Literal)]
    assert len(literals) == 202 and {o.datatype.value for o in literals} == {XSD_STRING}


def test_kzsl_triples_files_make_up_the_kg(shared_data: Path):
    # KG-ImNet-A is the union of the per-kind files, with the *filtered* ConceptNet triples.
    kg = KnowledgeGraph()
    parts = set()
    for path in sorted((shared_data / "kzsl" / "triples" / "ImNet_A").glob("*.txt")):
        if path.name != "conceptnet_triples.txt":
            parts |= _triples(kg, kg.load(path, format="kzsl-triples"))
    assert parts == _triples(kg, kg.load(shared_data / "kzsl" / "KG" / "KG-ImNet-A.csv", graph="kg"))


def test_txt_is_not_claimed_and_csv_is(tmp_path: Path):
    triple_formats()
    assert format_for_path(tmp_path / "x.txt") is None
    assert format_for_path(tmp_path / "x.csv").name == "kzsl-csv"
    assert format_for_path(tmp_path / "x.tsv").name == "kzsl-csv"


def test_user_prefixes_quoted_literals_and_no_header(tmp_path: Path):
    path = tmp_path / "mine.csv"
    path.write_text(
        'ex:cat\trdfs:label\t"ex:not-an-iri"\n'
        'ex:cat\trdfs:comment\t"chat"@fr\n'
        'ex:cat\tex:size\t"3"^^xsd:integer\n'
        "<http://example.org/dog>\tex:likes\t_:b1\n"
        "_:b1\tex:is\tplain text, with comma\n"
    )
    kg = KnowledgeGraph()
    kg.load(path, prefixes={"ex": "http://example.org/"})
    triples = set(kg.triples())
    assert len(triples) == 5  # no header detected: the first subject is a prefixed name
    objects = {o for _, _, o in triples}
    assert ox.Literal("ex:not-an-iri") in objects
    assert ox.Literal("chat", language="fr") in objects
    assert ox.Literal("3", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")) in objects
    assert kg.query("SELECT ?t WHERE { <http://example.org/dog> <http://example.org/likes> ?b . ?b ?p ?t }") == [
        ("plain text, with comma",)
    ]


@pytest.mark.parametrize(
    "content, message",
    [
        ("Subject\tRelation\tObject\nAwA:a\trdfs:label\tx\nAwA:b\tAwA:c\n", r"bad\.csv:3: expected 3 tab-separated"),
        ("AwA:a\trdfs:label\tx\tAwA:b\n", r"bad\.csv:1: expected 3 tab-separated fields .* found 4"),
        ("S\tR\n", r"bad\.csv:1: expected a header of 3 tab-separated columns"),
        ("AwA:a\trdfs:label\tx\n:b\trdfs:label\tx\n", r"bad\.csv:2: unknown prefix '' in ':b'"),
        ("AwA:a\t_:r\tAwA:b\n", r"bad\.csv:1: a blank node \('_:r'\) cannot be a relation"),
        ("AwA:a\tnot a relation\tx\n", r"bad\.csv:1: expected a prefixed name .* as relation"),
        ("AwA:a\tAwA:p\t<not an iri>\n", r"bad\.csv:1: '<not an iri>' is not a valid IRI"),
        ("Subject\tRelation\tObject\n\n", r"bad\.csv: no triples"),
    ],
)
def test_malformed_files(tmp_path: Path, content: str, message: str):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        KnowledgeGraph().load(path)


def test_failed_load_leaves_a_persistent_store_untouched(tmp_path: Path):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text("AwA:a\trdfs:label\tan a\nAwA:a\trdfs:subClassOf\tAwA:b\n")
    bad.write_text("AwA:c\trdfs:subClassOf\tAwA:d\n" * 50 + "AwA:c\trdfs:label\n")
    kg = KnowledgeGraph(tmp_path / "store")
    kg.load(good)
    before = set(kg.triples())
    with pytest.raises(DataError, match=r"bad\.csv:51:"):
        kg.load(bad)
    del kg
    reopened = KnowledgeGraph(tmp_path / "store")
    assert set(reopened.triples()) == before and len(reopened) == 2
