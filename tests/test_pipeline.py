import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from kgzsl.errors import KGZSLError
from kgzsl.pipeline import holdout_seen_images, run_experiment

SMALL = {
    "dataset": {"name": "synthetic_kg", "n_features": 64, "min_images": 20, "max_images": 40},
    "knowledge": {"name": "files"},
    "semantics": {"name": "kg_attributes"},
    "method": {"name": "eszsl"},
    "train": {"device": "cpu"},
    "eval": {"hit_k": [1, 5]},
}


def test_run_writes_a_complete_run_folder(tmp_path: Path):
    result = run_experiment(SMALL, stem="small", out=tmp_path, seed=1, progress=False)
    run = tmp_path / "small" / "seed-1"
    assert result.run_dir == run
    assert sorted(p.name for p in run.iterdir()) == [
        "config.yaml",
        "meta.json",
        "metrics.json",
        "per_class.csv",
        "plot.png",
        "results.md",
    ]
    metrics = json.loads((run / "metrics.json").read_text())
    for key in (
        "zsl/top1",
        "gzsl/seen",
        "gzsl/unseen",
        "gzsl/h",
        "gzsl/ausuc",
        "gzsl_cs/h",
        "gzsl_cs/gamma",
        "val/zsl/top1",
        "zsl/hit@1",
        "zsl/hit@5",
        "time/train_s",
        "time/total_s",
    ):
        assert key in metrics and np.isfinite(metrics[key])
    assert metrics["zsl/hit@1"] <= metrics["zsl/hit@5"]
    assert metrics["zsl/top1"] > 3 * (1 / 12)  # knowledge transfers: far above chance
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["train"]["seed"] == 1 and config["method"]["alpha"] is not None  # resolved
    meta = json.loads((run / "meta.json").read_text())
    assert meta["synthetic_features"] is True and meta["seed"] == 1
    assert any(p.endswith("animals.ttl") for p in meta["inputs_sha256"])
    assert (run / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "synthetic features" in result.table
    assert list(tmp_path.glob("small/.*")) == []  # no temporary folders left


def test_same_seed_same_numbers_and_no_silent_overwrite(tmp_path: Path):
    a = run_experiment(SMALL, stem="s", out=tmp_path / "a", seed=0, progress=False).metrics
    b = run_experiment(SMALL, stem="s", out=tmp_path / "b", seed=0, progress=False).metrics
    assert {k: v for k, v in a.items() if not k.startswith("time/")} == {
        k: v for k, v in b.items() if not k.startswith("time/")
    }
    with pytest.raises(KGZSLError, match="already exists"):
        run_experiment(SMALL, stem="s", out=tmp_path / "a", seed=0, progress=False)


def test_cvae_with_shared_classifier_runs(tmp_path: Path):
    cfg = {
        **SMALL,
        "method": {"name": "cvae", "epochs": 3, "n_synthetic": 20},
        "classifier": {"name": "softmax", "epochs": 3},
    }
    metrics = run_experiment(cfg, stem="c", out=tmp_path, progress=False).metrics
    assert 0.0 <= metrics["zsl/top1"] <= 1.0 and np.isfinite(metrics["gzsl/h"])


def test_failed_run_leaves_nothing(tmp_path: Path):
    cfg = {**SMALL, "dataset": {**SMALL["dataset"], "ontology": str(tmp_path / "missing.ttl")}}
    with pytest.raises(KGZSLError, match="missing.ttl: no such file"):
        run_experiment(cfg, stem="f", out=tmp_path / "runs", progress=False)
    assert not (tmp_path / "runs" / "f" / "seed-0").exists()


def test_holdout_is_per_class_and_disjoint():
    labels = np.repeat(np.arange(3), [10, 5, 1])
    idx = np.arange(16)
    fit, held = holdout_seen_images(labels, idx, 0.2, seed=0)
    assert np.intersect1d(fit, held).size == 0 and len(fit) + len(held) == 16
    assert np.bincount(labels[held], minlength=3).tolist() == [2, 1, 0]


def test_interrupted_run_leaves_nothing_half_written(tmp_path: Path, monkeypatch):
    import kgzsl.pipeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(kgzsl.pipeline, "plot_run", interrupted)  # the last file written
    with pytest.raises(KeyboardInterrupt):
        run_experiment(SMALL, stem="i", out=tmp_path, progress=False)
    assert list((tmp_path / "i").iterdir()) == []  # neither seed-0 nor a temporary folder


def test_second_run_loads_class_embeddings_from_the_cache(tmp_path: Path):
    cfg = {**SMALL, "train": {"device": "cpu", "cache_dir": str(tmp_path / "cache")}, "eval": {"calibrate": False}}
    run_experiment(cfg, stem="c1", out=tmp_path, progress=False)
    run_experiment(cfg, stem="c2", out=tmp_path, progress=False)
    metas = [json.loads((tmp_path / s / "seed-0" / "meta.json").read_text()) for s in ("c1", "c2")]
    assert [m["semantics_cache"] for m in metas] == ["miss", "hit"]


def test_encoders_fitted_to_images_are_refitted_for_validation(tmp_path: Path, monkeypatch):
    from kgzsl.semantics.gnn import GCNZ

    seen_sets = []
    original = GCNZ.encode

    def spy(self, kg, dataset, *args, **kwargs):
        seen_sets.append((len(dataset.seen), len(dataset.splits["trainval"])))
        return original(self, kg, dataset, *args, **kwargs)

    monkeypatch.setattr(GCNZ, "encode", spy)
    cfg = {
        **SMALL,
        "semantics": {"name": "gcnz", "epochs": 5, "hidden": [16], "target_epochs": 3},
        "method": {"name": "classifier_weights"},
        "train": {"device": "cpu", "cache": False},
    }
    run_experiment(cfg, stem="g", out=tmp_path, progress=False)
    (full_seen, full_n), (val_seen, val_n) = seen_sets
    assert full_seen == 36 and val_seen < full_seen and val_n < full_n  # val classes left out
