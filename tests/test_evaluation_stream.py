"""Streamed Hit@k (kgzsl.evaluation.StreamedHitAtK) against the whole-matrix hit_at_k."""

import numpy as np
import pytest
import torch

from kgzsl.errors import DataError
from kgzsl.evaluation import StreamedHitAtK, hit_at_k, streamed_hit_at_k

KS = (1, 2, 5, 10, 20)


def tied_case(n: int = 64, c: int = 32, seed: int = 0):
    """Scores where each row's classes fall in tie groups of 1, 2 or 4 (one group may be -inf).

    Seen = 0..15, unseen = 16..31. Group sizes that are powers of two make every tie-split hit
    a multiple of 1/32, so every float64 sum is exact in any order: streamed must equal
    unstreamed bit for bit. Rows 0-2 tie all classes; row 3 scores nothing (all -inf).
    """
    rng = np.random.default_rng(seed)
    scores = np.empty((n, c))
    for row in scores:
        # groups stay inside the seen or the unseen half, so they keep their size among either candidates
        order, start, level, masked = np.concatenate([rng.permutation(16), 16 + rng.permutation(c - 16)]), 0, 0.0, False
        while start < c:
            size = min(int(rng.choice([1, 2, 4])), (16 if start < 16 else c) - start)
            size = 1 << (size.bit_length() - 1)  # a power of two
            drop = not masked and rng.random() < 0.1  # at most one -inf group per row
            row[order[start : start + size]] = -np.inf if drop else level
            start, level, masked = start + size, level + 1.0, masked or drop
    labels = rng.integers(16, c, size=n)
    scores[:3, :] = 1.0
    scores[3, :] = -np.inf
    return scores, labels, np.arange(16), np.arange(16, c)


def chunks(scores, labels, size):
    for i in range(0, len(labels), size):
        yield scores[i : i + size], labels[i : i + size]


@pytest.mark.parametrize("size", [1, 7, 64])
def test_streamed_equals_unstreamed_exactly(size):
    scores, labels, seen, unseen = tied_case()
    both = np.concatenate([seen, unseen])
    acc = StreamedHitAtK(scores.shape[1], {"zsl": unseen, "gzsl": both}, KS)
    for s, y in chunks(scores, labels, size):
        acc.update(torch.as_tensor(s), torch.as_tensor(y))
    got = acc.result()
    assert 0 < got["zsl/hit@1_micro"] < got["zsl/hit@5_micro"] < 1  # not a degenerate case
    for name, cand in (("zsl", unseen), ("gzsl", both)):
        for average in ("micro", "macro"):
            want = hit_at_k(scores, labels, cand, ks=KS, average=average)
            assert [got[f"{name}/hit@{k}_{average}"] for k in KS] == [want[k] for k in KS]
    assert acc.n == len(labels)


def test_streamed_equals_unstreamed_with_three_way_ties_and_scattered_candidates():
    # candidates that are not a range (index, not slice); 1/3 hits: equal up to summation order
    scores, labels, _, _ = tied_case(n=200, c=40, seed=3)  # 24 unseen: 1/3-type splits too
    cand = np.concatenate([np.arange(0, 40, 2), np.unique(labels)])
    cand = np.unique(cand)
    scores[:, ::3] = 2.0
    acc = streamed_hit_at_k(chunks(scores, labels, 13), lambda x: x, 40, {"x": cand}, KS)
    got = acc.result()
    for average in ("micro", "macro"):
        want = hit_at_k(scores, labels, cand, ks=KS, average=average)
        np.testing.assert_allclose([got[f"x/hit@{k}_{average}"] for k in KS], [want[k] for k in KS], rtol=1e-12)


def test_micro_and_macro_differ_on_unbalanced_classes():
    # class 0: 3 images, all hits; class 1: 1 image, a miss -> micro 3/4, macro 1/2
    scores = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    labels = np.array([0, 0, 0, 1])
    acc = streamed_hit_at_k([(scores, labels)], lambda x: x, 2, {"zsl": [0, 1]}, ks=(1,))
    assert acc.result() == {"zsl/hit@1_micro": 0.75, "zsl/hit@1_macro": 0.5}
    assert acc.per_class("zsl") == {0: 1.0, 1: 0.0}


def test_weights_as_scorer_and_bounded_chunks():
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(50, 8)).astype(np.float32), rng.normal(size=(12, 8)).astype(np.float32)
    y = rng.integers(0, 12, size=50)
    seen_sizes = []

    def scorer(f):
        seen_sizes.append(f.shape[0])
        assert f.shape[0] <= 16  # the scorer never sees more than one chunk
        return f @ torch.as_tensor(w).T

    by_fn = streamed_hit_at_k(chunks(x, y, 16), scorer, 12, {"all": np.arange(12)}).result()
    by_w = streamed_hit_at_k(chunks(x, y, 16), w, 12, {"all": np.arange(12)}).result()
    assert seen_sizes == [16, 16, 16, 2]
    assert by_fn == by_w
    want = hit_at_k(x @ w.T, y, ks=KS)
    np.testing.assert_allclose([by_w[f"all/hit@{k}_micro"] for k in KS], [want[k] for k in KS], rtol=1e-12)


def test_streamed_rejects_bad_input():
    acc = StreamedHitAtK(4, {"zsl": [2, 3]}, ks=(1,))
    with pytest.raises(DataError, match="outside the candidates 'zsl'"):
        acc.update(torch.zeros(2, 4), torch.tensor([2, 0]))
    with pytest.raises(DataError, match="NaN"):
        acc.update(torch.tensor([[0.0, 0.0, float("nan"), 0.0]]), torch.tensor([2]))
    with pytest.raises(DataError, match=r"\[B, 4\]"):
        acc.update(torch.zeros(2, 3), torch.tensor([2, 3]))
    with pytest.raises(DataError, match="no image"):
        acc.result()
    with pytest.raises(DataError, match="average"):
        hit_at_k(np.zeros((1, 2)), [0], average="weighted")


def test_iter_chunks_of_a_mapped_npy(tmp_path):
    from kgzsl.data.arrays import iter_chunks

    rng = np.random.default_rng(2)
    x = rng.normal(size=(23, 5))  # float64 on disk: each chunk is cast to float32
    y = rng.integers(0, 6, size=23)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    parts = list(iter_chunks(tmp_path / "x.npy", tmp_path / "y.npy", chunk_images=10))
    assert [len(p[0]) for p in parts] == [10, 10, 3]
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), x.astype(np.float32))
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), y)
    rows = np.array([3, 4, 5, 20, 1])  # a split, runs and jumps
    ((px, py),) = list(iter_chunks(x, y, chunk_images=8, rows=rows))
    np.testing.assert_array_equal(px, x[rows].astype(np.float32))
    np.testing.assert_array_equal(py, y[rows])
    # streamed Hit@k straight off the file equals the whole matrix's
    w = rng.normal(size=(6, 5)).astype(np.float32)
    got = streamed_hit_at_k(iter_chunks(tmp_path / "x.npy", y, 4), w, 6, {"all": np.arange(6)}, ks=(1, 2)).result()
    want = hit_at_k(x.astype(np.float32) @ w.T, y, ks=(1, 2))
    np.testing.assert_allclose([got["all/hit@1_micro"], got["all/hit@2_micro"]], [want[1], want[2]], rtol=1e-12)
    x[7, 2] = np.nan
    np.save(tmp_path / "bad.npy", x)
    with pytest.raises(DataError, match="bad.npy: rows 0..9"):
        list(iter_chunks(tmp_path / "bad.npy", y, 10))
    with pytest.raises(DataError, match="labels of shape"):
        next(iter_chunks(x, y[:5]))


@pytest.mark.parametrize("ks", [(1,), (1, 2), (3,)])
def test_ties_reaching_past_the_kept_top_k(ks):
    # windows of 1-3 scores against tie groups of up to 4 (and whole tied rows): the rows whose
    # true score ties the last kept score are counted over all candidates, exactly
    scores, labels, seen, unseen = tied_case(n=96, seed=5)
    both = np.concatenate([seen, unseen])
    acc = streamed_hit_at_k(chunks(scores, labels, 10), lambda x: x, 32, {"zsl": unseen, "gzsl": both}, ks)
    got = acc.result()
    for name, cand in (("zsl", unseen), ("gzsl", both)):
        for average in ("micro", "macro"):
            want = hit_at_k(scores, labels, cand, ks=ks, average=average)
            assert [got[f"{name}/hit@{k}_{average}"] for k in ks] == [want[k] for k in ks]
