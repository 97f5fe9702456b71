"""Liveness of plan runs on the task engine: heartbeats, cancel requests, dead workers.

A worker heartbeats each run it solves every ``HEARTBEAT_S`` (a quarter of the lease when
that is shorter: ``PlanRunner.beat_s``) (``beat``), and reads
back in the same step which of them were cancelled or handed to another attempt.
A running run whose heartbeat is older than ``LEASE_S`` lost its worker (killed,
out of memory, machine gone): any process with a watch (every worker and every API
process) takes it (``take_stale``, one conditional update, so only one process
does) and queues it again as a new attempt, with a new task token so the old
worker's task, should it wake, writes nothing, or ends it ``failed`` with the
reason after ``MAX_ATTEMPTS``. The published plan is never touched by either.

Heartbeats are stamped and judged by the database's clock (``db_now``), not the
business clock (``DISPATCH_NOW``) nor the clock of each worker's machine: they
measure how long a worker has been silent, and machines' clocks may disagree.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, text
from sqlmodel import Session, col, select, update

from dispatch.tables import PlanRow

HEARTBEAT_S = 2.0
LEASE_S = 20.0
MAX_ATTEMPTS = 2


def db_now(session: Session) -> dt.datetime:
    """The database server's clock, in UTC (PostgreSQL's, or the SQLite file's host's)."""
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        raw = session.exec(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).one()[0]  # type: ignore[call-overload]
        return dt.datetime.fromisoformat(raw).replace(tzinfo=dt.UTC)
    value = session.exec(text("SELECT clock_timestamp()")).one()[0]  # type: ignore[call-overload]
    assert isinstance(value, dt.datetime)
    return value.astimezone(dt.UTC)


def new_token() -> str:
    """A task token: what ties one queued task to one attempt of a run."""
    return secrets.token_hex(8)


@dataclass(frozen=True)
class Beat:
    """What a heartbeat read back: the runs asked to stop, and the runs no longer this
    worker's (another attempt took them over, or the row is gone)."""

    cancelled: frozenset[int]
    lost: frozenset[int]


def held(plan_id: int, token: str, status: str) -> ColumnElement[bool]:
    """The where-clause of a run's next step: the row of ``plan_id`` in ``status``, still
    the attempt of ``token``, with no cancel requested. An update on it changes one row
    or none, so of two processes racing for a run (or a cancel racing its end) one wins."""
    return and_(
        col(PlanRow.id) == plan_id,
        col(PlanRow.task_token) == token,
        col(PlanRow.status) == status,
        col(PlanRow.cancel_requested).is_(False),
    )


def claim(session: Session, plan_id: int, token: str, worker: str, now: dt.datetime) -> bool:
    """Mark a queued run as running on ``worker`` for the attempt of ``token``; False when
    the task is stale (another token), the run is no longer queued or was cancelled."""
    result = session.exec(
        update(PlanRow).where(held(plan_id, token, "queued")).values(status="running", worker=worker, heartbeat_at=now)
    )
    return bool(result.rowcount == 1)


def beat(session: Session, runs: dict[int, str], now: dt.datetime | None) -> Beat:
    """Read which of the runs this worker solves (plan id → task token) were cancelled and
    which are no longer this attempt's; with ``now``, heartbeat the others at ``now``."""
    if not runs:
        return Beat(frozenset(), frozenset())
    rows = session.exec(
        select(PlanRow.id, PlanRow.task_token, PlanRow.cancel_requested).where(col(PlanRow.id).in_(list(runs)))
    ).all()
    seen = {plan_id: (token, cancelled) for plan_id, token, cancelled in rows}
    mine = [i for i, token in runs.items() if i in seen and seen[i][0] == token]
    if mine and now is not None:
        session.exec(update(PlanRow).where(col(PlanRow.id).in_(mine)).values(heartbeat_at=now))
    cancelled = frozenset(i for i in mine if seen[i][1])
    return Beat(cancelled, frozenset(set(runs) - set(mine)))


@dataclass(frozen=True)
class Taken:
    """A run taken from a dead worker: queued again under ``token``, or ended ``failed``
    (or ``cancelled``, when a cancel was asked for it)."""

    plan_id: int
    token: str | None
    failed: bool
    cancelled: bool = False


def take_stale(session: Session, now: dt.datetime, finished_at: dt.datetime, lease_s: float = LEASE_S) -> list[Taken]:
    """Take every running run whose heartbeat is older than ``lease_s`` at ``now`` (the
    database's clock, ``db_now``): queue it again as its next attempt (a new token; the caller enqueues it after
    the commit and clears any answer it stored) or, after ``MAX_ATTEMPTS``, end it
    ``failed`` at ``finished_at`` (business clock) saying why. A run whose cancel was
    asked for (say while its worker was already dead) ends ``cancelled`` instead: before,
    it was queued again and the cancel was lost. Each run is taken by one process only."""
    cutoff = now - dt.timedelta(seconds=lease_s)
    stale = [
        (row.id, row.task_token, row.attempt, row.worker, row.cancel_requested)
        for row in session.exec(
            select(PlanRow).where(col(PlanRow.status) == "running", col(PlanRow.heartbeat_at) < cutoff)
        ).all()
    ]
    out: list[Taken] = []
    for plan_id, token, attempt, worker, cancel_requested in stale:
        assert plan_id is not None
        guard = (
            col(PlanRow.id) == plan_id,
            col(PlanRow.status) == "running",
            col(PlanRow.task_token) == token,
            col(PlanRow.heartbeat_at) < cutoff,
        )
        silent = f"its worker {worker or '?'} stopped (no heartbeat for {lease_s:g} s)"
        values: dict[str, object]
        if cancel_requested:
            values = dict(status="cancelled", phase=None, error="cancelled", finished_at=finished_at)
            taken = Taken(plan_id, None, failed=False, cancelled=True)
        elif attempt < MAX_ATTEMPTS:
            fresh = new_token()
            values = dict(
                status="queued",
                attempt=attempt + 1,
                task_token=fresh,
                worker=None,
                heartbeat_at=None,
                progress=0.0,
                phase=None,
                first_answer_s=None,
                error=f"attempt {attempt} failed: {silent}; tried again",
            )
            taken = Taken(plan_id, fresh, failed=False)
        else:
            values = dict(
                status="failed",
                phase=None,
                error=f"failed: {silent} on attempt {attempt} of {MAX_ATTEMPTS}",
                finished_at=finished_at,
            )
            taken = Taken(plan_id, None, failed=True)
        result = session.exec(update(PlanRow).where(*guard).values(**values))
        if result.rowcount == 1:
            out.append(taken)
    return out
