"""The working plan's stored form: what LiveScheduleRow.routes holds reads back the same."""

from __future__ import annotations

from solver import Break, HaversineProvider, Job, Problem, Shift, Technician, TimeWindow, problem_travel
from solver.objective import coefficients
from solver.plan import Plan, WorkingRoute, as_working_routes, plan_adding_lunch, routes_from_json, routes_to_json
from solver.schedule import RouteTimer
from solver.search.types import RawResult, RawRoute, RawVisit
from tests.solver.conftest import H, grid


def test_a_working_plan_goes_to_json_and_back_without_its_empty_routes() -> None:
    routes = [
        WorkingRoute("T1", ("a", "crew"), (None, 36000)),
        WorkingRoute("T2", ()),
        WorkingRoute("T3", ("crew",), (36000,)),
    ]
    stored = routes_to_json(routes)
    assert stored == [["T1", [["a", None], ["crew", 36000]]], ["T3", [["crew", 36000]]]]
    assert routes_from_json(stored) == [routes[0], routes[2]]


def test_rows_stored_before_read_as_they_were_meant() -> None:
    # Rows written by the booking service before solver.plan: job ids may be numbers.
    assert routes_from_json([["T1", [[17, None], ["b", 3600]]]]) == [WorkingRoute("T1", ("17", "b"), (None, 3600))]
    assert routes_from_json(None) == []


def test_the_older_initial_routes_mapping_reads_as_working_routes() -> None:
    assert as_working_routes({"T1": [("a", None), ("b", 60)]}) == (WorkingRoute("T1", ("a", "b"), (None, 60)),)


def test_a_route_that_cannot_hold_its_lunch_loses_only_the_job_in_the_way() -> None:
    # The lunch must start 11:00–11:15; Y (10:45–11:45) leaves it no room. Taking out
    # X, the least urgent, would not help: only Y goes back to the repair step.
    tech = Technician("T1", grid(0), Shift(8 * H, 13 * H, Break(11 * H, 11 * H + 900, 1800)))
    x = Job("X", grid(0), 1800, priority=3)
    y = Job("Y", grid(0), 3600, priority=2, windows=(TimeWindow(10 * H + 2700, 10 * H + 2700),))
    z = Job("Z", grid(0), 3600, priority=2, windows=(TimeWindow(12 * H, 12 * H),))
    problem = Problem((tech,), (x, y, z))
    points, travel = problem_travel(problem, HaversineProvider())
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    visits = (RawVisit("X", 8 * H), RawVisit("Y", 10 * H + 2700), RawVisit("Z", 12 * H))
    raw = RawResult((RawRoute("T1", visits, 8 * H, 13 * H, None),), "success", True, 1, 0.0, None)

    plan = plan_adding_lunch(problem, raw, timer)

    assert [j.id for j in plan.jobs["T1"]] == ["X", "Z"]
    assert plan.routes["T1"].lunch is not None


def test_a_saved_plan_can_be_restored_again_after_changes_made_since_the_first_restore() -> None:
    tech = Technician("T1", grid(0), Shift(8 * H, 16 * H))
    x, y = Job("X", grid(1), 1800), Job("Y", grid(2), 1800)
    problem = Problem((tech,), (x, y))
    points, travel = problem_travel(problem, HaversineProvider())
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    plan = Plan.empty(problem)
    plan.insert("T1", 0, x)
    assert plan.retime(tech, timer)
    saved = plan.saved(plan.jobs)
    for _ in range(2):
        plan.restore(saved)
        plan.insert("T1", 1, y)
        assert plan.retime(tech, timer)
    plan.restore(saved)
    assert [j.id for j in plan.jobs["T1"]] == ["X"]
