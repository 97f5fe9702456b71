"""Explicit mapping from table rows to response schemas."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from api.schemas import (
    AbsenceOut,
    AuditActorOut,
    AuditEntryOut,
    BreakOut,
    CostOut,
    DateRangeOut,
    DeliveryCountsOut,
    DeliveryOut,
    DependsOnOut,
    DisruptionOut,
    EventOut,
    FailedVisitOut,
    JobOut,
    JobStatusOut,
    LiveDayOut,
    LiveTechnicianOut,
    LiveVisitOut,
    MyJobOut,
    PlanOut,
    PlanRouteOut,
    PlanVisitOut,
    ShiftOut,
    StabilityIn,
    StabilityOut,
    TechnicianOut,
    TokenInfoOut,
    UnassignedOut,
    UrgentJobOut,
    WebhookOut,
    WeekdayShiftOut,
    WindowOut,
    WorkingDayOut,
    WorkingLunchOut,
)
from dispatch import audit, auth
from dispatch.catalog import TechnicianRecord
from dispatch.eta import JobStatus, LiveDay, LiveVisit
from dispatch.field import MyVisit
from dispatch.inputs import CustomerIn, LatLon
from dispatch.mapping import Span
from dispatch.planning import stored_stability
from dispatch.tables import (
    DeliveryRow,
    DisruptionRow,
    EventRow,
    JobRow,
    PlanRow,
    RouteRow,
    TokenRow,
    UnassignedRow,
    VisitRow,
)
from dispatch.timeutil import from_storage
from dispatch.webhooks import PENDING, Subscription
from dispatch.worktime import WorkingDay
from solver.replan import Stability


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _break_out(earliest: int | None, latest: int | None, duration: int | None) -> BreakOut | None:
    if duration is None or earliest is None:
        return None
    return BreakOut(earliest=_clock(earliest), latest=_clock(latest or earliest), duration_min=duration)


def technician_out(record: TechnicianRecord, tz: ZoneInfo) -> TechnicianOut:
    """A technician with their shifts, weekly template and absences (in ``tz``) as the API shows them."""
    row = record.row
    shifts = [
        ShiftOut(
            date=s.date,
            start=_clock(s.start_min),
            end=_clock(s.end_min),
            break_=_break_out(s.break_earliest_min, s.break_latest_min, s.break_duration_min),
        )
        for s in record.shifts
    ]
    week = [
        WeekdayShiftOut(
            weekday=w.weekday,
            start=_clock(w.start_min),
            end=_clock(w.end_min),
            break_=_break_out(w.break_earliest_min, w.break_latest_min, w.break_duration_min),
        )
        for w in record.week
    ]
    absences = [
        AbsenceOut(start=from_storage(a.start, tz), end=from_storage(a.end, tz), reason=a.reason)
        for a in record.absences
    ]
    end = LatLon(lat=row.end_lat, lon=row.end_lon) if row.end_lat is not None and row.end_lon is not None else None
    return TechnicianOut(
        id=row.id,
        name=row.name,
        kind=row.kind,
        region=row.region,
        home=LatLon(lat=row.home_lat, lon=row.home_lon),
        end=end,
        skills=row.skills,
        shifts=shifts,
        week=week,
        absences=absences,
        max_jobs=row.max_jobs,
        max_overtime_min=row.max_overtime_min,
        cost=CostOut(
            per_hour=row.cost_per_hour_cents / 100,
            per_km=row.cost_per_km_cents / 100,
            per_job=row.cost_per_job_cents / 100,
            overtime_per_hour=row.overtime_per_hour_cents / 100,
        ),
    )


def working_day_out(day: WorkingDay, tz: ZoneInfo) -> WorkingDayOut:
    """A technician's working time on one date (``dispatch.catalog.working_days``) as the API shows it, in ``tz``."""
    lunch = None
    if day.pause_earliest is not None and day.pause_latest is not None:
        lunch = WorkingLunchOut(
            earliest=day.pause_earliest.astimezone(tz),
            latest=day.pause_latest.astimezone(tz),
            duration_min=day.pause_min,
        )
    return WorkingDayOut(
        date=day.date,
        technician_id=day.technician_id,
        start=day.start.astimezone(tz),
        end=day.end.astimezone(tz),
        lunch=lunch,
        max_overtime_min=day.max_overtime_min,
        minutes=day.minutes,
    )


def _local(moment: dt.datetime | None, tz: ZoneInfo) -> dt.datetime | None:
    return from_storage(moment, tz) if moment is not None else None


def _span(start: dt.datetime | None, end: dt.datetime | None, tz: ZoneInfo) -> WindowOut | None:
    """Two stored datetimes as a local window (None when either is missing)."""
    if start is None or end is None:
        return None
    return WindowOut(start=from_storage(start, tz), end=from_storage(end, tz))


def windows_out(row: JobRow, tz: ZoneInfo) -> list[WindowOut]:
    """A job's hard windows in local time."""
    return [
        WindowOut(
            start=from_storage(dt.datetime.fromisoformat(a), tz), end=from_storage(dt.datetime.fromisoformat(b), tz)
        )
        for a, b in row.windows
    ]


def job_out(row: JobRow, tz: ZoneInfo, failed: EventRow | None = None) -> JobOut:
    """A job as the API shows it to a dispatcher (``failed``: its last failed visit)."""
    preferred = None
    if row.preferred_start is not None and row.preferred_end is not None:
        preferred = WindowOut(start=from_storage(row.preferred_start, tz), end=from_storage(row.preferred_end, tz))
    return JobOut(
        id=row.id,
        kind=row.kind,
        status=row.status,
        region=row.region,
        date=row.date,
        date_range=DateRangeOut.model_validate({"from": row.date_from, "to": row.date_to})
        if row.date_from is not None and row.date_to is not None
        else None,
        preferred_date=row.preferred_date,
        days=row.days,
        location=LatLon(lat=row.lat, lon=row.lon),
        address=row.address,
        customer=CustomerIn(name=row.customer_name, phone=row.customer_phone),
        duration_min=row.duration_min,
        skills=row.skills,
        crew_size=row.crew_size,
        windows=windows_out(row, tz),
        preferred_window=preferred,
        soft_penalty_per_min=row.soft_penalty_per_min_cents / 100,
        release_at=_local(row.release_at, tz),
        deadline=_local(row.deadline, tz),
        priority=row.priority,
        pinned_technician_id=row.pinned_technician_id,
        preferred_technician_id=row.preferred_technician_id,
        depends_on=_depends_on(row),
        notes=row.notes,
        booked=row.booked,
        confirmed=row.confirmed,
        promised_window=_span(row.promised_start, row.promised_end, tz) if row.confirmed else None,
        reason=row.reason,
        actual_start=_local(row.actual_start, tz),
        actual_end=_local(row.actual_end, tz),
        failed_visit=FailedVisitOut(
            technician_id=failed.technician_id,
            at=from_storage(failed.at, tz),
            reason=failed.reason,
            events=f"/v1/jobs/{row.id}/events",
        )
        if failed is not None and row.reason is not None
        else None,
    )


def stability_in(body: StabilityIn, service: Stability) -> Stability:
    """A re-plan's stability: what ``body`` gives, in euros and minutes, and the
    service's setting for what it leaves out."""
    return Stability(
        move_cents=service.move_cents if body.move_eur is None else round(body.move_eur * 100),
        per_min_cents=service.per_min_cents if body.minute_eur is None else round(body.minute_eur * 100),
        tolerance_min=service.tolerance_min if body.tolerance_min is None else body.tolerance_min,
        told_cents=service.told_cents if body.told_eur is None else round(body.told_eur * 100),
    )


def stability_out(stability: Stability) -> StabilityOut:
    """A stability as the API shows it, in euros and minutes."""
    return StabilityOut(
        move_eur=stability.move_cents / 100,
        minute_eur=stability.per_min_cents / 100,
        tolerance_min=stability.tolerance_min,
        told_eur=stability.told_cents / 100,
    )


def plan_out(
    plan: PlanRow,
    published: bool,
    tz: ZoneInfo,
    contents: tuple[list[RouteRow], list[VisitRow], list[UnassignedRow]] | None = None,
) -> PlanOut:
    """A plan version; routes and unassigned jobs once it is done and ``contents`` given,
    and while it runs once its first answer is stored (the answer as it stands)."""
    assert plan.id is not None
    out = PlanOut(
        id=plan.id,
        date=plan.date,
        date_to=plan.date_to,
        horizon_id=plan.horizon_id,
        region=plan.region,
        status=plan.status,  # type: ignore[arg-type]
        progress=plan.progress,
        time_limit_s=plan.time_limit_s,
        published=published,
        error=plan.error,
        attempt=plan.attempt,
        worker=plan.worker,
        created_at=from_storage(plan.created_at, tz),
        finished_at=_local(plan.finished_at, tz),
        replan_from=_local(plan.replan_from, tz),
        stability=None if plan.stability is None else stability_out(stored_stability(plan, Stability())),
        changes=plan.changes,
        edited_from=plan.edited_from,
        locks=plan.locks,
        override=plan.override,
        phase=plan.phase,  # type: ignore[arg-type]
        first_answer_s=plan.first_answer_s,
    )
    answered = plan.status == "done" or (plan.status == "running" and plan.first_answer_s is not None)
    if contents is not None and answered:
        routes, visits, unassigned = contents
        by_tech: dict[str, list[PlanVisitOut]] = {}
        for v in visits:
            by_tech.setdefault(v.technician_id, []).append(
                PlanVisitOut(
                    job_id=v.job_id,
                    seq=v.seq,
                    arrival=from_storage(v.arrival, tz),
                    start=from_storage(v.start, tz),
                    end=from_storage(v.end, tz),
                    travel_min=v.travel_min,
                    window=_span(v.window_start, v.window_end, tz),
                )
            )
        out.routes = [
            PlanRouteOut(
                technician_id=r.technician_id,
                depart=_local(r.depart, tz),
                return_=_local(r.return_at, tz),
                lunch_start=_local(r.lunch_start, tz),
                lunch_end=_local(r.lunch_end, tz),
                visits=by_tech.get(r.technician_id, []),
                travel_min=r.travel_min,
                work_min=r.work_min,
                distance_km=r.distance_km,
            )
            for r in routes
        ]
        out.unassigned = [UnassignedOut(job_id=u.job_id, code=u.code, reason=u.reason) for u in unassigned]
        out.kpis = plan.kpis
        out.objective = plan.objective
    return out


def horizon_out(
    run: PlanRow,
    published: bool,
    tz: ZoneInfo,
    days: list[tuple[PlanRow, tuple[list[RouteRow], list[VisitRow], list[UnassignedRow]]]],
) -> PlanOut:
    """A plan over several days: the run, with the routes of its day plans ``days`` (each
    route with its ``date``) and their unassigned jobs, once it is done."""
    out = plan_out(run, published, tz)
    if run.status != "done":
        return out
    out.routes, out.unassigned = [], []
    for day, contents in days:
        one = plan_out(day, published, tz, contents)
        out.routes += [route.model_copy(update={"date": day.date}) for route in one.routes or []]
        out.unassigned += one.unassigned or []
    out.kpis = run.kpis
    out.objective = run.objective
    return out


def my_job_out(item: MyVisit, tz: ZoneInfo) -> MyJobOut:
    """One stop of an installer's day."""
    job, visit = item.job, item.visit
    return MyJobOut(
        job_id=job.id,
        plan_id=visit.plan_id,
        seq=visit.seq,
        kind=job.kind,
        arrival=from_storage(visit.arrival, tz),
        start=from_storage(visit.start, tz),
        end=from_storage(visit.end, tz),
        windows=windows_out(job, tz),
        window=None if item.window is None else WindowOut(start=item.window[0], end=item.window[1]),
        address=job.address,
        location=LatLon(lat=job.lat, lon=job.lon),
        customer=CustomerIn(name=job.customer_name, phone=job.customer_phone),
        duration_min=job.duration_min,
        days=job.days,
        day=item.day,
        crew=item.crew,
        notes=job.notes,
        status=item.status,  # type: ignore[arg-type]
    )


def event_out(row: EventRow, tz: ZoneInfo) -> EventOut:
    """A stored status event."""
    assert row.id is not None
    return EventOut(
        id=row.id,
        job_id=row.job_id,
        technician_id=row.technician_id,
        type=row.type,
        at=from_storage(row.at, tz),
        note=row.note,
        reason=row.reason,
    )


def webhook_out(item: Subscription, tz: ZoneInfo) -> WebhookOut:
    """A subscription as the dispatcher sees it: never its secret."""
    row = item.row
    assert row.id is not None
    return WebhookOut(
        id=row.id,
        url=row.url,
        types=list(row.types),
        created_at=from_storage(row.created_at, tz),
        deliveries=DeliveryCountsOut(**item.counts),
    )


def delivery_out(row: DeliveryRow, event_type: str, tz: ZoneInfo) -> DeliveryOut:
    """One delivery of the outbox and where it stands."""
    assert row.id is not None
    return DeliveryOut(
        id=row.id,
        event_id=row.event_id,
        type=event_type,
        state=row.state,  # type: ignore[arg-type]
        attempts=row.attempts,
        next_attempt_at=from_storage(row.next_attempt_at, tz) if row.state == PENDING else None,
        last_status=row.last_status,
        last_error=row.last_error,
        created_at=from_storage(row.created_at, tz),
        delivered_at=_local(row.delivered_at, tz),
    )


def _span_out(span: Span | None) -> WindowOut | None:
    return WindowOut(start=span[0], end=span[1]) if span is not None else None


def job_status_out(item: JobStatus) -> JobStatusOut:
    """A job's customer-facing status."""
    return JobStatusOut(
        job_id=item.job_id,
        status=item.status,
        window=_span_out(item.window),
        eta=item.eta,
        technician_first_name=item.technician_first_name,
    )


def _live_visit_out(v: LiveVisit) -> LiveVisitOut:
    return LiveVisitOut(
        job_id=v.job_id,
        seq=v.seq,
        state=v.state,  # type: ignore[arg-type]
        status=v.status,
        kind=v.kind,
        priority=v.priority,
        planned_arrival=v.planned_arrival,
        planned_start=v.planned_start,
        planned_end=v.planned_end,
        actual_start=v.actual_start,
        actual_end=v.actual_end,
        eta=v.eta,
        expected_end=v.expected_end,
        delay_min=v.delay_min,
        at_risk=v.at_risk,
        risk=v.risk,  # type: ignore[arg-type]
        window=_span_out(v.window),
    )


def live_day_out(day: LiveDay, tz: ZoneInfo) -> LiveDayOut:
    """The live day of a region: per technician the re-timed visits, and the urgent work."""
    return LiveDayOut(
        date=day.date,
        region=day.region,
        now=day.now.astimezone(tz),
        plan_id=day.plan_id,
        technicians=[
            LiveTechnicianOut(technician_id=t.technician_id, name=t.name, visits=[_live_visit_out(v) for v in t.visits])
            for t in day.technicians
        ],
        urgent=[
            UrgentJobOut(
                job_id=j.id,
                kind=j.kind,
                status=j.status,
                address=j.address,
                deadline=_local(j.deadline, tz),
                windows=windows_out(j, tz),
                created_at=from_storage(j.created_at, tz),
            )
            for j in day.urgent
        ],
    )


def disruption_out(row: DisruptionRow, tz: ZoneInfo) -> DisruptionOut:
    """A recorded disruption, in local time."""
    assert row.id is not None
    return DisruptionOut(
        id=row.id,
        type=row.type,
        date=row.date,
        region=row.region,
        technician_id=row.technician_id,
        job_id=row.job_id,
        from_=_local(row.from_at, tz),
        until=_local(row.until_at, tz),
        expected_end=_local(row.expected_end, tz),
        at=_local(row.at, tz),
        location=LatLon(lat=row.lat, lon=row.lon) if row.lat is not None and row.lon is not None else None,
        created_at=from_storage(row.created_at, tz),
    )


def token_info_out(row: TokenRow, tz: ZoneInfo, now: dt.datetime) -> TokenInfoOut:
    """An issued token without its secret; ``active``: accepted at ``now``."""
    assert row.id is not None

    def local(moment: dt.datetime | None) -> dt.datetime | None:
        return from_storage(moment, tz) if moment is not None else None

    return TokenInfoOut(
        id=row.id,
        role=row.role,
        technician_id=row.technician_id,
        label=row.label,
        created_at=from_storage(row.created_at, tz),
        expires_at=local(row.expires_at),
        last_used_at=local(row.last_used_at),
        revoked_at=local(row.revoked_at),
        active=auth.usable(row, now),
    )


def audit_entry_out(entry: audit.Entry, tz: ZoneInfo) -> AuditEntryOut:
    """An audit entry with who acted."""
    row = entry.row
    assert row.id is not None
    actor = AuditActorOut(token_id=row.token_id, role=row.role, label=entry.label)
    return AuditEntryOut(
        id=row.id, at=from_storage(row.at, tz), actor=actor, action=row.action, subject=row.subject, detail=row.detail
    )


def _depends_on(row: JobRow) -> DependsOnOut | None:
    """A stored dependency as the API shows it (lags in hours)."""
    if row.depends_on is None:
        return None
    max_lag = row.depends_max_lag_min
    return DependsOnOut(
        job_id=row.depends_on,
        min_lag_hours=row.depends_min_lag_min / 60,
        max_lag_hours=None if max_lag is None else max_lag / 60,
        min_lag_days=row.depends_min_lag_days,
        max_lag_days=row.depends_max_lag_days,
    )
