"""The event feed (docs/feed.md): what changed, for whom, oldest first, resumable
by cursor; told by publishing, field events, bookings and cancellations; each role
sees only its own; on SQLite and on PostgreSQL, where concurrent writers must
never make a reader skip an event."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from dispatch import feed, planning
from dispatch.auth import Principal
from dispatch.clock import SYSTEM_CLOCK
from dispatch.db import make_engine, migrate
from dispatch.inputs import JobIn
from dispatch.tables import DeliveryRow, FeedEventRow, JobRow, PlanRow, VisitRow, WebhookRow
from tests.api.conftest import DISPATCHER, SAMPLE_DAY, auth
from tests.api.test_live_day import planned_day, publish_new_plan
from tests.conftest import today

HELSINKI = ZoneInfo("Europe/Helsinki")
BOOKING_DAY = today() + dt.timedelta(days=7)


def events(client: TestClient, headers: dict[str, str], after: str | None = None, limit: int = 1000) -> Any:
    params: dict[str, str | int] = {"limit": limit}
    if after is not None:
        params["after"] = after
    response = client.get("/v1/events", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def all_events(client: TestClient, headers: dict[str, str], after: str | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = events(client, headers, after)["events"]
    return found


def visits(plan: dict[str, Any]) -> set[tuple[str, str]]:
    return {(v["job_id"], r["technician_id"]) for r in plan["routes"] for v in r["visits"]}


def test_publishing_tells_the_plan_then_every_assignment_oldest_first(database_url: str) -> None:
    with planned_day(database_url) as day:
        told = all_events(day.client, DISPATCHER)
        ids = [e["id"] for e in told]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        first = told[0]
        assert first["type"] == "plan.published" and first["job_id"] is None
        assert first["data"] == {"plan_id": day.plan["id"], "date": SAMPLE_DAY, "region": "helsinki"}
        assigned = {(e["job_id"], e["technician_id"]) for e in told if e["type"] == "job.assigned"}
        assert assigned == visits(day.plan)
        assert all(e["data"]["plan_id"] == day.plan["id"] for e in told if e["type"] == "job.assigned")
        assert dt.datetime.fromisoformat(first["at"]).utcoffset() == dt.timedelta(0)

        # A second version tells only the visits whose technician changed.
        cursor = events(day.client, DISPATCHER)["next"]
        second = publish_new_plan(day.client)
        later = all_events(day.client, DISPATCHER, cursor)
        assert [e["type"] for e in later][:1] == ["plan.published"]
        again = {(e["job_id"], e["technician_id"]) for e in later if e["type"] == "job.assigned"}
        assert again == visits(second) - visits(day.plan)
        # And the technician each of those was taken from hears it, with whom it went to.
        taken = {(e["job_id"], e["technician_id"]) for e in later if e["type"] == "job.unassigned"}
        assert taken == visits(day.plan) - visits(second)
        now_with = {job_id: tech for job_id, tech in visits(second)}
        for e in later:
            if e["type"] == "job.unassigned":
                assert e["data"] == {"technician_id": e["technician_id"], "plan_id": second["id"]} | {
                    "to": [now_with[e["job_id"]]] if e["job_id"] in now_with else []
                }


def test_a_reader_resumes_from_its_cursor_and_pages_by_limit_without_skipping_or_repeating(
    database_url: str,
) -> None:
    with planned_day(database_url) as day:
        whole = all_events(day.client, DISPATCHER)
        paged: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = events(day.client, DISPATCHER, cursor, limit=7)
            assert len(page["events"]) <= 7
            if not page["events"]:
                assert page["next"] == cursor
                break
            paged += page["events"]
            cursor = page["next"]
        assert paged == whole

        # Nothing new: the same cursor back; something new: only that.
        assert events(day.client, DISPATCHER, cursor) == {"events": [], "next": cursor}
        job_id = next(j for j, t in visits(day.plan) if t == day.technician_id)
        arrival = dt.datetime.combine(dt.date.fromisoformat(SAMPLE_DAY), dt.time(9), tzinfo=HELSINKI)
        body = {"type": "en_route", "at": arrival.isoformat()}
        assert day.client.post(f"/v1/jobs/{job_id}/events", json=body, headers=day.me).status_code == 201
        [new] = all_events(day.client, DISPATCHER, cursor)
        assert new["type"] == "job.status" and new["job_id"] == job_id


def test_field_events_tell_the_job_status_once_and_a_failure_its_reason(database_url: str) -> None:
    with planned_day(database_url) as day:
        cursor = events(day.client, DISPATCHER)["next"]
        job_id = next(j for j, t in sorted(visits(day.plan)) if t == day.technician_id)
        arrival = dt.datetime.combine(dt.date.fromisoformat(SAMPLE_DAY), dt.time(9), tzinfo=HELSINKI)

        def report(kind: str, minutes: int, **extra: str) -> int:
            body = {"type": kind, "at": (arrival + dt.timedelta(minutes=minutes)).isoformat(), **extra}
            response = day.client.post(f"/v1/jobs/{job_id}/events", json=body, headers=day.me)
            return response.status_code

        assert report("en_route", -20) == 201
        assert report("en_route", -20) == 200  # the same event again: stored once, told once
        assert report("arrived", 0) == 201
        assert report("failed", 15, reason="parts_missing") == 201
        told = all_events(day.client, DISPATCHER, cursor)
        assert [e["type"] for e in told] == ["job.status"] * 3
        assert [e["data"]["status"] for e in told] == ["en_route", "on_site", "open"]
        assert [e["data"]["event_type"] for e in told] == ["en_route", "arrived", "failed"]
        assert [e["data"]["reason"] for e in told] == [None, None, "parts_missing"]
        assert {e["technician_id"] for e in told} == {day.technician_id}
        assert dt.datetime.fromisoformat(told[-1]["data"]["event_at"]) == arrival + dt.timedelta(minutes=15)


def test_cancelling_a_job_tells_its_technician_once(database_url: str) -> None:
    with planned_day(database_url) as day:
        cursor = events(day.client, DISPATCHER)["next"]
        job_id = next(j for j, t in sorted(visits(day.plan)) if t == day.technician_id)
        assert day.client.delete(f"/v1/jobs/{job_id}", headers=DISPATCHER).status_code == 200
        assert day.client.delete(f"/v1/jobs/{job_id}", headers=DISPATCHER).status_code == 200
        [told] = all_events(day.client, DISPATCHER, cursor)
        assert told["type"] == "job.status" and told["job_id"] == job_id
        assert told["technician_id"] == day.technician_id and told["data"] == {"status": "cancelled"}
        assert told in all_events(day.client, day.me)


def test_both_technicians_of_a_crew_job_are_told_of_its_cancellation(database_url: str) -> None:
    """Before, a change to a crew job was told to the first of its two technicians only:
    the second never saw its cancellation in their feed."""
    with planned_day(database_url) as day:
        crews: dict[str, list[str]] = {}
        for job_id, tech_id in sorted(visits(day.plan)):
            crews.setdefault(job_id, []).append(tech_id)
        job_id, pair = next((j, t) for j, t in crews.items() if len(t) == 2)
        phones = [
            auth(
                day.client.post(
                    "/v1/tokens", json={"role": "installer", "technician_id": t}, headers=DISPATCHER
                ).json()["token"]
            )
            for t in pair
        ]
        cursors = [events(day.client, phone)["next"] for phone in phones]
        assert day.client.delete(f"/v1/jobs/{job_id}", headers=DISPATCHER).status_code == 200
        for phone, cursor in zip(phones, cursors, strict=True):
            told = all_events(day.client, phone, cursor)
            assert [(e["type"], e["job_id"], e["data"]) for e in told] == [
                ("job.status", job_id, {"status": "cancelled"})
            ]
        # Told once: the dispatcher's feed has the one event.
        assert len([e for e in all_events(day.client, DISPATCHER) if e["data"] == {"status": "cancelled"}]) == 1


def test_an_installer_sees_only_their_own_events_and_the_booking_role_only_its_bookings(
    database_url: str,
) -> None:
    with planned_day(database_url) as day:
        client = day.client
        mine = all_events(client, day.me)
        assert mine and {e["technician_id"] for e in mine} == {day.technician_id}
        assert {e["job_id"] for e in mine} == {j for j, t in visits(day.plan) if t == day.technician_id}
        assert all(e["type"] != "plan.published" for e in mine)

        # The booking role: a booking a week ahead, told to the token that made it only.
        tech = {
            "home": {"lat": 60.17, "lon": 24.94},
            "shifts": [{"date": BOOKING_DAY.isoformat(), "start": "08:00", "end": "16:00"}],
        }
        assert client.put("/v1/technicians/B1", json=tech, headers=DISPATCHER).status_code == 201
        booker, other = (
            auth(client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"])
            for _ in range(2)
        )
        assert all_events(client, booker) == []
        wanted = {"kind": "repair", "location": {"lat": 60.18, "lon": 24.95}, "duration_min": 30}
        found = client.post(
            "/v1/slots/search", json={**wanted, "date_from": BOOKING_DAY.isoformat()}, headers=booker
        ).json()
        slot = found["slots"][0]
        booked = client.post(
            "/v1/bookings",
            json={
                **wanted,
                "customer": {"name": "C", "phone": "1"},
                "slot": {"start": slot["start"], "end": slot["end"]},
            },
            headers={**booker, "Idempotency-Key": "feed-1"},
        )
        assert booked.status_code == 201, booked.text
        job_id = booked.json()["job_id"]

        told = all_events(client, booker)
        assert [e["type"] for e in told] == ["job.status", "job.window"]
        assert {e["job_id"] for e in told} == {job_id}
        assert told[0]["data"]["status"] == "booked"
        window = told[1]["data"]
        assert window["confirmed"] is True
        assert dt.datetime.fromisoformat(window["start"]) == dt.datetime.fromisoformat(slot["start"])
        assert dt.datetime.fromisoformat(window["end"]) == dt.datetime.fromisoformat(slot["end"])
        assert all_events(client, other) == []
        assert all(e["job_id"] != job_id for e in all_events(client, day.me))
        assert client.delete(f"/v1/bookings/{job_id}", headers=booker).status_code == 200
        statuses = [e["data"]["status"] for e in all_events(client, booker) if e["type"] == "job.status"]
        assert statuses == ["booked", "cancelled"]
        # The dispatcher sees everything, the booking's events included.
        assert {e["id"] for e in all_events(client, DISPATCHER)} >= {e["id"] for e in told + mine}


def test_a_bad_cursor_or_limit_is_a_422_naming_it(client: TestClient) -> None:
    for params, field in (
        ({"after": "yesterday"}, "after"),
        ({"after": "-1"}, "after"),
        ({"after": "1" * 41}, "after"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "many"}, "limit"),
    ):
        response = client.get("/v1/events", params=params, headers=DISPATCHER)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["field"] == field
    assert client.get("/v1/events").status_code == 401


def test_a_cursor_past_the_newest_event_is_a_422_naming_after_rather_than_a_page_that_skips_what_comes(
    database_url: str,
) -> None:
    """A cursor the feed never handed out (past its newest event) was answered with no
    events and itself as ``next``: a client paging on with it never saw the events
    written up to it. The newest event's own id is still a cursor (nothing new)."""
    with planned_day(database_url) as day:
        newest = events(day.client, DISPATCHER)["next"]
        assert events(day.client, DISPATCHER, newest) == {"events": [], "next": newest}
        for beyond in (str(int(newest) + 1), "100000"):
            refused = day.client.get("/v1/events", params={"after": beyond}, headers=DISPATCHER)
            assert refused.status_code == 422, refused.text
            assert refused.json()["field"] == "after"
            assert "past the feed's newest event" in refused.json()["detail"]


def test_concurrent_writers_never_make_a_reader_skip_an_event(database_url: str) -> None:
    """Writers that take their feed id and commit a little later, all at once, while a
    reader pages with its cursor: the reader ends with every committed event, in order."""
    engine = make_engine(database_url)
    migrate(engine)
    dispatcher = Principal("dispatcher")
    committed: list[int] = []
    lock = threading.Lock()
    done = threading.Event()

    def write(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(15):
            with Session(engine) as session:
                row = feed.emit(
                    session, feed.JOB_ETA, job_id=None, technician_id=None, data={"n": seed}, now=SYSTEM_CLOCK.now()
                )
                time.sleep(rng.uniform(0, 0.01))  # the rest of the transaction, after the emit
                session.commit()
                with lock:
                    committed.append(row.id or 0)

    seen: list[int] = []

    def read() -> None:
        cursor: str | None = None
        while True:
            finished = done.is_set()
            with Session(engine) as session:
                page = feed.events_after(session, dispatcher, cursor, 1000)
            seen.extend(r.id or 0 for r in page.events)
            cursor = page.next
            if finished and not page.events:
                return

    writers = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    reader = threading.Thread(target=read)
    reader.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join(timeout=60)
    done.set()
    reader.join(timeout=60)
    engine.dispose()
    assert seen == sorted(seen)
    assert sorted(seen) == sorted(committed) and len(committed) == 90


def test_publishing_tells_a_customer_window_only_when_it_is_set_and_changed(tmp_path: Path) -> None:
    """The visits' customer windows (filled by plan runs once promises are built) are
    told on publishing when they differ from the previous published plan's."""
    engine = make_engine(f"sqlite:///{tmp_path / 'windows.db'}")
    migrate(engine)
    now = SYSTEM_CLOCK.now()
    day = dt.date.fromisoformat(SAMPLE_DAY)
    nine = dt.datetime.combine(day, dt.time(9), tzinfo=HELSINKI)

    def plan_with(window_start: dt.datetime | None) -> int:
        with Session(engine) as session:
            plan = PlanRow(date=day, region="r", status="done", created_at=now)
            session.add(plan)
            session.flush()
            assert plan.id is not None
            window_end = window_start + dt.timedelta(hours=1) if window_start else None
            session.add(
                VisitRow(
                    plan_id=plan.id,
                    technician_id="T1",
                    job_id="J1",
                    seq=0,
                    arrival=nine,
                    start=nine,
                    end=nine + dt.timedelta(hours=1),
                    travel_min=0,
                    distance_km=0,
                    window_start=window_start,
                    window_end=window_end,
                )
            )
            session.commit()
            return plan.id

    def publish_and_tell(plan_id: int) -> list[tuple[str, dict[str, Any]]]:
        with Session(engine) as session:
            cursor = feed.events_after(session, Principal("dispatcher"), None, 1000).next
            planning.publish(session, plan_id, now=now, tz=ZoneInfo("Europe/Helsinki"))
            session.commit()
            told = feed.events_after(session, Principal("dispatcher"), cursor, 1000).events
            return [(e.type, e.data) for e in told if e.type != "plan.published"]

    first = publish_and_tell(plan_with(nine))
    assert first == [
        ("job.assigned", {"technician_id": "T1", "plan_id": 1}),
        (
            "job.window",
            {
                "start": nine.astimezone(dt.UTC).isoformat(),
                "end": (nine + dt.timedelta(hours=1)).astimezone(dt.UTC).isoformat(),
                "confirmed": False,
            },
        ),
    ]
    assert publish_and_tell(plan_with(nine)) == []  # the same technician and window
    moved = publish_and_tell(plan_with(nine + dt.timedelta(hours=2)))
    assert [kind for kind, _ in moved] == ["job.window"]
    assert publish_and_tell(plan_with(None)) == []  # no window yet: nothing to tell
    engine.dispose()


def test_republishing_a_crew_job_whose_two_technicians_arrive_apart_tells_its_customer_nothing(
    tmp_path: Path,
) -> None:
    """A crew's customer hears one arrival, the first of the two: a new plan version that
    keeps the crew's arrivals (T1 at 09:00, T2 at 09:40) tells no new time."""
    engine = make_engine(f"sqlite:///{tmp_path / 'crew.db'}")
    migrate(engine)
    now = SYSTEM_CLOCK.now()
    day = dt.date.fromisoformat(SAMPLE_DAY)
    nine = dt.datetime.combine(day, dt.time(9), tzinfo=HELSINKI)
    with Session(engine) as session:
        session.add(
            JobRow(
                id="CREW",
                region="r",
                date=day,
                status="scheduled",
                lat=60.2,
                lon=24.9,
                duration_min=120,
                crew_size=2,
                created_at=now,
                updated_at=now,
            )
        )
        session.commit()

    def plan_of_crew() -> int:
        with Session(engine) as session:
            plan = PlanRow(date=day, region="r", status="done", created_at=now)
            session.add(plan)
            session.flush()
            assert plan.id is not None
            start = nine + dt.timedelta(minutes=40)
            for tech_id, arrival in (("T1", nine), ("T2", start)):
                session.add(
                    VisitRow(
                        plan_id=plan.id,
                        technician_id=tech_id,
                        job_id="CREW",
                        seq=1,
                        arrival=arrival,
                        start=start,
                        end=start + dt.timedelta(hours=2),
                        travel_min=10,
                        distance_km=5,
                    )
                )
            session.commit()
            return plan.id

    def publish_and_tell(plan_id: int) -> list[str]:
        with Session(engine) as session:
            cursor = feed.events_after(session, Principal("dispatcher"), None, 1000).next
            planning.publish(session, plan_id, now=now, tz=ZoneInfo("Europe/Helsinki"))
            session.commit()
            return [e.type for e in feed.events_after(session, Principal("dispatcher"), cursor, 1000).events]

    assert "job.eta" not in publish_and_tell(plan_of_crew())
    assert "job.eta" not in publish_and_tell(plan_of_crew())
    engine.dispose()


def test_events_emitted_together_take_ids_in_order_and_one_delivery_per_subscribed_webhook(
    database_url: str,
) -> None:
    """PostgreSQL writes them in one statement, SQLite in three: the same rows either way."""
    engine = make_engine(database_url)
    migrate(engine)
    now = SYSTEM_CLOCK.now()
    with Session(engine) as session:
        hooks = [
            WebhookRow(url="http://127.0.0.1:9/a", secret="s", types=[feed.JOB_STATUS], created_at=now),
            WebhookRow(
                url="http://127.0.0.1:9/b", secret="s", types=[feed.JOB_WINDOW, feed.JOB_STATUS], created_at=now
            ),
        ]
        session.add_all(hooks)
        session.commit()
        hook_ids = [h.id for h in hooks]
        events = [
            feed.NewEvent(feed.JOB_STATUS, "J-together", None, {"status": "booked"}),
            feed.NewEvent(feed.JOB_WINDOW, "J-together", None, {"start": now}),
            feed.NewEvent(feed.JOB_ETA, "J-together", "T1", {"n": 1}),
        ]
        rows = feed.emit_all(session, events, now=now)
        session.commit()
        ids = [r.id for r in rows]
        stored = session.exec(select(FeedEventRow).where(col(FeedEventRow.job_id) == "J-together")).all()
        deliveries = session.exec(select(DeliveryRow).where(col(DeliveryRow.event_id).in_(ids))).all()
    engine.dispose()
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert [(r.id, r.type, r.technician_id) for r in sorted(stored, key=lambda r: r.id or 0)] == [
        (ids[0], feed.JOB_STATUS, None),
        (ids[1], feed.JOB_WINDOW, None),
        (ids[2], feed.JOB_ETA, "T1"),
    ]
    assert next(r for r in stored if r.type == feed.JOB_WINDOW).data == {"start": feed.json_value(now)}
    assert sorted((d.event_id, d.webhook_id, d.state) for d in deliveries) == [
        (ids[0], hook_ids[0], "pending"),
        (ids[0], hook_ids[1], "pending"),
        (ids[1], hook_ids[1], "pending"),
    ]


def test_two_dispatchers_cancelling_or_confirming_a_job_at_once_tell_the_feed_once(database_url: str) -> None:
    """The second request read the job before the first committed. Before, it cancelled
    (or confirmed) it again: the feed, and every webhook, told the change twice."""
    with planned_day(database_url) as day:
        state = day.client.app.state.dispatch  # type: ignore[attr-defined]
        [cancelled, confirmed] = [j["job_id"] for j in day.jobs[:2]]
        cursor = events(day.client, DISPATCHER)["next"]
        stored = day.client.get(f"/v1/jobs/{confirmed}", headers=DISPATCHER).json()
        body = {k: v for k, v in stored.items() if k in JobIn.model_fields}
        confirm = JobIn.model_validate({**body, "confirmed": True})

        def twice(change: Callable[[Session], object]) -> None:
            with Session(state.engine) as first, Session(state.engine) as second:
                change(first)
                racing = threading.Thread(target=lambda: (change(second), second.commit()))
                racing.start()
                racing.join(0.5)  # it waits for the first's lock on the day
                first.commit()
                racing.join()

        twice(lambda s: state.booking.cancel(s, cancelled, state.clock.now()))
        twice(lambda s: state.booking.put_job(s, confirmed, confirm, None, state.clock.now()))
        told = [(e["type"], e["job_id"]) for e in all_events(day.client, DISPATCHER, cursor)]
        assert told == [("job.status", cancelled), ("job.window", confirmed)], told
