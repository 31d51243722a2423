"""The Graph page's work: Algorithm 1, summary, sampled graph, figure, the stepper.

:func:`build_graph_view` is what runs when a slider moves; it only reads cached ensemble
predictions (no training) and is timed in ``benchmarks/bench_app.py``. Plain Python, no
Streamlit: a page passes arrays in and draws what comes out.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from kingdra.graph import edges, get_clusters
from kingdra.plots import graph_figure
from kingdra.pseudo import pseudo_label_quality, pseudo_labels

# Nodes in the edge graph's sample at most. Every point is drawn anyway; the figure draws at
# most 2,000 positive and 1,000 negative edges, and listing the strong edges among 3,000
# nodes (3.7 million negative pairs at 70,000 rows) took 0.75 s of a move against 0.4 s at
# 2,000 (2-core CPU, load 5).
MAX_SAMPLE = 2000


def sample_nodes(n: int, size: int, *, include: Sequence[int] = (), seed: int = 0) -> np.ndarray:
    """A sorted, seeded sample of ``size`` node indices out of ``n`` that contains ``include``.

    The anchors of Algorithm 1 go in ``include`` so the stepper can always show them.
    """
    if n < 1:
        raise ValueError(f"cannot sample from {n} nodes")
    if size < 1:
        raise ValueError(f"sample size must be >= 1, got {size}")
    include = np.unique(np.asarray(include, dtype=np.int64))
    if len(include) and (include.min() < 0 or include.max() >= n):
        raise ValueError(f"nodes to include must be in 0..{n - 1}")
    if size >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    rest = np.setdiff1d(np.arange(n), include, assume_unique=True)
    extra = max(size - len(include), 0)
    picked = rng.choice(rest, size=min(extra, len(rest)), replace=False)
    return np.sort(np.concatenate([include, picked]))


def cluster_membership(clusters: Sequence[np.ndarray], n: int) -> np.ndarray:
    """Mini-cluster of each node for display: ``-1`` when unassigned.

    A node claimed by several mini-clusters (possible when ``t_pos + t_neg <= m``) shows
    the first; pseudo-labels leave such nodes out (:func:`kingdra.pseudo.pseudo_labels`).
    """
    out = np.full(n, -1, dtype=np.int64)
    for c in range(len(clusters) - 1, -1, -1):
        out[np.asarray(clusters[c], dtype=np.int64)] = c
    return out


def to_local(pairs: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Map edges between global indices to indices into the sorted array ``nodes``."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    nodes = np.asarray(nodes, dtype=np.int64)
    if len(pairs) == 0:
        return pairs
    # A lookup table is O(e); searchsorted on millions of negative pairs took ~0.35 s each.
    lookup = np.full(int(max(nodes.max(), pairs.max())) + 1, -1, dtype=np.int64)
    lookup[nodes] = np.arange(len(nodes))
    local = lookup[pairs]
    if (local < 0).any():
        raise ValueError("an edge ends at a node that is not in the sample")
    return local


def hover_texts(
    nodes: np.ndarray,
    member_labels: np.ndarray,
    *,
    y: np.ndarray | None = None,
    membership: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
) -> list[str]:
    """Hover text per node: index, true label, mini-cluster and the m member votes."""
    votes = np.asarray(member_labels)[nodes]
    out = []
    for row, i in enumerate(nodes):
        parts = [f"sample {int(i)}"]
        if y is not None:
            true = int(y[i])
            name = class_names[true] if class_names is not None else str(true)
            parts.append(f"true {name}")
        if membership is not None:
            mc = int(membership[i])
            parts.append("unassigned" if mc < 0 else f"mini-cluster {mc}")
        parts.append("votes " + " ".join(str(int(v)) for v in votes[row]))
        out.append("<br>".join(parts))
    return out


@dataclass
class StepView:
    """What the Algorithm 1 stepper draws at one step, on a node sample (local indices).

    ``groups``: mini-cluster per node among those picked so far (-1 otherwise);
    ``faded``: removed at an earlier step; ``removing``: removed at this step and not in the
    new mini-cluster; ``live``: still in the graph when this step starts (edges drawn among
    them); ``anchor``: local index of this step's anchor or None (step 0: nothing picked).
    """

    groups: np.ndarray
    faded: np.ndarray
    removing: np.ndarray
    live: np.ndarray
    anchor: int | None
    text: str


def step_view(result, nodes: np.ndarray, step: int) -> StepView:
    """Replay Algorithm 1's trace (``GetClustersResult``) up to ``step`` on ``nodes``.

    Step 0 is the initial graph; step ``s`` shows the state right after the ``s``-th pick.
    """
    steps = list(result.steps)
    if not 0 <= step <= len(steps):
        raise ValueError(f"step must be in 0..{len(steps)}, got {step}")
    nodes = np.asarray(nodes, dtype=np.int64)
    s = len(nodes)
    groups = np.full(s, -1, dtype=np.int64)
    faded = np.zeros(s, bool)
    removing = np.zeros(s, bool)
    anchor = None

    def local_mask(global_idx: np.ndarray) -> np.ndarray:
        return np.isin(nodes, np.asarray(global_idx, dtype=np.int64))

    for j in range(step - 1):
        faded |= local_mask(steps[j].removed)
    for j in range(step - 1, -1, -1):
        groups[local_mask(steps[j].members)] = j
    if step == 0:
        text = (
            f"Initial graph: {s:,} sampled nodes. Step 1 picks the node with the most strong "
            "positive edges among the remaining nodes."
        )
    else:
        st = steps[step - 1]
        where = np.flatnonzero(nodes == st.anchor)
        anchor = int(where[0]) if len(where) else None
        removed_now = local_mask(st.removed)
        members_now = local_mask(st.members)
        removing = removed_now & ~members_now
        text = (
            f"Step {step}: anchor sample {int(st.anchor)} has {int(st.degree):,} strong positive "
            f"edges; it and its positive neighbours form mini-cluster {step - 1} "
            f"({len(st.members):,} nodes). {len(st.removed):,} nodes without a strong negative "
            f"edge to the anchor leave the graph; {int(st.remaining):,} remain."
        )
    live = ~faded
    return StepView(groups, faded, removing, live, anchor, text)


def edges_within(pairs: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Keep the local edges whose two ends are both in ``mask``."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) == 0:
        return pairs
    return pairs[mask[pairs[:, 0]] & mask[pairs[:, 1]]]


def mini_clusters_json(clusters: Sequence[np.ndarray], **params) -> str:
    """Mini-clusters and the thresholds that produced them, as JSON."""
    return json.dumps(
        {
            "params": {k: (float(v) if isinstance(v, float) else v) for k, v in params.items()},
            "mini_clusters": [np.asarray(c).astype(int).tolist() for c in clusters],
        },
        indent=1,
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
    xy: np.ndarray  # (len(nodes), 2) positions of the sampled nodes


def run_algorithm(member_labels, confidence, t_pos, t_neg, k, min_confidence):
    """Algorithm 1 on cached predictions (``kingdra.graph.get_clusters``).

    Fewer than ``k`` mini-clusters is a normal outcome while tuning: the page says so itself
    (in the user's terms: with over-clustering ``k`` here counts fine clusters), so the
    library's warning and its log line are silenced here.
    """
    graph_logger = logging.getLogger("kingdra.graph")
    graph_logger.addFilter(_NO_WARNINGS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return get_clusters(
                member_labels,
                int(k),
                int(t_pos),
                int(t_neg),
                confidence=confidence,
                min_confidence=float(min_confidence),
            )
    finally:
        graph_logger.removeFilter(_NO_WARNINGS)


def _below_warning(record: logging.LogRecord) -> bool:
    return record.levelno < logging.WARNING


_NO_WARNINGS = logging.Filter()
_NO_WARNINGS.filter = _below_warning  # type: ignore[method-assign]


def sample_graph(member_labels, result, sample_size: int, t_pos: int, t_neg: int, seed: int = 0):
    """Node sample (always containing the anchors) and its strong edges in local indices."""
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
    place: Callable[[int, np.ndarray], np.ndarray] | None = None,
    every_point: bool = True,
) -> GraphView:
    """Algorithm 1, summary, node sample, edges and the strong-edge figure.

    The edges are drawn among a node sample that always holds Algorithm 1's anchors; with
    ``every_point`` all n points are drawn underneath it too (WebGL, coloured alike), so a
    box or lasso selects among all of them. Not with ``place``: its positions are the
    sample's own.

    Parameters
    ----------
    member_labels : (n, m) int
    confidence : (n, m) float or None
    xy_all : (n, 2)
        Positions of every node (a layout that does not depend on the thresholds).
    result : GetClustersResult, optional
        Reuse an already computed result (the stepper reruns without new thresholds).
    place : callable, optional
        ``place(n_nodes, pos_pairs) -> (n_nodes, 2)``: positions of the sampled nodes from
        their positive edges (the force-directed layout), instead of ``xy_all``.
    """
    n = len(member_labels)
    if result is None:
        result = run_algorithm(member_labels, confidence, t_pos, t_neg, k, min_confidence)
    membership = cluster_membership(result.clusters, n)
    summary = summarize(result.clusters, n, y)
    nodes, pos, neg = sample_graph(member_labels, result, sample_size, t_pos, t_neg, seed)
    hover = hover_texts(nodes, member_labels, y=y, membership=membership, class_names=class_names)
    groups, group_name = node_colors(nodes, membership, y, color_by)
    xy = place(len(nodes), pos) if place is not None else np.asarray(xy_all)[nodes]
    every = {}
    if every_point and place is None and len(nodes) < n:
        every_group, _ = node_colors(slice(None), membership, y, color_by)
        every = {"every_xy": xy_all, "every_group": every_group}
    figure = graph_figure(
        xy,
        pos,
        neg,
        groups,
        node_ids=nodes,
        hover_text=hover,
        group_name=group_name,
        seed=seed,
        n_total=n,
        title=f"t_pos={t_pos}, t_neg={t_neg}: {len(result.clusters)} mini-clusters",
        **every,
    )
    return GraphView(result, summary, membership, nodes, pos, neg, hover, figure, xy)


def step_figure(view: GraphView, xy_all: np.ndarray | None, step: int, seed: int = 0):
    """Algorithm 1 replayed up to ``step`` on the view's node sample.

    ``xy_all``: positions of all nodes, or None for the view's own (``view.xy``).

    Returns
    -------
    (Figure, str)
        The figure and a sentence describing the step.
    """
    sv = step_view(view.result, view.nodes, step)
    pos = edges_within(view.pos_pairs, sv.live)
    neg = edges_within(view.neg_pairs, sv.live)
    xy = view.xy if xy_all is None else np.asarray(xy_all)[view.nodes]
    fig = graph_figure(
        xy,
        pos,
        neg,
        sv.groups,
        node_ids=view.nodes,
        hover_text=view.hover,
        faded=sv.faded,
        anchor=sv.anchor,
        removing=sv.removing,
        title=f"Algorithm 1, step {step} of {len(view.result.steps)}",
        seed=seed,
        n_total=len(view.membership),
    )
    return fig, sv.text


def selected_ids(points) -> list[int]:
    """Sample ids of the points selected in a chart (their ``customdata``)."""
    return sorted({int(p["customdata"]) for p in points or () if p.get("customdata") is not None})


def chart_selection(event) -> list[int]:
    """Sample ids selected in a ``st.plotly_chart(..., on_select="rerun")`` event.

    Reads the event by item (``event["selection"]["points"]``), which works for the
    attribute dict Streamlit returns and for the plain dict a test puts in session state.
    """
    if not event:
        return []
    return selected_ids((event.get("selection") or {}).get("points"))


def node_votes(member_labels: np.ndarray, confidence: np.ndarray, i: int) -> dict[str, list]:
    """One node's vote and confidence in every member (the selection table)."""
    m = member_labels.shape[1]
    return {
        "member": list(range(m)),
        "vote": member_labels[i].tolist(),
        "confidence": np.round(confidence[i], 3).tolist(),
    }


def node_caption(i: int, membership: np.ndarray, y=None, class_names=None) -> str:
    """``sample i, true class c, mini-cluster j`` (or unassigned)."""
    true = ""
    if y is not None:
        true = f", true class {class_names[y[i]] if class_names else y[i]}"
    mc = int(membership[i])
    return f"sample {i}{true}, {'unassigned' if mc < 0 else f'mini-cluster {mc}'}"


def size_table(summary: Summary, class_names=None) -> dict[str, list]:
    """Mini-cluster sizes, with purity and majority class when labels are known."""
    table: dict[str, list] = {"size": summary.sizes}
    if summary.purity:
        table["purity"] = np.round(summary.purity, 3).tolist()
        table["majority class"] = [
            class_names[v] if class_names and v is not None else v for v in summary.majority
        ]
    return table
