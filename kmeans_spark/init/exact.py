"""Exact squared distances between digits and centres that are themselves digits.

Every initialisation centre is a data point, so all coordinates are integers in
0..255 and squared distances are integers. ``||x||^2 - 2 x.c + ||c||^2`` with a
float64 matrix product is then exact: every product ``x_i c_i`` is at most
65,025 and every partial sum of a 784-term dot product is below ``2**53``, so
float64 adds them without rounding in any order, blocked or fused. The result is
the same integer on every BLAS, CPU and partitioning, which is what makes the
seeded initialisations independent of the partitioning.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

CHUNK_ROWS = 4096
"""Rows converted to float64 at a time: bounds the temporary at 25 MB."""


def centre_sq_norms(centres: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """Exact ``||c||^2`` of each row of a ``(m, 784)`` uint8 matrix, as int64 ``(m,)``."""
    wide = centres.astype(np.int64)
    return np.einsum("ij,ij->i", wide, wide)


def exact_sq_distances(
    pixels: npt.NDArray[np.uint8],
    sq_norms: npt.NDArray[np.int64],
    centres: npt.NDArray[np.uint8],
) -> npt.NDArray[np.int64]:
    """Exact squared Euclidean distances from every digit to every centre.

    Parameters
    ----------
    pixels : ndarray of uint8, shape (n, 784)
    sq_norms : ndarray of int64, shape (n,)
        Exact ``||x||^2`` of every row of ``pixels``.
    centres : ndarray of uint8, shape (m, 784)

    Returns
    -------
    ndarray of int64, shape (n, m)
    """
    n, m = pixels.shape[0], centres.shape[0]
    out = np.empty((n, m), dtype=np.int64)
    if n == 0 or m == 0:
        return out
    centres_t = np.ascontiguousarray(centres.T, dtype=np.float64)
    norms = centre_sq_norms(centres)
    for start in range(0, n, CHUNK_ROWS):
        stop = min(n, start + CHUNK_ROWS)
        dots = pixels[start:stop].astype(np.float64) @ centres_t
        # Exact integers below 2**53: the conversion loses nothing.
        out[start:stop] = sq_norms[start:stop, None] - 2 * dots.astype(np.int64) + norms[None, :]
    return out
