"""tf-VAEGAN: a VAE-GAN feature generator with a semantic decoder whose latent embedding feeds back into it."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from kgzsl.context import RunContext, derive_seed
from kgzsl.errors import ConfigError
from kgzsl.methods.base import ZSLTask
from kgzsl.methods.f_clswgan import Critic
from kgzsl.methods.generative import GenerativeMethod
from kgzsl.registry import METHODS

__all__ = [
    "TFVAEGAN",
    "TFVAEGAN_PRESETS",
    "Encoder",
    "FeedbackGenerator",
    "SemanticDecoder",
    "Feedback",
    "weighted_l1",
    "normalize_rows",
]


def _init_weights(module: nn.Module) -> None:
    """The authors' initialisation: weights ~ N(0, 0.02), biases 0."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        nn.init.zeros_(module.bias)


def normalize_rows(a: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit L2 norm (zero rows stay zero), as the authors' loader does to the semantics."""
    return a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)


def weighted_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The semantic decoder's reconstruction loss of the authors' code (``WeightedL1``).

    Per row, the absolute errors weighted by their squares over the error's L2 norm,
    ``Σ_j (d_j² / ‖d‖₂) |d_j|`` with ``d = pred − target``, averaged over rows (the weights
    are not detached, as in the authors' code; a zero error row contributes 0, with zero
    gradient).

    Shapes:
        pred, target: ``[B, d]`` → a scalar.
    """
    d = pred - target
    sq = d.pow(2)
    w = sq / sq.sum(1, keepdim=True).clamp_min(1e-24).sqrt()  # clamped before the root: finite gradients at 0
    return (w * d.abs()).sum() / pred.shape[0]


class Encoder(nn.Module):
    """``q(z | x, a)``: ``[x; a] → hidden LeakyReLU → 2·latent LeakyReLU → (μ, log σ²)`` (the authors' ``Encoder``)."""

    def __init__(self, n_features: int, n_semantics: int, hidden: int, latent: int, device: Any = None):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features + n_semantics, hidden, device=device),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 2 * latent, device=device),
            nn.LeakyReLU(0.2),
        )
        self.mean = nn.Linear(2 * latent, latent, device=device)
        self.log_var = nn.Linear(2 * latent, latent, device=device)
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.net(torch.cat([x, a], dim=1))
        return self.mean(h), self.log_var(h)


class FeedbackGenerator(nn.Module):
    """``G(z, a)``, the GAN's generator and the VAE's decoder: ``[z; a] → hidden LeakyReLU → D sigmoid``.

    The feedback enters at the hidden layer: ``x̃ = sigmoid(W₂ (h + δ · f) + b₂)`` with
    ``h = LeakyReLU(W₁ [z; a] + b₁)`` and ``f`` the feedback module's output (the authors'
    ``Generator`` with ``feedback_layers``).
    """

    def __init__(self, latent: int, n_semantics: int, hidden: int, n_features: int, device: Any = None):
        super().__init__()
        self.fc1 = nn.Linear(latent + n_semantics, hidden, device=device)
        self.fc2 = nn.Linear(hidden, n_features, device=device)
        self.act = nn.LeakyReLU(0.2)
        self.apply(_init_weights)

    def hidden(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """``h = LeakyReLU(W₁ [z; a] + b₁)``: ``[B, latent] , [B, d] → [B, hidden]``."""
        return self.act(self.fc1(torch.cat([z, a], dim=1)))

    def output(self, h: torch.Tensor) -> torch.Tensor:
        """``sigmoid(W₂ h + b₂)``: ``[B, hidden] → [B, D]`` features in ``[0, 1]``."""
        return torch.sigmoid(self.fc2(h))

    def forward(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return self.output(self.hidden(z, a))


class SemanticDecoder(nn.Module):
    """The semantic embedding decoder ``Dec``: ``x → hidden LeakyReLU (h) → d``, L2-normalised.

    The authors' ``AttDec`` (unconditional, no sigmoid).
    """

    def __init__(self, n_features: int, hidden: int, n_semantics: int, device: Any = None):
        super().__init__()
        self.fc1 = nn.Linear(n_features, hidden, device=device)
        self.fc2 = nn.Linear(hidden, n_semantics, device=device)
        self.act = nn.LeakyReLU(0.2)
        self.apply(_init_weights)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The latent embedding ``h`` the feedback and the classifier read: ``[B, D] → [B, hidden]``."""
        return self.act(self.fc1(x))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(â, h)``: the reconstructed semantics ``[B, d]`` (unit rows) and the hidden layer ``[B, hidden]``."""
        h = self.hidden(x)
        return normalize_rows(self.fc2(h)), h


class Feedback(nn.Module):
    """The feedback module ``F``: ``h → hidden LeakyReLU → hidden LeakyReLU`` (the authors' ``Feedback``)."""

    def __init__(self, hidden: int, device: Any = None):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(hidden, hidden, device=device),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden, device=device),
            nn.LeakyReLU(0.2),
        )
        self.apply(_init_weights)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


#: the authors' per-dataset settings, from ``akshitac8/tfvaegan@a0de81c:scripts/run_{awa,cub,flo,sun}_tfvaegan.py``
#: (SUN passes no ``--dec_lr``: the code's default 1e-4). ``n_synthetic`` is their ``syn_num``.
TFVAEGAN_PRESETS: dict[str, dict[str, Any]] = {
    "awa2": {
        "epochs": 120,
        "lr": 1e-5,
        "n_synthetic": 1800,
        "gamma_d": 10.0,
        "gamma_g": 10.0,
        "recons_weight": 0.1,
        "feedback_weight": 0.01,
        "synthesis_feedback_weight": 0.01,
        "feedback_lr": 1e-4,
        "decoder_lr": 1e-4,
        "encoded_noise": True,
        "freeze_decoder": True,
    },
    "cub": {
        "epochs": 300,
        "lr": 1e-4,
        "n_synthetic": 300,
        "gamma_d": 10.0,
        "gamma_g": 10.0,
        "recons_weight": 0.01,
        "feedback_weight": 1.0,
        "synthesis_feedback_weight": 1.0,
        "feedback_lr": 1e-5,
        "decoder_lr": 1e-4,
        "encoded_noise": True,
        "freeze_decoder": False,
    },
    "flo": {
        "epochs": 500,
        "lr": 1e-4,
        "n_synthetic": 1200,
        "gamma_d": 10.0,
        "gamma_g": 10.0,
        "recons_weight": 0.01,
        "feedback_weight": 0.5,
        "synthesis_feedback_weight": 0.5,
        "feedback_lr": 1e-5,
        "decoder_lr": 1e-4,
        "encoded_noise": False,
        "freeze_decoder": False,
    },
    "sun": {
        "epochs": 400,
        "lr": 1e-3,
        "n_synthetic": 400,
        "gamma_d": 1.0,
        "gamma_g": 1.0,
        "recons_weight": 0.01,
        "feedback_weight": 0.1,
        "synthesis_feedback_weight": 0.01,
        "feedback_lr": 1e-4,
        "decoder_lr": 1e-4,
        "encoded_noise": True,
        "freeze_decoder": False,
    },
}


@METHODS.register("tf_vaegan")
class TFVAEGAN(GenerativeMethod):
    """tf-VAEGAN: VAE-GAN feature generation with semantic-decoder feedback (Narayan et al., ECCV 2020).

    From "Latent Embedding Feedback and Discriminative Features for Zero-Shot Classification"
    (Narayan, Gupta, Khan, Snoek, Shao). Five networks, as in the authors' code
    (``akshitac8/tfvaegan``, ``train_images.py`` and ``networks/TFVAEGAN_model.py``):

    * an encoder ``E(x, a) → (μ, log σ²)`` over ``[x; a]`` (hidden 4096, then ``2 · latent``);
    * a generator ``G(z, a)`` (``[z; a] → 4096 LeakyReLU → D sigmoid``), the VAE's decoder
      and the GAN's generator at once (f-VAEGAN); latent size = the semantics' size;
    * a conditional critic ``D(x, a)`` (``[x; a] → 4096 LeakyReLU → 1``, WGAN-GP);
    * a semantic decoder ``Dec(x) → (â, h)`` (``x → 4096 LeakyReLU = h → d``, unit-norm
      ``â``) trained to reconstruct the class semantics from real and generated features;
    * a feedback module ``F(h)`` (``4096 → 4096 → 4096``, LeakyReLU) whose output is added to
      the generator's hidden layer: ``x̃ = G_out(G_hid(z, a) + δ · F(Dec_hid(G(z, a))))``.

    Losses (per batch of ``B``; ``γ_D``, ``γ_G`` = ``gamma_d``, ``gamma_g``; ``β`` = ``recons_weight``):

    * critic: ``γ_D (E[D(x̃, a)] − E[D(x, a)] + λ · GP)``, GP WGAN-GP's penalty
      (:func:`~kgzsl.methods.f_clswgan.gradient_penalty`), 5 critic steps per generator step,
      each on a fresh batch, each preceded by one step of ``Dec`` on
      ``β · weighted_l1(Dec(x), a)`` (:func:`weighted_l1`);
    * encoder, generator (and feedback): ``BCE(x̂, x)/B + KL(q(z|x,a) ‖ N(0, I))/B
      − γ_G E[D(x̃, a)] + β · weighted_l1(Dec(x̃), a)``, where ``x̂ = G(z ~ q, a)`` and
      ``x̃ = x̂`` with ``encoded_noise`` (the critic's fakes are reconstructions then too),
      else ``G`` of fresh ``z ~ N(0, I)``; ``Dec`` takes this step too unless ``freeze_decoder``.

    Training: every epoch makes ``feedback_loop`` (2) passes of ``⌈N / batch_size⌉`` generator
    steps; the first pass generates without feedback, later ones with feedback weight δ =
    ``feedback_weight`` (the authors' ``a1``), and only they step ``F``. The penalty's weight
    λ adapts as in the authors' code (``adaptive_gp``): after each generator step's critic
    steps, ×1.1 when their mean penalty exceeds 1.05, ÷1.1 when it is below 1.001. Adam with
    β₁ = 0.5 for ``G``, ``D``, ``F`` (``feedback_lr``) and ``Dec`` (``decoder_lr``), the
    authors' default β₁ = 0.9 for ``E``. Synthesis is the two-pass generation with
    δ = ``synthesis_feedback_weight`` (``a2``): ``x̃ = G_out(h + δ · F(Dec_hid(G_out(h))))``,
    ``h = G_hid(z, a)``, ``z ~ N(0, I)``.

    The classifier reads the discriminative features ``[x; â; h]`` with ``(â, h) = Dec(x)``
    (:meth:`classifier_features`; the authors' ``compute_dec_out``: the paper's feature
    transformation concatenates the latent embedding and the reconstructed semantics to the
    feature), for real and synthetic features alike. The shared classifier, its epochs chosen
    on validation and the fidelity checks are :class:`~kgzsl.methods.generative.GenerativeMethod`'s.
    The semantics are L2-normalised per class before use (the authors' loader does; the
    decoder's output has unit rows).

    Presets (``preset:``; a preset fills only the keys left at ``None``, so any key can be
    overridden; the authors' seed and final-classifier learning rate are listed for
    reproduction: set them with ``train.seed`` and ``classifier.lr``; their classifier is a
    softmax of 25 epochs with batch ``n_synthetic``, β₁ 0.5):

    ======  ====  ======  ====  =====  =====  ===  ===========  ======  ======  =====================  =========
    preset  seed  epochs  lr    n_syn  γ_D/G  β    δ train/syn  F lr    Dec lr  flags                  clf. lr
    ======  ====  ======  ====  =====  =====  ===  ===========  ======  ======  =====================  =========
    awa2    9182  120     1e-5  1800   10     0.1  0.01/0.01    1e-4    1e-4    encoded noise, frozen  1e-3
    cub     3483  300     1e-4  300    10     .01  1/1          1e-5    1e-4    encoded noise          1e-3
    flo     806   500     1e-4  1200   10     .01  0.5/0.5      1e-5    1e-4    —                      1e-3
    sun     4115  400     1e-3  400    1      .01  0.1/0.01     1e-4    1e-4    encoded noise          5e-4
    ======  ====  ======  ====  =====  =====  ===  ===========  ======  ======  =====================  =========

    (``frozen``: ``freeze_decoder``.) Every preset uses batch 64, λ 10, 5 critic steps,
    hidden 4096 and 2 feedback passes. aPY has no published tf-VAEGAN setting, so there is no
    ``apy`` preset. Without a preset the AWA2 script's settings apply.

    Deviations from the authors' code: ZSL is scored with the shared GZSL classifier restricted
    to the unseen classes and its epochs are chosen on validation, never on test (the authors
    keep the best test epoch); each epoch's critic batches are consecutive slices of random
    permutations (theirs: an independent random subset per batch); in a pass without
    feedback the encoder and generator passes of the 5 critic steps are one batched pass
    (they do not change during the critic steps); the reconstruction BCE has no ``+1e-12``
    and the weighted L1's norm is clamped at 1e-12 (both only matter at exact zeros; the
    authors' loss has NaN gradients for a row reconstructed exactly).

    Args:
        preset: ``awa2``, ``cub``, ``flo`` or ``sun`` (see the table); ``None``: none.
        epochs: training epochs (each of ``feedback_loop`` passes over the data).
        lr: Adam learning rate of the encoder, the generator and the critic.
        batch_size: mini-batch size (64).
        n_synthetic: synthetic features per unseen class for the shared classifier.
        latent_dim: size of ``z``; ``None``: the semantics' size (the authors' convention).
        gamma_d, gamma_g: weights of the WGAN loss in the critic's and the generator's objective.
        recons_weight: weight β of the semantic decoder's reconstruction loss.
        feedback_weight: the feedback's weight δ during training (``a1``).
        synthesis_feedback_weight: the feedback's weight δ at synthesis (``a2``).
        feedback_lr: Adam learning rate of the feedback module.
        decoder_lr: Adam learning rate of the semantic decoder.
        encoded_noise: the critic's and the generator's fakes decode the encoder's ``z``
            (else fresh ``z ~ N(0, I)``).
        freeze_decoder: the semantic decoder does not learn from generated features.
        hidden: width of the generator's, the decoder's and the feedback's hidden layers (4096).
        encoder_hidden: width of the encoder's hidden layer (4096).
        critic_hidden: width of the critic's hidden layer (4096).
        critic_steps: critic updates per generator update (5).
        gp_weight: initial gradient-penalty weight λ (10).
        adaptive_gp: adapt λ after every generator step as the authors' code does.
        feedback_loop: passes per epoch; the first without feedback (2; 1: no feedback at all,
            neither in training nor at synthesis).
        beta1: Adam's β₁ for all but the encoder (0.5).
        feature_transform: the classifier reads ``[x; â; h]`` (the paper's discriminative feature
            transformation); ``False``: ``x`` alone (the paper's ablation without it).
        fidelity: measure the two-sample score (and plot the t-SNE inside a run).
        seed: seed of initialisation, batches and noise; ``None``: the run's.
        device: where to train and score; ``None``: the run's.

    Attributes:
        generator_, decoder_, feedback_: the trained :class:`FeedbackGenerator`,
            :class:`SemanticDecoder` and :class:`Feedback` (the encoder and the critic are only
            needed to train and are not kept).
        latent_dim_: the size of ``z`` used.
        scale_, min_, semantics_, classifier_, train_log_, selected_, metrics_: see
            :class:`~kgzsl.methods.generative.GenerativeMethod`.

    Shapes:
        fit: a :class:`~kgzsl.methods.base.ZSLTask` with ``features [N, D]``, ``semantics [C, d]``.
        generate: ``[K, d]`` → ``[K · n, D]`` scaled features, class by class.
        classifier_features: ``[N, D]`` → ``[N, D + d + hidden]`` (``[N, D]`` without ``feature_transform``).
        decision_function: ``[N, D]`` → ``[N, C]``, ``-inf`` outside the candidates.
    """

    #: settings a preset may fill, and their values without a preset (the AWA2 script's)
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "epochs": 120,
        "lr": 1e-5,
        "batch_size": 64,
        "n_synthetic": 1800,
        "latent_dim": None,
        "gamma_d": 10.0,
        "gamma_g": 10.0,
        "recons_weight": 0.1,
        "feedback_weight": 0.01,
        "synthesis_feedback_weight": 0.01,
        "feedback_lr": 1e-4,
        "decoder_lr": 1e-4,
        "encoded_noise": True,
        "freeze_decoder": True,
    }
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = TFVAEGAN_PRESETS

    def __init__(
        self,
        preset: str | None = None,
        epochs: int | None = None,
        lr: float | None = None,
        batch_size: int | None = None,
        n_synthetic: int | None = None,
        latent_dim: int | None = None,
        gamma_d: float | None = None,
        gamma_g: float | None = None,
        recons_weight: float | None = None,
        feedback_weight: float | None = None,
        synthesis_feedback_weight: float | None = None,
        feedback_lr: float | None = None,
        decoder_lr: float | None = None,
        encoded_noise: bool | None = None,
        freeze_decoder: bool | None = None,
        hidden: int = 4096,
        encoder_hidden: int = 4096,
        critic_hidden: int = 4096,
        critic_steps: int = 5,
        gp_weight: float = 10.0,
        adaptive_gp: bool = True,
        feedback_loop: int = 2,
        beta1: float = 0.5,
        feature_transform: bool = True,
        fidelity: bool = True,
        seed: int | None = None,
        device: str | None = None,
    ) -> None:
        self.preset = preset
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.n_synthetic = n_synthetic
        self.latent_dim = latent_dim
        self.gamma_d = gamma_d
        self.gamma_g = gamma_g
        self.recons_weight = recons_weight
        self.feedback_weight = feedback_weight
        self.synthesis_feedback_weight = synthesis_feedback_weight
        self.feedback_lr = feedback_lr
        self.decoder_lr = decoder_lr
        self.encoded_noise = encoded_noise
        self.freeze_decoder = freeze_decoder
        self.hidden = hidden
        self.encoder_hidden = encoder_hidden
        self.critic_hidden = critic_hidden
        self.critic_steps = critic_steps
        self.gp_weight = gp_weight
        self.adaptive_gp = adaptive_gp
        self.feedback_loop = feedback_loop
        self.beta1 = beta1
        self.feature_transform = feature_transform
        self.fidelity = fidelity
        self.seed = seed
        self.device = device

    @classmethod
    def check_config(cls, params: dict[str, Any]) -> None:
        """Reject an unknown preset, negative loss weights, and fewer than one critic step or pass."""
        cls.check_preset(params)
        for key in ("gamma_d", "gamma_g", "recons_weight", "gp_weight", "feedback_weight", "synthesis_feedback_weight"):
            value = params.get(key)
            if isinstance(value, (int, float)) and not value >= 0:
                raise ConfigError(f"method.{key}: expected a value ≥ 0, got {value!r}")
        for key in ("critic_steps", "feedback_loop"):
            value = params.get(key)
            if isinstance(value, int) and value < 1:
                raise ConfigError(f"method.{key}: expected a value ≥ 1, got {value!r}")

    # ------------------------------------------------------------------ training
    def fit_generator(self, task: ZSLTask, context: RunContext) -> None:
        """Train encoder, generator, critic, semantic decoder and feedback on the scaled seen-class features."""
        x = task.features
        n, n_features, device = x.shape[0], x.shape[1], x.device
        s = self.settings()
        semantics = normalize_rows(task.semantics)
        attributes = semantics[task.labels]  # [N, d]: each image's conditioning (and Dec's target)
        n_sem = semantics.shape[1]
        latent = int(s["latent_dim"] or n_sem)
        batch, steps = int(s["batch_size"]), int(self.critic_steps)
        gamma_d, gamma_g, beta = float(s["gamma_d"]), float(s["gamma_g"]), float(s["recons_weight"])
        delta = float(s["feedback_weight"])
        encoded, freeze = bool(s["encoded_noise"]), bool(s["freeze_decoder"])
        self.latent_dim_ = latent

        g = torch.Generator(device=device)
        g.manual_seed(derive_seed(context.seed_for(self.seed), "tf_vaegan", "train"))
        encoder = Encoder(n_features, n_sem, self.encoder_hidden, latent, device)
        self.generator_ = FeedbackGenerator(latent, n_sem, self.hidden, n_features, device)
        critic = Critic(n_features, n_sem, self.critic_hidden, device)
        self.decoder_ = SemanticDecoder(n_features, self.hidden, n_sem, device)
        self.feedback_ = Feedback(self.hidden, device)
        gen, dec, fb = self.generator_, self.decoder_, self.feedback_
        # Adam's fused kernel where torch has one (the same update in one pass over each parameter)
        fused = {"betas": (self.beta1, 0.999), "fused": device.type in ("cpu", "cuda")}
        lr = float(s["lr"])
        # the authors' encoder keeps Adam's default β₁ = 0.9
        opt_e = torch.optim.Adam(encoder.parameters(), lr=lr, fused=fused["fused"])
        opt_g = torch.optim.Adam(gen.parameters(), lr=lr, **fused)
        opt_d = torch.optim.Adam(critic.parameters(), lr=lr, **fused)
        opt_f = torch.optim.Adam(fb.parameters(), lr=float(s["feedback_lr"]), **fused)
        opt_dec = torch.optim.Adam(dec.parameters(), lr=float(s["decoder_lr"]), **fused)
        g_steps = -(-n // batch)
        for module in (encoder, gen, critic, dec, fb):
            module.train()

        def sample_z(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
            return mu + torch.randn(mu.shape, device=device, generator=g) * (0.5 * log_var).exp()

        state = {
            "encoder": encoder,
            "generator": gen,
            "critic": critic,
            "decoder": dec,
            "feedback": fb,
            "opt_e": opt_e,
            "opt_g": opt_g,
            "opt_d": opt_d,
            "opt_f": opt_f,
            "opt_dec": opt_dec,
            "rng": g,
        }
        loop = self._training_loop(context, "generator", int(s["epochs"]), state, desc=self.registry_name)
        # λ = gp_weight · 1.1^k: k counts the adaptive steps (an integer: λ recovers exactly, never underflows)
        loop.extra["gp_exponent"] = 0
        for epoch in loop:
            exponent = torch.tensor(loop.extra["gp_exponent"], device=device, dtype=torch.float32)
            totals = torch.zeros(8, device=device)
            for feedback_pass in range(int(self.feedback_loop)):
                with_feedback = feedback_pass >= 1
                need = g_steps * steps * batch
                perms = [torch.randperm(n, device=device, generator=g) for _ in range(-(-need // n))]
                order = torch.cat(perms)[:need].view(g_steps, steps, batch)
                for it in range(g_steps):
                    idx = order[it]  # [steps, batch]
                    flat = idx.reshape(-1)
                    # ---------------- critic steps (and the semantic decoder on real features)
                    with torch.no_grad():  # E and G do not change during the critic steps: one pass for all
                        if encoded:
                            z_all = sample_z(*encoder(x[flat], attributes[flat]))
                        else:
                            z_all = torch.randn(flat.numel(), latent, device=device, generator=g)
                        h_all = gen.hidden(z_all, attributes[flat]).view(steps, batch, -1)
                        x0_all = gen.output(h_all.view(steps * batch, -1)).view(steps, batch, n_features)
                    for p in critic.parameters():
                        p.requires_grad_(True)
                    for p in dec.parameters():
                        p.requires_grad_(True)
                    lam = self.gp_weight * torch.exp(exponent * math.log(1.1))
                    gp_sum = torch.zeros((), device=device)
                    for k in range(steps):
                        xb, ab = x[idx[k]], attributes[idx[k]]
                        sem_real = weighted_l1(dec(xb)[0], ab)
                        opt_dec.zero_grad(set_to_none=True)
                        (beta * sem_real).backward()
                        opt_dec.step()
                        if with_feedback:  # the feedback reads the decoder as it is after this step
                            with torch.no_grad():
                                fake = gen.output(h_all[k] + delta * fb(dec.hidden(x0_all[k])))
                        else:
                            fake = x0_all[k]
                        alpha = torch.rand(batch, 1, device=device, generator=g)
                        d_real, d_fake, gp = critic.scores_and_penalty(xb, fake, ab, alpha)
                        loss_d = gamma_d * (d_fake - d_real + lam * gp)
                        opt_d.zero_grad(set_to_none=True)
                        loss_d.backward()
                        opt_d.step()
                        gp_sum = gp_sum + gp.detach()
                    if self.adaptive_gp:
                        gp_mean = gp_sum / steps
                        exponent = exponent + (gp_mean > 1.05).float() - (gp_mean < 1.001).float()
                    # ---------------- encoder, generator, feedback (and decoder) step
                    for p in critic.parameters():
                        p.requires_grad_(False)
                    if freeze and beta > 0:
                        for p in dec.parameters():
                            p.requires_grad_(False)
                    last = idx[-1]  # the last critic batch, as the authors' code
                    xb, ab = x[last], attributes[last]
                    mu, log_var = encoder(xb, ab)
                    h = gen.hidden(sample_z(mu, log_var), ab)
                    if with_feedback:
                        with torch.no_grad():  # the first pass only feeds the decoder's (detached) hidden layer
                            first = gen.output(h)
                            fb_in = dec.hidden(first)
                        recon = gen.output(h + delta * fb(fb_in))
                    else:
                        recon = gen.output(h)
                    bce = nn.functional.binary_cross_entropy(recon, xb, reduction="sum") / batch
                    kl = -0.5 * (1.0 + log_var - mu.pow(2) - log_var.exp()).sum() / batch
                    if encoded:
                        fake = recon
                    else:
                        hn = gen.hidden(torch.randn(batch, latent, device=device, generator=g), ab)
                        if with_feedback:  # the authors feed back the decoder's hidden layer of the reconstruction
                            with torch.no_grad():
                                fb_in = dec.hidden(recon)
                            fake = gen.output(hn + delta * fb(fb_in))
                        else:
                            fake = gen.output(hn)
                    adv = -critic(fake, ab).mean()
                    sem_fake = weighted_l1(dec(fake)[0], ab)
                    loss_g = bce + kl + gamma_g * adv + beta * sem_fake
                    for opt in (opt_e, opt_g, opt_f, opt_dec):
                        opt.zero_grad(set_to_none=True)
                    loss_g.backward()
                    opt_e.step()
                    opt_g.step()
                    if with_feedback:
                        opt_f.step()
                    if beta > 0 and not freeze:
                        opt_dec.step()
                    totals += torch.stack(
                        [
                            loss_d.detach(),
                            (d_real - d_fake).detach(),
                            gp.detach(),
                            adv.detach(),
                            bce.detach(),
                            kl.detach(),
                            sem_real.detach(),
                            sem_fake.detach(),
                        ]
                    )
            loop.extra["gp_exponent"] = int(exponent.item())
            means = (totals / (g_steps * int(self.feedback_loop))).tolist()
            names = ["loss_d", "wasserstein", "gp", "loss_g_adv", "bce", "kl", "sem_real", "sem_fake"]
            gp_weight = self.gp_weight * 1.1 ** loop.extra["gp_exponent"]
            self._log(loop, "generator", epoch + 1, **dict(zip(names, means)), gp_weight=gp_weight)
        for p in dec.parameters():
            p.requires_grad_(True)
        for module in (gen, dec, fb):
            module.eval()

    # ------------------------------------------------------------------ synthesis and features
    @torch.no_grad()
    def _two_pass(self, z: torch.Tensor, a: torch.Tensor, weight: float) -> torch.Tensor:
        """The authors' synthesis: generate, decode, feed the decoder's hidden layer back, generate again."""
        h = self.generator_.hidden(z, a)
        first = self.generator_.output(h)
        if int(self.feedback_loop) < 2:
            return first
        return self.generator_.output(h + weight * self.feedback_(self.decoder_.hidden(first)))

    @torch.no_grad()
    def generate(
        self, semantics: torch.Tensor, n_per_class: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The two-pass feedback generation with ``z ~ N(0, I)``, ``n_per_class`` times per row of ``semantics``.

        Shapes:
            semantics: ``[K, d]`` (unnormalised; rows are L2-normalised here).
            returns: ``[K · n, D]`` features in the min-max scaled space, class by class.
        """
        device = self.scale_.device
        a = normalize_rows(semantics.to(device, torch.float32)).repeat_interleave(int(n_per_class), dim=0)
        z = torch.randn(a.shape[0], self.latent_dim_, device=device, generator=generator)
        weight = float(self.setting("synthesis_feedback_weight"))
        chunk = 8192  # bounds the 4096-wide hidden layers' memory; the noise is drawn before
        parts = [self._two_pass(z[i : i + chunk], a[i : i + chunk], weight) for i in range(0, len(a), chunk)]
        return torch.cat(parts) if parts else a.new_zeros((0, self.scale_.shape[0]))

    @torch.no_grad()
    def classifier_features(self, x: torch.Tensor) -> torch.Tensor:
        """``[x; â; h]`` with ``(â, h) = Dec(x)``: the discriminative features the classifier reads.

        Shapes:
            x: ``[N, D]`` scaled features → ``[N, D + d + hidden]`` (``x`` itself without ``feature_transform``).
        """
        if not self.feature_transform:
            return x
        parts = []
        for i in range(0, len(x), 8192):
            xb = x[i : i + 8192]
            a_hat, h = self.decoder_(xb)
            parts.append(torch.cat([xb, a_hat, h], dim=1))
        if not parts:
            return x.new_zeros((0, x.shape[1] + self.decoder_.fc2.out_features + self.decoder_.fc1.out_features))
        return torch.cat(parts)
