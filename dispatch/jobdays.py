"""A job of several days in the field: which of its days are done, and how it stands
on one of them (docs/horizon.md, "In the field").

A job has one status (``dispatch.jobstate``), but a job of several days is worked on
several days. Every reader of one day (the installer's list, the live walk of the day,
a plan or re-plan of it) sees the job as it stands that day: a day with a ``completed``
event is done (that day's visit completed, with that day's actual times); on any other
day the job is as it is. A ``completed`` event ends the job only once it has been sent
on as many days as the job takes; before that the job goes back to ``scheduled`` for
its next day.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from dispatch.jobstate import COMPLETED
from dispatch.tables import EventRow, JobRow, PublishedPlanRow, VisitRow
from dispatch.timeutil import from_storage

Worked = tuple[dt.datetime | None, dt.datetime]
"""A day's actual start (its first arrived or started event, when sent) and end, as stored."""


def done_days(session: Session, job_id: str, tz: ZoneInfo) -> dict[dt.date, Worked]:
    """The days of ``job_id`` with a ``completed`` event (dates in ``tz``), each with
    that day's actual start and end."""
    events = session.exec(
        select(EventRow)
        .where(EventRow.job_id == job_id, col(EventRow.type).in_(("arrived", "started", "completed")))
        .order_by(col(EventRow.at), col(EventRow.id))
    ).all()
    starts: dict[dt.date, dt.datetime] = {}
    done: dict[dt.date, Worked] = {}
    for event in events:
        day = from_storage(event.at, tz).date()
        if event.type == "completed":
            done[day] = (starts.get(day), event.at)
        else:
            starts.setdefault(day, event.at)
    return done


def on_day(session: Session, job: JobRow, day: dt.date, tz: ZoneInfo) -> JobRow:
    """``job`` as it stands on ``day``: itself, or for a job of several days whose
    ``day`` is done, a copy (never added to the session) completed that day."""
    if job.days <= 1:
        return job
    done = done_days(session, job.id, tz).get(day)
    if done is None:
        return job
    view = JobRow.model_validate(job.model_dump())
    view.status, view.reason = COMPLETED, None
    view.actual_start, view.actual_end = done
    return view


def day_number(session: Session, job: JobRow, day: dt.date, tz: ZoneInfo) -> int:
    """Which of ``job``'s days ``day`` is, from 1 (1 for a job of one day): one more than
    the days before ``day`` it was worked (``done_days``) or is planned (a visit in the
    published plan of that date), at most its days."""
    if job.days <= 1:
        return 1
    planned = session.exec(
        select(col(PublishedPlanRow.date))
        .join(VisitRow, col(VisitRow.plan_id) == col(PublishedPlanRow.plan_id))
        .where(VisitRow.job_id == job.id, PublishedPlanRow.region == job.region, PublishedPlanRow.date < day)
    ).all()
    before = {d for d in done_days(session, job.id, tz) if d < day} | set(planned)
    return min(job.days, len(before) + 1)


def ends_job(session: Session, job: JobRow, at: dt.datetime, tz: ZoneInfo) -> bool:
    """True when a ``completed`` event ``at`` (stored form) ends ``job``: a job of one
    day, or the last of a job's days still to do."""
    if job.days <= 1:
        return True
    done = set(done_days(session, job.id, tz)) | {from_storage(at, tz).date()}
    return len(done) >= job.days
