import json
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


# --- K-ZSL settings keep the classes; any K-ZSL folder; no knowledge -----------------------

AWA = "http://www.semanticweb.org/ontologies/AwA#"


def _awa2_class_names(shared_data: Path) -> list[str]:
    """The 50 AWA2 class names of the real xlsa17 ``att_splits.mat`` (``antelope``, ``grizzly+bear``, ...)."""
    import scipy.io

    names = scipy.io.loadmat(shared_data / "xlsa17" / "AWA2" / "att_splits.mat")["allclasses_names"]
    return [str(n[0][0]) for n in names]


@pytest.mark.parametrize("setting", sorted(KZSL_SETTINGS))
def test_every_kzsl_setting_finds_the_50_awa2_classes(shared_data: Path, setting: str):
    from kgzsl.knowledge.alignment import align_classes
    from kgzsl.knowledge.views import to_pyg

    names = _awa2_class_names(shared_data)
    assert len(names) == 50
    kg = KZSLKnowledge(dataset="AwA", setting=setting, root=str(shared_data / "kzsl")).build()
    iris = align_classes(kg, names)
    classes = json.loads((shared_data / "kzsl" / "ori_data" / "AwA" / "class.json").read_text())
    by_name = {name: wnid for group in classes.values() for wnid, name in group.items()}
    assert iris == [AWA + by_name[n] for n in names]
    # the setting's triples only (K-ZSL's labels are not added to it), but every class is in them
    assert kg.graph_names() == sorted(KZSL_SETTINGS[setting])
    if "literals" not in KZSL_SETTINGS[setting]:
        assert RDFS + "label" not in kg.relation_counts()
    assert all(iri in to_pyg(kg).node_index for iri in iris)


def test_kzsl_selection_fingerprint_follows_the_whole_graph(tmp_path: Path, shared_data: Path):
    import shutil

    folder = tmp_path / "AwA"
    shutil.copytree(shared_data / "kzsl" / "triples" / "AwA", folder)
    first = KZSLKnowledge(path=str(folder), setting="hierarchy").build()
    with (folder / "literals.txt").open("a") as f:
        f.write("AwA:n02071294\trdfs:label\torca\n")
    second = KZSLKnowledge(path=str(folder), setting="hierarchy").build()
    assert set(first.triples()) == set(second.triples())
    assert first.fingerprint() != second.fingerprint()  # a cached class embedding must not be reused


def _own_kzsl_folder(folder: Path) -> Path:
    """A user's own K-ZSL-format dataset folder (its own prefix ``Zoo``) with a class list."""
    folder.mkdir(parents=True)
    (folder / "class_hierarchy_triples.txt").write_text(
        "Zoo:n01\trdfs:subClassOf\tZoo:n00\nZoo:n02\trdfs:subClassOf\tZoo:n00\nZoo:n03\trdfs:subClassOf\tZoo:n00\n"
    )
    (folder / "class_attribute_triples.txt").write_text(
        "Zoo:n01\tZoo:hasColor\tZoo:a01\nZoo:n02\tZoo:hasColor\tZoo:a02\nZoo:n03\tZoo:hasColor\tZoo:a01\n"
    )
    (folder / "attribute_hierarchy_triples.txt").write_text("Zoo:a01\trdfs:subClassOf\tZoo:a00\n")
    (folder / "literals.txt").write_text("Zoo:n01\trdfs:label\tzebra\nZoo:a01\trdfs:label\tstriped\n")
    (folder / "sameAs_triples.txt").write_text("Zoo:n02\towl:sameAs\tcn:okapi\n")
    (folder / "conceptnet_triples_filter.txt").write_text("cn:okapi\trdfs:subClassOf\tcn:giraffid\n")
    (folder / "class.json").write_text(
        json.dumps({"seen": {"n01": "zebra"}, "unseen": {"n02": "okapi", "n03": "tapir"}})
    )
    return folder


def test_kzsl_source_takes_any_kzsl_folder(tmp_path: Path):
    from kgzsl.knowledge.alignment import align_classes

    zoo = "http://www.semanticweb.org/ontologies/Zoo#"
    folder = _own_kzsl_folder(tmp_path / "kzsl" / "triples" / "Zoo")
    by_root = KZSLKnowledge(dataset="Zoo", root=str(tmp_path / "kzsl"), setting="attributes").build()
    by_path = KZSLKnowledge(path=str(folder), setting="attributes").build()
    assert set(by_root.triples()) == set(by_path.triples()) and len(by_path) == 3
    for setting in ("hierarchy", "attributes", "attribute_hierarchy", "basic", "literals", "conceptnet"):
        kg = KZSLKnowledge(path=str(folder), setting=setting).build()
        assert align_classes(kg, ["zebra", "okapi", "tapir"]) == [zoo + "n01", zoo + "n02", zoo + "n03"]
    with pytest.raises(DataError, match=r"no such file \(K-ZSL Zoo has no 'disjoint_class_class' knowledge\)"):
        KZSLKnowledge(dataset="Zoo", root=str(tmp_path / "kzsl"), setting="logics").build()
    with pytest.raises(
        DataError, match=r"no such folder \(expected the K-ZSL triples of 'Birds'\); datasets there: Zoo"
    ):
        KZSLKnowledge(dataset="Birds", root=str(tmp_path / "kzsl")).build()
    mine = KZSLKnowledge(path=str(folder), prefixes={"Zoo": "http://example.org/zoo#"}).build()
    assert "http://example.org/zoo#n01" in mine.to_pyg().node_index


def test_kzsl_imnet_a_settings_find_their_80_classes(shared_data: Path):
    from kgzsl.knowledge.alignment import align_classes

    split = shared_data / "kzsl" / "splits" / "ImNet_A"
    wnids = (split / "seen.txt").read_text().split() + (split / "unseen.txt").read_text().split()
    for setting in ("attributes", "conceptnet"):
        kg = KZSLKnowledge(dataset="ImNet_A", setting=setting, root=str(shared_data / "kzsl")).build()
        assert len(align_classes(kg, wnids)) == 80


def test_no_knowledge_is_an_empty_graph(tmp_path: Path):
    from kgzsl.knowledge.alignment import align_classes

    kg = KNOWLEDGE.build("files", where="knowledge", paths=[]).build()
    assert len(kg) == 0 and kg.graph_names() == []
    with pytest.raises(DataError, match=r"the knowledge graph is empty \(e\.g\. knowledge: \{paths: \[\]\}\)"):
        align_classes(kg, ["cat"])


def test_files_source_prefixes(tmp_path: Path):
    path = tmp_path / "mine.csv"
    path.write_text("Birds:n01\trdfs:subClassOf\tBirds:n00\n")
    kg = KnowledgeFiles(paths=[str(path)], prefixes={"Birds": "http://example.org/b#"}).build()
    assert {s.value for s, _, _ in kg.triples()} == {"http://example.org/b#n01"}
    with pytest.raises(ConfigError, match=r"knowledge\.prefixes\.Birds: expected a prefix name and an absolute IRI"):
        KnowledgeFiles(paths=[str(path)], prefixes={"Birds": "not an iri"}).build()


@pytest.mark.slow
def test_readme_conceptnet_example_runs(shared_data: Path, tmp_path: Path):
    import kgzsl

    config = {
        "dataset": {"name": "synthetic_benchmark", "benchmark": "AWA2", "n_features": 32},
        "knowledge": {"name": "kzsl", "dataset": "AwA", "setting": "conceptnet"},
        "semantics": {"name": "kg_attributes"},
        "method": {"name": "eszsl"},
    }
    from kgzsl.config import resolve

    result = kgzsl.run_experiment(resolve(config), stem="conceptnet", out=str(tmp_path / "runs"))
    assert 0.0 <= result.metrics["zsl/top1"] <= 1.0


def test_a_relation_filter_keeps_the_labels_for_alignment(shared_data: Path):
    from kgzsl.knowledge.alignment import align_classes

    kg = KnowledgeFiles(paths=[str(shared_data / "kzsl" / "KG" / "KG-AwA.csv")], relations=["rdfs:subClassOf"]).build()
    assert set(kg.relation_counts()) == {RDFS + "subClassOf"}
    names = _awa2_class_names(shared_data)
    iris = align_classes(kg, names, namespace=AWA)  # by the labels of the whole file
    assert len(set(iris)) == 50 and iris[names.index("killer+whale")] == AWA + "n02071294"
