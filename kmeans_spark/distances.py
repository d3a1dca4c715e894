"""Nearest-centroid assignment: fast float32 matrix products, exact where it matters.

Squared distances are ``||x||^2 - 2 x.c + ||c||^2``; the ``x.c`` terms for a whole
block come from one float32 BLAS product. Float32 can only change an assignment
when two centroids are nearly tied, so rows whose runner-up lies within a
rigorous error bound of the best are re-decided with :func:`reference_sq_distance`,
which is correctly rounded and therefore identical on every machine, BLAS and
partitioning. The result is the exact argmin of the reference distance (ties to
the smaller centroid index) for every row, at float32 speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_F32_UNIT_ROUNDOFF = 2.0**-24
_F64_SLACK = 1e-12
DEFAULT_CHUNK_ROWS = 4096
"""Rows per matrix product: big enough for BLAS efficiency, small enough for cache."""


def _dot_error_factor(length: int) -> float:
    """gamma_n of Higham's error analysis for a float32 dot product of ``length`` terms.

    Any summation order, blocked or fused, satisfies
    ``|fl(x.c) - x.c| <= gamma_n * sum|x_i c_i|``. Two more terms cover rounding
    the float64 centroid to float32; the 1% covers the float64 arithmetic around it.
    """
    n = length + 2
    return 1.01 * n * _F32_UNIT_ROUNDOFF / (1.0 - n * _F32_UNIT_ROUNDOFF)


@dataclass(frozen=True)
class PreparedCentroids:
    """Centroids with what every task needs precomputed once on the driver.

    Attributes
    ----------
    centroids : ndarray of float64, shape (k, d)
    centroids_f32 : ndarray of float32, shape (k, d)
    sq_norms : ndarray of float64, shape (k,)
        ``||c||^2`` in float64.
    max_norm : float
        ``max ||c||``, for the error bound.
    """

    centroids: npt.NDArray[np.float64]
    centroids_f32: npt.NDArray[np.float32]
    sq_norms: npt.NDArray[np.float64]
    max_norm: float

    @staticmethod
    def of(centroids: npt.NDArray[np.float64]) -> PreparedCentroids:
        values = np.ascontiguousarray(centroids, dtype=np.float64)
        sq_norms = np.einsum("ij,ij->i", values, values)
        return PreparedCentroids(
            values,
            values.astype(np.float32),
            sq_norms,
            float(np.sqrt(sq_norms.max())) if len(sq_norms) else 0.0,
        )

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])


def reference_sq_distance(point: npt.NDArray[np.uint8], centroid: npt.NDArray[np.float64]) -> float:
    """Squared distance with a correctly rounded sum: the same bits on every machine.

    Parameters
    ----------
    point : ndarray of uint8, shape (d,)
    centroid : ndarray of float64, shape (d,)
    """
    diff = point.astype(np.float64) - centroid
    return math.fsum((diff * diff).tolist())


def _recheck_row(
    point: npt.NDArray[np.uint8],
    candidates: npt.NDArray[np.intp],
    centroids: npt.NDArray[np.float64],
) -> int:
    """The candidate with the smallest reference distance, ties to the smaller index."""
    best_index, best_distance = -1, math.inf
    for j in candidates.tolist():  # ascending, so a strict "<" keeps the smaller index on ties
        distance = reference_sq_distance(point, centroids[j])
        if distance < best_distance:
            best_index, best_distance = j, distance
    return best_index


def assign_nearest(
    pixels: npt.NDArray[np.uint8],
    sq_norms: npt.NDArray[np.int64],
    prepared: PreparedCentroids,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> npt.NDArray[np.int32]:
    """Index of the nearest centroid for every row.

    Parameters
    ----------
    pixels : ndarray of uint8, shape (n, d)
    sq_norms : ndarray of int64, shape (n,)
        Exact ``||x||^2`` of each row.
    prepared : PreparedCentroids
        ``k >= 1`` centroids of dimension ``d``.
    chunk_rows : int
        Rows per float32 matrix product.

    Returns
    -------
    ndarray of int32, shape (n,)
        ``argmin_j reference_sq_distance(x, c_j)``, ties to the smaller ``j``.
    """
    n = pixels.shape[0]
    labels = np.empty(n, dtype=np.int32)
    if n == 0:
        return labels
    bound_factor = 4.0 * _dot_error_factor(pixels.shape[1]) * prepared.max_norm
    transposed = np.ascontiguousarray(prepared.centroids_f32.T)
    for start in range(0, n, chunk_rows):
        stop = min(start + chunk_rows, n)
        dots = pixels[start:stop].astype(np.float32) @ transposed
        # ||x||^2 is the same for every centroid of a row, so it is left out.
        partial = dots.astype(np.float64)
        partial *= -2.0
        partial += prepared.sq_norms
        best = np.argmin(partial, axis=1)
        best_value = partial[np.arange(stop - start), best]
        # Each approximate distance is within 2*gamma*||x||*||c|| of the true one,
        # so a centroid can beat `best` only if it lies within twice that. The
        # second term covers float64 rounding here and in the reference distance.
        row_norms = np.sqrt(sq_norms[start:stop].astype(np.float64))
        margin = bound_factor * row_norms + _F64_SLACK * (row_norms + prepared.max_norm) ** 2
        contenders = partial <= (best_value + margin)[:, None]
        labels[start:stop] = best
        for row in np.flatnonzero(contenders.sum(axis=1) > 1).tolist():
            labels[start + row] = _recheck_row(
                pixels[start + row], np.flatnonzero(contenders[row]), prepared.centroids
            )
    return labels


def sq_distances_to_assigned(
    pixels: npt.NDArray[np.uint8],
    labels: npt.NDArray[np.int32],
    centroids: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Squared distance of every row to its assigned centroid, in float64.

    Parameters
    ----------
    pixels : ndarray of uint8, shape (n, d)
    labels : ndarray of int, shape (n,)
    centroids : ndarray of float64, shape (k, d)

    Returns
    -------
    ndarray of float64, shape (n,)
        Each row is reduced on its own, so a row's value does not depend on the
        other rows of its block.
    """
    out = np.empty(pixels.shape[0], dtype=np.float64)
    for start in range(0, pixels.shape[0], DEFAULT_CHUNK_ROWS):
        stop = min(start + DEFAULT_CHUNK_ROWS, pixels.shape[0])
        diff = pixels[start:stop].astype(np.float64) - centroids[labels[start:stop]]
        out[start:stop] = np.einsum("ij,ij->i", diff, diff)
    return out
