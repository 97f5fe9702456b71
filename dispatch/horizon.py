"""Plans over several days (issue 20; docs/horizon.md): the stored days of a region as
one horizon for the engine (``solver.horizon``), and its answer stored back as one
ordinary plan per day.

A horizon run is a plan row with ``date_to`` (its first day in ``date``). Its answer is
split into one done plan per day, each with ``horizon_id`` naming the run: every per-day
reader (the board's day view, the installer's list, publishing, the live schedule, a
re-plan) works on them as on any plan of that day. Publishing the run publishes them all.

Times: the engine's horizon counts seconds from the first day's midnight with 24 h a
day (``solver.horizon``); each day here is converted with its own local clock, so a
shift that starts at 08:00 local time does so on every day, DST changes included.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, or_, select

from dispatch import jobdays
from dispatch.jobstate import PLANNABLE
from dispatch.mapping import (
    Day,
    DayClock,
    JobInfo,
    Span,
    dependency_of,
    held_elsewhere,
    job_of,
    predecessor_end,
    predecessor_technician,
    promise_on,
    promised_days,
    published_elsewhere,
    technicians_on,
)
from dispatch.tables import JobRow
from dispatch.timeutil import from_storage
from solver import Job, Problem, Solution, Technician, TimeWindow
from solver import horizon as engine_horizon
from solver.problem import DAY_S, RELOAD_ID, Dependency
from solver.solution import BreakTaken, ReasonCode, Route, Unassigned, Visit

# A start at exactly midnight: the window of a day a job may not go on (no shift has one).
_NO_START = (TimeWindow(0, 0),)


@dataclass(frozen=True)
class LoadedHorizon:
    """The days ``first``..``last`` of a region as one engine horizon, and what a person
    needs besides: names, job details, each job's own date (where its line goes when it
    is left out), and the jobs held back before the solve with their reasons."""

    first: dt.date
    last: dt.date
    region: str
    tz: ZoneInfo
    horizon: engine_horizon.Horizon
    names: dict[str, str]
    job_info: dict[str, JobInfo]
    home_day: dict[str, dt.date]
    held: dict[str, Unassigned]
    promised: frozenset[str]

    def same_question(self, other: LoadedHorizon) -> bool:
        """Both ask the engine the same question: the same work and the same jobs held back."""
        return self.problem == other.problem and self.held == other.held

    @property
    def days(self) -> list[dt.date]:
        """Every date of the horizon, in order."""
        return [self.first + dt.timedelta(days=k) for k in range((self.last - self.first).days + 1)]

    @property
    def problem(self) -> Problem:
        """What the engine solves."""
        return self.horizon.problem


def _spans(row: JobRow, tz: ZoneInfo, lo: dt.date, hi: dt.date, told: frozenset[dt.date] | None) -> list[Span]:
    """A stored job's hard windows as aware datetimes: its promise when confirmed. For a
    job of several days, the promise's hours on each day its customer was told
    (``told``: ``mapping.promised_days``), else on each day from ``lo`` to ``hi``."""
    if row.confirmed and row.promised_start is not None and row.promised_end is not None:
        if row.days <= 1:
            return [(from_storage(row.promised_start, tz), from_storage(row.promised_end, tz))]
        days = sorted(told) if told is not None else [lo + dt.timedelta(days=k) for k in range((hi - lo).days + 1)]
        return [span for d in days if (span := promise_on(row, DayClock(d, tz))) is not None]
    return [(dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b)) for a, b in row.windows]


def _day_windows(spans: Sequence[Span], clock: DayClock) -> tuple[TimeWindow, ...]:
    """The parts of ``spans`` on ``clock``'s day, as seconds of that day."""
    out = []
    for start, end in spans:
        a, b = max(0, clock.seconds(start)), min(DAY_S - 1, clock.seconds(end))
        if a <= b:
            out.append(TimeWindow(a, b))
    return tuple(out)


# How far before a horizon a job of several days without a range may start and still
# have days in it (its days, at most 14, and the week after its date: ``_day_range``).
_LONG_JOB_REACH = dt.timedelta(days=14 + 7)


def _day_range(row: JobRow, first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    """The days of the horizon ``row`` may be planned on: its date range (else its date,
    and for a job of several days the week after it) within ``first``..``last``."""
    if row.date_from is not None and row.date_to is not None:
        lo, hi = row.date_from, row.date_to
    else:
        lo, hi = row.date, row.date + dt.timedelta(days=row.days - 1 + (7 if row.days > 1 else 0))
    return max(lo, first), min(hi, last)


def _overtime_before_next_day(work: list[engine_horizon.WorkDay]) -> tuple[engine_horizon.WorkDay, ...]:
    """A person's working days with each day's overtime ending by the next day's start:
    a late shift with long overtime (23:00 and ten hours) would otherwise run into the
    morning after, which no plan can give one person (the engine refuses the horizon)."""
    out = list(work)
    for k, (day, after) in enumerate(itertools.pairwise(work)):
        room = (after.day - day.day) * DAY_S + after.shift.start_s - day.shift.end_s
        if day.max_overtime_s > room:
            out[k] = dataclasses.replace(day, max_overtime_s=max(0, room))
    return tuple(out)


def load_horizon(session: Session, first: dt.date, last: dt.date, region: str, tz: ZoneInfo) -> LoadedHorizon:
    """The plannable jobs and working days of ``region`` from ``first`` to ``last`` as one
    horizon: every job whose date or date range meets those days, on the days of it that
    lie inside them; each technician's shift of each day. A job pinned to a technician
    goes on its date only; a job waiting for a job neither in the horizon, done nor in a
    published plan, or with no window on any of its days, is held back with its reason.
    (A job of several days pinned to a person goes on that person's days in its range.)
    A job waiting for one of a published plan prefers that job's technician (continuity)."""
    days = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
    clocks = [DayClock(d, tz) for d in days]
    origin = clocks[0]
    people: dict[str, tuple[Technician, list[engine_horizon.WorkDay]]] = {}
    for k, day in enumerate(days):
        for tech in technicians_on(session, day, region, tz):
            _, work = people.setdefault(tech.id, (tech, []))
            work.append(engine_horizon.WorkDay(k, tech.shift, tech.max_overtime_s, tech.max_jobs))
    persons = [engine_horizon.Person(tech, _overtime_before_next_day(work)) for tech, work in people.values()]
    names = {p.technician.id: p.technician.name for p in persons}
    working = {p.technician.id: {w.day for w in p.days} for p in persons}
    rows = session.exec(
        select(JobRow)
        .where(
            JobRow.region == region,
            col(JobRow.status).in_(PLANNABLE),
            or_(
                (col(JobRow.date) >= first) & (col(JobRow.date) <= last),
                (col(JobRow.date_from) <= last) & (col(JobRow.date_to) >= first),
                # A job of several days dated before the horizon may still have days in it.
                (col(JobRow.days) > 1) & (col(JobRow.date) >= first - _LONG_JOB_REACH) & (col(JobRow.date) <= last),
            ),
        )
        .order_by(col(JobRow.id))
    ).all()
    by_id = {r.id: r for r in rows}
    holdings = held_elsewhere(session, rows, days, region, tz)
    # A job of several days whose days the live schedule of days before the horizon holds
    # (scheduled or under way there) is begun: its days left follow with its fitter, as
    # after days done. Held on a day after the horizon, a plan of that day moves it.
    begun = {
        job_id: held for job_id, held in holdings.items() if by_id[job_id].days > 1 and all(d < first for d, _ in held)
    }
    published = published_elsewhere(
        session, rows, days, region, tz, {j: h for j, h in holdings.items() if j not in begun}
    )
    held: dict[str, Unassigned] = {}
    made: dict[str, engine_horizon.HorizonJob] = {}
    started: set[str] = set()  # jobs of several days with days done: past waiting for anything
    before: set[str] = set()  # jobs of several days whose days all lie before the horizon
    for row in rows:
        lo, hi = _day_range(row, first, last)
        if lo > hi:
            # Not of this horizon: neither listed as unassigned ("only -4 of its days lie
            # between") nor a promise this plan must keep.
            before.add(row.id)
            continue
        needed, pinned, start = row.days, row.pinned_technician_id, row.date
        told_days = promised_days(session, row, tz)
        done = jobdays.done_days(session, row.id, tz) if row.days > 1 else {}
        gone = set(done) | {d for d, _ in begun.get(row.id, [])}
        if gone:
            # Some of its days are done or begun: the rest go to whoever has them, after them.
            started.add(row.id)
            needed = row.days - len(gone)
            if needed <= 0:
                before.add(row.id)
                continue
            pinned = predecessor_technician(session, row.id, tz) or pinned
            start = lo = max(lo, max(gone) + dt.timedelta(days=1))
            if needed == 1 and pinned is not None:
                # One day left: the next working day of its fitter (that its customer was told).
                works, allowed = working.get(pinned, set()), told_days or set(days)
                start = next((d for d in days if d >= lo and (d - first).days in works and d in allowed), hi)
        # A job of several days pinned to a person keeps its range: the engine gives it a
        # run of that person's consecutive working days there (solver.horizon).
        if pinned is not None and needed <= 1:
            lo = hi = min(max(start, first), last)
            if (lo - first).days not in working.get(pinned, set()):
                held[row.id] = Unassigned(
                    row.id, ReasonCode.PINNED_UNAVAILABLE, f"Pinned to a technician who has no shift on {lo}."
                )
                continue
        k_lo, k_hi = (lo - first).days, (hi - first).days
        spans = _spans(row, tz, lo, hi, told_days)
        per_day = {k: _day_windows(spans, clocks[k]) for k in range(k_lo, k_hi + 1)}
        if spans:
            open_days = [k for k, w in per_day.items() if w]
            if not open_days:
                reason = f"None of its windows is between {first} and {last}."
                if row.confirmed and all(b.astimezone(tz).date() < first for _, b in spans):
                    told = spans[-1][0].astimezone(tz), spans[-1][1].astimezone(tz)
                    reason = (
                        f"Promised {told[0]:%Y-%m-%d %H:%M}-{told[1]:%H:%M}, before {first}: record what happened "
                        "to its visit (field events) or unconfirm it."
                    )
                held[row.id] = Unassigned(row.id, ReasonCode.NO_SHIFT_IN_WINDOW, reason)
                continue
            k_lo, k_hi = open_days[0], open_days[-1]
            per_day = {k: per_day[k] or _NO_START for k in range(k_lo, k_hi + 1)}
        if row.id in published:
            held[row.id] = published[row.id]
            continue
        if k_hi - k_lo + 1 < needed:
            held[row.id] = Unassigned(
                row.id,
                ReasonCode.NEEDS_HORIZON,
                f"Takes {needed} consecutive days; only {k_hi - k_lo + 1} of its days lie between {first} and {last}.",
            )
            continue
        base = job_of(row, origin, set(names))
        job = dataclasses.replace(
            base,
            windows=(),
            preferred_window=None,
            pinned_technician_id=pinned,
            after=None,
        )
        preferred = row.preferred_date if row.preferred_date is not None else (row.date if row.days > 1 else None)
        preferred_day = (preferred - first).days if preferred is not None and lo <= preferred <= hi else None
        made[row.id] = engine_horizon.HorizonJob(
            job,
            first_day=k_lo,
            last_day=k_hi,
            preferred_day=preferred_day if preferred_day is not None and k_lo <= preferred_day <= k_hi else None,
            days=needed,
            day_windows=per_day if spans else {},
        )
    # Dependencies: on a job of the horizon the engine orders the two; on one done or
    # published, the lag runs from its end; otherwise the job waits (and whatever waits
    # for it), held back with its reason.
    changed = True
    while changed:
        changed = False
        for job_id, hj in list(made.items()):
            dep: Dependency | None = dependency_of(by_id[job_id], origin.date)
            if dep is None or hj.job.after is not None or hj.after_end_s is not None or job_id in started:
                continue
            if dep.job_id in made:
                made[job_id] = dataclasses.replace(hj, job=dataclasses.replace(hj.job, after=dep))
                continue
            if dep.job_id in held and dep.job_id not in published:
                reason = f"Waits for job {dep.job_id}, which cannot be planned in this horizon."
            else:
                end, where = predecessor_end(session, dep.job_id, tz)
                if end is not None:
                    made[job_id] = dataclasses.replace(
                        hj,
                        job=dataclasses.replace(hj.job, after=dep),
                        after_end_s=origin.seconds(end),
                        done_by=predecessor_technician(session, dep.job_id, tz),
                    )
                    continue
                reason = f"Waits for job {dep.job_id}, {where}."
            held[job_id] = Unassigned(job_id, ReasonCode.DEPENDENCY_NOT_MET, reason)
            del made[job_id]
            changed = True
    horizon = engine_horizon.build(persons, list(made.values()), len(days))
    info = {r.id: JobInfo(r.address, r.customer_name, r.customer_phone, r.notes, r.confirmed, r.booked) for r in rows}
    home = {r.id: min(max(r.date, first), last) for r in rows}
    promised = frozenset(r.id for r in rows if r.confirmed and r.id not in before)
    return LoadedHorizon(first, last, region, tz, horizon, names, info, home, held, promised)


def broken_promises(loaded: LoadedHorizon, solution: Solution) -> list[str]:
    """The promised jobs ``solution`` leaves out (or that were held back), in words, each
    with why."""
    served = {engine_horizon.job_of(loaded.problem, j) for j in solution.served_job_ids() if j != RELOAD_ID}
    owner = {j.id: engine_horizon.job_of(loaded.problem, j.id) for j in loaded.problem.jobs}
    why = {owner.get(u.job_id, u.job_id): u.reason for u in solution.unassigned}
    why.update({job_id: u.reason for job_id, u in loaded.held.items()})
    return [
        f"job {job_id} is promised to its customer and this plan leaves it out"
        + (f" ({why[job_id]})" if job_id in why else "")
        for job_id in sorted(loaded.promised)
        if job_id not in served
    ]


@dataclass(frozen=True)
class DayAnswer:
    """One day of a horizon's answer as a plan of that day: the day (its problem in that
    day's seconds, technicians by their own ids), the solution, and the ids of the jobs
    held back before the solve whose line goes on this day (reasons in ``day.held_back``)."""

    day: Day
    solution: Solution
    unplannable: list[str]


def _shift_visit(v: Visit, job_id: str, off: int) -> Visit:
    return Visit(job_id, v.arrival_s - off, v.start_s - off, v.end_s - off, v.travel_s, v.distance_m)


def _day_job(job: Job, job_id: str, off: int) -> Job:
    """``job`` (of the horizon) as a job of the day starting ``off`` seconds in."""
    windows = tuple(
        TimeWindow(max(0, w.start_s - off), min(DAY_S, w.end_s - off))
        for w in job.windows
        if w.end_s >= off and w.start_s <= off + DAY_S
    )
    release = job.release_s - off if job.release_s is not None and job.release_s > off else None
    deadline = job.deadline_s - off if job.deadline_s is not None and job.deadline_s >= off else None
    return dataclasses.replace(
        job,
        id=job_id,
        windows=windows,
        release_s=release,
        deadline_s=deadline,
        pinned_technician_id=None,
        preferred_technician_id=None,
        after=None,
        part=None,
        preferred_day=None,
    )


def split_by_day(loaded: LoadedHorizon, solution: Solution) -> list[DayAnswer]:
    """``solution`` of the horizon as one answer per day: each person-day's route under
    the person's id in that day's seconds, a multi-day job's part under the job's id, and
    each job left out (or held back) on its own date's answer."""
    problem = loaded.problem
    owner = {j.id: engine_horizon.job_of(problem, j.id) for j in problem.jobs}
    jobs = {j.id: j for j in problem.jobs}
    first_part: dict[str, Job] = {}  # a left-out multi-day job's line is made from its first part
    for j in problem.jobs:
        first_part.setdefault(owner[j.id], j)
    routes: dict[int, list[Route]] = {}
    techs: dict[int, list[Technician]] = {}
    day_jobs: dict[int, dict[str, Job]] = {}
    for route in solution.routes:
        tech = problem.technician(route.technician_id)
        person, k = engine_horizon.person_day(problem, route.technician_id)
        off = k * DAY_S
        lunch = None if route.lunch is None else BreakTaken(route.lunch.start_s - off, route.lunch.duration_s)
        visits = tuple(_shift_visit(v, owner.get(v.job_id, v.job_id), off) for v in route.visits)
        routes.setdefault(k, []).append(
            Route(
                person,
                visits,
                route.start_s - off,
                route.end_s - off,
                lunch,
                route.return_travel_s,
                route.return_distance_m,
            )
        )
        shift = tech.shift
        day_shift = dataclasses.replace(
            shift,
            start_s=shift.start_s - off,
            end_s=shift.end_s - off,
            lunch=None
            if shift.lunch is None
            else dataclasses.replace(
                shift.lunch, earliest_s=shift.lunch.earliest_s - off, latest_s=shift.lunch.latest_s - off
            ),
        )
        techs.setdefault(k, []).append(dataclasses.replace(tech, id=person, shift=day_shift, person_id=None, day=None))
        for v in route.visits:
            if v.job_id != RELOAD_ID:
                day_jobs.setdefault(k, {})[owner[v.job_id]] = _day_job(jobs[v.job_id], owner[v.job_id], off)
    left: dict[int, list[Unassigned]] = {}
    listed: set[str] = set()
    for u in solution.unassigned:
        # A job of several days left out is one line under its own id (the engine lists each part).
        job_id = owner.get(u.job_id, u.job_id)
        if job_id in listed:
            continue
        listed.add(job_id)
        k = (loaded.home_day.get(job_id, loaded.first) - loaded.first).days
        left.setdefault(k, []).append(dataclasses.replace(u, job_id=job_id))
        source = first_part.get(job_id)
        if source is not None:
            day_jobs.setdefault(k, {})[job_id] = _day_job(source, job_id, k * DAY_S)
    held_by_day: dict[int, dict[str, Unassigned]] = {}
    for job_id, u in loaded.held.items():
        held_by_day.setdefault((loaded.home_day[job_id] - loaded.first).days, {})[job_id] = u
    out = []
    for k, date in enumerate(loaded.days):
        day_problem = Problem(
            tuple(sorted(techs.get(k, []), key=lambda t: t.id)),
            tuple(day_jobs.get(k, {}).values()),
            problem.weights,
            problem.lunch_on_site_min_s,
            problem.depot,
            problem.promise_late_home_s,
        )
        names = {t.id: loaded.names.get(t.id, "") for t in day_problem.technicians}
        held = held_by_day.get(k, {})
        day = Day(date, loaded.tz, day_problem, loaded.region, names, loaded.job_info, held)
        answer = Solution(
            tuple(sorted(routes.get(k, []), key=lambda r: r.technician_id)),
            tuple(left.get(k, [])),
            solution.objective,
            solution.stats,
        )
        out.append(DayAnswer(day, answer, list(held)))
    return out
