"""The shared results file of the performance scripts: ``results.csv`` beside them."""

from __future__ import annotations

import csv
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
