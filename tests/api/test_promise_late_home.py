"""A re-plan keeps a promise by letting its technician drive home late (docs/model.md,
"A promise's late way home"), on SQLite and PostgreSQL: the promised visit still ends
in the working time, the way home runs past it, and nothing else uses the allowance."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient

from api import create_app
from dispatch.mapping import PROMISE_LATE_HOME_S
from tests.api.conftest import DISPATCHER, run_plan, settings_for
from tests.api.test_booking import CUSTOMER, DAY, at, technician

SITE = {"lat": 60.19, "lon": 24.97}


def _glass(duration_min: int, window: tuple[str, str], confirmed: bool) -> dict[str, Any]:
    return {
        "kind": "install",
        "location": SITE,
        "duration_min": duration_min,
        "skills": {"glass": 1},
        "date": DAY.isoformat(),
        "customer": CUSTOMER,
        "windows": [{"start": at(DAY, window[0]), "end": at(DAY, window[1])}],
        "confirmed": confirmed,
    }


def test_a_re_plan_keeps_a_promise_after_an_overrun_with_its_technician_home_late(database_url: str) -> None:
    app = create_app(settings_for(database_url, seed=False))
    with TestClient(app) as client:
        # W4 alone fits glass (08:00-16:00, no overtime); G0 and G1 are at the same
        # address, G1 (90 min) promised 14:00-15:00.
        w4 = technician((60.16, 24.93), {"glass": 1}, [DAY])
        assert client.put("/v1/technicians/W4", json=w4, headers=DISPATCHER).status_code == 201
        for job_id, body in (
            ("G0", _glass(60, ("12:00", "13:00"), False)),
            ("G1", _glass(90, ("14:00", "15:00"), True)),
        ):
            assert client.put(f"/v1/jobs/{job_id}", json=body, headers=DISPATCHER).status_code == 201, job_id
        published = run_plan(client, DAY.isoformat(), time_limit_s=2)
        assert published["status"] == "done" and not published["unassigned"], published
        assert client.post(f"/v1/plans/{published['id']}/publish", headers=DISPATCHER).status_code == 200
        # W4 is at G0 from 12:00 and calls in that it ends at 14:30: G1 can start at
        # 14:30 and ends at 16:00, the end of W4's day; the drive home is after it.
        arrived = client.post(
            "/v1/jobs/G0/events", json={"type": "arrived", "at": at(DAY, "12:00")}, headers=DISPATCHER
        )
        assert arrived.status_code == 201, arrived.text
        overrun = {"type": "overrun", "job_id": "G0", "expected_end": at(DAY, "14:30")}
        assert client.post("/v1/disruptions", json=overrun, headers=DISPATCHER).status_code == 201

        plan: dict[str, Any] = dict(run_plan(client, DAY.isoformat(), time_limit_s=2, replan_from=at(DAY, "13:30")))

        assert plan["status"] == "done", plan
        route = next(r for r in plan["routes"] if r["technician_id"] == "W4")
        g1 = next(v for v in route["visits"] if v["job_id"] == "G1")
        assert dt.datetime.fromisoformat(g1["start"]) == dt.datetime.fromisoformat(at(DAY, "14:30"))
        shift_end = dt.datetime.fromisoformat(at(DAY, "16:00"))
        home = dt.datetime.fromisoformat(route["return"])
        assert dt.datetime.fromisoformat(g1["end"]) <= shift_end < home
        assert home - shift_end <= dt.timedelta(seconds=PROMISE_LATE_HOME_S)
        assert route["visits"][-1]["job_id"] == "G1"
