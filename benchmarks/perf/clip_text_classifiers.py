"""Speed of building CLIP zero-shot text classifiers: batched against one prompt at a time.

kgzsl builds a class's classifier from ``P`` prompts (CLIP's 80 ImageNet templates over its
name): :func:`kgzsl.language.prompts.encode_grid` tokenizes and embeds every distinct prompt
in batches of ``--batch-size``, each batch run only up to its longest prompt's end-of-text
token (``TextTower.encode(trim=True)``: the rest of the 77-token context is padding that the
causal mask hides), and averages the unit embeddings per class with one ``index_add``. The
baseline is the loop many zero-shot scripts run: each prompt tokenized and embedded alone
over the full context, then averaged per class; the batched full-context pass is timed too,
to show what batching and trimming each give. All use the same ViT-B-32 text tower of open_clip
with random weights (timing only: ``open_clip.create_model("ViT-B-32")`` without pretrained
weights; every prompt is padded to the 77-token context, so the names' words do not change the
cost). Both are measured on a subset (``--classes`` × 80 prompts batched, ``--loop-prompts``
prompts one at a time) and extrapolated linearly to the 21,842 ImageNet-21K classes × 80
templates; the extrapolated rows say EXTRAPOLATED. Figures are printed and appended to
``results.csv`` beside this script.

    .venv/bin/python benchmarks/perf/clip_text_classifiers.py [--quick] [--classes 8] [--device auto]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import torch
from results_file import machine, record, today

from kgzsl.language.prompts import IMAGENET_TEMPLATES, TextTower, encode_grid, name_prompts
from kgzsl.utils import resolve_device

IMAGENET21K_CLASSES = 21842


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def one_at_a_time(tower: TextTower, prompts: list[str]) -> torch.Tensor:
    """The baseline: each prompt tokenized and embedded alone."""
    out = []
    with torch.inference_mode():
        for prompt in prompts:
            tokens = tower.tokenizer([prompt]).to(tower.device)
            out.append(tower.model.encode_text(tokens, normalize=True).float())
    return torch.cat(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=8, help="classes built batched (× 80 templates)")
    parser.add_argument("--loop-prompts", type=int, default=80, help="prompts embedded one at a time")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--arch", default="ViT-B-32")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true", help="2 classes, 16 looped prompts; nothing recorded")
    args = parser.parse_args()
    if args.quick:
        args.classes, args.loop_prompts = 2, 16

    device = resolve_device(args.device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights are the point here: timing only
        tower = TextTower(args.arch, None, device)
    names = [f"imagenet class {i}" for i in range(args.classes)]
    grid = name_prompts(names, "imagenet")
    prompts = grid.strings()
    n_templates = len(IMAGENET_TEMPLATES)

    encode_grid(name_prompts(names[:1], ["{}"]), tower, args.batch_size)  # warm-up (allocations, kernels)
    _sync(device)
    t = time.perf_counter()
    batched = encode_grid(grid, tower, args.batch_size)
    _sync(device)
    batched_s = time.perf_counter() - t

    t = time.perf_counter()
    tower.encode(prompts, args.batch_size, trim=False)
    _sync(device)
    full_s = time.perf_counter() - t

    looped = prompts[: args.loop_prompts]
    t = time.perf_counter()
    single = one_at_a_time(tower, looped)
    _sync(device)
    loop_s = time.perf_counter() - t
    # the same embeddings either way (up to the float rounding of other matmul shapes)
    diff = (tower.encode(looped, args.batch_size) - single).abs().max().item()
    assert batched.shape == (n_templates, args.classes, single.shape[1])

    n = len(prompts)
    per_prompt_batched = batched_s / n
    per_prompt_loop = loop_s / len(looped)
    loop_at_n = per_prompt_loop * n
    total = IMAGENET21K_CLASSES * n_templates
    threads = torch.get_num_threads()
    print(f"{args.arch} text tower (random weights) on {device}, {threads} torch thread(s)")
    print(
        f"batched, trimmed ({args.batch_size}/pass): {n} prompts ({args.classes} × {n_templates}) in {batched_s:.2f} s"
    )
    print(f"batched, full 77-token context:   {n} prompts in {full_s:.2f} s")
    print(f"one at a time:  {len(looped)} prompts in {loop_s:.2f} s ({1000 * per_prompt_loop:.1f} ms/prompt)")
    print(f"speed-up: {per_prompt_loop / per_prompt_batched:.2f}x; max |batched - single| = {diff:.2e}")
    print(
        f"EXTRAPOLATED to {IMAGENET21K_CLASSES:,} classes × {n_templates} = {total:,} prompts: "
        f"batched {per_prompt_batched * total / 3600:.2f} h, one at a time {per_prompt_loop * total / 3600:.2f} h"
    )
    if args.quick:
        return
    load = os.getloadavg()[0]
    where = f"{machine()}, {device}"
    common = f"{args.arch} text tower random weights; batch {args.batch_size}; threads={threads}; load avg {load:.1f}"
    record(
        [
            [
                today(),
                where,
                "clip_text_classifiers",
                n,
                args.classes,
                f"{batched_s:.3f}",
                f"{loop_at_n:.3f}",
                f"{per_prompt_loop / per_prompt_batched:.2f}",
                f"kgzsl = encode_grid batched + trimmed to the batch's longest prompt; baseline = one prompt at a "
                f"time (full context), {len(looped)} prompts measured and scaled to {n}; ratio baseline/kgzsl; "
                f"batched full context {full_s:.3f} s; max |diff| {diff:.1e}; {common}",
            ],
            [
                today(),
                where,
                "clip_text_classifiers",
                total,
                IMAGENET21K_CLASSES,
                f"{per_prompt_batched * total:.0f}",
                f"{per_prompt_loop * total:.0f}",
                f"{per_prompt_loop / per_prompt_batched:.2f}",
                f"EXTRAPOLATED linearly from {n} batched and {len(looped)} looped prompts (not measured); {common}",
            ],
        ]
    )


if __name__ == "__main__":
    main()
