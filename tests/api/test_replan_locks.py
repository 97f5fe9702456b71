"""The dispatcher's locks in later plan runs (issue 18; docs/replan.md, "Locks in later
runs"), on SQLite and PostgreSQL: a re-plan from a published plan that carries locks
keeps each locked visit's technician, order and time, records them on its own version,
and says which it could not keep and why; a whole-day run keeps them too; a second
edit keeps the locks of the version it edits."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import DISPATCHER, run_plan
from tests.api.test_booking import DAY, at
from tests.api.test_replan import day, instant, visits  # noqa: F401  (the fixture)

EARLY = at(DAY, "08:30")
NOON = at(DAY, "12:00")  # between the first and the second visit of each installer (their day starts late)


def locked_and_published(client: TestClient, plan: dict[str, Any], locks: list[dict[str, Any]]) -> dict[str, Any]:
    """The plan with these visits locked by hand, stored as a new version and published."""
    answer = client.post(f"/v1/plans/{plan['id']}/edits", json={"locks": locks, "apply": True}, headers=DISPATCHER)
    assert answer.status_code == 200 and answer.json()["violations"] == [], answer.text
    plan_id = answer.json()["plan_id"]
    assert client.post(f"/v1/plans/{plan_id}/publish", headers=DISPATCHER).status_code == 200
    return dict(client.get(f"/v1/plans/{plan_id}", headers=DISPATCHER).json())


def route_of(plan: dict[str, Any], tech: str) -> list[dict[str, Any]]:
    return list(next(r for r in plan["routes"] if r["technician_id"] == tech)["visits"])


def fall_ill(client: TestClient, tech: str, moment: str) -> None:
    ill = client.post(
        "/v1/disruptions",
        json={"type": "technician_unavailable", "technician_id": tech, "from": moment},
        headers=DISPATCHER,
    )
    assert ill.status_code == 201, ill.text


def test_locked_visits_keep_their_technician_time_and_order_across_a_re_plan(
    day: tuple[TestClient, dict[str, Any]],  # noqa: F811
) -> None:
    client, published = day
    # The last two visits of W3, both still ahead at 08:30, locked in every way.
    later = [v for v in route_of(published, "W3") if instant(v["start"]) > instant(EARLY)][-2:]
    assert len(later) == 2
    locks = [{"job_id": v["job_id"], "technician": True, "order": True, "time": True} for v in later]
    locked = locked_and_published(client, published, locks)
    # W2 falls ill: their visits go to W1 and W3, whose routes change around the locks.
    fall_ill(client, "W2", EARLY)
    plan = run_plan(client, DAY.isoformat(), time_limit_s=3, replan_from=EARLY)
    assert plan["status"] == "done", plan
    new = visits(plan)
    for v in later:
        assert new[v["job_id"]][0] == "W3"
        assert instant(new[v["job_id"]][1]["start"]) == instant(v["start"])
    on_w3 = [v["job_id"] for v in route_of(plan, "W3")]
    assert on_w3.index(later[0]["job_id"]) < on_w3.index(later[1]["job_id"])
    assert plan["changes"]["locks_not_kept"] == []
    # The re-plan's version holds the same locks, each at its visit's place now.
    kept = {r["job_id"]: r for r in plan["locks"]}
    assert set(kept) == {v["job_id"] for v in later}
    for v in later:
        record = kept[v["job_id"]]
        assert record["technician"] and record["order"] and record["time"] and "not_kept" not in record
        assert record["technician_id"] == "W3" and instant(record["start"]) == instant(v["start"])
    assert {r["job_id"] for r in locked["locks"]} == set(kept)


def test_a_technician_lock_whose_technician_falls_ill_is_reported_and_the_visit_given_to_another(
    day: tuple[TestClient, dict[str, Any]],  # noqa: F811
) -> None:
    client, published = day
    pinned = next(v for v in route_of(published, "W2") if instant(v["start"]) > instant(EARLY))["job_id"]
    locked_and_published(client, published, [{"job_id": pinned, "technician": True}])
    fall_ill(client, "W2", EARLY)
    plan = run_plan(client, DAY.isoformat(), time_limit_s=3, replan_from=EARLY)
    assert plan["status"] == "done", plan
    (lost,) = plan["changes"]["locks_not_kept"]
    assert (lost["job_id"], lost["technician_id"], lost["lock"]) == (pinned, "W2", "technician")
    assert "W2 works no more today" in lost["reason"]
    # Released, the visit is planned on its merits (not left out as pinned to someone absent).
    new = visits(plan)
    assert pinned in new, plan["unassigned"]
    moved = {"job_id": pinned, "from_technician_id": "W2", "to_technician_id": new[pinned][0]}
    assert new[pinned][0] != "W2" and moved in plan["changes"]["moved"]
    # The version records what it could not keep, and no later run holds it.
    (record,) = plan["locks"]
    assert record["technician"] is False and record["technician_id"] == new[pinned][0]
    assert record["not_kept"] == [{"lock": "technician", "reason": lost["reason"]}]
    # Published, the job is no longer pinned to W2: the next re-plan plans it as any other.
    assert client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER).status_code == 200
    assert client.get(f"/v1/jobs/{pinned}", headers=DISPATCHER).json()["pinned_technician_id"] is None
    again = run_plan(client, DAY.isoformat(), time_limit_s=2, replan_from=at(DAY, "09:00"))
    assert again["status"] == "done" and pinned in visits(again), again["unassigned"]


def test_a_promise_locked_to_a_technician_who_can_no_longer_reach_it_goes_to_another_not_refused(
    day: tuple[TestClient, dict[str, Any]],  # noqa: F811
) -> None:
    client, published = day
    pinned = next(v for v in route_of(published, "W2") if instant(v["start"]) > instant(EARLY))["job_id"]
    job = client.get(f"/v1/jobs/{pinned}", headers=DISPATCHER).json()
    promised = client.put(f"/v1/jobs/{pinned}", json={**job, "confirmed": True}, headers=DISPATCHER)
    assert promised.status_code == 200, promised.text
    locked_and_published(client, published, [{"job_id": pinned, "technician": True}])
    # W2 is back at 15:59, too late to reach the job before its window closes at 16:00.
    away = {"type": "technician_unavailable", "technician_id": "W2", "from": EARLY, "until": at(DAY, "15:59")}
    assert client.post("/v1/disruptions", json=away, headers=DISPATCHER).status_code == 201
    plan = run_plan(client, DAY.isoformat(), time_limit_s=3, replan_from=EARLY)
    assert plan["status"] == "done", plan
    (lost,) = plan["changes"]["locks_not_kept"]
    assert (lost["job_id"], lost["technician_id"], lost["lock"]) == (pinned, "W2", "technician")
    assert lost["reason"] == "W2 can no longer reach it inside its window"
    tech, _ = visits(plan)[pinned]
    assert tech != "W2"
    assert {"job_id": pinned, "from_technician_id": "W2", "to_technician_id": tech} in plan["changes"]["moved"]
    # Published, the lock is released for the runs after it: the job is no longer W2's.
    assert client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER).status_code == 200
    assert client.get(f"/v1/jobs/{pinned}", headers=DISPATCHER).json()["pinned_technician_id"] is None
    again = run_plan(client, DAY.isoformat(), time_limit_s=2, replan_from=at(DAY, "09:00"))
    assert again["status"] == "done", again
    assert visits(again)[pinned][0] != "W2" and again["changes"]["locks_not_kept"] == []


def test_a_time_lock_whose_start_has_passed_is_reported_and_the_visit_planned_from_now(
    day: tuple[TestClient, dict[str, Any]],  # noqa: F811
) -> None:
    client, published = day
    first = route_of(published, "W1")[0]
    assert instant(first["start"]) < instant(NOON)
    locked_and_published(client, published, [{"job_id": first["job_id"], "technician": True, "time": True}])
    plan = run_plan(client, DAY.isoformat(), time_limit_s=3, replan_from=NOON)
    assert plan["status"] == "done", plan
    (lost,) = plan["changes"]["locks_not_kept"]
    assert (lost["job_id"], lost["technician_id"], lost["lock"]) == (first["job_id"], "W1", "time")
    assert "has passed" in lost["reason"]
    tech, visit = visits(plan)[first["job_id"]]
    assert tech == "W1" and instant(visit["start"]) >= instant(NOON)
    (record,) = plan["locks"]
    assert record["technician"] is True and record["time"] is False
    assert record["not_kept"] == [{"lock": "time", "reason": lost["reason"]}]


def test_a_whole_day_run_from_a_locked_published_plan_keeps_its_locks(
    day: tuple[TestClient, dict[str, Any]],  # noqa: F811
) -> None:
    client, published = day
    target = route_of(published, "W1")[-1]
    locked_and_published(client, published, [{"job_id": target["job_id"], "technician": True, "time": True}])
    plan = run_plan(client, DAY.isoformat(), time_limit_s=2)
    assert plan["status"] == "done", plan
    tech, visit = visits(plan)[target["job_id"]]
    assert tech == "W1" and instant(visit["start"]) == instant(target["start"])
    assert plan["changes"] is None
    (record,) = plan["locks"]
    assert record["job_id"] == target["job_id"] and record["technician"] and record["time"]
    assert "not_kept" not in record


def test_a_second_edit_keeps_the_locks_of_the_version_it_edits(
    day: tuple[TestClient, dict[str, Any]],  # noqa: F811
) -> None:
    client, published = day
    a, b = route_of(published, "W1")[:2]
    once = locked_and_published(client, published, [{"job_id": a["job_id"], "time": True}])
    twice = locked_and_published(client, once, [{"job_id": b["job_id"], "order": True}])
    held = {r["job_id"]: (r["technician"], r["order"], r["time"]) for r in twice["locks"]}
    assert held == {a["job_id"]: (False, False, True), b["job_id"]: (False, True, False)}
