"""Plan runs on the task engine with real solver worker processes and real brokers:
a worker killed with SIGKILL mid-solve never leaves its run ``running`` (it is solved
again by another worker, or fails with the reason) and the published plan stays as
it was; a cancel sent to another API process than the one that enqueued stops the
run; the embedded default (SQLite, no broker configured) plans through a worker."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dispatch import planning
from dispatch.clock import SYSTEM_CLOCK
from dispatch.db import make_engine, migrate, session_scope
from dispatch.planning import PlanRunner
from dispatch.seed import next_day_with_jobs, seed_sample_day
from dispatch.tables import PlanRow
from tests.api.conftest import ADMIN, POSTGRES_URL, auth, reset_postgres
from tests.api.test_e2e_uvicorn import start_server, stop_server
from tests.conftest import served_env
from tests.dispatch.test_plan_runs import DAY, ENDED, REGION, SMALL_DAY, TZ, contents, publish, run_to_end

ROOT = Path(__file__).resolve().parents[2]
# A Redis database of its own per pytest-xdist worker (7, 8, ...): each empties it.
REDIS = f"redis://127.0.0.1:6379/{7 + int(os.environ.get('PYTEST_XDIST_WORKER', 'gw0')[2:] or 0)}"
LEASE_S = 3.0  # short, so that a test sees a lost worker's run taken over soon


def ensure_redis() -> None:
    """Start the machine's Redis if it is down, and empty the database these tests use."""
    import redis

    client = redis.Redis.from_url(REDIS)
    try:
        client.ping()
    except redis.ConnectionError:
        subprocess.run(
            ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379", "--save", ""], check=True
        )
        for _ in range(50):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
    client.flushdb()
    client.close()


@dataclass
class Worker:
    """A running ``python -m dispatch.worker`` and its log."""

    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_worker(tmp_path: Path, env: dict[str, str]) -> Worker:
    """A solver worker process with ``env`` added to a served environment."""
    full = served_env()
    full.update(PYTHONUNBUFFERED="1", PLAN_LEASE_S=str(LEASE_S), **env)
    log = tmp_path / f"worker-{len(list(tmp_path.glob('worker-*.log')))}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "dispatch.worker"], cwd=ROOT, env=full, stdout=sink, stderr=subprocess.STDOUT
        )
    return Worker(process, log)


def stop_worker(worker: Worker) -> None:
    if worker.process.poll() is None:
        worker.process.send_signal(signal.SIGTERM)
        try:
            worker.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
    print(worker.output()[-3000:])  # shown by pytest when the test failed


def plan_row(engine: Engine, plan_id: int) -> PlanRow:
    with Session(engine) as session:
        return planning.get_plan(session, plan_id)


def wait_for(engine: Engine, plan_id: int, done: Callable[[PlanRow], bool], timeout_s: float = 120) -> PlanRow:
    deadline = time.monotonic() + timeout_s
    plan = plan_row(engine, plan_id)
    while time.monotonic() < deadline:
        plan = plan_row(engine, plan_id)
        if done(plan):
            return plan
        time.sleep(0.1)
    raise AssertionError(f"plan {plan_id} never got there: {plan.status} {plan.worker} {plan.error}")


@dataclass
class Setup:
    engine: Engine
    database_url: str
    broker_url: str
    published_id: int
    published: dict[str, Any]


@pytest.fixture(params=["sqlite+redis", "postgres"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    """The small sample day with a published plan, on a SQLite file with Redis as the
    broker, or on PostgreSQL queueing in its own tables (no broker configured)."""
    if request.param == "postgres":
        reset_postgres()
        url, broker = POSTGRES_URL, ""
    else:
        ensure_redis()
        url, broker = f"sqlite:///{tmp_path / 'workers.db'}", REDIS
    engine = make_engine(url)
    migrate(engine)
    with session_scope(engine) as session:
        assert seed_sample_day(session, SMALL_DAY, TZ, REGION, day=DAY, now=SYSTEM_CLOCK.now())
    first = PlanRunner(engine, TZ, workers=1, broker_url="memory://")
    try:
        done = run_to_end(first)
    finally:
        first.shutdown()
    assert done.status == "done" and done.id is not None
    publish(engine, done.id)
    yield Setup(engine, url, broker, done.id, contents(engine, done.id))
    engine.dispose()


def the_published_plan_is_untouched(setup: Setup) -> None:
    with Session(setup.engine) as session:
        assert planning.published_plan_id(session, DAY, REGION) == setup.published_id
    assert contents(setup.engine, setup.published_id) == setup.published


def running_on(worker: Worker, attempt: int) -> Callable[[PlanRow], bool]:
    mark = f":{worker.process.pid}"
    return lambda p: p.status == "running" and p.attempt == attempt and (p.worker or "").endswith(mark)


@dataclass
class Fleet:
    """An enqueue-only runner (an API process's) and the solver workers started beside it."""

    setup: Setup
    api: PlanRunner
    tmp_path: Path
    workers: list[Worker]

    def start_worker(self) -> Worker:
        env = {"DATABASE_URL": self.setup.database_url, "BROKER_URL": self.setup.broker_url}
        self.workers.append(start_worker(self.tmp_path, env))
        return self.workers[-1]

    def submit(self, time_limit_s: float) -> int:
        submitted = self.api.submit(DAY, REGION, time_limit_s)
        assert submitted.id is not None
        return submitted.id


@pytest.fixture
def fleet(setup: Setup, tmp_path: Path) -> Iterator[Fleet]:
    api = PlanRunner(setup.engine, TZ, workers=0, broker_url=setup.broker_url or None, lease_s=LEASE_S)
    running = Fleet(setup, api, tmp_path, [])
    try:
        yield running
    finally:
        api.shutdown()
        for worker in running.workers:
            stop_worker(worker)


def test_a_run_whose_worker_is_killed_mid_solve_is_solved_by_another_worker_and_the_published_plan_is_untouched(
    fleet: Fleet,
) -> None:
    first = fleet.start_worker()
    plan_id = fleet.submit(6.0)
    wait_for(fleet.setup.engine, plan_id, running_on(first, 1))
    first.process.kill()  # SIGKILL: no chance to say goodbye
    first.process.wait()
    second = fleet.start_worker()
    ended = wait_for(fleet.setup.engine, plan_id, lambda p: p.status in ENDED)
    assert ended.status == "done", ended.error
    assert ended.attempt == 2
    assert (ended.worker or "").endswith(f":{second.process.pid}")
    assert contents(fleet.setup.engine, plan_id)["visits"], "the second attempt stored its routes"
    the_published_plan_is_untouched(fleet.setup)


def test_a_run_whose_workers_are_killed_on_every_attempt_ends_failed_with_the_reason_and_nothing_stored(
    fleet: Fleet,
) -> None:
    plan_id = fleet.submit(60.0)
    for attempt in (1, 2):
        worker = fleet.start_worker()
        wait_for(fleet.setup.engine, plan_id, running_on(worker, attempt))
        worker.process.kill()
        worker.process.wait()
    # No worker is left: the API process's own watch ends the run.
    ended = wait_for(fleet.setup.engine, plan_id, lambda p: p.status in ENDED)
    assert ended.status == "failed"
    assert ended.error is not None and "no heartbeat" in ended.error and "attempt 2 of 2" in ended.error
    stored = contents(fleet.setup.engine, plan_id)
    assert stored["routes"] == stored["visits"] == stored["unassigned"] == []
    the_published_plan_is_untouched(fleet.setup)


def test_a_run_cancelled_after_its_worker_died_ends_cancelled_when_its_lease_is_taken(fleet: Fleet) -> None:
    worker = fleet.start_worker()
    plan_id = fleet.submit(60.0)
    wait_for(fleet.setup.engine, plan_id, running_on(worker, 1))
    worker.process.kill()
    worker.process.wait()
    fleet.api.cancel(plan_id)  # still "running": the dead worker cannot see it
    ended = wait_for(fleet.setup.engine, plan_id, lambda p: p.status in ENDED)
    assert (ended.status, ended.attempt, ended.error) == ("cancelled", 1, "cancelled")
    assert contents(fleet.setup.engine, plan_id)["visits"] == []


def test_a_cancel_sent_to_another_api_process_than_the_one_that_enqueued_stops_the_run(tmp_path: Path) -> None:
    reset_postgres()
    only_enqueue = {"SOLVER_WORKERS": "0"}
    first = start_server(tmp_path, POSTGRES_URL, seed=True, extra_env=only_enqueue)
    second = start_server(tmp_path, POSTGRES_URL, extra_env=only_enqueue)
    worker = start_worker(tmp_path, {"DATABASE_URL": POSTGRES_URL})
    try:
        engine = make_engine(POSTGRES_URL)
        with Session(engine) as session:
            sample = next_day_with_jobs(session, served_day(), "helsinki")
        assert sample is not None
        made = httpx.post(
            f"{first.base_url}/v1/plans",
            json={"date": sample.isoformat(), "time_limit_s": 120},
            headers=auth(ADMIN),
        )
        assert made.status_code == 202, made.text
        plan_id = made.json()["id"]
        running = wait_for(engine, plan_id, lambda p: p.status == "running" and p.progress > 0)
        assert (running.worker or "").endswith(f":{worker.process.pid}")
        asked = time.monotonic()
        cancel = httpx.post(f"{second.base_url}/v1/plans/{plan_id}/cancel", headers=auth(ADMIN))
        assert cancel.status_code == 202, cancel.text
        ended = wait_for(engine, plan_id, lambda p: p.status in ENDED)
        assert ended.status == "cancelled"
        # It stopped on the request, not at its two-minute time limit.
        assert time.monotonic() - asked < 30
        seen = httpx.get(f"{second.base_url}/v1/plans/{plan_id}", headers=auth(ADMIN)).json()
        assert seen["status"] == "cancelled"
        engine.dispose()
    finally:
        stop_worker(worker)
        stop_server(first)
        stop_server(second)


def served_day() -> dt.date:
    """Today in Helsinki as the served processes see it (``DISPATCH_NOW``)."""
    return dt.datetime.fromisoformat(served_env()["DISPATCH_NOW"]).astimezone(TZ).date()


def test_the_embedded_default_plans_through_a_worker_process_with_no_broker_configured(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    server = start_server(tmp_path, url, seed=True, extra_env={"SOLVER_WORKERS": "0"})
    worker = start_worker(tmp_path, {"DATABASE_URL": url})
    try:
        engine = make_engine(url)
        with Session(engine) as session:
            sample = next_day_with_jobs(session, served_day(), "helsinki")
        assert sample is not None
        made = httpx.post(
            f"{server.base_url}/v1/plans", json={"date": sample.isoformat(), "time_limit_s": 2}, headers=auth(ADMIN)
        )
        assert made.status_code == 202, made.text
        ended = wait_for(engine, made.json()["id"], lambda p: p.status in ENDED)
        assert ended.status == "done", ended.error
        assert (ended.worker or "").endswith(f":{worker.process.pid}")
        body = httpx.get(f"{server.base_url}/v1/plans/{ended.id}", headers=auth(ADMIN)).json()
        assert body["routes"], "the worker's plan is readable through the API"
        assert (tmp_path / "embedded-queue.db").exists(), "the queue sits beside the database"
        engine.dispose()
    finally:
        stop_worker(worker)
        stop_server(server)


def test_a_worker_stopped_with_sigterm_hands_its_run_back_to_the_queue_for_the_next_worker(fleet: Fleet) -> None:
    first = fleet.start_worker()
    plan_id = fleet.submit(120.0)
    wait_for(fleet.setup.engine, plan_id, running_on(first, 1))
    first.process.send_signal(signal.SIGTERM)
    assert first.process.wait(timeout=60) == 0
    back = plan_row(fleet.setup.engine, plan_id)
    assert (back.status, back.attempt, back.worker) == ("queued", 1, None)
    assert contents(fleet.setup.engine, plan_id)["visits"] == []
    second = fleet.start_worker()
    wait_for(fleet.setup.engine, plan_id, running_on(second, 1))
    fleet.api.cancel(plan_id)
    assert wait_for(fleet.setup.engine, plan_id, lambda p: p.status in ENDED).status == "cancelled"
    the_published_plan_is_untouched(fleet.setup)
