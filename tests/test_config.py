from pathlib import Path

import pytest

from kgzsl.config import apply_overrides, default_config_path, dump_config, load_config, resolve
from kgzsl.errors import ConfigError

MINIMAL = {
    "dataset": {"name": "synthetic_kg"},
    "semantics": {"name": "dataset"},
    "method": {"name": "eszsl"},
}


def test_resolve_fills_every_default():
    cfg = resolve(MINIMAL)
    assert list(cfg) == ["dataset", "knowledge", "semantics", "method", "classifier", "train", "eval"]
    assert cfg["dataset"]["n_features"] == 256 and cfg["dataset"]["ontology"] == "embedded:animals"
    assert cfg["method"]["name"] == "eszsl" and "alpha" in cfg["method"]
    assert cfg["knowledge"] is None and cfg["classifier"] is None
    assert cfg["train"] == {"seed": 0, "device": "auto", "cache": True, "cache_dir": None}
    assert cfg["eval"]["calibrate"] is True


def test_shorthand_component_name():
    assert resolve({**MINIMAL, "method": "eszsl"})["method"]["name"] == "eszsl"


@pytest.mark.parametrize(
    "config, message",
    [
        ({**MINIMAL, "methd": {"name": "eszsl"}}, r"^methd: unknown section \(did you mean 'method'\?\)"),
        ({**MINIMAL, "method": {"name": "eszsl", "alpah": 2}}, r"^method\.alpah: unknown parameter"),
        ({**MINIMAL, "method": {"name": "nope"}}, r"^method\.name: unknown methods 'nope'.*valid: .*eszsl"),
        ({**MINIMAL, "method": {"alpha": 2}}, r"^method\.name: missing"),
        ({**MINIMAL, "method": 3}, r"^method: expected a mapping"),
        ({"dataset": {"name": "synthetic_kg"}, "semantics": {"name": "dataset"}}, r"^method: section is required"),
        ({**MINIMAL, "train": {"seed": "zero"}}, r"^train\.seed: expected int, got str 'zero'"),
        ({**MINIMAL, "train": {"sed": 1}}, r"^train\.sed: unknown key \(did you mean 'seed'\?\)"),
        ({**MINIMAL, "eval": {"hit_k": [1, "x"]}}, r"^eval\.hit_k: expected"),
        ({**MINIMAL, "dataset": {"name": "synthetic_kg", "n_features": 2.5}}, r"^dataset\.n_features: expected int"),
    ],
)
def test_config_mistakes_name_the_key_path(config, message):
    with pytest.raises(ConfigError, match=message):
        resolve(config)


def test_overrides_are_parsed_as_yaml_and_validated():
    cfg = apply_overrides(MINIMAL, ["method.alpha=2", "train.seed=7", "eval.hit_k=[1, 5]", "classifier.name=softmax"])
    assert cfg["method"]["alpha"] == 2 and cfg["train"]["seed"] == 7 and cfg["eval"]["hit_k"] == [1, 5]
    assert MINIMAL["method"] == {"name": "eszsl"}  # the input is not modified
    resolved = resolve(cfg)
    assert resolved["classifier"]["name"] == "softmax"
    with pytest.raises(ConfigError, match=r"^method\.alpha: expected int"):
        resolve(apply_overrides(MINIMAL, ["method.alpha=big"]))


@pytest.mark.parametrize(
    "item, message",
    [
        ("method.alpha", r"expected KEY\.PATH=VALUE"),
        ("alpha=3", r"expected SECTION\.KEY=VALUE"),
        ("modle.alpha=3", r"unknown section 'modle'"),
        ("method.name.x=3", r"method\.name is not a mapping"),
    ],
)
def test_bad_overrides(item, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(MINIMAL, [item])


def test_load_config_errors(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"no such config file"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("method:\n  name: eszsl\n  alpha: [1, 2\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: invalid YAML"):
        load_config(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="config is empty"):
        load_config(empty)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(listy)


def test_default_config_resolves_and_round_trips(tmp_path: Path):
    cfg = resolve(load_config(default_config_path()))
    path = tmp_path / "resolved.yaml"
    path.write_text(dump_config(cfg))
    assert resolve(load_config(path)) == cfg


def test_swapping_a_component_drops_the_old_parameters():
    config = {**MINIMAL, "method": {"name": "eszsl", "alpha": 2}}
    cfg = apply_overrides(config, ["method.epochs=3", "method.name=cvae"])  # order does not matter
    assert cfg["method"] == {"name": "cvae", "epochs": 3}
    assert resolve(cfg)["method"]["epochs"] == 3
    same = apply_overrides(config, ["method.name=eszsl"])
    assert same["method"] == {"name": "eszsl", "alpha": 2}  # same component: parameters kept
