"""Seconds per training epoch at the presets' sizes, and what the optimizer step costs.

``python -m benchmarks.bench_epoch`` times the base phase's batches of the ``fast`` and
``imsat`` presets on sklearn digits (1,797 x 64) and on a synthetic tf-idf-like matrix of
20,000 x 2,000 (1 % non-zeros plus 40 class words per class, rows L2-normalised), each with
PyTorch's per-tensor Adam (the CPU default) and with the fused Adam the trainer uses, in
alternating runs of the same process. Each figure is the median of ``--repeats`` runs of
``--batches`` batches after warm-up batches, scaled to one epoch; the last column is the ratio
per-tensor / fused.

    python -m benchmarks.bench_epoch                 # CPU, the threads torch picks
    python -m benchmarks.bench_epoch --batches 20 --repeats 3 --data digits
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from kingdra.config import KingdraConfig
from kingdra.device import device_description, resolve_device
from kingdra.engine import KingdraEngine
from kingdra.trainer import Cancelled


def synthetic_text(n: int = 20_000, d: int = 2_000, c: int = 20, seed: int = 0) -> np.ndarray:
    """A dense (n, d) float32 matrix shaped like tf-idf of short documents in c topics."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    X = np.zeros((n, d), dtype=np.float32)
    nnz = int(0.01 * d)
    rows = np.repeat(np.arange(n), nnz)
    X[rows, rng.integers(0, d, n * nnz)] = rng.random(n * nnz, dtype=np.float32)
    topic_words = np.stack([rng.choice(d, 40, replace=False) for _ in range(c)])
    words = topic_words[y[:, None], rng.integers(0, 40, (n, 5))]
    X[np.arange(n)[:, None], words] += rng.random((n, 5), dtype=np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X


def data_sets(which: str) -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits

    out = {}
    if which in ("all", "digits"):
        out["digits 1,797 x 64"] = load_digits().data.astype(np.float32) / 16.0
    if which in ("all", "text"):
        out["text 20,000 x 2,000"] = synthetic_text()
    return out


def seconds_per_epoch(engine: KingdraEngine, warmup: int, batches: int) -> float:
    """Time ``batches`` base-phase batches after ``warmup`` ones; scale to one epoch."""
    marks: list[float] = []
    total = {}

    def callback(progress) -> None:
        if progress.event != "batch":
            return
        total["n"] = progress.n_batches
        if progress.batch in (warmup, warmup + batches):
            marks.append(time.perf_counter())
        if progress.batch >= warmup + batches or progress.batch == progress.n_batches:
            raise Cancelled()

    try:
        engine.trainer.train_epochs(engine.X, 1, "base", callback)
    except Cancelled:
        pass
    if len(marks) < 2:
        raise ValueError("an epoch has fewer batches than --warmup + --batches; lower them")
    return (marks[1] - marks[0]) / batches * total["n"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("all", "digits", "text"), default="all")
    parser.add_argument("--presets", default="fast,imsat")
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--save-text",
        metavar="PATH",
        help="write the synthetic text set with its 20 topics as .npz (X, y) for `kingdra fit` "
        "and stop",
    )
    args = parser.parse_args(argv)
    if args.save_text:
        X = synthetic_text()
        y = np.random.default_rng(0).integers(0, 20, X.shape[0])  # synthetic_text's first draw
        np.savez_compressed(args.save_text, X=X, y=y)
        print(f"wrote {args.save_text}: {X.shape[0]:,} x {X.shape[1]:,}, 20 topics")
        return 0
    device = resolve_device(args.device)
    print(f"device: {device_description(device)}, torch threads: {torch.get_num_threads()}")
    print("| data | preset | s/epoch, per-tensor Adam | s/epoch, fused Adam | ratio |")
    print("|---|---|---|---|---|")
    for name, X in data_sets(args.data).items():
        for preset in args.presets.split(","):
            config = KingdraConfig.from_preset(preset, n_clusters=10, seed=0)
            times: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(args.repeats):
                for fused in (False, True):
                    engine = KingdraEngine(X, config, device=device)
                    if not fused:
                        params = engine.trainer.model.parameters()
                        engine.trainer.optimizer = torch.optim.Adam(params, lr=config.lr)
                    times[fused].append(seconds_per_epoch(engine, args.warmup, args.batches))
            loop, fused = statistics.median(times[False]), statistics.median(times[True])
            print(f"| {name} | {preset} | {loop:.3f} | {fused:.3f} | {loop / fused:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
