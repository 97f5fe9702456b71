"""A re-plan's changes as the review's rows, and what the disruption forms send
(``dashboard.replan``), on small hand-made plans."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboard.models import Clock, Plan
from dashboard.replan import (
    URGENT_LEVELS,
    change_rows,
    changed_visits,
    changes_summary,
    default_deadline,
    default_time,
    field_report_said,
    on_day,
    parse_skills,
    proposal_header,
    proposal_is_for,
    replan_instant,
    urgent_job_body,
)
from tests.dashboard.factories import at, plan, route, visit


def replanned() -> Plan:
    """T2 takes J2 from T1 at 10:40 (told 10:00); J3 is left out; J1 stays; J4 is new, T1's at 11:00."""
    base = plan(
        9,
        [
            route(
                "T1",
                [visit("J1", 1, "08:30", "08:30", "09:30", 20), visit("J4", 2, "11:00", "11:00", "11:30", 15)],
                "08:10",
                "11:50",
                40,
            ),
            route("T2", [visit("J2", 1, "10:40", "10:40", "11:40", 25)], "10:15", "12:10", 50),
        ],
        unassigned=[("J3", "no technician has time before its window ends")],
    )
    changes = {
        "from": at("09:00"),
        "moved": [{"job_id": "J2", "from_technician_id": "T1", "to_technician_id": "T2"}],
        "retimed": [{"job_id": "J2", "old_arrival": at("10:00"), "new_arrival": at("10:40")}],
        "dropped": ["J3"],
        "added": [{"job_id": "J4", "technician_id": "T1", "arrival": at("11:00")}],
        "notify": ["J2", "J3"],
        "routes_changed": ["T1", "T2"],
        "settled": ["J1"],
    }
    return Plan.model_validate({**base.model_dump(by_alias=True), "changes": changes})


def test_changes_become_moved_retimed_dropped_and_added_rows_with_reasons() -> None:
    rows = change_rows(replanned())
    assert rows.moved.to_dict("records") == [{"job": "J2", "from": "T1", "to": "T2"}]
    assert rows.retimed.to_dict("records") == [
        {"job": "J2", "old_arrival": "10:00", "new_arrival": "10:40", "shift_min": 40}
    ]
    assert rows.dropped.to_dict("records") == [{"job": "J3", "reason": "no technician has time before its window ends"}]
    assert rows.added.to_dict("records") == [{"job": "J4", "technician": "T1", "arrival": "11:00"}]
    assert rows.notify == ["J2", "J3"] and not rows.empty
    assert changes_summary(rows) == "1 moved, 1 retimed, 1 dropped, 1 added; 2 customers to notify; 2 routes changed."


def test_locks_a_re_plan_could_not_keep_become_rows_with_their_reason_and_are_counted() -> None:
    base = replanned()
    assert base.changes is not None and base.changes.locks_not_kept == []
    released = {"job_id": "J2", "technician_id": "T1", "lock": "technician", "reason": "T1 works no more today"}
    changes = {**base.changes.model_dump(by_alias=True), "locks_not_kept": [released]}
    rows = change_rows(Plan.model_validate({**base.model_dump(by_alias=True), "changes": changes}))
    assert rows.locks_not_kept.to_dict("records") == [
        {"job": "J2", "technician": "T1", "lock": "technician", "reason": "T1 works no more today"}
    ]
    assert changes_summary(rows).endswith("2 routes changed. 1 lock not kept.")
    assert change_rows(base).locks_not_kept.empty


def test_the_changed_visits_of_the_proposed_plan_say_what_changed() -> None:
    changed = changed_visits(replanned())
    assert changed.to_dict("records") == [
        {"technician": "T1", "seq": 2, "job": "J4", "arrival": "11:00", "change": "new"},
        {"technician": "T2", "seq": 1, "job": "J2", "arrival": "10:40", "change": "from T1, was 10:00"},
    ]


def test_a_plan_without_changes_gives_empty_rows() -> None:
    rows = change_rows(plan(3, []))
    assert rows.empty and rows.moved.empty and rows.notify == []
    assert changed_visits(plan(3, [])).empty


def test_a_proposal_belongs_only_on_its_own_day_and_region() -> None:
    proposal = plan(5, [])  # helsinki, 2026-12-01
    assert proposal_is_for(proposal, dt.date(2026, 12, 1), "helsinki")
    assert proposal_is_for(proposal, dt.date(2026, 12, 1), None)  # a board without regions
    assert not proposal_is_for(proposal, dt.date(2026, 12, 1), "espoo")
    assert not proposal_is_for(proposal, dt.date(2026, 12, 2), "helsinki")


def test_a_proposals_heading_names_its_region_when_the_board_has_several() -> None:
    proposal = plan(5, []).model_copy(update={"replan_from": at("10:30")})
    assert proposal_header(proposal, name_region=True) == "**Proposed re-plan #5 of helsinki from 10:30**"
    assert proposal_header(proposal, name_region=False) == "**Proposed re-plan #5 from 10:30**"


def test_a_re_plan_starts_at_the_apis_now_on_its_today_only() -> None:
    now = helsinki_clock("09:17", dt.date(2026, 12, 1))
    assert replan_instant(now, dt.date(2026, 12, 1)) == at("09:17")
    assert replan_instant(now, dt.date(2026, 12, 2)) is None
    assert default_time(now, dt.date(2026, 12, 1)) == dt.time(9, 17)  # +02:00 is Helsinki's winter time
    assert default_time(now, dt.date(2026, 12, 2)) == dt.time(8, 0)


def helsinki_clock(now: str, today: dt.date, urgent_due_min: int = 240) -> Clock:
    return Clock(now=at(now), today=today, timezone="Europe/Helsinki", urgent_due_min=urgent_due_min)


def test_an_urgent_repairs_deadline_starts_at_the_repair_standard_on_the_quarter_hour() -> None:
    """Four hours after the field's default time, rounded up to the quarter hour, never
    past 23:45 (before: 16:00 at any hour, already past late in the day)."""
    day = dt.date(2026, 12, 1)
    assert default_deadline(helsinki_clock("09:17", day), day) == dt.time(13, 30)
    assert default_deadline(helsinki_clock("10:00", day), day) == dt.time(14, 0)
    assert default_deadline(helsinki_clock("21:05", day), day) == dt.time(23, 45)
    assert default_deadline(helsinki_clock("21:05", day), dt.date(2026, 12, 2)) == dt.time(12, 0)


def test_an_urgent_repairs_deadline_follows_the_services_repair_standard() -> None:
    day = dt.date(2026, 12, 1)
    assert default_deadline(helsinki_clock("09:17", day, urgent_due_min=120), day) == dt.time(11, 30)


def test_times_fall_on_the_day_in_the_services_time_zone() -> None:
    moment = on_day(dt.date(2026, 12, 1), dt.time(14, 30), "Europe/Helsinki")
    assert moment == at("14:30")
    assert moment.utcoffset() == dt.timedelta(hours=2)


def test_skills_are_read_with_level_one_by_default_and_bad_levels_named() -> None:
    assert parse_skills("electrical:2, hvac ,") == {"electrical": 2, "hvac": 1}
    assert parse_skills("") == {}
    with pytest.raises(ValueError, match="skills: the level in 'hvac:x'"):
        parse_skills("hvac:x")
    with pytest.raises(ValueError, match="no skill name"):
        parse_skills(":2")


def test_every_emergency_level_outranks_ordinary_work_and_level_one_all_other_work() -> None:
    def priority(level: int) -> int:
        body = urgent_job_body(dt.date(2026, 12, 1), 60.2, 24.9, at("16:00"), 45, {"electrical": 1}, level=level)
        assert body["deadline"] == at("16:00").isoformat()
        return int(body["priority"])

    ordinary = 3  # a job's priority when none is given (solver.Job)
    assert [priority(level) for level in URGENT_LEVELS] == [1, 2, 2]
    assert all(priority(level) < ordinary for level in URGENT_LEVELS)


def test_an_urgent_repair_is_priority_one_with_its_deadline() -> None:
    body = urgent_job_body(dt.date(2026, 12, 1), 60.2, 24.9, at("16:00"), 45, {"electrical": 1}, "Mannerheimintie 1")
    assert body == {
        "kind": "repair",
        "date": "2026-12-01",
        "location": {"lat": 60.2, "lon": 24.9},
        "duration_min": 45,
        "skills": {"electrical": 1},
        "deadline": at("16:00").isoformat(),
        "priority": 1,
        "address": "Mannerheimintie 1",
    }


def test_an_urgent_repair_is_sent_in_the_region_the_board_shows() -> None:
    """Before, the body had no region and the repair landed in the service's default region."""
    body = urgent_job_body(dt.date(2026, 12, 1), 61.5, 23.76, at("16:00"), 45, {"electrical": 1}, region="tampere")
    assert body["region"] == "tampere"
    assert "region" not in urgent_job_body(dt.date(2026, 12, 1), 60.2, 24.9, at("16:00"), 45, {}, region=None)


def test_a_failed_report_says_the_day_its_revisit_was_carried_to_and_nothing_when_it_stays() -> None:
    carried = field_report_said("J7", "Could not complete", dt.time(9, 30), "parts_missing", dt.date(2026, 12, 9))
    assert "(parts missing)" in carried and "its revisit is open work on Wed 09 Dec" in carried
    stays = field_report_said("J7", "Could not complete", dt.time(9, 30), "customer_absent")
    assert "revisit" not in stays and "open again" in stays
