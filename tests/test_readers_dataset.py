"""Public API: format detection, eager checks, read_digits, read_dataset, and the real data."""

from __future__ import annotations

import gzip
import hashlib
import os
import struct

import numpy as np
import pytest
from readers_support import (
    CSV_HEADER,
    assert_frame_matches,
    assert_rows_match,
    csv_lines,
    idx_bytes,
    jsonl_lines,
    make_digits,
    write_idx,
    write_parquet,
    write_text,
)

from kmeans_spark.errors import InputError, raise_input_errors
from kmeans_spark.readers import detect_format, read_dataset, read_digits, read_rows
from kmeans_spark.schema import DIGITS_SCHEMA

# --- format detection and eager checks ---------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.jsonl", "jsonl"),
        ("a.json.gz", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.CSV", "csv"),
        ("a.csv.gz", "csv"),
        ("a.parquet", "parquet"),
        ("train-images-idx3-ubyte", "idx"),
        ("t10k-images-idx3-ubyte.gz", "idx"),
        ("train-images.idx3-ubyte", "idx"),
        ("digits.idx", "idx"),
    ],
)
def test_detect_format_from_file_name(spark, tmp_path, name, expected):
    (tmp_path / name).write_bytes(b"x")

    assert detect_format(spark, str(tmp_path / name)) == expected


def test_detect_format_of_directories(spark, tmp_path):
    mnist, parts, other = tmp_path / "mnist", tmp_path / "parts", tmp_path / "other"
    for folder in (mnist, parts, other):
        folder.mkdir()
    (mnist / "train-images-idx3-ubyte.gz").write_bytes(b"x")
    (parts / "part-00000-abc.snappy.parquet").write_bytes(b"x")
    (other / "notes.txt").write_bytes(b"x")

    assert detect_format(spark, str(mnist)) == "mnist-dir"
    assert detect_format(spark, str(parts)) == "parquet"
    with pytest.raises(InputError, match=r"other: directory holds neither"):
        detect_format(spark, str(other))


def test_unknown_extension_asks_for_fmt(spark, tmp_path):
    (tmp_path / "digits.txt").write_text("x")

    with pytest.raises(InputError, match=r"digits\.txt: cannot tell the format .* pass fmt="):
        detect_format(spark, str(tmp_path / "digits.txt"))


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("{tmp}/missing.jsonl", r"missing\.jsonl: no such file or directory"),
        ("nope://host/digits.csv", r"nope://host/digits\.csv: cannot access \(.*nope"),
        ("", r"empty path"),
    ],
)
def test_unusable_paths(spark, tmp_path, path, message):
    with pytest.raises(InputError, match=message):
        read_rows(spark, path.format(tmp=tmp_path))


@pytest.mark.skipif(os.name != "posix", reason="permission bits")
def test_unreadable_file(spark, tmp_path):
    path = write_text(tmp_path / "d.jsonl", jsonl_lines(make_digits(2)))
    path.chmod(0)
    try:
        with pytest.raises(InputError, match=r"d\.jsonl: not readable"):
            read_rows(spark, str(path))
    finally:
        path.chmod(0o644)


def test_unknown_fmt_and_misplaced_labels_path(spark, tmp_path):
    path = write_text(tmp_path / "d.jsonl", jsonl_lines(make_digits(2)))

    with pytest.raises(InputError, match=r"unknown format 'xml'"):
        read_rows(spark, str(path), fmt="xml")
    with pytest.raises(InputError, match=r"d\.jsonl: labels_path is only for IDX images"):
        read_rows(spark, str(path), labels_path=str(path))


def test_text_format_on_a_directory(spark, tmp_path):
    with pytest.raises(
        InputError, match=rf"{tmp_path}: is a directory; csv input must be a single"
    ):
        read_rows(spark, str(tmp_path), fmt="csv")


def test_explicit_fmt_overrides_the_name(spark, tmp_path):
    digits = make_digits(20, seed=41)
    path = write_text(tmp_path / "digits.txt", [CSV_HEADER, *csv_lines(digits)])

    assert_rows_match(spark, read_rows(spark, str(path), fmt="csv"), digits)


def test_file_uri(spark, tmp_path):
    digits = make_digits(20, seed=42)
    path = write_text(tmp_path / "d.jsonl", jsonl_lines(digits))

    assert_rows_match(spark, read_rows(spark, path.as_uri()), digits)


# --- read_digits -------------------------------------------------------------


def test_read_digits_returns_the_schema_and_the_digits(spark, tmp_path):
    digits = make_digits(20, seed=43, unlabelled_every=4)
    folder = write_parquet(spark, tmp_path / "d", digits, pixels_as_array=True, part_sizes=(7, 13))

    frame = read_digits(spark, str(folder))

    assert frame.schema == DIGITS_SCHEMA
    assert_frame_matches(spark, frame, digits)


def test_read_digits_validates_at_once(spark, tmp_path):
    lines = jsonl_lines(make_digits(5))
    lines[3] = '{"label": 12, "data": ""}'
    path = write_text(tmp_path / "d.jsonl", lines)

    with pytest.raises(InputError, match=r"d\.jsonl: line 4: label 12 outside 0\.\.9"):
        read_digits(spark, str(path))

    frame = read_digits(spark, str(path), validate=False)  # no pass over the records yet
    with pytest.raises(InputError, match=r"d\.jsonl: line 4: label 12 outside 0\.\.9"):
        with raise_input_errors():
            frame.collect()


def test_read_digits_refuses_an_input_without_digits(spark, tmp_path):
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n"))  # one blank last line: skipped, nothing left

    with pytest.raises(InputError, match=r"d\.jsonl\.gz: no digits in the input"):
        read_digits(spark, str(path))


# --- read_dataset ------------------------------------------------------------


def test_mnist_directory_gives_train_and_test(spark, tmp_path):
    train, test = make_digits(20, seed=44), make_digits(12, seed=45)
    write_idx(tmp_path, train, prefix="train", gz=True)
    write_idx(tmp_path, test, prefix="t10k", gz=False)

    dataset = read_dataset(spark, str(tmp_path))

    assert dataset.test is not None
    assert_rows_match(spark, dataset.train, train)
    assert_rows_match(spark, dataset.test, test)
    assert "train-images-idx3-ubyte.gz" in dataset.train_source
    assert "t10k-labels-idx1-ubyte" in (dataset.test_source or "")


def test_mnist_directory_as_a_single_input_is_its_training_set(spark, tmp_path):
    train = make_digits(20, seed=46)
    write_idx(tmp_path, train, prefix="train")
    write_idx(tmp_path, make_digits(3, seed=47), prefix="t10k")

    assert_rows_match(spark, read_rows(spark, str(tmp_path)), train)


def test_incomplete_mnist_directory_names_what_is_missing(spark, tmp_path):
    write_idx(tmp_path, make_digits(3), prefix="train")
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(idx_bytes(np.zeros((1, 28, 28)), gz=True))

    with pytest.raises(
        InputError, match=r"incomplete MNIST directory: missing t10k-labels-idx1-ubyte\[\.gz\]$"
    ):
        read_dataset(spark, str(tmp_path))


def test_mnist_directory_refuses_a_second_test_set(spark, tmp_path):
    write_idx(tmp_path, make_digits(3), prefix="train")
    write_idx(tmp_path, make_digits(3), prefix="t10k")

    with pytest.raises(InputError, match=r"MNIST directory with its own labels and test set"):
        read_dataset(spark, str(tmp_path), test_path=str(tmp_path / "t10k-images-idx3-ubyte.gz"))


def test_single_input_with_a_test_file_in_another_format(spark, tmp_path):
    train, test = make_digits(20, seed=48), make_digits(10, seed=49, unlabelled_every=2)
    train_path = write_text(tmp_path / "train.jsonl", jsonl_lines(train))
    test_path = write_text(tmp_path / "test.csv", csv_lines(test))

    dataset = read_dataset(spark, str(train_path), test_path=str(test_path))

    assert dataset.test is not None
    assert_rows_match(spark, dataset.train, train)
    assert_rows_match(spark, dataset.test, test)
    assert (dataset.train_source, dataset.test_source) == (str(train_path), str(test_path))


def test_single_input_without_test(spark, tmp_path):
    train = make_digits(20, seed=50)
    path = write_text(tmp_path / "train.csv", csv_lines(train))

    dataset = read_dataset(spark, str(path))

    assert dataset.test is None and dataset.test_source is None
    assert_rows_match(spark, dataset.train, train)


# --- the real data -------------------------------------------------------------


def idx_digest_rows(images_gz, labels_gz) -> list[tuple[int, int, bytes]]:
    """``(id, label, md5 of pixels)`` decoded with plain numpy, independently of the readers."""
    images_data = gzip.decompress(images_gz.read_bytes())
    labels_data = gzip.decompress(labels_gz.read_bytes())
    n_images = struct.unpack(">I", images_data[4:8])[0]
    n_labels = struct.unpack(">I", labels_data[4:8])[0]
    assert n_images == n_labels
    images = np.frombuffer(images_data, dtype=np.uint8, offset=16).reshape(n_images, 784)
    labels = np.frombuffer(labels_data, dtype=np.uint8, offset=8)
    return [
        (i, int(label), hashlib.md5(image.tobytes()).digest())
        for i, (label, image) in enumerate(zip(labels, images, strict=True))
    ]


def digest_rows(rows) -> list[tuple[int, int, bytes]]:
    """The same digest of a reader's rows, computed by Spark, in id order."""
    with raise_input_errors():
        digests = rows.map(lambda row: (row[0], row[1], hashlib.md5(row[2]).digest())).collect()
    return sorted(digests)


@pytest.fixture(scope="module")
def mnist_train_digests(mnist_dir):
    return idx_digest_rows(
        mnist_dir / "train-images-idx3-ubyte.gz", mnist_dir / "train-labels-idx1-ubyte.gz"
    )


@pytest.mark.slow
def test_real_mnist_directory(spark, mnist_dir, mnist_train_digests):
    dataset = read_dataset(spark, str(mnist_dir))
    test_digests = idx_digest_rows(
        mnist_dir / "t10k-images-idx3-ubyte.gz", mnist_dir / "t10k-labels-idx1-ubyte.gz"
    )

    assert dataset.test is not None
    train = digest_rows(dataset.train)
    assert len(train) == 60_000
    assert train == mnist_train_digests
    test = digest_rows(dataset.test)
    assert len(test) == 10_000
    assert test == test_digests


@pytest.mark.slow
def test_real_json_lines_equal_the_idx_training_set(spark, digits_jsonl, mnist_train_digests):
    rows = read_rows(spark, str(digits_jsonl))

    digests = digest_rows(rows)

    assert len(digests) == 60_000
    assert digests == mnist_train_digests
