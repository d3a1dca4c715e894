"""Per-coordinate medians of clusters from histograms, which Spark merges by addition.

A median is not a sum, so it cannot be reduced directly. A histogram of every
coordinate's values per cluster can: histograms of disjoint sets of rows add up to
the histogram of their union, so ``reduceByKey(add)`` over partitions gives each
cluster's histogram, and the median is read off it on the driver.

Raw pixels take 256 values, so their histograms give the **exact** median
(:func:`pixel_histograms`, :func:`medians_from_histograms`). Preprocessed features
are floats; they are binned (:class:`FloatBins`) and the median is interpolated
within its bin, within one bin width of the exact one (:func:`approximate_medians`).

Only numpy is needed: the histograms are built inside Spark tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kmeans_spark.schema import MAX_PIXEL

N_LEVELS = MAX_PIXEL + 1
"""Distinct pixel values, 0..255: the number of bins of an exact pixel histogram."""

_CHUNK_CODES = 1 << 21
"""Values binned per ``np.bincount`` call: bounds the int64 index array to 16 MB."""

Histograms = list[tuple[int, npt.NDArray[np.int64]]]
"""``(cluster, histogram)`` pairs, one per non-empty cluster, by increasing cluster."""


def _check_assignment(assignment: npt.ArrayLike, n: int, k: int) -> npt.NDArray[np.intp]:
    """Return ``assignment`` as intp after checking it has ``n`` entries in ``[0, k)``."""
    labels = np.asarray(assignment)
    if labels.shape != (n,):
        raise ValueError(f"assignment must have shape ({n},), got {labels.shape}")
    if n and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"assignment must hold integers, got dtype {labels.dtype}")
    labels = labels.astype(np.intp, copy=False)
    if n and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(
            f"assignment values must lie in [0, {k}), got {labels.min()}..{labels.max()}"
        )
    return labels


def _grouped_histograms(
    values: npt.NDArray[np.generic],
    labels: npt.NDArray[np.intp],
    k: int,
    levels: int,
    to_codes: Callable[[npt.NDArray[np.generic]], npt.NDArray[np.intp]],
) -> Histograms:
    """Histogram every column of ``values`` within each cluster.

    Parameters
    ----------
    values : ndarray, shape (n, d)
    labels : ndarray of intp, shape (n,)
        Cluster of each row, in ``[0, k)``.
    k : int
    levels : int
        Bins per column.
    to_codes : callable
        Maps a block of rows, shape (m, d), to their bin indices in ``[0, levels)``.

    Returns
    -------
    list of (int, ndarray of int64, shape (d, levels))
    """
    d = values.shape[1]
    # Rows grouped by cluster, so that each cluster's rows are one contiguous run
    # of `order`: one bincount over the flat index p * levels + bin per run. A
    # single bincount over (cluster * d + p) * levels + bin would allocate
    # k * d * levels counters per call (1.6 MB per cluster for pixels), and its
    # index array is just as large, so it saves nothing for k in the tens.
    order = np.argsort(labels, kind="stable")
    sizes = np.bincount(labels, minlength=k)
    ends = np.cumsum(sizes)
    offsets = np.arange(d, dtype=np.intp) * levels
    rows_per_call = max(1, _CHUNK_CODES // max(d, 1))
    result: Histograms = []
    for cluster in np.flatnonzero(sizes):
        stop = int(ends[cluster])
        start = stop - int(sizes[cluster])
        counts = np.zeros(d * levels, dtype=np.int64)
        for first in range(start, stop, rows_per_call):
            rows = order[first : min(first + rows_per_call, stop)]
            codes = to_codes(values[rows]) + offsets
            counts += np.bincount(codes.ravel(), minlength=d * levels)
        result.append((int(cluster), counts.reshape(d, levels)))
    return result


def pixel_histograms(pixels: npt.ArrayLike, assignment: npt.ArrayLike, k: int) -> Histograms:
    """Exact per-pixel value counts of each cluster.

    Parameters
    ----------
    pixels : array_like of uint8, shape (n, 784)
        Integer arrays of another dtype are accepted when their values lie in
        ``[0, 255]``. Any number of columns works; 784 is the digit case.
    assignment : array_like of int, shape (n,)
        Cluster of each row, in ``[0, k)``.
    k : int
        Number of clusters.

    Returns
    -------
    list of (int, ndarray of int64, shape (784, 256))
        ``(j, hist)`` for every cluster ``j`` with at least one row, by increasing
        ``j``; ``hist[p, v]`` counts the rows of cluster ``j`` whose pixel ``p``
        equals ``v``. Histograms of disjoint row sets add up to the histogram of
        their union.

    Raises
    ------
    ValueError
        On a shape mismatch, non-integer pixels or pixels outside ``[0, 255]``,
        or an assignment outside ``[0, k)``.
    """
    array = np.asarray(pixels)
    if array.ndim != 2:
        raise ValueError(f"pixels must be 2-d, got shape {array.shape}")
    if array.dtype != np.uint8:
        if array.size and not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"pixels must be uint8, got dtype {array.dtype}")
        if array.size and (array.min() < 0 or array.max() > MAX_PIXEL):
            raise ValueError(f"pixel values must lie in [0, {MAX_PIXEL}]")
        array = array.astype(np.uint8)
    labels = _check_assignment(assignment, array.shape[0], k)
    return _grouped_histograms(array, labels, k, N_LEVELS, _uint8_codes)


def _uint8_codes(block: npt.NDArray[np.generic]) -> npt.NDArray[np.intp]:
    """A pixel's value is its own bin."""
    return block.astype(np.intp)


def _middle_ranks(
    hist: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Cumulative counts and the 0-based ranks of the middle value(s) per row.

    Parameters
    ----------
    hist : ndarray of int64, shape (d, L)

    Returns
    -------
    cumulative : ndarray of int64, shape (d, L)
    low, high : ndarray of int64, shape (d,)
        Ranks ``(N - 1) // 2`` and ``N // 2`` of the ``N`` counted values: the same
        rank when ``N`` is odd, the two middle ones when it is even.
    """
    cumulative = np.cumsum(hist, axis=1)
    total = cumulative[:, -1]
    return cumulative, (total - 1) // 2, total // 2


def _bin_of_rank(
    cumulative: npt.NDArray[np.int64], rank: npt.NDArray[np.int64]
) -> npt.NDArray[np.intp]:
    """Per row, the first bin whose cumulative count exceeds ``rank``: where it lies."""
    found: npt.NDArray[np.intp] = np.argmax(cumulative > rank[:, None], axis=1)
    return found


def medians_from_histograms(hist: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The exact median of every pixel, read off its value counts.

    Parameters
    ----------
    hist : array_like of int, shape (784, 256)
        ``hist[p, v]``: how many rows have value ``v`` at pixel ``p``, as built by
        :func:`pixel_histograms`. Any shape ``(d, L)`` works, bin ``v`` standing for
        the value ``v``.

    Returns
    -------
    ndarray of float64, shape (784,)
        Exactly ``np.median(rows, axis=0)`` of the rows counted: the middle value,
        or for an even count the mean of the two middle values (so ``x.5`` occurs).
        NaN for a pixel with no counts, as ``np.median`` of nothing.
    """
    counts = _as_histogram(hist)
    cumulative, low, high = _middle_ranks(counts)
    low_value = _bin_of_rank(cumulative, low)
    high_value = _bin_of_rank(cumulative, high)
    medians = (low_value + high_value) / 2.0
    medians[cumulative[:, -1] == 0] = np.nan
    return medians


def _as_histogram(hist: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """``hist`` as a 2-d int64 array of non-negative counts."""
    counts = np.asarray(hist)
    if counts.ndim != 2 or counts.shape[1] == 0:
        raise ValueError(f"histograms must have shape (d, bins), got {counts.shape}")
    if counts.size and not np.issubdtype(counts.dtype, np.integer):
        raise ValueError(f"histogram counts must be integers, got dtype {counts.dtype}")
    return counts.astype(np.int64, copy=False)


@dataclass(frozen=True)
class FloatBins:
    """Equal-width bins over ``[lo, hi]`` for histograms of float features.

    Attributes
    ----------
    lo, hi : float
        The range the features lie in, e.g. from
        :func:`kmeans_spark.preprocess.feature_range`. Bin ``b`` holds
        ``[lo + b * width, lo + (b + 1) * width)``; the last bin also holds ``hi``.
        Values outside the range are counted in the first or last bin, and then
        the error bound of :func:`approximate_medians` does not hold for them.
    bins : int
        Number of bins; 1024 puts the median within 0.25 of the exact one on
        0..255 pixels, within 0.001 on unit-norm features.
    """

    lo: float
    hi: float
    bins: int = 1024

    def __post_init__(self) -> None:
        if not (np.isfinite(self.lo) and np.isfinite(self.hi) and self.hi > self.lo):
            raise ValueError(f"FloatBins needs finite lo < hi, got [{self.lo}, {self.hi}]")
        if self.bins < 1:
            raise ValueError(f"FloatBins needs at least one bin, got {self.bins}")

    @property
    def width(self) -> float:
        """Width of every bin: ``(hi - lo) / bins``."""
        return (self.hi - self.lo) / self.bins

    def index(self, values: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """The bin of each value.

        Parameters
        ----------
        values : array_like of float, any shape

        Returns
        -------
        ndarray of intp, the shape of ``values``
            ``floor((v - lo) / width)`` clipped to ``[0, bins - 1]``.
        """
        scaled = (np.asarray(values, dtype=np.float64) - self.lo) / self.width
        # Clip before converting: a value far outside must not overflow the int.
        return np.clip(np.floor(scaled), 0, self.bins - 1).astype(np.intp)


def float_histograms(
    features: npt.ArrayLike, assignment: npt.ArrayLike, k: int, bins: FloatBins
) -> Histograms:
    """Binned per-coordinate value counts of each cluster.

    Parameters
    ----------
    features : array_like of float, shape (n, d)
    assignment : array_like of int, shape (n,)
        Cluster of each row, in ``[0, k)``.
    k : int
        Number of clusters.
    bins : FloatBins

    Returns
    -------
    list of (int, ndarray of int64, shape (d, bins.bins))
        ``(j, hist)`` for every cluster ``j`` with at least one row, by increasing
        ``j``; ``hist[p, b]`` counts the rows of cluster ``j`` whose coordinate ``p``
        lies in bin ``b`` (:meth:`FloatBins.index`). Mergeable by addition.

    Raises
    ------
    ValueError
        On a shape mismatch or an assignment outside ``[0, k)``.
    """
    array = np.asarray(features)
    if array.ndim != 2:
        raise ValueError(f"features must be 2-d, got shape {array.shape}")
    labels = _check_assignment(assignment, array.shape[0], k)
    return _grouped_histograms(array, labels, k, bins.bins, bins.index)


def approximate_medians(hist: npt.ArrayLike, bins: FloatBins) -> npt.NDArray[np.float64]:
    """Per-coordinate medians interpolated within the bins of a histogram.

    A middle rank ``q`` (0-based) lies in the first bin ``b`` whose cumulative
    count exceeds ``q``. Taking the ``h`` values of that bin as spread evenly over
    it, the ``i``-th of them (``i = q -`` count before ``b``) sits at
    ``lo + (b + (i + 0.5) / h) * width``. For an odd count that is the estimate;
    for an even count the estimate is the mean of those of the two middle ranks,
    as ``np.median`` takes the mean of the two middle values.

    Parameters
    ----------
    hist : array_like of int, shape (d, bins.bins)
        As built by :func:`float_histograms`, possibly summed over partitions.
    bins : FloatBins
        The bins the histogram was built with.

    Returns
    -------
    ndarray of float64, shape (d,)
        NaN for a coordinate with no counts.

    Notes
    -----
    **Error bound.** If every counted value lies in ``[lo, hi]``, then for every
    coordinate ``|estimate - np.median(values)| <= bins.width``.

    Proof: sort the ``N`` values ``x_0 <= ... <= x_{N-1}``. Bins are ordered
    intervals, so the cumulative counts say which bin holds each rank: ``x_q``
    lies in bin ``b`` (the first bin with cumulative count above ``q``), i.e. in
    ``[lo + b w, lo + (b + 1) w]``. The estimate ``e_q`` for rank ``q`` lies in the
    same interval, strictly inside since ``0 < (i + 0.5) / h < 1``. Two points of
    one interval of width ``w`` are less than ``w`` apart: ``|e_q - x_q| < w``.
    For odd ``N`` the median is ``x_q`` with ``q = (N - 1) / 2``, done. For even
    ``N`` it is ``(x_a + x_b) / 2`` with ``a = N/2 - 1``, ``b = N/2``, and the
    estimate is ``(e_a + e_b) / 2``, so the error is at most
    ``(|e_a - x_a| + |e_b - x_b|) / 2 < w``, whether the two middle values share a
    bin or not. (Rounding in :meth:`FloatBins.index` can put a value lying within
    a few ulps of a bin edge into the neighbouring bin; it is then a few ulps
    outside that bin, while ``e_q`` is ``w / (2h)`` inside it, so the bound holds
    unless a bin holds more than about ``w / ulp`` values, some 10^12 for
    1024 bins over [0, 255].)
    """
    counts = _as_histogram(hist)
    if counts.shape[1] != bins.bins:
        raise ValueError(f"histograms have {counts.shape[1]} bins, FloatBins has {bins.bins}")
    cumulative, low, high = _middle_ranks(counts)
    empty = cumulative[:, -1] == 0
    estimate = (
        _rank_estimate(counts, cumulative, low, bins)
        + _rank_estimate(counts, cumulative, high, bins)
    ) / 2.0
    estimate[empty] = np.nan
    return estimate


def _rank_estimate(
    counts: npt.NDArray[np.int64],
    cumulative: npt.NDArray[np.int64],
    rank: npt.NDArray[np.int64],
    bins: FloatBins,
) -> npt.NDArray[np.float64]:
    """Interpolated value of the given 0-based rank per row; see :func:`approximate_medians`."""
    where = _bin_of_rank(cumulative, rank)
    rows = np.arange(counts.shape[0])
    in_bin = counts[rows, where]
    before = cumulative[rows, where] - in_bin
    # An empty row has in_bin == 0 here; its estimate is replaced by NaN anyway.
    position = (rank - before + 0.5) / np.maximum(in_bin, 1)
    return bins.lo + (where + position) * bins.width
