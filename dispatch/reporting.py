"""The day's figures (GET /v1/kpis): the published plan's KPIs plus what the
field reported (on-time arrivals, first-time fixes)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session, col, select

from dispatch.planning import published_plan_id
from dispatch.tables import EventRow, JobRow, PlanRow, VisitRow
from dispatch.timeutil import stored_utc

ON_TIME_GRACE = dt.timedelta(minutes=15)


def day_kpis(session: Session, day: dt.date, region: str) -> dict[str, Any]:
    """Planned and reported figures of a day; planned ones are None without a published plan."""
    plan_id = published_plan_id(session, day, region)
    planned: dict[str, Any] = {}
    visits: list[VisitRow] = []
    if plan_id is not None:
        plan = session.get(PlanRow, plan_id)
        planned = dict(plan.kpis or {}) if plan is not None else {}
        visits = list(session.exec(select(VisitRow).where(VisitRow.plan_id == plan_id)).all())
    jobs = {j.id: j for j in session.exec(select(JobRow).where(JobRow.date == day, JobRow.region == region)).all()}
    events = (
        session.exec(select(EventRow).where(col(EventRow.job_id).in_(list(jobs))).order_by(col(EventRow.at))).all()
        if jobs
        else []
    )
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


def _latest_arrival(job: JobRow, visits: list[VisitRow]) -> dt.datetime | None:
    """The end of the window the planned start lies in, else the planned start."""
    planned = [stored_utc(v.start) for v in visits if v.job_id == job.id]
    if not planned:
        return None
    start = planned[0]
    for begin, end in job.windows:
        b, e = stored_utc(dt.datetime.fromisoformat(begin)), stored_utc(dt.datetime.fromisoformat(end))
        if b <= start <= e:
            return e
    return start
