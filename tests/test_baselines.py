"""Classical baselines: the same figures as DESIGN.md on digits, and clear errors."""

import functools

import numpy as np
import pytest
from sklearn.datasets import load_digits

from kingdra import baselines
from kingdra.baselines import run_baselines


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def test_fast_baselines_on_digits_match_the_measured_figures(digits):
    X, y = digits
    rows = run_baselines(X, 10, y=y, which=("kmeans", "agglomerative", "spectral"), random_state=0)
    by_name = {r["name"]: r for r in rows}
    assert list(by_name) == ["kmeans", "agglomerative", "spectral"]
    # DESIGN.md, measured on this machine: K-means 79.2, agglomerative 84.0.
    assert 0.75 < by_name["kmeans"]["acc"] < 0.85
    assert by_name["agglomerative"]["acc"] == pytest.approx(0.840, abs=0.005)
    assert 0.70 < by_name["spectral"]["acc"] < 0.90
    for row in rows:
        assert row["labels"].shape == (len(X),)
        assert row["skipped"] is None and row["seconds"] >= 0
        assert 0 < row["nmi"] <= 1 and 0 < row["ari"] <= 1


def test_without_labels_there_are_no_scores_and_seeds_repeat(digits):
    X, _ = digits
    a = run_baselines(X[:500], 10, which="kmeans", random_state=1)[0]
    b = run_baselines(X[:500], 10, which="kmeans", random_state=1)[0]
    assert "acc" not in a
    assert np.array_equal(a["labels"], b["labels"])


@pytest.mark.slow
def test_umap_gmm_beats_kmeans_on_digits(digits):
    X, y = digits
    # 600 points keep the test short; most of its time is numba compiling UMAP once.
    rows = run_baselines(X[:600], 10, y=y[:600], which=("kmeans", "umap-gmm"), random_state=0)
    kmeans, umap_gmm = rows
    assert umap_gmm["acc"] > kmeans["acc"]
    assert umap_gmm["acc"] > 0.8  # all 1,797 digits: 88.2 (docs/benchmarks.md)


def test_spectral_is_skipped_above_its_size_limit(digits, monkeypatch):
    X, y = digits
    monkeypatch.setattr(baselines, "SPECTRAL_MAX_N", 100)
    (row,) = run_baselines(X[:200], 10, y=y[:200], which=["spectral"])
    assert row["labels"] is None
    assert "n=200 > 100" in row["skipped"]
    assert "acc" not in row


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"which": ["kmeans", "dbscan"]}, r"unknown baseline\(s\) \['dbscan'\]"),
        ({"k": 1}, "k must be an integer >= 2"),
        ({"k": 50, "n": 20}, "X has 20 samples but k=50"),
        ({"y": np.zeros(3)}, r"y must have shape \(40,\)"),
        ({"X": np.full((40, 4), np.nan)}, "NaN"),
    ],
)
def test_bad_input_raises_value_error(kwargs, message):
    n = kwargs.pop("n", 40)
    X = kwargs.pop("X", np.random.default_rng(0).random((n, 4)))
    k = kwargs.pop("k", 3)
    with pytest.raises(ValueError, match=message):
        run_baselines(X, k, **kwargs)


def test_n2d_separates_blobs_and_repeats_for_a_seed(monkeypatch):
    rng = np.random.default_rng(0)
    centers = rng.normal(0.0, 3.0, (3, 12))
    X = np.concatenate([c + rng.normal(0.0, 0.5, (40, 12)) for c in centers])
    y = np.repeat(np.arange(3), 40)
    a = baselines.n2d_labels(X, 3, random_state=0, epochs=3)
    b = baselines.n2d_labels(X, 3, random_state=0, epochs=3)
    assert np.array_equal(a, b)
    short = functools.partial(baselines.n2d_labels, epochs=3)  # 100 by default
    monkeypatch.setitem(baselines._FUNCTIONS, "n2d", short)
    (row,) = run_baselines(X, 3, y=y, which="n2d", random_state=0)
    assert row["acc"] > 0.95  # three far blobs
