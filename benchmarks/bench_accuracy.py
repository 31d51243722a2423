"""Benchmark: clustering accuracy of Kingdra beside classical baselines, in one run.

Run ``python -m benchmarks.bench_accuracy`` (defaults: ``--datasets digits,mnist5k --seeds 3``;
``--quick`` = digits only, 1 seed, no sweep). For each dataset it measures, on the same data
and in the same process:

- K-means, agglomerative (Ward), spectral (n <= 20,000) and UMAP(10-d)+GMM;
- Ladder-IM (one member of the base ensemble), Ladder-IM-ensemble (the averaged base
  ensemble) and Kingdra-Ladder-IM, all three from the same run per seed (and the Ladder-Dot
  variants with ``--dot``, on by default for digits);

and (``--ablation``, digits by default) Kingdra-Ladder-IM exactly as in the paper, without
the fast preset's neighbour term and over-clustering and with ``t_neg = m``; then, for the
first seed, the per-iteration mini-cluster count, pseudo-label precision, coverage and ACC
(the shape of the paper's Fig. 2), and on digits the ensemble-size sweep m = 1, 2, 5, 10
(appendix C.1). ``mnist`` (70,000, from ``--data-dir``) is trained in full only on a GPU;
on a CPU (or with ``--mnist-project``) the script times a few hundred batches of each
phase, the prediction and the graph, and projects the time of the whole run.

Mean ± std over seeds; ACC is Hungarian-matched cluster accuracy. Prints markdown tables and
writes everything to ``--json`` (default ``runs/bench_accuracy.json``).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import platform
import sys
import time
import warnings
from concurrent.futures import Future, ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import torch

from kingdra.baselines import BASELINES, SPECTRAL_MAX_N, run_baselines
from kingdra.config import KingdraConfig
from kingdra.data import load
from kingdra.device import device_description, resolve_device
from kingdra.engine import Cancelled, KingdraEngine

BASELINE_TITLES = {
    "kmeans": "K-means",
    "agglomerative": "Agglomerative (Ward)",
    "spectral": "Spectral (k-NN affinity)",
    "umap-gmm": "UMAP (10-d) + GMM",
}
BASE_TITLES = {"ladder-im": "Ladder-IM", "ladder-dot": "Ladder-Dot"}


def mean_std(values) -> tuple[float, float]:
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    if arr.size == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std())


def fmt(values, scale: float = 100.0) -> str:
    mean, std = mean_std(values)
    if np.isnan(mean):
        return "–"
    return f"{mean * scale:.1f} ± {std * scale:.1f}"


def kingdra_run(X, y, k, preset, base, seed, device, **overrides) -> dict:
    """One Kingdra run; the base-ensemble record gives the single and ensemble rows."""
    config = KingdraConfig.from_preset(preset, n_clusters=k, base=base, seed=seed, **overrides)
    engine = KingdraEngine(X, config, y_eval=y, device=device)
    start = time.perf_counter()
    engine.run()
    seconds = time.perf_counter() - start
    history = engine.history
    return {"seed": seed, "seconds": seconds, "history": history}


def _worker_init(threads: int, verbose: bool) -> None:
    torch.set_num_threads(threads)
    warnings.simplefilter("ignore")
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")


class SeedRunner:
    """Runs :func:`kingdra_run` for several seeds, in ``jobs`` worker processes when > 1.

    On a GPU one small step is launch-bound (docs/benchmarks.md), so seeds trained side by
    side in separate processes share the device with little slowdown each. ``submit``
    returns at once; ``collect`` waits, so baselines can run in between.
    """

    def __init__(self, jobs: int, verbose: bool) -> None:
        self.pool = None
        if jobs > 1:
            self.pool = ProcessPoolExecutor(
                jobs,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
                initargs=(torch.get_num_threads(), verbose),
            )

    def submit(self, X, y, k, preset, base, seeds, device, **overrides) -> list:
        runs = [partial(kingdra_run, X, y, k, preset, base, s, device, **overrides) for s in seeds]
        return runs if self.pool is None else [self.pool.submit(run) for run in runs]

    @staticmethod
    def collect(pending: list) -> list[dict]:
        return [p.result() if isinstance(p, Future) else p() for p in pending]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


def method_rows(runs: list[dict], base: str, suffix: str = "") -> list[dict]:
    """Table rows (single member, plain ensemble, Kingdra) from runs of one base loss."""
    title = BASE_TITLES[base]
    first = [r["history"][0] for r in runs]
    last = [r["history"][-1] for r in runs]
    single = {
        metric: [v for h in first for v in h[f"member_{metric}"]]
        for metric in ("acc", "nmi", "ari")
    }
    return [
        {
            "method": f"{title} (one member){suffix}",
            **single,
            "seconds": [h["seconds"] / len(h["member_acc"]) for h in first],
            "note": "every member of every seed's base ensemble; seconds = ensemble time / m",
        },
        {
            "method": f"{title}-ensemble{suffix}",
            **{metric: [h[metric] for h in first] for metric in ("acc", "nmi", "ari")},
            "seconds": [h["seconds"] for h in first],
        },
        {
            "method": f"Kingdra-{title}{suffix}",
            **{metric: [h[metric] for h in last] for metric in ("acc", "nmi", "ari")},
            "seconds": [r["seconds"] for r in runs],
        },
    ]


def print_table(title: str, rows: list[dict]) -> None:
    print(f"\n### {title}\n")
    print("| method | ACC % | NMI % | ARI % | seconds |")
    print("|---|---|---|---|---|")
    for row in rows:
        if row.get("skipped"):
            print(f"| {row['method']} | skipped: {row['skipped']} | | | |")
            continue
        secs = mean_std(row["seconds"])[0]
        print(
            f"| {row['method']} | {fmt(row['acc'])} | {fmt(row['nmi'])} | {fmt(row['ari'])} "
            f"| {secs:.1f} |"
        )


def baseline_rows(X, y, k, seeds, which) -> list[dict]:
    per_seed = [run_baselines(X, k, y=y, which=which, random_state=s) for s in seeds]
    rows = []
    for i, name in enumerate(which):
        results = [run[i] for run in per_seed]
        if results[0]["skipped"]:
            rows.append({"method": BASELINE_TITLES[name], "skipped": results[0]["skipped"]})
            continue
        rows.append(
            {
                "method": BASELINE_TITLES[name],
                **{m: [r[m] for r in results] for m in ("acc", "nmi", "ari")},
                "seconds": [r["seconds"] for r in results],
            }
        )
    return rows


def print_iterations(title: str, history: list[dict]) -> None:
    print(f"\n### {title}: per iteration (seed 0; paper Fig. 2)\n")
    print(
        "| iteration | mini-clusters | pseudo-labelled | coverage % "
        "| pseudo-label precision % | ACC % |"
    )
    print("|---|---|---|---|---|---|")
    for h in history:
        if h["phase"] == "base":
            print(f"| base | – | – | – | – | {h['acc'] * 100:.1f} |")
            continue
        found = sum(size > 0 for size in h["mini_cluster_sizes"])
        precision = h.get("pseudo_precision")
        prec = "–" if precision is None else f"{precision * 100:.1f}"
        print(
            f"| {h['iteration']} | {found} of {h['k']} | {h['n_pseudo_labelled']} "
            f"| {h['coverage'] * 100:.1f} "
            f"| {prec} | {h['acc'] * 100:.1f} |"
        )


def mnist_cpu_projection(X, y, preset, device, batches: int, **overrides) -> dict:
    """Time ``batches`` batches of each phase, one prediction and one graph; project the run."""
    overrides = {**overrides, "min_confidence": 0.0}  # some pseudo-labels after a short start
    config = KingdraConfig.from_preset(preset, n_clusters=10, seed=0, **overrides)
    engine = KingdraEngine(X, config, y_eval=y, device=device)
    timing: dict = {}

    def stop_after(phase):
        first = {}

        def callback(progress):
            # Time from the end of batch 1 to the end of batch `batches`: leaves out the
            # once-per-epoch shuffling and pseudo-label sampling (counted in "setup").
            if progress.event != "batch":
                return
            if progress.batch == 1:
                first["t"] = progress.elapsed_s
                timing[f"setup_{phase}"] = progress.elapsed_s
            elif progress.batch == batches:
                timing[phase] = (progress.elapsed_s - first["t"]) / (batches - 1)
                timing["n_batches"] = progress.n_batches
                engine.request_stop()

        return callback

    for phase, call in (("base", engine.train_base), ("iteration", engine.train_iteration)):
        try:
            call(epochs=1, callback=stop_after(phase))
        except Cancelled:
            pass
        if phase == "base":
            # The timed part of the base phase is cut short; mark it trained so that the
            # semi-supervised batches (twice as large, with pseudo-labels) can be timed too.
            start = time.perf_counter()
            engine.predict()
            timing["predict"] = time.perf_counter() - start
            engine.base_trained = True
            start = time.perf_counter()
            engine.build_graph()
            timing["graph"] = time.perf_counter() - start
    nb = timing["n_batches"]
    epoch_base = timing["base"] * nb + timing["setup_base"]
    epoch_iter = timing["iteration"] * nb + timing["setup_iteration"]
    per_iteration = timing["graph"] + config.epochs_iter * epoch_iter + timing["predict"]
    total = config.epochs_base * epoch_base + timing["predict"] + config.n_iter * per_iteration
    return {
        "preset": preset,
        "timed_batches": batches,
        "batches_per_epoch": nb,
        "seconds_per_batch_base": timing["base"],
        "seconds_per_batch_iteration": timing["iteration"],
        "seconds_first_batch_base": timing["setup_base"],
        "seconds_first_batch_iteration": timing["setup_iteration"],
        "seconds_predict": timing["predict"],
        "seconds_graph": timing["graph"],
        "seconds_epoch_base": epoch_base,
        "seconds_epoch_iteration": epoch_iter,
        "seconds_one_iteration": per_iteration,
        "seconds_projected_run": total,
        "epochs_base": config.epochs_base,
        "epochs_iter": config.epochs_iter,
        "n_iter": config.n_iter,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="digits,mnist5k", help="comma-separated names")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per method (default 3)")
    parser.add_argument("--preset", default="fast", choices=("fast", "paper"))
    parser.add_argument("--quick", action="store_true", help="digits, 1 seed, no sweep")
    parser.add_argument("--no-sweep", action="store_true", help="skip the ensemble-size sweep")
    parser.add_argument(
        "--sweep-seeds", type=int, default=None, help="seeds for the sweep (default: --seeds)"
    )
    parser.add_argument("--dot", default="digits", help="datasets also run with Ladder-Dot")
    parser.add_argument(
        "--ablation",
        default="digits",
        help="datasets also run as in the paper: no neighbour term, no over-clustering, "
        "t_neg = n_models",
    )
    parser.add_argument("--data-dir", default="../shared/data", help="folder with mnist/*.gz")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--mnist-batches", type=int, default=100, help="batches timed per phase on CPU (>= 2)"
    )
    parser.add_argument(
        "--mnist-project",
        action="store_true",
        help="time and project full MNIST instead of training it, also on a GPU",
    )
    parser.add_argument("--json", default="runs/bench_accuracy.json", help="output file")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a KingdraConfig field for every run (JSON value), e.g. hidden=[64]",
    )
    parser.add_argument(
        "--baselines", default=",".join(BASELINES), help="comma-separated baselines to run"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="train this many seeds at once in worker processes (worth it on a GPU)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log each phase and iteration as it ends"
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            overrides[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key.strip()] = value
    chosen = [b.strip() for b in args.baselines.split(",") if b.strip()]
    if args.quick:
        args.datasets, args.seeds, args.no_sweep = "digits", 1, True
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    warnings.simplefilter("ignore")  # empty mini-cluster warnings etc.: the tables say enough
    device = resolve_device(args.device)
    seeds = list(range(args.seeds))
    dot_sets = {d.strip() for d in args.dot.split(",") if d.strip()}
    ablation_sets = {d.strip() for d in args.ablation.split(",") if d.strip()}

    report: dict = {
        "command": "python -m benchmarks.bench_accuracy "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{device_description(device)}",
        "torch_threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
        "preset": args.preset,
        "overrides": overrides,
        "seeds": seeds,
        "jobs": args.jobs,
        "datasets": {},
    }
    print(
        f"# Accuracy benchmark ({report['machine']}, preset {args.preset}"
        f"{' with ' + str(overrides) if overrides else ''}, seeds {seeds})"
    )
    runner = SeedRunner(args.jobs, args.verbose)
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        ds = load(name, data_dir=args.data_dir) if name == "mnist" else load(name)
        X, y, k = ds.X, ds.y, ds.n_classes
        entry: dict = {"n": int(X.shape[0]), "d": int(X.shape[1]), "k": int(k)}
        report["datasets"][name] = entry
        if name == "mnist" and (device.type == "cpu" or args.mnist_project):
            which = tuple(b for b in chosen if b == "kmeans")
            entry["baselines"] = baseline_rows(X, y, k, seeds[:1], which)
            print_table(f"{name} (n={X.shape[0]}): baselines", entry["baselines"])
            proj = mnist_cpu_projection(X, y, args.preset, device, args.mnist_batches, **overrides)
            entry["cpu_projection"] = proj
            print(f"\n### {name}: time of one iteration and projection ({args.preset})\n")
            for key, value in proj.items():
                print(f"- {key}: {value:.3f}" if isinstance(value, float) else f"- {key}: {value}")
            continue

        which = tuple(b for b in chosen if b != "spectral" or X.shape[0] <= SPECTRAL_MAX_N)
        bases = ["ladder-im"] + (["ladder-dot"] if name in dot_sets else [])
        pending = {
            base: runner.submit(X, y, k, args.preset, base, seeds, device, **overrides)
            for base in bases
        }
        if name in ablation_sets:
            plain = {**overrides, "neighbor_weight": 0.0, "overcluster": 1}
            n_models = plain.get("n_models", KingdraConfig.from_preset(args.preset).n_models)
            plain["t_neg"] = plain.get("t_neg", n_models)
            pending["paper-method"] = runner.submit(
                X, y, k, args.preset, "ladder-im", seeds, device, **plain
            )
        rows = baseline_rows(X, y, k, seeds, which)  # meanwhile, with --jobs > 1
        runs = {key: runner.collect(value) for key, value in pending.items()}
        for base in bases:
            rows += method_rows(runs[base], base)
        if "paper-method" in runs:
            suffix = " (paper's method: no neighbour term, t_neg = m, no over-clustering)"
            rows += method_rows(runs["paper-method"], "ladder-im", suffix=suffix)
        entry["rows"] = rows
        entry["runs"] = runs
        print_table(f"{name} (n={X.shape[0]}, d={X.shape[1]}, k={k})", rows)
        print_iterations(f"{name}, Kingdra-Ladder-IM", runs["ladder-im"][0]["history"])

        if name == "digits" and not args.no_sweep:
            sweep = []
            sweep_seeds = seeds[: args.sweep_seeds or len(seeds)]
            sweep_pending = {
                m: runner.submit(
                    X,
                    y,
                    k,
                    args.preset,
                    "ladder-im",
                    sweep_seeds,
                    device,
                    **{**overrides, "n_models": m},
                )
                for m in (1, 2, 5, 10)
            }
            for m, pending_m in sweep_pending.items():
                seed_runs = runner.collect(pending_m)
                sweep.append(
                    {
                        "method": f"m = {m}",
                        **{
                            metric: [r["history"][-1][metric] for r in seed_runs]
                            for metric in ("acc", "nmi", "ari")
                        },
                        "seconds": [r["seconds"] for r in seed_runs],
                    }
                )
            entry["ensemble_size_sweep"] = sweep
            print_table(f"{name}: Kingdra-Ladder-IM by ensemble size (appendix C.1)", sweep)

    runner.close()
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=float))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
