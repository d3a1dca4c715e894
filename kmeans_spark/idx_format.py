"""The IDX file format of MNIST: bytes in, numpy out, and back. No Spark, no files.

An IDX file is a big-endian header (two zero bytes, a type code, the number of
dimensions, then one uint32 per dimension) followed by the data, row-major. MNIST
uses type 0x08 (unsigned byte): images are ``(n, 28, 28)``, labels ``(n,)``.
The canonical files are gzipped; :func:`maybe_gunzip` accepts both.
"""

from __future__ import annotations

import gzip
import struct
import zlib

import numpy as np
import numpy.typing as npt

from kmeans_spark.errors import InputError
from kmeans_spark.schema import IMAGE_SIDE

UBYTE = 0x08
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
_GZIP_MAGIC = b"\x1f\x8b"


def maybe_gunzip(data: bytes, source: str) -> bytes:
    """Decompress ``data`` when it is gzip, else return it unchanged.

    Raises
    ------
    InputError
        When a gzip stream is truncated or corrupt.
    """
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{source}: corrupt or truncated gzip data ({exc})") from None


def decode_idx(data: bytes, source: str, expected_magic: int) -> npt.NDArray[np.uint8]:
    """Decode an (uncompressed) IDX payload of unsigned bytes.

    Parameters
    ----------
    data : bytes
        The whole file, already decompressed.
    source : str
        File name for error messages.
    expected_magic : int
        :data:`IMAGES_MAGIC` or :data:`LABELS_MAGIC`.

    Returns
    -------
    ndarray of uint8
        Shape ``(n, 28, 28)`` for images, ``(n,)`` for labels; a read-only view of ``data``.

    Raises
    ------
    InputError
        Wrong magic number, unexpected dimensions, or a payload of the wrong length.
    """
    if len(data) < 4:
        raise InputError(f"{source}: file too short for an IDX header ({len(data)} bytes)")
    (magic,) = struct.unpack(">I", data[:4])
    if magic != expected_magic:
        kind = "images" if expected_magic == IMAGES_MAGIC else "labels"
        raise InputError(
            f"{source}: wrong IDX magic number 0x{magic:08x} "
            f"(expected 0x{expected_magic:08x} for MNIST {kind})"
        )
    n_dims = magic & 0xFF
    header_size = 4 + 4 * n_dims
    if len(data) < header_size:
        raise InputError(f"{source}: truncated IDX header")
    dims = struct.unpack(f">{n_dims}I", data[4:header_size])
    if expected_magic == IMAGES_MAGIC and tuple(dims[1:]) != (IMAGE_SIDE, IMAGE_SIDE):
        raise InputError(
            f"{source}: images are {'x'.join(map(str, dims[1:]))}, expected "
            f"{IMAGE_SIDE}x{IMAGE_SIDE}"
        )
    expected = int(np.prod(dims, dtype=np.int64))
    payload = len(data) - header_size
    if payload < expected:
        raise InputError(
            f"{source}: truncated file: header announces {dims[0]} records "
            f"({expected} bytes of data) but only {payload} bytes follow"
        )
    if payload > expected:
        raise InputError(
            f"{source}: {payload - expected} bytes of trailing data after the "
            f"{dims[0]} records the header announces"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(dims)


def encode_idx(array: npt.ArrayLike) -> bytes:
    """Encode a uint8 array as an (uncompressed) IDX payload.

    Parameters
    ----------
    array : array_like of uint8
        ``(n,)`` labels or ``(n, 28, 28)`` images; any shape with 1..255 dimensions.

    Returns
    -------
    bytes
        Header and data, exactly as in the canonical MNIST files once decompressed.
    """
    values = np.ascontiguousarray(array)
    if values.dtype != np.uint8:
        raise ValueError(f"IDX encoding here is for uint8 data, got {values.dtype}")
    header = struct.pack(">HBB", 0, UBYTE, values.ndim)
    header += struct.pack(f">{values.ndim}I", *values.shape)
    return header + values.tobytes()
