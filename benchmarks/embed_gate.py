"""What the representation's gate (``embed_gate``) sees where the ``mu`` pilot cannot tell.

The gate reads the pilot first (:func:`kingdra.pilot.classes_look_equal`, reported by
``benchmarks.mu_pilot``); where it cannot tell, or did not run, it reads a Gaussian mixture on
the representation, which this measures: ``python -m benchmarks.embed_gate``.

``python -m benchmarks.embed_gate --dataset mnist5k --seeds 0,1`` fits, for every seed, the
``ae-umap`` representation that a run of ``imsat-ae-umap`` on that data fits (the same code,
seed and autoencoder epochs as the engine's), clusters it with the Gaussian mixture the gate
uses, and prints the normalised entropy of the mixture's cluster sizes (what ``embed_gate``
compares), the same measure of the true classes, and the mixture's ACC (N2D's clustering).
The whole runs are ``benchmarks.table2``'s; this shows the decision alone, at the cost of the
representation. Writes ``benchmarks/results/embed-gate-<dataset>.json`` as ``{"dataset", "n",
"device", "commit", "command", "gate", "embed_epochs", "seeds": {seed: {"sizes", "classes", "acc",
"kept", "seconds"}}}``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from benchmarks.table2 import (
    add_seed_arguments,
    command_line,
    commit,
    load_xy,
    parse_seed_arguments,
    write_report,
)
from kingdra.config import KingdraConfig
from kingdra.device import device_description, resolve_device
from kingdra.embedding import fit_representation, mixture_sizes
from kingdra.metrics import cluster_accuracy
from kingdra.pilot import equal_sizes

PRESET = "imsat-ae-umap"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.embed_gate", description=__doc__)
    add_seed_arguments(parser)
    parser.add_argument(
        "--embed-epochs", type=int, default=None, help="autoencoder epochs (default: the preset's)"
    )
    args = parse_seed_arguments(parser, argv)
    measured_commit = commit()
    X, y = load_xy(args.dataset, args.data_dir if args.dataset == "mnist" else None)
    device = resolve_device(args.device)
    k = int(y.max()) + 1
    config = KingdraConfig.from_preset(PRESET)
    gate, epochs = config.embed_gate, args.embed_epochs or config.embed_epochs
    classes = equal_sizes(y[None].astype("int64"), k)
    data = torch.from_numpy(X).to(device)
    results = {}
    for seed in args.seeds:
        start = time.perf_counter()
        labels, sizes = mixture_sizes(fit_representation(data, k, epochs, seed), k, seed)
        results[str(seed)] = {
            "sizes": round(sizes, 4),
            "classes": round(classes, 4),
            "acc": round(cluster_accuracy(y, labels), 4),
            "kept": bool(sizes >= gate),
            "seconds": round(time.perf_counter() - start, 1),
        }
    print(f"\n{args.dataset} ({len(X):,} rows), gate {gate}, {device_description(device)}")
    print("| seed | mixture sizes | classes | kept | mixture ACC | seconds |")
    print("|---|---|---|---|---|---|")
    for seed, r in results.items():
        print(
            f"| {seed} | {r['sizes']:.3f} | {r['classes']:.3f} | {r['kept']} | "
            f"{100 * r['acc']:.1f} | {r['seconds']} |"
        )
    name = Path(args.dataset).stem if Path(args.dataset).suffix else args.dataset
    write_report(
        {
            "dataset": args.dataset,
            "n": len(X),
            "device": device_description(device),
            "commit": measured_commit,
            "command": command_line("benchmarks.embed_gate", argv),
            "gate": gate,
            "embed_epochs": epochs,
            "seeds": results,
        },
        args.out,
        f"embed-gate-{name}.json",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
