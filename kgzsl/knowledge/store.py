"""``KnowledgeGraph``: an RDF graph store on Oxigraph, one named graph per loaded source."""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from kgzsl.errors import DataError

__all__ = ["KnowledgeGraph", "QueryResult", "RDF_FORMATS", "STANDARD_PREFIXES", "check_output_path", "local_name"]

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

    Prefixes: :attr:`prefixes` collects the ``@prefix`` / ``xmlns`` declarations of the loaded
    files (and the prefixes of K-ZSL CSV files), first file first; SPARQL queries may use
    them and Turtle output declares them. A graph made by :meth:`select` remembers the graph it
    came from (:attr:`lookup`), where class alignment and entity texts are looked up.

    Args:
        path: folder of an on-disk store, or ``None`` for an in-memory one.
        prefixes: ``{name: namespace}`` declared by the user; they win over the files' own.
    """

    def __init__(self, path: str | os.PathLike | None = None, prefixes: Mapping[str, str] | None = None) -> None:
        import pyoxigraph as ox

        self.path = Path(path).expanduser() if path is not None else None
        if self.path is not None:
            _check_store_folder(self.path)
            try:
                self._store = ox.Store(str(self.path))
            except (OSError, RuntimeError) as e:  # RocksDB reports a damaged store as RuntimeError
                raise DataError(f"{self.path}: cannot open the graph store ({_one_line(str(e))})") from None
        else:
            self._store = ox.Store()
        self.source_files: list[Path] = []
        #: prefixes declared by the user (``--prefix``, ``prefixes:``); they win over the files'
        self.user_prefixes: dict[str, str] = dict(prefixes or {})
        self._file_prefixes: dict[str, str] = {}
        self._lookup: KnowledgeGraph | None = None

    @property
    def prefixes(self) -> dict[str, str]:
        """``{name: namespace}``: the standard ones (rdf, rdfs, owl, xsd, skos), then the
        files' declarations (the first file to declare a name wins), then the user's."""
        return {**STANDARD_PREFIXES, **self._file_prefixes, **self.user_prefixes}

    def add_prefixes(self, prefixes: Mapping[str, str]) -> None:
        """Remember prefixes declared by a file (a name already taken keeps its namespace)."""
        for name, namespace in prefixes.items():
            if name not in STANDARD_PREFIXES:
                self._file_prefixes.setdefault(name, namespace)

    @property
    def lookup(self) -> KnowledgeGraph:
        """The graph where entity names and texts are looked up: the whole graph that a
        :meth:`select` kept part of (a K-ZSL setting), else this graph."""
        return self._lookup if self._lookup is not None else self

    @classmethod
    def from_files(
        cls, *paths: str | os.PathLike, format: str | None = None, prefixes: Mapping[str, str] | None = None
    ) -> KnowledgeGraph:
        """An in-memory graph with each file loaded into a named graph of its own.

        ``prefixes`` (``{name: namespace}``) are the user's: they expand the prefixed names of
        K-ZSL CSV files, and queries and Turtle output may use them.
        """
        kg = cls(prefixes=prefixes)
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
        path = Path(path)
        try:
            return self._load(path, format, graph, **options)
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: not UTF-8 text ({e.reason})") from None
        except (PermissionError, IsADirectoryError, NotADirectoryError) as e:
            what = "permission denied" if isinstance(e, PermissionError) else (e.strerror or str(e))
            raise DataError(f"{e.filename or path}: cannot read ({what})") from None
        except OSError as e:
            raise DataError(f"{e.filename or path}: cannot read ({_one_line(e.strerror or str(e))})") from None

    def _load(self, path: Path, format: str | None, graph: str | None, **options: Any) -> str:
        from kgzsl.knowledge.formats import format_for_path, triple_formats

        if not path.exists():
            raise DataError(f"{path}: no such file")
        if path.is_file() and path.stat().st_size == 0:
            raise DataError(f"{path}: file is empty")
        if path.is_file() and not os.access(path, os.R_OK):
            raise DataError(f"{path}: cannot read (permission denied)")
        graph_iri = SOURCE_PREFIX + (graph or self.default_graph_name(path))
        rdf_format = _rdf_format(format) if format else RDF_FORMATS.get(path.suffix.lower())
        if rdf_format is not None and not set(options) - {"prefixes"}:
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
            if self.user_prefixes and "prefixes" not in options and _accepts(fmt.reader, "prefixes"):
                options = {**options, "prefixes": self.user_prefixes}
            elif "prefixes" in options and not _accepts(fmt.reader, "prefixes"):
                options = {k: v for k, v in options.items() if k != "prefixes"}
            self.add_triples(fmt.reader(path, **options), graph=graph_iri)
            if fmt.prefixes is not None:
                self.add_prefixes(fmt.prefixes(path, **options))
        self.source_files.append(path)
        return graph_iri

    def note_prefixes(self, path: str | os.PathLike, format: str | None = None, **options: Any) -> None:
        """Remember the prefixes a file declares without loading it (a file already in a
        persistent store)."""
        from kgzsl.knowledge.formats import format_for_path, triple_formats

        path = Path(path)
        rdf_format = _rdf_format(format) if format else RDF_FORMATS.get(path.suffix.lower())
        try:
            if rdf_format is not None and not set(options) - {"prefixes"}:
                if rdf_format == "RDF_XML":
                    self.add_prefixes(_check_xml(path))
                else:
                    self.add_prefixes(_text_prefixes(path))
                return
            fmt = triple_formats().get(format.lower()) if format else format_for_path(path)
            if fmt is not None and fmt.prefixes is not None:
                if self.user_prefixes and "prefixes" not in options and _accepts(fmt.reader, "prefixes"):
                    options = {**options, "prefixes": self.user_prefixes}
                self.add_prefixes(fmt.prefixes(path, **options))
        except OSError:
            pass  # the prefixes are a convenience; the store already holds the triples

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
        if fmt_name == "RDF_XML":
            # Oxigraph's streaming RDF/XML parser accepts a document cut off between two
            # elements and gives no line for XML errors: check well-formedness with expat first.
            prefixes = _check_xml(path)
        elif fmt_name in ("TURTLE", "TRIG", "N3"):
            prefixes = _text_prefixes(path)
        else:
            prefixes = {}
        shown = fmt_name.replace("_", "-").lower()
        try:
            self._store.load(
                path=str(path),
                format=getattr(ox.RdfFormat, fmt_name),
                base_iri=path.resolve().as_uri(),
                to_graph=ox.NamedNode(graph_iri),
            )
        except SyntaxError as e:
            message = getattr(e, "msg", None) or str(e)
            line = getattr(e, "lineno", None) or _locate(path, message)
            where = f"{path}:{line}" if line else str(path)
            if "Invalid UTF-8" in message:
                message = "not UTF-8 text: " + message
            raise DataError(f"{where}: malformed {shown}: {_one_line(message)}") from None
        except ValueError as e:  # e.g. a JSON-LD context Oxigraph cannot use
            raise DataError(f"{path}: malformed {shown}: {_one_line(str(e))}") from None
        self.add_prefixes(prefixes)

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
        """sha256 of the triples (union of the sources, as sorted N-Triples lines, and of the
        :attr:`lookup` graph's for a selection): equal content gives an equal fingerprint,
        whatever the files or their order."""
        import hashlib

        h = hashlib.sha256()
        for line in sorted({f"{s} {p} {o}" for s, p, o in self.triples()}):
            h.update(line.encode())
            h.update(b"\n")
        if self._lookup is not None:
            # names and texts are looked up there: a change in it may change the result
            h.update(b"lookup " + self._lookup.fingerprint().encode())
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

        The prefixes of :attr:`prefixes` (``rdf``, ``rdfs``, ``owl``, ``xsd``, ``skos``, the
        files' own and the user's) are predeclared.
        """
        import pyoxigraph as ox

        solutions = self._run(sparql)
        if not isinstance(solutions, ox.QuerySolutions):
            raise DataError("query: expected a SPARQL SELECT (use construct() for CONSTRUCT, ask() for ASK)")
        names = [v.value for v in solutions.variables]
        return [tuple(_term_value(row[n]) for n in names) for row in solutions]

    def construct(self, sparql: str) -> list[tuple[Any, Any, Any]]:
        """Run a SPARQL CONSTRUCT (or DESCRIBE) over the union of all graphs; the triples as pyoxigraph terms."""
        import pyoxigraph as ox

        result = self._run(sparql)
        if not isinstance(result, ox.QueryTriples):
            raise DataError("construct: expected a SPARQL CONSTRUCT or DESCRIBE query")
        return [(t.subject, t.predicate, t.object) for t in result]

    def ask(self, sparql: str) -> bool:
        """Run a SPARQL ASK over the union of all graphs."""
        import pyoxigraph as ox

        result = self._run(sparql)
        if not isinstance(result, ox.QueryBoolean):
            raise DataError("ask: expected a SPARQL ASK query")
        return bool(result)

    def sparql(self, sparql: str) -> QueryResult:
        """Run any SPARQL query (SELECT, ASK, CONSTRUCT, DESCRIBE) over the union of all graphs."""
        import pyoxigraph as ox

        result = self._run(sparql)
        if isinstance(result, ox.QuerySolutions):
            names = [v.value for v in result.variables]
            return QueryResult("select", names, [tuple(row[n] for n in names) for row in result])
        if isinstance(result, ox.QueryTriples):
            return QueryResult("triples", ["subject", "predicate", "object"], [tuple(t) for t in result])
        return QueryResult("ask", ["answer"], [], boolean=bool(result))

    def _run(self, sparql: str) -> Any:
        try:
            return self._store.query(sparql, use_default_graph_as_union=True, prefixes=self.prefixes)
        except SyntaxError as e:
            raise DataError(f"SPARQL syntax error: {_one_line(str(e))}") from None
        except (OSError, ValueError, RuntimeError) as e:
            raise DataError(f"SPARQL query failed: {_one_line(str(e))}") from None

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

        The new graph's :attr:`lookup` is this graph (or the graph this one was selected
        from): classes are aligned, and entity texts found, on the whole knowledge graph.

        Args:
            relations: keep only triples with these predicates (see :meth:`resolve_relation`).
            graphs: keep only these sources (named graphs, by short name or IRI).
            construct: a SPARQL CONSTRUCT whose result becomes the new graph (named graph
                ``construct``); applied after the other two filters.
        """
        import pyoxigraph as ox

        out = KnowledgeGraph(prefixes=self.user_prefixes)
        out.source_files = list(self.source_files)
        out._file_prefixes = dict(self._file_prefixes)
        out._lookup = self.lookup
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
            result = KnowledgeGraph(prefixes=self.user_prefixes)
            result.source_files = out.source_files
            result._file_prefixes = out._file_prefixes
            result._lookup = out._lookup
            if triples:
                result.add_triples(triples, graph="construct")
            out = result
        if len(out) == 0:
            raise DataError("the selection leaves the knowledge graph empty")
        return out

    def serialize(self, path: str | os.PathLike, format: str | None = None) -> None:
        """Write all triples (union of the sources) to an RDF file, atomically.

        The format comes from the extension (``.ttl``, ``.nt``, ``.rdf``/``.owl``, ``.nq``,
        ``.trig``); N-Quads and TriG keep the named graphs. Turtle, TriG and RDF/XML declare
        the graph's :attr:`prefixes` that the triples use and write prefixed names.

        Raises:
            DataError: an unknown format, or a path that cannot be written (a folder, a
                path under a file, a read-only folder); nothing is written then.
        """
        import pyoxigraph as ox

        from kgzsl.utils import atomic_write_bytes

        path = Path(path)
        fmt_name = _rdf_format(format) if format else RDF_FORMATS.get(path.suffix.lower())
        if fmt_name is None:
            raise DataError(
                f"{path}: unknown RDF format to write {format or path.suffix!r}; use .ttl, .nt, .rdf, .nq or .trig"
            )
        check_output_path(path)
        rdf_format = getattr(ox.RdfFormat, fmt_name)
        if fmt_name in ("N_QUADS", "TRIG"):
            items: list[Any] = sorted(self._store, key=str)
        else:
            triples = {(q.subject, q.predicate, q.object) for q in self._store}
            items = [ox.Triple(*t) for t in sorted(triples, key=str)]
        prefixes = self.used_prefixes(items) if fmt_name in ("TURTLE", "TRIG", "RDF_XML", "N3") else None
        try:
            data = ox.serialize(items, format=rdf_format, prefixes=prefixes)
        except (ValueError, TypeError) as e:
            shown = _FORMAT_LABELS.get(fmt_name)
            raise DataError(f"{path}: cannot write the graph as {shown}: {_one_line(str(e))}") from None
        try:
            atomic_write_bytes(path, data)
        except PermissionError:
            raise DataError(f"{path}: cannot write (permission denied in {path.parent})") from None
        except OSError as e:
            raise DataError(f"{path}: cannot write ({_one_line(e.strerror or str(e))})") from None

    def used_prefixes(self, items: list[Any]) -> dict[str, str]:
        """The prefixes (of :attr:`prefixes`) whose namespace some IRI of ``items`` (triples
        or quads) starts with; a namespace bound to several names keeps the first."""
        import pyoxigraph as ox

        iris: set[str] = set()
        for item in items:
            for term in (item.subject, item.predicate, item.object):
                if isinstance(term, ox.NamedNode):
                    iris.add(term.value)
                elif isinstance(term, ox.Literal):
                    iris.add(term.datatype.value)
        namespaces = {iri.rsplit("#", 1)[0] + "#" if "#" in iri else iri.rsplit("/", 1)[0] + "/" for iri in iris}
        used, taken = {}, set()
        for name, namespace in self.prefixes.items():
            if namespace in taken or not namespace:
                continue
            if namespace in namespaces or any(iri.startswith(namespace) for iri in iris if len(iri) > len(namespace)):
                used[name] = namespace
                taken.add(namespace)
        return used

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


_FORMAT_LABELS = {
    "TURTLE": "Turtle",
    "N_TRIPLES": "N-Triples",
    "N_QUADS": "N-Quads",
    "TRIG": "TriG",
    "N3": "N3",
    "RDF_XML": "RDF/XML",
    "JSON_LD": "JSON-LD",
}

# ``@prefix p: <iri> .`` / ``PREFIX p: <iri>`` declarations of Turtle, TriG and N3
_PREFIX_LINE = re.compile(
    r"^[ \t]*(?:@prefix|PREFIX)[ \t]+([A-Za-z][\w.-]*)?:[ \t]*<([^>\s]*)>", re.MULTILINE | re.IGNORECASE
)


def _one_line(text: str) -> str:
    from kgzsl.knowledge.formats import one_line

    return one_line(text)


def _accepts(function: Any, name: str) -> bool:
    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def _text_prefixes(path: Path) -> dict[str, str]:
    """The prefix declarations of a Turtle / TriG / N3 file (first declaration of a name wins)."""
    found: dict[str, str] = {}
    with path.open("rb") as f:
        text = f.read().decode("utf-8", errors="replace")
    for name, iri in _PREFIX_LINE.findall(text):
        found.setdefault(name, iri)
    return found


def _locate(path: Path, message: str) -> int | None:
    """The line of the first text that an error message quotes (``'http://a b'``, `` `x` ``),
    for parsers that give none (Oxigraph's RDF/XML and JSON-LD)."""
    fragments = [f for f in re.findall(r"'([^'\n]{3,})'|`([^`\n]{3,})`", message) for f in f if f]
    if not fragments:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    for fragment in fragments:
        at = data.find(fragment.encode("utf-8"))
        if at >= 0:
            return data.count(b"\n", 0, at) + 1
    return None


def _check_xml(path: Path) -> dict[str, str]:
    """Check that an RDF/XML file is well-formed XML (expat, with the line of the first error);
    returns its namespace declarations ``{prefix: namespace}``."""
    import xml.parsers.expat

    prefixes: dict[str, str] = {}
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")

    def declare(prefix: str | None, uri: str | None) -> None:
        if prefix and uri:
            prefixes.setdefault(prefix, uri)

    parser.StartNamespaceDeclHandler = declare
    try:
        with path.open("rb") as f:
            parser.ParseFile(f)
    except xml.parsers.expat.ExpatError as e:
        reason = xml.parsers.expat.ErrorString(e.code)
        if reason in ("no element found", "unclosed token") or "unclosed" in reason:
            reason += " (the file ends before its elements are closed: cut off?)"
        if reason == "not well-formed (invalid token)":
            reason += " (or not UTF-8 text)"
        raise DataError(f"{path}:{e.lineno}: malformed rdf-xml: {reason} at column {e.offset + 1}") from None
    return {p: uri for p, uri in prefixes.items() if p != "xml"}


def _check_store_folder(path: Path) -> None:
    """A persistent store's folder must be a folder (or not exist yet) in an existing folder."""
    if path.exists() and not path.is_dir():
        raise DataError(f"{path}: store: expected a folder for the graph store, found a file")
    if not path.exists():
        parent = path.parent
        if not parent.exists():
            raise DataError(f"{path}: store: the folder {parent} does not exist; create it first")
        if not parent.is_dir():
            raise DataError(f"{path}: store: {parent} is a file, not a folder")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise DataError(f"{path}: store: cannot create the store folder in {parent} (permission denied)")
    elif not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        raise DataError(f"{path}: store: cannot open the store folder (permission denied)")
    elif any(path.iterdir()) and not (path / "CURRENT").is_file():
        # not a store (an Oxigraph store has RocksDB's CURRENT file): never write into a user's folder
        raise DataError(f"{path}: store: not a graph store folder (it holds other files); give a new or empty folder")


def check_output_path(path: Path) -> None:
    """An output path must not be a folder or lie under a file."""
    if path.is_dir():
        raise DataError(f"{path}: is a folder; give the output file's name (e.g. {path / 'graph.ttl'})")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise DataError(f"{path}: cannot write: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise DataError(f"{path}: cannot write (permission denied in {parent})")
            break


class QueryResult:
    """The result of :meth:`KnowledgeGraph.sparql`.

    Attributes:
        kind: ``select``, ``ask`` or ``triples`` (CONSTRUCT, DESCRIBE).
        variables: column names (``subject``, ``predicate``, ``object`` for triples).
        rows: tuples of pyoxigraph terms (``None`` for an unbound variable).
        boolean: the answer of an ASK.
    """

    def __init__(self, kind: str, variables: list[str], rows: list[tuple], boolean: bool | None = None) -> None:
        self.kind = kind
        self.variables = variables
        self.rows = rows
        self.boolean = boolean

    def __repr__(self) -> str:
        if self.kind == "ask":
            return f"QueryResult(ask: {self.boolean})"
        return f"QueryResult({self.kind}: {len(self.rows)} rows of {', '.join(self.variables)})"


def _graph_node(graph: str) -> Any:
    import pyoxigraph as ox

    return ox.NamedNode(graph if graph.startswith(SOURCE_PREFIX) else SOURCE_PREFIX + graph)
