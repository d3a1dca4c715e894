"""CSV reader: header detection, unlabelled digits, gzip, and every malformed-line error."""

from __future__ import annotations

import numpy as np
import pytest
from readers_support import CSV_HEADER, assert_rows_match, csv_lines, make_digits, write_text

from kmeans_spark.errors import InputError, raise_input_errors
from kmeans_spark.readers import read_rows
from kmeans_spark.readers.csv import digit_from_csv, digits_of_lines, is_header


def evaluate(rows):
    with raise_input_errors():
        return rows.collect()


def pixel_fields(values: list[str] | None = None) -> list[str]:
    """784 valid pixel fields, with ``values`` replacing the first ones."""
    fields = ["0"] * 784
    for i, value in enumerate(values or []):
        fields[i] = value
    return fields


@pytest.mark.parametrize(
    ("name", "header", "unlabelled_every"),
    [
        ("d.csv", True, 0),
        ("d.csv", False, 0),
        ("d.csv.gz", True, 3),
        ("d.csv", False, 1),  # entirely unlabelled, so the first field is empty
    ],
    ids=["header", "no-header", "gz-header-some-unlabelled", "unlabelled"],
)
def test_round_trip(spark, tmp_path, name, header, unlabelled_every):
    digits = make_digits(20, seed=21, unlabelled_every=unlabelled_every)
    lines = ([CSV_HEADER] if header else []) + csv_lines(digits)
    path = write_text(tmp_path / name, lines)

    assert_rows_match(spark, read_rows(spark, str(path)), digits)


def test_spaces_after_commas_and_crlf_line_ends(spark, tmp_path):
    digits = make_digits(20, seed=22)
    lines = [line + "\r" for line in csv_lines(digits, separator=", ")]
    path = write_text(tmp_path / "d.csv", lines)

    assert_rows_match(spark, read_rows(spark, str(path)), digits)


def test_ids_count_data_lines_not_the_header(spark, tmp_path):
    digits = make_digits(40, seed=23)
    path = write_text(tmp_path / "d.csv", [CSV_HEADER, *csv_lines(digits)])
    rows = read_rows(spark, str(path))

    labels_by_id = {row[0]: row[1] for row in evaluate(rows)}

    assert rows.getNumPartitions() > 1
    assert labels_by_id == {i: digits.label(i) for i in range(40)}


@pytest.mark.parametrize(
    ("first_line", "expected"),
    [
        (CSV_HEADER, True),
        ('"y",' + ",".join(pixel_fields()), True),
        ("5," + ",".join(pixel_fields()), False),
        ("," + ",".join(pixel_fields()), False),  # unlabelled digit
        ("7.0," + ",".join(pixel_fields()), False),  # a bad label, not a header
        ("nan," + ",".join(pixel_fields()), False),
    ],
)
def test_header_detection(first_line, expected):
    assert is_header(first_line) is expected


def test_parser_keeps_every_pixel_value():
    pixels = np.arange(784) % 256
    label, data = digit_from_csv("9," + ",".join(map(str, pixels)))

    assert label == 9
    np.testing.assert_array_equal(np.frombuffer(data, dtype=np.uint8), pixels)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            "1," + ",".join(pixel_fields()[:-1]),
            r"expected 785 fields \(label and 784 pixels\), found 784",
        ),
        ("1," + ",".join(pixel_fields(["0"])) + ",0", r"expected 785 fields .*found 786"),
        ("7.0," + ",".join(pixel_fields()), r"label '7\.0' is not an integer"),
        ("nan," + ",".join(pixel_fields()), r"label 'nan' is not an integer"),
        ("ten," + ",".join(pixel_fields()), r"label 'ten' is not an integer"),
        ("10," + ",".join(pixel_fields()), r"label 10 outside 0\.\.9"),
        ("-1," + ",".join(pixel_fields()), r"label -1 outside 0\.\.9"),
        (
            "1," + ",".join(pixel_fields(["0"] * 15 + ["256"])),
            r"pixel 256 outside 0\.\.255 \(column 17\)",
        ),
        ("1," + ",".join(pixel_fields(["-1"])), r"pixel -1 outside 0\.\.255 \(column 2\)"),
        (
            "1," + ",".join(pixel_fields(["9" * 25])),
            rf"pixel {'9' * 25} outside 0\.\.255 \(column 2\)",
        ),
        (
            "1," + ",".join(pixel_fields(["0", "nan"])),
            r"pixel 'nan' is not an integer \(column 3\)",
        ),
        (
            "1," + ",".join(pixel_fields(["0", "1.5"])),
            r"pixel '1\.5' is not an integer \(column 3\)",
        ),
        ("1," + ",".join(pixel_fields(["0", "0", ""])), r"pixel column 4 is empty"),
        (
            "1," + ",".join(pixel_fields([" 3", "nan"])),
            r"pixel 'nan' is not an integer \(column 3\)",
        ),
    ],
)
def test_malformed_line_names_file_line_and_reason(line, reason):
    # The function each Spark task runs, called directly (see the JSON-lines tests).
    lines = [(0, CSV_HEADER), (3, line)]

    with pytest.raises(InputError, match=rf"^/data/d\.csv: line 4: {reason}$"):
        list(digits_of_lines(lines, source="/data/d.csv", header_lines=1))


def test_malformed_line_through_spark(spark, tmp_path):
    lines = [CSV_HEADER, *csv_lines(make_digits(30, seed=24))]
    lines[27] = "1," + ",".join(pixel_fields(["0"] * 15 + ["256"]))
    path = write_text(tmp_path / "d.csv", lines)

    with pytest.raises(
        InputError, match=r"d\.csv: line 28: pixel 256 outside 0\.\.255 \(column 17\)"
    ):
        evaluate(read_rows(spark, str(path)))


def test_blank_line_in_the_middle(spark, tmp_path):
    lines = csv_lines(make_digits(5, seed=25))
    lines.insert(2, "")
    path = write_text(tmp_path / "d.csv", lines)

    with pytest.raises(InputError, match=r"d\.csv: line 3: blank line"):
        evaluate(read_rows(spark, str(path)))


def test_header_with_wrong_column_count_is_refused_at_once(spark, tmp_path):
    path = write_text(tmp_path / "d.csv", ["label,a,b", "1," + ",".join(pixel_fields())])

    with pytest.raises(InputError, match=r"d\.csv: header has 3 columns, expected 785"):
        read_rows(spark, str(path))


def test_header_only_yields_no_rows(spark, tmp_path):
    path = write_text(tmp_path / "d.csv", [CSV_HEADER])

    assert evaluate(read_rows(spark, str(path))) == []


def test_empty_gzip_is_refused_at_once(spark, tmp_path):
    path = write_text(tmp_path / "d.csv.gz", [], final_newline="")

    with pytest.raises(InputError, match=r"d\.csv\.gz: no digits in the input"):
        read_rows(spark, str(path))
