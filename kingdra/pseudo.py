"""From mini-clusters to pseudo-labels, their quality, and how they change with the thresholds.

Each member needs the mini-clusters expressed in its own output classes. The paper (eq. 3)
maps a mini-cluster to the mode of the member's predictions on it; here the map is one-to-one
(Hungarian assignment on the counts), so two mini-clusters never land on the same class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from kingdra.graph import AgreementGraph

__all__ = [
    "PseudoLabelQuality",
    "match_mini_clusters",
    "member_pseudo_labels",
    "pseudo_label_quality",
    "pseudo_labels",
    "threshold_sweep",
]


def _check_clusters(clusters, n: int) -> list[np.ndarray]:
    if isinstance(clusters, np.ndarray) and clusters.dtype.kind in "iu" and clusters.ndim == 1:
        raise ValueError("clusters must be a list of index arrays, one per mini-cluster")
    out = []
    for i, cluster in enumerate(clusters):
        members = np.asarray(cluster)
        if members.size == 0:
            out.append(np.empty(0, dtype=np.int64))
            continue
        if members.ndim != 1 or members.dtype.kind not in "iu":
            raise ValueError(f"mini-cluster {i} must be a 1-D array of integer point indices")
        if members.min() < 0 or members.max() >= n:
            raise ValueError(f"mini-cluster {i} has indices outside 0..{n - 1} (n = {n} points)")
        out.append(members.astype(np.int64, copy=False))
    return out


def _check_classes(member_labels: np.ndarray, n_classes, what: str) -> int:
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)):
        raise ValueError(f"n_classes must be a positive integer; got {n_classes!r}")
    if n_classes < 1:
        raise ValueError(f"n_classes must be at least 1; got {n_classes}")
    if member_labels.dtype.kind not in "iu":
        raise ValueError(f"{what} must hold integer classes; got dtype {member_labels.dtype}")
    if member_labels.size and (member_labels.min() < 0 or member_labels.max() >= n_classes):
        raise ValueError(f"{what} must be classes in 0..{n_classes - 1} (n_classes = {n_classes})")
    return int(n_classes)


def match_mini_clusters(clusters, member_labels, n_classes) -> np.ndarray:
    """One-to-one (Hungarian) map from each mini-cluster to one member's output class.

    Parameters
    ----------
    clusters : list of array_like of int
        Mini-clusters as point indices.
    member_labels : array_like of int, shape (n,)
        One member's predicted class per point, in 0..n_classes-1.
    n_classes : int
        The member's number of output classes.

    Returns
    -------
    np.ndarray of int, shape (len(clusters),)
        The class of each mini-cluster, maximising the points whose prediction matches it.
        With more mini-clusters than classes, the ones left over get -1 (no class).

    Examples
    --------
    >>> match_mini_clusters([[0, 1], [2, 3]], np.array([2, 2, 0, 2]), 3).tolist()
    [2, 0]
    """
    member_labels = np.asarray(member_labels)
    if member_labels.ndim != 1:
        raise ValueError(f"member_labels must be 1-D (n,); got shape {member_labels.shape}")
    n_classes = _check_classes(member_labels, n_classes, "member_labels")
    clusters = _check_clusters(clusters, len(member_labels))
    counts = np.zeros((len(clusters), n_classes), dtype=np.int64)
    for i, members in enumerate(clusters):
        counts[i] = np.bincount(member_labels[members], minlength=n_classes)
    mapping = np.full(len(clusters), -1, dtype=np.int64)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    mapping[rows] = cols
    return mapping


def pseudo_labels(clusters, n) -> np.ndarray:
    """Pseudo-label per point: i for mini-cluster i, -1 for unlabelled.

    A point claimed by two or more mini-clusters (possible when ``t_pos + t_neg <= m``) is
    ambiguous and left unlabelled.

    Examples
    --------
    >>> pseudo_labels([[0, 1], [1, 3]], 5).tolist()
    [0, -1, -1, 1, -1]
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer (number of points); got {n!r}")
    clusters = _check_clusters(clusters, n)
    out = np.full(n, -1, dtype=np.int64)
    claims = np.zeros(n, dtype=np.int64)
    for i, members in enumerate(clusters):
        out[members] = i
        claims[members] += 1  # buffered: a repeated index within one cluster counts once
    out[claims > 1] = -1
    return out


@dataclass(frozen=True)
class PseudoLabelQuality:
    """How good the mini-clusters are as pseudo-labels, measured against ground truth.

    Attributes
    ----------
    precision : float
        Among pseudo-labelled points, the fraction whose true class is the majority true
        class of their mini-cluster (NaN when no point is labelled).
    coverage : float
        Pseudo-labelled points / n. A point in two mini-clusters is ambiguous and unlabelled.
    n_labelled : int
        Number of pseudo-labelled points.
    per_cluster : list of dict
        Per mini-cluster: ``size`` (all members), ``majority`` (most common true class of its
        members, the first in sorted order on ties) and ``purity`` (fraction of its members
        with that class; NaN for an empty mini-cluster).
    """

    precision: float
    coverage: float
    n_labelled: int
    per_cluster: list[dict]


def pseudo_label_quality(clusters, y_true) -> PseudoLabelQuality:
    """Precision (purity) and coverage of mini-clusters as pseudo-labels.

    Parameters
    ----------
    clusters : list of array_like of int
        Mini-clusters as node indices into ``y_true``.
    y_true : array_like, shape (n,)
        Ground-truth classes, any values.

    Examples
    --------
    >>> q = pseudo_label_quality([[0, 1, 2], [3, 4]], [0, 0, 1, 1, 1, 2])
    >>> round(q.precision, 3), round(q.coverage, 3), q.n_labelled
    (0.8, 0.833, 5)
    """
    y_true = np.asarray(y_true)
    if y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError(f"y_true must be a non-empty 1-D array; got shape {y_true.shape}")
    n = len(y_true)
    assigned = pseudo_labels(clusters, n)  # validates the indices
    _, true_idx = np.unique(y_true, return_inverse=True)
    true_idx = true_idx.ravel()
    true_values = np.unique(y_true)
    majority = np.full(len(clusters), -1, dtype=np.int64)
    per_cluster = []
    for i, cluster in enumerate(clusters):
        members = np.asarray(cluster, dtype=np.int64)
        if len(members) == 0:
            per_cluster.append({"size": 0, "majority": None, "purity": float("nan")})
            continue
        counts = np.bincount(true_idx[members], minlength=len(true_values))
        majority[i] = int(np.argmax(counts))
        per_cluster.append(
            {
                "size": int(len(members)),
                "majority": true_values[majority[i]].item(),
                "purity": float(counts[majority[i]] / len(members)),
            }
        )
    labelled = np.flatnonzero(assigned >= 0)
    correct = int((true_idx[labelled] == majority[assigned[labelled]]).sum())
    precision = correct / len(labelled) if len(labelled) else float("nan")
    return PseudoLabelQuality(float(precision), len(labelled) / n, int(len(labelled)), per_cluster)


def member_pseudo_labels(clusters, labels, n_classes) -> np.ndarray:
    """Pseudo-labels in every member's own classes, shape (n, m), -1 = unlabelled.

    Mini-cluster i becomes, for member j, the class ``match_mini_clusters(clusters,
    labels[:, j], n_classes)[i]``; ambiguous points and mini-clusters left without a class
    are -1.

    Examples
    --------
    >>> labels = np.array([[0, 1], [0, 1], [1, 0], [1, 0], [0, 0]])
    >>> member_pseudo_labels([[0, 1], [2, 3]], labels, 2).tolist()
    [[0, 1], [0, 1], [1, 0], [1, 0], [-1, -1]]
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be 2-D (n points, m members); got shape {labels.shape}")
    n_classes = _check_classes(labels, n_classes, "labels")
    assigned = pseudo_labels(clusters, labels.shape[0])
    labelled = assigned >= 0
    out = np.full(labels.shape, -1, dtype=np.int64)
    for j in range(labels.shape[1]):
        mapping = match_mini_clusters(clusters, labels[:, j], n_classes)
        out[labelled, j] = mapping[assigned[labelled]]
    return out


def threshold_sweep(
    labels,
    k,
    t_pos_values,
    t_neg_values,
    y_true=None,
    confidence=None,
    min_confidence=0.0,
) -> dict:
    """Run Algorithm 1 over a grid of thresholds and summarise each outcome.

    One `kingdra.graph.AgreementGraph` serves the whole grid: the signatures, their agreement
    and each ``t_pos``'s initial degrees are computed once.

    Parameters
    ----------
    labels : array_like of int, shape (n, m)
        Member predictions.
    k : int
        Mini-clusters asked for.
    t_pos_values, t_neg_values : sequence of int
        The grid, each value in 1..m.
    y_true : array_like, shape (n,), optional
        Ground truth; adds the ``precision`` grid.
    confidence, min_confidence
        As in `kingdra.graph.get_clusters`.

    Returns
    -------
    dict
        ``t_pos`` (P,), ``t_neg`` (Q,), and (P, Q) grids: ``coverage`` (pseudo-labelled
        fraction), ``n_labelled``, ``n_mini_clusters`` (can be below k) and, with ``y_true``,
        ``precision`` (NaN where nothing is labelled).

    Examples
    --------
    >>> labels = np.array([[0, 0], [0, 0], [1, 1], [1, 0]])
    >>> sweep = threshold_sweep(labels, 2, [1, 2], [1, 2])
    >>> sweep["n_mini_clusters"].tolist()
    [[2, 1], [2, 2]]
    """
    agreement = AgreementGraph(labels, confidence, min_confidence)
    n = agreement.n
    if y_true is not None:
        y_true = np.asarray(y_true)
        if y_true.shape != (n,):
            raise ValueError(f"y_true must have shape ({n},) like labels' rows; got {y_true.shape}")
    t_pos_values, t_neg_values = np.atleast_1d(t_pos_values), np.atleast_1d(t_neg_values)
    shape = (len(t_pos_values), len(t_neg_values))
    out = {
        "coverage": np.zeros(shape),
        "n_labelled": np.zeros(shape, dtype=np.int64),
        "n_mini_clusters": np.zeros(shape, dtype=np.int64),
    }
    if y_true is not None:
        out["precision"] = np.full(shape, np.nan)
    for a, t_pos in enumerate(t_pos_values):
        for b, t_neg in enumerate(t_neg_values):
            result = agreement.run(k, t_pos, t_neg, warn=False)
            assigned = pseudo_labels(result.clusters, n)
            n_labelled = int((assigned >= 0).sum())
            out["n_labelled"][a, b] = n_labelled
            out["coverage"][a, b] = n_labelled / n
            out["n_mini_clusters"][a, b] = len(result.clusters)
            if y_true is not None and n_labelled:
                out["precision"][a, b] = pseudo_label_quality(result.clusters, y_true).precision
    # Every value has passed run()'s checks: plain ints now.
    return {"t_pos": t_pos_values.astype(np.int64), "t_neg": t_neg_values.astype(np.int64), **out}
