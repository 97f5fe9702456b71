"""bench.replan_api: its checks catch what they claim to, and the quick day through a
served API on SQLite (real API and solver worker processes) passes every one of them
(no timing is asserted)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from bench.replan_api import check_locks, check_replan, main

HKI = dt.timezone(dt.timedelta(hours=2))
AT = dt.datetime(2026, 12, 1, 10, 0, tzinfo=HKI)


def at(hour: int, minute: int = 0) -> str:
    return dt.datetime(2026, 12, 1, hour, minute, tzinfo=HKI).isoformat()


def visit(job_id: str, start: tuple[int, int], end: tuple[int, int]) -> dict[str, Any]:
    return {"job_id": job_id, "arrival": at(*start), "start": at(*start), "end": at(*end)}


def job(status: str, promise: tuple[int, int] | None = None) -> dict[str, Any]:
    window = None if promise is None else {"start": at(promise[0]), "end": at(promise[1])}
    return {"status": status, "promised_window": window}


PUBLISHED = {
    "routes": [
        {"technician_id": "T1", "visits": [visit("DONE", (8, 0), (9, 0)), visit("A", (10, 30), (11, 0))]},
        {"technician_id": "T2", "visits": [visit("B", (11, 0), (12, 0))]},
    ]
}
# From 10:00: T2 fell ill at 10:00, B goes to T1 (inside its promise), URGENT is new for T1.
REPLAN = {
    "routes": [
        {
            "technician_id": "T1",
            "visits": [
                visit("DONE", (8, 0), (9, 0)),
                visit("A", (10, 30), (11, 0)),
                visit("B", (11, 15), (12, 15)),
                visit("URGENT", (12, 30), (13, 0)),
            ],
        },
        {"technician_id": "T2", "visits": []},
    ],
    "changes": {
        "settled": ["DONE"],
        "moved": [{"job_id": "B", "from_technician_id": "T2", "to_technician_id": "T1"}],
        "dropped": [],
        "added": [{"job_id": "URGENT", "technician_id": "T1", "arrival": at(12, 30)}],
        "locks_not_kept": [],
    },
}
JOBS = {"DONE": job("completed"), "A": job("scheduled"), "B": job("scheduled", (11, 12)), "URGENT": job("open")}
ILL = [{"technician_id": "T2", "from": at(10)}]


def test_a_re_plan_that_keeps_every_rule_passes_the_checks() -> None:
    assert check_replan(AT, PUBLISHED, REPLAN, JOBS, ILL) == []


def test_each_broken_rule_is_caught_and_named() -> None:
    moved_done = copy.deepcopy(REPLAN)
    moved_done["routes"][0]["visits"][0] = visit("DONE", (8, 30), (9, 30))
    assert check_replan(AT, PUBLISHED, moved_done, JOBS, ILL) == ["DONE done or under way moved (T1)"]

    late = copy.deepcopy(REPLAN)
    late["routes"][0]["visits"][2] = visit("B", (12, 5), (13, 5))
    assert check_replan(AT, PUBLISHED, late, JOBS, ILL) == [f"promise of B broken: T1 starts {at(12, 5)}"]

    unreported = copy.deepcopy(REPLAN)
    unreported["changes"]["added"] = []
    assert check_replan(AT, PUBLISHED, unreported, JOBS, ILL) == ["changes.added [] is not the difference ['URGENT']"]

    ill_works = copy.deepcopy(REPLAN)
    ill_works["routes"][1]["visits"] = [ill_works["routes"][0]["visits"].pop(2)]
    ill_works["changes"]["moved"] = []
    assert check_replan(AT, PUBLISHED, ill_works, JOBS, ILL) == ["B planned for T2 while they are unavailable"]

    again = {**JOBS, "A": job("completed")}
    assert "A is planned again while completed" in check_replan(AT, PUBLISHED, REPLAN, again, ILL)


def test_a_lock_is_kept_released_with_a_reason_or_over_and_anything_else_is_caught() -> None:
    locks = {"A": ("T1", at(10, 30)), "B": ("T1", at(11, 15))}
    assert check_locks(locks, REPLAN, JOBS) == ([], set(), set())
    later = copy.deepcopy(REPLAN)
    later["changes"]["locks_not_kept"] = []
    later["routes"][0]["visits"][2] = visit("B", (11, 40), (12, 40))
    moved = f"B, locked to T1 at {at(11, 15)}, moved without saying so"
    assert check_locks(locks, later, JOBS) == ([moved], set(), set())
    later["changes"]["locks_not_kept"] = [{"job_id": "B", "technician_id": "T1", "lock": "time", "reason": "..."}]
    assert check_locks(locks, later, JOBS) == ([], {"B"}, set())
    assert check_locks(locks, REPLAN, {**JOBS, "A": job("completed")}) == ([], set(), {"A"})


def test_the_quick_day_through_the_api_on_sqlite_breaks_no_rule_and_no_call_fails() -> None:
    [run] = main(["--quick", "--seed", "3"])
    assert run.label == "SQLite" and run.steps == 3
    assert run.failures == [] and run.server_errors == 0
    assert run.replans >= run.steps  # each step re-planned (refused ones once more)
    assert run.booked + run.no_slot == run.steps
    assert len(run.wall_s) == run.replans
