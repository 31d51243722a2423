"""A long-tailed subset of a labelled data set, for measuring clustering on unequal classes.

``python -m benchmarks.longtail --dataset mnist --data-dir ../shared/data --ratio 10
--largest 2000 --out mnist-lt10.npz`` keeps ``largest`` rows of class 0 and
``largest * ratio ** (-c / (k - 1))`` of class ``c`` (rounded; the smallest class has
``largest / ratio``), drawn without replacement by ``--seed``, and writes ``X`` and ``y`` to
an ``.npz`` that ``kingdra fit --dataset`` and ``benchmarks.table2 --dataset`` read. The
imbalance ratio is the one of the long-tailed benchmarks (CIFAR-10-LT and the like); it
prints the class sizes and their normalised entropy, the measure of :mod:`kingdra.pilot`.
"""

from __future__ import annotations

import argparse
import logging

import numpy as np

from benchmarks.table2 import load_xy
from kingdra.pilot import equal_sizes


def class_sizes(k: int, largest: int, ratio: float) -> np.ndarray:
    """Rows per class: ``largest`` for class 0 down to ``largest / ratio`` for class k - 1.

    >>> class_sizes(3, 400, 4).tolist()
    [400, 200, 100]
    """
    if k < 2 or largest < 1 or ratio < 1:
        raise ValueError(f"need k >= 2, largest >= 1 and ratio >= 1 (got {k}, {largest}, {ratio})")
    return np.round(largest * ratio ** (-np.arange(k) / (k - 1))).astype(int)


def longtail(
    X: np.ndarray, y: np.ndarray, largest: int, ratio: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``X``, ``y`` kept by :func:`class_sizes`, in their original order."""
    classes = np.unique(y)
    sizes = class_sizes(len(classes), largest, ratio)
    rng = np.random.default_rng(seed)
    keep = []
    for c, size in zip(classes, sizes, strict=True):
        rows = np.flatnonzero(y == c)
        if size > len(rows):
            raise ValueError(f"class {c} has {len(rows)} rows, fewer than the {size} asked")
        keep.append(rng.choice(rows, size, replace=False))
    keep = np.sort(np.concatenate(keep))
    return X[keep], y[keep]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist", help="a labelled built-in name or file")
    parser.add_argument("--data-dir", default=None, help="folder of the data (mnist)")
    parser.add_argument("--ratio", type=float, default=10.0, help="largest / smallest class")
    parser.add_argument("--largest", type=int, default=2000, help="rows of the largest class")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="the .npz to write")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    X, y = load_xy(args.dataset, args.data_dir)
    X, y = longtail(X, y, args.largest, args.ratio, args.seed)
    np.savez_compressed(args.out, X=X, y=y)
    _, codes, sizes = np.unique(y, return_inverse=True, return_counts=True)  # any label values
    print(
        f"{args.out}: {len(y):,} rows x {X.shape[1]}, class sizes {sizes.tolist()}, "
        f"normalised entropy {equal_sizes(codes[None, :], len(sizes)):.3f}"
    )


if __name__ == "__main__":
    main()
