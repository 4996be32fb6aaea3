"""CADA-VAE: cross- and distribution-aligned VAEs; the shared classifier learns in their latent space."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from kgzsl.context import RunContext, derive_seed
from kgzsl.errors import ConfigError
from kgzsl.methods.base import ZSLTask, fit_context
from kgzsl.methods.generative import GenerativeMethod, two_sample_accuracy
from kgzsl.registry import METHODS

__all__ = [
    "CADAVAE",
    "ModalityEncoder",
    "ModalityDecoder",
    "aligned_vae_losses",
    "warmup_weight",
    "sample_latent",
    "CADA_VAE_PRESETS",
]


def _init_weights(module: nn.Module) -> None:
    """The authors' initialisation: Xavier-uniform weights with gain 0.5, zero biases."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight, gain=0.5)
        nn.init.zeros_(module.bias)


class ModalityEncoder(nn.Module):
    """``q(z | input)``: ``input → hidden, ReLU → (μ, log σ²)`` (the authors' ``encoder_template``).

    Shapes:
        forward: ``[B, n_in]`` → ``([B, latent], [B, latent])``.
    """

    def __init__(self, n_in: int, hidden: int, latent_dim: int, device: Any = None):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(n_in, hidden, device=device), nn.ReLU())
        self.mu = nn.Linear(hidden, latent_dim, device=device)
        self.logvar = nn.Linear(hidden, latent_dim, device=device)
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.hidden(x)
        return self.mu(h), self.logvar(h)


class ModalityDecoder(nn.Module):
    """``p(input | z)``: ``z → hidden, ReLU → n_out``, linear output (the authors' ``decoder_template``).

    Shapes:
        forward: ``[B, latent]`` → ``[B, n_out]``.
    """

    def __init__(self, latent_dim: int, hidden: int, n_out: int, device: Any = None):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden, device=device), nn.ReLU(), nn.Linear(hidden, n_out, device=device)
        )
        self.apply(_init_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def warmup_weight(epoch: int, factor: float, start: int, end: int) -> float:
    """A loss weight rising linearly from 0 at epoch ``start`` to ``factor`` at epoch ``end``, then flat.

    ``min(max((epoch − start) / (end − start) · factor, 0), factor)`` with 0-based epochs, the
    authors' schedule for β, γ and δ; ``end == start`` switches the weight on at ``start``.
    """
    if end <= start:
        return float(factor) if epoch >= start else 0.0
    return float(min(max((epoch - start) / (end - start) * factor, 0.0), factor))


def sample_latent(
    mu: torch.Tensor, logvar: torch.Tensor, sampling: str = "authors", generator: torch.Generator | None = None
) -> torch.Tensor:
    """A reparameterised sample ``z = μ + σ ⊙ ε`` of the encoder's Gaussian.

    Args:
        mu, logvar: ``[B, L]`` the encoder's outputs.
        sampling: ``authors``: as the authors' code, ``σ = exp(log σ²)`` and one ``ε ~ N(0, 1)``
            per row shared by all ``L`` dimensions; ``paper``: the textbook ``σ = exp(½ log σ²)``
            and ``ε ~ N(0, I)``.
        generator: the torch generator ``ε`` is drawn from (``None``: torch's global one).

    Shapes:
        returns: ``[B, L]``.
    """
    if sampling == "authors":
        eps = torch.randn(mu.shape[0], 1, device=mu.device, dtype=mu.dtype, generator=generator)
        return mu + logvar.exp() * eps
    eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype, generator=generator)
    return mu + (0.5 * logvar).exp() * eps


def aligned_vae_losses(
    x: torch.Tensor,
    a: torch.Tensor,
    z_x: torch.Tensor,
    z_a: torch.Tensor,
    stats: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    dec_x: nn.Module,
    dec_a: nn.Module,
) -> dict[str, torch.Tensor]:
    """CADA-VAE's four loss terms on one batch, each summed over the batch (the authors' ``size_average=False``).

    * ``recon = Σ |x − D_x(z_x)| + Σ |a − D_a(z_a)|`` (L1, as the authors' default ``loss: l1``);
    * ``cross = Σ |x − D_x(z_a)| + Σ |a − D_a(z_x)|`` (cross-alignment);
    * ``kl = Σ KL(N(μ_x, σ_x²) ‖ N(0, I)) + Σ KL(N(μ_a, σ_a²) ‖ N(0, I))`` with ``σ² = exp(log σ²)``;
    * ``distance = Σ_i sqrt(‖μ_x − μ_a‖² + ‖σ_x − σ_a‖²)``, the 2-Wasserstein distance between
      the two diagonal Gaussians of each image (distribution alignment).

    Each decoder runs once on the stacked ``[z_x; z_a]``: one matrix product of ``2B`` rows
    instead of the authors' two of ``B``.

    Args:
        x, a: ``[B, D]`` image features and ``[B, d]`` their classes' semantics.
        z_x, z_a: ``[B, L]`` latent samples of the two encoders.
        stats: ``(μ_x, log σ_x², μ_a, log σ_a²)``, each ``[B, L]``.
        dec_x, dec_a: the image and the semantics decoder.

    Returns:
        ``{"recon", "cross", "kl", "distance"}`` scalar tensors.
    """
    mu_x, logvar_x, mu_a, logvar_a = stats
    b = x.shape[0]
    z = torch.cat([z_x, z_a])
    x_hat, a_hat = dec_x(z), dec_a(z)
    err_x = (x_hat - x.repeat(2, 1)).abs()
    err_a = (a_hat - a.repeat(2, 1)).abs()
    recon = err_x[:b].sum() + err_a[b:].sum()
    cross = err_x[b:].sum() + err_a[:b].sum()
    kl = -0.5 * (
        (1.0 + logvar_x - mu_x.pow(2) - logvar_x.exp()).sum() + (1.0 + logvar_a - mu_a.pow(2) - logvar_a.exp()).sum()
    )
    sq = (mu_x - mu_a).pow(2).sum(1) + ((0.5 * logvar_x).exp() - (0.5 * logvar_a).exp()).pow(2).sum(1)
    return {"recon": recon, "cross": cross, "kl": kl, "distance": sq.sqrt().sum()}


#: the authors' settings (``edgarschnfld/CADA-VAE-PyTorch@26f0085:model/single_experiment.py``):
#: one setting for every dataset, 200 latent samples per seen and 400 per unseen class (GZSL)
_AUTHORS = {"epochs": 100, "lr": 1.5e-4, "batch_size": 50, "latent_dim": 64, "n_synthetic": 400, "n_seen": 200}
CADA_VAE_PRESETS: dict[str, dict[str, Any]] = {name: dict(_AUTHORS) for name in ("awa1", "awa2", "cub", "sun")}

#: the final classifier's epochs the authors chose on validation (GZSL, ZSL), for reference
AUTHORS_CLASSIFIER_EPOCHS: dict[str, tuple[int, int]] = {
    "awa1": (33, 25),
    "awa2": (29, 39),
    "cub": (23, 22),
    "sun": (21, 30),
}


@METHODS.register("cada_vae")
class CADAVAE(GenerativeMethod):
    """CADA-VAE: cross- and distribution-aligned VAEs (Schönfeld, Ebrahimi, Sinha, Darrell & Akata, CVPR 2019).

    From "Generalized Zero- and Few-Shot Learning via Aligned Variational Autoencoders". One VAE
    per modality, image features ``x`` and class semantics ``a``, encode both into a shared
    latent space of size ``latent_dim`` (64); the two are aligned so that the latent code of a
    class's semantics lands where its images do. Per batch (sums over the batch):

    ``L = recon + β · KL + γ · cross + δ · distance``

    with the terms of :func:`aligned_vae_losses`: L1 reconstruction of each modality from its
    own latent sample, the KL terms of both encoders, the cross-reconstruction of each modality
    from the other's latent sample, and the 2-Wasserstein distance between the two latent
    Gaussians. β, γ and δ rise linearly over epoch windows (the authors' warm-up,
    :func:`warmup_weight`): β 0 → 0.25 over epochs 0–93, γ 0 → 2.37 over 21–75, δ 0 → 8.13 over
    6–22. Networks as the authors': each encoder ``input → hidden ReLU → (μ, log σ²)``, each
    decoder ``z → hidden ReLU → output`` (linear), hidden sizes 1560 / 1660 (image encoder /
    decoder) and 1450 / 665 (semantics), Xavier-uniform weights with gain 0.5; Adam with
    AMSGrad, lr 1.5e-4 (torch's fused implementation: one pass over each parameter, a third of
    the time of the loop form on a CPU, equal up to rounding); each of the ``⌈N / batch_size⌉``
    steps of an epoch draws a fresh random batch of 50 images (the authors' ``next_batch``), the
    semantics are the images' classes'.

    **The classifier learns in the latent space**, as in the paper: after training,
    :meth:`classifier_training_set` gives the shared classifier ``n_seen`` (200) latent samples
    ``z ~ q(z | x)`` of images of each seen class (the images of a class in a random order,
    cycled when it has fewer) and ``n_synthetic`` (400) samples ``z ~ q(z | a)`` from each
    unseen class's semantics; images are scored on their latent mean ``μ_x(x)``
    (:meth:`classifier_features`). :meth:`generate` returns image features decoded from the
    semantics' latent samples, ``D_x(z_a)``: these feed the base's image-space two-sample score
    and t-SNE. The score that concerns the classifier is the latent one, reported as
    ``metrics_["gen/latent_two_sample_acc"]``: real ``μ_x(x)`` against ``z ~ q(z | a)`` of the same
    seen classes. The shared classifier, its epochs chosen on validation and the training log are
    :class:`~kgzsl.methods.generative.GenerativeMethod`'s.

    Presets (``preset:``; a preset fills only the keys left at ``None``). The authors publish
    one setting for all datasets (AWA1, AWA2, CUB, SUN), so the four presets are the same, and
    so are the defaults without a preset; aPY and FLO have sample counts in the authors' script
    but no published classifier setting or result, hence no preset. The authors' final
    classifier (``classifier:`` in kgzsl) is a softmax with Adam lr 1e-3, β₁ 0.5, batch 32,
    trained for the epochs they chose on validation (listed for reference; kgzsl chooses them
    on validation itself):

    ========  ======  ======  =====  ======  ===========  ======  =========================
    preset    epochs  lr      batch  latent  n_synthetic  n_seen  classifier epochs GZSL/ZSL
    ========  ======  ======  =====  ======  ===========  ======  =========================
    awa1      100     1.5e-4  50     64      400          200     33 / 25
    awa2      100     1.5e-4  50     64      400          200     29 / 39
    cub       100     1.5e-4  50     64      400          200     23 / 22
    sun       100     1.5e-4  50     64      400          200     21 / 30
    ========  ======  ======  =====  ======  ===========  ======  =========================

    The paper's CUB results use 1024-d sentence embeddings as semantics, not the 312 attributes.

    Deviations from the authors' code: the features are min-max scaled with the training
    statistics and the test features with the same (the authors fit a separate scaler on each
    test split); ZSL is scored with the one GZSL classifier restricted to the unseen classes
    (the authors train a second classifier on 200 unseen latents per class); the classifier's
    epochs are chosen on validation, never on test (the authors' code keeps the best test
    epoch within the epochs they chose). ``sampling: authors`` (the default) reproduces the
    authors' reparameterisation, whose ``σ`` is ``exp(log σ²)`` and whose noise is one scalar per
    row; ``sampling: paper`` is the textbook one the paper writes. They differ in practice: on
    the demo's synthetic data (2,918 training images, 40 epochs, lr 1e-3) the paper's
    independent unit noise in all 64 dimensions hides the codes from the decoders and the
    latent space collapses (test ZSL top-1 15%, GZSL H 6%), while the authors' one noise scalar
    per row leaves the other directions clean (ZSL 75%, H 66%).

    Small data: the authors' lr 1.5e-4 and 100 epochs of batch 50 make 14,000 (CUB) to 47,000
    (AWA2) steps. A dataset of a few thousand images gets a tenth of that, and the latent
    space collapses too (the demo at 1.5e-4 and 40 epochs: ZSL 66%, H 34%; KL 0.5 nats): raise
    ``lr`` (1e-3 there) or ``epochs``; ``train_log.csv``'s ``kl`` column shows a collapse.

    Args:
        preset: ``awa1``, ``awa2``, ``cub`` or ``sun`` (see the table); ``None``: none.
        epochs: VAE training epochs.
        lr: Adam (AMSGrad) learning rate of the four networks.
        batch_size: VAE mini-batch size.
        latent_dim: size of the shared latent space.
        n_synthetic: latent samples per unseen class from its semantics, for the classifier.
        n_seen: latent samples per seen class from its images, for the classifier.
        hidden_image_encoder, hidden_image_decoder, hidden_semantic_encoder,
            hidden_semantic_decoder: hidden layer widths (1560, 1660, 1450, 665).
        beta, beta_start, beta_end: the KL weight's final value and warm-up window (epochs).
        cross_weight, cross_start, cross_end: the same for the cross-reconstruction weight γ.
        distance_weight, distance_start, distance_end: the same for the alignment weight δ.
        sampling: ``authors`` or ``paper`` (see above).
        fidelity: measure the two-sample scores (and plot the t-SNE inside a run).
        seed: seed of initialisation, batches and sampling; ``None``: the run's.
        device: where to train and score; ``None``: the run's.

    Attributes:
        image_encoder_, semantic_encoder_, image_decoder_: the trained networks (the semantics'
            decoder is only needed to train and is not kept).
        scale_, min_, semantics_, classifier_, train_log_, selected_, metrics_: see
            :class:`~kgzsl.methods.generative.GenerativeMethod`.

    Shapes:
        fit: a :class:`~kgzsl.methods.base.ZSLTask` with ``features [N, D]``, ``semantics [C, d]``.
        classifier_features: ``[N, D]`` scaled features → ``[N, latent_dim]`` latent means.
        generate: ``[K, d]`` → ``[K · n, D]`` decoded (scaled) image features, class by class.
        decision_function: ``[N, D]`` → ``[N, C]``, ``-inf`` outside the candidates.
    """

    #: settings a preset may fill, and their values without a preset
    DEFAULTS: ClassVar[dict[str, Any]] = dict(_AUTHORS)
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = CADA_VAE_PRESETS
    SAMPLING: ClassVar[tuple[str, ...]] = ("authors", "paper")
    #: rows encoded at once when turning many features into latent codes
    chunk: ClassVar[int] = 8192

    def __init__(
        self,
        preset: str | None = None,
        epochs: int | None = None,
        lr: float | None = None,
        batch_size: int | None = None,
        latent_dim: int | None = None,
        n_synthetic: int | None = None,
        n_seen: int | None = None,
        hidden_image_encoder: int = 1560,
        hidden_image_decoder: int = 1660,
        hidden_semantic_encoder: int = 1450,
        hidden_semantic_decoder: int = 665,
        beta: float = 0.25,
        beta_start: int = 0,
        beta_end: int = 93,
        cross_weight: float = 2.37,
        cross_start: int = 21,
        cross_end: int = 75,
        distance_weight: float = 8.13,
        distance_start: int = 6,
        distance_end: int = 22,
        sampling: str = "authors",
        fidelity: bool = True,
        seed: int | None = None,
        device: str | None = None,
    ) -> None:
        self.preset = preset
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.latent_dim = latent_dim
        self.n_synthetic = n_synthetic
        self.n_seen = n_seen
        self.hidden_image_encoder = hidden_image_encoder
        self.hidden_image_decoder = hidden_image_decoder
        self.hidden_semantic_encoder = hidden_semantic_encoder
        self.hidden_semantic_decoder = hidden_semantic_decoder
        self.beta = beta
        self.beta_start = beta_start
        self.beta_end = beta_end
        self.cross_weight = cross_weight
        self.cross_start = cross_start
        self.cross_end = cross_end
        self.distance_weight = distance_weight
        self.distance_start = distance_start
        self.distance_end = distance_end
        self.sampling = sampling
        self.fidelity = fidelity
        self.seed = seed
        self.device = device

    @classmethod
    def check_config(cls, params: dict[str, Any]) -> None:
        """Reject an unknown preset or sampling, a negative weight and a warm-up window that ends before it starts."""
        cls.check_preset(params)
        sampling = params.get("sampling")
        if sampling is not None and sampling not in cls.SAMPLING:
            raise ConfigError(f"method.sampling: expected one of {', '.join(cls.SAMPLING)}, got {sampling!r}")
        for weight, start, end in (
            ("beta", "beta_start", "beta_end"),
            ("cross_weight", "cross_start", "cross_end"),
            ("distance_weight", "distance_start", "distance_end"),
        ):
            for key in (weight, start, end):
                value = params.get(key)
                if isinstance(value, (int, float)) and not isinstance(value, bool) and not value >= 0:
                    raise ConfigError(f"method.{key}: expected a value ≥ 0, got {value!r}")
            s0 = params.get(start, cls._default(start))
            s1 = params.get(end, cls._default(end))
            if isinstance(s0, int) and isinstance(s1, int) and s1 < s0:
                raise ConfigError(f"method.{end}: expected a value ≥ {start} ({s0}), got {s1!r}")

    @classmethod
    def _default(cls, key: str) -> Any:
        """The constructor's default of ``key``."""
        import inspect

        return inspect.signature(cls.__init__).parameters[key].default

    def weights(self, epoch: int) -> dict[str, float]:
        """β, γ and δ at the 0-based ``epoch`` (the warm-up schedules)."""
        return {
            "beta": warmup_weight(epoch, self.beta, self.beta_start, self.beta_end),
            "cross": warmup_weight(epoch, self.cross_weight, self.cross_start, self.cross_end),
            "distance": warmup_weight(epoch, self.distance_weight, self.distance_start, self.distance_end),
        }

    # ---------------------------------------------------------------- training
    def fit_generator(self, task: ZSLTask, context: RunContext) -> None:
        """Train the two aligned VAEs on the (min-max scaled) seen-class features of ``task``."""
        x, labels, semantics = task.features, task.labels, task.semantics
        n, device = x.shape[0], x.device
        s = self.settings()
        latent, batch = int(s["latent_dim"]), min(int(s["batch_size"]), n)
        self.latent_dim_ = latent
        self.image_encoder_ = ModalityEncoder(x.shape[1], self.hidden_image_encoder, latent, device)
        self.semantic_encoder_ = ModalityEncoder(semantics.shape[1], self.hidden_semantic_encoder, latent, device)
        self.image_decoder_ = ModalityDecoder(latent, self.hidden_image_decoder, x.shape[1], device)
        semantic_decoder = ModalityDecoder(latent, self.hidden_semantic_decoder, semantics.shape[1], device)
        nets = [self.image_encoder_, self.semantic_encoder_, self.image_decoder_, semantic_decoder]
        params = [p for net in nets for p in net.parameters()]
        optimizer = torch.optim.Adam(params, lr=float(s["lr"]), betas=(0.9, 0.999), eps=1e-8, amsgrad=True, fused=True)
        g = torch.Generator(device=device)
        g.manual_seed(derive_seed(context.seed_for(self.seed), "cada_vae", "vae"))
        for net in nets:
            net.train()
        steps = -(-n // batch)
        state = {
            "image_encoder": self.image_encoder_,
            "semantic_encoder": self.semantic_encoder_,
            "image_decoder": self.image_decoder_,
            "semantic_decoder": semantic_decoder,
            "optimizer": optimizer,
            "generator": g,
        }
        loop = self._training_loop(context, "generator", int(s["epochs"]), state, desc=self.registry_name)
        for epoch in loop:
            w = self.weights(epoch)
            totals = torch.zeros(4, device=device)
            for _ in range(steps):
                idx = torch.randperm(n, device=device, generator=g)[:batch]
                xb, ab = x[idx], semantics[labels[idx]]
                mu_x, logvar_x = self.image_encoder_(xb)
                mu_a, logvar_a = self.semantic_encoder_(ab)
                z_x = sample_latent(mu_x, logvar_x, self.sampling, g)
                z_a = sample_latent(mu_a, logvar_a, self.sampling, g)
                terms = aligned_vae_losses(
                    xb, ab, z_x, z_a, (mu_x, logvar_x, mu_a, logvar_a), self.image_decoder_, semantic_decoder
                )
                loss = terms["recon"] + w["beta"] * terms["kl"]
                # a weight still at 0 adds nothing (as the authors' code): no 0 · ∞ from sqrt(0)'s gradient
                if w["cross"] > 0:
                    loss = loss + w["cross"] * terms["cross"]
                if w["distance"] > 0:
                    loss = loss + w["distance"] * terms["distance"]
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                totals += torch.stack([t.detach() for t in terms.values()])
            recon, cross, kl, distance = (totals / (steps * batch)).tolist()
            weights = {f"w_{k}": v for k, v in w.items()}
            self._log(loop, "generator", epoch + 1, recon=recon, cross=cross, kl=kl, distance=distance, **weights)
        for net in nets:
            net.eval()

    # ---------------------------------------------------------------- the latent space
    @torch.no_grad()
    def classifier_features(self, x: torch.Tensor) -> torch.Tensor:
        """The latent mean ``μ_x(x)`` of scaled image features: what the classifier reads.

        Shapes:
            x: ``[N, D]`` → ``[N, latent_dim]``.
        """
        parts = [self.image_encoder_(x[i : i + self.chunk])[0] for i in range(0, len(x), self.chunk)]
        return torch.cat(parts) if parts else x.new_zeros(0, self.latent_dim_)

    @torch.no_grad()
    def _semantic_latents(
        self, semantics: torch.Tensor, n_per_class: int, generator: torch.Generator | None
    ) -> torch.Tensor:
        """``n_per_class`` samples ``z ~ q(z | a)`` for each row of ``semantics``, class by class."""
        mu, logvar = self.semantic_encoder_(semantics.to(self.scale_.device, torch.float32))
        n = int(n_per_class)
        return sample_latent(mu.repeat_interleave(n, 0), logvar.repeat_interleave(n, 0), self.sampling, generator)

    @torch.no_grad()
    def classifier_training_set(
        self, x: torch.Tensor, labels: torch.Tensor, unseen: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The classifier's latent training set: samples of ``q(z | x)`` (seen) and of ``q(z | a)`` (unseen).

        ``n_seen`` samples per seen class, ``n_synthetic`` per unseen class. The seen images of
        a class are taken in a random order and cycled when the class has fewer than ``n_seen``
        (the authors repeat them too).

        Shapes:
            x: ``[N, D]`` scaled seen features; labels: ``[N]``; unseen: ``[U]`` global indices.
            returns: ``([S · n_seen + U · n_synthetic, latent_dim], [...])``.
        """
        n_seen, n_unseen = int(self.setting("n_seen")), self.synthetic_per_class()
        perm = torch.randperm(len(labels), device=labels.device, generator=generator)
        order = perm[torch.argsort(labels[perm], stable=True)]  # grouped by class, random inside a class
        classes, counts = torch.unique_consecutive(labels[order], return_counts=True)
        starts = torch.cumsum(counts, 0) - counts
        offsets = torch.arange(n_seen, device=labels.device)
        idx = order[(starts[:, None] + offsets[None, :] % counts[:, None]).flatten()]
        seen_z = []
        for i in range(0, len(idx), self.chunk):
            mu, logvar = self.image_encoder_(x[idx[i : i + self.chunk]])
            seen_z.append(sample_latent(mu, logvar, self.sampling, generator))
        unseen_z = self._semantic_latents(self.semantics_[unseen], n_unseen, generator)
        features = torch.cat([*seen_z, unseen_z])
        targets = torch.cat([classes.repeat_interleave(n_seen), unseen.repeat_interleave(n_unseen)])
        return features, targets

    @torch.no_grad()
    def generate(
        self, semantics: torch.Tensor, n_per_class: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Image features decoded from the semantics' latent samples, ``D_x(z)`` with ``z ~ q(z | a)``.

        Shapes:
            semantics: ``[K, d]``.
            returns: ``[K · n, D]`` features in the min-max scaled space, class by class.
        """
        return self.image_decoder_(self._semantic_latents(semantics, n_per_class, generator))

    def fit(self, task: ZSLTask, classifier: Any = None, context: RunContext | None = None) -> CADAVAE:
        """The base's fit (:meth:`GenerativeMethod.fit`), then the latent two-sample score.

        ``metrics_["gen/latent_two_sample_acc"]``: how well a small classifier tells the latent
        means ``μ_x(x)`` of real seen images (how test images are scored) from latent samples
        of their classes' semantics (how unseen classes are synthesised); 0.5 = indistinguishable.
        """
        super().fit(task, classifier=classifier, context=context)
        if self.fidelity:
            ctx, device = fit_context(context, self.device, task.device)
            seed = ctx.seed_for(self.seed)
            g = self._generator_for(seed, "latent-fidelity", device=device)
            n = len(task.labels)
            pick = torch.randperm(n, generator=torch.Generator().manual_seed(derive_seed(seed, "latent-fidelity")))
            pick = pick[:2000].sort().values.to(device)
            x = self.transform(task.features.to(device)[pick])
            real = self.classifier_features(x)
            fake = self._semantic_latents(self.semantics_[task.labels.to(device)[pick]], 1, g)
            if len(real) >= 4:
                acc = two_sample_accuracy(real, fake, seed=derive_seed(seed, "latent-two-sample"))
                self.metrics_["gen/latent_two_sample_acc"] = acc
        return self
