"""A solve that starts from given routes (the booking working plan) keeps every
promise they hold and plans the other jobs around them."""

from __future__ import annotations

import dataclasses
import random
import time

import pytest

from solver import (
    RELOAD_ID,
    Break,
    CostProfile,
    Depot,
    FixedMatrixProvider,
    HaversineProvider,
    Job,
    Location,
    Problem,
    ReasonCode,
    Shift,
    Solution,
    SolveOptions,
    Technician,
    TimeWindow,
    Unassigned,
    check,
    problem_travel,
    solve,
)
from solver.construction import build, seed
from solver.objective import coefficients
from solver.plan import Plan
from solver.schedule import RouteTimer
from solver.search import sisr
from solver.search.types import SearchInput
from solver.slots import SlotEvaluator, WorkingRoute
from tests.solver.conftest import equidistant, grid

H = 3600


def point(rng: random.Random) -> Location:
    return Location(60.15 + rng.random() * 0.12, 24.80 + rng.random() * 0.30)


def booked_day(seed: int, technicians: int, booked: int, loose: int) -> tuple[Problem, list[WorkingRoute]]:
    """Technicians, ``booked`` jobs promised through the slot evaluator (priority 0,
    one hourly slot each) and ``loose`` unbooked jobs of priority 3."""
    rng = random.Random(seed)
    lunch = Break(11 * H, 13 * H, 1800)
    techs = tuple(
        Technician(f"T{k}", point(rng), Shift(8 * H, 16 * H, lunch), skills={"wardrobe": 1}, cost=_cost())
        for k in range(technicians)
    )
    problem = Problem(techs, ())
    routes: list[WorkingRoute] = []
    for i in range(booked * 3):
        if len(problem.jobs) == booked:
            break
        job = Job(f"B{i}", point(rng), rng.choice([60, 90, 120]) * 60, skills={"wardrobe": 1}, priority=0)
        windows = [TimeWindow(h * H, (h + 1) * H) for h in range(8, 15)]
        ev = SlotEvaluator(problem, routes)
        offers = [a for a in ev.evaluate(job, windows) if a.insertion is not None]
        if not offers:
            continue
        answer = rng.choice(offers)
        assert answer.insertion is not None
        promised = dataclasses.replace(job, windows=(answer.window,))
        routes = ev.with_insertion(promised, answer.insertion)
        problem = Problem(techs, (*problem.jobs, promised))
    extra = tuple(Job(f"L{i}", point(rng), rng.choice([60, 120]) * 60, skills={"wardrobe": 1}) for i in range(loose))
    return Problem(techs, (*problem.jobs, *extra)), routes


def _cost() -> CostProfile:
    return CostProfile(per_hour_cents=3800, per_km_cents=35)


def initial(routes: list[WorkingRoute]) -> dict[str, list[tuple[str, int | None]]]:
    return {r.technician_id: list(zip(r.job_ids, r.fixed_starts, strict=True)) for r in routes}


def test_a_large_day_started_from_the_working_plan_serves_every_promise_inside_its_slot() -> None:
    problem, routes = booked_day(seed=1, technicians=8, booked=30, loose=60)
    promised = {j.id for j in problem.jobs if j.priority == 0}
    assert len(promised) >= 20
    solution = solve(problem, SolveOptions(time_limit_s=4, initial_routes=initial(routes)))
    served = {v.job_id for r in solution.routes for v in r.visits}
    assert promised <= served
    assert len(served) > len(promised)  # the loose jobs fill the gaps around the promises


def test_routes_that_no_longer_time_are_left_out_of_the_start_and_the_jobs_placed_anew() -> None:
    problem, routes = booked_day(seed=2, technicians=3, booked=8, loose=0)
    busy = next(r for r in routes if len(r.job_ids) >= 2)
    broken = [WorkingRoute(busy.technician_id, tuple(reversed(busy.job_ids)))] + [r for r in routes if r is not busy]
    solution = solve(problem, SolveOptions(time_limit_s=2, initial_routes=initial(broken)))
    served = {v.job_id for r in solution.routes for v in r.visits}
    assert {j.id for j in problem.jobs} == served | {u.job_id for u in solution.unassigned}
    assert set(busy.job_ids) <= served


# --- Re-plans from given routes: depot stops kept, the compiled search starting there ------------------------


def depot_day() -> tuple[Problem, FixedMatrixProvider]:
    """One technician with no drill; a drilling job at A (the depot W lends the drill)
    and a plain one at B; 600 s between any two places."""
    home, a, b, w = (Location(60.0 + 0.01 * k, 24.0) for k in range(4))
    tech = Technician("T", home, Shift(8 * H, 16 * H), cost=CostProfile(per_hour_cents=3600))
    jobs = (Job("drill", a, H, skills={"drill": 1}), Job("plain", b, H))
    depot = Depot(w, stop_s=600, skills={"drill": 1})
    return Problem((tech,), jobs, depot=depot), equidistant((home, a, b, w))


def test_a_warm_start_keeps_the_depot_stop_its_route_needs() -> None:
    problem, matrices = depot_day()
    points, travel = problem_travel(problem, matrices)
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    plan = Plan.empty(problem)
    seed(plan, problem, problem.jobs, [WorkingRoute("T", ("plain", RELOAD_ID, "drill"))], timer)
    assert [j.id for j in plan.jobs["T"]] == ["plain", RELOAD_ID, "drill"]
    # Without the stop the drilling job is not the technician's to do: the route is not kept.
    plan = Plan.empty(problem)
    seed(plan, problem, problem.jobs, [WorkingRoute("T", ("plain", "drill"))], timer)
    assert plan.jobs["T"] == []


def test_a_re_plan_from_given_routes_is_searched_by_the_compiled_search_and_keeps_their_depot_stop() -> None:
    problem, matrices = depot_day()
    start = [WorkingRoute("T", ("plain", RELOAD_ID, "drill"))]
    solution = solve(problem, SolveOptions(time_limit_s=0.5, initial_routes=start), matrices)
    assert solution.stats.status == sisr.STATUS
    assert [v.job_id for v in solution.route("T").visits] == ["plain", RELOAD_ID, "drill"]


def search_task(problem: Problem, seconds: float) -> tuple[SearchInput, RouteTimer]:
    points, travel = problem_travel(problem, HaversineProvider())
    coeffs = coefficients(problem, travel)
    timer = RouteTimer(points, travel, coeffs, problem.lunch_on_site_min_s)
    return SearchInput(problem, list(problem.jobs), points, travel, coeffs, time.monotonic() + seconds), timer


def objective(problem: Problem, plan: Plan, task: SearchInput) -> int:
    """The checker's objective of ``plan`` (asserting no violation); jobs out unassigned."""
    served = plan.served()
    out = tuple(Unassigned(j.id, ReasonCode.DAY_FULL, "out") for j in problem.jobs if j.id not in served)
    report = check(problem, Solution(tuple(plan.routes.values()), out), task.points, task.travel)
    assert report.violations == ()
    return report.objective.total_units


def first_plan(problem: Problem, timer: RouteTimer) -> Plan:
    """A complete but unpolished plan: the greedy construction."""
    plan = Plan.empty(problem)
    build(sorted(problem.jobs, key=lambda j: j.id), problem, timer, plan, {}, time.monotonic() + 5)
    return plan


@pytest.mark.parametrize("seed_", range(4))
def test_with_no_time_to_improve_them_the_compiled_search_gives_back_the_routes_it_started_from(seed_: int) -> None:
    problem, _ = booked_day(seed=seed_, technicians=3, booked=0, loose=9)
    task, timer = search_task(problem, 0.0)
    start = first_plan(problem, timer)
    given = {t: [j.id for j in seq] for t, seq in start.jobs.items()}
    raw = sisr.CompiledSearch().run(dataclasses.replace(task, initial_routes=given))
    assert {r.technician_id: [v.job_id for v in r.visits] for r in raw.routes} == given


@pytest.mark.parametrize("seed_", range(4))
def test_the_compiled_search_started_from_given_routes_never_returns_a_costlier_plan(seed_: int) -> None:
    problem, _ = booked_day(seed=seed_, technicians=4, booked=0, loose=24)
    task, timer = search_task(problem, 0.3)
    start = first_plan(problem, timer)
    given = {t: [j.id for j in seq] for t, seq in start.jobs.items()}
    raw = sisr.CompiledSearch().run(dataclasses.replace(task, initial_routes=given))
    assert objective(problem, Plan.from_raw(problem, raw, timer), task) <= objective(problem, start, task)


def test_a_given_route_that_no_longer_times_keeps_its_longest_beginning_that_does_and_the_rest_goes_elsewhere() -> None:
    """T0 (8:00-11:00) given three one-hour jobs, A and B far off and C near home: A
    and B fit, C no longer does and goes to T1, who would have done all three for
    half the hourly rate had the search started from nothing."""
    techs = (
        Technician("T0", grid(0), Shift(8 * H, 11 * H), cost=CostProfile(3600)),
        Technician("T1", grid(0), Shift(8 * H, 16 * H), cost=CostProfile(1800)),
    )
    jobs = (Job("A", grid(20), H), Job("B", grid(21), H), Job("C", grid(1), H))
    problem = Problem(techs, jobs)
    task, _ = search_task(problem, 0.0)
    raw = sisr.CompiledSearch().run(dataclasses.replace(task, initial_routes={"T0": ["A", "B", "C"]}))
    assert {r.technician_id: [v.job_id for v in r.visits] for r in raw.routes} == {"T0": ["A", "B"], "T1": ["C"]}
    scratch = sisr.CompiledSearch().run(task)
    assert {r.technician_id: len(r.visits) for r in scratch.routes} == {"T0": 0, "T1": 3}


def test_a_given_route_that_no_longer_times_is_seeded_without_its_least_urgent_visits_only() -> None:
    """T0 (8:00-11:00) given four one-hour jobs near home: one must go. The promised
    (priority 0) and priority-1 visits stay where they were; the priority-2 one goes."""
    techs = (Technician("T0", grid(0), Shift(8 * H, 11 * H), cost=CostProfile(3600)),)
    jobs = (Job("P", grid(1), H, priority=0), Job("L", grid(1), H, priority=2), Job("U", grid(1), H, priority=1))
    problem = Problem(techs, jobs)
    _, timer = search_task(problem, 0.0)
    plan = Plan.empty(problem)
    seed(plan, problem, list(jobs), [WorkingRoute("T0", ("P", "L", "U"))], timer)
    assert [j.id for j in plan.jobs["T0"]] == ["P", "U"]
    assert [v.job_id for v in plan.routes["T0"].visits] == ["P", "U"]


def test_a_starting_route_that_breaks_a_pin_is_not_given_back_for_its_promise() -> None:
    """The live schedule has promise P on T2 while P is pinned to T1 (a lock the
    dispatcher overrode), and T1 is busy with another promise Q at that hour. Before,
    the repair gave T2 its starting route back to keep the promise, pin broken, and the
    solve ended with the checker's refusal (CheckerRejected) instead of a plan: a re-plan
    failed."""
    techs = (
        Technician("T1", grid(0), Shift(8 * H, 16 * H), cost=CostProfile(3600)),
        Technician("T2", grid(0), Shift(8 * H, 16 * H), cost=CostProfile(3600)),
    )
    window = (TimeWindow(8 * H + 1800, 9 * H),)
    jobs = (
        Job("P", grid(1), H, windows=window, priority=0, pinned_technician_id="T1"),
        Job("Q", grid(1), 2 * H, windows=window, priority=0, pinned_technician_id="T1"),
        Job("O", grid(2), H),
    )
    problem = Problem(techs, jobs)
    start = [WorkingRoute("T1", ("Q",)), WorkingRoute("T2", ("P", "O"))]

    solution = solve(problem, SolveOptions(time_limit_s=1, initial_routes=start))

    assert check(problem, solution, *problem_travel(problem, HaversineProvider())).violations == ()
    assert solution.served_job_ids() >= {"Q", "O"} and "P" not in solution.served_job_ids()
