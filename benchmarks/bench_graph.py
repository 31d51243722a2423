"""Benchmark: Algorithm 1 (kingdra.graph) against the numpy degree methods and a per-node loop.

Run ``python -m benchmarks.bench_graph`` (add ``--quick`` for the first row only, and
``--no-baseline`` to skip the numpy baseline, which takes about 20 s per case at t_pos <= 4).

Each case runs in fresh subprocesses so its time and peak memory are its own. ``first`` is the
first call in the process: with numba it includes importing numba and loading the compiled
kernels from numba's on-disk cache (about 0.3-0.5 s; the very first run after an install or an
edit of kingdra/graph.py also compiles them, several seconds). ``warm`` is the best of two
more calls in the same process: what a threshold slider in the app costs. The baseline is the
same code without numba (its subprocess cannot import numba, as where it is not installed):
the numpy "masks" / "matmul" methods, which were the whole implementation before the compiled
walk; its ratio is baseline warm / kingdra warm. ``ru_maxrss`` is the peak resident set of the whole process
(Python + numpy + the label matrix + the calls; kingdra.graph does not import torch);
``alloc`` is tracemalloc's peak during one more call, which sees numpy's buffers but not
numba's (those show in the peak RSS only).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np

from kingdra.graph import get_clusters

CASES = {
    # name: (n, m, agreement with the truth, k, t_pos, t_neg)
    "70k 90% t=10/10": (70_000, 10, 0.9, 10, 10, 10),
    "70k 70% t=10/10": (70_000, 10, 0.7, 10, 10, 10),
    "70k 90% t=8/10": (70_000, 10, 0.9, 10, 8, 10),
    "70k 70% t=9/10": (70_000, 10, 0.7, 10, 9, 10),
    "70k 70% t=8/10": (70_000, 10, 0.7, 10, 8, 10),
    "70k 90% t=5/5": (70_000, 10, 0.9, 10, 5, 5),
    # the middle thresholds on noisy members (30 % random votes, 52,666 distinct signatures)
    "70k 70% t=7/7": (70_000, 10, 0.7, 10, 7, 7),
    "70k 70% t=6/6": (70_000, 10, 0.7, 10, 6, 6),
    "70k 70% t=5/5": (70_000, 10, 0.7, 10, 5, 5),
    "70k 70% t=4/4": (70_000, 10, 0.7, 10, 4, 4),
    "70k 70% t=3/3": (70_000, 10, 0.7, 10, 3, 3),
    "70k 70% t=1/1": (70_000, 10, 0.7, 10, 1, 1),
    "70k 70% t=6/10": (70_000, 10, 0.7, 10, 6, 10),
    "70k 70% t=5/10": (70_000, 10, 0.7, 10, 5, 10),
    "70k 70% t=3/10": (70_000, 10, 0.7, 10, 3, 10),
    "70k 70% t=6/2": (70_000, 10, 0.7, 10, 6, 2),
}
QUICK = ["70k 90% t=10/10"]


def make_labels(n: int, m: int, agreement: float, seed: int = 0, n_classes: int = 10):
    """m members that each agree with a hidden truth on `agreement` of the points.

    Each member sees the truth through its own label permutation; elsewhere its label is
    drawn uniformly (so a flip keeps the true label 1/n_classes of the time).
    """
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n)
    labels = np.empty((n, m), dtype=np.int64)
    for j in range(m):
        col = rng.permutation(n_classes)[truth]
        flip = rng.random(n) >= agreement
        col[flip] = rng.integers(0, n_classes, int(flip.sum()))
        labels[:, j] = col
    return labels, truth


def naive_get_clusters(labels, k, t_pos, t_neg):
    """Algorithm 1 as a per-node loop: every remaining node compared with all remaining nodes."""
    n, m = labels.shape
    in_graph = np.ones(n, dtype=bool)
    clusters = []
    for _ in range(k):
        nodes = np.flatnonzero(in_graph)
        if len(nodes) == 0:
            break
        sub = labels[nodes]
        best, best_degree = -1, -1
        for i in nodes:
            degree = int(((sub == labels[i]).sum(axis=1) >= t_pos).sum()) - 1
            if degree > best_degree:
                best, best_degree = i, degree
        agreement = (sub == labels[best]).sum(axis=1)
        members = nodes[agreement >= t_pos]
        clusters.append(np.concatenate([[best], members[members != best]]))
        in_graph[nodes[m - agreement < t_neg]] = False
    return clusters


def run_case(name: str, baseline: bool = False) -> dict:
    n, m, agreement, k, t_pos, t_neg = CASES[name]
    if baseline:  # as without numba: kingdra.graph falls back to its numpy degree methods
        sys.modules["numba"] = None  # makes `import numba` raise ImportError
    warnings.simplefilter("ignore", UserWarning)  # fewer than k mini-clusters is expected
    logging.getLogger("kingdra.graph").setLevel(logging.ERROR)
    labels, _ = make_labels(n, m, agreement)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    result = get_clusters(labels, k, t_pos, t_neg)
    first = time.perf_counter() - start
    warm = []
    for _ in range(1 if baseline else 2):
        start = time.perf_counter()
        again = get_clusters(labels, k, t_pos, t_neg)
        warm.append(time.perf_counter() - start)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    get_clusters(labels, k, t_pos, t_neg)
    alloc = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    sizes = [len(c) for c in result.clusters]
    return {
        "case": name,
        "method": result.method,
        "first": first,
        "warm": min(warm),
        "rss_mb": rss_after,
        "import_rss_mb": rss_before,
        "alloc_mb": alloc,
        "clusters": len(sizes),
        "sizes": f"{min(sizes)}..{max(sizes)}" if sizes else "-",
        # a fingerprint of the result, to check that both methods agree
        "digest": int(sum(int(c.sum()) * (i + 1) for i, c in enumerate(again.clusters)))
        + int(result.initial_degree.sum()),
    }


def case_in_subprocess(name: str, baseline: bool) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_graph", "--case", name]
    out = subprocess.run(
        cmd + (["--baseline-case"] if baseline else []), capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def side_by_side(n: int = 10_000) -> dict:
    labels, _ = make_labels(n, 10, 0.9, seed=1)
    start = time.perf_counter()
    fast = get_clusters(labels, 10, 10, 10).clusters
    fast_s = time.perf_counter() - start
    start = time.perf_counter()
    slow = naive_get_clusters(labels, 10, 10, 10)
    naive_s = time.perf_counter() - start
    same = len(fast) == len(slow) and all(
        np.array_equal(a, b) for a, b in zip(fast, slow, strict=True)
    )
    return {"n": n, "kingdra_s": fast_s, "naive_s": naive_s, "same": same}


def app_sized(n: int = 5_000) -> list[dict]:
    """What the app recomputes on a threshold change: one run per setting, and a full sweep."""
    from kingdra.pseudo import threshold_sweep  # imports scikit-learn: keep it out of --case

    warnings.simplefilter("ignore", UserWarning)  # fewer than k mini-clusters is expected here
    logging.getLogger("kingdra.graph").setLevel(logging.ERROR)
    get_clusters(make_labels(100, 10, 0.9)[0], 2, 5, 5)  # numba's import and kernel load
    rows = []
    for agreement in (0.9, 0.7):
        labels, truth = make_labels(n, 10, agreement, seed=2)
        worst, worst_t = 0.0, None
        for t in range(1, 11):
            for t_neg in (t, 10):
                start = time.perf_counter()
                get_clusters(labels, 10, t, t_neg)
                seconds = time.perf_counter() - start
                if seconds > worst:
                    worst, worst_t = seconds, (t, t_neg)
        start = time.perf_counter()
        threshold_sweep(labels, 10, range(1, 11), range(1, 11), y_true=truth)
        sweep = time.perf_counter() - start
        rows.append(
            {"agreement": agreement, "worst_s": worst, "worst_t": worst_t, "sweep_s": sweep}
        )
    return rows


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    import os

    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--baseline-case", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="only the first case")
    parser.add_argument("--no-baseline", action="store_true", help="skip the numpy baseline")
    parser.add_argument("--naive-n", type=int, default=10_000, help="n for the side-by-side")
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(args.case, args.baseline_case)))
        return
    print(f"machine: {machine()}, load average {open('/proc/loadavg').read().split()[0]}")
    print(
        f"{'case':<16} {'method':>7} {'first s':>8} {'warm s':>7} {'baseline s':>10} "
        f"{'ratio':>6} {'same':>5} {'RSS MB':>7} {'import MB':>9} {'alloc MB':>8}  clusters"
    )
    worst = 0.0
    for name in QUICK if args.quick else CASES:
        row = case_in_subprocess(name, False)
        worst = max(worst, row["warm"])
        base = None if args.no_baseline else case_in_subprocess(name, True)
        base_s = f"{base['warm']:>10.3f}" if base else f"{'-':>10}"
        ratio = f"{base['warm'] / row['warm']:>5.1f}x" if base else f"{'-':>6}"
        same = f"{str(base['digest'] == row['digest']):>5}" if base else f"{'-':>5}"
        print(
            f"{row['case']:<16} {row['method']:>7} {row['first']:>8.3f} {row['warm']:>7.3f} "
            f"{base_s} {ratio} {same} {row['rss_mb']:>7.0f} {row['import_rss_mb']:>9.0f} "
            f"{row['alloc_mb']:>8.1f}  {row['clusters']} of sizes {row['sizes']}"
        )
    print(f"slowest warm call: {worst:.3f} s")
    print("\napp-sized, n = 5,000, m = 10, k = 10 (in this process):")
    for row in app_sized():
        print(
            f"  {row['agreement']:.0%} agreement: slowest get_clusters over t_pos = 1..10 "
            f"(t_neg = t_pos or 10) {row['worst_s']:.3f} s at t = {row['worst_t'][0]}/"
            f"{row['worst_t'][1]}; 10 x 10 threshold_sweep with precision {row['sweep_s']:.2f} s"
        )
    row = side_by_side(args.naive_n)
    print(
        f"\nside by side, n = {row['n']}, m = 10, 90% agreement, t = 10/10, k = 10: "
        f"kingdra {row['kingdra_s']:.3f} s, per-node loop {row['naive_s']:.1f} s, "
        f"ratio {row['naive_s'] / row['kingdra_s']:.0f}x, same clusters: {row['same']}"
    )


if __name__ == "__main__":
    main()
