"""What callers hand the services: validated input models shared by the API
(request bodies) and the CSV import. Table rows are built from these, never
the other way round."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from typing import Annotated, Any, Literal, get_args, get_origin
from zoneinfo import ZoneInfo

import annotated_types
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from solver.problem import HORIZON_DAYS

CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
SkillCode = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]
ID_PATTERN = r"^[A-Za-z0-9_.:-]*[A-Za-z0-9_:-][A-Za-z0-9_.:-]*$"
"""Letters, digits and ``_.:-``, not dots alone (``.`` and ``..`` are no names a URL can reach)."""
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]
MAX_SKILLS = 100
"""Skill codes a job or technician may list (a catalogue of trades has a few dozen)."""
NeededLevel = Annotated[int, Field(ge=1, le=10, description="the least level of the skill needed, 1 to 10")]
"""A job's need of a skill: level 0 would ask nothing (and was taken by some paths and
refused by others), so a skill not needed is left out."""
NO_NUL = r"^[^\x00]*$"
"""Text PostgreSQL can store: anything but NUL characters."""

EARLIEST_DATE = dt.date(2000, 1, 1)
LATEST_DATE = dt.date(2099, 12, 31)
"""The dates the service plans for; anything outside is a typo (and would overflow
the conversions between local time and UTC at the ends of the calendar)."""

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_date(value: Any) -> Any:
    """Only ``YYYY-MM-DD`` (pydantic alone would also read ``0`` as 1970-01-01)."""
    if isinstance(value, dt.date) or (isinstance(value, str) and ISO_DATE.match(value)):
        return value
    raise ValueError("expected a date as YYYY-MM-DD")


def _iso_datetime(value: Any) -> Any:
    """Only ISO 8601 date-times (pydantic alone would also read numbers as Unix time)."""
    if isinstance(value, dt.datetime) or (isinstance(value, str) and ISO_DATETIME.match(value)):
        return value
    raise ValueError("expected an ISO 8601 date-time with offset, e.g. 2026-12-01T09:00:00+02:00")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
"""A date given as ``YYYY-MM-DD``."""
SERVED_DATES = annotated_types.Interval(ge=EARLIEST_DATE, le=LATEST_DATE)
"""The dates the service plans for, as a constraint (in a body or a query)."""
PlanDate = Annotated[IsoDate, SERVED_DATES]
"""A date the service plans for."""


def _aware_in_range(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("needs a UTC offset, e.g. 2026-12-01T09:00:00+02:00")
    if not EARLIEST_DATE <= value.date() <= LATEST_DATE:
        raise ValueError(f"must lie between {EARLIEST_DATE} and {LATEST_DATE}")
    return value


Moment = Annotated[dt.datetime, BeforeValidator(_iso_datetime), AfterValidator(_aware_in_range)]
"""An aware datetime within the planning calendar."""


def field_error(model: str, field: str, message: str, value: Any) -> ValidationError:
    """A validation error located at ``field``, for checks across fields that
    should still name the field they blame (not the model as a whole)."""
    detail = InitErrorDetails(type=PydanticCustomError("value_error", message), loc=(field,), input=value)
    return ValidationError.from_exception_data(model, [detail])


def _clock_time(value: str) -> str:
    if not CLOCK.match(value):
        raise ValueError("expected HH:MM")
    return value


ClockTime = Annotated[str, Field(description="HH:MM local time"), AfterValidator(_clock_time)]
"""A local clock time written ``HH:MM``."""


def _clock_or_moment(value: Any) -> Any:
    if isinstance(value, str) and CLOCK.match(value):
        return value
    if isinstance(value, str) and ISO_DATETIME.match(value):
        with contextlib.suppress(ValueError):  # not a date-time after all: refused below
            value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime) and value.utcoffset() is not None:
        return value
    raise ValueError("expected HH:MM, or a date-time with offset on the shift's date, e.g. 2026-12-04T08:00:00+02:00")


ShiftTime = Annotated[
    str | dt.datetime,
    BeforeValidator(_clock_or_moment),
    Field(
        description="HH:MM local time on the shift's date, or an ISO 8601 date-time with offset on that date",
        examples=["08:00", "2026-12-04T08:00:00+02:00"],
    ),
]
"""A time of a shift's day: ``HH:MM`` local, or an aware date-time on the shift's date."""


def clock_minutes(text: str) -> int:
    """``HH:MM`` as minutes since midnight."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def day_minutes(value: str | dt.datetime, day: dt.date, tz: ZoneInfo) -> int | None:
    """A ``ShiftTime`` as minutes since ``day``'s midnight in ``tz``; None for a date-time
    that is not on ``day`` there."""
    if isinstance(value, str):
        return clock_minutes(value)
    local = value.astimezone(tz)
    return local.hour * 60 + local.minute if local.date() == day else None


def _mentions(annotation: Any, kind: type) -> bool:
    """Whether ``kind`` (or a container of that kind) appears anywhere in ``annotation``."""
    return annotation is kind or get_origin(annotation) is kind or any(_mentions(a, kind) for a in get_args(annotation))


class Strict(BaseModel):
    """Input models refuse unknown fields, true/false where a number belongs, and NUL characters in text."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """Pydantic alone would read JSON true/false as 1/0 (also as skill levels)."""
        field = cls.model_fields.get(info.field_name or "")
        if field is None or _mentions(field.annotation, bool):
            return value
        if isinstance(value, dict):  # a mapping of numbers (skills); a nested model checks its own fields
            items = list(value.values()) if _mentions(field.annotation, dict) else []
        else:
            items = value if isinstance(value, list) else [value]
        if any(isinstance(item, bool) for item in items):
            raise ValueError("expected a number or text, not true/false")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class LatLon(Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class BreakIn(Strict):
    earliest: ShiftTime
    latest: ShiftTime
    duration_min: int = Field(ge=0, le=240)

    @model_validator(mode="after")
    def _order(self) -> BreakIn:
        # Mixed forms are ordered once read on the shift's date (``dispatch.catalog``).
        if type(self.earliest) is type(self.latest) and _before(self.latest, self.earliest):
            raise ValueError("break.latest is before break.earliest")
        return self


class ShiftIn(Strict):
    date: PlanDate
    start: ShiftTime
    end: ShiftTime
    break_: BreakIn | None = Field(default=None, alias="break")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _order(self) -> ShiftIn:
        if type(self.start) is type(self.end) and not _before(self.start, self.end):
            raise ValueError("shift end must be after its start")
        return self


def _before(a: str | dt.datetime, b: str | dt.datetime) -> bool:
    """Whether ``a`` is before ``b`` (both HH:MM, or both date-times)."""
    if isinstance(a, str) and isinstance(b, str):
        return clock_minutes(a) < clock_minutes(b)
    assert isinstance(a, dt.datetime) and isinstance(b, dt.datetime)
    return a < b


class CostIn(Strict):
    per_hour: float = Field(default=0.0, ge=0, le=10_000, description="euros per hour")
    per_km: float = Field(default=0.0, ge=0, le=1_000, description="euros per km")
    per_job: float = Field(default=0.0, ge=0, le=100_000, description="euros per visit")
    overtime_per_hour: float = Field(
        default=0.0, ge=0, le=10_000, description="euros per overtime hour, on top of per_hour"
    )


MAX_ABSENCE_DAYS = 366
"""The longest absence one entry may cover (a longer one is a typo)."""


class WeekBreakIn(Strict):
    """The lunch of a weekday of the template: local clock times."""

    earliest: ClockTime
    latest: ClockTime
    duration_min: int = Field(ge=0, le=240)


class WeekdayShiftIn(Strict):
    """One weekday of a technician's weekly template (``weekday`` 1 = Monday ... 7 =
    Sunday), local clock times in the dispatch time zone; the lunch lies inside the shift."""

    weekday: int = Field(ge=1, le=7, description="ISO weekday: 1 = Monday ... 7 = Sunday")
    start: ClockTime
    end: ClockTime
    break_: WeekBreakIn | None = Field(default=None, alias="break")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _order(self) -> WeekdayShiftIn:
        start, end = clock_minutes(self.start), clock_minutes(self.end)
        if end <= start:
            raise field_error("WeekdayShiftIn", "end", "shift end must be after its start", self.end)
        brk = self.break_
        if brk is not None:
            earliest, latest = clock_minutes(brk.earliest), clock_minutes(brk.latest)
            if latest < earliest:
                raise field_error("WeekdayShiftIn", "break", "break.latest is before break.earliest", brk.latest)
            if earliest < start or latest + brk.duration_min > end:
                raise field_error("WeekdayShiftIn", "break", "the break must lie inside the shift", brk.earliest)
        return self


class AbsenceIn(Strict):
    """A technician away from ``start`` until ``end`` (date-times with offset): a holiday
    or day off where it covers a day's shift, else a few hours inside that day."""

    start: Moment
    end: Moment
    reason: str = Field(default="", max_length=200, pattern=NO_NUL)

    @model_validator(mode="after")
    def _order(self) -> AbsenceIn:
        if self.end <= self.start:
            raise field_error("AbsenceIn", "end", "an absence must end after it starts", self.end)
        if self.end - self.start > dt.timedelta(days=MAX_ABSENCE_DAYS):
            raise field_error("AbsenceIn", "end", f"an absence lasts at most {MAX_ABSENCE_DAYS} days", self.end)
        return self


class TechnicianIn(Strict):
    """A technician with their shifts (PUT replaces the whole technician)."""

    name: str = Field(default="", max_length=200)
    kind: Literal["employee", "partner"] = "employee"
    region: str | None = Field(default=None, max_length=64)
    home: LatLon
    end: LatLon | None = None
    skills: dict[SkillCode, Annotated[int, Field(ge=0, le=10)]] = Field(default_factory=dict, max_length=MAX_SKILLS)
    shifts: list[ShiftIn] = Field(default_factory=list, max_length=400)
    week: list[WeekdayShiftIn] = Field(
        default_factory=list,
        max_length=7,
        description="the weekly template: the shift of each weekday without an explicit shift (dispatch time zone)",
    )
    absences: list[AbsenceIn] = Field(default_factory=list, max_length=400)
    max_jobs: int | None = Field(default=None, ge=0, le=100)
    max_overtime_min: int = Field(default=0, ge=0, le=600)
    cost: CostIn = Field(default_factory=CostIn)

    @field_validator("shifts")
    @classmethod
    def _one_shift_a_day(cls, value: list[ShiftIn]) -> list[ShiftIn]:
        dates = [s.date for s in value]
        if len(set(dates)) != len(dates):
            raise ValueError("two shifts on one date")
        return value

    @field_validator("week")
    @classmethod
    def _one_shift_a_weekday(cls, value: list[WeekdayShiftIn]) -> list[WeekdayShiftIn]:
        days = [s.weekday for s in value]
        if len(set(days)) != len(days):
            raise ValueError("each weekday may appear once")
        return value


class WindowIn(Strict):
    start: Moment
    end: Moment

    @model_validator(mode="after")
    def _order(self) -> WindowIn:
        if self.end < self.start:
            raise ValueError("window ends before it starts")
        return self


MAX_LAG_HOURS = 24 * 366
"""The longest lag a dependency may name (a measure a year before its install is a typo)."""
MAX_LAG_DAYS = 261
"""The longest lag in working days (a year of Mondays to Fridays)."""


class DependsOnIn(Strict):
    """The job this one waits for, and the lags after that job's end (docs/model.md,
    "Dependencies"): start no earlier than ``min_lag_hours`` and, when given, no later
    than ``max_lag_hours`` after it ends; in working days (Monday to Friday), no
    earlier than the ``min_lag_days``-th working day after the day it ends and, when
    given, no later than the ``max_lag_days``-th. Lags of both kinds hold together."""

    job_id: Id
    min_lag_hours: float = Field(default=0.0, ge=0, le=MAX_LAG_HOURS)
    max_lag_hours: float | None = Field(default=None, ge=0, le=MAX_LAG_HOURS)
    min_lag_days: int = Field(default=0, ge=0, le=MAX_LAG_DAYS)
    max_lag_days: int | None = Field(default=None, ge=0, le=MAX_LAG_DAYS)

    @model_validator(mode="after")
    def _order(self) -> DependsOnIn:
        if self.max_lag_hours is not None and self.max_lag_hours < self.min_lag_hours:
            raise field_error(
                "DependsOnIn", "max_lag_hours", "max_lag_hours is below min_lag_hours", self.max_lag_hours
            )
        if self.max_lag_days is not None and self.max_lag_days < self.min_lag_days:
            raise field_error("DependsOnIn", "max_lag_days", "max_lag_days is below min_lag_days", self.max_lag_days)
        return self

    @property
    def min_lag_min(self) -> int:
        """The minimum lag in whole minutes."""
        return round(self.min_lag_hours * 60)

    @property
    def max_lag_min(self) -> int | None:
        """The maximum lag in whole minutes (None: no maximum)."""
        return None if self.max_lag_hours is None else round(self.max_lag_hours * 60)


def _job_id_alone(value: Any) -> Any:
    """A plain job id means that job, with no lag."""
    return {"job_id": value} if isinstance(value, str) else value


MAX_HORIZON_DAYS = HORIZON_DAYS
"""The longest span of days one plan (and so one job's date range) covers: the engine's horizon."""


class DateRangeIn(Strict):
    """Days a job may be done on, first and last included (``from`` and ``to``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: PlanDate = Field(alias="from")
    to: PlanDate

    @model_validator(mode="after")
    def _order(self) -> DateRangeIn:
        if self.to < self.from_:
            raise field_error("DateRangeIn", "to", "the range ends before it starts", self.to.isoformat())
        if (self.to - self.from_).days >= MAX_HORIZON_DAYS:
            raise field_error(
                "DateRangeIn", "to", f"a range spans at most {MAX_HORIZON_DAYS} days", self.to.isoformat()
            )
        return self

    def contains(self, day: dt.date) -> bool:
        """True when ``day`` lies in the range."""
        return self.from_ <= day <= self.to


class CustomerIn(Strict):
    name: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=40)


class JobIn(Strict):
    """A job (PUT creates or replaces it). ``location`` may be left out when
    ``address`` is given: the address is then geocoded."""

    kind: Literal["measure", "install", "repair"] = "install"
    region: str | None = Field(default=None, max_length=64)
    date: PlanDate | None = Field(
        default=None,
        description="the day one-day plans put it on; defaults to preferred_date, else the start of date_range, "
        "else the first window's date",
    )
    date_range: DateRangeIn | None = Field(
        default=None,
        description='days it may be done on ({"from", "to"}, at most 14): a plan over several days picks one',
    )
    preferred_date: PlanDate | None = Field(
        default=None, description="the day the customer prefers, inside date_range (soft: a cost per day away)"
    )
    days: int = Field(
        default=1,
        ge=1,
        le=MAX_HORIZON_DAYS,
        description="consecutive working days of the same technician; duration_min is per day. Jobs of more "
        "than one day are planned by plans over several days (date_from/date_to)",
    )
    location: LatLon | None = None
    address: str = Field(default="", max_length=300)
    customer: CustomerIn = Field(default_factory=CustomerIn)
    duration_min: int = Field(gt=0, le=24 * 60)
    skills: dict[SkillCode, NeededLevel] = Field(default_factory=dict, max_length=MAX_SKILLS)
    crew_size: Literal[1, 2] = 1
    windows: list[WindowIn] = Field(default_factory=list, max_length=20)
    preferred_window: WindowIn | None = None
    soft_penalty_per_min: float = Field(default=0.0, ge=0, le=1_000, description="euros per minute outside it")
    release_at: Moment | None = None
    deadline: Moment | None = None
    priority: Literal[1, 2, 3] = 3
    pinned_technician_id: Id | None = None
    preferred_technician_id: Id | None = None
    depends_on: Annotated[DependsOnIn | None, BeforeValidator(_job_id_alone)] = Field(
        default=None,
        description='the job this one waits for: {"job_id", "min_lag_hours", "max_lag_hours", "min_lag_days", '
        '"max_lag_days"} (days: working days, Monday to Friday), or a job id alone '
        "(no lag)",
    )
    notes: str = Field(default="", max_length=2000)
    confirmed: StrictBool | None = Field(
        default=None,
        description="true: promise the job's window to its customer (its visit's window in the published plan, "
        "else its only window); false: withdraw a dispatcher's promise; absent: unchanged",
    )
    # Read-only, set by the path, field events, cancelling and booking: accepted so that
    # a job read with GET can be PUT back as it is; a value other than the job's is
    # refused (``booking.BookingService.put_job``), since it could have no effect.
    id: Id | None = Field(default=None, description="read-only: the path's id")
    status: str | None = Field(
        default=None, max_length=16, pattern=NO_NUL, description="read-only: field events and cancelling set it"
    )
    booked: StrictBool | None = Field(default=None, description="read-only: a booking (POST /v1/bookings) sets it")
    # Read-only, set by field events (docs/live-day.md): accepted and ignored.
    reason: str | None = Field(default=None, max_length=32, pattern=NO_NUL, description="read-only; ignored")
    actual_start: Moment | None = Field(default=None, description="read-only; ignored")
    actual_end: Moment | None = Field(default=None, description="read-only; ignored")
    promised_window: WindowIn | None = Field(default=None, description="read-only; ignored (set it with confirmed)")
    failed_visit: dict[str, str | None] | None = Field(default=None, max_length=10, description="read-only; ignored")

    @model_validator(mode="after")
    def _where_and_when(self) -> JobIn:
        if self.location is None and not self.address:
            raise field_error("JobIn", "location", "give a location or an address", None)
        when = (self.date, self.date_range, self.preferred_date, self.release_at, self.deadline)
        if all(x is None for x in when) and not self.windows:
            raise field_error("JobIn", "date", "give a date, a date_range, a window, a release_at or a deadline", None)
        if self.release_at and self.deadline and self.deadline < self.release_at:
            raise field_error("JobIn", "deadline", "deadline is before release_at", self.deadline.isoformat())
        span = self.date_range
        for name in ("date", "preferred_date"):
            day = getattr(self, name)
            if span is not None and day is not None and not span.contains(day):
                raise field_error(
                    "JobIn", name, f"{day} is outside date_range {span.from_}..{span.to}", day.isoformat()
                )
        if span is None and self.preferred_date is not None and self.date not in (None, self.preferred_date):
            raise field_error(
                "JobIn", "preferred_date", "a job without date_range is done on its date; give a date_range", None
            )
        if span is not None and self.days > (span.to - span.from_).days + 1:
            raise field_error(
                "JobIn", "days", f"{self.days} days do not fit in date_range {span.from_}..{span.to}", self.days
            )
        _one_technician_for_days("JobIn", self.days, self.crew_size)
        return self


def _one_technician_for_days(model: str, days: int, crew_size: int) -> None:
    """Refuse a crew job of several days (naming ``days``): the engine plans a job of
    several days for one technician, so no plan could take it."""
    if days > 1 and crew_size > 1:
        raise field_error(
            model,
            "days",
            "a job of several days is done by one technician (crew_size 1): for a crew of two, "
            "store each day as a job of its own",
            days,
        )


_WHEN = (
    "{} is not taken here: a slot search is given its days (date_from, date_to) and offers the hours; "
    "a booking's day and hours are its slot"
)
_NOT_WANTED = {
    "windows": _WHEN,
    "preferred_window": _WHEN,
    "date": _WHEN,
    "date_range": _WHEN,
    "preferred_date": _WHEN,
    "pinned_technician_id": (
        "{} is not taken here: slots are offered among every qualified technician; to give the job to one, "
        "store it with PUT /v1/jobs and pin it"
    ),
    "": "{} is a field of a stored job (PUT /v1/jobs), not of a slot search or booking",
}
_NOT_WANTED["preferred_technician_id"] = _NOT_WANTED["pinned_technician_id"]


class _JobWanted(Strict):
    """What a slot search and a booking both say about the job."""

    kind: Literal["measure", "install", "repair"] = "install"
    region: str | None = Field(default=None, max_length=64)
    location: LatLon | None = None
    address: str = Field(default="", max_length=300)
    duration_min: int = Field(gt=0, le=12 * 60)
    skills: dict[SkillCode, NeededLevel] = Field(default_factory=dict, max_length=MAX_SKILLS)
    crew_size: Literal[1, 2] = 1
    priority: Literal[1, 2, 3] = 3
    release_at: Moment | None = Field(default=None, description="goods ready: no slot starts before it")
    deadline: Moment | None = Field(
        default=None, description="latest start; urgent repairs default to the repair standard (on site within 4 h)"
    )
    depends_on: Annotated[DependsOnIn | None, BeforeValidator(_job_id_alone)] = Field(
        default=None,
        description="the job this one waits for (done or in a published plan): no slot starts before its end "
        "plus min_lag_hours, or ends after its end plus max_lag_hours",
    )
    days: int = Field(
        default=1,
        ge=1,
        le=MAX_HORIZON_DAYS,
        description="consecutive working days of one technician (duration_min each day); a slot search offers "
        "each slot with the window of every day, and a booking promises the slot's hours on each of them",
    )

    @model_validator(mode="before")
    @classmethod
    def _job_fields_it_does_not_take(cls, data: Any) -> Any:
        """A field of a stored job (``JobIn``) that a slot search or booking does not
        take is refused saying why, not as an unknown field."""
        if not isinstance(data, dict):
            return data
        for name in sorted(set(data) & set(JobIn.model_fields) - set(cls.model_fields)):
            raise field_error(cls.__name__, name, _NOT_WANTED.get(name, _NOT_WANTED[""]).format(name), None)
        return data

    @model_validator(mode="after")
    def _somewhere(self) -> _JobWanted:
        if self.location is None and not self.address:
            raise field_error(type(self).__name__, "location", "give a location or an address", None)
        _one_technician_for_days(type(self).__name__, self.days, self.crew_size)
        return self


class SlotSearchIn(_JobWanted):
    """What the ordering system knows about a job it wants to book (POST /v1/slots/search)."""

    date_from: PlanDate
    date_to: PlanDate | None = Field(default=None, description="last date to search; defaults to date_from")
    limit: int | None = Field(default=None, ge=1, le=200, description="at most this many slots, best first")

    @model_validator(mode="after")
    def _dates(self) -> SlotSearchIn:
        if self.date_to is not None and self.date_to < self.date_from:
            raise field_error("SlotSearchIn", "date_to", "date_to is before date_from", self.date_to.isoformat())
        return self


class BookingIn(_JobWanted):
    """A booking (POST /v1/bookings): the job as for a slot search, the customer, and the chosen slot."""

    customer: CustomerIn = Field(default_factory=CustomerIn)
    notes: str = Field(default="", max_length=2000)
    slot: WindowIn

    @model_validator(mode="after")
    def _slot(self) -> BookingIn:
        if self.slot.end == self.slot.start:
            raise field_error("BookingIn", "slot", "the slot must last longer than an instant", None)
        if self.slot.end - self.slot.start > dt.timedelta(hours=12):
            raise field_error("BookingIn", "slot", "a slot lasts at most 12 hours", None)
        return self


class DisruptionIn(Strict):
    """Something that upsets a day (docs/replan.md): ``technician_unavailable``
    (``technician_id``, ``from``, optional ``until``: the rest of the day when left
    out), ``overrun`` (``job_id``, ``expected_end``) or ``running_late``
    (``technician_id``, ``at``, ``location``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    type: Literal["technician_unavailable", "overrun", "running_late"]
    technician_id: Id | None = None
    job_id: Id | None = None
    from_: Moment | None = Field(default=None, alias="from")
    until: Moment | None = None
    expected_end: Moment | None = None
    at: Moment | None = None
    location: LatLon | None = None

    @model_validator(mode="after")
    def _what_each_type_needs(self) -> DisruptionIn:
        needs = {
            "technician_unavailable": ("technician_id", "from_"),
            "overrun": ("job_id", "expected_end"),
            "running_late": ("technician_id", "at", "location"),
        }[self.type]
        for name in needs:
            if getattr(self, name) is None:
                shown = "from" if name == "from_" else name
                raise field_error("DisruptionIn", shown, f"{self.type} needs {shown}", None)
        # A field of another type would be stored, shown and routed by (the day, who
        # sees it in the feed) while meaning nothing to this one: refused, not ignored.
        allowed = set(needs) | ({"until"} if self.type == "technician_unavailable" else set())
        for name in ("technician_id", "job_id", "from_", "until", "expected_end", "at", "location"):
            if name not in allowed and getattr(self, name) is not None:
                shown = "from" if name == "from_" else name
                takes = ", ".join("from" if n == "from_" else n for n in (*needs, *sorted(allowed - set(needs))))
                raise field_error("DisruptionIn", shown, f"{self.type} takes no {shown} (it takes {takes})", None)
        if self.from_ is not None and self.until is not None and self.until <= self.from_:
            raise field_error("DisruptionIn", "until", "until must be after from", self.until.isoformat())
        return self
