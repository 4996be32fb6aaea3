"""``kgzsl kg ...``: inspect, query and convert knowledge files."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from kgzsl.errors import ConfigError, KGZSLError

__all__ = ["add_parser", "run", "parse_prefixes", "format_result"]

#: ``--output-format`` choices of ``kg query``
OUTPUT_FORMATS = ("table", "csv", "tsv", "json", "turtle", "ntriples")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", help="format of all input files (default: from each extension)")
    p.add_argument(
        "--prefix",
        action="append",
        default=[],
        metavar="NAME=IRI",
        help="declare a prefix: expands NAME:x in K-ZSL CSV files, usable in queries and Turtle output"
        " (repeatable; wins over the files' own)",
    )


def add_parser(sub: Any, parser_class: type) -> None:
    """Add the ``kg`` command to the subparsers ``sub``."""
    kg = sub.add_parser("kg", help="inspect, query and convert knowledge files")
    kg_sub = kg.add_subparsers(dest="kg_command", metavar="KG_COMMAND", parser_class=parser_class)
    p = kg_sub.add_parser("info", help="triples, classes, relations with counts, dangling entities")
    p.add_argument("files", nargs="+", metavar="FILE")
    _common(p)
    p = kg_sub.add_parser(
        "query",
        help="run a SPARQL SELECT, ASK, CONSTRUCT or DESCRIBE over the files (their prefixes predeclared)",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--sparql", required=True, help="the query, or @FILE to read it from a file")
    p.add_argument(
        "--output-format",
        "-o",
        choices=OUTPUT_FORMATS,
        default="table",
        help="table (tab-separated with a header line; default), csv, tsv (SPARQL TSV terms), json"
        " (SPARQL JSON results), or for CONSTRUCT / DESCRIBE turtle or ntriples",
    )
    p.add_argument("--out", metavar="FILE", help="write the result to FILE instead of standard output")
    _common(p)
    p = kg_sub.add_parser("convert", help="convert knowledge files to one RDF file (.ttl, .nt, .rdf, .nq, .trig)")
    p.add_argument("files", nargs="+", metavar="IN")
    p.add_argument("output", metavar="OUT")
    _common(p)
    kg_sub.add_parser("formats", help="list the knowledge file formats")


def parse_prefixes(values: list[str]) -> dict[str, str]:
    """``["ex=http://example.org/"]`` → ``{"ex": "http://example.org/"}``; a malformed one is a ConfigError."""
    import re

    out = {}
    for value in values:
        name, sep, iri = value.partition("=")
        name = name.strip().removesuffix(":")
        iri = iri.strip().removeprefix("<").removesuffix(">")
        if not sep or not re.fullmatch(r"[A-Za-z][\w.-]*|", name) or not re.fullmatch(r"[A-Za-z][\w+.-]*:\S+", iri):
            raise ConfigError(f"--prefix {value!r}: expected NAME=IRI, e.g. --prefix ex=http://example.org/")
        out[name] = iri
    return out


def _term_text(term: Any) -> str:
    """A term's plain value (table and CSV output)."""
    return "" if term is None else str(getattr(term, "value", term))


def _term_tsv(term: Any) -> str:
    """A term as SPARQL 1.1 TSV writes it: ``<iri>``, ``"literal"^^<dt>``, ``_:b``."""
    return "" if term is None else str(term)


def _term_json(term: Any) -> dict[str, str]:
    import pyoxigraph as ox

    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    out = {"type": "literal", "value": term.value}
    if term.language:
        out["xml:lang"] = term.language
    elif term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
        out["datatype"] = term.datatype.value
    return out


def format_result(result: Any, output_format: str = "table", kg: Any = None) -> str:
    """A :class:`~kgzsl.knowledge.store.QueryResult` as text: ``table`` (tab-separated values
    with a header line; ``true``/``false`` for ASK), ``csv`` and ``tsv`` (SPARQL 1.1 CSV/TSV
    results), ``json`` (SPARQL 1.1 JSON results), or the triples of a CONSTRUCT / DESCRIBE as
    ``turtle`` (with the prefixes of ``kg`` that they use) or ``ntriples``."""
    if output_format in ("turtle", "ntriples"):
        import pyoxigraph as ox

        if result.kind != "triples":
            raise ConfigError(f"--output-format {output_format}: only for CONSTRUCT and DESCRIBE queries")
        triples = [ox.Triple(*row) for row in result.rows]
        if output_format == "ntriples":
            return ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES).decode("utf-8")
        prefixes = kg.used_prefixes(triples) if kg is not None else None
        return ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=prefixes).decode("utf-8")
    if output_format == "json":
        if result.kind == "ask":
            data: dict[str, Any] = {"head": {}, "boolean": result.boolean}
        else:
            bindings = [
                {name: _term_json(term) for name, term in zip(result.variables, row) if term is not None}
                for row in result.rows
            ]
            data = {"head": {"vars": result.variables}, "results": {"bindings": bindings}}
        return json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    if result.kind == "ask":
        answer = "true" if result.boolean else "false"
        return answer + "\n" if output_format in ("table", "tsv") else "answer\r\n" + answer + "\r\n"
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(result.variables)
        writer.writerows([[_term_text(t) for t in row] for row in result.rows])
        return buffer.getvalue()
    if output_format == "tsv":
        lines = ["\t".join("?" + v for v in result.variables)]
        lines += ["\t".join(_term_tsv(t) for t in row) for row in result.rows]
        return "\n".join(lines) + "\n"

    # table: tab-separated plain values with a header; tabs and newlines in values escaped
    def cell(term: Any) -> str:
        return _term_text(term).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")

    lines = ["\t".join(result.variables)] + ["\t".join(cell(t) for t in row) for row in result.rows]
    return "\n".join(lines) + "\n"


def _read_query(text: str) -> str:
    if not text.startswith("@"):
        return text
    from kgzsl.knowledge.formats import read_text

    path = Path(text[1:])
    if not path.is_file():
        raise KGZSLError(f"{path}: no such query file")
    return read_text(path)


def run(args: argparse.Namespace) -> int:
    """Run ``kgzsl kg ...``; returns the exit code."""
    from kgzsl.knowledge.store import KnowledgeGraph

    if args.kg_command == "formats":
        from kgzsl.knowledge.formats import triple_formats
        from kgzsl.knowledge.store import RDF_FORMAT_NAMES

        print("RDF (parsed by Oxigraph): " + ", ".join(sorted(RDF_FORMAT_NAMES)))
        for fmt in triple_formats().values():
            if fmt.is_dir:
                ext = "folder" if fmt.detect is not None else "folder, explicit --format only"
            else:
                ext = ", ".join(fmt.extensions) or "explicit --format only"
            print(f"  {fmt.name:<20} [{ext}] {fmt.description}")
        return 0
    if args.kg_command is None:
        raise KGZSLError("kg: missing command; one of info, query, convert, formats")
    prefixes = parse_prefixes(args.prefix)
    if args.kg_command == "convert":
        from kgzsl.knowledge.store import check_output_path

        check_output_path(Path(args.output))  # before parsing: fail fast, write nothing
    if args.kg_command == "query":
        sparql = _read_query(args.sparql)
        if args.out:
            from kgzsl.knowledge.store import check_output_path

            check_output_path(Path(args.out))
    kg = KnowledgeGraph.from_files(*args.files, format=args.format, prefixes=prefixes)
    if args.kg_command == "info":
        from kgzsl.knowledge.info import format_summary, summarize

        print(format_summary(summarize(kg)))
    elif args.kg_command == "query":
        text = format_result(kg.sparql(sparql), args.output_format, kg)
        if args.out:
            from kgzsl.utils import atomic_write_bytes

            try:
                atomic_write_bytes(Path(args.out), text.encode("utf-8"))
            except OSError as e:
                raise KGZSLError(f"{args.out}: cannot write ({e.strerror or e})") from None
        else:
            sys.stdout.write(text)
    elif args.kg_command == "convert":
        kg.serialize(args.output)
        print(f"wrote {len(kg):,} triples to {args.output}", file=sys.stderr)
    return 0
