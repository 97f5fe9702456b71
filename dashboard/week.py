"""The week view (no Streamlit here): technicians × days, each cell the day's load
(planned minutes against the minutes of working time), jobs and unassigned per day,
from the API's per-day reads: working time, jobs and the day's plan (the published
version, else the newest done one)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from dashboard.models import Job, Plan, Technician, WorkingDay

DAY_COLUMNS = [
    "date",
    "technicians",
    "jobs",
    "planned",
    "unassigned",
    "planned_h",
    "working_h",
    "load_pct",
    "plan",
]


def week_of(day: dt.date) -> list[dt.date]:
    """Monday to Sunday of the week ``day`` lies in."""
    monday = day - dt.timedelta(days=day.weekday())
    return [monday + dt.timedelta(days=n) for n in range(7)]


def day_plan(versions: Sequence[Plan]) -> Plan | None:
    """The version a day is read from: the published one, else the newest done one."""
    done = [p for p in versions if p.status == "done"]
    published = [p for p in done if p.published]
    if published:
        return published[0]
    return max(done, key=lambda p: p.id, default=None)


@dataclass(frozen=True)
class WeekDay:
    """One date of the week: its jobs, its plan (full, or None when it has none) and who works."""

    date: dt.date
    jobs: list[Job]
    plan: Plan | None
    working: dict[str, WorkingDay]

    def planned_min(self, technician_id: str) -> float:
        """Minutes of visits planned for ``technician_id`` (none without a plan)."""
        if self.plan is None:
            return 0.0
        return sum(
            (v.end - v.start).total_seconds() / 60
            for r in self.plan.routes or []
            if r.technician_id == technician_id
            for v in r.visits
        )

    def visits(self, technician_id: str) -> int:
        """Visits planned for ``technician_id``."""
        if self.plan is None:
            return 0
        return sum(len(r.visits) for r in self.plan.routes or [] if r.technician_id == technician_id)

    @property
    def live_jobs(self) -> list[Job]:
        """The date's jobs less cancelled ones."""
        return [j for j in self.jobs if j.status != "cancelled"]


def column(day: dt.date) -> str:
    """A day's column heading: ``Mon 07 Dec``."""
    return f"{day:%a %d %b}"


def _cell(tech: Technician, day: WeekDay) -> tuple[str, float | None]:
    """The text of one technician's day and its load (None: not working)."""
    working = day.working.get(tech.id)
    if working is None:
        away = tech.absent_on(day.date)
        if away:
            return f"away: {away[0].reason or 'absent'}", None
        return "off", None
    planned = day.planned_min(tech.id)
    load = planned / working.minutes if working.minutes > 0 else 0.0
    visits = day.visits(tech.id)
    jobs = f"{visits} job" + ("" if visits == 1 else "s")
    return f"{planned / 60:.1f}/{working.minutes / 60:.1f} h · {jobs} · {load:.0%}", load


def week_frames(technicians: Iterable[Technician], days: Sequence[WeekDay]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Technicians × days: the text of each cell (``planned/working h · jobs · load``,
    ``off`` or ``away: reason``) and, beside it, each cell's load (planned minutes over
    the minutes of working time; NaN where the technician does not work)."""
    text_rows, load_rows = [], []
    for tech in technicians:
        text: dict[str, object] = {"id": tech.id, "name": tech.name}
        load: dict[str, object] = {"id": tech.id, "name": tech.name}
        for day in days:
            cell, share = _cell(tech, day)
            text[column(day.date)] = cell
            load[column(day.date)] = share if share is not None else float("nan")
        text_rows.append(text)
        load_rows.append(load)
    columns = ["id", "name", *(column(d.date) for d in days)]
    return pd.DataFrame(text_rows, columns=columns), pd.DataFrame(load_rows, columns=columns)


def days_frame(days: Sequence[WeekDay]) -> pd.DataFrame:
    """One row per date: technicians working, jobs (not cancelled), planned and
    unassigned in the day's plan, planned and working hours, load, and which plan."""
    rows = []
    for day in days:
        working_min = sum(w.minutes for w in day.working.values())
        planned_min = sum(day.planned_min(t) for t in day.working)
        plan = day.plan
        rows.append(
            {
                "date": day.date.isoformat(),
                "technicians": len(day.working),
                "jobs": len(day.live_jobs),
                "planned": len(plan.served_job_ids()) if plan is not None else 0,
                "unassigned": len(plan.unassigned or []) if plan is not None else None,
                "planned_h": round(planned_min / 60, 1),
                "working_h": round(working_min / 60, 1),
                "load_pct": round(100 * planned_min / working_min) if working_min else None,
                "plan": "" if plan is None else f"#{plan.id}" + (" published" if plan.published else " newest"),
            }
        )
    return pd.DataFrame(rows, columns=DAY_COLUMNS)


def load_colour(load: float) -> str:
    """A cell's background for its load: light under 50 %, deeper to 100 %, red beyond."""
    if load != load:  # NaN: not working
        return "background-color: #f0f0f0; color: #888"
    if load > 1.0:
        return "background-color: #f4a3a3"
    if load >= 0.8:
        return "background-color: #8fd19e"
    if load >= 0.5:
        return "background-color: #c8ebd0"
    return "background-color: #eef8f0"
