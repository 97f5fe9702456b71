"""The solver's output: routes with times, unassigned jobs with reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from solver.problem import RELOAD_ID


@dataclass(frozen=True, slots=True)
class Visit:
    """One stop of a route. ``start_s`` is when work begins (inside the window).

    A stop at the depot to reload (``Problem.depot``) has ``job_id`` ``RELOAD_ID``.
    """

    job_id: str
    arrival_s: int
    start_s: int
    end_s: int
    travel_s: int
    distance_m: int


@dataclass(frozen=True, slots=True)
class BreakTaken:
    """When the lunch break is taken."""

    start_s: int
    duration_s: int

    @property
    def end_s(self) -> int:
        """When the break is over."""
        return self.start_s + self.duration_s


@dataclass(frozen=True, slots=True)
class Route:
    """One technician's day: leave ``start_s``, visits in order, back ``end_s``.

    A technician with no visits has an empty route and costs nothing.
    """

    technician_id: str
    visits: tuple[Visit, ...]
    start_s: int
    end_s: int
    lunch: BreakTaken | None = None
    return_travel_s: int = 0
    return_distance_m: int = 0

    @property
    def travel_s(self) -> int:
        """Total driving time, the way home included."""
        return sum(v.travel_s for v in self.visits) + self.return_travel_s

    @property
    def distance_m(self) -> int:
        """Total driving distance, the way home included."""
        return sum(v.distance_m for v in self.visits) + self.return_distance_m

    @property
    def work_s(self) -> int:
        """Total time on site at jobs (a depot stop is not a job: see ``depot_s``)."""
        return sum(v.end_s - v.start_s for v in self.visits if v.job_id != RELOAD_ID)

    @property
    def depot_s(self) -> int:
        """Time spent at the depot restocking (0 without a depot stop)."""
        return sum(v.end_s - v.start_s for v in self.visits if v.job_id == RELOAD_ID)

    @property
    def span_s(self) -> int:
        """Door-to-door time (0 for an unused technician)."""
        return self.end_s - self.start_s if self.visits else 0


class ReasonCode(StrEnum):
    NO_SKILL = "no_skill"
    NO_CREW = "no_crew"
    PINNED_UNAVAILABLE = "pinned_unavailable"
    RELEASED_TOO_LATE = "released_too_late"
    NO_SHIFT_IN_WINDOW = "no_shift_in_window"
    TOO_LONG = "too_long"
    NEEDS_OVERTIME = "needs_overtime"
    MAX_JOBS = "max_jobs"
    DAY_FULL = "day_full"
    NO_STOCK = "no_stock"
    TIME_LIMIT = "time_limit"
    DEPENDENCY_NOT_MET = "dependency_not_met"
    NEEDS_HORIZON = "needs_horizon"


@dataclass(frozen=True, slots=True)
class Unassigned:
    """A job left out of the plan, with a reason a dispatcher can act on."""

    job_id: str
    code: ReasonCode
    reason: str


@dataclass(frozen=True, slots=True)
class ObjectiveBreakdown:
    """The objective in cents, term by term. ``total`` orders solutions."""

    time_cost: float = 0.0
    distance_cost: float = 0.0
    job_cost: float = 0.0
    overtime_cost: float = 0.0
    soft_window_penalty: float = 0.0
    preference_penalty: float = 0.0
    unassigned_penalty: float = 0.0
    total_units: int = 0
    # Days served away from jobs' preferred days (a horizon), in cents.
    day_away_penalty: float = 0.0

    @property
    def cost(self) -> float:
        """What the plan costs to run, in cents (no penalties)."""
        return self.time_cost + self.distance_cost + self.job_cost + self.overtime_cost


@dataclass(frozen=True, slots=True)
class SolveStats:
    """How the solve went."""

    status: str = ""
    wall_time_s: float = 0.0
    first_solution_s: float | None = None
    solutions_found: int = 0


@dataclass(frozen=True, slots=True)
class Solution:
    """A plan for the day. Every technician of the problem has a route (maybe empty)."""

    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    objective: ObjectiveBreakdown = field(default_factory=ObjectiveBreakdown)
    stats: SolveStats = field(default_factory=SolveStats)

    def route(self, technician_id: str) -> Route:
        """The route of this technician (KeyError when unknown)."""
        for route in self.routes:
            if route.technician_id == technician_id:
                return route
        raise KeyError(technician_id)

    def served_job_ids(self) -> set[str]:
        """Ids of all jobs that have at least one visit (depot stops are not jobs)."""
        return {v.job_id for r in self.routes for v in r.visits if v.job_id != RELOAD_ID}
