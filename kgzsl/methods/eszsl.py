"""ESZSL: a closed-form bilinear compatibility between features and class semantics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch

from kgzsl.methods.base import ZSLMethod, ZSLTask, fit_context, mask_candidates
from kgzsl.registry import METHODS

if TYPE_CHECKING:
    from kgzsl.context import RunContext

__all__ = ["ESZSL", "eszsl_weights"]


def _solve_dtype(device: torch.device) -> torch.dtype:
    # float64 keeps the (X^T X + γI) solve accurate for small γ; MPS has no float64.
    return torch.float32 if device.type == "mps" else torch.float64


def eszsl_weights(
    features: torch.Tensor, targets: torch.Tensor, semantics: torch.Tensor, gamma: float, lam: float
) -> torch.Tensor:
    """The ESZSL closed form ``V = (XᵀX + γI)⁻¹ Xᵀ Y S (SᵀS + λI)⁻¹``.

    Computed with two ``torch.linalg.solve`` calls (no explicit inverse), in the input dtype
    and on the input device. ``Y`` is never materialised: with ``Y ∈ {-1, +1}``, row ``i`` of
    ``Y S`` is ``2 S[y_i] - Σ_z S[z]``.

    Shapes:
        features: ``X`` ``[N, D]``.
        targets: ``[N]`` int64 local class indices ``y_i`` in ``0..Z-1``.
        semantics: ``S`` ``[Z, a]``, one row per training class.
        returns: ``V`` ``[D, a]``.
    """
    x, s = features, semantics
    ys = 2.0 * s[targets] - s.sum(0, keepdim=True)  # Y S, [N, a]
    eye_d = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    eye_a = torch.eye(s.shape[1], dtype=s.dtype, device=s.device)
    left = torch.linalg.solve(x.T @ x + gamma * eye_d, x.T @ ys)  # (XᵀX + γI)⁻¹ Xᵀ Y S, [D, a]
    # V = left (SᵀS + λI)⁻¹ = ((SᵀS + λI)⁻¹ leftᵀ)ᵀ, as SᵀS + λI is symmetric.
    return torch.linalg.solve(s.T @ s + lam * eye_a, left.T).T


@METHODS.register("eszsl")
class ESZSL(ZSLMethod):
    """ESZSL: Romera-Paredes & Torr, "An embarrassingly simple approach to zero-shot learning", ICML 2015.

    A bilinear compatibility ``F(x, c) = xᵀ V s_c`` between image features and class
    semantics, fitted by the regularised least-squares problem

    ``min_V ‖X V Sᵀ − Y‖²_F + γ‖V Sᵀ‖²_F + λ‖X V‖²_F + γλ‖V‖²_F``

    (the paper's regulariser, written with rows = images and rows = classes), whose
    minimiser solves ``(XᵀX + γI) V (SᵀS + λI) = Xᵀ Y S``, i.e. has the closed form

    ``V = (XᵀX + γI)⁻¹ Xᵀ Y S (SᵀS + λI)⁻¹``,

    with ``X`` the training features (rows = images), ``S`` the seen-class semantics (rows =
    classes) and ``Y`` the ``{-1, +1}`` one-vs-rest label matrix. ``{-1, +1}`` is the paper's
    choice: with ``{0, 1}`` the targets of the wrong classes would be pulled to 0 rather than
    pushed below the right one, and the least-squares fit would favour scoring every class
    near 0. Test images are scored against every class ``c`` by ``xᵀ V s_c``, using the
    semantics of unseen classes; ``γ = 10^alpha`` and ``λ = 10^beta`` are set as exponents,
    like the paper's grid ``10^-3 … 10^3``. Both are chosen on validation by default
    (:attr:`default_select`: the grid ``10^[-3..3]`` of the GBU protocol, Xian et al., "Zero-Shot
    Learning — A Comprehensive Evaluation of the Good, the Bad and the Ugly", TPAMI 2018); the
    constructor's values are used when a run selects nothing.

    The fit is deterministic (no seed); it runs on ``device``, else the run's device (outside a
    run: the task's).

    Args:
        alpha: ``γ = 10^alpha``, the ridge on the feature side.
        beta: ``λ = 10^beta``, the ridge on the semantic side.
        normalize_features: l2-normalise each feature vector (training and test), which keeps
            one γ grid meaningful across feature extractors of different scales.
        device: where to fit and score; ``None``: the run's.

    Attributes:
        V_: ``[D, d]`` float32 bilinear weights.
        weights_: ``[D, C]`` float32, ``V_ Sᵀ`` for all classes: scores are ``X weights_``.
        candidates_: ``[K]`` classes the method scores (``task.candidates``).

    Shapes:
        fit: a :class:`ZSLTask` with ``features [N, D]``, ``semantics [C, d]``.
        decision_function: ``[N, D]`` → ``[N, C]``, ``-inf`` outside ``candidates_``.
    """

    uses_classifier = False
    #: the GBU protocol's ranges: γ, λ ∈ 10^[-3..3] (the parameters here are the exponents)
    default_select: ClassVar[dict[str, list]] = {"alpha": list(range(-3, 4)), "beta": list(range(-3, 4))}

    def __init__(
        self, alpha: int = 0, beta: int = -1, normalize_features: bool = True, device: str | None = None
    ) -> None:
        self.alpha = alpha
        self.beta = beta
        self.normalize_features = normalize_features
        self.device = device

    def _prepare(self, features: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        x = features.to(dtype)
        return torch.nn.functional.normalize(x, dim=1) if self.normalize_features else x

    def fit(self, task: ZSLTask, classifier: Any = None, context: RunContext | None = None) -> ESZSL:
        """Fit ``V`` in closed form on the seen-class features of ``task``; returns ``self``.

        ``classifier`` is ignored: ESZSL scores classes directly.
        """
        _, device = fit_context(context, self.device, task.device)
        dtype = _solve_dtype(device)
        seen = task.seen.to(device)
        local = torch.full((task.num_classes,), -1, dtype=torch.long, device=device)
        local[seen] = torch.arange(seen.numel(), device=device)
        targets = local[task.labels.to(device)]
        if bool((targets < 0).any()):
            raise ValueError("eszsl: every training label must be a seen class")
        semantics = task.semantics.to(device, dtype)
        x = self._prepare(task.features.to(device), dtype)
        v = eszsl_weights(x, targets, semantics[seen], 10.0**self.alpha, 10.0**self.beta)
        self.V_ = v.float()
        self.weights_ = (v @ semantics.T).float()
        self.candidates_ = task.candidates.to(device)
        return self

    @torch.no_grad()
    def decision_function(self, features: torch.Tensor) -> torch.Tensor:
        """Scores ``xᵀ V s_c`` for all classes, ``-inf`` outside ``candidates_``.

        Shapes:
            features: ``[N, D]``.
            returns: ``[N, C]`` float32 on the method's device.
        """
        x = self._prepare(features.to(self.weights_.device), torch.float32)
        return mask_candidates(x @ self.weights_[:, self.candidates_], self.candidates_, self.weights_.shape[1])
