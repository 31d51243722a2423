"""Why points group: one node's story in Algorithm 1's trace, and its strongest neighbours.

:func:`explain_node` reads ``kingdra.graph.get_clusters``'s trace (``steps``: anchor,
members, removed) and the member votes ``L`` and says which step took the node (as the anchor,
or through a strong positive edge to the anchor) or removed it (with which anchor, how many
members disagreed), and which nodes agree and disagree with it most. Plain Python, no
Streamlit; O(k + n m) per node, so it runs on every click, on 70,000 points too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class NodeReason:
    """What the Graph page says about one selected node.

    ``sentences``: the node's story, one sentence per step that touched it, then its
    pseudo-label; ``agreeing`` / ``disagreeing``: rows (dicts) of its strongest neighbours;
    ``n_positive`` / ``n_negative``: its strong positive / negative edges in the whole graph.
    """

    node: int
    sentences: list[str]
    agreeing: list[dict] = field(default_factory=list)
    disagreeing: list[dict] = field(default_factory=list)
    n_positive: int = 0
    n_negative: int = 0


def _contains(nodes: np.ndarray, i: int) -> bool:
    return bool((np.asarray(nodes) == i).any())


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def step_story(result, member_labels: np.ndarray, i: int) -> list[str]:
    """One sentence per step of Algorithm 1 that took node ``i`` or removed it, then its fate."""
    labels = np.asarray(member_labels)
    m = labels.shape[1]
    t_pos, t_neg = int(result.t_pos), int(result.t_neg)
    out: list[str] = []
    clusters: list[int] = []
    removed = False
    for j, s in enumerate(result.steps):
        anchor = int(s.anchor)
        agree = int((labels[i] == labels[anchor]).sum())
        disagree = m - agree
        if anchor == i:
            clusters.append(j)
            out.append(
                f"Step {j + 1} picked it as the anchor: {_plural(int(s.degree), 'strong positive edge')}"
                f" to the nodes still in the graph, the most of any that could anchor. It and "
                f"its {_plural(len(s.members) - 1, 'positive neighbour')} form mini-cluster {j}."
            )
            removed = True
            break
        member = _contains(s.members, i)
        gone = _contains(s.removed, i)
        if member:
            clusters.append(j)
            text = (
                f"Step {j + 1}: anchor sample {anchor} took it into mini-cluster {j} through a "
                f"strong positive edge ({agree} of {m} members agree with the anchor, "
                f"t_pos = {t_pos})"
            )
            if gone:
                out.append(text + "; it left the graph with its mini-cluster.")
            else:
                out.append(
                    text + f", but {disagree} disagree (t_neg = {t_neg}): a strong negative "
                    "edge too, so it stayed in the graph for later steps."
                )
        elif gone:
            out.append(
                f"Step {j + 1}: removed with anchor sample {anchor} without joining it: "
                f"{_plural(disagree, 'member')} of {m} disagreed with the anchor, fewer than "
                f"t_neg = {t_neg}, so no strong negative edge kept it in the graph "
                f"(and {agree} agreeing is below t_pos = {t_pos})."
            )
        if gone:
            removed = True
            break
    if not removed:
        n_steps = len(result.steps)
        if n_steps == 0:
            out.append("Algorithm 1 made no pick: no node could anchor a mini-cluster.")
        else:
            out.append(
                f"It stayed in the graph through all {_plural(n_steps, 'step')}: "
                f"{_plural(t_neg, 'member')} or more disagreed with every anchor (a strong "
                "negative edge to each) and it was never picked."
            )
    if len(clusters) == 1:
        out.append(f"Pseudo-label: mini-cluster {clusters[0]}.")
    elif clusters:
        listed = ", ".join(str(c) for c in clusters)
        out.append(
            f"In mini-clusters {listed} at once (t_pos + t_neg <= m allows it): "
            "no pseudo-label, as it is ambiguous."
        )
    else:
        out.append("No pseudo-label: it is in no mini-cluster.")
    return out


def neighbours(
    member_labels: np.ndarray,
    i: int,
    *,
    membership: np.ndarray | None = None,
    y: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    top: int = 5,
) -> tuple[list[dict], list[dict], np.ndarray]:
    """Node ``i``'s ``top`` most agreeing and most disagreeing other nodes (lowest index first
    on ties), and its agreement with every node (``-1`` at ``i`` itself)."""
    labels = np.asarray(member_labels)
    m = labels.shape[1]
    agreement = (labels == labels[i]).sum(axis=1).astype(np.int64)  # (n,)
    agreement[i] = -1
    others = np.flatnonzero(agreement >= 0)
    # stable sorts: ties keep ascending index order
    most = others[np.argsort(-agreement[others], kind="stable")[:top]]
    least = others[np.argsort(agreement[others], kind="stable")[:top]]

    def row(j: int) -> dict:
        out = {"sample": int(j), "members agreeing": f"{int(agreement[j])} of {m}"}
        if membership is not None:
            mc = int(membership[j])
            out["mini-cluster"] = "none" if mc < 0 else str(mc)  # one type per column
        if y is not None:
            out["true class"] = str(class_names[y[j]] if class_names else y[j])
        return out

    return [row(j) for j in most], [row(j) for j in least], agreement


def explain_node(
    result,
    member_labels: np.ndarray,
    i: int,
    *,
    membership: np.ndarray | None = None,
    y: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    top: int = 5,
) -> NodeReason:
    """Why node ``i`` is (or is not) in a mini-cluster, from Algorithm 1's trace.

    Parameters
    ----------
    result : kingdra.graph.GetClustersResult
        The run the page shows (its ``t_pos`` and ``t_neg`` define the edges).
    member_labels : (n, m) int
        The votes ``L`` Algorithm 1 ran on.
    i : int
        The selected node.
    membership, y, class_names : optional
        Mini-cluster per node (``-1`` none), true classes and their names, for the
        neighbour tables.

    Examples
    --------
    >>> import numpy as np
    >>> from kingdra.graph import get_clusters
    >>> L = np.array([[0, 1], [0, 1], [1, 0], [1, 0], [1, 1]])
    >>> r = get_clusters(L, k=2, t_pos=2, t_neg=2)
    >>> explain_node(r, L, 4).sentences[0].startswith("Step 1: removed with anchor sample 0")
    True
    """
    labels = np.asarray(member_labels)
    n, m = labels.shape
    if not 0 <= i < n:
        raise ValueError(f"node must be in 0..{n - 1}, got {i}")
    sentences = step_story(result, labels, i)
    agreeing, disagreeing, agreement = neighbours(
        labels, i, membership=membership, y=y, class_names=class_names, top=top
    )
    n_positive = int((agreement >= result.t_pos).sum())
    n_negative = int(((m - agreement) >= result.t_neg).sum() - 1)  # not i itself (-1 agrees)
    return NodeReason(i, sentences, agreeing, disagreeing, n_positive, n_negative)
