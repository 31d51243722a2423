"""Agreement graph and Algorithm 1 (GetClusters) of the Kingdra paper.

With ``labels`` the n x m matrix ``L`` of the m ensemble members' predicted clusters,
``agreement(x, x') = #{members giving x and x' the same label}``. A strong positive edge
joins two distinct points when ``agreement >= t_pos``; a strong negative edge when
``m - agreement >= t_neg``.

Algorithm 1 repeats k times: pick the remaining node with the most strong-positive edges to
remaining nodes (ties: lowest index); the picked node (the *anchor*) and its strong-positive
neighbours among the remaining nodes form one mini-cluster; then every remaining node with no
strong-negative edge to the anchor is removed from the graph (the anchor itself included).
When ``t_pos + t_neg <= m`` a node can have both edges to the anchor: it joins the
mini-cluster and stays in the graph, so mini-clusters can overlap. That is the algorithm as
written, and it is followed here.

The agreement depends only on a point's *signature* (its row of ``L``), so the work is done on
the u distinct signatures, weighted by their counts, never on an n x n matrix. Initial degrees
come from one of two exact methods, picked by estimated cost:

- ``"matmul"``: blocked one-hot matrix products between signatures (O(u^2 K) with K the
  summed label cardinalities, memory bounded by the block size);
- ``"masks"``: inclusion-exclusion over wildcard masks, fast when ``d = m - t_pos`` is small.
  With ``N_S(i)`` the number of nodes agreeing with ``i`` outside the column set ``S``,
  ``#{j : disagreements(i, j) <= d} = sum_{|S| <= d} (-1)^(d-|S|) C(m-|S|-1, d-|S|) N_S(i)``.
  For ``t_pos = m`` this is just the count of identical signatures.

Removal only lowers degrees, so the anchor search is lazy: stale degrees are upper bounds, and
only the best candidates are recomputed until the best one is exact. Threshold sweeps keep
one graph: the u x u agreement (int8, when small) and each ``t_pos``'s initial degrees.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from itertools import combinations

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["GetClustersResult", "Step", "edges", "get_clusters", "mini_clusters"]

_BLOCK_ELEMENTS = 1 << 22  # float32 entries per agreement block (16 MB)
_CACHE_MAX_SIGNATURES = 6000  # int8 u x u agreement cached for sweeps below this (36 MB)
_ONEHOT_MAX_ENTRIES = 50_000_000  # (u, K) one-hot beyond this: compare columns instead
_MASKS_MAX_ENTRIES = 40_000_000  # signatures x masks slot ids held by "masks" (int32)


@dataclass(frozen=True)
class Step:
    """One pick of Algorithm 1.

    Attributes
    ----------
    anchor : int
        The picked node (most strong-positive edges to remaining nodes, lowest index on ties).
    degree : int
        Its number of strong-positive edges to remaining nodes when picked.
    members : np.ndarray
        The mini-cluster: the anchor first, then its strong-positive neighbours, ascending.
    removed : np.ndarray
        Nodes removed from the graph at this step (no strong-negative edge to the anchor),
        ascending, anchor included.
    remaining : int
        Nodes left in the graph after the step.
    """

    anchor: int
    degree: int
    members: np.ndarray
    removed: np.ndarray
    remaining: int


@dataclass(frozen=True)
class GetClustersResult:
    """Mini-clusters of Algorithm 1 with the trace that explains them.

    Attributes
    ----------
    clusters : list of np.ndarray
        The mini-clusters (``step.members`` of each step), at most k.
    steps : list of Step
        One entry per pick.
    initial_degree : np.ndarray
        Strong-positive degree of every node before the first pick, shape (n,).
    t_pos, t_neg, k : int
        The thresholds and the number of mini-clusters asked for.
    """

    clusters: list[np.ndarray]
    steps: list[Step]
    initial_degree: np.ndarray
    t_pos: int
    t_neg: int
    k: int


# --------------------------------------------------------------------------- validation


def _check_labels(labels) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 2:
        raise ValueError(
            f"labels must be a 2-D array of shape (n points, m members); got shape {arr.shape}"
        )
    if arr.dtype.kind not in "iu":
        raise ValueError(
            f"labels must hold integer cluster ids (e.g. probs.argmax(-1)); got dtype {arr.dtype}"
        )
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"labels needs at least one point and one member; got shape {arr.shape}")
    return arr


def _check_int(name: str, value, low: int, high: int, hint: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer in {low}..{high} ({hint}); got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in {low}..{high} ({hint}); got {value}")
    return int(value)


def _check_thresholds(t_pos, t_neg, m: int) -> tuple[int, int]:
    t_pos = _check_int("t_pos", t_pos, 1, m, f"m = {m} members")
    t_neg = _check_int("t_neg", t_neg, 1, m, f"m = {m} members")
    return t_pos, t_neg


def _check_confidence(confidence, min_confidence, shape) -> np.ndarray | None:
    """Return the boolean anchor eligibility per node, or None when every node may anchor."""
    try:
        min_confidence = float(min_confidence)
    except (TypeError, ValueError):
        raise ValueError(f"min_confidence must be a number; got {min_confidence!r}") from None
    if not math.isfinite(min_confidence):
        raise ValueError(f"min_confidence must be finite; got {min_confidence}")
    if confidence is None:
        if min_confidence > 0:
            raise ValueError(
                "min_confidence > 0 needs confidence: pass each member's max probability "
                "as an (n, m) array"
            )
        return None
    conf = np.asarray(confidence, dtype=np.float64)
    if conf.shape != tuple(shape):
        raise ValueError(
            f"confidence must have the shape of labels {tuple(shape)}; got {conf.shape}"
        )
    if np.isnan(conf).any():
        raise ValueError("confidence contains NaN; pass each member's max probability")
    return conf.min(axis=1) >= min_confidence


# --------------------------------------------------------------------------- signatures


def _compact_column(col: np.ndarray) -> tuple[np.ndarray, int]:
    """Relabel one column to 0..c-1 (order preserved); return codes and c."""
    lo, hi = int(col.min()), int(col.max())
    if hi - lo < 4 * col.size + 1024:
        present = np.zeros(hi - lo + 1, dtype=bool)
        present[col - lo] = True
        remap = np.cumsum(present) - 1
        return remap[col - lo].astype(np.int64), int(present.sum())
    values, codes = np.unique(col, return_inverse=True)
    return codes.astype(np.int64), len(values)


def _row_ids(codes: np.ndarray, radix: list[int]) -> np.ndarray:
    """Exact int64 id per row of ``codes`` (equal rows <-> equal ids), never overflowing."""
    n, m = codes.shape
    if m == 0:
        return np.zeros(n, dtype=np.int64)
    if math.prod(radix) < 2**62:
        key = np.zeros(n, dtype=np.int64)
        for j in range(m):
            key *= radix[j]
            key += codes[:, j]
        return key
    # Fold column by column, re-compacting the running id so products stay below n * c_j.
    key = codes[:, 0].copy()
    for j in range(1, m):
        key = np.unique(key * radix[j] + codes[:, j], return_inverse=True)[1].astype(np.int64)
    return key


class _SignatureGraph:
    """The agreement graph held as u distinct signatures with counts."""

    def __init__(self, labels: np.ndarray, reuse: bool = False):
        n, m = labels.shape
        columns = [_compact_column(labels[:, j]) for j in range(m)]
        codes = np.stack([c for c, _ in columns], axis=1)  # (n, m)
        self.radix = [r for _, r in columns]
        _, first, inverse, counts = np.unique(
            _row_ids(codes, self.radix), return_index=True, return_inverse=True, return_counts=True
        )
        self.n, self.m = n, m
        self.sig = codes[first]  # (u, m) one row per distinct signature
        self.counts = counts.astype(np.int64)  # (u,)
        self.inverse = inverse.reshape(-1)  # (n,) signature of each node
        self.first = first.astype(np.int64)  # lowest node index per signature
        self.u = len(counts)
        self._onehot = None
        self._agreement = None
        # With reuse (threshold sweeps), keep the agreement matrix when it is small and each
        # (method, t_pos)'s degree state with its initial degrees.
        self._reuse = reuse
        self._degrees = {}
        if reuse and self.u <= _CACHE_MAX_SIGNATURES:
            agreement = np.empty((self.u, self.u), dtype=np.int8)
            block = max(1, _BLOCK_ELEMENTS // self.u)
            for start in range(0, self.u, block):
                rows = slice(start, min(self.u, start + block))
                agreement[rows] = self._agreement_block(rows)
            self._agreement = agreement

    @property
    def onehot(self) -> np.ndarray:
        """(u, K) float32 one-hot of the signatures; ``onehot @ onehot.T`` is the agreement."""
        if self._onehot is None:
            offsets = np.concatenate([[0], np.cumsum(self.radix)[:-1]]).astype(np.int64)
            oh = np.zeros((self.u, int(sum(self.radix))), dtype=np.float32)
            rows = np.repeat(np.arange(self.u), self.m)
            oh[rows, (self.sig + offsets).ravel()] = 1.0
            self._onehot = oh
        return self._onehot

    def _agreement_block(self, rows, cols=None) -> np.ndarray:
        """Agreement of signatures ``rows`` with ``cols`` (default all), (b, c).

        Cached int8, or float32 holding exact small integers.
        """
        if self._agreement is not None:
            block = self._agreement[rows]
            return block if cols is None else block[:, cols]
        sig = self.sig[rows]
        other = self.sig if cols is None else self.sig[cols]
        # Few rows (lazy recomputes) or many label values: compare columns. Small products
        # are slow in a threaded BLAS on a busy machine, and a huge one-hot would not fit.
        if len(sig) <= 64 or sum(self.radix) * self.u > _ONEHOT_MAX_ENTRIES:
            out = np.zeros((len(sig), len(other)), dtype=np.float32)
            for j in range(self.m):
                out += sig[:, j, None] == other[None, :, j]
            return out
        oh = self.onehot
        return oh[rows] @ (oh if cols is None else oh[cols]).T

    def positive_mask(self, rows, t_pos: int, cols=None) -> np.ndarray:
        """float32 (b, c): 1 where signatures ``rows`` and ``cols`` have a positive edge."""
        agreement = self._agreement_block(rows, cols)
        out = agreement if agreement.dtype == np.float32 else np.empty(agreement.shape, np.float32)
        return np.greater_equal(agreement, t_pos, out=out, casting="unsafe")

    def agreement_row(self, g: int) -> np.ndarray:
        """Agreement of signature g with every signature, int (u,)."""
        if self._agreement is not None:
            return self._agreement[g]
        return (self.sig == self.sig[g]).sum(axis=1)

    def eligible_first(self, eligible: np.ndarray | None) -> np.ndarray:
        """Lowest eligible node per signature, or n where none is eligible."""
        if eligible is None:
            return self.first.copy()
        out = np.full(self.u, self.n, dtype=np.int64)
        nodes = np.flatnonzero(eligible)
        groups, where = np.unique(self.inverse[nodes], return_index=True)
        out[groups] = nodes[where]
        return out

    def nodes_of(self, group_mask: np.ndarray) -> np.ndarray:
        """Nodes whose signature is selected, ascending."""
        return np.flatnonzero(group_mask[self.inverse])

    def method_for(self, t_pos: int) -> str:
        """Pick the cheaper exact degree method (rough per-element costs on one CPU core)."""
        d = self.m - t_pos
        n_masks = sum(math.comb(self.m, s) for s in range(d + 1))
        if n_masks * self.u > _MASKS_MAX_ENTRIES:
            return "matmul"
        cost_masks = n_masks * self.u * (self.m + math.log2(self.u + 1)) * 8e-9
        if self._agreement is not None:
            cost_matmul = self.u * self.u * 3e-9
        else:
            cost_matmul = self.u * self.u * (sum(self.radix) * 1.5e-10 + 5e-9)
        return "masks" if cost_masks <= cost_matmul else "matmul"

    # ------------------------------------------------------------------ Algorithm 1

    def run(
        self,
        k: int,
        t_pos: int,
        t_neg: int,
        eligible: np.ndarray | None = None,
        method: str = "auto",
        warn: bool = True,
    ) -> GetClustersResult:
        n, m = self.n, self.m
        if method == "auto":
            method = self.method_for(t_pos)
        if method not in ("masks", "matmul"):
            raise ValueError(f"method must be 'auto', 'masks' or 'matmul'; got {method!r}")
        if (method, t_pos) in self._degrees:
            degrees, deg = self._degrees[method, t_pos]
            degrees.reset()
        else:
            degrees = (_MaskDegrees if method == "masks" else _MatmulDegrees)(self, t_pos)
            deg = degrees.initial()  # (u,) exact, other nodes only
            if self._reuse:
                self._degrees[method, t_pos] = degrees, deg
        initial_degree = deg[self.inverse]

        first = self.eligible_first(eligible)  # (u,) anchor candidate per signature, n = none
        candidate = first < n
        # One sortable score: more edges first, then the lower node index.
        score = np.where(candidate, deg * (n + 1) + (n - first), -1)
        fresh = np.ones(self.u, dtype=bool)
        remaining = np.ones(self.u, dtype=bool)
        n_remaining = n
        clusters, steps = [], []
        for _ in range(k):
            if not candidate.any():
                reason = (
                    "no nodes left in the graph"
                    if n_remaining == 0
                    else f"none of the {n_remaining} remaining nodes passes min_confidence"
                )
                if warn:
                    msg = (
                        f"Algorithm 1 found {len(clusters)} of k={k} mini-clusters ({reason}); "
                        f"lower t_neg (now {t_neg}) or min_confidence to get more"
                    )
                    logger.warning(msg)
                    warnings.warn(msg, stacklevel=3)
                break
            g = _select(score, fresh, first, degrees, n)
            anchor, degree = int(first[g]), int(score[g] // (n + 1))
            agreement = self.agreement_row(g)
            member_groups = remaining & (agreement >= t_pos)
            removed_groups = remaining & (agreement > m - t_neg)  # no strong-negative edge
            members = self.nodes_of(member_groups)
            members = np.concatenate([[anchor], members[members != anchor]])
            removed = self.nodes_of(removed_groups)
            remaining &= ~removed_groups
            candidate &= ~removed_groups
            score[removed_groups] = -1
            degrees.remove(np.flatnonzero(removed_groups))
            fresh[:] = False  # degrees are now upper bounds, recomputed lazily
            n_remaining -= len(removed)
            clusters.append(members)
            steps.append(Step(anchor, degree, members, removed, n_remaining))
        logger.debug("Algorithm 1: %d mini-clusters, method %s", len(clusters), method)
        return GetClustersResult(clusters, steps, initial_degree, t_pos, t_neg, k)


def _select(score, fresh, first, degrees, n: int) -> int:
    """The signature of the next anchor: best exact score, recomputing stale upper bounds."""
    batch = 1
    while True:
        top = int(np.argmax(score))
        if fresh[top]:
            return top
        stale = np.where(fresh, -1, score)
        n_stale = int(np.count_nonzero(stale >= 0))
        if n_stale <= batch:
            idx = np.flatnonzero(stale >= 0)
        else:
            idx = np.argpartition(stale, -batch)[-batch:]
        if len(idx) == 0:  # cannot happen while a candidate is left; never spin
            raise RuntimeError("anchor search found no candidate")
        deg = degrees.degrees(idx)
        score[idx] = deg * (n + 1) + (n - first[idx])
        fresh[idx] = True
        batch *= 2


class _MatmulDegrees:
    """Degrees from blocked agreement products; removal zeroes the removed weights."""

    def __init__(self, graph: _SignatureGraph, t_pos: int):
        self.graph, self.t_pos = graph, t_pos
        self.dtype = np.float32 if graph.n < 2**24 else np.float64  # exact integer sums
        self.reset()

    def reset(self) -> None:
        """Back to the full graph."""
        self.weights = self.graph.counts.astype(self.dtype)

    def _positive_weight(self, rows, cols=None) -> np.ndarray:
        positive = self.graph.positive_mask(rows, self.t_pos, cols)  # (b, c) float32 0/1
        weights = self.weights if cols is None else self.weights[cols]
        return np.rint(positive @ weights).astype(np.int64) - 1

    def initial(self) -> np.ndarray:
        u = self.graph.u
        block = max(1, _BLOCK_ELEMENTS // u)
        out = np.empty(u, dtype=np.int64)
        for start in range(0, u, block):
            rows = slice(start, min(u, start + block))
            out[rows] = self._positive_weight(rows)
        return out

    def degrees(self, groups: np.ndarray) -> np.ndarray:
        cols = np.flatnonzero(self.weights)  # only remaining signatures can be neighbours
        block = max(1, _BLOCK_ELEMENTS // max(1, len(cols)))
        parts = [
            self._positive_weight(groups[s : s + block], cols) for s in range(0, len(groups), block)
        ]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def remove(self, groups: np.ndarray) -> None:
        """Drop signatures from the graph; degrees become stale upper bounds."""
        self.weights[groups] = 0


class _MaskDegrees:
    """Degrees by inclusion-exclusion over wildcard masks of at most d = m - t_pos columns.

    Each (signature, mask) pair owns a slot id into one flat array of counts: the number of
    remaining nodes that share the signature's values outside the mask's columns.
    """

    def __init__(self, graph: _SignatureGraph, t_pos: int):
        m, d = graph.m, graph.m - t_pos
        self.graph = graph
        masks = [(s, wild) for s in range(d + 1) for wild in combinations(range(m), s)]
        self.coef = np.array([(-1) ** (d - s) * math.comb(m - s - 1, d - s) for s, _ in masks])
        small = graph.u * len(masks) < 2**31  # slot ids fit in int32
        self.ids = np.empty((graph.u, len(masks)), dtype=np.int32 if small else np.int64)
        n_slots, self.offsets = 0, []
        for i, (s, wild) in enumerate(masks):
            if s == 0:
                ids = np.arange(graph.u)  # signatures are already distinct
            else:
                keep = [j for j in range(m) if j not in wild]
                ids = _row_ids(graph.sig[:, keep], [graph.radix[j] for j in keep])
                ids = np.unique(ids, return_inverse=True)[1].reshape(-1)
            self.ids[:, i] = ids + n_slots
            self.offsets.append(n_slots)
            n_slots += int(ids.max()) + 1
        self.offsets.append(n_slots)
        self.reset()

    def reset(self) -> None:
        """Back to the full graph."""
        counts = self.graph.counts
        self.totals = np.zeros(
            self.offsets[-1], dtype=np.int32 if counts.sum() < 2**31 else np.int64
        )
        for i in range(self.ids.shape[1]):
            lo, hi = self.offsets[i], self.offsets[i + 1]
            self.totals[lo:hi] = np.bincount(self.ids[:, i] - lo, counts, hi - lo)

    def degrees(self, groups: np.ndarray) -> np.ndarray:
        block = max(1, _BLOCK_ELEMENTS // self.ids.shape[1])
        out = np.empty(len(groups), dtype=np.int64)
        for s in range(0, len(groups), block):
            counts = self.totals[self.ids[groups[s : s + block]]].astype(np.int64)
            out[s : s + block] = counts @ self.coef - 1
        return out

    def initial(self) -> np.ndarray:
        return self.degrees(np.arange(self.graph.u))

    def remove(self, groups: np.ndarray) -> None:
        """Drop signatures from the mask counts; degrees become stale upper bounds."""
        weights = np.repeat(self.graph.counts[groups], self.ids.shape[1])
        np.subtract.at(self.totals, self.ids[groups].ravel(), weights.astype(self.totals.dtype))


# --------------------------------------------------------------------------- public API


def get_clusters(labels, k, t_pos, t_neg, confidence=None, min_confidence=0.0) -> GetClustersResult:
    """Run Algorithm 1 (GetClusters) and keep the trace that explains it.

    Parameters
    ----------
    labels : array_like of int, shape (n, m)
        The m ensemble members' predicted clusters (any integer values per column).
    k : int
        Number of mini-clusters, 1 <= k <= n.
    t_pos, t_neg : int
        Strong positive edge when at least ``t_pos`` members agree; strong negative edge when
        at least ``t_neg`` members disagree. Both in 1..m.
    confidence : array_like of float, shape (n, m), optional
        Each member's max probability per point.
    min_confidence : float
        A node may anchor a mini-cluster only when its confidence is ``>= min_confidence`` in
        every member (the authors used ``> 0.9``; the two differ only at exactly 0.9).
        Degrees still count every remaining node. 0 (default) turns the gate off.

    Returns
    -------
    GetClustersResult
        ``clusters``, one ``Step`` per pick and ``initial_degree``. Fewer than k clusters (with
        a warning) when no node is left, or none left passes ``min_confidence``.

    Examples
    --------
    >>> labels = np.array([[0, 1], [0, 1], [1, 0], [1, 0], [1, 1]])
    >>> result = get_clusters(labels, k=2, t_pos=2, t_neg=2)
    >>> [c.tolist() for c in result.clusters]
    [[0, 1], [2, 3]]
    >>> result.steps[0].removed.tolist()
    [0, 1, 4]
    """
    labels = _check_labels(labels)
    n, m = labels.shape
    k = _check_int("k", k, 1, n, f"the number of mini-clusters, at most n = {n} points")
    t_pos, t_neg = _check_thresholds(t_pos, t_neg, m)
    eligible = _check_confidence(confidence, min_confidence, labels.shape)
    return _SignatureGraph(labels).run(k, t_pos, t_neg, eligible)


def mini_clusters(labels, k, t_pos, t_neg, confidence=None, min_confidence=0.0) -> list[np.ndarray]:
    """The k mini-clusters of Algorithm 1 as node index arrays (anchor first).

    Same parameters as `get_clusters`, which also returns the step-by-step trace.

    Examples
    --------
    >>> labels = np.array([[0, 0], [0, 0], [1, 1], [1, 1], [0, 1]])
    >>> [c.tolist() for c in mini_clusters(labels, k=2, t_pos=2, t_neg=2)]
    [[0, 1], [2, 3]]
    """
    return get_clusters(labels, k, t_pos, t_neg, confidence, min_confidence).clusters


def edges(labels, nodes, t_pos, t_neg) -> tuple[np.ndarray, np.ndarray]:
    """Strong positive and strong negative edges among a subset of nodes, for drawing.

    Parameters
    ----------
    labels : array_like of int, shape (n, m)
        Member predictions.
    nodes : array_like of int
        Distinct node indices (a few hundred to a few thousand).
    t_pos, t_neg : int
        Edge thresholds in 1..m.

    Returns
    -------
    pos_pairs, neg_pairs : np.ndarray of shape (e, 2)
        Pairs ``(i, j)`` of indices into ``labels`` with ``i`` before ``j`` in ``nodes``.

    Examples
    --------
    >>> labels = np.array([[0, 0], [0, 0], [1, 1]])
    >>> pos, neg = edges(labels, [0, 1, 2], t_pos=2, t_neg=2)
    >>> pos.tolist(), neg.tolist()
    ([[0, 1]], [[0, 2], [1, 2]])
    """
    labels = _check_labels(labels)
    n, m = labels.shape
    t_pos, t_neg = _check_thresholds(t_pos, t_neg, m)
    nodes = np.asarray(nodes)
    if nodes.ndim != 1 or (nodes.size and nodes.dtype.kind not in "iu"):
        raise ValueError("nodes must be a 1-D array of integer node indices")
    nodes = nodes.astype(np.int64)
    if nodes.size and (nodes.min() < 0 or nodes.max() >= n):
        raise ValueError(f"nodes must be indices in 0..{n - 1}")
    if len(np.unique(nodes)) != len(nodes):
        raise ValueError("nodes must not repeat an index")
    sub = labels[nodes]
    agreement = np.zeros((len(nodes), len(nodes)), dtype=np.int16)
    for j in range(m):
        agreement += sub[:, j, None] == sub[None, :, j]
    upper = np.triu(np.ones_like(agreement, dtype=bool), k=1)
    pos = np.argwhere(upper & (agreement >= t_pos))
    neg = np.argwhere(upper & (m - agreement >= t_neg))
    return nodes[pos].reshape(-1, 2), nodes[neg].reshape(-1, 2)
