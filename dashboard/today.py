"""The "Today" page's tables, built from ``GET /v1/live`` (no Streamlit here).

Per technician: how many visits are done, which is under way and which is next
(with its ETA), the delay against the plan and how many visits are at risk; every
visit with its planned, expected and actual times; and the urgent work not in the
published plan.
"""

from __future__ import annotations

import pandas as pd

from dashboard.frames import clock, windows_text
from dashboard.models import LiveDay, LiveTechnician, LiveVisit

SUMMARY_COLUMNS = ["technician", "name", "done", "under_way", "next", "next_eta", "delay_min", "at_risk"]
VISIT_COLUMNS = [
    "technician",
    "seq",
    "job",
    "kind",
    "state",
    "status",
    "window",
    "planned",
    "eta",
    "actual",
    "expected_end",
    "delay_min",
    "at_risk",
    "risk",
]
URGENT_COLUMNS = ["job", "kind", "status", "deadline", "windows", "address"]
AT_RISK_STYLE = "background-color: #fde2e1; color: #8a1c14"
REFRESH_S = 15
"""How often the page asks the API again (seconds)."""


def current_delay(tech: LiveTechnician) -> int:
    """The technician's delay against the plan now, as the next customer sees it: that
    of the next visit, else of the visit under way, else of the last one over (0 with
    no visit). A visit under way says how late its technician got there, not how late
    they will leave: one reached early but overrunning makes the next customer late."""
    for state in ("next", "under_way", "done"):
        found = [v for v in tech.visits if v.state == state]
        if found:
            return found[0 if state != "done" else -1].delay_min
    return 0


def done_of(tech: LiveTechnician) -> str:
    """The technician's visits completed of all theirs ("2 / 5"), with those that failed
    (over, not done) said apart ("1 / 5, 1 failed")."""
    completed = sum(v.state == "done" and v.status != "failed" for v in tech.visits)
    failed = sum(v.state == "done" and v.status == "failed" for v in tech.visits)
    return f"{completed} / {len(tech.visits)}" + (f", {failed} failed" if failed else "")


def _job(v: LiveVisit | None) -> str:
    return "" if v is None else v.job_id


def summary_frame(live: LiveDay) -> pd.DataFrame:
    """One row per technician with a route, in ``SUMMARY_COLUMNS``: ``done`` as
    "2 / 5", the job under way (with its status), the next job and its ETA, the
    current delay in minutes and the number of visits at risk."""
    rows = []
    for tech in live.technicians:
        under_way = next((v for v in tech.visits if v.state == "under_way"), None)
        upcoming = next((v for v in tech.visits if v.state == "next"), None)
        rows.append(
            {
                "technician": tech.technician_id,
                "name": tech.name,
                "done": done_of(tech),
                "under_way": f"{under_way.job_id} ({under_way.status})" if under_way is not None else "",
                "next": _job(upcoming),
                "next_eta": clock(upcoming.eta) if upcoming is not None else "",
                "delay_min": current_delay(tech),
                "at_risk": sum(v.at_risk for v in tech.visits),
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def visits_frame(live: LiveDay, only_at_risk: bool = False) -> pd.DataFrame:
    """Every visit of the day (or only those at risk), in ``VISIT_COLUMNS``: the
    planned arrival, the ETA of a visit not reached yet, the actual start–end, the
    expected end, the delay and why it is at risk."""
    rows = []
    for tech in live.technicians:
        for v in tech.visits:
            if only_at_risk and not v.at_risk:
                continue
            actual = f"{clock(v.actual_start)}–{clock(v.actual_end)}" if v.actual_start or v.actual_end else ""
            rows.append(
                {
                    "technician": tech.technician_id,
                    "seq": v.seq,
                    "job": v.job_id,
                    "kind": v.kind,
                    "state": v.state.replace("_", " "),
                    "status": v.status,
                    "window": windows_text([v.window]) if v.window is not None else "",
                    "planned": clock(v.planned_arrival),
                    "eta": clock(v.eta),
                    "actual": actual,
                    "expected_end": clock(v.expected_end),
                    "delay_min": v.delay_min,
                    "at_risk": v.at_risk,
                    "risk": v.risk or "",
                }
            )
    return pd.DataFrame(rows, columns=VISIT_COLUMNS)


def urgent_frame(live: LiveDay) -> pd.DataFrame:
    """The urgent work (priority 1, still to do) not in the published plan."""
    rows = [
        {
            "job": u.job_id,
            "kind": u.kind,
            "status": u.status,
            "deadline": clock(u.deadline),
            "windows": windows_text(u.windows),
            "address": u.address,
        }
        for u in live.urgent
    ]
    return pd.DataFrame(rows, columns=URGENT_COLUMNS)


def highlight_at_risk(row: pd.Series) -> list[str]:
    """CSS per cell of a row of ``visits_frame`` or ``summary_frame``: at-risk rows stand out."""
    risky = bool(row.get("at_risk", False))
    return [AT_RISK_STYLE if risky else ""] * len(row)
