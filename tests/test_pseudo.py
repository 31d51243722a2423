"""kingdra.pseudo: Hungarian matching, pseudo-label arrays, threshold sweep."""

import warnings
from itertools import permutations

import numpy as np
import pytest

from kingdra.graph import get_clusters
from kingdra.metrics import pseudo_label_quality
from kingdra.pseudo import match_mini_clusters, member_pseudo_labels, pseudo_labels, threshold_sweep


def test_match_is_one_to_one_where_the_mode_would_collide():
    # Both mini-clusters are mostly class 2 for this member; the mode would map both to 2.
    member = np.array([2, 2, 2, 0, 2, 2, 1, 1, 1])
    clusters = [[0, 1, 2, 3], [4, 5, 6]]
    mapping = match_mini_clusters(clusters, member, 3)
    assert mapping.tolist() == [2, 1]  # 3 + 1 matched points; [0, 2] would give 1 + 2


def test_match_maximises_matched_points_like_exhaustive_search():
    rng = np.random.default_rng(0)
    for _ in range(20):
        member = rng.integers(0, 4, 60)
        clusters = [rng.choice(60, rng.integers(1, 15), replace=False) for _ in range(4)]
        mapping = match_mini_clusters(clusters, member, 4)
        best = max(
            sum(int((member[c] == p[i]).sum()) for i, c in enumerate(clusters))
            for p in permutations(range(4))
        )
        got = sum(int((member[c] == mapping[i]).sum()) for i, c in enumerate(clusters))
        assert got == best
        assert sorted(mapping.tolist()) == [0, 1, 2, 3]


def test_more_mini_clusters_than_classes_leaves_extras_unmapped():
    member = np.array([0, 0, 1, 1, 1, 0])
    mapping = match_mini_clusters([[0, 1], [2, 3, 4], [5]], member, 2)
    assert mapping.tolist() == [0, 1, -1]


def test_pseudo_labels_marks_unlabelled_and_ambiguous():
    out = pseudo_labels([np.array([4, 0]), np.array([1, 4]), np.array([], dtype=int)], 6)
    assert out.tolist() == [0, 1, -1, -1, -1, -1]
    assert pseudo_labels([], 3).tolist() == [-1, -1, -1]


def test_member_pseudo_labels_per_member_classes():
    labels = np.array([[0, 2], [0, 2], [1, 0], [1, 0], [2, 1], [0, 0]])
    clusters = [[0, 1], [2, 3], [4, 5, 0]]  # node 0 is ambiguous
    out = member_pseudo_labels(clusters, labels, 3)
    assert out.shape == (6, 2)
    # member 0: c0 -> 0, c1 -> 1, c2 -> 2; member 1: c0 -> 2, c1 -> 0, c2 -> 1
    assert out[:, 0].tolist() == [-1, 0, 1, 1, 2, 2]
    assert out[:, 1].tolist() == [-1, 2, 0, 0, 1, 1]


def test_at_the_paper_thresholds_each_member_is_taught_its_own_vote():
    # t_pos = t_neg = m: a mini-cluster's rows vote alike in every member, and the next
    # anchor disagrees with every picked one in every member, so the one-to-one map is each
    # member's own vote: the release's single bucket -> class map, up to output order.
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 6, 400)
    perms = [rng.permutation(6) for _ in range(5)]
    labels = np.stack(
        [np.where(rng.random(400) < 0.2, rng.integers(0, 6, 400), p[truth]) for p in perms], axis=1
    )
    for k in (3, 6):
        clusters = get_clusters(labels, k, t_pos=5, t_neg=5).clusters
        out = member_pseudo_labels(clusters, labels, 6)
        labelled = out[:, 0] >= 0
        assert len(clusters) == k and labelled.sum() > 50
        assert (out[labelled] == labels[labelled]).all()


def test_member_pseudo_labels_with_too_many_clusters():
    labels = np.array([[0], [0], [1], [1], [1]])
    out = member_pseudo_labels([[0, 1], [2, 3], [4]], labels, 2)
    assert out[:, 0].tolist() == [0, 0, 1, 1, -1]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: pseudo_labels([[0, 7]], 5), "outside 0..4"),
        (lambda: pseudo_labels([[-1]], 5), "outside"),
        (lambda: pseudo_labels([[0.5]], 5), "integer"),
        (lambda: pseudo_labels([[0]], -1), "non-negative"),
        (lambda: pseudo_labels(np.array([0, 1]), 5), "list of index arrays"),
        (lambda: match_mini_clusters([[0]], np.array([0, 3]), 3), r"0\.\.2"),
        (lambda: match_mini_clusters([[0]], np.array([[0, 1]]), 3), "1-D"),
        (lambda: match_mini_clusters([[0]], np.array([0.0, 1.0]), 3), "integer"),
        (lambda: match_mini_clusters([[0]], np.array([0, 1]), 0), "at least 1"),
        (lambda: member_pseudo_labels([[0]], np.array([0, 1]), 2), "2-D"),
        (lambda: threshold_sweep(np.zeros((5, 3), int), 2, [0, 3], [3]), "t_pos"),
        (lambda: threshold_sweep(np.zeros((5, 3), int), 2, [3], [4]), "t_neg"),
        (lambda: threshold_sweep(np.zeros((5, 3), int), 6, [3], [3]), "at most n = 5"),
        (lambda: threshold_sweep(np.zeros((5, 3), int), 2, [3], [3], y_true=[1, 2]), "y_true"),
    ],
)
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_threshold_sweep_matches_individual_runs():
    rng = np.random.default_rng(7)
    n, m = 600, 6
    truth = rng.integers(0, 4, n)
    labels = np.stack(
        [np.where(rng.random(n) < 0.8, truth, rng.integers(0, 4, n)) for _ in range(m)], 1
    )
    confidence = rng.uniform(0.5, 1.0, (n, m))
    t_pos_values, t_neg_values = [6, 5, 3, 1], [6, 4, 2]
    for conf, min_conf in [(None, 0.0), (confidence, 0.6)]:
        sweep = threshold_sweep(labels, 4, t_pos_values, t_neg_values, truth, conf, min_conf)
        assert sweep["coverage"].shape == (4, 3)
        for a, t_pos in enumerate(t_pos_values):
            for b, t_neg in enumerate(t_neg_values):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = get_clusters(labels, 4, t_pos, t_neg, conf, min_conf)
                quality = pseudo_label_quality(result.clusters, truth)
                assert sweep["n_mini_clusters"][a, b] == len(result.clusters)
                assert sweep["n_labelled"][a, b] == quality.n_labelled
                assert sweep["coverage"][a, b] == pytest.approx(quality.coverage)
                if quality.n_labelled:
                    assert sweep["precision"][a, b] == pytest.approx(quality.precision)
                else:
                    assert np.isnan(sweep["precision"][a, b])
    assert "precision" not in threshold_sweep(labels, 4, [6], [6])
