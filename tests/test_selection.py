import json
from pathlib import Path

import numpy as np
import pytest

from kgzsl.config import resolve
from kgzsl.errors import ConfigError
from kgzsl.selection import (
    PointScore,
    apply_point,
    expand_values,
    grid_points,
    point_label,
    select_best,
)

MINIMAL = {"dataset": {"name": "synthetic_kg"}, "semantics": {"name": "dataset"}, "method": {"name": "eszsl"}}

SMALL = {
    "dataset": {"name": "synthetic_kg", "n_features": 64, "min_images": 20, "max_images": 40},
    "knowledge": {"name": "files"},
    "semantics": {"name": "kg_attributes"},
    "method": {"name": "eszsl"},
    "train": {"device": "cpu"},
    "eval": {"select_by": "zsl_top1"},
    "select": {"method.alpha": [-2, 0, 2], "method.beta": [-1, 1]},
}


@pytest.mark.parametrize(
    "value, expected",
    [
        ([0.1, 1, 10], [0.1, 1, 10]),
        ({"grid": "log", "from": 1e-4, "to": 1e-1, "num": 4}, [1e-4, 1e-3, 1e-2, 1e-1]),
        ({"grid": "linear", "from": 0, "to": 1, "num": 3}, [0.0, 0.5, 1.0]),
        ({"grid": "range", "from": -3, "to": 3}, [-3, -2, -1, 0, 1, 2, 3]),
        ({"grid": "range", "from": 1, "to": 6, "step": 2}, [1, 3, 5]),
        ({"grid": "log", "from": 0.01, "to": 0.01, "num": 1}, [0.01]),
    ],
)
def test_expand_values(value, expected):
    assert expand_values("method.x", value) == pytest.approx(expected)


@pytest.mark.parametrize(
    "select, message",
    [
        (
            {"method.alpah": [1, 2]},
            r"^select\.method\.alpah: unknown parameter for methods 'eszsl' \(did you mean 'alpha'\?\)",
        ),
        ({"method.alpha": 3}, r"^select\.method\.alpha: expected a list of values or a grid"),
        ({"method.alpha": []}, r"^select\.method\.alpha: expected a non-empty list"),
        ({"method.alpha": ["big"]}, r"^select\.method\.alpha: expected int values, got str 'big'"),
        ({"method.alpha": [1, 1]}, r"^select\.method\.alpha: a value is listed twice"),
        ({"alpha": [1, 2]}, r"^select\.alpha: expected SECTION\.PARAMETER"),
        ({"method.name": ["eszsl", "cvae"]}, r"^select\.method\.name: unknown parameter"),
        ({"semantics.dim": [1, 2]}, r"^select\.semantics\.dim: only method\.\* and classifier\.\* keys"),
        (
            {"method.alpha": {"grid": "cubic", "from": 1, "to": 2}},
            r"^select\.method\.alpha\.grid: expected log, linear",
        ),
        ({"method.alpha": {"grid": "log", "from": 0, "to": 1, "num": 3}}, r"a log grid needs from > 0"),
        ({"method.alpha": {"grid": "range", "from": 1, "to": 3, "num": 3}}, r"\.num: unknown key of a range grid"),
        ([1, 2], r"^select: expected a mapping"),
    ],
)
def test_bad_select_sections_are_one_config_error(select, message):
    with pytest.raises(ConfigError, match=message):
        resolve({**MINIMAL, "select": select})


def test_select_values_are_range_checked():
    with pytest.raises(ConfigError, match=r"^select\.method\.epochs: expected a value > 0, got -1"):
        resolve({**MINIMAL, "method": {"name": "cvae"}, "select": {"method.epochs": [5, -1]}})
    with pytest.raises(ConfigError, match=r"^select\.classifier\.lr: expected a value > 0"):
        resolve(
            {**MINIMAL, "method": "cvae", "select": {"classifier.lr": {"grid": "linear", "from": 0, "to": 1, "num": 2}}}
        )


def test_method_default_grids_and_turning_selection_off():
    assert resolve(MINIMAL)["select"] == {"method.alpha": list(range(-3, 4)), "method.beta": list(range(-3, 4))}
    assert resolve({**MINIMAL, "select": {}})["select"] == {}
    # a config key for the method replaces its default grid entirely
    assert resolve({**MINIMAL, "select": {"method.beta": [0, 1]}})["select"] == {"method.beta": [0, 1]}
    assert resolve({**MINIMAL, "method": "cvae"})["select"] == {}  # cvae declares no grid
    # resolving a resolved config changes nothing
    cfg = resolve({**MINIMAL, "method": "cvae", "select": {"classifier.lr": [1e-3, 1e-2]}})
    assert cfg["classifier"]["name"] == "softmax"  # a classifier key fills in the default classifier
    assert resolve(cfg) == cfg


def test_classifier_keys_for_a_method_without_one_are_ignored_with_a_warning():
    warnings: list[str] = []
    cfg = resolve({**MINIMAL, "select": {"classifier.lr": [1e-3, 1e-2]}}, warnings)
    assert "classifier.lr" not in cfg["select"] and cfg["classifier"] is None
    assert warnings == ["select.classifier.lr: method 'eszsl' uses no classifier; ignored"]


def test_grid_points_and_apply_point():
    points = grid_points({"method.alpha": [1, 2], "method.beta": [0, 5, 6]})
    assert len(points) == 6 and points[0] == {"method.alpha": 1, "method.beta": 0}
    assert points[-1] == {"method.alpha": 2, "method.beta": 6}
    assert grid_points({}) == [{}]
    cfg = resolve(MINIMAL)
    changed = apply_point(cfg, points[-1])
    assert changed["method"]["alpha"] == 2 and changed["method"]["beta"] == 6 and cfg["method"]["alpha"] == 0
    assert point_label(points[0]) == "method.alpha=1,method.beta=0" and point_label({}) == "default"


def test_select_best_maximises_the_chosen_figure_and_ties_go_first():
    scores = {1: (0.5, 0.2), 2: (0.7, 0.1), 3: (0.7, 0.3)}

    def evaluate(point):
        zsl, h = scores[point["method.alpha"]]
        return PointScore(point, {"zsl/top1": zsl, "gzsl/h": h, "gzsl_cs/h": h}, gamma=0.0)

    points = grid_points({"method.alpha": [1, 2, 3]})
    chosen = select_best(points, evaluate, by="zsl_top1")
    assert chosen.chosen.point == {"method.alpha": 2}  # tie between 2 and 3: the earlier
    assert select_best(points, evaluate, by="gzsl_h").chosen.point == {"method.alpha": 3}
    flat = chosen.metrics()
    assert flat["select/method.alpha"] == 2.0 and flat["select/score"] == 0.7
    assert flat["select/grid/method.alpha=1/val/zsl/top1"] == 0.5 and len(flat) == 2 + 3 * 3
    table = chosen.table()
    assert (
        "| method.alpha | ZSL T1 | H | H (CS) | choice |" in table and "| 2 | 70.00 | 10.00 | 10.00 | chosen |" in table
    )


def test_run_selects_on_validation_and_records_the_grid(tmp_path: Path):
    import yaml

    from kgzsl.pipeline import run_experiment

    result = run_experiment(SMALL, stem="sel", out=tmp_path, progress=False)
    m = result.metrics
    grid = {
        (a, b): m[f"select/grid/method.alpha={a},method.beta={b}/val/zsl/top1"] for a in (-2, 0, 2) for b in (-1, 1)
    }
    best = max(grid, key=lambda k: grid[k])  # (the first maximum in grid order)
    assert (m["select/method.alpha"], m["select/method.beta"]) == best
    assert m["val/zsl/top1"] == grid[best] == m["select/score"]
    config = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert (config["method"]["alpha"], config["method"]["beta"]) == best  # the refitted model's values
    md = (result.run_dir / "results.md").read_text()
    assert (
        "Selection on the validation split (by zsl_top1; 6 points; val classes as unseen)" in md
        and md.count("chosen |") == 1
    )
    meta = json.loads((result.run_dir / "meta.json").read_text())
    assert meta["selected"] == {"method.alpha": best[0], "method.beta": best[1]} and meta["select_by"] == "zsl_top1"


def test_selection_never_reads_test_images(tmp_path: Path, monkeypatch):
    """Test features replaced by noise (and their labels shuffled) leave every validation figure unchanged."""
    import kgzsl.pipeline
    from kgzsl.pipeline import run_experiment
    from kgzsl.registry import DATASETS

    clean = run_experiment(SMALL, stem="clean", out=tmp_path, progress=False).metrics

    class Poisoned:
        def __init__(self, inner):
            self.inner = inner

        def load(self):
            ds = self.inner.load()
            test = np.concatenate([ds.splits["test_seen"], ds.splits["test_unseen"]])
            features = np.array(ds.features, copy=True)
            features[test] = np.random.default_rng(0).normal(0, 100, size=(len(test), features.shape[1]))
            ds.features = features
            labels = np.array(ds.labels, copy=True)
            for split in ("test_seen", "test_unseen"):  # shuffled within the split: still valid labels
                idx = ds.splits[split]
                labels[idx] = np.random.default_rng(1).permutation(labels[idx])
            ds.labels = labels
            return ds

    class PoisonedDatasets:
        def build(self, name, where=None, **params):
            return Poisoned(DATASETS.build(name, where=where, **params))

    monkeypatch.setattr(kgzsl.pipeline, "DATASETS", PoisonedDatasets())
    poisoned = run_experiment(SMALL, stem="poisoned", out=tmp_path, progress=False).metrics
    chosen = {k: v for k, v in clean.items() if k.startswith(("select/", "val/"))}
    assert len(chosen) > 10
    assert chosen == {k: v for k, v in poisoned.items() if k.startswith(("select/", "val/"))}
    assert clean["zsl/top1"] != poisoned["zsl/top1"]  # the poison did reach the test stage
