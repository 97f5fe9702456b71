"""The one mapping between what the product stores or reads and the engine's
domain objects (``solver``): days and their clock, technicians, jobs and plans.

- ``DayClock``: a plan date in a time zone; aware datetimes ↔ the engine's
  seconds since that date's local midnight, both ways.
- ``Day``: one day to plan, the engine's ``Problem`` with the calendar and the
  people around it (built from a day file by ``dispatch.dayfile``, from stored
  rows by ``load_day``); ``day_problem`` is its ``Problem`` under the product's
  rules, for every reader of a day (day file, stored rows, the booking evaluator).
- ``job_from``: the only place a ``solver.Job`` is built from product data;
  each source (day file, stored row, slot search or booking request) turns its
  own shape into these plain values and aware datetimes. ``job_of`` is the one
  for a stored ``JobRow``.
- ``technician_of``: a stored technician and shift as a ``solver.Technician``.
- ``technicians_on``: the technicians who work on a date, each with the working time
  of that date (explicit shift, else weekly template, less absences:
  ``dispatch.worktime``, and less a ``technician_unavailable`` disruption of that
  day: ``unavailability``); every reader of a day's technicians comes here.
- ``solution_rows``: a checked ``Solution`` as the routes and visits stored for
  a plan version. (The live schedule's routes are ``solver.plan.WorkingRoute``,
  stored with ``routes_to_json``/``routes_from_json``.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, or_, select

from dispatch import jobdays
from dispatch.jobstate import CANCELLED, COMPLETED, OPEN, PLANNABLE, SCHEDULED, UNDER_WAY
from dispatch.tables import (
    AbsenceRow,
    DisruptionRow,
    EventRow,
    JobRow,
    LiveScheduleRow,
    PublishedPlanRow,
    RouteRow,
    ShiftRow,
    TechnicianRow,
    VisitRow,
    WeekShiftRow,
)
from dispatch.timeutil import from_storage, local_midnight, to_storage
from dispatch.worktime import Away, honour, shift_on
from solver import (
    RELOAD_ID,
    Break,
    CostProfile,
    Dependency,
    Depot,
    Job,
    JobKind,
    Location,
    Problem,
    ReasonCode,
    Shift,
    Solution,
    Technician,
    TechnicianKind,
    TimeWindow,
    Unassigned,
)
from solver.dependencies import cut
from solver.plan import routes_from_json
from solver.replan import Absence, with_absence

# The product's days let a technician whose last visit is a promise get home up to
# this long after their latest end, the visit itself ending in time
# (``solver.Problem.promise_late_home_s``; docs/model.md, "A promise's late way home").
PROMISE_LATE_HOME_S = 30 * 60


def day_problem(technicians: Iterable[Technician], jobs: Iterable[Job], depot: Depot | None = None) -> Problem:
    """The engine's problem of one of the product's days: these technicians and jobs
    under the product's rules (``PROMISE_LATE_HOME_S``); ``ProblemError`` as ``Problem``."""
    return Problem(tuple(technicians), tuple(jobs), depot=depot, promise_late_home_s=PROMISE_LATE_HOME_S)


Span = tuple[dt.datetime, dt.datetime]
"""A window as two aware datetimes (start, end)."""


@dataclass(frozen=True)
class DayClock:
    """A plan date in a time zone: the engine counts seconds from its local midnight.

    Seconds are on the local wall clock (09:00 is 32,400 on every date, the
    nights the clocks change included), as shifts are stored (minutes since
    midnight); an aware datetime in any zone is first read in ``tz``.
    """

    date: dt.date
    tz: ZoneInfo

    @property
    def midnight(self) -> dt.datetime:
        """The local midnight at the start of the date, aware."""
        return local_midnight(self.date, self.tz)

    @property
    def next_midnight(self) -> dt.datetime:
        """The local midnight at the end of the date (the next one's start), aware."""
        return local_midnight(self.date + dt.timedelta(days=1), self.tz)

    def seconds(self, moment: dt.datetime) -> int:
        """An aware datetime as seconds since the date's local midnight."""
        return int((moment.astimezone(self.tz) - self.midnight).total_seconds())

    def moment(self, seconds: int) -> dt.datetime:
        """Seconds since the date's local midnight as a local, aware datetime."""
        return self.midnight + dt.timedelta(seconds=seconds)

    def window(self, span: Span) -> TimeWindow:
        """A window of two aware datetimes as the engine's ``TimeWindow``."""
        return TimeWindow(self.seconds(span[0]), self.seconds(span[1]))

    def from_stored(self, stored: dt.datetime) -> int:
        """A stored datetime (UTC, naive from SQLite) as seconds since midnight."""
        return self.seconds(from_storage(stored, self.tz))

    def to_stored(self, seconds: int) -> dt.datetime:
        """Seconds since midnight as a datetime to store (UTC)."""
        return to_storage(self.moment(seconds))

    def skipped(self) -> tuple[int, int] | None:
        """The wall-clock seconds of the date that do not exist (the hour the clocks skip
        on the spring night, 03:00-04:00 in Helsinki), or None on other dates."""
        return _skipped(self.date, self.tz)


@functools.lru_cache(maxsize=256)
def _skipped(day: dt.date, tz: ZoneInfo) -> tuple[int, int] | None:
    midnight, next_midnight = local_midnight(day, tz), local_midnight(day + dt.timedelta(days=1), tz)
    if (next_midnight.astimezone(dt.UTC) - midnight.astimezone(dt.UTC)).total_seconds() >= 24 * 3600:
        return None  # no hour skipped (the autumn night repeats one instead)
    missing = []
    for minute in range(24 * 60):
        wall = dt.datetime.combine(day, dt.time(minute // 60, minute % 60), tzinfo=tz)
        if wall.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) != wall.replace(tzinfo=None):
            missing.append(minute)
    if not missing:
        return None
    return missing[0] * 60, (missing[-1] + 1) * 60


def outside_skipped_hour(tech: Technician, clock: DayClock) -> Technician | None:
    """``tech`` with a shift that does not run across the hour the clocks skip on
    ``clock``'s date (the engine counts wall-clock seconds, so a visit across it would
    seem to last an hour longer than it does): the shift keeps its longer side of that
    hour (and overtime that stays before it), or None when nothing of it is left. Other
    dates and shifts away from that hour are as they are. A shift over the night the
    clocks change is rare in this trade; before, such a plan could start a visit after
    its window closed, or end it before it began."""
    gap = clock.skipped()
    shift = tech.shift
    if gap is None or shift.end_s + tech.max_overtime_s <= gap[0] or shift.start_s >= gap[1]:
        return tech
    before, after = gap[0] - shift.start_s, shift.end_s - gap[1]
    if after >= before and after > 0:
        start, end, overtime = gap[1], shift.end_s, tech.max_overtime_s
    elif before > 0:
        start, end = shift.start_s, min(shift.end_s, gap[0])
        overtime = max(0, min(tech.max_overtime_s, gap[0] - end))
    else:
        return None
    lunch = shift.lunch
    if lunch is not None and max(lunch.earliest_s, start) > min(lunch.latest_s, end - lunch.duration_s):
        lunch = None  # it no longer fits: the shorter day goes without it
    return dataclasses.replace(tech, shift=Shift(start, end, lunch), max_overtime_s=overtime)


@dataclass(frozen=True)
class JobInfo:
    """What a person needs about a job besides what the solver uses."""

    address: str = ""
    customer_name: str = ""
    customer_phone: str = ""
    notes: str = ""
    # Its window is promised to the customer (the job's only window in the Problem):
    # booked through the API, or confirmed by the dispatcher.
    confirmed: bool = False
    booked: bool = False

    @property
    def promise_kind(self) -> str:
        """How its window came to be promised: ``booked`` or ``confirmed``."""
        return "booked" if self.booked else "confirmed"


@dataclass(frozen=True)
class Day:
    """One day to plan: the solver problem plus the calendar and people around it."""

    date: dt.date
    timezone: ZoneInfo
    problem: Problem
    region: str = ""
    technician_names: dict[str, str] = field(default_factory=dict)
    job_info: dict[str, JobInfo] = field(default_factory=dict)
    # Jobs of the day held back before the solve, with why (waiting for a job not done or
    # planned yet, or after that job's end plus the lag nothing of the day is left).
    held_back: dict[str, Unassigned] = field(default_factory=dict)

    @property
    def clock(self) -> DayClock:
        """The day's clock (seconds since its local midnight ↔ datetimes)."""
        return DayClock(self.date, self.timezone)

    def to_datetime(self, seconds: int) -> dt.datetime:
        """Seconds since the plan date's midnight as a local, offset-aware datetime."""
        return self.clock.moment(seconds)

    def to_seconds(self, moment: dt.datetime) -> int:
        """An aware datetime as seconds since the plan date's midnight."""
        return self.clock.seconds(moment)

    def stops(self) -> dict[str, Job]:
        """Every job by id, and the depot stop under ``RELOAD_ID`` when the day has a depot."""
        out = {j.id: j for j in self.problem.jobs}
        depot_stop = self.problem.reload_job()
        if depot_stop is not None:
            out[RELOAD_ID] = depot_stop
        return out


def job_from(
    clock: DayClock,
    job_id: str,
    location: Location,
    duration_s: int,
    *,
    kind: JobKind | str = JobKind.INSTALL,
    skills: Mapping[str, int] | None = None,
    windows: Iterable[Span] = (),
    preferred_window: Span | None = None,
    soft_penalty_per_min_cents: int = 0,
    release_at: dt.datetime | None = None,
    deadline: dt.datetime | None = None,
    priority: int = 3,
    pinned_technician_id: str | None = None,
    preferred_technician_id: str | None = None,
    crew_size: int = 1,
    demand: Mapping[str, int] | None = None,
) -> Job:
    """The engine's job on ``clock``'s day: times as aware datetimes, money in cents.

    Every source of jobs (day files, stored rows, slot searches and bookings)
    builds its ``Job`` here and nowhere else."""
    return Job(
        id=job_id,
        location=location,
        duration_s=duration_s,
        kind=JobKind(kind),
        skills=dict(skills or {}),
        windows=tuple(clock.window(w) for w in windows),
        preferred_window=clock.window(preferred_window) if preferred_window is not None else None,
        soft_penalty_per_min_cents=soft_penalty_per_min_cents,
        release_s=clock.seconds(release_at) if release_at is not None else None,
        deadline_s=clock.seconds(deadline) if deadline is not None else None,
        priority=priority,
        pinned_technician_id=pinned_technician_id,
        preferred_technician_id=preferred_technician_id,
        crew_size=crew_size,
        demand=dict(demand or {}),
    )


def job_of(row: JobRow, clock: DayClock, technician_ids: set[str]) -> Job:
    """The solver's job for one stored job (a preferred technician who does not
    work that day dropped; a pin is kept, see ``load_day``). A confirmed job's
    promise is its only window and it outranks all other work (priority tier 0):
    promises are hard for every plan (docs/booking.md)."""

    def aware(stored: dt.datetime | None) -> dt.datetime | None:
        return from_storage(stored, clock.tz) if stored is not None else None

    preferred = None
    if row.preferred_start is not None and row.preferred_end is not None:
        preferred = (from_storage(row.preferred_start, clock.tz), from_storage(row.preferred_end, clock.tz))
    windows = day_windows(row, clock)
    kept = promise_on(row, clock)
    promised = kept is not None
    if kept is not None:
        windows = [kept]
    return job_from(
        clock,
        row.id,
        Location(row.lat, row.lon),
        row.duration_min * 60,
        kind=row.kind,
        skills=row.skills,
        windows=windows,
        preferred_window=preferred,
        soft_penalty_per_min_cents=row.soft_penalty_per_min_cents,
        release_at=aware(row.release_at),
        deadline=aware(row.deadline),
        priority=0 if promised else row.priority,
        pinned_technician_id=row.pinned_technician_id,
        preferred_technician_id=row.preferred_technician_id if row.preferred_technician_id in technician_ids else None,
        crew_size=row.crew_size,
    )


def promise_on(row: JobRow, clock: DayClock) -> Span | None:
    """The window promised to a confirmed job's customer on ``clock``'s day, aware; None
    when it is not confirmed. A job of several days is promised the same hours on each
    of its days: its promise's local times of day on ``clock``'s date."""
    if not row.confirmed or row.promised_start is None or row.promised_end is None:
        return None
    start, end = from_storage(row.promised_start, clock.tz), from_storage(row.promised_end, clock.tz)
    shift = clock.date - start.date()
    if row.days <= 1 or not shift:
        return start, end
    return (
        dt.datetime.combine(clock.date, start.timetz().replace(tzinfo=None), clock.tz),
        dt.datetime.combine(end.date() + shift, end.timetz().replace(tzinfo=None), clock.tz),
    )


def promised_days(session: Session, row: JobRow, tz: ZoneInfo) -> frozenset[dt.date] | None:
    """The days the customer of the confirmed job of several days ``row`` was told it is
    done on, the only days a plan may put it on (``promise_on`` gives the hours of each).
    They are the days whose live schedules hold it: a booking puts it on the days it
    offered, a publish on the days of its plans, and the feed's ``job.window`` tells the
    customer each. With none held, the dates of its windows (a booking stores one a day).
    None when no day was told (not confirmed, of one day, or confirmed without windows
    and held nowhere): its promise's hours then hold on whichever days a plan puts it on."""
    if not row.confirmed or row.days <= 1:
        return None
    first, last = jobdays.possible_days(row)
    lives = session.exec(
        select(LiveScheduleRow).where(
            LiveScheduleRow.region == row.region,
            col(LiveScheduleRow.date) >= first,
            col(LiveScheduleRow.date) <= last,
        )
    ).all()
    held = {live.date for live in lives if any(row.id in r.job_ids for r in routes_from_json(live.routes))}
    if held:
        return frozenset(held)
    dates = {dt.datetime.fromisoformat(start).astimezone(tz).date() for start, _ in row.windows}
    return frozenset(dates) or None


def technician_of(row: TechnicianRow, shift: ShiftRow) -> Technician:
    """The solver's technician for one stored technician and shift."""
    lunch = None
    if shift.break_duration_min is not None and shift.break_earliest_min is not None:
        lunch = Break(
            shift.break_earliest_min * 60,
            (shift.break_latest_min or shift.break_earliest_min) * 60,
            shift.break_duration_min * 60,
        )
    end = Location(row.end_lat, row.end_lon) if row.end_lat is not None and row.end_lon is not None else None
    return Technician(
        id=row.id,
        start=Location(row.home_lat, row.home_lon),
        end=end,
        shift=Shift(shift.start_min * 60, shift.end_min * 60, lunch),
        name=row.name,
        kind=TechnicianKind(row.kind),
        skills=dict(row.skills),
        max_jobs=row.max_jobs,
        max_overtime_s=row.max_overtime_min * 60,
        cost=CostProfile(
            row.cost_per_hour_cents, row.cost_per_km_cents, row.cost_per_job_cents, row.overtime_per_hour_cents
        ),
    )


def disruptions_of(session: Session, day: dt.date, region: str) -> list[DisruptionRow]:
    """The disruptions recorded for a day and region, oldest first."""
    query = select(DisruptionRow).where(DisruptionRow.date == day, DisruptionRow.region == region)
    return list(session.exec(query.order_by(col(DisruptionRow.id))).all())


def unavailability(disruptions: Iterable[DisruptionRow], clock: DayClock) -> dict[str, tuple[Absence, ...]]:
    """Per technician, the times of the ``technician_unavailable`` reports of
    ``disruptions`` (in the order recorded), by start: from, until (None: the rest of the
    day), on ``clock``. A later report replaces the earlier ones it overlaps or touches
    (a correction: "back at 11:00, not 12:00"); reports apart from each other all count
    ("away 13:00-14:00", then "ill from 15:00"): ``superseded`` says which."""
    rows = list(disruptions)
    replaced = superseded(rows, clock)
    out: dict[str, list[Absence]] = {}
    for d in rows:
        if d.type != "technician_unavailable" or d.technician_id is None or d.from_at is None or d.id in replaced:
            continue
        absence = Absence(clock.from_stored(d.from_at), clock.from_stored(d.until_at) if d.until_at else None)
        out.setdefault(d.technician_id, []).append(absence)
    return {tech_id: tuple(sorted(spans, key=lambda a: a.from_s)) for tech_id, spans in out.items()}


def superseded(disruptions: Iterable[DisruptionRow], clock: DayClock) -> dict[int, DisruptionRow]:
    """Per disruption of ``disruptions`` (a day's, in the order recorded) that a later one
    replaced, the one that replaced it: a ``technician_unavailable`` replaced by a later
    one of its technician that overlaps or touches it (``unavailability``), an
    ``overrun`` by a later one of its job (``eta.reported_ends``), a ``running_late`` by a
    later one of its technician (``eta.late_reports``). What is not here is in effect."""
    out: dict[int, DisruptionRow] = {}
    last: dict[tuple[str, str | None], DisruptionRow] = {}
    kept: dict[str, list[tuple[DisruptionRow, Absence]]] = {}
    for d in disruptions:
        assert d.id is not None
        if d.type == "technician_unavailable":
            if d.technician_id is None or d.from_at is None:
                continue
            absence = Absence(clock.from_stored(d.from_at), clock.from_stored(d.until_at) if d.until_at else None)
            mine = kept.get(d.technician_id, [])
            for row, earlier in mine:
                if earlier.meets(absence):
                    assert row.id is not None
                    out[row.id] = d
            kept[d.technician_id] = [(r, a) for r, a in mine if not a.meets(absence)] + [(d, absence)]
        else:
            key = (d.type, d.job_id if d.type == "overrun" else d.technician_id)
            before = last.get(key)
            if before is not None and before.id is not None:
                out[before.id] = d
            last[key] = d
    return out


def stored_absences(session: Session, technician_ids: Collection[str], clock: DayClock) -> dict[str, list[Away]]:
    """Per technician of ``technician_ids``, their stored absences (``PUT
    /v1/technicians``) that reach into ``clock``'s day or the night after it (a shift
    plus overtime ends before the second midnight), on that day's clock, in the order
    entered."""
    first = to_storage(clock.midnight)
    last = to_storage(DayClock(clock.date + dt.timedelta(days=2), clock.tz).midnight)
    away: dict[str, list[Away]] = {}
    for a in session.exec(
        select(AbsenceRow)
        .where(
            col(AbsenceRow.technician_id).in_(technician_ids), col(AbsenceRow.start) < last, col(AbsenceRow.end) > first
        )
        .order_by(col(AbsenceRow.id))
    ):
        away.setdefault(a.technician_id, []).append(Away(clock.from_stored(a.start), clock.from_stored(a.end)))
    return away


def technicians_on(
    session: Session, day: dt.date, region: str, tz: ZoneInfo, *, disrupted: bool = True
) -> tuple[Technician, ...]:
    """The solver's technicians of a region who work on ``day``, by id: each with the
    explicit shift of that date, else their weekly template's weekday
    (``dispatch.worktime.shift_on``), less their absences (``dispatch.worktime.honour``:
    a holiday or day off leaves them out, a few hours away shortens or pauses the day),
    and, unless ``disrupted`` is False, less a ``technician_unavailable`` disruption of
    that day, as a re-plan takes it (``solver.replan.with_absence``): a dispatcher who
    records one has every plan of the day, every slot and the working time honour it.
    Every reader of a day's technicians (plan runs, slot search and booking, re-plans)
    comes here; the live day's walk reads shifts as planned (``disrupted=False``) and
    the disruption beside them."""
    techs = session.exec(
        select(TechnicianRow).where(TechnicianRow.region == region).order_by(col(TechnicianRow.id))
    ).all()
    if not techs:
        return ()
    ids = [t.id for t in techs]
    explicit = {
        s.technician_id: s
        for s in session.exec(select(ShiftRow).where(ShiftRow.date == day, col(ShiftRow.technician_id).in_(ids)))
    }
    week: dict[str, dict[int, WeekShiftRow]] = {}
    for w in session.exec(
        select(WeekShiftRow).where(WeekShiftRow.weekday == day.isoweekday(), col(WeekShiftRow.technician_id).in_(ids))
    ):
        week.setdefault(w.technician_id, {})[w.weekday] = w
    clock = DayClock(day, tz)
    away = stored_absences(session, ids, clock)
    unavailable: dict[str, tuple[Absence, ...]] = {}
    if disrupted:
        unavailable = unavailability(disruptions_of(session, day, region), clock)
    out = []
    for tech in techs:
        shift = shift_on(day, explicit.get(tech.id), week.get(tech.id, {}))
        if shift is None:
            continue
        working = honour(technician_of(tech, shift), away.get(tech.id, []), day)
        if working is not None:
            working = outside_skipped_hour(working, clock)
        for absence in unavailable.get(tech.id, ()):
            if working is not None:
                working = with_absence(working, absence)
        if working is not None:
            out.append(working)
    return tuple(out)


def under_way_on(
    session: Session, first: dt.date, last: dt.date, region: str, *, crews: bool = False
) -> dict[dt.date, dict[str, frozenset[str]]]:
    """Per day of ``first``..``last`` with a published plan in ``region``, each job of one
    technician (and of a crew too, with ``crews``) under way (en route, on site) with the
    technicians who have it in that plan: the visits every plan of that day keeps with
    them (a plan never takes a visit from a technician already on the way to it:
    docs/replan.md). A day with nothing under way is absent. One query for the range."""
    query = (
        select(col(PublishedPlanRow.date), VisitRow.job_id, VisitRow.technician_id)
        .join(VisitRow, col(VisitRow.plan_id) == col(PublishedPlanRow.plan_id))
        .join(JobRow, col(JobRow.id) == col(VisitRow.job_id))
        .where(
            col(PublishedPlanRow.date) >= first,
            col(PublishedPlanRow.date) <= last,
            PublishedPlanRow.region == region,
            col(JobRow.status).in_(UNDER_WAY),
        )
    )
    if not crews:
        query = query.where(JobRow.crew_size == 1)
    out: dict[dt.date, dict[str, set[str]]] = {}
    for day, job_id, tech_id in session.exec(query).all():
        out.setdefault(day, {}).setdefault(job_id, set()).add(tech_id)
    return {day: {job_id: frozenset(techs) for job_id, techs in jobs.items()} for day, jobs in out.items()}


def reporters(session: Session, job_ids: Collection[str]) -> dict[str, set[str | None]]:
    """Per job of ``job_ids`` that someone reported on the way, arrived or started, who
    did (None: the office, whose report counts for a whole crew)."""
    out: dict[str, set[str | None]] = {}
    for job_id, tech_id in session.exec(
        select(EventRow.job_id, EventRow.technician_id).where(
            col(EventRow.job_id).in_(list(job_ids)), col(EventRow.type).in_(("en_route", "arrived", "started"))
        )
    ).all():
        out.setdefault(job_id, set()).add(tech_id)
    return out


def on_the_way_with(session: Session, day: dt.date, region: str) -> dict[str, frozenset[str]]:
    """Each job under way in the day's published plan with the technicians a plan must
    keep on it: one technician's job, its technician; a crew's, those of its two who
    reported it (on the way, arrived, started), or both when nobody named did (the
    dispatcher's report counts for both)."""
    with_whom = under_way_with(session, day, region, crews=True)
    crews = [job_id for job_id, techs in with_whom.items() if len(techs) > 1]
    if not crews:
        return with_whom
    reported = reporters(session, crews)
    out = dict(with_whom)
    for job_id in crews:
        named = {t for t in reported.get(job_id, set()) if t is not None} & with_whom[job_id]
        if named and None not in reported.get(job_id, set()):
            out[job_id] = frozenset(named)
    return out


def under_way_with(session: Session, day: dt.date, region: str, *, crews: bool = False) -> dict[str, frozenset[str]]:
    """``under_way_on`` for one day: each job under way with the technicians who have it
    in the day's published plan (one, unless ``crews``); empty without one."""
    return under_way_on(session, day, day, region, crews=crews).get(day, {})


def load_day(session: Session, day: dt.date, region: str, tz: ZoneInfo) -> tuple[Day, list[str]]:
    """The day to plan from stored data (its plannable jobs: ``jobstate.PLANNABLE``,
    never completed or cancelled ones), and the ids of those pinned to someone who
    does not work that day (they cannot be planned).

    A job of several days is planned on a day only where the day's live schedule holds
    one of its days (a published plan over several days put it there): pinned to the
    technician who has it, since all its days are one person's (``held_on``). Any other
    job the day's live schedule holds is the day's work too, whatever its stored date (a
    range job published on another day of its range; one dated elsewhere since is left
    out, with the reason)."""
    technicians = technicians_on(session, day, region, tz)
    names = {tech.id: tech.name for tech in technicians}
    tech_ids = set(names)
    rows = session.exec(
        select(JobRow)
        .where(JobRow.date == day, JobRow.region == region, col(JobRow.status).in_(PLANNABLE))
        .order_by(col(JobRow.id))
    ).all()
    # What the day's live schedule holds is the day's work too, whatever its date: a day of
    # a job of several days, a range job published on another day of its range, a job
    # re-dated since (the plan then says why it leaves it out). Not a job open again after
    # its visit failed: that visit is over, and the revisit is its new date's work.
    here = held_on(session, day, region)
    ids = {r.id for r in rows}
    if set(here) - ids:
        extra = [r for r in _rows(session, set(here) - ids, region) if r.days > 1 or r.status != OPEN]
        rows = sorted([*rows, *extra], key=lambda r: r.id)
    # A day a failed visit took from a run of days is not the job's day any more: its days
    # left are open work for a plan over several days.
    stopped = {
        r.id: failure
        for r in rows
        if r.days > 1 and r.id in here and (failure := jobdays.stopped_by(session, r, day, tz)) is not None
    }
    parts = {r.id: here[r.id] for r in rows if r.days > 1 and r.id in here and r.id not in stopped}
    clock = DayClock(day, tz)
    jobs, unplannable = [], []
    elsewhere: dict[str, Unassigned] = {
        job_id: Unassigned(
            job_id,
            ReasonCode.NEEDS_HORIZON,
            f"A visit of it failed on {from_storage(failure.at, tz):%Y-%m-%d} ({failure.reason}): its days left "
            "are planned anew with a plan over several days.",
        )
        for job_id, failure in stopped.items()
    }
    published = published_elsewhere(session, (r for r in rows if r.id not in parts), {day}, region, tz)
    for row in rows:
        if row.id in stopped:
            continue
        if row.id in parts:
            if day in jobdays.done_days(session, row.id, tz):
                continue  # that day of it is done: kept by a re-plan as settled, as any job done
            if parts[row.id] in tech_ids:
                jobs.append(dataclasses.replace(job_of(row, clock, tech_ids), pinned_technician_id=parts[row.id]))
            else:
                unplannable.append(row.id)
                n = jobdays.day_number(session, row, day, tz)
                elsewhere[row.id] = Unassigned(
                    row.id,
                    ReasonCode.PINNED_UNAVAILABLE,
                    f"Day {n} of {row.days} of a job whose days are all {parts[row.id]}'s, who does not work this "
                    "day; give its days to another technician with a plan over them.",
                )
            continue
        if row.pinned_technician_id is not None and row.pinned_technician_id not in tech_ids:
            unplannable.append(row.id)
            elsewhere[row.id] = Unassigned(
                row.id,
                ReasonCode.PINNED_UNAVAILABLE,
                f"Pinned to {row.pinned_technician_id}, who does not work this day.",
            )
            continue
        away = _needs_other_days(row, clock) or published.get(row.id)
        if away is not None:
            elsewhere[row.id] = away
            continue
        jobs.append(job_of(row, clock, tech_ids))
    kept, held = _with_dependencies(session, clock, {r.id: r for r in rows}, jobs)
    held = {**elsewhere, **held}  # a job waiting for one held here finds it neither done nor planned
    unplannable += [job_id for job_id in held if job_id not in unplannable]
    info = {r.id: JobInfo(r.address, r.customer_name, r.customer_phone, r.notes, r.confirmed, r.booked) for r in rows}
    problem = day_problem(technicians, kept)
    return Day(day, tz, problem, region, names, info, held), unplannable


PUBLISHED_REACH = dt.timedelta(days=31)
"""How far from the days planned ``published_elsewhere`` looks for a day holding a job."""


def held_elsewhere(
    session: Session, rows: Iterable[JobRow], days: Collection[dt.date], region: str, tz: ZoneInfo
) -> dict[str, list[tuple[dt.date, str]]]:
    """The jobs of ``rows`` not open (scheduled, or under way) that the live schedule of
    a day outside ``days`` holds (a published plan put them there; a day whose visit is
    over does not count: done, failed, or called off, ``jobdays.on_day``), each with
    those days in order and the technician who has it there (the first, for a crew)."""
    wanted = {r.id: r for r in rows if r.status != OPEN}
    if not wanted or not days:
        return {}
    lives = session.exec(
        select(LiveScheduleRow)
        .where(
            LiveScheduleRow.region == region,
            col(LiveScheduleRow.date) >= min(days) - PUBLISHED_REACH,
            col(LiveScheduleRow.date) <= max(days) + PUBLISHED_REACH,
            col(LiveScheduleRow.date).not_in(list(days)),
        )
        .order_by(col(LiveScheduleRow.date))
    ).all()
    held: dict[str, list[tuple[dt.date, str]]] = {}
    for live in lives:
        for route in routes_from_json(live.routes):
            for job_id in route.job_ids:
                row = wanted.get(job_id)
                if row is None or any(d == live.date for d, _ in held.get(job_id, [])):
                    continue
                if jobdays.on_day(session, row, live.date, tz).status not in (SCHEDULED, *UNDER_WAY):
                    # Its visit there is over (done, failed, called off): the field said what happened.
                    continue
                held.setdefault(job_id, []).append((live.date, route.technician_id))
    return held


def published_elsewhere(
    session: Session,
    rows: Iterable[JobRow],
    days: Collection[dt.date],
    region: str,
    tz: ZoneInfo,
    holdings: Mapping[str, list[tuple[dt.date, str]]] | None = None,
) -> dict[str, Unassigned]:
    """The jobs of ``rows`` that the live schedule of a day outside ``days`` holds
    (``held_elsewhere``, or ``holdings`` when given), each with why a plan of ``days``
    leaves it out: the first such day. Before, a plan of other days planned such a job
    again and, published, it was on two days' lists at once; and a revisit carried to
    the next day was, once published there, left out of every later plan of that day,
    held by the day its visit failed on."""
    if holdings is None:
        holdings = held_elsewhere(session, rows, days, region, tz)
    held: dict[str, Unassigned] = {}
    for job_id, [(day, who), *_] in holdings.items():
        # Of a day gone by, the visit may not have happened: say what to do then.
        then = "; if it did not happen there, record what happened (field events)"
        held[job_id] = Unassigned(
            job_id,
            ReasonCode.NEEDS_HORIZON,
            f"Published on {day} with {who}: a plan of that day moves it" + (then if day < min(days) else "") + ".",
        )
    return held


def held_on(session: Session, day: dt.date, region: str | None = None) -> dict[str, str]:
    """The jobs the live schedule of ``day`` holds (of ``region``; of every region when
    None), by job id: the technician who has it (the first one, for a crew). A published
    plan put them there, whatever their stored date."""
    query = select(LiveScheduleRow).where(LiveScheduleRow.date == day)
    if region is not None:
        query = query.where(LiveScheduleRow.region == region)
    holder: dict[str, str] = {}
    for live in session.exec(query).all():
        for route in routes_from_json(live.routes):
            for job_id in route.job_ids:
                holder.setdefault(job_id, route.technician_id)
    return holder


def _rows(session: Session, ids: set[str], region: str) -> list[JobRow]:
    """The plannable jobs of ``region`` among ``ids``."""
    return list(
        session.exec(
            select(JobRow).where(
                col(JobRow.id).in_(list(ids)), JobRow.region == region, col(JobRow.status).in_(PLANNABLE)
            )
        ).all()
    )


def _needs_other_days(row: JobRow, clock: DayClock) -> Unassigned | None:
    """Why a one-day plan of ``clock``'s day cannot plan the job ``row``, when it cannot:
    a job of several days needs a plan over several days; a job whose windows all lie on
    other days of its date range has none that day. None when it can."""
    if row.days > 1:
        return Unassigned(
            row.id,
            ReasonCode.NEEDS_HORIZON,
            f"Takes {row.days} consecutive days: plan it with a plan over several days (date_from, date_to).",
        )
    inside = row.date_from <= clock.date <= row.date_to if row.date_from and row.date_to else row.date == clock.date
    if not inside:
        # Held by this day's live schedule, but dated elsewhere since it was published.
        return Unassigned(
            row.id,
            ReasonCode.NEEDS_HORIZON,
            f"Dated {row.date} now: a plan of that day plans it, once this day's plan is published without it.",
        )
    if row.windows and not day_windows(row, clock):
        return Unassigned(
            row.id,
            ReasonCode.NO_SHIFT_IN_WINDOW,
            f"None of its windows is on {clock.date}: plan it on a day of its windows.",
        )
    return None


def day_windows(row: JobRow, clock: DayClock) -> list[Span]:
    """A stored job's hard windows that touch ``clock``'s day (all of them for a job
    without a date range, whose windows are checked against its date when stored)."""
    windows = [(dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end)) for start, end in row.windows]
    if row.date_from is None:
        return windows
    midnight = clock.midnight
    next_midnight = clock.next_midnight
    return [(a, b) for a, b in windows if b > midnight and a < next_midnight]


def dependency_of(row: JobRow, first_day: dt.date) -> Dependency | None:
    """A stored job's ``depends_on`` with its lags as the engine's ``Dependency``, for a
    problem whose time 0 is the midnight of ``first_day``."""
    if row.depends_on is None:
        return None
    return lags(
        row.depends_on,
        row.depends_min_lag_min,
        row.depends_max_lag_min,
        row.depends_min_lag_days,
        row.depends_max_lag_days,
        first_day,
    )


def lags(
    job_id: str,
    min_lag_min: int,
    max_lag_min: int | None,
    min_lag_days: int,
    max_lag_days: int | None,
    first_day: dt.date,
) -> Dependency:
    """The engine's ``Dependency`` on ``job_id`` with lags in minutes and in working days
    (Monday to Friday: docs/model.md, "Dependencies"), in the seconds of a problem whose
    time 0 is the midnight of ``first_day``."""
    return Dependency(
        job_id,
        min_lag_min * 60,
        None if max_lag_min is None else max_lag_min * 60,
        min_lag_days=min_lag_days,
        max_lag_days=max_lag_days,
        first_weekday=first_day.weekday(),
    )


def predecessor_end(session: Session, pred_id: str, tz: ZoneInfo) -> tuple[dt.datetime | None, str]:
    """When the job ``pred_id`` ends, as far as the product knows, and in words where it
    stands: its actual end once completed, else its end in the published plan of its
    day (under way: no earlier than its start plus its length or the end an ``overrun``
    expects); None (with the words) when it is neither. A published visit counts only
    while it is the job's: not once it failed (the job is open again for its revisit)
    nor on a day the job is no longer on (re-dated since)."""
    pred = session.get(JobRow, pred_id)
    if pred is None:
        return None, "which does not exist"
    if pred.status == CANCELLED:
        return None, "which is cancelled"
    if pred.status == COMPLETED and pred.actual_end is not None:
        return from_storage(pred.actual_end, tz), "done"
    first = pred.date_from or pred.date
    last_day = pred.date_to or (pred.date if pred.days == 1 else None)
    visits = [
        v
        for v in published_visits(session, pred, tz)
        if pred.status != OPEN
        and first <= (day := from_storage(v.start, tz).date())
        and (last_day is None or day <= last_day)
    ]
    if not visits:
        return None, f"which is {pred.status} and not in a published plan yet"
    last = max(visits, key=lambda v: v.end)
    end = from_storage(last.end, tz)
    if pred.status in UNDER_WAY:
        if pred.actual_start is not None:
            end = max(end, from_storage(pred.actual_start, tz) + dt.timedelta(minutes=pred.duration_min))
        overrun = session.exec(
            select(DisruptionRow.expected_end)
            .where(DisruptionRow.type == "overrun", DisruptionRow.job_id == pred.id)
            .order_by(col(DisruptionRow.id).desc())
        ).first()
        if overrun is not None:
            end = max(end, from_storage(overrun, tz))
    return end, f"planned on {from_storage(last.start, tz).date()}"


def published_visits(session: Session, job: JobRow, tz: ZoneInfo) -> list[VisitRow]:
    """The visits to ``job`` that the published plans of its region hold now, by start:
    each from the plan published for the day it is on, whichever day that is (a plan
    over several days, a date range, a job of several days), not only the job's date.
    Before, only the plan of the job's stored date was read: a job of several days
    ended on its first day, and one planned elsewhere in its range was "not in a
    published plan"."""
    found = session.exec(
        select(VisitRow, PublishedPlanRow)
        .join(PublishedPlanRow, col(PublishedPlanRow.plan_id) == col(VisitRow.plan_id))
        .where(PublishedPlanRow.region == job.region, VisitRow.job_id == job.id)
    ).all()
    current = {v.id: v for v, pointer in found if from_storage(v.start, tz).date() == pointer.date}
    return sorted(current.values(), key=lambda v: (v.start, v.id or 0))


def broken_lags(session: Session, days: Collection[dt.date], region: str, tz: ZoneInfo) -> list[str]:
    """The dependencies the published plans of ``days`` now break, one sentence each: a
    job not yet begun that waits for another, one of the two on those days' plans, whose
    published start no longer keeps its lag after the other's end (done: its actual end;
    else its end as published). A plan of one day is made against the other days as
    published then; publishing it (or another day since) can move one of the two."""
    plan_ids = session.exec(
        select(PublishedPlanRow.plan_id).where(
            PublishedPlanRow.region == region, col(PublishedPlanRow.date).in_(list(days))
        )
    ).all()
    if not plan_ids:
        return []
    ids = set(session.exec(select(VisitRow.job_id).where(col(VisitRow.plan_id).in_(list(plan_ids)))).all())
    if not ids:
        return []
    rows = session.exec(
        select(JobRow)
        .where(
            JobRow.region == region,
            col(JobRow.status) == SCHEDULED,
            col(JobRow.depends_on).is_not(None),
            or_(col(JobRow.id).in_(ids), col(JobRow.depends_on).in_(ids)),
        )
        .order_by(col(JobRow.id))
    ).all()
    out = []
    for row in rows:
        assert row.depends_on is not None
        theirs = published_visits(session, row, tz)
        end, _ = predecessor_end(session, row.depends_on, tz)
        if not theirs or end is None:
            continue
        start = from_storage(theirs[0].start, tz)
        origin = min(start.date(), end.date())
        clock = DayClock(origin, tz)
        dependency = dependency_of(row, origin)
        assert dependency is not None
        if not dependency.allows(clock.seconds(start), clock.seconds(end)):
            out.append(
                f"job {row.id} (published {start:%Y-%m-%d %H:%M}) waits for job {row.depends_on} (ends "
                f"{end:%Y-%m-%d %H:%M}) and their lag no longer holds"
            )
    return out


def predecessor_technician(session: Session, pred_id: str, tz: ZoneInfo) -> str | None:
    """Who does (or did) the job ``pred_id`` in the published plans (the first technician
    of its first visit), if anyone: the follow-up prefers them (continuity)."""
    pred = session.get(JobRow, pred_id)
    if pred is None:
        return None
    visits = published_visits(session, pred, tz)
    return visits[0].technician_id if visits else None


def _with_dependencies(
    session: Session, clock: DayClock, rows: Mapping[str, JobRow], jobs: list[Job]
) -> tuple[list[Job], dict[str, Unassigned]]:
    """The day's jobs with their dependencies (docs/model.md, "Dependencies"): on a job
    of the same day, the engine orders the two (``Job.after``); on a job done or in a
    published plan, the windows are cut to its end plus the lag; the others are held
    back with their reason (waiting; no time left that day), and so are the jobs that
    wait for a job held back."""
    by_id = {j.id: j for j in jobs}
    held: dict[str, Unassigned] = {}
    for job in jobs:
        dep = dependency_of(rows[job.id], clock.date)
        if dep is None:
            continue
        if dep.job_id in by_id:
            by_id[job.id] = dataclasses.replace(by_id[job.id], after=dep)
            continue
        end, where = predecessor_end(session, dep.job_id, clock.tz)
        if end is None:
            held[job.id] = Unassigned(job.id, ReasonCode.DEPENDENCY_NOT_MET, f"Waits for job {dep.job_id}, {where}.")
            continue
        narrowed = cut(job, clock.seconds(end), dep)
        # A job is planned on its one day: a start left only after that day is none.
        day_end_s = clock.next_midnight
        if narrowed is None or narrowed.start_windows()[0].start_s >= clock.seconds(day_end_s):
            end_s = clock.seconds(end)
            span = f"from {clock.moment(dep.earliest_s(end_s)):%Y-%m-%d %H:%M}"
            if (latest_s := dep.latest_s(end_s)) is not None:
                span += f" until {clock.moment(latest_s):%Y-%m-%d %H:%M}"
            held[job.id] = Unassigned(
                job.id,
                ReasonCode.DEPENDENCY_NOT_MET,
                f"Waits for job {dep.job_id} ({where}, ends {end.astimezone(clock.tz):%Y-%m-%d %H:%M}): "
                f"may start only {span}, which leaves nothing of its windows on {clock.date}.",
            )
            continue
        by_id[job.id] = narrowed
    # A job waiting for a job held back waits too (and so on down the chain).
    while waiting := [
        (j.id, j.after.job_id)
        for j in by_id.values()
        if j.id not in held and j.after is not None and j.after.job_id in held
    ]:
        for job_id, pred_id in waiting:
            held[job_id] = Unassigned(
                job_id, ReasonCode.DEPENDENCY_NOT_MET, f"Waits for job {pred_id}, which cannot be planned yet."
            )
    return [by_id[j.id] for j in jobs if j.id not in held], held


def solution_rows(
    plan_id: int, clock: DayClock, solution: Solution, windows: Mapping[str, TimeWindow] | None = None
) -> list[RouteRow | VisitRow]:
    """The routes and visits stored for a plan version of ``clock``'s day; ``windows``:
    the window each job's customer is told (``dispatch.live.customer_window``)."""
    told = windows or {}
    out: list[RouteRow | VisitRow] = []
    stored = clock.to_stored
    for route in solution.routes:
        used = bool(route.visits)
        out.append(
            RouteRow(
                plan_id=plan_id,
                technician_id=route.technician_id,
                depart=stored(route.start_s) if used else None,
                return_at=stored(route.end_s) if used else None,
                lunch_start=stored(route.lunch.start_s) if route.lunch and used else None,
                lunch_end=stored(route.lunch.end_s) if route.lunch and used else None,
                travel_min=round(route.travel_s / 60, 1),
                work_min=round(route.work_s / 60, 1),
                distance_km=round(route.distance_m / 1000, 2),
            )
        )
        for seq, visit in enumerate(route.visits, start=1):
            out.append(
                VisitRow(
                    plan_id=plan_id,
                    technician_id=route.technician_id,
                    job_id=visit.job_id,
                    seq=seq,
                    arrival=stored(visit.arrival_s),
                    start=stored(visit.start_s),
                    end=stored(visit.end_s),
                    travel_min=round(visit.travel_s / 60, 1),
                    distance_km=round(visit.distance_m / 1000, 2),
                    window_start=stored(told[visit.job_id].start_s) if visit.job_id in told else None,
                    window_end=stored(told[visit.job_id].end_s) if visit.job_id in told else None,
                )
            )
    return out
