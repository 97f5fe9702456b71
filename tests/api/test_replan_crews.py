"""Re-planning a crew job one of whose two technicians falls ill (issue 18; docs/replan.md,
"A crew whose partner is not coming"), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlmodel import Session

from api import create_app
from dispatch.eta_watch import tell_eta_moves
from tests.api.conftest import DISPATCHER, auth, run_plan, settings_for
from tests.api.test_booking import CUSTOMER, DAY, at, technician
from tests.api.test_replan import HOMES, installers, instant, replan


def crew_of(plan: dict[str, Any], job_id: str) -> set[str]:
    return {r["technician_id"] for r in plan["routes"] for v in r["visits"] if v["job_id"] == job_id}


CREW = {
    "kind": "install",
    "location": {"lat": 60.19, "lon": 24.95},
    "duration_min": 120,
    "skills": {"wardrobe": 1},
    "crew_size": 2,
    "date": DAY.isoformat(),
    "customer": CUSTOMER,
    "windows": [{"start": at(DAY, "11:00"), "end": at(DAY, "12:00")}],
}


def published_crew(client: TestClient, **extra: Any) -> dict[str, Any]:
    """Three wardrobe installers and a two-person install (11:00-12:00 on DAY), planned
    and published; the plan."""
    installers(client, "W1", "W2", "W3")
    assert client.put("/v1/jobs/CREW", json={**CREW, **extra}, headers=DISPATCHER).status_code == 201
    plan = run_plan(client, DAY.isoformat(), time_limit_s=1)
    assert plan["status"] == "done" and not plan["unassigned"], plan
    assert client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER).status_code == 200
    return plan


def on_the_way(client: TestClient, technician_id: str) -> None:
    """``technician_id`` reports, with their own token, on the way to CREW at 10:30."""
    token = client.post("/v1/tokens", json={"role": "installer", "technician_id": technician_id}, headers=DISPATCHER)
    sent = client.post(
        "/v1/jobs/CREW/events", json={"type": "en_route", "at": at(DAY, "10:30")}, headers=auth(token.json()["token"])
    )
    assert sent.status_code == 201, sent.text


def test_a_crew_whose_partner_falls_ill_keeps_the_one_on_the_way_and_gets_another_partner(database_url: str) -> None:
    """A two-person install promised 11:00-12:00. At 10:30 one of its crew reports on the
    way; at 10:40 the other is reported unavailable for the rest of the day, without
    having set out. The re-plan from 10:45 keeps the one on the way on it and gives it
    the third installer, inside the promise; the change report says the crew changed.
    (Before, the job counted as under way for both, and the re-plan kept the absent
    technician on it.)"""
    with TestClient(create_app(settings_for(database_url, seed=False))) as client:
        plan = published_crew(client, confirmed=True)
        reporter, ill = sorted(crew_of(plan, "CREW"))
        (third,) = {"W1", "W2", "W3"} - {reporter, ill}
        on_the_way(client, reporter)
        away = {"type": "technician_unavailable", "technician_id": ill, "from": at(DAY, "10:40")}
        assert client.post("/v1/disruptions", json=away, headers=DISPATCHER).status_code == 201
        again = replan(client, at(DAY, "10:45"))
        assert again["status"] == "done", again
        assert crew_of(again, "CREW") == {reporter, third}, again["routes"]
        starts = {instant(v["start"]) for r in again["routes"] for v in r["visits"] if v["job_id"] == "CREW"}
        assert len(starts) == 1 and instant(at(DAY, "11:00")) <= starts.pop() <= instant(at(DAY, "12:00"))
        assert {"job_id": "CREW", "from_technician_id": ill, "to_technician_id": third} in again["changes"]["moved"]
        assert client.post(f"/v1/plans/{again['id']}/publish", headers=DISPATCHER).status_code == 200


@pytest.mark.parametrize("how", ["an absence stored on their record", "their shift taken away"])
def test_a_crew_whose_partner_no_longer_works_that_day_keeps_the_one_on_the_way_and_gets_another_partner(
    database_url: str, how: str
) -> None:
    """As for a partner reported ill, when the partner's working day is changed on their
    record instead. Before, the re-plan kept them on the crew job (a crew of one in the
    plan, the job still in their list)."""
    with TestClient(create_app(settings_for(database_url, seed=False))) as client:
        plan = published_crew(client)
        reporter, gone = sorted(crew_of(plan, "CREW"))
        (third,) = {"W1", "W2", "W3"} - {reporter, gone}
        on_the_way(client, reporter)
        body = technician(HOMES[gone], {"wardrobe": 2}, [DAY])
        if how.startswith("an absence"):
            body["absences"] = [{"start": at(DAY, "00:00"), "end": at(DAY + dt.timedelta(days=1), "00:00")}]
        else:
            body["shifts"] = []
        assert client.put(f"/v1/technicians/{gone}", json=body, headers=DISPATCHER).status_code == 200
        again = replan(client, at(DAY, "10:45"))
        assert again["status"] == "done", again
        assert crew_of(again, "CREW") == {reporter, third}, again["routes"]
        assert client.post(f"/v1/plans/{again['id']}/publish", headers=DISPATCHER).status_code == 200


def test_a_whole_day_run_keeps_the_one_of_a_crew_on_the_way_on_it(
    database_url: str,
) -> None:
    """W3 was given the crew job by a pin and is on the way; the pin is then lifted and
    W3's home moved far away. Before, a whole-day run gave the job to the two nearest and
    was published (the other partner being kept was taken for the one on the way)."""
    with TestClient(create_app(settings_for(database_url, seed=False))) as client:
        plan = published_crew(client, pinned_technician_id="W3")
        assert "W3" in crew_of(plan, "CREW"), plan
        on_the_way(client, "W3")
        assert client.put("/v1/jobs/CREW", json=CREW, headers=DISPATCHER).status_code == 200
        far = technician((60.30, 24.60), {"wardrobe": 2}, [DAY])  # (their day starts from far away)
        assert client.put("/v1/technicians/W3", json=far, headers=DISPATCHER).status_code == 200
        again = run_plan(client, DAY.isoformat(), time_limit_s=1)
        assert again["status"] == "done" and "W3" in crew_of(again, "CREW"), again["routes"]
        assert client.post(f"/v1/plans/{again['id']}/publish", headers=DISPATCHER).status_code == 200


def test_the_live_day_shows_each_of_a_crew_where_their_own_reports_put_them(database_url: str) -> None:
    """One of the crew on the way: the live day shows them on the way and their partner's
    visit still to come, with an ETA, as the partner's own job list does. Before, both
    read as on the way (the job's status) and the partner had no ETA."""
    with TestClient(create_app(settings_for(database_url, seed=False))) as client:
        reporter, partner = sorted(crew_of(published_crew(client), "CREW"))
        on_the_way(client, reporter)
        live = client.get("/v1/live", params={"date": DAY.isoformat()}, headers=DISPATCHER).json()
        shown = {t["technician_id"]: v for t in live["technicians"] for v in t["visits"] if v["job_id"] == "CREW"}
        assert (shown[reporter]["status"], shown[reporter]["state"]) == ("en_route", "under_way"), shown
        assert (shown[partner]["status"], shown[partner]["state"]) == ("scheduled", "next"), shown
        assert shown[partner]["eta"] is not None, shown


def test_a_crews_customer_is_told_the_first_of_the_two_to_arrive_and_no_arrival_once_one_is_there(
    database_url: str,
) -> None:
    """One of the crew reports on the way at 10:30; the partner reports running late from
    far away, so their own arrival slips past noon. The customer's status and the feed
    give the first arrival: nobody is told the partner's. Once the
    first is there, the status has no ETA. Before, the one on the way was left out: the
    customer heard the partner's late arrival, and the status kept it after the arrival."""
    with TestClient(create_app(settings_for(database_url, seed=False))) as client:
        plan = published_crew(client)
        reporter, partner = sorted(crew_of(plan, "CREW"))
        planned = min(instant(v["arrival"]) for r in plan["routes"] for v in r["visits"] if v["job_id"] == "CREW")
        late = {"type": "running_late", "technician_id": partner, "at": at(DAY, "10:20")}
        late["location"] = {"lat": 60.45, "lon": 24.40}
        assert client.post("/v1/disruptions", json=late, headers=DISPATCHER).status_code == 201
        on_the_way(client, reporter)
        now = instant(at(DAY, "10:35"))
        live = client.get("/v1/live", params={"date": DAY.isoformat(), "at": now.isoformat()}, headers=DISPATCHER)
        etas = {t["technician_id"]: v["eta"] for t in live.json()["technicians"] for v in t["visits"]}
        assert instant(etas[partner]) > instant(etas[reporter]) + dt.timedelta(minutes=30), etas
        engine = client.app.state.dispatch.engine  # type: ignore[attr-defined]
        with Session(engine) as session:
            told = tell_eta_moves(session, DAY, "helsinki", ZoneInfo("Europe/Helsinki"), now, 15)
            session.commit()
        events = client.get("/v1/events", params={"limit": 1000}, headers=DISPATCHER).json()["events"]
        heard = [instant(e["data"]["eta"]) for e in events if e["type"] == "job.eta" and e["job_id"] == "CREW"]
        assert heard == [instant(etas[reporter])] * len(told), (heard, etas)
        with time_machine.travel(now, tick=False):
            status = client.get("/v1/jobs/CREW/status", headers=DISPATCHER).json()
            assert abs(instant(status["eta"]) - instant(etas[reporter])) < dt.timedelta(minutes=1), status
            assert instant(status["eta"]) < planned + dt.timedelta(minutes=15), status
        token = client.post("/v1/tokens", json={"role": "installer", "technician_id": reporter}, headers=DISPATCHER)
        arrived = {"type": "arrived", "at": at(DAY, "10:50")}
        assert client.post("/v1/jobs/CREW/events", json=arrived, headers=auth(token.json()["token"])).status_code == 201
        with time_machine.travel(instant(at(DAY, "10:55")), tick=False):
            assert client.get("/v1/jobs/CREW/status", headers=DISPATCHER).json()["eta"] is None


def test_a_crew_whose_partner_is_well_stays_as_it_was_when_one_of_them_is_on_the_way(database_url: str) -> None:
    """The same crew job, one of the two on the way, nobody ill: a re-plan from 10:45
    keeps both on it (the job is under way)."""
    with TestClient(create_app(settings_for(database_url, seed=False))) as client:
        crew = crew_of(published_crew(client), "CREW")
        on_the_way(client, min(crew))
        again = replan(client, at(DAY, "10:45"))
        assert again["status"] == "done" and crew_of(again, "CREW") == crew, again


def test_each_of_a_crew_sees_their_own_visit_as_they_reported_it_and_the_end_of_the_job_as_both_s(
    database_url: str,
) -> None:
    """One of the crew arrives; the other's phone still shows the visit to come (not
    on site, where they are not), until they report themselves; the completion, by
    either, ends it for both."""
    with TestClient(create_app(settings_for(database_url, seed=False))) as client:
        plan = published_crew(client)
        first, second = sorted(crew_of(plan, "CREW"))
        phones = {
            t: auth(
                client.post("/v1/tokens", json={"role": "installer", "technician_id": t}, headers=DISPATCHER).json()[
                    "token"
                ]
            )
            for t in (first, second)
        }

        def status(technician_id: str) -> str:
            mine = client.get("/v1/me/jobs", params={"date": DAY.isoformat()}, headers=phones[technician_id]).json()
            return str(next(v["status"] for v in mine if v["job_id"] == "CREW"))

        def report(technician_id: str, kind: str, hhmm: str) -> None:
            sent = client.post(
                "/v1/jobs/CREW/events", json={"type": kind, "at": at(DAY, hhmm)}, headers=phones[technician_id]
            )
            assert sent.status_code == 201, sent.text

        report(first, "en_route", "10:30")
        report(first, "arrived", "10:55")
        assert (status(first), status(second)) == ("on_site", "scheduled")
        report(second, "en_route", "10:50")
        assert (status(first), status(second)) == ("on_site", "en_route")
        report(second, "arrived", "11:05")
        report(first, "completed", "13:05")
        assert (status(first), status(second)) == ("completed", "completed")
