"""The Today page against a served API: a published plan of a day of its own,
a visit finished late, and an urgent job that came in after publishing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import DAY, Api, signed_in

TODAY = "views/today.py"


def a_day_of_its_own(api: Api) -> str:
    """The first day after the sample day that T01 works (the AppTest flows use the sample day)."""
    shifts = api.http.get("/v1/technicians/T01").json()["shifts"]
    return str(min(s["date"] for s in shifts if s["date"] > DAY))


@pytest.fixture(scope="module")
def published(api: Api) -> dict[str, Any]:
    """Three jobs on a day of their own, planned and published; the first visit ends 30
    minutes late; then an urgent repair comes in."""
    day = a_day_of_its_own(api)
    for i, (lat, lon) in enumerate([(60.17, 24.95), (60.18, 24.96), (60.19, 24.94)], start=1):
        body = {"location": {"lat": lat, "lon": lon}, "duration_min": 60, "date": day}
        assert api.http.put(f"/v1/jobs/TODAY{i}", json=body).status_code in (200, 201)
    plan = api.plan(day=day)
    assert plan["status"] == "done" and not plan["unassigned"], plan
    assert api.http.post(f"/v1/plans/{plan['id']}/publish").status_code == 200
    route = next(r for r in plan["routes"] if r["visits"])  # type: ignore[union-attr]
    first = route["visits"][0]
    late = dt.datetime.fromisoformat(first["end"]) + dt.timedelta(minutes=30)
    done = api.http.post(f"/v1/jobs/{first['job_id']}/events", json={"type": "completed", "at": late.isoformat()})
    assert done.status_code == 201, done.text
    urgent = {
        "location": {"lat": 60.18, "lon": 24.93},
        "duration_min": 45,
        "date": day,
        "priority": 1,
        "kind": "repair",
    }
    assert api.http.put("/v1/jobs/TODAY-URGENT", json=urgent).status_code in (200, 201)
    return {"day": day, "route": route}


def summary(at: AppTest) -> pd.DataFrame:
    frame: pd.DataFrame = next(t.value for t in at.table if "under_way" in t.value.columns)
    return frame


def test_the_today_page_shows_each_technicians_progress_delay_and_urgent_work(
    board: Callable[..., AppTest], published: dict[str, Any]
) -> None:
    at = signed_in(board(), day=published["day"]).switch_page(TODAY).run()
    assert not at.exception, at.exception
    route = published["route"]
    row = summary(at).set_index("technician").loc[route["technician_id"]]
    visits = len(route["visits"])
    assert (row["done"], row["delay_min"]) == (f"1 / {visits}", 30)
    if visits > 1:
        assert row["next"] == route["visits"][1]["job_id"]
    urgent = next(t.value for t in at.table if "deadline" in t.value.columns)
    assert list(urgent["job"]) == ["TODAY-URGENT"]
    assert any("refreshes every" in str(c.value) for c in at.caption)


def test_a_day_without_a_published_plan_says_so(board: Callable[..., AppTest]) -> None:
    at = signed_in(board(), day="2031-01-06").switch_page(TODAY).run()
    assert not at.exception
    assert any("No published plan" in str(i.value) for i in at.info)
