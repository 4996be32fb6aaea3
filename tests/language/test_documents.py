import json
from pathlib import Path

import pytest

from kgzsl.errors import ConfigError, DataError
from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.language.documents import (
    ATTRIBUTE_GROUPS,
    ClassDocuments,
    attribute_groups_from_kg,
    clean_text,
    documents_from_kg,
    match_name,
    read_documents,
    split_sentences,
)
from kgzsl.matlab import read_mat

EX = "http://example.org/zoo#"


def _xlsa17_names(shared: Path, benchmark: str) -> list[str]:
    return [
        str(n)
        for n in read_mat(shared / "xlsa17" / benchmark / "att_splits.mat", ["allclasses_names"])["allclasses_names"]
    ]


def _one_line(error: pytest.ExceptionInfo, *parts: str) -> str:
    message = str(error.value)
    assert "\n" not in message
    for part in parts:
        assert part in message, (part, message)
    return message


# --- the shared documents ---------------------------------------------------------------------


def test_awa2_documents_align_to_the_xlsa17_classes(shared_data: Path):
    ids = _xlsa17_names(shared_data, "AWA2")
    assert len(ids) == 50 and "grizzly+bear" in ids
    docs = read_documents(shared_data / "text" / "documents" / "AWA2.json", ids)
    assert docs.class_ids == ids and len(docs) == 50 and not docs.missing and not docs.unused
    grizzly = ids.index("grizzly+bear")
    assert docs.names[grizzly] == "grizzly bear"
    assert docs.sentences[grizzly][0] == "Grizzly bears are animals that may be very light brown or dark brown."
    assert all(len(s) >= 5 for s in docs.sentences)
    # the release glues some sentences ("nose.The"): cleaning gives the space back
    raw = json.loads((shared_data / "text" / "documents" / "AWA2.json").read_text())
    [glued] = [name for name, text in raw.items() if "nose.The" in text]
    sentences = docs.sentences[docs.names.index(glued)]
    assert any(s.endswith("nose.") for s in sentences) and not any("nose.The" in s for s in sentences)
    assert docs.coverage().endswith("AWA2.json: 50/50 classes have a document (8-26 sentences, 16.1 on average)")


def test_flo_documents_align_through_the_label_map(shared_data: Path):
    folder = shared_data / "text" / "documents"
    ids = [f"FLO_{k:03d}" for k in range(1, 103)]  # xlsa17's FLO classes are its 1-based labels
    docs = read_documents(folder / "FLO.json", ids, label_map=folder / "FLO_label_to_category_name.json")
    assert len(docs) == 102 and not docs.missing and not docs.unused
    assert docs.names[0] == "pink primrose" and docs.names[101] == "blackberry lily"
    assert docs.sentences[0][0].startswith("Pink Primrose, scientifically known as Oenothera speciosa, is")
    # the language model's asides and the headings are not sentences of the class
    carnation = docs.sentences[docs.names.index("carnation")]
    assert carnation[0].startswith("The carnation (Dianthus caryophyllus) is")
    assert docs.sentences[docs.names.index("tiger lily")][0].startswith("The tiger lily, or Lilium lancifolium,")
    assert not any("language model" in s or "I hope" in s for ss in docs.sentences for s in ss)
    # decimals do not split ("0.6 to 0.9 metres")
    assert any("0.6" in s for ss in docs.sentences for s in ss)
    # without the map the numbered ids are not names: one line that says what to give
    with pytest.raises(DataError) as error:
        read_documents(folder / "FLO.json", ids)
    _one_line(error, "FLO.json", "102 of 102 classes have no document", "'FLO_001'", "label_map=")
    # the map's keys also match the bare labels
    by_label = read_documents(folder / "FLO.json", ["1", "102"], label_map=folder / "FLO_label_to_category_name.json")
    assert by_label.names == ["pink primrose", "blackberry lily"] and len(by_label.unused) == 100


def test_cub_descriptors_align_to_the_200_classes(shared_data: Path):
    ids = [line.split()[-1] for line in (shared_data / "xlsa17" / "CUB" / "allclasses.txt").read_text().splitlines()]
    ids = [i for i in ids if i]
    assert len(ids) == 200 and ids[0] == "002.Laysan_Albatross"
    path = shared_data / "text" / "descriptors" / "descriptors_cub.json"
    docs = read_documents(path, ids)
    assert not docs.missing and not docs.unused
    raw = json.loads(path.read_text())
    albatross = ids.index("001.Black_footed_Albatross")
    assert docs.names[albatross] == "Black-footed Albatross"
    assert docs.sentences[albatross] == raw["Black-footed Albatross"]  # one descriptor, one sentence
    assert docs.texts[albatross].startswith("a seabird. black and white. a long, hooked bill.")


# --- layouts ----------------------------------------------------------------------------------


def test_folder_of_text_files(tmp_path: Path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "polar_bear.txt").write_text("The polar bear is white.\nIts fur is thick\nand oily.\n\nIt hunts seals.\n")
    (folder / "Zebra.txt").write_text("A striped horse.")
    (folder / "notes.md").write_text("not a document")
    docs = read_documents(folder, ["zebra", "polar+bear"])
    assert docs.names == ["Zebra", "polar_bear"] and docs.source == str(folder)
    # a hard-wrapped line is not a sentence break; a blank line is
    assert docs.sentences[1] == ["The polar bear is white.", "Its fur is thick and oily.", "It hunts seals."]
    assert docs.texts[1] == "The polar bear is white. Its fur is thick and oily.\n\nIt hunts seals."
    with pytest.raises(DataError) as error:
        read_documents(folder, ["zebra", "okapi"])
    _one_line(error, str(folder), "1 of 2 classes have no document: 'okapi'")
    partial = read_documents(folder, ["okapi", "zebra"], missing="empty")
    assert partial.missing == ["okapi"] and partial.texts[0] == "" and partial.sentences[0] == []
    assert partial.unused == ["polar_bear"] and "1/2 classes" in partial.coverage()


def test_class_names_and_mixed_values(tmp_path: Path):
    path = tmp_path / "docs.json"
    path.write_text(json.dumps({"Killer Whale": "Black and white. Lives in the sea.", "mole": ["small", "digs"]}))
    docs = read_documents(path, ["c1", "c2"], class_names=["killer_whale", "MOLE"])
    assert docs.names == ["Killer Whale", "mole"]
    assert docs.sentences == [["Black and white.", "Lives in the sea."], ["small", "digs"]]
    assert docs.texts[1] == "small. digs."
    assert read_documents(path, ["c1"], class_names={"c1": "mole"}).names == ["mole"]
    with pytest.raises(ConfigError, match="expected 2 names"):
        read_documents(path, ["c1", "c2"], class_names=["mole"])


def test_match_name():
    assert match_name("grizzly+bear") == match_name("Grizzly Bear") == match_name("grizzly_bear") == "grizzly bear"
    assert match_name("002.Laysan_Albatross") == "laysan albatross"
    assert match_name("Black-footed Albatross") == match_name("001.Black_footed_Albatross")
    assert match_name("3.5") == "3.5"  # only a number followed by a name is a prefix


# --- malformed files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "parts"),
    [
        ('{"cat": "meows",\n "dog" "barks"}', ["bad.json:2", "malformed JSON"]),
        ('["cat", "dog"]', ["bad.json", "expected a non-empty JSON object"]),
        ("{}", ["bad.json", "expected a non-empty JSON object"]),
        ('{"cat": 3}', ["bad.json", "class 'cat'", "expected a list of texts"]),
        ('{"cat": ["meows", 3]}', ["bad.json", "class 'cat'", "expected a list of texts"]),
        ('{"cat": "  "}', ["bad.json", "class 'cat' has no text"]),
        ('{"cat": []}', ["bad.json", "class 'cat' has no text"]),
        ('{"cat": "[1] [citation needed] ----"}', ["bad.json", "class 'cat' has no text after cleaning"]),
        ('{"cat": {"furry": 1}}', ["bad.json", "class attributes"]),
        ('{"cat": [0.5, 1.0]}', ["bad.json", "class attributes"]),
        ('{"cat": ["meows"], "dog": [1, 0]}', ["bad.json", "class attributes"]),
        ('{"Cat": "meows.", "cat": "purrs."}', ["bad.json", "documents 'Cat' and 'cat' name the same class"]),
    ],
)
def test_malformed_documents_are_one_line_naming_file_and_key(tmp_path: Path, content: str, parts: list[str]):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(DataError) as error:
        read_documents(path, ["cat"])
    _one_line(error, *parts)


def test_malformed_folders_and_maps(tmp_path: Path):
    folder = tmp_path / "docs"
    folder.mkdir()
    with pytest.raises(DataError) as error:
        read_documents(folder, ["cat"])
    _one_line(error, str(folder), "no files matching '*.txt'")
    (folder / "cat.txt").write_text("\n \n")
    with pytest.raises(DataError) as error:
        read_documents(folder, ["cat"])
    _one_line(error, "cat.txt", "class 'cat' has no text")
    (folder / "cat.txt").write_bytes(b"Meows.\n\xff\xfe")
    with pytest.raises(DataError) as error:
        read_documents(folder, ["cat"])
    _one_line(error, "cat.txt:2", "not UTF-8")
    docs = tmp_path / "d.json"
    docs.write_text('{"pink primrose": "Pink."}')
    labels = tmp_path / "labels.json"
    labels.write_text('{"1": "pink primrose", "2": 7}')
    with pytest.raises(DataError) as error:
        read_documents(docs, ["FLO_001"], label_map=labels)
    _one_line(error, "labels.json", "label '2'", "expected a class name")
    with pytest.raises(DataError) as error:
        read_documents(docs, ["a", "b"], label_map={"1": "pink primrose"})
    _one_line(error, "none of the 2 class ids is a label")
    with pytest.raises(DataError, match="expected a JSON file"):
        read_documents(tmp_path / "absent.json", ["cat"])
    with pytest.raises(ConfigError, match="missing"):
        read_documents(docs, ["pink primrose"], missing="skip")  # type: ignore[arg-type]


# --- cleaning and sentences -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("It eats fruit, e.g. figs. It sleeps.", ["It eats fruit, e.g. figs.", "It sleeps."]),
        ("It eats a fig. Then it sleeps.", ["It eats a fig.", "Then it sleeps."]),
        ("Seen e.g. In Kenya. Also i.e. Here.", ["Seen e.g. In Kenya.", "Also i.e. Here."]),
        ("It lives near St. Louis and Mt. Kenya. It is shy.", ["It lives near St. Louis and Mt. Kenya.", "It is shy."]),
        ("It grows 2.5 m tall. Leaves are 0.6 cm wide.", ["It grows 2.5 m tall.", "Leaves are 0.6 cm wide."]),
        (
            "Named by J. R. R. Tolkien. Described by L. in 1753.",
            ["Named by J. R. R. Tolkien.", "Described by L. in 1753."],
        ),
        ("Found in the U.S. Mostly west.", ["Found in the U.S. Mostly west."]),
        ("Is it red? Yes! It is... Red.", ["Is it red?", "Yes!", "It is...", "Red."]),
        ('He said "it bites." Then it left.', ['He said "it bites."', "Then it left."]),
        ("Many spp. Exist (approx. 40 species). Fine.", ["Many spp. Exist (approx. 40 species).", "Fine."]),
        ("Over 3 ft. tall. In 1999 it bloomed.", ["Over 3 ft. tall.", "In 1999 it bloomed."]),
        ("It is big. (It is heavy.) Done.", ["It is big.", "(It is heavy.)", "Done."]),
        ("one\n\ntwo\nthree", ["one", "two three"]),
        ("Colours:\n- red\n- blue\n1. first\n2) second", ["Colours:", "red", "blue", "first", "second"]),
        ("---\n\n12 34\n\nReal text", ["Real text"]),
        ("", []),
    ],
)
def test_split_sentences(text: str, sentences: list[str]):
    assert split_sentences(text) == sentences


def test_clean_text_removes_markup_references_and_non_text():
    raw = (
        "== Description ==\n"
        "The '''zebra'''[1] is a [[Equidae|horse]]-like [[animal]] {{Citation needed|date=2020}}with "
        "stripes.[2][3] It lives in [[Africa]][citation needed].<ref>Smith 2001</ref> See https://x.org/z.\n"
        "[[File:Zebra.jpg|thumb|A zebra]]\n\n"
        "Its\u00a0stripes\u200b are <b>black</b> &amp; white.nose.The end\x07\n\n"
        "----\n\n"
        "**Bold** and __under__ text [a] [note 2]."
    )
    assert clean_text(raw) == (
        "The zebra is a horse-like animal with stripes. It lives in Africa. See.\n\n"
        "Its stripes are black & white.nose. The end\n\n"
        "Bold and under text."
    )
    assert clean_text("1234\n\n----\n\n[1]") == ""


def test_headings_and_language_model_asides_are_dropped(tmp_path: Path):
    path = tmp_path / "docs.json"
    lotus = (
        "Sure! Here's a description of the lotus:\n\nLotus - Visual Definition\n\n"
        "The lotus is pink. As an AI language model, I cannot show images. Let me guide you. It floats.\n\n"
        "Habitat:\n\nPonds in Asia. Now, let's consider its leaves. World War I ended.\n\nA closing line"
    )
    path.write_text(json.dumps({"lotus": lotus, "rose": ["red", "Sure!"]}))
    docs = read_documents(path, ["lotus", "rose"])
    assert docs.sentences == [
        ["The lotus is pink.", "It floats.", "Ponds in Asia.", "World War I ended.", "A closing line"],
        ["red"],  # a descriptor is its own text: never a heading
    ]
    assert docs.texts[0] == "The lotus is pink. It floats.\n\nPonds in Asia. World War I ended.\n\nA closing line"
    assert clean_text("Short title\n\nBody.") == "Body." and clean_text("Short title") == "Short title"


# --- knowledge graph literals -----------------------------------------------------------------


def _zoo_kg(tmp_path: Path) -> KnowledgeGraph:
    path = tmp_path / "zoo.ttl"
    path.write_text(
        f"@prefix ex: <{EX}> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n"
        'ex:zebra a rdfs:Class ; rdfs:label "zebra" ; rdfs:comment "A striped horse. It eats grass."@en ;\n'
        '   rdfs:comment "Ein gestreiftes Pferd."@de ; skos:definition "An African equid." ;\n'
        "   ex:hasColor ex:black , ex:white ; ex:hasPattern ex:stripes .\n"
        'ex:mole a rdfs:Class ; rdfs:label "mole, talpid" ; ex:hasColor ex:black ; ex:eats ex:worm .\n'
        'ex:okapi a rdfs:Class ; rdfs:label "okapi" .\n'
        'ex:black rdfs:label "black" ; rdfs:subClassOf ex:color .\n'
        'ex:white rdfs:label "white" ; rdfs:subClassOf ex:color .\n'
        'ex:color rdfs:label "colour" . ex:stripes rdfs:label "stripes" . ex:worm rdfs:label "earth_worm" .\n'
        "ex:zebra ex:similarTo ex:okapi .\n"
    )
    return KnowledgeGraph.from_files(path)


def test_documents_from_kg_literals(tmp_path: Path):
    kg = _zoo_kg(tmp_path)
    docs = documents_from_kg(kg, ["Zebra", "mole"])
    assert isinstance(docs, ClassDocuments) and docs.source == "kg"
    assert docs.names == ["zebra", "mole"]
    # comments before definitions; the German comment is left out; labels when nothing else
    assert docs.sentences == [["A striped horse.", "It eats grass.", "An African equid."], ["mole, talpid."]]
    assert len(documents_from_kg(kg, ["zebra"], language=None).sentences[0]) == 4
    with pytest.raises(DataError) as error:
        documents_from_kg(kg, ["zebra", "mole"], labels=False)
    _one_line(error, "1 of 2 classes have no document", "'mole'", "give them descriptions")
    empty = documents_from_kg(kg, ["zebra", "mole"], labels=False, missing="empty")
    assert empty.missing == ["mole"] and empty.names == ["zebra", "mole"]
    with pytest.raises(DataError, match="not found"):
        documents_from_kg(kg, ["unicorn"])  # alignment's own error


def test_documents_from_kg_read_the_documents_format(tmp_path: Path):
    path = tmp_path / "docs.json"
    path.write_text(json.dumps({"polar bear": "White fur. Lives on the ice.", "zebra": ["striped", "fast"]}))
    kg = KnowledgeGraph()
    kg.load(path, format="documents")
    from_kg = documents_from_kg(kg, ["zebra", "polar+bear"])
    from_file = read_documents(path, ["zebra", "polar+bear"])
    assert from_kg.names == from_file.names == ["zebra", "polar bear"]
    assert from_kg.sentences[1] == from_file.sentences[1] == ["White fur.", "Lives on the ice."]
    assert sorted(from_kg.sentences[0]) == sorted(from_file.sentences[0])


def test_kzsl_labels_as_documents_and_attribute_groups(shared_data: Path):
    from kgzsl.knowledge.sources import KZSLKnowledge

    kg = KZSLKnowledge(setting="basic", root=str(shared_data / "kzsl")).build()
    ids = _xlsa17_names(shared_data, "AWA2")
    docs = documents_from_kg(kg, ids)
    assert len(docs) == 50 and not docs.missing
    assert docs.names[ids.index("killer+whale")] == "killer whale"
    assert "orca" in docs.texts[ids.index("killer+whale")]
    groups = attribute_groups_from_kg(kg, ids)
    # K-ZSL's attribute hierarchy: 15 groups under which the classes' attributes sit
    assert len(groups) == 15
    assert set(groups["color"]) == {"color", "black", "white", "blue", "brown", "gray", "orange", "red", "yellow"}
    assert "tough skin" in groups["texture"] and "long leg" in groups["body part"]
    awa2 = read_documents(shared_data / "text" / "documents" / "AWA2.json", ids)
    views = awa2.views(groups)
    assert sum("color" in v for v in views) >= 45
    zebra = views[ids.index("zebra")]
    assert any("stripes" in s for s in zebra["decoration"])


# --- attribute views --------------------------------------------------------------------------


def _toy_documents() -> ClassDocuments:
    sentences = [
        ["The zebra has black and white stripes.", "It lives on grassy plains.", "It eats grass.", "Its name is old."],
        ["The okapi is brown.", "Its legs are striped."],
    ]
    return ClassDocuments(
        class_ids=["z", "o"], names=["zebra", "okapi"], texts=[" ".join(s) for s in sentences],
        sentences=sentences, source="toy",
    )  # fmt: skip


def test_views_group_sentences_by_keywords():
    docs = _toy_documents()
    zebra, okapi = docs.views()
    assert zebra == {
        "colour": ["The zebra has black and white stripes."],
        "pattern": ["The zebra has black and white stripes."],
        "habitat": ["It lives on grassy plains."],  # "plain" + s
        "diet": ["It eats grass."],
        "other": ["Its name is old."],
    }
    assert okapi == {
        "colour": ["The okapi is brown."],
        "pattern": ["Its legs are striped."],
        "parts": ["Its legs are striped."],
    }
    assert list(zebra) == [g for g in [*ATTRIBUTE_GROUPS, "other"] if g in zebra]  # in group order
    assert "other" not in docs.views(other=None)[0]
    custom = docs.views({"look": ["black", "brown", "striped"], "food": ["grass"]}, other="rest")
    assert custom[0] == {
        "look": ["The zebra has black and white stripes."],
        "food": ["It eats grass."],
        "rest": ["It lives on grassy plains.", "Its name is old."],
    }
    assert docs.views({"two words": ["grassy plain"]}, other=None)[0] == {"two words": ["It lives on grassy plains."]}
    # whole words only: "tan" is a colour, "tank" is not
    tank = ClassDocuments(["t"], ["t"], ["A tank."], [["A tank."]], "toy")
    assert tank.views(other=None) == [{}]


def test_views_rewrite_is_a_user_callable():
    docs = _toy_documents()
    calls = []

    def rewrite(name: str, view: str, sentences: list[str]) -> list[str]:
        calls.append((name, view, len(sentences)))
        return [] if view == "other" else [f"{name}: {view}"]

    zebra, okapi = docs.views(rewrite=rewrite)
    assert zebra == {
        "colour": ["zebra: colour"],
        "pattern": ["zebra: pattern"],
        "habitat": ["zebra: habitat"],
        "diet": ["zebra: diet"],
    }
    assert ("okapi", "parts", 1) in calls and len(calls) == 8
    with pytest.raises(ConfigError) as error:
        docs.views(rewrite=lambda name, view, sentences: "one string")
    _one_line(error, "rewrite('zebra', 'colour', ...)", "expected a list of strings")
    with pytest.raises(ConfigError, match="group 'x' has no keywords"):
        docs.views({"x": []})
    with pytest.raises(ConfigError, match="catch-all"):
        docs.views({"other": ["a"]})


def test_attribute_groups_from_a_kg(tmp_path: Path):
    kg = _zoo_kg(tmp_path)
    groups = attribute_groups_from_kg(kg, ["zebra", "mole", "okapi"])
    # black/white sit under ex:color (labelled "colour"); the others are grouped by their relation
    assert groups == {
        "colour": ("black", "colour", "white"),
        "eats": ("earth worm", "eats"),
        "pattern": ("pattern", "stripes"),
    }
    # okapi is one of the classes, not an attribute of zebra; without it among them it is one
    assert all("okapi" not in words for words in groups.values())
    assert attribute_groups_from_kg(kg, ["zebra"])["similar to"] == ("okapi", "similar to")
    only_mole = attribute_groups_from_kg(kg, ["mole"])
    assert set(only_mole) == {"colour", "eats"}
    with pytest.raises(DataError, match="links no class to an attribute"):
        attribute_groups_from_kg(kg, ["okapi"])


# --- command line -----------------------------------------------------------------------------


def test_cli_documents_coverage(shared_data: Path, tmp_path: Path, capsys):
    from kgzsl.cli import main

    text = shared_data / "text"
    assert main(["data", "documents", str(text / "documents" / "AWA2.json"), "--dataset", "AWA2"]) == 0
    assert "AWA2.json: 50/50 classes have a document" in capsys.readouterr().out
    flo_map = str(text / "documents" / "FLO_label_to_category_name.json")
    args = ["data", "documents", str(text / "documents" / "FLO.json"), "--dataset", "FLO", "--label-map", flo_map]
    assert main([*args, "--views"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "102/102 classes have a document" in out[0] and len(out) == 1 + len(ATTRIBUTE_GROUPS) + 1
    assert out[1].split()[:3] == ["view", "colour", "102/102"]
    # the Flowers102 descriptors call FLO's "lotus" "lotus lotus": one line names it, exit 2
    descriptors = str(text / "descriptors" / "descriptors_flowers102.json")
    assert main(["data", "documents", descriptors, "--dataset", "FLO", "--label-map", flo_map]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "1 of 102 classes have no document: 'FLO_078' ('lotus') (closest: lotus lotus)" in err
    assert main(["data", "documents", descriptors, "--dataset", "FLO", "--label-map", flo_map, "--allow-missing"]) == 0
    assert "101/102 classes have a document" in capsys.readouterr().out
    ids = tmp_path / "classes.txt"
    ids.write_text("zebra\nmole\n")
    assert main(["data", "documents", str(text / "documents" / "AWA2.json"), "--dataset", str(ids)]) == 0
    assert "2/2 classes have a document" in capsys.readouterr().out
    assert main(["data", "documents", str(text / "documents" / "AWA2.json"), "--dataset", str(tmp_path / "no")]) == 2
    assert "not an xlsa17 folder" in capsys.readouterr().err
