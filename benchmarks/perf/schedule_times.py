"""The wall time of each generative method's whole AWA2 schedule (its ``awa2`` preset) on a device: GPU work.

Random data of AWA2's shape (23,527 × 2048 min-max scaled features, 40 seen classes, 85-d
attributes), each method built with ``preset: awa2`` (the authors' epochs, learning rates, batch
sizes, widths) and trained by its own ``fit_generator``, as ``kgzsl run`` trains it (pre-trained
classifiers included; the shared final classifier is not part of the schedule). By default each
method is timed at 1 and at ``1 + k`` epochs (``--extra-epochs k``, default 2): an epoch is the
difference over ``k``, the rest (networks, pre-training, the first epoch's warm-up) the 1-epoch time
minus one epoch, and the schedule ``rest + epochs × epoch``, labelled *extrapolated*. ``--full``
times the whole schedule itself instead. The baseline column is the same schedule at the per-epoch
time of the authors' way of writing the method, where ``benchmarks/perf/epoch_<method>.py`` has
recorded one on the same machine (the ratio is theirs / kgzsl's); otherwise it is left empty.

Appends one row per method to ``results.csv`` (``<method>.awa2_schedule``). On a CPU this is hours;
``--n`` and ``--methods`` give a smoke run::

    python benchmarks/perf/schedule_times.py --device cuda [--methods f_clswgan ce_gzsl ...]
        [--extra-epochs 2] [--full] [--n 23527] [--no-record] [--note TEXT]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import RESULTS, machine, make_data, record, sync, today  # noqa: E402

N, D, SEEN, ATT = 23_527, 2048, 40, 85
METHODS = ["f_clswgan", "ontozsl_gan", "ce_gzsl", "tf_vaegan", "cada_vae"]


def fit_seconds(name: str, x: torch.Tensor, labels: torch.Tensor, attributes: torch.Tensor, epochs: int) -> float:
    """Seconds of ``fit_generator`` of ``name`` (``preset: awa2``, ``epochs`` epochs) on the data's device."""
    import kgzsl.methods  # noqa: F401  (registers every method)
    from kgzsl.context import RunContext
    from kgzsl.methods.base import ZSLTask
    from kgzsl.registry import METHODS as REGISTRY

    task = ZSLTask(x, labels, attributes, torch.arange(SEEN), torch.arange(SEEN, attributes.shape[0]))
    method = REGISTRY.build(name, preset="awa2", epochs=epochs, fidelity=False)
    method.train_log_ = []
    context = RunContext(seed=0, device=str(x.device), progress=False)
    sync(x.device)
    start = time.perf_counter()
    method.fit_generator(task, context)
    sync(x.device)
    return time.perf_counter() - start


def schedule_epochs(name: str) -> int:
    """The number of epochs of ``name``'s ``awa2`` preset."""
    import kgzsl.methods  # noqa: F401
    from kgzsl.registry import METHODS as REGISTRY

    return int(REGISTRY.build(name, preset="awa2").setting("epochs"))


def authors_epoch(name: str, where: str, device: str) -> float | None:
    """The latest recorded per-epoch time of the authors' way for ``name`` on this machine and device, or ``None``."""
    if not RESULTS.exists():
        return None
    found = None
    with RESULTS.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["benchmark"] == f"{name}.epoch" and row["machine"] == where and f"device {device}," in row["note"]:
                found = float(row["baseline_s"])
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    p.add_argument("--extra-epochs", type=int, default=2, help="epochs timed beyond the first (default 2)")
    p.add_argument("--full", action="store_true", help="time the whole schedule instead of extrapolating")
    p.add_argument("--n", type=int, default=N, help=f"images (AWA2: {N}; smaller for a smoke run)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-record", action="store_true")
    p.add_argument("--note", default="")
    args = p.parse_args()
    if args.extra_epochs < 1:
        p.error("--extra-epochs: expected at least 1")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    x, labels, attributes = make_data(args.n, SEEN, ATT, D, device)
    where = machine()
    rows = []
    for name in args.methods:
        epochs = schedule_epochs(name)
        fit_seconds(name, x[:256], labels[:256], attributes, 1)  # warm-up: kernels, allocator
        if args.full:
            total = fit_seconds(name, x, labels, attributes, epochs)
            per_epoch, how = total / epochs, f"whole schedule timed ({epochs} epochs)"
        else:
            one = fit_seconds(name, x, labels, attributes, 1)
            more = fit_seconds(name, x, labels, attributes, 1 + args.extra_epochs)
            per_epoch = max(more - one, 0.0) / args.extra_epochs
            total = max(one - per_epoch, 0.0) + epochs * per_epoch
            how = f"extrapolated from 1 and {1 + args.extra_epochs} epochs to {epochs}"
        reference = authors_epoch(name, where, device.type)
        theirs = None if reference is None else reference * epochs * args.n / N
        ratio = "" if theirs is None else f"{theirs / total:.2f}"
        print(
            f"{name:>12}: {total:9.1f} s for {epochs} epochs ({per_epoch:.2f} s/epoch; {how})"
            + ("" if theirs is None else f"; the authors' way about {theirs:.0f} s ({ratio}x)")
        )
        note = (
            f"the awa2 preset's whole schedule, fit_generator on random data of AWA2's shape; {how}; "
            f"device {device.type}, threads {args.threads}"
            + ("" if theirs is None else "; baseline = the authors' way's recorded epoch × epochs (ratio theirs/kgzsl)")
            + (f"; {args.note}" if args.note else "")
        )
        rows.append(
            [today(), where, f"{name}.awa2_schedule", args.n, epochs, f"{total:.3f}",
             "" if theirs is None else f"{theirs:.3f}", ratio, note]
        )  # fmt: skip
    if not args.no_record:
        record(rows)


if __name__ == "__main__":
    main()
