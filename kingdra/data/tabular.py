"""Users' arrays and tables: .npy / .npz (never pickles), .csv / .tsv / .parquet."""

from __future__ import annotations

import csv
import io
import logging
import zipfile

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from .dataset import DataError, Dataset, encode_labels, finite_rows
from .text import texts_to_tfidf

logger = logging.getLogger(__name__)

_FEATURE_KEYS = ("X", "x", "data", "features")
_LABEL_KEYS = ("y", "labels", "label", "target")


def load_array(
    data: bytes,
    filename: str,
    *,
    feature_key: str | None = None,
    label_key: str | None = None,
    labels=None,
    drop_nonfinite: bool = False,
) -> Dataset:
    """A `.npy` array, or arrays in a `.npz`: features (n, d) or images (n, h, w[, 3]).

    Parameters
    ----------
    feature_key, label_key : str, optional
        Arrays to use in a `.npz`; by default ``X`` (else ``x``, ``data``, ``features``,
        else the first array) and ``y`` (else ``labels``, ``label``, ``target``, else none).
    labels : array-like, optional
        Labels given separately, one per row.
    drop_nonfinite : bool
        Drop rows with NaN / inf instead of raising.
    """
    is_npz = filename.lower().endswith(".npz")
    if not data.startswith((b"\x93NUMPY", b"PK\x03\x04")):
        raise DataError(
            f"{filename} is not a valid NumPy file (no .npy / .npz header); save it with "
            "np.save or np.savez."
        )
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as e:
        if "allow_pickle" in str(e) or "Object arrays" in str(e):
            raise DataError(
                f"{filename} holds Python objects (pickled data), which are never loaded for "
                "safety; save plain numeric arrays (e.g. np.save(path, X.astype('float32')))."
            ) from None
        raise DataError(f"{filename} is not a valid NumPy file ({e}).") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{filename} is not a valid NumPy file ({e}).") from None
    y = labels
    if is_npz or isinstance(loaded, np.lib.npyio.NpzFile):
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DataError(f"{filename} holds a single array; rename it to .npy.")
        with loaded:
            keys = list(loaded.files)
            if not keys:
                raise DataError(f"{filename} holds no arrays.")
            fkey = _pick(keys, feature_key, _FEATURE_KEYS, "feature_key", filename)
            auto = _LABEL_KEYS if labels is None else ()  # labels= wins over default keys
            lkey = _pick(keys, label_key, auto, "label_key", filename)
            if fkey is None:
                fkey = next(k for k in keys if k != lkey) if len(keys) > 1 else keys[0]
            X = _load_member(loaded, fkey, filename)
            if lkey is not None and lkey != fkey:
                if y is not None:
                    raise DataError(f"{filename}: give labels= or label_key=, not both.")
                y = _load_member(loaded, lkey, filename)
        source_note = f"arrays {fkey!r}" + (f" / {lkey!r}" if lkey and lkey != fkey else "")
    else:
        X, source_note = loaded, "array"
    return _array_dataset(X, y, filename, source_note, drop_nonfinite)


def _pick(keys, wanted, defaults, option, filename):
    if wanted is not None:
        if wanted not in keys:
            raise DataError(
                f"{filename} has no array {wanted!r}; it holds {', '.join(keys)}. "
                f"Set {option}= to one of them."
            )
        return wanted
    return next((k for k in defaults if k in keys), None)


def _load_member(npz, key, filename):
    try:
        return npz[key]
    except ValueError:
        raise DataError(
            f"{filename}: array {key!r} holds Python objects (pickled data), which are never "
            "loaded; save plain numeric arrays."
        ) from None


def _array_dataset(X, y, filename, source_note, drop) -> Dataset:
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise DataError(
            f"{filename}: features must be numbers, got dtype {X.dtype}; convert them "
            "(e.g. X.astype('float32'))."
        )
    images = None
    if X.ndim == 1:
        raise DataError(
            f"{filename}: a 1-D array of length {len(X)}; features must be 2-D (n samples x d "
            "features). For a single feature save X.reshape(-1, 1)."
        )
    if X.ndim == 0:
        raise DataError(f"{filename}: a single number, not a data set.")
    if X.ndim == 4 and X.shape[-1] == 1:
        X = X[..., 0]
    if X.ndim == 3 or (X.ndim == 4 and X.shape[-1] == 3):
        images = _as_uint8_images(X)
        X = X.reshape(len(X), -1)
    elif X.ndim > 2:
        logger.warning("%s: shape %s flattened to (n, d)", filename, X.shape)
        X = X.reshape(len(X), -1)
    n = len(X)
    if y is not None:
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != n:
            raise DataError(
                f"{filename}: {y.shape[0] if y.ndim else 0} labels for {n} rows; give exactly "
                "one label per row."
            )
    X = X.astype(np.float32) if X.dtype != np.float32 else X
    keep, dropped = finite_rows(X, filename, drop=drop)
    if keep is not None:
        X, y = X[keep], (y[keep] if y is not None else None)
        images = images[keep] if images is not None else None
    y, class_names = encode_labels(y, filename) if y is not None else (None, None)
    return Dataset(
        X=X,
        y=y,
        images=images,
        class_names=class_names,
        name=filename,
        description=_describe(filename, X, class_names, dropped, source_note),
        source=filename,
        skipped=dropped,
    )


def _as_uint8_images(X: np.ndarray) -> np.ndarray | None:
    """uint8 copies for display when the values look like pixels (0..255 or 0..1)."""
    if X.dtype == np.uint8:
        return X
    if X.dtype.kind not in "iuf" or X.size == 0 or not np.isfinite(X).all():
        return None
    lo, hi = float(X.min()), float(X.max())
    if lo >= 0 and hi <= 1 and X.dtype.kind == "f":
        return np.round(X * 255).astype(np.uint8)
    if lo >= 0 and hi <= 255:
        return np.round(X).astype(np.uint8)
    return None


def load_table(
    data: bytes,
    filename: str,
    *,
    label_column: str | bool | None = None,
    text_column: str | None = None,
    feature_columns: list[str] | None = None,
    ignore_columns: list[str] | None = None,
    sep: str | None = None,
    labels=None,
    drop_nonfinite: bool = False,
    max_features: int = 2000,
    stop_words: str | None = "english",
    min_df: int | float = 1,
) -> Dataset:
    """A `.csv` / `.tsv` (header row required) or `.parquet` table.

    Numeric columns are the features, except the label column (labels, any values) and
    `ignore_columns`. With `text_column`, X is instead the tf-idf of that column
    (`max_features`, `stop_words`, `min_df` as in scikit-learn's ``TfidfVectorizer``) and the
    texts are kept for display.

    Parameters
    ----------
    label_column : str, False or None
        The column with the true labels (evaluation only, never a feature). None (default)
        takes the first column named ``y``, ``labels``, ``label`` or ``target`` (any case),
        as the ``.npz`` loader does, unless it holds fractional numbers (a coordinate, not a
        class); False means no label column: every numeric column is a feature. The
        description says which column was taken, or why a column so named was not.
    """
    lower = filename.lower()
    if lower.endswith(".parquet"):
        try:
            df = pd.read_parquet(io.BytesIO(data))
        except Exception as e:  # pyarrow raises several unrelated types for bad files
            raise DataError(f"{filename} is not a readable Parquet file ({e}).") from None
    else:
        sep = sep or ("\t" if lower.endswith(".tsv") else ",")
        encoding = _encoding(data, filename)
        _check_ragged(data, encoding, sep, filename)
        try:
            df = pd.read_csv(io.BytesIO(data), sep=sep, encoding=encoding)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as e:
            raise DataError(f"{filename} could not be read as a table ({e}).") from None
    df.columns = [str(c) for c in df.columns]
    if len(df) == 0:
        raise DataError(f"{filename} has a header but no data rows; clustering needs at least 2.")
    columns = list(df.columns)
    if not (label_column is None or label_column is False or isinstance(label_column, str)):
        raise DataError(
            f"label_column={label_column!r}: give a column name, None (find it by name) or "
            "False (no label column)."
        )
    for option, col in (("label_column", label_column), ("text_column", text_column)):
        if isinstance(col, str) and col not in columns:
            raise DataError(
                f"{filename} has no column {col!r}; its columns are {_names(columns)}. "
                f"Set {option}= to one of them."
            )
    for col in list(feature_columns or []) + list(ignore_columns or []):
        if col not in columns:
            raise DataError(f"{filename} has no column {col!r}; its columns are {_names(columns)}.")
    detected, skipped_label = False, None
    if label_column is None and labels is None:
        taken = set(feature_columns or []) | set(ignore_columns or []) | {text_column}
        label_column = detect_label_column([c for c in columns if c not in taken])
        if label_column is not None and _fractional(df[label_column]):
            # A "y" of x, y, z coordinates: numbers with fractions are a feature, not classes.
            skipped_label, label_column = label_column, None
        detected = label_column is not None
    label_column = label_column or None  # False: no label column
    y = labels
    if label_column is not None:
        if y is not None:
            raise DataError(f"{filename}: give labels= or label_column=, not both.")
        y = df[label_column].to_numpy(dtype=object)
    if y is not None and len(y) != len(df):
        raise DataError(
            f"{filename}: {len(y)} labels for {len(df)} rows; give exactly one label per row."
        )
    label_note = _label_note(label_column, detected)
    if skipped_label is not None:
        label_note = (
            f"column {skipped_label!r} holds fractional numbers, so it is a feature, not "
            f"labels; label_column={skipped_label!r} takes it as labels"
        )
    if text_column is not None:
        texts = ["" if pd.isna(t) else str(t) for t in df[text_column]]
        ds = texts_to_tfidf(
            texts, y, filename, max_features=max_features, stop_words=stop_words, min_df=min_df
        )
        ds.description += f" (text from {text_column!r}{'; ' + label_note if label_note else ''})"
        ds.extra.update(label_column=label_column, text_column=text_column)
        return ds
    used = feature_columns or [
        c for c in columns if c != label_column and c not in set(ignore_columns or [])
    ]
    _check_numeric(df, used, filename)
    X = df[used].to_numpy(dtype=np.float64)
    keep, dropped = finite_rows(X, filename, columns=used, drop=drop_nonfinite)
    if keep is not None:
        X = X[keep]
        y = np.asarray(y, dtype=object)[keep] if y is not None else None
    y, class_names = (
        encode_labels(np.asarray(y, dtype=object), filename) if y is not None else (None, None)
    )
    note = f"features: {len(used)} numeric column(s) {_names(used, 8)}"
    note += f"; {label_note}" if label_note else ""
    return Dataset(
        X=X.astype(np.float32),
        y=y,
        class_names=class_names,
        name=filename,
        description=_describe(filename, X, class_names, dropped, note),
        source=filename,
        skipped=dropped,
        extra={"columns": used, "label_column": label_column, "label_detected": detected},
    )


def table_columns(data: bytes, filename: str, sep: str | None = None) -> list[str]:
    """Column names of a `.csv` / `.tsv` / `.parquet` table, read from its header only.

    For choosing the label, text and ignored columns before loading (the app's Upload tab).
    """
    lower = filename.lower()
    try:
        if lower.endswith(".parquet"):
            return [str(c) for c in pq.read_schema(io.BytesIO(data)).names]
        sep = sep or ("\t" if lower.endswith(".tsv") else ",")
        head = pd.read_csv(io.BytesIO(data), sep=sep, nrows=0, encoding=_encoding(data, filename))
    except Exception as e:  # pandas / pyarrow raise many types for unreadable headers
        raise DataError(f"{filename}: could not read the header row ({e}).") from None
    return [str(c) for c in head.columns]


def detect_label_column(columns) -> str | None:
    """The column that holds labels by its name: ``y``, ``labels``, ``label``, ``target``.

    The names and order of the ``.npz`` loader's label arrays, in any case; None when no
    column has one of them.
    """
    by_name = {str(c).strip().lower(): c for c in reversed(list(columns))}
    return next((by_name[name] for name in _LABEL_KEYS if name in by_name), None)


def _fractional(column) -> bool:
    """Numbers that are not all whole: measurements, not class labels."""
    if not pd.api.types.is_float_dtype(column):
        return False
    values = column.to_numpy(dtype=np.float64)
    values = values[np.isfinite(values)]
    return bool(len(values)) and not np.all(values == np.round(values))


def _label_note(label_column, detected: bool) -> str:
    if label_column is None:
        return ""
    if detected:
        return (
            f"labels from column {label_column!r} (found by its name; "
            "label_column=False makes it a feature)"
        )
    return f"labels from column {label_column!r}"


def _encoding(data: bytes, filename: str) -> str:
    try:
        data.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError:
        logger.warning("%s is not UTF-8; reading it as Latin-1", filename)
        return "latin-1"


def _check_ragged(data: bytes, encoding: str, sep: str, filename: str) -> None:
    """Every non-blank line must have as many fields as the header (pandas pads short ones)."""
    if b'"' not in data and len(sep) == 1 and sep.isascii():
        bad, width = _field_counts_unquoted(data, sep)
    else:  # quoted fields may hold separators and newlines: parse properly
        bad, width = _field_counts_csv(data.decode(encoding), sep, filename)
    if width is None:
        raise DataError(f"{filename} has no rows (only blank lines); it needs a header and data.")
    if bad:
        shown = "; ".join(f"line {ln} has {k}" for ln, k in bad[:5])
        raise DataError(
            f"{filename}: the header has {width} fields but {len(bad)} line(s) differ ({shown}"
            f"{'; ...' if len(bad) > 5 else ''}). Make every row have {width} fields "
            f"(separator {sep!r}; set sep= if it is another)."
        )


def _field_counts_unquoted(data: bytes, sep: str):
    """Fields per line by counting separator bytes (vectorised; no quotes in the file)."""
    raw = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(raw == 10)
    starts = np.concatenate([[0], newlines + 1])
    ends = np.concatenate([newlines, [len(raw)]])
    seps = np.flatnonzero(raw == ord(sep))
    fields = np.searchsorted(seps, ends) - np.searchsorted(seps, starts) + 1
    lengths = ends - starts
    has_cr = np.zeros(len(ends), dtype=bool)
    nonempty = lengths > 0
    has_cr[nonempty] = raw[ends[nonempty] - 1] == 13
    lines = np.flatnonzero(lengths - has_cr > 0)  # blank lines are skipped, as pandas does
    if len(lines) == 0:
        return [], None
    width = int(fields[lines[0]])
    wrong = lines[fields[lines] != width]
    return [(int(i) + 1, int(fields[i])) for i in wrong], width


def _field_counts_csv(text: str, sep: str, filename: str):
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    width, bad = None, []
    # The csv module refuses fields over 131,072 characters by default; pandas reads any
    # length, so long texts (a text_column) must pass this check too.
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if width is None:
                width = len(row)
            elif len(row) != width:
                bad.append((reader.line_num, len(row)))
    except csv.Error as e:
        raise DataError(f"{filename}: not valid CSV ({e}).") from None
    finally:
        csv.field_size_limit(limit)
    return bad, width


def _check_numeric(df, used, filename) -> None:
    bad = [
        c
        for c in used
        if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]))
    ]
    if not bad:
        return
    details = []
    for c in bad[:5]:
        col = df[c]
        not_number = col[pd.to_numeric(col, errors="coerce").isna() & col.notna()]
        example = (
            f" (row {not_number.index[0]}: {str(not_number.iloc[0])[:30]!r})"
            if len(not_number)
            else ""
        )
        details.append(f"{c!r}{example}")
    raise DataError(
        f"{filename}: column(s) {', '.join(details)}{', ...' if len(bad) > 5 else ''} are not "
        "numeric. Pass label_column='<name>' if one holds the labels, text_column='<name>' "
        "for text, or ignore_columns=[...] to leave them out."
    )


def _names(columns, limit: int = 20) -> str:
    shown = ", ".join(repr(c) for c in columns[:limit])
    return shown + (", ..." if len(columns) > limit else "")


def _describe(filename, X, class_names, dropped, note) -> str:
    n, d = X.shape
    labels = f", {len(class_names)} classes" if class_names is not None else ", no labels"
    drop = f", dropped {dropped} row(s) with NaN/inf" if dropped else ""
    return f"{filename}: {n:,} rows x {d:,} features ({note}){labels}{drop}"
