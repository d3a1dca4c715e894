from __future__ import annotations

import numpy as np
import pytest

from kmeans_spark.errors import UsageError
from kmeans_spark.experiment import TrainParams, parse_k_list


def test_k_lists_take_ranges_and_values() -> None:
    assert parse_k_list("5-24,100") == [*range(5, 25), 100]
    assert parse_k_list(" 16 ") == [16]
    assert parse_k_list("10,3-4,4") == [3, 4, 10]  # sorted, without repeats


@pytest.mark.parametrize("text", ["", "0", "5-2", "x", "1-2-3", "3,", "-4"])
def test_bad_k_lists_are_refused(text) -> None:
    with pytest.raises(UsageError, match="--k"):
        parse_k_list(text)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must be"),
        ({"n_init": 0}, "n_init"),
        ({"init": "kmeans++"}, "initialisation"),
        ({"init_trials": 0}, "init_trials"),
        ({"init_oversampling": 0.0}, "init_oversampling"),
        ({"init_steps": 0}, "init_steps"),
        ({"max_iter": 0}, "max_iter"),
        ({"tol": -1.0}, "tol"),
        ({"k": 2, "init_centroids": np.zeros((3, 784))}, "shape"),
        ({"k": 2, "init_centroids": np.zeros((2, 784)), "n_init": 2}, "one restart"),
    ],
)
def test_invalid_parameters_are_refused_before_any_work(kwargs, message) -> None:
    with pytest.raises(UsageError, match=message):
        TrainParams(**kwargs)
