"""Set-up shared by every test."""

from __future__ import annotations

import pytest

from solver.search import sisr


@pytest.fixture(scope="session", autouse=True)
def compiled_search_ready() -> None:
    """The compiled ruin-and-recreate search is ready before any test plans a day, so
    each day takes the same path whatever ran before (on a fresh machine numba compiles
    it here, about 10 s, once; later runs load it from numba's cache)."""
    sisr.warm_up()
