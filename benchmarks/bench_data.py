"""Benchmark: kingdra.data loaders against bare reads of the same files, in the same run.

Run ``python -m benchmarks.bench_data``. Cases:

- ``mnist``: ``load("mnist", data_dir="../shared/data")`` (gunzip, sha256 of every file, IDX
  header checks, Dataset validation) against ``gzip`` + ``np.frombuffer`` with no checks.
  Skipped when ../shared/data/mnist is absent.
- ``csv``: ``load(path)`` of a 20,000 x 50 numeric CSV (ragged-row check with the csv module,
  then pandas) against ``pandas.read_csv`` alone.

Prints the median of `--repeat` runs (after one warm-up) and the ratio kingdra / baseline.
"""

from __future__ import annotations

import argparse
import gzip
import platform
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._timing import median_seconds
from kingdra.data import load

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def bare_mnist(folder: Path) -> np.ndarray:
    arrays = []
    for name in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"):
        with gzip.open(folder / f"{name}.gz", "rb") as f:
            data = f.read()
        arrays.append(np.frombuffer(data, np.uint8, offset=16).reshape(-1, 784))
    for name in ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(folder / f"{name}.gz", "rb") as f:
            f.read()
    return np.concatenate(arrays).astype(np.float32) / 255


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    print(f"{'case':<8} {'kingdra s':>10} {'baseline s':>11} {'ratio':>7}")
    if (SHARED / "mnist").is_dir():
        ours = median_seconds(
            lambda: load("mnist", data_dir=SHARED, download=False), args.repeat, warmup=True
        )
        base = median_seconds(lambda: bare_mnist(SHARED / "mnist"), args.repeat, warmup=True)
        print(f"{'mnist':<8} {ours:>10.2f} {base:>11.2f} {ours / base:>7.2f}")
    else:
        print("mnist    skipped: ../shared/data/mnist is absent")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.csv"
        rng = np.random.default_rng(0)
        pd.DataFrame(rng.normal(size=(20_000, 50)), columns=[f"f{i}" for i in range(50)]).to_csv(
            path, index=False
        )
        ours = median_seconds(lambda: load(path), args.repeat, warmup=True)
        base = median_seconds(
            lambda: pd.read_csv(path).to_numpy(np.float32), args.repeat, warmup=True
        )
        print(f"{'csv':<8} {ours:>10.2f} {base:>11.2f} {ours / base:>7.2f}")


if __name__ == "__main__":
    main()
