"""Timing of a fixed visit sequence: the cheapest feasible times for one route.

Given a technician and the jobs in visiting order, find departure, visit
starts, lunch and return that keep every hard constraint and cost least
(door-to-door span at the hourly rate, plus overtime; for a technician already
out, from ``on_clock_from_s`` to the return, and the way home with no jobs).
Used to explain unassigned jobs, to evaluate insertions and by the
planning-by-hand baseline. It is independent of the OR-Tools model.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from solver.objective import Coefficients
from solver.problem import RELOAD_ID, Job, Technician, TimeWindow, return_limits
from solver.solution import BreakTaken, Route, Visit
from solver.travel import PointIndex, TravelMatrices

NEVER_S = 1 << 62  # a visit length no visit reaches

NEVER = -(10**12)


def earliest_in(windows: Sequence[TimeWindow], t_s: int) -> int | None:
    """The earliest time ≥ ``t_s`` inside one of the (sorted) windows."""
    for w in windows:
        if w.end_s >= t_s:
            return max(t_s, w.start_s)
    return None


def latest_in(windows: Sequence[TimeWindow], t_s: int) -> int | None:
    """The latest time ≤ ``t_s`` inside one of the (sorted) windows."""
    for w in reversed(windows):
        if w.start_s <= t_s:
            return min(t_s, w.end_s)
    return None


def told_arrival(reached_s: int, start_s: int) -> int:
    """The arrival a visit shows, to its installer and its customer (a plan's
    ``arrival``, the ETA of the live day), for a technician who can be there at
    ``reached_s`` and is to start the work at ``start_s``: the start. Waiting for it (a
    window, a crew partner, a release, a lunch before the work) is spent before setting
    out, never on the customer's doorstep; a technician who cannot be there by the
    start (a late one) arrives when they get there.

    The one rule of an arrival: plans apply it (``RouteTimer.route``,
    ``solver.plan.route_from_raw``, ``solver.edit``), and so does the live day to the
    plans it reads (``dispatch.eta``), so the ETA a customer is told lies in the window
    the start was planned in (docs/live-day.md, "Estimated arrival")."""
    return max(reached_s, start_s)


def arrival_time(
    prev_end_s: int,
    travel_s: int,
    lunch: BreakTaken | None,
    next_start_s: int,
    lunch_from_s: int | None = None,
    on_site: bool = True,
) -> int:
    """When the technician can be at the next stop at the earliest (the plan's arrival
    is ``told_arrival`` of it), given a lunch that may lie in between.

    ``lunch_from_s`` is when a lunch could begin in this gap (the previous end,
    or its start for a visit long enough to hold the lunch). A lunch that starts
    before the drive would be over delays the arrival; one that starts later is
    taken on site before work begins. A pause that is time away (``on_site`` False:
    ``Break.on_site``) is never spent at the customer's: they arrive once it is over.
    """
    arrival = prev_end_s + travel_s
    lunch_from = prev_end_s if lunch_from_s is None else lunch_from_s
    if lunch is not None and lunch_from <= lunch.start_s and lunch.end_s <= next_start_s:
        if lunch.start_s < arrival:
            arrival += lunch.duration_s
        elif not on_site:
            arrival = max(arrival, lunch.end_s)
    return min(arrival, next_start_s)


@dataclass(frozen=True)
class Timing:
    """Feasible times for a sequence, and what they cost in objective units."""

    depart_s: int
    starts_s: tuple[int, ...]
    return_s: int
    lunch_start_s: int | None
    cost_units: int


class RouteTimer:
    """Evaluates visit sequences of one day (shared matrices and coefficients)."""

    def __init__(
        self,
        points: PointIndex,
        travel: TravelMatrices,
        coeffs: Coefficients,
        lunch_on_site_min_s: int,
        reserve_lunch: bool = False,
    ) -> None:
        # With reserve_lunch no lunch is placed; each day ends earlier by the lunch instead
        # (the relaxation the OR-Tools model uses on large days).
        self.reserve_lunch = reserve_lunch
        self.lunch_on_site_min_s = lunch_on_site_min_s
        self.points = points
        self.duration = travel.duration_s
        self.distance = travel.distance_m
        self.coeffs = coeffs

    def timing(
        self,
        tech: Technician,
        jobs: Sequence[Job],
        latest_end_s: int | None = None,
        fixed_starts: Sequence[int | None] | None = None,
    ) -> Timing | None:
        """The cheapest feasible timing of ``jobs`` in this order, or None.

        ``latest_end_s`` overrides the hard return limit (shift end plus
        overtime); ``fixed_starts`` pins the start of some visits (crews).
        None as well when the jobs together demand more of a resource type
        than the technician carries. A technician already out (``Technician.out``) is
        on the clock from ``on_clock_from_s`` whenever they leave, and with no jobs
        drives home at once, however late that gets them back.
        """
        if not jobs:
            if not tech.out:
                return Timing(tech.shift.start_s, (), tech.shift.start_s, None, 0)
            leg = int(self.duration[self.points.tech_start[tech.id], self.points.tech_end[tech.id]])
            home = tech.shift.start_s + leg
            cost = (home - tech.shift.start_s) * self.coeffs.per_s[tech.id]
            cost += max(0, home - tech.shift.end_s) * self.coeffs.overtime_per_s[tech.id]
            return Timing(tech.shift.start_s, (), home, None, cost)
        if not self.fits_capacity(tech, jobs):
            return None
        limit = tech.latest_end_s if latest_end_s is None else latest_end_s
        lunch = tech.shift.lunch
        if self.reserve_lunch and lunch is not None:
            limit -= lunch.duration_s
            lunch = None
        # After a promise that ends in time the way home may run late.
        visit_limit, limit = (
            return_limits(limit, jobs[-1], self.coeffs.promise_late_home_s) if latest_end_s is None else (limit, limit)
        )
        nodes = [self.points.tech_start[tech.id]] + [self.points.job[j.id] for j in jobs]
        nodes.append(self.points.tech_end[tech.id])
        legs = [int(self.duration[a, b]) for a, b in itertools.pairwise(nodes)]
        windows = []
        for k, job in enumerate(jobs):
            w = job.start_windows()
            if fixed_starts is not None and fixed_starts[k] is not None:
                t = fixed_starts[k]
                w = [TimeWindow(t, t)] if job.start_allowed(t) else []  # type: ignore[arg-type]
            windows.append(w)
        gaps: list[int | None] = [None] if lunch is None else list(range(-1, len(jobs) + 2))
        best: tuple[int, Timing] | None = None
        for gap in gaps:
            timing = self._timing_with_lunch_in(tech, jobs, legs, windows, (visit_limit, limit), gap)
            if timing is None:
                continue
            # Where the lunch goes decides when the visits after it start: an unpaid lunch
            # before leaving is no saving when customers then wait past their preferred
            # (on a re-plan: told) hours. (A visit early for them waits later: ``solver.waiting``.)
            cost = timing.cost_units if lunch is None else timing.cost_units + self._late_units(jobs, timing.starts_s)
            if best is None or cost < best[0]:
                best = (cost, timing)
        return None if best is None else best[1]

    def _late_units(self, jobs: Sequence[Job], starts_s: Sequence[int]) -> int:
        """What the visits to ``jobs`` starting at ``starts_s`` cost for starting after
        their preferred window (the objective's soft-window terms, late side only)."""
        units = 0
        for job, start in zip(jobs, starts_s, strict=True):
            window = job.preferred_window
            if window is not None and start > window.end_s:
                units += (start - window.end_s) * self.coeffs.soft_per_s[job.id] + self.coeffs.soft_step.get(job.id, 0)
        return units

    def holds_pause_from_s(self, tech: Technician) -> int:
        """How long a visit must be to hold ``tech``'s pause on site: the lunch's
        ``lunch_on_site_min_s``, never for an absence (``Break.on_site`` False)."""
        lunch = tech.shift.lunch
        return self.lunch_on_site_min_s if lunch is None or lunch.on_site else NEVER_S

    def fits_capacity(self, tech: Technician, jobs: Sequence[Job]) -> bool:
        """True when the summed demand of ``jobs`` stays within ``tech``'s capacity
        for every constrained resource type: up to a depot stop (``RELOAD_ID``) within
        what they set out with, after it within what the depot tops them up to."""
        limits = self.coeffs.capacity.get(tech.id)
        if not limits:
            return True
        cut = next((k for k, j in enumerate(jobs) if j.id == RELOAD_ID), None)
        if cut is None:
            return all(sum(j.demand.get(kind, 0) for j in jobs) <= cap for kind, cap in limits.items())
        after = self.coeffs.capacity_after_reload.get(tech.id, limits)
        return all(
            sum(j.demand.get(kind, 0) for j in jobs[:cut]) <= cap
            and sum(j.demand.get(kind, 0) for j in jobs[cut + 1 :]) <= after.get(kind, cap)
            for kind, cap in limits.items()
        )

    def _timing_with_lunch_in(
        self,
        tech: Technician,
        jobs: Sequence[Job],
        legs: list[int],
        windows: list[list[TimeWindow]],
        limits: tuple[int, int],
        gap: int | None,
    ) -> Timing | None:
        """Gap -1: lunch before leaving; k in 0..m: after event k (0 = departure);
        m+1: after returning. None: no lunch to place. ``limits``: by when the last
        visit must end and by when the technician must be back."""
        visit_limit, limit = limits
        lunch = tech.shift.lunch if gap is not None else None
        m = len(jobs)
        d = lunch.duration_s if lunch is not None else 0
        b_lo = lunch.earliest_s if lunch is not None else 0
        b_hi = lunch.latest_s if lunch is not None else 0
        hold_s = self.holds_pause_from_s(tech)

        def forward(depart: int) -> tuple[list[int], int, int | None] | None:
            starts: list[int] = []
            end = depart
            b: int | None = None
            if gap == -1:
                b = b_lo
            free_from = depart
            for k in range(m + 1):
                ready = end + legs[k]
                if gap == k:
                    b = max(free_from, b_lo)
                    if b > b_hi:
                        return None
                    ready = max(ready + d, b + d)
                if k == m:
                    if end > visit_limit:
                        return None
                    if gap == m + 1:
                        b = max(ready, b_lo)
                        if b > b_hi:
                            return None
                    return (starts, ready, b) if ready <= limit else None
                start = earliest_in(windows[k], ready)
                if start is None:
                    return None
                starts.append(start)
                end = start + jobs[k].duration_s
                free_from = start if jobs[k].duration_s >= hold_s else end
            raise AssertionError("unreachable")

        first_depart = tech.shift.start_s
        if gap == -1:
            first_depart = max(first_depart, b_lo + d)
        earliest = forward(first_depart)
        if earliest is None:
            return None
        end_time = earliest[1]
        # Backward: the latest departure that still returns at end_time.
        latest = end_time
        for k in range(m, -1, -1):
            latest -= legs[k]
            if gap == k:
                latest -= d
                if k == 0 or jobs[k - 1].duration_s < hold_s:
                    latest = min(latest, b_hi)
                else:
                    latest = min(latest, b_hi + jobs[k - 1].duration_s)
            if k == 0:
                break
            start = latest_in(windows[k - 1], latest - jobs[k - 1].duration_s)
            if start is None:
                return None
            latest = start
        depart = max(first_depart, latest)
        final = forward(depart) or earliest
        if final is not earliest and final[1] > end_time:
            final, depart = earliest, first_depart
        starts, back, b = final
        span = back - (depart if tech.on_clock_from_s is None else tech.on_clock_from_s)
        cost = span * self.coeffs.per_s[tech.id]
        cost += max(0, back - tech.shift.end_s) * self.coeffs.overtime_per_s[tech.id]
        return Timing(depart, tuple(starts), back, b, cost)

    def route(self, tech: Technician, jobs: Sequence[Job], timing: Timing) -> Route:
        """The route these jobs and times make, with travel filled in."""
        nodes = [self.points.tech_start[tech.id]] + [self.points.job[j.id] for j in jobs]
        nodes.append(self.points.tech_end[tech.id])
        lunch = None
        if timing.lunch_start_s is not None and tech.shift.lunch is not None and jobs and not self.reserve_lunch:
            lunch = BreakTaken(timing.lunch_start_s, tech.shift.lunch.duration_s)
        visits = []
        prev_end = prev_from = timing.depart_s
        hold_s = self.holds_pause_from_s(tech)
        pause_on_site = tech.shift.lunch is None or tech.shift.lunch.on_site
        for k, job in enumerate(jobs):
            travel = int(self.duration[nodes[k], nodes[k + 1]])
            start = timing.starts_s[k]
            visits.append(
                Visit(
                    job_id=job.id,
                    arrival_s=told_arrival(
                        arrival_time(prev_end, travel, lunch, start, prev_from, pause_on_site), start
                    ),
                    start_s=start,
                    end_s=start + job.duration_s,
                    travel_s=travel,
                    distance_m=int(self.distance[nodes[k], nodes[k + 1]]),
                )
            )
            prev_end = start + job.duration_s
            prev_from = start if job.duration_s >= hold_s else prev_end
        if not jobs:
            return Route(tech.id, (), tech.shift.start_s, tech.shift.start_s)
        return Route(
            technician_id=tech.id,
            visits=tuple(visits),
            start_s=timing.depart_s,
            end_s=timing.return_s,
            lunch=lunch,
            return_travel_s=int(self.duration[nodes[-2], nodes[-1]]),
            return_distance_m=int(self.distance[nodes[-2], nodes[-1]]),
        )

    def sequence_cost(self, tech: Technician, jobs: Sequence[Job], fixed_starts: Sequence[int | None]) -> int | None:
        """Objective units of ``jobs`` in this order on ``tech``'s route (``route_cost``),
        or None when it does not time."""
        timing = self.timing(tech, jobs, fixed_starts=fixed_starts)
        return None if timing is None else self.route_cost(tech, jobs, timing)

    def route_cost(self, tech: Technician, jobs: Sequence[Job], timing: Timing) -> int:
        """Objective units of this route: time, overtime, distance and per-job cost (for
        a technician already out with no jobs, the way home)."""
        if not jobs and not tech.out:
            return 0
        nodes = [self.points.tech_start[tech.id]] + [self.points.job[j.id] for j in jobs]
        nodes.append(self.points.tech_end[tech.id])
        metres = sum(int(self.distance[a, b]) for a, b in itertools.pairwise(nodes))
        return timing.cost_units + metres * self.coeffs.per_m[tech.id] + len(jobs) * self.coeffs.per_job[tech.id]


@dataclass(frozen=True)
class Stop:
    """A visit still ahead on a route, as ``drive_on`` times it.

    ``point`` is the visit's row in the travel matrices. The technician arrives
    no earlier than ``arrive_not_before_s`` and starts no earlier than
    ``start_not_before_s`` (a planned time, a window start, a crew partner).
    A break (the lunch) may lie on the way (``pause_on_way_s``: the drive takes
    that much longer), on site before work (``pause_on_site_s``) or inside the
    visit (``pause_in_work_s``: the visit ends that much later)."""

    point: int
    duration_s: int
    arrive_not_before_s: int = NEVER
    start_not_before_s: int = NEVER
    pause_on_way_s: int = 0
    pause_on_site_s: int = 0
    pause_in_work_s: int = 0


@dataclass(frozen=True)
class StopTimes:
    """When a ``Stop`` is reached, begun and left."""

    arrival_s: int
    start_s: int
    end_s: int


def drive_on(travel: TravelMatrices, place: int, free_s: int, stops: Sequence[Stop]) -> tuple[StopTimes, ...]:
    """The earliest times of ``stops`` driven in this order by a technician who is at
    the matrix point ``place`` and free to leave at ``free_s``: each drive takes the
    matrices' duration (the travel a plan was made with), each visit starts when the
    technician has arrived (and taken any break due on site) but never before its
    ``start_not_before_s``, and ends ``duration_s`` (plus a break in it) later.

    Times are never pushed back into a window: a visit that cannot start in its
    window any more starts late. Used to re-time the rest of a day from field facts
    (``dispatch.eta``)."""
    out: list[StopTimes] = []
    at, free = place, free_s
    for stop in stops:
        arrival = max(free + int(travel.duration_s[at, stop.point]) + stop.pause_on_way_s, stop.arrive_not_before_s)
        start = max(arrival + stop.pause_on_site_s, stop.start_not_before_s)
        end = start + stop.duration_s + stop.pause_in_work_s
        out.append(StopTimes(arrival, start, end))
        at, free = stop.point, end
    return tuple(out)
