"""The Plan page against a real API: sign-in messages, tables and filters, Optimize, results, CSV import."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.client import BoardError, DispatchClient
from dashboard.models import RunProgress
from tests.dashboard.conftest import DAY, TIME_LIMIT_S, Api, free_port, signed_in, texts


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    """The dataframe on the page that has ``column``."""
    frames = [d.value for d in at.dataframe if column in d.value.columns]
    assert frames, f"no table with a {column} column"
    frame: pd.DataFrame = frames[0]
    return frame


def open_tab(at: AppTest, label: str) -> AppTest:
    """Open a tab of the Plan page (only the open tab's content runs)."""
    at.session_state["plan_tab"] = label
    return at.run()


def test_without_a_token_the_board_asks_for_one(board: Callable[..., AppTest]) -> None:
    at = board().run()
    assert not at.exception
    assert any("Enter the dispatcher token" in t for t in texts(at, "info"))


def test_a_wrong_token_is_named_as_such_not_shown_as_a_traceback(board: Callable[..., AppTest]) -> None:
    at = signed_in(board(), token="not-a-token", day=None)
    assert not at.exception
    errors = texts(at, "error")
    assert len(errors) == 1
    assert "refused the token" in errors[0] and "Check the dispatcher token" in errors[0]


def test_an_api_that_is_down_is_named_with_its_address(board: Callable[..., AppTest]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    at = signed_in(board(url), day=None)
    assert not at.exception
    errors = texts(at, "error")
    assert len(errors) == 1
    assert "cannot be reached" in errors[0] and url in errors[0]


@pytest.mark.clock
def test_the_day_opens_on_the_first_day_with_shifts_and_shows_its_jobs_and_technicians(
    board: Callable[..., AppTest],
) -> None:
    at = signed_in(board(), day=None)
    assert str(at.sidebar.date_input(key="day").value) == DAY
    assert at.sidebar.selectbox(key="region").value == "helsinki"
    assert at.caption[0].value == "180 jobs, 70 technicians working."
    assert len(table_with(open_tab(at, "Jobs"), "pinned_to")) == 180
    technicians = table_with(open_tab(at, "Technicians working"), "shift")
    assert len(technicians) == 70
    assert technicians["shift"].str.len().gt(0).all()


def test_the_jobs_table_filters_by_kind_priority_skill_and_status(board: Callable[..., AppTest]) -> None:
    at = open_tab(signed_in(board()), "Jobs")
    at.multiselect(key="filter_kind").set_value(["repair"]).run()
    repairs = table_with(at, "pinned_to")
    assert len(repairs) == 36 and set(repairs["kind"]) == {"repair"}
    at.multiselect(key="filter_priority").set_value([1]).run()
    urgent = table_with(at, "pinned_to")
    assert len(urgent) == 7 and set(urgent["priority"]) == {1}
    at.multiselect(key="filter_kind").set_value([]).run()
    at.multiselect(key="filter_priority").set_value([]).run()
    at.multiselect(key="filter_skill").set_value(["glass"]).run()
    glass = table_with(at, "pinned_to")
    assert len(glass) > 0 and glass["skills"].str.contains("glass").all()
    # Jobs in a plan another test published are scheduled; the rest are open.
    assert "open" in at.multiselect(key="filter_status").options
    assert set(at.multiselect(key="filter_status").options) <= {"open", "scheduled"}
    at.multiselect(key="filter_status").set_value(["open"]).run()
    assert set(table_with(at, "pinned_to")["status"]) == {"open"}


def test_optimize_shows_progress_then_kpis_map_gantt_and_the_api_s_unassigned_jobs(
    board: Callable[..., AppTest], api: Api
) -> None:
    at = signed_in(board())
    at.number_input[0].set_value(TIME_LIMIT_S)
    at.button[0].click().run()
    assert not at.exception
    done = [t for t in texts(at, "success") if t.startswith("Plan #")]
    assert done, texts(at, "error")
    plan = api.newest_plan()
    assert done[0] == f"Plan #{plan['id']} is done."
    assert [m.label for m in at.metric] == [
        "Jobs served",
        "Travel share",
        "Utilisation",
        "Overtime",
        "Partner share",
        "SLA kept",
    ]
    kpis = plan["kpis"]
    assert isinstance(kpis, dict)
    assert at.metric[0].value == f"{kpis['jobs_served']} / {kpis['jobs_total']}"
    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert len(charts) == 2
    route_map, gantt = charts
    routes = plan["routes"]
    assert isinstance(routes, list)
    busy = [r for r in routes if r["visits"]]
    line = next(layer for layer in route_map["layer"] if layer["mark"]["type"] == "line")
    drawn = line["encoding"]["color"]["scale"]["domain"]
    assert [d.split()[0] for d in drawn] == sorted(r["technician_id"] for r in busy)
    assert route_map["projection"]["type"] == "mercator"
    assert [row.split()[0] for row in gantt["layer"][0]["encoding"]["y"]["sort"]] == sorted(
        r["technician_id"] for r in busy
    )
    unassigned = plan["unassigned"]
    assert isinstance(unassigned, list)
    shown = at.table[0].value
    assert sorted(shown["job"]) == sorted(u["job_id"] for u in unassigned)
    reasons = dict(zip(shown["job"], shown["reason"], strict=True))
    assert all(reasons[u["job_id"]] == u["reason"] for u in unassigned)


def test_optimize_follows_the_run_through_its_event_stream_to_the_end(
    board: Callable[..., AppTest], api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="api.routers.plans")  # the test API runs in this process
    at = signed_in(board())
    at.number_input[0].set_value(TIME_LIMIT_S)
    at.button[0].click().run()
    assert not at.exception
    plan = api.newest_plan()
    assert f"Plan #{plan['id']} is done." in texts(at, "success")
    closed = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"plan {plan['id']} events:")]
    assert closed == [f"plan {plan['id']} events: stream closed (done)"]


def test_optimize_follows_the_run_by_polling_when_its_event_stream_breaks(
    board: Callable[..., AppTest], api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def cut(_client: DispatchClient, plan_id: int, *, timeout_s: float = 900.0) -> Iterator[RunProgress]:
        yield RunProgress(id=plan_id, status="queued")
        raise BoardError(f"The event stream of plan {plan_id} broke: ReadError().", "unreachable")

    monkeypatch.setattr(DispatchClient, "plan_events", cut)
    caplog.set_level(logging.INFO, logger="dashboard.client")
    at = signed_in(board())
    at.number_input[0].set_value(TIME_LIMIT_S)
    at.button[0].click().run()
    assert not at.exception
    plan = api.newest_plan()
    assert plan["status"] == "done"
    assert f"Plan #{plan['id']} is done." in texts(at, "success")
    assert f"plan {plan['id']}: following it by polling" in caplog.text


def test_a_csv_import_reports_the_refused_rows_by_line(board: Callable[..., AppTest], api: Api) -> None:
    day = (dt.date.fromisoformat(DAY) + dt.timedelta(days=1)).isoformat()  # a day without jobs
    has_import = "/v1/jobs/import" in api.http.get("/openapi.json").json()["paths"]
    header = "id,kind,lat,lon,address,duration_min,skills,crew_size,windows,priority\n"
    good = "C001,measure,60.17,24.94,Mannerheimintie 1,45,measure:1,1,09:00-11:00,3\n"
    bad = "C002,measure,60.17,24.94,Mannerheimintie 2,-5,measure:1,1,09:00-11:00,3\n"
    twice_bad = "C003,measure,95,24.94,Mannerheimintie 3,-5,measure:1,1,09:00-11:00,3\n"
    at = open_tab(signed_in(board(), day=day), "Import CSV")
    at.file_uploader[0].upload("jobs.csv", (header + good + bad + twice_bad).encode(), "text/csv").run()
    at.button(key="import_button").click().run()
    assert not at.exception
    if not has_import:
        assert any("no CSV import" in t for t in texts(at, "error"))
        return
    assert "Imported 1 jobs." in texts(at, "success")
    assert "2 rows were refused (3 problems):" in texts(at, "warning")
    refused = next(d.value for d in at.dataframe if "line" in d.value.columns)
    assert list(refused["line"]) == [3, 4, 4]
    assert refused["field"].iloc[0] == "duration_min"
    jobs = api.http.get("/v1/jobs", params={"date": day}).json()
    assert [j["id"] for j in jobs] == ["C001"]
