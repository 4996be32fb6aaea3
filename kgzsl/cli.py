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
    p.add_argument(
        "--name",
        default=None,
        help="the experiment folder's name (default: the config's stem plus the --set overrides)",
    )
    p.add_argument("--seed", type=int, default=None, help="run seed (overrides train.seed)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder of the same seed")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue this run (same config, --set, --name and seed) after a kill or Ctrl-C from its last saved epoch",
    )
    p.add_argument("--no-progress", action="store_true", help="hide every progress bar")


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

    p = sub.add_parser("evaluate", help="rescore a finished run's saved model (same or other features)")
    p.add_argument("run_dir", help="a run folder, e.g. runs/demo/seed-0")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="dataset.* (other features of the same classes), eval.hit_k or train.device",
    )
    p.add_argument("--out", default=None, help="output folder (default: RUN_DIR/eval[-OVERRIDES])")
    p.add_argument("--overwrite", action="store_true", help="replace an existing evaluation folder")
    p.add_argument("--no-progress", action="store_true", help="hide every progress bar")

    p = sub.add_parser("list", help="list registered components")
    p.add_argument("family", nargs="?", help="datasets, knowledge, semantics, methods or classifiers")

    from kgzsl import tables
    from kgzsl.data import cli as data_cli
    from kgzsl.knowledge import cli as kg_cli
    from kgzsl.semantics import cli as cache_cli

    kg_cli.add_parser(sub, _Parser)
    data_cli.add_parser(sub, _Parser)
    tables.add_parser(sub, _Parser)
    cache_cli.add_parser(sub, _Parser)
    from kgzsl.language import cli as clip_cli

    clip_cli.add_parser(sub, _Parser)
    return parser


def _run(config_path: Path, args: argparse.Namespace) -> int:
    from kgzsl.config import apply_overrides, load_config
    from kgzsl.pipeline import run_experiment, run_name

    config = apply_overrides(load_config(config_path), args.overrides)
    result = run_experiment(
        config,
        stem=run_name(config_path.stem, args.overrides, args.name),
        out=args.out,
        seed=args.seed,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        config_file=config_path,
        resume=args.resume,
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
            grid = getattr(registry.get(name), "default_select", None)
            if grid:
                print(f"  {'':<16} select: {', '.join(f'{k}={v}' for k, v in grid.items())} (default validation grid)")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from kgzsl.config import apply_overrides, dump_config, load_config, resolve

    warnings: list[str] = []
    config = resolve(apply_overrides(load_config(args.config), args.overrides), warnings)
    for message in warnings:
        print(f"kgzsl: warning: {message}", file=sys.stderr)
    print(f"# {args.config}: valid")
    print(dump_config(config), end="")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from kgzsl.pipeline import evaluate_run

    result = evaluate_run(
        args.run_dir, args.overrides, out=args.out, overwrite=args.overwrite, progress=not args.no_progress
    )
    print(result.table)
    print(f"\nevaluation folder: {result.run_dir}")
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
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "list":
            return _list(args.family)
        if args.command == "kg":
            from kgzsl.knowledge import cli as kg_cli

            return kg_cli.run(args)
        if args.command == "data":
            from kgzsl.data import cli as data_cli

            return data_cli.run(args)
        if args.command == "table":
            from kgzsl import tables

            return tables.run(args)
        if args.command == "cache":
            from kgzsl.semantics import cli as cache_cli

            return cache_cli.run(args)
        if args.command == "clip":
            from kgzsl.language import cli as clip_cli

            return clip_cli.run(args)
        parser.print_help()
        return 0
    except KGZSLError as e:
        # one line whatever the message quotes (a file's text, a multi-line query)
        message = " ".join(str(e).split("\n"))
        print(f"kgzsl: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        resumable = args.command in ("run", "demo")
        hint = "; saved training epochs are kept: the same command with --resume continues" if resumable else ""
        print(f"kgzsl: interrupted; no run folder was written{hint}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
