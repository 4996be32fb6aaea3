from pathlib import Path

import pytest

from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.knowledge.texts import entity_texts, readable_local_name
from kgzsl.knowledge.views import to_pyg

EX = "http://example.org/zoo#"
CN = "http://www.semanticweb.org/ontologies/ConceptNet#"


def test_texts_come_from_labels_same_as_iri_names_then_fall_back(tmp_path: Path):
    path = tmp_path / "zoo.ttl"
    path.write_text(
        f"@prefix ex: <{EX}> . @prefix cn: <{CN}> .\n"
        "@prefix owl: <http://www.w3.org/2002/07/owl#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n"
        'ex:n01 rdfs:label "killer_whale, orca" ; rdfs:subClassOf ex:n00 .\n'
        'ex:n02 owl:sameAs cn:giant_panda ; rdfs:subClassOf ex:n00 ; rdfs:comment "black and white" .\n'
        'cn:giant_panda skos:prefLabel "giant panda" .\n'
        "cn:bamboo_shoot cn:usedFor cn:food .\n"
        "ex:n00 rdfs:subClassOf [ rdfs:subClassOf ex:n01 ] .\n"
    )
    kg = KnowledgeGraph.from_files(path)
    ids = [EX + "n01", EX + "n02", CN + "bamboo_shoot", EX + "n00", CN + "giant_panda"]
    found = entity_texts(kg, ids)
    assert found.texts == [["killer_whale", "orca"], ["giant panda"], ["bamboo shoot"], ["n00"], ["giant panda"]]
    assert found.sources == ["label", "same_as", "iri_name", "fallback", "label"]
    assert found.fell_back == 1 and found.counts()["iri_name"] == 1
    literals = entity_texts(kg, [EX + "n02"], texts="literals")
    assert literals.texts == [["black and white"]] and literals.sources == ["literal"]
    blank = [n for n in to_pyg(kg).node_ids if n.startswith("_:")]
    assert entity_texts(kg, blank).sources == ["none"]
    assert entity_texts(kg, [EX + "n00"], fallback=False).texts == [[]]


def test_readable_local_names():
    assert readable_local_name(CN + "killer_whale") == "killer whale"
    assert readable_local_name("http://conceptnet.io/c/en/giant_panda/n") == "giant panda"
    assert readable_local_name("http://a.org/x/polar+bear") == "polar bear"
    assert readable_local_name("_:b0") == ""


@pytest.mark.parametrize("setting", ["basic", "conceptnet", "logics"])
def test_kzsl_entities_have_texts_in_every_setting(shared_data: Path, setting: str):
    # K-ZSL keeps labels in literals.txt, which these settings leave out: they are found on
    # the whole graph; ConceptNet concepts are named by their IRIs
    from kgzsl.knowledge.sources import KZSLKnowledge

    kg = KZSLKnowledge(setting=setting, root=str(shared_data / "kzsl")).build()
    view = to_pyg(kg)
    found = entity_texts(kg, view.node_ids)
    assert found.fell_back == 0 and found.without_text == 0
    awa = [i for i, n in enumerate(view.node_ids) if n.startswith("http://www.semanticweb.org/ontologies/AwA#")]
    assert len(awa) >= 150 and all(found.sources[i] == "label" for i in awa)
    panda = view.node_index["http://www.semanticweb.org/ontologies/AwA#n02510455"]
    assert "giant panda" in found.texts[panda] or "giant_panda" in found.texts[panda]


def test_the_whole_kzsl_kg_file_has_texts_for_every_entity(shared_data: Path):
    kg = KnowledgeGraph.from_files(shared_data / "kzsl" / "KG" / "KG-AwA.ttl")
    view = to_pyg(kg)
    found = entity_texts(kg, view.node_ids)
    counts = found.counts()
    assert view.num_nodes == 9198 and counts["fallback"] == 0
    assert counts["label"] == 202 and counts["same_as"] == 182 and counts["iri_name"] == 8814
