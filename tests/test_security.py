"""Security (docs/reliability.md, "Security"): nothing from user input is unpickled or escapes.

* every unpickling or ``np.load`` in the package is listed here with its reason,
  and a new one fails the scan until it is reviewed;
* a model folder or centroids file holding a pickle that would run a command
  is refused with :class:`InputError`, by the loaders and by the jobs, and the
  command never runs; ``model.json`` and ``metrics.json`` are read as JSON only;
* a run id cannot make ``--output .../{run_id}`` leave its folder.
"""

from __future__ import annotations

import ast
import inspect
import io
import json
import logging
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from support import separated_digits, write_jsonl

import kmeans_spark
from kmeans_spark.errors import EXIT_BAD_INPUT, InputError
from kmeans_spark.fetch import NumpyOnlyUnpickler
from kmeans_spark.model_io import load_centroids, load_model

PACKAGE = Path(kmeans_spark.__file__).parent

# Every call that could unpickle, in the package, and why it is safe.
REVIEWED = {
    # The executor-local state a pass saved itself, under SparkFiles' root, in this application.
    ("passes.py", "pickle.load"),
    # The executor-local block copies this application wrote; np.load's allow_pickle is False.
    ("resident.py", "np.load"),
}


def _loads_in(path: Path) -> Iterator[tuple[str, ast.Call]]:
    """``module.function`` of every pickle/marshal/numpy load call in one source file."""
    modules = {"pickle", "cPickle", "marshal", "shelve", "np", "numpy", "cloudpickle", "dill"}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        target = node.func.value
        if isinstance(target, ast.Name) and target.id in modules:
            if node.func.attr in ("load", "loads", "open", "Unpickler", "fromfile"):
                yield f"{target.id}.{node.func.attr}", node


def _allow_pickle(call: ast.Call) -> object:
    for keyword in call.keywords:
        if keyword.arg == "allow_pickle":
            return keyword.value.value if isinstance(keyword.value, ast.Constant) else "dynamic"
    return "default"


def test_every_unpickling_in_the_package_is_reviewed() -> None:
    found: set[tuple[str, str]] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        for name, call in _loads_in(path):
            allow = _allow_pickle(call)
            if name in ("np.load", "numpy.load") and allow is False:
                continue  # explicitly safe
            assert allow in ("default", False), f"{relative}:{call.lineno}: allow_pickle={allow}"
            found.add((relative, name))
        text = path.read_text()
        assert "allow_pickle=True" not in text, relative
        assert "pickle.Unpickler" not in text or relative == "fetch.py", relative
    assert found == REVIEWED
    # np.load's default refuses object arrays, which resident.py relies on.
    assert inspect.signature(np.load).parameters["allow_pickle"].default is False


def test_the_only_unpickler_admits_numpy_arrays_only() -> None:
    # fetch.py's unpickler (for the PyPI fallback) overrides find_class;
    # test_fetch.py checks that it refuses os.system.
    assert "find_class" in vars(NumpyOnlyUnpickler)
    with pytest.raises(pickle.UnpicklingError):
        NumpyOnlyUnpickler(io.BytesIO(b"")).find_class("os", "system")


class _RunsCommand:
    """Unpickling this runs a shell command: the attack a pickled file carries."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (self.command,)


@pytest.fixture()
def marker(tmp_path: Path) -> Path:
    """The file the malicious payload would create."""
    return tmp_path / "PWNED"


def _evil_npy(path: Path, marker: Path) -> None:
    payload = np.empty(3, dtype=object)
    payload[:] = [_RunsCommand(f"touch {marker}")] * 3
    np.save(path, payload, allow_pickle=True)


def _model_folder(folder: Path, marker: Path) -> None:
    """A model folder whose model.json is valid and whose centroids.npy is a pickle."""
    folder.mkdir()
    record = {"format_version": 1, "algorithm": "lloyd", "k": 3, "n_features": 784}
    record["centroid_labels"] = [1, 2, 3]
    (folder / "model.json").write_text(json.dumps(record))
    _evil_npy(folder / "centroids.npy", marker)


def _assert_payload_is_live(path: Path, marker: Path) -> None:
    """Sanity: the file does run the command when unpickled, so its refusal meant something."""
    np.load(path, allow_pickle=True)
    assert marker.exists()


def test_pickled_centroids_are_refused_and_never_run(spark, tmp_path, marker) -> None:
    folder = tmp_path / "model"
    _model_folder(folder, marker)
    with pytest.raises(InputError, match=r"centroids\.npy: not a readable \.npy array"):
        load_model(folder)
    with pytest.raises(InputError, match="not a readable"):
        load_model(f"file://{folder}", spark=spark)
    with pytest.raises(InputError, match="not a readable"):
        load_centroids(folder / "centroids.npy", 3)
    assert not marker.exists()
    _assert_payload_is_live(folder / "centroids.npy", marker)


@pytest.fixture()
def restore_logging() -> Iterator[None]:
    """Give the root logger back as it was: the jobs reconfigure it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture()
def digits_file(tmp_path: Path) -> Path:
    pixels, labels = separated_digits(per_class=5)
    path = tmp_path / "train.jsonl"
    write_jsonl(path, pixels, labels)
    return path


def test_jobs_refuse_pickled_centroids_and_never_run_them(
    spark, tmp_path, marker, digits_file, restore_logging, capsys
) -> None:
    from kmeans_spark.jobs import predict, train

    folder = tmp_path / "model"
    _model_folder(folder, marker)
    out = tmp_path / "out"
    argv = ["--model", str(folder), "--input", str(digits_file), "--output", str(out)]
    assert predict.main(argv) == EXIT_BAD_INPUT
    assert "centroids.npy: not a readable .npy array" in capsys.readouterr().err
    argv = ["--input", str(digits_file), "--k", "3", "--output", str(out)]
    argv += ["--init-centroids", str(folder / "centroids.npy")]
    assert train.main(argv) == EXIT_BAD_INPUT
    assert "centroids.npy: not a readable .npy array" in capsys.readouterr().err
    assert not marker.exists() and not out.exists()
    _assert_payload_is_live(folder / "centroids.npy", marker)


@pytest.mark.parametrize("name", ["model.json", "metrics.json"])
def test_model_json_files_are_parsed_as_json_only(tmp_path, marker, name) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.json").write_text(
        json.dumps({"format_version": 1, "k": 1, "n_features": 784, "centroid_labels": [0]})
    )
    np.save(folder / "centroids.npy", np.zeros((1, 784)))
    load_model(folder)  # valid as it stands
    (folder / name).write_bytes(pickle.dumps(_RunsCommand(f"touch {marker}")))
    with pytest.raises(InputError, match=rf"{name}: (not valid JSON|cannot read)"):
        load_model(folder)
    assert not marker.exists()


@pytest.mark.parametrize("run_id", ["..", "../x", "a/b", ".", "../../etc"])
def test_a_run_id_cannot_leave_the_output_folder(
    spark, tmp_path, digits_file, restore_logging, capsys, run_id
) -> None:
    from kmeans_spark.jobs import train

    runs = tmp_path / "runs"
    argv = ["--input", str(digits_file), "--k", "3", "--max-iter", "2"]
    argv += ["--output", f"{runs}/{{run_id}}"]
    assert train.main([*argv, "--run-id", run_id]) == EXIT_BAD_INPUT
    assert "--run-id must be" in capsys.readouterr().err
    # The same id from a config file is checked as well.
    config = tmp_path / "train.toml"
    config.write_text(f"run_id = {json.dumps(run_id)}\n")
    assert train.main([*argv, "--config", str(config)]) == EXIT_BAD_INPUT
    assert "run_id: --run-id must be" in capsys.readouterr().err
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert written == ["train.jsonl", "train.toml"]
    assert not (tmp_path.parent / "x").exists()
