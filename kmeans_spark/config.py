"""Job options from three places: built-in defaults < a TOML file (``--config``) < the command line.

A TOML key is the option's name without its leading dashes, with ``-`` or ``_``
(``max_iter = 100`` or ``max-iter = 100`` for ``--max-iter 100``).

On a cluster the file travels with ``spark-submit --files conf/train.toml ...
--config train.toml``: :func:`locate_config` finds it where Spark put it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomllib

from kmeans_spark.errors import UsageError


def locate_config(name: str | None, app_name: str) -> str | None:
    """The file ``--config NAME`` means: a local file, else one shipped with ``--files``.

    ``spark-submit --files conf/train.toml`` copies the file next to the driver
    in YARN cluster mode (the working directory, so a local path), but in
    client mode only into Spark's file root, where
    :meth:`pyspark.SparkFiles.get` finds it by its base name once the
    SparkContext exists. Looking there gets or creates the SparkSession
    (named ``app_name`` if this creates it); under spark-submit the JVM is
    already running, so that costs little.

    Parameters
    ----------
    name : str, optional
        What ``--config`` gave; None passes through.
    app_name : str
        Spark application name, should this create the session.

    Returns
    -------
    str or None
        A path that exists, or None when ``name`` is None.

    Raises
    ------
    UsageError
        Neither place holds the file; the message names both.
    """
    if name is None or os.path.isfile(name):
        return name
    from pyspark import SparkFiles
    from pyspark.sql import SparkSession

    SparkSession.builder.appName(app_name).getOrCreate()
    shipped = SparkFiles.get(os.path.basename(name))
    if os.path.isfile(shipped):
        return shipped
    raise UsageError(
        f"config file {name} not found: neither {os.path.abspath(name)} "
        f"nor a file given to spark-submit --files ({shipped})"
    )


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a job's TOML file into ``{option_dest: value}``.

    Raises
    ------
    UsageError
        Missing file or invalid TOML.
    """
    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise UsageError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}") from None
    return {key.replace("-", "_"): value for key, value in raw.items()}


def resolve_options(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    defaults: Mapping[str, Any],
    config_path: str | None,
) -> dict[str, Any]:
    """Merge defaults, the config file and the command line.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        Parser whose options all default to None, so "not given" is visible.
    args : argparse.Namespace
        What the command line gave.
    defaults : mapping
        Built-in defaults by option dest.
    config_path : str, optional
        TOML file of defaults that override the built-in ones.

    Returns
    -------
    dict
        One value per option dest (``config`` itself excluded).

    Raises
    ------
    UsageError
        A config key that is no option, or a value of the wrong type.
    """
    options = {
        action.dest: action
        for action in parser._actions  # argparse offers no public list of its options
        if action.dest not in ("help", "config")
    }
    merged: dict[str, Any] = {dest: defaults.get(dest) for dest in options}
    if config_path is not None:
        for key, value in load_toml(config_path).items():
            if key not in options:
                raise UsageError(f"config file {config_path}: unknown option {key!r}")
            merged[key] = _coerce(options[key], value, f"config file {config_path}: {key}")
    for dest in options:
        given = getattr(args, dest, None)
        if given is not None:
            merged[dest] = given
    return merged


def _coerce(action: argparse.Action, value: Any, where: str) -> Any:
    """Check a TOML value as argparse would check the same text on the command line."""
    if action.choices is not None and value not in action.choices:
        choices = ", ".join(map(str, action.choices))
        raise UsageError(f"{where}: {value!r} is not one of {choices}")
    if action.nargs == 0:  # a flag
        if not isinstance(value, bool):
            raise UsageError(f"{where}: expected true or false, got {value!r}")
        return value
    kind = action.type
    if kind in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise UsageError(f"{where}: expected a number, got {value!r}")
    if kind is int and isinstance(value, float) and not value.is_integer():
        raise UsageError(f"{where}: expected an integer, got {value!r}")
    if callable(kind):
        try:
            return kind(value)
        except (TypeError, ValueError, argparse.ArgumentTypeError) as exc:
            raise UsageError(f"{where}: {exc}") from None
    return value
