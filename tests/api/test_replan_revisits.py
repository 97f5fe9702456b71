"""Re-planning a disrupted day (issue 18; docs/replan.md, docs/live-day.md), on SQLite
and PostgreSQL: a visit failed for missing parts is not planned again before its parts
can be there (nor one failed after its window closed the same day: each is carried to
the next working day), and a whole-day plan made while the day is under way is not published
(a re-plan from now is). Apart from tests/api/test_replan.py so that the two files
run on different test workers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from icalendar import Calendar

from api import create_app
from dispatch.clock import Clock
from tests.api.conftest import DISPATCHER, run_plan, settings_for
from tests.api.test_booking import CUSTOMER, DAY, NEXT, at, technician
from tests.api.test_booking import job as job_fields
from tests.api.test_replan import HOMES, event, install, installers, instant, replan, visits


@contextmanager
def published_fit(database_url: str, window: tuple[str, str] | None, arrived: str) -> Iterator[TestClient]:
    """W1 works DAY and NEXT (08:00-16:00); the install FIT (an hour, ``window`` on DAY,
    or any time of it) planned, published, and W1 reported there at ``arrived``."""
    with TestClient(create_app(settings_for(database_url, seed=False))) as client:
        tech = technician(HOMES["W1"], {"wardrobe": 2}, [DAY, NEXT])
        assert client.put("/v1/technicians/W1", json=tech, headers=DISPATCHER).status_code == 201
        if window is not None:
            install(client, "FIT", (60.18, 24.95), 60, window)
        else:
            any_time = {
                **job_fields(60, {"wardrobe": 1}, (60.18, 24.95)),
                "date": DAY.isoformat(),
                "customer": CUSTOMER,
            }
            assert client.put("/v1/jobs/FIT", json=any_time, headers=DISPATCHER).status_code == 201
        plan = run_plan(client, DAY.isoformat(), time_limit_s=1)
        assert plan["status"] == "done" and not plan["unassigned"], plan
        assert client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER).status_code == 200
        event(client, "FIT", "arrived", at(DAY, arrived))
        yield client


def failed_at(client: TestClient, reason: str, moment: str) -> dict[str, Any]:
    """FIT's visit reported failed for ``reason`` at ``moment``; the feed's status event of it."""
    failed = client.post(
        "/v1/jobs/FIT/events", json={"type": "failed", "reason": reason, "at": moment}, headers=DISPATCHER
    )
    assert failed.status_code == 201, failed.text
    events = client.get("/v1/events", params={"limit": 1000}, headers=DISPATCHER).json()["events"]
    return next(e for e in reversed(events) if e["type"] == "job.status" and e["job_id"] == "FIT")


def test_a_visit_failed_for_missing_parts_is_carried_to_the_next_working_day_after_its_parts(
    database_url: str,
) -> None:
    """One installer, one morning install that fails at 09:30 for missing parts: the
    revisit waits 24 hours for them, so nothing of its day is left for it. It is carried
    to the next day someone works (its window of the day gone is dropped: a new
    appointment), where a plan of that day serves it from 09:30; the re-plan of the
    afternoon no longer has it. (Before, it stayed on its day, left out of every plan.)"""
    with published_fit(database_url, ("08:00", "16:00"), "09:00") as client:
        told = failed_at(client, "parts_missing", at(DAY, "09:30"))
        assert told["data"]["revisit_date"] == NEXT.isoformat(), told
        job = client.get("/v1/jobs/FIT", headers=DISPATCHER).json()
        assert (job["status"], job["date"], job["windows"]) == ("open", NEXT.isoformat(), []), job
        assert job["preferred_technician_id"] == "W1", job  # who made the visit has seen the job
        assert instant(job["release_at"]) == instant(at(DAY, "09:30")) + dt.timedelta(hours=24)
        again = replan(client, at(DAY, "11:00"))
        assert again["status"] == "done", again
        # Not planned again: only the visit that failed is kept, as it was published.
        assert again["changes"]["ended"] == ["FIT"] and not again["unassigned"], again
        assert [v["job_id"] for r in again["routes"] for v in r["visits"]] == ["FIT"]
        following = run_plan(client, NEXT.isoformat(), time_limit_s=1)
        assert following["status"] == "done", following
        _, visit = visits(following)["FIT"]
        assert instant(visit["start"]) >= instant(at(NEXT, "09:30")), visit


def test_a_revisit_planned_on_its_new_day_leaves_the_visit_that_failed_as_it_was_on_its_own_day(
    database_url: str,
) -> None:
    """FIT failed at 09:30 for missing parts and its revisit is planned and published on
    the next day. The day it failed still shows that visit failed, to the installer, in
    the live day (so the customer is not told an arrival for it) and in the calendar
    (an event apart from the revisit's); a re-plan of that day neither drops it nor opens
    the revisit again. Before, publishing the next day made the failed visit `scheduled`
    on its own day, due now, and a re-plan's publication opened the revisit again."""
    with published_fit(database_url, ("08:00", "16:00"), "09:00") as client:
        failed_at(client, "parts_missing", at(DAY, "09:30"))
        following = run_plan(client, NEXT.isoformat(), time_limit_s=1)
        assert client.post(f"/v1/plans/{following['id']}/publish", headers=DISPATCHER).status_code == 200
        token = client.post("/v1/tokens", json={"role": "installer", "technician_id": "W1"}, headers=DISPATCHER)
        fitter = {"Authorization": f"Bearer {token.json()['token']}"}

        def listed(day: dt.date) -> list[tuple[str, str]]:
            mine = client.get("/v1/me/jobs", params={"date": day.isoformat()}, headers=fitter).json()
            return [(v["job_id"], v["status"]) for v in mine]

        def live_fit() -> tuple[str, str, str | None]:
            live = client.get("/v1/live", params={"date": DAY.isoformat(), "at": at(DAY, "10:00")}, headers=DISPATCHER)
            [fit] = [v for t in live.json()["technicians"] for v in t["visits"] if v["job_id"] == "FIT"]
            return fit["state"], fit["status"], fit["eta"]

        assert (listed(DAY), listed(NEXT), live_fit()) == (
            [("FIT", "failed")],
            [("FIT", "scheduled")],
            ("done", "failed", None),
        )
        calendar = Calendar.from_ical(client.get("/v1/me/calendar.ics", headers=fitter).content)
        assert len({str(e["uid"]) for e in calendar.walk("VEVENT")}) == 2
        again = replan(client, at(DAY, "11:00"))
        assert again["status"] == "done", again
        assert "FIT" not in again["changes"]["dropped"] + again["changes"]["notify"], again["changes"]
        assert client.post(f"/v1/plans/{again['id']}/publish", headers=DISPATCHER).status_code == 200
        assert client.get("/v1/jobs/FIT", headers=DISPATCHER).json()["status"] == "scheduled"
        assert listed(NEXT) == [("FIT", "scheduled")]


def test_a_revisit_published_on_its_new_day_is_planned_there_again_by_later_plans_and_re_plans_of_that_day(
    database_url: str,
) -> None:
    """FIT failed at 09:30 for missing parts; its revisit is planned and published on the
    next day. A second plan of that day, and a re-plan of it from 08:00, still serve it:
    the day it failed on holds only the visit that failed. Before, both left it out,
    "Published on <the day it failed> with W1: a plan of that day moves it"."""
    with published_fit(database_url, ("08:00", "16:00"), "09:00") as client:
        failed_at(client, "parts_missing", at(DAY, "09:30"))
        following = run_plan(client, NEXT.isoformat(), time_limit_s=1)
        assert client.post(f"/v1/plans/{following['id']}/publish", headers=DISPATCHER).status_code == 200
        again = run_plan(client, NEXT.isoformat(), time_limit_s=1)
        assert again["status"] == "done" and not again["unassigned"], again["unassigned"]
        assert "FIT" in visits(again), again
        from_now = run_plan(client, NEXT.isoformat(), time_limit_s=1, replan_from=at(NEXT, "08:00"))
        assert from_now["status"] == "done" and not from_now["unassigned"], from_now["unassigned"]
        assert "FIT" in visits(from_now) and not from_now["changes"]["dropped"], from_now["changes"]


@pytest.mark.parametrize("ending", ["failed for missing parts", "cancelled on site"])
def test_a_visit_over_without_being_done_stays_on_its_day_once_a_re_plan_is_published(
    database_url: str, ending: str
) -> None:
    """W1 is at FIT (far from home) when its visit fails for missing parts (its revisit
    goes to the next day), or when its customer cancels; the re-plan from then is
    published. The visit stays on W1's list (failed) and on the day's route, so the live
    day, the customer's status and the next re-plan still go on from FIT's place: the
    next customer, near FIT, keeps 10:00. Before, the published re-plan had no such
    visit: W1 was walked from home (10:42 in the live day, a late arrival told to the
    next customer), the next re-plan moved that customer, and the failed visit left the
    installer's list and the day's arrivals."""
    far = (60.30, 25.10)
    with TestClient(create_app(settings_for(database_url, seed=False))) as client:
        installers(client, "W1")
        install(client, "FIT", far, 90, ("08:00", "09:00"))
        install(client, "NEAR", (far[0] + 0.005, far[1] + 0.005), 60, ("10:00", "14:00"))
        plan = run_plan(client, DAY.isoformat(), time_limit_s=1)
        assert client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER).status_code == 200
        _, fit = visits(plan)["FIT"]
        event(client, "FIT", "arrived", fit["arrival"])
        if ending == "cancelled on site":
            assert client.delete("/v1/jobs/FIT", headers=DISPATCHER).status_code == 200
        else:
            failed = {"type": "failed", "reason": "parts_missing", "at": at(DAY, "09:45")}
            assert client.post("/v1/jobs/FIT/events", json=failed, headers=DISPATCHER).status_code == 201
        with time_machine.travel(instant(at(DAY, "09:45")), tick=False):
            again = replan(client, at(DAY, "09:45"))
            assert again["status"] == "done", again
            published = client.post(f"/v1/plans/{again['id']}/publish", headers=DISPATCHER)
            assert published.status_code == 200, published.text
            token = client.post("/v1/tokens", json={"role": "installer", "technician_id": "W1"}, headers=DISPATCHER)
            fitter = {"Authorization": f"Bearer {token.json()['token']}"}
            listed = [(v["job_id"], v["status"]) for v in client.get("/v1/me/jobs", headers=fitter).json()]
            status = client.get("/v1/jobs/NEAR/status", headers=DISPATCHER).json()
        expected = (
            [("NEAR", "scheduled")] if ending == "cancelled on site" else [("FIT", "failed"), ("NEAR", "scheduled")]
        )
        assert listed == expected
        assert instant(status["eta"]) == instant(at(DAY, "10:00")), status
        later = replan(client, at(DAY, "09:50"))
        assert later["status"] == "done", later
        _, near = visits(later)["NEAR"]
        assert instant(near["arrival"]) <= instant(at(DAY, "10:00")), near
        assert not later["changes"]["retimed"], later["changes"]


def test_a_customer_not_at_home_is_visited_again_the_same_day_while_their_window_is_open(database_url: str) -> None:
    """The same install failed at 09:30 because the customer was out: its window runs to
    16:00, so the revisit stays on its day and the re-plan of the afternoon serves it."""
    with published_fit(database_url, ("08:00", "16:00"), "09:00") as client:
        told = failed_at(client, "customer_absent", at(DAY, "09:30"))
        assert "revisit_date" not in told["data"], told
        job = client.get("/v1/jobs/FIT", headers=DISPATCHER).json()
        assert (job["date"], instant(job["release_at"])) == (DAY.isoformat(), instant(at(DAY, "11:30"))), job
        again = replan(client, at(DAY, "11:00"))
        assert again["status"] == "done", again
        assert "FIT" in visits(again), again
        # Published, the revisit is told work like any other: the next re-plan keeps it
        # and reports it as a change of what was told, not as work newly added.
        assert client.post(f"/v1/plans/{again['id']}/publish", headers=DISPATCHER).status_code == 200
        later = replan(client, at(DAY, "11:10"))
        assert later["status"] == "done", later
        assert "FIT" in visits(later), later
        changes = later["changes"]
        assert "FIT" not in {a["job_id"] for a in changes["added"]} | set(changes["dropped"]), changes
        # Nor is the revisit's first report dated inside the visit that failed.
        early = {"type": "en_route", "at": at(DAY, "09:20")}
        refused = client.post("/v1/jobs/FIT/events", json=early, headers=DISPATCHER)
        assert refused.status_code == 409 and refused.json()["field"] == "at", refused.text


@pytest.mark.parametrize("closes", ["16:00", "11:00"])
def test_a_customer_not_at_home_is_not_called_on_again_within_two_hours_and_a_window_closing_sooner_moves_the_revisit(
    database_url: str, closes: str
) -> None:
    """FIT failed at 09:30 because the customer was out. With its window open to 16:00,
    a re-plan from 09:35 gives the revisit a start at 11:30 at the soonest (the job's
    release says so); with its window closing at 11:00, before then, the revisit goes to
    the next working day. Before, the re-plan sent the installer back to the door at
    09:35, the minute they left it."""
    with published_fit(database_url, ("08:00", closes), "09:00") as client:
        told = failed_at(client, "customer_absent", at(DAY, "09:30"))
        if closes == "11:00":
            assert told["data"]["revisit_date"] == NEXT.isoformat(), told
            return
        assert "revisit_date" not in told["data"], told
        job = client.get("/v1/jobs/FIT", headers=DISPATCHER).json()
        assert (job["date"], instant(job["release_at"])) == (DAY.isoformat(), instant(at(DAY, "11:30"))), job
        again = replan(client, at(DAY, "09:35"))
        assert again["status"] == "done", again
        _, revisit = visits(again)["FIT"]
        assert instant(revisit["start"]) >= instant(at(DAY, "11:30")), revisit


def test_a_visit_failed_while_its_window_was_open_and_not_revisited_that_day_is_planned_the_next_day(
    database_url: str,
) -> None:
    """FIT failed at 09:30 (the customer was out) with its window open till 16:00, so its
    revisit stayed on its day; nobody re-planned that day. The next morning a plan of the
    new day brings it there, as open work of that day. Before, it stayed on the day gone
    and no plan ever saw it again."""
    with published_fit(database_url, ("08:00", "16:00"), "09:00") as client:
        failed_at(client, "customer_absent", at(DAY, "09:30"))
        assert client.get("/v1/jobs/FIT", headers=DISPATCHER).json()["date"] == DAY.isoformat()
        with time_machine.travel(instant(at(NEXT, "07:00")), tick=False):
            following = run_plan(client, NEXT.isoformat(), time_limit_s=1)
        assert following["status"] == "done" and "FIT" in visits(following), following
        job = client.get("/v1/jobs/FIT", headers=DISPATCHER).json()
        assert (job["status"], job["date"], job["windows"]) == ("open", NEXT.isoformat(), []), job


def test_a_visit_failed_after_its_window_closed_is_carried_to_the_next_working_day(database_url: str) -> None:
    """The install (window 08:00-09:00) failed at 09:40 for a second visit: nothing of
    its day is left for it, so it goes to the next day someone works, any time of it."""
    with published_fit(database_url, ("08:00", "09:00"), "08:30") as client:
        told = failed_at(client, "second_visit", at(DAY, "09:40"))
        assert told["data"]["revisit_date"] == NEXT.isoformat(), told
        job = client.get("/v1/jobs/FIT", headers=DISPATCHER).json()
        assert (job["date"], job["windows"], job["release_at"]) == (NEXT.isoformat(), [], None), job
        following = run_plan(client, NEXT.isoformat(), time_limit_s=1)
        assert following["status"] == "done" and "FIT" in visits(following), following


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


def test_a_visit_without_a_window_failed_after_the_days_work_is_over_is_carried_to_the_next_working_day(
    database_url: str,
) -> None:
    """An install any time of the day, failed at 19:30 (the customer was out), after the
    region's last technician is due home: nothing of the day is left for it."""
    with published_fit(database_url, None, "19:00") as client:
        told = failed_at(client, "customer_absent", at(DAY, "19:30"))
        assert told["data"]["revisit_date"] == NEXT.isoformat(), told
        job = client.get("/v1/jobs/FIT", headers=DISPATCHER).json()
        assert (job["date"], job["windows"]) == (NEXT.isoformat(), []), job


def installer(client: TestClient, technician_id: str) -> dict[str, str]:
    """The headers of a new installer token of ``technician_id``."""
    issued = client.post("/v1/tokens", json={"role": "installer", "technician_id": technician_id}, headers=DISPATCHER)
    assert issued.status_code == 201, issued.text
    return {"Authorization": f"Bearer {issued.json()['token']}"}


def report(client: TestClient, me: dict[str, str], kind: str, moment: str, **extra: str) -> Any:
    return client.post("/v1/jobs/FIT/events", json={"type": kind, "at": moment, **extra}, headers=me)


def test_both_of_a_crew_report_a_visit_whose_revisit_went_to_the_next_day_and_a_retry_gets_the_stored_report(
    database_url: str,
) -> None:
    """A crew install fails at 12:00 for missing parts: its revisit goes to the next day at
    once. The partner's own "could not complete" is the same news (200, the stored
    report), and the first phone's retry of its report gets that report back; an
    installer who never had the job is still refused. Before, both were 403 ("not one of
    your published jobs"): the job's plans were read on its new date only."""
    with TestClient(create_app(settings_for(database_url, seed=False))) as client:
        for tid in ("W1", "W2"):
            put = client.put(
                f"/v1/technicians/{tid}", json=technician(HOMES[tid], {"wardrobe": 2}, [DAY, NEXT]), headers=DISPATCHER
            )
            assert put.status_code == 201, put.text
        put = client.put(
            "/v1/technicians/W3", json=technician(HOMES["W3"], {"wardrobe": 2}, [NEXT]), headers=DISPATCHER
        )
        assert put.status_code == 201, put.text
        install(client, "FIT", (60.185, 24.96), 120, ("08:00", "16:00"), crew_size=2)
        plan = run_plan(client, DAY.isoformat(), time_limit_s=1)
        assert "FIT" in visits(plan) and not plan["unassigned"], plan
        assert client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER).status_code == 200
        first, second, stranger = installer(client, "W1"), installer(client, "W2"), installer(client, "W3")
        assert report(client, first, "arrived", at(DAY, "11:35")).status_code == 201
        assert report(client, second, "arrived", at(DAY, "11:40")).status_code == 201
        failed = report(client, first, "failed", at(DAY, "12:00"), reason="parts_missing")
        assert failed.status_code == 201, failed.text
        assert client.get("/v1/jobs/FIT", headers=DISPATCHER).json()["date"] == NEXT.isoformat()

        partner = report(client, second, "failed", at(DAY, "12:01"), reason="parts_missing")
        assert (partner.status_code, partner.json()) == (200, failed.json())
        retry = report(client, first, "failed", at(DAY, "12:00"), reason="parts_missing")
        assert (retry.status_code, retry.json()) == (200, failed.json())
        refused = report(client, stranger, "arrived", at(DAY, "12:30"))
        assert (refused.status_code, refused.json()["field"]) == (403, "job_id")
        events = client.get("/v1/jobs/FIT/events", headers=DISPATCHER).json()
        assert [(e["type"], e["technician_id"]) for e in events] == [
            ("arrived", "W1"),
            ("arrived", "W2"),
            ("failed", "W1"),
        ]


def test_a_visit_failed_after_its_window_and_done_after_all_minutes_later_is_completed_on_its_day(
    database_url: str,
) -> None:
    """FIT's customer is out at 09:50, their window closing at 10:00: the revisit is
    carried to the next day. The customer comes home and W1 does the work: the completion
    at 10:20 is stored, the job is completed and back on the day it was done, listed
    completed there. Before, it was 403 and the job stayed open on the next day."""
    with published_fit(database_url, ("08:00", "10:00"), "09:00") as client:
        fitter = installer(client, "W1")
        out = report(client, fitter, "failed", at(DAY, "09:50"), reason="customer_absent")
        assert out.status_code == 201, out.text
        assert client.get("/v1/jobs/FIT", headers=DISPATCHER).json()["date"] == NEXT.isoformat()
        done = report(client, fitter, "completed", at(DAY, "10:20"))
        assert done.status_code == 201, done.text
        job = client.get("/v1/jobs/FIT", headers=DISPATCHER).json()
        assert (job["status"], job["date"], instant(job["actual_end"])) == (
            "completed",
            DAY.isoformat(),
            instant(at(DAY, "10:20")),
        )
        mine = client.get("/v1/me/jobs", params={"date": DAY.isoformat()}, headers=fitter).json()
        assert [(v["job_id"], v["status"]) for v in mine] == [("FIT", "completed")]


def test_an_offline_phones_reports_of_a_job_re_planned_away_complete_it_and_no_plan_sends_it_out_again(
    database_url: str,
) -> None:
    """W1 does FIT in the morning with no signal. At 10:30 the office, not hearing from
    W1, records them away for the rest of the day and publishes a re-plan that leaves FIT
    out. W1's phone then sends its arrival and completion: both are stored, FIT is
    completed, and the next re-plan neither plans it nor reports it; the live day shows
    no visit to come for it. Before, both reports were 403 and FIT stayed open work to
    send someone to again."""
    with TestClient(create_app(settings_for(database_url, seed=False))) as client:
        installers(client, "W1")
        install(client, "FIT", (60.18, 24.95), 60, ("08:00", "16:00"))
        plan = run_plan(client, DAY.isoformat(), time_limit_s=1)
        assert "FIT" in visits(plan), plan
        assert client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER).status_code == 200
        _, fit = visits(plan)["FIT"]
        away = {"type": "technician_unavailable", "technician_id": "W1", "from": at(DAY, "10:30")}
        assert client.post("/v1/disruptions", json=away, headers=DISPATCHER).status_code == 201
        with time_machine.travel(instant(at(DAY, "10:30")), tick=False):
            again = replan(client, at(DAY, "10:30"))
            assert again["status"] == "done" and "FIT" not in visits(again), again
            assert client.post(f"/v1/plans/{again['id']}/publish", headers=DISPATCHER).status_code == 200
        fitter = installer(client, "W1")
        arrived = report(client, fitter, "arrived", fit["arrival"])
        assert arrived.status_code == 201, arrived.text
        assert report(client, fitter, "completed", fit["end"]).status_code == 201
        assert report(client, fitter, "arrived", fit["arrival"]).json() == arrived.json()
        assert client.get("/v1/jobs/FIT", headers=DISPATCHER).json()["status"] == "completed"
        with time_machine.travel(instant(at(DAY, "11:00")), tick=False):
            later = replan(client, at(DAY, "11:00"))
            live = client.get("/v1/live", params={"date": DAY.isoformat()}, headers=DISPATCHER).json()
        assert later["status"] == "done", later
        assert "FIT" not in visits(later) and "FIT" not in {u["job_id"] for u in later["unassigned"]}, later
        assert "FIT" not in json.dumps(later["changes"]), later["changes"]
        assert "FIT" not in {v["job_id"] for t in live["technicians"] for v in t["visits"]} | {
            u["job_id"] for u in live["urgent"]
        }
