"""Booking through the API: slots that can really be kept, bookings that cannot be
sold twice, idempotency, cancellation, bad input, and plan runs that keep every
promise. Each day here lies a week ahead of today, so the tests never age."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, create_engine, select

from api import create_app
from dispatch.tables import BookingRow, JobRow
from tests.api.conftest import DISPATCHER, auth, run_plan, settings_for
from tests.conftest import today

HELSINKI = ZoneInfo("Europe/Helsinki")
DAY = today() + dt.timedelta(days=7)
NEXT = DAY + dt.timedelta(days=1)
CUSTOMER = {"name": "A. Customer", "phone": "+358 40 000 0000"}


def at(day: dt.date, clock: str) -> str:
    hours, minutes = clock.split(":")
    return dt.datetime.combine(day, dt.time(int(hours), int(minutes)), tzinfo=HELSINKI).isoformat()


def technician(home: tuple[float, float], skills: dict[str, int], days: list[dt.date]) -> dict[str, Any]:
    return {
        "home": {"lat": home[0], "lon": home[1]},
        "skills": skills,
        "shifts": [
            {
                "date": d.isoformat(),
                "start": "08:00",
                "end": "16:00",
                "break": {"earliest": "11:00", "latest": "13:00", "duration_min": 30},
            }
            for d in days
        ],
        "cost": {"per_hour": 38, "per_km": 0.35},
    }


def job(
    duration: int = 60, skills: dict[str, int] | None = None, where: tuple[float, float] = (60.19, 24.95)
) -> dict[str, Any]:
    return {
        "kind": "install",
        "location": {"lat": where[0], "lon": where[1]},
        "duration_min": duration,
        "skills": skills if skills is not None else {"wardrobe": 1},
    }


def search(client: TestClient, headers: dict[str, str], body: dict[str, Any], day: dt.date = DAY) -> Any:
    response = client.post("/v1/slots/search", json={**body, "date_from": day.isoformat()}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def book(client: TestClient, headers: dict[str, str], body: dict[str, Any], slot: dict[str, str], key: str) -> Any:
    # A search needs no personal data: the customer goes with the booking only.
    payload = {**body, "customer": CUSTOMER, "slot": {"start": slot["start"], "end": slot["end"]}}
    return client.post("/v1/bookings", json=payload, headers={**headers, "Idempotency-Key": key})


def counts(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    with Session(engine) as session:
        jobs = session.exec(select(func.count()).select_from(JobRow)).one()
        bookings = session.exec(select(func.count()).select_from(BookingRow)).one()
    engine.dispose()
    return jobs, bookings


@pytest.fixture
def shop(database_url: str) -> Iterator[tuple[TestClient, dict[str, str], str]]:
    """An API without sample data: two wardrobe installers on DAY and NEXT, one
    kitchen fitter on DAY only; and a booking token."""
    app = create_app(settings_for(database_url, seed=False))
    with TestClient(app) as client:
        for tid, home, skills, days in (
            ("W1", (60.17, 24.94), {"wardrobe": 2}, [DAY, NEXT]),
            ("W2", (60.21, 25.00), {"wardrobe": 1}, [DAY, NEXT]),
            ("K1", (60.18, 24.90), {"kitchen": 2}, [DAY]),
        ):
            assert (
                client.put(
                    f"/v1/technicians/{tid}", json=technician(home, skills, days), headers=DISPATCHER
                ).status_code
                == 201
            )
        token = client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"]
        yield client, auth(token), database_url


def test_a_search_offers_hourly_install_windows_ranked_best_first(shop: tuple[TestClient, dict[str, str], str]) -> None:
    client, booker, _ = shop
    answer = search(client, booker, {**job(90), "date_to": NEXT.isoformat()})
    slots = answer["slots"]
    assert slots, answer
    scores = [s["score"] for s in slots]
    assert scores == sorted(scores, reverse=True) and scores[0] == 100.0
    for s in slots:
        start, end = dt.datetime.fromisoformat(s["start"]), dt.datetime.fromisoformat(s["end"])
        assert end - start == dt.timedelta(hours=1) and start.minute == 0
        assert s["risk"] in ("low", "medium", "high") and s["slack_min"] >= 0
    # Later dates rank below equally cheap earlier ones.
    first_next = min(i for i, s in enumerate(slots) if s["start"].startswith(NEXT.isoformat()))
    assert slots[0]["start"].startswith(DAY.isoformat()) and first_next > 0


def test_a_skill_nobody_has_is_refused_naming_the_field(shop: tuple[TestClient, dict[str, str], str]) -> None:
    client, booker, _ = shop
    body = {**job(skills={"glass": 1}), "date_from": DAY.isoformat()}
    response = client.post("/v1/slots/search", json=body, headers=booker)
    assert response.status_code == 422 and response.json()["field"] == "skills"


def test_a_skill_at_level_zero_is_refused_naming_it_by_slot_search_and_job_alike(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    """Level 0 asks nothing. Before, a job took it and went to anyone, and slot search
    answered it with slots for one code and a refusal for another."""
    client, booker, _ = shop
    for skills in ({"glass": 0}, {"kitchen": 0}):
        body = {**job(skills=skills), "date_from": DAY.isoformat()}
        response = client.post("/v1/slots/search", json=body, headers=booker)
        assert response.status_code == 422 and response.json()["field"] == f"skills.{next(iter(skills))}", response.text
    put = {**job(skills={"kitchen": 0}), "date": DAY.isoformat()}
    response = client.put("/v1/jobs/LEVEL0", json=put, headers=DISPATCHER)
    assert response.status_code == 422 and response.json()["field"] == "skills.kitchen", response.text
    assert client.get("/v1/jobs/LEVEL0", headers=DISPATCHER).status_code == 404


def test_a_crew_job_only_one_installer_is_skilled_for_is_not_offered_for_want_of_a_crew(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    """Wardrobe 2 for a crew of two: only W1 holds it. Before, every window said the
    installers were fully booked, which sends the caller to another day in vain."""
    client, booker, _ = shop
    answer = search(client, booker, {**job(60, {"wardrobe": 2}), "crew_size": 2})
    assert answer["slots"] == [] and answer["unavailable"], answer
    assert {u["code"] for u in answer["unavailable"]} == {"no_crew"}, answer
    # Wardrobe 1: both hold it, and a crew is offered.
    assert search(client, booker, {**job(60, {"wardrobe": 1}), "crew_size": 2})["slots"]


def test_windows_not_offered_say_why_without_naming_other_customers(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    client, booker, _ = shop
    # Kitchen fitters work on DAY only: on NEXT nobody with the skill works.
    answer = search(client, booker, job(60, {"kitchen": 1}), NEXT)
    assert answer["slots"] == []
    assert {u["code"] for u in answer["unavailable"]} == {"no_skill"}
    # A whole-day kitchen: only the first windows of the day can still finish by 16:00.
    answer = search(client, booker, job(7 * 60, {"kitchen": 1}))
    codes = {u["code"] for u in answer["unavailable"]}
    assert "outside_hours" in codes
    assert all("Customer" not in u["reason"] and "bk-" not in u["reason"] for u in answer["unavailable"])


def test_every_slot_offered_in_a_random_series_can_be_booked_at_once(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    client, booker, url = shop
    rng = random.Random(11)
    booked: dict[str, int] = {DAY.isoformat(): 0, NEXT.isoformat(): 0}
    refused = 0
    for i in range(30):
        body = job(rng.choice([30, 60, 90, 120, 180]), where=(60.15 + rng.random() * 0.1, 24.85 + rng.random() * 0.2))
        slots = search(client, booker, {**body, "date_to": NEXT.isoformat()})["slots"]
        if not slots:
            refused += 1
            continue
        chosen = rng.choice(slots)
        made = book(client, booker, body, chosen, f"precision-{i}")
        assert made.status_code == 201, (chosen, made.text)
        booked[made.json()["date"]] += 1
    # Two installers for two days fill up: the later searches find no room.
    assert sum(booked.values()) >= 8 and refused > 0
    # A full plan run keeps every booking inside its slot, and the checker agreed (the run is done).
    plan = run_plan(client, DAY.isoformat(), time_limit_s=3)
    assert plan["status"] == "done", plan
    visits = {v["job_id"]: v for r in plan["routes"] for v in r["visits"]}  # type: ignore[attr-defined]
    jobs = client.get("/v1/jobs", params={"date": DAY.isoformat()}, headers=DISPATCHER).json()
    promised = [j for j in jobs if j["booked"] and j["status"] == "open"]
    assert len(promised) == booked[DAY.isoformat()]
    for j in promised:
        window = j["windows"][0]
        start = dt.datetime.fromisoformat(visits[j["id"]]["start"])
        assert dt.datetime.fromisoformat(window["start"]) <= start <= dt.datetime.fromisoformat(window["end"])
    assert counts(url)[1] == sum(booked.values())


def test_the_same_key_answers_the_first_answer_and_another_body_is_refused(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    client, booker, url = shop
    body = job(60)
    slot = search(client, booker, body)["slots"][0]
    first = book(client, booker, body, slot, "same-key")
    again = book(client, booker, body, slot, "same-key")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    other = book(client, booker, job(30), slot, "same-key")
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"
    assert counts(url) == (1, 1)


def test_cancelling_a_booking_frees_its_capacity(shop: tuple[TestClient, dict[str, str], str]) -> None:
    client, booker, _ = shop
    kitchen = job(6 * 60, {"kitchen": 2})
    slot = next(s for s in search(client, booker, kitchen)["slots"] if s["start"] == at(DAY, "08:00"))
    made = book(client, booker, kitchen, slot, "kitchen-1")
    assert made.status_code == 201
    assert search(client, booker, kitchen)["slots"] == []  # one kitchen fitter, one kitchen a day
    cancelled = client.delete(f"/v1/bookings/{made.json()['job_id']}", headers=booker)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert any(s["start"] == at(DAY, "08:00") for s in search(client, booker, kitchen)["slots"])


def test_a_slot_taken_meanwhile_is_refused_with_409_and_nothing_is_written(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    client, booker, url = shop
    kitchen = job(6 * 60, {"kitchen": 2})
    slot = search(client, booker, kitchen)["slots"][0]
    assert book(client, booker, kitchen, slot, "first").status_code == 201
    late = book(client, booker, kitchen, slot, "second")
    assert late.status_code == 409 and late.json()["field"] == "slot"
    assert "fully booked" in late.json()["detail"]
    assert counts(url) == (1, 1)


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"skills": {"unobtainium": 1}}, 422, "skills"),
        ({"crew_size": 3}, 422, "crew_size"),
        ({"slot": {"start": "2020-01-01T09:00:00+02:00", "end": "2020-01-01T10:00:00+02:00"}}, 422, "slot.start"),
        ({"slot": {"start": at(DAY, "10:00"), "end": at(DAY, "09:00")}}, 422, "slot"),
        ({"duration_min": 0}, 422, "duration_min"),
        ({"location": None}, 422, "location"),
        ({"surprise": 1}, 422, "surprise"),
        # Job fields a booking does not take: said so (they were "Extra inputs are not permitted").
        ({"windows": [{"start": at(DAY, "08:00"), "end": at(DAY, "12:00")}]}, 422, "windows"),
        ({"pinned_technician_id": "W1"}, 422, "pinned_technician_id"),
        ({"confirmed": True}, 422, "confirmed"),
    ],
)
def test_bad_booking_input_names_the_field_and_writes_nothing(
    shop: tuple[TestClient, dict[str, str], str], change: dict[str, Any], status: int, field: str
) -> None:
    client, booker, url = shop
    body = {**job(60), "slot": {"start": at(DAY, "09:00"), "end": at(DAY, "10:00")}, **change}
    response = client.post("/v1/bookings", json=body, headers={**booker, "Idempotency-Key": "bad"})
    assert response.status_code == status, response.text
    assert response.json()["field"] == field
    assert field == "surprise" or "not permitted" not in response.json()["detail"], response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert counts(url) == (0, 0)


def test_a_booking_without_an_idempotency_key_is_refused(shop: tuple[TestClient, dict[str, str], str]) -> None:
    client, booker, url = shop
    body = {**job(60), "slot": {"start": at(DAY, "09:00"), "end": at(DAY, "10:00")}}
    response = client.post("/v1/bookings", json=body, headers=booker)
    assert response.status_code == 400 and response.json()["field"] == "Idempotency-Key"
    assert counts(url) == (0, 0)


def test_an_urgent_repair_gets_the_earliest_arrivals_before_its_deadline(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    client, booker, _ = shop
    body = {**job(45), "kind": "repair", "priority": 1, "deadline": at(DAY, "12:00")}
    slots = search(client, booker, body)["slots"]
    starts = [dt.datetime.fromisoformat(s["start"]) for s in slots]
    assert starts == sorted(starts)
    # W1 leaves home at 8:00 and is there within minutes: the first window starts on the next quarter hour.
    assert starts[0] <= dt.datetime.fromisoformat(at(DAY, "08:30"))
    assert all(s <= dt.datetime.fromisoformat(at(DAY, "12:00")) for s in starts)
    made = book(client, booker, body, slots[0], "urgent")
    assert made.status_code == 201


def test_routine_bookings_leave_room_for_urgent_repairs(database_url: str) -> None:
    app = create_app(settings_for(database_url, seed=False))
    with TestClient(app) as client:
        solo = technician((60.17, 24.94), {"wardrobe": 1}, [DAY])
        assert client.put("/v1/technicians/SOLO", json=solo, headers=DISPATCHER).status_code == 201
        token = auth(client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"])
        # 7 h 30 min of work time; 15 % is kept for urgent work, so a 7-hour routine job never fits.
        assert search(client, token, job(7 * 60 - 20))["slots"] == []
        reasons = {u["code"] for u in search(client, token, job(7 * 60 - 20))["unavailable"]}
        assert "urgent_reserve" in reasons
        urgent = {**job(7 * 60 - 20), "kind": "repair", "priority": 1, "deadline": at(DAY, "09:00")}
        assert search(client, token, urgent)["slots"]


def test_a_booked_job_cannot_be_changed_out_of_its_slot_but_its_notes_can(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    client, booker, _ = shop
    body = job(60)
    slot = search(client, booker, body)["slots"][0]
    job_id = book(client, booker, body, slot, "edit-me").json()["job_id"]
    stored = client.get(f"/v1/jobs/{job_id}", headers=DISPATCHER).json()
    keep = {k: stored[k] for k in ("kind", "location", "duration_min", "skills", "crew_size", "windows", "customer")}
    keep["region"] = stored["region"]
    assert client.put(f"/v1/jobs/{job_id}", json={**keep, "notes": "ring twice"}, headers=DISPATCHER).status_code == 200
    longer = client.put(f"/v1/jobs/{job_id}", json={**keep, "duration_min": 240}, headers=DISPATCHER)
    assert longer.status_code == 409 and longer.json()["field"] == "job_id"
    assert client.get(f"/v1/jobs/{job_id}", headers=DISPATCHER).json()["duration_min"] == 60


def test_a_booked_job_is_not_pinned_to_a_technician_who_does_not_work_its_day(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    """A job booked on NEXT, pinned to K1, who works DAY only: 409 naming
    pinned_technician_id and nothing changed; pinned to W2, who works NEXT: 200. Before,
    the pin was stored and every plan of NEXT was refused for the promise."""
    client, booker, _ = shop
    body = job(60)
    slot = search(client, booker, body, NEXT)["slots"][0]
    job_id = book(client, booker, body, slot, "pin-me").json()["job_id"]
    stored = client.get(f"/v1/jobs/{job_id}", headers=DISPATCHER).json()
    keep = {k: stored[k] for k in ("kind", "location", "duration_min", "skills", "windows", "customer", "region")}
    refused = client.put(f"/v1/jobs/{job_id}", json={**keep, "pinned_technician_id": "K1"}, headers=DISPATCHER)
    assert refused.status_code == 409 and refused.json()["field"] == "pinned_technician_id", refused.text
    assert client.get(f"/v1/jobs/{job_id}", headers=DISPATCHER).json()["pinned_technician_id"] is None
    kept = client.put(f"/v1/jobs/{job_id}", json={**keep, "pinned_technician_id": "W2"}, headers=DISPATCHER)
    assert kept.status_code == 200 and kept.json()["pinned_technician_id"] == "W2", kept.text


def test_a_csv_import_cannot_change_a_booked_job_or_a_confirmed_window_that_a_put_could_not(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    client, booker, _ = shop
    body = job(60)
    slot = search(client, booker, body)["slots"][0]
    booked = book(client, booker, body, slot, "import-me").json()["job_id"]
    window = f"{DAY.isoformat()}T09:00:00+02:00"
    confirmed = {**job(60), "date": DAY.isoformat(), "customer": CUSTOMER, "confirmed": True}
    confirmed["windows"] = [{"start": window, "end": window.replace("T09", "T11")}]
    assert client.put("/v1/jobs/C1", json=confirmed, headers=DISPATCHER).status_code == 201
    before = {j: client.get(f"/v1/jobs/{j}", headers=DISPATCHER).json() for j in (booked, "C1")}
    rows = (
        f"{booked},{DAY.isoformat()},install,60.30,25.10,300,wardrobe:1,14:00-15:00\n"
        f"C1,{NEXT.isoformat()},install,60.19,24.95,60,wardrobe:1,15:00-16:00\n"
    )
    csv = "id,date,kind,lat,lon,duration_min,skills,windows\n" + rows
    answer = client.post("/v1/jobs/import", files={"file": ("jobs.csv", csv.encode(), "text/csv")}, headers=DISPATCHER)
    assert answer.status_code == 200, answer.text
    assert answer.json()["imported"] == 0
    assert {(e["line"], e["field"]) for e in answer.json()["errors"]} == {(2, "id"), (3, "date")}
    assert {j: client.get(f"/v1/jobs/{j}", headers=DISPATCHER).json() for j in (booked, "C1")} == before


def test_a_plan_run_that_would_drop_a_booking_is_refused_and_the_published_plan_stays(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    client, booker, _ = shop
    kitchen = job(5 * 60, {"kitchen": 2})
    slot = next(s for s in search(client, booker, kitchen)["slots"] if s["start"] == at(DAY, "10:00"))
    assert book(client, booker, kitchen, slot, "kitchen").status_code == 201
    plan = run_plan(client, DAY.isoformat(), time_limit_s=2)
    assert plan["status"] == "done"
    assert client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER).status_code == 200
    # The kitchen fitter now goes home at 12:00: the booked kitchen can no longer be kept.
    short = technician((60.18, 24.90), {"kitchen": 2}, [DAY])
    short["shifts"][0]["end"] = "12:00"
    assert client.put("/v1/technicians/K1", json=short, headers=DISPATCHER).status_code == 200
    refused = run_plan(client, DAY.isoformat(), time_limit_s=2)
    assert refused["status"] == "failed"
    assert "refused" in str(refused["error"]) and "booked job" in str(refused["error"])
    versions = client.get("/v1/plans", params={"date": DAY.isoformat()}, headers=DISPATCHER).json()
    assert [p["id"] for p in versions if p["published"]] == [plan["id"]]


def test_an_idempotency_key_is_its_clients_own(shop: tuple[TestClient, dict[str, str], str]) -> None:
    client, first, url = shop
    second = auth(client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"])
    [slot, other, *_] = search(client, first, job())["slots"]
    mine = book(client, first, job(), slot, "order-1")
    assert mine.status_code == 201, mine.text

    # The second client sends the first one's key with the first one's body: a booking of its own.
    theirs = book(client, second, job(), other, "order-1")
    assert theirs.status_code == 201, theirs.text
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["job_id"] != mine.json()["job_id"]
    assert client.get(f"/v1/bookings/{mine.json()['job_id']}", headers=second).status_code == 404
    # Each client's own retry still answers its own first answer.
    again = book(client, first, job(), slot, "order-1")
    assert again.status_code == 201 and again.json()["job_id"] == mine.json()["job_id"]
    assert counts(url)[1] == 2


def test_cancelling_a_job_that_is_not_a_booking_as_a_booking_changes_nothing(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    client, booker, _ = shop
    put = client.put("/v1/jobs/J-plain", json={**job(), "date": DAY.isoformat()}, headers=DISPATCHER)
    assert put.status_code == 201, put.text
    for headers in (DISPATCHER, booker):
        refused = client.delete("/v1/bookings/J-plain", headers=headers)
        assert refused.status_code == 404 and refused.json()["field"] == "job_id"
    assert client.get("/v1/jobs/J-plain", headers=DISPATCHER).json()["status"] == "open"
