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

from kgzsl.errors import DataError

__all__ = ["TripleFormat", "TRIPLE_FORMATS", "register_format", "Triple", "read_text", "read_bytes", "one_line"]

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
    #: ``prefixes(path, **options) -> {name: namespace}``: the prefixes a file uses, for
    #: queries and Turtle output (formats of prefixed names, e.g. K-ZSL CSV)
    prefixes: Callable[..., dict[str, str]] | None = None


TRIPLE_FORMATS: dict[str, TripleFormat] = {}


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line: line breaks and other control characters shown escaped
    (``\\n``), cut to ``limit`` characters, so that an error message never spans two lines."""
    out = "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in str(text))
    return out if len(out) <= limit else out[: limit - 1] + "…"


def read_bytes(path: Path) -> bytes:
    """The bytes of ``path``; an unreadable file is a one-line :class:`DataError`."""
    try:
        return Path(path).read_bytes()
    except IsADirectoryError:
        raise DataError(f"{path}: expected a file, found a folder") from None
    except PermissionError:
        raise DataError(f"{path}: cannot read the file (permission denied)") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read the file ({e.strerror or e})") from None


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """The text of ``path``, without a leading byte-order mark.

    Raises:
        DataError: the file cannot be read (permission denied, a folder), or is not text in
            ``encoding`` (``file:line: not UTF-8 text ...``, the line of the first bad byte).
    """
    data = read_bytes(path)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        name = "UTF-8" if encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig") else encoding
        raise DataError(
            f"{path}:{line}: not {name} text (byte 0x{data[e.start]:02x} at column {column}: {e.reason})"
        ) from None
    except LookupError:
        raise DataError(f"{path}: unknown text encoding {encoding!r}") from None
    return text.removeprefix("\ufeff")


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
    prefixes: Callable[..., dict[str, str]] | None = None,
):
    """Decorator registering a reader ``reader(path, **options) -> Iterator[Triple]``.

    Folder formats (``is_dir``) with a ``detect`` function are chosen for a folder when it
    recognises the folder; the others must be named explicitly.
    """

    def decorator(reader: Reader) -> Reader:
        TRIPLE_FORMATS[name] = TripleFormat(
            name, tuple(e.lower() for e in extensions), reader, description, is_dir, detect, prefixes
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
