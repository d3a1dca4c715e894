"""Bad records under ``--on-bad-records skip``: counted, held to a limit, written to ``rejects/``.

The readers (:mod:`kmeans_spark.readers`) do the skipping: under the ``"skip"``
policy a bad record becomes a :class:`~kmeans_spark.readers.Reject` beside the
good rows, which keep their ids. This module is what the train and sweep jobs
do with those rejects:

* :func:`screened_experiment_data` builds the experiment's blocks from the good
  rows, then counts the rejects of the training and of the test input (one
  Spark job, which reads the inputs a second time; the rejects are cached for
  writing), and refuses, before any training, an input whose share of rejected
  records is above ``max_bad_fraction``;
* :meth:`BadRecords.write_rejects` has the executors write every reject, as
  JSON lines, into the output's staging folder as ``rejects/``, so that they
  appear with the model or not at all;
* :meth:`BadRecords.record` is the ``bad_records`` entry of ``metrics.json``
  (and ``sweep.json``), under either policy.

One line of ``rejects/part-NNNNN`` is one rejected record::

    {"set": "train", "source": "<file>", "record": "line 3",
     "reason": "not valid JSON (Expecting value)", "raw": "<the line>"}

``source``, ``record`` and ``reason`` make the message the fail policy stops
with (``<source>: <record>: <reason>``); ``raw`` is the line's text for JSON
lines and CSV, null for IDX and Parquet records; ``set`` is ``train`` (the
training input, validation share included) or ``test``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pyspark import RDD, StorageLevel

from kmeans_spark.errors import InputError, UsageError, raise_input_errors
from kmeans_spark.experiment import DataSummary, ExperimentData, TrainParams, experiment_data
from kmeans_spark.readers import BAD_RECORD_POLICIES, FAIL, SKIP, Dataset, Reject
from kmeans_spark.storage import OutputDir

logger = logging.getLogger(__name__)

DEFAULT_MAX_BAD_FRACTION = 0.01
"""Skip at most 1% of an input's records (600 of MNIST's 60,000 training digits)."""
REJECTS_FOLDER = "rejects"
"""The folder of an output that holds the rejected records (skip policy only)."""
REJECTS_PER_FILE = 100_000
"""About this many rejects per part file of ``rejects/`` (at least one file)."""
TRAIN = "train"
TEST = "test"
_SET_WORDS = {TRAIN: "training", TEST: "test"}
_NO_DIGITS = "no digits in the input"
"""The message of :func:`~kmeans_spark.blocks.to_blocks` for an input without digits."""

TaggedReject = tuple[str, Reject]
"""``(set, reject)``: ``set`` is ``"train"`` or ``"test"``."""
SourceTally = dict[tuple[str, str], tuple[int, Reject]]
"""``{(set, source): (rejects, the reject of the lowest record number)}``."""


def validate_max_bad_fraction(value: object) -> float:
    """``value`` as a fraction in [0, 1], else :class:`UsageError`.

    Accepts a number or its text (the command line's); refuses booleans,
    NaN and anything outside [0, 1].
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UsageError(f"--max-bad-fraction must be a number in [0, 1], got {value!r}")
    try:
        fraction = float(value)
    except ValueError:
        raise UsageError(f"--max-bad-fraction must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= fraction <= 1.0:  # also false for NaN
        raise UsageError(f"--max-bad-fraction must be in [0, 1], got {value!r}")
    return fraction


@dataclass(frozen=True)
class BadRecordPolicy:
    """What the jobs do with bad records (``--on-bad-records``, ``--max-bad-fraction``).

    Attributes
    ----------
    on_bad_records : {"fail", "skip"}
        ``fail``: the first bad record stops the job. ``skip``: bad records are
        left out and written to ``rejects/``.
    max_bad_fraction : float
        In [0, 1]. Under ``skip``, the job still fails when more than this share
        of the records of an input (training or test, each on its own) is bad.
    """

    on_bad_records: str = FAIL
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION

    def __post_init__(self) -> None:
        if self.on_bad_records not in BAD_RECORD_POLICIES:
            raise UsageError(
                f"--on-bad-records must be one of {', '.join(BAD_RECORD_POLICIES)}, "
                f"got {self.on_bad_records!r}"
            )
        validate_max_bad_fraction(self.max_bad_fraction)

    @property
    def skips(self) -> bool:
        return self.on_bad_records == SKIP


@dataclass(frozen=True)
class RejectCounts:
    """The records of one input (training or test): how many were read, how many rejected.

    Attributes
    ----------
    set_name : {"train", "test"}
    good : int
        Digits read and kept.
    by_source : dict of str to int
        Rejected records per file (the file a reject names).
    first : Reject or None
        The reject of the lowest record number in the first file (by name).
    """

    set_name: str
    good: int
    by_source: dict[str, int] = field(default_factory=dict)
    first: Reject | None = None

    @property
    def rejected(self) -> int:
        return sum(self.by_source.values())

    @property
    def read(self) -> int:
        """Records read: the good ones and the rejected ones."""
        return self.good + self.rejected

    @property
    def fraction(self) -> float:
        """Rejected over read; 0 for an input without records."""
        return self.rejected / self.read if self.read else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "rejected": self.rejected,
            "fraction": self.fraction,
            "by_source": dict(sorted(self.by_source.items())),
        }

    def describe(self) -> str:
        """``"3 of 24 training records rejected"``."""
        return f"{self.rejected} of {self.read} {_SET_WORDS[self.set_name]} records rejected"


@dataclass
class BadRecords:
    """The bad records of a job's inputs, once counted (see :func:`screened_experiment_data`).

    Attributes
    ----------
    policy : BadRecordPolicy
    train : RejectCounts
    test : RejectCounts or None
        None when there is no test set.
    rejects : RDD of (str, Reject) or None
        Every reject with its set, cached; None under the fail policy.
    """

    policy: BadRecordPolicy
    train: RejectCounts
    test: RejectCounts | None
    rejects: RDD[TaggedReject] | None = None

    @property
    def sets(self) -> list[RejectCounts]:
        return [counts for counts in (self.train, self.test) if counts is not None]

    @property
    def rejected(self) -> int:
        return sum(counts.rejected for counts in self.sets)

    def record(self) -> dict[str, Any]:
        """The ``bad_records`` entry of ``metrics.json`` and ``sweep.json``."""
        return {
            "policy": self.policy.on_bad_records,
            "max_bad_fraction": self.policy.max_bad_fraction,
            TRAIN: self.train.as_dict(),
            TEST: None if self.test is None else self.test.as_dict(),
        }

    def describe(self) -> str:
        """``"skipped bad records: 2 of 24 training records rejected, ... (in rejects/)"``."""
        counts = ", ".join(counts.describe() for counts in self.sets)
        return f"skipped bad records: {counts} (in {REJECTS_FOLDER}/)"

    def check_limit(self) -> None:
        """Raise InputError when an input's share of rejects is above the limit.

        The message: ``too many bad records: <n> of <m> training records rejected
        (fraction <f> > --max-bad-fraction <F>); first: <file>: <record>: <reason>``.
        """
        limit = self.policy.max_bad_fraction
        for counts in self.sets:
            if counts.fraction > limit:
                first = "" if counts.first is None else f"; first: {counts.first.message}"
                raise InputError(
                    f"too many bad records: {counts.describe()} (fraction "
                    f"{counts.fraction:.4g} > --max-bad-fraction {limit:g}){first}"
                )

    def log(self) -> None:
        """One log line per input with rejects (a warning), or one saying there were none."""
        if not self.policy.skips:
            return
        if not self.rejected:
            logger.info("no bad records", extra={"event": "bad_records", "rejected": 0})
            return
        for counts in self.sets:
            if counts.rejected and counts.first is not None:
                logger.warning(
                    "skipped bad records: %s (fraction %.4g, limit %g), written to %s/; first: %s",
                    counts.describe(),
                    counts.fraction,
                    self.policy.max_bad_fraction,
                    REJECTS_FOLDER,
                    counts.first.message,
                    extra={
                        "event": "bad_records",
                        "set": counts.set_name,
                        "read": counts.read,
                        "rejected": counts.rejected,
                        "fraction": counts.fraction,
                    },
                )

    def write_rejects(self, output: OutputDir) -> None:
        """Have Spark's executors write every reject into ``output``'s ``rejects/`` folder.

        Under the skip policy only (else nothing): JSON lines in part files
        (one per :data:`REJECTS_PER_FILE` rejects, at least one, empty when
        there were none), and Hadoop's ``_SUCCESS``.
        """
        if self.rejects is None:
            return
        files = max(1, math.ceil(self.rejected / REJECTS_PER_FILE))
        lines = self.rejects.map(reject_json_line)
        if files < lines.getNumPartitions():
            lines = lines.coalesce(files)
        lines.saveAsTextFile(output.staging_path(REJECTS_FOLDER))

    def unpersist(self) -> None:
        if self.rejects is not None:
            self.rejects.unpersist()


def reject_json_line(tagged: TaggedReject) -> str:
    """One line of ``rejects/``: ``{"set", "source", "record", "reason", "raw"}``."""
    set_name, reject = tagged
    return json.dumps(
        {
            "set": set_name,
            "source": reject.source,
            "record": reject.record,
            "reason": reject.reason,
            "raw": reject.raw,
        },
        ensure_ascii=False,
    )


def _tally_one(tally: SourceTally, tagged: TaggedReject) -> SourceTally:
    set_name, reject = tagged
    key = (set_name, reject.source)
    count, first = tally.get(key, (0, reject))
    tally[key] = (count + 1, reject if reject.number < first.number else first)
    return tally


def _merge_tallies(left: SourceTally, right: SourceTally) -> SourceTally:
    for key, (count, first) in right.items():
        if key in left:
            other_count, other_first = left[key]
            earlier = first if first.number < other_first.number else other_first
            left[key] = (count + other_count, earlier)
        else:
            left[key] = (count, first)
    return left


def count_rejects(rejects: RDD[TaggedReject]) -> SourceTally:
    """Rejects per ``(set, source)`` and the first of each, in one Spark job.

    The result holds one entry per file with rejects, however many there are.
    """
    with raise_input_errors():
        return rejects.aggregate({}, _tally_one, _merge_tallies)


def _set_counts(set_name: str, good: int, tally: SourceTally) -> RejectCounts:
    mine = {source: value for (name, source), value in tally.items() if name == set_name}
    first = mine[min(mine)][1] if mine else None
    return RejectCounts(set_name, good, {source: n for source, (n, _) in mine.items()}, first)


def _tag(set_name: str, reject: Reject) -> TaggedReject:
    return set_name, reject


def _tagged_rejects(dataset: Dataset) -> RDD[TaggedReject] | None:
    """The rejects of both inputs with their set, or None when there are none to read."""
    parts: list[RDD[TaggedReject]] = []
    for set_name, rejects in ((TRAIN, dataset.train_rejects), (TEST, dataset.test_rejects)):
        if rejects is not None:
            parts.append(rejects.map(partial(_tag, set_name)))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else parts[0].context.union(parts)


def bad_records_of(
    summary: DataSummary,
    policy: BadRecordPolicy,
    tally: SourceTally | None = None,
    rejects: RDD[TaggedReject] | None = None,
) -> BadRecords:
    """Counts of the good digits (from ``summary``) and of the rejects (``tally``)."""
    tally = tally or {}
    train = _set_counts(TRAIN, summary.train_size + summary.validation_size, tally)
    test = None if summary.test_size is None else _set_counts(TEST, summary.test_size, tally)
    return BadRecords(policy, train, test, rejects)


def _no_digits_left(tally: SourceTally) -> InputError:
    """Why an input has no digits once its bad records are skipped."""
    train = _set_counts(TRAIN, 0, tally)
    test = _set_counts(TEST, 0, tally)
    first = train.first or test.first
    shown = "" if first is None else f"; first: {first.message}"
    return InputError(
        f"{_NO_DIGITS} once bad records are skipped ({train.rejected} training and "
        f"{test.rejected} test records rejected){shown}"
    )


@contextmanager
def screened_experiment_data(
    dataset: Dataset, params: TrainParams, policy: BadRecordPolicy
) -> Iterator[tuple[ExperimentData, BadRecords]]:
    """:func:`~kmeans_spark.experiment.experiment_data` of the good rows, and their bad records.

    Under the skip policy the rejects are counted once the blocks are built
    (a second read of the inputs) and cached until the block ends, for
    :meth:`BadRecords.write_rejects`. An input whose share of rejects is above
    ``policy.max_bad_fraction`` raises here, before any training.

    Parameters
    ----------
    dataset : Dataset
        Read with ``bad_records=policy.on_bad_records``.
    params : TrainParams
    policy : BadRecordPolicy

    Yields
    ------
    (ExperimentData, BadRecords)

    Raises
    ------
    InputError
        Too many bad records (the count, the fraction, the limit and the first
        reject's message); no digits left once bad records are skipped; or as
        ``experiment_data``.
    """
    if dataset.bad_records != policy.on_bad_records:
        raise UsageError(
            f"the dataset was read with bad_records={dataset.bad_records!r}, "
            f"not {policy.on_bad_records!r}"
        )
    rejects = _tagged_rejects(dataset) if policy.skips else None
    with ExitStack() as stack:
        if rejects is not None:
            rejects.persist(StorageLevel.MEMORY_AND_DISK)
            stack.callback(rejects.unpersist)
        try:
            data = stack.enter_context(experiment_data(dataset.train, dataset.test, params))
        except InputError as exc:
            if rejects is not None and str(exc) == _NO_DIGITS:
                tally = count_rejects(rejects)
                if tally:
                    raise _no_digits_left(tally) from None
            raise
        counted = count_rejects(rejects) if rejects is not None else None
        bad_records = bad_records_of(data.summary, policy, counted, rejects)
        bad_records.check_limit()
        bad_records.log()
        yield data, bad_records
