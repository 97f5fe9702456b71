"""The objective, as integer coefficients shared by the model and the checker.

The objective is lexicographic in priority: leaving out one job of priority
``p`` costs more than leaving out every job of a lower priority together with
the whole cost of the day. Below that, soft-window and preference penalties
and cost (time, distance, per-job, overtime) are added with their weights.

Internally every term is in *units* of ``unit_mc`` milli-cents (normally 1);
on very large days the unit grows by powers of ten so that the worst case
still fits a 64-bit integer. See docs/objective.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from solver.problem import HORIZON_DAYS, Job, Problem, Technician
from solver.travel import TravelMatrices

INT64_SAFE = 2**61


def _per(value_cents: int, divisor: int, unit_mc: int) -> int:
    """``value_cents / divisor`` expressed in units, rounded to an integer."""
    return round(value_cents * 1000 / divisor / unit_mc)


def day_away_cost(after: int, per_day_late: int, per_day_early: int) -> int:
    """What serving a job ``after`` days after its preferred day costs (before it when
    ``after`` is negative), at these rates per day."""
    return after * per_day_late if after >= 0 else -after * per_day_early


@dataclass(frozen=True)
class Coefficients:
    """Integer objective coefficients for one problem."""

    unit_mc: int
    per_s: dict[str, int]
    per_m: dict[str, int]
    per_job: dict[str, int]
    overtime_per_s: dict[str, int]
    soft_per_s: dict[str, int]
    preference_miss: int
    drop_penalty: dict[int, int]
    # Not a cost: per technician id, the capacity of each constrained resource type
    # (``Problem.capacity_limits``), carried here so every evaluator built from the
    # coefficients (the route timer) keeps the same capacity rule.
    capacity: dict[str, dict[str, int]] = field(default_factory=dict)
    # The same after a depot stop (``Problem.capacity_after_reload``).
    capacity_after_reload: dict[str, dict[str, int]] = field(default_factory=dict)
    # Per day a job is served after its preferred day, and per day before it
    # (``Technician.days_after``).
    day_late: int = 0
    day_early: int = 0
    # Not a cost: ``Problem.promise_late_home_s``, for the route timer.
    promise_late_home_s: int = 0
    # Per job: what a start outside its preferred window costs once (``Job.soft_penalty_cents``).
    soft_step: dict[str, int] = field(default_factory=dict)

    def to_cents(self, units: int) -> float:
        """Convert objective units back to cents."""
        return units * self.unit_mc / 1000.0

    def drop_cost(self, priority: int, crew_size: int) -> int:
        """Penalty for leaving one job out (a crew job counts once per member)."""
        return self.drop_penalty[priority] * crew_size

    def search_drop_cost(self, job: Job) -> int:
        """What the searches charge for leaving one visit of ``job`` out: per visit (a
        crew member's visit counts once), with a crew-of-one job's preferred technician
        missed too (``left_out_cost``), and a day of a job longer than a day as all its
        days (the engine takes the others out with it)."""
        per_visit = self.left_out_cost(job) if job.crew_size == 1 else self.drop_cost(job.priority, 1)
        return per_visit * (job.part.count if job.part is not None else 1)

    def day_cost(self, tech: Technician, job: Job) -> int:
        """What serving ``job`` on ``tech``'s day costs for the days away from its preferred day."""
        return day_away_cost(tech.days_after(job), self.day_late, self.day_early)

    def left_out_cost(self, job: Job) -> int:
        """What leaving ``job`` out costs: its priority's penalty per crew member and,
        for a crew-of-one job with a preferred technician, that preference missed too
        (nobody serves it, so its preferred technician does not: a re-plan's told
        technician, docs/objective.md)."""
        missed = self.preference_miss if job.crew_size == 1 and job.preferred_technician_id is not None else 0
        return self.drop_cost(job.priority, job.crew_size) + missed


# Rows of the travel matrices scanned together: whole-matrix temporaries on a large
# day (5,500 points: 240 MB each) cost more in page faults than the arithmetic.
_ROWS = 256


def max_speed_mps(travel: TravelMatrices) -> float:
    """The highest distance/duration ratio of any arc (metres per second)."""
    fastest = 0.0
    for lo in range(0, travel.size, _ROWS):
        seconds, metres = travel.duration_s[lo : lo + _ROWS], travel.distance_m[lo : lo + _ROWS]
        moving = seconds > 0
        if moving.any():
            fastest = max(fastest, float((metres[moving] / seconds[moving]).max()))
    return fastest


def _teleports(travel: TravelMatrices) -> bool:
    """Some arc has a distance but takes no time."""
    return any(
        bool(((travel.duration_s[lo : lo + _ROWS] == 0) & (travel.distance_m[lo : lo + _ROWS] > 0)).any())
        for lo in range(0, travel.size, _ROWS)
    )


def coefficients(problem: Problem, travel: TravelMatrices) -> Coefficients:
    """The coefficients for ``problem``; ``travel`` is any matrix over its points
    (used only to bound the distance a technician can drive in a day)."""
    unit_mc = 1
    speed = max_speed_mps(travel)
    teleport = _teleports(travel)
    max_arc_m = int(travel.distance_m.max()) if travel.size else 0
    max_arc_s = int(travel.duration_s.max()) if travel.size else 0
    while True:
        coeffs = _coefficients(problem, unit_mc, speed, teleport, max_arc_m, max_arc_s)
        worst = sum(coeffs.drop_cost(j.priority, j.crew_size) * (j.part.count if j.part else 1) for j in problem.jobs)
        if worst < INT64_SAFE:
            return coeffs
        unit_mc *= 10


def _coefficients(
    problem: Problem, unit_mc: int, speed_mps: float, teleport: bool, max_arc_m: int, max_arc_s: int
) -> Coefficients:
    techs = problem.technicians
    per_s = {t.id: _per(t.cost.per_hour_cents, 3600, unit_mc) for t in techs}
    per_m = {t.id: _per(t.cost.per_km_cents, 1000, unit_mc) for t in techs}
    per_job = {t.id: _per(t.cost.per_job_cents, 1, unit_mc) for t in techs}
    overtime = {t.id: _per(t.cost.overtime_per_hour_cents, 3600, unit_mc) for t in techs}
    soft = {j.id: _per(j.soft_penalty_per_min_cents, 60, unit_mc) for j in problem.jobs}
    step = {j.id: _per(j.soft_penalty_cents, 1, unit_mc) for j in problem.jobs}
    preference_miss = _per(problem.weights.preferred_technician_miss_cents, 1, unit_mc)

    visits = sum(j.crew_size for j in problem.jobs)
    if techs:
        first = min(t.shift.start_s for t in techs)
        last = max(t.latest_end_s for t in techs)
    else:
        first = last = 0

    # An upper bound on everything below the priority tiers.
    bound = 0
    for t in techs:
        # A technician already out is paid from earlier, and may get home late when
        # that is all that is left (``Technician.out``).
        late = (max_arc_s if t.out else 0) + problem.promise_late_home_s
        span = t.latest_end_s + late - (t.shift.start_s if t.on_clock_from_s is None else t.on_clock_from_s)
        jobs = visits if t.max_jobs is None else min(visits, t.max_jobs)
        metres = (jobs + 1) * max_arc_m if teleport else int(np.ceil(span * speed_mps)) + 1
        bound += span * per_s[t.id] + metres * per_m[t.id] + jobs * per_job[t.id]
        bound += (t.max_overtime_s + late) * overtime[t.id]
    for job in problem.jobs:
        if job.preferred_window is None or not job.start_windows():
            continue
        windows = job.start_windows()
        lo, hi = max(first, windows[0].start_s), min(last, windows[-1].end_s)
        if lo <= hi:
            pw = job.preferred_window
            bound += soft[job.id] * (max(0, pw.start_s - lo, hi - pw.end_s) + 1) + step[job.id]
    bound += preference_miss * len(problem.jobs)
    day_late = _per(problem.weights.day_late_cents, 1, unit_mc)
    day_early = _per(problem.weights.day_early_cents, 1, unit_mc)
    if any(t.day is not None for t in techs):
        bound += max(day_late, day_early) * HORIZON_DAYS * sum(j.preferred_day is not None for j in problem.jobs)

    drop: dict[int, int] = {}
    below = bound
    for priority in (3, 2, 1, 0):
        drop[priority] = below + 1
        below += drop[priority] * sum(j.crew_size for j in problem.jobs if j.priority == priority)
    return Coefficients(
        unit_mc,
        per_s,
        per_m,
        per_job,
        overtime,
        soft,
        preference_miss,
        drop,
        problem.capacity_limits(),
        problem.capacity_after_reload(),
        day_late,
        day_early,
        problem.promise_late_home_s,
        step,
    )
