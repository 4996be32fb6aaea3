"""OntoZSL's GAN: f-CLSWGAN's class with OntoZSL's defaults and presets; trains on two kinds of semantics."""

from pathlib import Path

import pytest
import torch

from kgzsl.classifier import SoftmaxClassifier
from kgzsl.errors import ConfigError
from kgzsl.methods.f_clswgan import FCLSWGAN
from kgzsl.methods.ontozsl_gan import OntoZSLGAN
from kgzsl.registry import METHODS
from kgzsl.testing import (
    CHANCE,
    CONTRACT_PARAMS,
    check_same_seed_same_numbers,
    check_save_load,
    contract_task,
    cpu_context,
    margin_for,
    toy_dataset,
    zsl_top1,
)

FAST = CONTRACT_PARAMS["ontozsl_gan"]


def test_is_f_clswgan_with_other_defaults_not_a_copy():
    assert METHODS.get("ontozsl_gan") is OntoZSLGAN and issubclass(OntoZSLGAN, FCLSWGAN)
    assert OntoZSLGAN.fit_generator is FCLSWGAN.fit_generator and OntoZSLGAN.generate is FCLSWGAN.generate
    assert OntoZSLGAN().settings() == {
        "epochs": 100,
        "lr": 1e-4,  # the authors' code's default (their AwA2 command: 1e-5, the awa2 preset)
        "batch_size": 64,
        "n_synthetic": 300,
        "noise_dim": 100,  # whatever the semantics' size
        "cls_weight": 0.01,
    }
    assert METHODS.defaults("ontozsl_gan")["pretrain_epochs"] == 100
    assert METHODS.defaults("ontozsl_gan")["pretrain_batch_size"] == 128


def test_settings_are_written_once_and_stay_type_checked():
    """The settings are FCLSWGAN's dataclass fields; OntoZSL's class redeclares only two defaults."""
    import dataclasses

    ours, base = dataclasses.fields(OntoZSLGAN), dataclasses.fields(FCLSWGAN)
    assert [f.name for f in ours] == [f.name for f in base]
    changed = {f.name for f, g in zip(ours, base) if f.default != g.default}
    assert changed == {"pretrain_epochs", "pretrain_batch_size"}
    own = set(OntoZSLGAN.__annotations__) - {"DEFAULTS", "PRESETS"}  # class-level tables, not fields
    assert own == changed  # nothing else is repeated
    with pytest.raises(ConfigError, match=r"method\.epochs"):
        METHODS.build("ontozsl_gan", where="method", epochs="many")
    with pytest.raises(ConfigError, match=r"method\.hidden"):
        METHODS.build("ontozsl_gan", where="method", hidden=1.5)
    assert OntoZSLGAN(lr=1e-4).get_params()["lr"] == 1e-4


def test_presets():
    imagenet = OntoZSLGAN(preset="imagenet").settings()
    assert imagenet["lr"] == 1e-4 and imagenet["batch_size"] == 4096 and imagenet["noise_dim"] == 100
    awa2 = OntoZSLGAN(preset="awa2", batch_size=32)
    assert awa2.settings()["lr"] == 1e-5 and awa2.settings()["batch_size"] == 32 and awa2.synthetic_per_class() == 1800
    with pytest.raises(ConfigError, match=r"method\.preset: expected one of awa2, imagenet, got 'cub'"):
        METHODS.build("ontozsl_gan", where="method", preset="cub")


# (the contract on the toy task, check_method, runs for every registered method in tests/test_contract.py)


def test_any_semantics_attributes_and_a_kg_embedding(tmp_path: Path):
    """The toy KG's attributes, and class embeddings of the toy ontology from an encoder (TransE)."""
    from kgzsl.registry import SEMANTICS
    from kgzsl.testing import toy_kg

    task, test, labels = contract_task()
    with_attributes = OntoZSLGAN(**FAST).fit(task, classifier=SoftmaxClassifier(), context=cpu_context())
    assert zsl_top1(with_attributes, task, test, labels) >= CHANCE + margin_for("ontozsl_gan")
    # a structural KG embedding of the classes (no attributes): the GAN runs on any semantics
    encoder = SEMANTICS.build("kge", dim=16, epochs=20)
    embedding = encoder.encode(toy_kg(), toy_dataset(attributes="kg"), context=cpu_context())
    task.semantics = torch.as_tensor(embedding.matrix, dtype=torch.float32)
    with_kge = OntoZSLGAN(**FAST).fit(task, classifier=SoftmaxClassifier(), context=cpu_context())
    scores = with_kge.decision_function(test)
    assert scores.shape == (len(test), task.num_classes) and torch.isfinite(scores[:, task.candidates]).all()
    assert with_kge.generator_.net[0].in_features == 100 + embedding.matrix.shape[1]


def test_same_seed_same_numbers_and_save_load(tmp_path: Path):
    task, test, _ = contract_task()
    (a, _), _ = check_same_seed_same_numbers(
        lambda: OntoZSLGAN(**{**FAST, "epochs": 2}), task, test, classifier=SoftmaxClassifier, other_seed=None
    )
    check_save_load(a, tmp_path, test)
