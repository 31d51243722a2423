"""CIFAR-10 from its binary archive (parsed with NumPy; the Python version is pickles).

X is the raw pixels in [0, 1] by default. The paper clusters features of an
ImageNet-pretrained ResNet-50 instead: ``features="resnet50"`` with ``feature_model=`` a
torch.export (.pt2) or TorchScript file of such a network (torchvision is not a dependency;
see docs/data.md).
"""

from __future__ import annotations

import logging
import tarfile
import warnings
import zlib
from pathlib import Path

import numpy as np
import torch

from .dataset import DataError, Dataset
from .download import ProgressCallback, cached_archive, data_home, file_digest, mirrors

logger = logging.getLogger(__name__)

CIFAR_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"  # published on the CIFAR-10 page
CIFAR_URLS = ("https://www.cs.toronto.edu/~kriz/",)
_BATCHES = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
_RECORD = 1 + 3 * 32 * 32  # label byte, then 1024 red, 1024 green, 1024 blue (row-major)
CIFAR_NAMES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)

RESNET_HELP = (
    "features='resnet50' needs feature_model=PATH: an ImageNet-pretrained ResNet-50 without "
    "its last layer, saved with torch.export (.pt2) or as TorchScript (.pt), taking a float "
    "tensor (N, 3, 224, 224) normalised with the ImageNet mean and std and returning (N, 2048). "
    'Make one on a machine with torchvision: python -c "import torch, torchvision; '
    "m = torchvision.models.resnet50(weights='IMAGENET1K_V2'); m.fc = torch.nn.Identity(); "
    "ep = torch.export.export(m.eval(), (torch.randn(2, 3, 224, 224),), "
    "dynamic_shapes={'x': {0: torch.export.Dim('batch', min=1)}}); "
    "torch.export.save(ep, 'resnet50_features.pt2')\". Or use features='pixels' (the default)."
)


def load_cifar10(
    data_dir=None,
    *,
    download_missing: bool = True,
    mirror=None,
    checksums: dict | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = 60.0,
    features: str = "pixels",
    feature_model=None,
    device: str = "cpu",
    batch_size: int = 256,
) -> Dataset:
    """CIFAR-10, 60,000 32x32 RGB images (50,000 train + 10,000 test), 10 classes.

    Read from ``<data_home>/cifar10/cifar-10-binary.tar.gz`` (md5 checked; `checksums`
    ``{"cifar-10-binary.tar.gz": md5}`` overrides it), downloaded when missing.
    ResNet-50 features are cached next to the archive, keyed by the model file's sha256.
    """
    if features not in ("pixels", "resnet50"):
        raise DataError(f"features={features!r}: choose 'pixels' or 'resnet50'.")
    if features == "resnet50" and (feature_model is None or not Path(feature_model).is_file()):
        missing = "" if feature_model is None else f" ({feature_model} does not exist)"
        raise DataError(
            RESNET_HELP.replace("feature_model=PATH", f"feature_model=PATH{missing}", 1)
        )
    folder = data_home(data_dir) / "cifar10"
    archive = folder / CIFAR_ARCHIVE
    cached_archive(
        "cifar10",
        archive,
        [u + CIFAR_ARCHIVE for u in mirrors(mirror, "KINGDRA_CIFAR10_MIRROR", CIFAR_URLS)],
        (checksums or {}).get(CIFAR_ARCHIVE, CIFAR_MD5),
        source="https://www.cs.toronto.edu/~kriz/cifar.html (the binary version)",
        size="162 MB",
        download_missing=download_missing,
        algorithm="md5",
        progress=progress,
        timeout=timeout,
    )
    images, y, n_train = read_cifar10_archive(archive)
    if features == "resnet50":
        X = resnet_features(images, Path(feature_model), folder, device, batch_size, progress)
        what = f"ResNet-50 features ({X.shape[1]} dims, {Path(feature_model).name})"
    else:
        X = images.reshape(len(images), -1).astype(np.float32)
        X *= np.float32(1.0 / 255.0)
        what = "3,072 raw pixels in [0, 1]"
    return Dataset(
        X=X,
        y=y,
        images=images,
        class_names=list(CIFAR_NAMES),
        name="cifar10",
        description=(
            f"cifar10: {len(y):,} 32x32 RGB images ({n_train:,} train + {len(y) - n_train:,} "
            f"test), {what}, 10 classes"
        ),
        source=str(archive),
    )


def parse_cifar_batch(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch -> images (n, 32, 32, 3) uint8, labels (n,) int64."""
    if len(data) == 0 or len(data) % _RECORD:
        raise DataError(
            f"{name}: {len(data)} bytes is not a whole number of {_RECORD}-byte records; "
            "the archive is damaged, replace it."
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, _RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise DataError(f"{name}: label {labels.max()} outside 0..9; replace the archive.")
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def read_cifar10_archive(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """Images, labels (train batches 1-5 then test) and the train count, read in memory."""
    found = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in _BATCHES:
                    if member.size > 64 << 20:
                        raise DataError(f"{path.name}: {member.name} is implausibly large.")
                    found[base] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path} is not a readable .tar.gz ({e}); delete or replace it.") from None
    missing = [b for b in _BATCHES if b not in found]
    if missing:
        raise DataError(
            f"{path.name} lacks {', '.join(missing)}; it is not the CIFAR-10 binary version "
            f"({CIFAR_ARCHIVE}). Replace it."
        )
    parts = [parse_cifar_batch(found[b], b) for b in _BATCHES]
    n_train = sum(len(p[1]) for p in parts[:-1])
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), n_train


def resnet_features(images, model_path: Path, folder: Path, device, batch_size, progress):
    """(n, 2048) features of `images` through a saved ResNet-50, cached on disk."""
    key = file_digest(model_path, "sha256")[:16]
    cache = folder / f"features-{key}-{len(images)}.npy"
    if cache.is_file():
        try:
            X = np.load(cache, allow_pickle=False)
            if X.ndim == 2 and len(X) == len(images) and np.isfinite(X).all():
                logger.info("cached features %s", cache)
                return X.astype(np.float32, copy=False)
        except (ValueError, OSError, EOFError):
            logger.warning("ignoring unreadable feature cache %s", cache)
    model = _load_feature_model(model_path, device)
    mean = torch.tensor(_IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(_IMAGENET_STD, device=device).view(1, 3, 1, 1)
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = torch.from_numpy(images[start : start + batch_size]).to(device)
            batch = batch.permute(0, 3, 1, 2).float().div_(255.0)  # (b, 3, 32, 32)
            batch = torch.nn.functional.interpolate(
                batch, size=(224, 224), mode="bilinear", align_corners=False
            )
            feats = model((batch - mean) / std)
            if feats.ndim != 2:
                feats = feats.flatten(1)
            out.append(feats.float().cpu().numpy())
            if progress is not None:
                progress(min(start + batch_size, len(images)), len(images))
    X = np.concatenate(out).astype(np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".part.npy")
    np.save(tmp, X)
    tmp.replace(cache)  # atomic: a crash never leaves a half-written cache
    return X


def _load_feature_model(path: Path, device: str):
    """A torch.export program (.pt2) or a TorchScript module (.pt and others)."""
    try:
        if path.suffix == ".pt2":
            return torch.export.load(str(path)).module().to(device)
        with warnings.catch_warnings():  # torch.jit is deprecated but still the common format
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location=device).eval()
    except Exception as e:  # torch raises many types for a bad file
        raise DataError(f"{path} is not a loadable model file ({e}). {RESNET_HELP}") from None
