"""The k-means family's three members: how each assigns a point, and how it updates a centre.

=============  ======================  ===========================================
algorithm      assignment              centre of a cluster
=============  ======================  ===========================================
``k-means``    squared Euclidean       the mean
``k-medians``  L1 (city block)         the per-coordinate median (exact for 0..255
                                       pixels, within one bin for floats: see
                                       :mod:`kmeans_spark.medians`)
``spherical``  cosine (largest dot     the mean scaled to unit length, as MLlib's
               product of unit rows)   ``distanceMeasure="cosine"``
=============  ======================  ===========================================

Every function here is numpy in, numpy out, and runs on the executors. The map
step of a pass calls :func:`cluster_partials` on the rows of a block that a model
sees; ``reduceByKey`` adds the partials with :func:`add_partials`; the driver
turns the merged partials into new centres with :func:`updated_centres`.

Partials are exact where they can be: counts, label counts and the histograms of
k-medians are integers. Sums of float features (k-means, spherical) are kept as
fixed-point integers (:data:`FIXED_POINT_BITS` bits below the point), so that
the order in which Spark merges them cannot change a bit of the centres.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kmeans_spark.errors import UsageError
from kmeans_spark.medians import (
    FloatBins,
    approximate_medians,
    float_histograms,
    medians_from_histograms,
    pixel_histograms,
)
from kmeans_spark.schema import N_CLASSES

Features = npt.NDArray[np.floating[Any]] | npt.NDArray[np.uint8]
"""Rows of features: float32 after preprocessing, or the raw uint8 pixels."""

KMEANS = "k-means"
KMEDIANS = "k-medians"
SPHERICAL = "spherical"
ALGORITHMS = (KMEANS, KMEDIANS, SPHERICAL)

FIXED_POINT_BITS = 32
"""Float features are summed as integers of ``round(x * 2**32)``: exact, order-free sums.

Features lie in [0, 255] (``2**40`` at most), so a cluster of up to 2**23 points
(8 million) cannot overflow int64; the rounding moves a mean by at most 2**-33.
"""
_FIXED_SCALE = float(1 << FIXED_POINT_BITS)
_L1_CHUNK_ROWS = 256
"""Rows per chunk of the L1 distances: 256 x 784 values stay in a core's cache."""


def check_algorithm(name: str) -> str:
    """``name`` if it is one of :data:`ALGORITHMS`, else :class:`UsageError`."""
    if name not in ALGORITHMS:
        raise UsageError(f"unknown algorithm {name!r}: choose one of {', '.join(ALGORITHMS)}")
    return name


def unit_rows(values: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """Rows scaled to unit Euclidean length; zero rows stay zero.

    Parameters
    ----------
    values : ndarray of float, shape (n, d)

    Returns
    -------
    ndarray of float64, shape (n, d)
    """
    wide = np.asarray(values, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", wide, wide))
    return wide / np.where(norms > 0, norms, 1.0)[:, None]


def assign(
    algorithm: str, features: Features, centres: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Each row's nearest centre under ``algorithm``, and its distance (cost) to it.

    Parameters
    ----------
    algorithm : {"k-means", "k-medians", "spherical"}
    features : ndarray of float or uint8, shape (n, d)
        For ``spherical``, unit rows (or zero rows).
    centres : ndarray of float64, shape (k, d)
        For ``spherical``, unit rows.

    Returns
    -------
    assignment : ndarray of int64, shape (n,)
        Ties go to the smaller centre index.
    cost : ndarray of float64, shape (n,)
        Squared Euclidean distance (k-means), L1 distance (k-medians), or
        ``1 - cosine`` (spherical) to the assigned centre.
    """
    n = features.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    if algorithm == KMEDIANS:
        return _nearest_l1(features, centres)
    wide = np.asarray(features, dtype=np.float64)
    products = wide @ centres.T
    if algorithm == SPHERICAL:
        best = np.argmax(products, axis=1)
        return best.astype(np.int64), 1.0 - products[np.arange(n), best]
    sq_norms = np.einsum("ij,ij->i", wide, wide)
    centre_norms = np.einsum("ij,ij->i", centres, centres)
    distances = centre_norms[None, :] - 2.0 * products
    best = np.argmin(distances, axis=1)
    # The norm of the row is the same for every centre: added once, and clipped at 0,
    # which rounding could cross for a point that is its own centre.
    return best.astype(np.int64), np.maximum(distances[np.arange(n), best] + sq_norms, 0.0)


def _nearest_l1(
    features: Features, centres: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """L1 nearest centres; ties to the smaller index.

    Memory traffic, not arithmetic, is the cost of L1 distances (no matrix
    product computes them), so rows are taken in chunks that stay in the CPU's
    cache, and every centre is subtracted from a chunk in turn. Raw pixels with
    half-integer centres (digits, and exact medians) are compared exactly in
    int16 at twice their values; other features in float32.
    """
    n = features.shape[0]
    doubled = np.rint(np.asarray(centres, dtype=np.float64) * 2.0)
    if features.dtype == np.uint8 and np.array_equal(doubled, centres * 2.0):
        points: npt.NDArray[Any] = features.astype(np.int16) * np.int16(2)
        against: npt.NDArray[Any] = doubled.astype(np.int16)
        total: type[np.generic] = np.int32
        scale = 0.5
    else:
        points = np.asarray(features, dtype=np.float32)
        against = np.asarray(centres, dtype=np.float32)
        total, scale = np.float64, 1.0
    distances = np.empty((n, against.shape[0]), dtype=total)
    buffer = np.empty((min(n, _L1_CHUNK_ROWS), points.shape[1]), dtype=points.dtype)
    for start in range(0, n, _L1_CHUNK_ROWS):
        chunk = points[start : start + _L1_CHUNK_ROWS]
        work = buffer[: len(chunk)]
        for j in range(against.shape[0]):
            np.subtract(chunk, against[j], out=work)
            np.abs(work, out=work)
            distances[start : start + len(chunk), j] = work.sum(axis=1, dtype=total)
    best = np.argmin(distances, axis=1)
    cost = distances[np.arange(n), best].astype(np.float64) * scale
    return best.astype(np.int64), cost


@dataclass
class ClusterPartial:
    """What the points of one cluster contribute to its next centre.

    Attributes
    ----------
    count : int
    cost : float
        Sum of the points' costs to the centre they were assigned to.
    label_counts : ndarray of int64, shape (10,)
    summary : ndarray of int64
        k-means and spherical: fixed-point sum of the points, shape (d,).
        k-medians: histogram of every coordinate, shape (d, levels or bins).
    """

    count: int
    cost: float
    label_counts: npt.NDArray[np.int64]
    summary: npt.NDArray[np.int64]


def add_partials(left: ClusterPartial, right: ClusterPartial) -> ClusterPartial:
    """The partial of two sets of points of the same cluster (for ``reduceByKey``)."""
    return ClusterPartial(
        left.count + right.count,
        left.cost + right.cost,
        left.label_counts + right.label_counts,
        left.summary + right.summary,
    )


def to_fixed_point(values: Features) -> npt.NDArray[np.int64]:
    """``round(values * 2**32)`` as int64 (see :data:`FIXED_POINT_BITS`)."""
    return np.rint(np.asarray(values, dtype=np.float64) * _FIXED_SCALE).astype(np.int64)


def cluster_partials(
    algorithm: str,
    features: Features,
    labels: npt.NDArray[np.integer],
    assignment: npt.NDArray[np.int64],
    cost: npt.NDArray[np.float64],
    k: int,
    bins: FloatBins | None,
) -> Iterator[tuple[int, ClusterPartial]]:
    """One partial per cluster that received a row.

    Parameters
    ----------
    algorithm : {"k-means", "k-medians", "spherical"}
    features : ndarray, shape (n, d)
        uint8 pixels for exact k-medians, else floats.
    labels : ndarray of int, shape (n,)
        0..9, or -1 for unlabelled.
    assignment, cost : ndarray, shape (n,)
        From :func:`assign`.
    k : int
    bins : FloatBins or None
        k-medians of float features: the histogram bins; None for uint8 pixels
        (exact) and the other algorithms.

    Yields
    ------
    (cluster, ClusterPartial)
    """
    if len(assignment) == 0:
        return
    counts = np.bincount(assignment, minlength=k)
    costs = np.bincount(assignment, weights=cost, minlength=k)
    known = labels >= 0
    label_counts = np.bincount(
        assignment[known] * N_CLASSES + labels[known].astype(np.int64), minlength=k * N_CLASSES
    ).reshape(k, N_CLASSES)
    summaries: dict[int, npt.NDArray[np.int64]]
    if algorithm == KMEDIANS:
        histograms = (
            pixel_histograms(np.asarray(features, dtype=np.uint8), assignment, k)
            if bins is None
            else float_histograms(np.asarray(features, dtype=np.float64), assignment, k, bins)
        )
        summaries = {int(j): hist for j, hist in histograms}
    else:
        fixed = to_fixed_point(features)
        order = np.argsort(assignment, kind="stable")
        bounds = np.searchsorted(assignment[order], np.arange(k + 1))
        summaries = {
            j: fixed[order[bounds[j] : bounds[j + 1]]].sum(axis=0)
            for j in np.flatnonzero(counts).tolist()
        }
    for j in np.flatnonzero(counts).tolist():
        yield (
            j,
            ClusterPartial(
                int(counts[j]), float(costs[j]), label_counts[j].astype(np.int64), summaries[j]
            ),
        )


def updated_centres(
    algorithm: str,
    previous: npt.NDArray[np.float64],
    merged: dict[int, ClusterPartial],
    bins: FloatBins | None,
) -> npt.NDArray[np.float64]:
    """New centres from the merged partials; a cluster without points keeps its centre.

    Parameters
    ----------
    algorithm : {"k-means", "k-medians", "spherical"}
    previous : ndarray of float64, shape (k, d)
    merged : dict of cluster to ClusterPartial
    bins : FloatBins or None
        As for :func:`cluster_partials`.

    Returns
    -------
    ndarray of float64, shape (k, d)
    """
    centres = np.array(previous, dtype=np.float64)
    for j, partial in merged.items():
        if partial.count == 0:
            continue
        if algorithm == KMEDIANS:
            centres[j] = (
                medians_from_histograms(partial.summary)
                if bins is None
                else approximate_medians(partial.summary, bins)
            )
            continue
        mean = partial.summary.astype(np.float64) / (_FIXED_SCALE * partial.count)
        if algorithm == SPHERICAL:
            norm = float(np.sqrt(mean @ mean))
            if norm > 0:
                mean = mean / norm
        centres[j] = mean
    return centres
