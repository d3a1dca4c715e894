"""Executor-local state lost between passes (an executor died): same centres, same model.

Losing an executor is simulated in local mode by deleting the state files the
blocks kept (:meth:`BlockPasses.kept_state_paths`): the next task finds none, as
a task re-run on a surviving executor does. The cluster test
(``test_standalone_cluster.py``) kills a real worker.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from support import blocks_from_arrays

import kmeans_spark.init as init_module
from kmeans_spark.init import INIT_KMEANS_PARALLEL, INIT_KMEANS_PP, InitSpec, initial_centroids
from kmeans_spark.lloyd import LloydRunner, fit_lloyd
from kmeans_spark.passes import BlockPasses

SPECS = [InitSpec(6, 5), InitSpec(3, 8)]
METHODS = (INIT_KMEANS_PP, INIT_KMEANS_PARALLEL)


def delete_state_files(passes: BlockPasses) -> int:
    paths = passes.kept_state_paths()
    for path in paths:
        os.remove(path)
    return len(paths)


class LosingPasses(BlockPasses):
    """BlockPasses that lose every kept state file right after the passes in ``lose_after``."""

    lose_after: ClassVar[frozenset[int]] = frozenset()
    deleted: ClassVar[list[int]] = []

    def run(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        merged = super().run(*args, **kwargs)
        if self._passes in self.lose_after:
            type(self).deleted.append(delete_state_files(self))
        return merged


@pytest.fixture()
def losing_passes(monkeypatch) -> Iterator[type[LosingPasses]]:
    LosingPasses.deleted = []
    monkeypatch.setattr(init_module, "BlockPasses", LosingPasses)
    yield LosingPasses


@pytest.fixture(scope="module")
def digit_blocks(spark):
    rng = np.random.default_rng(21)
    centres = rng.integers(0, 256, (8, 784))
    pixels = np.clip(centres[rng.integers(0, 8, 240)] + rng.normal(0, 40, (240, 784)), 0, 255)
    blocks = blocks_from_arrays(spark, pixels.astype(np.uint8), partitions=3)
    yield blocks
    blocks.unpersist()


def centres_of(blocks, method: str) -> list[tuple[bytes, int]]:
    return [
        (result.centroids.tobytes(), result.passes)
        for result in initial_centroids(blocks, SPECS, method)
    ]


@pytest.fixture(scope="module")
def uninterrupted(digit_blocks) -> dict[str, list[tuple[bytes, int]]]:
    """Centres and passes of each method without a loss."""
    return {method: centres_of(digit_blocks, method) for method in METHODS}


@pytest.mark.parametrize(
    ("method", "lose_after"),
    [
        (INIT_KMEANS_PP, {2}),  # after the first fold: the D^2 of one centre
        (INIT_KMEANS_PP, {4, 5}),  # twice, mid-way
        (INIT_KMEANS_PARALLEL, {2}),  # after a fold: the sample pass needs D^2
        (INIT_KMEANS_PARALLEL, {3}),  # after a sample: the next fold needs D^2
    ],
)
def test_initialisation_rebuilds_a_lost_d2_to_the_same_centres(
    digit_blocks, uninterrupted, losing_passes, caplog, method, lose_after
) -> None:
    expected = uninterrupted[method]
    losing_passes.lose_after = frozenset(lose_after)
    with caplog.at_level(logging.WARNING, logger="kmeans_spark.passes"):
        again = centres_of(digit_blocks, method)
    assert losing_passes.deleted == [3] * len(lose_after), "no state was lost"
    assert "state rebuilt" in caplog.text
    assert again == expected


def test_without_a_rebuild_payload_a_lost_d2_fails(digit_blocks) -> None:
    # What the rebuild guards against: the step cannot go on from nothing.
    from kmeans_spark.init.kmeans_pp import PlusPlusOrder, _combine, _plus_plus_step

    passes = BlockPasses(digit_blocks)
    first = np.zeros(784, dtype=np.uint8)
    try:
        order = PlusPlusOrder(1, first, None, 1, 2)
        passes.run(_plus_plus_step, {0: order}, _combine, keep_state=True)
        delete_state_files(passes)
        later = PlusPlusOrder(1, None, None, 1, 2)
        with pytest.raises(Exception, match="KMeansSparkStateMissing"):
            passes.run(_plus_plus_step, {0: later}, _combine, keep_state=True)
    finally:
        passes.close()


def test_a_rebuild_payload_is_used_until_a_pass_keeps_state_again(digit_blocks) -> None:
    def step(block, previous, payload):
        return payload, [("payload", payload), ("had state", previous is not None)]

    def same(left, right):
        assert left == right
        return left

    passes = BlockPasses(digit_blocks)
    options = {"lost_state": "restart", "payload_without_state": "rebuild"}
    try:
        first = passes.run(step, "normal", same, keep_state=True, **options)
        assert dict(first) == {"payload": "normal", "had state": False}
        delete_state_files(passes)
        lost = passes.run(step, "normal", same, keep_state=False, **options)
        assert dict(lost) == {"payload": "rebuild", "had state": False}
        # No state is kept now: the next pass gets the rebuild payload too ...
        again = passes.run(step, "normal", same, keep_state=True, **options)
        assert dict(again) == {"payload": "rebuild", "had state": False}
        # ... and once one is kept, the normal one.
        kept = passes.run(step, "normal", same, keep_state=True, **options)
        assert dict(kept) == {"payload": "normal", "had state": True}
    finally:
        passes.close()
    with pytest.raises(ValueError, match="lost_state"):
        BlockPasses(digit_blocks).run(step, "x", same, keep_state=True, payload_without_state="y")


def test_collect_can_do_without_a_lost_state(digit_blocks) -> None:
    def step(block, previous, payload):
        return payload, []

    passes = BlockPasses(digit_blocks)
    try:
        passes.run(step, "kept", max, keep_state=True)
        assert sorted(passes.collect(lambda block, state: [state])) == ["kept"] * 3
        delete_state_files(passes)
        with pytest.raises(Exception, match="KMeansSparkStateMissing"):
            passes.collect(lambda block, state: [state])
        assert passes.collect(lambda block, state: [state], lost_state="none") == [None] * 3
        with pytest.raises(ValueError, match="lost_state"):
            passes.collect(lambda block, state: [state], lost_state="restart")
    finally:
        passes.close()


def test_empty_cluster_reseeding_survives_a_lost_assignment(spark, monkeypatch, caplog) -> None:
    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 120, (90, 784)).astype(np.uint8)
    blocks = blocks_from_arrays(spark, pixels, partitions=3)
    # Two centroids far from every digit: both clusters are empty after the first pass.
    init = np.vstack([pixels[:4].astype(np.float64), np.full((2, 784), 255.0)])
    expected = fit_lloyd(blocks, init)
    assert expected.history[0].empty_clusters == (4, 5)
    original = LloydRunner.farthest_points
    lost: list[int] = []

    def lose_then_look(self, requests):
        lost.append(delete_state_files(self.passes))
        return original(self, requests)

    monkeypatch.setattr(LloydRunner, "farthest_points", lose_then_look)
    again = fit_lloyd(blocks, init)
    assert lost and lost[0] == 3
    assert_array_equal(again.centroids, expected.centroids)
    assert_array_equal(again.cluster_sizes, expected.cluster_sizes)
    assert again.inertia == expected.inertia
    assert again.history[0].empty_clusters == (4, 5)
    blocks.unpersist()
