"""Passes that keep per-partition state in executor-local files."""

from __future__ import annotations

import os

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from support import blocks_from_arrays

from kmeans_spark.lloyd import fit_lloyd
from kmeans_spark.passes import BlockPasses


def step_and_merge():
    """Functions for the executors, defined locally: Spark ships them by value.

    The step's state is how many kept passes its partition has seen; it emits
    that and the block's size times the payload.
    """

    def count_passes(block, previous, payload):
        seen = (previous or 0) + 1
        return seen, [("seen", seen), ("digits", len(block) * payload)]

    def add(left, right):
        return left + right

    return count_passes, add


def delete_state_files(passes: BlockPasses) -> int:
    paths = passes.kept_state_paths()
    for path in paths:
        os.remove(path)
    return len(paths)


@pytest.fixture()
def blocks(spark):
    pixels = np.random.default_rng(0).integers(0, 256, (40, 784)).astype(np.uint8)
    return blocks_from_arrays(spark, pixels, partitions=3)


def test_state_carries_from_pass_to_pass(blocks) -> None:
    count_passes, add = step_and_merge()
    passes = BlockPasses(blocks)
    try:
        first = dict(passes.run(count_passes, 1, add, keep_state=True))
        assert first == {"seen": 3, "digits": 40} and not passes.last_pass_had_state
        second = dict(passes.run(count_passes, 2, add, keep_state=True))
        assert second == {"seen": 6, "digits": 80} and passes.last_pass_had_state
        # A pass that does not keep its state leaves the previous one in place.
        assert dict(passes.run(count_passes, 1, add, keep_state=False))["seen"] == 9
        assert dict(passes.run(count_passes, 1, add, keep_state=True))["seen"] == 9
        assert sorted(passes.collect(lambda block, state: [state])) == [3, 3, 3]
    finally:
        passes.close()


def test_lost_state_fails_or_restarts_the_pass_without(blocks, caplog) -> None:
    count_passes, add = step_and_merge()
    passes = BlockPasses(blocks)
    try:
        passes.run(count_passes, 1, add, keep_state=True)
        assert delete_state_files(passes) == 3
        with pytest.raises(Exception, match="KMeansSparkStateMissing"):
            passes.run(count_passes, 1, add, keep_state=True)
        merged = dict(passes.run(count_passes, 1, add, keep_state=True, lost_state="restart"))
        assert merged["seen"] == 3  # counted afresh
        assert not passes.last_pass_had_state
        assert "no kept state" in caplog.text
    finally:
        passes.close()


def test_lloyd_survives_lost_assignments_with_the_same_model(spark) -> None:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (300, 784)).astype(np.uint8)
    blocks = blocks_from_arrays(spark, pixels, partitions=2)
    init = pixels[:5].astype(np.float64)
    expected = fit_lloyd(blocks, init)
    import kmeans_spark.lloyd as lloyd

    created: list[BlockPasses] = []
    original = lloyd.BlockPasses

    def tracking(*args, **kwargs):
        created.append(original(*args, **kwargs))
        return created[-1]

    def lose_state(stats) -> None:
        if stats.iteration == 2:
            delete_state_files(created[-1])

    lloyd.BlockPasses = tracking
    try:
        again = fit_lloyd(blocks, init, on_iteration=lose_state)
    finally:
        lloyd.BlockPasses = original
    assert_array_equal(again.centroids, expected.centroids)
    assert again.inertia == expected.inertia
    # The pass after the loss could not tell which points moved: it counts all.
    assert again.history[2].moved == 300
    assert again.iterations in (expected.iterations, expected.iterations + 1)


def test_close_removes_the_state_files(blocks) -> None:
    count_passes, add = step_and_merge()
    passes = BlockPasses(blocks)
    passes.run(count_passes, 1, add, keep_state=True)
    paths = passes.kept_state_paths()
    assert len(paths) == 3
    assert all(os.path.exists(path) for path in paths)
    passes.close()
    assert not any(os.path.exists(path) for path in paths)  # local mode: one executor
