from __future__ import annotations

import numpy as np
from support import blocks_from_arrays

from kmeans_spark.profiling import iteration_profile, median_seconds


def test_median_seconds_times_the_action() -> None:
    calls = []
    seconds = median_seconds(lambda: calls.append(1), repeat=3)
    assert len(calls) == 4  # one warm-up, three timed
    assert 0 <= seconds < 1


def test_iteration_profile_measures_every_ingredient(spark) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (200, 784)).astype(np.uint8)
    blocks = blocks_from_arrays(spark, pixels, partitions=2)
    profile = iteration_profile(blocks, pixels[:3].astype(np.float64), repeat=1)
    assert set(profile) == {
        "empty_job_one_stage",
        "empty_job_map_reduce",
        "stream_blocks",
        "assign_in_task",
        "partials_in_task",
        "read_local_copies",
        "pass_moving",
        "pass_settled",
    }
    assert all(value > 0 for value in profile.values())
    # A whole pass includes a map-reduce job's fixed cost.
    assert profile["pass_moving"] > profile["assign_in_task"]
