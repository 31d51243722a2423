"""Can the classical baselines tell two classes apart? ACC on the rows of one class pair.

``python -m benchmarks.pairs --dataset mnist5k --pairs 4-9,3-5,7-9`` keeps, for each pair, the
rows of its two classes and clusters them into two with every baseline of
:mod:`kingdra.baselines` (K-means, Ward, spectral on a 10-NN graph, UMAP + GMM), printing each
one's ACC on the pair (0.5 is chance for a balanced pair). Where they all stay near chance, the
two classes are not the dominant structure of the raw features, and a clustering that merges
them or splits their union the wrong way is what is left to beat (the confusion matrix of a
run: ``python -m benchmarks.learning_curve``). Writes
``benchmarks/results/pairs-<dataset>.json``.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.table2 import command_line, commit, load_xy, write_report
from kingdra.baselines import BASELINES, run_baselines


def parse_pairs(text: str) -> list[tuple[int, int]]:
    """``"4-9,3-5"`` -> ``[(4, 9), (3, 5)]``."""
    pairs = []
    for item in text.split(","):
        a, sep, b = item.strip().partition("-")
        if not sep or not a.isdigit() or not b.isdigit() or a == b:
            raise ValueError(f"--pairs takes class pairs like 4-9,3-5; got {item!r}")
        pairs.append((int(a), int(b)))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist5k")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--pairs", default="4-9,3-5,7-9")
    parser.add_argument("--baselines", default=",".join(BASELINES), help="which, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    which = tuple(name.strip() for name in args.baselines.split(",") if name.strip())
    unknown = sorted(set(which) - set(BASELINES))
    if unknown or not which:
        parser.error(f"--baselines takes some of {', '.join(BASELINES)}; got {args.baselines!r}")
    try:
        pairs = parse_pairs(args.pairs)
    except ValueError as err:
        parser.error(str(err))
    X, y = load_xy(args.dataset, args.data_dir)
    missing = sorted({c for pair in pairs for c in pair} - set(np.unique(y).tolist()))
    if missing:
        parser.error(f"{args.dataset} has no rows of class {', '.join(map(str, missing))}")
    results = []
    for a, b in pairs:
        rows = np.flatnonzero((y == a) | (y == b))
        scores = run_baselines(X[rows], 2, y=y[rows], which=which, random_state=args.seed)
        acc = {s["name"]: s.get("acc") for s in scores}
        results.append({"pair": [a, b], "n": int(len(rows)), "acc": acc})
        text = ", ".join(f"{name} {v:.3f}" for name, v in acc.items() if v is not None)
        print(f"{a} vs {b} ({len(rows)} rows): {text}", flush=True)
    report = {
        "dataset": args.dataset,
        "seed": args.seed,
        "commit": commit(),
        "command": command_line("benchmarks.pairs", argv),
        "pairs": results,
    }
    write_report(report, args.out, f"pairs-{args.dataset}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
