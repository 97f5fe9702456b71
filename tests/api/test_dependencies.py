"""Dependencies between jobs through the API (issue 20): a job waits for another
(``depends_on``: a job id, or ``{"job_id", "min_lag_hours", "max_lag_hours",
"min_lag_days", "max_lag_days"}``) and is never planned, offered or booked before that
job's end plus the lag."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient

from api import create_app
from tests.api.conftest import DISPATCHER, auth, run_plan, run_plan_of, settings_for
from tests.conftest import seeded_day

DAY = "2026-12-01"
NEXT = "2026-12-02"
T = "{}T{}:00+02:00"
TECH = {
    "name": "Ville Asentaja",
    "home": {"lat": 60.2, "lon": 24.9},
    "skills": {"wardrobe": 2},
    "shifts": [{"date": d, "start": "08:00", "end": "18:00"} for d in (DAY, NEXT)],
}


def job(date: str, **fields: Any) -> dict[str, Any]:
    return {"date": date, "location": {"lat": 60.17, "lon": 24.94}, "duration_min": 60, **fields}


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    """An empty service (no sample day) with one technician working both days."""
    app = create_app(settings_for(database_url, seed=False))
    with TestClient(app) as c:
        assert c.put("/v1/technicians/T1", json=TECH, headers=DISPATCHER).status_code == 201
        yield c


def search(date_from: str, date_to: str, depends_on: dict[str, Any]) -> dict[str, Any]:
    """A slot search for a one-hour wardrobe job waiting for ``depends_on``."""
    return {
        "location": {"lat": 60.17, "lon": 24.94},
        "duration_min": 60,
        "skills": {"wardrobe": 1},
        "date_from": date_from,
        "date_to": date_to,
        "depends_on": depends_on,
    }


def put(client: TestClient, job_id: str, body: dict[str, Any]) -> Any:
    return client.put(f"/v1/jobs/{job_id}", json=body, headers=DISPATCHER)


def visit(plan: dict[str, Any], job_id: str) -> dict[str, Any]:
    return next(v for r in plan["routes"] for v in r["visits"] if v["job_id"] == job_id)


def unassigned(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {u["job_id"]: u for u in plan["unassigned"]}


def test_an_install_depending_on_a_measure_at_14_is_planned_after_the_measure_ends(client: TestClient) -> None:
    """The tester's reproduction: before, the install went at 10:00, before its own measure at 14:00."""
    window = {"start": T.format(DAY, "14:00"), "end": T.format(DAY, "14:00")}
    assert put(client, "M", job(DAY, kind="measure", windows=[window])).status_code == 201
    assert put(client, "I", job(DAY, duration_min=120, depends_on="M")).status_code == 201
    assert client.get("/v1/jobs/I", headers=DISPATCHER).json()["depends_on"] == {
        "job_id": "M",
        "min_lag_hours": 0.0,
        "max_lag_hours": None,
        "min_lag_days": 0,
        "max_lag_days": None,
    }
    plan = run_plan(client, DAY)
    assert plan["status"] == "done", plan
    assert moment(visit(plan, "I")["start"]) >= moment(visit(plan, "M")["end"]) == moment(T.format(DAY, "15:00"))


def test_an_install_on_the_next_day_waits_for_the_published_plan_of_the_measures_day(client: TestClient) -> None:
    # Both days planned the evening before the first: a plan of a day to come meets no
    # work of a day gone by (which it would bring forward: docs/live-day.md).
    with time_machine.travel(moment(T.format("2026-11-30", "18:00")), tick=False):
        _install_waits_for_the_measures_published_day(client)


def _install_waits_for_the_measures_published_day(client: TestClient) -> None:
    window = {"start": T.format(DAY, "13:00"), "end": T.format(DAY, "14:00")}
    assert put(client, "M", job(DAY, kind="measure", windows=[window])).status_code == 201
    lags = {"job_id": "M", "min_lag_hours": 20, "max_lag_hours": 30}
    assert put(client, "I", job(NEXT, duration_min=120, depends_on=lags)).status_code == 201
    assert client.get("/v1/jobs/I", headers=DISPATCHER).json()["depends_on"] == {
        "job_id": "M",
        "min_lag_hours": 20.0,
        "max_lag_hours": 30.0,
        "min_lag_days": 0,
        "max_lag_days": None,
    }

    early = run_plan(client, NEXT)
    assert early["status"] == "done"
    waiting = unassigned(early)["I"]
    assert waiting["code"] == "dependency_not_met" and "Waits for job M" in waiting["reason"]

    measure_day = run_plan(client, DAY)
    assert client.post(f"/v1/plans/{measure_day['id']}/publish", headers=DISPATCHER).status_code == 200
    measured = moment(visit(measure_day, "M")["end"])
    plan = run_plan(client, NEXT)
    assert plan["status"] == "done"
    start = moment(visit(plan, "I")["start"])
    assert measured + dt.timedelta(hours=20) <= start <= measured + dt.timedelta(hours=30)


def measured_and_published(client: TestClient) -> None:
    """M (a measure at 09:00 on DAY) and I (an hour's install an hour after it, to start
    by 15:00), planned and published the evening before; at 09:00 M is begun."""
    window = {"start": T.format(DAY, "09:00"), "end": T.format(DAY, "09:00")}
    assert put(client, "M", job(DAY, kind="measure", windows=[window])).status_code == 201
    until_three = {"start": T.format(DAY, "10:00"), "end": T.format(DAY, "15:00")}
    lags = {"job_id": "M", "min_lag_hours": 1}
    assert put(client, "I", job(DAY, depends_on=lags, windows=[until_three])).status_code == 201
    plan = run_plan(client, DAY)
    assert moment(visit(plan, "I")["start"]) >= moment(T.format(DAY, "11:00")), plan
    assert client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER).status_code == 200
    for kind, clock in (("en_route", "08:45"), ("arrived", "09:00")):
        body = {"type": kind, "at": T.format(DAY, clock)}
        assert client.post("/v1/jobs/M/events", json=body, headers=DISPATCHER).status_code == 201


def test_a_measure_that_failed_holds_back_the_install_waiting_for_it(client: TestClient) -> None:
    """The measure failed for missing parts (its revisit is the next day): its visit in
    the published plan is no end to wait for. The install published after it is at risk
    in the live day, and no plan keeps it. Before, the install stayed planned after it
    and slots were offered for another job waiting for it."""
    with time_machine.travel(moment(T.format(DAY, "07:00")), tick=False):
        measured_and_published(client)
    with time_machine.travel(moment(T.format(DAY, "09:40")), tick=False):
        failed = {"type": "failed", "reason": "parts_missing", "at": T.format(DAY, "09:30")}
        assert client.post("/v1/jobs/M/events", json=failed, headers=DISPATCHER).status_code == 201
        assert client.get("/v1/jobs/M", headers=DISPATCHER).json()["date"] == NEXT
        # The install published after it is at risk in the live day: it waits for a visit
        # that failed (before, the live day showed it on time).
        live = client.get("/v1/live", params={"date": DAY}, headers=DISPATCHER).json()
        [install] = [v for t in live["technicians"] for v in t["visits"] if v["job_id"] == "I"]
        assert (install["at_risk"], install["risk"]) == (True, "dependency"), install
        plan = run_plan(client, DAY)
        assert plan["status"] == "done", plan
        held = unassigned(plan)["I"]
        assert held["code"] == "dependency_not_met" and "Waits for job M" in held["reason"], held
        booking = auth(client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"])
        found = client.post("/v1/slots/search", json=search(DAY, NEXT, {"job_id": "M"}), headers=booking).json()
        assert found["slots"] == [], found


def test_a_measure_reported_to_overrun_pushes_the_slots_of_a_job_waiting_for_it(client: TestClient) -> None:
    """The measure on site from 09:00 is expected to end at 12:30 (an overrun): a job an
    hour after it is offered from 13:30. Before, the published end (10:00) counted."""
    with time_machine.travel(moment(T.format(DAY, "07:00")), tick=False):
        measured_and_published(client)
    with time_machine.travel(moment(T.format(DAY, "10:10")), tick=False):
        late = {"type": "overrun", "job_id": "M", "expected_end": T.format(DAY, "12:30")}
        assert client.post("/v1/disruptions", json=late, headers=DISPATCHER).status_code == 201
        booking = auth(client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"])
        wanted = search(DAY, NEXT, {"job_id": "M", "min_lag_hours": 1})
        found = client.post("/v1/slots/search", json=wanted, headers=booking).json()
        assert found["slots"], found
        assert all(moment(s["start"]) >= moment(T.format(DAY, "13:30")) for s in found["slots"]), found


def test_a_search_of_days_after_the_maximum_lag_runs_out_says_so(client: TestClient) -> None:
    """M ends at 10:00 on DAY; a job at most two hours after it has nothing on NEXT. Before,
    the answer was empty, without a reason."""
    with time_machine.travel(moment(T.format(DAY, "07:00")), tick=False):
        measured_and_published(client)
        booking = auth(client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"])
        wanted = search(NEXT, NEXT, {"job_id": "M", "max_lag_hours": 2})
        found = client.post("/v1/slots/search", json=wanted, headers=booking).json()
        assert found["slots"] == []
        [why] = found["unavailable"]
        assert why["code"] == "dependency_not_met" and "waits for job M" in why["reason"], why


def test_a_re_plan_says_a_job_is_left_out_for_its_measure_s_overrun_not_for_a_pin(client: TestClient) -> None:
    """The measure runs to 14:30: the install an hour after it, to start by 15:00, has no
    start left. Before, the re-plan said "Pinned to a technician who has no shift this
    day" of a job pinned to nobody."""
    with time_machine.travel(moment(T.format(DAY, "07:00")), tick=False):
        measured_and_published(client)
    with time_machine.travel(moment(T.format(DAY, "10:10")), tick=False):
        late = {"type": "overrun", "job_id": "M", "expected_end": T.format(DAY, "14:30")}
        assert client.post("/v1/disruptions", json=late, headers=DISPATCHER).status_code == 201
        plan = run_plan(client, DAY, replan_from=T.format(DAY, "10:10"))
        assert plan["status"] == "done", plan
        held = unassigned(plan)["I"]
        assert held["code"] == "dependency_not_met", held
        assert held["reason"] == "Waits for job M, which ends at 14:30: its lag leaves no start this day.", held


def test_a_lag_that_leaves_nothing_of_the_day_holds_the_job_back_saying_from_when(client: TestClient) -> None:
    window = {"start": T.format(DAY, "15:00"), "end": T.format(DAY, "15:00")}
    assert put(client, "M", job(DAY, kind="measure", windows=[window])).status_code == 201
    assert put(client, "I", job(NEXT, depends_on={"job_id": "M", "min_lag_hours": 48})).status_code == 201
    measure_day = run_plan(client, DAY)
    assert client.post(f"/v1/plans/{measure_day['id']}/publish", headers=DISPATCHER).status_code == 200
    held = unassigned(run_plan(client, NEXT))["I"]
    assert held["code"] == "dependency_not_met"
    assert "may start only from 2026-12-03 16:00" in held["reason"]


def test_a_cycle_of_dependencies_is_refused_naming_the_field(client: TestClient) -> None:
    assert put(client, "A", job(DAY)).status_code == 201
    assert put(client, "B", job(DAY, depends_on="A")).status_code == 201
    refused = put(client, "A", job(DAY, depends_on="B"))
    assert refused.status_code == 422
    assert refused.json()["field"] == "depends_on.job_id"
    assert "A -> B -> A" in refused.json()["detail"]
    assert client.get("/v1/jobs/A", headers=DISPATCHER).json()["depends_on"] is None


def test_waiting_for_a_cancelled_job_is_refused_naming_the_field_until_it_is_opened_again(
    client: TestClient,
) -> None:
    """Before, it was stored and every plan then left the job out: "Waits for job A, which is cancelled"."""
    assert put(client, "A", job(DAY)).status_code == 201
    assert client.delete("/v1/jobs/A", headers=DISPATCHER).status_code == 200
    refused = put(client, "B", job(DAY, depends_on="A"))
    assert refused.status_code == 422 and refused.json()["field"] == "depends_on.job_id", refused.text
    assert client.get("/v1/jobs/B", headers=DISPATCHER).status_code == 404
    assert put(client, "A", job(DAY)).status_code in (200, 201)
    assert put(client, "B", job(DAY, depends_on="A")).status_code == 201


def test_cancelling_a_job_a_promised_job_waits_for_is_refused_naming_it_and_changes_nothing(
    client: TestClient,
) -> None:
    """Before, the measure was cancelled and every plan of the install's day was then
    refused for the install's promise, with nothing said to whoever cancelled."""
    assert put(client, "M", job(DAY, kind="measure")).status_code == 201
    promised = {"start": T.format(NEXT, "13:00"), "end": T.format(NEXT, "14:00")}
    assert put(client, "I", job(NEXT, depends_on="M", windows=[promised], confirmed=True)).status_code == 201
    refused = client.delete("/v1/jobs/M", headers=DISPATCHER)
    assert refused.status_code == 409 and refused.json()["field"] == "job_id", refused.text
    assert "job I" in refused.json()["detail"] and "promised" in refused.json()["detail"]
    assert client.get("/v1/jobs/M", headers=DISPATCHER).json()["status"] == "open"
    # Once the install is cancelled (or no longer promised), the measure can be.
    assert client.delete("/v1/jobs/I", headers=DISPATCHER).status_code == 200
    assert client.delete("/v1/jobs/M", headers=DISPATCHER).status_code == 200


def test_a_preferred_window_beyond_what_a_plan_of_the_jobs_date_covers_is_refused(client: TestClient) -> None:
    later = {"start": "2026-12-04T09:00:00+02:00", "end": "2026-12-04T10:00:00+02:00"}
    refused = put(client, "P", job(DAY, preferred_window=later))
    assert refused.status_code == 422
    assert refused.json()["field"] == "preferred_window"
    assert client.get("/v1/jobs/P", headers=DISPATCHER).status_code == 404


def test_slots_for_a_dependent_job_start_after_the_measure_plus_its_lag_and_none_before_it_is_planned(
    client: TestClient,
) -> None:
    """On days to come (the next working day after the suite's today, and the day after)."""
    first = seeded_day()
    days = (first.isoformat(), (first + dt.timedelta(days=1)).isoformat())
    shifts = [{"date": d, "start": "08:00", "end": "18:00"} for d in days]
    assert client.put("/v1/technicians/T1", json={**TECH, "shifts": shifts}, headers=DISPATCHER).status_code == 200
    window = {"start": T.format(days[0], "09:00"), "end": T.format(days[0], "09:00")}
    assert put(client, "M", job(days[0], kind="measure", windows=[window])).status_code == 201
    booking = auth(client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"])
    wanted = search(days[0], days[1], {"job_id": "M", "min_lag_hours": 3})
    none = client.post("/v1/slots/search", json=wanted, headers=booking)
    assert none.status_code == 200, none.text
    assert none.json()["slots"] == []
    assert [u["code"] for u in none.json()["unavailable"]] == ["dependency_not_met"]

    measure_day = run_plan(client, days[0])
    assert client.post(f"/v1/plans/{measure_day['id']}/publish", headers=DISPATCHER).status_code == 200
    ready = moment(visit(measure_day, "M")["end"]) + dt.timedelta(hours=3)
    found = client.post("/v1/slots/search", json=wanted, headers=booking).json()
    assert found["slots"]
    assert all(moment(s["start"]) >= ready for s in found["slots"])
    assert any(u["code"] == "dependency_not_met" for u in found["unavailable"])

    too_early = {"start": T.format(days[0], "10:00"), "end": T.format(days[0], "11:00")}
    body = {k: v for k, v in wanted.items() if k not in ("date_from", "date_to")}
    refused = client.post(
        "/v1/bookings", json={**body, "slot": too_early}, headers={**booking, "Idempotency-Key": "dep-1"}
    )
    assert refused.status_code == 409 and "waits for job M" in refused.json()["detail"]
    slot = {"start": found["slots"][0]["start"], "end": found["slots"][0]["end"]}
    booked = client.post("/v1/bookings", json={**body, "slot": slot}, headers={**booking, "Idempotency-Key": "dep-2"})
    assert booked.status_code == 201, booked.text
    stored = client.get(f"/v1/jobs/{booked.json()['job_id']}", headers=DISPATCHER).json()
    assert stored["depends_on"]["job_id"] == "M"


FRIDAY, SATURDAY, MONDAY, TUESDAY = "2026-12-04", "2026-12-05", "2026-12-07", "2026-12-08"


def test_a_lag_in_working_days_skips_the_weekend_after_a_measure_on_friday(client: TestClient) -> None:
    """One working day after a measure on Friday is Monday: an install on the Saturday
    the technician works is held back saying from when; on Monday it is planned."""
    days = (FRIDAY, SATURDAY, MONDAY)
    shifts = [{"date": d, "start": "08:00", "end": "18:00"} for d in days]
    assert client.put("/v1/technicians/T1", json={**TECH, "shifts": shifts}, headers=DISPATCHER).status_code == 200
    window = {"start": T.format(FRIDAY, "09:00"), "end": T.format(FRIDAY, "10:00")}
    assert put(client, "M", job(FRIDAY, kind="measure", windows=[window])).status_code == 201
    lag = {"job_id": "M", "min_lag_days": 1, "max_lag_days": 1}
    assert put(client, "S", job(SATURDAY, depends_on=lag)).status_code == 201
    assert put(client, "I", job(MONDAY, depends_on=lag)).status_code == 201
    assert client.get("/v1/jobs/I", headers=DISPATCHER).json()["depends_on"] == {
        "job_id": "M",
        "min_lag_hours": 0.0,
        "max_lag_hours": None,
        "min_lag_days": 1,
        "max_lag_days": 1,
    }
    measure_day = run_plan(client, FRIDAY)
    assert client.post(f"/v1/plans/{measure_day['id']}/publish", headers=DISPATCHER).status_code == 200

    held = unassigned(run_plan(client, SATURDAY))["S"]
    assert held["code"] == "dependency_not_met"
    assert f"may start only from {MONDAY} 00:00 until {MONDAY} 23:59" in held["reason"], held["reason"]
    monday = run_plan(client, MONDAY)
    assert monday["status"] == "done" and "I" not in unassigned(monday), monday["unassigned"]
    assert visit(monday, "I")["start"].startswith(MONDAY)


def test_a_week_plan_puts_an_install_two_working_days_after_its_measure_across_the_weekend(
    client: TestClient,
) -> None:
    """Both jobs in one solve: the measure goes on Friday (its only day), so the install,
    free from Friday to Tuesday and preferring Friday, goes on Tuesday, not on the
    weekend days the technician also works nor on Monday."""
    days = [(dt.date(2026, 12, 4) + dt.timedelta(days=k)).isoformat() for k in range(5)]
    shifts = [{"date": d, "start": "08:00", "end": "18:00"} for d in days]
    assert client.put("/v1/technicians/T1", json={**TECH, "shifts": shifts}, headers=DISPATCHER).status_code == 200
    window = {"start": T.format(FRIDAY, "09:00"), "end": T.format(FRIDAY, "10:00")}
    assert put(client, "M", job(FRIDAY, kind="measure", windows=[window])).status_code == 201
    install = job(FRIDAY, date_range={"from": FRIDAY, "to": TUESDAY}, preferred_date=FRIDAY)
    assert put(client, "I", {**install, "depends_on": {"job_id": "M", "min_lag_days": 2}}).status_code == 201
    plan = run_plan_of(client, {"date_from": FRIDAY, "date_to": TUESDAY, "time_limit_s": 3})
    assert plan["status"] == "done", plan
    assert plan["unassigned"] == [], plan["unassigned"]
    [day] = [r["date"] for r in plan["routes"] for v in r["visits"] if v["job_id"] == "I"]
    assert day == TUESDAY


def test_a_maximum_lag_in_working_days_below_the_minimum_is_refused_naming_the_field(client: TestClient) -> None:
    assert put(client, "M", job(DAY)).status_code == 201
    refused = put(client, "I", job(DAY, depends_on={"job_id": "M", "min_lag_days": 3, "max_lag_days": 1}))
    assert refused.status_code == 422
    assert refused.json()["field"] == "depends_on.max_lag_days"
    assert client.get("/v1/jobs/I", headers=DISPATCHER).status_code == 404


def test_slots_for_a_job_one_working_day_after_its_measure_lie_on_the_next_weekday_only(client: TestClient) -> None:
    """The technician works all week, weekends too: with a lag of exactly one working day
    every slot offered is on the first Monday-to-Friday day after the measure's."""
    first = seeded_day()
    days = [(first + dt.timedelta(days=k)).isoformat() for k in range(7)]
    shifts = [{"date": d, "start": "08:00", "end": "18:00"} for d in days]
    assert client.put("/v1/technicians/T1", json={**TECH, "shifts": shifts}, headers=DISPATCHER).status_code == 200
    window = {"start": T.format(days[0], "09:00"), "end": T.format(days[0], "10:00")}
    assert put(client, "M", job(days[0], kind="measure", windows=[window])).status_code == 201
    measure_day = run_plan(client, days[0])
    assert client.post(f"/v1/plans/{measure_day['id']}/publish", headers=DISPATCHER).status_code == 200
    booking = auth(client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"])
    wanted = search(days[0], days[-1], {"job_id": "M", "min_lag_days": 1, "max_lag_days": 1})
    found = client.post("/v1/slots/search", json=wanted, headers=booking)
    assert found.status_code == 200, found.text
    next_weekday = first + dt.timedelta(days=1)
    while next_weekday.weekday() >= 5:
        next_weekday += dt.timedelta(days=1)
    assert found.json()["slots"]
    assert {s["start"][:10] for s in found.json()["slots"]} == {next_weekday.isoformat()}
