"""The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/).

A file is: two zero bytes, a type code, the number of dimensions, one big-endian int32 per
dimension, then the values in C order (big-endian for multi-byte types).
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib

import numpy as np

from .dataset import DataError

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data: bytes, name: str = "IDX file") -> np.ndarray:
    """Parse IDX bytes into an array (native byte order).

    Raises `DataError` on a bad header or a length that does not match the header.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise DataError(f"{name} is not an IDX file (bad magic number); replace it.")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataError(f"{name}: truncated IDX header; replace the file.")
    shape = struct.unpack(f">{ndim}i", data[4:header])
    dtype = np.dtype(_TYPES[data[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if min(shape) < 0 or len(data) - header != expected:
        raise DataError(
            f"{name}: header says shape {shape} ({expected} bytes) but the file holds "
            f"{len(data) - header} bytes of values; the file is truncated or corrupt, replace it."
        )
    array = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    return array.reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def gunzip_if_needed(raw: bytes, name: str, max_bytes: int = 1 << 30) -> bytes:
    """`raw` gunzipped when it starts with the gzip magic, else `raw` (at most `max_bytes`)."""
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as g:
            data = g.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{name} is not a valid gzip file ({e}); replace it.") from None
    if len(data) > max_bytes:
        raise DataError(f"{name} decompresses to more than {max_bytes} bytes; replace it.")
    return data
