from __future__ import annotations

import os
import shutil

import numpy as np
from numpy.testing import assert_array_equal
from support import blocks_from_arrays

from kmeans_spark.lloyd import LloydRunner, fit_lloyd
from kmeans_spark.resident import ResidentBlocks


def test_local_copies_hold_the_blocks(spark) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (50, 784)).astype(np.uint8)
    blocks = blocks_from_arrays(spark, pixels, rng.integers(0, 10, 50), partitions=3)
    resident = ResidentBlocks(blocks)
    assert resident.rdd is not None
    copies = dict(resident.rdd.mapValues(lambda ref: ref.load()).collect())
    for key, block in blocks.rdd.collect():
        for name in ("ids", "labels", "pixels", "sq_norms"):
            assert_array_equal(getattr(copies[key], name), getattr(block, name))
    folders = [ref.folder for _, ref in resident.rdd.collect()]
    resident.remove()
    assert not any(os.path.exists(folder) for folder in folders)  # local mode: one executor


def test_resident_and_streamed_blocks_train_the_same_model(spark) -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (300, 784)).astype(np.uint8)
    blocks = blocks_from_arrays(spark, pixels, partitions=3)
    init = pixels[:5].astype(np.float64)
    resident = fit_lloyd(blocks, init, resident=True)
    streamed = fit_lloyd(blocks, init, resident=False)
    assert_array_equal(resident.centroids, streamed.centroids)
    assert [s.moved for s in resident.history] == [s.moved for s in streamed.history]


def test_lost_copies_are_rewritten(spark, caplog) -> None:
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (200, 784)).astype(np.uint8)
    blocks = blocks_from_arrays(spark, pixels, partitions=2)
    init = pixels[:4].astype(np.float64)
    expected = fit_lloyd(blocks, init, max_iter=3, resident=False)
    runner = LloydRunner(blocks)
    first = runner.run_pass({0: init})[0]
    assert runner.resident is not None and runner.resident.rdd is not None
    for _, ref in runner.resident.rdd.collect():  # as if the executor had been replaced
        shutil.rmtree(ref.folder)
    second = runner.run_pass({0: init})[0]
    assert "rewriting them" in caplog.text
    assert_array_equal(second.sums, first.sums)
    assert int(second.moved.sum()) == 0  # the kept assignment survived the rewrite
    runner.close()
    again = fit_lloyd(blocks, init, max_iter=3)
    assert_array_equal(again.centroids, expected.centroids)
