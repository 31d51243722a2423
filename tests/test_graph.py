"""kingdra.graph against a brute-force Algorithm 1 written plainly from the paper."""

import math
import warnings
from itertools import combinations

import numpy as np
import pytest

from kingdra import graph
from kingdra.graph import edges, get_clusters, mini_clusters


def brute_force(labels, k, t_pos, t_neg, confidence=None, min_confidence=0.0):
    """Algorithm 1 line by line on the full n x n agreement matrix."""
    n, m = labels.shape
    agreement = np.zeros((n, n), dtype=np.int64)
    for j in range(m):
        agreement += labels[:, j, None] == labels[None, :, j]
    positive = agreement >= t_pos
    np.fill_diagonal(positive, False)  # an edge joins two distinct points
    negative = (m - agreement) >= t_neg
    if confidence is None:
        eligible = np.ones(n, dtype=bool)
    else:
        eligible = (confidence >= min_confidence).all(axis=1)
    in_graph = np.ones(n, dtype=bool)
    initial_degree = positive.sum(axis=1)
    steps = []
    for _ in range(k):
        degree = (positive & in_graph[None, :]).sum(axis=1)
        best = -1
        for x in range(n):  # line 4: argmax over remaining nodes, first index on ties
            if in_graph[x] and eligible[x] and (best < 0 or degree[x] > degree[best]):
                best = x
        if best < 0:
            break
        others = [x for x in range(n) if in_graph[x] and positive[x, best]]  # line 5
        members = [best] + others
        removed = [x for x in range(n) if in_graph[x] and not negative[x, best]]  # lines 6-7
        in_graph[removed] = False
        steps.append((best, int(degree[best]), members, removed, int(in_graph.sum())))
    return steps, initial_degree


def random_ensemble(rng, n, m, n_classes, flip, cardinality):
    """m members agreeing with a hidden truth except on a `flip` fraction of points."""
    truth = rng.integers(0, n_classes, n)
    labels = np.empty((n, m), dtype=np.int64)
    for j in range(m):
        perm = rng.permutation(max(n_classes, cardinality))
        col = perm[truth]
        flips = rng.random(n) < flip
        col[flips] = rng.integers(0, cardinality, flips.sum())
        labels[:, j] = col
    # Arbitrary integer values per column: labels need not be 0..c-1.
    labels = labels * rng.integers(1, 5, m) - rng.integers(-3, 1000, m)
    return labels


def assert_same(result, reference):
    steps, initial_degree = reference
    np.testing.assert_array_equal(result.initial_degree, initial_degree)
    assert len(result.steps) == len(steps) == len(result.clusters)
    for step, cluster, (anchor, degree, members, removed, remaining) in zip(
        result.steps, result.clusters, steps, strict=True
    ):
        assert step.anchor == anchor
        assert step.degree == degree
        np.testing.assert_array_equal(step.members, members)
        np.testing.assert_array_equal(cluster, members)
        np.testing.assert_array_equal(step.removed, removed)
        assert step.remaining == remaining


def run_both_methods(labels, k, t_pos, t_neg, eligible=None):
    sg = graph._SignatureGraph(labels)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in ("subsets", "matmul", "masks"):
            if (
                method == "masks"
                and sum(math.comb(sg.m, s) for s in range(sg.m - t_pos + 1)) > 4000
            ):
                continue  # too many masks for a fast test; covered at smaller m
            out[method] = sg.run(k, t_pos, t_neg, eligible, method=method)
    return out


CASES = [  # (n, m, k, n_classes, flip, cardinality)
    (30, 1, 2, 3, 0.0, 3),
    (200, 1, 10, 4, 0.3, 4),
    (300, 2, 2, 3, 0.2, 3),
    (400, 2, 10, 2, 0.5, 2),
    (500, 5, 10, 10, 0.1, 10),
    (500, 5, 20, 3, 0.4, 3),
    (800, 10, 10, 10, 0.1, 10),
    (600, 10, 20, 4, 0.3, 4),
    (400, 15, 20, 10, 0.1, 10),
    (300, 15, 2, 2, 0.2, 2),
    pytest.param((2000, 10, 10, 10, 0.1, 10), marks=pytest.mark.slow),
    pytest.param((2000, 5, 20, 3, 0.3, 3), marks=pytest.mark.slow),
]


@pytest.mark.parametrize("case", CASES)
def test_matches_brute_force_across_thresholds(case):
    n, m, k, n_classes, flip, cardinality = case
    rng = np.random.default_rng(n * 31 + m * 7 + k)
    labels = random_ensemble(rng, n, m, n_classes, flip, cardinality)
    pairs = {(m, m), (m, 1), (1, m), (1, 1), (max(1, m - 1), max(1, m // 2))}
    pairs |= {(int(a), int(b)) for a, b in rng.integers(1, m + 1, (3, 2))}
    for t_pos, t_neg in sorted(pairs):
        reference = brute_force(labels, k, t_pos, t_neg)
        for result in run_both_methods(labels, k, t_pos, t_neg).values():
            assert_same(result, reference)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert_same(get_clusters(labels, k, t_pos, t_neg), reference)


@pytest.mark.parametrize("seed", range(6))
def test_matches_brute_force_with_confidence_gating(seed):
    rng = np.random.default_rng(100 + seed)
    n, m = int(rng.integers(50, 700)), int(rng.choice([2, 5, 10]))
    labels = random_ensemble(rng, n, m, 5, 0.2, 5)
    confidence = rng.uniform(0.3, 1.0, (n, m))
    confidence[rng.random(n) < 0.2] = 0.9  # exactly at the threshold: >= lets it anchor
    for t_pos, t_neg in [(m, m), (max(1, m - 1), m), (max(1, m - 2), max(1, m // 2))]:
        for min_confidence in (0.0, 0.5, 0.9):
            reference = brute_force(labels, 10, t_pos, t_neg, confidence, min_confidence)
            eligible = (confidence >= min_confidence).all(axis=1)
            for result in run_both_methods(labels, 10, t_pos, t_neg, eligible).values():
                assert_same(result, reference)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = get_clusters(labels, 10, t_pos, t_neg, confidence, min_confidence)
            assert_same(result, reference)


def test_ties_go_to_lowest_index():
    # Two identical groups of size 3 (same degree); the first by index must anchor.
    labels = np.array([[1, 1], [0, 0], [1, 1], [0, 0], [1, 1], [0, 0], [2, 2]])
    result = get_clusters(labels, 2, t_pos=2, t_neg=2)
    assert [s.anchor for s in result.steps] == [0, 1]
    np.testing.assert_array_equal(result.clusters[0], [0, 2, 4])
    np.testing.assert_array_equal(result.clusters[1], [1, 3, 5])
    # The anchor is the first eligible node of its signature, listed first.
    confidence = np.ones((7, 2))
    confidence[0] = 0.5
    result = get_clusters(labels, 2, 2, 2, confidence=confidence, min_confidence=0.9)
    np.testing.assert_array_equal(result.clusters[0], [1, 3, 5])
    np.testing.assert_array_equal(result.clusters[1], [2, 0, 4])


def test_overlap_when_thresholds_allow_both_edges():
    # m = 4, t_pos = 3, t_neg = 1: agreeing in exactly 3 members is both edges.
    a, b, d, c = [0, 0, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0], [0, 0, 1, 1]
    labels = np.array([a] * 5 + [b] + [d] * 2 + [c])
    result = get_clusters(labels, 2, t_pos=3, t_neg=1)
    assert result.clusters[0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    assert result.steps[0].removed.tolist() == [0, 1, 2, 3, 4]  # b and d keep a negative edge
    assert result.clusters[1].tolist() == [5, 8]  # node 5 is in both mini-clusters
    assert_same(result, brute_force(labels, 2, 3, 1))


def test_fewer_clusters_warns_when_graph_runs_out(caplog):
    labels = np.array([[0, 0], [0, 0], [1, 1], [1, 1]])
    with pytest.warns(UserWarning, match="2 of k=3"):
        clusters = mini_clusters(labels, 3, t_pos=2, t_neg=2)
    assert [c.tolist() for c in clusters] == [[0, 1], [2, 3]]
    assert "no nodes left" in caplog.text


def test_fewer_clusters_warns_when_no_node_is_confident():
    labels = np.array([[0, 0], [0, 0], [1, 1], [1, 1]])
    confidence = np.array([[1.0, 1.0], [1.0, 1.0], [0.2, 1.0], [1.0, 0.5]])
    with pytest.warns(UserWarning, match="passes min_confidence"):
        result = get_clusters(labels, 2, 2, 2, confidence=confidence, min_confidence=0.9)
    assert len(result.clusters) == 1
    assert result.initial_degree.tolist() == [1, 1, 1, 1]


def test_identity_for_mask_coefficients():
    # sum over S containing the disagreement set D (|D| = e), |S| <= d, of the coefficient
    # must be 1 when e <= d and 0 otherwise, for every m and d = m - t_pos.
    for m in range(1, 13):
        for d in range(m):
            for e in range(m + 1):
                total = sum(
                    math.comb(m - e, s - e) * (-1) ** (d - s) * math.comb(m - s - 1, d - s)
                    for s in range(e, d + 1)
                )
                assert total == (1 if e <= d else 0), (m, d, e)


def test_mask_counts_equal_direct_neighbourhood_counts():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 3, (300, 6))
    sg = graph._SignatureGraph(labels)
    for t_pos in range(1, 7):
        masks = graph._MaskDegrees(sg, t_pos).initial()
        matmul = graph._MatmulDegrees(sg, t_pos).initial()
        np.testing.assert_array_equal(masks, matmul)
        d = 6 - t_pos
        n_masks = sum(1 for s in range(d + 1) for _ in combinations(range(6), s))
        assert graph._MaskDegrees(sg, t_pos).ids.shape == (sg.u, n_masks)


def test_auto_picks_subsets_with_numba_else_masks_for_t_pos_equal_m(monkeypatch):
    rng = np.random.default_rng(0)
    sg = graph._SignatureGraph(rng.integers(0, 10, (20_000, 10)))
    assert sg.method_for(5) == "subsets"
    monkeypatch.setattr(graph, "_compiled", lambda: None)  # as if numba were not installed
    assert sg.u > 19_000
    assert sg.method_for(10) == "masks"
    assert sg.method_for(8) == "masks"
    sg = graph._SignatureGraph(rng.integers(0, 10, (5_000, 15)))
    assert sg.method_for(15) == "masks"
    assert sg.method_for(3) == "matmul"
    with pytest.raises(ValueError, match="needs numba"):
        sg.run(2, 3, 3, method="subsets")


@pytest.mark.parametrize("n_values", [1, 2, 3, 5, 16, 17, 200, 70_000])
def test_subset_degrees_equal_matmul_degrees_for_every_packing(n_values):
    # bits per column 1, 2, 4, 8, 32 (m = 1); every t_pos, with and without the thread split.
    rng = np.random.default_rng(n_values)
    m = 1 if n_values > 256 else int(rng.integers(2, 8))
    labels = rng.integers(0, n_values, (400, m))
    labels[:100] = labels[0]  # one heavy signature
    sg = graph._SignatureGraph(labels)
    assert sg.packed is not None
    rest = np.arange(sg.u)
    for t_pos in range(1, m + 1):
        expected = graph._MatmulDegrees(sg, t_pos).initial()
        np.testing.assert_array_equal(graph._SubsetDegrees(sg, t_pos).initial(), expected)
        threaded = graph._subset_degrees(graph._compiled(), *sg.packed[:1], sg.counts, rest, m,
                                         sg.packed[1], t_pos)  # fmt: skip
        np.testing.assert_array_equal(threaded - 1, expected)


def test_signatures_too_wide_to_pack_fall_back():
    labels = np.random.default_rng(2).integers(0, 300, (200, 8))  # 8 columns x 16 bits > 63
    sg = graph._SignatureGraph(labels)
    assert sg.packed is None
    assert sg.method_for(4) in ("masks", "matmul")
    assert_same(get_clusters(labels, 5, 2, 8), brute_force(labels, 5, 2, 8))


MIDDLE = [(5, 5), (6, 6), (4, 6), (6, 4), (5, 10), (6, 10), (3, 3), (2, 9), (1, 1), (7, 2)]


@pytest.mark.parametrize("seed", range(3))
def test_noisy_ensembles_at_middle_thresholds_match_brute_force(seed, monkeypatch):
    # The benchmark's setting, smaller: 10 members, 10 clusters, 30 % random votes.
    rng = np.random.default_rng(200 + seed)
    labels = random_ensemble(rng, 1200, 10, 10, 0.3, 10)
    confidence = rng.uniform(0.5, 1.0, labels.shape)
    # Thread split and both ways of making degrees exact after a removal, on small graphs.
    monkeypatch.setattr(graph, "_THREAD_MIN_SIGNATURES", 1)
    monkeypatch.setattr(graph, "_RECOUNT_RATIO", [4, 0, 10**9][seed])  # 0: always, 10**9: never
    monkeypatch.setattr(graph, "_REFRESH_RATIO", [2, 0, 10**9][seed])  # 0: never, 10**9: always
    for t_pos, t_neg in MIDDLE:
        gate = 0.55 if (t_pos + t_neg) % 2 else 0.0
        reference = brute_force(labels, 10, t_pos, t_neg, confidence, gate)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = get_clusters(labels, 10, t_pos, t_neg, confidence, gate)
        assert_same(result, reference)


def test_signatures_with_huge_label_range_do_not_overflow():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 3, (200, 15))
    labels = base * (2**40) + rng.integers(-(2**50), 2**50, 15)  # 3 values per column, far apart
    reference = brute_force(base, 5, 12, 8)
    for result in run_both_methods(labels, 5, 12, 8).values():
        assert_same(result, reference)
    # Many values per column: the product of cardinalities exceeds int64, ids are folded.
    wide = rng.integers(0, 40, (500, 15))
    assert math.prod(len(np.unique(c)) for c in wide.T) > 2**62
    assert_same(get_clusters(wide, 4, 13, 15), brute_force(wide, 4, 13, 15))


def test_edges_match_the_definition():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, (50, 5))
    nodes = rng.permutation(50)[:20]
    pos, neg = edges(labels, nodes, t_pos=3, t_neg=4)
    expected_pos, expected_neg = set(), set()
    for a, b in combinations(range(20), 2):
        i, j = nodes[a], nodes[b]
        agree = int((labels[i] == labels[j]).sum())
        if agree >= 3:
            expected_pos.add((i, j))
        if 5 - agree >= 4:
            expected_neg.add((i, j))
    assert set(map(tuple, pos.tolist())) == expected_pos
    assert set(map(tuple, neg.tolist())) == expected_neg
    assert pos.shape[1] == neg.shape[1] == 2
    empty_pos, empty_neg = edges(labels, [], 3, 4)
    assert empty_pos.shape == empty_neg.shape == (0, 2)


def test_mini_clusters_accepts_lists_and_returns_int_arrays():
    clusters = mini_clusters([[3, 7], [3, 7], [9, 9]], 2, 2, 1)
    assert [c.tolist() for c in clusters] == [[0, 1], [2]]
    assert all(c.dtype.kind == "i" for c in clusters)


GOOD = np.array([[0, 1], [0, 1], [1, 0]])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"labels": np.array([0, 1, 2])}, "2-D"),
        ({"labels": np.zeros((3, 2, 1), dtype=int)}, "2-D"),
        ({"labels": GOOD.astype(float)}, "integer"),
        ({"labels": np.array([["a", "b"], ["c", "d"], ["e", "f"]])}, "integer"),
        ({"labels": np.zeros((3, 0), dtype=int)}, "at least one"),
        ({"k": 4}, "at most n = 3"),
        ({"k": 0}, "k must be in 1..3"),
        ({"k": 1.5}, "k must be an integer"),
        ({"t_pos": 0}, "t_pos must be in 1..2"),
        ({"t_pos": 3}, "t_pos must be in 1..2"),
        ({"t_neg": 0}, "t_neg must be in 1..2"),
        ({"t_neg": 5}, "t_neg must be in 1..2"),
        ({"t_neg": True}, "t_neg must be an integer"),
        ({"confidence": np.ones((3, 3))}, "shape of labels"),
        ({"confidence": np.ones(3)}, "shape of labels"),
        ({"confidence": np.array([[1, np.nan], [1, 1], [1, 1]])}, "NaN"),
        ({"min_confidence": 0.5}, "needs confidence"),
        ({"min_confidence": float("nan"), "confidence": np.ones((3, 2))}, "finite"),
        ({"min_confidence": "high"}, "number"),
    ],
)
def test_bad_input_raises_value_error(kwargs, match):
    args = {"labels": GOOD, "k": 2, "t_pos": 2, "t_neg": 1} | kwargs
    with pytest.raises(ValueError, match=match):
        get_clusters(**args)
    with pytest.raises(ValueError, match=match):
        mini_clusters(**args)


@pytest.mark.parametrize(
    ("nodes", "match"),
    [([0, 0], "repeat"), ([0, 5], "0..2"), ([-1], "0..2"), ([[0, 1]], "1-D"), ([0.5], "integer")],
)
def test_edges_bad_input(nodes, match):
    with pytest.raises(ValueError, match=match):
        edges(GOOD, nodes, 1, 1)
    with pytest.raises(ValueError, match="t_pos"):
        edges(GOOD, [0, 1], 3, 1)


@pytest.mark.parametrize("method", ["subsets", "matmul", "masks"])
def test_reused_graph_matches_brute_force_run_after_run(method):
    # The threshold sweep keeps one graph (cached agreement, degree state per t_pos) and
    # reruns Algorithm 1: every rerun must start from the full graph again.
    rng = np.random.default_rng(11)
    labels = random_ensemble(rng, 700, 6, 4, 0.3, 4)
    sg = graph._SignatureGraph(labels, reuse=True)
    assert sg._agreement is not None
    eligible = rng.random(700) < 0.7
    for _ in range(2):
        for t_pos, t_neg in [(6, 6), (4, 6), (4, 2), (2, 5), (1, 1), (6, 6), (3, 4), (4, 6)]:
            for gate in (None, eligible):
                conf = None if gate is None else np.where(gate, 1.0, 0.0)[:, None].repeat(6, 1)
                reference = brute_force(labels, 10, t_pos, t_neg, conf, 0.5)
                assert_same(sg.run(10, t_pos, t_neg, gate, method=method, warn=False), reference)


def test_many_label_values_use_column_comparison(monkeypatch):
    rng = np.random.default_rng(8)
    labels = rng.integers(0, 4, (300, 5))
    reference = brute_force(labels, 6, 3, 3)
    monkeypatch.setattr(graph, "_ONEHOT_MAX_ENTRIES", 0)  # as if K were huge
    sg = graph._SignatureGraph(labels)
    assert_same(sg.run(6, 3, 3, method="matmul", warn=False), reference)
    assert sg._onehot is None


def test_large_nearly_distinct_signatures_stay_small_in_memory():
    # 70,000 points, 30 % flips per member: ~53,000 distinct signatures. An n x n boolean
    # matrix alone would be 4.9 GB; the signature method stays far below 100 MB.
    import tracemalloc

    rng = np.random.default_rng(0)
    labels = random_ensemble(rng, 70_000, 10, 10, 0.3, 10)
    tracemalloc.start()
    try:
        result = get_clusters(labels, 10, 10, 10)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2**20
    assert len(result.clusters) == 10
    for cluster in result.clusters:  # t_pos = m: a mini-cluster is one identical signature
        assert (labels[cluster] == labels[cluster[0]]).all()
    assert result.initial_degree.max() == max(s.degree for s in result.steps[:1])
