"""Estimated arrival, the customer-facing status and the live day over the API
(docs/live-day.md, "Estimated arrival"), on SQLite and on PostgreSQL.

One technician, Aino, works a day a week from now: two plain jobs and two booked
ones (by two booking tokens), planned and published. Where "now" matters the test
freezes the service clock at an instant of that day (time-machine): nothing here
reads the wall clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import time_machine
from fastapi.testclient import TestClient
from sqlmodel import Session

from api import create_app
from dispatch.eta_watch import tell_eta_moves
from tests.api.conftest import DISPATCHER, auth, run_plan, settings_for
from tests.conftest import HELSINKI, today

DAY = today() + dt.timedelta(days=7)
NEXT_DAY = DAY + dt.timedelta(days=1)
MIN = dt.timedelta(minutes=1)


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=HELSINKI)


def instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


TECH = {
    "name": "Aino Virtanen",
    "home": {"lat": 60.17, "lon": 24.94},
    "skills": {"wardrobe": 1},
    "shifts": [
        {"date": DAY.isoformat(), "start": "08:00", "end": "17:00"},
        {"date": NEXT_DAY.isoformat(), "start": "08:00", "end": "17:00"},
    ],
}


def job(lat: float, lon: float) -> dict[str, Any]:
    return {"location": {"lat": lat, "lon": lon}, "duration_min": 60, "date": DAY.isoformat()}


def booking(day: dt.date, start: int, lat: float, lon: float) -> dict[str, Any]:
    return {
        "location": {"lat": lat, "lon": lon},
        "duration_min": 20,
        "skills": {"wardrobe": 1},
        "slot": {"start": local(day, start).isoformat(), "end": local(day, start + 2).isoformat()},
        "customer": {"name": "A. Customer", "phone": "+358 40 123 4567"},
    }


@dataclass
class World:
    client: TestClient
    visits: list[dict[str, Any]]
    own: dict[str, str]
    other: dict[str, str]
    own_job: str
    other_job: str
    unplanned_job: str

    def live(self) -> dict[str, Any]:
        got = self.client.get("/v1/live", params={"date": DAY.isoformat()}, headers=DISPATCHER)
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body

    def visit(self, job_id: str) -> dict[str, Any]:
        [tech] = self.live()["technicians"]
        found: dict[str, Any] = next(v for v in tech["visits"] if v["job_id"] == job_id)
        return found

    def event(self, job_id: str, kind: str, at: dt.datetime) -> None:
        sent = self.client.post(
            f"/v1/jobs/{job_id}/events", json={"type": kind, "at": at.isoformat()}, headers=DISPATCHER
        )
        assert sent.status_code == 201, sent.text


@contextmanager
def aino_s_day(url: str) -> Iterator[World]:
    with TestClient(create_app(settings_for(url, seed=False))) as client:
        assert client.put("/v1/technicians/AINO", json=TECH, headers=DISPATCHER).status_code == 201
        for job_id, place in (("E1", (60.18, 24.95)), ("E2", (60.19, 24.97))):
            assert client.put(f"/v1/jobs/{job_id}", json=job(*place), headers=DISPATCHER).status_code == 201
        tokens = []
        for _ in range(2):
            made = client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER)
            tokens.append(auth(made.json()["token"]))
        booked = []
        for key, headers, body in (
            ("own", tokens[0], booking(DAY, 10, 60.19, 24.92)),
            ("other", tokens[1], booking(DAY, 13, 60.20, 24.93)),
            ("unplanned", tokens[0], booking(NEXT_DAY, 10, 60.19, 24.92)),
        ):
            made = client.post("/v1/bookings", json=body, headers={**headers, "Idempotency-Key": f"eta-{key}"})
            assert made.status_code == 201, made.text
            booked.append(made.json()["job_id"])
        plan = run_plan(client, DAY.isoformat(), time_limit_s=1)
        assert plan["status"] == "done" and not plan["unassigned"], plan
        assert client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER).status_code == 200
        [route] = [r for r in plan["routes"] if r["visits"]]  # type: ignore[union-attr]
        assert len(route["visits"]) == 4
        yield World(client, route["visits"], tokens[0], tokens[1], booked[0], booked[1], booked[2])


def test_without_field_facts_the_eta_is_the_planned_arrival(database_url: str) -> None:
    with aino_s_day(database_url) as w:
        live = w.live()
        assert live["date"] == DAY.isoformat() and live["urgent"] == []
        [tech] = live["technicians"]
        assert (tech["technician_id"], tech["name"]) == ("AINO", "Aino Virtanen")
        assert [v["job_id"] for v in tech["visits"]] == [v["job_id"] for v in w.visits]
        assert [v["state"] for v in tech["visits"]] == ["next", "later", "later", "later"]
        for shown, planned in zip(tech["visits"], w.visits, strict=True):
            assert instant(shown["eta"]) == instant(planned["arrival"])
            assert (shown["delay_min"], shown["at_risk"]) == (0, False)


def test_a_job_finished_late_moves_the_next_visits_later_by_the_right_amount(database_url: str) -> None:
    """The first visit ends 45 minutes late: the second is reached 45 minutes late; the
    third by as much less whatever waiting for a window the second had."""
    with aino_s_day(database_url) as w:
        first, second, third = w.visits[:3]
        w.event(first["job_id"], "arrived", instant(first["arrival"]))
        w.event(first["job_id"], "completed", instant(first["end"]) + 45 * MIN)

        shown = w.visit(second["job_id"])
        assert instant(shown["eta"]) == instant(second["arrival"]) + 45 * MIN
        assert (shown["state"], shown["delay_min"]) == ("next", 45)
        second_start = max(instant(second["arrival"]) + 45 * MIN, instant(second["start"]))
        expected = max(instant(third["arrival"]), second_start + (instant(third["arrival"]) - instant(second["start"])))
        assert instant(w.visit(third["job_id"])["eta"]) == expected
        done = w.visit(first["job_id"])
        assert (done["state"], done["status"], done["eta"]) == ("done", "completed", None)
        assert instant(done["actual_end"]) == instant(first["end"]) + 45 * MIN


def test_a_technician_still_on_site_past_the_planned_end_delays_the_rest(database_url: str) -> None:
    with aino_s_day(database_url) as w:
        first, second = w.visits[:2]
        w.event(first["job_id"], "arrived", instant(first["arrival"]))
        now = instant(first["end"]) + 40 * MIN
        with time_machine.travel(now, tick=False):
            on_site = w.visit(first["job_id"])
            nxt = w.visit(second["job_id"])
        assert (on_site["state"], on_site["status"]) == ("under_way", "on_site")
        assert instant(on_site["expected_end"]) == now
        assert instant(nxt["eta"]) == instant(second["arrival"]) + 40 * MIN
        assert nxt["delay_min"] == 40


def test_a_technician_whose_shift_was_taken_off_stays_in_the_live_day_with_the_work_left_at_risk(
    database_url: str,
) -> None:
    with aino_s_day(database_url) as w:
        first = w.visits[0]
        w.event(first["job_id"], "arrived", instant(first["arrival"]))
        w.event(first["job_id"], "completed", instant(first["end"]))
        without_day = {**TECH, "shifts": [s for s in TECH["shifts"] if s["date"] != DAY.isoformat()]}
        assert w.client.put("/v1/technicians/AINO", json=without_day, headers=DISPATCHER).status_code == 200
        [tech] = w.live()["technicians"]
        assert tech["technician_id"] == "AINO"
        assert [v["job_id"] for v in tech["visits"]] == [v["job_id"] for v in w.visits]
        done, *left = tech["visits"]
        assert (done["state"], done["at_risk"], done["risk"]) == ("done", False, None)
        assert [v["state"] for v in left] == ["next", "later", "later"]
        assert all((v["at_risk"], v["risk"], v["eta"]) == (True, "unavailable", None) for v in left)


def test_the_live_day_as_of_an_instant_is_the_live_day_with_the_clock_there(database_url: str) -> None:
    """``GET /v1/live?at=`` answers what the live day answers when the clock reads
    ``at`` (a replay asks "as of 10:00" without moving the service clock); a bad ``at``
    is a 422 naming it."""
    with aino_s_day(database_url) as w:
        first, second = w.visits[:2]
        w.event(first["job_id"], "arrived", instant(first["arrival"]))
        at = instant(first["end"]) + 40 * MIN
        params = {"date": DAY.isoformat(), "at": at.isoformat()}
        asked = w.client.get("/v1/live", params=params, headers=DISPATCHER)
        assert asked.status_code == 200, asked.text
        with time_machine.travel(at, tick=False):
            clocked = w.client.get("/v1/live", params={"date": DAY.isoformat()}, headers=DISPATCHER)
        assert asked.json() == clocked.json()
        assert instant(asked.json()["now"]) == at
        [tech] = asked.json()["technicians"]
        nxt = next(v for v in tech["visits"] if v["job_id"] == second["job_id"])
        assert instant(nxt["eta"]) == instant(second["arrival"]) + 40 * MIN

        for bad in ("2026-12-01T10:00:00", "tomorrow", "1700000000", "1900-01-01T10:00:00+02:00"):
            refused = w.client.get("/v1/live", params={"date": DAY.isoformat(), "at": bad}, headers=DISPATCHER)
            assert refused.status_code == 422, (bad, refused.text)
            assert refused.json()["field"] == "at", refused.json()


def test_recorded_disruptions_move_the_live_day_an_overrun_the_visit_under_way_and_a_late_report_the_rest(
    database_url: str,
) -> None:
    """The first visit is under way and called in to end 50 minutes late: the live day
    expects it to end then and the second visit 50 minutes late, before the planned end
    is even reached. Then Aino reports being held up far away an hour after that planned
    end: the second visit is reached from there, later still."""
    with aino_s_day(database_url) as w:
        first, second = w.visits[:2]
        w.event(first["job_id"], "arrived", instant(first["arrival"]))
        overrun_end = instant(first["end"]) + 50 * MIN
        called = {"type": "overrun", "job_id": first["job_id"], "expected_end": overrun_end.isoformat()}
        assert w.client.post("/v1/disruptions", json=called, headers=DISPATCHER).status_code == 201

        def live_at(moment: dt.datetime) -> dict[str, dict[str, Any]]:
            params = {"date": DAY.isoformat(), "at": moment.isoformat()}
            [tech] = w.client.get("/v1/live", params=params, headers=DISPATCHER).json()["technicians"]
            return {v["job_id"]: v for v in tech["visits"]}

        soon = live_at(instant(first["arrival"]) + 10 * MIN)
        assert instant(soon[first["job_id"]]["expected_end"]) == overrun_end
        assert instant(soon[second["job_id"]]["eta"]) == instant(second["arrival"]) + 50 * MIN

        held_at = instant(first["end"]) + 60 * MIN
        w.event(first["job_id"], "completed", overrun_end)
        late = {
            "type": "running_late",
            "technician_id": "AINO",
            "at": held_at.isoformat(),
            "location": {"lat": 60.30, "lon": 25.20},
        }
        assert w.client.post("/v1/disruptions", json=late, headers=DISPATCHER).status_code == 201
        later = live_at(held_at)
        eta = instant(later[second["job_id"]]["eta"])
        assert eta > held_at + 15 * MIN and eta > instant(second["arrival"]) + 60 * MIN, later[second["job_id"]]


def test_a_technician_held_up_on_the_way_reaches_that_visit_from_where_they_reported(database_url: str) -> None:
    """Aino set out for her second visit and, ten minutes on, reports being held up far
    away: that visit is reached from there, and the visits after it later too. Before,
    the report was ignored (the visit she was driving to kept its drive from the first)."""
    with aino_s_day(database_url) as w:
        first, second, third = w.visits[:3]
        w.event(first["job_id"], "arrived", instant(first["arrival"]))
        w.event(first["job_id"], "completed", instant(first["end"]))
        w.event(second["job_id"], "en_route", instant(first["end"]))
        held_at = instant(first["end"]) + 10 * MIN
        late = {
            "type": "running_late",
            "technician_id": "AINO",
            "at": held_at.isoformat(),
            "location": {"lat": 60.30, "lon": 25.20},
        }
        stored = w.client.post("/v1/disruptions", json=late, headers=DISPATCHER)
        assert stored.status_code == 201, stored.text
        params = {"date": DAY.isoformat(), "at": held_at.isoformat()}
        [tech] = w.client.get("/v1/live", params=params, headers=DISPATCHER).json()["technicians"]
        live = {v["job_id"]: v for v in tech["visits"]}
        eta = instant(live[second["job_id"]]["eta"])
        assert eta > held_at + 15 * MIN and eta > instant(second["arrival"]) + 15 * MIN, live[second["job_id"]]
        assert instant(live[third["job_id"]]["eta"]) > instant(third["arrival"]), live[third["job_id"]]


def test_the_visits_of_a_technician_made_unavailable_are_at_risk_until_a_re_plan_moves_them(database_url: str) -> None:
    with aino_s_day(database_url) as w:
        first, second = w.visits[:2]
        off = {"type": "technician_unavailable", "technician_id": "AINO", "from": second["arrival"]}
        assert w.client.post("/v1/disruptions", json=off, headers=DISPATCHER).status_code == 201
        [tech] = w.live()["technicians"]
        risks = {v["job_id"]: (v["at_risk"], v["risk"]) for v in tech["visits"]}
        assert risks[first["job_id"]] == (False, None)
        assert all(risks[v["job_id"]] == (True, "unavailable") for v in w.visits[1:]), risks
        # Their customers are given no arrival from her (before: the planned one); the first's still is.
        etas = {
            v["job_id"]: w.client.get(f"/v1/jobs/{v['job_id']}/status", headers=DISPATCHER).json()["eta"]
            for v in w.visits[:2]
        }
        assert etas[first["job_id"]] is not None and etas[second["job_id"]] is None, etas


def test_the_visits_inside_an_absence_stored_after_publishing_are_at_risk_as_for_a_reported_one(
    database_url: str,
) -> None:
    """Aino's absence entered on her record (``PUT /v1/technicians``) after the plan was
    published, over her second visit: that visit is at risk, as it is when the same
    hours are reported as a disruption; before, the live day read disruptions only."""
    with aino_s_day(database_url) as w:
        first, second = w.visits[:2]
        away = {"start": instant(second["arrival"]).isoformat(), "end": instant(second["end"]).isoformat()}
        body = {**TECH, "absences": [{**away, "reason": "dentist"}]}
        assert w.client.put("/v1/technicians/AINO", json=body, headers=DISPATCHER).status_code == 200
        [tech] = w.live()["technicians"]
        risks = {v["job_id"]: (v["at_risk"], v["risk"]) for v in tech["visits"]}
        assert risks[first["job_id"]] == (False, None)
        assert risks[second["job_id"]] == (True, "unavailable"), risks


def test_a_visit_whose_eta_passes_its_promised_window_is_at_risk(database_url: str) -> None:
    """The own booking's slot ends at 12:00; at 12:30 with nothing reported, it cannot be reached in it."""
    with aino_s_day(database_url) as w:
        assert not w.visit(w.own_job)["at_risk"]
        with time_machine.travel(local(DAY, 12, 30), tick=False):
            shown = w.visit(w.own_job)
            status = w.client.get(f"/v1/jobs/{w.own_job}/status", headers=w.own).json()
        assert instant(shown["window"]["end"]) == local(DAY, 12)
        assert instant(shown["eta"]) >= local(DAY, 12, 30)
        assert (shown["at_risk"], shown["risk"]) == (True, "window")
        assert status["eta"] == shown["eta"]


def test_the_booking_role_sees_only_its_own_jobs_status(database_url: str) -> None:
    with aino_s_day(database_url) as w:
        mine = w.client.get(f"/v1/jobs/{w.own_job}/status", headers=w.own)
        assert mine.status_code == 200, mine.text
        body = mine.json()
        assert set(body) == {"job_id", "status", "window", "eta", "technician_first_name"}
        assert (body["job_id"], body["status"], body["technician_first_name"]) == (w.own_job, "scheduled", "Aino")
        assert instant(body["window"]["start"]) == local(DAY, 10)
        assert instant(body["window"]["end"]) == local(DAY, 12)
        planned = next(v for v in w.visits if v["job_id"] == w.own_job)
        assert instant(body["eta"]) == instant(planned["arrival"])

        # Another token's booking, a job nobody booked and no job at all: the same 404.
        for job_id in (w.other_job, "E1", "NO-SUCH-JOB"):
            refused = w.client.get(f"/v1/jobs/{job_id}/status", headers=w.own)
            assert refused.status_code == 404, refused.text
            assert refused.json()["detail"] == f"job {job_id} does not exist"
        assert w.client.get(f"/v1/jobs/{w.other_job}/status", headers=w.other).status_code == 200

        # Not in a published plan: the promise, and no ETA or technician yet.
        unplanned = w.client.get(f"/v1/jobs/{w.unplanned_job}/status", headers=w.own).json()
        assert (unplanned["status"], unplanned["eta"], unplanned["technician_first_name"]) == ("open", None, None)
        assert instant(unplanned["window"]["start"]) == local(NEXT_DAY, 10)

        # A dispatcher sees any job; a job without a promise or window of its own shows
        # the window its visit tells the customer (docs/booking.md, "Promises").
        plain = w.client.get("/v1/jobs/E1/status", headers=DISPATCHER).json()
        told = next(v["window"] for v in w.visits if v["job_id"] == "E1")
        assert (plain["window"], plain["technician_first_name"]) == (told, "Aino")


def test_an_installer_may_not_read_a_jobs_status_nor_the_live_day(database_url: str) -> None:
    with aino_s_day(database_url) as w:
        installer = w.client.post(
            "/v1/tokens", json={"role": "installer", "technician_id": "AINO"}, headers=DISPATCHER
        ).json()["token"]
        assert w.client.get("/v1/jobs/E1/status", headers=auth(installer)).status_code == 403
        assert w.client.get("/v1/live", headers=auth(installer)).status_code == 403
        assert w.client.get("/v1/live", headers=w.own).status_code == 403


def test_new_urgent_work_not_in_the_plan_is_listed(database_url: str) -> None:
    with aino_s_day(database_url) as w:
        urgent = {**job(60.18, 24.96), "priority": 1, "kind": "repair"}
        assert w.client.put("/v1/jobs/URGENT", json=urgent, headers=DISPATCHER).status_code == 201
        assert [u["job_id"] for u in w.live()["urgent"]] == ["URGENT"]


def eta_events(w: World) -> list[dict[str, Any]]:
    page = w.client.get("/v1/events", params={"limit": 1000}, headers=DISPATCHER).json()
    return [e for e in page["events"] if e["type"] == "job.eta"]


def test_an_arrival_moved_more_than_the_threshold_is_told_once_in_the_feed(database_url: str) -> None:
    """A first visit 10 minutes late moves nothing worth telling; 45 minutes late, each
    customer still to come whose arrival moved more than 15 minutes hears it once."""
    with aino_s_day(database_url) as w:
        engine = w.client.app.state.dispatch.engine  # type: ignore[attr-defined]
        first, second = w.visits[:2]
        w.event(first["job_id"], "arrived", instant(first["arrival"]))

        def tell(now: dt.datetime) -> list[str]:
            with Session(engine) as session:
                told = tell_eta_moves(session, DAY, "helsinki", HELSINKI, now, 15)
                session.commit()
            return told

        assert tell(instant(first["end"]) + 10 * MIN) == [] and eta_events(w) == []
        w.event(first["job_id"], "completed", instant(first["end"]) + 45 * MIN)
        told = tell(instant(first["end"]) + 45 * MIN)
        assert second["job_id"] in told and first["job_id"] not in told
        events = eta_events(w)
        assert sorted(e["job_id"] for e in events) == sorted(told)
        moved = next(e for e in events if e["job_id"] == second["job_id"])
        assert instant(moved["data"]["eta"]) == instant(second["arrival"]) + 45 * MIN
        assert instant(moved["data"]["previous"]) == instant(second["arrival"])
        assert moved["technician_id"] == "AINO"
        # Told once: the same picture a minute later tells nothing new.
        assert tell(instant(first["end"]) + 46 * MIN) == [] and len(eta_events(w)) == len(events)


def test_a_visit_that_waits_for_its_window_is_told_and_shown_its_start_not_the_hours_before(
    database_url: str,
) -> None:
    """A morning job (08:00-09:00) and one promised 13:00-14:00 nearby: the technician
    could be there by 09:30 and wait until 13:00. The waiting is spent before setting
    out, so the plan's arrival, the customer's ETA, the live day's and the installer's
    arrival are all the planned start, inside the promise (before, all read about
    09:30, hours before the window)."""
    with TestClient(create_app(settings_for(database_url, seed=False))) as client:
        assert client.put("/v1/technicians/AINO", json=TECH, headers=DISPATCHER).status_code == 201
        for job_id, hour in (("MORNING", 8), ("AFTERNOON", 13)):
            body = {
                **job(60.18, 24.95),
                "windows": [{"start": local(DAY, hour).isoformat(), "end": local(DAY, hour + 1).isoformat()}],
            }
            assert client.put(f"/v1/jobs/{job_id}", json=body, headers=DISPATCHER).status_code == 201
        plan = run_plan(client, DAY.isoformat(), time_limit_s=1)
        assert plan["status"] == "done" and not plan["unassigned"], plan
        published = client.post(f"/v1/plans/{plan['id']}/publish", json={"confirm_windows": True}, headers=DISPATCHER)
        assert published.status_code == 200, published.text
        [route] = [r for r in cast(list[dict[str, Any]], plan["routes"]) if r["visits"]]
        [visit] = [v for v in route["visits"] if v["job_id"] == "AFTERNOON"]
        start = instant(visit["start"])
        assert local(DAY, 13) <= start <= local(DAY, 14)
        assert instant(visit["arrival"]) == start

        status = client.get("/v1/jobs/AFTERNOON/status", headers=DISPATCHER).json()
        assert instant(status["window"]["start"]) == local(DAY, 13)
        assert instant(status["eta"]) == start
        [tech] = client.get("/v1/live", params={"date": DAY.isoformat()}, headers=DISPATCHER).json()["technicians"]
        [shown] = [v for v in tech["visits"] if v["job_id"] == "AFTERNOON"]
        assert (instant(shown["eta"]), instant(shown["planned_arrival"]), shown["delay_min"]) == (start, start, 0)
        token = client.post("/v1/tokens", json={"role": "installer", "technician_id": "AINO"}, headers=DISPATCHER)
        mine = client.get("/v1/me/jobs", params={"date": DAY.isoformat()}, headers=auth(token.json()["token"]))
        assert mine.status_code == 200, mine.text
        [listed] = [v for v in mine.json() if v["job_id"] == "AFTERNOON"]
        assert instant(listed["arrival"]) == start
