"""What the bilinear embedding methods share: feature normalisation, targets, the minibatch loop.

DeViSE, ALE and SJE all score a class by a compatibility ``F(x, c) = θ(x)ᵀ W φ(c)`` between an
image's features ``θ(x)`` and a class's semantics ``φ(c)``, learned with a ranking loss over the
seen classes; they differ in the loss (and DeViSE in scoring by cosine). This module holds
the parts they share, so that each method's file is its loss and its paper.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch

from kgzsl.methods.base import ZSLMethod, ZSLTask, fit_context, mask_candidates, seeded

if TYPE_CHECKING:
    from kgzsl.context import RunContext

__all__ = ["BilinearRankingMethod", "FeatureNorm", "local_targets", "train_bilinear"]

#: ``l2``: each image's feature vector to unit length; ``std``: each dimension standardised with
#: the training images' mean and standard deviation; ``none``: as given
FeatureNorm = Literal["l2", "std", "none"]

#: a per-sample loss ``(scores [B, Z], targets [B], margin) -> [B]``
RankingLoss = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]


def local_targets(task: ZSLTask, device: torch.device, name: str) -> torch.Tensor:
    """The task's labels as indices into ``task.seen`` (``[N]`` int64 on ``device``).

    Raises:
        ValueError: a label is not a seen class.
    """
    seen = task.seen.to(device)
    local = torch.full((task.num_classes,), -1, dtype=torch.long, device=device)
    local[seen] = torch.arange(seen.numel(), device=device)
    targets = local[task.labels.to(device)]
    if bool((targets < 0).any()):
        raise ValueError(f"{name}: every training label must be a seen class")
    return targets


def train_bilinear(
    x: torch.Tensor,
    targets: torch.Tensor,
    semantics: torch.Tensor,
    loss: RankingLoss,
    *,
    margin: float,
    epochs: int,
    lr: float,
    batch_size: int,
    optimizer: Literal["adam", "sgd"],
    weight_decay: float,
    context: RunContext,
    desc: str,
) -> torch.Tensor:
    """Learn ``W`` of ``F(x, c) = xᵀ W s_c`` by minibatch gradient descent on a ranking loss.

    The training features and semantics stay on their device; each step indexes a minibatch of
    a fresh permutation and scores it against every seen class at once (``x_B W Sᵀ``), so no
    Python loop runs over images or classes. ``W`` starts from ``N(0, 1/D)``. Draws from torch's
    global generator: call inside :func:`~kgzsl.methods.base.seeded`.

    Args:
        x: ``[N, D]`` normalised training features.
        targets: ``[N]`` indices into the rows of ``semantics``.
        semantics: ``[Z, d]`` seen-class semantics.
        loss: per-sample loss of the method (averaged over each minibatch).
        margin: passed to ``loss``.
        epochs, lr, batch_size, optimizer, weight_decay: the optimisation.
        context: gives the progress bar.
        desc: the bar's label.

    Returns:
        ``W`` ``[D, d]`` (detached).
    """
    n, dim = x.shape
    w = torch.randn(dim, semantics.shape[1], device=x.device, dtype=x.dtype) / dim**0.5
    w.requires_grad_(True)
    if optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam([w], lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD([w], lr=lr, weight_decay=weight_decay)
    for _ in context.bar(range(epochs), desc=desc, unit="epoch"):
        order = torch.randperm(n, device=x.device)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            scores = x[idx] @ w @ semantics.T
            value = loss(scores, targets[idx], margin).mean()
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
    return w.detach()


@dataclass(repr=False, eq=False)
class BilinearRankingMethod(ZSLMethod):
    """Base of DeViSE, ALE and SJE: a bilinear map ``W`` trained with a ranking loss.

    The shared hyper-parameters are written once, here, as dataclass fields (the constructor
    only stores them); subclasses add their own fields, may give a field another default, and
    implement :meth:`ranking_loss`.

    Attributes (after ``fit``):
        W_: ``[D, d]`` float32 compatibility matrix.
        semantics_: ``[C, d]`` float32 semantics of every class, normalised as in training.
        mean_, std_: ``[D]`` the training features' statistics (``normalize_features="std"``).
        candidates_: ``[K]`` the classes scored (``task.candidates``).
    """

    uses_classifier: ClassVar[bool] = False
    #: score by cosine between ``xᵀW`` and ``s_c`` instead of the bilinear ``xᵀ W s_c``
    cosine_scores: ClassVar[bool] = False

    margin: float = 1.0
    epochs: int = 50
    lr: float = 1e-2
    batch_size: int = 64
    optimizer: Literal["adam", "sgd"] = "adam"
    weight_decay: float = 0.0
    normalize_features: FeatureNorm = "l2"
    normalize_semantics: bool = True
    seed: int | None = None
    device: str | None = None

    def ranking_loss(self, scores: torch.Tensor, targets: torch.Tensor, margin: float) -> torch.Tensor:
        """Per-sample loss ``[B]`` of scores ``[B, Z]`` over the seen classes."""
        raise NotImplementedError

    def _features(self, features: torch.Tensor) -> torch.Tensor:
        x = features.to(self.mean_.device, torch.float32)
        if self.normalize_features == "l2":
            return torch.nn.functional.normalize(x, dim=1)
        if self.normalize_features == "std":
            return (x - self.mean_) / self.std_
        return x

    def fit(self, task: ZSLTask, classifier: Any = None, context: RunContext | None = None) -> BilinearRankingMethod:
        """Learn ``W`` on the seen-class images of ``task``; returns ``self``.

        ``classifier`` is ignored: the method scores classes directly. Runs on ``device``, else
        the run's (outside a run: the task's), with ``seed``, else the run's.
        """
        ctx, device = fit_context(context, self.device, task.device)
        name = self.registry_name or type(self).__name__
        targets = local_targets(task, device, name)
        features = task.features.to(device, torch.float32)
        semantics = task.semantics.to(device, torch.float32)
        if self.normalize_semantics:
            semantics = torch.nn.functional.normalize(semantics, dim=1)
        self.mean_ = features.mean(0)
        # constant dimensions get a scale of 1 rather than a division by zero
        std = features.std(0) if features.shape[0] > 1 else torch.ones_like(self.mean_)
        self.std_ = torch.where(std > 1e-12, std, torch.ones_like(std))
        x = self._features(features)
        with seeded(ctx.seed_for(self.seed), device):
            w = train_bilinear(
                x,
                targets,
                semantics[task.seen.to(device)],
                self.ranking_loss,
                margin=self.margin,
                epochs=self.epochs,
                lr=self.lr,
                batch_size=self.batch_size,
                optimizer=self.optimizer,  # type: ignore[arg-type]
                weight_decay=self.weight_decay,
                context=ctx,
                desc=name,
            )
        self.W_ = w
        self.semantics_ = semantics
        self.candidates_ = task.candidates.to(device)
        return self

    @torch.no_grad()
    def decision_function(self, features: torch.Tensor) -> torch.Tensor:
        """Scores for all classes, ``-inf`` outside ``candidates_``.

        Shapes:
            features: ``[N, D]``.
            returns: ``[N, C]`` float32 on the method's device.
        """
        projected = self._features(features) @ self.W_  # [N, d]
        classes = self.semantics_[self.candidates_]
        if self.cosine_scores:
            projected = torch.nn.functional.normalize(projected, dim=1)
            classes = torch.nn.functional.normalize(classes, dim=1)
        return mask_candidates(projected @ classes.T, self.candidates_, self.semantics_.shape[0])
