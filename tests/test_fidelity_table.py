"""benchmarks/fidelity_generative.py: the settings it runs and what its table says about them (no training)."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "fidelity_generative.py"


@pytest.fixture(scope="module")
def fidelity():
    spec = importlib.util.spec_from_file_location("fidelity_generative", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_generative_method_is_in_the_table(fidelity):
    methods = fidelity.generative_methods()
    assert {"cvae", "f_clswgan", "ontozsl_gan", "ce_gzsl", "tf_vaegan", "cada_vae"} <= set(methods)
    assert "eszsl" not in methods and fidelity.BASELINES == ["eszsl"]


def test_epoch_scaling_keeps_warm_up_windows_ordered(fidelity):
    section = fidelity.method_section("cada_vae", 0.03)
    assert section["preset"] == "awa2" and section["epochs"] == 3
    for window in ("cross", "distance", "beta"):
        assert section[f"{window}_end"] > section.get(f"{window}_start", 0)
    assert fidelity.method_section("f_clswgan", 1.0) == {"name": "f_clswgan", "preset": "awa2"}
    assert fidelity.method_section("f_clswgan", 1.0, preset=False) == {"name": "f_clswgan"}


def test_config_carries_the_fraction_and_the_overrides(fidelity):
    cfg = fidelity.config_for("f_clswgan", 1.0, False, 0.1, True, {"hidden": 1024, "lr": 1e-4})
    assert cfg["dataset"] == {"name": "synthetic_benchmark", "benchmark": "AWA2", "image_fraction": 0.1}
    assert cfg["method"] == {"name": "f_clswgan", "preset": "awa2", "hidden": 1024, "lr": 1e-4}
    assert cfg["classifier"] == {"name": "softmax"} and cfg["eval"]["select_by"] == "gzsl_h"
    assert "classifier" not in fidelity.config_for("eszsl", 1.0, False)


def test_set_values_are_read_as_kgzsl_reads_configs(fidelity, monkeypatch, tmp_path):
    """``--set f_clswgan.lr=1e-4`` is a float (YAML 1.1 alone reads a string), ints stay ints."""
    seen = {}

    def fake_run_all(methods, seeds, out, scale, quick, fraction, preset, overrides):
        seen.update(overrides)
        return []

    monkeypatch.setattr(fidelity, "run_all", fake_run_all)
    sets = ["--set", "f_clswgan.lr=1e-4", "--set", "f_clswgan.hidden=1024", "--set", "cvae.fidelity=false"]
    fidelity.main(["--methods", "f_clswgan", *sets, "--write", str(tmp_path / "t.md")])
    assert seen == {"f_clswgan": {"lr": 1e-4, "hidden": 1024}, "cvae": {"fidelity": False}}
    assert isinstance(seen["f_clswgan"]["lr"], float) and (tmp_path / "t.md").is_file()
    with pytest.raises(SystemExit):
        fidelity.main(["--set", "lr=1e-4"])


def test_the_table_says_synthetic_and_what_was_shortened(fidelity):
    stats = {"gzsl/h": (0.5, 0.01), "zsl/top1": (0.6, 0.02)}
    rows = [
        {"method": "eszsl", "config": {"name": "eszsl"}, "stats": stats, "epochs": {}, "n": 3},
        {
            "method": "f_clswgan",
            "config": {"name": "f_clswgan", "preset": "awa2", "epochs": 4},
            "stats": {"gzsl/h": (0.4, 0.02)},
            "epochs": {"generator": [4, 4, 4]},
            "n": 3,
        },
    ]
    text = fidelity.format_table(rows, [0, 1, 2], 1.0, False, 0.1, True)
    title = text.splitlines()[0]
    assert "synthetic features, not benchmark results" in title and "0.1 of the real split sizes" in title
    assert "not the authors' runs" in title and "Shortened runs" in text
    assert "| f_clswgan (preset awa2, epochs 4) |" in text and "generator 4" in text
    assert "- f_clswgan: H 40.0 → no" in text
    # the authors' settings unchanged: no shortening said
    rows[1]["config"] = {"name": "f_clswgan", "preset": "awa2"}
    plain = fidelity.format_table(rows, [0, 1, 2], 1.0, False)
    assert "not the authors' runs" not in plain and "Shortened" not in plain and "real split sizes" in plain
