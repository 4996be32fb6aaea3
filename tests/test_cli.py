import subprocess
import sys
from pathlib import Path

import pytest

import kgzsl
from kgzsl.cli import main


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = """\
dataset: {name: synthetic_kg, n_features: 32, min_images: 15, max_images: 30}
knowledge: {name: files}
semantics: {name: kg_attributes}
method: {name: eszsl}
train: {device: cpu}
eval: {calibrate: false}
"""


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"kgzsl {kgzsl.__version__}"


def test_list(capsys):
    assert main(["list", "methods"]) == 0
    out = capsys.readouterr().out
    assert "methods:" in out and "eszsl" in out and "cvae" in out and "datasets:" not in out
    assert "select: alpha=[-3, -2, -1, 0, 1, 2, 3], beta=[-3, -2, -1, 0, 1, 2, 3] (default validation grid)" in out
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(f in out for f in ("datasets:", "knowledge:", "semantics:", "classifiers:"))


def test_validate_prints_resolved_config(tmp_path, capsys):
    assert main(["validate", str(write(tmp_path, GOOD)), "--set", "method.alpha=2"]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "alpha: 2" in out and "seed: 0" in out


def test_run_writes_run_folder_and_prints_table(tmp_path, capsys):
    cfg = write(tmp_path, GOOD)
    assert main(["run", str(cfg), "--out", str(tmp_path / "runs"), "--seed", "3", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "synthetic features" in out and "| eszsl | kg_attributes |" in out
    assert (tmp_path / "runs" / "exp" / "seed-3" / "metrics.json").is_file()
    # a rerun of the same seed is refused with one line
    assert main(["run", str(cfg), "--out", str(tmp_path / "runs"), "--seed", "3", "--no-progress"]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    "text, args, message",
    [
        (
            GOOD.replace("method: {name: eszsl}", "method: {name: eszsl, alpah: 1}"),
            [],
            "method.alpah: unknown parameter",
        ),
        (GOOD.replace("{name: eszsl}", "{name: esszl}"), [], "method.name: unknown methods 'esszl'"),
        (GOOD, ["--set", "method.alpha=high"], "method.alpha: expected int, got str 'high'"),
        (GOOD, ["--set", "trian.seed=1"], "unknown section 'trian'"),
        (
            GOOD.replace("knowledge: {name: files}", "knowledge: {name: files, paths: nowhere.ttl}"),
            [],
            "nowhere.ttl: no such file",
        ),
        ("train: {seed: 1}\nmethod: a: b\n", [], "exp.yaml:2: invalid YAML"),
        (GOOD, ["--set", "train.device=tpu9"], "train.device: expected auto, cpu, cuda, cuda:N or mps, got 'tpu9'"),
        (GOOD, ["--set", "dataset.n_features=-5"], "dataset.n_features: expected a value > 0, got -5"),
        (GOOD, ["--set", "method.name=cvae", "--set", "method.epochs=-1"], "method.epochs: expected a value > 0"),
        (GOOD, ["--set", "method.name=cvae", "--set", "classifier.lr=-0.1"], "classifier.lr: expected a value > 0"),
        (GOOD, ["--set", "dataset.test_fraction=1.5"], "dataset.test_fraction: expected a value in [0, 1]"),
        (GOOD, ["--set", "select.method.alpha=3"], "select.method.alpha: expected a list of values or a grid"),
        (GOOD, ["--set", "select.method.alpah=[1, 2]"], "select.method.alpah: unknown parameter"),
        (GOOD, ["--name", "a/b"], "--name 'a/b': expected a folder name"),
    ],
)
def test_user_mistakes_give_one_line_and_exit_2(tmp_path, capsys, text, args, message):
    code = main(["run", str(write(tmp_path, text)), "--out", str(tmp_path / "runs"), "--no-progress", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("kgzsl: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "runs" / "exp").exists()


def test_binary_and_non_utf8_configs_are_one_line(tmp_path, capsys):
    for name, content, message in [
        ("latin1.yaml", "method: {name: eszsl}\n# café\n".encode("latin-1"), "latin1.yaml:2: not UTF-8 text"),
        ("binary.yaml", bytes(range(256)), "binary.yaml:1: not a YAML config (binary data"),
    ]:
        path = tmp_path / name
        path.write_bytes(content)
        for command in ("run", "validate"):
            assert main([command, str(path)]) == 2
            err = capsys.readouterr().err
            assert err.startswith("kgzsl: error: ") and message in err and err.count("\n") == 1


def test_run_folders_reflect_overrides_or_name(tmp_path, capsys):
    cfg = write(tmp_path, GOOD)
    out = ["--out", str(tmp_path / "runs"), "--no-progress"]
    assert main(["run", str(cfg), *out]) == 0
    assert main(["run", str(cfg), *out, "--set", "method.alpha=1"]) == 0  # no collision with the first
    assert main(["run", str(cfg), *out, "--set", "method.alpha=1", "--name", "mine"]) == 0
    names = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert names == ["exp", "exp+method.alpha=1", "mine"]
    assert all((tmp_path / "runs" / n / "seed-0" / "models" / "method.pt").is_file() for n in names)
    assert "run folder: " + str(tmp_path / "runs" / "mine" / "seed-0") in capsys.readouterr().out


def test_validate_reports_an_unused_classifier(tmp_path, capsys):
    cfg = write(tmp_path, GOOD + "classifier: {name: softmax, lr: 0.1}\n")
    assert main(["validate", str(cfg)]) == 0
    captured = capsys.readouterr()
    assert captured.err == (
        "kgzsl: warning: classifier: method 'eszsl' uses no classifier; the classifier section (softmax) is ignored\n"
    )
    assert "classifier: null" in captured.out
    # --set classifier.epochs=5 without a classifier section fills in the default classifier
    assert main(["validate", str(cfg), "--set", "method.name=cvae", "--set", "classifier.epochs=5"]) == 0
    out = capsys.readouterr().out
    assert "classifier:\n  name: softmax\n  epochs: 5" in out


def test_missing_config_and_bad_family(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: no such config file" in capsys.readouterr().err
    assert main(["list", "gizmos"]) == 2
    assert "unknown component family 'gizmos'" in capsys.readouterr().err


def test_console_script_exit_code_and_no_traceback(tmp_path):
    exe = Path(sys.executable).with_name("kgzsl")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "kgzsl.cli"]
    proc = subprocess.run([*cmd, "validate", str(tmp_path / "missing.yaml")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "no such config file" in proc.stderr
    proc = subprocess.run([*cmd, "frobnicate"], capture_output=True, text=True)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_kg_info_query_convert(tmp_path, capsys):
    from kgzsl.testing import write_toy_kg

    ttl = write_toy_kg(tmp_path / "toy.ttl")
    assert main(["kg", "info", str(ttl)]) == 0
    out = capsys.readouterr().out
    assert "triples:" in out and "classes:" in out and "rdf-schema#subClassOf" in out and "dangling:" in out
    query = "SELECT ?c WHERE { ?c <http://www.w3.org/2000/01/rdf-schema#subClassOf> <http://example.org/toy#Felid> }"
    assert main(["kg", "query", str(ttl), "--sparql", query]) == 0
    header, *rows = capsys.readouterr().out.split()
    assert header == "c" and sorted(rows) == [f"http://example.org/toy#{c}" for c in ("cat", "lion", "tiger")]
    (tmp_path / "q.rq").write_text(query)
    assert main(["kg", "query", str(ttl), "--sparql", f"@{tmp_path / 'q.rq'}"]) == 0
    assert len(capsys.readouterr().out.split()) == 4  # header + 3 rows
    assert main(["kg", "convert", str(ttl), str(tmp_path / "toy.nt")]) == 0
    assert (tmp_path / "toy.nt").read_text().count(" .\n") > 50
    assert main(["kg", "formats"]) == 0
    assert "kzsl-csv" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["kg", "info", "missing.ttl"], "missing.ttl: no such file"),
        (["kg", "query", "TOY", "--sparql", "SELECT nonsense"], "SPARQL syntax error"),
        (["kg", "convert", "TOY", "out.xyz"], "unknown RDF format to write"),
        (["kg", "info", "TOY", "--format", "klingon"], "unknown knowledge format 'klingon'"),
        (["kg", "info", "BAD"], "bad.ttl:2: malformed turtle"),
    ],
)
def test_kg_mistakes(tmp_path, capsys, monkeypatch, args, message):
    from kgzsl.testing import write_toy_kg

    monkeypatch.chdir(tmp_path)
    toy = write_toy_kg(tmp_path / "toy.ttl")
    (tmp_path / "bad.ttl").write_text("<http://a/b> <http://a/c> <http://a/d> .\n<http://a/b> <http://a/c> .\n")
    args = [str(toy) if a == "TOY" else str(tmp_path / "bad.ttl") if a == "BAD" else a for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("kgzsl: error: ") and message in err and err.count("\n") == 1
