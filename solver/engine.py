"""Plan one day: pre-checks, the OR-Tools search, repair, explanations, the checker.

``solve`` is the one entry point the rest of the product uses.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from solver.checker import check
from solver.explain import explain_dropped, precheck
from solver.objective import Coefficients, coefficients
from solver.ortools_model import RawResult, SearchSettings, solve_model
from solver.problem import Job, Problem
from solver.schedule import RouteTimer, arrival_time
from solver.solution import BreakTaken, ReasonCode, Route, Solution, SolveStats, Unassigned, Visit
from solver.travel import HaversineProvider, PointIndex, TravelMatrices, TravelProvider, problem_travel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """A progress report: ``fraction`` of the time budget used, and what is known."""

    fraction: float
    phase: str
    solutions: int = 0
    best_cents: float | None = None


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class SolveOptions:
    """Time budget (always kept), seed and search settings."""

    time_limit_s: float = 10.0
    seed: int = 0
    search: SearchSettings = field(default_factory=SearchSettings)
    progress_interval_s: float = 0.25

    def __post_init__(self) -> None:
        if self.time_limit_s <= 0:
            raise ValueError("time_limit_s must be positive")


class CheckerRejected(RuntimeError):
    """The solver produced a plan the checker refuses: a bug, never a result."""


def solve(
    problem: Problem,
    options: SolveOptions | None = None,
    travel_provider: TravelProvider | None = None,
    progress: ProgressCallback | None = None,
) -> Solution:
    """The best plan found within ``options.time_limit_s``, checked and explained.

    Every job is either in a route or unassigned with a reason; the returned
    solution passes the independent checker (else ``CheckerRejected``).
    """
    opts = options or SolveOptions()
    started = time.monotonic()
    deadline = started + opts.time_limit_s

    def report(phase: str, solutions: int = 0, best: float | None = None) -> None:
        if progress is not None:
            used = min(1.0, (time.monotonic() - started) / opts.time_limit_s)
            progress(Progress(used, phase, solutions, best))

    points, travel = problem_travel(problem, travel_provider or HaversineProvider())
    coeffs = coefficients(problem, travel)
    pre = precheck(problem, points, travel)
    candidates = [j for j in problem.jobs if j.id not in pre]
    random.Random(opts.seed).shuffle(candidates)
    report("model")

    # Keep back a slice of the budget for extraction, repair and the checker.
    reserve = min(1.0, 0.1 * opts.time_limit_s)
    search_s = max(0.05, deadline - time.monotonic() - reserve)
    raw: RawResult | None = None
    ticker = _Ticker(report, opts.progress_interval_s)
    if candidates and problem.technicians:
        ticker.start()
        try:
            raw = solve_model(
                problem, candidates, points, travel, coeffs, search_s, opts.search, on_solution=ticker.solution
            )
        finally:
            ticker.stop()

    timer = RouteTimer(points, travel, coeffs)
    by_tech, fixed, routes = _routes_from_raw(problem, raw, timer)
    unassigned = dict(pre)
    served = {v.job_id for r in routes.values() for v in r.visits}
    dropped = [j for j in candidates if j.id not in served]
    dropped.sort(key=lambda j: (j.priority, j.id))
    for job in dropped:
        if raw is None or not raw.found:
            unassigned[job.id] = Unassigned(
                job.id, ReasonCode.DAY_FULL, "No plan was found within the time limit; allow more time."
            )
            continue
        if job.crew_size == 1 and time.monotonic() < deadline - 0.05:
            placed = _insert(job, problem, timer, by_tech, fixed, routes)
            if placed:
                continue
        unassigned[job.id] = explain_dropped(job, problem, timer, by_tech, fixed)

    solution = Solution(
        routes=tuple(routes[t.id] for t in problem.technicians),
        unassigned=tuple(unassigned[j.id] for j in problem.jobs if j.id in unassigned),
    )
    report("check")
    solution = _checked(problem, solution, points, travel, coeffs)
    stats = SolveStats(
        status=raw.status if raw is not None else "nothing_to_plan",
        wall_time_s=time.monotonic() - started,
        first_solution_s=raw.first_solution_s if raw is not None else None,
        solutions_found=raw.solutions if raw is not None else 0,
    )
    report("done", stats.solutions_found, solution.objective.total_units * coeffs.unit_mc / 1000)
    return Solution(solution.routes, solution.unassigned, solution.objective, stats)


def _checked(
    problem: Problem, solution: Solution, points: PointIndex, travel: TravelMatrices, coeffs: Coefficients
) -> Solution:
    report = check(problem, solution, points, travel)
    if not report.feasible:
        details = "; ".join(f"{v.kind}: {v.job_id} {v.technician_id} {v.detail}" for v in report.violations[:10])
        raise CheckerRejected(f"{len(report.violations)} violations: {details}")
    return Solution(solution.routes, solution.unassigned, report.objective)


def _routes_from_raw(
    problem: Problem, raw: RawResult | None, timer: RouteTimer
) -> tuple[dict[str, list[Job]], dict[str, list[int | None]], dict[str, Route]]:
    """Routes with travel filled in; also each technician's job order and crew-fixed starts."""
    jobs = {j.id: j for j in problem.jobs}
    raw_routes = {r.technician_id: r for r in raw.routes} if raw is not None else {}
    by_tech: dict[str, list[Job]] = {}
    fixed: dict[str, list[int | None]] = {}
    routes: dict[str, Route] = {}
    for tech in problem.technicians:
        raw_route = raw_routes.get(tech.id)
        seq = [jobs[v.job_id] for v in raw_route.visits] if raw_route else []
        by_tech[tech.id] = seq
        fixed[tech.id] = (
            [v.start_s if jobs[v.job_id].crew_size == 2 else None for v in raw_route.visits] if raw_route else []
        )
        if not raw_route or not seq:
            routes[tech.id] = Route(tech.id, (), tech.shift.start_s, tech.shift.start_s)
            continue
        nodes = [timer.points.tech_start[tech.id]] + [timer.points.job[j.id] for j in seq]
        nodes.append(timer.points.tech_end[tech.id])
        lunch = None
        if raw_route.lunch_start_s is not None and tech.shift.lunch is not None:
            lunch = BreakTaken(raw_route.lunch_start_s, tech.shift.lunch.duration_s)
        visits = []
        prev_end = raw_route.depart_s
        for k, (job, raw_visit) in enumerate(zip(seq, raw_route.visits, strict=True)):
            travel_s = int(timer.duration[nodes[k], nodes[k + 1]])
            visits.append(
                Visit(
                    job.id,
                    arrival_time(prev_end, travel_s, lunch, raw_visit.start_s),
                    raw_visit.start_s,
                    raw_visit.start_s + job.duration_s,
                    travel_s,
                    int(timer.distance[nodes[k], nodes[k + 1]]),
                )
            )
            prev_end = raw_visit.start_s + job.duration_s
        routes[tech.id] = Route(
            tech.id,
            tuple(visits),
            raw_route.depart_s,
            raw_route.return_s,
            lunch,
            int(timer.duration[nodes[-2], nodes[-1]]),
            int(timer.distance[nodes[-2], nodes[-1]]),
        )
    return by_tech, fixed, routes


def _insert(
    job: Job,
    problem: Problem,
    timer: RouteTimer,
    by_tech: dict[str, list[Job]],
    fixed: dict[str, list[int | None]],
    routes: dict[str, Route],
) -> bool:
    """Put ``job`` where it costs least if any route has room; True when placed."""
    best: tuple[int, str, list[Job], list[int | None]] | None = None
    for tech in problem.technicians:
        if not tech.has_skills(job.skills):
            continue
        if job.pinned_technician_id is not None and tech.id != job.pinned_technician_id:
            continue
        current = by_tech[tech.id]
        if tech.max_jobs is not None and len(current) >= tech.max_jobs:
            continue
        before = timer.timing(tech, current, fixed_starts=fixed[tech.id])
        if before is None:
            continue
        base = timer.route_cost(tech, current, before)
        for pos in range(len(current) + 1):
            seq = [*current[:pos], job, *current[pos:]]
            starts = [*fixed[tech.id][:pos], None, *fixed[tech.id][pos:]]
            timing = timer.timing(tech, seq, fixed_starts=starts)
            if timing is None:
                continue
            delta = timer.route_cost(tech, seq, timing) - base
            if best is None or delta < best[0]:
                best = (delta, tech.id, seq, starts)
    if best is None:
        return False
    _, tech_id, seq, starts = best
    tech = problem.technician(tech_id)
    timing = timer.timing(tech, seq, fixed_starts=starts)
    assert timing is not None
    by_tech[tech_id] = seq
    fixed[tech_id] = starts
    routes[tech_id] = timer.route(tech, seq, timing)
    log.info("repair placed %s on %s", job.id, tech_id)
    return True


class _Ticker:
    """Reports time-based progress while OR-Tools searches."""

    def __init__(self, report: Callable[..., None], interval_s: float) -> None:
        self._report = report
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.solutions = 0
        self.best_units: int | None = None

    def solution(self, count: int, best_units: int) -> None:
        self.solutions = count
        self.best_units = best_units

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._report("search", self.solutions, None)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
