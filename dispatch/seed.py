"""Fill an empty database with the sample day, so a fresh start has something to plan."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from dispatch.catalog import put_job, put_technician
from dispatch.inputs import JobIn, TechnicianIn
from dispatch.tables import TechnicianRow

log = logging.getLogger(__name__)


def _aware(day: str, clock: str | None, tz: ZoneInfo) -> str | None:
    if not clock:
        return None
    if "T" in clock:
        return clock
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time.fromisoformat(clock), tzinfo=tz).isoformat()


def seed_sample_day(session: Session, path: Path, tz: ZoneInfo, region: str) -> bool:
    """Load the day file at ``path`` when no technician is stored yet; True when loaded."""
    if session.exec(select(TechnicianRow)).first() is not None:
        return False
    import json

    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    day = data["date"]
    for tech in data["technicians"]:
        body = {k: v for k, v in tech.items() if k not in ("id",) and v is not None}
        body["region"] = region
        put_technician(session, tech["id"], TechnicianIn.model_validate(body), region)
    for job in data["jobs"]:
        body = {k: v for k, v in job.items() if k != "id" and v is not None}
        body["date"] = day
        body["region"] = region
        body["windows"] = [
            {"start": _aware(day, w["start"], tz), "end": _aware(day, w["end"], tz)} for w in job["windows"]
        ]
        if job.get("preferred_window"):
            pw = job["preferred_window"]
            body["preferred_window"] = {"start": _aware(day, pw["start"], tz), "end": _aware(day, pw["end"], tz)}
        for key in ("release_at", "deadline"):
            if job.get(key):
                body[key] = _aware(day, job[key], tz)
        put_job(session, job["id"], JobIn.model_validate(body), tz, region)
    log.info("seeded %d technicians and %d jobs from %s", len(data["technicians"]), len(data["jobs"]), path.name)
    return True
