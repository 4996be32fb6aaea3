"""Prompts for CLIP zero-shot classifiers, from class names and from what a knowledge graph,
an attribute list, class descriptions or class documents say about each class.

A prompt source gives a :class:`PromptGrid`: ``P`` prompts ("templates") by ``C`` classes,
each cell a list of strings. The text tower embeds every string; a cell's embedding is the
normalised mean of its strings' unit embeddings, so a grid becomes ``[P, C, D]`` unit
vectors (:func:`encode_grid`). Prompts are then combined per class by template ensembling
(the normalised mean over ``P``: Radford et al., ICML 2021, "Learning Transferable Visual
Models From Natural Language Supervision") or by the zero-shot prompt weighting of
:mod:`kgzsl.language.weighting`.

Sources (``P`` prompts each):

* ``names``: the readable class name alone (``P = 1``).
* ``templates``: CLIP's 80 ImageNet templates over the name (``P = 80``); ``short``: the
  7 templates CLIP's authors chose from those 80 for ImageNet (``P = 7``).
* ``kg_labels``: the class's ``rdfs:label`` names in the knowledge graph, in each template
  (a cell averages the class's synonyms).
* ``kg_literals``: every string literal of the class's KG entity (``P = 1``).
* ``attributes``: ``"a photo of a {name}, which has {attribute}."`` for the class's
  attributes, from the KG's class-attribute triples or the dataset's attribute matrix
  (``P = 1``; a cell averages the class's attribute phrases).
* ``descriptions``: descriptor JSON ``{class: [descriptions]}`` as Menon & Vondrick
  (ICLR 2023, "Visual Classification via Description from Large Language Models") write
  them, ``"{name}, which (is/has/etc) {description}."`` (``P = 1``).
* ``documents``: the sentences of one document per class (the EmDepart / MADS documents),
  read with :func:`kgzsl.language.documents.read_documents` (``P = 1``; CLIP truncates each
  sentence to its context length).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kgzsl.errors import ConfigError, DataError

if TYPE_CHECKING:
    import torch

    from kgzsl.knowledge.store import KnowledgeGraph

__all__ = [
    "IMAGENET_TEMPLATES",
    "SHORT_TEMPLATES",
    "TEMPLATE_SETS",
    "ATTRIBUTE_TEMPLATE",
    "DESCRIPTION_TEMPLATE",
    "SOURCES",
    "PromptGrid",
    "templates_for",
    "class_names",
    "name_prompts",
    "kg_label_prompts",
    "kg_literal_prompts",
    "attribute_prompts",
    "kg_attributes",
    "matrix_attributes",
    "read_attribute_names",
    "description_prompts",
    "document_prompts",
    "TextTower",
    "reuse_text_towers",
    "encode_grid",
]

#: the 80 prompt templates of CLIP's ImageNet zero-shot evaluation (Radford et al., 2021)
IMAGENET_TEMPLATES: tuple[str, ...] = (
    "a bad photo of a {}.",
    "a photo of many {}.",
    "a sculpture of a {}.",
    "a photo of the hard to see {}.",
    "a low resolution photo of the {}.",
    "a rendering of a {}.",
    "graffiti of a {}.",
    "a bad photo of the {}.",
    "a cropped photo of the {}.",
    "a tattoo of a {}.",
    "the embroidered {}.",
    "a photo of a hard to see {}.",
    "a bright photo of a {}.",
    "a photo of a clean {}.",
    "a photo of a dirty {}.",
    "a dark photo of the {}.",
    "a drawing of a {}.",
    "a photo of my {}.",
    "the plastic {}.",
    "a photo of the cool {}.",
    "a close-up photo of a {}.",
    "a black and white photo of the {}.",
    "a painting of the {}.",
    "a painting of a {}.",
    "a pixelated photo of the {}.",
    "a sculpture of the {}.",
    "a bright photo of the {}.",
    "a cropped photo of a {}.",
    "a plastic {}.",
    "a photo of the dirty {}.",
    "a jpeg corrupted photo of a {}.",
    "a blurry photo of the {}.",
    "a photo of the {}.",
    "a good photo of the {}.",
    "a rendering of the {}.",
    "a {} in a video game.",
    "a photo of one {}.",
    "a doodle of a {}.",
    "a close-up photo of the {}.",
    "a photo of a {}.",
    "the origami {}.",
    "the {} in a video game.",
    "a sketch of a {}.",
    "a doodle of the {}.",
    "a origami {}.",
    "a low resolution photo of a {}.",
    "the toy {}.",
    "a rendition of the {}.",
    "a photo of the clean {}.",
    "a photo of a large {}.",
    "a rendition of a {}.",
    "a photo of a nice {}.",
    "a photo of a weird {}.",
    "a blurry photo of a {}.",
    "a cartoon {}.",
    "art of a {}.",
    "a sketch of the {}.",
    "a embroidered {}.",
    "a pixelated photo of a {}.",
    "itap of the {}.",
    "a jpeg corrupted photo of the {}.",
    "a good photo of a {}.",
    "a plushie {}.",
    "a photo of the nice {}.",
    "a photo of the small {}.",
    "a photo of the weird {}.",
    "the cartoon {}.",
    "art of the {}.",
    "a drawing of the {}.",
    "a photo of the large {}.",
    "a black and white photo of a {}.",
    "the plushie {}.",
    "a dark photo of a {}.",
    "itap of a {}.",
    "graffiti of the {}.",
    "a toy {}.",
    "itap of my {}.",
    "a photo of a cool {}.",
    "a photo of a small {}.",
    "a tattoo of the {}.",
)

#: the 7 of the 80 that CLIP's authors selected for their ImageNet ensemble
SHORT_TEMPLATES: tuple[str, ...] = (
    "itap of a {}.",
    "a bad photo of the {}.",
    "a origami {}.",
    "a photo of the large {}.",
    "a {} in a video game.",
    "art of the {}.",
    "a photo of the small {}.",
)

#: named template sets: ``none`` is the bare text, ``single`` CLIP's one default prompt
TEMPLATE_SETS: dict[str, tuple[str, ...]] = {
    "none": ("{}",),
    "single": ("a photo of a {}.",),
    "short": SHORT_TEMPLATES,
    "imagenet": IMAGENET_TEMPLATES,
}

ATTRIBUTE_TEMPLATE = "a photo of a {name}, which has {attribute}."
DESCRIPTION_TEMPLATE = "{name}, which (is/has/etc) {text}."

#: the prompt sources, in the order of the comparison table
SOURCES = ("names", "templates", "short", "kg_labels", "kg_literals", "attributes", "descriptions", "documents")


@dataclass
class PromptGrid:
    """``P`` prompts by ``C`` classes; each cell the strings whose embeddings are averaged.

    Attributes:
        source: the source's name (``templates``, ``documents``, ...).
        prompt_names: the ``P`` prompts' names (a template, or the source's name).
        texts: ``texts[p][c]``, the strings of prompt ``p`` for class ``c`` (never empty).
    """

    source: str
    prompt_names: list[str]
    texts: list[list[list[str]]]

    @property
    def num_prompts(self) -> int:
        return len(self.texts)

    @property
    def num_classes(self) -> int:
        return len(self.texts[0]) if self.texts else 0

    def strings(self) -> list[str]:
        """Every distinct string of the grid, in first-seen order (each is embedded once)."""
        return list(dict.fromkeys(s for row in self.texts for cell in row for s in cell))


def templates_for(templates: str | Sequence[str]) -> tuple[str, ...]:
    """A named template set (:data:`TEMPLATE_SETS`) or a list of templates with ``{}``."""
    if isinstance(templates, str):
        if templates not in TEMPLATE_SETS:
            raise ConfigError(f"templates: unknown set {templates!r}; valid: {', '.join(TEMPLATE_SETS)} or a list")
        return TEMPLATE_SETS[templates]
    out = tuple(templates)
    if not out:
        raise ConfigError("templates: give at least one template")
    for t in out:
        if not isinstance(t, str) or "{}" not in t:
            raise ConfigError(f"templates: template {t!r} has no '{{}}' where the class name goes")
    return out


def class_names(class_ids: Sequence[str], label_map: str | os.PathLike | None = None) -> list[str]:
    """Readable class names: ``killer+whale`` → ``killer whale``, ``002.Laysan_Albatross`` →
    ``Laysan Albatross``; with ``label_map`` (a JSON ``{label or class id: name}`` such as
    FLO's ``FLO_label_to_category_name.json``), ``FLO_007`` or ``7`` → ``moon orchid``."""
    from kgzsl.semantics.text import readable_name

    names = [readable_name(c) for c in class_ids]
    if label_map is None:
        return names
    from kgzsl.language.documents import read_label_map

    data = read_label_map(Path(label_map).expanduser())
    out = []
    for cid, name in zip(class_ids, names):
        number = re.search(r"(\d+)$", cid)
        keys = [cid, name] + ([str(int(number.group(1)))] if number else [])
        found = next((data[k] for k in keys if k in data), None)
        if found is None:
            raise DataError(f"{label_map}: no name for class {cid!r} (looked up {', '.join(map(repr, keys))})")
        out.append(found.strip())
    return out


def _words(text: str) -> str:
    """KG names as words: ``grizzly_bear`` → ``grizzly bear`` (WordNet and K-ZSL write ``_`` for spaces)."""
    return re.sub(r"\s+", " ", text.replace("_", " ")).strip()


def _templated(source: str, per_class: list[list[str]], templates: Sequence[str]) -> PromptGrid:
    texts = [[[t.format(text) for text in cell] for cell in per_class] for t in templates]
    names = list(templates) if len(templates) > 1 or templates[0] != "{}" else [source]
    return PromptGrid(source, names, texts)


def name_prompts(names: Sequence[str], templates: str | Sequence[str] = "imagenet", source: str = "") -> PromptGrid:
    """Each template over each class name (``P`` = number of templates)."""
    chosen = templates_for(templates)
    return _templated(source or ("names" if chosen == ("{}",) else "templates"), [[n] for n in names], chosen)


def kg_label_prompts(
    kg: KnowledgeGraph,
    class_ids: Sequence[str],
    names: Sequence[str],
    templates: str | Sequence[str] = "imagenet",
    namespace: str | None = None,
) -> PromptGrid:
    """Each template over the class's KG labels (a class's synonyms averaged within a template).

    A class without a label in the KG keeps its readable name (the alignment itself must
    succeed: an unmatched class is an error naming it). ``namespace`` restricts the entities
    classes are aligned to (K-ZSL's AwA graph also names ConceptNet's ``grizzly_bear``).
    """
    from kgzsl.knowledge.alignment import align_classes
    from kgzsl.knowledge.texts import entity_texts

    iris = align_classes(kg, list(class_ids), namespace=namespace)
    found = entity_texts(kg, iris, texts="label", fallback=False)
    per_class = [sorted({_words(x) for x in t}) or [n] for t, n in zip(found.texts, names)]
    return _templated("kg_labels", per_class, templates_for(templates))


def kg_literal_prompts(
    kg: KnowledgeGraph, class_ids: Sequence[str], names: Sequence[str], namespace: str | None = None
) -> PromptGrid:
    """Every string literal of the class's KG entity (its names, comments, descriptions).

    Literals that do not already name the class are prefixed with it (``"zebra: a striped
    horse"``), so that a description alone still says which class it is.
    """
    from kgzsl.knowledge.alignment import normalize_label
    from kgzsl.semantics.text import class_texts

    found, _ = class_texts(kg, list(class_ids), "literals", namespace=namespace, fallback="name")
    per_class = []
    for texts, name in zip(found, names):
        cell = []
        for text in sorted({_words(t) for t in texts}):
            named = normalize_label(name) in normalize_label(text)
            cell.append(text if named else f"{name}: {text}")
        per_class.append(cell or [name])
    return PromptGrid("kg_literals", ["kg_literals"], [per_class])


def read_attribute_names(path: str | os.PathLike) -> list[str]:
    """Attribute names, one a line (``black``), or K-ZSL / AwA style ``a001<TAB>black`` / ``1 black``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such attribute names file")
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        parts = line.split(maxsplit=1)
        name = parts[1] if len(parts) == 2 and re.fullmatch(r"[A-Za-z]?\d+", parts[0]) else line
        names.append(re.sub(r"[_+]", " ", name).strip())
    if not names:
        raise DataError(f"{path}: no attribute names")
    return names


def matrix_attributes(matrix: np.ndarray, attribute_names: Sequence[str], top_k: int = 5) -> list[list[str]]:
    """Each class's ``top_k`` attributes by value in a class × attribute matrix (AwA2's ``original_att``).

    Shapes:
        matrix: ``[C, A]``, ``A = len(attribute_names)``.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != len(attribute_names):
        raise DataError(f"attributes: the matrix is {matrix.shape}, but there are {len(attribute_names)} names")
    if top_k < 1:
        raise ConfigError(f"top_attributes: must be at least 1, got {top_k}")
    out = []
    for row in matrix:
        # stable order: ties keep the attributes' own order, so the prompts repeat exactly
        order = np.argsort(-row, kind="stable")[:top_k]
        out.append([attribute_names[j] for j in order if row[j] > 0])
    return out


def kg_attributes(
    kg: KnowledgeGraph,
    class_ids: Sequence[str],
    relations: list[str] | None = None,
    namespace: str | None = None,
) -> list[list[str]]:
    """Each class's attributes from the KG's class-attribute triples, named by their labels."""
    from kgzsl.knowledge.alignment import align_classes
    from kgzsl.knowledge.matrices import class_attribute_matrix
    from kgzsl.knowledge.texts import entity_texts

    iris = align_classes(kg, list(class_ids), namespace=namespace)
    matrix, attributes = class_attribute_matrix(kg, iris, relations)
    labels = entity_texts(kg, attributes, texts="label", fallback=True).texts
    names = [_words(sorted(t)[0]) if t else a for t, a in zip(labels, attributes)]
    return [[names[j] for j in np.flatnonzero(row)] for row in matrix]


def attribute_prompts(
    names: Sequence[str], attributes: Sequence[Sequence[str]], template: str = ATTRIBUTE_TEMPLATE
) -> PromptGrid:
    """``"a photo of a {name}, which has {attribute}."`` for each of the class's attributes.

    A class without attributes keeps ``"a photo of a {name}."``.
    """
    if "{name}" not in template or "{attribute}" not in template:
        raise ConfigError(f"attribute template {template!r} needs '{{name}}' and '{{attribute}}'")
    cells = []
    for name, attrs in zip(names, attributes):
        cell = [template.format(name=name, attribute=a) for a in attrs]
        cells.append(cell or [f"a photo of a {name}."])
    return PromptGrid("attributes", ["attributes"], [cells])


def description_prompts(
    path: str | os.PathLike, names: Sequence[str], template: str = DESCRIPTION_TEMPLATE
) -> PromptGrid:
    """Descriptor JSON ``{class name: [descriptions]}`` (Menon & Vondrick's and CuPL's files),
    matched to the classes by readable name (``Black-footed Albatross`` = ``Black_footed_Albatross``).

    Raises:
        DataError: a class with no descriptions (all such classes named).
    """
    from kgzsl.semantics.text import class_texts

    if "{name}" not in template or "{text}" not in template:
        raise ConfigError(f"description template {template!r} needs '{{name}}' and '{{text}}'")
    per_class, _ = class_texts(None, list(names), "documents", documents=path)
    cells = [[template.format(name=n, text=_clause(t)) for t in texts] for n, texts in zip(names, per_class)]
    return PromptGrid("descriptions", ["descriptions"], [cells])


def _clause(text: str) -> str:
    return text.strip().rstrip(".")


def document_prompts(
    path: str | os.PathLike,
    class_ids: Sequence[str],
    names: Sequence[str],
    max_sentences: int | None = None,
) -> PromptGrid:
    """The sentences of each class's document (``max_sentences`` first ones, all by default),
    matched to the classes by ``names`` (:func:`class_names`, a label map already applied)."""
    from kgzsl.language.documents import read_documents

    if max_sentences is not None and max_sentences < 1:
        raise ConfigError(f"max_sentences: must be at least 1, got {max_sentences}")
    docs = read_documents(path, list(class_ids), class_names=list(names))
    cells = []
    for name, sentences in zip(names, docs.sentences):
        kept = [s.strip() for s in sentences if s.strip()][:max_sentences]
        cells.append(kept or [f"a photo of a {name}."])
    return PromptGrid("documents", ["documents"], [cells])


_TOWERS: contextvars.ContextVar[dict | None] = contextvars.ContextVar("kgzsl_text_towers", default=None)


@contextlib.contextmanager
def reuse_text_towers() -> Iterator[None]:
    """Inside the block, :meth:`TextTower.load` loads each (arch, weights, device) once.

    For commands that fit several CLIP methods on one model (``kgzsl clip compare``): a large
    checkpoint is read once instead of once per prompt source. Outside such a block nothing is
    kept, so a fitted method holds no text tower in memory.
    """
    token = _TOWERS.set({})
    try:
        yield
    finally:
        _TOWERS.reset(token)


class TextTower:
    """An open_clip text tower and its tokenizer, loaded once (the image tower dropped).

    Loads with the loader of the ``clip_text`` encoder (:mod:`kgzsl.semantics.text`): a local
    checkpoint file, a pretrained tag (online only), a model config ``.json``; offline errors
    are one line.

    Args:
        arch: open_clip architecture name or model config ``.json``.
        weights: checkpoint file or pretrained tag (``None``: seeded random weights, tests only).
        device: a torch device.
    """

    def __init__(self, arch: str, weights: str | None, device: Any = "cpu") -> None:
        import open_clip
        import torch

        from kgzsl.data.features import TINY_OPEN_CLIP, register_tiny_open_clip
        from kgzsl.semantics.text import clip_model

        if arch == TINY_OPEN_CLIP:
            register_tiny_open_clip()
        model, self.name = clip_model(arch, weights)
        if hasattr(model, "visual"):
            model.visual = torch.nn.Identity()  # only the text tower is used
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        try:
            self.tokenizer = open_clip.get_tokenizer(self.name)
        except Exception as e:  # HF tokenizers fail offline with various errors
            raise DataError(f"the tokenizer of {self.name!r} could not be loaded: {str(e).splitlines()[0]}") from None

    @classmethod
    def load(cls, arch: str, weights: str | None, device: Any = "cpu") -> TextTower:
        """A tower, loaded once per (arch, weights, device) inside :func:`reuse_text_towers`."""
        cache = _TOWERS.get()
        if cache is None:
            return cls(arch, weights, device)
        key = (arch, None if weights is None else str(Path(weights).expanduser().resolve()), str(device))
        if key not in cache:
            cache[key] = cls(arch, weights, device)
        return cache[key]

    @property
    def backbone(self) -> str:
        """``open_clip:ARCH``, as feature manifests name the image tower."""
        return f"open_clip:{self.name}"

    def encode(
        self, texts: Sequence[str], batch_size: int = 256, progress: Callable | None = None, trim: bool = True
    ) -> torch.Tensor:
        """Unit text embeddings ``[N, D]`` (float32, on the tower's device), ``batch_size`` texts a pass.

        With ``trim`` (and a CLIP text tower with a causal mask and end-of-text pooling, as
        CLIP's), each batch runs only up to its longest prompt's end-of-text token instead of
        the whole padded context (77 tokens, most of them padding for a template): under the
        causal mask no token attends to the padding after it, so the embeddings are those of
        ``encode_text`` (to float rounding) at a fraction of the cost.
        """
        import torch

        if batch_size < 1:
            raise ConfigError(f"batch_size: must be at least 1, got {batch_size}")
        starts = range(0, len(texts), batch_size)
        out = []
        with torch.inference_mode():
            for i in progress(starts) if progress is not None else starts:
                tokens = self.tokenizer(list(texts[i : i + batch_size])).to(self.device)
                if trim and self._can_trim():
                    out.append(self._encode_trimmed(tokens))
                else:
                    out.append(self.model.encode_text(tokens, normalize=True).float())
        return torch.cat(out) if out else torch.empty(0, 0, device=self.device)

    def _can_trim(self) -> bool:
        m = self.model
        needed = ("token_embedding", "positional_embedding", "transformer", "ln_final", "attn_mask")
        return all(getattr(m, k, None) is not None for k in needed) and getattr(m, "text_pool_type", None) in (
            "argmax",
            "eos",
        )

    def _encode_trimmed(self, tokens: torch.Tensor) -> torch.Tensor:
        """``encode_text(tokens, normalize=True)`` computed on the tokens up to the batch's last end-of-text."""
        import torch

        m = self.model
        if m.text_pool_type == "argmax":  # CLIP's end-of-text token has the largest id
            ends = tokens.argmax(dim=-1)
        else:
            ends = (tokens == m.text_eos_id).int().argmax(dim=-1)
        length = int(ends.max()) + 1
        cast = m.transformer.get_cast_dtype()
        x = m.token_embedding(tokens[:, :length]).to(cast) + m.positional_embedding[:length].to(cast)
        x = m.ln_final(m.transformer(x, attn_mask=m.attn_mask[:length, :length]))
        x = x[torch.arange(x.shape[0], device=x.device), ends]
        if m.text_projection is not None:
            x = m.text_projection(x) if isinstance(m.text_projection, torch.nn.Linear) else x @ m.text_projection
        return torch.nn.functional.normalize(x, dim=-1).float()


def encode_grid(
    grid: PromptGrid, tower: TextTower, batch_size: int = 256, progress: Callable | None = None
) -> torch.Tensor:
    """The grid's cell embeddings ``[P, C, D]``: each the normalised mean of its strings' unit embeddings.

    Every distinct string is embedded once, in batches of ``batch_size``.
    """
    import torch

    strings = grid.strings()
    index = {s: i for i, s in enumerate(strings)}
    emb = tower.encode(strings, batch_size, progress)  # [S, D]
    flat = [
        (p * grid.num_classes + c, index[s])
        for p, row in enumerate(grid.texts)
        for c, cell in enumerate(row)
        for s in cell
    ]
    cells = torch.tensor([f for f, _ in flat], device=emb.device)
    rows = torch.tensor([r for _, r in flat], device=emb.device)
    out = torch.zeros(grid.num_prompts * grid.num_classes, emb.shape[1], device=emb.device)
    out.index_add_(0, cells, emb[rows])
    out = torch.nn.functional.normalize(out, dim=1)
    return out.reshape(grid.num_prompts, grid.num_classes, emb.shape[1])
