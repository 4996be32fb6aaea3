"""One CE-GZSL training epoch at AWA2 size: kgzsl's matrix form against the authors' per-sample loops, and the floor.

Random data of AWA2's shape: 23,527 × 2048 min-max scaled features of 40 seen classes with 85-d
class attributes; the authors' networks and AWA2 settings (``Hanzy1996/CE-GZSL``: G ``[z; a] →
4096 LeakyReLU → 2048 ReLU``, critic ``[x; a] → 4096 LeakyReLU → 1``, embedding ``2048 → 2048
ReLU → 512``, comparator ``[h; a] → 2048 LeakyReLU → 1``, noise 85, 5 critic steps, gradient
penalty 10, temperatures 0.1, weights 0.001, Adam 1e-4 with β₁ 0.5), batch 2048 (the code's
default; the authors never published theirs). An epoch is ``⌈N / batch⌉`` generator updates
(12 at batch 2048), each after 5 critic updates. Three things are timed:

* **kgzsl**: :meth:`kgzsl.methods.ce_gzsl.CEGZSL.fit_generator` (the updates trained and the
  losses logged): both contrastive losses in matrix form — the class-level comparator's first
  layer split into its ``h`` and ``a`` parts (two small products instead of one over every
  (image, class) pair) and the rest in chunks by a custom autograd function — whole data on
  the device, batches by index, the 5 critic steps' synthetic features from one generator
  pass, the critic on real, synthetic and interpolated rows in one product and its first
  layer's weight gradient in one (:meth:`~kgzsl.methods.f_clswgan.Critic.scores_and_penalty`),
  Adam's fused kernels. In both implementations the clock starts once the networks and
  optimisers are built (not part of an epoch, and it would be multiplied by the scaling);
* **reference**: the same networks and losses written the way the authors' ``CE_GZSL.py``
  writes them (the issue asks for a ``DataLoader`` over numpy arrays): each batch copied into
  preallocated device tensors, a fresh generator pass for every critic step, the class-level
  loss by ``class_scores_for_loop`` (for every image of the batch, the comparator on ``[h_i
  repeated; a_seen]``, written into a preallocated score matrix), ``SupConLoss_clear``, the
  penalty by ``autograd.grad`` with ``grad_outputs=ones``;
* **floor**: kgzsl's matrix multiplications alone (per generator update: for each of the 5
  critic steps the critic's three forward passes, the penalty's input gradient, its gradient
  towards the output weights and the three weight gradients, the embedding's two layers
  forward and backward, the comparator's ``h`` product forward and backward, the instance
  loss's similarity matrix forward and backward;
  for the generator step, the generator forward and backward, the critic's forward and input
  gradient, the embedding of the synthetic and real features, the comparator and the
  similarity matrix over both), on preallocated tensors. The element-wise work per (image,
  class, hidden unit) of the comparator is not a matrix product and is not in the floor.

Rounds alternate the three so that a loaded machine slows all alike; the medians are compared.
The full mode times ``--updates`` (2) generator updates at batch 2048 and scales them to an
epoch (a whole reference epoch takes about 40 minutes on one core); ``--quick`` times 1 update
at batch 256 and scales it to an epoch at that batch (⌈N / 256⌉ = 92 updates; the work per
epoch hardly depends on the batch). Peak memory: the growth of the resident size (CPU) or the
peak allocated (CUDA) of each. The class-level loss alone (forward and backward, 6 an update)
is also timed, both ways. Appends three rows to ``results.csv`` (ratio = reference / kgzsl;
the loss alone, loop / kgzsl; kgzsl / floor); goal: reference / kgzsl ≥ 10::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/perf/epoch_ce_gzsl.py [--quick] [--device cpu|cuda]
        [--batch 2048] [--updates 2] [--rounds 1] [--threads 1] [--no-record] [--note TEXT]
"""

from __future__ import annotations

import itertools
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
HIDDEN, NOISE, EMBED, PROJ, HIDDEN_F, CRITIC_STEPS = 4096, 85, 2048, 512, 2048, 5
LR, BETA1, GP_WEIGHT, TEMP, WEIGHT = 1e-4, 0.5, 10.0, 0.1, 0.001


def make_data(n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return _make_data(n, SEEN, ATT, D, device, balanced=True)  # every seen class in every batch, as on AWA2


# ------------------------------------------------------------------ kgzsl


def kgzsl_epoch(x: torch.Tensor, labels: torch.Tensor, attributes: torch.Tensor, batch: int) -> float:
    """``⌈len(x) / batch⌉`` generator updates of :class:`~kgzsl.methods.ce_gzsl.CEGZSL` (its own ``fit_generator``)."""
    from kgzsl.context import RunContext
    from kgzsl.methods.base import ZSLTask
    from kgzsl.methods.ce_gzsl import CEGZSL

    task = ZSLTask(x, labels, attributes, torch.arange(SEEN), torch.arange(SEEN, SEEN + 10))
    method = CEGZSL(preset="awa2", epochs=1, batch_size=batch, fidelity=False)
    method.train_log_ = []
    context = RunContext(seed=0, device=str(x.device), progress=False)
    started: list[float] = []
    build_and_loop = method._training_loop

    def loop(*args: object, **kwargs: object) -> object:  # the networks and optimisers are built: start
        _sync(x.device)
        started.append(time.perf_counter())
        return build_and_loop(*args, **kwargs)

    method._training_loop = loop  # type: ignore[method-assign]
    method.fit_generator(task, context)
    _sync(x.device)
    return time.perf_counter() - started[0]


# ------------------------------------------------------------------ the authors' way


def _weights_init(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        m.weight.data.normal_(0.0, 0.02)
        m.bias.data.fill_(0)


class _G(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(ATT + NOISE, HIDDEN), nn.Linear(HIDDEN, D)
        self.lrelu, self.relu = nn.LeakyReLU(0.2, True), nn.ReLU(True)

    def forward(self, noise: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
        return self.relu(self.fc2(self.lrelu(self.fc1(torch.cat((noise, att), 1)))))


class _D(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(D + ATT, HIDDEN), nn.Linear(HIDDEN, 1)
        self.lrelu = nn.LeakyReLU(0.2, True)

    def forward(self, x: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.lrelu(self.fc1(torch.cat((x, att), 1))))


class _Map(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(D, EMBED), nn.Linear(EMBED, PROJ)
        self.relu = nn.ReLU(True)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.relu(self.fc1(features))
        return embedding, nn.functional.normalize(self.fc2(embedding), dim=1)


class _F(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(EMBED + ATT, HIDDEN_F), nn.Linear(HIDDEN_F, 1)
        self.lrelu = nn.LeakyReLU(0.2, True)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.lrelu(self.fc1(pairs)))


def _supcon_clear(features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The authors' ``SupConLoss_clear`` (already a matrix form in their code)."""
    n = features.shape[0]
    labels = labels.contiguous().view(-1, 1)
    mask = torch.eq(labels, labels.T).float()
    logits = torch.div(features @ features.T, TEMP)
    logits = logits - logits.max(dim=1, keepdim=True)[0].detach()
    logits_mask = torch.scatter(torch.ones_like(mask), 1, torch.arange(n, device=features.device).view(-1, 1), 0)
    mask = mask * logits_mask
    single = (mask.sum(1) == 0).float()
    log_prob = logits - torch.log((torch.exp(logits) * logits_mask).sum(1, keepdim=True))
    mean_log_prob_pos = (mask * log_prob).sum(1) / (mask.sum(1) + single)
    loss = -mean_log_prob_pos * (1 - single)
    return loss.sum() / (loss.shape[0] - single.sum())


def _class_scores_for_loop(
    f_ha: nn.Module, embed: torch.Tensor, label: torch.Tensor, attribute_seen: torch.Tensor
) -> torch.Tensor:
    """The authors' ``class_scores_for_loop``: the comparator on ``[h_i repeated; a_seen]`` image by image."""
    all_scores = torch.empty(embed.shape[0], SEEN, device=embed.device)
    for i, i_embed in enumerate(embed):
        expand_embed = i_embed.repeat(SEEN, 1)
        all_scores[i] = torch.div(f_ha(torch.cat((expand_embed, attribute_seen), dim=1)), TEMP).squeeze()
    scores_norm = all_scores - all_scores.max(dim=1, keepdim=True)[0].detach()
    mask = nn.functional.one_hot(label, num_classes=SEEN).float()
    log_scores = scores_norm - torch.log(torch.exp(scores_norm).sum(1, keepdim=True))
    return -((mask * log_scores).sum(1) / mask.sum(1)).mean()


def class_loss_times(batch: int, device: torch.device) -> tuple[float, float]:
    """Seconds of one class-level loss, forward and backward, at ``batch``: kgzsl's matrix form, the authors' loop."""
    from kgzsl.methods.ce_gzsl import Comparator, class_contrastive_loss

    torch.manual_seed(0)
    h = torch.rand(batch, EMBED, device=device, requires_grad=True)
    semantics = torch.rand(SEEN, ATT, device=device)
    labels = torch.randint(0, SEEN, (batch,), device=device)
    ours, theirs = Comparator(EMBED, ATT, HIDDEN_F, device), _F().to(device)
    out = []
    for loss in (
        lambda: class_contrastive_loss(ours, h, semantics, labels, TEMP),
        lambda: _class_scores_for_loop(theirs, h, labels, semantics),
    ):
        _sync(device)
        t = time.perf_counter()
        loss().backward()
        _sync(device)
        out.append(time.perf_counter() - t)
    return out[0], out[1]


def reference_epoch(features: np.ndarray, labels: np.ndarray, attributes: torch.Tensor, batch: int) -> float:
    """``⌈len(features) / batch⌉`` generator updates the authors' way (timed once the networks are built)."""
    from torch.utils.data import DataLoader, TensorDataset

    device = attributes.device
    torch.manual_seed(0)
    net_g, net_d, net_map, f_ha = _G().to(device), _D().to(device), _Map().to(device), _F().to(device)
    for net in (net_g, net_d, net_map, f_ha):
        net.apply(_weights_init)
    params_d = itertools.chain(net_d.parameters(), net_map.parameters(), f_ha.parameters())
    opt_d = torch.optim.Adam(params_d, lr=LR, betas=(BETA1, 0.999))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=LR, betas=(BETA1, 0.999))
    input_res = torch.empty(batch, D, device=device)
    input_att = torch.empty(batch, ATT, device=device)
    input_label = torch.empty(batch, dtype=torch.long, device=device)
    noise = torch.empty(batch, NOISE, device=device)
    attribute_seen = attributes[:SEEN]
    loader = DataLoader(TensorDataset(torch.from_numpy(features), torch.from_numpy(labels)), batch, shuffle=True)
    batches = iter(loader)
    att_cpu = attributes.cpu()
    _sync(device)
    t = time.perf_counter()  # the networks and optimisers are built, as for kgzsl

    def sample() -> None:
        nonlocal batches
        try:
            feature, label = next(batches)
        except StopIteration:
            batches = iter(loader)
            feature, label = next(batches)
        if len(label) < batch:  # the authors' next_batch always returns a full batch
            batches = iter(loader)
            feature, label = next(batches)
        input_res.copy_(feature)
        input_att.copy_(att_cpu[label])
        input_label.copy_(label)

    def calc_gradient_penalty(real: torch.Tensor, fake: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
        alpha = torch.rand(batch, 1, device=device).expand(real.size())
        interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        disc = net_d(interpolates, att)
        ones = torch.ones(disc.size(), device=device)
        gradients = torch.autograd.grad(
            outputs=disc, inputs=interpolates, grad_outputs=ones, create_graph=True, retain_graph=True
        )[0]
        return ((gradients.norm(2, dim=1) - 1) ** 2).mean() * GP_WEIGHT

    def class_scores_for_loop(embed: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return _class_scores_for_loop(f_ha, embed, label, attribute_seen)

    def trainable(flag: bool) -> None:
        for net in (net_d, net_map, f_ha):
            for p in net.parameters():
                p.requires_grad = flag

    for _ in range(0, len(features), batch):
        trainable(True)
        for _ in range(CRITIC_STEPS):
            sample()
            net_d.zero_grad()
            net_map.zero_grad()  # (the authors zero F_ha's gradients once an epoch only)
            embed_real, outz_real = net_map(input_res)
            critic_real = net_d(input_res, input_att).mean()
            real_ins = _supcon_clear(outz_real, input_label)
            noise.normal_(0, 1)
            fake = net_g(noise, input_att)
            critic_fake = net_d(fake.detach(), input_att).mean()
            gradient_penalty = calc_gradient_penalty(input_res, fake.data, input_att)
            cls_real = class_scores_for_loop(embed_real, input_label)
            (critic_fake - critic_real + gradient_penalty + real_ins + cls_real).backward()
            opt_d.step()
        trainable(False)
        net_g.zero_grad()
        noise.normal_(0, 1)
        fake = net_g(noise, input_att)
        embed_fake, outz_fake = net_map(fake)
        g_cost = -net_d(fake, input_att).mean()
        _, outz_real = net_map(input_res)
        all_outz = torch.cat((outz_fake, outz_real.detach()), dim=0)
        fake_ins = _supcon_clear(all_outz, torch.cat((input_label, input_label), dim=0))
        cls_fake = class_scores_for_loop(embed_fake, input_label)
        (g_cost + WEIGHT * fake_ins + WEIGHT * cls_fake).backward()
        opt_g.step()
    f_ha.zero_grad()
    _sync(device)
    return time.perf_counter() - t


# ------------------------------------------------------------------ the floor


def floor_epoch(n: int, batch: int, device: torch.device) -> float:
    """kgzsl's matrix multiplications of ``⌈n / batch⌉`` generator updates alone."""
    g = torch.Generator().manual_seed(0)

    def r(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=g).to(device)

    b, b5 = batch, CRITIC_STEPS * batch
    w_g1, w_g2, w_d1 = r(HIDDEN, NOISE + ATT), r(D, HIDDEN), r(HIDDEN, D + ATT)
    w_e1, w_e2, w_fh = r(EMBED, D), r(PROJ, EMBED), r(HIDDEN_F, EMBED)
    zb5, zb, h5 = r(b5, NOISE + ATT), r(b, NOISE + ATT), r(b5, HIDDEN)
    xa, hb, x = r(b, D + ATT), r(b, HIDDEN), r(b, D)
    e, p, f = r(b, EMBED), r(b, PROJ), r(b, HIDDEN_F)
    p2, sim, sim2 = r(2 * b, PROJ), r(b, b), r(2 * b, 2 * b)
    steps = -(-n // batch)
    _sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        zb5 @ w_g1.T  # the generator's pass for the 5 critic batches
        h5 @ w_g2.T
        for _ in range(CRITIC_STEPS):
            xa @ w_d1.T  # critic on real, fake, interpolates
            xa @ w_d1.T
            xa @ w_d1.T
            hb @ w_d1  # the interpolates' input gradient
            xa @ w_d1.T  # the penalty's gradient towards the output weights
            hb.T @ xa  # weight gradients: real, fake, penalty
            hb.T @ xa
            hb.T @ xa
            x @ w_e1.T  # embedding forward
            e @ w_e2.T
            p.T @ e  # embedding backward: fc2 weight, fc2 input, fc1 weight
            p @ w_e2
            e.T @ x
            e @ w_fh.T  # the comparator's h product forward and backward
            f.T @ e
            f @ w_fh
            p @ p.T  # instance similarities forward and backward
            sim @ p
        # the generator step
        zb @ w_g1.T  # G forward
        hb @ w_g2.T
        xa @ w_d1.T  # critic forward and input gradient
        hb @ w_d1
        x @ w_e1.T  # embedding of the synthetic features, forward and input gradient
        e @ w_e2.T
        p @ w_e2
        e @ w_e1
        x @ w_e1.T  # embedding of the real features (no gradient)
        e @ w_e2.T
        e @ w_fh.T  # comparator's h product forward and input gradient
        f @ w_fh
        p2 @ p2.T  # instance similarities over synthetic and real, forward and backward
        sim2 @ p2
        x @ w_g2  # G backward: fc2 input gradient, fc2 weight, fc1 weight
        x.T @ hb
        hb.T @ zb
    _sync(device)
    return time.perf_counter() - t


# ------------------------------------------------------------------ driver


def main() -> None:
    p = argument_parser(__doc__, "1 generator update at batch 256, scaled to an epoch", rounds=1)
    p.add_argument("--batch", type=int, default=None, help="batch size (2048; --quick: 256)")
    p.add_argument("--updates", type=int, default=None, help="generator updates timed (2; --quick: 1)")
    args, device = parse(p)
    batch = args.batch or (256 if args.quick else 2048)
    updates = args.updates or (1 if args.quick else 2)
    steps_full = -(-N // batch)
    n = min(N, updates * batch)
    scale = steps_full / (-(-n // batch))
    x, labels, attributes = make_data(n, device)
    x_np, labels_np = x.cpu().numpy(), labels.cpu().numpy()
    warm = 64  # warm-up: imports, kernels, allocator
    kgzsl_epoch(x[:warm], labels[:warm], attributes, warm)
    reference_epoch(x_np[:warm], labels_np[:warm], attributes, warm)
    floor_epoch(warm, warm, device)
    runs = {
        "kgzsl": lambda: kgzsl_epoch(x, labels, attributes, batch),
        "reference": lambda: reference_epoch(x_np, labels_np, attributes, batch),
        "floor": lambda: floor_epoch(n, batch, device),
    }
    timings = alternate_rounds(runs, args.rounds, scale, device, progress=True)
    timed = -(-n // batch)
    what = f"batch {batch}, {timed} of {steps_full} generator updates timed, scaled to an epoch"
    what = f"quick: {what}" if args.quick else what
    speedup, over_floor = print_comparison(timings, width=9, goal=" (goal ≥ 10)")
    # the class-level loss alone, 6 times per generator update (5 critic steps, 1 generator step)
    class_loss_times(warm, device)
    loss_ours, loss_ref = (t * 6 * steps_full for t in class_loss_times(batch, device))
    loss_speedup = loss_ref / loss_ours
    print(
        f"class-level loss alone: kgzsl {loss_ours:.1f} s/epoch, "
        f"the authors' loop {loss_ref:.1f} s/epoch: {loss_speedup:.1f}x"
    )
    if args.no_record:
        return
    common = description(what, device, args, timings, floor_memory=True)
    med = timings.medians
    rows = [
        (
            "ce_gzsl.epoch",
            med["kgzsl"],
            med["reference"],
            speedup,
            "baseline = the authors' way (CE_GZSL.py per-sample loops, DataLoader); ratio reference/kgzsl",
        ),
        (
            "ce_gzsl.class_loss",
            loss_ours,
            loss_ref,
            loss_speedup,
            "the class-level loss alone (forward + backward, 6 an update): kgzsl's matrix form vs the authors' "
            "per-sample loop; ratio loop/kgzsl",
        ),
        (
            "ce_gzsl.epoch_floor",
            med["kgzsl"],
            med["floor"],
            over_floor,
            "baseline = kgzsl's matrix multiplications alone; ratio kgzsl/floor",
        ),
    ]
    record(comparison_rows(N, steps_full, rows, common))


if __name__ == "__main__":
    main()
