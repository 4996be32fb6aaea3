"""A corpus of malformed knowledge files: each gives one line naming the file (and line), exit 2,
and nothing written (``kgzsl kg info`` / ``kg convert``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kgzsl.cli import main
from kgzsl.errors import DataError
from kgzsl.knowledge.store import KnowledgeGraph

RDF_NS = 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://e.org/"'
GOOD_RDF = (
    f'<?xml version="1.0"?>\n<rdf:RDF {RDF_NS}>\n'
    '  <rdf:Description rdf:about="http://e.org/a">\n'
    '    <ex:p rdf:resource="http://e.org/b"/>\n'
    "  </rdf:Description>\n"
    '  <rdf:Description rdf:about="http://e.org/b">\n'
    "    <ex:label>bee</ex:label>\n"
    "  </rdf:Description>\n"
    "</rdf:RDF>\n"
)
LATIN = "café".encode("latin-1")

#: (file or folder name, {relative path: content} or content, extra CLI args, expected message regex)
CASES: list[tuple[str, object, list[str], str]] = [
    # K-ZSL CSV / triple files
    (
        "blank-relation.csv",
        b"AwA:a\t_:r\tAwA:b\n",
        [],
        r"blank-relation\.csv:1: a blank node \('_:r'\) cannot be a relation",
    ),
    ("latin.csv", b"AwA:a\trdfs:label\tok\nAwA:b\trdfs:label\t" + LATIN + b"\n", [], r"latin\.csv:2: not UTF-8 text"),
    (
        "two-fields.txt",
        b"AwA:a\trdfs:subClassOf\tAwA:b\nAwA:a\tAwA:b\n",
        ["--format", "kzsl-triples"],
        r"two-fields\.txt:2: expected 3 tab-separated",
    ),
    ("control.csv", b"AwA:a\tAwA:p\t<http://a\x0bb>\n", [], r"control\.csv:1: .*not a valid IRI"),
    ("empty-prefix.csv", b"AwA:a\trdfs:subClassOf\t:b\n", [], r"empty-prefix\.csv:1: unknown prefix ''"),
    ("only-header.csv", b"Subject\tRelation\tObject\n", [], r"only-header\.csv: no triples"),
    ("empty.csv", b"", [], r"empty\.csv: file is empty"),
    # RDF/XML and OWL
    (
        "noclose.rdf",
        GOOD_RDF.replace("</rdf:RDF>\n", "").encode(),
        [],
        r"noclose\.rdf:9: malformed rdf-xml: no element found",
    ),
    ("cut.owl", GOOD_RDF[:150].encode(), [], r"cut\.owl:3: malformed rdf-xml: unclosed token"),
    (
        "cut-between.owl",
        GOOD_RDF[: GOOD_RDF.index('  <rdf:Description rdf:about="http://e.org/b')].encode(),
        [],
        r"cut-between\.owl:6: malformed rdf-xml",
    ),
    (
        "mismatch.rdf",
        GOOD_RDF.replace("</ex:label>", "</ex:lable>").encode(),
        [],
        r"mismatch\.rdf:7: malformed rdf-xml: mismatched tag",
    ),
    (
        "latin.rdf",
        GOOD_RDF.replace("bee", "BEE").encode().replace(b"BEE", LATIN),
        [],
        r"latin\.rdf:7: malformed rdf-xml: .*not UTF-8",
    ),
    (
        "bad-iri.rdf",
        GOOD_RDF.replace('about="http://e.org/a"', 'about="http://e.org/a b"').encode(),
        [],
        r"bad-iri\.rdf:3: malformed rdf-xml: .*IRI",
    ),
    ("not-xml.owl", b"this is not XML\n", [], r"not-xml\.owl:1: malformed rdf-xml"),
    # Turtle, N-Triples, JSON-LD (W3C-style negative syntax)
    (
        "latin.ttl",
        b'@prefix ex: <http://e.org/> .\nex:a ex:p "' + LATIN + b'" .\n',
        [],
        r"latin\.ttl:2: malformed turtle: not UTF-8",
    ),
    ("long-string.ttl", b'@prefix : <http://a/> .\n:a :b """abc\ndef\n', [], r"long-string\.ttl:2: malformed turtle"),
    ("four-terms.ttl", b"@prefix : <http://a/> .\n:a :b :c :d .\n", [], r"four-terms\.ttl:2: malformed turtle"),
    ("bad-lang.ttl", b'<http://a/a> <http://a/b> "x"@ .\n', [], r"bad-lang\.ttl:1: malformed turtle"),
    ("bad-escape.ttl", b'<http://a/a> <http://a/b> "\\u00ZZ" .\n', [], r"bad-escape\.ttl:1: malformed turtle"),
    ("undeclared.ttl", b"<http://a/a> <http://a/b> ex:c .\n", [], r"undeclared\.ttl:1: malformed turtle"),
    ("literal-subject.ttl", b'"s" <http://a/b> <http://a/c> .\n', [], r"literal-subject\.ttl:1: malformed turtle"),
    ("relative.nt", b"<a> <http://b/> <http://c/> .\n", [], r"relative\.nt:1: malformed n-triples"),
    ("no-dot.nt", b"<http://a/> <http://b/> <http://c/>\n", [], r"no-dot\.nt:2: malformed n-triples"),
    ("bad.jsonld", b'{"@id": "http://e.org/a", "http://e.org/p": [1, \n', [], r"bad\.jsonld:2: malformed json-ld"),
    # OntoZSL dictionaries
    (
        "onto-dict",
        {"all_triples.txt": b"a\tsubClassOf\tb\n", "entities.dict": b"0\ta\n1\n", "relations.dict": b"0\tsubClassOf\n"},
        ["--format", "ontozsl"],
        r"entities\.dict:2: expected 2 non-empty tab-separated fields",
    ),
    (
        "onto-latin",
        {
            "all_triples.txt": b"a\tsubClassOf\tb\n",
            "entities.dict": b"0\ta\n1\tb" + LATIN + b"\n",
            "relations.dict": b"0\tsubClassOf\n",
        },
        ["--format", "ontozsl"],
        r"entities\.dict:2: not UTF-8 text",
    ),
    (
        "onto-unknown",
        {
            "all_triples.txt": b"a\tsubClassOf\tb\na\tsubClassOf\tz\n",
            "entities.dict": b"0\ta\n1\tb\n",
            "relations.dict": b"0\tsubClassOf\n",
        },
        ["--format", "ontozsl"],
        r"all_triples\.txt:2: tail 'z' is not in entities\.dict",
    ),
    (
        "onto-missing",
        {"all_triples.txt": b"a\tsubClassOf\tb\n", "entities.dict": b"0\ta\n"},
        ["--format", "ontozsl"],
        r"onto-missing: missing relations\.dict",
    ),
    # JSON and attribute tables
    ("bad.json", b'{"cat": ["striped",\n "furry"\n', [], r"bad\.json:3: malformed JSON"),
    ("latin.json", b'{"cat":\n ["' + LATIN + b'"]}\n', [], r"latin\.json:2: not UTF-8 text"),
    (
        "shape.json",
        b'{"cat": [1, 2], "dog": [1]}\n',
        ["--format", "attributes-json"],
        r"shape\.json: lists of numbers must all have the same",
    ),
    ("deep.json", b"[" * 100_000 + b"]" * 100_000, ["--format", "attributes-json"], r"deep\.json: malformed JSON"),
    (
        "table.csv",
        b"class,stripes,fur\ncat,1,0\ndog,yes,1\n",
        ["--format", "attributes-matrix"],
        r"table\.csv:3: expected a number for attribute 'stripes'",
    ),
    (
        "ragged.tsv",
        b"class\tstripes\tfur\ncat\t1\n",
        ["--format", "attributes-matrix"],
        r"ragged\.tsv:2: expected 3 fields",
    ),
    (
        "names-bad",
        {"cat.txt": b"a cat\n", "dog.txt": b"ok\n" + LATIN},
        ["--format", "documents-dir"],
        r"dog\.txt:2: not UTF-8 text",
    ),
]


def _write(folder: Path, name: str, content: object) -> Path:
    path = folder / name
    if isinstance(content, dict):
        path.mkdir()
        for rel, data in content.items():
            (path / rel).write_bytes(data)
    else:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("name, content, args, message", CASES, ids=[c[0] for c in CASES])
def test_malformed_knowledge_files_give_one_line_and_exit_2(tmp_path, capsys, name, content, args, message):
    import re

    path = _write(tmp_path, name, content)
    out = tmp_path / "out" / "converted.ttl"
    for command in (["kg", "info", str(path)], ["kg", "convert", str(path), str(out)]):
        assert main([*command, *args]) == 2
        captured = capsys.readouterr()
        err = captured.err
        assert err.startswith("kgzsl: error: ") and err.count("\n") == 1, err
        assert re.search(message, err), err
        assert not captured.out
    assert not out.exists() and not out.parent.exists()


def _deny_reading(monkeypatch, denied: Path) -> None:
    """Make ``denied`` (a file, or every file in a folder) unreadable: by its mode where that
    works, and for root (who reads any file) by making the checks and reads refuse it."""
    targets = [denied] if denied.is_file() else list(denied.iterdir())
    for target in targets:
        target.chmod(0)
    if os.geteuid() != 0:
        return
    real_access, real_read_bytes = os.access, Path.read_bytes

    def access(path, mode, *a, **k):
        return False if Path(path) in targets and mode & os.R_OK else real_access(path, mode, *a, **k)

    def read_bytes(self):
        if self in targets:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(Path, "read_bytes", read_bytes)


UNREADABLE = [
    ("kg.ttl", b"<http://a/a> <http://a/b> <http://a/c> .\n", []),
    ("kg.nt", b"<http://a/a> <http://a/b> <http://a/c> .\n", []),
    ("kg.rdf", GOOD_RDF.encode(), []),
    ("kg.owl", GOOD_RDF.encode(), []),
    ("kg.csv", b"AwA:a\trdfs:subClassOf\tAwA:b\n", []),
    ("kg.txt", b"AwA:a\trdfs:subClassOf\tAwA:b\n", ["--format", "kzsl-triples"]),
    ("kg.json", b'{"cat": ["striped"]}\n', []),
    ("kg.jsonld", b'{"@id": "http://e.org/a", "http://e.org/p": 1}\n', []),
    ("table.tsv", b"class\tstripes\ncat\t1\n", ["--format", "attributes-matrix"]),
    (
        "onto",
        {
            "all_triples.txt": b"a\tsubClassOf\tb\n",
            "entities.dict": b"0\ta\n1\tb\n",
            "relations.dict": b"0\tsubClassOf\n",
        },
        ["--format", "ontozsl"],
    ),
    ("docs", {"cat.txt": b"a cat\n"}, ["--format", "documents-dir"]),
]


@pytest.mark.parametrize("name, content, args", UNREADABLE, ids=[c[0] for c in UNREADABLE])
def test_unreadable_files_give_one_line(tmp_path, capsys, monkeypatch, name, content, args):
    path = _write(tmp_path, name, content)
    _deny_reading(monkeypatch, path)
    try:
        assert main(["kg", "info", str(path), *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("kgzsl: error: ") and err.count("\n") == 1, err
        assert "permission denied" in err and name in err, err
    finally:
        for target in [path] if path.is_file() else list(path.iterdir()):
            target.chmod(0o644)


def test_store_paths_that_cannot_be_a_store(tmp_path):
    from kgzsl.knowledge.sources import KnowledgeFiles
    from kgzsl.testing import write_toy_kg

    toy = write_toy_kg(tmp_path / "toy.ttl")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(DataError, match=r"a-file: store: expected a folder for the graph store, found a file"):
        KnowledgeFiles(paths=[str(toy)], store=str(a_file)).build()
    with pytest.raises(DataError, match=r"store: the folder .*nowhere does not exist"):
        KnowledgeFiles(paths=[str(toy)], store=str(tmp_path / "nowhere" / "store")).build()
    with pytest.raises(DataError, match=r"store: .*a-file is a file, not a folder"):
        KnowledgeFiles(paths=[str(toy)], store=str(a_file / "store")).build()
    assert a_file.read_text() == "x" and not (tmp_path / "nowhere").exists()
    not_a_store = tmp_path / "my-data"
    not_a_store.mkdir()
    (not_a_store / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match=r"my-data: store: not a graph store folder \(it holds other files\)"):
        KnowledgeFiles(paths=[str(toy)], store=str(not_a_store)).build()
    assert [p.name for p in not_a_store.iterdir()] == ["notes.txt"]
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "CURRENT").write_text("garbage")
    with pytest.raises(DataError, match=r"damaged: cannot open the graph store \(Corruption"):
        KnowledgeFiles(paths=[str(toy)], store=str(damaged)).build()


def test_convert_refuses_paths_it_cannot_write(tmp_path, capsys, monkeypatch):
    from kgzsl.testing import write_toy_kg

    toy = write_toy_kg(tmp_path / "toy.ttl")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: make the check see what a user would
        real_access = os.access
        monkeypatch.setattr(
            os, "access", lambda p, m, *a, **k: False if Path(p) == read_only else real_access(p, m, *a, **k)
        )
    cases = [
        (tmp_path, r"is a folder; give the output file's name"),
        (a_file / "out.ttl", r"a-file is a file, not a folder"),
        (read_only / "out.ttl", r"cannot write \(permission denied in .*read-only\)"),
    ]
    try:
        for target, message in cases:
            assert main(["kg", "convert", str(toy), str(target)]) == 2
            err = capsys.readouterr().err
            assert err.startswith("kgzsl: error: ") and err.count("\n") == 1
            assert __import__("re").search(message, err), err
        assert a_file.read_text() == "x" and list(read_only.iterdir()) == []
    finally:
        read_only.chmod(0o755)


def test_bad_prefixes_and_queries_are_one_line(tmp_path, capsys):
    from kgzsl.testing import write_toy_kg

    toy = write_toy_kg(tmp_path / "toy.ttl")
    for args, message in [
        (["kg", "info", str(toy), "--prefix", "nope"], "--prefix 'nope': expected NAME=IRI"),
        (["kg", "info", str(toy), "--prefix", "ex=not an iri"], "expected NAME=IRI"),
        (["kg", "query", str(toy), "--sparql", "SELECT ?x WHERE {\n ?x ?y"], "SPARQL syntax error"),
        (["kg", "query", str(toy), "--sparql", "@" + str(tmp_path / "none.rq")], "none.rq: no such query file"),
    ]:
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith("kgzsl: error: ") and err.count("\n") == 1 and message in err, err


def test_a_failed_rdfxml_load_leaves_the_store_as_it_was(tmp_path):
    good, bad = tmp_path / "good.rdf", tmp_path / "bad.owl"
    good.write_text(GOOD_RDF)
    bad.write_text(GOOD_RDF.replace("good", "x").replace("</rdf:RDF>\n", ""))
    kg = KnowledgeGraph(tmp_path / "store")
    kg.load(good)
    before = set(kg.triples())
    with pytest.raises(DataError, match=r"bad\.owl:9:"):
        kg.load(bad)
    assert set(kg.triples()) == before and len(before) == 2
