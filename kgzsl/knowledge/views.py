"""Views of a :class:`KnowledgeGraph` for graph learning and interop: PyG, networkx, rdflib.

:func:`to_pyg` gives the homogeneous multi-relational graph that GCN-based zero-shot methods
propagate over (GCNZ, DGP; R-GCN: Schlichtkrull et al., "Modeling Relational Data with Graph
Convolutional Networks", ESWC 2018): one node per IRI or blank node, one typed edge per triple
whose object is not a literal. Literal objects (labels, comments, ...) are not nodes; their
texts are kept per node for text encoders. :func:`to_hetero` types the nodes by ``rdf:type``.
:func:`to_networkx` / :func:`from_networkx` and :func:`to_rdflib` / :func:`from_rdflib`
convert to and from those libraries.

Node keys are IRIs, and ``_:<id>`` for blank nodes (whose ids are the store's: stable within
one store, not across loads of a file).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from kgzsl.errors import DataError
from kgzsl.knowledge.store import SOURCE_PREFIX, KnowledgeGraph, local_name

if TYPE_CHECKING:
    import networkx
    import rdflib
    import torch
    from torch_geometric.data import Data, HeteroData

__all__ = [
    "GraphView",
    "to_pyg",
    "to_hetero",
    "to_networkx",
    "from_networkx",
    "to_rdflib",
    "from_rdflib",
    "RDF_TYPE",
    "SELF_LOOP",
    "INVERSE_SUFFIX",
]

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
#: relation name of the self loops of :func:`to_pyg`
SELF_LOOP = "self"
#: suffix of the inverse relations of :func:`to_pyg`: ``<iri>^-1``
INVERSE_SUFFIX = "^-1"
#: the type of nodes without ``rdf:type`` in :func:`to_hetero`
UNTYPED = "Entity"

Triple = tuple[Any, Any, Any]


@dataclass
class _Collected:
    """One pass over the triples: IRI/blank-object triples as parallel lists, literals apart."""

    subjects: list[str] = field(default_factory=list)
    predicates: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)
    literal_subjects: list[str] = field(default_factory=list)
    literal_predicates: list[str] = field(default_factory=list)
    literal_values: list[str] = field(default_factory=list)


def _collect(kg: KnowledgeGraph, graph: str | None) -> _Collected:
    import pyoxigraph as ox

    out = _Collected()
    s_append, p_append, o_append = out.subjects.append, out.predicates.append, out.objects.append
    for s, p, o in kg.triples(graph):
        ts = type(s)
        if ts is ox.NamedNode:
            skey = s.value
        elif ts is ox.BlankNode:
            skey = "_:" + s.value
        else:  # an RDF-star quoted triple: not a node
            continue
        to = type(o)
        if to is ox.NamedNode:
            s_append(skey)
            p_append(p.value)
            o_append(o.value)
        elif to is ox.Literal:
            out.literal_subjects.append(skey)
            out.literal_predicates.append(p.value)
            out.literal_values.append(o.value)
        elif to is ox.BlankNode:
            s_append(skey)
            p_append(p.value)
            o_append("_:" + o.value)
    return out


def _index(values: list[str], order: list[str] | None = None) -> tuple[list[str], np.ndarray]:
    """Distinct values (sorted, or ``order`` first then the rest sorted) and each value's position."""
    distinct = set(values)
    if order is None:
        names = sorted(distinct)
    else:
        known = set(order)
        names = list(order) + sorted(distinct - known)
    position = {name: i for i, name in enumerate(names)}
    return names, np.fromiter(map(position.__getitem__, values), dtype=np.int64, count=len(values))


@dataclass
class GraphView:
    """A knowledge graph as a homogeneous multi-relational graph for PyG; built by :func:`to_pyg`.

    Attributes:
        edge_index: source and target node of each edge, sorted by (type, source, target).
        edge_type: index of each edge's relation into ``relation_ids``.
        node_ids: node IRIs (``_:<id>`` for blank nodes), in node order.
        node_index: IRI → node index.
        relation_ids: relation IRIs, then ``<iri>^-1`` inverses, then ``self``, as asked.
        literals: node index → the texts of its literal objects (labels, comments, ...), sorted.

    Shapes:
        edge_index: ``[2, E]`` int64.
        edge_type: ``[E]`` int64.
    """

    edge_index: torch.Tensor
    edge_type: torch.Tensor
    node_ids: list[str]
    node_index: dict[str, int]
    relation_ids: list[str]
    literals: dict[int, list[str]]

    @property
    def num_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.shape[1])

    @property
    def num_relations(self) -> int:
        return len(self.relation_ids)

    def to_data(self) -> Data:
        """A ``torch_geometric.data.Data(edge_index, edge_type, num_nodes)``."""
        from kgzsl.utils import quiet_import

        Data = quiet_import("torch_geometric.data").Data  # noqa: N806

        return Data(edge_index=self.edge_index, edge_type=self.edge_type, num_nodes=self.num_nodes)

    def __repr__(self) -> str:
        return f"GraphView({self.num_nodes} nodes, {self.num_edges} edges, {self.num_relations} relations)"


def to_pyg(
    kg: KnowledgeGraph,
    relations: Sequence[str] | None = None,
    graph: str | None = None,
    add_inverse: bool = False,
    add_self_loops: bool = False,
    node_order: str | Sequence[str] = "sorted",
    literal_relations: Sequence[str] | None = None,
) -> GraphView:
    """A knowledge graph as PyG's homogeneous multi-relational graph (``edge_index``, ``edge_type``).

    Schlichtkrull et al., "Modeling Relational Data with Graph Convolutional Networks", ESWC
    2018, for the multi-relational view; GCNZ (Wang et al., CVPR 2018) and DGP (Kampffmeyer et
    al., CVPR 2019) propagate over such class graphs. The nodes are every IRI or blank node that
    is the subject or object of a triple (whatever ``relations`` keeps, so node indices do not
    depend on it); each triple with a non-literal object and a kept relation is one edge
    (a triple present in several sources counts once). Literal objects are not nodes: their
    texts go to :attr:`GraphView.literals`.

    The result is reproducible: the same triples give identical tensors (edges sorted by
    relation, source, target).

    Args:
        kg: the knowledge graph.
        relations: relations to keep as edges (IRIs, ``rdfs:subClassOf`` or local names), in
            the order of their ``edge_type``; ``None`` keeps all, sorted by IRI.
        graph: one source's named graph (its name or IRI); ``None`` for all of them.
        add_inverse: add an edge ``o → s`` of relation ``<iri>^-1`` for each edge ``s → o``.
        add_self_loops: add an edge ``i → i`` of relation ``self`` for every node.
        node_order: ``"sorted"`` (by IRI), or a list of IRIs to put first in that order
            (e.g. a dataset's classes), followed by the other nodes sorted; listed IRIs absent
            from the graph become isolated nodes.
        literal_relations: relations whose literal objects are kept in ``literals`` (``None``:
            all).

    Returns:
        The :class:`GraphView`.

    Raises:
        DataError: a relation of ``relations`` has no edge in the graph, or ``node_order``
            repeats an IRI.
    """
    import torch

    t = _collect(kg, graph)
    order: list[str] | None
    if isinstance(node_order, str):
        if node_order != "sorted":
            raise DataError(f"node_order must be 'sorted' or a list of IRIs, not {node_order!r}")
        order = None
    else:
        order = list(node_order)
        if len(set(order)) != len(order):
            raise DataError("node_order lists an IRI more than once")
    n_edges = len(t.subjects)
    node_ids, position = _index(t.subjects + t.objects + t.literal_subjects, order)
    src, dst = position[:n_edges], position[n_edges : 2 * n_edges]
    lit_nodes = position[2 * n_edges :]

    present = set(t.predicates)
    if relations is not None:
        # prefixed names (rdfs:subClassOf) and unique local names (hasColor) are accepted too
        relations = list(dict.fromkeys(r if r in present else kg.resolve_relation(r) for r in relations))
        missing = [r for r in relations if r not in present]
        if missing:
            raise DataError(
                f"relations without edges in the graph: {', '.join(missing[:5])}"
                f" (relations: {', '.join(sorted(present)[:10])}{', ...' if len(present) > 10 else ''})"
            )
    relation_ids, rel = _index(t.predicates, relations)
    relation_ids = relation_ids[: len(relations)] if relations is not None else relation_ids
    keep = rel < len(relation_ids)
    src, dst, rel = src[keep], dst[keep], rel[keep]

    n_rel = len(relation_ids)
    if add_inverse:
        src, dst, rel = np.concatenate([src, dst]), np.concatenate([dst, src]), np.concatenate([rel, rel + n_rel])
        relation_ids = relation_ids + [r + INVERSE_SUFFIX for r in relation_ids]
    if add_self_loops:
        loops = np.arange(len(node_ids), dtype=np.int64)
        src, dst = np.concatenate([src, loops]), np.concatenate([dst, loops])
        rel = np.concatenate([rel, np.full(len(loops), len(relation_ids), dtype=np.int64)])
        relation_ids = relation_ids + [SELF_LOOP]
    if len(rel):
        # sort by (type, source, target) and drop repeats
        order_ = np.lexsort((dst, src, rel))
        src, dst, rel = src[order_], dst[order_], rel[order_]
        new = np.ones(len(rel), dtype=bool)
        new[1:] = (np.diff(rel) != 0) | (np.diff(src) != 0) | (np.diff(dst) != 0)
        src, dst, rel = src[new], dst[new], rel[new]

    literals: dict[int, list[str]] = {}
    wanted = set(literal_relations) if literal_relations is not None else None
    for node, pred, value in zip(lit_nodes.tolist(), t.literal_predicates, t.literal_values):
        if wanted is None or pred in wanted:
            literals.setdefault(node, []).append(value)
    literals = {node: sorted(set(values)) for node, values in sorted(literals.items())}

    return GraphView(
        edge_index=torch.from_numpy(np.stack([src, dst]).astype(np.int64, copy=False)),
        edge_type=torch.from_numpy(rel.astype(np.int64, copy=False)),
        node_ids=node_ids,
        node_index={iri: i for i, iri in enumerate(node_ids)},
        relation_ids=relation_ids,
        literals=literals,
    )


def _safe_names(iris: list[str]) -> dict[str, str]:
    """A PyG-safe name per IRI: its local name, alphanumerics and ``_`` only, made unique."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for iri in sorted(iris):
        base = re.sub(r"\W", "_", local_name(iri)) or "relation"
        name, k = base, 2
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        names[iri] = name
    return names


def to_hetero(
    kg: KnowledgeGraph,
    relations: Sequence[str] | None = None,
    graph: str | None = None,
    node_order: str | Sequence[str] = "sorted",
    type_relation: str = RDF_TYPE,
) -> HeteroData:
    """A knowledge graph as PyG's ``HeteroData``, node types from ``rdf:type``.

    A node's type is the local name of its ``rdf:type`` (the smallest type IRI when it has
    several); nodes without one are ``"Entity"`` (as are nodes of a type whose local name is
    ``Entity``). Edge types are ``(source type, relation
    local name, target type)``. The ``rdf:type`` triples define the types and are not edges.
    Names keep letters, digits and ``_`` only; two IRIs with the same local name get ``_2``,
    ``_3``, ... in IRI order. For inverse edges, apply ``torch_geometric.transforms.ToUndirected``.

    Each node type stores ``num_nodes``, ``node_ids`` (its IRIs) and ``global_index`` (its
    nodes' indices in :func:`to_pyg`'s order with the same ``node_order``); each edge type
    stores ``edge_index`` (local indices) and ``relation`` (the IRI).

    Args:
        kg: the knowledge graph.
        relations: relation IRIs to keep (``None``: all but ``type_relation``).
        graph: one source's named graph, or ``None`` for all.
        node_order: as in :func:`to_pyg`.
        type_relation: the relation giving node types.

    Returns:
        The ``torch_geometric.data.HeteroData``.
    """
    import torch

    from kgzsl.utils import quiet_import

    HeteroData = quiet_import("torch_geometric.data").HeteroData  # noqa: N806

    view = to_pyg(kg, graph=graph, node_order=node_order)
    src, dst = view.edge_index.numpy()
    rel = view.edge_type.numpy()
    n = view.num_nodes

    # node types: the local name of the smallest type IRI; "Entity" when untyped
    type_of = np.full(n, -1, dtype=np.int64)
    type_iris: list[str] = []
    if type_relation in view.relation_ids:
        is_type = rel == view.relation_ids.index(type_relation)
        typed, types = src[is_type].tolist(), dst[is_type].tolist()
        type_iris = sorted({view.node_ids[o] for o in types})
        rank = {iri: i for i, iri in enumerate(type_iris)}
        chosen: dict[int, int] = {}
        for s, o in zip(typed, types):
            r = rank[view.node_ids[o]]
            if r < chosen.get(s, len(type_iris)):
                chosen[s] = r
    safe = _safe_names(type_iris)
    type_names = sorted(set(safe.values()) | {UNTYPED})
    if type_iris:
        name_index = {name: i for i, name in enumerate(type_names)}
        type_code = np.array([name_index[safe[iri]] for iri in type_iris], dtype=np.int64)
        nodes = np.fromiter(chosen.keys(), dtype=np.int64, count=len(chosen))
        type_of[nodes] = type_code[np.fromiter(chosen.values(), dtype=np.int64, count=len(chosen))]
    type_of[type_of < 0] = type_names.index(UNTYPED)

    # edges to keep
    if relations is None:
        kept = [r for r in view.relation_ids if r != type_relation]
    else:
        unknown = [r for r in relations if r not in view.relation_ids]
        if unknown:
            raise DataError(f"relations without edges in the graph: {', '.join(unknown[:5])}")
        kept = [r for r in dict.fromkeys(relations) if r != type_relation]
    rel_names = _safe_names(kept)
    kept_codes = np.array([view.relation_ids.index(r) for r in kept], dtype=np.int64)
    mask = np.isin(rel, kept_codes)
    src, dst, rel = src[mask], dst[mask], rel[mask]

    data = HeteroData()
    local = np.zeros(n, dtype=np.int64)
    for code, name in enumerate(type_names):
        members = np.flatnonzero(type_of == code)
        if len(members) == 0:
            continue
        local[members] = np.arange(len(members))
        data[name].num_nodes = len(members)
        data[name].node_ids = [view.node_ids[i] for i in members.tolist()]
        data[name].global_index = torch.from_numpy(members.astype(np.int64))
    if len(rel):
        keys = np.stack([type_of[src], rel, type_of[dst]], axis=1)
        groups, group_of = np.unique(keys, axis=0, return_inverse=True)
        group_of = group_of.reshape(-1)
        for g, (ts, r, td) in enumerate(groups.tolist()):
            sel = group_of == g
            iri = view.relation_ids[r]
            key = (type_names[ts], rel_names[iri], type_names[td])
            data[key].edge_index = torch.from_numpy(np.stack([local[src[sel]], local[dst[sel]]]))
            data[key].relation = iri
    return data


def to_networkx(kg: KnowledgeGraph, graph: str | None = None, include_literals: bool = False) -> networkx.MultiDiGraph:
    """A knowledge graph as a ``networkx.MultiDiGraph``.

    Nodes are IRIs (``_:<id>`` for blank nodes), the same nodes as :func:`to_pyg`'s; each
    triple with a non-literal object is an edge keyed by its relation IRI, which is also its
    ``relation`` attribute. With ``include_literals``, each node's literal texts are its
    ``literals`` attribute (a sorted list) instead of being nodes.
    """
    import networkx as nx

    t = _collect(kg, graph)
    g = nx.MultiDiGraph()
    g.add_nodes_from(sorted(set(t.subjects) | set(t.objects) | set(t.literal_subjects)))
    g.add_edges_from((s, o, p, {"relation": p}) for s, p, o in sorted(set(zip(t.subjects, t.predicates, t.objects))))
    if include_literals:
        texts: dict[str, set[str]] = {}
        for s, value in zip(t.literal_subjects, t.literal_values):
            texts.setdefault(s, set()).add(value)
        for s, values in texts.items():
            g.nodes[s]["literals"] = sorted(values)
    return g


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def _node_term(name: Any, namespace: str) -> Any:
    import pyoxigraph as ox

    text = str(name)
    try:
        if text.startswith("_:"):
            return ox.BlankNode(text[2:])
        return ox.NamedNode(text if _SCHEME.match(text) else namespace + text)
    except ValueError as e:
        raise DataError(f"{name!r} cannot be an RDF node: {e}") from None


def from_networkx(
    g: networkx.Graph,
    relation_attr: str = "relation",
    namespace: str = "urn:kgzsl:node:",
    default_relation: str = "https://w3id.org/kgzsl/vocab#relatedTo",
    literal_attr: str = "literals",
    literal_relation: str = RDFS_LABEL,
) -> list[Triple]:
    """Triples of a networkx graph, ready for :meth:`KnowledgeGraph.add_triples`.

    Each edge is one triple (an undirected edge too, in the direction networkx lists it).
    Its relation is the edge's ``relation_attr`` attribute, else its key in a multigraph
    when that is a string, else ``default_relation``. Node names that are not absolute IRIs
    (``"cat"``, ``3``) get ``namespace`` before them; ``_:x`` names are blank nodes. A node's
    ``literal_attr`` attribute (a string or a list of strings, as :func:`to_networkx` writes
    it) becomes ``literal_relation`` triples. Isolated nodes without literals have no triple.

    Raises:
        DataError: a node or relation cannot be an IRI.
    """
    import pyoxigraph as ox

    relation_terms: dict[Any, Any] = {}

    def relation(value: Any) -> Any:
        if value not in relation_terms:
            term = _node_term(value, "urn:kgzsl:relation:")
            if not isinstance(term, ox.NamedNode):
                raise DataError(f"relation {value!r} cannot be a blank node")
            relation_terms[value] = term
        return relation_terms[value]

    nodes = {n: _node_term(n, namespace) for n in g.nodes}
    if g.is_multigraph():
        edges: Iterable = ((u, v, k, d) for u, v, k, d in g.edges(keys=True, data=True))
    else:
        edges = ((u, v, None, d) for u, v, d in g.edges(data=True))
    triples: list[Triple] = []
    for u, v, key, data in edges:
        value = data.get(relation_attr)
        if value is None:
            value = key if isinstance(key, str) else default_relation
        triples.append((nodes[u], relation(value), nodes[v]))
    label = ox.NamedNode(literal_relation)
    for n, data in g.nodes(data=True):
        texts = data.get(literal_attr)
        if texts is None:
            continue
        for text in [texts] if isinstance(texts, str) else texts:
            triples.append((nodes[n], label, ox.Literal(str(text))))
    return triples


def _to_rdflib_term(term: Any) -> Any:
    import pyoxigraph as ox
    import rdflib

    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return rdflib.Literal(term.value, lang=term.language, normalize=False)
        datatype = term.datatype.value
        if datatype == XSD_STRING:
            return rdflib.Literal(term.value, normalize=False)
        return rdflib.Literal(term.value, datatype=rdflib.URIRef(datatype), normalize=False)
    raise DataError(f"no rdflib term for {term!r}")


def _from_rdflib_term(term: Any) -> Any:
    import pyoxigraph as ox
    import rdflib

    if isinstance(term, rdflib.URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, rdflib.BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, rdflib.Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None and str(term.datatype) not in (XSD_STRING, RDF_LANG_STRING):
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise DataError(f"no RDF term for {term!r} ({type(term).__name__})")


def to_rdflib(kg: KnowledgeGraph, graph: str | None = None) -> rdflib.Graph | rdflib.Dataset:
    """A knowledge graph in rdflib: one source's ``rdflib.Graph``, or a ``Dataset`` of all.

    With ``graph=None`` every source is a named graph of the ``Dataset``, identified by its
    ``urn:kgzsl:source:<name>`` IRI. Plain ``xsd:string`` literals become rdflib literals
    without a datatype (the same literal in RDF 1.1).
    """
    import rdflib

    def fill(target: rdflib.Graph, source: str) -> None:
        for triple in kg.triples(source):
            target.add(tuple(_to_rdflib_term(term) for term in triple))

    if graph is not None:
        iri = graph if graph.startswith(SOURCE_PREFIX) else SOURCE_PREFIX + graph
        out = rdflib.Graph(identifier=rdflib.URIRef(iri))
        fill(out, iri)
        return out
    dataset = rdflib.Dataset()
    for iri in kg.graphs():
        fill(dataset.graph(rdflib.URIRef(iri)), iri)
    return dataset


def from_rdflib(graph: rdflib.Graph) -> list[Triple]:
    """The triples of an rdflib ``Graph`` (of every graph of a ``Dataset``) as pyoxigraph terms.

    The result goes to :meth:`KnowledgeGraph.add_triples`. Literals keep their language or
    datatype; blank nodes keep their ids.

    Raises:
        DataError: a term is not an IRI, blank node or literal (e.g. a SPARQL variable).
    """
    import rdflib

    if isinstance(graph, rdflib.ConjunctiveGraph):  # Dataset too
        triples: Iterable = ((s, p, o) for s, p, o, _ in graph.quads((None, None, None, None)))
    else:
        triples = graph.triples((None, None, None))
    return [tuple(_from_rdflib_term(term) for term in triple) for triple in triples]
