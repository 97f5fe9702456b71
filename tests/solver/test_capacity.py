"""Capacity: what a technician carries per resource type (load, a stock of parts).

Every day uses the same five points (home H, jobs at A, B, C, D) and a fixed
matrix: 600 s and 5000 m between any two different points, 0 on the diagonal.
The rule (solver.problem.Problem.capacity_limits): a resource type is limited
when any technician lists it; a technician who does not list it carries 0 of
it; a type nobody lists is not limited.
"""

from __future__ import annotations

from typing import Any

import pytest

from solver import (
    CostProfile,
    FixedMatrixProvider,
    Job,
    Location,
    Problem,
    ProblemError,
    ReasonCode,
    Route,
    Shift,
    Solution,
    SolveOptions,
    Technician,
    ViolationKind,
    Visit,
    check,
    problem_travel,
    solve,
)
from solver.objective import coefficients
from solver.schedule import RouteTimer
from tests.solver.conftest import equidistant

H = 3600
HOME = Location(60.00, 24.00)
A = Location(60.01, 24.00)
B = Location(60.02, 24.00)
C = Location(60.03, 24.00)
D = Location(60.04, 24.00)
POINTS = (HOME, A, B, C, D)
CAPACITY = ViolationKind.CAPACITY


def provider() -> FixedMatrixProvider:
    """600 s and 5000 m between any two different points."""
    return equidistant(POINTS)


def tech(tech_id: str, **fields: Any) -> Technician:
    """An 08:00–16:00 technician living at HOME, paid per hour and per km."""
    defaults: dict[str, Any] = {"start": HOME, "shift": Shift(8 * H, 16 * H), "cost": CostProfile(3600, 30)}
    return Technician(tech_id, **{**defaults, **fields})


def job(job_id: str, location: Location, load: int, **fields: Any) -> Job:
    """A one-hour job using ``load`` units of the resource type "load"."""
    return Job(job_id, location, H, demand={"load": load}, **fields)


def back_to_back(tech_id: str, *job_ids: str) -> Route:
    """Leave at 08:00, each one-hour visit right after a 10 min drive, then drive home."""
    visits = []
    t = 8 * H
    for job_id in job_ids:
        arrival = t + 600
        visits.append(Visit(job_id, arrival, arrival, arrival + H, 600, 5000))
        t = arrival + H
    return Route(tech_id, tuple(visits), 8 * H, t + 600, None, 600, 5000)


def capacity_kinds(problem: Problem, *routes: Route) -> list[tuple[ViolationKind, str | None]]:
    points, travel = problem_travel(problem, provider())
    report = check(problem, Solution(routes, ()), points, travel)
    return [(v.kind, v.technician_id) for v in report.violations]


def loads(problem: Problem, solution: Solution) -> dict[str, int]:
    """Load carried per technician (summed demand of the visited jobs)."""
    jobs = {j.id: j for j in problem.jobs}
    return {r.technician_id: sum(jobs[v.job_id].demand.get("load", 0) for v in r.visits) for r in solution.routes}


# --- The rule ----------------------------------------------------------------------------------------------


def test_a_type_one_technician_lists_is_limited_for_all_and_unlisted_means_zero() -> None:
    problem = Problem((tech("T1", capacity={"load": 5}), tech("T2")), (job("J1", A, 1),))
    assert problem.resource_types == ("load",)
    assert problem.capacity_limits() == {"T1": {"load": 5}, "T2": {"load": 0}}


def test_without_any_capacity_listed_nothing_is_limited() -> None:
    problem = Problem((tech("T1"),), (job("J1", A, 1000),))
    assert problem.resource_types == ()
    assert problem.capacity_limits() == {"T1": {}}


def test_a_negative_demand_is_refused_naming_the_field() -> None:
    with pytest.raises(ProblemError, match="demand load"):
        job("J1", A, -1)


def test_a_negative_capacity_is_refused_naming_the_field() -> None:
    with pytest.raises(ProblemError, match="capacity load"):
        tech("T1", capacity={"load": -3})


# --- The checker -------------------------------------------------------------------------------------------


def test_the_checker_flags_a_route_whose_jobs_need_more_than_the_technician_carries() -> None:
    """T1 carries 5: J1 (3) alone fits, J1 + J2 (3 + 3 = 6) does not."""
    problem = Problem((tech("T1", capacity={"load": 5}),), (job("J1", A, 3), job("J2", B, 3)))
    assert capacity_kinds(Problem(problem.technicians, problem.jobs[:1]), back_to_back("T1", "J1")) == []
    assert capacity_kinds(problem, back_to_back("T1", "J1", "J2")) == [(CAPACITY, "T1")]


def test_a_load_exactly_at_capacity_is_allowed() -> None:
    problem = Problem((tech("T1", capacity={"load": 6}),), (job("J1", A, 3), job("J2", B, 3)))
    assert capacity_kinds(problem, back_to_back("T1", "J1", "J2")) == []


def test_a_technician_who_lists_no_capacity_carries_none_of_a_limited_type() -> None:
    problem = Problem((tech("T1", capacity={"load": 5}), tech("T2")), (job("J1", A, 1),))
    idle = Route("T1", (), 8 * H, 8 * H)
    assert capacity_kinds(problem, idle, back_to_back("T2", "J1")) == [(CAPACITY, "T2")]


def test_a_type_no_technician_lists_is_not_limited() -> None:
    problem = Problem((tech("T1", capacity={"load": 5}),), (Job("J1", A, H, demand={"glass": 99}),))
    assert capacity_kinds(problem, back_to_back("T1", "J1")) == []


# --- The route timer ---------------------------------------------------------------------------------------


def test_the_route_timer_refuses_a_sequence_over_capacity() -> None:
    problem = Problem((tech("T1", capacity={"load": 5}),), (job("J1", A, 3), job("J2", B, 3), job("J3", C, 2)))
    points, travel = problem_travel(problem, provider())
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    t1 = problem.technicians[0]
    j1, j2, j3 = problem.jobs
    assert timer.timing(t1, [j1, j3]) is not None  # 3 + 2 = 5
    assert timer.timing(t1, [j1, j2]) is None  # 3 + 3 = 6


# --- The solver --------------------------------------------------------------------------------------------


def test_the_solver_splits_jobs_between_technicians_rather_than_overload_one() -> None:
    """Four jobs of 5 each and two technicians carrying 10: without capacity one
    technician would do all four (one trip is cheaper than two); with it each takes two."""
    techs = (tech("T1", capacity={"load": 10}), tech("T2", capacity={"load": 10}))
    problem = Problem(techs, (job("J1", A, 5), job("J2", B, 5), job("J3", C, 5), job("J4", D, 5)))
    solution = solve(problem, SolveOptions(time_limit_s=2), travel_provider=provider())
    assert solution.unassigned == ()
    assert loads(problem, solution) == {"T1": 10, "T2": 10}
    assert check(problem, solution, *problem_travel(problem, provider())).feasible


def test_the_solver_never_overloads_a_technician_with_uneven_demands() -> None:
    """Carrying 7 and 4, jobs of 4, 3, 3 and 1 (11 in all): every job fits, only as 4+3 / 3+1."""
    techs = (tech("T1", capacity={"load": 7}), tech("T2", capacity={"load": 4}))
    problem = Problem(techs, (job("J1", A, 4), job("J2", B, 3), job("J3", C, 3), job("J4", D, 1)))
    solution = solve(problem, SolveOptions(time_limit_s=2), travel_provider=provider())
    assert solution.unassigned == ()
    assert loads(problem, solution) == {"T1": 7, "T2": 4}


def test_a_job_needing_more_than_any_technician_carries_is_left_unassigned_for_stock() -> None:
    """The pre-check does not know capacity; the post-solve explanation names the stock."""
    techs = (tech("T1", capacity={"load": 10}), tech("T2", capacity={"load": 8}))
    problem = Problem(techs, (job("J1", A, 4), job("BIG", B, 11)))
    solution = solve(problem, SolveOptions(time_limit_s=1), travel_provider=provider())
    assert solution.served_job_ids() == {"J1"}
    assert [(u.job_id, u.code) for u in solution.unassigned] == [("BIG", ReasonCode.NO_STOCK)]
    assert "load" in solution.unassigned[0].reason


def test_a_job_left_out_because_other_jobs_used_up_the_stock_says_so_not_day_full() -> None:
    """One technician carrying 10 with time for all three jobs of 4: only two fit the van."""
    problem = Problem((tech("T1", capacity={"load": 10}),), (job("J1", A, 4), job("J2", B, 4), job("J3", C, 4)))
    solution = solve(problem, SolveOptions(time_limit_s=1), travel_provider=provider())
    assert len(solution.served_job_ids()) == 2
    assert [u.code for u in solution.unassigned] == [ReasonCode.NO_STOCK]
