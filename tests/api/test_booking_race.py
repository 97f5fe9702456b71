"""The race for the last free capacity of a day, through a real uvicorn server:
many clients at once book the same few hours. Afterwards no two bookings share
capacity only one could use, a full plan run serves every booked job inside its
slot (and the checker, which every run goes through, found nothing), and the
losers got a 409. On PostgreSQL with several workers (row lock), and on SQLite
with one worker and many threads (immediate transaction)."""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.api.conftest import ADMIN, POSTGRES_URL, auth, reset_postgres
from tests.api.test_e2e_uvicorn import start_server, stop_server
from tests.conftest import today

HELSINKI = ZoneInfo("Europe/Helsinki")
DAY = today() + dt.timedelta(days=9)
DISPATCHER = auth(ADMIN)
CLIENTS = 24


def at(clock: str) -> str:
    hours, minutes = clock.split(":")
    return dt.datetime.combine(DAY, dt.time(int(hours), int(minutes)), tzinfo=HELSINKI).isoformat()


def booking(i: int, start: str, end: str) -> dict[str, Any]:
    # Customers spread over a few streets, each wanting a 2-hour wardrobe job in the morning.
    return {
        "kind": "install",
        "location": {"lat": 60.17 + 0.002 * (i % 5), "lon": 24.94 + 0.003 * (i % 7)},
        "duration_min": 120,
        "skills": {"wardrobe": 1},
        "customer": {"name": f"Customer {i}"},
        "slot": {"start": start, "end": end},
    }


def wait_for(client: httpx.Client, plan_id: int) -> dict[str, Any]:
    for _ in range(600):
        plan: dict[str, Any] = client.get(f"/v1/plans/{plan_id}", headers=DISPATCHER).json()
        if plan["status"] in ("done", "failed", "cancelled"):
            return plan
        time.sleep(0.1)
    raise AssertionError("plan did not finish")


@pytest.mark.parametrize(("backend", "workers"), [("sqlite", 1), ("postgres", 3)])
def test_many_clients_racing_for_the_last_capacity_never_overbook(tmp_path: Path, backend: str, workers: int) -> None:
    if backend == "postgres":
        reset_postgres()
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path / 'race.db'}"
    server = start_server(tmp_path, url, workers=workers)
    try:
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            # One installer, 08:00-12:00 without lunch, and 2-hour jobs that must start by 10:00:
            # a second one would start after 10:00 (the first ends at 10:00 at the earliest and the
            # drive between two customers is never zero), so exactly one booking can win.
            tech = {
                "home": {"lat": 60.17, "lon": 24.94},
                "skills": {"wardrobe": 1},
                "shifts": [{"date": DAY.isoformat(), "start": "08:00", "end": "12:00"}],
            }
            assert client.put("/v1/technicians/RACE", json=tech, headers=DISPATCHER).status_code == 201
            token = client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"]
            booker = auth(token)
            windows = [(at("08:00"), at("09:00")), (at("08:00"), at("10:00")), (at("09:00"), at("10:00"))]

            def attempt(i: int) -> tuple[int, dict[str, Any]]:
                start, end = windows[i % len(windows)]
                with httpx.Client(base_url=server.base_url, timeout=60) as own:
                    response = own.post(
                        "/v1/bookings",
                        json=booking(i, start, end),
                        headers={**booker, "Idempotency-Key": f"race-{backend}-{i}"},
                    )
                return response.status_code, response.json()

            with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
                results = list(pool.map(attempt, range(CLIENTS)))
            statuses = [status for status, _ in results]
            assert set(statuses) <= {201, 409}, results
            won = [body for status, body in results if status == 201]
            assert len(won) == 1, won
            assert statuses.count(409) == CLIENTS - len(won)
            assert all(body["field"] == "slot" for status, body in results if status == 409)

            # Nothing else fits any more, and the jobs stored are exactly the winners.
            search = {"location": {"lat": 60.17, "lon": 24.94}, "duration_min": 120, "date_from": DAY.isoformat()}
            late = client.post("/v1/slots/search", json=search, headers=booker).json()
            assert late["slots"] == []
            jobs = client.get("/v1/jobs", params={"date": DAY.isoformat()}, headers=DISPATCHER).json()
            assert sorted(j["id"] for j in jobs) == sorted(b["job_id"] for b in won)

            # A full plan run serves every booked job inside its slot; the run is checked.
            started = client.post("/v1/plans", json={"date": DAY.isoformat(), "time_limit_s": 2}, headers=DISPATCHER)
            plan = wait_for(client, started.json()["id"])
            assert plan["status"] == "done", plan
            assert plan["unassigned"] == []
            visits = {v["job_id"]: v for r in plan["routes"] for v in r["visits"]}
            for body in won:
                start = dt.datetime.fromisoformat(visits[body["job_id"]]["start"])
                slot = body["slot"]
                assert dt.datetime.fromisoformat(slot["start"]) <= start <= dt.datetime.fromisoformat(slot["end"])
    finally:
        stop_server(server)
