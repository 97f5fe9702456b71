"""Tables the board shows, built from the API's answers (no Streamlit here)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dashboard.models import Job, Plan, Technician, Window, WorkingDay

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


def technicians_frame(technicians: Iterable[Technician], working: Mapping[str, WorkingDay]) -> pd.DataFrame:
    """One row per technician; ``shift`` and ``break`` (the day's pause) of the day of
    ``working`` (``data.working_on``; empty when off that day)."""
    rows = []
    for t in technicians:
        day = working.get(t.id)
        brk = day.lunch if day is not None else None
        rows.append(
            {
                "id": t.id,
                "name": t.name,
                "kind": t.kind,
                "region": t.region,
                "skills": skills_text(t.skills),
                "shift": f"{clock(day.start)}–{clock(day.end)}" if day is not None else "",
                "break": f"{brk.duration_min} min in {clock(brk.earliest)}–{clock(brk.latest)}"
                if brk is not None
                else "",
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


def working_on(technicians: Iterable[Technician], working: Mapping[str, WorkingDay]) -> list[Technician]:
    """The technicians who work on the day of ``working`` (``data.working_on``: by id)."""
    return [t for t in technicians if t.id in working]


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


def run_failure(plan: Plan) -> str:
    """Why a run ended without a plan, as markdown: a refusal (``refused: a; b; …``, one
    sentence per promise it would break) as a list, one sentence a line."""
    error = plan.error or "no plan was made"
    head, sep, rest = error.partition("refused: ")
    if head or not sep:
        return f"Plan #{plan.id} {plan.status}: {error}"
    reasons = [r.strip() for r in rest.split("; ") if r.strip()]
    return f"Plan #{plan.id} was refused ({len(reasons)} reasons):\n\n" + "\n".join(f"- {r}" for r in reasons)


def version_label(plan: Plan) -> str:
    """``#12 · done · published``: how a version is named in pickers."""
    parts = [f"#{plan.id}", plan.status]
    if plan.published:
        parts.append("published")
    if plan.created_at is not None:
        parts.append(plan.created_at.strftime("%H:%M:%S"))
    return " · ".join(parts)


def default_day(technicians: Iterable[Technician], today: dt.date) -> dt.date:
    """The first day from ``today`` on that someone works (an explicit shift, or a weekday
    of a weekly template), else the last worked day, else tomorrow."""
    technicians = list(technicians)
    days = sorted({s.date for t in technicians for s in t.shifts})
    upcoming = [d for d in days if d >= today]
    weekdays = {w.weekday for t in technicians for w in t.week}
    templated = next(
        (today + dt.timedelta(days=n) for n in range(7) if (today + dt.timedelta(days=n)).isoweekday() in weekdays),
        None,
    )
    if templated is not None and (not upcoming or templated < upcoming[0]):
        return templated
    if upcoming:
        return upcoming[0]
    return days[-1] if days else today + dt.timedelta(days=1)


WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
"""Weekday names by ISO weekday - 1."""


def with_weekdays(message: str, week: Sequence[Mapping[str, Any]]) -> str:
    """An API message about a weekly template sent as ``week`` (its rows, each with its
    ISO ``weekday``) with each row's place (``week.0``: the first row sent, which is the
    first weekday ticked, not Monday) given as its weekday's name (``week.Sat``)."""

    def named(found: re.Match[str]) -> str:
        index = int(found.group(1))
        return f"week.{WEEKDAYS[int(week[index]['weekday']) - 1]}" if index < len(week) else found.group(0)

    return re.sub(r"week\.(\d+)", named, message)


def week_template_frame(technician: Technician) -> pd.DataFrame:
    """The weekly template of one technician, Monday first (weekdays without a shift left out)."""
    rows = [
        {
            "weekday": WEEKDAYS[w.weekday - 1],
            "start": w.start,
            "end": w.end,
            "break_earliest": w.break_.earliest if w.break_ else "",
            "break_latest": w.break_.latest if w.break_ else "",
            "break_min": w.break_.duration_min if w.break_ else 0,
        }
        for w in sorted(technician.week, key=lambda w: w.weekday)
    ]
    return pd.DataFrame(rows, columns=["weekday", "start", "end", "break_earliest", "break_latest", "break_min"])


def absence_label(start: dt.datetime, end: dt.datetime, reason: str) -> str:
    """``2026-12-07 08:00 – 2026-12-07 10:00 doctor``: how an absence is named on the board."""
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}" + (f" {reason}" if reason else "")


def absences_frame(technician: Technician) -> pd.DataFrame:
    """The absences of one technician, by start, in the offsets the API gave (the dispatch time zone's)."""
    rows = [
        {"start": f"{a.start:%Y-%m-%d %H:%M}", "end": f"{a.end:%Y-%m-%d %H:%M}", "reason": a.reason}
        for a in sorted(technician.absences, key=lambda a: a.start)
    ]
    return pd.DataFrame(rows, columns=["start", "end", "reason"])
