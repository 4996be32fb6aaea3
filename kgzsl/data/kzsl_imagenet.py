"""ImageNet subsets of the K-ZSL benchmark (ImNet-A, ImNet-O), on the ImageNet-21K features of GCNZ / DGP.

Geng et al., "Benchmarking Knowledge-driven Zero-shot Learning", J. Web Semantics 75, 2023
(and OntoZSL, Geng et al., WWW 2021, whose code reads these files). The classes are indexed by
``split.mat`` of the ImageNet-21K protocol (Wang et al., "Zero-shot Recognition via Semantic
Embeddings and Knowledge Graphs", CVPR 2018; Kampffmeyer et al., DGP, CVPR 2019):

``split.mat``
    ``allwnids`` / ``allwords``: ``21842 × 1`` cells of WordNet ids and names; ``seen`` (the 1,000
    ILSVRC 2012 classes), ``hops2``, ``hops3``, ``rest``: 1-based indices into ``allwnids``;
    ``no_w2v_index``: the 497 classes without a word vector, in none of the four.

Image features are one MATLAB file per class, ``<k>.mat`` with ``k`` the class's 1-based index
in ``allwnids`` and one row per image in the field ``features`` (``n × 2048``), in three folders:
``ILSVRC2012_train`` (training images of the 1K classes), ``ILSVRC2012_val`` (their 50 test images)
and ``ILSVRC2011`` (the other classes' images, from the ImageNet fall 2011 release). This is the
layout OntoZSL's ``DATA_LOADER.read_imagenet`` reads (``Res101_Features/<folder>/<k>.mat``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from kgzsl.data.dataset import (
    MissingFeaturesError,
    ZSLDataset,
    check_finite,
    check_known_ids,
    check_ranges,
    class_disjoint_split,
    from_one_based,
    read_id_list,
)
from kgzsl.errors import DataError
from kgzsl.matlab import NUMERIC_CLASSES, mat_fields, read_mat
from kgzsl.registry import DATASETS, Component
from kgzsl.resources import shared_data_dir

__all__ = ["ImageNetSplit", "read_imagenet_split", "KZSLImageNet", "FEATURE_FOLDERS"]

#: split → folder of per-class feature files
FEATURE_FOLDERS = {"trainval": "ILSVRC2012_train", "test_seen": "ILSVRC2012_val", "test_unseen": "ILSVRC2011"}

_SPLIT_SETS = ("seen", "hops2", "hops3", "rest", "no_w2v_index")


@dataclass(frozen=True)
class ImageNetSplit:
    """``split.mat`` of the ImageNet-21K zero-shot protocol; class sets as 0-based indices into ``wnids``."""

    wnids: list[str]
    words: list[str]
    seen: np.ndarray
    hops2: np.ndarray
    hops3: np.ndarray
    rest: np.ndarray
    no_w2v: np.ndarray
    path: Path

    def index(self) -> dict[str, int]:
        """WordNet id → 0-based position (the feature file of position ``i`` is ``{i + 1}.mat``)."""
        return {w: i for i, w in enumerate(self.wnids)}


def read_imagenet_split(path: str | Path) -> ImageNetSplit:
    """Read and check ``split.mat`` (unique wnids; disjoint, in-range, 1-based class sets)."""
    path = Path(path)
    data = read_mat(path, ["allwnids", "allwords", *_SPLIT_SETS])
    wnids, words = data["allwnids"], data["allwords"]
    if not isinstance(wnids, list) or not wnids:
        raise DataError(f"{path}: field 'allwnids' must be a cell array of WordNet ids")
    if not isinstance(words, list) or len(words) != len(wnids):
        raise DataError(f"{path}: field 'allwords' must be a cell array as long as 'allwnids' ({len(wnids)})")
    if len(set(wnids)) != len(wnids):
        dup = next(w for i, w in enumerate(wnids) if w in wnids[:i])
        raise DataError(f"{path}: field 'allwnids' lists {dup!r} more than once")
    sets = {key: from_one_based(data[key], len(wnids), f"{path}: field {key!r}") for key in _SPLIT_SETS}
    owner = np.full(len(wnids), -1)
    for i, key in enumerate(_SPLIT_SETS):
        taken = owner[sets[key]] >= 0
        if taken.any() or np.unique(sets[key]).size != sets[key].size:
            other = _SPLIT_SETS[owner[sets[key][taken][0]]] if taken.any() else key
            raise DataError(f"{path}: fields {other!r} and {key!r} share classes (or one repeats a class)")
        owner[sets[key]] = i
    return ImageNetSplit(
        wnids=wnids,
        words=words,
        seen=sets["seen"],
        hops2=sets["hops2"],
        hops3=sets["hops3"],
        rest=sets["rest"],
        no_w2v=sets["no_w2v_index"],
        path=path,
    )


@DATASETS.register("kzsl_imagenet")
class KZSLImageNet(Component):
    """K-ZSL's ImNet-A (28 seen / 52 unseen) or ImNet-O (10 / 25) with per-class ResNet-101 features.

    ``trainval`` holds every ``ILSVRC2012_train`` image of the seen classes (ImNet-A: 36,400 =
    28 × 1,300), ``test_seen`` their ``ILSVRC2012_val`` images (1,400 = 28 × 50) and
    ``test_unseen`` the ``ILSVRC2011`` images of the unseen classes (39,523). The classes are
    the seen wnids then the unseen wnids, in their files' order. ``train`` / ``val`` split the
    seen classes, seeded. Features are read into one preallocated ``[N, D]`` float32 array, one
    class file at a time, so the peak memory is the features plus one class.

    The ImageNet-21K test sets (millions of images) need not be held: :meth:`iter_test` reads
    a test split class file by class file and yields ``(features, labels)`` chunks, which
    :func:`kgzsl.evaluation.evaluate_streamed` scores against every class in bounded memory.
    It reads every image of a class whatever ``max_test_images_per_class`` (which only caps
    what :meth:`load` holds), so a full-scale run loads a few test images per class and
    scores all of them streamed.

    Args:
        benchmark: ``ImNet_A`` or ``ImNet_O`` (picks the default seen / unseen lists), or
            ``ImageNet21K``: the GCNZ / DGP protocol, the 1,000 ILSVRC 2012 classes seen and
            ``test_set`` unseen, taken from ``split.mat`` (lists are then ignored). Its test sets
            hold millions of images: score them all with :meth:`iter_test` (and cap what
            :meth:`load` holds with ``max_test_images_per_class``).
        root: folder holding ``ILSVRC2012_train/``, ``ILSVRC2012_val/`` and ``ILSVRC2011/``;
            default ``$KGZSL_SHARED_DATA/imagenet/Res101_Features``.
        split_file: ``split.mat``; default ``$KGZSL_SHARED_DATA/imagenet/split.mat``.
        seen_file: seen wnids, one a line; default ``$KGZSL_SHARED_DATA/kzsl/splits/<benchmark>/seen.txt``.
        unseen_file: unseen wnids; default ``…/unseen.txt`` beside it.
        feature_key: field of the per-class files holding the ``n × D`` features.
        max_test_images_per_class: keep the first ``n`` test images of each class (OntoZSL's
            ``--Unseen_NSample``); all by default, as the K-ZSL sizes count.
        val_class_fraction: share of the seen classes held out as ``val``.
        val_seed: seed of that draw. The dataset's own seed, not the run's
            (``train.seed``): the splits are part of the data, so runs of any seed compare on the same ones.
        test_set: for ``ImageNet21K``: ``2-hops`` (split.mat's ``hops2``), ``3-hops``
            (``hops2`` + ``hops3``) or ``all`` (+ ``rest``).
        stream_test: hold no test image: :meth:`load` reads ``trainval`` only and a run scores
            every test image streamed (:func:`kgzsl.evaluation.streamed_report`: ZSL top-1,
            GZSL S / U / H, Hit@k micro and macro, in memory bounded by one chunk). Default
            (``None``): on for ``ImageNet21K`` unless ``max_test_images_per_class`` is given,
            off for ImNet-A / ImNet-O (small enough to hold, and then scored with the seen-unseen
            curve too).
    """

    file_params = ("root",)

    needs_shared_data = True  # the default split and class lists are under $KGZSL_SHARED_DATA
    #: no machine here has the image features: the contract test builds it with the parameters
    #: of this fixture (small feature files of the real schema beside the real split files)
    needs_fixture = "kzsl_imagenet_params"

    def __init__(
        self,
        benchmark: Literal["ImNet_A", "ImNet_O", "ImageNet21K"] = "ImNet_A",
        root: str | None = None,
        split_file: str | None = None,
        seen_file: str | None = None,
        unseen_file: str | None = None,
        feature_key: str = "features",
        max_test_images_per_class: int | None = None,
        val_class_fraction: float = 0.2,
        val_seed: int = 0,
        test_set: Literal["2-hops", "3-hops", "all"] = "2-hops",
        stream_test: bool | None = None,
    ) -> None:
        self.test_set = test_set
        self.stream_test = stream_test
        self.benchmark = benchmark
        self.root = root
        self.split_file = split_file
        self.seen_file = seen_file
        self.unseen_file = unseen_file
        self.feature_key = feature_key
        self.max_test_images_per_class = max_test_images_per_class
        self.val_class_fraction = val_class_fraction
        self.val_seed = val_seed

    def _path(self, value: str | None, *default: str) -> Path:
        if value is not None:
            return Path(value).expanduser()
        shared = shared_data_dir()
        if shared is None:
            raise DataError(f"kzsl_imagenet: set the path of {default[-1]!r} or $KGZSL_SHARED_DATA")
        return shared.joinpath(*default)

    @classmethod
    def check_config(cls, params: dict[str, Any]) -> None:
        """Refuse out-of-range parameters before any file is read (``dataset.KEY`` in the message)."""
        check_ranges(
            params, positive=["max_test_images_per_class"], non_negative=["val_seed"], open_unit=["val_class_fraction"]
        )

    def _layout(self) -> tuple[list[str], list[str], dict[str, int], list[Path], Path]:
        """``(seen wnids, unseen wnids, wnid → split.mat position, [split, seen, unseen files], feature root)``."""
        self.check_config(self.get_params())
        split_path = self._path(self.split_file, "imagenet", "split.mat")
        seen_path = self._path(self.seen_file, "kzsl", "splits", self.benchmark, "seen.txt")
        unseen_path = self._path(self.unseen_file, "kzsl", "splits", self.benchmark, "unseen.txt")
        split = read_imagenet_split(split_path)
        where = f"{split_path} field 'allwnids'"
        if self.benchmark == "ImageNet21K":
            # GCNZ / DGP's protocol: the 1K ILSVRC 2012 classes are seen; the test sets grow
            # outwards in the hierarchy (2-hops ⊂ 3-hops ⊂ all), as split.mat's class sets
            sets = {"2-hops": ["hops2"], "3-hops": ["hops2", "hops3"], "all": ["hops2", "hops3", "rest"]}
            seen_ids = [split.wnids[i] for i in split.seen]
            unseen_ids = [split.wnids[i] for key in sets[self.test_set] for i in getattr(split, key)]
            seen_path = unseen_path = split_path
        else:
            seen_ids = read_id_list(seen_path, "wnid")
            unseen_ids = read_id_list(unseen_path, "wnid")
            check_known_ids(seen_ids, split.wnids, seen_path, where)
            check_known_ids(unseen_ids, split.wnids, unseen_path, where)
        both = sorted(set(seen_ids) & set(unseen_ids))
        if both:
            raise DataError(f"{unseen_path}: {both[0]!r} is also in {seen_path}")
        index = split.index()
        ilsvrc = set(split.seen.tolist())
        # seen classes are trained on ILSVRC 2012 images and the unseen ones tested on 2011 ones:
        # a class on the wrong side has no feature file there
        for path, ids, inside in ((seen_path, seen_ids, True), (unseen_path, unseen_ids, False)):
            for wnid in ids:
                if (index[wnid] in ilsvrc) != inside:
                    kind = "is not" if inside else "is"
                    raise DataError(
                        f"{path}: {wnid!r} {kind} one of the 1,000 ILSVRC 2012 classes ('seen' of {split_path})"
                    )

        root = self._path(self.root, "imagenet", "Res101_Features")
        if not root.is_dir():
            raise MissingFeaturesError(
                f"{root}: no such folder (the per-class ImageNet features of K-ZSL / OntoZSL are a separate download)"
            )
        return seen_ids, unseen_ids, index, [split_path, seen_path, unseen_path], root

    def _plan(
        self, splits: tuple[str, ...] = tuple(FEATURE_FOLDERS), cap: int | None | str = "param"
    ) -> tuple[list[str], list[str], list[tuple[str, int, Path, tuple[int, int]]], list[Path]]:
        """``(seen wnids, unseen wnids, [(split, label, class file, (rows, D))], list files)``; headers only.

        ``cap``: images kept per test class, ``"param"`` for ``max_test_images_per_class``."""
        seen_ids, unseen_ids, index, lists, root = self._layout()
        class_ids = seen_ids + unseen_ids
        position = {w: i for i, w in enumerate(class_ids)}
        plan = []  # (split, class index, file, rows to keep)
        for split_name, classes in (("trainval", seen_ids), ("test_seen", seen_ids), ("test_unseen", unseen_ids)):
            if split_name not in splits:
                continue
            keep = self.max_test_images_per_class if cap == "param" else cap
            keep = None if split_name == "trainval" else keep
            for wnid in classes:
                file = root / FEATURE_FOLDERS[split_name] / f"{index[wnid] + 1}.mat"
                plan.append((split_name, position[wnid], file, self._rows(file, wnid, keep)))
        return seen_ids, unseen_ids, plan, lists

    def classes(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """``(class ids, seen, unseen)`` as :meth:`load` orders them, from the split files alone."""
        seen_ids, unseen_ids, *_ = self._layout()
        n = len(seen_ids)
        return seen_ids + unseen_ids, np.arange(n), np.arange(n, n + len(unseen_ids))

    def _read_block(self, file: Path, rows: int, dim: int) -> np.ndarray:
        """The first ``rows`` images of one class file (mapped where uncompressed), checked."""
        block = np.asarray(read_mat(file, [self.feature_key], mmap=True)[self.feature_key])
        if block.ndim != 2 or block.shape[0] < rows or block.shape[1] != dim:
            raise DataError(f"{file}: field {self.feature_key!r} has shape {block.shape}, not its header's")
        check_finite(block[:rows], f"{file}: field {self.feature_key!r}", what="image features")
        return block[:rows]

    def iter_test(
        self,
        split: Literal["test_unseen", "test_seen"] = "test_unseen",
        chunk_images: int = 4096,
        max_images_per_class: int | None = None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield the images of a test split as ``(float32 [B, D] features, int64 [B] labels)`` chunks.

        Reads one class file at a time, every image of it (``max_images_per_class`` caps
        each class; the dataset's ``max_test_images_per_class`` does not apply), so the memory
        held is one chunk plus one class file, whatever the split's size: the ImageNet-21K
        2-hops, 3-hops and all test sets are iterated in full. Chunks hold
        ``chunk_images`` images (the last one fewer) and may span classes; labels are the
        global class indices of :meth:`load` / :meth:`classes`. File headers are all checked
        (existence, field, shape) before the first chunk is yielded.
        """
        if split not in ("test_unseen", "test_seen"):
            raise DataError(f"kzsl_imagenet: iter_test split must be 'test_unseen' or 'test_seen', got {split!r}")
        if isinstance(chunk_images, bool) or not isinstance(chunk_images, int) or chunk_images < 1:
            raise DataError(f"kzsl_imagenet: chunk_images must be a positive integer, got {chunk_images!r}")
        if max_images_per_class is not None and (
            isinstance(max_images_per_class, bool)
            or not isinstance(max_images_per_class, int)
            or max_images_per_class < 1
        ):
            raise DataError(
                f"kzsl_imagenet: max_images_per_class must be a positive integer, got {max_images_per_class!r}"
            )
        *_, plan, _ = self._plan((split,), cap=max_images_per_class)
        dim = self._one_dim(plan)
        buf = np.empty((chunk_images, dim), dtype=np.float32)
        lab = np.empty(chunk_images, dtype=np.int64)
        fill = 0
        for _, label, file, (rows, _) in plan:
            block = self._read_block(file, rows, dim)
            start = 0
            while start < rows:
                take = min(rows - start, chunk_images - fill)
                buf[fill : fill + take] = block[start : start + take]
                lab[fill : fill + take] = label
                fill, start = fill + take, start + take
                if fill == chunk_images:
                    yield buf.copy(), lab.copy()
                    fill = 0
        if fill:
            yield buf[:fill].copy(), lab[:fill].copy()

    def _one_dim(self, plan: list[tuple[str, int, Path, tuple[int, int]]]) -> int:
        dims = {d for *_, (_, d) in plan}
        if len(dims) > 1:
            first = next(f for _, _, f, (_, d) in plan if d != plan[0][3][1])
            raise DataError(
                f"{first}: field {self.feature_key!r} has {dims} columns across the class files; expected one D"
            )
        return dims.pop() if dims else 0

    @property
    def streams_test(self) -> bool:
        """Whether :meth:`load` leaves the test splits to be streamed (see ``stream_test``)."""
        if self.stream_test is not None:
            return bool(self.stream_test)
        return self.benchmark == "ImageNet21K" and self.max_test_images_per_class is None

    def load(self) -> ZSLDataset:
        streamed = self.streams_test
        # every class file's header is checked now (a missing test file fails before training)
        seen_ids, unseen_ids, plan, lists = self._plan()
        if streamed:
            plan = [item for item in plan if item[0] == "trainval"]
        split_path, seen_path, unseen_path = lists
        class_ids = seen_ids + unseen_ids
        dim = self._one_dim(plan)
        n = sum(rows for *_, (rows, _) in plan)
        features = np.empty((n, dim), dtype=np.float32)
        labels = np.empty(n, dtype=np.int64)
        splits: dict[str, list[np.ndarray]] = {k: [] for k in FEATURE_FOLDERS}
        start = 0
        for split_name, label, file, (rows, _) in plan:
            # mapped where the file is uncompressed: the class goes straight into its rows, no copy between
            features[start : start + rows] = self._read_block(file, rows, dim)
            labels[start : start + rows] = label
            splits[split_name].append(np.arange(start, start + rows))
            start += rows
        out = {k: np.concatenate(v) if v else np.zeros(0, np.int64) for k, v in splits.items()}
        seen = np.arange(len(seen_ids))
        out["train"], out["val"] = class_disjoint_split(
            labels, out["trainval"], seen, self.val_class_fraction, self.val_seed
        )
        return ZSLDataset(
            name=f"kzsl_imagenet:{self.benchmark}" + (f":{self.test_set}" if self.benchmark == "ImageNet21K" else ""),
            features=features,
            labels=labels,
            class_ids=class_ids,
            seen=seen,
            unseen=np.arange(len(seen_ids), len(class_ids)),
            splits=out,
            # the files read (a folder cannot be hashed into meta.json)
            source_files=list(dict.fromkeys([split_path, seen_path, unseen_path, *(f for _, _, f, _ in plan)])),
            streamed_test=streamed,
        )

    def _rows(self, file: Path, wnid: str, cap: int | None) -> tuple[int, int]:
        """``(rows to keep, D)`` of one class file, from its header (no data read)."""
        if not file.is_file():
            raise MissingFeaturesError(f"{file}: no such file (features of class {wnid!r})")
        fields = mat_fields(file)
        if self.feature_key not in fields:
            raise DataError(f"{file}: field {self.feature_key!r} is missing (fields: {', '.join(fields) or 'none'})")
        shape, cls = fields[self.feature_key]
        if len(shape) != 2 or cls not in NUMERIC_CLASSES:
            raise DataError(f"{file}: field {self.feature_key!r} must be a numeric n × D matrix, got {cls} {shape}")
        if shape[0] == 0:
            raise DataError(f"{file}: field {self.feature_key!r}: class {wnid!r} has no images")
        return (shape[0] if cap is None else min(cap, shape[0])), shape[1]


# `dataset: {name: ImNet_A}` names a benchmark where a registered dataset is expected
for _benchmark in ("ImNet_A", "ImNet_O", "ImageNet21K"):
    DATASETS.hints[_benchmark] = (
        f"a K-ZSL ImageNet benchmark; write dataset: {{name: kzsl_imagenet, benchmark: {_benchmark}}}"
    )
