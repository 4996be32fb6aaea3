"""Run folders that describe themselves, results tables and plots.

A run writes ``<out>/<config-stem>/seed-<n>/`` with ``config.yaml`` (resolved),
``metrics.json`` (flat keys), ``meta.json`` (versions, git hash, device, sha256 of every
input file), ``per_class.csv`` and ``plot.png``. Everything is first written to a hidden
staging folder beside it and renamed into place at the end, so an interrupted run leaves
no half-written folder, and an existing run is never replaced unless asked for.

A staging folder's name says which process owns it (host, boot, process id and the process's
start time), and the owner holds an ``flock`` on it while staging: a run killed outright
(``kill -9``, a power cut) cannot remove its own staging folder, so every run first removes
the stale ones in its experiment folder — those whose owner is gone — and never one that a
live process owns.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgzsl.errors import DataError, KGZSLError
from kgzsl.utils import atomic_write_text, sha256_file

if TYPE_CHECKING:
    from kgzsl.knowledge.store import KnowledgeGraph

__all__ = [
    "run_dir_for",
    "check_free",
    "staged_run_dir",
    "resumable_staging",
    "CHECKPOINTS",
    "clean_stale_staging",
    "write_json",
    "collect_meta",
    "format_table",
    "class_names",
    "write_per_class",
    "plot_run",
    "git_revision",
]

#: A staging folder without an owner in its name (made before owners were recorded) is
#: stale once it is this old: staging covers only the few seconds of writing the files.
LEGACY_STALE_AFTER_S = 3600.0

_STAGING_RE = re.compile(r"^\.(?P<target>.+)\.(?P<kind>tmp|old)-(?P<rest>[^/]+)$")
_OWNER_RE = re.compile(r"^o(?P<host>[0-9a-f]{8})-(?P<boot>[0-9a-f]{8}|0)-(?P<pid>\d+)-(?P<start>\d+)-[^-]+$")
_LEGACY_RE = re.compile(r"^[a-z0-9_]{8}$")  # tempfile.mkdtemp's random part


def run_dir_for(out: str | os.PathLike, config_stem: str, seed: int) -> Path:
    """``<out>/<config-stem>/seed-<n>``."""
    return Path(out) / config_stem / f"seed-{seed}"


def check_free(run_dir: Path, overwrite: bool) -> None:
    """Refuse to reuse an existing run folder unless ``overwrite``."""
    if run_dir.exists() and not overwrite:
        raise KGZSLError(f"{run_dir} already exists: pass --overwrite to replace it, or --out/--seed for a new run")


def _host_key() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _boot_key() -> str:
    """This boot's id (Linux), so that folders left before a reboot are known to be stale."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")[:8].lower() or "0"
    except OSError:
        return "0"


def _process_stat(pid: int) -> tuple[str, int]:
    """A process's state letter and start time in clock ticks after boot (Linux ``/proc``); ``("", 0)`` where unknown.

    With the boot id, the start time tells a process from a later one that reuses its id.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # the name in (...) may hold spaces
        return fields[0], int(fields[19])  # fields 3 and 22
    except (OSError, ValueError, IndexError):
        return "", 0


def _process_start(pid: int) -> int:
    return _process_stat(pid)[1]


def _owner_token() -> str:
    pid = os.getpid()
    return f"o{_host_key()}-{_boot_key()}-{pid}-{_process_start(pid)}-"


def _owner_alive(host: str, boot: str, pid: int, start: int) -> bool | None:
    """Whether the process that made a staging folder still runs; ``None``: cannot tell (another host)."""
    if host != _host_key():
        return None
    here = _boot_key()
    if boot != "0" and here != "0" and boot != here:
        return False  # made before the last reboot
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        pass  # exists, owned by another user
    except OSError:
        return None
    state, now = _process_stat(pid)
    if state in ("Z", "X"):
        return False  # killed, not yet reaped by its parent
    return not (start and now and now != start)  # a different process reusing the id


def _lock_dir(path: Path) -> int | None:
    """Hold an exclusive ``flock`` on a folder while it is staged; the open descriptor, to close after.

    The kernel drops the lock when the process dies, however it dies. It guards what the name
    cannot: a process in another PID namespace (a container) on the same host and boot.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: the owner in the name is the only guard
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        pass  # a file system without locks: still return the descriptor, closed later
    return fd


def _locked_by_someone(path: Path) -> bool:
    """Whether a live process holds the staging lock of ``path`` (see :func:`_lock_dir`)."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing releases a lock taken here
    return False


def _staging_is_stale(entry: Path, rest: str) -> bool:
    owner = _OWNER_RE.match(rest)
    if owner:
        alive = _owner_alive(owner["host"], owner["boot"], int(owner["pid"]), int(owner["start"]))
        return alive is False and not _locked_by_someone(entry)
    if _LEGACY_RE.match(rest):
        try:
            old = time.time() - entry.stat().st_mtime > LEGACY_STALE_AFTER_S
        except OSError:
            return False
        return old and not _locked_by_someone(entry)
    return False  # not a name kgzsl makes: leave it alone


def clean_stale_staging(folder: str | os.PathLike) -> list[Path]:
    """Remove the staging folders in ``folder`` left by runs that were killed; return them.

    A staging folder (``.<run>.tmp-…``, or ``.<run>.old-…`` holding a run being replaced) is
    stale when the process named in it no longer runs on this host (or ran before the last
    reboot, or its id now belongs to a later process) and no process holds its ``flock``.
    Folders owned by a live process, or by a process on another host sharing the file system,
    are kept. An ``.old-`` folder whose
    run was moved aside but never replaced is moved back first, so an interrupted
    ``--overwrite`` keeps the previous run. Folders from before owners were recorded are
    removed once older than :data:`LEGACY_STALE_AFTER_S`.
    """
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in sorted(entries):
        m = _STAGING_RE.match(entry.name)
        if not m or entry.is_symlink() or not entry.is_dir() or not _staging_is_stale(entry, m["rest"]):
            continue
        if m["kind"] == "old":
            target, previous = folder / m["target"], entry / m["target"]
            if previous.is_dir() and not target.exists():
                try:
                    os.replace(previous, target)
                except OSError:
                    pass  # another process got there first; the folder goes below either way
        shutil.rmtree(entry, ignore_errors=True)
        if not entry.exists():
            removed.append(entry)
    return removed


def _ordinary_dir_permissions(path: Path) -> None:
    """``mkdtemp`` makes a private folder (0700); a run folder gets what ``mkdir`` would give."""
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(path, 0o777 & ~umask)
    except OSError:
        pass


#: the folder of a staged run that holds its fits' resumable training state
CHECKPOINTS = "checkpoints"


def resumable_staging(run_dir: Path) -> Path | None:
    """The newest staging folder of ``run_dir`` left with training checkpoints by a killed run, or ``None``.

    A folder left by this very process after a ``KeyboardInterrupt`` (a notebook) counts too.
    """
    run_dir = Path(run_dir)
    found = []
    try:
        entries = list(run_dir.parent.iterdir())
    except OSError:
        return None
    for entry in entries:
        m = _STAGING_RE.match(entry.name)
        if not m or m["kind"] != "tmp" or m["target"] != run_dir.name or entry.is_symlink() or not entry.is_dir():
            continue
        mine = m["rest"].startswith(_owner_token()) and not _locked_by_someone(entry)  # Ctrl-C in a notebook
        if (entry / CHECKPOINTS).is_dir() and (mine or _staging_is_stale(entry, m["rest"])):
            found.append((entry.stat().st_mtime, entry))
    return max(found)[1] if found else None


@contextmanager
def staged_run_dir(run_dir: Path, overwrite: bool = False, resume: bool = False) -> Iterator[Path]:
    """Yield a staging folder; on success it atomically becomes ``run_dir``.

    On an exception the staging folder is removed and ``run_dir`` is untouched. On Ctrl-C
    (``KeyboardInterrupt``) a staging folder holding training checkpoints (``checkpoints/``)
    is kept for ``resume``. If the process is killed outright, the next call in the same
    experiment folder removes the staging folder it left (see :func:`clean_stale_staging`),
    unless it resumes it.

    Args:
        run_dir: the run folder to make.
        overwrite: replace an existing ``run_dir``.
        resume: adopt the newest staging folder of ``run_dir`` that a killed (or interrupted)
            run left with training checkpoints (:func:`resumable_staging`), so that the fits
            continue from their last saved epoch; without one, start afresh.
    """
    run_dir = Path(run_dir)
    check_free(run_dir, overwrite)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    token = _owner_token()
    tmp: Path | None = None
    previous = resumable_staging(run_dir) if resume else None
    if previous is not None:
        tmp = run_dir.parent / f".{run_dir.name}.tmp-{token}{previous.name.rsplit('-', 1)[-1]}"
        try:
            os.replace(previous, tmp)  # adopt it: the name now says this process owns it
        except OSError:
            tmp = None  # another process adopted it first
    clean_stale_staging(run_dir.parent)
    if tmp is None:
        tmp = Path(tempfile.mkdtemp(dir=run_dir.parent, prefix=f".{run_dir.name}.tmp-{token}"))
    lock = _lock_dir(tmp)
    _ordinary_dir_permissions(tmp)
    keep = False
    try:
        try:
            yield tmp
        except KeyboardInterrupt:
            keep = (tmp / CHECKPOINTS).is_dir()
            raise
        shutil.rmtree(tmp / CHECKPOINTS, ignore_errors=True)
        check_free(run_dir, overwrite)
        if run_dir.exists():  # overwrite: move the old run aside first so that the swap is quick
            trash = Path(tempfile.mkdtemp(dir=run_dir.parent, prefix=f".{run_dir.name}.old-{token}"))
            os.replace(run_dir, trash / run_dir.name)
            os.replace(tmp, run_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, run_dir)
    finally:
        if tmp.exists() and not keep:
            shutil.rmtree(tmp, ignore_errors=True)
        if lock is not None:
            os.close(lock)


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


# --------------------------------------------------------------------------- class names

#: label predicates, most preferred first; K-ZSL keeps its class names in ``rdfs:label``
_LABEL_PREDICATES = (
    "http://www.w3.org/2004/02/skos/core#prefLabel",
    "http://www.w3.org/2000/01/rdf-schema#label",
)


def _display_label(text: str, predicate: str) -> str:
    """``killer_whale, killer, orca`` (a K-ZSL/WordNet synonym list in ``rdfs:label``) → ``killer whale``.

    A ``skos:prefLabel`` is one name by definition and is kept whole (``Washington, D.C.``).
    """
    text = str(text).strip()
    if predicate.endswith("#label") and "," in text:
        text = text.split(",", 1)[0].strip()
    return re.sub(r"\s+", " ", text.replace("_", " ")).strip()


def _fallback_name(class_id: str) -> str:
    from kgzsl.knowledge.store import local_name

    name = local_name(class_id) if "://" in class_id else class_id
    name = re.sub(r"^\d+\.", "", name.strip())  # xlsa17 CUB ids: 002.Laysan_Albatross
    return re.sub(r"\s+", " ", re.sub(r"[_+]", " ", name)).strip() or class_id


def class_names(
    kg: KnowledgeGraph | None,
    class_ids: Sequence[str],
    namespace: str | None = None,
    language: str = "en",
) -> dict[str, str]:
    """A readable name for each class id: its KG label where the KG has one.

    Classes are matched to KG entities as the encoders match them
    (:func:`kgzsl.knowledge.alignment.align_classes`: IRI, local name, label, ``owl:sameAs``);
    when that fails for some class, by IRI or local name alone. The name is the entity's
    ``skos:prefLabel``, else its ``rdfs:label`` (the first of a K-ZSL/WordNet comma-separated
    synonym list, ``_`` as spaces: ``n02071294`` → ``killer whale``), preferring ``language``,
    then untagged literals. A class without a label keeps the dataset's own name for it
    (``killer+whale`` → ``killer whale``, ``002.Laysan_Albatross`` → ``Laysan Albatross``;
    a WordNet id stays as it is). Two classes that would get the same name get their ids
    appended (ImageNet has two classes named ``crane``), so every name is unique.

    Args:
        kg: the run's knowledge graph, or ``None`` (names from the class ids only).
        class_ids: the dataset's class ids, in order.
        namespace: only entities whose IRI starts with it (as the run's encoder).
        language: preferred language tag of the labels.

    Returns:
        ``{class_id: name}`` for every class id.
    """
    ids = [str(c) for c in class_ids]
    iris: dict[str, str] = {}
    if kg is not None and ids:
        from kgzsl.knowledge.alignment import align_classes

        try:
            iris = dict(zip(ids, align_classes(kg, ids, namespace=namespace), strict=True))
        except DataError:
            iris = {}
        labels = _labels(kg, list(iris.values()) if len(iris) == len(ids) else None, language)
        if len(iris) < len(ids):  # alignment failed: match what can be matched by IRI / local name
            from kgzsl.knowledge.store import local_name

            by_local: dict[str, set[str]] = {}
            for iri in labels:
                by_local.setdefault(local_name(iri), set()).add(iri)
            for cid in ids:
                if cid in labels:
                    iris[cid] = cid
                elif len(by_local.get(cid, ())) == 1:
                    iris[cid] = next(iter(by_local[cid]))
        names = {cid: labels.get(iris.get(cid, ""), "") or _fallback_name(cid) for cid in ids}
    else:
        names = {cid: _fallback_name(cid) for cid in ids}
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name.lower()] = counts.get(name.lower(), 0) + 1
    return {cid: (f"{n} ({cid})" if counts[n.lower()] > 1 and n != cid else n) for cid, n in names.items()}


def _labels(kg: KnowledgeGraph, iris: list[str] | None, language: str) -> dict[str, str]:
    """``{entity IRI: display label}`` for ``iris`` (or every labelled entity), best label first."""
    values = ""
    if iris is not None:
        if not iris:
            return {}
        values = "VALUES ?e { " + " ".join(f"<{i}>" for i in dict.fromkeys(iris)) + " } "
    preds = " ".join(f"<{p}>" for p in _LABEL_PREDICATES)
    rows = kg.query(
        f"SELECT ?e ?p ?l (LANG(?l) AS ?lang) WHERE {{ {values}VALUES ?p {{ {preds} }} ?e ?p ?l "
        "FILTER(isIRI(?e) && isLiteral(?l)) }"
    )
    want = language.lower()
    best: dict[str, tuple[tuple[int, int, str], str]] = {}
    for iri, pred, label, lang in rows:
        lang = (lang or "").lower()
        lang_rank = 0 if lang == want or lang.startswith(want + "-") else (1 if not lang else 2)
        shown = _display_label(label, str(pred))
        if not shown:
            continue
        key = (_LABEL_PREDICATES.index(str(pred)), lang_rank, shown)
        if iri not in best or key < best[iri][0]:
            best[str(iri)] = (key, shown)
    return {iri: shown for iri, (_, shown) in best.items()}


def write_per_class(path: Path, per_class: list[dict[str, Any]], names: Mapping[str, str] | None = None) -> None:
    """Write ``per_class.csv``: ``class`` (the dataset's id), ``name`` (readable), ``split``, accuracies.

    Args:
        path: the CSV file (written atomically).
        per_class: one dict per class with ``class``, ``split``, ``zsl_top1``, ``gzsl_top1``
            (``None`` where not defined); extra keys become extra columns.
        names: ``{class_id: name}`` (see :func:`class_names`); rows' own ``name`` otherwise,
            else the id made readable.
    """
    names = names or {}
    fields = ["class", "name", "split", "zsl_top1", "gzsl_top1"]
    for row in per_class:
        fields += [k for k in row if k not in fields]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in per_class:
        cid = str(row["class"])
        writer.writerow({**row, "name": names.get(cid) or row.get("name") or _fallback_name(cid)})
    atomic_write_text(path, buf.getvalue())


# --------------------------------------------------------------------------- plots


@contextmanager
def _quiet_plotting() -> Iterator[None]:
    """Keep matplotlib's chatter (missing glyphs, font lookups, layout notes) away from users."""
    loggers = [logging.getLogger(n) for n in ("matplotlib", "matplotlib.font_manager", "PIL")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


def _short(name: str, width: int = 32) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def plot_run(
    path: Path,
    curve: dict[str, Any],
    metrics: dict[str, float],
    per_class: list[dict[str, Any]],
    title: str,
    names: Mapping[str, str] | None = None,
    max_classes: int = 40,
) -> None:
    """Save the run's PNG: the GZSL seen-unseen curve and the unseen classes' per-class accuracy.

    The per-class panel is a horizontal bar chart sorted by ZSL accuracy, labelled with class
    names (``names``, a row's ``name``, else its id). With more than ``max_classes`` unseen
    classes (SUN has 72, ImageNet hundreds) it shows the ``max_classes // 2`` best and worst
    classes, says so, and a histogram of all of them sits under the curve.

    Args:
        path: the PNG file.
        curve: ``{"seen": [...], "unseen": [...]}`` accuracies along the calibration sweep.
        metrics: the run's flat metrics (``gzsl/ausuc``, ``gzsl/seen``, ``gzsl/unseen``, ...).
        per_class: rows as for :func:`write_per_class`; the ``unseen`` ones are drawn.
        title: the figure's title (says "synthetic features" where they were).
        names: ``{class_id: name}`` (see :func:`class_names`).
        max_classes: most classes drawn as bars.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = names or {}
    unseen = [r for r in per_class if r["split"] == "unseen" and r.get("zsl_top1") is not None]

    def label(r: dict[str, Any]) -> str:
        return _short(str(names.get(str(r["class"])) or r.get("name") or r["class"]))

    unseen.sort(key=lambda r: (-float(r["zsl_top1"]), -float(r.get("gzsl_top1") or 0.0), label(r)))
    n = len(unseen)
    many = n > max_classes
    half = max(1, max_classes // 2)
    shown: list[dict[str, Any] | None] = [*unseen[:half], None, *unseen[-half:]] if many else list(unseen)
    rows = len(shown)
    height = max(5.0, 1.6 + 0.24 * rows)
    with _quiet_plotting():
        fig = Figure(figsize=(13, height))
        FigureCanvasAgg(fig)
        grid = fig.add_gridspec(2 if many else 1, 2, width_ratios=[1, 1.25])
        ax1 = fig.add_subplot(grid[0, 0])
        if "unseen" in curve and "gzsl/ausuc" in metrics:
            ax1.plot(curve["unseen"], curve["seen"], color="tab:blue", label=f"AUSUC = {metrics['gzsl/ausuc']:.3f}")
        else:  # streamed test images: the points only, no sweep over γ
            ax1.text(0.5, 0.9, "test images streamed: no γ sweep", ha="center", fontsize=8, transform=ax1.transAxes)
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
        ax1.set(xlabel="unseen accuracy", ylabel="seen accuracy", xlim=(0, 1), ylim=(0, 1))
        ax1.set_title("GZSL seen-unseen curve", fontsize=10)
        ax1.set_aspect("equal", adjustable="box")
        ax1.legend(loc="upper right", fontsize=8)
        ax1.grid(alpha=0.3)
        if many:
            ax3 = fig.add_subplot(grid[1, 0])
            bins = [i / 20 for i in range(21)]
            ax3.hist([float(r["zsl_top1"]) for r in unseen], bins=bins, alpha=0.7, label="ZSL")
            ax3.hist([float(r.get("gzsl_top1") or 0.0) for r in unseen], bins=bins, alpha=0.7, label="GZSL")
            ax3.set(xlabel="per-class top-1 accuracy", ylabel="classes", xlim=(0, 1))
            ax3.set_title(f"All {n} unseen classes", fontsize=10)
            ax3.legend(fontsize=8)
            ax3.grid(axis="y", alpha=0.3)
        ax2 = fig.add_subplot(grid[:, 1])
        ys = list(range(rows))
        zsl = [float(r["zsl_top1"]) if r else 0.0 for r in shown]
        gzsl = [float(r.get("gzsl_top1") or 0.0) if r else 0.0 for r in shown]
        ax2.barh([y - 0.2 for y in ys], zsl, height=0.4, color="tab:blue", label="ZSL (unseen candidates)")
        ax2.barh([y + 0.2 for y in ys], gzsl, height=0.4, color="tab:orange", label="GZSL (all candidates)")
        ax2.set_yticks(ys, [label(r) if r else "⋯" for r in shown], fontsize=8 if rows <= 30 else 7)
        ax2.set_ylim(rows - 0.5, -0.5)  # best at the top
        ax2.set(xlabel="top-1 accuracy", xlim=(0, 1))
        if many:
            ax2.axhline(half, color="grey", lw=0.8, ls="--")
            ax2.set_title(
                f"Unseen classes: the {half} best and {half} worst of {n} by ZSL accuracy (all in per_class.csv)",
                fontsize=10,
            )
        else:
            ax2.set_title(f"Unseen classes ({n}): per-class accuracy, by ZSL accuracy", fontsize=10)
        ax2.legend(fontsize=8, loc="lower right")
        ax2.grid(axis="x", alpha=0.3)
        fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
