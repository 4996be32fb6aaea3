"""The shared results file of the performance scripts: ``results.csv`` beside them.

Also the driver the ``epoch_*.py`` scripts share (kgzsl against the authors' way and the floor of
the matrix products): :func:`argument_parser` / :func:`parse`, :func:`make_data`,
:func:`alternate_rounds`, :func:`print_comparison`, :func:`description` and :func:`comparison_rows`.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import torch

RESULTS = Path(__file__).with_name("results.csv")
HEADER = ["date", "machine", "benchmark", "n", "m", "kgzsl_s", "baseline_s", "ratio", "note"]


def machine() -> str:
    """What the figures were measured on, e.g. ``x86_64, 2 cpus`` (``+ GPU name`` with CUDA)."""
    text = f"{platform.machine()}, {os.cpu_count()} cpus"
    try:
        import torch

        if torch.cuda.is_available():
            text += f", {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return text


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def record(rows: list[list[Any]]) -> None:
    """Append rows (``HEADER`` columns) to ``results.csv``, writing the header on first use."""
    new = not RESULTS.exists()
    with RESULTS.open("a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(HEADER)
        w.writerows(rows)


def status_bytes(field: str) -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (its peak) of this process, from /proc/self/status."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def reset_peak() -> None:
    """Reset the peak resident size (``VmHWM``; Linux >= 4.0); without it the peak counts from exec."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def sync(device) -> None:
    """Wait for the device's queued work (CUDA); nothing on the CPU."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def peak_start(device) -> int:
    """Reset the peak-memory counter of ``device``; return the memory in use now (bytes)."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device)
    reset_peak()
    return status_bytes("VmRSS")


def peak_growth(device, base: int) -> int:
    """Peak memory of ``device`` since :func:`peak_start` above its ``base`` (bytes)."""
    import torch

    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated(device) - base
    return status_bytes("VmHWM") - base


# ------------------------------------------------------------------ the epoch_*.py driver


def argument_parser(doc: str | None, quick_help: str, rounds: int = 3) -> argparse.ArgumentParser:
    """``--quick --device --rounds --threads --no-record --note``; a script adds its own after these."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=rounds)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-record", action="store_true")
    p.add_argument("--note", default="")
    return p


def parse(parser: argparse.ArgumentParser) -> tuple[argparse.Namespace, torch.device]:
    """The arguments, with torch's thread count set from ``--threads``; the ``--device``."""
    import torch

    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    return args, torch.device(args.device)


def make_data(
    n: int,
    seen: int,
    att: int,
    dim: int,
    device: torch.device,
    seed: int = 0,
    unseen: int = 10,
    balanced: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random features (``n × dim``, uniform in [0, 1)), labels of ``seen`` classes, attributes (``seen + unseen``).

    ``balanced``: the labels are ``0, 1, …, seen - 1, 0, 1, …`` shuffled (every class in every
    large enough batch) instead of drawn independently.
    """
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, dim, generator=g)
    if balanced:
        labels = (torch.arange(n) % seen)[torch.randperm(n, generator=g)]
    else:
        labels = torch.randint(0, seen, (n,), generator=g)
    attributes = torch.rand(seen + unseen, att, generator=g)
    return x.to(device), labels.to(device), attributes.to(device)


class Timings(NamedTuple):
    """What :func:`alternate_rounds` measured, by name in the order run."""

    medians: dict[str, float]
    times: dict[str, list[float]]  #: seconds of every round, scaled
    peak_mb: dict[str, float]  #: the largest peak-memory growth of a round (MB)
    load: float  #: the 1-minute load average once the rounds are done


def alternate_rounds(
    runs: dict[str, Callable[[], float]], rounds: int, scale: float, device, progress: bool = False
) -> Timings:
    """Run each of ``runs`` (returning its seconds) once a round, in order, for ``rounds`` rounds.

    Alternating them lets a loaded machine slow all alike. Each time is multiplied by ``scale``;
    the peak memory growth (:func:`peak_start` / :func:`peak_growth`) is tracked around each run.
    ``progress``: print each run's scaled time as it ends.
    """
    times: dict[str, list[float]] = {name: [] for name in runs}
    peaks: dict[str, int] = {}
    for _ in range(rounds):
        for name, run in runs.items():
            base = peak_start(device)
            times[name].append(run() * scale)
            peaks[name] = max(peaks.get(name, 0), peak_growth(device, base))
            if progress:
                print(f"  {name}: {times[name][-1]:.1f} s/epoch", flush=True)
    medians = {k: statistics.median(v) for k, v in times.items()}
    mb = {k: v / 2**20 for k, v in peaks.items()}
    return Timings(medians, times, mb, os.getloadavg()[0])


def print_comparison(
    timings: Timings, width: int = 8, digits: int = 2, goal: str = "", floor_goal: str = ""
) -> tuple[float, float]:
    """Print each one's median, rounds and peak, then reference / kgzsl and kgzsl / floor; return the two ratios.

    ``goal`` / ``floor_goal``: printed after their ratio, e.g. ``" (goal ≥ 1.2)"``.
    """
    med, mb = timings.medians, timings.peak_mb
    for name, times in timings.times.items():
        rounds = ", ".join(f"{t:.{digits}f}" for t in times)
        print(f"{name:>9}: {med[name]:{width}.{digits}f} s/epoch  (rounds {rounds})  peak +{mb[name]:.0f} MB")
    speedup, over_floor = med["reference"] / med["kgzsl"], med["kgzsl"] / med["floor"]
    print(f"reference / kgzsl = {speedup:.2f}x{goal}; kgzsl / floor = {over_floor:.2f}x{floor_goal}")
    return speedup, over_floor


def description(
    what: str, device: torch.device, args: argparse.Namespace, timings: Timings, floor_memory: bool = False
) -> str:
    """The part of the notes every row of a script shares: setting, device, rounds, peak memory, load, ``--note``."""
    mb = timings.peak_mb
    memory = f"peak memory growth kgzsl {mb['kgzsl']:.0f} MB, reference {mb['reference']:.0f} MB"
    if floor_memory:
        memory += f", floor {mb['floor']:.0f} MB"
    return (
        f"{what}; device {device.type}, threads {args.threads}, rounds {args.rounds} (median); "
        f"{memory}; load avg {timings.load:.1f}" + (f"; {args.note}" if args.note else "")
    )


def comparison_rows(n: int, m: int, rows: list[tuple[str, float, float, float, str]], common: str) -> list[list[Any]]:
    """``results.csv`` rows of ``(benchmark, kgzsl_s, baseline_s, ratio, text)``: the note is ``text; common``."""
    return [
        [today(), machine(), name, n, m, f"{ours:.3f}", f"{base:.3f}", f"{ratio:.2f}", f"{text}; {common}"]
        for name, ours, base, ratio, text in rows
    ]
