"""The run context: one object carrying a run's seed, device, progress setting and work folder.

A run builds one :class:`RunContext` from its ``train`` section and ``--no-progress`` and
passes it to every encoder's ``encode(..., context=)`` and every method's ``fit(...,
context=)``. A component's own explicit setting still wins: encoders and methods whose
``seed`` / ``device`` parameter is ``None`` (the default) take the context's; one that a config
sets explicitly keeps it::

    ctx = RunContext(seed=3, device="cpu", progress=False)
    dev = ctx.device_for(self.device)      # self.device None -> cpu
    seed = ctx.seed_for(self.seed)         # self.seed None -> 3
    for batch in ctx.bar(batches, desc="epochs"): ...

While a context is *active* (``with ctx.activate():``, which the pipeline does around a whole
run), :func:`current_context` returns it, so that code deep inside a component that was not
handed the context (a library helper, an inner loop) still honours the run's progress setting
and device: :func:`progress_bar` is the one way kgzsl code makes a progress bar.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kgzsl.errors import ConfigError

__all__ = [
    "RunContext",
    "active_context",
    "current_context",
    "fit_context",
    "seeded",
    "progress_bar",
    "check_device",
    "derive_seed",
]

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")


def check_device(device: str, where: str = "train.device") -> str:
    """Return ``device`` if it names a device kgzsl can use, else one :class:`ConfigError`."""
    if not isinstance(device, str) or not _DEVICE_RE.match(device.strip()):
        raise ConfigError(f"{where}: expected auto, cpu, cuda, cuda:N or mps, got {device!r}")
    return device.strip()


def derive_seed(seed: int, *names: object) -> int:
    """A seed for a named sub-task of a run (stable across Python processes and versions)."""
    text = ":".join([str(int(seed)), *map(str, names)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


@dataclass(frozen=True)
class RunContext:
    """A run's seed, device, progress setting and work folder.

    Args:
        seed: the run's seed (``train.seed``); every random choice of the run derives from it.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.
        progress: show progress bars (``--no-progress`` turns every bar off, inner ones too).
        workdir: a folder a component may write scratch files or checkpoints to (``None``: none).
        checkpoints: the folder of this fit's per-epoch training state (``None``: none kept).
            The pipeline gives every fit of a run its own folder inside the staged run, so
            that ``kgzsl run --resume`` continues an interrupted fit where it stopped; see
            :class:`kgzsl.methods.generative.TrainingLoop`.
        checkpoint_every: save the training state every this many epochs (``train.checkpoint_every``).
    """

    seed: int = 0
    device: str = "auto"
    progress: bool = True
    workdir: Path | None = None
    checkpoints: Path | None = None
    checkpoint_every: int = 1

    def __post_init__(self) -> None:
        check_device(self.device)

    # -- devices and seeds -------------------------------------------------------------
    @property
    def torch_device(self) -> Any:
        """The resolved :class:`torch.device`."""
        return _resolve(self.device)

    def device_for(self, own: str | None = None) -> Any:
        """A component's device: its own explicit setting, else the run's."""
        return _resolve(check_device(own, "device") if own is not None else self.device)

    def seed_for(self, own: int | None = None) -> int:
        """A component's seed: its own explicit setting, else the run's."""
        return int(own) if own is not None else int(self.seed)

    def child(self, *names: object) -> RunContext:
        """The same context with a seed derived from this one and ``names`` (e.g. a stage)."""
        return replace(self, seed=derive_seed(self.seed, *names))

    def with_(self, **changes: Any) -> RunContext:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def generator(self, own_seed: int | None = None, device: Any = None) -> Any:
        """A seeded :class:`torch.Generator` (on ``device``, default CPU)."""
        import torch

        g = torch.Generator(device=device or "cpu")
        g.manual_seed(self.seed_for(own_seed))
        return g

    def seed_everything(self, own_seed: int | None = None) -> None:
        """Seed Python, NumPy and torch with the component's or the run's seed."""
        from kgzsl.utils import seed_everything

        seed_everything(self.seed_for(own_seed))

    # -- progress ----------------------------------------------------------------------
    def bar(self, iterable: Iterable[Any] | None = None, **kwargs: Any) -> Any:
        """A tqdm bar that is silent when the run's progress is off."""
        return _make_bar(iterable, self.progress, **kwargs)

    # -- activation --------------------------------------------------------------------
    @contextlib.contextmanager
    def activate(self) -> Iterator[RunContext]:
        """Make this the :func:`current_context` inside the ``with`` block."""
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)


def _resolve(device: str) -> Any:
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


_CURRENT: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar("kgzsl_run_context", default=None)


def current_context(context: RunContext | None = None) -> RunContext:
    """``context`` if given, else the active run's context, else a default one (seed 0, auto, bars on)."""
    if context is not None:
        return context
    active = _CURRENT.get()
    return active if active is not None else RunContext()


def _make_bar(iterable: Iterable[Any] | None, enabled: bool, **kwargs: Any) -> Any:
    import warnings

    with warnings.catch_warnings():
        # tqdm.auto warns (IProgress not found) in notebooks without ipywidgets; the text bar is fine
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm

        kwargs.setdefault("leave", False)
        kwargs["disable"] = kwargs.get("disable", False) or not enabled
        return tqdm(iterable, **kwargs)


def progress_bar(iterable: Iterable[Any] | None = None, context: RunContext | None = None, **kwargs: Any) -> Any:
    """A tqdm bar honouring ``context`` (or the active run's) progress setting."""
    return _make_bar(iterable, current_context(context).progress, **kwargs)


def active_context() -> RunContext | None:
    """The context of the run in progress (:meth:`RunContext.activate`), or ``None`` outside any run."""
    return _CURRENT.get()


def fit_context(context: RunContext | None, own_device: str | None, data_device: Any) -> tuple[RunContext, Any]:
    """The run context and the device a component's ``fit`` works on.

    The device is the component's own explicit ``device``, else the run's: the ``context``
    passed to ``fit`` or the active run's (:meth:`RunContext.activate`). Called outside any
    run (a notebook, a unit test), with neither, it is the device the data already lives on,
    so that ``fit`` never moves a user's CPU tensors to a GPU they did not ask for.

    Returns:
        ``(context, torch.device)``; the context is the one given, the active one, or a default
        one (seed 0, progress on) whose device is ``data_device``.
    """
    import torch

    ctx = context if context is not None else active_context()
    if ctx is None:
        data_device = torch.device(data_device)
        ctx = RunContext(device=str(data_device))
    return ctx, ctx.device_for(own_device)


@contextlib.contextmanager
def seeded(seed: int, device: Any = None) -> Iterator[None]:
    """Seed torch's generators inside the block, leaving the caller's random streams as they were.

    Every random choice of a component's ``fit`` (initialisation, shuffling, dropout, sampling)
    draws from torch's global generators; forking them makes ``fit`` a function of its seed
    alone, whatever ran before it.

    Args:
        seed: the component's seed (``context.seed_for(self.seed)``).
        device: the device the component works on; a CUDA device's generator is forked too.
    """
    import torch

    devices = [device] if device is not None and torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield
