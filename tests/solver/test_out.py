"""Technicians already out when a day is re-planned (``Technician.on_clock_from_s``, set
by ``solver.replan.remaining`` from a ``Position``): on the clock from when they were
free again, and driving home even with nothing left to do — in the route timer, the
checker, the compiled search and the OR-Tools model alike."""

from __future__ import annotations

import dataclasses
import random
import time

import pytest

from solver import (
    CostProfile,
    HaversineProvider,
    Job,
    Location,
    Problem,
    ProblemError,
    SearchSettings,
    Shift,
    Solution,
    SolveOptions,
    Technician,
    TimeWindow,
    check,
    problem_travel,
    solve,
)
from solver.objective import coefficients
from solver.plan import Plan
from solver.replan import Position, remaining
from solver.schedule import RouteTimer
from solver.search import sisr
from solver.search.ortools import OrToolsSearch, OrToolsSettings
from solver.search.types import SearchInput
from tests.solver.bruteforce import optimum_units
from tests.solver.conftest import grid
from tests.solver.test_sisr import plain_day, spotter

H = 3600
RATE = CostProfile(per_hour_cents=3600, per_km_cents=50)  # 1 cent a second, 0.05 cents a metre


def timer_for(problem: Problem) -> tuple[RouteTimer, Solution]:
    """The route timer of ``problem``, and its plan with every route empty."""
    points, travel = problem_travel(problem, HaversineProvider())
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    return timer, Solution(tuple(Plan.empty(problem).routes.values()), ())


def out_day() -> Problem:
    """Two technicians living at grid(0) at 10:00: one still at home, one out at grid(9)
    since 09:30 (its last visit settled). No jobs."""
    techs = tuple(Technician(f"T{k}", grid(0), Shift(8 * H, 17 * H), cost=RATE) for k in range(2))
    day = Problem(techs, (Job("done", grid(9), H),))
    return remaining(day, 10 * H, positions={"T1": Position(grid(9), int(9.5 * H), served=1)}, settled={"done"})


def test_a_technician_who_set_out_is_on_the_clock_from_when_they_were_free_and_still_ends_at_home() -> None:
    home, out = out_day().technicians
    assert home.on_clock_from_s is None and not home.out
    assert out.out and out.on_clock_from_s == int(9.5 * H) and out.shift.start_s == 10 * H
    assert out.start == grid(9) and out.end_location == grid(0)


def test_an_absence_is_not_time_on_the_clock() -> None:
    from solver.replan import Absence

    tech = Technician("T", grid(0), Shift(8 * H, 17 * H))
    day = Problem((tech,), ())
    left = remaining(day, 10 * H, positions={"T": Position(grid(9), 10 * H)}, absences={"T": (Absence(9 * H, 12 * H),)})
    assert left.technicians[0].shift.start_s == 12 * H and left.technicians[0].on_clock_from_s == 12 * H


def test_the_clock_may_not_start_after_the_shift() -> None:
    with pytest.raises(ProblemError, match="on_clock_from"):
        Technician("T", grid(0), Shift(8 * H, 17 * H), on_clock_from_s=9 * H)


def test_an_out_technician_with_no_visit_left_still_pays_the_way_home() -> None:
    problem = out_day()
    home, out = problem.technicians
    timer, idle = timer_for(problem)
    leg = int(timer.duration[timer.points.tech_start[out.id], timer.points.tech_end[out.id]])
    metres = int(timer.distance[timer.points.tech_start[out.id], timer.points.tech_end[out.id]])
    assert leg > 0
    way_home = leg * 1000 + metres * 50  # units: milli-cents
    assert timer.route_cost(home, [], timer.timing(home, []) or pytest.fail()) == 0
    assert timer.route_cost(out, [], timer.timing(out, []) or pytest.fail()) == way_home
    report = check(problem, idle, timer.points, timer_travel(problem))
    assert report.violations == () and report.objective.total_units == way_home
    planned = solve(problem, SolveOptions(time_limit_s=1.0))
    assert planned.routes[1].visits == () and planned.objective.total_units == way_home


def timer_travel(problem: Problem):  # type: ignore[no-untyped-def]
    return problem_travel(problem, HaversineProvider())[1]


def test_an_out_technician_pays_the_wait_where_they_are_and_a_home_technician_does_not() -> None:
    """A visit at grid(9) opening at 13:00: the technician out there since 09:30 is paid
    from 09:30 until back home; one leaving home is paid from leaving."""
    job = Job("late", grid(9), H, windows=(TimeWindow(13 * H, 14 * H),))
    problem = dataclasses.replace(out_day(), jobs=(job,))
    home, out = problem.technicians
    timer, _ = timer_for(problem)
    leg = int(timer.duration[timer.points.tech_start[home.id], timer.points.job[job.id]])
    from_home = timer.timing(home, [job])
    from_out = timer.timing(out, [job])
    assert from_home is not None and from_out is not None
    assert from_home.cost_units == (2 * leg + H) * 1000  # leaves just in time, straight back
    assert from_out.cost_units == (14 * H + leg - int(9.5 * H)) * 1000  # waits on site, then home


def replanned(seed: int) -> Problem:
    """``plain_day(seed)`` re-planned at 10:00 with every technician but the first out
    somewhere: the second free since 09:30, any third from 10:45, each after one visit."""
    day = plain_day(seed)
    spot = spotter(random.Random(seed + 7))
    free = [int(9.5 * H), int(10.75 * H)]
    positions = {t.id: Position(spot(), free[k], served=1) for k, t in enumerate(day.technicians[1:])}
    return remaining(day, 10 * H, positions=positions)


@pytest.mark.parametrize("seed", range(6))
def test_on_tiny_days_re_planned_with_technicians_out_the_plan_is_the_brute_force_optimum(seed: int) -> None:
    problem = replanned(seed)
    assert sum(t.out for t in problem.technicians) >= 1
    solution = solve(problem, SolveOptions(time_limit_s=1.0))
    assert solution.stats.status == sisr.STATUS
    assert solution.objective.total_units == optimum_units(problem)


def task_of(problem: Problem, seconds: float) -> tuple[SearchInput, RouteTimer]:
    points, travel = problem_travel(problem, HaversineProvider())
    coeffs = coefficients(problem, travel)
    timer = RouteTimer(points, travel, coeffs, problem.lunch_on_site_min_s)
    task = SearchInput(problem, list(problem.jobs), points, travel, coeffs, time.monotonic() + seconds)
    return task, timer


def checked(problem: Problem, plan: Plan, task: SearchInput) -> int:
    """The checker's objective of ``plan`` (jobs out listed unassigned), asserting no violation."""
    from solver.solution import ReasonCode, Unassigned

    served = plan.served()
    out = tuple(Unassigned(j.id, ReasonCode.DAY_FULL, "out") for j in problem.jobs if j.id not in served)
    report = check(problem, Solution(tuple(plan.routes.values()), out), task.points, task.travel)
    assert report.violations == ()
    return report.objective.total_units


@pytest.mark.parametrize("seed", range(6))
def test_the_compiled_search_and_the_checker_agree_on_the_objective_with_technicians_out(seed: int) -> None:
    problem = replanned(seed)
    task, timer = task_of(problem, 0.3)
    raw = sisr.CompiledSearch().run(task)
    assert raw.objective_units == checked(problem, Plan.from_raw(problem, raw, timer), task)


@pytest.mark.parametrize("seed", range(6))
def test_or_tools_and_the_checker_agree_on_the_objective_with_technicians_out(seed: int) -> None:
    problem = replanned(seed)
    task, timer = task_of(problem, 1.0)
    raw = OrToolsSearch(OrToolsSettings()).run(task)
    assert raw.found
    assert raw.objective_units == checked(problem, Plan.from_raw(problem, raw, timer), task)


@pytest.mark.parametrize("compiled", [True, False])
def test_a_technician_out_too_late_to_do_more_is_sent_home_by_either_search(compiled: bool) -> None:
    """Out far from home at 16:50 on a shift that ends at 17:00: no job is theirs, and
    the plan (by the compiled search or OR-Tools) passes the checker."""
    techs = (
        Technician("T0", grid(0), Shift(8 * H, 17 * H), cost=RATE),
        Technician("T1", Location(60.40, 25.30), Shift(8 * H, 17 * H), cost=RATE),
    )
    jobs = (Job("J", grid(3), 600), Job("done", grid(24), H))
    day = remaining(
        Problem(techs, jobs), int(16.5 * H), positions={"T0": Position(grid(24), int(16.8 * H), 1)}, settled={"done"}
    )
    settings = SearchSettings(ruin_and_recreate=compiled, portfolio=False)
    solution = solve(day, SolveOptions(time_limit_s=1.0, search=settings))
    assert solution.route("T0").visits == ()
    points, travel = problem_travel(day, HaversineProvider())
    report = check(day, solution, points, travel)
    assert report.violations == ()
    leg = int(travel.duration_s[points.tech_start["T0"], points.tech_end["T0"]])
    assert int(16.8 * H) + leg > 17 * H  # home late, as the only thing left to do
    assert report.objective.total_units >= leg * 1000
