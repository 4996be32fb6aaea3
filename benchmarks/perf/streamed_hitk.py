"""Streamed Hit@k (ImageNet-21K protocol) against its floor, the matrix multiplications alone.

Synthetic 2048-d test features are generated chunk by chunk (never held) and scored against
``C`` random class weights: ``chunk @ W.T``. The floor does only that; kgzsl's
:class:`~kgzsl.evaluation.StreamedHitAtK` also keeps the top 20 scores per image and
accumulates Hit@1/2/5/10/20, micro and macro, for the ZSL candidates (the ``C - 1000`` test
classes) and the generalized "+1K" candidates (all ``C``), as ``evaluate_streamed`` does on
ImageNet-21K "all" (C = 21,842). The two are timed chunk by chunk, interleaved (the same
chunk scored by the floor, then by kgzsl), so a loaded machine slows both alike; feature
generation is not timed. Each size runs in a fresh subprocess, so its peak memory (the peak
resident size ``VmHWM`` less the resident size once the weights are made) is its own.

Goals (issue 11): kgzsl within 1.2x of the floor; peak memory at most 2 GB at 10^6 images.
Growth is measured over 3 image counts (at the largest C) and 3 class counts. A full 10^6
images is 10^6 × 2048 × 21842 × 2 ≈ 89 TFLOP per pass (about half an hour per pass on one CPU
core): with ``--images`` below that, the 10^6 figure is extrapolated linearly from the largest size run and recorded
as such (the memory does not grow with images: one chunk is alive at a time).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/perf/streamed_hitk.py [--quick] [--threads 1]
        [--images 4096 8192 16384] [--classes 5461 10921 21842] [--chunk 1024] [--note TEXT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from results_file import machine, record, reset_peak, status_bytes, today

SEEN = 1000  # ImageNet-21K: the 1K ILSVRC 2012 classes; the rest are the test classes


def one(n: int, c: int, d: int, chunk: int, threads: int) -> dict[str, float]:
    """Run one size in this process: interleaved floor / kgzsl timings and the peak memory growth."""
    import torch

    from kgzsl.evaluation import StreamedHitAtK

    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    wt = torch.randn(c, d, generator=gen).T.contiguous()  # [D, C]
    candidates = {"zsl": torch.arange(SEEN, c).numpy(), "gzsl": torch.arange(c).numpy()}
    acc = StreamedHitAtK(c, candidates, ks=(1, 2, 5, 10, 20))
    floor = kgzsl = 0.0
    reset_peak()
    base = status_bytes("VmRSS")
    with torch.no_grad():
        for start in range(0, n, chunk):
            b = min(chunk, n - start)
            x = torch.randn(b, d, generator=gen)
            y = torch.randint(SEEN, c, (b,), generator=gen)
            t = time.perf_counter()
            s = x @ wt
            floor += time.perf_counter() - t
            del s
            t = time.perf_counter()
            acc.update(x @ wt, y)
            kgzsl += time.perf_counter() - t
    result = acc.result()
    assert acc.n == n and 0.0 <= result["gzsl/hit@20_micro"] <= 1.0
    return {
        "floor_s": floor,
        "kgzsl_s": kgzsl,
        "peak_growth_mb": (status_bytes("VmHWM") - base) / 2**20,
        "peak_mb": status_bytes("VmHWM") / 2**20,
        "weights_mb": c * d * 4 / 2**20,
    }


def run(n: int, c: int, d: int, chunk: int, threads: int) -> dict[str, float]:
    """:func:`one` in a fresh subprocess (its own peak memory)."""
    cmd = [sys.executable, __file__, "--one", str(n), str(c), "--dim", str(d), "--chunk", str(chunk)]
    cmd += ["--threads", str(threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, nargs="+", help="image counts (at the largest class count)")
    parser.add_argument("--classes", type=int, nargs="+", help="class counts (at the middle image count)")
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--chunk", type=int, default=1024, help="images per chunk")
    parser.add_argument("--threads", type=int, default=1, help="torch / BLAS threads")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--note", default="", help="appended to every recorded row (e.g. the machine's load)")
    parser.add_argument("--no-record", action="store_true", help="print only, do not append to results.csv")
    parser.add_argument("--one", type=int, nargs=2, metavar=("N", "C"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(*args.one, args.dim, args.chunk, args.threads)))
        return
    images = args.images or ([1024, 2048, 4096] if args.quick else [4096, 8192, 16384])
    classes = args.classes or ([5461, 10921, 21842] if not args.quick else [2731, 5461, 10921])
    big_c, mid_n = max(classes), sorted(images)[len(images) // 2]
    sizes = [(n, big_c) for n in images] + [(mid_n, c) for c in classes if c != big_c]
    load = os.getloadavg()[0]
    print(f"d = {args.dim}, chunk = {args.chunk}, {args.threads} thread(s), load average {load:.1f}")
    print(f"{'images':>8} {'classes':>8} {'floor s':>9} {'kgzsl s':>9} {'ratio':>6} {'peak+ MB':>9} {'peak MB':>8}")
    rows, results = [], {}
    for n, c in sizes:
        r = run(n, c, args.dim, args.chunk, args.threads)
        results[n, c] = r
        ratio = r["kgzsl_s"] / r["floor_s"]
        print(
            f"{n:>8} {c:>8} {r['floor_s']:>9.2f} {r['kgzsl_s']:>9.2f} {ratio:>6.3f} "
            f"{r['peak_growth_mb']:>9.0f} {r['peak_mb']:>8.0f}"
        )
        note = (
            f"kgzsl = matmul + top-20 + Hit@1..20 micro/macro zsl and +1K; baseline = matmul alone; ratio kgzsl/floor; "
            f"d={args.dim} chunk={args.chunk} threads={args.threads}; peak RSS growth {r['peak_growth_mb']:.0f} MB "
            f"(peak {r['peak_mb']:.0f} MB, weights {r['weights_mb']:.0f} MB); load avg {load:.1f}"
        )
        rows.append([today(), machine(), "streamed_hitk", n, c, f"{r['kgzsl_s']:.3f}", f"{r['floor_s']:.3f}"])
        rows[-1] += [f"{ratio:.3f}", note + (f"; {args.note}" if args.note else "")]
    n_big = max(images)
    r = results[n_big, big_c]
    scale = 1_000_000 / n_big
    if n_big < 1_000_000:
        est_k, est_f = r["kgzsl_s"] * scale, r["floor_s"] * scale
        print(
            f"EXTRAPOLATED to 10^6 images x {big_c} classes (linear from {n_big}, not measured): "
            f"floor {est_f:.0f} s, kgzsl {est_k:.0f} s; peak memory stays ~{r['peak_mb']:.0f} MB (one chunk alive)"
        )
        rows.append(
            [today(), machine(), "streamed_hitk", 1_000_000, big_c, f"{est_k:.0f}", f"{est_f:.0f}"]
            + [
                f"{est_k / est_f:.3f}",
                f"EXTRAPOLATED linearly from n={n_big} (not measured); memory does not grow with images"
                + (f"; {args.note}" if args.note else ""),
            ]
        )
    if not args.no_record:
        record(rows)


if __name__ == "__main__":
    main()
