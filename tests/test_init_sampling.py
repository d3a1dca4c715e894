from __future__ import annotations

import math

import numpy as np
import pytest

from kmeans_spark.hashing import (
    STREAM_INIT,
    STREAM_KMEANS_PARALLEL,
    STREAM_KMEANS_PP,
    uniform_by_id,
)
from kmeans_spark.init.sampling import (
    MAX_STEP,
    MAX_TRIAL,
    RACE_TOLERANCE,
    Contender,
    RaceShortlist,
    race_exponentials,
    race_key,
    race_shortlist,
    smallest_draw,
    substream,
)


def _race(
    ids: np.ndarray, weights: np.ndarray, seed: int, stream: int, parts: int = 1
) -> RaceShortlist | None:
    """The merged shortlist of a race whose digits are dealt round-robin into ``parts`` parts."""
    uniforms = uniform_by_id(ids, seed, stream)
    pixels = np.zeros((len(ids), 784), dtype=np.uint8)
    merged = None
    for part in range(parts):
        rows = slice(part, None, parts)
        shortlist = race_shortlist(
            ids[rows],
            weights[rows],
            uniforms[rows],
            race_exponentials(uniforms[rows]),
            pixels[rows],
        )
        if shortlist is not None:
            merged = shortlist if merged is None else merged.merge(shortlist)
    return merged


def test_substreams_are_distinct_and_apart_from_the_plain_streams() -> None:
    bases = (STREAM_KMEANS_PP, STREAM_KMEANS_PARALLEL)
    streams = {substream(b, s, t) for b in bases for s in range(50) for t in range(20)}
    assert len(streams) == 2 * 50 * 20
    assert not streams & {1, STREAM_INIT, 11, 12}
    assert substream(STREAM_KMEANS_PP, MAX_STEP, MAX_TRIAL) < 1 << 64
    for bad in ((0, 0, 0), (256, 0, 0), (3, -1, 0), (3, MAX_STEP + 1, 0), (3, 0, MAX_TRIAL + 1)):
        with pytest.raises(ValueError, match="out of range"):
            substream(*bad)


def test_smallest_draw_breaks_ties_by_id() -> None:
    ids = np.array([3, 5, 8], dtype=np.int64)
    pixels = np.arange(3 * 784).reshape(3, 784).astype(np.uint8)
    best = smallest_draw(ids, np.array([0.5, 0.25, 0.25]), pixels)
    assert best is not None and best[1] == 5 and best[2] == pixels[1].tobytes()
    assert smallest_draw(ids[:0], np.zeros(0), pixels[:0]) is None


def test_race_wins_in_proportion_to_weight() -> None:
    weights = np.array([0, 1, 2, 3, 4, 10], dtype=np.int64)
    ids = np.arange(100, 106, dtype=np.int64)
    trials = 6000
    wins = np.zeros(len(ids), dtype=np.int64)
    for seed in range(trials):
        shortlist = _race(ids, weights, seed, substream(STREAM_KMEANS_PP, 1, 0))
        assert shortlist is not None
        wins[shortlist.winner().id - 100] += 1
    expected = weights / weights.sum()
    sigma = np.sqrt(trials * expected * (1 - expected))
    assert wins[0] == 0  # a zero weight never wins
    assert np.all(np.abs(wins - trials * expected) <= 5 * sigma + 1), wins


def test_merged_shortlists_give_the_winner_of_all_digits() -> None:
    rng = np.random.default_rng(0)
    ids = np.sort(rng.choice(10_000, 500, replace=False)).astype(np.int64)
    weights = rng.integers(0, 50_000_000, len(ids)).astype(np.int64)
    weights[rng.random(len(ids)) < 0.3] = 0
    for seed in range(20):
        stream = substream(STREAM_KMEANS_PP, 7, seed % 3)
        uniforms = uniform_by_id(ids, seed, stream)
        exact = min(
            (race_key(u, w), i)
            for u, w, i in zip(uniforms.tolist(), weights.tolist(), ids.tolist(), strict=True)
        )
        for parts in (1, 2, 7):
            shortlist = _race(ids, weights, seed, stream, parts)
            assert shortlist is not None
            assert shortlist.winner().id == exact[1]


def test_no_positive_weight_no_shortlist() -> None:
    ids = np.arange(5, dtype=np.int64)
    assert _race(ids, np.zeros(5, dtype=np.int64), 1, 1) is None
    assert _race(ids[:0], np.zeros(0, dtype=np.int64), 1, 1) is None


def test_positive_weight_gives_a_finite_key() -> None:
    # A draw of 0 is an exponential of 0, not -log(0): the digit wins outright.
    assert race_key(0.0, 3) == 0.0
    assert race_key(0.5, 0) == math.inf
    assert race_key(0.5, 2) == pytest.approx(math.log(2) / 2)
    assert race_exponentials(np.array([0.0, 0.5]))[0] == 0.0


def _contender(approx_key: float, digit_id: int, weight: int, uniform: float) -> Contender:
    return Contender(approx_key, digit_id, weight, uniform, bytes(784))


def test_near_ties_are_decided_on_the_driver_by_key_then_id() -> None:
    key = race_key(0.5, 4)
    # Two partitions computed the same key a hair apart: both stay in the race.
    a = RaceShortlist((_contender(key * (1 + RACE_TOLERANCE / 4), 9, 4, 0.5),))
    b = RaceShortlist((_contender(key, 12, 4, 0.5),))
    far = RaceShortlist((_contender(key * 1.01, 3, 1, 0.9),))
    merged = a.merge(far).merge(b)
    assert {c.id for c in merged.contenders} == {9, 12}
    assert merged.winner().id == 9  # equal recomputed keys: the smaller id
    assert b.merge(a).merge(far).winner().id == 9
