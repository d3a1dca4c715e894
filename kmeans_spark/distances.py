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
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

_F32_UNIT_ROUNDOFF = 2.0**-24
_F64_UNIT_ROUNDOFF = 2.0**-53
_F64_SLACK = 1e-12
_BOUND_SLACK = 1e-9
"""Relative slack on distance bounds: covers float64 rounding in their arithmetic."""
DEFAULT_CHUNK_ROWS = 4096
"""Rows per matrix product: big enough for BLAS efficiency, small enough for cache."""
MAX_BOUND_GROUPS = 8
"""Lower distance bounds kept per row: one per group of centroids (Ding et al. 2015).

A single bound (Hamerly 2010) shrinks by the largest move of any centroid, so one
centroid that still moves makes every row suspect; with a bound per group, only
rows near a group that holds a moving centroid are.
"""


def _dot_error_factor(length: int, unit_roundoff: float = _F32_UNIT_ROUNDOFF) -> float:
    """gamma_n of Higham's error analysis for a dot product of ``length`` terms.

    In float32 by default; pass ``_F64_UNIT_ROUNDOFF`` for float64.

    Any summation order, blocked or fused, satisfies
    ``|fl(x.c) - x.c| <= gamma_n * sum|x_i c_i|``. Two more terms cover rounding
    the float64 centroid to float32; the 1% covers the float64 arithmetic around it.
    """
    n = length + 2
    return 1.01 * n * unit_roundoff / (1.0 - n * unit_roundoff)


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
    group_starts : ndarray of intp, shape (g,)
        First centroid of each group: the centroids fall into ``g`` contiguous
        groups, each with its own lower distance bound per row.
    """

    centroids: npt.NDArray[np.float64]
    centroids_f32: npt.NDArray[np.float32]
    sq_norms: npt.NDArray[np.float64]
    max_norm: float
    shifts: npt.NDArray[np.float64] | None = None
    group_starts: npt.NDArray[np.intp] = field(default_factory=lambda: np.zeros(1, np.intp))

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
        k = values.shape[0]
        groups = max(1, min(k, MAX_BOUND_GROUPS))
        return PreparedCentroids(
            values,
            values.astype(np.float32),
            sq_norms,
            float(np.sqrt(sq_norms.max())) if len(sq_norms) else 0.0,
            shifts,
            (np.arange(groups) * k + groups - 1) // groups,
        )

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])

    @property
    def groups(self) -> int:
        return int(self.group_starts.shape[0])

    def group_of(self) -> npt.NDArray[np.intp]:
        """The group of every centroid, shape (k,)."""
        return np.searchsorted(self.group_starts, np.arange(self.k), side="right") - 1


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
    """The candidate with the smallest reference distance, ties to the smaller index.

    The reference distance sums the same float64 squares as a plain float64 sum
    does, only correctly rounded; the plain sum is within ``gamma_d`` (relative)
    of the exact sum. When the plain sums separate one candidate from all others
    by four times that, it is the reference's winner too, and no correctly
    rounded sum is needed.
    """
    diffs = point.astype(np.float64) - centroids[candidates]
    approx = np.einsum("ij,ij->i", diffs, diffs)
    slack = approx * (4.0 * _dot_error_factor(point.shape[0], _F64_UNIT_ROUNDOFF))
    leader = int(np.argmin(approx))
    rivals = np.delete(np.arange(candidates.size), leader)
    if np.all(approx[rivals] - slack[rivals] > approx[leader] + slack[leader]):
        return int(candidates[leader])
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
    lower : ndarray of float64, shape (n, g)
        ``lower[i, j]`` is at most the distance of row ``i`` to every centroid
        of group ``j`` (see :class:`PreparedCentroids`) but its own; ``inf``
        where a group holds no other centroid.
    """

    labels: npt.NDArray[np.int32]
    upper: npt.NDArray[np.float64]
    lower: npt.NDArray[np.float64]


def _decide_rows(
    pixels: npt.NDArray[np.uint8],
    row_ids: npt.NDArray[np.intp],
    sq_norms: npt.NDArray[np.int64],
    dots: npt.NDArray[np.float32],
    prepared: PreparedCentroids,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Nearest centroids and distance bounds of some rows, from their float32 dot products.

    Parameters
    ----------
    pixels : ndarray of uint8, shape (n, d)
        Where the rows are: ``pixels[row_ids]``, read only for near ties.
    row_ids : ndarray of intp, shape (m,)
    sq_norms : ndarray of int64, shape (m,)
    dots : ndarray of float32, shape (m, k)
        ``x . c`` of every row and centroid, by any float32 summation order.
    prepared : PreparedCentroids

    Returns
    -------
    labels, upper, lower
        As :class:`Assignment`'s, before the final slack.
    """
    rows = np.arange(dots.shape[0])
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
    chosen = best.astype(np.int32)
    partial[rows, best] = np.inf
    others = np.minimum.reduceat(partial, prepared.group_starts, axis=1)
    own = best_value.copy()
    # A centroid can beat `best` only if its estimate lies within both errors: rows
    # whose runner-up does are re-decided with the reference distance.
    threshold = best_value + 2.0 * error
    for row in np.flatnonzero(others.min(axis=1) <= threshold).tolist():
        estimates = partial[row].copy()
        estimates[best[row]] = best_value[row]
        contenders = np.flatnonzero(estimates <= threshold[row])
        winner = _recheck_row(pixels[row_ids[row]], contenders, prepared.centroids)
        if winner != best[row]:
            chosen[row] = winner
            own[row] = estimates[winner]
            estimates[winner] = np.inf
            others[row] = np.minimum.reduceat(estimates, prepared.group_starts)
    upper = np.sqrt(np.maximum(row_sq_norms + own + error, 0.0))
    lower = np.sqrt(np.maximum(row_sq_norms[:, None] + others - error[:, None], 0.0))
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
    lower = np.empty((n, prepared.groups), dtype=np.float64)
    transposed = np.ascontiguousarray(prepared.centroids_f32.T)
    for start in range(0, n, chunk_rows):
        stop = min(start + chunk_rows, n)
        dots = pixels[start:stop].astype(np.float32) @ transposed
        labels[start:stop], upper[start:stop], lower[start:stop] = _decide_rows(
            pixels, np.arange(start, stop), sq_norms[start:stop], dots, prepared
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
_ROW_COST = 30
"""Cost of taking a row into a float32 product, in centroids' worth of arithmetic.

Measured with one BLAS thread: gathering a row and streaming it through BLAS
costs about 0.5 us, as much as multiplying it by 30 centroids (0.017 us each).
"""


def _loosened_bounds(
    prepared: PreparedCentroids, previous: Assignment
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The previous bounds carried over to centroids that moved by ``prepared.shifts``.

    A centroid that moved by ``s`` changes a distance by at most ``s``: the upper
    bound grows by the own centroid's move, each group's lower bound shrinks by
    the largest move in that group (the runner-up's where the largest mover is
    the row's own centroid).

    Returns
    -------
    labels, upper : ndarray of shape (n,)
    lower : ndarray of float64, shape (n, g)
    """
    shifts = prepared.shifts
    if shifts is None:
        raise ValueError("carrying bounds over needs centroids prepared with the previous ones")
    labels = previous.labels.copy()
    upper = previous.upper + shifts[labels]
    starts = prepared.group_starts
    stops = np.r_[starts[1:], prepared.k]
    largest = np.maximum.reduceat(shifts, starts)
    leader = np.array(
        [
            start + int(np.argmax(shifts[start:stop]))
            for start, stop in zip(starts, stops, strict=True)
        ],
        dtype=np.intp,
    )
    masked = shifts.copy()
    masked[leader] = -np.inf
    runner_up = np.maximum(np.maximum.reduceat(masked, starts), 0.0)
    lower = previous.lower - largest
    own_group = prepared.group_of()[labels]
    leads = leader[own_group] == labels
    rows = np.flatnonzero(leads)
    lower[rows, own_group[rows]] = (
        previous.lower[rows, own_group[rows]] - runner_up[own_group[rows]]
    )
    upper *= 1.0 + _BOUND_SLACK
    lower *= 1.0 - _BOUND_SLACK
    return labels, upper, lower


def _own_distance_bounds(
    rows_f32: npt.NDArray[np.float32],
    sq_norms: npt.NDArray[np.int64],
    prepared: PreparedCentroids,
    own: npt.NDArray[np.int32],
) -> npt.NDArray[np.float64]:
    """Upper bounds of the distance of some rows to their own centroid, from float32 dots.

    The float32 dot products carry the same rigorous error bound as in
    :func:`_decide_rows`, added to the estimate.
    """
    dots = np.einsum("ij,ij->i", rows_f32, prepared.centroids_f32[own]).astype(np.float64)
    row_sq_norms = sq_norms.astype(np.float64)
    row_norms = np.sqrt(row_sq_norms)
    error_factor = 2.0 * _dot_error_factor(rows_f32.shape[1]) * prepared.max_norm
    error = error_factor * row_norms + _F64_SLACK * (row_norms + prepared.max_norm) ** 2
    estimate = row_sq_norms - 2.0 * dots + prepared.sq_norms[own] + error
    return np.sqrt(np.maximum(estimate, 0.0)) * (1.0 + _BOUND_SLACK)


def _shared_group(
    busy: list[int], needed: list[npt.NDArray[np.intp]], models: Sequence[PreparedCentroids]
) -> list[int]:
    """The models whose rows are best decided by one product shared between them.

    A model joins while its share of the shared product (every row of the group
    times its centroids) costs less than a product of its own rows.
    """
    group = list(busy)
    while len(group) > 1:
        union = np.unique(np.concatenate([needed[m] for m in group])).size
        alone = [
            m for m in group if needed[m].size * (_ROW_COST + models[m].k) < union * models[m].k
        ]
        if not alone:
            break
        group = [m for m in group if m not in alone]
    return group if len(group) > 1 else []


def _float32_products(
    rows: npt.NDArray[np.float32], transposed: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """``rows @ transposed``: every dot product of a batch, in one BLAS call."""
    return rows @ transposed


def assign_batch(
    pixels: npt.NDArray[np.uint8],
    sq_norms: npt.NDArray[np.int64],
    models: Sequence[PreparedCentroids],
    previous: Sequence[Assignment | None],
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> list[Assignment]:
    """Assign every row to the nearest centroid of each of several models at once.

    Rows are taken a chunk at a time and converted to float32 once for all
    models. Per model, Hamerly's bounds (2010) keep the previous centroid of the
    rows that provably keep it; rows that fail the test get their distance to
    their own centroid recomputed and are tested again. The rows left in any
    model are multiplied once by the stacked centroids of all models (one float32
    product instead of one per model), unless that would waste too much work, and
    every model takes its argmin from its own columns.

    Each model's labels equal :func:`assign_with_bounds` on its centroids alone:
    they are exact, so they depend neither on the previous assignment nor on
    which models share the product.

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
    labels, upper, lower, nearest, carried = [], [], [], [], []
    for prepared, before in zip(models, previous, strict=True):
        if before is not None and prepared.shifts is not None:
            kept, up, low = _loosened_bounds(prepared, before)
            carried.append(True)
        else:
            kept = np.zeros(n, dtype=np.int32)
            up, low = np.zeros(n), np.zeros((n, prepared.groups))
            carried.append(False)
        labels.append(kept)
        upper.append(up)
        lower.append(low)
        # A row keeps its centroid while it is nearer than any group's bound; a model
        # without bounds redoes every row and needs none.
        nearest.append(low.min(axis=1) if carried[-1] else np.zeros(0))
    transposed = [np.ascontiguousarray(m.centroids_f32.T) for m in models]
    for start in range(0, n, chunk_rows):
        stop = min(start + chunk_rows, n)
        size = stop - start
        chunk_f32 = pixels[start:stop].astype(np.float32)
        chunk_norms = sq_norms[start:stop]
        needed = []
        for m, prepared in enumerate(models):
            if not carried[m]:
                needed.append(np.arange(size))
                continue
            up, low = upper[m][start:stop], nearest[m][start:stop]
            stale = np.flatnonzero(up >= low)
            # Tightening costs a product per stale row: worth it only when few are
            # stale, as they are once the centroids settle.
            if 0 < stale.size <= _TIGHTEN_SHARE * size:
                own = labels[m][start:stop][stale]
                up[stale] = _own_distance_bounds(
                    chunk_f32[stale], chunk_norms[stale], prepared, own
                )
                stale = stale[up[stale] >= low[stale]]
            needed.append(np.arange(size) if stale.size > _REDO_ALL_SHARE * size else stale)
        busy = [m for m in range(len(models)) if needed[m].size]
        group = _shared_group(busy, needed, models)
        union = np.unique(np.concatenate([needed[m] for m in group])) if group else np.arange(0)
        columns: dict[int, slice] = {}
        if group:
            rows_f32 = chunk_f32 if union.size == size else chunk_f32[union]
            shared = _float32_products(rows_f32, np.concatenate([transposed[m] for m in group], 1))
            offsets = np.cumsum([0] + [models[m].k for m in group]).tolist()
            columns = {m: slice(offsets[i], offsets[i + 1]) for i, m in enumerate(group)}
        for m in busy:
            rows = needed[m]
            if m not in columns:
                rows_f32 = chunk_f32 if rows.size == size else chunk_f32[rows]
                dots = _float32_products(rows_f32, transposed[m])
            elif union.size == size:
                dots = shared[rows, columns[m]]
            else:
                dots = shared[np.searchsorted(union, rows), columns[m]]
            targets = start + rows
            chosen, up, low = _decide_rows(pixels, targets, chunk_norms[rows], dots, models[m])
            labels[m][targets] = chosen
            upper[m][targets] = up * (1.0 + _BOUND_SLACK)
            lower[m][targets] = low * (1.0 - _BOUND_SLACK)
    return [Assignment(*parts) for parts in zip(labels, upper, lower, strict=True)]


def update_assignment(
    pixels: npt.NDArray[np.uint8],
    sq_norms: npt.NDArray[np.int64],
    prepared: PreparedCentroids,
    previous: Assignment,
) -> Assignment:
    """Re-assign rows after the centroids moved, skipping rows that provably keep theirs.

    :func:`assign_batch` for one model: the result equals
    :func:`assign_with_bounds` on every row's label.

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
    if prepared.shifts is None:
        raise ValueError("update_assignment needs centroids prepared with the previous ones")
    (assignment,) = assign_batch(pixels, sq_norms, [prepared], [previous])
    return assignment


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
