"""Where the jobs' lines go, in which format, and how a job ends: the jobs' process plumbing.

Streams
    Log records and error messages go to stderr; a job's result summary goes
    to stdout. Under ``spark-submit`` that needs help: Spark's ``PythonRunner``
    starts the Python driver with its stderr merged into its stdout (one pipe,
    copied to the JVM's stdout), so everything Python wrote to stderr used to
    arrive on spark-submit's stdout. :func:`separate_stderr` points file
    descriptor 2 back at spark-submit's own stderr (see there for when it can).

Formats (``--log-format``)
    ``text`` (the default): ``2026-01-31 12:00:00,123 INFO kmeans_spark.lloyd: ...``
    for logs, the jobs' human-readable summary on stdout and ``error: ...``
    lines for bad input or usage. ``json``: every log record is one JSON object
    on one line of stderr (:class:`JsonFormatter`: ``ts``, ``level``,
    ``logger``, ``message``, ``run_id``, ``exc_info`` and the record's
    structured fields such as ``event`` and ``iteration``), errors included,
    and the summary is one JSON object on stdout (:func:`print_result`).

Exit codes (:func:`job_entry_point`)
    0 success; 2 bad input or usage (:class:`~kmeans_spark.errors.KMeansSparkError`,
    argparse's errors); 1 anything else, logged with its traceback; 130 after
    Ctrl-C (SIGINT) and 143 after SIGTERM (128 + the signal number, the shells'
    convention), each with one log line and no traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import signal
import stat
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from types import FrameType
from typing import Any, Protocol, TextIO

from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, KMeansSparkError

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143

# Attributes every LogRecord has; whatever else a record carries came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "run_id",
}


class MainFunction(Protocol):
    """A job's ``main``: arguments (None: ``sys.argv[1:]``) in, exit code out."""

    def __call__(self, argv: list[str] | None = None) -> int: ...


@dataclass(frozen=True)
class LoggingSettings:
    """What :func:`configure_logging` set up last."""

    level: str = "INFO"
    log_format: str = "text"
    run_id: str | None = None


_settings = LoggingSettings()


def current_settings() -> LoggingSettings:
    """The settings of the running job (the defaults before it configured its logging)."""
    return _settings


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line.

    Keys: ``ts`` (ISO 8601, UTC, milliseconds), ``level``, ``logger``,
    ``message`` (the formatted message), ``run_id`` when the job has one,
    ``exc_info`` (the traceback text) when the record carries an exception,
    ``stack_info`` likewise, then every field given with ``extra=``. Values
    JSON cannot hold become strings; infinite and NaN numbers become null.
    """

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        run_id = getattr(record, "run_id", None)
        if run_id is not None:
            line["run_id"] = run_id
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in line:
                line[key] = _plain(value)
        return json.dumps(line, default=str, allow_nan=False)


def _plain(value: Any) -> Any:
    """``value`` as JSON can hold it: numpy scalars as numbers, non-finite floats as None."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        value = value.item()  # numpy scalars: json knows neither np.int64 nor np.bool_
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class _RunIdFilter(logging.Filter):
    """Stamps the job's run id on every record that reaches the job's handler."""

    def __init__(self, run_id: str | None) -> None:
        super().__init__()
        self.run_id = run_id

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "run_id", None) is None:
            record.run_id = self.run_id
        return True


class JobLogHandler(logging.StreamHandler[TextIO]):
    """A stderr handler that looks ``sys.stderr`` up at every record.

    Holding on to the stream object of the moment would write to a replaced
    stream (pytest's capture, a closed file) after the job that installed
    the handler has returned.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        pass  # StreamHandler.__init__ and setStream assign it; sys.stderr always wins


def configure_logging(
    level: str = "INFO", log_format: str = "text", run_id: str | None = None
) -> None:
    """Send every log record to stderr in ``log_format``, stamped with ``run_id``.

    Replaces the handlers an earlier call, ``logging.basicConfig`` or a
    library put on the root logger that write to the console (stdout or
    stderr), so that no record is printed twice or on stdout; other handlers
    (a log file, pytest's capture) stay.
    Calling it again reconfigures.

    Parameters
    ----------
    level : str
        Root logger level, e.g. ``"INFO"``.
    log_format : {"text", "json"}
        See the module docstring.
    run_id : str, optional
        Put on every record as ``run_id`` (shown in JSON lines).

    Raises
    ------
    ValueError
        An unknown ``log_format``.
    """
    global _settings
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if _writes_to_console(handler):
            root.removeHandler(handler)
    handler = JobLogHandler()
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    handler.addFilter(_RunIdFilter(run_id))
    root.addHandler(handler)
    root.setLevel(level)
    # Py4J logs every connection it closes at INFO, at exit; not the job's business.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    _settings = LoggingSettings(level, log_format, run_id)


def _writes_to_console(handler: logging.Handler) -> bool:
    """Whether ``handler`` prints to stdout or stderr (ours, basicConfig's, a library's)."""
    if isinstance(handler, JobLogHandler):
        return True
    stream = getattr(handler, "stream", None)
    if stream is None:
        return False
    if stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        return True
    try:
        return stream.fileno() in (1, 2)
    except (AttributeError, OSError, ValueError):  # StringIO and the like: no descriptor
        return False


def print_result(fields: Mapping[str, Any], job: str) -> None:
    """Print a job's result as one JSON object on stdout (``--log-format json``).

    The object is ``{"event": "result", "job": job, "run_id": ..., **fields}``;
    ``run_id`` is left out when the job has none.
    """
    record: dict[str, Any] = {"event": "result", "job": job}
    if _settings.run_id is not None:
        record["run_id"] = _settings.run_id
    record.update({key: _plain(value) for key, value in fields.items()})
    print(json.dumps(record, default=str, allow_nan=False), flush=True)


def report_error(logger: logging.Logger, exc: BaseException, exit_code: int) -> int:
    """Tell the user why the job stops, in the job's log format; return ``exit_code``.

    Text: ``error: <message>`` on stderr, as the jobs always printed it. JSON:
    a log record with ``event`` ``"error"``, ``error`` (the exception's class
    name) and ``exit_code``.
    """
    if _settings.log_format == "json":
        logger.error(
            "%s",
            exc,
            extra={"event": "error", "error": type(exc).__name__, "exit_code": exit_code},
        )
    else:
        print(f"error: {exc}", file=sys.stderr, flush=True)
    return exit_code


class JobTerminated(BaseException):
    """Raised in the main thread on SIGTERM; a BaseException, as KeyboardInterrupt is.

    So ``except Exception`` in the jobs does not swallow it, while ``with``
    blocks and ``finally`` clauses still clean up (unpersist the cached data,
    remove a half-written output folder).
    """


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`JobTerminated` while the job runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise JobTerminated()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def job_entry_point(job: str) -> Callable[[MainFunction], MainFunction]:
    """Make a job's ``main`` a well-behaved process: streams, exit codes, signals.

    The decorated ``main(argv)`` runs with :func:`separate_stderr` applied and
    SIGTERM turned into an exception, and returns an exit code instead of
    raising: ``SystemExit`` (argparse) gives its code, a
    :class:`~kmeans_spark.errors.KMeansSparkError` 2 (reported by
    :func:`report_error`), ``KeyboardInterrupt`` 130, SIGTERM 143, any other
    exception 1 (logged with its traceback).

    Parameters
    ----------
    job : str
        The job's name in log lines and results, e.g. ``"train"``.
    """
    logger = logging.getLogger(f"kmeans_spark.jobs.{job}")

    def decorate(main: MainFunction) -> MainFunction:
        @functools.wraps(main)
        def run(argv: list[str] | None = None) -> int:
            global _settings
            _settings = LoggingSettings()  # a previous job's format must not leak in
            separate_stderr()
            try:
                with _sigterm_raises():
                    return main(argv)
            except SystemExit as exc:  # argparse has printed its message (or --help)
                return _exit_code(exc.code)
            except KMeansSparkError as exc:
                return report_error(logger, exc, EXIT_BAD_INPUT)
            except KeyboardInterrupt:
                return _stopped(logger, job, "interrupted (SIGINT)", EXIT_INTERRUPTED)
            except JobTerminated:
                return _stopped(logger, job, "terminated (SIGTERM)", EXIT_TERMINATED)
            except Exception:
                logger.exception(
                    "%s failed", job, extra={"event": "failed", "exit_code": EXIT_FAILURE}
                )
                return EXIT_FAILURE

        return run

    return decorate


def _exit_code(code: object) -> int:
    """``SystemExit.code`` as an exit status, as the interpreter would turn it into one."""
    if code is None:
        return EXIT_OK
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return EXIT_FAILURE


def _stopped(logger: logging.Logger, job: str, why: str, exit_code: int) -> int:
    """One line saying the job was stopped by a signal: a traceback would say nothing more."""
    logger.error("%s %s", job, why, extra={"event": "stopped", "exit_code": exit_code})
    return exit_code


def separate_stderr() -> bool:
    """Under spark-submit, point file descriptor 2 at spark-submit's stderr again.

    Spark's ``PythonRunner`` starts the Python driver with stdout and stderr
    on one pipe that it copies to the JVM's stdout. The JVM's own stderr (the
    one spark-submit's caller sees) is still open as the parent's descriptor 2;
    Linux reopens it through ``/proc/<parent>/fd/2``. Everything writing to
    descriptor 2 then goes there: ``sys.stderr``, the log handler, tracebacks.

    Done only when it is safe: a Spark driver (``PYSPARK_GATEWAY_PORT`` set),
    stdout and stderr the same pipe, and the parent's stderr a pipe, a
    terminal or other device, or a file opened for appending (``2>>``). A file
    opened with ``2>`` is skipped: a second writer there would overwrite the
    JVM's lines, so stderr stays merged into stdout (write ``2>>`` or pipe it).

    Returns
    -------
    bool
        Whether descriptor 2 was redirected.
    """
    if "PYSPARK_GATEWAY_PORT" not in os.environ or not sys.platform.startswith("linux"):
        return False
    try:
        out, err = os.fstat(1), os.fstat(2)
        if not stat.S_ISFIFO(err.st_mode) or (out.st_dev, out.st_ino) != (err.st_dev, err.st_ino):
            return False
        parent = os.getppid()
        target = f"/proc/{parent}/fd/2"
        parent_err = os.stat(target)
        if (parent_err.st_dev, parent_err.st_ino) == (err.st_dev, err.st_ino):
            return False
        if stat.S_ISREG(parent_err.st_mode) and not _opened_for_append(parent, 2):
            return False
        descriptor = os.open(target, os.O_WRONLY | os.O_APPEND)
    except OSError:  # no /proc, another user's process, a socket (cannot be reopened)
        return False
    sys.stderr.flush()
    os.dup2(descriptor, 2)
    os.close(descriptor)
    return True


def _opened_for_append(pid: int, fd: int) -> bool:
    """Whether process ``pid`` opened its descriptor ``fd`` with O_APPEND."""
    with open(f"/proc/{pid}/fdinfo/{fd}") as info:
        for line in info:
            if line.startswith("flags:"):
                return bool(int(line.split()[1], 8) & os.O_APPEND)
    return False
