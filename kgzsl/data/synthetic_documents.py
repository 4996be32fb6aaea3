"""Synthetic class documents and patch-token images in which some words are visible and others are not.

The stand-in for document-based ZSL (I2DFormer, Naeem et al., NeurIPS 2022; EmDepart, Qu et al.,
ACM MM 2024; MADS, Qu et al., arXiv 2503.06847, 2025) on machines without image features. Each
class has a document of sentences: *visual* sentences about its colour, shape and pattern
name a few words of a shared visual vocabulary, and each such word is **visually grounded**: a
patch-level prototype (a hidden linear function of the word's vector) appears in the patch
tokens of that class's images; *noise* sentences (naming, history) name words of a shared noise
vocabulary that no image shows, as encyclopedia articles do ("Africa", "Linnaeus"). Each noise
word is in a few classes' documents, so on the seen classes it goes with some visual words by
chance, and a model may learn that spurious link; unseen classes combine the same visual words
and the same noise words differently, so a model that reads the grounded words transfers and one
that leans on the noise words is misled.

Feature rows are ``[global embedding ; flattened patch tokens]``: ``token_dim`` global values
(the mean of the patches, plus noise) then ``tokens × token_dim`` patch values, the layout the
``mads`` method reads with ``tokens`` / ``token_dim``. Word vectors are
:func:`hashed_word_vectors` (the ``mads`` method's ``words: hashed``). Every report made from
these features says "synthetic features".

Write the documents for a config with ``python -m kgzsl.data.synthetic_documents OUT.json``
(the dataset's parameters as ``--seed`` etc.).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kgzsl.data.dataset import ZSLDataset, check_ranges, standard_splits
from kgzsl.errors import ConfigError
from kgzsl.registry import DATASETS, Component

__all__ = ["SyntheticDocuments", "DocumentWorld", "document_world", "hashed_word_vectors", "write_documents"]

_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
#: the visual sentences' frames, one per attribute group (the words ``colour``, ``shape`` and
#: ``pattern`` put them in those attribute views of a document)
_VISUAL_FRAMES = ("Its colour is {}.", "Its shape is {}.", "Its pattern is {}.")
#: noise sentences: nothing an image shows
_NOISE_FRAMES = (
    "The name {} was first used by early writers.",
    "It was described in {} by a travelling scholar.",
    "Old stories from {} mention it.",
    "Its name comes from the word {}.",
)


def hashed_word_vectors(words: Sequence[str], dim: int, seed: int = 0) -> np.ndarray:
    """A random token table keyed by each word's text: ``[len(words), dim]`` float32, unit rows.

    The vector of a word depends only on the word, ``dim`` and ``seed`` (its SHA-256 seeds
    NumPy's generator), so every process, and the dataset and the model, agree on it
    without a file.
    """
    out = np.empty((len(words), dim), dtype=np.float32)
    for i, word in enumerate(words):
        digest = hashlib.sha256(f"{seed}:{word}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        v = rng.standard_normal(dim)
        out[i] = v / np.linalg.norm(v)
    return out


def _pseudo_words(rng: np.random.Generator, n: int, taken: set[str]) -> list[str]:
    """``n`` new pronounceable lower-case words (three syllables), none in ``taken``."""
    words: list[str] = []
    while len(words) < n:
        w = "".join(rng.choice(list(_CONSONANTS)) + rng.choice(list(_VOWELS)) for _ in range(3))
        if w not in taken:
            taken.add(w)
            words.append(w)
    return words


@dataclass
class DocumentWorld:
    """The hidden generator of a synthetic document dataset (what :func:`document_world` draws).

    Shapes:
        prototypes: ``[V, token_dim]`` the patch prototype of each visual word.
        class_visual: ``[C, K]`` indices into ``visual_words`` of each class's grounded words.
    """

    class_ids: list[str]
    documents: dict[str, str]
    visual_words: list[str]
    noise_words: dict[str, list[str]]
    class_visual: np.ndarray
    prototypes: np.ndarray


def document_world(
    n_seen: int = 24,
    n_unseen: int = 8,
    n_visual_words: int = 24,
    visual_per_class: int = 3,
    noise_per_class: int = 6,
    n_noise_words: int = 60,
    token_dim: int = 32,
    word_dim: int = 32,
    seed: int = 0,
) -> DocumentWorld:
    """Classes, their documents and the visual words' patch prototypes (seeded by ``seed``).

    Each class gets ``visual_per_class`` distinct visual words (no two classes the same set),
    one visual sentence per word, and ``noise_per_class`` words of the ``n_noise_words`` noise
    vocabulary in noise sentences, the sentences shuffled. A visual word's prototype is
    ``H v_w`` (unit norm), ``v_w`` its :func:`hashed_word_vectors` row in ``word_dim``
    dimensions and ``H`` a hidden random ``[token_dim, word_dim]`` map.
    """
    rng = np.random.default_rng(seed)
    n_classes = n_seen + n_unseen
    taken: set[str] = set()
    visual = _pseudo_words(rng, n_visual_words, taken)
    noise_vocabulary = _pseudo_words(rng, n_noise_words, taken)
    sets: list[tuple[int, ...]] = []
    seen_sets: set[tuple[int, ...]] = set()
    while len(sets) < n_classes:
        s = tuple(sorted(rng.choice(n_visual_words, size=visual_per_class, replace=False).tolist()))
        if s not in seen_sets:
            seen_sets.add(s)
            sets.append(s)
    class_ids = [f"class{i:03d}" for i in range(n_classes)]
    documents: dict[str, str] = {}
    noise: dict[str, list[str]] = {}
    for c, cid in enumerate(class_ids):
        words = [noise_vocabulary[j] for j in rng.choice(n_noise_words, size=noise_per_class, replace=False)]
        noise[cid] = words
        sentences = [_VISUAL_FRAMES[k % len(_VISUAL_FRAMES)].format(visual[w]) for k, w in enumerate(sets[c])]
        sentences += [_NOISE_FRAMES[k % len(_NOISE_FRAMES)].format(w) for k, w in enumerate(words)]
        order = rng.permutation(len(sentences))
        documents[cid] = " ".join(sentences[i] for i in order)
    hidden = rng.normal(0.0, 1.0 / np.sqrt(word_dim), size=(token_dim, word_dim))
    prototypes = hashed_word_vectors(visual, word_dim) @ hidden.T
    prototypes /= np.linalg.norm(prototypes, axis=1, keepdims=True)
    return DocumentWorld(class_ids, documents, visual, noise, np.array(sets, dtype=np.int64), prototypes)


def write_documents(path: str | Path, **params: Any) -> Path:
    """Write the documents of :func:`document_world` (``params``) as ``{class id: text}`` JSON; returns the path.

    The layout of the EmDepart / MADS release, read by ``kgzsl.language.documents.read_documents``.
    """
    path = Path(path).expanduser()
    world = document_world(**params)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(world.documents, indent=1), encoding="utf-8")
    tmp.replace(path)
    return path


@DATASETS.register("synthetic_documents")
class SyntheticDocuments(Component):
    """Patch-token images of classes with documents whose visual words are grounded in patches.

    See the module docstring. Each image has ``tokens`` patch tokens: each of its class's
    visual words shows its prototype (scaled by ``signal``) in ``patches_per_word`` random
    patches, every patch gets Gaussian noise of scale ``spread``, and the global embedding is the
    patches' mean plus the same noise. The class documents are :func:`write_documents` with the
    same parameters; the dataset also ships ``semantics["visual_words"]``, the ``[C, V]``
    binary class–visual-word matrix (the ground truth, for reference methods such as ESZSL).

    Args:
        n_seen: seen classes.
        n_unseen: unseen classes.
        n_visual_words: size of the shared visual vocabulary.
        visual_per_class: grounded words of each class.
        noise_per_class: noise words of each class (in noise sentences), drawn from a shared
            noise vocabulary of ``n_noise_words``.
        n_noise_words: size of the noise vocabulary.
        tokens: patch tokens per image.
        token_dim: dimension of a patch token (and of the global embedding).
        word_dim: dimension of the hashed word vectors the prototypes are made from.
        images_per_class: images of each class.
        patches_per_word: patches showing each visual word in an image.
        signal: prototype amplitude.
        spread: noise scale.
        test_fraction: share of each seen class's images held out as ``test_seen``.
        val_class_fraction: share of seen classes held out as ``val`` for model selection.
        seed: seed of the classes, documents, images and splits.
    """

    def __init__(
        self,
        n_seen: int = 24,
        n_unseen: int = 8,
        n_visual_words: int = 24,
        visual_per_class: int = 3,
        noise_per_class: int = 6,
        n_noise_words: int = 60,
        tokens: int = 8,
        token_dim: int = 32,
        word_dim: int = 32,
        images_per_class: int = 30,
        patches_per_word: int = 1,
        signal: float = 1.0,
        spread: float = 0.15,
        test_fraction: float = 0.2,
        val_class_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        self.n_seen = n_seen
        self.n_unseen = n_unseen
        self.n_visual_words = n_visual_words
        self.visual_per_class = visual_per_class
        self.noise_per_class = noise_per_class
        self.n_noise_words = n_noise_words
        self.tokens = tokens
        self.token_dim = token_dim
        self.word_dim = word_dim
        self.images_per_class = images_per_class
        self.patches_per_word = patches_per_word
        self.signal = signal
        self.spread = spread
        self.test_fraction = test_fraction
        self.val_class_fraction = val_class_fraction
        self.seed = seed

    @classmethod
    def check_config(cls, params: dict[str, Any]) -> None:
        """Refuse out-of-range or inconsistent parameters (``dataset.KEY`` in the message)."""
        check_ranges(
            params,
            positive=["tokens", "signal", "spread", "visual_per_class", "patches_per_word"],
            non_negative=["seed", "noise_per_class"],
            open_unit=["test_fraction", "val_class_fraction"],
        )
        k, v = params.get("visual_per_class"), params.get("n_visual_words")
        if isinstance(k, int) and isinstance(v, int) and k > v:
            raise ConfigError(f"dataset.visual_per_class: {k} is more than n_visual_words ({v})")
        t, p = params.get("tokens"), params.get("patches_per_word")
        if isinstance(k, int) and isinstance(t, int) and isinstance(p, int) and k * p > t:
            raise ConfigError(f"dataset.tokens: {t} patches cannot show {k} words x {p} patches each")
        if isinstance(params.get("n_seen"), int) and params["n_seen"] < 2:
            raise ConfigError("dataset.n_seen: need 2+ seen classes (some are held out as validation)")

    def world_params(self) -> dict[str, Any]:
        """The parameters of :func:`document_world` (and :func:`write_documents`) for this dataset."""
        names = ("n_seen", "n_unseen", "n_visual_words", "visual_per_class", "noise_per_class", "n_noise_words")
        names += ("token_dim",)
        return {**{n: getattr(self, n) for n in names}, "word_dim": self.word_dim, "seed": self.seed}

    def load(self) -> ZSLDataset:
        self.check_config(self.get_params())
        world = document_world(**self.world_params())
        rng = np.random.default_rng(self.seed + 1)
        n_classes = len(world.class_ids)
        labels = np.repeat(np.arange(n_classes), self.images_per_class)
        n, t, d = len(labels), self.tokens, self.token_dim
        patches = self.spread * rng.standard_normal((n, t, d))
        k = world.class_visual.shape[1]
        for i, c in enumerate(labels):
            where = rng.permutation(t)[: k * self.patches_per_word].reshape(k, self.patches_per_word)
            for j, w in enumerate(world.class_visual[c]):
                patches[i, where[j]] += self.signal * world.prototypes[w]
        glob = patches.mean(1) + self.spread * rng.standard_normal((n, d))
        features = np.concatenate([glob, patches.reshape(n, t * d)], axis=1).astype(np.float32)
        seen = np.arange(self.n_seen)
        unseen = np.arange(self.n_seen, n_classes)
        semantics = np.zeros((n_classes, len(world.visual_words)), dtype=np.float32)
        semantics[np.arange(n_classes)[:, None], world.class_visual] = 1.0
        splits = standard_splits(labels, seen, None, self.test_fraction, self.val_class_fraction, seed=self.seed + 2)
        return ZSLDataset(
            name=f"synthetic_documents:seed{self.seed}",
            features=features,
            labels=labels,
            class_ids=world.class_ids,
            seen=seen,
            unseen=unseen,
            splits=splits,
            semantics={"visual_words": semantics},
            synthetic=True,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kgzsl.data.synthetic_documents OUT.json [--seed N ...]``: write the documents."""
    parser = argparse.ArgumentParser(prog="python -m kgzsl.data.synthetic_documents", description=main.__doc__)
    parser.add_argument("out", help="the JSON file to write ({class id: document})")
    defaults = SyntheticDocuments().world_params()
    for name, value in defaults.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=value)
    args = vars(parser.parse_args(argv))
    out = args.pop("out")
    print(write_documents(out, **args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
