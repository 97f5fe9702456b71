"""Slot search for jobs of several days (issue 20): each slot offered comes with the
window of every day of the job, on consecutive working days of one technician who can
take it each day (a day off in between is skipped); a booking of such a job is refused
with the field named until bookings can hold several days."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from tests.api.conftest import DISPATCHER, auth, settings_for
from tests.api.test_booking import CUSTOMER, counts, job, technician
from tests.conftest import today

pytestmark = pytest.mark.clock

DAY = today() + dt.timedelta(days=7)
NEXT = DAY + dt.timedelta(days=1)
AFTER_A_DAY_OFF = DAY + dt.timedelta(days=3)


@pytest.fixture
def shop(database_url: str) -> Iterator[tuple[TestClient, dict[str, str], str]]:
    """A wardrobe fitter working DAY, NEXT and (after a day off) AFTER_A_DAY_OFF, another
    working DAY only, a kitchen fitter working DAY only; and a booking token."""
    app = create_app(settings_for(database_url, seed=False))
    with TestClient(app) as client:
        for tid, home, skills, days in (
            ("W1", (60.17, 24.94), {"wardrobe": 2}, [DAY, NEXT, AFTER_A_DAY_OFF]),
            ("W2", (60.21, 25.00), {"wardrobe": 1}, [DAY]),
            ("K1", (60.18, 24.90), {"kitchen": 2}, [DAY]),
        ):
            body = technician(home, skills, days)
            assert client.put(f"/v1/technicians/{tid}", json=body, headers=DISPATCHER).status_code == 201
        token = client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"]
        yield client, auth(token), database_url


def search(client: TestClient, headers: dict[str, str], body: dict[str, Any], day: dt.date) -> Any:
    response = client.post("/v1/slots/search", json={**body, "date_from": day.isoformat()}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_a_two_day_job_is_offered_with_its_window_on_the_next_working_day_at_the_same_hours(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    client, headers, _ = shop
    answer = search(client, headers, {**job(240), "days": 2}, DAY)
    assert answer["slots"], answer
    for slot in answer["slots"]:
        first, second = slot["days"]
        assert (first["start"], first["end"]) == (slot["start"], slot["end"])
        assert local(second["start"]).date() == NEXT
        assert local(second["start"]).time() == local(slot["start"]).time()
        assert local(second["end"]).time() == local(slot["end"]).time()


def test_a_day_off_between_working_days_is_skipped(shop: tuple[TestClient, dict[str, str], str]) -> None:
    client, headers, _ = shop
    answer = search(client, headers, {**job(240), "days": 2}, NEXT)
    assert answer["slots"], answer
    assert {local(slot["days"][1]["start"]).date() for slot in answer["slots"]} == {AFTER_A_DAY_OFF}


def test_a_two_day_job_nobody_can_do_on_two_working_days_gets_no_slot_and_says_why(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    client, headers, _ = shop
    answer = search(client, headers, {**job(240, skills={"kitchen": 1}), "days": 2}, DAY)
    assert answer["slots"] == []
    codes = {u["code"] for u in answer["unavailable"]}
    assert "no_run_of_days" in codes and codes <= {"no_run_of_days", "outside_hours"}, answer["unavailable"]


def test_a_one_day_job_is_offered_without_days(shop: tuple[TestClient, dict[str, str], str]) -> None:
    client, headers, _ = shop
    answer = search(client, headers, job(60), DAY)
    assert answer["slots"] and all(slot["days"] == [] for slot in answer["slots"])


def test_booking_a_job_of_several_days_is_refused_naming_days_and_writes_nothing(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    client, headers, url = shop
    [slot, *_] = search(client, headers, {**job(240), "days": 2}, DAY)["slots"]
    payload = {**job(240), "days": 2, "customer": CUSTOMER, "slot": {"start": slot["start"], "end": slot["end"]}}
    response = client.post("/v1/bookings", json=payload, headers={**headers, "Idempotency-Key": "two-days"})
    assert response.status_code == 422, response.text
    assert "days" in response.text and "PUT /v1/jobs" in response.text
    assert counts(url) == (0, 0)
