"""A dispatcher plans and publishes; an installer fetches the day and reports."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import DISPATCHER, SAMPLE_DAY, auth, run_plan

pytestmark = pytest.mark.clock


def test_a_dispatcher_plans_publishes_and_an_installer_sees_only_their_own_jobs(client: TestClient) -> None:
    plan = run_plan(client)
    assert plan["status"] == "done"
    routes = plan["routes"]
    assert isinstance(routes, list) and routes
    served = {v["job_id"] for r in routes for v in r["visits"]}
    unassigned = {u["job_id"] for u in plan["unassigned"]}  # type: ignore[attr-defined]
    jobs = client.get("/v1/jobs", params={"date": SAMPLE_DAY}, headers=DISPATCHER).json()
    assert served | unassigned == {j["id"] for j in jobs}
    published = client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER)
    assert published.status_code == 200 and published.json()["published"] is True

    busy = next(r for r in routes if r["visits"])
    token = client.post(
        "/v1/tokens", json={"role": "installer", "technician_id": busy["technician_id"]}, headers=DISPATCHER
    ).json()["token"]
    mine = client.get("/v1/me/jobs", params={"date": SAMPLE_DAY}, headers=auth(token)).json()
    assert [m["job_id"] for m in mine] == [v["job_id"] for v in busy["visits"]]
    assert all(m["customer"]["name"] for m in mine)

    own = {m["job_id"] for m in mine}  # a crew job is on both routes, so it is not foreign
    foreign = next(v["job_id"] for r in routes for v in r["visits"] if v["job_id"] not in own)
    refused = client.post(f"/v1/jobs/{foreign}/events", json={"type": "arrived"}, headers=auth(token))
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    ok = client.post(f"/v1/jobs/{mine[0]['job_id']}/events", json={"type": "arrived"}, headers=auth(token))
    assert ok.status_code == 201

    feed = client.get("/v1/me/calendar.ics", headers=auth(token))
    assert feed.status_code == 200
    assert feed.text.startswith("BEGIN:VCALENDAR")


def test_a_request_without_a_token_is_refused_as_a_problem(client: TestClient) -> None:
    response = client.get("/v1/technicians")
    assert response.status_code == 401
    assert response.json()["title"] == "Unauthorized"


def test_a_negative_duration_names_the_field_and_writes_nothing(client: TestClient) -> None:
    body = {"location": {"lat": 60.17, "lon": 24.94}, "duration_min": -5, "date": "2026-12-01"}
    response = client.put("/v1/jobs/NEW1", json=body, headers=DISPATCHER)
    assert response.status_code == 422
    assert response.json()["field"] == "duration_min"
    assert client.get("/v1/jobs/NEW1", headers=DISPATCHER).status_code == 404
