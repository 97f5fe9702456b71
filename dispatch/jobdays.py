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

from dispatch.jobstate import CANCELLED, COMPLETED, OPEN
from dispatch.tables import EventRow, JobRow, PlanRow, PublishedPlanRow, VisitRow
from dispatch.timeutil import from_storage, stored_utc

Worked = tuple[dt.datetime | None, dt.datetime]
"""A day's actual start (its first arrived or started event, when sent) and end, as stored."""


def possible_days(job: JobRow) -> tuple[dt.date, dt.date]:
    """The first and last day ``job`` may be worked on: its date and date range, and for
    a job of several days its days and the week after its date (as far as a run of its
    fitter's working days reaches)."""
    first = min(job.date, job.date_from or job.date)
    last = max(job.date_to or job.date, job.date + dt.timedelta(days=job.days - 1 + (7 if job.days > 1 else 0)))
    return first, last


def published_days(session: Session, job: JobRow) -> list[tuple[dt.date, int]]:
    """The days of ``job``'s possible days (``possible_days``) whose published plan of its
    region visits it, each with that plan's id, in date order: where a range job went
    (often not its ``date``), and each day of a job of several days."""
    first, last = possible_days(job)
    rows = session.exec(
        select(col(PublishedPlanRow.date), col(PublishedPlanRow.plan_id))
        .join(VisitRow, col(VisitRow.plan_id) == col(PublishedPlanRow.plan_id))
        .where(
            VisitRow.job_id == job.id,
            PublishedPlanRow.region == job.region,
            col(PublishedPlanRow.date) >= first,
            col(PublishedPlanRow.date) <= last,
        )
        .distinct()
        .order_by(col(PublishedPlanRow.date))
    ).all()
    return [(day, plan_id) for day, plan_id in rows]


def held_on(session: Session, job: JobRow, day: dt.date) -> list[str]:
    """The technicians sent to ``job`` by a plan of ``day`` (of its region) that was ever
    published: the current version and every one it replaced, sorted. Who was told to do
    the job that day, whatever a re-plan or a re-dating did to it since."""
    rows = session.exec(
        select(VisitRow.technician_id)
        .join(PlanRow, col(PlanRow.id) == col(VisitRow.plan_id))
        .where(
            VisitRow.job_id == job.id,
            PlanRow.date == day,
            PlanRow.region == job.region,
            col(PlanRow.first_published_at).is_not(None),
        )
        .distinct()
    ).all()
    return sorted(rows)


def reported_on(session: Session, job_id: str, day: dt.date, tz: ZoneInfo) -> bool:
    """Whether a field report of ``job_id`` is dated ``day`` (in ``tz``): a visit of it
    was made, or begun, that day."""
    events = session.exec(select(EventRow.at).where(EventRow.job_id == job_id)).all()
    return any(from_storage(at, tz).date() == day for at in events)


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


def failures(session: Session, job_id: str) -> list[EventRow]:
    """The failed visits of ``job_id`` (their ``failed`` events), oldest first."""
    return list(
        session.exec(
            select(EventRow)
            .where(EventRow.job_id == job_id, EventRow.type == "failed")
            .order_by(col(EventRow.at), col(EventRow.id))
        ).all()
    )


def stopped_by(session: Session, job: JobRow, day: dt.date, tz: ZoneInfo) -> EventRow | None:
    """The failed visit that took ``day`` from the run of days of the job of several days
    ``job``: the last one that failed that day, else the last that failed on an earlier
    day after the plan of ``day`` now published was published (``called_off``). None for
    a job of one day, a day with a ``completed`` event, or a day no failure touched."""
    if job.days <= 1:
        return None
    failed = [e for e in failures(session, job.id) if from_storage(e.at, tz).date() <= day]
    if not failed or day in done_days(session, job.id, tz):
        return None
    that_day = [e for e in failed if from_storage(e.at, tz).date() == day]
    if that_day:
        return that_day[-1]
    published = session.exec(
        select(PublishedPlanRow.published_at).where(PublishedPlanRow.date == day, PublishedPlanRow.region == job.region)
    ).first()
    last = max(failed, key=lambda e: stored_utc(e.recorded_at))
    if published is None or stored_utc(published) > stored_utc(last.recorded_at):
        return None
    return last


def called_off(session: Session, job: JobRow, day: dt.date, tz: ZoneInfo) -> bool:
    """Whether ``day``'s visit of the job of several days ``job`` is called off: a visit
    of it failed on an earlier day after the plan of ``day`` now published was published,
    so the run of days that plan held is broken (its days left are planned anew)."""
    stopped = stopped_by(session, job, day, tz)
    return stopped is not None and from_storage(stopped.at, tz).date() < day


def on_day(session: Session, job: JobRow, day: dt.date, tz: ZoneInfo) -> JobRow:
    """``job`` as it stands on ``day``: itself, or for a job of several days a copy (never
    added to the session) completed that day when ``day`` is done, open with the failure's
    reason when a visit of it failed that day (whatever it is since), cancelled that day
    when ``day``'s visit is called off (``called_off``). A job of one day dated another
    day now (a revisit carried over) is, on a day a visit of it failed, that failure; on
    a day it may no longer be done on and that nothing was reported on (re-dated by the
    office since that day's plan was published), a copy cancelled that day."""
    if job.days <= 1:
        if job.date == day:
            return job
        failed = [e for e in failures(session, job.id) if from_storage(e.at, tz).date() == day]
        if failed:
            return _failed_view(session, job, day, failed[-1], tz)
        first, last = possible_days(job)
        if first <= day <= last or reported_on(session, job.id, day, tz):
            return job
        # Re-dated by the office before anyone reported on it that day: its customer now
        # waits for another day, so nobody is sent, nor told an arrival, on this one.
        view = JobRow.model_validate(job.model_dump())
        view.status, view.reason = CANCELLED, None
        view.actual_start = view.actual_end = None
        return view
    done = done_days(session, job.id, tz).get(day)
    if done is not None:
        view = JobRow.model_validate(job.model_dump())
        view.status, view.reason = COMPLETED, None
        view.actual_start, view.actual_end = done
        return view
    failed = [e for e in failures(session, job.id) if from_storage(e.at, tz).date() == day]
    if failed:
        return _failed_view(session, job, day, failed[-1], tz)
    if not called_off(session, job, day, tz):
        return job
    view = JobRow.model_validate(job.model_dump())
    view.status, view.reason = CANCELLED, None
    view.actual_start = view.actual_end = None
    return view


def _failed_view(session: Session, job: JobRow, day: dt.date, failure: EventRow, tz: ZoneInfo) -> JobRow:
    """A copy of ``job`` (never added to the session) as its visit of ``day`` ended:
    open again for ``failure``'s reason, with that day's actual times."""
    view = JobRow.model_validate(job.model_dump())
    view.status, view.reason = OPEN, failure.reason
    view.actual_start, view.actual_end = _first_arrival(session, job.id, day, tz), failure.at
    return view


def _first_arrival(session: Session, job_id: str, day: dt.date, tz: ZoneInfo) -> dt.datetime | None:
    """The first ``arrived`` or ``started`` event of ``job_id`` dated ``day``, as stored."""
    events = session.exec(
        select(EventRow.at)
        .where(EventRow.job_id == job_id, col(EventRow.type).in_(("arrived", "started")))
        .order_by(col(EventRow.at))
    ).all()
    return next((at for at in events if from_storage(at, tz).date() == day), None)


def day_number(session: Session, job: JobRow, day: dt.date, tz: ZoneInfo) -> int:
    """Which of ``job``'s days ``day`` is, from 1 (1 for a job of one day): one more than
    the days before ``day`` it was worked (``done_days``) or is planned (a visit in the
    published plan of that date, after its last failed visit's day and not called off),
    at most its days."""
    if job.days <= 1:
        return 1
    planned = session.exec(
        select(col(PublishedPlanRow.date))
        .join(VisitRow, col(VisitRow.plan_id) == col(PublishedPlanRow.plan_id))
        .where(VisitRow.job_id == job.id, PublishedPlanRow.region == job.region, PublishedPlanRow.date < day)
    ).all()
    failed = [from_storage(e.at, tz).date() for e in failures(session, job.id)]
    last_failed = max((d for d in failed if d < day), default=None)
    ahead = {d for d in planned if (last_failed is None or d > last_failed) and not called_off(session, job, d, tz)}
    before = {d for d in done_days(session, job.id, tz) if d < day} | ahead
    return min(job.days, len(before) + 1)


def ends_job(session: Session, job: JobRow, at: dt.datetime, tz: ZoneInfo) -> bool:
    """True when a ``completed`` event ``at`` (stored form) ends ``job``: a job of one
    day, or the last of a job's days still to do."""
    if job.days <= 1:
        return True
    done = set(done_days(session, job.id, tz)) | {from_storage(at, tz).date()}
    return len(done) >= job.days
