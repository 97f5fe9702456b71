"""The CSV form of the day format (docs/day-file.md), read the same way by the
command line (``dispatch.dayfile.load_csv``: ``jobs.csv`` and ``technicians.csv``)
and by the API's import (``dispatch.imports``: ``jobs.csv``).

- ``read_table``: the file as a table. UTF-8 with or without a byte-order
  mark; comma- or semicolon-separated, whichever the header line uses; blank
  lines before the header skipped; header names ignoring case and spaces;
  every cell a stripped string; lines numbered as a spreadsheet shows them
  (the header is line 1; blank lines count and are skipped); a row with more
  cells than the header (an unquoted comma in an address, say) or with quotes
  that do not pair up is kept with its problem, and reading goes on.
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

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


class TableError(ValueError):
    """The data is not a readable CSV table; ``str()`` says why (the caller names the file)."""


@dataclass(frozen=True)
class Row:
    """One non-blank row: its line as a spreadsheet shows it, its cells by column
    (``""`` for a missing one), and ``problem`` when it cannot be read as a row (more
    cells than the header, or quotes that do not pair up); its values are then empty."""

    line: int
    values: dict[str, str]
    problem: str | None = None


@dataclass(frozen=True)
class Table:
    """A CSV file's header (normalised names) and its records after the header: each
    with the line it starts on (the header is line 1) and its cells, or the reason it
    could not be read."""

    header: list[str]
    records: list[tuple[int, list[str] | str]]

    @property
    def cells(self) -> list[list[str]]:
        """The cells of every readable record."""
        return [cells for _, cells in self.records if not isinstance(cells, str)]

    def rows(self) -> Iterator[Row]:
        """The non-blank rows, in order, the unreadable ones among them with their problem."""
        for line, cells in self.records:
            if isinstance(cells, str):
                yield Row(line, {}, cells)
            elif not any(cells):
                continue
            elif len(cells) > len(self.header):
                problem = f"this line has {len(cells)} cells, the header {len(self.header)}; quote commas in values"
                yield Row(line, {}, problem)
            else:
                yield Row(
                    line, {name: cells[i] if i < len(cells) else "" for i, name in enumerate(self.header) if name}
                )


JOB_COLUMNS = (
    "id",
    "date",
    "date_from",
    "date_to",
    "preferred_date",
    "days",
    "region",
    "kind",
    "lat",
    "lon",
    "address",
    "customer_name",
    "customer_phone",
    "duration_min",
    "skills",
    "crew_size",
    "windows",
    "preferred_start",
    "preferred_end",
    "soft_penalty_per_min",
    "release_at",
    "deadline",
    "priority",
    "pinned_technician_id",
    "preferred_technician_id",
    "depends_on",
    "notes",
)
"""The columns of a jobs CSV (docs/day-file.md; the API import reads them all, the
command line those of one day)."""

TECHNICIAN_COLUMNS = (
    "id",
    "name",
    "kind",
    "home_lat",
    "home_lon",
    "end_lat",
    "end_lon",
    "skills",
    "shift_start",
    "shift_end",
    "break_earliest",
    "break_latest",
    "break_duration_min",
    "max_jobs",
    "max_overtime_min",
    "cost_per_hour",
    "cost_per_km",
    "cost_per_job",
    "overtime_per_hour",
)
"""The columns of a technicians CSV (docs/day-file.md)."""


def read_table(data: bytes, header_hint: str = "id,kind,lat,lon,...") -> Table:
    """The CSV ``data`` as a table; ``TableError`` when it is not one
    (``header_hint`` shows what the first line should be).

    Quotes are read strictly: a record whose quotes do not pair up (an unclosed
    ``"``, or ``"Gate code 12"34"``) is kept as an unreadable record with its line,
    and reading goes on at the next line, so no row of the file is lost unreported."""
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
    records = _records(text.splitlines(keepends=True), sep)
    while records and isinstance(records[0][1], list) and not any(records[0][1]):  # blank lines before the header
        records.pop(0)
    if not records:
        raise TableError(empty)
    first, header = records[0]
    if isinstance(header, str):
        raise TableError(f"is not a readable CSV (the header line: {header})")
    return Table(
        [_cell(h).lower().replace(" ", "_") for h in header],
        [
            (line - first + 1, cells if isinstance(cells, str) else [_cell(c) for c in cells])
            for line, cells in records[1:]
        ],
    )


def _records(lines: list[str], sep: str) -> list[tuple[int, list[str] | str]]:
    """Each record with the (1-based) line it starts on: its cells, or why it is unreadable."""
    out: list[tuple[int, list[str] | str]] = []
    start = 0
    while start < len(lines):
        reader = csv.reader(lines[start:], delimiter=sep, strict=True)
        read = 0
        try:
            for cells in reader:
                out.append((start + read + 1, cells))
                read = reader.line_num
            return out
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                why = f"a value is longer than {csv.field_size_limit():,} characters"
            else:
                why = f'quotes do not pair up ({exc}); a value with quotes is written "like ""this"""'
            out.append((start + read + 1, why))
            start += read + 1
    return out


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
    as code → level text, stripped; None when a part is not such a pair or a code comes
    twice (``wardrobe:1;wardrobe:3`` says two things: neither is taken)."""
    pairs = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        code, sep, level = part.partition(":")
        if not sep or not code.strip() or code.strip() in pairs:
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
