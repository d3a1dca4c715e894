"""Checkpoints of a Lloyd batch, written through Hadoop beside the output folder.

After every pass the driver replaces one small file, ``checkpoint.npz``, in the
hidden folder ``<parent>/.<name>.checkpoint/`` of the output ``<parent>/<name>``
(the output folder itself appears only when the job publishes it). The file
holds every model's current centroids, the centroids of the last pass (to
replay it on resuming, see :class:`~kmeans_spark.lloyd.BatchState`), its history
and a JSON manifest naming what was trained: parameters, k values and data
fingerprints. It is written whole under a temporary name and renamed
(:func:`~kmeans_spark.storage.replace_file`), so a driver killed mid-write
leaves the previous checkpoint readable. The job removes the folder once the
output is published.

Beside it, every pass also leaves its own record that no later pass rewrites:
``history/pass-NNNNNN.npz`` holds each model's centroids after pass ``N``
(``model_<i>``, float64, shape ``(k_i, 784)``) and a small manifest. They are
written before ``checkpoint.npz``, so the history always reaches at least as
far as the checkpoint; :func:`read_history` reads them back.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pyspark.sql import SparkSession

from kmeans_spark.errors import UsageError
from kmeans_spark.lloyd import BatchState, IterationStats, ModelState
from kmeans_spark.partials import ClusterTotals
from kmeans_spark.storage import fetch_file, remove_quietly, replace_file

CHECKPOINT_FORMAT = 1
CHECKPOINT_FILE = "checkpoint.npz"
HISTORY_DIR = "history"
_TOTALS_FIELDS = ("sums", "counts", "sq_norms", "moved", "label_counts")


def checkpoint_dir_for(output: str) -> str:
    """The hidden checkpoint folder beside the output folder ``output`` (a Hadoop path)."""
    trimmed = output.rstrip("/")
    parent, _, name = trimmed.rpartition("/")
    if not name or not parent:
        raise UsageError(f"output {output}: no parent folder to keep a checkpoint in")
    return f"{parent}/.{name}.checkpoint"


class Checkpoint:
    """The checkpoint of one training job, in a Hadoop folder.

    Parameters
    ----------
    spark : SparkSession
        Its JVM's Hadoop reads and writes the folder.
    location : str
        The checkpoint folder (see :func:`checkpoint_dir_for`).
    """

    def __init__(self, spark: SparkSession, location: str) -> None:
        self.spark = spark
        self.location = location.rstrip("/")

    @property
    def file(self) -> str:
        return f"{self.location}/{CHECKPOINT_FILE}"

    def history_file(self, passes: int) -> str:
        """Where the centroids after pass ``passes`` are recorded."""
        return f"{self.location}/{HISTORY_DIR}/{history_name(passes)}"

    def save(self, state: BatchState, identity: Mapping[str, Any]) -> None:
        """Record ``state``'s centroids in the history, then make it the checkpoint.

        ``identity`` names the training (see :func:`decode_state`).
        """
        with tempfile.TemporaryDirectory(prefix="kmeans-checkpoint-") as local:
            recorded = Path(local) / history_name(state.passes)
            recorded.write_bytes(encode_history(state))
            replace_file(self.spark, recorded, self.history_file(state.passes))
            staged = Path(local) / CHECKPOINT_FILE
            staged.write_bytes(encode_state(state, identity))
            replace_file(self.spark, staged, self.file)

    def load(self, identity: Mapping[str, Any]) -> BatchState | None:
        """The checkpointed state, None when there is none.

        Raises
        ------
        UsageError
            The checkpoint is of another training (parameters or data differ),
            or unreadable.
        """
        with tempfile.TemporaryDirectory(prefix="kmeans-checkpoint-") as local:
            fetched = Path(local) / CHECKPOINT_FILE
            if not fetch_file(self.spark, self.file, fetched):
                return None
            return decode_state(fetched.read_bytes(), identity, self.file)

    def remove(self) -> None:
        """Delete the checkpoint folder; a failure is logged, not raised (it is spare)."""
        remove_quietly(self.spark, self.location)


def history_name(passes: int) -> str:
    """File name of the centroids recorded after pass ``passes`` (1-based)."""
    return f"pass-{passes:06d}.npz"


def encode_history(state: BatchState) -> bytes:
    """Every model's centroids after ``state.passes`` passes, as the bytes of an ``.npz`` file.

    Arrays ``model_<i>`` (float64, shape ``(k_i, 784)``) and ``manifest`` (JSON:
    ``passes``, ``models``).
    """
    arrays: dict[str, npt.NDArray[Any]] = {
        f"model_{index}": model.current for index, model in enumerate(state.models)
    }
    manifest = {"format": CHECKPOINT_FORMAT, "passes": state.passes, "models": len(state.models)}
    arrays["manifest"] = np.array(json.dumps(manifest, sort_keys=True))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def read_history(folder: Path) -> dict[int, list[npt.NDArray[np.float64]]]:
    """The centroids recorded in a local copy of a checkpoint's ``history/`` folder.

    Parameters
    ----------
    folder : Path
        Holding ``pass-NNNNNN.npz`` files.

    Returns
    -------
    dict of int to list of ndarray of float64, shape (k_i, 784)
        Pass number to every model's centroids after it, in model order.

    Raises
    ------
    UsageError
        A file that is not such a record.
    """
    history: dict[int, list[npt.NDArray[np.float64]]] = {}
    for path in sorted(folder.glob("pass-*.npz")):
        try:
            with np.load(path, allow_pickle=False) as stored:
                manifest = json.loads(str(stored["manifest"]))
                models = [stored[f"model_{i}"] for i in range(int(manifest["models"]))]
        except (ValueError, KeyError, OSError) as exc:
            raise UsageError(f"{path}: not a readable history record ({exc})") from None
        history[int(manifest["passes"])] = models
    return history


def _jsonable(identity: Mapping[str, Any]) -> Any:
    """``identity`` as JSON reads it back (tuples as lists), to compare like with like."""
    return json.loads(json.dumps(identity, sort_keys=True))


def encode_state(state: BatchState, identity: Mapping[str, Any]) -> bytes:
    """``state`` and the ``identity`` of its training as the bytes of an ``.npz`` file."""
    arrays: dict[str, npt.NDArray[Any]] = {}
    models = []
    for index, model in enumerate(state.models):
        arrays[f"current_{index}"] = model.current
        if model.primed_with is not None:
            arrays[f"primed_with_{index}"] = model.primed_with
        if model.totals is not None:
            for name in _TOTALS_FIELDS:
                arrays[f"totals_{index}_{name}"] = getattr(model.totals, name)
        models.append(
            {
                "history": [stats.as_dict() for stats in model.history],
                "converged": model.converged,
                "training": model.training,
            }
        )
    manifest = {
        "format": CHECKPOINT_FORMAT,
        "identity": _jsonable(identity),
        "passes": state.passes,
        "models": models,
    }
    arrays["manifest"] = np.array(json.dumps(manifest, sort_keys=True))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def read_manifest(content: bytes) -> dict[str, Any]:
    """The JSON manifest of a checkpoint file's bytes (passes done, history, identity)."""
    with np.load(io.BytesIO(content), allow_pickle=False) as stored:
        manifest: dict[str, Any] = json.loads(str(stored["manifest"]))
    return manifest


def decode_state(content: bytes, identity: Mapping[str, Any], source: str) -> BatchState:
    """The state in a checkpoint file's bytes, checked against ``identity``.

    Raises
    ------
    UsageError
        Another training's checkpoint, or not a checkpoint.
    """
    try:
        with np.load(io.BytesIO(content), allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        manifest = json.loads(str(arrays.pop("manifest")))
    except (ValueError, KeyError, OSError) as exc:
        raise UsageError(f"{source}: not a readable checkpoint ({exc})") from None
    if manifest.get("format") != CHECKPOINT_FORMAT:
        raise UsageError(f"{source}: checkpoint format {manifest.get('format')!r} is not supported")
    expected = _jsonable(identity)
    if manifest["identity"] != expected:
        differ = sorted(
            key
            for key in set(expected) | set(manifest["identity"])
            if expected.get(key) != manifest["identity"].get(key)
        )
        raise UsageError(
            f"{source} is the checkpoint of another training ({', '.join(differ)} differ): "
            "run without --resume to start over"
        )
    models = []
    for index, model in enumerate(manifest["models"]):
        totals = None
        if f"totals_{index}_sums" in arrays:
            totals = ClusterTotals(*(arrays[f"totals_{index}_{name}"] for name in _TOTALS_FIELDS))
        models.append(
            ModelState(
                current=arrays[f"current_{index}"],
                primed_with=arrays.get(f"primed_with_{index}"),
                history=tuple(
                    IterationStats(**{**stats, "empty_clusters": tuple(stats["empty_clusters"])})
                    for stats in model["history"]
                ),
                converged=bool(model["converged"]),
                training=bool(model["training"]),
                totals=totals,
            )
        )
    return BatchState(int(manifest["passes"]), tuple(models))
