"""JSON-lines reader: round trips, the blank-line policy, and every malformed-line error."""

from __future__ import annotations

import base64
import gzip
import json

import numpy as np
import pytest
from readers_support import assert_rows_match, jsonl_lines, make_digits, write_text

from kmeans_spark.errors import InputError, raise_input_errors
from kmeans_spark.readers import read_rows
from kmeans_spark.readers.jsonlines import digit_from_json, digits_of_lines
from kmeans_spark.readers.records import BadRecord

GOOD_DATA = base64.b64encode(bytes(784)).decode("ascii")


def labelled(label_json: str) -> str:
    """A line with valid pixels and the label written as ``label_json``."""
    return f'{{"label": {label_json}, "data": "{GOOD_DATA}"}}'


def evaluate(rows):
    with raise_input_errors():
        return rows.collect()


@pytest.mark.parametrize("name", ["digits.jsonl", "digits.json.gz"])
def test_round_trip_plain_and_gzip_with_shuffled_keys(spark, tmp_path, name):
    digits = make_digits(20, seed=11, unlabelled_every=7)  # label key omitted for some
    path = write_text(tmp_path / name, jsonl_lines(digits))

    assert_rows_match(spark, read_rows(spark, str(path)), digits)


def test_null_label_and_extra_keys(spark, tmp_path):
    digits = make_digits(2, seed=12, unlabelled_every=2)  # digit 0 unlabelled
    lines = [
        json.dumps({"label": None, "data": base64.b64encode(digits.images[0]).decode(), "x": 1}),
        json.dumps(
            {
                "source": "scan",
                "data": base64.b64encode(digits.images[1]).decode(),
                "label": digits.label(1),
            }
        ),
    ]
    path = write_text(tmp_path / "d.jsonl", lines)

    assert_rows_match(spark, read_rows(spark, str(path)), digits)


def test_one_blank_last_line_is_skipped(spark, tmp_path):
    digits = make_digits(20, seed=13)
    path = write_text(tmp_path / "d.jsonl", jsonl_lines(digits), final_newline="\n\n")

    assert_rows_match(spark, read_rows(spark, str(path)), digits)


def test_no_final_newline(spark, tmp_path):
    digits = make_digits(20, seed=14)
    path = write_text(tmp_path / "d.jsonl.gz", jsonl_lines(digits), final_newline="")

    assert_rows_match(spark, read_rows(spark, str(path)), digits)


@pytest.mark.parametrize(
    ("lines_before", "blank", "final", "line_number"),
    [
        (2, "", "\n", 3),  # in the middle
        (20, "   ", "\n\n", 21),  # whitespace-only, then a blank last line: two blank lines
    ],
    ids=["middle", "two-at-the-end"],
)
def test_other_blank_lines_are_errors(spark, tmp_path, lines_before, blank, final, line_number):
    lines = jsonl_lines(make_digits(20, seed=15))
    lines.insert(lines_before, blank)
    path = write_text(tmp_path / "d.jsonl", lines, final_newline=final)

    with pytest.raises(InputError, match=rf"d\.jsonl: line {line_number}: blank line"):
        evaluate(read_rows(spark, str(path)))


def test_blank_line_ending_a_partition_is_an_error(spark, tmp_path):
    # Lay the file out so that Hadoop's first split ends exactly on the blank
    # line: its task alone cannot see that digits follow in the next partition.
    before, after = jsonl_lines(make_digits(10, seed=19)), jsonl_lines(make_digits(10, seed=20))
    size_before = sum(len(line) + 1 for line in before)
    size_after = sum(len(line) + 1 for line in after) - 1  # no final newline
    after[0] += " " * (size_before - size_after - 1)  # JSON allows trailing spaces
    path = write_text(tmp_path / "d.jsonl", [*before, "", *after], final_newline="")
    partitions = spark.sparkContext.textFile(str(path)).glom().collect()
    assert len(partitions) == 2 and partitions[0][-1] == "", "layout did not split on the blank"

    with pytest.raises(InputError, match=r"d\.jsonl: line 11: blank line"):
        evaluate(read_rows(spark, str(path)))


def test_error_line_numbers_count_across_partitions(spark, tmp_path):
    lines = jsonl_lines(make_digits(40, seed=16))
    lines[36] = '{"label": 3, "data": '
    path = write_text(tmp_path / "d.jsonl", lines)
    rows = read_rows(spark, str(path))
    assert rows.getNumPartitions() > 1  # the bad line must not be in the first partition

    with pytest.raises(InputError, match=r"d\.jsonl: line 37: not valid JSON \(Expecting value\)"):
        evaluate(rows)


def test_ids_are_line_positions_across_partitions(spark, tmp_path):
    digits = make_digits(40, seed=17)
    path = write_text(tmp_path / "d.jsonl", jsonl_lines(digits))
    rows = read_rows(spark, str(path))

    labels_by_id = {row[0]: row[1] for row in evaluate(rows)}

    assert rows.getNumPartitions() > 1
    assert labels_by_id == {i: digits.label(i) for i in range(40)}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"label": 1, "data": ', r"not valid JSON \(Expecting value\)"),
        ("[1, 2]", r"expected a JSON object, found an array"),
        ('{"label": 1}', r"missing key 'data'"),
        ('{"label": 1, "pixels": "AAAA"}', r"missing key 'data'"),
        ('{"label": 1, "data": [0, 0]}', r"'data' is an array, expected a base64 string"),
        ('{"label": 1, "data": "AA$A"}', r"'data' is not valid base64"),
        ('{"label": 1, "data": "é"}', r"'data' is not valid base64"),
        # A stray character that a lenient decoder would silently skip.
        ('{"data": "' + GOOD_DATA[:8] + "!" + GOOD_DATA[8:] + '"}', r"'data' is not valid"),
        (
            '{"label": 1, "data": "' + base64.b64encode(bytes(783)).decode() + '"}',
            r"base64 'data' decodes to 783 bytes, expected 784",
        ),
        (
            '{"label": 1, "data": "' + base64.b64encode(bytes(785)).decode() + '"}',
            r"base64 'data' decodes to 785 bytes, expected 784",
        ),
        (labelled('"7"'), r'label "7" is a string, expected an integer'),
        (labelled("7.0"), r"label 7\.0 is a float, expected an integer"),
        (labelled("NaN"), r"label nan is a float"),
        (labelled("true"), r"label true is a boolean"),
        (labelled("[7]"), r"label \[7\] is a list"),
        (labelled("-1"), r"label -1 outside 0\.\.9"),
        (labelled("10"), r"label 10 outside 0\.\.9"),
    ],
)
def test_malformed_line_names_file_line_and_reason(line, reason):
    # The function each Spark task runs, called directly: one Spark job per case
    # would cost seconds; the end-to-end path is covered by the tests below.
    lines = [(5, labelled("null")), (6, line)]

    with pytest.raises(InputError, match=rf"^/data/digits\.json: line 7: {reason}"):
        list(digits_of_lines(lines, source="/data/digits.json"))


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (labelled('"7"'), r'label "7" is a string'),
        ('{"label": 1, "data": "AAAA"}', r"base64 'data' decodes to 3 bytes, expected 784"),
    ],
)
def test_malformed_line_through_spark(spark, tmp_path, line, reason):
    lines = jsonl_lines(make_digits(8, seed=18))
    lines[6] = line
    path = write_text(tmp_path / "digits.json", lines)

    with pytest.raises(InputError, match=rf"^{tmp_path}/digits\.json: line 7: {reason}"):
        evaluate(read_rows(spark, str(path)))


def test_parser_accepts_every_valid_label_and_pixel_byte():
    pixels = np.arange(784, dtype=np.int64) % 256
    data = base64.b64encode(pixels.astype(np.uint8).tobytes()).decode()

    for label in range(10):
        parsed_label, parsed_pixels = digit_from_json(json.dumps({"data": data, "label": label}))
        assert parsed_label == label
        np.testing.assert_array_equal(np.frombuffer(parsed_pixels, dtype=np.uint8), pixels)
    with pytest.raises(BadRecord, match="outside"):
        digit_from_json(json.dumps({"data": data, "label": 10}))


def test_empty_file_is_refused_at_once(spark, tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"")

    with pytest.raises(InputError, match=r"d\.jsonl: no digits in the input"):
        read_rows(spark, str(path))


def test_empty_gzip_yields_no_rows(spark, tmp_path):
    # Not detectable from the size; read_digits(validate=True) reports it (see dataset tests).
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(gzip.compress(b""))

    assert evaluate(read_rows(spark, str(path))) == []
