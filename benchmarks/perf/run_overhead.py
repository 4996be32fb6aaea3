"""Overhead of the run machinery on the demo run: ``run_experiment`` vs the bare fit.

``run_experiment`` = the demo config end to end: config checks, the run context, the
validation stage over the ``select:`` grid, the final fit, evaluation, and the run folder
(config, metrics, meta with input hashes, per-class CSV, plot, the saved model and class
embeddings), all through the staging folder.

The bare fit = the same work by hand with no machinery: load the dataset and the KG, encode
the class semantics (from the same warm cache), fit each grid point on ``train`` and score the
validation images, choose γ, fit the chosen point on ``trainval`` and score the test images —
no context, no checkpoints, nothing written.

A second figure does not depend on a quiet machine: within each ``run_experiment`` call, the
time outside its work stages (wall time minus ``time/{data,semantics,val,train,eval}_s``) is
what the machinery itself costs — config checks, staging, the context, saving the model,
hashing inputs and writing the folder (the plot included).

Both are timed ``--repeats`` times, alternating, after a warm-up of each with one-epoch
settings (imports, the class-embedding cache); the medians are compared, and the two must
produce the same test ZSL top-1. Writes one row to ``results.csv``::

    python benchmarks/perf/run_overhead.py [--repeats 3] [--set method.epochs=10 ...] [--no-record]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import machine, record, today  # noqa: E402


def bare_fit(cfg: dict[str, Any]) -> float:
    """The demo's work without the run machinery; returns the test ZSL top-1 (as a check)."""
    from kgzsl.context import RunContext

    with RunContext(progress=False).activate():  # only to silence the components' bars, as in the run
        return _bare_fit(cfg)


def _bare_fit(cfg: dict[str, Any]) -> float:
    import torch

    from kgzsl.evaluation import Evaluator
    from kgzsl.methods.base import ZSLTask
    from kgzsl.pipeline import holdout_seen_images
    from kgzsl.registry import CLASSIFIERS, DATASETS, KNOWLEDGE, METHODS, SEMANTICS
    from kgzsl.selection import apply_point, grid_points
    from kgzsl.semantics.cache import encode_cached
    from kgzsl.utils import seed_everything

    def build(registry: Any, spec: dict[str, Any]) -> Any:
        spec = dict(spec)
        return registry.build(spec.pop("name"), **spec)

    def fit(c: dict[str, Any], task: ZSLTask) -> Any:
        seed_everything(c["train"]["seed"])
        return build(METHODS, c["method"]).fit(task, classifier=build(CLASSIFIERS, c["classifier"]))

    def scores(method: Any, x: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return method.decision_function(x).float().numpy()

    ds = build(DATASETS, cfg["dataset"]).load()
    kg = build(KNOWLEDGE, cfg["knowledge"]).build()
    emb, _ = encode_cached(build(SEMANTICS, cfg["semantics"]), kg, ds, cfg["train"]["cache_dir"])
    x, y, s = torch.as_tensor(ds.features), torch.as_tensor(ds.labels), torch.as_tensor(emb.matrix)
    t = lambda a: torch.as_tensor(np.asarray(a))  # noqa: E731
    fit_idx, v_seen = holdout_seen_images(ds.labels, ds.splits["train"], cfg["eval"]["val_seen_fraction"], 0)
    v_unseen = ds.splits["val"]
    task = ZSLTask(x[fit_idx], y[fit_idx], s, t(ds.train_classes), t(ds.val_classes), kg, list(ds.class_ids))
    # the validation images a method may choose its own settings on (a generative method's
    # classifier epochs), as the run gives them
    v_all = np.concatenate([v_seen, v_unseen])
    task.val_features, task.val_labels, task.select_by = x[v_all], y[v_all], cfg["eval"]["select_by"]
    task.synthetic_features = bool(getattr(ds, "synthetic", False))
    val = Evaluator(ds.num_classes, ds.train_classes, ds.val_classes)
    best = None
    for point in grid_points(cfg["select"]):
        m = fit(apply_point(cfg, point), task)
        ss, su = scores(m, x[v_seen]), scores(m, x[v_unseen])
        gamma = val.calibrate(ss, ds.labels[v_seen], su, ds.labels[v_unseen])
        h = val.evaluate(ss, ds.labels[v_seen], su, ds.labels[v_unseen])["gzsl/h"]
        if best is None or h > best[0]:
            best = (h, {**point, **(getattr(m, "selected_", None) or {})}, gamma)
    tv = ds.splits["trainval"]
    task = ZSLTask(x[tv], y[tv], s, t(ds.seen), t(ds.unseen), kg, list(ds.class_ids))
    task.synthetic_features = bool(getattr(ds, "synthetic", False))
    m = fit(apply_point(cfg, best[1]), task)
    ts, tu = ds.splits["test_seen"], ds.splits["test_unseen"]
    test = Evaluator(ds.num_classes, ds.seen, ds.unseen)
    metrics = test.evaluate(scores(m, x[ts]), ds.labels[ts], scores(m, x[tu]), ds.labels[tu], gamma=best[2])
    test.curve(scores(m, x[ts]), ds.labels[ts], scores(m, x[tu]), ds.labels[tu])
    return metrics["zsl/top1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-record", action="store_true", help="print only; do not append to results.csv")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    from kgzsl.config import apply_overrides, default_config_path, load_config, resolve
    from kgzsl.pipeline import run_experiment

    cache = tempfile.mkdtemp(prefix="kgzsl-overhead-cache-")
    cfg = resolve(apply_overrides(load_config(default_config_path()), args.overrides))
    cfg["train"]["cache_dir"] = cache
    cfg["train"]["device"] = "cpu" if cfg["train"]["device"] == "auto" else cfg["train"]["device"]
    out = Path(tempfile.mkdtemp(prefix="kgzsl-overhead-runs-"))

    work_keys = [f"time/{k}_s" for k in ("data", "semantics", "val", "train", "eval")]
    machinery_s: list[float] = []

    def run_once(c: dict[str, Any], i: int) -> float:
        t = time.perf_counter()
        m = run_experiment(c, stem=f"r{i}", out=out, progress=False).metrics
        machinery_s.append(time.perf_counter() - t - sum(m.get(k, 0.0) for k in work_keys))
        return m["zsl/top1"]

    warm = resolve(apply_overrides(cfg, ["method.epochs=1", "classifier.epochs=1"]))
    run_once(warm, -1), bare_fit(warm)  # imports, the class-embedding cache
    machinery_s.clear()
    run_s, bare_s = [], []
    for i in range(args.repeats):
        t = time.perf_counter()
        zsl_run = run_once(cfg, i)
        run_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        zsl_bare = bare_fit(cfg)
        bare_s.append(time.perf_counter() - t)
        assert zsl_run == zsl_bare, f"the bare fit is not the same work: ZSL {zsl_run} vs {zsl_bare}"
    run_med, bare_med = statistics.median(run_s), statistics.median(bare_s)
    overhead = run_med / bare_med - 1.0
    print(f"{'':24} {'median s':>9}  runs")
    print(f"{'run_experiment (demo)':24} {run_med:9.2f}  {', '.join(f'{v:.2f}' for v in run_s)}")
    print(f"{'bare fit':24} {bare_med:9.2f}  {', '.join(f'{v:.2f}' for v in bare_s)}")
    machinery = statistics.median(machinery_s)
    share = machinery / (run_med - machinery)
    print(f"overhead: {100 * overhead:+.1f}% (target < 5%)")
    print(f"machinery inside the run (outside its work stages): {machinery:.2f} s = {100 * share:.1f}% of the work")
    if not args.no_record:
        n = len(grid_points_of(cfg))
        settings = f" ({' '.join(args.overrides)})" if args.overrides else ""
        note = (
            f"demo{settings}: {n}-point select grid + final fit; overhead {100 * overhead:+.1f}% (ratio = kgzsl / bare)"
        )
        record([[today(), machine(), "pipeline.run_overhead", args.repeats, n, f"{run_med:.3f}", f"{bare_med:.3f}",
                 f"{run_med / bare_med:.3f}", note]])  # fmt: skip


def grid_points_of(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    from kgzsl.selection import grid_points

    return grid_points(cfg["select"])


if __name__ == "__main__":
    main()
