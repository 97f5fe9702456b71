"""Plan one day: pre-checks, the OR-Tools search, repair, explanations, the checker.

``solve`` is the one entry point the rest of the product uses.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import multiprocessing
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import numpy as np

from solver import sisr
from solver.checker import check
from solver.explain import explain_dropped, precheck
from solver.objective import Coefficients, coefficients
from solver.ortools_model import (
    CrewAssignment,
    ProgressHook,
    RawResult,
    RawRoute,
    RawVisit,
    SearchSettings,
    solve_model,
)
from solver.problem import RELOAD_ID, Job, Problem, Technician
from solver.schedule import RouteTimer, arrival_time
from solver.solution import BreakTaken, Route, Solution, SolveStats, Visit
from solver.travel import HaversineProvider, PointIndex, TravelMatrices, TravelProvider, problem_travel

log = logging.getLogger(__name__)
# Insertion tries at most this many technicians per job, the ones based nearest it.
NEAREST_TECHNICIANS = 25


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
    # A plan to start from: per technician id, job ids in visiting order with the agreed
    # start of crew visits (None for the rest), e.g. the booking working plan. Routes that
    # do not time are left out; the rest of the jobs is placed around them.
    initial_routes: Mapping[str, Sequence[tuple[str, int | None]]] | None = None

    def __post_init__(self) -> None:
        if self.time_limit_s <= 0:
            raise ValueError("time_limit_s must be positive")


_ALWAYS_EXPLAIN_JOBS = 200
# Above this many jobs left out after the repair's insertions, none is tried by moving another.
_MOVE_ONE_MAX_JOBS = 20
_RELAXED_REPAIR_SHARE = 0.1
# Days with crews: the construction places crew jobs for at most this share of the
# search time before the compiled search (on 200 × 2,000 all 90 took 5 of 9 s).
_CREW_SHARE = 0.15


class Cancelled(RuntimeError):
    """The caller cancelled the solve; no plan is returned."""


class CheckerRejected(RuntimeError):
    """The solver produced a plan the checker refuses: a bug, never a result."""


def solve(
    problem: Problem,
    options: SolveOptions | None = None,
    travel_provider: TravelProvider | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> Solution:
    """The best plan found within ``options.time_limit_s``, checked and explained.

    Every job is either in a route or unassigned with a reason; the returned
    solution passes the independent checker (else ``CheckerRejected``).
    Setting ``cancel`` stops the search soon after and raises ``Cancelled``.
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
    search_until = deadline - reserve
    timer = RouteTimer(points, travel, coeffs, problem.lunch_on_site_min_s)
    plan = _Plan.empty(problem)
    raw: RawResult | None = None
    ticker = _Ticker(report, opts.progress_interval_s)
    if candidates and problem.technicians:
        ticker.start()
        try:
            raw, plan = _search(
                problem, candidates, points, travel, coeffs, timer, opts, search_until, ticker, cancel, reserve / 2
            )
        finally:
            ticker.stop()
    if cancel is not None and cancel.is_set():
        raise Cancelled("the solve was cancelled")

    log.info("search phase over, %.2f s left", deadline - time.monotonic())
    # Repair and explanations stop in time for the checker, which rebuilds the
    # objective's coefficients over the whole matrix (0.4 s at 5,500 points).
    finish_by = deadline - _check_s(len(points.points))
    if opts.initial_routes:
        _restore_promises(problem, candidates, opts.initial_routes, timer, plan)
    unassigned = dict(pre)
    served = {j.id for seq in plan.jobs.values() for j in seq}
    dropped = [j for j in candidates if j.id not in served]
    dropped.sort(key=lambda j: (j.priority, j.id))
    left: list[Job] = []
    # Jobs the repair step had no time left to try: their reason is the time limit,
    # whatever the final plan looks like (it never tried them against it).
    untried: set[str] = set()
    for j in dropped:
        if j.id in plan.untried:
            untried.add(j.id)
            left.append(j)
        elif raw is not None and raw.status == sisr.STATUS:
            # The compiled search (or, for crews, the construction before it) offered
            # this job every place already.
            left.append(j)
        elif time.monotonic() >= finish_by:
            untried.add(j.id)
            left.append(j)
        elif not (_insert(j, problem, timer, plan) or _insert_via_depot(j, problem, timer, plan, finish_by)):
            left.append(j)
    if len(left) <= _MOVE_ONE_MAX_JOBS:
        # What still fits nowhere may fit once one other job moves to another technician
        # (the search can stall with such a job out: TRSP, docs/benchmarks.md).
        left = [j for j in left if not _insert_moving_one(j, problem, timer, plan, finish_by)]
    _drop_idle_reloads(problem, timer, plan)
    for job in left:
        # Small days are always explained in full (milliseconds); only large days that
        # spent their budget fall back to "time limit", so the reason does not hang on load.
        thorough = job.id not in untried and (len(problem.jobs) <= _ALWAYS_EXPLAIN_JOBS or time.monotonic() < finish_by)
        unassigned[job.id] = explain_dropped(job, problem, timer, plan.jobs, plan.fixed, thorough)
    routes = plan.routes

    solution = Solution(
        routes=tuple(routes[t.id] for t in problem.technicians),
        unassigned=tuple(unassigned[j.id] for j in problem.jobs if j.id in unassigned),
    )
    log.info("repair and explanations done, %.2f s left", deadline - time.monotonic())
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


def _check_s(n_points: int) -> float:
    """About how long the final check takes for a day of ``n_points`` places (seconds)."""
    return 0.05 + 2e-8 * n_points * n_points


def _drop_idle_reloads(problem: Problem, timer: RouteTimer, plan: _Plan) -> None:
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


def _checked(
    problem: Problem, solution: Solution, points: PointIndex, travel: TravelMatrices, coeffs: Coefficients
) -> Solution:
    report = check(problem, solution, points, travel)
    if not report.feasible:
        details = "; ".join(f"{v.kind}: {v.job_id} {v.technician_id} {v.detail}" for v in report.violations[:10])
        raise CheckerRejected(f"{len(report.violations)} violations: {details}")
    return Solution(solution.routes, solution.unassigned, report.objective)


@dataclass
class _Plan:
    """The working plan: jobs in order per technician, crew starts fixed, and the timed routes."""

    jobs: dict[str, list[Job]]
    fixed: dict[str, list[int | None]]
    routes: dict[str, Route]
    costs: dict[str, int | None] = dataclasses.field(default_factory=dict)
    # Jobs the search offered no place at all (crews the construction had no time for).
    untried: set[str] = dataclasses.field(default_factory=set)

    @classmethod
    def empty(cls, problem: Problem) -> _Plan:
        return cls(
            {t.id: [] for t in problem.technicians},
            {t.id: [] for t in problem.technicians},
            {t.id: Route(t.id, (), t.shift.start_s, t.shift.start_s) for t in problem.technicians},
        )

    def retime(self, tech: Technician, timer: RouteTimer) -> bool:
        """Recompute one technician's route from its jobs; False when it no longer fits."""
        self.costs.pop(tech.id, None)
        timing = timer.timing(tech, self.jobs[tech.id], fixed_starts=self.fixed[tech.id])
        if timing is None:
            return False
        self.routes[tech.id] = timer.route(tech, self.jobs[tech.id], timing)
        return True

    def base_cost(self, tech: Technician, timer: RouteTimer) -> int | None:
        """The cost of one technician's current sequence (cached until it changes)."""
        if tech.id not in self.costs:
            timing = timer.timing(tech, self.jobs[tech.id], fixed_starts=self.fixed[tech.id])
            self.costs[tech.id] = None if timing is None else timer.route_cost(tech, self.jobs[tech.id], timing)
        return self.costs[tech.id]

    def saved(self, tech_ids: Iterable[str]) -> dict[str, tuple[list[Job], list[int | None], Route]]:
        """A copy of these technicians' sequences and routes, for ``restore``."""
        return {t: (list(self.jobs[t]), list(self.fixed[t]), self.routes[t]) for t in tech_ids}

    def restore(self, saved: dict[str, tuple[list[Job], list[int | None], Route]]) -> None:
        """Put back what ``saved`` copied."""
        for tech_id, (seq, fixed, route) in saved.items():
            self.jobs[tech_id], self.fixed[tech_id], self.routes[tech_id] = seq, fixed, route
            self.costs.pop(tech_id, None)

    def remove(self, tech_id: str, job_id: str) -> None:
        """Take a job out of one technician's sequence."""
        self.costs.pop(tech_id, None)
        pos = next(i for i, j in enumerate(self.jobs[tech_id]) if j.id == job_id)
        del self.jobs[tech_id][pos]
        del self.fixed[tech_id][pos]


def prepare(wait: bool = False) -> bool:
    """Get the compiled search ready: compiled on a machine's first use (about 10 s),
    loaded from cache after that. In the background, or before returning when ``wait``;
    True when it is ready. Until then ``solve`` plans every day with OR-Tools."""
    if wait:
        sisr.warm_up()
        return True
    return sisr.ready()


def _search(
    problem: Problem,
    candidates: list[Job],
    points: PointIndex,
    travel: TravelMatrices,
    coeffs: Coefficients,
    timer: RouteTimer,
    opts: SolveOptions,
    search_until: float,
    ticker: _Ticker,
    cancel: threading.Event | None = None,
    grace_s: float = 0.0,
) -> tuple[RawResult | None, _Plan]:
    """OR-Tools local search, warm-started from a greedy construction or started cold;
    with the portfolio on, a second search on another core, and the better plan.

    Days with crews or with at most ``detailed_model_max_visits`` visits: the
    construction places urgent, crew and long jobs first, each where it adds least
    cost (crews as two technicians with one common start), and the search keeps
    each crew on its two technicians and start and moves everything else. The
    portfolio's cold search starts at once when there is no crew, else after the
    construction with the crews where the construction put them.
    Larger days without crews: cold searches here (``cold_searches``) and on the
    other core (``portfolio_searches``). The other core's result is waited for at
    most ``grace_s`` past ``search_until`` and kept when the model's objective
    says it is better.
    """
    settings = opts.search
    detailed = sum(j.crew_size for j in candidates) <= settings.detailed_model_max_visits
    no_crews = all(j.crew_size == 1 for j in candidates)
    if _ruin_and_recreate(problem, candidates, opts):
        return _search_compiled(problem, candidates, points, travel, coeffs, timer, opts, search_until, ticker, cancel)
    cold_only = no_crews and not detailed and not opts.initial_routes
    if not detailed and any(t.shift.lunch is not None for t in problem.technicians):
        # The relaxed model leaves each lunch to be placed after the search, and a
        # route that cannot hold it hands a job back to the repair step (tens of
        # milliseconds per job): that step gets a further tenth of the search time.
        search_until -= _RELAXED_REPAIR_SHARE * max(0.0, search_until - time.monotonic())
    portfolio = _portfolio_possible(settings)
    stop = cancel.is_set if cancel is not None else None
    other: _ColdSearch | None = None
    # Depot stops are optional: the other core may look for plans without any (a smaller
    # search space, which on TRSP gave far shorter routes); the better plan is kept.
    other_problem = problem
    if problem.depot is not None and settings.portfolio_without_depot:
        other_problem = dataclasses.replace(problem, depot=None)
    if portfolio and no_crews:
        strategies = settings.portfolio_searches if cold_only else settings.cold_searches
        # Without its depot stops the day may suit the compiled search (TRSP does).
        compiled = (
            other_problem is not problem
            and settings.ruin_and_recreate
            and sisr.eligible(other_problem, candidates, opts.initial_routes)
            and sisr.ready()
        )
        other = _ColdSearch.start(
            other_problem,
            candidates,
            points,
            travel,
            coeffs,
            search_until,
            settings,
            strategies,
            {},
            detailed,
            opts.seed + 1,
            compiled,
        )
    try:
        jobs = candidates
        if cold_only:
            plan = _Plan.empty(problem)
            raw = _cold_runs(
                problem,
                jobs,
                points,
                travel,
                coeffs,
                search_until,
                settings,
                settings.cold_searches,
                {},
                detailed,
                opts.seed,
                on_solution=ticker.solution,
                stop=stop,
            )
        else:
            build_timer = timer
            if not detailed:
                build_timer = RouteTimer(points, travel, coeffs, problem.lunch_on_site_min_s, reserve_lunch=True)
            plan = _Plan.empty(problem)
            if opts.initial_routes:
                _seed(plan, problem, candidates, opts.initial_routes, build_timer)
            seeded = {j.id for seq in plan.jobs.values() for j in seq}
            sought = {} if no_crews else _sought(problem, candidates, coeffs)
            for job in sorted(candidates, key=lambda j: (j.priority, -j.crew_size, -j.duration_s, j.id)):
                if time.monotonic() >= search_until or (cancel is not None and cancel.is_set()):
                    break
                if job.id not in seeded:
                    _insert(job, problem, build_timer, plan, sought)
            crews = _crews_of(plan)
            # Small days: crews the construction could not place stay in the model, synchronised there.
            jobs = [j for j in candidates if j.crew_size == 1 or j.id in crews or detailed]
            seeds = {tech_id: [j.id for j in seq] for tech_id, seq in plan.jobs.items()}
            placed = len({j.id for s in plan.jobs.values() for j in s})
            log.info("construction: %d of %d jobs placed", placed, len(candidates))
            if cancel is not None and cancel.is_set():
                return None, plan
            if portfolio and other is None:
                other = _ColdSearch.start(
                    other_problem,
                    jobs,
                    points,
                    travel,
                    coeffs,
                    search_until,
                    settings,
                    settings.cold_searches,
                    crews,
                    detailed,
                    opts.seed + 1,
                )
            raw = solve_model(
                problem,
                jobs,
                points,
                travel,
                coeffs,
                search_until,
                settings,
                on_solution=ticker.solution,
                stop=stop,
                crew_fixed=crews,
                initial_routes=seeds if any(seeds.values()) else None,
                detailed=detailed,
            )
        log.info("search: %s, %d visits, %d solutions", raw.status, _visits(raw), raw.solutions)
        if cancel is not None and cancel.is_set():
            return None, plan
        if not raw.found:
            raw = _raw_of(plan)
        if other is not None:
            # Both searches ran the same model on the same jobs: their objectives compare
            # (our objective on detailed days, its lunch-free relaxation on larger ones).
            other_raw = other.result(search_until + grace_s, cancel)
            if other_raw is None:
                log.info("portfolio: no result from the other core")
            else:
                log.info(
                    "portfolio: here %s, other core %s (%d solutions)",
                    raw.objective_units,
                    other_raw.objective_units,
                    other_raw.solutions,
                )
                if _better(other_raw, raw):
                    raw = other_raw
        return raw, _plan_of(problem, raw, timer, detailed)
    finally:
        if other is not None:
            other.close()


def _search_compiled(
    problem: Problem,
    candidates: list[Job],
    points: PointIndex,
    travel: TravelMatrices,
    coeffs: Coefficients,
    timer: RouteTimer,
    opts: SolveOptions,
    search_until: float,
    ticker: _Ticker,
    cancel: threading.Event | None,
) -> tuple[RawResult | None, _Plan]:
    """The compiled ruin and recreate on every core, crew jobs first placed by the
    construction (each on the cheapest pair of technicians with a common start, for
    at most ``_CREW_SHARE`` of the time) and then kept where they are. Crews not
    placed go to the repair step."""
    crews: dict[str, CrewAssignment] = {}
    crew_jobs = [j for j in candidates if j.crew_size == 2]
    untried: set[str] = set()
    if crew_jobs:
        plan = _Plan.empty(problem)
        crews_until = time.monotonic() + _CREW_SHARE * max(0.0, search_until - time.monotonic())
        sought = _sought(problem, candidates, coeffs)
        for job in sorted(crew_jobs, key=lambda j: (j.priority, -j.duration_s, j.id)):
            if time.monotonic() >= crews_until or (cancel is not None and cancel.is_set()):
                untried.add(job.id)
                continue
            _insert(job, problem, timer, plan, sought)
        crews = _crews_of(plan)
        log.info("construction: %d of %d crew jobs placed", len(crews), len(crew_jobs))
    threads = 2 if opts.search.portfolio and _cores() >= 2 else 1
    raw = sisr.search(
        problem,
        candidates,
        points,
        travel,
        coeffs,
        search_until,
        opts.seed,
        threads,
        on_solution=ticker.solution,
        stop=cancel.is_set if cancel is not None else None,
        crews=crews,
    )
    log.info(
        "ruin and recreate: %d visits, %d solutions, objective %s", _visits(raw), raw.solutions, raw.objective_units
    )
    if cancel is not None and cancel.is_set():
        return None, _Plan.empty(problem)
    plan = _plan_from_raw(problem, raw, timer)
    plan.untried = untried
    return raw, plan


def _sought(problem: Problem, candidates: list[Job], coeffs: Coefficients) -> dict[str, int]:
    """Per technician, what the one-person work that falls to them would cost at their
    hourly rate: each job's duration shared equally among the technicians qualified for
    it. A crew placed on a technician few others can stand in for costs this much more."""
    singles = [j for j in candidates if j.crew_size == 1]
    if not singles:
        return {}
    able = sisr.qualified(problem, singles)
    sharing = able.sum(axis=0)
    duration = np.array([j.duration_s for j in singles], dtype=np.float64)
    share = np.divide(duration, sharing, out=np.zeros_like(duration), where=sharing > 0)
    seconds = able @ share
    return {t.id: round(float(seconds[v]) * coeffs.per_s[t.id]) for v, t in enumerate(problem.technicians)}


def _ruin_and_recreate(problem: Problem, candidates: list[Job], opts: SolveOptions) -> bool:
    """This day goes to the compiled ruin-and-recreate search: it models the day
    (``sisr.eligible``) and is compiled by now."""
    if not opts.search.ruin_and_recreate or not sisr.eligible(problem, candidates, opts.initial_routes):
        return False
    return sisr.ready()


def _cold_runs(
    problem: Problem,
    jobs: list[Job],
    points: PointIndex,
    travel: TravelMatrices,
    coeffs: Coefficients,
    deadline: float,
    settings: SearchSettings,
    strategies: tuple[tuple[str, str], ...],
    crews: dict[str, CrewAssignment],
    detailed: bool,
    seed: int,
    on_solution: ProgressHook | None = None,
    stop: Callable[[], bool] | None = None,
) -> RawResult:
    """Cold searches one after another until ``deadline``: each (first solution,
    metaheuristic) pair of ``strategies`` in turn, then again on shuffled job orders.
    With ``settings.stall_ratio`` a search that stalls hands the rest of the time to
    the next (while ``restart_min_fraction`` of the budget is left); without it the
    first search has the whole budget. The best result by the model's objective,
    with the solutions of all searches counted."""
    budget = max(1e-3, deadline - time.monotonic())
    rng = random.Random(seed)
    best: RawResult | None = None
    solutions = 0
    for k in itertools.count():
        order = list(jobs)
        if k >= len(strategies):
            rng.shuffle(order)
        first_solution, metaheuristic = strategies[k % len(strategies)]
        cold = dataclasses.replace(settings, first_solution=first_solution, metaheuristic=metaheuristic)
        raw = solve_model(
            problem,
            order,
            points,
            travel,
            coeffs,
            deadline,
            cold,
            on_solution=on_solution,
            stop=stop,
            crew_fixed=crews,
            detailed=detailed,
            stall_ratio=settings.stall_ratio,
            min_stall_s=settings.stall_min_fraction * budget,
        )
        solutions += raw.solutions
        if _better(raw, best):
            best = raw
        log.info("cold search %d (%s): %s, objective %s", k, cold.first_solution, raw.status, raw.objective_units)
        left = deadline - time.monotonic()
        if raw.status != "stalled" or left < settings.restart_min_fraction * budget or (stop is not None and stop()):
            break
    result = best if best is not None else raw
    return dataclasses.replace(result, solutions=solutions)


def _better(raw: RawResult, than: RawResult | None) -> bool:
    """``raw`` found a solution and it is cheaper by the model's objective than ``than``."""
    if not raw.found or raw.objective_units is None:
        return False
    return than is None or than.objective_units is None or raw.objective_units < than.objective_units


def _visits(raw: RawResult) -> int:
    return sum(len(r.visits) for r in raw.routes)


def _plan_of(problem: Problem, raw: RawResult, timer: RouteTimer, detailed: bool) -> _Plan:
    """The working plan of a model result (lunches added on days the model ran without them)."""
    return _plan_from_raw(problem, raw, timer) if detailed else _plan_adding_lunch(problem, raw, timer)


def _cores() -> int:
    """Cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _portfolio_possible(settings: SearchSettings) -> bool:
    """The portfolio is on, and there is a second core and a fork to run it in."""
    return settings.portfolio and _cores() >= 2 and "fork" in multiprocessing.get_all_start_methods()


class _ColdSearch:
    """A cold-started OR-Tools search in a forked process: another core, same deadline.

    The parent never waits for it past the time it names, and ends it when it is
    done with it (cancelled, late or collected), so a stuck child costs nothing.
    """

    def __init__(self, process: multiprocessing.process.BaseProcess, conn: Connection) -> None:
        self._process = process
        self._conn = conn

    @classmethod
    def start(
        cls,
        problem: Problem,
        jobs: list[Job],
        points: PointIndex,
        travel: TravelMatrices,
        coeffs: Coefficients,
        deadline: float,
        settings: SearchSettings,
        strategies: tuple[tuple[str, str], ...],
        crews: dict[str, CrewAssignment],
        detailed: bool,
        seed: int,
        compiled: bool = False,
    ) -> _ColdSearch | None:
        """Fork cold searches (``_cold_runs`` with these strategies, or the compiled ruin
        and recreate when ``compiled``); None when that cannot start."""
        try:
            ctx = multiprocessing.get_context("fork")
            receive, send = ctx.Pipe(duplex=False)
            process = ctx.Process(
                target=_cold_child,
                args=(
                    send,
                    problem,
                    jobs,
                    points,
                    travel,
                    coeffs,
                    deadline,
                    settings,
                    strategies,
                    crews,
                    detailed,
                    seed,
                    compiled,
                ),
                daemon=True,
            )
            process.start()
        except (OSError, ValueError) as exc:
            log.warning("portfolio search not started: %s", exc)
            return None
        send.close()
        return cls(process, receive)

    def result(self, until: float, cancel: threading.Event | None) -> RawResult | None:
        """The child's result if it arrives by ``until`` (time.monotonic()), else None."""
        while cancel is None or not cancel.is_set():
            left = until - time.monotonic()
            try:
                if self._conn.poll(max(0.0, min(0.05, left))):
                    got = self._conn.recv()
                    return got if isinstance(got, RawResult) else None
            except (EOFError, OSError):
                return None
            if left <= 0:
                return None
        return None

    def close(self) -> None:
        """End the child (if still running) and release the pipe."""
        self._conn.close()
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(0.5)
            if self._process.is_alive():
                self._process.kill()
        self._process.join(0.5)


def _cold_child(
    conn: Connection,
    problem: Problem,
    jobs: list[Job],
    points: PointIndex,
    travel: TravelMatrices,
    coeffs: Coefficients,
    deadline: float,
    settings: SearchSettings,
    strategies: tuple[tuple[str, str], ...],
    crews: dict[str, CrewAssignment],
    detailed: bool,
    seed: int,
    compiled: bool = False,
) -> None:
    """In the forked child: search, send the result, and leave without running the
    parent's exit handlers (open connections and files belong to the parent)."""
    try:
        if compiled:
            conn.send(sisr.search(problem, jobs, points, travel, coeffs, deadline, seed))
        else:
            conn.send(
                _cold_runs(problem, jobs, points, travel, coeffs, deadline, settings, strategies, crews, detailed, seed)
            )
    except BaseException:
        log.exception("cold search failed")
    finally:
        conn.close()
        os._exit(0)


def _raw_of(plan: _Plan) -> RawResult:
    """A plan in the model's result shape (for when the search found nothing better)."""
    routes = tuple(
        RawRoute(
            route.technician_id,
            tuple(RawVisit(v.job_id, v.start_s) for v in route.visits),
            route.start_s,
            route.end_s,
            route.lunch.start_s if route.lunch is not None else None,
        )
        for route in plan.routes.values()
    )
    return RawResult(routes, "construction", True, 0, None, None)


def _seed(
    plan: _Plan,
    problem: Problem,
    candidates: list[Job],
    routes: Mapping[str, Sequence[tuple[str, int | None]]],
    timer: RouteTimer,
) -> None:
    """Start ``plan`` from ``routes``: each route that times as given (jobs not
    among ``candidates`` dropped) is kept; a crew visit is kept only where both
    of its technicians' routes are."""
    by_id = {j.id: j for j in candidates}
    for tech in problem.technicians:
        given = [(by_id[i], start) for i, start in routes.get(tech.id, ()) if i in by_id]
        plan.jobs[tech.id] = [job for job, _ in given]
        plan.fixed[tech.id] = [start if job.crew_size == 2 else None for job, start in given]
        if not plan.retime(tech, timer):
            plan.jobs[tech.id], plan.fixed[tech.id] = [], []
            plan.retime(tech, timer)
    crews = _crews_of(plan)
    for tech in problem.technicians:
        lone = [j.id for j in plan.jobs[tech.id] if j.crew_size == 2 and j.id not in crews]
        for job_id in lone:
            plan.remove(tech.id, job_id)
        if lone:
            plan.retime(tech, timer)
    log.info("seeded: %d jobs from the initial routes", len({j.id for s in plan.jobs.values() for j in s}))


def _restore_promises(
    problem: Problem,
    candidates: list[Job],
    routes: Mapping[str, Sequence[tuple[str, int | None]]],
    timer: RouteTimer,
    plan: _Plan,
) -> None:
    """Give back its starting route to each technician whose start held a
    promise (a priority-0 job) the search lost, where that route times exactly
    and holds no crew visit; the jobs it displaces go to the repair that follows."""
    by_id = {j.id: j for j in candidates}
    restored: set[str] = set()
    # A restored route may displace a promise of another starting route: go round until none is lost.
    # Starting routes are disjoint, so each technician is restored at most once.
    while True:
        served = {j.id for seq in plan.jobs.values() for j in seq}
        lost = next(
            (
                t
                for t in problem.technicians
                if t.id not in restored
                and any(by_id[i].priority == 0 and i not in served for i, _ in routes.get(t.id, ()) if i in by_id)
            ),
            None,
        )
        if lost is None:
            return
        restored.add(lost.id)
        _restore_route(problem, [by_id[i] for i, _ in routes.get(lost.id, ()) if i in by_id], lost, timer, plan)


def _restore_route(problem: Problem, seq: list[Job], tech: Technician, timer: RouteTimer, plan: _Plan) -> None:
    """Give ``tech`` the route ``seq`` again (taking its jobs off other technicians), where it times."""
    if any(j.crew_size > 1 for j in seq):
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
    plan.jobs[tech.id], plan.fixed[tech.id] = list(seq), [None] * len(seq)
    plan.retime(tech, timer)
    log.info("restored the starting route of %s to keep its promises", tech.id)


def _crews_of(plan: _Plan) -> dict[str, CrewAssignment]:
    """The crew jobs of a plan: their two technicians and common start."""
    members: dict[str, list[tuple[str, int]]] = {}
    for tech_id, seq in plan.jobs.items():
        for job, start in zip(seq, plan.fixed[tech_id], strict=True):
            if job.crew_size == 2 and start is not None:
                members.setdefault(job.id, []).append((tech_id, start))
    return {
        job_id: CrewAssignment(crew[0][0], crew[1][0], crew[0][1]) for job_id, crew in members.items() if len(crew) == 2
    }


def _plan_from_raw(problem: Problem, raw: RawResult, timer: RouteTimer, retime_all: bool = False) -> _Plan:
    """The working plan of a model result; times as the model set them unless ``retime_all``."""
    plan = _Plan.empty(problem)
    jobs = {j.id: j for j in problem.jobs}
    reload = problem.reload_job()
    if reload is not None:
        jobs[RELOAD_ID] = reload
    for raw_route in raw.routes:
        tech = problem.technician(raw_route.technician_id)
        seq = [jobs[v.job_id] for v in raw_route.visits]
        plan.jobs[tech.id] = seq
        plan.fixed[tech.id] = [v.start_s if jobs[v.job_id].crew_size == 2 else None for v in raw_route.visits]
        if not seq:
            continue
        if retime_all:
            plan.fixed[tech.id] = [None] * len(seq)
            if not plan.retime(tech, timer):
                raise AssertionError(f"route of {tech.id} from the model does not time")
            continue
        plan.routes[tech.id] = _route_from_raw(problem, tech, seq, raw_route, timer)
    return plan


def _plan_adding_lunch(problem: Problem, raw: RawResult, timer: RouteTimer) -> _Plan:
    """The plan of a model result that had no lunch: each lunch goes into a gap of the
    model's times where one fits, else the route is re-timed; a route that cannot hold
    its lunch loses its least urgent jobs (they go back to the repair step)."""
    plan = _plan_from_raw(problem, raw, timer)
    raw_routes = {r.technician_id: r for r in raw.routes}
    for tech in problem.technicians:
        seq = plan.jobs[tech.id]
        if not seq or tech.shift.lunch is None:
            continue
        raw_route = raw_routes[tech.id]
        lunch_at = _lunch_gap(problem, tech, seq, raw_route, timer)
        if lunch_at is not None:
            plan.routes[tech.id] = _route_from_raw(
                problem, tech, seq, dataclasses.replace(raw_route, lunch_start_s=lunch_at), timer
            )
            continue
        while not plan.retime(tech, timer):
            if all(j.id == RELOAD_ID for j in plan.jobs[tech.id]):
                plan.jobs[tech.id], plan.fixed[tech.id] = [], []
                plan.routes[tech.id] = Route(tech.id, (), tech.shift.start_s, tech.shift.start_s)
                break
            victim = max(
                (j for j in plan.jobs[tech.id] if j.id != RELOAD_ID),
                key=lambda j: (j.crew_size == 1, j.priority, j.duration_s),
            )
            for tech_id, other in plan.jobs.items():
                if any(j.id == victim.id for j in other):
                    plan.remove(tech_id, victim.id)
                    if tech_id != tech.id and not plan.retime(problem.technician(tech_id), timer):
                        raise AssertionError(f"removing {victim.id} broke {tech_id}")
            if not plan.jobs[tech.id]:
                plan.routes[tech.id] = Route(tech.id, (), tech.shift.start_s, tech.shift.start_s)
                break
    return plan


def _lunch_gap(
    problem: Problem, tech: Technician, seq: list[Job], raw_route: RawRoute, timer: RouteTimer
) -> int | None:
    """A lunch start that fits the model's times unchanged, or None."""
    lunch = tech.shift.lunch
    assert lunch is not None
    d = lunch.duration_s
    depart, back = raw_route.depart_s, raw_route.return_s
    if lunch.earliest_s + d <= depart:
        return lunch.earliest_s
    nodes = [timer.points.tech_start[tech.id]] + [timer.points.job[j.id] for j in seq]
    nodes.append(timer.points.tech_end[tech.id])
    free_from, busy_end = depart, depart
    starts = [v.start_s for v in raw_route.visits] + [back]
    for k, next_start in enumerate(starts):
        b = max(free_from, lunch.earliest_s)
        leg = int(timer.duration[nodes[k], nodes[k + 1]])
        if b <= lunch.latest_s and b + d <= next_start and next_start - busy_end >= leg + d:
            return b
        if k < len(seq):
            busy_end = next_start + seq[k].duration_s
            free_from = next_start if problem.lunch_on_site(seq[k]) else busy_end
    b = max(back, lunch.earliest_s)
    return b if b <= lunch.latest_s else None


def _route_from_raw(
    problem: Problem, tech: Technician, seq: list[Job], raw_route: RawRoute, timer: RouteTimer
) -> Route:
    nodes = [timer.points.tech_start[tech.id]] + [timer.points.job[j.id] for j in seq]
    nodes.append(timer.points.tech_end[tech.id])
    lunch = None
    if raw_route.lunch_start_s is not None and tech.shift.lunch is not None:
        lunch = BreakTaken(raw_route.lunch_start_s, tech.shift.lunch.duration_s)
    visits = []
    prev_end = prev_from = raw_route.depart_s
    for k, (job, raw_visit) in enumerate(zip(seq, raw_route.visits, strict=True)):
        travel_s = int(timer.duration[nodes[k], nodes[k + 1]])
        visits.append(
            Visit(
                job.id,
                arrival_time(prev_end, travel_s, lunch, raw_visit.start_s, prev_from),
                raw_visit.start_s,
                raw_visit.start_s + job.duration_s,
                travel_s,
                int(timer.distance[nodes[k], nodes[k + 1]]),
            )
        )
        prev_end = raw_visit.start_s + job.duration_s
        prev_from = raw_visit.start_s if problem.lunch_on_site(job) else prev_end
    return Route(
        tech.id,
        tuple(visits),
        raw_route.depart_s,
        raw_route.return_s,
        lunch,
        int(timer.duration[nodes[-2], nodes[-1]]),
        int(timer.distance[nodes[-2], nodes[-1]]),
    )


def _insert(
    job: Job, problem: Problem, timer: RouteTimer, plan: _Plan, sought: Mapping[str, int] | None = None
) -> bool:
    """Put ``job`` where it costs least if the plan has room; True when placed. A crew
    job also counts ``sought[t]`` for each technician ``t`` it takes."""
    options = _insertion_options(job, problem, timer, plan)
    if job.crew_size == 1:
        if not options:
            return False
        _, tech, pos, _ = min(options, key=lambda o: o[0])
        return _place(plan, timer, [(tech, pos)], job, None)
    # A crew: two technicians, one common start; try the cheapest pairs first.
    options.sort(key=lambda o: o[0])
    pairs = [
        (a, b)
        for i, a in enumerate(options[:40])
        for b in options[i + 1 : 40]
        if a[1].id != b[1].id and job.pinned_technician_id in (None, a[1].id, b[1].id)
    ]
    extra = sought or {}
    pairs.sort(key=lambda ab: ab[0][0] + ab[1][0] + extra.get(ab[0][1].id, 0) + extra.get(ab[1][1].id, 0))
    for a, b in pairs[:60]:
        start = max(a[3], b[3])
        if _place(plan, timer, [(a[1], a[2]), (b[1], b[2])], job, start):
            return True
    return False


def _insert_moving_one(job: Job, problem: Problem, timer: RouteTimer, plan: _Plan, until: float) -> bool:
    """Place a one-person ``job`` that fits nowhere as it is by moving one other job of a
    qualified technician to another route, the pair of changes that costs least; True
    when placed. Crew, pinned and start-fixed jobs are never moved; nothing is lost.
    """
    if job.crew_size != 1:
        return False
    elsewhere: dict[str, list[tuple[int, Technician, int, int]]] = {}
    best: tuple[int, Technician, Job, int, Technician, int] | None = None
    for tech in _able(job, problem, timer):
        base = plan.base_cost(tech, timer)
        if base is None:
            continue
        current, fixed = plan.jobs[tech.id], plan.fixed[tech.id]
        for i, moved in enumerate(current):
            if time.monotonic() >= until:
                break
            if fixed[i] is not None or moved.crew_size != 1 or moved.pinned_technician_id is not None:
                continue
            if moved.id == RELOAD_ID:
                continue
            rest, rest_fixed = [*current[:i], *current[i + 1 :]], [*fixed[:i], *fixed[i + 1 :]]
            here = min(_positions(tech, job, rest, rest_fixed, timer, base), default=None)
            if here is None:
                continue
            if moved.id not in elsewhere:
                elsewhere[moved.id] = _insertion_options(moved, problem, timer, plan)
            options = [o for o in elsewhere[moved.id] if o[1].id != tech.id]
            if not options:
                continue
            added, other, other_pos, _ = min(options, key=lambda o: o[0])
            if best is None or here[0] + added < best[0]:
                best = (here[0] + added, tech, moved, here[1], other, other_pos)
    if best is None:
        return False
    _, tech, moved, pos, other, other_pos = best
    saved = plan.saved((tech.id, other.id))
    plan.remove(tech.id, moved.id)
    plan.jobs[tech.id].insert(pos, job)
    plan.fixed[tech.id].insert(pos, None)
    plan.jobs[other.id].insert(other_pos, moved)
    plan.fixed[other.id].insert(other_pos, None)
    if plan.retime(tech, timer) and plan.retime(other, timer):
        log.info("repair placed %s on %s by moving %s to %s", job.id, tech.id, moved.id, other.id)
        return True
    plan.restore(saved)
    return False


def _insert_via_depot(job: Job, problem: Problem, timer: RouteTimer, plan: _Plan, until: float) -> bool:
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
        if tech.max_jobs is not None and len(current) - (cut is not None) >= tech.max_jobs:
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
            for cost, pos, _ in _positions(tech, job, seq, seq_fixed, timer, base):
                if pos > after and (best is None or cost < best[0]):
                    best = (cost, tech, new_stop, pos)
    if best is None:
        return False
    _, tech, new_stop, pos = best
    saved = plan.saved((tech.id,))
    if new_stop is not None:
        plan.jobs[tech.id].insert(new_stop, reload)
        plan.fixed[tech.id].insert(new_stop, None)
    plan.jobs[tech.id].insert(pos, job)
    plan.fixed[tech.id].insert(pos, None)
    if plan.retime(tech, timer):
        log.info("repair placed %s on %s after a depot stop", job.id, tech.id)
        return True
    plan.restore(saved)
    return False


def _able(job: Job, problem: Problem, timer: RouteTimer) -> list[Technician]:
    """The technicians worth trying for ``job``: qualified, allowed by its pin, and on
    large days only the ones based nearest it."""
    able = [
        t
        for t in problem.technicians
        if t.has_skills(job.skills) and (job.crew_size == 2 or job.pinned_technician_id in (None, t.id))
    ]
    if len(able) > NEAREST_TECHNICIANS:
        here = timer.points.job[job.id]
        able.sort(key=lambda t: int(timer.distance[timer.points.tech_start[t.id], here]))
        able = able[:NEAREST_TECHNICIANS]
    return able


def _insertion_options(
    job: Job, problem: Problem, timer: RouteTimer, plan: _Plan
) -> list[tuple[int, Technician, int, int]]:
    """Feasible (added cost, technician, position, start) for one visit to ``job``."""
    out: list[tuple[int, Technician, int, int]] = []
    for tech in _able(job, problem, timer):
        current = plan.jobs[tech.id]
        if tech.max_jobs is not None and len(current) >= tech.max_jobs:
            continue
        base = plan.base_cost(tech, timer)
        if base is None:
            continue
        places = _positions(tech, job, current, plan.fixed[tech.id], timer, base)
        out.extend((cost, tech, pos, start) for cost, pos, start in places)
    return out


def _positions(
    tech: Technician, job: Job, current: list[Job], fixed: list[int | None], timer: RouteTimer, base: int
) -> Iterator[tuple[int, int, int]]:
    """(added cost over ``base``, position, start) for each place in ``current`` where
    ``job`` fits on ``tech``'s route."""
    for pos in range(len(current) + 1):
        seq = [*current[:pos], job, *current[pos:]]
        timing = timer.timing(tech, seq, fixed_starts=[*fixed[:pos], None, *fixed[pos:]])
        if timing is not None:
            yield timer.route_cost(tech, seq, timing) - base, pos, timing.starts_s[pos]


def _place(plan: _Plan, timer: RouteTimer, where: list[tuple[Technician, int]], job: Job, start: int | None) -> bool:
    """Insert ``job`` at these positions (all or nothing); True when every route still fits."""
    saved = plan.saved(t.id for t, _ in where)
    for tech, pos in where:
        plan.jobs[tech.id].insert(pos, job)
        plan.fixed[tech.id].insert(pos, start)
    if all(plan.retime(tech, timer) for tech, _ in where):
        log.info("repair placed %s on %s", job.id, ", ".join(t.id for t, _ in where))
        return True
    plan.restore(saved)
    return False


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
