"""Class × attribute and class × ancestor indicator matrices read from a knowledge graph.

They are plain queries over the graph, so they live in the knowledge layer: the attribute
encoder (:class:`kgzsl.semantics.attributes.KGAttributes`) builds class embeddings from them, and
the synthetic data generator (:class:`kgzsl.data.synthetic.SyntheticKG`) its hidden class
structure, without the data layer importing the semantics layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kgzsl.errors import DataError
from kgzsl.knowledge.store import local_name

if TYPE_CHECKING:
    from kgzsl.knowledge.store import KnowledgeGraph

__all__ = ["class_attribute_matrix", "class_ancestor_matrix"]

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
