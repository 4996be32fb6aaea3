from pathlib import Path

import numpy as np
import pytest
import scipy.io

from kgzsl.errors import DataError
from kgzsl.knowledge.formats import format_for_path, triple_formats
from kgzsl.knowledge.formats.attributes import VOCAB
from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.semantics.attributes import class_attribute_matrix

RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL_CLASS = "http://www.w3.org/2002/07/owl#Class"
VALUES = (
    f"SELECT ?c ?a ?v WHERE {{ ?x a <{VOCAB}AttributeValue> ; <{VOCAB}class> ?c ;"
    f" <{VOCAB}attribute> ?a ; <{VOCAB}value> ?v }}"
)


def _matrix(kg: KnowledgeGraph, classes: list[str], attributes: list[str]) -> np.ndarray:
    """The class × attribute matrix given back by SPARQL (absent pairs are 0)."""
    row = {c: i for i, c in enumerate(classes)}
    col = {a: j for j, a in enumerate(attributes)}
    matrix = np.zeros((len(classes), len(attributes)))
    for c, a, v in kg.query(VALUES):
        matrix[row[c], col[a]] = float(v)
    return matrix


def _count(kg: KnowledgeGraph, pattern: str) -> int:
    return int(kg.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ {pattern} }}")[0][0])


def test_xlsa17_awa2_original_att(shared_data: Path):
    path = shared_data / "xlsa17" / "AWA2" / "att_splits.mat"
    assert format_for_path(path).name == "attributes-mat"
    mat = scipy.io.loadmat(path)
    att, names = mat["original_att"], [str(c[0][0]) for c in mat["allclasses_names"]]
    kg = KnowledgeGraph()
    kg.load(path)
    ns = "https://w3id.org/kgzsl/data/AWA2/"
    classes = [ns + "class/" + n for n in names]  # killer+whale: '+' is IRI-safe
    attributes = [f"{ns}attribute/a{j + 1:03d}" for j in range(85)]
    assert att.shape == (85, 50)
    assert _count(kg, f"?c a <{OWL_CLASS}>") == 50
    assert _count(kg, f"?x a <{VOCAB}AttributeValue>") == np.count_nonzero(att)
    assert _count(kg, f"?c <{VOCAB}hasAttribute> ?a") == (att > 0).sum()
    assert len({a for _, a, _ in kg.query(VALUES)}) == 85
    np.testing.assert_allclose(_matrix(kg, classes, attributes), att.T)
    # the binary presence is what the semantics layer reads
    binary, columns = class_attribute_matrix(kg, classes)
    assert columns == attributes
    np.testing.assert_array_equal(binary, (att.T > 0).astype(np.float32))


def test_mat_options_and_kzsl_names(shared_data: Path):
    path = shared_data / "xlsa17" / "AWA2" / "att_splits.mat"
    names_file = shared_data / "kzsl" / "ori_data" / "AwA" / "attribute.txt"
    # K-ZSL's attribute.txt lists the 17 attribute groups after the 85 attributes
    with pytest.raises(DataError, match=r"102 attribute names for 85 attributes"):
        KnowledgeGraph().load(path, attribute_names=names_file)
    pairs = [line.split("\t") for line in names_file.read_text().splitlines()[:85]]
    kg = KnowledgeGraph()
    kg.load(path, key="att", threshold=0.1, attribute_names=dict(pairs), namespace="http://example.org/awa2/")
    att = scipy.io.loadmat(path)["att"]
    assert _count(kg, f"?c <{VOCAB}hasAttribute> ?a") == (att > 0.1).sum()
    label = kg.query(f"SELECT ?l WHERE {{ <http://example.org/awa2/attribute/a027> <{RDFS}label> ?l }}")
    assert label == [("chew_teeth",)]
    # the K-ZSL binary matrix has exactly the class-attribute pairs of the K-ZSL KG
    binary = KnowledgeGraph()
    binary.load(shared_data / "kzsl" / "ori_data" / "AwA" / "binaryAtt_splits.mat", key="att")
    kzsl_pairs = shared_data / "kzsl" / "triples" / "AwA" / "class_attribute_triples.txt"
    assert _count(binary, f"?c <{VOCAB}hasAttribute> ?a") == len(kzsl_pairs.read_text().splitlines())


def test_imnet_a_json_matches_the_kzsl_kg(shared_data: Path):
    folder = shared_data / "kzsl" / "ori_data" / "ImNet_A"
    path = folder / "class-attributes.json"
    assert format_for_path(path).name == "class-json"
    kg = KnowledgeGraph()
    kg.load(path)  # guessed: lists of identifiers are attributes
    assert _count(kg, f"?c a <{OWL_CLASS}>") == 80
    assert len({a for _, a, _ in kg.query(VALUES)}) == 85
    assert _count(kg, f"?c <{VOCAB}hasAttribute> ?a") == 335


def test_imnet_a_json_with_kzsl_iris(shared_data: Path):
    folder = shared_data / "kzsl" / "ori_data" / "ImNet_A"
    ns = "http://www.semanticweb.org/ontologies/ImNet-A#"
    kg = KnowledgeGraph()
    kg.load(
        folder / "class-attributes.json",
        format="attributes-json",
        attribute_names=folder / "attribute.txt",
        class_namespace=ns,
        attribute_namespace=ns,
    )
    ours = {tuple(r) for r in kg.query(f"SELECT ?c ?a WHERE {{ ?c <{VOCAB}hasAttribute> ?a }}")}
    graph = kg.load(shared_data / "kzsl" / "triples" / "ImNet_A" / "class_attribute_triples.txt", format="kzsl-triples")
    assert ours == {(s.value, o.value) for s, _, o in kg.triples(graph)}


def _names(ns: str) -> tuple[list[str], list[str]]:
    return [ns + "class/cat", ns + "class/whale"], [ns + "attribute/furry", ns + "attribute/big"]


@pytest.mark.parametrize(
    "content, options",
    [
        ('{"cat": {"furry": 0.9, "big": 0}, "whale": {"big": 1.0, "furry": -0.5}}', {}),
        ('{"cat": [0.9, 0], "whale": [-0.5, 1]}', {"attribute_names": ["furry", "big"]}),
    ],
)
def test_json_values(tmp_path: Path, content: str, options: dict):
    path = tmp_path / "values.json"
    path.write_text(content)
    kg = KnowledgeGraph()
    kg.load(path, namespace="http://x.org/", **options)  # guessed: attributes, from the numbers
    np.testing.assert_allclose(_matrix(kg, *_names("http://x.org/")), [[0.9, 0.0], [-0.5, 1.0]])
    assert _count(kg, f"?c <{VOCAB}hasAttribute> ?a") == 2  # -0.5 is a value, not a presence


def test_text_matrix(tmp_path: Path):
    path = tmp_path / "matrix.csv"
    path.write_text("class,furry,big\ncat,0.9,0\nwhale,-0.5,1\n")
    triple_formats()
    assert format_for_path(path).name == "kzsl-csv"  # the format must be named
    kg = KnowledgeGraph()
    kg.load(path, format="attributes-matrix", namespace="http://x.org/")
    np.testing.assert_allclose(_matrix(kg, *_names("http://x.org/")), [[0.9, 0.0], [-0.5, 1.0]])
    labels = {r[0] for r in kg.query(f"SELECT ?l WHERE {{ ?x <{RDFS}label> ?l }}")}
    assert labels == {"cat", "whale", "furry", "big"}


@pytest.mark.parametrize(
    "content, message",
    [
        ("class\tfurry\tbig\ncat\t1\t0\nwhale\t1\n", r"m\.tsv:3: expected 3 fields \(class and 2 values\), found 2"),
        ("class\tfurry\ncat\tyes\n", r"m\.tsv:2: expected a number for attribute 'furry', found 'yes'"),
        ("class\tfurry\n", r"m\.tsv: no class rows"),
        ("\n\n", r"m\.tsv: file is empty"),
        ("class\tfurry\ncat\t1\ncat\t0\n", r"m\.tsv: classes 'cat' and 'cat' both become"),
    ],
)
def test_bad_text_matrix(tmp_path: Path, content: str, message: str):
    path = tmp_path / "m.tsv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        KnowledgeGraph().load(path, format="attributes-matrix")


def _tiny_mat(path: Path, **extra) -> Path:
    names = np.empty((2, 1), dtype=object)
    names[0, 0], names[1, 0] = np.array(["cat"]), np.array(["killer+whale"])
    scipy.io.savemat(path, {"allclasses_names": names, "att": np.array([[1.0, 0.0], [0.5, 2.0], [0, 0]]), **extra})
    return path


def test_tiny_mat_and_missing_key(tmp_path: Path):
    path = _tiny_mat(tmp_path / "tiny.mat")
    kg = KnowledgeGraph()
    kg.load(path, key="att", namespace="http://x.org/")
    classes = ["http://x.org/class/cat", "http://x.org/class/killer+whale"]
    attributes = [f"http://x.org/attribute/a00{j}" for j in (1, 2, 3)]
    np.testing.assert_allclose(_matrix(kg, classes, attributes), [[1.0, 0.5, 0], [0, 2.0, 0]])
    with pytest.raises(DataError, match=r"tiny\.mat: no variable 'original_att'"):
        KnowledgeGraph().load(path)
    with pytest.raises(DataError, match=r"tiny\.mat: 'att'.*2 attribute names for 3 attributes"):
        KnowledgeGraph().load(path, key="att", attribute_names=["a", "b"])
    bad = _tiny_mat(tmp_path / "bad.mat", original_att=np.ones((3, 4)))
    with pytest.raises(DataError, match=r"bad\.mat: 'original_att' is 3×4, which does not fit 2 classes"):
        KnowledgeGraph().load(bad)
    junk = tmp_path / "junk.mat"
    junk.write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(DataError, match=r"junk\.mat: not a readable MATLAB file"):
        KnowledgeGraph().load(junk)


def test_mat_v73_with_h5py(tmp_path: Path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "v73.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f["original_att"] = np.array([[1.0, 0.0], [0.5, 2.0], [0, 0]]).T  # MATLAB stores column-major
        refs = f.create_group("#refs#")
        cells = np.empty((1, 2), dtype=h5py.ref_dtype)
        for i, name in enumerate(["cat", "whale"]):
            chars = refs.create_dataset(f"c{i}", data=np.array([[ord(c)] for c in name], dtype=np.uint16))
            chars.attrs["MATLAB_class"] = np.bytes_("char")
            cells[0, i] = chars.ref
        f.create_dataset("allclasses_names", data=cells, dtype=h5py.ref_dtype)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    with path.open("r+b") as f:
        f.write(header.ljust(116, b" ") + b"\0" * 8 + b"\x00\x02IM")
    kg = KnowledgeGraph()
    kg.load(path, namespace="http://x.org/")
    classes = ["http://x.org/class/cat", "http://x.org/class/whale"]
    attributes = [f"http://x.org/attribute/a00{j}" for j in (1, 2, 3)]
    np.testing.assert_allclose(_matrix(kg, classes, attributes), [[1.0, 0.5, 0], [0, 2.0, 0]])


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"cat": ["furry"], "dog": 3}', r"j\.json: class 'dog': expected a list of attribute names"),
        ('{"cat": [1, 2], "dog": [1]}', r"j\.json: lists of numbers must all have the same"),
        ('{"cat": [1, 2],\n "dog": [1,]}', r"j\.json:2: malformed JSON"),
        ("[1, 2]", r"j\.json: expected a non-empty JSON object"),
    ],
)
def test_bad_json(tmp_path: Path, content: str, message: str):
    path = tmp_path / "j.json"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        KnowledgeGraph().load(path, format="attributes-json")


def test_json_names_must_be_in_the_vocabulary(tmp_path: Path):
    path = tmp_path / "j.json"
    path.write_text('{"cat": ["furry"], "dog": ["furry", "barks"]}')
    with pytest.raises(DataError, match=r"j\.json: class 'dog': attribute 'barks' is not in attribute_names"):
        KnowledgeGraph().load(path, attribute_names=["furry"])


def test_failed_load_leaves_a_persistent_store_untouched(tmp_path: Path):
    path = _tiny_mat(tmp_path / "tiny.mat")
    kg = KnowledgeGraph(tmp_path / "store")
    kg.load(path, key="att")
    before = set(kg.triples())
    with pytest.raises(DataError, match="no variable 'nope'"):
        kg.load(path, key="nope", graph="other")
    del kg
    reopened = KnowledgeGraph(tmp_path / "store")
    assert set(reopened.triples()) == before and len(reopened) == len(before)
