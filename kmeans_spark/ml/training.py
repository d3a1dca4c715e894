"""What a fit does with cached blocks: the engine's initialisation, restarts and Lloyd.

No new algorithm here: the estimator's Params are mapped onto
:func:`~kmeans_spark.init.initial_centroids`,
:func:`~kmeans_spark.hashing.restart_seeds` and
:func:`~kmeans_spark.lloyd.fit_lloyd_batch`, as the train job
(:func:`~kmeans_spark.experiment.train_sweep`) does.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from kmeans_spark.blocks import DigitBlocks
from kmeans_spark.hashing import restart_seeds
from kmeans_spark.init import InitSpec, initial_centroids
from kmeans_spark.lloyd import LloydResult, fit_lloyd_batch
from kmeans_spark.ml.params import Settings


def starting_centres(blocks: DigitBlocks, settings: Settings) -> list[npt.NDArray[np.float64]]:
    """The initial centres of every restart: the given ones, or one per restart seed.

    Returns
    -------
    list of ndarray of float64, shapes (k', 784)
        ``k' <= k``: k-means++ and k-means|| find fewer centres when the data
        holds fewer than ``k`` distinct rows.

    Raises
    ------
    UsageError
        ``k`` larger than the number of rows; the random method on data with
        fewer than ``k`` distinct rows.
    """
    if settings.initial_centers is not None:
        return [settings.initial_centers]
    specs = [InitSpec(settings.k, seed) for seed in restart_seeds(settings.seed, settings.n_init)]
    results = initial_centroids(
        blocks,
        specs,
        settings.init_mode,
        trials=settings.init_trials,
        oversampling=settings.init_oversampling,
        steps=settings.init_steps,
    )
    return [result.centroids for result in results]


def train(blocks: DigitBlocks, settings: Settings) -> LloydResult:
    """Train every restart in shared passes and keep the one of lowest training cost.

    Parameters
    ----------
    blocks : DigitBlocks
        The cached training rows.
    settings : Settings

    Returns
    -------
    LloydResult
        The kept restart (the first of equal costs, as scikit-learn keeps).
    """
    starts = starting_centres(blocks, settings)
    models = fit_lloyd_batch(
        blocks,
        starts,
        max_iter=settings.max_iter,
        tol=settings.tol,
        empty_cluster=settings.empty_cluster,
        names=[f"restart {i}" for i in range(len(starts))] if len(starts) > 1 else None,
    )
    return min(models, key=lambda model: model.inertia)
