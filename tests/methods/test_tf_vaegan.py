"""tf-VAEGAN: losses, networks, the feedback's two-pass generation, the classifier's features, presets,
training on two kinds of semantics and a benchmark-like stand-in, determinism, save/load, resume."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kgzsl.classifier import SoftmaxClassifier
from kgzsl.errors import ConfigError
from kgzsl.methods.generative import GenerativeMethod
from kgzsl.methods.tf_vaegan import (
    TFVAEGAN,
    Encoder,
    Feedback,
    FeedbackGenerator,
    SemanticDecoder,
    normalize_rows,
    weighted_l1,
)
from kgzsl.registry import METHODS
from kgzsl.testing import (
    CHANCE,
    CONTRACT_PARAMS,
    check_generative_beats_chance,
    check_generative_stand_in,
    check_resume,
    check_same_seed_same_numbers,
    check_save_load,
    check_training_log,
    contract_task,
    cpu_context,
    margin_for,
    toy_dataset,
    zsl_top1,
)

FAST = CONTRACT_PARAMS["tf_vaegan"]


def _fit(task=None, seed=0, classifier=None, **params):
    task = contract_task()[0] if task is None else task
    method = TFVAEGAN(**{**FAST, **params})
    return method.fit(task, classifier=classifier or SoftmaxClassifier(lr=1e-2), context=cpu_context(seed))


# ------------------------------------------------------------------ losses and networks


def test_weighted_l1_is_the_authors_loss_by_hand():
    pred = torch.tensor([[0.0, 3.0, 4.0], [1.0, 1.0, 1.0]])
    target = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    # row 1: d = (0, 3, 4), ‖d‖ = 5, Σ d²|d| / ‖d‖ = (27 + 64) / 5; row 2: no error
    assert weighted_l1(pred, target).item() == pytest.approx((27 + 64) / 5 / 2)
    assert torch.isfinite(torch.autograd.functional.jacobian(lambda p: weighted_l1(p, target), pred)).all()


def test_rows_are_normalised_and_zero_rows_stay_zero():
    a = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    torch.testing.assert_close(normalize_rows(a), torch.tensor([[0.6, 0.8], [0.0, 0.0]]))


def test_networks_follow_the_authors_code():
    enc = Encoder(10, 3, hidden=16, latent=3)
    mu, log_var = enc(torch.rand(5, 10), torch.rand(5, 3))
    assert mu.shape == log_var.shape == (5, 3)
    assert enc.net[0].in_features == 13 and enc.net[2].out_features == 6  # [x; a] -> hidden -> 2 · latent
    g = FeedbackGenerator(latent=3, n_semantics=3, hidden=16, n_features=10)
    out = g(torch.randn(5, 3), torch.rand(5, 3))
    assert out.shape == (5, 10) and ((out > 0) & (out < 1)).all()  # sigmoid: min-max scaled features
    assert g.fc1.weight.std().item() == pytest.approx(0.02, rel=0.3) and not g.fc1.bias.any()
    dec = SemanticDecoder(10, hidden=16, n_semantics=3)
    a_hat, h = dec(torch.rand(5, 10))
    assert a_hat.shape == (5, 3) and h.shape == (5, 16)
    torch.testing.assert_close(a_hat.norm(dim=1), torch.ones(5))  # unit rows, as the authors' AttDec
    fb = Feedback(16)
    assert fb(h).shape == (5, 16) and [type(m).__name__ for m in fb.net] == ["Linear", "LeakyReLU"] * 2


# ------------------------------------------------------------------ presets and settings


def test_presets_fill_only_the_keys_left_unset():
    awa2 = TFVAEGAN(preset="awa2").settings()
    assert awa2["epochs"] == 120 and awa2["lr"] == 1e-5 and awa2["n_synthetic"] == 1800
    assert awa2["recons_weight"] == 0.1 and awa2["feedback_weight"] == 0.01 and awa2["freeze_decoder"] is True
    cub = TFVAEGAN(preset="cub", epochs=3, n_synthetic=5)
    assert cub.settings()["epochs"] == 3 and cub.synthetic_per_class() == 5 and cub.settings()["lr"] == 1e-4
    assert cub.settings()["feedback_lr"] == 1e-5 and cub.settings()["feedback_weight"] == 1.0
    flo = TFVAEGAN(preset="flo").settings()
    assert flo["encoded_noise"] is False and flo["epochs"] == 500 and flo["synthesis_feedback_weight"] == 0.5
    sun = TFVAEGAN(preset="sun").settings()
    assert sun["gamma_d"] == sun["gamma_g"] == 1.0 and sun["lr"] == 1e-3 and sun["synthesis_feedback_weight"] == 0.01
    assert TFVAEGAN().settings() == {**awa2, "latent_dim": None}  # no preset: the AWA2 script's settings
    assert TFVAEGAN(preset="sun", encoded_noise=False).settings()["encoded_noise"] is False


def test_bad_settings_are_one_config_error():
    with pytest.raises(ConfigError, match=r"method\.preset: expected one of awa2, cub, flo, sun"):
        METHODS.build("tf_vaegan", where="method", preset="apy")
    with pytest.raises(ConfigError, match=r"method\.recons_weight"):
        METHODS.build("tf_vaegan", where="method", recons_weight=-0.1)
    with pytest.raises(ConfigError, match=r"method\.feedback_loop"):
        METHODS.build("tf_vaegan", where="method", feedback_loop=0)
    with pytest.raises(ConfigError, match=r"method\.critic_steps"):
        METHODS.build("tf_vaegan", where="method", critic_steps=0)


def test_registered_as_a_generative_method():
    assert METHODS.get("tf_vaegan") is TFVAEGAN and issubclass(TFVAEGAN, GenerativeMethod)
    assert set(FAST) <= set(METHODS.defaults("tf_vaegan"))


# ------------------------------------------------------------------ synthesis and the classifier's features


def test_synthesis_is_the_two_pass_feedback_generation():
    method = _fit(epochs=2)
    task = contract_task()[0]
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    out = method.synthesize(task.unseen, 4, g1)
    a = normalize_rows(task.semantics[task.unseen]).repeat_interleave(4, dim=0)
    z = torch.randn(len(a), method.latent_dim_, generator=g2)
    with torch.no_grad():
        h = method.generator_.hidden(z, a)
        first = method.generator_.output(h)
        second = method.generator_.output(h + 0.5 * method.feedback_(method.decoder_.hidden(first)))
    torch.testing.assert_close(out, second)
    assert not torch.allclose(out, first)  # the feedback changes the features
    assert method.latent_dim_ == task.semantics.shape[1]  # latent size = semantics' size


def test_without_a_feedback_pass_the_feedback_never_trains_and_synthesis_is_one_pass():
    no_fb = _fit(epochs=2, feedback_loop=1)
    assert not any(p.bias.any() for p in no_fb.feedback_.net if isinstance(p, torch.nn.Linear))  # still at init
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    task = contract_task()[0]
    a = normalize_rows(task.semantics[task.unseen]).repeat_interleave(3, dim=0)
    with torch.no_grad():
        expected = no_fb.generator_(torch.randn(len(a), no_fb.latent_dim_, generator=g2), a)
    torch.testing.assert_close(no_fb.synthesize(task.unseen, 3, g1), expected)
    with_fb = _fit(epochs=2)
    assert any(p.bias.any() for p in with_fb.feedback_.net if isinstance(p, torch.nn.Linear))


class _SpyClassifier(SoftmaxClassifier):
    def fit(self, features, labels, classes, num_classes=None, context=None, **kw):
        self.seen_fit = features.clone()
        return super().fit(features, labels, classes, num_classes, context=context, **kw)


def test_the_classifier_reads_x_the_reconstructed_semantics_and_the_decoders_hidden_layer():
    task = contract_task()[0]
    spy = _SpyClassifier(lr=1e-2, epochs=2)
    method = _fit(task, epochs=2, classifier=spy)
    d, hidden = task.semantics.shape[1], FAST["hidden"]
    x = method.transform(task.features)
    assert spy.seen_fit.shape == (len(x) + 3 * FAST["n_synthetic"], x.shape[1] + d + hidden)
    with torch.no_grad():
        a_hat, h = method.decoder_(x)
    torch.testing.assert_close(spy.seen_fit[: len(x)], torch.cat([x, a_hat, h], dim=1))
    torch.testing.assert_close(method.classifier_features(x), spy.seen_fit[: len(x)])
    # the paper's ablation without the feature transformation: the classifier reads x
    plain_spy = _SpyClassifier(lr=1e-2, epochs=2)
    plain = _fit(task, epochs=2, classifier=plain_spy, feature_transform=False)
    torch.testing.assert_close(plain_spy.seen_fit[: len(x)], plain.transform(task.features))


# ------------------------------------------------------------------ training


# (the contract on the toy task, check_method, runs for every registered method in tests/test_contract.py)


def test_beats_chance_in_gzsl_on_the_toy_task():
    # GZSL chance: 1/10 candidates on both sides; measured U 0.58 / S 0.49 / H 0.53
    check_generative_beats_chance(lambda: TFVAEGAN(**FAST), {"gzsl/unseen": 0.3, "gzsl/seen": 0.3, "gzsl/h": 0.35})


def test_fresh_noise_decoder_learning_and_fixed_penalty_paths_train_too():
    """FLO's setting (no encoded noise, the decoder learns from fakes) and a fixed λ."""
    task, test, labels = contract_task()
    flo_like = _fit(task, encoded_noise=False, freeze_decoder=False, adaptive_gp=False)
    assert zsl_top1(flo_like, task, test, labels) >= CHANCE + 0.2
    assert {r["gp_weight"] for r in flo_like.train_log_ if r["stage"] == "generator"} == {10.0}


def test_training_log_has_every_loss_each_epoch_and_the_penalty_weight_adapts():
    keys = {"loss_d", "wasserstein", "gp", "loss_g_adv", "bce", "kl", "sem_real", "sem_fake", "gp_weight"}
    rows = check_training_log(_fit(epochs=3), keys)
    # the authors' controller: λ · 1.1^k, k moving by ±1 per generator step
    assert rows[-1]["gp_weight"] != 10.0
    k = np.log(rows[-1]["gp_weight"] / 10.0) / np.log(1.1)
    assert k == pytest.approx(round(k), abs=1e-6)


def test_any_semantics_attributes_a_dense_matrix_and_a_kg_embedding():
    """The toy KG's binary attributes, a dense real-valued matrix of another size (``precomputed``-like),
    and class embeddings of the toy ontology from a KG encoder (TransE)."""
    from kgzsl.registry import SEMANTICS
    from kgzsl.testing import toy_kg

    task, test, labels = contract_task()
    assert zsl_top1(_fit(task), task, test, labels) >= CHANCE + margin_for("tf_vaegan")
    # a dense matrix with negative entries and another dimension: a random projection of the attributes
    proj = torch.randn(task.semantics.shape[1], 40, generator=torch.Generator().manual_seed(0))
    task.semantics = task.semantics @ proj
    dense = _fit(task)
    assert dense.generator_.fc1.in_features == 2 * 40  # [z; a], latent = the semantics' size
    assert zsl_top1(dense, task, test, labels) >= CHANCE + 0.2
    # TransE on the 11-class toy ontology: it runs (its 16-d class embeddings carry little of the
    # toy features' structure: f_clswgan scores 0.0 / 0.03 on them too, ESZSL chance)
    embedding = SEMANTICS.build("kge", dim=16, epochs=20).encode(
        toy_kg(), toy_dataset(attributes="kg"), context=cpu_context()
    )
    task.semantics = torch.as_tensor(embedding.matrix, dtype=torch.float32)
    with_kge = _fit(task)
    scores = with_kge.decision_function(test)
    assert scores.shape == (len(test), task.num_classes) and torch.isfinite(scores[:, task.candidates]).all()
    assert with_kge.generator_.fc1.in_features == 2 * embedding.matrix.shape[1]


def test_same_seed_same_numbers_other_seed_other_numbers():
    test = torch.as_tensor(toy_dataset().features[:30])
    check_same_seed_same_numbers(lambda: TFVAEGAN(**{**FAST, "epochs": 2}), contract_task()[0], test)


def test_save_load_round_trip(tmp_path: Path):
    method = _fit(epochs=2)
    check_save_load(method, tmp_path, torch.as_tensor(toy_dataset().features[:30]))
    state = method.state_dict()
    assert "critic_" not in state and "encoder_" not in state  # only what scoring and synthesis need


def test_an_interrupted_fit_resumes_to_identical_numbers(tmp_path: Path):
    task = contract_task()[0]
    resumed = check_resume(lambda: TFVAEGAN(**{**FAST, "epochs": 4}), task, tmp_path, epochs=2)
    assert resumed == {"resumed_at": 2, "stage": "generator"}


def test_on_a_small_benchmark_like_stand_in():
    """A small ``synthetic_benchmark``-like task: 2048-d post-ReLU features of 12 classes from their semantics."""
    # measured: ZSL 0.67, GZSL U 0.37 / S 1.0 / H 0.54 (chance: 1/3 ZSL, 1/12 each GZSL side)
    floors = {"zsl/top1": 1 / 3 + 0.25, "gzsl/unseen": 0.2, "gzsl/h": 0.3}
    check_generative_stand_in(lambda: TFVAEGAN(**{**FAST, "epochs": 5}), floors)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_the_context_device(tmp_path: Path):
    task, test, _ = contract_task()
    method = TFVAEGAN(**{**FAST, "epochs": 3}).fit(
        task, classifier=SoftmaxClassifier(lr=1e-2), context=cpu_context().with_(device="cuda")
    )
    scores = method.decision_function(test)
    assert scores.device.type == "cuda" and torch.isfinite(scores[:, task.candidates.cuda()]).all()
    assert method.synthesize(task.unseen, 2).device.type == "cuda"
    method.save(tmp_path / "m.pt")
    on_cpu = TFVAEGAN.load(tmp_path / "m.pt", device="cpu").decision_function(test)
    torch.testing.assert_close(on_cpu, scores.cpu(), rtol=1e-4, atol=1e-4)
