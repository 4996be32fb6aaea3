"""One experiment run: dataset → knowledge → class semantics → method → evaluation → run folder.

:func:`run_experiment` only orchestrates; each stage is a small function below. A run builds
one :class:`~kgzsl.context.RunContext` (``train.seed``, ``train.device``, the progress setting
and the run's staging folder), activates it around the whole run and hands it to the encoder
and the method.

Model selection never looks at test data. The validation stage fits the method on the
``train`` split with the ``val`` classes playing the unseen classes, for every point of the
``select:`` grid (:mod:`kgzsl.selection`), and chooses there both the hyper-parameters and the
calibrated-stacking factor γ; the chosen point is then refitted on ``trainval`` and evaluated
once on the test splits. The trained model is saved in the run folder (``models/``), and
:func:`evaluate_run` rescores it on the same or other features without retraining.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kgzsl.config import apply_overrides, dump_config, load_config, resolve
from kgzsl.context import RunContext
from kgzsl.errors import ConfigError, DataError
from kgzsl.registry import CLASSIFIERS, DATASETS, KNOWLEDGE, METHODS, SEMANTICS
from kgzsl.results import (
    CHECKPOINTS,
    check_free,
    class_names,
    collect_meta,
    format_table,
    plot_run,
    run_dir_for,
    staged_run_dir,
    write_json,
    write_per_class,
)
from kgzsl.selection import PointScore, Selection, apply_point, grid_points, select_best
from kgzsl.utils import atomic_write_bytes, atomic_write_text, seed_everything

__all__ = ["RunResult", "run_experiment", "evaluate_run", "run_name", "holdout_seen_images", "fit_method"]

#: ``--set`` overrides that ``kgzsl evaluate`` accepts (the model itself is fixed)
EVALUATE_OVERRIDES = ("dataset.", "eval.hit_k", "train.device")


@dataclass
class RunResult:
    """What a run produced: its folder, flat metrics and the printed table."""

    run_dir: Path
    metrics: dict[str, Any]
    table: str
    config: dict[str, Any] = field(default_factory=dict)


def run_name(stem: str, overrides: list[str] | None = None, name: str | None = None) -> str:
    """The experiment folder's name: ``name`` if given, else ``stem`` plus the overrides.

    ``run_name("demo", ["semantics.name=kge"])`` is ``demo+semantics.name=kge``, so that variants
    of one config sit side by side; ``train.seed`` is left out (the seed has its own ``seed-N``
    folder). Characters other than letters, digits and ``._=,+-`` become ``_``; a name longer than
    80 characters keeps the stem and a short hash of the overrides.
    """
    if name is not None:
        if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith("."):
            raise ConfigError(f"--name {name!r}: expected a folder name (no '/', not starting with '.')")
        return name
    parts = [o.strip() for o in overrides or [] if not o.strip().startswith("train.seed=")]
    if not parts:
        return stem
    text = "+".join([stem, *parts])
    text = re.sub(r"[^A-Za-z0-9._=,+\-]", "_", text)
    if len(text) > 80:
        digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:10]
        text = f"{re.sub(r'[^A-Za-z0-9._=,+-]', '_', stem)}+{digest}"
    return text


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


def _with_context(fn: Any, *args: Any, context: RunContext, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs, context=context)``, leaving ``context`` out where ``fn`` takes none."""
    try:
        takes = "context" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        takes = False
    return fn(*args, **kwargs, context=context) if takes else fn(*args, **kwargs)


def fit_method(cfg: dict[str, Any], task: Any, context: RunContext) -> Any:
    """Build the config's method (and classifier, if the method uses one) and fit it on ``task``."""
    seed_everything(context.seed)
    m = dict(cfg["method"])
    method = METHODS.build(m.pop("name"), where="method", **m)
    classifier = None
    if cfg["classifier"] is not None and method.uses_classifier:
        c = dict(cfg["classifier"])
        classifier = CLASSIFIERS.build(c.pop("name"), where="classifier", **c)
    with context.activate():  # a fit's own context (its checkpoint folder) is the active one inside it
        return _with_context(method.fit, task, classifier=classifier, context=context)


def _scores(method: Any, features: Any, batch: int = 8192) -> np.ndarray:
    import torch

    with torch.no_grad():
        parts = [method.decision_function(features[i : i + batch]) for i in range(0, len(features), batch)]
    return torch.cat(parts).float().cpu().numpy() if parts else np.zeros((0, 0), dtype=np.float32)


# ----------------------------------------------------------------------------- stages


@contextmanager
def _remove_new_folders_on_error(folder: Path) -> Iterator[None]:
    """On an error, remove the folders up to ``folder`` that did not exist before (if still empty)."""
    new = [p for p in [folder, *folder.parents] if not p.exists()]
    try:
        yield
    except BaseException:
        for path in new:  # deepest first
            try:
                path.rmdir()
            except OSError:
                break
        raise


class _Stages:
    """The run's outer progress bar and its timings (``time/<key>_s``)."""

    def __init__(self, context: RunContext, total: int) -> None:
        self.bar = context.bar(total=total, desc="kgzsl", unit="stage")
        self.timings: dict[str, float] = {}
        self.start = time.perf_counter()

    @contextmanager
    def __call__(self, desc: str, key: str | None = None) -> Iterator[None]:
        self.bar.set_description(f"kgzsl: {desc}")
        t = time.perf_counter()
        yield
        if key:
            self.timings[f"time/{key}_s"] = time.perf_counter() - t
        self.bar.update()


@dataclass
class _Inputs:
    """The loaded dataset, knowledge graph and class embeddings, and the tensors on the run's device."""

    dataset: Any
    kg: Any
    kg_files: list[Path]
    encoder: Any
    embeddings: Any
    cache_state: str
    features: Any = None
    labels: Any = None
    semantics: Any = None
    source: Any = None  # the dataset component (streams its test images where it has iter_test)


def _load(cfg: dict[str, Any], ctx: RunContext, stage: _Stages) -> _Inputs:
    import torch

    with stage("load dataset", "data"):
        d = dict(cfg["dataset"])
        source = DATASETS.build(d.pop("name"), where="dataset", **d)
        dataset = source.load()
    with stage("load knowledge"):
        kg, kg_files = None, []
        if cfg["knowledge"] is not None:
            k = dict(cfg["knowledge"])
            kg = KNOWLEDGE.build(k.pop("name"), where="knowledge", **k).build()
            kg_files = list(kg.source_files)
    with stage("encode class semantics", "semantics"):
        s = dict(cfg["semantics"])
        encoder = SEMANTICS.build(s.pop("name"), where="semantics", **s)
        inputs = _Inputs(dataset, kg, kg_files, encoder, None, "off", source=source)
        inputs.embeddings, inputs.cache_state = _encode(cfg, inputs, dataset, ctx)
    device = ctx.torch_device
    inputs.features = torch.as_tensor(dataset.features, device=device)
    inputs.labels = torch.as_tensor(dataset.labels, device=device)
    inputs.semantics = torch.as_tensor(inputs.embeddings.matrix, device=device)
    return inputs


def _encode(cfg: dict[str, Any], inputs: _Inputs, view: Any, ctx: RunContext) -> tuple[Any, str]:
    from kgzsl.semantics.cache import encode_cached

    if cfg["train"]["cache"]:
        result, hit = _with_context(
            encode_cached, inputs.encoder, inputs.kg, view, cfg["train"]["cache_dir"], context=ctx
        )
        state = "hit" if hit else "miss"
    else:
        result, state = _with_context(inputs.encoder.encode, inputs.kg, view, context=ctx), "off"
    if list(result.ids) != list(inputs.dataset.class_ids):
        raise DataError("class embeddings are not aligned with the dataset's classes")
    if not np.isfinite(result.matrix).all():
        raise DataError("class embeddings contain NaN or infinite values")
    return result, state


def _task(inputs: _Inputs, idx: np.ndarray, semantics: Any, seen: Any, unseen: Any, val_idx: Any = None) -> Any:
    import torch

    from kgzsl.methods.base import ZSLTask

    dev = inputs.features.device
    as_t = lambda a: torch.as_tensor(np.asarray(a), device=dev)  # noqa: E731
    task = ZSLTask(
        inputs.features[idx],
        inputs.labels[idx],
        semantics,
        as_t(seen),
        as_t(unseen),
        inputs.kg,
        list(inputs.dataset.class_ids),
        synthetic_features=bool(getattr(inputs.dataset, "synthetic", False)),
        feature_backbone=getattr(inputs.dataset, "backbone", None),
    )
    if val_idx is not None:  # the validation stage: images a method may choose its own settings on
        task.val_features, task.val_labels = inputs.features[val_idx], inputs.labels[val_idx]
    return task


def _validate(cfg: dict[str, Any], inputs: _Inputs, ctx: RunContext) -> Selection:
    """The validation stage: every grid point fitted on ``train`` (``val`` classes unseen) and scored.

    Reads only the ``train`` and ``val`` splits: the test images are never indexed here.
    """
    from kgzsl.evaluation import Evaluator

    dataset, seed = inputs.dataset, ctx.seed
    fit_idx, val_seen_idx = holdout_seen_images(
        dataset.labels, dataset.splits["train"], cfg["eval"]["val_seen_fraction"], seed
    )
    train_classes, val_classes = dataset.train_classes, dataset.val_classes
    semantics = inputs.semantics
    v_seen, v_unseen = val_seen_idx, dataset.splits["val"]
    task = _task(inputs, fit_idx, semantics, train_classes, val_classes, np.concatenate([v_seen, v_unseen]))
    task.select_by = cfg["eval"]["select_by"]
    evaluator = Evaluator(dataset.num_classes, train_classes, val_classes)
    y_seen, y_unseen = dataset.labels[v_seen], dataset.labels[v_unseen]

    def evaluate(point: dict[str, Any]) -> PointScore:
        method = fit_method(apply_point(cfg, point), task, _fit_context(ctx, "val", point))
        _observe_unlabelled(method, inputs.features[np.concatenate([v_seen, v_unseen])])
        s_seen, s_unseen = _scores(method, inputs.features[v_seen]), _scores(method, inputs.features[v_unseen])
        gamma = evaluator.calibrate(s_seen, y_seen, s_unseen, y_unseen)
        metrics = evaluator.evaluate(s_seen, y_seen, s_unseen, y_unseen, gamma=gamma)
        # what the method chose itself on the validation images (a generative method's
        # classifier epochs) is applied unchanged to the trainval fit
        return PointScore(point, metrics, gamma, dict(getattr(method, "selected_", None) or {}))

    return select_best(grid_points(cfg["select"]), evaluate, by=cfg["eval"]["select_by"], context=ctx)


def _fit_context(ctx: RunContext, stage: str, point: dict[str, Any] | None = None) -> RunContext:
    """``ctx`` with this fit's own checkpoint folder inside the staged run (for ``--resume``)."""
    if ctx.workdir is None or ctx.checkpoint_every <= 0:
        return ctx
    name = stage
    if point:
        digest = hashlib.sha256(json.dumps(point, sort_keys=True, default=str).encode()).hexdigest()[:12]
        name = f"{stage}-{digest}"
    return ctx.with_(checkpoints=ctx.workdir / CHECKPOINTS / name)


def _observe_unlabelled(method: Any, features: Any) -> bool:
    """Give a transductive method the unlabelled images it may adapt to (``observe_unlabelled``)."""
    hook = getattr(method, "observe_unlabelled", None)
    if hook is None:
        return False
    hook(features)
    return bool(getattr(method, "transductive", True))  # a method may define the hook and not use it


def _test_scores(method: Any, inputs: _Inputs) -> tuple[np.ndarray, np.ndarray]:
    ts, tu = inputs.dataset.splits["test_seen"], inputs.dataset.splits["test_unseen"]
    return _scores(method, inputs.features[ts]), _scores(method, inputs.features[tu])


def _test_selected(cfg: dict[str, Any], method: Any, task: Any, inputs: _Inputs, ctx: RunContext) -> dict[str, float]:
    """The best classifier epoch on the *test* images (``eval.test_selected``), as published codes pick it.

    A fresh classifier (the config's, before the epochs chosen on validation) is trained
    on the fitted method's training set and scored on the test images after every epoch
    (GZSL at γ = 0, ZSL over the unseen classes); the best epoch by GZSL H and the best ZSL
    top-1 over epochs are recorded under ``test_selected/``. Only for methods with an
    :meth:`epoch_curve` (generative ones); nothing otherwise.
    """
    import torch

    from kgzsl.evaluation import Evaluator

    if not hasattr(method, "epoch_curve") or cfg["classifier"] is None:
        return {}
    ds = inputs.dataset
    ts, tu = ds.splits["test_seen"], ds.splits["test_unseen"]
    evaluator = Evaluator(ds.num_classes, ds.seen, ds.unseen)
    y_seen, y_unseen = ds.labels[ts], ds.labels[tu]
    x_seen, x_unseen = method.transform(inputs.features[ts]), method.transform(inputs.features[tu])
    with torch.no_grad():
        x_seen, x_unseen = method.classifier_features(x_seen), method.classifier_features(x_unseen)
    curve: list[tuple[int, float, float]] = []

    def on_epoch(epoch: int, clf: Any) -> None:
        s_seen, s_unseen = _scores(clf, x_seen), _scores(clf, x_unseen)
        m = evaluator.evaluate(s_seen, y_seen, s_unseen, y_unseen, gamma=0.0)
        curve.append((int(epoch), float(m["gzsl/h"]), float(m["zsl/top1"])))

    c = dict(cfg["classifier"])
    classifier = CLASSIFIERS.build(c.pop("name"), where="classifier", **c)
    method.epoch_curve(task, classifier, on_epoch, context=ctx)
    if not curve:
        return {}
    best = max(curve, key=lambda r: (r[1], -r[0]))
    return {
        "test_selected/classifier.epochs": float(best[0]),
        "test_selected/gzsl_h": best[1],
        "test_selected/zsl_top1": max(r[2] for r in curve),
        "test_selected/zsl_epochs": float(max(curve, key=lambda r: (r[2], -r[0]))[0]),
    }


def _report(dataset: Any, scores: tuple[np.ndarray, np.ndarray], gamma: float | None, hit_k: Any) -> Any:
    from kgzsl.evaluation import Evaluator

    evaluator = Evaluator(dataset.num_classes, dataset.seen, dataset.unseen)
    y_seen, y_unseen = dataset.labels[dataset.splits["test_seen"]], dataset.labels[dataset.splits["test_unseen"]]
    return evaluator.report(scores[0], y_seen, scores[1], y_unseen, gamma=gamma, hit_k=hit_k)


def _test_report(
    method: Any, source: Any, ds: Any, inputs: _Inputs | None, gamma: float | None, hit_k: Any, ctx: RunContext
) -> Any:
    """The test report: from the loaded test splits, or streamed from ``source`` (``ds.streamed_test``)."""
    if ds.streamed_test:
        from kgzsl.evaluation import streamed_report

        return streamed_report(method, source, hit_k=hit_k, gamma=gamma, device=ctx.torch_device)
    assert inputs is not None
    report = _report(ds, _test_scores(method, inputs), gamma, hit_k)
    report.metrics.update(_streamed_hit_k(method, source, hit_k, ctx))
    return report


def _streamed_hit_k(method: Any, source: Any, hit_k: Any, ctx: RunContext) -> dict[str, float]:
    """Hit@k over every test-unseen image of a dataset that streams them (``iter_test``), else nothing.

    The ImageNet-21K test sets are scored chunk by chunk against all classes
    (:func:`kgzsl.evaluation.evaluate_streamed`): ``zsl/hit@k_micro`` / ``_macro`` and the "+1K"
    ``gzsl/hit@k_micro`` / ``_macro``, whatever ``max_test_images_per_class`` capped in the loaded
    test split (whose ``zsl/hit@k`` stays as computed on it).
    """
    if not hit_k or not hasattr(source, "iter_test"):
        return {}
    from kgzsl.evaluation import evaluate_streamed

    out = evaluate_streamed(method, source, hit_k=hit_k, device=ctx.torch_device)
    out["zsl/n_images_streamed"] = out.pop("zsl/n_images")
    return out


def _write_report(
    folder: Path, report: Any, metrics: dict[str, Any], table: str, title: str, ids: list[str], names: dict[str, str]
) -> None:
    rows = report.per_class_rows(ids)
    write_json(folder / "metrics.json", metrics)
    write_per_class(folder / "per_class.csv", rows, names)
    atomic_write_text(folder / "results.md", table + "\n")
    plot_run(folder / "plot.png", report.curve, metrics, rows, title, names=names)


def _save_models(
    folder: Path, method: Any, cfg: dict[str, Any], inputs: _Inputs, gamma: float | None, names: dict[str, str]
) -> None:
    dataset = inputs.dataset
    (folder / "models").mkdir()
    method.save(
        folder / "models" / "method.pt",
        config=cfg,
        class_ids=list(dataset.class_ids),
        class_names=names,
        seen=[int(c) for c in dataset.seen],
        unseen=[int(c) for c in dataset.unseen],
        n_features=int(inputs.features.shape[1]),
        gamma=gamma,
    )
    buf = io.BytesIO()
    np.savez(buf, matrix=np.asarray(inputs.embeddings.matrix), ids=np.asarray(list(inputs.embeddings.ids)))
    atomic_write_bytes(folder / "models" / "semantics.npz", buf.getvalue())


def _title(stem: str, dataset: Any, cfg: dict[str, Any], seed: int) -> tuple[str, str]:
    kind = " — synthetic features" if dataset.synthetic else ""
    if getattr(METHODS.get(cfg["method"]["name"]), "relaxed", False):
        kind += " — relaxed setting: the pretrained model may have seen the unseen classes"
    return f"{stem}: {dataset.name}, {cfg['method']['name']}, seed {seed}{kind}", kind


# ----------------------------------------------------------------------------- runs


def run_experiment(
    config: dict[str, Any],
    stem: str,
    out: str | os.PathLike = "runs",
    seed: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    config_file: str | os.PathLike | None = None,
    resume: bool = False,
) -> RunResult:
    """Run one experiment and write its run folder ``<out>/<stem>/seed-<n>/``.

    The config is checked completely (types, value ranges, ``select:`` keys) before any data
    loads. The run folder holds ``config.yaml`` (resolved, with the values chosen on validation),
    ``metrics.json``, ``meta.json``, ``per_class.csv``, ``results.md``, ``plot.png`` and
    ``models/`` (the trained method, see :func:`evaluate_run`, and the class embeddings).

    Args:
        config: the experiment config (unresolved or resolved).
        stem: name of the experiment folder, usually :func:`run_name` of the config file's stem.
        out: parent folder of the runs.
        seed: overrides ``train.seed``.
        overwrite: replace an existing run folder of the same seed (otherwise an error).
        progress: show progress bars (the run's and every component's).
        config_file: the config's file, hashed into ``meta.json``.
        resume: continue the run of the same folder and seed that was killed or interrupted
            (Ctrl-C): its staged folder is adopted and every fit continues from its last saved
            epoch (``train.checkpoint_every``), ending with the metrics of an uninterrupted
            run. Without such a folder the run starts afresh.
    """
    warnings: list[str] = []
    if seed is not None:
        config = {**config, "train": {**(config.get("train") or {}), "seed": seed}}
    cfg = resolve(config, warnings)
    seed = cfg["train"]["seed"]
    run_dir = run_dir_for(out, stem, seed)
    check_free(run_dir, overwrite)  # fail before the work, not after
    for message in warnings:
        print(f"kgzsl: warning: {message}", file=sys.stderr)
    validate = cfg["eval"]["calibrate"] or bool(cfg["select"])
    name = cfg["method"]["name"]
    with _remove_new_folders_on_error(run_dir.parent), staged_run_dir(run_dir, overwrite, resume) as tmp:
        ctx = RunContext(
            seed=seed,
            device=cfg["train"]["device"],
            progress=progress,
            workdir=tmp,
            checkpoint_every=cfg["train"]["checkpoint_every"],
        )
        with ctx.activate():
            stage = _Stages(ctx, total=6 + int(validate))
            try:
                inputs = _load(cfg, ctx, stage)
                ds = inputs.dataset
                selection = Selection(by=cfg["eval"]["select_by"], scores=[PointScore({}, {})])
                if validate:
                    with stage(f"validate {name} (train → val classes)", "val"):
                        selection = _validate(cfg, inputs, ctx)
                gamma = selection.chosen.gamma if cfg["eval"]["calibrate"] else None
                final = apply_point(cfg, {**selection.chosen.point, **selection.chosen.selected})
                with stage(f"fit {name} on trainval", "train"):
                    task = _task(inputs, ds.splits["trainval"], inputs.semantics, ds.seen, ds.unseen)
                    method = fit_method(final, task, _fit_context(ctx, "trainval"))
                with stage("evaluate on test", "eval"):
                    if ds.streamed_test:  # every test image, streamed: nothing transductive, no test curve
                        report = _test_report(method, inputs.source, ds, None, gamma, cfg["eval"]["hit_k"], ctx)
                    else:
                        test_idx = np.concatenate([ds.splits["test_seen"], ds.splits["test_unseen"]])
                        transductive = _observe_unlabelled(method, inputs.features[test_idx])
                        report = _test_report(method, inputs.source, ds, inputs, gamma, cfg["eval"]["hit_k"], ctx)
                        if transductive:
                            report.metrics["eval/transductive"] = 1.0
                        if cfg["eval"]["test_selected"]:
                            point_cfg = apply_point(cfg, selection.chosen.point)
                            report.metrics.update(_test_selected(point_cfg, method, task, inputs, ctx))
                with stage("write run folder"):
                    result = _write_run(tmp, final, inputs, selection, report, method, gamma, stage, stem)
                    _write_meta(tmp, final, inputs, ctx, stem, selection, warnings, config_file, gamma)
            finally:
                stage.bar.close()
    result.run_dir = run_dir
    return result


def _write_run(
    tmp: Path,
    cfg: dict[str, Any],
    inputs: _Inputs,
    selection: Selection,
    report: Any,
    method: Any,
    gamma: float | None,
    stage: _Stages,
    stem: str,
) -> RunResult:
    ds, seed = inputs.dataset, cfg["train"]["seed"]
    metrics: dict[str, Any] = {f"semantics/{k}": v for k, v in getattr(inputs.encoder, "metrics_", {}).items()}
    if selection.chosen.metrics:
        metrics.update({f"val/{k}": v for k, v in selection.chosen.metrics.items()})
    metrics.update(report.metrics)
    metrics.update(getattr(method, "metrics_", None) or {})  # e.g. gen/two_sample_acc
    metrics.update(selection.metrics())
    metrics.update(stage.timings)
    metrics["time/total_s"] = time.perf_counter() - stage.start
    metrics = {k: float(v) if isinstance(v, (int, float, np.number)) else v for k, v in metrics.items()}
    title, kind = _title(stem, ds, cfg, seed)
    row = {"method": cfg["method"]["name"], "semantics": cfg["semantics"]["name"], **metrics}
    table = format_table([row], f"Results on {ds.name}{kind} (seed {seed}, test splits)")
    if selection.table():
        table += "\n\n" + selection.table()
    if "test_selected/gzsl_h" in metrics:
        table += "\n\n" + _test_selected_table(metrics, cfg)
    atomic_write_text(tmp / "config.yaml", dump_config(cfg))
    names = class_names(inputs.kg, list(ds.class_ids))
    _save_models(tmp, method, cfg, inputs, gamma, names)
    _write_report(tmp, report, metrics, table, title, list(ds.class_ids), names)
    return RunResult(run_dir=tmp, metrics=metrics, table=table, config=cfg)


def _test_selected_table(metrics: dict[str, Any], cfg: dict[str, Any]) -> str:
    """The ``test_selected`` figures as their own table, labelled as chosen on test."""
    pct = lambda v: f"{100 * v:.2f}"  # noqa: E731
    return "\n".join(
        [
            "**test_selected: the classifier epoch chosen on the TEST images — not a result** (what the",
            "published codes of tf-VAEGAN, OntoZSL and CE-GZSL report; the table above uses the epochs",
            "chosen on validation)",
            "",
            "| method | test_selected epochs (H) | test_selected H "
            "| test_selected epochs (ZSL) | test_selected ZSL T1 |",
            "|---|---:|---:|---:|---:|",
            f"| {cfg['method']['name']} | {int(metrics['test_selected/classifier.epochs'])} "
            f"| {pct(metrics['test_selected/gzsl_h'])} | {int(metrics['test_selected/zsl_epochs'])} "
            f"| {pct(metrics['test_selected/zsl_top1'])} |",
        ]
    )


def _write_meta(
    tmp: Path,
    cfg: dict[str, Any],
    inputs: _Inputs,
    ctx: RunContext,
    stem: str,
    selection: Selection,
    warnings: list[str],
    config_file: Any,
    gamma: float | None,
) -> None:
    ds = inputs.dataset
    files = list(ds.source_files) + inputs.kg_files + ([Path(config_file)] if config_file else [])
    chosen = "γ" if gamma is not None else ""
    if selection.is_search or selection.chosen.selected:
        chosen = ", ".join([*selection.chosen.point, *selection.chosen.selected, *([chosen] if chosen else [])])
    extra = {
        "experiment": stem,
        "seed": ctx.seed,
        "dataset": ds.summary(),
        "synthetic_features": ds.synthetic,
        "semantics_dim": inputs.embeddings.dim,
        "semantics_cache": inputs.cache_state,
        "model_selection": f"{chosen} chosen on the validation split" if chosen else "none",
        "select_by": cfg["eval"]["select_by"] if selection.is_search else None,
        "selected": {**selection.chosen.point, **selection.chosen.selected},
        "warnings": warnings,
    }
    write_json(tmp / "meta.json", collect_meta(files, ctx.torch_device, extra))


def evaluate_run(
    run_dir: str | os.PathLike,
    overrides: list[str] | None = None,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> RunResult:
    """Rescore a finished run's saved model on the same or other features, without retraining.

    The model (``models/method.pt``) carries the run's resolved config and class ids; the
    dataset is the run's, with ``--set dataset.KEY=VALUE`` overrides (other features of the
    same classes). The calibration γ is the one the run chose on validation. The result goes to
    ``out``, else ``RUN_DIR/eval`` (no overrides) or ``RUN_DIR/eval-<overrides>``.

    Raises:
        ConfigError: an override of anything but ``dataset.*``, ``eval.hit_k`` or ``train.device``.
        DataError: no saved model, or a dataset whose classes differ from the model's.
    """
    from kgzsl.checkpoint import load_component

    run_dir = Path(run_dir)
    model = run_dir / "models" / "method.pt"
    if not (run_dir / "config.yaml").is_file():
        raise DataError(f"{run_dir}: not a run folder (no config.yaml)")
    if not model.is_file():
        raise DataError(f"{model}: no saved model in this run folder (made before kgzsl saved models?)")
    for item in overrides or []:
        if not item.startswith(EVALUATE_OVERRIDES):
            raise ConfigError(f"--set {item!r}: evaluate only takes dataset.*, eval.hit_k and train.device overrides")
    cfg = resolve(apply_overrides(load_config(run_dir / "config.yaml"), overrides))
    dest = Path(out) if out is not None else run_dir / run_name("eval", overrides).replace("eval+", "eval-", 1)
    check_free(dest, overwrite)
    ctx = RunContext(seed=cfg["train"]["seed"], device=cfg["train"]["device"], progress=progress)
    with ctx.activate():
        method, extra = load_component(model, device=ctx.torch_device)
        d = dict(cfg["dataset"])
        source = DATASETS.build(d.pop("name"), where="dataset", **d)
        dataset = source.load()
        _check_same_classes(dataset, extra, model)
        inputs = _Inputs(dataset, None, [], None, None, "off")
        import torch

        inputs.features = torch.as_tensor(dataset.features, device=ctx.torch_device)
        if dataset.streamed_test:
            inputs = None
        report = _test_report(method, source, dataset, inputs, extra.get("gamma"), cfg["eval"]["hit_k"], ctx)
    title, kind = _title(f"{run_dir} (evaluated)", dataset, cfg, cfg["train"]["seed"])
    row = {"method": cfg["method"]["name"], "semantics": cfg["semantics"]["name"], **report.metrics}
    table = format_table([row], f"Saved model of {run_dir} on {dataset.name}{kind} (test splits)")
    with staged_run_dir(dest, overwrite) as tmp:
        atomic_write_text(tmp / "config.yaml", dump_config(cfg))
        names = {c: extra.get("class_names", {}).get(c, c) for c in dataset.class_ids}
        _write_report(tmp, report, report.metrics, table, title, list(dataset.class_ids), names)
        meta = {"model": str(model.resolve()), "overrides": list(overrides or []), "dataset": dataset.summary()}
        write_json(tmp / "meta.json", collect_meta(list(dataset.source_files), ctx.torch_device, meta))
    return RunResult(run_dir=dest, metrics=report.metrics, table=table, config=cfg)


def _check_same_classes(dataset: Any, extra: dict[str, Any], model: Path) -> None:
    ids, saved = list(dataset.class_ids), list(extra.get("class_ids") or [])
    if ids != saved:
        diff = next((i for i, (a, b) in enumerate(zip(ids, saved)) if a != b), min(len(ids), len(saved)))
        mine = ids[diff] if diff < len(ids) else "(none)"
        theirs = saved[diff] if diff < len(saved) else "(none)"
        raise DataError(
            f"{model}: the model was trained on {len(saved)} classes but the dataset has {len(ids)}; "
            f"class {diff} is {mine!r} here and {theirs!r} in the model"
        )
    if [int(c) for c in dataset.seen] != list(extra.get("seen", [])) or [int(c) for c in dataset.unseen] != list(
        extra.get("unseen", [])
    ):
        raise DataError(f"{model}: the dataset's seen/unseen split differs from the model's")
    n = extra.get("n_features")
    if n is not None and dataset.features.shape[1] != n:
        raise DataError(f"{model}: the model takes {n}-d features but the dataset's are {dataset.features.shape[1]}-d")
