"""Reading report pages back: tables, images and data attributes, with the standard library."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Table:
    attrs: dict[str, str]
    rows: list[list[str]] = field(default_factory=list)
    cell_attrs: list[list[dict[str, str]]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


class ReportParser(HTMLParser):
    """Collects tables (cells as text), images, links and every element's data attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[Table] = []
        self.images: list[dict[str, str]] = []
        self.links: list[str] = []
        self.data: list[tuple[str, dict[str, str]]] = []
        self.body: dict[str, str] = {}
        self._table: Table | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if any(name.startswith("data-") for name in values):
            self.data.append((tag, values))
        if tag == "body":
            self.body = values
        elif tag == "table":
            self._table = Table(values)
            self.tables.append(self._table)
        elif tag == "tr" and self._table is not None:
            self._table.rows.append([])
            self._table.cell_attrs.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
            self._table.cell_attrs[-1].append(values)
        elif tag == "img":
            self.images.append(values)
        elif tag == "a":
            self.links.append(values.get("href", ""))
            if self._table is not None:
                self._table.links.append(values.get("href", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._table is not None and self._cell is not None:
            self._table.rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def tables_of(self, kind: str) -> list[Table]:
        return [t for t in self.tables if t.attrs.get("class") == kind]


def parse_report(text: str) -> ReportParser:
    parser = ReportParser()
    parser.feed(text)
    parser.close()
    return parser


def frequency_counts(parser: ReportParser) -> dict[str, list[int]]:
    """Per inferred label (its name), the counts of true labels 0..9 of its frequency table."""
    out = {}
    for table in parser.tables_of("frequency"):
        counts_row = table.rows[1]
        attrs = table.cell_attrs[1]
        counts = [0] * 10
        for cell, cell_attrs in zip(counts_row, attrs, strict=True):
            if "data-true" in cell_attrs:
                counts[int(cell_attrs["data-true"])] = int(cell)
        out[table.attrs["data-label"]] = counts
    return out
