"""The live schedule of a day and region, and the promises it keeps (docs/live-day.md).

The live schedule (``LiveScheduleRow``) is the published plan as it is being
carried out: publishing a plan makes its routes the live routes; every booking
is inserted into them; every change to the day (booking, cancellation,
confirmation, field event, publication) raises its ``version``, so a plan run
can tell that the day moved on while it was solving.

A *promise* is a job's window once it is confirmed to the customer (booked, or
confirmed by the dispatcher). Promises are hard for slot search, booking and
every plan run; unconfirmed work stays flexible.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from dispatch import jobdays
from dispatch.errors import Conflict
from dispatch.jobstate import OPEN, PLANNABLE, SCHEDULED, SHOWN_TO_INSTALLERS
from dispatch.mapping import DayClock, Span, promise_on
from dispatch.tables import JobRow, LiveScheduleRow, PublishedPlanRow, VisitRow
from dispatch.timeutil import from_storage, stored_utc, to_storage
from solver import TimeWindow
from solver.plan import WorkingRoute, routes_from_json, routes_to_json

HALF_HOUR_S = 1800


# ----- the row: lock, version, touch ----------------------------------------------------


def lock(session: Session, day: dt.date, region: str, now: dt.datetime) -> LiveScheduleRow:
    """The live schedule of a day, locked for this transaction (created when missing):
    a row lock on PostgreSQL, the database's write lock on SQLite."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        if raw is not None and not getattr(raw, "in_transaction", True):
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, before anything is read
        row = session.exec(
            select(LiveScheduleRow)
            .where(LiveScheduleRow.date == day, LiveScheduleRow.region == region)
            .execution_options(populate_existing=True)
        ).first()
        if row is None:
            row = LiveScheduleRow(date=day, region=region, version=0, routes=[], updated_at=to_storage(now))
            session.add(row)
            session.flush()
        return row
    locking = (
        select(LiveScheduleRow)
        .where(LiveScheduleRow.date == day, LiveScheduleRow.region == region)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    found = session.exec(locking).first()  # one round trip while the day's lock is contended
    if found is not None:
        return found
    session.execute(
        pg_insert(LiveScheduleRow)
        .values(date=day, region=region, version=0, routes=[], updated_at=to_storage(now))
        .on_conflict_do_nothing()
    )
    return session.exec(locking).one()


def version(session: Session, day: dt.date, region: str) -> int:
    """The live schedule's version of a day (0 when nothing happened to it yet)."""
    found = session.exec(
        select(LiveScheduleRow.version).where(LiveScheduleRow.date == day, LiveScheduleRow.region == region)
    ).first()
    return found or 0


def touch(session: Session, day: dt.date, region: str, now: dt.datetime) -> None:
    """Record that the day changed (its version grows by one; the row is created when
    missing), in this transaction: one statement, which holds the row's lock until the
    commit."""
    dialect = session.connection().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(LiveScheduleRow).values(
        date=day, region=region, version=1, routes=[], updated_at=to_storage(now)
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[col(LiveScheduleRow.date), col(LiveScheduleRow.region)],
            set_={"version": LiveScheduleRow.version + 1, "updated_at": statement.excluded.updated_at},
        )
    )


def store_routes(row: LiveScheduleRow, routes: Sequence[WorkingRoute], now: dt.datetime) -> None:
    """Replace the live routes (a new version)."""
    row.routes = routes_to_json(list(routes))
    row.version += 1
    row.updated_at = to_storage(now)


def routes_of(row: LiveScheduleRow | None) -> list[WorkingRoute]:
    """The live routes of a schedule row (none for a day without one)."""
    return routes_from_json(row.routes if row is not None else None)


def merged(old: Sequence[WorkingRoute], promised: Sequence[WorkingRoute], moved: set[str]) -> list[WorkingRoute]:
    """The live routes after a change to the promised jobs only (a booking or a
    cancellation computed on ``promised``, routes of the jobs in ``moved``): each
    other (flexible) job of ``old`` goes back after the promised job it followed,
    or first when it followed none, or last when that job left the route."""
    by_tech = {r.technician_id: r for r in promised}
    out: list[WorkingRoute] = []
    old_by_tech = {r.technician_id: r for r in old}
    techs = [*old_by_tech, *(t for t in by_tech if t not in old_by_tech)]
    for tech in techs:
        after: dict[str | None, list[tuple[str, int | None]]] = {}
        anchor: str | None = None
        for job_id, start in old_by_tech[tech].visits() if tech in old_by_tech else ():
            if job_id in moved:
                anchor = job_id
            else:
                after.setdefault(anchor, []).append((job_id, start))
        seq = list(after.pop(None, []))
        route = by_tech.get(tech)
        for job_id, start in route.visits() if route is not None else ():
            seq.append((job_id, start))
            seq.extend(after.pop(job_id, []))
        for rest in after.values():
            seq.extend(rest)
        out.append(WorkingRoute(tech, tuple(i for i, _ in seq), tuple(s for _, s in seq)))
    return out


def _routes_from(session: Session, region: str, since: dt.date) -> list[tuple[dt.date, list[WorkingRoute]]]:
    """The live routes of ``region``'s days from ``since`` on, in date order. Read as
    values, not rows: a caller holding a row of this day meanwhile keeps its own."""
    found = session.exec(
        select(col(LiveScheduleRow.date), col(LiveScheduleRow.routes))
        .where(LiveScheduleRow.region == region, LiveScheduleRow.date >= since)
        .order_by(col(LiveScheduleRow.date))
    ).all()
    return [(day, routes_from_json(routes)) for day, routes in found]


def _published_visits(session: Session, region: str, since: dt.date) -> list[tuple[dt.date, str, str, str]]:
    """The visits of the published plans of ``region``'s days from ``since`` on: date,
    technician, job and the job's status."""
    found = session.exec(
        select(col(PublishedPlanRow.date), col(VisitRow.technician_id), col(VisitRow.job_id), col(JobRow.status))
        .join(VisitRow, col(VisitRow.plan_id) == col(PublishedPlanRow.plan_id))
        .join(JobRow, col(JobRow.id) == col(VisitRow.job_id))
        .where(PublishedPlanRow.region == region, PublishedPlanRow.date >= since)
    ).all()
    return [(day, tech_id, job_id, status) for day, tech_id, job_id, status in found]


def holders_from(session: Session, job_id: str, region: str, since: dt.date) -> list[tuple[dt.date, str]]:
    """The days from ``since`` on that give the job ``job_id`` to a technician of
    ``region``, in date order, each with that technician (the first one, for a crew):
    days whose published plan visits it (an installer's list shows it while it is not
    cancelled, and again once it is reopened) or whose live schedule holds it (plans
    and bookings of the day build on it)."""
    held: dict[dt.date, str] = {}
    for day, routes in _routes_from(session, region, since):
        holder = next((r.technician_id for r in routes if job_id in r.job_ids), None)
        if holder is not None:
            held[day] = holder
    for day, tech_id, visited, _ in _published_visits(session, region, since):
        if visited == job_id:
            held.setdefault(day, tech_id)
    return sorted(held.items())


def working_days_from(session: Session, technician_id: str, region: str, since: dt.date) -> list[dt.date]:
    """The days from ``since`` on that give the technician work in ``region``, in date
    order: days whose published plan lists visits for them (``SHOWN_TO_INSTALLERS``) or
    whose live schedule sends them to a job."""
    days = {
        day
        for day, routes in _routes_from(session, region, since)
        for r in routes
        if r.technician_id == technician_id and r.job_ids
    }
    days |= {
        day
        for day, tech_id, _, status in _published_visits(session, region, since)
        if tech_id == technician_id and status in SHOWN_TO_INSTALLERS
    }
    return sorted(days)


def without_job(routes: Sequence[WorkingRoute], job_id: str) -> list[WorkingRoute]:
    """The routes with ``job_id`` taken out wherever it is."""
    return [r.without(job_id) if job_id in r.job_ids else r for r in routes]


def days_holding(session: Session, row: JobRow) -> list[dt.date]:
    """The days whose live routes hold the job ``row``, in date order: its date, and for
    a job of several days each day of it (within its date range, or its days and the
    week after its date: as far as a run of its working days reaches)."""
    if row.days <= 1:
        return [row.date]
    first, last = jobdays.possible_days(row)
    schedules = session.exec(
        select(LiveScheduleRow)
        .where(LiveScheduleRow.region == row.region, LiveScheduleRow.date >= first, LiveScheduleRow.date <= last)
        .order_by(col(LiveScheduleRow.date))
    ).all()
    held = [s.date for s in schedules if any(row.id in r.job_ids for r in routes_of(s))]
    return held or [row.date]


# ----- promises ---------------------------------------------------------------------------


def promise(row: JobRow, clock: DayClock) -> Span | None:
    """The window promised to the job's customer on ``clock``'s day, aware, or None when
    not confirmed (``mapping.promise_on``: a job of several days, the same hours each day)."""
    return promise_on(row, clock)


def customer_window(start_s: int, length_s: int, own: Sequence[TimeWindow]) -> TimeWindow:
    """The window a customer is told for a visit planned to start at ``start_s``: a
    window of the slot grid's length (``length_s``) starting on a half hour, holding
    the planned start, inside the job's own window around that start (``own``: the
    times it may start, ``Job.start_windows``, so release and deadline included; the
    whole day when empty). Of those, the one with the most room after the
    planned start, then the longest: a visit runs late far more often than early (an
    overrun before it, traffic), and a technician who is early waits for the window.
    A start on the edge of the job's own window still gets a whole slot, never an
    instant."""
    inside = next((w for w in own if w.start_s <= start_s <= w.end_s), None)
    best: TimeWindow | None = None
    best_key = (-1, -1)
    first = (start_s - length_s) // HALF_HOUR_S * HALF_HOUR_S
    for s in range(first, start_s + 1, HALF_HOUR_S):
        lo, hi = s, s + length_s
        if inside is not None:
            lo, hi = max(lo, inside.start_s), min(hi, inside.end_s)
        if not lo <= start_s <= hi:
            continue
        key = (hi - start_s, hi - lo)
        if key > best_key:
            best, best_key = TimeWindow(lo, hi), key
    assert best is not None  # s = start_s rounded down always holds it
    return best


def confirm(row: JobRow, window: Span, now: dt.datetime) -> bool:
    """Make ``window`` the job's promise unless it has one already; True when it changed."""
    if row.confirmed and row.promised_start is not None:
        return False
    row.confirmed = True
    row.promised_start, row.promised_end = to_storage(window[0]), to_storage(window[1])
    row.updated_at = to_storage(now)
    return True


def set_confirmed(session: Session, row: JobRow, wanted: bool | None, clock: DayClock, now: dt.datetime) -> None:
    """Apply a dispatcher's ``confirmed`` to a stored job (None: leave it). Confirming
    promises the window of its visit in the published plan, else its only window;
    a booked job cannot be unconfirmed. ``Conflict`` naming ``confirmed`` otherwise."""
    if wanted is None:
        return
    if not wanted:
        if row.booked:
            raise Conflict(
                f"confirmed: job {row.id} is booked; its slot stays promised until it is cancelled", "confirmed"
            )
        row.confirmed, row.promised_start, row.promised_end = False, None, None
        return
    if row.confirmed:
        return
    window = told_window(session, row, clock)
    if window is None:
        raise Conflict(
            f"confirmed: job {row.id} has no window to promise; publish a plan with it or give it one window",
            "confirmed",
        )
    confirm(row, window, now)


def told_window(session: Session, row: JobRow, clock: DayClock) -> Span | None:
    """The window the customer would be told now: the promise, else the window of the
    job's visit in the published plan of its day, else its only own window."""
    from dispatch.planning import published_plan_id  # planning imports this module

    kept = promise(row, clock)
    if kept is not None:
        return kept
    plan_id = published_plan_id(session, row.date, row.region)
    if plan_id is not None:
        visit = session.exec(
            select(VisitRow).where(VisitRow.plan_id == plan_id, VisitRow.job_id == row.id).order_by(col(VisitRow.id))
        ).first()
        if visit is not None and (told := visit_told_window(row, visit, clock)) is not None:
            return told
    if len(row.windows) == 1:
        start, end = row.windows[0]
        return dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end)
    return None


def visit_told_window(row: JobRow, visit: VisitRow, clock: DayClock) -> Span | None:
    """What the customer of ``visit`` (of a published plan) was told: the job's promise,
    else the visit's window, else None."""
    kept = promise(row, clock)
    if kept is not None:
        return kept
    if visit.window_start is not None and visit.window_end is not None:
        return from_storage(visit.window_start, clock.tz), from_storage(visit.window_end, clock.tz)
    return None


def check_promise_kept(row: JobRow, clock: DayClock) -> None:
    """Refuse (naming ``windows``) an edit that leaves a confirmed job's promise
    outside its own windows or on another day."""
    kept = promise(row, clock)
    if kept is None:
        return
    if kept[0].astimezone(clock.tz).date() != row.date:
        raise Conflict(f"date: job {row.id} is promised on {kept[0].date()}; unconfirm it first", "date")
    own = [(dt.datetime.fromisoformat(s), dt.datetime.fromisoformat(e)) for s, e in row.windows]
    if own and not any(s <= kept[0] and kept[1] <= e for s, e in own):
        raise Conflict(
            f"windows: job {row.id} is promised {kept[0].isoformat()} to {kept[1].isoformat()}; "
            "its windows must keep holding that promise (unconfirm it first)",
            "windows",
        )


# ----- publishing ---------------------------------------------------------------------------


def follow_plan(
    session: Session, plan_id: int, day: dt.date, region: str, clock: DayClock, now: dt.datetime
) -> LiveScheduleRow:
    """Make the routes of a published plan the live routes of its day (crew visits
    keep their agreed start), in this transaction."""
    row = lock(session, day, region, now)
    visits = session.exec(
        select(VisitRow).where(VisitRow.plan_id == plan_id).order_by(col(VisitRow.technician_id), col(VisitRow.seq))
    ).all()
    crews = {
        job_id
        for job_id, size in session.exec(
            select(JobRow.id, JobRow.crew_size).where(col(JobRow.id).in_({v.job_id for v in visits}))
        ).all()
        if size == 2
    }
    by_tech: dict[str, list[tuple[str, int | None]]] = {}
    for v in visits:
        start = clock.from_stored(v.start) if v.job_id in crews else None
        by_tech.setdefault(v.technician_id, []).append((v.job_id, start))
    routes = [WorkingRoute(t, tuple(i for i, _ in seq), tuple(s for _, s in seq)) for t, seq in by_tech.items()]
    store_routes(row, routes, now)
    row.plan_id = plan_id
    session.add(row)
    return row


def mark_scheduled(
    session: Session, plan_id: int, previous_plan_id: int | None, now: dt.datetime, day: dt.date, tz: ZoneInfo
) -> None:
    """Jobs of the published plan (of ``day``) still open become ``scheduled``, but for
    a visit there that is over (a re-plan keeps a failed visit whose revisit is on another
    day: ``jobdays.on_day``); jobs of the plan it replaces that are no longer in it and
    were only scheduled are ``open`` again, unless the published plan of another day
    holds them."""
    in_plan = set(session.exec(select(VisitRow.job_id).where(VisitRow.plan_id == plan_id)).all())
    stamp = to_storage(now)
    if previous_plan_id is not None and previous_plan_id != plan_id:
        before = set(session.exec(select(VisitRow.job_id).where(VisitRow.plan_id == previous_plan_id)).all())
        # A job another day's published plan holds stays scheduled there (a revisit carried
        # over, a job re-dated and planned on its new day).
        elsewhere = set(
            session.exec(
                select(VisitRow.job_id)
                .join(PublishedPlanRow, col(PublishedPlanRow.plan_id) == col(VisitRow.plan_id))
                .where(
                    col(VisitRow.job_id).in_(before - in_plan),
                    col(VisitRow.plan_id).not_in([plan_id, previous_plan_id]),
                )
            ).all()
        )
        dropped = before - in_plan - elsewhere
        if dropped:
            for row in session.exec(
                select(JobRow).where(col(JobRow.id).in_(dropped), JobRow.status == SCHEDULED)
            ).all():
                row.status, row.updated_at = OPEN, stamp
                session.add(row)
    if in_plan:
        for row in session.exec(select(JobRow).where(col(JobRow.id).in_(in_plan), JobRow.status == OPEN)).all():
            if jobdays.on_day(session, row, day, tz) is not row:
                continue
            row.status, row.updated_at = SCHEDULED, stamp
            session.add(row)


def confirm_visits(session: Session, plan_id: int, now: dt.datetime) -> list[str]:
    """Promise every still-to-serve visit's told window of a plan; the ids of the jobs
    newly confirmed."""
    out = []
    rows = session.exec(
        select(VisitRow, JobRow)
        .join(JobRow, col(JobRow.id) == col(VisitRow.job_id))
        .where(VisitRow.plan_id == plan_id, col(JobRow.status).in_(PLANNABLE))
    ).all()
    for visit, job in rows:
        if visit.window_start is None or visit.window_end is None:
            continue
        if confirm(job, (stored_utc(visit.window_start), stored_utc(visit.window_end)), now):
            session.add(job)
            out.append(job.id)
    return out


def slot_lengths_s(slot_minutes: Mapping[str, int]) -> dict[str, int]:
    """The slot grid's window length per job kind, in seconds (60 minutes when unnamed)."""
    return {kind: minutes * 60 for kind, minutes in slot_minutes.items()}
