"""The day's figures (GET /v1/kpis): the published plan's KPIs plus what the
field reported (on-time arrivals, first-time fixes)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from dispatch.mapping import DayClock
from dispatch.planning import published_plan_id
from dispatch.tables import EventRow, JobRow, PlanRow, TechnicianRow, UnassignedRow, VisitRow
from dispatch.timeutil import stored_utc, to_storage
from solver.problem import TechnicianKind

ON_TIME_GRACE = dt.timedelta(minutes=15)


def day_kpis(session: Session, day: dt.date, region: str, tz: ZoneInfo) -> dict[str, Any]:
    """Planned and reported figures of a day; planned ones are None without a published
    plan (a published re-plan's job counts, SLA kept and partner share are the whole
    day's, its utilisation and travel share those of the rest of the day from its
    instant). The reported ones count the field's reports of that day (in ``tz``), for
    the region's jobs whatever their date now: a failed visit whose revisit was carried
    to a later day (``dispatch.field``) counts on the day it was made."""
    plan_id = published_plan_id(session, day, region)
    planned: dict[str, Any] = {}
    visits: list[VisitRow] = []
    if plan_id is not None:
        plan = session.get(PlanRow, plan_id)
        planned = dict(plan.kpis or {}) if plan is not None else {}
        visits = list(session.exec(select(VisitRow).where(VisitRow.plan_id == plan_id)).all())
        if plan is not None and plan.replan_from is not None:
            planned.update(_whole_day(session, plan_id, visits))
    clock = DayClock(day, tz)
    first, last = to_storage(clock.midnight), to_storage(clock.next_midnight)
    reported = session.exec(
        select(EventRow, JobRow)
        .join(JobRow, col(JobRow.id) == col(EventRow.job_id))
        .where(JobRow.region == region, col(EventRow.at) >= first, col(EventRow.at) < last)
        .order_by(col(EventRow.at))
    ).all()
    jobs = {job.id: job for _, job in reported}
    events = [event for event, _ in reported]
    arrived: dict[str, dt.datetime] = {}
    outcome: dict[str, str] = {}
    for event in events:
        if event.type == "arrived":
            arrived.setdefault(event.job_id, event.at)
        elif event.type in ("completed", "failed"):
            outcome[event.job_id] = event.type
    on_time = late = 0
    for job_id, at in arrived.items():
        job = jobs[job_id]
        latest = _latest_arrival(job, visits)
        if latest is None:
            continue
        if stored_utc(at) <= latest + ON_TIME_GRACE:
            on_time += 1
        else:
            late += 1
    completed = sum(1 for o in outcome.values() if o == "completed")
    failed = sum(1 for o in outcome.values() if o == "failed")
    technicians = len({v.technician_id for v in visits})
    return {
        "date": day.isoformat(),
        "region": region,
        "published_plan_id": plan_id,
        "on_time_rate": on_time / (on_time + late) if on_time + late else None,
        "first_time_fix": completed / (completed + failed) if completed + failed else None,
        "utilisation": planned.get("utilisation"),
        "travel_share": planned.get("travel_share"),
        "jobs_per_technician_day": (len(visits) / technicians) if technicians else None,
        "sla_kept": (planned["sla_kept"] / planned["sla_jobs"]) if planned.get("sla_jobs") else None,
        "partner_share": planned.get("partner_share"),
        "jobs_served": planned.get("jobs_served"),
        "jobs_total": planned.get("jobs_total"),
        "arrivals_reported": on_time + late,
        "outcomes_reported": completed + failed,
    }


def _whole_day(session: Session, plan_id: int, visits: list[VisitRow]) -> dict[str, Any]:
    """A re-plan's figures that count the whole day, not the rest of it from its instant
    (its stored ones): the day's jobs are those it keeps (done, under way) and plans,
    and those it leaves out; its deadlines kept and partners' share of the visits count
    the visits kept with those planned (``dispatch.kpis`` defines both). A visit it keeps
    that is over without being done (``changes.ended``: failed, or cancelled once
    reached) serves nothing."""
    plan = session.get(PlanRow, plan_id)
    ended = set((plan.changes or {}).get("ended", ())) if plan is not None else set()
    visits = [v for v in visits if v.job_id not in ended]
    served = {v.job_id for v in visits}
    left_out = set(session.exec(select(UnassignedRow.job_id).where(UnassignedRow.plan_id == plan_id)).all())
    jobs = session.exec(select(JobRow).where(col(JobRow.id).in_(served | left_out))).all()
    starts: dict[str, dt.datetime] = {}
    for v in visits:
        at = stored_utc(v.start)
        starts[v.job_id] = min(at, starts.get(v.job_id, at))
    deadlines = {j.id: stored_utc(j.deadline) for j in jobs if j.deadline is not None}
    kinds = dict(
        session.exec(
            select(TechnicianRow.id, TechnicianRow.kind).where(
                col(TechnicianRow.id).in_({v.technician_id for v in visits})
            )
        ).all()
    )
    partner_visits = sum(1 for v in visits if kinds.get(v.technician_id) == TechnicianKind.PARTNER.value)
    return {
        "jobs_served": len(served),
        "jobs_total": len(served | left_out),
        "sla_jobs": len(deadlines),
        "sla_kept": sum(1 for job_id, by in deadlines.items() if job_id in starts and starts[job_id] <= by),
        "partner_share": partner_visits / len(visits) if visits else 0.0,
    }


def _latest_arrival(job: JobRow, visits: list[VisitRow]) -> dt.datetime | None:
    """The end of the job's window the planned start lies in, else of the window its
    customer was told for the visit (a revisit carried to a later day has dropped the
    windows of the day gone), else the planned start."""
    planned = [v for v in visits if v.job_id == job.id]
    if not planned:
        return None
    start = stored_utc(planned[0].start)
    for begin, end in job.windows:
        b, e = stored_utc(dt.datetime.fromisoformat(begin)), stored_utc(dt.datetime.fromisoformat(end))
        if b <= start <= e:
            return e
    told_end = planned[0].window_end
    return stored_utc(told_end) if told_end is not None and stored_utc(told_end) >= start else start
