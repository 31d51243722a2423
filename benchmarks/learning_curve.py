"""ACC of the base ensemble every few epochs, then after each Kingdra iteration.

``python -m benchmarks.learning_curve --dataset mnist --data-dir ../shared/data --preset imsat
--every 5 --epochs 40 --set n_models=5 --set batch_size=250`` trains the base phase in chunks
of ``--every`` epochs and prints, after each chunk, the elapsed seconds, the averaged
ensemble's ACC and every member's; then ``n_iter`` Kingdra iterations with their
mini-clusters, pseudo-label coverage and precision, and at the end the confusion matrix of
the final clusters. Writes the same as JSON to ``--out``
(default ``benchmarks/results/curve-<dataset>-<preset>-seed<S>.json``).
"""

from __future__ import annotations

import argparse
import logging
import time

from benchmarks.table2 import command_line, commit, load_xy, parse_sets, write_report
from kingdra.config import KingdraConfig
from kingdra.device import device_description, resolve_device
from kingdra.engine import KingdraEngine
from kingdra.metrics import confusion


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--preset", default="imsat")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every", type=int, default=5, help="epochs between readings")
    parser.add_argument("--epochs", type=int, default=None, help="base epochs (preset's)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    revision = commit()
    X, y = load_xy(args.dataset, args.data_dir)
    device = resolve_device(args.device)
    settings = {"n_clusters": int(y.max()) + 1, "seed": args.seed, **parse_sets(args.set)}
    config = KingdraConfig.from_preset(args.preset, **settings)
    engine = KingdraEngine(X, config, y_eval=y, device=device)
    epochs = config.epochs_base if args.epochs is None else args.epochs
    start = time.perf_counter()
    readings = []
    done = 0
    while done < epochs:
        chunk = min(args.every, epochs - done)
        engine.train_base(epochs=chunk)
        done += chunk
        record = engine.history[-1]
        readings.append(
            {
                "epoch": done,
                "seconds": round(time.perf_counter() - start, 1),
                "acc": record["acc"],
                "member_acc": record["member_acc"],
            }
        )
        members = " ".join(f"{100 * a:.1f}" for a in record["member_acc"])
        print(f"epoch {done}: {readings[-1]['seconds']} s, ensemble {100 * record['acc']:.1f}")
        print(f"  members {members}", flush=True)
    for _ in range(config.n_iter if config.stage == "kingdra" else 0):
        engine.step()
        record = engine.history[-1]
        readings.append(
            {
                "iteration": record["iteration"],
                "seconds": round(time.perf_counter() - start, 1),
                "acc": record["acc"],
                "member_acc": record["member_acc"],
                "mini_cluster_sizes": record.get("mini_cluster_sizes"),
                "coverage": record.get("coverage"),
                "pseudo_precision": record.get("pseudo_precision"),
            }
        )
        print(
            f"iteration {record['iteration']}: {readings[-1]['seconds']} s, "
            f"ACC {100 * record['acc']:.1f}, coverage {record.get('coverage', 0):.3f}, "
            f"precision {record.get('pseudo_precision') or 0:.3f}",
            flush=True,
        )
    matrix, classes, clusters = confusion(y, engine.labels_)
    print("confusion at the end (rows: true classes; columns: clusters, best-matched order):")
    print(matrix, flush=True)
    report = {
        "dataset": args.dataset,
        "n": int(len(y)),
        "preset": args.preset,
        "seed": args.seed,
        "config": config.to_dict(),
        "device": device_description(device),
        "commit": revision,
        "command": command_line("benchmarks.learning_curve", argv),
        "readings": readings,
        "confusion": {"matrix": matrix.tolist(), "classes": classes, "clusters": clusters},
    }
    write_report(report, args.out, f"curve-{args.dataset}-{args.preset}-seed{args.seed}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
