"""CVAE: generate unseen-class features with a conditional variational autoencoder."""

from __future__ import annotations

import torch
from torch import nn

from kgzsl.context import RunContext
from kgzsl.methods.base import ZSLTask
from kgzsl.methods.generative import GenerativeMethod
from kgzsl.registry import METHODS

__all__ = ["CVAE"]


class _Encoder(nn.Module):
    """``q(z | x, a)``: an MLP on ``x ⊕ a`` giving the mean and log-variance of ``z``."""

    def __init__(self, n_features: int, n_semantics: int, hidden: int, latent_dim: int, device: torch.device):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features + n_semantics, hidden, device=device),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 2 * latent_dim, device=device),
        )

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.net(torch.cat([x, a], dim=1)).chunk(2, dim=1)
        return mu, logvar


class _Decoder(nn.Module):
    """``p(x | z, a)``: an MLP on ``z ⊕ a`` giving features in ``[0, 1]`` (the min-max scaled space)."""

    def __init__(self, n_features: int, n_semantics: int, hidden: int, latent_dim: int, device: torch.device):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim + n_semantics, hidden, device=device),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, n_features, device=device),
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, a], dim=1))


@METHODS.register("cvae")
class CVAE(GenerativeMethod):
    """CVAE: conditional-VAE feature generation (Mishra et al., CVPR Workshops 2018).

    From "A Generative Model for Zero Shot Learning Using Conditional Variational Autoencoders".
    A conditional VAE learns ``p(x | z, a)``, image features given a latent code and the class
    semantics ``a``, from the seen classes; features of unseen classes are then sampled with
    ``z ~ N(0, I)`` and their own semantics, and the shared classifier is trained on real seen
    and synthetic unseen features, turning zero-shot into supervised learning.

    Encoder ``q(z | x, a) = N(μ, diag σ²)`` with ``(μ, log σ²) = E(x ⊕ a)``; decoder
    ``x̂ = D(z ⊕ a)`` with ``z = μ + σ ⊙ ε``. The loss per image is

    ``L = ‖x − x̂‖² + w_t · kl_weight · KL(N(μ, σ²) ‖ N(0, I))``,

    ``KL = −½ Σ_j (1 + log σ²_j − μ²_j − σ²_j)``. The squared error is summed over features
    (a Gaussian decoder with fixed variance), as in the paper; it is taken on features
    min-max scaled to ``[0, 1]`` with the training features' statistics, which puts features
    of any extractor on one scale and matches the decoder's sigmoid output. ``w_t`` rises
    linearly from 0 to 1 over the first ``kl_warmup`` epochs (KL annealing, Bowman et al.,
    CoNLL 2016), so that the decoder learns to use ``z`` before the prior pulls it in.

    Everything after the generator (the shared classifier on real seen + ``n_synthetic``
    synthetic unseen features, its epochs chosen on validation, the fidelity score, the
    training log) is :class:`~kgzsl.methods.generative.GenerativeMethod`'s.

    Args:
        latent_dim: dimension of ``z``.
        hidden: width of the encoder's and the decoder's hidden layer.
        epochs: passes over the training features.
        lr: Adam learning rate of the CVAE.
        batch_size: CVAE mini-batch size.
        n_synthetic: synthetic features per unseen class for the classifier.
        kl_weight: weight of the KL term after warm-up (1 is the ELBO).
        kl_warmup: epochs over which the KL weight rises linearly from 0; 0 turns warm-up off.
        fidelity: measure the two-sample score (and plot the t-SNE inside a run).
        seed: seed of the CVAE's initialisation, batches and sampling; ``None``: the run's. The
            classifier gets a seed derived from it (its own ``seed`` wins).
        device: where to train and score; ``None``: the run's.

    Attributes:
        encoder_, decoder_: the trained networks (in the scaled feature space).
        scale_, min_, semantics_, classifier_, train_log_, selected_, metrics_: see
            :class:`~kgzsl.methods.generative.GenerativeMethod`.

    Shapes:
        fit: a :class:`ZSLTask` with ``features [N, D]``, ``semantics [C, d]``.
        generate: ``[K, d]`` semantics → ``[K · n, D]`` scaled features, class by class.
        synthesize: ``[K]`` global class indices → ``[K · n, D]``.
        decision_function: ``[N, D]`` → ``[N, C]``, ``-inf`` outside ``task.candidates``.
    """

    def __init__(
        self,
        latent_dim: int = 32,
        hidden: int = 256,
        epochs: int = 40,
        lr: float = 1e-3,
        batch_size: int = 64,
        n_synthetic: int = 200,
        kl_weight: float = 1.0,
        kl_warmup: int = 10,
        fidelity: bool = True,
        seed: int | None = None,
        device: str | None = None,
    ) -> None:
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.n_synthetic = n_synthetic
        self.kl_weight = kl_weight
        self.kl_warmup = kl_warmup
        self.fidelity = fidelity
        self.seed = seed
        self.device = device

    def fit_generator(self, task: ZSLTask, context: RunContext) -> None:
        """Train the CVAE on the (min-max scaled) seen-class features of ``task``."""
        x, a = task.features, task.semantics[task.labels]
        n, device = x.shape[0], x.device
        self.encoder_ = _Encoder(x.shape[1], a.shape[1], self.hidden, self.latent_dim, device)
        self.decoder_ = _Decoder(x.shape[1], a.shape[1], self.hidden, self.latent_dim, device)
        params = list(self.encoder_.parameters()) + list(self.decoder_.parameters())
        optimizer = torch.optim.Adam(params, lr=self.lr)
        steps_per_epoch = -(-n // self.batch_size)
        warmup_steps = self.kl_warmup * steps_per_epoch
        self.encoder_.train()
        self.decoder_.train()
        state = {"encoder": self.encoder_, "decoder": self.decoder_, "optimizer": optimizer}
        loop = self._training_loop(context, "generator", self.epochs, state, desc="cvae")
        loop.extra["step"] = 0
        for epoch in loop:
            order = torch.randperm(n, device=device)
            totals = torch.zeros(2, device=device)
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                xb, ab = x[idx], a[idx]
                mu, logvar = self.encoder_(xb, ab)
                z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
                recon = (self.decoder_(z, ab) - xb).pow(2).sum(1).mean()
                kl = -0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp()).sum(1).mean()
                step = loop.extra["step"]
                warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
                loss = recon + warm * self.kl_weight * kl
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                totals += torch.stack([recon.detach(), kl.detach()]) * len(idx)
                loop.extra["step"] = step + 1
            recon_mean, kl_mean = (totals / n).tolist()
            self._log(loop, "generator", epoch + 1, recon=recon_mean, kl=kl_mean)
        self.encoder_.eval()
        self.decoder_.eval()

    @torch.no_grad()
    def generate(
        self, semantics: torch.Tensor, n_per_class: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Decode ``z ~ N(0, I)`` with each row of ``semantics``, ``n_per_class`` times.

        Shapes:
            semantics: ``[K, d]``.
            returns: ``[K · n, D]`` features in the min-max scaled space, class by class.
        """
        return self._decode_noise(self.decoder_, self.latent_dim, semantics, n_per_class, generator)
