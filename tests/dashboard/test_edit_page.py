"""The Edit page against a real API: pin and unpin, take out and put back, lock a
route, re-optimize, compare two versions, publish."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamlit.testing.v1 import AppTest

from dashboard.diff import compare
from dashboard.models import Plan
from tests.dashboard.conftest import DAY, TIME_LIMIT_S, Api, signed_in, texts

EDIT = "views/edit.py"


def edit_page(board: Callable[..., AppTest]) -> AppTest:
    at = signed_in(board())
    return at.switch_page(EDIT).run()


def job(api: Api, job_id: str) -> dict[str, Any]:
    found: dict[str, Any] = api.http.get(f"/v1/jobs/{job_id}").json()
    return found


def test_pinning_a_job_sets_only_its_pin_and_no_pin_takes_it_off(board: Callable[..., AppTest], api: Api) -> None:
    before = job(api, "J0001")
    at = edit_page(board)
    at.selectbox(key="pin_job").set_value("J0001")
    at.selectbox(key="pin_technician").set_value("T05")
    at.button(key="FormSubmitter:pin_form-Pin").click().run()
    assert not at.exception
    assert "J0001 is pinned to T05." in texts(at, "success")
    pinned = job(api, "J0001")
    assert pinned["pinned_technician_id"] == "T05"
    assert {k: v for k, v in pinned.items() if k != "pinned_technician_id"} == {
        k: v for k, v in before.items() if k != "pinned_technician_id"
    }

    at.selectbox(key="pin_job").set_value("J0001")
    at.selectbox(key="pin_technician").set_value("(no pin)")
    at.button(key="FormSubmitter:pin_form-Pin").click().run()
    assert "J0001 is no longer pinned." in texts(at, "success")
    assert job(api, "J0001") == before


def test_a_job_taken_out_is_cancelled_and_can_be_put_back(board: Callable[..., AppTest], api: Api) -> None:
    at = edit_page(board)
    at.selectbox(key="take_out_job").set_value("J0150")
    at.button(key="FormSubmitter:take_out_form-Take out").click().run()
    assert not at.exception
    assert "J0150 is taken out: later plans leave it out." in texts(at, "success")
    assert job(api, "J0150")["status"] == "cancelled"

    at.run()
    at.selectbox(key="put_back_job").set_value("J0150")
    at.button(key="FormSubmitter:put_back_form-Put back").click().run()
    assert "J0150 is back in the day." in texts(at, "success")
    assert job(api, "J0150")["status"] == "open"


def test_locking_a_route_pins_each_of_its_jobs_to_its_technician(board: Callable[..., AppTest], api: Api) -> None:
    plan = api.newest_plan()
    routes = plan["routes"]
    assert isinstance(routes, list)
    route = next(r for r in routes if len(r["visits"]) >= 2)
    jobs = [v["job_id"] for v in route["visits"]]
    at = edit_page(board)
    at.selectbox(key="lock_version").set_value(plan["id"]).run()
    at.selectbox(key="lock_technician").set_value(route["technician_id"])
    at.button(key="FormSubmitter:lock_form-Lock route").click().run()
    try:
        assert not at.exception
        assert any(t.startswith(f"Locked {len(jobs)} jobs to {route['technician_id']}") for t in texts(at, "success"))
        assert {job(api, j)["pinned_technician_id"] for j in jobs} == {route["technician_id"]}
    finally:
        for j in jobs:
            body = {k: v for k, v in job(api, j).items() if k not in ("id", "status", "booked")}
            api.http.put(f"/v1/jobs/{j}", json={**body, "pinned_technician_id": None}).raise_for_status()


def test_re_optimizing_compares_the_new_version_with_the_one_before_and_offers_it_for_publishing(
    board: Callable[..., AppTest], api: Api
) -> None:
    previous = api.newest_plan()
    at = edit_page(board)
    at.number_input[0].set_value(TIME_LIMIT_S)
    at.button(key="FormSubmitter:reoptimize_form-Re-optimize").click().run()
    assert not at.exception
    newest = api.newest_plan()
    assert newest["id"] != previous["id"]
    assert f"Plan #{newest['id']} is done: compare or publish it below." in texts(at, "success")
    assert at.selectbox(key="compare_before").value == previous["id"]
    assert at.selectbox(key="compare_after").value == newest["id"]
    assert at.selectbox(key="publish_version").value == newest["id"]

    expected = compare(Plan.model_validate(previous), Plan.model_validate(newest))
    summary = [str(m.value) for m in at.markdown if "jobs moved" in str(m.value)]
    assert summary == [
        f"**#{previous['id']} → #{newest['id']}: {len(expected.moved)} jobs moved, "
        f"{len(expected.shifted)} starts shifted**"
    ]
    moved = next(d.value for d in at.dataframe if list(d.value.columns) == ["job", "before", "after"])
    assert moved.equals(expected.moved)
    kpis = at.table[0].value
    assert list(kpis["kpi"])[:2] == ["jobs served", "visits"]


def test_publishing_a_version_makes_it_the_day_s_published_plan(board: Callable[..., AppTest], api: Api) -> None:
    versions = api.http.get("/v1/plans", params={"date": DAY}).json()
    target = next(v for v in versions if v["status"] == "done" and not v["published"])
    at = edit_page(board)
    at.selectbox(key="publish_version").set_value(target["id"]).run()
    at.button(key="publish_button").click().run()
    assert not at.exception
    assert f"Plan #{target['id']} is published: installers see it now." in texts(at, "success")
    published = [v["id"] for v in api.http.get("/v1/plans", params={"date": DAY}).json() if v["published"]]
    assert published == [target["id"]]


def test_a_move_by_hand_is_checked_before_it_is_stored_as_a_new_version_offered_for_publishing(
    board: Callable[..., AppTest], api: Api
) -> None:
    plan = api.newest_plan()
    route = next(r for r in plan["routes"] if len(r["visits"]) >= 2)  # type: ignore[attr-defined]
    first = route["visits"][0]["job_id"]
    before = len(api.http.get("/v1/plans", params={"date": DAY}).json())
    at = edit_page(board)
    at.selectbox(key="move_version").set_value(plan["id"])
    at.selectbox(key="move_job").set_value(first)
    at.selectbox(key="move_tech").set_value(route["technician_id"])
    at.number_input(key="move_place").set_value(len(route["visits"]))  # its first visit goes last
    at.button(key="FormSubmitter:move_form-Check move").click().run()
    assert not at.exception
    shown = texts(at, "success") + texts(at, "warning")
    assert any("hard rule" in t for t in shown), shown
    assert len(api.http.get("/v1/plans", params={"date": DAY}).json()) == before  # nothing stored yet
    if texts(at, "warning"):
        at.checkbox(key="move_override").check()  # sent with Apply, as the form's fields are
    at.button(key="move_apply").click().run()
    assert not at.exception
    assert any("is stored with the move" in t for t in texts(at, "success"))
    newest = api.newest_plan()
    assert newest["edited_from"] == plan["id"]
    moved = next(r for r in newest["routes"] if r["technician_id"] == route["technician_id"])  # type: ignore[attr-defined]
    assert moved["visits"][-1]["job_id"] == first
    assert at.selectbox(key="publish_version").value == newest["id"]  # "publish it below" means this one


def test_a_refused_apply_says_why_in_the_form_and_leaves_the_rest_of_the_page(
    board: Callable[..., AppTest], api: Api
) -> None:
    plan = api.newest_plan()
    visits = [v["job_id"] for r in plan["routes"] for v in r["visits"]]  # type: ignore[attr-defined]
    # A visit of one technician (a crew job moved to one of its two is a change).
    route = next(r for r in plan["routes"] if r["visits"] and visits.count(r["visits"][0]["job_id"]) == 1)  # type: ignore[attr-defined]
    first, tech = route["visits"][0]["job_id"], route["technician_id"]
    versions = len(api.http.get("/v1/plans", params={"date": DAY}).json())
    at = edit_page(board)
    at.selectbox(key="move_version").set_value(plan["id"])
    at.selectbox(key="move_job").set_value(first)
    at.selectbox(key="move_tech").set_value(tech)
    at.number_input(key="move_place").set_value(1)  # where it is: checked, but nothing to store
    at.button(key="FormSubmitter:move_form-Check move").click().run()
    if texts(at, "warning"):
        at.checkbox(key="move_override").check()
    at.button(key="move_apply").click().run()
    assert not at.exception
    move = {"job_id": first, "technician_id": tech, "position": 0}
    refusal = api.http.post(f"/v1/plans/{plan['id']}/edits", json={"moves": [move], "apply": True, "override": True})
    assert refusal.status_code == 422, refusal.text
    assert any(refusal.json()["detail"] in t for t in texts(at, "error")), texts(at, "error")
    assert {"Re-optimize", "Compare two versions", "Publish"} <= {str(h.value) for h in at.subheader}
    assert len(api.http.get("/v1/plans", params={"date": DAY}).json()) == versions


def test_a_move_in_a_re_plan_is_checked_from_the_re_plans_instant_with_its_changes(
    board: Callable[..., AppTest], api: Api
) -> None:
    published = api.newest_plan()
    assert api.http.post(f"/v1/plans/{published['id']}/publish").status_code == 200
    started = api.http.post(
        "/v1/plans", json={"date": DAY, "time_limit_s": TIME_LIMIT_S, "from": f"{DAY}T07:00:00+02:00"}
    )
    assert started.status_code == 202, started.text
    replanned = api.wait(int(started.json()["id"]))
    assert replanned["status"] == "done", replanned
    route = next(r for r in replanned["routes"] if r["visits"])  # type: ignore[attr-defined]
    other = next(r for r in replanned["routes"] if r["technician_id"] != route["technician_id"])  # type: ignore[attr-defined]
    at = edit_page(board)
    at.selectbox(key="move_version").set_value(replanned["id"])
    at.selectbox(key="move_job").set_value(route["visits"][0]["job_id"])
    at.selectbox(key="move_tech").set_value(other["technician_id"])
    at.button(key="FormSubmitter:move_form-Check move").click().run()
    assert not at.exception
    captions = [str(c.value) for c in at.caption]
    assert any(c.startswith("Checked from 07:00") for c in captions), captions
    # The changes are the whole version's against what was told (the published plan), as the API says.
    move = {"job_id": route["visits"][0]["job_id"], "technician_id": other["technician_id"], "position": 0}
    answer = api.http.post(f"/v1/plans/{replanned['id']}/edits", json={"moves": [move]}).json()
    moved, told = len(answer["changes"]["moved"]), len(answer["changes"]["notify"])
    expected = f"Against what was told: {moved} visit(s) to another technician, {told} customer(s) told a new time."
    assert expected in captions, captions


def test_a_move_changed_in_the_form_after_its_check_cannot_be_applied_until_it_is_checked_again(
    board: Callable[..., AppTest], api: Api
) -> None:
    plan = api.newest_plan()
    # Three visits at least: moving the second to the last place then changes the route (an edit that
    # changes nothing is refused).
    route = next(r for r in plan["routes"] if len(r["visits"]) >= 3)  # type: ignore[attr-defined]
    tech, last = route["technician_id"], len(route["visits"])
    first, second = route["visits"][0]["job_id"], route["visits"][1]["job_id"]
    versions = len(api.http.get("/v1/plans", params={"date": DAY}).json())
    at = edit_page(board)
    at.selectbox(key="move_version").set_value(plan["id"])
    at.selectbox(key="move_job").set_value(first)
    at.selectbox(key="move_tech").set_value(tech)
    at.number_input(key="move_place").set_value(last)
    at.button(key="FormSubmitter:move_form-Check move").click().run()
    assert f"**Checked: {first} to {tech} at place {last}**" in [str(m.value) for m in at.markdown]

    # Another job in the form, Apply pressed without checking it: nothing is stored, the check is dropped.
    at.selectbox(key="move_job").set_value(second)
    at.button(key="move_apply").click().run()
    said = f"The move in the form is not the one checked ({first} to {tech} at place {last}): check it first."
    assert said in texts(at, "info"), texts(at, "info")
    assert len(api.http.get("/v1/plans", params={"date": DAY}).json()) == versions
    assert not [m for m in at.markdown if str(m.value).startswith("**Checked:")]
    at.run()
    assert at.button(key="move_apply").disabled

    # Checked again, Apply stores the move on screen.
    at.button(key="FormSubmitter:move_form-Check move").click().run()
    assert f"**Checked: {second} to {tech} at place {last}**" in [str(m.value) for m in at.markdown]
    if texts(at, "warning"):
        at.checkbox(key="move_override").check()  # sent with Apply, as the form's fields are
    at.button(key="move_apply").click().run()
    assert not at.exception
    newest = api.newest_plan()
    assert newest["edited_from"] == plan["id"]
    moved = next(r for r in newest["routes"] if r["technician_id"] == tech)  # type: ignore[attr-defined]
    assert moved["visits"][-1]["job_id"] == second
