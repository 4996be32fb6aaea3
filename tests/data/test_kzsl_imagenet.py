"""K-ZSL ImageNet subsets: the real split.mat and ImNet-A lists, per-class feature files of the
real schema, and one clear error per kind of bad input."""

from pathlib import Path

import numpy as np
import pytest

from kgzsl.data.dataset import MissingFeaturesError, write_mat
from kgzsl.data.kzsl_imagenet import FEATURE_FOLDERS, KZSLImageNet, read_imagenet_split
from kgzsl.errors import DataError


@pytest.fixture(scope="module")
def real_split():
    import os

    value = os.environ.get("KGZSL_SHARED_DATA")
    path = Path(value or "") / "imagenet" / "split.mat"
    if not value or not path.is_file():
        pytest.skip("shared benchmark data not found")  # the shared_data fixture fails or skips first
    return read_imagenet_split(path)


def test_real_split_mat(shared_data, real_split):
    s = real_split
    assert len(s.wnids) == len(set(s.wnids)) == len(s.words) == 21_842
    assert s.wnids[0] == "n02119789" and s.words[0] == "kit fox, Vulpes macrotis"
    # the 1K ILSVRC classes come first; 2-hops and 3-hops follow (GCNZ's order)
    assert s.seen.tolist() == list(range(1000))
    assert (len(s.hops2), len(s.hops3), len(s.rest), len(s.no_w2v)) == (1_509, 6_169, 12_667, 497)
    assert len(s.seen) + len(s.hops2) + len(s.hops3) + len(s.rest) + len(s.no_w2v) == 21_842
    # DGP's 2-hops test set has 1,549 classes: split.mat leaves out the 40 without a word vector
    assert len(s.hops2) + np.sum((s.no_w2v >= 1000) & (s.no_w2v < 2549)) == 1_549
    assert s.hops2.min() == 1000 and s.hops2.max() == 2548


def test_real_imnet_a_lists(shared_data, real_split):
    index = real_split.index()
    lists = shared_data / "kzsl" / "splits" / "ImNet_A"
    seen, unseen = ((lists / f).read_text().split() for f in ("seen.txt", "unseen.txt"))
    assert (len(seen), len(unseen)) == (28, 52)
    assert all(index[w] < 1000 for w in seen)  # ILSVRC 2012 classes
    assert all(index[w] in set(real_split.hops2.tolist()) for w in unseen)  # all within 2 hops


def write_features(root: Path, index: dict[str, int], sizes: dict[str, dict[str, int]], d: int = 2, version: str = "5"):
    """One ``<k>.mat`` per class and folder, ``features`` n × d (row = image); returns what was written."""
    rng = np.random.default_rng(0)
    written = {}
    for split, folder in FEATURE_FOLDERS.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for wnid, n in sizes[split].items():
            x = rng.random((n, d))
            write_mat(root / folder / f"{index[wnid] + 1}.mat", {"features": x}, version=version)
            written[split, wnid] = x
    return written


def test_imnet_a_end_to_end_at_the_real_sizes(shared_data, real_split, tmp_path):
    lists = shared_data / "kzsl" / "splits" / "ImNet_A"
    seen, unseen = ((lists / f).read_text().split() for f in ("seen.txt", "unseen.txt"))
    # K-ZSL's ImNet-A: 1,300 training and 50 test images per seen class; 39,523 unseen images
    unseen_sizes = np.full(52, 39_523 // 52)
    unseen_sizes[: 39_523 % 52] += 1
    sizes = {
        "trainval": dict.fromkeys(seen, 1300),
        "test_seen": dict.fromkeys(seen, 50),
        "test_unseen": dict(zip(unseen, unseen_sizes.tolist())),
    }
    written = write_features(tmp_path, real_split.index(), sizes)
    ds = KZSLImageNet(root=str(tmp_path)).load()
    s = ds.splits
    assert (len(s["trainval"]), len(s["test_seen"]), len(s["test_unseen"])) == (36_400, 1_400, 39_523)
    assert len(ds.features) == 77_323 and ds.features.shape[1] == 2 and ds.features.dtype == np.float32
    assert ds.class_ids == seen + unseen and len(ds.seen) == 28 and len(ds.unseen) == 52
    # every class's rows are its file's rows, in the split its folder stands for
    for (split, wnid), x in [next(iter(written.items())), list(written.items())[-1]]:
        label = ds.class_ids.index(wnid)
        rows = s[split][ds.labels[s[split]] == label]
        np.testing.assert_allclose(ds.features[rows], x.astype(np.float32))
    assert len(s["train"]) + len(s["val"]) == 36_400 and len(ds.val_classes) == 6  # round(0.2 * 28)
    capped = KZSLImageNet(root=str(tmp_path), max_test_images_per_class=10).load()
    assert (len(capped.splits["test_seen"]), len(capped.splits["test_unseen"])) == (280, 520)
    assert len(capped.splits["trainval"]) == 36_400


def test_default_paths_are_shared_data(shared_data):
    with pytest.raises(MissingFeaturesError, match=r"imagenet/Res101_Features: no such folder"):
        KZSLImageNet().load()
    with pytest.raises(DataError, match=r"kzsl/splits/ImNet_O/seen.txt: no such file"):
        KZSLImageNet(benchmark="ImNet_O").load()


# ---------------------------------------------------------------- a tiny split.mat

WNIDS = [f"n{i:08d}" for i in range(1, 9)]  # 1-4 "ILSVRC 2012" (seen), 5-8 the rest


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    split = {
        "allwnids": WNIDS,
        "allwords": [f"class {i}" for i in range(1, 9)],
        "seen": np.array([1, 2, 3, 4], dtype=np.int16),
        "hops2": np.array([5, 6], dtype=np.int16),
        "hops3": np.array([7], dtype=np.int16),
        "rest": np.array([8], dtype=np.int16),
        "no_w2v_index": np.zeros(0, dtype=np.int16),
    }
    write_mat(tmp_path / "split.mat", split, version="5")
    (tmp_path / "seen.txt").write_text("n00000003\nn00000001\n")
    (tmp_path / "unseen.txt").write_text("n00000006\nn00000008\n")
    index = {w: i for i, w in enumerate(WNIDS)}
    sizes = {
        "trainval": {"n00000003": 5, "n00000001": 4},
        "test_seen": {"n00000003": 2, "n00000001": 2},
        "test_unseen": {"n00000006": 3, "n00000008": 1},
    }
    write_features(tmp_path / "features", index, sizes, d=3)
    return tmp_path


def load(root: Path, **params):
    paths = {"root": root / "features", "split_file": root / "split.mat"}
    paths |= {"seen_file": root / "seen.txt", "unseen_file": root / "unseen.txt"}
    return KZSLImageNet(**{k: str(v) for k, v in paths.items()}, **params).load()


def test_tiny_loads_files_named_by_1_based_index(tiny):
    ds = load(tiny)
    assert ds.class_ids == ["n00000003", "n00000001", "n00000006", "n00000008"]
    assert np.bincount(ds.labels).tolist() == [7, 6, 3, 1]
    assert (len(ds.splits["trainval"]), len(ds.splits["test_seen"]), len(ds.splits["test_unseen"])) == (9, 4, 4)
    # n00000003 is the 3rd wnid: its training features are ILSVRC2012_train/3.mat
    from kgzsl.data.dataset import read_mat

    x = read_mat(tiny / "features" / "ILSVRC2012_train" / "3.mat", ["features"])["features"]
    np.testing.assert_allclose(ds.features[ds.splits["trainval"][:5]], x.astype(np.float32))


def test_matlab_v73_class_files(tiny):
    v5 = load(tiny)
    for path in (tiny / "features").rglob("*.mat"):
        from kgzsl.data.dataset import read_mat

        x = read_mat(path, ["features"])["features"]
        write_mat(path, {"features": x.astype(np.float32)}, version="7.3", compress=True)
    v73 = load(tiny)
    np.testing.assert_array_equal(v73.features, v5.features)
    np.testing.assert_array_equal(v73.labels, v5.labels)


def test_bad_lists(tiny):
    (tiny / "seen.txt").write_text("n00000003\nn99999999\n")
    with pytest.raises(DataError, match=r"seen.txt: entry 2: 'n99999999' is not in .*split.mat field 'allwnids'"):
        load(tiny)
    (tiny / "seen.txt").write_text("n00000003\nn00000005\n")
    with pytest.raises(DataError, match=r"seen.txt: 'n00000005' is not one of the 1,000 ILSVRC 2012 classes"):
        load(tiny)
    (tiny / "seen.txt").write_text("n00000003\nn00000001\n")
    (tiny / "unseen.txt").write_text("n00000006\nn00000002\n")
    with pytest.raises(DataError, match=r"unseen.txt: 'n00000002' is one of the 1,000 ILSVRC 2012 classes"):
        load(tiny)
    (tiny / "unseen.txt").write_text("n00000006\nn00000003\n")
    with pytest.raises(DataError, match=r"unseen.txt: 'n00000003' is also in .*seen.txt"):
        load(tiny)
    (tiny / "unseen.txt").write_text("n00000006\nn00000006\n")
    with pytest.raises(DataError, match=r"unseen.txt:2: wnid 'n00000006' appears more than once"):
        load(tiny)


def test_bad_feature_files(tiny):
    train = tiny / "features" / "ILSVRC2012_train"
    write_mat(train / "1.mat", {"features": np.zeros((0, 3))}, version="5")
    with pytest.raises(DataError, match=r"ILSVRC2012_train/1.mat: field 'features': class 'n00000001' has no images"):
        load(tiny)
    write_mat(train / "1.mat", {"features": np.array([[1.0, np.nan, 0.0]])}, version="5")
    with pytest.raises(DataError, match=r"ILSVRC2012_train/1.mat: field 'features': image features contain NaN"):
        load(tiny)
    write_mat(train / "1.mat", {"feats": np.ones((2, 3))}, version="5")
    with pytest.raises(DataError, match=r"ILSVRC2012_train/1.mat: field 'features' is missing \(fields: feats\)"):
        load(tiny)
    write_mat(train / "1.mat", {"features": np.ones((2, 4))}, version="5")
    with pytest.raises(DataError, match=r"field 'features' has \{3, 4\} columns|field 'features' has \{4, 3\} columns"):
        load(tiny)
    (train / "1.mat").unlink()
    with pytest.raises(
        MissingFeaturesError, match=r"ILSVRC2012_train/1.mat: no such file \(features of class 'n00000001'\)"
    ):
        load(tiny)
    write_mat(train / "1.mat", {"features": np.ones((2, 3))}, version="5")
    assert len(load(tiny, feature_key="features").features) == 15


def test_bad_split_mat(tiny):
    empty = np.zeros(0)
    base = {"allwnids": WNIDS, "allwords": WNIDS, "seen": np.array([1, 2, 3]), "hops2": np.array([6])}
    base |= {"hops3": empty, "rest": empty, "no_w2v_index": empty}
    cases = [
        ({"seen": np.array([0, 1])}, r"split.mat: field 'seen': index 0 found, but the indices are 1-based"),
        ({"hops2": np.array([3, 9])}, r"split.mat: field 'hops2': index 9 is past the last of 8 items"),
        ({"hops2": np.array([3, 6])}, r"split.mat: fields 'seen' and 'hops2' share classes"),
        ({"no_w2v_index": None}, r"split.mat: field 'no_w2v_index' is missing \(fields: allwnids, "),
        ({"allwnids": WNIDS[:7] + WNIDS[:1]}, r"split.mat: field 'allwnids' lists 'n00000001' more than once"),
        ({"allwords": WNIDS[:3]}, r"split.mat: field 'allwords' must be a cell array as long as 'allwnids' \(8\)"),
    ]
    for change, message in cases:
        split = {k: v for k, v in (base | change).items() if v is not None}
        write_mat(tiny / "split.mat", split, version="5")
        with pytest.raises(DataError, match=message):
            load(tiny)
    write_mat(tiny / "split.mat", base, version="5")
    assert load(tiny).num_classes == 4


def test_imagenet21k_protocol_on_files_of_the_real_schema(shared_data: Path, tmp_path: Path):
    """1K seen classes and split.mat's 2-hops set, one small feature file per class."""
    import scipy.io

    split = read_imagenet_split(shared_data / "imagenet" / "split.mat")
    rng = np.random.default_rng(0)
    for folder, classes in (
        ("ILSVRC2012_train", split.seen),
        ("ILSVRC2012_val", split.seen),
        ("ILSVRC2011", split.hops2),
    ):
        (tmp_path / folder).mkdir()
        for i in classes:
            scipy.io.savemat(str(tmp_path / folder / f"{i + 1}.mat"), {"features": rng.random((2, 3))})
    ds = KZSLImageNet(benchmark="ImageNet21K", test_set="2-hops", root=str(tmp_path), stream_test=False).load()
    assert len(ds.seen) == 1000 and len(ds.unseen) == len(split.hops2) == 1509
    assert len(ds.splits["trainval"]) == 2000 and len(ds.splits["test_unseen"]) == 2 * 1509
    # by default the ImageNet-21K test sets are not held but streamed by the run
    lean = KZSLImageNet(benchmark="ImageNet21K", test_set="2-hops", root=str(tmp_path)).load()
    assert lean.streamed_test and len(lean.splits["test_unseen"]) == len(lean.splits["test_seen"]) == 0
    assert len(lean.features) == 2000 and lean.class_ids == ds.class_ids
    assert ds.name == "kzsl_imagenet:ImageNet21K:2-hops"
    assert ds.class_ids[:3] == [split.wnids[i] for i in split.seen[:3]]
    # the bigger test sets need files for their classes: a clear error names the first missing one
    with pytest.raises(DataError, match=r"no such file \(features of class"):
        KZSLImageNet(benchmark="ImageNet21K", test_set="3-hops", root=str(tmp_path)).load()


# ---------------------------------------------------------------- streamed test images


@pytest.mark.parametrize("chunk", [1, 3, 4, 100])
def test_iter_test_yields_every_test_image_in_chunks(tiny, chunk):
    ds = load(tiny)
    params = {"root": tiny / "features", "split_file": tiny / "split.mat"}
    params |= {"seen_file": tiny / "seen.txt", "unseen_file": tiny / "unseen.txt"}
    source = KZSLImageNet(**{k: str(v) for k, v in params.items()})
    for split in ("test_unseen", "test_seen"):
        parts = list(source.iter_test(split, chunk_images=chunk))
        assert all(len(x) == chunk for x, _ in parts[:-1]) and 0 < len(parts[-1][0]) <= chunk
        x = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts])
        # the same rows and labels, in the same order, as the loaded dataset's split
        np.testing.assert_array_equal(x, ds.features[ds.splits[split]])
        np.testing.assert_array_equal(y, ds.labels[ds.splits[split]])
        assert x.dtype == np.float32 and y.dtype == np.int64
    assert source.classes()[0] == ds.class_ids
    # the dataset's cap limits what load() holds, not the stream; the stream has its own
    lean = KZSLImageNet(**{k: str(v) for k, v in params.items()}, max_test_images_per_class=1)
    assert len(lean.load().splits["test_unseen"]) == 2
    assert sum(len(y) for _, y in lean.iter_test()) == 4
    capped = list(lean.iter_test(max_images_per_class=2))
    assert np.bincount(np.concatenate([y for _, y in capped])).tolist() == [0, 0, 2, 1]
    with pytest.raises(DataError, match="chunk_images must be a positive integer"):
        next(source.iter_test(chunk_images=0))
    with pytest.raises(DataError, match="iter_test split"):
        next(source.iter_test("trainval"))


def test_streamed_hit_at_k_over_class_files_of_the_real_schema(shared_data: Path, tmp_path: Path):
    """ImageNet-21K 2-hops on per-class files (3 images each): streamed Hit@k = Hit@k of the loaded matrix."""
    import scipy.io
    import torch

    from kgzsl.evaluation import evaluate_streamed, hit_at_k

    split = read_imagenet_split(shared_data / "imagenet" / "split.mat")
    rng = np.random.default_rng(0)
    for folder, classes in (("ILSVRC2012_train", split.seen[:2]), ("ILSVRC2011", split.hops2)):
        (tmp_path / folder).mkdir()
        for i in classes:
            scipy.io.savemat(str(tmp_path / folder / f"{i + 1}.mat"), {"features": rng.random((3, 4))})
    source = KZSLImageNet(benchmark="ImageNet21K", root=str(tmp_path))
    class_ids, seen, unseen = source.classes()
    assert (len(class_ids), len(seen), len(unseen)) == (2509, 1000, 1509)
    w = torch.as_tensor(rng.normal(size=(len(class_ids), 4)), dtype=torch.float32)

    class Method:  # a linear scorer over every class, as a fitted method's decision_function
        def decision_function(self, x):
            assert len(x) <= 500  # one chunk at a time
            return x @ w.T

    got = evaluate_streamed(Method(), source, hit_k=(1, 5), chunk_images=500)
    assert got["zsl/n_images"] == 3 * 1509
    x = np.concatenate([b for b, _ in source.iter_test(chunk_images=10_000)])
    y = np.concatenate([lab for _, lab in source.iter_test(chunk_images=10_000)])
    scores = (torch.as_tensor(x) @ w.T).numpy()
    for name, cand in (("zsl", unseen), ("gzsl", np.arange(len(class_ids)))):
        for average in ("micro", "macro"):
            want = hit_at_k(scores, y, cand, ks=(1, 5), average=average)
            np.testing.assert_allclose(
                [got[f"{name}/hit@{k}_{average}"] for k in (1, 5)], list(want.values()), rtol=1e-12
            )


def test_a_run_scores_every_test_image_streamed(tiny, tmp_path):
    """A run on kzsl_imagenet adds Hit@k over every streamed test image to the capped split's metrics."""
    from kgzsl.pipeline import evaluate_run, run_experiment

    ids = ["n00000003", "n00000001", "n00000006", "n00000008"]
    np.savez(tmp_path / "sem.npz", matrix=np.eye(4, 5), ids=np.array(ids))
    paths = {"root": tiny / "features", "split_file": tiny / "split.mat"}
    paths |= {"seen_file": tiny / "seen.txt", "unseen_file": tiny / "unseen.txt"}
    dataset = {"name": "kzsl_imagenet", **{k: str(v) for k, v in paths.items()}, "max_test_images_per_class": 1}
    cfg = {
        "dataset": {**dataset, "val_class_fraction": 0.5},
        "semantics": {"name": "precomputed", "path": str(tmp_path / "sem.npz"), "key": "matrix", "ids": "ids"},
        "method": {"name": "eszsl"},
        "train": {"device": "cpu"},
        "eval": {"hit_k": [1, 2], "calibrate": False},
        "select": {},
    }
    run = run_experiment(cfg, stem="stream", out=tmp_path / "runs", progress=False)
    m = run.metrics
    assert m["zsl/n_images_streamed"] == 4.0  # all of test_unseen (3 + 1), not the capped 2
    for key in ("zsl/hit@1_micro", "zsl/hit@1_macro", "gzsl/hit@2_micro", "gzsl/hit@2_macro", "zsl/hit@1"):
        assert 0.0 <= m[key] <= 1.0
    assert m["zsl/hit@2_micro"] == m["zsl/hit@2_macro"] == 1.0  # 2 unseen candidates: top-2 always hits
    # kgzsl evaluate RUN_DIR streams the same images through the saved model
    again = evaluate_run(run.run_dir, progress=False).metrics
    assert {k: again[k] for k in m if "_micro" in k or "_macro" in k} == {
        k: m[k] for k in m if "_micro" in k or "_macro" in k
    }


def test_a_streamed_only_run_reports_what_a_loaded_run_does(tiny, tmp_path):
    """stream_test: no test image held; ZSL top-1, GZSL S / U / H (and with calibrated stacking)
    and Hit@k over every test image equal the run that loads the test splits."""
    from kgzsl.pipeline import evaluate_run, run_experiment

    ids = ["n00000003", "n00000001", "n00000006", "n00000008"]
    np.savez(tmp_path / "sem.npz", matrix=np.random.default_rng(0).normal(size=(4, 5)), ids=np.array(ids))
    paths = {"root": tiny / "features", "split_file": tiny / "split.mat"}
    paths |= {"seen_file": tiny / "seen.txt", "unseen_file": tiny / "unseen.txt"}
    dataset = {"name": "kzsl_imagenet", **{k: str(v) for k, v in paths.items()}, "val_class_fraction": 0.5}
    cfg = {
        "semantics": {"name": "precomputed", "path": str(tmp_path / "sem.npz"), "key": "matrix", "ids": "ids"},
        "method": {"name": "eszsl"},
        "train": {"device": "cpu"},
        "eval": {"hit_k": [1, 2], "calibrate": True},
        "select": {},
    }
    held = run_experiment({**cfg, "dataset": dataset}, stem="held", out=tmp_path / "runs", progress=False).metrics
    run = run_experiment(
        {**cfg, "dataset": {**dataset, "stream_test": True}}, stem="streamed", out=tmp_path / "runs", progress=False
    )
    streamed = run.metrics
    keys = ["zsl/top1", "gzsl/seen", "gzsl/unseen", "gzsl/h", "gzsl_cs/seen", "gzsl_cs/unseen", "gzsl_cs/h"]
    keys += [f"{p}/hit@{k}_{a}" for p in ("zsl", "gzsl") for k in (1, 2) for a in ("micro", "macro")]
    assert {k: streamed[k] for k in keys} == pytest.approx({k: held[k] for k in keys}, abs=1e-12)
    assert streamed["zsl/n_images_streamed"] == 4 and streamed["gzsl/n_seen_images_streamed"] == 4
    assert "gzsl/ausuc" not in streamed  # no score matrix, no curve
    assert (run.run_dir / "plot.png").is_file() and (run.run_dir / "per_class.csv").is_file()
    again = evaluate_run(run.run_dir, progress=False).metrics
    assert {k: again[k] for k in keys} == {k: streamed[k] for k in keys}
