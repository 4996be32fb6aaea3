"""GCNZ's released ImageNet graph folder as a knowledge source (format ``gcnz``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from kgzsl.knowledge.formats import Triple, register_format

__all__ = ["read_gcnz_folder"]


@register_format(
    "gcnz",
    description="GCNZ graph folder: imagenet_graph_adjacency.json + list/invdict_wordn.json (Wang et al. 2018)",
    is_dir=True,
    detect=lambda p: (p / "imagenet_graph_adjacency.json").is_file(),
)
def read_gcnz_folder(path: Path, namespace: str | None = None, labels: bool = True) -> Iterator[Triple]:
    """The GCNZ graph's undirected edges as ``kgzsl:gcnzEdge`` triples between WordNet IRIs.

    See :func:`kgzsl.knowledge.wordnet.read_gcnz`.
    """
    from kgzsl.knowledge.wordnet import WORDNET_NAMESPACE, read_gcnz

    yield from read_gcnz(path, namespace=namespace or WORDNET_NAMESPACE, labels=labels)
