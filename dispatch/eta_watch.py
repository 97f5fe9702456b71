"""Telling customers when their arrival moves: ``job.eta`` feed events (docs/feed.md).

Every ``poll_s`` a watcher re-times today's published plans from the field facts
(``dispatch.eta.live_day``) and tells, through the feed, each visit still to come
whose expected arrival moved more than ``notify_min`` minutes from the arrival
last told (the planned one until a first ``job.eta``). Time passing alone moves
arrivals (a technician still on site), so the watcher runs on a clock, not only
on field events. The arrival told is stored on the job (``told_eta``) with a
conditional update, so two API processes watching the same day never tell one
move twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dispatch import eta, feed, jobstate
from dispatch.clock import Clock
from dispatch.db import session_scope
from dispatch.settings import EtaSettings
from dispatch.tables import JobRow, PublishedPlanRow
from dispatch.timeutil import from_storage, to_storage
from solver.replan import first_to_arrive, tells

log = logging.getLogger(__name__)


def tell_eta_moves(
    session: Session, day: dt.date, region: str, tz: ZoneInfo, now: dt.datetime, notify_min: int
) -> list[str]:
    """Emit ``job.eta`` for every visit of the day's published plan still to come
    (scheduled or en route) whose ETA at ``now`` is more than ``notify_min`` minutes
    from the arrival last told; the ids of the jobs told. The caller commits."""
    live = eta.live_day(session, day, region, tz, now)
    every = [v for t in live.technicians for v in t.visits]
    # A crew's customer hears the first of the two to arrive, the one already on the way
    # included; once one of them is there, nobody's arrival is news.
    there = {v.job_id for v in every if v.status == jobstate.ON_SITE}
    to_come = [
        v
        for v in every
        if v.job_id not in there
        and (v.state in (eta.NEXT, eta.LATER) or (v.state == eta.UNDER_WAY and v.status == jobstate.EN_ROUTE))
    ]
    visits = first_to_arrive(to_come, lambda v: v.job_id, lambda v: (v.eta is None, v.eta or now))
    if not visits:
        return []
    jobs = session.exec(select(JobRow).where(col(JobRow.id).in_(sorted(visits)))).all()
    moved: list[tuple[JobRow, eta.LiveVisit, dt.datetime]] = []
    for job in jobs:
        visit = visits[job.id]
        if visit.eta is None or job.status not in (jobstate.SCHEDULED, jobstate.EN_ROUTE):
            continue
        before = from_storage(job.told_eta, tz) if job.told_eta is not None else visit.planned_arrival
        if not tells((visit.eta - before).total_seconds(), notify_min):
            continue
        told = col(JobRow.told_eta)
        claimed = session.execute(
            update(JobRow)
            .where(col(JobRow.id) == job.id, told.is_(None) if job.told_eta is None else told == job.told_eta)
            .values(told_eta=to_storage(visit.eta))
        )
        if getattr(claimed, "rowcount", 0) == 1:
            moved.append((job, visit, before))
    for job, visit, before in moved:  # the feed's events last: its lock is held until the commit
        data = {
            "eta": visit.eta,
            "previous": before,
            "delay_min": visit.delay_min,
            "at_risk": visit.at_risk,
            "window": {"start": visit.window[0], "end": visit.window[1]} if visit.window is not None else None,
        }
        feed.emit(session, feed.JOB_ETA, job_id=job.id, technician_id=visit.technician_id, data=data, now=now)
    return [job.id for job, _, _ in moved]


def tell_today(engine: Engine, tz: ZoneInfo, now: dt.datetime, notify_min: int) -> int:
    """``tell_eta_moves`` for every region with a published plan today, one transaction
    per region; how many jobs were told."""
    today = now.astimezone(tz).date()
    with Session(engine) as session:
        regions = list(session.exec(select(PublishedPlanRow.region).where(PublishedPlanRow.date == today)).all())
    told = 0
    for region in regions:
        with session_scope(engine) as session:
            told += len(tell_eta_moves(session, today, region, tz, now, notify_min))
    return told


class EtaWatch:
    """``tell_today`` on a background thread every ``settings.poll_s``."""

    def __init__(self, engine: Engine, tz: ZoneInfo, clock: Clock, settings: EtaSettings) -> None:
        self.engine, self.tz, self.clock, self.settings = engine, tz, clock, settings
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        """Start watching (no-op when already running or switched off)."""
        if self.settings.poll_s <= 0 or (self._thread is not None and self._thread.is_alive()):
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(self._stop,), name="eta-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop and wait for the thread."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=30)

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.settings.poll_s):
            try:
                tell_today(self.engine, self.tz, self.clock.now(), self.settings.notify_min)
            except Exception:  # a database hiccup must not end the watch for good
                log.exception("ETA watch round failed")
