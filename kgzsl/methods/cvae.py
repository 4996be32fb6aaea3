"""CVAE: generate unseen-class features with a conditional variational autoencoder."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from kgzsl.classifier import SoftmaxClassifier
from kgzsl.context import RunContext
from kgzsl.methods.base import ZSLMethod, ZSLTask, fit_context, seeded
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
class CVAE(ZSLMethod):
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

    Args:
        latent_dim: dimension of ``z``.
        hidden: width of the encoder's and the decoder's hidden layer.
        epochs: passes over the training features.
        lr: Adam learning rate of the CVAE.
        batch_size: CVAE mini-batch size.
        n_synthetic: synthetic features per unseen class for the classifier.
        kl_weight: weight of the KL term after warm-up (1 is the ELBO).
        kl_warmup: epochs over which the KL weight rises linearly from 0; 0 turns warm-up off.
        seed: seed of the CVAE's initialisation, batches and sampling; ``None``: the run's. The
            classifier gets a seed derived from it (its own ``seed`` wins).
        device: where to train and score; ``None``: the run's.

    Attributes:
        encoder_, decoder_: the trained networks (in the scaled feature space).
        scale_, min_: the min-max transform ``x ↦ x · scale_ + min_``, from the training features.
        classifier_: the fitted shared classifier.

    Shapes:
        fit: a :class:`ZSLTask` with ``features [N, D]``, ``semantics [C, d]``.
        synthesize: ``[K, d]`` semantics → ``[K · n, D]`` scaled features, class by class.
        decision_function: ``[N, D]`` → ``[N, C]``, ``-inf`` outside ``task.candidates``.
    """

    uses_classifier = True

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
        self.seed = seed
        self.device = device

    def transform(self, features: torch.Tensor) -> torch.Tensor:
        """Min-max scale ``features`` with the training statistics (not clipped: test features
        outside the training range stay outside ``[0, 1]``)."""
        return features.to(self.scale_.device, torch.float32) * self.scale_ + self.min_

    def _fit_scaler(self, features: torch.Tensor) -> None:
        lo, hi = features.amin(0), features.amax(0)
        # Constant features get scale 1 rather than a division by zero.
        span = torch.where(hi - lo > 1e-12, hi - lo, torch.ones_like(hi))
        self.scale_ = 1.0 / span
        self.min_ = -lo * self.scale_

    def _train_cvae(self, x: torch.Tensor, a: torch.Tensor, context: RunContext) -> None:
        n, device = x.shape[0], x.device
        self.encoder_ = _Encoder(x.shape[1], a.shape[1], self.hidden, self.latent_dim, device)
        self.decoder_ = _Decoder(x.shape[1], a.shape[1], self.hidden, self.latent_dim, device)
        params = list(self.encoder_.parameters()) + list(self.decoder_.parameters())
        optimizer = torch.optim.Adam(params, lr=self.lr)
        steps_per_epoch = -(-n // self.batch_size)
        warmup_steps = self.kl_warmup * steps_per_epoch
        self.encoder_.train()
        self.decoder_.train()
        step = 0
        for _ in context.bar(range(self.epochs), desc="cvae", unit="epoch"):
            order = torch.randperm(n, device=device)
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                xb, ab = x[idx], a[idx]
                mu, logvar = self.encoder_(xb, ab)
                z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
                recon = (self.decoder_(z, ab) - xb).pow(2).sum(1).mean()
                kl = -0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp()).sum(1).mean()
                warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
                loss = recon + warm * self.kl_weight * kl
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
        self.encoder_.eval()
        self.decoder_.eval()

    @torch.no_grad()
    def synthesize(self, semantics: torch.Tensor, n: int) -> torch.Tensor:
        """Sample ``n`` features per class by decoding ``z ~ N(0, I)`` with the class's semantics.

        Draws from torch's global generator, so repeats after ``torch.manual_seed``.

        Shapes:
            semantics: ``[K, d]``, one row per class.
            returns: ``[K · n, D]`` features in the min-max scaled space; rows
            ``k · n … (k + 1) · n − 1`` belong to class ``k``.
        """
        device = self.scale_.device
        a = semantics.to(device, torch.float32).repeat_interleave(n, dim=0)
        z = torch.randn(a.shape[0], self.latent_dim, device=device)
        return self.decoder_(z, a)

    def fit(self, task: ZSLTask, classifier: Any = None, context: RunContext | None = None) -> CVAE:
        """Train the CVAE on the seen classes, then the classifier on real + synthetic features.

        Args:
            task: the training task; everything runs on ``device``, else the run's device
                (outside a run: the task's).
            classifier: a shared classifier from :data:`kgzsl.registry.CLASSIFIERS`, trained
                here over ``task.candidates``; a default ``SoftmaxClassifier()`` when ``None``.
            context: the run's seed, device and progress setting (``None``: the active run's).

        Returns:
            ``self``.
        """
        ctx, device = fit_context(context, self.device, task.device)
        seed = ctx.seed_for(self.seed)
        features = task.features.to(device, torch.float32)
        labels = task.labels.to(device)
        semantics = task.semantics.to(device, torch.float32)
        unseen = task.unseen.to(device)
        with seeded(seed, device):
            self._fit_scaler(features)
            x = self.transform(features)
            self._train_cvae(x, semantics[labels], ctx)
            synthetic = self.synthesize(semantics[unseen], self.n_synthetic)
        synthetic_labels = unseen.repeat_interleave(self.n_synthetic)
        self.classifier_ = SoftmaxClassifier() if classifier is None else classifier
        # the classifier trains on this method's device unless its own device says otherwise
        self.classifier_.fit(
            torch.cat([x, synthetic]),
            torch.cat([labels, synthetic_labels]),
            task.candidates.to(device),
            task.num_classes,
            context=ctx.with_(seed=seed, device=str(device)).child("classifier"),
        )
        return self

    @torch.no_grad()
    def decision_function(self, features: torch.Tensor) -> torch.Tensor:
        """The classifier's scores on min-max scaled ``features``.

        Shapes:
            features: ``[N, D]``.
            returns: ``[N, C]``, ``-inf`` outside ``task.candidates``.
        """
        return self.classifier_.decision_function(self.transform(features))
