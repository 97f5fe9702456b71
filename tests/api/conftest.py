"""An API over a real SQLite file (and, where a test asks, the real PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from api import create_app
from dispatch.settings import Settings
from tests.conftest import seeded_day

ADMIN = "test-admin-token"
_POSTGRES_BASE = os.environ.get("DISPATCH_TEST_POSTGRES_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
POSTGRES_URL = (
    make_url(_POSTGRES_BASE)
    .set(database=f"{make_url(_POSTGRES_BASE).database}_{_XDIST_WORKER}")
    .render_as_string(hide_password=False)
    if _XDIST_WORKER
    else _POSTGRES_BASE
)
"""The machine's PostgreSQL (``DISPATCH_TEST_POSTGRES_URL`` names another database, so that
two test runs on one machine do not reset each other's schema); each pytest-xdist worker
of ``make test`` uses a database of its own beside it (``test_gw0``, ``test_gw1``)."""


def ensure_postgres() -> None:
    """Start the machine's PostgreSQL if it is down (it runs with trust auth)."""
    if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"], check=False).returncode == 0:
        return
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir())
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], check=False)
    for _ in range(30):
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"], check=False).returncode == 0:
            return
        time.sleep(0.5)
    raise RuntimeError("PostgreSQL did not start")


def ensure_postgres_database() -> None:
    """PostgreSQL is up and ``POSTGRES_URL``'s database exists (created when missing)."""
    from sqlalchemy import create_engine, text

    ensure_postgres()
    url = make_url(POSTGRES_URL)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}).first()
        if found is None:
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()


def reset_postgres() -> None:
    """An empty public schema in the test database."""
    from sqlalchemy import create_engine, text

    ensure_postgres()
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def settings_for(url: str, seed: bool = True) -> Settings:
    # No brake on failed authentication: these tests send wrong tokens on purpose, all
    # from one address (tests/api/test_security.py tests the brake with its own setting).
    return Settings(database_url=url, admin_token=ADMIN, seed_samples=seed, auth_failures_per_min=0, solver_workers=1)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs on a fresh SQLite file and on the real PostgreSQL."""
    if request.param == "postgres":
        reset_postgres()
        return POSTGRES_URL
    return f"sqlite:///{tmp_path / 'dispatch.db'}"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """A client of an API seeded with the sample day, on a fresh SQLite file."""
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'dispatch.db'}"))
    with TestClient(app) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


DISPATCHER = auth(ADMIN)
SAMPLE_DAY = seeded_day().isoformat()
"""The date an API started by these tests seeds the sample day on."""


def run_plan(
    client: TestClient, date: str = SAMPLE_DAY, time_limit_s: float = 3, replan_from: str | None = None
) -> dict[str, object]:
    """Start a plan run (a re-plan from ``replan_from`` when given) and poll it to the
    end; returns the final plan."""
    body: dict[str, object] = {"date": date, "time_limit_s": time_limit_s}
    if replan_from is not None:
        body["from"] = replan_from
    return run_plan_of(client, body)


def run_plan_of(client: TestClient, body: dict[str, object]) -> dict[str, object]:
    """Start the plan run ``body`` asks for and poll it to the end; returns the final plan."""
    started = client.post("/v1/plans", json=body, headers=DISPATCHER)
    assert started.status_code == 202, started.text
    plan_id = started.json()["id"]
    for _ in range(600):
        plan: dict[str, object] = client.get(f"/v1/plans/{plan_id}", headers=DISPATCHER).json()
        if plan["status"] in ("done", "failed", "cancelled"):
            return plan
        time.sleep(0.1)
    raise AssertionError("plan did not finish")


def run_while_adding(client: TestClient, plan_id: int, add: Callable[[int], str]) -> tuple[dict[str, Any], list[str]]:
    """Poll the run ``plan_id`` until it ends, adding a job with ``add(n)`` (its id back)
    after every poll that finds it running; the run as it ended and the jobs added."""
    added: list[str] = []
    plan: dict[str, Any] = {}
    for n in range(2000):
        plan = client.get(f"/v1/plans/{plan_id}", headers=DISPATCHER).json()
        if plan["status"] in ("done", "failed", "cancelled"):
            break
        if plan["status"] == "running":
            added.append(add(n))
        else:
            time.sleep(0.02)
    return plan, added
