"""The user's own features: ``.npy`` / ``.npz`` / ``.pt`` arrays with labels and class lists.

For features extracted outside kgzsl (any backbone), laid out as the ZSL protocol needs them
(Xian et al., "Zero-Shot Learning – A Comprehensive Evaluation of the Good, the Bad and the
Ugly", TPAMI 2018): every image's class, the seen and unseen classes and, optionally, the
image splits; without a split file, a seeded one is made as the proposed split is (a share of
every seen class's images held out as ``test_seen``, all unseen-class images ``test_unseen``).

Memory: with ``mmap=True`` a float32 ``.npy`` is opened copy-on-write (``np.load(mmap_mode="c")``)
and a ``.pt`` saved by ``torch.save`` is mapped (``torch.load(mmap=True)``): nothing is read until
used, pages are shared with the OS cache, and writes (in-place normalisation) stay private, never
reaching the file. A copy is made when the stored dtype is not float32 (it is cast), for ``.npz``
(zip members are always read whole), and for ``.pt`` files in the legacy (non-zip) format.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from kgzsl.data.dataset import (
    ZSLDataset,
    check_finite,
    check_finite_classes,
    check_known_ids,
    check_ranges,
    check_readable,
    class_disjoint_split,
    has_repeats,
    read_id_list,
    read_text,
    standard_splits,
)
from kgzsl.errors import DataError
from kgzsl.registry import DATASETS, Component

__all__ = ["ArrayDataset", "load_array", "iter_chunks"]

_ARRAY_SUFFIXES = (".npy", ".npz", ".pt", ".pth")


def _one_line(error: BaseException) -> str:
    """A library's error message on one line (they may quote newlines)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _torch_load(path: Path, mmap: bool) -> Any:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except RuntimeError as e:
        if mmap and "mmap" in str(e):  # a legacy-format file cannot be mapped: read it whole
            return _torch_load(path, mmap=False)
        raise DataError(f"{path}: not a readable torch file ({_one_line(e)})") from None
    except Exception as e:  # unpickling errors of weights_only, damaged zip, ...
        raise DataError(f"{path}: not a readable torch file ({_one_line(e)})") from None


def load_array(path: str | Path, key: str | None = None, mmap: bool = False) -> np.ndarray:
    """One array from ``.npy``, or field ``key`` of an ``.npz`` archive or a ``.pt`` dict of tensors.

    Args:
        path: the file.
        key: field of an ``.npz`` / ``.pt`` container (ignored for a lone ``.npy`` array or tensor).
        mmap: map ``.npy`` (copy-on-write) and ``.pt`` files instead of reading them.

    Raises:
        DataError: missing file or field, unsupported suffix, unreadable file.
    """
    path = Path(path).expanduser()
    check_readable(path, "array file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            return np.load(path, mmap_mode="c" if mmap else None, allow_pickle=False)
        except Exception as e:  # a damaged header, data cut short, an object array, another format
            raise DataError(f"{path}: not a readable .npy array ({_one_line(e)})") from None
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                if key not in archive.files:
                    raise DataError(f"{path}: field {key!r} is missing (fields: {', '.join(archive.files) or 'none'})")
                return archive[key]
        except DataError:
            raise
        except Exception as e:  # a damaged zip (BadZipFile), a member cut short, ...
            raise DataError(f"{path}: not a readable .npz archive ({_one_line(e)})") from None
    if suffix in (".pt", ".pth"):
        import torch

        obj = _torch_load(path, mmap)
        if isinstance(obj, dict):
            if key not in obj:
                raise DataError(f"{path}: field {key!r} is missing (fields: {', '.join(map(str, obj)) or 'none'})")
            obj = obj[key]
        if isinstance(obj, torch.Tensor):
            tensor = obj.detach()
            # numpy has no bfloat16: widen it (a copy)
            return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()
        try:
            return np.asarray(obj)
        except Exception:
            raise DataError(f"{path}: field {key!r} is not an array") from None
    raise DataError(f"{path}: unsupported suffix {suffix!r}; use one of {', '.join(_ARRAY_SUFFIXES)}")


def _read_splits(path: Path, n: int) -> dict[str, np.ndarray]:
    if path.suffix.lower() == ".json":
        try:
            raw = json.loads(read_text(path, "split file"))
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
        if not isinstance(raw, dict):
            raise DataError(f"{path}: expected an object of split name → list of image indices")
        get = raw.get
        keys = list(raw)
    else:
        check_readable(path, "split file")
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {k: archive[k] for k in archive.files}
        except Exception as e:  # a damaged zip (BadZipFile), a member cut short, ...
            raise DataError(f"{path}: not a readable .npz archive ({_one_line(e)})") from None
        keys = list(arrays)
        get = arrays.get
    for key in ("trainval", "test_seen", "test_unseen"):
        if key not in keys:
            raise DataError(f"{path}: field {key!r} is missing (fields: {', '.join(keys) or 'none'})")
    if ("train" in keys) != ("val" in keys):
        raise DataError(f"{path}: give both 'train' and 'val' or neither")
    out = {}
    for key in ("trainval", "test_seen", "test_unseen", "train", "val"):
        if key not in keys:
            continue
        idx = np.asarray(get(key))
        if idx.size and idx.dtype.kind not in "iu":
            if idx.dtype.kind != "f" or not np.array_equal(idx, np.round(idx)):
                raise DataError(f"{path}: field {key!r} must hold whole-number image indices")
        idx = idx.astype(np.int64).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            bad = idx.min() if idx.min() < 0 else idx.max()
            raise DataError(f"{path}: field {key!r}: index {bad} is outside [0, {n}) (indices are 0-based)")
        if has_repeats(idx, n):
            raise DataError(f"{path}: field {key!r} lists an image more than once")
        out[key] = idx
    return out


@DATASETS.register("arrays")
class ArrayDataset(Component):
    """Features and labels from ``.npy`` / ``.npz`` / ``.pt`` files, classes and splits from small files.

    Args:
        features: ``[N, D]`` features: a ``.npy`` file, or an ``.npz`` / ``.pt`` holding field
            ``features_key`` (and then, by default, the labels under ``labels_key``).
        classes: every class id, one a line (or a JSON list); integer labels index this list.
        seen: seen class ids, one a line (or a JSON list); each must be in ``classes``.
        unseen: unseen class ids, likewise.
        labels: ``[N]`` labels: ``.npy`` / ``.npz`` / ``.pt`` (field ``labels_key``) or a text file
            of class ids, one per image. Integer labels are 0-based indices into ``classes``;
            string labels are class ids. Default: field ``labels_key`` of the features file.
        features_key: field of an ``.npz`` / ``.pt`` features file.
        labels_key: field of an ``.npz`` / ``.pt`` labels (or features) file.
        splits: ``.npz`` or ``.json`` with 0-based image indices ``trainval``, ``test_seen``,
            ``test_unseen`` and optionally ``train`` / ``val``; default: :func:`~kgzsl.data.dataset.standard_splits`.
        semantics: class semantics, name → ``PATH`` or ``PATH#FIELD`` of a ``[C, d]`` array in
            the order of ``classes``.
        mmap: map ``.npy`` / ``.pt`` features instead of reading them (see the module docs for
            when a copy is made anyway).
        test_fraction: without ``splits``, the share of each seen class's images held out.
        val_class_fraction: without ``train`` / ``val`` in ``splits``, the share of seen classes
            held out for model selection.
        seed: seed of the generated splits. The dataset's own seed, not the run's
            (``train.seed``): the splits are part of the data, so runs of any seed compare on the same ones.
        title: the dataset's name in reports; default ``arrays:<features file name>`` (not ``name``:
            in a config, ``name`` is the registered dataset, ``name: arrays``).
    """

    file_params = ("features", "classes", "seen", "unseen", "labels", "splits")

    #: its files are the user's: the contract test builds it with the parameters of this fixture
    needs_fixture = "arrays_params"

    def __init__(
        self,
        features: str,
        classes: str,
        seen: str,
        unseen: str,
        labels: str | None = None,
        features_key: str = "features",
        labels_key: str = "labels",
        splits: str | None = None,
        semantics: dict[str, str] | None = None,
        mmap: bool = True,
        test_fraction: float = 0.2,
        val_class_fraction: float = 0.2,
        seed: int = 0,
        title: str | None = None,
    ) -> None:
        self.features = features
        self.classes = classes
        self.seen = seen
        self.unseen = unseen
        self.labels = labels
        self.features_key = features_key
        self.labels_key = labels_key
        self.splits = splits
        self.semantics = semantics
        self.mmap = mmap
        self.test_fraction = test_fraction
        self.val_class_fraction = val_class_fraction
        self.seed = seed
        self.title = title

    @classmethod
    def check_config(cls, params: dict[str, Any]) -> None:
        """Refuse out-of-range parameters before any file is read (``dataset.KEY`` in the message)."""
        check_ranges(params, non_negative=["seed"], open_unit=["test_fraction", "val_class_fraction"])

    def load(self) -> ZSLDataset:
        self.check_config(self.get_params())
        classes_path = Path(self.classes).expanduser()
        seen_path, unseen_path = Path(self.seen).expanduser(), Path(self.unseen).expanduser()
        class_ids = read_id_list(classes_path, "class id")
        seen_ids, unseen_ids = read_id_list(seen_path, "class id"), read_id_list(unseen_path, "class id")
        check_known_ids(seen_ids, class_ids, seen_path, str(classes_path))
        check_known_ids(unseen_ids, class_ids, unseen_path, str(classes_path))
        both = sorted(set(seen_ids) & set(unseen_ids))
        if both:
            raise DataError(f"{unseen_path}: {both[0]!r} is also in {seen_path}")
        index = {c: i for i, c in enumerate(class_ids)}
        seen = np.array([index[c] for c in seen_ids], dtype=np.int64)
        unseen = np.array([index[c] for c in unseen_ids], dtype=np.int64)

        feat_path = Path(self.features).expanduser()
        features = load_array(feat_path, self.features_key, self.mmap)
        where = f"{feat_path}" + (f": field {self.features_key!r}" if feat_path.suffix.lower() != ".npy" else "")
        if features.ndim != 2 or features.dtype.kind not in "iuf":
            raise DataError(f"{where}: features must be a numeric [N, D] array, got {features.dtype} {features.shape}")
        features = features.astype(np.float32, copy=False)  # a map of float32 data stays a map
        check_finite(features, where, what="image features")
        labels, labels_where = self._labels(feat_path, class_ids)
        if labels.size != len(features):
            raise DataError(f"{labels_where}: {labels.size} labels for {len(features)} feature rows in {where}")
        counts = np.bincount(labels, minlength=len(class_ids))
        for kind, path, ids in (("seen", seen_path, seen), ("unseen", unseen_path, unseen)):
            empty = ids[counts[ids] == 0]
            if empty.size:
                raise DataError(f"{labels_where}: {kind} class {class_ids[empty[0]]!r} ({path}) has no images")

        split_path = Path(self.splits).expanduser() if self.splits else None
        if split_path is not None:
            splits = _read_splits(split_path, len(features))
            if "train" not in splits:
                splits["train"], splits["val"] = class_disjoint_split(
                    labels, splits["trainval"], seen, self.val_class_fraction, self.seed
                )
        else:
            splits = standard_splits(labels, seen, unseen, self.test_fraction, self.val_class_fraction, self.seed)
        semantics, semantic_paths = self._semantics(class_ids)
        sources = [feat_path, *([Path(self.labels)] if self.labels else []), classes_path, seen_path, unseen_path]
        sources += ([split_path] if split_path else []) + semantic_paths
        try:
            return ZSLDataset(
                name=self.title or f"arrays:{feat_path.name}",
                features=features,
                labels=labels,
                class_ids=class_ids,
                seen=seen,
                unseen=unseen,
                splits=splits,
                semantics=semantics,
                source_files=sources,
            )
        except DataError as e:
            # what is left to disagree at this point is the split file with the labels
            if split_path is not None:
                raise DataError(f"{split_path}: {e}") from None
            raise

    def _labels(self, feat_path: Path, class_ids: list[str]) -> tuple[np.ndarray, str]:
        if self.labels is None:
            if feat_path.suffix.lower() == ".npy":
                raise DataError(f"{feat_path}: a .npy file holds one array; give 'labels' (a file of labels)")
            path, raw = feat_path, load_array(feat_path, self.labels_key)
        else:
            path = Path(self.labels).expanduser()
            if path.suffix.lower() in (".txt", ".json"):
                raw = np.array(_read_label_ids(path), dtype=str)
            else:
                raw = load_array(path, self.labels_key)
        where = f"{path}" + (f": field {self.labels_key!r}" if path.suffix.lower() in (".npz", ".pt", ".pth") else "")
        raw = np.asarray(raw)
        if raw.ndim > 1 and sorted(raw.shape)[:-1] != [1] * (raw.ndim - 1):
            raise DataError(f"{where}: labels must be one per image, got shape {raw.shape}")
        raw = raw.ravel()
        c = len(class_ids)
        if raw.dtype.kind in "USO":
            index = {x: i for i, x in enumerate(class_ids)}
            values = [str(x) for x in raw]
            for i, value in enumerate(values):
                if value not in index:
                    raise DataError(f"{where}: label {i}: class {value!r} is not in {self.classes}")
            return np.array([index[v] for v in values], dtype=np.int64), where
        if raw.dtype.kind == "f" and raw.size and not np.array_equal(raw, np.round(raw)):
            raise DataError(f"{where}: labels must be whole numbers (0-based class indices) or class ids")
        if raw.dtype.kind not in "iuf":
            raise DataError(f"{where}: labels must be class indices or class ids, got {raw.dtype}")
        labels = raw.astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= c):
            bad = labels.min() if labels.min() < 0 else labels.max()
            raise DataError(
                f"{where}: label {bad} is outside [0, {c}) (labels are 0-based indices into {self.classes})"
            )
        return labels, where

    def _semantic_paths(self) -> list[Path]:
        return [Path(spec.partition("#")[0]).expanduser() for spec in (self.semantics or {}).values()]

    def _semantics(self, class_ids: list[str]) -> tuple[dict[str, np.ndarray], list[Path]]:
        out, c = {}, len(class_ids)
        for name, spec in (self.semantics or {}).items():
            path_text, _, key = spec.partition("#")
            path = Path(path_text).expanduser()
            matrix = np.asarray(load_array(path, key or "semantics"))
            if matrix.ndim != 2 or matrix.shape[0] != c or matrix.dtype.kind not in "iufb":
                raise DataError(f"{path}: semantics {name!r} must be a numeric [{c}, d] array, got {matrix.shape}")
            out[name] = np.ascontiguousarray(matrix, dtype=np.float32)
            where = f"{path}" + (f": field {key!r}" if key else "")
            check_finite_classes(out[name], where, class_ids)  # against the file, not the dataset
        return out, self._semantic_paths()


def _read_label_ids(path: Path) -> list[str]:
    """Per-image class ids: one a line (blank lines skipped) or a JSON list; repeats are expected."""
    text = read_text(path, "list of labels")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
        if not isinstance(data, list):
            raise DataError(f"{path}: expected a JSON list of class ids, one per image")
        return [str(x) for x in data]
    return [line.strip() for line in text.splitlines() if line.strip()]


def iter_chunks(
    features: str | Path | np.ndarray,
    labels: Any,
    chunk_images: int = 4096,
    rows: Any = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(float32 [B, D] features, int64 [B] labels)`` chunks of a (memory-mapped) array.

    For scoring your own test features in bounded memory
    (:func:`kgzsl.evaluation.streamed_hit_at_k`): a ``.npy`` path is mapped read-only and only
    one chunk at a time is read (and cast to float32); an array (e.g. already mapped) is sliced
    the same way.

    Args:
        features: a ``.npy`` file or an ``[N, D]`` array.
        labels: ``[N]`` global class indices (an array, or a ``.npy`` path, mapped too).
        chunk_images: images per chunk (the last one fewer).
        rows: optional image indices (e.g. a test split) to take, in this order.

    Raises:
        DataError: an unreadable file, a non-2-D array, labels of another length, a chunk size
            that is not a positive integer, or a chunk with NaN or infinite features.
    """
    if isinstance(chunk_images, bool) or not isinstance(chunk_images, int) or chunk_images < 1:
        raise DataError(f"chunk_images must be a positive integer, got {chunk_images!r}")
    where = str(features) if isinstance(features, (str, Path)) else "features"
    if isinstance(features, (str, Path)):
        path = Path(features).expanduser()
        check_readable(path, "array file")
        try:
            features = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception as e:  # a damaged header, an .npz, an object array
            raise DataError(f"{path}: not a readable .npy array ({_one_line(e)})") from None
    if isinstance(labels, (str, Path)):
        labels = load_array(labels, mmap=True)
    labels = np.asarray(labels)
    if features.ndim != 2:
        raise DataError(f"{where}: expected an [N, D] array, got shape {features.shape}")
    if labels.shape != (features.shape[0],):
        raise DataError(f"{where}: {features.shape[0]} images but labels of shape {labels.shape}")
    order = np.arange(features.shape[0]) if rows is None else np.asarray(rows, dtype=np.int64)
    for start in range(0, len(order), chunk_images):
        idx = order[start : start + chunk_images]
        # contiguous runs read as slices (a mapped file reads only those pages)
        sel = (
            slice(int(idx[0]), int(idx[-1]) + 1)
            if idx[-1] - idx[0] + 1 == len(idx) and (np.diff(idx) == 1).all()
            else idx
        )
        x = np.asarray(features[sel], dtype=np.float32)
        check_finite(x, f"{where}: rows {int(idx[0])}..{int(idx[-1])}", what="image features")
        yield x, np.asarray(labels[sel], dtype=np.int64)
