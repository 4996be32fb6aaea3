"""Training step time of the MADS-style document model, with and without the focus loss.

One Adam step of :class:`kgzsl.methods.mads.MADSNet` (forward over every seen class's
document, cross-entropy of the global and local scores, backward, update) on random inputs of
ViT-B size: a batch of 64 images of 49 patch tokens × 768 (ViT-B/32's patch grid and width)
and a 512-d image embedding, 40 seen-class documents of 64 words of 512-d token vectors (the
open_clip ViT-B text tower's width), joint space 512. "with focus" adds the focus loss
(:mod:`kgzsl.language.focus`) on the word attention; the ratio is its overhead. Random weights
and inputs: timing only. Runs on the GPU when there is one. Prints the figures and appends
them to ``results.csv`` beside it.

    .venv/bin/python benchmarks/perf/mads_step.py [--quick] [--device cuda]
"""

from __future__ import annotations

import argparse
import time

import torch
from results_file import machine, record, today
from torch.nn import functional as F

from kgzsl.language.focus import FocusLoss
from kgzsl.methods.mads import MADSNet


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_time(args: argparse.Namespace, device: torch.device, focus: bool) -> float:
    """Median seconds of one training step (after ``args.warmup`` untimed steps)."""
    g = torch.Generator(device="cpu").manual_seed(0)
    rand = lambda *shape: torch.randn(*shape, generator=g).to(device)  # noqa: E731
    glob, patches = rand(args.batch, args.global_dim), rand(args.batch, args.patches, args.token_dim)
    words = rand(args.classes, args.words, args.word_dim)
    mask = torch.ones(args.classes, args.words, dtype=torch.bool, device=device)
    focus_mask = (torch.rand(args.classes, args.words, generator=g) < 0.5).float().to(device)
    labels = torch.randint(0, args.classes, (args.batch,), generator=g).to(device)
    torch.manual_seed(0)
    net = MADSNet(args.global_dim, args.token_dim, args.word_dim, args.dim).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    loss_fn = FocusLoss()
    times = []
    for i in range(args.warmup + args.steps):
        _sync(device)
        t = time.perf_counter()
        gs, ls, attention = net(glob, patches, words, mask)
        loss = F.cross_entropy(gs, labels) + F.cross_entropy(ls, labels)
        if focus:
            loss = loss + 0.5 * loss_fn(attention, focus_mask, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync(device)
        if i >= args.warmup:
            times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few steps (a smoke run)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--patches", type=int, default=49)
    parser.add_argument("--token-dim", type=int, default=768)
    parser.add_argument("--global-dim", type=int, default=512)
    parser.add_argument("--classes", type=int, default=40)
    parser.add_argument("--words", type=int, default=64)
    parser.add_argument("--word-dim", type=int, default=512)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    if args.quick:
        args.batch, args.patches, args.token_dim, args.global_dim = 8, 9, 64, 32
        args.classes, args.words, args.word_dim, args.dim, args.steps, args.warmup = 6, 12, 32, 32, 3, 1
    device = torch.device(args.device)

    plain = step_time(args, device, focus=False)
    with_focus = step_time(args, device, focus=True)
    size = f"batch {args.batch}, {args.patches} patches x {args.token_dim}, {args.classes} classes x {args.words} words"
    print(f"MADS training step ({size}, dim {args.dim}, {device.type}):")
    print(f"  without focus loss: {plain * 1e3:9.2f} ms")
    print(f"  with focus loss:    {with_focus * 1e3:9.2f} ms   ({with_focus / plain:.2f}x)")
    if args.quick:
        return  # a smoke run: nothing recorded
    record(
        [
            [
                today(),
                f"{machine()}, {device.type}, {torch.get_num_threads()} threads",
                "mads_step",
                args.batch,
                args.classes,
                f"{with_focus:.4f}",
                f"{plain:.4f}",
                f"{with_focus / plain:.2f}",
                f"training step with (kgzsl_s) and without (baseline_s) the focus loss; {size}, "
                f"word dim {args.word_dim}, dim {args.dim}, median of {args.steps}",
            ]
        ]
    )


if __name__ == "__main__":
    main()
