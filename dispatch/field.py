"""What installers see and report: their visits of the published plan, a
calendar feed of them, and status events that move a job through its day
(``dispatch.jobstate``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from sqlmodel import Session, col, or_, select

from dispatch import feed, jobdays, jobstate, live
from dispatch.auth import Principal
from dispatch.errors import Conflict, Forbidden, Invalid, NotFound
from dispatch.mapping import DayClock, Span, technicians_on
from dispatch.planning import published_plan_id
from dispatch.tables import EventRow, JobRow, PublishedPlanRow, TechnicianRow, VisitRow
from dispatch.timeutil import from_storage, stored_utc, to_storage, weekday_from

EVENT_TYPES = jobstate.EVENT_TYPES
WORK_CHANGING_EVENTS = ("completed", "failed")
"""Events after which a plan made before them may no longer fit the day."""


@dataclass(frozen=True)
class MyVisit:
    """One stop of an installer's day, with what they need on site."""

    visit: VisitRow
    job: JobRow
    crew: list[str]
    # What the customer was told: their promise, else the visit's window in the plan.
    window: Span | None
    # A crew job's: what this technician (or the office) reported since its last failure.
    own: tuple[str, ...] | None = None
    # Which of the job's days this visit is (``jobdays.day_number``).
    day: int = 1

    @property
    def status(self) -> str:
        """How this visit stands (``jobstate.visit_status``; for one of a crew,
        ``jobstate.crew_visit_status``)."""
        if self.own is not None:
            return jobstate.crew_visit_status(self.job, self.own)
        return jobstate.visit_status(self.job)


def my_visits(session: Session, technician_id: str, day: dt.date, tz: ZoneInfo) -> list[MyVisit]:
    """The technician's visits of the published plan of ``day``, in order: those still to
    do, under way or completed (not cancelled ones); a job of several days as it stands
    that day (``jobdays.on_day``: not at all on a day called off)."""
    tech = session.get(TechnicianRow, technician_id)
    if tech is None:
        raise NotFound(f"technician {technician_id} does not exist", "technician_id")
    plan_id = published_plan_id(session, day, tech.region)
    if plan_id is None:
        return []
    rows = session.exec(
        select(VisitRow, JobRow)
        .join(JobRow, col(JobRow.id) == col(VisitRow.job_id))
        .where(
            VisitRow.plan_id == plan_id,
            VisitRow.technician_id == technician_id,
            col(JobRow.status).in_(jobstate.SHOWN_TO_INSTALLERS),
        )
        .order_by(col(VisitRow.seq))
    ).all()
    job_ids = [job.id for _, job in rows]
    crews: dict[str, list[str]] = {}
    if job_ids:
        partners = session.exec(
            select(VisitRow.job_id, TechnicianRow.name, TechnicianRow.id)
            .join(TechnicianRow, col(TechnicianRow.id) == col(VisitRow.technician_id))
            .where(
                VisitRow.plan_id == plan_id,
                col(VisitRow.job_id).in_(job_ids),
                VisitRow.technician_id != technician_id,
            )
        ).all()
        for job_id, name, tech_id in partners:
            crews.setdefault(job_id, []).append(name or tech_id)
    own = _own_reports(session, technician_id, list(crews))
    clock = DayClock(day, tz)
    out = []
    for visit, job in rows:
        today = jobdays.on_day(session, job, day, tz)
        if today.status not in jobstate.SHOWN_TO_INSTALLERS:
            continue  # a day of a job of several days called off: its run broke before it
        told = live.visit_told_window(job, visit, clock)
        shown = None if told is None else (told[0].astimezone(tz), told[1].astimezone(tz))
        out.append(
            MyVisit(
                visit,
                today,
                crews.get(job.id, []),
                shown,
                own.get(job.id),
                jobdays.day_number(session, job, day, tz),
            )
        )
    return out


def _own_reports(session: Session, technician_id: str, job_ids: list[str]) -> dict[str, tuple[str, ...]]:
    """Per crew job of ``job_ids``, the event types reported by ``technician_id`` or by the
    office (no technician: for both) since the job's last failure, in order."""
    if not job_ids:
        return {}
    events = session.exec(
        select(EventRow).where(col(EventRow.job_id).in_(job_ids)).order_by(col(EventRow.at), col(EventRow.id))
    ).all()
    own: dict[str, list[str]] = {job_id: [] for job_id in job_ids}
    for event in events:
        if event.type == "failed":
            own[event.job_id] = []
        elif event.technician_id in (technician_id, None):
            own[event.job_id].append(event.type)
    return {job_id: tuple(kinds) for job_id, kinds in own.items()}


def calendar_uid(job_id: str, technician_id: str, day: int = 1, failed_on: dt.date | None = None) -> str:
    """The iCalendar UID of a job's visit by a technician (``day``: which of the job's
    days, for a job of several): stable across plan versions, so a re-published plan
    updates a phone's event instead of adding another, and one per day of the job, so
    each of its days is an event of its own. A visit that failed on ``failed_on``, its
    job planned anew since, is an event of its own too, apart from the revisit's."""
    failed = "" if failed_on is None else f"-failed{failed_on:%Y%m%d}"
    return f"{job_id}{'' if day == 1 else f'-day{day}'}{failed}-{technician_id}@furniture-dispatch"


def calendar_feed(session: Session, technician_id: str, tz: ZoneInfo, now: dt.datetime, days_ahead: int = 14) -> bytes:
    """An iCalendar feed of the technician's published visits from yesterday to
    ``days_ahead`` days after today, today being the date of ``now`` in ``tz``.

    Each event's UID is per job, technician and day of the job (``calendar_uid``); LAST-MODIFIED is
    the later of the plan's publication and the job's last change, so it moves
    whenever the visit can have changed."""
    cal = Calendar()
    cal.add("prodid", "-//furniture-dispatch//installer jobs//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"Jobs of {technician_id}")
    tech = session.get(TechnicianRow, technician_id)
    if tech is None:
        raise NotFound(f"technician {technician_id} does not exist", "technician_id")
    today = now.astimezone(tz).date()
    pointers = session.exec(
        select(PublishedPlanRow).where(
            PublishedPlanRow.region == tech.region,
            PublishedPlanRow.date >= today - dt.timedelta(days=1),
            PublishedPlanRow.date <= today + dt.timedelta(days=days_ahead),
        )
    ).all()
    for pointer in sorted(pointers, key=lambda p: p.date):
        for item in my_visits(session, technician_id, pointer.date, tz):
            job, visit = item.job, item.visit
            event = Event()
            failed_on = pointer.date if item.status == jobstate.FAILED and pointer.date != job.date else None
            event.add("uid", calendar_uid(job.id, technician_id, item.day, failed_on))
            event.add("dtstamp", now)
            event.add("last-modified", max(from_storage(pointer.published_at, tz), from_storage(job.updated_at, tz)))
            event.add("dtstart", from_storage(visit.start, tz))
            event.add("dtend", from_storage(visit.end, tz))
            part = f" (day {item.day} of {job.days})" if job.days > 1 else ""
            event.add("summary", f"{job.kind.capitalize()} {job.id}{part}: {job.customer_name}".strip(": "))
            if job.address:
                event.add("location", job.address)
            lines = [f"Customer: {job.customer_name} {job.customer_phone}".strip()]
            if item.window is not None:
                lines.append(f"Customer told: {item.window[0]:%H:%M}-{item.window[1]:%H:%M}")
            if item.crew:
                lines.append("Crew: " + ", ".join(item.crew))
            if job.notes:
                lines.append(job.notes)
            lines.append(f"Status: {item.status}")
            event.add("description", "\n".join(lines))
            event.add("geo", (job.lat, job.lon))
            cal.add_component(event)
    cal.add_missing_timezones()
    return bytes(cal.to_ical())


@dataclass(frozen=True)
class Recorded:
    """A stored status event; ``created`` is False when it had been stored before
    (the same job, type, technician and ``at``) and nothing changed."""

    event: EventRow
    created: bool


def record_event(
    session: Session,
    principal: Principal,
    job_id: str,
    kind: str,
    at: dt.datetime | None,
    note: str,
    *,
    now: dt.datetime,
    tz: ZoneInfo,
    reason: str | None = None,
) -> Recorded:
    """Store a status event received ``now`` (and happened at ``at``, default ``now``)
    and move the job by it (``jobstate.apply_event``).

    The same event again is not stored twice: the stored one is returned, whoever holds
    the job now. Otherwise an installer may report only on a job they were published on
    for the day the event is dated, or have in a published plan of its days now
    (``_may_report``; else ``Forbidden``). An event that cannot
    happen in the job's status is a ``Conflict`` naming ``type``. A stored new event is
    told in the feed (``job.status``, for the reporting technician, else the job's
    first published one); a repeat is not. A failed visit of a promised job spends its
    promise: the job is no longer confirmed (``job.window`` with ``confirmed: false``).
    A visit failed for ``parts_missing`` releases its job no sooner than 24 hours later
    (``jobstate.revisit_not_before``): no plan brings the revisit before the parts. A
    revisit carried to a later day and completed on the day its visit failed comes back
    to that day (``_bring_back``)."""
    if kind not in EVENT_TYPES:
        raise Invalid(f"type must be one of {', '.join(EVENT_TYPES)}", "type")
    if kind in WORK_CHANGING_EVENTS:
        found = session.get(JobRow, job_id)
        if found is None:
            raise NotFound(f"job {job_id} does not exist", "job_id")
        # The work of the day changes (its live schedule first, then the job: the order
        # every writer locks in). En route, arrived and started change no plan's work:
        # they take no lock on the day, so the field's reports do not queue behind each
        # other (a re-plan reads them afresh; docs/live-day.md). A job of several days, or
        # of a date range, changes the work of the day the event happened on.
        on_its_date = found.days <= 1 and found.date_from is None
        day = found.date if on_its_date else (at or now).astimezone(tz).date()
        live.touch(session, day, found.region, now)
    # FOR NO KEY UPDATE on PostgreSQL: rows inserted meanwhile that refer to the job
    # (events, feed rows) do not wait for it.
    job = session.get(JobRow, job_id, with_for_update={"key_share": True}, populate_existing=True)
    if job is None:
        raise NotFound(f"job {job_id} does not exist", "job_id")
    technician_id = principal.technician_id
    reason = jobstate.with_default_reason(kind, reason)
    jobstate.check_event(kind, reason)
    received = to_storage(now)
    moment = to_storage(at) if at is not None else received
    # A repeat first: the stored event is the reporter's own, so it was theirs to report,
    # whoever holds the job now (a phone retrying after a lost answer).
    same = session.exec(
        select(EventRow).where(
            EventRow.job_id == job_id,
            EventRow.type == kind,
            EventRow.technician_id == technician_id
            if technician_id is not None
            else col(EventRow.technician_id).is_(None),
            EventRow.at == moment,
        )
    ).first()
    if same is not None:
        return Recorded(same, created=False)
    published = feed.published_technicians(session, job)
    if principal.role == "installer" and not _may_report(session, job, technician_id, published, at or now, tz):
        raise Forbidden(f"job {job_id} is not one of your published jobs", "job_id")
    reported = _crew_end_reported(session, job, kind, technician_id)
    if reported is not None:
        return Recorded(reported, created=False)
    if at is not None:
        _check_near_its_days(job, at, tz)
    jobstate.check_order(job, kind, moment, tz)
    if kind != "en_route":
        _check_after_setting_out(session, job, technician_id, moment, tz)
    ends = kind != "completed" or jobdays.ends_job(session, job, moment, tz)
    # A promise is kept by a visit: once that visit failed, the revisit is open work
    # without one until it is promised again (confirmed, or booked anew). Kept, the
    # spent promise would be hard for every later run of the day, past or not.
    promise_spent = kind == "failed" and job.confirmed
    jobstate.apply_event(job, kind, moment, reason, ends_job=ends, crew=job.crew_size == 2)
    if promise_spent:
        job.confirmed, job.promised_start, job.promised_end = False, None, None
    carried: dt.date | None = None
    if kind == "failed":
        stored = to_storage(from_storage(job.release_at, tz)) if job.release_at is not None else None
        job.release_at = jobstate.revisit_not_before(reason, moment, stored)
        was = job.date
        failed_day = from_storage(moment, tz).date()
        # A job of several days: the days after this one that a plan holds are called off
        # (``jobdays.called_off``), so plans of them made before this change too.
        later = [d for d in live.days_holding(session, job) if d > failed_day] if job.days > 1 else []
        carried = _carry_over(session, job, from_storage(moment, tz), tz)
        if carried is not None:
            for touched in sorted({was, carried, *later}):
                live.touch(session, touched, job.region, now)
            # The revisit prefers whoever made the visit: they have seen the job and the customer.
            maker = technician_id or (published[0] if len(published) == 1 else None)
            alone = job.crew_size == 1 and maker is not None
            if alone and job.pinned_technician_id is None and job.preferred_technician_id is None:
                job.preferred_technician_id = maker
    if kind == "completed" and job.status == jobstate.COMPLETED:
        back = _bring_back(job, from_storage(moment, tz).date())
        if back is not None:
            live.touch(session, back, job.region, now)
    job.updated_at = received
    session.add(job)
    row = EventRow(
        job_id=job_id, technician_id=technician_id, type=kind, at=moment, note=note, reason=reason, recorded_at=received
    )
    session.add(row)
    session.flush()
    concerned = technician_id or next(iter(published), None)
    feed.emit(
        session,
        feed.JOB_STATUS,
        job_id=job_id,
        technician_id=concerned,
        data={"status": job.status, "reason": reason, "event_type": kind, "event_at": moment}
        | ({"revisit_date": carried} if carried is not None else {}),
        now=now,
    )
    if promise_spent:
        released = {"start": None, "end": None, "confirmed": False}
        feed.emit(session, feed.JOB_WINDOW, job_id=job_id, technician_id=concerned, data=released, now=now)
    return Recorded(row, created=True)


def _may_report(
    session: Session, job: JobRow, technician_id: str | None, published: list[str], at: dt.datetime, tz: ZoneInfo
) -> bool:
    """Whether the installer ``technician_id`` may report on ``job`` an event dated ``at``:
    they have it in the published plan of one of its days now (``published``), or a plan
    of the day of ``at`` sent them to it when published (``jobdays.held_on``: a version a
    re-plan replaced too) and the job is still on that day, or was visited that day (a
    report of it is dated that day: a failed visit whose revisit went to another day).
    Not a colleague's job, nor one the office re-dated before anyone reported on it."""
    if technician_id in published:
        return True
    day = at.astimezone(tz).date()
    if technician_id not in jobdays.held_on(session, job, day):
        return False
    first, last = jobdays.possible_days(job)
    return first <= day <= last or jobdays.reported_on(session, job.id, day, tz)


def _bring_back(job: JobRow, done_on: dt.date) -> dt.date | None:
    """Date the one-day job ``job``, just completed on ``done_on``, on that day when its
    revisit had been carried to a later one (its visit failed that day, then the work was
    done after all: the customer came home). Returns the date it had, or None when it
    stays where it is. Left on the later day, the job done would be listed there."""
    if job.days > 1 or job.date_from is not None or job.date <= done_on:
        return None
    was, job.date = job.date, done_on
    return was


def _crew_end_reported(session: Session, job: JobRow, kind: str, technician_id: str | None) -> EventRow | None:
    """For one of a crew reporting the end of a visit (``completed``, ``failed``) that
    the other (or the office) reported already and that nothing has followed since: that
    report. Both of a crew tap "done" on their phones; the second tap is the same news, not
    an event the job cannot take (before, a 409 on the second phone)."""
    if job.crew_size < 2 or kind not in WORK_CHANGING_EVENTS:
        return None
    if kind == "completed":
        over = job.status == jobstate.COMPLETED
    else:
        over = (
            job.status in (jobstate.OPEN, jobstate.SCHEDULED) and job.reason is not None and job.actual_end is not None
        )
    if not over:
        return None
    last = session.exec(
        select(EventRow)
        .where(EventRow.job_id == job.id, col(EventRow.type).in_(WORK_CHANGING_EVENTS))
        .order_by(col(EventRow.at).desc(), col(EventRow.id).desc())
    ).first()
    if last is None or last.type != kind or last.technician_id == technician_id:
        return None
    return last


def _check_after_setting_out(
    session: Session, job: JobRow, technician_id: str | None, moment: dt.datetime, tz: ZoneInfo
) -> None:
    """Refuse (``Conflict`` naming ``at``) an arrival, start or end of a visit dated before
    its technician set out for it: their last ``en_route`` on the job (since its last
    visit failed, if one did). The reports of one phone share its clock."""
    query = select(EventRow.at).where(EventRow.job_id == job.id, EventRow.type == "en_route")
    if technician_id is not None:
        query = query.where(EventRow.technician_id == technician_id)
    if job.status == jobstate.OPEN and job.reason is not None and job.actual_end is not None:
        query = query.where(col(EventRow.at) >= job.actual_end)
    set_out = session.exec(query.order_by(col(EventRow.at).desc())).first()
    if set_out is not None and stored_utc(moment) < stored_utc(set_out):
        raise Conflict(
            f"at: {stored_utc(moment).astimezone(tz):%Y-%m-%d %H:%M} is before the technician set out for this "
            f"visit (en_route at {stored_utc(set_out).astimezone(tz):%H:%M})",
            "at",
        )


EVENT_REACH = dt.timedelta(days=14)
"""How far after the last day a job may be done on a report of it may be dated (its
days of work, weekends between them, a late report)."""


def _check_near_its_days(job: JobRow, at: dt.datetime, tz: ZoneInfo) -> None:
    """Refuse (``Invalid`` naming ``at``) a report dated before the day ahead of the
    first day ``job`` may be done on, or more than ``EVENT_REACH`` after its last: a
    mistyped date. Before, an arrival dated 2000-01-01 became the job's actual start
    and the live day showed a delay of 27 years."""
    first = min(job.date, job.date_from or job.date)
    last = max(job.date, job.date_to or job.date) + dt.timedelta(days=job.days - 1)
    earliest = DayClock(first, tz).midnight - dt.timedelta(days=1)
    latest = DayClock(last, tz).next_midnight + EVENT_REACH
    if not earliest <= at < latest:
        days = str(first) if first == last else f"{first} to {last}"
        raise Invalid(
            f"at: {at.astimezone(tz):%Y-%m-%d %H:%M} is far from the days job {job.id} is done on ({days}): "
            "check the date",
            "at",
        )


REVISIT_SEARCH_DAYS = 14
"""How many days after a failed visit's day a revisit carried over looks for one on which
someone of its region works (else the next weekday after its release)."""


def _carry_over(session: Session, job: JobRow, failed_at: dt.datetime, tz: ZoneInfo) -> dt.date | None:
    """Put the revisit of ``job`` (its visit failed at ``failed_at``) on a later day when
    nothing of its own day is left for it: its release (the parts) comes after that day's
    work ends (the last of the region's technicians due home), or every window it had on
    that day (the whole day without one) closes before the revisit may start (the failure,
    or its release when later). It goes on the first day after, on or
    after its release, on which a technician of its region works: the windows, preferred
    hours and deadline of days gone are dropped (the customer is given a new appointment:
    the revisit is open work any time of that day until promised again), the windows still
    to come are kept, a date range is stretched to the new day. A job of several days
    always moves (``_carry_run_over``). Returns the new date, or None when the job stays
    on its day."""
    if job.days > 1:
        return _carry_run_over(session, job, failed_at, tz)
    day = job.date
    clock = DayClock(day, tz)
    next_midnight = clock.next_midnight
    # The day is over once the last of the region's technicians is due home.
    working = technicians_on(session, day, job.region, tz)
    day_end = clock.moment(max(t.latest_end_s for t in working)) if working else clock.midnight
    release = from_storage(job.release_at, tz) if job.release_at is not None else None
    windows = [(dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b)) for a, b in job.windows]
    # A window that closes before the revisit may start (its release) is gone as well.
    after = max(failed_at, release) if release is not None else failed_at
    left = [(a, b) for a, b in windows or [(clock.midnight, next_midnight)] if a < day_end and b > after]
    if (release is None or release < day_end) and left and failed_at < day_end:
        return None
    first = max(day + dt.timedelta(days=1), release.astimezone(tz).date() if release is not None else day)
    return _redate(session, job, first, tz, days_left=1)


OVERDUE_REACH = dt.timedelta(days=31)
"""How far back ``carry_overdue`` looks for open work left on a day gone by."""


def carry_overdue(session: Session, region: str, today: dt.date, tz: ZoneInfo) -> list[str]:
    """Bring open work left on a day gone by to a day still to come: every job of
    ``region`` that is ``open`` (never published, or back after a failed visit), not
    promised, dated before ``today`` (within ``OVERDUE_REACH``) and whose date range
    ended before it, goes to the first day from ``today`` on which someone of its region
    works, as a failed visit's revisit does (``_redate``: the windows of days gone are
    dropped, a range is stretched). Returns their ids. Without it, a visit failed while
    its window was still open, or a job no plan of its day could fit, stayed on that day
    and no plan of a later day ever saw it. A promised job is left alone: its promise
    stands until the dispatcher withdraws it or the customer books again."""
    rows = session.exec(
        select(JobRow)
        .where(
            JobRow.region == region,
            JobRow.status == jobstate.OPEN,
            col(JobRow.confirmed).is_(False),
            col(JobRow.date) < today,
            col(JobRow.date) >= today - OVERDUE_REACH,
            or_(col(JobRow.date_to).is_(None), col(JobRow.date_to) < today),
        )
        .order_by(col(JobRow.id))
    ).all()
    moved = []
    for job in rows:
        days_left = max(1, job.days - len(jobdays.done_days(session, job.id, tz))) if job.days > 1 else 1
        _redate(session, job, today, tz, days_left=days_left)
        session.add(job)
        moved.append(job.id)
    return moved


def _carry_run_over(session: Session, job: JobRow, failed_at: dt.datetime, tz: ZoneInfo) -> dt.date:
    """Move the job of several days ``job``, a visit of which failed at ``failed_at``, to
    where its days left (its days less those done) can start again: the first day after
    the failure's, on or after its release, on which a technician of its region works (a
    day's work stopped is not taken up again that day). The run of days its plans held
    is broken (``jobdays.called_off``)."""
    after = failed_at.astimezone(tz).date() + dt.timedelta(days=1)
    release = from_storage(job.release_at, tz) if job.release_at is not None else None
    first = max(after, release.astimezone(tz).date() if release is not None else after)
    days_left = max(1, job.days - len(jobdays.done_days(session, job.id, tz)))
    return _redate(session, job, first, tz, days_left=days_left)


def _redate(session: Session, job: JobRow, first: dt.date, tz: ZoneInfo, *, days_left: int) -> dt.date:
    """Date ``job`` on the first day from ``first`` (after any window still to come) on
    which someone of its region works, keeping what still lies ahead of that day: windows,
    preferred hours and deadline of days gone are dropped, a date range is stretched to
    hold ``days_left`` days from the new date. Returns the new date."""
    windows = [(dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b)) for a, b in job.windows]
    later = [(a, b) for a, b in windows if b > DayClock(first, tz).midnight]
    if later:
        first = max(first, min(a for a, _ in later).astimezone(tz).date())
    new_day = _working_day_from(session, first, job.region, tz)
    start_of_new = DayClock(new_day, tz).midnight
    job.windows = [[a.isoformat(), b.isoformat()] for a, b in windows if b > start_of_new]
    if job.preferred_end is not None and from_storage(job.preferred_end, tz) <= start_of_new:
        job.preferred_start = job.preferred_end = None
    if job.deadline is not None and from_storage(job.deadline, tz) <= start_of_new:
        job.deadline = None
    last_needed = new_day + dt.timedelta(days=days_left - 1)
    if job.date_from is not None and job.date_to is not None and job.date_to < last_needed:
        job.date_to = last_needed
    if job.preferred_date is not None and job.preferred_date < new_day:
        job.preferred_date = new_day if job.date_from is None else None
    job.date = new_day
    return new_day


def _working_day_from(session: Session, first: dt.date, region: str, tz: ZoneInfo) -> dt.date:
    """The first day from ``first`` on which a technician of ``region`` works (within
    ``REVISIT_SEARCH_DAYS``), else the first weekday from it."""
    for n in range(REVISIT_SEARCH_DAYS):
        day = first + dt.timedelta(days=n)
        if technicians_on(session, day, region, tz):
            return day
    return weekday_from(first)
