"""Plan one day: travel, pre-checks, the search, repair, explanations, the checker.

``solve`` is the one entry point the rest of the product uses.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from solver import dependencies, multiday
from solver.checker import check
from solver.construction import seed
from solver.explain import explain_dropped, precheck
from solver.locks import restore_order
from solver.objective import Coefficients, coefficients
from solver.plan import Plan, WorkingRoute, as_working_routes
from solver.problem import Job, Problem
from solver.repair import relocate_late, repair
from solver.schedule import RouteTimer
from solver.search import sisr, strategy
from solver.search.strategy import SearchSettings
from solver.search.types import RawResult, SearchInput
from solver.solution import Solution, SolveStats, Unassigned
from solver.travel import HaversineProvider, PointIndex, TravelMatrices, TravelProvider, problem_travel
from solver.waiting import wait_for_preferred

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """A progress report: ``fraction`` of the time budget used, and what is known."""

    fraction: float
    phase: str
    solutions: int = 0
    best_cents: float | None = None


ProgressCallback = Callable[[Progress], None]
FirstAnswerCallback = Callable[[Solution], None]
"""Hears of a solve's first answer (checked and explained) while the search goes on."""

# A first answer's insertions stop this long after the solve started (or at the
# search's deadline, if sooner); jobs not tried by then are left out for the time limit.
FIRST_ANSWER_S = 1.0


@dataclass(frozen=True)
class SolveOptions:
    """Time budget (always kept), seed and search settings."""

    time_limit_s: float = 10.0
    seed: int = 0
    search: SearchSettings = field(default_factory=SearchSettings)
    progress_interval_s: float = 0.25
    # A plan to start from, e.g. the booking working plan (``WorkingRoute``s; the older
    # mapping of technician id to (job id, fixed start or None) pairs is read as such).
    # A route that does not time keeps what still does (its least urgent visits out);
    # the rest of the jobs is placed around them.
    initial_routes: Sequence[WorkingRoute] | Mapping[str, Sequence[tuple[str, int | None]]] | None = None
    # Per technician, jobs to keep in this relative order where they share that route
    # (the dispatcher's order locks, ``solver.locks``): put back after the search where
    # the route still times.
    ordered: Sequence[tuple[str, Sequence[str]]] = ()

    def __post_init__(self) -> None:
        if self.time_limit_s <= 0:
            raise ValueError("time_limit_s must be positive")
        if self.initial_routes is not None:
            object.__setattr__(self, "initial_routes", as_working_routes(self.initial_routes))

    @property
    def starting_routes(self) -> tuple[WorkingRoute, ...]:
        """``initial_routes`` as ``WorkingRoute``s (none when not given)."""
        return as_working_routes(self.initial_routes or ())


_ALWAYS_EXPLAIN_JOBS = 200
# Days of at most this many jobs are repaired to the end whatever the time (milliseconds).
_ALWAYS_REPAIR_JOBS = 30


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
    first_answer: FirstAnswerCallback | None = None,
) -> Solution:
    """The best plan found within ``options.time_limit_s``, checked and explained.

    Every job is either in a route or unassigned with a reason; the returned
    solution passes the independent checker (else ``CheckerRejected``).
    Setting ``cancel`` stops the search soon after and raises ``Cancelled``.

    With ``first_answer``, a first plan is made before the search (``initial_routes``
    where they time, every other job put in by the repair's insertion, within
    ``FIRST_ANSWER_S``), checked and explained as the final one is, and handed to
    it; the search's time comes out of the same limit, and the returned solution is
    never worse than that first answer by the objective.
    """
    opts = options or SolveOptions()
    started = time.monotonic()
    deadline = started + opts.time_limit_s

    def report(phase: str, solutions: int = 0, best: float | None = None) -> None:
        if progress is not None:
            used = min(1.0, (time.monotonic() - started) / opts.time_limit_s)
            progress(Progress(used, phase, solutions, best))

    points, travel = problem_travel(problem, travel_provider or HaversineProvider())
    pre = precheck(problem, points, travel)
    pre = {**pre, **multiday.set_aside(problem, pre)}
    # The engine plans the problem with each dependent's windows cut to what any plan
    # allows; the checker verifies the problem as given.
    given = problem
    problem, waiting = dependencies.tighten(problem, pre, points, travel)
    pre = {**pre, **waiting}
    pre = {**pre, **multiday.set_aside(problem, pre)}
    coeffs = coefficients(problem, travel)
    candidates = [j for j in problem.jobs if j.id not in pre]
    random.Random(opts.seed).shuffle(candidates)
    report("model")

    # Keep back a slice of the budget for extraction, repair and the checker.
    reserve = min(1.0, 0.1 * opts.time_limit_s)
    search_until = deadline - reserve
    timer = RouteTimer(points, travel, coeffs, problem.lunch_on_site_min_s)
    plan = Plan.empty(problem)
    raw: RawResult | None = None
    ticker = _Ticker(report, opts.progress_interval_s)
    starting = opts.starting_routes
    first: Solution | None = None
    if first_answer is not None and candidates and problem.technicians:
        until = min(search_until, started + FIRST_ANSWER_S)
        first = _first_answer(given, problem, candidates, pre, opts, timer, points, travel, coeffs, until, started)
        if first is not None and not (cancel is not None and cancel.is_set()):
            report("first", 1, first.objective.total_units * coeffs.unit_mc / 1000)
            first_answer(first)
    if candidates and problem.technicians:
        ticker.start()
        try:
            stop = cancel.is_set if cancel is not None else None
            task = SearchInput(
                problem, candidates, points, travel, coeffs, search_until, opts.seed, {}, None, ticker.solution, stop
            )
            raw, plan = strategy.search(task, timer, opts.search, starting, cancel, reserve / 2)
        finally:
            ticker.stop()
    if cancel is not None and cancel.is_set():
        raise Cancelled("the solve was cancelled")

    log.info("search phase over, %.2f s left", deadline - time.monotonic())
    # Repair and explanations stop in time for the checker, which rebuilds the
    # objective's coefficients over the whole matrix (0.4 s at 5,500 points).
    finish_by = deadline - check_seconds(len(points.points))
    # The compiled search (or, for crews, the construction before it) offered every
    # job left out every place already.
    offered = raw is not None and raw.status == sisr.STATUS
    if opts.ordered:
        restore_order(problem, plan, timer, opts.ordered)
    repair_by = repair_until(problem, finish_by)
    left, untried = repair(problem, candidates, plan, timer, repair_by, starting, offered)
    left = _after_dependencies(problem, candidates, plan, left, timer, repair_by)
    solution = _explained(problem, pre, plan, left, untried, timer, finish_by)
    log.info("repair and explanations done, %.2f s left", deadline - time.monotonic())
    report("check")
    solution = wait_for_preferred(problem, solution, points, travel, coeffs)
    solution = _checked(given, solution, points, travel, coeffs)
    if first is not None and first.objective.total_units < solution.objective.total_units:
        log.info("the search ended worse than the first answer; the first answer stands")
        solution = first
    stats = SolveStats(
        status=raw.status if raw is not None else "nothing_to_plan",
        wall_time_s=time.monotonic() - started,
        first_solution_s=raw.first_solution_s if raw is not None else None,
        solutions_found=raw.solutions if raw is not None else 0,
    )
    report("done", stats.solutions_found, solution.objective.total_units * coeffs.unit_mc / 1000)
    return Solution(solution.routes, solution.unassigned, solution.objective, stats)


def repair_until(problem: Problem, finish_by: float) -> float:
    """When the repair after a search stops: ``finish_by``, but never on a small day,
    whose repair takes milliseconds: what such a day leaves out (and why) then does not
    hang on how loaded the machine was when its search ended."""
    return finish_by if len(problem.jobs) > _ALWAYS_REPAIR_JOBS else math.inf


def _after_dependencies(
    problem: Problem, candidates: Sequence[Job], plan: Plan, left: Sequence[Job], timer: RouteTimer, until: float
) -> list[Job]:
    """The jobs left out once ``plan`` keeps every dependency (``dependencies.keep``)
    and serves every job longer than a day whole (``multiday.broken``): ``left`` and
    those taken out, most urgent first."""
    has_parts = any(j.part is not None for j in problem.jobs)
    if not has_parts and not any(j.after is not None for j in problem.jobs):
        return list(left)
    out = {j.id for j in left}
    if has_parts:
        _take_out_all(problem, plan, timer, multiday.broken)
    out |= set(dependencies.keep(problem, plan, timer, until))
    if has_parts:
        # A part put back alone, or a dependent of a part taken out: out until none is.
        while _take_out_all(problem, plan, timer, multiday.broken) or _take_out_all(
            problem, plan, timer, dependencies.broken
        ):
            pass
    served = plan.served()
    return sorted((j for j in candidates if j.id not in served), key=lambda j: (j.priority, j.id))


def _take_out_all(problem: Problem, plan: Plan, timer: RouteTimer, find: Callable[[Problem, Plan], list[str]]) -> bool:
    """Take every job ``find`` names out of ``plan``; True when there was one."""
    bad = find(problem, plan)
    for job_id in bad:
        if job_id in plan.served():
            dependencies.take_out(problem, plan, timer, job_id)
    return bool(bad)


def _explained(
    problem: Problem,
    pre: Mapping[str, Unassigned],
    plan: Plan,
    left: Sequence[Job],
    untried: set[str],
    timer: RouteTimer,
    finish_by: float,
) -> Solution:
    """The plan's routes, and every job left out (``pre``: by the pre-checks) with its reason."""
    unassigned = dict(pre)
    for job in left:
        # Small days are always explained in full (milliseconds); only large days that
        # spent their budget fall back to "time limit", so the reason does not hang on load.
        thorough = job.id not in untried and (len(problem.jobs) <= _ALWAYS_EXPLAIN_JOBS or time.monotonic() < finish_by)
        waits = dependencies.explain(job, problem, plan, timer, thorough)
        unassigned[job.id] = waits or explain_dropped(job, problem, timer, plan.jobs, plan.fixed, thorough)
    out = {j.id for j in left}
    for job in left:
        if job.part is not None:
            unassigned[job.id] = multiday.explain(job, problem, out, unassigned[job.id])
    return Solution(
        routes=tuple(plan.routes[t.id] for t in problem.technicians),
        unassigned=tuple(unassigned[j.id] for j in problem.jobs if j.id in unassigned),
    )


def _first_answer(
    given: Problem,
    problem: Problem,
    candidates: Sequence[Job],
    pre: Mapping[str, Unassigned],
    opts: SolveOptions,
    timer: RouteTimer,
    points: PointIndex,
    travel: TravelMatrices,
    coeffs: Coefficients,
    until: float,
    started: float,
) -> Solution | None:
    """The starting routes where they time, the other jobs put in by the repair's
    insertion until ``until``, every dependency kept, the visits a disruption pushed
    past their told arrival given to another technician where that costs less
    (``relocate_late``), each visit started as late as its preferred window asks where
    the route allows (``wait_for_preferred``, as the final answer), checked against
    ``given``; None when the checker refuses it (logged: a bug)."""
    plan = Plan.empty(problem)
    starting = opts.starting_routes
    if starting:
        seed(plan, problem, candidates, starting, timer)
    if opts.ordered:
        restore_order(problem, plan, timer, opts.ordered)
    repair_by = repair_until(problem, until)
    left, untried = repair(problem, candidates, plan, timer, repair_by, starting)
    left = _after_dependencies(problem, candidates, plan, left, timer, repair_by)
    if starting:
        relocate_late(problem, plan, timer, repair_by, {i for _, ids in opts.ordered for i in ids})
    solution = _explained(problem, pre, plan, left, untried, timer, until)
    solution = wait_for_preferred(problem, solution, points, travel, coeffs)
    try:
        checked = _checked(given, solution, points, travel, coeffs)
    except CheckerRejected:
        log.exception("the first answer failed the checker; none is given")
        return None
    elapsed = time.monotonic() - started
    stats = SolveStats(status="first_answer", wall_time_s=elapsed, first_solution_s=elapsed, solutions_found=1)
    log.info("first answer after %.3f s: %d jobs left out", elapsed, len(checked.unassigned))
    return Solution(checked.routes, checked.unassigned, checked.objective, stats)


def check_seconds(n_points: int) -> float:
    """About how long the final check takes for a day of ``n_points`` places (seconds)."""
    return 0.05 + 2e-8 * n_points * n_points


def _checked(
    problem: Problem, solution: Solution, points: PointIndex, travel: TravelMatrices, coeffs: Coefficients
) -> Solution:
    report = check(problem, solution, points, travel)
    if not report.feasible:
        details = "; ".join(f"{v.kind}: {v.job_id} {v.technician_id} {v.detail}" for v in report.violations[:10])
        raise CheckerRejected(f"{len(report.violations)} violations: {details}")
    return Solution(solution.routes, solution.unassigned, report.objective)


def prepare(wait: bool = False) -> bool:
    """Get the compiled search ready: compiled on a machine's first use (about 10 s),
    loaded from cache after that. In the background, or before returning when ``wait``;
    True when it is ready. Until then ``solve`` plans every day with OR-Tools."""
    if wait:
        sisr.warm_up()
        return True
    return sisr.ready()


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
