"""The focus loss of MADS: word-level attention pushed onto the visual words of a document.

Qu, Yu, Zhuang, Gou, Xiong & Wu, "MADS: Multi-Attribute Document Supervision for Zero-Shot
Image Classification", arXiv 2503.06847, 2025. MADS adds to the usual classification losses a
*model-agnostic* focus loss, "to explicitly enhance attention to visually discriminative
information during training", with no parameters of its own, and applies it to other
document-based ZSL models too (I2DFormer, Naeem et al., NeurIPS 2022; EmDepart, Qu et al.,
ACM MM 2024). Any model that computes a word-level attention can add it.

What is implemented here (the paper's public text gives the idea, not the formula, and no code
has been released: the exact form below is our reading, documented as such). For image ``i``
of class ``y_i`` and the words ``l`` of its own class's document, let ``A[i, l]`` be the
model's attention over those words (a distribution: ``Σ_l A[i, l] = 1`` over the valid words;
per-patch attentions are averaged over the patches first), and ``m[y_i, l] ∈ [0, 1]`` how
visual word ``l`` is (in MADS, by our reading, what its language-model stage marks as visual
description; in kgzsl's ``mads`` method: the words of the appearance views of a document that are not in most
class documents, see :func:`kgzsl.methods.mads.document_tokens`).
The loss is the negative log of the attention mass on the visual words,

``L_focus = − 1/B Σ_i log(ε + Σ_l m[y_i, l] A[i, l])``,

which is zero when all the attention sits on visual words and grows as attention leaks to
non-visual ("noise") words; since attention is a distribution, raising the mass on visual
words lowers it on the others. Only the matched (image, own document) pairs are supervised:
what an image attends to in another class's document says nothing about which words are
visual. The loss has no parameters and reads nothing but the attention, so it changes no
model's architecture.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FocusLoss", "focus_loss"]


def focus_loss(
    attention: torch.Tensor,
    focus: torch.Tensor,
    labels: torch.Tensor | None = None,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> torch.Tensor:
    """The MADS focus loss ``−log(ε + Σ_l m[y, l] A[i, l])`` (see the module docstring).

    Args:
        attention: word-level attention, a distribution over the last axis (the words). Either
            of the image's own document, ``[B, L]`` or ``[B, P, L]`` (per patch, averaged over
            ``P``), with ``labels`` ``None`` and ``focus`` ``[B, L]``; or over every class's
            document, ``[B, C, L]`` or ``[B, C, P, L]``, with ``labels`` picking each image's
            own class and ``focus`` ``[C, L]``.
        focus: how visual each word is, in ``[0, 1]`` (0 for padding too).
        labels: ``[B]`` int64 indices into the class axis of ``attention`` and ``focus``.
        eps: keeps the log finite when an image puts no attention on visual words.
        reduction: ``mean`` (over images), ``sum`` or ``none`` (``[B]``).

    Shapes:
        returns: a scalar, or ``[B]`` with ``reduction="none"``.
    """
    if labels is not None:
        if attention.dim() not in (3, 4):
            raise ValueError(
                f"focus_loss: with labels, attention must be [B, C, L] or [B, C, P, L], got {tuple(attention.shape)}"
            )
        rows = torch.arange(attention.shape[0], device=attention.device)
        attention = attention[rows, labels]  # [B, L] or [B, P, L]
        focus = focus[labels]
    if attention.dim() == 3:
        attention = attention.mean(1)
    if attention.dim() != 2 or attention.shape != focus.shape:
        raise ValueError(f"focus_loss: attention {tuple(attention.shape)} and focus {tuple(focus.shape)} do not match")
    mass = (attention * focus.to(attention.dtype)).sum(-1)
    loss = -torch.log(mass.clamp_min(0.0) + eps)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    raise ValueError(f"focus_loss: reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


class FocusLoss(nn.Module):
    """MADS's focus loss as a module: ``FocusLoss()(attention, focus, labels)``.

    Qu et al., "MADS: Multi-Attribute Document Supervision for Zero-Shot Image Classification",
    arXiv 2503.06847, 2025. The negative log of the word-level attention mass that each image
    puts on the visual words of its own class's document; see :func:`focus_loss` for the
    shapes and the module docstring for what is the paper's and what is our reading.

    Args:
        eps: keeps the log finite when no attention reaches a visual word.
        reduction: ``mean``, ``sum`` or ``none``.
    """

    def __init__(self, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__()
        self.eps = eps
        self.reduction = reduction

    def forward(self, attention: torch.Tensor, focus: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return focus_loss(attention, focus, labels, eps=self.eps, reduction=self.reduction)
