"""Attribute-based class semantics: read from the knowledge graph or from the dataset."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

from kgzsl.errors import ConfigError, DataError
from kgzsl.knowledge.alignment import align_classes
from kgzsl.knowledge.store import local_name
from kgzsl.registry import SEMANTICS
from kgzsl.semantics.base import ClassEmbeddings, SemanticEncoder, normalize_rows

if TYPE_CHECKING:
    from kgzsl.data.dataset import ZSLDataset
    from kgzsl.knowledge.store import KnowledgeGraph

__all__ = ["class_attribute_matrix", "class_ancestor_matrix", "KGAttributes", "DatasetSemantics"]

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SUBCLASS = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
OWL = "http://www.w3.org/2002/07/owl#"
_NOT_ATTRIBUTE = [RDF_TYPE, SUBCLASS, OWL + "sameAs", OWL + "disjointWith", OWL + "equivalentClass"]


def _values(iris: list[str]) -> str:
    return " ".join(f"<{iri}>" for iri in iris)


def class_attribute_matrix(
    kg: KnowledgeGraph, class_iris: list[str], relations: list[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Binary class × attribute matrix from class–attribute triples.

    An attribute is the IRI object of a triple whose subject is one of the classes and whose
    predicate is not a schema relation (``rdf:type``, ``rdfs:subClassOf``, ``owl:sameAs``,
    ``owl:disjointWith``, ``owl:equivalentClass``). Attributes may themselves be classes of
    an attribute hierarchy (K-ZSL's ``AwA:a084 rdfs:subClassOf AwA:a095``). ``relations``
    (full IRIs or local names) restricts the predicates.

    Returns:
        ``([C, A] float32 matrix, A attribute IRIs)``, columns sorted by IRI.
    """
    excluded = ", ".join(f"<{p}>" for p in _NOT_ATTRIBUTE)
    rows = kg.query(
        f"SELECT ?c ?p ?a WHERE {{ VALUES ?c {{ {_values(class_iris)} }} ?c ?p ?a . FILTER(isIRI(?a))"
        f" FILTER(?p NOT IN ({excluded})) }}"
    )
    if relations is not None:
        wanted = set(relations)
        present = {p for _, p, _ in rows} | {local_name(p) for _, p, _ in rows}
        missing = sorted(wanted - present)
        if missing:
            raise DataError(f"relation(s) {', '.join(missing)} not found among the class-attribute triples")
        rows = [r for r in rows if r[1] in wanted or local_name(r[1]) in wanted]
    if not rows:
        raise DataError("the knowledge graph has no class-attribute triples for the dataset's classes")
    attributes = sorted({a for _, _, a in rows})
    col = {a: j for j, a in enumerate(attributes)}
    row = {c: i for i, c in enumerate(class_iris)}
    matrix = np.zeros((len(class_iris), len(attributes)), dtype=np.float32)
    for c, _, a in rows:
        matrix[row[c], col[a]] = 1.0
    return matrix, attributes


def class_ancestor_matrix(kg: KnowledgeGraph, class_iris: list[str]) -> tuple[np.ndarray, list[str]]:
    """Binary class × ancestor matrix from the transitive ``rdfs:subClassOf`` closure.

    Ancestors shared by every class (the root) carry no information and are left out.
    """
    rows = kg.query(
        f"SELECT ?c ?a WHERE {{ VALUES ?c {{ {_values(class_iris)} }} ?c <{SUBCLASS}>+ ?a . FILTER(isIRI(?a)) }}"
    )
    row = {c: i for i, c in enumerate(class_iris)}
    ancestors = sorted({a for _, a in rows})
    col = {a: j for j, a in enumerate(ancestors)}
    matrix = np.zeros((len(class_iris), len(ancestors)), dtype=np.float32)
    for c, a in rows:
        matrix[row[c], col[a]] = 1.0
    keep = matrix.sum(0) < len(class_iris)
    return matrix[:, keep], [a for a, k in zip(ancestors, keep) if k]


@SEMANTICS.register("kg_attributes")
class KGAttributes(SemanticEncoder):
    """Class attributes read from the KG's class–attribute triples, optionally with the taxonomy.

    The class embedding is the binary attribute vector, concatenated (when ``hierarchy``)
    with the binary vector of the class's ``rdfs:subClassOf`` ancestors scaled by
    ``hierarchy_weight``, then normalised.

    Args:
        relations: predicates counted as attribute relations (IRIs or local names); all by default.
        hierarchy: append the ancestor indicator vector.
        hierarchy_weight: scale of the ancestor part relative to the attribute part.
        normalize: ``l2`` (unit rows), ``zscore`` (standardised columns) or ``none``.
        namespace: match the dataset's classes only to entities in this namespace.
    """

    def __init__(
        self,
        relations: list[str] | None = None,
        hierarchy: bool = True,
        hierarchy_weight: float = 0.5,
        normalize: Literal["l2", "zscore", "none"] = "l2",
        namespace: str | None = None,
    ) -> None:
        self.relations = relations
        self.hierarchy = hierarchy
        self.hierarchy_weight = hierarchy_weight
        self.normalize = normalize
        self.namespace = namespace

    def encode(self, kg: KnowledgeGraph | None, dataset: ZSLDataset) -> ClassEmbeddings:
        if kg is None:
            raise ConfigError("semantics 'kg_attributes' needs a knowledge source (config section 'knowledge')")
        iris = align_classes(kg, dataset.class_ids, namespace=self.namespace)
        attributes, columns = class_attribute_matrix(kg, iris, self.relations)
        parts = [attributes]
        if self.hierarchy:
            ancestors, anc_columns = class_ancestor_matrix(kg, iris)
            parts.append(self.hierarchy_weight * ancestors)
            columns = columns + anc_columns
        matrix = normalize_rows(np.concatenate(parts, axis=1), self.normalize)
        return ClassEmbeddings(matrix, list(dataset.class_ids), columns)


@SEMANTICS.register("dataset")
class DatasetSemantics(SemanticEncoder):
    """Class semantics that ship with the dataset (e.g. xlsa17 ``att``), by name.

    Args:
        key: name of the semantics in ``dataset.semantics``.
        normalize: ``l2``, ``zscore`` or ``none``.
        binary: first turn values into presence (1 where above ``threshold``, else 0), as
            the binary attributes of the K-ZSL benchmark.
        threshold: the presence threshold of ``binary``.
    """

    def __init__(
        self,
        key: str = "attributes",
        normalize: Literal["l2", "zscore", "none"] = "l2",
        binary: bool = False,
        threshold: float = 0.0,
    ) -> None:
        self.key = key
        self.normalize = normalize
        self.binary = binary
        self.threshold = threshold

    def encode(self, kg: KnowledgeGraph | None, dataset: ZSLDataset) -> ClassEmbeddings:
        if self.key not in dataset.semantics:
            valid = ", ".join(sorted(dataset.semantics)) or "(none)"
            raise ConfigError(f"semantics.key: dataset {dataset.name!r} has no semantics {self.key!r}; valid: {valid}")
        values = np.asarray(dataset.semantics[self.key], dtype=np.float32)
        if self.binary:
            values = (values > self.threshold).astype(np.float32)
        return ClassEmbeddings(normalize_rows(values, self.normalize), list(dataset.class_ids))
