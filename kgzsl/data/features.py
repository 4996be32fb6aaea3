"""Image features from a backbone, extracted once into a folder, resumable, with a manifest.

::

    out = extract_features("awa2/JPEGImages", "features/awa2-rn101", "torchvision:resnet101",
                           weights="resnet101-63fe2227.pth")
    features, paths, labels, manifest = load_extracted(out)

Backbones (``backbone`` = ``FAMILY:ARCH``):

* ``open_clip:ARCH`` (any architecture open_clip knows, e.g. ``open_clip:ViT-B-32``):
  ``weights`` is a local checkpoint file, a pretrained tag (``"openai"``, ``"laion2b_s34b_b79k"``;
  downloaded, so online only) or ``None`` (random init). Features are the image tower's pooled
  embedding (``encode_image``, not L2-normalised); patch tokens are a ViT's token sequence
  before pooling (after the final layer norm, without the class token), ``[T, width]``.
* ``torchvision:resnetNN`` (18, 34, 50, 101, 152): ``weights`` is a local state dict (``.pth``)
  or ``None`` (random init). Features are the global-average-pooled output of the last block
  (2048-d for ResNet-50/101/152, the fc layer dropped); patch tokens are that block's feature
  map flattened to ``[H·W, C]``.

Random-init weights give features that are useless for real experiments; they are allowed
because they are what tests and smoke runs can use offline, and they are flagged in a warning
and in the manifest (``weights.random_init``). They are seeded, so they repeat exactly.

The output folder holds ``features.npy`` (float32 ``[N, D]``), ``patch_tokens.npy`` (float32
``[N, T, C]``, when asked) and ``manifest.json`` (images and labels in row order, backbone,
weights and their sha256, shapes, versions, date). While running, each batch goes to its own
file under ``out/.partial/``; a rerun after an interruption continues after the last finished
batch and gives the same final files as an uninterrupted run (with the same ``batch_size``:
batch composition can change the last bits of a float). The final files appear by rename,
``manifest.json`` last, so a folder with a manifest is always complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from kgzsl.errors import DataError
from kgzsl.utils import atomic_write_text, resolve_device, sha256_file

__all__ = [
    "IMAGE_EXTENSIONS",
    "TORCHVISION_ARCHS",
    "TINY_OPEN_CLIP",
    "ImageRecord",
    "Backbone",
    "list_images",
    "load_backbone",
    "backbone_slug",
    "extract_features",
    "load_extracted",
    "load_patch_tokens",
    "register_tiny_open_clip",
]

#: file suffixes read as images (case-insensitive)
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})

#: ``torchvision:ARCH`` architectures
TORCHVISION_ARCHS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")

#: a tiny open_clip ViT (32 px, 2 layers, width 64, 32-d embedding) for tests and smoke runs;
#: ``open_clip:kgzsl-tiny-vit`` registers it on first use
TINY_OPEN_CLIP = "kgzsl-tiny-vit"

_TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 64, "width": 32, "heads": 2, "layers": 1},
}

_FORMAT = "kgzsl-features/1"
_RANDOM_INIT_SEED = 0
_PARTIAL = ".partial"
_CHUNK = re.compile(r"^chunk-(\d{9})-(\d{9})\.npz$")
# ImageNet statistics, the normalisation torchvision's ResNet weights were trained with
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ImageRecord:
    """One input image: ``path`` as recorded (relative to the root for a folder), the file, its label."""

    path: str
    file: Path
    label: str | None


# ----------------------------------------------------------------------------- inputs


def _is_image(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def list_images(
    images: str | os.PathLike | Sequence[str | os.PathLike], labels: Sequence[str | None] | None = None
) -> tuple[Path | None, list[ImageRecord]]:
    """The images to extract, in a fixed order, with their labels.

    Args:
        images: a folder, searched recursively (hidden files and folders skipped, so a feature
            cache inside it is not read), or a list of image files. A folder's images are sorted
            by relative path and labelled by the root's subfolder they are in (``root/<class>/...``);
            images directly in the root have no label.
        labels: one label per image, overriding the folder names.

    Returns:
        ``(root, records)``: ``root`` is the folder (``None`` for a list); a folder's records
        hold paths relative to it, a list's the absolute paths.
    """
    if isinstance(images, (str, os.PathLike)):
        root = Path(images).expanduser().resolve()
        if not root.is_dir():
            raise DataError(f"{root}: no such folder of images")
        records = []
        seen_dirs: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            # symlinked class folders are common in dataset layouts; don't loop on a cycle
            real = os.path.realpath(dirpath)
            if real in seen_dirs:
                dirnames[:] = []
                continue
            seen_dirs.add(real)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                if _is_image(name):
                    rel = Path(dirpath, name).relative_to(root).as_posix()
                    label = rel.split("/", 1)[0] if "/" in rel else None
                    records.append(ImageRecord(rel, Path(dirpath, name), label))
        records.sort(key=lambda r: r.path)
        if not records:
            exts = " ".join(sorted(IMAGE_EXTENSIONS))
            raise DataError(f"{root}: no images found (looked for {exts})")
    else:
        root = None
        records = []
        for item in images:
            file = Path(item).expanduser().resolve()
            if not file.is_file():
                raise DataError(f"{file}: no such image file")
            records.append(ImageRecord(str(file), file, None))
        if not records:
            raise DataError("extract_features: the list of images is empty")
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(records):
            raise DataError(f"extract_features: {len(records)} images but {len(labels)} labels")
        records = [ImageRecord(r.path, r.file, None if y is None else str(y)) for r, y in zip(records, labels)]
    return root, records


class _ImageFiles:
    """Map-style dataset of transformed images (a plain class: DataLoader needs only these two methods)."""

    def __init__(self, files: Sequence[Path], transform: Callable[[Any], Any]) -> None:
        self.files = list(files)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Any:
        from PIL import Image

        path = self.files[index]
        try:
            with Image.open(path) as image:
                rgb = image.convert("RGB")
        except (OSError, ValueError) as e:
            raise DataError(f"{path}: cannot read image ({e})") from None
        return self.transform(rgb)


# ----------------------------------------------------------------------------- backbones


@dataclass
class Backbone:
    """A loaded image backbone: its preprocessing and a batch → features function.

    Attributes:
        name: ``FAMILY:ARCH``.
        transform: PIL image → ``[3, H, W]`` tensor, the backbone's own evaluation preprocessing.
        module: the network, in eval mode, on ``device``.
        device: where batches go.
        weights: what the weights are: ``{"path", "sha256", "tag", "random_init"}``.
        patch_tokens: whether :meth:`encode` also returns patch tokens.
    """

    name: str
    transform: Callable[[Any], Any]
    module: Any
    device: Any
    weights: dict[str, Any]
    patch_tokens: bool = False
    _forward: Callable[[Any], tuple[Any, Any]] = field(default=None, repr=False)  # type: ignore[assignment]

    def encode(self, images: Any) -> tuple[Any, Any]:
        """Features of a batch: ``([B, D], [B, T, C] or None)`` float32 tensors on the CPU.

        Shapes:
            images: ``[B, 3, H, W]``, preprocessed with :attr:`transform`.
        """
        import torch

        with torch.inference_mode():
            pooled, tokens = self._forward(images.to(self.device, non_blocking=True))
            pooled = pooled.float().cpu()
            tokens = tokens.float().cpu() if self.patch_tokens else None
        return pooled, tokens


def _parse_backbone(backbone: str) -> tuple[str, str]:
    family, sep, arch = str(backbone).partition(":")
    if not sep or not arch or family not in ("open_clip", "torchvision"):
        raise DataError(
            f"backbone {backbone!r}: expected 'open_clip:ARCH' (e.g. open_clip:ViT-B-32) "
            f"or 'torchvision:ARCH' ({', '.join(TORCHVISION_ARCHS)})"
        )
    if family == "torchvision" and arch not in TORCHVISION_ARCHS:
        raise DataError(
            f"backbone {backbone!r}: unknown torchvision architecture; valid: {', '.join(TORCHVISION_ARCHS)}"
        )
    return family, arch


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def register_tiny_open_clip() -> str:
    """Make :data:`TINY_OPEN_CLIP` known to open_clip (idempotent); return its name.

    open_clip only reads architectures from JSON files, so the config is written to a
    temporary folder, registered and deleted (open_clip keeps what it read).
    """
    import open_clip

    if TINY_OPEN_CLIP not in open_clip.list_models():
        with tempfile.TemporaryDirectory(prefix="kgzsl-open-clip-") as tmp:
            path = Path(tmp, f"{TINY_OPEN_CLIP}.json")
            path.write_text(json.dumps(_TINY_CONFIG), encoding="utf-8")
            open_clip.add_model_config(path)
    return TINY_OPEN_CLIP


def _open_clip_arch(arch: str) -> str:
    import open_clip

    if arch == TINY_OPEN_CLIP:
        register_tiny_open_clip()
    known = open_clip.list_models()
    if arch.replace("/", "-") not in known:
        import difflib

        close = difflib.get_close_matches(arch, known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see open_clip.list_models()"
        raise DataError(f"backbone 'open_clip:{arch}': unknown architecture{hint}")
    return arch.replace("/", "-")


def _weights_info(family: str, arch: str, weights: str | os.PathLike | None) -> dict[str, Any]:
    """What the weights are, checked before anything is built: a file (with its sha256), a tag, or random."""
    if weights is None or str(weights) == "":
        return {"path": None, "sha256": None, "tag": None, "random_init": True, "seed": _RANDOM_INIT_SEED}
    path = Path(weights).expanduser()
    if path.is_file():
        return {"path": str(path.resolve()), "sha256": sha256_file(path), "tag": None, "random_init": False}
    tag = str(weights)
    if family == "torchvision":
        raise DataError(f"weights {tag!r}: no such file (torchvision:{arch} takes a local state dict .pth, or null)")
    import open_clip

    cfg = open_clip.get_pretrained_cfg(arch, tag)
    if not cfg:
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(arch)) or "none"
        raise DataError(f"weights {tag!r}: neither a file nor a pretrained tag of open_clip:{arch} (tags: {tags})")
    if _offline():
        raise DataError(
            f"weights {tag!r}: open_clip pretrained tags are downloaded, and HF_HUB_OFFLINE is set; "
            f"download the open_clip:{arch} checkpoint where there is internet and pass its local file as weights"
        )
    try:
        file = open_clip.download_pretrained(cfg)
    except Exception as e:  # network, hub and checksum failures all mean the same to the user
        raise DataError(f"weights {tag!r}: download of open_clip:{arch} failed ({_one_line(e)})") from None
    return {"path": str(file), "sha256": sha256_file(file), "tag": tag, "random_init": False}


def _one_line(error: BaseException, limit: int = 300) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _random_init_warning(name: str) -> None:
    warnings.warn(
        f"{name}: no weights given, so the backbone is RANDOMLY INITIALISED and its features are "
        "useless for real experiments (fine for tests); pass weights=<checkpoint file>",
        UserWarning,
        stacklevel=3,
    )


def _load_open_clip(arch: str, info: dict[str, Any], device: Any, patch_tokens: bool, image_size: int | None):
    import open_clip
    import torch

    kwargs: dict[str, Any] = {"pretrained": info["tag"] or info["path"]}
    if image_size is not None:
        kwargs["force_image_size"] = image_size
    try:
        # a fixed seed makes random-init weights repeat (a resumed run must use the same ones)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_RANDOM_INIT_SEED)
            model, _, transform = open_clip.create_model_and_transforms(arch, **kwargs)
    except Exception as e:  # open_clip raises RuntimeError/KeyError/unpickling errors for a bad checkpoint
        source = info["path"] or "random init"
        raise DataError(f"{source}: cannot load open_clip:{arch} ({_one_line(e)})") from None
    model = model.eval().to(device)
    visual = model.visual
    if patch_tokens:
        from open_clip.transformer import VisionTransformer

        if not isinstance(visual, VisionTransformer):
            raise DataError(f"open_clip:{arch}: patch tokens are supported for ViT image towers only")
        # the tower then returns (pooled, tokens): tokens after the final norm, class token dropped
        visual.output_tokens = True

        def forward(x):
            return visual(x)
    else:

        def forward(x):
            pooled = model.encode_image(x)
            return (pooled[0] if isinstance(pooled, tuple) else pooled), None

    return model, transform, forward


def _load_torchvision(arch: str, info: dict[str, Any], device: Any, patch_tokens: bool, image_size: int | None):
    import torch
    import torchvision
    from torchvision import transforms as T

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_RANDOM_INIT_SEED)
        model = getattr(torchvision.models, arch)(weights=None)
    model.fc = torch.nn.Identity()  # the features are the pooled activations, not class scores
    if info["path"]:
        try:
            state = torch.load(info["path"], map_location="cpu", weights_only=True)
        except Exception as e:
            raise DataError(f"{info['path']}: not a torch state dict ({_one_line(e)})") from None
        for key in ("state_dict", "model"):  # training checkpoints wrap the state dict
            if isinstance(state, dict) and isinstance(state.get(key), dict):
                state = state[key]
        if not isinstance(state, dict):
            raise DataError(f"{info['path']}: not a torch state dict")
        state = {
            k.removeprefix("module."): v for k, v in state.items() if not k.removeprefix("module.").startswith("fc.")
        }
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as e:  # shape mismatches raise even when not strict
            raise DataError(f"{info['path']}: not a torchvision:{arch} state dict ({_one_line(e)})") from None
        if missing or unexpected:
            keys = ", ".join((missing or unexpected)[:3])
            what = "missing" if missing else "unexpected"
            raise DataError(f"{info['path']}: not a torchvision:{arch} state dict ({what} keys: {keys}, ...)")
    model = model.eval().to(device)
    size = image_size or 224
    transform = T.Compose(
        [
            T.Resize(round(size * 256 / 224), interpolation=T.InterpolationMode.BILINEAR),
            T.CenterCrop(size),
            T.ToTensor(),
            T.Normalize(_IMAGENET_MEAN, _IMAGENET_STD),
        ]
    )
    body = torch.nn.Sequential(*(getattr(model, n) for n in ("conv1", "bn1", "relu", "maxpool")))
    blocks = torch.nn.Sequential(model.layer1, model.layer2, model.layer3, model.layer4)

    def forward(x):
        fmap = blocks(body(x))  # [B, C, h, w]
        pooled = torch.flatten(model.avgpool(fmap), 1)
        tokens = fmap.flatten(2).transpose(1, 2) if patch_tokens else None
        return pooled, tokens

    return model, transform, forward


def load_backbone(
    backbone: str,
    weights: str | os.PathLike | None = None,
    device: str = "auto",
    patch_tokens: bool = False,
    image_size: int | None = None,
) -> Backbone:
    """Build a backbone with its weights and evaluation preprocessing.

    Args:
        backbone: ``open_clip:ARCH`` or ``torchvision:resnetNN``.
        weights: a local checkpoint file, an open_clip pretrained tag (online only) or ``None``
            for seeded random weights (warned about).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda:1"``, ...
        patch_tokens: also return patch tokens from :meth:`Backbone.encode`.
        image_size: input resolution instead of the backbone's own (224 for ResNets; open_clip
            resizes a ViT's position embeddings).
    """
    family, arch = _parse_backbone(backbone)
    if family == "open_clip":
        arch = _open_clip_arch(arch)
    return _build_backbone(family, arch, _weights_info(family, arch, weights), device, patch_tokens, image_size)


def _build_backbone(
    family: str, arch: str, info: dict[str, Any], device: str, patch_tokens: bool, image_size: int | None
) -> Backbone:
    name = f"{family}:{arch}"
    if info["random_init"]:
        _random_init_warning(name)
    torch_device = resolve_device(device)
    loader = _load_open_clip if family == "open_clip" else _load_torchvision
    module, transform, forward = loader(arch, info, torch_device, patch_tokens, image_size)
    return Backbone(name, transform, module, torch_device, info, patch_tokens, forward)


def backbone_slug(backbone: str, weights: str | os.PathLike | None = None) -> str:
    """A folder name for features of ``backbone`` with ``weights``: ``open_clip-ViT-B-32-openai``."""
    if weights is None or str(weights) == "":
        label = "random-init"
    else:
        label = Path(weights).stem if Path(weights).expanduser().is_file() else str(weights)
    return re.sub(r"[^A-Za-z0-9._-]+", "-", f"{backbone}-{label}").strip("-")


# ----------------------------------------------------------------------------- extraction


def _identity(
    name: str, info: dict[str, Any], records: list[ImageRecord], patch_tokens: bool, image_size: int | None
) -> dict[str, Any]:
    """What makes two extractions the same: compared field by field to name what changed."""
    h = hashlib.sha256()
    for r in records:
        # file sizes catch replaced images without reading every file on each rerun
        h.update(json.dumps([r.path, r.label, r.file.stat().st_size]).encode("utf-8"))
        h.update(b"\n")
    if info["random_init"]:
        weights = f"random-init:seed{info['seed']}"
    else:
        weights = f"sha256:{info['sha256']}"
    return {
        "images": h.hexdigest(),
        "num_images": len(records),
        "backbone": name,
        "weights": weights,
        "patch_tokens": patch_tokens,
        "image_size": image_size,
    }


def _check_identity(stored: dict[str, Any] | None, identity: dict[str, Any], where: Path, what: str) -> None:
    changed = [k for k in identity if (stored or {}).get(k) != identity[k]]
    if changed:
        diff = "; ".join(f"{k}: {(stored or {}).get(k)!r} -> {identity[k]!r}" for k in changed if k != "images")
        if "images" in changed:
            diff = "the images or labels changed" + (f"; {diff}" if diff else "")
        raise DataError(
            f"{where}: holds {what} of other inputs ({diff}); "
            "pass overwrite=True to replace it, or choose another folder"
        )


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not a valid JSON file ({_one_line(e)})") from None


def _finished_chunks(partial: Path, n: int) -> tuple[int, list[Path]]:
    """The chunks covering images ``[0, done)`` without gaps; any other chunk is deleted."""
    spans = {}
    for path in partial.glob("chunk-*.npz"):
        m = _CHUNK.match(path.name)
        if m:
            spans.setdefault(int(m.group(1)), []).append((int(m.group(2)), path))
    done, chain = 0, []
    while done in spans:
        stop, path = max(spans.pop(done))  # the longest chunk from here (batch size may have changed)
        if stop <= done or stop > n:
            break
        chain.append(path)
        done = stop
    keep = set(chain)
    for path in partial.glob("chunk-*.npz"):
        if path not in keep:
            path.unlink()
    return done, chain


def _save_chunk(partial: Path, start: int, stop: int, features: Any, tokens: Any) -> None:
    arrays = {"features": features.numpy().astype(np.float32, copy=False)}
    if tokens is not None:
        arrays["tokens"] = tokens.numpy().astype(np.float32, copy=False)
    final = partial / f"chunk-{start:09d}-{stop:09d}.npz"
    tmp = partial / f".{final.name}.tmp"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)  # a chunk that exists is complete


def _assemble(out: Path, chunks: list[Path], n: int, key: str, filename: str) -> tuple[int, ...]:
    """Copy the chunks' ``key`` arrays into ``out/filename`` through a memmap (bounded memory), by rename."""
    with np.load(chunks[0]) as z:
        row_shape = z[key].shape[1:]
    tmp = out / f".{filename}.tmp"
    target = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, *row_shape))
    start = 0
    for path in chunks:
        with np.load(path) as z:
            block = z[key]
        if block.shape[1:] != row_shape:
            raise DataError(f"{path}: chunk shape {block.shape} does not match {row_shape}; delete {path.parent}")
        target[start : start + len(block)] = block
        start += len(block)
    target.flush()
    del target
    os.replace(tmp, out / filename)
    return row_shape


def extract_features(
    images: str | os.PathLike | Sequence[str | os.PathLike],
    out: str | os.PathLike,
    backbone: str,
    weights: str | os.PathLike | None = None,
    batch_size: int = 64,
    device: str = "auto",
    patch_tokens: bool = False,
    resume: bool = True,
    progress: bool = True,
    labels: Sequence[str | None] | None = None,
    overwrite: bool = False,
    num_workers: int = 0,
    image_size: int | None = None,
) -> Path:
    """Extract the features of ``images`` with ``backbone`` into the folder ``out``.

    Args:
        images: a folder (recursive; labels = the root's subfolder names) or a list of files.
        out: output folder (created): ``features.npy``, ``manifest.json`` and, with
            ``patch_tokens``, ``patch_tokens.npy``.
        backbone: ``open_clip:ARCH`` or ``torchvision:resnetNN`` (see the module docstring).
        weights: local checkpoint file, open_clip pretrained tag (online only) or ``None``
            (seeded random init: warned about and marked in the manifest).
        batch_size: images per forward pass, and per resumable chunk.
        device: ``"auto"`` uses the GPU when there is one.
        patch_tokens: also save the patch tokens ``[N, T, C]``.
        resume: continue an interrupted run in ``out``; ``False`` starts again.
        progress: show a tqdm bar.
        labels: one label per image, overriding the folder names.
        overwrite: replace an output (finished or partial) of other inputs instead of raising.
            An output of the same inputs is always reused: finished, nothing is done.
        num_workers: DataLoader worker processes decoding images.
        image_size: input resolution instead of the backbone's own.

    Returns:
        ``out`` as a path.

    Raises:
        DataError: missing or unreadable inputs, unknown backbone, bad weights, a pretrained tag
            while offline, or ``out`` holding features of other inputs (without ``overwrite``).
    """
    import torch

    from kgzsl.context import progress_bar

    if batch_size < 1:
        raise DataError(f"extract_features: batch_size must be >= 1, got {batch_size}")
    out = Path(out).expanduser()
    root, records = list_images(images, labels)
    family, arch = _parse_backbone(backbone)
    if family == "open_clip":
        arch = _open_clip_arch(arch)
    name = f"{family}:{arch}"
    info = _weights_info(family, arch, weights)
    identity = _identity(name, info, records, patch_tokens, image_size)
    n = len(records)
    partial = out / _PARTIAL
    manifest_path = out / "manifest.json"

    manifest = _read_json(manifest_path)
    if manifest is not None:
        if manifest.get("identity") == identity:
            if info["random_init"]:
                _random_init_warning(name)
            shutil.rmtree(partial, ignore_errors=True)  # left by a crash just after the manifest was written
            return out
        if not overwrite:
            _check_identity(manifest.get("identity"), identity, out, "finished features")
        for stale in ("manifest.json", "features.npy", "patch_tokens.npy"):
            (out / stale).unlink(missing_ok=True)

    state = _read_json(partial / "state.json")
    if state is not None and state.get("identity") != identity:
        if not overwrite:
            _check_identity(state.get("identity"), identity, partial, "an unfinished extraction")
        state = None
    if state is None or not resume:
        shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True, exist_ok=True)
    atomic_write_text(partial / "state.json", json.dumps({"identity": identity}, indent=1))
    done, chunks = _finished_chunks(partial, n)

    model_device = None
    if done < n:
        model = _build_backbone(family, arch, info, device, patch_tokens, image_size)
        model_device = str(model.device)
        loader = torch.utils.data.DataLoader(
            _ImageFiles([r.file for r in records[done:]], model.transform),
            batch_size=batch_size,
            shuffle=False,
            num_workers=num_workers,
            pin_memory=model.device.type == "cuda",
        )
        # honours the active run's --no-progress as well as this call's own setting
        bar = progress_bar(total=n, initial=done, disable=not progress, desc=f"features {name}", unit="img")
        try:
            start = done
            for batch in loader:
                pooled, tokens = model.encode(batch)
                stop = start + len(batch)
                _save_chunk(partial, start, stop, pooled, tokens)
                start = stop
                bar.update(len(batch))
        finally:
            bar.close()
        done, chunks = _finished_chunks(partial, n)
        if done != n:  # only possible if the folder was changed under us
            raise DataError(f"{partial}: chunks cover {done} of {n} images; rerun to finish")

    out.mkdir(parents=True, exist_ok=True)
    (feature_dim,) = _assemble(out, chunks, n, "features", "features.npy")
    token_shape = list(_assemble(out, chunks, n, "tokens", "patch_tokens.npy")) if patch_tokens else None
    manifest = _manifest(identity, info, name, root, records, feature_dim, token_shape, image_size, model_device)
    atomic_write_text(manifest_path, json.dumps(manifest, indent=1))
    shutil.rmtree(partial, ignore_errors=True)
    return out


def _manifest(
    identity: dict[str, Any],
    info: dict[str, Any],
    name: str,
    root: Path | None,
    records: list[ImageRecord],
    feature_dim: int,
    token_shape: list[int] | None,
    image_size: int | None,
    device: str | None,
) -> dict[str, Any]:
    import torch

    import kgzsl

    versions = {"kgzsl": kgzsl.__version__, "torch": torch.__version__}
    try:
        from importlib.metadata import version

        versions["open_clip_torch" if name.startswith("open_clip") else "torchvision"] = version(
            "open_clip_torch" if name.startswith("open_clip") else "torchvision"
        )
    except Exception:  # a missing distribution record only loses an informational field
        pass
    return {
        "format": _FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "backbone": name,
        "weights": info,
        "feature_dim": int(feature_dim),
        "num_images": len(records),
        "patch_tokens_shape": token_shape,
        "image_size": image_size,
        "device": device,
        "versions": versions,
        "root": str(root) if root is not None else None,
        "identity": identity,
        "images": [{"path": r.path, "label": r.label} for r in records],
    }


def load_extracted(
    out: str | os.PathLike, mmap_mode: str | None = None
) -> tuple[np.ndarray, list[str], list[str | None], dict[str, Any]]:
    """Read a finished :func:`extract_features` output.

    Args:
        out: the output folder.
        mmap_mode: ``"r"`` to memory-map the features instead of reading them.

    Returns:
        ``(features [N, D] float32, paths, labels, manifest)``: ``paths`` as in the manifest
        (relative to ``manifest["root"]`` for a folder input), ``labels`` ``None`` where unknown.
        A random-init backbone's features are warned about.
    """
    out = Path(out).expanduser()
    manifest = _read_json(out / "manifest.json")
    if manifest is None:
        hint = " (an unfinished extraction is there: rerun extract_features)" if (out / _PARTIAL).is_dir() else ""
        raise DataError(f"{out}: no manifest.json, so no finished feature extraction{hint}")
    if manifest.get("format") != _FORMAT:
        raise DataError(f"{out / 'manifest.json'}: format {manifest.get('format')!r}, expected {_FORMAT!r}")
    features = np.load(out / "features.npy", mmap_mode=mmap_mode)
    entries = manifest["images"]
    if features.shape != (len(entries), manifest["feature_dim"]):
        raise DataError(f"{out}: features.npy has shape {features.shape}, manifest says {len(entries)} images")
    if manifest["weights"].get("random_init"):
        warnings.warn(
            f"{out}: features of a RANDOMLY INITIALISED {manifest['backbone']}, useless for real experiments",
            UserWarning,
            stacklevel=2,
        )
    return features, [e["path"] for e in entries], [e["label"] for e in entries], manifest


def load_patch_tokens(out: str | os.PathLike, mmap_mode: str | None = "r") -> np.ndarray:
    """The patch tokens ``[N, T, C]`` of a finished extraction (memory-mapped by default: they are large)."""
    path = Path(out).expanduser() / "patch_tokens.npy"
    if not path.is_file():
        raise DataError(f"{path}: no patch tokens (extract with patch_tokens=True)")
    return np.load(path, mmap_mode=mmap_mode)
