"""The event feed: what changed, for whom (docs/feed.md).

A change that clients are told about calls ``emit`` in its own transaction, as
its last write: the feed row and one outbox delivery per matching webhook
subscription commit (or roll back) with the change itself. Readers page with
``events_after`` by id.

Why a reader never skips an event: ids are handed out in commit order. On
SQLite one writer holds the database's write lock from its first write to its
commit, so a later id always commits later. On PostgreSQL ids come from a
sequence, and a transaction that took id 7 may commit after one that took id 8;
a reader who saw 8 would then pass 7 for ever. ``emit`` therefore takes a
transaction-scoped advisory lock (``FEED_LOCK``) before it takes an id: feed
writers queue there from their first ``emit`` to their commit, so id 8 is only
taken once the transaction with id 7 has committed (or rolled back, leaving a
gap that nobody will fill). The price is that feed writers commit one at a
time, which is why ``emit`` comes last, just before the commit: the lock is
held for microseconds, and nothing that waits for another lock happens while it
is held (no deadlock against the row locks of booking or field events).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, TextClause, cast, func, insert, literal, or_, text, union_all
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from dispatch import jobdays
from dispatch.auth import Principal
from dispatch.errors import Invalid
from dispatch.tables import BookingRow, DeliveryRow, FeedEventRow, JobRow, PublishedPlanRow, VisitRow, WebhookRow
from dispatch.timeutil import UTC, stored_utc, to_storage

JOB_STATUS = "job.status"
JOB_WINDOW = "job.window"
JOB_ASSIGNED = "job.assigned"
JOB_UNASSIGNED = "job.unassigned"
JOB_ETA = "job.eta"
PLAN_PUBLISHED = "plan.published"
DISRUPTION = "disruption"
EVENT_TYPES = (JOB_STATUS, JOB_WINDOW, JOB_ASSIGNED, JOB_UNASSIGNED, JOB_ETA, PLAN_PUBLISHED, DISRUPTION)
# Told once per job, naming one technician (a crew job's first): an installer sees them
# for each crew job of theirs as well. ``job.assigned`` and ``job.unassigned`` are told
# to each technician.
PER_JOB = (JOB_STATUS, JOB_WINDOW, JOB_ETA)
"""Every type of feed event (a webhook subscribes to a subset)."""

PENDING = "pending"
"""The state of a delivery still to send (``dispatch.webhooks``)."""

FEED_LOCK = 0x0FEED0017
"""The PostgreSQL advisory lock key that serializes feed writers (see the module docstring)."""

MAX_LIMIT = 1000
_CURSOR = re.compile(r"^[0-9]{1,18}$")


@dataclass(frozen=True)
class NewEvent:
    """One feed event to record (``emit_all``): its type, whom it concerns, what it says."""

    type: str
    job_id: str | None
    technician_id: str | None
    data: Mapping[str, Any]


def emit(
    session: Session,
    type: str,
    *,
    job_id: str | None,
    technician_id: str | None,
    data: Mapping[str, Any],
    now: dt.datetime,
) -> FeedEventRow:
    """Add one feed event recorded ``now``, and a pending delivery of it to every webhook
    subscribed to ``type``, to the session's transaction (flushed, not committed).

    Call it as the last write before the commit: on PostgreSQL it holds the feed's
    lock until then. Instants in ``data`` (nested ones too) are stored as ISO 8601 in UTC."""
    return emit_all(session, [NewEvent(type, job_id, technician_id, data)], now=now)[0]


def emit_all(session: Session, events: Sequence[NewEvent], *, now: dt.datetime) -> list[FeedEventRow]:
    """``emit`` for several events at once, in this order (ids ascending): on PostgreSQL
    in one statement whatever their number (the feed's lock, the events, their
    deliveries), elsewhere in three. For writers that hold another lock meanwhile (a
    booking holds its day's: each round trip under it counts)."""
    for event in events:
        if event.type not in EVENT_TYPES:
            raise ValueError(f"unknown feed event type {event.type!r}")
    if not events:
        return []
    rows = [
        FeedEventRow(
            at=to_storage(now),
            type=event.type,
            job_id=event.job_id,
            technician_id=event.technician_id,
            data={key: json_value(value) for key, value in event.data.items()},
        )
        for event in events
    ]
    if session.get_bind().dialect.name == "postgresql":
        session.flush()  # the changes first: nothing may wait for a row lock once the feed's is held
        ids = session.execute(_emit_statement(len(rows)), _emit_parameters(rows)).scalars().all()
        for row, event_id in zip(rows, ids, strict=True):
            row.id = event_id
        return rows
    hold_lock(session)
    session.add_all(rows)
    session.flush()
    # One pending delivery per webhook subscribed to the type, in one statement. Types
    # are validated names without quotes or wildcards, stored as a JSON list of strings.
    table = DeliveryRow.__table__.c  # type: ignore[attr-defined]
    subscribed = [
        core_select(
            col(WebhookRow.id),
            literal(row.id, table.event_id.type),
            literal(PENDING, table.state.type),
            literal(0, table.attempts.type),
            literal(row.at, table.next_attempt_at.type),
            literal(row.at, table.created_at.type),
        ).where(cast(col(WebhookRow.types), String).like(f'%"{row.type}"%'))
        for row in rows
    ]
    columns = ["webhook_id", "event_id", "state", "attempts", "next_attempt_at", "created_at"]
    source = subscribed[0] if len(subscribed) == 1 else union_all(*subscribed)
    session.execute(insert(DeliveryRow).from_select(columns, source))
    return rows


@functools.cache
def _emit_statement(count: int) -> TextClause:
    """PostgreSQL: the feed's lock, ``count`` events and their deliveries in one statement.
    The events are selected from the lock's row, so no id is taken before the lock is
    held (a volatile CTE is evaluated once, before the rows that join it); they get
    their ids in the order given; the ids come back in that order."""
    values = ", ".join(f"(:at{k}, :type{k}, :job{k}, :tech{k}, CAST(:data{k} AS JSON), {k})" for k in range(count))
    return text(
        "WITH locked AS (SELECT pg_advisory_xact_lock(:key) AS held), "
        "added AS (INSERT INTO feed_events (at, type, job_id, technician_id, data) "
        "SELECT e.at, e.type, e.job_id, e.technician_id, e.data "
        f"FROM locked, (VALUES {values}) AS e(at, type, job_id, technician_id, data, ord) ORDER BY e.ord "
        "RETURNING id, type, at), "
        "sent AS (INSERT INTO webhook_deliveries (webhook_id, event_id, state, attempts, next_attempt_at, created_at) "
        "SELECT w.id, added.id, :pending, 0, added.at, added.at FROM added JOIN webhooks AS w "
        "ON CAST(w.types AS TEXT) LIKE '%\"' || added.type || '\"%') "
        "SELECT id FROM added ORDER BY id"
    )


def _emit_parameters(rows: Sequence[FeedEventRow]) -> dict[str, Any]:
    out: dict[str, Any] = {"key": FEED_LOCK, "pending": PENDING}
    for k, row in enumerate(rows):
        out |= {
            f"at{k}": row.at,
            f"type{k}": row.type,
            f"job{k}": row.job_id,
            f"tech{k}": row.technician_id,
            f"data{k}": json.dumps(row.data),
        }
    return out


def hold_lock(session: Session) -> None:
    """Take the feed's lock for the rest of the transaction (PostgreSQL; SQLite's one writer
    already orders commits): whatever takes an id from a cursor-paged log after this commits
    in id order. Re-entrant within a transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FEED_LOCK})


def json_value(value: Any) -> Any:
    """``value`` as stored in JSON: instants as ISO 8601 in UTC, dates as ISO dates, inside
    mappings and lists too."""
    if isinstance(value, dt.datetime):
        return _instant(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    return value


def _instant(moment: dt.datetime) -> str:
    return stored_utc(moment).astimezone(UTC).isoformat()


def event_json(row: FeedEventRow) -> dict[str, Any]:
    """A feed event as ``GET /v1/events`` lists it and a webhook receives it (the same
    object, instants in UTC)."""
    return {
        "id": row.id,
        "at": _instant(row.at),
        "type": row.type,
        "job_id": row.job_id,
        "technician_id": row.technician_id,
        "data": dict(row.data),
    }


def parse_cursor(after: str | None) -> int:
    """The position a cursor stands for (0: the beginning); ``Invalid`` naming ``after``
    for anything that is not a cursor this feed handed out."""
    if after is None or after == "":
        return 0
    if not _CURSOR.match(after):
        raise Invalid("after: not a cursor of this feed (use the `next` of an earlier answer)", "after")
    return int(after)


@dataclass(frozen=True)
class Page:
    """Events after a cursor, oldest first, and the cursor to ask with next time."""

    events: list[FeedEventRow]
    next: str


def events_after(session: Session, principal: Principal, after: str | None, limit: int = 100) -> Page:
    """At most ``limit`` events after the cursor ``after``, oldest first, that
    ``principal`` may see: a dispatcher every event, the booking role the events of
    jobs it booked, an installer the events naming them as technician and the per-job
    events (``PER_JOB``) of their published crew jobs. A cursor past the newest
    event is ``Invalid`` naming ``after`` (the feed never handed it out). ``next`` is the
    cursor after the last event returned (``after`` again when there is none), so
    asking with it never skips or repeats an event."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit: between 1 and {MAX_LIMIT}", "limit")
    position = parse_cursor(after)
    if position > 0:
        newest = session.exec(select(func.max(FeedEventRow.id))).one()
        if newest is None or position > newest:
            # Not a cursor this feed handed out: paging on with it would skip every
            # event written up to it.
            raise Invalid(
                f"after: {after} is past the feed's newest event, so not a cursor of this feed "
                "(use the `next` of an earlier answer, or start again without `after`)",
                "after",
            )
    query = select(FeedEventRow).where(col(FeedEventRow.id) > position)
    if principal.role == "booking":
        booked = select(BookingRow.job_id).where(BookingRow.token_id == principal.token_id)
        query = query.where(col(FeedEventRow.job_id).in_(booked))
    elif principal.role == "installer":
        query = query.where(
            or_(
                col(FeedEventRow.technician_id) == principal.technician_id,
                col(FeedEventRow.type).in_(PER_JOB)
                & col(FeedEventRow.job_id).in_(_crew_jobs_of(principal.technician_id)),
            )
        )
    rows = list(session.exec(query.order_by(col(FeedEventRow.id)).limit(limit)).all())
    last = rows[-1].id if rows else position
    return Page(rows, str(last))


def _crew_jobs_of(technician_id: str | None) -> SelectOfScalar[str]:
    """The crew jobs ``technician_id`` has in a published plan (as a subquery)."""
    return (
        select(VisitRow.job_id)
        .join(PublishedPlanRow, col(PublishedPlanRow.plan_id) == col(VisitRow.plan_id))
        .join(JobRow, col(JobRow.id) == col(VisitRow.job_id))
        .where(VisitRow.technician_id == technician_id, col(JobRow.crew_size) > 1)
    )


def published_technicians(session: Session, job: JobRow) -> list[str]:
    """The technicians a job has in the published plans of its days, sorted (none when
    it is in none): its date, and the day of its date range or of its several days a
    plan put it on (``jobdays.published_days``). Whom a change to the job concerns, and
    the installers who may report on it. Before, only its date's plan was read, so a
    range job published on another day of its range was nobody's to report on."""
    plans = [plan_id for _, plan_id in jobdays.published_days(session, job)]
    if not plans:
        return []
    rows = session.exec(
        select(VisitRow.technician_id).where(col(VisitRow.plan_id).in_(plans), VisitRow.job_id == job.id)
    ).all()
    return sorted(set(rows))
