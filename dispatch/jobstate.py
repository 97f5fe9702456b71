"""A job's life from field facts: the statuses, which event moves a job where,
and the failure reasons (docs/live-day.md).

Pure rules, no database: ``dispatch.field`` applies them to stored jobs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from dispatch.errors import Conflict, Invalid
from dispatch.timeutil import stored_utc

OPEN = "open"
EN_ROUTE = "en_route"
ON_SITE = "on_site"
COMPLETED = "completed"
CANCELLED = "cancelled"
FAILED = "failed"
SCHEDULED = "scheduled"

EVENT_TYPES = ("en_route", "arrived", "started", "completed", "failed")
FAILURE_REASONS = ("customer_absent", "parts_missing", "second_visit", "other")

PLANNABLE = (OPEN, SCHEDULED, EN_ROUTE, ON_SITE)
"""Statuses a plan run loads: work still to do (completed and cancelled jobs never
come back; a failed visit leaves its job ``open``)."""

UNDER_WAY = (EN_ROUTE, ON_SITE)
"""A visit under way: its technician is on the way or on site (the visit stays theirs,
and only such a visit can overrun)."""

SHOWN_TO_INSTALLERS = (OPEN, SCHEDULED, EN_ROUTE, ON_SITE, COMPLETED)
"""Job statuses whose visits stay on an installer's list of a published plan."""

_TARGET = {"en_route": EN_ROUTE, "arrived": ON_SITE, "started": ON_SITE, "completed": COMPLETED, "failed": OPEN}
_FROM: dict[str, tuple[str, ...]] = {
    "en_route": (OPEN, SCHEDULED, EN_ROUTE),
    "arrived": (OPEN, SCHEDULED, EN_ROUTE, ON_SITE),
    "started": (OPEN, SCHEDULED, EN_ROUTE, ON_SITE),
    "completed": (OPEN, SCHEDULED, EN_ROUTE, ON_SITE),
    "failed": (OPEN, SCHEDULED, EN_ROUTE, ON_SITE),
}


class LiveJob(Protocol):
    """The fields of a job the field events change (``JobRow`` has them)."""

    status: str
    reason: str | None
    actual_start: dt.datetime | None
    actual_end: dt.datetime | None


PARTS_LEAD = dt.timedelta(hours=24)
"""Goods and parts must be there at least 24 hours before the visit that needs them
(docs/domain: a release date): a visit that failed for missing parts is not done
again sooner than this after it failed."""


CUSTOMER_ABSENT_WAIT = dt.timedelta(hours=2)
"""A customer who was not at home is not called on again sooner than this after the
visit failed: the same afternoon, not the minute the installer left the door."""


def revisit_not_before(
    reason: str | None, failed_at: dt.datetime, release_at: dt.datetime | None
) -> dt.datetime | None:
    """The release of a job whose visit failed at ``failed_at`` for ``reason``: for
    ``parts_missing`` no sooner than ``PARTS_LEAD`` after the failure, for
    ``customer_absent`` no sooner than ``CUSTOMER_ABSENT_WAIT`` (a later release the job
    already had stays), else the release it had."""
    wait = {"parts_missing": PARTS_LEAD, "customer_absent": CUSTOMER_ABSENT_WAIT}.get(reason or "")
    if wait is None:
        return release_at
    earliest = failed_at + wait
    return earliest if release_at is None or release_at < earliest else release_at


DEFAULT_FAILURE_REASON = "other"
"""The reason of a failed event sent without one, as v1 clients send it (API.md: old forms keep working)."""


def with_default_reason(kind: str, reason: str | None) -> str | None:
    """``reason``, or ``DEFAULT_FAILURE_REASON`` for a failed event that names none."""
    return DEFAULT_FAILURE_REASON if kind == "failed" and reason is None else reason


def check_event(kind: str, reason: str | None) -> None:
    """Refuse an unknown event type, or a failure without a known reason (or a reason
    on anything but a failure), naming the field."""
    if kind not in EVENT_TYPES:
        raise Invalid(f"type must be one of {', '.join(EVENT_TYPES)}", "type")
    if kind == "failed" and reason not in FAILURE_REASONS:
        raise Invalid(f"reason: a failed visit needs one of {', '.join(FAILURE_REASONS)}", "reason")
    if kind != "failed" and reason is not None:
        raise Invalid("reason: only a failed event carries a reason", "reason")


def check_order(job: LiveJob, kind: str, at: dt.datetime, tz: dt.tzinfo) -> None:
    """Refuse (``Conflict``) an event that cannot follow what the job already has: a
    visit's end (completed, failed) before the visit began, any event before the end of
    the job's last visit when that visit failed (it would be part of a visit now over),
    and a second failure of a visit already failed (naming ``type``: its revisit has
    not begun). Without this the job kept an end before its start, or a failure's
    reason on a job then completed earlier than it failed."""
    # The job's last visit failed: it is open again, or scheduled for its revisit.
    failed_at = job.actual_end if job.status in (OPEN, SCHEDULED) and job.reason is not None else None
    if failed_at is not None:
        shown = f"{stored_utc(failed_at).astimezone(tz):%Y-%m-%d %H:%M}"
        if kind == "failed":
            raise Conflict(
                f"type: the job's visit already failed at {shown}; its revisit can fail once it has begun "
                "(en_route, arrived or started)",
                "type",
            )
        if stored_utc(at) < stored_utc(failed_at):
            raise Conflict(
                f"at: {at.astimezone(tz):%Y-%m-%d %H:%M} is before the job's last visit failed ({shown}): "
                "that visit is over",
                "at",
            )
    began = job.actual_start if job.status in UNDER_WAY else None
    if kind in ("completed", "failed") and began is not None and stored_utc(at) < stored_utc(began):
        raise Conflict(
            f"at: the visit began at {stored_utc(began).astimezone(tz):%Y-%m-%d %H:%M}; it cannot end before, "
            f"at {at.astimezone(tz):%Y-%m-%d %H:%M}",
            "at",
        )


def next_status(current: str, kind: str, crew: bool = False) -> str:
    """The status a job in ``current`` takes on an event of type ``kind``;
    ``Conflict`` (naming ``type``) when the event cannot happen now. On a ``crew`` job
    one technician may still be on the way when the other has arrived: ``en_route``
    leaves it on site."""
    if crew and kind == "en_route" and current == ON_SITE:
        return ON_SITE
    if current not in _FROM[kind]:
        raise Conflict(f"a job that is {current} cannot take the event {kind}", "type")
    return _TARGET[kind]


def apply_event(
    job: LiveJob, kind: str, at: dt.datetime, reason: str | None, ends_job: bool = True, crew: bool = False
) -> None:
    """Move ``job`` by an event of type ``kind`` that happened ``at``: its status, and
    ``actual_start`` (first arrived/started of a visit), ``actual_end`` (completed or
    failed) and ``reason`` (of the last failed visit). A ``completed`` that does not
    ``ends_job`` (a day of a job of several days before its last) makes it ``scheduled``
    for its next day, with no actual times (``dispatch.jobdays``). ``crew``: a job of
    two technicians (``next_status``)."""
    check_event(kind, reason)
    new = next_status(job.status, kind, crew)
    if kind == "completed" and not ends_job:
        job.status, job.reason, job.actual_start, job.actual_end = SCHEDULED, None, None, None
        return
    if new == ON_SITE and job.status != ON_SITE:
        job.actual_start = at
        job.actual_end = None
    if kind in ("completed", "failed"):
        job.actual_end = at
    if kind == "failed":
        job.reason = reason
    job.status = new


def visit_status(job: LiveJob) -> str:
    """How a job's visit in a published plan stands for its installer: ``scheduled``
    until the first event, then ``en_route``, ``on_site``, ``completed``; ``failed``
    when the job is open again after a failed visit."""
    if job.status == OPEN:
        return FAILED if job.reason is not None and job.actual_end is not None else SCHEDULED
    return job.status  # scheduled, en_route, on_site, completed


def crew_visit_status(job: LiveJob, own: Sequence[str]) -> str:
    """``visit_status`` for one of a crew, from ``own``: the event types this technician
    (or the office, for both) reported for the job since its last failure, in order.
    The job's end (completed, failed) is both's; while the job is under way, each of
    the crew stands where their own reports put them (``scheduled`` before any), not
    where the partner's do: one on site does not put the other there."""
    status = visit_status(job)
    if status not in UNDER_WAY:
        return status
    moves = [kind for kind in own if kind in ("en_route", "arrived", "started")]
    return _TARGET[moves[-1]] if moves else SCHEDULED
