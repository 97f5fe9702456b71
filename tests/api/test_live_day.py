"""The live day (docs/live-day.md): a job's status from field events, idempotent
events, stable calendar UIDs and the ETag of an installer's list, on SQLite and
on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from dispatch.errors import Conflict, Invalid
from dispatch.jobstate import apply_event, next_status, revisit_not_before, visit_status
from tests.api.conftest import DISPATCHER, SAMPLE_DAY, auth, run_plan, settings_for


@dataclass
class Day:
    """The sample day planned and published, and an installer with visits on it."""

    client: TestClient
    plan: dict[str, Any]
    technician_id: str
    me: dict[str, str]
    jobs: list[dict[str, Any]]


def publish_new_plan(client: TestClient, time_limit_s: float = 1) -> dict[str, Any]:
    plan = run_plan(client, SAMPLE_DAY, time_limit_s=time_limit_s)
    assert plan["status"] == "done", plan
    published = client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER)
    assert published.status_code == 200, published.text
    return plan


@contextmanager
def planned_day(url: str, time_limit_s: float = 1) -> Iterator[Day]:
    with TestClient(create_app(settings_for(url))) as client:
        plan = publish_new_plan(client, time_limit_s)
        route = next(r for r in plan["routes"] if len(r["visits"]) >= 2)
        issued = client.post(
            "/v1/tokens", json={"role": "installer", "technician_id": route["technician_id"]}, headers=DISPATCHER
        )
        me = auth(issued.json()["token"])
        jobs = client.get("/v1/me/jobs", params={"date": SAMPLE_DAY}, headers=me).json()
        yield Day(client, plan, route["technician_id"], me, jobs)


def post(day: Day, job_id: str, kind: str, at: dt.datetime, **extra: str) -> Any:
    return day.client.post(
        f"/v1/jobs/{job_id}/events", json={"type": kind, "at": at.isoformat(), **extra}, headers=day.me
    )


def job(day: Day, job_id: str) -> dict[str, Any]:
    got: dict[str, Any] = day.client.get(f"/v1/jobs/{job_id}", headers=DISPATCHER).json()
    return got


def my_status(day: Day, job_id: str) -> str:
    mine = day.client.get("/v1/me/jobs", params={"date": SAMPLE_DAY}, headers=day.me).json()
    return str(next(m["status"] for m in mine if m["job_id"] == job_id))


def planned_ids(plan: dict[str, Any]) -> set[str]:
    served = {v["job_id"] for r in plan["routes"] for v in r["visits"]}
    return served | {u["job_id"] for u in plan["unassigned"]}


def test_a_job_is_completed_from_field_events_and_never_planned_again(database_url: str) -> None:
    with planned_day(database_url) as day:
        first = day.jobs[0]
        job_id = first["job_id"]
        # In a published plan: the visit and the job are scheduled (API.md: open = in no published plan).
        assert first["status"] == "scheduled" and job(day, job_id)["status"] == "scheduled"
        arrival = dt.datetime.fromisoformat(first["arrival"])
        end = dt.datetime.fromisoformat(first["end"])

        assert post(day, job_id, "en_route", arrival - dt.timedelta(minutes=20)).status_code == 201
        assert job(day, job_id)["status"] == "en_route" and my_status(day, job_id) == "en_route"
        assert post(day, job_id, "arrived", arrival).status_code == 201
        assert post(day, job_id, "started", arrival + dt.timedelta(minutes=5)).status_code == 201
        assert job(day, job_id)["status"] == "on_site"
        done = post(day, job_id, "completed", end, note="all good")
        assert done.status_code == 201, done.text

        shown = job(day, job_id)
        assert shown["status"] == "completed" and shown["reason"] is None
        assert dt.datetime.fromisoformat(shown["actual_start"]) == arrival  # arrived, not started
        assert dt.datetime.fromisoformat(shown["actual_end"]) == end
        assert my_status(day, job_id) == "completed"  # still on the installer's list of the day

        # The same event again is stored once: 200 with the stored event.
        again = post(day, job_id, "completed", end, note="sent twice")
        assert again.status_code == 200 and again.json() == done.json()
        # Out of order: 409 naming the type.
        for kind in ("completed", "en_route", "arrived"):
            late = post(day, job_id, kind, end + dt.timedelta(minutes=10))
            assert late.status_code == 409, late.text
            assert late.json()["field"] == "type" and "completed" in late.json()["detail"]
        assert job(day, job_id)["actual_end"] == shown["actual_end"]

        replanned = run_plan(day.client, SAMPLE_DAY, time_limit_s=1)
        assert replanned["status"] == "done", replanned
        assert job_id not in planned_ids(replanned)
        assert planned_ids(replanned) >= planned_ids(day.plan) - {job_id}


def test_an_arrival_dated_before_the_technician_set_out_is_refused_naming_at(database_url: str) -> None:
    """Before, ``arrived`` at 07:20 after ``en_route`` at 07:50 was stored: the visit began
    before its technician left for it."""
    with planned_day(database_url) as day:
        job_id, arrival = day.jobs[0]["job_id"], dt.datetime.fromisoformat(day.jobs[0]["arrival"])
        assert post(day, job_id, "en_route", arrival - dt.timedelta(minutes=10)).status_code == 201
        for kind in ("arrived", "started", "completed"):
            early = post(day, job_id, kind, arrival - dt.timedelta(minutes=40))
            assert early.status_code == 409 and early.json()["field"] == "at", early.text
            assert "set out" in early.json()["detail"], early.text
        assert job(day, job_id)["status"] == "en_route" and job(day, job_id)["actual_start"] is None
        assert post(day, job_id, "arrived", arrival).status_code == 201


def test_each_of_a_crew_reports_on_the_way_arrived_and_done_the_job_on_site_from_the_first_arrival_done_once(
    database_url: str,
) -> None:
    """Both of a crew report their way there and their arrival; the job is on site from
    the first arrival. Both tap done: the second tap answers 200 with the first's report
    (before, a 409 on the second phone), and the job is completed once."""
    # Three seconds: on a loaded machine a one-second plan of the sample day once served no crew job.
    with planned_day(database_url, time_limit_s=3) as day:
        crews: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for r in day.plan["routes"]:
            for v in r["visits"]:
                crews.setdefault(v["job_id"], []).append((r["technician_id"], v))
        job_id, crew = next((j, c) for j, c in crews.items() if len(c) == 2)
        tokens = [
            day.client.post("/v1/tokens", json={"role": "installer", "technician_id": t}, headers=DISPATCHER).json()
            for t, _ in crew
        ]
        (first, second) = [auth(t["token"]) for t in tokens]
        start = dt.datetime.fromisoformat(crew[0][1]["start"])

        def report(me: dict[str, str], kind: str, minutes: int) -> Any:
            moment = (start + dt.timedelta(minutes=minutes)).isoformat()
            return day.client.post(f"/v1/jobs/{job_id}/events", json={"type": kind, "at": moment}, headers=me)

        assert report(first, "en_route", -20).status_code == 201
        assert report(first, "arrived", -2).status_code == 201
        partner = report(second, "en_route", -1)
        assert partner.status_code == 201, partner.text
        assert report(second, "arrived", 3).status_code == 201
        shown = job(day, job_id)
        assert shown["status"] == "on_site"
        assert dt.datetime.fromisoformat(shown["actual_start"]) == start - dt.timedelta(minutes=2)
        done = report(first, "completed", 100)
        assert done.status_code == 201, done.text
        again = report(second, "completed", 101)
        assert (again.status_code, again.json()) == (200, done.json())
        assert dt.datetime.fromisoformat(job(day, job_id)["actual_end"]) == start + dt.timedelta(minutes=100)
        # A report of a visit over that nobody made is still refused.
        late_failure = report(second, "failed", 102)
        assert late_failure.status_code in (409, 422), late_failure.text


def test_a_failed_event_without_a_reason_as_v1_clients_send_it_is_stored_as_other(database_url: str) -> None:
    with planned_day(database_url) as day:
        first = day.jobs[0]
        arrival = dt.datetime.fromisoformat(first["arrival"])
        assert post(day, first["job_id"], "arrived", arrival).status_code == 201
        failed = post(day, first["job_id"], "failed", arrival + dt.timedelta(minutes=10))
        assert failed.status_code == 201 and failed.json()["reason"] == "other", failed.text
        assert (job(day, first["job_id"])["status"], job(day, first["job_id"])["reason"]) == ("open", "other")


def test_a_failed_visit_leaves_the_job_open_with_its_reason(database_url: str) -> None:
    with planned_day(database_url) as day:
        second = day.jobs[1]
        job_id = second["job_id"]
        arrival = dt.datetime.fromisoformat(second["arrival"])
        assert post(day, job_id, "arrived", arrival).status_code == 201

        unknown = post(day, job_id, "failed", arrival, reason="dog ate it")
        assert unknown.status_code == 422 and "reason" in unknown.text
        stray = post(day, job_id, "completed", arrival, reason="other")
        assert stray.status_code == 422 and stray.json()["field"] == "reason"

        failed = post(day, job_id, "failed", arrival + dt.timedelta(minutes=3), reason="other")
        assert failed.status_code == 201 and failed.json()["reason"] == "other"
        shown = job(day, job_id)
        assert (shown["status"], shown["reason"]) == ("open", "other")
        assert dt.datetime.fromisoformat(shown["actual_start"]) == arrival
        assert dt.datetime.fromisoformat(shown["actual_end"]) == arrival + dt.timedelta(minutes=3)
        assert my_status(day, job_id) == "failed"
        # It links to its first visit: who, when, why, and where the field's reports are.
        first_visit = shown["failed_visit"]
        assert first_visit["reason"] == "other" and first_visit["technician_id"] == day.technician_id
        assert dt.datetime.fromisoformat(first_visit["at"]) == arrival + dt.timedelta(minutes=3)
        reports = day.client.get(first_visit["events"], headers=DISPATCHER).json()
        assert [(e["type"], e["reason"]) for e in reports] == [("arrived", None), ("failed", "other")]

        # Open work again: a plan run takes it, and a later visit can complete it.
        assert job_id in planned_ids(run_plan(day.client, SAMPLE_DAY, time_limit_s=1))
        later = arrival + dt.timedelta(hours=2)
        assert post(day, job_id, "en_route", later).status_code == 201
        assert post(day, job_id, "arrived", later + dt.timedelta(minutes=20)).status_code == 201
        assert job(day, job_id)["actual_end"] is None
        assert post(day, job_id, "completed", later + dt.timedelta(hours=1)).status_code == 201
        assert (job(day, job_id)["status"], job(day, job_id)["reason"]) == ("completed", "other")


def test_a_cancelled_job_takes_no_events_and_others_jobs_stay_forbidden(database_url: str) -> None:
    with planned_day(database_url) as day:
        job_id = day.jobs[0]["job_id"]
        assert day.client.delete(f"/v1/jobs/{job_id}", headers=DISPATCHER).status_code == 200
        refused = day.client.post(f"/v1/jobs/{job_id}/events", json={"type": "completed"}, headers=DISPATCHER)
        assert refused.status_code == 409 and refused.json()["field"] == "type"
        assert "cancelled" in refused.json()["detail"]
        assert job_id not in {
            m["job_id"] for m in day.client.get("/v1/me/jobs", params={"date": SAMPLE_DAY}, headers=day.me).json()
        }

        mine = set(planned_ids(day.plan)) - {j["job_id"] for j in day.jobs}
        other = next(iter(sorted(mine)))
        forbidden = day.client.post(
            f"/v1/jobs/{other}/events", json={"type": "failed", "reason": "other"}, headers=day.me
        )
        assert forbidden.status_code == 403 and forbidden.json()["field"] == "job_id"


def test_a_completed_job_cannot_be_cancelled_and_stays_in_its_technicians_day(database_url: str) -> None:
    """Before, DELETE of a completed job answered 200: the job became cancelled, its
    visit left the day's live schedule, and put back with PUT it was planned again."""
    with planned_day(database_url) as day:
        first = day.jobs[0]
        job_id, arrival = first["job_id"], dt.datetime.fromisoformat(first["arrival"])
        assert post(day, job_id, "arrived", arrival).status_code == 201
        assert post(day, job_id, "completed", arrival + dt.timedelta(minutes=40)).status_code == 201
        refused = day.client.delete(f"/v1/jobs/{job_id}", headers=DISPATCHER)
        assert refused.status_code == 409 and refused.json()["field"] == "job_id", refused.text
        assert "completed" in refused.json()["detail"]
        assert job(day, job_id)["status"] == "completed"
        assert my_status(day, job_id) == "completed"
        live = day.client.get("/v1/live", params={"date": SAMPLE_DAY}, headers=DISPATCHER).json()
        assert job_id in {v["job_id"] for t in live["technicians"] for v in t["visits"]}


def uids(day: Day) -> list[str]:
    feed = day.client.get("/v1/me/calendar.ics", headers=day.me)
    assert feed.status_code == 200
    return sorted(line.split(":", 1)[1].strip() for line in feed.text.splitlines() if line.startswith("UID:"))


def test_calendar_uids_stay_the_same_across_re_publishing(database_url: str) -> None:
    with planned_day(database_url) as day:
        before = uids(day)
        assert before == sorted(f"{j['job_id']}-{day.technician_id}@furniture-dispatch" for j in day.jobs)
        feed = day.client.get("/v1/me/calendar.ics", headers=day.me).text
        assert "LAST-MODIFIED:" in feed and "Status: scheduled" in feed

        replanned = publish_new_plan(day.client)
        assert replanned["id"] != day.plan["id"]
        mine = day.client.get("/v1/me/jobs", params={"date": SAMPLE_DAY}, headers=day.me).json()
        after = uids(day)
        assert after == sorted(f"{j['job_id']}-{day.technician_id}@furniture-dispatch" for j in mine)
        # No duplicates, and every job kept on this technician keeps its UID.
        assert len(after) == len(set(after))
        kept = {j["job_id"] for j in mine} & {j["job_id"] for j in day.jobs}
        assert {u for u in before if u.split("-")[0] in kept} <= set(after)


def test_my_jobs_carry_an_etag_that_every_change_changes(database_url: str) -> None:
    with planned_day(database_url) as day:
        params = {"date": SAMPLE_DAY}
        first = day.client.get("/v1/me/jobs", params=params, headers=day.me)
        etag = first.headers["etag"]
        assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
        assert day.client.get("/v1/me/jobs", params=params, headers=day.me).headers["etag"] == etag

        cached = day.client.get("/v1/me/jobs", params=params, headers={**day.me, "If-None-Match": etag})
        assert cached.status_code == 304 and cached.content == b"" and cached.headers["etag"] == etag
        listed = day.client.get("/v1/me/jobs", params=params, headers={**day.me, "If-None-Match": f'"x", W/{etag}'})
        assert listed.status_code == 304
        stale = day.client.get("/v1/me/jobs", params=params, headers={**day.me, "If-None-Match": '"nope"'})
        assert stale.status_code == 200 and stale.json() == first.json()

        arrival = dt.datetime.fromisoformat(day.jobs[0]["arrival"])
        assert post(day, day.jobs[0]["job_id"], "en_route", arrival).status_code == 201
        after_event = day.client.get("/v1/me/jobs", params=params, headers={**day.me, "If-None-Match": etag})
        assert after_event.status_code == 200 and after_event.headers["etag"] != etag

        publish_new_plan(day.client)
        after_publish = day.client.get(
            "/v1/me/jobs", params=params, headers={**day.me, "If-None-Match": after_event.headers["etag"]}
        )
        assert after_publish.status_code == 200
        assert after_publish.headers["etag"] not in (etag, after_event.headers["etag"])


# --- the rules alone --------------------------------------------------------------------


@dataclass
class Bare:
    status: str = "open"
    reason: str | None = None
    actual_start: dt.datetime | None = None
    actual_end: dt.datetime | None = None


T0 = dt.datetime(2026, 12, 2, 8, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("current", "kind", "expected"),
    [
        ("open", "en_route", "en_route"),
        ("en_route", "en_route", "en_route"),
        ("en_route", "arrived", "on_site"),
        ("on_site", "started", "on_site"),
        ("on_site", "completed", "completed"),
        ("on_site", "failed", "open"),
        ("open", "completed", "completed"),
        ("scheduled", "en_route", "en_route"),
        ("scheduled", "failed", "open"),
    ],
)
def test_the_transitions(current: str, kind: str, expected: str) -> None:
    assert next_status(current, kind) == expected


@pytest.mark.parametrize(
    ("current", "kind"),
    [("completed", "completed"), ("completed", "en_route"), ("cancelled", "arrived"), ("on_site", "en_route")],
)
def test_out_of_order_events_conflict(current: str, kind: str) -> None:
    with pytest.raises(Conflict) as refused:
        next_status(current, kind)
    assert refused.value.field == "type"


def test_a_crew_partner_on_the_way_leaves_a_crew_job_on_site_and_its_arrival_time_as_it_was() -> None:
    job = Bare(status="on_site", actual_start=T0)
    apply_event(job, "en_route", T0 + dt.timedelta(minutes=10), None, crew=True)
    assert (job.status, job.actual_start) == ("on_site", T0)
    apply_event(job, "arrived", T0 + dt.timedelta(minutes=25), None, crew=True)
    assert (job.status, job.actual_start) == ("on_site", T0)


def test_a_visits_times_and_its_status_for_the_installer() -> None:
    job = Bare()
    assert visit_status(job) == "scheduled"
    apply_event(job, "arrived", T0, None)
    apply_event(job, "started", T0 + dt.timedelta(minutes=5), None)
    assert (job.status, job.actual_start) == ("on_site", T0)
    apply_event(job, "failed", T0 + dt.timedelta(hours=1), "parts_missing")
    assert (job.status, job.reason, job.actual_end, visit_status(job)) == (
        "open",
        "parts_missing",
        T0 + dt.timedelta(hours=1),
        "failed",
    )
    with pytest.raises(Invalid) as refused:
        apply_event(job, "failed", T0, None)
    assert refused.value.field == "reason"


def test_a_job_failed_for_missing_parts_is_released_a_day_later_and_one_its_customer_missed_two_hours_later() -> None:
    """Unless the job was released later already; other reasons leave the release as it was."""
    day = dt.timedelta(hours=24)
    assert revisit_not_before("parts_missing", T0, None) == T0 + day
    assert revisit_not_before("parts_missing", T0, T0 - day) == T0 + day
    assert revisit_not_before("parts_missing", T0, T0 + 2 * day) == T0 + 2 * day
    assert revisit_not_before("customer_absent", T0, None) == T0 + dt.timedelta(hours=2)
    assert revisit_not_before("customer_absent", T0, T0 + day) == T0 + day
    assert revisit_not_before("second_visit", T0, None) is None
    assert revisit_not_before("other", T0, T0 - day) == T0 - day


def test_a_job_read_with_get_can_be_put_back_as_it_is(database_url: str) -> None:
    """The live fields are read-only: a PUT of what GET answered keeps the status and times."""
    with planned_day(database_url) as day:
        job_id = day.jobs[0]["job_id"]
        arrival = dt.datetime.fromisoformat(day.jobs[0]["arrival"])
        assert post(day, job_id, "arrived", arrival).status_code == 201
        assert post(day, job_id, "failed", arrival, reason="parts_missing").status_code == 201
        shown = job(day, job_id)
        put = day.client.put(f"/v1/jobs/{job_id}", json=shown, headers=DISPATCHER)
        assert put.status_code == 200, put.text
        assert put.json() == shown
        # Withdrawing a promise the way a client would: read, change one field, PUT back.
        put = day.client.put(f"/v1/jobs/{job_id}", json={**shown, "confirmed": False}, headers=DISPATCHER)
        assert put.status_code == 200, put.text
        assert put.json()["confirmed"] is False and put.json()["status"] == shown["status"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("id", "ANOTHER"), ("status", "completed"), ("booked", True)],
)
def test_a_put_that_would_change_a_read_only_field_is_refused_naming_it_and_changes_nothing(
    database_url: str, field: str, value: object
) -> None:
    with planned_day(database_url) as day:
        job_id = day.jobs[0]["job_id"]
        shown = job(day, job_id)
        put = day.client.put(f"/v1/jobs/{job_id}", json={**shown, field: value, "notes": "changed"}, headers=DISPATCHER)
        assert put.status_code == 422, put.text
        assert put.json()["field"] == field and "leave" in put.json()["detail"]
        assert job(day, job_id) == shown


def test_a_cancelled_job_read_with_get_and_put_back_is_open_again(database_url: str) -> None:
    with planned_day(database_url) as day:
        job_id = day.jobs[0]["job_id"]
        assert day.client.delete(f"/v1/jobs/{job_id}", headers=DISPATCHER).status_code == 200
        shown = job(day, job_id)
        assert shown["status"] == "cancelled"
        put = day.client.put(f"/v1/jobs/{job_id}", json=shown, headers=DISPATCHER)
        assert put.status_code == 200, put.text
        assert put.json()["status"] == "open"


def test_a_job_dated_elsewhere_after_publishing_is_neither_listed_nor_reported_on_its_published_day(
    database_url: str,
) -> None:
    """The dispatcher re-dates a published job nobody has reported on: its customer now
    waits for the new date, so its technician no longer has it on the day it was
    published (their list, the live day), and a report of it dated that day is refused as
    before. The dispatcher's jobs of that day list it until a plan of the day moves it.
    Before, the installer's list still showed it, while their reports of it were 403."""
    with planned_day(database_url) as day:
        job_id = day.jobs[-1]["job_id"]
        later = (dt.date.fromisoformat(SAMPLE_DAY) + dt.timedelta(days=1)).isoformat()
        shown = job(day, job_id)
        moved = {**shown, "date": later, "windows": [], "preferred_window": None}
        assert day.client.put(f"/v1/jobs/{job_id}", json=moved, headers=DISPATCHER).status_code == 200

        def listed(date: str) -> set[str]:
            got = day.client.get("/v1/jobs", params={"date": date}, headers=DISPATCHER).json()
            return {j["id"] for j in got}

        assert job_id in listed(SAMPLE_DAY) and job_id in listed(later)
        assert job_id not in {
            m["job_id"] for m in day.client.get("/v1/me/jobs", params={"date": SAMPLE_DAY}, headers=day.me).json()
        }
        live = day.client.get("/v1/live", params={"date": SAMPLE_DAY}, headers=DISPATCHER).json()
        assert job_id not in {v["job_id"] for t in live["technicians"] for v in t["visits"]}
        arrival = dt.datetime.fromisoformat(day.jobs[-1]["arrival"])
        refused = post(day, job_id, "arrived", arrival)
        assert (refused.status_code, refused.json()["field"]) == (403, "job_id")
        # A plan of the published day leaves it out, saying why; published, it takes the
        # job off that day's list.
        replan = publish_new_plan(day.client)
        [left] = [u for u in replan["unassigned"] if u["job_id"] == job_id]
        assert left["code"] == "needs_horizon" and left["reason"].startswith(f"Dated {later} now")
        assert job_id not in listed(SAMPLE_DAY) and job_id in listed(later)
