"""Exact nearest neighbours against scikit-learn's brute-force search."""

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

import kingdra.neighbors as nb
from kingdra.neighbors import nearest_neighbors


def _reference(X: np.ndarray, k: int) -> np.ndarray:
    # k + 1 with the row itself, which comes first (distinct random rows: no ties)
    idx = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(X).kneighbors(X)[1]
    return idx[:, 1:]


@pytest.mark.parametrize("block_entries", [nb.MAX_BLOCK_ENTRIES, 7 * 300])  # 1 block, 43 blocks
def test_matches_sklearn_across_blocks(monkeypatch, block_entries):
    monkeypatch.setattr(nb, "MAX_BLOCK_ENTRIES", block_entries)
    X = np.random.default_rng(0).normal(size=(300, 12)).astype(np.float32)
    got = nearest_neighbors(torch.from_numpy(X), 5).numpy()
    np.testing.assert_array_equal(got, _reference(X, 5))


def test_never_its_own_neighbour_but_a_copy_can_be():
    X = torch.tensor([[0.0, 0.0], [0.0, 0.0], [3.0, 4.0]])
    got = nearest_neighbors(X, 1)[:, 0].tolist()
    assert got == [1, 0, 0] or got == [1, 0, 1]  # row 2 is 5 away from both copies
    assert all(i != j for i, j in enumerate(got))


def test_k_is_cut_to_n_minus_one():
    got = nearest_neighbors(torch.tensor([[0.0], [1.0], [5.0]]), 10)
    assert got.tolist() == [[1, 2], [0, 2], [1, 0]]


@pytest.mark.parametrize(
    "X, k, message",
    [
        (torch.zeros(1, 3), 2, "at least 2 rows"),
        (torch.zeros(4), 2, "2-D"),
        (torch.zeros(4, 3), 0, "positive integer"),
    ],
)
def test_bad_input(X, k, message):
    with pytest.raises(ValueError, match=message):
        nearest_neighbors(X, k)
