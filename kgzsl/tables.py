"""``kgzsl table``: gather run folders into one results table (mean ± std over seeds).

A run folder (``<out>/<experiment>/seed-<n>/``, see :mod:`kgzsl.results`) holds
``config.yaml``, ``metrics.json`` and ``meta.json``. :func:`gather_runs` takes run folders,
experiment folders (holding ``seed-*/``) or any folder above them, and makes one row per
experiment and config variant: the seeds of one variant are averaged, with their sample
standard deviation. :func:`format_runs_table` writes the rows as markdown or CSV; a table
with any run on synthetic features says so in its title.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import json
import math
import os
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from kgzsl.config import load_yaml
from kgzsl.errors import ConfigError, DataError

__all__ = [
    "RUN_FILES",
    "DEFAULT_METRICS",
    "find_run_dirs",
    "load_run",
    "describe_semantics",
    "describe_method",
    "gather_runs",
    "format_runs_table",
    "add_parser",
    "run",
]

#: the files every run folder holds (and that :func:`gather_runs` reads)
RUN_FILES = ("config.yaml", "metrics.json", "meta.json")

#: default columns: metric key → markdown header
DEFAULT_METRICS: dict[str, str] = {
    "zsl/top1": "ZSL T1",
    "gzsl/seen": "S",
    "gzsl/unseen": "U",
    "gzsl/h": "H",
    "gzsl_cs/seen": "S (CS)",
    "gzsl_cs/unseen": "U (CS)",
    "gzsl_cs/h": "H (CS)",
    "gzsl/ausuc": "AUSUC",
}

#: config keys that do not change what a run computes: seeds of one variant share the rest
_NOT_VARIANT = {("train", "seed"), ("train", "cache"), ("train", "cache_dir"), ("train", "progress")}

#: the parameters that tell an encoder's variants apart, shown after its name (``kge:transe``)
_SEMANTICS_KEYS: dict[str, tuple[str, ...]] = {
    "kge": ("model",),
    "sentence": ("model",),
    "clip_text": ("arch", "weights"),
    "word_vectors": ("path",),
    "ontozsl": ("text_encoder",),
    "precomputed": ("path",),
    "dataset": ("key",),
    "rgcn": ("decomposition",),
}
#: encoders that read class texts: which texts is shown in parentheses (``sentence:… (label)``)
_TEXT_ENCODERS = {"sentence", "clip_text", "word_vectors", "ontozsl"}
_DEFAULT_VALUES = {("sentence", "model"): "all-MiniLM-L6-v2"}
_METHOD_KEYS: dict[str, tuple[str, ...]] = {"sae": ("direction",), "ale": ("loss",)}

_FRACTION_RE = re.compile(r"(^|/)(top\d*|seen|unseen|h|ausuc|hits?@\d+|mrr|acc\w*)$")


# --------------------------------------------------------------------------- reading run folders


def _is_run_dir(path: Path) -> bool:
    return any((path / name).is_file() for name in RUN_FILES)


def find_run_dirs(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The run folders in ``paths``: each path is a run folder or a folder above run folders.

    Hidden folders (a run's staging folder ``.seed-0.tmp-…``) are skipped. A path that does not
    exist, or under which there is no run folder, is a :class:`DataError`.
    """
    found: dict[Path, None] = {}
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise DataError(f"{path}: no such run folder")
        if not path.is_dir():
            raise DataError(f"{path}: not a folder (give run folders, experiment folders or a folder above them)")
        if _is_run_dir(path):
            found[path.resolve()] = None
            continue
        before = len(found)
        for root, dirs, _ in os.walk(path, onerror=None):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            here = Path(root)
            if here != path and _is_run_dir(here):
                found[here.resolve()] = None
                dirs[:] = []
        if len(found) == before:
            raise DataError(f"{path}: no run folders under it (a run folder holds {', '.join(RUN_FILES)})")
    return sorted(found)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: not valid JSON: {e.msg}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None


def _read_yaml(path: Path) -> Any:
    import yaml

    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise DataError(f"{path}{where}: not valid YAML: {problem}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None


def load_run(path: str | os.PathLike) -> dict[str, Any]:
    """One run folder's ``config`` (dict), ``metrics`` (flat, floats), ``meta`` (dict) and ``seed``.

    A missing or malformed file is a :class:`DataError` naming it (and the line).
    """
    path = Path(path)
    missing = [name for name in RUN_FILES if not (path / name).is_file()]
    if missing:
        holds = ", ".join(RUN_FILES)
        raise DataError(f"{path}: not a complete run folder: {', '.join(missing)} missing (a run folder holds {holds})")
    config = _read_yaml(path / "config.yaml")
    if not isinstance(config, dict):
        raise DataError(f"{path / 'config.yaml'}: expected a mapping of config sections")
    for section in ("semantics", "method"):
        value = config.get(section)
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            raise DataError(f"{path / 'config.yaml'}: {section}: expected a mapping with a name")
    raw = _read_json(path / "metrics.json")
    if not isinstance(raw, dict):
        raise DataError(f"{path / 'metrics.json'}: expected a JSON object of metric → number")
    metrics: dict[str, float] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if str(key).startswith("select/") and isinstance(value, str | bool):
            continue  # a value chosen on validation (select/method.direction = "s2f"): not a metric
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DataError(f"{path / 'metrics.json'}: {key}: expected a number, got {value!r}")
        metrics[str(key)] = float(value)
    meta = _read_json(path / "meta.json")
    if not isinstance(meta, dict):
        raise DataError(f"{path / 'meta.json'}: expected a JSON object")
    seed = meta.get("seed", (config.get("train") or {}).get("seed"))
    if seed is None:
        m = re.fullmatch(r"seed-(\d+)", path.name)
        seed = int(m[1]) if m else None
    return {"path": path, "config": config, "metrics": metrics, "meta": meta, "seed": seed}


# --------------------------------------------------------------------------- describing a run


def _show(value: Any) -> str:
    if isinstance(value, str) and ("/" in value or os.sep in value):
        return Path(value).name or value  # a file or folder: its name is what tells runs apart
    return str(value)


def describe_semantics(section: dict[str, Any]) -> str:
    """``kge:transe``, ``sentence:all-MiniLM-L6-v2 (label)``, ``dataset:attributes``, ``kg_attributes``.

    The encoder's name, then the parameters that say which model it is, then (for encoders
    of class texts) which texts.
    """
    name = str(section.get("name"))
    parts = []
    for key in _SEMANTICS_KEYS.get(name, ()):
        value = section.get(key)
        if value is None:
            value = _DEFAULT_VALUES.get((name, key))
        if value is not None:
            parts.append(_show(value))
    text = name + (":" + "/".join(parts) if parts else "")
    if name in _TEXT_ENCODERS and section.get("texts"):
        text += f" ({section['texts']})"
    return text


def describe_method(method: dict[str, Any], classifier: dict[str, Any] | None) -> str:
    """``eszsl``, ``sae:s2f``, ``cvae + softmax`` (a generative method and its classifier).

    A saved config holds a ``classifier`` section only when the method used one
    (:func:`kgzsl.config.resolve` drops it otherwise), so its presence is enough.
    """
    name = str(method.get("name"))
    parts = [_show(method[k]) for k in _METHOD_KEYS.get(name, ()) if method.get(k) is not None]
    text = name + (":" + "/".join(parts) if parts else "")
    if isinstance(classifier, dict) and classifier.get("name"):
        text += f" + {classifier['name']}"
    return text


def _dataset_name(run: dict[str, Any]) -> str:
    summary = run["meta"].get("dataset")
    if isinstance(summary, str):
        m = re.match(r"ZSLDataset '([^']*)'", summary)
        if m:
            return m[1]
    section = run["config"].get("dataset")
    return str(section.get("name")) if isinstance(section, dict) else "?"


def _flatten(value: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    if isinstance(value, dict):
        out: dict[tuple[str, ...], Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, (*prefix, str(k))))
        return out
    return {prefix: value}


def _variant(config: dict[str, Any]) -> str:
    """The config as one string, less what may differ between the seeds of one variant.

    That is the seed (and cache settings), and the parameters of the ``select:`` grid: the
    config saved with a run holds the values chosen on that seed's validation split.
    """
    searched = set(config.get("select") or {}) if isinstance(config.get("select"), dict) else set()
    flat = {k: v for k, v in _flatten(config).items() if k[:2] not in _NOT_VARIANT and ".".join(k) not in searched}
    return json.dumps({".".join(k): v for k, v in flat.items()}, sort_keys=True, default=str)


# --------------------------------------------------------------------------- gathering


def _mean_std(values: list[float]) -> tuple[float, float | None]:
    mean = math.fsum(values) / len(values)
    if len(values) < 2:
        return mean, None
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _relaxed(method: str) -> bool:
    """Whether a method is a *relaxed* zero-shot setting (CLIP: its pretraining may hold the unseen classes)."""
    from kgzsl.registry import METHODS

    try:
        return bool(getattr(METHODS.get(method), "relaxed", False))
    except ConfigError:  # a method this kgzsl does not know (a run from another version)
        return False


def gather_runs(paths: Iterable[str | os.PathLike]) -> list[dict[str, Any]]:
    """One row per experiment and config variant, over the run folders in ``paths``.

    Runs in one experiment folder whose configs are equal but for the seed are one variant:
    the row holds each metric's mean over them and (with two or more seeds) its sample
    standard deviation. Runs of one folder with different configs become separate rows
    named after what differs (``demo [semantics.name=kge]``).

    Returns:
        rows, in order of experiment: ``experiment``, ``dataset``, ``method``, ``semantics``,
        ``synthetic_features`` (``True``/``False``, ``None`` if meta.json does not say),
        ``seeds``, ``n_seeds``, ``runs`` (folders), ``config`` (the first run's), ``mean`` and
        ``std`` (metric → value; std ``None`` with one seed) and ``count`` (metric → number of
        seeds that have it).
    """
    runs = [load_run(p) for p in find_run_dirs(paths)]
    groups: dict[tuple[Path, str], list[dict[str, Any]]] = {}
    for r in runs:
        exp_dir = r["path"].parent if re.fullmatch(r"seed-\d+", r["path"].name) else r["path"]
        groups.setdefault((exp_dir, _variant(r["config"])), []).append(r)
    labels = _experiment_labels(groups)
    rows = []
    for key, members in groups.items():
        members.sort(key=lambda r: (r["seed"] is None, r["seed"] if isinstance(r["seed"], int) else 0, r["path"]))
        first = members[0]
        synthetic = {m["meta"].get("synthetic_features") for m in members}
        keys = list(dict.fromkeys(k for m in members for k in m["metrics"]))
        mean, std, count = {}, {}, {}
        for k in keys:
            values = [m["metrics"][k] for m in members if k in m["metrics"]]
            mean[k], std[k] = _mean_std(values)
            count[k] = len(values)
        rows.append(
            {
                "experiment": labels[key],
                "dataset": _dataset_name(first),
                "method": describe_method(first["config"]["method"], first["config"].get("classifier")),
                "semantics": describe_semantics(first["config"]["semantics"]),
                "synthetic_features": True if True in synthetic else (False if synthetic == {False} else None),
                "relaxed": _relaxed(first["config"]["method"]["name"]),
                "seeds": [m["seed"] for m in members],
                "n_seeds": len(members),
                "runs": [m["path"] for m in members],
                "config": first["config"],
                "mean": mean,
                "std": std,
                "count": count,
            }
        )
    _disambiguate(rows, "semantics", ("semantics",))
    _disambiguate(rows, "method", ("method", "classifier"))
    rows.sort(key=lambda row: row["experiment"])
    return rows


def _disambiguate(rows: list[dict[str, Any]], column: str, sections: tuple[str, ...]) -> None:
    """Rows whose ``column`` reads alike but whose config ``sections`` differ get what differs appended.

    ``kg_attributes`` and ``kg_attributes`` become ``kg_attributes (hierarchy=True)`` and
    ``kg_attributes (hierarchy=False)``. Seeds, devices and searched parameters are left out.
    """

    def params(row: dict[str, Any]) -> dict[str, str]:
        config = row["config"]
        searched = set(config.get("select") or {}) if isinstance(config.get("select"), dict) else set()
        out = {}
        for section in sections:
            for key, value in _flatten(config.get(section) or {}, (section,)).items():
                dotted = ".".join(key)
                if key[-1] not in ("seed", "device", "name") and dotted not in searched:
                    out[dotted if len(sections) > 1 else ".".join(key[1:])] = json.dumps(value, default=str)
        return out

    by_text: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_text.setdefault(row[column], []).append(row)
    for text, same in by_text.items():
        if len(same) < 2:
            continue
        flats = [params(row) for row in same]
        differing = sorted(k for k in set().union(*flats) if len({f.get(k) for f in flats}) > 1)
        if not differing:
            continue
        for row, flat in zip(same, flats, strict=True):
            shown = ", ".join(f"{k}={_plain(flat.get(k))}" for k in differing[:3])
            row[column] = f"{text} ({shown}{', …' if len(differing) > 3 else ''})"


def _plain(value: str | None) -> str:
    """A JSON-encoded parameter value as a reader would write it: ``true`` → ``True``, ``"x"`` → ``x``."""
    if value is None:
        return "–"
    decoded = json.loads(value)
    return _show(decoded) if isinstance(decoded, str) else str(decoded)


def _experiment_labels(groups: dict[tuple[Path, str], list[dict[str, Any]]]) -> dict[tuple[Path, str], str]:
    """The experiment folder's name; its path where names repeat; what differs where variants share a folder."""
    dirs = list(dict.fromkeys(d for d, _ in groups))
    names = {d: d.name for d in dirs}
    if len(set(names.values())) < len(dirs):
        common = Path(os.path.commonpath([str(d) for d in dirs]))
        names = {d: str(d.relative_to(common)) if d != common else d.name for d in dirs}
    labels = {}
    for d in dirs:
        variants = [v for dd, v in groups if dd == d]
        if len(variants) == 1:
            labels[(d, variants[0])] = names[d]
            continue
        flats = [json.loads(v) for v in variants]
        differing = sorted(k for k in set().union(*flats) if len({json.dumps(f.get(k)) for f in flats}) > 1)
        for v, flat in zip(variants, flats, strict=True):
            shown = ", ".join(f"{k}={flat.get(k)}" for k in differing[:3]) + (", …" if len(differing) > 3 else "")
            labels[(d, v)] = f"{names[d]} [{shown}]"
    return labels


# --------------------------------------------------------------------------- formatting


def _is_fraction(key: str) -> bool:
    return not key.startswith("time/") and bool(_FRACTION_RE.search(key))


def _fmt(key: str, value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    if _is_fraction(key):
        return f"{100 * value:.2f}"
    return f"{value:.4g}"


def _choose_metrics(rows: list[dict[str, Any]], metrics: Sequence[str] | None) -> list[str]:
    available = list(dict.fromkeys(k for row in rows for k in row["mean"]))
    if not metrics:
        return [k for k in DEFAULT_METRICS if k in available] or available[:8]
    unknown = [m for m in metrics if m not in available]
    if unknown:
        close = difflib.get_close_matches(unknown[0], available, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        shown = ", ".join(available[:30]) + (", …" if len(available) > 30 else "")
        raise ConfigError(f"--metrics: no run has {unknown[0]!r}{hint}; available: {shown}")
    return list(dict.fromkeys(metrics))


def format_runs_table(
    rows: list[dict[str, Any]],
    metrics: Sequence[str] | None = None,
    format: str = "markdown",
    title: str | None = None,
) -> str:
    """The rows of :func:`gather_runs` as a markdown table (accuracies in percent) or CSV.

    Args:
        rows: from :func:`gather_runs`.
        metrics: metric keys for the columns (default: ZSL top-1, GZSL S/U/H, with calibrated
            stacking, AUSUC — those that some run has).
        format: ``markdown`` (``mean ± std``, accuracies in percent) or ``csv`` (one column per
            metric and one ``<metric> std``, values as in ``metrics.json``, unrounded).
        title: the markdown title (default: the datasets; ``— synthetic features`` is
            appended whenever a run used them).
    """
    if format not in ("markdown", "csv"):
        raise ConfigError(f"--format: expected markdown or csv, got {format!r}")
    if not rows:
        raise DataError("no runs to tabulate")
    keys = _choose_metrics(rows, metrics)
    synthetic = [row for row in rows if row["synthetic_features"]]
    unknown = [row for row in rows if row["synthetic_features"] is None]
    mixed = len({row["synthetic_features"] for row in rows}) > 1

    def features(row: dict[str, Any]) -> str:
        return {True: "synthetic", False: "real", None: "unknown"}[row["synthetic_features"]]

    if format == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        head = ["experiment", "dataset", "method", "semantics", "features", "n_seeds", "seeds"]
        writer.writerow(head + [c for k in keys for c in (k, f"{k} std")])
        for row in rows:
            cells = [row[c] for c in head[:4]] + [features(row), row["n_seeds"], " ".join(map(str, row["seeds"]))]
            for k in keys:
                mean, std = row["mean"].get(k), row["std"].get(k)
                cells += ["" if mean is None else repr(mean), "" if std is None else repr(std)]
            writer.writerow(cells)
        return buf.getvalue()

    datasets = ", ".join(dict.fromkeys(row["dataset"] for row in rows))
    if title is None:
        title = f"Results on {datasets}"
    if synthetic and "synthetic features" not in title:
        title += " — synthetic features" + (" (some runs)" if mixed else "")
    relaxed = any(row.get("relaxed") for row in rows)
    if relaxed and "relaxed setting" not in title:
        title += " — relaxed setting (‡): a pretrained model may have seen the unseen classes"
    headers = ["experiment", "dataset", "method", "semantics"] + (["features"] if mixed else []) + ["seeds"]
    headers += [DEFAULT_METRICS.get(k, k) for k in keys]
    n_text = len(headers) - len(keys)
    lines = [f"**{title}**", "", "| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join("---" if i < n_text else "---:" for i in range(len(headers))) + "|")
    fewer = False
    for row in rows:
        method = row["method"] + (" ‡" if row.get("relaxed") else "")
        cells = [row["experiment"], row["dataset"], method, row["semantics"]]
        cells += [features(row)] if mixed else []
        cells.append(str(row["n_seeds"]))
        for k in keys:
            mean, std = row["mean"].get(k), row["std"].get(k)
            cell = _fmt(k, mean)
            if mean is not None and std is not None:
                cell += f" ± {_fmt(k, std)}"
            if mean is not None and row["count"].get(k, 0) < row["n_seeds"]:
                cell += " †"
                fewer = True
            cells.append(cell)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines.append("")
    notes = ["Mean ± sample standard deviation over the seeds of each row (one seed: no spread)."]
    if any(_is_fraction(k) for k in keys):
        notes.append("Accuracies in percent.")
    if set(keys) & set(DEFAULT_METRICS):
        notes.append(
            "ZSL T1: per-class top-1 over unseen classes; S/U/H: GZSL per-class accuracy on seen / unseen "
            "test images and their harmonic mean; CS: calibrated stacking (γ chosen on validation); "
            "AUSUC: area under the seen-unseen curve."
        )
    if fewer:
        notes.append("†: not every seed of the row has this metric; the mean is over those that do.")
    if synthetic:
        notes.append("Synthetic features are stand-ins for image features: these are not benchmark results.")
    if unknown:
        notes.append(
            f"{len(unknown)} row(s) with features 'unknown': their meta.json does not say whether the features "
            "were synthetic."
        )
    lines.extend(notes)
    return "\n".join(lines)


# --------------------------------------------------------------------------- command line


def add_parser(sub: Any, parser_class: type) -> None:
    """Add the ``table`` command to the subparsers ``sub``."""
    del parser_class  # one level of commands: the subparsers' own class is used
    p = sub.add_parser(
        "table",
        help="gather run folders into one results table (mean ± std over seeds)",
        description="Gather run folders (a run folder, an experiment folder with seed-*/, or any folder above "
        "them) into one table: one row per experiment and config variant, mean ± std over its seeds.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--format", choices=["markdown", "csv"], default="markdown", help="default: markdown")
    p.add_argument(
        "--metrics",
        action="append",
        metavar="KEYS",
        help="metric keys for the columns, comma-separated or repeated (default: zsl/top1, gzsl S/U/H, "
        "gzsl_cs S/U/H, gzsl/ausuc)",
    )
    p.add_argument("--title", help="the markdown table's title (default: the datasets)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the table to FILE instead of printing it")


def run(args: argparse.Namespace) -> int:
    """Run ``kgzsl table ...``; returns the exit code."""
    metrics = [m.strip() for group in args.metrics or [] for m in group.split(",") if m.strip()] or None
    text = format_runs_table(gather_runs(args.runs), metrics=metrics, format=args.format, title=args.title)
    if args.output:
        from kgzsl.utils import atomic_write_text

        out = Path(args.output)
        if out.is_dir():
            raise DataError(f"{out}: is a folder; give a file name for --output")
        if not out.parent.is_dir():
            raise DataError(f"{out}: its folder {out.parent} does not exist")
        try:
            atomic_write_text(out, text if text.endswith("\n") else text + "\n")
        except OSError as e:
            raise DataError(f"{out}: cannot write: {e.strerror or e}") from None
        print(f"wrote {out}", file=sys.stderr)
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    return 0
