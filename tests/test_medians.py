"""Tests of :mod:`kmeans_spark.medians`: exact pixel medians and binned float medians.

Expected values come from ``np.median`` on the rows themselves, from histograms
counted one value at a time, or by hand.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_array_equal

from kmeans_spark.medians import (
    N_LEVELS,
    FloatBins,
    approximate_medians,
    float_histograms,
    medians_from_histograms,
    pixel_histograms,
)
from kmeans_spark.schema import N_PIXELS

# --------------------------------------------------------------------------- helpers


def slow_histograms(values: np.ndarray, codes: np.ndarray, assignment: np.ndarray, levels: int):
    """``{cluster: hist}`` counted one row and one coordinate at a time."""
    result: dict[int, np.ndarray] = {}
    for row, cluster in zip(codes, assignment, strict=True):
        hist = result.setdefault(int(cluster), np.zeros((values.shape[1], levels), np.int64))
        for p, code in enumerate(row):
            hist[p, int(code)] += 1
    return result


def numpy_medians(values: np.ndarray, assignment: np.ndarray) -> dict[int, np.ndarray]:
    return {int(j): np.median(values[assignment == j], axis=0) for j in np.unique(assignment)}


def merged(*parts: list[tuple[int, np.ndarray]]) -> dict[int, np.ndarray]:
    """What Spark's ``reduceByKey(add)`` makes of several partitions' histograms."""
    total: dict[int, np.ndarray] = {}
    for part in parts:
        for j, hist in part:
            total[j] = total[j] + hist if j in total else hist.copy()
    return total


def cluster_sizes_assignment(sizes: list[int], seed: int) -> np.ndarray:
    """A shuffled assignment with the given number of rows per cluster (0 = missing)."""
    labels = np.repeat(np.arange(len(sizes)), sizes)
    return np.random.default_rng(seed).permutation(labels)


# --------------------------------------------------------------------------- exact pixel medians


def test_pixel_histograms_count_values() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (40, 9), dtype=np.uint8)
    pixels[:, 0] = 7  # a constant column
    assignment = cluster_sizes_assignment([5, 0, 1, 34], seed=0)
    result = pixel_histograms(pixels, assignment, k=4)
    expected = slow_histograms(pixels, pixels, assignment, N_LEVELS)
    assert [j for j, _ in result] == [0, 2, 3]  # by cluster, empty cluster 1 left out
    for j, hist in result:
        assert hist.dtype == np.int64
        assert hist.shape == (9, N_LEVELS)
        assert_array_equal(hist, expected[j])


@pytest.mark.parametrize(
    ("sizes", "d"),
    [
        ([1], N_PIXELS),  # one row
        ([2], N_PIXELS),  # two rows: mean of both
        ([7, 8, 1, 0, 2], N_PIXELS),  # odd, even, single, missing
        ([300, 301, 1, 1000], 20),
        ([0, 0, 5], 1),
    ],
)
def test_exact_medians_equal_numpy(sizes: list[int], d: int) -> None:
    rng = np.random.default_rng(sum(sizes) + d)
    assignment = cluster_sizes_assignment(sizes, seed=d)
    pixels = rng.integers(0, 256, (len(assignment), d), dtype=np.uint8)
    # Real digits are mostly background: many ties, many zero medians.
    pixels[rng.random(pixels.shape) < 0.6] = 0
    expected = numpy_medians(pixels, assignment)
    result = pixel_histograms(pixels, assignment, k=len(sizes))
    assert [j for j, _ in result] == sorted(expected)
    for j, hist in result:
        medians = medians_from_histograms(hist)
        assert medians.dtype == np.float64
        assert_array_equal(medians, expected[j])


def test_even_counts_give_half_values() -> None:
    pixels = np.array([[3, 0, 255], [8, 1, 255]], dtype=np.uint8)
    [(_, hist)] = pixel_histograms(pixels, np.array([0, 0]), k=1)
    assert_array_equal(medians_from_histograms(hist), [5.5, 0.5, 255.0])


def test_medians_from_hand_histogram() -> None:
    hist = np.zeros((4, 6), dtype=np.int64)
    hist[0, [1, 4]] = [2, 1]  # 1, 1, 4 -> 1
    hist[1, [0, 5]] = [2, 2]  # 0, 0, 5, 5 -> 2.5
    hist[2, 3] = 1  # 3 -> 3
    # row 3 empty -> NaN, like np.median of nothing
    medians = medians_from_histograms(hist)
    assert_array_equal(medians[:3], [1.0, 2.5, 3.0])
    assert np.isnan(medians[3])


@settings(max_examples=50, deadline=None)
@given(
    data=st.data(),
    n=st.integers(1, 40),
    d=st.integers(1, 6),
    k=st.integers(1, 5),
)
def test_exact_medians_property(data: st.DataObject, n: int, d: int, k: int) -> None:
    values = st.one_of(st.sampled_from([0, 1, 127, 128, 254, 255]), st.integers(0, 255))
    pixels = data.draw(hnp.arrays(np.uint8, (n, d), elements=values))
    assignment = data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    expected = numpy_medians(pixels, assignment)
    result = pixel_histograms(pixels, assignment, k)
    assert [j for j, _ in result] == sorted(expected)
    for j, hist in result:
        assert_array_equal(medians_from_histograms(hist), expected[j])


def test_merged_halves_give_the_medians_of_the_whole() -> None:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (501, N_PIXELS), dtype=np.uint8)
    assignment = rng.integers(0, 6, 501)
    assignment[:250][assignment[:250] == 5] = 4  # cluster 5 only in the second half
    whole = dict(pixel_histograms(pixels, assignment, k=6))
    halves = merged(
        pixel_histograms(pixels[:250], assignment[:250], k=6),
        pixel_histograms(pixels[250:], assignment[250:], k=6),
    )
    assert sorted(halves) == sorted(whole) == list(range(6))
    expected = numpy_medians(pixels, assignment)
    for j, hist in halves.items():
        assert_array_equal(hist, whole[j])
        assert_array_equal(medians_from_histograms(hist), expected[j])


def test_pixel_histograms_accept_other_integer_dtypes() -> None:
    pixels = np.array([[0, 255], [10, 20], [30, 40]], dtype=np.int64)
    result = pixel_histograms(pixels, [0, 1, 0], k=2)
    assert_array_equal(medians_from_histograms(result[0][1]), [15.0, 147.5])
    assert_array_equal(medians_from_histograms(result[1][1]), [10.0, 20.0])


def test_no_rows_no_histograms() -> None:
    assert pixel_histograms(np.zeros((0, N_PIXELS), np.uint8), np.zeros(0, np.int64), k=3) == []


@pytest.mark.parametrize(
    ("pixels", "assignment", "fragment"),
    [
        (np.zeros((2, 3), np.uint8), [0, 3], r"\[0, 3\)"),
        (np.zeros((2, 3), np.uint8), [0, -1], r"\[0, 3\)"),
        (np.zeros((2, 3), np.uint8), [0], "shape"),
        (np.zeros((2, 3), np.uint8), [0.0, 1.0], "integers"),
        (np.zeros((2, 3), np.float32), [0, 1], "uint8"),
        (np.array([[0, 256]]), [0], r"\[0, 255\]"),
        (np.array([[-1, 0]]), [0], r"\[0, 255\]"),
        (np.zeros(3, np.uint8), [0, 0, 0], "2-d"),
    ],
)
def test_pixel_histograms_reject_bad_input(pixels, assignment, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        pixel_histograms(pixels, assignment, k=3)


# --------------------------------------------------------------------------- float bins


def test_float_bins() -> None:
    bins = FloatBins(0.0, 1.0, bins=4)
    assert bins.width == 0.25
    values = np.array([-0.1, 0.0, 0.24, 0.25, 0.5, 0.99, 1.0, 1.5, 1e300])
    assert_array_equal(bins.index(values), [0, 0, 0, 1, 2, 3, 3, 3, 3])
    assert FloatBins(0.0, 255.0).bins == 1024
    assert FloatBins(0.0, 255.0).width == 255.0 / 1024
    with pytest.raises(dataclasses.FrozenInstanceError):
        bins.bins = 8  # type: ignore[misc]


@pytest.mark.parametrize(("lo", "hi", "n"), [(1.0, 1.0, 4), (2.0, 1.0, 4), (0.0, 1.0, 0)])
def test_float_bins_reject_empty_ranges(lo: float, hi: float, n: int) -> None:
    with pytest.raises(ValueError, match="FloatBins"):
        FloatBins(lo, hi, n)


def test_float_histograms_count_bins() -> None:
    rng = np.random.default_rng(4)
    bins = FloatBins(0.0, 1.0, bins=16)
    features = rng.random((60, 5)).astype(np.float32)
    features[0] = 1.0
    features[1] = 0.0
    assignment = cluster_sizes_assignment([10, 0, 49, 1], seed=4)
    codes = np.floor(features.astype(np.float64) * 16).clip(0, 15).astype(int)
    expected = slow_histograms(features, codes, assignment, 16)
    result = float_histograms(features, assignment, 4, bins)
    assert [j for j, _ in result] == [0, 2, 3]
    for j, hist in result:
        assert hist.dtype == np.int64
        assert hist.shape == (5, 16)
        assert_array_equal(hist, expected[j])


def test_approximate_median_hand_cases() -> None:
    bins = FloatBins(0.0, 1.0, bins=2)
    # 0.1, 0.2 in bin 0, 0.6 in bin 1: the median, rank 1, is the second of two
    # values in bin 0, placed at (1 + 0.5) / 2 of the way across it: 0.375.
    [(_, odd)] = float_histograms(np.array([[0.1], [0.2], [0.6]]), [0, 0, 0], 1, bins)
    assert_array_equal(approximate_medians(odd, bins), [0.375])
    # 0.1 and 0.9: the middle ranks lie in different bins, each one value placed
    # at the middle of its bin, 0.25 and 0.75; their mean, 0.5.
    [(_, even)] = float_histograms(np.array([[0.1], [0.9]]), [0, 0], 1, bins)
    assert_array_equal(approximate_medians(even, bins), [0.5])
    empty = np.zeros((1, 2), np.int64)
    assert np.isnan(approximate_medians(empty, bins)).all()


def assert_within_one_bin(features: np.ndarray, assignment: np.ndarray, k: int, bins: FloatBins):
    expected = numpy_medians(features.astype(np.float64), assignment)
    result = float_histograms(features, assignment, k, bins)
    assert [j for j, _ in result] == sorted(expected)
    worst = 0.0
    for j, hist in result:
        error = np.abs(approximate_medians(hist, bins) - expected[j])
        assert (error <= bins.width).all(), f"cluster {j}: error {error.max()} > {bins.width}"
        worst = max(worst, float(error.max()))
    return worst


@pytest.mark.parametrize(("lo", "hi"), [(0.0, 1.0), (0.0, 255.0)])
@pytest.mark.parametrize("n_bins", [1, 3, 64, 1024])
def test_approximate_medians_within_one_bin(lo: float, hi: float, n_bins: int) -> None:
    rng = np.random.default_rng(n_bins)
    bins = FloatBins(lo, hi, n_bins)
    assignment = cluster_sizes_assignment([1, 2, 3, 0, 50, 51, 400], seed=n_bins)
    features = lo + (hi - lo) * rng.random((len(assignment), 30)) ** 3
    features[:, :5] = lo  # exact zeros, as in the background
    features[:, 5] = hi  # the closed upper end
    worst = assert_within_one_bin(features.astype(np.float32), assignment, 7, bins)
    assert worst > 0  # the estimate is an estimate: the check is not vacuous


def test_even_counts_with_middle_values_in_distant_bins() -> None:
    # Half the rows near lo, half near hi: the two middle values are bins apart,
    # np.median is their mean, and so must the estimate be, within one width.
    rng = np.random.default_rng(5)
    bins = FloatBins(0.0, 1.0, 10)
    low = rng.uniform(0.0, 0.3, (20, 8))
    high = rng.uniform(0.55, 1.0, (20, 8))
    features = np.concatenate([low, high])
    assignment = np.zeros(40, dtype=np.int64)
    assert_within_one_bin(features, assignment, 1, bins)
    [(_, hist)] = float_histograms(features, assignment, 1, bins)
    expected = (
        np.sort(features, axis=0)[19] + np.sort(features, axis=0)[20]
    ) / 2  # mean of the two middle values
    assert (np.abs(approximate_medians(hist, bins) - expected) <= bins.width).all()


@settings(max_examples=50, deadline=None)
@given(
    data=st.data(),
    n=st.integers(1, 30),
    d=st.integers(1, 4),
    k=st.integers(1, 3),
    n_bins=st.integers(1, 50),
    scale=st.sampled_from([1.0, 255.0]),
)
def test_approximate_medians_bound_property(
    data: st.DataObject, n: int, d: int, k: int, n_bins: int, scale: float
) -> None:
    unit = st.floats(0.0, 1.0, allow_nan=False, allow_subnormal=False)
    features = data.draw(hnp.arrays(np.float64, (n, d), elements=unit)) * scale
    assignment = data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    assert_within_one_bin(features, assignment, k, FloatBins(0.0, scale, n_bins))


def test_merged_float_histograms() -> None:
    rng = np.random.default_rng(6)
    bins = FloatBins(0.0, 1.0)
    features = rng.random((300, 12))
    assignment = rng.integers(0, 4, 300)
    whole = dict(float_histograms(features, assignment, 4, bins))
    halves = merged(
        float_histograms(features[:100], assignment[:100], 4, bins),
        float_histograms(features[100:], assignment[100:], 4, bins),
    )
    assert sorted(halves) == sorted(whole)
    for j, hist in halves.items():
        assert_array_equal(hist, whole[j])
        assert_array_equal(approximate_medians(hist, bins), approximate_medians(whole[j], bins))


def test_approximate_medians_reject_other_bin_counts() -> None:
    with pytest.raises(ValueError, match="bins"):
        approximate_medians(np.zeros((3, 8), np.int64), FloatBins(0.0, 1.0, 16))
