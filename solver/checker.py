"""The independent checker: every rule of the day, re-verified from scratch.

It reads only the raw ``Problem``, the travel matrices and a ``Solution``;
it shares no code with the OR-Tools model or the route timer. It lists every
violated constraint and recomputes the objective term by term.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from enum import StrEnum

from solver.objective import Coefficients, coefficients
from solver.problem import DAY_S, RELOAD_ID, Dependency, Job, Problem, Technician
from solver.solution import ObjectiveBreakdown, Route, Solution
from solver.travel import PointIndex, TravelMatrices


class ViolationKind(StrEnum):
    WINDOW = "window"
    SHIFT = "shift"
    BREAK = "break"
    SKILL = "skill"
    CREW_SYNC = "crew_sync"
    PIN = "pin"
    RELEASE = "release"
    DEADLINE = "deadline"
    MAX_JOBS = "max_jobs"
    CAPACITY = "capacity"
    DUPLICATE_JOB = "duplicate_job"
    MISSING_JOB = "missing_job"
    UNKNOWN = "unknown"
    TRAVEL = "travel"
    RELOAD = "reload"
    DEPENDENCY = "dependency"
    MULTI_DAY = "multi_day"
    REPORT = "report"


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule, with the job and technician it concerns."""

    kind: ViolationKind
    detail: str
    job_id: str | None = None
    technician_id: str | None = None


@dataclass(frozen=True)
class CheckReport:
    """What the checker found: violations (empty when feasible) and the objective."""

    violations: tuple[Violation, ...]
    objective: ObjectiveBreakdown
    kinds: Counter[ViolationKind] = field(default_factory=Counter)

    @property
    def feasible(self) -> bool:
        """True when no rule is broken."""
        return not self.violations


def _hhmm(t_s: int) -> str:
    sign = "-" if t_s < 0 else ""
    t = abs(t_s)
    return f"{sign}{t // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}"


def check(problem: Problem, solution: Solution, points: PointIndex, travel: TravelMatrices) -> CheckReport:
    """Every violated constraint of ``solution`` and its objective, recomputed.

    ``points`` and ``travel`` must describe the problem's locations (see
    ``solver.travel.problem_travel``).
    """
    out: list[Violation] = []
    techs = {t.id: t for t in problem.technicians}
    jobs = {j.id: j for j in problem.jobs}
    visits_by_job: dict[str, list[tuple[str, int]]] = defaultdict(list)
    ends_by_job: dict[str, list[int]] = defaultdict(list)
    seen_routes: set[str] = set()

    for route in solution.routes:
        tech = techs.get(route.technician_id)
        if tech is None:
            out.append(Violation(ViolationKind.UNKNOWN, "route of an unknown technician", None, route.technician_id))
            continue
        if route.technician_id in seen_routes:
            out.append(Violation(ViolationKind.UNKNOWN, "two routes for one technician", None, tech.id))
        seen_routes.add(route.technician_id)
        known_visits = []
        for visit in route.visits:
            if visit.job_id == RELOAD_ID and problem.depot is not None:
                known_visits.append(visit)
            elif visit.job_id not in jobs:
                out.append(Violation(ViolationKind.UNKNOWN, "visit to an unknown job", visit.job_id, tech.id))
            else:
                known_visits.append(visit)
                visits_by_job[visit.job_id].append((tech.id, visit.start_s))
                ends_by_job[visit.job_id].append(visit.end_s)
        if known_visits:
            out.extend(_check_route(problem, tech, route, jobs, points, travel))

    for tech_id in techs.keys() - seen_routes:
        out.append(Violation(ViolationKind.REPORT, "no route for this technician", None, tech_id))
    unassigned = Counter(u.job_id for u in solution.unassigned)
    for job_id, count in unassigned.items():
        if job_id not in jobs:
            out.append(Violation(ViolationKind.UNKNOWN, "unassigned entry for an unknown job", job_id))
        elif count > 1:
            out.append(Violation(ViolationKind.DUPLICATE_JOB, "listed unassigned twice", job_id))
    for u in solution.unassigned:
        if not u.reason.strip():
            out.append(Violation(ViolationKind.REPORT, "unassigned without a reason", u.job_id))

    for job in problem.jobs:
        served = visits_by_job.get(job.id, [])
        out.extend(_check_job(job, served, unassigned.get(job.id, 0) > 0))
        if job.after is not None and served:
            out.extend(_check_dependency(job, [start for _, start in served], ends_by_job.get(job.after.job_id, [])))

    out.extend(_check_multi_day(problem, visits_by_job))

    coeffs = coefficients(problem, travel)
    objective = recompute_objective(problem, solution, points, travel, coeffs)
    return CheckReport(tuple(out), objective, Counter(v.kind for v in out))


def _check_job(job: Job, served: list[tuple[str, int]], listed_unassigned: bool) -> list[Violation]:
    out: list[Violation] = []
    if not served:
        if not listed_unassigned:
            out.append(Violation(ViolationKind.MISSING_JOB, "neither served nor listed unassigned", job.id))
        return out
    if listed_unassigned:
        out.append(Violation(ViolationKind.DUPLICATE_JOB, "served and listed unassigned", job.id))
    crew = [tech_id for tech_id, _ in served]
    if len(set(crew)) != len(crew):
        out.append(Violation(ViolationKind.DUPLICATE_JOB, "visited twice by one technician", job.id))
    if len(served) != job.crew_size:
        kind = ViolationKind.CREW_SYNC if job.crew_size == 2 else ViolationKind.DUPLICATE_JOB
        out.append(Violation(kind, f"{len(served)} visits for a crew of {job.crew_size}", job.id))
    starts = {start for _, start in served}
    if job.crew_size == 2 and len(starts) > 1:
        times = " and ".join(_hhmm(t) for t in sorted(starts))
        out.append(Violation(ViolationKind.CREW_SYNC, f"crew starts differ: {times}", job.id))
    if job.pinned_technician_id is not None and job.pinned_technician_id not in crew:
        out.append(Violation(ViolationKind.PIN, f"pinned to {job.pinned_technician_id}, served by {crew}", job.id))
    return out


def _check_dependency(job: Job, starts: list[int], pred_ends: list[int]) -> list[Violation]:
    """``job`` (served, starting at ``starts``) against the job it waits for (ending at ``pred_ends``)."""
    dep = job.after
    assert dep is not None
    if not pred_ends:
        return [Violation(ViolationKind.DEPENDENCY, f"served, but {dep.job_id} it waits for is not", job.id)]
    out: list[Violation] = []
    end_last, end_first = max(pred_ends), min(pred_ends)
    earliest = end_last + dep.min_lag_s
    if dep.min_lag_days:
        earliest = max(earliest, _working_day(dep, end_last // DAY_S, dep.min_lag_days) * DAY_S)
    if min(starts) < earliest:
        out.append(
            Violation(
                ViolationKind.DEPENDENCY,
                f"starts {_hhmm(min(starts))}, before {dep.job_id} ends {_hhmm(end_last)} "
                f"plus {_lag(dep.min_lag_s, dep.min_lag_days)} ({_hhmm(earliest)})",
                job.id,
            )
        )
    limits = [end_first + dep.max_lag_s] if dep.max_lag_s is not None else []
    if dep.max_lag_days is not None:
        limits.append((_working_day(dep, end_first // DAY_S, dep.max_lag_days) + 1) * DAY_S - 1)
    if limits and max(starts) > min(limits):
        out.append(
            Violation(
                ViolationKind.DEPENDENCY,
                f"starts {_hhmm(max(starts))}, after {dep.job_id} ends {_hhmm(end_first)} "
                f"plus {_lag(dep.max_lag_s or 0, dep.max_lag_days or 0)} ({_hhmm(min(limits))})",
                job.id,
            )
        )
    return out


def _working_day(dep: Dependency, day: int, n: int) -> int:
    """Counted here, not with the dependency's own method: the ``n``-th day after ``day``
    whose weekday is one of ``dep.working_weekdays``."""
    days = [d for d in range(day + 1, day + 7 * (n + 1) + 1) if (dep.first_weekday + d) % 7 in dep.working_weekdays]
    return day if n == 0 else days[n - 1]


def _lag(seconds: int, days: int) -> str:
    return f"{seconds}s" + (f" and {days} working day{'s' if days > 1 else ''}" if days else "")


def _check_multi_day(problem: Problem, visits_by_job: dict[str, list[tuple[str, int]]]) -> list[Violation]:
    """Each job longer than a day: served whole or not at all, by one person on
    consecutive working days of theirs (the days they have a technician), in order."""
    techs = {t.id: t for t in problem.technicians}
    worked: dict[str, set[int]] = defaultdict(set)
    for tech in problem.technicians:
        worked[tech.person].add(tech.day or 0)
    parts: dict[str, dict[int, Job]] = defaultdict(dict)
    for job in problem.jobs:
        if job.part is not None:
            parts[job.part.job_id][job.part.index] = job
    out: list[Violation] = []
    for job_id, by_index in parts.items():
        ordered = [by_index[k] for k in sorted(by_index)]
        served = [visits_by_job.get(p.id, []) for p in ordered]
        if not any(served):
            continue
        if not all(served):
            missing = [k + 1 for k, s in enumerate(served) if not s]
            out.append(Violation(ViolationKind.MULTI_DAY, f"job {job_id} served without day(s) {missing}", job_id))
            continue
        holders = [techs[s[0][0]] for s in served if s[0][0] in techs]
        people = {t.person for t in holders}
        if len(people) != 1 or len(holders) != len(ordered):
            out.append(Violation(ViolationKind.MULTI_DAY, f"job {job_id} served by {sorted(people)}", job_id))
            continue
        days = [t.day or 0 for t in holders]
        calendar = sorted(worked[people.pop()])
        at = calendar.index(days[0])
        if calendar[at : at + len(days)] != days:
            out.append(
                Violation(
                    ViolationKind.MULTI_DAY,
                    f"job {job_id} served on days {days}, not consecutive working days {calendar}",
                    job_id,
                )
            )
    return out


def route_violations(
    problem: Problem, tech: Technician, route: Route, points: PointIndex, travel: TravelMatrices
) -> list[Violation]:
    """What ``route`` of ``tech`` breaks of the rules of one route (shift, lunch, travel,
    windows, skills, stock, the reported times), as ``check`` finds them; the rules
    between routes (each job once, crews together, dependencies) are not looked at."""
    return _check_route(problem, tech, route, {j.id: j for j in problem.jobs}, points, travel)


def _check_route(
    problem: Problem, tech: Technician, route: Route, jobs: dict[str, Job], points: PointIndex, travel: TravelMatrices
) -> list[Violation]:
    out: list[Violation] = []

    def bad(kind: ViolationKind, detail: str, job_id: str | None = None) -> None:
        out.append(Violation(kind, detail, job_id, tech.id))

    # A depot stop is a visit of RELOAD_ID: it tops up the stock and lends the depot's tools.
    depot = problem.depot
    depot_stop = problem.reload_job()
    if depot_stop is not None:
        jobs = {**jobs, RELOAD_ID: depot_stop}
    reloads = [k for k, v in enumerate(route.visits) if v.job_id == RELOAD_ID]
    if len(reloads) > 1:
        bad(ViolationKind.RELOAD, f"{len(reloads)} depot stops, at most one a day")

    shift = tech.shift
    if route.start_s < shift.start_s:
        bad(ViolationKind.SHIFT, f"leaves at {_hhmm(route.start_s)}, shift starts {_hhmm(shift.start_s)}")
    visits = [v for v in route.visits if v.job_id in jobs]
    last = visits[-1] if visits else None
    latest = problem.latest_return_s(tech, jobs[last.job_id] if last else None, last.end_s if last else None)
    if route.end_s > latest:
        bad(ViolationKind.SHIFT, f"back at {_hhmm(route.end_s)}, latest {_hhmm(latest)}")
    cut = next((k for k, v in enumerate(visits) if v.job_id == RELOAD_ID), len(visits))
    served = [v for v in visits if v.job_id != RELOAD_ID]
    if tech.max_jobs is not None and len(served) > tech.max_jobs:
        bad(ViolationKind.MAX_JOBS, f"{len(served)} visits, at most {tech.max_jobs}")
    # A resource type is limited when any technician lists it; unlisted here means 0.
    limited = {kind for t in problem.technicians for kind in t.capacity}
    for kind in sorted(limited):
        carried = tech.capacity.get(kind, 0)
        used = sum(jobs[v.job_id].demand.get(kind, 0) for v in visits[:cut])
        if used > carried:
            bad(ViolationKind.CAPACITY, f"carries {carried} {kind}, visits use {used}")
        if depot is not None and cut < len(visits):
            refilled = max(carried, depot.restock.get(kind, 0))
            used = sum(jobs[v.job_id].demand.get(kind, 0) for v in visits[cut + 1 :])
            if used > refilled:
                bad(ViolationKind.CAPACITY, f"reloads to {refilled} {kind}, visits after use {used}")

    # Events: departure, visits, return, each with a location and a [begin, end] busy time.
    stops = [points.tech_start[tech.id]] + [points.job[v.job_id] for v in visits] + [points.tech_end[tech.id]]
    busy = [(route.start_s, route.start_s)] + [(v.start_s, v.end_s) for v in visits] + [(route.end_s, route.end_s)]
    # From when a pause may begin after each event: a long visit may hold a lunch, never an
    # absence (docs/model.md).
    free_from = [route.start_s] + [
        v.start_s if problem.lunch_on_site(jobs[v.job_id], tech) else v.end_s for v in visits
    ]
    lunch_req = shift.lunch
    lunch = route.lunch
    lunch_gap: int | None = None
    if lunch_req is not None:
        # A pause that is an absence says so, with the time away (its window is one instant).
        away = (
            ""
            if lunch_req.on_site
            else f" (away {_hhmm(lunch_req.earliest_s)}-{_hhmm(lunch_req.latest_s + lunch_req.duration_s)})"
        )
        if lunch is None:
            bad(ViolationKind.BREAK, f"no lunch break reported{away}")
        else:
            if not lunch_req.earliest_s <= lunch.start_s <= lunch_req.latest_s:
                bad(ViolationKind.BREAK, f"lunch starts {_hhmm(lunch.start_s)}, outside its window{away}")
            if lunch.duration_s < lunch_req.duration_s:
                bad(ViolationKind.BREAK, f"lunch lasts {lunch.duration_s}s, needs {lunch_req.duration_s}s{away}")
            if lunch.end_s <= route.start_s or lunch.start_s >= route.end_s:
                lunch_gap = None  # before leaving home or after coming back
            else:
                for k in range(len(busy) - 1):
                    if free_from[k] <= lunch.start_s and lunch.end_s <= busy[k + 1][0]:
                        lunch_gap = k
                        break
                else:
                    bad(ViolationKind.BREAK, f"lunch overlaps work{away}")
    for k in range(len(busy) - 1):
        leg_s = int(travel.duration_s[stops[k], stops[k + 1]])
        leg_m = int(travel.distance_m[stops[k], stops[k + 1]])
        need = leg_s + (lunch.duration_s if lunch is not None and lunch_gap == k else 0)
        have = busy[k + 1][0] - busy[k][1]
        job_id = visits[k].job_id if k < len(visits) else None
        if have < need:
            bad(ViolationKind.TRAVEL, f"leg {k} needs {need}s, has {have}s", job_id)
        if k < len(visits):
            v = visits[k]
            if v.travel_s != leg_s or v.distance_m != leg_m:
                bad(ViolationKind.REPORT, "reported travel differs from the matrix", v.job_id)
            if not busy[k][1] <= v.arrival_s <= v.start_s:
                bad(ViolationKind.REPORT, "arrival outside [previous end, start]", v.job_id)

    if visits and (route.return_travel_s, route.return_distance_m) != (
        int(travel.duration_s[stops[-2], stops[-1]]),
        int(travel.distance_m[stops[-2], stops[-1]]),
    ):
        bad(ViolationKind.REPORT, "reported return travel differs from the matrix")

    lent = problem.skills_after_reload(tech)
    for k, v in enumerate(visits):
        job = jobs[v.job_id]
        if v.end_s - v.start_s != job.duration_s:
            bad(ViolationKind.REPORT, f"on site {v.end_s - v.start_s}s, job takes {job.duration_s}s", job.id)
        if job.windows and not any(w.contains(v.start_s) for w in job.windows):
            bad(ViolationKind.WINDOW, f"starts {_hhmm(v.start_s)}, outside every window", job.id)
        if job.release_s is not None and v.start_s < job.release_s:
            bad(ViolationKind.RELEASE, f"starts {_hhmm(v.start_s)}, goods ready {_hhmm(job.release_s)}", job.id)
        if job.deadline_s is not None and v.start_s > job.deadline_s:
            bad(ViolationKind.DEADLINE, f"starts {_hhmm(v.start_s)}, deadline {_hhmm(job.deadline_s)}", job.id)
        held = lent if k > cut else tech.skills
        lacking = {code: level for code, level in job.skills.items() if held.get(code, 0) < level}
        if lacking:
            when = " after the depot stop" if k > cut else ""
            needs = ", ".join(f"{code} at level {level} (holds {held.get(code, 0)})" for code, level in lacking.items())
            bad(ViolationKind.SKILL, f"lacks {needs}{when}", job.id)
    return out


def route_time_units(tech: Technician, route: Route, c: Coefficients) -> tuple[int, int]:
    """The objective units a route with visits costs for its hours: (paid time,
    overtime). A technician already out (``on_clock_from_s``) is paid from then, not
    from when they leave where they are."""
    paid_from = route.start_s if tech.on_clock_from_s is None else tech.on_clock_from_s
    overtime_s = max(0, route.end_s - tech.shift.end_s)
    return (route.end_s - paid_from) * c.per_s[tech.id], overtime_s * c.overtime_per_s[tech.id]


def soft_window_units(job: Job, start_s: int, c: Coefficients) -> int:
    """The objective units a visit to ``job`` starting at ``start_s`` costs for being
    outside its preferred window: per second outside, and once for being outside at
    all (0 inside, or without one)."""
    window = job.preferred_window
    outside = 0 if window is None else window.distance_s(start_s)
    return 0 if outside == 0 else outside * c.soft_per_s[job.id] + c.soft_step.get(job.id, 0)


def recompute_objective(
    problem: Problem,
    solution: Solution,
    points: PointIndex,
    travel: TravelMatrices,
    coeffs: Coefficients | None = None,
) -> ObjectiveBreakdown:
    """The objective of ``solution`` computed from its routes and times alone."""
    c = coeffs if coeffs is not None else coefficients(problem, travel)
    techs = {t.id: t for t in problem.technicians}
    jobs = {j.id: j for j in problem.jobs}
    time_u = dist_u = job_u = ot_u = soft_u = pref_u = drop_u = day_u = 0
    served: dict[str, list[str]] = defaultdict(list)
    for route in solution.routes:
        tech = techs.get(route.technician_id)
        depot_stop = RELOAD_ID if problem.depot is not None else None
        stopping = [v for v in route.visits if v.job_id in jobs or v.job_id == depot_stop]
        visits = [v for v in stopping if v.job_id in jobs]
        if tech is None:
            continue
        if not visits:
            if tech.on_clock_from_s is not None:
                # Already out with nothing left: they still drive home, at once.
                start, end = points.tech_start[tech.id], points.tech_end[tech.id]
                home_s = tech.shift.start_s + int(travel.duration_s[start, end])
                time_u += (home_s - tech.shift.start_s) * c.per_s[tech.id]
                dist_u += int(travel.distance_m[start, end]) * c.per_m[tech.id]
                ot_u += max(0, home_s - tech.shift.end_s) * c.overtime_per_s[tech.id]
            continue
        stops = [points.tech_start[tech.id]] + [points.job[v.job_id] for v in stopping] + [points.tech_end[tech.id]]
        metres = sum(int(travel.distance_m[a, b]) for a, b in itertools.pairwise(stops))
        paid_u, over_u = route_time_units(tech, route, c)
        time_u += paid_u
        dist_u += metres * c.per_m[tech.id]
        job_u += len(visits) * c.per_job[tech.id]
        ot_u += over_u
        for v in visits:
            if v.job_id not in served:
                soft_u += soft_window_units(jobs[v.job_id], v.start_s, c)
            served[v.job_id].append(tech.id)
    for job in problem.jobs:
        crew = served.get(job.id)
        if not crew:
            drop_u += c.drop_cost(job.priority, job.crew_size)
            pref_u += c.left_out_cost(job) - c.drop_cost(job.priority, job.crew_size)
        else:
            if job.crew_size == 1 and crew[0] in techs and not techs[crew[0]].prefers(job):
                pref_u += c.preference_miss
            if crew[0] in techs:
                day_u += c.day_cost(techs[crew[0]], job)
    total = time_u + dist_u + job_u + ot_u + soft_u + pref_u + drop_u + day_u
    return ObjectiveBreakdown(
        time_cost=c.to_cents(time_u),
        distance_cost=c.to_cents(dist_u),
        job_cost=c.to_cents(job_u),
        overtime_cost=c.to_cents(ot_u),
        soft_window_penalty=c.to_cents(soft_u),
        preference_penalty=c.to_cents(pref_u),
        unassigned_penalty=c.to_cents(drop_u),
        total_units=total,
        day_away_penalty=c.to_cents(day_u),
    )
