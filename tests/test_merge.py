"""Merging over-clustered outputs back to k clusters (kingdra.merge) and its engine wiring."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, make_blobs

from kingdra import merge
from kingdra.checkpoint import load_run, save_run
from kingdra.config import KingdraConfig
from kingdra.engine import KingdraEngine
from kingdra.merge import merge_map, merge_probs
from kingdra.metrics import cluster_accuracy
from kingdra.neighbors import nearest_neighbors


def blobs_split(pieces: int, k: int = 4, seed: int = 0):
    """k well-separated blobs, each cut into `pieces` fine clusters along its first axis."""
    X, y = make_blobs(n_samples=80 * k, centers=k, cluster_std=0.6, random_state=seed)
    X = X.astype(np.float32)
    fine = np.zeros(len(X), dtype=np.int64)
    for c in range(k):
        rows = np.flatnonzero(y == c)
        cuts = np.quantile(X[rows, 0], np.linspace(0, 1, pieces + 1)[1:-1])
        fine[rows] = c * pieces + np.searchsorted(cuts, X[rows, 0])
    neighbors = nearest_neighbors(torch.from_numpy(X), 8).numpy()
    return X, y, fine, neighbors


@pytest.mark.parametrize("pieces", [2, 3])  # 2k pieces: matching; 3k: spectral clustering
def test_fine_clusters_of_one_blob_are_merged_back(pieces):
    _, y, fine, neighbors = blobs_split(pieces)
    mapping = merge_map(fine, neighbors, 4, 4 * pieces)
    assert mapping.shape == (4 * pieces,) and set(mapping.tolist()) == {0, 1, 2, 3}
    assert cluster_accuracy(y, mapping[fine]) == 1.0
    for c in range(4):  # every piece of blob c lands in the same group
        assert len(set(mapping[c * pieces : (c + 1) * pieces].tolist())) == 1


def test_a_pair_the_matching_forces_is_repaired():
    """2k pieces but uneven: blob 0 in three pieces, blob 1 in one, blobs 2 and 3 in two.

    A perfect matching must pair blob 1's single piece with a piece of blob 0 (they share no
    neighbours); the repair moves that piece back to blob 0's group.
    """
    X, y = make_blobs(n_samples=320, centers=4, cluster_std=0.6, random_state=0)
    X = X.astype(np.float32)
    pieces = {0: 3, 1: 1, 2: 2, 3: 2}
    fine = np.zeros(len(X), dtype=np.int64)
    start = 0
    for c, count in pieces.items():
        rows = np.flatnonzero(y == c)
        cuts = np.quantile(X[rows, 0], np.linspace(0, 1, count + 1)[1:-1])
        fine[rows] = start + np.searchsorted(cuts, X[rows, 0])
        start += count
    neighbors = nearest_neighbors(torch.from_numpy(X), 8).numpy()
    unrepaired = merge._pairs(merge.fine_affinity(fine, neighbors, np.arange(8)) + 1e-9)
    assert cluster_accuracy(y, unrepaired[fine]) < 1.0  # the matching alone gets it wrong
    mapping = merge_map(fine, neighbors, 4, 8)
    assert cluster_accuracy(y, mapping[fine]) == 1.0
    assert len(set(mapping[:3].tolist())) == 1 and len(set(mapping.tolist())) == 4


def test_shuffled_fine_labels_give_the_same_partition():
    _, y, fine, neighbors = blobs_split(2)
    perm = np.random.default_rng(1).permutation(8)
    mapping = merge_map(perm[fine], neighbors, 4, 8)
    assert cluster_accuracy(y, mapping[perm[fine]]) == 1.0


def test_empty_fine_clusters_follow_their_probability_mass():
    _, y, fine, neighbors = blobs_split(2)
    probs = np.full((len(fine), 10), 1e-3)
    probs[np.arange(len(fine)), fine] = 1.0
    probs[y == 2, 9] = 0.5  # output 9 is never the argmax, but leans to blob 2
    mapping = merge_map(fine, neighbors, 4, 10, probs=probs)
    assert mapping[9] == mapping[fine[y == 2][0]]


def test_fewer_used_fine_clusters_than_k_keep_their_own_groups():
    labels = np.array([0, 0, 5, 5, 5])
    neighbors = np.array([[1], [0], [3], [4], [2]])
    mapping = merge_map(labels, neighbors, 3, 6)
    assert mapping[0] != mapping[5]


def test_merge_probs_is_a_distribution_consistent_with_the_map():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(8), size=50)
    mapping = np.array([0, 0, 1, 1, 2, 2, 0, 1])
    merged = merge_probs(probs, mapping, 3)
    assert merged.shape == (50, 3)
    assert np.allclose(merged.sum(axis=1), 1.0)
    assert np.array_equal(merged.argmax(axis=1), mapping[probs.argmax(axis=1)])


@pytest.mark.parametrize(
    "labels, neighbors, message",
    [
        (np.zeros((3, 2), int), np.zeros((3, 1), int), "labels must be"),
        (np.zeros(3, int), np.zeros((2, 1), int), "labels must be"),
        (np.array([0, 7, 1]), np.zeros((3, 1), int), "labels must be in 0..3"),
    ],
)
def test_merge_map_rejects_bad_input(labels, neighbors, message):
    with pytest.raises(ValueError, match=message):
        merge_map(labels, neighbors, 2, 4)


def test_config_overcluster_sets_the_output_classes():
    assert KingdraConfig(n_clusters=5, overcluster=3).n_outputs == 15
    assert KingdraConfig.from_preset("fast").overcluster == 2
    assert KingdraConfig.from_preset("paper").overcluster == 1
    with pytest.raises(ValueError, match="overcluster must be an integer >= 1"):
        KingdraConfig(overcluster=0)


@pytest.fixture(scope="module")
def overclustered():
    X, y = load_digits(return_X_y=True)
    X, y = (X[:500] / 16.0).astype(np.float32), y[:500]
    config = KingdraConfig(
        n_clusters=10, overcluster=2, n_models=3, hidden=(32,), epochs_base=3, epochs_iter=1,
        n_iter=1, min_confidence=0.0, neighbor_weight=1.0, seed=0,
    )  # fmt: skip
    engine = KingdraEngine(X, config, y_eval=y, device="cpu")
    engine.run()
    return engine, X, y


def test_engine_trains_2k_outputs_and_reports_k_clusters(overclustered):
    engine, X, y = overclustered
    assert engine.probs.shape == (3, len(X), 20)  # members have 2k outputs
    assert engine.k == 20 and len(engine.mini_clusters) <= 20
    assert engine.ensemble_probs.shape == (len(X), 10)
    assert np.allclose(engine.ensemble_probs.sum(axis=1), 1.0, atol=1e-5)
    assert set(np.unique(engine.labels_)) <= set(range(10))
    assert np.array_equal(engine.predict_proba(X).argmax(axis=1), engine.labels_)
    record = engine.history[-1]
    assert len(record["member_acc"]) == 3 and record["acc"] > 0.5
    assert set(np.unique(engine.final_member_labels())) <= set(range(10))


def test_checkpoint_keeps_the_merge_map(overclustered, tmp_path):
    engine, X, _ = overclustered
    path = tmp_path / "run.safetensors"
    save_run(path, engine)
    loaded = load_run(path, device="cpu")
    assert np.array_equal(loaded.overclustering.groups, engine.overclustering.groups)
    assert np.array_equal(loaded.labels_, engine.labels_)
    assert np.array_equal(loaded.predict_proba(X).argmax(axis=1), engine.labels_)


def test_merge_summary_describes_the_fixed_merge(overclustered):
    engine, X, y = overclustered
    summary = engine.merge_summary()
    used = summary["used"]
    assert summary["fine"].shape == (len(X),) and set(summary["fine"]) == set(used.tolist())
    assert summary["sizes"].sum() == len(X)
    assert summary["affinity"].shape == (len(used), len(used))
    assert np.allclose(summary["affinity"], summary["affinity"].T)
    assert set(summary["groups"].tolist()) <= set(range(10))
    # The final labels are the fine clusters read through the map.
    lookup = dict(zip(used.tolist(), summary["groups"].tolist(), strict=True))
    agree = np.mean([lookup[f] for f in summary["fine"]] == engine.labels_)
    # Final labels average the merged members, so they need not equal the merged argmax of
    # the fine average; a wrong alignment would leave chance agreement (about 10 %).
    assert agree > 0.5


def test_merge_summary_needs_over_clustering():
    X = np.random.default_rng(0).random((60, 5)).astype(np.float32)
    engine = KingdraEngine(
        X, KingdraConfig(n_clusters=3, n_models=2, hidden=(8,), epochs_base=1), device="cpu"
    )
    engine.train_base()
    assert engine.overclustering is None
    with pytest.raises(ValueError, match="needs overcluster > 1"):
        engine.merge_summary()


def test_merge_figure_orders_fine_clusters_by_final_cluster():
    from kingdra.plots import merge_figure

    affinity = np.array([[0, 1, 5], [1, 0, 2], [5, 2, 0]], dtype=float)
    fig = merge_figure(affinity, used=[0, 3, 7], groups=[1, 0, 1])
    heat = fig.data[0]
    assert list(heat.x) == ["3→0", "0→1", "7→1"]
    assert np.asarray(heat.z)[1, 2] == 5.0  # fine 0 and fine 7, both in cluster 1
