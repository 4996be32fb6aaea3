"""xlsa17 / GBU proposed split loader: the real split files, feature files of the real schema
(MATLAB v5 and v7.3), and one clear error per kind of bad input."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from kgzsl.data.dataset import MissingFeaturesError, read_mat, write_mat
from kgzsl.data.xlsa17 import XLSA17
from kgzsl.errors import DataError
from kgzsl.registry import DATASETS

# images per dataset (the largest index of its split file), trainval / test_seen / test_unseen,
# seen / unseen classes: Xian et al., TPAMI 2018, Table 1 (REFERENCE_RESULTS.md)
REAL = {
    "AWA2": (37_322, 23_527, 5_882, 7_913, 40, 10),
    "CUB": (11_788, 7_057, 1_764, 2_967, 150, 50),
    "FLO": (8_189, 5_631, 1_403, 1_155, 82, 20),
}


def _names(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def fake_labels(split_file: Path, n_unseen: int) -> np.ndarray:
    """1-based labels for every image that agree with a real split file.

    The real labels are in ``res101.mat``, which is not shipped: seen-split images get seen
    classes and test_unseen images unseen ones (the real seen / unseen class lists where the
    folder has them), each class in turn; with ``train_loc`` / ``val_loc`` the seen classes are
    divided between them (class-disjoint, as GBU's are).
    """
    m = read_mat(
        split_file,
        ["trainval_loc", "test_seen_loc", "test_unseen_loc"],
        ["allclasses_names", "att", "train_loc", "val_loc"],
    )
    names = m.get("allclasses_names") or [str(i) for i in range(np.asarray(m["att"]).shape[1])]
    index = {name: i for i, name in enumerate(names)}
    folder = split_file.parent
    if (folder / "testclasses.txt").is_file():
        unseen = np.array([index[c] for c in _names(folder / "testclasses.txt")])
    else:
        unseen = np.arange(len(names) - n_unseen, len(names))
    seen = np.setdiff1d(np.arange(len(names)), unseen)
    locs = {k: np.asarray(v).ravel().astype(int) - 1 for k, v in m.items() if k.endswith("_loc")}
    n = max(v.max() for v in locs.values()) + 1
    labels = np.full(n, -1)

    def assign(images: np.ndarray, classes: np.ndarray) -> None:
        labels[images] = classes[np.arange(len(images)) % len(classes)]

    if "train_loc" in locs:
        n_val = len(seen) // 3
        assign(locs["train_loc"], seen[n_val:])
        assign(locs["val_loc"], seen[:n_val])
    else:
        assign(np.concatenate([locs["trainval_loc"], locs["test_seen_loc"]]), seen)
    assign(locs["test_unseen_loc"], unseen)
    assert (labels >= 0).all()
    return labels + 1


def make_folder(
    tmp_path: Path, src: Path, name: str, n_unseen: int, d: int = 4, version: str = "5", seed: int = 0
) -> tuple[Path, np.ndarray, np.ndarray]:
    """``tmp_path/<name>/`` with the real split file (linked) and a ``res101.mat`` of its schema."""
    folder = tmp_path / name
    folder.mkdir(parents=True)
    for f in src.iterdir():
        (folder / f.name).symlink_to(f)
    labels = fake_labels(folder / "att_splits.mat", n_unseen)
    features = np.random.default_rng(seed).random((len(labels), d), dtype=np.float32)
    # res101.mat: features D × N (one column per image), labels N × 1 (1-based, double)
    write_mat(folder / "res101.mat", {"features": features.T, "labels": labels.astype(np.float64)}, version=version)
    return tmp_path, features, labels


@pytest.mark.parametrize("name", ["AWA2", "CUB", "FLO"])
def test_real_split_files_give_the_published_sizes(shared_data, tmp_path, name):
    n, n_tv, n_ts, n_tu, n_seen, n_unseen = REAL[name]
    root, features, labels = make_folder(tmp_path, shared_data / "xlsa17" / name, name, REAL[name][5])
    ds = XLSA17(benchmark=name, root=str(root)).load()
    assert ds.features.shape == (n, 4) and len(ds.labels) == n
    s = ds.splits
    assert (len(s["trainval"]), len(s["test_seen"]), len(s["test_unseen"])) == (n_tv, n_ts, n_tu)
    assert (len(ds.seen), len(ds.unseen)) == (n_seen, n_unseen)
    # D × N in the file, one row per image here, in image order; labels back to 0-based
    np.testing.assert_array_equal(ds.features, features)
    np.testing.assert_array_equal(ds.labels, labels - 1)
    assert len(s["train"]) + len(s["val"]) == n_tv and not np.intersect1d(ds.train_classes, ds.val_classes).size
    att = {"AWA2": 85, "CUB": 312, "FLO": 1024}[name]
    assert ds.semantics["att"].shape == (ds.num_classes, att) and ds.semantics["att"].dtype == np.float32
    if name == "FLO":  # no class names, no original_att in FLO's file
        assert ds.class_ids[:2] == ["FLO_001", "FLO_002"] and set(ds.semantics) == {"att"}
    else:
        assert set(ds.semantics) == {"att", "original_att"}
    if name == "AWA2":
        assert ds.class_ids[:3] == ["antelope", "grizzly+bear", "killer+whale"]
        # the real AWA2 att is att columns L2-normalised; original_att the raw 0..100 scores
        np.testing.assert_allclose(np.linalg.norm(ds.semantics["att"], axis=1), 1.0, atol=1e-5)
        assert ds.semantics["original_att"].max() == 100
    assert ds.source_files[:2] == [root / name / "att_splits.mat", root / name / "res101.mat"]


def test_v2_validation_classes_are_gbus_lists_or_seeded(shared_data, tmp_path):
    root, _, _ = make_folder(tmp_path, shared_data / "xlsa17" / "AWA2", "AWA2", 10)
    folder = shared_data / "xlsa17" / "AWA2"
    for k in (1, 2, 3):
        ds = XLSA17(root=str(root), val_split=k).load()
        assert sorted(ds.class_ids[c] for c in ds.val_classes) == sorted(_names(folder / f"valclasses{k}.txt"))
        assert len(ds.val_classes) == 13 and len(ds.train_classes) == 27
    a = XLSA17(root=str(root), val_split=0, val_seed=1).load()
    b = XLSA17(root=str(root), val_split=0, val_seed=2).load()
    assert len(a.val_classes) == 8  # round(0.2 * 40)
    assert not np.array_equal(a.val_classes, b.val_classes)
    np.testing.assert_array_equal(a.val_classes, XLSA17(root=str(root), val_split=0, val_seed=1).load().val_classes)


def test_v1_reads_train_and_val_loc_without_test_seen_images(shared_data, tmp_path):
    src = shared_data / "xlsa17" / "v1" / "AWA2"
    raw = read_mat(src / "att_splits.mat", ["train_loc", "val_loc", "test_seen_loc"])
    assert (raw["train_loc"].size, raw["val_loc"].size) == (20_218, 9_191)
    root, _, _ = make_folder(tmp_path, src, "AWA2", 10)
    ds = XLSA17(root=str(root), version="v1").load()
    s = ds.splits
    # the v1 lists also hold the test_seen images (4,031 + 1,851 for AWA2): dropped
    assert (len(s["train"]), len(s["val"])) == (16_187, 7_340)
    assert len(s["train"]) + len(s["val"]) == len(s["trainval"]) == 23_527
    assert not np.intersect1d(np.concatenate([s["train"], s["val"]]), s["test_seen"]).size
    assert np.intersect1d(raw["train_loc"].ravel() - 1, s["test_seen"]).size == 4_031
    # the v1 files of AWA2 agree with v2 on everything else
    v2 = XLSA17(root=str(make_folder(tmp_path / "v2", shared_data / "xlsa17" / "AWA2", "AWA2", 10)[0])).load()
    for key in ("trainval", "test_seen", "test_unseen"):
        np.testing.assert_array_equal(s[key], v2.splits[key])


def test_v1_on_a_v2_file_names_the_missing_field(shared_data, tmp_path):
    root, _, _ = make_folder(tmp_path, shared_data / "xlsa17" / "AWA2", "AWA2", 10)
    with pytest.raises(DataError, match=r"att_splits.mat: field 'train_loc' is missing \(fields: "):
        XLSA17(root=str(root), version="v1").load()


def test_matlab_v73_files_load_like_v5(shared_data, tmp_path):
    name, src = "CUB", shared_data / "xlsa17" / "CUB"
    v5_root, features, labels = make_folder(tmp_path / "v5", src, name, 50)
    v5 = XLSA17(benchmark=name, root=str(v5_root)).load()
    # the same data as MATLAB's save -v7.3 writes it, deflated, split file included
    folder = tmp_path / "v73" / name
    folder.mkdir(parents=True)
    for f in src.glob("*.txt"):  # GBU's class lists: the validation classes
        (folder / f.name).symlink_to(f)
    meta = read_mat(
        src / "att_splits.mat",
        ["att", "original_att", "allclasses_names", "trainval_loc", "test_seen_loc", "test_unseen_loc"],
    )
    write_mat(folder / "att_splits.mat", meta, compress=True)
    write_mat(folder / "res101.mat", {"features": features.T, "labels": labels.astype(np.float64)}, compress=True)
    with open(folder / "res101.mat", "rb") as f:
        assert f.read(19) == b"MATLAB 7.3 MAT-file"
    with h5py.File(folder / "res101.mat") as f:  # HDF5 holds MATLAB's arrays transposed
        assert f["features"].shape == (len(labels), 4) and f["labels"].shape == (1, len(labels))
        assert f["features"].attrs["MATLAB_class"] == b"single"
    with h5py.File(folder / "att_splits.mat") as f:
        assert f["allclasses_names"].attrs["MATLAB_class"] == b"cell" and f["allclasses_names"].shape == (1, 200)
        assert f["att"].shape == (200, 312)
    v73 = XLSA17(benchmark=name, root=str(tmp_path / "v73")).load()
    assert v73.class_ids == v5.class_ids and v73.class_ids[0] == "002.Laysan_Albatross"
    np.testing.assert_array_equal(v73.features, v5.features)
    np.testing.assert_array_equal(v73.labels, v5.labels)
    for key in v5.splits:
        np.testing.assert_array_equal(v73.splits[key], v5.splits[key])
    for key in v5.semantics:
        np.testing.assert_array_equal(v73.semantics[key], v5.semantics[key])


def test_semantic_files_add_sentences_and_ontology_embeddings(shared_data, tmp_path):
    root, _, _ = make_folder(tmp_path, shared_data / "xlsa17" / "CUB", "CUB", 50)
    sent = shared_data / "xlsa17" / "CUB_sent" / "sent_splits.mat"
    ds = XLSA17(benchmark="CUB", root=str(root), semantics=["att"], semantic_files={"sent": str(sent)}).load()
    assert set(ds.semantics) == {"att", "sent"} and ds.semantics["sent"].shape == (200, 1024)
    assert sent in ds.source_files
    root, _, _ = make_folder(tmp_path / "awa", shared_data / "xlsa17" / "AWA2", "AWA2", 10)
    o2v = shared_data / "ontozsl" / "AwA2" / "onto_file" / "embeddings" / "o2v-awa.mat"
    ds = XLSA17(root=str(root), semantics=[], semantic_files={"o2v": f"{o2v}#k2v"}).load()
    assert set(ds.semantics) == {"o2v"} and ds.semantics["o2v"].shape == (50, 200)  # stored C × d
    with pytest.raises(DataError, match=r"o2v-awa.mat: field 'att' is missing"):
        XLSA17(root=str(root), semantic_files={"o2v": str(o2v)}).load()


def test_default_root_is_shared_data_and_reports_the_missing_features(shared_data):
    assert DATASETS.build("xlsa17").folder().resolve() == shared_data / "xlsa17" / "AWA2"
    assert XLSA17(version="v1").folder().resolve() == shared_data / "xlsa17" / "v1" / "AWA2"
    with pytest.raises(MissingFeaturesError, match=r"xlsa17/AWA2/res101.mat: no such file"):
        XLSA17().load()


# ---------------------------------------------------------------- bad input, on a tiny dataset

N_CLASSES, PER_CLASS = 6, 10


def tiny(tmp_path: Path, **overrides) -> Path:
    """A 6-class xlsa17 folder: classes 1-4 seen (3 test_seen images each), 5-6 unseen."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(1, N_CLASSES + 1), PER_CLASS).astype(np.float64)
    images = np.arange(1, len(labels) + 1)
    seen_images = images[labels <= 4]
    test_seen = np.concatenate([seen_images[labels[seen_images - 1] == c][:3] for c in range(1, 5)])
    res = {"features": rng.random((3, len(labels)), dtype=np.float32), "labels": labels}
    splits = {
        "att": rng.random((5, N_CLASSES)),
        "allclasses_names": [f"c{i}" for i in range(1, N_CLASSES + 1)],
        "trainval_loc": np.setdiff1d(seen_images, test_seen).astype(np.uint16),
        "test_seen_loc": test_seen.astype(np.uint16),
        "test_unseen_loc": images[labels > 4].astype(np.uint16),
    }
    for key, value in overrides.items():
        target = res if key in ("features", "labels") else splits
        if value is None:
            del target[key]
        else:
            target[key] = value
    folder = tmp_path / "AWA1"
    folder.mkdir(exist_ok=True)
    write_mat(folder / "res101.mat", res, version="5")
    write_mat(folder / "att_splits.mat", splits, version="5")
    return tmp_path


def load_tiny(tmp_path: Path, **params):
    return XLSA17(benchmark="AWA1", root=str(tmp_path), **params).load()


def test_tiny_dataset_loads(tmp_path):
    ds = load_tiny(tiny(tmp_path))
    assert ds.num_classes == 6 and ds.seen.tolist() == [0, 1, 2, 3] and ds.unseen.tolist() == [4, 5]
    assert len(ds.splits["test_seen"]) == 12 and len(ds.splits["trainval"]) == 28


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"labels": np.ones(59)}, r"res101.mat: field 'labels' has 59 entries for 60 images"),
        (
            {"trainval_loc": np.array([0, 1, 2], dtype=np.uint16)},
            r"field 'trainval_loc': index 0 found, but the indices are 1-based",
        ),
        ({"test_unseen_loc": np.array([41, 61])}, r"field 'test_unseen_loc': index 61 is past the last of 60"),
        (
            {"labels": np.repeat(np.arange(0, 6), 10).astype(float)},
            r"res101.mat: field 'labels': index 0 found, but the indices are 1-based",
        ),
        (
            {"labels": np.repeat([1, 2, 3, 4, 5, 5], 10).astype(float)},
            r"res101.mat: field 'labels': class 'c6' \(6\) has no images",
        ),
        ({"test_seen_loc": None}, r"att_splits.mat: field 'test_seen_loc' is missing \(fields: "),
        ({"att": np.ones((5, 4))}, r"att_splits.mat: field 'att' has shape \(5, 4\); expected A × 6"),
        (
            {"test_seen_loc": np.array([1, 2, 4], dtype=np.uint16)},
            r"fields 'trainval_loc' and 'test_seen_loc' share images",
        ),
        (
            {"trainval_loc": np.array([4, 5, 43]), "test_unseen_loc": np.array([41, 42])},
            r"class 'c5' has images in both 'trainval_loc' and 'test_unseen_loc'",
        ),
        ({"trainval_loc": np.array([4, 4, 5])}, r"field 'trainval_loc' lists an image more than once"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path, overrides, message):
    with pytest.raises(DataError, match=message):
        load_tiny(tiny(tmp_path, **overrides))


def test_nan_features_name_the_file_and_image(tmp_path):
    features = np.random.default_rng(0).random((3, 60), dtype=np.float32)
    features[1, 17] = np.inf
    with pytest.raises(DataError, match=r"res101.mat: field 'features': image features contain NaN .* row 17"):
        load_tiny(tiny(tmp_path, features=features))


@pytest.mark.parametrize("key", ["att", "original_att"])
def test_nan_semantics_name_the_file_the_variable_and_the_class(tmp_path, key):
    att = np.random.default_rng(0).random((5, 6))
    att[2, 3] = np.nan  # attribute 3 of class 4 ('c4')
    root = tiny(tmp_path, **{key: att})
    with pytest.raises(DataError) as error:
        load_tiny(root)
    message = str(error.value)
    assert message.startswith(f"{root / 'AWA1' / 'att_splits.mat'}: field {key!r}: NaN or infinite"), message
    assert "class 4 ('c4')" in message


def test_nan_in_a_semantic_file_names_that_file(tmp_path):
    root = tiny(tmp_path)
    sem = np.ones((6, 3))
    sem[5, 0] = np.inf
    write_mat(tmp_path / "o2v.mat", {"k2v": sem}, version="5")
    with pytest.raises(
        DataError, match=r"o2v.mat: field 'k2v': NaN or infinite values for 1 class\(es\), the first class 6"
    ):
        load_tiny(root, semantic_files={"o2v": f"{tmp_path / 'o2v.mat'}#k2v"})


def test_missing_files_and_bad_val_lists(tmp_path):
    with pytest.raises(DataError, match=r"AWA1/att_splits.mat: no such file"):
        load_tiny(tmp_path)
    root = tiny(tmp_path)
    (root / "AWA1" / "res101.mat").unlink()
    with pytest.raises(MissingFeaturesError, match=r"AWA1/res101.mat: no such file"):
        load_tiny(root)
    root = tiny(tmp_path)
    (root / "AWA1" / "valclasses1.txt").write_text("c1\nzebra\n")
    with pytest.raises(DataError, match=r"valclasses1.txt: entry 2: 'zebra' is not in .*allclasses_names"):
        load_tiny(root)
    (root / "AWA1" / "valclasses1.txt").write_text("c1\nc5\n")
    with pytest.raises(DataError, match=r"valclasses1.txt: 'c5' is not a seen class"):
        load_tiny(root)
    (root / "AWA1" / "valclasses1.txt").write_text("c1\nc2\n")
    ds = load_tiny(root)
    assert ds.val_classes.tolist() == [0, 1] and ds.train_classes.tolist() == [2, 3]
    (root / "AWA1" / "att_splits.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(DataError, match=r"att_splits.mat: not a readable MATLAB file"):
        load_tiny(root)


def test_v1_lists_must_be_class_disjoint(tmp_path):
    # class 1's images in both train_loc and val_loc
    root = tiny(tmp_path, train_loc=np.array([4, 5, 14, 15]), val_loc=np.array([6, 24]))
    with pytest.raises(DataError, match=r"'train_loc' and 'val_loc' must be class-disjoint; both have images of 'c1'"):
        load_tiny(root, version="v1")
    root = tiny(tmp_path, train_loc=np.array([4, 5, 6, 14, 15]), val_loc=np.array([24, 25, 34]))
    ds = load_tiny(root, version="v1")
    assert ds.splits["train"].tolist() == [3, 4, 5, 13, 14] and ds.val_classes.tolist() == [2, 3]


def _mapped(array: np.ndarray) -> bool:
    base = array
    while base is not None:
        if isinstance(base, np.memmap):
            return True
        base = getattr(base, "base", None)
    return False


@pytest.mark.parametrize(
    ("version", "compress", "mapped"),
    [("5", False, True), ("5", True, False), ("7.3", False, True), ("7.3", True, False)],
)
def test_uncompressed_features_are_memory_mapped(tmp_path, version, compress, mapped):
    root = tiny(tmp_path)
    x = read_mat(root / "AWA1" / "res101.mat", ["features", "labels"])
    write_mat(root / "AWA1" / "res101.mat", x, version=version, compress=compress)
    ds = load_tiny(root)
    assert _mapped(ds.features) is mapped and ds.features.flags.c_contiguous
    np.testing.assert_array_equal(ds.features, x["features"].T)
    ds.features[0, 0] = -1.0  # copy-on-write: the file keeps its value
    assert read_mat(root / "AWA1" / "res101.mat", ["features"])["features"][0, 0] == x["features"][0, 0]
    assert not _mapped(load_tiny(root, mmap=False).features)
