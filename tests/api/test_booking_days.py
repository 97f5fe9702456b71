"""Slot search for jobs of several days (issue 20): each slot offered comes with the
window of every day of the job, on consecutive working days of one technician who can
take it each day (a day off in between is skipped). A booking of one holds every day of
it: each day's live schedule has it with that technician, the same hours are promised
each day (plans of a day and of several days keep them), and a cancellation frees them
all."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, create_engine, select

from api import create_app
from dispatch.tables import LiveScheduleRow
from solver.plan import routes_from_json
from tests.api.conftest import DISPATCHER, auth, run_plan_of, settings_for
from tests.api.test_booking import CUSTOMER, at, counts, job, technician
from tests.conftest import today

DAY = today() + dt.timedelta(days=7)
NEXT = DAY + dt.timedelta(days=1)
DAY_OFF = DAY + dt.timedelta(days=2)  # W1's, between NEXT and AFTER_A_DAY_OFF
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


def live_holders(url: str, job_id: str) -> dict[dt.date, str]:
    """The days whose live schedule holds ``job_id``, each with its technician."""
    engine = create_engine(url)
    with Session(engine) as session:
        rows = session.exec(select(LiveScheduleRow)).all()
        held = {row.date: r.technician_id for row in rows for r in routes_from_json(row.routes) if job_id in r.job_ids}
    engine.dispose()
    return held


def book_two_days(client: TestClient, headers: dict[str, str], slot: dict[str, Any], key: str, **extra: Any) -> Any:
    payload = {
        **job(240),
        "days": 2,
        **extra,
        "customer": CUSTOMER,
        "slot": {"start": slot["start"], "end": slot["end"]},
    }
    return client.post("/v1/bookings", json=payload, headers={**headers, "Idempotency-Key": key})


def test_a_two_day_job_is_booked_on_both_days_with_one_technician_and_its_hours_promised_each_day(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    client, headers, url = shop
    [slot, *_] = search(client, headers, {**job(240), "days": 2}, DAY)["slots"]
    response = book_two_days(client, headers, slot, "two-days")
    assert response.status_code == 201, response.text
    booked = response.json()
    assert [(d["start"], d["end"]) for d in booked["days"]] == [(d["start"], d["end"]) for d in slot["days"]]
    assert client.get(f"/v1/bookings/{booked['job_id']}", headers=headers).json()["days"] == booked["days"]
    # Both days' live schedules hold it, with W1: the only wardrobe fitter working both days.
    assert live_holders(url, booked["job_id"]) == {DAY: "W1", NEXT: "W1"}
    stored = client.get(f"/v1/jobs/{booked['job_id']}", headers=DISPATCHER).json()
    assert stored["days"] == 2 and stored["confirmed"] is True
    # A plan of the second day keeps it with W1 inside the hours promised that day.
    plan = run_plan_of(client, {"date": NEXT.isoformat(), "time_limit_s": 2})
    assert plan["status"] == "done", plan
    [(who, visit)] = [
        (r["technician_id"], v) for r in plan["routes"] for v in r["visits"] if v["job_id"] == booked["job_id"]
    ]
    second = slot["days"][1]
    assert who == "W1" and local(second["start"]) <= local(visit["start"]) <= local(second["end"])


def test_a_plan_over_several_days_keeps_a_booked_two_day_job_on_its_days_and_hours(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    client, headers, _ = shop
    [slot, *_] = search(client, headers, {**job(240), "days": 2}, DAY)["slots"]
    booked = book_two_days(client, headers, slot, "week").json()
    body = {"date_from": DAY.isoformat(), "date_to": AFTER_A_DAY_OFF.isoformat(), "time_limit_s": 2}
    plan = run_plan_of(client, body)
    assert plan["status"] == "done", plan
    placed = sorted(
        (r["date"], r["technician_id"], v["start"])
        for r in plan["routes"]
        for v in r["visits"]
        if v["job_id"] == booked["job_id"]
    )
    assert [(d, who) for d, who, _ in placed] == [(DAY.isoformat(), "W1"), (NEXT.isoformat(), "W1")]
    for (_, _, start), promised in zip(placed, slot["days"], strict=True):
        assert local(promised["start"]) <= local(start) <= local(promised["end"])


def booked_around_a_day_off_then_ill_on_its_second_day(client: TestClient, headers: dict[str, str], url: str) -> str:
    """Book a two-day job with W1 on NEXT and AFTER_A_DAY_OFF (W1 is off between); then
    W3, who works all three days, is hired and W1 falls ill on AFTER_A_DAY_OFF. The job's id."""
    [slot, *_] = search(client, headers, {**job(240), "days": 2}, NEXT)["slots"]
    booked = book_two_days(client, headers, slot, "around-a-day-off").json()
    assert live_holders(url, booked["job_id"]) == {NEXT: "W1", AFTER_A_DAY_OFF: "W1"}
    every_day = technician((60.20, 24.96), {"wardrobe": 2}, [NEXT, DAY_OFF, AFTER_A_DAY_OFF])
    assert client.put("/v1/technicians/W3", json=every_day, headers=DISPATCHER).status_code == 201
    ill = {
        **technician((60.17, 24.94), {"wardrobe": 2}, [DAY, NEXT, AFTER_A_DAY_OFF]),
        "absences": [
            {
                "start": at(AFTER_A_DAY_OFF, "00:00"),
                "end": at(AFTER_A_DAY_OFF + dt.timedelta(days=1), "00:00"),
                "reason": "sick",
            }
        ],
    }
    assert client.put("/v1/technicians/W1", json=ill, headers=DISPATCHER).status_code == 200
    job_id: str = booked["job_id"]
    return job_id


def test_a_plan_over_several_days_fails_rather_than_move_a_booked_day_to_a_day_its_customer_was_not_told(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    """Before, the plan was done with the second day on DAY_OFF (W3 works it), and once
    published the feed told the customer a confirmed window on a day never booked."""
    client, headers, url = shop
    job_id = booked_around_a_day_off_then_ill_on_its_second_day(client, headers, url)
    body = {"date_from": NEXT.isoformat(), "date_to": AFTER_A_DAY_OFF.isoformat(), "time_limit_s": 2}
    plan = run_plan_of(client, body)
    assert plan["status"] == "failed", plan
    assert f"job {job_id} is promised to its customer and this plan leaves it out" in str(plan["error"])


def test_plans_of_one_day_keep_a_booked_two_day_job_off_the_day_between_and_fail_on_its_booked_day_it_cannot_keep(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    """Before, a plan and a re-plan of AFTER_A_DAY_OFF, W1 ill, were done without the
    job: its promise was read as NEXT and the calendar day after, not its booked days."""
    client, headers, url = shop
    job_id = booked_around_a_day_off_then_ill_on_its_second_day(client, headers, url)
    between = run_plan_of(client, {"date": DAY_OFF.isoformat(), "time_limit_s": 1})
    assert between["status"] == "done", between
    assert all(v["job_id"] != job_id for r in between["routes"] for v in r["visits"])
    day = AFTER_A_DAY_OFF.isoformat()
    for body in ({"date": day}, {"date": day, "from": at(AFTER_A_DAY_OFF, "07:00")}):
        plan = run_plan_of(client, {**body, "time_limit_s": 1})
        assert plan["status"] == "failed", (body, plan)
        assert f"booked job {job_id} cannot be planned (Day " in str(plan["error"]), (body, plan)


def assert_only_on_its_second_booked_day_with_w1(plan: Any, job_id: str, second: dict[str, str]) -> None:
    """``plan`` visits ``job_id`` once: on AFTER_A_DAY_OFF with W1, inside ``second``'s hours."""
    [(day, who, start)] = [
        (r["date"], r["technician_id"], v["start"])
        for r in plan["routes"]
        for v in r["visits"]
        if v["job_id"] == job_id
    ]
    assert (day, who) == (AFTER_A_DAY_OFF.isoformat(), "W1")
    assert local(second["start"]) <= local(start) <= local(second["end"])


def test_a_plan_after_the_first_booked_day_is_done_plans_the_second_on_its_booked_day_though_its_fitter_works_before(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    """W1 is given a shift on DAY_OFF after the booking. Before, a plan over DAY_OFF and
    AFTER_A_DAY_OFF put the day left on DAY_OFF, the next working day of its fitter."""
    client, headers, _ = shop
    [slot, *_] = search(client, headers, {**job(240), "days": 2}, NEXT)["slots"]
    booked = book_two_days(client, headers, slot, "then-a-shift-between").json()
    job_id, second = booked["job_id"], slot["days"][1]
    week = {"date_from": NEXT.isoformat(), "date_to": AFTER_A_DAY_OFF.isoformat(), "time_limit_s": 2}
    plan = run_plan_of(client, week)
    assert plan["status"] == "done", plan
    assert client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER).status_code == 200
    [one] = [v for r in plan["routes"] for v in r["visits"] if v["job_id"] == job_id and r["date"] == NEXT.isoformat()]
    for kind, moment in (("arrived", one["arrival"]), ("completed", one["end"])):
        sent = client.post(f"/v1/jobs/{job_id}/events", json={"type": kind, "at": moment}, headers=DISPATCHER)
        assert sent.status_code == 201, sent.text
    every_day = technician((60.17, 24.94), {"wardrobe": 2}, [DAY, NEXT, DAY_OFF, AFTER_A_DAY_OFF])
    assert client.put("/v1/technicians/W1", json=every_day, headers=DISPATCHER).status_code == 200
    rest = run_plan_of(client, {**week, "date_from": DAY_OFF.isoformat()})
    assert rest["status"] == "done", rest
    assert_only_on_its_second_booked_day_with_w1(rest, job_id, second)


def test_a_plan_over_the_days_after_a_booked_two_day_job_began_keeps_its_day_left_with_its_fitter(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    """W1 is at the customer on the job's first day (arrived, not done). Before, a plan
    from the next day was refused: the first day's live schedule held the job ("Published
    on <day> with W1: a plan of that day moves it") and the first day, under way, could
    not be planned again either."""
    client, headers, _ = shop
    [slot, *_] = search(client, headers, {**job(240), "days": 2}, NEXT)["slots"]
    booked = book_two_days(client, headers, slot, "under-way-then-a-week").json()
    job_id, (first, second) = booked["job_id"], slot["days"]
    sent = client.post(f"/v1/jobs/{job_id}/events", json={"type": "arrived", "at": first["start"]}, headers=DISPATCHER)
    assert sent.status_code == 201, sent.text
    rest = run_plan_of(
        client, {"date_from": DAY_OFF.isoformat(), "date_to": AFTER_A_DAY_OFF.isoformat(), "time_limit_s": 2}
    )
    assert rest["status"] == "done", rest
    assert_only_on_its_second_booked_day_with_w1(rest, job_id, second)


def test_a_two_day_job_whose_second_day_is_taken_meanwhile_is_refused_and_writes_nothing(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    client, headers, url = shop
    slots = search(client, headers, {**job(240), "days": 2}, DAY)["slots"]
    assert book_two_days(client, headers, slots[0], "first").status_code == 201
    before = counts(url)
    # The same hours again: W1 is the only fitter with both days, and both are taken then.
    response = book_two_days(client, headers, slots[0], "second")
    assert response.status_code == 409, response.text
    assert response.json()["field"] == "slot"
    assert counts(url) == before


def test_a_later_one_day_booking_never_moves_one_day_of_a_booked_two_day_job_to_another_fitter(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    client, headers, url = shop
    two_days = book_two_days(client, headers, {"start": at(DAY, "09:00"), "end": at(DAY, "10:00")}, "two-days")
    assert two_days.status_code == 201, two_days.text
    job_id = two_days.json()["job_id"]
    assert live_holders(url, job_id) == {DAY: "W1", NEXT: "W1"}
    # Only W1 holds wardrobe level 2; W2 (level 1) would take the two-day job's first day
    # if it could move, but its second day is W1's.
    one_day = {**job(60, skills={"wardrobe": 2}, where=(60.23, 25.02)), "customer": CUSTOMER}
    slot = {"start": at(DAY, "09:00"), "end": at(DAY, "10:00")}
    response = client.post("/v1/bookings", json={**one_day, "slot": slot}, headers={**headers, "Idempotency-Key": "k"})
    assert response.status_code == 409, response.text
    assert response.json()["field"] == "slot"
    assert live_holders(url, job_id) == {DAY: "W1", NEXT: "W1"}
    offered = search(client, headers, job(60, skills={"wardrobe": 2}, where=(60.23, 25.02)), DAY)["slots"]
    assert local(slot["start"]) not in {local(s["start"]) for s in offered}, offered


def test_cancelling_a_two_day_booking_frees_both_of_its_days(shop: tuple[TestClient, dict[str, str], str]) -> None:
    client, headers, url = shop
    [slot, *_] = search(client, headers, {**job(240), "days": 2}, DAY)["slots"]
    booked = book_two_days(client, headers, slot, "to-cancel").json()
    response = client.delete(f"/v1/bookings/{booked['job_id']}", headers=headers)
    assert response.status_code == 200, response.text
    assert live_holders(url, booked["job_id"]) == {}
    again = book_two_days(client, headers, slot, "again")
    assert again.status_code == 201, again.text


def test_booking_a_crew_job_of_several_days_is_refused_naming_days_and_writes_nothing(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    client, headers, url = shop
    [slot, *_] = search(client, headers, {**job(240), "days": 2}, DAY)["slots"]
    response = book_two_days(client, headers, slot, "crew", crew_size=2)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "days" and "each day as a job of its own" in response.text
    assert counts(url) == (0, 0)


def test_a_booking_whose_days_run_past_the_last_date_served_is_refused_naming_slot(
    shop: tuple[TestClient, dict[str, str], str],
) -> None:
    """Before, a job of five days booked on 2099-12-31 by a fitter who works every day
    answered 500: its later days lay past the last date the service takes."""
    client, headers, _ = shop
    every_day = [{"weekday": n, "start": "08:00", "end": "16:00"} for n in range(1, 8)]
    body = {"home": {"lat": 60.17, "lon": 24.94}, "skills": {"wardrobe": 2}, "week": every_day}
    assert client.put("/v1/technicians/W9", json=body, headers=DISPATCHER).status_code == 201
    last = dt.date(2099, 12, 31)
    slot = {"start": at(last, "09:00"), "end": at(last, "10:00")}
    booked = client.post(
        "/v1/bookings",
        json={**job(60), "days": 5, "customer": CUSTOMER, "slot": slot},
        headers={**headers, "Idempotency-Key": "past-the-last-date"},
    )
    assert booked.status_code == 422 and booked.json()["field"] == "slot", booked.text
    jobs = client.get("/v1/jobs", headers=DISPATCHER).json()
    assert jobs == [], jobs
