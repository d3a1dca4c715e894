"""What makes one digit record valid, and how a bad one is reported: shared by all readers.

A valid record has a label that is an integer 0..9 or missing, and exactly
784 pixels that are integers 0..255. The format modules extract raw values from
their encoding; the checks here decide whether those values are a digit.

Checks raise :class:`BadRecord` carrying only the *reason*; the format module,
which knows where it is, turns it into an :class:`~kmeans_spark.errors.InputError`
with :func:`record_error`. Every message has the one-line shape::

    <path>: <line|record> <n>: <reason>

Numbering: ``line n`` counts from 1, as editors and ``sed -n 'np'`` do;
``record n`` (binary formats) counts from 0 within its file, like numpy indices
and, for a single input file, exactly the digit's ``id``.

Policies (:data:`BAD_RECORD_POLICIES`): under ``"fail"`` (the default) the
first bad record raises that InputError in its task; under ``"skip"`` the
readers yield a :class:`Reject` in its place instead, carrying the same message
in parts, and every good record keeps its id. Faults of a whole file (corrupt
gzip, a bad header, counts that disagree, wrong columns) raise under both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kmeans_spark.errors import InputError, UsageError
from kmeans_spark.schema import MAX_PIXEL, N_CLASSES, N_PIXELS

Row = tuple[int, int | None, bytes]
"""One digit as the readers yield it: ``(id, label or None, 784 pixel bytes)``."""

LABEL_RANGE = f"0..{N_CLASSES - 1}"
PIXEL_RANGE = f"0..{MAX_PIXEL}"

FAIL = "fail"
"""Bad-record policy: the first bad record stops the job (InputError)."""
SKIP = "skip"
"""Bad-record policy: a bad record becomes a :class:`Reject`; reading goes on."""
BAD_RECORD_POLICIES = (FAIL, SKIP)


class BadRecord(Exception):
    """A record is not a valid digit; ``reason`` says why, without saying where."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def one_line(text: str) -> str:
    """``text`` with line breaks replaced by spaces.

    :func:`kmeans_spark.errors.raise_input_errors` recovers a task's message from
    one line of the traceback, so a message must never span two.
    """
    return " ".join(text.splitlines())


def file_error(source: str, reason: str) -> InputError:
    """InputError about a whole file: ``"<source>: <reason>"``."""
    return InputError(one_line(f"{source}: {reason}"))


def record_message(source: str, record_word: str, number: int, reason: str) -> str:
    """``"<source>: <record_word> <number>: <reason>"`` on one line."""
    return one_line(f"{source}: {record_word} {number}: {reason}")


def record_error(source: str, record_word: str, number: int, reason: str) -> InputError:
    """InputError about one record: ``"<source>: <record_word> <number>: <reason>"``."""
    return InputError(record_message(source, record_word, number, reason))


@dataclass(frozen=True)
class Reject:
    """A record the ``"skip"`` policy left out, and why.

    Attributes
    ----------
    source : str
        The file holding it, as the fail policy's message names it.
    record_word : {"line", "record"}
        ``line`` for text formats (numbered from 1), ``record`` for binary ones
        (from 0 within the file).
    number : int
    reason : str
        What the fail policy's message says after the record.
    raw : str or None
        The line as read (JSON lines, CSV); None for binary formats, whose
        reason quotes the offending value.
    """

    source: str
    record_word: str
    number: int
    reason: str
    raw: str | None = None

    @property
    def record(self) -> str:
        """Where in ``source``: ``"line 3"``, ``"record 4"``."""
        return f"{self.record_word} {self.number}"

    @property
    def message(self) -> str:
        """The one-line message the fail policy would have stopped with."""
        return record_message(self.source, self.record_word, self.number, self.reason)


def is_skip_policy(bad_records: str) -> bool:
    """Whether the policy ``bad_records`` (one of :data:`BAD_RECORD_POLICIES`) skips.

    Returns
    -------
    bool
        True for ``"skip"``, False for ``"fail"``.

    Raises
    ------
    UsageError
        Any other value.
    """
    if bad_records not in BAD_RECORD_POLICIES:
        raise UsageError(
            f"bad_records must be one of {', '.join(BAD_RECORD_POLICIES)}, got {bad_records!r}"
        )
    return bad_records == SKIP


def no_digits_error(source: str) -> InputError:
    """InputError for an input that holds no digit at all."""
    return file_error(source, "no digits in the input")


_KIND_NAMES = {bool: "boolean", str: "string", float: "float", list: "list", dict: "mapping"}


def _shown(value: object) -> str:
    """A value as a JSON-minded user would write it (``true``, ``"7"``, ``7.0``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def check_label(value: object) -> int | None:
    """Validate a label that arrived as a decoded value (JSON, Parquet).

    Parameters
    ----------
    value : object
        ``None`` for an unlabelled digit, else what the format decoded.

    Returns
    -------
    int or None
        The label 0..9, or None.

    Raises
    ------
    BadRecord
        For a bool, a float (even ``7.0`` or NaN), a string (even ``"7"``), any
        other type, or an integer outside 0..9. Nothing is coerced: a label of
        the wrong type usually means the columns or keys are not what we think.
    """
    if value is None:
        return None
    # bool is a subclass of int; True must not quietly become label 1.
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        kind = _KIND_NAMES.get(type(value), type(value).__name__)
        raise BadRecord(
            f"label {_shown(value)} is a {kind}, expected an integer {LABEL_RANGE} or null"
        )
    if not 0 <= value < N_CLASSES:
        raise BadRecord(f"label {value} outside {LABEL_RANGE}")
    return int(value)


def label_from_text(text: str) -> int | None:
    """Validate a label written as text (CSV); an empty or blank field means unlabelled.

    Raises
    ------
    BadRecord
        When the text is not a base-10 integer (``7.0``, ``nan``, ``seven``) or
        the integer is outside 0..9.
    """
    stripped = text.strip()
    if not stripped:
        return None
    try:
        value = int(stripped)
    except ValueError:
        raise BadRecord(f"label {stripped!r} is not an integer") from None
    if not 0 <= value < N_CLASSES:
        raise BadRecord(f"label {value} outside {LABEL_RANGE}")
    return value


def check_pixel_count(found: int, what: str, unit: str) -> None:
    """Raise BadRecord unless ``found`` is 784, worded as ``"<what> <found> <unit>, ..."``.

    ``what`` names the thing measured, e.g. ``"base64 'data' decodes to"``.
    """
    if found != N_PIXELS:
        raise BadRecord(f"{what} {found} {unit}, expected {N_PIXELS}")


def first_pixel_out_of_range(values: npt.NDArray[np.integer]) -> int | None:
    """Index of the first value outside 0..255, or None when all are pixels.

    Parameters
    ----------
    values : ndarray of int, shape (784,)
    """
    outside = np.flatnonzero((values < 0) | (values > MAX_PIXEL))
    return int(outside[0]) if outside.size else None


def pixel_out_of_range(shown: object, position: str) -> BadRecord:
    """BadRecord for a pixel value outside 0..255; ``position`` says where in the record."""
    return BadRecord(f"pixel {shown} outside {PIXEL_RANGE} ({position})")


def pixels_to_bytes(values: npt.NDArray[np.integer], position_word: str, first: int) -> bytes:
    """Range-check 784 integer pixels and pack them as the schema's bytes.

    Parameters
    ----------
    values : ndarray of int, shape (784,)
        Pixel values, any integer dtype.
    position_word, first : str, int
        How a pixel's place is reported: pixel ``i`` is ``"<position_word> <first + i>"``
        (``"column", 2`` for CSV where the label is column 1, ``"index", 0`` for arrays).

    Returns
    -------
    bytes
        784 bytes, row-major 28 x 28.
    """
    bad = first_pixel_out_of_range(values)
    if bad is not None:
        raise pixel_out_of_range(values[bad], f"{position_word} {first + bad}")
    return values.astype(np.uint8).tobytes()


def first_label_out_of_range(labels: npt.NDArray[np.integer]) -> int | None:
    """Index of the first label outside 0..9 in an array of labels, or None.

    Parameters
    ----------
    labels : ndarray of int, shape (n,)
    """
    outside = np.flatnonzero((labels < 0) | (labels >= N_CLASSES))
    return int(outside[0]) if outside.size else None
