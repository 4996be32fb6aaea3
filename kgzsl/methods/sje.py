"""SJE: structured joint embedding, a bilinear compatibility trained with a structured max-margin loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from kgzsl.methods.bilinear import BilinearRankingMethod
from kgzsl.registry import METHODS

__all__ = ["SJE", "structured_hinge_loss"]


def structured_hinge_loss(scores: torch.Tensor, targets: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """SJE's structured SVM loss: the single most violating class of each image.

    ``ℓ(x, y) = max(0, max_{j ≠ y} [Δ + F(x, j)] − F(x, y))`` with ``Δ = margin`` the 0/1
    label loss (the true class contributes ``Δ(y, y) = 0``, hence the outer ``max(0, ·)``).
    Its gradient is ``x (s_j* − s_y)ᵀ`` for the most violating ``j*``, the paper's SGD update.

    Shapes:
        scores: ``[B, Z]`` compatibilities ``F(x, j)`` with every (seen) class.
        targets: ``[B]`` int64 class index in ``0..Z-1``.
        returns: ``[B]`` the loss of each image.
    """
    true = scores.gather(1, targets[:, None]).squeeze(1)
    wrong = scores.scatter(1, targets[:, None], float("-inf"))
    return (margin + wrong.amax(1) - true).clamp_min(0)


@METHODS.register("sje")
@dataclass(repr=False, eq=False)
class SJE(BilinearRankingMethod):
    """SJE: Akata et al., "Evaluation of Output Embeddings for Fine-Grained Image Classification", CVPR 2015.

    Structured joint embedding: a bilinear compatibility ``F(x, c) = θ(x)ᵀ W φ(c)`` between
    image features and class semantics ("output embeddings": attributes, word vectors,
    hierarchy embeddings in the paper; any class semantics here), learned on the seen classes
    as a structured SVM,

    ``min_W Σ_n max(0, max_{y ∈ Y} [Δ(y_n, y) + F(x_n, y)] − F(x_n, y_n))``

    with the 0/1 label loss ``Δ`` (``margin`` for ``y ≠ y_n``): each image pushes away only its
    single most violating class (:func:`structured_hinge_loss`), where ALE weights all the
    violators by rank and DeViSE sums them. Test images are scored with ``F``. The paper's
    joint embedding of several output embeddings (a weighted sum of compatibilities) is left to
    the semantics layer, which can concatenate semantics.

    The output embeddings are l2-normalised as in the paper (``normalize_semantics``); the
    features l2-normalised (``normalize_features``). Training is minibatch gradient descent
    (``adam`` by default; the paper's SGD with ``optimizer="sgd"``), every class of a minibatch
    scored at once. The learning rate and the number of epochs are chosen on validation by
    default (:attr:`default_select`), as the GBU protocol (Xian et al., TPAMI 2018) tunes them
    for the SGD methods; the grid spans three decades around Adam's usual 1e-3.

    Args:
        margin: ``Δ`` of the 0/1 label loss (1 in the paper).
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

    def ranking_loss(self, scores: torch.Tensor, targets: torch.Tensor, margin: float) -> torch.Tensor:
        return structured_hinge_loss(scores, targets, margin)
