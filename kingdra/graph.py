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
come from one of three exact methods:

- ``"subsets"`` (default when numba is installed; it comes with umap-learn): inclusion-exclusion
  over all column subsets T, ``#{j : agreement(i, j) >= t} = sum_{|T| >= t} (-1)^(|T|-t)
  C(|T|-1, t-1) A_T(i)`` with ``A_T(i)`` the number of nodes equal to ``i`` on the columns in
  T. A compiled depth-first walk refines groups one column at a time (a counting sort of
  bit-packed signatures); a group small against the subsets left below it is finished by
  comparing its members pairwise (``popcount`` of the packed XOR), which sums its whole
  subtree at once. O(u 2^m) at worst, the same for every threshold.
- ``"matmul"``: blocked one-hot matrix products between signatures (O(u^2 K) with K the
  summed label cardinalities, memory bounded by the block size);
- ``"masks"``: the same inclusion-exclusion written with numpy, one ``np.unique`` per subset,
  over wildcard masks of at most ``d = m - t_pos`` columns: fast when d is small.
  With ``N_S(i)`` the number of nodes agreeing with ``i`` outside the column set ``S``,
  ``#{j : disagreements(i, j) <= d} = sum_{|S| <= d} (-1)^(d-|S|) C(m-|S|-1, d-|S|) N_S(i)``.
  For ``t_pos = m`` this is just the count of identical signatures.

Removal only lowers degrees, so the anchor search is lazy: stale degrees are upper bounds, and
only the best candidates are recomputed until the best one is exact ("subsets" subtracts the
positive edges to the nodes removed since a candidate was last exact). For threshold sweeps,
`AgreementGraph` keeps one graph: the u x u agreement (int8, when small) and each ``t_pos``'s
initial degrees.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import combinations
from types import SimpleNamespace

import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "AgreementGraph",
    "GetClustersResult",
    "Step",
    "edges",
    "get_clusters",
    "load_kernels",
    "mini_clusters",
]

_BLOCK_ELEMENTS = 1 << 22  # float32 entries per agreement block (16 MB)
_CACHE_MAX_SIGNATURES = 6000  # int8 u x u agreement cached for sweeps below this (36 MB)
_ONEHOT_MAX_ENTRIES = 50_000_000  # (u, K) one-hot beyond this: compare columns instead
_MASKS_MAX_ENTRIES = 40_000_000  # signatures x masks slot ids held by "masks" (int32)
_SUBSETS_MAX_M = 16  # "subsets" walks 2^m column subsets at worst
_THREADS = 2  # "subsets" splits its walk between this many threads (at most the CPU count)
_THREAD_MIN_SIGNATURES = 4096  # ... when it has at least this many signatures
_RECOUNT_RATIO = 4  # "subsets": recount when the pairs to compare exceed this x remaining x 2^m
_REFRESH_RATIO = 2  # "subsets": recount every degree when a step removes over remaining / this


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
    method : str
        The exact method that counted the degrees: ``"subsets"`` (compiled, with numba),
        ``"masks"`` or ``"matmul"`` (numpy). All three give the same result; it says which
        one a run paid for (the graph benchmark prints it).
    """

    clusters: list[np.ndarray]
    steps: list[Step]
    initial_degree: np.ndarray
    t_pos: int
    t_neg: int
    k: int
    method: str


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

    @property
    def packed(self) -> tuple[np.ndarray, int] | None:
        """Each signature as one int64 (``bits`` per column), or None when it does not fit."""
        if not hasattr(self, "_packed"):
            bits = 1 << (max(1, (max(self.radix) - 1).bit_length()) - 1).bit_length()
            if bits * self.m > 63:
                self._packed = None
            else:
                code = np.zeros(self.u, dtype=np.int64)
                for j in range(self.m):
                    code |= self.sig[:, j].astype(np.int64) << (j * bits)
                self._packed = code, bits
        return self._packed

    def method_for(self, t_pos: int) -> str:
        """Pick the cheaper exact degree method (rough per-element costs on one CPU core)."""
        if self.m <= _SUBSETS_MAX_M and self.packed is not None and _compiled() is not None:
            return "subsets"
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
        if method not in _DEGREES:
            raise ValueError(
                f"method must be 'auto', 'subsets', 'masks' or 'matmul'; got {method!r}"
            )
        if (method, t_pos) in self._degrees:
            degrees, deg = self._degrees[method, t_pos]
            degrees.reset()
        else:
            degrees = _DEGREES[method](self, t_pos)
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
            exact = degrees.refresh()
            if exact is None:
                fresh[:] = False  # degrees are now upper bounds, recomputed lazily
            else:
                score = np.where(candidate, exact * (n + 1) + (n - first), -1)
            n_remaining -= len(removed)
            clusters.append(members)
            steps.append(Step(anchor, degree, members, removed, n_remaining))
        logger.debug("Algorithm 1: %d mini-clusters, method %s", len(clusters), method)
        return GetClustersResult(clusters, steps, initial_degree, t_pos, t_neg, k, method)


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

    def refresh(self) -> None:
        """Stale degrees stay stale (recomputed lazily)."""
        return None


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

    def refresh(self) -> None:
        """Stale degrees stay stale (recomputed lazily)."""
        return None


class _SubsetDegrees:
    """Degrees by inclusion-exclusion over every column subset, in compiled code (numba).

    Removal keeps the removed signatures in order; a candidate's degree is made exact by
    subtracting its positive edges to those removed since it was last exact, compared
    pairwise, or, when that would cost more, by recomputing every remaining degree.
    """

    def __init__(self, graph: _SignatureGraph, t_pos: int):
        packed, kernels = graph.packed, _compiled()
        if packed is None or kernels is None:
            raise ValueError("method 'subsets' needs numba and signatures that pack into 63 bits")
        self.graph, self.t_pos, self.kernels = graph, t_pos, kernels
        self.code, self.bits = packed
        self.low = sum(1 << (j * self.bits) for j in range(graph.m))  # lowest bit per column
        self._initial = None
        self.reset()

    def reset(self) -> None:
        """Back to the full graph."""
        self.weights = self.graph.counts.copy()
        self.removed = np.empty(0, dtype=np.int64)  # removed signatures, in removal order
        self.applied = np.zeros(self.graph.u, dtype=np.int64)  # removals already subtracted
        self.stale_weight = 0  # nodes removed by the last step
        if self._initial is not None:
            self.degree = self._initial.copy()

    def _count(self, groups: np.ndarray) -> np.ndarray:
        """Exact degrees of ``groups`` among the remaining signatures, from scratch."""
        rest = np.flatnonzero(self.weights)
        out = _subset_degrees(
            self.kernels, self.code, self.weights, rest, self.graph.m, self.bits, self.t_pos
        )
        return out[groups] - 1

    def initial(self) -> np.ndarray:
        self._initial = self._count(np.arange(self.graph.u))
        self.degree = self._initial.copy()
        return self._initial.copy()

    def degrees(self, groups: np.ndarray) -> np.ndarray:
        done = len(self.removed)
        since = self.applied[groups]
        pairs = int((done - since).sum())
        remaining = int(np.count_nonzero(self.weights))
        if pairs > _RECOUNT_RATIO * remaining << min(self.graph.m, 20):  # cheaper to recount
            self.degree[groups] = self._count(groups)
        else:
            for start in np.unique(since[since < done]):
                rows = groups[since == start]
                cols = self.removed[start:]
                self.degree[rows] -= self.kernels.positive_weight(
                    self.code[rows],
                    self.code[cols],
                    self.graph.counts[cols],
                    self.low,
                    self.bits,
                    self.graph.m - self.t_pos,
                )
        self.applied[groups] = done
        return self.degree[groups]

    def remove(self, groups: np.ndarray) -> None:
        """Drop signatures from the graph; degrees become stale upper bounds."""
        self.removed = np.concatenate([self.removed, groups])
        self.weights[groups] = 0
        self.stale_weight = int(self.graph.counts[groups].sum())

    def refresh(self) -> np.ndarray | None:
        """Every degree, exact, when the last step removed a large part of the graph (else None).

        After removing a large part of the graph most candidates' bounds are loose: one count
        of the (smaller) remaining graph beats rounds of lazy recomputation.
        """
        remaining = int(self.weights.sum())
        if remaining == 0 or self.stale_weight * _REFRESH_RATIO < remaining:
            return None
        rest = np.flatnonzero(self.weights)
        self.degree[rest] = self._count(rest)
        self.applied[:] = len(self.removed)
        self.stale_weight = 0
        return self.degree


def _subset_degrees(kernels, code, weights, rest, m: int, bits: int, t: int) -> np.ndarray:
    """``sum_j weights[j] [agreement(i, j) >= t]`` for the signatures ``rest`` (others 0).

    The walk's first sort (by each column c in turn) splits it into independent subtrees, one
    per (c, value); they are shared between threads by estimated work (size x 2^(m-1-c)).
    """
    out = np.zeros(len(code), dtype=np.int64)
    code, weights = code[rest], weights[rest]
    workers = min(_THREADS, os.cpu_count() or 1)
    if workers < 2 or len(rest) < _THREAD_MIN_SIGNATURES:
        kernels.subset_degrees(code, weights, rest, out, m, bits, t, 0, 0)
        return out
    tasks = []  # (work, column, members)
    for c in range(m):
        if 1 + m - 1 - c < t:
            break
        values = (code >> (c * bits)) & ((1 << bits) - 1)
        order = np.argsort(values, kind="stable")
        cuts = np.flatnonzero(np.diff(values[order])) + 1
        for members in np.split(order, cuts):
            tasks.append((len(members) << (m - 1 - c), c, members))
    tasks.sort(key=lambda task: -task[0])
    load, shares = [0] * workers, [[] for _ in range(workers)]
    for task in tasks:  # longest first, to the least loaded thread
        w = load.index(min(load))
        load[w] += task[0]
        shares[w].append(task)
    partial = [out] + [np.zeros_like(out) for _ in range(workers - 1)]

    def work(w: int) -> None:
        for _, c, members in shares[w]:
            kernels.subset_degrees(
                code[members], weights[members], rest[members], partial[w], m, bits, t, 1, c + 1
            )

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, range(workers)))
    return sum(partial[1:], out)


_DEGREES = {"subsets": _SubsetDegrees, "masks": _MaskDegrees, "matmul": _MatmulDegrees}


# --------------------------------------------------------------------------- compiled kernels
# Plain Python here; `_compiled` compiles them with numba on first use (numba caches the
# machine code on disk, so later processes only load it). Signatures are bit-packed: column j
# in bits [j * bits, (j + 1) * bits), bits a power of two, so ``x ^ y`` folded onto each
# column's lowest bit and counted with popcount gives the number of disagreeing columns.

_KERNELS = None


def _compiled():
    """The compiled kernels (a namespace), or None when numba is not installed.

    The first call in a process imports numba and loads the kernels from numba's on-disk cache
    (a few tenths of a second; compiling them, after an install or an edit, takes seconds).
    """
    global _KERNELS
    if _KERNELS is None:
        try:
            import numba
        except ImportError:
            logger.info("numba is not installed: Algorithm 1 uses the numpy degree methods")
            _KERNELS = False
        else:
            # Explicit signatures: compiled (or loaded from the cache) here, not on first call.
            jit = partial(numba.njit, cache=True, nogil=True)
            arr = "int64[::1]"
            counts = f"void({arr}, {arr}, {arr}, {arr}, int64, int64, int64, int64, int64)"
            pairs = f"{arr}({arr}, {arr}, {arr}, int64, int64, int64)"
            _KERNELS = SimpleNamespace(
                subset_degrees=jit(counts)(_subset_degrees_kernel),
                positive_weight=jit(pairs)(_positive_weight_kernel),
            )
    return _KERNELS or None


def _positive_weight_kernel(rows, cols, weights, low, bits, max_disagree):
    """For each packed row: the summed weight of the columns' signatures it agrees with."""
    out = np.zeros(rows.shape[0], np.int64)
    for r in range(rows.shape[0]):
        x = rows[r]
        total = 0
        for j in range(cols.shape[0]):
            z = x ^ cols[j]
            if bits > 1:
                z |= z >> 1
            if bits > 2:
                z |= z >> 2
            if bits > 4:
                z |= z >> 4
            if bits > 8:
                z |= z >> 8
            if bits > 16:
                z |= z >> 16
            z &= low
            z = z - ((z >> 1) & 0x5555555555555555)  # popcount
            z = (z & 0x3333333333333333) + ((z >> 2) & 0x3333333333333333)
            z = (((z + (z >> 4)) & 0x0F0F0F0F0F0F0F0F) * 0x0101010101010101) >> 56
            if z <= max_disagree:
                total += weights[j]
        out[r] = total
    return out


def _subset_degrees_kernel(code, weights, index, out, m, bits, t, s0, c0):
    """Add ``sum_j weights[j] [agreement(i, j) >= t]`` over a group to ``out[index[i]]``.

    The group (packed signatures equal on some s0 columns, all before column c0) is the root
    of a depth-first walk over the column subsets T' = T + U, U within columns c0..m-1, in
    increasing column order. A node is a group equal on its s columns; it adds ``coef[s] *
    W(group)`` to each member, ``coef[s] = (-1)^(s-t) C(s-1, t-1)`` for s >= t, and sorts its
    group (counting sort) by each column c0.. in turn, visiting each bucket as a child. Each
    depth has its own buffers: a node's group lies in ``packed[d][a:b]``, its children in
    ``packed[d + 1]``. A group of k signatures with r columns ahead is finished pairwise when
    k is small against the subsets below that reach t columns: ``sum_j w_j F[s, e_ij]``, e_ij
    the agreeing columns among the r, ``F[s, e] = sum_k C(e, k) coef[s + k]`` (its whole
    subtree at once).
    """
    u = code.shape[0]
    n_values = 1 << bits
    binom = np.zeros((m + 1, m + 1), np.int64)
    for x in range(m + 1):
        binom[x, 0] = 1
        for y in range(1, x + 1):
            binom[x, y] = binom[x - 1, y - 1] + binom[x - 1, y]
    coef = np.zeros(m + 1, np.int64)
    for s in range(t, m + 1):
        coef[s] = binom[s - 1, t - 1] if (s - t) % 2 == 0 else -binom[s - 1, t - 1]
    f_table = np.zeros((m + 1, m + 1), np.int64)
    for s in range(m + 1):
        for e in range(m + 1 - s):
            for k in range(e + 1):
                f_table[s, e] += binom[e, k] * coef[s + k]
    f_row = np.zeros(m + 1, np.int64)
    # Pairwise below a node when k <= 2 x the subsets under it that reach t columns.
    limit = np.zeros((m + 1, m + 1), np.int64)  # [s, r]
    for s in range(m + 1):
        for r in range(m + 1 - s):
            for j in range(max(0, t - s), r + 1):
                limit[s, r] += 2 * binom[r, j]
            limit[s, r] = min(limit[s, r], 4096)
    low = np.zeros(m + 1, np.int64)  # lowest bit of every column c0..m-1
    for c in range(m - 1, -1, -1):
        low[c] = low[c + 1] | (1 << (c * bits))
    depth = m + 1 - c0
    packed = np.empty((depth, u), np.int64)
    wts = np.empty((depth, u), np.int64)
    idx = np.empty((depth, u), np.int64)
    ends = np.zeros((depth, n_values + 1), np.int64)  # bucket ends of each depth's sort
    node_a = np.zeros(depth, np.int64)
    node_b = np.zeros(depth, np.int64)
    node_s = np.zeros(depth, np.int64)
    column = np.zeros(depth, np.int64)  # column of the current sort
    bucket = np.zeros(depth, np.int64)  # next bucket of it to visit
    packed[0] = code
    wts[0] = weights
    idx[0] = index
    d, a, b, s, c = 0, 0, u, s0, c0
    entering = True
    while True:
        if entering:
            entering = False
            r = m - c
            if b - a <= limit[s, r]:  # pairwise: k^2 pairs against ~k x subsets below
                keep = low[c]
                for e in range(r + 1):
                    f_row[e] = f_table[s, r - e]  # indexed by disagreements
                for p in range(a, b):
                    x = packed[d, p]
                    total = 0
                    for q in range(a, b):
                        z = x ^ packed[d, q]
                        if bits > 1:
                            z |= z >> 1
                        if bits > 2:
                            z |= z >> 2
                        if bits > 4:
                            z |= z >> 4
                        if bits > 8:
                            z |= z >> 8
                        if bits > 16:
                            z |= z >> 16
                        z &= keep
                        z = z - ((z >> 1) & 0x5555555555555555)  # popcount
                        z = (z & 0x3333333333333333) + ((z >> 2) & 0x3333333333333333)
                        z = (((z + (z >> 4)) & 0x0F0F0F0F0F0F0F0F) * 0x0101010101010101) >> 56
                        total += wts[d, q] * f_row[z]
                    out[idx[d, p]] += total
                d -= 1
                if d < 0:
                    break
            else:
                if coef[s] != 0:
                    own = 0
                    for p in range(a, b):
                        own += wts[d, p]
                    own *= coef[s]
                    for p in range(a, b):
                        out[idx[d, p]] += own
                node_a[d], node_b[d], node_s[d] = a, b, s
                column[d] = c - 1
                bucket[d] = n_values
        a, b, s = node_a[d], node_b[d], node_s[d]
        if bucket[d] >= n_values:  # this sort is done: sort by the next column
            c = column[d] + 1
            if c >= m or s + m - c < t:  # no subset below reaches t columns
                d -= 1
                if d < 0:
                    break
                continue
            column[d] = c
            bucket[d] = 0
            shift = c * bits
            mask = n_values - 1
            for v in range(n_values + 1):
                ends[d, v] = 0
            for p in range(a, b):
                ends[d, ((packed[d, p] >> shift) & mask) + 1] += 1
            for v in range(n_values):
                ends[d, v + 1] += ends[d, v]
            for p in range(a, b):
                v = (packed[d, p] >> shift) & mask
                q = a + ends[d, v]
                ends[d, v] += 1
                packed[d + 1, q] = packed[d, p]
                wts[d + 1, q] = wts[d, p]
                idx[d + 1, q] = idx[d, p]
        v = bucket[d]
        bucket[d] = v + 1
        start = ends[d, v - 1] if v > 0 else 0
        if ends[d, v] == start + 1:  # a single signature: all r columns ahead agree
            q = node_a[d] + start
            idx_q = idx[d + 1, q]
            out[idx_q] += wts[d + 1, q] * f_table[node_s[d] + 1, m - column[d] - 1]
        elif ends[d, v] > start:
            a, b, s, c = node_a[d] + start, node_a[d] + ends[d, v], node_s[d] + 1, column[d] + 1
            d += 1
            entering = True


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


class AgreementGraph:
    """The agreement graph of one set of votes, kept for Algorithm 1 at many thresholds.

    ``labels`` and the confidence gate are checked once; the distinct signatures, their
    agreement (when small) and each ``t_pos``'s initial degrees are kept between runs, so a
    threshold sweep pays for them once. Each :meth:`run` starts from the full graph again.

    Parameters
    ----------
    labels, confidence, min_confidence
        As in `get_clusters`.

    Examples
    --------
    >>> graph = AgreementGraph(np.array([[0, 0], [0, 0], [1, 1], [1, 0]]))
    >>> [len(graph.run(2, t_pos, 2).clusters) for t_pos in (1, 2)]
    [1, 2]
    """

    def __init__(self, labels, confidence=None, min_confidence=0.0):
        labels = _check_labels(labels)
        self.n, self.m = labels.shape  # points, members
        self._eligible = _check_confidence(confidence, min_confidence, labels.shape)
        self._signatures = _SignatureGraph(labels, reuse=True)

    def run(self, k, t_pos, t_neg, warn=True) -> GetClustersResult:
        """Algorithm 1 with these thresholds, as `get_clusters` with the same arguments.

        ``warn=False`` neither logs nor warns when fewer than k mini-clusters are found.
        """
        k = _check_int(
            "k", k, 1, self.n, f"the number of mini-clusters, at most n = {self.n} points"
        )
        t_pos, t_neg = _check_thresholds(t_pos, t_neg, self.m)
        return self._signatures.run(k, t_pos, t_neg, self._eligible, warn=warn)


def load_kernels() -> bool:
    """Load Algorithm 1's compiled kernels now (numba's import and cache); False without numba.

    Otherwise the first run pays for them (tenths of a second, seconds after an edit).
    """
    return _compiled() is not None


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
