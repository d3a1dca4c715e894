"""``--on-bad-records skip`` and ``--max-bad-fraction``, through the train and sweep jobs.

Each format gets an input of a few dozen digits with a few bad records. The job
must exit 0, write every reject (file, record, reason, raw line) to ``rejects/``,
count them in ``metrics.json``, and train exactly the model that the good
digits, with their own ids, give when trained in-process (bit-identical
centroids and the same data fingerprint, which hashes ids, labels and pixels:
a shifted id or a bad record let through changes it). Too many rejects, a
file-level fault, or nothing left must still fail with exit 2 and leave
nothing behind. The per-case behaviour of the bad-input table is checked at the
reader level in ``tests/test_bad_input.py``.
"""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pyspark.sql import SparkSession
from readers_support import (
    CSV_HEADER,
    Digits,
    csv_lines,
    jsonl_lines,
    make_digits,
    write_idx,
    write_text,
)

from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_OK
from kmeans_spark.experiment import ExperimentResult, TrainParams, run_experiment
from kmeans_spark.idx_format import encode_idx
from kmeans_spark.jobs.sweep import main as sweep_main
from kmeans_spark.jobs.train import main as train_main
from kmeans_spark.readers import Reject
from kmeans_spark.readers.lines import BLANK_LINE_REASON
from kmeans_spark.rejects import REJECTS_FOLDER, reject_json_line
from kmeans_spark.schema import N_PIXELS

N_DIGITS = 30
K = 3
SKIP = ["--on-bad-records", "skip"]


# --- helpers -------------------------------------------------------------------


def train(tmp_path: Path, *argv: str) -> tuple[int, Path]:
    """Run the train job (k=3, one partition) into ``tmp_path/model``."""
    out = tmp_path / "model"
    args = ["--k", str(K), "--partitions", "1", "--output", str(out), *argv]
    return train_main(args), out


def read_rejects(folder: Path) -> list[dict[str, Any]]:
    """Every line of ``folder/rejects/part-*``, parsed, in (set, source, line order)."""
    parts = sorted((folder / REJECTS_FOLDER).glob("part-*"))
    assert parts, f"no part files in {folder / REJECTS_FOLDER}"
    records = [json.loads(line) for part in parts for line in part.read_text().splitlines()]
    return sorted(records, key=lambda r: (r["set"], r["source"], int(r["record"].split()[1])))


def reference(
    spark: SparkSession,
    digits: Digits,
    bad_ids: set[int],
    test: tuple[Digits, set[int]] | None = None,
) -> ExperimentResult:
    """The model of the good digits, ids kept, trained in-process with the job's defaults."""
    sc = spark.sparkContext
    good = [row for row in digits.rows() if row[0] not in bad_ids]
    test_rows = None
    if test is not None:
        test_digits, test_bad = test
        test_rows = sc.parallelize([r for r in test_digits.rows() if r[0] not in test_bad], 1)
    return run_experiment(sc.parallelize(good, 1), test_rows, TrainParams(k=K, partitions=1))


def assert_same_model(out: Path, expected: ExperimentResult) -> None:
    """Bit-identical centroids, and the same data (fingerprint and sizes) as ``expected``."""
    centroids = np.load(out / "centroids.npy")
    assert centroids.tobytes() == expected.model.centroids.tobytes()
    model = json.loads((out / "model.json").read_text())
    assert model["input"]["fingerprint"] == expected.data.fingerprint
    assert model["input"]["test_fingerprint"] == expected.data.test_fingerprint
    assert model["input"]["train_size"] == expected.data.train_size
    assert model["input"]["validation_size"] == expected.data.validation_size
    assert model["input"]["test_size"] == expected.data.test_size


def bad_records_of(out: Path) -> dict[str, Any]:
    return json.loads((out / "metrics.json").read_text())["bad_records"]


def counts(read: int, rejected: int, by_source: dict[str, int]) -> dict[str, Any]:
    return {"read": read, "rejected": rejected, "fraction": rejected / read, "by_source": by_source}


def only_input_left(tmp_path: Path) -> list[str]:
    """What is in ``tmp_path`` besides the input folder: no output, staging or checkpoint."""
    return sorted(p.name for p in tmp_path.iterdir() if p.name != "in")


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    return folder


def _labelled_json(label: int) -> str:
    data = base64.b64encode(bytes(N_PIXELS)).decode("ascii")
    return f'{{"label": {label}, "data": "{data}"}}'


BAD_JSON_LINES = {3: '{"label": 3, "data": ', 10: "", 17: _labelled_json(10)}
"""1-based line -> its damaged text: not JSON, a misplaced blank line, a label of 10."""
BAD_JSON_REASONS = {
    3: "not valid JSON (Expecting value)",
    10: BLANK_LINE_REASON,
    17: "label 10 outside 0..9",
}


def damaged_jsonl(folder: Path, digits: Digits) -> Path:
    lines = jsonl_lines(digits)
    for line, text in BAD_JSON_LINES.items():
        lines[line - 1] = text
    return write_text(folder / "train.jsonl", lines)


# --- one input of every format ------------------------------------------------------


def test_jsonl_skip_writes_rejects_counts_them_and_trains_on_the_good_lines(
    spark: SparkSession, tmp_path: Path, inputs: Path
) -> None:
    digits = make_digits(N_DIGITS, seed=3)
    path = damaged_jsonl(inputs, digits)
    code, out = train(tmp_path, "--input", str(path), *SKIP, "--max-bad-fraction", "0.1")
    assert code == EXIT_OK
    rejects = read_rejects(out)
    assert [r["record"] for r in rejects] == ["line 3", "line 10", "line 17"]
    for record, (line, text) in zip(rejects, BAD_JSON_LINES.items(), strict=True):
        assert record == {
            "set": "train",
            "source": str(path),
            "record": f"line {line}",
            "reason": BAD_JSON_REASONS[line],
            "raw": text,
        }
    assert bad_records_of(out) == {
        "policy": "skip",
        "max_bad_fraction": 0.1,
        "train": counts(N_DIGITS, 3, {str(path): 3}),
        "test": None,
    }
    assert_same_model(out, reference(spark, digits, {line - 1 for line in BAD_JSON_LINES}))


def test_csv_gz_with_header_skip_numbers_lines_with_the_header(
    spark: SparkSession, tmp_path: Path, inputs: Path
) -> None:
    digits = make_digits(N_DIGITS, seed=4, unlabelled_every=7)
    lines = [CSV_HEADER, *csv_lines(digits)]
    # File lines 5 and 12 (digits 3 and 10): a pixel of 256, then a blank line.
    lines[4] = lines[4].rsplit(",", 1)[0] + ",256"
    lines[11] = "   "
    bad_raw = {5: lines[4], 12: "   "}
    path = write_text(inputs / "train.csv.gz", lines)
    code, out = train(tmp_path, "--input", str(path), *SKIP, "--max-bad-fraction", "0.1")
    assert code == EXIT_OK
    rejects = read_rejects(out)
    assert [(r["record"], r["reason"], r["raw"]) for r in rejects] == [
        ("line 5", f"pixel 256 outside 0..255 (column {N_PIXELS + 1})", bad_raw[5]),
        ("line 12", BLANK_LINE_REASON, bad_raw[12]),
    ]
    assert {r["source"] for r in rejects} == {str(path)}
    assert bad_records_of(out)["train"] == counts(N_DIGITS, 2, {str(path): 2})
    assert_same_model(out, reference(spark, digits, {3, 10}))


def test_parquet_skip_names_the_part_file_and_keeps_positions(
    spark: SparkSession, tmp_path: Path, inputs: Path
) -> None:
    digits = make_digits(N_DIGITS, seed=5)
    records: list[tuple[int | None, bytes | None]] = [
        (digits.label(i), digits.images[i].tobytes()) for i in range(N_DIGITS)
    ]
    records[4] = (records[4][0], bytes(N_PIXELS - 1))  # part 0, record 4
    records[14] = (records[14][0], None)  # part 1, record 2
    folder = inputs / "train.parquet"
    sc = spark.sparkContext
    parts = sc.union([sc.parallelize(records[:12], 1), sc.parallelize(records[12:], 1)])
    spark.createDataFrame(parts, "label long, pixels binary").write.parquet(str(folder))
    part_names = sorted(p.name for p in folder.glob("part-*.parquet"))
    code, out = train(tmp_path, "--input", str(folder), *SKIP, "--max-bad-fraction", "0.1")
    assert code == EXIT_OK
    rejects = read_rejects(out)
    assert [(Path(r["source"]).name, r["record"], r["reason"], r["raw"]) for r in rejects] == [
        (part_names[0], "record 4", f"'pixels' holds {N_PIXELS - 1} bytes, expected 784", None),
        (part_names[1], "record 2", "'pixels' is null", None),
    ]
    by_source = {str(folder / name): 1 for name in part_names}
    assert bad_records_of(out)["train"] == counts(N_DIGITS, 2, by_source)
    assert_same_model(out, reference(spark, digits, {4, 14}))


def _labels_with(digits: Digits, bad: dict[int, int]) -> bytes:
    labels = digits.labels.astype(np.uint8)
    for index, value in bad.items():
        labels[index] = value
    return gzip.compress(encode_idx(labels), mtime=0)


def test_mnist_folder_skip_counts_training_and_test_rejects_apart(
    spark: SparkSession, tmp_path: Path, inputs: Path
) -> None:
    digits, test_digits = make_digits(N_DIGITS, seed=6), make_digits(12, seed=7)
    folder = inputs / "mnist"
    folder.mkdir()
    write_idx(folder, digits)
    write_idx(folder, test_digits, prefix="t10k")
    train_labels = folder / "train-labels-idx1-ubyte.gz"
    test_labels = folder / "t10k-labels-idx1-ubyte.gz"
    train_labels.write_bytes(_labels_with(digits, {4: 10, 7: 255}))
    test_labels.write_bytes(_labels_with(test_digits, {1: 10}))
    code, out = train(tmp_path, "--input", str(folder), *SKIP, "--max-bad-fraction", "0.1")
    assert code == EXIT_OK
    rejects = read_rejects(out)
    assert [(r["set"], r["source"], r["record"], r["reason"], r["raw"]) for r in rejects] == [
        ("test", str(test_labels), "record 1", "label 10 outside 0..9", None),
        ("train", str(train_labels), "record 4", "label 10 outside 0..9", None),
        ("train", str(train_labels), "record 7", "label 255 outside 0..9", None),
    ]
    bad = bad_records_of(out)
    assert bad["train"] == counts(N_DIGITS, 2, {str(train_labels): 2})
    assert bad["test"] == counts(12, 1, {str(test_labels): 1})
    expected = reference(spark, digits, {4, 7}, test=(test_digits, {1}))
    assert_same_model(out, expected)
    assert json.loads((out / "metrics.json").read_text())["test"]["size"] == 11


# --- what skip mode still refuses ---------------------------------------------------


def test_too_many_rejects_fail_before_training_and_leave_nothing(
    spark: SparkSession, tmp_path: Path, inputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """3 of 30 rejected is 0.1, above 0.05 given in --config (the command line has none).

    No checkpoint is left: one is written after every pass, so none ran.
    """
    path = damaged_jsonl(inputs, make_digits(N_DIGITS, seed=3))
    config = inputs / "train.toml"
    config.write_text('on_bad_records = "skip"\nmax_bad_fraction = 0.05\n')
    capsys.readouterr()
    code, _ = train(tmp_path, "--config", str(config), "--input", str(path))
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT, err
    assert (
        f"error: too many bad records: 3 of {N_DIGITS} training records rejected "
        "(fraction 0.1 > --max-bad-fraction 0.05); "
        f"first: {path}: line 3: {BAD_JSON_REASONS[3]}\n"
    ) in err
    assert only_input_left(tmp_path) == []


def test_a_file_level_fault_still_fails_in_skip_mode(
    spark: SparkSession, tmp_path: Path, inputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = gzip.compress("\n".join(jsonl_lines(make_digits(N_DIGITS))).encode(), mtime=0)
    path = inputs / "train.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    capsys.readouterr()
    code, _ = train(tmp_path, "--input", str(path), *SKIP, "--max-bad-fraction", "1")
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT, err
    assert f"error: {path}: corrupt or truncated gzip data" in err
    assert only_input_left(tmp_path) == []


def test_nothing_left_after_skipping_fails_and_says_why(
    spark: SparkSession, tmp_path: Path, inputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_text(inputs / "train.jsonl", ['{"label": 1}', "[]"])
    capsys.readouterr()
    code, _ = train(tmp_path, "--input", str(path), *SKIP, "--max-bad-fraction", "1")
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT, err
    assert (
        "error: no digits in the input once bad records are skipped (2 training and 0 test "
        f"records rejected); first: {path}: line 1: missing key 'data'"
    ) in err
    assert only_input_left(tmp_path) == []


@pytest.mark.parametrize(
    ("argv", "config", "message"),
    [
        (["--max-bad-fraction", "1.5"], None, "--max-bad-fraction must be in [0, 1], got '1.5'"),
        (["--max-bad-fraction", "nan"], None, "--max-bad-fraction must be in [0, 1], got 'nan'"),
        (["--max-bad-fraction", "lots"], None, "must be a number in [0, 1], got 'lots'"),
        ([], "max_bad_fraction = -0.1", "max_bad_fraction: --max-bad-fraction must be in [0, 1]"),
        ([], "max_bad_fraction = true", "must be a number in [0, 1], got True"),
        ([], 'on_bad_records = "ignore"', "'ignore' is not one of fail, skip"),
        (["--on-bad-records", "ignore"], None, "invalid choice: 'ignore'"),
    ],
)
def test_invalid_policy_options_exit_2(
    tmp_path: Path,
    inputs: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    config: str | None,
    message: str,
) -> None:
    if config is not None:
        (inputs / "train.toml").write_text(config + "\n")
        argv = [*argv, "--config", str(inputs / "train.toml")]
    capsys.readouterr()
    code, _ = train(tmp_path, "--input", str(inputs / "absent.jsonl"), *argv)
    assert code == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err
    assert only_input_left(tmp_path) == []


# --- fail mode's record, and the sweep --------------------------------------------


def test_fail_mode_records_no_rejects_and_writes_no_rejects_folder(
    spark: SparkSession, tmp_path: Path, inputs: Path
) -> None:
    path = write_text(inputs / "train.jsonl", jsonl_lines(make_digits(N_DIGITS, seed=8)))
    code, out = train(tmp_path, "--input", str(path))
    assert code == EXIT_OK
    assert not (out / REJECTS_FOLDER).exists()
    assert bad_records_of(out) == {
        "policy": "fail",
        "max_bad_fraction": 0.01,
        "train": counts(N_DIGITS, 0, {}),
        "test": None,
    }


def test_sweep_skip_writes_rejects_once_and_counts_them_everywhere(
    spark: SparkSession, tmp_path: Path, inputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digits = make_digits(N_DIGITS, seed=3)
    path = damaged_jsonl(inputs, digits)
    test = write_text(inputs / "test.jsonl", [*jsonl_lines(make_digits(10, seed=9)), "[1]"])
    out = tmp_path / "sweep"
    argv = ["--input", str(path), "--test", str(test), "--k", "2-3", "--partitions", "1"]
    argv += ["--output", str(out), *SKIP, "--max-bad-fraction", "0.1", "--log-format", "json"]
    capsys.readouterr()
    assert sweep_main(argv) == EXIT_OK
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    expected = {
        "policy": "skip",
        "max_bad_fraction": 0.1,
        "train": counts(N_DIGITS, 3, {str(path): 3}),
        "test": counts(11, 1, {str(test): 1}),
    }
    assert result["bad_records"] == expected
    assert json.loads((out / "sweep.json").read_text())["bad_records"] == expected
    for k in (2, 3):
        assert bad_records_of(out / f"k{k}") == expected
        assert not (out / f"k{k}" / REJECTS_FOLDER).exists()
    rejects = read_rejects(out)
    assert [(r["set"], r["record"]) for r in rejects] == [
        ("test", "line 11"),
        ("train", "line 3"),
        ("train", "line 10"),
        ("train", "line 17"),
    ]


def test_a_reject_line_is_one_json_object_with_the_documented_keys() -> None:
    reject = Reject("/d/x.csv", "line", 3, "label 'é' is not an integer", "é,0\n")
    record = json.loads(reject_json_line(("train", reject)))
    assert record == {
        "set": "train",
        "source": "/d/x.csv",
        "record": "line 3",
        "reason": "label 'é' is not an integer",
        "raw": "é,0\n",
    }
    assert "\n" not in reject_json_line(("train", reject))
    assert reject.message == "/d/x.csv: line 3: label 'é' is not an integer"


def test_the_report_of_a_skip_model_is_rebuilt_without_its_bad_records(
    spark: SparkSession, tmp_path: Path, inputs: Path
) -> None:
    from kmeans_spark.jobs.report import main as report_main

    digits = make_digits(N_DIGITS, seed=3)
    path = damaged_jsonl(inputs, digits)
    code, out = train(tmp_path, "--input", str(path), *SKIP, "--max-bad-fraction", "0.1")
    assert code == EXIT_OK
    (out / "report.html").unlink()
    # The same digits as in training: the fingerprint check passes, the page is drawn.
    assert report_main(["--model", str(out)]) == EXIT_OK
    assert (out / "report.html").exists()
