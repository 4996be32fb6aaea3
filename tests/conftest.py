"""Shared fixtures: the toy data of ``kgzsl.testing`` and the real data of ``$KGZSL_SHARED_DATA``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Tests never write to the user's ``~/.cache/kgzsl``."""
    monkeypatch.setenv("KGZSL_CACHE", str(tmp_path_factory.getbasetemp() / "kgzsl-cache"))


@pytest.fixture
def shared_data() -> Path:
    """``$KGZSL_SHARED_DATA``; skip when unset, fail when ``KGZSL_REQUIRE_SHARED_DATA=1`` (CI)."""
    value = os.environ.get("KGZSL_SHARED_DATA")
    required = os.environ.get("KGZSL_REQUIRE_SHARED_DATA") == "1"
    if not value or not Path(value).is_dir():
        message = f"shared benchmark data not found (KGZSL_SHARED_DATA={value!r})"
        if required:
            pytest.fail(message + " but KGZSL_REQUIRE_SHARED_DATA=1")
        pytest.skip(message)
    return Path(value).resolve()  # absolute, so that symlinks made by tests point right


@pytest.fixture
def toy_kg_file(tmp_path: Path) -> Path:
    from kgzsl.testing import write_toy_kg

    return write_toy_kg(tmp_path / "toy.ttl")


@pytest.fixture(scope="session")
def wordnet():
    """WordNet 3.0 of ``wordnet-base``; skipped when absent unless ``KGZSL_REQUIRE_WORDNET=1`` (CI)."""
    from kgzsl.knowledge.wordnet import DEFAULT_WORDNET, WordNet

    path = Path(os.environ.get("KGZSL_WORDNET") or DEFAULT_WORDNET)
    if not path.exists():
        message = f"WordNet 3.0 not found at {path} (apt-get install wordnet-base, or set KGZSL_WORDNET)"
        if os.environ.get("KGZSL_REQUIRE_WORDNET") == "1":
            pytest.fail(message + " but KGZSL_REQUIRE_WORDNET=1")
        pytest.skip(message)
    return WordNet.load(path)


# --- parameters of components that need a file to build (their ``needs_fixture``) ---------


@pytest.fixture
def clip_text_params(tmp_path: Path) -> dict:
    """A tiny open_clip config and a checkpoint of its random weights."""
    from kgzsl.testing import write_tiny_clip

    return write_tiny_clip(tmp_path)


@pytest.fixture
def word_vectors_params(tmp_path: Path) -> dict:
    """A tiny GloVe text file over the toy classes."""
    from kgzsl.testing import write_tiny_glove

    return {"path": str(write_tiny_glove(tmp_path / "glove.txt"))}


@pytest.fixture
def image_folder_params(shared_data: Path, tmp_path: Path) -> dict:
    """Links to the 3 real AwA2 photos in 3 class folders; the tiny open_clip ViT with random weights."""
    photos = shared_data / "images" / "awa2"
    for cls, numbers in {"cat": (1, 2, 3), "dog": (3, 1, 2), "zebra": (1, 2)}.items():
        (tmp_path / cls).mkdir()
        for i in numbers:
            (tmp_path / cls / f"{i}.jpg").symlink_to(photos / f"{i}.jpg")
    return {
        "root": str(tmp_path),
        "seen": ["cat", "dog"],
        "unseen": ["zebra"],
        "backbone": "open_clip:kgzsl-tiny-vit",
        "progress": False,
    }


@pytest.fixture
def precomputed_params(tmp_path: Path) -> dict:
    """A tiny ``.npy`` of class embeddings over the toy classes (rows shuffled) and its ids file."""
    import numpy as np

    from kgzsl.testing import TOY_CLASSES

    order = list(reversed(TOY_CLASSES))
    np.save(tmp_path / "emb.npy", np.random.default_rng(0).random((len(order), 6)).astype(np.float32))
    (tmp_path / "emb_ids.txt").write_text("\n".join(order) + "\n")
    return {"path": str(tmp_path / "emb.npy"), "ids": str(tmp_path / "emb_ids.txt")}


@pytest.fixture
def clip_zeroshot_params(tmp_path: Path, monkeypatch) -> dict:
    """The contract's parameters of ``clip_zeroshot`` (its ``needs_fixture``): the tiny CLIP's
    config and weights; the contract task's features replaced by CLIP-like ones made from that
    tower's own text embeddings (the toy features mean nothing to a text tower)."""
    import torch

    import kgzsl.testing as testing
    from kgzsl.language.prompts import TextTower, class_names, encode_grid, name_prompts

    params = testing.write_tiny_clip(tmp_path)
    tower = TextTower(params["arch"], params["weights"])
    emb = encode_grid(name_prompts(class_names(testing.TOY_CLASSES), ["{}"]), tower)[0]  # [C, D]
    original = testing.contract_task

    def contract_task(method=None, seed=0):
        task, test, labels = original(method, seed)
        g = torch.Generator().manual_seed(seed)
        task.class_ids, task.feature_backbone = list(testing.TOY_CLASSES), "open_clip:kgzsl-tiny-clip"
        task.features = emb[task.labels] + 0.02 * torch.randn(len(task.labels), emb.shape[1], generator=g)
        test = emb[torch.as_tensor(labels)] + 0.02 * torch.randn(len(labels), emb.shape[1], generator=g)
        return task, test, labels

    monkeypatch.setattr(testing, "contract_task", contract_task)
    return {**params, "prompts": "names"}
