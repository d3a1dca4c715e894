"""Errors users can act on, and their translation out of Spark tasks.

An :class:`InputError` raised inside a Spark task reaches the driver wrapped in
Py4J and Spark exceptions whose text holds the Python traceback.
:func:`raise_input_errors` unwraps it so that callers see the same clear,
one-line message wherever the record was parsed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class KMeansSparkError(Exception):
    """Base class of the errors this package raises on purpose."""


class InputError(KMeansSparkError, ValueError):
    """The input data or a user-given file is malformed or unusable (exit code 2).

    Messages name the file and, where there is one, the record, on one line.
    """


class UsageError(KMeansSparkError, ValueError):
    """A parameter or option is invalid (exit code 2)."""


_TASK_ERROR = re.compile(r"kmeans_spark\.errors\.(InputError|UsageError): (.*)")


def input_error_from(exc: BaseException) -> KMeansSparkError | None:
    """Return the :class:`InputError` or :class:`UsageError` a Spark task raised, if any.

    Parameters
    ----------
    exc : BaseException
        An exception caught on the driver around a Spark action.

    Returns
    -------
    KMeansSparkError or None
        A fresh driver-side error with the task's message, or None when ``exc``
        did not come from one of ours.
    """
    if isinstance(exc, KMeansSparkError):
        return exc
    match = _TASK_ERROR.search(str(exc))
    if match is None:
        return None
    kind = InputError if match.group(1) == "InputError" else UsageError
    return kind(match.group(2).strip())


@contextmanager
def raise_input_errors() -> Iterator[None]:
    """Re-raise errors our code raised inside Spark tasks as driver-side errors."""
    try:
        yield
    except KMeansSparkError:
        raise
    except Exception as exc:
        translated = input_error_from(exc)
        if translated is None:
            raise
        raise translated from None
