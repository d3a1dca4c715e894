"""Acceptance: from the same initial centres, our k-means agrees with MLlib's.

MLlib (``pyspark.mllib.clustering.KMeans.train`` with an ``initialModel``) keeps
an empty cluster's centre (our ``emptyCluster="keep"``) and stops once every
centre moved at most ``epsilon`` (our ``tol``). Its centres are sums times the
reciprocal count, ours sums divided by the count, so they may differ in the last
bit; the tolerance is 1e-9 relative. Assignments must agree exactly: MLlib's
fast distance (``||x||^2 - 2 x.c + ||c||^2`` with a precision bound) could only
differ from our exact rule on near ties, and none may be hidden by a looser
tolerance.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from ml_support import MllibRun, digits_frame, mllib_kmeans, mllib_points
from numpy.testing import assert_allclose, assert_array_equal
from pyspark import RDD
from pyspark.sql import DataFrame
from support import load_mnist_numpy

from kmeans_spark.ml import KMeans, KMeansModel
from kmeans_spark.schema import MAX_PIXEL, N_PIXELS

N_DIGITS = 1000
RTOL = 1e-9
TOL_CONVERGED = 5.0


@dataclass(frozen=True)
class Data:
    """The same rows for both: a DataFrame for ours, an RDD for MLlib's."""

    frame: DataFrame
    points: RDD[Any]


def _data(spark, pixels: np.ndarray) -> Data:
    return Data(digits_frame(spark, pixels).cache(), mllib_points(spark, pixels))


def _fit_both(
    spark, data: Data, initial: np.ndarray, max_iter: int, tol: float
) -> tuple[KMeansModel, MllibRun]:
    ours = KMeans(
        k=initial.shape[0],
        maxIter=max_iter,
        tol=tol,
        initialCenters=initial.tolist(),
        emptyCluster="keep",
    ).fit(data.frame)
    theirs = mllib_kmeans(spark, data.points, initial, max_iter, tol)
    return ours, theirs


def _assert_agree(ours: KMeansModel, theirs: MllibRun, max_iter: int) -> None:
    summary = ours.summary
    assert_allclose(ours.centers, theirs.centers, rtol=RTOL, atol=RTOL * MAX_PIXEL)
    clusters = np.array([row.prediction for row in summary.predictions.collect()])
    assert_array_equal(clusters, theirs.assignments)
    assert summary.clusterSizes == theirs.sizes
    assert summary.numIter == theirs.num_iter
    if theirs.num_iter < max_iter:  # MLlib stops early only when it has converged
        assert summary.converged
    # MLlib's trainingCost is the cost of the last iteration's assignment.
    assert summary.costHistory[-1] == pytest.approx(theirs.training_cost, rel=RTOL)
    assert summary.trainingCost == pytest.approx(theirs.final_cost, rel=RTOL)


@pytest.fixture(scope="module")
def mnist(spark, mnist_dir) -> Iterator[tuple[np.ndarray, Data]]:
    images, _ = load_mnist_numpy(mnist_dir)
    data = _data(spark, images[:N_DIGITS])
    yield images[:N_DIGITS], data
    data.frame.unpersist()
    data.points.unpersist()


@pytest.mark.parametrize(
    ("k", "max_iter", "tol"),
    [
        (10, 5, 0.0),  # a fixed number of iterations
        (4, 60, TOL_CONVERGED),  # both converge: no centre moves farther than tol
    ],
)
def test_real_digits_agree_with_mllib(spark, mnist, k, max_iter, tol) -> None:
    images, data = mnist
    rng = np.random.default_rng(k)
    initial = images[rng.choice(N_DIGITS, k, replace=False)].astype(np.float64)
    ours, theirs = _fit_both(spark, data, initial, max_iter, tol)
    _assert_agree(ours, theirs, max_iter)
    if tol > 0:
        assert ours.summary.converged and theirs.num_iter < max_iter


def test_synthetic_pixels_and_a_kept_empty_cluster_agree_with_mllib(spark) -> None:
    # Five blobs of noisy uint8 rows, a row of each as initial centre; a sixth
    # initial centre (all 255) is far from every row, gets none, and stays in both.
    rng = np.random.default_rng(42)
    blobs = rng.integers(0, 256, (5, N_PIXELS))
    members = rng.integers(0, 5, 300)
    noise = rng.integers(-25, 26, (300, N_PIXELS))
    pixels = np.clip(blobs[members] + noise, 0, MAX_PIXEL).astype(np.uint8)
    firsts = [int(np.flatnonzero(members == blob)[0]) for blob in range(5)]
    initial = np.vstack([pixels[firsts], np.full((1, N_PIXELS), MAX_PIXEL)]).astype(np.float64)
    ours, theirs = _fit_both(spark, _data(spark, pixels), initial, 30, 1e-4)
    _assert_agree(ours, theirs, 30)
    assert ours.summary.clusterSizes[5] == 0
    assert_array_equal(ours.centers[5], MAX_PIXEL)
    assert ours.summary.converged and theirs.num_iter < 30
