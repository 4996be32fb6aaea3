"""One f-CLSWGAN training epoch at AWA2 size: kgzsl against the authors' way of writing it, and the floor.

Random data of AWA2's shape: 23,527 × 2048 min-max scaled features of 40 seen classes with 85-d
class attributes; the authors' networks (G ``[z; a] → 4096 LeakyReLU → 2048 ReLU``, critic
``[x; a] → 4096 LeakyReLU → 1``, noise 85), batch 64, 5 critic steps with gradient penalty 10,
classification loss 0.01 from a frozen seen-class softmax, Adam 1e-5 with β₁ 0.5. An epoch is
``⌈N / 64⌉`` = 368 generator updates (1,840 critic updates). Three things are timed:

* **kgzsl**: :meth:`kgzsl.methods.f_clswgan.FCLSWGAN.fit_generator` for one epoch (networks
  built, the epoch trained, its losses logged; the seen-class softmax is not pre-trained —
  ``pretrain_epochs=0`` — in either implementation, as it is not part of an epoch): whole
  data on the device, batches indexed from one permutation stream of a torch generator, the
  5 critic steps' fake features from one batched generator pass, real, fake and interpolated
  rows through the critic's hidden layer in one product, the penalty's input gradients in
  closed form (no double backward through LeakyReLU's zero second derivative) and the first
  layer's two weight-gradient terms in one product of inner size 3 × 64
  (:meth:`Critic.scores_and_penalty`), fused Adam, losses accumulated on the device;
* **reference**: the same networks and losses written the way the authors' code writes them
  (``clswgan.py`` of Xian et al.; the issue asks for a ``DataLoader``): a ``DataLoader`` over
  the numpy arrays (batch 64, shuffled, restarted when exhausted), each batch copied into
  preallocated device tensors, a fresh generator pass for every critic step,
  ``backward(mone)`` / ``backward(one)`` on the critic's outputs, ``autograd.grad`` with
  ``grad_outputs=ones`` for the penalty;
* **floor**: the matrix multiplications the mathematics needs, alone (per generator update:
  the generator's pass for the 5 critic batches; for each critic step the critic's hidden
  layer on real + fake and on the interpolates, the interpolates' input gradient, the weight
  gradients of real + fake, and the penalty's two gradient products; for the generator step
  its forward pass, the critic's forward pass and input gradient, and the generator's
  backward pass), on preallocated tensors, as separate products: kgzsl joins some of them
  (one hidden-layer product, one weight-gradient product), so it can come close to the floor.

Rounds alternate the three so that a loaded machine slows all alike; the medians are
compared. ``--quick`` runs 8 generator updates of each (2% of an epoch) and scales them to a
full epoch (the networks' construction, about 4% of a quick kgzsl round, is scaled with them:
quick ratios against the floor read a little high). Peak memory: the growth of the resident
size (CPU) or the peak allocated (CUDA) of each. Appends two rows to ``results.csv``
(ratio = reference / kgzsl; ratio = kgzsl / floor); goals: reference / kgzsl ≥ 1.2,
kgzsl / floor ≤ 1.25::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/perf/epoch_f_clswgan.py [--quick] [--device cpu|cuda]
        [--rounds 3] [--threads 1] [--no-record] [--note TEXT]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import (  # noqa: E402
    alternate_rounds,
    argument_parser,
    comparison_rows,
    description,
    parse,
    print_comparison,
    record,
)
from results_file import make_data as _make_data  # noqa: E402
from results_file import sync as _sync  # noqa: E402

N, D, SEEN, ATT = 23_527, 2048, 40, 85
BATCH, HIDDEN, NOISE, CRITIC_STEPS = 64, 4096, 85, 5
LR, BETA1, GP_WEIGHT, CLS_WEIGHT = 1e-5, 0.5, 10.0, 0.01


def make_data(n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return _make_data(n, SEEN, ATT, D, device)


# ------------------------------------------------------------------ kgzsl


def kgzsl_epoch(x: torch.Tensor, labels: torch.Tensor, attributes: torch.Tensor) -> float:
    """One epoch of :class:`~kgzsl.methods.f_clswgan.FCLSWGAN` (its own ``fit_generator``)."""
    from kgzsl.context import RunContext
    from kgzsl.methods.base import ZSLTask
    from kgzsl.methods.f_clswgan import FCLSWGAN

    task = ZSLTask(x, labels, attributes, torch.arange(SEEN), torch.arange(SEEN, SEEN + 10))
    method = FCLSWGAN(preset="awa2", epochs=1, pretrain_epochs=0)
    method.train_log_ = []
    context = RunContext(seed=0, device=str(x.device), progress=False)
    _sync(x.device)
    t = time.perf_counter()
    method.fit_generator(task, context)
    _sync(x.device)
    return time.perf_counter() - t


# ------------------------------------------------------------------ the authors' way


class _G(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(NOISE + ATT, HIDDEN)
        self.fc2 = nn.Linear(HIDDEN, D)
        self.lrelu = nn.LeakyReLU(0.2, True)
        self.relu = nn.ReLU(True)

    def forward(self, noise: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
        h = torch.cat((noise, att), 1)
        h = self.lrelu(self.fc1(h))
        return self.relu(self.fc2(h))


class _D(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(D + ATT, HIDDEN)
        self.fc2 = nn.Linear(HIDDEN, 1)
        self.lrelu = nn.LeakyReLU(0.2, True)

    def forward(self, x: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
        h = torch.cat((x, att), 1)
        h = self.lrelu(self.fc1(h))
        return self.fc2(h)


def _weights_init(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        m.weight.data.normal_(0.0, 0.02)
        m.bias.data.fill_(0)


def reference_epoch(features: np.ndarray, labels: np.ndarray, attributes: torch.Tensor) -> float:
    """One epoch the authors' way (networks built inside the timing, as kgzsl's)."""
    from torch.utils.data import DataLoader, TensorDataset

    device = attributes.device
    torch.manual_seed(0)
    _sync(device)
    t = time.perf_counter()
    net_g, net_d = _G().to(device), _D().to(device)
    net_g.apply(_weights_init)
    net_d.apply(_weights_init)
    pretrain_cls = nn.Sequential(nn.Linear(D, SEEN), nn.LogSoftmax(dim=1)).to(device)  # frozen, as loaded
    for p in pretrain_cls.parameters():
        p.requires_grad = False
    cls_criterion = nn.NLLLoss()
    opt_d = torch.optim.Adam(net_d.parameters(), lr=LR, betas=(BETA1, 0.999))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=LR, betas=(BETA1, 0.999))
    input_res = torch.empty(BATCH, D, device=device)
    input_att = torch.empty(BATCH, ATT, device=device)
    input_label = torch.empty(BATCH, dtype=torch.long, device=device)
    noise = torch.empty(BATCH, NOISE, device=device)
    one = torch.tensor(1.0, device=device)
    mone = one * -1
    loader = DataLoader(TensorDataset(torch.from_numpy(features), torch.from_numpy(labels)), BATCH, shuffle=True)
    batches = iter(loader)
    att_cpu = attributes.cpu()

    def sample() -> None:
        nonlocal batches
        try:
            feature, label = next(batches)
        except StopIteration:
            batches = iter(loader)
            feature, label = next(batches)
        if len(label) < BATCH:  # the authors' next_batch always returns a full batch
            batches = iter(loader)
            feature, label = next(batches)
        input_res.copy_(feature)
        input_att.copy_(att_cpu[label])
        input_label.copy_(label)

    def calc_gradient_penalty(real: torch.Tensor, fake: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
        alpha = torch.rand(BATCH, 1, device=device).expand(real.size())
        interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        disc = net_d(interpolates, att)
        ones = torch.ones(disc.size(), device=device)
        gradients = torch.autograd.grad(
            outputs=disc, inputs=interpolates, grad_outputs=ones, create_graph=True, retain_graph=True
        )[0]
        return ((gradients.norm(2, dim=1) - 1) ** 2).mean() * GP_WEIGHT

    for _ in range(0, len(features), BATCH):
        for p in net_d.parameters():
            p.requires_grad = True
        for _ in range(CRITIC_STEPS):
            sample()
            net_d.zero_grad()
            critic_real = net_d(input_res, input_att).mean()
            critic_real.backward(mone)
            noise.normal_(0, 1)
            fake = net_g(noise, input_att)
            critic_fake = net_d(fake.detach(), input_att).mean()
            critic_fake.backward(one)
            gradient_penalty = calc_gradient_penalty(input_res, fake.data, input_att)
            gradient_penalty.backward()
            opt_d.step()
        for p in net_d.parameters():
            p.requires_grad = False
        net_g.zero_grad()
        noise.normal_(0, 1)
        fake = net_g(noise, input_att)
        g_cost = -net_d(fake, input_att).mean()
        c_err = cls_criterion(pretrain_cls(fake), input_label)
        (g_cost + CLS_WEIGHT * c_err).backward()
        opt_g.step()
    _sync(device)
    return time.perf_counter() - t


# ------------------------------------------------------------------ the floor


def floor_epoch(n: int, device: torch.device) -> float:
    """The matrix multiplications of ``⌈n / 64⌉`` generator updates alone."""
    g = torch.Generator().manual_seed(0)

    def r(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=g).to(device)

    w_g1, w_g2 = r(HIDDEN, NOISE + ATT), r(D, HIDDEN)
    w_d1 = r(HIDDEN, D + ATT)
    w_d1x = w_d1[:, :D].contiguous()
    zb5, zb = r(CRITIC_STEPS * BATCH, NOISE + ATT), r(BATCH, NOISE + ATT)
    h5 = r(CRITIC_STEPS * BATCH, HIDDEN)
    xa, xa2 = r(BATCH, D + ATT), r(2 * BATCH, D + ATT)
    hb, hb2, dx = r(BATCH, HIDDEN), r(2 * BATCH, HIDDEN), r(BATCH, D)
    steps = -(-n // BATCH)
    _sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        # the generator's pass for the 5 critic batches
        zb5 @ w_g1.T
        h5 @ w_g2.T
        for _ in range(CRITIC_STEPS):
            xa2 @ w_d1.T  # the critic on real and fake
            xa @ w_d1.T  # the critic's hidden layer on the interpolates
            hb @ w_d1x  # the interpolates' input gradient
            hb2.T @ xa2  # weight gradient: real and fake
            hb.T @ dx  # the penalty's gradient: first-layer weights
            dx @ w_d1x.T  # the penalty's gradient: towards the output weights
        # the generator step: G forward, critic forward, critic input gradient, G backward
        zb @ w_g1.T
        hb @ w_g2.T
        xa @ w_d1.T
        hb @ w_d1x
        dx @ w_g2  # input gradient of G's output layer
        dx.T @ hb  # weight gradient of G's output layer
        hb.T @ zb  # weight gradient of G's first layer
    _sync(device)
    return time.perf_counter() - t


# ------------------------------------------------------------------ driver


def main() -> None:
    args, device = parse(argument_parser(__doc__, "8 generator updates, scaled to an epoch"))
    steps_full = -(-N // BATCH)
    n = 8 * BATCH if args.quick else N
    scale = steps_full / (-(-n // BATCH))
    x, labels, attributes = make_data(n, device)
    x_np, labels_np = x.cpu().numpy(), labels.cpu().numpy()
    small = 2 * BATCH  # warm-up: imports, kernels, allocator
    kgzsl_epoch(x[:small], labels[:small], attributes)
    reference_epoch(x_np[:small], labels_np[:small], attributes)
    floor_epoch(small, device)
    runs = {
        "kgzsl": lambda: kgzsl_epoch(x, labels, attributes),
        "reference": lambda: reference_epoch(x_np, labels_np, attributes),
        "floor": lambda: floor_epoch(n, device),
    }
    timings = alternate_rounds(runs, args.rounds, scale, device)
    what = f"quick: 8 generator updates scaled to {steps_full}" if args.quick else f"full epoch, {steps_full} updates"
    speedup, over_floor = print_comparison(timings, goal=" (goal ≥ 1.2)", floor_goal=" (goal ≤ 1.25)")
    if args.no_record:
        return
    common = description(what, device, args, timings, floor_memory=True)
    med = timings.medians
    rows = [
        (
            "f_clswgan.epoch",
            med["kgzsl"],
            med["reference"],
            speedup,
            "baseline = the authors' way (clswgan.py, DataLoader); ratio reference/kgzsl",
        ),
        (
            "f_clswgan.epoch_floor",
            med["kgzsl"],
            med["floor"],
            over_floor,
            "baseline = the matrix multiplications alone; ratio kgzsl/floor",
        ),
    ]
    record(comparison_rows(N, steps_full, rows, common))


if __name__ == "__main__":
    main()
