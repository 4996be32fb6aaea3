"""One tf-VAEGAN training epoch at AWA2 size: kgzsl against the authors' way of writing it, and the floor.

Random data of AWA2's shape: 23,527 × 2048 min-max scaled features of 40 seen classes with 85-d
class attributes; the authors' AWA2 setting (``scripts/run_awa_tfvaegan.py``: hidden 4096 for
the encoder, the generator, the critic, the semantic decoder and the feedback, latent 85, batch
64, 5 critic steps, encoded noise, frozen decoder, feedback weight 0.01, the adaptive
gradient-penalty weight). An epoch is 2 passes (without, then with feedback) of ``⌈N / 64⌉`` =
368 generator steps, each after 5 critic steps: 736 generator and 3,680 critic steps. Timed:

* **kgzsl**: :meth:`kgzsl.methods.tf_vaegan.TFVAEGAN.fit_generator` for one epoch (networks
  built, the epoch trained, its losses logged): whole data on the device, batches sliced from
  permutations drawn by a torch generator, the encoder and generator passes of the 5 critic
  steps batched into one (they do not change during the critic steps), the critic run once on
  real and fake rows together, the generator's hidden layer computed once for both feedback
  passes, the penalty weight's controller and the loss sums kept on the device (no host
  sync per step);
* **reference**: the same networks and losses written as the authors' ``train_images.py``
  writes them (``akshitac8/tfvaegan``): ``next_seen_batch`` draws ``torch.randperm(N)[:64]`` on
  the host and copies the batch into preallocated device tensors, the encoder and the
  generator run per critic step (with autograd graphs), the feedback generation recomputes the
  generator's first layer, the critic runs separately on real, fake and interpolated rows with
  ``backward(mone)`` / ``backward(one)``, and the penalty weight's controller tests a tensor on
  the host after every generator step;
* **floor**: the same matrix multiplications alone (forward, weight gradients and the input
  gradients that backpropagation needs, per step; the penalty's double backward counted as
  two more products of its first layer), on preallocated tensors.

Rounds alternate the three so that a loaded machine slows all alike; the medians are
compared. ``--quick`` runs 6 generator steps per pass (1/61 of an epoch), ``--steps K`` K of
them, and scales to a full epoch (a full epoch takes about 20 minutes per implementation on one
CPU thread). Peak memory: the growth of the resident size (CPU) or the peak allocated (CUDA) of each.
Appends two rows to ``results.csv`` (ratio = reference / kgzsl; ratio = kgzsl / floor)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/perf/epoch_tf_vaegan.py [--quick | --steps K] [--device cpu|cuda]
        [--rounds 3] [--threads 1] [--no-record] [--note TEXT]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

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
BATCH, HIDDEN, CRITIC_STEPS, PASSES = 64, 4096, 5, 2
LATENT = ATT
#: the authors' AWA2 script
LR, FEED_LR, DEC_LR, GAMMA, RECONS, DELTA = 1e-5, 1e-4, 1e-4, 10.0, 0.1, 0.01


def make_data(n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return _make_data(n, SEEN, ATT, D, device)


# ------------------------------------------------------------------ kgzsl


def kgzsl_epoch(x: torch.Tensor, labels: torch.Tensor, attributes: torch.Tensor) -> float:
    """One epoch of :class:`~kgzsl.methods.tf_vaegan.TFVAEGAN` (its own ``fit_generator``, AWA2 preset)."""
    from kgzsl.context import RunContext
    from kgzsl.methods.base import ZSLTask
    from kgzsl.methods.tf_vaegan import TFVAEGAN

    task = ZSLTask(x, labels, attributes, torch.arange(SEEN), torch.arange(SEEN, SEEN + 10))
    method = TFVAEGAN(preset="awa2", epochs=1, fidelity=False)
    method.train_log_ = []
    context = RunContext(seed=0, device=str(x.device), progress=False)
    _sync(x.device)
    t = time.perf_counter()
    method.fit_generator(task, context)
    _sync(x.device)
    return time.perf_counter() - t


# ------------------------------------------------------------------ the authors' way


def reference_epoch(x: torch.Tensor, labels: torch.Tensor, attributes: torch.Tensor) -> float:
    """One epoch written as the authors' ``train_images.py`` (the networks built inside the timing, as kgzsl's)."""
    from kgzsl.methods.f_clswgan import Critic
    from kgzsl.methods.tf_vaegan import Encoder, Feedback, FeedbackGenerator, SemanticDecoder, normalize_rows

    device = x.device
    torch.manual_seed(0)
    _sync(device)
    t = time.perf_counter()
    train_feature, train_label = x.cpu(), labels.cpu()  # the authors' DATA_LOADER keeps the data on the host
    attribute = normalize_rows(attributes).cpu()
    ntrain = train_feature.shape[0]
    net_e = Encoder(D, ATT, HIDDEN, LATENT, device)
    net_g = FeedbackGenerator(LATENT, ATT, HIDDEN, D, device)
    net_d = Critic(D, ATT, HIDDEN, device)
    net_f = Feedback(HIDDEN, device)
    net_dec = SemanticDecoder(D, HIDDEN, ATT, device)
    input_res = torch.empty(BATCH, D, device=device)
    input_att = torch.empty(BATCH, ATT, device=device)
    one = torch.ones((), device=device)
    mone = -one
    optimizer = torch.optim.Adam(net_e.parameters(), lr=LR)
    optimizer_d = torch.optim.Adam(net_d.parameters(), lr=LR, betas=(0.5, 0.999))
    optimizer_g = torch.optim.Adam(net_g.parameters(), lr=LR, betas=(0.5, 0.999))
    optimizer_f = torch.optim.Adam(net_f.parameters(), lr=FEED_LR, betas=(0.5, 0.999))
    optimizer_dec = torch.optim.Adam(net_dec.parameters(), lr=DEC_LR, betas=(0.5, 0.999))
    lambda1 = 10.0

    def sample() -> None:
        idx = torch.randperm(ntrain)[0:BATCH]
        input_res.copy_(train_feature[idx])
        input_att.copy_(attribute[train_label[idx]])

    def generator(z: torch.Tensor, c: torch.Tensor, a1: float | None = None, feedback: torch.Tensor | None = None):
        x1 = net_g.act(net_g.fc1(torch.cat((z, c), dim=-1)))  # recomputed for the feedback pass, as theirs
        if feedback is not None:
            x1 = x1 + a1 * feedback
        return torch.sigmoid(net_g.fc2(x1))

    def weighted_l1(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        wt = (pred - gt).pow(2)
        wt = wt / wt.sum(1).sqrt().unsqueeze(1).expand(wt.size(0), wt.size(1))
        loss = wt * (pred - gt).abs()
        return loss.sum() / loss.size(0)

    def gradient_penalty(real: torch.Tensor, fake: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
        alpha = torch.rand(BATCH, 1).expand(real.size()).to(device)
        interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        out = net_d(interpolates, att)
        ones = torch.ones(out.size(), device=device)
        (gradients,) = torch.autograd.grad(out, interpolates, ones, create_graph=True, retain_graph=True)
        return ((gradients.norm(2, dim=1) - 1) ** 2).mean() * lambda1

    def feedback_of(fake: torch.Tensor) -> torch.Tensor:
        _, hidden = net_dec(fake)
        return net_f(hidden.detach())

    for loop in range(PASSES):
        for _ in range(0, ntrain, BATCH):
            for p in net_d.parameters():
                p.requires_grad = True
            for p in net_dec.parameters():
                p.requires_grad = True
            gp_sum = 0
            for _ in range(CRITIC_STEPS):
                sample()
                net_d.zero_grad()
                net_dec.zero_grad()
                recons, _ = net_dec(input_res)
                r_cost = RECONS * weighted_l1(recons, input_att)
                r_cost.backward()
                optimizer_dec.step()
                critic_real = GAMMA * net_d(input_res, input_att).mean()
                critic_real.backward(mone)
                means, log_var = net_e(input_res, input_att)
                z = torch.randn(BATCH, LATENT, device=device) * torch.exp(0.5 * log_var) + means
                fake = generator(z, input_att)
                if loop == 1:
                    fake = generator(z, input_att, DELTA, feedback_of(fake))
                critic_fake = GAMMA * net_d(fake.detach(), input_att).mean()
                critic_fake.backward(one)
                gp = GAMMA * gradient_penalty(input_res, fake.data, input_att)
                gp_sum += gp.data
                gp.backward()
                optimizer_d.step()
            gp_sum /= GAMMA * lambda1 * CRITIC_STEPS
            if (gp_sum > 1.05).sum() > 0:  # a host sync per generator step
                lambda1 *= 1.1
            elif (gp_sum < 1.001).sum() > 0:
                lambda1 /= 1.1
            for p in net_d.parameters():
                p.requires_grad = False
            for p in net_dec.parameters():  # the AWA2 script freezes the decoder
                p.requires_grad = False
            net_e.zero_grad()
            net_g.zero_grad()
            net_f.zero_grad()
            means, log_var = net_e(input_res, input_att)
            z = torch.randn(BATCH, LATENT, device=device) * torch.exp(0.5 * log_var) + means
            recon_x = generator(z, input_att)
            if loop == 1:
                recon_x = generator(z, input_att, DELTA, feedback_of(recon_x))
            bce = nn.functional.binary_cross_entropy(recon_x + 1e-12, input_res.detach(), reduction="sum")
            kld = -0.5 * torch.sum(1 + log_var - means.pow(2) - log_var.exp()) / BATCH
            err_g = bce.sum() / BATCH + kld
            err_g = err_g + GAMMA * -net_d(recon_x, input_att).mean()
            net_dec.zero_grad()
            recons_fake, _ = net_dec(recon_x)
            err_g = err_g + RECONS * weighted_l1(recons_fake, input_att)
            err_g.backward()
            optimizer.step()
            optimizer_g.step()
            if loop == 1:
                optimizer_f.step()
    _sync(device)
    return time.perf_counter() - t


# ------------------------------------------------------------------ the floor

# (rows, in, out, forward, weight gradient, input gradient) of each product, per generator step
_B, _K = BATCH, CRITIC_STEPS
_DA, _LA = D + ATT, LATENT + ATT
_COMMON = [
    # the critic steps' encoder and generator passes, batched, no gradients
    (_K * _B, _DA, HIDDEN, 1, 0, 0),
    (_K * _B, HIDDEN, 2 * LATENT, 1, 0, 0),
    (_K * _B, 2 * LATENT, LATENT, 2, 0, 0),
    (_K * _B, _LA, HIDDEN, 1, 0, 0),
    (_K * _B, HIDDEN, D, 1, 0, 0),
    # per critic step: the decoder on real rows
    *[(_B, D, HIDDEN, 1, 1, 0), (_B, HIDDEN, ATT, 1, 1, 1)] * _K,
    # the critic on real and fake rows
    *[(2 * _B, _DA, HIDDEN, 1, 1, 0), (2 * _B, HIDDEN, 1, 1, 1, 1)] * _K,
    # the penalty: forward, input gradient, and its double backward (two more products)
    *[(_B, _DA, HIDDEN, 1, 2, 1), (_B, HIDDEN, 1, 1, 1, 1)] * _K,
    # the generator step: encoder, generator, critic and (frozen) decoder on the reconstruction
    (_B, _DA, HIDDEN, 1, 1, 0),
    (_B, HIDDEN, 2 * LATENT, 1, 1, 1),
    (_B, 2 * LATENT, LATENT, 2, 2, 2),
    (_B, _LA, HIDDEN, 1, 1, 1),
    (_B, HIDDEN, D, 1, 1, 1),
    (_B, _DA, HIDDEN, 1, 0, 1),
    (_B, HIDDEN, 1, 1, 0, 1),
    (_B, D, HIDDEN, 1, 0, 1),
    (_B, HIDDEN, ATT, 1, 0, 1),
]
_FEEDBACK = [
    # per critic step: decoder hidden layer, feedback, generator output of the feedback pass
    *[(_B, D, HIDDEN, 1, 0, 0), (_B, HIDDEN, HIDDEN, 2, 0, 0), (_B, HIDDEN, D, 1, 0, 0)] * _K,
    # the generator step: first pass and decoder (no gradients), feedback trained
    (_B, HIDDEN, D, 1, 0, 0),
    (_B, D, HIDDEN, 1, 0, 0),
    (_B, HIDDEN, HIDDEN, 1, 1, 0),
    (_B, HIDDEN, HIDDEN, 1, 1, 1),
]


def floor_epoch(g_steps: int, device: torch.device) -> float:
    """The matrix multiplications of ``g_steps`` generator steps per pass alone (2 passes)."""
    g = torch.Generator().manual_seed(0)
    tensors: dict[tuple[int, int, int], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
    for r, i, o, *_ in _COMMON + _FEEDBACK:
        if (r, i, o) not in tensors:
            tensors[(r, i, o)] = (
                torch.rand(r, i, generator=g).to(device),
                torch.rand(o, i, generator=g).to(device),
                torch.rand(r, o, generator=g).to(device),
            )

    def run(ops: list[tuple[int, int, int, int, int, int]]) -> None:
        for r, i, o, fwd, dw, dx in ops:
            xin, w, dy = tensors[(r, i, o)]
            for _ in range(fwd):
                xin @ w.T
            for _ in range(dw):
                dy.T @ xin
            for _ in range(dx):
                dy @ w

    _sync(device)
    t = time.perf_counter()
    for feedback in (False, True):
        for _ in range(g_steps):
            run(_COMMON)
            if feedback:
                run(_FEEDBACK)
    _sync(device)
    return time.perf_counter() - t


# ------------------------------------------------------------------ driver


def main() -> None:
    p = argument_parser(__doc__, "6 generator steps per pass, scaled to an epoch")
    p.add_argument("--steps", type=int, default=0, help="this many generator steps per pass, scaled to an epoch")
    args, device = parse(p)
    full_steps = -(-N // BATCH)
    n = min(N, (args.steps or 6) * BATCH) if args.quick or args.steps else N
    steps = -(-n // BATCH)
    scale = full_steps / steps
    x, labels, attributes = make_data(n, device)
    kgzsl_epoch(x[:BATCH], labels[:BATCH], attributes)  # warm-up: imports, kernels
    reference_epoch(x[:BATCH], labels[:BATCH], attributes)
    runs = {
        "kgzsl": lambda: kgzsl_epoch(x, labels, attributes),
        "reference": lambda: reference_epoch(x, labels, attributes),
        "floor": lambda: floor_epoch(steps, device),
    }
    timings = alternate_rounds(runs, args.rounds, scale, device)
    what = (
        f"{steps} generator steps per pass scaled to {full_steps}"
        if steps < full_steps
        else f"full epoch, 2 x {full_steps} generator steps"
    )
    speedup, over_floor = print_comparison(timings, width=9, digits=1)
    if args.no_record:
        return
    common = description(what, device, args, timings)
    med = timings.medians
    rows = [
        (
            "tf_vaegan.epoch",
            med["kgzsl"],
            med["reference"],
            speedup,
            "baseline = the authors' way (train_images.py); ratio reference/kgzsl",
        ),
        (
            "tf_vaegan.epoch_floor",
            med["kgzsl"],
            med["floor"],
            over_floor,
            "baseline = the matrix multiplications alone; ratio kgzsl/floor",
        ),
    ]
    record(comparison_rows(N, 2 * full_steps, rows, common))


if __name__ == "__main__":
    main()
