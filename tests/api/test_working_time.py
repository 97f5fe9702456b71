"""Working time through the API (issue 20; docs/working-time.md): a technician's weekly
template (``week``) gives the shift of every date without an explicit one, absences take
days off or hours out of it, and plan runs and slot search see the same working time.
Dates are the weeks after the suite's today, offsets those of Helsinki on each date."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api import create_app
from dispatch import catalog
from dispatch.errors import Conflict
from dispatch.inputs import TechnicianIn
from tests.api.conftest import DISPATCHER, auth, run_plan, run_plan_of, settings_for
from tests.conftest import HELSINKI, today


def _next_monday() -> dt.date:
    day = today() + dt.timedelta(days=2)
    return day + dt.timedelta(days=(7 - day.weekday()) % 7)


MONDAY = _next_monday()
TUESDAY = MONDAY + dt.timedelta(days=1)
WEDNESDAY = MONDAY + dt.timedelta(days=2)
SATURDAY = MONDAY + dt.timedelta(days=5)
LUNCH = {"earliest": "11:00", "latest": "12:30", "duration_min": 30}
WEEK = [{"weekday": d, "start": "08:00", "end": "16:00", "break": LUNCH} for d in range(1, 6)]


def at(day: dt.date, clock: str) -> dt.datetime:
    """``clock`` (HH:MM) on ``day`` in Helsinki."""
    return dt.datetime.combine(day, dt.time.fromisoformat(clock), tzinfo=HELSINKI)


def iso(day: dt.date, clock: str) -> str:
    return at(day, clock).isoformat()


def technician(**fields: Any) -> dict[str, Any]:
    return {"name": "Ville", "home": {"lat": 60.2, "lon": 24.9}, "skills": {"wardrobe": 2}, "week": WEEK, **fields}


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    """An empty service (no sample day)."""
    app = create_app(settings_for(database_url, seed=False))
    with TestClient(app) as c:
        yield c


def put_tech(client: TestClient, body: dict[str, Any], tech_id: str = "T1") -> Any:
    return client.put(f"/v1/technicians/{tech_id}", json=body, headers=DISPATCHER)


def put_jobs(client: TestClient, day: dt.date, count: int, **fields: Any) -> None:
    for i in range(count):
        body = {"date": day.isoformat(), "location": {"lat": 60.17 + i * 0.003, "lon": 24.94}, "duration_min": 60}
        response = client.put(f"/v1/jobs/J{day:%d}-{i}", json={**body, **fields}, headers=DISPATCHER)
        assert response.status_code == 201, response.text


def visits(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for r in plan["routes"] for v in r["visits"]]


def test_the_week_template_and_absences_are_stored_and_read_back(client: TestClient) -> None:
    absences = [
        {"start": iso(TUESDAY, "00:00"), "end": iso(WEDNESDAY, "00:00"), "reason": "holiday"},
        {"start": iso(MONDAY, "07:00"), "end": iso(MONDAY, "09:30"), "reason": "doctor"},
    ]
    created = put_tech(client, technician(absences=absences))
    assert created.status_code == 201, created.text
    read = client.get("/v1/technicians/T1", headers=DISPATCHER).json()
    assert read["week"] == [{"weekday": d, "start": "08:00", "end": "16:00", "break": LUNCH} for d in range(1, 6)]
    assert [(dt.datetime.fromisoformat(a["start"]), a["reason"]) for a in read["absences"]] == [
        (at(MONDAY, "07:00"), "doctor"),
        (at(TUESDAY, "00:00"), "holiday"),
    ]
    replaced = put_tech(client, technician(week=WEEK[:2]))
    assert replaced.status_code == 200
    listed = client.get("/v1/technicians", headers=DISPATCHER).json()
    assert [len(t["week"]) for t in listed] == [2] and listed[0]["absences"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"week": [*WEEK, {"weekday": 1, "start": "09:00", "end": "10:00"}]}, "week"),
        ({"week": [{"weekday": 8, "start": "08:00", "end": "16:00"}]}, "week.0.weekday"),
        ({"week": [{"weekday": 1, "start": "16:00", "end": "08:00"}]}, "week.0.end"),
        ({"week": [{"weekday": 1, "start": "08:00", "end": "16:00", "break": {**LUNCH, "earliest": "07:00"}}]}, None),
        ({"week": [{"weekday": 1, "start": "8 am", "end": "16:00"}]}, "week.0.start"),
        ({"absences": [{"start": "2026-12-07T10:00:00+02:00", "end": "2026-12-07T09:00:00+02:00"}]}, None),
        ({"absences": [{"start": "2026-12-07T10:00:00", "end": "2026-12-07T11:00:00+02:00"}]}, "absences.0.start"),
        ({"absences": [{"start": "2026-12-07T10:00:00+02:00", "end": "2026-12-07T11:00:00+02:00"}] * 401}, None),
    ],
)
def test_bad_working_time_is_refused_naming_the_field(
    client: TestClient, change: dict[str, Any], field: str | None
) -> None:
    response = put_tech(client, technician(**change))
    assert response.status_code == 422, response.text
    named = response.json()["field"]
    key = next(iter(change))
    assert named == field if field is not None else named.startswith(key)
    assert client.get("/v1/technicians", headers=DISPATCHER).json() == []


def test_a_second_pause_inside_the_shift_is_refused_naming_it_and_nothing_is_written(client: TestClient) -> None:
    assert put_tech(client, technician()).status_code == 201
    absences = [
        {"start": iso(TUESDAY, "00:00"), "end": iso(WEDNESDAY, "00:00")},
        {"start": iso(MONDAY, "09:00"), "end": iso(MONDAY, "10:00"), "reason": "dentist"},
        {"start": iso(MONDAY, "14:00"), "end": iso(MONDAY, "15:00"), "reason": "school"},
    ]
    refused = put_tech(client, technician(name="Changed", absences=absences))
    assert refused.status_code == 422
    assert refused.json()["field"] == "absences.2"
    assert f"14:00–15:00 on {MONDAY}" in refused.json()["detail"] and "second pause" in refused.json()["detail"]
    kept = client.get("/v1/technicians/T1", headers=DISPATCHER).json()
    assert kept["name"] == "Ville" and kept["absences"] == []


def test_an_absence_apart_from_the_lunch_window_splits_the_day_and_holds_the_lunch(client: TestClient) -> None:
    """Away 14:00-15:00, the lunch to start 11:00-12:30: the lunch is taken within the
    absence, no visit and no drive inside it, work before and after it."""
    away = [{"start": iso(MONDAY, "14:00"), "end": iso(MONDAY, "15:00"), "reason": "dentist"}]
    assert put_tech(client, technician(absences=away)).status_code == 201
    put_jobs(client, MONDAY, 3)
    late = {"start": iso(MONDAY, "14:30"), "end": iso(MONDAY, "15:30")}
    body = {"date": MONDAY.isoformat(), "location": {"lat": 60.18, "lon": 24.93}, "duration_min": 30, "windows": [late]}
    assert client.put("/v1/jobs/LATE", json=body, headers=DISPATCHER).status_code == 201
    plan = run_plan(client, MONDAY.isoformat())
    assert plan["status"] == "done", plan
    planned = visits(plan)
    assert len(planned) == 4, plan
    for v in planned:
        start, end = dt.datetime.fromisoformat(v["start"]), dt.datetime.fromisoformat(v["end"])
        assert end <= at(MONDAY, "14:00") or start >= at(MONDAY, "15:00"), v
    route = plan["routes"][0]
    assert dt.datetime.fromisoformat(route["lunch_start"]) == at(MONDAY, "14:00")
    assert dt.datetime.fromisoformat(route["lunch_end"]) == at(MONDAY, "15:00")
    before = [v for v in planned if dt.datetime.fromisoformat(v["end"]) <= at(MONDAY, "14:00")]
    assert before and len(before) < len(planned), "work on both sides of the absence"


def test_a_long_install_is_planned_around_an_absence_never_over_it(client: TestClient) -> None:
    """Away 10:00-11:00 (the dentist), the lunch right after it: the pause runs to
    11:30. A long visit holds a lunch on site, but the technician is not on site while
    away: a five-hour install fits neither before the pause nor after it in a day to
    16:00 and is left out; a four-hour one starts after the pause."""
    away = [{"start": iso(MONDAY, "10:00"), "end": iso(MONDAY, "11:00"), "reason": "dentist"}]
    assert put_tech(client, technician(absences=away)).status_code == 201
    window = {"start": iso(MONDAY, "08:00"), "end": iso(MONDAY, "12:00")}
    body = {"date": MONDAY.isoformat(), "location": {"lat": 60.18, "lon": 24.93}, "windows": [window]}
    kitchen = client.put("/v1/jobs/KITCHEN", json={**body, "duration_min": 300}, headers=DISPATCHER)
    assert kitchen.status_code == 201
    plan = run_plan(client, MONDAY.isoformat())
    assert plan["status"] == "done", plan
    assert visits(plan) == [] and [u["job_id"] for u in plan["unassigned"]] == ["KITCHEN"], plan
    shorter = client.put("/v1/jobs/KITCHEN", json={**body, "duration_min": 240}, headers=DISPATCHER)
    assert shorter.status_code == 200, shorter.text
    plan = run_plan(client, MONDAY.isoformat())
    (visit,) = visits(plan)
    assert dt.datetime.fromisoformat(visit["start"]) >= at(MONDAY, "11:30"), visit
    assert dt.datetime.fromisoformat(plan["routes"][0]["lunch_start"]) == at(MONDAY, "10:00")


def test_a_plan_on_a_template_day_uses_the_weekday_and_an_explicit_shift_overrides_it(client: TestClient) -> None:
    shifts = [{"date": TUESDAY.isoformat(), "start": "12:00", "end": "18:00"}]
    assert put_tech(client, technician(shifts=shifts)).status_code == 201
    put_jobs(client, MONDAY, 2)
    put_jobs(client, TUESDAY, 2)
    put_jobs(client, SATURDAY, 1)
    monday = run_plan(client, MONDAY.isoformat())
    assert monday["status"] == "done" and len(visits(monday)) == 2 and monday["unassigned"] == []
    assert all(at(MONDAY, "08:00") <= dt.datetime.fromisoformat(v["start"]) for v in visits(monday))
    tuesday = run_plan(client, TUESDAY.isoformat())
    assert tuesday["status"] == "done" and len(visits(tuesday)) == 2
    assert all(dt.datetime.fromisoformat(v["start"]) >= at(TUESDAY, "12:00") for v in visits(tuesday))
    saturday = run_plan(client, SATURDAY.isoformat())
    assert saturday["status"] == "done" and visits(saturday) == [] and len(saturday["unassigned"]) == 1


def test_a_holiday_takes_the_technician_out_of_the_day(client: TestClient) -> None:
    holiday = [{"start": iso(MONDAY, "00:00"), "end": iso(TUESDAY, "00:00"), "reason": "holiday"}]
    assert put_tech(client, technician(absences=holiday)).status_code == 201
    assert put_tech(client, technician(name="Other", home={"lat": 60.25, "lon": 25.0}), "T2").status_code == 201
    put_jobs(client, MONDAY, 3)
    plan = run_plan(client, MONDAY.isoformat())
    assert plan["status"] == "done"
    assert {r["technician_id"] for r in plan["routes"] if r["visits"]} == {"T2"}
    assert all(r["technician_id"] != "T1" for r in plan["routes"])


def test_no_visit_is_planned_inside_an_absence_of_a_few_hours(client: TestClient) -> None:
    """Away 13:00-14:30: the lunch goes right before it (12:30), one pause of two hours;
    the afternoon's jobs are planned around it (the engine's checker verifies the plan)."""
    away = [{"start": iso(MONDAY, "13:00"), "end": iso(MONDAY, "14:30"), "reason": "school"}]
    assert put_tech(client, technician(absences=away)).status_code == 201
    window = {"start": iso(MONDAY, "12:00"), "end": iso(MONDAY, "16:00")}
    put_jobs(client, MONDAY, 3, windows=[window])
    plan = run_plan(client, MONDAY.isoformat())
    assert plan["status"] == "done", plan
    planned = visits(plan)
    assert planned, plan
    for v in planned:
        start, end = dt.datetime.fromisoformat(v["start"]), dt.datetime.fromisoformat(v["end"])
        assert end <= at(MONDAY, "12:30") or start >= at(MONDAY, "14:30"), v
    route = plan["routes"][0]
    assert dt.datetime.fromisoformat(route["lunch_start"]) == at(MONDAY, "12:30")
    assert dt.datetime.fromisoformat(route["lunch_end"]) == at(MONDAY, "14:30")


def test_slot_search_offers_nothing_inside_an_absence_nor_on_a_holiday(client: TestClient) -> None:
    absences = [
        {"start": iso(MONDAY, "07:00"), "end": iso(MONDAY, "12:00"), "reason": "training"},
        {"start": iso(TUESDAY, "00:00"), "end": iso(WEDNESDAY, "00:00"), "reason": "holiday"},
    ]
    assert put_tech(client, technician(absences=absences)).status_code == 201
    booking = auth(client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"])
    wanted = {
        "location": {"lat": 60.17, "lon": 24.94},
        "duration_min": 60,
        "skills": {"wardrobe": 1},
        "date_from": MONDAY.isoformat(),
        "date_to": WEDNESDAY.isoformat(),
    }
    found = client.post("/v1/slots/search", json=wanted, headers=booking)
    assert found.status_code == 200, found.text
    starts = [dt.datetime.fromisoformat(s["start"]) for s in found.json()["slots"]]
    assert starts
    assert {s.astimezone(HELSINKI).date() for s in starts} <= {MONDAY, WEDNESDAY}
    assert all(s >= at(MONDAY, "12:00") for s in starts if s.astimezone(HELSINKI).date() == MONDAY)


def test_the_working_time_read_shows_each_date_as_plans_see_it(client: TestClient) -> None:
    absences = [
        {"start": iso(MONDAY, "13:00"), "end": iso(MONDAY, "14:30"), "reason": "school"},
        {"start": iso(TUESDAY, "00:00"), "end": iso(WEDNESDAY, "00:00"), "reason": "holiday"},
    ]
    shifts = [{"date": WEDNESDAY.isoformat(), "start": "10:00", "end": "14:00"}]
    assert put_tech(client, technician(absences=absences, shifts=shifts)).status_code == 201
    params = {"date_from": MONDAY.isoformat(), "date_to": (MONDAY + dt.timedelta(days=6)).isoformat()}
    days = client.get("/v1/working-time", params=params, headers=DISPATCHER)
    assert days.status_code == 200, days.text
    by_date = {d["date"]: d for d in days.json()}
    # Tuesday: a holiday; Saturday and Sunday: no template day.
    assert sorted(by_date) == [(MONDAY + dt.timedelta(days=n)).isoformat() for n in (0, 2, 3, 4)]
    monday = by_date[MONDAY.isoformat()]
    assert dt.datetime.fromisoformat(monday["lunch"]["earliest"]) == at(MONDAY, "12:30")
    assert monday["lunch"]["duration_min"] == 120 and monday["minutes"] == 8 * 60 - 120
    wednesday = by_date[WEDNESDAY.isoformat()]
    assert dt.datetime.fromisoformat(wednesday["start"]) == at(WEDNESDAY, "10:00")
    assert wednesday["lunch"] is None and wednesday["minutes"] == 240
    thursday = by_date[(MONDAY + dt.timedelta(days=3)).isoformat()]
    assert thursday["lunch"]["duration_min"] == 30 and thursday["minutes"] == 450


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "2026-12-10", "date_to": "2026-12-09"}, "date_to"),
        ({"date_from": "2026-12-01", "date_to": "2027-01-31"}, "date_to"),
        ({"date_from": "1999-12-31", "date_to": "2000-01-01"}, "date_from"),
        ({"date_from": "2026-12-01"}, "date_to"),
    ],
)
def test_a_bad_range_of_working_time_is_refused_naming_the_field(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    response = client.get("/v1/working-time", params=params, headers=DISPATCHER)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_a_technician_reported_unavailable_is_off_from_then_in_every_plan_slot_and_working_time_of_the_day(
    client: TestClient,
) -> None:
    """Ville is reported unavailable on Monday from 12:00 for the rest of the day (a
    disruption, recorded ahead): a whole-day plan and a plan over Monday and Tuesday
    give him nothing after 12:00 that Monday, slot search offers no Monday afternoon,
    and his working time that Monday ends at 12:00."""
    assert put_tech(client, technician()).status_code == 201
    off = {"type": "technician_unavailable", "technician_id": "T1", "from": iso(MONDAY, "12:00")}
    assert client.post("/v1/disruptions", json=off, headers=DISPATCHER).status_code == 201
    put_jobs(client, MONDAY, 2)
    afternoon = {"start": iso(MONDAY, "13:00"), "end": iso(MONDAY, "15:00")}
    body = {"date": MONDAY.isoformat(), "location": {"lat": 60.18, "lon": 24.93}, "duration_min": 30}
    assert client.put("/v1/jobs/LATE", json={**body, "windows": [afternoon]}, headers=DISPATCHER).status_code == 201

    def ends_by_noon(planned: list[dict[str, Any]]) -> bool:
        monday = [v for v in planned if dt.datetime.fromisoformat(v["start"]).astimezone(HELSINKI).date() == MONDAY]
        return bool(monday) and all(dt.datetime.fromisoformat(v["end"]) <= at(MONDAY, "12:00") for v in monday)

    day = run_plan(client, MONDAY.isoformat())
    assert day["status"] == "done", day
    assert ends_by_noon(visits(day)) and [u["job_id"] for u in day["unassigned"]] == ["LATE"], day
    week = run_plan_of(client, {"date_from": MONDAY.isoformat(), "date_to": TUESDAY.isoformat(), "time_limit_s": 3})
    assert week["status"] == "done", week
    assert ends_by_noon(visits(week)), week

    booking = auth(client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"])
    wanted = {"location": {"lat": 60.17, "lon": 24.94}, "duration_min": 60, "date_from": MONDAY.isoformat()}
    found = client.post("/v1/slots/search", json=wanted, headers=booking)
    assert found.status_code == 200, found.text
    assert all(dt.datetime.fromisoformat(s["end"]) <= at(MONDAY, "12:00") for s in found.json()["slots"]), found.json()
    params = {"date_from": MONDAY.isoformat(), "date_to": MONDAY.isoformat()}
    (monday,) = client.get("/v1/working-time", params=params, headers=DISPATCHER).json()
    assert dt.datetime.fromisoformat(monday["end"]) == at(MONDAY, "12:00") and monday["max_overtime_min"] == 0


def test_an_absence_recorded_after_slots_were_searched_and_a_plan_was_made_is_in_the_next_search_and_stops_that_plan(
    client: TestClient,
) -> None:
    """Slot search has offered Ville's Monday afternoon and a plan gives him a visit at
    13:00; then he is reported unavailable from 12:00. The next search offers nothing
    after 12:00 (before, a server that had searched once kept selling his afternoon),
    and the plan made before is not published: it names him, the time and the visit."""
    assert put_tech(client, technician()).status_code == 201
    put_jobs(client, MONDAY, 2)
    afternoon = {"start": iso(MONDAY, "13:00"), "end": iso(MONDAY, "15:00")}
    body = {"date": MONDAY.isoformat(), "location": {"lat": 60.18, "lon": 24.93}, "duration_min": 30}
    assert client.put("/v1/jobs/LATE", json={**body, "windows": [afternoon]}, headers=DISPATCHER).status_code == 201
    booking = auth(client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"])
    wanted = {"location": {"lat": 60.17, "lon": 24.94}, "duration_min": 60, "date_from": MONDAY.isoformat()}

    def slot_ends() -> list[dt.datetime]:
        found = client.post("/v1/slots/search", json=wanted, headers=booking)
        assert found.status_code == 200, found.text
        return [dt.datetime.fromisoformat(s["end"]) for s in found.json()["slots"]]

    assert any(end > at(MONDAY, "12:00") for end in slot_ends())
    plan = run_plan(client, MONDAY.isoformat())
    assert plan["status"] == "done" and not plan["unassigned"], plan
    late = next(v for v in visits(plan) if v["job_id"] == "LATE")
    assert dt.datetime.fromisoformat(late["start"]) >= at(MONDAY, "13:00")

    off = {"type": "technician_unavailable", "technician_id": "T1", "from": iso(MONDAY, "12:00")}
    assert client.post("/v1/disruptions", json=off, headers=DISPATCHER).status_code == 201
    ends = slot_ends()
    assert all(end <= at(MONDAY, "12:00") for end in ends), ends
    refused = client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER)
    assert refused.status_code == 409, refused.text
    said = refused.json()
    assert said["field"] == "plan_id", said
    assert "technician T1 is unavailable from 12:00" in said["detail"] and "LATE at 13:" in said["detail"], said
    assert client.get(f"/v1/plans/{plan['id']}", headers=DISPATCHER).json()["published"] is False


def test_a_technician_reported_away_keeps_the_absence_stored_for_later_that_day(client: TestClient) -> None:
    """The dentist at 14:00-15:00 is stored, then the technician is reported away 09:00-10:00:
    the engine holds one pause a day, so the plan keeps him free from 09:00 to 15:00 and
    gives him nothing in either absence. Before, the report replaced the dentist."""
    dentist = [{"start": iso(MONDAY, "14:00"), "end": iso(MONDAY, "15:00"), "reason": "dentist"}]
    assert put_tech(client, technician(absences=dentist)).status_code == 201
    off = {
        "type": "technician_unavailable",
        "technician_id": "T1",
        "from": iso(MONDAY, "09:00"),
        "until": iso(MONDAY, "10:00"),
    }
    assert client.post("/v1/disruptions", json=off, headers=DISPATCHER).status_code == 201
    put_jobs(client, MONDAY, 2, duration_min=30)
    body = {"date": MONDAY.isoformat(), "location": {"lat": 60.18, "lon": 24.93}, "duration_min": 30}
    in_the_dentist = {"start": iso(MONDAY, "14:00"), "end": iso(MONDAY, "14:45")}
    assert client.put("/v1/jobs/AT2", json={**body, "windows": [in_the_dentist]}, headers=DISPATCHER).status_code == 201
    plan = run_plan(client, MONDAY.isoformat())
    assert plan["status"] == "done", plan
    assert [u["job_id"] for u in plan["unassigned"]] == ["AT2"] and len(visits(plan)) == 2, plan
    for v in visits(plan):
        start, end = dt.datetime.fromisoformat(v["start"]), dt.datetime.fromisoformat(v["end"])
        assert end <= at(MONDAY, "09:00") or start >= at(MONDAY, "15:00"), v


def test_reports_of_a_technician_away_apart_from_each_other_all_count_and_a_later_one_corrects_what_it_meets(
    client: TestClient,
) -> None:
    """Away 08:00-12:00, then corrected "back at 10:00", then "ill from 14:30": the day
    starts at 10:00 and ends at 14:30. Before, only the last report counted: the
    technician was planned from 08:00."""
    assert put_tech(client, technician()).status_code == 201
    for start, end in (("08:00", "12:00"), ("08:00", "10:00"), ("14:30", None)):
        off = {"type": "technician_unavailable", "technician_id": "T1", "from": iso(MONDAY, start)}
        if end is not None:
            off["until"] = iso(MONDAY, end)
        assert client.post("/v1/disruptions", json=off, headers=DISPATCHER).status_code == 201
    params = {"date_from": MONDAY.isoformat(), "date_to": MONDAY.isoformat()}
    (monday,) = client.get("/v1/working-time", params=params, headers=DISPATCHER).json()
    assert dt.datetime.fromisoformat(monday["start"]) == at(MONDAY, "10:00"), monday
    assert dt.datetime.fromisoformat(monday["end"]) == at(MONDAY, "14:30"), monday
    put_jobs(client, MONDAY, 3, duration_min=30)
    plan = run_plan(client, MONDAY.isoformat())
    assert plan["status"] == "done" and len(visits(plan)) == 3, plan
    for v in visits(plan):
        start, end = dt.datetime.fromisoformat(v["start"]), dt.datetime.fromisoformat(v["end"])
        assert start >= at(MONDAY, "10:00") and end <= at(MONDAY, "14:30"), v


def test_a_plan_made_before_its_technician_was_given_time_off_is_not_published(client: TestClient) -> None:
    """Before, an absence entered on the technician (``PUT /v1/technicians``) after a plan
    was made did not make that plan stale: it was published with visits in the
    technician's time off, a whole day off included."""
    assert put_tech(client, technician()).status_code == 201
    put_jobs(client, MONDAY, 2)
    afternoon = {"start": iso(MONDAY, "13:00"), "end": iso(MONDAY, "15:00")}
    body = {"date": MONDAY.isoformat(), "location": {"lat": 60.18, "lon": 24.93}, "duration_min": 30}
    assert client.put("/v1/jobs/LATE", json={**body, "windows": [afternoon]}, headers=DISPATCHER).status_code == 201
    plan = run_plan(client, MONDAY.isoformat())
    assert plan["status"] == "done" and not plan["unassigned"], plan

    leaves = {"start": iso(MONDAY, "12:00"), "end": iso(TUESDAY, "00:00"), "reason": "dentist"}
    assert put_tech(client, technician(absences=[leaves])).status_code == 200
    refused = client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER)
    assert refused.status_code == 409 and refused.json()["field"] == "plan_id", refused.text
    assert "technician T1's working time no longer holds" in refused.json()["detail"], refused.text
    assert "LATE" in refused.json()["detail"], refused.text

    # An hour away inside the shift, over LATE's visit: the day's pause is now 13:00-14:00.
    hour = {"start": iso(MONDAY, "13:00"), "end": iso(MONDAY, "14:00"), "reason": "school"}
    assert put_tech(client, technician(absences=[hour])).status_code == 200
    refused = client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER)
    assert refused.status_code == 409 and "LATE at 13:" in refused.json()["detail"], refused.text

    whole_day = {"start": iso(MONDAY, "00:00"), "end": iso(TUESDAY, "00:00"), "reason": "sick"}
    assert put_tech(client, technician(absences=[whole_day])).status_code == 200
    refused = client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER)
    assert refused.status_code == 409 and "technician T1 no longer works that day" in refused.text, refused.text
    assert client.get(f"/v1/plans/{plan['id']}", headers=DISPATCHER).json()["published"] is False


def test_a_plan_whose_technician_no_longer_holds_a_visit_s_skills_is_not_published(client: TestClient) -> None:
    """The technician's wardrobe level lowered (or the job's raised) after the plan was
    made: publishing it would send them to work they cannot do. Before, it was published."""
    assert put_tech(client, technician(skills={"wardrobe": 2})).status_code == 201
    put_jobs(client, MONDAY, 2, skills={"wardrobe": 2})
    plan = run_plan(client, MONDAY.isoformat())
    assert plan["status"] == "done" and len(visits(plan)) == 2, plan
    assert put_tech(client, technician(skills={"wardrobe": 1})).status_code == 200
    refused = client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER)
    assert refused.status_code == 409 and refused.json()["field"] == "plan_id", refused.text
    said = refused.json()["detail"]
    assert f"technician T1 lacks the skills of J{MONDAY:%d}-0 (needs wardrobe 2)" in said, said
    assert client.get(f"/v1/plans/{plan['id']}", headers=DISPATCHER).json()["published"] is False
    assert put_tech(client, technician(skills={"wardrobe": 2})).status_code == 200
    assert client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER).status_code == 200


def test_two_requests_creating_the_same_technician_at_once_create_it_once_and_the_other_is_told_to_send_again(
    client: TestClient,
) -> None:
    """Before, on PostgreSQL the second insert failed with a unique violation: a 500."""
    state = client.app.state.dispatch  # type: ignore[attr-defined]
    body = TechnicianIn.model_validate(technician())
    answers: list[str] = []

    def create(session: Session) -> None:
        try:
            catalog.put_technician(session, "NEW", body, "helsinki", state.tz, now=state.clock.now())
            session.commit()
            answers.append("created")
        except Conflict as refused:
            session.rollback()
            answers.append(f"{refused.field}: {refused.detail}")

    with Session(state.engine) as first, Session(state.engine) as second:
        catalog.put_technician(first, "NEW", body, "helsinki", state.tz, now=state.clock.now())
        racing = threading.Thread(target=create, args=(second,))
        racing.start()
        racing.join(0.5)  # it waits for the first insert (or, on SQLite, for the database)
        first.commit()
        racing.join()
    assert answers == ["id: technician NEW was created by another request just now: send it again"]
    assert put_tech(client, technician(), "NEW").status_code == 200
