"""The paper's Table 2 on one data set, measured here: ``python -m benchmarks.table2``.

``python -m benchmarks.table2 --dataset digits --seeds 5`` (or ``mnist5k``, ``mnist``) runs,
for every seed, on the same data:

- K-means and UMAP (10-d) + GMM (:mod:`kingdra.baselines`);
- the paper's method (preset ``paper``) with Ladder-IM and Ladder-Dot: one member, the
  averaged base ensemble and Kingdra, all three read from the same run's history;
- the presets ``imsat``, ``imsat-large`` and ``fast``, and the default (``auto``'s preset
  for this many rows, what ``KingdraCluster()`` and ``kingdra fit`` run): one member, the
  ensemble, and Kingdra for each.

It prints mean ± std, the worst seed, seconds and the paper's figure beside each row, and
writes ``benchmarks/results/table2-<dataset>.json`` as ``{"dataset", "n", "device",
"commit", "command", "rows": {name: {"acc": [per seed], "seconds": [per seed]}},
"iterations": {Kingdra row: {seed: [per-iteration count, coverage, precision, ACC]}}}``.
``--rows`` picks the rows (default: the baselines, the paper's two and the default; e.g.
``--rows kmeans,default`` where the paper's preset would take hours on a CPU); ``--set field=value`` overrides a config field of every Kingdra run.
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from kingdra.baselines import run_baselines
from kingdra.config import AUTO, KingdraConfig, nonzero_fraction, resolve_preset
from kingdra.data import load
from kingdra.device import device_description, resolve_device
from kingdra.engine import KingdraEngine

ROOT = Path(__file__).resolve().parents[1]

#: Paper Table 2 (ACC %, MNIST column); None where the paper has no such row.
PAPER_MNIST = {
    "K-means": 53.3,
    "UMAP (10-d) + GMM": None,
    "Ladder-IM": 95.0,
    "Ladder-IM-ensemble": 95.1,
    "Kingdra-Ladder-IM": 98.5,
    "Ladder-Dot": 89.2,
    "Ladder-Dot-ensemble": None,
    "Kingdra-Ladder-Dot": 98.0,
    "IMSAT (one member)": 98.4,
    "IMSAT-ensemble": None,
    "Kingdra-IMSAT": None,
}

#: Which rows each ``--rows`` name produces.
ROW_GROUPS = {
    "kmeans": ["K-means"],
    "umap-gmm": ["UMAP (10-d) + GMM"],
    "n2d": ["N2D (autoencoder + UMAP + GMM)"],
    "ladder-im": ["Ladder-IM", "Ladder-IM-ensemble", "Kingdra-Ladder-IM"],
    "ladder-dot": ["Ladder-Dot", "Ladder-Dot-ensemble", "Kingdra-Ladder-Dot"],
    "imsat": ["IMSAT (one member)", "IMSAT-ensemble", "Kingdra-IMSAT"],
    "imsat-large": ["IMSAT, large (one member)", "IMSAT-ensemble, large", "Kingdra-IMSAT, large"],
    "fast": ["Ladder-IM, fast (one member)", "Ladder-IM-ensemble, fast", "Kingdra, fast"],
    "imsat-ae-umap": [
        "IMSAT on ae-umap (one member)",
        "IMSAT-ensemble on ae-umap",
        "Kingdra-IMSAT on ae-umap",
    ],
    "default": ["default (one member)", "default (ensemble)", "Kingdra (default)"],
}


#: What the JSON keeps of each run's history (the paper's Fig. 2: count, precision, ACC; and
#: every member's ACC, the spread that the ensemble averages).
ITERATION_KEYS = (
    "iteration",
    "n_pseudo_labelled",
    "coverage",
    "pseudo_precision",
    "acc",
    "member_acc",
)


def kingdra_rows(X, y, preset, base, seed, device, titles, overrides) -> dict[str, tuple]:
    """(acc, seconds) of one member, the base ensemble and Kingdra, from one run."""
    settings = {"n_clusters": int(y.max()) + 1, "seed": seed, "base": base, **overrides}
    config = KingdraConfig.from_preset(preset, **settings)
    engine = KingdraEngine(X, config, y_eval=y, device=device)
    start = time.perf_counter()
    engine.run()
    total = time.perf_counter() - start
    first, last = engine.history[0], engine.history[-1]
    single, ensemble, full = titles
    return {
        single: (first["member_acc"][0], first["seconds"]),
        ensemble: (first["acc"], first["seconds"]),
        full: (last["acc"], total),
    }, [{key: record.get(key) for key in ITERATION_KEYS} for record in engine.history]


def commit() -> str:
    """``$KINGDRA_COMMIT`` where set (a copy sent to a GPU machine, whose git, if any, need
    not be this checkout's); else the checked-out commit (``-dirty`` if the training code
    has changes), or "unknown" without git."""
    if os.environ.get("KINGDRA_COMMIT"):
        return os.environ["KINGDRA_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        # Uncommitted changes to the code that trains (not the app's views) mark the commit.
        training_code = ["kingdra", ":!kingdra/ui", ":!kingdra/plots.py"]
        status = ["git", "status", "--porcelain", "--", *training_code]
        dirty = subprocess.run(status, cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def command_line(module: str, argv: list[str] | None) -> str:
    """The command that ran ``module`` with ``argv`` (else this process's arguments)."""
    return f"python -m {module} " + " ".join(sys.argv[1:] if argv is None else argv)


def load_xy(dataset: str, data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(X as float32, y) of a data set; ``data_dir`` is its cache folder when given."""
    data = load(dataset, data_dir=data_dir) if data_dir else load(dataset)
    return np.asarray(data.X, np.float32), np.asarray(data.y)


#: Packages whose versions change the figures (UMAP, the mixture, the neighbour search).
MEASURED_PACKAGES = (
    "torch",
    "numpy",
    "scipy",
    "scikit-learn",
    "umap-learn",
    "pynndescent",
    "numba",
)


def package_versions() -> dict[str, str | None]:
    """The installed version of each of :data:`MEASURED_PACKAGES` (None where missing)."""
    versions: dict[str, str | None] = {}
    for name in MEASURED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def write_report(report: dict, out: str | None, name: str) -> Path:
    """``report`` as JSON to ``out``, else to ``benchmarks/results/<name>``; prints the path.

    The report gains ``packages``: :func:`package_versions`. The same commit, seed and
    thread count repeat exactly only with the same versions (MNIST-5k seed 4's
    representation gate read 0.9996 with one set and 0.971 with another).
    """
    path = Path(out) if out else ROOT / "benchmarks" / "results" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {**report, "packages": package_versions()}
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {path}")
    return path


def seed_list(text: str) -> list[int]:
    """``"5"`` -> seeds 0..4; ``"1,3"`` -> seeds 1 and 3."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"seeds must be N or a list like 1,3, got {text!r}"
        ) from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"seeds must be N >= 1 or seeds >= 0, got {text!r}")
    if "," not in text:
        return list(range(values[0])) if values[0] >= 1 else []
    return values


def add_seed_arguments(parser: argparse.ArgumentParser) -> None:
    """``--dataset``, ``--seeds``, ``--device``, ``--data-dir`` and ``--out``: the options of a
    benchmark that measures one decision per seed (``mu_pilot``, ``embed_gate``)."""
    parser.add_argument("--dataset", default="digits", help="a built-in name or a file")
    parser.add_argument(
        "--seeds", type=seed_list, default=seed_list("3"), help="N (seeds 0..N-1) or a list: 1,3"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results/)")


def parse_seed_arguments(
    parser: argparse.ArgumentParser, argv: list[str] | None
) -> argparse.Namespace:
    """Parse ``argv`` (see :func:`add_seed_arguments`), switch logging on, refuse no seeds."""
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if not args.seeds:
        parser.error("--seeds must be >= 1")
    return args


def parse_sets(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set wants field=value, got {pair!r}")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.table2", description=__doc__)
    parser.add_argument(
        "--dataset", default="digits", help="digits, mnist5k, mnist, reuters, or a file"
    )
    parser.add_argument(
        "--seeds", type=seed_list, default=seed_list("3"), help="N (seeds 0..N-1) or a list: 1,3"
    )
    parser.add_argument(
        "--paper-seeds", type=int, default=None, help="fewer seeds for the paper's rows (slow)"
    )
    parser.add_argument(
        "--rows",
        default="kmeans,umap-gmm,ladder-im,ladder-dot,default",
        help=",".join(ROW_GROUPS) + " (default: the baselines, the paper's and the default)",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results/)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    groups = [g.strip() for g in args.rows.split(",") if g.strip()]
    unknown = set(groups) - set(ROW_GROUPS)
    if unknown or not args.seeds:
        parser.error(f"unknown rows {sorted(unknown)}" if unknown else "--seeds must be >= 1")
    overrides = parse_sets(args.set)
    measured_commit = commit()  # now: later commits must not be credited with these figures
    X, y = load_xy(args.dataset, args.data_dir if args.dataset == "mnist" else None)
    device = resolve_device(args.device)
    rows: dict[str, dict[str, list]] = {}
    histories: dict[str, dict[str, list]] = {}  # Kingdra row -> seed -> per-iteration records

    def add(name, acc, seconds):
        row = rows.setdefault(name, {"acc": [], "seconds": []})
        row["acc"].append(round(float(acc), 5))
        row["seconds"].append(round(float(seconds), 2))

    baselines = [g for g in ("kmeans", "umap-gmm", "n2d") if g in groups]
    # what KingdraCluster() runs on this data
    default_preset = resolve_preset(AUTO, len(X), nonzero_fraction(X))
    runs = {
        "ladder-im": ("paper", "ladder-im", ROW_GROUPS["ladder-im"]),
        "ladder-dot": ("paper", "ladder-dot", ROW_GROUPS["ladder-dot"]),
        "imsat": ("imsat", None, ROW_GROUPS["imsat"]),
        "imsat-large": ("imsat-large", None, ROW_GROUPS["imsat-large"]),
        "fast": ("fast", None, ROW_GROUPS["fast"]),
        "imsat-ae-umap": ("imsat-ae-umap", None, ROW_GROUPS["imsat-ae-umap"]),
        "default": (default_preset, None, ROW_GROUPS["default"]),
    }
    for i, seed in enumerate(args.seeds):
        for result in run_baselines(X, len(np.unique(y)), y=y, which=baselines, random_state=seed):
            add(ROW_GROUPS[result["name"]][0], result["acc"], result["seconds"])
        for group in groups:
            if group not in runs:
                continue
            preset, base, titles = runs[group]
            if preset == "paper" and i >= (args.paper_seeds or len(args.seeds)):
                continue
            base = base or KingdraConfig.from_preset(preset).base
            results, history = kingdra_rows(X, y, preset, base, seed, device, titles, overrides)
            for name, (acc, secs) in results.items():
                add(name, acc, secs)
            histories.setdefault(titles[-1], {})[str(seed)] = history
        print(f"seed {seed} done", file=sys.stderr, flush=True)

    order = [name for group in ROW_GROUPS.values() for name in group]
    rows = {name: rows[name] for name in order if name in rows}
    device_name = device_description(device)
    report = {
        "dataset": args.dataset,
        "n": int(len(X)),
        "device": device_name,
        "torch_threads": torch.get_num_threads(),
        "commit": measured_commit,
        "command": command_line("benchmarks.table2", argv),
        "seeds": args.seeds,
        "overrides": overrides,
        "default_preset": default_preset,
        "rows": rows,
        "iterations": histories,
    }
    print_table(report)
    write_report(report, args.out, f"table2-{args.dataset}.json")
    return 0


def print_table(report: dict) -> None:
    """A report's rows as a Markdown table: mean ± std, worst and every seed, seconds."""
    seeds = ", ".join(map(str, report["seeds"]))
    print(f"\n### Table 2 on {report['dataset']} (n = {report['n']}, seeds {seeds}, ", end="")
    print(f"{report['device']})\n")
    print("| method | ACC % mean ± std | worst seed | every seed | seconds | paper (MNIST) |")
    print("|---|---|---|---|---|---|")
    for name, row in report["rows"].items():
        acc = np.asarray(row["acc"]) * 100
        paper = PAPER_MNIST.get(name)
        print(
            f"| {name} | {acc.mean():.1f} ± {acc.std():.1f} | {acc.min():.1f} "
            f"| {' / '.join(f'{a:.1f}' for a in acc)} | {np.mean(row['seconds']):.1f} "
            f"| {'–' if paper is None else paper} |"
        )


if __name__ == "__main__":
    raise SystemExit(main())
