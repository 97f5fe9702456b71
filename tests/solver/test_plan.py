"""The working plan's stored form: what LiveScheduleRow.routes holds reads back the same."""

from __future__ import annotations

from solver.plan import WorkingRoute, as_working_routes, routes_from_json, routes_to_json


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
