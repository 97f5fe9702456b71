"""Exact optimum of tiny days by enumeration, to hold the solver to account.

Every subset of jobs for every technician is tried in every order (with a depot,
also with the depot stop before each job), timed by the route timer; the best
disjoint combination plus drop penalties is the optimum. Crews of two are not
enumerated here (their routes are coupled in time), and a dependency (``Job.after``)
only between two jobs pinned to one technician, with no lag: the dependent then
comes after the job it waits for in the route, or is left out with it. The days of
a job longer than a day (``Job.part``, each pinned to its day) count only together.
"""

from __future__ import annotations

import itertools
import math

from solver import HaversineProvider, Job, Problem, problem_travel
from solver.objective import coefficients
from solver.schedule import RouteTimer, Timing


def optimum_units(problem: Problem) -> int:
    """The least objective (in units) any feasible plan of ``problem`` can reach."""
    assert all(j.crew_size == 1 for j in problem.jobs), "crews are not enumerated"
    for j in problem.jobs:
        if j.after is not None:
            pred = problem.job(j.after.job_id)
            assert j.pinned_technician_id is not None and pred.pinned_technician_id == j.pinned_technician_id
            assert j.after.min_lag_s == 0 and j.after.max_lag_s is None, "only dependencies without lags"
    points, travel = problem_travel(problem, HaversineProvider())
    coeffs = coefficients(problem, travel)
    timer = RouteTimer(points, travel, coeffs, problem.lunch_on_site_min_s)
    jobs = list(problem.jobs)
    n = len(jobs)
    best_by_tech: list[dict[int, float]] = []
    stop = problem.reload_job()
    for tech in problem.technicians:
        lent = problem.skills_after_reload(tech)

        def holds(job: Job, held: dict[str, int]) -> bool:
            return all(held.get(code, 0) >= level for code, level in job.skills.items())

        able = [problem.qualified(tech, j) and j.pinned_technician_id in (None, tech.id) for j in jobs]
        # Nothing to do costs nothing, but the way home of a technician already out.
        best: dict[int, float] = {0: timer.route_cost(tech, [], timer.timing(tech, []) or _never())}
        for mask in range(1, 1 << n):
            members = [i for i in range(n) if mask >> i & 1]
            if not all(able[i] for i in members):
                continue
            if tech.max_jobs is not None and len(members) > tech.max_jobs:
                continue
            cheapest = math.inf
            for order in itertools.permutations(members):
                plain = [jobs[i] for i in order]
                if not _waits_kept(plain):
                    continue
                cuts: list[int | None] = [None] if stop is None else [None, *range(len(plain))]
                for cut in cuts:
                    if cut is None:
                        seq, before, after = plain, plain, []
                    else:
                        assert stop is not None
                        seq, before, after = [*plain[:cut], stop, *plain[cut:]], plain[:cut], plain[cut:]
                    if not all(holds(j, tech.skills) for j in before) or not all(holds(j, lent) for j in after):
                        continue
                    timing = timer.timing(tech, seq)
                    if timing is not None:
                        # The route timer counts the stop as a job; the objective does not.
                        stop_units = coeffs.per_job[tech.id] if cut is not None else 0
                        cheapest = min(cheapest, timer.route_cost(tech, seq, timing) - stop_units)
            if cheapest < math.inf:
                misses = sum(1 for i in members if not tech.prefers(jobs[i]))
                away = sum(coeffs.day_cost(tech, jobs[i]) for i in members)
                best[mask] = cheapest + misses * coeffs.preference_miss + away
        best_by_tech.append(best)

    drop = [coeffs.left_out_cost(j) for j in jobs]
    full = (1 << n) - 1
    # Combine technicians one by one: cover[mask] = least cost serving exactly `mask`.
    cover: dict[int, float] = {0: 0}
    for best in best_by_tech:
        nxt: dict[int, float] = {used: cost + best[0] for used, cost in cover.items()}
        for used, cost in cover.items():
            for mask, route_cost in best.items():
                if mask and not used & mask:
                    key = used | mask
                    nxt[key] = min(nxt.get(key, math.inf), cost + route_cost)
        cover = nxt
    # The days of a job longer than a day are served together or not at all (each
    # pinned to its day beforehand, so a whole group is on consecutive days).
    groups: dict[str, int] = {}
    for i, j in enumerate(jobs):
        if j.part is not None:
            groups[j.part.job_id] = groups.get(j.part.job_id, 0) | 1 << i
    result = min(
        cost + sum(drop[i] for i in range(n) if not (mask >> i & 1))
        for mask, cost in cover.items()
        if all(mask & g in (0, g) for g in groups.values())
    )
    assert full >= 0
    return int(result)


def _waits_kept(seq: list[Job]) -> bool:
    """Every job of ``seq`` that waits for another comes after it in ``seq``."""
    seen: set[str] = set()
    for job in seq:
        if job.after is not None and job.after.job_id not in seen:
            return False
        seen.add(job.id)
    return True


def _never() -> Timing:
    raise AssertionError("an empty route always times")
