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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "clock: depends on the date or time of day; run at several instants")


def pytest_unconfigure(config: pytest.Config) -> None:
    _TRAVEL.stop()


def pytest_report_header(config: pytest.Config) -> str:
    return f"instant: {INSTANT.isoformat()} (DISPATCH_TEST_AT), {INSTANT.astimezone(HELSINKI).isoformat()} in Helsinki"


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
