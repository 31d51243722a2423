"""The members' consensus partition: average linkage on how often two rows share a cluster.

Evidence accumulation (Fred & Jain, 2005): the distance between two rows is the fraction of
members that put them in different clusters (the Hamming distance of their label vectors),
and average linkage cut at ``k`` clusters gives the partition the members agree on. It is
the graph's pairwise view of the votes (:mod:`kingdra.graph` counts the same agreements),
turned into a full partition: a reference that every member's classes can be matched to
before their probabilities are averaged (:func:`kingdra.alignment.align_members`), in place
of the medoid member (``benchmarks.consensus`` measures both).

Why: where the members split the data in different places, the medoid member carries its own
mistakes into the reference, and the average keeps them; the pairwise agreement does not
(docs/benchmarks.md: MNIST-5k on the representation, seed 6, 87.4 % with the medoid
against 92.4 with this reference).

Rows with the same labels in every member (*atoms*) are at distance 0 and merge first, so
the linkage runs on the atoms weighted by their sizes, which is the same clustering as on the
rows: on MNIST-5k's representation 10 members give 89 to 147 atoms for 5,000 rows. The
nearest-neighbour chain finds the merges in ``O(a^2)`` time and memory for ``a`` atoms;
above :data:`MAX_ATOMS` the caller falls back to the medoid.
"""

from __future__ import annotations

import numpy as np

#: Atoms above which the linkage's ``a x a`` distances (8 bytes each) are not built.
MAX_ATOMS = 6000


def atoms(member_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct label vectors of ``member_labels`` (n, m): ``(vectors, row -> atom, sizes)``.

    >>> vectors, inverse, sizes = atoms(np.array([[0, 1], [0, 1], [1, 0]]))
    >>> vectors.tolist(), inverse.tolist(), sizes.tolist()
    ([[0, 1], [1, 0]], [0, 0, 1], [2, 1])
    """
    vectors, inverse, sizes = np.unique(
        member_labels, axis=0, return_inverse=True, return_counts=True
    )
    return vectors, inverse.reshape(-1), sizes


def _average_linkage(distance: np.ndarray, weights: np.ndarray) -> list[tuple[float, int, int]]:
    """Every merge ``(height, i, j)`` of weighted average linkage (UPGMA), by the NN chain.

    ``distance`` (a, a) is overwritten. Cluster ``i`` keeps its index after absorbing ``j``.
    """
    a = len(weights)
    weights = weights.astype(np.float64)
    np.fill_diagonal(distance, np.inf)
    active = np.ones(a, dtype=bool)
    merges: list[tuple[float, int, int]] = []
    chain: list[int] = []
    for _ in range(a - 1):
        while True:
            if not chain:
                chain.append(int(np.flatnonzero(active)[0]))
            x = chain[-1]
            row = distance[x]
            y = int(np.argmin(row))
            if len(chain) > 1 and row[chain[-2]] <= row[y]:
                y = chain[-2]  # ties go back down the chain, so it always ends
            if len(chain) > 1 and y == chain[-2]:
                break
            chain.append(y)
        chain.pop()
        chain.pop()
        height = float(distance[x, y])
        merged = (weights[x] * distance[x] + weights[y] * distance[y]) / (weights[x] + weights[y])
        distance[x], distance[:, x] = merged, merged
        distance[y], distance[:, y] = np.inf, np.inf
        distance[x, x] = np.inf
        weights[x] += weights[y]
        active[y] = False
        merges.append((height, x, y))
    return merges


def coassociation_labels(member_labels: np.ndarray, k: int) -> np.ndarray | None:
    """(n,) consensus clusters ``0..k-1`` of the members' labels (n, m), or ``None`` when
    there are more than :data:`MAX_ATOMS` atoms.

    Fewer than ``k`` atoms give fewer clusters. Ties between equal heights break by index,
    so the result is deterministic.

    >>> labels = np.array([[0, 0], [0, 0], [1, 1], [1, 2], [2, 2]])
    >>> coassociation_labels(labels, 2).tolist()
    [0, 0, 1, 1, 1]
    """
    vectors, inverse, sizes = atoms(np.asarray(member_labels))
    a = len(sizes)
    if a > MAX_ATOMS:
        return None
    distance = (vectors[:, None, :] != vectors[None, :, :]).mean(axis=2)
    parent = np.arange(a)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    merges = sorted(_average_linkage(distance, sizes), key=lambda merge: merge[0])
    for _, i, j in merges[: max(a - k, 0)]:
        parent[root(j)] = root(i)
    roots = np.array([root(i) for i in range(a)])
    # number the clusters by their first row, so that the labels are 0..k-1
    _, first = np.unique(roots[inverse], return_index=True)
    order = np.argsort(first)
    names = np.empty(a, dtype=np.int64)
    for label, cluster in enumerate(np.unique(roots[inverse])[order]):
        names[roots == cluster] = label
    return names[inverse]
