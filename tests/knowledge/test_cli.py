"""``kgzsl kg query`` and ``kg convert`` as a user expects them: the files' prefixes, every
query form, a header, CSV / TSV / JSON, readable Turtle."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from kgzsl.cli import main
from kgzsl.knowledge.store import KnowledgeGraph

TTL = """@prefix ex: <http://example.org/zoo#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:cat rdfs:subClassOf ex:Felid ; rdfs:label "cat, house cat" .
ex:lion rdfs:subClassOf ex:Felid ; rdfs:label "lion" .
ex:Felid rdfs:subClassOf ex:Animal .
"""


@pytest.fixture
def zoo(tmp_path: Path) -> Path:
    path = tmp_path / "zoo.ttl"
    path.write_text(TTL)
    return path


def _run(capsys, *args: str) -> str:
    assert main(["kg", *args]) == 0
    return capsys.readouterr().out


def test_select_uses_the_files_prefixes_and_prints_a_header(zoo, capsys):
    out = _run(
        capsys,
        "query",
        str(zoo),
        "--sparql",
        "SELECT ?c ?l WHERE { ?c rdfs:subClassOf ex:Felid ; rdfs:label ?l } ORDER BY ?c",
    )
    assert out.splitlines() == [
        "c\tl",
        "http://example.org/zoo#cat\tcat, house cat",
        "http://example.org/zoo#lion\tlion",
    ]


def test_ask_construct_describe(zoo, capsys):
    assert _run(capsys, "query", str(zoo), "--sparql", "ASK { ex:cat rdfs:subClassOf ex:Felid }") == "true\n"
    assert _run(capsys, "query", str(zoo), "--sparql", "ASK { ex:cat rdfs:subClassOf ex:Animal }") == "false\n"
    out = _run(capsys, "query", str(zoo), "--sparql", "CONSTRUCT { ?p ex:hasSub ?c } WHERE { ?c rdfs:subClassOf ?p }")
    header, *rows = out.splitlines()
    assert header == "subject\tpredicate\tobject" and len(rows) == 3
    assert "http://example.org/zoo#Felid\thttp://example.org/zoo#hasSub\thttp://example.org/zoo#cat" in rows
    out = _run(capsys, "query", str(zoo), "--sparql", "DESCRIBE ex:lion")
    assert len(out.splitlines()) == 3  # header + its two triples


def test_output_formats(zoo, tmp_path, capsys):
    query = "SELECT ?c ?l WHERE { ?c rdfs:label ?l } ORDER BY ?c"
    rows = list(csv.reader(io.StringIO(_run(capsys, "query", str(zoo), "--sparql", query, "--output-format", "csv"))))
    assert rows == [
        ["c", "l"],
        ["http://example.org/zoo#cat", "cat, house cat"],
        ["http://example.org/zoo#lion", "lion"],
    ]
    tsv = _run(capsys, "query", str(zoo), "--sparql", query, "-o", "tsv").splitlines()
    assert tsv[0] == "?c\t?l" and tsv[1] == '<http://example.org/zoo#cat>\t"cat, house cat"'
    data = json.loads(_run(capsys, "query", str(zoo), "--sparql", query, "-o", "json"))
    assert data["head"]["vars"] == ["c", "l"]
    assert data["results"]["bindings"][0] == {
        "c": {"type": "uri", "value": "http://example.org/zoo#cat"},
        "l": {"type": "literal", "value": "cat, house cat"},
    }
    ask = json.loads(_run(capsys, "query", str(zoo), "--sparql", "ASK { ?s ?p ?o }", "-o", "json"))
    assert ask == {"head": {}, "boolean": True}
    out = tmp_path / "result.csv"
    assert _run(capsys, "query", str(zoo), "--sparql", query, "-o", "csv", "--out", str(out)) == ""
    assert out.read_text().splitlines()[0] == "c,l"


def test_query_prefixes_of_kzsl_csv_and_declared_ones(tmp_path, capsys):
    csv_file = tmp_path / "mine.csv"
    csv_file.write_text("Subject\tRelation\tObject\nBirds:n01\trdfs:subClassOf\tBirds:n00\nx:a\tx:p\tBirds:n01\n")
    query = "SELECT ?c WHERE { ?c rdfs:subClassOf Birds:n00 }"
    out = _run(capsys, "query", str(csv_file), "--sparql", query)
    assert out.splitlines() == ["c", "http://www.semanticweb.org/ontologies/Birds#n01"]
    out = _run(capsys, "query", str(csv_file), "--prefix", "Birds=http://example.org/birds#", "--sparql", query)
    assert out.splitlines() == ["c", "http://example.org/birds#n01"]
    assert _run(capsys, "query", str(csv_file), "--sparql", "ASK { x:a x:p ?o }") == "true\n"


def test_convert_to_turtle_declares_the_graphs_prefixes(zoo, tmp_path, capsys):
    out = tmp_path / "zoo-out.ttl"
    _run(capsys, "convert", str(zoo), str(out))
    text = out.read_text()
    assert "@prefix ex: <http://example.org/zoo#> ." in text and "@prefix rdfs:" in text
    assert re.search(r"^ex:cat\s+rdfs:", text, re.MULTILINE)  # prefixed names, not <IRI>s
    assert "<http://example.org/zoo#cat>" not in text
    assert set(KnowledgeGraph.from_files(out).triples()) == set(KnowledgeGraph.from_files(zoo).triples())


def test_convert_kzsl_csv_to_turtle_and_back(shared_data, tmp_path, capsys):
    source = shared_data / "kzsl" / "KG" / "KG-AwA.csv"
    out = tmp_path / "awa.ttl"
    _run(capsys, "convert", str(source), str(out))
    head = out.read_text()[:2000]
    assert "@prefix AwA: <http://www.semanticweb.org/ontologies/AwA#> ." in head
    assert "@prefix cn: <http://www.semanticweb.org/ontologies/ConceptNet#> ." in head
    again = KnowledgeGraph.from_files(out)
    assert len(again) == 14112 and set(again.triples()) == set(KnowledgeGraph.from_files(source).triples())


def test_construct_as_turtle_or_ntriples(zoo, capsys):
    query = "CONSTRUCT { ?p ex:hasSub ?c } WHERE { ?c rdfs:subClassOf ?p }"
    turtle = _run(capsys, "query", str(zoo), "--sparql", query, "-o", "turtle")
    assert "@prefix ex: <http://example.org/zoo#> ." in turtle and re.search(r"^ex:Felid\s+ex:hasSub", turtle, re.M)
    nt = _run(capsys, "query", str(zoo), "--sparql", query, "-o", "ntriples")
    assert len(nt.splitlines()) == 3 and nt.startswith("<http://example.org/zoo#")
    assert main(["kg", "query", str(zoo), "--sparql", "SELECT * WHERE { ?s ?p ?o }", "-o", "turtle"]) == 2
    assert "only for CONSTRUCT and DESCRIBE" in capsys.readouterr().err
