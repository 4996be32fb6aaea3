"""``ZSLDataset``: the one dataset model every loader produces and every method consumes.

Also the helpers the benchmark loaders share: reading MATLAB ``.mat`` files (v5 and v7.3),
converting MATLAB's 1-based indices, reading class lists, and the seeded class-disjoint
``train`` / ``val`` split of the seen classes used for model selection.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from kgzsl.errors import DataError

__all__ = [
    "ZSLDataset",
    "SPLITS",
    "MissingFeaturesError",
    "read_mat",
    "write_mat",
    "mat_fields",
    "from_one_based",
    "read_id_list",
    "check_known_ids",
    "check_finite",
    "has_repeats",
    "class_disjoint_split",
    "standard_splits",
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
        for key, classes in (("trainval", self.seen), ("test_unseen", self.unseen)):
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


def read_id_list(path: str | Path, what: str = "class id") -> list[str]:
    """Ids from a text file (one a line; blank lines skipped) or a JSON list of strings.

    Raises:
        DataError: the file is missing, empty, malformed or repeats an id (with its line).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8")
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


# --------------------------------------------------------------------------- MATLAB files

_MAT73_SIGNATURE = b"MATLAB 7.3 MAT-file"


def _is_mat73(path: Path) -> bool:
    """v7.3 files are HDF5 behind a 512-byte header; v4/v5/v7 files are MATLAB's own format."""
    import h5py

    with path.open("rb") as f:
        head = f.read(128)
    if head.startswith(_MAT73_SIGNATURE):
        return True
    if h5py.is_hdf5(str(path)):
        raise DataError(
            f"{path}: an HDF5 file without MATLAB's v7.3 header; kgzsl reads MATLAB .mat files "
            "(v5 or v7.3): save it from MATLAB, or convert it to .npy / .npz for the 'arrays' dataset"
        )
    return False


def _v5_cell_value(value: Any) -> Any:
    """scipy's view of a cell or char array, as plain Python: strings for chars, lists for cells of strings."""
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "U":
            rows = [str(r) for r in value.ravel()]  # loadmat joins each char row into one string
            return "" if not rows else rows[0] if len(rows) == 1 else rows
        if value.dtype == object:
            # MATLAB's element order; the common case, a cell of char rows, without recursion
            items = [
                str(v[0]) if type(v) is np.ndarray and v.dtype.kind == "U" and v.shape == (1,) else _v5_cell_value(v)
                for v in value.ravel(order="F")
            ]
            if all(isinstance(v, str) for v in items):
                return items
            return value
    return value


def _h5_attr(obj: Any, name: str) -> Any:
    value = obj.attrs.get(name)
    return value.decode() if isinstance(value, bytes) else value


def _h5_value(f: Any, obj: Any, where: str) -> Any:
    """One variable of a v7.3 file as scipy would give it from a v5 file (MATLAB's orientation)."""
    import h5py

    if isinstance(obj, h5py.Group):
        raise DataError(f"{where}: MATLAB structs and sparse matrices are not supported")
    cls = _h5_attr(obj, "MATLAB_class")
    if _h5_attr(obj, "MATLAB_empty"):
        # an empty array is stored as its dimensions
        if cls == "char":
            return ""
        if cls == "cell":
            return []
        dims = tuple(int(d) for d in np.asarray(obj[()]).ravel())
        return np.zeros(dims, dtype=np.float64)
    data = obj[()]
    if cls == "cell":
        # HDF5 holds the transposed array, so C order over it is MATLAB's column-major order
        items = [_h5_value(f, f[ref], where) for ref in np.asarray(data).ravel()]
        if all(isinstance(v, str) for v in items):
            return items
        out = np.empty(len(items), dtype=object)
        out[:] = items
        return out.reshape(np.asarray(data).shape[::-1], order="F")
    arr = np.asarray(data).T  # a view: HDF5 stores MATLAB's column-major data as row-major, dims reversed
    if cls == "char":
        rows = ["".join(map(chr, row)) for row in np.atleast_2d(arr)]
        return rows[0] if len(rows) == 1 else rows
    if cls == "logical":
        return arr.astype(bool)
    if arr.dtype.names:
        raise DataError(f"{where}: complex MATLAB arrays are not supported")
    return arr


# MATLAB v5 codes (MAT-File Format, The MathWorks, 2019): data types of the element tags, and
# the array classes whose data can be mapped when stored with the class's own type
_MI_MATRIX = 14
_V5_CLASS_TYPES = {
    6: (9, np.float64),  # mxDOUBLE_CLASS stored as miDOUBLE
    7: (7, np.float32),  # mxSINGLE_CLASS as miSINGLE
    8: (1, np.int8),
    9: (2, np.uint8),
    10: (3, np.int16),
    11: (4, np.uint16),
    12: (5, np.int32),
    13: (6, np.uint32),
    14: (12, np.int64),
    15: (13, np.uint64),
}


def _v5_tag(buf: bytes, pos: int) -> tuple[int, int, int, int]:
    """``(type, nbytes, data offset, next element offset)`` of the element at ``pos``.

    A small data element (4 bytes of data at most) packs type and size in one word and its data
    in the next; other elements have an 8-byte tag and data padded to a multiple of 8 bytes.
    """
    first, second = (int(v) for v in np.frombuffer(buf, dtype="<u4", count=2, offset=pos))
    if first >> 16:
        return first & 0xFFFF, first >> 16, pos + 4, pos + 8
    return first, second, pos + 8, pos + 8 + second + (-second % 8)


def _v5_map(path: Path, wanted: Sequence[str]) -> dict[str, np.ndarray]:
    """Memory-map the ``wanted`` variables a v5 file stores uncompressed as plain real numeric arrays.

    Files written by ``scipy.io.savemat`` (uncompressed by default) qualify; MATLAB's own
    ``save`` compresses (v7), and those variables, like cells, complex, sparse, or a double
    stored as ``uint16`` (MATLAB's space saving), are left to ``scipy.io.loadmat``. Maps are
    copy-on-write: changing the array never changes the file.
    """
    out: dict[str, np.ndarray] = {}
    size = path.stat().st_size
    with path.open("rb") as f:
        if f.read(128)[126:128] != b"IM":  # only little-endian files (all of them in practice)
            return out
        pos = 128
        while pos + 8 <= size and len(out) < len(wanted):
            f.seek(pos)
            head = f.read(256)  # tag, array flags, dimensions and name fit in here
            if len(head) < 8:
                break
            kind, nbytes, _, _ = _v5_tag(head, 0)
            end = pos + 8 + nbytes + (-nbytes % 8 if kind == _MI_MATRIX else 0)  # compressed: unpadded
            if kind == _MI_MATRIX and len(head) >= 48:
                try:
                    name, array = _v5_matrix(path, head, pos)
                except (ValueError, IndexError):  # header past the 256 bytes read: leave it to scipy
                    name, array = None, None
                if name in wanted and array is not None:
                    out[name] = array
            pos = end
    return out


def _v5_matrix(path: Path, head: bytes, pos: int) -> tuple[str | None, np.ndarray | None]:
    """Name and, when mappable, the mapped data of the miMATRIX element at ``pos`` (``head``: its first bytes)."""
    _, _, at, nxt = _v5_tag(head, 8)  # array flags: class in the low byte, complex / logical bits above
    flags = int(np.frombuffer(head, dtype="<u4", count=1, offset=at)[0])
    cls, complex_or_logical = flags & 0xFF, flags & 0x0A00
    _, nbytes, at, nxt = _v5_tag(head, nxt)  # dimensions
    dims = tuple(int(d) for d in np.frombuffer(head, dtype="<i4", count=nbytes // 4, offset=at))
    _, nbytes, at, nxt = _v5_tag(head, nxt)  # name
    name = head[at : at + nbytes].decode("latin-1")
    if cls not in _V5_CLASS_TYPES or complex_or_logical:
        return name, None
    kind, nbytes, at, _ = _v5_tag(head, nxt)  # real part
    mi_type, dtype = _V5_CLASS_TYPES[cls]
    if kind != mi_type or nbytes == 0 or nbytes != int(np.prod(dims)) * np.dtype(dtype).itemsize:
        return name, None
    return name, np.memmap(path, dtype=dtype, mode="c", offset=pos + at, shape=dims, order="F")


def _h5_map(path: Path, obj: Any) -> np.ndarray | None:
    """A copy-on-write map of a v7.3 numeric variable stored contiguous and uncompressed, else ``None``."""
    cls = _h5_attr(obj, "MATLAB_class")
    if cls not in _MAT_CLASS_NAMES or obj.chunks is not None or _h5_attr(obj, "MATLAB_empty"):
        return None
    offset = obj.id.get_offset()  # from the start of the file, MATLAB's 512-byte header included
    if offset is None or obj.dtype.names or obj.size == 0:
        return None
    return np.memmap(path, dtype=obj.dtype, mode="c", offset=offset, shape=obj.shape).T


def _mat73_fields(path: Path) -> list[str]:
    import h5py

    with h5py.File(path, "r") as f:
        return [k for k in f if not k.startswith("#")]


def mat_fields(path: str | Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """The variables of a ``.mat`` file with their MATLAB shape and class, without reading their data.

    Raises:
        DataError: the file is missing or not a MATLAB file.
    """
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if _is_mat73(path):
        import h5py

        out = {}
        with h5py.File(path, "r") as f:
            for key in f:
                if key.startswith("#"):
                    continue
                obj = f[key]
                shape = tuple(obj.shape[::-1]) if hasattr(obj, "shape") else ()
                if _h5_attr(obj, "MATLAB_empty"):
                    shape = tuple(int(d) for d in np.asarray(obj[()]).ravel())
                out[key] = (shape, str(_h5_attr(obj, "MATLAB_class") or "struct"))
        return out
    try:
        return {name: (tuple(shape), cls) for name, shape, cls in scipy.io.whosmat(str(path))}
    except Exception as e:  # scipy raises several kinds for a damaged or foreign file
        raise DataError(f"{path}: not a readable MATLAB .mat file ({type(e).__name__}: {e})") from None


def read_mat(
    path: str | Path, fields: Sequence[str], optional: Sequence[str] = (), mmap: bool = False
) -> dict[str, Any]:
    """Read variables of a MATLAB ``.mat`` file, v5 (``scipy.io.loadmat``) or v7.3 (HDF5, ``h5py``).

    Both versions give the same values: numeric arrays in MATLAB's shape (a ``2048 × N`` matrix
    stays ``2048 × N``; a v7.3 array is a zero-copy transposed view of what HDF5 holds), cell
    arrays of strings as ``list[str]`` in MATLAB's column-major order, char arrays as ``str``.
    Only the variables asked for are read.

    Args:
        path: the ``.mat`` file.
        fields: variables that must be there.
        optional: variables read when present (absent ones are left out of the result).
        mmap: memory-map (copy-on-write) the numeric variables the file stores uncompressed:
            nothing is read until used and nothing is copied. MATLAB's own files are compressed
            (v7, and v7.3 by default): those variables are read as usual. See :func:`_v5_map`.

    Raises:
        DataError: the file is missing or unreadable, or a field is missing (naming file and field).
    """
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    wanted = list(dict.fromkeys([*fields, *optional]))
    out: dict[str, Any] = {}
    if _is_mat73(path):
        import h5py

        try:
            with h5py.File(path, "r") as f:
                for key in wanted:
                    if key in f:
                        mapped = _h5_map(path, f[key]) if mmap and isinstance(f[key], h5py.Dataset) else None
                        out[key] = mapped if mapped is not None else _h5_value(f, f[key], f"{path}: field {key!r}")
        except OSError as e:
            raise DataError(f"{path}: not a readable MATLAB v7.3 file ({e})") from None
        available = _mat73_fields(path) if any(k not in out for k in fields) else []
    else:
        try:
            out = _v5_map(path, wanted) if mmap else {}
            rest = [k for k in wanted if k not in out]
            raw = scipy.io.loadmat(str(path), variable_names=rest) if rest else {}
        except Exception as e:  # scipy raises several kinds for a damaged or foreign file
            raise DataError(f"{path}: not a readable MATLAB .mat file ({type(e).__name__}: {e})") from None
        out |= {k: _v5_cell_value(v) for k, v in raw.items() if not k.startswith("__")}
        available = list(mat_fields(path)) if any(k not in out for k in fields) else []
    for key in fields:
        if key not in out:
            raise DataError(f"{path}: field {key!r} is missing (fields: {', '.join(available) or 'none'})")
    return out


_MAT_CLASSES = {
    np.dtype(np.float64): "double",
    np.dtype(np.float32): "single",
    np.dtype(np.int8): "int8",
    np.dtype(np.uint8): "uint8",
    np.dtype(np.int16): "int16",
    np.dtype(np.uint16): "uint16",
    np.dtype(np.int32): "int32",
    np.dtype(np.uint32): "uint32",
    np.dtype(np.int64): "int64",
    np.dtype(np.uint64): "uint64",
}


_MAT_CLASS_NAMES = set(_MAT_CLASSES.values())


def _mat73_header() -> bytes:
    # the 128-byte MAT-file header in the HDF5 user block: 116 bytes of text, 8 of subsystem
    # offset, version 0x0200 and the endian indicator, as MATLAB writes it
    stamp = datetime.now(UTC).strftime("%a %b %d %H:%M:%S %Y")
    text = f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: {stamp} HDF5 schema 1.00 .".encode()
    return text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"


def _write_h5_value(f: Any, parent: Any, name: str, value: Any, compress: bool) -> Any:
    """Write one value the way MATLAB lays it out in a v7.3 file; return the dataset."""
    import h5py

    def tag(ds: Any, cls: str) -> Any:
        ds.attrs.create("MATLAB_class", np.bytes_(cls))
        return ds

    if isinstance(value, str):
        codes = np.array([[ord(ch) for ch in value]], dtype=np.uint16)
        if codes.size == 0:
            ds = parent.create_dataset(name, data=np.array([0, 0], dtype=np.uint64))
            ds.attrs.create("MATLAB_empty", np.uint8(1))
            return tag(ds, "char")
        ds = tag(parent.create_dataset(name, data=codes.T), "char")
        ds.attrs.create("MATLAB_int_decode", np.int32(2))
        return ds
    if isinstance(value, (list, tuple)):
        # a cell column vector: references to the elements, which live in the "#refs#" group
        refs = f.require_group("#refs#")
        handles = []
        for item in value:
            key = f"r{len(refs)}"
            handles.append(_write_h5_value(f, refs, key, item, compress).ref)
        data = np.array([handles], dtype=h5py.ref_dtype)  # MATLAB C×1 is HDF5 1×C
        return tag(parent.create_dataset(name, data=data), "cell")
    arr = np.asarray(value)
    if arr.ndim < 2:
        arr = arr.reshape(-1, 1)  # MATLAB has no 1-D arrays: a vector is a column
    cls = "logical" if arr.dtype == bool else _MAT_CLASSES.get(arr.dtype)
    if cls is None:
        raise DataError(f"{name}: cannot write dtype {arr.dtype} to a .mat file")
    kwargs: dict[str, Any] = {"compression": "gzip", "compression_opts": 3} if compress and arr.size > 1 else {}
    ds = parent.create_dataset(name, data=arr.T.astype(np.uint8) if cls == "logical" else arr.T, **kwargs)
    if cls == "logical":
        ds.attrs.create("MATLAB_int_decode", np.int32(1))
    return tag(ds, cls)


def write_mat(
    path: str | Path,
    variables: dict[str, Any],
    version: Literal["5", "7.3"] = "7.3",
    compress: bool = False,
) -> Path:
    """Write numeric arrays, strings and lists of strings (cell columns) as a MATLAB ``.mat`` file.

    Version 5 goes through ``scipy.io.savemat``; version 7.3 (needed past 2 GiB a variable, e.g.
    ImageNet-sized features) is written as MATLAB does: HDF5 behind the 512-byte MAT header,
    every array transposed (MATLAB is column-major), a ``MATLAB_class`` attribute on each
    variable, strings as ``uint16`` char arrays, cells as object references into ``#refs#``.
    1-D arrays become column vectors, as MATLAB and ``scipy.io.savemat(oned_as="column")`` do.

    Args:
        path: the file to write.
        variables: name → numeric array, ``str`` or list of ``str``.
        version: ``"5"`` or ``"7.3"``.
        compress: deflate the data (MATLAB's default for v7 and v7.3).
    """
    import h5py
    import scipy.io

    path = Path(path)
    if version == "5":
        v5 = {
            k: np.array(v, dtype=object).reshape(-1, 1) if isinstance(v, (list, tuple)) else v
            for k, v in variables.items()
        }
        scipy.io.savemat(str(path), v5, do_compression=compress, oned_as="column")
        return path
    if version != "7.3":
        raise DataError(f"{path}: MAT-file version must be '5' or '7.3', got {version!r}")
    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        # MATLAB keeps a canonical empty array "a" in "#refs#"
        empty = refs.create_dataset("a", data=np.array([0, 0], dtype=np.uint64))
        empty.attrs.create("MATLAB_class", np.bytes_("canonical empty"))
        empty.attrs.create("MATLAB_empty", np.uint8(1))
        for name, value in variables.items():
            _write_h5_value(f, f, name, value, compress)
    with path.open("r+b") as f:
        f.write(_mat73_header())
    return path
