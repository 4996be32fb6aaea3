"""The user's own arrays: .npy (memory-mapped), .npz, .pt; class lists; split files; bad input."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from kgzsl.data.arrays import ArrayDataset, load_array
from kgzsl.data.dataset import standard_splits
from kgzsl.errors import DataError
from kgzsl.registry import DATASETS

CLASSES = ["cat", "dog", "fox", "owl", "eel", "yak"]  # cat..owl seen, eel and yak unseen; "ant" in neither


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(6), [8, 9, 10, 7, 6, 5])
    features = rng.random((len(labels), 5), dtype=np.float32)
    np.save(tmp_path / "features.npy", features)
    np.save(tmp_path / "labels.npy", labels)
    (tmp_path / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    (tmp_path / "seen.txt").write_text("cat\ndog\nfox\nowl\n")
    (tmp_path / "unseen.json").write_text(json.dumps(["eel", "yak"]))
    return {
        k: tmp_path / f
        for k, f in [
            ("features", "features.npy"),
            ("labels", "labels.npy"),
            ("classes", "classes.txt"),
            ("seen", "seen.txt"),
            ("unseen", "unseen.json"),
        ]
    }


def mapped(array: np.ndarray) -> bool:
    """Whether the array's memory is a file mapping (numpy's memmap or torch's mapped storage)."""
    import mmap

    base = array
    while base is not None:
        if isinstance(base, (np.memmap, mmap.mmap)):
            return True
        base = getattr(base, "base", None)
    return False


def build(files: dict[str, Path], **params) -> ArrayDataset:
    return ArrayDataset(**{k: str(v) for k, v in files.items()}, **params)


def test_npy_is_memory_mapped_copy_on_write(files):
    ds = build(files).load()
    on_disk = np.load(files["features"])
    assert ds.features.shape == (45, 5) and mapped(ds.features)
    np.testing.assert_array_equal(ds.features, on_disk)
    ds.features[0, 0] = 99.0  # in-place changes stay in memory: the user's file is untouched
    np.testing.assert_array_equal(np.load(files["features"]), on_disk)
    assert not mapped(build(files, mmap=False).load().features)


def test_seeded_splits_and_class_lists(files):
    ds = build(files).load()
    assert ds.class_ids == CLASSES and ds.seen.tolist() == [0, 1, 2, 3] and ds.unseen.tolist() == [4, 5]
    s = ds.splits
    # round(0.2 * size) test images per seen class
    assert len(s["test_seen"]) == 2 + 2 + 2 + 1 and len(s["trainval"]) == 34 - 7 and len(s["test_unseen"]) == 11
    assert len(ds.val_classes) == 1 and len(ds.train_classes) == 3
    again = build(files).load()
    other = build(files, seed=1).load()
    np.testing.assert_array_equal(ds.splits["test_seen"], again.splits["test_seen"])
    assert not np.array_equal(ds.splits["test_seen"], other.splits["test_seen"])
    assert ds.name == "arrays:features.npy" and ds.source_files[0] == files["features"]


def test_classes_in_neither_list_are_left_out(files, tmp_path):
    (tmp_path / "classes.txt").write_text("\n".join(CLASSES + ["ant"]))
    labels = np.concatenate([np.load(files["labels"]), [6, 6]])
    np.save(files["labels"], labels)
    np.save(files["features"], np.random.default_rng(0).random((47, 5), dtype=np.float32))
    ds = build(files).load()
    used = np.concatenate([ds.splits[k] for k in ("trainval", "test_seen", "test_unseen")])
    assert not np.isin([45, 46], used).any() and ds.num_classes == 7


def test_npz_and_pt_containers(files, tmp_path):
    x, y = np.load(files["features"]), np.load(files["labels"])
    base = {k: files[k] for k in ("classes", "seen", "unseen")}
    np.savez(tmp_path / "data.npz", feats=x, y=y)
    a = build({**base, "features": tmp_path / "data.npz"}, features_key="feats", labels_key="y").load()
    np.testing.assert_array_equal(a.features, x)
    torch.save({"features": torch.from_numpy(x), "labels": torch.from_numpy(y)}, tmp_path / "data.pt")
    b = build({**base, "features": tmp_path / "data.pt"}).load()
    np.testing.assert_array_equal(b.features, x)
    assert not b.features.flags.owndata  # torch.load(mmap=True): the tensor's storage is the file's pages
    torch.save(torch.from_numpy(x).double(), tmp_path / "lone.pt")  # float64: cast to float32
    c = build({**base, "features": tmp_path / "lone.pt", "labels": files["labels"]}).load()
    assert c.features.dtype == np.float32 and c.features.flags.owndata
    np.testing.assert_allclose(c.features, x)
    np.testing.assert_array_equal(a.splits["test_seen"], b.splits["test_seen"])


def test_string_labels(files, tmp_path):
    y = np.load(files["labels"])
    (tmp_path / "labels.txt").write_text("\n".join(CLASSES[i] for i in y))
    a = build({**files, "labels": tmp_path / "labels.txt"}).load()
    np.save(tmp_path / "names.npy", np.array([CLASSES[i] for i in y]))
    b = build({**files, "labels": tmp_path / "names.npy"}).load()
    np.testing.assert_array_equal(a.labels, y)
    np.testing.assert_array_equal(b.labels, y)


def test_split_files(files, tmp_path):
    y = np.load(files["labels"])
    seen_images = np.flatnonzero(y < 4)
    splits = {"trainval": seen_images[::2], "test_seen": seen_images[1::2], "test_unseen": np.flatnonzero(y >= 4)}
    np.savez(tmp_path / "splits.npz", **splits)
    ds = build(files, splits=str(tmp_path / "splits.npz")).load()
    for key, idx in splits.items():
        np.testing.assert_array_equal(ds.splits[key], idx)
    assert len(ds.splits["train"]) + len(ds.splits["val"]) == len(splits["trainval"])
    tv = splits["trainval"]
    explicit = {k: v.tolist() for k, v in splits.items()} | {
        "train": tv[y[tv] > 0].tolist(),
        "val": tv[y[tv] == 0].tolist(),
    }
    (tmp_path / "splits.json").write_text(json.dumps(explicit))
    ds = build(files, splits=str(tmp_path / "splits.json")).load()
    assert ds.val_classes.tolist() == [0] and ds.train_classes.tolist() == [1, 2, 3]


def test_semantics(files, tmp_path):
    np.save(tmp_path / "att.npy", np.eye(6))
    np.savez(tmp_path / "emb.npz", w2v=np.ones((6, 3)))
    ds = build(files, semantics={"att": str(tmp_path / "att.npy"), "w2v": f"{tmp_path / 'emb.npz'}#w2v"}).load()
    assert ds.semantics["att"].shape == (6, 6) and ds.semantics["w2v"].shape == (6, 3)
    np.save(tmp_path / "att.npy", np.eye(5))
    with pytest.raises(DataError, match=r"att.npy: semantics 'att' must be a numeric \[6, d\] array, got \(5, 5\)"):
        build(files, semantics={"att": str(tmp_path / "att.npy")}).load()


def test_registry_requires_the_files():
    from kgzsl.errors import ConfigError

    with pytest.raises(ConfigError, match="needs parameter"):
        DATASETS.build("arrays")


# ---------------------------------------------------------------- bad input


def test_mismatched_counts(files):
    np.save(files["labels"], np.load(files["labels"])[:-1])
    with pytest.raises(DataError, match=r"labels.npy: 44 labels for 45 feature rows in .*features.npy"):
        build(files).load()


def test_labels_out_of_range_and_unknown_names(files, tmp_path):
    y = np.load(files["labels"])
    y[3] = 6
    np.save(files["labels"], y)
    with pytest.raises(DataError, match=r"labels.npy: label 6 is outside \[0, 6\) \(labels are 0-based indices"):
        build(files).load()
    (tmp_path / "labels.txt").write_text("cat\n" * 44 + "emu\n")
    with pytest.raises(DataError, match=r"labels.txt: label 44: class 'emu' is not in .*classes.txt"):
        build({**files, "labels": tmp_path / "labels.txt"}).load()


def test_class_lists_naming_unknown_or_empty_classes(files, tmp_path):
    (tmp_path / "seen.txt").write_text("cat\ndog\nfox\nlynx\n")
    with pytest.raises(DataError, match=r"seen.txt: entry 4: 'lynx' is not in .*classes.txt"):
        build(files).load()
    (tmp_path / "seen.txt").write_text("cat\ndog\nfox\n")
    (tmp_path / "unseen.json").write_text('["eel", "owl", "yak"]')
    np.save(files["labels"], np.where(np.load(files["labels"]) == 3, 0, np.load(files["labels"])))
    with pytest.raises(DataError, match=r"labels.npy: unseen class 'owl' \(.*unseen.json\) has no images"):
        build(files).load()
    (tmp_path / "unseen.json").write_text('["eel", "fox"]')
    with pytest.raises(DataError, match=r"unseen.json: 'fox' is also in .*seen.txt"):
        build(files).load()


def test_nan_features(files):
    x = np.load(files["features"])
    x[7, 2] = np.nan
    np.save(files["features"], x)
    with pytest.raises(
        DataError, match=r"features.npy: image features contain NaN or infinite values \(first at row 7\)"
    ):
        build(files).load()


def test_bad_split_files(files, tmp_path):
    y = np.load(files["labels"])
    np.savez(
        tmp_path / "s.npz", trainval=np.flatnonzero(y < 4), test_seen=np.array([45]), test_unseen=np.flatnonzero(y >= 4)
    )
    with pytest.raises(
        DataError, match=r"s.npz: field 'test_seen': index 45 is outside \[0, 45\) \(indices are 0-based\)"
    ):
        build(files, splits=str(tmp_path / "s.npz")).load()
    np.savez(tmp_path / "s.npz", trainval=np.flatnonzero(y < 4), test_unseen=np.flatnonzero(y >= 4))
    with pytest.raises(DataError, match=r"s.npz: field 'test_seen' is missing \(fields: trainval, test_unseen\)"):
        build(files, splits=str(tmp_path / "s.npz")).load()
    # consistent indices, but an unseen-class image in trainval: the split file is named
    np.savez(tmp_path / "s.npz", trainval=np.arange(45), test_seen=np.zeros(0, int), test_unseen=np.zeros(0, int))
    with pytest.raises(DataError, match=r"s.npz: arrays:features.npy: split 'trainval' has images of unseen classes"):
        build(files, splits=str(tmp_path / "s.npz")).load()


def test_unreadable_inputs(files, tmp_path):
    (tmp_path / "features.csv").write_text("1,2\n")
    with pytest.raises(DataError, match=r"features.csv: unsupported suffix '.csv'"):
        load_array(tmp_path / "features.csv")
    np.savez(tmp_path / "d.npz", x=np.ones((45, 5)))
    with pytest.raises(DataError, match=r"d.npz: field 'features' is missing \(fields: x\)"):
        build({**files, "features": tmp_path / "d.npz"}).load()
    with pytest.raises(DataError, match=r"a .npy file holds one array; give 'labels'"):
        build({k: v for k, v in files.items() if k != "labels"}).load()
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(DataError, match=r"empty.txt: no class ids"):
        build({**files, "classes": tmp_path / "empty.txt"}).load()
    (tmp_path / "bad.pt").write_bytes(b"not a torch file")
    with pytest.raises(DataError, match=r"bad.pt: not a readable torch file"):
        build({**files, "features": tmp_path / "bad.pt"}).load()


def test_seeded_splits_keep_one_training_image():
    labels = np.array([0, 1, 1, 2])
    s = standard_splits(labels, np.array([0, 1]), np.array([2]), test_fraction=0.5)
    assert len(s["test_seen"]) == 1 and sorted(s["trainval"].tolist() + s["test_seen"].tolist()) == [0, 1, 2]


def test_damaged_array_files_are_one_line(files, tmp_path):
    whole = files["features"].read_bytes()
    cases = {
        "cut.npy": whole[: len(whole) // 2],
        "header-only.npy": whole[:60],
        "text.npy": b"1,2,3\n4,5,6\n",
        "empty.npy": b"",
    }
    np.savez(tmp_path / "ok.npz", features=np.ones((45, 5)), labels=np.zeros(45, dtype=int))
    archive = (tmp_path / "ok.npz").read_bytes()
    cases |= {"cut.npz": archive[: len(archive) // 2], "text.npz": b"not a zip", "cut.pt": b"PK\x03\x04" + b"\0" * 40}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(DataError) as error:
            build({**files, "features": tmp_path / name}).load()
        text = str(error.value)
        assert text.startswith(f"{tmp_path / name}: not a readable") and "\n" not in text, text
    (tmp_path / "folder.npy").mkdir()
    with pytest.raises(DataError, match=r"folder.npy: is a folder, not a file"):
        build({**files, "features": tmp_path / "folder.npy"}).load()


def test_unreadable_and_non_utf8_class_lists(files, tmp_path, monkeypatch):
    import pathlib

    (tmp_path / "latin1.txt").write_bytes(b"cat\ndog\nfox\nowl\n" + "caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.txt:5: not UTF-8 text \(byte 0xe9\); expected a list of class ids"):
        build({**files, "classes": tmp_path / "latin1.txt"}).load()
    # a byte-order mark (Windows editors) is not part of the first class id
    (tmp_path / "bom.txt").write_bytes("\ufeff".encode() + "\n".join(CLASSES).encode())
    assert build({**files, "classes": tmp_path / "bom.txt"}).load().class_ids == CLASSES

    real_open = pathlib.Path.open

    def open_(self, *args, **kwargs):  # tests may run as root, whom chmod 000 does not stop
        if self.name in ("seen.txt", "features.npy"):
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", open_)
    with pytest.raises(DataError, match=r"seen.txt: permission denied \(cannot read the list of class ids\)"):
        build(files).load()
    with pytest.raises(DataError, match=r"features.npy: permission denied \(cannot read the array file\)"):
        load_array(files["features"])


def test_nan_semantics_are_reported_against_their_file(files, tmp_path):
    att = np.ones((6, 3), dtype=np.float32)
    att[4, 1] = np.nan
    np.save(tmp_path / "att.npy", att)
    with pytest.raises(
        DataError, match=r"att.npy: NaN or infinite values for 1 class\(es\), the first class 5 \('eel'\)"
    ):
        build(files, semantics={"att": str(tmp_path / "att.npy")}).load()
