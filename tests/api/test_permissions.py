"""Who may call what: every endpoint of the app × every role × own/other data.

The matrix below is the contract. Each row is one endpoint (and, where data has
an owner, one variant of it); each column a caller:

- ``none``: no ``Authorization`` header; ``bad``: a bearer token the server never issued;
- ``dispatcher``: the admin token; ``installer``: a token bound to technician
  OWN, who has visits in the published plan of the sample day; ``booking``.

Cells are the HTTP status codes expected; every 4xx must also be
``application/problem+json``, every 401 carry ``WWW-Authenticate: Bearer``.

Endpoints are enumerated from the app itself, so a new endpoint without a row
here fails ``test_every_endpoint_has_a_row`` (and a row without an endpoint too).

The data is built once per module: the sample day, one plan solved with a 2 s
limit and published. Every cell runs on SQLite; ``test_the_matrix_holds_on_each_database``
runs the core rows (everything where data has an owner or is written) on the
real PostgreSQL too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import create_app
from tests.api.conftest import ADMIN, DISPATCHER, SAMPLE_DAY, auth, run_plan, settings_for
from tests.conftest import HELSINKI, today

pytestmark = pytest.mark.clock

ROLES = ("none", "bad", "dispatcher", "installer", "booking")

MATRIX = """
method  path                               variant  | none  bad  dispatcher  installer  booking
GET     /openapi.json                      -        | 200   200  200         200        200
GET     /docs                              -        | 200   200  200         200        200
GET     /docs/oauth2-redirect              -        | 200   200  200         200        200
GET     /redoc                             -        | 200   200  200         200        200
GET     /health                            -        | 200   200  200         200        200
GET     /v1/clock                          -        | 401   401  200         200        200
POST    /v1/tokens                         -        | 401   401  201         403        403
GET     /v1/tokens                         -        | 401   401  200         403        403
DELETE  /v1/tokens/{token_id}              -        | 401   401  200         403        403
GET     /v1/audit                          -        | 401   401  200         403        403
PUT     /v1/technicians/{technician_id}    -        | 401   401  201         403        403
GET     /v1/technicians                    -        | 401   401  200         403        403
GET     /v1/technicians/{technician_id}    own      | 401   401  200         403        403
GET     /v1/technicians/{technician_id}    other    | 401   401  200         403        403
GET     /v1/working-time                   -        | 401   401  200         403        403
PUT     /v1/jobs/{job_id}                  -        | 401   401  201         403        403
GET     /v1/jobs                           -        | 401   401  200         403        403
GET     /v1/jobs/{job_id}                  own      | 401   401  200         403        403
GET     /v1/jobs/{job_id}                  other    | 401   401  200         403        403
DELETE  /v1/jobs/{job_id}                  -        | 401   401  200         403        403
POST    /v1/plans                          -        | 401   401  202         403        403
GET     /v1/plans                          -        | 401   401  200         403        403
GET     /v1/plans/{plan_id}                -        | 401   401  200         403        403
GET     /v1/plans/{plan_id}/events         -        | 401   401  200         403        403
POST    /v1/plans/{plan_id}/publish        -        | 401   401  200         403        403
POST    /v1/plans/{plan_id}/cancel         -        | 401   401  202         403        403
POST    /v1/plans/{plan_id}/edits          -        | 401   401  200         403        403
GET     /v1/kpis                           -        | 401   401  200         403        403
GET     /v1/me/jobs                        -        | 401   401  403         200        403
GET     /v1/me/calendar.ics                -        | 401   401  403         200        403
POST    /v1/jobs/{job_id}/events           own      | 401   401  201         201        403
POST    /v1/jobs/{job_id}/events           other    | 401   401  201         403        403
POST    /v1/jobs/{job_id}/events           unknown  | 401   401  404         404        403
GET     /v1/jobs/{job_id}/events           -        | 401   401  200         403        403
POST    /v1/disruptions                    -        | 401   401  201         403        403
GET     /v1/disruptions                    -        | 401   401  200         403        403
DELETE  /v1/disruptions/{disruption_id}    -        | 401   401  200         403        403
POST    /v1/jobs/import                    -        | 401   401  200         403        403
POST    /v1/slots/search                   -        | 401   401  200         403        200
POST    /v1/bookings                       -        | 401   401  201         403        201
GET     /v1/bookings/{job_id}              own      | 401   401  200         403        200
GET     /v1/bookings/{job_id}              other    | 401   401  200         403        404
DELETE  /v1/bookings/{job_id}              own      | 401   401  200         403        200
DELETE  /v1/bookings/{job_id}              other    | 401   401  200         403        404
GET     /v1/events                         -        | 401   401  200         200        200
POST    /v1/webhooks                       -        | 401   401  201         403        403
GET     /v1/webhooks                       -        | 401   401  200         403        403
DELETE  /v1/webhooks/{webhook_id}          -        | 401   401  204         403        403
GET     /v1/webhooks/{webhook_id}/deliveries -      | 401   401  200         403        403
GET     /v1/jobs/{job_id}/status           own      | 401   401  200         403        200
GET     /v1/jobs/{job_id}/status           other    | 401   401  200         403        404
GET     /v1/jobs/{job_id}/status           unbooked | 401   401  200         403        404
GET     /v1/live                           -        | 401   401  200         403        403
"""

CORE = {
    ("POST", "/v1/tokens"),
    ("PUT", "/v1/jobs/{job_id}"),
    ("GET", "/v1/jobs/{job_id}"),
    ("POST", "/v1/plans/{plan_id}/publish"),
    ("POST", "/v1/plans/{plan_id}/edits"),
    ("GET", "/v1/me/jobs"),
    ("GET", "/v1/me/calendar.ics"),
    ("POST", "/v1/jobs/{job_id}/events"),
    ("POST", "/v1/jobs/import"),
    ("POST", "/v1/bookings"),
    ("GET", "/v1/bookings/{job_id}"),
    ("GET", "/v1/events"),
    ("POST", "/v1/webhooks"),
    ("GET", "/v1/jobs/{job_id}/status"),
}
"""Rows also checked on PostgreSQL: where data has an owner or is written."""

# The empty and booking days lie past the two weeks of seeded shifts, whatever today is.
EMPTY_DAY = (today() + dt.timedelta(days=60)).isoformat()  # nobody works: plan runs on it finish at once
A_MINUTE_AWAY_ON_SAMPLE_DAY = {
    key: dt.datetime.combine(dt.date.fromisoformat(SAMPLE_DAY), dt.time(15, minute), tzinfo=HELSINKI).isoformat()
    for key, minute in (("from", 0), ("until", 1))
}
BOOK_DAY = (today() + dt.timedelta(days=61)).isoformat()  # one technician works, for the booking rows


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    variant: str
    expected: dict[str, str]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.method, self.path, self.variant)

    @property
    def label(self) -> str:
        suffix = "" if self.variant == "-" else f" [{self.variant}]"
        return f"{self.method} {self.path}{suffix}"


def parse_matrix(text: str) -> list[Row]:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    header = lines[0].split("|")[1].split()
    assert tuple(header) == ROLES, header
    rows = []
    for line in lines[1:]:
        left, right = line.split("|")
        method, path, variant = left.split()
        cells = right.split()
        assert len(cells) == len(ROLES), line
        rows.append(Row(method, path, variant, dict(zip(ROLES, cells, strict=True))))
    assert len({r.key for r in rows}) == len(rows), "a row appears twice"
    return rows


ROWS = parse_matrix(MATRIX)


def app_endpoints(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves (HEAD, added to each GET, left out)."""
    try:  # newer FastAPI (0.165 here) keeps included routers unexpanded in app.routes; this flattens them
        from fastapi.routing import iter_route_contexts

        routes: Any = list(iter_route_contexts(app.routes))
    except ImportError:  # older FastAPI: app.routes is already flat
        routes = app.routes
    out = set()
    for route in routes:
        path = getattr(route, "path", None)
        methods = getattr(route, "methods", None) or set()
        if path is None:
            continue
        out |= {(m, path) for m in methods if m != "HEAD"}
    return out


# --- the data every cell runs against -------------------------------------------------


@dataclass
class World:
    """A seeded, planned and published sample day, and a token per role."""

    client: TestClient
    plan_id: int
    own_tech: str
    other_tech: str
    own_jobs: list[str]
    other_jobs: list[str]
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    other_installer: dict[str, str] = field(default_factory=dict)
    own_booking: str = ""
    other_booking: str = ""


@contextmanager
def build_world(url: str) -> Iterator[World]:
    app = create_app(settings_for(url))
    with TestClient(app) as client:
        plan = run_plan(client, SAMPLE_DAY, time_limit_s=2)
        assert plan["status"] == "done", plan
        plan_id = plan["id"]
        assert isinstance(plan_id, int)
        assert client.post(f"/v1/plans/{plan_id}/publish", headers=DISPATCHER).status_code == 200
        routes: Any = plan["routes"]
        busy = [r for r in routes if r["visits"]]
        assert len(busy) >= 2, "the sample day should keep at least two technicians busy"
        own, other = busy[0], busy[1]

        def token(body: dict[str, str]) -> dict[str, str]:
            response = client.post("/v1/tokens", json=body, headers=DISPATCHER)
            assert response.status_code == 201, response.text
            return auth(response.json()["token"])

        # a job of its own for the DELETE cell, on a day no plan touches
        doomed = {"location": {"lat": 60.17, "lon": 24.94}, "duration_min": 30, "date": EMPTY_DAY}
        assert client.put("/v1/jobs/PERM-DEL", json=doomed, headers=DISPATCHER).status_code == 201
        booker = token({"role": "booking"})
        other_booker = token({"role": "booking"})
        assert client.put("/v1/technicians/PERM-BOOK", json=BOOK_TECH, headers=DISPATCHER).status_code == 201
        bookings = []
        for key, headers in (("world-own", booker), ("world-other", other_booker)):
            made = client.post("/v1/bookings", json=BOOKING, headers={**headers, "Idempotency-Key": key})
            assert made.status_code == 201, made.text
            bookings.append(made.json()["job_id"])
        yield World(
            client=client,
            plan_id=plan_id,
            own_tech=own["technician_id"],
            other_tech=other["technician_id"],
            own_jobs=[v["job_id"] for v in own["visits"]],
            other_jobs=[v["job_id"] for v in other["visits"]],
            tokens={
                "none": {},
                "bad": auth("not-a-token-this-server-issued"),
                "dispatcher": auth(ADMIN),
                "installer": token({"role": "installer", "technician_id": own["technician_id"]}),
                "booking": booker,
            },
            other_installer=token({"role": "installer", "technician_id": other["technician_id"]}),
            own_booking=bookings[0],
            other_booking=bookings[1],
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with build_world(f"sqlite:///{tmp_path_factory.mktemp('perm') / 'dispatch.db'}") as w:
        yield w


# --- one request per row --------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    url: str
    json: Any = None
    params: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    headers: dict[str, str] | None = None


NEW_TECH = {
    "name": "Matrix Tester",
    "home": {"lat": 60.2, "lon": 24.9},
    "skills": {"wardrobe": 1},
    "shifts": [{"date": EMPTY_DAY, "start": "08:00", "end": "16:00"}],
}
NEW_JOB = {"location": {"lat": 60.18, "lon": 24.95}, "duration_min": 45, "date": EMPTY_DAY}
BOOK_TECH = {
    "home": {"lat": 60.2, "lon": 24.9},
    "skills": {"wardrobe": 1},
    "shifts": [{"date": BOOK_DAY, "start": "08:00", "end": "16:00"}],
}
SLOT = {
    "start": dt.datetime.combine(dt.date.fromisoformat(BOOK_DAY), dt.time(10), tzinfo=HELSINKI).isoformat(),
    "end": dt.datetime.combine(dt.date.fromisoformat(BOOK_DAY), dt.time(12), tzinfo=HELSINKI).isoformat(),
}
BOOKING = {"location": {"lat": 60.19, "lon": 24.92}, "duration_min": 20, "skills": {"wardrobe": 1}, "slot": SLOT}
SEARCH = {"location": {"lat": 60.19, "lon": 24.92}, "duration_min": 20, "date_from": BOOK_DAY}
CSV = b"id,kind,lat,lon,duration_min,date\nPERM-CSV,install,60.17,24.94,30,2030-01-07\n"


def cancellable_plan(w: World) -> int:
    """A run that is still queued or running when cancelled (the sample day, a long limit)."""
    started = w.client.post("/v1/plans", json={"date": SAMPLE_DAY, "time_limit_s": 60}, headers=DISPATCHER)
    assert started.status_code == 202, started.text
    plan_id: int = started.json()["id"]
    return plan_id


HOOK = {"url": "http://127.0.0.1:9/matrix", "secret": "a-secret-of-sixteen+", "types": ["plan.published"]}


def a_token(w: World) -> int:
    """A booking token of its own for the cell to revoke (issued by the dispatcher)."""
    made = w.client.post("/v1/tokens", json={"role": "booking", "label": "to revoke"}, headers=DISPATCHER)
    assert made.status_code == 201, made.text
    token_id: int = made.json()["id"]
    return token_id


def a_webhook(w: World) -> int:
    """A subscription of its own for the cell (made by the dispatcher)."""
    made = w.client.post("/v1/webhooks", json=HOOK, headers=DISPATCHER)
    assert made.status_code == 201, made.text
    hook_id: int = made.json()["id"]
    return hook_id


ANOTHER_MINUTE_AWAY_ON_SAMPLE_DAY = {
    key: dt.datetime.combine(dt.date.fromisoformat(SAMPLE_DAY), dt.time(15, minute), tzinfo=HELSINKI).isoformat()
    for key, minute in (("from", 2), ("until", 3))
}


def a_disruption(w: World) -> int:
    """A disruption for the cell to withdraw (recorded by the dispatcher): a minute away,
    another than the POST cell's. One a refused cell left in effect is answered again (200:
    the same disruption sent again is the one in effect)."""
    body = {"type": "technician_unavailable", "technician_id": w.other_tech, **ANOTHER_MINUTE_AWAY_ON_SAMPLE_DAY}
    made = w.client.post("/v1/disruptions", json=body, headers=DISPATCHER)
    assert made.status_code in (200, 201), made.text
    disruption_id: int = made.json()["id"]
    return disruption_id


REQUESTS: dict[tuple[str, str, str], Callable[[World, str], Call]] = {
    ("GET", "/openapi.json", "-"): lambda w, r: Call("/openapi.json"),
    ("GET", "/docs", "-"): lambda w, r: Call("/docs"),
    ("GET", "/health", "-"): lambda w, r: Call("/health"),
    ("GET", "/docs/oauth2-redirect", "-"): lambda w, r: Call("/docs/oauth2-redirect"),
    ("GET", "/redoc", "-"): lambda w, r: Call("/redoc"),
    ("GET", "/v1/clock", "-"): lambda w, r: Call("/v1/clock"),
    ("POST", "/v1/tokens", "-"): lambda w, r: Call("/v1/tokens", json={"role": "booking", "label": f"by {r}"}),
    ("PUT", "/v1/technicians/{technician_id}", "-"): lambda w, r: Call(f"/v1/technicians/PERM-T-{r}", json=NEW_TECH),
    ("GET", "/v1/technicians", "-"): lambda w, r: Call("/v1/technicians"),
    ("GET", "/v1/technicians/{technician_id}", "own"): lambda w, r: Call(f"/v1/technicians/{w.own_tech}"),
    ("GET", "/v1/technicians/{technician_id}", "other"): lambda w, r: Call(f"/v1/technicians/{w.other_tech}"),
    ("GET", "/v1/working-time", "-"): lambda w, r: Call(
        "/v1/working-time", params={"date_from": SAMPLE_DAY, "date_to": SAMPLE_DAY}
    ),
    ("PUT", "/v1/jobs/{job_id}", "-"): lambda w, r: Call(f"/v1/jobs/PERM-J-{r}", json=NEW_JOB),
    ("GET", "/v1/jobs", "-"): lambda w, r: Call("/v1/jobs", params={"date": SAMPLE_DAY}),
    ("GET", "/v1/jobs/{job_id}", "own"): lambda w, r: Call(f"/v1/jobs/{w.own_jobs[0]}"),
    ("GET", "/v1/jobs/{job_id}", "other"): lambda w, r: Call(f"/v1/jobs/{w.other_jobs[0]}"),
    ("DELETE", "/v1/jobs/{job_id}", "-"): lambda w, r: Call("/v1/jobs/PERM-DEL"),
    ("POST", "/v1/plans", "-"): lambda w, r: Call("/v1/plans", json={"date": EMPTY_DAY, "time_limit_s": 1}),
    ("GET", "/v1/plans", "-"): lambda w, r: Call("/v1/plans", params={"date": SAMPLE_DAY}),
    ("GET", "/v1/plans/{plan_id}", "-"): lambda w, r: Call(f"/v1/plans/{w.plan_id}"),
    # a done plan: its stream tells its state and ends at once
    ("GET", "/v1/plans/{plan_id}/events", "-"): lambda w, r: Call(f"/v1/plans/{w.plan_id}/events"),
    # publishing the published plan again changes nothing, so the other cells keep their data
    ("POST", "/v1/plans/{plan_id}/publish", "-"): lambda w, r: Call(f"/v1/plans/{w.plan_id}/publish"),
    ("POST", "/v1/plans/{plan_id}/cancel", "-"): lambda w, r: Call(
        f"/v1/plans/{cancellable_plan(w) if r == 'dispatcher' else w.plan_id}/cancel"
    ),
    # an evaluation only (no apply): nothing is stored, the other cells keep their data
    ("POST", "/v1/plans/{plan_id}/edits", "-"): lambda w, r: Call(
        f"/v1/plans/{w.plan_id}/edits",
        json={"moves": [{"job_id": w.own_jobs[0], "technician_id": w.other_tech, "position": 0}]},
    ),
    ("GET", "/v1/kpis", "-"): lambda w, r: Call("/v1/kpis", params={"date": SAMPLE_DAY}),
    ("GET", "/v1/me/jobs", "-"): lambda w, r: Call("/v1/me/jobs", params={"date": SAMPLE_DAY}),
    ("GET", "/v1/me/calendar.ics", "-"): lambda w, r: Call("/v1/me/calendar.ics"),
    ("GET", "/v1/jobs/{job_id}/events", "-"): lambda w, r: Call(f"/v1/jobs/{w.own_jobs[0]}/events"),
    ("POST", "/v1/disruptions", "-"): lambda w, r: Call(
        "/v1/disruptions",
        # A minute away inside every sample shift: recorded, and it takes no data from another cell.
        json={"type": "technician_unavailable", "technician_id": w.other_tech, **A_MINUTE_AWAY_ON_SAMPLE_DAY},
    ),
    ("GET", "/v1/disruptions", "-"): lambda w, r: Call("/v1/disruptions", params={"date": SAMPLE_DAY}),
    ("DELETE", "/v1/disruptions/{disruption_id}", "-"): lambda w, r: Call(f"/v1/disruptions/{a_disruption(w)}"),
    ("POST", "/v1/jobs/{job_id}/events", "own"): lambda w, r: Call(
        f"/v1/jobs/{w.own_jobs[0]}/events", json={"type": "en_route", "note": f"by {r}"}
    ),
    ("POST", "/v1/jobs/{job_id}/events", "other"): lambda w, r: Call(
        f"/v1/jobs/{w.other_jobs[0]}/events", json={"type": "arrived", "note": f"by {r}"}
    ),
    ("POST", "/v1/jobs/{job_id}/events", "unknown"): lambda w, r: Call(
        "/v1/jobs/NO-SUCH-JOB/events", json={"type": "arrived"}
    ),
    ("POST", "/v1/jobs/import", "-"): lambda w, r: Call(
        "/v1/jobs/import", files={"file": ("jobs.csv", CSV, "text/csv")}
    ),
    ("POST", "/v1/slots/search", "-"): lambda w, r: Call("/v1/slots/search", json=SEARCH),
    ("POST", "/v1/bookings", "-"): lambda w, r: Call(
        "/v1/bookings", json=BOOKING, headers={"Idempotency-Key": f"perm-{r}"}
    ),
    ("GET", "/v1/bookings/{job_id}", "own"): lambda w, r: Call(f"/v1/bookings/{w.own_booking}"),
    ("GET", "/v1/bookings/{job_id}", "other"): lambda w, r: Call(f"/v1/bookings/{w.other_booking}"),
    ("DELETE", "/v1/bookings/{job_id}", "own"): lambda w, r: Call(f"/v1/bookings/{w.own_booking}"),
    ("DELETE", "/v1/bookings/{job_id}", "other"): lambda w, r: Call(f"/v1/bookings/{w.other_booking}"),
    ("GET", "/v1/events", "-"): lambda w, r: Call("/v1/events", params={"limit": "10"}),
    ("POST", "/v1/webhooks", "-"): lambda w, r: Call("/v1/webhooks", json=HOOK),
    ("GET", "/v1/webhooks", "-"): lambda w, r: Call("/v1/webhooks"),
    ("DELETE", "/v1/webhooks/{webhook_id}", "-"): lambda w, r: Call(f"/v1/webhooks/{a_webhook(w)}"),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries", "-"): lambda w, r: Call(f"/v1/webhooks/{a_webhook(w)}/deliveries"),
    # the booking role reads only the status of jobs it booked (its own booking, even once cancelled)
    ("GET", "/v1/jobs/{job_id}/status", "own"): lambda w, r: Call(f"/v1/jobs/{w.own_booking}/status"),
    ("GET", "/v1/jobs/{job_id}/status", "other"): lambda w, r: Call(f"/v1/jobs/{w.other_booking}/status"),
    ("GET", "/v1/jobs/{job_id}/status", "unbooked"): lambda w, r: Call(f"/v1/jobs/{w.own_jobs[0]}/status"),
    ("GET", "/v1/live", "-"): lambda w, r: Call("/v1/live", params={"date": SAMPLE_DAY}),
    ("GET", "/v1/tokens", "-"): lambda w, r: Call("/v1/tokens"),
    ("DELETE", "/v1/tokens/{token_id}", "-"): lambda w, r: Call(f"/v1/tokens/{a_token(w)}"),
    ("GET", "/v1/audit", "-"): lambda w, r: Call("/v1/audit", params={"limit": "10"}),
}


def call(w: World, row: Row, role: str) -> Any:
    request = REQUESTS[row.key](w, role)
    return w.client.request(
        row.method,
        request.url,
        json=request.json,
        params=request.params,
        files=request.files,
        headers={**w.tokens[role], **(request.headers or {})},
    )


def verdict(row: Row, role: str, response: Any) -> str | None:
    """None when the cell holds, else what went wrong."""
    expected, got = row.expected[role], response.status_code
    if got != int(expected):
        return f"{row.label} as {role}: expected {expected}, got {got} {response.text[:200]}"
    if got >= 400 and not response.headers["content-type"].startswith("application/problem+json"):
        return f"{row.label} as {role}: {got} is not application/problem+json"
    if got == 401 and response.headers.get("www-authenticate", "").lower() != "bearer":
        return f"{row.label} as {role}: 401 without WWW-Authenticate: Bearer"
    return None


# --- the tests ------------------------------------------------------------------------


def test_every_endpoint_has_a_row(world: World) -> None:
    served = app_endpoints(world.client.app)  # type: ignore[arg-type]
    tabled = {(r.method, r.path) for r in ROWS}
    missing = served - tabled
    assert not missing, f"endpoints without a row in MATRIX: {sorted(missing)}"
    stale = tabled - served
    assert not stale, f"rows in MATRIX for endpoints the app does not serve: {sorted(stale)}"
    assert set(REQUESTS) == {r.key for r in ROWS}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.label)
def test_cell(world: World, row: Row, role: str) -> None:
    problem = verdict(row, role, call(world, row, role))
    assert problem is None, problem


def test_the_matrix_holds_on_each_database(database_url: str) -> None:
    """The core rows (data with an owner, or written) on SQLite and on PostgreSQL."""
    with build_world(database_url) as w:
        failures = [
            problem
            for row in ROWS
            if (row.method, row.path) in CORE
            for role in ROLES
            if (problem := verdict(row, role, call(w, row, role))) is not None
        ]
    assert not failures, "\n".join(failures)


# --- what an installer sees is their own ---------------------------------------------


def test_an_installer_sees_only_their_own_visits_whatever_they_ask_for(world: World) -> None:
    installer = world.tokens["installer"]
    mine = world.client.get("/v1/me/jobs", params={"date": SAMPLE_DAY}, headers=installer)
    assert mine.status_code == 200, mine.text
    assert [m["job_id"] for m in mine.json()] == world.own_jobs
    for asking in ("technician_id", "technician"):
        refused = world.client.get(
            "/v1/me/jobs", params={"date": SAMPLE_DAY, asking: world.other_tech}, headers=installer
        )
        assert refused.status_code == 422 and refused.json()["field"] == asking, refused.text
    theirs = world.client.get("/v1/me/jobs", params={"date": SAMPLE_DAY}, headers=world.other_installer).json()
    assert [m["job_id"] for m in theirs] == world.other_jobs
    assert not set(world.own_jobs) & set(world.other_jobs)


def test_an_installers_calendar_holds_none_of_another_technicians_jobs(world: World) -> None:
    feed = world.client.get("/v1/me/calendar.ics", headers=world.tokens["installer"])
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    uids = [line.split(":", 1)[1].strip() for line in feed.text.splitlines() if line.startswith("UID:")]
    assert all(uid.endswith(f"-{world.own_tech}@furniture-dispatch") for uid in uids), uids
    assert not any(uid.startswith(f"{job}-") for uid in uids for job in world.other_jobs)
    # The sample day is the next working day: inside the feed's two weeks, so the feed holds exactly my jobs.
    assert {uid.rsplit(f"-{world.own_tech}@", 1)[0] for uid in uids} == set(world.own_jobs)


def test_a_refused_event_is_not_stored(world: World) -> None:
    job = world.other_jobs[-1]
    before = world.client.get("/v1/kpis", params={"date": SAMPLE_DAY}, headers=DISPATCHER).json()
    refused = world.client.post(
        f"/v1/jobs/{job}/events", json={"type": "failed", "note": "not mine"}, headers=world.tokens["installer"]
    )
    assert refused.status_code == 403
    assert refused.json()["field"] == "job_id"
    after = world.client.get("/v1/kpis", params={"date": SAMPLE_DAY}, headers=DISPATCHER).json()
    assert after["outcomes_reported"] == before["outcomes_reported"]


@pytest.mark.parametrize(
    "header",
    [
        f"Basic {ADMIN}",
        f"Token {ADMIN}",
        ADMIN,
        "Bearer",
        "Bearer ",
        f"Bearer {ADMIN}x",
        f"Bearer {ADMIN[:-1]}",
    ],
)
def test_a_malformed_authorization_header_is_401(world: World, header: str) -> None:
    response = world.client.get("/v1/technicians", headers={"Authorization": header})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == "Authorization"


def test_a_token_only_ever_stands_for_its_role(world: World) -> None:
    """Neither an installer nor a booking token can mint itself a dispatcher token."""
    minted = world.client.post("/v1/tokens", json={"role": "dispatcher"}, headers=world.tokens["installer"])
    assert minted.status_code == 403
    minted = world.client.post("/v1/tokens", json={"role": "dispatcher"}, headers=world.tokens["booking"])
    assert minted.status_code == 403
