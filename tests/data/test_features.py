"""Feature extraction on real photos with tiny real backbones: shapes, weights, manifest, resuming."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from kgzsl.data import features as F
from kgzsl.data.features import (
    TINY_OPEN_CLIP,
    Backbone,
    backbone_slug,
    extract_features,
    list_images,
    load_extracted,
    load_patch_tokens,
    register_tiny_open_clip,
)
from kgzsl.errors import DataError

TINY = f"open_clip:{TINY_OPEN_CLIP}"

# random-init backbones are what tests can use offline; the warning itself is tested below
pytestmark = pytest.mark.filterwarnings("ignore:.*RANDOMLY INITIALISED:UserWarning")


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models spend their time synchronising threads, not computing: one is faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def photos(shared_data: Path) -> list[Path]:
    paths = [shared_data / "images" / "awa2" / f"{i}.jpg" for i in (1, 2, 3)]
    if not all(p.is_file() for p in paths):
        pytest.skip("the AwA2 sample photos are not in the shared data")
    return paths


@pytest.fixture
def count_batches(monkeypatch):
    """Count :meth:`Backbone.encode` calls; ``fail_at`` makes that call raise ``KeyboardInterrupt``."""
    original = Backbone.encode
    state = {"calls": 0, "fail_at": None}

    def encode(self, images):
        state["calls"] += 1
        if state["calls"] == state["fail_at"]:
            raise KeyboardInterrupt
        return original(self, images)

    monkeypatch.setattr(Backbone, "encode", encode)
    return state


def _tiny_model(seed: int):
    import open_clip

    register_tiny_open_clip()
    torch.manual_seed(seed)
    model, _, preprocess = open_clip.create_model_and_transforms(TINY_OPEN_CLIP)
    return model.eval(), preprocess


def _batch(paths, preprocess) -> torch.Tensor:
    from PIL import Image

    return torch.stack([preprocess(Image.open(p).convert("RGB")) for p in paths])


def test_open_clip_checkpoint_gives_the_features_of_the_model_in_memory(photos, tmp_path):
    model, preprocess = _tiny_model(seed=123)
    ckpt = tmp_path / "tiny.pt"
    torch.save(model.state_dict(), ckpt)
    out = extract_features(photos, tmp_path / "out", TINY, weights=ckpt, batch_size=2, progress=False)

    features, paths, labels, manifest = load_extracted(out)
    assert features.shape == (3, 32) and features.dtype == np.float32 and np.isfinite(features).all()
    with torch.no_grad():
        expected = model.encode_image(_batch(photos, preprocess)).numpy()
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)

    assert paths == [str(p.resolve()) for p in photos] and labels == [None, None, None]
    assert manifest["backbone"] == TINY and manifest["feature_dim"] == 32 and manifest["num_images"] == 3
    assert manifest["weights"]["sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert manifest["weights"]["path"] == str(ckpt.resolve()) and manifest["weights"]["random_init"] is False
    assert manifest["versions"]["kgzsl"] and manifest["created"] and manifest["patch_tokens_shape"] is None
    assert json.loads((out / "manifest.json").read_text())["images"][0] == {"path": paths[0], "label": None}
    assert not (out / ".partial").exists() and not (out / "patch_tokens.npy").exists()

    # the loaded weights are really used: random init gives other features
    other = extract_features(photos, tmp_path / "random", TINY, progress=False)
    assert not np.allclose(load_extracted(other)[0], features)


def test_patch_tokens_of_a_vit_and_a_resnet(photos, tmp_path):
    out = extract_features(photos, tmp_path / "vit", TINY, patch_tokens=True, progress=False)
    # 32 px images in 16 px patches: 2 × 2 tokens of the tower's width 64, class token dropped
    assert load_patch_tokens(out).shape == (3, 4, 64)
    assert load_extracted(out)[3]["patch_tokens_shape"] == [4, 64]

    out = extract_features(
        photos, tmp_path / "rn", "torchvision:resnet18", patch_tokens=True, image_size=64, progress=False
    )
    features, *_ = load_extracted(out)
    tokens = load_patch_tokens(out, mmap_mode=None)
    assert features.shape == (3, 512) and tokens.shape == (3, 4, 512)  # 64 px / stride 32 = 2 × 2
    # the tokens are the feature map the pooled features average
    np.testing.assert_allclose(tokens.mean(1), features, rtol=1e-5, atol=1e-6)


def test_resnet101_random_init_is_flagged_loudly(photos, tmp_path):
    with pytest.warns(UserWarning, match="RANDOMLY INITIALISED"):
        out = extract_features(photos[:2], tmp_path / "out", "torchvision:resnet101", image_size=64, progress=False)
    with pytest.warns(UserWarning, match="RANDOMLY INITIALISED"):
        features, _, _, manifest = load_extracted(out)
    assert features.shape == (2, 2048) and np.isfinite(features).all()
    assert manifest["weights"]["random_init"] is True and manifest["weights"]["sha256"] is None


def test_torchvision_state_dict_is_loaded(photos, tmp_path):
    import torchvision

    torch.manual_seed(7)
    model = torchvision.models.resnet18(weights=None).eval()
    ckpt = tmp_path / "rn18.pth"
    torch.save(model.state_dict(), ckpt)
    out = extract_features(photos, tmp_path / "out", "torchvision:resnet18", weights=ckpt, image_size=64)
    features, _, _, manifest = load_extracted(out)
    model.fc = torch.nn.Identity()
    backbone = F.load_backbone("torchvision:resnet18", ckpt, device="cpu", image_size=64)
    with torch.no_grad():
        expected = model(_batch(photos, backbone.transform)).numpy()
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-5)
    assert manifest["weights"]["sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()

    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "wrong.pth")
    with pytest.raises(DataError, match="not a torchvision:resnet18 state dict"):
        extract_features(photos, tmp_path / "wrong", "torchvision:resnet18", weights=tmp_path / "wrong.pth")


def test_interrupted_run_resumes_to_the_same_files(photos, tmp_path, count_batches):
    ref = extract_features(photos, tmp_path / "ref", TINY, batch_size=1, patch_tokens=True, progress=False)
    assert count_batches["calls"] == 3

    out = tmp_path / "out"
    count_batches.update(calls=0, fail_at=2)
    with pytest.raises(KeyboardInterrupt):
        extract_features(photos, out, TINY, batch_size=1, patch_tokens=True, progress=False)
    assert not (out / "manifest.json").exists() and not (out / "features.npy").exists()
    assert [p.name for p in (out / ".partial").glob("chunk-*")] == ["chunk-000000000-000000001.npz"]

    count_batches.update(calls=0, fail_at=None)
    extract_features(photos, out, TINY, batch_size=1, patch_tokens=True, progress=False)
    assert count_batches["calls"] == 2  # only the images not done before the interruption
    for name in ("features.npy", "patch_tokens.npy"):
        assert (out / name).read_bytes() == (ref / name).read_bytes()
    assert not (out / ".partial").exists()

    # finished: a rerun with the same inputs does nothing
    stamp = (out / "manifest.json").stat().st_mtime_ns
    count_batches["calls"] = 0
    assert extract_features(photos, out, TINY, batch_size=1, patch_tokens=True, progress=False) == out
    assert count_batches["calls"] == 0 and (out / "manifest.json").stat().st_mtime_ns == stamp


def test_resume_false_starts_again(photos, tmp_path, count_batches):
    count_batches["fail_at"] = 3
    with pytest.raises(KeyboardInterrupt):
        extract_features(photos, tmp_path, TINY, batch_size=1, progress=False)
    count_batches.update(calls=0, fail_at=None)
    extract_features(photos, tmp_path, TINY, batch_size=1, progress=False, resume=False)
    assert count_batches["calls"] == 3


def test_other_inputs_are_an_error_unless_overwrite(photos, tmp_path, count_batches):
    out = extract_features(photos, tmp_path / "out", TINY, progress=False)
    with pytest.raises(DataError, match="images or labels changed.*overwrite=True"):
        extract_features(photos[:2], out, TINY, progress=False)
    with pytest.raises(DataError, match="backbone: 'open_clip:kgzsl-tiny-vit' -> 'torchvision:resnet18'"):
        extract_features(photos, out, "torchvision:resnet18", image_size=64, progress=False)
    with pytest.raises(DataError, match="patch_tokens: False -> True"):
        extract_features(photos, out, TINY, patch_tokens=True, progress=False)
    extract_features(photos[:2], out, TINY, overwrite=True, progress=False)
    assert load_extracted(out)[0].shape == (2, 32)

    # an unfinished run of other inputs is protected the same way
    partial = tmp_path / "partial"
    count_batches.update(calls=0, fail_at=2)
    with pytest.raises(KeyboardInterrupt):
        extract_features(photos, partial, TINY, batch_size=1, progress=False)
    count_batches["fail_at"] = None
    with pytest.raises(DataError, match="unfinished extraction of other inputs"):
        extract_features(photos, partial, TINY, batch_size=1, labels=["a", "b", "c"], progress=False)
    with pytest.raises(DataError, match="no finished feature extraction.*rerun"):
        load_extracted(partial)


def test_pretrained_tag_offline_is_one_clear_error(photos, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError) as err:
        extract_features(photos, tmp_path, "open_clip:ViT-B-32", weights="openai", progress=False)
    message = str(err.value)
    assert "\n" not in message and "HF_HUB_OFFLINE" in message and "local file" in message
    with pytest.raises(DataError, match="neither a file nor a pretrained tag.*openai"):
        extract_features(photos, tmp_path, "open_clip:ViT-B-32", weights="no-such-tag", progress=False)
    with pytest.raises(DataError, match="did you mean ViT-B-32"):
        extract_features(photos, tmp_path, "open_clip:ViT-B-31", progress=False)
    with pytest.raises(DataError, match="expected 'open_clip:ARCH'"):
        extract_features(photos, tmp_path, "timm:resnet50", progress=False)
    with pytest.raises(DataError, match="unknown torchvision architecture"):
        extract_features(photos, tmp_path, "torchvision:vgg16", progress=False)
    with pytest.raises(DataError, match="no such file"):
        extract_features(photos, tmp_path, "torchvision:resnet18", weights=tmp_path / "missing.pth")
    assert not any(tmp_path.iterdir())  # failed before writing anything


def test_folder_input_is_labelled_by_class_folder(photos, tmp_path):
    root = tmp_path / "images"
    for cls, photo in [("zebra", photos[0]), ("cat", photos[1]), ("cat", photos[2])]:
        (root / cls).mkdir(parents=True, exist_ok=True)
        (root / cls / photo.name).symlink_to(photo)
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / ".kgzsl-features").mkdir()
    (root / ".kgzsl-features" / "cached.jpg").symlink_to(photos[0])  # hidden: a cache, not an input
    (root / "loose.png").symlink_to(photos[0])

    found_root, records = list_images(root)
    assert found_root == root.resolve()
    assert [(r.path, r.label) for r in records] == [
        ("cat/2.jpg", "cat"),
        ("cat/3.jpg", "cat"),
        ("loose.png", None),
        ("zebra/1.jpg", "zebra"),
    ]
    with pytest.raises(DataError, match="4 images but 1 labels"):
        list_images(root, labels=["x"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images found"):
        list_images(tmp_path / "empty")


def test_unreadable_image_names_the_file(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_text("not a jpeg")
    with pytest.raises(DataError, match="broken.jpg: cannot read image"):
        extract_features([bad], tmp_path / "out", TINY, progress=False)


def test_backbone_slug(tmp_path):
    ckpt = tmp_path / "ViT-B-32 laion.pt"
    ckpt.write_bytes(b"x")
    assert backbone_slug("open_clip:ViT-B-32", "openai") == "open_clip-ViT-B-32-openai"
    assert backbone_slug("open_clip:ViT-B-32", ckpt) == "open_clip-ViT-B-32-ViT-B-32-laion"
    assert backbone_slug("torchvision:resnet101") == "torchvision-resnet101-random-init"
