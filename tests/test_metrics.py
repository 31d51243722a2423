"""kingdra.metrics against scikit-learn and hand-worked cases."""

from itertools import permutations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from kingdra.metrics import ari, best_mapping, cluster_accuracy, nmi, pseudo_label_quality


def brute_accuracy(y_true, y_pred):
    """Best one-to-one mapping by trying every injection of the smaller side."""
    trues, preds = sorted(set(y_true)), sorted(set(y_pred))
    best = 0
    if len(preds) <= len(trues):
        for perm in permutations(trues, len(preds)):
            mapping = dict(zip(preds, perm, strict=True))
            best = max(best, sum(mapping[p] == t for p, t in zip(y_pred, y_true, strict=True)))
    else:
        for perm in permutations(preds, len(trues)):
            mapping = dict(zip(perm, trues, strict=True))
            best = max(best, sum(mapping.get(p) == t for p, t in zip(y_pred, y_true, strict=True)))
    return best / len(y_true)


def test_accuracy_hand_worked():
    assert cluster_accuracy([0, 0, 1, 1], [1, 1, 0, 0]) == 1.0
    assert cluster_accuracy([0, 0, 1, 1, 2], [5, 5, 7, 7, 7]) == 0.8  # fewer predicted
    assert cluster_accuracy([0, 0, 0, 0], [0, 1, 2, 3]) == 0.25  # more predicted
    assert cluster_accuracy(["cat", "cat", "dog"], [-1, -1, -7]) == 1.0
    assert cluster_accuracy([1], [9]) == 1.0


def test_accuracy_matches_exhaustive_search():
    rng = np.random.default_rng(0)
    for _ in range(30):
        n = int(rng.integers(1, 40))
        y_true = rng.integers(-2, 3, n)
        y_pred = rng.integers(0, int(rng.integers(1, 6)), n) * 3 - 5
        assert cluster_accuracy(y_true, y_pred) == pytest.approx(brute_accuracy(y_true, y_pred))


def test_best_mapping_is_one_to_one_and_explains_accuracy():
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    y_pred = np.array(["a", "a", "b", "b", "b", "c", "c", "c", "d"])
    mapping = best_mapping(y_true, y_pred)
    assert mapping == {"a": 0, "b": 1, "c": 2}  # "d" is left over
    hits = sum(mapping.get(p) == t for p, t in zip(y_pred, y_true, strict=True))
    assert hits / len(y_true) == cluster_accuracy(y_true, y_pred)


def test_nmi_and_ari_match_sklearn():
    rng = np.random.default_rng(1)
    for _ in range(10):
        y_true = rng.integers(0, 5, 200)
        y_pred = np.where(rng.random(200) < 0.7, y_true, rng.integers(0, 7, 200))
        assert nmi(y_true, y_pred) == pytest.approx(normalized_mutual_info_score(y_true, y_pred))
        assert nmi(y_true, y_pred, "geometric") == pytest.approx(
            normalized_mutual_info_score(y_true, y_pred, average_method="geometric")
        )
        assert ari(y_true, y_pred) == pytest.approx(adjusted_rand_score(y_true, y_pred))
    assert nmi([0, 0, 1, 1], [1, 1, 0, 0]) == pytest.approx(1.0)
    assert ari([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)


def test_pseudo_label_quality_hand_worked():
    y_true = np.array([0, 0, 1, 1, 1, 2, 2, 0])
    # cluster 0: points 0, 1, 2 -> majority 0, purity 2/3; cluster 1: 3, 4, 2 -> majority 1,
    # purity 1; point 2 is in both, so it is unlabelled. Labelled: 0, 1, 3, 4 all correct.
    q = pseudo_label_quality([[0, 1, 2], [3, 4, 2], []], y_true)
    assert q.n_labelled == 4
    assert q.coverage == 0.5
    assert q.precision == 1.0
    assert q.per_cluster[0] == {"size": 3, "majority": 0, "purity": pytest.approx(2 / 3)}
    assert q.per_cluster[1] == {"size": 3, "majority": 1, "purity": 1.0}
    assert q.per_cluster[2]["size"] == 0 and np.isnan(q.per_cluster[2]["purity"])
    q = pseudo_label_quality([[0, 2, 5, 6]], y_true)  # tie 0/1/2... majority 2 (two of four)
    assert q.per_cluster[0]["majority"] == 2 and q.precision == 0.5
    q = pseudo_label_quality([], y_true)
    assert q.n_labelled == 0 and q.coverage == 0.0 and np.isnan(q.precision)
    q = pseudo_label_quality([[0, 1]], ["x", "y", "z"])
    assert q.per_cluster[0]["majority"] == "x" and q.precision == 0.5


@pytest.mark.parametrize("fn", [cluster_accuracy, best_mapping, nmi, ari])
def test_metric_bad_input(fn):
    with pytest.raises(ValueError, match="same length"):
        fn([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="empty"):
        fn([], [])
    with pytest.raises(ValueError, match="1-D"):
        fn([[0, 1]], [[0, 1]])


def test_pseudo_label_quality_bad_input():
    with pytest.raises(ValueError, match="non-empty 1-D"):
        pseudo_label_quality([[0]], [])
    with pytest.raises(ValueError, match="outside 0..2"):
        pseudo_label_quality([[0, 3]], [0, 1, 1])
