"""The synthetic document / patch-token dataset: layout, grounding, documents, views, determinism."""

import json

import numpy as np
import pytest

from kgzsl.data.synthetic_documents import (
    SyntheticDocuments,
    document_world,
    hashed_word_vectors,
    main,
    write_documents,
)
from kgzsl.errors import ConfigError
from kgzsl.registry import DATASETS

SMALL = {"n_seen": 6, "n_unseen": 3, "n_visual_words": 8, "images_per_class": 6, "tokens": 4, "token_dim": 16}


def test_registered_and_rows_are_global_then_patch_tokens():
    source = DATASETS.build("synthetic_documents", **SMALL)
    ds = source.load()
    assert ds.synthetic and ds.num_classes == 9
    assert ds.features.shape == (9 * 6, 16 + 4 * 16)
    assert list(ds.seen) == list(range(6)) and list(ds.unseen) == [6, 7, 8]
    assert ds.semantics["visual_words"].shape == (9, 8)
    assert (ds.semantics["visual_words"].sum(1) == 3).all()


def test_each_visual_word_of_a_class_shows_in_its_images_patches():
    source = SyntheticDocuments(**SMALL, spread=0.05)
    ds, world = source.load(), document_world(**source.world_params())
    patches = ds.features[:, 16:].reshape(len(ds.features), 4, 16)
    for i in range(0, len(ds.features), 7):
        c = ds.labels[i]
        sims = patches[i] @ world.prototypes.T  # [T, V]
        best = set(np.argsort(sims.max(0))[-3:].tolist())
        assert best == set(world.class_visual[c].tolist())


def test_documents_name_visual_words_in_attribute_sentences_and_noise_elsewhere(tmp_path):
    from kgzsl.language.documents import read_documents

    source = SyntheticDocuments(**SMALL)
    path = write_documents(tmp_path / "docs.json", **source.world_params())
    world = document_world(**source.world_params())
    docs = read_documents(path, world.class_ids)
    views = docs.views()
    for c, view in enumerate(views):
        visual = {world.visual_words[w] for w in world.class_visual[c]}
        attribute_text = " ".join(s for name, ss in view.items() if name != "other" for s in ss)
        assert all(w in attribute_text for w in visual)
        assert set(world.noise_words[world.class_ids[c]]) & set(" ".join(view["other"]).replace(".", "").split())
        assert not any(n in attribute_text for n in world.noise_words[world.class_ids[c]])


def test_same_seed_same_data_and_word_vectors_depend_on_the_word_only():
    a = SyntheticDocuments(**SMALL, seed=3).load()
    b = SyntheticDocuments(**SMALL, seed=3).load()
    np.testing.assert_array_equal(a.features, b.features)
    assert not np.array_equal(a.features, SyntheticDocuments(**SMALL, seed=4).load().features)
    v = hashed_word_vectors(["kite", "bear", "kite"], 8)
    np.testing.assert_array_equal(v[0], v[2])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(hashed_word_vectors(["bear"], 8)[0], v[1])


def test_cli_writes_the_documents(tmp_path, capsys):
    out = tmp_path / "d.json"
    assert main([str(out), "--seed", "2", "--n-seen", "4", "--n-unseen", "2"]) == 0
    data = json.loads(out.read_text())
    assert list(data) == [f"class{i:03d}" for i in range(6)]
    assert data == document_world(n_seen=4, n_unseen=2, seed=2).documents


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"visual_per_class": 9, "n_visual_words": 8}, "visual_per_class"),
        ({"tokens": 2, "visual_per_class": 3}, "tokens"),
        ({"n_seen": 1}, "n_seen"),
        ({"spread": 0.0}, "spread"),
    ],
)
def test_bad_parameters_are_one_config_error(params, match):
    with pytest.raises(ConfigError, match=match):
        SyntheticDocuments(**params).load()
