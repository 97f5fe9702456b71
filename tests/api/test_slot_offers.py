"""What a slot search offers and what it says about the windows it does not offer:
every slot offered can be booked, and every window left out gives its true cause.
Each test runs at a moment of its own (time-machine), on days around 2026-12-03."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fastapi.testclient import TestClient

from api import create_app
from tests.api.conftest import DISPATCHER, auth, settings_for
from tests.api.test_booking import technician as booked_technician

HELSINKI = ZoneInfo("Europe/Helsinki")
WED, THU, FRI = dt.date(2026, 12, 2), dt.date(2026, 12, 3), dt.date(2026, 12, 4)
CUSTOMER = {"name": "A. Customer", "phone": "+358 40 000 0000"}


def at(day: dt.date, clock: str) -> str:
    return dt.datetime.combine(day, dt.time.fromisoformat(clock), tzinfo=HELSINKI).isoformat()


def clock_of(moment: str) -> str:
    return dt.datetime.fromisoformat(moment).astimezone(HELSINKI).strftime("%H:%M")


def technician(days: list[dt.date], **extra: Any) -> dict[str, Any]:
    """W1's record: a wardrobe installer at home in central Helsinki, 08:00-16:00 on ``days``."""
    return {**booked_technician((60.17, 24.94), {"wardrobe": 2}, days), **extra}


WARDROBE = {"kind": "install", "location": {"lat": 60.19, "lon": 24.95}, "duration_min": 60, "skills": {"wardrobe": 1}}
REPAIR = {**WARDROBE, "kind": "repair", "duration_min": 30, "priority": 1}


@contextlib.contextmanager
def shop(database_url: str, now: str, **w1: Any) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """An API at the moment ``now`` with one wardrobe installer W1 working 08:00-16:00
    on Wednesday to Friday, and a booking token."""
    app = create_app(settings_for(database_url, seed=False))
    with time_machine.travel(dt.datetime.fromisoformat(now), tick=False), TestClient(app) as client:
        put = client.put("/v1/technicians/W1", json=technician([WED, THU, FRI], **w1), headers=DISPATCHER)
        assert put.status_code == 201, put.text
        token = client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"]
        yield client, auth(token)


def search(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> Any:
    response = client.post("/v1/slots/search", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def book(client: TestClient, headers: dict[str, str], body: dict[str, Any], slot: dict[str, Any], key: str) -> Any:
    payload = {**body, "customer": CUSTOMER, "slot": {"start": slot["start"], "end": slot["end"]}}
    return client.post("/v1/bookings", json=payload, headers={**headers, "Idempotency-Key": key})


def test_a_job_due_by_ten_is_offered_no_instant_and_its_last_slot_offered_can_be_booked(database_url: str) -> None:
    with shop(database_url, at(WED, "10:00")) as (client, booker):
        body = {**WARDROBE, "deadline": at(THU, "10:00")}
        slots = search(client, booker, {**body, "date_from": THU.isoformat()})["slots"]
        assert [(clock_of(s["start"]), clock_of(s["end"])) for s in slots] == [("08:00", "09:00"), ("09:00", "10:00")]
        last = max(slots, key=lambda s: s["start"])
        made = book(client, booker, body, last, "due-by-ten")
        assert made.status_code == 201, made.text


def test_an_urgent_repair_near_the_shift_end_is_offered_no_instant_and_its_last_slot_can_be_booked(
    database_url: str,
) -> None:
    with shop(database_url, at(WED, "14:40"), max_overtime_min=120) as (client, booker):
        slots = search(client, booker, {**REPAIR, "date_from": WED.isoformat()})["slots"]
        assert slots
        assert all(s["start"] < s["end"] for s in slots), slots
        last = max(slots, key=lambda s: s["start"])
        assert clock_of(last["start"]) == "15:45" and clock_of(last["end"]) == "16:00"
        made = book(client, booker, REPAIR, last, "urgent-last")
        assert made.status_code == 201, made.text


def not_offered(answer: Any) -> dict[str, str]:
    """The windows not offered, by their start's clock time, with their code."""
    return {clock_of(u["start"]): u["code"] for u in answer["unavailable"]}


def test_windows_before_the_goods_are_ready_say_so_and_booking_one_is_refused_for_that(database_url: str) -> None:
    with shop(database_url, at(WED, "10:00")) as (client, booker):
        body = {**WARDROBE, "release_at": at(THU, "13:00")}
        answer = search(client, booker, {**body, "date_from": THU.isoformat()})
        codes = not_offered(answer)
        assert {codes[h] for h in ("08:00", "09:00", "10:00", "11:00")} == {"released_too_late"}, codes
        made = book(client, booker, body, {"start": at(THU, "09:00"), "end": at(THU, "10:00")}, "early")
        assert made.status_code == 409 and made.json()["field"] == "slot"
        assert "goods are not ready" in made.json()["detail"] and "fully booked" not in made.json()["detail"]


def test_a_slot_after_the_deadline_is_refused_for_the_deadline(database_url: str) -> None:
    with shop(database_url, at(WED, "10:00")) as (client, booker):
        body = {**WARDROBE, "deadline": at(THU, "09:00")}
        made = book(client, booker, body, {"start": at(THU, "11:00"), "end": at(THU, "12:00")}, "late")
        assert made.status_code == 409 and made.json()["field"] == "slot"
        assert "latest time the visit may start" in made.json()["detail"], made.text


def test_windows_while_the_only_fitter_is_away_say_so_and_booking_one_is_refused_for_that(database_url: str) -> None:
    dentist = {"absences": [{"start": at(FRI, "10:00"), "end": at(FRI, "12:00"), "reason": "dentist"}]}
    with shop(database_url, at(WED, "10:00"), **dentist) as (client, booker):
        answer = search(client, booker, {**WARDROBE, "date_from": FRI.isoformat()})
        codes = not_offered(answer)
        assert (codes["10:00"], codes["11:00"]) == ("technician_away", "technician_away"), codes
        assert "day_full" not in codes.values()
        made = book(client, booker, WARDROBE, {"start": at(FRI, "10:00"), "end": at(FRI, "11:00")}, "away")
        assert made.status_code == 409 and made.json()["field"] == "slot"
        assert "away at that time" in made.json()["detail"], made.text


def test_a_window_taken_by_a_booking_is_still_said_to_be_fully_booked(database_url: str) -> None:
    with shop(database_url, at(WED, "10:00")) as (client, booker):
        long_job = {**WARDROBE, "duration_min": 300}
        made = book(client, booker, long_job, {"start": at(THU, "08:00"), "end": at(THU, "09:00")}, "long")
        assert made.status_code == 201, made.text
        codes = not_offered(search(client, booker, {**WARDROBE, "date_from": THU.isoformat()}))
        assert codes["09:00"] == "day_full", codes


@pytest.mark.parametrize("now", ["16:30", "23:30"])
def test_an_urgent_search_after_the_shifts_end_says_nobody_works_before_the_repair_standard_runs_out(
    database_url: str, now: str
) -> None:
    with shop(database_url, at(WED, now)) as (client, booker):
        answer = search(client, booker, {**REPAIR, "date_from": WED.isoformat(), "date_to": THU.isoformat()})
        assert answer["slots"] == []
        [why] = answer["unavailable"]
        assert why["code"] == "outside_hours" and clock_of(why["start"]) == now
        assert "repair standard" in why["reason"] and "routine" in why["reason"], why


def test_an_urgent_search_of_a_later_day_says_the_repair_standard_runs_out_before_it(database_url: str) -> None:
    with shop(database_url, at(WED, "10:00")) as (client, booker):
        answer = search(client, booker, {**REPAIR, "date_from": THU.isoformat()})
        assert answer["slots"] == []
        assert [u["code"] for u in answer["unavailable"]] == ["past_deadline"], answer


def test_a_deadline_already_passed_is_refused_naming_it_by_a_search_and_a_booking(database_url: str) -> None:
    with shop(database_url, at(WED, "10:00")) as (client, booker):
        body = {**WARDROBE, "deadline": at(WED, "09:00")}
        searched = client.post("/v1/slots/search", json={**body, "date_from": THU.isoformat()}, headers=booker)
        assert searched.status_code == 422 and searched.json()["field"] == "deadline", searched.text
        assert "has passed" in searched.json()["detail"]
        made = book(client, booker, body, {"start": at(THU, "09:00"), "end": at(THU, "10:00")}, "passed")
        assert made.status_code == 422 and made.json()["field"] == "deadline", made.text
