"""The Graph page's work for one threshold setting: Algorithm 1, summary, sampled graph, figure.

:func:`build_graph_view` is what runs when a slider moves; it only reads cached ensemble
predictions (no training) and is timed in ``benchmarks/bench_app.py``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from kingdra.plots import graph_figure
from kingdra.ui.views import (
    cluster_membership,
    edges_within,
    hover_texts,
    sample_nodes,
    step_view,
    to_local,
)


@dataclass
class Summary:
    """Mini-cluster sizes, coverage and (labels known) precision of one threshold setting."""

    sizes: list[int]
    n_labelled: int
    coverage: float
    precision: float | None = None
    purity: list[float] = field(default_factory=list)
    majority: list[int | None] = field(default_factory=list)


def summarize(clusters: Sequence[np.ndarray], n: int, y: np.ndarray | None = None) -> Summary:
    """Sizes and coverage of the mini-clusters; precision and purity when ``y`` is known."""
    from kingdra.metrics import pseudo_label_quality
    from kingdra.pseudo import pseudo_labels

    sizes = [int(len(c)) for c in clusters]
    if y is not None and len(clusters):
        q = pseudo_label_quality(clusters, y)
        return Summary(
            sizes,
            int(q.n_labelled),
            float(q.coverage),
            None if np.isnan(q.precision) else float(q.precision),
            [float(c["purity"]) for c in q.per_cluster],
            [c["majority"] for c in q.per_cluster],
        )
    n_labelled = int((pseudo_labels(clusters, n) >= 0).sum()) if len(clusters) else 0
    return Summary(sizes, n_labelled, n_labelled / n)


@dataclass
class GraphView:
    """Everything the Graph page draws for one setting."""

    result: object  # kingdra.graph.GetClustersResult
    summary: Summary
    membership: np.ndarray  # (n,) mini-cluster per node, -1 unassigned
    nodes: np.ndarray  # sorted global indices of the sampled nodes
    pos_pairs: np.ndarray  # local indices into nodes
    neg_pairs: np.ndarray
    hover: list[str]
    figure: object  # plotly Figure


def run_algorithm(member_labels, confidence, t_pos, t_neg, k, min_confidence):
    """Algorithm 1 on cached predictions (``kingdra.graph.get_clusters``).

    Fewer than ``k`` mini-clusters is a normal outcome while tuning: the page says so itself,
    so the library's warning is silenced here.
    """
    from kingdra.graph import get_clusters

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return get_clusters(
            member_labels, int(k), int(t_pos), int(t_neg), confidence=confidence,
            min_confidence=float(min_confidence),
        )  # fmt: skip


def sample_graph(member_labels, result, sample_size: int, t_pos: int, t_neg: int, seed: int = 0):
    """Node sample (always containing the anchors) and its strong edges in local indices."""
    from kingdra.graph import edges

    n = len(member_labels)
    anchors = [s.anchor for s in result.steps]
    nodes = sample_nodes(n, sample_size, include=anchors, seed=seed)
    pos, neg = edges(member_labels, nodes, int(t_pos), int(t_neg))
    return nodes, to_local(pos, nodes), to_local(neg, nodes)


def node_colors(nodes, membership, y, color_by: str) -> tuple[np.ndarray, str]:
    """Colour groups for the nodes: mini-cluster (-1 grey) or true class."""
    if color_by == "true class" and y is not None:
        return np.asarray(y)[nodes], "class"
    return membership[nodes], "mini-cluster"


def build_graph_view(
    member_labels: np.ndarray,
    confidence: np.ndarray | None,
    xy_all: np.ndarray,
    *,
    t_pos: int,
    t_neg: int,
    k: int,
    min_confidence: float = 0.0,
    sample_size: int = 1000,
    y: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    color_by: str = "mini-cluster",
    result=None,
    seed: int = 0,
) -> GraphView:
    """Algorithm 1, summary, node sample, edges and the strong-edge figure.

    Parameters
    ----------
    member_labels : (n, m) int
    confidence : (n, m) float or None
    xy_all : (n, 2)
        Positions of every node (a layout that does not depend on the thresholds).
    result : GetClustersResult, optional
        Reuse an already computed result (the stepper reruns without new thresholds).
    """
    n = len(member_labels)
    if result is None:
        result = run_algorithm(member_labels, confidence, t_pos, t_neg, k, min_confidence)
    membership = cluster_membership(result.clusters, n)
    summary = summarize(result.clusters, n, y)
    nodes, pos, neg = sample_graph(member_labels, result, sample_size, t_pos, t_neg, seed)
    hover = hover_texts(nodes, member_labels, y=y, membership=membership, class_names=class_names)
    groups, group_name = node_colors(nodes, membership, y, color_by)
    figure = graph_figure(
        np.asarray(xy_all)[nodes], pos, neg, groups, node_ids=nodes, hover_text=hover,
        group_name=group_name, seed=seed, n_total=n,
        title=f"t_pos={t_pos}, t_neg={t_neg}: {len(result.clusters)} mini-clusters",
    )  # fmt: skip
    return GraphView(result, summary, membership, nodes, pos, neg, hover, figure)


def step_figure(view: GraphView, xy_all: np.ndarray, step: int, seed: int = 0):
    """Algorithm 1 replayed up to ``step`` on the view's node sample.

    Returns
    -------
    (Figure, str)
        The figure and a sentence describing the step.
    """
    sv = step_view(view.result, view.nodes, step)
    pos = edges_within(view.pos_pairs, sv.live)
    neg = edges_within(view.neg_pairs, sv.live)
    fig = graph_figure(
        np.asarray(xy_all)[view.nodes], pos, neg, sv.groups, node_ids=view.nodes,
        hover_text=view.hover, faded=sv.faded, anchor=sv.anchor, removing=sv.removing,
        title=f"Algorithm 1, step {step} of {len(view.result.steps)}", seed=seed,
        n_total=len(view.membership),
    )  # fmt: skip
    return fig, sv.text


def iteration_rows(snapshots, y: np.ndarray | None = None) -> list[dict]:
    """Per snapshot: ACC of the final clusters and the pseudo-labels its graph gives.

    The graph of snapshot ``i`` uses the thresholds in force then (``snapshot.params``); its
    mini-clusters are the pseudo-labels of iteration ``i + 1`` (paper Fig. 2).
    """
    from kingdra.metrics import cluster_accuracy

    rows = []
    for snap in snapshots:
        p = snap.params
        result = run_algorithm(
            snap.member_labels, snap.confidence, p["t_pos"], p["t_neg"], p["k"],
            p["min_confidence"],
        )  # fmt: skip
        summary = summarize(result.clusters, len(snap.member_labels), y)
        rows.append(
            {
                "iteration": snap.iteration,
                "acc": None if y is None else float(cluster_accuracy(y, snap.labels)),
                "precision": summary.precision,
                "n_labelled": summary.n_labelled,
                "coverage": summary.coverage,
                "n_mini_clusters": int(sum(s > 0 for s in summary.sizes)),
                **{k: p[k] for k in ("t_pos", "t_neg", "k", "min_confidence")},
            }
        )
    return rows


def member_accuracies(snapshot, y: np.ndarray) -> list[float]:
    """ACC of each member on the final clusters, as ``engine.history[i]["member_acc"]``.

    Scores ``snapshot.final_member_labels`` (aligned and merged), never the raw member
    outputs: with over-clustering those are 2k fine clusters, and their ACC against k classes
    reads far below the ensemble's for no fault of the member.
    """
    from kingdra.metrics import cluster_accuracy

    labels = snapshot.final_member_labels
    if labels is None:
        raise ValueError("this snapshot has no final member labels; take a new snapshot")
    return [float(cluster_accuracy(y, labels[:, j])) for j in range(labels.shape[1])]
