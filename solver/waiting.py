"""Waiting for a preferred window: the last step before the checker.

Every search times a route at its earliest: each visit starts as soon as the
technician can be there. A visit that then starts before its preferred window (a
customer's preferred hours, or on a re-plan the arrival its customer was told:
``solver.replan``) pays the soft-window cost although the route often has room
to start it later. This step re-times each route without changing who goes where
or in what order: a visit that starts before its preferred window is started
later (the technician leaves later, or waits where they are) as far as the rest
of the route allows, and the route is kept only when the objective falls and the
checker's own route rules still hold.

What never moves (a fixed anchor): crew visits (their partner starts with them),
jobs in a dependency (on either side: a lag counts from an end), parts of a job
of several days, depot stops, a visit that holds the lunch on site or is followed
by it before home; the lunch keeps its place (the visit before it still ends by its
start), and no visit's start moves earlier. The return home may come
later only up to the shift's end, never into new overtime.
"""

from __future__ import annotations

import dataclasses

from solver.checker import route_time_units, route_violations, soft_window_units
from solver.objective import Coefficients
from solver.problem import MAX_TIME_S, Job, Problem, Technician
from solver.solution import Route, Solution, Visit
from solver.travel import PointIndex, TravelMatrices

CUSHION_S = 15 * 60
"""How far inside its preferred window a delayed visit aims (at most half the window):
a start on the window's very edge slips out of it with the first minute of delay."""


def wait_for_preferred(
    problem: Problem, solution: Solution, points: PointIndex, travel: TravelMatrices, coeffs: Coefficients
) -> Solution:
    """``solution`` with routes re-timed so that visits starting before their preferred
    window wait for it where the route has room: same visits, same order, each route
    changed only when its part of the objective falls and the checker's route rules
    hold. The objective breakdown is left for the checker to recompute."""
    jobs = {j.id: j for j in problem.jobs}
    if not any(j.preferred_window is not None for j in problem.jobs):
        return solution
    techs = {t.id: t for t in problem.technicians}
    linked = {j.after.job_id for j in problem.jobs if j.after is not None}
    routes = []
    for route in solution.routes:
        tech = techs.get(route.technician_id)
        if tech is not None:
            waited = _waited(problem, tech, route, jobs, linked, travel, points)
            if (
                waited is not None
                and _gain(tech, route, waited, jobs, coeffs) < 0
                and not route_violations(problem, tech, waited, points, travel)
            ):
                route = waited
        routes.append(route)
    return dataclasses.replace(solution, routes=tuple(routes))


def _fixed(job: Job | None, linked: set[str]) -> bool:
    """Whether a visit to ``job`` keeps its time (see the module's docstring)."""
    return job is None or job.crew_size > 1 or job.after is not None or job.id in linked or job.part is not None


def _target(job: Job | None, start_s: int) -> int:
    """Where ``job``'s start should be: inside its preferred window by a cushion when it
    starts before it, else where it is."""
    window = None if job is None else job.preferred_window
    if window is None or start_s >= window.start_s:
        return start_s
    return window.start_s + min(CUSHION_S, (window.end_s - window.start_s) // 2)


def _latest_in_windows(job: Job, start_s: int) -> int:
    """The latest start in the window that holds ``start_s``, and by the deadline."""
    latest = next((w.end_s for w in job.windows if w.contains(start_s)), start_s) if job.windows else MAX_TIME_S
    if job.deadline_s is not None:
        latest = min(latest, job.deadline_s)
    return max(start_s, latest)


def _waited(
    problem: Problem,
    tech: Technician,
    route: Route,
    jobs: dict[str, Job],
    linked: set[str],
    travel: TravelMatrices,
    points: PointIndex,
) -> Route | None:
    """The route re-timed towards its visits' preferred windows, or None when nothing moves."""
    visits = route.visits
    n = len(visits)
    if n == 0:
        return None
    targets = [_target(jobs.get(v.job_id), v.start_s) for v in visits]
    if all(t == v.start_s for t, v in zip(targets, visits, strict=True)):
        return None
    lunch = route.lunch
    # The gap (0: before the first visit; n: before coming home) that holds the lunch, as
    # the checker finds it: from when the event before it frees the technician (a long
    # visit may hold the lunch) to the next event's start.
    gap = None
    if lunch is not None and route.start_s < lunch.end_s and lunch.start_s < route.end_s:
        free_from = [route.start_s] + [
            v.start_s if v.job_id in jobs and problem.lunch_on_site(jobs[v.job_id], tech) else v.end_s for v in visits
        ]
        starts = [v.start_s for v in visits] + [route.end_s]
        gap = next((k for k in range(n + 1) if free_from[k] <= lunch.start_s and lunch.end_s <= starts[k]), None)
        if gap is None:
            return None
    fixed = [_fixed(jobs.get(v.job_id), linked) for v in visits]
    # The lunch keeps its place: the visit before it must still end by its start (one
    # that holds it on site, or the last visit when it comes before home, keeps its time).
    pause = lunch.duration_s if lunch is not None else 0
    if gap is not None and gap >= 1 and (gap == n or free_from[gap] == visits[gap - 1].start_s):
        fixed[gap - 1] = True
    home_leg = route.return_travel_s
    latest_end = route.end_s if gap == n else max(route.end_s, tech.shift.end_s)
    latest = [0] * n
    bound = latest_end - home_leg
    for i in range(n - 1, -1, -1):
        v = visits[i]
        duration = v.end_s - v.start_s
        job = jobs.get(v.job_id)
        own = v.start_s if fixed[i] or job is None else _latest_in_windows(job, v.start_s)
        latest[i] = max(v.start_s, min(own, bound - duration))
        bound = latest[i] - v.travel_s
        if gap == i and lunch is not None:
            bound = min(bound - pause, lunch.start_s)
    new: list[Visit] = []
    prev_end = route.start_s
    for i, v in enumerate(visits):
        earliest = max(v.start_s, prev_end + v.travel_s)
        if gap == i and lunch is not None:
            earliest = max(earliest, prev_end + v.travel_s + pause, lunch.end_s)
        start = min(max(earliest, targets[i]), latest[i])
        if start < earliest:
            return None
        shift = start - v.start_s
        arrival = min(start, max(prev_end + v.travel_s, v.arrival_s + shift))
        new.append(dataclasses.replace(v, arrival_s=arrival, start_s=start, end_s=v.end_s + shift))
        prev_end = new[-1].end_s
    if all(a.start_s == b.start_s for a, b in zip(new, visits, strict=True)):
        return None
    begin = route.start_s
    if gap != 0 and tech.on_clock_from_s is None:
        begin = max(route.start_s, new[0].arrival_s - new[0].travel_s)
    end = max(route.end_s, prev_end + home_leg) if gap != n else route.end_s
    if end > latest_end:
        return None
    return dataclasses.replace(route, visits=tuple(new), start_s=begin, end_s=end)


def _gain(tech: Technician, old: Route, new: Route, jobs: dict[str, Job], c: Coefficients) -> int:
    """The change in objective units of the route ``old`` re-timed as ``new`` (negative:
    better): the checker's own terms for a route's hours and its visits' windows."""
    change = sum(route_time_units(tech, new, c)) - sum(route_time_units(tech, old, c))
    for a, b in zip(old.visits, new.visits, strict=True):
        job = jobs.get(a.job_id)
        if job is not None:
            change += soft_window_units(job, b.start_s, c) - soft_window_units(job, a.start_s, c)
    return change
