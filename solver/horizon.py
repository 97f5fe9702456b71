"""A planning horizon: up to 14 days planned in one solve (docs/model.md, "Planning horizon").

A horizon is an ordinary ``Problem`` whose times are seconds since the FIRST day's
midnight. ``build`` makes it from people with their working days and jobs with a
range of days:

- each working day of a person is one technician (``Technician.person_id``, ``day``),
  id ``tech_id(person, day)``, with that day's shift, lunch, overtime and ``max_jobs``
  moved to horizon time;
- a job that may go on any day of ``first_day..last_day`` gets its day-local windows
  on every day of the range (or the whole of each day when it has none; a day's own
  windows in ``day_windows`` replace them on that day); ``preferred_day`` is soft
  (``Weights.day_late_cents`` per day after it, ``day_early_cents`` per day before);
- a job of ``days`` = N >= 2 becomes N parts (ids ``part_id(job, k)``, ``Job.part``)
  pinned to one person's N consecutive working days in its range, chosen here before
  the search (the nearest qualified person with room, fewest days away from the
  preferred day first); the engine then serves the parts whole or not at all;
- a dependency (``Job.after``) names another job of the horizon (a multi-day
  predecessor: its last day) or, with ``after_end_s``, a job done or planned in an
  earlier plan: the dependent's windows are cut to that end plus the lags, and
  ``done_by`` (that job's person) becomes its preferred technician (continuity).

Solve the result with ``solver.solve`` as any day; ``person_day`` tells for each
route whose day it is.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from solver import engine
from solver.checker import check
from solver.dependencies import cut
from solver.engine import FirstAnswerCallback, Progress, ProgressCallback, SolveOptions
from solver.objective import day_away_cost
from solver.problem import (
    DAY_S,
    HORIZON_DAYS,
    RELOAD_ID,
    Dependency,
    Depot,
    Job,
    Part,
    Problem,
    ProblemError,
    Shift,
    Technician,
    TimeWindow,
    Weights,
)
from solver.solution import ReasonCode, Solution, Unassigned
from solver.travel import HaversineProvider, TravelProvider, problem_travel

log = logging.getLogger(__name__)

# Separates a person's id from the day in a person-day technician's id.
DAY_SEPARATOR = "@"
# Separates a multi-day job's id from the day number (1-based) in a part's id.
PART_SEPARATOR = "#"


@dataclass(frozen=True, slots=True)
class WorkDay:
    """One working day of a person; times are seconds since that day's midnight."""

    day: int
    shift: Shift
    max_overtime_s: int = 0
    max_jobs: int | None = None


@dataclass(frozen=True, slots=True)
class Person:
    """A technician over the horizon: ``technician`` gives who they are (its id is the
    person's id; skills, home, costs, capacity), ``days`` when they work (its shift,
    max_jobs and max_overtime are not used)."""

    technician: Technician
    days: tuple[WorkDay, ...]


@dataclass(frozen=True, slots=True)
class HorizonJob:
    """A job over the horizon.

    ``job.windows`` are day-local (seconds since a day's midnight) and hold on every
    day of ``first_day..last_day``; ``day_windows`` gives a day its own instead.
    ``job.release_s`` and ``job.deadline_s`` are horizon times. ``days`` >= 2: the
    job takes that many consecutive working days of one person, ``job.duration_s``
    each day. ``job.after`` names a job of the horizon, or one of an earlier plan
    that ended at ``after_end_s`` (horizon time, negative before the first day),
    done by ``done_by`` (a person id; preferred for this job when given).
    ``job.pinned_technician_id``/``preferred_technician_id`` name a person.
    """

    job: Job
    first_day: int = 0
    last_day: int = 0
    preferred_day: int | None = None
    days: int = 1
    day_windows: Mapping[int, tuple[TimeWindow, ...]] = field(default_factory=dict)
    after_end_s: int | None = None
    done_by: str | None = None


def tech_id(person_id: str, day: int) -> str:
    """The id of ``person_id``'s technician on ``day``."""
    return f"{person_id}{DAY_SEPARATOR}{day}"


def part_id(job_id: str, index: int) -> str:
    """The id of day ``index`` (0-based) of the multi-day job ``job_id``."""
    return f"{job_id}{PART_SEPARATOR}{index + 1}"


def person_day(problem: Problem, technician_id: str) -> tuple[str, int]:
    """Whose day a route (by its technician id) is, and which day (0 = the first)."""
    tech = problem.technician(technician_id)
    return tech.person, tech.day if tech.day is not None else 0


def job_of(problem: Problem, job_id: str) -> str:
    """The horizon job a visit's job id belongs to (a part's multi-day job, else itself)."""
    part = problem.job(job_id).part
    return part.job_id if part is not None else job_id


def _shifted(t_s: int, day: int) -> int:
    return t_s + day * DAY_S


def technicians(people: Sequence[Person], n_days: int) -> tuple[Technician, ...]:
    """One technician per working day of each person, in horizon time."""
    out: list[Technician] = []
    seen: set[str] = set()
    for person in people:
        base = person.technician
        if base.id in seen:
            raise ProblemError(f"person {base.id} appears twice")
        seen.add(base.id)
        for wd in sorted(person.days, key=lambda d: d.day):
            if not 0 <= wd.day < n_days:
                raise ProblemError(f"person {base.id}: days[{wd.day}].day is outside the horizon's {n_days} days")
            lunch = wd.shift.lunch
            shift = Shift(
                _shifted(wd.shift.start_s, wd.day),
                _shifted(wd.shift.end_s, wd.day),
                None
                if lunch is None
                else dataclasses.replace(
                    lunch, earliest_s=_shifted(lunch.earliest_s, wd.day), latest_s=_shifted(lunch.latest_s, wd.day)
                ),
            )
            out.append(
                dataclasses.replace(
                    base,
                    id=tech_id(base.id, wd.day),
                    shift=shift,
                    max_jobs=wd.max_jobs,
                    max_overtime_s=wd.max_overtime_s,
                    person_id=base.id,
                    day=wd.day,
                    on_clock_from_s=None,
                )
            )
    return tuple(out)


def windows_on(hj: HorizonJob, days: Sequence[int]) -> tuple[TimeWindow, ...]:
    """``hj``'s start windows on ``days``, in horizon time."""
    out: list[TimeWindow] = []
    for day in days:
        local = hj.day_windows.get(day, hj.job.windows) or (TimeWindow(0, DAY_S - 1),)
        out.extend(TimeWindow(_shifted(w.start_s, day), _shifted(w.end_s, day)) for w in local)
    return tuple(out)


def _validate(hj: HorizonJob, n_days: int) -> None:
    j = hj.job
    if not 0 <= hj.first_day <= hj.last_day < n_days:
        raise ProblemError(f"job {j.id}: first_day..last_day must lie in 0..{n_days - 1} with first <= last")
    if hj.preferred_day is not None and not hj.first_day <= hj.preferred_day <= hj.last_day:
        raise ProblemError(f"job {j.id}: preferred_day must lie in first_day..last_day")
    if not 1 <= hj.days <= hj.last_day - hj.first_day + 1:
        raise ProblemError(f"job {j.id}: days must be at least 1 and fit first_day..last_day")
    if hj.days > 1 and j.crew_size != 1:
        raise ProblemError(f"job {j.id}: a job longer than a day takes a crew of 1")
    if j.preferred_window is not None:
        raise ProblemError(f"job {j.id}: preferred_window is not planned over a horizon; use preferred_day")
    if any(not hj.first_day <= d <= hj.last_day for d in hj.day_windows):
        raise ProblemError(f"job {j.id}: day_windows names a day outside first_day..last_day")
    for w in j.windows:
        if w.start_s < 0 or w.end_s >= DAY_S:
            raise ProblemError(f"job {j.id}: windows are times of a day (0 to 24 h) in a horizon")
    if j.part is not None:
        raise ProblemError(f"job {j.id}: part is set by the horizon (use days)")


@dataclass(frozen=True)
class Horizon:
    """What ``build`` makes: the problem to solve, and the jobs held out of it before
    the solve (a job of an earlier plan they wait for ends too late for any of their
    days), each with its reason."""

    problem: Problem
    held: tuple[Unassigned, ...] = ()


def build(
    people: Sequence[Person],
    jobs: Sequence[HorizonJob],
    n_days: int,
    weights: Weights | None = None,
    depot: Depot | None = None,
    lunch_on_site_min_s: int = 3 * 3600,
) -> Horizon:
    """The one ``Problem`` planning ``n_days`` (1..14) days of ``people`` and ``jobs``
    (see the module doc), with the jobs held out of it; a ``ProblemError`` naming the
    field for bad input."""
    if not 1 <= n_days <= HORIZON_DAYS:
        raise ProblemError(f"days must be in 1..{HORIZON_DAYS}")
    techs = technicians(people, n_days)
    by_id = {hj.job.id: hj for hj in jobs}
    if len(by_id) != len(jobs):
        raise ProblemError("job ids must be unique")
    person_ids = {p.technician.id for p in people}
    for hj in jobs:
        _validate(hj, n_days)
        for ref in ("pinned_technician_id", "preferred_technician_id"):
            value = getattr(hj.job, ref)
            if value is not None and value not in person_ids:
                raise ProblemError(f"job {hj.job.id}: {ref} {value} is not a person of this horizon")
        dep = hj.job.after
        if dep is not None and dep.job_id not in by_id and hj.after_end_s is None:
            raise ProblemError(
                f"job {hj.job.id}: after.job_id {dep.job_id} is neither a job of this horizon nor given after_end_s"
            )
        if dep is not None and dep.job_id in by_id and hj.after_end_s is not None:
            raise ProblemError(f"job {hj.job.id}: after_end_s is for a job of an earlier plan, not {dep.job_id}")
    last_part = {hj.job.id: part_id(hj.job.id, hj.days - 1) for hj in jobs if hj.days > 1}
    runs = _choose_runs(people, [hj for hj in jobs if hj.days > 1], weights or Weights(), by_id)
    out: list[Job] = []
    held: dict[str, Unassigned] = {}
    for hj in jobs:
        made = _jobs_of(hj, people, last_part, runs.get(hj.job.id))
        if any(j is None for j in made):
            held[hj.job.id] = _too_late(hj)
        else:
            out.extend(j for j in made if j is not None)
    # Jobs waiting for a held job are held too (a chain: until none is added).
    owner = {hj.job.id: hj.job.id for hj in jobs} | {
        part_id(hj.job.id, k): hj.job.id for hj in jobs for k in range(hj.days) if hj.days > 1
    }
    while True:
        waiting = [j for j in out if j.after is not None and owner[j.after.job_id] in held]
        for j in waiting:
            assert j.after is not None
            held[owner[j.id]] = Unassigned(
                owner[j.id],
                ReasonCode.DEPENDENCY_NOT_MET,
                f"Waits for job {owner[j.after.job_id]}, which cannot be planned in this horizon.",
            )
        kept = [j for j in out if owner[j.id] not in held]
        if len(kept) == len(out):
            break
        out = kept
    order = {hj.job.id: k for k, hj in enumerate(jobs)}
    problem = Problem(techs, tuple(out), weights or Weights(), lunch_on_site_min_s, depot)
    return Horizon(problem, tuple(sorted(held.values(), key=lambda u: order[u.job_id])))


def _too_late(hj: HorizonJob) -> Unassigned:
    dep = hj.job.after
    assert dep is not None and hj.after_end_s is not None
    earliest = dep.earliest_s(hj.after_end_s)
    return Unassigned(
        hj.job.id,
        ReasonCode.DEPENDENCY_NOT_MET,
        f"Waits for job {dep.job_id} (ended {_when(hj.after_end_s)}): may start only from {_when(earliest)}"
        + ("" if (latest := dep.latest_s(hj.after_end_s)) is None else f" to {_when(latest)}")
        + ", which none of its days and windows in this horizon allow.",
    )


def _when(t_s: int) -> str:
    day, rest = divmod(t_s, DAY_S)
    return f"day {day} {rest // 3600:02d}:{rest % 3600 // 60:02d}"


def _jobs_of(
    hj: HorizonJob, people: Sequence[Person], last_part: Mapping[str, str], run: Sequence[tuple[str, int]] | None
) -> list[Job | None]:
    """The engine's job(s) for ``hj``: one, or one per day for a multi-day job; None
    for one whose dependency on a job of an earlier plan leaves it no start."""
    job = hj.job
    dep = job.after
    pinned = job.pinned_technician_id
    preferred = job.preferred_technician_id
    if hj.done_by is not None and any(p.technician.id == hj.done_by for p in people) and preferred is None:
        preferred = hj.done_by
    base = dataclasses.replace(job, preferred_technician_id=preferred, pinned_technician_id=None)
    if hj.days == 1:
        days = list(range(hj.first_day, hj.last_day + 1))
        one = dataclasses.replace(base, windows=windows_on(hj, days), preferred_day=hj.preferred_day)
        if pinned is not None:
            person = next(p for p in people if p.technician.id == pinned)
            working = [d.day for d in person.days if hj.first_day <= d.day <= hj.last_day]
            if len(working) != 1:
                raise ProblemError(
                    f"job {job.id}: pinned_technician_id {pinned} works {len(working)} days of first_day..last_day; "
                    "a pinned job needs exactly one (narrow its days)"
                )
            one = dataclasses.replace(one, pinned_technician_id=tech_id(pinned, working[0]))
        return [_with_dependency(one, dep, hj.after_end_s, last_part)]
    out = []
    for k in range(hj.days):
        day_tech = None if run is None else tech_id(*run[k])
        day = hj.first_day + k if run is None else run[k][1]
        part = dataclasses.replace(
            base,
            id=part_id(job.id, k),
            windows=windows_on(hj, [day]),
            pinned_technician_id=day_tech,
            preferred_technician_id=None,
            preferred_day=hj.preferred_day if k == 0 else None,
            part=Part(job.id, k, hj.days),
            after=dep if k == 0 else None,
        )
        out.append(_with_dependency(part, part.after, hj.after_end_s, last_part))
    return out


def _with_dependency(
    job: Job, dep: Dependency | None, after_end_s: int | None, last_part: Mapping[str, str]
) -> Job | None:
    """``job`` waiting for a job of the horizon (a multi-day one: its last day), or
    with its windows cut to a job of an earlier plan's end plus the lags (None: no
    start left)."""
    if dep is None:
        return job
    if after_end_s is None:
        return dataclasses.replace(job, after=dataclasses.replace(dep, job_id=last_part.get(dep.job_id, dep.job_id)))
    return cut(job, after_end_s, dep)


def _earliest_day(hj: HorizonJob, by_id: Mapping[str, HorizonJob]) -> int:
    """The first day ``hj`` may start on as far as its dependency tells before the solve."""
    dep = hj.job.after
    if dep is None:
        return hj.first_day
    if hj.after_end_s is not None:
        return max(hj.first_day, dep.earliest_s(hj.after_end_s) // DAY_S)
    pred = by_id[dep.job_id]
    return max(hj.first_day, dep.earliest_s(pred.first_day * DAY_S) // DAY_S)


def _choose_runs(
    people: Sequence[Person], long_jobs: Sequence[HorizonJob], weights: Weights, by_id: Mapping[str, HorizonJob]
) -> dict[str, list[tuple[str, int]]]:
    """For each multi-day job, the (person, day) of each of its days: a qualified
    person's consecutive working days in its range with room left (their shift less
    the days already given to other multi-day jobs and the drive there and back),
    cheapest by days away from the preferred day, drive and load; none when no
    person has such days."""
    provider = HaversineProvider()
    homes = [p.technician.start for p in people]
    out: dict[str, list[tuple[str, int]]] = {}
    booked: dict[tuple[str, int], int] = {}
    order = sorted(long_jobs, key=lambda hj: (hj.job.priority, hj.last_day - hj.first_day, hj.job.id))
    locations = [hj.job.location for hj in order]
    drive_s, drive_m = provider.between(homes, locations) if homes and locations else (None, None)
    for col, hj in enumerate(order):
        job = hj.job
        first_day = _earliest_day(hj, by_id)
        best: tuple[float, list[tuple[str, int]]] | None = None
        for row, person in enumerate(people):
            tech = person.technician
            if job.pinned_technician_id not in (None, tech.id) or not tech.has_skills(job.skills):
                continue
            assert drive_s is not None and drive_m is not None
            travel = 2 * int(drive_s[row, col])
            cost_per_day = travel / 3600 * tech.cost.per_hour_cents + 2 * int(drive_m[row, col]) / 1000 * (
                tech.cost.per_km_cents
            )
            days = sorted(person.days, key=lambda d: d.day)
            for i in range(len(days) - hj.days + 1):
                run = days[i : i + hj.days]
                if run[0].day < first_day or run[-1].day > hj.last_day:
                    continue
                room = [d.shift.end_s + d.max_overtime_s - d.shift.start_s for d in run]
                used = [booked.get((tech.id, d.day), 0) + job.duration_s + travel for d in run]
                if any(u > r for u, r in zip(used, room, strict=True)):
                    continue
                after = 0 if hj.preferred_day is None else run[0].day - hj.preferred_day
                away = day_away_cost(after, weights.day_late_cents, weights.day_early_cents)
                load = sum(u / r for u, r in zip(used, room, strict=True))
                cost = away + hj.days * cost_per_day + load * 1000
                if best is None or cost < best[0]:
                    best = (cost, [(tech.id, d.day) for d in run])
        if best is not None:
            out[job.id] = best[1]
            for person_id, day in best[1]:
                booked[(person_id, day)] = booked.get((person_id, day), 0) + job.duration_s
    return out


# In a horizon with dependencies, the share of the time limit the first pass gets
# (``solve``); the second pass, warm-started from it, gets the rest.
FIRST_PASS_SHARE = 0.6


def solve(
    horizon: Horizon,
    options: SolveOptions | None = None,
    travel_provider: TravelProvider | None = None,
    first_answer: FirstAnswerCallback | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> Solution:
    """``solver.solve`` on the horizon's problem (checked; see there), its jobs held
    before the solve added to the unassigned with their reasons. ``progress`` hears
    the fraction of the whole time limit used (both passes); setting ``cancel`` stops
    the solve soon after (``Cancelled``).

    With dependencies inside the horizon, in two passes: the searches do not know
    the order of a pair, so on a full week the dependents the first pass starts too
    early are taken out and may find no room after (docs/model.md, "Dependencies
    across days"). The second pass starts from the first's routes with each planned
    predecessor held at its planned start and its dependents' windows cut to its
    planned end plus the lags, so that the search itself keeps the order; the better
    plan of the two by the objective (checked against the horizon's problem) stands.
    """
    opts = options or SolveOptions()
    problem = horizon.problem
    inside = [j for j in problem.jobs if j.after is not None]
    if not inside:
        solution = engine.solve(problem, opts, travel_provider, progress, cancel, first_answer=first_answer)
    else:
        started = time.monotonic()
        first = dataclasses.replace(opts, time_limit_s=opts.time_limit_s * FIRST_PASS_SHARE)
        solution = engine.solve(
            problem, first, travel_provider, _scaled(progress, 0.0, FIRST_PASS_SHARE), cancel, first_answer=first_answer
        )
        # The second pass checks both plans against its own problem.
        recheck = engine.check_seconds(len(problem.jobs) + 2 * len(problem.technicians))
        left = opts.time_limit_s - (time.monotonic() - started) - 2 * recheck  # both plans are checked
        if left > 0.1 * opts.time_limit_s:
            second = dataclasses.replace(opts, time_limit_s=left)
            heard = _scaled(progress, FIRST_PASS_SHARE, 1.0)
            solution = _second_pass(problem, solution, second, travel_provider, heard, cancel)
    if not horizon.held:
        return solution
    return dataclasses.replace(solution, unassigned=solution.unassigned + horizon.held)


def _scaled(progress: ProgressCallback | None, lo: float, hi: float) -> ProgressCallback | None:
    """``progress`` hearing a pass's fraction as the share ``lo``..``hi`` of the whole."""
    if progress is None:
        return None
    report = progress

    def heard(p: Progress) -> None:
        report(dataclasses.replace(p, fraction=lo + (hi - lo) * p.fraction))

    return heard


def _second_pass(
    problem: Problem,
    plan: Solution,
    options: SolveOptions,
    travel_provider: TravelProvider | None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> Solution:
    """The better of ``plan`` and a solve started from it with every planned
    predecessor held at its start and on its route, its dependents cut to its end plus the lags,
    each dependent preferring the person ``plan`` gave its predecessor (continuity,
    ``_continued``); both judged by that problem's objective."""
    starts: dict[str, int] = {}
    ends: dict[str, int] = {}
    done_by: dict[str, str] = {}
    for route in plan.routes:
        for v in route.visits:
            starts[v.job_id] = v.start_s
            ends[v.job_id] = max(ends.get(v.job_id, v.end_s), v.end_s)
            done_by[v.job_id] = route.technician_id
    waited_for = {j.after.job_id for j in problem.jobs if j.after is not None}
    jobs = []
    for job in problem.jobs:
        if job.id in waited_for and job.id in starts and job.crew_size == 1:
            # Held where and when it is: its dependents' preferred person stays the one who does it.
            job = dataclasses.replace(
                job, windows=(TimeWindow(starts[job.id], starts[job.id]),), pinned_technician_id=done_by[job.id]
            )
        dep = job.after
        if dep is not None and dep.job_id in ends:
            narrowed = cut(job, ends[dep.job_id], dep)
            if narrowed is not None:
                job = dataclasses.replace(job, windows=narrowed.windows)
            job = _continued(problem, job, done_by.get(dep.job_id))
        jobs.append(job)
    held = dataclasses.replace(problem, jobs=tuple(jobs))
    routes = {r.technician_id: [(v.job_id, None) for v in r.visits if v.job_id != RELOAD_ID] for r in plan.routes}
    again = engine.solve(held, dataclasses.replace(options, initial_routes=routes), travel_provider, progress, cancel)
    # Held windows lie inside the horizon's, every dependency is still in ``held`` and its
    # preferences are soft: a plan of ``held`` is one of ``problem``; the checker says so.
    points, travel = problem_travel(problem, travel_provider or HaversineProvider())
    report = check(held, again, points, travel)
    if not report.feasible:
        log.error("the second pass broke %d rules of the horizon; the first pass stands", len(report.violations))
        return plan
    before = check(held, plan, points, travel)
    if before.feasible and report.objective.total_units >= before.objective.total_units:
        return dataclasses.replace(plan, objective=before.objective)
    if not before.feasible and report.objective.total_units >= plan.objective.total_units:
        return plan
    stats = dataclasses.replace(again.stats, wall_time_s=plan.stats.wall_time_s + again.stats.wall_time_s)
    return dataclasses.replace(again, objective=report.objective, stats=stats)


def _continued(problem: Problem, job: Job, predecessor_technician: str | None) -> Job:
    """``job`` (waiting for a job planned on ``predecessor_technician``) preferring that
    technician's person, when it prefers nobody, is a one-person job of one day, and that
    person has its skills: the fitter of an install comes back for its adjustment
    (``Weights.preferred_technician_miss_cents`` when someone else does)."""
    if predecessor_technician is None or job.preferred_technician_id is not None:
        return job
    if job.crew_size != 1 or job.part is not None or job.pinned_technician_id is not None:
        return job
    person = problem.technician(predecessor_technician).person
    if not any(t.person == person and t.has_skills(job.skills) for t in problem.technicians):
        return job
    return dataclasses.replace(job, preferred_technician_id=person)
