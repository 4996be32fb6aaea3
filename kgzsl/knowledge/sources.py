"""Knowledge sources: registered recipes that build a :class:`KnowledgeGraph` from files."""

from __future__ import annotations

from pathlib import Path

from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.registry import KNOWLEDGE, Component
from kgzsl.resources import resolve_path

__all__ = ["RDFFiles"]


@KNOWLEDGE.register("rdf")
class RDFFiles(Component):
    """RDF files (Turtle, RDF/XML, OWL, N-Triples, ...), each loaded into a named graph.

    Args:
        paths: files to load; ``embedded:animals`` names the project's own demo ontology.
        format: RDF format for all files; ``None`` takes it from each file's extension.
    """

    def __init__(self, paths: list[str] | str = "embedded:animals", format: str | None = None) -> None:
        self.paths = paths
        self.format = format

    def files(self) -> list[Path]:
        paths = [self.paths] if isinstance(self.paths, str) else list(self.paths)
        return [resolve_path(p, kind="ontology") for p in paths]

    def build(self) -> KnowledgeGraph:
        return KnowledgeGraph.from_files(*self.files(), format=self.format)
