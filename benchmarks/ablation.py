"""Ablation of one part of Kingdra, with and without it, on the same base ensemble.

``python -m benchmarks.ablation --part t_neg --dataset digits --seeds 5`` trains the base
ensemble of a preset once per seed, then runs Algorithm 2's iterations from a copy of that
state once with the part and once without, and prints ACC per seed for both with the mean,
std and the worst seed. Parts that act only in the iterations share the base phase, so the
comparison isolates the part (and costs one base phase per seed, not two).

Parts:

- ``t_neg``: the presets' ``t_neg = m - 1`` (with) against the paper's ``t_neg = m``
  (without): a node leaves the graph with a picked mini-cluster unless two members or more
  disagree, as in the authors' code, instead of unless every member agrees with the anchor.
- ``gate``: the authors' anchor gate ``min_confidence = 0.9`` (with) against none (without).
- ``balanced``: pseudo-labelled rows drawn class-balanced, round robin over each member's
  pseudo-classes as in the authors' release (with), against drawn uniformly from all
  pseudo-labelled rows, so each class comes in proportion to its mini-cluster's size
  (without).
- ``merged`` (presets with ``overcluster > 1``): Algorithm 1 on the members' merged clusters,
  ``k = n_clusters`` mini-clusters, each labelled row taught the member's own fine class
  (with), against Algorithm 1 on the fine clusters, ``k = overcluster * n_clusters`` (without,
  the engine's way).

Writes ``benchmarks/results/ablation-<part>-<dataset>-<preset>.json`` as ``{"part", "dataset",
"preset", "n", "device", "commit", "seeds", "with": [acc per seed], "without": [...],
"base": [...], "iterations": {"with"|"without": {seed: [per-iteration records]}}}``.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import torch

from benchmarks.table2 import command_line, commit, load_xy, parse_sets, seed_list, write_report
from kingdra import algorithm2
from kingdra.checkpoint import run_from_bytes, run_to_bytes
from kingdra.config import KingdraConfig
from kingdra.device import device_description, resolve_device
from kingdra.engine import KingdraEngine
from kingdra.pseudo import member_pseudo_labels


def _set_t_neg(engine: KingdraEngine, on: bool) -> None:
    m = engine.config.n_models
    engine.t_neg = max(1, m - 1) if on else m


def _set_gate(engine: KingdraEngine, on: bool) -> None:
    engine.min_confidence = 0.9 if on else 0.0


def _uniform_indices(trainer, pseudo: np.ndarray, total: int) -> torch.Tensor:
    """(m, total) pseudo-labelled rows of each member in shuffled order, repeated as needed."""
    rows = []
    for j in range(pseudo.shape[1]):
        labelled = torch.from_numpy(np.flatnonzero(pseudo[:, j] >= 0))
        if len(labelled) == 0:  # as the round robin does: rows whose targets are -1
            labelled = torch.from_numpy(np.flatnonzero(pseudo[:, j] < 0)[:1])
        reps = -(-total // len(labelled))
        keys = torch.rand(reps, len(labelled), generator=trainer.cpu_gen)
        rows.append(labelled[keys.argsort(dim=1)].reshape(-1)[:total])
    return torch.stack(rows)


def _set_balanced(engine: KingdraEngine, on: bool) -> None:
    trainer = engine.trainer
    if on:
        trainer.__dict__.pop("balanced_indices", None)  # the trainer's own round robin
    else:
        trainer.balanced_indices = lambda pseudo, total: _uniform_indices(trainer, pseudo, total)


def _set_merged(engine: KingdraEngine, on: bool) -> None:
    """With over-clustering: Algorithm 1 on the members' merged clusters (k mini-clusters, one
    per cluster), and each labelled row taught the member's own fine class (with ``t_pos = m``
    every member's merged vote on a mini-cluster is the same, so that fine class lies in it)."""
    fine = engine.overclustering
    if fine is None:
        raise ValueError("--part merged needs a preset with overcluster > 1")
    engine.__dict__.pop("build_graph", None)
    algorithm2.member_pseudo_labels = member_pseudo_labels
    if not on:
        return
    build_graph = engine.build_graph

    def merged_graph(t_pos=None, t_neg=None, k=None, min_confidence=None):
        labels = engine.member_labels
        engine.member_labels = fine.final_labels(labels)
        try:
            return build_graph(t_pos, t_neg, engine.config.n_clusters, min_confidence)
        finally:
            engine.member_labels = labels

    def own_fine_class(clusters, labels, n_classes):
        votes = fine.final_labels(labels)
        merged = member_pseudo_labels(clusters, votes, fine.n_clusters)
        agree = merged == votes  # the member's own vote is the target's
        return np.where((merged >= 0) & agree, labels, -1)

    engine.build_graph = merged_graph
    algorithm2.member_pseudo_labels = own_fine_class


#: part -> function(engine, on) that switches it on or off for the iterations.
PARTS = {
    "t_neg": _set_t_neg,
    "gate": _set_gate,
    "balanced": _set_balanced,
    "merged": _set_merged,
}

KEYS = (
    "iteration",
    "t_neg",
    "min_confidence",
    "n_pseudo_labelled",
    "pseudo_precision",
    "mini_cluster_sizes",
    "acc",
)


def run_seed(X, y, preset, seed, device, part, overrides) -> dict:
    """Base phase once, then the iterations with and without ``part``."""
    settings = {"n_clusters": int(y.max()) + 1, "seed": seed, **overrides}
    config = KingdraConfig.from_preset(preset, **settings)
    engine = KingdraEngine(X, config, y_eval=y, device=device)
    start = time.perf_counter()
    engine.train_base()
    out = {"base": engine.history[-1]["acc"], "base_seconds": time.perf_counter() - start}
    state = run_to_bytes(engine)  # weights, Adam and generator states: both branches alike
    for name, on in (("with", True), ("without", False)):
        run = run_from_bytes(state, X, y, device)
        PARTS[part](run, on)
        try:
            run.run()
        finally:  # undo what a part changed outside this run (merged: a module function)
            PARTS[part](run, False)
        out[name] = run.history[-1]["acc"]
        out[name + "_iterations"] = [
            {key: r.get(key) for key in KEYS} for r in run.history if r["phase"] == "iteration"
        ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=sorted(PARTS), required=True)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--preset", default="imsat")
    parser.add_argument("--seeds", default="3", help="a count (0..N-1) or a list like 0,3,4")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    revision = commit()
    X, y = load_xy(args.dataset, args.data_dir)
    device = resolve_device(args.device)
    seeds = seed_list(args.seeds)
    overrides = parse_sets(args.set)
    results = {}
    for seed in seeds:
        results[seed] = run_seed(X, y, args.preset, seed, device, args.part, overrides)
        r = results[seed]
        print(
            f"seed {seed}: base {100 * r['base']:.1f}, with {100 * r['with']:.1f}, "
            f"without {100 * r['without']:.1f}",
            flush=True,
        )
    report = {
        "part": args.part,
        "dataset": args.dataset,
        "preset": args.preset,
        "overrides": overrides,
        "n": int(len(y)),
        "device": device_description(device),
        "commit": revision,
        "command": command_line("benchmarks.ablation", argv),
        "seeds": seeds,
        "base": [results[s]["base"] for s in seeds],
        "with": [results[s]["with"] for s in seeds],
        "without": [results[s]["without"] for s in seeds],
        "iterations": {
            name: {str(s): results[s][name + "_iterations"] for s in seeds}
            for name in ("with", "without")
        },
    }
    for name in ("base", "with", "without"):
        acc = 100 * np.asarray(report[name])
        print(f"{name:8s} {acc.mean():.1f} ± {acc.std():.1f} (worst {acc.min():.1f})")
    write_report(report, args.out, f"ablation-{args.part}-{args.dataset}-{args.preset}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
