from __future__ import annotations

import numpy as np
from numpy.testing import assert_array_equal

from kmeans_spark.hashing import restart_seeds, uniform_by_id


def test_draws_depend_only_on_seed_stream_and_id() -> None:
    ids = np.arange(1000)
    whole = uniform_by_id(ids, seed=7, stream=1)
    assert_array_equal(uniform_by_id(ids[::-1], 7, 1), whole[::-1])
    assert_array_equal(uniform_by_id(ids[500:], 7, 1), whole[500:])
    assert not np.array_equal(uniform_by_id(ids, 8, 1), whole)
    assert not np.array_equal(uniform_by_id(ids, 7, 2), whole)


def test_draws_are_uniform() -> None:
    draws = uniform_by_id(np.arange(200_000), seed=1, stream=1)
    assert draws.min() >= 0.0 and draws.max() < 1.0
    counts, _ = np.histogram(draws, bins=10, range=(0, 1))
    # 20,000 expected per bin; 5 standard deviations is about 700.
    assert np.all(np.abs(counts - 20_000) < 700)


def test_restart_seeds_start_with_the_seed_and_differ() -> None:
    seeds = restart_seeds(7, 5)
    assert seeds[0] == 7 and len(set(seeds)) == 5
    assert all(0 <= s < 2**31 for s in seeds)
    assert restart_seeds(7, 3) == seeds[:3]  # more restarts extend, never reshuffle
    assert restart_seeds(8, 5)[1:] != seeds[1:]
