"""Zero-shot prompt weighting and template ensembling of CLIP class classifiers.

Allingham, Ren, Dusenberry, Gu, Cui, Tran, Liu and Lakshminarayanan, ICML 2023, "A Simple
Zero-shot Prompt Weighting Technique to Improve Prompt Ensembling in Text-Image Models".
Each prompt ``p`` gives a classifier ``W_p`` (``[C, D]`` unit rows) and logits
``l_p(x) = s · xᵀ W_pᵀ`` for a unit image feature ``x`` (``s``, CLIP's logit scale). A prompt
is scored without labels by how confidently it classifies unlabelled images, once the bias
of each class is removed:

``score_p = mean_i max_c ( l_p(x_i)_c − μ_{p,c} )``,  ``μ_{p,c} = mean_j l_p(b_j)_c``,

where ``x_i`` are the unlabelled images to classify and ``b_j`` the images the class bias is
measured on: the same test images or, with an outside image set (the paper uses images of
the pretraining distribution), the average of the two means, outside and test, as the
authors' notebook does. The weights are ``softmax(score / temperature)`` over the prompts,
optionally over only the prompts whose robust z-score ``(score − median) / (1.4826 · MAD)``
reaches ``select_z`` (the notebook's prompt selection), and the class classifier is the
normalised weighted sum ``normalize(Σ_p w_p W_p)``. Uniform weights are template ensembling
(Radford et al., ICML 2021): the normalised mean of the prompts' unit embeddings.

As ``l_p`` is linear in ``x``, ``μ_{p,c} = s · b̄ᵀ W_{p,c}`` with ``b̄`` the mean unit bias
image, so the bias costs one matrix-vector product per prompt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kgzsl.errors import ConfigError

if TYPE_CHECKING:
    import torch

__all__ = ["mean_unit", "prompt_scores", "prompt_weights", "combine_prompts", "ensemble_prompts"]


def mean_unit(features: torch.Tensor) -> torch.Tensor:
    """``b̄``, the mean of the L2-normalised rows: all of an image set the class bias needs, ``[D]``."""
    import torch

    if features.ndim != 2 or features.shape[0] == 0:
        raise ValueError(f"mean_unit: expected [M, D] image features with M > 0, got {tuple(features.shape)}")
    return torch.nn.functional.normalize(features.float(), dim=1).mean(0)


def prompt_scores(
    prompts: torch.Tensor,
    features: torch.Tensor,
    bias_features: torch.Tensor | None = None,
    logit_scale: float = 100.0,
    chunk: int = 8192,
    bias_mean: torch.Tensor | None = None,
) -> torch.Tensor:
    """The zero-shot score of each prompt (higher: more confident after debiasing).

    Args:
        prompts: ``[P, C, D]`` unit class embeddings of each prompt (the candidate classes only).
        features: ``[N, D]`` unlabelled image features (normalised here).
        bias_features: ``[M, D]`` images the class bias ``μ`` is measured on; ``None``: ``features``.
        logit_scale: ``s``, CLIP's logit scale (100 for the released models).
        chunk: images per block (bounds the ``[P, chunk, C]`` logits in memory).
        bias_mean: ``b̄`` of the bias images (:func:`mean_unit`), given instead of ``bias_features``.

    Shapes:
        returns: ``[P]`` float32.
    """
    import torch

    if prompts.ndim != 3 or features.ndim != 2 or prompts.shape[2] != features.shape[1]:
        raise ValueError(f"prompt_scores: prompts {tuple(prompts.shape)} and features {tuple(features.shape)}")
    if features.shape[0] == 0:
        raise ValueError("prompt_scores: no unlabelled images to score the prompts on")
    w = prompts.float()
    x = torch.nn.functional.normalize(features.to(w.device, torch.float32), dim=1)
    if bias_mean is None:
        bias = x if bias_features is None else bias_features.to(w.device)
        if bias.ndim != 2 or bias.shape[1] != x.shape[1]:
            raise ValueError(f"prompt_scores: bias features {tuple(bias.shape)} for {x.shape[1]}-d image features")
        bias_mean = mean_unit(bias)
    if bias_mean.shape != (x.shape[1],):
        raise ValueError(f"prompt_scores: bias mean {tuple(bias_mean.shape)} for {x.shape[1]}-d image features")
    mu = logit_scale * torch.einsum("d,pcd->pc", bias_mean.to(w.device, torch.float32), w)  # [P, C]
    total = torch.zeros(w.shape[0], dtype=torch.float64, device=w.device)
    for start in range(0, x.shape[0], chunk):
        logits = logit_scale * torch.einsum("nd,pcd->pnc", x[start : start + chunk], w)  # [P, n, C]
        total += (logits - mu[:, None, :]).amax(dim=2).sum(dim=1, dtype=torch.float64)
    return (total / x.shape[0]).float()


def prompt_weights(scores: torch.Tensor, temperature: float = 1.0, select_z: float | None = None) -> torch.Tensor:
    """``softmax(scores / temperature)``: a small temperature keeps the best prompts, a large one averages all.

    With ``select_z``, prompts whose robust z-score (median and MAD of ``scores``) is below it get
    weight 0; the best prompt is always kept.

    Shapes:
        scores: ``[P]``; returns ``[P]``, summing to 1.
    """
    import torch

    if not temperature > 0:
        raise ConfigError(f"temperature: must be > 0, got {temperature}")
    logits = scores.double() / temperature
    if select_z is not None:
        s = scores.double()
        median = s.median()
        mad = 1.4826 * (s - median).abs().median()
        z = (s - median) / mad if mad > 0 else torch.zeros_like(s)
        keep = (z >= select_z) | (s == s.max())
        logits = logits.masked_fill(~keep, float("-inf"))
    return torch.softmax(logits, dim=0).float()


def combine_prompts(prompts: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The class classifiers ``normalize(Σ_p w_p W_p)``.

    Shapes:
        prompts: ``[P, C, D]``; weights: ``[P]``; returns ``[C, D]`` unit rows.
    """
    import torch

    combined = torch.einsum("p,pcd->cd", weights.to(prompts.device, prompts.dtype), prompts)
    return torch.nn.functional.normalize(combined, dim=1)


def ensemble_prompts(prompts: torch.Tensor) -> torch.Tensor:
    """Template ensembling: the normalised mean of the prompts' unit class embeddings, ``[C, D]``."""
    import torch

    return combine_prompts(prompts, torch.full((prompts.shape[0],), 1.0 / prompts.shape[0]))
