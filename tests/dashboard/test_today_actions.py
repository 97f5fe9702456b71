"""Disruptions and the re-plan review on the Today page, against a served API whose
clock is on the day (08:30 in Helsinki): two technicians, four jobs, a published plan.

The board's "now" is the API's (``GET /v1/clock``), never this machine's."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo

import httpx
import pandas as pd
import pytest
import streamlit as st
import uvicorn
from streamlit.testing.v1 import AppTest

from api import create_app
from dashboard.replan import ADDED_COLUMNS, LOCKS_NOT_KEPT_COLUMNS
from dispatch.clock import Clock
from dispatch.settings import Settings
from tests.conftest import today
from tests.dashboard.conftest import ADMIN, APP, APP_TIMEOUT_S, TIME_LIMIT_S, Api, free_port, signed_in, texts

TODAY = "views/today.py"
HELSINKI = ZoneInfo("Europe/Helsinki")
DAY = today()
TECHS = {"RA": (60.17, 24.93), "RB": (60.20, 24.96)}
JOBS = {"RJ1": (60.17, 24.95), "RJ2": (60.18, 24.97), "RJ3": (60.19, 24.94), "RJ4": (60.21, 24.92)}


@pytest.fixture(scope="module")
def day_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """An API whose clock reads 08:30 on ``DAY``, with its own small day planned and published."""
    start = dt.datetime.combine(DAY, dt.time(8, 30), tzinfo=HELSINKI)
    database = tmp_path_factory.mktemp("board-replan") / "dispatch.db"
    settings = Settings(database_url=f"sqlite:///{database}", admin_token=ADMIN, clock=Clock(start), solver_workers=1)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name=f"api-{port}", daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the test API did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30) as http:
        served = Api(url, http)
        shift = {"date": DAY.isoformat(), "start": "08:00", "end": "16:00"}
        for tech_id, (lat, lon) in TECHS.items():
            body = {"name": f"Tech {tech_id}", "home": {"lat": lat, "lon": lon}, "shifts": [shift]}
            assert http.put(f"/v1/technicians/{tech_id}", json=body).status_code in (200, 201)
        for job_id, (lat, lon) in JOBS.items():
            body = {"location": {"lat": lat, "lon": lon}, "duration_min": 45, "date": DAY.isoformat()}
            assert http.put(f"/v1/jobs/{job_id}", json=body).status_code in (200, 201)
        plan = served.plan(day=DAY.isoformat())
        assert plan["status"] == "done" and not plan["unassigned"], plan
        assert http.post(f"/v1/plans/{plan['id']}/publish").status_code == 200
        yield served
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def today_page(day_api: Api, monkeypatch: pytest.MonkeyPatch) -> Callable[[], AppTest]:
    """The board signed in on ``DAY`` against ``day_api``, on the Today page."""

    def make() -> AppTest:
        monkeypatch.setenv("DISPATCH_API_URL", day_api.url)
        st.cache_data.clear()
        st.cache_resource.clear()
        at = signed_in(AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S), day=DAY.isoformat())
        at.switch_page(TODAY).run()
        assert not at.exception, at.exception
        return at

    return make


def press(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, at.exception
    return at


def published_id(api: Api) -> int:
    versions = api.http.get("/v1/plans", params={"date": DAY.isoformat()}).json()
    return int(next(p["id"] for p in versions if p["published"]))


def busiest(api: Api) -> tuple[str, list[str]]:
    """The technician of the published plan with the most visits, and those visits."""
    plan = api.http.get(f"/v1/plans/{published_id(api)}").json()
    top = max(plan["routes"], key=lambda r: len(r["visits"]))
    return top["technician_id"], [v["job_id"] for v in top["visits"]]


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    frame: pd.DataFrame = next(t.value for t in at.table if column in t.value.columns)
    return frame


def replan(at: AppTest) -> AppTest:
    at.number_input(key="replan_limit").set_value(TIME_LIMIT_S)
    press(at, "Re-plan from now")
    assert not texts(at, "error"), texts(at, "error")
    return at


def test_an_unavailable_technician_re_planned_from_now_is_reviewed_discarded_refused_and_published(
    today_page: Callable[[], AppTest], day_api: Api
) -> None:
    first = published_id(day_api)
    tech, visits = busiest(day_api)
    other = next(t for t in TECHS if t != tech)
    at = today_page()
    at.selectbox(key="unavailable_tech").set_value(tech)
    press(at, "Record unavailable")
    assert any(f"{tech} is unavailable from 08:" in s for s in texts(at, "success")), texts(at, "success")
    recorded = day_api.http.get("/v1/disruptions", params={"date": DAY.isoformat()}).json()
    assert [(d["type"], d["technician_id"], d["until"]) for d in recorded] == [("technician_unavailable", tech, None)]

    # The proposal: every visit of the unavailable technician goes to the other one.
    replan(at)
    moved = table_with(at, "from")
    assert sorted(moved["job"]) == sorted(visits)
    assert set(moved["from"]) == {tech} and set(moved["to"]) == {other}
    assert any("moved" in str(c.value) and "customers to notify" in str(c.value) for c in at.caption)
    assert at.get("vega_lite_chart"), "the proposed plan's Gantt"
    assert set(table_with(at, "change")["job"]) == set(visits)

    # Discard: nothing is published and the review goes away.
    press(at, "Discard")
    assert any("discarded; nothing was published" in s for s in texts(at, "success"))
    assert not [t for t in at.table if "from" in t.value.columns]
    assert published_id(day_api) == first

    # A proposal that would take a visit from a technician now on the way is refused.
    replan(at)
    on_the_way = visits[0]
    event = {"type": "en_route", "at": day_api.http.get("/v1/clock").json()["now"]}
    assert day_api.http.post(f"/v1/jobs/{on_the_way}/events", json=event).status_code == 201
    press(at, "Publish")
    refused = texts(at, "error")
    assert refused and refused[0].startswith("Not published: "), refused
    assert "Traceback" not in refused[0]
    assert published_id(day_api) == first

    # Re-planned again, the visit under way stays; the rest moves, and it is published.
    at = replan(at)
    moved = table_with(at, "from")
    assert on_the_way not in set(moved["job"]) and sorted(moved["job"]) == sorted(visits[1:])
    press(at, "Publish")
    assert any("is published" in s for s in texts(at, "success")), texts(at, "success")
    assert published_id(day_api) != first


def test_the_disruption_forms_send_what_they_say_and_show_the_apis_refusals(
    today_page: Callable[[], AppTest], day_api: Api
) -> None:
    at = today_page()
    # An urgent repair: a bad skills list is refused on the board, a level over 10 by the API (field named).
    at.text_input(key="urgent_id").input("URGENT-1")
    at.text_input(key="urgent_skills").input("electrical:x")
    press(at, "Add urgent repair")
    assert texts(at, "error") == ["skills: the level in 'electrical:x' is not a whole number"]
    at.text_input(key="urgent_skills").input("electrical:11")
    press(at, "Add urgent repair")
    assert any("(field skills" in e for e in texts(at, "error")), texts(at, "error")
    at.text_input(key="urgent_skills").input("electrical:1")
    at.time_input(key="urgent_deadline").set_value(dt.time(13, 0))
    press(at, "Add urgent repair")
    assert any("URGENT-1 added (level 1" in s for s in texts(at, "success")), texts(at, "error")
    job = day_api.http.get("/v1/jobs/URGENT-1").json()
    assert (job["priority"], job["kind"], job["skills"]) == (1, "repair", {"electrical": 1})
    at.text_input(key="urgent_id").input("URGENT-2")
    at.selectbox(key="urgent_level").set_value(2)
    press(at, "Add urgent repair")
    assert day_api.http.get("/v1/jobs/URGENT-2").json()["priority"] == 2  # a level-2 repair outranks ordinary work
    assert dt.datetime.fromisoformat(job["deadline"]) == dt.datetime.combine(DAY, dt.time(13), tzinfo=HELSINKI)

    # Overrun (of a visit under way: its arrival reported first), running late and cancel.
    assert "RJ3" not in at.selectbox(key="overrun_job").options
    at.selectbox(key="report_job").set_value("RJ3")
    at.selectbox(key="report_what").set_value("Arrived")
    at.time_input(key="report_at").set_value(dt.time(8, 25))
    press(at, "Record report")
    at.selectbox(key="overrun_job").set_value("RJ3")
    at.time_input(key="overrun_end").set_value(dt.time(11, 15))
    press(at, "Record overrun")
    # RB is at RJ3 (arrived 08:25, ending 11:15): RA is the one held up on the road.
    at.selectbox(key="late_tech").set_value("RA")
    at.time_input(key="late_at").set_value(dt.time(9, 5))
    at.number_input(key="late_lat").set_value(60.25)
    press(at, "Record running late")
    assert not texts(at, "error"), texts(at, "error")
    at.selectbox(key="cancel_job").set_value("URGENT-1")
    press(at, "Cancel job")
    assert not texts(at, "error"), texts(at, "error")
    recorded = day_api.http.get("/v1/disruptions", params={"date": DAY.isoformat()}).json()
    overrun = next(d for d in recorded if d["type"] == "overrun")
    late = next(d for d in recorded if d["type"] == "running_late")
    assert (overrun["job_id"], dt.datetime.fromisoformat(overrun["expected_end"]).time()) == ("RJ3", dt.time(11, 15))
    assert (late["technician_id"], late["location"]["lat"]) == ("RA", 60.25)
    assert day_api.http.get("/v1/jobs/URGENT-1").json()["status"] == "cancelled"


def test_a_field_report_records_what_an_installer_phoned_in_and_shows_the_apis_refusal(
    today_page: Callable[[], AppTest], day_api: Api
) -> None:
    at = today_page()
    scheduled = [j["id"] for j in day_api.http.get("/v1/jobs", params={"date": DAY.isoformat()}).json()]
    scheduled = [j for j in scheduled if day_api.http.get(f"/v1/jobs/{j}").json()["status"] == "scheduled"]
    assert len(scheduled) >= 2, "the test needs two jobs nobody reported on yet"
    done, failing = scheduled[:2]

    def report(job_id: str, what: str, moment: dt.time, reason: str = "other") -> AppTest:
        at.selectbox(key="report_job").set_value(job_id)
        at.selectbox(key="report_what").set_value(what)
        at.time_input(key="report_at").set_value(moment)
        at.selectbox(key="report_reason").set_value(reason)
        return press(at, "Record report")

    report(done, "Arrived", dt.time(8, 5))
    report(done, "Done", dt.time(8, 20))
    assert any(f"{done}: done at 08:20" in s for s in texts(at, "success")), texts(at, "success")
    report(failing, "Arrived", dt.time(8, 10))
    # A report that cannot follow the last one is the API's refusal, shown with the field named.
    report(failing, "On the way", dt.time(8, 12))
    assert any("(field type" in e for e in texts(at, "error")), texts(at, "error")
    report(failing, "Could not complete", dt.time(8, 15), "customer_absent")
    assert any("could not be completed at 08:15 (customer absent)" in s for s in texts(at, "success"))

    finished = day_api.http.get(f"/v1/jobs/{done}").json()
    assert finished["status"] == "completed"
    assert dt.datetime.fromisoformat(finished["actual_end"]) == dt.datetime.combine(DAY, dt.time(8, 20), HELSINKI)
    reopened = day_api.http.get(f"/v1/jobs/{failing}").json()
    assert (reopened["status"], reopened["reason"]) == ("open", "customer_absent")
    assert done not in at.selectbox(key="report_job").options  # done work is no longer offered


def test_a_re_plan_for_the_best_plan_whatever_it_changes_sends_no_costs_for_changes_and_says_so(
    today_page: Callable[[], AppTest], day_api: Api
) -> None:
    at = today_page()
    at.selectbox(key="replan_changes").set_value("Best plan, whatever it changes")
    replan(at)
    versions = day_api.http.get("/v1/plans", params={"date": DAY.isoformat()}).json()
    newest = day_api.http.get(f"/v1/plans/{max(p['id'] for p in versions)}").json()
    assert newest["replan_from"] is not None and not newest["published"]
    assert newest["stability"] == {"move_eur": 0.0, "minute_eur": 0.0, "tolerance_min": 15, "told_eur": 0.0}
    assert any(str(c.value) == "Best plan, whatever it changes" for c in at.caption), [c.value for c in at.caption]
    press(at, "Discard")

    # The default keeps changes few: the service's costs, shown with the proposal.
    at = today_page()
    replan(at)
    assert any(str(c.value).startswith("Few changes: 30 € a visit moved") for c in at.caption)
    press(at, "Discard")


def test_an_urgent_repair_added_on_the_board_shows_in_the_proposal_as_added_with_its_technician(
    today_page: Callable[[], AppTest], day_api: Api
) -> None:
    at = today_page()
    at.text_input(key="urgent_id").input("URGENT-NEW")
    at.time_input(key="urgent_deadline").set_value(dt.time(15, 0))
    press(at, "Add urgent repair")
    assert any("URGENT-NEW added" in s for s in texts(at, "success")), texts(at, "error")
    # The live view above shows it at once, not at its next refresh.
    waiting = next(t.value for t in at.table if "deadline" in t.value.columns and "job" in t.value.columns)
    assert "URGENT-NEW" in set(waiting["job"]), waiting
    replan(at)
    added = next(t.value for t in at.table if list(t.value.columns) == ADDED_COLUMNS)
    assert "URGENT-NEW" in set(added["job"]), added
    row = added[added["job"] == "URGENT-NEW"].iloc[0]
    assert row["technician"] in TECHS
    changed = table_with(at, "change")
    assert changed[changed["job"] == "URGENT-NEW"]["change"].tolist() == ["new"]
    assert any(" added; " in str(c.value) for c in at.caption), [c.value for c in at.caption]
    press(at, "Discard")
    assert day_api.http.delete("/v1/jobs/URGENT-NEW").status_code == 200


def test_an_urgent_repair_with_the_id_of_a_job_that_exists_is_refused_and_that_job_is_untouched(
    today_page: Callable[[], AppTest], day_api: Api
) -> None:
    taken = day_api.http.get("/v1/jobs", params={"date": DAY.isoformat()}).json()[0]
    at = today_page()
    at.text_input(key="urgent_id").input(taken["id"])
    press(at, "Add urgent repair")
    assert any(f"Job {taken['id']} already exists" in e for e in texts(at, "error")), texts(at, "error")
    assert day_api.http.get(f"/v1/jobs/{taken['id']}").json() == taken


def test_a_lock_the_re_plan_could_not_keep_is_listed_in_the_proposal_with_its_reason(
    today_page: Callable[[], AppTest], day_api: Api
) -> None:
    # (Last in the module: the technician locked to falls ill for the rest of the day.)
    tech, visits = busiest(day_api)
    locked = {"locks": [{"job_id": visits[-1], "technician": True}], "apply": True}
    edited = day_api.http.post(f"/v1/plans/{published_id(day_api)}/edits", json=locked)
    assert edited.status_code == 200, edited.text
    assert day_api.http.post(f"/v1/plans/{edited.json()['plan_id']}/publish").status_code == 200
    now = day_api.http.get("/v1/clock").json()["now"]
    ill = {"type": "technician_unavailable", "technician_id": tech, "from": now}
    assert day_api.http.post("/v1/disruptions", json=ill).status_code == 201
    at = replan(today_page())
    released = next(t.value for t in at.table if list(t.value.columns) == LOCKS_NOT_KEPT_COLUMNS)
    assert released.to_dict("records") == [
        {"job": visits[-1], "technician": tech, "lock": "technician", "reason": f"{tech} works no more today"}
    ]
    assert any(str(c.value).endswith("1 lock not kept.") for c in at.caption), [c.value for c in at.caption]
    press(at, "Discard")


def test_a_proposal_is_shown_and_offered_for_publishing_only_on_its_own_region(
    today_page: Callable[[], AppTest], day_api: Api
) -> None:
    # (After the lock test: a technician of another region makes the sidebar offer two.)
    shift = {"date": DAY.isoformat(), "start": "08:00", "end": "16:00"}
    espoo = {"name": "Tech EA", "home": {"lat": 60.20, "lon": 24.65}, "shifts": [shift], "region": "espoo"}
    assert day_api.http.put("/v1/technicians/EA", json=espoo).status_code in (200, 201)
    at = today_page()
    at.sidebar.selectbox(key="region").set_value("helsinki").run()
    replan(at)
    proposed = [str(m.value) for m in at.markdown if "Proposed re-plan" in str(m.value)]
    assert len(proposed) == 1 and " of helsinki from " in proposed[0], proposed

    # On the espoo board, Helsinki's re-plan is neither shown nor offered for publishing.
    at.sidebar.selectbox(key="region").set_value("espoo").run()
    assert not at.exception, at.exception
    assert not [m for m in at.markdown if "Proposed re-plan" in str(m.value)]
    assert not [b for b in at.button if b.label in ("Publish", "Discard")]
    assert any("awaits review there" in str(c.value) for c in at.caption), [c.value for c in at.caption]

    # Back on helsinki it is there again, to discard.
    at.sidebar.selectbox(key="region").set_value("helsinki").run()
    press(at, "Discard")
    assert any("discarded; nothing was published" in s for s in texts(at, "success"))


def test_a_proposal_published_elsewhere_is_shown_published_and_not_offered_for_publish_or_discard(
    today_page: Callable[[], AppTest], day_api: Api
) -> None:
    at = today_page()
    at.sidebar.selectbox(key="region").set_value("helsinki").run()  # (espoo since the test above)
    replan(at)
    proposal = at.session_state["replan_proposal"]
    assert day_api.http.post(f"/v1/plans/{proposal}/publish").status_code == 200  # as the Edit page would
    at.run()
    proposed = [str(m.value) for m in at.markdown if "Proposed re-plan" in str(m.value)]
    assert len(proposed) == 1 and proposed[0].endswith("(published)"), proposed
    assert not [b for b in at.button if b.label in ("Publish", "Discard")]
    assert f"Plan #{proposal} was published elsewhere since it was proposed: nothing to publish or discard." in texts(
        at, "info"
    )
    press(at, "Close the review")
    assert not [m for m in at.markdown if "Proposed re-plan" in str(m.value)]


def test_a_refused_re_plan_clears_the_proposal_it_was_asked_to_replace(
    today_page: Callable[[], AppTest], day_api: Api
) -> None:
    at = today_page()
    at.sidebar.selectbox(key="region").set_value("helsinki").run()  # (espoo since the region test)
    replan(at)
    assert [m for m in at.markdown if "Proposed re-plan" in str(m.value)]
    # (Last in the module.) A visit promised this afternoon that only a new technician can do; they
    # fall ill: the next re-plan would break the promise and is refused.
    well = "RZ"
    shift = {"date": DAY.isoformat(), "start": "08:00", "end": "16:00"}
    skilled = {"kitchen": 2}
    body = {"name": "Tech RZ", "home": {"lat": 60.18, "lon": 24.94}, "shifts": [shift], "skills": skilled}
    assert day_api.http.put(f"/v1/technicians/{well}", json=body).status_code in (200, 201)
    window = [{"start": f"{DAY}T13:00:00+02:00", "end": f"{DAY}T15:00:00+02:00"}]
    job = {"location": {"lat": 60.19, "lon": 24.95}, "duration_min": 45, "date": DAY.isoformat()}
    promised = {**job, "skills": skilled, "windows": window, "confirmed": True}
    put = day_api.http.put("/v1/jobs/RJ-PROMISED", json=promised)
    assert put.status_code in (200, 201), put.text
    ill = {"type": "technician_unavailable", "technician_id": well, "from": day_api.http.get("/v1/clock").json()["now"]}
    assert day_api.http.post("/v1/disruptions", json=ill).status_code == 201
    try:
        press(at, "Re-plan from now")
        assert texts(at, "error"), "the re-plan is refused"
        assert not [m for m in at.markdown if "Proposed re-plan" in str(m.value)]
        assert not [b for b in at.button if b.label in ("Publish", "Discard")]
    finally:
        assert day_api.http.delete("/v1/jobs/RJ-PROMISED").status_code == 200


def test_a_time_left_empty_records_the_apis_now_at_the_press_not_when_the_page_was_drawn(
    today_page: Callable[[], AppTest], day_api: Api
) -> None:
    """The Today page stays open all day: a default filled in when it was drawn was
    recorded hours later as if it were now. Empty time fields mean the press's now.
    (On espoo's board, whose technician EA the region test above added.)"""
    at = today_page()
    at.sidebar.selectbox(key="region").set_value("espoo").run()
    assert at.time_input(key="unavailable_from").value is None
    assert at.time_input(key="report_at").value is None and at.time_input(key="late_at").value is None
    before = dt.datetime.fromisoformat(day_api.http.get("/v1/clock").json()["now"]).replace(second=0, microsecond=0)
    at.selectbox(key="unavailable_tech").set_value("EA")
    press(at, "Record unavailable")
    after = dt.datetime.fromisoformat(day_api.http.get("/v1/clock").json()["now"])
    assert not texts(at, "error"), texts(at, "error")
    recorded = day_api.http.get("/v1/disruptions", params={"date": DAY.isoformat(), "region": "espoo"}).json()
    [away] = [d for d in recorded if d["technician_id"] == "EA"]
    assert before <= dt.datetime.fromisoformat(away["from"]) <= after, (before, away["from"], after)
