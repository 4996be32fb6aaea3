"""Speed and peak memory of kgzsl's feature loaders against plain scipy / numpy reads of the same files.

An AWA2-sized feature matrix (37,322 images × 2,048 float32, 292 MiB) is written to a temporary
folder twice: as xlsa17's ``res101.mat`` (MATLAB v5, ``features`` 2048 × N, ``labels`` N × 1,
beside an ``att_splits.mat`` of the real schema and split sizes) and as ``.npy`` with labels and
class lists. Each case then runs in a fresh subprocess, so its peak memory (the peak resident
size, ``VmHWM``, less the resident size before loading) is its own:

- ``xlsa17_v5``: kgzsl's loader (both files read, indices converted, every check, the ``ZSLDataset``)
  against ``scipy.io.loadmat`` of both files and ``features.T``, what the reference codes do, on a
  file written uncompressed by ``scipy.io.savemat`` (kgzsl maps its features);
- ``xlsa17_v7z``: the same on a compressed file, as MATLAB's default ``save`` writes (read whole);
- ``arrays`` with ``mmap=True``: kgzsl maps the ``.npy`` copy-on-write, against ``numpy.load``;
- ``arrays`` with ``mmap=False``: read whole, against ``numpy.load``.

Files are read from the OS cache (just written): the figures are CPU and memory-copy costs, not
disk speed. Goal (issue "Benchmark data"): peak memory within 2x the feature matrix.

    .venv/bin/python benchmarks/perf/data_loading.py [--images 37322] [--dim 2048] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from results_file import machine, record, reset_peak, status_bytes, today


def write_inputs(folder: Path, n: int, d: int, seed: int = 0) -> int:
    """The same features as ``AWA2/res101.mat`` (+ ``att_splits.mat``) and as ``.npy``; returns bytes of the matrix."""
    from kgzsl.data.dataset import write_mat

    rng = np.random.default_rng(seed)
    n_seen, n_unseen = 40, 10
    labels = rng.integers(0, n_seen + n_unseen, n)
    labels[: n_seen + n_unseen] = np.arange(n_seen + n_unseen)  # every class has images
    # post-ReLU-like: half zeros, as ResNet features are (it matters to the compressed case)
    features = np.maximum(rng.standard_normal((n, d), dtype=np.float32), 0.0)
    images = np.arange(n)
    seen_images = rng.permutation(images[labels < n_seen])
    n_test = len(seen_images) // 5
    # test_seen takes no class's last image, so every seen class keeps trainval images
    test_seen = np.setdiff1d(seen_images[:n_test], images[: n_seen + n_unseen])
    names = [f"class{i:02d}" for i in range(n_seen + n_unseen)]
    loc = np.uint16 if n < 2**16 else np.uint32  # MATLAB saves small index vectors as uint16
    awa = folder / "AWA2"
    awa.mkdir()
    write_mat(awa / "res101.mat", {"features": features.T, "labels": labels + 1.0}, version="5")
    write_mat(
        awa / "att_splits.mat",
        {
            "att": rng.random((85, n_seen + n_unseen)),
            "allclasses_names": names,
            "trainval_loc": (np.setdiff1d(seen_images, test_seen) + 1).astype(loc),
            "test_seen_loc": (test_seen + 1).astype(loc),
            "test_unseen_loc": (images[labels >= n_seen] + 1).astype(loc),
        },
        version="5",
    )
    # the same as MATLAB's own (compressed, v7) save writes it
    awa_z = folder / "compressed" / "AWA2"
    awa_z.mkdir(parents=True)
    (awa_z / "att_splits.mat").symlink_to(awa / "att_splits.mat")
    write_mat(awa_z / "res101.mat", {"features": features.T, "labels": labels + 1.0}, version="5", compress=True)
    np.save(folder / "features.npy", features)
    np.save(folder / "labels.npy", labels)
    (folder / "classes.txt").write_text("\n".join(names))
    (folder / "seen.txt").write_text("\n".join(names[:n_seen]))
    (folder / "unseen.txt").write_text("\n".join(names[n_seen:]))
    return features.nbytes


def run_case(case: str, folder: Path) -> dict[str, Any]:
    """Load once in this process; return seconds, peak memory above the pre-load resident size, shape."""
    import scipy.io

    from kgzsl.data.arrays import ArrayDataset
    from kgzsl.data.xlsa17 import XLSA17

    arrays = {
        k: str(folder / f)
        for k, f in [
            ("features", "features.npy"),
            ("labels", "labels.npy"),
            ("classes", "classes.txt"),
            ("seen", "seen.txt"),
            ("unseen", "unseen.txt"),
        ]
    }
    cases = {
        "xlsa17": lambda: XLSA17(benchmark="AWA2", root=str(folder), val_split=0).load().features,
        "loadmat": lambda: (
            scipy.io.loadmat(folder / "AWA2" / "att_splits.mat"),
            scipy.io.loadmat(folder / "AWA2" / "res101.mat")["features"].T,
        )[1],
        "xlsa17_z": lambda: XLSA17(benchmark="AWA2", root=str(folder / "compressed"), val_split=0).load().features,
        "loadmat_z": lambda: (
            scipy.io.loadmat(folder / "compressed" / "AWA2" / "att_splits.mat"),
            scipy.io.loadmat(folder / "compressed" / "AWA2" / "res101.mat")["features"].T,
        )[1],
        "arrays_mmap": lambda: ArrayDataset(**arrays, mmap=True).load().features,
        "arrays_copy": lambda: ArrayDataset(**arrays, mmap=False).load().features,
        "np_load": lambda: (np.load(folder / "labels.npy"), np.load(folder / "features.npy"))[1],
    }
    # the peak of this process's own memory (VmHWM), not ru_maxrss: on Linux a child's ru_maxrss
    # also carries the parent's resident size at fork time across exec
    reset_peak()
    before = status_bytes("VmRSS")
    t = time.perf_counter()
    x = cases[case]()
    seconds = time.perf_counter() - t
    peak = status_bytes("VmHWM")
    return {"seconds": seconds, "peak_bytes": peak - before, "shape": list(x.shape), "sum": float(x[:100].sum())}


def measure(case: str, folder: Path, repeat: int) -> dict[str, Any]:
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, __file__, "--case", case, "--folder", str(folder)],
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda r: r["seconds"])
    best["peak_bytes"] = max(r["peak_bytes"] for r in runs)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=37_322)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per case (best time, worst peak)")
    parser.add_argument("--no-record", action="store_true", help="print only; do not append to results.csv")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: one measurement in this process
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, Path(args.folder))))
        return

    date = today()
    host = machine()
    comparisons = [
        ("xlsa17_v5", "xlsa17", "loadmat", "res101.mat v5 uncompressed (mapped); baseline: scipy.io.loadmat + .T"),
        (
            "xlsa17_v7z",
            "xlsa17_z",
            "loadmat_z",
            "res101.mat compressed (MATLAB's save); baseline: scipy.io.loadmat + .T",
        ),
        ("npy_mmap", "arrays_mmap", "np_load", "arrays loader, mmap=True (copy-on-write); baseline: numpy.load"),
        ("npy_copy", "arrays_copy", "np_load", "arrays loader, mmap=False; baseline: numpy.load"),
    ]
    rows: list[list[Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        nbytes = write_inputs(folder, args.images, args.dim)
        cases = ("xlsa17", "loadmat", "xlsa17_z", "loadmat_z", "arrays_mmap", "arrays_copy", "np_load")
        results = {c: measure(c, folder, args.repeat) for c in cases}
    mb = nbytes / 2**20
    print(f"{args.images:,} images × {args.dim} float32 = {mb:.0f} MiB; best of {args.repeat} fresh processes")
    print(f"{'case':<10} {'kgzsl':>8} {'baseline':>9} {'speed':>6} {'kgzsl peak':>17} {'baseline peak':>17}")
    failures = []
    for name, ours, base, note in comparisons:
        a, b = results[ours], results[base]
        assert a["shape"] == b["shape"] == [args.images, args.dim] and np.isclose(a["sum"], b["sum"]), (a, b)
        ratio = b["seconds"] / a["seconds"]
        pa, pb = a["peak_bytes"] / nbytes, b["peak_bytes"] / nbytes
        print(
            f"{name:<10} {a['seconds']:>7.3f}s {b['seconds']:>8.3f}s {ratio:>5.2f}x "
            f"{a['peak_bytes'] / 2**20:>7.0f} MiB ({pa:.2f}x) {b['peak_bytes'] / 2**20:>7.0f} MiB ({pb:.2f}x)"
        )
        if pa > 2.0:
            failures.append(f"{name}: peak {pa:.2f}x the feature matrix")
        rows.append(
            [
                date,
                host,
                f"data_loading.{name}",
                args.images,
                args.dim,
                f"{a['seconds']:.3f}",
                f"{b['seconds']:.3f}",
                f"{ratio:.2f}",
                f"{note}; peak {pa:.2f}x features ({mb:.0f} MiB), baseline {pb:.2f}x",
            ]
        )
    if not args.no_record:
        record(rows)
    if failures:
        raise SystemExit("over the 2x memory goal: " + "; ".join(failures))


if __name__ == "__main__":
    main()
