"""What the Graph page says and hands out around its figure, in the user's k.

The controls' words, the summary's metrics and its shortfall warning, whether a selection can
edit the next iteration, and the downloads' contents and names: plain Python, no Streamlit,
so the page only lays them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kingdra.config import Thresholds
from kingdra.curation import describe
from kingdra.pseudo import pseudo_labels
from kingdra.ui import clusters_view
from kingdra.ui.graph_view import GraphView, Summary, mini_clusters_json
from kingdra.ui.overclustering import FineClusters


def k_slider(fine: FineClusters) -> tuple[str, str | None]:
    """Label and help of the mini-clusters slider: its k is not the user's k when over-clustering."""
    if fine:
        return "mini-clusters", f"Algorithm 1 picks at most this many; {fine.note}."
    return "k (mini-clusters)", None


def fine_caption(fine: FineClusters) -> str:
    """With over-clustering, how the fine clusters relate to the user's k; else ""."""
    if not fine:
        return ""
    return (
        f"k = {fine.n_clusters} clusters. Each member has {fine.n_fine} fine clusters "
        f"(over-clustering {fine.overcluster}), so Algorithm 1 looks for up to {fine.n_fine} "
        f"mini-clusters, {fine.note}; they are merged back to {fine.n_clusters} clusters "
        "(Clusters page)."
    )


@dataclass(frozen=True)
class Metric:
    """One ``st.metric``: label, value and help."""

    label: str
    value: str
    help: str | None = None


def summary_metrics(summary: Summary, k: int) -> list[Metric]:
    """Mini-clusters found, points pseudo-labelled, coverage and precision of one setting."""
    found = sum(x > 0 for x in summary.sizes)
    precision = "–" if summary.precision is None else f"{summary.precision:.1%}"
    return [
        Metric("mini-clusters", f"{found} of {k}"),
        Metric("pseudo-labelled", f"{summary.n_labelled:,}", "points in exactly one mini-cluster"),
        Metric("coverage", f"{summary.coverage:.1%}"),
        Metric("precision", precision, "purity against the true classes (evaluation only)"),
    ]


def shortfall_warning(summary: Summary, k: int, fine: FineClusters) -> str:
    """What to do when Algorithm 1 found fewer than ``k`` non-empty mini-clusters, else ""."""
    found = sum(x > 0 for x in summary.sizes)
    if found >= k:
        return ""
    wanted = f"{k} mini-clusters wanted ({fine.note})" if fine else f"{k} wanted"
    return (
        f"Only {found} non-empty mini-clusters of {wanted}: lower t_pos, t_neg or the "
        "confidence gate. Training keeps the last complete set."
    )


def same_thresholds(a: Thresholds, b: Sequence) -> bool:
    """True when two settings are the same (the gate to 4 decimals, as the slider gives it)."""
    (a_pos, a_neg, a_k, a_gate), (b_pos, b_neg, b_k, b_gate) = a, b
    return (a_pos, a_neg, a_k, round(a_gate, 4)) == (b_pos, b_neg, b_k, round(b_gate, 4))


def pending_caption(pending: Sequence[dict]) -> str:
    """The edits waiting for the next iteration, in words, or ""."""
    if not pending:
        return ""
    return (
        f"{len(pending)} edit(s) for the next iteration: "
        + "; ".join(describe(e) for e in pending)
        + ". The Clusters page lists them, with undo."
    )


def applied_message(thresholds: Sequence) -> str:
    """What **Use these thresholds for training** did."""
    t_pos, t_neg, k, gate = thresholds
    return f"Next iterations use t_pos={t_pos}, t_neg={t_neg}, {k} mini-clusters, gate {gate:.2f}."


def selection_csv(ids: Sequence[int], snapshot, view: GraphView, dataset) -> str:
    """The selected rows' final cluster, mini-cluster, pseudo-label and true class as CSV."""
    return clusters_view.selection_csv(  # looked up at each call: tests spy on it
        ids,
        cluster=snapshot.labels,
        mini_cluster=view.membership,
        pseudo=pseudo_labels(view.result.clusters, len(view.membership)),
        y=dataset.y,
        class_names=dataset.class_names,
    )


def mini_clusters_download(
    view: GraphView, thresholds: Sequence, n_clusters: int, iteration: int
) -> str:
    """The mini-clusters and the setting that found them, as JSON."""
    t_pos, t_neg, k, gate = thresholds
    return mini_clusters_json(
        view.result.clusters,
        t_pos=t_pos,
        t_neg=t_neg,
        n_mini_clusters=k,
        n_clusters=n_clusters,
        min_confidence=gate,
        iteration=iteration,
    )


def frames_name(view: GraphView, iteration: int) -> str:
    """File name (no suffix) of the stepper's frames: iteration and thresholds."""
    r = view.result
    return f"algorithm1-it{iteration}-tpos{r.t_pos}-tneg{r.t_neg}"
