"""``report.html``: one self-contained page per model folder, and one per sweep.

A model's page shows its parameters and metrics, training by iteration, the
centroids with their labels, the confusion matrix, for every inferred label the
true digits classified as it (the walkthrough's frequency tables), a seeded
gallery of digits classified as one label (nines by default), examples of the
most frequent confusions beside the centroids involved, and cluster sizes and
purity. A sweep's page shows the error rate by k and links to every k's page.

Everything is embedded (PNG figures as base64 data URIs, inline CSS), so the page
opens from disk without network access. A small inline script records each
image's natural width in ``body[data-images-loaded]`` once the page has loaded,
for headless browsers to check. Pages are written atomically (a temporary file
in the folder, then :func:`os.replace`).

The writers work on a folder that already holds the model's files
(``model.json``, ``centroids.npy``, ``metrics.json``, ``confusion.csv``); the
digits shown come from cached held-out blocks when given, and are left out
otherwise. Figures come from :mod:`kmeans_spark.figures` and
:mod:`kmeans_spark.report_figures`; digits are chosen by
:mod:`kmeans_spark.report_data`.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure

from kmeans_spark.blocks import DigitBlocks
from kmeans_spark.errors import InputError
from kmeans_spark.evaluation import evaluate
from kmeans_spark.figures import centroid_grid, error_by_k_plot
from kmeans_spark.model_io import load_model
from kmeans_spark.report_data import (
    classified_sample,
    cluster_label_counts,
    confusion_examples,
    top_confusions,
)
from kmeans_spark.report_figures import (
    cluster_purity_plot,
    confusion_examples_figure,
    confusion_heatmap,
    digit_gallery,
    history_plot,
    label_name,
)
from kmeans_spark.schema import N_CLASSES

REPORT_NAME = "report.html"
FIGURE_DPI = 90
"""Enough for a screen; a higher resolution only slows writing the page."""
DEFAULT_GALLERY_LABEL = 9
DEFAULT_GALLERY_SIZE = 16
DEFAULT_CONFUSIONS = 3
"""Most frequent confusions shown with examples."""
DEFAULT_PER_CONFUSION = 3
"""Examples of each."""


@dataclass(frozen=True)
class ModelFolder:
    """A train job's output folder, as read back.

    Attributes
    ----------
    path : Path
    model : dict
        ``model.json``.
    metrics : dict
        ``metrics.json``.
    centroids : ndarray of float64, shape (k, 784)
    centroid_labels : ndarray of int64, shape (k,)
        ``-1`` for none.
    confusion : dict of str to ndarray of int64, shape (10, 11)
        Per evaluated set (``validation``, ``test``), from ``confusion.csv``;
        empty when the file is missing.
    """

    path: Path
    model: dict[str, Any]
    metrics: dict[str, Any]
    centroids: npt.NDArray[np.float64]
    centroid_labels: npt.NDArray[np.int64]
    confusion: dict[str, npt.NDArray[np.int64]]

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])

    @property
    def seed(self) -> int:
        """The seed of the model's parameters (the job's ``--seed``)."""
        return int(self.model.get("params", {}).get("seed", 0))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(record, dict):
        raise InputError(f"{path}: expected a JSON object")
    return record


def read_confusion_csv(path: Path) -> dict[str, npt.NDArray[np.int64]]:
    """The confusion matrices of ``confusion.csv``, per set; empty when there is no file.

    Returns
    -------
    dict of str to ndarray of int64, shape (10, 11)
    """
    if not path.exists():
        return {}
    matrices: dict[str, npt.NDArray[np.int64]] = {}
    try:
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                matrix = matrices.setdefault(
                    row["set"], np.zeros((N_CLASSES, N_CLASSES + 1), dtype=np.int64)
                )
                columns = [str(p) for p in range(N_CLASSES)] + ["none"]
                matrix[int(row["true_label"])] = [int(row[c]) for c in columns]
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise InputError(f"{path}: not a confusion table ({exc})") from None
    return matrices


def read_model_folder(folder: str | os.PathLike[str]) -> ModelFolder:
    """Read a model folder's files (:func:`~kmeans_spark.model_io.load_model`) and confusion.

    Raises
    ------
    InputError
        A missing or malformed ``model.json``, ``metrics.json``, ``centroids.npy``
        or ``confusion.csv``.
    """
    loaded = load_model(folder)
    return ModelFolder(
        Path(loaded.path),
        loaded.model,
        loaded.metrics or {},
        loaded.centroids,
        loaded.centroid_labels,
        read_confusion_csv(Path(loaded.path) / "confusion.csv"),
    )


# -- writing ------------------------------------------------------------------------------


def write_model_report(
    folder: str | os.PathLike[str],
    held_out: DigitBlocks | None = None,
    *,
    held_out_name: str = "validation",
    train: DigitBlocks | None = None,
    gallery_label: int = DEFAULT_GALLERY_LABEL,
    gallery_size: int = DEFAULT_GALLERY_SIZE,
    seed: int | None = None,
    confusions: int = DEFAULT_CONFUSIONS,
    per_confusion: int = DEFAULT_PER_CONFUSION,
    up_link: str | None = None,
) -> Path:
    """Write ``report.html`` into a folder that holds a model's files.

    Parameters
    ----------
    folder : path
        Holds ``model.json``, ``centroids.npy``, ``metrics.json`` and, usually,
        ``confusion.csv`` (a job's staging folder will do).
    held_out : DigitBlocks, optional
        The cached held-out digits (validation, or test when there is no
        validation set): the gallery and the confusion examples are chosen
        among them. Without them the page leaves both out.
    held_out_name : str
        Which set ``held_out`` is; its confusion matrix (from ``confusion.csv``,
        else computed from ``held_out``) gives the frequency tables.
    train : DigitBlocks, optional
        Training digits: used only when ``metrics.json`` has no ``label_counts``,
        to count the true labels of each cluster for the purity chart.
    gallery_label : int
        Label of the digits in the gallery (-1: centroids without a label).
    gallery_size : int
    seed : int, optional
        Chooses the digits shown; default: the model's seed.
    confusions, per_confusion : int
        Most frequent confusions shown, and examples of each.
    up_link : str, optional
        Relative link to a parent page (a sweep's report).

    Returns
    -------
    Path
        The page written.
    """
    model = read_model_folder(folder)
    chosen_seed = model.seed if seed is None else seed
    page = model_report_html(
        model,
        held_out,
        held_out_name=held_out_name,
        train=train,
        gallery_label=gallery_label,
        gallery_size=gallery_size,
        seed=chosen_seed,
        confusions=confusions,
        per_confusion=per_confusion,
        up_link=up_link,
    )
    return write_atomically(model.path / REPORT_NAME, page)


def write_sweep_report(
    folder: str | os.PathLike[str],
    held_out: DigitBlocks | None = None,
    *,
    held_out_name: str = "validation",
    train: DigitBlocks | None = None,
    gallery_label: int = DEFAULT_GALLERY_LABEL,
    gallery_size: int = DEFAULT_GALLERY_SIZE,
    seed: int | None = None,
    models: bool = True,
) -> Path:
    """Write a sweep folder's ``report.html`` and, with ``models``, every k's own page.

    Parameters
    ----------
    folder : path
        Holds ``sweep.json`` and the ``k<K>/`` model folders it names.
    held_out, held_out_name, train, gallery_label, gallery_size, seed
        As for :func:`write_model_report`, for every k's page.
    models : bool
        Also (re)write ``k<K>/report.html`` of every k.

    Returns
    -------
    Path
        The sweep's page.
    """
    path = Path(folder)
    sweep = _read_json(path / "sweep.json")
    results = sweep.get("results", [])
    if models:
        for result in results:
            write_model_report(
                path / str(result["model"]),
                held_out,
                held_out_name=held_out_name,
                train=train,
                gallery_label=gallery_label,
                gallery_size=gallery_size,
                seed=seed,
                up_link=f"../{REPORT_NAME}",
            )
    return write_atomically(path / REPORT_NAME, sweep_report_html(sweep))


def write_atomically(path: Path, text: str) -> Path:
    """Replace ``path`` with ``text`` at once: readers see the old page or the new one."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the page from other users
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


# -- the model page -----------------------------------------------------------------------


def model_report_html(
    model: ModelFolder,
    held_out: DigitBlocks | None = None,
    *,
    held_out_name: str = "validation",
    train: DigitBlocks | None = None,
    gallery_label: int = DEFAULT_GALLERY_LABEL,
    gallery_size: int = DEFAULT_GALLERY_SIZE,
    seed: int = 0,
    confusions: int = DEFAULT_CONFUSIONS,
    per_confusion: int = DEFAULT_PER_CONFUSION,
    up_link: str | None = None,
) -> str:
    """The HTML of a model's page (see :func:`write_model_report`)."""
    metrics = model.metrics
    confusion_set, confusion = _held_out_confusion(model, held_out, held_out_name)
    sections = [
        _section("parameters", "Parameters", _parameters_html(model.model)),
        _section("metrics", "Metrics", _metrics_html(metrics)),
        _section("history", "Training by iteration", _history_html(metrics)),
        _section(
            "centroids",
            "Centroids and their labels",
            _image(
                centroid_grid(model.centroids, model.centroid_labels, metrics.get("cluster_sizes")),
                "the centroids as images, titled with their inferred labels",
            ),
        ),
        _section("confusion", "Confusion matrices", _confusion_html(model.confusion)),
        _section(
            "frequencies",
            "Which true digits land in each label's clusters",
            _frequencies_html(confusion_set, confusion, model.centroid_labels),
        ),
        _section(
            "gallery",
            f"Digits classified as {label_name(gallery_label)}",
            _gallery_html(model, held_out, held_out_name, gallery_label, gallery_size, seed),
        ),
        _section(
            "examples",
            "Why were they misclassified?",
            _examples_html(
                model, held_out, held_out_name, confusion, confusions, per_confusion, seed
            ),
        ),
        _section("clusters", "Cluster sizes and purity", _clusters_html(model, train)),
    ]
    title = f"k-means of digits: k = {model.k}"
    # Not the folder's name: a job writes the page in a staging folder with a temporary one.
    header = _source_html(model.model.get("input", {}))
    if up_link is not None:
        header += f"<p><a href='{escape(up_link)}'>back to the sweep</a></p>"
    return _page(title, header + "".join(sections))


def _held_out_confusion(
    model: ModelFolder, held_out: DigitBlocks | None, name: str
) -> tuple[str | None, npt.NDArray[np.int64] | None]:
    """The set the frequency tables and confusion examples describe, and its confusion matrix."""
    if held_out is not None:
        if name in model.confusion:
            return name, model.confusion[name]
        return name, evaluate(held_out, model.centroids, model.centroid_labels).confusion
    for candidate in ("validation", "test"):
        if candidate in model.confusion:
            return candidate, model.confusion[candidate]
    return None, None


def _parameters_html(record: Mapping[str, Any]) -> str:
    rows: list[tuple[str, object]] = [("k", record.get("k"))]
    rows += list(record.get("params", {}).items())
    source = record.get("input", {})
    for key in ("train", "test", "fingerprint", "train_size", "validation_size", "test_size"):
        if key in source:
            rows.append((f"input {key}", source[key]))
    return _key_value_table("params", rows)


def _metrics_html(metrics: Mapping[str, Any]) -> str:
    rows: list[tuple[str, object]] = [
        ("iterations", metrics.get("iterations")),
        ("converged", metrics.get("converged")),
        ("initial inertia", metrics.get("initial_inertia")),
        ("inertia", metrics.get("inertia")),
        ("training digits", metrics.get("train", {}).get("size")),
        ("seconds", metrics.get("seconds")),
    ]
    html = _key_value_table("metrics", rows)
    evaluated = [(name, metrics[name]) for name in ("validation", "test") if name in metrics]
    if evaluated:
        html += _table(
            "errors",
            ["set", "error rate", "errors", "digits", "unlabelled"],
            [
                [
                    name,
                    _number(record.get("error_rate")),
                    record.get("errors"),
                    record.get("size"),
                    record.get("unlabelled"),
                ]
                for name, record in evaluated
            ],
        )
    restarts = metrics.get("restarts", [])
    if len(restarts) > 1:
        html += "<h3>Restarts</h3>" + _restarts_table(restarts)
    return html


def _restarts_table(restarts: Sequence[Mapping[str, Any]]) -> str:
    columns = ["seed", "initial_inertia", "inertia", "iterations", "converged"]
    columns += ["validation_error_rate", "test_error_rate", "kept"]
    return _table(
        "restarts",
        [c.replace("_", " ") for c in columns],
        [[_number(r.get(c)) for c in columns] for r in restarts],
    )


def _history_html(metrics: Mapping[str, Any]) -> str:
    history = metrics.get("history", [])
    if not history:
        return _note("no iterations recorded")
    figure = history_plot(
        [h["iteration"] for h in history],
        [h["inertia"] for h in history],
        [h["moved"] for h in history],
    )
    return _image(figure, "inertia and digits moved by iteration")


def _confusion_html(confusion: Mapping[str, npt.NDArray[np.int64]]) -> str:
    if not confusion:
        return _note("no evaluated set (confusion.csv is missing)")
    return "".join(
        _image(
            confusion_heatmap(matrix, f"{name.capitalize()} digits: true x inferred label"),
            f"{name} confusion matrix",
        )
        for name, matrix in confusion.items()
    )


def _frequencies_html(
    name: str | None,
    confusion: npt.NDArray[np.int64] | None,
    centroid_labels: npt.NDArray[np.int64],
) -> str:
    """One table per inferred label: the true labels of the held-out digits classified as it."""
    if name is None or confusion is None:
        return _note("no evaluated set")
    parts = [
        f"<p>Counts of true digits among the {escape(name)} digits classified as each label "
        "(a column of the confusion matrix). The label's own digits are marked.</p>"
    ]
    held = sorted({int(v) for v in centroid_labels}, key=lambda v: (v < 0, v))
    for label in held:
        column = N_CLASSES if label < 0 else label
        counts = confusion[:, column]
        total = int(counts.sum())
        centroids = int(np.sum(centroid_labels == label))
        right = int(counts[label]) if label >= 0 else 0
        share = f", {right / total:.1%} of them {label}" if total and label >= 0 else ""
        caption = (
            f"classified as {label_name(label)} ({centroids} centroid"
            f"{'s' if centroids != 1 else ''}): {total} digits{share}"
        )
        cells = "".join(
            f"<td data-true='{t}'{' class=own' if t == label else ''}>{int(counts[t])}</td>"
            for t in range(N_CLASSES)
        )
        parts.append(
            f"<table class='frequency' data-set='{escape(name)}' "
            f"data-label='{label_name(label)}'><caption>{escape(caption)}</caption>"
            "<tr><th>true digit</th>"
            + "".join(f"<th>{t}</th>" for t in range(N_CLASSES))
            + f"<th>total</th></tr><tr><th>count</th>{cells}"
            f"<td class='total'>{total}</td></tr></table>"
        )
    return "".join(parts)


def _gallery_html(
    model: ModelFolder,
    held_out: DigitBlocks | None,
    name: str,
    label: int,
    size: int,
    seed: int,
) -> str:
    if held_out is None:
        return _note("the digits are not available here: rebuild the page with jobs/report.py")
    sample = classified_sample(held_out, model.centroids, model.centroid_labels, label, size, seed)
    wrong = int(np.sum((sample.true_labels >= 0) & (sample.true_labels != label)))
    intro = (
        f"<p class='gallery-ids' data-ids='{json.dumps(sample.ids.tolist())}' "
        f"data-true='{json.dumps(sample.true_labels.tolist())}'>{len(sample)} {escape(name)} "
        f"digits classified as {label_name(label)}, chosen at random (seed {seed}); "
        f"{wrong} of them misclassified, in red.</p>"
    )
    if len(sample) == 0:
        return intro
    figure = digit_gallery(
        sample.pixels,
        sample.true_labels,
        label,
        title=f"{len(sample)} {name} digits classified as {label_name(label)}",
    )
    return intro + _image(figure, f"digits classified as {label_name(label)}")


def _examples_html(
    model: ModelFolder,
    held_out: DigitBlocks | None,
    name: str,
    confusion: npt.NDArray[np.int64] | None,
    count: int,
    per_pair: int,
    seed: int,
) -> str:
    if held_out is None or confusion is None:
        return _note("the digits are not available here: rebuild the page with jobs/report.py")
    pairs = top_confusions(confusion, count)
    if not pairs:
        return _note(f"no {name} digit is misclassified")
    examples = confusion_examples(
        held_out, model.centroids, model.centroid_labels, pairs, per_pair, seed
    )
    digits = examples.digits
    counts = ", ".join(
        f"{t} → {label_name(p)}: {int(confusion[t, N_CLASSES if p < 0 else p])}" for t, p in pairs
    )
    intro = (
        f"<p>The most frequent confusions among the {escape(name)} digits ({escape(counts)}); "
        "each example beside the centroid that claimed it and the nearest centroid labelled "
        "with its true digit, with their Euclidean distances.</p>"
    )
    rows = [
        [
            int(digits.ids[i]),
            int(digits.true_labels[i]),
            label_name(int(digits.predicted[i])),
            f"#{int(digits.assigned[i])}",
            f"{examples.assigned_distance[i]:.1f}",
            f"#{int(examples.true_centroid[i])}" if examples.true_centroid[i] >= 0 else "none",
            "" if np.isnan(examples.true_distance[i]) else f"{examples.true_distance[i]:.1f}",
        ]
        for i in range(len(digits))
    ]
    table = _table(
        "examples",
        [
            "digit id",
            "true",
            "classified as",
            "claimed by",
            "distance",
            "nearest of true class",
            "distance",
        ],
        rows,
    )
    figure = confusion_examples_figure(
        digits.pixels,
        digits.true_labels,
        digits.predicted,
        digits.assigned,
        examples.assigned_distance,
        examples.true_centroid,
        examples.true_distance,
        model.centroids,
    )
    return intro + _image(figure, "misclassified digits and their centroids") + table


def _clusters_html(model: ModelFolder, train: DigitBlocks | None) -> str:
    metrics = model.metrics
    sizes = metrics.get("cluster_sizes")
    if sizes is None:
        return _note("no cluster sizes recorded")
    counts: npt.NDArray[np.int64] | None = None
    if metrics.get("label_counts") is not None:
        counts = np.asarray(metrics["label_counts"], dtype=np.int64)
    elif train is not None:
        counts = cluster_label_counts(train, model.centroids)
    note = (
        ""
        if counts is not None
        else _note("purity needs label_counts (not in this metrics.json): sizes only")
    )
    figure = cluster_purity_plot(sizes, model.centroid_labels, counts, order="label")
    return _image(figure, "training digits and purity per cluster") + note


# -- the sweep page -----------------------------------------------------------------------


def sweep_report_html(sweep: Mapping[str, Any]) -> str:
    """The HTML of a sweep's page: parameters, the error rate by k, one row and link per k."""
    results = list(sweep.get("results", []))
    parameters = _key_value_table(
        "params",
        list(sweep.get("params", {}).items())
        + [(f"input {k}", v) for k, v in sweep.get("input", {}).items()]
        + [("passes", sweep.get("passes")), ("seconds", sweep.get("seconds"))],
    )
    rows = [
        [
            f"<a href='{escape(str(r['model']))}/{REPORT_NAME}'>{r['k']}</a>",
            _number(r.get("validation_error_rate")),
            _number(r.get("test_error_rate")),
            r.get("iterations"),
            _number(r.get("inertia")),
            _number(r.get("converged")),
            len(r.get("restarts", [])),
        ]
        for r in results
    ]
    table = _table(
        "results",
        ["k", "validation error", "test error", "iterations", "inertia", "converged", "restarts"],
        rows,
        raw_first=True,
    )
    figure = error_by_k_plot(
        [r["k"] for r in results],
        {
            "validation": [r.get("validation_error_rate") for r in results],
            "test": [r.get("test_error_rate") for r in results],
        },
    )
    body = (
        _source_html(sweep.get("input", {}))
        + _section("parameters", "Parameters", parameters)
        + _section("error-by-k", "Error rate by k", _image(figure, "error rate by k"))
        + _section("results", "Results per k (each k links to its model's page)", table)
    )
    return _page(f"k-means sweep: k = {_k_range(results)}", body)


def _k_range(results: Sequence[Mapping[str, Any]]) -> str:
    ks = [int(r["k"]) for r in results]
    return f"{min(ks)}..{max(ks)}" if ks else "none"


# -- HTML pieces --------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1150px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.55em; text-align: right; }
th { background: #f2f2f2; }
table.params td, table.metrics td { text-align: left; }
table.frequency { display: inline-table; margin-right: 1.2em; vertical-align: top; }
table.frequency caption { text-align: left; font-weight: 600; padding-bottom: 0.2em; }
td.own { background: #dcebf7; font-weight: 600; }
img { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
p.note { color: #666; font-style: italic; }
p.source { color: #666; }
"""

_SCRIPT = """
window.addEventListener("load", function () {
  var widths = Array.prototype.map.call(document.images, function (image) {
    return image.naturalWidth;
  });
  document.body.dataset.imagesLoaded = JSON.stringify(widths);
});
"""


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body><h1>{escape(title)}</h1>\n{body}\n<script>{_SCRIPT}</script></body></html>\n"
    )


def _section(anchor: str, heading: str, content: str) -> str:
    return f"<section id='{anchor}'><h2>{escape(heading)}</h2>\n{content}</section>\n"


def _source_html(source: Mapping[str, Any]) -> str:
    """One line naming the training (and test) input."""
    text = f"trained on {source.get('train') or 'an unrecorded input'}"
    if source.get("test"):
        text += f"; tested on {source['test']}"
    return f"<p class='source'>{escape(text)}</p>"


def _note(text: str) -> str:
    return f"<p class='note'>{escape(text)}</p>"


def _image(figure: Figure, alt: str) -> str:
    """The figure as an embedded PNG; the figure is closed."""
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=FIGURE_DPI)
    finally:
        plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img alt='{escape(alt)}' src='data:image/png;base64,{data}'>\n"


def _number(value: object) -> str:
    """Floats with 4 significant digits (or 6 for large ones), the rest as they are."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) >= 100 else f"{value:.4g}"
    return str(value)


def _key_value_table(kind: str, rows: Iterable[tuple[str, object]]) -> str:
    body = "".join(
        f"<tr><th>{escape(str(key))}</th><td>{escape(_number(value))}</td></tr>"
        for key, value in rows
    )
    return f"<table class='{kind}'>{body}</table>"


def _table(
    kind: str, header: Sequence[str], rows: Iterable[Sequence[object]], raw_first: bool = False
) -> str:
    """A table; with ``raw_first`` the first cell of each row is trusted HTML (a link)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{cell if raw_first and i == 0 else escape(_number(cell))}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table class='{kind}'><tr>{head}</tr>{body}</table>"
