"""Class documents as knowledge: read, clean, split into sentences, align, group into attribute views.

Document-based zero-shot learning describes each class by text instead of attributes:
I2DFormer (Naeem et al., "I2DFormer: Learning Image to Document Attention for Zero-Shot Image
Classification", NeurIPS 2022) and EmDepart (Qu et al., "Visual-Semantic Decomposition and
Partial Alignment for Document-based Zero-Shot Learning", ACM MM 2024) by one encyclopedia-style
article per class; CuPL (Pratt et al., "What does a platypus look like? Generating customized
prompts for zero-shot image classification", ICCV 2023) and "classification by description"
(Menon and Vondrick, "Visual Classification via Description from Large Language Models",
ICLR 2023) by short language-model descriptors. MADS (Qu et al., "Multi-Attribute Document
Supervision for Zero-Shot Image Classification", arXiv 2503.06847, 2025) splits each document into **attribute
views**: the sentences about colour, shape, habitat ..., optionally rewritten by a language model.

Readers (:func:`read_documents`, :func:`documents_from_kg`) give a :class:`ClassDocuments` in the
dataset's class order. Layouts:

* ``{class name: text}`` JSON (the EmDepart / MADS release: ``AWA2.json``, ``FLO.json``);
* ``{class name: [sentences]}`` JSON (descriptor files such as ``descriptors_cub.json``);
* a folder of ``<class name>.txt`` files;
* the literals of the class entities of a knowledge graph (descriptions, comments; labels as a
  last resort).

The JSON and folder parsing is that of the knowledge formats ``documents`` / ``documents-dir``
(:mod:`kgzsl.knowledge.formats.documents`), which read the same files into RDF literals.

Class names are matched as KG alignment matches them
(:func:`~kgzsl.knowledge.alignment.normalize_label`: case, spaces, ``_``, ``+`` and ``-`` do
not matter, so xlsa17's ``grizzly+bear`` finds ``"grizzly bear"``), after dropping the
``NNN.`` prefix of CUB's ids (``002.Laysan_Albatross``). Datasets whose ids are numbers
(xlsa17's FLO: ``FLO_001`` ... ``FLO_102``) go through a ``label_map`` such as
``FLO_label_to_category_name.json`` (``{"1": "pink primrose", ...}``), whose keys match the
ids exactly, by name, or by the number that ends the id. Nothing is guessed: a class without a
document is one :class:`~kgzsl.errors.DataError` naming the classes (or, with
``missing="empty"``, an empty document listed in :attr:`ClassDocuments.missing`).

Each document is cleaned (:func:`clean_text`: markup, reference marks, headings; then the
sentences in which a language model talks about itself, which the partly LLM-written releases
keep) and split into sentences (:func:`split_sentences`).

Nothing here calls a remote service: a language-model rewrite of the views is a callable the
user passes (:meth:`ClassDocuments.views`), never required.
"""

from __future__ import annotations

import difflib
import html
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kgzsl.errors import ConfigError, DataError
from kgzsl.knowledge.alignment import normalize_label

if TYPE_CHECKING:
    from kgzsl.knowledge.store import KnowledgeGraph

__all__ = [
    "ATTRIBUTE_GROUPS",
    "DESCRIPTION_RELATIONS",
    "ClassDocuments",
    "Rewrite",
    "attribute_groups_from_kg",
    "clean_text",
    "dataset_class_ids",
    "documents_from_kg",
    "documents_report",
    "match_name",
    "read_documents",
    "read_label_map",
    "split_sentences",
]

#: ``rewrite(class_name, view, sentences) -> sentences``: a user's rewrite of one view (MADS
#: rewrites each attribute view with a language model; any callable will do)
Rewrite = Callable[[str, str, list[str]], list[str]]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


#: default attribute groups: view name → keywords (whole words; a plural ``s`` / ``es`` matches
#: too; ``_`` in a keyword is a space). Colour, shape, pattern, size, texture and parts describe
#: appearance; habitat, behaviour and diet the animal's life; bloom the plant's.
ATTRIBUTE_GROUPS: dict[str, tuple[str, ...]] = {
    "colour": _words(
        "colour color coloured colored colouration coloration hue shade tint tone black white grey gray "
        "brown red orange yellow green blue purple violet pink golden gold silver cream tan beige scarlet "
        "crimson magenta lavender maroon ivory blackish whitish reddish brownish yellowish greenish "
        "bluish pale dark bright vivid vibrant iridescent translucent"
    ),
    "shape": _words(
        "shape shaped form round rounded oval elongated slender lean stocky bulky bulbous pointed curved "
        "hooked flat flattened cylindrical conical tubular globular spherical triangular heart_shaped "
        "star_shaped bell_shaped cup_shaped trumpet_shaped streamlined compact symmetrical"
    ),
    "pattern": _words(
        "pattern patterned stripe striped spot spotted dot dotted speckled mottled banded band patch "
        "patches marking markings streak streaked veined vein variegated barred blotch blotched ring "
        "ringed freckled checkered"
    ),
    "size": _words(
        "size sized large small big tiny huge massive giant medium tall short long height length width "
        "weigh weighs weight inch inches cm centimetre centimeter metre meter ft pound lb kg kilogram ton "
        "tonne diameter dwarf miniature"
    ),
    "texture": _words(
        "texture fur furry hair hairy hairless skin tough_skin coat feather feathers feathered scale "
        "scaly smooth rough velvety waxy glossy shiny fuzzy downy soft leathery spiny prickly woolly wool "
        "fleshy papery"
    ),
    "parts": _words(
        "head tail leg wing beak bill horn tusk ear eye neck paw hoof hooves claw fin flipper tooth teeth "
        "snout muzzle trunk mane whisker nose body crest crown breast belly throat chest limb foot feet "
        "hand toe petal sepal stamen pistil anther leaf leaves stem stalk bud bract spathe lip centre "
        "center disc disk flower_head foliage root bulb"
    ),
    "habitat": _words(
        "habitat forest jungle rainforest woodland desert savanna savannah grassland prairie plain meadow "
        "field mountain hill arctic tundra ice ocean sea coast coastal river lake pond stream wetland "
        "marsh swamp water cave burrow den nest tree garden tropical temperate climate native region "
        "continent soil found_in lives_in live_in range"
    ),
    "behaviour": _words(
        "behaviour behavior nocturnal diurnal solitary social group herd flock pack pod colony migrate "
        "migration hibernate hibernation territorial aggressive docile timid shy playful intelligent "
        "smart active agile swim swims fly flies run runs climb climbs dig digs hop hops mate breed "
        "communicate"
    ),
    "diet": _words(
        "diet eat eats feed feeds feeding food prey hunt hunts hunting forage forages graze grazes grazer "
        "herbivore herbivorous carnivore carnivorous omnivore omnivorous insect fish meat plankton krill "
        "grass fruit seed nut berry berries vegetation nectar pollen pollinator"
    ),
    "bloom": _words(
        "bloom blooms blooming bloomed blossom flowering flowers_in fragrance fragrant scent scented "
        "annual perennial biennial evergreen deciduous"
    ),
}

_VOCAB = "https://w3id.org/kgzsl/vocab#"
#: literals read as a class's document by :func:`documents_from_kg`, in this order
DESCRIPTION_RELATIONS: tuple[str, ...] = (
    _VOCAB + "description",  # what the knowledge formats "documents" / "documents-dir" write
    "http://www.w3.org/2000/01/rdf-schema#comment",
    "http://www.w3.org/2004/02/skos/core#definition",
    "http://purl.org/dc/terms/description",
    "http://purl.org/dc/elements/1.1/description",
    "http://schema.org/description",
    "https://schema.org/description",
    "http://purl.obolibrary.org/obo/IAO_0000115",  # OBO "definition"
)

_RDFS_SUBCLASS = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
#: relations that are structure, not attribute assertions (for :func:`attribute_groups_from_kg`)
_STRUCTURAL = (
    _RDFS_SUBCLASS,
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#type",
    "http://www.w3.org/2002/07/owl#sameAs",
    "http://www.w3.org/2002/07/owl#disjointWith",
    "http://www.w3.org/2002/07/owl#equivalentClass",
)


# --- cleaning and sentences -------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2060\ufeff]")
_WIKI_SUBS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"<!--.*?-->", re.S), ""),
    (re.compile(r"<ref[^>]*/>", re.I), ""),
    (re.compile(r"<ref[^>]*>.*?</ref>", re.I | re.S), ""),
    (re.compile(r"<br\s*/?>", re.I), "\n"),
    (re.compile(r"</?(p|div|li|ul|ol|h\d)\b[^>]*>", re.I), "\n"),
    (re.compile(r"<[^<>\n]{1,200}>"), ""),
    (re.compile(r"\[\[(?:file|image|category|media):[^\[\]]*\]\]", re.I), ""),
    (re.compile(r"\[\[[^\[\]|]*\|([^\[\]]*)\]\]"), r"\1"),
    (re.compile(r"\[\[([^\[\]]*)\]\]"), r"\1"),
    (re.compile(r"\[https?://\S+\s+([^\]]*)\]"), r"\1"),
    (re.compile(r"(?:https?://|www\.)\S*[^\s.,;:!?)\]]"), ""),
    (re.compile(r"'''''|'''|''"), ""),
    (re.compile(r"\*\*(.+?)\*\*|__(.+?)__"), r"\1\2"),
    # reference marks: [1], [12], [1, 2], [3-5], [a], [note 1], [citation needed], [edit]
    (
        re.compile(
            r"\[(?:\d+(?:\s*[,–-]\s*\d+)*|[a-z]|(?:note|nb|n)\s*\d+|citation needed|clarification needed|"
            r"when\?|who\?|edit|update)\]",
            re.I,
        ),
        "",
    ),
    (re.compile(r"^\s*=+\s*[^=\n]*?\s*=+\s*$", re.M), ""),  # wiki headings are not sentences
    (re.compile(r"^\s*#{1,6}\s+.*$", re.M), ""),  # nor markdown headings
    (re.compile(r"^\s*[-=_*~]{3,}\s*$", re.M), ""),  # rules
)
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_BULLET = re.compile(r"^\s*(?:[-*•·▪–]|\d{1,3}[.)])\s+")
# a language model talking about itself or to the reader's attention, not about the class
# (FLO.json: "Sure!", "As an AI language model, I can provide ...", "Let me guide you ...")
_CHATTER = re.compile(
    r"(?i:\bas an ai\b|\blanguage model\b|\b(?:let|allow) me\b|\blet's (?:delve|dive|explore|consider|take|look)\b"
    r"|^(?:sure|certainly|of course|absolutely)\W*$|^here(?:'s|’s| is| are)\b.*:$)"
    r"|\bI(?: can| cannot| can't| hope| am|'m|'ll| will| would)\b"
)
# "nose.The" (a missing space after a full stop, as in the AWA2 documents)
_GLUED = re.compile(r"(?<=[a-z]{2}[.!?])(?=[A-Z][a-z])")

#: tokens before a full stop that do not end a sentence (lower case, without their final ".")
_ABBREVIATIONS = frozenset(
    "e.g eg i.e ie cf vs viz approx ca st mt dr mr mrs ms prof jr sr no nos sp spp subsp ssp var cv "
    "syn incl esp al gen fam ord a.k.a aka jan feb mar apr jun jul aug sep sept oct nov dec lat".split()
)
# a candidate boundary: end punctuation, closing quotes/brackets, space, then what may open a sentence
_BOUNDARY = re.compile(r"([.!?…]+)([\"'”’)\]]*)\s+(?=[\"'“‘(\[]?[A-Z0-9])")


def clean_text(text: str) -> str:
    """A document as plain text: paragraphs (one per blank-line-separated block or list item)
    separated by blank lines, single spaces within them.

    Unicode is NFKC-normalised (non-breaking spaces, ligatures) and control characters go; so
    do HTML tags and entities, wiki markup (``[[link|text]]`` keeps ``text``, ``{{templates}}``,
    ``'''bold'''``, headings, ``<ref>`` notes), reference marks (``[1]``, ``[citation
    needed]``), URLs and markdown emphasis; a full stop glued to the next sentence
    (``nose.The``) gets its space back. Headings go too: a paragraph of at most 8 words that
    ends with ``:``, or a first one without a full stop, when more text follows.

    The readers also drop the sentences in which a language model talks about itself or to
    the reader ("Sure!", "As an AI language model, I can ...", "Let me guide you ...").
    """
    text = unicodedata.normalize("NFKC", html.unescape(str(text)))
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = _CONTROL.sub("", text).replace("\t", " ")
    while True:
        stripped = _TEMPLATE.sub("", text)
        if stripped == text:
            break
        text = stripped
    for pattern, replacement in _WIKI_SUBS:
        text = pattern.sub(replacement, text)
    text = _GLUED.sub(" ", text)
    paragraphs: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        current: list[str] = []
        for line in block.split("\n"):
            if _BULLET.match(line):
                if current:
                    paragraphs.append(" ".join(current))
                current = [_BULLET.sub("", line)]
            elif line.strip():
                current.append(line)
        if current:
            paragraphs.append(" ".join(current))
    out = []
    for paragraph in paragraphs:
        paragraph = re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s+", " ", paragraph)).strip()
        paragraph = re.sub(r"\(\s*\)|\[\s*\]", "", paragraph).strip()
        if any(c.isalpha() for c in paragraph):
            out.append(paragraph)
    # headings are not sentences: a short paragraph ending with ":" ("Orange Dahlia:"), or a
    # short one without a full stop before any text ("Tiger Lily - Visual Definition"), when
    # more text follows
    kept: list[str] = []
    for i, paragraph in enumerate(out):
        short = len(paragraph.split()) <= 8 and i < len(out) - 1
        if short and (paragraph.endswith(":") or (not kept and paragraph[-1] not in ".!?…\"'”’)")):
            continue
        kept.append(paragraph)
    return "\n\n".join(kept)


def _ends_sentence(before: str, marks: str) -> bool:
    """Whether ``before`` (the text up to a full stop) ends a sentence there."""
    if "." not in marks or marks.strip(".") or len(marks) > 1:
        return True  # "!", "?", "..."
    token = before.rsplit(None, 1)[-1] if before.strip() else ""
    token = token.lstrip("\"'“‘([").lower()
    if not token:
        return True
    if token in _ABBREVIATIONS or "." in token:  # "e.g", "u.s", "a.k.a"
        return False
    return not (len(token) == 1 and token.isalpha())  # an initial: "J. R. R. Tolkien", "L."


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, in order.

    Paragraphs (blank lines) and list items always break; within a paragraph a sentence ends
    at ``.``, ``!`` or ``?`` (with any closing quotes or brackets) followed by a space and a
    capital letter or a digit, except after an abbreviation (``e.g.``, ``i.e.``, ``St.``,
    ``Mt.``, ``Dr.``, ``approx.``, ``spp.``, ``vs.``, months ...), after a dotted token
    (``U.S.``) and after an initial (``J. R. R.``). Decimals (``2.5``) never break (no space).
    Single line breaks inside a paragraph are spaces (hard-wrapped text). Pieces with no letter
    are dropped. The text is not cleaned: see :func:`clean_text`.
    """
    sentences: list[str] = []
    for block in re.split(r"\n\s*\n", str(text)):
        lines: list[str] = []
        for line in block.split("\n"):
            if _BULLET.match(line) or not lines:
                lines.append(_BULLET.sub("", line))
            else:
                lines[-1] += " " + line
        for paragraph in lines:
            paragraph = re.sub(r"\s+", " ", paragraph).strip()
            start = 0
            for m in _BOUNDARY.finditer(paragraph):
                if _ends_sentence(paragraph[start : m.start(1)], m.group(1)):
                    sentences.append(paragraph[start : m.end(2)].strip())
                    start = m.end()
            sentences.append(paragraph[start:].strip())
    return [s for s in sentences if any(c.isalpha() for c in s)]


def _document(items: Sequence[str]) -> tuple[str, list[str]]:
    """``(cleaned text, sentences)`` of a class's texts (one document, or descriptors); the
    sentences of a language model's asides leave both."""
    paragraphs = []
    for item in items:
        for paragraph in clean_text(item).split("\n\n"):
            kept = [s for s in split_sentences(paragraph) if not _CHATTER.search(s)]
            if kept:
                paragraphs.append(kept)
    sentences = [s for p in paragraphs for s in p]
    if len(items) == 1:
        return "\n\n".join(" ".join(p) for p in paragraphs), sentences
    # descriptors ("a long, hooked bill") as one text: each a sentence of its own
    return " ".join(s if s[-1] in ".!?…" else s + "." for s in sentences), sentences


# --- class names --------------------------------------------------------------------------


def match_name(name: str) -> str:
    """The key under which class names match: :func:`normalize_label` without CUB's ``NNN.``
    prefix (``002.Laysan_Albatross`` and ``Laysan Albatross`` → ``laysan albatross``)."""
    return normalize_label(re.sub(r"^\s*\d+\.(?=\D)", "", str(name)))


def _number(class_id: str) -> int | None:
    found = re.search(r"(\d+)\s*$", str(class_id))
    return int(found.group(1)) if found else None


def read_label_map(source: str | os.PathLike | Mapping[str, str]) -> dict[str, str]:
    """A label → class name map: a mapping, or a JSON file ``{label: name}`` such as
    ``FLO_label_to_category_name.json`` (a value that is not a name is an error naming the key)."""
    if isinstance(source, Mapping):
        data: Any = dict(source)
        where = "label_map"
    else:
        from kgzsl.knowledge.formats.attributes import load_json

        path = Path(source)
        data, where = load_json(path), str(path)
        if not isinstance(data, dict) or not data:
            raise DataError(f"{where}: expected a non-empty JSON object {{label: class name}}")
    for key, value in data.items():
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"{where}: label {key!r}: expected a class name, found {str(value)[:60]!r}")
    return {str(k): v for k, v in data.items()}


def _names_for(
    class_ids: Sequence[str],
    class_names: Sequence[str] | Mapping[str, str] | None,
    label_map: str | os.PathLike | Mapping[str, str] | None,
) -> list[str]:
    """The name to look up for each class id: given names, else the label map's, else the id."""
    if class_names is not None:
        if isinstance(class_names, Mapping):
            return [class_names.get(c, c) for c in class_ids]
        if isinstance(class_names, str) or len(class_names) != len(class_ids):
            raise ConfigError(
                f"class_names: expected {len(class_ids)} names (one per class id), got "
                f"{1 if isinstance(class_names, str) else len(class_names)}"
            )
        return [str(n) for n in class_names]
    if label_map is None:
        return list(class_ids)
    labels = read_label_map(label_map)
    by_key = {match_name(k): v for k, v in labels.items()}
    by_number = {int(k): v for k, v in labels.items() if k.strip().isdigit()}
    names, unmapped = [], []
    for cid in class_ids:
        number = _number(cid)
        name = labels.get(cid) or by_key.get(match_name(cid)) or (by_number.get(number) if number is not None else None)
        if name is None:
            unmapped.append(cid)
        names.append(name or cid)
    if len(unmapped) == len(class_ids):
        where = label_map if not isinstance(label_map, Mapping) else "label_map"
        raise DataError(
            f"{where}: none of the {len(class_ids)} class ids is a label of the map "
            f"(ids {', '.join(map(repr, class_ids[:3]))}; labels {', '.join(map(repr, list(labels)[:3]))})"
        )
    return names


# --- the documents ------------------------------------------------------------------------


@dataclass
class ClassDocuments:
    """One document per class of a dataset, in the dataset's class order.

    Attributes:
        class_ids: the dataset's class ids.
        names: the human-readable class names matched (the documents' keys; for KG documents a
            label of the class entity).
        texts: one cleaned document per class (``""`` for a missing one).
        sentences: each document's sentences (:func:`split_sentences`).
        source: the file or folder read, or ``"kg"``.
        missing: class ids without a document (only with ``missing="empty"``).
        unused: documents of the source that match none of the classes (other classes).
    """

    class_ids: list[str]
    names: list[str]
    texts: list[str]
    sentences: list[list[str]]
    source: str
    missing: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.class_ids)

    def coverage(self) -> str:
        """One line: how many classes have a document, which do not, what is left over."""
        c = len(self.class_ids)
        line = f"{self.source}: {c - len(self.missing)}/{c} classes have a document"
        n = [len(s) for s, cid in zip(self.sentences, self.class_ids) if cid not in self.missing]
        if n:
            line += f" ({min(n)}-{max(n)} sentences, {sum(n) / len(n):.1f} on average)"
        if self.missing:
            line += f"; missing: {', '.join(self.missing[:5])}" + (" ..." if len(self.missing) > 5 else "")
        if self.unused:
            line += f"; {len(self.unused)} documents of other classes"
        return line

    def views(
        self,
        groups: Mapping[str, Iterable[str]] | None = None,
        rewrite: Rewrite | None = None,
        *,
        other: str | None = "other",
    ) -> list[dict[str, list[str]]]:
        """Attribute views (MADS, Qu et al. 2025): per class, ``{view name: its sentences}``.

        A sentence joins every group one of whose keywords it mentions (whole words,
        case-insensitive, with a plural ``s`` / ``es``); views keep the document's sentence
        order, come in the order of ``groups``, and only those with a sentence are kept.

        Args:
            groups: view name → keywords; default :data:`ATTRIBUTE_GROUPS`; a KG's own attribute
                groups come from :func:`attribute_groups_from_kg`.
            rewrite: optional ``rewrite(class_name, view, sentences) -> list[str]`` called on each
                kept view (MADS rewrites them with a language model; pass your own client). A
                returned empty list drops the view.
            other: name of the view of the sentences no group claims; ``None`` drops them.

        Raises:
            ConfigError: a group without keywords, or a rewrite that returns something other
                than a list of strings.
        """
        patterns = _group_patterns(ATTRIBUTE_GROUPS if groups is None else groups)
        if other is not None and other in patterns:
            raise ConfigError(f"views: the catch-all view {other!r} is also a group name; pass other=...")
        out: list[dict[str, list[str]]] = []
        for name, sentences in zip(self.names, self.sentences):
            view: dict[str, list[str]] = {}
            claimed = [False] * len(sentences)
            for group, pattern in patterns.items():
                hits = [i for i, s in enumerate(sentences) if pattern.search(s)]
                for i in hits:
                    claimed[i] = True
                if hits:
                    view[group] = [sentences[i] for i in hits]
            if other is not None and not all(claimed):
                view[other] = [s for s, c in zip(sentences, claimed) if not c]
            if rewrite is not None:
                view = {k: v for k, v in ((k, _rewritten(rewrite, name, k, v)) for k, v in view.items()) if v}
            out.append(view)
        return out


def _rewritten(rewrite: Rewrite, name: str, view: str, sentences: list[str]) -> list[str]:
    result = rewrite(name, view, list(sentences))
    if isinstance(result, str) or not isinstance(result, list | tuple) or not all(isinstance(s, str) for s in result):
        raise ConfigError(
            f"rewrite({name!r}, {view!r}, ...) returned {type(result).__name__} {str(result)[:60]!r}; "
            "expected a list of strings"
        )
    return [s.strip() for s in result if s.strip()]


def _group_patterns(groups: Mapping[str, Iterable[str]]) -> dict[str, re.Pattern[str]]:
    if not isinstance(groups, Mapping) or not groups:
        raise ConfigError("views: groups must be a non-empty mapping {view name: keywords}")
    patterns = {}
    for group, keywords in groups.items():
        if isinstance(keywords, str):
            keywords = [keywords]
        words = sorted({re.sub(r"[\s_]+", " ", str(k)).strip().lower() for k in keywords} - {""}, key=len, reverse=True)
        if not words:
            raise ConfigError(f"views: group {group!r} has no keywords")
        alternatives = "|".join(r"[\s_-]+".join(map(re.escape, w.split(" "))) for w in words)
        patterns[str(group)] = re.compile(rf"(?<!\w)(?:{alternatives})(?:e?s)?(?!\w)", re.I)
    return patterns


def _align(
    where: str,
    texts: Mapping[str, list[str]],
    class_ids: Sequence[str],
    lookup_names: Sequence[str],
    missing: Literal["error", "empty"],
    hint: str = "",
    closest: bool = True,
) -> ClassDocuments:
    """The documents of ``texts`` (by name) for ``class_ids`` (looked up by ``lookup_names``)."""
    if missing not in ("error", "empty"):
        raise ConfigError(f"missing: expected 'error' or 'empty', got {missing!r}")
    index: dict[str, str] = {}
    for key in texts:
        k = match_name(key)
        if k in index:
            raise DataError(f"{where}: documents {index[k]!r} and {key!r} name the same class")
        index[k] = key
    names, out_texts, sentences, absent, used = [], [], [], [], set()
    for cid, name in zip(class_ids, lookup_names):
        key = index.get(match_name(name)) or index.get(match_name(cid))
        if key is None:
            absent.append(cid)
            names.append(name)
            out_texts.append("")
            sentences.append([])
            continue
        used.add(key)
        text, split = _document(texts[key])
        if not split:
            raise DataError(f"{where}: class {key!r} has no text after cleaning (markup, references or no letters)")
        names.append(key)
        out_texts.append(text)
        sentences.append(split)
    if absent and missing == "error":
        shown = []
        for cid, name in [(c, n) for c, n in zip(class_ids, lookup_names) if c in set(absent)][:5]:
            close = difflib.get_close_matches(match_name(name), list(index), n=2) if closest else []
            label = repr(cid) if name == cid else f"{cid!r} ({name!r})"
            shown.append(label + (f" (closest: {', '.join(index[c] for c in close)})" if close else ""))
        more = f" and {len(absent) - 5} more" if len(absent) > 5 else ""
        raise DataError(
            f"{where}: {len(absent)} of {len(class_ids)} classes have no document: {', '.join(shown)}{more}"
            f"{hint}; or allow missing classes (missing='empty', --allow-missing)"
        )
    return ClassDocuments(
        class_ids=list(class_ids),
        names=names,
        texts=out_texts,
        sentences=sentences,
        source=where,
        missing=absent,
        unused=[k for k in texts if k not in used],
    )


def read_documents(
    path: str | os.PathLike,
    class_ids: Sequence[str],
    *,
    class_names: Sequence[str] | Mapping[str, str] | None = None,
    label_map: str | os.PathLike | Mapping[str, str] | None = None,
    layout: Literal["auto", "json", "folder"] = "auto",
    missing: Literal["error", "empty"] = "error",
    pattern: str = "*.txt",
) -> ClassDocuments:
    """The documents of a file or folder for a dataset's classes (see the module docstring).

    Args:
        path: a JSON file ``{class name: text}`` or ``{class name: [sentences]}``, or a folder
            of ``<class name>.txt``.
        class_ids: the dataset's class ids, in order (``ZSLDataset.class_ids``).
        class_names: names to match instead of the ids (a list in the ids' order, or id → name).
        label_map: label → name map for datasets with numbered classes (a mapping, or a JSON
            file such as ``FLO_label_to_category_name.json``).
        layout: ``auto`` (a folder is ``folder``, a file ``json``), ``json`` or ``folder``.
        missing: ``error`` (a class without a document is a :class:`DataError` naming the
            classes) or ``empty`` (an empty document, listed in ``missing``).
        pattern: glob of the text files of a folder.

    Raises:
        DataError: malformed JSON (``file:line``), a value that is neither a text nor a list of
            texts, a class with no text (each naming the file and the class), two documents of
            the same class, or classes without a document.
    """
    from kgzsl.knowledge.formats.documents import texts_from_dir, texts_from_json

    path = Path(path)
    class_ids = [str(c) for c in class_ids]
    if not class_ids:
        raise ConfigError("read_documents: no class ids given")
    if layout == "auto":
        layout = "folder" if path.is_dir() else "json"
    if layout == "folder":
        texts = texts_from_dir(path, pattern)
    elif layout == "json":
        from kgzsl.knowledge.formats.attributes import load_json

        data = load_json(path)
        if isinstance(data, dict) and _is_attribute_data(data):
            raise DataError(
                f"{path}: holds class attributes (numbers, objects or identifiers such as 'thin_tail'), "
                "not documents; read it as attributes"
            )
        texts = texts_from_json(path, data)
    else:
        raise ConfigError(f"layout: expected 'auto', 'json' or 'folder', got {layout!r}")
    names = _names_for(class_ids, class_names, label_map)
    numbered = label_map is None and class_names is None and all(_number(c) is not None for c in class_ids)
    hint = "; numbered classes need label_map= (e.g. FLO_label_to_category_name.json)" if numbered else ""
    return _align(str(path), texts, class_ids, names, missing, hint)


def _is_attribute_data(data: Mapping[str, Any]) -> bool:
    """Objects or lists of numbers: surely attributes (lists of single words may be one-word descriptors)."""
    return any(
        isinstance(v, dict) or (isinstance(v, list) and v and all(isinstance(x, int | float) for x in v))
        for v in data.values()
    )


def documents_from_kg(
    kg: KnowledgeGraph,
    class_ids: Sequence[str],
    *,
    namespace: str | None = None,
    relations: Sequence[str] = DESCRIPTION_RELATIONS,
    labels: bool = True,
    language: str | None = "en",
    missing: Literal["error", "empty"] = "error",
) -> ClassDocuments:
    """Each class's document from the literals of its entity in a knowledge graph.

    The classes are found as KG alignment finds them
    (:func:`~kgzsl.knowledge.alignment.align_classes`: IRI, local name, ``rdfs:label``; an
    unknown class is an error there). A class's document is its literals of ``relations``
    (descriptions, ``rdfs:comment``, definitions; in that order, on the whole graph
    :attr:`~kgzsl.knowledge.store.KnowledgeGraph.lookup`); with ``labels``, a class without
    any gets its names instead (:func:`~kgzsl.knowledge.texts.entity_texts`: labels,
    ``owl:sameAs`` partners' labels, ConceptNet names), as one sentence.

    Args:
        kg: the knowledge graph.
        class_ids: the dataset's class ids (names, WordNet ids or IRIs), in order.
        namespace: only consider entities whose IRI starts with it.
        relations: predicates whose literals are documents, in order of preference.
        labels: fall back on the class's names.
        language: keep literals in this language or without one; ``None`` keeps all.
        missing: ``error`` or ``empty`` for a class with no text.
    """
    from kgzsl.knowledge.alignment import align_classes
    from kgzsl.knowledge.texts import entity_texts

    class_ids = [str(c) for c in class_ids]
    iris = align_classes(kg, class_ids, namespace)
    wanted = set(iris)
    rank = {r: i for i, r in enumerate(relations)}
    found: dict[str, list[tuple[int, str]]] = {}
    if relations:
        values = " ".join(f"<{r}>" for r in relations)
        rows = kg.lookup.query(
            f"SELECT ?e ?p ?o (LANG(?o) AS ?lang) WHERE {{ VALUES ?p {{ {values} }} ?e ?p ?o FILTER(isLiteral(?o)) }}"
        )
        for entity, predicate, value, lang in rows:
            if entity not in wanted or not str(value).strip():
                continue
            if language is not None and lang and not str(lang).lower().startswith(language.lower()):
                continue
            found.setdefault(entity, []).append((rank[predicate], str(value)))
    names_found = entity_texts(kg, iris, texts="label", fallback=False)
    names: list[str] = []
    texts: dict[str, list[str]] = {}
    for cid, iri, candidates in zip(class_ids, iris, names_found.texts):
        own = [c.replace("_", " ") for c in candidates]
        name = next((c for c in own if match_name(c) == match_name(cid)), own[0] if own else cid)
        names.append(name)
        literals = [v for _, v in sorted(set(found.get(iri, [])))]
        if not literals and labels and own:
            literals = [", ".join(dict.fromkeys(own)) + "."]
        if literals:
            texts[iri] = literals
    hint = "; give them descriptions (rdfs:comment, ...) or labels"
    out = _align("kg", texts, class_ids, iris, missing, hint, closest=False)
    out.names = names
    return out


def attribute_groups_from_kg(
    kg: KnowledgeGraph,
    class_ids: Sequence[str],
    *,
    namespace: str | None = None,
) -> dict[str, tuple[str, ...]]:
    """Attribute groups from a knowledge graph, for :meth:`ClassDocuments.views`.

    The attributes are the entities that classes are linked to by non-structural relations
    (not ``rdfs:subClassOf``, ``rdf:type``, ``owl:sameAs``, ``owl:disjointWith``) from the
    dataset's classes (``class_ids``, aligned as KG alignment does; the classes are needed:
    ConceptNet's links between concepts look the same). An attribute's
    group is its ``rdfs:subClassOf`` parent (K-ZSL's attribute hierarchy: ``black`` ⊑
    ``color``), named by the parent's label; an attribute without a parent is grouped by its
    relation (``hasColor`` → ``color``). Keywords are the attributes' labels (``tough_skin``
    → ``tough skin``) and the group's own name.

    Returns:
        ``{group name: keywords}`` sorted by group name.

    Raises:
        DataError: the graph links no class to an attribute.
    """
    from kgzsl.knowledge.alignment import align_classes
    from kgzsl.knowledge.store import local_name
    from kgzsl.knowledge.texts import entity_texts, readable_local_name

    lookup = kg.lookup
    structural = ", ".join(f"<{r}>" for r in _STRUCTURAL)
    rows = lookup.query(
        f"SELECT DISTINCT ?c ?p ?a WHERE {{ ?c ?p ?a FILTER(isIRI(?a) && isIRI(?c) && ?p NOT IN ({structural})) }}"
    )
    classes = set(align_classes(kg, list(class_ids), namespace))
    attributes: dict[str, set[str]] = {}
    for c, p, a in rows:
        if c in classes and a not in classes:
            attributes.setdefault(a, set()).add(p)
    if not attributes:
        raise DataError("attribute_groups_from_kg: the knowledge graph links no class to an attribute")
    parents: dict[str, set[str]] = {}
    for a, g in lookup.query(f"SELECT ?a ?g WHERE {{ ?a <{_RDFS_SUBCLASS}> ?g FILTER(isIRI(?g)) }}"):
        if a in attributes:
            parents.setdefault(a, set()).add(g)
    entities = sorted(attributes) + sorted({g for a in attributes for g in parents.get(a, ())})
    text = dict(zip(entities, entity_texts(kg, entities, texts="label").texts))

    def words(entity: str) -> list[str]:
        return [t.replace("_", " ").strip() for t in text.get(entity) or [readable_local_name(entity)] if t.strip()]

    groups: dict[str, set[str]] = {}
    for a, predicates in attributes.items():
        if parents.get(a):
            names = [words(g)[0] if words(g) else local_name(g) for g in sorted(parents[a])]
        else:
            names = [
                re.sub(r"^(has|is|can)(?=[A-Z_])", "", local_name(p)).strip("_") or local_name(p) for p in predicates
            ]
            names = [re.sub(r"(?<=[a-z])(?=[A-Z])", " ", n).lower() for n in names]
        for name in names:
            name = name.replace("_", " ").strip()
            groups.setdefault(name, {name}).update(words(a))
    return {g: tuple(sorted(k for k in keywords if k)) for g, keywords in sorted(groups.items())}


# --- command line -------------------------------------------------------------------------


def dataset_class_ids(dataset: str | os.PathLike) -> list[str]:
    """A dataset's class ids without its features, for checking documents against it.

    ``dataset`` is an xlsa17 folder holding ``att_splits.mat`` (``.../AWA2``: its
    ``allclasses_names``; FLO's numbered ``FLO_001`` ... as :class:`~kgzsl.data.xlsa17.XLSA17`
    names them), an xlsa17 benchmark under ``$KGZSL_SHARED_DATA/xlsa17`` (``AWA2``, ``CUB``,
    ``FLO``), or a file of class ids (one a line, or a JSON list).
    """
    from kgzsl.data.dataset import read_id_list
    from kgzsl.data.xlsa17 import XLSA17
    from kgzsl.matlab import read_mat
    from kgzsl.resources import shared_data_dir

    path = Path(dataset).expanduser()
    if not path.exists() and (shared := shared_data_dir()) is not None and (shared / "xlsa17" / str(dataset)).is_dir():
        path = shared / "xlsa17" / str(dataset)
    if path.is_dir():
        split = path / "att_splits.mat"
        if not split.is_file():
            raise DataError(f"{path}: expected an xlsa17 folder with att_splits.mat, or a file of class ids")
        meta = read_mat(split, [], optional=["allclasses_names", "att"])
        ids = XLSA17._class_ids(path.name, meta, ["att"] if "att" in meta else [], split)
        if not ids:
            raise DataError(f"{split}: neither 'allclasses_names' nor 'att' says what the classes are")
        return [str(i) for i in ids]
    if not path.is_file():
        raise DataError(f"{dataset}: not an xlsa17 folder, an xlsa17 benchmark under $KGZSL_SHARED_DATA, nor a file")
    return read_id_list(path)


def documents_report(
    path: str | os.PathLike,
    dataset: str | os.PathLike,
    *,
    label_map: str | os.PathLike | None = None,
    missing: Literal["error", "empty"] = "error",
    views: bool = False,
) -> str:
    """What ``kgzsl data documents`` prints: coverage of ``dataset``'s classes by the documents
    of ``path`` and, with ``views``, how many classes have each default attribute view."""
    class_ids = dataset_class_ids(dataset)
    docs = read_documents(path, class_ids, label_map=label_map, missing=missing)
    lines = [docs.coverage()]
    if views:
        found = [v for v, cid in zip(docs.views(), docs.class_ids) if cid not in docs.missing]
        for name in [*ATTRIBUTE_GROUPS, "other"]:
            counts = [len(v[name]) for v in found if name in v]
            mean = sum(counts) / len(counts) if counts else 0.0
            lines.append(f"  view {name:<10} {len(counts):>5}/{len(found)} classes, {mean:.1f} sentences each")
    return "\n".join(lines)
