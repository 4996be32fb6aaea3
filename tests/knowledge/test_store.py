from pathlib import Path

import pytest

from kgzsl.errors import DataError
from kgzsl.knowledge.alignment import align_classes, normalize_label
from kgzsl.knowledge.sources import KnowledgeFiles
from kgzsl.knowledge.store import KnowledgeGraph, local_name

TOY = "http://example.org/toy#"


def test_load_turtle_into_named_graph_and_query(toy_kg_file: Path):
    kg = KnowledgeGraph.from_files(toy_kg_file)
    assert kg.graphs() == ["urn:kgzsl:source:toy"]
    assert len(kg) > 50
    rows = kg.query(f"SELECT ?c WHERE {{ ?c <http://www.w3.org/2000/01/rdf-schema#subClassOf> <{TOY}Felid> }}")
    assert sorted(local_name(r[0]) for r in rows) == ["cat", "lion", "tiger"]


def test_sources_combine_and_drop(tmp_path: Path, toy_kg_file: Path):
    extra = tmp_path / "extra.nt"
    extra.write_text(f"<{TOY}cat> <{TOY}has> <{TOY}tail> .\n")
    kg = KnowledgeGraph.from_files(toy_kg_file, extra)
    n = len(kg)
    assert kg.graphs() == ["urn:kgzsl:source:extra", "urn:kgzsl:source:toy"]
    kg.drop("extra")
    assert len(kg) == n - 1 and kg.graphs() == ["urn:kgzsl:source:toy"]


def test_on_disk_store_persists(tmp_path: Path, toy_kg_file: Path):
    kg = KnowledgeGraph(tmp_path / "store")
    kg.load(toy_kg_file)
    n = len(kg)
    del kg
    assert len(KnowledgeGraph(tmp_path / "store")) == n


def test_malformed_turtle_names_file_and_line_and_adds_nothing(tmp_path: Path, toy_kg_file: Path):
    bad = tmp_path / "bad.ttl"
    bad.write_text(f"<{TOY}a> <{TOY}b> <{TOY}c> .\n<{TOY}a> <{TOY}b> .\n")
    kg = KnowledgeGraph.from_files(toy_kg_file)
    n = len(kg)
    with pytest.raises(DataError, match=r"bad\.ttl:2: malformed turtle"):
        kg.load(bad)
    assert len(kg) == n  # all or nothing


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.ttl", "", r"empty\.ttl: file is empty"),
        ("data.xyz", "x", r"data\.xyz: unknown knowledge format '\.xyz'; valid: .*turtle"),
    ],
)
def test_bad_files(tmp_path: Path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        KnowledgeGraph().load(path)
    with pytest.raises(DataError, match="no such file"):
        KnowledgeGraph().load(tmp_path / "missing.ttl")


def test_alignment_by_local_name_label_and_iri(toy_kg_file: Path):
    kg = KnowledgeGraph.from_files(toy_kg_file)
    assert normalize_label("Killer+Whale_x") == "killer whale x"
    iris = align_classes(kg, ["cat", "Lion", f"{TOY}zebra"])
    assert iris == [f"{TOY}cat", f"{TOY}lion", f"{TOY}zebra"]
    with pytest.raises(
        DataError, match=r"1 of 2 classes not in the knowledge graph: 'tigre' not found \(closest: tiger"
    ):
        align_classes(kg, ["cat", "tigre"])


def test_alignment_finds_a_hierarchy_root_that_is_only_an_object_of_subclassof(tmp_path: Path):
    """A root class with a label but no type and no parent of its own is still a candidate."""
    ttl = tmp_path / "roots.ttl"
    ttl.write_text(
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "@prefix : <http://r.org/#> .\n"
        ':dog rdfs:subClassOf :canine . :canine rdfs:subClassOf :animal . :animal rdfs:label "Animal" .\n',
        encoding="utf-8",
    )
    kg = KnowledgeGraph.from_files(ttl)
    assert align_classes(kg, ["animal", "canine", "dog"]) == [
        "http://r.org/#animal",
        "http://r.org/#canine",
        "http://r.org/#dog",
    ]


def test_embedded_ontology_source():
    source = KnowledgeFiles()
    kg = source.build()
    assert source.files()[0].name == "animals.ttl"
    n_leaves = kg.query("SELECT (COUNT(?c) AS ?n) WHERE { ?c a <https://w3id.org/kgzsl/ontology/animals#ImageClass> }")[
        0
    ][0]
    assert int(n_leaves) == 48
    with pytest.raises(DataError, match="unknown embedded ontology 'embedded:plants'"):
        KnowledgeFiles(paths="embedded:plants").build()


def test_real_kzsl_awa_turtle_loads(shared_data: Path):
    kg = KnowledgeGraph.from_files(shared_data / "kzsl" / "KG" / "KG-AwA.ttl")
    assert len(kg) == 14112


def test_sources_with_the_same_stem_get_distinct_graphs(tmp_path: Path, toy_kg_file: Path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "kg.nt").write_text(f"<{TOY}{folder}> <{TOY}p> <{TOY}o> .\n")
    kg = KnowledgeGraph.from_files(tmp_path / "a" / "kg.nt", tmp_path / "b" / "kg.nt")
    assert kg.graph_names() == ["b-kg", "kg"] and len(kg) == 2


def test_alignment_follows_same_as_and_namespace(tmp_path: Path):
    ttl = tmp_path / "kg.ttl"
    ttl.write_text(
        "@prefix a: <http://a.org/#> . @prefix cn: <http://cn.org/#> .\n"
        "@prefix owl: <http://www.w3.org/2002/07/owl#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        'a:n01 rdfs:subClassOf a:n00 ; rdfs:label "killer_whale, orca" ; owl:sameAs cn:killer_whale .\n'
        "cn:killer_whale rdfs:subClassOf cn:whale .\n"
        'a:n02 rdfs:subClassOf a:n00 ; rdfs:label "pig" .\n'
        "cn:pig rdfs:subClassOf cn:animal .\n"
    )
    kg = KnowledgeGraph.from_files(ttl)
    # the sameAs-linked ConceptNet alias collapses onto the KG's own entity
    assert align_classes(kg, ["killer+whale", "orca", "n01"]) == ["http://a.org/#n01"] * 3
    with pytest.raises(DataError, match=r"'pig' is ambiguous .*restrict candidates with namespace"):
        align_classes(kg, ["pig"])
    assert align_classes(kg, ["pig"], namespace="http://a.org/#") == ["http://a.org/#n02"]


def test_real_awa2_classes_align_with_the_kzsl_kg(shared_data: Path):
    import json

    kg = KnowledgeGraph.from_files(shared_data / "kzsl" / "KG" / "KG-AwA.ttl")
    classes = json.loads((shared_data / "kzsl" / "ori_data" / "AwA" / "class.json").read_text())
    pairs = {**classes["seen"], **classes["unseen"]}
    awa = "http://www.semanticweb.org/ontologies/AwA#"
    by_name = align_classes(kg, list(pairs.values()), namespace=awa)
    by_wnid = align_classes(kg, list(pairs))
    assert by_name == by_wnid == [awa + wnid for wnid in pairs]
