"""``kgzsl cache ...``: show or empty the cache of class embeddings (:mod:`kgzsl.semantics.cache`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kgzsl.errors import KGZSLError

__all__ = ["add_parser", "run"]


def add_parser(sub: Any, parser_class: type) -> None:
    """Add the ``cache`` command to the subparsers ``sub``."""
    cache = sub.add_parser("cache", help="show or empty the cache of class embeddings")
    cache_sub = cache.add_subparsers(dest="cache_command", metavar="CACHE_COMMAND", parser_class=parser_class)
    where = "the cache folder (default: $KGZSL_CACHE or ~/.cache/kgzsl; a config's train.cache_dir)"
    p = cache_sub.add_parser("info", help="cached class embeddings: count, size, per encoder")
    p.add_argument("--cache-dir", metavar="DIR", help=where)
    p = cache_sub.add_parser("clear", help="delete cached class embeddings (all, or one encoder's)")
    p.add_argument("--cache-dir", metavar="DIR", help=where)
    p.add_argument("--encoder", metavar="NAME", help="only the entries of this encoder (e.g. kge)")


def run(args: argparse.Namespace) -> int:
    """Run ``kgzsl cache ...``; returns the exit code."""
    from kgzsl.semantics.cache import cache_clear, cache_info, default_cache_dir

    command = getattr(args, "cache_command", None)
    if command is None:
        raise KGZSLError("cache: missing command; one of info, clear")
    cache_dir = args.cache_dir
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    if folder.exists() and not folder.is_dir():
        raise KGZSLError(f"{folder}: not a folder (--cache-dir)")
    if command == "info":
        print(cache_info(cache_dir).format())
        return 0
    if command == "clear":
        removed = cache_clear(cache_dir, encoder=args.encoder)
        which = f" of encoder {args.encoder!r}" if args.encoder else ""
        print(f"removed {removed:,} cached class embedding(s){which} from {folder}", file=sys.stderr)
        return 0
    raise KGZSLError(f"cache: unknown command {command!r}; one of info, clear")
