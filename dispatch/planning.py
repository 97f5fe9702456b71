"""Plan runs: stored data → solver Problem → checked Solution → an immutable plan version.

Runs are asynchronous: ``PlanRunner.submit`` stores a queued plan and returns at
once; a worker thread solves it, writing progress as it goes. A failed or
cancelled run never touches the published plan; publishing switches a pointer.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dispatch import feed
from dispatch.clock import SYSTEM_CLOCK, Clock
from dispatch.db import session_scope
from dispatch.errors import Conflict, Invalid, NotFound
from dispatch.export import plan_json
from dispatch.mapping import Day, load_day, solution_rows
from dispatch.tables import (
    JobRow,
    LiveScheduleRow,
    PlanRow,
    PublishedPlanRow,
    RouteRow,
    UnassignedRow,
    VisitRow,
)
from dispatch.timeutil import to_storage
from solver import Cancelled, Progress, Solution, SolveOptions, prepare, solve
from solver.plan import routes_from_json

log = logging.getLogger(__name__)


def store_solution(session: Session, plan: PlanRow, day: Day, solution: Solution, unplannable: list[str]) -> None:
    """Write a checked solution as the routes, visits and unassigned jobs of ``plan``."""
    assert plan.id is not None

    for row in solution_rows(plan.id, day.clock, solution):
        session.add(row)
    for u in solution.unassigned:
        session.add(UnassignedRow(plan_id=plan.id, job_id=u.job_id, code=u.code.value, reason=u.reason))
    for job_id in unplannable:
        session.add(
            UnassignedRow(
                plan_id=plan.id,
                job_id=job_id,
                code="pinned_unavailable",
                reason="Pinned to a technician who has no shift this day.",
            )
        )
    summary = plan_json(day, solution)
    plan.kpis = summary["kpis"]
    plan.objective = summary["objective_eur"]


class PlanRefused(RuntimeError):
    """The plan would break a promise (leave a booked job out); it is not stored."""


def broken_promises(day: Day, solution: Solution, booked_unplannable: list[str]) -> list[str]:
    """One sentence per booked job (priority tier 0) the solution leaves out,
    and per booked job that could not even be planned.
    Served booked jobs are inside their slot: the slot is their hard window."""
    booked = {j.id for j in day.problem.jobs if j.priority == 0}
    out = [f"booked job {u.job_id} would be left out ({u.reason})" for u in solution.unassigned if u.job_id in booked]
    out += [f"booked job {job_id} is pinned to a technician without a shift" for job_id in booked_unplannable]
    return out


@dataclass
class _Run:
    cancel: threading.Event


class PlanRunner:
    """Solves plan runs on worker threads, one database session per step.

    The worker pool starts with the first run and again after a ``shutdown``, so
    an app whose lifespan runs more than once (as test clients do) keeps planning."""

    def __init__(self, engine: Engine, tz: ZoneInfo, workers: int = 1, clock: Clock = SYSTEM_CLOCK) -> None:
        self.engine = engine
        self.tz = tz
        self.clock = clock
        self._workers = max(1, workers)
        # The compiled search gets ready in the background; plans made before it is
        # ready are searched with OR-Tools alone.
        prepare()
        self._pool: ThreadPoolExecutor | None = None
        self._runs: dict[int, _Run] = {}
        self._lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="plan-run")
            return self._pool

    def submit(self, day: dt.date, region: str, time_limit_s: float) -> PlanRow:
        """Store a queued plan run and start it; returns at once."""
        with session_scope(self.engine) as session:
            plan = PlanRow(
                date=day, region=region, status="queued", time_limit_s=time_limit_s, created_at=self.clock.now()
            )
            session.add(plan)
            session.flush()
            assert plan.id is not None
            plan_id = plan.id
        with self._lock:
            self._runs[plan_id] = _Run(threading.Event())
        self._executor().submit(self._run, plan_id)
        return plan

    def cancel(self, plan_id: int) -> None:
        """Ask a queued or running plan to stop; it ends as ``cancelled``.

        The request is stored, so the process solving it sees it even when
        another API process received the cancel.
        """
        with session_scope(self.engine) as session:
            plan = session.get(PlanRow, plan_id)
            if plan is None:
                raise NotFound(f"plan {plan_id} does not exist", "plan_id")
            if plan.status not in ("queued", "running"):
                raise Conflict(f"plan {plan_id} is {plan.status}, not running", "plan_id")
            plan.cancel_requested = True
            session.add(plan)
        with self._lock:
            run = self._runs.get(plan_id)
        if run is not None:
            run.cancel.set()

    def shutdown(self) -> None:
        """Cancel every run and wait for the workers."""
        with self._lock:
            for run in self._runs.values():
                run.cancel.set()
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=False)

    def _set(self, plan_id: int, **values: object) -> None:
        with session_scope(self.engine) as session:
            plan = session.get(PlanRow, plan_id)
            if plan is not None:
                for key, value in values.items():
                    setattr(plan, key, value)
                session.add(plan)

    def _report_progress(self, plan_id: int, fraction: float) -> bool:
        """Store progress; True when a cancel has been requested meanwhile."""
        with session_scope(self.engine) as session:
            plan = session.get(PlanRow, plan_id)
            if plan is None:
                return True
            plan.progress = fraction
            session.add(plan)
            return plan.cancel_requested

    def _run(self, plan_id: int) -> None:
        with self._lock:
            run = self._runs[plan_id]
        try:
            with session_scope(self.engine) as session:
                plan = session.get(PlanRow, plan_id)
                assert plan is not None
                if run.cancel.is_set() or plan.cancel_requested:
                    raise Cancelled("cancelled before it started")
                day, unplannable = load_day(session, plan.date, plan.region, self.tz)
                booked_unplannable = [i for i in unplannable if (row := session.get(JobRow, i)) and row.booked]
                working = session.get(LiveScheduleRow, (plan.date, plan.region))
                # Start from the booking working plan: every promise already has a place there.
                initial = routes_from_json(working.routes) if working else None
                limit = plan.time_limit_s
            self._set(plan_id, status="running", started_at=self.clock.now(), progress=0.0)
            last = [0.0]

            def on_progress(p: Progress) -> None:
                if time.monotonic() - last[0] >= 0.5:
                    last[0] = time.monotonic()
                    if self._report_progress(plan_id, round(min(p.fraction, 0.99), 3)):
                        run.cancel.set()

            options = SolveOptions(time_limit_s=limit, initial_routes=initial or None)
            solution = solve(day.problem, options, progress=on_progress, cancel=run.cancel)
            broken = broken_promises(day, solution, booked_unplannable)
            if broken:
                raise PlanRefused("refused: " + "; ".join(broken))
            with session_scope(self.engine) as session:
                plan = session.get(PlanRow, plan_id)
                assert plan is not None
                store_solution(session, plan, day, solution, unplannable)
                plan.status = "done"
                plan.progress = 1.0
                plan.finished_at = self.clock.now()
                session.add(plan)
        except Cancelled:
            self._set(plan_id, status="cancelled", finished_at=self.clock.now(), error="cancelled")
        except PlanRefused as exc:
            log.warning("plan %s refused: %s", plan_id, exc)
            self._set(plan_id, status="failed", finished_at=self.clock.now(), error=str(exc))
        except Exception as exc:  # a failed run is recorded, never raised into the pool
            log.exception("plan %s failed", plan_id)
            self._set(plan_id, status="failed", finished_at=self.clock.now(), error=f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._runs.pop(plan_id, None)


def get_plan(session: Session, plan_id: int) -> PlanRow:
    """One plan version (NotFound when unknown)."""
    plan = session.get(PlanRow, plan_id)
    if plan is None:
        raise NotFound(f"plan {plan_id} does not exist", "plan_id")
    return plan


def plan_contents(session: Session, plan_id: int) -> tuple[list[RouteRow], list[VisitRow], list[UnassignedRow]]:
    """Routes, visits (in route order) and unassigned jobs of a plan."""
    routes = session.exec(
        select(RouteRow).where(RouteRow.plan_id == plan_id).order_by(col(RouteRow.technician_id))
    ).all()
    visits = session.exec(
        select(VisitRow).where(VisitRow.plan_id == plan_id).order_by(col(VisitRow.technician_id), col(VisitRow.seq))
    ).all()
    unassigned = session.exec(
        select(UnassignedRow).where(UnassignedRow.plan_id == plan_id).order_by(col(UnassignedRow.job_id))
    ).all()
    return list(routes), list(visits), list(unassigned)


def published_plan_id(session: Session, day: dt.date, region: str) -> int | None:
    """The id of the published plan of a day and region, if any."""
    row = session.get(PublishedPlanRow, (day, region))
    return row.plan_id if row is not None else None


def publish(session: Session, plan_id: int, *, now: dt.datetime) -> PlanRow:
    """Make a finished plan the current one for its day and region, as of ``now``.

    The feed tells it: ``plan.published``, then ``job.assigned`` for each visit whose
    technician the previously published plan of the day did not send to that job,
    and ``job.window`` for each job whose customer window is set and differs from
    the one it had there."""
    plan = get_plan(session, plan_id)
    if plan.status != "done":
        raise Conflict(f"plan {plan_id} is {plan.status}; only a done plan can be published", "status")
    pointer = session.get(PublishedPlanRow, (plan.date, plan.region))
    previous = pointer.plan_id if pointer is not None else None
    if pointer is None:
        pointer = PublishedPlanRow(date=plan.date, region=plan.region, plan_id=plan_id, published_at=to_storage(now))
    else:
        pointer.plan_id = plan_id
        pointer.published_at = to_storage(now)
    session.add(pointer)
    session.flush()
    _tell_published(session, plan, previous, now)
    return plan


def _tell_published(session: Session, plan: PlanRow, previous: int | None, now: dt.datetime) -> None:
    """The feed events of publishing ``plan`` over the plan ``previous`` (None: the first of its day)."""
    assert plan.id is not None
    published = {"plan_id": plan.id, "date": plan.date, "region": plan.region}
    feed.emit(session, feed.PLAN_PUBLISHED, job_id=None, technician_id=None, data=published, now=now)
    visits = _visits(session, plan.id)
    before = _visits(session, previous) if previous is not None else []
    was_assigned = {(v.job_id, v.technician_id) for v in before}
    for v in visits:
        if (v.job_id, v.technician_id) not in was_assigned:
            assigned = {"technician_id": v.technician_id, "plan_id": plan.id}
            feed.emit(
                session, feed.JOB_ASSIGNED, job_id=v.job_id, technician_id=v.technician_id, data=assigned, now=now
            )
    old_windows = {v.job_id: (v.window_start, v.window_end) for v in before}
    told: set[str] = set()
    for v in visits:
        if v.window_start is None or v.window_end is None or v.job_id in told:
            continue
        told.add(v.job_id)
        if old_windows.get(v.job_id) != (v.window_start, v.window_end):
            job = session.get(JobRow, v.job_id)
            window = {"start": v.window_start, "end": v.window_end, "confirmed": bool(job and job.confirmed)}
            feed.emit(session, feed.JOB_WINDOW, job_id=v.job_id, technician_id=v.technician_id, data=window, now=now)


def _visits(session: Session, plan_id: int) -> list[VisitRow]:
    query = select(VisitRow).where(VisitRow.plan_id == plan_id)
    return list(session.exec(query.order_by(col(VisitRow.technician_id), col(VisitRow.seq))).all())


def list_plans(session: Session, day: dt.date, region: str | None = None) -> list[PlanRow]:
    """Plan versions of a day (and region), newest first."""
    query = select(PlanRow).where(PlanRow.date == day).order_by(col(PlanRow.id).desc())
    if region is not None:
        query = query.where(PlanRow.region == region)
    return list(session.exec(query).all())


def check_time_limit(time_limit_s: float, maximum: float) -> None:
    """Refuse time limits the service will not run."""
    if not 0 < time_limit_s <= maximum:
        raise Invalid(f"time_limit_s must be in (0, {maximum:g}]", "time_limit_s")
