"""A re-plan's first answer (issue 18; docs/replan.md, "The first answer"), on SQLite
and PostgreSQL: readable while the run is still running, checked, keeping what a
re-plan keeps, not publishable, and replaced at the end by an answer never worse.

No timing is asserted: each test waits for the first answer to appear while the run
still has most of its time limit ahead (a cancel may take effect only when the
search ends, so the limits are a few seconds, not minutes)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from dispatch import replan
from dispatch.db import make_engine, session_scope
from dispatch.mapping import DayClock
from solver.edit import Evaluation, evaluate
from solver.plan import WorkingRoute
from tests.api.conftest import DISPATCHER, settings_for
from tests.api.test_booking import DAY, at
from tests.api.test_replan import day, instant, visits  # noqa: F401  (the fixture)

NOW = at(DAY, "11:00")


def start_replan(client: TestClient, moment: str, time_limit_s: float) -> int:
    body = {"date": DAY.isoformat(), "time_limit_s": time_limit_s, "from": moment}
    started = client.post("/v1/plans", json=body, headers=DISPATCHER)
    assert started.status_code == 202, started.text
    return int(started.json()["id"])


def get(client: TestClient, plan_id: int) -> dict[str, Any]:
    answer = client.get(f"/v1/plans/{plan_id}", headers=DISPATCHER)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def first_answer(client: TestClient, plan_id: int) -> dict[str, Any]:
    """The plan as soon as its first answer is readable (the run must still be running)."""
    for _ in range(1200):
        plan = get(client, plan_id)
        if plan["first_answer_s"] is not None or plan["status"] not in ("queued", "running"):
            assert plan["status"] == "running", plan
            return plan
        time.sleep(0.05)
    raise AssertionError("no first answer")


def finished(client: TestClient, plan_id: int) -> dict[str, Any]:
    for _ in range(1200):
        plan = get(client, plan_id)
        if plan["status"] not in ("queued", "running"):
            return plan
        time.sleep(0.1)
    raise AssertionError("the plan did not finish")


def checked(database_url: str, moment: str, plan: dict[str, Any]) -> Evaluation:
    """The stored answer's routes (settled visits aside) at their stored starts, timed and
    checked by the independent checker against the re-plan's own problem at ``moment``."""
    cfg = settings_for(database_url, seed=False)
    tz = ZoneInfo(cfg.timezone)
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            left = replan.day_from(session, DAY, cfg.default_region, tz, instant(moment), cfg.stability)
    finally:
        engine.dispose()
    problem = left.locked.problem if left.locked is not None else left.day.problem
    clock = DayClock(DAY, tz)
    settled = set(plan["changes"]["settled"])
    routes = []
    for r in plan["routes"]:
        ahead = [v for v in r["visits"] if v["job_id"] not in settled]
        ids = tuple(v["job_id"] for v in ahead)
        starts = tuple(clock.seconds(dt.datetime.fromisoformat(v["start"])) for v in ahead)
        if ids:
            routes.append(WorkingRoute(r["technician_id"], ids, starts))
    return evaluate(problem, routes)


def disrupt(client: TestClient, published: dict[str, Any]) -> tuple[str, str]:
    """W1 finished its first visit and is on site at its second; W2 falls ill at NOW."""
    told = visits(published)
    routes = {r["technician_id"]: [v["job_id"] for v in r["visits"]] for r in published["routes"]}
    first, second = routes["W1"][:2]
    for job_id, kind, moment in (
        (first, "arrived", told[first][1]["arrival"]),
        (first, "completed", told[first][1]["end"]),
        (second, "arrived", told[second][1]["arrival"]),
    ):
        sent = client.post(f"/v1/jobs/{job_id}/events", json={"type": kind, "at": moment}, headers=DISPATCHER)
        assert sent.status_code == 201, sent.text
    ill = client.post(
        "/v1/disruptions",
        json={"type": "technician_unavailable", "technician_id": "W2", "from": NOW},
        headers=DISPATCHER,
    )
    assert ill.status_code == 201, ill.text
    return first, second


def test_a_re_plans_first_answer_is_readable_while_it_runs_checked_and_not_publishable(
    day: tuple[TestClient, dict[str, Any]],  # noqa: F811
    database_url: str,
) -> None:
    client, published = day
    first, second = disrupt(client, published)
    plan_id = start_replan(client, NOW, time_limit_s=8)
    plan = first_answer(client, plan_id)
    assert plan["phase"] == "improving" and plan["first_answer_s"] >= 0
    # What a re-plan keeps: the settled visits first on W1, nothing more for W2, every job accounted for.
    assert [v["job_id"] for v in next(r for r in plan["routes"] if r["technician_id"] == "W1")["visits"]][:2] == [
        first,
        second,
    ]
    assert plan["changes"]["settled"] == sorted([first, second])
    new = visits(plan)
    for job_id, (tech, visit) in new.items():
        if job_id not in (first, second):
            assert tech != "W2" and instant(visit["start"]) >= instant(NOW), (job_id, visit)
    assert set(new) | {u["job_id"] for u in plan["unassigned"]} == set(visits(published))
    assert plan["kpis"] is not None and plan["objective"] is not None
    evaluation = checked(database_url, NOW, plan)
    assert evaluation.feasible, evaluation.violations
    # Not publishable while it runs.
    refused = client.post(f"/v1/plans/{plan_id}/publish", headers=DISPATCHER)
    assert refused.status_code == 409 and refused.json()["field"] == "status", refused.text
    # Cancelled, it keeps nothing of its first answer.
    assert client.post(f"/v1/plans/{plan_id}/cancel", headers=DISPATCHER).status_code == 202
    ended = finished(client, plan_id)
    assert ended["status"] == "cancelled" and ended["routes"] is None and ended["changes"] is None


def test_a_re_plans_final_answer_replaces_the_first_and_is_never_worse_by_the_objective(
    day: tuple[TestClient, dict[str, Any]],  # noqa: F811
    database_url: str,
) -> None:
    client, published = day
    disrupt(client, published)
    plan_id = start_replan(client, NOW, time_limit_s=6)
    early = first_answer(client, plan_id)
    early_eval = checked(database_url, NOW, early)
    assert early_eval.feasible, early_eval.violations
    final = finished(client, plan_id)
    assert final["status"] == "done" and final["phase"] is None
    assert final["first_answer_s"] == early["first_answer_s"]
    final_eval = checked(database_url, NOW, final)
    assert final_eval.feasible, final_eval.violations
    assert final_eval.solution.objective.total_units <= early_eval.solution.objective.total_units
    # The stored answer is the final one: each job once, and changes for it.
    jobs = [v["job_id"] for r in final["routes"] for v in r["visits"]]
    assert len(jobs) == len(set(jobs))
    assert set(final["changes"]["routes_changed"]) >= {"W2"}
    assert client.post(f"/v1/plans/{plan_id}/publish", headers=DISPATCHER).status_code == 200


def test_a_whole_day_run_over_a_published_day_also_gives_a_first_answer(
    day: tuple[TestClient, dict[str, Any]],  # noqa: F811
) -> None:
    client, published = day
    started = client.post("/v1/plans", json={"date": DAY.isoformat(), "time_limit_s": 8}, headers=DISPATCHER)
    assert started.status_code == 202, started.text
    plan_id = int(started.json()["id"])
    plan = first_answer(client, plan_id)
    assert plan["changes"] is None
    assert set(visits(plan)) | {u["job_id"] for u in plan["unassigned"]} == set(visits(published))
    assert client.post(f"/v1/plans/{plan_id}/cancel", headers=DISPATCHER).status_code == 202
    assert finished(client, plan_id)["status"] == "cancelled"
