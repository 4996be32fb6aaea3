"""Scoring with class embeddings that are classifier weights (GCNZ / DGP inference)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch

from kgzsl.context import RunContext
from kgzsl.errors import ConfigError
from kgzsl.methods.base import ZSLMethod, ZSLTask, fit_context, mask_candidates
from kgzsl.registry import METHODS

__all__ = ["ClassifierWeights"]


@METHODS.register("classifier_weights")
class ClassifierWeights(ZSLMethod):
    """Class semantics used as a linear classifier: the inference of GCNZ and DGP.

    GCNZ (Wang, Ye & Gupta, CVPR 2018) and DGP (Kampffmeyer et al., CVPR 2019) predict one
    weight vector ``w_c`` per class (:mod:`kgzsl.semantics.gnn`) and classify an image by

    ``score(x, c) = cos(x, w_c) = xᵀ w_c / (‖x‖ ‖w_c‖)`` (``score="cosine"``), or
    ``score(x, c) = xᵀ w_c`` (``score="dot"``, the ``fc`` layer without bias).

    Nothing is learned: ``fit`` stores the weights of the candidate classes. DGP also
    fine-tunes the CNN on the predicted seen weights; kgzsl works on fixed features, so that
    stage is out of scope.

    Args:
        score: ``cosine`` or ``dot``.
        device: where to keep the weights and score; ``None``: the run's.

    Attributes:
        weights_: ``[C, D]`` float32 class weights (``task.semantics``).
        candidates_: ``[K]`` classes the method scores (``task.candidates``).

    Shapes:
        fit: a :class:`ZSLTask` with ``features [N, D]`` and ``semantics [C, D]`` (same ``D``).
        decision_function: ``[N, D]`` → ``[N, C]``, ``-inf`` outside ``candidates_``.

    Raises:
        ConfigError: (in ``fit``) the semantics' dimension is not the feature dimension.
    """

    uses_classifier: ClassVar[bool] = False
    #: its task's semantics must be ``[C, D]`` weights over the features (the contract test
    #: gives it such a task)
    semantics_are_weights: ClassVar[bool] = True

    def __init__(self, score: Literal["cosine", "dot"] = "cosine", device: str | None = None) -> None:
        self.score = score
        self.device = device

    def fit(self, task: ZSLTask, classifier: Any = None, context: RunContext | None = None) -> ClassifierWeights:
        """Store the class weights and candidates; ``classifier`` is ignored."""
        if self.score not in ("cosine", "dot"):
            raise ConfigError(f"score: unknown {self.score!r}; valid: cosine, dot")
        d_sem, d_feat = int(task.semantics.shape[1]), int(task.features.shape[1])
        if d_sem != d_feat:
            raise ConfigError(
                f"classifier_weights: the class semantics are {d_sem}-d but the features are {d_feat}-d; "
                "this method needs semantics that are classifier weights over the features "
                "(semantics 'gcnz' or 'dgp')"
            )
        _, device = fit_context(context, self.device, task.device)
        w = task.semantics.to(device, torch.float32)
        self.weights_ = torch.nn.functional.normalize(w, dim=1) if self.score == "cosine" else w
        self.candidates_ = task.candidates.to(device)
        return self

    @torch.no_grad()
    def decision_function(self, features: torch.Tensor) -> torch.Tensor:
        """``cos(x, w_c)`` or ``xᵀ w_c`` for the candidate classes, ``-inf`` elsewhere.

        Shapes:
            features: ``[N, D]``.
            returns: ``[N, C]`` float32 on the method's device.
        """
        x = features.to(self.weights_.device, torch.float32)
        if self.score == "cosine":
            x = torch.nn.functional.normalize(x, dim=1)
        return mask_candidates(x @ self.weights_[self.candidates_].T, self.candidates_, self.weights_.shape[0])
