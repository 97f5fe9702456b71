"""The repair step after a search: promises kept, jobs still out put in where they fit,
depot stops nothing needs taken out. docs/model.md, "Search", step 4.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence

from solver.checker import soft_window_units
from solver.construction import qualified_along
from solver.insertion import (
    able,
    insert,
    insert_clearing,
    insert_displacing,
    insert_displacing_crew,
    insert_moving_one,
    insert_via_depot,
    timings,
)
from solver.plan import Plan, WorkingRoute
from solver.problem import RELOAD_ID, Job, Problem, Technician
from solver.schedule import RouteTimer, Timing

log = logging.getLogger(__name__)
# Above this many jobs left out after the repair's insertions, none is tried by moving another.
_MOVE_ONE_MAX_JOBS = 20
# Jobs of this priority or more urgent (promises, and urgent work of levels 1 and 2) still
# out are tried by moving another job, and else in the place of one less urgent job:
# leaving one out costs more than leaving out every less urgent job (solver/objective.py).
# Level 3 is the ordinary work (the API's default priority), which nothing less urgent holds.
_DISPLACING_MAX_PRIORITY = 2


def repair(
    problem: Problem,
    candidates: Sequence[Job],
    plan: Plan,
    timer: RouteTimer,
    finish_by: float,
    initial_routes: Sequence[WorkingRoute] = (),
    offered_everywhere: bool = False,
) -> tuple[list[Job], set[str]]:
    """Put the ``candidates`` the plan leaves out into ``plan`` where they fit, until
    ``finish_by`` (time.monotonic()); (the jobs still out, most urgent first; the ids of
    those among them never tried for lack of time).

    A technician whose starting route (``initial_routes``) held a promise the search
    lost gets that route back first. Each job still out goes where it costs least,
    after a depot stop where it needs one, and, when at most ``_MOVE_ONE_MAX_JOBS`` are
    left, where moving one other job makes room. A promise or urgent work (priority up
    to ``_DISPLACING_MAX_PRIORITY``) that still fits nowhere takes the place of one less
    urgent job, or of a less urgent crew job (whose crew then looks for another pair); a
    promise also clears a route of what may move (``insertion.insert_clearing``). With
    ``offered_everywhere`` (the search offered every job every place already) only the last
    of these is tried, except for the jobs it did not offer (``Plan.not_offered``) and for a
    promise's plain insertion: the searches do not know its late way home
    (``Problem.promise_late_home_s``).
    """
    if initial_routes:
        _restore_promises(problem, candidates, initial_routes, timer, plan)
    served = plan.served()
    dropped = sorted((j for j in candidates if j.id not in served), key=lambda j: (j.priority, j.id))
    left: list[Job] = []
    # Jobs the repair step had no time left to try: their reason is the time limit,
    # whatever the final plan looks like (it never tried them against it).
    untried: set[str] = set()
    for j in dropped:
        if j.id in plan.untried:
            untried.add(j.id)
            left.append(j)
        elif (
            offered_everywhere
            and j.id not in plan.not_offered
            and not (j.priority == 0 and problem.promise_late_home_s)
        ):
            # (The searches do not know a promise's late way home: those are tried here.)
            left.append(j)
        elif time.monotonic() >= finish_by:
            untried.add(j.id)
            left.append(j)
        elif not (insert(j, problem, timer, plan) or insert_via_depot(j, problem, timer, plan, finish_by)):
            left.append(j)
    # What still fits nowhere may fit once one other job moves to another technician
    # (the search can stall with such a job out: TRSP, docs/benchmarks.md): every job when
    # few are left, else the promises (priority 0) only. A promise that still fits
    # nowhere takes the place of a less urgent job, or else a cleared route's (the less
    # urgent jobs that then fit nowhere are left out).
    few = len(left) <= _MOVE_ONE_MAX_JOBS
    still: list[Job] = []
    displaced = False  # a route changed after the jobs still out were last tried
    for j in left:
        urgent = j.priority <= _DISPLACING_MAX_PRIORITY
        if (few or urgent) and insert_moving_one(j, problem, timer, plan, finish_by):
            continue
        if not urgent:
            still.append(j)
            continue
        out = insert_displacing(j, problem, timer, plan, finish_by)
        if out is None:  # or take a less urgent crew's place (the crew then looks for another pair)
            out = insert_displacing_crew(j, problem, timer, plan, finish_by)
        cleared: list[Job] | None = [out] if out is not None else None
        if cleared is None and j.priority == 0:  # a promise may also clear a route
            cleared = insert_clearing(j, problem, timer, plan, finish_by)
        if cleared is None:
            still.append(j)
            continue
        untried.discard(j.id)
        displaced = True
        still.extend(o for o in cleared if not insert(o, problem, timer, plan))
    if displaced:
        # Taking a job's place may free room elsewhere (a crew that found another pair
        # leaves its partner's route with a gap): what is still out tries it once more.
        still = [
            j
            for j in sorted(still, key=lambda j: (j.priority, j.id))
            if time.monotonic() >= finish_by or not insert(j, problem, timer, plan)
        ]
    left = sorted(still, key=lambda j: (j.priority, j.id))
    drop_idle_reloads(problem, timer, plan)
    return left, untried


def drop_idle_reloads(problem: Problem, timer: RouteTimer, plan: Plan) -> None:
    """Take out depot stops that no visit needs (any more: the repair may have moved
    those visits away): every visit after the stop is within the technician's own
    skills, all visits fit what they set out with, and the route times without it."""
    for tech in problem.technicians:
        seq = plan.jobs[tech.id]
        if not any(j.id == RELOAD_ID for j in seq):
            continue
        rest = [j for j in seq if j.id != RELOAD_ID]
        if not all(tech.has_skills(j.skills) for j in rest) or not timer.fits_capacity(tech, rest):
            continue
        saved = plan.saved((tech.id,))
        plan.remove(tech.id, RELOAD_ID)
        if plan.retime(tech, timer):
            log.info("took out the depot stop of %s: nothing after it needs it", tech.id)
        else:
            plan.restore(saved)


def _restore_promises(
    problem: Problem,
    candidates: Sequence[Job],
    routes: Sequence[WorkingRoute],
    timer: RouteTimer,
    plan: Plan,
) -> None:
    """Give back its starting route to each technician whose start held a
    promise (a priority-0 job) the search lost, where that route times exactly
    and holds no crew visit; the jobs it displaces go to the repair that follows."""
    by_id = {j.id: j for j in candidates}
    given = {r.technician_id: [by_id[i] for i in r.job_ids if i in by_id] for r in routes}
    restored: set[str] = set()
    # A restored route may displace a promise of another starting route: go round until none is lost.
    # Starting routes are disjoint, so each technician is restored at most once.
    while True:
        served = plan.served()
        lost = next(
            (
                t
                for t in problem.technicians
                if t.id not in restored and any(j.priority == 0 and j.id not in served for j in given.get(t.id, ()))
            ),
            None,
        )
        if lost is None:
            return
        restored.add(lost.id)
        _restore_route(problem, given[lost.id], lost, timer, plan)


def _restore_route(problem: Problem, seq: list[Job], tech: Technician, timer: RouteTimer, plan: Plan) -> None:
    """Give ``tech`` the route ``seq`` again (taking its jobs off other technicians), where it
    times, holds no more jobs than they may take, and they may do each of its jobs (a
    starting route may break a pin or skill the problem now has: the live schedule of a
    day whose dispatcher overrode a lock)."""
    if any(j.crew_size > 1 for j in seq) or not qualified_along(problem, tech, seq):
        return
    if tech.max_jobs is not None and sum(j.id != RELOAD_ID for j in seq) > tech.max_jobs:
        return
    if timer.timing(tech, seq, fixed_starts=[None] * len(seq)) is None:
        return
    ids = {j.id for j in seq}
    for other in problem.technicians:
        if other.id == tech.id:
            continue
        moved = [j.id for j in plan.jobs[other.id] if j.id in ids]
        for job_id in moved:
            plan.remove(other.id, job_id)
        if moved and not plan.retime(other, timer):
            plan.jobs[other.id], plan.fixed[other.id] = [], []  # only through rounding; repair re-places them
            plan.retime(other, timer)
    # What the search had put on this route goes back to the jobs left out, to be offered
    # every place again (the search offered them none without it).
    plan.not_offered |= {j.id for j in plan.jobs[tech.id] if j.id not in ids}
    plan.jobs[tech.id], plan.fixed[tech.id] = list(seq), [None] * len(seq)
    plan.retime(tech, timer)
    # A crew visit the replaced route held leaves its partner's visit alone: out too.
    lone = plan.drop_lone_crew_visits(problem.technicians, timer)
    log.info("restored the starting route of %s to keep its promises (crew visits left alone: %s)", tech.id, lone)


def relocate_late(
    problem: Problem, plan: Plan, timer: RouteTimer, until: float, keep: Collection[str] = frozenset()
) -> int:
    """Give to another technician each one-person visit of ``plan`` that starts after
    its preferred window (on a re-plan, the arrival its customer was told) where that
    costs less by the objective than keeping it: its route's cost with every visit's
    lateness, preferred technician and day counted, which the insertion's costs leave
    out (an early visit waits for its window later in the solve, so it is neither
    moved nor counted). Costliest visits first, a few rounds, until ``until``; the number
    of visits moved. A re-plan's first answer starts from the live schedule, whose
    routes may still time after a disruption although their customers would wait for
    hours; without this step only the search (which may get no time) moves them.

    Never moved: crew visits, start-fixed or pinned visits, depot stops, jobs in a
    dependency or of a job longer than a day, and order-locked visits (``keep``)."""
    if not any(j.preferred_window is not None for j in problem.jobs):
        return 0
    linked = {j.after.job_id for j in problem.jobs if j.after is not None}
    techs = {t.id: t for t in problem.technicians}
    moved = 0
    for _ in range(_RELOCATE_ROUNDS):
        outside = _late_visits(problem, plan, timer, linked | set(keep))
        if not outside:
            break
        before = moved
        for _cost, tech_id, job in outside:
            if time.monotonic() >= until:
                return moved
            if job not in plan.jobs[tech_id]:
                continue
            moved += _relocate_one(problem, plan, timer, techs[tech_id], job)
        if moved == before:
            break
    return moved


# Rounds of ``relocate_late``: a visit moved away lets the rest of its route
# start sooner, which may bring the next one back inside its window.
_RELOCATE_ROUNDS = 3


def _late_visits(problem: Problem, plan: Plan, timer: RouteTimer, kept: set[str]) -> list[tuple[int, str, Job]]:
    """(cost of starting late, technician id, job) of each visit that may move to
    another route (not among ``kept``) and starts after its preferred window, costliest first."""
    out: list[tuple[int, str, Job]] = []
    for tech in problem.technicians:
        starts = {v.job_id: v.start_s for v in plan.routes[tech.id].visits}
        for job, fixed in zip(plan.jobs[tech.id], plan.fixed[tech.id], strict=True):
            if fixed is not None or job.crew_size != 1 or job.id == RELOAD_ID or job.pinned_technician_id is not None:
                continue
            if job.after is not None or job.id in kept or job.part is not None or job.id not in starts:
                continue
            cost = _late_units(job, starts[job.id], timer)
            if cost > 0:
                out.append((cost, tech.id, job))
    out.sort(key=lambda o: (-o[0], o[2].id))
    return out


def _relocate_one(problem: Problem, plan: Plan, timer: RouteTimer, tech: Technician, job: Job) -> int:
    """Move ``job`` from ``tech``'s route to the cheapest place on another's when that
    lowers ``_told_cost`` of the two routes; 1 when moved, else 0 (nothing changed)."""
    seq, fixed = plan.jobs[tech.id], plan.fixed[tech.id]
    k = seq.index(job)
    here = _told_cost(tech, seq, fixed, timer)
    rest = _told_cost(tech, [*seq[:k], *seq[k + 1 :]], [*fixed[:k], *fixed[k + 1 :]], timer)
    if here is None or rest is None:
        return 0
    gain = here - rest
    best: tuple[int, Technician, int] | None = None
    for other in able(job, problem, timer):
        if other.id == tech.id or other.is_full(plan.jobs[other.id]):
            continue
        base = _told_cost(other, plan.jobs[other.id], plan.fixed[other.id], timer)
        if base is None:
            continue
        for pos, new_seq, _, timing in timings(other, job, plan.jobs[other.id], plan.fixed[other.id], timer):
            added = _timed_told_cost(other, new_seq, timing, timer) - base
            if added < gain and (best is None or added < best[0]):
                best = (added, other, pos)
    if best is None:
        return 0
    _, other, pos = best
    saved = plan.saved((tech.id, other.id))
    plan.remove(tech.id, job.id)
    plan.insert(other.id, pos, job)
    if plan.retime(tech, timer) and plan.retime(other, timer):
        log.info("gave %s to %s: it started after its preferred window on %s's route", job.id, other.id, tech.id)
        return 1
    plan.restore(saved)
    return 0


def _told_cost(tech: Technician, seq: Sequence[Job], fixed: Sequence[int | None], timer: RouteTimer) -> int | None:
    """Objective units of ``seq`` on ``tech``'s route with every visit timed at its
    earliest: the route's cost (``RouteTimer.route_cost``) plus, per visit, its cost
    for starting after its preferred window, for a preferred technician missed and
    for the days away from its preferred day; None when the route does not time."""
    timing = timer.timing(tech, seq, fixed_starts=fixed)
    return None if timing is None else _timed_told_cost(tech, seq, timing, timer)


def _late_units(job: Job, start_s: int, timer: RouteTimer) -> int:
    """What a visit to ``job`` starting at ``start_s`` costs for starting after its
    preferred window: one that starts before it waits for it later in the solve
    (``solver.waiting``), so an early start is not counted against a route."""
    window = job.preferred_window
    return 0 if window is None or start_s <= window.end_s else soft_window_units(job, start_s, timer.coeffs)


def _timed_told_cost(tech: Technician, seq: Sequence[Job], timing: Timing, timer: RouteTimer) -> int:
    c = timer.coeffs
    extra = 0
    for job, start in zip(seq, timing.starts_s, strict=True):
        extra += _late_units(job, start, timer) + c.day_cost(tech, job)
        if job.crew_size == 1 and not tech.prefers(job):
            extra += c.preference_miss
    return timer.route_cost(tech, seq, timing) + extra
