"""The interface of semantic encoders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from kgzsl.registry import Component
from kgzsl.utils import quiet_import

if TYPE_CHECKING:
    from kgzsl.context import RunContext
    from kgzsl.data.dataset import ZSLDataset
    from kgzsl.knowledge.store import KnowledgeGraph

__all__ = ["ClassEmbeddings", "SemanticEncoder", "normalize_rows", "quiet_import"]


@dataclass
class ClassEmbeddings:
    """Class embeddings aligned with a dataset's classes.

    Shapes:
        matrix: ``[C, d]`` float32, row ``i`` is the class ``ids[i]``.
    """

    matrix: np.ndarray
    ids: list[str]
    columns: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.matrix = np.asarray(self.matrix, dtype=np.float32)
        if self.matrix.ndim != 2 or self.matrix.shape[0] != len(self.ids):
            raise ValueError(f"class embeddings: {self.matrix.shape} for {len(self.ids)} class ids")

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])


def normalize_rows(matrix: np.ndarray, how: str) -> np.ndarray:
    """``none``, ``l2`` (unit rows) or ``zscore`` (standardised columns)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    if how == "none":
        return matrix
    if how == "l2":
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.maximum(norms, 1e-12)
    if how == "zscore":
        return (matrix - matrix.mean(0)) / np.maximum(matrix.std(0), 1e-6)
    raise ValueError(f"unknown normalisation {how!r}; valid: none, l2, zscore")


class SemanticEncoder(Component):
    """Base class: ``encode(kg, dataset, context)`` → :class:`ClassEmbeddings` for ``dataset.class_ids``.

    ``context`` (:class:`~kgzsl.context.RunContext`; ``None``: the active run's) gives the
    run's seed, device and progress setting; an encoder's own ``seed`` / ``device`` parameter,
    when not ``None``, wins over it.
    """

    registry_name = ""

    #: figures an encoder measured while encoding (flat keys, e.g. ``kge/mrr``); the run
    #: writes them to ``metrics.json`` as ``semantics/<key>``
    metrics_: dict[str, float]

    def encode(
        self, kg: KnowledgeGraph | None, dataset: ZSLDataset, context: RunContext | None = None
    ) -> ClassEmbeddings:
        raise NotImplementedError
