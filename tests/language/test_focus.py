"""The MADS focus loss: values by hand, shapes, gradients, and reuse on a second attention model."""

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from kgzsl.language.focus import FocusLoss, focus_loss


def test_value_by_hand_and_zero_when_all_attention_is_on_visual_words():
    attention = torch.tensor([[0.5, 0.25, 0.25], [0.0, 1.0, 0.0]])
    focus = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    got = focus_loss(attention, focus, eps=0.0, reduction="none")
    assert got[0].item() == pytest.approx(-math.log(0.75))
    assert math.isinf(got[1].item())  # no mass on visual words at all: eps keeps it finite
    assert focus_loss(attention, focus)[()].item() == pytest.approx((-math.log(0.75) - math.log(1e-6)) / 2, rel=1e-4)
    assert focus_loss(torch.tensor([[0.3, 0.7]]), torch.tensor([[1.0, 1.0]])).item() == pytest.approx(0.0, abs=1e-5)


def test_labels_pick_each_images_own_document_and_patches_are_averaged():
    torch.manual_seed(0)
    attention = torch.rand(4, 3, 5, 6).softmax(-1)  # [B, C, P, L]
    focus = (torch.rand(3, 6) > 0.5).float()
    labels = torch.tensor([2, 0, 1, 2])
    per_image = FocusLoss(reduction="none")(attention, focus, labels)
    mass = (attention[torch.arange(4), labels].mean(1) * focus[labels]).sum(-1)
    torch.testing.assert_close(per_image, -torch.log(mass + 1e-6))
    assert per_image.shape == (4,)
    # [B, C, L]: the same without the patch axis
    flat = attention.mean(2)
    torch.testing.assert_close(FocusLoss(reduction="none")(flat, focus, labels), per_image)


def test_gradient_moves_attention_onto_visual_words():
    logits = torch.zeros(2, 4, requires_grad=True)
    focus = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    FocusLoss()(logits.softmax(-1), focus).backward()
    grad = logits.grad
    assert grad[0, 0] < 0 and (grad[0, 1:] > 0).all()  # descent raises the visual word's logit
    assert (grad[1, 2:] < 0).all() and (grad[1, :2] > 0).all()


def test_bad_shapes_and_reduction_are_one_clear_error():
    with pytest.raises(ValueError, match="do not match"):
        focus_loss(torch.rand(2, 3), torch.rand(2, 4))
    with pytest.raises(ValueError, match="reduction"):
        focus_loss(torch.rand(2, 3), torch.rand(2, 3), reduction="max")
    with pytest.raises(ValueError, match="with labels"):
        focus_loss(torch.rand(2, 3), torch.rand(2, 3), torch.tensor([0, 1]))


class _I2DFormerLike(nn.Module):
    """A second model with word-level attention: each patch attends over a document's words
    (I2DFormer's image-to-document attention, Naeem et al., NeurIPS 2022), pooled by a linear
    head. Nothing in it knows about the focus loss."""

    def __init__(self, token_dim: int, word_dim: int, dim: int = 16) -> None:
        super().__init__()
        self.q = nn.Linear(token_dim, dim, bias=False)
        self.k = nn.Linear(word_dim, dim, bias=False)
        self.v = nn.Linear(word_dim, dim)
        self.head = nn.Linear(dim, 1)

    def forward(self, patches: torch.Tensor, words: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = torch.einsum("btd,cld->bctl", self.q(patches), self.k(words)).softmax(-1)  # [B, C, T, L]
        pooled = torch.einsum("bctl,cld->bctd", a, self.v(words)).amax(2)  # max over patches
        return self.head(pooled).squeeze(-1), a


def _toy_documents(seed: int = 0):
    """4 classes; each document: 2 visual words shown by the class's patches, 2 noise words.

    Visual words 0..7 (class c: 2c, 2c+1), noise words 8..15 (class c: 8+2c, 9+2c); patches are
    a projection of the visual words' vectors plus noise."""
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(16, 8, generator=g)
    words = torch.stack([table[[2 * c, 2 * c + 1, 8 + 2 * c, 9 + 2 * c]] for c in range(4)])  # [4, 4, 8]
    focus = torch.tensor([[1.0, 1.0, 0.0, 0.0]]).expand(4, 4)
    labels = torch.arange(4).repeat_interleave(16)
    proj = torch.randn(8, 12, generator=g)
    patches = torch.stack([table[[2 * int(c), 2 * int(c) + 1]] @ proj for c in labels])  # [B, 2, 12]
    patches = patches + 0.3 * torch.randn(patches.shape, generator=g)
    return patches, words, focus, labels


def test_reused_on_an_i2dformer_like_model_it_moves_its_attention_to_visual_words():
    patches, words, focus, labels = _toy_documents()
    masses = {}
    for weight in (0.0, 1.0):
        torch.manual_seed(0)
        model = _I2DFormerLike(12, 8)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        loss_fn = FocusLoss()
        for _ in range(60):
            scores, attention = model(patches, words)
            loss = F.cross_entropy(scores, labels) + weight * loss_fn(attention, focus, labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            _, attention = model(patches, words)
            own = attention[torch.arange(len(labels)), labels].mean(1)  # [B, L]
            masses[weight] = float((own * focus[labels]).sum(-1).mean())
    assert masses[1.0] > 0.9
    assert masses[1.0] > masses[0.0] + 0.2
