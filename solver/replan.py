"""Re-planning from an instant: the day that is left, and what a re-plan changed
(docs/replan.md).

``remaining`` turns a day's ``Problem`` into the problem of what is left at
``now_s``: the visits done or under way are settled (taken out); each technician
starts where they are free again (the place and expected end of their visit
under way, or their last reported position) and never before ``now_s``; the lunch
left to take, the jobs left of ``max_jobs`` and any absence are carried over.
``Stability`` turns what technicians and customers were told into soft costs the
same engine weighs: a cost per visit given to another technician (the preferred
technician), per minute a customer's arrival moves and per customer told a new
time (a preferred window around the told arrival). Promises stay hard windows; nothing else changes.

``changes`` compares a new solution with what was told.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from solver import dependencies
from solver.problem import Break, Job, Location, Problem, Shift, Technician, TimeWindow
from solver.solution import Solution


@dataclass(frozen=True)
class Position:
    """Where a technician is free again, and when: after the visit under way (its
    place, its expected end) or at their last reported position; ``served``: the
    visits done or under way today (they count toward ``max_jobs``); ``used``: what
    those visits used up of each resource type the technician carries, since the
    depot stop when ``reloaded`` (a depot stop is among them: the technician holds
    what it lends and was topped up there)."""

    location: Location
    free_at_s: int
    served: int = 0
    used: Mapping[str, int] = field(default_factory=dict)
    reloaded: bool = False


@dataclass(frozen=True)
class Absence:
    """A technician not available from ``from_s`` until ``until_s`` (None: the rest of the day)."""

    from_s: int
    until_s: int | None = None

    def overlaps(self, start_s: int, end_s: int) -> bool:
        """True when the technician is away at some time in [start_s, end_s) (at
        ``start_s`` when the span is empty)."""
        return self.from_s < max(end_s, start_s + 1) and (self.until_s is None or self.until_s > start_s)

    def meets(self, other: Absence) -> bool:
        """True when the two absences overlap or touch."""
        end = self.until_s
        other_end = other.until_s
        return (end is None or other.from_s <= end) and (other_end is None or self.from_s <= other_end)


@dataclass(frozen=True)
class Told:
    """What a visit's technician and customer were told: who comes, arriving when;
    ``start_s``: when the work was to start, when later than that arrival (a crew starts
    together after the first of the two arrives)."""

    technician_id: str
    arrival_s: int
    start_s: int | None = None

    @staticmethod
    def joined(was: Told | None, technician_id: str, arrival_s: int, start_s: int | None = None) -> Told:
        """What was told once a visit of ``technician_id`` arriving at ``arrival_s`` is
        added to ``was`` (what the job's visits seen so far told): a crew's customer sees
        the first of the two arrive (as ``changes`` compares), kept with the first
        technician seen; ``start_s``, a crew's common start (None for one technician)."""
        if was is None:
            return Told(technician_id, arrival_s, start_s)
        return Told(was.technician_id, min(was.arrival_s, arrival_s), start_s)


V = TypeVar("V")


def first_to_arrive(visits: Iterable[V], job_of: Callable[[V], str], arrival_of: Callable[[V], Any]) -> dict[str, V]:
    """Per job, the visit its customer sees arrive: of a crew's two, the one arriving
    first (the earlier of equal ones as given). ``arrival_of`` orders visits; a visit
    without a known arrival should map to a value after every real one."""
    out: dict[str, V] = {}
    for v in visits:
        job_id = job_of(v)
        if job_id not in out or arrival_of(v) < arrival_of(out[job_id]):
            out[job_id] = v
    return out


@dataclass(frozen=True)
class Stability:
    """How much a re-plan may change what people were told, as costs in cents: per
    visit given to another technician, per minute a customer's arrival moves
    beyond ``tolerance_min`` either way, and per customer whose arrival moves beyond
    it at all (who is told a new time; docs/replan.md, "A cost per customer told")."""

    move_cents: int = 3000
    per_min_cents: int = 50
    tolerance_min: int = 15
    told_cents: int = 1500


def remaining(
    problem: Problem,
    now_s: int,
    *,
    positions: Mapping[str, Position] | None = None,
    settled: set[str] | frozenset[str] = frozenset(),
    absences: Mapping[str, Sequence[Absence]] | None = None,
    told: Mapping[str, Told] | None = None,
    stability: Stability | None = None,
    settled_ends: Mapping[str, int] | None = None,
    lunch_taken: Mapping[str, int] | None = None,
) -> Problem:
    """The problem of what is left of ``problem``'s day at ``now_s``.

    Jobs in ``settled`` (done or under way) are out, and so are jobs pinned to a
    technician who works no more (the caller explains them). A technician starts at their
    ``positions`` entry (else where the day starts) when free and not before
    ``now_s``, still ends the day where it ends, is on the clock from when they were
    free again (``Technician.on_clock_from_s``: waiting where they are counts, and with
    nothing left to do they still drive home), and carries what is left of its
    stock (and the depot's tools once ``reloaded``; the problem does not rule out a
    second depot stop for them, which the whole day's checker refuses); a
    technician with no time left, or absent for the rest of the day, works no more
    (jobs pinned to them are then unplannable: the caller explains) and is kept in
    ``Problem.off_duty``, so that a job only they could do says so.
    With ``stability`` every job in ``told`` prefers its told technician (costing
    ``move_cents`` when given to another) and a window of ``tolerance_min`` around
    its told arrival (each minute outside costs ``per_min_cents``, and being outside
    at all ``told_cents``); a customer's own
    preferred window gives way to the told arrival, which is newer.
    A job that waits for a settled job (``Job.after``) has its windows cut to that
    job's end (``settled_ends``: actual, or expected while under way) plus the lag;
    one that waits for a job taken out otherwise, or for a settled job without a
    known end, or with no start time left, is out too (the caller explains).
    A technician in ``lunch_taken`` has had their lunch (or is having it until then,
    see ``lunch_taken_until``): none is left to plan, and they start no earlier."""
    positions = positions or {}
    absences = absences or {}
    told = told or {}
    taken = lunch_taken or {}
    technicians = []
    off_duty = list(problem.off_duty)
    for tech in problem.technicians:
        left = _left_of(problem, tech, now_s, positions.get(tech.id), absences.get(tech.id, ()), taken.get(tech.id))
        if left is not None:
            technicians.append(left)
        else:
            off_duty.append(tech)
    working = {t.id for t in technicians}
    jobs = []
    for job in problem.jobs:
        if job.id in settled or (job.pinned_technician_id is not None and job.pinned_technician_id not in working):
            continue
        jobs.append(_kept(job, working, told.get(job.id), stability))
    jobs = _waiting_kept(jobs, settled_ends or {})
    weights = problem.weights
    if stability is not None:
        weights = dataclasses.replace(weights, preferred_technician_miss_cents=stability.move_cents)
    return dataclasses.replace(
        problem, technicians=tuple(technicians), jobs=tuple(jobs), weights=weights, off_duty=tuple(off_duty)
    )


def _waiting_kept(jobs: list[Job], settled_ends: Mapping[str, int]) -> list[Job]:
    """``jobs`` with each dependency on a job no longer among them settled: cut to its
    end plus the lag where that end is known (``settled_ends``) and a start is left,
    else the dependent is out (and so, in turn, those that wait for it)."""
    by_id = {j.id: j for j in jobs}
    changed = True
    while changed:
        changed = False
        for job_id, job in list(by_id.items()):
            dep = job.after
            if dep is None or dep.job_id in by_id:
                continue
            changed = True
            end = settled_ends.get(dep.job_id)
            narrowed = dependencies.cut(job, end) if end is not None else None
            if narrowed is None:
                del by_id[job_id]
            else:
                by_id[job_id] = narrowed
    return [by_id[j.id] for j in jobs if j.id in by_id]


def lunch_taken_until(
    planned: tuple[int, int] | None, settled_planned_end_s: int | None, free_at_s: int, now_s: int
) -> int | None:
    """When a technician's lunch is over, if they have had it (or are having it) at
    ``now_s``; None when it is still to take. ``planned``: the lunch (start, end) of the
    plan they follow; ``settled_planned_end_s``: the planned end of their last visit done
    or under way (None: none); ``free_at_s``: when they are free again after it (or their
    shift start). Nobody reports lunches, so the plan says: a lunch planned before the end
    of the settled visits (before one, or inside a long one, whose expected end holds it)
    was taken; a lunch whose time came while the technician was free is taken from then
    for its length (``free_at_s`` is then at or before its planned start)."""
    if planned is None:
        return None
    start, end = planned
    if settled_planned_end_s is not None and start < settled_planned_end_s:
        return min(end, free_at_s)
    began = max(free_at_s, start)
    if began < now_s:
        return began + (end - start)
    return None


def with_absence(tech: Technician, absence: Absence) -> Technician | None:
    """``tech``'s whole day with ``absence`` taken out as a re-plan takes it (from its
    start: later; to the end of the day: ended at ``from_s`` without overtime; a few
    hours inside: one fixed pause holding the lunch), or None when no working time is
    left. A re-plan of that day given the same absence again leaves it as it is."""
    return _left_of(None, tech, tech.shift.start_s, None, (absence,))


def _left_of(
    problem: Problem | None,
    tech: Technician,
    now_s: int,
    position: Position | None,
    absences: Sequence[Absence],
    lunch_over_s: int | None = None,
) -> Technician | None:
    """The technician for the rest of the day, or None when they work no more (each of
    ``absences`` taken out in turn: give them by start)."""
    start_s = max(tech.shift.start_s, now_s, position.free_at_s if position is not None else 0)
    # Out in the field: on the clock since they were free again (an absence is not).
    on_clock = max(tech.shift.start_s, position.free_at_s) if position is not None else None
    end_s = tech.shift.end_s
    overtime = tech.max_overtime_s
    lunch = tech.shift.lunch
    if lunch_over_s is not None:
        if lunch is None or lunch.on_site:  # an absence's pause is away time, had or not
            lunch = None
        start_s = max(start_s, lunch_over_s)
    lunch, start_s, on_clock = _after_away(lunch, start_s, on_clock)
    for absence in absences:
        until = absence.until_s
        if absence.from_s <= start_s:
            if until is None or until >= end_s + overtime:
                return None
            if until > start_s and on_clock is not None:
                on_clock = until
            start_s = max(start_s, until)
            lunch, start_s, on_clock = _after_away(lunch, start_s, on_clock)
        elif absence.from_s >= end_s:
            overtime = min(overtime, absence.from_s - end_s)  # gone during the overtime: only what is before
        elif until is None or until >= end_s:
            end_s, overtime = absence.from_s, 0  # gone from then on: no overtime either
            lunch, end_s = _before_end(lunch, end_s)
        else:
            # Away for a few hours inside the shift: a fixed pause, as the lunch is.
            # The lunch, if still to take, is taken within that pause (its longer length).
            begin, back = absence.from_s, until
            if lunch is not None and lunch.on_site:
                back = max(back, begin + lunch.duration_s)
            elif lunch is not None:
                # Away at another time of the shift too (a stored absence still to come):
                # the engine holds one pause a day, so it spans both; never worked while away.
                begin = min(begin, lunch.earliest_s)
                back = max(back, lunch.earliest_s + lunch.duration_s)
            lunch = Break(begin, begin, back - begin, on_site=False)
    if lunch is not None and lunch.on_site and lunch is tech.shift.lunch:
        if start_s > lunch.latest_s:
            lunch = None  # its time has passed: taken, or skipped by the day as it went
        elif start_s > lunch.earliest_s:
            lunch = dataclasses.replace(lunch, earliest_s=start_s)
    if start_s >= end_s + overtime:
        return None
    if start_s >= end_s:  # past the shift end, inside the overtime allowed
        overtime, end_s = end_s + overtime - start_s - 1, start_s + 1
    if lunch is not None and not start_s <= lunch.earliest_s <= end_s + overtime:
        lunch = None
    max_jobs = tech.max_jobs
    if max_jobs is not None and position is not None:
        max_jobs = max(0, max_jobs - position.served)
    skills, capacity = tech.skills, tech.capacity
    if position is not None and (position.used or position.reloaded):
        assert problem is not None  # a position comes with the problem it is of
        reloaded = position.reloaded and problem.depot is not None
        if reloaded:
            skills = problem.skills_after_reload(tech)
        carried = (problem.capacity_after_reload() if reloaded else problem.capacity_limits())[tech.id]
        capacity = {kind: max(0, amount - position.used.get(kind, 0)) for kind, amount in carried.items()}
    return dataclasses.replace(
        tech,
        start=position.location if position is not None else tech.start,
        end=tech.end_location if position is not None else tech.end,
        shift=Shift(start_s, end_s, lunch),
        max_overtime_s=overtime,
        max_jobs=max_jobs,
        skills=skills,
        capacity=capacity,
        on_clock_from_s=None if on_clock is None else min(on_clock, start_s),
    )


def _after_away(lunch: Break | None, start_s: int, on_clock: int | None) -> tuple[Break | None, int, int | None]:
    """``lunch``, ``start_s`` and ``on_clock`` past an absence's pause (``Break.on_site``
    False) begun by ``start_s``: away until its end, so the day goes on from then (off
    the clock) and the pause, with the lunch held in it, is over."""
    if lunch is None or lunch.on_site or lunch.earliest_s >= start_s:
        return lunch, start_s, on_clock
    back = lunch.earliest_s + lunch.duration_s
    if back > start_s and on_clock is not None:
        on_clock = back
    return None, max(start_s, back), on_clock


def _before_end(lunch: Break | None, end_s: int) -> tuple[Break | None, int]:
    """``lunch`` and ``end_s`` for a day that now ends at ``end_s``: an absence's pause
    reaching it ends the day at its start; a lunch that no longer fits before it is
    dropped or has its window cut to end by then (as ``dispatch.worktime.honour``)."""
    if lunch is None:
        return None, end_s
    d = lunch.duration_s
    if not lunch.on_site:
        return (None, min(end_s, lunch.earliest_s)) if lunch.earliest_s + d >= end_s else (lunch, end_s)
    if lunch.earliest_s + d > end_s:
        return None, end_s
    if lunch.latest_s + d > end_s:
        return dataclasses.replace(lunch, latest_s=end_s - d), end_s
    return lunch, end_s


def _kept(job: Job, working: set[str], told: Told | None, stability: Stability | None) -> Job:
    """A job still to do, with what it was told as soft preferences."""
    preferred = job.preferred_technician_id if job.preferred_technician_id in working else None
    if told is None or stability is None:
        return dataclasses.replace(job, preferred_technician_id=preferred)
    tolerance = stability.tolerance_min * 60
    # The window is of the visit's start: from the told arrival to the told start, if later.
    start_s = max(told.arrival_s, told.start_s if told.start_s is not None else told.arrival_s)
    return dataclasses.replace(
        job,
        preferred_technician_id=told.technician_id if told.technician_id in working else preferred,
        preferred_window=TimeWindow(max(0, told.arrival_s - tolerance), start_s + tolerance),
        soft_penalty_per_min_cents=max(job.soft_penalty_per_min_cents, stability.per_min_cents),
        soft_penalty_cents=max(job.soft_penalty_cents, stability.told_cents),
    )


@dataclass(frozen=True)
class Moved:
    """A visit given to another technician."""

    job_id: str
    from_technician_id: str
    to_technician_id: str


@dataclass(frozen=True)
class Retimed:
    """A visit whose arrival moved by more than the notification threshold (``tells``)."""

    job_id: str
    old_arrival_s: int
    new_arrival_s: int


@dataclass(frozen=True)
class Added:
    """A visit nobody was told of (a job new to the day, one left out before, or the
    revisit of a failed visit): who arrives first and when (for a crew, the first of the two)."""

    job_id: str
    technician_id: str
    arrival_s: int


@dataclass(frozen=True)
class Changes:
    """What a re-plan changed against what was told: visits moved between
    technicians, customers whose arrival moved by more than ``notify_min`` (they are
    told), visits left out that were planned, visits planned that nobody was told of,
    and technicians whose route changed."""

    moved: tuple[Moved, ...]
    retimed: tuple[Retimed, ...]
    dropped: tuple[str, ...]
    routes_changed: tuple[str, ...]
    added: tuple[Added, ...]

    @property
    def notify(self) -> tuple[str, ...]:
        """The jobs whose customer is told: moved in time beyond the threshold, or dropped."""
        return tuple(sorted({r.job_id for r in self.retimed} | set(self.dropped)))


def tells(moved_s: float, notify_min: int) -> bool:
    """Whether a customer whose arrival moved by ``moved_s`` seconds (either way) is
    told the new one: it moved more than ``notify_min`` minutes. The re-plan's change
    report, the publication and the ETA watcher all apply this one rule; a re-plan's
    ``Stability.tolerance_min`` costs nothing up to the same bound."""
    return abs(moved_s) > notify_min * 60


def changes(
    told: Mapping[str, Told],
    told_routes: Mapping[str, tuple[str, ...]],
    solution: Solution,
    notify_min: int,
) -> Changes:
    """``solution`` against what was told (``told`` per job; ``told_routes``: each
    technician's jobs still to do in the told order).

    A crew job (two visits) is moved once per technician of its new crew who was not in
    the told one (each from one who is no longer in it); its customer's arrival is the
    first of the crew to arrive (``told`` holds the same for it)."""
    new: dict[str, dict[str, int]] = {}
    new_routes: dict[str, tuple[str, ...]] = {}
    for route in solution.routes:
        new_routes[route.technician_id] = tuple(v.job_id for v in route.visits)
        for visit in route.visits:
            new.setdefault(visit.job_id, {})[route.technician_id] = visit.arrival_s
    was_with: dict[str, set[str]] = {}
    for tech_id, job_ids in told_routes.items():
        for job_id in job_ids:
            was_with.setdefault(job_id, set()).add(tech_id)
    moved, retimed, dropped = [], [], []
    for job_id, was in sorted(told.items()):
        now = new.get(job_id)
        if now is None:
            dropped.append(job_id)
            continue
        before = was_with.get(job_id, set()) | {was.technician_id}
        came = sorted(set(now) - before)
        gone = sorted(before - set(now)) or [was.technician_id]
        # A crew given two new technicians moves twice: each one who left, to one who came.
        moved += [Moved(job_id, gone[min(k, len(gone) - 1)], to) for k, to in enumerate(came)]
        arrival = min(now.values())
        if tells(arrival - was.arrival_s, notify_min):
            retimed.append(Retimed(job_id, was.arrival_s, arrival))
    added = []
    for job_id, arrivals in sorted(new.items()):
        if job_id not in told:
            first = min(arrivals, key=lambda t: (arrivals[t], t))
            added.append(Added(job_id, first, arrivals[first]))
    techs = sorted(set(told_routes) | set(new_routes))
    changed = tuple(t for t in techs if told_routes.get(t, ()) != new_routes.get(t, ()))
    return Changes(tuple(moved), tuple(retimed), tuple(dropped), changed, tuple(added))
