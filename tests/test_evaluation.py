"""Tests for kgzsl.evaluation: hand-computed examples, tie handling, exact curve, errors."""

from __future__ import annotations

import numpy as np
import pytest

from kgzsl.evaluation import (
    Evaluator,
    ausuc,
    gzsl_accuracy,
    harmonic_mean,
    hit_at_k,
    per_class_accuracy,
    seen_unseen_curve,
    select_gamma,
    topk_hits,
    zsl_accuracy,
)

NEG = -np.inf


# A 4-class GZSL example used by several tests: seen = {0, 1}, unseen = {2, 3}.
#   image  label  scores            within-own-group  margin d = max seen - max unseen
#   A      0      [3, 1, 2, 0]      hit (3 > 1)        3 - 2 =  1
#   B      1      [0, 2, 5, 1]      hit (2 > 0)        2 - 5 = -3
#   C      2      [4, 0, 2, 1]      hit (2 > 1)        4 - 2 =  2
#   D      3      [0, 1, 0, 3]      hit (3 > 0)        1 - 3 = -2
# Every class has one image, so each image weighs 1/2 in its split's per-class mean.
# Curve (gamma -> group): image goes to the seen group iff d > gamma.
#   gamma < -3     : A,B,C,D seen          -> seen 1,   unseen 0
#   -3 < gamma < -2: A,C,D seen, B unseen  -> seen 1/2, unseen 0
#   -2 < gamma < 1 : A,C seen, B,D unseen  -> seen 1/2, unseen 1/2
#   1 < gamma < 2  : C seen                -> seen 0,   unseen 1/2
#   gamma > 2      : none seen             -> seen 0,   unseen 1
SEEN4, UNSEEN4 = [0, 1], [2, 3]
S4 = np.array([[3.0, 1, 2, 0], [0, 2, 5, 1]])
YS4 = np.array([0, 1])
U4 = np.array([[4.0, 0, 2, 1], [0, 1, 0, 3]])
YU4 = np.array([2, 3])
ARGS4 = (S4, YS4, U4, YU4, SEEN4, UNSEEN4)


def _random_split(rng: np.random.Generator, discrete: bool) -> tuple:
    c = 9
    seen, unseen = np.array([0, 2, 3, 5, 8]), np.array([1, 4, 6, 7])

    def draw(n: int, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if discrete:  # many ties, some -inf entries and whole -inf rows
            scores = rng.integers(0, 4, size=(n, c)).astype(float)
            scores[rng.random((n, c)) < 0.15] = NEG
            scores[:2] = NEG
            scores[2, seen] = NEG
            scores[3, unseen] = NEG
        else:
            scores = rng.normal(size=(n, c))
        return scores, rng.choice(classes, size=n)

    ss, ys = draw(60, seen)
    su, yu = draw(45, unseen)
    return ss, ys, su, yu, seen, unseen


# ---------------------------------------------------------------------------
# top-k hits and ties
# ---------------------------------------------------------------------------


def test_per_class_accuracy_hand_example() -> None:
    scores = np.array(
        [
            [0.9, 0.1, 0.0],  # label 0, argmax 0 -> hit
            [0.2, 0.7, 0.1],  # label 0, argmax 1 -> miss
            [0.1, 0.8, 0.1],  # label 1, argmax 1 -> hit
            [0.5, 0.2, 0.3],  # label 2, argmax 0 -> miss
        ]
    )
    labels = np.array([0, 0, 1, 2])
    # class 0: 1/2, class 1: 1/1, class 2: 0/1 -> mean (0.5 + 1 + 0) / 3 = 0.5
    mean, per_class = per_class_accuracy(scores, labels)
    assert mean == pytest.approx(0.5)
    assert per_class == {0: 0.5, 1: 1.0, 2: 0.0}
    np.testing.assert_allclose(topk_hits(scores, labels), [1, 0, 1, 0])
    # top-2: image 1 (0.2 is 2nd) and image 3 (0.3 is 2nd) become hits
    np.testing.assert_allclose(topk_hits(scores, labels, k=2), [1, 1, 1, 1])


def test_two_way_tie_counts_half() -> None:
    scores = np.array([[1.0, 1.0, 0.0]])
    assert topk_hits(scores, [0], k=1)[0] == pytest.approx(0.5)
    assert topk_hits(scores, [0], k=2)[0] == pytest.approx(1.0)
    # argmax would have said "hit" for class 0 and "miss" for class 1; the split is symmetric
    assert topk_hits(scores, [1], k=1)[0] == pytest.approx(0.5)


def test_three_way_tie() -> None:
    scores = np.array([[2.0, 2.0, 2.0, 0.0]])
    np.testing.assert_allclose([topk_hits(scores, [1], k=k)[0] for k in (1, 2, 3, 4)], [1 / 3, 2 / 3, 1, 1])
    # one class strictly above (g = 1) and a three-way tie below it (t = 2):
    # hit = clip((k - 1) / 3, 0, 1)
    scores = np.array([[3.0, 2.0, 2.0, 2.0]])
    np.testing.assert_allclose([topk_hits(scores, [2], k=k)[0] for k in (1, 2, 3, 4)], [0, 1 / 3, 2 / 3, 1])


def test_constant_model_gets_exactly_chance() -> None:
    scores = np.zeros((7, 6))
    labels = np.array([0, 2, 4, 4, 2, 0, 0])
    candidates = [0, 2, 4]
    assert per_class_accuracy(scores, labels, candidates=candidates)[0] == 1 / 3
    assert per_class_accuracy(scores, labels, candidates=candidates, k=2)[0] == pytest.approx(2 / 3)
    assert per_class_accuracy(scores, labels)[0] == pytest.approx(1 / 6)
    assert hit_at_k(scores, labels, candidates=candidates, ks=(1, 2, 3)) == pytest.approx({1: 1 / 3, 2: 2 / 3, 3: 1.0})


def test_neg_inf_scores_are_ranked_last_and_tie_among_themselves() -> None:
    scores = np.array([[NEG, 1.0, NEG]])
    # true class 0: one class above (g = 1), tied with class 2 (t = 1)
    np.testing.assert_allclose([topk_hits(scores, [0], k=k)[0] for k in (1, 2, 3)], [0, 0.5, 1])
    # restricting candidates to {0, 2} removes the class above
    assert topk_hits(scores, [0], candidates=[0, 2])[0] == pytest.approx(0.5)


def test_class_without_images_is_excluded_from_the_mean() -> None:
    scores = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 1.0, 0]])
    labels = np.array([0, 0, 1])  # class 2 is a candidate but has no image
    # class 0: 1/2, class 1: 1 -> 0.75 ; counting class 2 as 0 would give 0.5
    mean, per_class = per_class_accuracy(scores, labels, candidates=[0, 1, 2])
    assert mean == pytest.approx(0.75)
    assert set(per_class) == {0, 1}
    assert mean != pytest.approx((0.5 + 1.0 + 0.0) / 3)


def test_candidates_restrict_the_columns() -> None:
    scores = np.array([[5.0, 1.0, 2.0]])
    assert topk_hits(scores, [2])[0] == 0.0
    assert topk_hits(scores, [2], candidates=[1, 2])[0] == 1.0
    assert topk_hits(scores, [2], candidates=np.array([2]))[0] == 1.0


def test_accepts_torch_tensors() -> None:
    torch = pytest.importorskip("torch")
    scores = torch.tensor([[1.0, 1.0, 0.0], [0.0, 2.0, 1.0]], requires_grad=True)
    labels = torch.tensor([0, 1])
    np.testing.assert_allclose(topk_hits(scores, labels), [0.5, 1.0])
    assert per_class_accuracy(scores.to(torch.bfloat16), labels)[0] == pytest.approx(0.75)


# ---------------------------------------------------------------------------
# ZSL / GZSL / H / calibrated stacking
# ---------------------------------------------------------------------------


def test_harmonic_mean_hand_values() -> None:
    assert harmonic_mean(0.6, 0.4) == pytest.approx(2 * 0.6 * 0.4 / 1.0)  # 0.48
    assert harmonic_mean(0.6, 0.4) == pytest.approx(0.48)
    assert harmonic_mean(0.5, 0.5) == pytest.approx(0.5)
    assert harmonic_mean(1.0, 0.0) == 0.0
    assert harmonic_mean(0.0, 0.0) == 0.0


def test_zsl_ignores_seen_classes_but_gzsl_does_not() -> None:
    seen, unseen = [0, 1], [2, 3]
    # the unseen image's true class 2 beats class 3, but seen class 0 has the top score
    scores_unseen = np.array([[5.0, 0.0, 3.0, 1.0]])
    labels_unseen = np.array([2])
    scores_seen = np.array([[5.0, 0.0, 3.0, 1.0]])
    labels_seen = np.array([0])
    assert zsl_accuracy(scores_unseen, labels_unseen, unseen) == 1.0
    out = gzsl_accuracy(scores_seen, labels_seen, scores_unseen, labels_unseen, seen, unseen)
    assert out == {"seen": 1.0, "unseen": 0.0, "h": 0.0}


def test_gzsl_hand_example() -> None:
    # gamma = 0: A (d=1) seen -> hit, B (d=-3) unseen -> miss, C (d=2) seen -> miss,
    # D (d=-2) unseen -> hit. seen = 1/2, unseen = 1/2, H = 1/2.
    assert gzsl_accuracy(*ARGS4) == pytest.approx({"seen": 0.5, "unseen": 0.5, "h": 0.5})


# Two classes, seen = {0}, unseen = {1}; score = [margin, 0], so each image's margin is its
# class-0 score. Seen images have margins 3 and 4, unseen images 1 and 2: without
# calibration every unseen image is predicted as the seen class.
TWO = (
    np.array([[3.0, 0.0], [4.0, 0.0]]),
    np.array([0, 0]),
    np.array([[1.0, 0.0], [2.0, 0.0]]),
    np.array([1, 1]),
    [0],
    [1],
)


def test_gamma_shifts_predictions_from_seen_to_unseen() -> None:
    assert gzsl_accuracy(*TWO, gamma=0.0) == pytest.approx({"seen": 1, "unseen": 0, "h": 0})
    # gamma = 1.5: the unseen image with margin 1 flips to unseen -> unseen 1/2, H = 2/3
    assert gzsl_accuracy(*TWO, gamma=1.5) == pytest.approx({"seen": 1, "unseen": 0.5, "h": 2 * 0.5 / 1.5})
    assert gzsl_accuracy(*TWO, gamma=2.5) == pytest.approx({"seen": 1, "unseen": 1, "h": 1})
    # gamma = 3.5: the seen image with margin 3 flips to unseen too
    assert gzsl_accuracy(*TWO, gamma=3.5) == pytest.approx({"seen": 0.5, "unseen": 1, "h": 2 * 0.5 / 1.5})
    assert gzsl_accuracy(*TWO, gamma=-10) == pytest.approx({"seen": 1, "unseen": 0, "h": 0})


def test_select_gamma_hand_example() -> None:
    # H is 1 only for gamma in (2, 3) (see test above); the midpoint is returned
    assert select_gamma(*TWO) == pytest.approx(2.5)
    # Hand example 4: H = 1/2 on (-2, 1), which contains 0 -> 0 is preferred
    assert select_gamma(*ARGS4) == 0.0


def test_select_gamma_ties_prefer_smallest_abs_gamma() -> None:
    # seen margins -10 and 5, unseen margins -20 and 3 (two images per class, 1/2 each):
    #   (-20, -10): seen 1,   unseen 1/2 -> H = 2/3
    #   (-10,   3): seen 1/2, unseen 1/2 -> H = 1/2
    #   (  3,   5): seen 1/2, unseen 1   -> H = 2/3
    # (-20, -10) and (3, 5) tie; midpoints -15 and 4 -> 4 has the smaller |gamma|
    args = (
        np.array([[-10.0, 0.0], [5.0, 0.0]]),
        np.array([0, 0]),
        np.array([[-20.0, 0.0], [3.0, 0.0]]),
        np.array([1, 1]),
        [0],
        [1],
    )
    gamma = select_gamma(*args)
    assert gamma == pytest.approx(4.0)
    assert gzsl_accuracy(*args, gamma=gamma)["h"] == pytest.approx(2 / 3)


# ---------------------------------------------------------------------------
# Seen-unseen curve and AUSUC
# ---------------------------------------------------------------------------


def test_curve_hand_example() -> None:
    curve = seen_unseen_curve(*ARGS4)
    # margins -3, -2, 1, 2 -> one point below, three midpoints, one point above
    np.testing.assert_allclose(curve["gamma"], [-4, -2.5, -0.5, 1.5, 3])
    np.testing.assert_allclose(curve["seen"], [1, 0.5, 0.5, 0, 0])
    np.testing.assert_allclose(curve["unseen"], [0, 0, 0.5, 0.5, 1])


def test_ausuc_hand_example() -> None:
    # points (unseen, seen): (0,1) (0,.5) (.5,.5) (.5,0) (1,0); trapezoids:
    #   0 -> 0   : width 0                    -> 0
    #   0 -> .5  : width .5, heights .5 and .5 -> .25
    #   .5 -> .5 : width 0                    -> 0
    #   .5 -> 1  : width .5, heights 0 and 0   -> 0
    assert ausuc(*ARGS4) == pytest.approx(0.25)


def test_ausuc_perfect_model_is_one() -> None:
    seen, unseen = [0, 1, 2], [3, 4]
    ys, yu = np.array([0, 1, 2, 2]), np.array([3, 4, 4])
    ss, su = np.eye(5)[ys], np.eye(5)[yu]  # one-hot scores: margins +1 (seen) and -1 (unseen)
    assert ausuc(ss, ys, su, yu, seen, unseen) == pytest.approx(1.0)
    curve = seen_unseen_curve(ss, ys, su, yu, seen, unseen)
    np.testing.assert_allclose(curve["unseen"], [0, 1, 1])
    np.testing.assert_allclose(curve["seen"], [1, 1, 0])


def test_ausuc_of_the_two_class_example() -> None:
    # seen [1, 1, 1, .5, 0] vs unseen [0, .5, 1, 1, 1]: the curve passes through (1, 1) -> area 1
    curve = seen_unseen_curve(*TWO)
    np.testing.assert_allclose(curve["gamma"], [0, 1.5, 2.5, 3.5, 5])
    np.testing.assert_allclose(curve["seen"], [1, 1, 1, 0.5, 0])
    np.testing.assert_allclose(curve["unseen"], [0, 0.5, 1, 1, 1])
    assert ausuc(*TWO) == pytest.approx(1.0)


@pytest.mark.parametrize("discrete", [False, True])
def test_curve_endpoints(discrete: bool) -> None:
    ss, ys, su, yu, seen, unseen = _random_split(np.random.default_rng(0), discrete)
    curve = seen_unseen_curve(ss, ys, su, yu, seen, unseen)
    if not discrete:  # no -inf: the ends reach the axes
        assert curve["unseen"][0] == 0.0
        assert curve["seen"][-1] == 0.0
        assert curve["seen"][0] == pytest.approx(per_class_accuracy(ss, ys, candidates=seen)[0])
        assert curve["unseen"][-1] == pytest.approx(zsl_accuracy(su, yu, unseen))
    assert np.all(np.diff(curve["gamma"]) > 0)
    assert np.all(np.diff(curve["unseen"]) >= 0) and np.all(np.diff(curve["seen"]) <= 0)
    assert 0.0 <= ausuc(ss, ys, su, yu, seen, unseen) <= 1.0


@pytest.mark.parametrize("discrete", [False, True])
def test_curve_agrees_with_gzsl_accuracy(discrete: bool) -> None:
    rng = np.random.default_rng(1 + discrete)
    args = _random_split(rng, discrete)
    curve = seen_unseen_curve(*args)
    assert len(curve["gamma"]) >= 5
    for g, s, u in zip(curve["gamma"], curve["seen"], curve["unseen"]):
        out = gzsl_accuracy(*args, gamma=g)
        assert out["seen"] == pytest.approx(s, abs=1e-12)
        assert out["unseen"] == pytest.approx(u, abs=1e-12)
    # the point at a gamma that is not a margin (integer scores make 0 one) is on the curve,
    # and select_gamma is optimal
    plain = gzsl_accuracy(*args, gamma=0.25)
    assert any(
        np.isclose(plain["seen"], s) and np.isclose(plain["unseen"], u) for s, u in zip(curve["seen"], curve["unseen"])
    )
    best = gzsl_accuracy(*args, gamma=select_gamma(*args))["h"]
    for g in rng.uniform(-5, 5, size=25):  # no other gamma does better
        assert gzsl_accuracy(*args, gamma=g)["h"] <= best + 1e-12


def test_all_neg_inf_row_is_a_tie_at_every_gamma() -> None:
    # one seen image whose scores are all -inf: tied with all 3 candidates -> 1/3 at any gamma
    args = (np.full((1, 3), NEG), [0], np.array([[0.0, 2.0, 1.0]]), [1], [0], [1, 2])
    for g in (-100.0, 0.0, 100.0):
        assert gzsl_accuracy(*args, gamma=g)["seen"] == pytest.approx(1 / 3)
    np.testing.assert_allclose(seen_unseen_curve(*args)["seen"], 1 / 3)


# ---------------------------------------------------------------------------
# Hit@k (ImageNet protocol)
# ---------------------------------------------------------------------------


def test_hit_at_k_is_micro_averaged() -> None:
    # class 0 has three images, all top-1 hits; class 1 has one image, a top-1 miss
    scores = np.array([[2.0, 1.0, 0.0]] * 3 + [[2.0, 1.0, 0.0]])
    labels = np.array([0, 0, 0, 1])
    hits = hit_at_k(scores, labels, ks=(1, 2, 5))
    assert hits[1] == pytest.approx(3 / 4)  # micro: 3 of 4 images
    assert per_class_accuracy(scores, labels)[0] == pytest.approx(0.5)  # per-class: (1 + 0) / 2
    assert hits[2] == 1.0
    assert hits[5] == 1.0  # k larger than the 3 candidates -> 1.0
    assert hit_at_k(scores, labels, candidates=[0, 1], ks=[1, 20]) == {1: 0.75, 20: 1.0}


# ---------------------------------------------------------------------------
# Evaluator
# ---------------------------------------------------------------------------


def test_evaluator_hand_example() -> None:
    ev = Evaluator(num_classes=4, seen=SEEN4, unseen=UNSEEN4)
    out = ev.evaluate(S4, YS4, U4, YU4)
    assert set(out) == {"zsl/top1", "gzsl/seen", "gzsl/unseen", "gzsl/h", "gzsl/ausuc"}
    assert out == pytest.approx(
        {"zsl/top1": 1.0, "gzsl/seen": 0.5, "gzsl/unseen": 0.5, "gzsl/h": 0.5, "gzsl/ausuc": 0.25}
    )
    out = ev.evaluate(S4, YS4, U4, YU4, gamma=1.5)  # only C stays seen -> seen 0, unseen 1/2
    assert out["gzsl_cs/seen"] == 0.0 and out["gzsl_cs/unseen"] == 0.5
    assert out["gzsl_cs/h"] == 0.0 and out["gzsl_cs/gamma"] == 1.5
    assert ev.calibrate(S4, YS4, U4, YU4) == 0.0
    np.testing.assert_allclose(ev.curve(S4, YS4, U4, YU4)["seen"], [1, 0.5, 0.5, 0, 0])


def test_evaluator_report_hand_example() -> None:
    ev = Evaluator(num_classes=4, seen=SEEN4, unseen=UNSEEN4)
    report = ev.report(S4, YS4, U4, YU4, gamma=1.5, hit_k=[1, 2])
    assert report.metrics == {**ev.evaluate(S4, YS4, U4, YU4, gamma=1.5), **report.metrics}
    # ZSL: C (2 > 1) and D (3 > 0) hit among the unseen; GZSL: C loses to seen class 0 (4 > 2)
    assert report.metrics["zsl/hit@1"] == 1.0 and report.metrics["zsl/hit@2"] == 1.0
    assert report.metrics["gzsl/hit@1"] == 0.5 and report.metrics["gzsl/hit@2"] == 1.0
    assert report.per_class == {
        "zsl": {2: 1.0, 3: 1.0},
        "gzsl_unseen": {2: 0.0, 3: 1.0},
        "gzsl_seen": {0: 1.0, 1: 0.0},
    }
    np.testing.assert_allclose(report.curve["seen"], [1, 0.5, 0.5, 0, 0])
    rows = report.per_class_rows(["a", "b", "c", "d"])
    assert rows == [
        {"class": "c", "split": "unseen", "zsl_top1": 1.0, "gzsl_top1": 0.0},
        {"class": "d", "split": "unseen", "zsl_top1": 1.0, "gzsl_top1": 1.0},
        {"class": "a", "split": "seen", "zsl_top1": None, "gzsl_top1": 1.0},
        {"class": "b", "split": "seen", "zsl_top1": None, "gzsl_top1": 0.0},
    ]
    assert not any("hit@" in k for k in ev.report(S4, YS4, U4, YU4).metrics)  # no hit_k, no Hit@k
    with pytest.raises(ValueError, match="labels_unseen contain class 0, outside the unseen classes"):
        ev.report(S4, YS4, U4, np.array([0, 3]))


def test_evaluator_is_strict() -> None:
    ev = Evaluator(num_classes=5, seen=SEEN4, unseen=UNSEEN4)
    with pytest.raises(ValueError, match="num_classes=5 columns, got 4"):
        ev.evaluate(S4, YS4, U4, YU4)
    with pytest.raises(ValueError, match="overlap"):
        Evaluator(num_classes=4, seen=[0, 1], unseen=[1, 2])
    with pytest.raises(ValueError, match="outside"):
        Evaluator(num_classes=4, seen=[0, 1], unseen=[2, 4])


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def test_error_nan_and_pos_inf() -> None:
    with pytest.raises(ValueError, match=r"NaN \(first at row 1, column 0\)"):
        topk_hits(np.array([[1.0, 0.0], [np.nan, 0.0]]), [0, 1])
    with pytest.raises(ValueError, match=r"\+inf"):
        topk_hits(np.array([[np.inf, 0.0]]), [0])
    with pytest.raises(ValueError, match=r"scores_unseen contain \+inf"):
        gzsl_accuracy(S4, YS4, np.array([[0, 0, np.inf, 0]]), [2], SEEN4, UNSEEN4)


def test_error_shapes_and_lengths() -> None:
    with pytest.raises(ValueError, match=r"scores must be 2-D \[N, C\], got shape \(5,\)"):
        topk_hits(np.zeros(5), [0])
    with pytest.raises(ValueError, match=r"labels must be 1-D"):
        topk_hits(np.zeros((2, 3)), [[0], [1]])
    with pytest.raises(ValueError, match="labels has 3 entries but the scores have 2 rows"):
        topk_hits(np.zeros((2, 3)), [0, 1, 2])
    with pytest.raises(ValueError, match="labels_seen has 1 entries"):
        gzsl_accuracy(S4, [0], U4, YU4, SEEN4, UNSEEN4)
    with pytest.raises(ValueError, match="same number of class columns"):
        gzsl_accuracy(S4, YS4, U4[:, :3], YU4, SEEN4, UNSEEN4)
    with pytest.raises(ValueError, match="integer class indices"):
        topk_hits(np.zeros((2, 3)), [0.0, 1.0])


def test_error_labels_out_of_range_or_not_candidates() -> None:
    with pytest.raises(ValueError, match=r"labels contain class 7, outside \[0, 3\)"):
        topk_hits(np.zeros((2, 3)), [0, 7])
    with pytest.raises(ValueError, match=r"labels contain class -1"):
        per_class_accuracy(np.zeros((2, 3)), [-1, 0])
    with pytest.raises(ValueError, match="labels contain class 0, outside the candidate classes"):
        topk_hits(np.zeros((2, 3)), [0, 1], candidates=[1, 2])
    with pytest.raises(ValueError, match="outside the unseen classes"):
        zsl_accuracy(U4, [2, 1], UNSEEN4)
    with pytest.raises(ValueError, match="labels_seen contain class 2, outside the seen classes"):
        gzsl_accuracy(S4, [0, 2], U4, YU4, SEEN4, UNSEEN4)


def test_error_class_sets() -> None:
    with pytest.raises(ValueError, match="seen and unseen classes overlap: class 1 is in both"):
        gzsl_accuracy(S4, YS4, U4, YU4, [0, 1], [1, 2, 3])
    with pytest.raises(ValueError, match="candidates must contain at least one class"):
        topk_hits(np.zeros((2, 3)), [0, 1], candidates=[])
    with pytest.raises(ValueError, match="unseen must contain at least one class"):
        zsl_accuracy(U4, YU4, [])
    with pytest.raises(ValueError, match="seen must contain at least one class"):
        ausuc(S4, YS4, U4, YU4, [], UNSEEN4)
    with pytest.raises(ValueError, match="more than once"):
        topk_hits(np.zeros((2, 3)), [0, 1], candidates=[0, 1, 1])


def test_error_other_arguments() -> None:
    with pytest.raises(ValueError, match="k must be a positive integer"):
        topk_hits(np.zeros((2, 3)), [0, 1], k=0)
    with pytest.raises(ValueError, match="ks must contain at least one"):
        hit_at_k(np.zeros((2, 3)), [0, 1], ks=())
    with pytest.raises(ValueError, match="gamma must be a finite number"):
        gzsl_accuracy(*ARGS4, gamma=np.inf)
    with pytest.raises(ValueError, match="no class has any image"):
        per_class_accuracy(np.zeros((0, 3)), np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match="labels_unseen is empty"):
        ausuc(S4, YS4, np.zeros((0, 4)), np.zeros(0, dtype=int), SEEN4, UNSEEN4)
    with pytest.raises(ValueError, match="finite and >= 0"):
        harmonic_mean(-0.1, 0.5)
