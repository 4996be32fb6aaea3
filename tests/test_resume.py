"""`kgzsl run --resume`: a killed run continues from its last saved epoch and ends identical."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from kgzsl.methods.generative import TrainingLoop
from kgzsl.pipeline import run_experiment
from kgzsl.testing import Interrupted, interrupt_after

CONFIG = {
    "dataset": {"name": "synthetic_kg", "n_features": 32, "min_images": 20, "max_images": 30},
    "knowledge": {"name": "files"},
    "semantics": {"name": "kg_attributes"},
    "method": {"name": "cvae", "epochs": 6, "n_synthetic": 20, "hidden": 32, "fidelity": False},
    "classifier": {"name": "softmax", "epochs": 5},
    "train": {"device": "cpu"},
    "eval": {"calibrate": True},
    "select": {},
}


def _metrics(run_dir: Path) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {k: v for k, v in metrics.items() if not k.startswith("time/")}


def _spy_restores(monkeypatch) -> list:
    starts = []
    original = TrainingLoop._restore

    def spy(loop):
        starts.append((loop.context.checkpoints.name, loop.stage, original(loop)))
        return starts[-1][2]

    monkeypatch.setattr(TrainingLoop, "_restore", spy)
    return starts


def test_interrupted_run_resumes_and_ends_with_the_uninterrupted_metrics(tmp_path: Path, monkeypatch):
    whole = run_experiment(CONFIG, stem="r", out=tmp_path / "a", progress=False)
    with pytest.raises(Interrupted), interrupt_after(3):
        run_experiment(CONFIG, stem="r", out=tmp_path / "b", progress=False)
    staged = [p for p in (tmp_path / "b" / "r").iterdir() if p.name.startswith(".seed-0.tmp-")]
    assert len(staged) == 1 and (staged[0] / "checkpoints").is_dir()  # kept for --resume
    assert not (tmp_path / "b" / "r" / "seed-0").exists()
    starts = _spy_restores(monkeypatch)
    resumed = run_experiment(CONFIG, stem="r", out=tmp_path / "b", progress=False, resume=True)
    assert ("val", "generator", 3) in starts  # it continued at the saved epoch
    assert _metrics(whole.run_dir) == _metrics(resumed.run_dir)
    assert not (resumed.run_dir / "checkpoints").exists()  # training state goes with the finished run
    assert [p.name for p in (tmp_path / "b" / "r").iterdir()] == ["seed-0"]


def test_resume_without_anything_to_resume_starts_afresh(tmp_path: Path):
    result = run_experiment(CONFIG, stem="r", out=tmp_path, progress=False, resume=True)
    assert (result.run_dir / "metrics.json").is_file()


def test_checkpoints_can_be_turned_off(tmp_path: Path, monkeypatch):
    saves = []
    monkeypatch.setattr(TrainingLoop, "_save", lambda loop, done: saves.append(done))
    cfg = {**CONFIG, "train": {"device": "cpu", "checkpoint_every": 0}}
    run_experiment(cfg, stem="r", out=tmp_path, progress=False)
    assert saves == []
    run_experiment(CONFIG, stem="r", out=tmp_path, progress=False, overwrite=True)
    assert saves == [1, 2, 3, 4, 5, 6] * 2  # the validation fit's and the trainval fit's


@pytest.mark.slow
def test_kill_9_then_cli_resume_gives_identical_metrics(tmp_path: Path):
    cfg = {**CONFIG, "method": {**CONFIG["method"], "epochs": 120}}
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "kgzsl", "run", str(config), "--no-progress"]
    subprocess.run([*cmd, "--out", str(tmp_path / "a")], check=True, env=env, capture_output=True)
    proc = subprocess.Popen([*cmd, "--out", str(tmp_path / "b")], env=env, stderr=subprocess.DEVNULL)
    folder = tmp_path / "b" / "exp"
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline:
        if list(folder.glob(".seed-0.tmp-*/checkpoints/trainval/generator.pt")):
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    out = subprocess.run([*cmd, "--out", str(tmp_path / "b"), "--resume"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert _metrics(tmp_path / "a" / "exp" / "seed-0") == _metrics(folder / "seed-0")
