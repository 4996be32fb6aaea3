"""``image_folder``: a folder of images per class, with seen / unseen class lists.

::

    dataset:
      name: image_folder
      root: data/my-animals          # data/my-animals/<class>/*.jpg
      seen: data/my-animals/seen.txt  # one class per line (or a list of names)
      unseen: [okapi, narwhal]
      backbone: torchvision:resnet101
      weights: checkpoints/resnet101-63fe2227.pth

Features are extracted once with :func:`kgzsl.data.features.extract_features` into a cache
folder and reused; the cache describes the whole folder (every class subfolder), so changing
the class lists does not extract again, and adding or replacing images re-extracts it.
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from kgzsl.context import current_context
from kgzsl.data.dataset import ZSLDataset, check_ranges, read_text, standard_splits
from kgzsl.data.features import backbone_slug, extract_features, list_images, load_extracted, load_patch_tokens
from kgzsl.errors import DataError
from kgzsl.registry import DATASETS, Component

__all__ = ["ImageFolder", "read_class_list"]


def read_class_list(value: str | list[str] | None, root: Path, what: str) -> list[str] | None:
    """Class names from a list, or from a text file of one name per line (``#`` comments, blanks skipped).

    A relative file path is looked up in the working directory first, then in ``root``.
    """
    if value is None:
        return None
    if isinstance(value, list):
        names = [str(v).strip() for v in value]
    else:
        path = Path(value).expanduser()
        if not path.is_file() and not path.is_absolute() and (root / path).is_file():
            path = root / path
        if not path.is_file():
            raise DataError(f"image_folder.{what}: {path}: no such class list file")
        lines = read_text(path, "class list").splitlines()
        names = [line.split("#", 1)[0].strip() for line in lines]
    names = [n for n in names if n]
    if not names:
        raise DataError(f"image_folder.{what}: the class list is empty")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataError(f"image_folder.{what}: classes listed twice: {', '.join(duplicates)}")
    return names


@DATASETS.register("image_folder")
class ImageFolder(Component):
    """Your own images, one subfolder per class, with features from a pretrained backbone.

    Args:
        root: the folder, ``root/<class>/*.jpg`` (nested folders inside a class are fine).
        seen: seen classes: a list of subfolder names or a text file of one name per line
            (relative paths are also looked up in ``root``). Left out: every class not unseen.
        unseen: unseen classes, likewise. Left out: every class not seen. Class folders in
            neither list are left out of the dataset.
        backbone: ``torchvision:resnet101`` (the standard ZSL features), ``open_clip:ViT-B-32``, ...
        weights: local checkpoint file or open_clip pretrained tag; ``None`` gives seeded random
            weights, whose features are useless for real experiments (warned; the dataset's name
            says so).
        cache: features folder; default ``<root>/.kgzsl-features/<backbone-weights>/``.
        batch_size: images per forward pass.
        device: ``"auto"`` uses the GPU when there is one; ``None``: the run's device
            (``train.device``; ``auto`` outside a run).
        num_workers: DataLoader processes decoding images.
        image_size: input resolution instead of the backbone's own.
        progress: show a progress bar while extracting; ``None``: the run's setting (``--no-progress``).
        test_fraction: share of each seen class's images held out as ``test_seen``.
        val_class_fraction: share of seen classes held out as ``val`` for model selection.
        seed: seed of the splits. The dataset's own seed, not the run's (``train.seed``): the
            splits are part of the data's identity, so runs of any seed compare on the same ones.
        patch_tokens: each feature row is ``[pooled embedding ; T × C patch tokens, flattened]``
            (a ViT's token sequence, a ResNet's last feature map), for methods that align words
            with image regions (``mads`` with ``tokens: T, token_dim: C``; ViT-B/32 at 224 px:
            49 × 768). Rows are large (37,632 + 512 floats for ViT-B/32): mind the memory.
    """

    file_params = ("root",)

    #: the contract test needs a real folder of images: it builds this dataset with the
    #: parameters returned by the fixture of this name
    needs_fixture = "image_folder_params"

    def __init__(
        self,
        root: str = "",
        seen: str | list[str] | None = None,
        unseen: str | list[str] | None = None,
        backbone: str = "torchvision:resnet101",
        weights: str | None = None,
        cache: str | None = None,
        batch_size: int = 64,
        device: str | None = None,
        num_workers: int = 0,
        image_size: int | None = None,
        progress: bool | None = None,
        test_fraction: float = 0.2,
        val_class_fraction: float = 0.2,
        seed: int = 0,
        patch_tokens: bool = False,
    ) -> None:
        self.patch_tokens = patch_tokens
        self.root = root
        self.seen = seen
        self.unseen = unseen
        self.backbone = backbone
        self.weights = weights
        self.cache = cache
        self.batch_size = batch_size
        self.device = device
        self.num_workers = num_workers
        self.image_size = image_size
        self.progress = progress
        self.test_fraction = test_fraction
        self.val_class_fraction = val_class_fraction
        self.seed = seed

    def cache_dir(self) -> Path:
        """Where the features are (or will be) cached."""
        if self.cache:
            return Path(self.cache).expanduser()
        slug = backbone_slug(self.backbone, self.weights)
        if self.image_size is not None:
            slug += f"-{self.image_size}px"
        if self.patch_tokens:
            slug += "-tokens"
        return Path(self.root).expanduser() / ".kgzsl-features" / slug

    def _classes(self, root: Path) -> tuple[list[str], list[str]]:
        folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        seen = read_class_list(self.seen, root, "seen")
        unseen = read_class_list(self.unseen, root, "unseen")
        if seen is None and unseen is None:
            raise DataError("image_folder: set seen or unseen (a list of class folder names, or a text file)")
        if seen is None:
            seen = [c for c in folders if c not in unseen]
        if unseen is None:
            unseen = [c for c in folders if c not in seen]
        missing = [c for c in seen + unseen if c not in folders]
        if missing:
            raise DataError(f"image_folder: no class folder in {root} for: {', '.join(missing[:10])}")
        both = sorted(set(seen) & set(unseen))
        if both:
            raise DataError(f"image_folder: classes both seen and unseen: {', '.join(both)}")
        if not seen or not unseen:
            raise DataError(
                f"image_folder: need at least one seen and one unseen class, got {len(seen)} / {len(unseen)}"
            )
        if len(seen) < 2:
            raise DataError("image_folder: need 2+ seen classes (one is held out as validation)")
        return sorted(seen), sorted(unseen)

    @classmethod
    def check_config(cls, params: dict[str, Any]) -> None:
        """Refuse out-of-range parameters before any file is read (``dataset.KEY`` in the message)."""
        check_ranges(
            params,
            positive=["batch_size", "image_size"],
            non_negative=["num_workers", "seed"],
            open_unit=["test_fraction", "val_class_fraction"],
        )

    def load(self) -> ZSLDataset:
        self.check_config(self.get_params())
        if not self.root:
            raise DataError("image_folder: set root, the folder with one subfolder of images per class")
        root = Path(self.root).expanduser().resolve()
        if not root.is_dir():
            raise DataError(f"image_folder.root: {root}: no such folder")
        seen_names, unseen_names = self._classes(root)
        class_ids = seen_names + unseen_names
        # check the class sizes before the (long) extraction, not after
        counts = Counter(r.label for r in list_images(root)[1])
        empty = [c for c in class_ids if counts[c] == 0]
        if empty:
            raise DataError(f"image_folder: no images in the class folder(s): {', '.join(empty[:10])}")
        thin = [c for c in seen_names if counts[c] < 2]
        if thin:
            raise DataError(f"image_folder: seen classes need 2+ images (train and test): {', '.join(thin[:10])}")
        cache = self.cache_dir()
        run = current_context()  # the active run's device and progress setting, where not set here
        # the cache belongs to this dataset: a stale one (images changed) is replaced, not an error
        extract_features(
            root,
            cache,
            self.backbone,
            weights=self.weights,
            batch_size=self.batch_size,
            device=self.device if self.device is not None else run.device,
            progress=self.progress if self.progress is not None else run.progress,
            overwrite=True,
            num_workers=self.num_workers,
            image_size=self.image_size,
            patch_tokens=self.patch_tokens,
        )
        with warnings.catch_warnings():
            # extract_features has warned about random weights already; the name says it too
            warnings.simplefilter("ignore", UserWarning)
            features, _, labels, manifest = load_extracted(cache)
        if self.patch_tokens:
            tokens = load_patch_tokens(cache)
            features = np.concatenate([np.asarray(features), np.asarray(tokens).reshape(len(tokens), -1)], axis=1)
        index = {c: i for i, c in enumerate(class_ids)}
        keep = np.array([label in index for label in labels], dtype=bool)
        y = np.array([index[label] for label, k in zip(labels, keep) if k], dtype=np.int64)
        seen = np.arange(len(seen_names))
        unseen = np.arange(len(seen_names), len(class_ids))
        splits = standard_splits(
            y, seen, test_fraction=self.test_fraction, val_class_fraction=self.val_class_fraction, seed=self.seed
        )
        random_init = bool(manifest["weights"].get("random_init"))
        name = f"image_folder:{root.name}" + (" (RANDOM-INIT backbone)" if random_init else "")
        return ZSLDataset(
            name=name,
            features=np.asarray(features[keep]),
            labels=y,
            class_ids=class_ids,
            seen=seen,
            unseen=unseen,
            splits=splits,
            source_files=[cache / "manifest.json", cache / "features.npy"],
            backbone=str(manifest.get("backbone") or self.backbone),
        )
