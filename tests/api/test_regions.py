"""Regions through the API: a job or a technician is in one region at a time, so a
move that would leave them on one region's lists while another plans them is refused
(409 naming ``region``, saying what to do first); a region nobody works in, one spelt
another way, a pin across regions and a place nobody could reach are refused naming
the field (422). On SQLite and PostgreSQL.

Helsinki is the default region (H1, H2); Tampere, 160 km away, has T1. Everyone works
``DAY``; the service's clock reads ``NOW``, the Wednesday before."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fastapi.testclient import TestClient

from api import create_app
from tests.api.conftest import DISPATCHER, auth, run_plan_of, settings_for

HELSINKI = ZoneInfo("Europe/Helsinki")
DAY = "2026-12-08"
NOW = dt.datetime(2026, 12, 2, 10, 0, tzinfo=HELSINKI)
HEL = (60.17, 24.94)
TRE = (61.50, 23.76)
CUSTOMER = {"name": "A. Customer", "phone": "+358 40 000 0000"}


def at(clock: str) -> str:
    """``clock`` (HH:MM) on ``DAY`` in Helsinki, as ISO 8601."""
    return f"{DAY}T{clock}:00+02:00"


def tech(home: tuple[float, float], region: str | None = None, **fields: Any) -> dict[str, Any]:
    """A wardrobe installer living at ``home`` who works 08:00-16:00 on ``DAY``."""
    shift = {"date": DAY, "start": "08:00", "end": "16:00"}
    body = {"home": {"lat": home[0], "lon": home[1]}, "skills": {"wardrobe": 2}, "shifts": [shift], **fields}
    return body | ({"region": region} if region is not None else {})


def job(where: tuple[float, float], region: str | None = None, **fields: Any) -> dict[str, Any]:
    """A half-hour wardrobe job at ``where`` on ``DAY``."""
    body = {
        "date": DAY,
        "location": {"lat": where[0], "lon": where[1]},
        "duration_min": 30,
        "skills": {"wardrobe": 1},
        "customer": CUSTOMER,
        **fields,
    }
    return body | ({"region": region} if region is not None else {})


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    """An empty service whose clock reads ``NOW``, with H1 and H2 in Helsinki and T1 in Tampere."""
    with time_machine.travel(NOW, tick=False), TestClient(create_app(settings_for(database_url, seed=False))) as c:
        for tech_id, body in (("H1", tech(HEL)), ("H2", tech((60.21, 25.0))), ("T1", tech(TRE, "tampere"))):
            assert c.put(f"/v1/technicians/{tech_id}", json=body, headers=DISPATCHER).status_code == 201
        yield c


def put(client: TestClient, path: str, body: dict[str, Any]) -> Any:
    return client.put(path, json=body, headers=DISPATCHER)


def planned(client: TestClient, region: str | None = None) -> dict[str, Any]:
    """A plan of ``DAY`` (of ``region``; the default region when None), done."""
    body: dict[str, Any] = {"date": DAY, "time_limit_s": 1} | ({"region": region} if region else {})
    plan = run_plan_of(client, body)
    assert plan["status"] == "done", plan
    return plan


def published(client: TestClient, region: str | None = None) -> dict[str, Any]:
    """A plan of ``DAY`` (of ``region``) made and published; returns it."""
    plan = planned(client, region)
    assert client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER).status_code == 200
    return plan


def holder(plan: dict[str, Any], job_id: str) -> str:
    """The technician a plan gives ``job_id`` to."""
    return next(r["technician_id"] for r in plan["routes"] for v in r["visits"] if v["job_id"] == job_id)


def listed(client: TestClient, tech_id: str) -> list[str]:
    """The job ids on ``tech_id``'s list of ``DAY`` (``GET /v1/me/jobs``)."""
    token = client.post("/v1/tokens", json={"role": "installer", "technician_id": tech_id}, headers=DISPATCHER)
    mine = client.get("/v1/me/jobs", params={"date": DAY}, headers=auth(token.json()["token"]))
    assert mine.status_code == 200, mine.text
    return [v["job_id"] for v in mine.json()]


def refused(response: Any, status: int, field: str) -> str:
    """The detail of a refusal with ``status`` naming ``field``."""
    assert response.status_code == status, response.text
    assert response.json()["field"] == field, response.text
    return str(response.json()["detail"])


# ----- a job changing region -----------------------------------------------------------------


def test_a_published_job_moves_to_another_region_only_once_its_plan_no_longer_holds_it(client: TestClient) -> None:
    """The explorer's reproduction: before, the job ended on a Helsinki and a Tampere list."""
    assert put(client, "/v1/jobs/HJ", job(HEL)).status_code == 201
    assert put(client, "/v1/jobs/TJ", job(TRE, "tampere")).status_code == 201
    first = holder(published(client), "HJ")

    detail = refused(put(client, "/v1/jobs/HJ", job(TRE, "tampere")), 409, "region")
    assert f"published plan of region helsinki on {DAY} ({first})" in detail
    assert "DELETE /v1/jobs/HJ" in detail and f"re-plan and publish {DAY} in helsinki without it" in detail
    assert client.get("/v1/jobs/HJ", headers=DISPATCHER).json()["region"] == "helsinki"

    # What the refusal says to do: cancel it, publish its day without it, enter it again.
    assert client.delete("/v1/jobs/HJ", headers=DISPATCHER).status_code == 200
    published(client)
    moved = put(client, "/v1/jobs/HJ", job(TRE, "tampere"))
    assert moved.status_code == 200, moved.text
    assert moved.json()["region"] == "tampere" and moved.json()["status"] == "open"
    tampere = published(client, "tampere")
    assert holder(tampere, "HJ") == "T1"
    assert "HJ" in listed(client, "T1") and "HJ" not in listed(client, first)


def test_an_import_row_moving_a_published_job_to_another_region_is_refused_on_its_line(client: TestClient) -> None:
    assert put(client, "/v1/jobs/HJ", job(HEL)).status_code == 201
    published(client)
    csv = f"id,kind,region,date,lat,lon,duration_min,skills\nHJ,install,tampere,{DAY},{TRE[0]},{TRE[1]},30,wardrobe:1\n"
    answer = client.post("/v1/jobs/import", files={"file": ("jobs.csv", csv.encode(), "text/csv")}, headers=DISPATCHER)
    assert answer.status_code == 200, answer.text
    [error] = answer.json()["errors"]
    assert (error["line"], error["field"]) == (2, "region") and "published plan of region helsinki" in error["message"]
    assert answer.json()["imported"] == 0
    assert client.get("/v1/jobs/HJ", headers=DISPATCHER).json()["region"] == "helsinki"


def test_a_job_under_way_cannot_move_to_another_region(client: TestClient) -> None:
    assert put(client, "/v1/jobs/HJ", job(HEL)).status_code == 201
    with time_machine.travel(dt.datetime.fromisoformat(at("09:00")), tick=False):
        on_the_way = client.post("/v1/jobs/HJ/events", json={"type": "en_route"}, headers=DISPATCHER)
        assert on_the_way.status_code == 201, on_the_way.text
        detail = refused(put(client, "/v1/jobs/HJ", job(TRE, "tampere")), 409, "region")
    assert "under way (en route) in region helsinki" in detail
    assert client.get("/v1/jobs/HJ", headers=DISPATCHER).json()["region"] == "helsinki"


def test_a_plan_made_before_one_of_its_jobs_moved_region_is_refused_at_publishing(client: TestClient) -> None:
    """Moving a job no published plan holds is fine; the plan made before is stale then."""
    assert put(client, "/v1/jobs/HJ", job(HEL)).status_code == 201
    assert put(client, "/v1/jobs/HJ2", job((60.18, 24.95))).status_code == 201
    plan = planned(client)
    assert put(client, "/v1/jobs/HJ", job(TRE, "tampere")).status_code == 200
    detail = refused(client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER), 409, "plan_id")
    assert "job HJ is in region tampere now" in detail


# ----- a technician changing region ----------------------------------------------------------


def test_a_technician_with_visits_in_a_published_plan_cannot_move_to_another_region(client: TestClient) -> None:
    assert put(client, "/v1/jobs/HJ", job(HEL, pinned_technician_id="H1")).status_code == 201
    published(client)
    assert put(client, "/v1/jobs/HJ", job(HEL)).status_code == 200  # unpinned: only the list holds H1

    detail = refused(put(client, "/v1/technicians/H1", tech(HEL, "tampere")), 409, "region")
    assert f"helsinki's published plans give them visits on {DAY}" in detail
    assert f"re-plan and publish {DAY} without them" in detail
    assert client.get("/v1/technicians/H1", headers=DISPATCHER).json()["region"] == "helsinki"
    assert listed(client, "H1") == ["HJ"]


def test_a_technician_with_a_disruption_recorded_ahead_cannot_move_to_another_region(client: TestClient) -> None:
    away = {"type": "technician_unavailable", "technician_id": "H2", "from": at("08:00"), "until": at("16:00")}
    assert client.post("/v1/disruptions", json=away, headers=DISPATCHER).status_code == 201

    detail = refused(put(client, "/v1/technicians/H2", tech((60.21, 25.0), "tampere")), 409, "region")
    assert f"disruptions of theirs (technician_unavailable) are recorded in helsinki on {DAY}" in detail
    assert f"wait until {DAY} is over" in detail
    tampere = client.get(
        "/v1/working-time", params={"date_from": DAY, "date_to": DAY, "region": "tampere"}, headers=DISPATCHER
    )
    assert [w["technician_id"] for w in tampere.json()] == ["T1"]
    # A technician nothing of the region counts on moves.
    assert put(client, "/v1/technicians/H1", tech(TRE, "tampere")).status_code == 200


def test_a_technician_open_work_is_pinned_to_cannot_move_to_another_region(client: TestClient) -> None:
    assert put(client, "/v1/jobs/HJ", job(HEL, pinned_technician_id="H2")).status_code == 201
    detail = refused(put(client, "/v1/technicians/H2", tech((60.21, 25.0), "tampere")), 409, "region")
    assert "open work is pinned to them (HJ)" in detail


# ----- slot search and booking -----------------------------------------------------------------


@pytest.fixture
def booker(client: TestClient) -> dict[str, str]:
    """A booking token's headers."""
    return auth(client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"])


def wanted(where: tuple[float, float], **fields: Any) -> dict[str, Any]:
    """What a slot search asks for: an hour at ``where`` on ``DAY``."""
    return {"location": {"lat": where[0], "lon": where[1]}, "duration_min": 60, "date_from": DAY, **fields}


def booking(where: tuple[float, float], **fields: Any) -> dict[str, Any]:
    """A booking of 10:00-11:00 on ``DAY`` of an hour at ``where``."""
    slot = {"start": at("10:00"), "end": at("11:00")}
    return {
        "location": {"lat": where[0], "lon": where[1]},
        "duration_min": 60,
        "slot": slot,
        "customer": CUSTOMER,
        **fields,
    }


def test_slot_search_and_booking_in_a_region_nobody_works_in_are_refused_naming_region(
    client: TestClient, booker: dict[str, str]
) -> None:
    """Before, the search answered 200 with no slot and the booking 409 naming the slot."""
    search = client.post("/v1/slots/search", json=wanted(TRE, region="tampre"), headers=booker)
    assert "no technician works in region 'tampre'" in refused(search, 422, "region")
    book = client.post("/v1/bookings", json=booking(TRE, region="tampre"), headers=booker | {"Idempotency-Key": "k1"})
    assert "no technician works in region 'tampre'" in refused(book, 422, "region")
    found = client.post("/v1/slots/search", json=wanted(TRE, region="tampere"), headers=booker)
    assert found.status_code == 200 and found.json()["slots"], found.text


def test_slot_search_and_booking_far_from_every_technician_are_refused_naming_location(
    client: TestClient, booker: dict[str, str]
) -> None:
    """At (0, 0), a missing position: refused as PUT /v1/jobs refuses it."""
    search = client.post("/v1/slots/search", json=wanted((0, 0)), headers=booker)
    assert "km from the nearest home of region helsinki's technicians" in refused(search, 422, "location")
    book = client.post("/v1/bookings", json=booking((0, 0)), headers=booker | {"Idempotency-Key": "k2"})
    refused(book, 422, "location")
    assert client.get("/v1/jobs", params={"date": DAY}, headers=DISPATCHER).json() == []


# ----- how a region is written -----------------------------------------------------------------


def test_a_region_differing_only_in_case_or_spacing_is_refused_naming_the_existing_spelling(client: TestClient) -> None:
    for spelt in ("Tampere", "TAMPERE"):
        detail = refused(put(client, "/v1/technicians/X1", tech(TRE, spelt)), 422, "region")
        assert f"{spelt!r} differs from the region 'tampere' only in case or spacing" in detail
    assert "'helsinki'" in refused(put(client, "/v1/technicians/X1", tech(HEL, "Helsinki")), 422, "region")
    assert put(client, "/v1/technicians/X1", tech((62.6, 29.76), "north karelia")).status_code == 201
    detail = refused(put(client, "/v1/technicians/X2", tech((62.6, 29.76), "north  karelia")), 422, "region")
    assert "give 'north karelia'" in detail
    assert "give 'tampere'" in refused(put(client, "/v1/jobs/J", job(TRE, "Tampere")), 422, "region")
    booker = auth(client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"])
    search = client.post("/v1/slots/search", json=wanted(TRE, region="Tampere"), headers=booker)
    assert "did you mean 'tampere'?" in refused(search, 422, "region")
    regions = {t["region"] for t in client.get("/v1/technicians", headers=DISPATCHER).json()}
    assert regions == {"helsinki", "tampere", "north karelia"}


def test_jobs_entered_before_any_technician_keep_to_one_spelling_of_a_region(database_url: str) -> None:
    with TestClient(create_app(settings_for(database_url, seed=False))) as c:
        assert put(c, "/v1/jobs/J1", job(TRE, "tampere", date="2030-01-08")).status_code == 201
        detail = refused(put(c, "/v1/jobs/J2", job(TRE, "Tampere ", date="2030-01-08")), 422, "region")
        assert "give 'tampere'" in detail


# ----- references across regions --------------------------------------------------------------


def test_a_job_pinned_or_preferring_a_technician_of_another_region_is_refused_naming_the_field(
    client: TestClient,
) -> None:
    """Before, it was stored and left out of every plan as pinned to someone 'who does not work this day'."""
    pinned = refused(put(client, "/v1/jobs/J", job(HEL, pinned_technician_id="T1")), 422, "pinned_technician_id")
    assert "T1 works in region tampere, the job is in helsinki" in pinned
    preferring = put(client, "/v1/jobs/J", job(HEL, preferred_technician_id="T1"))
    assert "T1 works in region tampere" in refused(preferring, 422, "preferred_technician_id")
    assert put(client, "/v1/jobs/J", job(TRE, "tampere", pinned_technician_id="T1")).status_code == 201


def test_an_edit_giving_a_visit_to_a_technician_of_another_region_says_so(client: TestClient) -> None:
    assert put(client, "/v1/jobs/HJ", job(HEL)).status_code == 201
    plan = planned(client)
    edit = {"moves": [{"job_id": "HJ", "technician_id": "T1", "position": 0}]}
    answer = client.post(f"/v1/plans/{plan['id']}/edits", json=edit, headers=DISPATCHER)
    detail = refused(answer, 422, "moves.0.technician_id")
    assert detail.startswith("technician T1 works in region tampere, the plan is of helsinki")


# ----- reads filtered by region ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/live", "/v1/kpis", "/v1/jobs", "/v1/plans", "/v1/disruptions"])
def test_a_read_filtered_by_a_region_nobody_has_is_refused_naming_region(client: TestClient, path: str) -> None:
    """As /v1/working-time is: an empty answer would read as a quiet day."""
    detail = refused(client.get(path, params={"date": DAY, "region": "Tampere"}, headers=DISPATCHER), 422, "region")
    assert "did you mean 'tampere'?" in detail
    assert client.get(path, params={"date": DAY, "region": "tampere"}, headers=DISPATCHER).status_code == 200
