"""The shared final classifiers that generative ZSL methods train on real + synthetic features.

Generative methods (f-CLSWGAN, CVAE, ...) turn zero-shot learning into ordinary supervised
learning: they synthesise features of the unseen classes and fit a plain classifier on real
seen and synthetic unseen features. Comparisons between generators are only fair when that
final classifier is the same, so it lives here, in one registry, shared by every method
(Xian et al., "Feature Generating Networks for Zero-Shot Learning", CVPR 2018).

Both classifiers score the **global** class index space: :meth:`decision_function` returns
``[N, num_classes]`` log-probabilities over the classes given to ``fit`` and ``-inf`` for every
other class, so that their output plugs straight into :mod:`kgzsl.evaluation` and into
:meth:`kgzsl.methods.base.ZSLMethod.decision_function`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from kgzsl.context import current_context, fit_context, seeded
from kgzsl.registry import CLASSIFIERS, Component
from kgzsl.utils import mask_candidates

if TYPE_CHECKING:
    from kgzsl.context import RunContext

__all__ = ["CosineClassifier", "LinearClassifierBase", "SoftmaxClassifier", "train_cross_entropy"]


def train_cross_entropy(
    module: nn.Module,
    features: torch.Tensor,
    targets: torch.Tensor,
    epochs: int,
    lr: float,
    batch_size: int,
    weight_decay: float = 0.0,
    beta1: float = 0.5,
    context: RunContext | None = None,
    desc: str = "classifier",
    on_epoch: Callable[[int], Any] | None = None,
) -> nn.Module:
    """Train ``module`` (features → logits) with cross-entropy and Adam, in shuffled mini-batches.

    The data stays whole on its device; every epoch draws one ``torch.randperm`` from the
    global generator and slices it, so training repeats exactly after ``torch.manual_seed``.
    The bar over epochs follows ``context``'s (or the active run's) progress setting.

    ``on_epoch(epoch)`` (1-based), if given, is called after every epoch with the module in
    eval mode and gradients off (e.g. to score validation images and keep the best epoch); it
    must draw no random numbers, so that training is the same with or without it.

    Shapes:
        features: ``[N, D]``.
        targets: ``[N]`` int64 in ``0..K-1`` (local class indices).
    """
    n = features.shape[0]
    # beta1 = 0.5 is the setting of the GAN-based ZSL papers whose classifier this is.
    optimizer = torch.optim.Adam(module.parameters(), lr=lr, betas=(beta1, 0.999), weight_decay=weight_decay)
    module.train()
    for epoch in current_context(context).bar(range(epochs), desc=desc, unit="epoch"):
        order = torch.randperm(n, device=features.device)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            loss = nn.functional.cross_entropy(module(features[idx]), targets[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if on_epoch is not None:
            module.eval()
            with torch.no_grad():
                on_epoch(epoch + 1)
            module.train()
    module.eval()
    return module


class LinearClassifierBase(Component):
    """Shared ``fit`` / ``decision_function`` of the classifiers; subclasses only build the layer.

    Training runs on the classifier's own ``device``, else the run's (outside a run: the
    features'), with the seed ``context.seed_for(self.seed)`` (``None``: the run's), in a
    forked RNG (:func:`~kgzsl.methods.base.fit_context`).

    Attributes (after ``fit``):
        module_: the trained ``nn.Module`` mapping ``[N, D]`` features to ``[N, K]`` logits.
        classes_: ``[K]`` int64 global indices of the classes it scores, in logit order.
        num_classes_: size of the global class index space.
    """

    epochs: int
    lr: float
    batch_size: int
    weight_decay: float
    beta1: float
    seed: int | None
    device: str | None

    def _build(self, in_features: int, n_classes: int, device: torch.device) -> nn.Module:
        raise NotImplementedError

    def fit(
        self,
        features: torch.Tensor,
        labels: torch.Tensor,
        classes: torch.Tensor,
        num_classes: int | None = None,
        context: RunContext | None = None,
        on_epoch: Callable[[int, LinearClassifierBase], Any] | None = None,
    ) -> LinearClassifierBase:
        """Train on ``features`` with global ``labels``, scoring only ``classes``.

        Args:
            features: ``[N, D]`` float features (moved to the classifier's device).
            labels: ``[N]`` int64 global class indices, each in ``classes``.
            classes: ``[K]`` global indices of the classes to score (e.g. ``task.candidates``).
            num_classes: size ``C`` of the global class space (``task.num_classes``); defaults
                to ``max(classes) + 1``.
            context: the run's seed, device and progress setting (``None``: the active run's, if any).
            on_epoch: called as ``on_epoch(epoch, self)`` after every epoch (1-based), when
                :meth:`decision_function` already scores with the weights of that epoch (the
                generative methods' epoch selection on validation, :mod:`kgzsl.methods.generative`).

        Returns:
            ``self``.
        """
        ctx, device = fit_context(context, self.device, features.device)
        features = features.to(device, torch.float32)
        labels = torch.as_tensor(labels, device=device).long()
        classes = torch.as_tensor(classes, device=device).long().flatten()
        if features.ndim != 2 or labels.shape != (features.shape[0],):
            raise ValueError(f"classifier: features {tuple(features.shape)} and labels {tuple(labels.shape)} disagree")
        if classes.numel() == 0 or classes.unique().numel() != classes.numel() or int(classes.min()) < 0:
            raise ValueError("classifier: classes must be distinct non-negative class indices")
        num_classes = int(classes.max()) + 1 if num_classes is None else int(num_classes)
        if int(classes.max()) >= num_classes:
            raise ValueError(f"classifier: class index {int(classes.max())} >= num_classes {num_classes}")
        # Global → local (logit) index; -1 marks labels outside `classes`.
        local = torch.full((num_classes,), -1, dtype=torch.long, device=device)
        local[classes] = torch.arange(classes.numel(), device=device)
        in_range = (labels >= 0) & (labels < num_classes)
        targets = local[labels.clamp(0, num_classes - 1)]
        if not bool((in_range & (targets >= 0)).all()):
            raise ValueError("classifier: every label must be one of `classes`")
        self.classes_ = classes
        self.num_classes_ = num_classes
        with seeded(ctx.seed_for(self.seed), device):
            module = self._build(features.shape[1], classes.numel(), device)
            self.module_ = module  # decision_function works inside on_epoch
            self.module_ = train_cross_entropy(
                module,
                features,
                targets,
                self.epochs,
                self.lr,
                self.batch_size,
                self.weight_decay,
                self.beta1,
                context=ctx,
                desc=f"classifier ({self.registry_name})",
                on_epoch=None if on_epoch is None else lambda epoch: on_epoch(epoch, self),
            )
        return self

    @torch.no_grad()
    def decision_function(self, features: torch.Tensor) -> torch.Tensor:
        """Log-softmax over the fitted classes, in the global class space.

        Shapes:
            features: ``[N, D]`` (moved to the classifier's device).
            returns: ``[N, num_classes]`` float32; ``-inf`` outside ``classes_``.
        """
        features = features.to(self.classes_.device, torch.float32)
        log_probs = torch.log_softmax(self.module_(features), dim=1)
        return mask_candidates(log_probs, self.classes_, self.num_classes_)


@CLASSIFIERS.register("softmax")
class SoftmaxClassifier(LinearClassifierBase):
    """Softmax classifier: one linear layer trained with cross-entropy (Xian et al., CVPR 2018).

    The final classifier of feature-generating ZSL: ``p(y | x) = softmax(W x + b)_y``, trained
    with Adam on mini-batches; scores are ``log p(y | x)`` over the fitted classes.

    Args:
        epochs: passes over the training features.
        lr: Adam learning rate.
        batch_size: mini-batch size.
        weight_decay: L2 penalty on the weights (Adam's ``weight_decay``).
        beta1: Adam's first-moment decay.
        seed: seed of the initialisation and shuffling; ``None``: the run's.
        device: where to train; ``None``: the run's.

    Shapes:
        fit features: ``[N, D]``, labels ``[N]`` global indices, classes ``[K]``.
        decision_function: ``[N, D]`` → ``[N, num_classes]``.
    """

    def __init__(
        self,
        epochs: int = 30,
        lr: float = 1e-3,
        batch_size: int = 64,
        weight_decay: float = 0.0,
        beta1: float = 0.5,
        seed: int | None = None,
        device: str | None = None,
    ) -> None:
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.beta1 = beta1
        self.seed = seed
        self.device = device

    def _build(self, in_features: int, n_classes: int, device: torch.device) -> nn.Module:
        return nn.Linear(in_features, n_classes, device=device)


class _CosineLayer(nn.Module):
    """``logits = s · (x / ‖x‖) · (w_k / ‖w_k‖)`` with a fixed or learned scale ``s``."""

    def __init__(self, in_features: int, n_classes: int, scale: float, learn_scale: bool, device: torch.device):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_classes, in_features, device=device))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)  # nn.Linear's initialisation
        # The scale is kept as a log so that, when learned, it stays positive.
        log_scale = torch.tensor(float(scale), device=device).log()
        if learn_scale:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.normalize(x, dim=1)
        w = nn.functional.normalize(self.weight, dim=1)
        return self.log_scale.exp() * (x @ w.T)


@CLASSIFIERS.register("cosine")
class CosineClassifier(LinearClassifierBase):
    """Cosine classifier: scaled cosine-similarity logits (Gidaris & Komodakis, CVPR 2018).

    From "Dynamic Few-Shot Visual Learning without Forgetting":
    ``p(y | x) = softmax_y(s · cos(x, w_y))`` with features and class weights l2-normalised,
    so that no class wins by the norm of its weights, a bias of linear classifiers trained on
    imbalanced real/synthetic data. The temperature ``s`` is fixed or learned.

    Args:
        epochs: passes over the training features.
        lr: Adam learning rate.
        batch_size: mini-batch size.
        weight_decay: L2 penalty on the weights (Adam's ``weight_decay``).
        beta1: Adam's first-moment decay.
        scale: the temperature ``s`` (its initial value when learned).
        learn_scale: learn ``s`` with the weights.
        seed: seed of the initialisation and shuffling; ``None``: the run's.
        device: where to train; ``None``: the run's.

    Shapes:
        fit features: ``[N, D]``, labels ``[N]`` global indices, classes ``[K]``.
        decision_function: ``[N, D]`` → ``[N, num_classes]``.
    """

    def __init__(
        self,
        epochs: int = 30,
        lr: float = 1e-3,
        batch_size: int = 64,
        weight_decay: float = 0.0,
        beta1: float = 0.5,
        scale: float = 10.0,
        learn_scale: bool = False,
        seed: int | None = None,
        device: str | None = None,
    ) -> None:
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.beta1 = beta1
        self.scale = scale
        self.learn_scale = learn_scale
        self.seed = seed
        self.device = device

    def _build(self, in_features: int, n_classes: int, device: torch.device) -> nn.Module:
        if not self.scale > 0:
            raise ValueError(f"cosine classifier: scale must be > 0, got {self.scale}")
        return _CosineLayer(in_features, n_classes, self.scale, self.learn_scale, device)
