"""Attribute-based class semantics: read from the knowledge graph or from the dataset."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

from kgzsl.errors import ConfigError
from kgzsl.knowledge.alignment import align_classes
from kgzsl.knowledge.matrices import class_ancestor_matrix, class_attribute_matrix
from kgzsl.registry import SEMANTICS
from kgzsl.semantics.base import ClassEmbeddings, SemanticEncoder, normalize_rows

if TYPE_CHECKING:
    from kgzsl.context import RunContext
    from kgzsl.data.dataset import ZSLDataset
    from kgzsl.knowledge.store import KnowledgeGraph

__all__ = ["class_attribute_matrix", "class_ancestor_matrix", "KGAttributes", "DatasetSemantics"]


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

    requires_knowledge = True

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

    def encode(
        self, kg: KnowledgeGraph | None, dataset: ZSLDataset, context: RunContext | None = None
    ) -> ClassEmbeddings:
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

    def encode(
        self, kg: KnowledgeGraph | None, dataset: ZSLDataset, context: RunContext | None = None
    ) -> ClassEmbeddings:
        if self.key not in dataset.semantics:
            valid = ", ".join(sorted(dataset.semantics)) or "(none)"
            raise ConfigError(f"semantics.key: dataset {dataset.name!r} has no semantics {self.key!r}; valid: {valid}")
        values = np.asarray(dataset.semantics[self.key], dtype=np.float32)
        if self.binary:
            values = (values > self.threshold).astype(np.float32)
        return ClassEmbeddings(normalize_rows(values, self.normalize), list(dataset.class_ids))
