"""Plan runs at the service level, on a SQLite file and on the real PostgreSQL:
status and progress, cancelling, failing, publishing and immutable versions."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dispatch import planning
from dispatch.catalog import cancel_job
from dispatch.clock import SYSTEM_CLOCK
from dispatch.db import make_engine, migrate, session_scope
from dispatch.errors import Conflict
from dispatch.planning import PlanRunner
from dispatch.seed import seed_sample_day
from dispatch.tables import PlanRow, RouteRow, UnassignedRow, VisitRow
from solver import Problem, Progress, Solution, SolveOptions
from tests.api.conftest import POSTGRES_URL, reset_postgres

SMALL_DAY = Path(__file__).resolve().parents[2] / "data" / "samples" / "small-day.json"
DAY = dt.date(2026, 12, 1)
REGION = "helsinki"
TZ = ZoneInfo("Europe/Helsinki")
ENDED = ("done", "failed", "cancelled")


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database holding the small sample day: a fresh SQLite file, or the real PostgreSQL."""
    if request.param == "postgres":
        reset_postgres()
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path / 'runs.db'}"
    eng = make_engine(url)
    migrate(eng)
    with session_scope(eng) as session:
        assert seed_sample_day(session, SMALL_DAY, TZ, REGION, day=DAY, now=SYSTEM_CLOCK.now())
    yield eng
    eng.dispose()


@pytest.fixture
def runner(engine: Engine) -> Iterator[PlanRunner]:
    run = PlanRunner(engine, TZ, workers=1)
    yield run
    run.shutdown()


def plan_row(engine: Engine, plan_id: int) -> PlanRow:
    with Session(engine) as session:
        return planning.get_plan(session, plan_id)


def wait_until(engine: Engine, plan_id: int, done: Any, timeout_s: float = 60) -> tuple[PlanRow, list[PlanRow]]:
    """Poll a plan until ``done(plan)``; returns it and every state seen."""
    seen: list[PlanRow] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        plan = plan_row(engine, plan_id)
        seen.append(plan)
        if done(plan):
            return plan, seen
        time.sleep(0.05)
    raise AssertionError(f"plan {plan_id} never got there; last {seen[-1].status} {seen[-1].progress}")


def run_to_end(runner: PlanRunner, time_limit_s: float = 1.0) -> PlanRow:
    submitted = runner.submit(DAY, REGION, time_limit_s)
    assert submitted.id is not None
    plan, _ = wait_until(runner.engine, submitted.id, lambda p: p.status in ENDED)
    return plan


def contents(engine: Engine, plan_id: int) -> dict[str, Any]:
    """Everything stored for a plan version, as plain values."""
    with Session(engine) as session:
        routes, visits, unassigned = planning.plan_contents(session, plan_id)
        plan = planning.get_plan(session, plan_id)
        return {
            "routes": [r.model_dump() for r in routes],
            "visits": [v.model_dump() for v in visits],
            "unassigned": [u.model_dump() for u in unassigned],
            "kpis": plan.kpis,
            "objective": plan.objective,
            "status": plan.status,
            "finished_at": plan.finished_at,
        }


def stored_rows(engine: Engine, plan_id: int) -> int:
    """How many route, visit and unassigned rows a plan has."""
    with Session(engine) as session:
        return sum(
            len(session.exec(select(table).where(col(table.plan_id) == plan_id)).all())
            for table in (RouteRow, VisitRow, UnassignedRow)
        )


def published(engine: Engine) -> int | None:
    with Session(engine) as session:
        return planning.published_plan_id(session, DAY, REGION)


def publish(engine: Engine, plan_id: int) -> None:
    with session_scope(engine) as session:
        planning.publish(session, plan_id, now=SYSTEM_CLOCK.now(), tz=TZ)


def test_a_run_is_queued_then_runs_with_rising_progress_and_ends_done(runner: PlanRunner, engine: Engine) -> None:
    submitted = runner.submit(DAY, REGION, 2.0)
    assert submitted.status == "queued" and submitted.progress == 0.0 and submitted.id is not None
    plan, seen = wait_until(engine, submitted.id, lambda p: p.status in ENDED)
    assert plan.status == "done", plan.error
    assert plan.progress == 1.0 and plan.error is None
    assert plan.started_at is not None and plan.finished_at is not None and plan.finished_at >= plan.started_at
    statuses = [p.status for p in seen]
    assert set(statuses) <= {"queued", "running", "done"}
    assert statuses == sorted(statuses, key=["queued", "running", "done"].index)
    assert len({p.progress for p in seen if p.status == "running" and 0 < p.progress < 1}) >= 2
    progress = [p.progress for p in seen]
    assert progress == sorted(progress)
    stored = contents(engine, submitted.id)
    served = {v["job_id"] for v in stored["visits"]} | {u["job_id"] for u in stored["unassigned"]}
    assert len(served) == 12 and stored["kpis"]["jobs_total"] == 12
    assert published(engine) is None  # a finished run is not published by itself


def test_cancelling_a_running_plan_ends_it_cancelled_and_keeps_the_published_plan(
    runner: PlanRunner, engine: Engine
) -> None:
    first = run_to_end(runner)
    assert first.id is not None and first.status == "done"
    publish(engine, first.id)
    before = contents(engine, first.id)

    long = runner.submit(DAY, REGION, 120.0)
    assert long.id is not None
    wait_until(engine, long.id, lambda p: p.status == "running" and p.progress > 0)
    asked = time.monotonic()
    runner.cancel(long.id)
    plan, _ = wait_until(engine, long.id, lambda p: p.status in ENDED, timeout_s=30)
    assert plan.status == "cancelled" and plan.error == "cancelled"
    assert time.monotonic() - asked < 10  # stops soon, not at the 120 s limit
    assert plan.finished_at is not None
    assert stored_rows(engine, long.id) == 0
    assert published(engine) == first.id
    assert contents(engine, first.id) == before
    with pytest.raises(Conflict):
        runner.cancel(long.id)  # it is over
    with pytest.raises(Conflict), Session(engine) as session:
        planning.publish(session, long.id, now=SYSTEM_CLOCK.now(), tz=TZ)


def test_a_cancel_received_by_another_api_process_stops_the_run(runner: PlanRunner, engine: Engine) -> None:
    """Two runners on one database stand for two API worker processes."""
    other = PlanRunner(engine, TZ)
    long = runner.submit(DAY, REGION, 120.0)
    assert long.id is not None
    wait_until(engine, long.id, lambda p: p.status == "running" and p.progress > 0)
    other.cancel(long.id)
    plan, _ = wait_until(engine, long.id, lambda p: p.status in ENDED, timeout_s=30)
    assert plan.status == "cancelled"
    assert stored_rows(engine, long.id) == 0
    other.shutdown()


def test_a_queued_plan_can_be_cancelled_before_it_starts(runner: PlanRunner, engine: Engine) -> None:
    busy = runner.submit(DAY, REGION, 120.0)  # one worker: the next run waits behind this one
    waiting = runner.submit(DAY, REGION, 1.0)
    assert busy.id is not None and waiting.id is not None
    wait_until(engine, busy.id, lambda p: p.status == "running")
    assert plan_row(engine, waiting.id).status == "queued"
    runner.cancel(waiting.id)
    runner.cancel(busy.id)
    for plan_id in (busy.id, waiting.id):
        plan, _ = wait_until(engine, plan_id, lambda p: p.status in ENDED, timeout_s=30)
        assert plan.status == "cancelled"
        assert stored_rows(engine, plan_id) == 0
    assert plan_row(engine, waiting.id).started_at is None
    assert published(engine) is None


def test_a_solver_crash_ends_the_run_failed_with_the_error_and_keeps_the_published_plan(
    runner: PlanRunner, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run_to_end(runner)
    assert first.id is not None
    publish(engine, first.id)
    before = contents(engine, first.id)

    def crashing_solve(
        problem: Problem,
        options: SolveOptions,
        progress: Any = None,
        cancel: threading.Event | None = None,
        first_answer: Any = None,
    ) -> Solution:
        progress(Progress(0.3, "search", 1, None))
        raise RuntimeError("the solver crashed")

    monkeypatch.setattr(planning, "solve", crashing_solve)
    plan = run_to_end(runner)
    assert plan.id is not None
    assert plan.status == "failed"
    assert plan.error == "RuntimeError: the solver crashed"
    assert plan.finished_at is not None and plan.progress < 1
    assert stored_rows(engine, plan.id) == 0
    assert published(engine) == first.id
    assert contents(engine, first.id) == before


def test_a_failure_while_storing_the_plan_writes_none_of_it(
    runner: PlanRunner, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run_to_end(runner)
    assert first.id is not None
    publish(engine, first.id)
    before = contents(engine, first.id)

    def broken_summary(*_args: object) -> dict[str, Any]:  # runs after routes and visits were added
        raise OSError("disk full")

    monkeypatch.setattr(planning, "plan_json", broken_summary)
    plan = run_to_end(runner)
    assert plan.id is not None
    assert plan.status == "failed" and plan.error == "OSError: disk full"
    assert stored_rows(engine, plan.id) == 0
    assert published(engine) == first.id
    assert contents(engine, first.id) == before


def test_publishing_switches_the_current_version_and_back(runner: PlanRunner, engine: Engine) -> None:
    a, b = run_to_end(runner), run_to_end(runner)
    assert a.id is not None and b.id is not None and a.id != b.id
    assert published(engine) is None
    for current in (a.id, b.id, a.id):
        publish(engine, current)
        assert published(engine) == current
        with Session(engine) as session:
            versions = planning.list_plans(session, DAY, REGION)
        assert [p.id for p in versions] == [b.id, a.id]  # newest first; both kept


def test_a_stored_version_never_changes_when_later_runs_and_publishing_happen(
    runner: PlanRunner, engine: Engine
) -> None:
    first = run_to_end(runner)
    assert first.id is not None
    publish(engine, first.id)
    before = contents(engine, first.id)
    planned = {v["job_id"] for v in before["visits"]}
    assert planned

    gone = sorted(planned)[0]
    with session_scope(engine) as session:
        cancel_job(session, gone, now=SYSTEM_CLOCK.now())  # the day changes: a customer cancels
    second = run_to_end(runner)
    assert second.id is not None and second.id != first.id and second.status == "done"
    publish(engine, second.id)

    after = contents(engine, first.id)
    assert after == before
    assert gone in {v["job_id"] for v in after["visits"]}
    assert gone not in {v["job_id"] for v in contents(engine, second.id)["visits"]}
    assert published(engine) == second.id


def test_each_run_searches_from_its_own_seed_so_running_a_plan_again_explores_other_plans(
    runner: PlanRunner, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds: list[int] = []
    real_solve = planning.solve

    def watched_solve(problem: Problem, options: SolveOptions, **kwargs: Any) -> Solution:
        seeds.append(options.seed)
        return real_solve(problem, options, **kwargs)

    monkeypatch.setattr(planning, "solve", watched_solve)
    first, second = run_to_end(runner), run_to_end(runner)
    assert first.status == second.status == "done"
    assert first.id is not None and second.id is not None
    assert seeds == [planning.run_seed(first.id), planning.run_seed(second.id)]
    assert seeds[0] != seeds[1]


RUN_AT_START = """
import datetime as dt, logging, sys, time
from zoneinfo import ZoneInfo
from sqlmodel import Session
from dispatch import planning
from dispatch.clock import SYSTEM_CLOCK
from dispatch.db import make_engine, migrate, session_scope
from dispatch.planning import PlanRunner
from dispatch.seed import seed_sample_day

logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s: %(message)s")
url, day_file = sys.argv[1], sys.argv[2]
tz = ZoneInfo("Europe/Helsinki")
engine = make_engine(url)
migrate(engine)
with session_scope(engine) as session:
    seed_sample_day(session, __import__("pathlib").Path(day_file), tz, "helsinki",
                    day=dt.date(2026, 12, 1), now=SYSTEM_CLOCK.now())
runner = PlanRunner(engine, tz, workers=1)
plan_id = runner.submit(dt.date(2026, 12, 1), "helsinki", 1.0).id
runner.start()
for _ in range(1200):
    with Session(engine) as session:
        status = planning.get_plan(session, plan_id).status
    if status in ("done", "failed", "cancelled"):
        break
    time.sleep(0.05)
print("STATUS", status)
runner.shutdown()
"""


def test_a_service_solver_thread_takes_a_run_queued_at_start_only_once_the_compiled_search_is_ready(
    tmp_path: Path,
) -> None:
    """A fresh process (the compiled search not yet loaded) with a run already queued
    when its solver thread starts: the run is searched by the compiled search, not by
    OR-Tools alone (before, the thread took it at once, and a short plan on a loaded
    machine could leave most of the day out)."""
    url = f"sqlite:///{tmp_path / 'start.db'}"
    done = subprocess.run(
        [sys.executable, "-c", RUN_AT_START, url, str(SMALL_DAY)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "STATUS done" in done.stdout, done.stdout[-3000:]
    assert "the compiled search plans" in done.stdout, done.stdout[-3000:]
    assert "OR-Tools plans" not in done.stdout, done.stdout[-3000:]
