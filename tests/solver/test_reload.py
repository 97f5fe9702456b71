"""Depot stops: a technician may stop once a day at the depot to pick up goods and tools.

After the stop the technician holds the depot's tools on top of their own skills
and each stock is topped up (``solver.problem.Depot``). The stop is a visit with
job id ``RELOAD_ID`` in the route; the checker verifies what was carried before
and after it. Every day uses home H, jobs at A, B, C and the depot W, with a
fixed matrix: 600 s and 5000 m between any two different points.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from solver import (
    RELOAD_ID,
    CostProfile,
    Depot,
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
from solver.insertion import insert as _insert
from solver.insertion import insert_via_depot as _insert_via_depot
from solver.objective import coefficients
from solver.plan import Plan as _Plan
from solver.repair import drop_idle_reloads as _drop_idle_reloads
from solver.schedule import RouteTimer
from tests.solver.conftest import equidistant

H = 3600
HOME = Location(60.00, 24.00)
A = Location(60.01, 24.00)
B = Location(60.02, 24.00)
C = Location(60.03, 24.00)
W = Location(60.05, 24.00)
POINTS = (HOME, A, B, C, W)
DEPOT = Depot(W, stop_s=900, restock={"panel": 10}, skills={"drill": 1})
DEPOT_JOB = Job(RELOAD_ID, W, DEPOT.stop_s, priority=0)  # what Problem.reload_job() gives for DEPOT


def provider() -> FixedMatrixProvider:
    """600 s and 5000 m between any two different points."""
    return equidistant(POINTS)


def tech(tech_id: str = "T1", **fields: Any) -> Technician:
    """An 08:00–16:00 fitter living at H who carries two panels and no drill."""
    defaults: dict[str, Any] = {
        "start": HOME,
        "shift": Shift(8 * H, 16 * H),
        "cost": CostProfile(3600, 30),
        "skills": {"fit": 1},
        "capacity": {"panel": 2},
    }
    return Technician(tech_id, **{**defaults, **fields})


def job(job_id: str, location: Location, panels: int = 0, **fields: Any) -> Job:
    """A one-hour fitting job using ``panels`` panels."""
    skills = fields.pop("skills", {"fit": 1})
    return Job(job_id, location, H, skills=skills, demand={"panel": panels} if panels else {}, **fields)


def solved(problem: Problem) -> Solution:
    solution = solve(problem, SolveOptions(time_limit_s=2, seed=0), provider())
    points, travel = problem_travel(problem, provider())
    assert check(problem, solution, points, travel).feasible
    return solution


def stops(solution: Solution, tech_id: str = "T1") -> list[str]:
    return [v.job_id for v in solution.route(tech_id).visits]


def test_a_job_needing_a_tool_the_depot_lends_is_served_after_a_depot_stop() -> None:
    day = Problem((tech(),), (job("J1", A, skills={"fit": 1, "drill": 1}),), depot=DEPOT)
    solution = solved(day)
    assert stops(solution) == [RELOAD_ID, "J1"]
    assert solution.served_job_ids() == {"J1"}
    depot_stop = solution.route("T1").visits[0]
    assert depot_stop.end_s - depot_stop.start_s == DEPOT.stop_s


def test_without_a_depot_that_job_is_left_out_for_the_missing_skill() -> None:
    day = Problem((tech(),), (job("J1", A, skills={"fit": 1, "drill": 1}),))
    solution = solved(day)
    assert [(u.job_id, u.code) for u in solution.unassigned] == [("J1", ReasonCode.NO_SKILL)]


def test_the_depot_tops_up_the_stock_so_more_jobs_are_served() -> None:
    jobs = (job("J1", A, 2), job("J2", B, 2), job("J3", C, 2))
    assert len(solved(Problem((tech(),), jobs)).served_job_ids()) == 1
    solution = solved(Problem((tech(),), jobs, depot=DEPOT))
    assert solution.served_job_ids() == {"J1", "J2", "J3"}
    route = stops(solution)
    assert route.count(RELOAD_ID) == 1 and route.index(RELOAD_ID) == 1  # one job on what they carried


def test_no_depot_stop_is_made_where_nothing_needs_it() -> None:
    solution = solved(Problem((tech(),), (job("J1", A, 1), job("J2", B, 1)), depot=DEPOT))
    assert stops(solution) in (["J1", "J2"], ["J2", "J1"])


def test_the_route_timer_counts_stock_from_the_depot_stop_on() -> None:
    day = Problem((tech(),), (job("J1", A, 2), job("J2", B, 2)), depot=DEPOT)
    points, travel = problem_travel(day, provider())
    timer = RouteTimer(points, travel, coefficients(day, travel), day.lunch_on_site_min_s)
    depot_stop = day.reload_job()
    assert depot_stop is not None
    j1, j2 = day.jobs
    assert not timer.fits_capacity(day.technicians[0], [j1, j2])
    assert timer.fits_capacity(day.technicians[0], [j1, depot_stop, j2])
    assert not timer.fits_capacity(day.technicians[0], [depot_stop, j1, j2, j1, j2, j1, j2])  # 12 > 10


def _repair_day(*planned: Job) -> tuple[Problem, RouteTimer, _Plan, Job]:
    """T1 with ``planned`` (jobs, maybe a depot stop) as its route, and a job that needs the depot's drill."""
    drilled = next((j for j in planned if j.id == "DRILLED"), job("DRILLED", C, skills={"fit": 1, "drill": 1}))
    jobs = [j for j in planned if j.id not in (RELOAD_ID, "DRILLED")]
    problem = Problem((tech(),), (*jobs, drilled), depot=DEPOT)
    points, travel = problem_travel(problem, provider())
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    plan = _Plan.empty(problem)
    plan.jobs["T1"], plan.fixed["T1"] = list(planned), [None] * len(planned)
    assert plan.retime(problem.technicians[0], timer)
    return problem, timer, plan, drilled


def test_the_repair_places_a_job_after_a_new_depot_stop_when_it_fits_nowhere_else() -> None:
    problem, timer, plan, drilled = _repair_day(job("J1", A), job("J2", B))

    assert not _insert(drilled, problem, timer, plan)
    assert _insert_via_depot(drilled, problem, timer, plan, time.monotonic() + 5)

    seq = [j.id for j in plan.jobs["T1"]]
    assert seq.index(RELOAD_ID) < seq.index("DRILLED") and sorted(seq) == sorted(["J1", "J2", RELOAD_ID, "DRILLED"])
    points, travel = problem_travel(problem, provider())
    solution = Solution((plan.routes["T1"],), ())
    assert [v.kind for v in check(problem, solution, points, travel).violations] == []


def test_a_depot_stop_does_not_count_toward_max_jobs_when_the_repair_places_a_job() -> None:
    """Before, the repair and the reason counted the stop as a job: T1 (at most 3 jobs)
    with two jobs and a stop was "at their max jobs per day" and J3 stayed out."""
    limited = tech(max_jobs=3)
    planned = [job("J1", A), DEPOT_JOB, job("J2", B)]
    problem = Problem((limited,), (job("J1", A), job("J2", B), job("J3", C)), depot=DEPOT)
    points, travel = problem_travel(problem, provider())
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    plan = _Plan.empty(problem)
    plan.jobs["T1"], plan.fixed["T1"] = planned, [None] * len(planned)
    assert plan.retime(limited, timer)

    assert _insert(problem.job("J3"), problem, timer, plan)

    assert sorted(j.id for j in plan.jobs["T1"]) == sorted(["J1", "J2", "J3", RELOAD_ID])
    solution = Solution((plan.routes["T1"],), ())
    assert [v.kind for v in check(problem, solution, points, travel).violations] == []
    assert not limited.is_full([job("J1", A), DEPOT_JOB]) and limited.is_full(plan.jobs["T1"])


def test_the_repair_uses_the_depot_stop_a_route_has_and_adds_no_second() -> None:
    problem, timer, plan, drilled = _repair_day(job("J1", A), DEPOT_JOB, job("J2", B))

    assert _insert_via_depot(drilled, problem, timer, plan, time.monotonic() + 5)

    seq = [j.id for j in plan.jobs["T1"]]
    assert seq.count(RELOAD_ID) == 1 and seq.index("DRILLED") > seq.index(RELOAD_ID)


def test_a_depot_stop_nothing_needs_is_taken_out_and_a_needed_one_stays() -> None:
    problem, timer, plan, drilled = _repair_day(job("J1", A), DEPOT_JOB, job("J2", B))
    _drop_idle_reloads(problem, timer, plan)
    assert [j.id for j in plan.jobs["T1"]] == ["J1", "J2"]
    assert RELOAD_ID not in [v.job_id for v in plan.routes["T1"].visits]

    problem, timer, plan, _ = _repair_day(job("J1", A), DEPOT_JOB, drilled)
    _drop_idle_reloads(problem, timer, plan)
    assert [j.id for j in plan.jobs["T1"]] == ["J1", RELOAD_ID, "DRILLED"]


def _route(*job_ids: str) -> Route:
    """Leave at 08:00; each stop one hour (the depot 15 min) after a 10 min drive; then home."""
    visits = []
    t = 8 * H
    for job_id in job_ids:
        arrival = t + 600
        length = DEPOT.stop_s if job_id == RELOAD_ID else H
        visits.append(Visit(job_id, arrival, arrival, arrival + length, 600, 5000))
        t = arrival + length
    return Route("T1", tuple(visits), 8 * H, t + 600, None, 600, 5000)


def _violations(problem: Problem, route: Route) -> list[tuple[ViolationKind, str | None]]:
    """What the checker finds in this one route (jobs it leaves out are not the point here)."""
    points, travel = problem_travel(problem, provider())
    report = check(problem, Solution((route,), ()), points, travel)
    return [(v.kind, v.job_id) for v in report.violations if v.kind != ViolationKind.MISSING_JOB]


def test_the_checker_refuses_a_lent_tool_used_before_the_depot_stop() -> None:
    day = Problem((tech(),), (job("J1", A, skills={"fit": 1, "drill": 1}),), depot=DEPOT)
    assert _violations(day, _route(RELOAD_ID, "J1")) == []
    assert _violations(day, _route("J1", RELOAD_ID)) == [(ViolationKind.SKILL, "J1")]


def test_the_checker_counts_stock_before_and_after_the_depot_stop() -> None:
    day = Problem((tech(capacity={"panel": 2}),), (job("J1", A, 2), job("J2", B, 2), job("J3", C, 9)), depot=DEPOT)
    assert _violations(day, _route("J1", RELOAD_ID, "J2")) == []
    assert _violations(day, _route("J1", "J2", RELOAD_ID)) == [(ViolationKind.CAPACITY, None)]
    assert _violations(day, _route("J1", RELOAD_ID, "J2", "J3")) == [(ViolationKind.CAPACITY, None)]  # 11 > 10


def test_the_checker_allows_one_depot_stop_a_day_and_only_with_a_depot() -> None:
    with_depot = Problem((tech(),), (job("J1", A),), depot=DEPOT)
    assert (ViolationKind.RELOAD, None) in _violations(with_depot, _route(RELOAD_ID, "J1", RELOAD_ID))
    without = Problem((tech(),), (job("J1", A),))
    assert (ViolationKind.UNKNOWN, RELOAD_ID) in _violations(without, _route(RELOAD_ID, "J1"))


def test_the_depot_stop_id_is_reserved_and_a_depot_is_validated() -> None:
    with pytest.raises(ProblemError, match="reserved"):
        Problem((tech(),), (job(RELOAD_ID, A),))
    with pytest.raises(ProblemError, match="stop must not be negative"):
        Depot(W, stop_s=-1)
    with pytest.raises(ProblemError, match="restock"):
        Depot(W, restock={"panel": -1})
