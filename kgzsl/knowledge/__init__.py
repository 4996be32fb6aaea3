"""Knowledge layer: RDF sources loaded into one Oxigraph-backed graph store."""

from kgzsl.knowledge.store import KnowledgeGraph

__all__ = ["KnowledgeGraph"]
