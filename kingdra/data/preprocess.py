"""Optional preprocessing of X: scale to [0, 1], standardise, PCA to d dimensions."""

from __future__ import annotations

import logging

import numpy as np
from sklearn.decomposition import PCA

from .dataset import DataError, Dataset

logger = logging.getLogger(__name__)

PREPROCESS = ("none", "scale01", "standardize")
_ALIASES = {None: "none", "standardise": "standardize", "minmax": "scale01"}


def preprocess(ds: Dataset, preprocess: str | None = "none", pca: int | None = None) -> Dataset:
    """Return `ds` with X rescaled and/or reduced; the steps are noted in its description.

    Parameters
    ----------
    preprocess : {"none", "scale01", "standardize"}
        ``"scale01"`` maps every feature to [0, 1] by its min and max (constant features
        become 0); ``"standardize"`` (or ``"standardise"``) to zero mean, unit variance.
    pca : int, optional
        Project onto the first `pca` principal components (after the scaling).
    """
    mode = _ALIASES.get(preprocess, preprocess)
    if mode not in PREPROCESS:
        raise DataError(f"preprocess={preprocess!r}: choose one of {', '.join(PREPROCESS)}.")
    if mode == "none" and pca is None:
        return ds
    X = ds.X.astype(np.float64)
    steps = []
    if mode == "scale01":
        lo, span = X.min(axis=0), np.ptp(X, axis=0)
        X = (X - lo) / np.where(span > 0, span, 1.0)
        steps.append("scaled to [0, 1]")
    elif mode == "standardize":
        sd = X.std(axis=0)
        X = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        steps.append("standardised")
    if pca is not None:
        n, d = X.shape
        if isinstance(pca, bool) or not isinstance(pca, int | np.integer) or pca < 1:
            raise DataError(f"pca={pca!r}: give a positive number of dimensions, or None.")
        if pca > min(n, d):
            raise DataError(
                f"pca={pca} is more than min(n samples, d features) = {min(n, d)}; choose a "
                "smaller number."
            )
        model = PCA(n_components=int(pca), random_state=0)
        X = model.fit_transform(X)
        kept = float(model.explained_variance_ratio_.sum())
        steps.append(f"PCA to {pca} dims ({kept:.0%} of the variance)")
        logger.info("PCA to %d dimensions keeps %.1f%% of the variance", pca, 100 * kept)
    ds.X = np.ascontiguousarray(X, dtype=np.float32)
    ds.description = f"{ds.description}; {', '.join(steps)}"
    return ds
