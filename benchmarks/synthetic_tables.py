"""Synthetic-feature tables: methods side by side on the synthetic AWA2 stand-in, 3 seeds.

No image features can be had on the machines this project is built on, so these tables
run every method on ``synthetic_benchmark`` (:class:`kgzsl.data.synthetic.SyntheticBenchmark`):
features at the real AWA2 geometry (its real class split, split sizes and attributes,
2048-d) whose class means are a hidden function of the real attributes. They compare
methods with each other and check that each works end to end at a realistic size; they
are **not benchmark results** and every table says "synthetic features".

Each method runs through :func:`kgzsl.pipeline.run_experiment` exactly as ``kgzsl run``
would: its hyper-parameters chosen on the validation classes (its ``default_select`` grid or
the suite's), γ of calibrated stacking chosen on validation, ZSL top-1 and GZSL S / U / H
with and without calibrated stacking on the test splits, for each seed (``train.seed``; the
data stay the same). The table is mean ± sample std over the seeds
(:func:`kgzsl.tables.gather_runs`), written as markdown beside this script.

Suites:

* ``embedding``: DeViSE, ALE, SJE, ESZSL, SAE (calibrated stacking must raise their H).
* ``propagation``: GCNZ and DGP through DGP's ImageNet WordNet graph (the AWA2 classes and
  their WordNet ancestors; needs WordNet 3.0, see ``make wordnet``).

The generative methods' table is ``fidelity_generative.py``; GCNZ / DGP at the ImageNet-21K
class counts are ``synthetic_propagation.py``.

Usage::

    KGZSL_SHARED_DATA=../shared/data python benchmarks/synthetic_tables.py embedding [--quick]
        [--seeds 0 1 2] [--methods eszsl sae] [--out runs/synthetic-tables] [--write FILE.md]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: the synthetic AWA2 stand-in (real split sizes and attributes, 2048-d)
DATASET: dict[str, Any] = {"name": "synthetic_benchmark", "benchmark": "AWA2"}

#: suite → method → extra config sections (``method`` keys merged into ``{name: ...}``)
SUITES: dict[str, dict[str, dict[str, Any]]] = {
    "embedding": {
        "devise": {},
        "ale": {},
        "sje": {},
        "eszsl": {},
        "sae": {},
    },
    # GCNZ / DGP through DGP's ImageNet WordNet graph (kgzsl/configs/awa2_dgp_wordnet.yaml):
    # the AWA2 classes and their WordNet ancestors, class inputs the attributes, ancestors the
    # mean of the classes below them
    "propagation": {
        name: {
            "knowledge": {"name": "wordnet", "dgp_folder": "{shared}/imagenet/dgp"},
            "method": {"class_map": "{shared}/imagenet/dgp/awa2-split.json", "other_inputs": "descendants"},
        }
        for name in ("gcnz", "dgp")
    },
}

#: what ``--quick`` changes (a smoke run: 256-d features, one seed, short schedules)
QUICK_DATASET = {"n_features": 256}
QUICK_METHOD: dict[str, dict[str, Any]] = {
    "devise": {"select": {"method.lr": [0.01], "method.epochs": [5]}},
    "ale": {"select": {"method.lr": [0.01], "method.epochs": [5]}},
    "sje": {"select": {"method.lr": [0.01], "method.epochs": [5]}},
}

METRICS = [
    "zsl/top1",
    "gzsl/seen",
    "gzsl/unseen",
    "gzsl/h",
    "gzsl_cs/seen",
    "gzsl_cs/unseen",
    "gzsl_cs/h",
]


def _shared(value: Any) -> Any:
    """``{shared}`` in a string → the shared data folder (``$KGZSL_SHARED_DATA``)."""
    from kgzsl.resources import shared_data_dir

    if isinstance(value, dict):
        return {k: _shared(v) for k, v in value.items()}
    return value.replace("{shared}", str(shared_data_dir())) if isinstance(value, str) else value


def config_for(method: str, extra: dict[str, Any], quick: bool) -> dict[str, Any]:
    """The run config of ``method`` in a suite."""
    extra = _shared(extra)
    dataset = {**DATASET, **(QUICK_DATASET if quick else {})}
    cfg: dict[str, Any] = {
        "dataset": dataset,
        "semantics": {"name": "dataset", "key": "att"},
        "method": {"name": method, **extra.get("method", {})},
        "train": {"device": "auto"},
        "eval": {"calibrate": True, "select_by": "gzsl_h"},
    }
    for section in ("knowledge", "classifier", "select"):
        if section in extra:
            cfg[section] = extra[section]
    if quick:
        for section, value in QUICK_METHOD.get(method, {}).items():
            cfg[section] = value
    return cfg


def run_suite(
    suite: str, methods: list[str] | None, seeds: list[int], out: Path, quick: bool
) -> tuple[str, list[dict[str, Any]]]:
    """Run every (method, seed) of ``suite`` into ``out`` (finished runs are reused); return the table."""
    from kgzsl.pipeline import run_experiment
    from kgzsl.results import run_dir_for
    from kgzsl.tables import format_runs_table, gather_runs

    chosen = SUITES[suite] if not methods else {m: SUITES[suite].get(m, {}) for m in methods}
    folders = []
    for method, extra in chosen.items():
        cfg = config_for(method, extra, quick)
        stem = f"{suite}-{method}" + ("-quick" if quick else "")
        for seed in seeds:
            if not (run_dir_for(out, stem, seed) / "metrics.json").is_file():
                start = time.perf_counter()
                run_experiment(cfg, stem=stem, out=out, seed=seed, progress=False)
                print(f"{method} seed {seed}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
        folders.append(out / stem)
    rows = gather_runs(folders)
    size = "256-d, quick schedules" if quick else "2048-d"
    title = (
        f"{suite} methods on the synthetic AWA2 stand-in (real split sizes and attributes, {size}) — "
        f"synthetic features, not benchmark results; mean ± std over seeds {', '.join(map(str, seeds))}"
    )
    return format_runs_table(rows, METRICS, title=title), rows


def chosen_settings(rows: list[dict[str, Any]]) -> str:
    """What validation chose for each method (first seed), as a markdown list."""
    lines = ["Chosen on the validation classes (first seed's run; applied to the trainval fit):", ""]
    for row in rows:
        cfg = row["config"]
        method = {k: v for k, v in cfg["method"].items() if k not in ("name", "seed", "device")}
        clf = cfg.get("classifier") or {}
        shown = ", ".join(f"{k}={v}" for k, v in method.items())
        if clf:
            shown += "; classifier " + ", ".join(f"{k}={v}" for k, v in clf.items() if k not in ("seed", "device"))
        lines.append(f"- {row['method'].split(' ')[0]}: {shown}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("suite", choices=sorted(SUITES))
    p.add_argument("--methods", nargs="*", default=None)
    p.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    p.add_argument("--quick", action="store_true", help="256-d features, one seed, short schedules")
    p.add_argument("--out", type=Path, default=Path("runs") / "synthetic-tables")
    p.add_argument("--write", type=Path, default=None, help="markdown file (default: beside this script)")
    args = p.parse_args(argv)
    seeds = args.seeds[:1] if args.quick else args.seeds
    table, rows = run_suite(args.suite, args.methods, seeds, args.out, args.quick)
    text = f"{table}\n\n{chosen_settings(rows)}\n"
    print(text)
    dest = args.write or HERE / f"synthetic_awa2_{args.suite}{'_quick' if args.quick else ''}.md"
    command = "KGZSL_SHARED_DATA=../shared/data python benchmarks/synthetic_tables.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    dest.write_text(f"{text}\nMade with `{command}`.\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
