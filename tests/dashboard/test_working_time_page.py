"""Working time on the board (docs/working-time.md, docs/board.md): the Week page
(technicians × days beside the day view) and the Technicians page's editors of the
weekly template and absences, against a served API of technicians who have only a
weekly template, one of them on holiday on Tuesday."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pandas as pd
import pytest
import streamlit as st
import uvicorn
from streamlit.testing.v1 import AppTest

from api import create_app
from dispatch.settings import Settings
from tests.conftest import today
from tests.dashboard.conftest import ADMIN, APP, APP_TIMEOUT_S, Api, free_port, signed_in, texts

HELSINKI = ZoneInfo("Europe/Helsinki")
WEEK = "views/week.py"
TECHNICIANS = "views/technicians.py"
PLAN = "views/plan.py"


def _next_monday() -> dt.date:
    day = today() + dt.timedelta(days=2)
    return day + dt.timedelta(days=(7 - day.weekday()) % 7)


MONDAY = _next_monday()
TUESDAY = MONDAY + dt.timedelta(days=1)
LUNCH = {"earliest": "11:00", "latest": "12:30", "duration_min": 30}
TEMPLATE = [{"weekday": d, "start": "08:00", "end": "16:00", "break": LUNCH} for d in range(1, 6)]


def at(day: dt.date, clock: str) -> str:
    return dt.datetime.combine(day, dt.time.fromisoformat(clock), tzinfo=HELSINKI).isoformat()


def start_api(database: Path) -> tuple[uvicorn.Server, Api]:
    """uvicorn serving an empty API (no sample day) over ``database`` in a thread."""
    settings = Settings(database_url=f"sqlite:///{database}", admin_token=ADMIN, seed_samples=False, solver_workers=1)
    port = free_port()
    server = uvicorn.Server(
        # Keep idle connections open: the test's own client waits through AppTest runs
        # between calls, and a connection closed by the server meanwhile may fail its next request.
        uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            timeout_keep_alive=300,
        )
    )
    thread = threading.Thread(target=server.run, name=f"api-{port}", daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the test API did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    return server, Api(url, httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30))


@pytest.fixture(scope="module")
def week_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """Two technicians on a Monday-to-Friday template (WB on holiday on Tuesday), four
    jobs on Monday and two on Tuesday, Monday planned."""
    server, served = start_api(tmp_path_factory.mktemp("board-week") / "dispatch.db")
    http = served.http
    holiday = [{"start": at(TUESDAY, "00:00"), "end": at(TUESDAY + dt.timedelta(days=1), "00:00"), "reason": "holiday"}]
    for tech_id, lat, absences in (("WA", 60.17, []), ("WB", 60.21, holiday)):
        body = {"name": f"Tech {tech_id}", "home": {"lat": lat, "lon": 24.93}, "week": TEMPLATE, "absences": absences}
        assert http.put(f"/v1/technicians/{tech_id}", json=body).status_code == 201
    for day, count in ((MONDAY, 4), (TUESDAY, 2)):
        for i in range(count):
            body = {"location": {"lat": 60.17 + 0.01 * i, "lon": 24.95}, "duration_min": 60, "date": day.isoformat()}
            assert http.put(f"/v1/jobs/J{day:%a}{i}", json=body).status_code == 201
    assert served.plan(day=MONDAY.isoformat())["status"] == "done"
    yield served
    http.close()
    server.should_exit = True


@pytest.fixture
def page(week_api: Api, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], AppTest]:
    """The board signed in on Monday against ``week_api``, on the page given."""

    def make(path: str) -> AppTest:
        monkeypatch.setenv("DISPATCH_API_URL", week_api.url)
        st.cache_data.clear()
        st.cache_resource.clear()
        board = signed_in(AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S), day=MONDAY.isoformat())
        board.switch_page(path).run()
        assert not board.exception, board.exception
        return board

    return make


def frame_with(board: AppTest, column: str) -> pd.DataFrame:
    frame: pd.DataFrame = next(d.value for d in board.dataframe if column in d.value.columns)
    return frame


def test_the_week_page_shows_each_technician_s_load_jobs_and_days_off(page: Callable[[str], AppTest]) -> None:
    board = page(WEEK)
    grid = frame_with(board, f"{MONDAY:%a %d %b}")
    assert list(grid["id"]) == ["WA", "WB"]
    monday = dict(zip(grid["id"], grid[f"{MONDAY:%a %d %b}"], strict=True))
    planned = sum(int(cell.split(" · ")[1].split()[0]) for cell in monday.values())
    assert planned == 4 and all("/7.5 h" in cell for cell in monday.values())
    tuesday = dict(zip(grid["id"], grid[f"{TUESDAY:%a %d %b}"], strict=True))
    assert tuesday["WB"] == "away: holiday" and tuesday["WA"].startswith("0.0/7.5 h · 0 jobs")
    saturday = grid[f"{MONDAY + dt.timedelta(days=5):%a %d %b}"]
    assert set(saturday) == {"off"}
    days = frame_with(board, "unassigned").set_index("date")
    assert (days.loc[MONDAY.isoformat(), "jobs"], days.loc[MONDAY.isoformat(), "planned"]) == (4, 4)
    assert days.loc[MONDAY.isoformat(), "unassigned"] == 0 and days.loc[MONDAY.isoformat(), "working_h"] == 15.0
    assert (days.loc[TUESDAY.isoformat(), "jobs"], days.loc[TUESDAY.isoformat(), "technicians"]) == (2, 1)
    assert days.loc[TUESDAY.isoformat(), "plan"] == ""


def test_a_day_picked_in_the_week_is_the_day_the_day_view_opens_on(page: Callable[[str], AppTest]) -> None:
    board = page(WEEK)
    board.selectbox(key="week_open").set_value(TUESDAY).run()
    assert not board.exception, board.exception
    assert board.session_state["day"] == TUESDAY
    board.switch_page(PLAN).run()  # the page link's click
    assert [t.value for t in board.title] == [f"Plan {TUESDAY:%a %d %b %Y} · helsinki"]


def test_technicians_with_only_a_template_work_on_the_day_view(page: Callable[[str], AppTest]) -> None:
    board = page(PLAN)
    assert any("2 technicians working" in c.value for c in board.caption)


def test_the_technicians_page_edits_the_weekly_template_and_absences(
    page: Callable[[str], AppTest], week_api: Api
) -> None:
    board = page(TECHNICIANS)
    board.selectbox(key="tech_detail").set_value("WA").run()
    assert list(frame_with(board, "weekday")["weekday"]) == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    board.checkbox(key="week_WA_5_on").uncheck()
    board.checkbox(key="week_WA_6_on").check()
    board.text_input(key="week_WA_6_start").input("09:00")
    board.text_input(key="week_WA_6_end").input("13:00")
    board.text_input(key="week_WA_6_earliest").input("")
    board.text_input(key="week_WA_6_latest").input("")
    next(b for b in board.button if b.label == "Save weekly template").click().run()
    assert not board.exception and not texts(board, "error"), texts(board, "error")
    assert texts(board, "success") == ["Weekly template of WA saved."]
    stored = week_api.http.get("/v1/technicians/WA").json()
    assert [(w["weekday"], w["start"], w["end"], w["break"]) for w in stored["week"]][-2:] == [
        (4, "08:00", "16:00", LUNCH),
        (6, "09:00", "13:00", None),
    ]
    assert list(frame_with(board, "weekday")["weekday"]) == ["Mon", "Tue", "Wed", "Thu", "Sat"]

    # Away until before it starts: the API refuses it, naming it.
    board.date_input(key="absence_WA_from_day").set_value(MONDAY)
    board.text_input(key="absence_WA_from_time").input("10:00")
    board.date_input(key="absence_WA_until_day").set_value(MONDAY)
    board.text_input(key="absence_WA_until_time").input("09:00")
    next(b for b in board.button if b.label == "Add absence").click().run()
    assert any("absences.0" in e for e in texts(board, "error")), texts(board, "error")
    assert week_api.http.get("/v1/technicians/WA").json()["absences"] == []

    # Away from 14:00 on Monday: the shift ends early.
    board.date_input(key="absence_WA_from_day").set_value(MONDAY)
    board.text_input(key="absence_WA_from_time").input("14:00")
    board.date_input(key="absence_WA_until_day").set_value(MONDAY)
    board.text_input(key="absence_WA_until_time").input("17:00")
    board.text_input(key="absence_WA_reason").input("dentist")
    next(b for b in board.button if b.label == "Add absence").click().run()
    assert texts(board, "success") == ["Absence of WA added."], texts(board, "error")
    stored = week_api.http.get("/v1/technicians/WA").json()
    assert [(a["start"], a["end"], a["reason"]) for a in stored["absences"]] == [
        (at(MONDAY, "14:00"), at(MONDAY, "17:00"), "dentist")
    ]
    assert frame_with(board, "reason").to_dict("records") == [
        {"start": f"{MONDAY} 14:00", "end": f"{MONDAY} 17:00", "reason": "dentist"}
    ]

    board.multiselect(key="absence_WA_remove").set_value([0]).run()
    next(b for b in board.button if b.key == "absence_WA_remove_button").click().run()
    assert texts(board, "success") == ["Absences of WA removed."]
    assert week_api.http.get("/v1/technicians/WA").json()["absences"] == []


def test_the_week_is_planned_in_one_solve_from_the_week_page_and_published_whole(
    page: Callable[[str], AppTest], week_api: Api
) -> None:
    """Runs last in this file: it plans and publishes the week the other tests read."""
    board = page(WEEK)
    board.number_input[0].set_value(2.0)
    board.button(key="FormSubmitter:week_plan_form-Plan the week").click().run()
    assert not board.exception, board.exception
    [done] = [s.value for s in board.success if s.value.startswith("Week plan #")]
    assert "6 jobs served, 0 unassigned; not published" in done, done
    tuesday = frame_with(board, "unassigned").set_index("date").loc[TUESDAY.isoformat()]
    assert (tuesday["planned"], tuesday["unassigned"]) == (2, 0)
    board.button(key="week_publish").click().run()
    assert not board.exception, board.exception
    [done] = [s.value for s in board.success if s.value.startswith("Week plan #")]
    assert done.endswith("published."), done
    run_id = int(done.split("#")[1].split()[0])
    days = week_api.http.get("/v1/plans", params={"date": TUESDAY.isoformat()}).json()
    assert [p["published"] for p in days if p["horizon_id"] == run_id] == [True]
