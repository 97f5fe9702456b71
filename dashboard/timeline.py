"""The Gantt's content: what each technician does when, and which visits are late or at risk.

A route becomes bars of five kinds: ``travel`` (the drive ending at the
arrival), ``waiting`` (on site before the start, or idle between stops),
``work`` (on site), ``lunch``, and behind them each visited job's ``window``.
Times are naive local clock times, as the API gave them, ready to plot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from dashboard.frames import clock
from dashboard.models import Job, Plan, Route, Technician, Visit

Category = Literal["window", "travel", "waiting", "work", "lunch"]
CATEGORIES: tuple[Category, ...] = ("window", "travel", "waiting", "work", "lunch")
Flag = Literal["late", "at risk"]
# A visit whose start is this close to the end of what it must keep (window,
# deadline, preferred window) is at risk: one slow leg and it is late.
AT_RISK_SLACK_MIN = 15.0
# Gaps shorter than this come from rounding travel to 0.1 min, not from waiting.
MIN_GAP_MIN = 1.0

SEGMENT_COLUMNS = ["row", "technician_id", "category", "start", "end", "job_id", "detail"]
FLAG_COLUMNS = ["row", "technician_id", "job_id", "at", "flag", "detail"]
LINK_COLUMNS = ["job_id", "at", "row_a", "row_b"]


def local(moment: dt.datetime) -> dt.datetime:
    """A naive local clock time (the API already answers in the service's time zone)."""
    return moment.replace(tzinfo=None)


def minutes(delta: dt.timedelta) -> float:
    return delta.total_seconds() / 60


@dataclass(frozen=True)
class Slack:
    """How many minutes a visit's start keeps from the nearest limit, and which."""

    minutes: float
    limit: str


def visit_slack(job: Job, visit: Visit) -> Slack | None:
    """The tightest of: end of the hard window the visit starts in, deadline,
    end of the preferred window. Negative means late. None: the job has no limit."""
    candidates: list[Slack] = []
    if job.windows:
        inside = [w for w in job.windows if w.start <= visit.start <= w.end]
        if inside:
            candidates.append(Slack(minutes(max(w.end for w in inside) - visit.start), "window"))
        else:
            passed = [w.end for w in job.windows if w.end < visit.start]
            if passed:
                candidates.append(Slack(minutes(max(passed) - visit.start), "window"))
    if job.deadline is not None:
        candidates.append(Slack(minutes(job.deadline - visit.start), "deadline"))
    if job.preferred_window is not None:
        candidates.append(Slack(minutes(job.preferred_window.end - visit.start), "preferred window"))
    return min(candidates, key=lambda s: s.minutes) if candidates else None


def visit_flag(slack: Slack | None) -> Flag | None:
    """``late`` past a limit, ``at risk`` within ``AT_RISK_SLACK_MIN`` of one."""
    if slack is None:
        return None
    if slack.minutes < 0:
        return "late"
    if slack.minutes < AT_RISK_SLACK_MIN:
        return "at risk"
    return None


def flag_detail(job_id: str, slack: Slack) -> str:
    if slack.minutes < 0:
        return f"{job_id} starts {-slack.minutes:.0f} min after its {slack.limit}"
    return f"{job_id} starts {slack.minutes:.0f} min before its {slack.limit} ends"


@dataclass(frozen=True)
class Timeline:
    """Everything the Gantt draws: bars, flags and crew links, and the row order."""

    rows: list[str]
    segments: pd.DataFrame
    flags: pd.DataFrame
    links: pd.DataFrame


def row_label(technician_id: str, technicians: dict[str, Technician]) -> str:
    tech = technicians.get(technician_id)
    return f"{technician_id} {tech.name}" if tech is not None and tech.name else technician_id


def _subtract(
    start: dt.datetime, end: dt.datetime, cut: tuple[dt.datetime, dt.datetime] | None
) -> list[tuple[dt.datetime, dt.datetime]]:
    """``[start, end]`` without ``cut``: zero, one or two pieces."""
    if cut is None or cut[1] <= start or cut[0] >= end:
        return [(start, end)]
    pieces = []
    if cut[0] > start:
        pieces.append((start, cut[0]))
    if cut[1] < end:
        pieces.append((cut[1], end))
    return pieces


def _route_segments(route: Route, row: str, jobs: dict[str, Job]) -> list[dict[str, object]]:
    segments: list[dict[str, object]] = []

    def add(category: Category, start: dt.datetime, end: dt.datetime, job_id: str = "", detail: str = "") -> None:
        if end > start:
            segments.append(
                {
                    "row": row,
                    "technician_id": route.technician_id,
                    "category": category,
                    "start": local(start),
                    "end": local(end),
                    "job_id": job_id,
                    "detail": detail,
                }
            )

    lunch = (route.lunch_start, route.lunch_end) if route.lunch_start and route.lunch_end else None
    busy_until = route.depart
    for visit in route.visits:
        job = jobs.get(visit.job_id)
        if job is not None:
            for w in job.windows:
                add("window", w.start, w.end, visit.job_id, f"{visit.job_id} window {clock(w.start)}–{clock(w.end)}")
            if not job.windows and job.deadline is not None:
                opens = job.release_at or route.depart or visit.start
                add("window", opens, job.deadline, visit.job_id, f"{visit.job_id} deadline {clock(job.deadline)}")
            elif not job.windows and job.preferred_window is not None:
                w = job.preferred_window
                add("window", w.start, w.end, visit.job_id, f"{visit.job_id} preferred {clock(w.start)}–{clock(w.end)}")
        leave = visit.arrival - dt.timedelta(minutes=visit.travel_min)
        if busy_until is not None and minutes(leave - busy_until) >= MIN_GAP_MIN:
            for a, b in _subtract(busy_until, leave, lunch):
                add("waiting", a, b, "", f"idle {minutes(b - a):.0f} min")
        add("travel", leave, visit.arrival, visit.job_id, f"drive to {visit.job_id}: {visit.travel_min:.0f} min")
        if minutes(visit.start - visit.arrival) >= MIN_GAP_MIN:
            add("waiting", visit.arrival, visit.start, visit.job_id, f"wait at {visit.job_id} for its window")
        kind = f" {job.kind}" if job is not None else ""
        add(
            "work",
            visit.start,
            visit.end,
            visit.job_id,
            f"{visit.job_id}{kind} {clock(visit.start)}–{clock(visit.end)}",
        )
        busy_until = visit.end
    if route.return_ is not None and busy_until is not None:
        home_min = max(0.0, route.travel_min - sum(v.travel_min for v in route.visits))
        leave = route.return_ - dt.timedelta(minutes=home_min)
        if minutes(leave - busy_until) >= MIN_GAP_MIN:
            for a, b in _subtract(busy_until, leave, lunch):
                add("waiting", a, b, "", f"idle {minutes(b - a):.0f} min")
        add("travel", max(leave, busy_until), route.return_, "", f"drive home: {home_min:.0f} min")
    if lunch is not None:
        add("lunch", lunch[0], lunch[1], "", f"lunch {clock(lunch[0])}–{clock(lunch[1])}")
    return segments


def build_timeline(plan: Plan, jobs: Sequence[Job], technicians: Sequence[Technician]) -> Timeline:
    """The Gantt of a done plan: one row per technician with visits, in id order."""
    by_job = {j.id: j for j in jobs}
    by_tech = {t.id: t for t in technicians}
    routes = sorted((r for r in plan.routes or [] if r.visits), key=lambda r: r.technician_id)
    rows = [row_label(r.technician_id, by_tech) for r in routes]
    segments: list[dict[str, object]] = []
    flags: list[dict[str, object]] = []
    starts: dict[str, list[tuple[str, dt.datetime]]] = {}
    for route, row in zip(routes, rows, strict=True):
        segments.extend(_route_segments(route, row, by_job))
        for visit in route.visits:
            starts.setdefault(visit.job_id, []).append((row, visit.start))
            job = by_job.get(visit.job_id)
            if job is None:
                continue
            slack = visit_slack(job, visit)
            flag = visit_flag(slack)
            if flag is not None and slack is not None:
                flags.append(
                    {
                        "row": row,
                        "technician_id": route.technician_id,
                        "job_id": visit.job_id,
                        "at": local(visit.start),
                        "flag": flag,
                        "detail": flag_detail(visit.job_id, slack),
                    }
                )
    links = [
        {"job_id": job_id, "at": local(min(at for _, at in seen)), "row_a": seen[0][0], "row_b": seen[1][0]}
        for job_id, seen in starts.items()
        if len(seen) >= 2
    ]
    return Timeline(
        rows=rows,
        segments=pd.DataFrame(segments, columns=SEGMENT_COLUMNS),
        flags=pd.DataFrame(flags, columns=FLAG_COLUMNS),
        links=pd.DataFrame(links, columns=LINK_COLUMNS),
    )
