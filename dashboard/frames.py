"""Tables the board shows, built from the API's answers (no Streamlit here)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from dashboard.models import Job, Plan, Technician, Window

JOB_COLUMNS = [
    "id",
    "kind",
    "priority",
    "status",
    "skills",
    "duration_min",
    "crew_size",
    "windows",
    "deadline",
    "pinned_to",
    "address",
    "customer",
]
TECHNICIAN_COLUMNS = [
    "id",
    "name",
    "kind",
    "region",
    "skills",
    "shift",
    "break",
    "max_jobs",
    "max_overtime_min",
    "per_hour_eur",
    "per_job_eur",
]


def clock(moment: dt.datetime | None) -> str:
    """``HH:MM`` in the offset the API gave (the service's local time)."""
    return moment.strftime("%H:%M") if moment is not None else ""


def skills_text(skills: dict[str, int]) -> str:
    """``kitchen 2, plumbing 1``."""
    return ", ".join(f"{code} {level}" for code, level in sorted(skills.items()))


def windows_text(windows: Sequence[Window]) -> str:
    """``09:00–10:00, 13:00–14:00`` (empty: any time in a shift)."""
    return ", ".join(f"{clock(w.start)}–{clock(w.end)}" for w in windows)


def jobs_frame(jobs: Iterable[Job]) -> pd.DataFrame:
    """One row per job, in the columns of ``JOB_COLUMNS``."""
    rows = [
        {
            "id": j.id,
            "kind": j.kind,
            "priority": j.priority,
            "status": j.status,
            "skills": skills_text(j.skills),
            "duration_min": j.duration_min,
            "crew_size": j.crew_size,
            "windows": windows_text(j.windows),
            "deadline": clock(j.deadline),
            "pinned_to": j.pinned_technician_id or "",
            "address": j.address,
            "customer": j.customer.name,
        }
        for j in jobs
    ]
    return pd.DataFrame(rows, columns=JOB_COLUMNS)


@dataclass(frozen=True)
class JobFilter:
    """What the dispatcher narrowed the jobs table to; empty means all."""

    kinds: Sequence[str] = field(default_factory=tuple)
    priorities: Sequence[int] = field(default_factory=tuple)
    skills: Sequence[str] = field(default_factory=tuple)
    statuses: Sequence[str] = field(default_factory=tuple)


def filter_jobs(jobs: Sequence[Job], wanted: JobFilter) -> list[Job]:
    """The jobs that pass every non-empty criterion (a skill filter keeps jobs needing any of them)."""
    return [
        j
        for j in jobs
        if (not wanted.kinds or j.kind in wanted.kinds)
        and (not wanted.priorities or j.priority in wanted.priorities)
        and (not wanted.statuses or j.status in wanted.statuses)
        and (not wanted.skills or any(s in j.skills for s in wanted.skills))
    ]


def skill_codes(items: Iterable[Job | Technician]) -> list[str]:
    """Every skill code any of ``items`` needs or holds, sorted."""
    return sorted({code for item in items for code in item.skills})


def technicians_frame(technicians: Iterable[Technician], day: dt.date | None = None) -> pd.DataFrame:
    """One row per technician; ``shift`` and ``break`` of ``day`` (empty when off that day)."""
    rows = []
    for t in technicians:
        shift = t.shift_on(day) if day is not None else None
        brk = shift.break_ if shift is not None else None
        rows.append(
            {
                "id": t.id,
                "name": t.name,
                "kind": t.kind,
                "region": t.region,
                "skills": skills_text(t.skills),
                "shift": f"{shift.start}–{shift.end}" if shift is not None else "",
                "break": f"{brk.duration_min} min in {brk.earliest}–{brk.latest}" if brk is not None else "",
                "max_jobs": t.max_jobs,
                "max_overtime_min": t.max_overtime_min,
                "per_hour_eur": t.cost.per_hour,
                "per_job_eur": t.cost.per_job,
            }
        )
    return pd.DataFrame(rows, columns=TECHNICIAN_COLUMNS)


def shifts_frame(technician: Technician) -> pd.DataFrame:
    """Every shift of one technician with its break."""
    rows = [
        {
            "date": s.date.isoformat(),
            "start": s.start,
            "end": s.end,
            "break_earliest": s.break_.earliest if s.break_ else "",
            "break_latest": s.break_.latest if s.break_ else "",
            "break_min": s.break_.duration_min if s.break_ else 0,
        }
        for s in sorted(technician.shifts, key=lambda s: s.date)
    ]
    return pd.DataFrame(rows, columns=["date", "start", "end", "break_earliest", "break_latest", "break_min"])


def working_on(technicians: Iterable[Technician], day: dt.date) -> list[Technician]:
    """The technicians with a shift on ``day``."""
    return [t for t in technicians if t.shift_on(day) is not None]


def unassigned_frame(plan: Plan, jobs: Sequence[Job]) -> pd.DataFrame:
    """The plan's unassigned jobs with their reasons, most urgent first."""
    by_id = {j.id: j for j in jobs}
    rows = []
    for u in plan.unassigned or []:
        job = by_id.get(u.job_id)
        rows.append(
            {
                "job": u.job_id,
                "kind": job.kind if job else "",
                "priority": job.priority if job else None,
                "reason": u.reason,
                "code": u.code,
                "address": job.address if job else "",
            }
        )
    frame = pd.DataFrame(rows, columns=["job", "kind", "priority", "reason", "code", "address"])
    return frame.sort_values(["priority", "job"], kind="stable").reset_index(drop=True)


def versions_frame(plans: Iterable[Plan]) -> pd.DataFrame:
    """The plan versions of a day, newest first, as ``GET /v1/plans`` lists them."""
    rows = [
        {
            "version": p.id,
            "status": p.status,
            "published": "✔" if p.published else "",
            "time_limit_s": p.time_limit_s,
            "created": p.created_at.strftime("%Y-%m-%d %H:%M:%S") if p.created_at else "",
            "error": p.error or "",
        }
        for p in plans
    ]
    return pd.DataFrame(rows, columns=["version", "status", "published", "time_limit_s", "created", "error"])


def version_label(plan: Plan) -> str:
    """``#12 · done · published``: how a version is named in pickers."""
    parts = [f"#{plan.id}", plan.status]
    if plan.published:
        parts.append("published")
    if plan.created_at is not None:
        parts.append(plan.created_at.strftime("%H:%M:%S"))
    return " · ".join(parts)


def default_day(technicians: Iterable[Technician], today: dt.date) -> dt.date:
    """The first day from ``today`` on that someone works, else the last worked day, else tomorrow."""
    days = sorted({s.date for t in technicians for s in t.shifts})
    upcoming = [d for d in days if d >= today]
    if upcoming:
        return upcoming[0]
    return days[-1] if days else today + dt.timedelta(days=1)
