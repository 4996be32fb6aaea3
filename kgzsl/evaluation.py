"""Evaluation protocols for zero-shot learning (ZSL) and generalized ZSL (GZSL).

Every function takes a score matrix ``scores`` of shape ``[N, C]`` (higher is
better) over the *global* class indices ``0..C-1`` and integer ``labels`` of
shape ``[N]`` that are global class indices as well. Entries of ``scores`` may
be ``-inf`` (a class the model cannot predict); NaN and ``+inf`` are rejected.
NumPy arrays, nested lists and PyTorch tensors are accepted (tensors are
detached and copied to the CPU).

Protocols implemented:

* **Per-class mean top-1 accuracy** and the **harmonic mean** ``H`` of seen and
  unseen accuracy, following Xian et al., "Zero-Shot Learning — A Comprehensive
  Evaluation of the Good, the Bad and the Ugly", TPAMI 2018. Conventional ZSL
  ranks test-unseen images among the unseen classes only; GZSL ranks test-seen
  and test-unseen images among seen ∪ unseen classes.
* **Calibrated stacking** (subtract ``gamma`` from the seen-class scores) and the
  **Area Under the Seen-Unseen accuracy Curve (AUSUC)**, following Chao et al.,
  "An Empirical Study and Analysis of Generalized Zero-Shot Learning for Object
  Recognition in the Wild", ECCV 2016. The curve is computed exactly, not on a
  grid of ``gamma`` values.
* **Flat Hit@k**, micro-averaged over images, as in the ImageNet protocol of
  Frome et al., "DeViSE: A Deep Visual-Semantic Embedding Model", NeurIPS 2013,
  and Wang et al., "Zero-shot Recognition via Semantic Embeddings and Knowledge
  Graphs", CVPR 2018.

Ties are split. If the true class's score is strictly exceeded by ``g``
candidate classes and equalled by ``t`` *other* candidate classes, the image
counts as ``clip((k - g) / (t + 1), 0, 1)`` top-``k`` hits: the expected hit when
ties are broken uniformly at random. A two-way tie for first place therefore
counts 0.5 at top-1, and a model that gives every class the same score gets
exactly chance accuracy ``k / #candidates``. This is deterministic and does
not reward degenerate (e.g. constant) score functions, unlike ``argmax``, which
breaks ties towards the lowest class index.

Malformed inputs raise :class:`kgzsl.errors.DataError` (a ``ValueError``) with
one line saying what was expected and what was received.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import DataError

__all__ = [
    "Evaluator",
    "EvaluationReport",
    "StreamedHitAtK",
    "ausuc",
    "gzsl_accuracy",
    "harmonic_mean",
    "hit_at_k",
    "per_class_accuracy",
    "seen_unseen_curve",
    "select_gamma",
    "streamed_hit_at_k",
    "evaluate_streamed",
    "streamed_report",
    "topk_hits",
    "zsl_accuracy",
]

# Rows are processed in blocks so that the temporary boolean comparison matrix
# stays around this many entries, even for large candidate sets (ImageNet-21K).
_BLOCK_ENTRIES = 1 << 22
# Two values of H closer than this are considered tied in `select_gamma`.
_H_TIE_TOL = 1e-12


# ---------------------------------------------------------------------------
# Input conversion and validation
# ---------------------------------------------------------------------------


def _to_numpy(x: Any) -> np.ndarray:
    """Converts an array-like (NumPy array, list, PyTorch tensor) to NumPy."""
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch
        t = x.detach().cpu()
        if str(getattr(t, "dtype", "")) == "torch.bfloat16":  # NumPy has no bfloat16
            t = t.float()
        return np.asarray(t)
    if isinstance(x, (set, frozenset)):
        x = sorted(x)
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as exc:  # e.g. ragged nested lists
        raise DataError(f"expected an array, could not convert {type(x).__name__}: {exc}") from None


def _check_scores(scores: Any, name: str = "scores") -> np.ndarray:
    """Returns ``scores`` as a floating ``[N, C]`` array, rejecting NaN and +inf."""
    arr = _to_numpy(scores)
    if arr.ndim != 2:
        raise DataError(f"{name} must be 2-D [N, C], got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise DataError(f"{name} must have at least one class column, got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    bad = np.isnan(arr)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(f"{name} contain NaN (first at row {r}, column {c}); scores must be finite or -inf")
    bad = np.isposinf(arr)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(f"{name} contain +inf (first at row {r}, column {c}); scores must be finite or -inf")
    return arr


def _check_labels(labels: Any, n: int, num_classes: int, name: str = "labels") -> np.ndarray:
    """Returns ``labels`` as an int64 ``[n]`` array of indices in ``[0, num_classes)``."""
    arr = _to_numpy(labels)
    if arr.ndim != 1:
        raise DataError(f"{name} must be 1-D [N], got shape {arr.shape}")
    if arr.shape[0] != n:
        raise DataError(f"{name} has {arr.shape[0]} entries but the scores have {n} rows")
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise DataError(f"{name} must be integer class indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    out = (arr < 0) | (arr >= num_classes)
    if out.any():
        raise DataError(
            f"{name} contain class {arr[out][0]}, outside [0, {num_classes}) (the scores have {num_classes} columns)"
        )
    return arr


def _check_classes(classes: Any, num_classes: int, name: str) -> np.ndarray:
    """Returns a non-empty, duplicate-free int64 array of class indices."""
    arr = _to_numpy(classes)
    if arr.ndim != 1:
        raise DataError(f"{name} must be a 1-D array of class indices, got shape {arr.shape}")
    if arr.size == 0:
        raise DataError(f"{name} must contain at least one class, got an empty list")
    if arr.dtype.kind not in "iu":
        raise DataError(f"{name} must be integer class indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    out = (arr < 0) | (arr >= num_classes)
    if out.any():
        raise DataError(f"{name} contain class {arr[out][0]}, outside [0, {num_classes})")
    uniq, counts = np.unique(arr, return_counts=True)
    if (counts > 1).any():
        raise DataError(f"{name} contain class {uniq[counts > 1][0]} more than once")
    return arr


def _check_subset(labels: np.ndarray, classes: np.ndarray, name: str, what: str) -> None:
    """Raises if some label is not among ``classes``."""
    inside = np.isin(labels, classes)
    if not inside.all():
        raise DataError(f"{name} contain class {labels[~inside][0]}, outside the {what}")


def _check_k(k: Any, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise DataError(f"{name} must be a positive integer, got {k!r}")
    return int(k)


def _check_gamma(gamma: Any) -> float:
    try:
        value = float(gamma)
    except (TypeError, ValueError):
        raise DataError(f"gamma must be a finite number, got {gamma!r}") from None
    if not np.isfinite(value):
        raise DataError(f"gamma must be a finite number, got {gamma!r}")
    return value


def _check_split(
    scores_seen: Any,
    labels_seen: Any,
    scores_unseen: Any,
    labels_unseen: Any,
    seen: Any,
    unseen: Any,
    num_classes: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validates the inputs shared by the GZSL functions."""
    ss = _check_scores(scores_seen, "scores_seen")
    su = _check_scores(scores_unseen, "scores_unseen")
    if ss.shape[1] != su.shape[1]:
        raise DataError(
            f"scores_seen and scores_unseen must have the same number of class columns, "
            f"got {ss.shape[1]} and {su.shape[1]}"
        )
    c = ss.shape[1]
    if num_classes is not None and c != num_classes:
        raise DataError(f"scores must have num_classes={num_classes} columns, got {c}")
    s = _check_classes(seen, c, "seen")
    u = _check_classes(unseen, c, "unseen")
    both = np.intersect1d(s, u)
    if both.size:
        raise DataError(f"seen and unseen classes overlap: class {both[0]} is in both")
    ls = _check_labels(labels_seen, ss.shape[0], c, "labels_seen")
    lu = _check_labels(labels_unseen, su.shape[0], c, "labels_unseen")
    _check_subset(ls, s, "labels_seen", "seen classes")
    _check_subset(lu, u, "labels_unseen", "unseen classes")
    return ss, ls, su, lu, s, u


# ---------------------------------------------------------------------------
# Core computations (inputs already validated)
# ---------------------------------------------------------------------------


def _row_blocks(n: int, width: int) -> Iterator[slice]:
    step = max(1, _BLOCK_ENTRIES // max(1, width))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def _expected_hits(scores: np.ndarray, labels: np.ndarray, cols: np.ndarray, k: int) -> np.ndarray:
    """Tie-split top-k hits of ``labels`` among columns ``cols`` (labels must be in cols)."""
    hits = np.empty(scores.shape[0], dtype=np.float64)
    rows = np.arange(scores.shape[0])
    for blk in _row_blocks(scores.shape[0], cols.size):
        sub = scores[blk][:, cols]
        true = scores[rows[blk], labels[blk]][:, None]
        greater = np.count_nonzero(sub > true, axis=1)
        tied = np.count_nonzero(sub == true, axis=1) - 1  # minus the true class itself
        hits[blk] = np.clip((k - greater) / (tied + 1.0), 0.0, 1.0)
    return hits


def _row_max(scores: np.ndarray, cols: np.ndarray) -> np.ndarray:
    out = np.empty(scores.shape[0], dtype=np.float64)
    for blk in _row_blocks(scores.shape[0], cols.size):
        out[blk] = scores[blk][:, cols].max(axis=1)
    return out


def _class_weights(labels: np.ndarray) -> np.ndarray:
    """Weight ``1 / (n_c * #classes)`` per image, so that a weighted sum is a per-class mean."""
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return 1.0 / (counts[inverse] * classes.size)


def _per_class_mean(hits: np.ndarray, labels: np.ndarray) -> tuple[float, dict[int, float]]:
    if labels.size == 0:
        raise DataError("cannot compute a per-class accuracy: no class has any image (N = 0)")
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    acc = np.bincount(inverse, weights=hits, minlength=classes.size) / counts
    return float(acc.mean()), {int(c): float(a) for c, a in zip(classes, acc)}


def _calibrated(scores: np.ndarray, seen: np.ndarray, gamma: float) -> np.ndarray:
    if gamma == 0.0:
        return scores
    out = scores.astype(np.float64, copy=True)
    out[:, seen] -= gamma
    return out


def _curve_arrays(
    ss: np.ndarray,
    ls: np.ndarray,
    su: np.ndarray,
    lu: np.ndarray,
    s: np.ndarray,
    u: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exact seen-unseen curve; returns (gamma, seen_acc, unseen_acc, interval_bounds).

    ``interval_bounds`` has shape ``[M, 2]``: point ``j`` holds for every gamma in
    the open interval ``(bounds[j, 0], bounds[j, 1])``.
    """
    if ls.size == 0:
        raise DataError("labels_seen is empty: the seen-unseen curve needs test-seen images")
    if lu.size == 0:
        raise DataError("labels_unseen is empty: the seen-unseen curve needs test-unseen images")
    share_seen = s.size / (s.size + u.size)

    def group_terms(
        scores: np.ndarray,
        labels: np.ndarray,
        own: np.ndarray,
        other: np.ndarray,
        own_is_seen: bool,
    ) -> tuple[float, np.ndarray, np.ndarray]:
        # Within-own-group expected top-1 hit, weighted for the per-class mean.
        contrib = _class_weights(labels) * _expected_hits(scores, labels, own, 1)
        max_own, max_other = _row_max(scores, own), _row_max(scores, other)
        # Margin d = max seen score - max unseen score; predicted seen iff d > gamma.
        with np.errstate(invalid="ignore", over="ignore"):
            d = max_own - max_other if own_is_seen else max_other - max_own
        never_scored = np.isneginf(max_own) & np.isneginf(max_other)
        # Every class -inf: a cross-group tie at every gamma, split by group size
        # (equal to the flat tie-split 1 / (|S| + |U|)).
        share = share_seen if own_is_seen else 1.0 - share_seen
        const = share * contrib[never_scored].sum()
        # Infinite margins put the image in one group for every finite gamma.
        always_own = np.isposinf(d) if own_is_seen else np.isneginf(d)
        const += contrib[always_own & ~never_scored].sum()
        varies = np.isfinite(d) & (contrib > 0)
        return float(const), d[varies], contrib[varies]

    const_s, d_s, a_s = group_terms(ss, ls, s, u, True)
    const_u, d_u, b_u = group_terms(su, lu, u, s, False)

    margins = np.unique(np.concatenate([d_s, d_u]))  # sorted, distinct
    k = margins.size
    a = np.bincount(np.searchsorted(margins, d_s), weights=a_s, minlength=k)
    b = np.bincount(np.searchsorted(margins, d_u), weights=b_u, minlength=k)
    # Point j covers gamma in (margins[j-1], margins[j]): seen images with margin
    # >= margins[j] stay seen; unseen images with margin <= margins[j-1] go unseen.
    seen_acc = const_s + np.concatenate([np.cumsum(a[::-1])[::-1], [0.0]])
    unseen_acc = const_u + np.concatenate([[0.0], np.cumsum(b)])
    lower = np.concatenate([[-np.inf], margins])
    upper = np.concatenate([margins, [np.inf]])
    if k == 0:
        gamma = np.zeros(1)
    else:
        mid = margins[:-1] + (margins[1:] - margins[:-1]) / 2.0
        gamma = np.concatenate([[_step_below(margins[0])], mid, [_step_above(margins[-1])]])
    return (
        gamma,
        np.clip(seen_acc, 0.0, 1.0),
        np.clip(unseen_acc, 0.0, 1.0),
        np.stack([lower, upper], axis=1),
    )


def _step_below(x: float) -> float:
    y = x - 1.0
    return float(y) if y < x else float(np.nextafter(x, -np.inf))


def _step_above(x: float) -> float:
    y = x + 1.0
    return float(y) if y > x else float(np.nextafter(x, np.inf))


def _harmonic(seen: np.ndarray, unseen: np.ndarray) -> np.ndarray:
    total = seen + unseen
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2.0 * seen * unseen / np.where(total > 0, total, 1.0), 0.0)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def topk_hits(scores: Any, labels: Any, k: int = 1, candidates: Any = None) -> np.ndarray:
    """Expected top-``k`` hit of every image, with ties split.

    Only the columns listed in ``candidates`` compete. If the true class's score
    is strictly exceeded by ``g`` candidates and equalled by ``t`` other
    candidates, the hit is ``clip((k - g) / (t + 1), 0, 1)``, i.e. the
    probability of a hit when ties are broken uniformly at random. A ``k``
    larger than the number of candidates always gives 1.

    Args:
        scores: ``[N, C]`` scores over the global classes, higher is better;
            ``-inf`` allowed, NaN and ``+inf`` are errors.
        labels: ``[N]`` true global class indices; each must be a candidate.
        k: Number of top-ranked classes that count as a hit (``k >= 1``).
        candidates: Global class indices allowed to be predicted (default: all
            ``C`` classes). Order does not matter; duplicates are errors.

    Returns:
        ``[N]`` float64 array of expected hits in ``[0, 1]``.

    Raises:
        ValueError: On malformed shapes, NaN/+inf scores, labels outside
            ``[0, C)`` or outside ``candidates``, or an empty ``candidates``.
    """
    arr = _check_scores(scores)
    n, c = arr.shape
    y = _check_labels(labels, n, c)
    k = _check_k(k)
    cols = np.arange(c) if candidates is None else _check_classes(candidates, c, "candidates")
    _check_subset(y, cols, "labels", "candidate classes")
    return _expected_hits(arr, y, cols, k)


def per_class_accuracy(scores: Any, labels: Any, candidates: Any = None, k: int = 1) -> tuple[float, dict[int, float]]:
    """Per-class mean top-``k`` accuracy (Xian et al., TPAMI 2018).

    Each class present in ``labels`` gets the mean tie-split hit of its images
    (see :func:`topk_hits`); the result is the unweighted mean over those
    classes, so frequent classes do not dominate. Candidate classes without
    any image in ``labels`` are excluded from the mean (averaging in a 0 would
    penalise a model for a class it was never tested on); they are the
    candidates missing from the returned dictionary.

    Args:
        scores: ``[N, C]`` scores, higher is better.
        labels: ``[N]`` true global class indices, all among ``candidates``.
        candidates: Global class indices that compete (default: all classes).
        k: Top-``k`` cut-off.

    Returns:
        ``(mean, per_class)``: the mean accuracy in ``[0, 1]`` and a dictionary
        mapping each class that has images to its accuracy.

    Raises:
        ValueError: On invalid inputs (see :func:`topk_hits`) or if no class
            has any image (``N == 0``).
    """
    hits = topk_hits(scores, labels, k=k, candidates=candidates)
    return _per_class_mean(hits, _to_numpy(labels).astype(np.int64))


def harmonic_mean(seen: float, unseen: float) -> float:
    """Harmonic mean ``H = 2 * seen * unseen / (seen + unseen)`` (Xian et al., TPAMI 2018).

    Args:
        seen: Seen-class accuracy (non-negative; fraction or percent).
        unseen: Unseen-class accuracy, on the same scale as ``seen``.

    Returns:
        ``H``, or 0.0 when both accuracies are 0.

    Raises:
        ValueError: If an accuracy is negative or not finite.
    """
    values = []
    for name, value in (("seen", seen), ("unseen", unseen)):
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise DataError(f"{name} accuracy must be a number, got {value!r}") from None
        if not np.isfinite(v) or v < 0:
            raise DataError(f"{name} accuracy must be finite and >= 0, got {value!r}")
        values.append(v)
    s, u = values
    return 0.0 if s + u == 0 else 2.0 * s * u / (s + u)


def zsl_accuracy(scores: Any, labels: Any, unseen: Any) -> float:
    """Conventional ZSL accuracy: per-class mean top-1 among the unseen classes only.

    Seen-class columns are ignored, so a high seen-class score cannot hurt
    (Xian et al., TPAMI 2018).

    Args:
        scores: ``[N, C]`` scores of the test-unseen images.
        labels: ``[N]`` their true global class indices, all in ``unseen``.
        unseen: Global indices of the unseen classes.

    Returns:
        The per-class mean top-1 accuracy in ``[0, 1]``.

    Raises:
        ValueError: On invalid inputs or labels outside ``unseen``.
    """
    arr = _check_scores(scores)
    cols = _check_classes(unseen, arr.shape[1], "unseen")
    y = _check_labels(labels, arr.shape[0], arr.shape[1])
    _check_subset(y, cols, "labels", "unseen classes")
    return _per_class_mean(_expected_hits(arr, y, cols, 1), y)[0]


def gzsl_accuracy(
    scores_seen: Any,
    labels_seen: Any,
    scores_unseen: Any,
    labels_unseen: Any,
    seen: Any,
    unseen: Any,
    gamma: float = 0.0,
) -> dict[str, float]:
    """GZSL accuracies with optional calibrated stacking.

    Both test splits are ranked among all of ``seen ∪ unseen``. Calibrated
    stacking (Chao et al., ECCV 2016) subtracts ``gamma`` from the seen-class
    scores first; ``gamma = 0`` is plain GZSL (Xian et al., TPAMI 2018). Each
    accuracy is a per-class mean top-1 with ties split (see :func:`topk_hits`).

    Args:
        scores_seen: ``[N_s, C]`` scores of the test-seen images.
        labels_seen: ``[N_s]`` their labels, all in ``seen``.
        scores_unseen: ``[N_u, C]`` scores of the test-unseen images.
        labels_unseen: ``[N_u]`` their labels, all in ``unseen``.
        seen: Global indices of the seen classes.
        unseen: Global indices of the unseen classes (disjoint from ``seen``).
        gamma: Calibration subtracted from the seen-class scores (finite).

    Returns:
        ``{"seen": acc_S, "unseen": acc_U, "h": harmonic_mean(acc_S, acc_U)}``.

    Raises:
        ValueError: On invalid inputs, overlapping class sets, empty splits or a
            non-finite ``gamma``.
    """
    ss, ls, su, lu, s, u = _check_split(scores_seen, labels_seen, scores_unseen, labels_unseen, seen, unseen)
    g = _check_gamma(gamma)
    cols = np.concatenate([s, u])
    if ls.size == 0:
        raise DataError("labels_seen is empty: GZSL needs test-seen images")
    if lu.size == 0:
        raise DataError("labels_unseen is empty: GZSL needs test-unseen images")
    acc_s = _per_class_mean(_expected_hits(_calibrated(ss, s, g), ls, cols, 1), ls)[0]
    acc_u = _per_class_mean(_expected_hits(_calibrated(su, s, g), lu, cols, 1), lu)[0]
    return {"seen": acc_s, "unseen": acc_u, "h": harmonic_mean(acc_s, acc_u)}


def seen_unseen_curve(
    scores_seen: Any,
    labels_seen: Any,
    scores_unseen: Any,
    labels_unseen: Any,
    seen: Any,
    unseen: Any,
) -> dict[str, np.ndarray]:
    """The exact Seen-Unseen accuracy Curve of calibrated stacking (Chao et al., ECCV 2016).

    For every image the tie-split top-1 hit *within its own group* (seen
    images among seen classes, unseen images among unseen classes) does not
    depend on ``gamma``; only the group it is assigned to does. The image is
    assigned to the seen group iff ``d - gamma > 0``, where ``d`` is its best
    seen-class score minus its best unseen-class score. The GZSL accuracies
    are therefore step functions of ``gamma`` that change only at the margins
    ``d``; this function returns one point per open interval between
    consecutive distinct margins (plus one below and one above all of them),
    computed with a sort and cumulative sums in ``O(N log N)``. At any ``gamma``
    that is not a margin the point agrees with :func:`gzsl_accuracy`.

    The first point (``gamma`` -> -inf) is ``(unseen=0, seen=A_S->S)`` and the
    last (``gamma`` -> +inf) is ``(unseen=A_U->U, seen=0)``, where ``A_S->S`` is
    the accuracy of the test-seen images ranked among the seen classes only.
    Images whose group maximum is ``-inf`` never move to that group for any
    finite ``gamma``, so with ``-inf`` scores the ends need not reach the axes.
    Only margins of images that can be hit are used, so consecutive points
    always differ.

    Args:
        scores_seen: ``[N_s, C]`` scores of the test-seen images.
        labels_seen: ``[N_s]`` their labels, all in ``seen``.
        scores_unseen: ``[N_u, C]`` scores of the test-unseen images.
        labels_unseen: ``[N_u]`` their labels, all in ``unseen``.
        seen: Global indices of the seen classes.
        unseen: Global indices of the unseen classes (disjoint from ``seen``).

    Returns:
        ``{"gamma": [M], "seen": [M], "unseen": [M]}`` float64 arrays sorted by
        increasing ``gamma`` (hence non-decreasing unseen and non-increasing
        seen accuracy). Each ``gamma`` is a representative value of its
        interval: the midpoint between two margins, or one unit beyond the
        smallest / largest margin.

    Raises:
        ValueError: On invalid inputs or an empty test split.
    """
    gamma, acc_s, acc_u, _ = _curve_arrays(
        *_check_split(scores_seen, labels_seen, scores_unseen, labels_unseen, seen, unseen)
    )
    return {"gamma": gamma, "seen": acc_s, "unseen": acc_u}


def _area(unseen_acc: np.ndarray, seen_acc: np.ndarray) -> float:
    order = np.argsort(unseen_acc, kind="stable")
    x, y = unseen_acc[order], seen_acc[order]
    area = float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))
    return min(1.0, max(0.0, area))


def ausuc(
    scores_seen: Any,
    labels_seen: Any,
    scores_unseen: Any,
    labels_unseen: Any,
    seen: Any,
    unseen: Any,
) -> float:
    """Area Under the Seen-Unseen accuracy Curve (Chao et al., ECCV 2016).

    Unseen accuracy is on the x-axis and seen accuracy on the y-axis; the
    exact curve of :func:`seen_unseen_curve` is integrated with the trapezoid
    rule over its points sorted by unseen accuracy. A perfect model scores 1.

    Args:
        scores_seen: ``[N_s, C]`` scores of the test-seen images.
        labels_seen: ``[N_s]`` their labels, all in ``seen``.
        scores_unseen: ``[N_u, C]`` scores of the test-unseen images.
        labels_unseen: ``[N_u]`` their labels, all in ``unseen``.
        seen: Global indices of the seen classes.
        unseen: Global indices of the unseen classes (disjoint from ``seen``).

    Returns:
        The area, in ``[0, 1]``.

    Raises:
        ValueError: On invalid inputs or an empty test split.
    """
    curve = seen_unseen_curve(scores_seen, labels_seen, scores_unseen, labels_unseen, seen, unseen)
    return _area(curve["unseen"], curve["seen"])


def select_gamma(
    scores_seen: Any,
    labels_seen: Any,
    scores_unseen: Any,
    labels_unseen: Any,
    seen: Any,
    unseen: Any,
) -> float:
    """The calibration ``gamma`` that maximises the harmonic mean ``H``.

    Call this on a **validation** split (validation-seen and
    validation-unseen images), never on the test split: choosing ``gamma`` on
    test labels leaks them into the reported result. Then pass the returned
    value to :func:`gzsl_accuracy` on the test split.

    The search is exact: ``H`` is maximised over every interval of
    :func:`seen_unseen_curve`. Among intervals tied for the best ``H`` the one
    with the smallest ``|gamma|`` wins; ``0.0`` is returned when the winning
    interval contains 0, otherwise the interval's representative ``gamma``
    (a midpoint between margins, which leaves room on both sides).

    Args:
        scores_seen: ``[N_s, C]`` scores of the validation-seen images.
        labels_seen: ``[N_s]`` their labels, all in ``seen``.
        scores_unseen: ``[N_u, C]`` scores of the validation-unseen images.
        labels_unseen: ``[N_u]`` their labels, all in ``unseen``.
        seen: Global indices of the seen classes.
        unseen: Global indices of the unseen classes (disjoint from ``seen``).

    Returns:
        The selected ``gamma`` (finite).

    Raises:
        ValueError: On invalid inputs or an empty split.
    """
    gamma, acc_s, acc_u, bounds = _curve_arrays(
        *_check_split(scores_seen, labels_seen, scores_unseen, labels_unseen, seen, unseen)
    )
    h = _harmonic(acc_s, acc_u)
    best = np.flatnonzero(h >= h.max() - _H_TIE_TOL)
    contains_zero = (bounds[best, 0] < 0.0) & (bounds[best, 1] > 0.0)
    if contains_zero.any():
        return 0.0
    return float(gamma[best[np.argmin(np.abs(gamma[best]))]])


def hit_at_k(
    scores: Any,
    labels: Any,
    candidates: Any = None,
    ks: Iterable[int] = (1, 2, 5, 10, 20),
    average: str = "micro",
) -> dict[int, float]:
    """Flat Hit@k micro-averaged over images (ImageNet ZSL protocol), or macro over classes.

    This is the protocol of Frome et al. (NeurIPS 2013) and Wang et al.
    (CVPR 2018): the fraction of images whose true class is among the ``k``
    highest-scoring candidates, averaged over *images* (not classes), with
    ties split as in :func:`topk_hits`. A ``k`` of at least the number of
    candidates gives 1.0. ``average="macro"`` averages each class's images
    first and then the classes (the ImageNet evaluation of the K-ZSL code,
    Geng et al., J. Web Semantics 2023). :class:`StreamedHitAtK` computes both
    in chunks, without the ``[N, C]`` matrix.

    Args:
        scores: ``[N, C]`` scores, higher is better.
        labels: ``[N]`` true global class indices, all among ``candidates``.
        candidates: Global class indices that compete (default: all classes),
            e.g. the 2-hop, 3-hop or all unseen ImageNet classes.
        ks: The cut-offs to report.
        average: ``"micro"`` (over images) or ``"macro"`` (over the classes that have images).

    Returns:
        A dictionary mapping each ``k`` to its Hit@k in ``[0, 1]``.

    Raises:
        ValueError: On invalid inputs, an empty ``ks`` or no images.
    """
    if average not in ("micro", "macro"):
        raise DataError(f"average must be 'micro' or 'macro', got {average!r}")
    ks = list(ks)
    if not ks:
        raise DataError("ks must contain at least one cut-off, got an empty list")
    ks = [_check_k(k, "each k in ks") for k in ks]
    arr = _check_scores(scores)
    if arr.shape[0] == 0:
        raise DataError("cannot compute Hit@k: scores have no rows (N = 0)")
    y = _check_labels(labels, arr.shape[0], arr.shape[1])
    cols = np.arange(arr.shape[1]) if candidates is None else _check_classes(candidates, arr.shape[1], "candidates")
    _check_subset(y, cols, "labels", "candidate classes")
    if average == "macro":
        return {k: _per_class_mean(_expected_hits(arr, y, cols, k), y)[0] for k in ks}
    return {k: float(_expected_hits(arr, y, cols, k).mean()) for k in ks}


@dataclass
class EvaluationReport:
    """Everything one evaluation of a split produced (:meth:`Evaluator.report`).

    Attributes:
        metrics: flat keys as in :meth:`Evaluator.evaluate`, plus ``zsl/hit@k`` (unseen
            candidates) and ``gzsl/hit@k`` (all candidates) for each requested ``k``.
        per_class: per-class top-1 accuracy by protocol: ``"zsl"`` (unseen images among
            unseen classes), ``"gzsl_unseen"`` and ``"gzsl_seen"`` (among all classes, γ = 0);
            each maps a global class index to its accuracy (classes without images left out).
        curve: the exact seen-unseen curve (``{"gamma", "seen", "unseen"}`` arrays).
        seen: global indices of the seen classes.
        unseen: global indices of the unseen classes.
    """

    metrics: dict[str, float]
    per_class: dict[str, dict[int, float]]
    curve: dict[str, np.ndarray]
    seen: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    unseen: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def per_class_rows(self, class_ids: list[str]) -> list[dict[str, Any]]:
        """One row per class (unseen first): ``class``, ``split``, ``zsl_top1``, ``gzsl_top1``
        (``None`` where a class has no test image or the protocol does not apply)."""
        zsl, gu, gs = self.per_class["zsl"], self.per_class["gzsl_unseen"], self.per_class["gzsl_seen"]
        rows = [
            {"class": class_ids[c], "split": "unseen", "zsl_top1": zsl.get(int(c)), "gzsl_top1": gu.get(int(c))}
            for c in self.unseen
        ]
        rows += [
            {"class": class_ids[c], "split": "seen", "zsl_top1": None, "gzsl_top1": gs.get(int(c))} for c in self.seen
        ]
        return rows


class Evaluator:
    """OGB-style fixed evaluator: one per dataset split, strict input checks, flat metric keys.

    The class split is fixed at construction, so every method evaluated with
    the same ``Evaluator`` uses the same protocol. Scores must have exactly
    ``num_classes`` columns, test-seen labels must be seen classes and
    test-unseen labels unseen classes.

    Example:
        >>> ev = Evaluator(num_classes=50, seen=seen_ids, unseen=unseen_ids)
        >>> gamma = ev.calibrate(val_s, val_ys, val_u, val_yu)  # validation only
        >>> ev.evaluate(test_s, test_ys, test_u, test_yu, gamma=gamma)["gzsl_cs/h"]

    Args:
        num_classes: Total number of classes ``C`` (score columns).
        seen: Global indices of the seen classes.
        unseen: Global indices of the unseen classes (disjoint from ``seen``).

    Raises:
        ValueError: If ``num_classes`` is not a positive integer or the class
            sets are empty, out of range, duplicated or overlapping.
    """

    expected_input_format = (
        "scores_seen: float [N_s, num_classes] (higher is better, -inf allowed), "
        "labels_seen: int [N_s] in seen; scores_unseen: float [N_u, num_classes], "
        "labels_unseen: int [N_u] in unseen"
    )

    def __init__(self, num_classes: int, seen: Any, unseen: Any) -> None:
        self.num_classes = _check_k(num_classes, "num_classes")
        self.seen = _check_classes(seen, self.num_classes, "seen")
        self.unseen = _check_classes(unseen, self.num_classes, "unseen")
        both = np.intersect1d(self.seen, self.unseen)
        if both.size:
            raise DataError(f"seen and unseen classes overlap: class {both[0]} is in both")
        self.seen.setflags(write=False)
        self.unseen.setflags(write=False)

    def __repr__(self) -> str:
        return (
            f"Evaluator(num_classes={self.num_classes}, "
            f"seen={self.seen.size} classes, unseen={self.unseen.size} classes)"
        )

    def _split(
        self, scores_seen: Any, labels_seen: Any, scores_unseen: Any, labels_unseen: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return _check_split(
            scores_seen,
            labels_seen,
            scores_unseen,
            labels_unseen,
            self.seen,
            self.unseen,
            num_classes=self.num_classes,
        )

    def evaluate(
        self,
        scores_seen: Any,
        labels_seen: Any,
        scores_unseen: Any,
        labels_unseen: Any,
        gamma: float | None = None,
    ) -> dict[str, float]:
        """Computes every ZSL/GZSL metric on one (test) split.

        Args:
            scores_seen: ``[N_s, num_classes]`` scores of the test-seen images.
            labels_seen: ``[N_s]`` their labels, all seen classes.
            scores_unseen: ``[N_u, num_classes]`` scores of the test-unseen images.
            labels_unseen: ``[N_u]`` their labels, all unseen classes.
            gamma: Calibrated-stacking ``gamma``, chosen beforehand with
                :meth:`calibrate` on validation data; ``None`` skips the
                ``gzsl_cs/*`` metrics.

        Returns:
            Fractions in ``[0, 1]`` under the keys ``"zsl/top1"`` (per-class
            top-1 of the unseen images among unseen classes), ``"gzsl/seen"``,
            ``"gzsl/unseen"``, ``"gzsl/h"`` (``gamma = 0``), ``"gzsl/ausuc"``
            and, when ``gamma`` is given, ``"gzsl_cs/seen"``,
            ``"gzsl_cs/unseen"``, ``"gzsl_cs/h"`` and ``"gzsl_cs/gamma"``.

        Raises:
            ValueError: On inputs that do not match this evaluator's split.
        """
        ss, ls, su, lu, s, u = self._split(scores_seen, labels_seen, scores_unseen, labels_unseen)
        g = None if gamma is None else _check_gamma(gamma)
        out = {"zsl/top1": zsl_accuracy(su, lu, u)}
        plain = gzsl_accuracy(ss, ls, su, lu, s, u, gamma=0.0)
        out.update({"gzsl/seen": plain["seen"], "gzsl/unseen": plain["unseen"], "gzsl/h": plain["h"]})
        out["gzsl/ausuc"] = ausuc(ss, ls, su, lu, s, u)
        if g is not None:
            cs = gzsl_accuracy(ss, ls, su, lu, s, u, gamma=g)
            out.update(
                {
                    "gzsl_cs/seen": cs["seen"],
                    "gzsl_cs/unseen": cs["unseen"],
                    "gzsl_cs/h": cs["h"],
                    "gzsl_cs/gamma": g,
                }
            )
        return out

    def calibrate(self, scores_seen: Any, labels_seen: Any, scores_unseen: Any, labels_unseen: Any) -> float:
        """Selects ``gamma`` by maximising ``H`` (see :func:`select_gamma`).

        Pass **validation** scores and labels only, never the test split.

        Args:
            scores_seen: ``[N_s, num_classes]`` scores of validation-seen images.
            labels_seen: ``[N_s]`` their labels, all seen classes.
            scores_unseen: ``[N_u, num_classes]`` scores of validation-unseen images.
            labels_unseen: ``[N_u]`` their labels, all unseen classes.

        Returns:
            The selected ``gamma``.
        """
        return select_gamma(*self._split(scores_seen, labels_seen, scores_unseen, labels_unseen))

    def curve(
        self, scores_seen: Any, labels_seen: Any, scores_unseen: Any, labels_unseen: Any
    ) -> dict[str, np.ndarray]:
        """The exact seen-unseen curve (see :func:`seen_unseen_curve`).

        Args:
            scores_seen: ``[N_s, num_classes]`` scores of the test-seen images.
            labels_seen: ``[N_s]`` their labels, all seen classes.
            scores_unseen: ``[N_u, num_classes]`` scores of the test-unseen images.
            labels_unseen: ``[N_u]`` their labels, all unseen classes.

        Returns:
            ``{"gamma": [M], "seen": [M], "unseen": [M]}``.
        """
        return seen_unseen_curve(*self._split(scores_seen, labels_seen, scores_unseen, labels_unseen))

    def report(
        self,
        scores_seen: Any,
        labels_seen: Any,
        scores_unseen: Any,
        labels_unseen: Any,
        gamma: float | None = None,
        hit_k: Iterable[int] | None = None,
    ) -> EvaluationReport:
        """Every figure of one split in one object: metrics, Hit@k, per-class accuracy, the curve.

        Args:
            scores_seen: ``[N_s, num_classes]`` scores of the test-seen images.
            labels_seen: ``[N_s]`` their labels, all seen classes.
            scores_unseen: ``[N_u, num_classes]`` scores of the test-unseen images.
            labels_unseen: ``[N_u]`` their labels, all unseen classes.
            gamma: calibrated-stacking γ chosen on validation data (``None``: no ``gzsl_cs/*``).
            hit_k: cut-offs of ``zsl/hit@k`` and ``gzsl/hit@k`` (``None`` or empty: none).

        Returns:
            An :class:`EvaluationReport`.
        """
        ss, ls, su, lu, s, u = self._split(scores_seen, labels_seen, scores_unseen, labels_unseen)
        metrics = self.evaluate(ss, ls, su, lu, gamma=gamma)
        both = np.concatenate([s, u])
        if hit_k:
            for k, v in hit_at_k(su, lu, u, ks=hit_k).items():
                metrics[f"zsl/hit@{k}"] = v
            for k, v in hit_at_k(su, lu, both, ks=hit_k).items():
                metrics[f"gzsl/hit@{k}"] = v
        per_class = {
            "zsl": per_class_accuracy(su, lu, candidates=u)[1],
            "gzsl_unseen": per_class_accuracy(su, lu, candidates=both)[1],
            "gzsl_seen": per_class_accuracy(ss, ls, candidates=both)[1],
        }
        curve = seen_unseen_curve(ss, ls, su, lu, s, u)
        return EvaluationReport(metrics=metrics, per_class=per_class, curve=curve, seen=s, unseen=u)


# ---------------------------------------------------------------------------
# Streamed Hit@k (ImageNet-21K at full scale)
# ---------------------------------------------------------------------------


class StreamedHitAtK:
    """Hit@k over millions of images, one chunk of scores at a time, micro and macro.

    The ImageNet-21K protocol (Wang et al., CVPR 2018; Kampffmeyer et al., DGP, CVPR 2019)
    ranks every test image among up to 21,842 classes; the score matrix of all images would
    not fit in memory. :meth:`update` takes the ``[B, C]`` scores of one chunk (a PyTorch
    tensor on any device, or an array), counts for each image how many candidates score
    strictly higher (``g``) and how many others tie with its true class (``t``), turns them
    into the tie-split hit ``clip((k - g) / (t + 1), 0, 1)`` of :func:`topk_hits` for every
    ``k``, and adds them to per-class sums on the chunk's device. Nothing larger than one
    chunk's scores is ever held, and the result equals
    :func:`hit_at_k` on the whole matrix (the same per-image values, summed in another order).

    Only the top ``max(ks)`` scores of each image are kept (``torch.topk``, one pass over the
    chunk: the candidate sets are cut into disjoint groups of columns, each group's top-k taken
    once and merged per set). They give ``g`` and ``t`` exactly except where the true score
    equals the last kept score, as its ties may reach past it; those (rare) rows are counted
    over all candidates.

    Two averagings, both in the metric keys: ``<name>/hit@k_micro`` averages over images
    (GCNZ / DGP), ``<name>/hit@k_macro`` over the classes that have images (the K-ZSL code's
    ImageNet evaluation, Geng et al., J. Web Semantics 2023).

    Args:
        num_classes: score columns ``C`` (global class indices).
        candidates: candidate sets by metric prefix, e.g. ``{"zsl": unseen, "gzsl": seen ∪ unseen}``
            (the generalized "+1K" variant); every label must be in every set.
        ks: the cut-offs.
    """

    def __init__(self, num_classes: int, candidates: dict[str, Any], ks: Iterable[int] = (1, 2, 5, 10, 20)) -> None:
        self.num_classes = _check_k(num_classes, "num_classes")
        self.ks = [_check_k(k, "each k in ks") for k in ks]
        if not self.ks:
            raise DataError("ks must contain at least one cut-off, got an empty list")
        if not candidates:
            raise DataError("candidates must name at least one candidate set")
        self.candidates = {
            name: _check_classes(c, self.num_classes, f"candidates {name!r}") for name, c in candidates.items()
        }
        self.n = 0
        self._sums: dict[str, Any] = {}  # name -> [C, len(ks)] float64 per-class hit sums
        self._counts: Any = None  # [C] images per class
        self._device: Any = None
        self._cols: dict[str, Any] = {}

    @staticmethod
    def _columns(cols: np.ndarray, device: Any) -> Any:
        """A slice where the columns are a contiguous range (a view, no copy), else an index tensor."""
        import torch

        cols = np.sort(cols)
        if cols[-1] - cols[0] + 1 == cols.size:
            return slice(int(cols[0]), int(cols[-1]) + 1)
        return torch.as_tensor(cols, device=device)

    def _start(self, device: Any) -> None:
        import torch

        self._device = device
        self._counts = torch.zeros(self.num_classes, dtype=torch.int64, device=device)
        signature = np.zeros(self.num_classes, dtype=np.int64)  # bit j: column in candidate set j
        for j, name in enumerate(self.candidates):
            self._sums[name] = torch.zeros(self.num_classes, len(self.ks), dtype=torch.float64, device=device)
            self._cols[name] = self._columns(self.candidates[name], device)
            member = torch.zeros(self.num_classes, dtype=torch.bool, device=device)
            member[torch.as_tensor(self.candidates[name], device=device)] = True
            self._cols[name, "member"] = member
            signature[self.candidates[name]] |= 1 << j
        # the candidate sets cut the columns into disjoint atoms (e.g. unseen: in both sets; seen:
        # in the "+1K" set only): one top-k per atom, merged per set, covers every set in one pass
        self._atoms = []
        for value in np.unique(signature[signature > 0]):
            cols = np.flatnonzero(signature == value)
            sets = [name for j, name in enumerate(self.candidates) if value >> j & 1]
            self._atoms.append((self._columns(cols, device), cols.size, sets))

    def update(self, scores: Any, labels: Any) -> None:
        """Add one chunk: ``scores`` ``[B, C]`` (higher is better, ``-inf`` allowed), ``labels`` ``[B]``."""
        import torch

        s = torch.as_tensor(scores)
        if s.ndim != 2 or s.shape[1] != self.num_classes:
            raise DataError(f"scores must be [B, {self.num_classes}], got shape {tuple(s.shape)}")
        if not s.dtype.is_floating_point:
            s = s.double()
        if self._device is None:
            self._start(s.device)
        elif s.device != self._device:
            raise DataError(f"scores are on {s.device} but earlier chunks were on {self._device}")
        y = torch.as_tensor(labels, device=s.device).long()
        if y.ndim != 1 or y.shape[0] != s.shape[0]:
            raise DataError(f"labels must be [B] with B = {s.shape[0]}, got shape {tuple(y.shape)}")
        if y.numel() == 0:
            return
        if (y < 0).any() or (y >= self.num_classes).any():
            bad = y[(y < 0) | (y >= self.num_classes)][0].item()
            raise DataError(f"labels contain class {bad}, outside [0, {self.num_classes})")
        top = s.amax()  # NaN and +inf propagate: one cheap pass
        if torch.isnan(top) or torch.isposinf(top):
            raise DataError(f"scores of images {self.n}..{self.n + len(y) - 1} contain NaN or +inf")
        for name in self.candidates:
            inside = self._cols[name, "member"][y]
            if not inside.all():
                raise DataError(f"labels contain class {y[~inside][0].item()}, outside the candidates {name!r}")
        true = s.gather(1, y[:, None])
        kmax = max(self.ks)
        ks = torch.tensor(self.ks, dtype=torch.float64, device=s.device)
        tops: dict[str, list[Any]] = {name: [] for name in self.candidates}
        for cols, size, sets in self._atoms:
            values = torch.topk(s[:, cols], min(kmax, size), dim=1, sorted=False).values
            for name in sets:
                tops[name].append(values)
        for name, parts in tops.items():
            size = self.candidates[name].size
            window = min(kmax, size)
            v = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
            if v.shape[1] > window:
                v = torch.topk(v, window, dim=1, sorted=False).values
            # the top-`window` scores give g and t exactly unless the true score ties the last
            # of them (its ties may reach past the window): those rows are counted in full. Where
            # the last is higher, g >= kmax and every hit is 0 whatever t.
            g = (v > true).sum(1, dtype=torch.int64)
            t = (v == true).sum(1, dtype=torch.int64) - 1  # minus the true class itself
            if window < size:
                unsure = torch.nonzero(v.amin(1) == true[:, 0])[:, 0]
                if unsure.numel():
                    full = s[unsure][:, self._cols[name]]
                    g[unsure] = (full > true[unsure]).sum(1, dtype=torch.int64)
                    t[unsure] = (full == true[unsure]).sum(1, dtype=torch.int64) - 1
            g, t = g.double(), t.clamp(min=0).double()  # t = -1: the true class is below the window
            hits = ((ks[None, :] - g[:, None]) / (t[:, None] + 1.0)).clamp(0.0, 1.0)
            self._sums[name].index_add_(0, y, hits)
        self._counts += torch.bincount(y, minlength=self.num_classes)
        self.n += len(y)

    def result(self) -> dict[str, float]:
        """``<name>/hit@k_micro`` and ``<name>/hit@k_macro`` for every candidate set and ``k``."""
        if self.n == 0:
            raise DataError("cannot compute Hit@k: no image was scored (N = 0)")
        counts = self._counts.cpu().numpy()
        present = counts > 0
        out: dict[str, float] = {}
        for name, sums in self._sums.items():
            per_class = sums.cpu().numpy()
            for j, k in enumerate(self.ks):
                out[f"{name}/hit@{k}_micro"] = float(per_class[:, j].sum() / self.n)
                out[f"{name}/hit@{k}_macro"] = float((per_class[present, j] / counts[present]).mean())
        return out

    def per_class(self, name: str, k: int = 1) -> dict[int, float]:
        """Hit@``k`` of each class that has images, among the candidates ``name``."""
        counts = self._counts.cpu().numpy()
        col = self._sums[name][:, self.ks.index(k)].cpu().numpy()
        return {int(c): float(col[c] / counts[c]) for c in np.flatnonzero(counts)}


def _scorer(scorer: Any, device: Any) -> Any:
    """A callable ``features -> scores``: ``scorer`` itself, or ``x @ W.T`` for a ``[C, D]`` weight matrix."""
    import torch

    if callable(scorer):
        return scorer
    weights = torch.as_tensor(np.asarray(scorer) if not hasattr(scorer, "detach") else scorer, device=device)
    weights = weights.float().T.contiguous() if weights.dtype != torch.float64 else weights.T.contiguous()
    return lambda x: x.to(weights.dtype) @ weights


def streamed_hit_at_k(
    chunks: Iterable[tuple[Any, Any]],
    scorer: Any,
    num_classes: int,
    candidates: dict[str, Any],
    ks: Iterable[int] = (1, 2, 5, 10, 20),
    device: Any = None,
) -> StreamedHitAtK:
    """Score ``(features, labels)`` chunks against every class and accumulate Hit@k.

    Args:
        chunks: an iterable (e.g. a generator reading class files) of ``[B, D]`` features and
            ``[B]`` global labels; only one chunk is alive at a time.
        scorer: a method's ``decision_function`` (or any callable ``[B, D] -> [B, C]`` tensor),
            or the ``[C, D]`` class weights (scores ``x @ W.T``).
        num_classes: ``C``.
        candidates: candidate sets by metric prefix (see :class:`StreamedHitAtK`).
        ks: the cut-offs.
        device: where features go before scoring (default: the CPU, or the weights' device).

    Returns:
        The filled :class:`StreamedHitAtK`; ``.result()`` gives the metrics.
    """
    import torch

    if device is None and hasattr(scorer, "device"):
        device = scorer.device
    device = torch.device(device or "cpu")
    score = _scorer(scorer, device)
    acc = StreamedHitAtK(num_classes, candidates, ks)
    with torch.no_grad():
        for features, labels in chunks:
            x = torch.as_tensor(np.asarray(features) if not hasattr(features, "detach") else features)
            acc.update(score(x.to(device=device, dtype=torch.float32)), torch.as_tensor(np.asarray(labels)))
    return acc


def evaluate_streamed(
    method: Any,
    dataset: Any,
    hit_k: Iterable[int] = (1, 2, 5, 10, 20),
    chunk_images: int = 4096,
    device: Any = None,
) -> dict[str, float]:
    """Hit@k of a fitted method on every test-unseen image of a streaming dataset.

    ``dataset`` offers ``iter_test(split, chunk_images)`` and ``classes()`` (as
    :class:`kgzsl.data.kzsl_imagenet.KZSLImageNet` does): the test images are read class
    file by class file and scored by ``method.decision_function`` chunk by chunk, so the
    ImageNet-21K test sets (2-hops, 3-hops, all) are scored in full in bounded memory.

    Args:
        method: a fitted method (its ``decision_function`` scores all classes).
        dataset: the dataset component (not its loaded :class:`~kgzsl.data.dataset.ZSLDataset`).
        hit_k: the cut-offs.
        chunk_images: images per chunk (memory ~ ``chunk_images × C`` scores).
        device: where the features go before scoring: the method's device (default: the CPU).

    Returns:
        ``zsl/hit@k_{micro,macro}`` (the test classes compete) and ``gzsl/hit@k_{micro,macro}``
        (the generalized "+1K" variant: the seen classes compete too), plus ``zsl/n_images``.
    """
    class_ids, seen, unseen = dataset.classes()
    candidates = {"zsl": np.asarray(unseen), "gzsl": np.concatenate([np.asarray(seen), np.asarray(unseen)])}
    acc = streamed_hit_at_k(
        dataset.iter_test("test_unseen", chunk_images=chunk_images),
        method.decision_function,
        len(class_ids),
        candidates,
        ks=hit_k,
        device=device,
    )
    return {**acc.result(), "zsl/n_images": float(acc.n)}


def streamed_report(
    method: Any,
    dataset: Any,
    hit_k: Iterable[int] | None = (1, 2, 5, 10, 20),
    gamma: float | None = None,
    chunk_images: int = 4096,
    device: Any = None,
) -> EvaluationReport:
    """The whole ZSL / GZSL report of a fitted method on a dataset whose test images are streamed.

    For test sets too large to hold (ImageNet-21K: millions of images over up to 21,842
    classes), every image of ``dataset.iter_test("test_unseen")`` and ``("test_seen")`` is
    scored chunk by chunk (:class:`StreamedHitAtK`; one chunk of scores alive at a time):

    * ``zsl/hit@k_{micro,macro}`` and the "+1K" ``gzsl/hit@k_{micro,macro}`` of the unseen
      images, as :func:`evaluate_streamed`;
    * ``zsl/top1`` (= ``zsl/hit@1_macro``: per-class top-1 among the unseen classes, ties
      split as :func:`topk_hits` does), ``gzsl/unseen`` / ``gzsl/seen`` (per-class top-1 of
      the unseen / seen test images among all classes) and ``gzsl/h``;
    * with ``gamma``, the same after calibrated stacking (``gzsl_cs/*``: ``gamma`` subtracted
      from the seen classes' scores).

    There is no seen-unseen curve (AUSUC needs every score): ``curve`` is empty.

    Args:
        method: a fitted method (its ``decision_function`` scores all classes).
        dataset: the dataset component (``iter_test`` and ``classes()``).
        hit_k: the cut-offs (``None``: 1, 2, 5, 10, 20).
        gamma: the calibrated-stacking factor chosen on validation, or ``None``.
        chunk_images: images per chunk.
        device: where features go before scoring (default: the CPU).
    """
    import torch

    ks = sorted({1, *(hit_k or (1, 2, 5, 10, 20))})
    class_ids, seen, unseen = dataset.classes()
    seen, unseen = np.asarray(seen, dtype=np.int64), np.asarray(unseen, dtype=np.int64)
    num_classes = len(class_ids)
    every = np.concatenate([seen, unseen])
    device = torch.device(device or "cpu")
    seen_cols = torch.as_tensor(seen, device=device)
    variants = [("", 0.0)] + ([("cs", float(gamma))] if gamma is not None else [])

    def run(split: str, candidates: dict[str, Any]) -> dict[str, StreamedHitAtK]:
        accs = {name: StreamedHitAtK(num_classes, candidates, ks) for name, _ in variants}
        with torch.no_grad():
            for features, labels in dataset.iter_test(split, chunk_images=chunk_images):
                x = torch.as_tensor(np.asarray(features), device=device, dtype=torch.float32)
                scores = method.decision_function(x)
                y = torch.as_tensor(np.asarray(labels))
                for name, g in variants:
                    if g:
                        scores = scores.clone()
                        scores[:, seen_cols.to(scores.device)] -= g
                    accs[name].update(scores, y.to(scores.device))
        return accs

    u = run("test_unseen", {"zsl": unseen, "gzsl": every})
    metrics = {k: v for k, v in u[""].result().items()}
    metrics["zsl/n_images_streamed"] = float(u[""].n)
    metrics["zsl/top1"] = metrics["zsl/hit@1_macro"]
    per_class = {"zsl": u[""].per_class("zsl"), "gzsl_unseen": u[""].per_class("gzsl"), "gzsl_seen": {}}
    s = run("test_seen", {"gzsl": every}) if len(seen) else None
    if s is not None and s[""].n == 0:
        s = None
    for name, g in variants:
        prefix = "gzsl_cs" if name else "gzsl"
        acc_u = float(np.mean(list(u[name].per_class("gzsl").values())))
        metrics[f"{prefix}/unseen"] = acc_u
        if s is not None:
            acc_s = float(np.mean(list(s[name].per_class("gzsl").values())))
            metrics[f"{prefix}/seen"] = acc_s
            metrics[f"{prefix}/h"] = harmonic_mean(acc_s, acc_u)
        if name:
            metrics["gzsl_cs/gamma"] = g
    if s is not None:
        per_class["gzsl_seen"] = s[""].per_class("gzsl")
        metrics["gzsl/n_seen_images_streamed"] = float(s[""].n)
    return EvaluationReport(metrics=metrics, per_class=per_class, curve={}, seen=seen, unseen=unseen)
