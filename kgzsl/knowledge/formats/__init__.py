"""Knowledge file formats that are not RDF syntaxes, read into RDF triples.

Each reader is a generator of ``(subject, predicate, object)`` pyoxigraph terms registered
with :func:`register_format`; :meth:`KnowledgeGraph.load` collects every triple of a file
first and then adds them in one transaction, so a malformed line (a :class:`DataError`
naming the file and line) leaves the store exactly as it was.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["TripleFormat", "TRIPLE_FORMATS", "register_format", "Triple"]

Triple = tuple[Any, Any, Any]
Reader = Callable[..., Iterator[Triple]]


@dataclass(frozen=True)
class TripleFormat:
    """A registered non-RDF knowledge format."""

    name: str
    extensions: tuple[str, ...]
    reader: Reader
    description: str
    is_dir: bool = False
    #: for folder formats: does this folder look like one of ours?
    detect: Callable[[Path], bool] | None = None


TRIPLE_FORMATS: dict[str, TripleFormat] = {}

# Modules that register formats; imported on first use.
_FORMAT_MODULES: list[str] = [
    "kgzsl.knowledge.formats.kzsl_csv",
    "kgzsl.knowledge.formats.ontozsl",
    "kgzsl.knowledge.formats.attributes",
    "kgzsl.knowledge.formats.documents",
    "kgzsl.knowledge.formats.gcnz",
]
_loaded = False


def register_format(
    name: str,
    extensions: tuple[str, ...] = (),
    description: str = "",
    is_dir: bool = False,
    detect: Callable[[Path], bool] | None = None,
):
    """Decorator registering a reader ``reader(path, **options) -> Iterator[Triple]``.

    Folder formats (``is_dir``) with a ``detect`` function are chosen for a folder when it
    recognises the folder; the others must be named explicitly.
    """

    def decorator(reader: Reader) -> Reader:
        TRIPLE_FORMATS[name] = TripleFormat(
            name, tuple(e.lower() for e in extensions), reader, description, is_dir, detect
        )
        return reader

    return decorator


def triple_formats() -> dict[str, TripleFormat]:
    """Every registered format, importing the modules that register them."""
    global _loaded
    if not _loaded:
        _loaded = True
        for module in _FORMAT_MODULES:
            importlib.import_module(module)
    return TRIPLE_FORMATS


def format_for_path(path: Path) -> TripleFormat | None:
    """The registered format whose extension matches ``path`` (or directory format), if any."""
    formats = triple_formats()
    if path.is_dir():
        matches = [f for f in formats.values() if f.is_dir and f.detect is not None and f.detect(path)]
        return matches[0] if len(matches) == 1 else None
    suffix = "".join(path.suffixes[-1:]).lower()
    for fmt in formats.values():
        if suffix in fmt.extensions:
            return fmt
    return None
