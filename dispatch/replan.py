"""Re-planning a disrupted day from an instant (docs/replan.md): disruptions as
stored facts, and the day that is left at an instant as the engine's problem.

``day_from`` reads the published plan and the field facts at ``at`` (through the
same walk the ETAs use, ``dispatch.eta.live_day``): visits done or under way (and
a visit a technician is already on the way to) are settled; each technician is
free again where their last settled visit ends, or at a position they reported
late from; absences cut their day. What technicians and customers were told (the
published plan: technician, and the arrival last told) becomes the stability
costs of ``solver.replan``; promises stay hard. The published plan's locks are
kept where they can be (``solver.locks``: a technician lock only while its
technician still works, a time lock only while its start is still ahead).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from dispatch import catalog, eta, feed, jobdays, jobstate, live, locks
from dispatch.errors import Conflict, Invalid, NotFound
from dispatch.inputs import DisruptionIn
from dispatch.mapping import (
    Day,
    DayClock,
    disruptions_of,
    load_day,
    reporters,
    superseded,
    technicians_on,
    unavailability,
)
from dispatch.planning import published_plan_id
from dispatch.tables import DisruptionRow, EventRow, JobRow, RouteRow, TechnicianRow, VisitRow
from dispatch.timeutil import from_storage, to_storage
from solver import Location, Problem, Shift, Technician
from solver import locks as lock_rules
from solver.problem import DAY_S
from solver.replan import Absence, Position, Stability, Told, lunch_taken_until, remaining
from solver.solution import ReasonCode, Unassigned

SETTLED = (jobstate.COMPLETED, jobstate.EN_ROUTE, jobstate.ON_SITE)
"""Job statuses a re-plan leaves where they are: done, or a technician is on it."""


OVERRUN_PAST_MIDNIGHT = dt.timedelta(hours=12)
"""How long after its day's midnight a visit may be expected to end: a day's work
that runs into the night, not work of another day (an overrun later than this is
refused; what is left is a revisit)."""


@dataclass(frozen=True)
class Recorded:
    """A disruption as ``record_disruption`` answers it: stored now (``created``), or the
    same one in effect already (a retry)."""

    row: DisruptionRow
    created: bool


def record_disruption(session: Session, data: DisruptionIn, region: str, tz: ZoneInfo, now: dt.datetime) -> Recorded:
    """Store a disruption of the day it falls on (of ``region``, or the job's) and tell
    the feed; unknown technician or job → 404 naming the field. The same disruption
    again while the first is in effect (``_same_in_effect``: a retry after a lost answer)
    is that one, not stored or told again. The caller commits."""
    same = _same_in_effect(session, data, tz)
    if same is not None:
        return Recorded(same, created=False)
    technician_id, job_id = data.technician_id, data.job_id
    moment = data.from_ or data.at or data.expected_end
    assert moment is not None  # DisruptionIn asks each type for its instant
    day = moment.astimezone(tz).date()
    if data.until is not None and data.until > DayClock(day, tz).next_midnight:
        raise Invalid(
            f"until: {data.until.astimezone(tz):%Y-%m-%d %H:%M} is on a later day than from ({day}); a disruption "
            f"covers one day: record the rest as another technician_unavailable from {day + dt.timedelta(days=1)} "
            "00:00, or days away as the technician's absences (PUT /v1/technicians/{id})",
            "until",
        )
    if technician_id is not None:
        tech = session.get(TechnicianRow, technician_id)
        if tech is None:
            raise NotFound(f"technician {technician_id} does not exist", "technician_id")
        region = tech.region
        working = {t.id: t for t in technicians_on(session, day, region, tz, disrupted=False)}
        if technician_id not in working:
            raise Invalid(
                f"technician_id: {technician_id} does not work on {day} (no shift, or away that day): "
                "nothing of that day to change",
                "technician_id",
            )
        _check_inside_day(working[technician_id], data, DayClock(day, tz))
        if data.type == "running_late":
            _check_after_field_reports(session, data, day, region, tz, now)
        if data.location is not None:
            catalog.check_place(session, region, data.location)
    if job_id is not None:
        job = catalog.get_job(session, job_id)
        region = job.region
        if data.type == "overrun" and job.status not in jobstate.UNDER_WAY:
            todo = job.status in (jobstate.OPEN, jobstate.SCHEDULED)
            raise Invalid(
                f"job_id: job {job_id} is {job.status}; only a visit under way (on the way or on site) can overrun"
                + (": record the arrival first (a field event)" if todo else ""),
                "job_id",
            )
        if data.type == "overrun":
            day = _overrun_day(job, data, tz, now)
    row = DisruptionRow(
        date=day,
        region=region,
        type=data.type,
        technician_id=technician_id,
        job_id=job_id,
        from_at=to_storage(data.from_) if data.from_ else None,
        until_at=to_storage(data.until) if data.until else None,
        expected_end=to_storage(data.expected_end) if data.expected_end else None,
        at=to_storage(data.at) if data.at else None,
        lat=data.location.lat if data.location else None,
        lon=data.location.lon if data.location else None,
        created_at=to_storage(now),
    )
    session.add(row)
    session.flush()
    # The day changed: slot search builds its picture again, a plan made before is
    # checked against it when published (``planning.stale_reasons``).
    live.touch(session, row.date, region, now)
    told = {
        "id": row.id,
        "type": row.type,
        "date": row.date,
        "from": data.from_,
        "until": data.until,
        "expected_end": data.expected_end,
        "at": data.at,
        "location": data.location.model_dump() if data.location else None,
    }
    feed.emit(session, feed.DISRUPTION, job_id=job_id, technician_id=technician_id, data=told, now=now)
    return Recorded(row, created=True)


def _same_in_effect(session: Session, data: DisruptionIn, tz: ZoneInfo) -> DisruptionRow | None:
    """The disruption stored with exactly what ``data`` says (type, technician or job,
    times and place) that is in effect (no later one replaced it: ``mapping.superseded``),
    if any. One that was replaced since is not the same news: sent again, it is a
    correction back, stored and told."""

    def same(column: Any, value: Any) -> ColumnElement[bool]:
        return col(column).is_(None) if value is None else col(column) == value

    stamps = (data.from_, data.until, data.expected_end, data.at)
    from_at, until_at, expected_end, at = (to_storage(t) if t is not None else None for t in stamps)
    query = select(DisruptionRow).where(
        DisruptionRow.type == data.type,
        same(DisruptionRow.technician_id, data.technician_id),
        same(DisruptionRow.job_id, data.job_id),
        same(DisruptionRow.from_at, from_at),
        same(DisruptionRow.until_at, until_at),
        same(DisruptionRow.expected_end, expected_end),
        same(DisruptionRow.at, at),
        same(DisruptionRow.lat, data.location.lat if data.location else None),
        same(DisruptionRow.lon, data.location.lon if data.location else None),
    )
    for row in session.exec(query.order_by(col(DisruptionRow.id).desc())).all():
        assert row.id is not None
        if row.id not in superseded(disruptions_of(session, row.date, row.region), DayClock(row.date, tz)):
            return row
    return None


def withdraw_disruption(session: Session, disruption_id: int, tz: ZoneInfo, now: dt.datetime) -> DisruptionRow:
    """Take back a disruption recorded by mistake (404 naming ``disruption_id`` when there
    is none): its day is as if it had never been recorded for every reader from now on
    (the working time, slot search, the live day, re-plans), and the feed says so with a
    ``disruption`` event carrying ``withdrawn: true``. A plan published meanwhile stays
    as it is: a re-plan from now plans the day again without it. One that a later one
    replaced has no effect to take back: ``Conflict`` naming ``disruption_id`` and the
    one in effect (withdraw that one first). The caller commits."""
    row = session.get(DisruptionRow, disruption_id)
    if row is None:
        raise NotFound(f"disruption {disruption_id} does not exist", "disruption_id")
    later = superseded(disruptions_of(session, row.date, row.region), DayClock(row.date, tz)).get(disruption_id)
    if later is not None:
        raise Conflict(
            f"disruption_id: disruption {disruption_id} has no effect to withdraw: disruption {later.id} "
            f"({_described(later, tz)}), recorded after it, replaced it. Withdraw {later.id} to take that back "
            f"({disruption_id} then counts again, and can be withdrawn in turn)",
            "disruption_id",
        )
    session.delete(row)
    session.flush()
    live.touch(session, row.date, row.region, now)
    told = {"id": disruption_id, "type": row.type, "date": row.date, "withdrawn": True}
    feed.emit(session, feed.DISRUPTION, job_id=row.job_id, technician_id=row.technician_id, data=told, now=now)
    return row


def _described(row: DisruptionRow, tz: ZoneInfo) -> str:
    """A stored disruption in a few words, for messages: "W1 unavailable 11:00-13:00"."""

    def hhmm(stored: dt.datetime | None) -> str:
        return f"{from_storage(stored, tz):%H:%M}" if stored is not None else ""

    if row.type == "technician_unavailable":
        span = f"{hhmm(row.from_at)}-{hhmm(row.until_at)}" if row.until_at else f"from {hhmm(row.from_at)}"
        return f"{row.technician_id} unavailable {span}"
    if row.type == "overrun":
        return f"{row.job_id} expected to end {hhmm(row.expected_end)}"
    return f"{row.technician_id} running late at {hhmm(row.at)}"


def _check_inside_day(tech: Technician, data: DisruptionIn, clock: DayClock) -> None:
    """Refuse (``Invalid`` naming the field) an absence or a late report that falls
    wholly outside ``tech``'s working day (their shift and the overtime they may do; a
    late report before the shift begins too): it would change nothing, or stretch the
    day it was meant to cut."""
    ends = clock.moment(tech.latest_end_s)
    shown = f"{clock.moment(tech.shift.start_s):%H:%M}-{ends:%H:%M}"
    if tech.latest_end_s > tech.shift.end_s:
        shown += f" (with the overtime they may do; the shift ends at {clock.moment(tech.shift.end_s):%H:%M})"
    if data.from_ is not None and clock.seconds(data.from_) >= tech.latest_end_s:
        raise Invalid(
            f"from: {tech.id} works {shown}; away from {data.from_.astimezone(clock.tz):%H:%M} changes nothing "
            "of that day",
            "from",
        )
    if data.until is not None and clock.seconds(data.until) <= tech.shift.start_s:
        raise Invalid(
            f"until: {tech.id} works {shown}; away until {data.until.astimezone(clock.tz):%H:%M} changes nothing "
            "of that day",
            "until",
        )
    if data.at is not None and clock.seconds(data.at) < tech.shift.start_s:
        raise Invalid(
            f"at: {tech.id} works {shown}; a late report at {data.at.astimezone(clock.tz):%H:%M} is before their "
            f"working day begins, so it changes nothing (they start at {clock.moment(tech.shift.start_s):%H:%M} "
            "anyway): report where they are once the day has begun",
            "at",
        )
    if data.at is not None and clock.seconds(data.at) >= tech.latest_end_s:
        raise Invalid(
            f"at: {tech.id} works {shown}; a late report at {data.at.astimezone(clock.tz):%H:%M} is after their day, "
            "so no visit of it is left to be late for",
            "at",
        )


def _check_after_field_reports(
    session: Session, data: DisruptionIn, day: dt.date, region: str, tz: ZoneInfo, now: dt.datetime
) -> None:
    """Refuse (``Conflict`` naming ``at``) a ``running_late`` older than when the field's
    reports leave its technician free (a visit done, failed or under way since): the live
    day and re-plans read a late report only from then on (``_with_late_reports``,
    ``eta``), so it would be stored, told and never used."""
    assert data.technician_id is not None and data.at is not None
    clock = DayClock(day, tz)
    walk = _walk(session, day, region, tz, now, published_plan_id(session, day, region))
    position = walk.positions.get(data.technician_id)
    if position is None or clock.seconds(data.at) >= position.free_at_s:
        return
    heading = walk.on_the_way.get(data.technician_id)
    set_out = _set_out(session, heading, tz) if heading is not None else None
    if set_out is not None and data.at >= set_out:
        return  # held up on the way: the rest of the drive is from where they report (``eta``)
    free = clock.moment(position.free_at_s)
    why = walk.free_after.get(data.technician_id, "a visit done or under way")
    raise Conflict(
        f"at: the field reported later: {data.technician_id} {why}, so is free only from {free:%H:%M}; "
        f"a late report at {data.at.astimezone(tz):%H:%M} is older and would change nothing (the live day and "
        f"re-plans start {data.technician_id} from there then): report where they are from {free:%H:%M} on",
        "at",
    )


def _set_out(session: Session, job_id: str, tz: ZoneInfo) -> dt.datetime | None:
    """When the technician on the way to ``job_id`` reported setting out (its last
    ``en_route`` event), local; None when no such event is stored."""
    moments = session.exec(select(EventRow.at).where(EventRow.job_id == job_id, EventRow.type == "en_route")).all()
    return max((from_storage(at, tz) for at in moments), default=None)


def _overrun_day(job: JobRow, data: DisruptionIn, tz: ZoneInfo, now: dt.datetime) -> dt.date:
    """The day the visit under way that ``data`` says overruns is on (where re-plans and
    the live day read the overrun), once its expected end is known to make sense: after
    the visit began, not already past and by noon after that day (``OVERRUN_PAST_MIDNIGHT``;
    ``Invalid`` naming ``expected_end``)."""
    assert data.expected_end is not None
    end = data.expected_end
    began = from_storage(job.actual_start, tz) if job.actual_start is not None else None
    if began is not None and end <= began:
        raise Invalid(
            f"expected_end: {end.astimezone(tz):%Y-%m-%d %H:%M} is not after the visit began ({began:%Y-%m-%d %H:%M})",
            "expected_end",
        )
    if end <= now:
        raise Invalid(
            f"expected_end: {end.astimezone(tz):%Y-%m-%d %H:%M} is already past (now {now.astimezone(tz):%H:%M}); "
            "a visit that is over is recorded as completed (a field event)",
            "expected_end",
        )
    day = job.date if job.days <= 1 else (began or now).astimezone(tz).date()
    if end >= DayClock(day, tz).next_midnight + OVERRUN_PAST_MIDNIGHT:
        latest = DayClock(day, tz).next_midnight + OVERRUN_PAST_MIDNIGHT
        raise Invalid(
            f"expected_end: {end.astimezone(tz):%Y-%m-%d %H:%M} is past {latest:%Y-%m-%d %H:%M}, later than a visit "
            f"of {day} can run on: report what is left as a failed visit (reason second_visit) and plan the revisit",
            "expected_end",
        )
    return day


def _idle(tech: Technician, now_s: int) -> Technician:
    """``tech`` with no time and no visit left to give (a re-plan plans them an empty route)."""
    start = min(max(tech.shift.start_s, now_s), DAY_S)
    return dataclasses.replace(tech, shift=Shift(start, start + 1), max_overtime_s=0, max_jobs=0)


@dataclass(frozen=True)
class DayFrom:
    """What is left of a day at an instant, for a re-plan: ``day`` (its problem is
    ``solver.replan.remaining``), the jobs that cannot be planned, the settled
    visits of the published plan (kept as they are), and what was told; ``locks``:
    the published plan's, and ``locked``: the problem to solve with what can be kept
    of them (None: no locks)."""

    day: Day
    unplannable: list[str]
    at: dt.datetime
    published_plan_id: int | None
    settled: list[VisitRow] = field(default_factory=list)
    told: dict[str, Told] = field(default_factory=dict)
    told_routes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    locks: tuple[lock_rules.VisitLock, ...] = ()
    locked: lock_rules.Locked | None = None
    # Visits of the published plan due by the instant that the field reported nothing
    # for: job id → a sentence saying whose and since when (a refusal names them).
    unreported: dict[str, str] = field(default_factory=dict)
    # The published plan's lunch (start, end in seconds) of each technician who has had
    # it by the instant: the re-plan plans none for them and keeps it on their route.
    lunches_taken: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Where and when each technician with a visit done or under way (or a late report)
    # is free again: where ``day``'s technicians start.
    positions: dict[str, Position] = field(default_factory=dict)
    # What the day's changes against what was told cost (stored with the re-plan made of it).
    stability: Stability = field(default_factory=Stability)
    # The published plan's visits that are over without being done (failed, or cancelled
    # once reached) and whose job this re-plan does not plan again: kept on their routes
    # as they were, like the settled ones, so that the installer's list, the live day,
    # the next re-plan's positions and the day's figures still have them once published.
    ended: list[VisitRow] = field(default_factory=list)


@dataclass
class _Walk:
    """What the published plan and the field facts say of each technician's day at an
    instant (``_walk``); the fields are ``DayFrom``'s of the same names, and:"""

    # The jobs of the published plan's visits, as on that day.
    jobs: dict[str, JobRow]
    positions: dict[str, Position] = field(default_factory=dict)
    settled: set[str] = field(default_factory=set)
    told: dict[str, Told] = field(default_factory=dict)
    told_routes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    unreported: dict[str, str] = field(default_factory=dict)
    # Technicians with a visit done, under way, or over without being done.
    holders: set[str] = field(default_factory=set)
    # When each settled job ends (actually, or as expected while under way): what the
    # jobs that wait for it count their lag from.
    settled_ends: dict[str, int] = field(default_factory=dict)
    # The planned end of each technician's last settled visit (where their lunch stood).
    settled_planned_end: dict[str, int] = field(default_factory=dict)
    # Crew jobs under way that one of the two is not coming to (``_partner_gone``): job id
    # → the technician who reported on the way or there, who keeps it.
    crew_behind: dict[str, str] = field(default_factory=dict)
    # Visits that are over without being done (failed, or cancelled once reached), as
    # (technician id, seq in the published plan).
    ended: set[tuple[str, int]] = field(default_factory=set)
    # What the field reported that sets each technician's position ("J01 completed at
    # 12:00"), for messages.
    free_after: dict[str, str] = field(default_factory=dict)
    # Technicians whose last reported visit is one they are on the way to: job id.
    on_the_way: dict[str, str] = field(default_factory=dict)


def _walk(
    session: Session,
    day: dt.date,
    region: str,
    tz: ZoneInfo,
    at: dt.datetime,
    plan_id: int | None,
) -> _Walk:
    """Each technician's published visits at ``at`` (``eta.live_day``): which are settled,
    where and when the technician is free again after them, what each customer ahead
    was told, and the visits due by ``at`` that nothing was reported for. A crew job under
    way whose other technician is not coming (see ``_partner_gone``) is not
    settled: it stays to plan, with the technician who reported."""
    clock = DayClock(day, tz)
    live_day = eta.live_day(session, day, region, tz, at)
    ids = [v.job_id for t in live_day.technicians for v in t.visits]
    rows = session.exec(select(JobRow).where(col(JobRow.id).in_(ids))).all() if ids else []
    out = _Walk({row.id: jobdays.on_day(session, row, day, tz) for row in rows})
    out.crew_behind = _partner_gone(session, out.jobs, live_day, clock)
    # Each published visit's drive (minutes): a technician is due to set out that long before arriving.
    drives: dict[tuple[str, str], float] = {}
    if plan_id is not None:
        legs = select(VisitRow.technician_id, VisitRow.job_id, VisitRow.travel_min).where(VisitRow.plan_id == plan_id)
        drives = {(t, j): minutes for t, j, minutes in session.exec(legs).all()}
    for tech in live_day.technicians:
        last: eta.LiveVisit | None = None
        served = 0
        ahead: list[str] = []
        for visit in tech.visits:
            job = out.jobs.get(visit.job_id)
            if job is None or job.status == jobstate.CANCELLED:
                continue
            if job.status in SETTLED and job.id not in out.crew_behind:
                out.settled_planned_end[tech.technician_id] = clock.seconds(visit.planned_end)
                out.settled.add(job.id)
                ends = [t for t in (visit.actual_end, visit.expected_end) if t is not None]
                if ends:
                    out.settled_ends[job.id] = max(out.settled_ends.get(job.id, 0), clock.seconds(max(ends)))
                out.holders.add(tech.technician_id)
                served += 1
                last = visit
            elif job.status == jobstate.OPEN and visit.actual_end is not None:
                # A failed visit: the job is open again, the technician moved on. (Its
                # revisit, once published, is scheduled: told work like any other.)
                last = visit
                out.ended.add((tech.technician_id, visit.seq))
                out.holders.add(tech.technician_id)
            else:
                arrival = from_storage(job.told_eta, tz) if job.told_eta is not None else visit.planned_arrival
                # A crew's two start together at the planned start.
                start_s = clock.seconds(visit.planned_start) if job.crew_size == 2 else None
                out.told[job.id] = Told.joined(
                    out.told.get(job.id), tech.technician_id, clock.seconds(arrival), start_s
                )
                ahead.append(job.id)
                sets_out = visit.planned_arrival - dt.timedelta(minutes=drives.get((tech.technician_id, job.id), 0.0))
                if sets_out <= at and job.status == jobstate.SCHEDULED:
                    if visit.planned_arrival <= at:
                        due = f"due there at {visit.planned_arrival.astimezone(tz):%H:%M}"
                    else:
                        due = f"due to set out for it at {sets_out.astimezone(tz):%H:%M}"
                    out.unreported[job.id] = f"{tech.technician_id} was {due} and nothing was reported"
        out.told_routes[tech.technician_id] = tuple(ahead)
        if last is not None:
            ends = [t for t in (last.actual_end, last.expected_end) if t is not None]
            free = max(ends) if ends else at
            place = out.jobs[last.job_id]
            out.positions[tech.technician_id] = Position(Location(place.lat, place.lon), clock.seconds(free), served)
            out.free_after[tech.technician_id] = _reported(last, place.status, tz)
            if place.status == jobstate.EN_ROUTE:
                out.on_the_way[tech.technician_id] = place.id
        there = tech.cancelled_there
        if there is not None:
            out.ended.add((tech.technician_id, there.seq))
            out.holders.add(tech.technician_id)
        if there is not None and (last is None or there.seq > last.seq):
            before = out.positions.get(tech.technician_id)
            free_s = max(clock.seconds(there.arrived), before.free_at_s if before is not None else 0)
            out.positions[tech.technician_id] = Position(there.location, free_s, served)
            out.free_after[tech.technician_id] = (
                f"reached a visit at {there.arrived.astimezone(tz):%H:%M} that was cancelled since"
            )
    return out


def _reported(visit: eta.LiveVisit, status: str, tz: ZoneInfo) -> str:
    """What the field reported of ``visit`` (its job now ``status``), for a message."""
    if visit.actual_end is not None:
        done = "completed" if status == jobstate.COMPLETED else "failed"
        return f"reported {visit.job_id} {done} at {visit.actual_end.astimezone(tz):%H:%M}"
    if visit.actual_start is not None:
        return f"arrived at {visit.job_id} at {visit.actual_start.astimezone(tz):%H:%M}"
    return f"is on the way to {visit.job_id}"


def _partner_gone(
    session: Session,
    jobs: Mapping[str, JobRow],
    live_day: eta.LiveDay,
    clock: DayClock,
) -> dict[str, str]:
    """Crew jobs under way (one of the two reported on the way or there) whose other
    technician reported nothing for it and is unavailable at its planned start (reported
    away, or their working day holds it no more: a stored absence, a day off, a shift
    taken away; since session 39): job id →
    the technician who reported, who keeps it (never taken from a technician on the
    way). Settled, the job would keep the absent technician on it; a re-plan looks for
    another partner instead. A report sent without a technician (the dispatcher's) counts
    for both."""
    under_way = {i for i, job in jobs.items() if job.crew_size == 2 and job.status in jobstate.UNDER_WAY}
    if not under_way:
        return {}
    # Their working day as every plan reads it: a stored absence, a day off or a shift
    # taken away keeps a partner away as a reported absence does.
    working = {t.id: t for t in technicians_on(session, live_day.date, live_day.region, clock.tz)}
    reported = reporters(session, under_way)
    out: dict[str, str] = {}
    for tech in live_day.technicians:
        day = working.get(tech.technician_id)
        for visit in tech.visits:
            who = reported.get(visit.job_id, set())
            if visit.job_id not in under_way or None in who or tech.technician_id in who or not who:
                continue
            start_s = clock.seconds(visit.planned_start)
            if not _works_at(day, start_s):
                out[visit.job_id] = sorted(t for t in who if t is not None)[0]
    return out


def _works_at(tech: Technician | None, t_s: int) -> bool:
    """True when ``tech``'s working day (``technicians_on``: None when they have none)
    holds the instant ``t_s``: inside their shift and overtime, not in an absence's pause."""
    if tech is None or not tech.shift.start_s <= t_s < tech.latest_end_s:
        return False
    pause = tech.shift.lunch
    return pause is None or pause.on_site or not pause.earliest_s <= t_s < pause.earliest_s + pause.duration_s


def _with_late_reports(
    positions: dict[str, Position], disruptions: list[DisruptionRow], clock: DayClock
) -> dict[str, Position]:
    """``positions`` with each technician's late report (``eta.late_reports``) where it is
    newer than when their settled visits leave them free."""
    out = dict(positions)
    for tech_id, (where, reported) in eta.late_reports(disruptions, clock).items():
        before = out.get(tech_id)
        if before is None or reported >= before.free_at_s:
            out[tech_id] = Position(where, reported, before.served if before is not None else 0)
    return out


@dataclass(frozen=True)
class StartingPoints:
    """Where and when each technician of a day starts again at an instant: the one
    reading of the field that a re-plan from that instant (``day_from``) and today's
    slot search and booking (``dispatch.booking``) share; ``left`` makes the rest of
    the day's problem of it."""

    now_s: int
    """The instant, in seconds of its day: nobody starts again before it."""
    positions: dict[str, Position]
    """Where and when each technician with a visit done or under way (or a late report) is free again."""
    settled: set[str]
    """The jobs done or under way."""
    absences: dict[str, tuple[Absence, ...]]
    """The reported unavailability, read against the instant (someone away then starts when back)."""
    settled_ends: dict[str, int]
    """When each settled job ends (actually, or as expected while under way)."""
    lunch_taken: dict[str, int]
    """Until when each technician who has had their lunch by the instant (or is having it) is on it."""
    lunches: dict[str, tuple[int, int]]
    """The published plan's lunch (start, end) of each technician in ``lunch_taken``."""

    def left(
        self, problem: Problem, *, told: Mapping[str, Told] | None = None, stability: Stability | None = None
    ) -> Problem:
        """What is left of ``problem`` (the whole day) at the instant
        (``solver.replan.remaining``): each technician starts where they are free again,
        a technician nobody has heard from where their day starts, and never before the
        instant; the settled jobs are out."""
        return remaining(
            problem,
            self.now_s,
            positions=self.positions,
            settled=self.settled,
            absences=self.absences,
            told=told,
            stability=stability,
            settled_ends=self.settled_ends,
            lunch_taken=self.lunch_taken,
        )


def starting_points(
    session: Session, day: dt.date, region: str, tz: ZoneInfo, at: dt.datetime, technicians: Sequence[Technician]
) -> StartingPoints:
    """Where and when each of ``technicians`` (the day's, as ``technicians_on`` gives them)
    starts again at ``at``, as a re-plan from ``at`` starts them (``day_from`` reads the
    same), for readers that need no more of the day."""
    plan_id = published_plan_id(session, day, region)
    walk = _walk(session, day, region, tz, at, plan_id)
    return _starting_points(session, walk, technicians, disruptions_of(session, day, region), plan_id, at, tz, day)


def _starting_points(
    session: Session,
    walk: _Walk,
    technicians: Sequence[Technician],
    disruptions: list[DisruptionRow],
    plan_id: int | None,
    at: dt.datetime,
    tz: ZoneInfo,
    day: dt.date,
) -> StartingPoints:
    """``StartingPoints`` of ``technicians`` at ``at`` from the field facts ``walk`` and the
    day's ``disruptions`` (as the live day reads them: the last of each kind per technician)."""
    clock = DayClock(day, tz)
    now_s = clock.seconds(at)
    # Free again after their settled visits: what their lunch is read against (a late
    # report says where they are on the way, not that they were free for lunch).
    free_after_visits = {tech_id: p.free_at_s for tech_id, p in walk.positions.items()}
    lunches = _planned_lunches(session, plan_id, clock)
    taken: dict[str, int] = {}
    for tech in technicians:
        free_s = free_after_visits.get(tech.id, tech.shift.start_s)
        over = lunch_taken_until(lunches.get(tech.id), walk.settled_planned_end.get(tech.id), free_s, now_s)
        if over is not None:
            taken[tech.id] = over
    return StartingPoints(
        now_s,
        _with_late_reports(walk.positions, disruptions, clock),
        set(walk.settled),
        # The day's technicians have their unavailability already (``technicians_on``);
        # given again it is read against the instant: someone away now starts when back.
        dict(unavailability(disruptions, clock)),
        dict(walk.settled_ends),
        taken,
        {tech_id: lunches[tech_id] for tech_id in taken},
    )


def day_from(
    session: Session, day: dt.date, region: str, tz: ZoneInfo, at: dt.datetime, stability: Stability
) -> DayFrom:
    """The day of ``region`` left at ``at``: see the module docstring."""
    whole, unplannable = load_day(session, day, region, tz)
    clock = DayClock(day, tz)
    now_s = clock.seconds(at)
    held = locks.published(session, day, region, clock)
    plan_id = published_plan_id(session, day, region)
    walk = _walk(session, day, region, tz, at, plan_id)
    settled, told, holders = walk.settled, walk.told, walk.holders
    points = _starting_points(
        session, walk, whole.problem.technicians, disruptions_of(session, day, region), plan_id, at, tz, day
    )
    # A technician lock holds only while its technician works: decided once the rest of the day is known.
    problem = points.left(
        _kept_by_reporter(lock_rules.unpinned(whole.problem, held), walk.crew_behind), told=told, stability=stability
    )
    # A technician who works no more (absent, or past their day) still holds the visits
    # they did or are on: kept in the day able to take nothing, so that the re-plan's
    # routes hold those visits too.
    working = {t.id for t in problem.technicians}
    idle = tuple(_idle(t, now_s) for t in whole.problem.technicians if t.id in holders and t.id not in working)
    if idle:
        back = {t.id for t in idle}
        off_duty = tuple(t for t in problem.off_duty if t.id not in back)
        problem = dataclasses.replace(problem, technicians=problem.technicians + idle, off_duty=off_duty)
    kept = {j.id for j in problem.jobs}
    gone = sorted(j.id for j in whole.problem.jobs if j.id not in settled and j.id not in kept)
    names = {t.id: t.name for t in problem.technicians}
    held_back = {**whole.held_back, **_why_gone(whole.problem, gone, working, walk.settled_ends, clock)}
    left = Day(day, tz, problem, region, names, whole.job_info, held_back)
    settled_visits: list[VisitRow] = []
    if plan_id is not None and settled:
        query = select(VisitRow).where(VisitRow.plan_id == plan_id, col(VisitRow.job_id).in_(settled))
        settled_visits = list(session.exec(query.order_by(col(VisitRow.technician_id), col(VisitRow.seq))).all())
    ended: list[VisitRow] = []
    if plan_id is not None and walk.ended:
        rows = session.exec(select(VisitRow).where(VisitRow.plan_id == plan_id)).all()
        ended = [
            v
            for v in rows
            if (v.technician_id, v.seq) in walk.ended and v.job_id not in kept and v.job_id not in settled
        ]
    locked = lock_rules.apply(problem, held, now_s) if held else None
    return DayFrom(
        left,
        unplannable + gone,
        at,
        plan_id,
        settled_visits,
        told,
        walk.told_routes,
        tuple(held),
        locked,
        walk.unreported,
        points.lunches,
        points.positions,
        stability,
        ended,
    )


def _why_gone(
    whole: Problem, gone: Sequence[str], working: set[str], settled_ends: Mapping[str, int], clock: DayClock
) -> dict[str, Unassigned]:
    """Why ``remaining`` took each job of ``gone`` out of the rest of the day: pinned to a
    technician who works no more, or waiting for a job done or under way whose end and
    lag leave it no start (or for one that is out too). Before, both read as "pinned to
    a technician who has no shift"."""
    out: dict[str, Unassigned] = {}
    for job in whole.jobs:
        if job.id not in gone:
            continue
        pin = job.pinned_technician_id
        if pin is not None and pin not in working:
            out[job.id] = Unassigned(
                job.id, ReasonCode.PINNED_UNAVAILABLE, f"Pinned to {pin}, who works no more this day."
            )
        elif job.after is not None:
            end = settled_ends.get(job.after.job_id)
            where = (
                f"which ends at {clock.moment(end):%H:%M}: its lag leaves no start this day"
                if end is not None
                else "which is not done and cannot be planned in the rest of this day"
            )
            out[job.id] = Unassigned(
                job.id, ReasonCode.DEPENDENCY_NOT_MET, f"Waits for job {job.after.job_id}, {where}."
            )
    return out


def _kept_by_reporter(problem: Problem, crew_behind: Mapping[str, str]) -> Problem:
    """``problem`` with each crew job whose partner is not coming pinned to the technician
    on the way (one of its two must be them)."""
    if not crew_behind:
        return problem
    jobs = tuple(
        dataclasses.replace(j, pinned_technician_id=crew_behind[j.id]) if j.id in crew_behind else j
        for j in problem.jobs
    )
    return dataclasses.replace(problem, jobs=jobs)


def _planned_lunches(session: Session, plan_id: int | None, clock: DayClock) -> dict[str, tuple[int, int]]:
    """Each technician's lunch (start, end) in the plan ``plan_id``."""
    if plan_id is None:
        return {}
    rows = session.exec(select(RouteRow).where(RouteRow.plan_id == plan_id)).all()
    return {
        r.technician_id: (clock.from_stored(r.lunch_start), clock.from_stored(r.lunch_end))
        for r in rows
        if r.lunch_start is not None and r.lunch_end is not None
    }
