"""A plan edited by hand, timed and checked: the dispatcher's own moves.

The dispatcher gives each technician's jobs in visiting order (some visits at a
start fixed by a lock or a crew); ``evaluate`` times every route with the route
timer (``solver.schedule.RouteTimer``) and lets the independent checker
(``solver.checker.check``) list what the plan breaks. It always returns a
``Solution``: a route the timer cannot time (it keeps every hard rule or gives
up) is driven as it stands with ``solver.schedule.drive_on`` — every visit as
early as the drive allows, never before its window opens, late when it must —
and the checker then names the window, shift or break that route breaks.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from solver.checker import Violation, check
from solver.objective import coefficients
from solver.plan import WorkingRoute
from solver.problem import RELOAD_ID, Job, Problem, ProblemError, Technician
from solver.schedule import NEVER, RouteTimer, Stop, StopTimes, drive_on, earliest_in, told_arrival
from solver.solution import BreakTaken, ReasonCode, Route, Solution, Unassigned, Visit
from solver.travel import HaversineProvider, PointIndex, TravelMatrices, TravelProvider, problem_travel

LEFT_OUT = "Left out of the plan by hand."


@dataclass(frozen=True)
class Evaluation:
    """An edited plan as timed (``solution``, its objective recomputed by the checker)
    and every rule it breaks (``violations``, empty when it is feasible).
    ``untimed``: technicians whose route the route timer could not time (driven as
    it stands instead)."""

    solution: Solution
    violations: tuple[Violation, ...]
    untimed: tuple[str, ...] = ()

    @property
    def feasible(self) -> bool:
        """True when the edited plan breaks no hard rule."""
        return not self.violations


def evaluate(
    problem: Problem,
    routes: Sequence[WorkingRoute],
    unassigned: Mapping[str, Unassigned] | None = None,
    travel_provider: TravelProvider | None = None,
) -> Evaluation:
    """Time and check a plan given by hand.

    ``routes``: per technician, job ids in visiting order and each visit's fixed
    start (seconds) or None; a technician without a route stays at home. Every
    job of ``problem`` in no route is unassigned, with its reason from
    ``unassigned`` when given. Job or technician ids ``problem`` does not know
    raise ``ProblemError`` naming them.
    """
    points, travel = problem_travel(problem, travel_provider or HaversineProvider())
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    stops = {j.id: j for j in problem.jobs}
    depot_stop = problem.reload_job()
    if depot_stop is not None:
        stops[RELOAD_ID] = depot_stop
    given = {r.technician_id: r for r in routes}
    unknown = sorted(set(given) - {t.id for t in problem.technicians})
    if unknown:
        raise ProblemError(f"technician {unknown[0]} does not work this day")
    out: list[Route] = []
    untimed: list[str] = []
    for tech in problem.technicians:
        working = given.get(tech.id, WorkingRoute(tech.id, ()))
        missing = [i for i in working.job_ids if i not in stops]
        if missing:
            raise ProblemError(f"job {missing[0]} is not to be planned this day")
        jobs = [stops[i] for i in working.job_ids]
        timing = timer.timing(tech, jobs, fixed_starts=working.fixed_starts)
        if timing is not None:
            out.append(timer.route(tech, jobs, timing))
        else:
            untimed.append(tech.id)
            out.append(drive_as_it_stands(tech, jobs, working.fixed_starts, points, travel))
    served = {v.job_id for r in out for v in r.visits}
    reasons = unassigned or {}
    left = tuple(
        reasons.get(j.id) or Unassigned(j.id, ReasonCode.DAY_FULL, LEFT_OUT) for j in problem.jobs if j.id not in served
    )
    solution = Solution(tuple(out), left)
    report = check(problem, solution, points, travel)
    return Evaluation(Solution(solution.routes, left, report.objective), report.violations, tuple(untimed))


def drive_as_it_stands(
    tech: Technician,
    jobs: Sequence[Job],
    fixed_starts: Sequence[int | None],
    points: PointIndex,
    travel: TravelMatrices,
) -> Route:
    """``tech``'s route through ``jobs`` in this order when no timing keeps every hard
    rule: leave at the shift start (later when the first window opens later), drive
    on (``drive_on``), start each visit at its fixed start or once it is reached and
    its window has opened (late when every window has closed), take the lunch on the
    way once its earliest start has come, and drive home."""
    lunch_rule = tech.shift.lunch
    nodes = [points.tech_start[tech.id], *(points.job[j.id] for j in jobs), points.tech_end[tech.id]]
    legs = [int(travel.duration_s[a, b]) for a, b in itertools.pairwise(nodes)]
    first = jobs[0].start_windows() if jobs else []
    opens = fixed_starts[0] if fixed_starts and fixed_starts[0] is not None else (first[0].start_s if first else NEVER)
    depart = max(tech.shift.start_s, opens - legs[0])
    lunch: BreakTaken | None = None
    visits: list[Visit] = []
    at, free = nodes[0], depart
    for k, job in enumerate([*jobs, None]):
        point = nodes[k + 1]
        fixed = fixed_starts[k] if job is not None else None
        times = _reach(travel, at, free, point, job, fixed, 0, NEVER)
        if lunch is None and lunch_rule is not None and times.start_s > lunch_rule.earliest_s:
            # The lunch goes into the first gap in which work would go on past its earliest start.
            lunch = BreakTaken(max(free, lunch_rule.earliest_s), lunch_rule.duration_s)
            times = _reach(travel, at, free, point, job, fixed, lunch.duration_s, lunch.end_s)
        if job is None:
            if lunch is None and lunch_rule is not None:
                lunch = BreakTaken(lunch_rule.earliest_s, lunch_rule.duration_s)
            return Route(
                tech.id,
                tuple(visits),
                depart,
                times.arrival_s,
                lunch,
                legs[-1],
                int(travel.distance_m[nodes[-2], nodes[-1]]),
            )
        distance = int(travel.distance_m[nodes[k], nodes[k + 1]])
        arrival = told_arrival(times.arrival_s, times.start_s)
        visits.append(Visit(job.id, arrival, times.start_s, times.end_s, legs[k], distance))
        at, free = point, times.end_s
    raise AssertionError("unreachable")


def _reach(
    travel: TravelMatrices,
    at: int,
    free_s: int,
    point: int,
    job: Job | None,
    fixed_s: int | None,
    pause_s: int,
    not_before_s: int,
) -> StopTimes:
    """When the stop at ``point`` (``job``, or home for None) is reached and begun by a
    technician free at ``at`` from ``free_s``, with ``pause_s`` taken on the way."""
    duration = job.duration_s if job is not None else 0
    (reached,) = drive_on(travel, at, free_s, [Stop(point, duration, not_before_s, pause_on_way_s=pause_s)])
    if job is None:
        return reached
    start = fixed_s if fixed_s is not None else earliest_in(job.start_windows(), reached.arrival_s)
    begin = start if start is not None else NEVER
    (times,) = drive_on(travel, at, free_s, [Stop(point, duration, not_before_s, begin, pause_on_way_s=pause_s)])
    return times
