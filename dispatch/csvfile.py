"""The CSV form of the day format (docs/day-file.md), read the same way by the
command line (``dispatch.dayfile.load_csv``: ``jobs.csv`` and ``technicians.csv``)
and by the API's import (``dispatch.imports``: ``jobs.csv``).

- ``read_table``: the file as a table. UTF-8 with or without a byte-order
  mark; comma- or semicolon-separated, whichever the header line uses; blank
  lines before the header skipped; header names ignoring case and spaces;
  every cell a stripped string; lines numbered as a spreadsheet shows them
  (the header is line 1; blank lines count and are skipped); a row with more
  cells than the header is marked (an unquoted comma in an address, say).
- ``job_record``, ``technician_record``: a row as the day format's record (the
  JSON shape), which each reader then checks and converts its own way;
  ``skill_pairs`` reads a skills cell.

What differs between the two readers stays with them: the import refuses
unknown columns, reads ``date``, ``region`` and ``depends_on`` and ``START/END``
windows of ISO datetimes, caps the file's size and rows and reports every bad
row; the command line plans one day (``--date``), ignores other columns and
stops at the first error.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

_TOO_LONG = "\x00too-many-cells:"  # marks a row with more cells than the header


class TableError(ValueError):
    """The data is not a readable CSV table; ``str()`` says why (the caller names the file)."""


@dataclass(frozen=True)
class Row:
    """One non-blank row: its line as a spreadsheet shows it, its cells by column
    (``""`` for a missing one), and its cell count when it has more than the header."""

    line: int
    values: dict[str, str]
    too_many_cells: int | None = None


@dataclass(frozen=True)
class Table:
    """A CSV file's header (normalised names) and rows (row ``i`` is line ``i + 2``)."""

    header: list[str]
    cells: list[list[str]]

    def rows(self) -> Iterator[Row]:
        """The non-blank rows, in order."""
        for index, cells in enumerate(self.cells):
            line = index + 2
            if not any(cells):
                continue
            if cells[0].startswith(_TOO_LONG):
                yield Row(line, {}, int(cells[0].removeprefix(_TOO_LONG)))
                continue
            yield Row(line, {name: cells[i] if i < len(cells) else "" for i, name in enumerate(self.header) if name})

    def too_many_cells(self, row: Row) -> str:
        """What is wrong with a row of more cells than the header."""
        return f"this line has {row.too_many_cells} cells, the header {len(self.header)}; quote commas in values"


def read_table(data: bytes, header_hint: str = "id,kind,lat,lon,...") -> Table:
    """The CSV ``data`` as a table; ``TableError`` when it is not one
    (``header_hint`` shows what the first line should be)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TableError("is not UTF-8 text; save the sheet as 'CSV UTF-8'") from None
    if "\x00" in text:
        raise TableError("is not a CSV text file (it contains NUL bytes)")
    empty = f"is empty; the first line must be the header ({header_hint})"
    if not text.strip():
        raise TableError(empty)
    header_line = text.lstrip("\r\n").split("\n", 1)[0]
    sep = ";" if header_line.count(";") > header_line.count(",") else ","

    def too_long(cells: list[str]) -> list[str]:
        return [f"{_TOO_LONG}{len(cells)}"]

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = pd.read_csv(
                io.StringIO(text),
                sep=sep,
                header=None,
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=False,
                index_col=False,
                engine="python",
                on_bad_lines=too_long,
            )
    except (ValueError, pd.errors.ParserError) as exc:  # EmptyDataError and csv errors among them
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TableError(f"is not a readable CSV ({reason})") from None
    cells = [[_cell(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    while cells and not any(cells[0]):  # blank lines before the header
        cells.pop(0)
    if not cells:
        raise TableError(empty)
    return Table([h.lower().replace(" ", "_") for h in cells[0]], cells[1:])


def _cell(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def job_record(row: Mapping[str, str]) -> dict[str, Any]:
    """A ``jobs.csv`` row as a job record of the day format: ``lat``/``lon`` as
    ``location``, ``preferred_start``/``preferred_end`` as ``preferred_window``,
    ``customer_name``/``customer_phone`` as ``customer`` (each when either of its
    cells is given, the other then ``""``); every other non-empty cell under its
    column's name. Values stay text (``skills`` and ``windows`` in their CSV form)."""
    record: dict[str, Any] = {k: v for k, v in row.items() if v and k not in _GROUPED}
    for key, (first, second), (a, b) in _GROUPS:
        if row.get(first) or row.get(second):
            record[key] = {a: row.get(first, ""), b: row.get(second, "")}
    return record


def skill_pairs(text: str) -> dict[str, str] | None:
    """A skills cell (``code:level`` pairs separated by ``;``, e.g. ``kitchen:2;sofa:1``)
    as code → level text, stripped; None when a part is not such a pair."""
    pairs = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        code, sep, level = part.partition(":")
        if not sep or not code.strip():
            return None
        pairs[code.strip()] = level.strip()
    return pairs


_GROUPS = (
    ("location", ("lat", "lon"), ("lat", "lon")),
    ("preferred_window", ("preferred_start", "preferred_end"), ("start", "end")),
    ("customer", ("customer_name", "customer_phone"), ("name", "phone")),
)
_GROUPED = {column for _, columns, _ in _GROUPS for column in columns}


def technician_record(row: Mapping[str, str]) -> dict[str, Any]:
    """A ``technicians.csv`` row as a technician record of the day format (one
    ``shift`` of the plan date, its ``break`` when ``break_duration_min`` is given)."""
    brk = None
    if row.get("break_duration_min"):
        brk = {
            "earliest": row.get("break_earliest"),
            "latest": row.get("break_latest"),
            "duration_min": row.get("break_duration_min"),
        }
    end = {"lat": row["end_lat"], "lon": row.get("end_lon")} if row.get("end_lat") else None
    return {
        "id": row.get("id"),
        "name": row.get("name"),
        "kind": row.get("kind") or None,
        "home": {"lat": row.get("home_lat"), "lon": row.get("home_lon")},
        "end": end,
        "skills": row.get("skills") or {},
        "shift": {"start": row.get("shift_start"), "end": row.get("shift_end"), "break": brk},
        "max_jobs": row.get("max_jobs") or None,
        "max_overtime_min": row.get("max_overtime_min") or None,
        "cost": {
            "per_hour": row.get("cost_per_hour"),
            "per_km": row.get("cost_per_km"),
            "per_job": row.get("cost_per_job"),
            "overtime_per_hour": row.get("overtime_per_hour"),
        },
    }
