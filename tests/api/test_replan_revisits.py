"""Re-planning a disrupted day (issue 18; docs/replan.md, docs/live-day.md), on SQLite
and PostgreSQL: a visit failed for missing parts is not planned again before its parts
can be there, and a whole-day plan made while the day is under way is not published
(a re-plan from now is). Apart from tests/api/test_replan.py so that the two files
run on different test workers."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from fastapi.testclient import TestClient

from api import create_app
from dispatch.clock import Clock
from tests.api.conftest import DISPATCHER, run_plan, settings_for
from tests.api.test_booking import DAY, at
from tests.api.test_replan import event, install, installers, instant, replan, visits

pytestmark = pytest.mark.clock


@pytest.mark.parametrize(("reason", "again_today"), [("parts_missing", False), ("customer_absent", True)])
def test_a_visit_failed_for_missing_parts_is_not_planned_again_the_same_day(
    database_url: str, reason: str, again_today: bool
) -> None:
    """One installer, one morning install that fails at 09:30: for missing parts the
    revisit waits 24 hours for them (its release says so and a re-plan of the afternoon
    leaves it out, saying when); a customer who was not at home can be visited again
    that afternoon."""
    app = create_app(settings_for(database_url, seed=False))
    with TestClient(app) as client:
        installers(client, "W1")
        install(client, "FIT", (60.18, 24.95), 60, ("08:00", "16:00"))
        plan = run_plan(client, DAY.isoformat(), time_limit_s=1)
        assert plan["status"] == "done" and not plan["unassigned"], plan
        assert client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER).status_code == 200
        event(client, "FIT", "arrived", at(DAY, "09:00"))
        failed = client.post(
            "/v1/jobs/FIT/events", json={"type": "failed", "reason": reason, "at": at(DAY, "09:30")}, headers=DISPATCHER
        )
        assert failed.status_code == 201, failed.text
        release = client.get("/v1/jobs/FIT", headers=DISPATCHER).json()["release_at"]
        again = replan(client, at(DAY, "11:00"))
        assert again["status"] == "done", again
        if again_today:
            assert release is None
            assert "FIT" in visits(again), again
            return
        assert instant(release) == instant(at(DAY, "09:30")) + dt.timedelta(hours=24)
        (left,) = again["unassigned"]
        assert (left["job_id"], left["code"]) == ("FIT", "released_too_late"), left
        assert "09:30 the next day" in left["reason"], left


def test_a_whole_day_plan_made_while_the_day_is_under_way_is_not_published_and_a_re_plan_from_now_is(
    database_url: str,
) -> None:
    """At 11:00 on the day: the plan published late that morning is under way (the first
    install done), the second, due 09:00-10:00, not reported. A whole-day run plans that
    one before now again, and publishing it would tell its customer a time already gone,
    so it is refused naming it; a re-plan from 11:00 plans the rest from then on and is
    published."""
    settings = dataclasses.replace(settings_for(database_url, seed=False), clock=Clock(instant(at(DAY, "11:00"))))
    with TestClient(create_app(settings)) as client:
        installers(client, "W1")
        install(client, "FIRST", (60.18, 24.95), 60, ("08:00", "08:30"))
        install(client, "MORNING", (60.18, 24.97), 60, ("09:00", "10:00"))
        install(client, "LATE", (60.18, 24.96), 60, ("14:00", "16:00"))
        late_morning = run_plan(client, DAY.isoformat(), time_limit_s=1)
        assert late_morning["status"] == "done" and not late_morning["unassigned"], late_morning
        # Nothing reported yet: a plan published late is published (its technicians adapt).
        assert client.post(f"/v1/plans/{late_morning['id']}/publish", headers=DISPATCHER).status_code == 200
        first = visits(late_morning)["FIRST"][1]
        event(client, "FIRST", "arrived", first["arrival"])
        event(client, "FIRST", "completed", first["end"])

        whole = run_plan(client, DAY.isoformat(), time_limit_s=1)
        assert whole["status"] == "done", whole
        morning = visits(whole)["MORNING"][1]
        assert instant(morning["start"]) < instant(at(DAY, "10:01")), morning
        refused = client.post(f"/v1/plans/{whole['id']}/publish", headers=DISPATCHER)
        assert refused.status_code == 409, refused.text
        detail = refused.json()["detail"]
        assert refused.json()["field"] == "plan_id" and "it starts 1 visits not yet begun" in detail, detail
        assert f"MORNING at {instant(morning['start']):%H:%M}" in detail and "re-plan it from now" in detail, detail
        assert client.get(f"/v1/plans/{whole['id']}", headers=DISPATCHER).json()["published"] is False
        again = replan(client, at(DAY, "11:00"))
        assert again["status"] == "done" and [u["job_id"] for u in again["unassigned"]] == ["MORNING"], again
        later = [v for job_id, (_, v) in visits(again).items() if job_id != "FIRST"]
        assert later and all(instant(v["start"]) >= instant(at(DAY, "11:00")) for v in later), again
        assert client.post(f"/v1/plans/{again['id']}/publish", headers=DISPATCHER).status_code == 200
