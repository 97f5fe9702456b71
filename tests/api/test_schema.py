"""Property-based tests of the OpenAPI contract (schemathesis) against the ASGI app.

For every operation of the schema, schemathesis generates valid and invalid
requests (examples, coverage of boundaries, random fuzzing) and checks each
answer: never a 5xx, the documented status codes and content types, bodies that
match the response schemas (errors as ``application/problem+json``), invalid
input rejected, requests without the token refused. On top of its checks, every
422 must name the wrong field.

It runs as a dispatcher (every operation, 25 examples each) and as an installer
and a booking client (fewer: most answers are 403). Deterministic for CI.

Hypothesis settings are bounded so the file runs in well under two minutes.
Plan runs started by the fuzzer get a time limit of at most 1 s; the only day
with work on it is tiny, so no run lasts long.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from api import create_app
from dispatch.inputs import LatLon
from tests.api.conftest import ADMIN, DISPATCHER, settings_for

DAY = "2026-12-01"


def offline_geocoder(address: str) -> LatLon:
    """Every address is in central Helsinki, near the fuzz technicians: the fuzzer's
    jobs given by address are stored like any other (a geocoder that cannot be reached
    is a 503, tests/dispatch/test_geocode.py, which this contract does not allow)."""
    return LatLon(lat=60.17, lon=24.94)


# schemathesis' pytest integration needs the schema when the module is collected
# (its fixture-based loader does not run on pytest 9), so the app is built here, on
# a throwaway SQLite file, with the technicians the tokens are bound to.
WORKDIR = Path(tempfile.mkdtemp(prefix="dispatch-schema-"))
APP = create_app(settings_for(f"sqlite:///{WORKDIR / 'dispatch.db'}", seed=False), geocoder=offline_geocoder)
CLIENT = TestClient(APP)
TECH = {
    "name": "Fuzz Tester",
    "home": {"lat": 60.2, "lon": 24.9},
    "skills": {"wardrobe": 2},
    "shifts": [{"date": DAY, "start": "08:00", "end": "16:00"}],
}
for _tech in ("T1", "T2"):
    CLIENT.put(f"/v1/technicians/{_tech}", json=TECH, headers=DISPATCHER).raise_for_status()
TOKENS = {
    "dispatcher": ADMIN,
    "installer": CLIENT.post(
        "/v1/tokens", json={"role": "installer", "technician_id": "T1"}, headers=DISPATCHER
    ).json()["token"],
    "booking": CLIENT.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"],
}


def config(role: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "auth": {"openapi": {"HTTPBearer": {"bearer": TOKENS[role]}}},
            "generation": {
                "deterministic": True,
                # unknown query parameters are ignored on purpose (calendar apps add their own)
                "allow-extra-parameters": False,
            },
            "checks": {
                # schema-valid but meaningless input (an unknown technician, a deadline
                # before the release, a date outside 2000-2099) is a 422 naming the field
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "401", "403", "404", "409", "422"],
                },
            },
        }
    )


def schema_for(role: str) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", APP, config=config(role))


@pytest.fixture(scope="module", autouse=True)
def planned_day() -> Iterator[None]:
    """Two jobs on a published plan of T1 and T2's day, so plan, job and /me answers have content."""
    job = {"location": {"lat": 60.17, "lon": 24.94}, "duration_min": 60, "date": DAY}
    for job_id in ("J1", "J2"):
        CLIENT.put(f"/v1/jobs/{job_id}", json=job, headers=DISPATCHER).raise_for_status()
    plan = CLIENT.post("/v1/plans", json={"date": DAY, "time_limit_s": 1}, headers=DISPATCHER).json()
    for _ in range(200):
        if CLIENT.get(f"/v1/plans/{plan['id']}", headers=DISPATCHER).json()["status"] == "done":
            break
        time.sleep(0.05)
    CLIENT.post(f"/v1/plans/{plan['id']}/publish", headers=DISPATCHER).raise_for_status()
    yield
    APP.state.dispatch.runner.shutdown()
    shutil.rmtree(WORKDIR, ignore_errors=True)


@schemathesis.check
def problem_names_the_field(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Every 422 says which field is wrong."""
    if response.status_code == 422:
        body = response.json()
        assert isinstance(body, dict) and body.get("field"), f"a 422 without `field`: {response.text[:300]}"
    return None


def cheap_plans(case: schemathesis.Case) -> None:
    """Plan runs the fuzzer starts get at most 1 s (an invalid limit stays invalid)."""
    if case.method.upper() == "POST" and case.path == "/v1/plans" and isinstance(case.body, dict):
        limit = case.body.get("time_limit_s")
        if "time_limit_s" not in case.body or (type(limit) in (int, float) and 1 < limit <= 600):
            case.body["time_limit_s"] = 1


BOUNDED = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@schemathesis.pytest.parametrize(dispatcher=schema_for("dispatcher"))
@BOUNDED
def test_the_api_keeps_its_contract_for_a_dispatcher(case: schemathesis.Case) -> None:
    cheap_plans(case)
    case.call_and_validate(additional_checks=[problem_names_the_field])


@schemathesis.pytest.parametrize(installer=schema_for("installer"), booking=schema_for("booking"))
@settings(BOUNDED, max_examples=5)
def test_the_api_keeps_its_contract_for_installers_and_booking(case: schemathesis.Case) -> None:
    cheap_plans(case)
    case.call_and_validate(additional_checks=[problem_names_the_field])


# --- what the fuzzing found, pinned down --------------------------------------------


def test_every_error_response_is_documented_as_a_problem() -> None:
    schema = APP.openapi()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            if operation.get("security"):
                assert {"401", "403"} <= set(responses), (method, path)
            if any(p["in"] == "path" for p in operation.get("parameters", [])):
                assert "404" in responses, (method, path)
            for code, response in responses.items():
                if code[0] in "45":
                    assert response["content"] == {
                        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                    }, (method, path, code)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PATCH", "/v1/jobs/J1", "DELETE, GET, HEAD, PUT"),
        ("POST", "/v1/technicians/T1", "GET, HEAD, PUT"),
        ("DELETE", "/v1/plans", "GET, HEAD, POST"),
        ("DELETE", "/v1/jobs/J1/events", "GET, HEAD, POST"),
    ],
)
def test_a_method_the_path_does_not_take_is_a_405_that_lists_all_it_takes(method: str, path: str, allowed: str) -> None:
    response = CLIENT.request(method, path, headers=DISPATCHER)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.headers["content-type"].startswith("application/problem+json")


def test_plans_still_run_after_the_app_lifespan_has_run_once(tmp_path: Path) -> None:
    """Test clients (and schemathesis' loader) run the lifespan per client: its
    shutdown must not leave a dead plan runner behind."""
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'dispatch.db'}", seed=False))
    with TestClient(app):
        pass
    with TestClient(app) as client:
        started = client.post("/v1/plans", json={"date": DAY, "time_limit_s": 1}, headers=DISPATCHER)
        assert started.status_code == 202, started.text
        for _ in range(200):
            plan = client.get(f"/v1/plans/{started.json()['id']}", headers=DISPATCHER).json()
            if plan["status"] != "queued" and plan["status"] != "running":
                break
            time.sleep(0.05)
        assert plan["status"] == "done"
