"""The proposed splits of Xian et al.'s GBU benchmark ("xlsa17"): AWA1, AWA2, CUB, SUN, APY, FLO.

Xian, Lampert, Schiele and Akata, "Zero-Shot Learning – A Comprehensive Evaluation of the Good,
the Bad and the Ugly", TPAMI 2018. Each dataset folder holds two MATLAB files:

``res101.mat``
    ``features``: ``D × N`` (2048 × N for ResNet-101; one column per image),
    ``labels``: ``N × 1``, 1-based rows of ``allclasses_names``.
``att_splits.mat``
    ``att``: ``A × C`` class semantics (L2-normalised attributes; 1024-d text for FLO),
    ``original_att``: the raw attributes, ``allclasses_names``: ``C × 1`` cell of names
    (``killer+whale``, ``002.Laysan_Albatross``), ``trainval_loc``, ``test_seen_loc``,
    ``test_unseen_loc``: 1-based image indices; version 1 files also ``train_loc`` / ``val_loc``.

FLO's ``att_splits.mat`` has no ``allclasses_names`` or ``original_att``: its classes are named
after their label, ``FLO_001`` … ``FLO_102`` (as ``synthetic_benchmark`` names them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from kgzsl.data.dataset import (
    MissingFeaturesError,
    ZSLDataset,
    check_finite,
    check_finite_classes,
    check_known_ids,
    check_ranges,
    class_disjoint_split,
    from_one_based,
    has_repeats,
    read_id_list,
)
from kgzsl.errors import DataError
from kgzsl.matlab import read_mat
from kgzsl.registry import DATASETS, Component
from kgzsl.resources import shared_data_dir

__all__ = ["XLSA17", "XLSA17_DATASETS", "read_semantic_file"]

#: the datasets of the proposed split (folder names of the xlsa17 download, plus FLO)
XLSA17_DATASETS = ("AWA1", "AWA2", "CUB", "SUN", "APY", "FLO")

#: semantics read from the split file when ``semantics`` is not given (those present)
_DEFAULT_SEMANTICS = ("att", "original_att")


def read_semantic_file(spec: str, class_ids: list[str]) -> tuple[np.ndarray, Path]:
    """Class semantics from another ``.mat`` file: ``PATH`` (field ``att``) or ``PATH#FIELD``.

    The matrix may be ``d × C`` (xlsa17's layout, e.g. CUB's ``sent_splits.mat``) or ``C × d``
    (OntoZSL's ``o2v-awa.mat``, field ``k2v``); a square one is taken as ``d × C``. When the
    file names its classes (``allclasses_names``), their order must be ``class_ids``'.

    Returns:
        ``([C, d] float32, path)``.
    """
    path_text, _, key = spec.partition("#")
    path = Path(path_text).expanduser()
    key = key or "att"
    data = read_mat(path, [key], optional=["allclasses_names"])
    names = data.get("allclasses_names")
    if isinstance(names, list) and names != list(class_ids):
        raise DataError(f"{path}: field 'allclasses_names' lists the classes in another order than the split file")
    matrix = np.asarray(data[key])
    c = len(class_ids)
    if matrix.ndim != 2 or c not in matrix.shape:
        raise DataError(f"{path}: field {key!r} has shape {matrix.shape}; expected d × {c} or {c} × d")
    if matrix.dtype.kind not in "iufb":
        raise DataError(f"{path}: field {key!r} must be numeric, got {matrix.dtype}")
    matrix = np.ascontiguousarray(matrix.T if matrix.shape[1] == c else matrix, dtype=np.float32)
    check_finite_classes(matrix, f"{path}: field {key!r}", class_ids)
    return matrix, path


def _numbered(name: str, c: int) -> list[str]:
    return [f"{name}_{k:03d}" for k in range(1, c + 1)]


@DATASETS.register("xlsa17")
class XLSA17(Component):
    """A dataset of the GBU proposed split (Xian et al., TPAMI 2018), version 1 or 2.

    ``seen`` are the classes of ``trainval_loc``, ``unseen`` those of ``test_unseen_loc``.
    ``train`` / ``val`` (model selection) are, with ``version="v1"``, the file's
    ``train_loc`` / ``val_loc`` restricted to ``trainval_loc``: together they cover
    ``trainval_loc`` and ``test_seen_loc`` (AWA2: 4,031 test-seen images in ``train_loc``, 1,851
    in ``val_loc``), and test images must not be used for model selection. Version 2 files
    have no ``train_loc`` / ``val_loc``: the validation classes are then one of GBU's three
    train/val class splits (``val_split``: ``valclasses<k>.txt`` beside the split file, as
    ``synthetic_benchmark`` does) or, with ``val_split=0`` or where there are no such lists
    (FLO), a seeded draw of ``val_class_fraction`` of the seen classes.

    Args:
        benchmark: dataset folder under ``root`` (``AWA2``, ``CUB``, ...). Called ``benchmark``, not
            ``name``: in a config, ``name`` is the registered dataset (``name: xlsa17``).
        root: folder holding ``<benchmark>/res101.mat`` and ``<benchmark>/att_splits.mat``; default
            ``$KGZSL_SHARED_DATA/xlsa17`` (``…/xlsa17/v1`` for version 1).
        version: ``"v1"`` reads ``train_loc`` / ``val_loc``; ``"v2"`` makes ``train`` / ``val``.
        features_file: feature file in the dataset folder (``D × N``: any backbone, any ``D``).
        splits_file: split file in the dataset folder (``binaryAtt_splits.mat`` has binary ``att``).
        semantics: fields of the split file to read as class semantics; default: those of
            ``att`` and ``original_att`` that the file has.
        semantic_files: more semantics, name → ``PATH`` or ``PATH#FIELD`` of a ``.mat`` file
            (``{"sent": ".../CUB_sent/sent_splits.mat"}``); see :func:`read_semantic_file`.
        val_split: with version 2, 1–3 takes the validation classes from ``valclasses<k>.txt``
            when the dataset folder has it; 0 draws them. Ignored by version 1.
        val_class_fraction: share of seen classes held out when drawn.
        val_seed: seed of that draw. The dataset's own seed, not the run's
            (``train.seed``): the splits are part of the data, so runs of any seed compare on the same ones.
        mmap: memory-map the features (copy-on-write) when the file stores them uncompressed, as
            ``scipy.io.savemat`` and MATLAB's ``save -v7.3 -nocompression`` do: nothing is copied
            and pages are shared with the OS cache. MATLAB's default files are compressed and
            are read whole; so are features not stored as float32 (they are cast). The file
            must not change while the dataset is in use.
    """

    file_params = ("root",)

    needs_shared_data = True  # the default root is $KGZSL_SHARED_DATA/xlsa17
    #: no machine here has the image features: the contract test builds it with the parameters
    #: of this fixture (small feature files of the real schema beside the real split files)
    needs_fixture = "xlsa17_params"

    def __init__(
        self,
        benchmark: Literal["AWA1", "AWA2", "CUB", "SUN", "APY", "FLO"] = "AWA2",
        root: str | None = None,
        version: Literal["v1", "v2"] = "v2",
        features_file: str = "res101.mat",
        splits_file: str = "att_splits.mat",
        semantics: list[str] | None = None,
        semantic_files: dict[str, str] | None = None,
        val_split: Literal[0, 1, 2, 3] = 1,
        val_class_fraction: float = 0.2,
        val_seed: int = 0,
        mmap: bool = True,
    ) -> None:
        self.benchmark = benchmark
        self.root = root
        self.version = version
        self.features_file = features_file
        self.splits_file = splits_file
        self.semantics = semantics
        self.semantic_files = semantic_files
        self.val_split = val_split
        self.val_class_fraction = val_class_fraction
        self.val_seed = val_seed
        self.mmap = mmap

    def folder(self) -> Path:
        """The dataset's folder, ``<root>/<benchmark>``."""
        if self.root is not None:
            return Path(self.root).expanduser() / self.benchmark
        shared = shared_data_dir()
        if shared is None:
            raise DataError("xlsa17: set 'root' (the folder holding <BENCHMARK>/att_splits.mat) or $KGZSL_SHARED_DATA")
        return shared / "xlsa17" / ("v1" if self.version == "v1" else "") / self.benchmark

    @classmethod
    def check_config(cls, params: dict[str, Any]) -> None:
        """Refuse out-of-range parameters before any file is read (``dataset.KEY`` in the message)."""
        check_ranges(params, non_negative=["val_seed"], open_unit=["val_class_fraction"])

    def load(self) -> ZSLDataset:
        self.check_config(self.get_params())
        if self.version not in ("v1", "v2"):
            raise DataError(f"xlsa17: version must be 'v1' or 'v2', got {self.version!r}")
        folder = self.folder()
        split_path = folder / self.splits_file
        # the split file first: its metadata is checked even where the features are absent
        sem_keys = list(self.semantics) if self.semantics is not None else []
        optional = ["allclasses_names", *(_DEFAULT_SEMANTICS if self.semantics is None else ())]
        loc_keys = ["trainval_loc", "test_seen_loc", "test_unseen_loc"]
        if self.version == "v1":
            loc_keys += ["train_loc", "val_loc"]
        meta = read_mat(split_path, [*loc_keys, *sem_keys], optional=optional)
        if self.semantics is None:
            sem_keys = [k for k in _DEFAULT_SEMANTICS if k in meta]

        class_ids = self._class_ids(self.benchmark, meta, sem_keys, split_path)
        semantics: dict[str, np.ndarray] = {}
        sources = [split_path]
        if class_ids is not None:
            semantics, sources = self._all_semantics(meta, sem_keys, class_ids, split_path)

        features, labels1, feat_path = self._read_features(folder / self.features_file)
        n = features.shape[0]
        if class_ids is None:
            # no class names and no semantics (FLO read with semantics=[]): the classes are the label values
            c = int(np.max(labels1)) if labels1.size else 0
            if c < 1:
                raise DataError(f"{feat_path}: field 'labels' has no class labels")
            class_ids = _numbered(self.benchmark, c)
        c = len(class_ids)
        labels = from_one_based(labels1, c, f"{feat_path}: field 'labels'")
        counts = np.bincount(labels, minlength=c)
        if (counts == 0).any():
            k = int(np.flatnonzero(counts == 0)[0])
            raise DataError(f"{feat_path}: field 'labels': class {class_ids[k]!r} ({k + 1}) has no images")

        loc = {key: from_one_based(meta[key], n, f"{split_path}: field {key!r}") for key in loc_keys}
        for key, idx in loc.items():
            if has_repeats(idx, n):
                raise DataError(f"{split_path}: field {key!r} lists an image more than once")
        trainval, test_seen, test_unseen = loc["trainval_loc"], loc["test_seen_loc"], loc["test_unseen_loc"]
        for a, b in (
            ("trainval_loc", "test_seen_loc"),
            ("trainval_loc", "test_unseen_loc"),
            ("test_seen_loc", "test_unseen_loc"),
        ):
            if np.intersect1d(loc[a], loc[b]).size:
                raise DataError(f"{split_path}: fields {a!r} and {b!r} share images")
        seen = np.unique(labels[trainval])
        unseen = np.unique(labels[test_unseen])
        both = np.intersect1d(seen, unseen)
        if both.size:
            raise DataError(
                f"{split_path}: class {class_ids[both[0]]!r} has images in both 'trainval_loc' and 'test_unseen_loc'"
            )
        stray = np.setdiff1d(np.unique(labels[test_seen]), seen)
        if stray.size:
            raise DataError(
                f"{split_path}: field 'test_seen_loc' has images of {class_ids[stray[0]]!r}, not a seen class"
            )

        train, val = self._train_val(loc, labels, trainval, seen, class_ids, split_path, folder)
        sources.insert(1, feat_path)
        val_file = folder / f"valclasses{self.val_split}.txt"
        if self.version == "v2" and self.val_split and val_file.is_file():
            sources.append(val_file)
        return ZSLDataset(
            name=f"xlsa17:{self.benchmark}:{self.version}",
            features=features,
            labels=labels,
            class_ids=class_ids,
            seen=seen,
            unseen=unseen,
            splits={
                "trainval": trainval,
                "test_seen": test_seen,
                "test_unseen": test_unseen,
                "train": train,
                "val": val,
            },
            semantics=semantics,
            source_files=sources,
        )

    def _read_features(self, path: Path) -> tuple[np.ndarray, np.ndarray, Path]:
        if not path.is_file():
            raise MissingFeaturesError(
                f"{path}: no such file (xlsa17's image features are a separate download, "
                "the 'xlsa17.zip' of the GBU benchmark's page)"
            )
        data = read_mat(path, ["features", "labels"], mmap=self.mmap)
        raw = np.asarray(data["features"])
        labels1 = np.asarray(data["labels"])
        if raw.ndim != 2 or raw.dtype.kind not in "iuf":
            raise DataError(f"{path}: field 'features' must be a numeric D × N matrix, got {raw.dtype} {raw.shape}")
        if labels1.size != raw.shape[1]:
            raise DataError(
                f"{path}: field 'labels' has {labels1.size} entries for {raw.shape[1]} images "
                f"(field 'features' is {raw.shape[0]} × {raw.shape[1]}, one column per image)"
            )
        # a D × N matrix read column-major is an [N, D] row-major array once transposed: no copy
        # unless the file holds another dtype than float32 (MATLAB 'double' features)
        features = raw.T.astype(np.float32, copy=False)
        check_finite(features, f"{path}: field 'features'", what="image features")
        return features, labels1, path

    @staticmethod
    def _class_ids(name: str, meta: dict[str, Any], sem_keys: list[str], split_path: Path) -> list[str] | None:
        """The class names of the split file; FLO has none: its classes are ``FLO_001`` … (label order)."""
        names = meta.get("allclasses_names")
        if names is not None:
            if not isinstance(names, list) or not names or not all(isinstance(x, str) for x in names):
                raise DataError(f"{split_path}: field 'allclasses_names' must be a cell array of class names")
            return names
        widths = {np.asarray(meta[k]).shape[-1] for k in sem_keys}
        if len(widths) > 1:
            raise DataError(f"{split_path}: fields {', '.join(map(repr, sem_keys))} disagree on the number of classes")
        return _numbered(name, widths.pop()) if widths else None

    def _all_semantics(
        self, meta: dict[str, Any], sem_keys: list[str], class_ids: list[str], split_path: Path
    ) -> tuple[dict[str, np.ndarray], list[Path]]:
        semantics = {k: self._semantic(meta[k], class_ids, split_path, k) for k in sem_keys}
        sources = [split_path]
        for key, spec in (self.semantic_files or {}).items():
            semantics[key], path = read_semantic_file(spec, class_ids)
            sources.append(path)
        return semantics, sources

    @staticmethod
    def _semantic(value: Any, class_ids: list[str], path: Path, key: str) -> np.ndarray:
        arr = np.asarray(value)
        c = len(class_ids)
        if arr.ndim != 2 or arr.shape[1] != c or arr.dtype.kind not in "iufb":
            raise DataError(f"{path}: field {key!r} has shape {arr.shape}; expected A × {c} (one column per class)")
        matrix = np.ascontiguousarray(arr.T, dtype=np.float32)
        check_finite_classes(matrix, f"{path}: field {key!r}", class_ids)
        return matrix

    def _train_val(
        self,
        loc: dict[str, np.ndarray],
        labels: np.ndarray,
        trainval: np.ndarray,
        seen: np.ndarray,
        class_ids: list[str],
        split_path: Path,
        folder: Path,
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.version == "v1":
            train_loc, val_loc = loc["train_loc"], loc["val_loc"]
            if np.intersect1d(train_loc, val_loc).size:
                raise DataError(f"{split_path}: fields 'train_loc' and 'val_loc' share images")
            shared = np.intersect1d(labels[train_loc], labels[val_loc])
            if shared.size:
                raise DataError(
                    f"{split_path}: fields 'train_loc' and 'val_loc' must be class-disjoint; "
                    f"both have images of {class_ids[shared[0]]!r}"
                )
            return np.intersect1d(train_loc, trainval), np.intersect1d(val_loc, trainval)
        path = folder / f"valclasses{self.val_split}.txt"
        if self.val_split and path.is_file():
            names = read_id_list(path, "class name")
            check_known_ids(names, class_ids, path, f"{split_path} field 'allclasses_names'")
            index = {name: i for i, name in enumerate(class_ids)}
            val_classes = np.array([index[x] for x in names])
            unseen = np.setdiff1d(val_classes, seen)
            if unseen.size:
                raise DataError(f"{path}: {class_ids[unseen[0]]!r} is not a seen class")
            return class_disjoint_split(labels, trainval, seen, val_classes=val_classes)
        return class_disjoint_split(labels, trainval, seen, self.val_class_fraction, self.val_seed)


# `dataset: {name: AWA2}` or `--set dataset.name=CUB` names a benchmark where a registered
# dataset is expected: say what to write instead of listing the registered datasets
for _benchmark in XLSA17_DATASETS:
    DATASETS.hints[_benchmark] = f"an xlsa17 benchmark; write dataset: {{name: xlsa17, benchmark: {_benchmark}}}"
