"""K-ZSL triple files: ``Subject<TAB>Relation<TAB>Object`` lines of prefixed names.

The K-ZSL benchmarks (Geng et al., 2021) ship each knowledge graph three ways: Turtle,
RDF/XML and a tab-separated ``.csv`` with a ``Subject Relation Object`` header; the same KGs
split by kind of knowledge (``kzsl/triples/*/*.txt``) have the same lines without the header.

Two formats read them:

* ``kzsl-csv`` (``.csv``, ``.tsv``): the header is detected (a first line whose subject is
  not a prefixed name or ``<IRI>`` is a header) unless ``header`` says otherwise.
* ``kzsl-triples`` (no default extension, since OntoZSL's ``.txt`` files differ): no header.

Each field is a term:

* ``prefix:local`` with a known prefix → the IRI ``namespace + local`` (``cn:dbpedia/genus``
  → ``…/ConceptNet#dbpedia/genus``); a name with an unknown prefix is an error;
* ``<http://…>`` → that IRI; ``_:label`` → a blank node (one per label and file);
* in the object position, anything else (``cow, moo-cow``) → an ``xsd:string`` literal,
  verbatim, as the K-ZSL Turtle files have it. A literal that looks like a prefixed name must
  be quoted: ``"note:this"``, optionally with ``@lang`` or ``^^datatype``.

With these rules ``KG-AwA.csv`` and ``KG-AwA.ttl`` give the same set of triples.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kgzsl.errors import DataError
from kgzsl.knowledge.formats import Triple, register_format

__all__ = ["KZSL_PREFIXES", "read_kzsl_csv", "read_kzsl_triples"]

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"

#: The prefixes of the K-ZSL files (taken from the ``@prefix`` lines of ``KG-AwA.ttl`` and
#: ``KG-ImNet-A.ttl``; the CSV files spell ``AwA:``/``ImNet-A:`` where Turtle has ``awa:``).
KZSL_PREFIXES: dict[str, str] = {
    "rdf": RDF,
    "rdfs": RDFS,
    "owl": OWL,
    "xsd": XSD,
    "AwA": "http://www.semanticweb.org/ontologies/AwA#",
    "awa": "http://www.semanticweb.org/ontologies/AwA#",
    "ImNet-A": "http://www.semanticweb.org/ontologies/ImNet-A#",
    "imnet-a": "http://www.semanticweb.org/ontologies/ImNet-A#",
    "cn": "http://www.semanticweb.org/ontologies/ConceptNet#",
}

# A Turtle-like prefixed name; the local part is looser than Turtle's (K-ZSL has
# ``cn:dbpedia/genus``) and is checked by building the IRI instead.
_PNAME = re.compile(r"([A-Za-z][\w.-]*)?:(\S*)")
_QUOTED = re.compile(r'"(.*)"(?:@([A-Za-z]+(?:-[A-Za-z0-9]+)*)|\^\^(\S+))?', re.DOTALL)


class _Terms:
    """Turns the fields of one file into pyoxigraph terms, with its prefixes and blank nodes."""

    def __init__(self, path: Path, prefixes: Mapping[str, str]) -> None:
        import pyoxigraph as ox

        self.ox = ox
        self.path = path
        self.prefixes = dict(prefixes)
        self.blank: dict[str, Any] = {}
        self.string = ox.NamedNode(XSD + "string")

    def is_resource(self, text: str) -> bool:
        text = text.strip()
        return (text.startswith("<") and text.endswith(">")) or _PNAME.fullmatch(text) is not None

    def named(self, text: str, lineno: int, role: str) -> Any:
        ox = self.ox
        text = text.strip()
        if text.startswith("_:") and len(text) > 2:
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
            if prefix not in self.prefixes:
                known = ", ".join(sorted(self.prefixes))
                raise DataError(
                    f"{self.path}:{lineno}: unknown prefix {prefix!r} in {text!r}; known: {known}"
                    " (pass prefixes={...} to add one)"
                )
            iri = self.prefixes[prefix] + local
        try:
            return ox.NamedNode(iri)
        except ValueError as e:
            raise DataError(f"{self.path}:{lineno}: {text!r} is not a valid IRI ({iri!r}): {e}") from None

    def object(self, text: str, lineno: int) -> Any:
        ox = self.ox
        if self.is_resource(text) or text.strip().startswith("_:"):
            return self.named(text, lineno, "object")
        quoted = _QUOTED.fullmatch(text.strip())
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


def _read(
    path: Path,
    header: bool | None,
    prefixes: Mapping[str, str] | None,
    delimiter: str,
    encoding: str,
) -> Iterator[Triple]:
    if not path.is_file():
        raise DataError(f"{path}: expected a file of tab-separated triples")
    terms = _Terms(path, {**KZSL_PREFIXES, **(prefixes or {})})
    shown = "tab" if delimiter == "\t" else repr(delimiter)
    count = 0
    try:
        with path.open(encoding=encoding, newline="") as f:
            for lineno, raw in enumerate(f, start=1):
                line = raw.rstrip("\r\n")
                if not line.strip():
                    continue
                fields = line.split(delimiter)
                if lineno == 1 and (header or (header is None and not terms.is_resource(fields[0]))):
                    if len(fields) != 3:
                        raise DataError(
                            f"{path}:1: expected a header of 3 {shown}-separated columns"
                            f" (Subject, Relation, Object), found {len(fields)}: {line[:80]!r}"
                        )
                    continue
                if len(fields) != 3:
                    raise DataError(
                        f"{path}:{lineno}: expected 3 {shown}-separated fields (subject, relation, object),"
                        f" found {len(fields)}: {line[:80]!r}"
                    )
                s, p, o = fields
                yield terms.named(s, lineno, "subject"), terms.named(p, lineno, "relation"), terms.object(o, lineno)
                count += 1
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not {encoding} text ({e.reason} at byte {e.start})") from None
    if count == 0:
        raise DataError(f"{path}: no triples (only a header or blank lines)")


@register_format(
    "kzsl-csv",
    extensions=(".csv", ".tsv"),
    description="K-ZSL tab-separated Subject/Relation/Object triples of prefixed names, with a header line",
)
def read_kzsl_csv(
    path: Path,
    header: bool | None = None,
    prefixes: Mapping[str, str] | None = None,
    delimiter: str = "\t",
    encoding: str = "utf-8",
) -> Iterator[Triple]:
    """Triples of a K-ZSL ``KG-*.csv`` file.

    Args:
        path: the file.
        header: whether the first line is a header; ``None`` detects it (a first line whose
            subject is neither a prefixed name nor an ``<IRI>``).
        prefixes: extra ``{prefix: namespace IRI}`` entries, on top of :data:`KZSL_PREFIXES`.
        delimiter: the field separator.
        encoding: the text encoding.

    Yields:
        ``(subject, predicate, object)`` pyoxigraph terms.

    Raises:
        DataError: a line without three fields, an unknown prefix or an invalid IRI
            (``file:line: ...``), or a file with no triples.
    """
    yield from _read(Path(path), header, prefixes, delimiter, encoding)


@register_format(
    "kzsl-triples",
    description="K-ZSL triple files without header (kzsl/triples/*/*.txt); pass format='kzsl-triples'",
)
def read_kzsl_triples(
    path: Path,
    header: bool = False,
    prefixes: Mapping[str, str] | None = None,
    delimiter: str = "\t",
    encoding: str = "utf-8",
) -> Iterator[Triple]:
    """Triples of a K-ZSL ``triples/*/*.txt`` file: :func:`read_kzsl_csv` without a header."""
    yield from _read(Path(path), header, prefixes, delimiter, encoding)
