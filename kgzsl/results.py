"""Run folders that describe themselves, results tables and plots.

A run writes ``<out>/<config-stem>/seed-<n>/`` with ``config.yaml`` (resolved),
``metrics.json`` (flat keys), ``meta.json`` (versions, git hash, device, sha256 of every
input file), ``per_class.csv`` and ``plot.png``. Everything is first written to a hidden
temporary folder beside it and renamed into place at the end, so an interrupted run leaves
no half-written folder, and an existing run is never replaced unless asked for.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kgzsl.errors import KGZSLError
from kgzsl.utils import atomic_write_text, sha256_file

__all__ = ["run_dir_for", "staged_run_dir", "write_json", "collect_meta", "format_table", "plot_run", "git_revision"]


def run_dir_for(out: str | os.PathLike, config_stem: str, seed: int) -> Path:
    """``<out>/<config-stem>/seed-<n>``."""
    return Path(out) / config_stem / f"seed-{seed}"


def check_free(run_dir: Path, overwrite: bool) -> None:
    """Refuse to reuse an existing run folder unless ``overwrite``."""
    if run_dir.exists() and not overwrite:
        raise KGZSLError(f"{run_dir} already exists: pass --overwrite to replace it, or --out/--seed for a new run")


@contextmanager
def staged_run_dir(run_dir: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder; on success it atomically becomes ``run_dir``.

    On an exception (or Ctrl-C) the temporary folder is removed and ``run_dir`` is untouched.
    """
    check_free(run_dir, overwrite)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=run_dir.parent, prefix=f".{run_dir.name}.tmp-"))
    try:
        yield tmp
        check_free(run_dir, overwrite)
        if run_dir.exists():  # overwrite: move the old run aside first so that the swap is quick
            trash = Path(tempfile.mkdtemp(dir=run_dir.parent, prefix=f".{run_dir.name}.old-"))
            os.replace(run_dir, trash / run_dir.name)
            os.replace(tmp, run_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, run_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def git_revision(path: Path | None = None) -> str | None:
    """Commit hash of the git checkout holding kgzsl (``+dirty`` with local changes), or ``None``."""
    path = path or Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def collect_meta(input_files: list[Path], device: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything needed to tell later how a run was made."""
    import numpy as np
    import torch

    import kgzsl

    device_name = str(device)
    if getattr(device, "type", "") == "cuda":
        device_name = f"{device} ({torch.cuda.get_device_name(device)})"
    inputs = {}
    for path in dict.fromkeys(Path(p).resolve() for p in input_files):
        inputs[str(path)] = sha256_file(path)
    meta = {
        "kgzsl_version": kgzsl.__version__,
        "git_revision": git_revision(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "device": device_name,
        "command": sys.argv,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs_sha256": inputs,
    }
    meta.update(extra or {})
    return meta


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def format_table(rows: list[dict[str, Any]], title: str) -> str:
    """A markdown results table: one row per run, accuracies in percent."""
    columns = [
        ("method", "method"),
        ("semantics", "semantics"),
        ("ZSL T1", "zsl/top1"),
        ("S", "gzsl/seen"),
        ("U", "gzsl/unseen"),
        ("H", "gzsl/h"),
        ("S (CS)", "gzsl_cs/seen"),
        ("U (CS)", "gzsl_cs/unseen"),
        ("H (CS)", "gzsl_cs/h"),
        ("AUSUC", "gzsl/ausuc"),
    ]
    header = "| " + " | ".join(c for c, _ in columns) + " |"
    rule = "|" + "|".join("---" if i < 2 else "---:" for i in range(len(columns))) + "|"
    lines = [f"**{title}**", "", header, rule]
    for row in rows:
        cells = [str(row.get(k, "")) if i < 2 else _pct(row.get(k)) for i, (_, k) in enumerate(columns)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("ZSL T1: per-class top-1 over unseen classes; S/U/H: GZSL per-class accuracy on seen / unseen")
    lines.append("test images with all classes as candidates, and their harmonic mean; CS: calibrated stacking")
    lines.append("with γ chosen on the validation split; AUSUC: area under the seen-unseen curve.")
    return "\n".join(lines)


def plot_run(
    path: Path, curve: dict[str, Any], metrics: dict[str, float], per_class: list[dict[str, Any]], title: str
) -> None:
    """Save a two-panel PNG: the GZSL seen-unseen curve and per-class accuracy bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1, 1.6]})
    ax1.plot(curve["unseen"], curve["seen"], color="tab:blue", label=f"AUSUC = {metrics['gzsl/ausuc']:.3f}")
    ax1.scatter([metrics["gzsl/unseen"]], [metrics["gzsl/seen"]], color="tab:red", zorder=3, label="γ = 0")
    if "gzsl_cs/gamma" in metrics:
        ax1.scatter(
            [metrics["gzsl_cs/unseen"]],
            [metrics["gzsl_cs/seen"]],
            color="tab:green",
            marker="s",
            zorder=3,
            label=f"γ = {metrics['gzsl_cs/gamma']:.3g} (chosen on val)",
        )
    ax1.set(xlabel="unseen accuracy", ylabel="seen accuracy", xlim=(0, 1), ylim=(0, 1), title="GZSL seen-unseen curve")
    ax1.legend(loc="upper right", fontsize=8)
    ax1.grid(alpha=0.3)
    unseen = [r for r in per_class if r["split"] == "unseen"]
    names = [r["class"] for r in unseen]
    xs = range(len(unseen))
    ax2.bar([x - 0.2 for x in xs], [r["zsl_top1"] for r in unseen], width=0.4, label="ZSL (unseen candidates)")
    ax2.bar([x + 0.2 for x in xs], [r["gzsl_top1"] for r in unseen], width=0.4, label="GZSL (all candidates)")
    ax2.set_xticks(list(xs), names, rotation=60, ha="right", fontsize=8)
    ax2.set(ylabel="top-1 accuracy", ylim=(0, 1), title="Unseen classes: per-class accuracy")
    ax2.legend(fontsize=8)
    ax2.grid(axis="y", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
