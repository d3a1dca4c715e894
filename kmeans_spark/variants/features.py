"""Digits as the features a variant trains on: preprocessed once, on the executors, cached.

:func:`feature_blocks` maps every cached :class:`~kmeans_spark.blocks.DigitBlock`
through the model's preprocessing (:mod:`kmeans_spark.preprocess`: deskewing,
unit-length scaling) and, for spherical k-means, unit-length rows. The result is
cached beside the digit blocks, with the same partitioning, so a Lloyd pass
reads features and never preprocesses again. Exact k-medians of raw pixels keeps
the uint8 pixels themselves (its medians are read off 256-level histograms).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pyspark import RDD, StorageLevel

from kmeans_spark.blocks import DigitBlock, DigitBlocks
from kmeans_spark.medians import FloatBins
from kmeans_spark.preprocess import apply_preprocess, feature_range
from kmeans_spark.variants.algorithms import KMEDIANS, SPHERICAL, unit_rows

MEDIAN_BINS = 1024
"""Bins of the float histograms of k-medians: the median is within one bin width."""


@dataclass(frozen=True)
class FeatureSpace:
    """How digits become the features of a model: its preprocessing and algorithm.

    Attributes
    ----------
    algorithm : {"k-means", "k-medians", "spherical"}
    preprocess : tuple of str
        Steps of :mod:`kmeans_spark.preprocess`, in order.
    """

    algorithm: str
    preprocess: tuple[str, ...] = ()

    @property
    def exact_pixels(self) -> bool:
        """Whether the features are the raw uint8 pixels (k-medians without preprocessing)."""
        return self.algorithm == KMEDIANS and not self.preprocess

    @property
    def median_bins(self) -> FloatBins | None:
        """The histogram bins of k-medians on float features; None otherwise."""
        if self.algorithm != KMEDIANS or self.exact_pixels:
            return None
        low, high = feature_range(self.preprocess)
        return FloatBins(low, high, MEDIAN_BINS)

    def transform(
        self, pixels: npt.NDArray[np.uint8]
    ) -> npt.NDArray[np.uint8] | npt.NDArray[np.float32]:
        """Features of digits (or of digit-valued centres), shape (n, 784).

        Parameters
        ----------
        pixels : ndarray of uint8 or float, shape (n, 784)
            Values 0..255.
        """
        if self.exact_pixels:
            return np.asarray(pixels, dtype=np.uint8)
        features = apply_preprocess(np.asarray(pixels), self.preprocess)
        if self.algorithm == SPHERICAL:
            return unit_rows(features).astype(np.float32)
        return features


@dataclass(frozen=True)
class FeatureBlock:
    """The features of one partition's digits.

    Attributes
    ----------
    ids : ndarray of int64, shape (n,)
    labels : ndarray of int8, shape (n,)
    features : ndarray of uint8 or float32, shape (n, 784)
    """

    ids: npt.NDArray[np.int64]
    labels: npt.NDArray[np.int8]
    features: npt.NDArray[np.uint8] | npt.NDArray[np.float32]

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @staticmethod
    def of(block: DigitBlock, space: FeatureSpace) -> FeatureBlock:
        return FeatureBlock(block.ids, block.labels, space.transform(block.pixels))


def feature_blocks(blocks: DigitBlocks, space: FeatureSpace) -> RDD[tuple[int, FeatureBlock]]:
    """The cached features of ``blocks`` in ``space``, keyed and partitioned as the blocks.

    Parameters
    ----------
    blocks : DigitBlocks
    space : FeatureSpace

    Returns
    -------
    RDD of (int, FeatureBlock)
        Persisted (memory and disk); the caller unpersists it.
    """
    return blocks.rdd.mapValues(lambda block: FeatureBlock.of(block, space)).persist(
        StorageLevel.MEMORY_AND_DISK
    )
