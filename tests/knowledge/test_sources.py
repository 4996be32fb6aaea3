from pathlib import Path

import pytest

from kgzsl.errors import ConfigError, DataError
from kgzsl.knowledge.sources import KZSL_SETTINGS, KnowledgeFiles, KZSLKnowledge
from kgzsl.knowledge.store import KnowledgeGraph, local_name
from kgzsl.registry import KNOWLEDGE

RDFS = "http://www.w3.org/2000/01/rdf-schema#"


def test_files_source_selects_by_relation_graph_and_construct(tmp_path: Path, toy_kg_file: Path):
    extra = tmp_path / "extra.nt"
    extra.write_text("<http://example.org/toy#cat> <http://example.org/toy#likes> <http://example.org/toy#fish> .\n")
    full = KnowledgeFiles(paths=[str(toy_kg_file), str(extra)]).build()
    by_relation = KnowledgeFiles(paths=[str(toy_kg_file), str(extra)], relations=["rdfs:subClassOf", "likes"]).build()
    assert set(by_relation.relation_counts()) == {RDFS + "subClassOf", "http://example.org/toy#likes"}
    assert by_relation.relation_counts()[RDFS + "subClassOf"] == full.relation_counts()[RDFS + "subClassOf"]
    by_graph = KnowledgeFiles(paths=[str(toy_kg_file), str(extra)], graphs=["extra"]).build()
    assert len(by_graph) == 1
    construct = KnowledgeFiles(
        paths=[str(toy_kg_file)],
        construct=f"CONSTRUCT {{ ?p <{RDFS}subClassOf> ?c }} WHERE {{ ?c <{RDFS}subClassOf> ?p }}",
    ).build()
    assert len(construct) == full.relation_counts()[RDFS + "subClassOf"] and construct.graph_names() == ["construct"]


def test_selection_mistakes_are_clear(toy_kg_file: Path):
    with pytest.raises(DataError, match=r"relation 'hasColour' is not in the knowledge graph; present: .*has"):
        KnowledgeFiles(paths=[str(toy_kg_file)], relations=["hasColour"]).build()
    with pytest.raises(DataError, match=r"graph\(s\) attributes not in the knowledge graph; present: toy"):
        KnowledgeFiles(paths=[str(toy_kg_file)], graphs=["attributes"]).build()
    with pytest.raises(DataError, match="SPARQL syntax error"):
        KnowledgeFiles(paths=[str(toy_kg_file)], construct="CONSTRUCT { oops").build()
    with pytest.raises(DataError, match="selection leaves the knowledge graph empty"):
        KnowledgeFiles(
            paths=[str(toy_kg_file)], construct="CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o FILTER(false) }"
        ).build()
    with pytest.raises(ConfigError, match=r"knowledge\.relation: unknown parameter .*did you mean 'relations'"):
        KNOWLEDGE.build("files", where="knowledge", relation=["x"])


def test_persistent_store_is_not_parsed_again(tmp_path: Path, toy_kg_file: Path):
    store = str(tmp_path / "store")
    first = KnowledgeFiles(paths=[str(toy_kg_file)], store=store).build()
    n = len(first)
    del first
    toy_kg_file.write_text("this is no longer turtle")  # would fail if parsed again
    again = KnowledgeFiles(paths=[str(toy_kg_file)], store=store).build()
    assert len(again) == n


@pytest.mark.parametrize("setting", sorted(KZSL_SETTINGS))
def test_kzsl_settings_load_their_graphs(shared_data: Path, setting: str):
    kg = KZSLKnowledge(dataset="AwA", setting=setting, root=str(shared_data / "kzsl")).build()
    assert kg.graph_names() == sorted(KZSL_SETTINGS[setting])
    if setting == "hierarchy":
        assert set(kg.relation_counts()) == {RDFS + "subClassOf"}
    if setting == "literals":
        assert RDFS + "label" in kg.relation_counts()
    if setting == "logics":
        assert "http://www.w3.org/2002/07/owl#disjointWith" in kg.relation_counts()


def test_kzsl_settings_nest(shared_data: Path):
    root = str(shared_data / "kzsl")
    basic = KZSLKnowledge(setting="basic", root=root).build()
    plus_cn = KZSLKnowledge(setting="conceptnet", root=root).build()
    assert set(basic.triples()) < set(plus_cn.triples())
    relations = {local_name(r) for r in KZSLKnowledge(setting="attributes", root=root).build().relation_counts()}
    assert "hasColor" in relations and "subClassOf" not in relations


def test_kzsl_errors(tmp_path: Path):
    with pytest.raises(DataError, match="no such folder"):
        KZSLKnowledge(root=str(tmp_path)).build()
    with pytest.raises(DataError, match=r"unknown K-ZSL graph\(s\) nope"):
        (tmp_path / "triples" / "AwA").mkdir(parents=True)
        KZSLKnowledge(root=str(tmp_path), graphs=["nope"]).build()


def test_kg_round_trip_through_serialize(tmp_path: Path, toy_kg_file: Path):
    kg = KnowledgeGraph.from_files(toy_kg_file)
    for ext in (".nt", ".ttl", ".rdf", ".nq"):
        kg.serialize(tmp_path / f"out{ext}")
        assert set(KnowledgeGraph.from_files(tmp_path / f"out{ext}").triples()) == set(kg.triples())
    with pytest.raises(DataError, match="unknown RDF format to write"):
        kg.serialize(tmp_path / "out.xyz")


def test_wordnet_source_reproduces_dgp_graph(shared_data: Path, wordnet):
    from kgzsl.knowledge.sources import WordNetHierarchy

    kg = WordNetHierarchy(dgp_folder=str(shared_data / "imagenet" / "dgp"), wordnet=str(wordnet.path)).build()
    view = kg.to_pyg(relations=[RDFS + "subClassOf"])
    assert view.num_nodes == 32_324 and view.num_edges == 32_544
    small = WordNetHierarchy(wnids=["n02084071"], wordnet=str(wordnet.path)).build()  # dog
    labels = {row[0] for row in small.query("SELECT ?l WHERE { ?c rdfs:label ?l }")}
    assert {"dog", "canine", "entity"} <= labels


def test_kg_interop_wrappers(toy_kg_file: Path):
    kg = KnowledgeGraph.from_files(toy_kg_file)
    again = KnowledgeGraph.from_rdflib(kg.to_rdflib(graph="toy"))
    assert set(again.triples()) == set(kg.triples()) and again.graph_names() == ["rdflib"]
    g = kg.to_networkx()
    assert g.has_edge("http://example.org/toy#cat", "http://example.org/toy#Felid")
    view = kg.to_pyg(add_inverse=True)
    assert view.num_edges == 2 * kg.to_pyg().num_edges
