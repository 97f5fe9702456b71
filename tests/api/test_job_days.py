"""Jobs that may go on any day of a range, prefer a day, or take several days (issue 20):
stored and shown as sent, refused with the field named when inconsistent, and what a
one-day plan does with them (a range job goes on its date with that day's windows; a job
of several days waits for a plan over several days, with that reason)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from tests.api.conftest import DISPATCHER, run_plan, settings_for

DAYS = ["2026-12-07", "2026-12-08", "2026-12-09"]
T = "{}T{}:00+02:00"
TECH = {
    "name": "Ville Asentaja",
    "home": {"lat": 60.2, "lon": 24.9},
    "skills": {"wardrobe": 2},
    "shifts": [{"date": d, "start": "08:00", "end": "16:00"} for d in DAYS],
}


def job(**fields: Any) -> dict[str, Any]:
    return {"location": {"lat": 60.17, "lon": 24.94}, "duration_min": 60, **fields}


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    """An empty service (no sample day) with one technician working three days."""
    app = create_app(settings_for(database_url, seed=False))
    with TestClient(app) as c:
        assert c.put("/v1/technicians/T1", json=TECH, headers=DISPATCHER).status_code == 201
        yield c


def put(client: TestClient, job_id: str, body: dict[str, Any]) -> Any:
    return client.put(f"/v1/jobs/{job_id}", json=body, headers=DISPATCHER)


def test_a_job_with_a_date_range_a_preferred_date_and_days_reads_back_as_sent(client: TestClient) -> None:
    body = job(date_range={"from": DAYS[0], "to": DAYS[2]}, preferred_date=DAYS[1], days=2)
    assert put(client, "K", body).status_code == 201
    got = client.get("/v1/jobs/K", headers=DISPATCHER).json()
    assert got["date_range"] == {"from": DAYS[0], "to": DAYS[2]}
    assert (got["preferred_date"], got["days"]) == (DAYS[1], 2)
    assert got["date"] == DAYS[1], "without a date, one-day plans put it on its preferred date"


def test_a_job_without_a_date_goes_on_the_first_day_of_its_range(client: TestClient) -> None:
    assert put(client, "R", job(date_range={"from": DAYS[1], "to": DAYS[2]})).status_code == 201
    got = client.get("/v1/jobs/R", headers=DISPATCHER).json()
    assert (got["date"], got["preferred_date"], got["days"]) == (DAYS[1], None, 1)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"date_range": {"from": DAYS[2], "to": DAYS[0]}}, "date_range.to"),
        ({"date_range": {"from": "2026-12-01", "to": "2026-12-15"}}, "date_range.to"),
        ({"date_range": {"from": DAYS[0], "to": DAYS[1]}, "preferred_date": DAYS[2]}, "preferred_date"),
        ({"date_range": {"from": DAYS[1], "to": DAYS[2]}, "date": DAYS[0]}, "date"),
        ({"date": DAYS[0], "preferred_date": DAYS[1]}, "preferred_date"),
        ({"date": DAYS[0], "days": 0}, "days"),
        ({"date": DAYS[0], "days": 15}, "days"),
        ({"date_range": {"from": DAYS[0]}}, "date_range.to"),
        # A window on one of its two days: no plan could keep it (before: stored, then
        # left out of every plan as "only 1 of its days lie between").
        (
            {
                "date": DAYS[0],
                "days": 2,
                "windows": [{"start": T.format(DAYS[0], "09:00"), "end": T.format(DAYS[0], "10:00")}],
            },
            "windows",
        ),
    ],
)
def test_an_inconsistent_range_is_refused_naming_the_field_and_stores_nothing(
    client: TestClient, fields: dict[str, Any], named: str
) -> None:
    response = put(client, "X", job(**fields))
    assert response.status_code == 422, response.text
    assert named in response.text
    assert client.get("/v1/jobs/X", headers=DISPATCHER).status_code == 404


def test_a_window_outside_every_day_of_the_range_is_refused_and_one_inside_is_kept(client: TestClient) -> None:
    span = {"from": DAYS[0], "to": DAYS[1]}
    outside = {"start": T.format(DAYS[2], "09:00"), "end": T.format(DAYS[2], "11:00")}
    response = put(client, "W", job(date_range=span, windows=[outside]))
    assert response.status_code == 422 and "windows.0" in response.text
    inside = {"start": T.format(DAYS[1], "09:00"), "end": T.format(DAYS[1], "11:00")}
    assert put(client, "W", job(date_range=span, windows=[inside])).status_code == 201


def test_a_one_day_plan_keeps_only_the_windows_of_its_day(client: TestClient) -> None:
    """A range job is put on its date by one-day plans; its windows on other days of the range
    are not that day's (before, a window on the next day was planned as hours 24-48)."""
    span = {"from": DAYS[0], "to": DAYS[1]}
    windows = [
        {"start": T.format(DAYS[0], "13:00"), "end": T.format(DAYS[0], "14:00")},
        {"start": T.format(DAYS[1], "08:00"), "end": T.format(DAYS[1], "09:00")},
    ]
    assert put(client, "A", job(date_range=span, windows=windows)).status_code == 201
    plan = run_plan(client, DAYS[0])
    assert plan["status"] == "done", plan
    [visit] = [v for r in plan["routes"] for v in r["visits"] if v["job_id"] == "A"]
    assert visit["start"].startswith(f"{DAYS[0]}T13:"), visit


def test_a_one_day_plan_leaves_a_job_whose_windows_are_on_other_days_out_with_that_reason(
    client: TestClient,
) -> None:
    span = {"from": DAYS[0], "to": DAYS[1]}
    window = {"start": T.format(DAYS[1], "08:00"), "end": T.format(DAYS[1], "09:00")}
    assert put(client, "B", job(date=DAYS[0], date_range=span, windows=[window])).status_code == 201
    plan = run_plan(client, DAYS[0])
    [left] = [u for u in plan["unassigned"] if u["job_id"] == "B"]
    assert left["code"] == "no_shift_in_window" and DAYS[0] in left["reason"]


def test_a_job_of_two_days_waits_for_a_plan_over_several_days_and_so_does_what_depends_on_it(
    client: TestClient,
) -> None:
    assert put(client, "K", job(date=DAYS[0], days=2, duration_min=420)).status_code == 201
    assert put(client, "F", job(date=DAYS[0], depends_on="K")).status_code == 201
    assert put(client, "S", job(date=DAYS[0])).status_code == 201
    plan = run_plan(client, DAYS[0])
    assert plan["status"] == "done", plan
    left = {u["job_id"]: u for u in plan["unassigned"]}
    assert left["K"]["code"] == "needs_horizon" and "2 consecutive days" in left["K"]["reason"]
    assert left["F"]["code"] == "dependency_not_met"
    assert [v["job_id"] for r in plan["routes"] for v in r["visits"]] == ["S"]
