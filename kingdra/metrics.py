"""Clustering metrics: accuracy under the best one-to-one mapping, NMI, ARI, pseudo-label quality.

Labels may be any hashable values that numpy can sort (ints, negative ints, strings); the
predicted and true numbers of clusters may differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

__all__ = [
    "PseudoLabelQuality",
    "ari",
    "best_mapping",
    "cluster_accuracy",
    "nmi",
    "pseudo_label_quality",
]


def _check_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-D label arrays; got shapes {y_true.shape} and "
            f"{y_pred.shape}"
        )
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred must have the same length; got {len(y_true)} and {len(y_pred)}"
        )
    if len(y_true) == 0:
        raise ValueError("y_true and y_pred are empty: pass at least one labelled point")
    return y_true, y_pred


def _contingency(y_true, y_pred):
    """Unique values of each and the (n_pred, n_true) count matrix."""
    true_values, true_idx = np.unique(y_true, return_inverse=True)
    pred_values, pred_idx = np.unique(y_pred, return_inverse=True)
    counts = np.zeros((len(pred_values), len(true_values)), dtype=np.int64)
    np.add.at(counts, (pred_idx.ravel(), true_idx.ravel()), 1)
    return pred_values, true_values, counts


def best_mapping(y_true, y_pred) -> dict:
    """The one-to-one map from predicted to true clusters that matches the most points.

    Found with the Hungarian algorithm on the contingency matrix. When there are more
    predicted than true clusters, the predicted clusters left without a partner are absent
    from the dict (their points count as errors in `cluster_accuracy`).

    Examples
    --------
    >>> best_mapping([0, 0, 1, 1], ["b", "b", "a", "a"])
    {'a': 1, 'b': 0}
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    pred_values, true_values, counts = _contingency(y_true, y_pred)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return {pred_values[r].item(): true_values[c].item() for r, c in zip(rows, cols, strict=True)}


def cluster_accuracy(y_true, y_pred) -> float:
    """Clustering accuracy ACC: the fraction of points right under the best one-to-one mapping.

    Examples
    --------
    >>> cluster_accuracy([0, 0, 1, 1, 2], [5, 5, 7, 7, 7])
    0.8
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    _, _, counts = _contingency(y_true, y_pred)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(y_true))


def nmi(y_true, y_pred, average_method: str = "arithmetic") -> float:
    """Normalised mutual information (scikit-learn's, arithmetic mean of the entropies).

    ``average_method`` is passed to `sklearn.metrics.normalized_mutual_info_score`
    ("arithmetic", its default, or "geometric", "min", "max").
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    return float(normalized_mutual_info_score(y_true, y_pred, average_method=average_method))


def ari(y_true, y_pred) -> float:
    """Adjusted Rand index (scikit-learn's `adjusted_rand_score`)."""
    y_true, y_pred = _check_pair(y_true, y_pred)
    return float(adjusted_rand_score(y_true, y_pred))


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
    from kingdra.pseudo import pseudo_labels

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
