"""The audit log: every dispatcher action, who did it and when (docs/security.md).

``record`` adds an entry to the session's transaction. Like ``feed.emit`` it is
the last write before the commit and takes the feed's PostgreSQL advisory lock,
so entries commit in id order and a reader paging with ``entries_after`` never
skips one (the reasoning is ``dispatch.feed``'s; sharing the one lock means a
transaction that both emits and records never waits for a second lock).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from dispatch.auth import Principal
from dispatch.errors import Invalid
from dispatch.feed import MAX_LIMIT, hold_lock, json_value, parse_cursor
from dispatch.tables import AuditRow, TokenRow
from dispatch.timeutil import to_storage

PLAN_PUBLISHED = "plan.published"
PLAN_EDITED = "plan.edited"
TOKEN_ISSUED = "token.issued"
TOKEN_REVOKED = "token.revoked"
JOB_CANCELLED = "job.cancelled"
BOOKING_CANCELLED = "booking.cancelled"
JOBS_IMPORTED = "jobs.imported"
WEBHOOK_SUBSCRIBED = "webhook.subscribed"
WEBHOOK_UNSUBSCRIBED = "webhook.unsubscribed"
TECHNICIAN_SAVED = "technician.saved"
JOB_SAVED = "job.saved"
DISRUPTION_RECORDED = "disruption.recorded"
DISRUPTION_WITHDRAWN = "disruption.withdrawn"
ACTIONS = (
    PLAN_PUBLISHED,
    PLAN_EDITED,
    TOKEN_ISSUED,
    TOKEN_REVOKED,
    JOB_CANCELLED,
    BOOKING_CANCELLED,
    JOBS_IMPORTED,
    WEBHOOK_SUBSCRIBED,
    WEBHOOK_UNSUBSCRIBED,
    TECHNICIAN_SAVED,
    JOB_SAVED,
    DISRUPTION_RECORDED,
    DISRUPTION_WITHDRAWN,
)
"""Every action the audit log records."""


def record(
    session: Session,
    who: Principal,
    action: str,
    subject: str,
    *,
    now: dt.datetime,
    detail: Mapping[str, Any] | None = None,
) -> AuditRow:
    """Add an entry (flushed, not committed): ``who`` did ``action`` to ``subject`` at
    ``now``. Call it as the last write before the commit (see the module docstring)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    hold_lock(session)
    row = AuditRow(
        at=to_storage(now),
        token_id=who.token_id,
        role=who.role,
        action=action,
        subject=subject[:200],
        detail={key: json_value(value) for key, value in (detail or {}).items()},
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class Entry:
    """An audit entry with the label of the token that acted."""

    row: AuditRow
    label: str


@dataclass(frozen=True)
class Page:
    """Entries after a cursor, oldest first, and the cursor to ask with next time."""

    entries: list[Entry]
    next: str


def entries_after(session: Session, after: str | None, limit: int = 100) -> Page:
    """At most ``limit`` entries after the cursor ``after``, oldest first; ``next`` is
    the cursor after the last one (``after`` again when there is none)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit: between 1 and {MAX_LIMIT}", "limit")
    position = parse_cursor(after)
    rows = session.exec(
        select(AuditRow, TokenRow.label)
        .join(TokenRow, col(TokenRow.id) == col(AuditRow.token_id), isouter=True)
        .where(col(AuditRow.id) > position)
        .order_by(col(AuditRow.id))
        .limit(limit)
    ).all()
    entries = [Entry(row, label or "") for row, label in rows]
    return Page(entries, str(entries[-1].row.id if entries else position))
