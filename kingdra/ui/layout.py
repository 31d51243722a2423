"""2-D node positions for the strong-edge graph.

``agreement_layout`` is the default: k cluster vertices on a circle, every node at the vertex
of its members' majority (aligned) vote and pulled towards its second choice by that
choice's share, so a node on which all m members agree sits at its cluster's vertex and a
disputed node sits between the two clusters it is torn between. It costs O(n m) for all n nodes, so the sample and the
thresholds can change without moving any node. networkx's spring layout took 11 s for 1,000
nodes on the project's 2-core machine, so the force-directed option is for small samples only
(:data:`SPRING_MAX_NODES`).
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from kingdra import lazy
from kingdra.engine import align_members
from kingdra.plots import limit_pairs

# From 500 nodes networkx's spring layout leaves its dense solver for a sparse "energy" one:
# 2.3 s at 500 nodes against 1.2 s at 499 and 0.45 s at 400 (2-core CPU, load 3.5), so the
# force-directed option stays under a second at 400 nodes.
SPRING_MAX_NODES = 400


def aligned_votes(member_labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(n, m) member labels mapped onto member 0's classes (Hungarian on co-occurrence)."""
    labels = np.asarray(member_labels, dtype=np.int64)
    order = align_members(labels, n_classes)  # member j's class order[j, a] ~ member 0's a
    inverse = np.empty_like(order)
    rows = np.arange(order.shape[0])[:, None]
    inverse[rows, order] = np.arange(order.shape[1])[None, :]
    return inverse[np.arange(labels.shape[1])[None, :], labels]


def agreement_layout(
    member_labels: np.ndarray, n_classes: int, seed: int = 0, jitter: float = 0.04
) -> np.ndarray:
    """Positions of all n nodes from the members' aligned votes (see the module docstring).

    A node sits at the vertex of its majority vote, pulled towards the vertex of its second
    choice by that choice's share of the votes (at most half way), with a seeded jitter that
    grows as agreement falls: unanimous nodes form tight blobs, disputed ones drift out.

    Returns
    -------
    ndarray (n, 2)
    """
    votes = aligned_votes(member_labels, n_classes)
    n, m = votes.shape
    angle = 2 * np.pi * np.arange(n_classes) / n_classes
    vertices = np.stack([np.cos(angle), np.sin(angle)], axis=1)  # (k, 2)
    fractions = np.zeros((n, n_classes))
    np.add.at(fractions, (np.repeat(np.arange(n), m), votes.ravel()), 1.0 / m)
    order = np.argsort(-fractions, axis=1, kind="stable")
    first, second = order[:, 0], order[:, 1]
    rows = np.arange(n)
    share = fractions[rows, second][:, None]  # (n, 1), at most 0.5
    pos = vertices[first] + (vertices[second] - vertices[first]) * share
    rng = np.random.default_rng(seed)
    spread = jitter * (1.0 + 2.0 * (1.0 - fractions[rows, first]))[:, None]
    return pos + rng.normal(size=(n, 2)) * spread


def spring_layout(
    n_nodes: int, pos_pairs: np.ndarray, seed: int = 0, max_edges: int = 5_000
) -> np.ndarray:
    """Force-directed positions of a small node sample from its positive edges (networkx).

    Parameters
    ----------
    n_nodes : int
        At most :data:`SPRING_MAX_NODES`.
    pos_pairs : ndarray (e, 2)
        Local indices; a seeded sample of ``max_edges`` of them is used.
    """
    if n_nodes > SPRING_MAX_NODES:
        raise ValueError(
            f"the force-directed layout is limited to {SPRING_MAX_NODES} nodes (got {n_nodes}); "
            "use a smaller sample or the agreement / UMAP layout"
        )
    if n_nodes == 0:
        return np.zeros((0, 2))
    kept, _ = limit_pairs(pos_pairs, max_edges, seed)
    graph = nx.Graph()
    graph.add_nodes_from(range(n_nodes))
    graph.add_edges_from(map(tuple, kept.tolist()))
    pos = nx.spring_layout(graph, seed=seed, iterations=30)
    return np.array([pos[i] for i in range(n_nodes)], dtype=float)


def umap_layout(features: np.ndarray, seed: int = 0, n_neighbors: int = 15) -> np.ndarray:
    """2-D UMAP of ``features`` (ensemble probabilities or a learned representation)."""
    features = np.asarray(features, dtype=np.float32)
    if len(features) <= n_neighbors + 1:
        raise ValueError(f"UMAP needs more than {n_neighbors + 1} points, got {len(features)}")
    reducer = lazy.umap().UMAP(n_components=2, n_neighbors=n_neighbors, random_state=seed, n_jobs=1)
    return reducer.fit_transform(features)
