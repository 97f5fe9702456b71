"""Read a day of technicians and jobs from JSON or CSV into a solver ``Problem``.

The format is described in docs/day-file.md. Every error names the field and,
for CSV, the file and line, so the person who wrote the file can fix it.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dispatch.clock import SYSTEM_CLOCK
from dispatch.csvfile import (
    JOB_COLUMNS,
    TECHNICIAN_COLUMNS,
    TableError,
    job_record,
    read_table,
    skill_pairs,
    technician_record,
)
from dispatch.errors import Invalid
from dispatch.mapping import Day, DayClock, JobInfo, Span, day_problem, job_from, outside_skipped_hour
from dispatch.worktime import Away, honour
from solver import (
    Break,
    CostProfile,
    Depot,
    Job,
    JobKind,
    Location,
    ProblemError,
    Shift,
    Technician,
    TechnicianKind,
)

DEFAULT_TIMEZONE = "Europe/Helsinki"
MAX_NUMBER = 1e9
"""The largest number a day file may give anywhere (a count, an amount, a price, minutes):
larger ones are typing slips, and the compiled search holds them in 64-bit integers."""
# A tool a technician carries (or the depot lends) is a skill of this prefix at level 1.
TOOL_PREFIX = "tool:"
T = TypeVar("T")


class DayFileError(ValueError):
    """Bad input; ``str()`` says where (file, line or path) and what to fix."""


class _Reader:
    """Parses values, tracking where in the input we are for error messages."""

    def __init__(self, clock: DayClock, where: str) -> None:
        self.day = clock
        self.plan_date = clock.date
        self.path: list[str] = [where]

    @contextmanager
    def at(self, part: str) -> Iterator[None]:
        self.path.append(part)
        try:
            yield
        finally:
            self.path.pop()

    def fail(self, message: str) -> DayFileError:
        where = self.path[0]
        rest = ".".join(p for p in self.path[1:] if p)
        return DayFileError(f"{where}{', field ' + rest if rest else ''}: {message}")

    def get(self, obj: Mapping[str, Any], key: str, conv: Callable[[Any], T], default: Any = ...) -> T:
        with self.at(key):
            value = obj.get(key)
            if value is None or value == "":
                if default is ...:
                    raise self.fail("is required")
                return default  # type: ignore[no-any-return]
            return conv(value)

    def number(self, value: Any) -> float:
        if isinstance(value, bool):
            raise self.fail(f"expected a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self.fail(f"expected a number, got {value!r}") from None
        if not math.isfinite(number):
            raise self.fail(f"expected a finite number, got {value!r}")
        if abs(number) > MAX_NUMBER:
            raise self.fail(f"{value!r} is too large (at most {MAX_NUMBER:,.0f})")
        return number

    def minutes(self, value: Any) -> int:
        number = self.number(value)
        if number < 0:
            raise self.fail(f"must not be negative, got {value!r}")
        return round(number * 60)

    def cents(self, value: Any) -> int:
        number = self.number(value)
        if number < 0:
            raise self.fail(f"must not be negative, got {value!r}")
        return round(number * 100)

    def integer(self, value: Any) -> int:
        number = self.number(value)
        if number != int(number):
            raise self.fail(f"expected a whole number, got {value!r}")
        return int(number)

    def text(self, value: Any) -> str:
        return str(value).strip()

    def moment(self, value: Any) -> datetime:
        """``HH:MM`` on the plan date, or an ISO datetime (local without an offset), aware."""
        text = str(value).strip()
        tz = self.day.tz
        try:
            if "T" in text or len(text) > 8:
                moment = datetime.fromisoformat(text)
                return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)
            return datetime.combine(self.plan_date, time.fromisoformat(text), tzinfo=tz)
        except ValueError:
            raise self.fail(f"expected HH:MM or an ISO datetime, got {value!r}") from None

    def clock(self, value: Any) -> int:
        """``HH:MM`` on the plan date, or an ISO datetime, as seconds since midnight."""
        return self.day.seconds(self.moment(value))

    def location(self, value: Any) -> Location:
        if not isinstance(value, Mapping):
            raise self.fail("expected an object with lat and lon")
        lat = self.get(value, "lat", self.number)
        lon = self.get(value, "lon", self.number)
        with self.at("lat"):
            if not -90 <= lat <= 90:
                raise self.fail(f"latitude {lat} is outside -90..90")
        with self.at("lon"):
            if not -180 <= lon <= 180:
                raise self.fail(f"longitude {lon} is outside -180..180")
        return Location(lat, lon)

    def skills(self, value: Any) -> dict[str, int]:
        if isinstance(value, str):
            pairs = skill_pairs(value)
            if pairs is None:
                raise self.fail(f"expected code:level pairs separated by ';', each code once, got {value!r}")
            value = pairs
        return self._counts(value, "expected an object of skill code to level", "level must not be negative")

    def tools(self, value: Any) -> dict[str, int]:
        """A list of tool names as skills ``tool:<name>`` at level 1 (see TOOL_PREFIX)."""
        items = [p for p in value.split(";") if p.strip()] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise self.fail("expected a list of tool names")
        out = {}
        for i, item in enumerate(items):
            name = str(item).strip()
            if not name or isinstance(item, (dict, list)):
                with self.at(f"[{i}]"):
                    raise self.fail(f"expected a tool name, got {item!r}")
            out[TOOL_PREFIX + name] = 1
        return out

    def amounts(self, value: Any) -> dict[str, int]:
        """An object of part type to a whole number of units, none negative."""
        return self._counts(value, "expected an object of part type to a number of units", "must not be negative")

    def _counts(self, value: Any, not_an_object: str, negative: str) -> dict[str, int]:
        """An object of names to whole numbers, none negative; the messages say what of."""
        if not isinstance(value, Mapping):
            raise self.fail(not_an_object)
        out = {}
        for name, count in value.items():
            with self.at(str(name)):
                out[str(name)] = self.integer(count)
                if out[str(name)] < 0:
                    raise self.fail(negative)
        return out

    def window(self, value: Any) -> Span:
        if isinstance(value, str):
            start, sep, end = value.partition("-")
            if not sep:
                raise self.fail(f"expected HH:MM-HH:MM, got {value!r}")
            value = {"start": start, "end": end}
        if not isinstance(value, Mapping):
            raise self.fail("expected an object with start and end")
        opens = self.get(value, "start", self.moment)
        closes = self.get(value, "end", self.moment)
        if self.day.seconds(closes) < self.day.seconds(opens):
            with self.at("end"):
                raise self.fail("window ends before it starts")
        return opens, closes

    def windows(self, value: Any) -> tuple[Span, ...]:
        items = [p for p in value.split(";") if p.strip()] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise self.fail("expected a list of windows")
        out = []
        for i, item in enumerate(items):
            with self.at(f"[{i}]"):
                out.append(self.window(item))
        return tuple(out)

    def choice(self, options: type[Any]) -> Callable[[Any], Any]:
        def conv(value: Any) -> Any:
            try:
                return options(str(value).strip())
            except ValueError:
                allowed = ", ".join(o.value for o in options)
                raise self.fail(f"must be one of {allowed}, got {value!r}") from None

        return conv


def _technician(r: _Reader, raw: Mapping[str, Any]) -> tuple[Technician, str]:
    tech_id = r.get(raw, "id", r.text)
    home = r.get(raw, "home", r.location)
    end = r.get(raw, "end", r.location, None)
    shift_raw = _shift_for_date(r, raw)
    with r.at("shift"):
        start_s = r.get(shift_raw, "start", r.clock)
        end_s = r.get(shift_raw, "end", r.clock)
        if end_s <= start_s:
            with r.at("end"):
                raise r.fail("shift ends before it starts")
        lunch = None
        brk = shift_raw.get("break")
        if brk:
            with r.at("break"):
                earliest = r.get(brk, "earliest", r.clock)
                latest = r.get(brk, "latest", r.clock)
                if latest < earliest:
                    with r.at("latest"):
                        raise r.fail("is before earliest")
                length = r.get(brk, "duration_min", r.minutes)
                if max(earliest, start_s) > min(latest, end_s - length):
                    raise r.fail(
                        f"a break of {length // 60} min starting {_hm(earliest)}-{_hm(latest)} does not fit in the "
                        f"shift {_hm(start_s)}-{_hm(end_s)}"
                    )
                lunch = Break(earliest, latest, length)
    cost_raw = raw.get("cost") or {}
    with r.at("cost"):
        cost = CostProfile(
            per_hour_cents=r.get(cost_raw, "per_hour", r.cents, 0),
            per_km_cents=r.get(cost_raw, "per_km", r.cents, 0),
            per_job_cents=r.get(cost_raw, "per_job", r.cents, 0),
            overtime_per_hour_cents=r.get(cost_raw, "overtime_per_hour", r.cents, 0),
        )
    max_jobs = r.get(raw, "max_jobs", r.integer, None)
    if max_jobs is not None and max_jobs < 0:
        with r.at("max_jobs"):
            raise r.fail("must not be negative")
    tech = Technician(
        id=tech_id,
        start=home,
        end=end,
        shift=Shift(start_s, end_s, lunch),
        name=r.get(raw, "name", r.text, ""),
        kind=r.get(raw, "kind", r.choice(TechnicianKind), TechnicianKind.EMPLOYEE),
        skills={**r.get(raw, "skills", r.skills, {}), **r.get(raw, "tools", r.tools, {})},
        max_jobs=max_jobs,
        max_overtime_s=r.get(raw, "max_overtime_min", r.minutes, 0),
        cost=cost,
        capacity=r.get(raw, "stock", r.amounts, {}),
    )
    return tech, tech.name


def _hm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _shift_for_date(r: _Reader, raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """The shift of the plan date: ``shift``, else the one of ``shifts`` with that date,
    else the weekday's of the weekly template ``week`` (docs/working-time.md); empty
    when the technician does not work that day."""
    if raw.get("shift"):
        shift = raw["shift"]
        if not isinstance(shift, Mapping):
            with r.at("shift"):
                raise r.fail("expected an object")
        return shift
    shifts = raw.get("shifts")
    week = raw.get("week")
    if not isinstance(shifts, list) and not (week is not None and shifts is None):
        with r.at("shifts"):
            raise r.fail("is required (a list of shifts with a date), unless a weekly template (week) is given")
    for i, shift in enumerate(shifts or []):
        with r.at(f"shifts[{i}]"):
            if not isinstance(shift, Mapping):
                raise r.fail("expected an object")
            if r.get(shift, "date", r.text) == r.plan_date.isoformat():
                return shift
    if week is None:
        return {}
    if not isinstance(week, list):
        with r.at("week"):
            raise r.fail("expected a list of weekdays with start and end")
    for i, day in enumerate(week):
        with r.at(f"week[{i}]"):
            if not isinstance(day, Mapping):
                raise r.fail("expected an object")
            weekday = r.get(day, "weekday", r.integer)
            if not 1 <= weekday <= 7:
                with r.at("weekday"):
                    raise r.fail(f"must be 1 (Monday) to 7 (Sunday), got {weekday}")
            if weekday == r.plan_date.isoweekday():
                return day
    return {}


def _absent(r: _Reader, raw: Mapping[str, Any], tech: Technician) -> Technician | None:
    """``tech``'s day less the technician's ``absences`` (``dispatch.worktime.honour``): None
    on a day off; what a planned day cannot hold is refused naming the absence."""
    absences = raw.get("absences")
    if not absences:
        return tech
    away = []
    with r.at("absences"):
        if not isinstance(absences, list):
            raise r.fail("expected a list of {start, end, reason}")
        for i, absence in enumerate(absences):
            with r.at(f"[{i}]"):
                if not isinstance(absence, Mapping):
                    raise r.fail("expected an object")
                start, end = r.get(absence, "start", r.clock), r.get(absence, "end", r.clock)
                if end <= start:
                    with r.at("end"):
                        raise r.fail("an absence must end after it starts")
                away.append(Away(start, end, f"absences[{i}]"))
    try:
        return honour(tech, away, r.plan_date)
    except Invalid as exc:
        raise DayFileError(f"{r.path[0]}, field {exc.detail}") from None


def _job(r: _Reader, raw: Mapping[str, Any]) -> tuple[Job, JobInfo]:
    job_id = r.get(raw, "id", r.text)
    preferred = r.get(raw, "preferred_window", r.window, None)
    crew = r.get(raw, "crew_size", r.integer, 1)
    if crew not in (1, 2):
        with r.at("crew_size"):
            raise r.fail(f"must be 1 or 2, got {crew}")
    priority = r.get(raw, "priority", r.integer, 3)
    if priority not in (1, 2, 3):
        with r.at("priority"):
            raise r.fail(f"must be 1, 2 or 3, got {priority}")
    location = r.get(raw, "location", r.location, None)
    if location is None:
        with r.at("location"):
            raise r.fail("is required (an address alone needs geocoding, which the service does)")
    job = job_from(
        r.day,
        job_id,
        location,
        r.get(raw, "duration_min", r.minutes),
        kind=r.get(raw, "kind", r.choice(JobKind), JobKind.INSTALL),
        skills={**r.get(raw, "skills", r.skills, {}), **r.get(raw, "tools", r.tools, {})},
        windows=r.get(raw, "windows", r.windows, ()),
        preferred_window=preferred,
        soft_penalty_per_min_cents=r.get(raw, "soft_penalty_per_min", r.cents, 0),
        release_at=r.get(raw, "release_at", r.moment, None),
        deadline=r.get(raw, "deadline", r.moment, None),
        priority=priority,
        pinned_technician_id=r.get(raw, "pinned_technician_id", r.text, None),
        preferred_technician_id=r.get(raw, "preferred_technician_id", r.text, None),
        crew_size=crew,
        demand=r.get(raw, "parts", r.amounts, {}),
    )
    customer = raw.get("customer") or {}
    info = JobInfo(
        address=r.get(raw, "address", r.text, ""),
        customer_name=str(customer.get("name") or "") if isinstance(customer, Mapping) else "",
        customer_phone=str(customer.get("phone") or "") if isinstance(customer, Mapping) else "",
        notes=r.get(raw, "notes", r.text, ""),
    )
    return job, info


def _depot(r: _Reader, raw: Any) -> Depot:
    """The day's depot: where technicians may stop once to restock and fetch tools."""
    if not isinstance(raw, Mapping):
        raise r.fail("expected an object with location, stop_min, tools and restock")
    return Depot(
        location=r.get(raw, "location", r.location),
        stop_s=r.get(raw, "stop_min", r.minutes, 0),
        restock=r.get(raw, "restock", r.amounts, {}),
        skills=r.get(raw, "tools", r.tools, {}),
    )


def _zone(name: str, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DayFileError(f"{where}, field timezone: unknown time zone {name!r}") from None


def _build(
    plan_date: date,
    tz: ZoneInfo,
    region: str,
    techs_raw: Sequence[tuple[str, Mapping[str, Any]]],
    jobs_raw: Sequence[tuple[str, Mapping[str, Any]]],
    depot: Depot | None = None,
) -> Day:
    technicians, names, jobs, infos = [], {}, [], {}
    clock = DayClock(plan_date, tz)
    seen: dict[str, str] = {}
    for where, raw in techs_raw:
        r = _Reader(clock, where)
        tech_id = r.get(raw, "id", r.text)
        if tech_id in seen:
            raise DayFileError(f"{where}, field id: technician {tech_id} is also {seen[tech_id]}")
        seen[tech_id] = where
        if not _shift_for_date(r, raw):
            continue  # not working on the plan date
        try:
            tech, name = _technician(r, raw)
            working = _absent(r, raw, tech)
        except ProblemError as exc:  # the engine's own bounds (its 360 h, say), named by the record
            raise DayFileError(f"{where}: {exc}") from None
        if working is not None:
            working = outside_skipped_hour(working, clock)
        if working is None:
            continue  # away all day
        tech = working
        technicians.append(tech)
        names[tech.id] = name
    for where, raw in jobs_raw:
        r = _Reader(clock, where)
        try:
            job, info = _job(r, raw)
        except ProblemError as exc:
            raise DayFileError(f"{where}: {exc}") from None
        jobs.append(job)
        infos[job.id] = info
    try:
        problem = day_problem(technicians, jobs, depot)
    except ProblemError as exc:
        raise DayFileError(str(exc)) from None
    return Day(plan_date, tz, problem, region, names, infos)


def _parse_date(value: str, where: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DayFileError(f"{where}: date must be YYYY-MM-DD, got {value!r}") from None


@dataclass(frozen=True)
class DayRecords:
    """A JSON day file as written (docs/day-file.md): its date, zone and region
    read, its technicians and jobs checked to be objects but otherwise the raw
    records, each with where it stands (``day.json jobs[3]``) for messages.
    The one reader of the JSON day format: ``load_json`` (the CLI) builds the
    engine's day from it, ``dispatch.seed`` stores it."""

    name: str
    date: date
    timezone: ZoneInfo
    region: str
    technicians: list[tuple[str, Mapping[str, Any]]]
    jobs: list[tuple[str, Mapping[str, Any]]]
    depot: Any = None


DAY_FIELDS = frozenset({"date", "timezone", "region", "technicians", "jobs", "depot"})
TECHNICIAN_FIELDS = frozenset(
    {"id", "name", "kind", "home", "end", "skills", "shifts", "shift", "week", "absences", "max_jobs"}
    | {"max_overtime_min", "cost", "tools", "stock"}
)
JOB_FIELDS = frozenset(
    {"id", "kind", "location", "address", "customer", "duration_min", "skills", "crew_size", "windows"}
    | {"preferred_window", "soft_penalty_per_min", "release_at", "deadline", "priority", "notes", "tools", "parts"}
    | {"pinned_technician_id", "preferred_technician_id"}
)
"""The fields of a JSON day, a technician and a job (docs/day-file.md): any other is a
misspelling (``window`` for ``windows``) that would be ignored, so it is refused."""


def _refuse_unknown(where: str, raw: Mapping[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(str(key) for key in raw if key not in known)
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise DayFileError(f"{where}, field {unknown[0]}: not a field of the day file{hint}; see docs/day-file.md")


def read_json(path: Path, plan_date: str | None = None) -> DayRecords:
    """The records of a JSON day file; ``plan_date`` (YYYY-MM-DD) overrides the file's date."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DayFileError(f"{path.name} line {exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise DayFileError(f"{path.name}: expected a JSON object with technicians and jobs")
    _refuse_unknown(path.name, data, DAY_FIELDS)
    when = plan_date or data.get("date")
    if not when:
        raise DayFileError(f"{path.name}, field date: is required (or pass --date)")
    day = _parse_date(str(when), f"{path.name}, field date" if not plan_date else "--date")
    tz = _zone(str(data.get("timezone") or DEFAULT_TIMEZONE), path.name)
    for key in ("technicians", "jobs"):
        if not isinstance(data.get(key), list):
            raise DayFileError(f"{path.name}, field {key}: is required (a list)")
    techs = [(f"{path.name} technicians[{i}]", t) for i, t in enumerate(data["technicians"])]
    jobs = [(f"{path.name} jobs[{i}]", j) for i, j in enumerate(data["jobs"])]
    for where, item in techs + jobs:
        if not isinstance(item, Mapping):
            raise DayFileError(f"{where}: expected an object")
    return DayRecords(path.name, day, tz, str(data.get("region") or ""), techs, jobs, data.get("depot"))


def load_json(path: Path, plan_date: str | None = None) -> Day:
    """Read a JSON day file; ``plan_date`` (YYYY-MM-DD) overrides the file's date. A field
    the format does not have (a misspelling) is refused, naming it."""
    records = read_json(path, plan_date)
    for where, raw in records.technicians:
        _refuse_unknown(where, raw, TECHNICIAN_FIELDS)
    for where, raw in records.jobs:
        _refuse_unknown(where, raw, JOB_FIELDS)
    depot = None
    if records.depot is not None:
        reader = _Reader(DayClock(records.date, records.timezone), records.name)
        with reader.at("depot"):
            depot = _depot(reader, records.depot)
    return _build(records.date, records.timezone, records.region, records.technicians, records.jobs, depot)


def _csv_rows(path: Path, header_hint: str, columns: Sequence[str]) -> list[tuple[str, dict[str, str]]]:
    """The non-blank rows of a CSV file of the day format, each with where it stands; a
    column not among ``columns`` (a misspelling that would be ignored) is refused."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DayFileError(f"{path}: file not found") from None
    try:
        table = read_table(data, header_hint)
    except TableError as exc:
        raise DayFileError(f"{path.name}: {exc}") from None
    for name in table.header:
        if name and name not in columns:
            close = difflib.get_close_matches(name, columns, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise DayFileError(f"{path.name}: unknown column '{name[:60]}'{hint}; the columns are {', '.join(columns)}")
    out = []
    for row in table.rows():
        where = f"{path.name} line {row.line}"
        if row.problem is not None:
            raise DayFileError(f"{where}: {row.problem}")
        out.append((where, row.values))
    return out


def load_csv(jobs_path: Path, technicians_path: Path | None = None, plan_date: str | None = None) -> Day:
    """Read a jobs CSV and its technicians CSV (default: ``technicians.csv`` beside it)."""
    techs_path = technicians_path or jobs_path.with_name("technicians.csv")
    tz = ZoneInfo(DEFAULT_TIMEZONE)
    day = _parse_date(plan_date, "--date") if plan_date else SYSTEM_CLOCK.today(tz)
    techs = [
        (where, technician_record(row))
        for where, row in _csv_rows(techs_path, "id,name,kind,home_lat,...", TECHNICIAN_COLUMNS)
    ]
    jobs = [(where, job_record(row)) for where, row in _csv_rows(jobs_path, "id,kind,lat,lon,...", JOB_COLUMNS)]
    return _build(day, tz, "", techs, jobs)


def load_day(path: Path, plan_date: str | None = None, technicians_path: Path | None = None) -> Day:
    """Read a day from ``path`` (``.json``, or ``.csv`` of jobs with a technicians CSV)."""
    if not path.exists():
        raise DayFileError(f"{path}: file not found")
    if path.suffix.lower() == ".json":
        return load_json(path, plan_date)
    if path.suffix.lower() == ".csv":
        return load_csv(path, technicians_path, plan_date)
    raise DayFileError(f"{path}: expected a .json day file or a .csv jobs file")
