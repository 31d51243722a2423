"""Classical clustering baselines run on the same data as Kingdra.

K-means, agglomerative (Ward), spectral clustering (nearest-neighbours affinity),
UMAP (10-d) followed by a Gaussian mixture, and N2D (the same mixture on UMAP of an
autoencoder's code, :mod:`kingdra.embedding`): the rows Kingdra is compared against in the
benchmarks and the app. Each ``*_labels`` function returns one integer label per row of ``X``;
:func:`run_baselines` runs several, times them and scores them when labels are known.

Examples
--------
>>> from sklearn.datasets import load_digits
>>> X, y = load_digits(return_X_y=True)
>>> rows = run_baselines(X / 16.0, 10, y=y, which=("kmeans",), random_state=0)
>>> rows[0]["name"], rows[0]["acc"] > 0.6
('kmeans', True)
"""

from __future__ import annotations

import logging
import time

import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans, SpectralClustering
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from kingdra import lazy
from kingdra.metrics import ari, cluster_accuracy, nmi

logger = logging.getLogger(__name__)

#: Baseline names accepted by :func:`run_baselines`, in the order they are run.
BASELINES = ("kmeans", "agglomerative", "spectral", "umap-gmm", "n2d")

#: Above this many samples spectral clustering is skipped: its affinity eigenproblem and
#: k-NN graph cost minutes and gigabytes on a laptop CPU (MNIST-70k).
SPECTRAL_MAX_N = 20_000

#: Above this many samples Ward agglomerative clustering is skipped: it needs O(n^2) memory.
AGGLOMERATIVE_MAX_N = 30_000


def _seed(random_state) -> int:
    """Resolve ``random_state`` (None, int or RandomState) to one int seed."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def kmeans_labels(X, k, random_state=None, n_init=10) -> np.ndarray:
    """K-means (k-means++ initialisation, ``n_init`` restarts) on the raw features."""
    model = KMeans(n_clusters=k, n_init=n_init, random_state=_seed(random_state))
    return model.fit_predict(X).astype(np.int64)


def agglomerative_labels(X, k, random_state=None) -> np.ndarray:
    """Agglomerative clustering with Ward linkage (deterministic; ``random_state`` unused)."""
    return AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(X).astype(np.int64)


def spectral_labels(X, k, random_state=None, n_neighbors=10) -> np.ndarray:
    """Spectral clustering on a symmetric k-nearest-neighbours affinity graph."""
    model = SpectralClustering(
        n_clusters=k,
        affinity="nearest_neighbors",
        n_neighbors=n_neighbors,
        assign_labels="kmeans",
        random_state=_seed(random_state),
    )
    return model.fit_predict(X).astype(np.int64)


def umap_gmm_labels(X, k, random_state=None, n_components=10, n_neighbors=15) -> np.ndarray:
    """UMAP to ``n_components`` dimensions, then a full-covariance Gaussian mixture of ``k``."""
    seed = _seed(random_state)
    embedding = (
        lazy.umap()
        .UMAP(
            n_components=n_components,
            n_neighbors=n_neighbors,
            min_dist=0.0,
            random_state=seed,
            n_jobs=1,
        )
        .fit_transform(X)
    )
    return gmm_labels(embedding, k, seed)


def gmm_labels(embedding, k: int, seed: int) -> np.ndarray:
    """A full-covariance Gaussian mixture of ``k`` (best of 3 starts) on an embedding.

    Shared by UMAP + GMM, N2D and ``embed_gate`` (:func:`kingdra.embedding.mixture_labels`).
    """
    gmm = GaussianMixture(n_components=k, covariance_type="full", n_init=3, random_state=seed)
    return gmm.fit_predict(embedding).astype(np.int64)


def n2d_labels(X, k, random_state=None, epochs=100) -> np.ndarray:
    """N2D (McConville et al., 2020): a Gaussian mixture of ``k`` on UMAP of an autoencoder's code.

    The representation is :func:`kingdra.embedding.fit_representation`'s, the one
    ``embed="ae-umap"`` trains Kingdra's members on: ``epochs`` autoencoder epochs, code and
    UMAP of ``k`` dimensions.
    """
    import torch  # noqa: PLC0415 - the other baselines need no torch

    from kingdra.embedding import fit_representation, mixture_labels  # noqa: PLC0415

    seed = _seed(random_state)
    rep = fit_representation(torch.from_numpy(np.asarray(X, np.float32)), k, epochs, seed)
    return mixture_labels(rep, k, seed)


_FUNCTIONS = {
    "kmeans": kmeans_labels,
    "agglomerative": agglomerative_labels,
    "spectral": spectral_labels,
    "umap-gmm": umap_gmm_labels,
    "n2d": n2d_labels,
}


def run_baselines(X, k, y=None, which=BASELINES, random_state=None) -> list[dict]:
    """Run classical baselines on ``X`` and score them against ``y`` when given.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data, exactly as Kingdra sees it (same scaling).
    k : int
        Number of clusters.
    y : array-like of shape (n_samples,), optional
        Ground-truth labels, used only to score (ACC, NMI, ARI).
    which : sequence of str
        Names from :data:`BASELINES`.
    random_state : None, int or numpy.random.RandomState
        Seed; every baseline gets its own seed drawn from it.

    Returns
    -------
    list of dict
        One dict per baseline: ``name``, ``labels`` (int array or None when skipped),
        ``seconds``, ``skipped`` (None or the reason) and ``acc``/``nmi``/``ari`` when ``y``
        is given and the baseline ran.
    """
    X = check_array(X, dtype=np.float64, ensure_2d=True)
    n = X.shape[0]
    if isinstance(which, str):
        which = (which,)
    unknown = [name for name in which if name not in _FUNCTIONS]
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; choose from {list(BASELINES)}")
    if int(k) != k or k < 2:
        raise ValueError(f"k must be an integer >= 2, got {k!r}")
    k = int(k)
    if n < k:
        raise ValueError(f"X has {n} samples but k={k} clusters were asked for; need n >= k")
    if y is not None:
        y = np.asarray(y)
        if y.shape != (n,):
            raise ValueError(f"y must have shape ({n},) to match X, got {y.shape}")

    rng = check_random_state(random_state)
    rows = []
    for name in which:
        seed = int(rng.randint(np.iinfo(np.int32).max))
        row = {"name": name, "labels": None, "seconds": 0.0, "skipped": None}
        limit = {"spectral": SPECTRAL_MAX_N, "agglomerative": AGGLOMERATIVE_MAX_N}.get(name)
        if limit is not None and n > limit:
            row["skipped"] = f"n={n} > {limit}: too slow / too much memory for {name}"
            logger.info("skipping %s: %s", name, row["skipped"])
            rows.append(row)
            continue
        start = time.perf_counter()
        labels = _FUNCTIONS[name](X, k, random_state=seed)
        row["seconds"] = time.perf_counter() - start
        row["labels"] = labels
        if y is not None:
            row["acc"] = cluster_accuracy(y, labels)
            row["nmi"] = nmi(y, labels)
            row["ari"] = ari(y, labels)
        logger.info("%s done in %.1f s", name, row["seconds"])
        rows.append(row)
    return rows
