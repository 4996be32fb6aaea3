"""``kgzsl clip compare``: CLIP zero-shot on extracted features with each prompt source, one table.

::

    kgzsl clip compare --features features/awa2-vitb32 --dataset AWA2 --weights ViT-B-32.pt \\
        --kg kzsl/KG/AwA_KG.ttl --documents text/documents/AWA2.json --out compare/awa2

For every prompt source (:data:`kgzsl.language.prompts.SOURCES` whose inputs are given),
the class classifiers are built with ``clip_zeroshot`` and scored with the shared
:class:`~kgzsl.evaluation.Evaluator` (ZSL top-1 over the unseen classes; GZSL seen / unseen /
H over all classes, uncalibrated: nothing is tuned), combined by template ensembling and,
for sources of several prompts, by zero-shot prompt weighting (Allingham et al., ICML 2023:
the prompts scored on the unlabelled test images, a transductive use of them);
then every prompt of every source pooled. The images are the features folder's (made by
``kgzsl data extract`` / :func:`kgzsl.data.features.extract_features`), labelled by their class
folders and matched to the dataset's classes as KG alignment matches names (``grizzly bear``
= ``grizzly+bear``). CLIP trains on none of them: every image of a seen class is a test-seen
image. The table says it is a relaxed setting (CLIP may have seen the unseen classes).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgzsl.errors import ConfigError, DataError, KGZSLError

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["add_parser", "run", "compare", "plot_comparison", "CompareResult", "RELAXED_NOTE"]

RELAXED_NOTE = "relaxed setting: CLIP may have seen the unseen classes"
_COLUMNS = ("source", "prompts", "combine", "zsl/top1", "gzsl/seen", "gzsl/unseen", "gzsl/h", "top prompt")


@dataclass
class CompareResult:
    """The comparison: its title, rows (one per source and combination), markdown table and folder."""

    title: str
    rows: list[dict[str, Any]]
    table: str
    out: Path
    extra: dict[str, Any] = field(default_factory=dict)


def add_parser(sub: Any, parser_class: type) -> None:
    """Add the ``clip`` command to the subparsers ``sub``."""
    clip = sub.add_parser("clip", help="CLIP zero-shot with knowledge prompts (relaxed setting)")
    clip_sub = clip.add_subparsers(dest="clip_command", metavar="CLIP_COMMAND", parser_class=parser_class)
    p = clip_sub.add_parser("compare", help="score every prompt source on extracted features; write a table")
    p.add_argument("--features", required=True, help="a features folder with manifest.json (kgzsl data extract)")
    p.add_argument(
        "--dataset",
        required=True,
        help="xlsa17 benchmark name (AWA2, CUB, FLO under $KGZSL_SHARED_DATA), its folder, or a YAML config",
    )
    p.add_argument("--weights", required=True, help="the CLIP checkpoint file (a pretrained tag only online)")
    p.add_argument("--arch", help="open_clip architecture or model config .json (default: the manifest's)")
    p.add_argument("--out", required=True, help="output folder (comparison.md / .csv / .json / .png)")
    p.add_argument("--sources", nargs="+", metavar="SOURCE", help="prompt sources (default: all with inputs)")
    p.add_argument("--kg", nargs="+", metavar="FILE", help="knowledge graph files (kg_labels, kg_literals, attributes)")
    p.add_argument("--kg-namespace", help="align classes only to KG entities in this namespace")
    p.add_argument("--documents", help="class documents: JSON {class: text} or a folder of <class>.txt")
    p.add_argument("--descriptors", help="descriptor JSON {class: [descriptions]}")
    p.add_argument("--attribute-names", help="attribute names file for the dataset's attribute matrix")
    p.add_argument("--label-map", help="JSON {label: class name} for numbered classes (FLO)")
    p.add_argument("--seen", help="seen class list (default: the dataset's trainvalclasses.txt)")
    p.add_argument("--unseen", help="unseen class list (default: the dataset's testclasses.txt)")
    p.add_argument("--templates", default="imagenet", help="template set of templates / kg_labels (default imagenet)")
    p.add_argument(
        "--weighting-images", default="test", help="where the class bias is measured: 'test' or a .npy of features"
    )
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature of the prompt weights")
    p.add_argument("--select-z", type=float, help="weigh only prompts whose robust z-score reaches it")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    """Run ``kgzsl clip ...``; returns the exit code."""
    if getattr(args, "clip_command", None) != "compare":
        raise KGZSLError("clip: missing command; one of compare")
    result = compare(
        args.features,
        args.dataset,
        args.weights,
        args.out,
        arch=args.arch,
        sources=args.sources,
        kg=args.kg,
        kg_namespace=args.kg_namespace,
        documents=args.documents,
        descriptors=args.descriptors,
        attribute_names=args.attribute_names,
        label_map=args.label_map,
        seen=args.seen,
        unseen=args.unseen,
        templates=args.templates,
        weighting_images=args.weighting_images,
        temperature=args.temperature,
        select_z=args.select_z,
        device=args.device,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(result.table)
    print(f"\ncomparison folder: {result.out}")
    return 0


# ----------------------------------------------------------------------------- inputs


@dataclass
class _Classes:
    name: str
    ids: list[str]
    seen: list[int]
    unseen: list[int]
    attributes: np.ndarray | None
    files: list[Path]


def _dataset_folder(spec: str) -> tuple[str, Path]:
    from kgzsl.resources import shared_data_dir

    path = Path(spec).expanduser()
    if path.suffix in (".yaml", ".yml"):
        from kgzsl.config import load_config
        from kgzsl.data.xlsa17 import XLSA17

        section = load_config(path).get("dataset") or {}
        if section.get("name") != "xlsa17":
            raise ConfigError(
                f"{path}: dataset: expected an xlsa17 dataset (name: xlsa17), found {section.get('name')!r}"
            )
        keys = ("benchmark", "root", "version")
        folder = XLSA17(**{k: section[k] for k in keys if k in section}).folder()
        return folder.name, folder
    if path.is_dir():
        return path.name, path
    shared = shared_data_dir()
    if shared is not None and (shared / "xlsa17" / spec).is_dir():
        return spec, shared / "xlsa17" / spec
    raise DataError(
        f"--dataset {spec}: not an xlsa17 folder, a benchmark under $KGZSL_SHARED_DATA/xlsa17, nor a config"
    )


def _class_list(path: Path, ids: list[str], what: str) -> list[int]:
    from kgzsl.data.dataset import read_id_list
    from kgzsl.language.documents import match_name

    exact = {c: i for i, c in enumerate(ids)}
    by_name = {match_name(c): i for i, c in enumerate(ids)}
    out, unknown = [], []
    for name in read_id_list(path):
        index = exact.get(name, by_name.get(match_name(name)))
        (out if index is not None else unknown).append(index if index is not None else name)
    if unknown:
        raise DataError(f"{path}: {what} class(es) not in the dataset: {', '.join(map(repr, unknown[:5]))}")
    return out


def _classes(spec: str, seen: str | None, unseen: str | None) -> _Classes:
    import numpy as np

    from kgzsl.language.documents import dataset_class_ids
    from kgzsl.matlab import read_mat

    name, folder = _dataset_folder(spec)
    ids = dataset_class_ids(folder)
    lists = []
    for given, default, what in ((seen, "trainvalclasses.txt", "seen"), (unseen, "testclasses.txt", "unseen")):
        path = Path(given).expanduser() if given else folder / default
        if not path.is_file():
            raise DataError(f"{path}: no {what} class list (pass --{what} FILE, one class a line)")
        lists.append(path)
    seen_idx, unseen_idx = _class_list(lists[0], ids, "seen"), _class_list(lists[1], ids, "unseen")
    both = set(seen_idx) & set(unseen_idx)
    if both:
        raise DataError(f"class {ids[min(both)]!r} is both seen ({lists[0]}) and unseen ({lists[1]})")
    meta = read_mat(folder / "att_splits.mat", [], optional=["original_att", "att"])
    matrix = meta.get("original_att", meta.get("att"))
    attributes = None
    if matrix is not None:
        matrix = np.asarray(matrix, dtype=np.float32)
        attributes = matrix.T if matrix.shape[1] == len(ids) else matrix
    return _Classes(name, ids, seen_idx, unseen_idx, attributes, [folder / "att_splits.mat", *lists])


def _image_labels(labels: list[str | None], ids: list[str], names: list[str], where: Path) -> np.ndarray:
    """Each image's class index, its label (class folder) matched to a class id or name."""
    import numpy as np

    from kgzsl.language.documents import match_name

    index: dict[str, int] = {}
    for i, (cid, name) in enumerate(zip(ids, names)):
        for key in (cid, match_name(cid), match_name(name)):
            index.setdefault(key, i)
    out = np.empty(len(labels), dtype=np.int64)
    unknown: dict[str, int] = {}
    for k, label in enumerate(labels):
        found = None if label is None else index.get(label, index.get(match_name(label)))
        if found is None:
            unknown[str(label)] = unknown.get(str(label), 0) + 1
            found = -1
        out[k] = found
    if unknown:
        shown = ", ".join(f"{lab!r} ({n})" for lab, n in list(unknown.items())[:5])
        raise DataError(f"{where}: {sum(unknown.values())} images with labels not among the dataset's classes: {shown}")
    return out


# ----------------------------------------------------------------------------- the comparison


def _sources(args: dict[str, Any], requested: list[str] | None) -> list[str]:
    from kgzsl.language.prompts import SOURCES

    available = ["names", "templates", "short"]
    if args["kg"]:
        available += ["kg_labels", "kg_literals"]
    if args["kg"] or args["attribute_names"]:
        available.append("attributes")
    if args["descriptors"]:
        available.append("descriptions")
    if args["documents"]:
        available.append("documents")
    if requested is None:
        return available
    for source in requested:
        if source not in SOURCES:
            raise ConfigError(f"--sources: unknown source {source!r}; valid: {', '.join(SOURCES)}")
        if source not in available:
            need = {
                "kg_labels": "--kg",
                "kg_literals": "--kg",
                "attributes": "--kg or --attribute-names",
                "descriptions": "--descriptors",
                "documents": "--documents",
            }[source]
            raise ConfigError(f"--sources: {source!r} needs {need}")
    return list(dict.fromkeys(requested))


def _metrics(evaluator: Any, scores: torch.Tensor, labels: np.ndarray, seen: np.ndarray) -> dict[str, float]:
    import numpy as np

    s = scores.cpu().numpy()
    is_seen = np.isin(labels, seen)
    m = evaluator.evaluate(s[is_seen], labels[is_seen], s[~is_seen], labels[~is_seen])
    return {k: m[k] for k in ("zsl/top1", "gzsl/seen", "gzsl/unseen", "gzsl/h")}


def _fmt(value: Any) -> str:
    return f"{100 * value:.1f}" if isinstance(value, float) else str(value)


def _markdown(title: str, rows: list[dict[str, Any]]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row[c]) for c in _COLUMNS) + " |")
    lines.append("")
    lines.append("Accuracies in %, per-class top-1; GZSL uncalibrated (nothing is tuned); all images are test images.")
    return "\n".join(lines)


def plot_comparison(path: Path, title: str, rows: list[dict[str, Any]]) -> None:
    """Save a PNG of the comparison: ZSL top-1 and GZSL H of every row, as grouped horizontal bars."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from kgzsl.results import _quiet_plotting

    labels = [f"{r['source']} ({r['combine']}, {r['prompts']})" for r in rows]
    ys = list(range(len(rows)))
    with _quiet_plotting():
        fig = Figure(figsize=(9, 1.5 + 0.35 * len(rows)))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.barh([y - 0.2 for y in ys], [r["zsl/top1"] for r in rows], height=0.4, label="ZSL top-1")
        ax.barh([y + 0.2 for y in ys], [r["gzsl/h"] for r in rows], height=0.4, label="GZSL H")
        ax.set_yticks(ys, labels, fontsize=8)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set(xlim=(0, 1), xlabel="per-class top-1 accuracy")
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(axis="x", alpha=0.3)
        ax.set_title(title, fontsize=8, wrap=True)
        fig.tight_layout()
        fig.savefig(path, dpi=110)


def compare(
    features: str | Path,
    dataset: str,
    weights: str,
    out: str | Path,
    *,
    arch: str | None = None,
    sources: list[str] | None = None,
    kg: list[str] | None = None,
    kg_namespace: str | None = None,
    documents: str | None = None,
    descriptors: str | None = None,
    attribute_names: str | None = None,
    label_map: str | None = None,
    seen: str | None = None,
    unseen: str | None = None,
    templates: str = "imagenet",
    weighting_images: str = "test",
    temperature: float = 1.0,
    select_z: float | None = None,
    device: str = "auto",
    overwrite: bool = False,
    progress: bool = True,
) -> CompareResult:
    """Score CLIP zero-shot with each prompt source on a features folder; write the comparison.

    Everything is checked before the features are read: the weights (offline: a local file),
    the input files, the sources. The output folder appears whole or not at all.

    Returns:
        The :class:`CompareResult`; ``out`` holds ``comparison.md``, ``comparison.csv``,
        ``comparison.json`` (inputs, the prompt weights of each weighted row) and
        ``comparison.png`` (ZSL top-1 and GZSL H of every row).
    """
    import numpy as np
    import torch

    import kgzsl
    from kgzsl.context import RunContext
    from kgzsl.data.features import load_extracted
    from kgzsl.evaluation import Evaluator
    from kgzsl.language.prompts import class_names, reuse_text_towers
    from kgzsl.language.weighting import combine_prompts, ensemble_prompts, prompt_scores, prompt_weights
    from kgzsl.methods.base import ZSLTask
    from kgzsl.methods.clip_zeroshot import CLIPZeroShot, check_backbone, clip_weights_error
    from kgzsl.registry import METHODS
    from kgzsl.results import check_free, staged_run_dir, write_json
    from kgzsl.utils import atomic_write_text, resolve_device, sha256_file

    out = Path(out).expanduser()
    check_free(out, overwrite)
    features = Path(features).expanduser()
    manifest_path = features / "manifest.json"
    if not manifest_path.is_file():
        raise DataError(f"--features {features}: no manifest.json (extract the features with kgzsl data extract)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    backbone = str(manifest.get("backbone", ""))
    if arch is None:
        family, _, name = backbone.partition(":")
        if family != "open_clip":
            raise ConfigError(f"{manifest_path}: backbone {backbone!r} is not an open_clip model; CLIP needs one")
        arch = name
    error = clip_weights_error(arch, weights)
    if error is not None:
        raise ConfigError(error.replace("weights: ", "--weights: ", 1))
    for flag, value in (
        ("--documents", documents),
        ("--descriptors", descriptors),
        ("--attribute-names", attribute_names),
        ("--label-map", label_map),
        *(("--kg", k) for k in kg or []),
    ):
        if value is not None and not Path(value).expanduser().exists():
            raise ConfigError(f"{flag}: {value}: no such file or folder")
    opts = {"kg": kg, "attribute_names": attribute_names, "descriptors": descriptors, "documents": documents}
    chosen = _sources(opts, sources)
    wi = weighting_images
    params = {
        "arch": arch,
        "weights": weights,
        "templates": templates,
        "combine": "weighted",
        "weighting_images": wi,
        "temperature": temperature,
        "select_z": select_z,
        "descriptors": descriptors,
        "documents": documents,
        "attribute_names": attribute_names,
        "label_map": label_map,
        "kg_namespace": kg_namespace,
    }
    METHODS.check_params("clip_zeroshot", {**params, "prompts": chosen}, where="clip compare")
    recorded = manifest.get("weights") or {}
    if Path(weights).expanduser().is_file() and recorded.get("sha256"):
        if sha256_file(Path(weights).expanduser()) != recorded["sha256"]:
            raise ConfigError(
                f"--weights {weights}: not the checkpoint that extracted the features "
                f"({manifest_path} records sha256 {recorded['sha256'][:12]}...)"
            )

    classes = _classes(dataset, seen, unseen)
    names = class_names(classes.ids, label_map)
    check_backbone(f"open_clip:{Path(arch).stem if arch.endswith('.json') else arch}", backbone, str(manifest_path))
    x, _, image_labels, manifest = load_extracted(features)
    labels = _image_labels(image_labels, classes.ids, names, manifest_path)
    classes_used = np.array(sorted(set(classes.seen) | set(classes.unseen)))
    keep = np.isin(labels, classes_used)
    x, labels = torch.as_tensor(np.asarray(x[keep], dtype=np.float32)), labels[keep]
    seen_idx, unseen_idx = np.array(classes.seen), np.array(classes.unseen)
    for what, idx in (("seen", seen_idx), ("unseen", unseen_idx)):
        missing = [classes.ids[c] for c in idx if not (labels == c).any()]
        if missing:
            raise DataError(f"{features}: no images of the {what} class(es) {', '.join(map(repr, missing[:5]))}")

    knowledge = None
    if kg:
        from kgzsl.knowledge.store import KnowledgeGraph

        knowledge = KnowledgeGraph.from_files(*kg)
    dim = x.shape[1]
    semantics = classes.attributes if classes.attributes is not None else np.zeros((len(classes.ids), 1))
    task = ZSLTask(
        features=torch.zeros(0, dim),
        labels=torch.zeros(0, dtype=torch.long),
        semantics=torch.as_tensor(semantics, dtype=torch.float32),
        seen=torch.as_tensor(seen_idx),
        unseen=torch.as_tensor(unseen_idx),
        knowledge=knowledge,
        class_ids=list(classes.ids),
        feature_backbone=backbone,
    )
    dev = resolve_device(device)
    ctx = RunContext(seed=0, device=str(dev), progress=progress)
    evaluator = Evaluator(len(classes.ids), seen_idx, unseen_idx)
    images = x.to(dev)
    rows: list[dict[str, Any]] = []
    weights_record: dict[str, Any] = {}
    pooled: list[torch.Tensor] = []
    pooled_names: list[str] = []

    def score(method: CLIPZeroShot, classifiers: torch.Tensor) -> dict[str, float]:
        method.classifiers_ = classifiers
        return _metrics(evaluator, method.decision_function(images), labels, seen_idx)

    def add_rows(source: str, method: CLIPZeroShot, embeddings: torch.Tensor, prompt_names: list[str]) -> None:
        n = embeddings.shape[0]
        rows.append({"source": source, "prompts": n, "combine": "mean", **score(method, ensemble_prompts(embeddings))})
        rows[-1]["top prompt"] = ""
        if n == 1:
            return
        s = prompt_scores(embeddings, images, logit_scale=method.logit_scale, bias_mean=method.bias_for(images))
        w = prompt_weights(s, temperature, select_z)
        top = int(w.argmax())
        rows.append(
            {
                "source": source,
                "prompts": n,
                "combine": "weighted",
                **score(method, combine_prompts(embeddings, w)),
                "top prompt": f"{prompt_names[top]} ({100 * float(w[top]):.0f}%)",
            }
        )
        weights_record[source] = {name: float(v) for name, v in zip(prompt_names, w.tolist())}

    with reuse_text_towers():  # the checkpoint is read once, not once per source
        for source in chosen:
            method = CLIPZeroShot(**params, prompts=source, device=str(dev)).fit(task, context=ctx)
            names_p = [n.split(": ", 1)[1] if ": " in n else n for n in method.prompt_names_]
            add_rows(source, method, method.prompt_embeddings_, names_p)
            pooled.append(method.prompt_embeddings_)
            pooled_names += method.prompt_names_
    if len(chosen) > 1:
        add_rows("all sources", method, torch.cat(pooled), pooled_names)

    random_init = bool((manifest.get("weights") or {}).get("random_init"))
    title = f"CLIP zero-shot by prompt source — {classes.name}, {backbone} — {RELAXED_NOTE}"
    if random_init:
        title += " — features of a RANDOMLY INITIALISED model: not a result"
    table = _markdown(title, rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    extra = {
        "title": title,
        "relaxed": True,
        "transductive": True,
        "features": str(features),
        "backbone": backbone,
        "arch": arch,
        "weights": str(weights),
        "dataset": classes.name,
        "class_files": [str(p) for p in classes.files],
        "num_images": {"seen": int(np.isin(labels, seen_idx).sum()), "unseen": int(np.isin(labels, unseen_idx).sum())},
        "sources": chosen,
        "templates": templates,
        "weighting_images": wi,
        "temperature": temperature,
        "select_z": select_z,
        "prompt_weights": weights_record,
        "kgzsl": kgzsl.__version__,
    }
    with staged_run_dir(out, overwrite) as tmp:
        atomic_write_text(tmp / "comparison.md", table + "\n")
        atomic_write_text(tmp / "comparison.csv", buf.getvalue())
        write_json(tmp / "comparison.json", {**extra, "rows": rows})
        plot_comparison(tmp / "comparison.png", title, rows)
    return CompareResult(title, rows, table, out, extra)
