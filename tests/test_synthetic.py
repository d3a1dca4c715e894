from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_OK
from kmeans_spark.jobs.make_digits import main as make_digits_main
from kmeans_spark.readers import read_rows
from kmeans_spark.schema import UNLABELLED
from kmeans_spark.synthetic import (
    MAX_SHIFT,
    shift_images,
    shifted_digits,
    synthetic_rows,
    write_synthetic_parquet,
)


def test_shift_moves_ink_and_fills_background() -> None:
    image = np.zeros((1, 784), dtype=np.uint8)
    image[0, 5 * 28 + 7] = 200
    image[0, 27 * 28 + 27] = 99  # falls off the edge when moved down-right
    moved = shift_images(image, np.array([2]), np.array([-1])).reshape(28, 28)
    assert moved[7, 6] == 200
    assert moved.sum() == 200


def test_shifted_digits_are_determined_by_seed_and_id() -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (5, 784)).astype(np.uint8)
    labels = np.arange(5)
    ids = np.arange(40)
    pixels, digit_labels = shifted_digits(base, labels, ids, seed=3)
    assert_array_equal(digit_labels, ids % 5)
    again, _ = shifted_digits(base, labels, ids[10:], seed=3)
    assert_array_equal(again, pixels[10:])
    other, _ = shifted_digits(base, labels, ids, seed=4)
    assert not np.array_equal(other, pixels)
    # Every digit is its base digit under one of the 25 shifts.
    for i in range(40):
        candidates = [
            shift_images(base[[i % 5]], np.array([dy]), np.array([dx]))
            for dy in range(-MAX_SHIFT, MAX_SHIFT + 1)
            for dx in range(-MAX_SHIFT, MAX_SHIFT + 1)
        ]
        assert any(np.array_equal(c[0], pixels[i]) for c in candidates)


def _base(m: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (m, 784)).astype(np.uint8)
    labels = np.arange(m) % 10
    labels[3] = UNLABELLED  # an unlabelled base digit makes unlabelled digits
    return images, labels


def test_synthetic_rows_are_the_shifted_digits_in_id_order_per_slice(spark) -> None:
    images, labels = _base()
    rdd = synthetic_rows(spark.sparkContext, images, labels, 50, seed=2, slices=3)
    assert rdd.getNumPartitions() == 3
    slices = rdd.glom().collect()
    assert [[row[0] for row in part] for part in slices] == [
        list(range(0, 16)),
        list(range(16, 33)),
        list(range(33, 50)),
    ]
    pixels, digit_labels = shifted_digits(images, labels, np.arange(50), seed=2)
    rows = [row for part in slices for row in part]
    for digit_id, label, data in rows:
        assert data == pixels[digit_id].tobytes()
        expected = int(digit_labels[digit_id])
        assert label == (None if expected == UNLABELLED else expected)
    assert sum(label is None for _, label, _ in rows) == len(range(3, 50, 7))


def test_synthetic_rows_refuse_bad_arguments(spark) -> None:
    images, labels = _base()
    sc = spark.sparkContext
    with pytest.raises(ValueError, match="n >= 1"):
        synthetic_rows(sc, images, labels, 0, seed=0, slices=2)
    with pytest.raises(ValueError, match="shape"):
        synthetic_rows(sc, images[:, :100], labels, 5, seed=0, slices=2)
    with pytest.raises(ValueError, match="labels"):
        synthetic_rows(sc, images, labels[:3], 5, seed=0, slices=2)


def test_written_parquet_reads_back_as_the_same_digits_at_their_ids(spark, tmp_path) -> None:
    images, labels = _base()
    output = tmp_path / "digits.parquet"
    write_synthetic_parquet(spark, images, labels, 40, str(output), seed=5, files=3)
    assert len(list(output.glob("part-*.parquet"))) == 3
    assert (output / "_SUCCESS").exists()
    read = sorted(read_rows(spark, str(output)).collect())
    assert [row[0] for row in read] == list(range(40))
    assert read == sorted(
        synthetic_rows(spark.sparkContext, images, labels, 40, seed=5, slices=1).collect()
    )
    with pytest.raises(Exception, match="already exists"):
        write_synthetic_parquet(spark, images, labels, 40, str(output), seed=5, files=3)
    write_synthetic_parquet(spark, images, labels, 20, str(output), files=2, overwrite=True)
    assert read_rows(spark, str(output)).count() == 20


def test_make_digits_job_writes_an_input_for_the_train_job(spark, tmp_path, capsys) -> None:
    images, labels = _base()
    base = tmp_path / "base.parquet"
    write_synthetic_parquet(spark, images, labels, 7, str(base), files=1)
    output = tmp_path / "made"
    args = ["--input", str(base), "--n", "30", "--files", "2", "--output", str(output)]
    assert make_digits_main([*args, "--seed", "4", "--log-format", "json"]) == EXIT_OK
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (result["job"], result["digits"], result["base_digits"]) == ("make_digits", 30, 7)
    base_rows = sorted(read_rows(spark, str(base)).collect())
    base_pixels = np.frombuffer(b"".join(row[2] for row in base_rows), np.uint8).reshape(-1, 784)
    base_labels = np.array([UNLABELLED if row[1] is None else row[1] for row in base_rows])
    expected = synthetic_rows(spark.sparkContext, base_pixels, base_labels, 30, 4, 1).collect()
    assert sorted(read_rows(spark, str(output)).collect()) == expected
    # An existing output, or a bad --n, is a usage error (exit 2), and nothing is replaced.
    assert make_digits_main(args) == EXIT_BAD_INPUT
    assert make_digits_main([*args[:3], "0", *args[4:], "--overwrite"]) == EXIT_BAD_INPUT
    assert read_rows(spark, str(output)).count() == 30
