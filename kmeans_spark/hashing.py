"""Seeded, counter-based pseudo-random numbers keyed by digit id.

Every random choice about a digit (which split it falls in, whether it is an
initial centroid) is a pure function of ``(seed, stream, id)``. Nothing depends on
which partition the digit sits in or in what order partitions run, so results
are identical for any partitioning.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The splitmix64 finaliser (Steele, Lea and Flood 2014), elementwise, wrapping."""
    z = values + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def uniform_by_id(ids: npt.ArrayLike, seed: int, stream: int) -> npt.NDArray[np.float64]:
    """Uniform numbers in [0, 1), one per id, determined by ``(seed, stream, id)`` alone.

    Parameters
    ----------
    ids : array_like of int, shape (n,)
        Non-negative digit ids.
    seed : int
        The user's seed.
    stream : int
        Separates independent uses of the same seed (split, initialisation, ...).

    Returns
    -------
    ndarray of float64, shape (n,)
    """
    key = _splitmix64(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
    key = _splitmix64(key ^ np.uint64(stream & 0xFFFFFFFFFFFFFFFF))
    with np.errstate(over="ignore"):
        mixed = _splitmix64(np.asarray(ids, dtype=np.int64).astype(np.uint64) ^ key)
    # The top 53 bits fill a double's mantissa exactly.
    return (mixed >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


STREAM_SPLIT = 1
STREAM_INIT = 2
STREAM_KMEANS_PP = 3
"""Base of the k-means++ initialisation's streams (:func:`kmeans_spark.init.sampling.substream`)."""
STREAM_KMEANS_PARALLEL = 4
"""Base of the k-means|| initialisation's streams."""
STREAM_KMEANS_PARALLEL_REDUCE = 5
"""Seeds, with the user's seed, the driver's generator that reduces k-means|| candidates to k."""
STREAM_RESTART = 6
"""Derives the seeds of restarts 1, 2, ... from the user's seed (:func:`restart_seeds`)."""


def restart_seeds(seed: int, count: int) -> list[int]:
    """Seeds of ``count`` restarts: the user's seed first, then seeds derived from it.

    Restart 0 uses ``seed`` itself, so one restart is the same model as a single
    run with that seed; every derived seed is a non-negative 31-bit integer that
    reproduces its restart as a single run.
    """
    derived = uniform_by_id(np.arange(1, count), seed, STREAM_RESTART)
    return [seed] + [int(u * (1 << 31)) for u in derived.tolist()]


STREAM_GALLERY = 7
"""Chooses the digits a report shows (:mod:`kmeans_spark.report_data`)."""
