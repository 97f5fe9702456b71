"""Comparing two versions: jobs moved, starts shifted, KPI deltas."""

from __future__ import annotations

from dashboard.diff import compare
from tests.dashboard.factories import plan, route, visit


def test_moves_in_and_out_of_the_plan_shifts_and_kpi_deltas_are_listed() -> None:
    before = plan(
        1,
        [
            route(
                "T1",
                [visit("A", 1, "09:00", "09:00", "10:00", 10), visit("B", 2, "10:10", "10:10", "11:00", 10)],
                "08:50",
                "11:10",
                30,
            ),
            route("T2", [visit("C", 1, "09:00", "09:00", "10:00", 10)], "08:50", "10:10", 20),
        ],
        [("D", "The day is full")],
        jobs_served=3,
        travel_share=0.10,
    )
    after = plan(
        2,
        [
            route("T1", [visit("A", 1, "09:30", "09:30", "10:30", 10)], "09:20", "10:40", 20),
            route(
                "T2",
                [
                    visit("C", 1, "09:00", "09:00", "10:00", 10),
                    visit("B", 2, "10:10", "10:10", "11:00", 10),
                    visit("D", 3, "11:10", "11:10", "12:00", 10),
                ],
                "08:50",
                "12:10",
                40,
            ),
        ],
        jobs_served=4,
        travel_share=0.12,
    )
    diff = compare(before, after)
    assert diff.moved.to_dict("records") == [
        {"job": "B", "before": "T1", "after": "T2"},
        {"job": "D", "before": "unassigned", "after": "T2"},
    ]
    assert diff.shifted.to_dict("records") == [
        {"job": "A", "technician": "T1", "start_before": "09:00", "start_after": "09:30", "shift_min": 30}
    ]
    deltas = diff.kpis.set_index("kpi")
    assert deltas.loc["jobs served", "change"] == "+1"
    assert deltas.loc["travel share", "change"] == "+2.0 pp"
    assert not diff.unchanged


def test_a_version_compared_with_itself_has_no_changes() -> None:
    same = plan(1, [route("T1", [visit("A", 1, "09:00", "09:00", "10:00", 10)], "08:50", "10:10", 20)])
    diff = compare(same, same)
    assert diff.unchanged


def test_a_crew_is_one_placement_named_by_both_technicians() -> None:
    one = plan(1, [route("T1", [visit("K", 1, "09:00", "09:00", "12:00", 10)], "08:50", "12:10", 20)])
    two = plan(
        2,
        [
            route("T1", [visit("K", 1, "09:00", "09:00", "12:00", 10)], "08:50", "12:10", 20),
            route("T3", [visit("K", 1, "09:00", "09:00", "12:00", 10)], "08:50", "12:10", 20),
        ],
    )
    assert compare(one, two).moved.to_dict("records") == [{"job": "K", "before": "T1", "after": "T1 + T3"}]
