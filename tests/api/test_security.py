"""Tokens with a life cycle, the audit log, and what every answer carries
(docs/security.md): expiry and revocation refused at once by every API process,
a brake on repeated failed authentication, security headers, CORS for the
ordering system's origin only, offline API docs, a rotated bootstrap token, and a
wrong DATABASE_URL told in one line."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.security import FailedAuthLimiter, TooManyFailures
from dispatch.clock import Clock
from tests.api.conftest import ADMIN, DISPATCHER, SAMPLE_DAY, auth, run_plan, settings_for

ROOT = Path(__file__).resolve().parents[2]
START = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def issue(client: TestClient, **body: object) -> dict[str, object]:
    response = client.post("/v1/tokens", json={"role": "booking", **body}, headers=DISPATCHER)
    assert response.status_code == 201, response.text
    issued: dict[str, object] = response.json()
    return issued


def test_a_revoked_token_is_refused_at_once_by_every_api_process(database_url: str) -> None:
    settings = settings_for(database_url, seed=False)
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as other:
        issued = issue(one, label="web shop")
        headers = auth(str(issued["token"]))
        assert other.get("/v1/clock", headers=headers).status_code == 200

        listed = {t["id"]: t for t in one.get("/v1/tokens", headers=DISPATCHER).json()}
        shown = listed[issued["id"]]
        assert shown["label"] == "web shop" and shown["active"] and shown["last_used_at"] is not None
        assert all("token" not in t and "token_hash" not in t for t in listed.values())

        revoked = one.delete(f"/v1/tokens/{issued['id']}", headers=DISPATCHER)
        assert revoked.status_code == 200 and revoked.json()["revoked_at"] and not revoked.json()["active"]
        for client in (one, other):
            refused = client.get("/v1/clock", headers=headers)
            assert refused.status_code == 401 and refused.json()["field"] == "Authorization"
        assert one.delete("/v1/tokens/999999", headers=DISPATCHER).json()["field"] == "token_id"


def test_the_last_working_dispatcher_token_is_not_revoked_and_keeps_working(database_url: str) -> None:
    with TestClient(create_app(settings_for(database_url, seed=False))) as client:
        tokens = client.get("/v1/tokens", headers=DISPATCHER).json()
        [bootstrap] = [t["id"] for t in tokens if t["role"] == "dispatcher" and t["active"]]
        refused = client.delete(f"/v1/tokens/{bootstrap}", headers=DISPATCHER)
        assert refused.status_code == 409 and refused.json()["field"] == "token_id", refused.text
        assert client.get("/v1/clock", headers=DISPATCHER).status_code == 200
        assert "token.revoked" not in [
            e["action"] for e in client.get("/v1/audit", headers=DISPATCHER).json()["entries"]
        ]

        second = issue(client, role="dispatcher", label="second desk")
        assert client.delete(f"/v1/tokens/{bootstrap}", headers=DISPATCHER).status_code == 200
        assert client.get("/v1/clock", headers=DISPATCHER).status_code == 401
        last = client.delete(f"/v1/tokens/{second['id']}", headers=auth(str(second["token"])))
        assert last.status_code == 409 and last.json()["field"] == "token_id"


def test_a_token_is_refused_once_it_has_expired(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    issued_at = dataclasses.replace(settings_for(url, seed=False), clock=Clock(START))
    with TestClient(create_app(issued_at)) as client:
        issued = issue(client, expires_in_days=1)
        expires = dt.datetime.fromisoformat(str(issued["expires_at"]))
        assert abs(expires - (START + dt.timedelta(days=1))) < dt.timedelta(minutes=1)  # the clock runs from START
        assert client.get("/v1/clock", headers=auth(str(issued["token"]))).status_code == 200
        too_long = client.post("/v1/tokens", json={"role": "booking", "expires_in_days": 0}, headers=DISPATCHER)
        assert too_long.status_code == 422 and too_long.json()["field"] == "expires_in_days"
    two_days_on = dataclasses.replace(issued_at, clock=Clock(START + dt.timedelta(days=2)))
    with TestClient(create_app(two_days_on)) as client:
        assert client.get("/v1/clock", headers=auth(str(issued["token"]))).status_code == 401
        [listed] = [t for t in client.get("/v1/tokens", headers=DISPATCHER).json() if t["id"] == issued["id"]]
        assert listed["active"] is False and listed["revoked_at"] is None


def test_every_dispatcher_action_is_in_the_audit_log_with_who_did_it(database_url: str) -> None:
    with TestClient(create_app(settings_for(database_url))) as client:
        plan = run_plan(client, SAMPLE_DAY, time_limit_s=1)
        assert client.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER).status_code == 200
        issued = issue(client)
        client.delete(f"/v1/tokens/{issued['id']}", headers=DISPATCHER)
        job_id = plan["unassigned"][0]["job_id"] if plan["unassigned"] else plan["routes"][0]["visits"][0]["job_id"]
        assert client.delete(f"/v1/jobs/{job_id}", headers=DISPATCHER).status_code == 200
        # Master data and the day's disruptions are dispatcher actions too.
        tech = client.get("/v1/technicians/T01", headers=DISPATCHER).json()
        body = {k: v for k, v in tech.items() if k != "id"}
        assert client.put("/v1/technicians/T01", json=body, headers=DISPATCHER).status_code == 200
        job = client.get(f"/v1/jobs/{job_id}", headers=DISPATCHER).json()
        keep = ("kind", "date", "location", "address", "customer", "duration_min", "skills", "windows", "priority")
        assert client.put(f"/v1/jobs/{job_id}", json={k: job[k] for k in keep}, headers=DISPATCHER).status_code == 200
        late = {"type": "technician_unavailable", "technician_id": "T01", "from": f"{SAMPLE_DAY}T12:00:00+02:00"}
        recorded = client.post("/v1/disruptions", json=late, headers=DISPATCHER)
        assert recorded.status_code == 201, recorded.text

        first = client.get("/v1/audit", params={"limit": 2}, headers=DISPATCHER).json()
        rest = client.get("/v1/audit", params={"after": first["next"]}, headers=DISPATCHER).json()
        entries = first["entries"] + rest["entries"]
        assert [e["action"] for e in entries] == [
            "plan.published",
            "token.issued",
            "token.revoked",
            "job.cancelled",
            "technician.saved",
            "job.saved",
            "disruption.recorded",
        ]
        assert [e["subject"] for e in entries] == [
            f"plan {plan['id']}",
            f"token {issued['id']}",
            f"token {issued['id']}",
            f"job {job_id}",
            "technician T01",
            f"job {job_id}",
            f"disruption {recorded.json()['id']}",
        ]
        assert entries[-1]["detail"]["type"] == "technician_unavailable"
        assert all(e["actor"]["role"] == "dispatcher" and e["actor"]["label"].startswith("admin") for e in entries)
        assert entries[0]["detail"]["date"] == SAMPLE_DAY
        assert client.get("/v1/audit", params={"after": rest["next"]}, headers=DISPATCHER).json()["entries"] == []
        booking = auth(str(issue(client)["token"]))
        assert client.get("/v1/audit", headers=booking).status_code == 403


def test_repeated_failed_authentication_from_one_address_is_slowed_down(tmp_path: Path) -> None:
    settings = dataclasses.replace(settings_for(f"sqlite:///{tmp_path / 'd.db'}", seed=False), auth_failures_per_min=5)
    with TestClient(create_app(settings)) as client:
        answers = [client.get("/v1/clock", headers=auth(f"guess-{i}")).status_code for i in range(8)]
        assert answers == [401] * 5 + [429] * 3
        held = client.get("/v1/clock", headers=DISPATCHER)
        assert held.status_code == 429 and 1 <= int(held.headers["Retry-After"]) <= 60
        assert held.json()["field"] == "Authorization"


def test_the_brake_lets_an_address_try_again_once_its_failures_are_a_minute_old() -> None:
    now = [100.0]
    limiter = FailedAuthLimiter(3, clock=lambda: now[0])
    for _ in range(3):
        limiter.check("10.0.0.1")
        limiter.failed("10.0.0.1")
    with pytest.raises(TooManyFailures) as held:
        limiter.check("10.0.0.1")
    assert held.value.headers["Retry-After"] == "60"
    limiter.check("10.0.0.2")  # another address is not held back
    now[0] += 59.5
    with pytest.raises(TooManyFailures):
        limiter.check("10.0.0.1")
    now[0] += 1
    limiter.check("10.0.0.1")


def test_answers_carry_security_headers_and_authenticated_data_is_not_stored(client: TestClient) -> None:
    answer = client.get("/v1/jobs", params={"date": SAMPLE_DAY}, headers=DISPATCHER)
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"
    refused = client.get("/v1/jobs", params={"date": SAMPLE_DAY})
    assert refused.status_code == 401 and refused.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in client.get("/openapi.json").headers


def test_only_the_configured_web_origin_may_call_from_a_browser(tmp_path: Path) -> None:
    shop = "https://shop.example.com"
    settings = dataclasses.replace(settings_for(f"sqlite:///{tmp_path / 'd.db'}", seed=False), cors_origins=(shop,))
    with TestClient(create_app(settings)) as client:
        ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
        allowed = client.options("/v1/slots/search", headers={"Origin": shop, **ask})
        assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == shop
        other = client.options("/v1/slots/search", headers={"Origin": "https://evil.example", **ask})
        assert "access-control-allow-origin" not in other.headers
    with TestClient(create_app(settings_for(f"sqlite:///{tmp_path / 'e.db'}", seed=False))) as client:
        plain = client.get("/v1/clock", headers={"Origin": shop, **DISPATCHER})
        assert "access-control-allow-origin" not in plain.headers


def test_the_docs_page_loads_its_scripts_from_the_api_itself(client: TestClient) -> None:
    page = client.get("/docs").text
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page
    script = page.split('src="')[1].split('"')[0]
    assert script.startswith("/") and client.get(script).status_code == 200


def test_a_new_bootstrap_token_retires_the_old_one_and_a_short_one_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    with TestClient(create_app(settings_for(url, seed=False))) as client:
        assert client.get("/v1/clock", headers=DISPATCHER).status_code == 200
    rotated = dataclasses.replace(settings_for(url, seed=False), admin_token="a-new-admin-token-of-2027")
    with TestClient(create_app(rotated)) as client:
        assert client.get("/v1/clock", headers=DISPATCHER).status_code == 401
        assert client.get("/v1/clock", headers=auth("a-new-admin-token-of-2027")).status_code == 200
    with pytest.raises(ValueError, match="DISPATCH_ADMIN_TOKEN"):
        create_app(dataclasses.replace(rotated, admin_token="x"))
    with TestClient(create_app(settings_for(url, seed=False))) as client:  # the old one again: it works again
        assert client.get("/v1/clock", headers=auth(ADMIN)).status_code == 200


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", "not a database URL"),
        ("postgresql+psycopg://postgres@127.0.0.1:1/nowhere", "cannot use the database"),
        ("sqlite:////no/such/folder/dispatch.db", "cannot use the database"),
    ],
)
def test_a_wrong_database_url_stops_the_start_with_one_line_naming_it(url: str, says: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "DISPATCH_ADMIN_TOKEN": "x" * 20}
    done = subprocess.run(
        [sys.executable, "-m", "api", "--port", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("DATABASE_URL: ") and says in lines[0], done.stderr
    assert "Traceback" not in done.stderr + done.stdout
