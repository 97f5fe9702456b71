"""The dispatcher's own moves, timed by the route timer and checked by the checker
(``solver.edit.evaluate``). Every drive takes 10 minutes (600 s, 5 km)."""

from __future__ import annotations

import pytest

from solver import Break, FixedMatrixProvider, Job, Problem, ProblemError, Shift, Technician, TimeWindow, ViolationKind
from solver.edit import evaluate
from solver.plan import WorkingRoute
from tests.solver.conftest import H, equidistant, grid

M = 60


def day(lunch: Break | None = None) -> tuple[Problem, FixedMatrixProvider]:
    """T1 (wardrobe) and T2 (no skills), 08:00-16:00 from two homes; three one-hour jobs:
    A needs a wardrobe fitter and starts 09:00-10:00, B any time, C at 15:00-15:30."""
    techs = (
        Technician("T1", grid(0), Shift(8 * H, 16 * H, lunch), skills={"wardrobe": 1}),
        Technician("T2", grid(1), Shift(8 * H, 16 * H, lunch)),
    )
    jobs = (
        Job("A", grid(2), H, skills={"wardrobe": 1}, windows=(TimeWindow(9 * H, 10 * H),)),
        Job("B", grid(3), H),
        Job("C", grid(4), H, windows=(TimeWindow(15 * H, 15 * H + 30 * M),)),
    )
    problem = Problem(techs, jobs)
    points = [grid(i) for i in range(5)]
    return problem, equidistant(points)


def test_a_hand_made_plan_is_timed_by_the_route_timer_and_has_no_violation() -> None:
    """T1 does A then B: leaves 08:50, A 09:00-10:00, B 10:10-11:10, home 11:20."""
    problem, travel = day()
    result = evaluate(problem, [WorkingRoute("T1", ("A", "B"))], travel_provider=travel)
    assert result.feasible, result.violations
    route = result.solution.route("T1")
    assert (route.start_s, route.end_s) == (8 * H + 50 * M, 11 * H + 20 * M)
    assert [(v.job_id, v.start_s, v.end_s) for v in route.visits] == [
        ("A", 9 * H, 10 * H),
        ("B", 10 * H + 10 * M, 11 * H + 10 * M),
    ]
    assert [u.job_id for u in result.solution.unassigned] == ["C"]
    assert result.untimed == ()


def test_a_job_moved_to_a_technician_without_the_skill_is_a_skill_violation() -> None:
    problem, travel = day()
    result = evaluate(problem, [WorkingRoute("T2", ("A",))], travel_provider=travel)
    assert [(v.kind, v.job_id) for v in result.violations] == [(ViolationKind.SKILL, "A")]
    # The timer still timed it: a skill is the checker's business, not the clock's.
    assert result.solution.route("T2").visits[0].start_s == 9 * H


def test_a_route_that_cannot_keep_its_windows_is_driven_as_it_stands_and_reported() -> None:
    """C before A: C at 15:00-16:00, then A cannot start before 16:10 (window 09:00-10:00),
    home 17:20, past the 16:00 shift end."""
    problem, travel = day()
    result = evaluate(problem, [WorkingRoute("T1", ("C", "A"))], travel_provider=travel)
    assert result.untimed == ("T1",)
    route = result.solution.route("T1")
    assert [(v.job_id, v.start_s) for v in route.visits] == [("C", 15 * H), ("A", 16 * H + 10 * M)]
    assert route.end_s == 17 * H + 20 * M
    kinds = {(v.kind, v.job_id) for v in result.violations}
    assert kinds == {(ViolationKind.WINDOW, "A"), (ViolationKind.SHIFT, None)}


def test_an_untimed_route_takes_its_lunch_on_the_way_and_breaks_nothing_else() -> None:
    """Lunch 11:00-13:00 for 30 minutes. B, C, A: the lunch is taken before driving to A."""
    problem, travel = day(Break(11 * H, 13 * H, 30 * M))
    result = evaluate(problem, [WorkingRoute("T1", ("B", "C", "A"))], travel_provider=travel)
    route = result.solution.route("T1")
    assert route.lunch is not None and 11 * H <= route.lunch.start_s <= 13 * H
    assert {v.kind for v in result.violations} <= {ViolationKind.WINDOW, ViolationKind.SHIFT}
    assert ViolationKind.BREAK not in {v.kind for v in result.violations}


def test_a_fixed_start_is_kept_or_reported() -> None:
    """B fixed at 12:00 is timed there; A fixed at 11:00 is outside its window."""
    problem, travel = day()
    kept = evaluate(problem, [WorkingRoute("T1", ("B",), (12 * H,))], travel_provider=travel)
    assert kept.feasible and kept.solution.route("T1").visits[0].start_s == 12 * H
    broken = evaluate(problem, [WorkingRoute("T1", ("A",), (11 * H,))], travel_provider=travel)
    assert [(v.kind, v.job_id) for v in broken.violations] == [(ViolationKind.WINDOW, "A")]
    assert broken.solution.route("T1").visits[0].start_s == 11 * H


def test_the_objective_counts_the_time_and_distance_of_the_routes() -> None:
    problem, travel = day()
    result = evaluate(problem, [WorkingRoute("T1", ("A", "B"))], travel_provider=travel)
    assert result.solution.objective.unassigned_penalty > 0  # C is left out
    assert result.solution.route("T1").distance_m == 15_000


def test_an_unknown_job_or_technician_is_refused_by_name() -> None:
    problem, travel = day()
    with pytest.raises(ProblemError, match="X9"):
        evaluate(problem, [WorkingRoute("T1", ("X9",))], travel_provider=travel)
    with pytest.raises(ProblemError, match="T9"):
        evaluate(problem, [WorkingRoute("T9", ("A",))], travel_provider=travel)
