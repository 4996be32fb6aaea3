"""``kgzsl kg ...``: inspect, query and convert knowledge files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kgzsl.errors import KGZSLError

__all__ = ["add_parser", "run"]


def add_parser(sub: Any, parser_class: type) -> None:
    """Add the ``kg`` command to the subparsers ``sub``."""
    kg = sub.add_parser("kg", help="inspect, query and convert knowledge files")
    kg_sub = kg.add_subparsers(dest="kg_command", metavar="KG_COMMAND", parser_class=parser_class)
    p = kg_sub.add_parser("info", help="triples, classes, relations with counts, dangling entities")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--format", help="format of all files (default: from each extension)")
    p = kg_sub.add_parser("query", help="run a SPARQL SELECT (or CONSTRUCT) over the files")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--sparql", required=True, help="the query, or @FILE to read it from a file")
    p.add_argument("--format", help="format of all files (default: from each extension)")
    p = kg_sub.add_parser("convert", help="convert knowledge files to one RDF file (.ttl, .nt, .rdf, .nq, .trig)")
    p.add_argument("files", nargs="+", metavar="IN")
    p.add_argument("output", metavar="OUT")
    p.add_argument("--format", help="format of the input files (default: from each extension)")
    kg_sub.add_parser("formats", help="list the knowledge file formats")


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
    kg = KnowledgeGraph.from_files(*args.files, format=args.format)
    if args.kg_command == "info":
        from kgzsl.knowledge.info import format_summary, summarize

        print(format_summary(summarize(kg)))
    elif args.kg_command == "query":
        sparql = args.sparql
        if sparql.startswith("@"):
            path = Path(sparql[1:])
            if not path.is_file():
                raise KGZSLError(f"{path}: no such query file")
            sparql = path.read_text(encoding="utf-8")
        if "construct" in sparql.lower().split("where")[0]:
            for s, p, o in kg.construct(sparql):
                print(f"{s}\t{p}\t{o}")
        else:
            for row in kg.query(sparql):
                print("\t".join("" if v is None else str(v) for v in row))
    elif args.kg_command == "convert":
        kg.serialize(args.output)
        print(f"wrote {len(kg):,} triples to {args.output}", file=sys.stderr)
    return 0
