"""Shared dataset helpers: 1-based indices, class lists, the class-disjoint validation split,
and ZSLDataset's checks (MATLAB files: test_matlab.py)."""

from pathlib import Path

import numpy as np
import pytest

from kgzsl.data.dataset import (
    ZSLDataset,
    check_finite,
    class_disjoint_split,
    from_one_based,
    read_id_list,
)
from kgzsl.errors import DataError
from kgzsl.testing import toy_dataset


def test_from_one_based():
    np.testing.assert_array_equal(from_one_based(np.array([[1], [5]], dtype=np.uint16), 5, "f"), [0, 4])
    with pytest.raises(DataError, match=r"f: index 0 found, but the indices are 1-based"):
        from_one_based([0, 1], 5, "f")
    with pytest.raises(DataError, match=r"f: index 6 is past the last of 5 items"):
        from_one_based([6.0], 5, "f")
    with pytest.raises(DataError, match=r"f: indices must be whole numbers"):
        from_one_based([1.5], 5, "f")


def test_read_id_list(tmp_path: Path):
    (tmp_path / "a.txt").write_text("x\n\n y \n")
    assert read_id_list(tmp_path / "a.txt") == ["x", "y"]
    (tmp_path / "b.json").write_text('["x", 3]')
    assert read_id_list(tmp_path / "b.json") == ["x", "3"]
    (tmp_path / "c.txt").write_text("x\ny\nx\n")
    with pytest.raises(DataError, match=r"c.txt:3: class id 'x' appears more than once"):
        read_id_list(tmp_path / "c.txt")
    (tmp_path / "d.json").write_text('{"x": 1}')
    with pytest.raises(DataError, match=r"d.json: expected a JSON list"):
        read_id_list(tmp_path / "d.json")


def test_class_disjoint_split():
    labels = np.repeat(np.arange(10), 3)
    trainval = np.arange(30)
    train, val = class_disjoint_split(labels, trainval, np.arange(10), 0.3, seed=4)
    assert len(np.unique(labels[val])) == 3 and not np.intersect1d(labels[train], labels[val]).size
    assert sorted(train.tolist() + val.tolist()) == list(range(30))
    # the draw does not depend on the order the seen classes are given in
    again = class_disjoint_split(labels, trainval[::-1], np.arange(10)[::-1], 0.3, seed=4)
    np.testing.assert_array_equal(val, again[1])
    _, v = class_disjoint_split(labels, trainval, np.arange(10), val_classes=np.array([2]))
    assert v.tolist() == [6, 7, 8]
    assert len(np.unique(labels[class_disjoint_split(labels, trainval, np.arange(2), 0.9)[1]])) == 1
    with pytest.raises(DataError, match="at least 2 seen classes"):
        class_disjoint_split(labels, trainval, np.arange(1))


def test_check_finite_is_blockwise(monkeypatch):
    import kgzsl.data.dataset as D

    monkeypatch.setattr(D, "_FINITE_CHUNK_ELEMENTS", 8)
    x = np.zeros((10, 4), dtype=np.float32)
    check_finite(x, "w")
    x[7, 1] = -np.inf
    with pytest.raises(DataError, match=r"w: features contain NaN or infinite values \(first at row 7\)"):
        check_finite(x, "w")


def _kwargs(ds, **changes):
    kwargs = dict(
        name="bad",
        features=ds.features,
        labels=ds.labels,
        class_ids=ds.class_ids,
        seen=ds.seen,
        unseen=ds.unseen,
        splits=dict(ds.splits),
    )
    if "splits" in changes:
        changes["splits"] = {**ds.splits, **changes["splits"]}
    return {**kwargs, **changes}


def test_validation_additions():
    ds = toy_dataset()
    s = ds.splits
    with pytest.raises(DataError, match=r"splits 'trainval' and 'test_seen' share images"):
        ZSLDataset(**_kwargs(ds, splits={"test_seen": np.concatenate([s["test_seen"], s["trainval"][:1]])}))
    with pytest.raises(DataError, match=r"split 'test_seen' has images of unseen classes"):
        ZSLDataset(**_kwargs(ds, splits={"test_seen": np.concatenate([s["test_seen"], s["test_unseen"][:1]])}))
    with pytest.raises(DataError, match=r"split 'val' has images outside 'trainval'"):
        ZSLDataset(**_kwargs(ds, splits={"val": np.concatenate([s["val"], s["test_seen"][:1]])}))
    with pytest.raises(DataError, match=r"split 'trainval' lists an image more than once"):
        ZSLDataset(**_kwargs(ds, splits={"trainval": np.concatenate([s["trainval"], s["trainval"][:1]])}))
    first = s["trainval"][ds.labels[s["trainval"]] == 0]
    with pytest.raises(DataError, match=r"seen class 'cat' has no images in split 'trainval'"):
        ZSLDataset(
            **_kwargs(
                ds,
                splits={
                    "trainval": np.setdiff1d(s["trainval"], first),
                    "train": np.setdiff1d(s["train"], first),
                    "val": np.setdiff1d(s["val"], first),
                },
            )
        )
    with pytest.raises(DataError, match=r"class id 'cat' appears more than once"):
        ZSLDataset(**_kwargs(ds, class_ids=["cat"] + ds.class_ids[1:-1] + ["cat"]))
    with pytest.raises(DataError, match=r"semantics 'a' has shape \(11,\), expected \[11, d\]"):
        ZSLDataset(**_kwargs(ds), semantics={"a": np.ones(11)})
    with pytest.raises(DataError, match=r"semantics 'a' contain NaN"):
        ZSLDataset(**_kwargs(ds), semantics={"a": np.full((11, 2), np.nan)})
