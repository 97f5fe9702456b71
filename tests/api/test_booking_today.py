"""Slot search and booking on a day under way (issue 18; docs/booking.md, "Today"), on
SQLite and PostgreSQL: today's slots are evaluated from where the technicians are, as a
re-plan from now starts them, so a visit that overruns takes its technician's time out
of the slots offered and booked."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import time_machine
from fastapi.testclient import TestClient
from httpx import Response

from api import create_app
from dispatch.clock import Clock
from tests.api.conftest import DISPATCHER, auth, run_plan, settings_for
from tests.api.test_booking import CUSTOMER, DAY, at
from tests.api.test_replan import event, install, installers, instant
from tests.conftest import HELSINKI

REPAIR = {"kind": "repair", "location": {"lat": 60.181, "lon": 24.951}, "duration_min": 30, "skills": {"wardrobe": 1}}
"""A half-hour repair next to the install."""


def published_long_install(client: TestClient) -> str:
    """One installer and a three-hour install from 08:00, planned and published; the
    ordering system's token."""
    installers(client, "W1")
    install(client, "LONG", (60.18, 24.95), 180, ("08:00", "08:30"))
    plan = run_plan(client, DAY.isoformat(), time_limit_s=1)
    assert plan["status"] == "done" and not plan["unassigned"], plan
    assert client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER).status_code == 200
    return str(client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"])


def book_afternoon(client: TestClient, booking: dict[str, str], key: str) -> Response:
    """Book the repair in the slot 14:00-16:00."""
    slot = {"start": at(DAY, "14:00"), "end": at(DAY, "16:00")}
    body = {**REPAIR, "customer": CUSTOMER, "slot": slot}
    booked: Response = client.post("/v1/bookings", json=body, headers={**booking, "Idempotency-Key": key})
    return booked


def test_a_visit_that_overruns_takes_its_technicians_afternoon_out_of_todays_slots(database_url: str) -> None:
    """At 10:30 the one installer is on site at a three-hour install planned to end at
    11:00, and a repair near it is offered 14:00-16:00. The install is then reported to
    run until 16:15: that slot is no longer offered, and booking it is refused (before,
    today's slots were timed as planned, and the slot was sold to a technician still on
    site)."""
    settings = dataclasses.replace(settings_for(database_url, seed=False), clock=Clock(instant(at(DAY, "10:30"))))
    with TestClient(create_app(settings)) as client:
        booking = auth(published_long_install(client))
        event(client, "LONG", "arrived", at(DAY, "08:00"))

        def starts() -> list[str]:
            found = client.post("/v1/slots/search", json={**REPAIR, "date_from": DAY.isoformat()}, headers=booking)
            assert found.status_code == 200, found.text
            return [f"{instant(s['start']).astimezone(HELSINKI):%H:%M}" for s in found.json()["slots"]]

        assert "14:00" in starts()
        overrun = {"type": "overrun", "job_id": "LONG", "expected_end": at(DAY, "16:15")}
        assert client.post("/v1/disruptions", json=overrun, headers=DISPATCHER).status_code == 201
        assert "14:00" not in starts()
        booked = book_afternoon(client, booking, "repair-1")
        assert booked.status_code == 409, booked.text
        jobs = client.get("/v1/jobs", params={"date": DAY.isoformat()}, headers=DISPATCHER).json()
        assert [j["id"] for j in jobs] == ["LONG"], jobs  # nothing written by the refusal


def test_todays_slots_are_timed_as_planned_until_the_field_reports(database_url: str) -> None:
    """The same day at 10:30 with nothing reported yet: the installer's day is read as
    planned (free after 11:00), and 14:00-16:00 can be booked."""
    settings = dataclasses.replace(settings_for(database_url, seed=False), clock=Clock(instant(at(DAY, "10:30"))))
    with TestClient(create_app(settings)) as client:
        booking = auth(published_long_install(client))
        booked = book_afternoon(client, booking, "repair-2")
        assert booked.status_code == 201, booked.text
        assert dt.date.fromisoformat(booked.json()["date"]) == DAY


def test_an_urgent_repair_entered_for_today_without_a_deadline_gets_the_repair_standard_of_four_hours(
    database_url: str,
) -> None:
    """At 10:30 the dispatcher enters an urgent repair (priority 1) for today and forgets
    its deadline: it is due on site by 14:30, as a slot search would have it, and says
    so. Work for a later day, work that is not urgent and a deadline given are kept as
    entered (before, the repair had none, and a re-plan put it at the end of the day)."""
    settings = dataclasses.replace(settings_for(database_url, seed=False), clock=Clock(instant(at(DAY, "10:30"))))
    with TestClient(create_app(settings)) as client:
        installers(client, "W1")

        def put(job_id: str, **extra: object) -> dict[str, object]:
            body = {**REPAIR, "date": DAY.isoformat(), "customer": CUSTOMER, "priority": 1, **extra}
            sent = client.put(f"/v1/jobs/{job_id}", json=body, headers=DISPATCHER)
            assert sent.status_code == 201, sent.text
            return dict(sent.json())

        due = put("URGENT")["deadline"]
        assert isinstance(due, str)
        assert dt.timedelta(0) <= instant(due) - instant(at(DAY, "14:30")) < dt.timedelta(minutes=2)
        assert instant(due).second == 0 and instant(due).microsecond == 0
        assert client.get("/v1/jobs/URGENT", headers=DISPATCHER).json()["deadline"] == due
        assert put("TOMORROW", date=(DAY + dt.timedelta(days=1)).isoformat())["deadline"] is None
        assert put("ROUTINE", priority=3)["deadline"] is None
        assert instant(str(put("GIVEN", deadline=at(DAY, "12:00"))["deadline"])) == instant(at(DAY, "12:00"))


def test_a_deadline_already_passed_is_refused_naming_it_and_stores_nothing(database_url: str) -> None:
    """At 10:30 an urgent repair for today is entered due by 10:00: no plan could keep
    that, so it is refused naming ``deadline`` and nothing is stored (before, the job was
    taken and then sat unplanned). A job entered earlier keeps its deadline when it is
    updated after that deadline passed; changing it to another past time is refused."""
    at_1030 = dataclasses.replace(settings_for(database_url, seed=False), clock=Clock(instant(at(DAY, "10:30"))))
    body = {**REPAIR, "date": DAY.isoformat(), "customer": CUSTOMER, "priority": 1}
    with TestClient(create_app(at_1030)) as client:
        installers(client, "W1")
        late = client.put("/v1/jobs/LATE", json={**body, "deadline": at(DAY, "10:00")}, headers=DISPATCHER)
        assert late.status_code == 422, late.text
        assert late.json()["field"] == "deadline"
        assert "10:00 has passed" in late.json()["detail"]
        assert client.get("/v1/jobs/LATE", headers=DISPATCHER).status_code == 404
        due = client.put("/v1/jobs/DUE", json={**body, "deadline": at(DAY, "12:00")}, headers=DISPATCHER)
        assert due.status_code == 201, due.text
    at_1300 = dataclasses.replace(at_1030, clock=Clock(instant(at(DAY, "13:00"))))
    with TestClient(create_app(at_1300)) as client:
        noted = {**body, "deadline": at(DAY, "12:00"), "notes": "done at 11:40, paperwork to follow"}
        kept = client.put("/v1/jobs/DUE", json=noted, headers=DISPATCHER)
        assert kept.status_code == 200, kept.text
        moved = client.put("/v1/jobs/DUE", json={**noted, "deadline": at(DAY, "12:30")}, headers=DISPATCHER)
        assert moved.status_code == 422 and moved.json()["field"] == "deadline", moved.text
        stored = client.get("/v1/jobs/DUE", headers=DISPATCHER).json()
        assert instant(stored["deadline"]) == instant(at(DAY, "12:00")) and stored["notes"].startswith("done")


def urgent_search(client: TestClient, booking: dict[str, str]) -> dict[str, Any]:
    """Today's urgent slots for the repair (priority 1: on site within four hours)."""
    found = client.post(
        "/v1/slots/search", json={**REPAIR, "priority": 1, "date_from": DAY.isoformat()}, headers=booking
    )
    assert found.status_code == 200, found.text
    return dict(found.json())


def book_urgent_at_1030(client: TestClient, booking: dict[str, str], key: str) -> Response:
    """Book the urgent repair in the window 10:30-11:00."""
    slot = {"start": at(DAY, "10:30"), "end": at(DAY, "11:00")}
    body = {**REPAIR, "priority": 1, "customer": CUSTOMER, "slot": slot}
    booked: Response = client.post("/v1/bookings", json=body, headers={**booking, "Idempotency-Key": key})
    return booked


def window_at_1030(answer: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The entries of ``answer``'s ``kind`` (slots or unavailable) that start at 10:30."""
    return [s for s in answer[kind] if f"{instant(s['start']).astimezone(HELSINKI):%H:%M}" == "10:30"]


def test_an_urgent_window_of_today_is_sold_only_as_often_as_a_technician_leaving_now_can_keep_it(
    database_url: str,
) -> None:
    """At 10:30 the one installer, at home a few minutes from the customer, has no plan and
    nothing reported. The urgent window 10:30-11:00 is offered and booked; then it reads
    fully booked and a second booking of it is refused, since leaving home now the
    installer can start only one half-hour repair by 11:00; a re-plan from 10:30 keeps the
    booking inside its window. (Before, a day with no field report was read as planned:
    the installer was free from 08:00, the window was sold twice, and a re-plan could keep
    only one.)"""
    with (
        time_machine.travel(instant(at(DAY, "10:30")), tick=False),
        TestClient(create_app(settings_for(database_url, seed=False))) as client,
    ):
        installers(client, "W1")
        booking = auth(str(client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"]))
        assert window_at_1030(urgent_search(client, booking), "slots")
        first = book_urgent_at_1030(client, booking, "urgent-1")
        assert first.status_code == 201, first.text
        again = urgent_search(client, booking)
        assert not window_at_1030(again, "slots"), again
        assert [u["code"] for u in window_at_1030(again, "unavailable")] == ["day_full"], again
        second = book_urgent_at_1030(client, booking, "urgent-2")
        assert second.status_code == 409, second.text
        plan: dict[str, Any] = dict(run_plan(client, DAY.isoformat(), time_limit_s=1, replan_from=at(DAY, "10:30")))
        assert plan["status"] == "done", plan
        starts = [v["start"] for r in plan["routes"] for v in r["visits"] if v["job_id"] == first.json()["job_id"]]
        assert len(starts) == 1 and instant(at(DAY, "10:30")) <= instant(starts[0]) <= instant(at(DAY, "11:00"))


def test_a_technician_who_reported_a_visit_done_this_morning_starts_again_from_now_in_todays_slots(
    database_url: str,
) -> None:
    """The installer reported the three-hour install done at 09:00 and has been free there
    since; at 10:30 the urgent window 10:30-11:00 next to it is booked once, and a second
    booking of it is refused: leaving now, the second repair could not start by 11:00.
    (Before, the installer was pictured free from 09:00, as if they could have set out
    then, and both were sold.)"""
    with (
        time_machine.travel(instant(at(DAY, "10:30")), tick=False),
        TestClient(create_app(settings_for(database_url, seed=False))) as client,
    ):
        booking = auth(published_long_install(client))
        event(client, "LONG", "arrived", at(DAY, "08:00"))
        event(client, "LONG", "completed", at(DAY, "09:00"))
        assert book_urgent_at_1030(client, booking, "urgent-1").status_code == 201
        second = book_urgent_at_1030(client, booking, "urgent-2")
        assert second.status_code == 409, second.text
        assert [u["code"] for u in window_at_1030(urgent_search(client, booking), "unavailable")] == ["day_full"]


def test_todays_windows_lost_to_an_overrun_past_the_shift_end_read_fully_booked_not_that_nobody_works(
    database_url: str,
) -> None:
    """At 10:30 the one installer's install is reported to run until 16:15, past their
    shift: the afternoon's windows are not offered, and they say the installer is fully
    booked (before, "Nobody works in this area on that day", untrue of a day they work)."""
    with (
        time_machine.travel(instant(at(DAY, "10:30")), tick=False),
        TestClient(create_app(settings_for(database_url, seed=False))) as client,
    ):
        booking = auth(published_long_install(client))
        event(client, "LONG", "arrived", at(DAY, "08:00"))
        overrun = {"type": "overrun", "job_id": "LONG", "expected_end": at(DAY, "16:15")}
        assert client.post("/v1/disruptions", json=overrun, headers=DISPATCHER).status_code == 201
        found = client.post("/v1/slots/search", json={**REPAIR, "date_from": DAY.isoformat()}, headers=booking)
        assert found.status_code == 200, found.text
        assert found.json()["slots"] == []
        codes = {u["code"] for u in found.json()["unavailable"] if u["code"] != "too_soon"}
        assert codes == {"day_full"}, found.json()["unavailable"]


def test_a_day_searched_the_evening_before_is_pictured_from_now_once_it_is_today(database_url: str) -> None:
    """The evening before, a routine search for tomorrow keeps that day's slot picture (the
    day as planned). At 10:30 on the day, with nothing changed since, the urgent window
    10:30-11:00 is still sold only once: today's picture is of now, not the one kept
    from the evening (before, the evening's picture served on, the installer free from
    08:00, and the window was sold twice)."""
    with TestClient(create_app(settings_for(database_url, seed=False))) as client:
        with time_machine.travel(instant(at(DAY - dt.timedelta(days=1), "20:00")), tick=False):
            installers(client, "W1")
            token = client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"]
            booking = auth(str(token))
            body = {**REPAIR, "date_from": DAY.isoformat()}
            assert client.post("/v1/slots/search", json=body, headers=booking).json()["slots"]
        with time_machine.travel(instant(at(DAY, "10:30")), tick=False):
            assert book_urgent_at_1030(client, booking, "urgent-1").status_code == 201
            second = book_urgent_at_1030(client, booking, "urgent-2")
            assert second.status_code == 409, second.text
