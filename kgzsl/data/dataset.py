"""``ZSLDataset``: the one dataset model every loader produces and every method consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kgzsl.errors import DataError

__all__ = ["ZSLDataset", "SPLITS"]

#: image index sets every dataset has (``train`` / ``val`` are class-disjoint parts of ``trainval``)
SPLITS = ("trainval", "test_seen", "test_unseen", "train", "val")


@dataclass
class ZSLDataset:
    """Features, labels, classes and the standard ZSL splits of one benchmark.

    Shapes:
        features: ``[N, D]`` float32.
        labels: ``[N]`` int64 class indices into ``class_ids``.
        seen, unseen: class indices.
        splits: image indices for ``trainval`` (seen classes), ``test_seen``, ``test_unseen``
            and, for model selection, ``train`` / ``val``: a class-disjoint split of ``trainval``.
        semantics: named class semantics ``[C, d]`` that ship with the dataset.
    """

    name: str
    features: np.ndarray
    labels: np.ndarray
    class_ids: list[str]
    seen: np.ndarray
    unseen: np.ndarray
    splits: dict[str, np.ndarray]
    semantics: dict[str, np.ndarray] = field(default_factory=dict)
    synthetic: bool = False
    source_files: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.features = np.asarray(self.features, dtype=np.float32)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.seen = np.asarray(self.seen, dtype=np.int64)
        self.unseen = np.asarray(self.unseen, dtype=np.int64)
        self.splits = {k: np.asarray(v, dtype=np.int64) for k, v in self.splits.items()}
        self.validate()

    @property
    def num_classes(self) -> int:
        return len(self.class_ids)

    @property
    def val_classes(self) -> np.ndarray:
        """Seen classes held out as 'unseen' for model selection (the classes of ``val``)."""
        return np.unique(self.labels[self.splits["val"]])

    @property
    def train_classes(self) -> np.ndarray:
        return np.unique(self.labels[self.splits["train"]])

    def validate(self) -> None:
        """Raise a :class:`DataError` naming the field when the dataset is inconsistent."""
        n = len(self.features)
        if self.features.ndim != 2:
            raise DataError(f"{self.name}: features must be 2-D [N, D], got shape {self.features.shape}")
        if self.labels.shape != (n,):
            raise DataError(f"{self.name}: {n} feature rows but {self.labels.size} labels")
        if not np.isfinite(self.features).all():
            raise DataError(f"{self.name}: features contain NaN or infinite values")
        c = self.num_classes
        if n and (self.labels.min() < 0 or self.labels.max() >= c):
            raise DataError(f"{self.name}: labels must be in [0, {c}), got {self.labels.min()}..{self.labels.max()}")
        if np.intersect1d(self.seen, self.unseen).size:
            raise DataError(f"{self.name}: seen and unseen classes overlap")
        for key in SPLITS:
            if key not in self.splits:
                raise DataError(f"{self.name}: split {key!r} is missing")
            idx = self.splits[key]
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise DataError(f"{self.name}: split {key!r} has indices outside [0, {n})")
        if np.isin(self.labels[self.splits["test_unseen"]], self.seen).any():
            raise DataError(f"{self.name}: split 'test_unseen' has images of seen classes")
        if not np.isin(self.labels[self.splits["trainval"]], self.seen).all():
            raise DataError(f"{self.name}: split 'trainval' has images of unseen classes")
        if np.intersect1d(self.train_classes, self.val_classes).size:
            raise DataError(f"{self.name}: 'train' and 'val' must be class-disjoint")
        for key, sem in self.semantics.items():
            if np.asarray(sem).shape[0] != c:
                raise DataError(f"{self.name}: semantics {key!r} has {np.asarray(sem).shape[0]} rows for {c} classes")

    def summary(self) -> str:
        s = self.splits
        kind = " (synthetic features)" if self.synthetic else ""
        sem = ", ".join(f"{k} {np.asarray(v).shape[1]}-d" for k, v in self.semantics.items()) or "none"
        return (
            f"ZSLDataset {self.name!r}{kind}: {len(self.features)} images × {self.features.shape[1]} features; "
            f"classes {len(self.seen)} seen / {len(self.unseen)} unseen; "
            f"trainval {len(s['trainval'])}, test_seen {len(s['test_seen'])}, test_unseen {len(s['test_unseen'])}; "
            f"train {len(s['train'])} / val {len(s['val'])} ({len(self.val_classes)} val classes); semantics: {sem}"
        )

    def __repr__(self) -> str:
        return self.summary()
