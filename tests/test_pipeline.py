import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from kgzsl.context import RunContext, current_context, progress_bar
from kgzsl.errors import ConfigError, KGZSLError
from kgzsl.pipeline import holdout_seen_images, run_experiment, run_name

SMALL = {
    "dataset": {"name": "synthetic_kg", "n_features": 64, "min_images": 20, "max_images": 40},
    "knowledge": {"name": "files"},
    "semantics": {"name": "kg_attributes"},
    "method": {"name": "eszsl"},
    "train": {"device": "cpu"},
    "eval": {"hit_k": [1, 5]},
    "select": {},  # ESZSL's default grid is tested in test_selection.py
}


def test_run_writes_a_complete_run_folder(tmp_path: Path):
    result = run_experiment(SMALL, stem="small", out=tmp_path, seed=1, progress=False)
    run = tmp_path / "small" / "seed-1"
    assert result.run_dir == run
    assert sorted(p.name for p in run.iterdir()) == [
        "config.yaml",
        "meta.json",
        "metrics.json",
        "models",
        "per_class.csv",
        "plot.png",
        "results.md",
    ]
    assert sorted(p.name for p in (run / "models").iterdir()) == ["method.pt", "semantics.npz"]
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
    assert not any(k.startswith("select/") for k in metrics)  # select: {} is off
    assert metrics["zsl/hit@1"] <= metrics["zsl/hit@5"]
    assert metrics["zsl/top1"] > 3 * (1 / 12)  # knowledge transfers: far above chance
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["train"]["seed"] == 1 and config["method"]["alpha"] is not None  # resolved
    meta = json.loads((run / "meta.json").read_text())
    assert meta["synthetic_features"] is True and meta["seed"] == 1 and meta["warnings"] == []
    assert any(p.endswith("animals.ttl") for p in meta["inputs_sha256"])
    assert (run / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "synthetic features" in result.table
    assert list(tmp_path.glob("small/.*")) == []  # no temporary folders left


def test_saved_model_carries_its_config_and_scores_like_the_run(tmp_path: Path):
    import torch

    from kgzsl.checkpoint import load_component
    from kgzsl.registry import DATASETS

    result = run_experiment(SMALL, stem="m", out=tmp_path, progress=False)
    method, extra = load_component(result.run_dir / "models" / "method.pt")
    assert extra["config"] == yaml.safe_load((result.run_dir / "config.yaml").read_text())
    d = dict(extra["config"]["dataset"])
    dataset = DATASETS.build(d.pop("name"), **d).load()
    assert extra["class_ids"] == list(dataset.class_ids)
    assert extra["gamma"] == result.metrics["gzsl_cs/gamma"] and extra["n_features"] == 64
    with np.load(result.run_dir / "models" / "semantics.npz") as sem:
        assert list(sem["ids"]) == list(dataset.class_ids) and sem["matrix"].shape[0] == len(dataset.class_ids)
    # the reloaded model reproduces the run's ZSL figure
    from kgzsl.evaluation import zsl_accuracy

    tu = dataset.splits["test_unseen"]
    scores = method.decision_function(torch.as_tensor(dataset.features[tu]))
    assert zsl_accuracy(scores, dataset.labels[tu], dataset.unseen) == result.metrics["zsl/top1"]


def test_run_context_reaches_the_encoder_and_the_method(tmp_path: Path, monkeypatch):
    from kgzsl.methods.eszsl import ESZSL
    from kgzsl.semantics.attributes import KGAttributes

    seen: dict[str, list] = {"fit": [], "encode": [], "active": [], "bar_disabled": []}
    fit, encode = ESZSL.fit, KGAttributes.encode

    def spy_fit(self, task, classifier=None, context=None):
        seen["fit"].append(context)
        seen["active"].append(current_context())
        seen["bar_disabled"].append(progress_bar(range(3)).disable)  # an inner bar, handed no context
        return fit(self, task, classifier=classifier)

    def spy_encode(self, kg, dataset, context=None):
        seen["encode"].append(context)
        return encode(self, kg, dataset)

    monkeypatch.setattr(ESZSL, "fit", spy_fit)
    monkeypatch.setattr(KGAttributes, "encode", spy_encode)
    cfg = {**SMALL, "train": {"device": "cpu", "seed": 7, "cache": False}}
    run_experiment(cfg, stem="ctx", out=tmp_path, progress=False)
    assert len(seen["fit"]) == 2 and len(seen["encode"]) == 1  # validation fit + final fit
    for ctx in seen["fit"] + seen["encode"]:
        assert isinstance(ctx, RunContext)
        assert ctx.device == "cpu" and ctx.seed == 7 and ctx.progress is False
        assert ctx.workdir is not None and ctx.workdir.name.startswith(".seed-7.tmp-")
    assert seen["active"] == seen["fit"]  # the run's context is active inside components
    assert seen["bar_disabled"] == [True, True]  # --no-progress silences inner bars too


def test_progress_on_reaches_components(tmp_path: Path, monkeypatch):
    from kgzsl.methods.eszsl import ESZSL

    contexts = []
    fit = ESZSL.fit

    def spy_fit(self, task, classifier=None, context=None):
        contexts.append(context)
        return fit(self, task, classifier=classifier)

    monkeypatch.setattr(ESZSL, "fit", spy_fit)
    run_experiment({**SMALL, "eval": {"calibrate": False}}, stem="p", out=tmp_path, progress=True)
    assert [c.progress for c in contexts] == [True]


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
    result = run_experiment(cfg, stem="c", out=tmp_path, progress=False)
    assert 0.0 <= result.metrics["zsl/top1"] <= 1.0 and np.isfinite(result.metrics["gzsl/h"])
    from kgzsl.checkpoint import load_component

    method, extra = load_component(result.run_dir / "models" / "method.pt")
    assert type(method.classifier_).__name__ == "SoftmaxClassifier"  # the fitted classifier is inside
    # the classifier's epochs (at most the configured 3) are chosen on validation and saved as chosen
    assert extra["config"]["classifier"]["epochs"] == result.metrics["select/classifier.epochs"] <= 3


def test_classifier_for_a_method_without_one_is_reported_and_dropped(tmp_path: Path, capsys):
    cfg = {**SMALL, "classifier": {"name": "softmax", "lr": 0.5}, "eval": {"calibrate": False}}
    result = run_experiment(cfg, stem="w", out=tmp_path, progress=False)
    err = capsys.readouterr().err
    assert err.count("kgzsl: warning: classifier: method 'eszsl' uses no classifier") == 1
    meta = json.loads((result.run_dir / "meta.json").read_text())
    assert len(meta["warnings"]) == 1 and "uses no classifier" in meta["warnings"][0]
    assert yaml.safe_load((result.run_dir / "config.yaml").read_text())["classifier"] is None


def test_bad_values_fail_before_any_data_loads(tmp_path: Path, monkeypatch):
    from kgzsl.data.synthetic import SyntheticKG

    def never(self):
        raise AssertionError("data loaded before the config was checked")

    monkeypatch.setattr(SyntheticKG, "load", never)
    for override, message in [
        ({"method": {"name": "cvae", "epochs": -1}}, r"^method\.epochs: expected a value > 0"),
        ({"train": {"device": "tpu9"}}, r"^train\.device: expected auto, cpu"),
        ({"select": {"method.alpah": [1, 2]}}, r"^select\.method\.alpah: unknown parameter"),
    ]:
        with pytest.raises(ConfigError, match=message):
            run_experiment({**SMALL, **override}, stem="b", out=tmp_path, progress=False)
    assert not (tmp_path / "b").exists()


def test_failed_run_leaves_nothing(tmp_path: Path):
    cfg = {**SMALL, "dataset": {**SMALL["dataset"], "ontology": str(tmp_path / "missing.ttl")}}
    with pytest.raises(KGZSLError, match="missing.ttl: no such file"):
        run_experiment(cfg, stem="f", out=tmp_path / "runs", progress=False)
    assert not (tmp_path / "runs").exists()  # no staging folder, no empty experiment folder


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
    assert not (tmp_path / "i").exists()  # neither seed-0 nor a staging folder


def test_second_run_loads_class_embeddings_from_the_cache(tmp_path: Path):
    cfg = {**SMALL, "train": {"device": "cpu", "cache_dir": str(tmp_path / "cache")}, "eval": {"calibrate": False}}
    run_experiment(cfg, stem="c1", out=tmp_path, progress=False)
    run_experiment(cfg, stem="c2", out=tmp_path, progress=False)
    metas = [json.loads((tmp_path / s / "seed-0" / "meta.json").read_text()) for s in ("c1", "c2")]
    assert [m["semantics_cache"] for m in metas] == ["miss", "hit"]


def test_methods_fitted_to_images_see_only_the_validation_stage_classes(tmp_path: Path, monkeypatch):
    # GCNZ's target weights come from the task's images: in validation the val classes are unseen
    from kgzsl.methods.gcnz import GCNZ

    seen_sets = []
    original = GCNZ.fit

    def spy(self, task, *args, **kwargs):
        seen_sets.append((len(task.seen), len(task.labels)))
        return original(self, task, *args, **kwargs)

    monkeypatch.setattr(GCNZ, "fit", spy)
    cfg = {
        **SMALL,
        "semantics": {"name": "kg_attributes"},
        "method": {"name": "gcnz", "epochs": 5, "hidden": [16], "target_epochs": 3},
        "select": {"method.epochs": [5]},
        "train": {"device": "cpu", "cache": False},
    }
    run_experiment(cfg, stem="g", out=tmp_path, progress=False)
    (val_seen, val_n), (full_seen, full_n) = seen_sets
    assert full_seen == 36 and val_seen < full_seen and val_n < full_n  # val classes left out


@pytest.mark.parametrize(
    "stem, overrides, name, expected",
    [
        ("demo", [], None, "demo"),
        ("demo", ["semantics.name=kge"], None, "demo+semantics.name=kge"),
        ("demo", ["train.seed=3", "method.alpha=2"], None, "demo+method.alpha=2"),
        ("demo", ["eval.hit_k=[1, 5]"], None, "demo+eval.hit_k=_1,_5_"),
        ("demo", ["knowledge.paths=/a/b.ttl"], None, "demo+knowledge.paths=_a_b.ttl"),
        ("demo", ["semantics.name=kge"], "mine", "mine"),
    ],
)
def test_run_name_reflects_overrides(stem, overrides, name, expected):
    assert run_name(stem, overrides, name) == expected


def test_long_run_names_are_hashed_and_bad_names_refused():
    long = run_name("demo", [f"method.alpha={'9' * 100}"])
    assert long.startswith("demo+") and len(long) < 30
    assert long != run_name("demo", [f"method.alpha={'8' * 100}"])
    for bad in ["", "a/b", ".hidden", ".."]:
        with pytest.raises(ConfigError, match="--name"):
            run_name("demo", [], bad)


def test_a_generative_run_without_a_classifier_section_selects_its_epochs_on_validation(tmp_path: Path):
    """No ``classifier:`` in the config: the default softmax is resolved, its epochs chosen and saved."""
    cfg = {**SMALL, "method": {"name": "cvae", "epochs": 2, "n_synthetic": 20, "hidden": 32, "fidelity": False}}
    result = run_experiment(cfg, stem="noclf", out=tmp_path, progress=False)
    assert result.config["classifier"]["name"] == "softmax"
    assert result.config["classifier"]["epochs"] == result.metrics["select/classifier.epochs"]


def test_test_selected_figures_are_recorded_apart_from_the_headline(tmp_path: Path):
    cfg = {
        **SMALL,
        "method": {"name": "cvae", "epochs": 3, "n_synthetic": 20, "hidden": 32, "fidelity": False},
        "classifier": {"name": "softmax", "epochs": 6},
        "eval": {"test_selected": True},
    }
    result = run_experiment(cfg, stem="ts", out=tmp_path, progress=False)
    m = result.metrics
    chosen = result.config["classifier"]["epochs"]  # chosen on validation, applied to the headline
    assert 1 <= m["test_selected/classifier.epochs"] <= 6 and 1 <= chosen <= 6
    # the best test epoch is at least as good on test as the validation-chosen one
    assert m["test_selected/gzsl_h"] >= m["gzsl/h"] - 1e-9
    assert m["test_selected/zsl_top1"] >= m["zsl/top1"] - 1e-9
    text = (result.run_dir / "results.md").read_text()
    assert "test_selected: the classifier epoch chosen on the TEST images — not a result" in text
    headline = text.split("\n\n")[0]
    assert "test_selected" not in headline
    plain = run_experiment({**cfg, "eval": {}}, stem="plain", out=tmp_path, progress=False)
    assert not any(k.startswith("test_selected") for k in plain.metrics)
    assert {k: v for k, v in plain.metrics.items() if not k.startswith("time/")} == {
        k: v for k, v in m.items() if not k.startswith(("time/", "test_selected"))
    }
