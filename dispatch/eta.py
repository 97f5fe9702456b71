"""Estimated arrival: every remaining visit of a published plan re-timed from the
latest field facts, and the visits whose arrival falls outside the promised window
(docs/live-day.md, "Estimated arrival").

Two halves: ``estimate`` is pure (seconds since the day's midnight, matrix points,
the solver's ``drive_on``), unit-tested with hand-computed numbers; ``live_day``
and ``job_status`` read the stored day and convert at the edges.

How a technician's route is walked, in plan order, from home at the planned
departure:

- a completed visit (or a failed one: the job is open again with ``actual_end``)
  ends at ``actual_end`` at its place;
- a visit on site since ``actual_start`` is expected to end at
  ``max(now, actual_start + duration)``;
- an en-route technician left the previous place at the event's time;
- a visit nothing was reported on keeps its planned times, moved later by
  whatever comes before it, and is never expected earlier than ``now``.

Simplifications (documented in docs/live-day.md): a visit never starts before its
planned start (the plan's start already waits for the window, or for a crew
partner); the lunch stays in the gap of the route where the plan put it and keeps
its length; a crew visit starts at the later of both technicians' expected starts;
a cancelled visit is skipped (the technician drives past it); a technician without
a shift on the day any more has no estimate, and their visits not finished are at
risk as ``unavailable``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from dispatch import jobdays, jobstate, live
from dispatch.auth import Principal
from dispatch.errors import Forbidden, NotFound
from dispatch.mapping import (
    DayClock,
    Span,
    disruptions_of,
    job_of,
    predecessor_end,
    stored_absences,
    technicians_on,
    unavailability,
)
from dispatch.planning import published_plan_id
from dispatch.tables import BookingRow, DisruptionRow, EventRow, JobRow, RouteRow, TechnicianRow, VisitRow
from dispatch.timeutil import from_storage
from solver import HaversineProvider, Location, Problem
from solver.replan import Absence
from solver.schedule import NEVER, Stop, drive_on, told_arrival
from solver.travel import TravelMatrices, index_points

DONE = "done"
UNDER_WAY = "under_way"
NEXT = "next"
LATER = "later"
STATES = (DONE, UNDER_WAY, NEXT, LATER)
"""How a visit stands on its technician's day: finished (completed or failed), under
way (en route or on site), the next one to drive to, or later."""

WINDOW = "window"
SHIFT = "shift"
UNAVAILABLE = "unavailable"
DEPENDENCY = "dependency"
"""Why a visit is at risk: its technician is unavailable when it would be made (a
``technician_unavailable`` disruption), its expected arrival is after the promised
window's end, or it cannot end (and the technician be back) before the shift's hard end."""


# ----- the pure computation ----------------------------------------------------------


@dataclass(frozen=True)
class VisitFacts:
    """One visit of a published route and what the field reported on its job.

    Times are seconds since the day's local midnight; ``status`` is the job's
    (``jobstate``); ``promised`` the promised window of the visit, if any."""

    job_id: str
    point: int
    planned_arrival_s: int
    planned_start_s: int
    planned_end_s: int
    duration_s: int
    status: str = jobstate.OPEN
    actual_start_s: int | None = None
    actual_end_s: int | None = None
    en_route_at_s: int | None = None
    promised: tuple[int, int] | None = None
    # The end an ``overrun`` disruption reported for the visit under way (the last one recorded).
    reported_end_s: int | None = None

    @property
    def finished(self) -> bool:
        """Completed, or failed (the job open again with the visit's end)."""
        return self.status == jobstate.COMPLETED or (self.status == jobstate.OPEN and self.actual_end_s is not None)


@dataclass(frozen=True)
class RouteFacts:
    """One technician's published route: where the day starts and ends (matrix
    points), the planned departure, the hard end (shift end plus overtime allowed),
    the planned lunch, and the visits in plan order."""

    technician_id: str
    home: int
    end: int
    depart_s: int
    latest_end_s: int
    visits: tuple[VisitFacts, ...]
    lunch_start_s: int | None = None
    lunch_duration_s: int = 0
    # Where the technician reported being and when (a ``running_late`` disruption:
    # matrix point, seconds); the visits still to reach are driven from there, unless a
    # visit they reached since ended later (as a re-plan's start, ``dispatch.replan``).
    reported: tuple[int, int] | None = None
    # When the technician is unavailable (a ``technician_unavailable`` disruption, from
    # and until or None for the rest of the day, and their stored absences), seconds.
    unavailable: tuple[Absence, ...] = ()

    def away(self, start_s: int, end_s: int) -> bool:
        """True when the technician is unavailable at some time in [start_s, end_s)."""
        return any(a.overlaps(start_s, end_s) for a in self.unavailable)


@dataclass(frozen=True)
class VisitEta:
    """The estimate of one visit.

    ``eta_s`` is the expected arrival of a visit not reached yet (None once the
    technician is on site or done); ``arrival_s`` the expected or actual arrival;
    ``end_s`` the expected or actual end. ``delay_min`` is against the planned
    arrival (for a finished visit without an arrival, its end against the planned
    end); negative when early."""

    job_id: str
    technician_id: str
    seq: int
    state: str
    planned_arrival_s: int
    arrival_s: int | None
    eta_s: int | None
    end_s: int | None
    delay_min: int
    at_risk: bool
    risk: str | None


@dataclass(frozen=True)
class _Pauses:
    on_way_s: int = 0
    on_site_s: int = 0
    in_work_s: int = 0


def _lunch_pauses(route: RouteFacts) -> dict[int, _Pauses]:
    """Where the plan's lunch lies, by visit index: on the way to it, on site before
    work, or inside it (a visit long enough to hold the lunch). Before the departure
    or after the last visit it delays no visit."""
    lunch, length = route.lunch_start_s, route.lunch_duration_s
    if lunch is None or length <= 0:
        return {}
    prev_end = route.depart_s
    for k, v in enumerate(route.visits):
        if v.planned_start_s <= lunch < v.planned_end_s:
            return {k: _Pauses(in_work_s=length)}
        if prev_end <= lunch < v.planned_arrival_s:
            return {k: _Pauses(on_way_s=length)}
        if v.planned_arrival_s <= lunch < v.planned_start_s:
            return {k: _Pauses(on_site_s=length)}
        prev_end = v.planned_end_s
    return {}


def _delay_min(seconds: int) -> int:
    return round(seconds / 60)


def reached_then_cancelled(visit: VisitFacts) -> bool:
    """Whether ``visit`` was cancelled after its technician got there that day: they go
    on from its place, from when they got there."""
    return visit.status == jobstate.CANCELLED and visit.actual_start_s is not None and visit.actual_start_s >= 0


def _walk(
    route: RouteFacts, travel: TravelMatrices, now_s: int, crew_start: dict[str, int]
) -> list[tuple[VisitFacts, int | None, int | None, int | None]]:
    """(visit, arrival, start, end) along the route, cancelled visits left out (the
    technician goes on from the place of one cancelled after they got there)."""
    pauses = _lunch_pauses(route)
    out: list[tuple[VisitFacts, int | None, int | None, int | None]] = []
    place, free = route.home, route.depart_s
    pending: list[int] = []
    reached = [k for k, v in enumerate(route.visits) if v.finished or v.status in jobstate.UNDER_WAY]
    from_report = max(reached, default=-1) + 1  # the first visit the report can move

    def stop(k: int, arrive_not_before: int) -> Stop:
        v, p = route.visits[k], pauses.get(k, _Pauses())
        return Stop(
            v.point,
            v.duration_s,
            arrive_not_before_s=arrive_not_before,
            start_not_before_s=max(v.planned_start_s, crew_start.get(v.job_id, NEVER)),
            pause_on_way_s=p.on_way_s,
            pause_on_site_s=p.on_site_s,
            pause_in_work_s=p.in_work_s,
        )

    def flush() -> None:
        nonlocal place, free
        if not pending:
            return
        stops = [stop(k, max(route.visits[k].planned_arrival_s, now_s)) for k in pending]
        timed = drive_on(travel, place, free, stops)
        for k, times in zip(pending, timed, strict=True):
            out.append((route.visits[k], times.arrival_s, times.start_s, times.end_s))
        place, free = stops[-1].point, timed[-1].end_s
        pending.clear()

    for k, v in enumerate(route.visits):
        if v.status == jobstate.CANCELLED:
            if reached_then_cancelled(v):
                flush()
                assert v.actual_start_s is not None
                place, free = v.point, max(free, v.actual_start_s)
            continue
        if v.finished:
            flush()
            end = v.actual_end_s if v.actual_end_s is not None else v.planned_end_s
            out.append((v, v.actual_start_s, v.actual_start_s, end))
            place, free = v.point, end
        elif v.status == jobstate.ON_SITE:
            flush()
            arrived = v.actual_start_s if v.actual_start_s is not None else min(now_s, v.planned_start_s)
            # A crew's work waits for the partner coming; the one there arrived when they did.
            start = max(arrived, crew_start.get(v.job_id, NEVER))
            end = start + v.duration_s + pauses.get(k, _Pauses()).in_work_s
            end = max(now_s, v.reported_end_s if v.reported_end_s is not None else end)
            out.append((v, arrived, start, end))
            place, free = v.point, end
        elif v.status == jobstate.EN_ROUTE:
            flush()
            left = v.en_route_at_s if v.en_route_at_s is not None else now_s
            here = stop(k, now_s)
            if route.lunch_start_s is not None and left >= route.lunch_start_s:
                here = dataclasses.replace(here, pause_on_way_s=0)  # lunch taken before leaving
            if k == from_report - 1 and route.reported is not None and route.reported[1] >= left:
                # Held up on the way to it: the rest of the drive is from where they reported.
                place, left = route.reported
            times = drive_on(travel, place, left, [here])[0]
            end = times.end_s if v.reported_end_s is None else max(times.start_s, v.reported_end_s)
            out.append((v, times.arrival_s, times.start_s, end))
            place, free = v.point, end
        else:
            if k == from_report and route.reported is not None and (k == 0 or route.reported[1] >= free):
                place, free = route.reported
            pending.append(k)
    flush()
    return out


def estimate(routes: Sequence[RouteFacts], travel: TravelMatrices, now_s: int) -> list[VisitEta]:
    """The estimate of every visit of ``routes`` at ``now_s`` (cancelled ones left
    out), route by route in plan order, driving with ``travel`` (the matrices the
    plan was made with).

    A visit is at risk (``WINDOW``) when it is not reached yet and its expected
    arrival is after its promised window's end, or (``SHIFT``) when it is not
    finished and its expected end plus the drive to the day's end point is after
    the technician's hard end. A crew job (a visit on two routes) starts at the
    later of both technicians' expected starts."""
    crew_start: dict[str, int] = {}
    on_routes: dict[str, int] = {}
    for route in routes:
        for v in route.visits:
            on_routes[v.job_id] = on_routes.get(v.job_id, 0) + 1
    crews = {job_id for job_id, n in on_routes.items() if n > 1}
    walked = [_walk(r, travel, now_s, crew_start) for r in routes]
    # Each pass can only move crew starts later, and only len(crews) of them: a fixed point.
    for _ in range(len(crews) + 1):
        later: dict[str, int] = {}
        for items in walked:
            for v, _arrival, start, _end in items:
                if v.job_id in crews and start is not None and not v.finished and v.status != jobstate.ON_SITE:
                    later[v.job_id] = max(later.get(v.job_id, NEVER), start)
        if all(later.get(j, NEVER) <= crew_start.get(j, NEVER) for j in later):
            break
        crew_start = {j: max(s, crew_start.get(j, NEVER)) for j, s in later.items()}
        walked = [_walk(r, travel, now_s, crew_start) for r in routes]

    out: list[VisitEta] = []
    for route, items in zip(routes, walked, strict=True):
        seq_of = {v.job_id: k for k, v in enumerate(route.visits, start=1)}
        seen_next = False
        for v, arrival, _start, end in items:
            reached = v.finished or v.status == jobstate.ON_SITE
            if v.finished:
                state = DONE
            elif v.status in (jobstate.ON_SITE, jobstate.EN_ROUTE):
                state = UNDER_WAY
            else:
                state, seen_next = (LATER if seen_next else NEXT), True
            if arrival is not None:
                delay = arrival - v.planned_arrival_s
            else:
                delay = (end if end is not None else v.planned_end_s) - v.planned_end_s
            risk = None
            if not v.finished and arrival is not None and route.away(arrival, end if end is not None else arrival):
                risk = UNAVAILABLE  # also a visit under way that its technician leaves before it ends
            elif not reached and arrival is not None and v.promised is not None and arrival > v.promised[1]:
                risk = WINDOW
            elif (
                not v.finished
                and end is not None
                and end + int(travel.duration_s[v.point, route.end]) > (route.latest_end_s)
            ):
                risk = SHIFT
            out.append(
                VisitEta(
                    job_id=v.job_id,
                    technician_id=route.technician_id,
                    seq=seq_of[v.job_id],
                    state=state,
                    planned_arrival_s=v.planned_arrival_s,
                    arrival_s=arrival,
                    eta_s=None if reached else arrival,
                    end_s=end,
                    delay_min=_delay_min(delay),
                    at_risk=risk is not None,
                    risk=risk,
                )
            )
    return out


# ----- reading the stored day --------------------------------------------------------


def promised_window(job: JobRow, visit: VisitRow | None, tz: ZoneInfo) -> Span | None:
    """The window a customer was promised for a job's visit, in ``tz``: the job's
    promise when it is confirmed (a booked job whose promise is not stored: its
    booked slot, its one hard window); else the visit's told window when the plan
    set one; else the job's own hard window holding the visit's planned start; else
    None (also for a job without a visit and without a promise)."""
    day = from_storage(visit.start, tz).date() if visit is not None else job.date  # a job of several days: that day
    kept = live.promise(job, DayClock(day, tz))
    if kept is not None:
        return kept
    windows = [
        (dt.datetime.fromisoformat(a).astimezone(tz), dt.datetime.fromisoformat(b).astimezone(tz))
        for a, b in job.windows
    ]
    if visit is None:
        return None
    if visit.window_start is not None and visit.window_end is not None:
        return from_storage(visit.window_start, tz), from_storage(visit.window_end, tz)
    planned = from_storage(visit.start, tz)
    return next(((a, b) for a, b in windows if a <= planned <= b), None)


@dataclass(frozen=True)
class LiveVisit:
    """One visit of the live day as the API shows it (local, aware datetimes)."""

    job_id: str
    technician_id: str
    seq: int
    state: str
    status: str
    kind: str
    priority: int
    planned_arrival: dt.datetime
    planned_start: dt.datetime
    planned_end: dt.datetime
    actual_start: dt.datetime | None
    actual_end: dt.datetime | None
    eta: dt.datetime | None
    expected_end: dt.datetime | None
    delay_min: int
    at_risk: bool
    risk: str | None
    window: Span | None


@dataclass(frozen=True)
class CancelledThere:
    """A visit cancelled after its technician got there (``reached_then_cancelled``):
    its place in their route, where it is and when they got there."""

    seq: int
    location: Location
    arrived: dt.datetime


@dataclass(frozen=True)
class LiveTechnician:
    """A technician's day: their visits in plan order (cancelled ones left out), and the
    last visit cancelled after they got there, which they go on from."""

    technician_id: str
    name: str
    visits: tuple[LiveVisit, ...]
    cancelled_there: CancelledThere | None = None


@dataclass(frozen=True)
class LiveDay:
    """The live day of a region: the published plan re-timed at ``now``, and the
    urgent work (priority 1, still to do) that is not in it."""

    date: dt.date
    region: str
    now: dt.datetime
    plan_id: int | None
    technicians: tuple[LiveTechnician, ...]
    urgent: tuple[JobRow, ...]


def _crew_reports(session: Session, job_ids: Sequence[str]) -> dict[str, list[tuple[str | None, str, dt.datetime]]]:
    """Per crew job of ``job_ids``, its reports since its last failure in order: who sent
    it (None: the office, for both), the event type, when."""
    if not job_ids:
        return {}
    out: dict[str, list[tuple[str | None, str, dt.datetime]]] = {job_id: [] for job_id in job_ids}
    for event in session.exec(
        select(EventRow).where(col(EventRow.job_id).in_(job_ids)).order_by(col(EventRow.at), col(EventRow.id))
    ).all():
        if event.type == "failed":
            out[event.job_id] = []
        else:
            out[event.job_id].append((event.technician_id, event.type, event.at))
    return out


def _en_route_times(session: Session, job_ids: Sequence[str]) -> dict[str, dt.datetime]:
    """The latest en-route event time per job."""
    if not job_ids:
        return {}
    rows = session.exec(
        select(EventRow.job_id, func.max(EventRow.at))
        .where(col(EventRow.job_id).in_(job_ids), EventRow.type == "en_route")
        .group_by(col(EventRow.job_id))
    ).all()
    return {job_id: at for job_id, at in rows if at is not None}


def reported_ends(disruptions: Sequence[DisruptionRow], clock: DayClock) -> dict[str, int]:
    """Per job, the expected end (seconds) the last ``overrun`` of ``disruptions`` reported."""
    return {
        d.job_id: clock.from_stored(d.expected_end)
        for d in disruptions
        if d.type == "overrun" and d.job_id is not None and d.expected_end is not None
    }


def late_reports(disruptions: Sequence[DisruptionRow], clock: DayClock) -> dict[str, tuple[Location, int]]:
    """Per technician, where and when (seconds) the last ``running_late`` of ``disruptions`` put them."""
    return {
        d.technician_id: (Location(d.lat, d.lon), clock.from_stored(d.at))
        for d in disruptions
        if d.type == "running_late"
        and d.technician_id is not None
        and d.at is not None
        and d.lat is not None
        and d.lon is not None
    }


def live_day(session: Session, day: dt.date, region: str, tz: ZoneInfo, now: dt.datetime) -> LiveDay:
    """The published plan of ``day`` and ``region`` re-timed from the field facts
    at ``now`` (``estimate``), per technician with a route, and the urgent open work
    not in it. Without a published plan: no technicians, the urgent work all open
    priority-1 jobs of the day."""
    plan_id = published_plan_id(session, day, region)
    visits: list[VisitRow] = []
    routes: list[RouteRow] = []
    if plan_id is not None:
        visits = list(
            session.exec(
                select(VisitRow)
                .where(VisitRow.plan_id == plan_id)
                .order_by(col(VisitRow.technician_id), col(VisitRow.seq))
            ).all()
        )
        routes = list(session.exec(select(RouteRow).where(RouteRow.plan_id == plan_id)).all())
    job_ids = sorted({v.job_id for v in visits})
    jobs = {j.id: j for j in session.exec(select(JobRow).where(col(JobRow.id).in_(job_ids))).all()} if job_ids else {}
    jobs = {job_id: jobdays.on_day(session, job, day, tz) for job_id, job in jobs.items()}
    urgent_query = select(JobRow).where(
        JobRow.date == day,
        JobRow.region == region,
        JobRow.priority == 1,
        col(JobRow.status).in_(jobstate.PLANNABLE),
    )
    if job_ids:
        urgent_query = urgent_query.where(col(JobRow.id).not_in(job_ids))
    urgent = tuple(session.exec(urgent_query.order_by(col(JobRow.created_at), col(JobRow.id))).all())
    if plan_id is None or not visits:
        return LiveDay(day, region, now, plan_id, (), urgent)

    clock = DayClock(day, tz)
    technicians = {t.id: t for t in technicians_on(session, day, region, tz, disrupted=False)}
    tech_ids = set(technicians)
    solver_jobs = tuple(
        dataclasses.replace(job_of(jobs[i], clock, tech_ids), pinned_technician_id=None, preferred_technician_id=None)
        for i in job_ids
        if i in jobs
    )
    # The travel a plan run uses: solver.engine's default provider over the same points,
    # and the places technicians reported running late from.
    points = index_points(Problem(tuple(technicians.values()), solver_jobs))
    places = list(points.points)
    disruptions = disruptions_of(session, day, region)
    late = late_reports(disruptions, clock)
    away = unavailability(disruptions, clock)
    away_of = {
        tech_id: [Absence(a.from_s, a.until_s) for a in spans]
        for tech_id, spans in stored_absences(session, list(technicians), clock).items()
    }
    where = {}
    for tech_id, (location, _) in late.items():
        if location not in places:
            places.append(location)
        where[tech_id] = places.index(location)
    travel = HaversineProvider().matrices(tuple(places))
    en_route = _en_route_times(session, job_ids)
    crew_reports = _crew_reports(
        session, [i for i in job_ids if i in jobs and jobs[i].crew_size > 1 and jobs[i].status in jobstate.UNDER_WAY]
    )
    reported = reported_ends(disruptions, clock)
    now_s = clock.seconds(now)

    def secs(stored: dt.datetime | None) -> int | None:
        return clock.from_stored(stored) if stored is not None else None

    by_tech: dict[str, list[VisitRow]] = {}
    for v in visits:
        if v.job_id in jobs:
            by_tech.setdefault(v.technician_id, []).append(v)
    facts: list[RouteFacts] = []
    windows: dict[tuple[str, str], Span | None] = {}
    for v in visits:
        if v.job_id in jobs:
            windows[(v.technician_id, v.job_id)] = promised_window(jobs[v.job_id], v, tz)
    arrivals = _told_arrivals(visits, clock)
    unshifted: list[str] = []
    for route in sorted(routes, key=lambda r: r.technician_id):
        tech = technicians.get(route.technician_id)
        mine = by_tech.get(route.technician_id, [])
        if not mine:
            continue
        if tech is None:
            unshifted.append(route.technician_id)
            continue
        items = []
        for v in mine:
            job = jobs[v.job_id]
            window = windows[(route.technician_id, v.job_id)]
            status, left_at = job.status, en_route.get(v.job_id)
            if v.job_id in crew_reports:
                # One of a crew stands where their own reports put them, not their partner's.
                own = [(kind, at) for tech_id, kind, at in crew_reports[v.job_id] if tech_id in (tech.id, None)]
                status = jobstate.crew_visit_status(job, [kind for kind, _ in own])
                left_at = max((at for kind, at in own if kind == "en_route"), default=None)
            items.append(
                VisitFacts(
                    job_id=v.job_id,
                    point=points.job[v.job_id],
                    planned_arrival_s=arrivals[(v.technician_id, v.job_id)],
                    planned_start_s=clock.from_stored(v.start),
                    planned_end_s=clock.from_stored(v.end),
                    duration_s=job.duration_min * 60,
                    status=status,
                    actual_start_s=secs(job.actual_start) if status == job.status else None,
                    actual_end_s=secs(job.actual_end),
                    en_route_at_s=secs(left_at) if status == jobstate.EN_ROUTE else None,
                    promised=(clock.seconds(window[0]), clock.seconds(window[1])) if window else None,
                    reported_end_s=reported.get(v.job_id) if job.status in jobstate.UNDER_WAY else None,
                )
            )
        lunch_start = secs(route.lunch_start)
        lunch_end = secs(route.lunch_end)
        facts.append(
            RouteFacts(
                technician_id=route.technician_id,
                home=points.tech_start[tech.id],
                end=points.tech_end[tech.id],
                depart_s=clock.from_stored(route.depart) if route.depart is not None else items[0].planned_arrival_s,
                latest_end_s=tech.latest_end_s,
                visits=tuple(items),
                lunch_start_s=lunch_start,
                lunch_duration_s=(lunch_end - lunch_start) if lunch_start is not None and lunch_end is not None else 0,
                reported=(where[tech.id], late[tech.id][1]) if tech.id in late else None,
                unavailable=(*away_of.get(tech.id, ()), *away.get(tech.id, ())),
            )
        )
    estimates = {(e.technician_id, e.job_id): e for e in estimate(facts, travel, now_s)}
    names = {
        t.id: t.name for t in session.exec(select(TechnicianRow).where(col(TechnicianRow.id).in_(list(by_tech)))).all()
    }

    def local(seconds: int | None) -> dt.datetime | None:
        return clock.moment(seconds) if seconds is not None else None

    waiting = _waiting(session, visits, jobs, tz)
    out: list[LiveTechnician] = []
    for route_facts in facts:
        shown = []
        own_status = {f.job_id: f.status for f in route_facts.visits if f.job_id in crew_reports}
        for v in by_tech[route_facts.technician_id]:
            e = estimates.get((route_facts.technician_id, v.job_id))
            if e is None:
                continue  # cancelled
            job = jobs[v.job_id]
            shown.append(
                _live_visit(
                    v,
                    job,
                    windows[(v.technician_id, v.job_id)],
                    tz,
                    planned_arrival=clock.moment(arrivals[(v.technician_id, v.job_id)]),
                    status=own_status.get(v.job_id),
                    state=e.state,
                    eta=local(e.eta_s),
                    expected_end=local(e.end_s),
                    delay_min=e.delay_min,
                    at_risk=e.at_risk or (e.state in (NEXT, LATER) and v.job_id in waiting),
                    risk=e.risk or (DEPENDENCY if e.state in (NEXT, LATER) and v.job_id in waiting else None),
                )
            )
        name = names.get(route_facts.technician_id, "")
        there = None
        for v, visit_facts in zip(by_tech[route_facts.technician_id], route_facts.visits, strict=True):
            if reached_then_cancelled(visit_facts):
                job = jobs[v.job_id]
                assert job.actual_start is not None
                there = CancelledThere(v.seq, Location(job.lat, job.lon), from_storage(job.actual_start, tz))
        out.append(LiveTechnician(route_facts.technician_id, name, tuple(shown), there))
    for tech_id in unshifted:
        told = {key: clock.moment(s) for key, s in arrivals.items()}
        shown = list(_without_estimates(by_tech[tech_id], jobs, windows, told, tz))
        out.append(LiveTechnician(tech_id, names.get(tech_id, ""), tuple(shown), None))
    out.sort(key=lambda t: t.technician_id)
    return LiveDay(day, region, now, plan_id, tuple(out), urgent)


def _told_arrivals(visits: Sequence[VisitRow], clock: DayClock) -> dict[tuple[str, str], int]:
    """Per (technician, job) of ``visits``, the arrival its plan tells (seconds of the
    day, ``solver.schedule.told_arrival``: the start, the waiting spent before setting
    out). A plan made since that rule stores it already; one stored before it holds the
    technician's first possible arrival, hours before the window when the visit waited
    for it."""
    return {
        (v.technician_id, v.job_id): told_arrival(clock.from_stored(v.arrival), clock.from_stored(v.start))
        for v in visits
    }


def _waiting(session: Session, visits: Sequence[VisitRow], jobs: Mapping[str, JobRow], tz: ZoneInfo) -> set[str]:
    """The jobs of ``visits`` not begun whose predecessor (``depends_on``) is not where
    their visit needs it: not done and in no published plan (it failed, was cancelled or
    is not planned), or ending after the visit's planned start. Their visit cannot
    happen as published: a re-plan of its day says why."""
    out = set()
    for v in visits:
        job = jobs.get(v.job_id)
        if job is None or job.depends_on is None or job.status not in (jobstate.OPEN, jobstate.SCHEDULED):
            continue
        end, _ = predecessor_end(session, job.depends_on, tz)
        if end is None or end > from_storage(v.start, tz):
            out.add(v.job_id)
    return out


def _without_estimates(
    visits: Sequence[VisitRow],
    jobs: dict[str, JobRow],
    windows: dict[tuple[str, str], Span | None],
    arrivals: Mapping[tuple[str, str], dt.datetime],
    tz: ZoneInfo,
) -> Iterator[LiveVisit]:
    """The published visits of a technician who no longer has a shift on the day, as the
    field left them: no estimate, and every visit not finished at risk as
    ``unavailable`` (nobody is planned to make it: a re-plan gives it to someone else).
    Before, such a technician was left out of the live day with their visits."""
    first_open = True
    for v in visits:
        job = jobs[v.job_id]
        if job.status == jobstate.CANCELLED:
            continue
        finished = job.status == jobstate.COMPLETED or (job.status == jobstate.OPEN and job.actual_end is not None)
        if finished:
            state = DONE
        elif job.status in jobstate.UNDER_WAY:
            state = UNDER_WAY
        else:
            state, first_open = (NEXT if first_open else LATER), False
        yield _live_visit(
            v,
            job,
            windows[(v.technician_id, v.job_id)],
            tz,
            planned_arrival=arrivals[(v.technician_id, v.job_id)],
            state=state,
            eta=None,
            expected_end=None,
            delay_min=0,
            at_risk=not finished,
            risk=None if finished else UNAVAILABLE,
        )


def _live_visit(
    v: VisitRow,
    job: JobRow,
    window: Span | None,
    tz: ZoneInfo,
    *,
    planned_arrival: dt.datetime,
    status: str | None = None,
    state: str,
    eta: dt.datetime | None,
    expected_end: dt.datetime | None,
    delay_min: int,
    at_risk: bool,
    risk: str | None,
) -> LiveVisit:
    """A published visit as the live day shows it: its plan's times (the arrival
    ``planned_arrival``, as told: ``_told_arrivals``), what the field reported on its
    job (``status``: of one of a crew, where their own reports put them), and the
    estimate given."""
    return LiveVisit(
        job_id=v.job_id,
        technician_id=v.technician_id,
        seq=v.seq,
        state=state,
        status=status or jobstate.visit_status(job),
        kind=job.kind,
        priority=job.priority,
        planned_arrival=planned_arrival.astimezone(tz),
        planned_start=from_storage(v.start, tz),
        planned_end=from_storage(v.end, tz),
        actual_start=from_storage(job.actual_start, tz) if job.actual_start is not None else None,
        actual_end=from_storage(job.actual_end, tz) if job.actual_end is not None else None,
        eta=eta,
        expected_end=expected_end,
        delay_min=delay_min,
        at_risk=at_risk,
        risk=risk,
        window=window,
    )


@dataclass(frozen=True)
class JobStatus:
    """What a customer may know of their job: its status, the promised window, the
    expected arrival and the technician's first name."""

    job_id: str
    status: str
    window: Span | None
    eta: dt.datetime | None
    technician_first_name: str | None


def first_name(name: str) -> str | None:
    """The first word of a technician's name (None for an empty name)."""
    words = name.split()
    return words[0] if words else None


def job_status(session: Session, who: Principal, job_id: str, tz: ZoneInfo, now: dt.datetime) -> JobStatus:
    """The customer-facing status of a job at ``now``, as ``who`` may see it.

    A dispatcher sees any job; a booking token only the jobs it booked: any other
    job is ``NotFound``, exactly like a job that does not exist, so it learns
    nothing of other jobs; an installer is ``Forbidden``. In the published plan of the
    day it is on (``jobdays.published_days``: today's or the next, for several) the
    job's status is the visit's (``scheduled`` until the first event), its window the
    promised window and its ETA the estimate; otherwise its status as stored, its
    promise and no ETA. For a crew, the first technician (by id) is named, and the ETA
    is the first of the two arrivals, none once one of them is on site. No ETA either
    while a technician of the visit is reported unavailable at it (``risk``)."""
    if who.role not in ("dispatcher", "booking"):
        raise Forbidden(f"the {who.role} role may not read a job's status")
    job = session.get(JobRow, job_id)
    if who.role == "booking":
        booking = session.exec(select(BookingRow).where(BookingRow.job_id == job_id)).first()
        if booking is None or booking.token_id is None or booking.token_id != who.token_id:
            job = None
    if job is None:
        raise NotFound(f"job {job_id} does not exist", "job_id")
    # The day a plan put it on (a range job's is often not its date); of a job of several
    # days, today's, else the next one.
    held = jobdays.published_days(session, job)
    today = now.astimezone(tz).date()
    day, plan_id = next(((d, p) for d, p in held if d >= today), held[-1] if held else (job.date, None))
    planned = (
        list(
            session.exec(
                select(VisitRow)
                .where(VisitRow.plan_id == plan_id, VisitRow.job_id == job_id)
                .order_by(col(VisitRow.technician_id))
            ).all()
        )
        if plan_id is not None
        else []
    )
    if not planned:
        return JobStatus(job.id, job.status, promised_window(job, None, tz), None, None)
    tech = session.get(TechnicianRow, planned[0].technician_id)
    name = first_name(tech.name) if tech is not None else None
    eta = None
    if job.status not in (jobstate.CANCELLED, jobstate.COMPLETED):
        live = live_day(session, day, job.region, tz, now)
        mine = [v for t in live.technicians for v in t.visits if v.job_id == job_id]
        # A crew's customer sees the first of the two arrive; once one is there, no ETA.
        # Nor while a technician of the visit is reported unavailable then: nobody is
        # coming at that time until a re-plan gives the visit to someone.
        if not any(v.status == jobstate.ON_SITE or v.risk == UNAVAILABLE for v in mine):
            eta = min((v.eta for v in mine if v.eta is not None), default=None)
    return JobStatus(job.id, jobstate.visit_status(job), promised_window(job, planned[0], tz), eta, name)
