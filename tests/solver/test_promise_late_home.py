"""A technician whose last visit is a promise may drive home late (``Problem.promise_late_home_s``).

One technician, 08:00-16:00 without overtime, 30 minutes from anywhere to anywhere:
a visit starting at 14:00 that takes 110 minutes ends at 15:50 and brings them home
at 16:20, twenty minutes after their latest end.
"""

from __future__ import annotations

import dataclasses

import pytest

from solver import Job, Problem, Shift, Solution, SolveOptions, Technician, TimeWindow, check, problem_travel, solve
from solver.checker import ViolationKind
from solver.objective import coefficients
from solver.schedule import RouteTimer
from solver.slots import SlotEvaluator, WorkingRoute
from tests.solver.conftest import H, equidistant, grid

LATE_HOME_S = 30 * 60


def _day(duration_min: int, priority: int, late_home_s: int = LATE_HOME_S) -> Problem:
    tech = Technician("T1", grid(0), Shift(8 * H, 16 * H), skills={"wardrobe": 1})
    job = Job(
        "P",
        grid(1),
        duration_min * 60,
        skills={"wardrobe": 1},
        windows=(TimeWindow(14 * H, 15 * H),),
        priority=priority,
    )
    return Problem((tech,), (job,), promise_late_home_s=late_home_s)


def _solve(problem: Problem) -> Solution:
    return solve(problem, SolveOptions(time_limit_s=1), equidistant([grid(0), grid(1)], seconds=1800))


def test_a_promise_that_ends_in_time_is_kept_with_the_technician_home_late_and_paid_as_overtime() -> None:
    problem = _day(110, priority=0)

    solution = _solve(problem)

    assert solution.unassigned == ()
    route = solution.routes[0]
    assert route.visits[0].end_s == 15 * H + 50 * 60
    assert route.end_s == 16 * H + 20 * 60
    points, travel = problem_travel(problem, equidistant([grid(0), grid(1)], seconds=1800))
    assert check(problem, solution, points, travel).feasible


def test_without_the_allowance_the_same_promise_is_left_out() -> None:
    solution = _solve(_day(110, priority=0, late_home_s=0))

    assert [u.job_id for u in solution.unassigned] == ["P"]


def test_a_job_that_is_not_a_promise_never_brings_its_technician_home_late() -> None:
    solution = _solve(_day(110, priority=1))

    assert [u.job_id for u in solution.unassigned] == ["P"]


def test_a_promise_that_would_itself_end_after_the_latest_end_is_left_out() -> None:
    # 130 minutes from 14:00 end at 16:10: the working time is over before the visit is.
    solution = _solve(_day(130, priority=0))

    assert [u.job_id for u in solution.unassigned] == ["P"]


@pytest.mark.parametrize(("priority", "allowed"), [(0, True), (1, False)])
def test_the_checker_and_the_route_timer_agree_on_the_late_way_home(priority: int, allowed: bool) -> None:
    problem = _day(110, priority=priority)
    points, travel = problem_travel(problem, equidistant([grid(0), grid(1)], seconds=1800))
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    tech, job = problem.technicians[0], problem.jobs[0]

    timing = timer.timing(tech, [job])
    # The route the timer would time with the allowance, whatever the job's priority.
    lenient = RouteTimer(points, travel, timer.coeffs, problem.lunch_on_site_min_s).timing(
        tech, [dataclasses.replace(job, priority=0)]
    )
    assert lenient is not None
    route = timer.route(tech, [job], lenient)
    shift_broken = any(
        v.kind == ViolationKind.SHIFT for v in check(problem, Solution((route,), ()), points, travel).violations
    )

    assert (timing is not None) is allowed
    assert shift_broken is not allowed


def test_a_working_plan_whose_promise_brings_its_technician_home_late_still_offers_slots() -> None:
    """The booking path reads the live schedule as a slot evaluator: a route the engine
    planned with the late way home is a working route it takes as it is (before, its
    latest-start bound ignored the allowance and building the evaluator failed)."""
    problem = _day(110, priority=0)
    provider = equidistant([grid(0), grid(1), grid(2)], seconds=1800)
    solution = _solve(problem)
    assert solution.routes[0].end_s > problem.technicians[0].latest_end_s  # home late, as planned
    evaluator = SlotEvaluator(problem, [WorkingRoute("T1", ("P",), (14 * H,))], provider)

    assert not evaluator.unplaced
    assert [r.job_ids for r in evaluator.routes()] == [("P",)]
    morning = Job("M", grid(2), 30 * 60, skills={"wardrobe": 1}, windows=(TimeWindow(9 * H, 10 * H),))
    [answer] = evaluator.evaluate(morning, [TimeWindow(9 * H, 10 * H)])
    assert answer.insertion is not None, answer.reason
