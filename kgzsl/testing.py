"""Tiny toy fixtures for tests and examples (in the spirit of PyG's ``FakeDataset``).

Everything here is small enough for a unit test to train a method in well under a second.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from kgzsl.data.dataset import ZSLDataset, standard_splits
from kgzsl.data.synthetic import synthesize_features

__all__ = [
    "TOY_TTL",
    "TOY_CLASSES",
    "TINY_GLOVE",
    "TINY_CLIP_CONFIG",
    "write_toy_kg",
    "write_tiny_glove",
    "write_tiny_clip",
    "toy_dataset",
    "toy_task",
]

#: the toy ontology's leaf classes; the last three are unseen
TOY_CLASSES = ["cat", "lion", "dog", "wolf", "horse", "zebra", "eagle", "owl", "tiger", "fox", "penguin"]

TOY_TTL = """\
@prefix t: <http://example.org/toy#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .

t:Animal a owl:Class ; rdfs:label "animal" .
t:Mammal a owl:Class ; rdfs:subClassOf t:Animal .
t:Bird a owl:Class ; rdfs:subClassOf t:Animal .
t:Felid a owl:Class ; rdfs:subClassOf t:Mammal .
t:Canid a owl:Class ; rdfs:subClassOf t:Mammal .
t:Equid a owl:Class ; rdfs:subClassOf t:Mammal .
t:cat a owl:Class ; rdfs:subClassOf t:Felid ; rdfs:label "cat" ; t:has t:fur, t:small, t:whiskers, t:claws .
t:lion a owl:Class ; rdfs:subClassOf t:Felid ; rdfs:label "lion" ; t:has t:fur, t:big, t:mane, t:claws, t:yellow .
t:tiger a owl:Class ; rdfs:subClassOf t:Felid ; rdfs:label "tiger" ; t:has t:fur, t:big, t:stripes, t:claws, t:orange .
t:dog a owl:Class ; rdfs:subClassOf t:Canid ; rdfs:label "dog" ; t:has t:fur, t:small, t:tail, t:domestic .
t:wolf a owl:Class ; rdfs:subClassOf t:Canid ; rdfs:label "wolf" ; t:has t:fur, t:tail, t:gray, t:claws .
t:fox a owl:Class ; rdfs:subClassOf t:Canid ; rdfs:label "fox" ; t:has t:fur, t:small, t:tail, t:orange .
t:horse a owl:Class ; rdfs:subClassOf t:Equid ; rdfs:label "horse" ; t:has t:hooves, t:big, t:mane, t:domestic .
t:zebra a owl:Class ; rdfs:subClassOf t:Equid ; rdfs:label "zebra" ; t:has t:hooves, t:big, t:stripes, t:mane .
t:eagle a owl:Class ; rdfs:subClassOf t:Bird ; rdfs:label "eagle" ; t:has t:feathers, t:beak, t:claws, t:flies .
t:owl a owl:Class ; rdfs:subClassOf t:Bird ; rdfs:label "owl" ; t:has t:feathers, t:beak, t:flies, t:gray .
t:penguin a owl:Class ; rdfs:subClassOf t:Bird ; rdfs:label "penguin" ; t:has t:feathers, t:beak, t:swims .
"""


def write_toy_kg(path: str | Path) -> Path:
    """Write the toy ontology (11 classes, 3 levels, 18 attributes) as Turtle to ``path``."""
    path = Path(path)
    path.write_text(TOY_TTL, encoding="utf-8")
    return path


def toy_dataset(seed: int = 0, n_features: int = 16, images_per_class: tuple[int, int] = (12, 24)) -> ZSLDataset:
    """A tiny synthetic dataset over :data:`TOY_CLASSES` (8 seen, 3 unseen), random binary semantics."""
    rng = np.random.default_rng(seed)
    n_classes = len(TOY_CLASSES)
    semantics = (rng.random((n_classes, 10)) < 0.4).astype(np.float32)
    semantics[np.arange(n_classes), rng.integers(0, 10, n_classes)] = 1.0
    sizes = rng.integers(images_per_class[0], images_per_class[1] + 1, size=n_classes)
    features, labels = synthesize_features(semantics, sizes, n_features, hidden=16, spread=0.3, seed=seed + 1)
    seen = np.arange(8)
    return ZSLDataset(
        name="toy",
        features=features,
        labels=labels,
        class_ids=list(TOY_CLASSES),
        seen=seen,
        unseen=np.arange(8, n_classes),
        splits=standard_splits(labels, seen, seed=seed + 2),
        semantics={"attributes": semantics},
        synthetic=True,
    )


def toy_task(seed: int = 0, device: Any = "cpu", split: str = "trainval") -> Any:
    """A :class:`~kgzsl.methods.base.ZSLTask` from :func:`toy_dataset` (``split`` images as training data).

    With ``split="train"`` the task's unseen classes are the validation classes, as in model selection.
    """
    import torch

    from kgzsl.methods.base import ZSLTask

    ds = toy_dataset(seed)
    idx = ds.splits[split]
    if split == "train":
        seen, unseen = ds.train_classes, ds.val_classes
    else:
        seen, unseen = ds.seen, ds.unseen
    return ZSLTask(
        features=torch.as_tensor(ds.features[idx], device=device),
        labels=torch.as_tensor(ds.labels[idx], device=device),
        semantics=torch.as_tensor(ds.semantics["attributes"], device=device),
        seen=torch.as_tensor(seen, device=device),
        unseen=torch.as_tensor(unseen, device=device),
    )


#: 4-d hand-made word vectors over the toy classes, one axis per group (felid, canid,
#: equid, bird), plus a few other words
TINY_GLOVE = {
    "cat": [0.9, 0.1, 0.0, 0.0],
    "lion": [1.0, 0.0, 0.1, 0.0],
    "tiger": [0.95, 0.05, 0.05, 0.0],
    "dog": [0.1, 0.9, 0.0, 0.0],
    "wolf": [0.0, 1.0, 0.1, 0.0],
    "fox": [0.1, 0.9, 0.0, 0.1],
    "horse": [0.0, 0.1, 1.0, 0.0],
    "zebra": [0.1, 0.0, 0.9, 0.0],
    "eagle": [0.0, 0.0, 0.0, 1.0],
    "owl": [0.1, 0.0, 0.0, 0.9],
    "penguin": [0.0, 0.0, 0.1, 0.8],
    "whale": [0.0, 0.0, 0.3, 0.1],
    "big": [0.5, 0.5, 0.5, 0.5],
}


def write_tiny_glove(path: str | Path, header: bool = False, words: dict | None = None) -> Path:
    """A GloVe text file (``word v1 .. vd`` per line), with a word2vec ``count dim`` header if asked."""
    words = TINY_GLOVE if words is None else words
    lines = [f"{len(words)} {len(next(iter(words.values())))}"] if header else []
    lines += [w + " " + " ".join(f"{x:.6f}" for x in v) for w, v in words.items()]
    path = Path(path)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


#: a tiny open_clip architecture: the standard 49,408-token BPE vocabulary (the tokenizer
#: needs it), one 16-wide layer per tower, 16-token context; it builds in milliseconds
TINY_CLIP_CONFIG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 16, "patch_size": 16, "head_width": 8},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1},
}


def write_tiny_clip(folder: str | Path, name: str = "kgzsl-tiny-clip", seed: int = 1) -> dict:
    """A tiny CLIP config ``<name>.json`` and a checkpoint of random weights (``seed``).

    Returns:
        ``{"arch": config path, "weights": checkpoint path}``, the parameters of ``clip_text``.
    """
    import open_clip
    import torch

    folder = Path(folder)
    config = folder / f"{name}.json"
    config.write_text(json.dumps(TINY_CLIP_CONFIG), encoding="utf-8")
    open_clip.add_model_config(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = open_clip.create_model(name, pretrained=None)
    weights = folder / f"{name}.pt"
    torch.save(model.state_dict(), weights)
    return {"arch": str(config), "weights": str(weights)}
