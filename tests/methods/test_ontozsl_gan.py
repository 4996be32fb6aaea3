"""OntoZSL's GAN: f-CLSWGAN's class with OntoZSL's defaults and presets; trains on two kinds of semantics."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kgzsl.classifier import SoftmaxClassifier
from kgzsl.context import RunContext
from kgzsl.errors import ConfigError
from kgzsl.methods.f_clswgan import FCLSWGAN
from kgzsl.methods.ontozsl_gan import OntoZSLGAN
from kgzsl.registry import METHODS
from kgzsl.testing import CHANCE, CONTRACT_PARAMS, check_method, contract_task, margin_for, toy_dataset

FAST = CONTRACT_PARAMS["ontozsl_gan"]


def _ctx(seed: int = 0) -> RunContext:
    return RunContext(seed=seed, device="cpu", progress=False)


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


def test_contract_on_the_toy_task(tmp_path: Path):
    measured = check_method(lambda: OntoZSLGAN(**FAST), tmp_path)
    assert measured["zsl_top1"] >= CHANCE + margin_for("ontozsl_gan")


def _zsl(method, task, test, labels):
    from kgzsl.evaluation import zsl_accuracy

    unseen = task.unseen.numpy()
    keep = np.isin(labels, unseen)
    return zsl_accuracy(method.decision_function(test[keep]), labels[keep], unseen)


def test_any_semantics_attributes_and_a_kg_embedding(tmp_path: Path):
    """The toy KG's attributes, and class embeddings of the toy ontology from an encoder (TransE)."""
    from kgzsl.registry import SEMANTICS
    from kgzsl.testing import toy_kg

    task, test, labels = contract_task()
    with_attributes = OntoZSLGAN(**FAST).fit(task, classifier=SoftmaxClassifier(), context=_ctx())
    assert _zsl(with_attributes, task, test, labels) >= CHANCE + margin_for("ontozsl_gan")
    # a structural KG embedding of the classes (no attributes): the GAN runs on any semantics
    encoder = SEMANTICS.build("kge", dim=16, epochs=20)
    embedding = encoder.encode(toy_kg(), toy_dataset(attributes="kg"), context=_ctx())
    task.semantics = torch.as_tensor(embedding.matrix, dtype=torch.float32)
    with_kge = OntoZSLGAN(**FAST).fit(task, classifier=SoftmaxClassifier(), context=_ctx())
    scores = with_kge.decision_function(test)
    assert scores.shape == (len(test), task.num_classes) and torch.isfinite(scores[:, task.candidates]).all()
    assert with_kge.generator_.net[0].in_features == 100 + embedding.matrix.shape[1]


def test_same_seed_same_numbers_and_save_load(tmp_path: Path):
    task, test, _ = contract_task()
    a = OntoZSLGAN(**{**FAST, "epochs": 2}).fit(task, classifier=SoftmaxClassifier(), context=_ctx())
    b = OntoZSLGAN(**{**FAST, "epochs": 2}).fit(task, classifier=SoftmaxClassifier(), context=_ctx())
    assert torch.equal(a.decision_function(test), b.decision_function(test))
    a.save(tmp_path / "o.pt")
    loaded = OntoZSLGAN.load(tmp_path / "o.pt")
    assert type(loaded) is OntoZSLGAN and torch.equal(loaded.decision_function(test), a.decision_function(test))
