"""Input embeddings of class-graph nodes from their names, for the graph-propagation methods.

GCNZ (Wang, Ye & Gupta, "Zero-shot Recognition via Semantic Embeddings and Knowledge Graphs",
CVPR 2018) and DGP (Kampffmeyer et al., "Rethinking Knowledge Graph Propagation for Zero-Shot
Learning", CVPR 2019) give every node of the class graph, not only the dataset's classes, the
word vectors of its names. They are methods (:mod:`kgzsl.methods.gcnz`, :mod:`kgzsl.methods.dgp`):
their classes' inputs are the run's semantics, and :func:`node_inputs` embeds the graph's other
nodes (``other_inputs: word_vectors`` or ``sentence``).

They were semantic encoders (``semantics: {name: gcnz}`` with ``method: classifier_weights``)
before; such configs now fail at config-check time with one line saying what to write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from kgzsl.errors import ConfigError
from kgzsl.knowledge.store import local_name
from kgzsl.registry import SEMANTICS
from kgzsl.semantics.base import normalize_rows

if TYPE_CHECKING:
    from kgzsl.knowledge.store import KnowledgeGraph

__all__ = ["node_inputs"]

for _name in ("gcnz", "dgp"):
    SEMANTICS.hints[_name] = (
        f"{_name.upper()} is a method now: write method: {{name: {_name}}} and, as its node inputs, any semantics,"
        " e.g. semantics: {name: word_vectors, path: GLOVE.txt} (method: classifier_weights is gone)"
    )


def _node_texts(kg: KnowledgeGraph, node_ids: list[str]) -> list[list[str]]:
    from kgzsl.semantics.text import readable_name

    rows = kg.query(
        "SELECT ?n ?l WHERE { ?n rdfs:label ?l FILTER(isLiteral(?l))"
        ' FILTER(lang(?l) = "" || langMatches(lang(?l), "en")) }'
    )
    found: dict[str, set[str]] = {}
    for iri, label in rows:
        found.setdefault(iri, set()).update(p.strip() for p in str(label).split(",") if p.strip())
    texts = []
    for iri in node_ids:
        names = sorted(found.get(iri, ()))
        # a node without a label (a root, a blank node) still gets an input: its IRI's name
        texts.append(names or [readable_name(local_name(iri) if "://" in iri else iri)])
    return texts


def node_inputs(
    kg: KnowledgeGraph,
    node_ids: list[str],
    inputs: Literal["sentence", "word_vectors"] = "sentence",
    word_vectors_path: str | None = None,
    device: Any = "cpu",
) -> np.ndarray:
    """Input embedding of each node: the mean embedding of its ``rdfs:label`` names, l2-normalised.

    ``sentence`` uses the packaged all-MiniLM-L6-v2 (384-d); ``word_vectors`` averages the
    word vectors of each name's words (GCNZ's GloVe inputs), a node with no known word
    getting a zero input, as in GCNZ.

    Shapes:
        returns: ``[n_nodes, d]`` float32.
    """
    from kgzsl.semantics.text import SentenceEmbeddings, read_word_vectors, tokenize_words

    texts = _node_texts(kg, node_ids)
    unique = sorted({t for ts in texts for t in ts})
    if inputs == "sentence":
        emb = np.asarray(SentenceEmbeddings()._embedder(device)(unique), dtype=np.float32)
    elif inputs == "word_vectors":
        if word_vectors_path is None:
            raise ConfigError("inputs='word_vectors' needs word_vectors_path= a GloVe or word2vec text file")
        tokens = {t: tokenize_words(t) for t in unique}
        vectors, dim = read_word_vectors(word_vectors_path, {w for ws in tokens.values() for w in ws})
        emb = np.zeros((len(unique), dim), dtype=np.float32)
        for i, t in enumerate(unique):
            known = [vectors[w] for w in tokens[t] if w in vectors]
            if known:
                emb[i] = np.mean(known, axis=0)
    else:
        raise ConfigError(f"inputs: unknown kind {inputs!r}; valid: sentence, word_vectors")
    index = {t: i for i, t in enumerate(unique)}
    matrix = np.stack([emb[[index[t] for t in ts]].mean(axis=0) for ts in texts])
    return normalize_rows(matrix, "l2")
