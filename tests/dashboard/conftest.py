"""The board against a real API: uvicorn on a free loopback port, a fresh SQLite
file seeded with the sample day, and a known dispatcher token."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import streamlit as st
import uvicorn
from streamlit.testing.v1 import AppTest

from api import create_app
from dispatch.settings import Settings
from tests.conftest import seeded_day

ADMIN = "board-test-admin-token"
DAY = seeded_day().isoformat()
"""The sample day the test API seeds (the next working day after today)."""
APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
# Short solver runs keep the suite quick; BOARD_TEST_TIME_LIMIT_S=10 gives a
# fuller plan (e.g. for the screenshot in docs/).
TIME_LIMIT_S = float(os.environ.get("BOARD_TEST_TIME_LIMIT_S", "2"))
APP_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Api:
    """A running API: its address and a dispatcher client of it."""

    url: str
    http: httpx.Client

    def plan(self, time_limit_s: float = TIME_LIMIT_S, day: str = DAY) -> dict[str, object]:
        """Run a plan to the end through the API itself; returns the final plan."""
        started = self.http.post("/v1/plans", json={"date": day, "time_limit_s": time_limit_s})
        assert started.status_code == 202, started.text
        return self.wait(int(started.json()["id"]))

    def wait(self, plan_id: int) -> dict[str, object]:
        for _ in range(600):
            plan: dict[str, object] = self.http.get(f"/v1/plans/{plan_id}").json()
            if plan["status"] in ("done", "failed", "cancelled"):
                return plan
            time.sleep(0.1)
        raise AssertionError(f"plan {plan_id} did not finish")

    def newest_plan(self, day: str = DAY) -> dict[str, object]:
        """The newest version of ``day``, in full."""
        versions = self.http.get("/v1/plans", params={"date": day}).json()
        assert versions, "no plan version"
        plan: dict[str, object] = self.http.get(f"/v1/plans/{versions[0]['id']}").json()
        return plan


def start_api(database: Path) -> tuple[uvicorn.Server, threading.Thread, str]:
    """uvicorn serving ``create_app`` over ``database`` in a thread; returns once it answers."""
    app = create_app(
        Settings(database_url=f"sqlite:///{database}", admin_token=ADMIN, seed_samples=True, solver_workers=1)
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"api-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test API did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One API for the AppTest flows of this session, with one done plan of the sample day."""
    server, thread, url = start_api(tmp_path_factory.mktemp("board-api") / "dispatch.db")
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30) as http:
        served = Api(url, http)
        assert served.plan()["status"] == "done"
        yield served
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def board(api: Api, monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """A factory of AppTests of the board pointed at ``api`` (or at ``url``), caches cleared."""

    def make(url: str | None = None) -> AppTest:
        monkeypatch.setenv("DISPATCH_API_URL", url or api.url)
        st.cache_data.clear()
        st.cache_resource.clear()
        return AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S)

    return make


def signed_in(at: AppTest, token: str = ADMIN, day: str | None = DAY) -> AppTest:
    """Run the board, type the token, (pick the day) and run again."""
    at.run()
    at.sidebar.text_input(key="token").input(token).run()
    if day is not None:
        at.sidebar.date_input(key="day").set_value(dt.date.fromisoformat(day)).run()
    return at


def texts(at: AppTest, kind: str) -> list[str]:
    """The bodies of every ``error``, ``info``, ``success`` or ``warning`` on the page."""
    return [str(e.value) for e in getattr(at, kind)]
