"""Every registered dataset runs from a YAML config through ``kgzsl run``, on files of its real schema.

The files are written here, small: xlsa17's ``att_splits.mat`` / ``res101.mat`` (MATLAB v5 and
v7.3), K-ZSL ImageNet's ``split.mat`` and per-class ``<k>.mat`` files, the user's own arrays,
an image folder (features from the tiny open_clip ViT of :mod:`kgzsl.data.features`), and the
inputs of the two synthetic datasets. The method is ESZSL with selection off: the point is
that the config reaches the dataset, not the accuracy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from kgzsl.cli import main
from kgzsl.data.synthetic import synthesize_features
from kgzsl.matlab import write_mat
from kgzsl.registry import DATASETS

METHOD = {"semantics": {"name": "dataset", "key": "att"}, "method": {"name": "eszsl"}, "select": {}}


def _classes(n_seen: int, n_unseen: int, prefix: str = "c") -> tuple[list[str], np.ndarray]:
    """Class ids and their ``[C, 6]`` semantics; the features are a hidden function of the semantics."""
    ids = [f"{prefix}{i:02d}" for i in range(n_seen + n_unseen)]
    semantics = np.random.default_rng(7).random((len(ids), 6))
    return ids, semantics


def _features(semantics: np.ndarray, per_class: int, n_features: int = 8) -> tuple[np.ndarray, np.ndarray]:
    return synthesize_features(semantics, np.full(len(semantics), per_class), n_features=n_features, seed=3)


def _xlsa17(tmp_path: Path, version: str = "5") -> dict:
    """A CUB folder: ``att_splits.mat`` (v2: no train_loc / val_loc) and ``res101.mat`` (``D × N``)."""
    ids, att = _classes(6, 4)
    features, labels = _features(att, 10)
    folder = tmp_path / "xlsa17" / "CUB"
    folder.mkdir(parents=True)
    seen = labels < 6
    seen_idx = np.flatnonzero(seen)
    test_seen = seen_idx[::5]  # two images of every seen class
    trainval = np.setdiff1d(seen_idx, test_seen)
    splits = {
        "allclasses_names": ids,
        "att": att.T,  # A × C, one column per class
        "original_att": 100 * att.T,
        "trainval_loc": trainval + 1.0,  # 1-based
        "test_seen_loc": test_seen + 1.0,
        "test_unseen_loc": np.flatnonzero(~seen) + 1.0,
    }
    write_mat(folder / "att_splits.mat", splits, version=version)
    write_mat(folder / "res101.mat", {"features": features.T, "labels": labels + 1.0}, version=version)
    return {"name": "xlsa17", "benchmark": "CUB", "root": str(tmp_path / "xlsa17"), "val_split": 0}


def _xlsa17_v73(tmp_path: Path) -> dict:
    return _xlsa17(tmp_path, version="7.3")


def _kzsl_imagenet(tmp_path: Path) -> dict:
    """``split.mat`` of 12 wnids (6 ILSVRC 2012 ones), per-class feature files, seen / unseen lists."""
    wnids = [f"n{i:08d}" for i in range(1, 13)]
    write_mat(
        tmp_path / "split.mat",
        {
            "allwnids": wnids,
            "allwords": [f"class {w}" for w in wnids],
            "seen": np.arange(1, 7.0),
            "hops2": np.arange(7, 11.0),
            "hops3": np.array([11.0]),
            "rest": np.array([12.0]),
            "no_w2v_index": np.zeros((0, 1)),
        },
        version="5",
    )
    seen, unseen = wnids[:4], wnids[6:9]
    _, sem = _classes(4, 3)
    features, labels = _features(sem, 12)
    root = tmp_path / "features"
    for c, wnid in enumerate(seen + unseen):
        rows = features[labels == c]
        k = wnids.index(wnid) + 1  # files are named by the 1-based position in allwnids
        if c < len(seen):
            for folder, part in (("ILSVRC2012_train", rows[:9]), ("ILSVRC2012_val", rows[9:])):
                (root / folder).mkdir(parents=True, exist_ok=True)
                write_mat(root / folder / f"{k}.mat", {"features": part}, version="5")
        else:
            (root / "ILSVRC2011").mkdir(parents=True, exist_ok=True)
            write_mat(root / "ILSVRC2011" / f"{k}.mat", {"features": rows}, version="7.3")
    (tmp_path / "seen.txt").write_text("\n".join(seen) + "\n")
    (tmp_path / "unseen.txt").write_text("\n".join(unseen) + "\n")
    np.save(tmp_path / "sem.npy", sem.astype(np.float32))
    (tmp_path / "sem_ids.txt").write_text("\n".join(seen + unseen) + "\n")
    return {
        "name": "kzsl_imagenet",
        "benchmark": "ImNet_A",
        "root": str(root),
        "split_file": str(tmp_path / "split.mat"),
        "seen_file": str(tmp_path / "seen.txt"),
        "unseen_file": str(tmp_path / "unseen.txt"),
        "val_class_fraction": 0.25,
    }


def _arrays(tmp_path: Path) -> dict:
    ids, att = _classes(5, 3)
    features, labels = _features(att, 10)
    np.save(tmp_path / "features.npy", features)
    np.save(tmp_path / "labels.npy", labels)
    np.save(tmp_path / "att.npy", att)
    (tmp_path / "classes.txt").write_text("\n".join(ids))
    (tmp_path / "seen.txt").write_text("\n".join(ids[:5]))
    (tmp_path / "unseen.txt").write_text("\n".join(ids[5:]))
    return {
        "name": "arrays",
        "features": str(tmp_path / "features.npy"),
        "labels": str(tmp_path / "labels.npy"),
        "classes": str(tmp_path / "classes.txt"),
        "seen": str(tmp_path / "seen.txt"),
        "unseen": str(tmp_path / "unseen.txt"),
        "semantics": {"att": str(tmp_path / "att.npy")},
        "title": "my arrays",
    }


def _image_folder(tmp_path: Path) -> dict:
    from PIL import Image

    rng = np.random.default_rng(0)
    names = ["cat", "dog", "fox", "owl", "yak"]
    for c, name in enumerate(names):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(3):
            pixels = np.clip(rng.normal(40 * c, 20, size=(24, 24, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / name / f"{i}.png")
    return {
        "name": "image_folder",
        "root": str(tmp_path / "images"),
        "seen": names[:4],
        "unseen": names[4:],
        "backbone": "open_clip:kgzsl-tiny-vit",
        "cache": str(tmp_path / "cache"),
        "progress": False,
        "val_class_fraction": 0.25,
    }


def _synthetic_kg(tmp_path: Path) -> dict:
    return {"name": "synthetic_kg", "n_features": 16, "min_images": 10, "max_images": 20}


def _synthetic_benchmark(tmp_path: Path) -> dict:
    """APY's geometry (20 seen / 12 unseen classes) in a tiny ``att_splits.mat`` of the real schema."""
    ids, att = _classes(20, 12)
    folder = tmp_path / "xlsa17" / "APY"
    folder.mkdir(parents=True)
    write_mat(
        folder / "att_splits.mat",
        {
            "allclasses_names": ids,
            "att": att.T,
            "trainval_loc": np.arange(1, 201.0),
            "test_seen_loc": np.arange(201, 261.0),
            "test_unseen_loc": np.arange(261, 381.0),
        },
        version="5",
    )
    return {"name": "synthetic_benchmark", "benchmark": "APY", "root": str(tmp_path / "xlsa17"), "n_features": 16}


def _synthetic_documents(tmp_path: Path) -> dict:
    return {"name": "synthetic_documents", "n_seen": 8, "n_unseen": 4}


#: registered dataset → a config's dataset section (test cases beyond the first: more formats)
CASES: dict[str, list[Callable[[Path], dict]]] = {
    "xlsa17": [_xlsa17, _xlsa17_v73],
    "kzsl_imagenet": [_kzsl_imagenet],
    "arrays": [_arrays],
    "image_folder": [_image_folder],
    "synthetic_kg": [_synthetic_kg],
    "synthetic_benchmark": [_synthetic_benchmark],
    "synthetic_documents": [_synthetic_documents],
}


def _semantics(dataset: dict, tmp_path: Path) -> dict:
    """The datasets without semantics of their own get class embeddings from a file."""
    if dataset["name"] == "synthetic_kg":
        return {"name": "dataset", "key": "attributes"}
    if dataset["name"] == "synthetic_documents":
        return {"name": "dataset", "key": "visual_words"}
    if dataset["name"] == "kzsl_imagenet":
        return {"name": "precomputed", "path": str(tmp_path / "sem.npy"), "ids": str(tmp_path / "sem_ids.txt")}
    if dataset["name"] == "image_folder":
        names = dataset["seen"] + dataset["unseen"]
        np.save(tmp_path / "img_sem.npy", np.random.default_rng(1).random((len(names), 4)).astype(np.float32))
        (tmp_path / "img_sem_ids.txt").write_text("\n".join(names) + "\n")
        return {"name": "precomputed", "path": str(tmp_path / "img_sem.npy"), "ids": str(tmp_path / "img_sem_ids.txt")}
    return METHOD["semantics"]


def test_every_registered_dataset_has_a_config_case():
    assert sorted(CASES) == DATASETS.names()


def test_no_dataset_parameter_is_called_name():
    # `name` is the registered dataset in a config: a parameter of that name can never be set
    # from one, and its default would replace the dataset's name
    for dataset in DATASETS.names():
        assert "name" not in DATASETS.parameters(dataset), dataset


def _case(make: Callable[[Path], dict]) -> object:
    # image_folder imports open_clip and extracts features: seconds, where the others take a fraction
    marks = [pytest.mark.slow] if make is _image_folder else []
    return pytest.param(make, marks=marks, id=make.__name__.lstrip("_"))


@pytest.mark.filterwarnings("ignore:.*(random|RANDOM).*:UserWarning")
@pytest.mark.parametrize("make", [_case(make) for makes in CASES.values() for make in makes])
def test_dataset_runs_from_a_yaml_config(make, tmp_path: Path, capsys):
    dataset = make(tmp_path)
    config = {**METHOD, "dataset": dataset, "semantics": _semantics(dataset, tmp_path)}
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

    assert main(["run", str(path), "--out", str(tmp_path / "runs"), "--no-progress"]) == 0, capsys.readouterr().err
    run = tmp_path / "runs" / "experiment" / "seed-0"
    saved = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    # the resolved config keeps the dataset's name and every parameter given (nothing collides)
    assert saved["dataset"]["name"] == dataset["name"]
    assert {k: saved["dataset"][k] for k in dataset} == dataset
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    for key in ("zsl/top1", "gzsl/seen", "gzsl/unseen", "gzsl/h"):
        assert 0.0 <= metrics[key] <= 1.0, key


@pytest.mark.parametrize(
    ("section", "overrides", "expected"),
    [
        ({"name": "AWA2", "root": "x"}, [], "write dataset: {name: xlsa17, benchmark: AWA2}"),
        (
            {"name": "xlsa17", "benchmark": "AWA2"},
            ["dataset.name=CUB"],
            "write dataset: {name: xlsa17, benchmark: CUB}",
        ),
        ({"name": "ImNet_O"}, [], "write dataset: {name: kzsl_imagenet, benchmark: ImNet_O}"),
    ],
)
def test_a_benchmark_named_as_the_dataset_says_what_to_write(section, overrides, expected, tmp_path: Path, capsys):
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump({**METHOD, "dataset": section}), encoding="utf-8")
    args = [arg for o in overrides for arg in ("--set", o)]
    assert main(["run", str(path), "--out", str(tmp_path / "runs"), "--no-progress", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err and err.startswith("kgzsl: error: dataset.name:"), err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"name": "synthetic_kg", "n_features": -5}, "dataset.n_features: expected a value > 0, got -5"),
        ({"name": "synthetic_kg", "min_images": 30, "max_images": 20}, "dataset.min_images: 30 is more than"),
        ({"name": "synthetic_kg", "test_fraction": 1.5}, "dataset.test_fraction: expected a value in"),
        ({"name": "synthetic_kg", "seed": -1}, "dataset.seed: expected a value"),
        ({"name": "synthetic_benchmark", "spread": -1.0}, "dataset.spread: expected a value > 0, got -1.0"),
        ({"name": "synthetic_benchmark", "size_spread": -0.5}, "dataset.size_spread: expected a value >= 0"),
        ({"name": "synthetic_benchmark", "hidden": 0}, "dataset.hidden: expected a value > 0, got 0"),
        ({"name": "xlsa17", "val_class_fraction": 0.0}, "dataset.val_class_fraction: expected a value in (0, 1)"),
        ({"name": "kzsl_imagenet", "max_test_images_per_class": 0}, "dataset.max_test_images_per_class"),
        ({"name": "arrays", "features": "f", "classes": "c", "seen": "s", "unseen": "u", "seed": -3}, "dataset.seed"),
        ({"name": "image_folder", "root": "r", "batch_size": -2}, "dataset.batch_size: expected a value > 0"),
    ],
)
def test_out_of_range_dataset_parameters_are_refused_before_any_work(section, expected, tmp_path: Path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**METHOD, "dataset": section}), encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err, err
    assert main(["run", str(path), "--out", str(tmp_path / "runs"), "--no-progress"]) == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def _readme_datasets_section() -> str:
    text = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    return text[text.index("## Datasets") : text.index("\n## ", text.index("## Datasets") + 5)]


def test_the_readme_dataset_sections_are_valid_configs(tmp_path: Path, monkeypatch):
    blocks = re.findall(r"```yaml\n(.*?)```", _readme_datasets_section(), flags=re.S)
    sections = [
        yaml.safe_load(line)["dataset"] for b in blocks for line in b.splitlines() if line.startswith("dataset:")
    ]
    assert {s["name"] for s in sections} >= {"xlsa17", "kzsl_imagenet", "synthetic_benchmark", "synthetic_kg"}
    # the README's folders are the user's download folders: configs check that they exist
    monkeypatch.chdir(tmp_path)
    for section in sections:
        for key in DATASETS.get(section["name"]).file_params:
            value = section.get(key)
            if isinstance(value, str) and not value.startswith("embedded:"):
                target = tmp_path / value
                if key == "root":
                    target.mkdir(parents=True, exist_ok=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.touch()
    for section in sections:
        params = {k: v for k, v in section.items() if k != "name"}
        DATASETS.check_params(section["name"], params, where="dataset")


@pytest.mark.slow  # AWA2's 37,322 synthetic images at the README's 256 features: about 10 s
def test_the_readme_synthetic_benchmark_experiment_runs(shared_data: Path, tmp_path: Path, capsys):
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", _readme_datasets_section(), flags=re.S) if "method:" in b)
    config = yaml.safe_load(block)
    # the README's root is the user's download folder; here the same files come from the shared data
    assert config["dataset"]["root"] == "data/xlsa17"
    config["dataset"]["root"] = str(shared_data / "xlsa17")
    path = tmp_path / "synthetic.yaml"
    path.write_text(yaml.safe_dump(config | {"select": {}}), encoding="utf-8")
    assert main(["run", str(path), "--out", str(tmp_path / "runs"), "--no-progress"]) == 0, capsys.readouterr().err
    metrics = json.loads((tmp_path / "runs" / "synthetic" / "seed-0" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["zsl/top1"] > 0.1 + 0.05  # AWA2 has 10 unseen classes: chance is 0.1


def test_synthetic_benchmark_without_root_or_shared_data_is_one_line(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.delenv("KGZSL_SHARED_DATA", raising=False)
    path = tmp_path / "synthetic.yaml"
    path.write_text(yaml.safe_dump({**METHOD, "dataset": {"name": "synthetic_benchmark"}}), encoding="utf-8")
    assert main(["run", str(path), "--out", str(tmp_path / "runs"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "set dataset.root" in err and "KGZSL_SHARED_DATA" in err, err
