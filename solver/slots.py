"""Slot evaluation: where one more job fits into a day's working plan.

A *working plan* is a feasible schedule of the jobs already promised: per
technician, the jobs in visiting order, with the start of every crew visit
fixed (its two technicians must meet). ``SlotEvaluator`` answers, for a new
job and a list of candidate windows, the cheapest way to add the job with its
start inside each window while every route stays feasible. Each answer is
verified with the exact route timer (``solver.schedule.RouteTimer``, the same
one the engine and the checker agree with), so a window offered here can be
booked; a window not offered carries a reason that can be said aloud.

The other jobs of a route may move within their own windows (the whole route
is re-timed); crew visits keep their agreed start. Insertions are tried in
order of added travel, after a quick bound (lunch ignored) has ruled out the
ones that cannot work; at most ``max_checks`` exact checks are spent per window
so that the answer stays fast (see docs/booking.md for the recall this gives).
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from solver.insertion import crew_pairs, movable, timed_at, timings, visit_windows
from solver.objective import coefficients
from solver.plan import WorkingRoute as WorkingRoute  # also imported from here by callers
from solver.problem import MAX_TIME_S, Job, Problem, ProblemError, Technician, TimeWindow, return_limits
from solver.schedule import RouteTimer, Timing, earliest_in, latest_in
from solver.solution import ReasonCode, Route, Solution, Unassigned
from solver.travel import HaversineProvider, PointIndex, TravelMatrices, TravelProvider, problem_travel


class SlotReason(StrEnum):
    """Why a window is not offered, in words a call centre can say."""

    NO_TECHNICIAN = "no_technician"
    NO_SKILL = "no_skill"
    NO_CREW = "no_crew"
    OUTSIDE_HOURS = "outside_hours"
    DAY_FULL = "day_full"
    URGENT_RESERVE = "urgent_reserve"
    RELEASED_TOO_LATE = "released_too_late"
    PAST_DEADLINE = "past_deadline"
    TECHNICIAN_AWAY = "technician_away"

    @property
    def sentence(self) -> str:
        """The reason as a sentence that names no other customer."""
        return {
            SlotReason.NO_TECHNICIAN: "Nobody works in this area on that day.",
            SlotReason.NO_SKILL: "No installer with the needed skill works on that day.",
            SlotReason.NO_CREW: "Fewer than two installers with the needed skill work on that day.",
            SlotReason.OUTSIDE_HOURS: "The visit would not fit within anyone's working hours.",
            SlotReason.DAY_FULL: "Every installer who could do it is fully booked at that time.",
            SlotReason.URGENT_RESERVE: "The capacity left at that time is kept for urgent repairs.",
            SlotReason.RELEASED_TOO_LATE: "The goods are not ready by then.",
            SlotReason.PAST_DEADLINE: "That is after the latest time the visit may start.",
            SlotReason.TECHNICIAN_AWAY: "Every installer who could do it is away at that time.",
        }[self]


@dataclass(frozen=True)
class Insertion:
    """A feasible way to add the new job: which technician(s), where, when, at what cost.

    ``slack_s`` is how long the new visit (or any visit after it on the
    route) could slip before a window, the lunch or the shift end would break.
    ``uses_reserve`` is True when it eats into the share kept for urgent work.
    """

    technician_ids: tuple[str, ...]
    positions: tuple[int, ...]
    start_s: int
    added_travel_s: int
    added_cost_cents: float
    slack_s: int
    uses_reserve: bool
    # Promised jobs moved to make room, each (job_id, from technician, to technician,
    # position in the receiving route); applied before the new job is inserted.
    moves: tuple[tuple[str, str, str, int], ...] = ()


@dataclass(frozen=True)
class WindowAnswer:
    """The best insertion for one candidate window, or why there is none."""

    window: TimeWindow
    insertion: Insertion | None
    reason: SlotReason | None


@dataclass
class _Route:
    """One technician's working route as the evaluator keeps it: the jobs themselves in
    order with their fixed starts (its ``WorkingRoute``), timed, with the quick bounds
    the candidate filter uses."""

    tech: Technician
    jobs: list[Job]
    fixed: list[int | None]
    points: list[int]  # start, jobs..., end
    timing: Timing
    cost: int
    busy_s: int
    earliest_end: list[int]  # per visit, lunch ignored: a lower bound
    latest_start: list[int]  # per visit, lunch ignored: an upper bound

    def working(self) -> WorkingRoute:
        """The route by job ids."""
        return WorkingRoute(self.tech.id, tuple(j.id for j in self.jobs), tuple(self.fixed))


@dataclass(frozen=True)
class _Home:
    """Where a job taken off one route would go: ``route`` with it at ``position``."""

    route: _Route
    position: int
    seq: list[Job]
    fixed: list[int | None]
    timing: Timing
    busy_s: int


@dataclass(frozen=True)
class _Candidate:
    route: _Route
    position: int
    added_travel_s: int
    lo: int  # the new visit's start must lie in [lo, hi] (a necessary condition)
    hi: int


def working_span(problem: Problem) -> tuple[int, int]:
    """The first shift start and the last shift end of ``problem``'s technicians
    (08:00-17:00 when nobody works)."""
    techs = problem.technicians
    return min((t.shift.start_s for t in techs), default=8 * 3600), max(
        (t.shift.end_s for t in techs), default=17 * 3600
    )


class SlotEvaluator:
    """The slot answers of one day: its technicians and working plan are fixed at creation.

    ``problem`` holds the day's technicians and every job of ``routes``; each
    route must be feasible as given (``ProblemError`` otherwise).
    ``reserve_share`` is the share of each technician's working time (shift
    less lunch) that routine bookings may not fill. With ``repair``, routes of
    technicians no longer in ``problem`` and routes that no longer time are
    emptied, and jobs a technician is no longer qualified for (or holds beyond their
    max jobs) taken off; their jobs are placed again where they fit (``unplaced`` lists
    the ones that fit nowhere) instead of raising. ``day_span_s`` is the working day
    slot grids are laid on (first shift start, last shift end; by default of
    ``problem``'s technicians, 08:00-17:00 without any): given when ``problem`` is
    the rest of a day under way, whose technicians start where they are.
    """

    def __init__(
        self,
        problem: Problem,
        routes: Iterable[WorkingRoute],
        travel_provider: TravelProvider | None = None,
        reserve_share: float = 0.0,
        max_checks: int = 40,
        repair: bool = False,
        day_span_s: tuple[int, int] | None = None,
    ) -> None:
        if not 0.0 <= reserve_share < 1.0:
            raise ValueError("reserve_share must be in [0, 1)")
        self.problem = problem
        self.day_span_s = day_span_s or working_span(problem)
        self.provider = travel_provider or HaversineProvider()
        self.reserve_share = reserve_share
        self.max_checks = max_checks
        self.points, self.travel = problem_travel(problem, self.provider)
        self.coeffs = coefficients(problem, self.travel)
        jobs = {j.id: j for j in problem.jobs}
        techs = {t.id for t in problem.technicians}
        given = {r.technician_id: r for r in routes}
        orphans: list[str] = []
        seen: set[str] = set()
        for r in given.values():
            if r.technician_id not in techs:
                if not repair:
                    raise ProblemError(f"working plan has a route of unknown technician {r.technician_id}")
                orphans.extend(r.job_ids)
                continue
            for job_id in r.job_ids:
                if job_id not in jobs:
                    raise ProblemError(f"working plan refers to job {job_id}, which is not in the problem")
                if job_id in seen and jobs[job_id].crew_size == 1:
                    raise ProblemError(f"job {job_id} is in two routes of the working plan")
                seen.add(job_id)
        self._timer = RouteTimer(self.points, self.travel, self.coeffs, problem.lunch_on_site_min_s)
        self._routes: dict[str, _Route] = {}
        for tech in problem.technicians:
            r = given.get(tech.id, WorkingRoute(tech.id, ()))
            seq, fixed = [jobs[i] for i in r.job_ids], list(r.fixed_starts)
            if repair:
                # Technicians change: a job they are no longer qualified for, or beyond their
                # max jobs, is placed again like an orphan (else its hour was sold twice).
                kept_k = [k for k, j in enumerate(seq) if tech.has_skills(j.skills)]
                if tech.max_jobs is not None:
                    kept_k = kept_k[: tech.max_jobs]
                orphans.extend(j.id for k, j in enumerate(seq) if k not in kept_k)
                seq, fixed = [seq[k] for k in kept_k], [fixed[k] for k in kept_k]
            try:
                self._routes[tech.id] = self._prepare(tech, seq, fixed, self._timer)
            except ProblemError:
                if not repair:
                    raise
                orphans.extend(r.job_ids)
                self._routes[tech.id] = self._prepare(tech, [], [], self._timer)
        self.unplaced: list[str] = []
        """Promised jobs that ``repair`` could not place again (their technician left or their route broke)."""
        for job_id in set(orphans):  # a crew visit whose partner's route broke leaves the other route too
            for tech_id, kept in list(self._routes.items()):
                if any(j.id == job_id for j in kept.jobs):
                    keep = [k for k, j in enumerate(kept.jobs) if j.id != job_id]
                    seq, fixed = [kept.jobs[k] for k in keep], [kept.fixed[k] for k in keep]
                    try:
                        self._routes[tech_id] = self._prepare(kept.tech, seq, fixed, self._timer)
                    except ProblemError:  # only through rounding of the travel matrix: start this route afresh
                        orphans.extend(j.id for j in seq)
                        self._routes[tech_id] = self._prepare(kept.tech, [], [], self._timer)
        for job_id in dict.fromkeys(orphans):
            job = jobs[job_id]
            answers = self.evaluate(job, job.start_windows()[:1] or [TimeWindow(0, MAX_TIME_S)], use_reserve=True)
            insertion = answers[0].insertion
            if insertion is None:
                self.unplaced.append(job_id)
                continue
            for updated in self.with_insertion(job, insertion):
                if updated.technician_id in insertion.technician_ids:
                    tech = problem.technician(updated.technician_id)
                    seq = [jobs[i] for i in updated.job_ids]
                    self._routes[tech.id] = self._prepare(tech, seq, list(updated.fixed_starts), self._timer)

    def routes(self) -> list[WorkingRoute]:
        """The working plan as given (one entry per technician of the day)."""
        return [r.working() for r in self._routes.values()]

    def start_of(self, job_id: str) -> int | None:
        """The planned start of a promised job in the working plan (None when absent)."""
        for r in self._routes.values():
            for job, start in zip(r.jobs, r.timing.starts_s, strict=True):
                if job.id == job_id:
                    return start
        return None

    def _prepare(self, tech: Technician, jobs: list[Job], fixed: list[int | None], timer: RouteTimer) -> _Route:
        timing = timer.timing(tech, jobs, fixed_starts=fixed)
        if timing is None:
            raise ProblemError(f"the working route of {tech.id} is not feasible")
        pts = [self.points.tech_start[tech.id], *(self.points.job[j.id] for j in jobs), self.points.tech_end[tech.id]]
        dur = self.travel.duration_s
        earliest_end: list[int] = []
        t = tech.shift.start_s
        for k, job in enumerate(jobs):
            arrive = t + int(dur[pts[k], pts[k + 1]])
            windows = visit_windows(job, fixed[k])
            start = earliest_in(windows, arrive)
            assert start is not None  # the exact timing above found one
            t = start + job.duration_s
            earliest_end.append(t)
        latest_start = [0] * len(jobs)
        if jobs:
            # The last visit ends by the latest end, home by then too, or later after a
            # promise: its late way home, as the exact timing above allows (``return_limits``).
            visit_by, back_by = return_limits(tech.latest_end_s, jobs[-1], self.problem.promise_late_home_s)
            lat = min(visit_by, back_by - int(dur[pts[-2], pts[-1]]))
        for k in range(len(jobs) - 1, -1, -1):
            job = jobs[k]
            windows = visit_windows(job, fixed[k])
            leg = int(dur[pts[k + 1], pts[k + 2]]) if k < len(jobs) - 1 else 0
            start = latest_in(windows, lat - leg - job.duration_s)
            assert start is not None
            latest_start[k] = start
            lat = start
        travel = sum(int(dur[a, b]) for a, b in itertools.pairwise(pts)) if jobs else 0
        busy = travel + sum(j.duration_s for j in jobs)
        cost = timer.route_cost(tech, jobs, timing)
        return _Route(tech, jobs, fixed, pts, timing, cost, busy, earliest_end, latest_start)

    def _in_reserve(self, tech: Technician, busy_s: int) -> bool:
        """``busy_s`` of work and driving eats into the share of ``tech``'s working time
        (shift less lunch) kept for urgent work."""
        lunch = tech.shift.lunch.duration_s if tech.shift.lunch is not None else 0
        return busy_s > (1.0 - self.reserve_share) * (tech.shift.end_s - tech.shift.start_s - lunch)

    def evaluate(
        self, job: Job, windows: Sequence[TimeWindow], use_reserve: bool = False, move_budget_s: float = 0.0
    ) -> list[WindowAnswer]:
        """For each window, the cheapest verified insertion of ``job`` starting
        inside it (and inside the job's own release/deadline), or the reason
        there is none. ``job`` must not be in the working plan already.

        With ``use_reserve`` False, insertions that would fill a technician
        beyond ``1 - reserve_share`` of their working time are not offered.
        With ``move_budget_s`` > 0, windows no plain insertion can take are
        tried again for that long (in all) by moving one promised job of a
        nearby technician to another technician (inside its own slot).
        """
        if any(j.id == job.id for r in self._routes.values() for j in r.jobs):
            raise ProblemError(f"job {job.id} is already in the working plan")
        qualified = [
            r
            for r in self._routes.values()
            if r.tech.has_skills(job.skills)
            and (r.tech.max_jobs is None or len(r.jobs) < r.tech.max_jobs)
            and job.pinned_technician_id in (None, r.tech.id)
        ]
        if not self._routes and not self.problem.off_duty:
            return [WindowAnswer(w, None, SlotReason.NO_TECHNICIAN) for w in windows]
        # A technician who works no more at this point of today (``Problem.off_duty``) still
        # works on that day: their skills count, and so may their hours (``_held``).
        working = [r.tech for r in self._routes.values()] + list(self.problem.off_duty)
        skilled = sum(t.has_skills(job.skills) for t in working)
        if skilled == 0:
            return [WindowAnswer(w, None, SlotReason.NO_SKILL) for w in windows]
        if skilled < job.crew_size:
            return [WindowAnswer(w, None, SlotReason.NO_CREW) for w in windows]
        if job.id in self.points.job:
            index, travel, timer = self.points, self.travel, self._timer
        else:
            index, travel = self._with_point(job)
            timer = RouteTimer(index, travel, self.coeffs, self.problem.lunch_on_site_min_s)
        new = index.job[job.id]
        dur = travel.duration_s
        to_new = dur[:, new].tolist()
        from_new = dur[new, :].tolist()
        own = job.start_windows()
        candidates: list[_Candidate] = []
        # Every technician who may do it (a full day's too: ``max_jobs`` is a reason of its own), with
        # the start interval an empty day of theirs leaves (shift only: a bound).
        able = [r.tech for r in self._routes.values() if r.tech.has_skills(job.skills)]
        able = [t for t in able if job.pinned_technician_id in (None, t.id)]
        alone = [
            (
                t.shift.start_s + to_new[index.tech_start[t.id]],
                t.latest_end_s - job.duration_s - from_new[index.tech_end[t.id]],
            )
            for t in able
        ]
        for r in qualified:
            tech, pts = r.tech, r.points
            limit = tech.latest_end_s
            for p in range(len(r.jobs) + 1):
                prev, nxt = pts[p], pts[p + 1]
                ready = (r.earliest_end[p - 1] if p > 0 else tech.shift.start_s) + to_new[prev]
                due = (r.latest_start[p] if p < len(r.jobs) else limit) - from_new[nxt] - job.duration_s
                lo = earliest_in(own, ready)
                hi = latest_in(own, due)
                if lo is None or hi is None or lo > hi:
                    continue
                added = to_new[prev] + from_new[nxt] - int(dur[prev, nxt])
                candidates.append(_Candidate(r, p, added, lo, hi))
        candidates.sort(key=lambda c: (c.added_travel_s, c.route.tech.id, c.position))
        answers = []
        for w in windows:
            fitting = [c for c in candidates if max(c.lo, w.start_s) <= min(c.hi, w.end_s)]
            job_in = dataclasses.replace(job, windows=(w,))
            if job.crew_size == 1:
                best, reserved = self._single(job_in, fitting, timer, use_reserve)
            else:
                best, reserved = self._crew(job_in, w, fitting, timer, use_reserve)
            if best is not None:
                answers.append(WindowAnswer(w, best, None))
            elif reserved:
                answers.append(WindowAnswer(w, None, SlotReason.URGENT_RESERVE))
            else:
                answers.append(WindowAnswer(w, None, self._why_not(job_in, own, able, alone, timer)))
        if move_budget_s > 0 and job.crew_size == 1:
            until = time.monotonic() + move_budget_s
            near = sorted(
                qualified,
                key=lambda r: min(
                    (to_new[r.points[p]] + from_new[r.points[p + 1]] for p in range(len(r.jobs) + 1)),
                    default=0,
                ),
            )
            # Where each movable job would go is the same for every window: found once.
            homes: dict[tuple[str, str], _Home | None] = {}
            for k, answer in enumerate(answers):
                if answer.reason is not SlotReason.DAY_FULL or time.monotonic() > until:
                    continue
                job_in = dataclasses.replace(job, windows=(answer.window,))
                moved = self._with_move(job_in, near[:4], timer, use_reserve, until, homes)
                if moved is not None:
                    answers[k] = WindowAnswer(answer.window, moved, None)
        return answers

    def _why_not(
        self,
        job: Job,
        own: Sequence[TimeWindow],
        able: Sequence[Technician],
        alone: Sequence[tuple[int, int]],
        timer: RouteTimer,
    ) -> SlotReason:
        """Why ``job`` cannot start in its one window, which no insertion takes: before its
        goods are ready or after its deadline (``own``: its start windows without it),
        outside the working hours of every technician of ``able`` (``alone``: their
        bounds), or over their absences, when not even an empty day of theirs would take
        it there; else the day is full (the move search may still find room). It is full
        too when enough of them work no more at this point of today only because the day's
        work holds them past its end (``_held``)."""
        [w] = job.windows
        if not any(o.start_s <= w.end_s and w.start_s <= o.end_s for o in own):
            if job.release_s is not None and w.end_s < job.release_s:
                return SlotReason.RELEASED_TOO_LATE
            if job.deadline_s is not None and w.start_s > job.deadline_s:
                return SlotReason.PAST_DEADLINE
        held = self._held(job, w)
        shift_hours = [t for t, (lo, hi) in zip(able, alone, strict=True) if max(lo, w.start_s) <= min(hi, w.end_s)]
        if not shift_hours:
            return SlotReason.DAY_FULL if held >= job.crew_size else SlotReason.OUTSIDE_HOURS
        free = [t for t in shift_hours if timer.timing(t, [job], fixed_starts=[None]) is not None]
        if len(free) + held >= job.crew_size:
            return SlotReason.DAY_FULL
        # Would they take it were they not away? An absence is the day's pause that no visit overlaps.
        back = [
            t
            for t in shift_hours
            if t.shift.lunch is not None
            and not t.shift.lunch.on_site
            and timer.timing(
                dataclasses.replace(t, shift=dataclasses.replace(t.shift, lunch=None)), [job], fixed_starts=[None]
            )
            is not None
        ]
        if len(free) + len(back) >= job.crew_size and back:
            return SlotReason.TECHNICIAN_AWAY
        return SlotReason.OUTSIDE_HOURS

    def _held(self, job: Job, w: TimeWindow) -> int:
        """How many technicians who could do ``job`` work no more at this point of today
        (``Problem.off_duty``: a visit holds them past the end of their day) although their
        working day, as planned, holds ``w``: the day's work rules the window out for them,
        not their hours."""
        return sum(
            1
            for t in self.problem.off_duty
            if t.has_skills(job.skills)
            and job.pinned_technician_id in (None, t.id)
            and t.shift.start_s < w.end_s
            and w.start_s < t.latest_end_s
        )

    def _busy(self, tech: Technician, seq: Sequence[Job], timer: RouteTimer) -> int:
        pts = [timer.points.tech_start[tech.id], *(timer.points.job[j.id] for j in seq), timer.points.tech_end[tech.id]]
        return sum(int(timer.duration[a, b]) for a, b in itertools.pairwise(pts)) + sum(j.duration_s for j in seq)

    def _with_move(
        self,
        job: Job,
        near: list[_Route],
        timer: RouteTimer,
        use_reserve: bool,
        until: float,
        homes: dict[tuple[str, str], _Home | None],
    ) -> Insertion | None:
        """Room for ``job`` on one of ``near`` made by moving one of its promised
        jobs to another technician, both routes verified by the exact timer. ``homes``
        keeps, per route and job moved, where that job would go (or None: nowhere),
        which does not depend on ``job``'s window. A job pinned to its technician (in a
        day's evaluator: a job of several days, whose other days are that person's)
        never moves."""
        for a in near:
            for moved, rest, rest_fixed in movable(a.jobs, a.fixed):
                if time.monotonic() > until:
                    return None
                placed = next(timings(a.tech, job, rest, rest_fixed, timer), None)
                if placed is None:
                    continue
                p, seq_a, fixed_a, timing_a = placed
                busy_a = self._busy(a.tech, seq_a, timer)
                if not use_reserve and self._in_reserve(a.tech, busy_a):
                    continue
                key = (a.tech.id, moved.id)
                if key not in homes:
                    home, complete = self._home(a, moved, timer, use_reserve, until)
                    if not complete:
                        return None
                    homes[key] = home
                home = homes[key]
                if home is None:
                    continue
                b, timing_b = home.route, home.timing
                added = (
                    timer.route_cost(a.tech, seq_a, timing_a)
                    - a.cost
                    + timer.route_cost(b.tech, home.seq, timing_b)
                    - b.cost
                )
                return Insertion(
                    (a.tech.id,),
                    (p,),
                    timing_a.starts_s[p],
                    busy_a - a.busy_s - job.duration_s + home.busy_s - b.busy_s,
                    self.coeffs.to_cents(added),
                    min(
                        self._slack(a.tech, seq_a, fixed_a, timing_a, p, timer),
                        self._slack(b.tech, home.seq, home.fixed, timing_b, home.position, timer),
                    ),
                    False,
                    ((moved.id, a.tech.id, b.tech.id, home.position),),
                )
        return None

    def _home(
        self, a: _Route, moved: Job, timer: RouteTimer, use_reserve: bool, until: float
    ) -> tuple[_Home | None, bool]:
        """The first route other than ``a`` (and place in it) that takes ``moved``, or
        None; and whether every route was tried before ``until``. Only its pinned
        technician's route may take a pinned job."""
        for b in self._routes.values():
            if b.tech.id == a.tech.id or not b.tech.has_skills(moved.skills):
                continue
            if moved.pinned_technician_id not in (None, b.tech.id):
                continue
            if b.tech.max_jobs is not None and len(b.jobs) >= b.tech.max_jobs:
                continue
            for q, seq_b, fixed_b, timing_b in timings(b.tech, moved, b.jobs, b.fixed, timer):
                busy_b = self._busy(b.tech, seq_b, timer)
                if self._in_reserve(b.tech, busy_b) and not use_reserve:
                    continue
                return _Home(b, q, seq_b, fixed_b, timing_b, busy_b), True
            if time.monotonic() > until:
                return None, False
        return None, True

    def _with_point(self, job: Job) -> tuple[PointIndex, TravelMatrices]:
        """The day's points and matrices with the new job's location appended."""
        n = len(self.points.points)
        between = getattr(self.provider, "between", None)
        if between is not None:
            d_to, m_to = between(self.points.points, [job.location])
            d_from, m_from = between([job.location], self.points.points)
            duration = np.zeros((n + 1, n + 1), dtype=np.int64)
            distance = np.zeros((n + 1, n + 1), dtype=np.int64)
            duration[:n, :n] = self.travel.duration_s
            distance[:n, :n] = self.travel.distance_m
            duration[:n, n], distance[:n, n] = d_to[:, 0], m_to[:, 0]
            duration[n, :n], distance[n, :n] = d_from[0], m_from[0]
            travel = TravelMatrices(duration, distance)
        else:
            travel = self.provider.matrices([*self.points.points, job.location])
        index = PointIndex(
            (*self.points.points, job.location),
            self.points.tech_start,
            self.points.tech_end,
            {**self.points.job, job.id: n},
        )
        return index, travel

    def _try(
        self, job: Job, c: _Candidate, timer: RouteTimer, fixed_start: int | None = None
    ) -> tuple[Timing, list[Job], list[int | None]] | None:
        r = c.route
        fits = timed_at(r.tech, job, r.jobs, r.fixed, c.position, timer, fixed_start)
        return None if fits is None else (fits[2], fits[0], fits[1])

    def _measure(
        self, job: Job, c: _Candidate, timer: RouteTimer, timing: Timing, seq: list[Job], fixed: list[int | None]
    ) -> tuple[int, int, bool]:
        """Added cost (units), slack (s) and whether the reserve is used, for one verified insertion."""
        r = c.route
        added_cost = timer.route_cost(r.tech, seq, timing) - r.cost
        busy = r.busy_s + c.added_travel_s + job.duration_s
        uses_reserve = self._in_reserve(r.tech, busy)
        return added_cost, self._slack(r.tech, seq, fixed, timing, c.position, timer), uses_reserve

    def _single(
        self, job: Job, fitting: list[_Candidate], timer: RouteTimer, use_reserve: bool
    ) -> tuple[Insertion | None, bool]:
        found: list[Insertion] = []
        reserved = False
        for checks, c in enumerate(fitting):
            if checks >= self.max_checks or len(found) >= 3:
                break
            tried = self._try(job, c, timer)
            if tried is None:
                continue
            timing, seq, fixed = tried
            added, slack, uses_reserve = self._measure(job, c, timer, timing, seq, fixed)
            if uses_reserve and not use_reserve:
                reserved = True
                continue
            found.append(
                Insertion(
                    (c.route.tech.id,),
                    (c.position,),
                    timing.starts_s[c.position],
                    c.added_travel_s,
                    self.coeffs.to_cents(added),
                    slack,
                    uses_reserve,
                )
            )
        best = min(found, key=lambda i: (i.added_cost_cents, -i.slack_s), default=None)
        return best, reserved

    def _crew(
        self, job: Job, w: TimeWindow, fitting: list[_Candidate], timer: RouteTimer, use_reserve: bool
    ) -> tuple[Insertion | None, bool]:
        """Two technicians who can both start the visit at one common time."""
        checks = 0
        reserved = False
        pool = fitting[:16]
        for a, b in crew_pairs(pool, lambda c: c.route.tech.id):
            lo = max(a.lo, b.lo, w.start_s)
            hi = min(a.hi, b.hi, w.end_s)
            if lo > hi:
                continue
            if checks >= self.max_checks:
                break
            for start in sorted({lo, min(hi, lo + 900), hi}):
                checks += 1
                tried_a = self._try(job, a, timer, start)
                tried_b = self._try(job, b, timer, start) if tried_a is not None else None
                if tried_a is None or tried_b is None:
                    continue
                added_a, slack_a, res_a = self._measure(job, a, timer, *tried_a)
                added_b, slack_b, res_b = self._measure(job, b, timer, *tried_b)
                if (res_a or res_b) and not use_reserve:
                    reserved = True
                    continue
                return (
                    Insertion(
                        (a.route.tech.id, b.route.tech.id),
                        (a.position, b.position),
                        start,
                        a.added_travel_s + b.added_travel_s,
                        self.coeffs.to_cents(added_a + added_b),
                        min(slack_a, slack_b),
                        res_a or res_b,
                    ),
                    False,
                )
        return None, reserved

    def _slack(
        self,
        tech: Technician,
        seq: list[Job],
        fixed: list[int | None],
        timing: Timing,
        position: int,
        timer: RouteTimer,
    ) -> int:
        """How far the visit at ``position`` could slip before the route breaks."""
        points = timer.points
        pts = [points.tech_start[tech.id], *(points.job[j.id] for j in seq), points.tech_end[tech.id]]
        dur = timer.duration
        lat = tech.latest_end_s
        lunch = tech.shift.lunch
        if lunch is not None and timing.lunch_start_s is not None and timing.lunch_start_s >= timing.starts_s[position]:
            lat -= lunch.duration_s  # the lunch still has to fit after the new visit
        slack = lat - timing.return_s
        for k in range(len(seq) - 1, position - 1, -1):
            job = seq[k]
            windows = visit_windows(job, fixed[k])
            start = latest_in(windows, lat - int(dur[pts[k + 1], pts[k + 2]]) - job.duration_s)
            if start is None:
                return 0
            slack = min(slack, start - timing.starts_s[k])
            lat = start
        return max(0, slack)

    def with_insertion(self, job: Job, insertion: Insertion) -> list[WorkingRoute]:
        """The working plan after adding ``job`` as ``insertion`` says (its moves
        first; crew starts fixed)."""
        routes = {r.technician_id: r for r in self.routes()}
        for job_id, source, target, position in insertion.moves:
            routes[source] = routes[source].without(job_id)
            routes[target] = routes[target].with_visit(position, job_id)
        start = insertion.start_s if job.crew_size > 1 else None
        for tech_id, k in zip(insertion.technician_ids, insertion.positions, strict=True):
            routes[tech_id] = routes[tech_id].with_visit(k, job.id, start)
        return list(routes.values())

    def with_job(self, job: Job, insertion: Insertion) -> SlotEvaluator:
        """A new evaluator of this day with ``job`` promised as ``insertion`` says
        (its moves included); only the routes that change are timed again."""
        new = copy.copy(self)
        p = self.problem
        new.problem = dataclasses.replace(p, jobs=(*p.jobs, job))
        if job.id not in self.points.job:
            new.points, new.travel = self._with_point(job)
        new._timer = RouteTimer(new.points, new.travel, self.coeffs, p.lunch_on_site_min_s)
        new._routes = dict(self._routes)
        new.unplaced = list(self.unplaced)
        changed = set(insertion.technician_ids) | {t for _, a, b, _ in insertion.moves for t in (a, b)}
        jobs = {j.id: j for j in new.problem.jobs}
        for r in self.with_insertion(job, insertion):
            if r.technician_id in changed:
                tech = self._routes[r.technician_id].tech
                seq = [jobs[i] for i in r.job_ids]
                new._routes[tech.id] = new._prepare(tech, seq, list(r.fixed_starts), new._timer)
        return new

    def updated(self, jobs: Sequence[Job], routes: Iterable[WorkingRoute]) -> SlotEvaluator | None:
        """This day's evaluator for another working plan of the same technicians:
        ``jobs`` are every job of ``routes`` (those this evaluator knows must be the
        same objects or equal). Only the routes that differ are timed again, so it
        is the same as a new evaluator of that plan, made faster. None when a route
        is of an unknown technician or does not time (build one with ``repair``)."""
        new = copy.copy(self)
        new.problem = dataclasses.replace(self.problem, jobs=tuple(jobs))
        for job in jobs:
            if job.id not in new.points.job:
                new.points, new.travel = new._with_point(job)
        new._timer = RouteTimer(new.points, new.travel, self.coeffs, self.problem.lunch_on_site_min_s)
        new._routes = {}
        new.unplaced = []
        by_id = {j.id: j for j in jobs}
        given = {r.technician_id: r for r in routes}
        if not given.keys() <= self._routes.keys():
            return None
        for tech_id, old in self._routes.items():
            r = given.get(tech_id, WorkingRoute(tech_id, ()))
            same = tuple(j.id for j in old.jobs) == r.job_ids and tuple(old.fixed) == r.fixed_starts
            if same and all(by_id.get(j.id) == j for j in old.jobs):
                new._routes[tech_id] = old  # its point numbers stay valid: points are only appended
                continue
            if any(i not in by_id for i in r.job_ids):
                return None
            try:
                new._routes[tech_id] = new._prepare(
                    old.tech, [by_id[i] for i in r.job_ids], list(r.fixed_starts), new._timer
                )
            except ProblemError:
                return None
        return new

    def without(self, job_id: str) -> list[WorkingRoute]:
        """The working plan with ``job_id`` taken out, where every route still times.

        A route that would no longer time without it (possible only through
        rounding of the travel matrix) keeps the job: capacity is never freed
        at the price of a promise.
        """
        timer = self._timer
        out = []
        for tech_id, r in self._routes.items():
            if job_id not in {j.id for j in r.jobs}:
                out.append(r.working())
                continue
            keep = [k for k, j in enumerate(r.jobs) if j.id != job_id]
            jobs = [r.jobs[k] for k in keep]
            fixed = [r.fixed[k] for k in keep]
            if timer.timing(r.tech, jobs, fixed_starts=fixed) is None:
                jobs, fixed = r.jobs, r.fixed
            out.append(WorkingRoute(tech_id, tuple(j.id for j in jobs), tuple(fixed)))
        return out


def working_solution(
    problem: Problem, routes: Iterable[WorkingRoute], travel_provider: TravelProvider | None = None
) -> Solution:
    """The working plan as a timed ``Solution`` (jobs in no route are left out,
    as ``day_full``), for the checker and for showing it; ``ProblemError``
    when a route does not time."""
    points, travel = problem_travel(problem, travel_provider or HaversineProvider())
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    jobs = {j.id: j for j in problem.jobs}
    given = {r.technician_id: r for r in routes}
    out: list[Route] = []
    served: set[str] = set()
    for tech in problem.technicians:
        r = given.get(tech.id, WorkingRoute(tech.id, ()))
        seq = [jobs[i] for i in r.job_ids]
        timing = timer.timing(tech, seq, fixed_starts=list(r.fixed_starts))
        if timing is None:
            raise ProblemError(f"the working route of {tech.id} is not feasible")
        out.append(timer.route(tech, seq, timing))
        served.update(r.job_ids)
    unassigned = tuple(
        Unassigned(j.id, ReasonCode.DAY_FULL, "Not in the working plan.") for j in problem.jobs if j.id not in served
    )
    return Solution(tuple(out), unassigned)
