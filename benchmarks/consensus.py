"""Members matched to the medoid or to their co-association consensus: ``python -m
benchmarks.consensus``.

``python -m benchmarks.consensus --dataset mnist5k --seeds 0,1`` trains, for every seed, the
base ensemble of the default's run on that data (``auto``'s preset, pilot and gate included)
and scores three final partitions of the same members: their aligned average matched to the
medoid member (``consensus = "medoid"``), matched to the co-association partition
(``"coassociation"``, :mod:`kingdra.consensus`), and that partition itself; ``--set
field=value`` overrides a config field. Writes
``benchmarks/results/consensus-<dataset>.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.table2 import (
    add_seed_arguments,
    command_line,
    commit,
    load_xy,
    parse_seed_arguments,
    parse_sets,
    write_report,
)
from kingdra.alignment import align_members, aligned_mean
from kingdra.config import AUTO, KingdraConfig, nonzero_fraction, resolve_preset
from kingdra.consensus import coassociation_labels
from kingdra.device import device_description, resolve_device
from kingdra.engine import KingdraEngine
from kingdra.metrics import cluster_accuracy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.consensus", description=__doc__)
    add_seed_arguments(parser)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    args = parse_seed_arguments(parser, argv)
    overrides = parse_sets(args.set)
    measured_commit = commit()
    X, y = load_xy(args.dataset, args.data_dir if args.dataset == "mnist" else None)
    device = resolve_device(args.device)
    preset = resolve_preset(AUTO, len(X), nonzero_fraction(X))
    k = int(y.max()) + 1
    results = {}
    for seed in args.seeds:
        start = time.perf_counter()
        config = KingdraConfig.from_preset(preset, n_clusters=k, seed=seed, **overrides)
        engine = KingdraEngine(X, config, y_eval=y, device=device)
        engine.train_base()
        probs, labels = engine.probs, engine.member_labels
        n_outputs = engine.config.n_outputs
        medoid = align_members(labels, n_outputs, reference=None, probs=probs, refine=3)
        partition = coassociation_labels(labels, n_outputs)
        matched = align_members(labels, n_outputs, reference=partition)
        results[str(seed)] = {
            "members": [round(cluster_accuracy(y, labels[:, j]), 4) for j in range(len(probs))],
            "medoid": round(cluster_accuracy(y, aligned_mean(probs, medoid).argmax(1)), 4),
            "coassociation": round(cluster_accuracy(y, aligned_mean(probs, matched).argmax(1)), 4),
            "partition": round(cluster_accuracy(y, partition), 4),
            "seconds": round(time.perf_counter() - start, 1),
        }
    print(f"\n{args.dataset} ({len(X):,} rows), {preset}, {device_description(device)}")
    print("| seed | members | medoid | co-association | its partition |\n|---|---|---|---|---|")
    for seed, r in results.items():
        members = f"{100 * min(r['members']):.1f}-{100 * max(r['members']):.1f}"
        print(
            f"| {seed} | {members} | {100 * r['medoid']:.1f} | {100 * r['coassociation']:.1f} "
            f"| {100 * r['partition']:.1f} |"
        )
    name = Path(args.dataset).stem if Path(args.dataset).suffix else args.dataset
    write_report(
        {
            "dataset": args.dataset,
            "n": len(X),
            "preset": preset,
            "device": device_description(device),
            "commit": measured_commit,
            "command": command_line("benchmarks.consensus", argv),
            "overrides": overrides,
            "seeds": results,
        },
        args.out,
        f"consensus-{name}.json",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
