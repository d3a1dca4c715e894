"""Nearest-centroid assignment: fast float32 matrix products, exact where it matters.

Squared distances are ``||x||^2 - 2 x.c + ||c||^2``; the ``x.c`` terms for a whole
block come from one float32 BLAS product. Float32 can only change an assignment
when two centroids are nearly tied, so rows whose runner-up lies within a
rigorous error bound of the best are re-decided with :func:`reference_sq_distance`,
which is correctly rounded and therefore identical on every machine, BLAS and
partitioning. The result is the exact argmin of the reference distance (ties to
the smaller centroid index) for every row, at float32 speed.

Each assignment also carries distance bounds, with which the next pass skips
the rows whose centroid provably cannot change (:func:`update_assignment`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_F32_UNIT_ROUNDOFF = 2.0**-24
_F64_SLACK = 1e-12
_BOUND_SLACK = 1e-9
"""Relative slack on distance bounds: covers float64 rounding in their arithmetic."""
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
    shifts : ndarray of float64, shape (k,), optional
        Upper bounds of how far each centroid moved since the previous pass.
    """

    centroids: npt.NDArray[np.float64]
    centroids_f32: npt.NDArray[np.float32]
    sq_norms: npt.NDArray[np.float64]
    max_norm: float
    shifts: npt.NDArray[np.float64] | None = None

    @staticmethod
    def of(
        centroids: npt.NDArray[np.float64], previous: npt.NDArray[np.float64] | None = None
    ) -> PreparedCentroids:
        """Prepare ``centroids``; with ``previous``, also bound how far each one moved."""
        values = np.ascontiguousarray(centroids, dtype=np.float64)
        sq_norms = np.einsum("ij,ij->i", values, values)
        shifts = None
        if previous is not None:
            moved = np.sqrt(((values - previous) ** 2).sum(axis=1))
            shifts = moved * (1.0 + _BOUND_SLACK) + _BOUND_SLACK
        return PreparedCentroids(
            values,
            values.astype(np.float32),
            sq_norms,
            float(np.sqrt(sq_norms.max())) if len(sq_norms) else 0.0,
            shifts,
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


@dataclass(frozen=True)
class Assignment:
    """Nearest centroids of a block's rows, with bounds that let the next pass skip rows.

    Attributes
    ----------
    labels : ndarray of int32, shape (n,)
        ``argmin_j reference_sq_distance(x, c_j)``, ties to the smaller ``j``.
    upper : ndarray of float64, shape (n,)
        At least the (true, not squared) distance to the assigned centroid.
    lower : ndarray of float64, shape (n,)
        At most the distance to every other centroid; ``inf`` when ``k == 1``.
    """

    labels: npt.NDArray[np.int32]
    upper: npt.NDArray[np.float64]
    lower: npt.NDArray[np.float64]


def _decide_rows(
    pixels: npt.NDArray[np.uint8],
    sq_norms: npt.NDArray[np.int64],
    dots: npt.NDArray[np.float32],
    prepared: PreparedCentroids,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Nearest centroids and distance bounds of some rows, from their float32 dot products.

    Parameters
    ----------
    pixels : ndarray of uint8, shape (m, d)
    sq_norms : ndarray of int64, shape (m,)
    dots : ndarray of float32, shape (m, k)
        ``x . c`` of every row and centroid, by any float32 summation order.
    prepared : PreparedCentroids

    Returns
    -------
    labels, upper, lower
        As :class:`Assignment`'s, before the final slack.
    """
    rows = np.arange(pixels.shape[0])
    # Each approximate squared distance is within 2*gamma*||x||*||c|| of the true one.
    error_factor = 2.0 * _dot_error_factor(pixels.shape[1]) * prepared.max_norm
    # ||x||^2 is the same for every centroid of a row: added only to the bounds.
    partial = dots.astype(np.float64)
    partial *= -2.0
    partial += prepared.sq_norms
    best = np.argmin(partial, axis=1)
    best_value = partial[rows, best]
    row_sq_norms = sq_norms.astype(np.float64)
    row_norms = np.sqrt(row_sq_norms)
    # The second term covers float64 rounding here and in the reference distance.
    error = error_factor * row_norms + _F64_SLACK * (row_norms + prepared.max_norm) ** 2
    # A centroid can beat `best` only if its estimate lies within both errors.
    contenders = partial <= (best_value + 2.0 * error)[:, None]
    chosen = best.astype(np.int32)
    for row in np.flatnonzero(contenders.sum(axis=1) > 1).tolist():
        chosen[row] = _recheck_row(pixels[row], np.flatnonzero(contenders[row]), prepared.centroids)
    own = partial[rows, chosen]
    partial[rows, chosen] = np.inf
    others = partial.min(axis=1)
    upper = np.sqrt(np.maximum(row_sq_norms + own + error, 0.0))
    lower = np.sqrt(np.maximum(row_sq_norms + others - error, 0.0))
    return chosen, upper, lower


def assign_with_bounds(
    pixels: npt.NDArray[np.uint8],
    sq_norms: npt.NDArray[np.int64],
    prepared: PreparedCentroids,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Assignment:
    """Nearest centroid of every row, and distance bounds for :func:`update_assignment`.

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
    Assignment
    """
    n = pixels.shape[0]
    labels = np.empty(n, dtype=np.int32)
    upper = np.empty(n, dtype=np.float64)
    lower = np.empty(n, dtype=np.float64)
    transposed = np.ascontiguousarray(prepared.centroids_f32.T)
    for start in range(0, n, chunk_rows):
        stop = min(start + chunk_rows, n)
        dots = pixels[start:stop].astype(np.float32) @ transposed
        labels[start:stop], upper[start:stop], lower[start:stop] = _decide_rows(
            pixels[start:stop], sq_norms[start:stop], dots, prepared
        )
    upper *= 1.0 + _BOUND_SLACK
    lower *= 1.0 - _BOUND_SLACK
    return Assignment(labels, upper, lower)


def assign_nearest(
    pixels: npt.NDArray[np.uint8],
    sq_norms: npt.NDArray[np.int64],
    prepared: PreparedCentroids,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> npt.NDArray[np.int32]:
    """Index of the nearest centroid for every row (see :func:`assign_with_bounds`).

    Returns
    -------
    ndarray of int32, shape (n,)
        ``argmin_j reference_sq_distance(x, c_j)``, ties to the smaller ``j``.
    """
    return assign_with_bounds(pixels, sq_norms, prepared, chunk_rows).labels


_TIGHTEN_SHARE = 0.5
_REDO_ALL_SHARE = 0.9


def _own_distance_bounds(
    pixels: npt.NDArray[np.uint8],
    sq_norms: npt.NDArray[np.int64],
    prepared: PreparedCentroids,
    labels: npt.NDArray[np.int32],
    rows: npt.NDArray[np.intp],
) -> npt.NDArray[np.float64]:
    """Upper bounds of the distance of ``rows`` to their own centroid, from float64 dots."""
    out = np.empty(rows.size, dtype=np.float64)
    for start in range(0, rows.size, DEFAULT_CHUNK_ROWS):
        chunk = rows[start : start + DEFAULT_CHUNK_ROWS]
        own = labels[chunk]
        cross = np.einsum("ij,ij->i", pixels[chunk].astype(np.float64), prepared.centroids[own])
        point_norms = sq_norms[chunk].astype(np.float64)
        exact = point_norms - 2.0 * cross + prepared.sq_norms[own]
        slack = _F64_SLACK * (point_norms + prepared.sq_norms[own])
        out[start : start + DEFAULT_CHUNK_ROWS] = np.sqrt(np.maximum(exact + slack, 0.0))
    return out * (1.0 + _BOUND_SLACK)


def _carry_forward(
    pixels: npt.NDArray[np.uint8],
    sq_norms: npt.NDArray[np.int64],
    prepared: PreparedCentroids,
    previous: Assignment,
) -> tuple[
    npt.NDArray[np.int32], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.intp]
]:
    """Hamerly's test: the previous assignment where it provably holds, and the rows it may not.

    Returns
    -------
    labels, upper, lower : as :class:`Assignment`'s, valid for every row not in ``stale``
    stale : ndarray of intp
        Ascending rows that need a full assignment.
    """
    shifts = prepared.shifts
    if shifts is None:
        raise ValueError("update_assignment needs centroids prepared with the previous ones")
    labels = previous.labels.copy()
    upper = previous.upper + shifts[labels]
    order = np.argsort(shifts)
    largest = shifts[order[-1]]
    runner_up = shifts[order[-2]] if shifts.size > 1 else 0.0
    lower = previous.lower - np.where(labels == order[-1], runner_up, largest)
    upper *= 1.0 + _BOUND_SLACK
    lower *= 1.0 - _BOUND_SLACK
    stale = np.flatnonzero(upper >= lower)
    # Tightening costs a pass over the stale rows: worth it only when few are stale,
    # as they are once the centroids settle; early on, recompute them outright.
    if 0 < stale.size <= _TIGHTEN_SHARE * labels.size:
        upper[stale] = _own_distance_bounds(pixels, sq_norms, prepared, labels, stale)
        stale = stale[upper[stale] >= lower[stale]]
    return labels, upper, lower, stale


def update_assignment(
    pixels: npt.NDArray[np.uint8],
    sq_norms: npt.NDArray[np.int64],
    prepared: PreparedCentroids,
    previous: Assignment,
) -> Assignment:
    """Re-assign rows after the centroids moved, skipping rows that provably keep theirs.

    Hamerly's bounds (2010): a centroid that moved by ``s`` changes a distance by at
    most ``s``, so a row whose upper bound, grown by its centroid's move, stays below
    its lower bound, shrunk by the largest other move, keeps its centroid. Rows
    that fail the test get their distance to their own centroid recomputed
    exactly and are tested again; only the rest go through the full
    :func:`assign_with_bounds`. The result equals ``assign_with_bounds`` on every
    row's label.

    Parameters
    ----------
    pixels : ndarray of uint8, shape (n, d)
    sq_norms : ndarray of int64, shape (n,)
    prepared : PreparedCentroids
        The new centroids, prepared with the old ones (so that ``shifts`` is set).
    previous : Assignment
        The assignment to the old centroids.

    Returns
    -------
    Assignment
    """
    labels, upper, lower, stale = _carry_forward(pixels, sq_norms, prepared, previous)
    if stale.size > _REDO_ALL_SHARE * labels.size:
        return assign_with_bounds(pixels, sq_norms, prepared)  # no gather of nearly all rows
    if stale.size:
        fresh = assign_with_bounds(pixels[stale], sq_norms[stale], prepared)
        labels[stale] = fresh.labels
        upper[stale] = fresh.upper
        lower[stale] = fresh.lower
    return Assignment(labels, upper, lower)


_STACKED_WASTE = 2.0
"""How much more arithmetic one shared product may do than separate products per model."""


def assign_batch(
    pixels: npt.NDArray[np.uint8],
    sq_norms: npt.NDArray[np.int64],
    models: Sequence[PreparedCentroids],
    previous: Sequence[Assignment | None],
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> list[Assignment]:
    """Assign every row to the nearest centroid of each of several models at once.

    The rows that need a fresh assignment in any model are multiplied once by the
    stacked centroids of all models (one float32 product instead of one per
    model), and every model takes its argmin from its own columns. Each model's
    result equals :func:`update_assignment` (or :func:`assign_with_bounds` where
    it has no previous assignment) on every label: the labels are exact, so they
    do not depend on which models share the product.

    Parameters
    ----------
    pixels : ndarray of uint8, shape (n, d)
    sq_norms : ndarray of int64, shape (n,)
    models : sequence of PreparedCentroids
        Each model's centroids; prepared with its previous ones where
        ``previous`` is given.
    previous : sequence of Assignment or None
        Each model's assignment to its previous centroids, or None.
    chunk_rows : int
        Rows per float32 matrix product.

    Returns
    -------
    list of Assignment
        One per model, in order.
    """
    n = pixels.shape[0]
    labels, upper, lower, stale = [], [], [], []
    for prepared, before in zip(models, previous, strict=True):
        if before is not None and prepared.shifts is not None:
            kept, up, low, rows = _carry_forward(pixels, sq_norms, prepared, before)
            if rows.size <= _REDO_ALL_SHARE * n:
                labels.append(kept)
                upper.append(up)
                lower.append(low)
                stale.append(rows)
                continue
        labels.append(np.empty(n, dtype=np.int32))
        upper.append(np.empty(n, dtype=np.float64))
        lower.append(np.empty(n, dtype=np.float64))
        stale.append(np.arange(n))
    busy = [m for m, rows in enumerate(stale) if rows.size]
    if busy:
        union = np.unique(np.concatenate([stale[m] for m in busy]))
        shared_cost = union.size * sum(models[m].k for m in busy)
        separate_cost = sum(stale[m].size * models[m].k for m in busy)
        groups = [busy] if shared_cost <= _STACKED_WASTE * separate_cost else [[m] for m in busy]
        for group in groups:
            rows = union if len(group) > 1 else stale[group[0]]
            fresh = _assign_rows_shared(
                pixels,
                sq_norms,
                rows,
                [models[m] for m in group],
                [stale[m] for m in group],
                chunk_rows,
            )
            for m, (chosen, up, low) in zip(group, fresh, strict=True):
                labels[m][stale[m]] = chosen
                upper[m][stale[m]] = up * (1.0 + _BOUND_SLACK)
                lower[m][stale[m]] = low * (1.0 - _BOUND_SLACK)
    return [Assignment(*parts) for parts in zip(labels, upper, lower, strict=True)]


def _assign_rows_shared(
    pixels: npt.NDArray[np.uint8],
    sq_norms: npt.NDArray[np.int64],
    rows: npt.NDArray[np.intp],
    models: Sequence[PreparedCentroids],
    model_rows: Sequence[npt.NDArray[np.intp]],
    chunk_rows: int,
) -> list[tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
    """Decide ``model_rows[m]`` (subsets of ``rows``) for every model from shared products.

    Returns, per model, labels and unslackened bounds of its rows, in their order.
    """
    n = pixels.shape[0]
    whole = rows.size == n  # rows is then 0..n-1: slices instead of gathers
    stacked = np.ascontiguousarray(np.concatenate([m.centroids_f32 for m in models]).T)
    offsets = np.cumsum([0] + [m.k for m in models])
    wanted = []
    for own in model_rows:
        member = np.zeros(n, dtype=bool)
        member[own] = True
        wanted.append(member[rows])
    out = [
        (
            np.empty(own.size, dtype=np.int32),
            np.empty(own.size, dtype=np.float64),
            np.empty(own.size, dtype=np.float64),
        )
        for own in model_rows
    ]
    filled = [0] * len(models)
    for start in range(0, rows.size, chunk_rows):
        stop = min(start + chunk_rows, rows.size)
        chunk = slice(start, stop) if whole else rows[start:stop]
        chunk_pixels = pixels[chunk]
        chunk_norms = sq_norms[chunk]
        dots = chunk_pixels.astype(np.float32) @ stacked
        for m, prepared in enumerate(models):
            local = np.flatnonzero(wanted[m][start:stop])
            if not local.size:
                continue
            columns = slice(offsets[m], offsets[m + 1])
            if local.size == stop - start:
                decided = _decide_rows(chunk_pixels, chunk_norms, dots[:, columns], prepared)
            else:
                decided = _decide_rows(
                    chunk_pixels[local], chunk_norms[local], dots[local, columns], prepared
                )
            done = slice(filled[m], filled[m] + local.size)
            labels, upper, lower = out[m]
            labels[done], upper[done], lower[done] = decided
            filled[m] += local.size
    return out


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
