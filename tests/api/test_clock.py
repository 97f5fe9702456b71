"""One clock: "today" is the dispatch area's date as the service's clock says,
whatever the hour in UTC, and a served API can be started at a given instant."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from fastapi.testclient import TestClient

from api import create_app
from dispatch.clock import Clock
from dispatch.settings import Settings
from tests.api.conftest import DISPATCHER, auth, run_plan, settings_for
from tests.api.test_e2e_uvicorn import ROOT, free_port
from tests.conftest import HELSINKI, today

pytestmark = pytest.mark.clock


def at(day: dt.date, clock: str) -> str:
    return dt.datetime.combine(day, dt.time.fromisoformat(clock), tzinfo=HELSINKI).isoformat()


def test_the_service_clock_says_tomorrow_at_half_past_eleven_utc(tmp_path: Path) -> None:
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'clock.db'}", seed=False))
    with TestClient(app) as client, time_machine.travel(dt.datetime(2026, 12, 3, 23, 30, tzinfo=dt.UTC), tick=False):
        clock = client.get("/v1/clock", headers=DISPATCHER).json()
    assert clock == {
        "now": "2026-12-04T01:30:00+02:00",
        "today": "2026-12-04",
        "timezone": "Europe/Helsinki",
        "urgent_due_min": 240,
    }


def test_the_service_clock_gives_the_repair_standard_the_service_is_configured_with(tmp_path: Path) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'clock.db'}", seed=False)
    two_hours = dataclasses.replace(settings, booking=dataclasses.replace(settings.booking, urgent_deadline_min=120))
    with TestClient(create_app(two_hours)) as client:
        assert client.get("/v1/clock", headers=DISPATCHER).json()["urgent_due_min"] == 120


def test_an_installers_day_and_calendar_follow_the_dispatch_areas_date_not_utcs(tmp_path: Path) -> None:
    day = today() + dt.timedelta(days=3)
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'clock.db'}", seed=False))
    with TestClient(app) as client:
        shift = {"date": day.isoformat(), "start": "08:00", "end": "16:00"}
        tech = {"home": {"lat": 60.17, "lon": 24.94}, "skills": {"wardrobe": 1}, "shifts": [shift]}
        assert client.put("/v1/technicians/E1", json=tech, headers=DISPATCHER).status_code == 201
        job = {
            "kind": "install",
            "location": {"lat": 60.19, "lon": 24.95},
            "duration_min": 60,
            "skills": {"wardrobe": 1},
            "windows": [{"start": at(day, "09:00"), "end": at(day, "12:00")}],
        }
        assert client.put("/v1/jobs/J1", json=job, headers=DISPATCHER).status_code == 201
        plan = run_plan(client, day.isoformat(), time_limit_s=1)
        assert plan["status"] == "done"
        assert client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER).status_code == 200
        me = auth(
            client.post("/v1/tokens", json={"role": "installer", "technician_id": "E1"}, headers=DISPATCHER).json()[
                "token"
            ]
        )
        early = dt.datetime.combine(day, dt.time(1, 30), tzinfo=HELSINKI)  # still the day before in UTC
        assert early.astimezone(dt.UTC).date() == day - dt.timedelta(days=1)
        with time_machine.travel(early, tick=False):
            mine = client.get("/v1/me/jobs", headers=me).json()
            feed = client.get("/v1/me/calendar.ics", headers=me).text
        assert [m["job_id"] for m in mine] == ["J1"]
        assert "UID:" in feed and "J1" in feed
        with time_machine.travel(early - dt.timedelta(hours=2), tick=False):  # 23:30 the evening before, there
            assert client.get("/v1/me/jobs", headers=me).json() == []
        with time_machine.travel(early + dt.timedelta(days=16), tick=False):  # the day lies behind the feed's window
            assert "J1" not in client.get("/v1/me/calendar.ics", headers=me).text


def test_a_clock_started_at_an_instant_runs_on_from_it() -> None:
    start = dt.datetime(2031, 6, 17, 9, 0, tzinfo=dt.UTC)
    clock = Clock(start)
    first = clock.now()
    assert dt.timedelta(0) <= first - start < dt.timedelta(seconds=5)
    assert clock.today(HELSINKI) == dt.date(2031, 6, 17)
    with pytest.raises(ValueError, match="offset"):
        Clock(dt.datetime(2031, 6, 17, 9, 0))


def test_dispatch_now_sets_the_clock_and_a_bad_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_NOW", "2030-01-07T08:00:00+02:00")
    assert Settings.from_env().clock.today(HELSINKI) == dt.date(2030, 1, 7)
    for bad, words in (("2030-01-07T08:00:00", "UTC offset"), ("next monday", "ISO 8601")):
        monkeypatch.setenv("DISPATCH_NOW", bad)
        with pytest.raises(ValueError, match=words) as refused:
            Settings.from_env()
        assert "DISPATCH_NOW" in str(refused.value)


def test_the_server_refuses_a_bad_dispatch_now_in_one_line_before_starting(tmp_path: Path) -> None:
    env = {**os.environ, "DISPATCH_NOW": "tomorrow", "DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}"}
    result = subprocess.run(
        [sys.executable, "-m", "api", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "DISPATCH_NOW" in result.stderr
    assert not (tmp_path / "never.db").exists()


def test_the_health_probe_answers_ok_without_a_token_and_with_the_security_headers(tmp_path: Path) -> None:
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'health.db'}", seed=False))
    with TestClient(app) as client:
        health = client.get("/health")
        documented = client.get("/openapi.json").json()["paths"]
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert health.headers["x-content-type-options"] == "nosniff"
    assert "/health" in documented


def test_on_the_night_the_clocks_skip_an_hour_plans_and_slots_keep_to_real_time(database_url: str) -> None:
    """A shift from 02:00 to 11:00 on 2027-03-28 (Helsinki: 03:00 is 04:00): the job is
    planned after the skipped hour, for its full length, and every slot offered lasts
    the grid's hour (one across the skipped hour lasted none)."""
    day = dt.date(2027, 3, 28)
    app = create_app(settings_for(database_url, seed=False))
    with TestClient(app) as client:
        tech = {
            "name": "Yövuoro",
            "home": {"lat": 60.17, "lon": 24.94},
            "skills": {"wardrobe": 1},
            "shifts": [{"date": day.isoformat(), "start": "02:00", "end": "11:00"}],
        }
        assert client.put("/v1/technicians/TDST", json=tech, headers=DISPATCHER).status_code == 201
        window = {"start": "2027-03-28T02:30:00+02:00", "end": "2027-03-28T08:30:00+03:00"}
        job = {
            "location": {"lat": 60.19, "lon": 24.95},
            "duration_min": 120,
            "skills": {"wardrobe": 1},
            "date": day.isoformat(),
            "windows": [window],
        }
        assert client.put("/v1/jobs/DST1", json=job, headers=DISPATCHER).status_code == 201
        plan = run_plan(client, day.isoformat(), time_limit_s=1)
        [visit] = [v for r in plan["routes"] for v in r["visits"]]  # type: ignore[union-attr]
        start, end = dt.datetime.fromisoformat(visit["start"]), dt.datetime.fromisoformat(visit["end"])
        assert end - start == dt.timedelta(minutes=120), visit
        assert dt.datetime.fromisoformat(at(day, "04:00")) <= start <= dt.datetime.fromisoformat(window["end"])
        booker = auth(client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"])
        search = {
            "location": job["location"],
            "duration_min": 60,
            "skills": {"wardrobe": 1},
            "date_from": day.isoformat(),
        }
        found = client.post("/v1/slots/search", json=search, headers=booker)
        assert found.status_code == 200, found.text
        slots = found.json()["slots"]
        assert slots
        for slot in slots:
            length = dt.datetime.fromisoformat(slot["end"]) - dt.datetime.fromisoformat(slot["start"])
            assert length == dt.timedelta(hours=1), slot
