"""The greedy construction: a first plan, job by job, each where it adds least cost.

Crew jobs go to the cheapest pair of technicians that can both start at one time,
where a technician also costs the one-person work that falls to them (``sought``):
a crew that others could form leaves free a technician whom few can stand in for.
A re-plan starts from the routes it is given (``seed``). docs/model.md, "Search".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from solver.insertion import insert
from solver.objective import Coefficients
from solver.plan import Plan, WorkingRoute
from solver.problem import RELOAD_ID, Job, Problem, Technician
from solver.schedule import RouteTimer
from solver.search import sisr

log = logging.getLogger(__name__)


def sought(problem: Problem, candidates: Sequence[Job], coeffs: Coefficients) -> dict[str, int]:
    """Per technician, what the one-person work that falls to them would cost at their
    hourly rate: each job's duration shared equally among the technicians qualified for
    it. A crew placed on a technician few others can stand in for costs this much more."""
    singles = [j for j in candidates if j.crew_size == 1]
    if not singles:
        return {}
    able = sisr.qualified(problem, singles)
    sharing = able.sum(axis=0)
    duration = np.array([j.duration_s for j in singles], dtype=np.float64)
    share = np.divide(duration, sharing, out=np.zeros_like(duration), where=sharing > 0)
    seconds = able @ share
    return {t.id: round(float(seconds[v]) * coeffs.per_s[t.id]) for v, t in enumerate(problem.technicians)}


def build(
    jobs: Iterable[Job],
    problem: Problem,
    timer: RouteTimer,
    plan: Plan,
    extra: Mapping[str, int],
    until: float,
    stop: Callable[[], bool] | None = None,
) -> list[Job]:
    """Insert ``jobs`` in this order into ``plan`` (``insert``, crews counting ``extra``)
    until ``until`` (time.monotonic()) or ``stop``; the jobs left untried for lack of time."""
    untried: list[Job] = []
    for job in jobs:
        if untried or time.monotonic() >= until or (stop is not None and stop()):
            untried.append(job)
            continue
        insert(job, problem, timer, plan, extra)
    return untried


def seed(
    plan: Plan, problem: Problem, candidates: Sequence[Job], routes: Sequence[WorkingRoute], timer: RouteTimer
) -> None:
    """Start ``plan`` from ``routes``: each route whose technician holds every skill
    its jobs need where they come (jobs not among ``candidates`` dropped; on a day
    with a depot its first depot stop kept, and the depot's tools held after it) is
    kept, as given where it times, else without its least urgent visits (``_trim``),
    and never with more jobs than the technician may take (``_cap``); a crew visit is
    kept only where both of its technicians' routes are."""
    by_id = {j.id: j for j in candidates}
    stop = problem.reload_job()
    if stop is not None:
        by_id[RELOAD_ID] = stop
    given = {r.technician_id: r for r in routes}
    for tech in problem.technicians:
        route = given.get(tech.id)
        kept = [(by_id[i], start) for i, start in (route.visits() if route else ()) if i in by_id]
        stops = [k for k, (job, _) in enumerate(kept) if job.id == RELOAD_ID]
        kept = [v for k, v in enumerate(kept) if k not in stops[1:]]
        plan.jobs[tech.id] = [job for job, _ in kept]
        plan.fixed[tech.id] = [start if job.crew_size == 2 else None for job, start in kept]
        _cap(plan, tech)
        if not qualified_along(problem, tech, plan.jobs[tech.id]):
            plan.jobs[tech.id], plan.fixed[tech.id] = [], []
            plan.retime(tech, timer)
        elif not plan.retime(tech, timer):
            _trim(plan, tech, timer)
    plan.drop_lone_crew_visits(problem.technicians, timer)
    log.info("seeded: %d jobs from the initial routes", len(plan.served()))


def _cap(plan: Plan, tech: Technician) -> None:
    """Take the least urgent visits (priority, then the later visit) out of ``tech``'s
    sequence until it holds no more jobs than ``tech.max_jobs``: a route given may hold
    more than they may still take (a version stored with an override, a limit lowered
    since, visits made today that count toward it)."""
    if tech.max_jobs is None:
        return
    seq = plan.jobs[tech.id]
    over = sum(j.id != RELOAD_ID for j in seq) - tech.max_jobs
    if over <= 0:
        return
    order = sorted((k for k, j in enumerate(seq) if j.id != RELOAD_ID), key=lambda k: (-seq[k].priority, -k))
    for job_id in [seq[k].id for k in order[:over]]:
        plan.remove(tech.id, job_id)
    log.info("took %d visits off the route given to %s: at most %d jobs", over, tech.id, tech.max_jobs)


def _trim(plan: Plan, tech: Technician, timer: RouteTimer) -> None:
    """Take visits out of ``tech``'s route until the rest times, the least urgent first
    (priority, then the later visit): one whose removal alone makes it time where there
    is one, else the least urgent. A route no longer timing as given (an overrun, an
    absence) keeps what it still can, so a re-plan keeps its promised visits where they
    were rather than re-placing the whole route. A route with a depot stop is emptied."""
    if any(job.id == RELOAD_ID for job in plan.jobs[tech.id]):
        plan.clear(tech)
        return
    while plan.jobs[tech.id]:
        seq = list(plan.jobs[tech.id])
        order = sorted(range(len(seq)), key=lambda k: (-seq[k].priority, -k))
        for k in order:
            saved = plan.saved([tech.id])
            plan.remove(tech.id, seq[k].id)
            if plan.retime(tech, timer):
                return
            plan.restore(saved)
        plan.remove(tech.id, seq[order[0]].id)
    plan.retime(tech, timer)


def qualified_along(problem: Problem, tech: Technician, seq: Sequence[Job]) -> bool:
    """``tech`` may do every job of ``seq`` where it comes: pins kept, their own skills
    before a depot stop, the depot's tools as well after it."""
    held = tech.skills
    for job in seq:
        if job.id == RELOAD_ID:
            held = problem.skills_after_reload(tech)
            continue
        if job.crew_size == 1 and job.pinned_technician_id not in (None, tech.id):
            return False
        if not all(held.get(code, 0) >= level for code, level in job.skills.items()):
            return False
    return True
