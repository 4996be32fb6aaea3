"""f-CLSWGAN: a conditional Wasserstein GAN with a classification loss generates unseen-class features."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from kgzsl.classifier import train_cross_entropy
from kgzsl.context import RunContext, derive_seed
from kgzsl.errors import ConfigError
from kgzsl.methods.base import ZSLTask
from kgzsl.methods.generative import GenerativeMethod
from kgzsl.registry import METHODS

__all__ = ["FCLSWGAN", "Generator", "Critic", "gradient_penalty", "FCLSWGAN_PRESETS"]


def _init_weights(module: nn.Module) -> None:
    """The authors' initialisation: weights ~ N(0, 0.02), biases 0."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    """``G(z, a)``: ``[z; a] -> hidden, LeakyReLU(0.2) -> D, ReLU`` (the authors' ``MLP_G``).

    The ReLU output matches min-max scaled post-ReLU CNN features (non-negative).
    """

    def __init__(self, noise_dim: int, n_semantics: int, hidden: int, n_features: int, device: Any = None):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(noise_dim + n_semantics, hidden, device=device),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, n_features, device=device),
            nn.ReLU(),
        )
        self.apply(_init_weights)

    def forward(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, a], dim=1))


class Critic(nn.Module):
    """``D(x, a)``: ``[x; a] -> hidden, LeakyReLU(0.2) -> 1`` (the authors' ``MLP_CRITIC``), unbounded."""

    def __init__(self, n_features: int, n_semantics: int, hidden: int, device: Any = None):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features + n_semantics, hidden, device=device),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1, device=device),
        )
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, a], dim=1))

    def input_gradient(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """``∇_x D(x, a)`` of every row, in closed form, differentiable in the critic's weights.

        ``D = w₂ᵀ φ(W₁ [x; a] + b₁) + b₂`` with φ = LeakyReLU(0.2) gives
        ``∇_x D = W₁ₓᵀ (w₂ ⊙ φ'(h))``, ``W₁ₓ`` the columns of ``W₁`` that read ``x``. φ' is 1 or
        0.2 (0.2 at ``h ≤ 0``, as autograd's LeakyReLU backward), constant almost everywhere, so
        its derivative is zero and ``h`` needs no graph: the penalty's gradients with respect to
        the weights are autograd's double-backward ones without its two products of zeros.

        Shapes:
            x: ``[B, D]``, a: ``[B, d]`` → ``[B, D]``.
        """
        first, act, last = self.net
        with torch.no_grad():
            h = first(torch.cat([x, a], dim=1))
            slope = torch.where(h > 0, 1.0, act.negative_slope)
        # the product with the whole W₁, then the x columns: slicing the weight instead would
        # make its backward fill a zero matrix of W₁'s size every step
        return ((slope * last.weight) @ first.weight)[:, : x.shape[1]]

    def scores_and_penalty(
        self, real: torch.Tensor, fake: torch.Tensor, a: torch.Tensor, alpha: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A critic step's terms: the mean of ``D`` on real and on fake rows, and the gradient penalty, in one pass.

        The same values and weight gradients as the means of ``self(cat([real, fake]), cat([a, a]))``
        with :func:`gradient_penalty` (``x̂ = α·real + (1 − α)·fake``), written so that the hidden
        layer reads all three blocks of rows in one product and the first layer's weight
        gradient, the sum of the scores' part and the penalty's part, is one product (see
        :class:`_CriticFirstLayer`): at batch 64 on a CPU the two thin products and their sum
        cost a tenth more.

        Shapes:
            real, fake: ``[B, D]`` (``fake`` detached by the caller); a: ``[B, d]``; alpha: ``[B, 1]``
            → ``(mean D(real), mean D(fake), penalty)``, three scalars.
        """
        first, act, last = self.net
        b, n_features = real.shape
        # [real; fake; x̂] beside their semantics, written once into one buffer
        rows = real.new_empty(3 * b, n_features + a.shape[1])
        rows[:b, :n_features] = real
        rows[b : 2 * b, :n_features] = fake
        with torch.no_grad():
            rows[2 * b :, :n_features] = alpha * real + (1.0 - alpha) * fake
        rows[:, n_features:].view(3, b, -1).copy_(a)
        hidden, grad = _CriticFirstLayer.apply(rows, first.weight, first.bias, last.weight[0], act.negative_slope, b)
        scores = last(act(hidden))
        penalty = (grad[:, :n_features].norm(2, dim=1) - 1.0).pow(2).mean()
        return scores[:b].mean(), scores[b:].mean(), penalty


class _CriticFirstLayer(torch.autograd.Function):
    """The critic's first layer on ``[real; fake; x̂]`` and the penalty's input gradient ``(φ'(h_x̂) ⊙ w₂) W₁``.

    Forward: ``H = rows W₁ᵀ + b₁`` in one product over the ``3B`` rows, of which the ``2B`` real
    and fake rows are returned; from the ``B`` interpolate rows only the LeakyReLU slope
    ``φ'(h_x̂)`` (constant almost everywhere, see :meth:`Critic.input_gradient`), giving
    ``S = φ'(h_x̂) ⊙ w₂`` and ``M = S W₁``. Backward: ``∂W₁ = [∂H; S]ᵀ [rows₂B; ∂M]``, the two
    contributions in one product of inner size ``3B`` (autograd would do two thin products and
    add them), ``∂b₁ = Σ ∂H``, ``∂w₂ = Σ (∂M W₁ᵀ) ⊙ φ'``, and ``∂rows = ∂H W₁`` on the real and
    fake rows when asked (the interpolates get none, as they are detached).
    """

    @staticmethod
    def forward(
        ctx: Any,
        rows: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        w2: torch.Tensor,
        negative_slope: float,
        batch: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden_all = torch.addmm(bias, rows, weight.t())
        n = 2 * batch
        slope = torch.where(hidden_all[n:] > 0, 1.0, negative_slope)
        s = slope * w2
        ctx.save_for_backward(rows[:n], weight, slope, s)
        return hidden_all[:n], s @ weight

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, d_hidden: torch.Tensor, d_grad: torch.Tensor) -> tuple[Any, ...]:
        rows, weight, slope, s = ctx.saved_tensors
        if s.shape[0] < 256:  # thin products are slow: one product of inner size 3B
            d_weight = torch.cat([d_hidden, s]).t() @ torch.cat([rows, d_grad])
        else:  # wide enough: two products, the second accumulating into the first (no copies)
            d_weight = torch.mm(d_hidden.t(), rows).addmm_(s.t(), d_grad)
        d_bias = d_hidden.sum(0)
        d_w2 = ((d_grad @ weight.t()) * slope).sum(0)
        d_rows = None
        if ctx.needs_input_grad[0]:
            d_rows = torch.cat([d_hidden @ weight, d_hidden.new_zeros(slope.shape[0], weight.shape[1])])
        return d_rows, d_weight, d_bias, d_w2, None, None


def gradient_penalty(
    critic: Any, real: torch.Tensor, fake: torch.Tensor, semantics: torch.Tensor, alpha: torch.Tensor | None = None
) -> torch.Tensor:
    """WGAN-GP's penalty ``E[(‖∇_x̂ D(x̂, a)‖₂ − 1)²]`` at ``x̂ = α·real + (1 − α)·fake`` (Gulrajani et al., 2017).

    A critic with an ``input_gradient(x, a)`` method (:class:`Critic`) gives the input gradients
    in closed form. Otherwise one backward pass gives every sample's input gradient at once:
    each output ``D(x̂_i, a_i)`` depends on its own row only, so the gradient of their sum with
    respect to ``x̂`` has the per-sample gradients as rows. Either way the result is
    differentiable in the critic's parameters (autograd: ``create_graph``), so that the penalty
    can be minimised with respect to them. The penalty is not weighted here.

    Args:
        critic: ``(x [B, D], a [B, d]) -> [B, 1]``.
        real, fake: ``[B, D]`` features (``fake`` is used as given: detach it for a critic step).
        semantics: ``[B, d]`` the conditioning of each row.
        alpha: ``[B, 1]`` interpolation weights; drawn ``U(0, 1)`` from torch's generator when ``None``.

    Returns:
        A scalar tensor.
    """
    if alpha is None:
        alpha = torch.rand(real.shape[0], 1, device=real.device, dtype=real.dtype)
    interpolates = (alpha * real + (1.0 - alpha) * fake).detach()
    if hasattr(critic, "input_gradient"):
        grad = critic.input_gradient(interpolates, semantics)
    else:
        interpolates.requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(interpolates, semantics).sum(), interpolates, create_graph=True)
    return (grad.norm(2, dim=1) - 1.0).pow(2).mean()


#: the authors' per-dataset settings (Xian et al., CVPR 2018; the defaults forks of their code
#: agree on, e.g. ``luca-rossi/grabzsl@5fe0f7a:args.py``). ``n_synthetic`` is their GZSL number.
FCLSWGAN_PRESETS: dict[str, dict[str, Any]] = {
    "awa2": {"epochs": 30, "lr": 1e-5, "n_synthetic": 1800, "noise_dim": 85, "cls_weight": 0.01},
    "awa1": {"epochs": 30, "lr": 1e-5, "n_synthetic": 1800, "noise_dim": 85, "cls_weight": 0.01},
    "cub": {"epochs": 56, "lr": 1e-4, "n_synthetic": 300, "noise_dim": 312, "cls_weight": 0.01},
    "flo": {"epochs": 80, "lr": 1e-4, "n_synthetic": 1200, "noise_dim": 1024, "cls_weight": 0.1},
    "sun": {"epochs": 40, "lr": 2e-4, "n_synthetic": 400, "noise_dim": 102, "cls_weight": 0.01},
}


@METHODS.register("f_clswgan")
@dataclass(repr=False, eq=False)
class FCLSWGAN(GenerativeMethod):
    """f-CLSWGAN: feature-generating conditional WGAN-GP with a classification loss (Xian et al., CVPR 2018).

    From "Feature Generating Networks for Zero-Shot Learning". A generator
    ``G(z, a)``, ``z ~ N(0, I)``, learns the seen classes' (min-max scaled) features against a
    conditional critic ``D(x, a)`` with the WGAN-GP objective, plus a classification loss
    that makes generated features recognisable by a softmax classifier pre-trained on the
    real seen features (and then frozen):

    ``L_D = E[D(x̃, a)] − E[D(x, a)] + λ · E[(‖∇_x̂ D(x̂, a)‖₂ − 1)²]``,
    ``L_G = −E[D(x̃, a)] − β · E[log P(y | x̃; θ)]``,

    ``x̃ = G(z, a)``, ``x̂`` on segments between real and generated features, λ = ``gp_weight``
    (10), β = ``cls_weight`` (0.01). Networks as the authors': G ``[z; a] → 4096 LeakyReLU →
    D ReLU``, critic ``[x; a] → 4096 LeakyReLU → 1``, weights ~ N(0, 0.02); ``critic_steps`` (5)
    critic updates per generator update, each on a fresh random batch; Adam with β₁ = 0.5 for
    both. An epoch has ``⌈N / batch_size⌉`` generator updates. The shared classifier, its epochs
    chosen on validation and the fidelity checks are :class:`~kgzsl.methods.generative.GenerativeMethod`'s.

    Written for speed with the same mathematics as the authors' code: the whole training set
    lives on the device, every batch is an index into it (one permutation stream from a torch
    generator, no DataLoader), and the features the critic sees in the 5 critic steps of one
    generator update come from *one* batched generator pass (the generator does not change
    during critic steps, so it is the same as 5 passes with fresh noise); each critic step
    scores its real and fake batch in one pass and takes the gradient penalty's input
    gradients in closed form (:meth:`Critic.input_gradient`), which spares autograd's double
    backward two matrix products of zeros; Adam is torch's fused kernel where there is one.
    Training is resumable: generator, critic, both optimisers and the noise generator are
    saved after every epoch inside a run (see :meth:`GenerativeMethod._training_loop`).

    Presets (``preset:``; a preset fills only the keys left at ``None``, so any key can be
    overridden; the authors' seed and final-classifier learning rate are listed for
    reproduction, set them with ``train.seed`` and ``classifier.lr``):

    ========  =====  ======  ====  ===========  =====  ==========  ==========
    preset    seed   epochs  lr    n_synthetic  noise  cls_weight  classifier
    ========  =====  ======  ====  ===========  =====  ==========  ==========
    awa1/2    9182   30      1e-5  1800         85     0.01        lr 1e-3
    cub       3483   56      1e-4  300          312    0.01        lr 1e-3
    flo       806    80      1e-4  1200         1024   0.1         lr 1e-3
    sun       4115   40      2e-4  400          102    0.01        lr 1e-3
    ========  =====  ======  ====  ===========  =====  ==========  ==========

    aPY has no published f-CLSWGAN setting (the paper reports CUB, FLO, SUN and AWA), so there
    is no ``apy`` preset. Without a preset: 30 epochs, lr 1e-4 (the authors' CUB / FLO value),
    300 synthetic features per class, noise of the semantics' size (the authors' convention),
    ``cls_weight`` 0.1 (their FLO value).

    How long to train: an epoch is ``⌈N / batch_size⌉`` generator updates (the authors'
    definition), so the schedule scales with the data. The generator first matches the
    features' marginal distribution and only later their class conditioning (the frozen
    classifier's loss on generated features, ``cls`` in ``train_log.csv``, stays near
    ``ln(#seen classes)`` until it does); that takes on the order of 10³ updates at lr 1e-4.
    AWA's lr 1e-5 works on AWA's 368 updates per epoch; on a dataset of a few thousand images
    (the demo's 2,918: 46 updates per epoch) lr 1e-5 for 30 epochs, or 3 epochs at 1e-4, stop
    before the conditioning is learnt and score at chance (measured on the demo data: ZSL
    7-24%, U ≈ 0-4%; with the defaults above ZSL 66%, H 54% at hidden 512). Give small
    datasets more epochs or a larger ``lr``; watch ``cls`` fall in the training log.

    Deviations from the authors' code: ZSL is scored with the GZSL classifier restricted to the
    unseen classes (one shared classifier, see :mod:`kgzsl.methods.generative`), and its epochs
    are chosen on validation, never on test; the authors train ``n_synthetic`` = 300 (AWA) for a
    separate ZSL classifier.

    Args:
        preset: ``awa2``, ``awa1``, ``cub``, ``flo`` or ``sun`` (see the table); ``None``: none.
        epochs: GAN training epochs.
        lr: Adam learning rate of generator and critic.
        batch_size: GAN mini-batch size (64).
        n_synthetic: synthetic features per unseen class for the shared classifier.
        noise_dim: size of ``z``; ``None``: the semantics' size.
        cls_weight: weight β of the classification loss.
        hidden: width of the generator's and the critic's hidden layer (4096).
        critic_steps: critic updates per generator update (5).
        gp_weight: gradient-penalty weight λ (10).
        beta1: Adam's β₁ (0.5).
        pretrain_epochs, pretrain_lr, pretrain_batch_size: the seen-class softmax of the
            classification loss (the authors': 50 epochs, 1e-3, batch 100).
        fidelity: measure the two-sample score (and plot the t-SNE inside a run).
        seed: seed of initialisation, batches and noise; ``None``: the run's.
        device: where to train and score; ``None``: the run's.

    Attributes:
        generator_: the trained :class:`Generator` (the critic is not kept: it is only needed
            to train, and it is as large as the generator).
        scale_, min_, semantics_, classifier_, train_log_, selected_, metrics_: see
            :class:`~kgzsl.methods.generative.GenerativeMethod`.

    Shapes:
        fit: a :class:`~kgzsl.methods.base.ZSLTask` with ``features [N, D]``, ``semantics [C, d]``.
        generate: ``[K, d]`` → ``[K · n, D]`` scaled features, class by class.
        decision_function: ``[N, D]`` → ``[N, C]``, ``-inf`` outside the candidates.
    """

    #: settings a preset may fill, and their values without a preset
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "epochs": 30,
        "lr": 1e-4,
        "batch_size": 64,
        "n_synthetic": 300,
        "noise_dim": None,
        "cls_weight": 0.1,
    }
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = FCLSWGAN_PRESETS

    preset: str | None = None
    epochs: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    n_synthetic: int | None = None
    noise_dim: int | None = None
    cls_weight: float | None = None
    hidden: int = 4096
    critic_steps: int = 5
    gp_weight: float = 10.0
    beta1: float = 0.5
    pretrain_epochs: int = 50
    pretrain_lr: float = 1e-3
    pretrain_batch_size: int = 100
    fidelity: bool = True
    seed: int | None = None
    device: str | None = None

    @classmethod
    def check_config(cls, params: dict[str, Any]) -> None:
        """Reject an unknown preset, a negative loss weight and fewer than one critic step."""
        cls.check_preset(params)
        for key in ("cls_weight", "gp_weight"):
            value = params.get(key)
            if isinstance(value, (int, float)) and not value >= 0:
                raise ConfigError(f"method.{key}: expected a value ≥ 0, got {value!r}")
        steps = params.get("critic_steps")
        if isinstance(steps, int) and steps < 1:
            raise ConfigError(f"method.critic_steps: expected a value ≥ 1, got {steps!r}")

    def _pretrain_classifier(self, x: torch.Tensor, local: torch.Tensor, n_seen: int, context: RunContext) -> nn.Module:
        """The frozen seen-class softmax of the classification loss."""
        module = nn.Linear(x.shape[1], n_seen, device=x.device)
        train_cross_entropy(
            module,
            x,
            local,
            self.pretrain_epochs,
            self.pretrain_lr,
            self.pretrain_batch_size,
            beta1=0.5,
            context=context,
            desc=f"{self.registry_name}: pretrain classifier",
        )
        for p in module.parameters():
            p.requires_grad_(False)
        return module.eval()

    def fit_generator(self, task: ZSLTask, context: RunContext) -> None:
        """Train the conditional WGAN-GP on the (min-max scaled) seen-class features of ``task``."""
        x, labels, semantics = task.features, task.labels, task.semantics
        n, n_features, device = x.shape[0], x.shape[1], x.device
        s = self.settings()
        noise_dim = int(s["noise_dim"] or semantics.shape[1])
        batch, steps = int(s["batch_size"]), int(self.critic_steps)
        self.noise_dim_ = noise_dim

        seen = torch.unique(labels)
        local_of = torch.full((task.num_classes,), -1, dtype=torch.long, device=device)
        local_of[seen] = torch.arange(len(seen), device=device)
        local = local_of[labels]
        attributes = semantics[labels]  # [N, d]: each image's conditioning, indexed per batch
        pretrained = self._pretrain_classifier(x, local, len(seen), context)

        g = torch.Generator(device=device)
        g.manual_seed(derive_seed(context.seed_for(self.seed), "f_clswgan", "gan"))
        self.generator_ = Generator(noise_dim, semantics.shape[1], self.hidden, n_features, device)
        critic = Critic(n_features, semantics.shape[1], self.hidden, device)
        # one fused kernel per step where torch has one (mathematically the same update)
        adam = {"lr": float(s["lr"]), "betas": (self.beta1, 0.999), "fused": device.type in ("cpu", "cuda")}
        opt_g = torch.optim.Adam(self.generator_.parameters(), **adam)
        opt_d = torch.optim.Adam(critic.parameters(), **adam)
        g_steps = -(-n // batch)
        self.generator_.train()
        state = {"generator": self.generator_, "critic": critic, "opt_g": opt_g, "opt_d": opt_d, "noise": g}
        loop = self._training_loop(context, "generator", int(s["epochs"]), state, desc=self.registry_name)
        for epoch in loop:
            # one stream of permutations gives every critic batch of the epoch (no repeats inside a batch)
            need = g_steps * steps * batch
            perms = [torch.randperm(n, device=device, generator=g) for _ in range(-(-need // n))]
            order = torch.cat(perms)[:need].view(g_steps, steps, batch)
            totals = torch.zeros(5, device=device)
            for it in range(g_steps):
                idx = order[it]  # [steps, batch]
                flat = idx.reshape(-1)
                with torch.no_grad():  # G is fixed during the critic steps: one pass for all of them
                    z = torch.randn(flat.numel(), noise_dim, device=device, generator=g)
                    fakes = self.generator_(z, attributes[flat]).view(steps, batch, n_features)
                for p in critic.parameters():
                    p.requires_grad_(True)
                for k in range(steps):
                    xb, ab = x[idx[k]], attributes[idx[k]]
                    alpha = torch.rand(batch, 1, device=device, generator=g)
                    d_real, d_fake, gp = critic.scores_and_penalty(xb, fakes[k], ab, alpha)
                    loss_d = d_fake - d_real + self.gp_weight * gp
                    opt_d.zero_grad(set_to_none=True)
                    loss_d.backward()
                    opt_d.step()
                for p in critic.parameters():
                    p.requires_grad_(False)
                # the generator step conditions on the last critic batch, as the authors' code
                last = idx[-1]
                ab = attributes[last]
                z = torch.randn(batch, noise_dim, device=device, generator=g)
                fake = self.generator_(z, ab)
                adv = -critic(fake, ab).mean()
                cls = nn.functional.cross_entropy(pretrained(fake), local[last])
                loss_g = adv + float(s["cls_weight"]) * cls
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
                totals += torch.stack(
                    [loss_d.detach(), (d_real - d_fake).detach(), gp.detach(), adv.detach(), cls.detach()]
                )
            loss_d_m, wasserstein, gp_m, adv_m, cls_m = (totals / g_steps).tolist()
            self._log(
                loop,
                "generator",
                epoch + 1,
                loss_d=loss_d_m,
                wasserstein=wasserstein,
                gp=gp_m,
                loss_g_adv=adv_m,
                cls=cls_m,
            )
        self.generator_.eval()

    @torch.no_grad()
    def generate(
        self, semantics: torch.Tensor, n_per_class: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``G(z, a)`` with ``z ~ N(0, I)``, ``n_per_class`` times for each row of ``semantics``.

        Shapes:
            semantics: ``[K, d]``.
            returns: ``[K · n, D]`` features in the min-max scaled space, class by class.
        """
        return self._decode_noise(self.generator_, self.noise_dim_, semantics, n_per_class, generator)
