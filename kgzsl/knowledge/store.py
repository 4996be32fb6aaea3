"""``KnowledgeGraph``: an RDF graph store on Oxigraph, one named graph per loaded source."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
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

#: format names users may give → pyoxigraph format name
RDF_FORMAT_NAMES = {
    "turtle": "TURTLE",
    "ttl": "TURTLE",
    "ntriples": "N_TRIPLES",
    "nt": "N_TRIPLES",
    "nquads": "N_QUADS",
    "trig": "TRIG",
    "n3": "N3",
    "rdfxml": "RDF_XML",
    "rdf/xml": "RDF_XML",
    "xml": "RDF_XML",
    "owl": "RDF_XML",
    "jsonld": "JSON_LD",
}


def _rdf_format(name: str) -> str | None:
    key = name.lower().replace("-", "").replace("_", "")
    return RDF_FORMAT_NAMES.get(key) or RDF_FORMAT_NAMES.get(name.lower())


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

    def load(self, path: str | os.PathLike, format: str | None = None, graph: str | None = None, **options: Any) -> str:
        """Load a knowledge file into the named graph ``graph`` (default: the file's stem).

        RDF syntaxes (Turtle, RDF/XML, OWL, N-Triples, ...) are parsed by Oxigraph; the other
        formats (see :mod:`kgzsl.knowledge.formats`) are read into triples first. The format
        comes from the file's extension unless ``format`` names it. The load is all or nothing:
        on a malformed line nothing is added, and a :class:`~kgzsl.errors.DataError` names the
        file and line.

        Args:
            path: the file (or folder, for folder formats).
            format: format name (``turtle``, ``rdfxml``, ``ntriples``, ... or a registered one).
            graph: name of the named graph (``urn:kgzsl:source:<graph>``).
            **options: passed to a non-RDF format's reader.

        Returns:
            The IRI of the named graph the triples went into.
        """
        from kgzsl.knowledge.formats import format_for_path, triple_formats

        path = Path(path)
        if not path.exists():
            raise DataError(f"{path}: no such file")
        if path.is_file() and path.stat().st_size == 0:
            raise DataError(f"{path}: file is empty")
        graph_iri = SOURCE_PREFIX + (graph or self.default_graph_name(path))
        rdf_format = _rdf_format(format) if format else RDF_FORMATS.get(path.suffix.lower())
        if rdf_format is not None and not options:
            self._load_rdf(path, rdf_format, graph_iri)
        else:
            formats = triple_formats()
            fmt = formats.get(format.lower()) if format else format_for_path(path)
            if fmt is None and format is None and path.is_dir():
                dirs = ", ".join(sorted(f.name for f in formats.values() if f.is_dir))
                raise DataError(f"{path}: folder not recognised as a knowledge folder; pass its format, one of {dirs}")
            if fmt is None:
                valid = ", ".join(sorted({*RDF_FORMAT_NAMES, *formats}))
                raise DataError(
                    f"{path}: unknown knowledge format {format or path.suffix or path.name!r}; valid: {valid}"
                )
            self.add_triples(fmt.reader(path, **options), graph=graph_iri)
        self.source_files.append(path)
        return graph_iri

    def default_graph_name(self, path: str | os.PathLike) -> str:
        """A source's graph name: the file's stem (a folder's name), or ``<parent>-<stem>``
        when another file of this session already took the stem (``AWA2/att_splits.mat`` and
        ``CUB/att_splits.mat``; ``AwA2/onto_file`` and ``ImNet_A/onto_file``)."""
        path = Path(path)
        name = path.stem if path.is_file() else path.name
        taken = {(p.stem if p.is_file() else p.name): p for p in self.source_files}
        if name in taken and taken[name].resolve() != path.resolve():
            name = f"{path.resolve().parent.name}-{name}"
        return name

    def _load_rdf(self, path: Path, fmt_name: str, graph_iri: str) -> None:
        import pyoxigraph as ox

        if not path.is_file():
            raise DataError(f"{path}: expected a file")
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
            message = getattr(e, "msg", None) or str(e)
            raise DataError(f"{where}: malformed {fmt_name.replace('_', '-').lower()}: {message}") from None

    def add_triples(self, triples: Iterable[tuple[Any, Any, Any]], graph: str) -> int:
        """Add ``(s, p, o)`` pyoxigraph terms to a named graph in one transaction.

        Every triple is built before anything is written, so an error raised while reading
        them leaves the store as it was.

        Returns:
            The number of triples given (duplicates count once in the store).
        """
        import pyoxigraph as ox

        g = _graph_node(graph)
        quads = [ox.Quad(s, p, o, g) for s, p, o in triples]
        if not quads:
            raise DataError(f"no triples to add to {g.value}")
        self._store.extend(quads)
        return len(quads)

    def triples(self, graph: str | None = None) -> Iterator[tuple[Any, Any, Any]]:
        """Every ``(s, p, o)`` of one source's named graph, or of all of them (pyoxigraph terms).

        A triple present in two sources is yielded twice when ``graph`` is ``None``.
        """
        g = _graph_node(graph) if graph is not None else None
        for quad in self._store.quads_for_pattern(None, None, None, g):
            yield quad.subject, quad.predicate, quad.object

    def fingerprint(self) -> str:
        """sha256 of the triples (union of the sources, as sorted N-Triples lines): equal
        content gives an equal fingerprint, whatever the files or their order."""
        import hashlib

        h = hashlib.sha256()
        for line in sorted({f"{s} {p} {o}" for s, p, o in self.triples()}):
            h.update(line.encode())
            h.update(b"\n")
        return h.hexdigest()

    def graphs(self) -> list[str]:
        """IRIs of the named graphs (one per loaded source), sorted."""
        return sorted(g.value for g in self._store.named_graphs())

    def graph_names(self) -> list[str]:
        """Short names of the named graphs (``urn:kgzsl:source:`` left off), sorted."""
        return [g.removeprefix(SOURCE_PREFIX) for g in self.graphs()]

    def drop(self, graph: str) -> None:
        """Remove a source's named graph."""
        self._store.remove_graph(_graph_node(graph))

    def query(self, sparql: str) -> list[tuple]:
        """Run a SPARQL SELECT over the union of all graphs; rows of plain Python values.

        The prefixes ``rdf``, ``rdfs``, ``owl``, ``xsd`` and ``skos`` are predeclared.
        """
        solutions = self._run(sparql)
        if not hasattr(solutions, "variables"):
            raise DataError("query: expected a SPARQL SELECT (use construct() for CONSTRUCT, ask() for ASK)")
        names = [v.value for v in solutions.variables]
        return [tuple(_term_value(row[n]) for n in names) for row in solutions]

    def construct(self, sparql: str) -> list[tuple[Any, Any, Any]]:
        """Run a SPARQL CONSTRUCT over the union of all graphs; the triples as pyoxigraph terms."""
        result = self._run(sparql)
        if hasattr(result, "variables") or isinstance(result, bool) or type(result).__name__ == "QueryBoolean":
            raise DataError("construct: expected a SPARQL CONSTRUCT query")
        return [(t.subject, t.predicate, t.object) for t in result]

    def ask(self, sparql: str) -> bool:
        return bool(self._run(sparql))

    def _run(self, sparql: str) -> Any:
        try:
            return self._store.query(sparql, use_default_graph_as_union=True, prefixes=STANDARD_PREFIXES)
        except SyntaxError as e:
            raise DataError(f"SPARQL syntax error: {e}") from None

    def relation_counts(self) -> dict[str, int]:
        """Number of triples per relation (predicate IRI), over all sources."""
        rows = self.query("SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p")
        return {p: int(n) for p, n in sorted(rows)}

    def resolve_relation(self, name: str) -> str:
        """The predicate IRI meant by ``name``: a full IRI, ``prefix:local`` with a standard
        prefix (rdf, rdfs, owl, xsd, skos), or a local name that names exactly one predicate."""
        relations = self.relation_counts()
        if name in relations:
            return name
        if ":" in name:
            prefix, local = name.split(":", 1)
            if prefix in STANDARD_PREFIXES and STANDARD_PREFIXES[prefix] + local in relations:
                return STANDARD_PREFIXES[prefix] + local
        matches = [r for r in relations if local_name(r) == name.split(":")[-1]]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise DataError(f"relation {name!r} is ambiguous: {', '.join(matches)}")
        shown = ", ".join(sorted({local_name(r) for r in relations})[:30])
        raise DataError(f"relation {name!r} is not in the knowledge graph; present: {shown}")

    def select(
        self, relations: list[str] | None = None, graphs: list[str] | None = None, construct: str | None = None
    ) -> KnowledgeGraph:
        """A new in-memory graph with part of this one (a K-ZSL "semantic setting").

        Args:
            relations: keep only triples with these predicates (see :meth:`resolve_relation`).
            graphs: keep only these sources (named graphs, by short name or IRI).
            construct: a SPARQL CONSTRUCT whose result becomes the new graph (named graph
                ``construct``); applied after the other two filters.
        """
        import pyoxigraph as ox

        out = KnowledgeGraph()
        out.source_files = list(self.source_files)
        available = self.graph_names()
        keep_graphs = available
        if graphs is not None:
            names = [g.removeprefix(SOURCE_PREFIX) for g in graphs]
            missing = [g for g in names if g not in available]
            if missing:
                raise DataError(
                    f"graph(s) {', '.join(missing)} not in the knowledge graph; present: {', '.join(available)}"
                )
            keep_graphs = names
        keep_relations = None if relations is None else {ox.NamedNode(self.resolve_relation(r)) for r in relations}
        quads = [
            q
            for g in keep_graphs
            for q in self._store.quads_for_pattern(None, None, None, _graph_node(g))
            if keep_relations is None or q.predicate in keep_relations
        ]
        if quads:
            out._store.extend(quads)
        if construct is not None:
            triples = out.construct(construct)
            result = KnowledgeGraph()
            result.source_files = out.source_files
            if triples:
                result.add_triples(triples, graph="construct")
            out = result
        if len(out) == 0:
            raise DataError("the selection leaves the knowledge graph empty")
        return out

    def serialize(self, path: str | os.PathLike, format: str | None = None) -> None:
        """Write all triples (union of the sources) to an RDF file, atomically.

        The format comes from the extension (``.ttl``, ``.nt``, ``.rdf``/``.owl``, ``.nq``,
        ``.trig``); N-Quads and TriG keep the named graphs.
        """
        import pyoxigraph as ox

        from kgzsl.utils import atomic_write_bytes

        path = Path(path)
        fmt_name = _rdf_format(format) if format else RDF_FORMATS.get(path.suffix.lower())
        if fmt_name is None:
            raise DataError(
                f"{path}: unknown RDF format to write {format or path.suffix!r}; use .ttl, .nt, .rdf, .nq or .trig"
            )
        rdf_format = getattr(ox.RdfFormat, fmt_name)
        if fmt_name in ("N_QUADS", "TRIG"):
            data = ox.serialize(self._store, format=rdf_format)
        else:
            triples = {(q.subject, q.predicate, q.object) for q in self._store}
            data = ox.serialize([ox.Triple(*t) for t in sorted(triples, key=str)], format=rdf_format)
        atomic_write_bytes(path, data)

    # -- interoperability (see kgzsl.knowledge.views) ---------------------------------------

    def to_pyg(self, **options: Any) -> Any:
        """A PyTorch Geometric view; see :func:`kgzsl.knowledge.views.to_pyg`."""
        from kgzsl.knowledge.views import to_pyg

        return to_pyg(self, **options)

    def to_networkx(self, graph: str | None = None, include_literals: bool = False) -> Any:
        """A ``networkx.MultiDiGraph`` with relation labels; see :func:`kgzsl.knowledge.views.to_networkx`."""
        from kgzsl.knowledge.views import to_networkx

        return to_networkx(self, graph=graph, include_literals=include_literals)

    def to_rdflib(self, graph: str | None = None) -> Any:
        """An rdflib ``Graph`` (one source) or ``Dataset`` (all); see :func:`kgzsl.knowledge.views.to_rdflib`."""
        from kgzsl.knowledge.views import to_rdflib

        return to_rdflib(self, graph=graph)

    def add_rdflib(self, graph: Any, name: str = "rdflib") -> str:
        """Add the triples of an rdflib ``Graph`` as the source ``name``; returns its graph IRI."""
        from kgzsl.knowledge.views import from_rdflib

        self.add_triples(from_rdflib(graph), graph=name)
        return _graph_node(name).value

    @classmethod
    def from_rdflib(cls, graph: Any, name: str = "rdflib") -> KnowledgeGraph:
        """An in-memory knowledge graph holding an rdflib ``Graph``."""
        kg = cls()
        kg.add_rdflib(graph, name)
        return kg

    def __len__(self) -> int:
        return len(self._store)

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "memory"
        return f"KnowledgeGraph({len(self)} triples, {len(self.graphs())} sources, {where})"


STANDARD_PREFIXES = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
}


def _graph_node(graph: str) -> Any:
    import pyoxigraph as ox

    return ox.NamedNode(graph if graph.startswith(SOURCE_PREFIX) else SOURCE_PREFIX + graph)
