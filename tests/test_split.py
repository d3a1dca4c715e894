from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from support import blocks_from_arrays

from kmeans_spark.errors import UsageError
from kmeans_spark.split import split_train_validation, validation_mask


def test_head_split_holds_out_the_first_share() -> None:
    ids = np.arange(10)
    assert_array_equal(validation_mask(ids, 10, 0.25, "head", 0), ids < 2)


def test_random_split_is_seeded_and_near_the_fraction() -> None:
    ids = np.arange(40_000)
    mask = validation_mask(ids, 40_000, 0.25, "random", 5)
    assert abs(mask.mean() - 0.25) < 0.01
    assert_array_equal(validation_mask(ids, 40_000, 0.25, "random", 5), mask)
    assert not np.array_equal(validation_mask(ids, 40_000, 0.25, "random", 6), mask)


def test_split_blocks_partition_the_digits(spark) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (100, 784)).astype(np.uint8)
    blocks = blocks_from_arrays(spark, pixels, rng.integers(0, 10, 100), partitions=3)
    train, validation = split_train_validation(blocks, 0.25, "head")
    assert validation is not None
    assert (train.num_digits, validation.num_digits) == (75, 25)
    validation_ids = sorted(i for _, b in validation.rdd.collect() for i in b.ids.tolist())
    assert validation_ids == list(range(25))
    assert train.num_partitions == 3


def test_no_validation_share(spark) -> None:
    blocks = blocks_from_arrays(spark, np.zeros((4, 784), np.uint8))
    train, validation = split_train_validation(blocks, 0.0)
    assert validation is None and train.num_digits == 4


@pytest.mark.parametrize(("fraction", "method"), [(1.0, "head"), (-0.1, "head"), (0.2, "tail")])
def test_bad_split_parameters(spark, fraction, method) -> None:
    blocks = blocks_from_arrays(spark, np.zeros((4, 784), np.uint8))
    with pytest.raises(UsageError):
        split_train_validation(blocks, fraction, method)
