"""IDX reader: round trips (gz and raw, labelled or not) and every malformed-file error."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest
from readers_support import assert_rows_match, idx_bytes, make_digits, write_idx

from kmeans_spark.errors import InputError, raise_input_errors
from kmeans_spark.readers import read_rows
from kmeans_spark.schema import IMAGE_SIDE


def evaluate(rows):
    with raise_input_errors():
        return rows.collect()


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_images_with_labels_beside_round_trip(spark, tmp_path, gz):
    digits = make_digits(20, seed=1)
    images = write_idx(tmp_path, digits, gz=gz)

    assert_rows_match(spark, read_rows(spark, str(images)), digits)


def test_labels_found_with_the_other_compression(spark, tmp_path):
    digits = make_digits(20, seed=2)
    images = write_idx(tmp_path, digits, gz=False)
    labels = tmp_path / "train-labels-idx1-ubyte"
    labels.rename(tmp_path / "train-labels-idx1-ubyte.gz")  # raw bytes under a .gz name

    # gzip is detected by magic bytes, so a misnamed raw file still reads.
    assert_rows_match(spark, read_rows(spark, str(images)), digits)


def test_gzip_detected_by_content_not_name(spark, tmp_path):
    digits = make_digits(20, seed=3)
    images = write_idx(tmp_path, digits, gz=True)
    plain_name = tmp_path / "digits.idx"
    shutil.copy(images, plain_name)

    rows = read_rows(
        spark, str(plain_name), labels_path=str(tmp_path / "train-labels-idx1-ubyte.gz")
    )

    assert_rows_match(spark, rows, digits)


def test_without_labels_file_digits_are_unlabelled(spark, tmp_path):
    digits = make_digits(20, seed=4, unlabelled_every=1)
    images = write_idx(tmp_path, digits, labels=False)

    assert_rows_match(spark, read_rows(spark, str(images)), digits)


def test_explicit_labels_path(spark, tmp_path):
    digits = make_digits(20, seed=5)
    (tmp_path / "pics.idx3").write_bytes(idx_bytes(digits.images.reshape(-1, 28, 28), gz=True))
    (tmp_path / "answers.idx1").write_bytes(idx_bytes(digits.labels, gz=False))

    rows = read_rows(spark, str(tmp_path / "pics.idx3"), labels_path=str(tmp_path / "answers.idx1"))

    assert_rows_match(spark, rows, digits)


def test_ids_are_positions_in_the_file(spark, tmp_path):
    digits = make_digits(50, seed=6)
    images = write_idx(tmp_path, digits)

    ids = [row[0] for row in evaluate(read_rows(spark, str(images)))]

    assert ids == list(range(50))


def test_count_mismatch_is_an_error(spark, tmp_path):
    digits = make_digits(20, seed=7)
    images = write_idx(tmp_path, digits)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(idx_bytes(digits.labels[:19], gz=True))

    with pytest.raises(
        InputError,
        match=r"train-images-idx3-ubyte\.gz: image and label counts differ \(20 images, 19 labels",
    ):
        evaluate(read_rows(spark, str(images)))


def test_label_byte_outside_0_to_9_names_the_record(spark, tmp_path):
    digits = make_digits(20, seed=8)
    labels = digits.labels.copy()
    labels[12] = 10
    images = write_idx(tmp_path, digits)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(idx_bytes(labels, gz=True))

    with pytest.raises(
        InputError, match=r"train-labels-idx1-ubyte\.gz: record 12: label 10 outside 0\.\.9$"
    ):
        evaluate(read_rows(spark, str(images)))


def test_labels_file_in_place_of_images_is_refused_at_once(spark, tmp_path):
    write_idx(tmp_path, make_digits(5))

    with pytest.raises(InputError, match=r"train-labels-idx1-ubyte\.gz: is an IDX labels file"):
        read_rows(spark, str(tmp_path / "train-labels-idx1-ubyte.gz"))


def test_wrong_magic_number(spark, tmp_path):
    digits = make_digits(5)
    images = tmp_path / "x-images-idx3-ubyte"
    images.write_bytes(idx_bytes(digits.labels, gz=False))  # a labels payload

    with pytest.raises(InputError, match=r"x-images-idx3-ubyte: wrong IDX magic number 0x00000801"):
        evaluate(read_rows(spark, str(images)))


def test_images_of_the_wrong_size(spark, tmp_path):
    images = tmp_path / "x-images-idx3-ubyte"
    images.write_bytes(idx_bytes(np.zeros((3, 20, 20)), gz=False))

    with pytest.raises(InputError, match=r"x-images-idx3-ubyte: images are 20x20, expected 28x28"):
        evaluate(read_rows(spark, str(images)))


def test_truncated_images_file(spark, tmp_path):
    payload = idx_bytes(np.zeros((3, IMAGE_SIDE, IMAGE_SIDE)), gz=False)
    images = tmp_path / "x-images-idx3-ubyte"
    images.write_bytes(payload[:-10])

    with pytest.raises(InputError, match=r"x-images-idx3-ubyte: truncated file"):
        evaluate(read_rows(spark, str(images)))


def test_corrupt_gzip(spark, tmp_path):
    compressed = gzip.compress(idx_bytes(np.zeros((3, IMAGE_SIDE, IMAGE_SIDE)), gz=False))
    images = tmp_path / "x-images-idx3-ubyte.gz"
    images.write_bytes(compressed[: len(compressed) // 2])

    with pytest.raises(InputError, match=r"x-images-idx3-ubyte\.gz: corrupt or truncated gzip"):
        evaluate(read_rows(spark, str(images)))


def test_empty_file_is_refused_at_once(spark, tmp_path):
    images = tmp_path / "x-images-idx3-ubyte"
    images.write_bytes(b"")

    with pytest.raises(InputError, match=r"x-images-idx3-ubyte: no digits in the input"):
        read_rows(spark, str(images))


def test_empty_labels_file_is_refused_at_once(spark, tmp_path):
    images = write_idx(tmp_path, make_digits(5), gz=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"")

    with pytest.raises(InputError, match=r"train-labels-idx1-ubyte: no digits in the input"):
        read_rows(spark, str(images))


def test_missing_explicit_labels_file(spark, tmp_path):
    images = write_idx(tmp_path, make_digits(5), labels=False)

    with pytest.raises(InputError, match=r"nope-labels: no such file or directory"):
        read_rows(spark, str(images), labels_path=str(tmp_path / "nope-labels"))
