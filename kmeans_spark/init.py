"""Initial centroids: a seeded random sample of k distinct training digits.

A digit's chance of being drawn is a pure function of ``(seed, id)``
(:func:`~kmeans_spark.hashing.uniform_by_id`): the k digits with the smallest
draws, skipping repeats of a pixel pattern already drawn, are the initial
centroids. Only a few candidates per partition reach the driver, and the
choice does not depend on the partitioning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
import numpy.typing as npt

from kmeans_spark.blocks import DigitBlock, DigitBlocks
from kmeans_spark.errors import UsageError
from kmeans_spark.hashing import STREAM_INIT, uniform_by_id
from kmeans_spark.schema import N_PIXELS

Candidate = tuple[float, int, bytes]


def _smallest_draws(
    seed: int, count: int
) -> Callable[[Iterable[tuple[int, DigitBlock]]], Iterator[Candidate]]:
    def run(items: Iterable[tuple[int, DigitBlock]]) -> Iterator[Candidate]:
        for _, block in items:
            draws = uniform_by_id(block.ids, seed, STREAM_INIT)
            take = min(count, len(block))
            if take == 0:
                continue
            chosen = (
                np.argpartition(draws, take - 1)[:take] if take < len(block) else np.arange(take)
            )
            for i in chosen.tolist():
                yield float(draws[i]), int(block.ids[i]), block.pixels[i].tobytes()

    return run


def random_centroids(blocks: DigitBlocks, k: int, seed: int) -> npt.NDArray[np.float64]:
    """k distinct training digits chosen at random, as float64 centroids.

    Parameters
    ----------
    blocks : DigitBlocks
        The training digits.
    k : int
        Number of centroids, ``>= 1``.
    seed : int

    Returns
    -------
    ndarray of float64, shape (k, 784)
        In the order of their draws.

    Raises
    ------
    UsageError
        When the data holds fewer than ``k`` distinct digits.
    """
    if k < 1:
        raise UsageError(f"k must be >= 1, got {k}")
    if k > blocks.num_digits:
        raise UsageError(
            f"k={k} is larger than the number of training digits ({blocks.num_digits})"
        )
    count = k
    while True:
        candidates = blocks.rdd.mapPartitions(_smallest_draws(seed, count)).collect()
        chosen: list[bytes] = []
        seen: set[bytes] = set()
        for _, _, pixels in sorted(candidates, key=lambda c: (c[0], c[1])):
            if pixels not in seen:
                seen.add(pixels)
                chosen.append(pixels)
                if len(chosen) == k:
                    return (
                        np.frombuffer(b"".join(chosen), dtype=np.uint8)
                        .reshape(k, N_PIXELS)
                        .astype(np.float64)
                    )
        if count >= blocks.num_digits:
            raise UsageError(
                f"k={k} but the training data holds only {len(chosen)} distinct digits: "
                "choose a smaller k"
            )
        # Repeated digits took places: draw more candidates (rare outside tiny data).
        count = min(blocks.num_digits, 2 * count)
