"""Every row of the table in docs/bad-input.md, run through the train job.

Each case damages a small, otherwise valid input in one way, runs
``kmeans_spark.jobs.train.main`` in-process and checks what the table promises:
exit code 2, one ``error: <file>: [<line|record> <n>: ]<reason>`` line on
stderr, and no output folder (nor a staging folder left behind).

The table's last column says what ``--on-bad-records skip`` does with each case:
``skipped`` (a fault of one record: the readers give every other digit, ids
unchanged, and one reject with the same file, record and reason) or ``fails``
(a fault of the whole file: the same InputError as without skip). That is
checked at the reader level, which is what the policy changes; the job's side of
skipping is tested in ``tests/test_bad_records_skip.py``.

The table and :data:`CASES` are kept in one-to-one correspondence by
:func:`test_the_doc_table_lists_exactly_these_cases`: a case id in either but not
the other fails it.
"""

from __future__ import annotations

import base64
import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import SparkSession
from readers_support import (
    CSV_HEADER,
    Digits,
    csv_lines,
    idx_bytes,
    jsonl_lines,
    make_digits,
    part_files,
    write_idx,
    write_text,
)

from kmeans_spark.errors import EXIT_BAD_INPUT, InputError, raise_input_errors
from kmeans_spark.idx_format import encode_idx
from kmeans_spark.jobs.train import main
from kmeans_spark.readers import Reject, read_dataset
from kmeans_spark.schema import IMAGE_SIDE, N_PIXELS

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad-input.md"
N_DIGITS = 24
BAD_LINE = 3
"""1-based line (JSONL, CSV) damaged by the per-line cases."""
BAD_RECORD = 4
"""0-based record (IDX labels, Parquet) damaged by the per-record cases."""


@dataclass(frozen=True)
class Built:
    """A damaged input: the path given to ``--input``, and the file the message must name."""

    input: Path
    named: Path


Builder = Callable[[Path, SparkSession, Digits], Built]


@dataclass(frozen=True)
class BadInput:
    """One row of the table: how to damage the input and what the message says.

    ``where`` is ``"line 3"``, ``"record 4"`` or ``""`` for a file-level problem.
    """

    case_id: str
    build: Builder
    where: str
    reason: str


# --- builders ----------------------------------------------------------------


def _jsonl_with(line: str | None, *, gz: bool = False) -> Builder:
    """JSON lines with line BAD_LINE replaced by ``line`` (removed and left blank when None)."""

    def build(tmp: Path, spark: SparkSession, digits: Digits) -> Built:
        lines = jsonl_lines(digits)
        lines[BAD_LINE - 1] = "" if line is None else line
        path = write_text(tmp / ("train.jsonl.gz" if gz else "train.jsonl"), lines)
        return Built(path, path)

    return build


def _labelled_json(label_json: str) -> str:
    data = base64.b64encode(bytes(range(256)) * 3 + bytes(16)).decode("ascii")
    return f'{{"label": {label_json}, "data": "{data}"}}'


def _csv_with(line: str, *, header: str | None = None) -> Builder:
    def build(tmp: Path, spark: SparkSession, digits: Digits) -> Built:
        lines = csv_lines(digits)
        lines[BAD_LINE - 1] = line
        path = write_text(tmp / "train.csv", lines if header is None else [header, *lines])
        return Built(path, path)

    return build


def _csv_line(label: str = "7", pixels: list[str] | None = None) -> str:
    return ",".join([label, *(pixels if pixels is not None else ["0"] * N_PIXELS)])


def _csv_pixel(position: int, text: str) -> str:
    pixels = ["0"] * N_PIXELS
    pixels[position] = text
    return _csv_line(pixels=pixels)


def _idx_files(
    images: bytes | None = None,
    labels: bytes | None = None,
    *,
    directory: bool = False,
    labels_named: bool = False,
) -> Builder:
    """An IDX pair whose images or labels file is replaced by the given bytes (gzipped names).

    The message names the images file (counts that disagree are its problem)
    unless ``labels_named``: a bad label is a record of the labels file.
    """

    def build(tmp: Path, spark: SparkSession, digits: Digits) -> Built:
        folder = tmp / "mnist"
        folder.mkdir()
        images_path = write_idx(folder, digits)
        labels_path = folder / "train-labels-idx1-ubyte.gz"
        if images is not None:
            images_path.write_bytes(images)
        if labels is not None:
            labels_path.write_bytes(labels)
        if directory:
            write_idx(folder, digits, prefix="t10k")
            return Built(folder, images_path)
        return Built(images_path, labels_path if labels_named else images_path)

    return build


def _image_array(n: int, rows: int = IMAGE_SIDE, cols: int = IMAGE_SIDE) -> np.ndarray:
    return np.zeros((n, rows, cols), dtype=np.uint8)


def _truncated_gzip_images() -> bytes:
    whole = idx_bytes(_image_array(N_DIGITS), gz=True)
    return whole[: len(whole) // 2]


def _labels(values: list[int]) -> bytes:
    return idx_bytes(np.array(values, dtype=np.uint8), gz=True)


def _labels_with_ten() -> bytes:
    values = [1] * N_DIGITS
    values[BAD_RECORD] = 10
    return _labels(values)


def _mnist_dir_missing_test_labels(tmp: Path, spark: SparkSession, digits: Digits) -> Built:
    folder = tmp / "mnist"
    folder.mkdir()
    write_idx(folder, digits)
    write_idx(folder, digits, prefix="t10k")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    return Built(folder, folder)


def _labels_file_as_input(tmp: Path, spark: SparkSession, digits: Digits) -> Built:
    write_idx(tmp, digits)
    labels = tmp / "train-labels-idx1-ubyte.gz"
    return Built(labels, labels)


def _parquet_short_pixels(tmp: Path, spark: SparkSession, digits: Digits) -> Built:
    """Record BAD_RECORD has 783 pixel bytes: written as a binary column by hand."""
    rows = [(digits.label(i), digits.images[i].tobytes()) for i in range(len(digits))]
    rows[BAD_RECORD] = (rows[BAD_RECORD][0], rows[BAD_RECORD][1][:-1])
    folder = tmp / "train.parquet"
    frame = spark.createDataFrame(rows, "label long, pixels binary").coalesce(1)
    frame.write.parquet(str(folder))
    (part,) = part_files(folder)
    return Built(folder, part)


def _parquet_array_pixel_256(tmp: Path, spark: SparkSession, digits: Digits) -> Built:
    rows = [(digits.label(i), digits.images[i].tolist()) for i in range(len(digits))]
    rows[BAD_RECORD][1][5] = 256
    folder = tmp / "train.parquet"
    frame = spark.createDataFrame(rows, "label long, pixels array<int>").coalesce(1)
    frame.write.parquet(str(folder))
    (part,) = part_files(folder)
    return Built(folder, part)


def _parquet_without_pixels(tmp: Path, spark: SparkSession, digits: Digits) -> Built:
    folder = tmp / "train.parquet"
    spark.createDataFrame([(1, b"x")], "label long, image binary").write.parquet(str(folder))
    return Built(folder, folder)


def _not_parquet(tmp: Path, spark: SparkSession, digits: Digits) -> Built:
    path = tmp / "train.parquet"
    path.write_text("label,pixels\n1,2\n")
    return Built(path, path)


def _empty_file(tmp: Path, spark: SparkSession, digits: Digits) -> Built:
    path = tmp / "train.jsonl"
    path.write_bytes(b"")
    return Built(path, path)


def _missing_path(tmp: Path, spark: SparkSession, digits: Digits) -> Built:
    path = tmp / "no-such-file.jsonl"
    return Built(path, path)


def _unknown_format(tmp: Path, spark: SparkSession, digits: Digits) -> Built:
    path = write_text(tmp / "train.txt", jsonl_lines(digits))
    return Built(path, path)


def _unreadable_file(tmp: Path, spark: SparkSession, digits: Digits) -> Built:
    # As root, chmod 000 does not stop open(); Hadoop's access check still
    # applies the permission bits, which is what the reader relies on.
    path = write_text(tmp / "train.jsonl", jsonl_lines(digits))
    path.chmod(0)
    return Built(path, path)


def _truncated_gzip_text(name: str, make_lines: Callable[[Digits], list[str]]) -> Builder:
    """A gzip text file cut in half: the first lines decompress, then the stream ends."""

    def build(tmp: Path, spark: SparkSession, digits: Digits) -> Built:
        whole = gzip.compress("\n".join(make_lines(digits)).encode(), mtime=0)
        path = tmp / name
        path.write_bytes(whole[: len(whole) // 2])
        return Built(path, path)

    return build


def _parquet_label_double(tmp: Path, spark: SparkSession, digits: Digits) -> Built:
    rows = [(float(digits.labels[i]), digits.images[i].tobytes()) for i in range(len(digits))]
    folder = tmp / "train.parquet"
    spark.createDataFrame(rows, "label double, pixels binary").write.parquet(str(folder))
    return Built(folder, folder)


_PADDED_784 = base64.b64encode(bytes(N_PIXELS)).decode("ascii")  # 784 = 3 * 261 + 1: ends "=="
_NO_PADDING_783 = base64.b64encode(bytes(N_PIXELS - 1)).decode("ascii")  # 783 = 3 * 261

# --- the table -----------------------------------------------------------------

CASES = [
    # IDX
    BadInput(
        "idx-truncated-gzip",
        _idx_files(images=_truncated_gzip_images()),
        "",
        "corrupt or truncated gzip data",
    ),
    BadInput(
        "idx-wrong-magic",
        _idx_files(images=_labels([1] * N_DIGITS)),
        "",
        "wrong IDX magic number 0x00000801 (expected 0x00000803 for MNIST images)",
    ),
    BadInput(
        "idx-short-header",
        _idx_files(images=gzip.compress(b"\x00\x00\x08", mtime=0)),
        "",
        "file too short for an IDX header (3 bytes)",
    ),
    BadInput(
        "idx-not-28x28",
        _idx_files(images=idx_bytes(_image_array(N_DIGITS, 27, 29), gz=True)),
        "",
        "images are 27x29, expected 28x28",
    ),
    BadInput(
        "idx-fewer-images-than-header",
        _idx_files(
            images=gzip.compress(encode_idx(_image_array(N_DIGITS + 1))[:-N_PIXELS], mtime=0)
        ),
        "",
        f"truncated file: header announces {N_DIGITS + 1} records",
    ),
    BadInput(
        "idx-trailing-data",
        _idx_files(images=gzip.compress(encode_idx(_image_array(N_DIGITS)) + b"\x00" * 7, mtime=0)),
        "",
        f"7 bytes of trailing data after the {N_DIGITS} records",
    ),
    BadInput(
        "idx-too-few-labels",
        _idx_files(labels=_labels([1] * (N_DIGITS - 1))),
        "",
        f"image and label counts differ ({N_DIGITS} images, {N_DIGITS - 1} labels",
    ),
    BadInput(
        "idx-too-many-labels",
        _idx_files(labels=_labels([1] * (N_DIGITS + 1))),
        "",
        f"image and label counts differ ({N_DIGITS} images, {N_DIGITS + 1} labels",
    ),
    BadInput(
        "idx-label-10",
        _idx_files(labels=_labels_with_ten(), labels_named=True),
        f"record {BAD_RECORD}",
        "label 10 outside 0..9",
    ),
    BadInput(
        "idx-labels-file-as-input",
        _labels_file_as_input,
        "",
        "is an IDX labels file; pass the images file",
    ),
    BadInput(
        "mnist-dir-missing-file",
        _mnist_dir_missing_test_labels,
        "",
        "incomplete MNIST directory: missing t10k-labels-idx1-ubyte[.gz]",
    ),
    # JSON lines
    BadInput(
        "jsonl-not-json",
        _jsonl_with('{"label": 3, "data": '),
        f"line {BAD_LINE}",
        "not valid JSON (Expecting value)",
    ),
    BadInput(
        "jsonl-not-an-object",
        _jsonl_with("[3, 1, 4]"),
        f"line {BAD_LINE}",
        "expected a JSON object, found an array",
    ),
    BadInput(
        "jsonl-missing-data",
        _jsonl_with('{"label": 3}'),
        f"line {BAD_LINE}",
        "missing key 'data'",
    ),
    BadInput(
        "jsonl-base64-bad-padding",
        _jsonl_with(f'{{"label": 3, "data": "{_PADDED_784.rstrip("=")}"}}'),
        f"line {BAD_LINE}",
        "'data' is not valid base64 (Incorrect padding)",
    ),
    BadInput(
        "jsonl-783-pixels",
        _jsonl_with(f'{{"label": 3, "data": "{_NO_PADDING_783}"}}'),
        f"line {BAD_LINE}",
        "base64 'data' decodes to 783 bytes, expected 784",
    ),
    BadInput(
        "jsonl-label-10",
        _jsonl_with(_labelled_json("10")),
        f"line {BAD_LINE}",
        "label 10 outside 0..9",
    ),
    BadInput(
        "jsonl-label-minus-1",
        _jsonl_with(_labelled_json("-1")),
        f"line {BAD_LINE}",
        "label -1 outside 0..9",
    ),
    BadInput(
        "jsonl-label-string",
        _jsonl_with(_labelled_json('"7"')),
        f"line {BAD_LINE}",
        'label "7" is a string, expected an integer 0..9 or null',
    ),
    BadInput(
        "jsonl-label-nan",
        _jsonl_with(_labelled_json("NaN")),
        f"line {BAD_LINE}",
        "label nan is a float",
    ),
    BadInput(
        "jsonl-blank-line",
        _jsonl_with(None),
        f"line {BAD_LINE}",
        "blank line (only the last line of the file may be blank)",
    ),
    BadInput("jsonl-empty-file", _empty_file, "", "no digits in the input"),
    BadInput(
        "jsonl-truncated-gzip",
        _truncated_gzip_text("train.jsonl.gz", jsonl_lines),
        "",
        "corrupt or truncated gzip data",
    ),
    # CSV
    BadInput(
        "csv-pixel-256",
        _csv_with(_csv_pixel(10, "256")),
        f"line {BAD_LINE}",
        "pixel 256 outside 0..255 (column 12)",
    ),
    BadInput(
        "csv-pixel-nan",
        _csv_with(_csv_pixel(0, "nan")),
        f"line {BAD_LINE}",
        "pixel 'nan' is not an integer (column 2)",
    ),
    BadInput(
        "csv-label-float",
        _csv_with(_csv_line(label="7.0")),
        f"line {BAD_LINE}",
        "label '7.0' is not an integer",
    ),
    BadInput(
        "csv-too-few-fields",
        _csv_with(_csv_line(pixels=["0"] * (N_PIXELS - 1))),
        f"line {BAD_LINE}",
        "expected 785 fields (label and 784 pixels), found 784",
    ),
    BadInput(
        "csv-header-wrong-columns",
        _csv_with(_csv_line(), header=CSV_HEADER.rsplit(",", 1)[0]),
        "",
        "header has 784 columns, expected 785",
    ),
    BadInput(
        "csv-truncated-gzip",
        _truncated_gzip_text("train.csv.gz", csv_lines),
        "",
        "corrupt or truncated gzip data",
    ),
    # Parquet
    BadInput(
        "parquet-label-double",
        _parquet_label_double,
        "",
        "column 'label' is double, expected an integer type",
    ),
    BadInput(
        "parquet-783-pixel-bytes",
        _parquet_short_pixels,
        f"record {BAD_RECORD}",
        "'pixels' holds 783 bytes, expected 784",
    ),
    BadInput(
        "parquet-pixel-256",
        _parquet_array_pixel_256,
        f"record {BAD_RECORD}",
        "pixel 256 outside 0..255 (index 5)",
    ),
    BadInput(
        "parquet-no-pixels-column",
        _parquet_without_pixels,
        "",
        "no column 'pixels' (columns: label, image)",
    ),
    BadInput("parquet-not-parquet", _not_parquet, "", "cannot read as Parquet"),
    # Any format
    BadInput("missing-path", _missing_path, "", "no such file or directory"),
    BadInput("unknown-format", _unknown_format, "", "cannot tell the format from the file name"),
    BadInput("unreadable-file", _unreadable_file, "", "not readable"),
]
CASE_IDS = [case.case_id for case in CASES]


def test_the_doc_table_lists_exactly_these_cases() -> None:
    documented = re.findall(r"^\| `([a-z0-9-]+)` \|", DOC.read_text(), flags=re.MULTILINE)
    assert sorted(documented) == sorted(CASE_IDS)
    assert len(set(CASE_IDS)) == len(CASE_IDS) >= 20


def test_the_doc_table_says_which_cases_skip_mode_skips() -> None:
    """A record's fault (the case names a line or record) is skipped; a file's fails."""
    rows = re.findall(
        r"^\| `([a-z0-9-]+)` \|.*\| (skipped|fails) \|$", DOC.read_text(), flags=re.MULTILINE
    )
    assert dict(rows) == {case.case_id: "skipped" if case.where else "fails" for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_bad_input_exits_2_names_file_and_record_writes_nothing(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: BadInput
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    built = case.build(inputs, spark, make_digits(N_DIGITS, seed=3))
    out = tmp_path / "model"
    capsys.readouterr()
    try:
        code = main(
            ["--input", str(built.input), "--k", "3", "--partitions", "1", "--output", str(out)]
        )
    finally:
        # Give back the permissions the unreadable case took, so tmp_path can be removed.
        if built.input.exists():
            built.input.chmod(built.input.stat().st_mode | 0o600)
    err = capsys.readouterr().err
    where = f"{case.where}: " if case.where else ""
    expected = f"error: {built.named}: {where}{case.reason}"
    assert code == EXIT_BAD_INPUT, err
    assert expected in err, err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def _read_skipping(spark: SparkSession, path: Path) -> tuple[list[int], list[Reject]] | InputError:
    """Ids of the good training rows and the rejects under the skip policy, or the InputError."""
    try:
        dataset = read_dataset(spark, str(path), bad_records="skip")
        assert dataset.train_rejects is not None
        with raise_input_errors():
            ids = dataset.train.map(lambda row: row[0]).collect()
            rejects = dataset.train_rejects.collect()
    except InputError as exc:
        return exc
    return sorted(ids), rejects


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_skip_policy_skips_record_faults_and_still_fails_on_file_faults(
    spark: SparkSession, tmp_path: Path, case: BadInput
) -> None:
    built = case.build(tmp_path, spark, make_digits(N_DIGITS, seed=3))
    try:
        outcome = _read_skipping(spark, built.input)
    finally:
        if built.input.exists():
            built.input.chmod(built.input.stat().st_mode | 0o600)
    if not case.where:
        assert isinstance(outcome, InputError), outcome
        assert f"{built.named}: {case.reason}" in str(outcome)
        return
    assert not isinstance(outcome, InputError), outcome
    ids, rejects = outcome
    (reject,) = rejects
    assert (reject.source, reject.record) == (str(built.named), case.where)
    assert reject.reason.startswith(case.reason), reject.reason
    word, number = case.where.split()
    bad_id = int(number) - 1 if word == "line" else int(number)
    assert ids == [i for i in range(N_DIGITS) if i != bad_id]
