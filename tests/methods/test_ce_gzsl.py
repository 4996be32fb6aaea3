"""CE-GZSL: matrix-form contrastive losses against per-sample loops, presets, training, any semantics, resume."""

from pathlib import Path

import pytest
import torch

from kgzsl.classifier import SoftmaxClassifier
from kgzsl.errors import ConfigError
from kgzsl.methods.ce_gzsl import (
    CEGZSL,
    Comparator,
    EmbeddingNet,
    _PairMLP,
    class_contrastive_loss,
    instance_contrastive_loss,
    pair_scores,
)
from kgzsl.methods.f_clswgan import Critic, Generator
from kgzsl.registry import METHODS
from kgzsl.testing import (
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

FAST = CONTRACT_PARAMS["ce_gzsl"]


# ------------------------------------------------------------------ the losses against per-sample loops


def _loop_instance_loss(z, labels, temperature):
    """The supervised contrastive loss anchor by anchor, term by term (the paper's formula)."""
    terms = []
    for i in range(z.shape[0]):
        others = [k for k in range(z.shape[0]) if k != i]
        positives = [p for p in others if labels[p] == labels[i]]
        if not positives:  # an anchor alone in its class is left out
            continue
        denominator = sum(torch.exp(z[i] @ z[k] / temperature) for k in others)
        logs = [torch.log(torch.exp(z[i] @ z[p] / temperature) / denominator) for p in positives]
        terms.append(-sum(logs) / len(positives))
    return sum(terms) / len(terms)


def _loop_class_loss(comparator, h, semantics, labels, temperature):
    """The class-level loss one sample at a time, as the authors' ``class_scores_for_loop``: F on
    ``[h_i repeated; a_j]`` for every seen class, then a softmax cross-entropy."""
    rows = []
    for i in range(h.shape[0]):
        pairs = torch.cat([h[i].repeat(semantics.shape[0], 1), semantics], dim=1)
        rows.append(comparator(pairs).squeeze(1) / temperature)
    scores = torch.stack(rows)
    log_p = scores - scores.max(1, keepdim=True).values
    log_p = log_p - log_p.exp().sum(1, keepdim=True).log()
    return -log_p[torch.arange(len(labels)), labels].mean()


def _close(a, b):
    """Equal to 1e-6, absolute or relative (float32 gradients of size ~4 differ by one ulp, 5e-7)."""
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_instance_loss_equals_a_per_sample_loop_with_its_gradients(dtype):
    torch.manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(12, 5, dtype=dtype), dim=1).requires_grad_(True)
    labels = torch.tensor([0, 1, 0, 2, 1, 1, 3, 0, 2, 4, 1, 0])  # classes 3 and 4 have one row: no positive
    ours = instance_contrastive_loss(z, labels, 0.1)
    ref = _loop_instance_loss(z, labels, 0.1)
    _close(ours, ref)
    (g_ours,) = torch.autograd.grad(ours, z)
    (g_ref,) = torch.autograd.grad(ref, z)
    _close(g_ours, g_ref)
    assert g_ours[6].abs().sum() > 0  # a lone row is still a negative for the others


def test_instance_loss_with_no_positive_pair_is_zero_not_nan():
    z = torch.nn.functional.normalize(torch.randn(4, 3), dim=1).requires_grad_(True)
    loss = instance_contrastive_loss(z, torch.arange(4), 0.1)
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(z.grad).all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_class_loss_equals_a_per_sample_loop_with_its_gradients(dtype):
    torch.manual_seed(1)
    comparator = Comparator(embed_dim=6, n_semantics=4, hidden=9).to(dtype)
    for p in comparator.parameters():  # away from N(0, 0.02) so that the scores spread
        torch.nn.init.normal_(p, 0.0, 0.7)
    h = torch.relu(torch.randn(10, 6, dtype=dtype)).requires_grad_(True)
    a = torch.rand(5, 4, dtype=dtype).requires_grad_(True)
    labels = torch.tensor([0, 4, 2, 2, 1, 3, 0, 4, 1, 1])
    ours = class_contrastive_loss(comparator, h, a, labels, 0.1)
    ref = _loop_class_loss(comparator, h, a, labels, 0.1)
    _close(ours, ref)
    inputs = [h, a, *comparator.parameters()]
    for g_ours, g_ref in zip(torch.autograd.grad(ours, inputs), torch.autograd.grad(ref, inputs)):
        _close(g_ours, g_ref)


def test_pair_scores_in_chunks_pass_gradcheck_and_equal_the_concatenated_layer():
    torch.manual_seed(2)
    p = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    q = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, dtype=torch.float64, requires_grad=True)
    for chunk in (1, 2, 7, 100):  # chunks that split the batch unevenly, and one chunk for all
        assert torch.autograd.gradcheck(lambda p, q, w, chunk=chunk: _PairMLP.apply(p, q, w, 0.2, chunk), (p, q, w))
    comparator = Comparator(4, 3, hidden=8)
    h, a = torch.rand(6, 4), torch.rand(5, 3)
    pairs = torch.cat([h.repeat_interleave(5, 0), a.repeat(6, 1)], dim=1)
    _close(pair_scores(comparator, h, a), comparator(pairs).view(6, 5))


def test_networks_follow_the_authors_code():
    net = EmbeddingNet(10, embed_dim=8, proj_dim=3)
    h, z = net(torch.rand(4, 10))
    assert h.shape == (4, 8) and (h >= 0).all() and z.shape == (4, 3)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(4))
    assert net.fc1.weight.std().item() == pytest.approx(0.02, rel=0.4) and not net.fc1.bias.any()
    comparator = Comparator(8, 5, hidden=6)
    assert comparator.fc_h.in_features == 8 and comparator.fc_a.in_features == 5 and comparator.fc_a.bias is None
    assert comparator.fc2.out_features == 1 and comparator.slope == 0.2


# ------------------------------------------------------------------ presets and settings


def test_presets_fill_only_the_keys_left_unset():
    awa2 = CEGZSL(preset="awa2").settings()
    assert awa2 == {
        "epochs": 130,
        "lr": 1e-4,
        "lr_decay_epoch": 10,
        "batch_size": 2048,
        "n_synthetic": 2400,
        "noise_dim": None,
        "comparator_hidden": 2048,
        "ins_weight": 0.001,
        "cls_weight": 0.001,
    }
    sun = CEGZSL(preset="sun", epochs=3, batch_size=1024)
    assert sun.settings()["epochs"] == 3 and sun.settings()["batch_size"] == 1024 and sun.settings()["lr"] == 5e-5
    assert sun.synthetic_per_class() == 100 and sun.settings()["comparator_hidden"] == 1024
    assert CEGZSL(preset="flo").settings()["noise_dim"] == 512
    assert CEGZSL(preset="awa1").settings()["lr_decay_epoch"] == 50
    assert CEGZSL(preset="cub").settings()["epochs"] == 450
    plain = CEGZSL().settings()
    assert plain["batch_size"] == 2048 and plain["n_synthetic"] == 100 and plain["lr_decay_epoch"] == 100


def test_bad_settings_are_one_config_error():
    with pytest.raises(ConfigError, match=r"method\.preset: expected one of awa1, awa2, cub, flo, sun, got 'apy'"):
        METHODS.build("ce_gzsl", where="method", preset="apy")
    with pytest.raises(ConfigError, match=r"method\.ins_weight"):
        METHODS.build("ce_gzsl", where="method", ins_weight=-1.0)
    with pytest.raises(ConfigError, match=r"method\.cls_temp"):
        METHODS.build("ce_gzsl", where="method", cls_temp=0.0)
    with pytest.raises(ConfigError, match=r"method\.critic_steps"):
        METHODS.build("ce_gzsl", where="method", critic_steps=0)
    with pytest.raises(ConfigError, match=r"method\.lr_decay_epoch"):
        METHODS.build("ce_gzsl", where="method", lr_decay_epoch=0)


# ------------------------------------------------------------------ training


def _fit(task=None, seed=0, **params):
    task = toy_task() if task is None else task
    method = CEGZSL(**{**FAST, **params})
    return method.fit(task, classifier=SoftmaxClassifier(lr=1e-2), context=cpu_context(seed))


# (the contract on the toy task, check_method, runs for every registered method in tests/test_contract.py)


def test_the_classifier_reads_the_embedding():
    method = _fit(epochs=1)
    assert method.classifier_.module_.in_features == FAST["embed_dim"]
    x = torch.rand(5, toy_task().features.shape[1])
    torch.testing.assert_close(method.classifier_features(x), method.embedding_(x)[0])


def test_beats_chance_in_gzsl_on_the_toy_task():
    # GZSL chance: 1/10 candidates for both sides; U 0.37, S 0.50, H 0.43 measured
    check_generative_beats_chance(lambda: CEGZSL(**FAST), {"gzsl/unseen": 0.25, "gzsl/seen": 0.25, "gzsl/h": 0.3})


def test_any_semantics_a_kg_embedding_besides_attributes():
    """Class embeddings of the toy ontology from a KG encoder (TransE) instead of the attributes the
    other tests use: the method trains and scores on any semantics."""
    from kgzsl.registry import SEMANTICS
    from kgzsl.testing import toy_kg

    task, test, labels = contract_task()
    encoder = SEMANTICS.build("kge", dim=16, epochs=20)
    embedding = encoder.encode(toy_kg(), toy_dataset(attributes="kg"), context=cpu_context())
    task.semantics = torch.as_tensor(embedding.matrix, dtype=torch.float32)
    with_kge = CEGZSL(**FAST).fit(task, classifier=SoftmaxClassifier(lr=1e-2), context=cpu_context())
    scores = with_kge.decision_function(test)
    assert scores.shape == (len(test), task.num_classes) and torch.isfinite(scores[:, task.candidates]).all()
    assert with_kge.generator_.net[0].in_features == 2 * embedding.matrix.shape[1]  # noise of the semantics' size
    rows = [r for r in with_kge.train_log_ if r["stage"] == "generator"]
    assert len(rows) == FAST["epochs"] and rows[-1]["cls_real"] < rows[0]["cls_real"]  # it learned the classes
    # (ZSL accuracy is not asserted: the toy features follow the attributes, which a 20-epoch
    # TransE of the toy graph's structure does not carry; 0.08 measured, 1/3 is chance)


def test_training_log_has_every_loss_each_epoch():
    keys = {"loss_d", "wasserstein", "gp", "ins_real", "cls_real", "ins_fake", "cls_fake"}
    check_training_log(_fit(epochs=3), keys)


def test_learning_rates_decay_every_lr_decay_epoch(tmp_path: Path):
    method = CEGZSL(**{**FAST, "epochs": 5, "lr_decay_epoch": 2, "lr_decay": 0.5, "fidelity": False})
    method.fit(toy_task(), classifier=SoftmaxClassifier(lr=1e-2), context=cpu_context(checkpoints=tmp_path))
    state = torch.load(tmp_path / "generator.pt", weights_only=False)["state"]
    for opt in ("opt_d", "opt_g"):
        assert state[opt]["param_groups"][0]["lr"] == pytest.approx(FAST["lr"] * 0.25)  # after epochs 2 and 4


def test_same_seed_same_numbers_other_seed_other_numbers():
    test = torch.as_tensor(toy_dataset().features[:30])
    check_same_seed_same_numbers(lambda: CEGZSL(**{**FAST, "epochs": 2}), toy_task(), test)


def test_save_load_round_trip(tmp_path: Path):
    method = _fit(epochs=2)
    check_save_load(method, tmp_path, torch.as_tensor(toy_dataset().features[:30]))
    assert {"generator_", "embedding_"} <= set(method.state_dict())
    assert not any(isinstance(v, (Critic, Comparator)) for v in method.state_dict().values())  # training only


def test_an_interrupted_fit_resumes_and_ends_identical(tmp_path: Path):
    info = check_resume(lambda: CEGZSL(**{**FAST, "epochs": 3, "fidelity": False}), toy_task(), tmp_path, epochs=2)
    assert info == {"resumed_at": 2, "stage": "generator"}


def test_generator_is_f_clswgans():
    method = _fit(epochs=1)
    assert type(method.generator_) is Generator and method.noise_dim_ == toy_task().semantics.shape[1]


def test_on_a_small_benchmark_like_stand_in():
    """A small ``synthetic_benchmark``-like task: 2048-d post-ReLU features of 12 classes from their semantics."""
    # about 3 synthetic features per real one of a seen class, as the authors' AWA2 setting (2400 vs ~600):
    # with 30 (as many as real ones) the classifier told the synthetic from the real, GZSL H 0.03
    params = {**FAST, "epochs": 12, "n_synthetic": 100}
    # 0.68 and 0.79 measured (U 0.68, S 0.96)
    check_generative_stand_in(lambda: CEGZSL(**params), {"zsl/top1": 1 / 3 + 0.25, "gzsl/h": 0.5})


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_the_context_device(tmp_path: Path):
    task = toy_task(device="cpu")
    method = CEGZSL(**{**FAST, "epochs": 3}).fit(
        task, classifier=SoftmaxClassifier(epochs=2), context=cpu_context().with_(device="cuda")
    )
    test = torch.as_tensor(toy_dataset().features[:30])
    scores = method.decision_function(test)
    assert scores.device.type == "cuda" and scores.shape[1] == task.num_classes
    assert method.embedding_.fc1.weight.device.type == "cuda"
    method.save(tmp_path / "m.pt")
    loaded = CEGZSL.load(tmp_path / "m.pt", device="cpu")
    torch.testing.assert_close(loaded.decision_function(test), scores.cpu(), rtol=1e-4, atol=1e-4)
    assert method.synthesize(task.unseen, 2).device.type == "cuda"
    # the matrix-form class-level loss on the GPU equals the per-sample loop there too
    comparator = Comparator(6, 4, hidden=9).cuda().double()
    h = torch.rand(10, 6, dtype=torch.float64, device="cuda")
    a = torch.rand(5, 4, dtype=torch.float64, device="cuda")
    labels = torch.tensor([0, 4, 2, 2, 1, 3, 0, 4, 1, 1], device="cuda")
    _close(class_contrastive_loss(comparator, h, a, labels, 0.1), _loop_class_loss(comparator, h, a, labels, 0.1))
