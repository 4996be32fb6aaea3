"""One CADA-VAE training epoch at AWA2 size: kgzsl against the authors' way of writing it, and the floor.

Random data of AWA2's shape: 23,527 × 2048 min-max scaled features of 40 seen classes with 85-d
class attributes; the authors' networks (latent 64, hidden 1560 / 1660 image and 1450 / 665
semantics), batch 50, AMSGrad, and every loss term on (the warm-ups at their final values).
An epoch is ``⌈N / 50⌉`` = 471 steps. Three things are timed:

* **kgzsl**: :meth:`kgzsl.methods.cada_vae.CADAVAE.fit_generator` for one epoch (networks built,
  the epoch trained, its losses logged): whole data on the device, random batches drawn from a
  torch generator, each decoder run once on the stacked latent samples of both modalities,
  loss terms accumulated on the device (no host sync per step);
* **reference**: the same networks and losses written as the authors' ``vaemodel.py`` writes
  them (``edgarschnfld/CADA-VAE-PyTorch``): ``next_batch`` draws ``torch.randperm(N)[:50]`` on the
  host, a decoder call per use (four), ``nn.L1Loss`` sums, warm-up factors built as tensors
  every step, ``if loss > 0`` tests and ``loss.item()`` every step (host syncs). The authors
  build a ``DataLoader`` but never iterate it, so the reference does not either;
* **floor**: the same matrix multiplications alone (forward, weight gradients and the input
  gradients that backpropagation needs, per step), on preallocated tensors.

Rounds alternate the three so that a loaded machine slows all alike; the medians are
compared. ``--quick`` runs a tenth of an epoch (48 steps) and scales it to a full epoch. Peak
memory: the growth of the resident size (CPU) or the peak allocated (CUDA) of each. Appends two
rows to ``results.csv`` (ratio = reference / kgzsl; ratio = kgzsl / floor)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/perf/epoch_cada_vae.py [--quick] [--device cpu|cuda]
        [--rounds 3] [--threads 1] [--no-record] [--note TEXT]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

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
BATCH, LATENT = 50, 64
HIDDEN = {"image": (1560, 1660), "semantic": (1450, 665)}
#: the warm-ups' final values (every term on, as from epoch 75 of the authors' schedule)
BETA, CROSS, DISTANCE = 0.25, 2.37, 8.13


def make_data(n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return _make_data(n, SEEN, ATT, D, device)


# ------------------------------------------------------------------ kgzsl


def kgzsl_epoch(x: torch.Tensor, labels: torch.Tensor, attributes: torch.Tensor) -> float:
    """One epoch of :class:`~kgzsl.methods.cada_vae.CADAVAE` (its own ``fit_generator``)."""
    from kgzsl.context import RunContext
    from kgzsl.methods.base import ZSLTask
    from kgzsl.methods.cada_vae import CADAVAE

    task = ZSLTask(x, labels, attributes, torch.arange(SEEN), torch.arange(SEEN, SEEN + 10))
    # warm-up windows ending at epoch 0: every term at its final weight, as in the reference
    method = CADAVAE(epochs=1, beta_end=0, cross_start=0, cross_end=0, distance_start=0, distance_end=0)
    method.train_log_ = []
    context = RunContext(seed=0, device=str(x.device), progress=False)
    _sync(x.device)
    t = time.perf_counter()
    method.fit_generator(task, context)
    _sync(x.device)
    return time.perf_counter() - t


# ------------------------------------------------------------------ the authors' way


class ReferenceModel(nn.Module):
    """The training part of the authors' ``vaemodel.Model``, written as they write it."""

    def __init__(self, features: torch.Tensor, labels: torch.Tensor, aux: torch.Tensor, device: torch.device):
        super().__init__()
        from kgzsl.methods.cada_vae import ModalityDecoder, ModalityEncoder

        self.device = device
        self.data = {"resnet_features": features, "labels": labels}
        self.aux_data = aux
        self.ntrain = features.shape[0]
        self.batch_size = BATCH
        self.encoder = {
            "resnet_features": ModalityEncoder(D, HIDDEN["image"][0], LATENT, device),
            "attributes": ModalityEncoder(ATT, HIDDEN["semantic"][0], LATENT, device),
        }
        self.decoder = {
            "resnet_features": ModalityDecoder(LATENT, HIDDEN["image"][1], D, device),
            "attributes": ModalityDecoder(LATENT, HIDDEN["semantic"][1], ATT, device),
        }
        params: list[Any] = []
        for source in ("resnet_features", "attributes"):
            params += list(self.encoder[source].parameters()) + list(self.decoder[source].parameters())
        self.optimizer = torch.optim.Adam(params, lr=1.5e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=True)
        self.reconstruction_criterion = nn.L1Loss(reduction="sum")
        self.warmup = {
            "beta": {"factor": BETA, "start_epoch": 0, "end_epoch": 1},
            "cross_reconstruction": {"factor": CROSS, "start_epoch": 0, "end_epoch": 1},
            "distance": {"factor": DISTANCE, "start_epoch": 0, "end_epoch": 1},
        }
        self.current_epoch = 5

    def next_batch(self, batch_size: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
        idx = torch.randperm(self.ntrain)[0:batch_size]
        batch_feature = self.data["resnet_features"][idx.to(self.device)]
        batch_label = self.data["labels"][idx.to(self.device)]
        batch_att = self.aux_data[batch_label]
        return batch_label, [batch_feature, batch_att]

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        sigma = torch.exp(logvar)
        eps = torch.randn(logvar.size()[0], 1, device=self.device)
        eps = eps.expand(sigma.size())
        return mu + sigma * eps

    def factor(self, name: str) -> torch.Tensor:
        w = self.warmup[name]
        f = 1.0 * (self.current_epoch - w["start_epoch"]) / (1.0 * (w["end_epoch"] - w["start_epoch"]))
        f = f * (1.0 * w["factor"])
        return torch.tensor([min(max(f, 0), w["factor"])], device=self.device)

    def trainstep(self, img: torch.Tensor, att: torch.Tensor) -> float:
        mu_img, logvar_img = self.encoder["resnet_features"](img)
        z_from_img = self.reparameterize(mu_img, logvar_img)
        mu_att, logvar_att = self.encoder["attributes"](att)
        z_from_att = self.reparameterize(mu_att, logvar_att)
        img_from_img = self.decoder["resnet_features"](z_from_img)
        att_from_att = self.decoder["attributes"](z_from_att)
        reconstruction_loss = self.reconstruction_criterion(img_from_img, img) + self.reconstruction_criterion(
            att_from_att, att
        )
        img_from_att = self.decoder["resnet_features"](z_from_att)
        att_from_img = self.decoder["attributes"](z_from_img)
        cross_reconstruction_loss = self.reconstruction_criterion(img_from_att, img) + self.reconstruction_criterion(
            att_from_img, att
        )
        kld = (0.5 * torch.sum(1 + logvar_att - mu_att.pow(2) - logvar_att.exp())) + (
            0.5 * torch.sum(1 + logvar_img - mu_img.pow(2) - logvar_img.exp())
        )
        distance = torch.sqrt(
            torch.sum((mu_img - mu_att) ** 2, dim=1)
            + torch.sum((torch.sqrt(logvar_img.exp()) - torch.sqrt(logvar_att.exp())) ** 2, dim=1)
        )
        distance = distance.sum()
        cross_reconstruction_factor = self.factor("cross_reconstruction")
        beta = self.factor("beta")
        distance_factor = self.factor("distance")
        self.optimizer.zero_grad()
        loss = reconstruction_loss - beta * kld
        if cross_reconstruction_loss > 0:
            loss += cross_reconstruction_factor * cross_reconstruction_loss
        if distance_factor > 0:
            loss += distance_factor * distance
        loss.backward()
        self.optimizer.step()
        return loss.item()


def reference_epoch(x: torch.Tensor, labels: torch.Tensor, attributes: torch.Tensor) -> float:
    """One epoch the authors' way (the model built inside the timing, as kgzsl's)."""
    torch.manual_seed(0)
    _sync(x.device)
    t = time.perf_counter()
    model = ReferenceModel(x, labels, attributes, x.device)
    for _ in range(0, model.ntrain, model.batch_size):
        _, data = model.next_batch(model.batch_size)
        model.trainstep(data[0], data[1])
    _sync(x.device)
    return time.perf_counter() - t


# ------------------------------------------------------------------ the floor


def floor_epoch(n: int, device: torch.device) -> float:
    """The matrix multiplications of ``⌈n / 50⌉`` steps alone: forward, weight and needed input gradients."""
    # (rows, in, out, input gradient needed)
    layers = [
        (BATCH, D, HIDDEN["image"][0], False),
        (BATCH, HIDDEN["image"][0], LATENT, True),
        (BATCH, HIDDEN["image"][0], LATENT, True),
        (BATCH, ATT, HIDDEN["semantic"][0], False),
        (BATCH, HIDDEN["semantic"][0], LATENT, True),
        (BATCH, HIDDEN["semantic"][0], LATENT, True),
        (2 * BATCH, LATENT, HIDDEN["image"][1], True),
        (2 * BATCH, HIDDEN["image"][1], D, True),
        (2 * BATCH, LATENT, HIDDEN["semantic"][1], True),
        (2 * BATCH, HIDDEN["semantic"][1], ATT, True),
    ]
    g = torch.Generator().manual_seed(0)
    ops = [
        (
            torch.rand(r, i, generator=g).to(device),
            torch.rand(o, i, generator=g).to(device),
            torch.rand(r, o, generator=g).to(device),
            dx,
        )
        for r, i, o, dx in layers
    ]
    steps = -(-n // BATCH)
    _sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        for xin, w, dy, dx in ops:
            xin @ w.T
            dy.T @ xin
            if dx:
                dy @ w
    _sync(device)
    return time.perf_counter() - t


# ------------------------------------------------------------------ driver


def main() -> None:
    args, device = parse(argument_parser(__doc__, "a tenth of an epoch (48 steps), scaled to an epoch"))
    n = -(-N // 10) if args.quick else N
    scale = (-(-N // BATCH)) / (-(-n // BATCH))
    x, labels, attributes = make_data(n, device)
    kgzsl_epoch(x[: 4 * BATCH], labels[: 4 * BATCH], attributes)  # warm-up: imports, kernels
    reference_epoch(x[: 4 * BATCH], labels[: 4 * BATCH], attributes)
    runs = {
        "kgzsl": lambda: kgzsl_epoch(x, labels, attributes),
        "reference": lambda: reference_epoch(x, labels, attributes),
        "floor": lambda: floor_epoch(n, device),
    }
    timings = alternate_rounds(runs, args.rounds, scale, device)
    what = "quick: 48 steps scaled to 471" if args.quick else "full epoch, 471 steps"
    speedup, over_floor = print_comparison(timings)
    if args.no_record:
        return
    common = description(what, device, args, timings)
    med = timings.medians
    rows = [
        (
            "cada_vae.epoch",
            med["kgzsl"],
            med["reference"],
            speedup,
            "baseline = the authors' way (vaemodel.py); ratio reference/kgzsl",
        ),
        (
            "cada_vae.epoch_floor",
            med["kgzsl"],
            med["floor"],
            over_floor,
            "baseline = the matrix multiplications alone; ratio kgzsl/floor",
        ),
    ]
    record(comparison_rows(N, -(-N // BATCH), rows, common))


if __name__ == "__main__":
    main()
