"""``GET /v1/plans/{id}/events``: a plan run followed as server-sent events.

Against real ``python -m api`` processes: one over a SQLite file, and two over
PostgreSQL, where the run is started through one process and followed through the
other (the stream reads the run's row, not the state of the process solving it).
Then once through FastAPI's TestClient, and once through an in-process uvicorn to
see the server's loop stop when the client goes away.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from api import create_app
from dispatch.settings import PlanEventSettings
from tests.api.conftest import ADMIN, DISPATCHER, POSTGRES_URL, SAMPLE_DAY, auth, reset_postgres, run_plan, settings_for
from tests.api.test_e2e_uvicorn import (
    CLIENT_LIMITS,
    JOBS,
    Server,
    free_port,
    job,
    start_server,
    stop_server,
    technician,
)
from tests.conftest import today

STATUS_ORDER = {"queued": 0, "running": 1, "done": 2, "failed": 2, "cancelled": 2}
STATE_FIELDS = ("id", "status", "phase", "progress", "first_answer_s", "error", "attempt")
KEEPALIVE_S = 1.0
"""The served APIs' keep-alive interval here (15 s in production), so a test sees one soon."""


@dataclass(frozen=True)
class Event:
    """One server-sent event: its type and its JSON data."""

    kind: str
    data: dict[str, Any]


@dataclass
class Stream:
    """What a client read from an event stream until the server closed it."""

    events: list[Event]
    comments: list[str]


def read_stream(lines: Iterator[str]) -> Stream:
    """Parse ``text/event-stream`` lines (the subset the API sends: ``event``, ``data``
    and comments) until the stream ends."""
    events: list[Event] = []
    comments: list[str] = []
    kind, data = "message", []
    for line in lines:
        if line.startswith(":"):
            comments.append(line[1:].strip())
        elif line.startswith("event:"):
            kind = line[len("event:") :].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:") :].strip())
        elif line == "" and data:
            events.append(Event(kind, json.loads("\n".join(data))))
            kind, data = "message", []
    return Stream(events, comments)


def first_event(lines: Iterator[str]) -> Event:
    """Read one event off an open stream (its lines up to the blank line that ends it)."""
    read = []
    for line in lines:
        read.append(line)
        if line == "":
            break
    [event] = read_stream(iter(read)).events
    return event


def follow(client: httpx.Client, plan_id: int, headers: dict[str, str] = DISPATCHER) -> Stream:
    """Open the plan's event stream and read it to its end."""
    with client.stream("GET", f"/v1/plans/{plan_id}/events", headers=headers) as response:
        assert response.status_code == 200, response.read().decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        return read_stream(response.iter_lines())


def set_up_day(client: httpx.Client, day: dt.date) -> None:
    """Four installers and the e2e test's jobs: enough that a run uses its whole time limit."""
    homes = {"E1": (60.17, 24.94), "E2": (60.25, 25.00), "E3": (60.21, 24.66), "E4": (60.19, 24.90)}
    for tech_id, (lat, lon) in homes.items():
        created = client.put(f"/v1/technicians/{tech_id}", json=technician(day, lat, lon), headers=DISPATCHER)
        assert created.status_code == 201, created.text
    for n in range(JOBS):
        created = client.put(f"/v1/jobs/J{n + 1:02d}", json=job(day, n), headers=DISPATCHER)
        assert created.status_code == 201, created.text


def start(client: httpx.Client, day: dt.date, time_limit_s: float) -> int:
    started = client.post("/v1/plans", json={"date": day.isoformat(), "time_limit_s": time_limit_s}, headers=DISPATCHER)
    assert started.status_code == 202, started.text
    plan_id: int = started.json()["id"]
    return plan_id


@dataclass
class Served:
    """Where runs are started (``solver``) and where they are followed (``follower``):
    the same process on SQLite, two processes on PostgreSQL."""

    solver: httpx.Client
    follower: httpx.Client
    day: dt.date


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp(f"plan-events-{request.param}")
    servers: list[Server] = []
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PLAN_EVENTS_KEEPALIVE_S", str(KEEPALIVE_S))
        env.setenv("SOLVER_WORKERS", "1")
        try:
            if request.param == "postgres":
                reset_postgres()
                servers.append(start_server(tmp, POSTGRES_URL))
                servers.append(start_server(tmp, POSTGRES_URL))  # the same database, a second process
            else:
                servers.append(start_server(tmp, f"sqlite:///{tmp / 'events.db'}"))
            day = today() + dt.timedelta(days=2)
            with (
                httpx.Client(base_url=servers[0].base_url, timeout=30, limits=CLIENT_LIMITS) as solver,
                httpx.Client(base_url=servers[-1].base_url, timeout=30, limits=CLIENT_LIMITS) as follower,
            ):
                set_up_day(solver, day)
                yield Served(solver, follower, day)
        finally:
            for server in servers:
                stop_server(server)


def test_a_stream_follows_a_run_to_its_end_in_order_from_any_api_process(served: Served) -> None:
    plan_id = start(served.solver, served.day, time_limit_s=3)
    stream = follow(served.follower, plan_id)

    *progress, end = stream.events
    assert [e.kind for e in progress] == ["progress"] * len(progress)
    assert end.kind == "end" and end.data["status"] == "done"
    assert end.data == progress[-1].data  # the terminal state, told as progress and then as the end
    assert all(e.data["id"] == plan_id and tuple(e.data) == STATE_FIELDS for e in stream.events)
    statuses = [STATUS_ORDER[e.data["status"]] for e in progress]
    assert statuses == sorted(statuses), [e.data for e in progress]
    fractions = [e.data["progress"] for e in progress]
    assert fractions == sorted(fractions), fractions
    assert len({f for f in fractions if 0 < f < 1}) >= 2, f"progress was not pushed as it moved: {fractions}"
    # Every event is a change: the stream does not repeat a state.
    assert all(a.data != b.data for a, b in itertools.pairwise(progress))

    final = served.follower.get(f"/v1/plans/{plan_id}", headers=DISPATCHER).json()
    assert {k: final[k] for k in STATE_FIELDS} == end.data
    assert final["progress"] == 1.0 and len(final["routes"]) > 0


def test_a_stream_on_a_finished_run_sends_its_state_and_end_at_once(served: Served) -> None:
    plan_id = start(served.solver, served.day, time_limit_s=1)
    follow(served.solver, plan_id)  # to its end

    stream = follow(served.follower, plan_id)

    final = served.follower.get(f"/v1/plans/{plan_id}", headers=DISPATCHER).json()
    state = {k: final[k] for k in STATE_FIELDS}
    assert stream.events == [Event("progress", state), Event("end", state)]
    assert stream.comments == []


def test_a_run_waiting_in_the_queue_gets_keep_alive_comments_until_it_moves(served: Served) -> None:
    # One solver thread per API process (two processes on PostgreSQL share the queue):
    # the third run waits while the first two solve.
    first = start(served.solver, served.day, time_limit_s=4)
    second = start(served.solver, served.day, time_limit_s=4)
    waiting = start(served.solver, served.day, time_limit_s=1)

    stream = follow(served.follower, waiting)

    assert stream.events[0].data["status"] == "queued"
    assert stream.events[-1] == Event("end", stream.events[-2].data)
    assert stream.events[-1].data["status"] == "done"
    assert "keep-alive" in stream.comments, stream
    assert follow(served.follower, first).events[-1].data["status"] == "done"
    assert follow(served.follower, second).events[-1].data["status"] == "done"


def test_a_cancelled_run_ends_its_stream_with_cancelled(served: Served) -> None:
    plan_id = start(served.solver, served.day, time_limit_s=30)
    with served.follower.stream("GET", f"/v1/plans/{plan_id}/events", headers=DISPATCHER) as response:
        lines = response.iter_lines()
        # Cancel once the stream has told the first state, then read on to the end.
        first = first_event(lines)
        cancelled = served.solver.post(f"/v1/plans/{plan_id}/cancel", headers=DISPATCHER)
        assert cancelled.status_code == 202, cancelled.text
        rest = read_stream(lines)
    told = [first, *rest.events]
    assert told[-1].kind == "end" and told[-1].data["status"] == "cancelled"
    assert [e.kind for e in told[:-1]] == ["progress"] * (len(told) - 1)


def test_a_stream_closes_without_end_once_its_token_is_revoked(served: Served) -> None:
    issued = served.solver.post("/v1/tokens", json={"role": "dispatcher"}, headers=DISPATCHER).json()
    # One per API process's solver thread: the third waits in the queue.
    blockers = [start(served.solver, served.day, time_limit_s=8) for _ in range(2)]
    waiting = start(served.solver, served.day, time_limit_s=1)  # queued while those solve
    with served.follower.stream("GET", f"/v1/plans/{waiting}/events", headers=auth(issued["token"])) as response:
        lines = response.iter_lines()
        assert first_event(lines).kind == "progress"
        revoked = served.solver.delete(f"/v1/tokens/{issued['id']}", headers=DISPATCHER)
        assert revoked.status_code == 200, revoked.text
        rest = read_stream(lines)  # the server closes it: the token is checked again each second here
        run = served.solver.get(f"/v1/plans/{waiting}", headers=DISPATCHER).json()
    assert run["status"] in ("queued", "running"), "the run ended before the token was checked again"
    assert [e.kind for e in rest.events] == ["progress"] * len(rest.events)
    for plan_id in (*blockers, waiting):
        assert follow(served.follower, plan_id).events[-1].data["status"] == "done"


def test_an_unknown_plan_is_a_404_naming_plan_id(served: Served) -> None:
    response = served.follower.get("/v1/plans/999999/events", headers=DISPATCHER)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == "plan_id"


def test_only_a_dispatcher_may_follow_a_run(served: Served) -> None:
    plan_id = start(served.solver, served.day, time_limit_s=1)
    installer = served.solver.post(
        "/v1/tokens", json={"role": "installer", "technician_id": "E1"}, headers=DISPATCHER
    ).json()["token"]
    booking = served.solver.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"]
    for token in (installer, booking):
        refused = served.follower.get(f"/v1/plans/{plan_id}/events", headers=auth(token))
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert served.follower.get(f"/v1/plans/{plan_id}/events").status_code == 401
    assert follow(served.follower, plan_id).events[-1].kind == "end"


# --- in process ---------------------------------------------------------------------


def test_the_test_client_reads_a_finished_run_s_state_and_end(client: TestClient) -> None:
    plan = run_plan(client, SAMPLE_DAY, time_limit_s=1)
    with client.stream("GET", f"/v1/plans/{plan['id']}/events", headers=DISPATCHER) as response:
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"  # authenticated data, as every other answer
        stream = read_stream(response.iter_lines())
    state = {k: plan[k] for k in STATE_FIELDS}
    assert stream.events == [Event("progress", state), Event("end", state)]
    documented = client.get("/openapi.json").json()["paths"]["/v1/plans/{plan_id}/events"]["get"]
    assert "text/event-stream" in documented["responses"]["200"]["content"]
    assert "Last-Event-ID" in documented["description"]


def test_the_server_stops_following_a_run_once_its_client_has_gone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'dispatch.db'}")
    settings = dataclasses.replace(settings, plan_events=PlanEventSettings(poll_s=0.05, keepalive_s=60))
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "the API did not start"
            time.sleep(0.05)
        caplog.set_level(logging.DEBUG, logger="api.routers.plans")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=auth(ADMIN), timeout=30) as http:
            plan_id = start(http, dt.date.fromisoformat(SAMPLE_DAY), time_limit_s=20)
            with http.stream("GET", f"/v1/plans/{plan_id}/events") as response:
                assert next(response.iter_lines()) == "event: progress"
            closed = f"plan {plan_id} events: stream closed"
            for _ in range(200):  # up to 10 s; the loop wakes every 0.05 s
                if any(closed in r.getMessage() for r in caplog.records):
                    break
                time.sleep(0.05)
            assert any(closed in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]
            assert http.post(f"/v1/plans/{plan_id}/cancel").status_code == 202
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        app.state.dispatch.runner.shutdown()
