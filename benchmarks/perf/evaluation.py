"""Speed of kgzsl.evaluation's exact seen-unseen curve against a γ-grid baseline.

The baseline is what many ZSL codes do: recompute GZSL seen/unseen accuracy for each γ of a
grid (here 200 values) to draw the curve and pick γ. kgzsl computes the exact curve (every
breakpoint) with one sort and cumulative sums. Both run in the same process on the same
random scores; the script prints the figures and appends them to ``results.csv`` beside it.

    .venv/bin/python benchmarks/perf/evaluation.py [--classes 1000] [--images 20000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from results_file import machine, record, today

from kgzsl.evaluation import gzsl_accuracy, seen_unseen_curve


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--images", type=int, default=20000, help="test images per group (seen and unseen)")
    parser.add_argument("--grid", type=int, default=200)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    n_seen = args.classes // 2
    seen, unseen = np.arange(n_seen), np.arange(n_seen, args.classes)
    y_s = rng.choice(seen, args.images)
    y_u = rng.choice(unseen, args.images)
    s_s = rng.normal(size=(args.images, args.classes)).astype(np.float32)
    s_u = rng.normal(size=(args.images, args.classes)).astype(np.float32)
    s_s[np.arange(args.images), y_s] += 2.0
    s_u[np.arange(args.images), y_u] += 1.0
    gammas = np.linspace(-3, 3, args.grid)

    exact = best_of(lambda: seen_unseen_curve(s_s, y_s, s_u, y_u, seen, unseen))
    grid = best_of(lambda: [gzsl_accuracy(s_s, y_s, s_u, y_u, seen, unseen, gamma=g) for g in gammas], repeat=1)
    n_points = len(seen_unseen_curve(s_s, y_s, s_u, y_u, seen, unseen)["gamma"])
    print(f"scores: 2 × {args.images} images × {args.classes} classes")
    print(f"exact curve ({n_points} points):      {exact:8.3f} s")
    print(f"γ grid baseline ({args.grid} points):  {grid:8.3f} s")
    print(f"ratio baseline / exact:         {grid / exact:8.1f}x")

    record(
        [
            [
                today(),
                machine(),
                "evaluation.seen_unseen_curve",
                2 * args.images,
                args.classes,
                f"{exact:.3f}",
                f"{grid:.3f}",
                f"{grid / exact:.1f}",
                f"exact curve ({n_points} pts) vs {args.grid}-point gamma grid",
            ]
        ]
    )


if __name__ == "__main__":
    main()
