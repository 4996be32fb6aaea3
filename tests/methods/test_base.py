"""The method interface's shared blocks: mask_candidates, seeded, fit_context."""

import pytest
import torch

from kgzsl.context import RunContext
from kgzsl.methods.base import ZSLMethod, fit_context, mask_candidates, seeded


def test_mask_candidates_on_full_scores():
    scores = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    out = mask_candidates(scores, torch.tensor([3, 1]))
    assert torch.equal(out[:, [1, 3]], scores[:, [1, 3]])
    assert torch.isneginf(out[:, [0, 2]]).all()
    assert torch.isfinite(scores).all()  # a new tensor: the input is left as it was


def test_mask_candidates_places_candidate_columns_in_the_global_space():
    cand = torch.tensor([4, 0, 2])
    scores = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float64)
    out = mask_candidates(scores, cand, num_classes=6)
    assert out.shape == (2, 6) and out.dtype == torch.float64
    assert out[0].tolist() == [2.0, float("-inf"), 3.0, float("-inf"), 1.0, float("-inf")]
    with pytest.raises(ValueError, match="3 score columns for 2 candidates"):
        mask_candidates(scores, cand[:2], num_classes=6)


def test_seeded_is_a_function_of_the_seed_and_restores_the_callers_stream():
    torch.manual_seed(11)
    expected = torch.rand(2)
    torch.manual_seed(11)
    with seeded(5):
        a = torch.rand(3)
    assert torch.equal(torch.rand(2), expected)
    with seeded(5):
        assert torch.equal(torch.rand(3), a)
    with seeded(6):
        assert not torch.equal(torch.rand(3), a)


def test_fit_context_own_device_then_the_runs_then_the_datas():
    ctx, device = fit_context(RunContext(seed=4, device="cpu"), None, "cpu")
    assert ctx.seed == 4 and device == torch.device("cpu")
    ctx, device = fit_context(None, None, torch.device("cpu"))  # outside a run: the data's device
    assert ctx.seed == 0 and device.type == "cpu"
    with RunContext(seed=9, device="cpu", progress=False).activate():
        ctx, device = fit_context(None, None, "cpu")  # the active run's
        assert ctx.seed == 9 and ctx.progress is False
    _, device = fit_context(RunContext(device="auto"), "cpu", "cpu")  # its own setting wins
    assert device.type == "cpu"


def test_interface_defaults():
    assert ZSLMethod.default_select == {} and ZSLMethod.uses_classifier is False
    with pytest.raises(NotImplementedError):
        ZSLMethod().fit(None)
