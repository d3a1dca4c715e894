from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from kmeans_spark.errors import InputError, UsageError
from kmeans_spark.model_io import atomic_output_dir, load_centroids


def test_failed_write_leaves_nothing(tmp_path) -> None:
    target = tmp_path / "model"
    with pytest.raises(RuntimeError), atomic_output_dir(target, overwrite=False) as staging:
        (staging / "half.json").write_text("{")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_refused_unless_overwrite(tmp_path) -> None:
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(UsageError, match="--overwrite"), atomic_output_dir(target, False):
        pass
    with atomic_output_dir(target, overwrite=True) as staging:
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no leftovers


def test_load_centroids_round_trip(tmp_path) -> None:
    values = np.random.default_rng(0).random((3, 784))
    np.save(tmp_path / "c.npy", values)
    assert_array_equal(load_centroids(tmp_path / "c.npy", 3), values)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((3, 10)), "shape"),
        (np.zeros((2, 784)), "shape"),
        (np.full((3, 784), np.nan), "NaN"),
        (np.array([{"a": 1}] * 3, dtype=object), "readable"),
    ],
)
def test_load_centroids_rejects_bad_files(tmp_path, array, message) -> None:
    np.save(tmp_path / "c.npy", array, allow_pickle=True)
    with pytest.raises(InputError, match=message):
        load_centroids(tmp_path / "c.npy", 3)


def test_load_centroids_missing_file(tmp_path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_centroids(tmp_path / "missing.npy")
