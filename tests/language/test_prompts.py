"""Prompt sources for CLIP zero-shot: templates, names, KG labels / literals / attributes,
attribute matrices, descriptions and documents; each builds class classifiers with the tiny
open_clip text tower."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kgzsl.errors import ConfigError, DataError
from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.language import prompts as P
from kgzsl.testing import TOY_CLASSES, toy_kg, write_tiny_clip

KG_TTL = """\
@prefix t: <http://example.org/z#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
t:zebra a owl:Class ; rdfs:label "zebra, Equus quagga" ; rdfs:comment "a striped horse of Africa" ;
    t:has t:stripes, t:hooves .
t:killer_whale a owl:Class ; rdfs:label "killer whale" ; rdfs:comment "Orcas hunt seals" ; t:has t:fins .
t:stripes rdfs:label "stripes" .
t:hooves rdfs:label "hooves" .
t:fins rdfs:label "fins" .
"""


@pytest.fixture
def kg(tmp_path: Path) -> KnowledgeGraph:
    (tmp_path / "z.ttl").write_text(KG_TTL)
    return KnowledgeGraph.from_files(tmp_path / "z.ttl")


@pytest.fixture
def tower(tmp_path: Path) -> P.TextTower:
    params = write_tiny_clip(tmp_path)
    return P.TextTower(params["arch"], params["weights"])


def test_template_sets():
    assert len(P.IMAGENET_TEMPLATES) == 80 == len(set(P.IMAGENET_TEMPLATES))
    assert set(P.SHORT_TEMPLATES) <= set(P.IMAGENET_TEMPLATES) and len(P.SHORT_TEMPLATES) == 7
    assert all("{}" in t for t in P.IMAGENET_TEMPLATES)
    assert P.templates_for("single") == ("a photo of a {}.",)
    assert P.templates_for(["x {} y"]) == ("x {} y",)
    with pytest.raises(ConfigError, match="unknown set 'imagnet'"):
        P.templates_for("imagnet")
    with pytest.raises(ConfigError, match="no '{}'"):
        P.templates_for(["a photo"])


def test_class_names_and_label_map(tmp_path: Path):
    assert P.class_names(["killer+whale", "002.Laysan_Albatross"]) == ["killer whale", "Laysan Albatross"]
    (tmp_path / "map.json").write_text('{"1": "pink primrose", "2": "sweet pea"}')
    assert P.class_names(["FLO_001", "FLO_002"], tmp_path / "map.json") == ["pink primrose", "sweet pea"]
    with pytest.raises(DataError, match="no name for class 'FLO_003'"):
        P.class_names(["FLO_001", "FLO_003"], tmp_path / "map.json")


def test_name_and_template_grids():
    grid = P.name_prompts(["cat", "dog"], "short")
    assert grid.source == "templates" and grid.num_prompts == 7 and grid.num_classes == 2
    assert grid.texts[0] == [["itap of a cat."], ["itap of a dog."]]
    bare = P.name_prompts(["cat", "dog"], "none", source="names")
    assert bare.prompt_names == ["names"] and bare.texts == [[["cat"], ["dog"]]]


def test_kg_labels_literals_and_attributes(kg: KnowledgeGraph):
    ids = ["zebra", "killer+whale"]
    names = P.class_names(ids)
    labels = P.kg_label_prompts(kg, ids, names, ["a photo of a {}."])
    # WordNet-style comma-separated synonyms are separate names of the class, averaged
    assert labels.texts[0][0] == ["a photo of a Equus quagga.", "a photo of a zebra."]
    literals = P.kg_literal_prompts(kg, ids, names)
    # a literal that does not name the class is prefixed with its name
    assert literals.texts[0][0] == ["zebra: a striped horse of Africa", "zebra, Equus quagga"]
    assert "killer whale: Orcas hunt seals" in literals.texts[0][1]
    attrs = P.kg_attributes(kg, ids)
    assert attrs == [["hooves", "stripes"], ["fins"]]
    grid = P.attribute_prompts(names, attrs)
    assert grid.texts[0][0] == ["a photo of a zebra, which has hooves.", "a photo of a zebra, which has stripes."]


def test_toy_kg_attributes_fall_back_to_the_attribute_iri_name():
    attrs = P.kg_attributes(toy_kg(), TOY_CLASSES)
    assert attrs[TOY_CLASSES.index("zebra")] == ["big", "hooves", "mane", "stripes"]


def test_attribute_matrix_and_names_file(tmp_path: Path):
    (tmp_path / "attribute.txt").write_text("a001\tblack\na002\twhite\na003\tlong_neck\n")
    names = P.read_attribute_names(tmp_path / "attribute.txt")
    assert names == ["black", "white", "long neck"]
    matrix = np.array([[0.0, 3.0, 1.0], [2.0, 2.0, 0.0]])
    # ties keep the attributes' order; zero entries are never an attribute of the class
    assert P.matrix_attributes(matrix, names, top_k=2) == [["white", "long neck"], ["black", "white"]]
    assert P.matrix_attributes(matrix, names, top_k=5)[1] == ["black", "white"]
    with pytest.raises(DataError, match="3 names"):
        P.matrix_attributes(matrix[:, :2], names)


def test_descriptions_match_classes_by_readable_name(tmp_path: Path):
    path = tmp_path / "descriptors.json"
    path.write_text('{"Black-footed Albatross": ["a seabird", "a long, hooked bill."], "Cat": ["whiskers"]}')
    grid = P.description_prompts(path, P.class_names(["001.Black_footed_Albatross", "cat"]))
    assert grid.texts[0][0] == [
        "Black footed Albatross, which (is/has/etc) a long, hooked bill.",
        "Black footed Albatross, which (is/has/etc) a seabird.",
    ]
    with pytest.raises(DataError, match="'dog'"):
        P.description_prompts(path, ["dog"])


def test_documents_give_the_sentences_of_each_class(tmp_path: Path):
    path = tmp_path / "docs.json"
    path.write_text('{"grizzly bear": "A large bear. It has brown fur.", "zebra": "Stripes everywhere."}')
    grid = P.document_prompts(path, ["grizzly+bear", "zebra"], ["grizzly bear", "zebra"], max_sentences=1)
    assert grid.texts[0] == [["A large bear."], ["Stripes everywhere."]]


def test_real_documents_and_descriptors_cover_their_datasets(shared_data: Path):
    from kgzsl.language.documents import dataset_class_ids

    ids = dataset_class_ids(shared_data / "xlsa17" / "AWA2")
    docs = P.document_prompts(shared_data / "text" / "documents" / "AWA2.json", ids, P.class_names(ids))
    assert docs.num_classes == 50 and all(len(cell) > 3 for cell in docs.texts[0])
    cub = dataset_class_ids(shared_data / "xlsa17" / "CUB")
    grid = P.description_prompts(shared_data / "text" / "descriptors" / "descriptors_cub.json", P.class_names(cub))
    assert grid.num_classes == 200 and all(cell for cell in grid.texts[0])


def test_every_source_builds_unit_classifiers(tower: P.TextTower, kg: KnowledgeGraph, tmp_path: Path):
    ids = ["zebra", "killer+whale"]
    names = P.class_names(ids)
    (tmp_path / "d.json").write_text('{"zebra": ["stripes"], "killer whale": ["a black fin"]}')
    grids = [
        P.name_prompts(names, "none", source="names"),
        P.name_prompts(names, "short"),
        P.kg_label_prompts(kg, ids, names, "single"),
        P.kg_literal_prompts(kg, ids, names),
        P.attribute_prompts(names, P.kg_attributes(kg, ids)),
        P.description_prompts(tmp_path / "d.json", names),
        P.document_prompts(tmp_path / "d.json", ids, names),
    ]
    for grid in grids:
        emb = P.encode_grid(grid, tower, batch_size=3)
        assert emb.shape == (grid.num_prompts, 2, 16)
        torch.testing.assert_close(emb.norm(dim=2), torch.ones(grid.num_prompts, 2))
        assert not torch.allclose(emb[:, 0], emb[:, 1])


def test_a_cell_is_the_normalised_mean_of_its_strings(tower: P.TextTower):
    grid = P.PromptGrid("x", ["x"], [[["a cat", "a lion"], ["a dog"]]])
    emb = P.encode_grid(grid, tower)
    single = tower.encode(["a cat", "a lion", "a dog"])
    torch.testing.assert_close(emb[0, 0], torch.nn.functional.normalize(single[:2].mean(0), dim=0))
    torch.testing.assert_close(emb[0, 1], single[2])
    # batching does not change the embeddings
    torch.testing.assert_close(tower.encode(["a cat", "a lion", "a dog"], batch_size=1), single, atol=1e-5, rtol=0)


def test_trimmed_batches_give_the_full_context_embeddings(tower: P.TextTower):
    # prompts of different lengths, one cut off at the tiny tower's 16-token context
    texts = ["cat", "a photo of a big striped zebra.", "a " * 30 + "dog", "itap of a owl."]
    assert tower._can_trim()
    trimmed = tower.encode(texts, batch_size=3, trim=True)
    full = tower.encode(texts, batch_size=3, trim=False)
    torch.testing.assert_close(trimmed, full, atol=1e-5, rtol=0)


def test_towers_are_reused_only_inside_the_block(tmp_path: Path):
    params = write_tiny_clip(tmp_path)
    assert P.TextTower.load(**params) is not P.TextTower.load(**params)
    with P.reuse_text_towers():
        first = P.TextTower.load(**params)
        assert P.TextTower.load(**params) is first
        other = tmp_path / "other.pt"
        other.write_bytes(Path(params["weights"]).read_bytes())
        assert P.TextTower.load(params["arch"], str(other)) is not first
    assert P.TextTower.load(**params) is not first


def test_the_kzsl_awa_graph_gives_every_awa2_class_labels_literals_and_attributes(shared_data: Path):
    from kgzsl.language.documents import dataset_class_ids

    ids = dataset_class_ids(shared_data / "xlsa17" / "AWA2")
    kg = KnowledgeGraph.from_files(shared_data / "kzsl" / "KG" / "KG-AwA.ttl")
    names = P.class_names(ids)
    # the graph also names ConceptNet's grizzly_bear: the AwA namespace picks the class
    ns = "http://www.semanticweb.org/ontologies/AwA#"
    labels = P.kg_label_prompts(kg, ids, names, "single", namespace=ns)
    assert "a photo of a grizzly bear." in labels.texts[0][ids.index("grizzly+bear")]
    literals = P.kg_literal_prompts(kg, ids, names, namespace=ns)
    assert all(cell for cell in literals.texts[0])
    attributes = P.kg_attributes(kg, ids, namespace=ns)
    assert len(attributes) == 50 and all(attributes) and "tough skin" in attributes[ids.index("grizzly+bear")]
