"""Fill an empty database with the sample day, so a fresh start has something to plan.

The file is read by the day format's one JSON reader (``dispatch.dayfile.read_json``).

The sample files keep a fixed date (benchmarks on them stay reproducible);
seeding moves the day to the date it is given, normally the next working day
after today (``sample_date``), and gives every technician the same shift on
each working day of the two weeks after it, so that slot search and booking
have days to offer.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, func, select

from dispatch.catalog import put_job, put_technician
from dispatch.dayfile import read_json
from dispatch.inputs import JobIn, TechnicianIn
from dispatch.tables import JobRow, TechnicianRow
from dispatch.timeutil import WORKING_WEEKDAYS, weekday_from

log = logging.getLogger(__name__)

SHIFT_DAYS_AHEAD = 14
"""Calendar days after the sample day that get the sample shifts too."""


def sample_date(today: dt.date) -> dt.date:
    """The next working day (Monday to Friday) after ``today``: where seeding puts the sample day."""
    return weekday_from(today + dt.timedelta(days=1))


def _working_days_after(day: dt.date, days_ahead: int) -> list[dt.date]:
    following = (day + dt.timedelta(days=n) for n in range(1, days_ahead + 1))
    return [d for d in following if d.weekday() in WORKING_WEEKDAYS]


class _Mover:
    """Local clock times and date-times of the file's day, placed on ``day`` instead."""

    def __init__(self, file_day: dt.date, day: dt.date, tz: ZoneInfo) -> None:
        self.file_day, self.day, self.tz = file_day, day, tz

    def __call__(self, clock: str | None) -> str | None:
        if not clock:
            return None
        if "T" not in clock:
            return dt.datetime.combine(self.day, dt.time.fromisoformat(clock), tzinfo=self.tz).isoformat()
        moment = dt.datetime.fromisoformat(clock).astimezone(self.tz)
        # The same wall-clock time the same number of days from the sample day (DST-safe).
        moved = moment.date() - self.file_day + self.day
        return dt.datetime.combine(moved, moment.time(), tzinfo=self.tz).isoformat()


def seed_sample_day(session: Session, path: Path, tz: ZoneInfo, region: str, *, day: dt.date, now: dt.datetime) -> bool:
    """Load the day file at ``path`` onto ``day`` when no technician is stored yet,
    with every technician's shift also on the working days of the two weeks after
    ``day``; rows are stamped ``now``. True when loaded."""
    if session.exec(select(TechnicianRow)).first() is not None:
        return False
    load_day_file(session, path, tz, region, day=day, now=now)
    return True


def load_day_file(
    session: Session,
    path: Path,
    tz: ZoneInfo,
    region: str,
    *,
    day: dt.date,
    now: dt.datetime,
    days_ahead: int = SHIFT_DAYS_AHEAD,
) -> None:
    """Store the technicians and jobs of the day file at ``path`` in ``region``, moved
    onto ``day``, each technician's shift also on the working days of the ``days_ahead``
    calendar days after it; rows are stamped ``now``. Ids are the file's: a stored
    technician or job of the same id is replaced (``catalog.put_technician``,
    ``catalog.put_job``), so days of several regions need ids of their own."""
    records = read_json(path)
    move = _Mover(records.date, day, tz)
    later = _working_days_after(day, days_ahead)
    for _, tech in records.technicians:
        body = {k: v for k, v in tech.items() if k not in ("id",) and v is not None}
        body["region"] = region
        template = next(iter(tech.get("shifts") or []), None)
        if template is not None:
            body["shifts"] = [{**template, "date": d.isoformat()} for d in [day, *later]]
        put_technician(session, tech["id"], TechnicianIn.model_validate(body), region, tz, now=now)
    homes: dict[str, list[tuple[float, float]]] = {}
    for _, job in records.jobs:
        body = {k: v for k, v in job.items() if k != "id" and v is not None}
        body["date"] = day.isoformat()
        body["region"] = region
        body["windows"] = [{"start": move(w["start"]), "end": move(w["end"])} for w in job["windows"]]
        if job.get("preferred_window"):
            pw = job["preferred_window"]
            body["preferred_window"] = {"start": move(pw["start"]), "end": move(pw["end"])}
        for key in ("release_at", "deadline"):
            if job.get(key):
                body[key] = move(job[key])
        put_job(session, job["id"], JobIn.model_validate(body), tz, region, now=now, homes=homes)
    log.info(
        "loaded %d technicians and %d jobs from %s into %s on %s (shifts on %d more days)",
        len(records.technicians),
        len(records.jobs),
        path.name,
        region,
        day.isoformat(),
        len(later),
    )


def next_day_with_jobs(session: Session, today: dt.date, region: str) -> dt.date | None:
    """The first date from ``today`` on with a job that is not cancelled in ``region``, if any."""
    return session.exec(
        select(func.min(JobRow.date)).where(JobRow.date >= today, JobRow.region == region, JobRow.status != "cancelled")
    ).first()
