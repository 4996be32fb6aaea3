import argparse
import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from kgzsl import tables
from kgzsl.config import SECTIONS
from kgzsl.errors import ConfigError, DataError
from kgzsl.tables import describe_method, describe_semantics, format_runs_table, gather_runs

SMALL = {
    "dataset": {"name": "synthetic_kg", "n_features": 64, "min_images": 20, "max_images": 40},
    "knowledge": {"name": "files"},
    "semantics": {"name": "kg_attributes"},
    "method": {"name": "eszsl"},
    "train": {"device": "cpu"},
}
if "select" in SECTIONS:
    SMALL["select"] = {}  # no hyper-parameter search: a quick run


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory) -> Path:
    """Run folders written by real runs: one experiment with 2 seeds, another with 1."""
    from kgzsl.pipeline import run_experiment

    out = tmp_path_factory.mktemp("runs")
    for seed in (0, 1):
        run_experiment(SMALL, stem="attr", out=out, seed=seed, progress=False)
    no_hierarchy = {**SMALL, "semantics": {"name": "kg_attributes", "hierarchy": False}}
    run_experiment(no_hierarchy, stem="nohier", out=out, seed=0, progress=False)
    return out


def _metrics(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def test_real_runs_make_one_row_per_experiment_with_mean_and_std(real_runs: Path):
    rows = gather_runs([real_runs])
    assert [r["experiment"] for r in rows] == ["attr", "nohier"]
    attr, nohier = rows
    assert attr["n_seeds"] == 2 and attr["seeds"] == [0, 1] and nohier["n_seeds"] == 1
    # γ is chosen on a validation split drawn with the run's seed: the seeds differ there
    values = [_metrics(real_runs / "attr" / f"seed-{s}")["gzsl_cs/h"] for s in (0, 1)]
    assert values[0] != values[1]
    assert attr["mean"]["gzsl_cs/h"] == pytest.approx(np.mean(values))
    assert attr["std"]["gzsl_cs/h"] == pytest.approx(np.std(values, ddof=1))
    assert nohier["std"]["gzsl_cs/h"] is None
    assert nohier["mean"]["gzsl/h"] == _metrics(real_runs / "nohier" / "seed-0")["gzsl/h"]
    assert attr["method"] == nohier["method"] == "eszsl"
    # same encoder, different settings: the column says what differs
    assert attr["semantics"] == "kg_attributes (hierarchy=True)"
    assert nohier["semantics"] == "kg_attributes (hierarchy=False)"
    assert attr["dataset"] == "synthetic_kg:animals" and attr["synthetic_features"] is True


def test_real_runs_markdown_table(real_runs: Path):
    rows = gather_runs([real_runs / "attr", real_runs / "nohier" / "seed-0"])
    text = format_runs_table(rows)
    title, _, header, rule, line_attr, line_nohier = text.splitlines()[:6]
    assert title == "**Results on synthetic_kg:animals — synthetic features**"
    columns = "| experiment | dataset | method | semantics | seeds | ZSL T1 | S | U | H | S (CS) | U (CS) | H (CS) |"
    assert header == columns + " AUSUC |"
    mean, std = rows[0]["mean"]["gzsl_cs/h"], rows[0]["std"]["gzsl_cs/h"]
    assert line_attr.startswith("| attr | synthetic_kg:animals | eszsl | kg_attributes (hierarchy=True) | 2 | ")
    assert f"| {100 * mean:.2f} ± {100 * std:.2f} |" in line_attr
    assert "±" not in line_nohier and line_nohier.startswith("| nohier | synthetic_kg:animals | eszsl |")
    assert "not benchmark results" in text


def test_real_runs_csv_and_chosen_metrics(real_runs: Path):
    rows = gather_runs([real_runs])
    text = format_runs_table(rows, metrics=["gzsl/h", "time/train_s"], format="csv")
    read = list(csv.DictReader(io.StringIO(text)))
    assert list(read[0]) == [
        "experiment",
        "dataset",
        "method",
        "semantics",
        "features",
        "n_seeds",
        "seeds",
        "gzsl/h",
        "gzsl/h std",
        "time/train_s",
        "time/train_s std",
    ]
    assert read[0]["features"] == "synthetic" and read[0]["seeds"] == "0 1"
    assert float(read[0]["gzsl/h"]) == rows[0]["mean"]["gzsl/h"]  # unrounded fractions
    assert float(read[0]["gzsl/h std"]) == rows[0]["std"]["gzsl/h"] and read[1]["gzsl/h std"] == ""


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    tables.add_parser(sub, argparse.ArgumentParser)
    return tables.run(parser.parse_args(argv))


def test_table_command(real_runs: Path, tmp_path: Path, capsys):
    assert _cli(["table", str(real_runs), "--metrics", "zsl/top1,gzsl/h", "--metrics", "gzsl/ausuc"]) == 0
    out = capsys.readouterr().out
    assert "| experiment | dataset | method | semantics | seeds | ZSL T1 | H | AUSUC |" in out
    assert _cli(["table", str(real_runs), "--format", "csv", "-o", str(tmp_path / "t.csv")]) == 0
    assert (tmp_path / "t.csv").read_text().startswith("experiment,dataset,method,semantics,features,n_seeds")
    with pytest.raises(ConfigError, match=r"--metrics: no run has 'zsl/top2' \(did you mean 'zsl/top1'\?\)"):
        _cli(["table", str(real_runs), "--metrics", "zsl/top2"])


def test_staging_folders_are_not_runs(real_runs: Path, tmp_path: Path):
    exp = tmp_path / "attr"
    shutil.copytree(real_runs / "attr", exp)
    shutil.copytree(exp / "seed-0", exp / ".seed-7.tmp-abcd1234")  # a run being written (or killed)
    (exp / ".seed-7.tmp-abcd1234" / "meta.json").unlink()
    (row,) = gather_runs([exp])
    assert row["n_seeds"] == 2


# --------------------------------------------------------------------------- hand-written run folders


def _write_run(folder: Path, config: dict, metrics: dict, meta: dict | None = None) -> Path:
    folder.mkdir(parents=True)
    full = {"dataset": {"name": "xlsa17", "benchmark": "AWA2"}, "classifier": None, "train": {"seed": 0}, **config}
    (folder / "config.yaml").write_text(yaml.safe_dump(full))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "meta.json").write_text(
        json.dumps({"synthetic_features": False, "dataset": "ZSLDataset 'AWA2': ..."} | (meta or {}))
    )
    return folder


def test_semantics_and_method_columns():
    assert describe_semantics({"name": "kge", "model": "rotate", "dim": 100}) == "kge:rotate"
    assert (
        describe_semantics({"name": "sentence", "model": None, "texts": "label"}) == "sentence:all-MiniLM-L6-v2 (label)"
    )
    assert (
        describe_semantics({"name": "sentence", "model": "/models/mpnet-base/", "texts": "name"})
        == "sentence:mpnet-base (name)"
    )
    assert describe_semantics({"name": "clip_text", "arch": "ViT-B-32", "weights": "openai", "texts": "name"}) == (
        "clip_text:ViT-B-32/openai (name)"
    )
    assert describe_semantics({"name": "precomputed", "path": "data/o2v-awa.mat"}) == "precomputed:o2v-awa.mat"
    assert describe_semantics({"name": "kge", "model": "rotate"}) == "kge:rotate"
    assert describe_semantics({"name": "my_encoder", "x": 1}) == "my_encoder"
    assert describe_method({"name": "cvae"}, {"name": "softmax"}) == "cvae + softmax"
    assert describe_method({"name": "eszsl"}, None) == "eszsl"  # saved configs drop an unused classifier
    assert describe_method({"name": "sae", "direction": "s2f"}, None) == "sae:s2f"


def test_hand_written_runs_of_several_encoders(tmp_path: Path):
    for seed, top1 in ((0, 0.5), (1, 0.7)):
        _write_run(
            tmp_path / "kge" / f"seed-{seed}",
            {"semantics": {"name": "kge", "model": "transe"}, "method": {"name": "eszsl"}, "train": {"seed": seed}},
            {"zsl/top1": top1, "gzsl/h": 0.25},
            {"seed": seed},
        )
    _write_run(
        tmp_path / "sentence" / "seed-0",
        {"semantics": {"name": "sentence", "texts": "label"}, "method": {"name": "eszsl"}},
        {"zsl/top1": 0.4},
    )
    rows = gather_runs([tmp_path])
    assert [(r["experiment"], r["semantics"], r["n_seeds"]) for r in rows] == [
        ("kge", "kge:transe", 2),
        ("sentence", "sentence:all-MiniLM-L6-v2 (label)", 1),
    ]
    text = format_runs_table(rows, metrics=["zsl/top1", "gzsl/h"])
    assert text.splitlines()[0] == "**Results on AWA2**"  # real features: no synthetic in the title
    assert "| kge | AWA2 | eszsl | kge:transe | 2 | 60.00 ± 14.14 | 25.00 ± 0.00 |" in text
    assert "| sentence | AWA2 | eszsl | sentence:all-MiniLM-L6-v2 (label) | 1 | 40.00 | – |" in text


def test_synthetic_features_are_named_in_the_title(tmp_path: Path):
    sem, method = {"name": "kg_attributes"}, {"name": "eszsl"}
    _write_run(tmp_path / "real" / "seed-0", {"semantics": sem, "method": method}, {"zsl/top1": 0.5})
    _write_run(
        tmp_path / "synth" / "seed-0",
        {"semantics": sem, "method": method},
        {"zsl/top1": 0.6},
        {"synthetic_features": True},
    )
    text = format_runs_table(gather_runs([tmp_path]))
    assert text.splitlines()[0] == "**Results on AWA2 — synthetic features (some runs)**"
    assert "| features |" in text and "| synth | AWA2 | eszsl | kg_attributes | synthetic | 1 |" in text
    assert "| real | AWA2 | eszsl | kg_attributes | real | 1 |" in text
    assert "synthetic" in format_runs_table(gather_runs([tmp_path / "synth"]), title="Mine").splitlines()[0]


def test_runs_that_do_not_say_which_features(tmp_path: Path):
    sem, method = {"name": "kg_attributes"}, {"name": "eszsl"}
    _write_run(tmp_path / "old" / "seed-0", {"semantics": sem, "method": method}, {"zsl/top1": 0.5})
    meta = json.loads((tmp_path / "old" / "seed-0" / "meta.json").read_text())
    del meta["synthetic_features"]
    (tmp_path / "old" / "seed-0" / "meta.json").write_text(json.dumps(meta))
    _write_run(tmp_path / "new" / "seed-0", {"semantics": sem, "method": method}, {"zsl/top1": 0.6})
    text = format_runs_table(gather_runs([tmp_path]))
    assert "| old | AWA2 | eszsl | kg_attributes | unknown | 1 |" in text
    assert "1 row(s) with features 'unknown'" in text


def test_variants_in_one_folder_and_searched_parameters(tmp_path: Path):
    grid = {"method.alpha": [0, 1]}
    for seed, alpha in ((0, 0), (1, 1)):  # chosen per seed on validation: one variant
        _write_run(
            tmp_path / "exp" / f"seed-{seed}",
            {
                "semantics": {"name": "kge", "model": "transe"},
                "method": {"name": "eszsl", "alpha": alpha},
                "select": grid,
            },
            {"zsl/top1": 0.5},
            {"seed": seed},
        )
    _write_run(  # the same folder, another encoder (a run that reused the folder)
        tmp_path / "exp" / "seed-2",
        {"semantics": {"name": "kge", "model": "rotate"}, "method": {"name": "eszsl", "alpha": 0}, "select": grid},
        {"zsl/top1": 0.6},
        {"seed": 2},
    )
    rows = gather_runs([tmp_path / "exp"])
    assert [(r["experiment"], r["seeds"]) for r in rows] == [
        ("exp [semantics.model=rotate]", [2]),
        ("exp [semantics.model=transe]", [0, 1]),
    ]


def test_a_metric_missing_in_some_seeds_is_marked(tmp_path: Path):
    sem, method = {"name": "kg_attributes"}, {"name": "eszsl"}
    _write_run(tmp_path / "e" / "seed-0", {"semantics": sem, "method": method}, {"zsl/top1": 0.5, "zsl/hit@5": 0.9})
    _write_run(tmp_path / "e" / "seed-1", {"semantics": sem, "method": method}, {"zsl/top1": 0.5})
    text = format_runs_table(gather_runs([tmp_path]), metrics=["zsl/hit@5"])
    assert "| 90.00 † |" in text and "†: not every seed" in text


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "metrics.json").unlink(), r"seed-0: not a complete run folder: metrics\.json missing"),
        (lambda d: (d / "config.yaml").unlink(), r"seed-0: not a complete run folder: config\.yaml missing"),
        (
            lambda d: (d / "metrics.json").write_text('{\n "zsl/top1": 0.5,\n oops\n}'),
            r"metrics\.json:3: not valid JSON",
        ),
        (
            lambda d: (d / "metrics.json").write_text('{"zsl/top1": "high"}'),
            r"metrics\.json: zsl/top1: expected a number",
        ),
        (lambda d: (d / "metrics.json").write_text("[1, 2]"), r"metrics\.json: expected a JSON object"),
        (
            lambda d: (d / "config.yaml").write_text("method: {name: eszsl\nsemantics: [\n"),
            r"config\.yaml:\d+: not valid YAML",
        ),
        (
            lambda d: (d / "config.yaml").write_text("method: {name: eszsl}\n"),
            r"config\.yaml: semantics: expected a mapping",
        ),
        (lambda d: (d / "meta.json").write_bytes(b"\xff\xfe{}"), r"meta\.json: not UTF-8 text"),
    ],
)
def test_broken_run_folders_give_one_line(tmp_path: Path, damage, message):
    run = _write_run(
        tmp_path / "exp" / "seed-0",
        {"semantics": {"name": "kg_attributes"}, "method": {"name": "eszsl"}},
        {"zsl/top1": 0.5},
    )
    damage(run)
    with pytest.raises(DataError, match=message) as err:
        gather_runs([tmp_path])
    assert "\n" not in str(err.value) and str(run) in str(err.value)


def test_paths_without_runs(tmp_path: Path):
    with pytest.raises(DataError, match=r"nowhere: no such run folder"):
        gather_runs([tmp_path / "nowhere"])
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(DataError, match=r"empty: no run folders under it"):
        gather_runs([tmp_path / "empty"])
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(DataError, match=r"file\.txt: not a folder"):
        gather_runs([tmp_path / "file.txt"])
    with pytest.raises(ConfigError, match="--format: expected markdown or csv"):
        format_runs_table([{"mean": {}}], format="latex")


def test_experiments_of_the_same_name_are_told_apart(tmp_path: Path):
    sem, method = {"name": "kg_attributes"}, {"name": "eszsl"}
    for parent in ("a", "b"):
        _write_run(tmp_path / parent / "exp" / "seed-0", {"semantics": sem, "method": method}, {"zsl/top1": 0.5})
    assert [r["experiment"] for r in gather_runs([tmp_path / "a", tmp_path / "b"])] == ["a/exp", "b/exp"]


def test_chosen_values_that_are_not_numbers_are_not_metrics(tmp_path: Path):
    cfg = {"semantics": {"name": "dataset"}, "method": {"name": "sae"}}
    _write_run(tmp_path / "e" / "seed-0", cfg, {"zsl/top1": 0.5, "select/method.direction": "s2f"})
    rows = gather_runs([tmp_path])
    assert rows[0]["mean"] == {"zsl/top1": 0.5}


def test_relaxed_settings_are_marked(tmp_path: Path):
    _write_run(
        tmp_path / "clip" / "seed-0",
        {"semantics": {"name": "dataset"}, "method": {"name": "clip_zeroshot"}},
        {"zsl/top1": 0.7},
    )
    _write_run(
        tmp_path / "es" / "seed-0", {"semantics": {"name": "dataset"}, "method": {"name": "eszsl"}}, {"zsl/top1": 0.5}
    )
    text = format_runs_table(gather_runs([tmp_path]), metrics=["zsl/top1"])
    assert "relaxed setting (‡): a pretrained model may have seen the unseen classes" in text.splitlines()[0]
    assert "| clip_zeroshot ‡ |" in text and "| eszsl |" in text
