"""Where the project's embedded resources live and how ``embedded:NAME`` paths resolve."""

from __future__ import annotations

import os
from pathlib import Path

from kgzsl.errors import DataError

__all__ = ["ONTOLOGY_DIR", "resolve_path", "shared_data_dir"]

#: the project's own ontologies (``ontologies/`` beside the package)
ONTOLOGY_DIR = Path(os.environ.get("KGZSL_ONTOLOGY_DIR", Path(__file__).resolve().parents[1] / "ontologies"))

_EMBEDDED = {
    ("ontology", "animals"): "animals.ttl",
    ("split", "animals"): "animals-split.json",
}


def resolve_path(path: str | os.PathLike, kind: str = "ontology") -> Path:
    """Resolve ``embedded:NAME`` to the embedded file of that kind; check that files exist."""
    text = str(path)
    if text.startswith("embedded:"):
        name = text.split(":", 1)[1]
        if (kind, name) not in _EMBEDDED:
            valid = ", ".join(f"embedded:{n}" for k, n in _EMBEDDED if k == kind)
            raise DataError(f"unknown embedded {kind} {text!r}; valid: {valid}")
        resolved = ONTOLOGY_DIR / _EMBEDDED[(kind, name)]
    else:
        resolved = Path(text).expanduser()
    if not resolved.is_file():
        raise DataError(f"{resolved}: no such file")
    return resolved


def shared_data_dir() -> Path | None:
    """``$KGZSL_SHARED_DATA`` as a path, or ``None`` when unset."""
    value = os.environ.get("KGZSL_SHARED_DATA")
    return Path(value) if value else None
