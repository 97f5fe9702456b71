"""Set-up shared by every test: the compiled search, and the instant the suite runs at.

No test reads the wall clock. The whole suite runs as if it were one instant
(``DISPATCH_TEST_AT``, default ``DEFAULT_INSTANT``), with time moving on from
there at real speed (time-machine): the product's clock, and every date a test
derives from it, follow. The travel starts when this file is imported, before
any other conftest or test module, so module-level dates see it too. A served
API started by a test gets the same present through ``DISPATCH_NOW``
(``served_env``). ``make test`` also runs the tests marked ``clock`` at a few
instants where dates are easy to get wrong (the Makefile's ``test-clock``)::

    DISPATCH_TEST_AT=2026-12-03T23:30:00Z .venv/bin/pytest             # the whole suite at one instant
    DISPATCH_TEST_AT=2027-03-28T00:30:00Z .venv/bin/pytest -m clock    # the date-sensitive tests only

Tests that run on each database (a parameter ``sqlite``, ``postgres`` or
``sqlite+redis``) run on one of them only when ``DISPATCH_TEST_DATABASE`` names it
(``sqlite`` or ``postgres``): the clock runs take each instant on one database.
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

import pytest
import time_machine

from dispatch.clock import SYSTEM_CLOCK, parse_instant
from dispatch.seed import sample_date
from solver.search import sisr

HELSINKI = ZoneInfo("Europe/Helsinki")
DEFAULT_INSTANT = "2026-12-02T10:00:00+02:00"
"""A Wednesday morning in Helsinki: where the suite runs unless told otherwise."""
INSTANT = parse_instant(os.environ.get("DISPATCH_TEST_AT") or DEFAULT_INSTANT, "DISPATCH_TEST_AT")
_TRAVEL = time_machine.travel(INSTANT, tick=True)
_TRAVEL.start()


_DATABASE_OF_PARAM = {"sqlite": "sqlite", "sqlite+redis": "sqlite", "postgres": "postgres"}
ONLY_DATABASE = os.environ.get("DISPATCH_TEST_DATABASE", "").strip()
if ONLY_DATABASE not in ("", "sqlite", "postgres"):
    raise pytest.UsageError(f"DISPATCH_TEST_DATABASE must be sqlite or postgres, not {ONLY_DATABASE!r}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "clock: depends on the date or time of day; run at several instants")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``DISPATCH_TEST_DATABASE``, deselect the runs of tests on the other database."""
    if not ONLY_DATABASE:
        return
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        params = getattr(item, "callspec", None)
        values = params.params.values() if params is not None else ()
        databases = {_DATABASE_OF_PARAM[v] for v in values if isinstance(v, str) and v in _DATABASE_OF_PARAM}
        (dropped if databases and ONLY_DATABASE not in databases else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_unconfigure(config: pytest.Config) -> None:
    _TRAVEL.stop()


def pytest_report_header(config: pytest.Config) -> str:
    where = f"; databases: {ONLY_DATABASE} only (DISPATCH_TEST_DATABASE)" if ONLY_DATABASE else ""
    local = INSTANT.astimezone(HELSINKI).isoformat()
    return f"instant: {INSTANT.isoformat()} (DISPATCH_TEST_AT), {local} in Helsinki{where}"


def today() -> dt.date:
    """Today in Helsinki (the dispatch time zone of every test), as the product's clock says."""
    return SYSTEM_CLOCK.today(HELSINKI)


def seeded_day() -> dt.date:
    """Where an API started now seeds the sample day: the next working day after today."""
    return sample_date(today())


def served_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a served API or board in a subprocess: ``base`` (default
    this process's) with ``DISPATCH_NOW`` set to this suite's present instant, and plan
    runs solved inside the API (``SOLVER_WORKERS=1``) unless ``base`` says otherwise:
    tests of separate solver workers (tests/dispatch/test_workers.py) set it to 0."""
    env = dict(os.environ if base is None else base)
    env["DISPATCH_NOW"] = SYSTEM_CLOCK.now().isoformat()
    env.setdefault("SOLVER_WORKERS", "1")
    return env


@pytest.fixture(scope="session", autouse=True)
def own_postgres_database() -> None:
    """Under pytest-xdist (``make test`` runs three workers), each worker's PostgreSQL
    database exists before any test resets its schema."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        from tests.api.conftest import ensure_postgres_database

        ensure_postgres_database()


@pytest.fixture(scope="session", autouse=True)
def compiled_search_ready() -> None:
    """The compiled ruin-and-recreate search is ready before any test plans a day, so
    each day takes the same path whatever ran before (on a fresh machine numba compiles
    it here, about 10 s, once; later runs load it from numba's cache)."""
    sisr.warm_up()
