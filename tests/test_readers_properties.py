"""Property-based tests: random damage to each format's parser, without Spark.

Every damaged input must be either read as exactly the digit it encodes or
rejected with :class:`BadRecord` (per record) or :class:`InputError` (per file),
never with another exception and never as a wrong digit. "The digit it encodes"
is worked out here independently of the readers (``json``, ``base64``, ``int``,
``struct``), so a parser that silently repairs or misreads damage disagrees with
it. The parsers tested are the pure functions each Spark task runs.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import os
import struct
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kmeans_spark.errors import InputError
from kmeans_spark.idx_format import IMAGES_MAGIC, LABELS_MAGIC, decode_idx, encode_idx, maybe_gunzip
from kmeans_spark.readers.csv import digit_from_csv
from kmeans_spark.readers.jsonlines import digit_from_json
from kmeans_spark.readers.lines import gunzipped_lines
from kmeans_spark.readers.records import BadRecord, check_label, label_from_text
from kmeans_spark.schema import N_PIXELS

EXAMPLES = int(os.environ.get("READER_PROPERTY_EXAMPLES", "200"))
"""Examples per test; raise it (e.g. 5000) for a longer hunt than the default run."""
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SOURCE = "in.data"

pixels_strategy = st.binary(min_size=N_PIXELS, max_size=N_PIXELS)
labels_strategy = st.none() | st.integers(0, 9)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=6,
)


def damaged(data: Any, original: bytes) -> bytes:
    """``original`` with one of: byte flips, a cut, an insertion, a deletion (drawn by ``data``)."""
    kind = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete"]), label="damage")
    position = data.draw(st.integers(0, len(original)), label="position")
    if kind == "truncate":
        return original[:position]
    if kind == "insert":
        return (
            original[:position] + data.draw(st.binary(min_size=1, max_size=4)) + original[position:]
        )
    if kind == "delete":
        return original[:position] + original[position + 1 :]
    position = min(position, len(original) - 1)
    flipped = original[position] ^ data.draw(st.integers(1, 255), label="mask")
    return original[:position] + bytes([flipped]) + original[position + 1 :]


# --- reference decoders: what a record means, written without the readers --------


def reference_label(value: object) -> int | None:
    """The label a decoded value stands for; ValueError when it is not one."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 9:
        raise ValueError(value)
    return value


def reference_json(line: str) -> tuple[int | None, bytes]:
    record = json.loads(line)
    if not isinstance(record, dict) or not isinstance(record.get("data"), str):
        raise ValueError(line)
    pixels = base64.b64decode(record["data"], validate=True)
    if len(pixels) != N_PIXELS:
        raise ValueError(len(pixels))
    return reference_label(record.get("label")), pixels


def reference_csv(line: str) -> tuple[int | None, bytes]:
    fields = line.strip().split(",")
    if len(fields) != 1 + N_PIXELS:
        raise ValueError(len(fields))
    label_text = fields[0].strip()
    label = None if not label_text else reference_label(int(label_text))
    values = [int(field.strip()) for field in fields[1:]]
    if not all(0 <= value <= 255 for value in values):
        raise ValueError(values)
    return label, bytes(values)


def outcome(parse: Any, *args: Any) -> tuple[str, Any]:
    """``("ok", result)`` or ``("rejected", None)``; any other exception propagates."""
    try:
        return "ok", parse(*args)
    except (BadRecord, InputError):
        return "rejected", None


def reference_outcome(parse: Any, text: str) -> tuple[str, Any]:
    try:
        return "ok", parse(text)
    except (ValueError, TypeError, RecursionError):
        return "rejected", None


# --- JSON lines --------------------------------------------------------------


def json_line(label: int | None, pixels: bytes) -> str:
    return json.dumps({"label": label, "data": base64.b64encode(pixels).decode("ascii")})


@SETTINGS
@given(label=labels_strategy, pixels=pixels_strategy, data=st.data())
def test_damaged_json_line_is_read_as_written_or_rejected(label, pixels, data) -> None:
    line = damaged(data, json_line(label, pixels).encode()).decode("utf-8", errors="replace")
    assert outcome(digit_from_json, line) == reference_outcome(reference_json, line)


@SETTINGS
@given(label=json_values, data_value=json_values | pixels_strategy.map(base64.b64encode))
def test_any_json_values_for_label_and_data(label, data_value) -> None:
    if isinstance(data_value, bytes):
        data_value = data_value.decode("ascii")
    line = json.dumps({"label": label, "data": data_value})
    assert outcome(digit_from_json, line) == reference_outcome(reference_json, line)


@SETTINGS
@given(value=json_values | st.integers(-(2**70), 2**70))
def test_check_label_accepts_exactly_integers_0_to_9(value) -> None:
    expected = reference_outcome(reference_label, value)
    assert outcome(check_label, value) == expected
    if expected[0] == "ok" and value is not None:
        assert type(check_label(value)) is int


# --- CSV -----------------------------------------------------------------------

csv_field = st.one_of(
    st.integers(-300, 300).map(str),
    st.integers(0, 255).map(str),
    st.sampled_from(["", " 7 ", "+3", "-0", "7.0", "nan", "1e2", "0x10", "٣", "1_0", "  "]),
    st.text(alphabet=" +-.0123456789abe_", max_size=5),
)


def csv_line(label: int | None, pixels: bytes) -> str:
    return ",".join(["" if label is None else str(label), *map(str, pixels)])


@SETTINGS
@given(label=labels_strategy, pixels=pixels_strategy, data=st.data())
def test_damaged_csv_line_is_read_as_written_or_rejected(label, pixels, data) -> None:
    line = damaged(data, csv_line(label, pixels).encode()).decode("utf-8", errors="replace")
    assert outcome(digit_from_csv, line) == reference_outcome(reference_csv, line)


@SETTINGS
@given(
    label=csv_field,
    replaced=st.dictionaries(st.integers(0, N_PIXELS - 1), csv_field, max_size=4),
    pixels=pixels_strategy,
)
def test_random_csv_fields(label, replaced, pixels) -> None:
    fields = [label, *map(str, pixels)]
    for index, text in replaced.items():
        fields[1 + index] = text
    line = ",".join(fields)
    assert outcome(digit_from_csv, line) == reference_outcome(reference_csv, line)


@SETTINGS
@given(text=csv_field | st.text(max_size=6))
def test_csv_label_text(text) -> None:
    def reference(field: str) -> int | None:
        stripped = field.strip()
        return None if not stripped else reference_label(int(stripped))

    assert outcome(label_from_text, text) == reference_outcome(reference, text)


# --- IDX -----------------------------------------------------------------------


def reference_idx(data: bytes, magic: int) -> np.ndarray:
    """Decode an IDX payload with ``struct`` alone; ValueError when it is not MNIST's."""
    if len(data) < 4 or struct.unpack(">I", data[:4])[0] != magic:
        raise ValueError("magic")
    n_dims = magic & 0xFF
    header = 4 + 4 * n_dims
    if len(data) < header:
        raise ValueError("header")
    dims = struct.unpack(f">{n_dims}I", data[4:header])
    if magic == IMAGES_MAGIC and dims[1:] != (28, 28):
        raise ValueError("dims")
    if len(data) - header != math.prod(dims):
        raise ValueError("length")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def idx_outcome(parse: Any, data: bytes, magic: int) -> tuple[str, Any]:
    state, value = parse(data, magic)
    return state, None if value is None else (value.shape, value.tobytes())


def decode_with_reader(data: bytes, magic: int) -> tuple[str, Any]:
    return outcome(decode_idx, data, SOURCE, magic)


def decode_with_reference(data: bytes, magic: int) -> tuple[str, Any]:
    try:
        return "ok", reference_idx(data, magic)
    except ValueError:
        return "rejected", None


idx_arrays = st.one_of(
    st.integers(0, 4).flatmap(
        lambda n: st.binary(min_size=n * N_PIXELS, max_size=n * N_PIXELS).map(
            lambda raw, n=n: (np.frombuffer(raw, np.uint8).reshape(n, 28, 28), IMAGES_MAGIC)
        )
    ),
    st.binary(max_size=12).map(lambda raw: (np.frombuffer(raw, np.uint8), LABELS_MAGIC)),
)


@SETTINGS
@given(array_and_magic=idx_arrays, data=st.data())
def test_damaged_idx_is_decoded_as_its_header_says_or_rejected(array_and_magic, data) -> None:
    array, magic = array_and_magic
    payload = damaged(data, encode_idx(array))
    assert idx_outcome(decode_with_reader, payload, magic) == idx_outcome(
        decode_with_reference, payload, magic
    )


@SETTINGS
@given(
    magic=st.sampled_from([IMAGES_MAGIC, LABELS_MAGIC]),
    header=st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 30), min_size=0, max_size=5),
    head=st.binary(min_size=4, max_size=4) | st.sampled_from([b"\0\0\x08\x03", b"\0\0\x08\x01"]),
    body=st.binary(max_size=3 * N_PIXELS),
)
def test_random_idx_headers(magic, header, head, body) -> None:
    payload = head + b"".join(struct.pack(">I", value) for value in header) + body
    assert idx_outcome(decode_with_reader, payload, magic) == idx_outcome(
        decode_with_reference, payload, magic
    )


@SETTINGS
@given(content=st.binary(max_size=200), data=st.data())
def test_damaged_gzip_is_restored_exactly_or_rejected(content, data) -> None:
    damaged_stream = damaged(data, gzip.compress(content, mtime=0))
    state, value = outcome(maybe_gunzip, damaged_stream, SOURCE)
    if state == "ok" and damaged_stream.startswith(b"\x1f\x8b"):
        assert value == content
    elif state == "ok":
        # Not gzip at all (the magic was hit): handed on as is, for decode_idx to judge.
        assert value == damaged_stream


# --- gzip text lines (JSON lines and CSV in .gz) -----------------------------------


@SETTINGS
@given(
    lines=st.lists(st.text(alphabet="abc{}:,0123 ", max_size=12), min_size=1, max_size=6),
    data=st.data(),
)
def test_damaged_gzip_text_gives_the_written_lines_or_a_file_error(lines, data) -> None:
    text = "\n".join(lines) + "\n"
    stream = damaged(data, gzip.compress(text.encode(), mtime=0))
    try:
        read = [line for line, _ in gunzipped_lines(stream, SOURCE)]
    except InputError as exc:
        assert str(exc).startswith(f"{SOURCE}: corrupt or truncated gzip data")
        return
    # A stream cut to nothing is an empty file (refused earlier, by its size, in read_rows).
    assert read == ([] if not stream else text.splitlines())
