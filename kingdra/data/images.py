"""A `.zip` of images, read in memory with limits (never extracted to disk).

One folder per class gives labels (``cat/1.png``, ``dog/7.jpg``; a common top folder is
ignored); images all at the top level give none. Images are resized to a common size and
converted to grey or RGB.
"""

from __future__ import annotations

import io
import logging
import zipfile
import zlib
from collections import Counter
from pathlib import PurePosixPath

import numpy as np
from PIL import Image

from .dataset import DataError, Dataset

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    ".ppm",
    ".pgm",
)


def load_image_zip(
    data: bytes,
    filename: str,
    *,
    image_size: int | tuple[int, int] | None = None,
    max_side: int = 64,
    resize: bool = True,
    color: str = "auto",
    max_files: int = 100_000,
    max_total_bytes: int = 1 << 30,
    max_ratio: float = 200.0,
    max_pixels: int = 40_000_000,
) -> Dataset:
    """Images in a zip -> X (pixels in [0, 1], flattened), images (uint8), labels from folders.

    Parameters
    ----------
    image_size : int or (height, width), optional
        Size every image is resized to. Default: the most common size, shrunk (keeping its
        aspect ratio) so that its longer side is at most `max_side` pixels.
    resize : bool
        When False, images of different sizes are an error instead of being resized.
    color : {"auto", "grey", "rgb"}
        ``"auto"`` gives grey when every image is grey (R = G = B), else RGB.
    max_files, max_total_bytes, max_ratio, max_pixels
        Safety limits: zip entries, decompressed bytes of the images (declared sizes and the
        bytes actually read), compression ratio of any image over 1 MiB, pixels per image.
    """
    if color not in ("auto", "grey", "gray", "rgb"):
        raise DataError(f"color={color!r}: choose 'auto', 'grey' or 'rgb'.")
    target = _parse_size(image_size)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{filename} is not a valid zip file ({e}).") from None
    with archive:
        members, ignored = _select_members(archive, filename, max_files, max_total_bytes, max_ratio)
        raw = _read_members(archive, members, filename, max_total_bytes)
    if not members:
        raise DataError(
            f"{filename} holds no images ({ignored} other file(s) ignored). Supported image "
            f"types: {', '.join(IMAGE_EXTENSIONS)}."
        )

    # Pass 1: headers only (sizes); unreadable files are skipped and counted.
    opened, skipped = [], []
    for info, content in zip(members, raw, strict=True):
        try:
            img = Image.open(io.BytesIO(content))
            w, h = img.size
            if w * h > max_pixels:
                raise ValueError(f"{w}x{h} is over max_pixels={max_pixels}")
            opened.append((info.filename, img))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            skipped.append(f"{info.filename} ({e})")
    sizes = Counter((img.size[1], img.size[0]) for _, img in opened)  # (h, w)
    if len(sizes) > 1 and not resize:
        shown = ", ".join(f"{h}x{w} ({k})" for (h, w), k in sizes.most_common(5))
        raise DataError(
            f"{filename}: images have {len(sizes)} different sizes (height x width: {shown}). "
            "Pass resize=True (and optionally image_size=(h, w)) or make them one size."
        )
    if target is None and sizes:
        target = _shrink(sizes.most_common(1)[0][0], max_side)

    # Pass 2: decode, flatten alpha onto white, resize, to RGB arrays.
    names, arrays = [], []
    for name, img in opened:
        try:
            arrays.append(_to_rgb(img, target))
            names.append(name)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            skipped.append(f"{name} ({e})")
    if skipped:
        logger.warning(
            "%s: skipped %d unreadable image(s), e.g. %s", filename, len(skipped), skipped[0]
        )
    if len(arrays) < 2:
        raise DataError(
            f"{filename}: {len(arrays)} readable image(s) of {len(members)} "
            f"({len(skipped)} unreadable{', e.g. ' + skipped[0] if skipped else ''}); "
            "clustering needs at least 2."
        )
    images = np.stack(arrays)  # (n, h, w, 3)
    grey = color in ("grey", "gray") or (
        color == "auto"
        and np.array_equal(images[..., 0], images[..., 1])
        and np.array_equal(images[..., 1], images[..., 2])
    )
    if grey:
        images = (
            images[..., 0]
            if color == "auto"
            else np.stack([np.asarray(Image.fromarray(a).convert("L")) for a in images])
        )
    y, class_names = _folder_labels(names, filename)
    n, h, w = images.shape[:3]
    X = images.reshape(n, -1).astype(np.float32)
    X *= np.float32(1.0 / 255.0)
    parts = [f"{filename}: {n:,} images {h}x{w} {'grey' if grey else 'RGB'}"]
    if len(sizes) > 1 or (sizes and (h, w) not in sizes):
        parts.append(f"resized from {len(sizes)} size(s)")
    parts.append(f"{len(class_names)} classes (folders)" if class_names else "no labels")
    if skipped:
        parts.append(f"skipped {len(skipped)} unreadable image(s)")
    return Dataset(
        X=X,
        y=y,
        images=images,
        class_names=class_names,
        name=filename,
        description=", ".join(parts),
        source=filename,
        skipped=len(skipped),
        extra={"files": names, "skipped_files": skipped[:100]},
    )


def _parse_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, int | np.integer) and not isinstance(image_size, bool):
        image_size = (int(image_size), int(image_size))
    try:
        h, w = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise DataError(f"image_size={image_size!r}: give an int or (height, width).") from None
    if not (1 <= h <= 4096 and 1 <= w <= 4096):
        raise DataError(f"image_size={image_size!r}: each side must be 1..4096 pixels.")
    return h, w


def _shrink(size, max_side):
    h, w = size
    scale = min(1.0, max_side / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def _safe_parts(name: str) -> tuple[str, ...] | None:
    """Path parts of a zip entry, or None when it could escape a folder (path traversal)."""
    name = name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    parts = tuple(p for p in PurePosixPath(name).parts if p not in ("", "."))
    if any(p == ".." for p in parts):
        return None
    return parts


def _select_members(archive, filename, max_files, max_total_bytes, max_ratio):
    infos = archive.infolist()
    if len(infos) > max_files:
        raise DataError(
            f"{filename} has {len(infos):,} entries, over the limit max_files={max_files:,}. "
            "Split the archive or raise max_files."
        )
    unsafe = [i.filename for i in infos if _safe_parts(i.filename) is None]
    if unsafe:
        raise DataError(
            f"{filename} was rejected: {len(unsafe)} entr(ies) with unsafe paths that point "
            f"outside the archive, e.g. {unsafe[0]!r}. Nothing was extracted. Re-create the zip "
            "from a folder (e.g. `zip -r data.zip my_images/`)."
        )
    members, ignored = [], 0
    for info in infos:
        parts = _safe_parts(info.filename)
        if info.is_dir() or not parts:
            continue
        hidden = any(p.startswith(".") or p == "__MACOSX" for p in parts)
        if hidden or not parts[-1].lower().endswith(IMAGE_EXTENSIONS):
            ignored += 1
            continue
        if info.file_size > (1 << 20) and info.file_size > max_ratio * max(info.compress_size, 1):
            raise DataError(
                f"{filename} was rejected: {info.filename} expands {info.file_size:,} bytes from "
                f"{info.compress_size:,} (over max_ratio={max_ratio:g}), a sign of a zip bomb."
            )
        members.append(info)
    declared = sum(i.file_size for i in members)
    if declared > max_total_bytes:
        raise DataError(
            f"{filename} was rejected: its images declare {declared:,} bytes uncompressed, over "
            f"max_total_bytes={max_total_bytes:,}. Use fewer or smaller images, or raise the limit."
        )
    members.sort(key=lambda i: _safe_parts(i.filename))
    return members, ignored


def _read_members(archive, members, filename, max_total_bytes) -> list[bytes]:
    """Read members in memory, counting bytes: sizes declared in the zip can lie."""
    out, total = [], 0
    for info in members:
        chunks, size = [], 0
        try:
            with archive.open(info) as f:
                while chunk := f.read(1 << 16):
                    size += len(chunk)
                    total += len(chunk)
                    if size > info.file_size or total > max_total_bytes:
                        raise DataError(
                            f"{filename} was rejected: {info.filename} decompresses to more "
                            "bytes than declared or than max_total_bytes (a zip bomb?)."
                        )
                    chunks.append(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as e:
            # A damaged member (bad CRC, truncated): keep the bytes read; decoding will fail
            # and the image is counted as skipped.
            logger.warning("%s: %s is damaged (%s)", filename, info.filename, e)
            chunks = []
        except NotImplementedError as e:  # unsupported compression method
            raise DataError(f"{filename}: {info.filename} uses {e}; re-create the zip.") from None
        out.append(b"".join(chunks))
    return out


def _to_rgb(img, target) -> np.ndarray:
    img.load()
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    elif img.mode in ("I", "I;16", "I;16B", "F"):
        a = np.asarray(img, dtype=np.float64)
        span = a.max() - a.min()
        img = Image.fromarray(np.uint8(np.round(255 * (a - a.min()) / (span if span else 1))))
    img = img.convert("RGB")
    if target is not None and (img.size[1], img.size[0]) != target:
        img = img.resize((target[1], target[0]), Image.Resampling.LANCZOS)
    return np.asarray(img, dtype=np.uint8)


def _folder_labels(names: list[str], filename: str):
    parts = [_safe_parts(n) for n in names]
    while all(len(p) >= 2 for p in parts) and len({p[0] for p in parts}) == 1:
        parts = [p[1:] for p in parts]
    depths = {len(p) >= 2 for p in parts}
    if depths == {False}:
        return None, None
    if depths == {True, False}:
        top = sum(len(p) == 1 for p in parts)
        raise DataError(
            f"{filename}: {top} image(s) are at the top level and the others in folders. Put "
            "every image in a folder named after its class (labels), or all at the top level "
            "(no labels)."
        )
    groups = [p[0] for p in parts]
    class_names = sorted(set(groups))
    index = {g: i for i, g in enumerate(class_names)}
    return np.array([index[g] for g in groups], dtype=np.int64), class_names
