"""SAE: the semantic autoencoder, a linear encoder/decoder pair solved in closed form (Sylvester)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch

from kgzsl.errors import ConfigError
from kgzsl.methods.base import ZSLMethod, ZSLTask, fit_context, mask_candidates
from kgzsl.methods.bilinear import local_targets
from kgzsl.registry import METHODS

if TYPE_CHECKING:
    from kgzsl.context import RunContext

__all__ = ["SAE", "solve_sylvester", "sae_weights"]


def solve_sylvester(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Solve ``A W + W B = C`` for symmetric positive semi-definite ``A`` and ``B``.

    With ``A = U diag(a) Uᵀ`` and ``B = V diag(b) Vᵀ`` (``torch.linalg.eigh``) the equation
    becomes ``diag(a) W̃ + W̃ diag(b) = Uᵀ C V`` for ``W̃ = Uᵀ W V``, solved element-wise:
    ``W̃_ij = (Uᵀ C V)_ij / (a_i + b_j)``. Where ``a_i + b_j`` vanishes (both matrices singular
    along the same pair of directions) the solution is not unique and that component is set to 0
    (the minimum-norm solution). Same result as ``scipy.linalg.solve_sylvester`` (Bartels-Stewart)
    and MATLAB's ``sylvester`` for these matrices, in the input dtype and on the input device.

    Shapes:
        a: ``[k, k]``; b: ``[d, d]``; c: ``[k, d]``; returns ``W`` ``[k, d]``.
    """
    ea, u = torch.linalg.eigh(a)
    eb, v = torch.linalg.eigh(b)
    denom = ea[:, None] + eb[None, :]
    scale = denom.abs().max().clamp_min(torch.finfo(denom.dtype).tiny)
    tiny = denom.abs() <= scale * torch.finfo(denom.dtype).eps * max(a.shape[0], b.shape[0])
    w_rot = torch.where(tiny, torch.zeros_like(denom), (u.T @ c @ v) / torch.where(tiny, torch.ones_like(denom), denom))
    return u @ w_rot @ v.T


def sae_weights(features: torch.Tensor, semantics: torch.Tensor, lam: float) -> torch.Tensor:
    """The SAE encoder ``W`` minimising ``‖X − Wᵀ S‖²_F + λ ‖W X − S‖²_F``.

    Setting the gradient to zero gives the Sylvester equation
    ``S Sᵀ W + λ W X Xᵀ = (1 + λ) S Xᵀ`` (Kodirov et al., CVPR 2017, Eq. 7), solved by
    :func:`solve_sylvester` with ``A = S Sᵀ``, ``B = λ X Xᵀ``, ``C = (1 + λ) S Xᵀ``; the
    authors' ``SAE.m`` solves the same with MATLAB's ``sylvester``.

    Shapes:
        features: ``X`` as rows, ``[N, D]`` (the paper's ``X`` is ``D × N``).
        semantics: ``S`` as rows, ``[N, k]``, the semantics of each image's class.
        returns: ``W`` ``[k, D]``.
    """
    x, s = features, semantics
    return solve_sylvester(s.T @ s, lam * (x.T @ x), (1.0 + lam) * (s.T @ x))


@METHODS.register("sae")
class SAE(ZSLMethod):
    """SAE: Kodirov, Xiang & Gong, "Semantic Autoencoder for Zero-Shot Learning", CVPR 2017.

    A linear encoder ``W`` maps image features to the class semantics and its transpose maps
    them back, with the semantic space as the autoencoder's code:

    ``min_W ‖X − Wᵀ S‖²_F + λ ‖W X − S‖²_F``

    (``X`` the training features, ``S`` the semantics of each image's class, columns = images),
    whose minimiser solves the Sylvester equation ``S Sᵀ W + λ W X Xᵀ = (1 + λ) S Xᵀ``, solved
    in closed form (:func:`sae_weights`). As in the authors' code (``Elyorcv/SAE``), images are
    scored in one of two directions, each by cosine similarity and with ``W``'s rows
    l2-normalised (``Ŵ``):

    - ``f2s`` (features → semantics): encode the image, ``ŝ = Ŵ x``, and compare it with each
      class's semantics: ``cos(ŝ, s_c)``;
    - ``s2f`` (semantics → features): decode each class's (l2-normalised) semantics into a
      prototype ``x̂_c = Ŵᵀ s_c`` and compare the image with it: ``cos(x, x̂_c)``.

    The fit is deterministic (no seed). ``λ`` and the direction are chosen on validation by
    default (:attr:`default_select`); the GBU protocol (Xian et al., TPAMI 2018) tunes ``λ`` on
    the validation classes, and the GBU-protocol reimplementation (``mvp18/Popular-ZSL-
    Algorithms``) searched 0.005 to 5,000 and chose values from 0.16 to 100 over the five
    benchmarks with l2-normalised features, S→F better than F→S on all of them: the grid spans
    ``10^-2 … 10^3``, both directions. ``normalize_features="l2"`` (each image to unit length) is that
    reimplementation's choice and the scale of that ``λ`` grid; the authors' demos instead scale
    each feature dimension to unit norm over the training images (``"dimension"``, the same
    scale applied to test images here), which puts ``λ`` on a scale of about ``N / D``
    (their AwA demo uses 500,000).

    Args:
        lam: ``λ``, the weight of the encoder's term against the decoder's.
        direction: ``f2s`` or ``s2f`` (see above).
        normalize_features: ``l2`` (each image), ``dimension`` (each feature dimension, training
            images) or ``none``.
        device: where to fit and score; ``None``: the run's.

    Attributes:
        W_: ``[k, D]`` float32 encoder (the Sylvester solution).
        scale_: ``[D]`` the per-dimension scale of ``normalize_features="dimension"`` (ones otherwise).
        projection_: ``[D, k]`` float32 ``Ŵᵀ``, applied to (normalised) test features before the
            cosine for ``f2s``; ``None`` for ``s2f``, which compares the features themselves.
        prototypes_: float32 unit-length class vectors compared with the (projected) images: the
            semantics ``[C, k]`` for ``f2s``, the decoded ``x̂_c`` ``[C, D]`` for ``s2f``.
        candidates_: ``[K]`` the classes scored.

    Shapes:
        fit: a :class:`~kgzsl.methods.base.ZSLTask` with ``features [N, D]``, ``semantics [C, k]``.
        decision_function: ``[N, D]`` → ``[N, C]``, ``-inf`` outside ``candidates_``.
    """

    uses_classifier = False
    default_select: ClassVar[dict[str, list]] = {
        "lam": [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0],
        "direction": ["f2s", "s2f"],
    }

    def __init__(
        self,
        lam: float = 0.2,
        direction: Literal["f2s", "s2f"] = "s2f",
        normalize_features: Literal["l2", "dimension", "none"] = "l2",
        device: str | None = None,
    ) -> None:
        self.lam = lam
        self.direction = direction
        self.normalize_features = normalize_features
        self.device = device

    @classmethod
    def check_config(cls, params: dict[str, Any]) -> None:
        """Refuse ``lam ≤ 0``: ``λ X Xᵀ`` must keep the Sylvester equation's solution unique."""
        lam = params.get("lam")
        if isinstance(lam, (int, float)) and not isinstance(lam, bool) and not lam > 0:
            raise ConfigError(f"method.lam: expected a value > 0, got {lam!r}")

    def _features(self, features: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        x = features.to(self.scale_.device, dtype) * self.scale_.to(dtype)
        return torch.nn.functional.normalize(x, dim=1) if self.normalize_features == "l2" else x

    def fit(self, task: ZSLTask, classifier: Any = None, context: RunContext | None = None) -> SAE:
        """Solve for ``W`` on the seen-class images of ``task``; returns ``self``.

        ``classifier`` is ignored: SAE scores classes directly.
        """
        self.check_config(self.get_params())
        _, device = fit_context(context, self.device, task.device)
        # float64 keeps the eigendecompositions accurate; MPS has no float64
        dtype = torch.float32 if device.type == "mps" else torch.float64
        targets = local_targets(task, device, "sae")
        features = task.features.to(device, dtype)
        if self.normalize_features == "dimension":
            norms = features.norm(dim=0)
            self.scale_ = torch.where(norms > 1e-12, 1.0 / norms, torch.ones_like(norms)).float()
        else:
            self.scale_ = torch.ones(features.shape[1], device=device)
        x = self._features(features, dtype)
        semantics = task.semantics.to(device, dtype)
        w = sae_weights(x, semantics[task.seen.to(device)][targets], float(self.lam))
        self.W_ = w.float()
        w_hat = torch.nn.functional.normalize(w, dim=1)
        unit = torch.nn.functional.normalize(semantics, dim=1)
        if self.direction == "f2s":
            self.projection_ = w_hat.T.float()
            self.prototypes_ = unit.float()
        else:
            self.projection_ = None
            self.prototypes_ = torch.nn.functional.normalize(unit @ w_hat, dim=1).float()
        self.candidates_ = task.candidates.to(device)
        return self

    @torch.no_grad()
    def decision_function(self, features: torch.Tensor) -> torch.Tensor:
        """Cosine similarities in the chosen direction, ``-inf`` outside ``candidates_``.

        Shapes:
            features: ``[N, D]``.
            returns: ``[N, C]`` float32 on the method's device.
        """
        x = self._features(features)
        projected = torch.nn.functional.normalize(x if self.projection_ is None else x @ self.projection_, dim=1)
        scores = projected @ self.prototypes_[self.candidates_].T
        return mask_candidates(scores, self.candidates_, self.prototypes_.shape[0])
