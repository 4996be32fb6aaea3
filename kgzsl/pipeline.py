"""One experiment run: dataset → knowledge → class semantics → method → evaluation → run folder.

Model selection never looks at test data: when ``eval.calibrate`` is on, the method is first
fitted on the ``train`` split with the ``val`` classes playing the unseen classes, and the
calibrated-stacking factor γ is chosen there; the method is then refitted on ``trainval``
and evaluated once on the test splits.
"""

from __future__ import annotations

import copy
import csv
import io
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kgzsl.config import dump_config, resolve
from kgzsl.errors import DataError
from kgzsl.registry import CLASSIFIERS, DATASETS, KNOWLEDGE, METHODS, SEMANTICS
from kgzsl.results import check_free, collect_meta, format_table, plot_run, run_dir_for, staged_run_dir, write_json
from kgzsl.utils import atomic_write_text, resolve_device, seed_everything

__all__ = ["RunResult", "run_experiment", "holdout_seen_images"]


@dataclass
class RunResult:
    """What a run produced: its folder, flat metrics and the printed table."""

    run_dir: Path
    metrics: dict[str, float]
    table: str
    config: dict[str, Any] = field(default_factory=dict)


def holdout_seen_images(
    labels: np.ndarray, idx: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split image indices ``idx`` per class into (fit, held-out) with ``fraction`` held out (≥1 per class)."""
    rng = np.random.default_rng(seed)
    fit, held = [], []
    for c in np.unique(labels[idx]):
        members = rng.permutation(idx[labels[idx] == c])
        n = max(1, int(round(fraction * len(members)))) if len(members) > 1 else 0
        held.append(members[:n])
        fit.append(members[n:])
    return np.sort(np.concatenate(fit)), np.sort(np.concatenate(held))


def _fit(cfg: dict[str, Any], task: Any, seed: int) -> Any:
    seed_everything(seed)
    m = dict(cfg["method"])
    method = METHODS.build(m.pop("name"), where="method", **m)
    classifier = None
    if cfg["classifier"] is not None and method.uses_classifier:
        c = dict(cfg["classifier"])
        classifier = CLASSIFIERS.build(c.pop("name"), where="classifier", **c)
    return method.fit(task, classifier=classifier)


def _scores(method: Any, features: Any, batch: int = 8192) -> np.ndarray:
    import torch

    with torch.no_grad():
        parts = [method.decision_function(features[i : i + batch]) for i in range(0, len(features), batch)]
    return torch.cat(parts).float().cpu().numpy() if parts else np.zeros((0, 0), dtype=np.float32)


def run_experiment(
    config: dict[str, Any],
    stem: str,
    out: str | os.PathLike = "runs",
    seed: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    config_file: str | os.PathLike | None = None,
) -> RunResult:
    """Run one experiment and write its run folder ``<out>/<stem>/seed-<n>/``.

    Args:
        config: the experiment config (unresolved or resolved).
        stem: name of the experiment, usually the config file's stem.
        out: parent folder of the runs.
        seed: overrides ``train.seed``.
        overwrite: replace an existing run folder of the same seed (otherwise an error).
        progress: show a progress bar.
        config_file: the config's file, hashed into ``meta.json``.
    """
    import torch
    from tqdm.auto import tqdm

    from kgzsl.evaluation import Evaluator, hit_at_k, per_class_accuracy
    from kgzsl.methods.base import ZSLTask
    from kgzsl.semantics.cache import encode_cached

    cfg = resolve(config)
    if seed is not None:
        cfg["train"]["seed"] = seed
    seed = cfg["train"]["seed"]
    run_dir = run_dir_for(out, stem, seed)
    check_free(run_dir, overwrite)  # fail before the work, not after
    device = resolve_device(cfg["train"]["device"])
    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    stages = 6 + int(cfg["eval"]["calibrate"])
    bar = tqdm(total=stages, disable=not progress, desc="kgzsl", unit="stage", leave=False)

    def stage(name: str) -> None:
        bar.set_description(f"kgzsl: {name}")

    try:
        stage("load dataset")
        t = time.perf_counter()
        d = dict(cfg["dataset"])
        dataset = DATASETS.build(d.pop("name"), where="dataset", **d).load()
        timings["time/data_s"] = time.perf_counter() - t
        bar.update()

        stage("load knowledge")
        kg, kg_files = None, []
        if cfg["knowledge"] is not None:
            k = dict(cfg["knowledge"])
            source = KNOWLEDGE.build(k.pop("name"), where="knowledge", **k)
            kg = source.build()
            kg_files = list(kg.source_files)
        bar.update()

        stage("encode class semantics")
        t = time.perf_counter()
        s = dict(cfg["semantics"])
        encoder = SEMANTICS.build(s.pop("name"), where="semantics", **s)

        def encode(view: Any) -> tuple[Any, str]:
            if cfg["train"]["cache"]:
                result, hit = encode_cached(encoder, kg, view, cfg["train"]["cache_dir"])
                state = "hit" if hit else "miss"
            else:
                result, state = encoder.encode(kg, view), "off"
            if list(result.ids) != list(dataset.class_ids):
                raise DataError("class embeddings are not aligned with the dataset's classes")
            if not np.isfinite(result.matrix).all():
                raise DataError("class embeddings contain NaN or infinite values")
            return result, state

        embeddings, cache_state = encode(dataset)
        timings["time/semantics_s"] = time.perf_counter() - t
        semantic_metrics = {f"semantics/{k}": v for k, v in getattr(encoder, "metrics_", {}).items()}
        bar.update()

        features = torch.as_tensor(dataset.features, device=device)
        labels = torch.as_tensor(dataset.labels, device=device)
        semantics = torch.as_tensor(embeddings.matrix, device=device)
        as_t = lambda a: torch.as_tensor(np.asarray(a), device=device)  # noqa: E731
        class_ids = list(dataset.class_ids)
        metrics: dict[str, float] = dict(semantic_metrics)
        gamma = None

        if cfg["eval"]["calibrate"]:
            stage(f"validate {cfg['method']['name']} (train → val classes)")
            t = time.perf_counter()
            fit_idx, val_seen_idx = holdout_seen_images(
                dataset.labels, dataset.splits["train"], cfg["eval"]["val_seen_fraction"], seed
            )
            train_classes, val_classes = dataset.train_classes, dataset.val_classes
            val_semantics = semantics
            if getattr(encoder, "reads_features", False):
                # encoders fitted to images (GCNZ / DGP targets) are refitted on what the
                # validation stage may see: the train classes' fit images, not the val classes'
                view = copy.copy(dataset)
                view.seen, view.splits = train_classes, {**dataset.splits, "trainval": fit_idx}
                val_semantics = torch.as_tensor(encode(view)[0].matrix, device=device)
            task = ZSLTask(
                features[fit_idx], labels[fit_idx], val_semantics, as_t(train_classes), as_t(val_classes), kg, class_ids
            )
            method = _fit(cfg, task, seed)
            val_eval = Evaluator(dataset.num_classes, train_classes, val_classes)
            v_seen, v_unseen = val_seen_idx, dataset.splits["val"]
            s_seen, s_unseen = _scores(method, features[v_seen]), _scores(method, features[v_unseen])
            y_seen, y_unseen = dataset.labels[v_seen], dataset.labels[v_unseen]
            gamma = val_eval.calibrate(s_seen, y_seen, s_unseen, y_unseen)
            val_metrics = val_eval.evaluate(s_seen, y_seen, s_unseen, y_unseen, gamma=gamma)
            metrics.update({f"val/{k}": v for k, v in val_metrics.items()})
            timings["time/val_s"] = time.perf_counter() - t
            bar.update()

        stage(f"fit {cfg['method']['name']} on trainval")
        t = time.perf_counter()
        tv = dataset.splits["trainval"]
        task = ZSLTask(features[tv], labels[tv], semantics, as_t(dataset.seen), as_t(dataset.unseen), kg, class_ids)
        method = _fit(cfg, task, seed)
        timings["time/train_s"] = time.perf_counter() - t
        bar.update()

        stage("evaluate on test")
        t = time.perf_counter()
        ts, tu = dataset.splits["test_seen"], dataset.splits["test_unseen"]
        s_seen, s_unseen = _scores(method, features[ts]), _scores(method, features[tu])
        y_seen, y_unseen = dataset.labels[ts], dataset.labels[tu]
        evaluator = Evaluator(dataset.num_classes, dataset.seen, dataset.unseen)
        metrics.update(evaluator.evaluate(s_seen, y_seen, s_unseen, y_unseen, gamma=gamma))
        if cfg["eval"]["hit_k"]:
            all_classes = np.concatenate([dataset.seen, dataset.unseen])
            for k, v in hit_at_k(s_unseen, y_unseen, dataset.unseen, ks=cfg["eval"]["hit_k"]).items():
                metrics[f"zsl/hit@{k}"] = v
            for k, v in hit_at_k(s_unseen, y_unseen, all_classes, ks=cfg["eval"]["hit_k"]).items():
                metrics[f"gzsl/hit@{k}"] = v
        curve = evaluator.curve(s_seen, y_seen, s_unseen, y_unseen)
        _, zsl_pc = per_class_accuracy(s_unseen, y_unseen, candidates=dataset.unseen)
        all_classes = np.concatenate([dataset.seen, dataset.unseen])
        _, gzsl_pc_u = per_class_accuracy(s_unseen, y_unseen, candidates=all_classes)
        _, gzsl_pc_s = per_class_accuracy(s_seen, y_seen, candidates=all_classes)
        timings["time/eval_s"] = time.perf_counter() - t
        bar.update()

        stage("write run folder")
        timings["time/total_s"] = time.perf_counter() - t_start
        metrics.update(timings)
        metrics = {k: float(v) for k, v in metrics.items()}
        per_class = [
            {
                "class": dataset.class_ids[c],
                "split": "unseen",
                "zsl_top1": zsl_pc.get(int(c)),
                "gzsl_top1": gzsl_pc_u.get(int(c)),
            }
            for c in dataset.unseen
        ] + [
            {"class": dataset.class_ids[c], "split": "seen", "zsl_top1": None, "gzsl_top1": gzsl_pc_s.get(int(c))}
            for c in dataset.seen
        ]
        kind = " — synthetic features" if dataset.synthetic else ""
        title = f"{stem}: {dataset.name}, {cfg['method']['name']}, seed {seed}{kind}"
        row = {"method": cfg["method"]["name"], "semantics": cfg["semantics"]["name"], **metrics}
        table = format_table([row], f"Results on {dataset.name}{kind} (seed {seed}, test splits)")
        input_files = list(dataset.source_files) + kg_files + ([Path(config_file)] if config_file else [])
        meta = collect_meta(
            input_files,
            device,
            {
                "experiment": stem,
                "seed": seed,
                "dataset": dataset.summary(),
                "synthetic_features": dataset.synthetic,
                "semantics_dim": embeddings.dim,
                "semantics_cache": cache_state,
                "model_selection": "gamma chosen on the validation split" if gamma is not None else "none",
            },
        )
        with staged_run_dir(run_dir, overwrite) as tmp:
            atomic_write_text(tmp / "config.yaml", dump_config(cfg))
            write_json(tmp / "metrics.json", metrics)
            write_json(tmp / "meta.json", meta)
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=["class", "split", "zsl_top1", "gzsl_top1"])
            writer.writeheader()
            writer.writerows(per_class)
            atomic_write_text(tmp / "per_class.csv", buf.getvalue())
            atomic_write_text(tmp / "results.md", table + "\n")
            plot_run(tmp / "plot.png", curve, metrics, per_class, title)
        bar.update()
    finally:
        bar.close()
    return RunResult(run_dir=run_dir, metrics=metrics, table=table, config=cfg)
