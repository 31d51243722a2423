"""Make the Lessons page's prepared state: ``python -m kingdra.ui.make_lessons``.

Trains one Kingdra run on scikit-learn's digits (the ``fast`` preset with one output per
cluster, as in the paper: 10 members, ``k = 10``) and stores, for the base ensemble and each
of 5 iterations, every member's vote and confidence on every point. The Lessons page replays
Algorithm 1 on these votes, so a lesson opens without any training.

Writes ``assets/lessons/digits.npz`` (about 0.3 MB). The run is seeded; the same torch
version and thread count give the same file.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

ASSET = Path(__file__).resolve().parents[2] / "assets" / "lessons" / "digits.npz"
N_ITER = 5  # iterations after the base ensemble: the lesson scrubs 0..5


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ASSET.parents[2],
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def make(out: Path = ASSET, seed: int = 0, n_iter: int = N_ITER) -> dict:
    """Train, record every step's votes and write ``out``; returns the metadata stored."""
    import torch

    from kingdra.config import KingdraConfig
    from kingdra.data import load
    from kingdra.engine import KingdraEngine

    ds = load("digits")
    # 8 base epochs, as in the stored run whose numbers the lessons describe (`fast` has 32)
    config = KingdraConfig.from_preset(
        "fast", n_clusters=10, overcluster=1, epochs_base=8, seed=seed
    )
    engine = KingdraEngine(ds.X, config, y_eval=ds.y, device="cpu")
    start = time.perf_counter()
    votes, confidence, final_votes, labels, used = [], [], [], [], []

    def record() -> None:
        votes.append(engine.member_labels.astype(np.uint8))
        confidence.append(engine.confidence.astype(np.float16))
        final_votes.append(engine.final_member_labels().astype(np.uint8))
        labels.append(np.asarray(engine.labels_, dtype=np.uint8))

    engine.train_base()
    record()
    for _ in range(n_iter):
        engine.build_graph()
        used.append([engine.t_pos, engine.t_neg, engine.k, engine.min_confidence])
        engine.train_iteration()
        record()
    meta = {
        "dataset": "digits",
        "config": config.to_dict(),
        "thresholds_per_iteration": used,
        "history": [
            {
                key: h[key]
                for key in ("iteration", "acc", "coverage", "pseudo_precision")
                if key in h
            }
            for h in engine.history
        ],
        "seconds": round(time.perf_counter() - start, 1),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch thread(s), CPU",
        "torch": torch.__version__,
        "commit": _commit(),
        "command": "python -m kingdra.ui.make_lessons",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        member_labels=np.stack(votes),  # (T, n, m) each member's vote, T = n_iter + 1
        confidence=np.stack(confidence),  # (T, n, m) each member's max probability
        final_member_labels=np.stack(final_votes),  # (T, n, m) votes as aligned final clusters
        labels=np.stack(labels),  # (T, n) the ensemble's final clusters
        y=np.asarray(ds.y, dtype=np.uint8),  # (n,) true digits, for evaluation only
        meta=np.array(json.dumps(meta)),
    )
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ASSET, help=f"default {ASSET}")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    meta = make(args.out, args.seed)
    size = args.out.stat().st_size
    logging.getLogger(__name__).info(
        "wrote %s (%.0f kB) in %.0f s: %s",
        args.out,
        size / 1024,
        meta["seconds"],
        ", ".join(f"it {h['iteration']} acc {h.get('acc', 0):.3f}" for h in meta["history"]),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
