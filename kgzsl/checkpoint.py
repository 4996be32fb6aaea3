"""Saving and loading trained components: one file holds the component's registered name, its
constructor parameters (its own config), its learned state and any extra the caller adds (the
run's resolved config, the class ids), so a saved model cannot be rebuilt with other settings.

Format: a ``torch.save`` file of a dict::

    {"format": "kgzsl-component/1", "kgzsl_version": ..., "family": "methods", "name": "eszsl",
     "params": {...}, "state": {...}, "extra": {...}}

Loading rebuilds the component from ``family``/``name``/``params`` through its registry and
restores ``state`` with :meth:`~kgzsl.registry.Component.load_state_dict`. The file is written
atomically (a reader sees the old file or the whole new one).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from kgzsl.errors import DataError

__all__ = ["FORMAT", "save_component", "load_component", "read_checkpoint"]

FORMAT = "kgzsl-component/1"


def _family_of(component: Any) -> str:
    from kgzsl.registry import REGISTRIES

    name = getattr(component, "registry_name", "")
    for registry in REGISTRIES.values():
        if name in registry and registry.get(name) is type(component):
            return registry.family
    raise TypeError(f"{type(component).__name__} is not a registered component; it cannot be saved")


def save_component(component: Any, path: str | os.PathLike, **extra: Any) -> None:
    """Write ``component`` (name, parameters, learned state) and ``extra`` to ``path``."""
    import torch

    import kgzsl
    from kgzsl.utils import atomic_write_bytes

    payload = {
        "format": FORMAT,
        "kgzsl_version": kgzsl.__version__,
        "family": _family_of(component),
        "name": component.registry_name,
        "params": component.get_params(),
        "state": component.state_dict(),
        "extra": extra,
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())


def read_checkpoint(path: str | os.PathLike, device: Any = None) -> dict[str, Any]:
    """The raw payload of a component file; a :class:`DataError` naming the file if it is not one."""
    import pickle
    import zipfile

    import torch

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such model file")
    try:
        # the file holds torch modules and numpy arrays: a full unpickle (only load files you trust,
        # like torch.load itself)
        payload = torch.load(path, map_location=device or "cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as e:
        raise DataError(f"{path}: not a kgzsl model file ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DataError(f"{path}: not a kgzsl model file (expected format {FORMAT})")
    return payload


def load_component(path: str | os.PathLike, device: Any = None) -> tuple[Any, dict[str, Any]]:
    """Rebuild the component saved in ``path``; returns ``(component, extra)``.

    Args:
        path: a file written by :func:`save_component`.
        device: where tensors go (``None``: the CPU); move modules yourself for other devices.
    """
    from kgzsl.registry import get_registry

    payload = read_checkpoint(path, device)
    registry = get_registry(payload["family"])
    component = registry.build(payload["name"], where=f"{path}", **payload["params"])
    component.load_state_dict(payload["state"])
    return component, dict(payload.get("extra") or {})
