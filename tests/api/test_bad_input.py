"""Bad input is refused as a 4xx ``application/problem+json`` naming the field,
and nothing is written: every case compares what GETs show (and how many rows
each table holds) before and after. Each group runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from api import create_app
from dispatch import planning
from dispatch.clock import Clock
from dispatch.errors import Unavailable
from dispatch.inputs import LatLon
from dispatch.tables import PlanRow
from solver import Cancelled
from tests.api.conftest import DISPATCHER, SAMPLE_DAY, settings_for

DAY = "2026-12-01"
T = "2026-12-01T{}:00+02:00"
JOB = {
    "kind": "install",
    "location": {"lat": 60.17, "lon": 24.94},
    "address": "Mannerheimintie 1, Helsinki",
    "customer": {"name": "Anna Asiakas", "phone": "+358 40 123 4567"},
    "duration_min": 90,
    "skills": {"wardrobe": 1},
    "windows": [{"start": T.format("09:00"), "end": T.format("12:00")}],
}
TECH = {
    "name": "Ville Asentaja",
    "home": {"lat": 60.2, "lon": 24.9},
    "skills": {"wardrobe": 2},
    "shifts": [
        {
            "date": DAY,
            "start": "08:00",
            "end": "16:00",
            "break": {"earliest": "11:00", "latest": "13:00", "duration_min": 30},
        }
    ],
}


def no_geocoder(address: str) -> LatLon:
    raise Unavailable("no geocoder in these tests", "address")


@dataclass
class Api:
    client: TestClient
    engine: Engine


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    """An empty service (no sample day) with one technician T1 and two jobs J1, J2."""
    app = create_app(settings_for(database_url, seed=False), geocoder=no_geocoder)
    with TestClient(app) as client:
        assert client.put("/v1/technicians/T1", json=TECH, headers=DISPATCHER).status_code == 201
        for job_id in ("J1", "J2"):
            assert client.put(f"/v1/jobs/{job_id}", json=JOB, headers=DISPATCHER).status_code == 201
        yield Api(client, app.state.dispatch.engine)


@pytest.fixture
def sample_api(database_url: str) -> Iterator[Api]:
    """The service with the sample day: big enough that a long plan run is still running when asked."""
    app = create_app(settings_for(database_url), geocoder=no_geocoder)
    with TestClient(app) as client:
        yield Api(client, app.state.dispatch.engine)


# --- a bad request and what must come back -------------------------------------------


@dataclass(frozen=True)
class Bad:
    name: str
    method: str
    url: str
    field: str
    status: int = 422
    json: Any = None
    content: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)


def job(**changes: Any) -> dict[str, Any]:
    """The valid job with ``changes`` (a value of ``...`` removes the key)."""
    body = {**JOB, **changes}
    return {k: v for k, v in body.items() if v is not ...}


def tech(**changes: Any) -> dict[str, Any]:
    return {**TECH, **changes}


def shift(**changes: Any) -> list[dict[str, Any]]:
    return [{**TECH["shifts"][0], **changes}]  # type: ignore[dict-item]


def raw(text: str) -> bytes:
    return text.encode("utf-8")


def snapshot(api: Api) -> dict[str, Any]:
    """Everything a bad request must leave as it was."""
    c = api.client
    with api.engine.connect() as conn:
        counts = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in SQLModel.metadata.sorted_tables
        }
    plans = c.get("/v1/plans", params={"date": DAY}, headers=DISPATCHER).json()
    kpis = c.get("/v1/kpis", params={"date": DAY}, headers=DISPATCHER).json()
    return {
        "technicians": c.get("/v1/technicians", headers=DISPATCHER).json(),
        "jobs": c.get("/v1/jobs", headers=DISPATCHER).json(),
        "plans": [(p["id"], p["published"]) for p in plans],
        "reported": (kpis["arrivals_reported"], kpis["outcomes_reported"]),
        "rows": counts,
    }


def refused(api: Api, case: Bad, before: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """Whether ``case`` is refused as it should be and writes nothing (None, else
    why not), and the state after it."""
    headers = dict(DISPATCHER)
    if case.content is not None:
        headers["Content-Type"] = "application/json"
    response = api.client.request(
        case.method, case.url, json=case.json, content=case.content, params=case.params or None, headers=headers
    )
    after = snapshot(api)
    return _verdict(case, response, before, after), after


def _verdict(case: Bad, response: Any, before: dict[str, Any], after: dict[str, Any]) -> str | None:
    text = response.text[:300]
    if response.status_code != case.status:
        return f"{case.name}: expected {case.status}, got {response.status_code} {text}"
    if not response.headers["content-type"].startswith("application/problem+json"):
        return f"{case.name}: {response.headers['content-type']} is not application/problem+json"
    problem = response.json()
    missing = {"type", "title", "status", "detail"} - set(problem)
    if missing or problem["status"] != case.status:
        return f"{case.name}: not an RFC 9457 problem: {text}"
    if problem.get("field") != case.field:
        return f"{case.name}: expected field {case.field!r}, got {problem.get('field')!r}: {text}"
    if after != before:
        changed = [k for k in before if before[k] != after[k]]
        return f"{case.name}: the refused request changed {changed}"
    return None


def check(api: Api, cases: list[Bad]) -> None:
    """Send each case in turn; the state after one is the state before the next."""
    failures = []
    state = snapshot(api)
    for case in cases:
        failure, state = refused(api, case, state)
        if failure is not None:
            failures.append(failure)
    assert not failures, "\n".join(failures)


def put_job(name: str, fld: str, body: Any = None, content: bytes | None = None, job_id: str = "NEW") -> Bad:
    return Bad(name, "PUT", f"/v1/jobs/{job_id}", fld, json=body, content=content)


def put_tech(name: str, fld: str, body: Any = None, content: bytes | None = None) -> Bad:
    return Bad(name, "PUT", "/v1/technicians/NEWT", fld, json=body, content=content)


def post_plan(name: str, fld: str, body: Any = None, content: bytes | None = None) -> Bad:
    return Bad(name, "POST", "/v1/plans", fld, json=body, content=content)


def post_event(
    name: str, fld: str, body: Any = None, content: bytes | None = None, job_id: str = "J1", status: int = 422
) -> Bad:
    return Bad(name, "POST", f"/v1/jobs/{job_id}/events", fld, json=body, content=content, status=status)


def post_token(name: str, fld: str, body: Any = None, content: bytes | None = None) -> Bad:
    return Bad(name, "POST", "/v1/tokens", fld, json=body, content=content)


def post_disruption(name: str, fld: str, body: Any) -> Bad:
    return Bad(name, "POST", "/v1/disruptions", fld, json=body)


def away(**changes: Any) -> dict[str, Any]:
    return {"type": "technician_unavailable", "technician_id": "T1", "from": T.format("10:00"), **changes}


def late(**changes: Any) -> dict[str, Any]:
    where = {"lat": 60.2, "lon": 24.9}
    return {"type": "running_late", "technician_id": "T1", "at": T.format("10:00"), "location": where, **changes}


def overrun(**changes: Any) -> dict[str, Any]:
    return {"type": "overrun", "job_id": "J1", "expected_end": T.format("11:00"), **changes}


# --- the groups ----------------------------------------------------------------------

GROUPS: dict[str, list[Bad]] = {
    "malformed JSON": [
        put_job("cut short", "body", content=raw('{"duration_min": 30,')),
        put_job("replacing an existing job", "body", content=raw('{"duration_min": 30,'), job_id="J1"),
        put_tech("unquoted keys", "body", content=raw("{home: {lat: 60, lon: 24}}")),
        post_plan("no closing brace", "body", content=raw('{"date": "2026-12-01"')),
        post_event("trailing brace", "body", content=raw('{"type": "arrived"}}')),
        post_token("not JSON at all", "body", content=raw("role=booking")),
        put_job("not UTF-8", "body", content=b"\xff\xfe{}"),
        put_job("not text at all", "body", content=b"T\n\x1d\x18\x0b\xc3+\xf0\x14:\xf0\x9f"),
        put_job("empty body", "body", content=b""),
        put_job("a list, not an object", "body", content=raw("[1, 2]")),
        put_job("a string, not an object", "body", content=raw('"job"')),
    ],
    "wrong types": [
        put_job("duration as words", "duration_min", job(duration_min="thirty")),
        put_job("duration as a fraction", "duration_min", job(duration_min=30.5)),
        put_job("duration as true", "duration_min", job(duration_min=True)),
        put_job("latitude as false", "location.lat", job(location={"lat": False, "lon": 24.9})),
        put_job("skill level as true", "skills", job(skills={"wardrobe": True})),
        put_job("crew size as true", "crew_size", job(crew_size=True)),
        put_tech("overtime cost as false", "cost.overtime_per_hour", tech(cost={"overtime_per_hour": False})),
        post_plan("time limit as true", "time_limit_s", {"date": DAY, "time_limit_s": True}),
        post_plan("date as a number", "date", {"date": 20261201}),
        post_plan("a region of spaces", "region", {"date": DAY, "region": "   "}),
        post_plan("date as Unix time", "date", {"date": "1764540000"}),
        post_event("time as Unix time", "at", {"type": "arrived", "at": 1764576000}),
        put_job("latitude as words", "location.lat", job(location={"lat": "north", "lon": 24.9})),
        put_job("location as a pair", "location", job(location=[60.1, 24.9])),
        put_job("skills as a list", "skills", job(skills=["wardrobe"])),
        put_job("skill level as words", "skills.wardrobe", job(skills={"wardrobe": "expert"})),
        put_job("skill code with spaces", "skills.Big wardrobe.[key]", job(skills={"Big wardrobe": 1})),
        put_job("windows as one object", "windows", job(windows={"start": T.format("09:00")})),
        put_job("customer as a string", "customer", job(customer="Anna")),
        put_job("unknown kind", "kind", job(kind="assemble")),
        put_job("pinned technician as a number", "pinned_technician_id", job(pinned_technician_id=7)),
        put_tech("home as an address", "home", tech(home="Helsinki")),
        put_tech("shift date as words", "shifts.0.date", tech(shifts=shift(date="tomorrow"))),
        put_tech("shift start as 8am", "shifts.0.start", tech(shifts=shift(start="8am"))),
        put_tech("shift end 24:00", "shifts.0.end", tech(shifts=shift(end="24:00"))),
        put_tech("unknown kind", "kind", tech(kind="contractor")),
        put_tech("two shifts on one day", "shifts", tech(shifts=shift() + shift(start="09:00"))),
        post_plan("date as words", "date", {"date": "soon"}),
        post_plan("time limit as words", "time_limit_s", {"date": DAY, "time_limit_s": "fast"}),
        post_token("unknown role", "role", {"role": "admin"}),
        post_token("technician as a number", "technician_id", {"role": "installer", "technician_id": 7}),
        post_event("time as words", "at", {"type": "arrived", "at": "noon"}),
        post_event("note as a number", "note", {"type": "arrived", "note": 5}),
        Bad("date query as words", "GET", "/v1/jobs", "date", params={"date": "yesterday"}),
        Bad("date query as 0", "GET", "/v1/kpis", "date", params={"date": "0"}),
        Bad("date query with a time", "GET", "/v1/plans", "date", params={"date": "2026-12-01T10:00"}),
        Bad("plan id as words", "GET", "/v1/plans/abc", "plan_id"),
        Bad("plan id zero", "GET", "/v1/plans/0", "plan_id"),
        Bad("plan id past 32 bits", "GET", "/v1/plans/3000000000", "plan_id"),
        Bad("plans without a date", "GET", "/v1/plans", "date"),
        Bad("job id with a space", "PUT", "/v1/jobs/a b", "job_id", json=JOB),
        Bad("technician id too long", "PUT", f"/v1/technicians/{'x' * 65}", "technician_id", json=TECH),
    ],
    "unknown ids": [
        Bad("job", "GET", "/v1/jobs/NOPE", "job_id", status=404),
        Bad("technician", "GET", "/v1/technicians/NOPE", "technician_id", status=404),
        Bad("cancel a job", "DELETE", "/v1/jobs/NOPE", "job_id", status=404),
        Bad("plan", "GET", "/v1/plans/999999", "plan_id", status=404),
        Bad("publish a plan", "POST", "/v1/plans/999999/publish", "plan_id", status=404),
        Bad("cancel a plan", "POST", "/v1/plans/999999/cancel", "plan_id", status=404),
        Bad("event on a job", "POST", "/v1/jobs/NOPE/events", "job_id", status=404, json={"type": "arrived"}),
        put_job("pinned to nobody", "pinned_technician_id", job(pinned_technician_id="NOPE")),
        put_job("preferring nobody", "preferred_technician_id", job(preferred_technician_id="NOPE")),
        put_job("depending on no job", "depends_on.job_id", job(depends_on="NOPE")),
        put_job("depending on itself", "depends_on.job_id", job(depends_on="NEW")),
        put_job("depending on no job, with lags", "depends_on.job_id", job(depends_on={"job_id": "NOPE"})),
        put_job("a negative lag", "depends_on.min_lag_hours", job(depends_on={"job_id": "J1", "min_lag_hours": -1})),
        put_job(
            "a maximum lag below the minimum",
            "depends_on.max_lag_hours",
            job(depends_on={"job_id": "J1", "min_lag_hours": 24, "max_lag_hours": 2}),
        ),
        put_job("a lag of years", "depends_on.min_lag_hours", job(depends_on={"job_id": "J1", "min_lag_hours": 1e6})),
        put_job("a dependency without a job", "depends_on.job_id", job(depends_on={"min_lag_hours": 2})),
        post_token("installer of nobody", "technician_id", {"role": "installer", "technician_id": "NOPE"}),
        post_token("installer without a technician", "technician_id", {"role": "installer"}),
        post_token("booking bound to a technician", "technician_id", {"role": "booking", "technician_id": "T1"}),
    ],
    "windows that end before they start": [
        put_job(
            "a window",
            "windows.0",
            job(windows=[{"start": T.format("12:00"), "end": T.format("09:00")}]),
        ),
        put_job(
            "the second window",
            "windows.1",
            job(
                windows=[
                    {"start": T.format("08:00"), "end": T.format("09:00")},
                    {"start": T.format("15:00"), "end": T.format("14:59")},
                ]
            ),
        ),
        put_job(
            "replacing an existing job",
            "windows.0",
            job(windows=[{"start": T.format("12:00"), "end": T.format("09:00")}]),
            job_id="J1",
        ),
        put_job(
            "the preferred window",
            "preferred_window",
            job(preferred_window={"start": T.format("12:00"), "end": T.format("10:00")}),
        ),
        put_job("deadline before release", "deadline", job(release_at=T.format("12:00"), deadline=T.format("10:00"))),
        put_job(
            "a deadline the day before the job's date",
            "deadline",
            job(date="2026-12-02", windows=[], deadline=T.format("15:00")),
        ),
        put_job("a release after the job's date", "release_at", job(release_at="2026-12-02T08:00:00+02:00")),
        put_tech("a shift", "shifts.0", tech(shifts=shift(start="16:00", end="08:00"))),
        put_tech("an empty shift", "shifts.0", tech(shifts=shift(start="08:00", end="08:00"))),
        put_tech(
            "a break",
            "shifts.0.break",
            tech(shifts=shift(**{"break": {"earliest": "13:00", "latest": "11:00", "duration_min": 30}})),
        ),
    ],
    "coordinates out of range": [
        put_job("latitude above 90", "location.lat", job(location={"lat": 90.01, "lon": 24.9})),
        put_job("latitude below -90", "location.lat", job(location={"lat": -91, "lon": 24.9})),
        put_job("longitude above 180", "location.lon", job(location={"lat": 60.1, "lon": 180.5})),
        put_job("longitude below -180", "location.lon", job(location={"lat": 60.1, "lon": -181})),
        put_job(
            "latitude NaN", "location.lat", content=raw('{"location": {"lat": NaN, "lon": 24.9}, "duration_min": 30}')
        ),
        put_job(
            "longitude Infinity",
            "location.lon",
            content=raw('{"location": {"lat": 60, "lon": Infinity}, "duration_min": 30}'),
        ),
        put_job("neither location nor address", "location", job(location=..., address=...)),
        put_tech("home latitude", "home.lat", tech(home={"lat": 100, "lon": 24.9})),
        put_tech("end longitude", "end.lon", tech(end={"lat": 60.2, "lon": 200})),
    ],
    "negative and oversized numbers": [
        put_job("negative duration", "duration_min", job(duration_min=-5)),
        put_job("zero duration", "duration_min", job(duration_min=0)),
        put_job("a duration of ten days", "duration_min", job(duration_min=14400)),
        put_job("negative soft penalty", "soft_penalty_per_min", job(soft_penalty_per_min=-1)),
        put_job("huge soft penalty", "soft_penalty_per_min", job(soft_penalty_per_min=1e300)),
        put_job(
            "infinite soft penalty",
            "soft_penalty_per_min",
            content=raw(
                '{"location": {"lat": 60, "lon": 24}, "duration_min": 30, "date": "2026-12-01", '
                '"soft_penalty_per_min": Infinity}'
            ),
        ),
        put_job("negative skill level", "skills.wardrobe", job(skills={"wardrobe": -1})),
        put_tech(
            "negative break",
            "shifts.0.break.duration_min",
            tech(shifts=shift(**{"break": {"earliest": "11:00", "latest": "13:00", "duration_min": -10}})),
        ),
        put_tech("negative overtime", "max_overtime_min", tech(max_overtime_min=-1)),
        put_tech("negative max jobs", "max_jobs", tech(max_jobs=-1)),
        put_tech("negative hourly cost", "cost.per_hour", tech(cost={"per_hour": -1})),
        put_tech("a hundred million an hour", "cost.per_hour", tech(cost={"per_hour": 1e8})),
        put_tech("huge cost per km", "cost.per_km", tech(cost={"per_km": 1e300})),
    ],
    "crew size and priority": [
        put_job("crew of three", "crew_size", job(crew_size=3)),
        put_job("crew of none", "crew_size", job(crew_size=0)),
        put_job("crew as words", "crew_size", job(crew_size="two")),
        put_job("priority 0", "priority", job(priority=0)),
        put_job("priority 4", "priority", job(priority=4)),
        put_job("priority -1", "priority", job(priority=-1)),
    ],
    "naive or out-of-calendar datetimes": [
        put_job(
            "naive window start",
            "windows.0.start",
            job(windows=[{"start": "2026-12-01T09:00:00", "end": T.format("12:00")}]),
        ),
        put_job(
            "naive window end", "windows.0.end", job(windows=[{"start": T.format("09:00"), "end": "2026-12-01T12:00"}])
        ),
        put_job("naive release", "release_at", job(release_at="2026-12-01T08:00:00")),
        put_job("naive deadline", "deadline", job(deadline="2026-12-01T18:00:00")),
        put_job(
            "naive preferred end",
            "preferred_window.end",
            job(preferred_window={"start": T.format("09:00"), "end": "2026-12-01T10:00:00"}),
        ),
        put_job(
            "a window in the year 9999",
            "windows.0.start",
            job(windows=[{"start": "9999-12-31T23:00:00-05:00", "end": "9999-12-31T23:30:00-05:00"}]),
        ),
        put_job(
            "a window in the year 1",
            "windows.0.start",
            job(windows=[{"start": "0001-01-01T00:30:00+05:00", "end": "0001-01-01T01:30:00+05:00"}]),
        ),
        put_job("a date in the year 9999", "date", job(date="9999-12-31", windows=[])),
        put_tech("a shift in the year 9999", "shifts.0.date", tech(shifts=shift(date="9999-12-31"))),
        post_plan("a plan in 1900", "date", {"date": "1900-01-01", "time_limit_s": 1}),
        post_event("naive event time", "at", {"type": "arrived", "at": "2026-12-01T10:00:00"}),
        post_event("event in the year 9999", "at", {"type": "arrived", "at": "9999-12-31T23:59:59-12:00"}),
        Bad("KPIs of the year 1", "GET", "/v1/kpis", "date", params={"date": "0001-01-01"}),
        Bad("KPIs of the year 9999", "GET", "/v1/kpis", "date", params={"date": "9999-12-31"}),
        Bad("plans of the year 1", "GET", "/v1/plans", "date", params={"date": "0001-01-01"}),
        Bad("jobs of the year 9999", "GET", "/v1/jobs", "date", params={"date": "9999-12-31"}),
        Bad("the live day of the year 1", "GET", "/v1/live", "date", params={"date": "0001-01-01"}),
        Bad(
            "working time to 9999",
            "GET",
            "/v1/working-time",
            "date_to",
            params={"date_from": DAY, "date_to": "9999-12-31"},
        ),
        Bad("an import dated 9999", "POST", "/v1/jobs/import?date=9999-12-31", "date"),
    ],
    "unknown extra fields": [
        put_job("on a job", "colour", job(colour="red")),
        put_job("on a location", "location.alt", job(location={"lat": 60.1, "lon": 24.9, "alt": 5})),
        put_job("on a window", "windows.0.label", job(windows=[{**JOB["windows"][0], "label": "am"}])),  # type: ignore[dict-item]
        put_job("on a customer", "customer.email", job(customer={"name": "A", "email": "a@example.com"})),
        put_tech("on a technician", "salary", tech(salary=1)),
        put_tech("on a shift", "shifts.0.overtime", tech(shifts=shift(overtime=True))),
        post_plan("on a plan request", "solver", {"date": DAY, "time_limit_s": 1, "solver": "fast"}),
        post_token("on a token request", "scope", {"role": "booking", "scope": "all"}),
        post_event("on an event", "gps", {"type": "arrived", "gps": [60.1, 24.9]}),
    ],
    "time limits": [
        post_plan("zero", "time_limit_s", {"date": DAY, "time_limit_s": 0}),
        post_plan("negative", "time_limit_s", {"date": DAY, "time_limit_s": -1}),
        post_plan("just over ten minutes", "time_limit_s", {"date": DAY, "time_limit_s": 600.5}),
        post_plan("a day", "time_limit_s", {"date": DAY, "time_limit_s": 86400}),
        post_plan("NaN", "time_limit_s", content=raw('{"date": "2026-12-01", "time_limit_s": NaN}')),
    ],
    "event types": [
        post_event("unknown type", "type", {"type": "paused"}),
        post_event("type in capitals", "type", {"type": "ARRIVED"}),
        post_event("empty type", "type", {"type": ""}),
        post_event("null type", "type", {"type": None}),
        post_event("no type", "type", {"note": "here"}),
        post_event("overlong note", "note", {"type": "arrived", "note": "x" * 2001}),
    ],
    "field reports dated far from the job's day": [
        post_event("an arrival in 2000", "at", {"type": "arrived", "at": "2000-01-01T10:00:00+02:00"}),
        post_event("on the way two days before", "at", {"type": "en_route", "at": "2026-11-29T10:00:00+02:00"}),
        post_event("done a month later", "at", {"type": "completed", "at": "2027-01-01T10:00:00+02:00"}),
    ],
    "jobs of several days no plan could take": [
        put_job("a crew of two over two days", "days", job(days=2, crew_size=2, windows=..., date=DAY)),
        put_job(
            "three days in a range of two dates",
            "days",
            job(days=3, windows=..., date_range={"from": DAY, "to": "2026-12-02"}),
        ),
    ],
    "places and regions no technician of the region could ever serve": [
        put_job("at 0, 0 (a missing position)", "location", job(location={"lat": 0.0, "lon": 0.0})),
        put_job("with latitude and longitude swapped", "location", job(location={"lat": 24.94, "lon": 60.17})),
        put_job("in a misspelt region", "region", job(region="helsinky")),
        post_plan("of a misspelt region", "region", {"date": DAY, "region": "helsinky", "time_limit_s": 1}),
        Bad(
            "working time of a misspelt region",
            "GET",
            "/v1/working-time",
            "region",
            params={"date_from": DAY, "date_to": DAY, "region": "helsinky"},
        ),
        Bad(
            "a technician running late far away",
            "POST",
            "/v1/disruptions",
            "location",
            json={
                "type": "running_late",
                "technician_id": "T1",
                "at": T.format("10:00"),
                "location": {"lat": 10.2, "lon": 24.9},
            },
        ),
    ],
    "disruptions that would change nothing, or carry another type's fields": [
        post_disruption("an absence with a late report's time", "at", away(at=T.format("10:00"))),
        post_disruption("a late report with an absence's start", "from", late(**{"from": T.format("10:00")})),
        post_disruption("an overrun naming a technician", "technician_id", overrun(technician_id="T1")),
        post_disruption("away from long after the day's end", "from", away(**{"from": T.format("23:30")})),
        post_disruption(
            "away only before the day begins", "until", away(**{"from": T.format("05:00"), "until": T.format("06:00")})
        ),
        post_disruption("late after the day's end", "at", late(at=T.format("23:00"))),
    ],
    "NUL characters (PostgreSQL cannot store them)": [
        put_job("in a customer name", "customer.name", job(customer={"name": "An\u0000na"})),
        put_job("in an address", "address", job(address="Street\u00001")),
        put_job("in notes", "notes", job(notes="\u0000")),
        put_tech("in a technician name", "name", tech(name="Vil\u0000le")),
        put_tech("in a region", "region", tech(region="\u0000")),
        post_token("in a token label", "label", {"role": "booking", "label": "a\u0000b"}),
        post_plan("in a plan region", "region", {"date": DAY, "region": "x\u0000", "time_limit_s": 1}),
        post_event("in an event note", "note", {"type": "arrived", "note": "\u0000"}),
        Bad("in a region filter", "GET", "/v1/technicians", "region", params={"region": "a\x00b"}),
        Bad("in a job list filter", "GET", "/v1/jobs", "region", params={"region": "\x00"}),
        Bad("in a plan list filter", "GET", "/v1/plans", "region", params={"date": DAY, "region": "\x00"}),
        Bad("in a KPI filter", "GET", "/v1/kpis", "region", params={"date": DAY, "region": "\x00"}),
        Bad("in an event's job id", "POST", "/v1/jobs/a%00b/events", "job_id", json={"type": "arrived"}),
    ],
}


@pytest.mark.parametrize("group", list(GROUPS))
def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(api: Api, group: str) -> None:
    check(api, GROUPS[group])


def wait_for(api: Api, plan_id: int, statuses: tuple[str, ...]) -> dict[str, Any]:
    for _ in range(300):
        plan: dict[str, Any] = api.client.get(f"/v1/plans/{plan_id}", headers=DISPATCHER).json()
        if plan["status"] in statuses:
            return plan
        time.sleep(0.05)
    raise AssertionError(f"plan {plan_id} never reached {statuses}")


@pytest.mark.clock
def test_only_a_done_plan_can_be_published_and_a_refusal_changes_nothing(sample_api: Api) -> None:
    api = sample_api  # planning its seeded day takes the whole time limit
    c = api.client
    done = c.post("/v1/plans", json={"date": SAMPLE_DAY, "time_limit_s": 1}, headers=DISPATCHER).json()
    assert wait_for(api, done["id"], ("done", "failed"))["status"] == "done"
    assert c.post(f"/v1/plans/{done['id']}/publish", headers=DISPATCHER).status_code == 200

    running = c.post("/v1/plans", json={"date": SAMPLE_DAY, "time_limit_s": 600}, headers=DISPATCHER).json()
    # The run stores its first answer itself (it starts from the published plan); refused after that.
    for _ in range(300):
        if c.get(f"/v1/plans/{running['id']}", headers=DISPATCHER).json()["first_answer_s"] is not None:
            break
        time.sleep(0.05)
    check(api, [Bad("a queued or running plan", "POST", f"/v1/plans/{running['id']}/publish", "status", status=409)])
    assert c.post(f"/v1/plans/{running['id']}/cancel", headers=DISPATCHER).status_code == 202
    assert wait_for(api, running["id"], ("cancelled", "done", "failed"))["status"] == "cancelled"
    check(
        api,
        [
            Bad("a cancelled plan", "POST", f"/v1/plans/{running['id']}/publish", "status", status=409),
            Bad("cancelling a finished plan", "POST", f"/v1/plans/{done['id']}/cancel", "plan_id", status=409),
        ],
    )
    listed = c.get("/v1/plans", params={"date": SAMPLE_DAY}, headers=DISPATCHER).json()
    assert [(p["id"], p["published"]) for p in listed] == [(running["id"], False), (done["id"], True)]


def test_a_malformed_json_problem_says_where_it_broke(api: Api) -> None:
    response = api.client.put(
        "/v1/jobs/NEW", content=b'{"duration_min": 30,', headers={**DISPATCHER, "Content-Type": "application/json"}
    )
    problem = response.json()
    assert problem["field"] == "body"
    assert "malformed JSON at character 20" in problem["detail"]


def test_a_date_outside_the_served_years_is_refused_with_the_bound_as_a_date(api: Api) -> None:
    for method, url, body, params in (
        ("GET", "/v1/kpis", None, {"date": "0001-01-01"}),
        ("POST", "/v1/plans", {"date": "1900-01-01"}, None),
    ):
        response = api.client.request(method, url, json=body, params=params, headers=DISPATCHER)
        assert response.status_code == 422, response.text
        assert response.json()["detail"] == "date: must be on or after 2000-01-01"
    late = api.client.get("/v1/kpis", params={"date": "9999-12-31"}, headers=DISPATCHER).json()
    assert late["detail"] == "date: must be on or before 2099-12-31"


def test_a_check_of_our_own_reads_as_its_message_alone(api: Api) -> None:
    answer = api.client.post("/v1/plans", json={"date": DAY, "from": "now"}, headers=DISPATCHER).json()
    assert answer["detail"] == "from: expected an ISO 8601 date-time with offset, e.g. 2026-12-01T09:00:00+02:00"


def test_every_error_is_listed_with_its_field(api: Api) -> None:
    body = job(duration_min=-1, crew_size=3, priority=0, location={"lat": 91, "lon": 24.9})
    problem = api.client.put("/v1/jobs/NEW", json=body, headers=DISPATCHER).json()
    assert {e["field"] for e in problem["errors"]} == {"duration_min", "crew_size", "priority", "location.lat"}
    assert problem["field"] == "location.lat"  # the first, in the order of the fields


def test_shift_and_break_times_may_be_date_times_with_offset_on_the_shifts_date(client: TestClient) -> None:
    day = "2026-12-09"
    body = {
        "home": {"lat": 60.17, "lon": 24.94},
        "shifts": [
            {
                "date": day,
                "start": f"{day}T06:00:00Z",  # 08:00 in Helsinki
                "end": "16:00",
                "break": {"earliest": f"{day}T11:00:00+02:00", "latest": "13:00", "duration_min": 30},
            }
        ],
    }
    stored = client.put("/v1/technicians/DT1", json=body, headers=DISPATCHER)
    assert stored.status_code == 201, stored.text
    [shift] = stored.json()["shifts"]
    assert (shift["start"], shift["end"], shift["break"]["earliest"]) == ("08:00", "16:00", "11:00")

    elsewhere = {**body, "shifts": [{**body["shifts"][0], "end": "2026-12-10T16:00:00+02:00"}]}
    refused = client.put("/v1/technicians/DT2", json=elsewhere, headers=DISPATCHER)
    assert refused.status_code == 422 and refused.json()["field"] == "shifts.0.end"
    for end in (f"{day}T07:00:00+02:00", "07:00"):  # before the start, in either form
        backwards = {**body, "shifts": [{**body["shifts"][0], "end": end}]}
        refused = client.put("/v1/technicians/DT3", json=backwards, headers=DISPATCHER)
        assert refused.status_code == 422 and refused.json()["field"] == "shifts.0", refused.text


def test_an_id_of_dots_alone_and_a_window_off_the_jobs_date_are_refused_naming_the_field(client: TestClient) -> None:
    job = {"location": {"lat": 60.17, "lon": 24.94}, "duration_min": 60, "date": "2026-12-09"}
    for path in ("/v1/jobs/%2E%2E", "/v1/jobs/%2E"):
        refused = client.put(path, json=job, headers=DISPATCHER)
        assert refused.status_code == 422 and refused.json()["field"] == "job_id", refused.text
    far = {**job, "windows": [{"start": "2026-12-19T09:00:00+02:00", "end": "2026-12-19T11:00:00+02:00"}]}
    refused = client.put("/v1/jobs/J-far", json=far, headers=DISPATCHER)
    assert refused.status_code == 422 and refused.json()["field"] == "windows.0"
    assert client.get("/v1/jobs/J-far", headers=DISPATCHER).status_code == 404
    near = {**job, "windows": [{"start": "2026-12-09T09:00:00+02:00", "end": "2026-12-09T11:00:00+02:00"}]}
    assert client.put("/v1/jobs/J-near", json=near, headers=DISPATCHER).status_code == 201


def test_a_job_or_technician_listing_too_many_skills_is_refused_naming_skills(client: TestClient) -> None:
    many = {f"s{i}": 1 for i in range(101)}
    job = {"location": {"lat": 60.17, "lon": 24.94}, "duration_min": 60, "date": "2026-12-09", "skills": many}
    refused = client.put("/v1/jobs/J-skills", json=job, headers=DISPATCHER)
    assert refused.status_code == 422 and refused.json()["field"] == "skills"
    tech = {"home": {"lat": 60.17, "lon": 24.94}, "skills": many}
    refused = client.put("/v1/technicians/T-skills", json=tech, headers=DISPATCHER)
    assert refused.status_code == 422 and refused.json()["field"] == "skills"


@pytest.fixture
def api_at_ten(database_url: str) -> Iterator[Api]:
    """``api`` as it is at 10:00 on its day."""
    now = dt.datetime.fromisoformat(T.format("10:00"))
    settings = dataclasses.replace(settings_for(database_url, seed=False), clock=Clock(now))
    app = create_app(settings, geocoder=no_geocoder)
    with TestClient(app) as client:
        assert client.put("/v1/technicians/T1", json=TECH, headers=DISPATCHER).status_code == 201
        assert client.put("/v1/jobs/J1", json=JOB, headers=DISPATCHER).status_code == 201
        yield Api(client, app.state.dispatch.engine)


def test_an_overrun_expected_to_end_after_the_visits_day_is_refused_and_changes_nothing(api_at_ten: Api) -> None:
    """A visit may run into the night, not into another day's afternoon. Before, an
    expected end days or decades later was stored and the live day showed arrivals in
    2090 for the technician's next visits."""
    api = api_at_ten
    arrived = api.client.post(
        "/v1/jobs/J1/events", json={"type": "arrived", "at": T.format("09:00")}, headers=DISPATCHER
    )
    assert arrived.status_code == 201, arrived.text
    check(
        api,
        [
            post_disruption("to the next afternoon", "expected_end", overrun(expected_end="2026-12-02T13:00:00+02:00")),
            post_disruption("to a year decades on", "expected_end", overrun(expected_end="2090-12-01T13:00:00+02:00")),
        ],
    )
    kept = api.client.post("/v1/disruptions", json=overrun(), headers=DISPATCHER)
    assert kept.status_code == 201, kept.text


def post(api: Api, job_id: str, kind: str, hhmm: str, **extra: Any) -> Any:
    body = {"type": kind, "at": T.format(hhmm), **extra}
    return api.client.post(f"/v1/jobs/{job_id}/events", json=body, headers=DISPATCHER)


def test_a_field_event_before_what_it_must_follow_is_a_conflict_naming_at_and_changes_nothing(api: Api) -> None:
    """A visit that began at 15:10 cannot end at 09:00; once a visit failed at 10:20, a
    report of 09:00 belongs to a visit that is over, and the failed visit cannot fail
    again. Before, each was stored: the job ended before it began, or was completed
    earlier than it failed with the failure's reason still on it."""
    assert post(api, "J1", "arrived", "15:10").status_code == 201
    assert post(api, "J2", "arrived", "09:30").status_code == 201
    assert post(api, "J2", "failed", "10:20", reason="parts_missing").status_code == 201
    check(
        api,
        [
            post_event("the end before the start", "at", {"type": "completed", "at": T.format("09:00")}, status=409),
            post_event("a failure before the start", "at", {"type": "failed", "at": T.format("15:00")}, status=409),
            post_event(
                "a report of the failed visit",
                "at",
                {"type": "completed", "at": T.format("09:00")},
                job_id="J2",
                status=409,
            ),
            post_event("failing again", "type", {"type": "failed", "at": T.format("10:21")}, job_id="J2", status=409),
        ],
    )
    assert post(api, "J1", "completed", "16:00").status_code == 201
    assert post(api, "J2", "arrived", "10:40").status_code == 201
    job = api.client.get("/v1/jobs/J1", headers=DISPATCHER).json()
    assert (job["status"], job["actual_start"] < job["actual_end"]) == ("completed", True), job


def test_cancelling_a_queued_plan_answers_it_cancelled(database_url: str) -> None:
    """No worker takes runs here: the run stays queued until cancelled, and the answer to
    the cancel shows it as it now is (it said ``queued`` before)."""
    settings = dataclasses.replace(settings_for(database_url), solver_workers=0)
    with TestClient(create_app(settings)) as c:
        queued = c.post("/v1/plans", json={"date": SAMPLE_DAY, "time_limit_s": 1}, headers=DISPATCHER).json()
        assert queued["status"] == "queued"
        answer = c.post(f"/v1/plans/{queued['id']}/cancel", headers=DISPATCHER)
        assert answer.status_code == 202 and answer.json()["status"] == "cancelled", answer.text
        assert c.get(f"/v1/plans/{queued['id']}", headers=DISPATCHER).json()["status"] == "cancelled"


def test_a_cancel_racing_a_run_that_stores_its_answer_is_refused_or_ends_it_cancelled(database_url: str) -> None:
    """Before, a cancel that came between the run's last look for one and its storing
    the answer was answered 202 while the run ended done (and could be published)."""
    settings = dataclasses.replace(settings_for(database_url), solver_workers=0)
    with TestClient(create_app(settings)) as c:
        state = c.app.state.dispatch  # type: ignore[attr-defined]
        ids = [c.post("/v1/plans", json={"date": SAMPLE_DAY}, headers=DISPATCHER).json()["id"] for _ in range(2)]
        with Session(state.engine) as session:
            for plan_id in ids:
                row = session.get(PlanRow, plan_id)
                assert row is not None
                row.status, row.task_token = "running", f"attempt-{plan_id}"
                session.add(row)
            session.commit()
        storing, cancelled_first = ids
        answers: list[Any] = []
        cancelling = threading.Thread(
            target=lambda: answers.append(c.post(f"/v1/plans/{storing}/cancel", headers=DISPATCHER))
        )
        with Session(state.engine) as session:
            plan = planning.claim_finish(session, storing, f"attempt-{storing}")
            cancelling.start()
            cancelling.join(0.5)  # the cancel waits for the run's answer to be stored
            plan.status = "done"
            session.add(plan)
            session.commit()
        cancelling.join()
        [answer] = answers
        assert answer.status_code == 409 and answer.json()["field"] == "plan_id", answer.text
        assert c.get(f"/v1/plans/{storing}", headers=DISPATCHER).json()["status"] == "done"

        assert c.post(f"/v1/plans/{cancelled_first}/cancel", headers=DISPATCHER).status_code == 202
        with Session(state.engine) as session, pytest.raises(Cancelled):
            planning.claim_finish(session, cancelled_first, f"attempt-{cancelled_first}")


def test_a_query_parameter_the_route_does_not_take_is_refused_naming_it(client: TestClient) -> None:
    misspelt = client.get("/v1/jobs", params={"date": SAMPLE_DAY, "technicain": "T01"}, headers=DISPATCHER)
    assert misspelt.status_code == 422, misspelt.text
    problem = misspelt.json()
    assert problem["field"] == "technicain"
    assert "unknown query parameter" in problem["detail"] and "date" in problem["detail"]
    paged = client.get("/v1/technicians", params={"page": "2", "region": "x"}, headers=DISPATCHER)
    assert paged.status_code == 422 and paged.json()["field"] == "page"
    assert paged.json()["detail"] == "page: unknown query parameter: it takes region"
    known = client.get("/v1/jobs", params={"date": SAMPLE_DAY}, headers=DISPATCHER)
    assert known.status_code == 200, known.text


def test_a_query_parameter_given_twice_is_refused_naming_it_rather_than_the_last_one_counting(
    client: TestClient,
) -> None:
    """Before, ``?after=5&after=9`` paged from 9 without a word."""
    twice = client.get("/v1/events", params=[("after", "0"), ("after", "1")], headers=DISPATCHER)
    assert twice.status_code == 422 and twice.json()["field"] == "after", twice.text
    assert "given 2 times" in twice.json()["detail"]
    days = client.get("/v1/jobs", params=[("date", SAMPLE_DAY), ("date", SAMPLE_DAY)], headers=DISPATCHER)
    assert days.status_code == 422 and days.json()["field"] == "date", days.text
