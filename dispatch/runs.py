"""The state of a plan run as any process sees it: the ``plans`` row, read cheaply.

Whichever process or worker solves a run, it writes its status, phase and progress
to the run's row; this module reads only those columns, so that a follower (the
server-sent events of ``GET /v1/plans/{id}/events``) can ask several times a second
without loading the plan's routes, KPIs or changes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlmodel import col

from dispatch.tables import PlanRow

TERMINAL = frozenset({"done", "failed", "cancelled"})
"""The statuses a run never leaves."""


@dataclass(frozen=True)
class RunState:
    """Where a plan run stands: ``status`` (queued, running, done, failed, cancelled),
    ``phase`` while running (solving, improving, catching_up), ``progress`` 0-1,
    ``first_answer_s`` once a first answer is readable, ``error`` when it failed."""

    id: int
    status: str
    phase: str | None
    progress: float
    first_answer_s: float | None
    error: str | None
    # Which attempt solves it: a run whose worker died starts again as attempt 2 (its
    # progress starts again from 0 too).
    attempt: int = 1

    @property
    def finished(self) -> bool:
        """True once the run is done, failed or cancelled: it changes no more."""
        return self.status in TERMINAL

    def as_json(self) -> dict[str, Any]:
        """The state as a JSON object with the field names of ``GET /v1/plans/{id}``."""
        return asdict(self)


_COLUMNS = (
    col(PlanRow.id),
    col(PlanRow.status),
    col(PlanRow.phase),
    col(PlanRow.progress),
    col(PlanRow.first_answer_s),
    col(PlanRow.error),
    col(PlanRow.attempt),
)


def plan_state(connection: Connection, plan_id: int) -> RunState | None:
    """The run state of plan ``plan_id`` as committed now, or None when there is no such
    plan. One primary-key lookup of seven columns; it starts no write and leaves the
    connection's transaction as it found it."""
    row = connection.execute(select(*_COLUMNS).where(col(PlanRow.id) == plan_id)).first()
    if row is None:
        return None
    return RunState(
        id=int(row.id),
        status=str(row.status),
        phase=row.phase,
        progress=float(row.progress),
        first_answer_s=None if row.first_answer_s is None else float(row.first_answer_s),
        error=row.error,
        attempt=int(row.attempt),
    )
