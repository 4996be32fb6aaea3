"""``ZSLDataset``: the one dataset model every loader produces and every method consumes.

Also the helpers the benchmark loaders share: converting MATLAB's 1-based indices, reading
class lists, and the seeded class-disjoint ``train`` / ``val`` split of the seen classes used for
model selection. MATLAB ``.mat`` files (v5 and v7.3) are read by :mod:`kgzsl.matlab`, the one
reader of every layer; ``read_mat``, ``write_mat`` and ``mat_fields`` are re-exported here for
the code that imported them from this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kgzsl.errors import ConfigError, DataError
from kgzsl.matlab import mat_fields, read_mat, write_mat

__all__ = [
    "ZSLDataset",
    "SPLITS",
    "MissingFeaturesError",
    "from_one_based",
    "read_id_list",
    "read_text",
    "check_readable",
    "check_known_ids",
    "check_finite",
    "check_finite_classes",
    "has_repeats",
    "class_disjoint_split",
    "standard_splits",
    "check_ranges",
    "read_mat",
    "write_mat",
    "mat_fields",
]

#: image index sets every dataset has (``train`` / ``val`` are class-disjoint parts of ``trainval``)
SPLITS = ("trainval", "test_seen", "test_unseen", "train", "val")

# Rows checked at a time for NaN / inf: bounds the temporary boolean mask (and, for a memory-mapped
# file, lets the kernel drop pages already checked) instead of allocating one as large as the data.
_FINITE_CHUNK_ELEMENTS = 1 << 20


class MissingFeaturesError(DataError):
    """The image features a dataset needs are not there (a file or folder is absent).

    Kept apart from other :class:`~kgzsl.errors.DataError` s because the benchmarks' features are
    large downloads that a machine may lack while it has all the metadata: callers (the
    component contract test, ``kgzsl check``) may treat this one case as "not available here".
    """


def check_finite(array: np.ndarray, where: str, what: str = "features") -> None:
    """Raise a :class:`DataError` naming the first row with a NaN or infinite value.

    Works block by block, so a memory-mapped matrix is never materialised as a whole.
    """
    arr = np.asarray(array)
    if arr.dtype.kind not in "fc" or arr.size == 0:
        return
    rows = max(1, _FINITE_CHUNK_ELEMENTS // max(1, arr[0].size)) if arr.ndim > 1 else _FINITE_CHUNK_ELEMENTS
    for start in range(0, len(arr), rows):
        block = arr[start : start + rows]
        ok = np.isfinite(block)
        if not ok.all():
            bad = start + int(np.flatnonzero(~ok.reshape(len(block), -1).all(axis=1))[0])
            raise DataError(f"{where}: {what} contain NaN or infinite values (first at row {bad})")


def check_ranges(
    params: dict[str, Any],
    where: str = "dataset",
    positive: Sequence[str] = (),
    non_negative: Sequence[str] = (),
    open_unit: Sequence[str] = (),
    share: Sequence[str] = (),
) -> None:
    """Raise a :class:`~kgzsl.errors.ConfigError` naming ``where.KEY`` for a value out of its range.

    The datasets' ``check_config`` hooks use it, so that a config is refused before any data
    is read (``kgzsl validate``, the start of a run) and a dataset built in Python is refused at
    the start of ``load()``. ``None`` (an unset optional) passes; booleans and non-numbers are
    left to the type checks.

    Args:
        params: the parameters, defaults filled in.
        where: the config path of the section.
        positive: keys whose values must be ``> 0``.
        non_negative: keys whose values must be ``>= 0`` (seeds: NumPy refuses negative ones).
        open_unit: keys whose values must be in ``(0, 1)`` (shares of images or classes held out).
        share: keys whose values must be in ``(0, 1]`` (a share of the data kept, all of it allowed).
    """
    rules = [(positive, "> 0", lambda v: v > 0), (non_negative, ">= 0", lambda v: v >= 0)]
    rules.append((open_unit, "in (0, 1)", lambda v: 0 < v < 1))
    rules.append((share, "in (0, 1]", lambda v: 0 < v <= 1))
    for keys, text, ok in rules:
        for key in keys:
            value = params.get(key)
            if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if value != value or not ok(value):  # NaN fails every rule
                raise ConfigError(f"{where}.{key}: expected a value {text}, got {value!r}")


def check_finite_classes(matrix: np.ndarray, where: str, names: Sequence[str] | None = None) -> None:
    """Raise a :class:`DataError` naming the first class of a ``[C, d]`` class matrix with a NaN or inf.

    ``where`` names the source (``"FILE: field 'att'"``), so that a NaN in ``att_splits.mat`` is
    reported against the file and the variable, not against the dataset built from it.
    """
    arr = np.asarray(matrix)
    if arr.dtype.kind not in "fc" or arr.size == 0:
        return
    bad = ~np.isfinite(arr).reshape(len(arr), -1).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        name = f" ({names[i]!r})" if names is not None and i < len(names) else ""
        raise DataError(
            f"{where}: NaN or infinite values for {int(bad.sum())} class(es), the first class {i + 1}{name}"
        )


def has_repeats(idx: np.ndarray, n: int) -> bool:
    """Whether indices in ``[0, n)`` repeat: one counting pass, cheaper than sorting for ``np.unique``."""
    return bool(idx.size) and int(np.bincount(idx, minlength=n).max()) > 1


@dataclass
class ZSLDataset:
    """Features, labels, classes and the standard ZSL splits of one benchmark.

    Shapes:
        features: ``[N, D]`` float32 (a memory map stays one: nothing here copies it).
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
    #: the backbone that produced ``features`` as its manifest records it (``open_clip:ViT-B-32``,
    #: ``torchvision:resnet101``); ``None`` where unknown (features made outside kgzsl)
    backbone: str | None = None
    #: the test splits are empty here and scored streamed from the dataset component's
    #: ``iter_test`` (test sets too large to hold: ImageNet-21K), see
    #: :func:`kgzsl.evaluation.streamed_report`
    streamed_test: bool = False

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
        check_finite(self.features, self.name)
        c = self.num_classes
        if len(set(self.class_ids)) != c:
            dup = next(x for i, x in enumerate(self.class_ids) if x in self.class_ids[:i])
            raise DataError(f"{self.name}: class id {dup!r} appears more than once")
        if n and (self.labels.min() < 0 or self.labels.max() >= c):
            raise DataError(f"{self.name}: labels must be in [0, {c}), got {self.labels.min()}..{self.labels.max()}")
        for key, classes in (("seen", self.seen), ("unseen", self.unseen)):
            if classes.size and (classes.min() < 0 or classes.max() >= c):
                raise DataError(f"{self.name}: {key} classes must be in [0, {c})")
        if np.intersect1d(self.seen, self.unseen).size:
            raise DataError(f"{self.name}: seen and unseen classes overlap")
        for key in SPLITS:
            if key not in self.splits:
                raise DataError(f"{self.name}: split {key!r} is missing")
            idx = self.splits[key]
            if idx.ndim != 1:
                raise DataError(f"{self.name}: split {key!r} must be 1-D, got shape {idx.shape}")
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise DataError(f"{self.name}: split {key!r} has indices outside [0, {n})")
            if has_repeats(idx, n):
                raise DataError(f"{self.name}: split {key!r} lists an image more than once")
        s = self.splits
        if np.isin(self.labels[s["test_unseen"]], self.seen).any():
            raise DataError(f"{self.name}: split 'test_unseen' has images of seen classes")
        for key in ("trainval", "test_seen"):
            if not np.isin(self.labels[s[key]], self.seen).all():
                raise DataError(f"{self.name}: split {key!r} has images of unseen classes")
        if np.intersect1d(s["trainval"], s["test_seen"]).size:
            # a test image used for training makes every seen-class accuracy optimistic
            raise DataError(f"{self.name}: splits 'trainval' and 'test_seen' share images")
        for key in ("train", "val"):
            if not np.isin(s[key], s["trainval"]).all():
                raise DataError(f"{self.name}: split {key!r} has images outside 'trainval'")
        if np.intersect1d(self.train_classes, self.val_classes).size:
            raise DataError(f"{self.name}: 'train' and 'val' must be class-disjoint")
        required = [("trainval", self.seen)] + ([] if self.streamed_test else [("test_unseen", self.unseen)])
        for key, classes in required:
            present = np.zeros(c, dtype=bool)
            present[self.labels[s[key]]] = True
            empty = classes[~present[classes]]
            if empty.size:
                kind = "seen" if key == "trainval" else "unseen"
                raise DataError(
                    f"{self.name}: {kind} class {self.class_ids[empty[0]]!r} has no images in split {key!r}"
                )
        for key, sem in self.semantics.items():
            sem = np.asarray(sem)
            if sem.ndim != 2 or sem.shape[0] != c:
                raise DataError(f"{self.name}: semantics {key!r} has shape {sem.shape}, expected [{c}, d]")
            check_finite(sem, self.name, what=f"semantics {key!r}")

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


# --------------------------------------------------------------------------- splits


def class_disjoint_split(
    labels: np.ndarray,
    trainval: np.ndarray,
    seen: np.ndarray,
    val_class_fraction: float = 0.2,
    seed: int = 0,
    val_classes: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``trainval`` into ``train`` / ``val`` by class, for model selection.

    The validation classes play the unseen classes' part while hyperparameters are chosen, as
    in the cross-validation folds of the proposed split (Xian et al., "Zero-Shot Learning – A
    Comprehensive Evaluation of the Good, the Bad and the Ugly", TPAMI 2018, Sec. 4.2).

    Args:
        labels: ``[N]`` class index of every image.
        trainval: image indices of the seen classes' training images.
        seen: the seen class indices.
        val_class_fraction: share of the seen classes held out (at least one, at most all but one).
        seed: seed of the class draw (sorted classes are drawn from, so the draw does not depend
            on the order ``seen`` is given in).
        val_classes: the held-out classes, given instead of drawn.

    Returns:
        ``(train, val)`` image indices, both sorted subsets of ``trainval``.
    """
    trainval = np.sort(np.asarray(trainval, dtype=np.int64))
    seen = np.sort(np.asarray(seen, dtype=np.int64))
    if val_classes is None:
        if not 0.0 < val_class_fraction < 1.0:
            raise DataError(f"val_class_fraction must be in (0, 1), got {val_class_fraction}")
        if len(seen) < 2:
            raise DataError(f"a class-disjoint validation split needs at least 2 seen classes, got {len(seen)}")
        n_val = min(len(seen) - 1, max(1, int(round(val_class_fraction * len(seen)))))
        val_classes = np.random.default_rng(seed).choice(seen, size=n_val, replace=False)
    in_val = np.isin(np.asarray(labels)[trainval], val_classes)
    return trainval[~in_val], trainval[in_val]


def standard_splits(
    labels: np.ndarray,
    seen: np.ndarray,
    unseen: np.ndarray | None = None,
    test_fraction: float = 0.2,
    val_class_fraction: float = 0.2,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """The standard ZSL splits, seeded: ``test_fraction`` of every seen class's images are
    ``test_seen`` (at least one, leaving at least one), the rest ``trainval``; the images of
    ``unseen`` (default: every class not in ``seen``) are ``test_unseen``; ``train`` / ``val``
    split ``trainval`` by class (:func:`class_disjoint_split`)."""
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"test_fraction must be in (0, 1), got {test_fraction}")
    labels = np.asarray(labels)
    seen = np.asarray(seen)
    rng = np.random.default_rng(seed)
    trainval, test_seen = [], []
    for c in np.sort(seen):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = min(len(idx) - 1, max(1, int(round(test_fraction * len(idx)))))
        test_seen.append(idx[:n_test])
        trainval.append(idx[n_test:])
    in_unseen = ~np.isin(labels, seen) if unseen is None else np.isin(labels, unseen)
    out = {
        "trainval": np.sort(np.concatenate(trainval)),
        "test_seen": np.sort(np.concatenate(test_seen)),
        "test_unseen": np.flatnonzero(in_unseen),
    }
    out["train"], out["val"] = class_disjoint_split(labels, out["trainval"], seen, val_class_fraction, seed + 1)
    return out


# --------------------------------------------------------------------------- small files


def read_text(path: str | Path, what: str = "file") -> str:
    """A small text file's content (UTF-8, a byte-order mark dropped), every failure one :class:`DataError`.

    Missing, a folder, unreadable (permission denied) or not UTF-8 (with the line of the first
    bad byte): each is reported on one line naming the file.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a file")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        data = path.read_bytes()
    except PermissionError:
        raise DataError(f"{path}: permission denied (cannot read the {what})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read the {what} ({e.strerror or type(e).__name__})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not UTF-8 text (byte 0x{data[e.start]:02x}); expected a {what}") from None


def check_readable(path: Path, what: str = "file") -> None:
    """Raise a one-line :class:`DataError` unless ``path`` is a file this process may read."""
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a file")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with path.open("rb"):
            pass
    except PermissionError:
        raise DataError(f"{path}: permission denied (cannot read the {what})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read the {what} ({e.strerror or type(e).__name__})") from None


def read_id_list(path: str | Path, what: str = "class id") -> list[str]:
    """Ids from a text file (one a line; blank lines skipped) or a JSON list of strings.

    Raises:
        DataError: the file is missing, empty, malformed or repeats an id (with its line).
    """
    path = Path(path)
    text = read_text(path, f"list of {what}s")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
        if not isinstance(data, list) or not all(isinstance(x, (str, int)) for x in data):
            raise DataError(f"{path}: expected a JSON list of {what}s")
        items = [(None, str(x)) for x in data]
    else:
        items = [(i, line.strip()) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not items:
        raise DataError(f"{path}: no {what}s")
    seen: set[str] = set()
    for line, item in items:
        if item in seen:
            where = f"{path}:{line}" if line else str(path)
            raise DataError(f"{where}: {what} {item!r} appears more than once")
        seen.add(item)
    return [item for _, item in items]


def check_known_ids(ids: Sequence[str], known: Iterable[str], path: str | Path, known_name: str) -> None:
    """Raise a :class:`DataError` naming the first id of ``path`` that is not in ``known``."""
    known = set(known)
    for i, item in enumerate(ids):
        if item not in known:
            raise DataError(f"{path}: entry {i + 1}: {item!r} is not in {known_name}")


def from_one_based(values: Any, n: int, where: str) -> np.ndarray:
    """MATLAB's 1-based indices (any shape, any numeric dtype) as 0-based int64, checked against ``n``.

    Args:
        values: the indices as read (``uint16`` column vectors in xlsa17's files).
        n: how many items they index.
        where: ``"FILE: field 'NAME'"``, the start of every error message.
    """
    v = np.asarray(values).ravel()
    if v.dtype.kind not in "iuf" and v.size:
        raise DataError(f"{where}: expected numeric indices, got {v.dtype}")
    if v.dtype.kind == "f" and v.size and not np.array_equal(v, np.round(v)):
        raise DataError(f"{where}: indices must be whole numbers")
    if v.size and v.min() < 1:
        raise DataError(f"{where}: index {v.min():g} found, but the indices are 1-based (MATLAB)")
    if v.size and v.max() > n:
        raise DataError(f"{where}: index {v.max():g} is past the last of {n} items")
    return v.astype(np.int64) - 1
