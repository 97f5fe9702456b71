"""Which search plans a day, and where: the one place that decides.

The compiled ruin and recreate (``solver.search.sisr``) plans every day it models
once it is compiled (``sisr.eligible``), one search per core, a re-plan from given
routes starting from them. Every other day (any day while the kernel is not
compiled yet) goes to OR-Tools (``solver.search.ortools``): warm-started from the
greedy construction (``solver.construction``) or the given routes, or cold on large
days without crews, with a second search on another core (the portfolio, a forked
process) and the better result kept. docs/model.md, "Search".
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from solver.construction import build, seed, sought
from solver.objective import Coefficients
from solver.plan import Plan, WorkingRoute, plan_adding_lunch
from solver.problem import Job, Problem
from solver.schedule import RouteTimer
from solver.search import sisr
from solver.search.ortools import ColdRuns, OrToolsSearch, OrToolsSettings
from solver.search.types import CrewAssignment, RawResult, Search, SearchInput, over_construction, replaces, visits_of
from solver.travel import PointIndex, TravelMatrices

log = logging.getLogger(__name__)
# Large OR-Tools days: the search stops this share of its time earlier, for the repair
# step that puts back the jobs whose routes cannot hold their lunch.
_RELAXED_REPAIR_SHARE = 0.1
# Days with crews: the construction places crew jobs for at most this share of the
# search time before the compiled search (on 200 × 2,000 all 90 took 5 of 9 s).
_CREW_SHARE = 0.15
_ORTOOLS_FIELDS = frozenset(f.name for f in dataclasses.fields(OrToolsSettings))


@dataclass(frozen=True, init=False)
class SearchSettings:
    """Which search runs (``ruin_and_recreate``, ``portfolio``,
    ``portfolio_without_depot``) and how OR-Tools searches (``ortools``).

    ``portfolio``: a second search on another core where the machine has one and
    can fork (the compiled search runs a thread per core instead). With a depot,
    ``portfolio_without_depot`` has that other core plan without depot stops.
    ``ruin_and_recreate``: the compiled search plans the days it models.
    The OR-Tools settings may also be given and read by their own names
    (``SearchSettings(stall_ratio=0.5).stall_ratio``), as before they had a class of
    their own.
    """

    portfolio: bool
    ruin_and_recreate: bool
    portfolio_without_depot: bool
    ortools: OrToolsSettings

    def __init__(
        self,
        portfolio: bool = True,
        ruin_and_recreate: bool = True,
        portfolio_without_depot: bool = True,
        ortools: OrToolsSettings | None = None,
        **ortools_fields: Any,
    ) -> None:
        unknown = set(ortools_fields) - _ORTOOLS_FIELDS
        if unknown:
            raise TypeError(f"SearchSettings got unexpected keyword arguments {sorted(unknown)}")
        base = ortools if ortools is not None else OrToolsSettings()
        object.__setattr__(self, "portfolio", portfolio)
        object.__setattr__(self, "ruin_and_recreate", ruin_and_recreate)
        object.__setattr__(self, "portfolio_without_depot", portfolio_without_depot)
        object.__setattr__(self, "ortools", dataclasses.replace(base, **ortools_fields))

    def __getattr__(self, name: str) -> Any:
        """An OR-Tools setting by its own name."""
        if name in _ORTOOLS_FIELDS:
            return getattr(self.__dict__["ortools"], name)
        raise AttributeError(name)


def compiled_plans(problem: Problem, jobs: Sequence[Job], settings: SearchSettings) -> bool:
    """The compiled search plans these ``jobs`` of ``problem``: it is on, it models the
    day (``sisr.eligible``), and it is compiled by now (if not, it starts compiling in
    the background)."""
    if not settings.ruin_and_recreate or not sisr.eligible(problem, jobs):
        return False
    return sisr.ready()


def cores() -> int:
    """Cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _portfolio_possible(settings: SearchSettings) -> bool:
    """The portfolio is on, and there is a second core and a fork to run it in."""
    return settings.portfolio and cores() >= 2 and "fork" in multiprocessing.get_all_start_methods()


def search(
    task: SearchInput,
    timer: RouteTimer,
    settings: SearchSettings,
    initial_routes: Sequence[WorkingRoute] = (),
    cancel: threading.Event | None = None,
    grace_s: float = 0.0,
) -> tuple[RawResult | None, Plan]:
    """The best plan the chosen search finds for ``task`` by its deadline, as its result
    and as a working plan (timed by ``timer``); (None, a plan) when ``cancel`` was set.

    The compiled search where it plans the day (``sisr.eligible``) and is compiled
    (``sisr.ready``); else OR-Tools, warm-started from the construction (days with crews or at most
    ``detailed_model_max_visits`` visits: urgent, crew and long jobs first, crews
    kept on their two technicians and start; a re-plan from ``initial_routes``) or
    started cold (larger days without crews), with the portfolio's other search
    waited for at most ``grace_s`` past the deadline and kept when the model's
    objective says it is better.
    """
    modelled = settings.ruin_and_recreate and sisr.eligible(task.problem, task.jobs)
    if modelled and sisr.ready():
        log.info("the compiled search plans %d jobs", len(task.jobs))
        return _compiled(task, timer, settings, initial_routes, cancel)
    log.info("OR-Tools plans %d jobs%s", len(task.jobs), " (the compiled search is not ready yet)" if modelled else "")
    return _ortools(task, timer, settings, initial_routes, cancel, grace_s)


def _ortools(
    task: SearchInput,
    timer: RouteTimer,
    settings: SearchSettings,
    initial_routes: Sequence[WorkingRoute],
    cancel: threading.Event | None,
    grace_s: float,
) -> tuple[RawResult | None, Plan]:
    """OR-Tools local search, warm-started from the construction or started cold; with
    the portfolio on, a second search on another core, and the better plan.

    The portfolio's cold search starts at once when there is no crew, else after the
    construction with the crews where the construction put them. Larger days without
    crews: cold searches here (``cold_searches``) and on the other core
    (``portfolio_searches``).
    """
    problem, candidates, ortools = task.problem, task.jobs, settings.ortools
    detailed = sum(j.crew_size for j in candidates) <= ortools.detailed_model_max_visits
    no_crews = all(j.crew_size == 1 for j in candidates)
    cold_only = no_crews and not detailed and not initial_routes
    if not detailed and any(t.shift.lunch is not None for t in problem.technicians):
        # The relaxed model leaves each lunch to be placed after the search, and a
        # route that cannot hold it hands a job back to the repair step (tens of
        # milliseconds per job): that step gets a further tenth of the search time.
        task = dataclasses.replace(
            task, deadline=task.deadline - _RELAXED_REPAIR_SHARE * max(0.0, task.deadline - time.monotonic())
        )
    search_until = task.deadline
    portfolio = _portfolio_possible(settings)
    other: Forked | None = None
    # Depot stops are optional: the other core may look for plans without any (a smaller
    # search space, which on TRSP gave far shorter routes); the better plan is kept.
    other_problem = problem
    if problem.depot is not None and settings.portfolio_without_depot:
        other_problem = dataclasses.replace(problem, depot=None)
    other_task = dataclasses.replace(task, problem=other_problem, seed=task.seed + 1, on_solution=None, stop=None)
    if portfolio and no_crews:
        strategies = ortools.portfolio_searches if cold_only else ortools.cold_searches
        # Without its depot stops the day may suit the compiled search (TRSP does).
        compiled = other_problem is not problem and compiled_plans(other_problem, candidates, settings)
        other_search: Search = sisr.CompiledSearch() if compiled else ColdRuns(ortools, strategies, detailed)
        other = Forked.fork(other_search, other_task)
    try:
        if cold_only:
            plan = Plan.empty(problem)
            raw = ColdRuns(ortools, ortools.cold_searches, detailed).run(task)
        else:
            build_timer = timer
            if not detailed:
                build_timer = RouteTimer(
                    task.points, task.travel, task.coeffs, problem.lunch_on_site_min_s, reserve_lunch=True
                )
            plan = Plan.empty(problem)
            if initial_routes:
                seed(plan, problem, candidates, initial_routes, build_timer)
            seeded = plan.served()
            extra = {} if no_crews else sought(problem, candidates, task.coeffs)
            order = sorted(candidates, key=lambda j: (j.priority, -j.crew_size, -j.duration_s, j.id))
            build([j for j in order if j.id not in seeded], problem, build_timer, plan, extra, search_until, task.stop)
            crews = plan.crews()
            # Small days: crews the construction could not place stay in the model, synchronised there.
            jobs = [j for j in candidates if j.crew_size == 1 or j.id in crews or detailed]
            seeds = {w.technician_id: list(w.job_ids) for w in plan.working_routes()}
            log.info("construction: %d of %d jobs placed", len(plan.served()), len(candidates))
            if cancel is not None and cancel.is_set():
                return None, plan
            if portfolio and other is None:
                cold = ColdRuns(ortools, ortools.cold_searches, detailed)
                other = Forked.fork(cold, dataclasses.replace(other_task, jobs=jobs, crews=crews))
            start = seeds if any(seeds.values()) else None
            raw = OrToolsSearch(ortools, detailed).run(
                dataclasses.replace(task, jobs=jobs, crews=crews, initial_routes=start)
            )
        log.info("search: %s, %d visits, %d solutions", raw.status, visits_of(raw), raw.solutions)
        if cancel is not None and cancel.is_set():
            return None, plan
        raw = over_construction(raw, plan.to_raw())
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
                if replaces(other_raw, raw):
                    raw = other_raw
        plan = Plan.from_raw(problem, raw, timer) if detailed else plan_adding_lunch(problem, raw, timer)
        return raw, plan
    finally:
        if other is not None:
            other.close()


def _compiled(
    task: SearchInput,
    timer: RouteTimer,
    settings: SearchSettings,
    initial_routes: Sequence[WorkingRoute],
    cancel: threading.Event | None,
) -> tuple[RawResult | None, Plan]:
    """The compiled ruin and recreate on every core, from ``initial_routes`` where they
    time (``construction.seed``: their crews kept, depot stops too), crew jobs not in
    them first placed by the construction (each on the cheapest pair of technicians
    with a common start, for at most ``_CREW_SHARE`` of the time) and then kept where
    they are. Crews not placed go to the repair step."""
    problem, candidates = task.problem, task.jobs
    plan = Plan.empty(problem)
    if initial_routes:
        seed(plan, problem, candidates, initial_routes, timer)
    seeded = plan.crews()
    crew_jobs = [j for j in candidates if j.crew_size == 2 and j.id not in seeded]
    untried: list[Job] = []
    if crew_jobs:
        crews_until = time.monotonic() + _CREW_SHARE * max(0.0, task.deadline - time.monotonic())
        extra = sought(problem, candidates, task.coeffs)
        order = sorted(crew_jobs, key=lambda j: (j.priority, -j.duration_s, j.id))
        untried = build(order, problem, timer, plan, extra, crews_until, task.stop)
        log.info("construction: %d of %d crew jobs placed", len(plan.crews()) - len(seeded), len(crew_jobs))
    crews = plan.crews()
    start = {w.technician_id: list(w.job_ids) for w in plan.working_routes()} if initial_routes else None
    threads = 2 if settings.portfolio and cores() >= 2 else 1
    raw = sisr.CompiledSearch(threads).run(dataclasses.replace(task, crews=crews, initial_routes=start))
    log.info(
        "ruin and recreate: %d visits, %d solutions, objective %s", visits_of(raw), raw.solutions, raw.objective_units
    )
    if cancel is not None and cancel.is_set():
        return None, Plan.empty(problem)
    plan = Plan.from_raw(problem, raw, timer)
    plan.untried = {j.id for j in untried}
    plan.not_offered = set(crews) - plan.served()
    return raw, plan


class Forked:
    """A search in a forked process: another core, the same deadline.

    The parent never waits for it past the time it names, and ends it when it is
    done with it (cancelled, late or collected), so a stuck child costs nothing.
    """

    def __init__(self, process: multiprocessing.process.BaseProcess, conn: Connection) -> None:
        self._process = process
        self._conn = conn

    @classmethod
    def fork(cls, search: Search, task: SearchInput) -> Forked | None:
        """Start ``search`` on ``task`` in a forked process; None when that cannot start."""
        try:
            ctx = multiprocessing.get_context("fork")
            receive, send = ctx.Pipe(duplex=False)
            process = ctx.Process(target=_child, args=(send, search, task), daemon=True)
            process.start()
        except (OSError, ValueError) as exc:
            log.warning("portfolio search not started: %s", exc)
            return None
        send.close()
        return cls(process, receive)

    @classmethod
    def start(
        cls,
        problem: Problem,
        jobs: list[Job],
        points: PointIndex,
        travel: TravelMatrices,
        coeffs: Coefficients,
        deadline: float,
        settings: SearchSettings | OrToolsSettings,
        strategies: tuple[tuple[str, str], ...],
        crews: dict[str, CrewAssignment],
        detailed: bool,
        seed_: int,
        compiled: bool = False,
    ) -> Forked | None:
        """Fork OR-Tools cold searches (``ColdRuns`` with these strategies, or the
        compiled ruin and recreate when ``compiled``); None when that cannot start."""
        ortools = settings.ortools if isinstance(settings, SearchSettings) else settings
        chosen: Search = sisr.CompiledSearch() if compiled else ColdRuns(ortools, strategies, detailed)
        return cls.fork(chosen, SearchInput(problem, jobs, points, travel, coeffs, deadline, seed_, crews))

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


def _child(conn: Connection, search: Search, task: SearchInput) -> None:
    """In the forked child: search, send the result, and leave without running the
    parent's exit handlers (open connections and files belong to the parent)."""
    try:
        conn.send(search.run(task))
    except BaseException:
        log.exception("forked search failed")
    finally:
        conn.close()
        os._exit(0)
