"""Insertion into a working plan: where one job fits, at what cost, with a crew's two
technicians at one start, after a depot stop, or once another job moves away.

Used by the construction and the repair step (on a ``Plan``) and by the slot
evaluator (``solver.slots``, on its own timed routes) alike: the positions
(``timings``, ``positions``), the room made by moving one job (``movable``), and
the pairs of a crew (``crew_pairs``) come from here. Every answer is timed by the
exact route timer.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from solver.plan import Plan
from solver.problem import RELOAD_ID, Job, Problem, Technician, TimeWindow
from solver.schedule import RouteTimer, Timing

log = logging.getLogger(__name__)
# Insertion tries at most this many technicians per job, the ones based nearest it.
NEAREST_TECHNICIANS = 25
# A crew is sought among this many cheapest single visits, and this many pairs tried.
_CREW_OPTIONS = 40
_CREW_PAIRS = 60
# A clearing for a promise is tried on at most this many routes (or pairs, for a crew).
_CLEARINGS_TRIED = 10

Option = tuple[int, Technician, int, int]
"""(added cost, technician, position, start) of one visit to a job."""
T = TypeVar("T")


def visit_windows(job: Job, fixed_start: int | None) -> list[TimeWindow]:
    """When a visit to ``job`` may start: its fixed start, or the job's start windows."""
    return [TimeWindow(fixed_start, fixed_start)] if fixed_start is not None else job.start_windows()


def timed_at(
    tech: Technician,
    job: Job,
    seq: Sequence[Job],
    fixed: Sequence[int | None],
    pos: int,
    timer: RouteTimer,
    start: int | None = None,
) -> tuple[list[Job], list[int | None], Timing] | None:
    """(new sequence, its fixed starts, timing) with ``job`` at ``pos`` of ``seq`` on
    ``tech``'s route (``start``: its fixed start); None where it does not fit."""
    new_seq, new_fixed = [*seq[:pos], job, *seq[pos:]], [*fixed[:pos], start, *fixed[pos:]]
    timing = timer.timing(tech, new_seq, fixed_starts=new_fixed)
    return None if timing is None else (new_seq, new_fixed, timing)


def timings(
    tech: Technician,
    job: Job,
    seq: Sequence[Job],
    fixed: Sequence[int | None],
    timer: RouteTimer,
    start: int | None = None,
) -> Iterator[tuple[int, list[Job], list[int | None], Timing]]:
    """(position, new sequence, its fixed starts, timing) for each place in ``seq``, in
    order, where ``job`` fits on ``tech``'s route (``start``: its fixed start)."""
    for pos in range(len(seq) + 1):
        fits = timed_at(tech, job, seq, fixed, pos, timer, start)
        if fits is not None:
            yield pos, *fits


def positions(
    tech: Technician, job: Job, seq: Sequence[Job], fixed: Sequence[int | None], timer: RouteTimer, base: int
) -> Iterator[tuple[int, int, int]]:
    """(added cost over ``base``, position, start) for each place in ``seq`` where
    ``job`` fits on ``tech``'s route."""
    for pos, new_seq, _, timing in timings(tech, job, seq, fixed, timer):
        yield timer.route_cost(tech, new_seq, timing) - base, pos, timing.starts_s[pos]


def movable(
    seq: Sequence[Job], fixed: Sequence[int | None], keep_pinned: bool = True
) -> Iterator[tuple[Job, list[Job], list[int | None]]]:
    """(job, the rest of the sequence, its fixed starts) for each job of ``seq`` that
    may move to another route: never a crew visit, a fixed start or a depot stop, and
    with ``keep_pinned`` never a job pinned to its technician."""
    for i, moved in enumerate(seq):
        if fixed[i] is not None or moved.crew_size != 1 or moved.id == RELOAD_ID:
            continue
        if keep_pinned and moved.pinned_technician_id is not None:
            continue
        yield moved, [*seq[:i], *seq[i + 1 :]], [*fixed[:i], *fixed[i + 1 :]]


def crew_pairs(candidates: Sequence[T], tech_id: Callable[[T], str], pinned: str | None = None) -> list[tuple[T, T]]:
    """The pairs of ``candidates`` (in their order) on two different technicians, one of
    them ``pinned`` when given."""
    return [
        (a, b)
        for a, b in itertools.combinations(candidates, 2)
        if tech_id(a) != tech_id(b) and pinned in (None, tech_id(a), tech_id(b))
    ]


def able(job: Job, problem: Problem, timer: RouteTimer) -> list[Technician]:
    """The technicians worth trying for ``job``: qualified, allowed by its pin, and on
    large days only the ones based nearest it."""
    out = [
        t
        for t in problem.technicians
        if t.has_skills(job.skills) and (job.crew_size == 2 or job.pinned_technician_id in (None, t.id))
    ]
    if any(t.day is not None for t in out):
        # A horizon: only the person-days whose shift meets one of the job's windows
        # (before the nearest are taken, or they would be one person's other days).
        windows = job.start_windows()
        out = [t for t in out if any(w.start_s <= t.latest_end_s and t.shift.start_s <= w.end_s for w in windows)]
    if len(out) > NEAREST_TECHNICIANS:
        here = timer.points.job[job.id]
        out.sort(key=lambda t: int(timer.distance[timer.points.tech_start[t.id], here]))
        out = out[:NEAREST_TECHNICIANS]
    return out


def options(job: Job, problem: Problem, timer: RouteTimer, plan: Plan) -> list[Option]:
    """Feasible (added cost, technician, position, start) for one visit to ``job``."""
    out: list[Option] = []
    for tech in able(job, problem, timer):
        current = plan.jobs[tech.id]
        if tech.is_full(current):
            continue
        base = plan.base_cost(tech, timer)
        if base is None:
            continue
        places = positions(tech, job, current, plan.fixed[tech.id], timer, base)
        away = timer.coeffs.day_cost(tech, job)  # 0 but in a horizon
        out.extend((cost + away, tech, pos, start) for cost, pos, start in places)
    return out


def place(plan: Plan, timer: RouteTimer, where: list[tuple[Technician, int]], job: Job, start: int | None) -> bool:
    """Insert ``job`` at these positions (all or nothing); True when every route still fits."""
    saved = plan.saved(t.id for t, _ in where)
    for tech, pos in where:
        plan.insert(tech.id, pos, job, start)
    if all(plan.retime(tech, timer) for tech, _ in where):
        log.info("repair placed %s on %s", job.id, ", ".join(t.id for t, _ in where))
        return True
    plan.restore(saved)
    return False


def insert(job: Job, problem: Problem, timer: RouteTimer, plan: Plan, sought: Mapping[str, int] | None = None) -> bool:
    """Put ``job`` where it costs least if the plan has room; True when placed. A crew
    job goes to the cheapest pair of technicians that can both start at one time,
    counting ``sought[t]`` more for each technician ``t`` it takes."""
    found = options(job, problem, timer, plan)
    if job.crew_size == 1:
        if not found:
            return False
        _, tech, pos, _ = min(found, key=lambda o: o[0])
        return place(plan, timer, [(tech, pos)], job, None)
    found.sort(key=lambda o: o[0])
    pairs = crew_pairs(found[:_CREW_OPTIONS], lambda o: o[1].id, job.pinned_technician_id)
    extra = sought or {}
    pairs.sort(key=lambda ab: ab[0][0] + ab[1][0] + extra.get(ab[0][1].id, 0) + extra.get(ab[1][1].id, 0))
    for a, b in pairs[:_CREW_PAIRS]:
        # Each start is one technician's cheapest, often as late as their route allows:
        # the later may be past what the other's route leaves, so the earlier is tried too.
        for start in dict.fromkeys((max(a[3], b[3]), min(a[3], b[3]))):
            if place(plan, timer, [(a[1], a[2]), (b[1], b[2])], job, start):
                return True
    return False


def insert_moving_one(job: Job, problem: Problem, timer: RouteTimer, plan: Plan, until: float) -> bool:
    """Place a one-person ``job`` that fits nowhere as it is by moving one other job of a
    qualified technician to another route, the pair of changes that costs least; True
    when placed. Crew, pinned and start-fixed jobs are never moved; nothing is lost.
    """
    if job.crew_size != 1:
        return False
    elsewhere: dict[str, list[Option]] = {}
    best: tuple[int, Technician, Job, int, Technician, int] | None = None
    for tech in able(job, problem, timer):
        base = plan.base_cost(tech, timer)
        if base is None:
            continue
        for moved, rest, rest_fixed in movable(plan.jobs[tech.id], plan.fixed[tech.id]):
            if time.monotonic() >= until:
                break
            here = min(positions(tech, job, rest, rest_fixed, timer, base), default=None)
            if here is None:
                continue
            if moved.id not in elsewhere:
                elsewhere[moved.id] = options(moved, problem, timer, plan)
            other_options = [o for o in elsewhere[moved.id] if o[1].id != tech.id]
            if not other_options:
                continue
            added, other, other_pos, _ = min(other_options, key=lambda o: o[0])
            if best is None or here[0] + added < best[0]:
                best = (here[0] + added, tech, moved, here[1], other, other_pos)
    if best is None:
        return False
    _, tech, moved, pos, other, other_pos = best
    saved = plan.saved((tech.id, other.id))
    plan.remove(tech.id, moved.id)
    plan.insert(tech.id, pos, job)
    plan.insert(other.id, other_pos, moved)
    if plan.retime(tech, timer) and plan.retime(other, timer):
        log.info("repair placed %s on %s by moving %s to %s", job.id, tech.id, moved.id, other.id)
        return True
    plan.restore(saved)
    return False


def insert_displacing(job: Job, problem: Problem, timer: RouteTimer, plan: Plan, until: float) -> Job | None:
    """Place a one-person ``job`` that fits nowhere as it is in the place of one less
    urgent job (a higher priority number) of a qualified technician, the one whose
    exchange costs least; the job taken out (now left out), or None when there is no
    such place. Crew, start-fixed jobs and depot stops are never taken out; a pinned
    job may be (its pin does not say it must be served)."""
    if job.crew_size != 1:
        return None
    best: tuple[int, Technician, Job, int] | None = None
    for tech in able(job, problem, timer):
        base = plan.base_cost(tech, timer)
        if base is None:
            continue
        for out, rest, rest_fixed in movable(plan.jobs[tech.id], plan.fixed[tech.id], keep_pinned=False):
            if time.monotonic() >= until:
                break
            if out.priority <= job.priority:
                continue
            here = min(positions(tech, job, rest, rest_fixed, timer, base), default=None)
            if here is None:
                continue
            # The least urgent job out first, then the cheapest exchange.
            if best is None or (-out.priority, here[0]) < (-best[2].priority, best[0]):
                best = (here[0], tech, out, here[1])
    if best is None:
        return None
    _, tech, out, pos = best
    saved = plan.saved((tech.id,))
    plan.remove(tech.id, out.id)
    plan.insert(tech.id, pos, job)
    if plan.retime(tech, timer):
        log.info("repair placed %s on %s in the place of %s", job.id, tech.id, out.id)
        return out
    plan.restore(saved)
    return None


def insert_displacing_crew(job: Job, problem: Problem, timer: RouteTimer, plan: Plan, until: float) -> Job | None:
    """Place a one-person ``job`` that fits nowhere as it is by taking a less urgent crew
    job off the routes of its two technicians, one of them qualified for ``job``: the
    least urgent such crew job whose going makes room. The crew job taken out (now left
    out: the caller may find the crew another pair), or None. A crew job fixed to an
    instant (a dispatcher's time lock) stays, and so does one pinned to a technician,
    except for a promise: a promise left out refuses the whole plan, so it outranks a
    pin (the pinned crew is placed again on its technician where it fits)."""
    if job.crew_size != 1:
        return None
    holders: dict[str, list[Technician]] = {}
    for tech in problem.technicians:
        for held in plan.jobs[tech.id]:
            if held.crew_size > 1:
                holders.setdefault(held.id, []).append(tech)
    crews: dict[str, Job] = {}
    for tech in able(job, problem, timer):
        for held in plan.jobs[tech.id]:
            fixed_to_an_instant = any(w.start_s == w.end_s for w in held.windows)
            less_urgent = held.crew_size > 1 and held.priority > job.priority
            movable = held.pinned_technician_id is None or job.priority == 0
            if less_urgent and movable and not fixed_to_an_instant:
                crews[held.id] = held
    for crew in sorted(crews.values(), key=lambda c: (-c.priority, c.id)):
        if time.monotonic() >= until:
            break
        techs = holders[crew.id]
        saved = plan.saved(t.id for t in techs)
        for tech in techs:
            plan.remove(tech.id, crew.id)
        if all(plan.retime(t, timer) for t in techs) and insert(job, problem, timer, plan):
            log.info("repair placed %s in the place of crew job %s", job.id, crew.id)
            return crew
        plan.restore(saved)
    return None


def insert_clearing(job: Job, problem: Problem, timer: RouteTimer, plan: Plan, until: float) -> list[Job] | None:
    """Place a ``job`` that fits nowhere, even in the place of one other job, by clearing
    a qualified technician's route (two for a crew, starting together) of every job
    that may move: ``job`` goes in, as many of those taken out as still fit go back in
    their order, and of the rest each as urgent as ``job`` must find a place on another
    route (else that clearing is not made). The clearing that leaves the fewest less
    urgent jobs out is made. The jobs left out (each less urgent than ``job``), or None
    when no clearing places it. What ``insert_displacing`` says never moves stays."""
    cleared: list[_Cleared] = []
    for tech in able(job, problem, timer):
        seq, fixed = plan.jobs[tech.id], plan.fixed[tech.id]
        taken = {m.id for m, _, _ in movable(seq, fixed, keep_pinned=False)}
        kept = [(j, f) for j, f in zip(seq, fixed, strict=True) if j.id not in taken]
        if tech.is_full([j for j, _ in kept]):
            continue  # what cannot move already fills their day
        cleared.append(_Cleared(tech, [j for j, _ in kept], [f for _, f in kept], [j for j in seq if j.id in taken]))
    options: list[list[tuple[_Cleared, list[Job], list[int | None]]]] = []
    if job.crew_size == 1:
        for c in cleared:
            if not c.taken:
                continue
            places = (
                (timer.route_cost(c.tech, seq, t), seq, f)
                for _, seq, f, t in timings(c.tech, job, c.rest, c.rest_fixed, timer)
            )
            cheapest = min(places, key=lambda p: p[0], default=None)
            if cheapest is not None:
                options.append([(c, cheapest[1], cheapest[2])])
    else:
        starts = {
            c.tech.id: [(p, t.starts_s[p]) for p, _, _, t in timings(c.tech, job, c.rest, c.rest_fixed, timer)]
            for c in cleared
        }
        for a, b in itertools.combinations(cleared, 2):
            if time.monotonic() >= until:
                break
            if not (a.taken or b.taken) or job.pinned_technician_id not in (None, a.tech.id, b.tech.id):
                continue
            pair = _crew_at(job, a, b, starts[a.tech.id], starts[b.tech.id], timer)
            if pair is not None:
                options.append(pair)
    made: list[tuple[tuple[int, int, int], list[tuple[Technician, list[Job], list[int | None]]], list[Job]]] = []
    for option in options:
        routes, out = [], []
        for c, seq, fixed in option:
            back, left = _put_back(c.tech, seq, fixed, c.taken, timer)
            routes.append((c.tech, *back))
            out += left
        urgent = sum(o.priority <= job.priority for o in out)
        # The fewest jobs to find another place for, the fewest then left out, the least urgent.
        made.append(((urgent, len(out), -sum(o.priority for o in out)), routes, out))
    made.sort(key=lambda m: m[0])
    for _, routes, out in made[:_CLEARINGS_TRIED]:
        if time.monotonic() >= until:
            break
        saved = plan.saved(t.id for t in problem.technicians)
        for tech, seq, fixed in routes:
            plan.jobs[tech.id], plan.fixed[tech.id] = list(seq), list(fixed)
        left = [o for o in out if o.priority > job.priority]
        if all(plan.retime(tech, timer) for tech, _, _ in routes) and all(
            _relocate(o, problem, timer, plan, until, left) for o in out if o.priority <= job.priority
        ):
            names = ", ".join(t.id for t, _, _ in routes)
            log.info(
                "repair placed %s on %s, leaving out %s", job.id, names, ", ".join(o.id for o in left) or "nothing"
            )
            return left
        plan.restore(saved)
    return None


def _relocate(job: Job, problem: Problem, timer: RouteTimer, plan: Plan, until: float, left: list[Job]) -> bool:
    """Find ``job`` a place in ``plan``, if need be in the place of a less urgent job
    (appended to ``left``); True when placed."""
    if insert(job, problem, timer, plan):
        return True
    out = insert_displacing(job, problem, timer, plan, until)
    if out is not None:
        left.append(out)
    return out is not None


@dataclass(frozen=True)
class _Cleared:
    """A technician's route without the jobs ``insert_clearing`` may take out (``taken``)."""

    tech: Technician
    rest: list[Job]
    rest_fixed: list[int | None]
    taken: list[Job]


def _crew_at(
    job: Job,
    a: _Cleared,
    b: _Cleared,
    starts_a: Sequence[tuple[int, int]],
    starts_b: Sequence[tuple[int, int]],
    timer: RouteTimer,
) -> list[tuple[_Cleared, list[Job], list[int | None]]] | None:
    """A crew ``job`` on the cleared routes ``a`` and ``b`` at one start (the earliest
    such of their places), or None."""
    tried = sorted((max(sa, sb), pa, pb) for pa, sa in starts_a for pb, sb in starts_b)
    for start, pa, pb in tried:
        at_a = timed_at(a.tech, job, a.rest, a.rest_fixed, pa, timer, start)
        at_b = None if at_a is None else timed_at(b.tech, job, b.rest, b.rest_fixed, pb, timer, start)
        if at_a is not None and at_b is not None:
            return [(a, at_a[0], at_a[1]), (b, at_b[0], at_b[1])]
    return None


def _put_back(
    tech: Technician, seq: list[Job], fixed: list[int | None], taken: Sequence[Job], timer: RouteTimer
) -> tuple[tuple[list[Job], list[int | None]], list[Job]]:
    """((the route, its fixed starts) with as many of ``taken`` put back, in their order,
    each at its cheapest place, as still fit; those that do not)."""
    seq, fixed, out = list(seq), list(fixed), []
    cost = timer.sequence_cost(tech, seq, fixed)
    for back in taken:
        full = tech.is_full(seq)
        spot = None if cost is None or full else min(positions(tech, back, seq, fixed, timer, cost), default=None)
        if spot is None or cost is None:
            out.append(back)
        else:
            seq.insert(spot[1], back)
            fixed.insert(spot[1], None)
            cost += spot[0]
    return (seq, fixed), out


def insert_via_depot(job: Job, problem: Problem, timer: RouteTimer, plan: Plan, until: float) -> bool:
    """Place a one-person ``job`` after a depot stop, where it costs least: after the stop
    a route already has, or with a new stop before it. For a job that needs a tool the
    depot lends or more stock than a technician carries. True when placed."""
    reload = problem.reload_job()
    if reload is None or job.crew_size != 1:
        return False
    best: tuple[int, Technician, int | None, int] | None = None
    for tech in problem.technicians:
        if time.monotonic() >= until:
            break
        if job.pinned_technician_id not in (None, tech.id) or not problem.qualified(tech, job):
            continue
        current, fixed = plan.jobs[tech.id], plan.fixed[tech.id]
        cut = next((k for k, j in enumerate(current) if j.id == RELOAD_ID), None)
        if tech.is_full(current):
            continue
        base = plan.base_cost(tech, timer)
        if base is None:
            continue
        # (where the stop goes, or None when it is there already; the route the job goes into)
        stops: list[tuple[int | None, list[Job], list[int | None]]] = [(None, current, fixed)]
        if cut is None:
            stops = [
                (p, [*current[:p], reload, *current[p:]], [*fixed[:p], None, *fixed[p:]])
                for p in range(len(current) + 1)
            ]
        for new_stop, seq, seq_fixed in stops:
            after = cut if new_stop is None else new_stop
            assert after is not None
            for cost, pos, _ in positions(tech, job, seq, seq_fixed, timer, base):
                if pos > after and (best is None or cost < best[0]):
                    best = (cost, tech, new_stop, pos)
    if best is None:
        return False
    _, tech, new_stop, pos = best
    saved = plan.saved((tech.id,))
    if new_stop is not None:
        plan.insert(tech.id, new_stop, reload)
    plan.insert(tech.id, pos, job)
    if plan.retime(tech, timer):
        log.info("repair placed %s on %s after a depot stop", job.id, tech.id)
        return True
    plan.restore(saved)
    return False
