import numpy as np
import pytest

from kgzsl.data.dataset import ZSLDataset, standard_splits
from kgzsl.data.synthetic import SyntheticKG, synthesize_features
from kgzsl.errors import ConfigError, DataError
from kgzsl.testing import toy_dataset


def test_features_are_non_negative_uneven_and_seeded():
    rng = np.random.default_rng(0)
    sem = (rng.random((6, 8)) < 0.5).astype(np.float32)
    sizes = np.array([5, 9, 3, 7, 4, 6])
    x, y = synthesize_features(sem, sizes, n_features=12, seed=3)
    assert x.shape == (34, 12) and x.dtype == np.float32 and (x >= 0).all()
    assert np.bincount(y).tolist() == sizes.tolist()
    x2, _ = synthesize_features(sem, sizes, n_features=12, seed=3)
    np.testing.assert_array_equal(x, x2)
    x3, _ = synthesize_features(sem, sizes, n_features=12, seed=4)
    assert not np.allclose(x, x3)


def test_class_means_follow_the_semantics():
    # classes with equal semantics get equal hidden means; different semantics, different means
    sem = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 1]], dtype=np.float32)
    x, y = synthesize_features(sem, np.array([400, 400, 400]), n_features=32, spread=0.2, seed=0)
    means = np.stack([x[y == c].mean(0) for c in range(3)])
    assert np.abs(means[0] - means[1]).mean() < 0.1 * np.abs(means[0] - means[2]).mean()


def test_splits_are_consistent():
    labels = np.repeat(np.arange(10), 10)
    seen = np.arange(7)
    s = standard_splits(labels, seen, test_fraction=0.2, val_class_fraction=0.3, seed=0)
    assert len(s["trainval"]) == 56 and len(s["test_seen"]) == 14 and len(s["test_unseen"]) == 30
    assert np.intersect1d(s["trainval"], s["test_seen"]).size == 0
    assert len(np.unique(labels[s["val"]])) == 2  # round(0.3 * 7)
    assert sorted(np.concatenate([s["train"], s["val"]]).tolist()) == s["trainval"].tolist()


def test_embedded_dataset_geometry():
    ds = SyntheticKG(n_features=32).load()
    assert ds.synthetic and ds.num_classes == 48 and len(ds.seen) == 36 and len(ds.unseen) == 12
    assert ds.features.shape[1] == 32 and ds.semantics["attributes"].shape[0] == 48
    sizes = np.bincount(ds.labels)
    assert sizes.min() >= 40 and sizes.max() <= 160 and sizes.std() > 10  # uneven
    assert "synthetic features" in repr(ds)
    assert all(p.exists() for p in ds.source_files)


def test_dataset_validation_errors():
    ds = toy_dataset()
    kwargs = dict(
        name="bad",
        features=ds.features,
        labels=ds.labels,
        class_ids=ds.class_ids,
        seen=ds.seen,
        unseen=ds.unseen,
        splits=ds.splits,
    )
    with pytest.raises(DataError, match="200 feature rows but 199 labels"):
        ZSLDataset(**{**kwargs, "labels": ds.labels[:-1]})
    features = ds.features.copy()
    features[3, 2] = np.nan
    with pytest.raises(DataError, match="NaN or infinite"):
        ZSLDataset(**{**kwargs, "features": features})
    with pytest.raises(DataError, match="seen and unseen classes overlap"):
        ZSLDataset(**{**kwargs, "unseen": np.array([0, 8])})
    with pytest.raises(DataError, match="split 'train' is missing"):
        ZSLDataset(**{**kwargs, "splits": {k: v for k, v in ds.splits.items() if k != "train"}})
    with pytest.raises(ConfigError, match=r"^dataset\.min_images: 10 is more than max_images \(5\)$"):
        SyntheticKG(min_images=10, max_images=5).load()


def _eszsl_zsl_accuracy(ds, semantics):
    import torch

    from kgzsl.evaluation import zsl_accuracy
    from kgzsl.methods import ZSLTask
    from kgzsl.methods.eszsl import ESZSL

    x, y = torch.as_tensor(ds.features), torch.as_tensor(ds.labels)
    tv, tu = ds.splits["trainval"], ds.splits["test_unseen"]
    task = ZSLTask(x[tv], y[tv], torch.as_tensor(semantics), torch.as_tensor(ds.seen), torch.as_tensor(ds.unseen))
    scores = ESZSL().fit(task).decision_function(x[tu]).numpy()
    return zsl_accuracy(scores, ds.labels[tu], ds.unseen)


def test_knowledge_transfers_and_ignoring_it_fails():
    ds = SyntheticKG().load()
    semantics = ds.semantics["attributes"] / np.linalg.norm(ds.semantics["attributes"], axis=1, keepdims=True)
    chance = 1 / len(ds.unseen)
    assert _eszsl_zsl_accuracy(ds, semantics) > 4 * chance
    # the same method with the class semantics shuffled between classes is near chance
    shuffled = [
        _eszsl_zsl_accuracy(ds, semantics[np.random.default_rng(s).permutation(ds.num_classes)]) for s in range(5)
    ]
    assert np.mean(shuffled) < 2 * chance


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('["cat", "dog"]', r'expected a JSON object \{"seen": \[...\], "unseen": \[...\]\}'),
        ('{"seen": ["cat"]}', r"key 'unseen' must be a non-empty list of class names"),
        ('{"seen": ["cat", 3], "unseen": ["dog"]}', r"key 'seen' must be a non-empty list of class names"),
        ('{"seen": ["cat", "dog"], "unseen": ["dog"]}', r"class 'dog' is both seen and unseen"),
        ('{"seen": ["cat", "cat"], "unseen": ["dog"]}', r"class 'cat' appears more than once in 'seen'"),
        ('{"seen": ["cat"],\n "unseen": ["dog"],,}', r"split.json:2: invalid JSON"),
    ],
)
def test_split_file_mistakes_are_one_line(tmp_path, content, expected):
    (tmp_path / "split.json").write_text(content)
    with pytest.raises(DataError, match=expected):
        SyntheticKG(split=str(tmp_path / "split.json")).load()
