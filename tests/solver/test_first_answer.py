"""A solve's first answer (``solve(..., first_answer=...)``): handed over before the
search, checked and explained like the final one, holding what the starting routes
hold, and never better than what the solve returns in the end."""

from __future__ import annotations

from solver import (
    Job,
    Location,
    Problem,
    Shift,
    Solution,
    SolveOptions,
    Technician,
    TimeWindow,
    check,
    problem_travel,
    solve,
)
from solver.replan import Absence, Stability, Told, remaining
from solver.travel import HaversineProvider
from tests.solver.conftest import make_mixed_day
from tests.solver.test_warm_start import booked_day, initial

H = 3600


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


def test_a_re_plans_first_answer_gives_an_absent_technicians_customers_to_another_rather_than_keep_them_waiting() -> (
    None
):
    home, near = Location(60.00, 24.00), Location(60.01, 24.00)
    techs = tuple(Technician(t, at, Shift(8 * H, 16 * H)) for t, at in (("t1", home), ("t2", near)))
    jobs = tuple(Job(j, Location(60.005, 24.005 + k * 0.002), H) for k, j in enumerate("abc"))
    told = {"a": Told("t1", 8 * H + 900), "b": Told("t1", 9 * H + 1800), "c": Told("t2", 8 * H + 900)}
    # t1 cannot start before 13:00; their route still times, hours late for both customers.
    problem = remaining(
        Problem(techs, jobs), 8 * H, told=told, absences={"t1": (Absence(7 * H, 13 * H),)}, stability=Stability()
    )
    start = {"t1": [("a", None), ("b", None)], "t2": [("c", None)]}
    firsts: list[Solution] = []
    final = solve(problem, SolveOptions(time_limit_s=1, initial_routes=start), first_answer=firsts.append)
    (first,) = firsts
    assert check(problem, first, *problem_travel(problem, HaversineProvider())).feasible
    by_t2 = {v.job_id for r in first.routes if r.technician_id == "t2" for v in r.visits}
    assert by_t2 & {"a", "b"}, first.routes
    assert final.objective.total_units <= first.objective.total_units


def test_a_re_plans_first_answer_keeps_a_visit_now_early_with_its_technician_to_wait_for_its_told_time() -> None:
    home, near = Location(60.00, 24.00), Location(60.01, 24.00)
    techs = tuple(Technician(t, at, Shift(8 * H, 16 * H)) for t, at in (("t1", home), ("t2", near)))
    # The job before ``a`` on t1's route was cancelled: t1 could be there an hour early.
    jobs = (Job("a", Location(60.005, 24.005), H), Job("c", Location(60.012, 24.0), H))
    told = {"a": Told("t1", 10 * H), "c": Told("t2", 8 * H + 600)}
    problem = remaining(Problem(techs, jobs), 8 * H, told=told, stability=Stability())
    start = {"t1": [("a", None)], "t2": [("c", None)]}
    firsts: list[Solution] = []
    solve(problem, SolveOptions(time_limit_s=1, initial_routes=start), first_answer=firsts.append)
    (first,) = firsts
    assert check(problem, first, *problem_travel(problem, HaversineProvider())).feasible
    (visit,) = next(r.visits for r in first.routes if r.technician_id == "t1")
    assert visit.job_id == "a" and visit.start_s >= 10 * H - 15 * 60


def test_a_route_given_with_more_jobs_than_its_technician_may_take_is_cut_to_their_limit_not_refused() -> None:
    # The route given (say, a version stored with an override) holds one job more than
    # the technician may take.
    tech = Technician("t1", Location(60.0, 24.0), Shift(8 * H, 16 * H), skills={"w": 1}, max_jobs=2)
    other = Technician("t2", Location(60.3, 24.3), Shift(8 * H, 16 * H))
    jobs = tuple(
        Job(
            j,
            Location(60.0 + 0.003 * k, 24.0),
            H,
            skills={"w": 1},
            priority=0,
            windows=(TimeWindow(8 * H + k * H, 9 * H + k * H),),
        )
        for k, j in enumerate("abc")
    )
    problem = Problem((tech, other), jobs)
    firsts: list[Solution] = []
    start = {"t1": [("a", None), ("b", None), ("c", None)]}
    final = solve(problem, SolveOptions(time_limit_s=1, initial_routes=start), first_answer=firsts.append)
    (first,) = firsts
    travel = problem_travel(problem, HaversineProvider())
    for solution in (first, final):
        assert check(problem, solution, *travel).feasible
        assert [v.job_id for r in solution.routes if r.technician_id == "t1" for v in r.visits] == ["a", "b"]
        assert [u.job_id for u in solution.unassigned] == ["c"]
