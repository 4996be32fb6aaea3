"""The ``kgzsl`` command line.

A user's mistake (bad key, missing file, wrong type) prints one line, ``kgzsl: error: ...``,
and exits with code 2; never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import kgzsl
from kgzsl.errors import KGZSLError

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse's own convention)
        self.exit(2, f"kgzsl: error: {message}\n")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set method.epochs=5 (repeatable)",
    )
    p.add_argument("--out", default="runs", help="parent folder of run folders (default: runs)")
    p.add_argument("--seed", type=int, default=None, help="run seed (overrides train.seed)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder of the same seed")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kgzsl", description="Knowledge-graph-driven zero-shot image classification.")
    parser.add_argument("--version", action="version", version=f"kgzsl {kgzsl.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("demo", help="run the embedded default end to end (synthetic features)")
    _add_run_options(p)

    p = sub.add_parser("run", help="run an experiment config")
    p.add_argument("config", help="YAML experiment config")
    _add_run_options(p)

    p = sub.add_parser("validate", help="check a config and print it resolved, defaults filled in")
    p.add_argument("config", help="YAML experiment config")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")

    p = sub.add_parser("list", help="list registered components")
    p.add_argument("family", nargs="?", help="datasets, knowledge, semantics, methods or classifiers")

    kg = sub.add_parser("kg", help="inspect, query and convert knowledge files")
    kg_sub = kg.add_subparsers(dest="kg_command", metavar="KG_COMMAND", parser_class=_Parser)
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

    data = sub.add_parser("data", help="benchmark datasets: describe, extract features, download")
    data_sub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND", parser_class=_Parser)
    p = data_sub.add_parser("info", help="load a dataset and summarise it (classes, splits, semantics)")
    p.add_argument("dataset", help="a registered dataset (kgzsl list datasets) or an xlsa17 folder (.../AWA2)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="dataset parameter, e.g. --set name=CUB (repeatable)",
    )
    p = data_sub.add_parser("extract-features", help="image features with an open_clip or torchvision backbone")
    p.add_argument("images", help="folder of images (one subfolder per class) ")
    p.add_argument("--out", required=True, help="output folder (features.npy, manifest.json)")
    p.add_argument("--backbone", default="torchvision:resnet101", help="open_clip:ARCH or torchvision:resnet101")
    p.add_argument("--weights", default=None, help="local checkpoint file (or an open_clip pretrained tag online)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto")
    p.add_argument("--patch-tokens", action="store_true", help="also save the patch tokens")
    p.add_argument("--overwrite", action="store_true", help="replace an output made from other inputs")
    p = data_sub.add_parser("download", help="download a benchmark's files (needs the internet)")
    p.add_argument("name", help="awa1, awa2, cub, sun, apy, flo, imnet-a or imnet-o")
    p.add_argument("--root", default="data", help="where the files go (default: data)")
    p.add_argument("--sha256", default=None, help="expected sha256 of the archive")
    p.add_argument("--no-verify", action="store_true", help="accept an archive whose checksum is unknown")
    p.add_argument("--force", action="store_true", help="download again even if the files are there")
    return parser


def _run(config_path: Path, args: argparse.Namespace) -> int:
    from kgzsl.config import apply_overrides, load_config
    from kgzsl.pipeline import run_experiment

    config = apply_overrides(load_config(config_path), args.overrides)
    result = run_experiment(
        config,
        stem=config_path.stem,
        out=args.out,
        seed=args.seed,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        config_file=config_path,
    )
    print(result.table)
    print(f"\nrun folder: {result.run_dir}")
    return 0


def _list(family: str | None) -> int:
    from kgzsl.registry import REGISTRIES, get_registry

    registries = [get_registry(family)] if family else list(REGISTRIES.values())
    for registry in registries:
        print(f"{registry.family}:")
        for name in registry.names():
            params = ", ".join(f"{k}={v!r}" for k, v in registry.defaults(name).items())
            print(f"  {name:<16} {registry.describe(name)}")
            if params:
                print(f"  {'':<16} params: {params}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from kgzsl.config import apply_overrides, dump_config, load_config, resolve

    config = resolve(apply_overrides(load_config(args.config), args.overrides))
    print(f"# {args.config}: valid")
    print(dump_config(config), end="")
    return 0


def _kg(args: argparse.Namespace) -> int:
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


def _data(args: argparse.Namespace) -> int:
    if args.data_command is None:
        raise KGZSLError("data: missing command; one of info, extract-features, download")
    if args.data_command == "info":
        from kgzsl.config import apply_overrides
        from kgzsl.registry import DATASETS

        target = Path(args.dataset)
        if args.dataset in DATASETS:
            name, spec = args.dataset, {}
        elif target.is_dir() and (target / "att_splits.mat").is_file():
            name, spec = "xlsa17", {"root": str(target.parent), "name": target.name}
        else:
            valid = ", ".join(DATASETS.names())
            raise KGZSLError(f"{args.dataset}: not a registered dataset ({valid}) nor an xlsa17 folder")
        spec = apply_overrides({"dataset": spec}, [f"dataset.{o}" for o in args.overrides])["dataset"]
        dataset = DATASETS.build(name, where="dataset", **spec).load()
        print(dataset.summary())
        return 0
    if args.data_command == "extract-features":
        from kgzsl.data.features import extract_features

        out = extract_features(
            args.images,
            args.out,
            backbone=args.backbone,
            weights=args.weights,
            batch_size=args.batch_size,
            device=args.device,
            patch_tokens=args.patch_tokens,
            overwrite=args.overwrite,
        )
        print(f"features: {out}")
        return 0
    from kgzsl.data.download import download

    root = download(args.name, args.root, force=args.force, verify=not args.no_verify, sha256=args.sha256)
    print(f"{args.name}: files in {root}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kgzsl`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            from kgzsl.config import default_config_path

            return _run(default_config_path(), args)
        if args.command == "run":
            return _run(Path(args.config), args)
        if args.command == "validate":
            return _validate(args)
        if args.command == "list":
            return _list(args.family)
        if args.command == "kg":
            return _kg(args)
        if args.command == "data":
            return _data(args)
        parser.print_help()
        return 0
    except KGZSLError as e:
        print(f"kgzsl: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kgzsl: interrupted; nothing was written", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
