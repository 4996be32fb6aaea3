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
    assert list(cfg) == ["dataset", "knowledge", "semantics", "method", "classifier", "train", "eval", "select"]
    assert cfg["dataset"]["n_features"] == 256 and cfg["dataset"]["ontology"] == "embedded:animals"
    assert cfg["method"]["name"] == "eszsl" and "alpha" in cfg["method"]
    assert cfg["knowledge"] is None and cfg["classifier"] is None
    assert cfg["train"] == {"seed": 0, "device": "auto", "cache": True, "cache_dir": None, "checkpoint_every": 1}
    assert cfg["eval"]["calibrate"] is True and cfg["eval"]["select_by"] == "gzsl_h"
    assert cfg["select"] == {"method.alpha": list(range(-3, 4)), "method.beta": list(range(-3, 4))}  # ESZSL's grid


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
    resolved = resolve({**cfg, "method": {"name": "cvae"}})
    assert resolved["classifier"]["name"] == "softmax"
    with pytest.raises(ConfigError, match=r"^method\.alpha: expected int"):
        resolve(apply_overrides(MINIMAL, ["method.alpha=big"]))


def test_exponent_floats_without_a_dot_are_floats_in_files_and_overrides(tmp_path: Path):
    """``lr: 1e-3`` (how every ML config writes it) is a float; PyYAML's YAML 1.1 alone reads a string."""
    path = tmp_path / "c.yaml"
    path.write_text(
        "dataset: {name: synthetic_kg}\nsemantics: {name: dataset}\n"
        "method: {name: cvae, lr: 1e-3, kl_weight: 5E+0, epochs: 2}\ntrain: {seed: 1_000}\n",
        encoding="utf-8",
    )
    cfg = load_config(path)
    assert cfg["method"]["lr"] == 1e-3 and isinstance(cfg["method"]["lr"], float)
    assert cfg["method"]["kl_weight"] == 5.0 and cfg["method"]["epochs"] == 2 and cfg["train"]["seed"] == 1000
    resolved = resolve(apply_overrides(cfg, ["method.lr=5e-4", "method.name=cvae"]))
    assert resolved["method"]["lr"] == 5e-4
    # quoted, or not a number, it stays a string
    assert apply_overrides(MINIMAL, ['method.alpha="1e-3"'])["method"]["alpha"] == "1e-3"
    assert apply_overrides(MINIMAL, ["method.alpha=1e4x"])["method"]["alpha"] == "1e4x"


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


@pytest.mark.parametrize(
    "override, message",
    [
        ({"method": {"name": "cvae", "epochs": -5}}, r"^method\.epochs: expected a value > 0, got -5$"),
        ({"method": {"name": "cvae", "lr": 0.0}}, r"^method\.lr: expected a value > 0"),
        ({"method": {"name": "cvae", "lr": -0.001}}, r"^method\.lr: expected a value > 0"),
        ({"method": {"name": "cvae", "kl_warmup": -1}}, r"^method\.kl_warmup: expected a value ≥ 0"),
        ({"dataset": {"name": "synthetic_kg", "n_features": -5}}, r"^dataset\.n_features: expected a value > 0"),
        (
            {"dataset": {"name": "synthetic_kg", "test_fraction": 1.5}},
            r"^dataset\.test_fraction: expected a value in \[0, 1\]",
        ),
        (
            {"classifier": {"name": "softmax", "weight_decay": -1e-4}},
            r"^classifier\.weight_decay: expected a value ≥ 0",
        ),
        ({"classifier": {"name": "softmax", "batch_size": 0}}, r"^classifier\.batch_size: expected a value > 0"),
        ({"method": {"name": "gcnz", "hidden": [64, -1]}}, r"^method\.hidden: expected a value > 0"),
        ({"method": {"name": "gcnz", "dropout": 1.2}}, r"^method\.dropout: expected a value in \[0, 1\]"),
        ({"train": {"device": "tpu9"}}, r"^train\.device: expected auto, cpu, cuda, cuda:N or mps, got 'tpu9'$"),
        ({"train": {"seed": -1}}, r"^train\.seed: expected a value ≥ 0"),
        ({"eval": {"val_seen_fraction": 0}}, r"^eval\.val_seen_fraction: expected a value in \(0, 1\)"),
        ({"eval": {"hit_k": [0, 5]}}, r"^eval\.hit_k: expected positive integers"),
        ({"eval": {"select_by": "auc"}}, r"^eval\.select_by: expected"),
    ],
)
def test_value_ranges_are_checked(override, message):
    with pytest.raises(ConfigError, match=message):
        resolve({**MINIMAL, **override})


def test_component_check_config_hook(monkeypatch):
    from kgzsl.methods.eszsl import ESZSL

    def check_config(cls, params):
        if params["alpha"] > params["beta"] + 5:
            raise ConfigError("alpha may exceed beta by at most 5")

    monkeypatch.setattr(ESZSL, "check_config", classmethod(check_config), raising=False)
    resolve({**MINIMAL, "method": {"name": "eszsl", "alpha": 2}})  # default beta -1: fine
    with pytest.raises(ConfigError, match=r"^method: alpha may exceed beta by at most 5$"):
        resolve({**MINIMAL, "method": {"name": "eszsl", "alpha": 5}})


def test_classifier_override_without_a_section_gets_the_default_classifier():
    cfg = resolve(apply_overrides({**MINIMAL, "method": {"name": "cvae"}}, ["classifier.epochs=5"]))
    assert cfg["classifier"]["name"] == "softmax" and cfg["classifier"]["epochs"] == 5


def test_classifier_for_a_method_without_one_is_a_warning_and_dropped():
    warnings: list[str] = []
    cfg = resolve({**MINIMAL, "classifier": {"name": "softmax"}}, warnings)
    assert cfg["classifier"] is None
    assert warnings == ["classifier: method 'eszsl' uses no classifier; the classifier section (softmax) is ignored"]
    warnings.clear()
    assert resolve({**MINIMAL, "method": {"name": "cvae"}, "classifier": "cosine"}, warnings)["classifier"]
    assert warnings == []


def test_a_method_that_uses_a_classifier_and_is_given_none_gets_the_default_section():
    from kgzsl.registry import CLASSIFIERS

    resolved = resolve({**MINIMAL, "method": {"name": "cvae"}})
    assert resolved["classifier"]["name"] == "softmax"
    # the defaults the method would have built itself
    assert resolved["classifier"] == {"name": "softmax", **CLASSIFIERS.build("softmax").get_params()}


@pytest.mark.parametrize(
    "content, message",
    [
        (b"method:\n  name: eszsl\n  alpha: \xff\xfe\n", r"bad\.yaml:3: not UTF-8 text \(byte 0xff\)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"bad\.yaml:3: not a YAML config \(binary data"),
        (b"method: {name: eszsl}\nx: \x07\n", r"bad\.yaml: invalid YAML: .*special characters"),
    ],
)
def test_non_utf8_or_binary_config_is_one_line(tmp_path: Path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as e:
        load_config(path)
    assert "\n" not in str(e.value)


def test_unreadable_config_is_one_line(tmp_path: Path, monkeypatch):
    path = tmp_path / "secret.yaml"
    path.write_text("method: eszsl\n")

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)  # chmod 0 does not stop root
    with pytest.raises(ConfigError, match=r"secret\.yaml: cannot read the config \(Permission denied\)$"):
        load_config(path)


def test_check_value_ranges_of_every_default():
    from kgzsl.registry import REGISTRIES, check_value_ranges

    for section, registry in REGISTRIES.items():
        for name in registry.names():
            check_value_ranges(registry.defaults(name), f"{section}.{name}")  # defaults are valid


def test_missing_input_files_fail_at_resolve(tmp_path):
    from kgzsl.config import resolve
    from kgzsl.errors import ConfigError

    base = {
        "dataset": {"name": "synthetic_kg"},
        "knowledge": {"name": "files", "paths": [str(tmp_path / "missing.ttl")]},
        "semantics": {"name": "kg_attributes"},
        "method": {"name": "eszsl"},
    }
    with pytest.raises(ConfigError, match=r"^knowledge\.paths: .*missing\.ttl: no such file or folder$"):
        resolve(base)
    base["knowledge"]["paths"] = "embedded:animals"
    base["dataset"]["ontology"] = str(tmp_path / "nope.ttl")
    with pytest.raises(ConfigError, match=r"^dataset\.ontology: .*nope\.ttl: no such file or folder$"):
        resolve(base)
    (tmp_path / "nope.ttl").write_text("", encoding="utf-8")
    assert resolve(base)["dataset"]["ontology"] == str(tmp_path / "nope.ttl")


@pytest.mark.parametrize("knowledge", [None, {"name": "files", "paths": []}])
def test_components_that_read_the_kg_need_a_knowledge_source(knowledge):
    from kgzsl.config import resolve
    from kgzsl.errors import ConfigError

    config = {"dataset": {"name": "synthetic_kg"}, "semantics": {"name": "kge"}, "method": {"name": "eszsl"}}
    if knowledge is not None:
        config["knowledge"] = knowledge
    with pytest.raises(ConfigError, match=r"^semantics: kge reads a knowledge graph"):
        resolve(config)
    # text from class names needs no KG; text from labels does
    config["semantics"] = {"name": "sentence", "texts": "name"}
    resolve(config)
    config["semantics"] = {"name": "sentence", "texts": "label"}
    with pytest.raises(ConfigError, match=r"^semantics: sentence reads a knowledge graph"):
        resolve(config)
    config["semantics"] = {"name": "dataset"}
    config["method"] = {"name": "rgcn_zsl"}
    with pytest.raises(ConfigError, match=r"^method: rgcn_zsl reads a knowledge graph"):
        resolve(config)
