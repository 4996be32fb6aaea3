"""The ``image_folder`` dataset end to end on a folder of real photos, with a tiny real backbone."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kgzsl.data.dataset import ZSLDataset
from kgzsl.data.features import TINY_OPEN_CLIP, Backbone
from kgzsl.data.folder import read_class_list
from kgzsl.errors import DataError
from kgzsl.registry import DATASETS

pytestmark = pytest.mark.filterwarnings("ignore:.*RANDOMLY INITIALISED:UserWarning")

#: class → photo numbers; links, not copies, of the shared photos
LAYOUT = {"cat": (1, 2, 3), "dog": (3, 1, 2), "wolf": (2, 3), "zebra": (1, 2)}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models spend their time synchronising threads, not computing: one is faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def image_root(shared_data: Path, tmp_path: Path) -> Path:
    photos = shared_data / "images" / "awa2"
    if not all((photos / f"{i}.jpg").is_file() for i in (1, 2, 3)):
        pytest.skip("the AwA2 sample photos are not in the shared data")
    root = tmp_path / "animals"
    for cls, numbers in LAYOUT.items():
        (root / cls).mkdir(parents=True)
        for k, i in enumerate(numbers):
            (root / cls / f"{cls}_{k}.jpg").symlink_to(photos / f"{i}.jpg")
    (root / "unseen.txt").write_text("# held out\nzebra\n\n")
    return root


def _params(root: Path, **extra) -> dict:
    return {"root": str(root), "backbone": f"open_clip:{TINY_OPEN_CLIP}", "progress": False, **extra}


def test_image_folder_end_to_end(image_root, monkeypatch):
    ds = DATASETS.build("image_folder", **_params(image_root, seen=["dog", "cat", "wolf"], unseen="unseen.txt")).load()
    assert isinstance(ds, ZSLDataset)
    assert ds.class_ids == ["cat", "dog", "wolf", "zebra"]
    assert ds.seen.tolist() == [0, 1, 2] and ds.unseen.tolist() == [3]
    assert ds.features.shape == (10, 32) and np.isfinite(ds.features).all()
    assert np.bincount(ds.labels).tolist() == [3, 3, 2, 2]
    assert np.flatnonzero(ds.labels == 3).tolist() == ds.splits["test_unseen"].tolist()
    assert "RANDOM-INIT" in ds.name
    cache = image_root / ".kgzsl-features" / "open_clip-kgzsl-tiny-vit-random-init"
    assert (cache / "manifest.json").is_file() and ds.source_files[0] == cache / "manifest.json"
    # the same photo in two classes gives the same features (cat_0 and dog_1 are both 1.jpg)
    np.testing.assert_array_equal(ds.features[0], ds.features[4])

    # the second load reads the cache: no forward pass, same numbers and splits
    calls = []
    original = Backbone.encode
    monkeypatch.setattr(Backbone, "encode", lambda self, x: calls.append(1) or original(self, x))
    again = DATASETS.build("image_folder", **_params(image_root, seen=["dog", "cat", "wolf"], unseen="unseen.txt"))
    again = again.load()
    assert calls == []
    np.testing.assert_array_equal(again.features, ds.features)
    for key, idx in ds.splits.items():
        np.testing.assert_array_equal(again.splits[key], idx)

    # another split of the same folder reuses the cache too; unlisted classes are left out
    other = DATASETS.build("image_folder", **_params(image_root, seen=["cat", "dog"], unseen=["zebra"])).load()
    assert calls == [] and other.class_ids == ["cat", "dog", "zebra"] and len(other.features) == 8

    # an added image makes the cache stale: it is extracted again
    (image_root / "zebra" / "zebra_2.jpg").symlink_to(image_root / "cat" / "cat_0.jpg")
    grown = DATASETS.build("image_folder", **_params(image_root, unseen=["zebra"])).load()
    assert calls and len(grown.features) == 11 and grown.class_ids == ["cat", "dog", "wolf", "zebra"]


def test_one_list_implies_the_other(image_root):
    ds = DATASETS.build("image_folder", **_params(image_root, unseen=["wolf", "zebra"], cache=None)).load()
    assert ds.class_ids == ["cat", "dog", "wolf", "zebra"] and ds.unseen.tolist() == [2, 3]


def test_mistakes_are_one_clear_data_error(image_root, tmp_path):
    def load(**extra):
        return DATASETS.build("image_folder", **_params(image_root, cache=str(tmp_path / "c"), **extra)).load()

    with pytest.raises(DataError, match="set seen or unseen"):
        load()
    with pytest.raises(DataError, match="no class folder .* for: lion"):
        load(seen=["cat", "lion"])
    with pytest.raises(DataError, match="both seen and unseen: cat"):
        load(seen=["cat", "dog"], unseen=["cat"])
    with pytest.raises(DataError, match="need 2\\+ seen classes"):
        load(seen=["cat"], unseen=["zebra"])
    with pytest.raises(DataError, match="no such class list file"):
        load(seen="missing.txt")
    with pytest.raises(DataError, match="set root"):
        DATASETS.build("image_folder").load()
    assert not (tmp_path / "c").exists()  # all caught before extracting


def test_read_class_list(tmp_path):
    (tmp_path / "s.txt").write_text("cat  # pet\n\ndog\n")
    assert read_class_list("s.txt", tmp_path, "seen") == ["cat", "dog"]
    assert read_class_list(["a", " b "], tmp_path, "seen") == ["a", "b"]
    assert read_class_list(None, tmp_path, "seen") is None
    with pytest.raises(DataError, match="listed twice: a"):
        read_class_list(["a", "a"], tmp_path, "seen")


def test_device_and_progress_follow_the_run_unless_set(image_root, monkeypatch):
    """``device`` / ``progress`` left unset take the active run's (``train.device``, ``--no-progress``)."""
    import kgzsl.data.folder as folder
    from kgzsl.context import RunContext

    seen: list[tuple[str, bool]] = []
    real = folder.extract_features

    def spy(*args, **kwargs):
        seen.append((kwargs["device"], kwargs["progress"]))
        return real(*args, **{**kwargs, "device": "cpu"})

    monkeypatch.setattr(folder, "extract_features", spy)
    params = {"root": str(image_root), "backbone": f"open_clip:{TINY_OPEN_CLIP}", "unseen": "unseen.txt"}
    with RunContext(device="cpu", progress=False).activate():
        DATASETS.build("image_folder", **params).load()
        DATASETS.build("image_folder", **params, device="cuda:1", progress=True).load()
    assert seen == [("cpu", False), ("cuda:1", True)]


def test_patch_tokens_rows_hold_the_pooled_embedding_then_the_tokens(image_root):
    from kgzsl.data.features import load_patch_tokens

    plain = DATASETS.build("image_folder", **_params(image_root, unseen="unseen.txt")).load()
    source = DATASETS.build("image_folder", **_params(image_root, unseen="unseen.txt", patch_tokens=True))
    ds = source.load()
    tokens = load_patch_tokens(source.cache_dir())
    n, t, c = tokens.shape  # tiny ViT at 32 px, patch 16: 4 patches (+ class token) of width 64
    assert n == 10 and c == 64 and t >= 4
    assert ds.features.shape == (10, 32 + t * c)
    np.testing.assert_allclose(ds.features[:, :32], plain.features, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ds.features[:, 32:].reshape(n, t, c), np.asarray(tokens))
    assert source.cache_dir().name.endswith("-tokens") and ds.backbone == f"open_clip:{TINY_OPEN_CLIP}"
