"""Merge over-clustered outputs back to ``k`` clusters along the input-space k-NN graph.

With ``overcluster = r`` every member has ``r * k`` output classes. Information maximisation
spreads the data evenly over them, so each fine cluster is a purer piece of one class than a
``k``-way split whose balance forces two classes together (digits: one style of "1" with the
8s). The fine clusters of the ensemble are then grouped into ``k`` by how often the input-space
nearest neighbours of one fine cluster fall in another:

    A[a, b] = #{(i, j): j in kNN(i), label(i) = a, label(j) = b}  (symmetrised, no diagonal)
    affinity = A[a, b] / sqrt(size_a * size_b)

With exactly ``2k`` non-empty fine clusters the groups are the pairs of a maximum-weight
perfect matching of that affinity; otherwise spectral clustering of it. A perfect matching
must pair every piece, so when one class got three pieces and another one, it forces two
unrelated pieces together; such a pair shares almost no neighbours (full MNIST: affinity
0.03 against 0.66 and 1.29 for each piece's best partner), and :func:`_repair_forced_pairs`
moves one of them to the group it is tied to.

This is an extension of the paper (``overcluster = 1`` turns it off); docs/benchmarks.md
measures it. :class:`OverClustering` is its one entry point in the engine.
"""

from __future__ import annotations

import warnings
from typing import Any

import networkx as nx
import numpy as np
from sklearn.cluster import SpectralClustering

from kingdra.alignment import aligned_mean


def fine_note(n_clusters: int, overcluster: int, k_name: str = "k = ") -> str:
    """Why Algorithm 1 wants more mini-clusters than the caller's k, or "" when it does not.

    With ``overcluster = r > 1`` every member has ``r * k`` fine clusters and Algorithm 1
    looks for one mini-cluster per fine cluster; the caller's k stays the number of clusters.
    ``k_name`` is how the caller calls k: the app's "k = ", the library's "n_clusters=".

    >>> fine_note(10, 2)
    'one per fine cluster: 2 for each of the k = 10 clusters'
    >>> fine_note(10, 2, "n_clusters=")
    'one per fine cluster: 2 for each of the n_clusters=10 clusters'
    >>> fine_note(10, 1)
    ''
    """
    if overcluster <= 1:
        return ""
    return f"one per fine cluster: {overcluster} for each of the {k_name}{n_clusters} clusters"


def merge_map(
    labels: np.ndarray,
    neighbors: np.ndarray,
    n_clusters: int,
    n_outputs: int,
    probs: np.ndarray | None = None,
    random_state: int = 0,
) -> np.ndarray:
    """Group ``n_outputs`` fine clusters into ``n_clusters``.

    Parameters
    ----------
    labels : (n,) int array
        Fine cluster of every row, in ``0..n_outputs-1``.
    neighbors : (n, q) int array
        Row indices of each row's ``q`` nearest neighbours (itself excluded).
    n_clusters : int
        ``k``, the number of groups wanted.
    n_outputs : int
        Number of fine clusters (some may be empty).
    probs : (n, n_outputs) array, optional
        Soft assignments; an empty fine cluster joins the group that holds most of its
        probability mass (else group 0).
    random_state : int
        Seed of the spectral step (k-means on the embedding).

    Returns
    -------
    (n_outputs,) int array: the group in ``0..n_clusters-1`` of every fine cluster.

    Examples
    --------
    >>> labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    >>> neighbors = np.array([[1], [2], [3], [0], [5], [6], [7], [4]])  # fine clusters 0-1, 2-3 linked
    >>> merge_map(labels, neighbors, 2, 4).tolist() in ([0, 0, 1, 1], [1, 1, 0, 0])
    True
    """
    labels = np.asarray(labels, dtype=np.int64)
    neighbors = np.asarray(neighbors, dtype=np.int64)
    if labels.ndim != 1 or neighbors.ndim != 2 or neighbors.shape[0] != labels.shape[0]:
        raise ValueError(
            f"labels must be (n,) and neighbors (n, q); got {labels.shape} and {neighbors.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= n_outputs):
        raise ValueError(f"labels must be in 0..{n_outputs - 1}")
    used = np.unique(labels)
    mapping = np.zeros(n_outputs, dtype=np.int64)
    if len(used) <= n_clusters:
        mapping[used] = np.arange(len(used))
    else:
        affinity = fine_affinity(labels, neighbors, used) + 1e-9  # + eps: one component
        if len(used) == 2 * n_clusters:
            groups = _repair_forced_pairs(_pairs(affinity), affinity)
        else:
            groups = _spectral(affinity, n_clusters, random_state)
        mapping[used] = groups
    empty = np.setdiff1d(np.arange(n_outputs), used)
    if len(empty) and probs is not None:
        row_group = mapping[labels]
        for u in empty:
            mass = np.bincount(row_group, weights=probs[:, u], minlength=n_clusters)
            mapping[u] = int(mass.argmax())
    return mapping


def fine_affinity(labels: np.ndarray, neighbors: np.ndarray, used: np.ndarray) -> np.ndarray:
    """(u, u) size-normalised count of k-NN edges between the fine clusters ``used``.

    ``labels`` (n,) must only hold values from ``used`` (sorted, as ``np.unique`` gives).
    """
    index = np.full(int(used.max()) + 1, -1, dtype=np.int64)
    index[used] = np.arange(len(used))
    fine = index[labels]
    size = np.bincount(fine, minlength=len(used)).astype(np.float64)
    counts = np.zeros((len(used), len(used)))
    np.add.at(counts, (np.repeat(fine, neighbors.shape[1]), fine[neighbors.ravel()]), 1.0)
    counts = counts + counts.T
    np.fill_diagonal(counts, 0.0)
    return counts / np.sqrt(np.outer(size, size))


def _pairs(affinity: np.ndarray) -> np.ndarray:
    """Two fine clusters per group: the maximum-weight perfect matching of the affinity.

    Information maximisation balances the outputs, so with ``2k`` fine clusters every class
    holds about two; the matching uses that prior and, unlike spectral clustering, cannot
    give one group three pieces and another one (seen on digits: 93 % -> 83 % ACC).
    """
    graph = nx.Graph()
    n = affinity.shape[0]
    for a in range(n):
        for b in range(a + 1, n):
            graph.add_edge(a, b, weight=float(affinity[a, b]))
    groups = np.zeros(n, dtype=np.int64)
    for g, (a, b) in enumerate(
        sorted(tuple(sorted(p)) for p in nx.max_weight_matching(graph, maxcardinality=True))
    ):
        groups[a] = groups[b] = g
    return groups


#: A matched pair is forced when its affinity is below this fraction of the smaller of its
#: two pieces' best affinities. Seen on the base ensembles of session 4's GPU runs (2 of
#: full MNIST, 3 of MNIST-5k): 0.047 for the one forced pair, >= 0.49 for all others.
FORCED_PAIR_RATIO = 0.2


def _repair_forced_pairs(groups: np.ndarray, affinity: np.ndarray) -> np.ndarray:
    """Split pairs the perfect matching forced together; the better-tied piece moves.

    For each forced pair (weakest first), each piece's tie to another group is its mean
    affinity to that group's pieces; the piece with the strongest tie joins that group and
    the other piece stays alone, so the number of groups is unchanged.
    """
    groups = groups.copy()
    off = affinity.copy()
    np.fill_diagonal(off, 0.0)
    best = off.max(axis=1)
    labels = np.unique(groups)
    forced = [
        (off[a, b], a, b)
        for a, b in (np.flatnonzero(groups == g) for g in labels)
        if off[a, b] < FORCED_PAIR_RATIO * min(best[a], best[b])
    ]
    for _, a, b in sorted(forced):
        _, piece, target = max(
            (float(off[piece, groups == g].mean()), int(piece), int(g))
            for piece in (a, b)
            for g in labels
            if g != groups[piece]
        )
        groups[piece] = target
    return groups


def _spectral(affinity: np.ndarray, n_clusters: int, random_state: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "graph is not fully connected"
        return SpectralClustering(
            n_clusters, affinity="precomputed", random_state=random_state
        ).fit_predict(affinity)


def merge_probs(probs: np.ndarray, mapping: np.ndarray, n_clusters: int) -> np.ndarray:
    """(..., n_outputs) fine probabilities -> (..., n_clusters), argmax-consistent.

    A cluster's score is the largest probability among its fine clusters, renormalised over
    clusters, so that ``argmax`` of the result is always ``mapping[argmax(probs)]``. (Summing
    would let a cluster that collects many nearly empty fine clusters win rows it does not
    hold.)
    """
    out = np.zeros(probs.shape[:-1] + (n_clusters,), dtype=probs.dtype)
    for fine, group in enumerate(mapping):
        np.maximum(out[..., group], probs[..., fine], out=out[..., group])
    total = out.sum(axis=-1, keepdims=True)
    return out / np.where(total > 0, total, 1)


class OverClustering:
    """Over-clustering's one entry point: the engine holds one when ``overcluster > 1``.

    ``probs`` are the (m', n, r*k) probabilities of the members that make the final clusters
    (one for ``stage="single"``), ``alignment`` all members' class orders (m, r*k).
    """

    def __init__(self, n_clusters: int, overcluster: int, seed: int = 0) -> None:
        self.n_clusters, self.overcluster, self.seed = n_clusters, overcluster, seed
        self.groups: np.ndarray | None = None  # (m, r*k) member's class -> final cluster

    def fit(self, probs: np.ndarray, alignment: np.ndarray, neighbors: np.ndarray) -> None:
        """Merge the aligned average's fine clusters along the k-NN graph (:func:`merge_map`).

        Done once, after the base phase, where the merge is most reliable (the iterations
        sharpen the fine clusters, and their pieces of one class share fewer neighbours);
        each member keeps the map for the rest of the run.
        """
        fine = aligned_mean(probs, alignment)
        k, n_outputs = self.n_clusters, self.overcluster * self.n_clusters
        groups = merge_map(fine.argmax(axis=1), neighbors, k, n_outputs, fine, self.seed)
        self.groups = groups[np.argsort(alignment, axis=1)]  # member's class -> final

    def final_probs(self, probs: np.ndarray) -> np.ndarray:
        """(n, k): each member's fine probabilities merged (:func:`merge_probs`), averaged."""
        groups, k = self._fitted(), self.n_clusters
        return np.mean([merge_probs(p, groups[j], k) for j, p in enumerate(probs)], axis=0)

    def final_labels(self, member_labels: np.ndarray) -> np.ndarray:
        """(n, m) member labels (fine classes) -> each member's final clusters."""
        groups = self._fitted()
        return groups[np.arange(len(groups)), member_labels]

    def summary(self, probs: np.ndarray, alignment: np.ndarray, neighbors: np.ndarray) -> dict:
        """``fine`` (n,) each row's aligned fine cluster, ``used`` the non-empty fine clusters,
        ``sizes`` their rows, ``groups`` their final cluster, ``affinity`` (u, u) their
        :func:`fine_affinity`."""
        groups = self._fitted()[0][alignment[0]]  # aligned fine class -> final
        fine = aligned_mean(probs, alignment).argmax(axis=1)
        used = np.unique(fine)
        sizes = np.bincount(fine, minlength=self.overcluster * self.n_clusters)[used]
        affinity = fine_affinity(fine, neighbors, used)
        return dict(fine=fine, used=used, sizes=sizes, groups=groups[used], affinity=affinity)

    def note(self) -> str:
        """:func:`fine_note` in the library's words, in brackets after a count in a message."""
        return f" ({fine_note(self.n_clusters, self.overcluster, 'n_clusters=')})"

    def state_dict(self) -> dict[str, np.ndarray]:
        """The checkpoint's ``member_groups`` tensor, once fitted (:meth:`load_state_dict`)."""
        return {} if self.groups is None else {"member_groups": self.groups}

    def load_state_dict(self, tensors: dict[str, Any]) -> None:
        if "member_groups" in tensors:
            self.groups = np.asarray(tensors["member_groups"]).astype(np.int64)

    def _fitted(self) -> np.ndarray:
        if self.groups is None:
            raise ValueError("no merge yet: call train_base() (or predict()) first")
        return self.groups
