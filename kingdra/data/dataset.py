"""The `Dataset` every loader returns, and the errors they raise."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class DataError(ValueError):
    """Bad or unusable input data; the message says what is wrong and what to do."""


class MissingDataError(DataError):
    """A built-in dataset is neither in the cache nor downloadable (offline, firewall).

    The message names the files and the folder where placing them makes `load` work.
    """


@dataclass
class Dataset:
    """Features to cluster, plus what is kept for display and evaluation.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Float32, C-contiguous, finite: what the models train on.
    y : ndarray of shape (n,) or None
        Integer labels 0..c-1 (for evaluation only); ``class_names[y[i]]`` is the original.
    images : ndarray of shape (n, h, w) or (n, h, w, 3), uint8, or None
        Images for galleries.
    texts : list of str or None
        Documents for display (text data).
    class_names : list of str or None
        Original label values, in the order of the encoded labels.
    name : str
        Short name (``"mnist"``, a file name).
    description : str
        One line for humans: size, source, what was done.
    source : str
        Path or URL the data came from.
    skipped : int
        Items skipped while loading (corrupt images, dropped non-finite rows).

    Examples
    --------
    >>> ds = Dataset(X=np.zeros((3, 2), np.float32), y=np.array([0, 1, 1]))
    >>> ds.n_classes
    2
    """

    X: np.ndarray
    y: np.ndarray | None = None
    images: np.ndarray | None = None
    texts: list[str] | None = None
    class_names: list[str] | None = None
    name: str = "data"
    description: str = ""
    source: str = ""
    skipped: int = 0
    extra: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        if X.ndim != 2:
            raise DataError(
                f"{self.name}: X must be 2-D (n samples x d features), got shape {X.shape}."
            )
        if not np.issubdtype(X.dtype, np.number) and X.dtype != np.bool_:
            raise DataError(f"{self.name}: X must be numeric, got dtype {X.dtype}.")
        n, d = X.shape
        if n < 2:
            raise DataError(f"{self.name}: found {n} sample(s); clustering needs at least 2 rows.")
        if d < 1:
            raise DataError(f"{self.name}: found no feature columns.")
        X = np.ascontiguousarray(X, dtype=np.float32)
        if not np.isfinite(X).all():
            raise DataError(f"{self.name}: X has NaN or infinite values; {nonfinite_report(X)}")
        self.X = X
        if self.y is not None:
            y = np.asarray(self.y)
            if y.ndim != 1 or len(y) != n:
                raise DataError(
                    f"{self.name}: {len(y) if y.ndim == 1 else y.shape} labels for {n} samples; "
                    "give exactly one label per row."
                )
            if not np.issubdtype(y.dtype, np.integer) or (len(y) and y.min() < 0):
                raise DataError(
                    f"{self.name}: y must be integer labels 0..c-1 (use encode_labels)."
                )
            self.y = y.astype(np.int64, copy=False)
        if self.images is not None:
            images = np.asarray(self.images)
            ok_shape = images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 3)
            if not ok_shape or len(images) != n or images.dtype != np.uint8:
                raise DataError(
                    f"{self.name}: images must be uint8 of shape (n, h, w) or (n, h, w, 3) "
                    f"with n = {n}; got {images.dtype} {images.shape}."
                )
            self.images = images
        if self.texts is not None and len(self.texts) != n:
            raise DataError(f"{self.name}: {len(self.texts)} texts for {n} samples.")
        if self.class_names is not None:
            self.class_names = [str(c) for c in self.class_names]
            if self.y is not None and len(self.y) and self.y.max() >= len(self.class_names):
                raise DataError(f"{self.name}: a label is out of range of class_names.")

    @property
    def n_classes(self) -> int | None:
        """Number of classes, or None when there are no labels."""
        if self.y is None:
            return None
        if self.class_names is not None:
            return len(self.class_names)
        return int(self.y.max()) + 1 if len(self.y) else 0

    def __len__(self) -> int:
        return self.X.shape[0]


def encode_labels(values, name: str = "labels") -> tuple[np.ndarray, list[str]]:
    """Map any label values to 0..c-1 (sorted order) and keep the originals as names.

    Raises `DataError` on missing labels (None / NaN), naming the rows.
    """
    values = np.asarray(values)
    if values.ndim != 1:
        raise DataError(f"{name}: labels must be one value per row, got shape {values.shape}.")
    if values.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size == 0 and np.all(values == np.round(values)):
            values = values.astype(np.int64)
    elif values.dtype == object:
        bad = np.flatnonzero([v is None or (isinstance(v, float) and v != v) for v in values])
        if bad.size == 0:
            values = values.astype(str)
    else:
        bad = np.array([], dtype=np.int64)
    if bad.size:
        raise DataError(
            f"{name}: {bad.size} row(s) have no label (e.g. rows {_first(bad)}); "
            "fill them in or drop those rows."
        )
    classes, y = np.unique(values, return_inverse=True)
    return y.astype(np.int64).reshape(-1), [str(c) for c in classes]


def nonfinite_report(X: np.ndarray, columns=None) -> str:
    """Say where NaN / inf values are: how many, which rows and columns (first few)."""
    bad = ~np.isfinite(X)
    rows = np.flatnonzero(bad.any(axis=1))
    cols = np.flatnonzero(bad.any(axis=0))
    col_names = [str(columns[c]) for c in cols[:5]] if columns is not None else cols[:5].tolist()
    more = ", ..." if cols.size > 5 else ""
    return (
        f"{int(bad.sum())} value(s) in {rows.size} row(s) (0-based rows {_first(rows)}) and "
        f"{cols.size} column(s) ({', '.join(map(str, col_names))}{more}). Fix them, or pass "
        "drop_nonfinite=True to drop those rows."
    )


def finite_rows(X: np.ndarray, name: str, columns=None, drop: bool = False):
    """Return (keep_mask or None, n_dropped); raise `DataError` with a report unless `drop`."""
    finite = np.isfinite(X).all(axis=1)
    if finite.all():
        return None, 0
    if not drop:
        raise DataError(f"{name}: NaN or infinite values: {nonfinite_report(X, columns)}")
    return finite, int((~finite).sum())


def _first(idx: np.ndarray, k: int = 5) -> str:
    shown = ", ".join(str(int(i)) for i in idx[:k])
    return shown + (", ..." if len(idx) > k else "")
