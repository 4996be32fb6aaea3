"""ALE: attribute label embedding, a bilinear compatibility trained with a rank-weighted (WARP) loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch

from kgzsl.methods.bilinear import BilinearRankingMethod
from kgzsl.registry import METHODS

__all__ = ["ALE", "warp_loss", "rank_weights", "softmax_loss"]


def rank_weights(ranks: torch.Tensor) -> torch.Tensor:
    """The ALE / WSABIE weight ``β_r / r`` of a rank ``r`` (0 for ``r = 0``).

    ``β_r = Σ_{j=1..r} α_j`` with ``α_j = 1/j`` (Usunier et al., ICML 2009; Weston et al., IJCAI
    2011): a loss that puts most weight on getting the top of the ranking right. Dividing by
    ``r`` spreads ``β_r`` over the ``r`` violating classes.

    Shapes:
        ranks: ``[B]`` int64 counts ``r ≥ 0``.
        returns: ``[B]`` float32.
    """
    r = ranks.clamp_min(1).to(torch.float32)
    # harmonic numbers H_r = Σ_{j ≤ r} 1/j, for every r up to the largest rank in the batch
    top = int(ranks.max().item()) if ranks.numel() else 0
    harmonic = torch.cumsum(1.0 / torch.arange(1, max(top, 1) + 1, device=ranks.device, dtype=torch.float32), 0)
    beta = harmonic[(ranks.clamp_min(1) - 1)]
    return torch.where(ranks > 0, beta / r, torch.zeros_like(r))


def warp_loss(scores: torch.Tensor, targets: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """ALE's rank-weighted hinge loss (Akata et al., TPAMI 2016, Eq. 10).

    ``ℓ(x, y) = (β_r / r) Σ_{j ≠ y} max(0, Δ + F(x, j) − F(x, y))``, with ``r`` the number of
    wrong classes that violate the margin (the rank of the true class, counted exactly from all
    the scores rather than estimated by sampling as WSABIE does) and ``Δ = margin`` the 0/1 label
    loss. The weight is a constant of the step (a count has no gradient).

    Shapes:
        scores: ``[B, Z]`` compatibilities ``F(x, j)`` with every (seen) class.
        targets: ``[B]`` int64 class index in ``0..Z-1``.
        returns: ``[B]`` the loss of each image.
    """
    true = scores.gather(1, targets[:, None])
    hinge = (margin + scores - true).clamp_min(0)
    hinge = hinge.scatter(1, targets[:, None], 0.0)  # the true class is not a violator
    ranks = (hinge > 0).sum(1)
    return rank_weights(ranks).to(scores.dtype) * hinge.sum(1)


def softmax_loss(scores: torch.Tensor, targets: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """Softmax cross-entropy over the seen classes' compatibilities (``margin`` is unused).

    Not ALE's loss: a common variant of bilinear compatibility training, offered as
    ``ALE(loss="softmax")``.

    Shapes:
        scores: ``[B, Z]``; targets: ``[B]``; returns: ``[B]``.
    """
    return torch.nn.functional.cross_entropy(scores, targets, reduction="none")


@METHODS.register("ale")
@dataclass(repr=False, eq=False)
class ALE(BilinearRankingMethod):
    """ALE: Akata et al., "Label-Embedding for Image Classification", TPAMI 2016.

    A bilinear compatibility ``F(x, c) = xᵀ W s_c`` between an image's features and a class's
    semantics (attributes in the paper, any class semantics here), learned on the seen classes
    with the paper's ranking objective: for each image, the hinge losses of the wrong classes
    that violate the margin, weighted by ``β_r / r`` where ``r`` is the number of violators and
    ``β_r = Σ_{j ≤ r} 1/j`` (:func:`warp_loss`). Unlike WSABIE, which estimates ``r`` by
    sampling wrong classes one at a time, the whole minibatch is scored against every seen
    class at once and ``r`` counted exactly. ``loss="softmax"`` trains with softmax
    cross-entropy over the seen classes instead (:func:`softmax_loss`, a variant, not the
    paper's). Test images are scored with ``F`` itself.

    The paper l2-normalises the class embeddings (``normalize_semantics``); the features are
    l2-normalised (``normalize_features``), as the GBU-protocol reimplementation found best on
    most datasets. Training is minibatch gradient descent (``adam`` by default; the paper's SGD
    with ``optimizer="sgd"``), a fresh permutation each epoch, no loop over images. The learning
    rate and the number of epochs are chosen on validation by default (:attr:`default_select`),
    as in the GBU protocol (Xian et al., TPAMI 2018), which tunes the SGD methods' learning rate
    and epochs on the validation classes; the grid spans three decades around Adam's usual 1e-3
    (per-sample SGD rates of the paper era do not carry over). The margin is the paper's 1.

    Args:
        loss: ``warp`` (the paper's rank-weighted hinge) or ``softmax`` (cross-entropy variant).
        margin: ``Δ`` of the 0/1 label loss (the paper's 1).
        epochs: passes over the training images.
        lr: learning rate.
        batch_size: images per step.
        optimizer: ``adam`` or ``sgd``.
        weight_decay: l2 penalty on ``W`` (the paper regularises by early stopping only).
        normalize_features: ``l2`` (each image), ``std`` (each dimension) or ``none``.
        normalize_semantics: l2-normalise each class's semantic vector.
        seed: seed of the initialisation and the minibatch order; ``None``: the run's.
        device: where to train and score; ``None``: the run's.

    Attributes:
        W_: ``[D, d]`` float32 compatibility matrix.
        semantics_: ``[C, d]`` float32 class semantics as used.
        mean_, std_: ``[D]`` training feature statistics.
        candidates_: ``[K]`` the classes scored.

    Shapes:
        fit: a :class:`~kgzsl.methods.base.ZSLTask` with ``features [N, D]``, ``semantics [C, d]``.
        decision_function: ``[N, D]`` → ``[N, C]``, ``-inf`` outside ``candidates_``.
    """

    default_select: ClassVar[dict[str, list]] = {"lr": [1e-3, 1e-2, 1e-1], "epochs": [10, 50]}

    loss: Literal["warp", "softmax"] = "warp"

    def ranking_loss(self, scores: torch.Tensor, targets: torch.Tensor, margin: float) -> torch.Tensor:
        if self.loss == "softmax":
            return softmax_loss(scores, targets)
        return warp_loss(scores, targets, margin)
