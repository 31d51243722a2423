"""The members' consensus partition (kingdra.consensus)."""

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist, squareform

from kingdra import consensus
from kingdra.alignment import align_members, aligned_mean
from kingdra.consensus import _average_linkage, coassociation_labels
from kingdra.metrics import cluster_accuracy


def test_the_linkage_is_scipys_average_linkage_with_rows_repeated_by_weight():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(40, 3))
    copies = rng.integers(1, 5, 40)
    heights = sorted(h for h, _, _ in _average_linkage(squareform(pdist(points)), copies))
    rows = np.repeat(points, copies, axis=0)
    expected = linkage(pdist(rows), "average")[:, 2]
    np.testing.assert_allclose(heights, np.sort(expected[expected > 1e-12]), atol=1e-12)


def test_labels_are_scipys_cut_of_the_hamming_average_linkage():
    rng = np.random.default_rng(1)
    truth = np.repeat(np.arange(3), 50)
    noisy = [np.where(rng.random(150) < 0.1, rng.integers(0, 3, 150), truth) for _ in range(7)]
    labels = np.stack(noisy, axis=1) * 10 + rng.integers(0, 2, (150, 7))  # no ties in heights
    ours = coassociation_labels(labels, 3)
    theirs = fcluster(linkage(pdist(labels, "hamming"), "average"), 3, "maxclust")
    assert set(ours.tolist()) == {0, 1, 2}
    assert cluster_accuracy(theirs, ours) == 1.0


def _members_that_each_merge_two_classes_and_split_another(k=4, per=150, m=5, seed=0):
    """Every member wrong on a different half of the classes; the truth in the pairs."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(k), per)
    probs = np.zeros((m, len(truth), k))
    for j in range(m):
        merged, split = (j % k, (j + 1) % k), (j + 2) % k
        labels = truth.copy()
        labels[truth == merged[1]] = merged[0]
        rows = np.flatnonzero(truth == split)
        labels[rng.choice(rows, per // 2, replace=False)] = merged[1]  # a free output
        labels = rng.permutation(k)[labels]  # each member numbers its clusters its own way
        probs[j] = 0.1 / (k - 1)
        probs[j, np.arange(len(truth)), labels] = 0.9
    return probs, truth


def test_the_pairwise_consensus_recovers_what_no_member_has():
    probs, truth = _members_that_each_merge_two_classes_and_split_another()
    labels = probs.argmax(axis=2).T
    assert max(cluster_accuracy(truth, labels[:, j]) for j in range(5)) == 0.625
    reference = coassociation_labels(labels, 4)
    assert cluster_accuracy(truth, reference) == 1.0
    # the members matched to it average to more than when matched to any one of them
    order = align_members(labels, 4, reference=reference)
    to_consensus = cluster_accuracy(truth, aligned_mean(probs, order).argmax(axis=1))
    medoid = align_members(labels, 4, reference=None, probs=probs, refine=3)
    to_medoid = cluster_accuracy(truth, aligned_mean(probs, medoid).argmax(axis=1))
    assert to_consensus > 0.8 and to_medoid == 0.75


def test_too_many_label_vectors_give_none(monkeypatch):
    monkeypatch.setattr(consensus, "MAX_ATOMS", 2)
    assert coassociation_labels(np.array([[0, 0], [1, 1], [1, 0]]), 2) is None
    assert coassociation_labels(np.array([[0, 0], [1, 1], [1, 1]]), 2).tolist() == [0, 1, 1]
