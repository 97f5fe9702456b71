"""Dependencies between jobs through the API (issue 20): a job waits for another
(``depends_on``: a job id, or ``{"job_id", "min_lag_hours", "max_lag_hours"}``) and is
never planned, offered or booked before that job's end plus the lag."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from tests.api.conftest import DISPATCHER, auth, run_plan, settings_for
from tests.conftest import seeded_day

DAY = "2026-12-01"
NEXT = "2026-12-02"
T = "{}T{}:00+02:00"
TECH = {
    "name": "Ville Asentaja",
    "home": {"lat": 60.2, "lon": 24.9},
    "skills": {"wardrobe": 2},
    "shifts": [{"date": d, "start": "08:00", "end": "18:00"} for d in (DAY, NEXT)],
}


def job(date: str, **fields: Any) -> dict[str, Any]:
    return {"date": date, "location": {"lat": 60.17, "lon": 24.94}, "duration_min": 60, **fields}


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    """An empty service (no sample day) with one technician working both days."""
    app = create_app(settings_for(database_url, seed=False))
    with TestClient(app) as c:
        assert c.put("/v1/technicians/T1", json=TECH, headers=DISPATCHER).status_code == 201
        yield c


def put(client: TestClient, job_id: str, body: dict[str, Any]) -> Any:
    return client.put(f"/v1/jobs/{job_id}", json=body, headers=DISPATCHER)


def visit(plan: dict[str, Any], job_id: str) -> dict[str, Any]:
    return next(v for r in plan["routes"] for v in r["visits"] if v["job_id"] == job_id)


def unassigned(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {u["job_id"]: u for u in plan["unassigned"]}


def test_an_install_depending_on_a_measure_at_14_is_planned_after_the_measure_ends(client: TestClient) -> None:
    """The tester's reproduction: before, the install went at 10:00, before its own measure at 14:00."""
    window = {"start": T.format(DAY, "14:00"), "end": T.format(DAY, "14:00")}
    assert put(client, "M", job(DAY, kind="measure", windows=[window])).status_code == 201
    assert put(client, "I", job(DAY, duration_min=120, depends_on="M")).status_code == 201
    assert client.get("/v1/jobs/I", headers=DISPATCHER).json()["depends_on"] == {
        "job_id": "M",
        "min_lag_hours": 0.0,
        "max_lag_hours": None,
    }
    plan = run_plan(client, DAY)
    assert plan["status"] == "done", plan
    assert moment(visit(plan, "I")["start"]) >= moment(visit(plan, "M")["end"]) == moment(T.format(DAY, "15:00"))


def test_an_install_on_the_next_day_waits_for_the_published_plan_of_the_measures_day(client: TestClient) -> None:
    window = {"start": T.format(DAY, "13:00"), "end": T.format(DAY, "14:00")}
    assert put(client, "M", job(DAY, kind="measure", windows=[window])).status_code == 201
    lags = {"job_id": "M", "min_lag_hours": 20, "max_lag_hours": 30}
    assert put(client, "I", job(NEXT, duration_min=120, depends_on=lags)).status_code == 201
    assert client.get("/v1/jobs/I", headers=DISPATCHER).json()["depends_on"] == {
        "job_id": "M",
        "min_lag_hours": 20.0,
        "max_lag_hours": 30.0,
    }

    early = run_plan(client, NEXT)
    assert early["status"] == "done"
    waiting = unassigned(early)["I"]
    assert waiting["code"] == "dependency_not_met" and "Waits for job M" in waiting["reason"]

    measure_day = run_plan(client, DAY)
    assert client.post(f"/v1/plans/{measure_day['id']}/publish", headers=DISPATCHER).status_code == 200
    measured = moment(visit(measure_day, "M")["end"])
    plan = run_plan(client, NEXT)
    assert plan["status"] == "done"
    start = moment(visit(plan, "I")["start"])
    assert measured + dt.timedelta(hours=20) <= start <= measured + dt.timedelta(hours=30)


def test_a_lag_that_leaves_nothing_of_the_day_holds_the_job_back_saying_from_when(client: TestClient) -> None:
    window = {"start": T.format(DAY, "15:00"), "end": T.format(DAY, "15:00")}
    assert put(client, "M", job(DAY, kind="measure", windows=[window])).status_code == 201
    assert put(client, "I", job(NEXT, depends_on={"job_id": "M", "min_lag_hours": 48})).status_code == 201
    measure_day = run_plan(client, DAY)
    assert client.post(f"/v1/plans/{measure_day['id']}/publish", headers=DISPATCHER).status_code == 200
    held = unassigned(run_plan(client, NEXT))["I"]
    assert held["code"] == "dependency_not_met"
    assert "may start only from 2026-12-03 16:00" in held["reason"]


def test_a_cycle_of_dependencies_is_refused_naming_the_field(client: TestClient) -> None:
    assert put(client, "A", job(DAY)).status_code == 201
    assert put(client, "B", job(DAY, depends_on="A")).status_code == 201
    refused = put(client, "A", job(DAY, depends_on="B"))
    assert refused.status_code == 422
    assert refused.json()["field"] == "depends_on.job_id"
    assert "A -> B -> A" in refused.json()["detail"]
    assert client.get("/v1/jobs/A", headers=DISPATCHER).json()["depends_on"] is None


def test_a_preferred_window_beyond_what_a_plan_of_the_jobs_date_covers_is_refused(client: TestClient) -> None:
    later = {"start": "2026-12-04T09:00:00+02:00", "end": "2026-12-04T10:00:00+02:00"}
    refused = put(client, "P", job(DAY, preferred_window=later))
    assert refused.status_code == 422
    assert refused.json()["field"] == "preferred_window"
    assert client.get("/v1/jobs/P", headers=DISPATCHER).status_code == 404


def test_slots_for_a_dependent_job_start_after_the_measure_plus_its_lag_and_none_before_it_is_planned(
    client: TestClient,
) -> None:
    """On days to come (the next working day after the suite's today, and the day after)."""
    first = seeded_day()
    days = (first.isoformat(), (first + dt.timedelta(days=1)).isoformat())
    shifts = [{"date": d, "start": "08:00", "end": "18:00"} for d in days]
    assert client.put("/v1/technicians/T1", json={**TECH, "shifts": shifts}, headers=DISPATCHER).status_code == 200
    window = {"start": T.format(days[0], "09:00"), "end": T.format(days[0], "09:00")}
    assert put(client, "M", job(days[0], kind="measure", windows=[window])).status_code == 201
    booking = auth(client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"])
    wanted = {
        "location": {"lat": 60.17, "lon": 24.94},
        "duration_min": 60,
        "skills": {"wardrobe": 1},
        "date_from": days[0],
        "date_to": days[1],
        "depends_on": {"job_id": "M", "min_lag_hours": 3},
    }
    none = client.post("/v1/slots/search", json=wanted, headers=booking)
    assert none.status_code == 200, none.text
    assert none.json()["slots"] == []
    assert [u["code"] for u in none.json()["unavailable"]] == ["dependency_not_met"]

    measure_day = run_plan(client, days[0])
    assert client.post(f"/v1/plans/{measure_day['id']}/publish", headers=DISPATCHER).status_code == 200
    ready = moment(visit(measure_day, "M")["end"]) + dt.timedelta(hours=3)
    found = client.post("/v1/slots/search", json=wanted, headers=booking).json()
    assert found["slots"]
    assert all(moment(s["start"]) >= ready for s in found["slots"])
    assert any(u["code"] == "dependency_not_met" for u in found["unavailable"])

    too_early = {"start": T.format(days[0], "10:00"), "end": T.format(days[0], "11:00")}
    body = {k: v for k, v in wanted.items() if k not in ("date_from", "date_to")}
    refused = client.post(
        "/v1/bookings", json={**body, "slot": too_early}, headers={**booking, "Idempotency-Key": "dep-1"}
    )
    assert refused.status_code == 409 and "waits for job M" in refused.json()["detail"]
    slot = {"start": found["slots"][0]["start"], "end": found["slots"][0]["end"]}
    booked = client.post("/v1/bookings", json={**body, "slot": slot}, headers={**booking, "Idempotency-Key": "dep-2"})
    assert booked.status_code == 201, booked.text
    stored = client.get(f"/v1/jobs/{booked.json()['job_id']}", headers=DISPATCHER).json()
    assert stored["depends_on"]["job_id"] == "M"
