"""``KnowledgeGraph``: an RDF graph store on Oxigraph, one named graph per loaded source."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kgzsl.errors import DataError

__all__ = ["KnowledgeGraph", "RDF_FORMATS", "local_name"]

#: file extension → pyoxigraph format name
RDF_FORMATS = {
    ".ttl": "TURTLE",
    ".turtle": "TURTLE",
    ".nt": "N_TRIPLES",
    ".ntriples": "N_TRIPLES",
    ".nq": "N_QUADS",
    ".trig": "TRIG",
    ".n3": "N3",
    ".rdf": "RDF_XML",
    ".owl": "RDF_XML",
    ".xml": "RDF_XML",
    ".jsonld": "JSON_LD",
}

SOURCE_PREFIX = "urn:kgzsl:source:"


def local_name(iri: str) -> str:
    """The part of an IRI after its last ``#`` or ``/``."""
    for sep in ("#", "/", ":"):
        if sep in iri:
            iri = iri.rsplit(sep, 1)[1]
            break
    return iri


def _term_value(term: Any) -> Any:
    if term is None:
        return None
    return getattr(term, "value", term)


class KnowledgeGraph:
    """An RDF graph store backed by `Oxigraph <https://github.com/oxigraph/oxigraph>`_.

    In memory by default, on disk when ``path`` is given (and then persistent: reopening the
    same path gives the same triples without parsing again). Each loaded source goes into its
    own named graph, ``urn:kgzsl:source:<name>``, so that sources can be combined and dropped;
    SPARQL queries see the union of all graphs as their default graph.

    Args:
        path: folder of an on-disk store, or ``None`` for an in-memory one.
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        import pyoxigraph as ox

        self.path = Path(path) if path is not None else None
        self._store = ox.Store(str(self.path)) if self.path is not None else ox.Store()
        self.source_files: list[Path] = []

    @classmethod
    def from_files(cls, *paths: str | os.PathLike, format: str | None = None) -> KnowledgeGraph:
        """An in-memory graph with each file loaded into a named graph of its own."""
        kg = cls()
        for path in paths:
            kg.load(path, format=format)
        return kg

    def load(self, path: str | os.PathLike, format: str | None = None, graph: str | None = None) -> str:
        """Parse an RDF file into the named graph ``graph`` (default: the file's stem).

        The load is all or nothing: on a syntax error nothing is added, and a
        :class:`~kgzsl.errors.DataError` names the file and line.

        Returns:
            The IRI of the named graph the triples went into.
        """
        import pyoxigraph as ox

        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no such file")
        if path.stat().st_size == 0:
            raise DataError(f"{path}: file is empty")
        fmt_name = format.upper().replace("-", "_") if format else RDF_FORMATS.get(path.suffix.lower())
        if fmt_name is None or not hasattr(ox.RdfFormat, fmt_name):
            valid = ", ".join(sorted(set(RDF_FORMATS)))
            raise DataError(f"{path}: unknown RDF format {format or path.suffix!r}; expected one of {valid}")
        graph_iri = SOURCE_PREFIX + (graph or path.stem)
        try:
            self._store.load(
                path=str(path),
                format=getattr(ox.RdfFormat, fmt_name),
                base_iri=path.resolve().as_uri(),
                to_graph=ox.NamedNode(graph_iri),
            )
        except SyntaxError as e:
            line = getattr(e, "lineno", None)
            where = f"{path}:{line}" if line else str(path)
            raise DataError(
                f"{where}: malformed {fmt_name.replace('_', '-').lower()}: {e.msg if hasattr(e, 'msg') else e}"
            ) from None
        self.source_files.append(path)
        return graph_iri

    def graphs(self) -> list[str]:
        """IRIs of the named graphs (one per loaded source), sorted."""
        return sorted(g.value for g in self._store.named_graphs())

    def drop(self, graph: str) -> None:
        """Remove a source's named graph."""
        import pyoxigraph as ox

        iri = graph if graph.startswith(SOURCE_PREFIX) else SOURCE_PREFIX + graph
        self._store.remove_graph(ox.NamedNode(iri))

    def query(self, sparql: str) -> list[tuple]:
        """Run a SPARQL SELECT over the union of all graphs; rows of plain Python values."""
        try:
            solutions = self._store.query(sparql, use_default_graph_as_union=True)
        except SyntaxError as e:
            raise DataError(f"SPARQL syntax error: {e}") from None
        names = [v.value for v in solutions.variables]
        return [tuple(_term_value(row[n]) for n in names) for row in solutions]

    def ask(self, sparql: str) -> bool:
        return bool(self._store.query(sparql, use_default_graph_as_union=True))

    def __len__(self) -> int:
        return len(self._store)

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "memory"
        return f"KnowledgeGraph({len(self)} triples, {len(self.graphs())} sources, {where})"
