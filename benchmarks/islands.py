"""Where a run's largest mistakes sit in the input space: islands, and what lies beside them.

``python -m kingdra fit --dataset digits --seed 1 --out runs/d`` then ``python -m
benchmarks.islands --dataset digits --labels runs/d/labels.csv`` takes every cell of the
run's confusion matrix (true class ``a`` in the cluster matched to class ``b``, Hungarian)
holding at least ``--min-rows`` rows, and prints for those rows:

- *inside*: the share of their 10 nearest neighbours (Euclidean, raw features) that are rows of
  the same cell. Near 1, the mistake is an island: rows that resemble each other and were
  moved as one piece.
- for each ``k`` of ``--k``: the true classes of their ``k`` nearest neighbours that are *not*
  in the cell. When ``b`` outnumbers ``a`` there, the island's nearest other rows are of the
  class it was put with, so a clustering of these features that follows neighbourhoods puts it
  there too: no re-assignment by input-space neighbours can fix it.

``--scale`` measures the neighbourhoods on rescaled features instead: ``standard`` (each
feature to mean 0, std 1), ``unit`` (each row to length 1) or ``sqrt`` (square roots of
non-negative features). Writes ``benchmarks/results/islands-<dataset>.json``.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from sklearn.neighbors import NearestNeighbors

from benchmarks.table2 import command_line, commit, load_xy, write_report
from kingdra.metrics import best_mapping


def read_labels(path: Path, n: int) -> np.ndarray:
    """The ``label`` column of a ``labels.csv`` written by ``kingdra fit`` (rows in order)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "label" not in rows[0] or "index" not in rows[0]:
        raise ValueError(f"{path} has no index,label columns: give the labels.csv of kingdra fit")
    labels = np.full(n, -1, dtype=np.int64)
    for number, row in enumerate(rows, start=2):
        try:
            index, label = int(row["index"]), int(row["label"])
        except (TypeError, ValueError):
            raise ValueError(f"{path} line {number}: index and label must be integers") from None
        if not 0 <= index < n:
            raise ValueError(f"{path}: index {index} is outside the data set's {n} rows")
        labels[index] = label
    if (labels < 0).any():
        raise ValueError(f"{path} labels {int((labels >= 0).sum())} of the data set's {n} rows")
    return labels


#: --scale -> the features the neighbourhoods are measured on.
SCALES = {
    "raw": lambda X: X,
    "standard": lambda X: (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0),
    "unit": lambda X: X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12),
    "sqrt": lambda X: np.sqrt(np.clip(X, 0, None)),
}


def cells(y: np.ndarray, labels: np.ndarray, min_rows: int) -> list[tuple[int, int, np.ndarray]]:
    """(true class, class its cluster is matched to, rows), largest first."""
    mapping = best_mapping(y, labels)
    matched = np.array([mapping.get(label, -1) for label in labels])
    out = []
    for a in np.unique(y):
        for b in np.unique(matched):
            rows = np.flatnonzero((y == a) & (matched == b))
            if a != b and b >= 0 and len(rows) >= min_rows:  # b < 0: a cluster left unmatched
                out.append((int(a), int(b), rows))
    return sorted(out, key=lambda cell: -len(cell[2]))


def describe(rows: np.ndarray, y: np.ndarray, neighbors: np.ndarray, ks: list[int]) -> dict:
    """Inside share at 10 neighbours and outside true classes at every k."""
    inside = np.isin(neighbors[rows, :10], rows).mean()
    outside = {}
    for k in ks:
        near = neighbors[rows, :k].ravel()
        near = near[~np.isin(near, rows)]
        outside[str(k)] = np.bincount(y[near], minlength=int(y.max()) + 1).tolist()
    return {"inside": float(inside), "outside": outside}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--labels", required=True, help="labels.csv of `kingdra fit`")
    parser.add_argument("--min-rows", type=int, default=15)
    parser.add_argument("--k", default="10,20,50", help="neighbour counts, comma-separated")
    parser.add_argument("--scale", choices=sorted(SCALES), default="raw")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    try:
        ks = sorted({int(k) for k in args.k.split(",")})
    except ValueError:
        parser.error(f"--k takes neighbour counts like 10,20,50; got {args.k!r}")
    if ks[0] < 1 or args.min_rows < 1:
        parser.error("--k and --min-rows take positive counts")
    X, y = load_xy(args.dataset, args.data_dir)
    X = SCALES[args.scale](np.asarray(X, dtype=np.float32).reshape(len(X), -1))
    try:
        labels = read_labels(Path(args.labels), len(y))
    except (OSError, ValueError) as err:
        parser.error(str(err))
    n_near = min(max(ks[-1], 10), len(y) - 1)  # 10 for the inside share
    neighbors = NearestNeighbors(n_neighbors=n_near + 1).fit(X).kneighbors(X)[1][:, 1:]
    results = []
    for a, b, rows in cells(y, labels, args.min_rows):
        found = describe(rows, y, neighbors, ks)
        results.append(
            {"true": a, "put_with": b, "rows": int(len(rows)), "index": rows.tolist(), **found}
        )
        print(
            f"{len(rows)} rows of class {a} in the cluster of {b}: {found['inside']:.2f} of "
            "their 10 nearest neighbours are rows of this cell"
        )
        for k, counts in found["outside"].items():
            total = sum(counts)
            share = f"{counts[a]} of class {a}, {counts[b]} of class {b}" if total else "none"
            print(f"  {k} nearest, outside the cell: {total} rows, {share}")
    report = {
        "dataset": args.dataset,
        "labels": str(args.labels),
        "scale": args.scale,
        "commit": commit(),
        "command": command_line("benchmarks.islands", argv),
        "cells": results,
    }
    write_report(report, args.out, f"islands-{args.dataset}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
