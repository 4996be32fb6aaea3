"""CE-GZSL: a feature-generating WGAN-GP trained with a contrastive embedding, which the classifier reads."""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from kgzsl.context import RunContext, derive_seed
from kgzsl.errors import ConfigError
from kgzsl.methods.base import ZSLTask
from kgzsl.methods.f_clswgan import Critic, Generator
from kgzsl.methods.generative import GenerativeMethod
from kgzsl.registry import METHODS

__all__ = [
    "CEGZSL",
    "CEGZSL_PRESETS",
    "EmbeddingNet",
    "Comparator",
    "instance_contrastive_loss",
    "class_contrastive_loss",
    "pair_scores",
]


def _init_weights(module: nn.Module) -> None:
    """The authors' initialisation (``model.weights_init``): weights ~ N(0, 0.02), biases 0."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class EmbeddingNet(nn.Module):
    """The embedding ``h = ReLU(W₁ x + b₁)`` and its projection ``z = normalize(W₂ h + b₂)``.

    The authors' ``Embedding_Net``.

    Shapes:
        x: ``[N, D]`` → ``(h [N, embed_dim], z [N, proj_dim])``, each row of ``z`` of unit L2 norm.
    """

    def __init__(self, n_features: int, embed_dim: int, proj_dim: int, device: Any = None):
        super().__init__()
        self.fc1 = nn.Linear(n_features, embed_dim, device=device)
        self.fc2 = nn.Linear(embed_dim, proj_dim, device=device)
        self.apply(_init_weights)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``h(x)``, the space the classifier reads."""
        return torch.relu(self.fc1(x))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.embed(x)
        return h, nn.functional.normalize(self.fc2(h), dim=1)


class _PairMLP(torch.autograd.Function):
    """``s_ij = w · LeakyReLU(p_i + q_j)`` for every pair ``(i, j)``, in row chunks, without keeping ``[B, C, H]``.

    The forward pass keeps only ``p``, ``q`` and ``w``; the backward pass recomputes each
    chunk's pre-activations ``u = p_i + q_j`` in reused chunk buffers, so the memory stays
    ``O(chunk · C · H)`` whatever the batch. With ``LeakyReLU(u) = α u + (1 − α) ReLU(u)``
    (α = ``slope``) the gradients split into a linear part, computed once from the row and
    column sums of the incoming gradient ``g``, and three reductions per chunk:
    ``Σ_ij g_ij ReLU(u_ij)`` for ``w``, ``Σ_j g_ij [u_ij > 0]`` for ``p`` and
    ``Σ_i g_ij [u_ij > 0]`` for ``q`` (the step at exactly 0 as torch's own LeakyReLU).
    """

    @staticmethod
    def forward(ctx: Any, p: torch.Tensor, q: torch.Tensor, w: torch.Tensor, slope: float, chunk: int) -> torch.Tensor:
        out = p.new_empty(p.shape[0], q.shape[0])
        buf = p.new_empty(min(chunk, p.shape[0]), q.shape[0], q.shape[1])  # reused: no page faults per chunk
        for s in range(0, p.shape[0], chunk):
            u = buf[: min(chunk, p.shape[0] - s)]
            torch.add(p[s : s + chunk, None, :], q[None], out=u)
            nn.functional.leaky_relu_(u, slope)
            torch.matmul(u, w, out=out[s : s + chunk])
        ctx.save_for_backward(p, q, w)
        ctx.slope, ctx.chunk = slope, chunk
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        p, q, w = ctx.saved_tensors
        a, chunk = ctx.slope, ctx.chunk
        need_p, need_q, need_w = ctx.needs_input_grad[:3]
        grad = grad.contiguous()
        on_p = torch.empty_like(p)  # Σ_j g_ij [u_ij > 0]
        on_q = torch.zeros_like(q)  # Σ_i g_ij [u_ij > 0]
        relu_w = torch.zeros_like(w)  # Σ_ij g_ij ReLU(u_ij)
        # two reused chunk buffers (the pre-activations, then g_ij [u_ij > 0]): no page faults per chunk
        buf = p.new_empty(2, min(chunk, p.shape[0]), q.shape[0], q.shape[1])
        for s in range(0, p.shape[0], chunk):
            g = grad[s : s + chunk]  # [b, C]
            u, m = buf[0, : g.shape[0]], buf[1, : g.shape[0]]
            torch.add(p[s : s + chunk, None, :], q[None], out=u)
            u.clamp_(min=0)  # ReLU(u)
            if need_w:
                relu_w += (g.reshape(1, -1) @ u.reshape(-1, u.shape[2]))[0]
            torch.mul(u.sign_(), g[:, :, None], out=m)  # g_ij [u_ij > 0]
            if need_p:
                torch.sum(m, 1, out=on_p[s : s + chunk])
            if need_q:
                on_q += m.sum(0)
        rows, cols = grad.sum(1), grad.sum(0)
        dp = (a * rows[:, None] + (1 - a) * on_p) * w if need_p else None
        dq = (a * cols[:, None] + (1 - a) * on_q) * w if need_q else None
        dw = a * (rows @ p + cols @ q) + (1 - a) * relu_w if need_w else None
        return dp, dq, dw, None, None


def pair_scores(comparator: Comparator, h: torch.Tensor, semantics: torch.Tensor) -> torch.Tensor:
    """``F([h_i; a_j])`` for every embedding ``h_i`` and every class ``a_j``, in matrix form.

    The comparator's first layer is linear in its concatenated input, so
    ``W [h; a] + b = (W_h h + b) + W_a a`` (the comparator keeps ``W_h`` and ``W_a`` as two
    layers): two small products ``[B, H]`` and ``[C, H]`` replace the ``[B·C, E + d] × [E + d, H]``
    product over every pair (the authors' ``class_scores_in_matrix`` / ``class_scores_for_loop``),
    which is about ``C (E + d) / E`` times more work (42x at AWA2 size). What stays per pair is
    the LeakyReLU and the output layer's dot product, computed in chunks (see :class:`_PairMLP`).

    Shapes:
        h: ``[B, E]``; semantics: ``[C, d]`` → ``[B, C]``.
    """
    p = comparator.fc_h(h)  # [B, H]
    q = comparator.fc_a(semantics)  # [C, H]
    per_chunk = (1 << 26) if h.is_cuda else (1 << 18)  # elements of one [b, C, H] block (CPU: ~L2)
    chunk = max(1, per_chunk // max(1, q.shape[0] * q.shape[1]))
    out = _PairMLP.apply(p, q, comparator.fc2.weight[0], comparator.slope, chunk)
    return out + comparator.fc2.bias


class Comparator(nn.Module):
    """The class-level comparator ``F([h; a]) = w · LeakyReLU(W [h; a] + b) + c`` (the authors' ``Dis_Embed_Att``).

    The first layer ``W = [W_h W_a]`` is kept as its two blocks, ``fc_h`` (with the bias ``b``)
    and ``fc_a``: the same function and initialisation (every weight ~ N(0, 0.02), biases 0),
    and the matrix form needs no slicing of a shared weight. :meth:`forward` scores given
    ``[h; a]`` pairs (the authors' layout); :meth:`pairs` scores every embedding against every
    class in matrix form (:func:`pair_scores`).
    """

    slope: float = 0.2

    def __init__(self, embed_dim: int, n_semantics: int, hidden: int, device: Any = None):
        super().__init__()
        self.embed_dim = embed_dim
        self.fc_h = nn.Linear(embed_dim, hidden, device=device)
        self.fc_a = nn.Linear(n_semantics, hidden, bias=False, device=device)
        self.fc2 = nn.Linear(hidden, 1, device=device)
        self.apply(_init_weights)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        """Shapes: ``[N, E + d]`` → ``[N, 1]``."""
        hidden = self.fc_h(pairs[:, : self.embed_dim]) + self.fc_a(pairs[:, self.embed_dim :])
        return self.fc2(nn.functional.leaky_relu(hidden, self.slope))

    def pairs(self, h: torch.Tensor, semantics: torch.Tensor) -> torch.Tensor:
        """Shapes: ``h [B, E]``, ``semantics [C, d]`` → ``[B, C]``."""
        return pair_scores(self, h, semantics)


def instance_contrastive_loss(z: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    """The supervised contrastive loss of a batch (Khosla et al., NeurIPS 2020), in matrix form.

    ``L = mean_{i ∈ A} −1/|P(i)| Σ_{p ∈ P(i)} log( exp(z_i·z_p / τ) / Σ_{k ≠ i} exp(z_i·z_k / τ) )``

    with ``P(i)`` the other rows of ``i``'s label and ``A`` the anchors that have any (the
    authors' ``SupConLoss_clear`` drops anchors without a positive). With no such anchor the
    loss is 0 (the authors' code gives NaN).

    Shapes:
        z: ``[N, k]`` (rows L2-normalised in CE-GZSL); labels: ``[N]`` → a scalar.
    """
    n = z.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = (z @ z.T / temperature).masked_fill(eye, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positive = (labels[:, None] == labels[None, :]) & ~eye
    n_pos = positive.sum(1)
    mean_pos = torch.where(positive, log_prob, torch.zeros((), dtype=z.dtype, device=z.device)).sum(1)
    mean_pos = mean_pos / n_pos.clamp(min=1)
    anchors = (n_pos > 0).to(z.dtype)
    return -(mean_pos * anchors).sum() / anchors.sum().clamp(min=1.0)


def class_contrastive_loss(
    comparator: Comparator, h: torch.Tensor, semantics: torch.Tensor, labels: torch.Tensor, temperature: float
) -> torch.Tensor:
    """The class-level supervised contrastive loss: each embedding against every seen class's semantics.

    ``L = mean_i −log( exp(F(h_i, a_{y_i}) / τ) / Σ_j exp(F(h_i, a_j) / τ) )``, ``j`` over the
    seen classes (the authors' ``class_scores_for_loop``), with :func:`pair_scores` in matrix form.

    Shapes:
        h: ``[B, E]``; semantics: ``[C, d]`` (the seen classes); labels: ``[B]`` in ``0..C-1`` → a scalar.
    """
    return nn.functional.cross_entropy(comparator.pairs(h, semantics) / temperature, labels)


#: the authors' per-dataset settings: ``Hanzy1996/CE-GZSL@3b44bb6:CE_GZSL.py`` argparse defaults
#: and README (CUB), and the author's comments in its issues #2 (seed, noise, syn_num, nhF,
#: weights, lr, lr_decay_epoch, epochs) and #15 / #19 (epochs). ``noise_dim`` ``None``: the
#: semantics' size (the author: "nz = attSize" on AWA1/AWA2/CUB/SUN). Batch sizes were never
#: published: 2048 is the code's default and the README's CUB example.
CEGZSL_PRESETS: dict[str, dict[str, Any]] = {
    "awa1": {
        "epochs": 130,
        "lr": 1e-4,
        "lr_decay_epoch": 50,
        "n_synthetic": 1800,
        "noise_dim": None,
        "comparator_hidden": 2048,
        "ins_weight": 0.001,
        "cls_weight": 0.001,
    },
    "awa2": {
        "epochs": 130,
        "lr": 1e-4,
        "lr_decay_epoch": 10,
        "n_synthetic": 2400,
        "noise_dim": None,
        "comparator_hidden": 2048,
        "ins_weight": 0.001,
        "cls_weight": 0.001,
    },
    "cub": {
        "epochs": 450,
        "lr": 1e-4,
        "lr_decay_epoch": 100,
        "n_synthetic": 100,
        "noise_dim": None,
        "comparator_hidden": 2048,
        "ins_weight": 0.001,
        "cls_weight": 0.001,
    },
    "flo": {
        "epochs": 750,
        "lr": 1e-4,
        "lr_decay_epoch": 100,
        "n_synthetic": 600,
        "noise_dim": 512,
        "comparator_hidden": 1024,
        "ins_weight": 0.01,
        "cls_weight": 0.01,
    },
    "sun": {
        "epochs": 1000,
        "lr": 5e-5,
        "lr_decay_epoch": 100,
        "n_synthetic": 100,
        "noise_dim": None,
        "comparator_hidden": 1024,
        "ins_weight": 0.01,
        "cls_weight": 0.01,
    },
}


@METHODS.register("ce_gzsl")
class CEGZSL(GenerativeMethod):
    """CE-GZSL: hybrid GZSL with a contrastive embedding (Han, Fu, Chen and Yang, CVPR 2021).

    From "Contrastive Embedding for Generalized Zero-Shot Learning". A conditional WGAN-GP
    generator ``G(z, a)`` (f-CLSWGAN's networks: :class:`~kgzsl.methods.f_clswgan.Generator`,
    :class:`~kgzsl.methods.f_clswgan.Critic`, gradient penalty
    :func:`~kgzsl.methods.f_clswgan.gradient_penalty`) is trained together with an embedding
    network ``h = ReLU(W₁ x)``, ``z = normalize(W₂ h)`` (:class:`EmbeddingNet`) and a comparator
    ``F([h; a])`` (:class:`Comparator`), with two supervised contrastive losses:

    * instance level, on ``z``: :func:`instance_contrastive_loss` at temperature ``ins_temp``;
    * class level, on ``h``: :func:`class_contrastive_loss`, the softmax over the seen classes
      of ``F(h, a_j) / cls_temp``.

    Critic step (critic, embedding and comparator, one Adam):
    ``L_D = E[D(x̃, a)] − E[D(x, a)] + λ·GP + L_ins(z(x)) + L_cls(h(x))`` on real features;
    generator step: ``L_G = −E[D(x̃, a)] + β_ins · L_ins([z(x̃); z(x)]) + β_cls · L_cls(h(x̃))``,
    the instance loss over the synthetic and (detached) real projections of the batch, with
    ``critic_steps`` (5) critic steps, each on a fresh random batch, per generator step;
    ``⌈N / batch_size⌉`` generator steps per epoch; both learning rates multiplied by
    ``lr_decay`` (0.99) every ``lr_decay_epoch`` epochs. The shared classifier reads the
    embedding ``h(x)`` (:meth:`classifier_features`), as the authors' ``classifier_embed_contras``.

    Written for speed with the mathematics of the authors' code: both contrastive losses in
    matrix form (the comparator's first layer split into its ``h`` and ``a`` parts, see
    :func:`pair_scores`, instead of a per-sample loop over the batch), the training set on
    the device with batches drawn by index, the synthetic features of all critic steps of
    one generator step from one generator pass (the generator does not change during them),
    and Adam's fused kernels. ``benchmarks/perf/epoch_ce_gzsl.py`` times an AWA2-size epoch
    against the authors' way of writing it.

    Presets (``preset:``; a preset fills only the keys left at ``None``; the seed and the
    classifier's settings are listed for reproduction: ``train.seed``, ``classifier.*``):

    ======  ====  ======  =====  =====  ===========  =====  ======  =============
    preset  seed  epochs  lr     decay  n_synthetic  noise  F hid.  ins/cls weight
    ======  ====  ======  =====  =====  ===========  =====  ======  =============
    awa1    9182  130     1e-4   50     1800         85     2048    0.001
    awa2    9182  130     1e-4   10     2400         85     2048    0.001
    cub     3483  450     1e-4   100    100          1024   2048    0.001
    flo     806   750     1e-4   100    600          512    1024    0.01
    sun     4115  1000    5e-5   100    100          102    1024    0.01
    ======  ====  ======  =====  =====  ===========  =====  ======  =============

    Sources: the code's defaults (``Hanzy1996/CE-GZSL@3b44bb6:CE_GZSL.py``: embedding 2048,
    projection 512, G / D hidden 4096, temperatures 0.1, decay 0.99, Adam β₁ 0.5, gradient
    penalty 10, 5 critic steps, CUB's seed and settings in its README), the author's comments
    in CE-GZSL issue #2 (seeds, noise ``= attSize`` except FLO 512, syn_num, F hidden, weights,
    lr, decay epochs, epochs; FLO "about 750", 730 in #15) and #15 / #19 (epochs). "noise" is
    the semantics' size (``noise_dim: None``), shown for the authors' semantics (CUB: 1024-d
    sentence embeddings). No aPY setting was published: there is no ``apy`` preset.
    **Batch size**: the authors never published theirs; kgzsl uses 2048 for every preset (the
    code's default and the README's CUB command; reproducers report 2048 or 4096 on AWA2 and
    1024 on SUN, CE-GZSL issues #16, #19). The authors' final classifier: lr 1e-3, β₁ 0.5, 25
    epochs (GZSL), batch ``syn_num``. Without a preset: 130 epochs, lr 1e-4, decay every 100
    epochs, 100 synthetic features per class, noise of the semantics' size, F hidden 2048,
    weights 0.001.

    Deviations from the authors' code: the classifier's epochs are chosen on validation (the
    authors retrain the classifier after every GAN epoch and keep the best epoch on the *test*
    split: not done here); ZSL is scored with the shared GZSL classifier restricted to the
    unseen classes; an instance loss with no anchor having a positive is 0, not NaN; the
    comparator's gradients are cleared before every critic step (the authors' loop clears
    those of the critic and the embedding only, and the comparator's once an epoch, so they
    accumulate over an epoch's critic steps — taken here as an oversight).

    Args:
        preset: ``awa1``, ``awa2``, ``cub``, ``flo`` or ``sun``; ``None``: none.
        epochs: GAN training epochs.
        lr: Adam learning rate of every network.
        lr_decay_epoch: multiply the learning rates by ``lr_decay`` every this many epochs.
        batch_size: mini-batch size (2048; capped at the number of training features).
        n_synthetic: synthetic features per unseen class for the shared classifier.
        noise_dim: size of the generator's noise; ``None``: the semantics' size.
        comparator_hidden: width of the comparator's hidden layer (``nhF``).
        ins_weight, cls_weight: weights β of the instance- and class-level losses in ``L_G``.
        embed_dim: size of the embedding ``h`` (2048).
        proj_dim: size of the projection ``z`` (512).
        hidden: width of the generator's and the critic's hidden layer (4096).
        ins_temp, cls_temp: temperatures of the instance- and class-level losses (0.1).
        critic_steps: critic steps per generator step (5).
        gp_weight: gradient-penalty weight λ (10).
        beta1: Adam's β₁ (0.5).
        lr_decay: the learning-rate decay factor (0.99).
        fidelity: measure the two-sample score (and plot the t-SNE inside a run).
        seed: seed of initialisation, batches and noise; ``None``: the run's.
        device: where to train and score; ``None``: the run's.

    Attributes:
        generator_: the trained :class:`~kgzsl.methods.f_clswgan.Generator`.
        embedding_: the trained :class:`EmbeddingNet` (the classifier reads its ``h``).
        noise_dim_: the noise size used.
        scale_, min_, semantics_, classifier_, train_log_, selected_, metrics_: see
            :class:`~kgzsl.methods.generative.GenerativeMethod`.

    Shapes:
        fit: a :class:`~kgzsl.methods.base.ZSLTask` with ``features [N, D]``, ``semantics [C, d]``.
        generate: ``[K, d]`` → ``[K · n, D]`` scaled features, class by class.
        classifier_features: ``[N, D]`` → ``[N, embed_dim]``.
        decision_function: ``[N, D]`` → ``[N, C]``, ``-inf`` outside the candidates.
    """

    #: settings a preset may fill, and their values without a preset
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "epochs": 130,
        "lr": 1e-4,
        "lr_decay_epoch": 100,
        "batch_size": 2048,
        "n_synthetic": 100,
        "noise_dim": None,
        "comparator_hidden": 2048,
        "ins_weight": 0.001,
        "cls_weight": 0.001,
    }
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = CEGZSL_PRESETS

    def __init__(
        self,
        preset: str | None = None,
        epochs: int | None = None,
        lr: float | None = None,
        lr_decay_epoch: int | None = None,
        batch_size: int | None = None,
        n_synthetic: int | None = None,
        noise_dim: int | None = None,
        comparator_hidden: int | None = None,
        ins_weight: float | None = None,
        cls_weight: float | None = None,
        embed_dim: int = 2048,
        proj_dim: int = 512,
        hidden: int = 4096,
        ins_temp: float = 0.1,
        cls_temp: float = 0.1,
        critic_steps: int = 5,
        gp_weight: float = 10.0,
        beta1: float = 0.5,
        lr_decay: float = 0.99,
        fidelity: bool = True,
        seed: int | None = None,
        device: str | None = None,
    ) -> None:
        self.preset = preset
        self.epochs = epochs
        self.lr = lr
        self.lr_decay_epoch = lr_decay_epoch
        self.batch_size = batch_size
        self.n_synthetic = n_synthetic
        self.noise_dim = noise_dim
        self.comparator_hidden = comparator_hidden
        self.ins_weight = ins_weight
        self.cls_weight = cls_weight
        self.embed_dim = embed_dim
        self.proj_dim = proj_dim
        self.hidden = hidden
        self.ins_temp = ins_temp
        self.cls_temp = cls_temp
        self.critic_steps = critic_steps
        self.gp_weight = gp_weight
        self.beta1 = beta1
        self.lr_decay = lr_decay
        self.fidelity = fidelity
        self.seed = seed
        self.device = device

    @classmethod
    def check_config(cls, params: dict[str, Any]) -> None:
        """Reject an unknown preset, negative weights, non-positive temperatures and fewer than one critic step."""
        cls.check_preset(params)
        for key in ("ins_weight", "cls_weight", "gp_weight"):
            value = params.get(key)
            if isinstance(value, (int, float)) and not value >= 0:
                raise ConfigError(f"method.{key}: expected a value ≥ 0, got {value!r}")
        for key in ("ins_temp", "cls_temp", "lr_decay"):
            value = params.get(key)
            if isinstance(value, (int, float)) and not value > 0:
                raise ConfigError(f"method.{key}: expected a value > 0, got {value!r}")
        for key in ("critic_steps", "lr_decay_epoch"):
            value = params.get(key)
            if isinstance(value, int) and value < 1:
                raise ConfigError(f"method.{key}: expected a value ≥ 1, got {value!r}")

    def fit_generator(self, task: ZSLTask, context: RunContext) -> None:
        """Train generator, critic, embedding and comparator on the (min-max scaled) seen-class features."""
        x, labels, semantics = task.features, task.labels, task.semantics
        n, n_features, device = x.shape[0], x.shape[1], x.device
        n_sem = semantics.shape[1]
        s = self.settings()
        noise_dim = int(s["noise_dim"] or n_sem)
        batch, steps = min(int(s["batch_size"]), n), int(self.critic_steps)
        self.noise_dim_ = noise_dim
        ins_w, cls_w = float(s["ins_weight"]), float(s["cls_weight"])

        seen = torch.unique(labels)
        local_of = torch.full((task.num_classes,), -1, dtype=torch.long, device=device)
        local_of[seen] = torch.arange(len(seen), device=device)
        local = local_of[labels]
        attributes = semantics[labels]  # [N, d]: each image's conditioning, indexed per batch
        seen_semantics = semantics[seen]  # [C_s, d]: the classes of the class-level loss

        g = torch.Generator(device=device)
        g.manual_seed(derive_seed(context.seed_for(self.seed), "ce_gzsl", "gan"))
        self.generator_ = Generator(noise_dim, n_sem, self.hidden, n_features, device)
        critic = Critic(n_features, n_sem, self.hidden, device)
        self.embedding_ = EmbeddingNet(n_features, self.embed_dim, self.proj_dim, device)
        comparator = Comparator(self.embed_dim, n_sem, int(s["comparator_hidden"]), device)
        # Adam's fused kernels (the same update, one pass over the parameters: 5x faster on a CPU)
        adam = {"lr": float(s["lr"]), "betas": (self.beta1, 0.999), "fused": device.type in ("cpu", "cuda")}
        discriminative = [critic, self.embedding_, comparator]
        opt_d = torch.optim.Adam(itertools.chain(*(m.parameters() for m in discriminative)), **adam)
        opt_g = torch.optim.Adam(self.generator_.parameters(), **adam)
        g_steps = -(-n // batch)
        state = {
            "generator": self.generator_,
            "critic": critic,
            "embedding": self.embedding_,
            "comparator": comparator,
            "opt_d": opt_d,
            "opt_g": opt_g,
            "noise": g,
        }
        loop = self._training_loop(context, "generator", int(s["epochs"]), state, desc=self.registry_name)
        for module in (self.generator_, *discriminative):
            module.train()
        for epoch in loop:
            totals = torch.zeros(7, device=device)
            for _ in range(g_steps):
                # each critic step on its own random batch (the authors' ``next_batch``)
                idx = torch.stack([torch.randperm(n, device=device, generator=g)[:batch] for _ in range(steps)])
                with torch.no_grad():  # G is fixed during the critic steps: one pass for all of them
                    z = torch.randn(steps * batch, noise_dim, device=device, generator=g)
                    fakes = self.generator_(z, attributes[idx.reshape(-1)]).view(steps, batch, n_features)
                _requires_grad(discriminative, True)
                for k in range(steps):
                    xb, ab, yb = x[idx[k]], attributes[idx[k]], local[idx[k]]
                    alpha = torch.rand(batch, 1, device=device, generator=g)
                    d_real, d_fake, gp = critic.scores_and_penalty(xb, fakes[k], ab, alpha)
                    h_real, z_real = self.embedding_(xb)
                    ins_real = instance_contrastive_loss(z_real, yb, self.ins_temp)
                    cls_real = class_contrastive_loss(comparator, h_real, seen_semantics, yb, self.cls_temp)
                    loss_d = d_fake - d_real + self.gp_weight * gp + ins_real + cls_real
                    opt_d.zero_grad(set_to_none=True)
                    loss_d.backward()
                    opt_d.step()
                _requires_grad(discriminative, False)
                # the generator step conditions on the last critic batch, as the authors' code
                xb, ab, yb = x[idx[-1]], attributes[idx[-1]], local[idx[-1]]
                z = torch.randn(batch, noise_dim, device=device, generator=g)
                fake = self.generator_(z, ab)
                h_fake, z_fake = self.embedding_(fake)
                adv = -critic(fake, ab).mean()
                with torch.no_grad():
                    _, z_real = self.embedding_(xb)
                ins_fake = instance_contrastive_loss(torch.cat([z_fake, z_real]), torch.cat([yb, yb]), self.ins_temp)
                cls_fake = class_contrastive_loss(comparator, h_fake, seen_semantics, yb, self.cls_temp)
                loss_g = adv + ins_w * ins_fake + cls_w * cls_fake
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
                parts = [loss_d, d_real - d_fake, gp, ins_real, cls_real, ins_fake, cls_fake]
                totals += torch.stack([v.detach() for v in parts])
            if (epoch + 1) % int(s["lr_decay_epoch"]) == 0:
                for opt in (opt_d, opt_g):
                    for group in opt.param_groups:
                        group["lr"] *= self.lr_decay
            values = (totals / g_steps).tolist()
            names = ["loss_d", "wasserstein", "gp", "ins_real", "cls_real", "ins_fake", "cls_fake"]
            self._log(loop, "generator", epoch + 1, **dict(zip(names, values)))
        _requires_grad(discriminative, True)
        self.generator_.eval()
        self.embedding_.eval()

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

    @torch.no_grad()
    def classifier_features(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding ``h(x) = ReLU(W₁ x + b₁)`` of scaled real or synthetic features.

        Shapes:
            x: ``[N, D]`` → ``[N, embed_dim]``.
        """
        return self.embedding_.embed(x.to(self.scale_.device, torch.float32))


def _requires_grad(modules: list[nn.Module], flag: bool) -> None:
    for module in modules:
        for p in module.parameters():
            p.requires_grad_(flag)
