"""A re-plan's own stability (docs/replan.md, "Stability for one re-plan"), on SQLite
and PostgreSQL: the costs a dispatcher gives with ``from`` are the ones its search
weighs changes with, shown on the plan; without them the service's settings."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import DISPATCHER, run_plan_of
from tests.api.test_booking import DAY, at
from tests.api.test_replan import day, instant, visits  # noqa: F401  (the fixture)


def replan_with(client: TestClient, stability: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"date": DAY.isoformat(), "time_limit_s": 2, "from": at(DAY, "07:30")}
    if stability is not None:
        body["stability"] = stability
    return dict(run_plan_of(client, body))


def test_a_re_plan_weighs_changes_with_the_costs_given_for_it(
    day: tuple[TestClient, dict[str, Any]],  # noqa: F811
) -> None:
    client, published = day
    w1 = [job_id for job_id, (tech, _) in visits(published).items() if tech == "W1"]
    assert w1
    # The plan has everyone start after the lunch; W1 cannot start before 13:00: their
    # customers either wait for them or get another installer.
    away = {
        "type": "technician_unavailable",
        "technician_id": "W1",
        "from": at(DAY, "07:30"),
        "until": at(DAY, "13:00"),
    }
    assert client.post("/v1/disruptions", json=away, headers=DISPATCHER).status_code == 201

    keep = replan_with(client, {"move_eur": 5000, "minute_eur": 0, "told_eur": 0})
    assert keep["status"] == "done", keep
    assert keep["stability"] == {"move_eur": 5000.0, "minute_eur": 0.0, "tolerance_min": 15, "told_eur": 0.0}
    assert keep["changes"]["moved"] == []
    kept = visits(keep)
    for job_id in w1:
        tech, visit = kept[job_id]
        assert tech == "W1" and instant(visit["arrival"]) >= instant(at(DAY, "13:00")), (job_id, visit)

    # A hand edit of that proposal is weighed, and stored, with the proposal's costs.
    lock = {"locks": [{"job_id": w1[0], "technician": True}], "apply": True}
    edited = client.post(f"/v1/plans/{keep['id']}/edits", json=lock, headers=DISPATCHER)
    assert edited.status_code == 200, edited.text
    version = client.get(f"/v1/plans/{edited.json()['plan_id']}", headers=DISPATCHER).json()
    assert version["edited_from"] == keep["id"] and version["stability"] == keep["stability"]

    hurry = replan_with(client, {"move_eur": 0, "minute_eur": 500, "tolerance_min": 0, "told_eur": 0})
    assert hurry["status"] == "done", hurry
    # With moves free, others' visits may change hands too; W1's customers do not wait.
    taken = [m["job_id"] for m in hurry["changes"]["moved"] if m["from_technician_id"] == "W1"]
    assert taken and set(taken) <= set(w1), hurry["changes"]


def test_without_its_own_a_re_plan_shows_the_services_stability_and_a_whole_day_run_none(
    day: tuple[TestClient, dict[str, Any]],  # noqa: F811
) -> None:
    client, published = day
    assert published["stability"] is None
    plan = replan_with(client, None)
    assert plan["status"] == "done", plan
    assert plan["stability"] == {"move_eur": 30.0, "minute_eur": 0.5, "tolerance_min": 15, "told_eur": 15.0}
    partly = replan_with(client, {"told_eur": 2.5})
    assert partly["stability"] == {"move_eur": 30.0, "minute_eur": 0.5, "tolerance_min": 15, "told_eur": 2.5}


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"date": DAY.isoformat(), "stability": {"move_eur": 10}}, "stability", "only a re-plan (with from)"),
        ({"date": DAY.isoformat(), "from": at(DAY, "09:00"), "stability": {"move_eur": -1}}, "stability.move_eur", ""),
        ({"date": DAY.isoformat(), "from": at(DAY, "09:00"), "stability": {"speed": 1}}, "stability.speed", ""),
    ],
)
def test_a_stability_that_cannot_be_used_is_refused_naming_the_field_and_starts_no_run(
    day: tuple[TestClient, dict[str, Any]],  # noqa: F811
    body: dict[str, Any],
    field: str,
    says: str,
) -> None:
    client, _ = day
    before = client.get(f"/v1/plans?date={DAY.isoformat()}", headers=DISPATCHER).json()
    refused = client.post("/v1/plans", json=body, headers=DISPATCHER)
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == field and says in refused.json()["detail"]
    assert client.get(f"/v1/plans?date={DAY.isoformat()}", headers=DISPATCHER).json() == before
