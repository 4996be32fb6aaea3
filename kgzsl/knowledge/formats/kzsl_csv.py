"""K-ZSL triple files: ``Subject<TAB>Relation<TAB>Object`` lines of prefixed names.

The K-ZSL benchmarks (Geng et al., 2021) ship each knowledge graph three ways: Turtle,
RDF/XML and a tab-separated ``.csv`` with a ``Subject Relation Object`` header; the same KGs
split by kind of knowledge (``kzsl/triples/*/*.txt``) have the same lines without the header.

Two formats read them:

* ``kzsl-csv`` (``.csv``, ``.tsv``): the header is detected (a first line of plain words such
  as ``Subject Relation Object``) unless ``header`` says otherwise. Fields are tab-separated;
  a file without tabs whose first line has commas is read as comma-separated CSV (quoted
  fields, as K-ZSL's first releases were).
* ``kzsl-triples`` (no default extension, since OntoZSL's ``.txt`` files differ): no header.

Each field is a term:

* ``prefix:local`` → the IRI ``namespace + local`` (``cn:dbpedia/genus`` →
  ``…/ConceptNet#dbpedia/genus``). The namespaces are those of the ``prefixes`` argument, then
  the standard ones (``rdf``, ``rdfs``, ``owl``, ``xsd``, ``skos``), then K-ZSL's own
  (:data:`KZSL_PREFIXES`), and any other prefix ``P`` gets ``http://www.semanticweb.org/ontologies/P#``,
  the rule K-ZSL's ``output2RDF.py`` builds the Turtle files with (``ImNet-O:`` →
  ``…/ontologies/ImNet-O#``; see :func:`kzsl_namespace`), so that a K-ZSL-format KG of any
  dataset loads with the same triples as its Turtle twin;
* ``<http://…>`` → that IRI; ``_:label`` → a blank node (one per label and file; not as a
  relation);
* in the object position, anything else (``cow, moo-cow``) → an ``xsd:string`` literal,
  verbatim, as the K-ZSL Turtle files have it; the object of ``rdfs:label``,
  ``rdfs:comment`` and the SKOS labels is always such a literal (K-ZSL's ``literals.txt``).
  Another literal that looks like a prefixed name must be quoted: ``"note:this"``,
  optionally with ``@lang`` or ``^^datatype``.

With these rules ``KG-AwA.csv`` and ``KG-AwA.ttl`` give the same set of triples. A UTF-8
byte-order mark is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kgzsl.errors import DataError
from kgzsl.knowledge.formats import Triple, register_format

__all__ = ["KZSL_PREFIXES", "KZSL_NAMESPACE", "kzsl_namespace", "kzsl_prefixes", "read_kzsl_csv", "read_kzsl_triples"]

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"

#: K-ZSL's namespace of a dataset's entities, by prefix (``output2RDF.py``:
#: ``'http://www.semanticweb.org/ontologies/' + dataset + '#'``)
KZSL_NAMESPACE = "http://www.semanticweb.org/ontologies/{prefix}#"

#: relations whose object is always a literal, however it looks
_TEXT_RELATIONS = {RDFS + "label", RDFS + "comment", SKOS + "prefLabel", SKOS + "altLabel", SKOS + "definition"}

#: The prefixes of the K-ZSL files (taken from the ``@prefix`` lines of ``KG-AwA.ttl``,
#: ``KG-ImNet-A.ttl`` and ``KG-ImNet-O.ttl``; the CSV files spell ``AwA:``/``ImNet-A:`` where
#: Turtle has ``awa:``). Other prefixes follow :data:`KZSL_NAMESPACE`.
KZSL_PREFIXES: dict[str, str] = {
    "rdf": RDF,
    "rdfs": RDFS,
    "owl": OWL,
    "xsd": XSD,
    "skos": SKOS,
    "AwA": "http://www.semanticweb.org/ontologies/AwA#",
    "awa": "http://www.semanticweb.org/ontologies/AwA#",
    "ImNet-A": "http://www.semanticweb.org/ontologies/ImNet-A#",
    "imnet-a": "http://www.semanticweb.org/ontologies/ImNet-A#",
    "ImNet-O": "http://www.semanticweb.org/ontologies/ImNet-O#",
    "imnet-o": "http://www.semanticweb.org/ontologies/ImNet-O#",
    "cn": "http://www.semanticweb.org/ontologies/ConceptNet#",
}


def kzsl_namespace(prefix: str) -> str:
    """The namespace K-ZSL gives the prefix ``prefix``: :data:`KZSL_PREFIXES`, else
    ``http://www.semanticweb.org/ontologies/<prefix>#`` (how the K-ZSL Turtle files were made)."""
    return KZSL_PREFIXES.get(prefix) or KZSL_NAMESPACE.format(prefix=prefix)


# A Turtle-like prefixed name; the local part is looser than Turtle's (K-ZSL has
# ``cn:dbpedia/genus``) and is checked by building the IRI instead.
_PNAME = re.compile(r"([A-Za-z][\w.-]*)?:(\S*)")
_QUOTED = re.compile(r'"(.*)"(?:@([A-Za-z]+(?:-[A-Za-z0-9]+)*)|\^\^(\S+))?', re.DOTALL)


class _Terms:
    """Turns the fields of one file into pyoxigraph terms, with its prefixes and blank nodes."""

    def __init__(self, path: Path, prefixes: Mapping[str, str] | None, derive: bool) -> None:
        import pyoxigraph as ox

        self.ox = ox
        self.path = path
        self.given = dict(prefixes or {})
        self.derive = derive
        #: every prefix met, with its namespace
        self.used: dict[str, str] = {}
        self.blank: dict[str, Any] = {}
        self.string = ox.NamedNode(XSD + "string")

    def namespace(self, prefix: str, lineno: int, text: str) -> str:
        found = self.used.get(prefix)
        if found is not None:
            return found
        if prefix in self.given:
            found = self.given[prefix]
        elif prefix in KZSL_PREFIXES or (self.derive and prefix):
            found = kzsl_namespace(prefix)
        else:
            known = ", ".join(sorted({*KZSL_PREFIXES, *self.given}))
            raise DataError(
                f"{self.path}:{lineno}: unknown prefix {prefix!r} in {text!r}; known: {known}"
                " (declare it: --prefix NAME=IRI, or prefixes: {NAME: IRI} in the config)"
            )
        self.used[prefix] = found
        return found

    def is_resource(self, text: str) -> bool:
        text = text.strip()
        return (text.startswith("<") and text.endswith(">")) or _PNAME.fullmatch(text) is not None

    def named(self, text: str, lineno: int, role: str) -> Any:
        ox = self.ox
        text = text.strip()
        if text.startswith("_:") and len(text) > 2:
            if role == "relation":
                raise DataError(
                    f"{self.path}:{lineno}: a blank node ({text!r}) cannot be a relation;"
                    " expected a prefixed name (prefix:name) or <IRI>"
                )
            # A fresh node per label: pyoxigraph keeps a given label as the node's id, and
            # the same label in two files must not become one node.
            return self.blank.setdefault(text, ox.BlankNode())
        if text.startswith("<") and text.endswith(">"):
            iri = text[1:-1]
        else:
            match = _PNAME.fullmatch(text)
            if match is None:
                raise DataError(
                    f"{self.path}:{lineno}: expected a prefixed name (prefix:name) or <IRI> as {role}, found {text!r}"
                )
            prefix, local = match.group(1) or "", match.group(2)
            iri = self.namespace(prefix, lineno, text) + local
        try:
            return ox.NamedNode(iri)
        except ValueError as e:
            raise DataError(f"{self.path}:{lineno}: {text!r} is not a valid IRI ({iri!r}): {e}") from None

    def object(self, text: str, lineno: int, relation: Any = None) -> Any:
        ox = self.ox
        quoted = _QUOTED.fullmatch(text.strip())
        text_relation = relation is not None and relation.value in _TEXT_RELATIONS
        if not text_relation and (self.is_resource(text) or text.strip().startswith("_:")):
            return self.named(text, lineno, "object")
        if quoted is None:
            # Verbatim, untrimmed: the Turtle files keep labels exactly as the CSV has them.
            return ox.Literal(text, datatype=self.string)
        value, language, datatype = quoted.groups()
        try:
            if language:
                return ox.Literal(value, language=language)
            if datatype:
                return ox.Literal(value, datatype=self.named(datatype, lineno, "datatype"))
        except ValueError as e:
            raise DataError(f"{self.path}:{lineno}: invalid literal {text!r}: {e}") from None
        return ox.Literal(value, datatype=self.string)


_HEADER_FIELD = re.compile(r"[A-Za-z][A-Za-z _-]*")


def _lines(path: Path, delimiter: str | None, encoding: str) -> tuple[list[tuple[int, list[str], str]], str]:
    """``([(line number, fields, line)] of the non-blank lines, delimiter)``."""
    import csv

    from kgzsl.knowledge.formats import read_text

    if not path.is_file():
        raise DataError(f"{path}: expected a file of tab-separated triples")
    text = read_text(path, encoding)
    numbered = [(i, line.rstrip("\r")) for i, line in enumerate(text.split("\n"), start=1) if line.strip()]
    if delimiter is None:
        first = numbered[0][1] if numbered else ""
        delimiter = "," if "\t" not in first and "," in first else "\t"
    if delimiter == ",":
        rows = [next(csv.reader([line], delimiter=",", quotechar='"')) for _, line in numbered]
    else:
        rows = [line.split(delimiter) for _, line in numbered]
    return [(i, fields, line) for (i, line), fields in zip(numbered, rows)], delimiter


def _is_header(fields: list[str], terms: _Terms) -> bool:
    """A first line of plain words (``Subject Relation Object``), not a triple."""
    return not terms.is_resource(fields[0]) and all(_HEADER_FIELD.fullmatch(f.strip() or "-") for f in fields)


def _read(
    path: Path,
    header: bool | None,
    prefixes: Mapping[str, str] | None,
    delimiter: str | None,
    encoding: str,
    derive_prefixes: bool = True,
    terms: _Terms | None = None,
) -> Iterator[Triple]:
    from kgzsl.knowledge.formats import one_line

    terms = terms or _Terms(path, prefixes, derive_prefixes)
    lines, delimiter = _lines(path, delimiter, encoding)
    shown = "tab" if delimiter == "\t" else repr(delimiter)
    count = 0
    for index, (lineno, fields, line) in enumerate(lines):
        if index == 0 and (header or (header is None and _is_header(fields, terms))):
            if len(fields) != 3:
                raise DataError(
                    f"{path}:{lineno}: expected a header of 3 {shown}-separated columns"
                    f" (Subject, Relation, Object), found {len(fields)}: {one_line(line[:80])!r}"
                )
            continue
        if len(fields) != 3:
            raise DataError(
                f"{path}:{lineno}: expected 3 {shown}-separated fields (subject, relation, object),"
                f" found {len(fields)}: {one_line(line[:80])!r}"
            )
        s, p, o = fields
        relation = terms.named(p, lineno, "relation")
        yield terms.named(s, lineno, "subject"), relation, terms.object(o, lineno, relation)
        count += 1
    if count == 0:
        raise DataError(f"{path}: no triples (only a header or blank lines)")


def kzsl_prefixes(
    path: Path,
    header: bool | None = None,
    prefixes: Mapping[str, str] | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    derive_prefixes: bool = True,
) -> dict[str, str]:
    """``{prefix: namespace}`` of every prefix a K-ZSL triple file uses (for queries and Turtle output)."""
    terms = _Terms(Path(path), prefixes, derive_prefixes)
    for _ in _read(Path(path), header, prefixes, delimiter, encoding, derive_prefixes, terms):
        pass
    return dict(terms.used)


@register_format(
    "kzsl-csv",
    extensions=(".csv", ".tsv"),
    description="K-ZSL tab-separated Subject/Relation/Object triples of prefixed names, with a header line",
    prefixes=kzsl_prefixes,
)
def read_kzsl_csv(
    path: Path,
    header: bool | None = None,
    prefixes: Mapping[str, str] | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    derive_prefixes: bool = True,
) -> Iterator[Triple]:
    """Triples of a K-ZSL ``KG-*.csv`` file.

    Args:
        path: the file.
        header: whether the first line is a header; ``None`` detects it (a first line of
            plain words, such as ``Subject Relation Object``).
        prefixes: ``{prefix: namespace IRI}`` entries; they win over :data:`KZSL_PREFIXES`
            and the derived namespaces.
        delimiter: the field separator; ``None``: a tab, or a comma for a file whose first
            line has commas and no tab (quoted CSV fields).
        encoding: the text encoding.
        derive_prefixes: give a prefix that is neither given nor known K-ZSL's namespace
            ``http://www.semanticweb.org/ontologies/<prefix>#``; ``False`` makes it an error.

    Yields:
        ``(subject, predicate, object)`` pyoxigraph terms.

    Raises:
        DataError: a line without three fields, an unknown prefix or an invalid IRI
            (``file:line: ...``), a file that cannot be read or is not text, or one with no triples.
    """
    yield from _read(Path(path), header, prefixes, delimiter, encoding, derive_prefixes)


@register_format(
    "kzsl-triples",
    description="K-ZSL triple files without header (kzsl/triples/*/*.txt); pass format='kzsl-triples'",
    prefixes=kzsl_prefixes,
)
def read_kzsl_triples(
    path: Path,
    header: bool = False,
    prefixes: Mapping[str, str] | None = None,
    delimiter: str | None = "\t",
    encoding: str = "utf-8",
    derive_prefixes: bool = True,
) -> Iterator[Triple]:
    """Triples of a K-ZSL ``triples/*/*.txt`` file: :func:`read_kzsl_csv` without a header."""
    yield from _read(Path(path), header, prefixes, delimiter, encoding, derive_prefixes)
