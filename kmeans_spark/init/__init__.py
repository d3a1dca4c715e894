"""Initial centroids: seeded, partition-independent, for many models at once.

Three methods, all choosing training digits as centroids:

* ``"random"``: the k distinct digits with the smallest draws
  (:mod:`~kmeans_spark.init.random_sample`);
* ``"k-means++"``: D^2 sampling with scikit-learn's greedy local trials, one
  Spark pass per centre (:mod:`~kmeans_spark.init.kmeans_pp`);
* ``"k-means||"``: MLlib's scalable variant, a few sampling rounds and a
  weighted k-means++ on the driver (:mod:`~kmeans_spark.init.kmeans_parallel`).

Every random choice is a pure function of the seed and of digit ids
(:func:`~kmeans_spark.hashing.uniform_by_id`), and every distance an exact
integer (:mod:`~kmeans_spark.init.exact`), so a model's centroids are the same
for any partitioning, and the same whether it is initialised alone or in a
batch: :func:`initial_centroids` advances all the models it is given in the
same passes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from kmeans_spark.blocks import DigitBlocks
from kmeans_spark.errors import UsageError
from kmeans_spark.init.kmeans_parallel import kmeans_parallel_initialisations
from kmeans_spark.init.kmeans_pp import kmeans_pp_initialisations
from kmeans_spark.init.random_sample import random_initialisations
from kmeans_spark.init.sampling import MAX_STEP, MAX_TRIAL
from kmeans_spark.init.spec import Initialised, InitResult, InitSpec
from kmeans_spark.passes import BlockPasses

__all__ = [
    "INIT_KMEANS_PARALLEL",
    "INIT_KMEANS_PP",
    "INIT_METHODS",
    "INIT_RANDOM",
    "InitResult",
    "InitSpec",
    "default_trials",
    "initial_centroids",
    "random_centroids",
]

INIT_RANDOM, INIT_KMEANS_PP, INIT_KMEANS_PARALLEL = "random", "k-means++", "k-means||"
INIT_METHODS = (INIT_RANDOM, INIT_KMEANS_PP, INIT_KMEANS_PARALLEL)


def default_trials(k: int) -> int:
    """scikit-learn's number of local trials per centre: ``2 + int(log(k))``."""
    return 2 + int(math.log(k))


def _validate(
    blocks: DigitBlocks,
    specs: Sequence[InitSpec],
    method: str,
    trials: int | None,
    oversampling: float,
    steps: int,
) -> None:
    if method not in INIT_METHODS:
        raise UsageError(
            f"unknown initialisation method {method!r}: choose one of {', '.join(INIT_METHODS)}"
        )
    for spec in specs:
        if spec.k < 1:
            raise UsageError(f"k must be >= 1, got {spec.k}")
        if spec.k > blocks.num_digits:
            raise UsageError(
                f"k={spec.k} is larger than the number of training digits ({blocks.num_digits})"
            )
    # The upper bounds keep every (step, trial) in its own random stream.
    if trials is not None and not 1 <= trials <= MAX_TRIAL:
        raise UsageError(f"trials must be >= 1 (and <= {MAX_TRIAL}), got {trials}")
    if not (oversampling > 0 and math.isfinite(oversampling)):
        raise UsageError(f"oversampling must be > 0 and finite, got {oversampling}")
    if not 1 <= steps < MAX_STEP:
        raise UsageError(f"steps must be >= 1 (and < {MAX_STEP}), got {steps}")


def initial_centroids(
    blocks: DigitBlocks,
    specs: Sequence[InitSpec],
    method: str = INIT_RANDOM,
    *,
    trials: int | None = None,
    oversampling: float = 2.0,
    steps: int = 2,
    resident: bool = True,
) -> list[InitResult]:
    """Initial centroids of several models, computed together in the same Spark passes.

    Parameters
    ----------
    blocks : DigitBlocks
        The training digits.
    specs : sequence of InitSpec
        One ``(k, seed)`` per model.
    method : {"random", "k-means++", "k-means||"}
    trials : int, optional
        k-means++ and k-means||: candidates drawn per centre, the best kept
        (scikit-learn's greedy k-means++); default ``2 + int(log(k))`` per model;
        1 is the original k-means++.
    oversampling : float
        k-means||: each round samples ``oversampling * k`` digits in expectation.
    steps : int
        k-means||: sampling rounds.
    resident : bool
        k-means++ and k-means||: read the blocks from executor-local copies
        during their passes (:class:`~kmeans_spark.passes.BlockPasses`); the
        random method makes a single pass and streams them.

    Returns
    -------
    list of InitResult
        One per spec, in the same order. ``centroids`` has ``k`` distinct rows,
        or fewer for k-means++ and k-means|| when the data holds fewer than
        ``k`` distinct digits (a warning is logged).

    Raises
    ------
    UsageError
        An unknown method; ``k < 1`` or more than the number of digits;
        ``trials < 1``, ``oversampling <= 0``, ``steps < 1``; and for the random
        method, fewer than ``k`` distinct digits.
    """
    specs = list(specs)
    _validate(blocks, specs, method, trials, oversampling, steps)
    if not specs:
        return []
    if method == INIT_RANDOM:
        passes = BlockPasses(blocks, resident=False)
    else:
        passes = BlockPasses(blocks, resident=resident)
    per_model_trials = [default_trials(s.k) if trials is None else trials for s in specs]
    done: list[Initialised]
    try:
        if method == INIT_RANDOM:
            done = random_initialisations(passes, specs)
        elif method == INIT_KMEANS_PP:
            done = kmeans_pp_initialisations(passes, specs, per_model_trials)
        else:
            done = kmeans_parallel_initialisations(
                passes, specs, per_model_trials, oversampling, steps
            )
    finally:
        passes.close()
    return [
        InitResult(result.centres.astype(np.float64), method, spec.seed, result.passes)
        for spec, result in zip(specs, done, strict=True)
    ]


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
    return initial_centroids(blocks, [InitSpec(k, seed)], INIT_RANDOM)[0].centroids
