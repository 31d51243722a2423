"""Clustering metrics: accuracy under the best one-to-one mapping, NMI, ARI, pseudo-label quality.

Labels may be any hashable values that numpy can sort (ints, negative ints, strings); the
predicted and true numbers of clusters may differ.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

# Pseudo-label precision and coverage are measured where pseudo-labels are made; listed here
# too, beside the other scores.
from kingdra.pseudo import PseudoLabelQuality, pseudo_label_quality

__all__ = [
    "PseudoLabelQuality",
    "ari",
    "best_mapping",
    "cluster_accuracy",
    "confusion",
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


def confusion(y_true, y_pred) -> tuple[np.ndarray, list, list]:
    """Confusion matrix with clusters ordered by the class they best map to (Hungarian).

    Returns the matrix (classes x clusters), the class values and the cluster values;
    clusters left without a class come last.

    Examples
    --------
    >>> mat, classes, clusters = confusion([0, 0, 1, 1, 1], [7, 7, 5, 5, 7])
    >>> mat.tolist(), classes, clusters
    ([[2, 0], [1, 2]], [0, 1], [7, 5])
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    clusters, classes, counts = _contingency(y_true, y_pred)
    mat = counts.T  # classes x clusters
    rows, cols = linear_sum_assignment(mat, maximize=True)
    order = list(cols[np.argsort(rows)])
    order += [c for c in range(len(clusters)) if c not in order]
    return mat[:, order], classes.tolist(), clusters[order].tolist()


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
