"""Small shared helpers: devices, seeding, hashing, atomic writes."""

from __future__ import annotations

import hashlib
import importlib
import os
import random
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = [
    "mask_candidates",
    "quiet_import",
    "resolve_device",
    "seed_everything",
    "sha256_file",
    "atomic_write_text",
    "atomic_write_bytes",
]


def resolve_device(device: str = "auto") -> Any:
    """``"auto"`` → CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so that a run repeats exactly on one machine."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (all or nothing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); give it the permissions a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def mask_candidates(scores: torch.Tensor, candidates: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
    """Scores in the global class space with ``-inf`` for every class outside ``candidates``.

    The one place where kgzsl masks non-candidate classes: every method and shared classifier
    returns its ``decision_function`` through it, so that a class a method was not fitted to
    score can never win an ``argmax``.

    Args:
        scores: ``[N, C]`` scores of all classes (``num_classes`` ``None``), or ``[N, K]``
            scores of the candidates only, in the order of ``candidates`` (``num_classes`` given).
        candidates: ``[K]`` int64 global indices of the classes that may be scored.
        num_classes: size ``C`` of the global class space when ``scores`` holds only the candidates.

    Returns:
        ``[N, C]`` scores on ``scores``' device and dtype (a new tensor); ``-inf`` outside ``candidates``.
    """
    import torch

    candidates = candidates.to(scores.device).long().flatten()
    if num_classes is None:
        out = torch.full_like(scores, float("-inf"))
        out[:, candidates] = scores[:, candidates]
        return out
    if scores.shape[1] != candidates.numel():
        raise ValueError(f"mask_candidates: {scores.shape[1]} score columns for {candidates.numel()} candidates")
    out = torch.full((scores.shape[0], int(num_classes)), float("-inf"), dtype=scores.dtype, device=scores.device)
    out[:, candidates] = scores
    return out


def quiet_import(module: str) -> Any:
    """Import ``module`` without the library warnings its first import emits.

    ``torch_geometric``'s import calls ``torch.jit.script``, which torch ≥ 2.9 answers with a
    ``FutureWarning`` (`` `torch.jit.script` is deprecated``) meant for torch_geometric's
    developers, not for kgzsl's users: that warning (and nothing else) is filtered, and only
    while importing.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=FutureWarning)
        return importlib.import_module(module)
