"""Master data: technicians with their shifts, and jobs."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from dispatch import feed, live
from dispatch.errors import Conflict, Invalid, NotFound
from dispatch.inputs import JobIn, LatLon, ShiftIn, TechnicianIn, clock_minutes, day_minutes
from dispatch.jobstate import CANCELLED, OPEN, PLANNABLE
from dispatch.mapping import DayClock, held_on, technician_of, technicians_on
from dispatch.tables import (
    AbsenceRow,
    DisruptionRow,
    EventRow,
    JobRow,
    LiveScheduleRow,
    PlanRow,
    ShiftRow,
    TechnicianRow,
    WeekShiftRow,
)
from dispatch.timeutil import stored_utc, to_storage
from dispatch.worktime import Away, WorkingDay, honour, shift_on, working_day
from solver.problem import DAY_PLAN_S, Location
from solver.travel import HaversineProvider

Geocoder = Callable[[str], LatLon]
"""Turns an address into coordinates; raises a DispatchError when it cannot."""

FAR_KM = 300
"""A place farther than this (great circle) from every home of a region's technicians
is refused: nobody could drive there, work and drive back in a day, so it is a wrong
latitude or longitude (0, 0 from a missing position, swapped or truncated digits)."""


def check_region(session: Session, region: str) -> list[tuple[float, float]]:
    """The homes of ``region``'s technicians. ``Invalid`` naming ``region`` when it has
    none while other regions have some: a misspelt region, whose work would be stored
    and never planned (a plan of it would be empty). Before any technician is entered
    (master data loaded jobs first) every region is accepted, with no homes."""
    homes = session.exec(
        select(TechnicianRow.home_lat, TechnicianRow.home_lon).where(TechnicianRow.region == region)
    ).all()
    if not homes:
        known = sorted(set(session.exec(select(TechnicianRow.region)).all()))
        if known:
            near = _same_but_spelling(region, known)
            meant = f" (did you mean {near!r}?)" if near is not None else ""
            raise Invalid(
                f"region: no technician works in region {region!r}{meant} (regions with technicians: "
                f"{', '.join(known)}); give one of those, or add the region's technicians first "
                "(PUT /v1/technicians/{id})",
                "region",
            )
    return [(lat, lon) for lat, lon in homes]


def _region_key(region: str) -> str:
    """What two spellings of one region share: case and runs of spaces do not count."""
    return " ".join(region.split()).casefold()


def _same_but_spelling(region: str, known: Iterable[str]) -> str | None:
    """The first of ``known`` that differs from ``region`` only in case or spacing."""
    key = _region_key(region)
    return next((other for other in sorted(known) if other != region and _region_key(other) == key), None)


def check_spelling(session: Session, region: str, default_region: str) -> None:
    """Refuse (``Invalid`` naming ``region``) a region that differs only in case or
    spacing from one already in use (the default region, or one a technician or job
    has), naming that spelling: regions are matched exactly, so it would start a region
    of its own that no plan of the other ever sees. A region already in use as given
    is accepted at once (two index look-ups)."""
    if region == default_region:
        return
    for table in (TechnicianRow, JobRow):
        if session.exec(select(table.id).where(table.region == region).limit(1)).first() is not None:
            return
    known = {default_region, *session.exec(select(TechnicianRow.region).distinct()).all()}
    near = _same_but_spelling(region, known)
    if near is None:
        near = _same_but_spelling(region, session.exec(select(JobRow.region).distinct()).all())
    if near is not None:
        raise Invalid(
            f"region: {region!r} differs from the region {near!r} only in case or spacing; give {near!r} "
            "(regions are matched exactly: this spelling would be a region of its own, planned apart)",
            "region",
        )


def check_filter(session: Session, region: str | None, default_region: str) -> None:
    """Refuse (``Invalid`` naming ``region``) a region filter of a read that no technician
    or job has, while some have others: a misspelt region, whose empty answer would read
    as a quiet day. No filter, the default region, and any region of an empty service
    are accepted."""
    if region is None or region == default_region:
        return
    for table in (TechnicianRow, JobRow):
        if session.exec(select(table.id).where(table.region == region).limit(1)).first() is not None:
            return
    known = {*session.exec(select(TechnicianRow.region).distinct()).all()}
    known |= {*session.exec(select(JobRow.region).distinct()).all()}
    if known:
        near = _same_but_spelling(region, known)
        meant = f" (did you mean {near!r}?)" if near is not None else ""
        raise Invalid(
            f"region: no technician or job is in region {region!r}{meant}; regions in use: {', '.join(sorted(known))}",
            "region",
        )


def check_place(
    session: Session,
    region: str,
    location: LatLon,
    field: str = "location",
    homes: dict[str, list[tuple[float, float]]] | None = None,
) -> None:
    """Refuse, naming the field, a job in a misspelt region (``check_region``) or at a
    place more than ``FAR_KM`` from every home of its region's technicians (``field``):
    either would be stored and never planned. ``homes``, when given, keeps each region's
    homes once read, for a caller that stores many jobs (a seed, an import)."""
    if homes is None:
        homes = {}
    if region not in homes:
        homes[region] = check_region(session, region)
    if not homes[region]:
        return
    _, metres = HaversineProvider(road_factor=1.0).between(
        [Location(location.lat, location.lon)], [Location(lat, lon) for lat, lon in homes[region]]
    )
    nearest_km = float(metres.min()) / 1000
    if nearest_km > FAR_KM:
        raise Invalid(
            f"{field}: ({location.lat}, {location.lon}) is {nearest_km:,.0f} km from the nearest home of "
            f"region {region}'s technicians, more than the {FAR_KM} km anyone could drive there and back in a "
            "day; check the latitude and longitude",
            field,
        )


@dataclass(frozen=True)
class TechnicianRecord:
    """A technician row with its shifts, weekly template (by weekday) and absences (by start)."""

    row: TechnicianRow
    shifts: list[ShiftRow]
    week: list[WeekShiftRow] = dataclasses.field(default_factory=list)
    absences: list[AbsenceRow] = dataclasses.field(default_factory=list)


def put_technician(
    session: Session, tech_id: str, data: TechnicianIn, default_region: str, tz: ZoneInfo, *, now: dt.datetime
) -> tuple[TechnicianRecord, bool]:
    """Create or replace a technician with all their shifts, weekly template and
    absences, stamped ``now``; True when created. Shift times given as date-times are
    read in ``tz`` and must lie on the shift's date (``Invalid`` naming
    ``shifts.<i>.<field>`` otherwise); an absence a planned day cannot honour is
    refused naming ``absences.<i>`` (``dispatch.worktime.honour``)."""
    minutes = [_shift_minutes(i, shift, tz) for i, shift in enumerate(data.shifts)]
    region = data.region or default_region
    check_spelling(session, region, default_region)
    row = session.get(TechnicianRow, tech_id)
    created = row is None
    if row is not None and row.region != region:
        _check_move(session, row, region, now.astimezone(tz).date())
    regions = {region} | ({row.region} if row is not None else set())
    values: dict[str, Any] = {
        "name": data.name,
        "kind": data.kind,
        "region": region,
        "home_lat": data.home.lat,
        "home_lon": data.home.lon,
        "end_lat": data.end.lat if data.end else None,
        "end_lon": data.end.lon if data.end else None,
        "skills": dict(data.skills),
        "max_jobs": data.max_jobs,
        "max_overtime_min": data.max_overtime_min,
        "cost_per_hour_cents": round(data.cost.per_hour * 100),
        "cost_per_km_cents": round(data.cost.per_km * 100),
        "cost_per_job_cents": round(data.cost.per_job * 100),
        "overtime_per_hour_cents": round(data.cost.overtime_per_hour * 100),
        "updated_at": to_storage(now),
    }
    if row is None:
        row = TechnicianRow(id=tech_id, **values)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:  # created by another request meanwhile
        raise Conflict(f"technician {tech_id} was created by another request just now: send it again", "id") from exc
    for old in session.exec(select(ShiftRow).where(ShiftRow.technician_id == tech_id)).all():
        session.delete(old)
    session.flush()
    shifts = []
    for shift, (start, end, earliest, latest) in zip(data.shifts, minutes, strict=True):
        brk = shift.break_
        shift_row = ShiftRow(
            technician_id=tech_id,
            date=shift.date,
            start_min=start,
            end_min=end,
            break_earliest_min=earliest,
            break_latest_min=latest,
            break_duration_min=brk.duration_min if brk else None,
        )
        session.add(shift_row)
        shifts.append(shift_row)
    for old_week in session.exec(select(WeekShiftRow).where(WeekShiftRow.technician_id == tech_id)).all():
        session.delete(old_week)
    for old_absence in session.exec(select(AbsenceRow).where(AbsenceRow.technician_id == tech_id)).all():
        session.delete(old_absence)
    session.flush()
    week = []
    for day in sorted(data.week, key=lambda d: d.weekday):
        lunch = day.break_
        week_row = WeekShiftRow(
            technician_id=tech_id,
            weekday=day.weekday,
            start_min=clock_minutes(day.start),
            end_min=clock_minutes(day.end),
            break_earliest_min=clock_minutes(lunch.earliest) if lunch else None,
            break_latest_min=clock_minutes(lunch.latest) if lunch else None,
            break_duration_min=lunch.duration_min if lunch else None,
        )
        session.add(week_row)
        week.append(week_row)
    absences = []
    for absence in data.absences:
        absence_row = AbsenceRow(
            technician_id=tech_id, start=to_storage(absence.start), end=to_storage(absence.end), reason=absence.reason
        )
        session.add(absence_row)
        absences.append(absence_row)
    session.flush()
    record = TechnicianRecord(row, shifts, week, sorted(absences, key=lambda a: a.start))
    _check_absences(record, data, tz)
    _touch_planned_days(session, regions, now, tz)
    return record, created


def _check_move(session: Session, row: TechnicianRow, region: str, today: dt.date) -> None:
    """Refuse (``Conflict`` naming ``region``) moving the technician ``row`` to ``region``
    while their old region still counts on them from ``today`` on: a published plan gives
    them visits (their list, and the other region's plans would book them again the same
    hours), a disruption of theirs is recorded (their reported unavailability would be
    lost: disruptions belong to the region's day), or open work is pinned to them (no
    plan of the old region could serve it). Says which days and jobs, and what to do."""
    working = live.working_days_from(session, row.id, row.region, today)
    disrupted = session.exec(
        select(col(DisruptionRow.date), col(DisruptionRow.type))
        .where(DisruptionRow.technician_id == row.id, DisruptionRow.date >= today)
        .order_by(col(DisruptionRow.date), col(DisruptionRow.id))
    ).all()
    pinned = session.exec(
        select(JobRow.id)
        .where(
            JobRow.pinned_technician_id == row.id,
            JobRow.region == row.region,
            col(JobRow.status).in_(PLANNABLE),
            or_(JobRow.date >= today, col(JobRow.date_to) >= today),
        )
        .order_by(col(JobRow.id))
    ).all()
    if not working and not disrupted and not pinned:
        return
    held, todo = [], []
    if working:
        days = ", ".join(map(str, working))
        held.append(f"{row.region}'s published plans give them visits on {days}")
        todo.append(f"re-plan and publish {days} without them (their shifts of those days taken off)")
    if pinned:
        held.append(f"open work is pinned to them ({', '.join(pinned[:10])}{', ...' if len(pinned) > 10 else ''})")
        todo.append(f"pin that work to someone else of {row.region}, or unpin it")
    if disrupted:
        days = ", ".join(str(day) for day in sorted({day for day, _ in disrupted}))
        kinds = ", ".join(sorted({kind for _, kind in disrupted}))
        held.append(f"disruptions of theirs ({kinds}) are recorded in {row.region} on {days}")
        todo.append(f"wait until {max(day for day, _ in disrupted)} is over (a disruption stays with its day's region)")
    raise Conflict(
        f"region: technician {row.id} cannot move from region {row.region} to {region} now: {'; '.join(held)}. "
        f"Moved now, they would lose their list and what was recorded, and {region} could plan them the same "
        f"hours. To move them: {'; '.join(todo)}; then PUT them again with region {region}",
        "region",
    )


def _touch_planned_days(session: Session, regions: set[str], now: dt.datetime, tz: ZoneInfo) -> None:
    """Record a change on every day from yesterday on that has a plan or a live schedule
    in ``regions`` (``live.touch``, in date order): a plan made before a technician's
    working time, skills or home changed is then checked against the day as it is now
    before it is published (``planning.stale_reasons``)."""
    since = now.astimezone(tz).date() - dt.timedelta(days=1)
    planned = select(col(PlanRow.date), col(PlanRow.region)).where(
        col(PlanRow.region).in_(regions), col(PlanRow.date) >= since
    )
    lived = select(col(LiveScheduleRow.date), col(LiveScheduleRow.region)).where(
        col(LiveScheduleRow.region).in_(regions), col(LiveScheduleRow.date) >= since
    )
    for day, region in sorted({*session.exec(planned).all(), *session.exec(lived).all()}):
        live.touch(session, day, region, now)


def _check_absences(record: TechnicianRecord, data: TechnicianIn, tz: ZoneInfo) -> None:
    """Refuse (``Invalid`` naming ``absences.<i>``) an absence that a day it touches
    cannot honour (``dispatch.worktime.honour``). Only the days where an absence starts
    or ends (and the day before, whose overtime may run past midnight) can be partial:
    the days in between are covered whole."""
    explicit = {s.date: s for s in record.shifts}
    week = {w.weekday: w for w in record.week}
    spans = [(a.start.timestamp(), a.end.timestamp()) for a in data.absences]
    days: set[dt.date] = set()
    for absence in data.absences:
        first, last = absence.start.astimezone(tz).date(), absence.end.astimezone(tz).date()
        days |= {first - dt.timedelta(days=1), first, last}
    for day in sorted(days):
        shift = shift_on(day, explicit.get(day), week)
        if shift is None:
            continue
        clock = DayClock(day, tz)
        # A shift (HH:MM) plus overtime ends before the second midnight.
        lo, hi = clock.midnight.timestamp(), DayClock(day + dt.timedelta(days=2), tz).midnight.timestamp()
        away = [
            Away(clock.seconds(a.start), clock.seconds(a.end), f"absences.{i}")
            for i, (a, (start, end)) in enumerate(zip(data.absences, spans, strict=True))
            if start < hi and end > lo
        ]
        honour(technician_of(record.row, shift), away, day)


def _shift_minutes(i: int, shift: ShiftIn, tz: ZoneInfo) -> tuple[int, int, int | None, int | None]:
    """A shift's start, end and break bounds as minutes of its day, checked in order."""

    def read(value: str | dt.datetime, name: str) -> int:
        found = day_minutes(value, shift.date, tz)
        if found is None:
            raise Invalid(f"shifts.{i}.{name}: not on the shift's date {shift.date} in {tz.key}", f"shifts.{i}.{name}")
        return found

    start, end = read(shift.start, "start"), read(shift.end, "end")
    if end <= start:
        raise Invalid(f"shifts.{i}: shift end must be after its start", f"shifts.{i}")
    brk = shift.break_
    if brk is None:
        return start, end, None, None
    earliest, latest = read(brk.earliest, "break.earliest"), read(brk.latest, "break.latest")
    if latest < earliest:
        raise Invalid(f"shifts.{i}.break: break.latest is before break.earliest", f"shifts.{i}.break")
    return start, end, earliest, latest


def _shifts_by_tech(session: Session, tech_ids: list[str]) -> dict[str, list[ShiftRow]]:
    out: dict[str, list[ShiftRow]] = {t: [] for t in tech_ids}
    if tech_ids:
        rows = session.exec(
            select(ShiftRow).where(col(ShiftRow.technician_id).in_(tech_ids)).order_by(col(ShiftRow.date))
        )
        for shift in rows.all():
            out[shift.technician_id].append(shift)
    return out


def _working_time_by_tech(
    session: Session, tech_ids: list[str]
) -> tuple[dict[str, list[WeekShiftRow]], dict[str, list[AbsenceRow]]]:
    week: dict[str, list[WeekShiftRow]] = {t: [] for t in tech_ids}
    absences: dict[str, list[AbsenceRow]] = {t: [] for t in tech_ids}
    if tech_ids:
        for w in session.exec(
            select(WeekShiftRow)
            .where(col(WeekShiftRow.technician_id).in_(tech_ids))
            .order_by(col(WeekShiftRow.weekday))
        ):
            week[w.technician_id].append(w)
        for a in session.exec(
            select(AbsenceRow)
            .where(col(AbsenceRow.technician_id).in_(tech_ids))
            .order_by(col(AbsenceRow.start), col(AbsenceRow.id))
        ):
            absences[a.technician_id].append(a)
    return week, absences


def list_technicians(session: Session, region: str | None = None) -> list[TechnicianRecord]:
    """Every technician (of one region when given), by id."""
    query = select(TechnicianRow).order_by(col(TechnicianRow.id))
    if region is not None:
        query = query.where(TechnicianRow.region == region)
    rows = list(session.exec(query).all())
    ids = [r.id for r in rows]
    shifts, (week, absences) = _shifts_by_tech(session, ids), _working_time_by_tech(session, ids)
    return [TechnicianRecord(r, shifts[r.id], week[r.id], absences[r.id]) for r in rows]


def get_technician(session: Session, tech_id: str) -> TechnicianRecord:
    """One technician with their shifts (NotFound when unknown)."""
    row = session.get(TechnicianRow, tech_id)
    if row is None:
        raise NotFound(f"technician {tech_id} does not exist", "technician_id")
    week, absences = _working_time_by_tech(session, [tech_id])
    return TechnicianRecord(row, _shifts_by_tech(session, [tech_id])[tech_id], week[tech_id], absences[tech_id])


MAX_WORKING_TIME_DAYS = 31
"""The most dates one read of working time covers (a month)."""


def working_days(session: Session, date_from: dt.date, date_to: dt.date, region: str, tz: ZoneInfo) -> list[WorkingDay]:
    """Each technician's working time on each date from ``date_from`` to ``date_to``, as
    plan runs and slot search see it (``dispatch.mapping.technicians_on``), by date and
    id; a technician off that day has no entry. More than ``MAX_WORKING_TIME_DAYS``
    dates, or ``date_to`` before ``date_from``, is refused naming ``date_to``; a region no
    technician works in, while others have some, naming ``region`` (``check_region``: an
    empty answer would read as nobody working)."""
    if date_to < date_from:
        raise Invalid("date_to: is before date_from", "date_to")
    if (date_to - date_from).days >= MAX_WORKING_TIME_DAYS:
        raise Invalid(f"date_to: at most {MAX_WORKING_TIME_DAYS} days from date_from", "date_to")
    check_region(session, region)
    out = []
    day = date_from
    while day <= date_to:
        midnight = DayClock(day, tz).midnight
        out += [working_day(day, tech, midnight) for tech in technicians_on(session, day, region, tz)]
        day += dt.timedelta(days=1)
    return out


def job_date(data: JobIn, tz: ZoneInfo) -> dt.date:
    """The plan date of a job (the day one-day plans put it on): given, else its preferred
    date, else the start of its date range, else the local date of its first window,
    release or deadline."""
    if data.date is not None:
        return data.date
    if data.preferred_date is not None:
        return data.preferred_date
    if data.date_range is not None:
        return data.date_range.from_
    first = data.windows[0].start if data.windows else (data.release_at or data.deadline)
    assert first is not None  # JobIn guarantees one of them
    return first.astimezone(tz).date()


def check_references(session: Session, job_id: str, data: JobIn, region: str | None = None) -> None:
    """Refuse (``Invalid`` naming the field) a job naming a technician or job that does not
    exist, or (when the job's ``region`` is given) pinned or preferred to a technician of
    another region: no plan of the job's region routes them, so the pin could never be
    kept (the job would be left out as if they did not work that day)."""
    for field in ("pinned_technician_id", "preferred_technician_id"):
        ref = getattr(data, field)
        if ref is None:
            continue
        tech = session.get(TechnicianRow, ref)
        if tech is None:
            raise Invalid(f"{field}: technician {ref} does not exist", field)
        if region is not None and tech.region != region:
            raise Invalid(
                f"{field}: {ref} works in region {tech.region}, the job is in {region}; name a technician of "
                f"{region}, or give the job region {tech.region}",
                field,
            )
    if data.depends_on is not None:
        check_dependency(session, job_id, data.depends_on.job_id)


def check_dependency(session: Session, job_id: str, pred_id: str) -> None:
    """Refuse (``Invalid`` naming ``depends_on.job_id``) a dependency of ``job_id`` on a job
    that does not exist or is cancelled, on itself, or on a job that waits for it in turn
    (a cycle)."""
    field = "depends_on.job_id"
    if pred_id == job_id:
        raise Invalid(f"{field}: job {job_id} cannot wait for itself", field)
    pred = session.get(JobRow, pred_id)
    if pred is None:
        raise Invalid(f"{field}: job {pred_id} does not exist", field)
    if pred.status == CANCELLED:
        # No plan would ever plan the job: it would wait for work that will not be done.
        raise Invalid(
            f"{field}: job {pred_id} is cancelled (a PUT of it opens it again), so a job waiting for it could never be "
            "planned",
            field,
        )
    chain = [job_id, pred_id]
    at: str | None = pred_id
    while at is not None:
        row = session.get(JobRow, at)
        at = row.depends_on if row is not None else None
        if at is None:
            return
        chain.append(at)
        if at == job_id:
            raise Invalid(f"{field}: {' -> '.join(chain)} would wait for itself", field)
        if len(chain) > 1000:
            raise Invalid(f"{field}: the chain of dependencies is longer than 1000 jobs", field)


def job_days(data: JobIn, tz: ZoneInfo) -> tuple[dt.date, dt.date]:
    """The first and last day a job's visits may fall on: its date range (else its date),
    the last day extended by the job's length in days less one."""
    first = data.date_range.from_ if data.date_range is not None else job_date(data, tz)
    last = data.date_range.to if data.date_range is not None else job_date(data, tz)
    return first, last + dt.timedelta(days=data.days - 1)


def check_windows(data: JobIn, tz: ZoneInfo) -> None:
    """Refuse (``Invalid`` naming ``windows.<i>``) a window that touches none of the days
    the job may be done on (its date, or its date range and the days a multi-day job
    runs on): such a window could never be kept; and (naming ``windows``) windows of a
    job of several days on fewer dates than it has days, which no plan could keep."""
    first, last = job_days(data, tz)
    start_of_day = dt.datetime.combine(first, dt.time(0), tzinfo=tz)
    end_of_day = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    days = f"on the job's date {first}" if first == last else f"between {first} and {last}, the job's days"
    for i, window in enumerate(data.windows):
        if window.end <= start_of_day or window.start >= end_of_day:
            shown = f"{window.start.astimezone(tz):%Y-%m-%d %H:%M}"
            raise Invalid(f"windows.{i}: starts {shown}, not {days}", f"windows.{i}")
    dated = sorted({window.start.astimezone(tz).date() for window in data.windows})
    if data.days > 1 and data.windows and len(dated) < data.days:
        shown_dates = ", ".join(str(d) for d in dated)
        raise Invalid(
            f"windows: a job of {data.days} days needs a window on each day it is done, and these lie on "
            f"{len(dated)} date(s) ({shown_dates}): give one a day, or none (any time of each day)",
            "windows",
        )
    # A plan of one date covers DAY_PLAN_S (48 h) from its midnight.
    day = job_date(data, tz)
    start_of_day = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    horizon_end = start_of_day + dt.timedelta(seconds=DAY_PLAN_S)
    preferred = data.preferred_window
    if preferred is not None and (preferred.end < start_of_day or preferred.start > horizon_end):
        shown = f"{preferred.start.astimezone(tz):%Y-%m-%d %H:%M}"
        raise Invalid(
            f"preferred_window: starts {shown}, outside the {DAY_PLAN_S // 3600} h from the job's date {day} "
            "that a plan of that date covers",
            "preferred_window",
        )


def check_reachable(data: JobIn, tz: ZoneInfo) -> None:
    """Refuse (``Invalid`` naming the field) a deadline before the first day the job may
    be done on, or a release after its last: no plan of its days could keep them, so the
    job would sit unplanned while it looked entered."""
    first, last = job_days(data, tz)
    if data.days > 1 and data.date_range is None:
        last += dt.timedelta(days=7)  # a plan over several days may start it up to a week after its date
    days = f"the job's date {first}" if first == last else f"the job's days {first} to {last}"
    start = dt.datetime.combine(first, dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    if data.deadline is not None and data.deadline < start:
        raise Invalid(
            f"deadline: {data.deadline.astimezone(tz):%Y-%m-%d %H:%M} is before {days}: give a later deadline, "
            "or an earlier date",
            "deadline",
        )
    if data.release_at is not None and data.release_at >= end:
        raise Invalid(
            f"release_at: {data.release_at.astimezone(tz):%Y-%m-%d %H:%M} is after {days}: give a later date, "
            "or an earlier release",
            "release_at",
        )


def urgent_due(now: dt.datetime, standard: dt.timedelta) -> dt.datetime:
    """When urgent work entered at ``now`` without a deadline is due: ``standard`` (the
    repair standard, ``BookingSettings.urgent_deadline_min``) later, on the whole minute."""
    return (now + standard).replace(second=0, microsecond=0)


def past_deadline(deadline: dt.datetime, now: dt.datetime, tz: ZoneInfo) -> str:
    """Why a deadline already passed cannot be taken: no plan could keep it, so the job
    would sit unplanned while it looked entered. Says what to give instead."""
    shown, at = deadline.astimezone(tz), now.astimezone(tz)
    when = f"{shown:%H:%M}" if shown.date() == at.date() else f"{shown:%Y-%m-%d %H:%M}"
    return f"deadline: {when} has passed (it is {at:%Y-%m-%d %H:%M}): give a later deadline, or none"


def put_job(
    session: Session,
    job_id: str,
    data: JobIn,
    tz: ZoneInfo,
    default_region: str,
    geocode: Geocoder | None = None,
    booked: bool = False,
    *,
    now: dt.datetime,
    flush: bool = True,
    urgent_deadline: dt.timedelta | None = None,
    place_checked: bool = False,
    homes: dict[str, list[tuple[float, float]]] | None = None,
) -> tuple[JobRow, bool]:
    """Create or replace a job, stamped ``now``; True when created. Unknown technician
    or job references, and windows that miss the job's day, are refused naming the
    field; an address alone is geocoded. Without ``flush`` the row is only added to the
    session (a caller that sets more of it writes it once, at its own flush). With
    ``urgent_deadline`` (the repair standard), an urgent job (priority 1) created for
    today without a deadline gets ``now`` plus it, as a slot search gives one.
    ``place_checked``: the caller has shown the place reachable by the region's
    technicians (a booking's slot), so ``check_place`` is not read again; ``homes``: as
    ``check_place``'s, kept by a caller that stores many jobs."""
    region = data.region or default_region
    check_spelling(session, region, default_region)
    check_references(session, job_id, data, region)
    check_windows(data, tz)
    check_reachable(data, tz)
    location = data.location
    if location is None:
        if geocode is None:
            raise Invalid("location: required (no geocoder configured for the address)", "location")
        location = geocode(data.address)
    if not place_checked:
        check_place(session, region, location, homes=homes)
    row = session.get(JobRow, job_id)
    created = row is None
    deadline = data.deadline
    # A job whose days are all over is a record (a past day replayed or imported):
    # its deadline is taken as given.
    if deadline is not None and deadline <= now and job_days(data, tz)[1] >= now.astimezone(tz).date():
        kept = row is not None and row.deadline is not None and stored_utc(row.deadline) == to_storage(deadline)
        if not kept:
            raise Invalid(past_deadline(deadline, now, tz), "deadline")
    urgent_today = data.priority == 1 and job_date(data, tz) == now.astimezone(tz).date()
    if deadline is None and created and urgent_deadline is not None and urgent_today:
        deadline = urgent_due(now, urgent_deadline)
    now = to_storage(now)
    values: dict[str, Any] = {
        "region": region,
        "date": job_date(data, tz),
        "date_from": data.date_range.from_ if data.date_range is not None else None,
        "date_to": data.date_range.to if data.date_range is not None else None,
        "preferred_date": data.preferred_date,
        "days": data.days,
        "kind": data.kind,
        # A replaced job keeps where its day stands (completed stays completed);
        # a cancelled one is open again.
        "status": OPEN if row is None or row.status == CANCELLED else row.status,
        "lat": location.lat,
        "lon": location.lon,
        "address": data.address,
        "customer_name": data.customer.name,
        "customer_phone": data.customer.phone,
        "duration_min": data.duration_min,
        "skills": dict(data.skills),
        "crew_size": data.crew_size,
        "windows": [[to_storage(w.start).isoformat(), to_storage(w.end).isoformat()] for w in data.windows],
        "preferred_start": to_storage(data.preferred_window.start) if data.preferred_window else None,
        "preferred_end": to_storage(data.preferred_window.end) if data.preferred_window else None,
        "soft_penalty_per_min_cents": round(data.soft_penalty_per_min * 100),
        "release_at": to_storage(data.release_at) if data.release_at else None,
        "deadline": to_storage(deadline) if deadline else None,
        "priority": data.priority,
        "pinned_technician_id": data.pinned_technician_id,
        "preferred_technician_id": data.preferred_technician_id,
        "depends_on": data.depends_on.job_id if data.depends_on is not None else None,
        "depends_min_lag_min": data.depends_on.min_lag_min if data.depends_on is not None else 0,
        "depends_max_lag_min": data.depends_on.max_lag_min if data.depends_on is not None else None,
        "depends_min_lag_days": data.depends_on.min_lag_days if data.depends_on is not None else 0,
        "depends_max_lag_days": data.depends_on.max_lag_days if data.depends_on is not None else None,
        "notes": data.notes,
        "updated_at": now,
    }
    if row is None:
        row = JobRow(id=job_id, created_at=now, booked=booked, **values)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    session.add(row)
    if flush:
        session.flush()
    return row, created


def list_jobs(session: Session, day: dt.date | None = None, region: str | None = None) -> list[JobRow]:
    """Jobs (of one date and region when given), by id; cancelled ones included. The jobs
    of a date are those dated that day and those the day's live schedule holds (its
    published plan put them there): a day of a job of several days, or a job dated
    elsewhere since it was published, is listed on the day someone will be there."""
    query = select(JobRow).order_by(col(JobRow.id))
    if day is not None:
        held = set(held_on(session, day, region))
        query = query.where(or_(JobRow.date == day, col(JobRow.id).in_(held)) if held else JobRow.date == day)
    if region is not None:
        query = query.where(JobRow.region == region)
    return list(session.exec(query).all())


def get_job(session: Session, job_id: str) -> JobRow:
    """One job (NotFound when unknown)."""
    row = session.get(JobRow, job_id)
    if row is None:
        raise NotFound(f"job {job_id} does not exist", "job_id")
    return row


def check_not_awaited(session: Session, job_id: str) -> None:
    """Refuse (``Conflict`` naming ``job_id``) to cancel a job that a promised job, not yet
    begun, waits for: that promise could then never be kept, and every plan of its day
    would be refused for it."""
    waiting = session.exec(
        select(JobRow)
        .where(JobRow.depends_on == job_id, col(JobRow.confirmed), col(JobRow.status).in_(PLANNABLE))
        .order_by(col(JobRow.id))
    ).first()
    if waiting is not None:
        raise Conflict(
            f"job {waiting.id} is promised to its customer on {waiting.date} and waits for job {job_id}: cancel job "
            f"{waiting.id} first, or PUT it without depends_on",
            "job_id",
        )


def cancel_job(session: Session, job_id: str, *, now: dt.datetime) -> JobRow:
    """Mark a job cancelled at ``now``: no later plan includes it. Its history stays.
    The feed tells it (``job.status`` cancelled, for the job's first published
    technician) unless the job was cancelled already (read afresh: a request that read
    it before another cancelled it does not tell it again)."""
    row = session.get(JobRow, job_id, with_for_update={"key_share": True}, populate_existing=True)
    if row is None:
        raise NotFound(f"job {job_id} does not exist", "job_id")
    if row.status == CANCELLED:
        return row
    row.status = CANCELLED
    row.updated_at = to_storage(now)
    session.add(row)
    session.flush()
    concerned = next(iter(feed.published_technicians(session, row)), None)
    feed.emit(session, feed.JOB_STATUS, job_id=job_id, technician_id=concerned, data={"status": CANCELLED}, now=now)
    return row


def job_events(session: Session, job_id: str) -> list[EventRow]:
    """Status events of a job, oldest first."""
    return list(session.exec(select(EventRow).where(EventRow.job_id == job_id).order_by(col(EventRow.at))).all())


def last_failures(session: Session, jobs: list[JobRow]) -> dict[str, EventRow]:
    """The last failed visit of each of ``jobs`` that is open again after one (by job id)."""
    ids = [j.id for j in jobs if j.reason is not None]
    out: dict[str, EventRow] = {}
    if ids:
        rows = session.exec(
            select(EventRow)
            .where(col(EventRow.job_id).in_(ids), EventRow.type == "failed")
            .order_by(col(EventRow.at), col(EventRow.id))
        ).all()
        for row in rows:
            out[row.job_id] = row
    return out
