"""Every encoder that reads a knowledge graph runs on the real K-ZSL AwA KG for the 50 AwA2 classes.

Settings are kept small: this checks that each encoder handles the real graph (9,198 entities,
41 relations, ConceptNet links, literals) and returns aligned, finite embeddings; the quality
checks live in each encoder's own tests.
"""

from pathlib import Path

import numpy as np
import pytest

from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.registry import SEMANTICS

AWA = "http://www.semanticweb.org/ontologies/AwA#"

#: fast settings per encoder; encoders that do not read the KG are not listed
FAST = {
    "kg_attributes": {},
    "sentence": {"texts": "label"},
    "clip_text": {"texts": "label"},
    "word_vectors": {"texts": "name"},
    "kge": {"dim": 16, "epochs": 3, "eval_every": 3},
    "rgcn": {"hidden": 8, "epochs": 2, "eval_every": 2},
    "ontozsl": {"dim": 8, "mapping": 8, "kge_epochs": 2, "epochs": 2},
}


@pytest.fixture(scope="module")
def awa(shared_data_module):
    from kgzsl.data.synthetic import SyntheticBenchmark

    kg = KnowledgeGraph.from_files(shared_data_module / "kzsl" / "KG" / "KG-AwA.ttl")
    dataset = SyntheticBenchmark(benchmark="AWA2", n_features=16).load()  # the 50 real AwA2 class names
    return kg, dataset


@pytest.fixture(scope="module")
def shared_data_module():
    import os

    value = os.environ.get("KGZSL_SHARED_DATA")
    if not value or not Path(value).is_dir():
        if os.environ.get("KGZSL_REQUIRE_SHARED_DATA") == "1":
            pytest.fail("KGZSL_SHARED_DATA is required")
        pytest.skip("shared benchmark data not found")
    return Path(value).resolve()


def test_every_kg_encoder_is_covered():
    uses_kg = set(SEMANTICS.names()) - {"dataset", "precomputed"}
    assert uses_kg == set(FAST), "add the new encoder to FAST with quick settings"


@pytest.mark.slow  # ~1-2 min in all: the GNN and OntoZSL encoders embed ~9k node labels
@pytest.mark.parametrize("name", sorted(FAST))
@pytest.mark.filterwarnings("ignore:.*(random|RANDOM).*:UserWarning")
def test_encoder_on_the_kzsl_awa_kg(name, awa, request, tmp_path):
    kg, dataset = awa
    fixture = getattr(SEMANTICS.get(name), "needs_fixture", None)
    params = {**(request.getfixturevalue(fixture) if fixture else {}), **FAST[name], "namespace": AWA}
    if name == "word_vectors":  # a word-vector file covering the AwA2 class names
        from kgzsl.semantics.text import readable_name, tokenize_words
        from kgzsl.testing import write_tiny_glove

        rng = np.random.default_rng(0)
        words = {w: rng.normal(size=8).tolist() for c in dataset.class_ids for w in tokenize_words(readable_name(c))}
        params["path"] = str(write_tiny_glove(tmp_path / "awa-glove.txt", words=words))
    encoder = SEMANTICS.build(name, **params)
    emb = encoder.encode(kg, dataset)
    assert emb.ids == dataset.class_ids and emb.matrix.shape[0] == 50
    assert np.isfinite(emb.matrix).all() and emb.dim > 0
    assert len({row.tobytes() for row in emb.matrix}) > 40  # classes get distinct embeddings
