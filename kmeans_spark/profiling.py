"""Where a Lloyd iteration's time goes: Spark's fixed cost, data access and arithmetic.

Each figure is the median wall time of a few repetitions of one ingredient of a
pass, measured on the same cached blocks, so that they can be set beside a
whole pass. Used by ``jobs/profile_iteration.py``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from kmeans_spark.blocks import DigitBlock, DigitBlocks
from kmeans_spark.distances import PreparedCentroids, assign_with_bounds
from kmeans_spark.lloyd import LloydRunner
from kmeans_spark.partials import partial_sums


def median_seconds(action: Callable[[], Any], repeat: int = 7) -> float:
    """Median wall seconds of ``action()`` over ``repeat`` runs, after one warm-up run."""
    action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _time_kernels(block: DigitBlock, prepared: PreparedCentroids) -> tuple[float, float]:
    started = time.perf_counter()
    assignment = assign_with_bounds(block.pixels, block.sq_norms, prepared)
    assigned = time.perf_counter()
    partial_sums(block.pixels, block.sq_norms, block.labels, assignment.labels, None)
    return assigned - started, time.perf_counter() - assigned


def iteration_profile(
    blocks: DigitBlocks, centroids: npt.NDArray[np.float64], seed: int = 0, repeat: int = 7
) -> dict[str, float]:
    """Seconds spent by the ingredients of a pass with these centroids.

    Each ingredient is timed ``repeat`` times after a warm-up run.

    Returns
    -------
    dict of str to float
        ``empty_job_one_stage`` and ``empty_job_map_reduce``: Spark jobs with
        Python tasks that do nothing; ``stream_blocks``: a one-stage job that
        streams the cached blocks to Python; ``read_local_copies``: the same over
        the executor-local copies; ``assign_in_task`` and ``partials_in_task``:
        the slowest task's arithmetic; ``pass_moving``: a whole pass while the
        centroids move far (early iterations); ``pass_settled``: a whole pass
        once they barely move (late iterations).
    """
    context = blocks.rdd.context
    profile = {
        "empty_job_one_stage": median_seconds(
            lambda: context.parallelize(range(2), 2).map(lambda x: x).collect(), repeat
        ),
        "empty_job_map_reduce": median_seconds(
            lambda: (
                context.parallelize(range(2), 2)
                .map(lambda x: (x, x))
                .reduceByKey(lambda a, _: a)
                .collect()
            )
        ),
        "stream_blocks": median_seconds(lambda: blocks.rdd.map(lambda kv: len(kv[1])).collect()),
    }
    prepared = context.broadcast(PreparedCentroids.of(centroids))
    timings = blocks.rdd.map(lambda kv: _time_kernels(kv[1], prepared.value)).collect()
    prepared.destroy()
    profile["assign_in_task"] = max(t[0] for t in timings)
    profile["partials_in_task"] = max(t[1] for t in timings)
    runner = LloydRunner(blocks)
    try:
        copies = runner.resident.rdd if runner.resident is not None else None
        if copies is not None:
            profile["read_local_copies"] = median_seconds(
                lambda: copies.map(lambda kv: len(kv[1].load())).collect(), repeat
            )
        rng = np.random.default_rng(seed)
        runner.run_pass({0: centroids})
        profile["pass_moving"] = median_seconds(
            lambda: runner.run_pass({0: centroids + rng.normal(0, 5, centroids.shape)}), repeat
        )
        profile["pass_settled"] = median_seconds(
            lambda: runner.run_pass({0: centroids + rng.normal(0, 1e-3, centroids.shape)}),
            repeat,
        )
    finally:
        runner.close()
    return profile
