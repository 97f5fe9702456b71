"""Planning by hand: how a dispatcher assigns without an optimizer.

Jobs are taken in booking order (their order in the problem). Each goes to the
nearest technician — measured from where that technician's day currently ends —
who has the skills and can still make the window when the job is added at the
end of their day (lunch, shift and overtime limits kept). A crew job goes to
the two nearest such technicians at a common start. Nothing is ever reordered.
It is a baseline for the benchmarks, not a planner to use.
"""

from __future__ import annotations

from solver.explain import precheck
from solver.objective import coefficients
from solver.problem import Job, Problem, Technician
from solver.schedule import RouteTimer
from solver.solution import ReasonCode, Route, Solution, Unassigned
from solver.travel import HaversineProvider, TravelProvider, problem_travel


def plan_by_hand(problem: Problem, travel_provider: TravelProvider | None = None) -> Solution:
    """A feasible plan made the way a dispatcher would without an optimizer."""
    points, travel = problem_travel(problem, travel_provider or HaversineProvider())
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    pre = precheck(problem, points, travel)
    jobs: dict[str, list[Job]] = {t.id: [] for t in problem.technicians}
    fixed: dict[str, list[int | None]] = {t.id: [] for t in problem.technicians}
    routes: dict[str, Route] = {t.id: Route(t.id, (), t.shift.start_s, t.shift.start_s) for t in problem.technicians}
    unassigned: list[Unassigned] = [pre[j.id] for j in problem.jobs if j.id in pre]

    def last_point(tech: Technician) -> int:
        seq = jobs[tech.id]
        return points.job[seq[-1].id] if seq else points.tech_start[tech.id]

    for job in problem.jobs:
        if job.id in pre:
            continue
        able: list[tuple[int, Technician, int]] = []
        for tech in problem.technicians:
            if not tech.has_skills(job.skills):
                continue
            if job.crew_size == 1 and job.pinned_technician_id not in (None, tech.id):
                continue
            if tech.max_jobs is not None and len(jobs[tech.id]) >= tech.max_jobs:
                continue
            timing = timer.timing(tech, [*jobs[tech.id], job], fixed_starts=[*fixed[tech.id], None])
            if timing is not None:
                distance = int(travel.distance_m[last_point(tech), points.job[job.id]])
                able.append((distance, tech, timing.starts_s[-1]))
        able.sort(key=lambda a: (a[0], a[1].id))
        chosen = _choose(job, able, timer, jobs, fixed)
        if chosen is None:
            unassigned.append(
                Unassigned(job.id, ReasonCode.DAY_FULL, "No qualified technician could still make it (by hand).")
            )
            continue
        start = chosen[0][1] if job.crew_size == 2 else None
        for tech, _ in chosen:
            jobs[tech.id].append(job)
            fixed[tech.id].append(start)
            timing = timer.timing(tech, jobs[tech.id], fixed_starts=fixed[tech.id])
            assert timing is not None
            routes[tech.id] = timer.route(tech, jobs[tech.id], timing)
    order = {j.id: i for i, j in enumerate(problem.jobs)}
    unassigned.sort(key=lambda u: order[u.job_id])
    return Solution(tuple(routes[t.id] for t in problem.technicians), tuple(unassigned))


def _choose(
    job: Job,
    able: list[tuple[int, Technician, int]],
    timer: RouteTimer,
    jobs: dict[str, list[Job]],
    fixed: dict[str, list[int | None]],
) -> list[tuple[Technician, int]] | None:
    """The nearest technician, or for a crew the nearest pair that can start together."""
    if job.crew_size == 1:
        return [(able[0][1], able[0][2])] if able else None
    for i, (_, first, s1) in enumerate(able):
        for _, second, s2 in able[i + 1 :]:
            if job.pinned_technician_id not in (None, first.id, second.id):
                continue
            start = max(s1, s2)
            if all(
                timer.timing(t, [*jobs[t.id], job], fixed_starts=[*fixed[t.id], start]) is not None
                for t in (first, second)
            ):
                return [(first, start), (second, start)]
    return None
