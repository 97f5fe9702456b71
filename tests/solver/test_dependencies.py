"""Dependencies between jobs of one solve (``Job.after``): refused when malformed,
checked from scratch by the checker, kept by the engine (docs/model.md, "Dependencies")."""

from __future__ import annotations

import dataclasses
import random
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from solver import (
    Break,
    Dependency,
    HaversineProvider,
    Job,
    Problem,
    ProblemError,
    ReasonCode,
    Shift,
    SolveOptions,
    TimeWindow,
    Unassigned,
    ViolationKind,
    check,
    problem_travel,
    solve,
)
from solver.dependencies import broken, keep
from solver.engine import _after_dependencies, repair_until
from solver.objective import coefficients
from solver.plan import Plan
from solver.problem import DAY_S, MAX_TIME_S
from solver.replan import remaining
from solver.schedule import RouteTimer
from solver.search.ortools import HORIZON_S
from tests.solver.bruteforce import optimum_units
from tests.solver.test_bruteforce import tiny_day
from tests.solver.test_checker import HOME, A, B, hm, provider, route, run, tech, visit
from tests.solver.test_properties import PROPERTY, days

H = 3600
DEPENDENCY = ViolationKind.DEPENDENCY


def job(job_id: str, location: Any = A, **fields: Any) -> Job:
    """A one-hour job at A."""
    return Job(job_id, location, **{"duration_s": H, **fields})


def measure_and_install(min_lag_s: int = 0, max_lag_s: int | None = None, **install: Any) -> Problem:
    """One 08:00–18:00 technician; a measure at A fixed at 14:00, an install at B waiting for it."""
    return Problem(
        (tech(shift=Shift(hm(8), hm(18))),),
        (
            job("M", A, windows=(TimeWindow(hm(14), hm(14)),)),
            job("I", B, after=Dependency("M", min_lag_s, max_lag_s), **{"duration_s": 2 * H, **install}),
        ),
    )


def solved(problem: Problem, seconds: float = 1.0) -> Any:
    return solve(problem, SolveOptions(time_limit_s=seconds), provider())


def start_of(solution: Any, job_id: str) -> int:
    return next(v.start_s for r in solution.routes for v in r.visits if v.job_id == job_id)


def end_of(solution: Any, job_id: str) -> int:
    return next(v.end_s for r in solution.routes for v in r.visits if v.job_id == job_id)


# --- The problem refuses what it cannot mean ---------------------------------------------------------------


def test_a_dependency_on_a_job_outside_the_problem_is_refused_naming_the_field() -> None:
    with pytest.raises(ProblemError, match=r"job I: after.job_id NOPE is not a job of this problem"):
        Problem((tech(),), (job("I", after=Dependency("NOPE")),))


def test_a_job_waiting_for_itself_is_refused() -> None:
    with pytest.raises(ProblemError, match="after names the job itself"):
        job("I", after=Dependency("I"))


def test_a_cycle_of_dependencies_is_refused() -> None:
    jobs = (job("A1", after=Dependency("A3")), job("A2", after=Dependency("A1")), job("A3", after=Dependency("A2")))
    with pytest.raises(ProblemError, match="cycle"):
        Problem((tech(),), jobs)


def test_a_negative_lag_or_a_maximum_below_the_minimum_is_refused() -> None:
    with pytest.raises(ProblemError, match=r"after\.min_lag must not be negative"):
        Dependency("M", -60)
    with pytest.raises(ProblemError, match=r"after\.max_lag is below after\.min_lag"):
        Dependency("M", 2 * H, H)


def test_a_shift_beyond_the_engines_horizon_is_refused_naming_the_field() -> None:
    """The OR-Tools time dimension ends at HORIZON_S (14 days and a night: docs/model.md,
    "Planning horizon"); a longer day was cut off without a word."""
    assert HORIZON_S == MAX_TIME_S == 15 * 24 * H
    with pytest.raises(ProblemError, match=r"technician T1: shift.end plus max_overtime ends 361 h"):
        tech(shift=Shift(hm(8), 360 * H), max_overtime_s=H)
    with pytest.raises(ProblemError, match=r"technician T1: shift.start"):
        tech(shift=Shift(-H, hm(16)))
    tech(shift=Shift(hm(8), 359 * H), max_overtime_s=H)  # exactly up to the horizon is fine


def test_a_window_or_job_beyond_the_engines_horizon_is_refused_naming_the_field() -> None:
    with pytest.raises(ProblemError, match=r"job J1: windows\[1\] lies outside"):
        job("J1", windows=(TimeWindow(hm(9), hm(10)), TimeWindow(361 * H, 362 * H)))
    with pytest.raises(ProblemError, match=r"job J1: preferred_window lies beyond"):
        job("J1", preferred_window=TimeWindow(361 * H, 362 * H))
    with pytest.raises(ProblemError, match=r"job J1: duration is longer"):
        job("J1", duration_s=361 * H)


# --- The checker -------------------------------------------------------------------------------------------


def test_a_dependent_starting_after_its_predecessor_ends_plus_the_lag_is_valid() -> None:
    problem = Problem((tech(),), (job("M", A), job("I", B, after=Dependency("M", 1800))))
    # M 09:00–10:00, I at 10:30 (the drive takes 10 minutes, the lag 30).
    report = run(problem, route("T1", visit("M", hm(9)), visit("I", hm(10, 30)), start_s=hm(8, 50), end_s=hm(11, 40)))
    assert report.violations == ()


def test_a_dependent_starting_before_its_predecessor_ends_plus_the_lag_is_a_dependency_violation() -> None:
    problem = Problem((tech(),), (job("M", A), job("I", B, after=Dependency("M", 1800))))
    report = run(problem, route("T1", visit("M", hm(9)), visit("I", hm(10, 29)), start_s=hm(8, 50), end_s=hm(11, 39)))
    assert [(v.kind, v.job_id) for v in report.violations] == [(DEPENDENCY, "I")]
    assert "before M ends 10:00:00" in report.violations[0].detail


def test_a_dependent_before_its_predecessor_on_another_technician_is_a_dependency_violation() -> None:
    problem = Problem((tech("T1"), tech("T2")), (job("M", A), job("I", B, after=Dependency("M"))))
    report = run(
        problem,
        route("T1", visit("M", hm(14)), start_s=hm(13, 50), end_s=hm(15, 10)),
        route("T2", visit("I", hm(10)), start_s=hm(9, 50), end_s=hm(11, 10)),
    )
    assert [(v.kind, v.job_id) for v in report.violations] == [(DEPENDENCY, "I")]


def test_a_dependent_starting_later_than_the_maximum_lag_is_a_dependency_violation() -> None:
    problem = Problem((tech(),), (job("M", A), job("I", B, after=Dependency("M", 0, H))))
    ok = run(problem, route("T1", visit("M", hm(9)), visit("I", hm(11)), start_s=hm(8, 50), end_s=hm(12, 10)))
    late = run(problem, route("T1", visit("M", hm(9)), visit("I", hm(11, 1)), start_s=hm(8, 50), end_s=hm(12, 11)))
    assert ok.violations == ()
    assert [(v.kind, v.job_id) for v in late.violations] == [(DEPENDENCY, "I")]


def test_a_dependent_served_while_its_predecessor_is_not_is_a_dependency_violation() -> None:
    problem = Problem((tech(),), (job("M", A), job("I", B, after=Dependency("M"))))
    unassigned = (Unassigned("M", ReasonCode.DAY_FULL, "The day is full."),)
    report = run(problem, route("T1", visit("I", hm(9)), start_s=hm(8, 50), end_s=hm(10, 10)), unassigned=unassigned)
    assert [(v.kind, v.job_id) for v in report.violations] == [(DEPENDENCY, "I")]
    assert "M it waits for is not" in report.violations[0].detail


# --- The engine keeps them ---------------------------------------------------------------------------------


def test_an_install_waiting_for_a_measure_at_14_is_planned_after_the_measure_ends() -> None:
    """The tester's reproduction: the install went at 10:00, before its own measure at 14:00."""
    solution = solved(measure_and_install())
    assert start_of(solution, "I") >= end_of(solution, "M") == hm(15)
    assert solution.unassigned == ()


def test_a_pair_on_two_technicians_is_ordered_across_their_routes() -> None:
    """The install is pinned to T2, the measure to T1: T2 waits until the measure is over plus the lag."""
    problem = Problem(
        (tech("T1", shift=Shift(hm(8), hm(18))), tech("T2", shift=Shift(hm(8), hm(18)))),
        (
            job("M", A, windows=(TimeWindow(hm(9), hm(15)),), pinned_technician_id="T1"),
            job("X", B, duration_s=3 * H, windows=(TimeWindow(hm(8), hm(10)),), pinned_technician_id="T1"),
            job("I", B, duration_s=2 * H, after=Dependency("M", H), pinned_technician_id="T2"),
        ),
    )
    solution = solved(problem)
    assert solution.unassigned == ()
    assert start_of(solution, "I") >= end_of(solution, "M") + H


def test_a_lag_that_leaves_no_time_that_day_leaves_the_dependent_out_with_the_reason() -> None:
    solution = solved(measure_and_install(min_lag_s=3 * H))
    (out,) = solution.unassigned
    assert out.job_id == "I" and out.code == ReasonCode.DEPENDENCY_NOT_MET
    assert "Waits for job M" in out.reason and "18:00" in out.reason


def test_a_maximum_lag_that_the_windows_miss_leaves_the_dependent_out_with_the_reason() -> None:
    """The measure ends 15:00; the install must start by 16:00, its window opens 16:30."""
    solution = solved(measure_and_install(max_lag_s=H, duration_s=H, windows=(TimeWindow(hm(16, 30), hm(17)),)))
    (out,) = solution.unassigned
    assert (out.job_id, out.code) == ("I", ReasonCode.DEPENDENCY_NOT_MET)


def test_a_dependent_of_a_job_no_one_can_do_waits_for_it() -> None:
    problem = Problem((tech(),), (job("M", A, skills={"glass": 3}), job("I", B, after=Dependency("M"))))
    solution = solved(problem)
    by_id = {u.job_id: u for u in solution.unassigned}
    assert by_id["M"].code == ReasonCode.NO_SKILL
    assert by_id["I"].code == ReasonCode.DEPENDENCY_NOT_MET and "Waits for job M" in by_id["I"].reason


def test_keep_takes_a_dependent_planned_too_early_out_and_puts_it_back_after_its_predecessor() -> None:
    """The repair that follows every search: a plan with the install at 9:00 before the
    measure at 14:00 (as a search unaware of the pair might return) comes out ordered."""
    problem = measure_and_install()
    points, travel = problem_travel(problem, provider())
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    plan = Plan.empty(problem)
    t1 = problem.technician("T1")
    plan.insert("T1", 0, problem.job("I"))
    plan.insert("T1", 1, problem.job("M"))
    assert plan.retime(t1, timer)
    assert broken(problem, plan) == ["I"]
    assert keep(problem, plan, timer, until=float("inf")) == []
    assert [j.id for j in plan.jobs["T1"]] == ["M", "I"]
    assert broken(problem, plan) == []


def test_a_small_day_puts_its_dependent_back_even_when_the_solve_is_out_of_time() -> None:
    """On a loaded machine the search may end past the repair's deadline: a small day's
    dependent taken out is put back all the same, not left out with a wrong reason."""
    problem = measure_and_install()
    points, travel = problem_travel(problem, provider())
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    plan = Plan.empty(problem)
    plan.insert("T1", 0, problem.job("I"))
    plan.insert("T1", 1, problem.job("M"))
    assert plan.retime(problem.technician("T1"), timer)
    until = repair_until(problem, time.monotonic() - 1)
    left = _after_dependencies(problem, problem.jobs, plan, [], timer, until)
    assert left == []
    assert [j.id for j in plan.jobs["T1"]] == ["M", "I"]


def test_a_replan_after_the_measure_is_done_cuts_the_installs_windows_to_its_end() -> None:
    problem = measure_and_install(min_lag_s=H)
    left = remaining(problem, hm(15), settled={"M"}, settled_ends={"M": hm(15, 20)})
    (install,) = left.jobs
    assert install.after is None
    assert install.start_windows()[0].start_s == hm(16, 20)
    gone = remaining(problem, hm(15), settled={"M"})
    assert gone.jobs == ()


# --- Random small days -------------------------------------------------------------------------------------


@st.composite
def days_with_dependencies(draw: st.DrawFn) -> Problem:
    """A random day (``test_properties.days``) where each job may wait for an earlier
    one, with a lag of 0–2 h and sometimes a maximum lag."""
    day = draw(days())
    jobs = list(day.jobs)
    for k in range(1, len(jobs)):
        if draw(st.booleans()):
            pred = jobs[draw(st.integers(0, k - 1))].id
            min_lag = draw(st.sampled_from([0, 0, 1800, 2 * H]))
            max_lag = draw(st.none() | st.sampled_from([0, H, 4 * H]).map(lambda x, m=min_lag: m + x))
            jobs[k] = dataclasses.replace(jobs[k], after=Dependency(pred, min_lag, max_lag))
    return dataclasses.replace(day, jobs=tuple(jobs))


@PROPERTY
@given(days_with_dependencies())
def test_every_random_day_with_dependencies_keeps_them_and_passes_the_checker(problem: Problem) -> None:
    solution = solve(problem, SolveOptions(time_limit_s=0.5))  # raises CheckerRejected on any violation
    points, travel = problem_travel(problem, HaversineProvider())
    assert check(problem, solution, points, travel).violations == ()
    served = solution.served_job_ids()
    assert served | {u.job_id for u in solution.unassigned} == {j.id for j in problem.jobs}
    for j in problem.jobs:
        if j.after is not None and j.id in served:
            assert j.after.job_id in served
            assert j.after.allows(start_of(solution, j.id), end_of(solution, j.after.job_id))


# Seed 3: the search places the pair the wrong way round and ``keep`` puts the dependent
# back after its predecessor without re-sequencing the rest of the route; the plan is
# valid but costs a little more than the optimum (issue 20: the search itself does
# not order pairs yet, docs/model.md "Dependencies").
GAP = pytest.mark.xfail(strict=True, reason="keep() re-inserts the dependent, the route is not re-optimised")


@pytest.mark.parametrize("seed", [0, 1, 2, pytest.param(3, marks=GAP), 4, 5])
def test_the_solver_reaches_the_brute_force_optimum_on_a_tiny_day_with_a_dependency(seed: int) -> None:
    """Two jobs of the tiny day pinned to E1, the second waiting for the first."""
    rng = random.Random(seed)
    day = tiny_day(seed)
    first, second = rng.sample(range(len(day.jobs)), 2)
    jobs = list(day.jobs)
    jobs[first] = dataclasses.replace(jobs[first], pinned_technician_id="E1", preferred_technician_id=None)
    jobs[second] = dataclasses.replace(
        jobs[second], pinned_technician_id="E1", preferred_technician_id=None, after=Dependency(jobs[first].id)
    )
    problem = dataclasses.replace(day, jobs=tuple(jobs))
    solution = solve(problem, SolveOptions(time_limit_s=2.0))
    assert solution.objective.total_units == optimum_units(problem)


def test_lunch_and_dependencies_together_still_time() -> None:
    """A lunch in the shift does not let the dependent slip before its predecessor's end."""
    problem = Problem(
        (tech(start=HOME, shift=Shift(hm(8), hm(18), Break(hm(11), hm(13), 1800))),),
        (job("M", A, windows=(TimeWindow(hm(11), hm(12)),)), job("I", B, after=Dependency("M", 1800))),
    )
    solution = solved(problem)
    assert solution.unassigned == ()
    assert start_of(solution, "I") >= end_of(solution, "M") + 1800


FRIDAY = 4


def test_a_lag_in_working_days_runs_from_the_day_the_job_ends_past_the_weekend() -> None:
    """Day 0 is a Friday: one working day after a job ending on it is Monday (day 3),
    and at most two is the end of Tuesday (day 4); lags in hours hold as well."""
    dep = Dependency("M", min_lag_days=1, max_lag_days=2, first_weekday=FRIDAY)
    end = hm(15)
    assert dep.earliest_s(end) == 3 * DAY_S
    assert dep.latest_s(end) == 5 * DAY_S - 1
    assert not dep.allows(DAY_S + hm(9), end) and dep.allows(3 * DAY_S + hm(9), end)
    assert not dep.allows(5 * DAY_S + hm(9), end)
    both = Dependency("M", min_lag_s=90 * H, min_lag_days=1, first_weekday=FRIDAY)
    assert both.earliest_s(end) == end + 90 * H
    same_day = Dependency("M", max_lag_days=0, first_weekday=FRIDAY)
    assert same_day.latest_s(end) == DAY_S - 1


def test_a_bad_lag_in_working_days_is_refused() -> None:
    with pytest.raises(ProblemError, match=r"after\.min_lag_days must not be negative"):
        Dependency("M", min_lag_days=-1)
    with pytest.raises(ProblemError, match=r"after\.max_lag_days is below after\.min_lag_days"):
        Dependency("M", min_lag_days=3, max_lag_days=1)
    with pytest.raises(ProblemError, match=r"after\.working_weekdays"):
        Dependency("M", min_lag_days=1, working_weekdays=frozenset())


def test_a_dependent_the_same_day_as_a_predecessor_it_waits_a_working_day_for_is_a_dependency_violation() -> None:
    problem = Problem((tech(),), (job("M", A), job("I", B, after=Dependency("M", min_lag_days=1))))
    report = run(problem, route("T1", visit("M", hm(9)), visit("I", hm(11)), start_s=hm(8, 50), end_s=hm(12, 10)))
    assert [(v.kind, v.job_id) for v in report.violations] == [(DEPENDENCY, "I")]
    assert "plus 0s and 1 working day (" in report.violations[0].detail
