from pathlib import Path

import networkx as nx
import pytest
import rdflib
import torch

from kgzsl.errors import DataError
from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.knowledge.views import (
    RDF_TYPE,
    from_networkx,
    from_rdflib,
    to_hetero,
    to_networkx,
    to_pyg,
    to_rdflib,
)

EX = "http://example.org/"
SUB = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"

TINY = """\
@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:cat a ex:Animal ; rdfs:subClassOf ex:felid ; rdfs:label "cat", "house cat" ; ex:eats ex:mouse .
ex:lion rdfs:subClassOf ex:felid ; ex:eats ex:zebra .
ex:felid rdfs:subClassOf ex:animal .
ex:mouse a ex:Animal .
"""
# sorted nodes: 0 Animal, 1 animal, 2 cat, 3 felid, 4 lion, 5 mouse, 6 zebra
# sorted relations: 0 ex:eats, 1 rdf:type, 2 rdfs:subClassOf


@pytest.fixture
def tiny(tmp_path: Path) -> KnowledgeGraph:
    path = tmp_path / "tiny.ttl"
    path.write_text(TINY)
    return KnowledgeGraph.from_files(path)


@pytest.fixture
def awa(shared_data: Path) -> KnowledgeGraph:
    return KnowledgeGraph.from_files(shared_data / "kzsl" / "KG" / "KG-AwA.ttl")


def test_to_pyg_tiny_hand_checked(tiny: KnowledgeGraph):
    view = to_pyg(tiny)
    assert view.node_ids == [EX + n for n in ["Animal", "animal", "cat", "felid", "lion", "mouse", "zebra"]]
    assert view.node_index[EX + "felid"] == 3
    assert view.relation_ids == [EX + "eats", RDF_TYPE, SUB]
    assert view.edge_index.tolist() == [[2, 4, 2, 5, 2, 3, 4], [5, 6, 0, 0, 3, 1, 3]]
    assert view.edge_type.tolist() == [0, 0, 1, 1, 2, 2, 2]
    assert view.edge_index.dtype == view.edge_type.dtype == torch.int64
    assert view.literals == {2: ["cat", "house cat"]}
    data = view.to_data()
    assert data.num_nodes == 7 and data.edge_index.shape == (2, 7) and data.edge_type.shape == (7,)


def test_to_pyg_inverse_self_loops_relations_and_order(tiny: KnowledgeGraph):
    view = to_pyg(tiny, add_inverse=True, add_self_loops=True)
    assert view.relation_ids[3:] == [EX + "eats^-1", RDF_TYPE + "^-1", SUB + "^-1", "self"]
    assert view.num_edges == 2 * 7 + 7
    inverse = view.edge_index[:, view.edge_type == 5].tolist()
    assert inverse == [[1, 3, 3], [3, 2, 4]]  # animal<-felid, felid<-cat, felid<-lion
    loops = view.edge_index[:, view.edge_type == 6]
    assert torch.equal(loops[0], torch.arange(7)) and torch.equal(loops[1], torch.arange(7))

    view = to_pyg(tiny, relations=[SUB, EX + "eats"])
    assert view.relation_ids == [SUB, EX + "eats"] and view.num_nodes == 7
    assert view.edge_index.tolist() == [[2, 3, 4, 2, 4], [3, 1, 3, 5, 6]]
    assert view.edge_type.tolist() == [0, 0, 0, 1, 1]

    view = to_pyg(tiny, relations=[SUB], node_order=[EX + "lion", EX + "cat"], literal_relations=[])
    assert view.node_ids[:3] == [EX + "lion", EX + "cat", EX + "Animal"]
    assert view.edge_index.tolist() == [[0, 1, 4], [4, 4, 3]] and view.literals == {}

    with pytest.raises(
        DataError, match="relation 'http://example.org/likes' is not in the knowledge graph; present: eats"
    ):
        to_pyg(tiny, relations=[EX + "likes"])
    with pytest.raises(DataError, match="more than once"):
        to_pyg(tiny, node_order=[EX + "cat", EX + "cat"])


def test_to_pyg_blank_nodes_and_sources(tiny: KnowledgeGraph, tmp_path: Path):
    extra = tmp_path / "extra.ttl"
    extra.write_text(f"_:b <{EX}eats> <{EX}cat> .\n<{EX}lion> <{EX}eats> <{EX}zebra> .\n")
    tiny.load(extra)
    view = to_pyg(tiny)
    blanks = [n for n in view.node_ids if n.startswith("_:")]
    assert len(blanks) == 1 and view.num_nodes == 8
    assert view.num_edges == 8  # lion eats zebra is in both sources: one edge
    only = to_pyg(tiny, graph="extra")
    assert only.num_nodes == 4 and only.num_edges == 2


def test_to_hetero_tiny(tiny: KnowledgeGraph):
    data = to_hetero(tiny)
    assert sorted(data.node_types) == ["Animal", "Entity"]
    assert data["Animal"].node_ids == [EX + "cat", EX + "mouse"]
    assert data["Entity"].node_ids == [EX + n for n in ["Animal", "animal", "felid", "lion", "zebra"]]
    assert data["Animal"].global_index.tolist() == [2, 5]
    assert sorted(data.edge_types) == [
        ("Animal", "eats", "Animal"),
        ("Animal", "subClassOf", "Entity"),
        ("Entity", "eats", "Entity"),
        ("Entity", "subClassOf", "Entity"),
    ]
    assert data["Animal", "eats", "Animal"].edge_index.tolist() == [[0], [1]]
    assert data["Entity", "subClassOf", "Entity"].edge_index.tolist() == [[2, 3], [1, 2]]
    assert data["Entity", "subClassOf", "Entity"].relation == SUB
    data.validate()


def test_to_pyg_real_awa_counts(awa: KnowledgeGraph):
    n_nodes = awa.query(
        "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { { ?x ?p ?o } UNION { ?s ?p ?x FILTER(!isLiteral(?x)) } }"
    )[0][0]
    n_edges = awa.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o FILTER(!isLiteral(?o)) }")[0][0]
    n_relations = awa.query("SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE { ?s ?p ?o FILTER(!isLiteral(?o)) }")[0][0]
    assert len(awa) == 14_112
    view = to_pyg(awa)
    assert view.num_nodes == int(n_nodes) == 9_198
    assert view.num_edges == int(n_edges) == 13_910
    assert view.num_relations == int(n_relations)
    assert len(view.literals) == 202  # the rdfs:labels
    both = to_pyg(awa, add_inverse=True)
    assert both.num_edges == 2 * view.num_edges and both.num_relations == 2 * view.num_relations
    loops = to_pyg(awa, add_self_loops=True)
    assert loops.num_edges == view.num_edges + view.num_nodes
    hierarchy = to_pyg(awa, relations=[SUB])
    assert hierarchy.num_edges == 7_657 and hierarchy.num_nodes == view.num_nodes
    hetero = to_hetero(awa)
    assert hetero.node_types == ["Entity"] and hetero["Entity"].num_nodes == view.num_nodes
    assert sum(hetero[t].edge_index.shape[1] for t in hetero.edge_types) == view.num_edges


def test_to_pyg_is_deterministic(shared_data: Path):
    path = shared_data / "kzsl" / "KG" / "KG-AwA.ttl"
    a = to_pyg(KnowledgeGraph.from_files(path), add_inverse=True)
    b = to_pyg(KnowledgeGraph.from_files(path), add_inverse=True)
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.edge_type, b.edge_type)
    assert a.node_ids == b.node_ids and a.relation_ids == b.relation_ids and a.literals == b.literals


def _iri_triples(kg: KnowledgeGraph) -> set:
    return {tuple(str(t) for t in triple) for triple in kg.triples()}


def test_networkx_round_trip(tiny: KnowledgeGraph):
    g = to_networkx(tiny, include_literals=True)
    assert isinstance(g, nx.MultiDiGraph) and g.number_of_nodes() == 7 and g.number_of_edges() == 7
    assert g.nodes[EX + "cat"]["literals"] == ["cat", "house cat"]
    assert g[EX + "cat"][EX + "felid"][SUB]["relation"] == SUB
    back = KnowledgeGraph()
    back.add_triples(from_networkx(g), graph="back")
    assert _iri_triples(back) == _iri_triples(tiny)

    plain = nx.path_graph(3)
    triples = from_networkx(plain)
    assert [(s.value, p.value, o.value) for s, p, o in triples] == [
        ("urn:kgzsl:node:0", "https://w3id.org/kgzsl/vocab#relatedTo", "urn:kgzsl:node:1"),
        ("urn:kgzsl:node:1", "https://w3id.org/kgzsl/vocab#relatedTo", "urn:kgzsl:node:2"),
    ]
    bad = nx.DiGraph([("a b", "c")])
    with pytest.raises(DataError, match="cannot be an RDF node"):
        from_networkx(bad, namespace="http://x/")


def test_networkx_real_awa(awa: KnowledgeGraph):
    g = to_networkx(awa)
    assert g.number_of_nodes() == 9_198 and g.number_of_edges() == 13_910


def test_rdflib_round_trip_10k():
    g = rdflib.Graph()
    ex = rdflib.Namespace(EX)
    for i in range(2_500):
        e = ex[f"e{i}"]
        g.add((e, ex.links, ex[f"e{(7 * i) % 2_500}"]))
        g.add((e, rdflib.RDFS.label, rdflib.Literal(f"entity {i}")))
        g.add((e, ex.rank, rdflib.Literal(i)))
        g.add((e, ex.name, rdflib.Literal(f"nom {i}", lang="fr")))
        if i % 100 == 0:
            g.add((rdflib.BNode(f"b{i}"), ex.links, e))
    assert len(g) == 10_025
    kg = KnowledgeGraph()
    kg.add_triples(from_rdflib(g), graph="rdflib")
    assert len(kg) == 10_025
    back = to_rdflib(kg, graph="rdflib")
    assert isinstance(back, rdflib.Graph) and set(back) == set(g)
    view = to_pyg(kg)
    assert view.num_edges == 2_525 and view.num_nodes == 2_525
    assert view.literals[view.node_index[EX + "e3"]] == ["3", "entity 3", "nom 3"]


def test_rdflib_dataset_of_all_sources(tiny: KnowledgeGraph, tmp_path: Path):
    extra = tmp_path / "extra.nt"
    extra.write_text(f"<{EX}lion> <{EX}eats> <{EX}gazelle> .\n")
    tiny.load(extra)
    dataset = to_rdflib(tiny)
    assert isinstance(dataset, rdflib.Dataset)
    names = {str(c.identifier) for c in dataset.graphs()}
    assert {"urn:kgzsl:source:tiny", "urn:kgzsl:source:extra"} <= names
    triples = from_rdflib(dataset)
    assert len(triples) == len(tiny)
    assert sorted(map(str, triples)) == sorted(map(str, tiny.triples()))
