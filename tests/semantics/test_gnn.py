"""Node inputs of class graphs from their labels (for GCNZ / DGP), and the one-line hints that
replace the former ``gcnz`` / ``dgp`` encoders."""

from pathlib import Path

import numpy as np
import pytest

from kgzsl.errors import ConfigError
from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.registry import SEMANTICS
from kgzsl.semantics.gnn import node_inputs
from kgzsl.testing import write_tiny_glove, write_toy_kg

TOY = "http://example.org/toy#"


@pytest.fixture(scope="module")
def kg(tmp_path_factory) -> KnowledgeGraph:
    return KnowledgeGraph.from_files(write_toy_kg(tmp_path_factory.mktemp("kg") / "toy.ttl"))


def test_word_vector_inputs_average_the_label_words(kg, tmp_path: Path):
    glove = str(write_tiny_glove(tmp_path / "glove.txt"))
    x = node_inputs(kg, [TOY + "cat", TOY + "Felid", TOY + "zebra"], "word_vectors", glove)
    assert x.shape == (3, 4) and x.dtype == np.float32
    cat = np.array([0.9, 0.1, 0.0, 0.0])
    np.testing.assert_allclose(x[0], cat / np.linalg.norm(cat), rtol=1e-5)
    # Felid has no label: its IRI's name ("felid"), a word the tiny GloVe lacks, gives a zero input
    np.testing.assert_array_equal(x[1], np.zeros(4))
    assert x[2].argmax() == 2  # zebra on the equid axis


def test_word_vector_inputs_need_a_file_and_a_known_kind(kg):
    with pytest.raises(ConfigError, match="word_vectors_path"):
        node_inputs(kg, [TOY + "cat"], "word_vectors")
    with pytest.raises(ConfigError, match="unknown kind"):
        node_inputs(kg, [TOY + "cat"], "glove")


@pytest.mark.parametrize("name", ["gcnz", "dgp"])
def test_the_former_encoders_say_what_to_write(name):
    with pytest.raises(ConfigError, match=rf"^unknown semantics '{name}': .*method: \{{name: {name}\}}"):
        SEMANTICS.get(name)
