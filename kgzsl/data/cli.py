"""``kgzsl data ...``: describe datasets, extract features, check class documents, download benchmarks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kgzsl.errors import KGZSLError

__all__ = ["add_parser", "run"]


def add_parser(sub: Any, parser_class: type) -> None:
    """Add the ``data`` command to the subparsers ``sub``."""
    data = sub.add_parser("data", help="benchmark datasets: describe, extract features, download")
    data_sub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND", parser_class=parser_class)
    p = data_sub.add_parser("info", help="load a dataset and summarise it (classes, splits, semantics)")
    p.add_argument("dataset", help="a registered dataset (kgzsl list datasets) or an xlsa17 folder (.../AWA2)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="dataset parameter, e.g. --set benchmark=CUB (repeatable)",
    )
    p = data_sub.add_parser("extract-features", help="image features with an open_clip or torchvision backbone")
    p.add_argument("images", help="folder of images (one subfolder per class) ")
    p.add_argument("--out", required=True, help="output folder (features.npy, manifest.json)")
    p.add_argument("--backbone", default="torchvision:resnet101", help="open_clip:ARCH or torchvision:resnet101")
    p.add_argument("--weights", default=None, help="local checkpoint file (or an open_clip pretrained tag online)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto")
    p.add_argument("--patch-tokens", action="store_true", help="also save the patch tokens")
    p.add_argument("--overwrite", action="store_true", help="replace an output made from other inputs")
    p = data_sub.add_parser("documents", help="read per-class documents and show how they cover a dataset's classes")
    p.add_argument("path", help="JSON {class: text} or {class: [sentences]}, or a folder of <class>.txt")
    p.add_argument(
        "--dataset", required=True, help="xlsa17 folder (.../AWA2), xlsa17 benchmark (AWA2, CUB, FLO) or class-id file"
    )
    p.add_argument("--label-map", default=None, help="JSON {label: class name} (FLO_label_to_category_name.json)")
    p.add_argument("--allow-missing", action="store_true", help="report classes without a document instead of failing")
    p.add_argument("--views", action="store_true", help="also count the default attribute views")
    p = data_sub.add_parser("download", help="download a benchmark's files (needs the internet)")
    p.add_argument("name", help="awa1, awa2, cub, sun, apy, flo, imnet-a or imnet-o")
    p.add_argument("--root", default="data", help="where the files go (default: data)")
    p.add_argument("--sha256", default=None, help="expected sha256 of the archive")
    p.add_argument("--no-verify", action="store_true", help="accept an archive whose checksum is unknown")
    p.add_argument("--force", action="store_true", help="download again even if the files are there")


def run(args: argparse.Namespace) -> int:
    """Run ``kgzsl data ...``; returns the exit code."""
    if args.data_command is None:
        raise KGZSLError("data: missing command; one of info, extract-features, documents, download")
    if args.data_command == "info":
        from kgzsl.config import apply_overrides
        from kgzsl.registry import DATASETS

        target = Path(args.dataset)
        if args.dataset in DATASETS:
            name, spec = args.dataset, {}
        elif target.is_dir() and (target / "att_splits.mat").is_file():
            name, spec = "xlsa17", {"root": str(target.parent), "benchmark": target.name}
        else:
            valid = ", ".join(DATASETS.names())
            raise KGZSLError(f"{args.dataset}: not a registered dataset ({valid}) nor an xlsa17 folder")
        # with the name in the section, `--set name=X` swaps the dataset as it does in a run config
        spec = apply_overrides({"dataset": {"name": name, **spec}}, [f"dataset.{o}" for o in args.overrides])
        spec = dict(spec["dataset"])
        dataset = DATASETS.build(spec.pop("name"), where="dataset", **spec).load()
        print(dataset.summary())
        return 0
    if args.data_command == "documents":
        from kgzsl.language.documents import documents_report

        missing = "empty" if args.allow_missing else "error"
        print(documents_report(args.path, args.dataset, label_map=args.label_map, missing=missing, views=args.views))
        return 0
    if args.data_command == "extract-features":
        from kgzsl.data.features import extract_features

        out = extract_features(
            args.images,
            args.out,
            backbone=args.backbone,
            weights=args.weights,
            batch_size=args.batch_size,
            device=args.device,
            patch_tokens=args.patch_tokens,
            overwrite=args.overwrite,
        )
        print(f"features: {out}")
        return 0
    from kgzsl.data.download import download

    root = download(args.name, args.root, force=args.force, verify=not args.no_verify, sha256=args.sha256)
    print(f"{args.name}: files in {root}")
    return 0
