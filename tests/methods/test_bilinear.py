"""The shared loop of DeViSE, ALE and SJE: targets, the minibatch training, feature normalisation."""

import pytest
import torch

from kgzsl.context import RunContext
from kgzsl.methods.ale import warp_loss
from kgzsl.methods.bilinear import local_targets, train_bilinear
from kgzsl.testing import toy_task


def test_local_targets_index_the_seen_classes_in_task_order():
    task = toy_task()
    targets = local_targets(task, torch.device("cpu"), "x")
    assert torch.equal(task.seen[targets], task.labels)
    task.labels[0] = int(task.unseen[0])
    with pytest.raises(ValueError, match="x: every training label must be a seen class"):
        local_targets(task, torch.device("cpu"), "x")


def test_training_lowers_the_loss_and_repeats_under_a_seed():
    task = toy_task()
    x = torch.nn.functional.normalize(task.features, dim=1)
    s = torch.nn.functional.normalize(task.semantics[task.seen], dim=1)
    targets = local_targets(task, torch.device("cpu"), "x")
    ctx = RunContext(progress=False)

    def train(epochs):
        torch.manual_seed(0)
        return train_bilinear(
            x, targets, s, warp_loss, margin=1.0, epochs=epochs, lr=1e-2, batch_size=16,
            optimizer="adam", weight_decay=0.0, context=ctx, desc="t",
        )  # fmt: skip

    before = warp_loss(x @ train(0) @ s.T, targets).mean()
    after = warp_loss(x @ train(30) @ s.T, targets).mean()
    assert after < 0.5 * before
    assert torch.equal(train(3), train(3))
    assert not train(3).requires_grad
