"""CADA-VAE: warm-ups, sampling, the losses against the authors' way of writing them, networks,
presets, the latent training set, training on the toy task and a 2048-d stand-in, any semantics,
determinism, save/load and resume."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kgzsl.classifier import SoftmaxClassifier
from kgzsl.errors import ConfigError
from kgzsl.evaluation import zsl_accuracy
from kgzsl.methods.cada_vae import (
    CADAVAE,
    ModalityDecoder,
    ModalityEncoder,
    aligned_vae_losses,
    sample_latent,
    warmup_weight,
)
from kgzsl.methods.generative import GenerativeMethod
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
    toy_dataset,
    toy_task,
)

FAST = CONTRACT_PARAMS["cada_vae"]
#: a few epochs of tiny networks: for the checks that do not need accuracy
TINY = {**FAST, "epochs": 3, "n_seen": 5, "n_synthetic": 7}


# ------------------------------------------------------------------ schedules and sampling


def test_warmup_weights_follow_the_authors_schedule():
    # β: 0 -> 0.25 over epochs 0-93
    assert warmup_weight(0, 0.25, 0, 93) == 0.0
    assert warmup_weight(50, 0.25, 0, 93) == pytest.approx(0.25 * 50 / 93)
    assert warmup_weight(93, 0.25, 0, 93) == 0.25 and warmup_weight(99, 0.25, 0, 93) == 0.25
    # γ: 0 until epoch 21, 2.37 from epoch 75
    assert warmup_weight(10, 2.37, 21, 75) == 0.0 and warmup_weight(21, 2.37, 21, 75) == 0.0
    assert warmup_weight(48, 2.37, 21, 75) == pytest.approx(2.37 * 27 / 54)
    assert warmup_weight(80, 2.37, 21, 75) == 2.37
    # an empty window switches the weight on at its start
    assert warmup_weight(4, 1.0, 5, 5) == 0.0 and warmup_weight(5, 1.0, 5, 5) == 1.0
    method = CADAVAE()
    assert method.weights(6) == {"beta": pytest.approx(0.25 * 6 / 93), "cross": 0.0, "distance": 0.0}
    assert method.weights(99) == {"beta": 0.25, "cross": 2.37, "distance": 8.13}


def test_authors_sampling_shares_one_noise_per_row_and_scales_by_exp_logvar():
    mu, logvar = torch.randn(6, 5), torch.randn(6, 5)
    g = torch.Generator().manual_seed(0)
    z = sample_latent(mu, logvar, "authors", g)
    ratio = (z - mu) / logvar.exp()  # one ε per row
    torch.testing.assert_close(ratio, ratio[:, :1].expand_as(ratio))
    assert ratio[:, 0].unique().numel() == 6
    again = sample_latent(mu, logvar, "authors", torch.Generator().manual_seed(0))
    assert torch.equal(z, again)


def test_paper_sampling_has_the_encoders_standard_deviation():
    mu = torch.tensor([[1.0, -2.0, 0.5]]).expand(40000, 3)
    logvar = torch.tensor([[0.0, 2.0, -2.0]]).expand(40000, 3)
    z = sample_latent(mu, logvar, "paper", torch.Generator().manual_seed(1))
    torch.testing.assert_close(z.mean(0), mu[0], atol=0.05, rtol=0)
    torch.testing.assert_close(z.std(0), (0.5 * logvar[0]).exp(), atol=0.03, rtol=0)
    assert abs(float(torch.corrcoef(z.T)[0, 1])) < 0.03  # independent noise per dimension


# ------------------------------------------------------------------ losses and networks


def _authors_losses(x, a, z_x, z_a, mu_x, logvar_x, mu_a, logvar_a, dec_x, dec_a):
    """The four terms written as the authors' ``trainstep`` does: a decoder call per use, summed L1 losses."""
    l1 = torch.nn.L1Loss(reduction="sum")
    recon = l1(dec_x(z_x), x) + l1(dec_a(z_a), a)
    cross = l1(dec_x(z_a), x) + l1(dec_a(z_x), a)
    kld = 0.5 * torch.sum(1 + logvar_a - mu_a.pow(2) - logvar_a.exp()) + 0.5 * torch.sum(
        1 + logvar_x - mu_x.pow(2) - logvar_x.exp()
    )
    distance = torch.sqrt(
        torch.sum((mu_x - mu_a) ** 2, dim=1)
        + torch.sum((torch.sqrt(logvar_x.exp()) - torch.sqrt(logvar_a.exp())) ** 2, dim=1)
    ).sum()
    return {"recon": recon, "cross": cross, "kl": -kld, "distance": distance}


def test_losses_equal_the_authors_formulation_and_its_gradients():
    torch.manual_seed(0)
    enc_x, enc_a = ModalityEncoder(12, 16, 4), ModalityEncoder(5, 8, 4)
    dec_x, dec_a = ModalityDecoder(4, 16, 12), ModalityDecoder(4, 8, 5)
    x, a = torch.rand(9, 12), torch.rand(9, 5)

    def terms(fn):
        mu_x, logvar_x = enc_x(x)
        mu_a, logvar_a = enc_a(a)
        g = torch.Generator().manual_seed(3)
        z_x, z_a = sample_latent(mu_x, logvar_x, "authors", g), sample_latent(mu_a, logvar_a, "authors", g)
        if fn is aligned_vae_losses:
            return fn(x, a, z_x, z_a, (mu_x, logvar_x, mu_a, logvar_a), dec_x, dec_a)
        return fn(x, a, z_x, z_a, mu_x, logvar_x, mu_a, logvar_a, dec_x, dec_a)

    ours, ref = terms(aligned_vae_losses), terms(_authors_losses)
    params = [p for m in (enc_x, enc_a, dec_x, dec_a) for p in m.parameters()]
    for key in ("recon", "cross", "kl", "distance"):
        torch.testing.assert_close(ours[key], ref[key])
        assert float(ours[key].detach()) > 0
    total = lambda t: t["recon"] + 0.3 * t["kl"] + 2.0 * t["cross"] + 5.0 * t["distance"]  # noqa: E731
    for p, q in zip(torch.autograd.grad(total(ours), params), torch.autograd.grad(total(ref), params)):
        torch.testing.assert_close(p, q)


def test_networks_follow_the_authors_code():
    enc = ModalityEncoder(20, 30, 6)
    assert [type(m).__name__ for m in enc.hidden] == ["Linear", "ReLU"]
    assert enc.mu.out_features == enc.logvar.out_features == 6
    dec = ModalityDecoder(6, 30, 20)
    assert [type(m).__name__ for m in dec.net] == ["Linear", "ReLU", "Linear"]  # a linear output
    # Xavier-uniform with gain 0.5: |w| <= 0.5 * sqrt(6 / (fan_in + fan_out)); zero biases
    w = enc.hidden[0].weight.detach()
    bound = 0.5 * (6 / (20 + 30)) ** 0.5
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.8 * bound
    assert not enc.hidden[0].bias.any() and not dec.net[2].bias.any()
    method = CADAVAE()
    assert (method.hidden_image_encoder, method.hidden_image_decoder) == (1560, 1660)
    assert (method.hidden_semantic_encoder, method.hidden_semantic_decoder) == (1450, 665)


def test_presets_fill_only_the_keys_left_unset():
    authors = {"epochs": 100, "lr": 1.5e-4, "batch_size": 50, "latent_dim": 64, "n_synthetic": 400, "n_seen": 200}
    for preset in ("awa1", "awa2", "cub", "sun"):
        assert CADAVAE(preset=preset).settings() == authors
    assert CADAVAE().settings() == authors
    cub = CADAVAE(preset="cub", epochs=3, n_synthetic=5)
    assert cub.settings()["epochs"] == 3 and cub.synthetic_per_class() == 5 and cub.settings()["lr"] == 1.5e-4


def test_bad_settings_are_one_config_error():
    with pytest.raises(ConfigError, match=r"method\.preset: expected one of awa1, awa2, cub, sun"):
        METHODS.build("cada_vae", where="method", preset="apy")
    with pytest.raises(ConfigError, match=r"method\.sampling: expected one of authors, paper"):
        METHODS.build("cada_vae", where="method", sampling="textbook")
    with pytest.raises(ConfigError, match=r"method\.distance_weight"):
        METHODS.build("cada_vae", where="method", distance_weight=-1.0)
    with pytest.raises(ConfigError, match=r"method\.cross_end: expected a value ≥ cross_start \(21\)"):
        METHODS.build("cada_vae", where="method", cross_end=10)
    with pytest.raises(ConfigError, match=r"method\.n_seen"):
        METHODS.build("cada_vae", where="method", n_seen=0)


# ------------------------------------------------------------------ the latent training set


class _SpyClassifier(SoftmaxClassifier):
    def fit(self, features, labels, classes, num_classes=None, context=None, **kw):
        self.seen_fit = (features.clone(), labels.clone())
        return super().fit(features, labels, classes, num_classes, context=context, **kw)


def test_the_classifier_learns_on_latent_samples_of_seen_images_and_unseen_semantics():
    task = toy_task()
    spy = _SpyClassifier(epochs=1)
    method = CADAVAE(**TINY).fit(task, classifier=spy, context=cpu_context())
    features, labels = spy.seen_fit
    assert features.shape == (len(task.seen) * 5 + len(task.unseen) * 7, method.latent_dim_)
    counts = torch.bincount(labels, minlength=task.num_classes)
    assert torch.equal(counts[task.seen], torch.full((len(task.seen),), 5))
    assert torch.equal(counts[task.unseen], torch.full((len(task.unseen),), 7))
    # the scored features are latent means of the image encoder
    x = method.transform(task.features[:4])
    torch.testing.assert_close(method.classifier_features(x), method.image_encoder_(x)[0])


def test_seen_latents_come_from_images_of_their_class_each_used_before_any_repeats():
    task = toy_task()
    method = CADAVAE(**TINY).fit(task, classifier=SoftmaxClassifier(epochs=1), context=cpu_context())
    # a zero-variance image encoder: every latent sample is the mean of the image it came from
    torch.nn.init.zeros_(method.image_encoder_.logvar.weight)
    torch.nn.init.constant_(method.image_encoder_.logvar.bias, -60.0)
    x = method.transform(task.features)
    means = method.classifier_features(x)
    sizes = torch.bincount(task.labels)
    n_seen = int(sizes[task.seen].max()) + 3  # more than any class has: every image is cycled
    method.n_seen = n_seen
    z, y = method.classifier_training_set(x, task.labels, task.unseen, torch.Generator().manual_seed(0))
    seen_z, seen_y = z[: len(task.seen) * n_seen], y[: len(task.seen) * n_seen]
    nearest = torch.cdist(seen_z, means).argmin(1)
    assert torch.equal(task.labels[nearest], seen_y)  # each sample is an image of its own class
    for c in task.seen:
        used = torch.bincount(nearest[seen_y == c], minlength=len(x))[task.labels == c]
        assert int(used.min()) >= 1 and int(used.max()) - int(used.min()) <= 1  # cycled evenly
    method.n_seen = 2  # fewer than a class has: distinct images
    z, y = method.classifier_training_set(x, task.labels, task.unseen, torch.Generator().manual_seed(0))
    nearest = torch.cdist(z[: len(task.seen) * 2], means).argmin(1).view(-1, 2)
    assert bool((nearest[:, 0] != nearest[:, 1]).all())


def test_generate_decodes_image_features_from_the_semantics():
    task = toy_task()
    method = CADAVAE(**TINY).fit(task, classifier=SoftmaxClassifier(epochs=1), context=cpu_context())
    fake = method.synthesize(task.unseen, 4, torch.Generator().manual_seed(0))
    assert fake.shape == (len(task.unseen) * 4, task.features.shape[1]) and torch.isfinite(fake).all()
    again = method.synthesize(task.unseen, 4, torch.Generator().manual_seed(0))
    assert torch.equal(fake, again)
    assert 0.0 <= method.metrics_["gen/latent_two_sample_acc"] <= 1.0
    assert 0.0 <= method.metrics_["gen/two_sample_acc"] <= 1.0


def test_training_log_has_every_loss_and_weight_each_epoch():
    method = CADAVAE(**TINY).fit(toy_task(), classifier=SoftmaxClassifier(epochs=1), context=cpu_context())
    rows = check_training_log(method, {"recon", "cross", "kl", "distance", "w_beta", "w_cross", "w_distance"})
    assert [r["w_beta"] for r in rows] == pytest.approx([method.weights(e)["beta"] for e in range(3)])


# ------------------------------------------------------------------ training


# (the contract on the toy task, check_method, runs for every registered method in tests/test_contract.py)


def test_beats_chance_in_zsl_and_gzsl_on_the_toy_task():
    # chance: 1/3 (ZSL), 1/10 candidates (GZSL); measured ZSL 0.92, U 0.90 / S 0.13 / H 0.23
    check_generative_beats_chance(lambda: CADAVAE(**FAST), {"zsl/top1": 0.6, "gzsl/unseen": 0.4, "gzsl/h": 0.18})


def test_any_semantics_attributes_and_a_kg_embedding():
    """The toy KG's attributes (the contract), and class embeddings of the toy ontology (TransE)."""
    from kgzsl.registry import SEMANTICS
    from kgzsl.testing import toy_kg

    task, test, labels = contract_task()
    encoder = SEMANTICS.build("kge", dim=32, epochs=200)  # 20 epochs leave TransE too weak for any method
    embedding = encoder.encode(toy_kg(), toy_dataset(attributes="kg"), context=cpu_context())
    task.semantics = torch.as_tensor(embedding.matrix, dtype=torch.float32)
    method = CADAVAE(**FAST).fit(task, classifier=SoftmaxClassifier(lr=1e-2), context=cpu_context())
    assert method.semantic_encoder_.hidden[0].in_features == embedding.matrix.shape[1]
    scores = method.decision_function(test)
    assert scores.shape == (len(test), task.num_classes) and torch.isfinite(scores[:, task.candidates]).all()
    unseen = np.isin(labels, task.unseen.numpy())
    # measured 0.83 (ESZSL 0.73, f_clswgan 0.86 on the same embedding)
    assert zsl_accuracy(scores[unseen], labels[unseen], task.unseen.numpy()) > CHANCE + 0.25


def test_on_a_small_benchmark_like_stand_in():
    """2048-d post-ReLU features of 12 classes drawn from their semantics (``kgzsl.data.synthetic``)."""
    params = {
        **FAST,
        "epochs": 20,
        "lr": 1e-3,
        "batch_size": 32,
        "latent_dim": 16,
        "hidden_image_encoder": 128,
        "hidden_image_decoder": 128,
        "beta_end": 19,
        "cross_start": 4,
        "cross_end": 15,
        "distance_start": 1,
        "distance_end": 5,
    }
    # chance: ZSL 1/3, GZSL 1/12
    check_generative_stand_in(lambda: CADAVAE(**params), {"zsl/top1": 1 / 3 + 0.25, "gzsl/unseen": 0.4, "gzsl/h": 0.4})


def test_same_seed_same_numbers_other_seed_other_numbers():
    test = torch.as_tensor(toy_dataset().features[:30])
    check_same_seed_same_numbers(
        lambda: CADAVAE(**TINY), toy_task(), test, classifier=lambda: SoftmaxClassifier(epochs=2)
    )


def test_save_load_round_trip(tmp_path: Path):
    method = CADAVAE(**TINY).fit(toy_task(), classifier=SoftmaxClassifier(epochs=2), context=cpu_context())
    check_save_load(method, tmp_path, torch.as_tensor(toy_dataset().features[:30]))
    state = method.state_dict()
    assert {"image_encoder_", "semantic_encoder_", "image_decoder_"} <= set(state)
    assert not any("semantic_decoder" in k for k in state)  # only needed to train


def test_an_interrupted_fit_resumes_to_the_same_numbers(tmp_path: Path):
    resumed = check_resume(lambda: CADAVAE(**{**TINY, "epochs": 4}), toy_task(), tmp_path, epochs=2)
    assert resumed == {"resumed_at": 2, "stage": "generator"}


def test_registered_with_classifier():
    assert METHODS.get("cada_vae") is CADAVAE
    assert CADAVAE.uses_classifier is True and issubclass(CADAVAE, GenerativeMethod)
    assert set(FAST) <= set(METHODS.defaults("cada_vae"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_the_context_device(tmp_path: Path):
    task = toy_task(device="cpu")
    method = CADAVAE(**TINY).fit(
        task, classifier=SoftmaxClassifier(epochs=2), context=cpu_context().with_(device="cuda")
    )
    test = torch.as_tensor(toy_dataset().features[:30])
    scores = method.decision_function(test)
    assert scores.device.type == "cuda" and scores.shape[1] == task.num_classes
    assert method.image_encoder_.mu.weight.device.type == "cuda"
    method.save(tmp_path / "m.pt")
    loaded = CADAVAE.load(tmp_path / "m.pt", device="cpu")
    torch.testing.assert_close(loaded.decision_function(test), scores.cpu(), rtol=1e-4, atol=1e-4)
    assert method.synthesize(task.unseen, 2).device.type == "cuda"
