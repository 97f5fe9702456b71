"""The dispatcher's own moves (issue 18; docs/replan.md, "Moving visits by hand"):
``POST /v1/plans/{id}/edits`` evaluates moves and locks with the route timer and the
checker before anything is stored. On SQLite and PostgreSQL.

A region with two wardrobe installers (W1, W2) and a kitchen fitter (K1) who holds
no wardrobe skill; the dispatcher enters jobs and plans the day."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api import create_app
from dispatch import field
from dispatch.auth import Principal
from dispatch.clock import Clock
from tests.api.conftest import DISPATCHER, run_plan, run_plan_of, settings_for
from tests.api.test_booking import CUSTOMER, DAY, NEXT, at, job, technician


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    """W1 and W2 (wardrobe), K1 (kitchen only) working on DAY; no jobs yet."""
    app = create_app(settings_for(database_url, seed=False))
    with TestClient(app) as c:
        for tid, home, skills in (
            ("W1", (60.17, 24.94), {"wardrobe": 2}),
            ("W2", (60.21, 25.00), {"wardrobe": 2}),
            ("K1", (60.19, 24.96), {"kitchen": 1}),
        ):
            put = c.put(f"/v1/technicians/{tid}", json=technician(home, skills, [DAY]), headers=DISPATCHER)
            assert put.status_code == 201, put.text
        yield c


def put_job(client: TestClient, job_id: str, window: tuple[str, str], duration: int = 60, **extra: Any) -> None:
    body = {
        **job(duration),
        "date": DAY.isoformat(),
        "customer": CUSTOMER,
        "windows": [{"start": at(DAY, window[0]), "end": at(DAY, window[1])}],
        **extra,
    }
    response = client.put(f"/v1/jobs/{job_id}", json=body, headers=DISPATCHER)
    assert response.status_code in (200, 201), response.text


def planned(client: TestClient) -> dict[str, Any]:
    plan = run_plan(client, DAY.isoformat(), time_limit_s=1)
    assert plan["status"] == "done", plan
    return plan


def technician_of(plan: dict[str, Any], job_id: str) -> str:
    return next(r["technician_id"] for r in plan["routes"] for v in r["visits"] if v["job_id"] == job_id)


def edit(client: TestClient, plan_id: int, **body: Any) -> Any:
    return client.post(f"/v1/plans/{plan_id}/edits", json=body, headers=DISPATCHER)


def versions(client: TestClient) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = client.get("/v1/plans", params={"date": DAY.isoformat()}, headers=DISPATCHER).json()
    return listed


def codes(answer: Any) -> set[tuple[str, str]]:
    return {(v["job_id"], v["code"]) for v in answer.json()["violations"]}


def test_moving_a_visit_to_a_technician_without_the_skill_reports_skill_and_stores_nothing(
    client: TestClient,
) -> None:
    put_job(client, "J1", ("08:00", "16:00"))
    plan = planned(client)
    move = {"job_id": "J1", "technician_id": "K1", "position": 0}
    answer = edit(client, plan["id"], moves=[move])
    assert answer.status_code == 200, answer.text
    assert codes(answer) == {("J1", "skill")}
    assert answer.json()["plan_id"] is None
    refused = edit(client, plan["id"], moves=[move], apply=True)
    assert refused.status_code == 409 and refused.json()["field"] == "moves"
    assert [p["id"] for p in versions(client)] == [plan["id"]]


def test_moving_a_job_into_a_full_afternoon_reports_its_window_or_the_shift(client: TestClient) -> None:
    """W1's afternoon is one four-hour job that must start 11:00-11:30; J9 (14:00-15:00)
    fits neither before nor after it."""
    put_job(client, "LONG", ("11:00", "11:30"), duration=240)
    plan = planned(client)
    tech = technician_of(plan, "LONG")
    put_job(client, "J9", ("14:00", "15:00"))
    for position in (0, 99):
        answer = edit(client, plan["id"], moves=[{"job_id": "J9", "technician_id": tech, "position": position}])
        assert answer.status_code == 200, answer.text
        found = codes(answer)
        assert found, position
        assert {code for _, code in found} <= {"window", "shift"}, found
        assert {job_id for job_id, _ in found} & {"J9", "LONG"}
    assert len(versions(client)) == 1


def test_a_clean_move_applies_as_a_new_plan_version_whose_figures_match_the_evaluation(client: TestClient) -> None:
    put_job(client, "J1", ("08:00", "16:00"))
    put_job(client, "J2", ("08:00", "16:00"))
    plan = planned(client)
    other = "W2" if technician_of(plan, "J2") == "W1" else "W1"
    move = {"job_id": "J2", "technician_id": other, "position": 0}
    seen = edit(client, plan["id"], moves=[move])
    assert seen.status_code == 200 and seen.json()["violations"] == [], seen.text
    assert seen.json()["base_kpis"] == plan["kpis"]
    applied = edit(client, plan["id"], moves=[move], apply=True)
    assert applied.status_code == 200, applied.text
    new_id = applied.json()["plan_id"]
    assert new_id is not None and new_id != plan["id"]
    stored = client.get(f"/v1/plans/{new_id}", headers=DISPATCHER).json()
    assert stored["status"] == "done" and stored["edited_from"] == plan["id"]
    assert stored["override"] is None
    assert stored["kpis"] == seen.json()["kpis"] == applied.json()["kpis"]
    assert technician_of(stored, "J2") == other
    assert all(v["window"] is not None for r in stored["routes"] for v in r["visits"])
    assert [p["id"] for p in versions(client)] == [new_id, plan["id"]]
    # It is published the normal way.
    assert client.post(f"/v1/plans/{new_id}/publish", headers=DISPATCHER).status_code == 200


def test_applying_a_hard_violation_needs_an_override_which_is_recorded(client: TestClient) -> None:
    put_job(client, "J1", ("08:00", "16:00"))
    plan = planned(client)
    move = {"job_id": "J1", "technician_id": "K1", "position": 0}
    refused = edit(client, plan["id"], moves=[move], apply=True)
    assert refused.status_code == 409 and refused.json()["field"] == "moves"
    assert len(versions(client)) == 1
    forced = edit(client, plan["id"], moves=[move], apply=True, override=True)
    assert forced.status_code == 200, forced.text
    stored = client.get(f"/v1/plans/{forced.json()['plan_id']}", headers=DISPATCHER).json()
    override = stored["override"]
    assert override["by"]["role"] == "dispatcher" and override["at"]
    assert [(v["job_id"], v["code"]) for v in override["violations"]] == [("J1", "skill")]
    assert technician_of(stored, "J1") == "K1"


def pin_of(client: TestClient, job_id: str) -> str | None:
    pin: str | None = client.get(f"/v1/jobs/{job_id}", headers=DISPATCHER).json()["pinned_technician_id"]
    return pin


def test_locks_pin_the_job_once_published_and_are_recorded_with_its_place_and_time(client: TestClient) -> None:
    put_job(client, "J1", ("08:00", "16:00"))
    plan = planned(client)
    tech = technician_of(plan, "J1")
    start = next(v["start"] for r in plan["routes"] for v in r["visits"] if v["job_id"] == "J1")
    lock = {"job_id": "J1", "technician": True, "order": True, "time": True}
    answer = edit(client, plan["id"], locks=[lock], apply=True)
    assert answer.status_code == 200 and answer.json()["violations"] == [], answer.text
    assert pin_of(client, "J1") is None
    stored = client.get(f"/v1/plans/{answer.json()['plan_id']}", headers=DISPATCHER).json()
    assert stored["locks"] == [
        {
            "job_id": "J1",
            "technician_id": tech,
            "technician": True,
            "order": True,
            "time": True,
            "seq": 1,
            "start": start,
        }
    ]
    # Published, the lock is the job's pin.
    assert client.post(f"/v1/plans/{stored['id']}/publish", headers=DISPATCHER).status_code == 200
    assert pin_of(client, "J1") == tech
    # Moved elsewhere now, the pinned job is a hard violation.
    moved = edit(client, stored["id"], moves=[{"job_id": "J1", "technician_id": "W1" if tech == "W2" else "W2"}])
    assert moved.status_code == 422  # position is required
    moved = edit(
        client,
        stored["id"],
        moves=[{"job_id": "J1", "technician_id": "W1" if tech == "W2" else "W2", "position": 0}],
    )
    assert codes(moved) == {("J1", "other")}
    [pin] = moved.json()["violations"]
    assert pin["detail"] == f"J1 is pinned to {tech}: lock it to the technician it moves to (locks, technician)"


def test_a_lock_on_a_version_never_published_pins_nothing_for_later_runs(client: TestClient) -> None:
    """The dispatcher locks J1 on an edited version, then plans the day afresh instead of
    publishing it: the run is free to give J1 to anyone, and nothing holds it."""
    put_job(client, "J1", ("08:00", "16:00"))
    plan = planned(client)
    answer = edit(client, plan["id"], locks=[{"job_id": "J1", "technician": True}], apply=True)
    assert answer.status_code == 200, answer.text
    assert pin_of(client, "J1") is None
    again = planned(client)
    assert again["locks"] is None
    assert client.post(f"/v1/plans/{again['id']}/publish", headers=DISPATCHER).status_code == 200
    assert pin_of(client, "J1") is None


def test_a_lock_on_a_version_not_yet_published_holds_when_that_version_is_edited_again(client: TestClient) -> None:
    put_job(client, "J1", ("08:00", "16:00"))
    plan = planned(client)
    tech = technician_of(plan, "J1")
    locked = edit(client, plan["id"], locks=[{"job_id": "J1", "technician": True}], apply=True)
    assert locked.status_code == 200, locked.text
    other = "W1" if tech == "W2" else "W2"
    moved = edit(client, locked.json()["plan_id"], moves=[{"job_id": "J1", "technician_id": other, "position": 0}])
    assert codes(moved) == {("J1", "other")}
    [pin] = moved.json()["violations"]
    assert pin["detail"] == f"J1 is pinned to {tech}: lock it to the technician it moves to (locks, technician)"


def test_moving_a_promised_job_outside_its_promise_reports_promise(client: TestClient) -> None:
    put_job(client, "P1", ("09:00", "10:00"), confirmed=True)
    put_job(client, "LONG", ("08:00", "08:30"), duration=240)
    plan = planned(client)
    tech = technician_of(plan, "LONG")
    answer = edit(client, plan["id"], moves=[{"job_id": "P1", "technician_id": tech, "position": 99}])
    assert answer.status_code == 200, answer.text
    assert ("P1", "promise") in codes(answer)


def test_unknown_jobs_technicians_and_plans_are_named(client: TestClient) -> None:
    put_job(client, "J1", ("08:00", "16:00"))
    plan = planned(client)
    unknown_job = edit(client, plan["id"], moves=[{"job_id": "NOPE", "technician_id": "W1", "position": 0}])
    assert unknown_job.status_code == 422 and unknown_job.json()["field"] == "moves.0.job_id"
    unknown_tech = edit(client, plan["id"], moves=[{"job_id": "J1", "technician_id": "NOPE", "position": 0}])
    assert unknown_tech.status_code == 422 and unknown_tech.json()["field"] == "moves.0.technician_id"
    unlocked = edit(client, plan["id"], locks=[{"job_id": "NOPE", "technician": True}])
    assert unlocked.status_code == 422 and unlocked.json()["field"] == "locks.0.job_id"
    assert edit(client, 999_999).status_code == 404


def test_applying_an_edit_with_no_move_and_no_lock_is_refused_and_stores_no_copy(client: TestClient) -> None:
    put_job(client, "J1", ("08:00", "16:00"))
    plan = planned(client)
    assert edit(client, plan["id"]).status_code == 200  # checking the plan as it is stays possible
    empty = edit(client, plan["id"], apply=True)
    assert empty.status_code == 422 and empty.json()["field"] == "moves", empty.text
    versions = client.get("/v1/plans", params={"date": DAY.isoformat()}, headers=DISPATCHER).json()
    assert [v["id"] for v in versions] == [plan["id"]]


def test_an_override_without_apply_is_refused_naming_override_as_it_would_do_nothing(client: TestClient) -> None:
    put_job(client, "J1", ("08:00", "16:00"))
    plan = planned(client)
    other = "W2" if technician_of(plan, "J1") == "W1" else "W1"
    move = [{"job_id": "J1", "technician_id": other, "position": 0}]
    idle = edit(client, plan["id"], moves=move, override=True)
    assert idle.status_code == 422 and idle.json()["field"] == "override", idle.text
    assert edit(client, plan["id"], moves=move, override=True, apply=True).status_code == 200


def test_a_crew_moved_to_one_technician_alone_is_a_crew_violation_and_with_two_keeps_its_start(
    client: TestClient,
) -> None:
    put_job(client, "CREW", ("09:00", "12:00"), duration=120, crew_size=2)
    plan = planned(client)
    crew = sorted(r["technician_id"] for r in plan["routes"] for v in r["visits"] if v["job_id"] == "CREW")
    assert crew == ["W1", "W2"], plan
    alone = edit(client, plan["id"], moves=[{"job_id": "CREW", "technician_id": "W1", "position": 0}])
    assert ("CREW", "crew") in codes(alone)
    # A third wardrobe installer joins the day after it was planned and takes W2's place in the crew.
    w3 = client.put("/v1/technicians/W3", json=technician((60.19, 24.96), {"wardrobe": 2}, [DAY]), headers=DISPATCHER)
    assert w3.status_code == 201, w3.text
    both = [{"job_id": "CREW", "technician_id": t, "position": 0} for t in ("W3", "W1")]
    again = edit(client, plan["id"], moves=both, apply=True)
    assert again.status_code == 200 and again.json()["violations"] == [], again.text
    stored = client.get(f"/v1/plans/{again.json()['plan_id']}", headers=DISPATCHER).json()
    assert sorted(r["technician_id"] for r in stored["routes"] for v in r["visits"] if v["job_id"] == "CREW") == [
        "W1",
        "W3",
    ]
    starts = {v["start"] for r in stored["routes"] for v in r["visits"] if v["job_id"] == "CREW"}
    old = {v["start"] for r in plan["routes"] for v in r["visits"] if v["job_id"] == "CREW"}
    assert starts == old and len(starts) == 1


def field_event(client: TestClient, job_id: str, kind: str, clock: str) -> None:
    sent = client.post(f"/v1/jobs/{job_id}/events", json={"type": kind, "at": at(DAY, clock)}, headers=DISPATCHER)
    assert sent.status_code == 201, sent.text


def published_day(client: TestClient) -> dict[str, Any]:
    """FIRST (08:00-09:00), SECOND (10:00-12:00) and LATER (13:00-15:00), planned and published."""
    put_job(client, "FIRST", ("08:00", "09:00"), location={"lat": 60.17, "lon": 24.94})
    put_job(client, "SECOND", ("10:00", "12:00"), location={"lat": 60.18, "lon": 24.95})
    put_job(client, "LATER", ("13:00", "15:00"), location={"lat": 60.17, "lon": 24.95})
    plan = planned(client)
    published = client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER)
    assert published.status_code == 200, published.text
    return plan


def test_an_edit_from_an_instant_keeps_what_is_under_way_and_reports_its_changes_against_what_was_told(
    client: TestClient,
) -> None:
    plan = published_day(client)
    first_with = technician_of(plan, "FIRST")
    field_event(client, "FIRST", "en_route", "07:50")
    field_event(client, "FIRST", "arrived", "08:05")
    moment = at(DAY, "09:00")
    # A visit under way is not the dispatcher's to move.
    under_way = edit(
        client, plan["id"], moves=[{"job_id": "FIRST", "technician_id": "W2", "position": 0}], **{"from": moment}
    )
    assert under_way.status_code == 422 and under_way.json()["field"] == "moves.0.job_id", under_way.text
    assert "under way" in under_way.json()["detail"]
    # Another visit is: checked from 09:00, with what it changes for whom.
    other = "W2" if technician_of(plan, "SECOND") == "W1" else "W1"
    move = {"job_id": "SECOND", "technician_id": other, "position": 0}
    seen = edit(client, plan["id"], moves=[move], **{"from": moment})
    assert seen.status_code == 200, seen.text
    answer = seen.json()
    assert answer["from"] is not None and answer["from"].startswith(moment[:16])
    changes = answer["changes"]
    assert changes["settled"] == ["FIRST"]
    assert [(m["job_id"], m["to_technician_id"]) for m in changes["moved"]] == [("SECOND", other)]
    assert answer["kpis"]["jobs_total"] == answer["base_kpis"]["jobs_total"] == 2  # what is left at 09:00
    # Applied, it is stored as a re-plan from 09:00 is: the visit under way first, as it was.
    applied = edit(client, plan["id"], moves=[move], apply=True, **{"from": moment})
    assert applied.status_code == 200, applied.text
    stored = client.get(f"/v1/plans/{applied.json()['plan_id']}", headers=DISPATCHER).json()
    assert stored["replan_from"] is not None and stored["changes"]["moved"] == changes["moved"]
    assert technician_of(stored, "FIRST") == first_with and technician_of(stored, "SECOND") == other
    was = next(v for r in plan["routes"] for v in r["visits"] if v["job_id"] == "FIRST")
    now = next(v for r in stored["routes"] for v in r["visits"] if v["job_id"] == "FIRST")
    assert now["start"] == was["start"]
    assert client.post(f"/v1/plans/{stored['id']}/publish", headers=DISPATCHER).status_code == 200


def test_an_edit_of_a_re_plan_is_checked_from_the_re_plans_instant(client: TestClient) -> None:
    published_day(client)
    field_event(client, "FIRST", "en_route", "07:50")
    field_event(client, "FIRST", "arrived", "08:05")
    moment = at(DAY, "09:00")
    again = run_plan(client, DAY.isoformat(), time_limit_s=1, replan_from=moment)
    assert again["status"] == "done", again
    later_with = technician_of(dict(again), "LATER")
    other = "W2" if later_with == "W1" else "W1"
    seen = edit(client, int(str(again["id"])), moves=[{"job_id": "LATER", "technician_id": other, "position": 99}])
    assert seen.status_code == 200, seen.text
    assert seen.json()["from"].startswith(moment[:16])
    assert seen.json()["changes"]["settled"] == ["FIRST"]
    moving = edit(client, int(str(again["id"])), moves=[{"job_id": "FIRST", "technician_id": other, "position": 0}])
    assert moving.status_code == 422 and moving.json()["field"] == "moves.0.job_id"


def test_violations_the_plan_already_had_are_marked_standing_and_still_need_an_override(client: TestClient) -> None:
    plan = published_day(client)
    # Nothing reported by 10:30: FIRST (08:00-09:00) can only start after it now.
    moment = at(DAY, "10:30")
    other = "W2" if technician_of(plan, "LATER") == "W1" else "W1"
    move = {"job_id": "LATER", "technician_id": other, "position": 99}
    seen = edit(client, plan["id"], moves=[move], **{"from": moment})
    assert seen.status_code == 200, seen.text
    found = {(v["job_id"], v["code"], v["standing"]) for v in seen.json()["violations"]}
    assert ("FIRST", "window", True) in found
    assert not any(not standing for _, _, standing in found), found
    refused = edit(client, plan["id"], moves=[move], apply=True, **{"from": moment})
    assert refused.status_code == 409, refused.text


def test_an_edit_from_an_instant_of_another_day_names_from(client: TestClient) -> None:
    plan = published_day(client)
    answer = edit(client, plan["id"], **{"from": at(NEXT, "09:00")})
    assert answer.status_code == 422 and answer.json()["field"] == "from", answer.text


def clocked_client(database_url: str, moment: str) -> TestClient:
    """The fixture's region on a service whose clock reads ``moment``."""
    settings = dataclasses.replace(
        settings_for(database_url, seed=False), clock=Clock(dt.datetime.fromisoformat(moment))
    )
    return TestClient(create_app(settings))


def test_on_a_day_under_way_an_edit_is_checked_from_now_without_being_asked(database_url: str) -> None:
    """At 09:00 of the day FIRST is on site. An edit of the published plan sent without
    ``from`` is checked from the service's now, as the board's Today page checks it:
    the visit under way is not the dispatcher's to move, and the figures with and
    without a move count the same jobs (before, the visit under way was timed anew
    after a visit put in front of it, and the figures without the move were the whole
    day's as planned while those with it left the day's done work out)."""
    moment = at(DAY, "09:00")
    with clocked_client(database_url, moment) as client:
        for tid, home in (("W1", (60.17, 24.94)), ("W2", (60.21, 25.00))):
            put = client.put(
                f"/v1/technicians/{tid}", json=technician(home, {"wardrobe": 2}, [DAY]), headers=DISPATCHER
            )
            assert put.status_code == 201, put.text
        plan = published_day(client)
        field_event(client, "FIRST", "en_route", "07:50")
        field_event(client, "FIRST", "arrived", "08:05")
        first_with = technician_of(plan, "FIRST")
        other = "W2" if first_with == "W1" else "W1"
        under_way = edit(client, plan["id"], moves=[{"job_id": "FIRST", "technician_id": other, "position": 0}])
        assert under_way.status_code == 422 and under_way.json()["field"] == "moves.0.job_id", under_way.text
        # A visit put in front of the one under way does not re-time it: it stays as reported.
        seen = edit(client, plan["id"], moves=[{"job_id": "LATER", "technician_id": first_with, "position": 0}])
        assert seen.status_code == 200, seen.text
        answer = seen.json()
        assert answer["from"] is not None and answer["from"].startswith(moment[:16])
        assert answer["changes"]["settled"] == ["FIRST"]
        assert answer["kpis"]["jobs_total"] == answer["base_kpis"]["jobs_total"] == 2  # what is left at 09:00
        assert not any(v["job_id"] == "FIRST" for v in answer["violations"]), answer["violations"]


def test_the_figures_without_an_edit_count_the_day_as_it_is_now_after_a_cancellation(client: TestClient) -> None:
    """A day not yet begun: LATER is cancelled after the plan was made. The figures
    without the move are the plan's on the day as it is now, so the deltas show the
    move's effect, not the cancellation's."""
    plan = published_day(client)
    assert client.delete("/v1/jobs/LATER", headers=DISPATCHER).status_code in (200, 204)
    other = "W2" if technician_of(plan, "SECOND") == "W1" else "W1"
    seen = edit(client, plan["id"], moves=[{"job_id": "SECOND", "technician_id": other, "position": 0}])
    assert seen.status_code == 200, seen.text
    answer = seen.json()
    assert answer["from"] is None
    assert plan["kpis"]["jobs_total"] == 3
    assert answer["kpis"]["jobs_total"] == answer["base_kpis"]["jobs_total"] == 2
    assert answer["kpis"]["jobs_served"] == answer["base_kpis"]["jobs_served"] == 2


def test_a_publish_racing_an_installers_en_route_never_takes_the_job_from_them(client: TestClient) -> None:
    """The installer's report is being stored (not yet committed) when the dispatcher
    publishes a version that gives the job to someone else. Before, on PostgreSQL the
    publish read the job as scheduled and was accepted: the job went on en route with
    one technician while the published plan sent another."""
    put_job(client, "J1", ("09:00", "12:00"))
    plan = planned(client)
    assert client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER).status_code == 200
    mine = technician_of(plan, "J1")
    other = "W2" if mine == "W1" else "W1"
    moved = edit(client, plan["id"], moves=[{"job_id": "J1", "technician_id": other, "position": 0}], apply=True)
    assert moved.status_code == 200 and moved.json()["plan_id"] is not None, moved.text
    state = client.app.state.dispatch  # type: ignore[attr-defined]
    answers: list[Any] = []
    publishing = threading.Thread(
        target=lambda: answers.append(client.post(f"/v1/plans/{moved.json()['plan_id']}/publish", headers=DISPATCHER))
    )
    with Session(state.engine) as session:
        on_the_way = dt.datetime.fromisoformat(at(DAY, "08:40"))
        field.record_event(
            session, Principal("installer", mine), "J1", "en_route", on_the_way, "", now=state.clock.now(), tz=state.tz
        )
        session.flush()
        publishing.start()
        publishing.join(1.0)  # the publish waits for the report (or, before, did not)
        session.commit()
    publishing.join()
    [answer] = answers
    assert answer.status_code == 409 and f"under way with {mine}" in answer.json()["detail"], answer.text
    job_now = client.get("/v1/jobs/J1", headers=DISPATCHER).json()
    assert job_now["status"] == "en_route"
    live = client.get("/v1/live", params={"date": DAY.isoformat()}, headers=DISPATCHER).json()
    assert [t["technician_id"] for t in live["technicians"] for v in t["visits"] if v["job_id"] == "J1"] == [mine]


def test_a_visit_moved_by_override_off_the_technician_it_was_locked_to_takes_its_lock_along(
    client: TestClient,
) -> None:
    """Before, the job kept its pin to the technician it was taken from: published, the
    next plan of the day moved it back, and with its window promised every re-plan
    failed (the checker refused the engine's plan: "pinned to W1, served by W2")."""
    put_job(client, "J1", ("09:00", "12:00"))
    put_job(client, "J2", ("09:00", "16:00"))
    plan = planned(client)
    mine = technician_of(plan, "J1")
    other = "W2" if mine == "W1" else "W1"
    locked = edit(client, plan["id"], locks=[{"job_id": "J1", "technician": True}], apply=True)
    assert locked.status_code == 200, locked.text
    assert client.post(f"/v1/plans/{locked.json()['plan_id']}/publish", headers=DISPATCHER).status_code == 200
    assert client.get("/v1/jobs/J1", headers=DISPATCHER).json()["pinned_technician_id"] == mine

    move = {"job_id": "J1", "technician_id": other, "position": 0}
    assert edit(client, locked.json()["plan_id"], moves=[move], apply=True).status_code == 409  # the lock holds it
    moved = edit(client, locked.json()["plan_id"], moves=[move], apply=True, override=True)
    assert moved.status_code == 200, moved.text
    published = client.post(
        f"/v1/plans/{moved.json()['plan_id']}/publish", json={"confirm_windows": True}, headers=DISPATCHER
    )
    assert published.status_code == 200, published.text
    assert client.get("/v1/jobs/J1", headers=DISPATCHER).json()["pinned_technician_id"] == other

    again = planned(client)
    assert technician_of(again, "J1") == other


def test_releasing_a_technician_lock_takes_the_pin_it_set_off_once_published(client: TestClient) -> None:
    """Before, the released version was published and the job stayed pinned to the
    technician: every later run kept it with them as if the lock still held."""
    put_job(client, "J1", ("08:00", "16:00"))
    plan = planned(client)
    mine = technician_of(plan, "J1")
    locked = edit(client, plan["id"], locks=[{"job_id": "J1", "technician": True}], apply=True)
    assert client.post(f"/v1/plans/{locked.json()['plan_id']}/publish", headers=DISPATCHER).status_code == 200
    assert pin_of(client, "J1") == mine
    released = edit(client, locked.json()["plan_id"], locks=[{"job_id": "J1"}], apply=True)
    assert released.status_code == 200, released.text
    assert pin_of(client, "J1") == mine  # the pin waits for publishing, as a lock's does
    assert client.post(f"/v1/plans/{released.json()['plan_id']}/publish", headers=DISPATCHER).status_code == 200
    assert pin_of(client, "J1") is None


def test_a_plan_over_several_days_is_not_edited_itself_but_names_the_day_plans_to_edit(client: TestClient) -> None:
    """The run's answer is stored as one plan per day; the run holds no route of its own.
    Before, an edit of the run was evaluated on empty routes and applied as a plan of its
    first day holding only the moved visit, which could then be published."""
    for tid, home in (("W1", (60.17, 24.94)), ("W2", (60.21, 25.00))):
        put = client.put(
            f"/v1/technicians/{tid}", json=technician(home, {"wardrobe": 2}, [DAY, NEXT]), headers=DISPATCHER
        )
        assert put.status_code in (200, 201), put.text
    put_job(client, "J1", ("08:00", "16:00"))
    put_job(client, "J2", ("08:00", "16:00"))
    run = run_plan_of(client, {"date_from": DAY.isoformat(), "date_to": NEXT.isoformat(), "time_limit_s": 1})
    assert run["status"] == "done", run
    [day_plan] = [p for p in versions(client) if p["horizon_id"] == run["id"]]
    other = "W2" if technician_of(run, "J1") == "W1" else "W1"
    move = {"job_id": "J1", "technician_id": other, "position": 0}
    for apply in (False, True):
        refused = edit(client, int(str(run["id"])), moves=[move], apply=apply)
        assert refused.status_code == 409 and refused.json()["field"] == "plan_id", refused.text
        assert f"plan {day_plan['id']} ({DAY})" in refused.json()["detail"]
        assert "GET /v1/plans?date=" in refused.json()["detail"]
    assert {p["id"] for p in versions(client)} == {run["id"], day_plan["id"]}
    # The day plan is edited as any plan of its day.
    applied = edit(client, day_plan["id"], moves=[move], apply=True)
    assert applied.status_code == 200 and applied.json()["violations"] == [], applied.text


def test_a_one_person_job_moved_to_two_technicians_in_one_edit_is_refused_naming_the_second_move(
    client: TestClient,
) -> None:
    """Before, it was an `other` violation ("2 visits for a crew of 1") an override stored:
    published, the job was on both technicians' lists."""
    put_job(client, "J1", ("08:00", "16:00"))
    plan = planned(client)
    both = [{"job_id": "J1", "technician_id": t, "position": 0} for t in ("W1", "W2")]
    for extra in ({}, {"apply": True, "override": True}):
        refused = edit(client, plan["id"], moves=both, **extra)
        assert refused.status_code == 422 and refused.json()["field"] == "moves.1.job_id", refused.text
        assert "J1 is done by one technician and is already moved to W1" in refused.json()["detail"]
    assert [p["id"] for p in versions(client)] == [plan["id"]]


def test_a_crew_job_is_moved_at_most_once_per_technician_of_its_crew(client: TestClient) -> None:
    put_job(client, "CREW", ("09:00", "12:00"), duration=120, crew_size=2)
    plan = planned(client)
    three = [{"job_id": "CREW", "technician_id": t, "position": 0} for t in ("W2", "W1", "K1")]
    refused = edit(client, plan["id"], moves=three, apply=True, override=True)
    assert refused.status_code == 422 and refused.json()["field"] == "moves.2.job_id", refused.text
    assert [p["id"] for p in versions(client)] == [plan["id"]]


def locks_of(client: TestClient, plan_id: int) -> list[tuple[str, bool, bool, bool]]:
    stored = client.get(f"/v1/plans/{plan_id}", headers=DISPATCHER).json()
    return [(r["job_id"], r["technician"], r["order"], r["time"]) for r in stored["locks"] or ()]


def test_applying_an_edit_that_changes_nothing_is_refused_and_stores_no_copy(client: TestClient) -> None:
    """A move of a visit to the place it holds, or a lock the version holds already:
    before, each was stored as a new version identical to the one edited."""
    put_job(client, "J1", ("08:00", "16:00"))
    put_job(client, "J2", ("08:00", "16:00"))
    plan = planned(client)
    tech = technician_of(plan, "J1")
    place = next(r["visits"] for r in plan["routes"] if r["technician_id"] == tech).index(
        next(v for r in plan["routes"] for v in r["visits"] if v["job_id"] == "J1")
    )
    stay = {"job_id": "J1", "technician_id": tech, "position": place}
    assert edit(client, plan["id"], moves=[stay]).status_code == 200  # checking it stays possible
    idle = edit(client, plan["id"], moves=[stay], apply=True, override=True)
    assert idle.status_code == 422 and idle.json()["field"] == "moves", idle.text
    assert "copy" in idle.json()["detail"]
    assert [p["id"] for p in versions(client)] == [plan["id"]]

    locked = edit(client, plan["id"], locks=[{"job_id": "J1", "time": True}], apply=True)
    assert locked.status_code == 200, locked.text
    again = edit(client, locked.json()["plan_id"], locks=[{"job_id": "J1", "time": True}], apply=True)
    assert again.status_code == 422 and again.json()["field"] == "locks", again.text
    assert len(versions(client)) == 2


def test_a_lock_setting_no_flag_is_refused_naming_it_unless_it_releases_a_lock_the_version_holds(
    client: TestClient,
) -> None:
    put_job(client, "J1", ("08:00", "16:00"))
    plan = planned(client)
    for apply in (False, True):
        empty = edit(client, plan["id"], locks=[{"job_id": "J1"}], apply=apply)
        assert empty.status_code == 422 and empty.json()["field"] == "locks.0", empty.text
    assert [p["id"] for p in versions(client)] == [plan["id"]]
    # On a version that locks J1, the same lock releases it: that is an edit.
    locked = edit(client, plan["id"], locks=[{"job_id": "J1", "technician": True}], apply=True)
    assert locks_of(client, locked.json()["plan_id"]) == [("J1", True, False, False)]
    released = edit(client, locked.json()["plan_id"], locks=[{"job_id": "J1"}], apply=True)
    assert released.status_code == 200, released.text
    assert not any(any(flags) for _, *flags in locks_of(client, released.json()["plan_id"]))


def test_two_locks_of_the_same_job_are_refused_naming_the_second(client: TestClient) -> None:
    """Before, both were stored, even when they contradicted each other."""
    put_job(client, "J1", ("08:00", "16:00"))
    plan = planned(client)
    for twice in (
        [{"job_id": "J1", "time": True}, {"job_id": "J1", "technician": True}],
        [{"job_id": "J1", "technician": True}, {"job_id": "J1", "technician": False}],
    ):
        for apply in (False, True):
            refused = edit(client, plan["id"], locks=twice, apply=apply)
            assert refused.status_code == 422 and refused.json()["field"] == "locks.1.job_id", refused.text
    assert [p["id"] for p in versions(client)] == [plan["id"]]
