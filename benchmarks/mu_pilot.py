"""What the mu pilot (:mod:`kingdra.pilot`) measures and chooses: ``python -m benchmarks.mu_pilot``.

``python -m benchmarks.mu_pilot --dataset reuters --seeds 3`` runs, for every seed, the pilot
that a run of the default preset on that data starts with (the same configuration, seed and
code as the engine's), and prints each value's member agreement and cluster-size balance, the
value chosen and what that says of the classes' sizes (``equal``, ``unequal`` or ``unsure``:
:func:`kingdra.pilot.classes_look_equal`, which the representation's gate reads first). The
whole runs are ``benchmarks.table2``'s; this shows the decision alone, at a fraction of their
cost. Writes ``benchmarks/results/mu-pilot-<dataset>.json`` as
``{"dataset", "n", "preset", "device", "commit", "command", "rule", "seeds": {seed: result}}``.
"""

from __future__ import annotations

import argparse
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
from kingdra import pilot
from kingdra.config import AUTO, KingdraConfig, nonzero_fraction, resolve_preset
from kingdra.device import device_description, resolve_device


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mu_pilot", description=__doc__)
    add_seed_arguments(parser)
    parser.add_argument(
        "--preset", default=AUTO, help="preset whose run the pilot starts (default: auto's)"
    )
    parser.add_argument("--pilot-mu", type=float, default=1.0, help="the second mu (default 1)")
    args = parse_seed_arguments(parser, argv)
    measured_commit = commit()
    X, y = load_xy(args.dataset, args.data_dir if args.dataset == "mnist" else None)
    device = resolve_device(args.device)
    preset = resolve_preset(args.preset, len(X), nonzero_fraction(X))
    data = torch.from_numpy(X).to(device)
    results = {}
    for seed in args.seeds:
        config = KingdraConfig.from_preset(
            preset, n_clusters=int(y.max()) + 1, seed=seed, pilot_mu=args.pilot_mu
        )
        results[str(seed)] = pilot.run_pilot(data, config, seed).to_dict()
    print(f"\n{args.dataset} ({len(X):,} rows), preset {preset}, {device_description(device)}")
    print("| seed | mu | agreement | equal sizes | chosen | classes | seconds |")
    print("|---|---|---|---|---|---|---|")
    verdicts = {True: "equal", False: "unequal", None: "unsure"}
    for seed, r in results.items():
        for i, mu in enumerate(r["candidates"]):
            chosen = f"**{r['mu']:g}**" if i == 0 else ""
            classes = verdicts[pilot.classes_look_equal(r)] if i == 0 else ""
            seconds = r["seconds"] if i == 0 else ""
            print(
                f"| {seed} | {mu:g} | {r['agreement'][i]:.3f} | {r['equal_sizes'][i]:.3f} "
                f"| {chosen} | {classes} | {seconds} |"
            )
    name = Path(args.dataset).stem if Path(args.dataset).suffix else args.dataset
    write_report(
        {
            "dataset": args.dataset,
            "n": len(X),
            "preset": preset,
            "device": device_description(device),
            "commit": measured_commit,
            "command": command_line("benchmarks.mu_pilot", argv),
            "rule": {
                "members": pilot.PILOT_MEMBERS,
                "epochs": pilot.PILOT_EPOCHS,
                "max_rows": pilot.PILOT_ROWS,
                "equal_sizes": pilot.EQUAL_SIZES,
                "margin": pilot.MARGIN,
                "equal_classes": pilot.EQUAL_CLASSES,
            },
            "seeds": results,
        },
        args.out,
        f"mu-pilot-{name}.json",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
