"""Synthetic image features whose class structure comes from real class semantics.

No image features can be downloaded on the machines kgzsl is developed on, so every method
is exercised on features made here. Class means are a hidden, seeded, non-linear function of
the class semantics, so knowledge really transfers to unseen classes, and a method that
ignores the semantics scores at chance. Every report made from these features says
"synthetic features".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np

from kgzsl.data.dataset import ZSLDataset, check_finite_classes, check_ranges, read_text, standard_splits
from kgzsl.errors import ConfigError, DataError
from kgzsl.matlab import read_mat
from kgzsl.registry import DATASETS, Component
from kgzsl.resources import resolve_path, shared_data_dir

__all__ = [
    "synthesize_features",
    "synthesize_features_chunked",
    "SyntheticKG",
    "SyntheticBenchmark",
    "BENCHMARK_CLASSES",
]


def _hidden_class_means(rng: np.random.Generator, semantics: np.ndarray, n_features: int, hidden: int) -> np.ndarray:
    """The hidden generator's class means ``[C, n_features]`` (float64); draws its weights from ``rng``."""
    s = np.asarray(semantics, dtype=np.float64)
    s = (s - s.mean(0)) / np.maximum(s.std(0), 1e-6)
    d = s.shape[1]
    w1 = rng.normal(0.0, 1.0 / np.sqrt(d), size=(d, hidden))
    b1 = rng.normal(0.0, 0.5, size=hidden)
    w2 = rng.normal(0.0, 1.5 / np.sqrt(hidden), size=(hidden, n_features))
    b2 = rng.normal(-0.5, 0.5, size=n_features)
    return np.logaddexp(0.0, np.tanh(s @ w1 + b1) @ w2 + b2)  # softplus


def synthesize_features(
    semantics: np.ndarray,
    class_sizes: np.ndarray,
    n_features: int = 256,
    hidden: int = 64,
    spread: float = 0.6,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Features for each class, drawn around a class mean that is a hidden function of its semantics.

    The hidden generator is a random two-layer network, seeded by ``seed``:
    ``mean_c = softplus(W2 · tanh(W1 · s_c + b1) + b2)`` on standardised semantics ``s_c``.
    Each class gets its own spread (``spread`` × U(0.7, 1.3)); features are
    ``relu(mean_c + spread_c · ε)`` with ``ε`` Gaussian, so they are non-negative and
    sparse like post-ReLU CNN features.

    Shapes:
        semantics: ``[C, d]``.
        class_sizes: ``[C]`` images per class.
        returns: ``(features [sum(class_sizes), n_features] float32, labels [N] int64)``, sorted by class.
    """
    rng = np.random.default_rng(seed)
    means = _hidden_class_means(rng, semantics, n_features, hidden)
    class_spread = spread * rng.uniform(0.7, 1.3, size=len(means))
    labels = np.repeat(np.arange(len(means)), class_sizes)
    noise = rng.standard_normal((len(labels), n_features))
    features = np.maximum(means[labels] + class_spread[labels, None] * noise, 0.0)
    return features.astype(np.float32), labels.astype(np.int64)


def _read_split(path: Path) -> tuple[list[str], list[str]]:
    try:
        data = json.loads(read_text(path, "split file"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
    if not isinstance(data, dict):
        raise DataError(f'{path}: expected a JSON object {{"seen": [...], "unseen": [...]}} of class names')
    for key in ("seen", "unseen"):
        value = data.get(key)
        if not isinstance(value, list) or not value or not all(isinstance(c, str) and c.strip() for c in value):
            raise DataError(f"{path}: key {key!r} must be a non-empty list of class names (strings)")
    both = sorted(set(data["seen"]) & set(data["unseen"]))
    if both:
        raise DataError(f"{path}: class {both[0]!r} is both seen and unseen")
    for key in ("seen", "unseen"):
        repeated = sorted({c for c in data[key] if data[key].count(c) > 1})
        if repeated:
            raise DataError(f"{path}: class {repeated[0]!r} appears more than once in {key!r}")
    return [c.strip() for c in data["seen"]], [c.strip() for c in data["unseen"]]


@DATASETS.register("synthetic_kg")
class SyntheticKG(Component):
    """Synthetic features for the classes of an ontology, driven by its attributes and taxonomy.

    The classes and their seen/unseen split come from a JSON split file; the hidden class
    semantics are the ontology's class–attribute vectors concatenated with the class's
    ancestors (see :func:`kgzsl.knowledge.matrices.class_attribute_matrix`). The embedded
    default is the project's animal ontology (48 classes: 36 seen, 12 unseen).

    Args:
        ontology: RDF file with the classes, ``embedded:animals`` by default.
        split: JSON file ``{"seen": [...], "unseen": [...]}`` of class names.
        n_features: feature dimension.
        min_images: fewest images of a class.
        max_images: most images of a class (sizes are drawn uniformly in between: uneven).
        spread: within-class noise scale. At the default 1.2 a nearest-class-mean classifier
            gets about 93% on the seen test images, and a ridge map from the ontology's class
            embeddings to class means about 79% ZSL top-1: hard enough to separate methods.
        test_fraction: share of each seen class's images held out as ``test_seen``.
        val_class_fraction: share of seen classes held out as ``val`` for model selection.
        seed: seed of the hidden generator, the class sizes and the splits (the data's
            identity; the run's seed is separate).
    """

    file_params = ("ontology", "split")

    def __init__(
        self,
        ontology: str = "embedded:animals",
        split: str = "embedded:animals",
        n_features: int = 256,
        min_images: int = 40,
        max_images: int = 160,
        spread: float = 1.2,
        test_fraction: float = 0.2,
        val_class_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        self.ontology = ontology
        self.split = split
        self.n_features = n_features
        self.min_images = min_images
        self.max_images = max_images
        self.spread = spread
        self.test_fraction = test_fraction
        self.val_class_fraction = val_class_fraction
        self.seed = seed

    @classmethod
    def check_config(cls, params: dict[str, Any]) -> None:
        """Refuse out-of-range parameters before any file is read (``dataset.KEY`` in the message)."""
        check_ranges(
            params,
            positive=["n_features", "min_images", "max_images", "spread"],
            non_negative=["seed"],
            open_unit=["test_fraction", "val_class_fraction"],
        )
        low, high = params.get("min_images"), params.get("max_images")
        if isinstance(low, int) and isinstance(high, int) and low > high:
            raise ConfigError(f"dataset.min_images: {low} is more than max_images ({high})")

    def load(self) -> ZSLDataset:
        from kgzsl.knowledge.alignment import align_classes
        from kgzsl.knowledge.matrices import class_ancestor_matrix, class_attribute_matrix
        from kgzsl.knowledge.store import KnowledgeGraph

        self.check_config(self.get_params())
        onto_path = resolve_path(self.ontology, kind="ontology")
        split_path = resolve_path(self.split, kind="split")
        seen_names, unseen_names = _read_split(split_path)
        class_ids = sorted(seen_names) + sorted(unseen_names)
        kg = KnowledgeGraph.from_files(onto_path)
        iris = align_classes(kg, class_ids)
        attributes, _ = class_attribute_matrix(kg, iris)
        ancestors, _ = class_ancestor_matrix(kg, iris)
        hidden_semantics = np.concatenate([attributes, 0.5 * ancestors], axis=1)
        rng = np.random.default_rng(self.seed)
        sizes = rng.integers(self.min_images, self.max_images + 1, size=len(class_ids))
        features, labels = synthesize_features(
            hidden_semantics, sizes, self.n_features, spread=self.spread, seed=self.seed + 1
        )
        seen = np.arange(len(seen_names))
        unseen = np.arange(len(seen_names), len(class_ids))
        splits = standard_splits(labels, seen, None, self.test_fraction, self.val_class_fraction, seed=self.seed + 2)
        return ZSLDataset(
            name=f"synthetic_kg:{onto_path.stem}",
            features=features,
            labels=labels,
            class_ids=class_ids,
            seen=seen,
            unseen=unseen,
            splits=splits,
            semantics={"attributes": attributes},
            synthetic=True,
            source_files=[onto_path, split_path],
        )


def synthesize_features_chunked(
    semantics: np.ndarray,
    class_sizes: np.ndarray,
    n_features: int = 2048,
    hidden: int = 64,
    spread: float = 0.6,
    seed: int = 0,
    chunk_rows: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`synthesize_features` for benchmark-sized data: float32 throughout, made in row chunks.

    The same hidden generator and per-class spreads as :func:`synthesize_features` (so the
    same ``seed`` gives the same class means), but the noise is drawn in float32, chunk by
    chunk, so that memory stays at the output's own size (AWA2 at 2048-d: 37,322 × 2048
    float32 ≈ 300 MB, where drawing float64 noise at once would need four times that).
    The features therefore differ from :func:`synthesize_features`'s for the same seed.

    Shapes:
        semantics: ``[C, d]``.
        class_sizes: ``[C]`` images per class.
        returns: ``(features [sum(class_sizes), n_features] float32, labels [N] int64)``, sorted by class.
    """
    rng = np.random.default_rng(seed)
    means = _hidden_class_means(rng, semantics, n_features, hidden).astype(np.float32)
    class_spread = (spread * rng.uniform(0.7, 1.3, size=len(means))).astype(np.float32)
    labels = np.repeat(np.arange(len(means)), class_sizes).astype(np.int64)
    features = np.empty((len(labels), n_features), dtype=np.float32)
    for start in range(0, len(labels), chunk_rows):
        rows = slice(start, start + chunk_rows)
        block = rng.standard_normal((len(labels[rows]), n_features), dtype=np.float32)
        block *= class_spread[labels[rows], None]
        block += means[labels[rows]]
        np.maximum(block, 0.0, out=features[rows])
    return features, labels


#: seen / unseen class counts of the GBU benchmarks (Xian et al., TPAMI 2018, proposed split);
#: used to check the class lists and, where a benchmark ships none (FLO), to draw them
BENCHMARK_CLASSES: dict[str, tuple[int, int]] = {
    "AWA1": (40, 10),
    "AWA2": (40, 10),
    "CUB": (150, 50),
    "SUN": (645, 72),
    "APY": (20, 12),
    "FLO": (82, 20),
}


def _apportion(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """Integers ``>= minimum`` summing exactly to ``total``, proportional to ``weights`` beyond
    the minimum (largest-remainder rounding)."""
    spare = total - minimum * len(weights)
    if spare < 0:
        raise DataError(f"cannot give {len(weights)} classes {minimum} images each from {total}")
    share = spare * np.asarray(weights, dtype=np.float64) / np.sum(weights)
    counts = np.floor(share).astype(np.int64)
    leftover = spare - int(counts.sum())
    counts[np.argsort(-(share - counts), kind="stable")[:leftover]] += 1
    return counts + minimum


def _read_names(path: Path) -> list[str]:
    return [line.strip() for line in read_text(path, "class list").splitlines() if line.strip()]


def _mat_names(value: Any, path: Path, n_classes: int) -> list[str]:
    """``allclasses_names`` as read by :func:`~kgzsl.matlab.read_mat` (a cell of strings: a list)."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
        raise DataError(f"{path}: field 'allclasses_names' must be a cell array of class names")
    if len(names) != n_classes:
        raise DataError(f"{path}: field 'allclasses_names' has {len(names)} names for {n_classes} columns of 'att'")
    return [x.strip() for x in names]


def _class_matrix(value: Any, path: Path, key: str) -> np.ndarray:
    """A ``d × C`` numeric matrix of ``att_splits.mat`` as ``[C, d]`` float64."""
    arr = np.asarray(value)
    if arr.ndim != 2 or arr.size == 0 or arr.dtype.kind not in "biuf":
        raise DataError(f"{path}: field {key!r} must be a numeric d × C matrix, got {arr.dtype} {arr.shape}")
    return arr.astype(np.float64).T


@DATASETS.register("synthetic_benchmark")
class SyntheticBenchmark(Component):
    """Synthetic features at the exact geometry of a real xlsa17 benchmark, driven by its real attributes.

    Read from the benchmark's real ``att_splits.mat`` (and class lists beside it): the class
    names (``allclasses_names``), the class semantics ``att`` / ``original_att``, the sizes of
    ``trainval`` / ``test_seen`` / ``test_unseen``, and which classes are seen and unseen
    (``trainvalclasses.txt`` / ``testclasses.txt``). Features are 2048-d, non-negative, with
    class means a hidden seeded non-linear function of the real ``att`` and a spread per
    class (:func:`synthesize_features_chunked`).

    Not knowable without the real features (``res101.mat`` holds the labels), hence drawn,
    seeded: how many images each class has. Class sizes are uneven (log-normal weights) and
    sum exactly to the real split sizes; each seen class's images are split between
    ``trainval`` and ``test_seen`` in the real overall proportion. FLO's ``att_splits.mat``
    has no class names and FLO ships no class lists: its classes are named ``FLO_001`` ...
    ``FLO_102`` after the columns of ``att`` and its 20 unseen classes are a seeded draw.

    Args:
        benchmark: xlsa17 folder name (AWA2, CUB and FLO are in the shared data).
        root: folder holding ``<benchmark>/att_splits.mat``; default ``$KGZSL_SHARED_DATA/xlsa17``.
        n_features: feature dimension (ResNet-101's 2048 by default).
        hidden: width of the hidden generator.
        spread: within-class noise scale. At the default and 2048-d, a nearest-class-mean
            classifier gets about 99% / 70% / 79% per-class accuracy on ``test_seen`` of AWA2 /
            CUB / FLO, and a ridge map from ``att`` to seen class means about 56% / 28% / 69%
            ZSL top-1 on ``test_unseen`` (chance 10% / 2% / 5%); shuffling ``att`` between
            classes brings the latter to chance. Fewer features make it harder.
        size_spread: log-normal sigma of the class-size weights (0 gives near-equal classes).
        val_split: 1–3 uses the benchmark's own ``valclasses<k>.txt`` as ``val`` (GBU's three
            train/val class splits); 0, or a benchmark without such lists (FLO), draws
            ``val_class_fraction`` of the seen classes.
        val_class_fraction: share of seen classes held out as ``val`` when drawn.
        image_fraction: keep this share of the real split sizes (``trainval``, ``test_seen`` and
            ``test_unseen`` each scaled, at least one image per class), for runs too costly at
            the full size; 1 (the default) is the real geometry. Anything made with less must say so.
        seed: seed of the class sizes, the hidden generator and the splits: the data's identity,
            not the run's seed (``train.seed``), so runs of any seed compare on the same data.
    """

    file_params = ("root",)

    #: its default ``root`` reads ``$KGZSL_SHARED_DATA`` (tests request the ``shared_data`` fixture)
    needs_shared_data = True

    def __init__(
        self,
        benchmark: Literal["AWA2", "CUB", "FLO", "AWA1", "SUN", "APY"] = "AWA2",
        root: str | None = None,
        n_features: int = 2048,
        hidden: int = 64,
        spread: float = 2.5,
        size_spread: float = 0.5,
        val_split: Literal[0, 1, 2, 3] = 1,
        val_class_fraction: float = 0.2,
        image_fraction: float = 1.0,
        seed: int = 0,
    ) -> None:
        self.benchmark = benchmark
        self.root = root
        self.n_features = n_features
        self.hidden = hidden
        self.spread = spread
        self.size_spread = size_spread
        self.val_split = val_split
        self.val_class_fraction = val_class_fraction
        self.image_fraction = image_fraction
        self.seed = seed

    def _folder(self) -> Path:
        if self.root is not None:
            root = Path(self.root).expanduser()
        else:
            shared = shared_data_dir()
            if shared is None:
                raise DataError(
                    f"synthetic_benchmark: needs the benchmark's real att_splits.mat: set dataset.root to the folder "
                    f"holding {self.benchmark}/att_splits.mat (e.g. xlsa17/), or set KGZSL_SHARED_DATA"
                )
            root = shared / "xlsa17"
        return root / self.benchmark

    def _seen_unseen(self, folder: Path, names: list[str], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        n_seen, n_unseen = BENCHMARK_CLASSES[self.benchmark]
        if len(names) != n_seen + n_unseen:
            raise DataError(f"{folder}: {len(names)} classes, expected {n_seen + n_unseen} for {self.benchmark}")
        seen_file, unseen_file = folder / "trainvalclasses.txt", folder / "testclasses.txt"
        if not (seen_file.is_file() and unseen_file.is_file()):
            unseen = np.sort(rng.choice(len(names), size=n_unseen, replace=False))
            return np.setdiff1d(np.arange(len(names)), unseen), unseen
        index = {name: i for i, name in enumerate(names)}
        result = []
        for path, expected in ((seen_file, n_seen), (unseen_file, n_unseen)):
            listed = _read_names(path)
            unknown = [c for c in listed if c not in index]
            if unknown:
                raise DataError(f"{path}: class {unknown[0]!r} is not in allclasses_names of att_splits.mat")
            if len(listed) != expected:
                raise DataError(f"{path}: expected {expected} classes for {self.benchmark}, got {len(listed)}")
            result.append(np.sort([index[c] for c in listed]))
        return result[0], result[1]

    @classmethod
    def check_config(cls, params: dict[str, Any]) -> None:
        """Refuse out-of-range parameters before any file is read (``dataset.KEY`` in the message)."""
        check_ranges(
            params,
            positive=["n_features", "hidden", "spread"],
            non_negative=["size_spread", "seed"],
            open_unit=["val_class_fraction"],
            share=["image_fraction"],
        )

    def load(self) -> ZSLDataset:
        self.check_config(self.get_params())
        if self.benchmark not in BENCHMARK_CLASSES:
            valid = ", ".join(BENCHMARK_CLASSES)
            raise ConfigError(f"dataset.benchmark: unknown benchmark {self.benchmark!r}; valid: {valid}")
        folder = self._folder()
        mat_path = folder / "att_splits.mat"
        if not mat_path.is_file():
            raise DataError(f"{mat_path}: no such file (the benchmark's real att_splits.mat)")
        locs = ("trainval_loc", "test_seen_loc", "test_unseen_loc")
        mat = read_mat(mat_path, ["att", *locs], optional=["allclasses_names", "original_att"])
        att = _class_matrix(mat["att"], mat_path, "att")
        n_classes = len(att)
        if "allclasses_names" in mat:
            names = _mat_names(mat["allclasses_names"], mat_path, n_classes)
        else:
            names = [f"{self.benchmark}_{i + 1:03d}" for i in range(n_classes)]
        n_trainval, n_test_seen, n_test_unseen = (np.asarray(mat[k]).size for k in locs)
        if self.image_fraction != 1.0:
            n_seen_cls, n_unseen_cls = BENCHMARK_CLASSES[self.benchmark]
            n_trainval = max(n_seen_cls, round(n_trainval * self.image_fraction))
            n_test_seen = max(n_seen_cls, round(n_test_seen * self.image_fraction))
            n_test_unseen = max(n_unseen_cls, round(n_test_unseen * self.image_fraction))

        # a NaN would make every feature of its class NaN: report it against the file, not the dataset
        check_finite_classes(att, f"{mat_path}: field 'att'", names)
        rng = np.random.default_rng(self.seed)
        seen, unseen = self._seen_unseen(folder, names, rng)

        # uneven class sizes, summing exactly to the real split sizes; a floor of a quarter of
        # the mean keeps every class large enough to have both trainval and test_seen images
        weights = rng.lognormal(0.0, self.size_spread, size=n_classes)
        sizes = np.zeros(n_classes, dtype=np.int64)
        n_seen_images = n_trainval + n_test_seen
        sizes[seen] = _apportion(n_seen_images, weights[seen], max(2, n_seen_images // (4 * len(seen))))
        sizes[unseen] = _apportion(n_test_unseen, weights[unseen], max(1, n_test_unseen // (4 * len(unseen))))
        # each seen class gives test_seen its share of the real overall proportion (at least one image)
        n_test = np.zeros(n_classes, dtype=np.int64)
        n_test[seen] = 1 + _apportion(n_test_seen - len(seen), sizes[seen] - 1, 0)

        features, labels = synthesize_features_chunked(
            att, sizes, self.n_features, self.hidden, spread=self.spread, seed=self.seed + 1
        )
        split_rng = np.random.default_rng(self.seed + 2)
        starts = np.concatenate([[0], np.cumsum(sizes)])
        trainval, test_seen = [], []
        for c in seen:
            idx = split_rng.permutation(np.arange(starts[c], starts[c + 1]))
            test_seen.append(idx[: n_test[c]])
            trainval.append(idx[n_test[c] :])
        trainval_idx = np.sort(np.concatenate(trainval))

        source_files = [mat_path]
        val_file = folder / f"valclasses{self.val_split}.txt"
        if self.val_split and val_file.is_file():
            index = {name: i for i, name in enumerate(names)}
            listed = _read_names(val_file)
            val_classes = np.array([index.get(c, -1) for c in listed])
            if not np.isin(val_classes, seen).all():
                raise DataError(f"{val_file}: lists classes that are not seen classes of {self.benchmark}")
            source_files.append(val_file)
        else:
            n_val = max(1, int(round(self.val_class_fraction * len(seen))))
            val_classes = split_rng.choice(seen, size=n_val, replace=False)
        in_val = np.isin(labels[trainval_idx], val_classes)
        source_files += [p for p in (folder / "trainvalclasses.txt", folder / "testclasses.txt") if p.is_file()]

        semantics = {"att": att.astype(np.float32)}
        if "original_att" in mat:
            original = _class_matrix(mat["original_att"], mat_path, "original_att")
            check_finite_classes(original, f"{mat_path}: field 'original_att'", names)
            if len(original) != n_classes:
                raise DataError(f"{mat_path}: field 'original_att' has {len(original)} classes, 'att' {n_classes}")
            semantics["original_att"] = original.astype(np.float32)
        return ZSLDataset(
            name=f"synthetic_benchmark:{self.benchmark}",
            features=features,
            labels=labels,
            class_ids=names,
            seen=seen,
            unseen=unseen,
            splits={
                "trainval": trainval_idx,
                "test_seen": np.sort(np.concatenate(test_seen)),
                "test_unseen": np.flatnonzero(np.isin(labels, unseen)),
                "train": trainval_idx[~in_val],
                "val": trainval_idx[in_val],
            },
            semantics=semantics,
            synthetic=True,
            source_files=source_files,
        )
