"""End to end through a real uvicorn process started with ``python -m api``:
a dispatcher sets up a day over HTTP, plans and publishes it, an installer
fetches their jobs and calendar and reports, and the day's KPIs show it.
Runs on a fresh SQLite file (one worker) and on PostgreSQL (two workers)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from icalendar import Calendar

from tests.api.conftest import ADMIN, POSTGRES_URL, auth, reset_postgres
from tests.conftest import served_env, today

ROOT = Path(__file__).resolve().parents[2]
HELSINKI = ZoneInfo("Europe/Helsinki")
DISPATCHER = auth(ADMIN)

CLIENT_LIMITS = httpx.Limits(keepalive_expiry=2.0)
"""For clients of a served API: an idle connection is dropped after 2 s, well before
uvicorn closes it (5 s). A request sent on a connection the server is closing at that
moment fails with "Server disconnected without sending a response"; a test that paused
about 5 s between two requests on one client met it."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A running ``python -m api`` and where to reach it."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_server(
    tmp_path: Path,
    database_url: str,
    workers: int = 1,
    admin_token: str | None = ADMIN,
    seed: bool = False,
    extra_env: dict[str, str] | None = None,
) -> Server:
    """Start the API on a free loopback port (its clock at this suite's present; ``extra_env``
    added to its environment) and wait until it answers."""
    port = free_port()
    env = served_env(
        {k: v for k, v in os.environ.items() if k not in ("PORT", "HOST", "WEB_CONCURRENCY", "DISPATCH_ADMIN_TOKEN")}
    )
    env.update(DATABASE_URL=database_url, DISPATCH_SEED_SAMPLES="1" if seed else "0", PYTHONUNBUFFERED="1")
    env.update(extra_env or {})
    if admin_token is not None:
        env["DISPATCH_ADMIN_TOKEN"] = admin_token
    log = tmp_path / f"server-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "api", "--port", str(port), "--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}:\n{server.output()}")
        try:
            if httpx.get(f"{server.base_url}/openapi.json", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise AssertionError(f"the server did not answer within 90 s:\n{server.output()}")


def stop_server(server: Server) -> None:
    """SIGTERM, then wait for a clean exit (kill only if it hangs)."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
            raise AssertionError(f"the server did not stop on SIGTERM:\n{server.output()}") from None
    print(server.output()[-4000:])  # shown by pytest when the test failed


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """The API on a fresh SQLite file with one worker, or on PostgreSQL with two."""
    if request.param == "postgres":
        reset_postgres()
        running = start_server(tmp_path, POSTGRES_URL, workers=2)
    else:
        running = start_server(tmp_path, f"sqlite:///{tmp_path / 'e2e.db'}")
    try:
        yield running
    finally:
        stop_server(running)


def at(day: dt.date, clock: str) -> str:
    return dt.datetime.combine(day, dt.time.fromisoformat(clock), tzinfo=HELSINKI).isoformat()


def technician(day: dt.date, lat: float, lon: float) -> dict[str, Any]:
    return {
        "name": f"Installer at {lat:.2f}",
        "home": {"lat": lat, "lon": lon},
        "skills": {"wardrobe": 2, "measure": 1},
        "shifts": [
            {
                "date": day.isoformat(),
                "start": "07:30",
                "end": "17:30",
                "break": {"earliest": "11:00", "latest": "13:00", "duration_min": 30},
            }
        ],
        "cost": {"per_hour": 35, "per_km": 0.3},
    }


JOBS = 24  # enough that the search uses its whole time limit, so progress is seen moving


def job(day: dt.date, n: int) -> dict[str, Any]:
    """The n-th job of the test day: spread over Helsinki and the day, a few
    measurements, one crew of two, preferred hours inside the booked windows."""
    kind = "measure" if n % 3 == 0 else "install"
    opens = 8 + 2 * (n % 4)
    return {
        "kind": kind,
        "location": {"lat": 60.15 + 0.013 * (n % 7), "lon": 24.80 + 0.03 * (n % 9)},
        "address": f"Testikatu {n + 1}, Helsinki",
        "customer": {"name": f"Customer {n + 1}", "phone": f"+358 40 000 {n + 1:04d}"},
        "duration_min": 45,
        "skills": {"measure": 1} if kind == "measure" else {"wardrobe": 1},
        "crew_size": 2 if n == 1 else 1,
        "windows": [{"start": at(day, f"{opens:02d}:00"), "end": at(day, f"{opens + 3:02d}:00")}],
        "preferred_window": {"start": at(day, f"{opens:02d}:00"), "end": at(day, f"{opens + 1:02d}:00")},
        "soft_penalty_per_min": 0.5,
        "priority": 2,
        "notes": "ring twice",
    }


def poll_plan(client: httpx.Client, plan_id: int) -> tuple[dict[str, Any], list[tuple[str, float]]]:
    """Poll a plan to its end; returns the final plan and every (status, progress) seen."""
    seen: list[tuple[str, float]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = client.get(f"/v1/plans/{plan_id}", headers=DISPATCHER)
        assert response.status_code == 200, response.text
        plan: dict[str, Any] = response.json()
        seen.append((plan["status"], plan["progress"]))
        if plan["status"] in ("done", "failed", "cancelled"):
            return plan, seen
        time.sleep(0.05)
    raise AssertionError(f"plan {plan_id} did not finish; seen {seen[-5:]}")


@pytest.mark.clock
def test_a_day_is_planned_published_worked_and_reported_over_http(server: Server) -> None:
    day = today() + dt.timedelta(days=2)  # inside the calendar feed's horizon
    with httpx.Client(base_url=server.base_url, timeout=30, limits=CLIENT_LIMITS) as client:
        # The dispatcher sets up the day.
        homes = {"E1": (60.17, 24.94), "E2": (60.25, 25.00), "E3": (60.21, 24.66), "E4": (60.19, 24.90)}
        for tech_id, (lat, lon) in homes.items():
            created = client.put(f"/v1/technicians/{tech_id}", json=technician(day, lat, lon), headers=DISPATCHER)
            assert created.status_code == 201, created.text
        job_ids = sorted(f"J{n + 1:02d}" for n in range(JOBS))
        for n, job_id in enumerate(job_ids):  # J01 is job(day, 0), ...
            created = client.put(f"/v1/jobs/{job_id}", json=job(day, n), headers=DISPATCHER)
            assert created.status_code == 201, created.text
        listed = client.get("/v1/jobs", params={"date": day.isoformat()}, headers=DISPATCHER).json()
        assert sorted(j["id"] for j in listed) == job_ids

        # A plan run: accepted at once, progress moves while it runs, then done.
        started = client.post("/v1/plans", json={"date": day.isoformat(), "time_limit_s": 3}, headers=DISPATCHER)
        assert started.status_code == 202, started.text
        assert started.json()["status"] == "queued"
        plan, seen = poll_plan(client, started.json()["id"])
        assert plan["status"] == "done", plan.get("error")
        assert plan["progress"] == 1.0
        running = [p for status, p in seen if status == "running"]
        assert len({p for p in running if 0 < p < 1}) >= 2, f"progress did not move: {seen}"
        progress = [p for _, p in seen]
        assert progress == sorted(progress), f"progress went back: {seen}"
        served = {v["job_id"] for r in plan["routes"] for v in r["visits"]}
        assert served == set(job_ids), plan["unassigned"]  # the day has room for every job
        assert plan["published"] is False

        # Publishing makes it the day's plan.
        published = client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER)
        assert published.status_code == 200 and published.json()["published"] is True
        versions = client.get("/v1/plans", params={"date": day.isoformat()}, headers=DISPATCHER).json()
        assert [(v["id"], v["published"]) for v in versions] == [(plan["id"], True)]
        before = client.get("/v1/kpis", params={"date": day.isoformat()}, headers=DISPATCHER).json()
        assert before["published_plan_id"] == plan["id"]
        assert before["on_time_rate"] is None and before["first_time_fix"] is None

        # The busiest installer gets a token and sees exactly their route.
        route = max(plan["routes"], key=lambda r: len(r["visits"]))
        assert len(route["visits"]) >= 2
        issued = client.post(
            "/v1/tokens", json={"role": "installer", "technician_id": route["technician_id"]}, headers=DISPATCHER
        )
        assert issued.status_code == 201, issued.text
        me = auth(issued.json()["token"])
        mine = client.get("/v1/me/jobs", params={"date": day.isoformat()}, headers=me)
        assert mine.status_code == 200, mine.text
        jobs = mine.json()
        assert [j["job_id"] for j in jobs] == [v["job_id"] for v in route["visits"]]
        assert all(j["customer"]["name"].startswith("Customer") and j["notes"] == "ring twice" for j in jobs)

        feed = client.get("/v1/me/calendar.ics", headers=me)
        assert feed.status_code == 200
        assert feed.headers["content-type"].startswith("text/calendar")
        events = Calendar.from_ical(feed.text).walk("VEVENT")
        assert sorted(str(e["uid"]).split("-")[0] for e in events) == sorted(j["job_id"] for j in jobs)

        # Someone else's job; not the crew job, which may be on both routes.
        own = {j["job_id"] for j in jobs}
        other = next(v["job_id"] for r in plan["routes"] for v in r["visits"] if v["job_id"] not in own)
        refused = client.post(f"/v1/jobs/{other}/events", json={"type": "arrived"}, headers=me)
        assert refused.status_code == 403

        # First job: on the way, arrives as planned, done on the first visit.
        first, second = jobs[0], jobs[1]
        arrival = dt.datetime.fromisoformat(first["arrival"])
        for kind, moment in (
            ("en_route", arrival - dt.timedelta(minutes=20)),
            ("arrived", arrival),
            ("completed", dt.datetime.fromisoformat(first["end"])),
        ):
            posted = client.post(
                f"/v1/jobs/{first['job_id']}/events",
                json={"type": kind, "at": moment.isoformat(), "note": f"{kind} ok"},
                headers=me,
            )
            assert posted.status_code == 201, posted.text
            assert posted.json()["type"] == kind and posted.json()["technician_id"] == route["technician_id"]
        kpis = client.get("/v1/kpis", params={"date": day.isoformat()}, headers=DISPATCHER).json()
        assert (kpis["on_time_rate"], kpis["first_time_fix"]) == (1.0, 1.0)
        assert (kpis["arrivals_reported"], kpis["outcomes_reported"]) == (1, 1)

        # Second job: an hour past the window's end, and it could not be finished.
        late = dt.datetime.fromisoformat(second["windows"][0]["end"]) + dt.timedelta(hours=1)
        for kind, moment in (("arrived", late), ("failed", late + dt.timedelta(minutes=30))):
            posted = client.post(
                f"/v1/jobs/{second['job_id']}/events", json={"type": kind, "at": moment.isoformat()}, headers=me
            )
            assert posted.status_code == 201, posted.text
        kpis = client.get("/v1/kpis", params={"date": day.isoformat()}, headers=DISPATCHER).json()
        assert (kpis["on_time_rate"], kpis["first_time_fix"]) == (0.5, 0.5)
        assert (kpis["arrivals_reported"], kpis["outcomes_reported"]) == (2, 2)
        assert kpis["jobs_served"] == len(job_ids)


def test_a_generated_token_is_printed_once_and_every_worker_accepts_it(tmp_path: Path) -> None:
    reset_postgres()
    running = start_server(tmp_path, POSTGRES_URL, workers=2, admin_token=None)
    try:
        lines = [line for line in running.output().splitlines() if line.startswith("Dispatcher token")]
        assert len(lines) == 1, running.output()
        token = lines[0].rsplit(" ", 1)[1]
        assert f"{running.base_url}/docs" in running.output()
        for _ in range(20):  # a new connection each time, so both workers answer some
            response = httpx.get(f"{running.base_url}/v1/technicians", headers=auth(token), timeout=10)
            assert response.status_code == 200, response.text
    finally:
        stop_server(running)


def test_several_workers_on_sqlite_are_refused_before_anything_starts(tmp_path: Path) -> None:
    database = tmp_path / "never.db"
    result = subprocess.run(
        [sys.executable, "-m", "api", "--workers", "2", "--port", str(free_port())],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{database}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "needs PostgreSQL" in result.stderr
    assert not database.exists()
