"""The engine end to end on small days: every answer is checked and explained."""

from __future__ import annotations

import threading

import pytest

from solver import (
    Break,
    Cancelled,
    CostProfile,
    HaversineProvider,
    Job,
    Problem,
    Progress,
    ReasonCode,
    Shift,
    SolveOptions,
    Technician,
    TimeWindow,
    check,
    problem_travel,
    solve,
)
from tests.solver.conftest import H, grid


def test_a_mixed_day_is_planned_without_violations_and_every_job_is_accounted_for(mixed_day: Problem) -> None:
    solution = solve(mixed_day, SolveOptions(time_limit_s=2))
    report = check(mixed_day, solution, *problem_travel(mixed_day, HaversineProvider()))
    assert report.violations == ()
    served = solution.served_job_ids()
    unassigned = {u.job_id for u in solution.unassigned}
    assert served | unassigned == {j.id for j in mixed_day.jobs}
    assert not served & unassigned


def test_a_job_nobody_is_qualified_for_is_explained_before_the_solve(mixed_day: Problem) -> None:
    solution = solve(mixed_day, SolveOptions(time_limit_s=1))
    reasons = {u.job_id: u for u in solution.unassigned}
    assert reasons["NOSKILL"].code is ReasonCode.NO_SKILL
    assert "glass level 3" in reasons["NOSKILL"].reason


def test_a_crew_of_two_is_served_by_two_technicians_starting_together() -> None:
    lunch = Break(11 * H, 13 * H, 1800)
    techs = tuple(
        Technician(t, grid(i), Shift(8 * H, 16 * H, lunch), skills={"kitchen": 2}, cost=CostProfile(3600, 30))
        for i, t in enumerate(("T1", "T2", "T3"))
    )
    jobs = (
        Job("CREW", grid(6), 3 * H, skills={"kitchen": 1}, windows=(TimeWindow(9 * H, 10 * H),), crew_size=2),
        Job("SOLO1", grid(8), H, windows=(TimeWindow(9 * H, 12 * H),)),
        Job("SOLO2", grid(9), H),
    )
    problem = Problem(techs, jobs)
    solution = solve(problem, SolveOptions(time_limit_s=2))
    crew = [(r.technician_id, v.start_s) for r in solution.routes for v in r.visits if v.job_id == "CREW"]
    assert len(crew) == 2
    assert crew[0][0] != crew[1][0]
    assert crew[0][1] == crew[1][1]
    assert 9 * H <= crew[0][1] <= 10 * H


def test_progress_is_reported_during_the_search_and_ends_at_done(mixed_day: Problem) -> None:
    seen: list[Progress] = []
    solve(mixed_day, SolveOptions(time_limit_s=1, progress_interval_s=0.1), progress=seen.append)
    assert len(seen) >= 3
    assert seen[-1].phase == "done"
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions)
    assert all(0.0 <= f <= 1.0 for f in fractions)


def test_a_cancelled_solve_raises_instead_of_returning_a_plan(mixed_day: Problem) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        solve(mixed_day, SolveOptions(time_limit_s=30), cancel=cancel)
