"""The dispatcher's locks carried into a plan run (docs/replan.md, "Locks in later runs").

A visit locked by hand (``dispatch.edits``) keeps its technician (a pin on the job),
its order (its place relative to the other order-locked visits of its route) and/or
its time (the start it had). A later run gives the engine these as it knows them:
the pin as ``Job.pinned_technician_id``, the time as the job's only window (a start
fixed to the second), the order as ``SolveOptions.ordered``, which the engine restores
after its search wherever the route still times (``restore_order``).

A lock that cannot be kept is released and said so (``LockNotKept``): its technician
works no more, its time has passed or the technician can no longer reach it then, it
lies outside the job's windows now. ``not_kept`` lists what a finished solution
broke of the rest (an order the route could not be put back into, a locked job left out).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from solver.objective import coefficients
from solver.plan import Plan
from solver.problem import Job, Problem, TimeWindow
from solver.schedule import RouteTimer
from solver.solution import Solution
from solver.travel import HaversineProvider, TravelProvider, problem_travel

TECHNICIAN = "technician"
ORDER = "order"
TIME = "time"


@dataclass(frozen=True)
class VisitLock:
    """One locked visit as a plan version records it: the job on ``technician_id``'s
    route at place ``seq`` (from 1), starting at ``start_s``, with which of its
    technician, order and time are locked."""

    job_id: str
    technician_id: str
    technician: bool = False
    order: bool = False
    time: bool = False
    seq: int = 0
    start_s: int = 0


@dataclass(frozen=True)
class LockNotKept:
    """A lock (``lock``: ``technician``, ``order`` or ``time``) a run could not keep, and why."""

    job_id: str
    technician_id: str
    lock: str
    reason: str


@dataclass(frozen=True)
class Locked:
    """A problem with the locks it can keep in it (pins, fixed starts), the order to keep
    per technician (``ordered``: order-locked job ids in their locked order), and the
    locks released before solving (``released``)."""

    problem: Problem
    ordered: tuple[tuple[str, tuple[str, ...]], ...]
    released: tuple[LockNotKept, ...]


def _hhmm(t_s: int) -> str:
    return f"{t_s // 3600:02d}:{t_s % 3600 // 60:02d}"


def unpinned(problem: Problem, locks: Iterable[VisitLock]) -> Problem:
    """``problem`` without the pins its technician locks set, so that what is left of a
    day can be worked out before ``apply`` decides which of them still hold."""
    pinned = {(lock.job_id, lock.technician_id) for lock in locks if lock.technician}
    jobs = tuple(
        dataclasses.replace(j, pinned_technician_id=None) if (j.id, j.pinned_technician_id) in pinned else j
        for j in problem.jobs
    )
    return dataclasses.replace(problem, jobs=jobs)


def apply(
    problem: Problem,
    locks: Sequence[VisitLock],
    now_s: int | None = None,
    travel_provider: TravelProvider | None = None,
) -> Locked:
    """``problem`` with the ``locks`` of its jobs that can be kept (locks of jobs it does
    not plan, done or cancelled ones, are fulfilled and ignored).

    Technician: the job is pinned to the technician when they still work (may take
    a job) and can
    still reach it inside its windows, were it their only visit left (else released:
    planned by whoever suits, not left out for its pin). Time: the job may start only at the locked
    start, unless that start is before ``now_s``, outside the job's windows, or the
    technician can no longer reach their time-locked visits in order by then (checked
    with the route timer, earliest first; those released). Order: kept per technician
    among the order-locked visits (``Locked.ordered``)."""
    jobs = {j.id: j for j in problem.jobs}
    # A technician who may take no more jobs works no more (a re-plan keeps one who is off
    # for the rest of the day in it, with their settled visits and nothing to give).
    working = {t.id: t for t in problem.technicians if t.max_jobs != 0}
    mine = sorted((lock for lock in locks if lock.job_id in jobs), key=lambda lock: (lock.technician_id, lock.seq))
    released: list[LockNotKept] = []
    pins: dict[str, str] = {}
    for lock in mine:
        if not lock.technician or lock.job_id in pins:
            continue
        if lock.technician_id in working:
            pins[lock.job_id] = lock.technician_id
        elif not any(
            other.job_id == lock.job_id and other.technician and other.technician_id in working for other in mine
        ):
            released.append(
                LockNotKept(lock.job_id, lock.technician_id, TECHNICIAN, f"{lock.technician_id} works no more today")
            )
    fixed: dict[str, int] = {}
    for lock in mine:
        if not lock.time or lock.job_id in fixed:
            continue
        job = jobs[lock.job_id]
        if now_s is not None and lock.start_s < now_s:
            reason = f"its locked start {_hhmm(lock.start_s)} has passed"
        elif not job.start_allowed(lock.start_s):
            reason = f"its locked start {_hhmm(lock.start_s)} is outside its window now"
        else:
            fixed[lock.job_id] = lock.start_s
            continue
        released.append(LockNotKept(lock.job_id, lock.technician_id, TIME, reason))
    out = tuple(
        dataclasses.replace(
            j,
            pinned_technician_id=pins.get(j.id, j.pinned_technician_id),
            windows=(TimeWindow(fixed[j.id], fixed[j.id]),) if j.id in fixed else j.windows,
        )
        if j.id in pins or j.id in fixed
        else j
        for j in problem.jobs
    )
    locked = dataclasses.replace(problem, jobs=out)
    if fixed or pins:
        points, travel = problem_travel(locked, travel_provider or HaversineProvider())
        timer = RouteTimer(points, travel, coefficients(locked, travel), locked.lunch_on_site_min_s)
        timed = [lock for lock in mine if lock.job_id in fixed]
        locked, unreachable = _reachable(locked, timed, problem, timer)
        locked, unheld = _pins_reachable(locked, pins, problem, timer)
        released += unreachable + unheld
    ordered: dict[str, list[str]] = {}
    for lock in mine:
        if lock.order and lock.job_id not in ordered.get(lock.technician_id, []):
            ordered.setdefault(lock.technician_id, []).append(lock.job_id)
    groups = tuple((t, tuple(ids)) for t, ids in sorted(ordered.items()) if len(ids) > 1)
    return Locked(locked, groups, tuple(released))


def _reachable(
    locked: Problem, timed: Sequence[VisitLock], original: Problem, timer: RouteTimer
) -> tuple[Problem, list[LockNotKept]]:
    """``locked`` with the time locks a technician can no longer keep given back their
    windows (``original``'s): per technician, their time-locked visits in order of
    start, each kept when the route of those kept before it and it still times."""
    jobs = {j.id: j for j in locked.jobs}
    working = {t.id: t for t in locked.technicians}
    lost: list[LockNotKept] = []
    by_tech: dict[str, list[VisitLock]] = {}
    for lock in timed:
        by_tech.setdefault(lock.technician_id, []).append(lock)
    for tech_id, held in sorted(by_tech.items()):
        tech = working.get(tech_id)
        if tech is None:
            continue
        route: list[Job] = []
        for lock in sorted(held, key=lambda x: x.start_s):
            job = jobs[lock.job_id]
            if timer.timing(tech, [*route, job], fixed_starts=[None] * (len(route) + 1)) is not None:
                route.append(job)
                continue
            reason = f"{tech_id} can no longer be there at its locked start {_hhmm(lock.start_s)}"
            lost.append(LockNotKept(lock.job_id, tech_id, TIME, reason))
    if not lost:
        return locked, lost
    back = {x.job_id for x in lost}
    windows = {j.id: j.windows for j in original.jobs if j.id in back}
    out = tuple(dataclasses.replace(j, windows=windows[j.id]) if j.id in back else j for j in locked.jobs)
    return dataclasses.replace(locked, jobs=out), lost


def restore_order(
    problem: Problem, plan: Plan, timer: RouteTimer, ordered: Iterable[tuple[str, Sequence[str]]]
) -> None:
    """Put each technician's order-locked visits back into their locked order in
    ``plan`` (in the places they hold in the route), where the route still times."""
    techs = {t.id: t for t in problem.technicians}
    for tech_id, order in ordered:
        tech = techs.get(tech_id)
        if tech is None:
            continue
        seq, fixed = plan.jobs[tech_id], plan.fixed[tech_id]
        rank = {job_id: k for k, job_id in enumerate(order)}
        places = [k for k, j in enumerate(seq) if j.id in rank]
        wanted = sorted(places, key=lambda k: rank[seq[k].id])
        if places == wanted:
            continue
        saved = plan.saved((tech_id,))
        new_seq, new_fixed = list(seq), list(fixed)
        for place, source in zip(places, wanted, strict=True):
            new_seq[place], new_fixed[place] = seq[source], fixed[source]
        plan.jobs[tech_id], plan.fixed[tech_id] = new_seq, new_fixed
        plan.costs.pop(tech_id, None)
        if not plan.retime(tech, timer):
            plan.restore(saved)


def not_kept(solution: Solution, locked: Locked, locks: Sequence[VisitLock]) -> list[LockNotKept]:
    """What ``solution`` (planned for ``locked.problem``) breaks of the locks ``apply``
    kept: a locked job left out, a technician-locked job done by others (the second
    technician of a crew locked to two: a job holds one pin), a time-locked visit at
    another start, and an order lock whose visit left its route or could not be put
    back in order (the visits outside the longest run in locked order)."""
    problem = locked.problem
    jobs = {j.id for j in problem.jobs}
    released = {(x.job_id, x.lock) for x in locked.released}
    where: dict[str, list[tuple[str, int]]] = {}
    routes: dict[str, list[str]] = {}
    for route in solution.routes:
        routes[route.technician_id] = [v.job_id for v in route.visits]
        for visit in route.visits:
            where.setdefault(visit.job_id, []).append((route.technician_id, visit.start_s))
    reasons = {u.job_id: u.reason for u in solution.unassigned}
    out: list[LockNotKept] = []
    seen: set[tuple[str, str, str]] = set()
    for lock in locks:
        if lock.job_id not in jobs:
            continue
        for kind, held in ((TECHNICIAN, lock.technician), (TIME, lock.time)):
            # A crew's visits may each hold a technician lock: each is kept or not.
            key = (lock.job_id, kind, lock.technician_id if kind == TECHNICIAN else "")
            if not held or (lock.job_id, kind) in released or key in seen:
                continue
            seen.add(key)
            visits = where.get(lock.job_id)
            if not visits:
                reason = f"the job is left out: {reasons.get(lock.job_id, 'no place found')}"
                out.append(LockNotKept(lock.job_id, lock.technician_id, kind, reason))
            elif kind == TECHNICIAN and all(tech != lock.technician_id for tech, _ in visits):
                reason = f"it is done by {' and '.join(sorted(tech for tech, _ in visits))}"
                out.append(LockNotKept(lock.job_id, lock.technician_id, kind, reason))
            elif kind == TIME and any(start != lock.start_s for _, start in visits):
                reason = f"it starts at {_hhmm(visits[0][1])}, not at its locked {_hhmm(lock.start_s)}"
                out.append(LockNotKept(lock.job_id, lock.technician_id, kind, reason))
    for tech_id, order in locked.ordered:
        on_route = [i for i in routes.get(tech_id, []) if i in order]
        kept = set(_longest_in_order(on_route, order))
        for job_id in order:
            if job_id in kept:
                continue
            visits = where.get(job_id)
            if not visits:
                reason = f"the job is left out: {reasons.get(job_id, 'no place found')}"
            elif job_id not in on_route:
                reason = f"the visit went to {', '.join(sorted(t for t, _ in visits))}"
            else:
                reason = f"the route of {tech_id} does not time with its locked visits in their order"
            out.append(LockNotKept(job_id, tech_id, ORDER, reason))
    return out


def _longest_in_order(seen: Sequence[str], order: Sequence[str]) -> list[str]:
    """The longest subsequence of ``seen`` whose jobs come in ``order``'s order (of equally
    long ones, the one holding the visits locked first)."""
    rank = {job_id: k for k, job_id in enumerate(order)}

    def key(chain: list[str]) -> tuple[int, int]:
        return len(chain), -sum(rank[j] for j in chain)

    best: list[list[str]] = []
    for job_id in seen:
        chains = [c for c in best if rank[c[-1]] < rank[job_id]]
        best.append([*max(chains, key=key, default=[]), job_id])
    return max(best, key=key, default=[])


def _pins_reachable(
    locked: Problem, pins: Mapping[str, str], original: Problem, timer: RouteTimer
) -> tuple[Problem, list[LockNotKept]]:
    """``locked`` with each technician lock (``pins``: job id to technician id) whose
    technician could not reach the job inside its windows even as their only visit
    left (checked with the route timer) given back ``original``'s pin: kept, the lock
    would only leave the job out, and for a promise refuse the whole re-plan."""
    jobs = {j.id: j for j in locked.jobs}
    working = {t.id: t for t in locked.technicians}
    lost = [
        LockNotKept(job_id, tech_id, TECHNICIAN, f"{tech_id} can no longer reach it inside its window")
        for job_id, tech_id in sorted(pins.items())
        if jobs[job_id].crew_size == 1 and timer.timing(working[tech_id], [jobs[job_id]], fixed_starts=[None]) is None
    ]
    if not lost:
        return locked, lost
    back = {x.job_id: original.job(x.job_id).pinned_technician_id for x in lost}
    out = tuple(dataclasses.replace(j, pinned_technician_id=back[j.id]) if j.id in back else j for j in locked.jobs)
    return dataclasses.replace(locked, jobs=out), lost
