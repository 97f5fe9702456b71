"""Small hand-checkable plans and jobs for the board's logic tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from dashboard.models import Job, Plan, Technician, WorkingDay

TZ = dt.timezone(dt.timedelta(hours=2))


def at(clock: str) -> dt.datetime:
    """``"09:30"`` on the test day, at +02:00."""
    hours, minutes = clock.split(":")
    return dt.datetime(2026, 12, 1, int(hours), int(minutes), tzinfo=TZ)


def job(job_id: str, windows: list[tuple[str, str]] | None = None, **extra: Any) -> Job:
    return Job.model_validate(
        {
            "id": job_id,
            "kind": extra.pop("kind", "install"),
            "date": "2026-12-01",
            "location": extra.pop("location", {"lat": 60.17, "lon": 24.94}),
            "duration_min": extra.pop("duration_min", 60),
            "windows": [{"start": at(a), "end": at(b)} for a, b in windows or []],
            **extra,
        }
    )


def technician(tech_id: str, name: str = "", kind: str = "employee", **extra: Any) -> Technician:
    return Technician.model_validate(
        {
            "id": tech_id,
            "name": name,
            "kind": kind,
            "home": extra.pop("home", {"lat": 60.2, "lon": 24.9}),
            "shifts": extra.pop(
                "shifts",
                [{"date": "2026-12-01", "start": "08:00", "end": "16:00", "break": None}],
            ),
            **extra,
        }
    )


def working_day(
    tech_id: str, start: str, end: str, lunch: tuple[str, str, int] | None = None, day: str = "2026-12-01"
) -> WorkingDay:
    """A technician's working time on ``day`` (+02:00) as ``GET /v1/working-time`` gives it."""
    on = dt.date.fromisoformat(day)

    def moment(clock: str) -> dt.datetime:
        return dt.datetime.combine(on, dt.time.fromisoformat(clock), tzinfo=TZ)

    minutes = int((moment(end) - moment(start)).total_seconds()) // 60 - (lunch[2] if lunch else 0)
    return WorkingDay.model_validate(
        {
            "date": day,
            "technician_id": tech_id,
            "start": moment(start),
            "end": moment(end),
            "lunch": {"earliest": moment(lunch[0]), "latest": moment(lunch[1]), "duration_min": lunch[2]}
            if lunch
            else None,
            "minutes": minutes,
        }
    )


def visit(job_id: str, seq: int, arrival: str, start: str, end: str, travel_min: float) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "seq": seq,
        "arrival": at(arrival),
        "start": at(start),
        "end": at(end),
        "travel_min": travel_min,
    }


def plan(plan_id: int, routes: list[dict[str, Any]], unassigned: Sequence[tuple[str, str]] = (), **kpis: Any) -> Plan:
    return Plan.model_validate(
        {
            "id": plan_id,
            "date": "2026-12-01",
            "region": "helsinki",
            "status": "done",
            "routes": routes,
            "unassigned": [{"job_id": j, "code": "day_full", "reason": r} for j, r in unassigned],
            "kpis": kpis,
        }
    )


def route(
    tech_id: str, visits: list[dict[str, Any]], depart: str, back: str, travel_min: float, **extra: str
) -> dict[str, Any]:
    return {
        "technician_id": tech_id,
        "depart": at(depart),
        "return": at(back),
        "visits": visits,
        "travel_min": travel_min,
        **{k: at(v) for k, v in extra.items()},
    }
