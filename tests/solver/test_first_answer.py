"""A solve's first answer (``solve(..., first_answer=...)``): handed over before the
search, checked and explained like the final one, holding what the starting routes
hold, and never better than what the solve returns in the end."""

from __future__ import annotations

from solver import Problem, Solution, SolveOptions, check, problem_travel, solve
from solver.travel import HaversineProvider
from tests.solver.conftest import make_mixed_day
from tests.solver.test_warm_start import booked_day, initial


def accounted(problem: Problem, solution: Solution) -> bool:
    served = {v.job_id for r in solution.routes for v in r.visits}
    return served | {u.job_id for u in solution.unassigned} == {j.id for j in problem.jobs}


def test_a_solve_from_given_routes_hands_over_a_checked_first_answer_that_keeps_their_promises() -> None:
    problem, routes = booked_day(seed=1, technicians=8, booked=30, loose=60)
    firsts: list[Solution] = []
    final = solve(problem, SolveOptions(time_limit_s=3, initial_routes=initial(routes)), first_answer=firsts.append)
    assert len(firsts) == 1
    first = firsts[0]
    assert check(problem, first, *problem_travel(problem, HaversineProvider())).feasible
    assert accounted(problem, first)
    promised = {j.id for j in problem.jobs if j.priority == 0}
    assert promised <= {v.job_id for r in first.routes for v in r.visits}
    assert first.stats.status == "first_answer" and first.stats.wall_time_s < 3
    assert final.objective.total_units <= first.objective.total_units


def test_without_routes_to_start_from_the_first_answer_is_made_by_insertion_and_explains_what_it_leaves_out() -> None:
    problem = make_mixed_day()
    firsts: list[Solution] = []
    final = solve(problem, SolveOptions(time_limit_s=2), first_answer=firsts.append)
    (first,) = firsts
    assert check(problem, first, *problem_travel(problem, HaversineProvider())).feasible
    assert accounted(problem, first)
    assert first.routes and any(r.visits for r in first.routes)
    assert all(u.reason for u in first.unassigned)
    assert final.objective.total_units <= first.objective.total_units
