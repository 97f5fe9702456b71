"""The engine end to end on small days: every answer is checked and explained."""

from __future__ import annotations

import threading

import pytest

from solver import (
    Cancelled,
    HaversineProvider,
    Problem,
    Progress,
    ReasonCode,
    SolveOptions,
    check,
    problem_travel,
    solve,
)


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


def test_a_crew_of_two_is_served_by_two_technicians_starting_together(mixed_day: Problem) -> None:
    solution = solve(mixed_day, SolveOptions(time_limit_s=2))
    crew = [(r.technician_id, v.start_s) for r in solution.routes for v in r.visits if v.job_id == "J5"]
    assert len(crew) == 2
    assert crew[0][0] != crew[1][0]
    assert crew[0][1] == crew[1][1]


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
