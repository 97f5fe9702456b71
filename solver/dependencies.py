"""Dependencies between jobs of one solve: a job waits for another to end, plus a lag.

A job's ``after`` (``solver.problem.Dependency``) names a job of the same problem.
The engine keeps it in three steps (docs/model.md, "Dependencies"):

1. ``tighten``, before the search: each dependent's windows are cut to what any
   plan allows (no earlier than the earliest its predecessor can end plus the
   minimum lag, no later than the latest it can end plus the maximum lag); a
   dependent with nothing left, or whose predecessor no plan can serve, is set
   aside with its reason. This is a necessary condition only: it helps every search
   but does not order the pair.
2. ``keep``, after the search and the repair: every dependent the plan serves
   before its predecessor's end plus the lag (or after the end plus the maximum
   lag, or without its predecessor) is taken out, until none is; each is then put
   back where it costs least with its windows cut to its predecessor's planned end
   (``cut``), and only where no dependency breaks.
3. ``explain``: why a dependent is left out (its predecessor is out; when it may
   start).

The checker verifies every dependency from scratch.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping

from solver.explain import explain_dropped
from solver.insertion import insert, options, place
from solver.plan import Plan
from solver.problem import MAX_TIME_S, RELOAD_ID, Dependency, Job, Problem, TimeWindow
from solver.schedule import RouteTimer
from solver.solution import ReasonCode, Unassigned
from solver.travel import PointIndex, TravelMatrices

log = logging.getLogger(__name__)


def _hhmm(t_s: int) -> str:
    days, rest = divmod(t_s, 24 * 3600)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}"
    return clock if days == 0 else f"{clock} (day {days:+d})"


def cut(job: Job, pred_end_s: int, dep: Dependency | None = None) -> Job | None:
    """``job`` with its start windows cut to what its dependency (``dep``, else
    ``job.after``) allows when the job it waits for ends at ``pred_end_s``, and no
    dependency left; None when no start time is left within the engine's horizon."""
    dep = dep if dep is not None else job.after
    if dep is None:
        return job
    windows = _within(job, dep.earliest_s(pred_end_s), dep.latest_s(pred_end_s))
    if not windows:
        return None
    return dataclasses.replace(job, windows=windows, after=None)


def _within(job: Job, lo: int, hi: int | None) -> tuple[TimeWindow, ...]:
    """``job``'s start windows cut to [lo, hi] (no upper limit but the horizon for None)."""
    lo = max(0, lo)
    hi = MAX_TIME_S if hi is None else min(hi, MAX_TIME_S)
    return tuple(
        TimeWindow(max(w.start_s, lo), min(w.end_s, hi))
        for w in job.start_windows()
        if max(w.start_s, lo) <= min(w.end_s, hi)
    )


def _predecessors_first(problem: Problem, job_ids: set[str] | list[str]) -> list[str]:
    """``job_ids`` ordered so that a job comes after the job it waits for."""
    after = {j.id: j.after.job_id for j in problem.jobs if j.after is not None}

    def depth(job_id: str) -> int:
        n, at = 0, after.get(job_id)
        while at is not None:
            n, at = n + 1, after.get(at)
        return n

    return sorted(set(job_ids), key=lambda i: (depth(i), i))


def tighten(
    problem: Problem, pre: Mapping[str, Unassigned], points: PointIndex, travel: TravelMatrices
) -> tuple[Problem, dict[str, Unassigned]]:
    """``problem`` with each dependent's windows cut to what any plan allows, and the
    dependents no plan can serve (their predecessor set aside in ``pre`` or here, or
    no start time left), with their reason. Unchanged without dependencies."""
    waiting = [j for j in problem.jobs if j.after is not None]
    if not waiting:
        return problem, {}
    jobs = {j.id: j for j in problem.jobs}
    techs = problem.technicians
    bounds: dict[str, tuple[int, int]] = {}

    def start_bounds(job: Job) -> tuple[int, int] | None:
        """The earliest and latest start any technician could give ``job`` (travel counted)."""
        windows = job.start_windows()
        if not windows or not techs:
            return None
        here = points.job[job.id]
        first = min(t.shift.start_s + int(travel.duration_s[points.tech_start[t.id], here]) for t in techs)
        last = max(t.latest_end_s - job.duration_s - int(travel.duration_s[here, points.tech_end[t.id]]) for t in techs)
        lo, hi = max(windows[0].start_s, first), min(windows[-1].end_s, last)
        return (lo, hi) if lo <= hi else None

    out: dict[str, Unassigned] = {}
    for job_id in _predecessors_first(problem, [j.id for j in waiting]):
        job = jobs[job_id]
        dep = job.after
        assert dep is not None
        pred = jobs[dep.job_id]
        if job_id in pre:
            continue
        if dep.job_id in pre or dep.job_id in out:
            why = pre[dep.job_id] if dep.job_id in pre else out[dep.job_id]
            out[job_id] = Unassigned(
                job_id,
                ReasonCode.DEPENDENCY_NOT_MET,
                f"Waits for job {dep.job_id}, which cannot be planned this day ({why.code.value}).",
            )
            continue
        if dep.job_id not in bounds:
            found = start_bounds(pred)
            if found is not None:
                bounds[dep.job_id] = found
        pred_bounds = bounds.get(dep.job_id)
        if pred_bounds is None:
            continue  # the predecessor cannot be placed anyway: the search and ``keep`` tell
        earliest_end, latest_end = pred_bounds[0] + pred.duration_s, pred_bounds[1] + pred.duration_s
        lo, latest = dep.earliest_s(earliest_end), dep.latest_s(latest_end)
        windows = _within(job, lo, latest)
        found = start_bounds(dataclasses.replace(job, windows=windows)) if windows else None
        if found is None:
            span = f"from {_hhmm(lo)}" + ("" if latest is None else f" to {_hhmm(latest)}")
            out[job_id] = Unassigned(
                job_id,
                ReasonCode.DEPENDENCY_NOT_MET,
                f"Waits for job {dep.job_id}: may start only {span} this day, which none of its windows "
                "or the technicians' shifts allow.",
            )
            continue
        jobs[job_id] = dataclasses.replace(job, windows=windows)
        bounds[job_id] = found
    tightened = dataclasses.replace(problem, jobs=tuple(jobs[j.id] for j in problem.jobs))
    return tightened, out


def planned_end(plan: Plan, job_id: str) -> int | None:
    """When ``job_id`` ends in ``plan`` (the latest end of its visits), None when it is out."""
    ends = [v.end_s for route in plan.routes.values() for v in route.visits if v.job_id == job_id]
    return max(ends) if ends else None


def broken(problem: Problem, plan: Plan) -> list[str]:
    """The dependents ``plan`` serves while breaking their dependency: before their
    predecessor's end plus the minimum lag, after its end plus the maximum lag, or
    without their predecessor."""
    starts: dict[str, list[int]] = {}
    ends: dict[str, list[int]] = {}
    for route in plan.routes.values():
        for v in route.visits:
            starts.setdefault(v.job_id, []).append(v.start_s)
            ends.setdefault(v.job_id, []).append(v.end_s)
    out = []
    for job in problem.jobs:
        dep = job.after
        if dep is None or job.id not in starts:
            continue
        pred = ends.get(dep.job_id)
        if pred is None or not all(dep.allows(s, e) for s in starts[job.id] for e in pred):
            out.append(job.id)
    return out


def take_out(problem: Problem, plan: Plan, timer: RouteTimer, job_id: str) -> None:
    """Take ``job_id`` off every route that holds it; a route that no longer times
    (rare: rounding, lunch) loses its last visits until it does."""
    holders = [t for t in problem.technicians if any(j.id == job_id for j in plan.jobs[t.id])]
    for tech in holders:
        plan.remove(tech.id, job_id)
    for tech in holders:
        while not plan.retime(tech, timer):
            victim = plan.jobs[tech.id][-1].id
            if victim == RELOAD_ID:
                plan.remove(tech.id, victim)
            else:
                take_out(problem, plan, timer, victim)


def keep(problem: Problem, plan: Plan, timer: RouteTimer, until: float) -> list[str]:
    """Make ``plan`` keep every dependency: dependents that break one are taken out
    (until none does), then put back, predecessors first, where they cost least with
    their windows cut to their predecessor's planned end, wherever that breaks no
    dependency (until ``until``, time.monotonic()). The ids taken out and not put
    back (jobs a route lost on the way included)."""
    before = plan.served()
    taken: list[str] = []
    while bad := broken(problem, plan):
        for job_id in bad:
            if job_id in plan.served():
                take_out(problem, plan, timer, job_id)
                taken.append(job_id)
    if taken:
        log.info("took out %d dependents that started before their predecessor's end plus lag", len(taken))
    jobs = {j.id: j for j in problem.jobs}
    lost = sorted(i for i in before - plan.served() if i != RELOAD_ID)
    stuck: list[tuple[Job, Job]] = []  # (dependent, its predecessor)
    for job_id in _predecessors_first(problem, lost):
        if time.monotonic() >= until:
            break
        job = jobs[job_id]
        if job.after is None:
            placed = _put_back(problem, plan, timer, job)
        else:
            placed = _put_back_after(problem, plan, timer, job, job.after.job_id)
            if not placed and job.after.job_id in plan.served():
                stuck.append((job, jobs[job.after.job_id]))
        if placed:
            log.info("put %s back where its dependency holds", job_id)
    # Moving a predecessor costs many insertions: only once every plain put-back is done.
    for job, pred in stuck:
        if time.monotonic() >= until:
            break
        if job.id not in plan.served():
            _moving_predecessor(problem, plan, timer, job, pred, until)
    return sorted(i for i in before - plan.served() if i != RELOAD_ID)


def _put_back_after(problem: Problem, plan: Plan, timer: RouteTimer, job: Job, pred_id: str) -> bool:
    """Insert ``job`` with its windows cut to its predecessor's planned end, the
    predecessor held at its start meanwhile (the route timer may otherwise move it
    when the dependent joins its route); the hold is let go where the plan then still
    keeps every dependency."""
    end = planned_end(plan, pred_id)
    narrowed = cut(job, end) if end is not None else None
    if narrowed is None:
        return False
    held = plan.saved(plan.jobs)
    for tech_id, route in plan.routes.items():
        for k, v in enumerate(route.visits):
            if v.job_id == pred_id and plan.fixed[tech_id][k] is None:
                plan.fixed[tech_id][k] = v.start_s
                plan.costs.pop(tech_id, None)
    if not _put_back(problem, plan, timer, narrowed):
        plan.restore(held)
        return False
    holding = plan.saved(plan.jobs)
    for tech_id, seq in plan.jobs.items():
        for k, j in enumerate(seq):
            if j.id == pred_id and j.crew_size == 1:
                plan.fixed[tech_id][k] = None
                plan.costs.pop(tech_id, None)
    let_go = [problem.technician(t) for t, seq in plan.jobs.items() if any(j.id == pred_id for j in seq)]
    if not all(plan.retime(t, timer) for t in let_go) or broken(problem, plan):
        plan.restore(holding)
    return True


_PREDECESSOR_OPTIONS = 40


def _moving_predecessor(problem: Problem, plan: Plan, timer: RouteTimer, job: Job, pred: Job, until: float) -> bool:
    """Put ``job`` back by moving ``pred``, the job it waits for, elsewhere first (to
    another place, day or technician: the search placed it knowing nothing of ``job``),
    trying the predecessor's cheapest places until ``job`` fits after it and no
    dependency breaks; True when both are in. A predecessor of a crew, a part of a
    longer job or with a fixed start stays; on failure the plan is as it was."""
    pred_id = pred.id
    if pred.crew_size != 1 or pred.part is not None:
        return False
    holders = [t for t, seq in plan.jobs.items() if any(j.id == pred_id for j in seq)]
    if len(holders) != 1:
        return False
    [holder] = holders
    if plan.fixed[holder][[j.id for j in plan.jobs[holder]].index(pred_id)] is not None:
        return False
    served = plan.served()
    saved = plan.saved(plan.jobs)
    take_out(problem, plan, timer, pred_id)
    if plan.served() != served - {pred_id}:  # its route lost more than it: leave it be
        plan.restore(saved)
        return False
    without = plan.saved(plan.jobs)
    found = sorted(options(pred, problem, timer, plan), key=lambda o: o[0])
    for _, tech, pos, _ in found[:_PREDECESSOR_OPTIONS]:
        if time.monotonic() >= until:
            break
        plan.restore(without)
        if not place(plan, timer, [(tech, pos)], pred, None) or broken(problem, plan):
            continue
        if _put_back_after(problem, plan, timer, job, pred_id):
            log.info("put %s back after moving %s to %s", job.id, pred_id, tech.id)
            return True
    plan.restore(saved)
    return False


def _put_back(problem: Problem, plan: Plan, timer: RouteTimer, job: Job) -> bool:
    """Insert ``job`` where it costs least, undone when that breaks a dependency."""
    saved = plan.saved(plan.jobs)
    if insert(job, problem, timer, plan) and not broken(problem, plan):
        return True
    plan.restore(saved)
    return False


def explain(job: Job, problem: Problem, plan: Plan, timer: RouteTimer, thorough: bool) -> Unassigned | None:
    """Why a dependent ``job`` is out of ``plan``: its predecessor is out, or no start
    time after the predecessor's planned end plus the lag is left, or (with that start
    time) why no route has room; None for a job without a dependency."""
    dep = job.after
    if dep is None:
        return None
    end = planned_end(plan, dep.job_id)
    if end is None:
        return Unassigned(
            job.id, ReasonCode.DEPENDENCY_NOT_MET, f"Waits for job {dep.job_id}, which this plan leaves out."
        )
    latest = dep.latest_s(end)
    span = f"from {_hhmm(dep.earliest_s(end))}" + ("" if latest is None else f" to {_hhmm(latest)}")
    narrowed = cut(job, end)
    if narrowed is None:
        return Unassigned(
            job.id,
            ReasonCode.DEPENDENCY_NOT_MET,
            f"Waits for job {dep.job_id} (ends {_hhmm(end)}): may start only {span}, outside its windows this day.",
        )
    inner = explain_dropped(narrowed, problem, timer, plan.jobs, plan.fixed, thorough)
    return Unassigned(job.id, inner.code, f"{inner.reason} It may start only {span}, after job {dep.job_id}.")
