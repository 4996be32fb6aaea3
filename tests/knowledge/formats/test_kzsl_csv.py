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


# --- prefixes: K-ZSL's namespace rule, and the user's -------------------------------------

BIRDS = "http://www.semanticweb.org/ontologies/Birds-X#"

# a user's own K-ZSL-format KG with a prefix K-ZSL does not list, in its three formats
_ROWS = [
    ("Birds-X:n01", "rdfs:subClassOf", "Birds-X:n00"),
    ("Birds-X:n02", "rdfs:subClassOf", "Birds-X:n00"),
    ("Birds-X:n01", "Birds-X:hasColor", "Birds-X:a01"),
    ("Birds-X:a01", "rdfs:subClassOf", "Birds-X:a00"),
    ("Birds-X:n01", "rdfs:label", "robin, Turdus migratorius"),
    ("Birds-X:a01", "rdfs:label", "red: a colour"),  # a label that looks like a prefixed name
    ("Birds-X:n01", "owl:sameAs", "cn:robin"),
    ("cn:robin", "cn:capableOf", "cn:sing"),
    ("cn:robin", "cn:dbpedia/genus", "cn:turdus"),
    ("Birds-X:n01", "owl:disjointWith", "Birds-X:n02"),
]


def _write_three_formats(folder: Path, namespace: str = BIRDS) -> tuple[Path, Path, Path]:
    csv = folder / "KG-Birds.csv"
    csv.write_text("Subject\tRelation\tObject\n" + "".join("\t".join(r) + "\n" for r in _ROWS))
    txt = folder / "triples.txt"
    txt.write_text("".join("\t".join(r) + "\n" for r in _ROWS))
    ttl = folder / "KG-Birds.ttl"
    ttl.write_text(
        f"@prefix birds-x: <{namespace}> .\n"
        f"@prefix cn: <{CN}> .\n"
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"
        "birds-x:n01 rdfs:subClassOf birds-x:n00 ; birds-x:hasColor birds-x:a01 ;\n"
        '    rdfs:label "robin, Turdus migratorius"^^xsd:string ; owl:sameAs cn:robin ;\n'
        "    owl:disjointWith birds-x:n02 .\n"
        "birds-x:n02 rdfs:subClassOf birds-x:n00 .\n"
        'birds-x:a01 rdfs:subClassOf birds-x:a00 ; rdfs:label "red: a colour"^^xsd:string .\n'
        f"cn:robin cn:capableOf cn:sing ; <{CN}dbpedia/genus> cn:turdus .\n"
    )
    return csv, txt, ttl


def test_an_unknown_kzsl_prefix_loads_like_its_turtle_twin(tmp_path: Path):
    csv, txt, ttl = _write_three_formats(tmp_path)
    kg = KnowledgeGraph()
    from_csv = _triples(kg, kg.load(csv, graph="csv"))
    from_txt = _triples(kg, kg.load(txt, format="kzsl-triples", graph="txt"))
    from_ttl = _triples(kg, kg.load(ttl, graph="ttl"))
    assert len(from_csv) == len(_ROWS)
    assert from_csv == from_txt == from_ttl
    assert kg.prefixes["Birds-X"] == BIRDS and kg.prefixes["birds-x"] == BIRDS


def test_declared_prefixes_win_over_the_derived_namespace(tmp_path: Path):
    mine = "http://example.org/birds#"
    csv, txt, ttl = _write_three_formats(tmp_path, namespace=mine)
    kg = KnowledgeGraph(prefixes={"Birds-X": mine})
    from_csv = _triples(kg, kg.load(csv, graph="csv"))
    from_txt = _triples(kg, kg.load(txt, format="kzsl-triples", graph="txt"))
    assert from_csv == from_txt == _triples(kg, kg.load(ttl, graph="ttl"))
    # per load, too (a config's prefixes:), and derivation can be switched off
    assert set(KnowledgeGraph().triples(KnowledgeGraph().load(csv))) != from_csv
    other = KnowledgeGraph()
    assert _triples(other, other.load(csv, prefixes={"Birds-X": mine})) == from_csv
    with pytest.raises(DataError, match=r"KG-Birds\.csv:2: unknown prefix 'Birds-X' in 'Birds-X:n01'.*--prefix"):
        KnowledgeGraph().load(csv, derive_prefixes=False)


@pytest.mark.parametrize("name", ["AwA", "ImNet-A"])
def test_the_namespace_rule_is_the_one_of_the_kzsl_files(shared_data: Path, name: str):
    # K-ZSL's output2RDF.py: namespace = 'http://www.semanticweb.org/ontologies/' + dataset + '#'
    # (with its dataset prefix as in the CSV), cn = ConceptNet; the Turtle files bind these.
    import re

    from kgzsl.knowledge.formats.kzsl_csv import KZSL_NAMESPACE, KZSL_PREFIXES, kzsl_prefixes

    folder = shared_data / "kzsl" / "KG"
    used = kzsl_prefixes(folder / f"KG-{name}.csv", derive_prefixes=True)
    declared = dict(re.findall(r"@prefix (\S+): <([^>]+)>", (folder / f"KG-{name}.ttl").read_text()))
    assert used[name] == KZSL_NAMESPACE.format(prefix=name) == declared[name.lower()]
    assert used["cn"] == declared["cn"]
    assert KZSL_PREFIXES[name] == KZSL_PREFIXES[name.lower()] == KZSL_NAMESPACE.format(prefix=name)


def test_a_byte_order_mark_does_not_lose_the_first_triple(tmp_path: Path):
    rows = "AwA:a\trdfs:subClassOf\tAwA:b\nAwA:b\trdfs:subClassOf\tAwA:c\n"
    for name, content in [("nohead.csv", rows), ("head.csv", "Subject\tRelation\tObject\n" + rows)]:
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + content.encode())
        assert len(KnowledgeGraph.from_files(path)) == 2


def test_a_malformed_first_line_is_an_error_not_a_header(tmp_path: Path):
    path = tmp_path / "bad.csv"
    path.write_text("AwA:a rdfs:subClassOf AwA:b\nAwA:b\trdfs:subClassOf\tAwA:c\n")
    with pytest.raises(DataError, match=r"bad\.csv:1: expected 3 tab-separated fields"):
        KnowledgeGraph().load(path)


def test_comma_separated_kzsl_csv_with_quoted_fields(tmp_path: Path):
    # K-ZSL's first releases (e.g. KG-ImNet-O.csv) were comma-separated, labels quoted
    path = tmp_path / "KG-ImNet-O.csv"
    path.write_text(
        "Subject,Relation,Object\n"
        "ImNet-O:n07873807,rdfs:subClassOf,ImNet-O:n07557434\n"
        'ImNet-O:n07873807,rdfs:label,"pizza, pizza_pie"\n'
    )
    kg = KnowledgeGraph.from_files(path)
    ns = "http://www.semanticweb.org/ontologies/ImNet-O#"
    assert kg.query(f"SELECT ?l WHERE {{ <{ns}n07873807> rdfs:label ?l }}") == [("pizza, pizza_pie",)]
    assert len(kg) == 2
