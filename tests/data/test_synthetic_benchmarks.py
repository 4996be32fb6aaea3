"""``synthetic_benchmark``: synthetic features at the real geometry of AWA2, CUB and FLO."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.io import loadmat

from kgzsl.data.synthetic import SyntheticBenchmark, synthesize_features, synthesize_features_chunked
from kgzsl.errors import ConfigError, DataError
from kgzsl.matlab import write_mat
from kgzsl.registry import DATASETS

# benchmark: (seen classes, unseen classes, trainval, test_seen, test_unseen, attribute dimension)
GEOMETRY = {
    "AWA2": (40, 10, 23_527, 5_882, 7_913, 85),
    "CUB": (150, 50, 7_057, 1_764, 2_967, 312),
    "FLO": (82, 20, 5_631, 1_403, 1_155, 1024),
}


@pytest.fixture
def xlsa17(shared_data):
    return shared_data / "xlsa17"


def _names(path):
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("benchmark", sorted(GEOMETRY))
def test_exact_real_geometry(xlsa17, benchmark):
    n_seen, n_unseen, n_tv, n_ts, n_tu, dim = GEOMETRY[benchmark]
    ds = SyntheticBenchmark(benchmark, root=str(xlsa17), n_features=16).load()
    assert (len(ds.seen), len(ds.unseen)) == (n_seen, n_unseen)
    s = ds.splits
    assert (len(s["trainval"]), len(s["test_seen"]), len(s["test_unseen"])) == (n_tv, n_ts, n_tu)
    n = n_tv + n_ts + n_tu
    assert ds.features.shape == (n, 16) and ds.features.dtype == np.float32 and (ds.features >= 0).all()
    # the three test/train splits partition the images; train / val partition trainval by class
    everything = np.concatenate([s["trainval"], s["test_seen"], s["test_unseen"]])
    assert np.array_equal(np.sort(everything), np.arange(n))
    assert np.array_equal(np.sort(np.concatenate([s["train"], s["val"]])), s["trainval"])
    assert np.intersect1d(ds.train_classes, ds.val_classes).size == 0
    # every seen class has trainval and test_seen images; class sizes are uneven
    sizes = np.bincount(ds.labels, minlength=ds.num_classes)
    assert (np.bincount(ds.labels[s["test_seen"]], minlength=ds.num_classes)[ds.seen] >= 1).all()
    assert (np.bincount(ds.labels[s["trainval"]], minlength=ds.num_classes)[ds.seen] >= 1).all()
    assert sizes[ds.seen].std() > 0.15 * sizes[ds.seen].mean()
    # the real semantics, in the real class order
    mat = loadmat(xlsa17 / benchmark / "att_splits.mat")
    np.testing.assert_allclose(ds.semantics["att"], mat["att"].T.astype(np.float32))
    assert ds.semantics["att"].shape == (n_seen + n_unseen, dim)
    assert ds.synthetic and "synthetic" in ds.name and "synthetic features" in ds.summary()
    assert ds.source_files[0] == xlsa17 / benchmark / "att_splits.mat"


def test_image_fraction_scales_every_split_and_keeps_every_class(xlsa17):
    n_seen, n_unseen, n_tv, n_ts, n_tu, _ = GEOMETRY["AWA2"]
    ds = SyntheticBenchmark("AWA2", root=str(xlsa17), n_features=16, image_fraction=0.1).load()
    s = ds.splits
    assert (len(s["trainval"]), len(s["test_seen"]), len(s["test_unseen"])) == (
        round(0.1 * n_tv),
        round(0.1 * n_ts),
        round(0.1 * n_tu),
    )
    assert (np.bincount(ds.labels[s["test_seen"]], minlength=ds.num_classes)[ds.seen] >= 1).all()
    assert (np.bincount(ds.labels[s["trainval"]], minlength=ds.num_classes)[ds.seen] >= 1).all()
    assert (np.bincount(ds.labels[s["test_unseen"]], minlength=ds.num_classes)[ds.unseen] >= 1).all()
    # a tiny fraction still leaves one image per class and split
    tiny = SyntheticBenchmark("AWA2", root=str(xlsa17), n_features=4, image_fraction=1e-4).load()
    assert (len(tiny.splits["trainval"]), len(tiny.splits["test_unseen"])) == (n_seen, n_unseen)
    for bad in (0, 1.5, -0.1, "half", True):
        with pytest.raises(ConfigError, match=r"image_fraction: expected") as error:
            DATASETS.build("synthetic_benchmark", image_fraction=bad).load()
        assert "\n" not in str(error.value)


@pytest.mark.parametrize("benchmark", ["AWA2", "CUB"])
def test_real_class_names_and_seen_unseen_lists(xlsa17, benchmark):
    ds = SyntheticBenchmark(benchmark, root=str(xlsa17), n_features=4).load()
    mat = loadmat(xlsa17 / benchmark / "att_splits.mat")
    assert ds.class_ids == [str(v[0][0]) for v in mat["allclasses_names"]]
    assert ds.semantics["original_att"].shape == ds.semantics["att"].shape
    seen_names = {ds.class_ids[c] for c in ds.seen}
    assert seen_names == set(_names(xlsa17 / benchmark / "trainvalclasses.txt"))
    assert {ds.class_ids[c] for c in ds.unseen} == set(_names(xlsa17 / benchmark / "testclasses.txt"))
    # val = the benchmark's own first train/val class split
    assert {ds.class_ids[c] for c in ds.val_classes} == set(_names(xlsa17 / benchmark / "valclasses1.txt"))


def test_flo_has_no_names_so_they_follow_att_columns(xlsa17):
    ds = SyntheticBenchmark("FLO", root=str(xlsa17), n_features=4).load()
    assert ds.class_ids[0] == "FLO_001" and ds.class_ids[-1] == "FLO_102"
    assert "original_att" not in ds.semantics
    assert len(ds.val_classes) == round(0.2 * 82)  # no val lists: drawn


def test_val_split_options(xlsa17):
    second = SyntheticBenchmark("AWA2", root=str(xlsa17), n_features=4, val_split=2).load()
    assert {second.class_ids[c] for c in second.val_classes} == set(_names(xlsa17 / "AWA2" / "valclasses2.txt"))
    drawn = SyntheticBenchmark("AWA2", root=str(xlsa17), n_features=4, val_split=0, val_class_fraction=0.25).load()
    assert len(drawn.val_classes) == 10 and np.isin(drawn.val_classes, drawn.seen).all()


def test_seeded(xlsa17):
    a = SyntheticBenchmark("CUB", root=str(xlsa17), n_features=32, seed=3).load()
    b = SyntheticBenchmark("CUB", root=str(xlsa17), n_features=32, seed=3).load()
    np.testing.assert_array_equal(a.features, b.features)
    for key in a.splits:
        np.testing.assert_array_equal(a.splits[key], b.splits[key])
    c = SyntheticBenchmark("CUB", root=str(xlsa17), n_features=32, seed=4).load()
    assert not np.array_equal(np.bincount(a.labels), np.bincount(c.labels))
    assert len(c.splits["test_unseen"]) == len(a.splits["test_unseen"])  # the geometry does not move


def test_awa2_at_full_2048_dimensions(xlsa17):
    start = time.perf_counter()
    ds = SyntheticBenchmark("AWA2", root=str(xlsa17)).load()
    elapsed = time.perf_counter() - start
    assert ds.features.shape == (37_322, 2048) and ds.features.dtype == np.float32
    assert (ds.features >= 0).all() and (ds.features == 0).mean() > 0.05  # sparse, like post-ReLU features
    assert elapsed < 30, f"took {elapsed:.1f} s"


def _ridge_zsl_accuracy(ds, semantics, seen_means, lam=0.01):
    """Ridge map from semantics to the seen classes' trainval means; nearest predicted mean on test_unseen."""
    s = semantics[ds.seen]
    w = np.linalg.solve(s.T @ s + lam * np.eye(s.shape[1]), s.T @ seen_means)
    predicted = semantics[ds.unseen] @ w
    tu = ds.splits["test_unseen"]
    distance = -2 * ds.features[tu] @ predicted.T + (predicted**2).sum(1)[None]
    guess, truth = ds.unseen[np.argmin(distance, axis=1)], ds.labels[tu]
    return np.mean([np.mean(guess[truth == c] == c) for c in ds.unseen])  # per-class accuracy


def test_knowledge_transfers_and_shuffled_semantics_do_not(xlsa17):
    ds = SyntheticBenchmark("AWA2", root=str(xlsa17), n_features=512).load()
    x, y = ds.features[ds.splits["trainval"]], ds.labels[ds.splits["trainval"]]
    seen_means = np.stack([x[y == c].mean(0) for c in ds.seen])
    att = ds.semantics["att"].astype(np.float64)
    chance = 1 / len(ds.unseen)
    assert _ridge_zsl_accuracy(ds, att, seen_means) > 4 * chance
    rng = np.random.default_rng(0)
    shuffled = [_ridge_zsl_accuracy(ds, att[rng.permutation(len(att))], seen_means) for _ in range(5)]
    assert np.mean(shuffled) < 1.6 * chance


def test_chunked_generator_matches_the_plain_one():
    rng = np.random.default_rng(0)
    sem, sizes = rng.random((5, 7)), np.array([30, 1, 17, 40, 9])
    # without noise both give the hidden class means themselves
    plain, y1 = synthesize_features(sem, sizes, n_features=50, spread=0.0, seed=3)
    chunked, y2 = synthesize_features_chunked(sem, sizes, n_features=50, spread=0.0, seed=3)
    np.testing.assert_allclose(plain, chunked, rtol=1e-6)
    np.testing.assert_array_equal(y1, y2)
    # the chunk size does not change the numbers
    a, _ = synthesize_features_chunked(sem, sizes, n_features=50, seed=3, chunk_rows=7)
    b, _ = synthesize_features_chunked(sem, sizes, n_features=50, seed=3)
    np.testing.assert_array_equal(a, b)


def test_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("KGZSL_SHARED_DATA", raising=False)
    with pytest.raises(DataError) as error:
        SyntheticBenchmark().load()
    # one line that says both ways out
    assert "\n" not in str(error.value) and "dataset.root" in str(error.value)
    assert "AWA2/att_splits.mat" in str(error.value) and "KGZSL_SHARED_DATA" in str(error.value)
    with pytest.raises(DataError, match=r"AWA2/att_splits.mat: no such file"):
        SyntheticBenchmark(root=str(tmp_path)).load()
    with pytest.raises(ConfigError, match="benchmark"):
        DATASETS.build("synthetic_benchmark", benchmark="AWA3")


def test_registered_with_shared_data_flag(xlsa17):
    cls = DATASETS.get("synthetic_benchmark")
    assert cls.needs_shared_data
    ds = DATASETS.build("synthetic_benchmark", benchmark="FLO", root=str(xlsa17), n_features=8).load()
    assert ds.num_classes == 102


def _tiny_att_splits(root, att, **extra):
    folder = root / "APY"
    folder.mkdir(parents=True, exist_ok=True)
    values = {
        "allclasses_names": [f"c{i}" for i in range(32)],
        "att": att,
        "trainval_loc": np.arange(1, 101.0),
        "test_seen_loc": np.arange(101, 131.0),
        "test_unseen_loc": np.arange(131, 191.0),
    }
    write_mat(folder / "att_splits.mat", values | extra, version="5")
    return folder / "att_splits.mat"


def test_nan_in_att_is_reported_against_the_file(tmp_path):
    att = np.random.default_rng(0).random((4, 32))
    _tiny_att_splits(tmp_path, att)
    assert SyntheticBenchmark(benchmark="APY", root=str(tmp_path), n_features=4).load().num_classes == 32
    att[1, 7] = np.nan
    path = _tiny_att_splits(tmp_path, att)
    with pytest.raises(DataError) as error:
        SyntheticBenchmark(benchmark="APY", root=str(tmp_path), n_features=4).load()
    assert str(error.value).startswith(f"{path}: field 'att': NaN or infinite values"), str(error.value)
    assert "class 8 ('c7')" in str(error.value)


def test_damaged_att_splits_is_one_line(tmp_path):
    path = _tiny_att_splits(tmp_path, np.ones((4, 32)))
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DataError, match=r"att_splits.mat: truncated MATLAB file"):
        SyntheticBenchmark(benchmark="APY", root=str(tmp_path)).load()
    path.write_text("att,1,2\n")
    with pytest.raises(DataError, match=r"att_splits.mat: not a readable MATLAB file \(it holds text"):
        SyntheticBenchmark(benchmark="APY", root=str(tmp_path)).load()
