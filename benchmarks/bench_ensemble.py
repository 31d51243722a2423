"""Batched ensemble vs the same members trained one after another: seconds per epoch.

Both sides run the real engine (``KingdraEngine.train_base``) on the same data with the same
configuration; the sequential side is ``n_models`` engines with ``n_models=1`` each, i.e.
``LadderEnsemble`` with m = 1 trained m times. Time per epoch is taken from the engine's
progress callback (training only, not the prediction pass after it); each figure is the
median of ``--repeats`` alternating runs.

    python -m benchmarks.bench_ensemble                      # digits, CPU, 2 threads
    python -m benchmarks.bench_ensemble --hidden 1200,1200 --rows 640 --device cuda
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch
from sklearn.datasets import load_digits

from kingdra.config import KingdraConfig
from kingdra.device import device_description, resolve_device
from kingdra.engine import KingdraEngine


def epoch_seconds(X: np.ndarray, config: KingdraConfig, device: str) -> float:
    """Seconds of one training epoch (after one warm-up epoch) of one engine."""
    engine = KingdraEngine(X, config, device=device)
    engine.trainer.train_epochs(engine.X, 1, "base")  # warm-up: allocations, kernel selection
    seconds: list[float] = []

    def on_progress(p):
        if p.event == "epoch":
            seconds.append(p.elapsed_s)

    if engine.device.type == "cuda":
        torch.cuda.synchronize()
    engine.trainer.train_epochs(engine.X, 1, "base", on_progress)
    if engine.device.type == "cuda":
        torch.cuda.synchronize()
    return seconds[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=10, help="ensemble size m")
    parser.add_argument(
        "--hidden", default="128,128;256,256;1200,1200", help="';'-separated widths"
    )
    parser.add_argument("--rows", type=int, default=640, help="digits rows used (<= 1797)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X, _ = load_digits(return_X_y=True)
    X = (X[: args.rows] / 16.0).astype(np.float32)
    device = str(resolve_device(args.device))
    print(f"device: {device_description(device)}; torch threads {torch.get_num_threads()}")
    print(f"data: digits {X.shape[0]} x {X.shape[1]}, batch 64, m = {args.models}")
    print(f"{'hidden':>12} {'batched s/epoch':>16} {'sequential s/epoch':>19} {'ratio':>6}")
    for spec in args.hidden.split(";"):
        hidden = tuple(int(h) for h in spec.split(","))
        batched_cfg = KingdraConfig(n_clusters=10, n_models=args.models, hidden=hidden, seed=0)
        single_cfg = batched_cfg.replace(n_models=1)
        batched, sequential = [], []
        for r in range(args.repeats):
            batched.append(epoch_seconds(X, batched_cfg, device))
            sequential.append(
                sum(
                    epoch_seconds(X, single_cfg.replace(seed=r * 100 + j), device)
                    for j in range(args.models)
                )
            )
        b, s = statistics.median(batched), statistics.median(sequential)
        print(f"{spec:>12} {b:16.3f} {s:19.3f} {s / b:5.2f}x", flush=True)


if __name__ == "__main__":
    main()
