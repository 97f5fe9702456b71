"""Planning by hand, the benchmark baseline: feasible, and never reordered."""

from __future__ import annotations

from pathlib import Path

from dispatch.dayfile import load_day
from solver import HaversineProvider, Problem, check, problem_travel
from solver.baseline import plan_by_hand

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def test_a_plan_by_hand_passes_the_checker_and_accounts_for_every_job(mixed_day: Problem) -> None:
    solution = plan_by_hand(mixed_day)
    report = check(mixed_day, solution, *problem_travel(mixed_day, HaversineProvider()))
    assert report.violations == ()


def test_planning_by_hand_keeps_each_technicians_jobs_in_booking_order() -> None:
    day = load_day(SAMPLES / "helsinki-day.json")
    order = {j.id: i for i, j in enumerate(day.problem.jobs)}
    solution = plan_by_hand(day.problem)
    report = check(day.problem, solution, *problem_travel(day.problem, HaversineProvider()))
    assert report.violations == ()
    for route in solution.routes:
        ranks = [order[v.job_id] for v in route.visits]
        assert ranks == sorted(ranks)
