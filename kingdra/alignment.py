"""Aligning the members' classes: each member numbers its clusters its own way.

Before votes are averaged, each member's classes are mapped onto a common labelling by a
Hungarian matching of label co-occurrences (:func:`align_members`).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def _match(reference: np.ndarray, labels: np.ndarray, n_classes: int) -> tuple[np.ndarray, int]:
    """Hungarian map of ``labels``' classes onto ``reference``'s; returns (order, agreement)."""
    co = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(co, (reference, labels), 1)
    rows, cols = linear_sum_assignment(-co)
    order = np.arange(n_classes)
    order[rows] = cols
    return order, int(co[rows, cols].sum())


def align_members(
    member_labels: np.ndarray,
    n_classes: int,
    reference: int | None = 0,
    probs: np.ndarray | None = None,
    refine: int = 0,
) -> np.ndarray:
    """Permutations that map each member's classes onto a common labelling.

    Parameters
    ----------
    member_labels : (n, m) int array
    n_classes : int
    reference : int or None
        Member whose classes are the common labelling. ``None`` picks the medoid: the member
        that agrees most (after matching) with all the others, so that one poor member
        cannot drag the whole ensemble onto its partition.
    probs : (m, n, k) array, optional
        Needed for ``refine``.
    refine : int
        Rounds of re-matching every member to the current consensus (argmax of the aligned
        average of ``probs``).

    Returns
    -------
    (m, n_classes) int array ``order``: member ``j``'s class ``order[j, a]`` corresponds to
    common class ``a``, so ``probs[j][:, order[j]]`` is aligned.
    """
    n, m = member_labels.shape
    if reference is None:
        agreement = np.zeros((m, m))
        for a in range(m):
            for b in range(a + 1, m):
                agreement[a, b] = agreement[b, a] = _match(
                    member_labels[:, a], member_labels[:, b], n_classes
                )[1]
        reference = int(agreement.sum(axis=1).argmax())
    ref = member_labels[:, reference]
    order = np.stack([_match(ref, member_labels[:, j], n_classes)[0] for j in range(m)])
    for _ in range(refine if probs is not None else 0):
        consensus = aligned_mean(probs, order).argmax(axis=1)
        order = np.stack([_match(consensus, member_labels[:, j], n_classes)[0] for j in range(m)])
    return order


def aligned_mean(probs: np.ndarray, order: np.ndarray) -> np.ndarray:
    """(n, k) average of members' probabilities (m', n, k), aligned by ``order``'s first m' rows."""
    return np.mean([p[:, order[j]] for j, p in enumerate(probs)], axis=0)
