"""``kgzsl evaluate RUN_DIR``: a saved model rescored without retraining."""

import json
from pathlib import Path

import pytest

import kgzsl
from kgzsl.cli import main

CONFIG = """\
dataset: {name: synthetic_kg, n_features: 32, min_images: 15, max_images: 30}
knowledge: {name: files}
semantics: {name: kg_attributes}
method: {name: eszsl}
train: {device: cpu}
eval: {hit_k: [1, 5]}
select: {method.alpha: [-1, 1]}
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("evaluate")
    (root / "exp.yaml").write_text(CONFIG)
    assert main(["run", str(root / "exp.yaml"), "--out", str(root / "runs"), "--no-progress"]) == 0
    return root / "runs" / "exp" / "seed-0"


def _test_metrics(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k.startswith(("zsl/", "gzsl/", "gzsl_cs/"))}


def test_same_features_reproduce_the_run_exactly(run_dir: Path, capsys):
    assert main(["evaluate", str(run_dir), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "| eszsl | kg_attributes |" in out and f"evaluation folder: {run_dir / 'eval'}" in out
    run = json.loads((run_dir / "metrics.json").read_text())
    again = json.loads((run_dir / "eval" / "metrics.json").read_text())
    assert len(_test_metrics(run)) >= 12 and _test_metrics(again) == _test_metrics(run)
    assert (run_dir / "eval" / "per_class.csv").read_text() == (run_dir / "per_class.csv").read_text()
    # an existing evaluation folder is not replaced silently
    assert main(["evaluate", str(run_dir), "--no-progress"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_other_features_of_the_same_classes_go_to_their_own_folder(run_dir: Path, tmp_path: Path):
    assert main(["evaluate", str(run_dir), "--set", "dataset.seed=5", "--no-progress"]) == 0
    folder = run_dir / "eval-dataset.seed=5"
    other = json.loads((folder / "metrics.json").read_text())
    run = json.loads((run_dir / "metrics.json").read_text())
    assert other["zsl/top1"] != run["zsl/top1"] and 0 <= other["zsl/top1"] <= 1
    assert other["gzsl_cs/gamma"] == run["gzsl_cs/gamma"]  # the run's γ, chosen on its validation split
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["overrides"] == ["dataset.seed=5"] and meta["model"].endswith("method.pt")
    out = tmp_path / "elsewhere"
    assert main(["evaluate", str(run_dir), "--set", "dataset.seed=5", "--out", str(out), "--no-progress"]) == 0
    assert json.loads((out / "metrics.json").read_text()) == other


def test_evaluate_from_python(run_dir: Path, tmp_path: Path):
    result = kgzsl.evaluate_run(run_dir, out=tmp_path / "py", progress=False)
    run = json.loads((run_dir / "metrics.json").read_text())
    assert _test_metrics(result.metrics) == _test_metrics(run) and result.run_dir == tmp_path / "py"


def test_mistakes_are_one_line(run_dir: Path, tmp_path: Path, capsys):
    split = json.loads((Path(kgzsl.__file__).parents[1] / "ontologies" / "animals-split.json").read_text())
    split["unseen"] = split["unseen"][:-1]
    (tmp_path / "split.json").write_text(json.dumps(split))
    cases = [
        (["--set", f"dataset.split={tmp_path / 'split.json'}"], "trained on 48 classes but the dataset has 47"),
        (["--set", "dataset.n_features=16"], "the model takes 32-d features but the dataset's are 16-d"),
        (["--set", "method.alpha=3"], "evaluate only takes dataset.*, eval.hit_k and train.device overrides"),
        (["--set", "dataset.n_features=-1"], "dataset.n_features: expected a value > 0"),
    ]
    for args, message in cases:
        assert main(["evaluate", str(run_dir), "--out", str(tmp_path / "x"), "--no-progress", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("kgzsl: error: ") and message in err and err.count("\n") == 1
        assert not (tmp_path / "x").exists()
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "not a run folder (no config.yaml)" in capsys.readouterr().err
    (tmp_path / "config.yaml").write_text((run_dir / "config.yaml").read_text())
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "no saved model in this run folder" in capsys.readouterr().err
