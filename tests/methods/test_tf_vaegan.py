"""tf-VAEGAN: losses, networks, the feedback's two-pass generation, the classifier's features, presets,
training on two kinds of semantics and a benchmark-like stand-in, determinism, save/load, resume."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kgzsl.classifier import SoftmaxClassifier
from kgzsl.context import RunContext
from kgzsl.errors import ConfigError
from kgzsl.methods.base import ZSLTask
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
from kgzsl.testing import CHANCE, CONTRACT_PARAMS, contract_task, margin_for, toy_dataset

FAST = CONTRACT_PARAMS["tf_vaegan"]


def _ctx(seed: int = 0, **kw) -> RunContext:
    return RunContext(seed=seed, device="cpu", progress=False, **kw)


def _fit(task=None, seed=0, classifier=None, **params):
    task = contract_task()[0] if task is None else task
    method = TFVAEGAN(**{**FAST, **params})
    return method.fit(task, classifier=classifier or SoftmaxClassifier(lr=1e-2), context=_ctx(seed))


def _zsl(method, task, test, labels) -> float:
    from kgzsl.evaluation import zsl_accuracy

    unseen, labels = task.unseen.numpy(), np.asarray(labels)
    keep = np.isin(labels, unseen)
    return float(zsl_accuracy(method.decision_function(test[keep]).numpy(), labels[keep], unseen))


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


def test_contract_on_the_toy_task(tmp_path: Path):
    from kgzsl.testing import check_method

    measured = check_method(lambda: TFVAEGAN(**FAST), tmp_path)
    assert measured["zsl_top1"] >= CHANCE + margin_for("tf_vaegan")


def test_beats_chance_in_gzsl_on_the_toy_task():
    from kgzsl.evaluation import Evaluator

    ds = toy_dataset(attributes="kg")
    task, _, _ = contract_task()
    method = _fit(task)
    ts, tu = ds.splits["test_seen"], ds.splits["test_unseen"]
    ts = ts[ds.labels[ts] != 7]  # the contract task's class outside the candidates
    ev = Evaluator(ds.num_classes, task.seen.numpy(), task.unseen.numpy())
    scores = lambda idx: method.decision_function(torch.as_tensor(ds.features[idx]))  # noqa: E731
    m = ev.evaluate(scores(ts), ds.labels[ts], scores(tu), ds.labels[tu])
    # GZSL chance: 1/10 candidates on both sides; measured U 0.58 / S 0.49 / H 0.53
    assert m["gzsl/unseen"] > 0.3 and m["gzsl/seen"] > 0.3 and m["gzsl/h"] > 0.35


def test_fresh_noise_decoder_learning_and_fixed_penalty_paths_train_too():
    """FLO's setting (no encoded noise, the decoder learns from fakes) and a fixed λ."""
    task, test, labels = contract_task()
    flo_like = _fit(task, encoded_noise=False, freeze_decoder=False, adaptive_gp=False)
    assert _zsl(flo_like, task, test, labels) >= CHANCE + 0.2
    assert {r["gp_weight"] for r in flo_like.train_log_ if r["stage"] == "generator"} == {10.0}


def test_training_log_has_every_loss_each_epoch_and_the_penalty_weight_adapts():
    method = _fit(epochs=3)
    rows = [r for r in method.train_log_ if r["stage"] == "generator"]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    keys = {"loss_d", "wasserstein", "gp", "loss_g_adv", "bce", "kl", "sem_real", "sem_fake", "gp_weight"}
    assert keys <= set(rows[0])
    assert all(np.isfinite(v) for r in rows for k, v in r.items() if k != "stage")
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
    assert _zsl(_fit(task), task, test, labels) >= CHANCE + margin_for("tf_vaegan")
    # a dense matrix with negative entries and another dimension: a random projection of the attributes
    proj = torch.randn(task.semantics.shape[1], 40, generator=torch.Generator().manual_seed(0))
    task.semantics = task.semantics @ proj
    dense = _fit(task)
    assert dense.generator_.fc1.in_features == 2 * 40  # [z; a], latent = the semantics' size
    assert _zsl(dense, task, test, labels) >= CHANCE + 0.2
    # TransE on the 11-class toy ontology: it runs (its 16-d class embeddings carry little of the
    # toy features' structure: f_clswgan scores 0.0 / 0.03 on them too, ESZSL chance)
    embedding = SEMANTICS.build("kge", dim=16, epochs=20).encode(toy_kg(), toy_dataset(attributes="kg"), context=_ctx())
    task.semantics = torch.as_tensor(embedding.matrix, dtype=torch.float32)
    with_kge = _fit(task)
    scores = with_kge.decision_function(test)
    assert scores.shape == (len(test), task.num_classes) and torch.isfinite(scores[:, task.candidates]).all()
    assert with_kge.generator_.fc1.in_features == 2 * embedding.matrix.shape[1]


def test_same_seed_same_numbers_other_seed_other_numbers():
    test = torch.as_tensor(toy_dataset().features[:30])
    a = _fit(seed=0, epochs=2).decision_function(test)
    b = _fit(seed=0, epochs=2).decision_function(test)
    c = _fit(seed=1, epochs=2).decision_function(test)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_save_load_round_trip(tmp_path: Path):
    method = _fit(epochs=2)
    method.save(tmp_path / "m.pt")
    loaded = TFVAEGAN.load(tmp_path / "m.pt")
    test = torch.as_tensor(toy_dataset().features[:30])
    assert torch.equal(loaded.decision_function(test), method.decision_function(test))
    assert loaded.get_params() == method.get_params()
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    assert torch.equal(loaded.synthesize([8, 9], 3, g1), method.synthesize([8, 9], 3, g2))
    state = method.state_dict()
    assert "critic_" not in state and "encoder_" not in state  # only what scoring and synthesis need


def test_an_interrupted_fit_resumes_to_identical_numbers(tmp_path: Path):
    from kgzsl.testing import check_resume

    task = contract_task()[0]
    resumed = check_resume(lambda: TFVAEGAN(**{**FAST, "epochs": 4}), task, tmp_path, epochs=2)
    assert resumed == {"resumed_at": 2, "stage": "generator"}


def test_on_a_small_benchmark_like_stand_in():
    """A small ``synthetic_benchmark``-like task: 2048-d post-ReLU features of 12 classes from their semantics."""
    from kgzsl.data.dataset import ZSLDataset, standard_splits
    from kgzsl.data.synthetic import synthesize_features
    from kgzsl.evaluation import Evaluator

    rng = np.random.default_rng(0)
    semantics = (rng.random((12, 24)) < 0.3).astype(np.float32)
    features, labels = synthesize_features(semantics, np.full(12, 40), n_features=2048, hidden=32, seed=1)
    seen = np.arange(9)
    ds = ZSLDataset(
        name="stand-in",
        features=features,
        labels=labels,
        class_ids=[f"c{i}" for i in range(12)],
        seen=seen,
        unseen=np.arange(9, 12),
        splits=standard_splits(labels, seen, seed=2),
        semantics={"attributes": semantics},
        synthetic=True,
    )
    tv = ds.splits["trainval"]
    task = ZSLTask(
        torch.as_tensor(ds.features[tv]),
        torch.as_tensor(ds.labels[tv]),
        torch.as_tensor(semantics),
        torch.as_tensor(ds.seen),
        torch.as_tensor(ds.unseen),
    )
    method = TFVAEGAN(**{**FAST, "epochs": 5}).fit(task, classifier=SoftmaxClassifier(lr=1e-3), context=_ctx())
    ts, tu = ds.splits["test_seen"], ds.splits["test_unseen"]
    ev = Evaluator(12, ds.seen, ds.unseen)
    m = ev.evaluate(
        method.decision_function(torch.as_tensor(ds.features[ts])),
        ds.labels[ts],
        method.decision_function(torch.as_tensor(ds.features[tu])),
        ds.labels[tu],
    )
    # measured: ZSL 0.67, GZSL U 0.37 / S 1.0 / H 0.54 (chance: 1/3 ZSL, 1/12 each GZSL side)
    assert m["zsl/top1"] > 1 / 3 + 0.25 and m["gzsl/unseen"] > 0.2 and m["gzsl/h"] > 0.3


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_the_context_device(tmp_path: Path):
    task, test, _ = contract_task()
    method = TFVAEGAN(**{**FAST, "epochs": 3}).fit(
        task, classifier=SoftmaxClassifier(lr=1e-2), context=_ctx().with_(device="cuda")
    )
    scores = method.decision_function(test)
    assert scores.device.type == "cuda" and torch.isfinite(scores[:, task.candidates.cuda()]).all()
    assert method.synthesize(task.unseen, 2).device.type == "cuda"
    method.save(tmp_path / "m.pt")
    on_cpu = TFVAEGAN.load(tmp_path / "m.pt", device="cpu").decision_function(test)
    torch.testing.assert_close(on_cpu, scores.cpu(), rtol=1e-4, atol=1e-4)
