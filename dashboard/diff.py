"""What changed between two plan versions, computed from two ``GET /v1/plans/{id}``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from dashboard.frames import clock
from dashboard.kpis import kpi_deltas
from dashboard.models import Plan

UNASSIGNED = "unassigned"
# Starts that differ by less than this are the same start (times are stored to the second).
SHIFT_THRESHOLD_MIN = 1.0


@dataclass(frozen=True)
class Placement:
    """Where and when one job is in one plan: its crew (sorted ids) and first start."""

    technicians: tuple[str, ...]
    start: dt.datetime | None

    @property
    def who(self) -> str:
        return " + ".join(self.technicians) if self.technicians else UNASSIGNED


def placements(plan: Plan) -> dict[str, Placement]:
    """Every job of ``plan``, served or unassigned."""
    crews: dict[str, list[str]] = {}
    starts: dict[str, dt.datetime] = {}
    for route in plan.routes or []:
        for visit in route.visits:
            crews.setdefault(visit.job_id, []).append(route.technician_id)
            starts[visit.job_id] = min(starts.get(visit.job_id, visit.start), visit.start)
    found = {job_id: Placement(tuple(sorted(techs)), starts[job_id]) for job_id, techs in crews.items()}
    for u in plan.unassigned or []:
        found.setdefault(u.job_id, Placement((), None))
    return found


@dataclass(frozen=True)
class PlanDiff:
    """Jobs that changed hands (or in/out of the plan), starts that moved, KPI deltas."""

    before_id: int
    after_id: int
    moved: pd.DataFrame
    shifted: pd.DataFrame
    kpis: pd.DataFrame

    @property
    def unchanged(self) -> bool:
        return self.moved.empty and self.shifted.empty


def compare(before: Plan, after: Plan) -> PlanDiff:
    """``after`` against ``before``; both must be done plans of the same day."""
    a, b = placements(before), placements(after)
    moved_rows = []
    shifted_rows = []
    for job_id in sorted(a.keys() | b.keys()):
        old = a.get(job_id, Placement((), None))
        new = b.get(job_id, Placement((), None))
        if job_id not in a or job_id not in b:
            moved_rows.append(
                {
                    "job": job_id,
                    "before": old.who if job_id in a else "not in plan",
                    "after": new.who if job_id in b else "not in plan",
                }
            )
            continue
        if old.technicians != new.technicians:
            moved_rows.append({"job": job_id, "before": old.who, "after": new.who})
        if old.start is not None and new.start is not None:
            delta_min = (new.start - old.start).total_seconds() / 60
            if abs(delta_min) >= SHIFT_THRESHOLD_MIN:
                shifted_rows.append(
                    {
                        "job": job_id,
                        "technician": new.who,
                        "start_before": clock(old.start),
                        "start_after": clock(new.start),
                        "shift_min": round(delta_min),
                    }
                )
    shifted = pd.DataFrame(shifted_rows, columns=["job", "technician", "start_before", "start_after", "shift_min"])
    if not shifted.empty:
        shifted = (
            shifted.assign(_size=shifted["shift_min"].abs())
            .sort_values(["_size", "job"], ascending=[False, True])
            .drop(columns="_size")
            .reset_index(drop=True)
        )
    return PlanDiff(
        before_id=before.id,
        after_id=after.id,
        moved=pd.DataFrame(moved_rows, columns=["job", "before", "after"]),
        shifted=shifted,
        kpis=kpi_deltas(before.kpis or {}, after.kpis or {}),
    )
