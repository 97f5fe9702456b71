"""CSV import of jobs (``POST /v1/jobs/import``): the good rows are stored, every
bad row is reported with its line, field and what is wrong.

The file is the ``jobs.csv`` of docs/day-file.md, one job a row, with these
differences for the service:

- **Dates.** A ``date`` column (``YYYY-MM-DD``) gives a row's plan date; rows
  without one take the ``date`` query parameter of the request (the column
  wins when both are given). Times written ``HH:MM`` (``windows``,
  ``preferred_start``/``preferred_end``, ``release_at``, ``deadline``) are taken
  on that date in the service time zone (``Settings.timezone``,
  ``DISPATCH_TIMEZONE``). Full ISO 8601 datetimes are accepted anywhere a time
  is (without an offset they are in the service time zone); a window of two
  datetimes is written ``START/END`` since ``-`` is part of a date. A row with
  ``HH:MM`` times and no date from either source is refused (field ``date``).
- **Places.** ``lat``/``lon`` may be left empty when ``address`` is given: the
  address is then geocoded (cached, see ``dispatch.geocode``). A failed
  geocode is that row's error (field ``address``); once the geocoder has been
  found unreachable the remaining rows get the same error without waiting
  on it again.
- **Extra columns** ``region`` and ``depends_on`` are read too (``depends_on``
  may name a job already stored or one on any line of the file), and the columns of
  work over several days: ``date_from`` and ``date_to`` (the job's
  ``date_range``, given together; such a row's date is its own, never the
  request's), ``preferred_date`` and ``days``. A column of any
  other name refuses the whole file (field ``file``): a misspelt column would
  otherwise be dropped without a word. Header names ignore case and spaces.
- **Ids.** ``id`` is required; an id already stored is replaced (as ``PUT
  /v1/jobs/{id}``); an id that appears twice in the file is refused on its
  later lines.
- **Lines** are numbered as a spreadsheet shows them: the header is line 1, the
  first job line 2. Blank lines count and are skipped. A row with more cells
  than the header (an unquoted comma in an address, say) is refused.
- **The file** is UTF-8 (a byte-order mark is fine), comma- or
  semicolon-separated (whichever the header line uses), at most
  ``MAX_BYTES`` and ``MAX_ROWS`` rows. Something that is not such a CSV, or
  has no ``id`` column, is refused whole: ``Invalid`` naming ``file``.

Each row is validated into ``dispatch.inputs.JobIn`` and stored as
``PUT /v1/jobs/{id}`` stores it (``BookingService.put_job``: a booked job's promise and
a confirmed window hold) inside its own savepoint, so a row that fails writes
nothing and the others are kept. The caller commits. All geocoding happens
before the first write, so the geocoder's cache (its own transaction) never
waits on this one's locks.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from dispatch import catalog, csvfile, live
from dispatch.booking import BookingService
from dispatch.catalog import Geocoder
from dispatch.csvfile import JOB_COLUMNS, Table, job_record, skill_pairs
from dispatch.errors import DispatchError, Invalid, Unavailable
from dispatch.inputs import CLOCK, ID_PATTERN, JobIn, LatLon
from dispatch.tables import JobRow

MAX_BYTES = 5_000_000
MAX_ROWS = 10_000
COLUMNS = JOB_COLUMNS
TEXT_COLUMNS = ("kind", "region", "address", "notes", "pinned_technician_id", "preferred_technician_id", "depends_on")
ID = re.compile(ID_PATTERN)
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
HHMM_RANGE = re.compile(r"^(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})$")


@dataclass(frozen=True, order=True)
class RowError:
    """One refused value: the line as a spreadsheet shows it (header = 1), the column, what is wrong."""

    line: int
    field: str
    message: str


@dataclass
class ImportResult:
    job_ids: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return len(self.job_ids)


class _Problems(Exception):
    """A row's values that could not be read, as (column, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(problems)
        self.problems = problems


def _refuse(message: str) -> Invalid:
    return Invalid(f"file: {message}", "file")


def read_table(data: bytes) -> Table:
    """The file as a table of the CSV day format (``dispatch.csvfile``), its header
    checked against ``COLUMNS`` and its size and rows within the limits."""
    if len(data) > MAX_BYTES:
        raise _refuse(f"is larger than {MAX_BYTES // 1_000_000} MB; split it into several files")
    try:
        table = csvfile.read_table(data)
    except csvfile.TableError as exc:
        raise _refuse(str(exc)) from None
    _check_header(table.header, table.cells)
    if len(table.records) > MAX_ROWS:
        raise _refuse(f"has {len(table.records)} rows; at most {MAX_ROWS} a file")
    return table


def _check_header(header: list[str], rows: list[list[str]]) -> None:
    if "id" not in header:
        shown = ",".join(header[:6])[:120]
        raise _refuse(f"has no id column; the first line must be the header of docs/day-file.md, got '{shown}'")
    seen: set[str] = set()
    for i, name in enumerate(header):
        if not name:
            if any(len(row) > i and row[i] for row in rows):
                raise _refuse(f"column {i + 1} has values but no name in the header")
            continue
        if name in seen:
            raise _refuse(f"column '{name}' appears twice in the header")
        seen.add(name)
        if name not in COLUMNS:
            raise _refuse(f"unknown column '{name[:60]}'; the columns are {', '.join(COLUMNS)}")


class _RowReader:
    """Turns one row's cells into the body of a ``JobIn``, collecting problems per column."""

    def __init__(self, values: Mapping[str, str], default_date: dt.date | None, tz: ZoneInfo) -> None:
        self.values = values
        self.tz = tz
        self.problems: list[tuple[str, str]] = []
        # A row with a range of days takes its date from it, not from the request's.
        ranged = bool(values.get("date_from") or values.get("date_to"))
        self.day = None if ranged else default_date
        if self.values.get("date"):
            self.day = self._date(self.values["date"])

    def fail(self, column: str, message: str) -> None:
        self.problems.append((column, message))

    def _date(self, text: str, column: str = "date") -> dt.date | None:
        try:
            if DATE.match(text):
                return dt.date.fromisoformat(text)
        except ValueError:
            pass
        self.fail(column, f"expected YYYY-MM-DD, got '{text}'")
        return None

    def moment(self, column: str, text: str) -> dt.datetime | None:
        """``HH:MM`` on the row's date in the service zone, or an ISO datetime."""
        if re.match(r"^\d{1,2}:\d{2}$", text):
            clock = text.zfill(5)
            if not CLOCK.match(clock):
                self.fail(column, f"expected a time 00:00-23:59, got '{text}'")
                return None
            if self.day is None:
                if "date" not in (c for c, _ in self.problems):
                    self.fail("date", "HH:MM times need a date: add a date column or pass ?date=YYYY-MM-DD")
                return None
            return dt.datetime.combine(self.day, dt.time.fromisoformat(clock), tzinfo=self.tz)
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            self.fail(column, f"expected HH:MM or an ISO 8601 datetime, got '{text}'")
            return None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=self.tz)

    def windows(self, text: str) -> list[dict[str, dt.datetime]] | None:
        out = []
        for part in (p.strip() for p in text.split(";")):
            if not part:
                continue
            if "/" in part:
                start, _, end = part.partition("/")
            elif match := HHMM_RANGE.match(part):
                start, end = match.groups()
            else:
                self.fail("windows", f"expected HH:MM-HH:MM ranges separated by ';' (or START/END), got '{part}'")
                return None
            a, b = self.moment("windows", start.strip()), self.moment("windows", end.strip())
            if a is None or b is None:
                return None
            out.append({"start": a, "end": b})
        return out

    def skills(self, text: str) -> dict[str, Any] | None:
        pairs = skill_pairs(text)
        if pairs is None or not all(pairs.values()):
            self.fail(
                "skills",
                f"expected code:level pairs separated by ';', each code once (e.g. kitchen:2;sofa:1), got '{text}'",
            )
            return None
        return {code: _number(level) for code, level in pairs.items()}

    def body(self) -> dict[str, Any]:
        """The row as a ``JobIn`` body: the day format's job record
        (``csvfile.job_record``) with its text read into numbers and datetimes."""
        record = job_record(self.values)
        body: dict[str, Any] = {key: record[key] for key in TEXT_COLUMNS if key in record}
        for key in ("duration_min", "crew_size", "priority", "soft_penalty_per_min"):
            if key in record:
                body[key] = _number(record[key])
        if self.day is not None:
            body["date"] = self.day
        if "location" in record:
            lat, lon = record["location"]["lat"], record["location"]["lon"]
            if lat and lon:
                body["location"] = record["location"]
            else:
                self.fail("lon" if lat else "lat", f"is required when {'lat' if lat else 'lon'} is given")
        if "customer" in record:
            body["customer"] = record["customer"]
        if "skills" in record and (skills := self.skills(record["skills"])) is not None:
            body["skills"] = skills
        if "windows" in record and (windows := self.windows(record["windows"])) is not None:
            body["windows"] = windows
        if "preferred_window" in record:
            start, end = record["preferred_window"]["start"], record["preferred_window"]["end"]
            if start and end:
                a, b = self.moment("preferred_start", start), self.moment("preferred_end", end)
                if a is not None and b is not None:
                    body["preferred_window"] = {"start": a, "end": b}
            else:
                self.fail(
                    "preferred_end" if start else "preferred_start", "preferred_start and preferred_end go together"
                )
        for key in ("release_at", "deadline"):
            if key in record and (moment := self.moment(key, record[key])) is not None:
                body[key] = moment
        self._days(body)
        return body

    def _days(self, body: dict[str, Any]) -> None:
        """The columns of work over several days: ``date_from`` and ``date_to`` (the
        job's ``date_range``, together), ``preferred_date`` and ``days``."""
        first, last = (self.values.get(k, "").strip() for k in ("date_from", "date_to"))
        if first and last:
            a, b = self._date(first, "date_from"), self._date(last, "date_to")
            if a is not None and b is not None:
                body["date_range"] = {"from": a, "to": b}
        elif first or last:
            self.fail("date_to" if first else "date_from", "date_from and date_to go together")
        preferred = self.values.get("preferred_date", "").strip()
        if preferred and (day := self._date(preferred, "preferred_date")) is not None:
            body["preferred_date"] = day
        if days := self.values.get("days", "").strip():
            body["days"] = _number(days)


def _number(text: str) -> Any:
    """An integer when the text is one (so ``Literal[1, 2]`` fields accept it), else the text."""
    return int(text) if re.fullmatch(r"[+-]?\d{1,9}", text) else text


_MODEL_RULES = {
    "give a location or an address": "address",
    "give a date, a date_range, a window": "date",
    "deadline is before release_at": "deadline",
}


def _rule(message: str) -> str | None:
    """The column a rule across columns blames (None for an error of one value)."""
    return next((column for text, column in _MODEL_RULES.items() if text in message), None)


def _column(loc: tuple[Any, ...], message: str) -> str:
    """The CSV column a ``JobIn`` validation error points at."""
    if (ruled := _rule(message)) is not None:
        return ruled
    if not loc:
        return "id"
    head = str(loc[0])
    if head == "location":
        return str(loc[1]) if len(loc) > 1 and loc[1] in ("lat", "lon") else "lat"
    if head == "customer":
        return f"customer_{loc[1]}" if len(loc) > 1 else "customer_name"
    if head == "date_range":
        return "date_to" if len(loc) > 1 and loc[1] == "to" else "date_from"
    if head == "preferred_window":
        return f"preferred_{loc[1]}" if len(loc) > 1 and loc[1] in ("start", "end") else "preferred_end"
    return head


def _message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    given = error.get("input")
    if isinstance(given, str | int | float) and not isinstance(given, bool) and error.get("type") != "missing":
        message += f" (got '{given}')"
    return message


def parse_row(
    values: Mapping[str, str], default_date: dt.date | None, tz: ZoneInfo
) -> tuple[str, JobIn] | list[tuple[str, str]]:
    """A row's id and job, or its problems as (column, message) pairs."""
    reader = _RowReader(values, default_date, tz)
    job_id = values.get("id", "")
    if not job_id:
        reader.fail("id", "is required")
    elif len(job_id) > 64 or not ID.match(job_id):
        reader.fail("id", f"must be 1-64 letters, digits or _ . : - (not dots alone), got '{job_id[:80]}'")
    body = reader.body()
    try:
        job = JobIn.model_validate(body)
    except ValidationError as exc:
        named = {column for column, _ in reader.problems}
        unreadable = bool(reader.problems)  # then rules across columns would mislead
        for error in exc.errors():
            message = str(error.get("msg", ""))
            column = _column(tuple(error.get("loc", ())), message)
            if column not in named and not (unreadable and _rule(message) is not None):
                reader.fail(column, _message(error))
                named.add(column)
        return reader.problems
    return reader.problems if reader.problems else (job_id, job)


def _begin_for_savepoints(session: Session) -> None:
    """Start the outer transaction for real. SQLite's Python driver only
    begins one before a data change, so a SAVEPOINT issued first would open
    (and its RELEASE commit) a transaction of its own; ``BEGIN IMMEDIATE``
    also takes the write lock now, not halfway through the file."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.dbapi_connection
    if raw is not None and not getattr(raw, "in_transaction", True):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def import_jobs(
    session: Session,
    data: bytes,
    service: BookingService,
    geocode: Geocoder | None = None,
    default_date: dt.date | None = None,
    *,
    now: dt.datetime,
) -> ImportResult:
    """Import the jobs CSV ``data`` (see the module docstring), stamped ``now``: each row
    is stored as ``PUT /v1/jobs/{id}`` stores it (``service.put_job``), so a row that
    would change what a booking or a confirmed window promised is refused as that PUT
    is. The caller commits."""
    tz, default_region = service.tz, service.default_region
    table = read_table(data)
    result = ImportResult()
    ready: list[tuple[int, str, JobIn]] = []
    first_line: dict[str, int] = {}
    places = _PlaceFinder(geocode)
    for row in table.rows():
        line = row.line
        if row.problem is not None:
            result.errors.append(RowError(line, "row", row.problem))
            continue
        parsed = parse_row(row.values, default_date, tz)
        if isinstance(parsed, list):
            result.errors.extend(RowError(line, column, message) for column, message in parsed)
            continue
        job_id, job = parsed
        if job_id in first_line:
            result.errors.append(RowError(line, "id", f"job {job_id} is also on line {first_line[job_id]}"))
            continue
        first_line[job_id] = line
        if job.location is None:
            try:
                job = job.model_copy(update={"location": places.find(job.address)})
            except DispatchError as exc:
                result.errors.append(RowError(line, exc.field or "address", exc.detail))
                continue
        ready.append((line, job_id, job))
    if ready:
        _begin_for_savepoints(session)
        # The days change (a job's new day and the one it leaves): their live schedules
        # first, in the order every writer locks them in.
        days = {(catalog.job_date(j, tz), j.region or default_region) for _, _, j in ready}
        for _, job_id, _ in ready:
            if (stored := session.get(JobRow, job_id)) is not None:
                days.add((stored.date, stored.region))
        for day, region in sorted(days):
            live.touch(session, day, region, now)
    homes: dict[str, list[tuple[float, float]]] = {}
    for line, job_id, job in _waited_for_first(ready):
        savepoint = session.begin_nested()
        try:
            service.put_job(session, job_id, job, None, now, homes=homes)
        except DispatchError as exc:
            savepoint.rollback()
            # A row's field is its column: ``depends_on.job_id`` is the ``depends_on`` column.
            column = (exc.field or "id").split(".")[0]
            if column == "job_id":  # the row's job as a whole (a booked job's promise): its id
                column = "id"
            if column == "location":  # the place is the row's lat and lon
                column = "lat"
            result.errors.append(RowError(line, column, exc.detail))
        except IntegrityError as exc:
            savepoint.rollback()
            result.errors.append(RowError(line, "id", f"could not be stored: {str(exc.orig).splitlines()[0]}"))
        else:
            savepoint.commit()
            result.job_ids.append(job_id)
    result.errors.sort()
    return result


def _waited_for_first(ready: list[tuple[int, str, JobIn]]) -> list[tuple[int, str, JobIn]]:
    """The rows in file order, except that a job another row waits for (``depends_on``)
    is stored before that row, wherever it is in the file: a row may name a job further
    down. Rows waiting for each other in a circle are refused, as ``PUT`` refuses one."""
    row_of = {job_id: (line, job_id, job) for line, job_id, job in ready}
    ordered: list[tuple[int, str, JobIn]] = []
    placed: set[str] = set()
    for row in ready:
        chain: list[tuple[int, str, JobIn]] = []
        current: tuple[int, str, JobIn] | None = row
        while current is not None and current[1] not in placed:
            chain.append(current)
            placed.add(current[1])
            waits_for = current[2].depends_on
            current = row_of.get(waits_for.job_id) if waits_for is not None else None
        ordered.extend(reversed(chain))
    return ordered


class _PlaceFinder:
    """Geocodes the rows of one import; after one 'unreachable' it stops asking."""

    def __init__(self, geocode: Geocoder | None) -> None:
        self.geocode: Callable[[str], LatLon] | None = geocode
        self.down: Unavailable | None = None

    def find(self, address: str) -> LatLon:
        if self.geocode is None:
            raise Invalid("lat/lon: required (no geocoder is configured to place the address)", "lat")
        if self.down is not None:
            raise self.down
        try:
            return self.geocode(address)
        except Unavailable as exc:
            self.down = exc
            raise
