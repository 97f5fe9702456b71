"""The dispatcher's locks as plan versions store them, read for and written by plan runs
(docs/replan.md, "Locks in later runs").

A version's ``locks`` are records ``{job_id, technician_id, technician, order, time,
seq, start}`` (``dispatch.edits`` writes them). A plan run reads those of the
published plan (``published``), gives the engine what it can keep of them
(``solver.locks``), and records on its own version what it kept, each record at its
visit's new place, with ``not_kept: [{lock, reason}]`` for what it could not keep
(that flag turned off, so later runs no longer hold it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from dispatch.mapping import DayClock
from dispatch.tables import JobRow, PlanRow, PublishedPlanRow, VisitRow
from dispatch.timeutil import to_storage
from solver.locks import LockNotKept, VisitLock

KINDS = ("technician", "order", "time")


def from_records(records: Sequence[dict[str, Any]] | None, clock: DayClock) -> list[VisitLock]:
    """The locks a version's records still hold (at least one flag on)."""
    out = []
    for r in records or ():
        if not any(r.get(kind) for kind in KINDS) or r.get("start") is None:
            continue
        out.append(
            VisitLock(
                job_id=str(r["job_id"]),
                technician_id=str(r["technician_id"]),
                technician=bool(r.get("technician")),
                order=bool(r.get("order")),
                time=bool(r.get("time")),
                seq=int(r.get("seq") or 0),
                start_s=clock.seconds(dt.datetime.fromisoformat(str(r["start"]))),
            )
        )
    return out


def published(session: Session, day: dt.date, region: str, clock: DayClock) -> list[VisitLock]:
    """The locks of the published plan of a day and region (none when nothing is published)."""
    pointer = session.get(PublishedPlanRow, (day, region))
    plan = session.get(PlanRow, pointer.plan_id) if pointer is not None else None
    return from_records(plan.locks if plan is not None else None, clock)


def not_kept_json(found: Sequence[LockNotKept]) -> list[dict[str, str]]:
    """Locks not kept as a re-plan's ``changes.locks_not_kept`` lists them."""
    return [{"job_id": x.job_id, "technician_id": x.technician_id, "lock": x.lock, "reason": x.reason} for x in found]


def records_after(
    session: Session,
    plan_id: int,
    locks: Sequence[VisitLock],
    planned: set[str],
    lost: Sequence[LockNotKept],
    clock: DayClock,
) -> list[dict[str, Any]] | None:
    """The lock records of a stored run: one per lock of a job it planned (``planned``),
    at the place its visit has in the stored version (on the locked technician's route
    when it is there, else its first technician's), its flags less what it could not
    keep (``lost``, listed under ``not_kept``); None when there were no such locks."""
    mine = [lock for lock in locks if lock.job_id in planned]
    if not mine:
        return None
    rows = session.exec(
        select(VisitRow).where(VisitRow.plan_id == plan_id, col(VisitRow.job_id).in_({x.job_id for x in mine}))
    ).all()
    visits: dict[str, list[VisitRow]] = {}
    for row in sorted(rows, key=lambda r: (r.technician_id, r.seq)):
        visits.setdefault(row.job_id, []).append(row)
    out = []
    for lock in mine:
        missing = [x for x in lost if x.job_id == lock.job_id]
        gone = {x.lock for x in missing}
        here = visits.get(lock.job_id, [])
        visit = next((v for v in here if v.technician_id == lock.technician_id), here[0] if here else None)
        record: dict[str, Any] = {
            "job_id": lock.job_id,
            "technician_id": visit.technician_id if visit is not None else lock.technician_id,
            "technician": lock.technician and "technician" not in gone and visit is not None,
            "order": lock.order and "order" not in gone and visit is not None,
            "time": lock.time and "time" not in gone and visit is not None,
            "seq": visit.seq if visit is not None else None,
            "start": clock.moment(clock.from_stored(visit.start)).isoformat() if visit is not None else None,
        }
        if missing:
            record["not_kept"] = [{"lock": x.lock, "reason": x.reason} for x in missing]
        out.append(record)
    return out


def sync_pins(session: Session, plan: PlanRow, now: dt.datetime) -> None:
    """Make the jobs' pins follow the technician locks of ``plan`` as it is published:
    each job it locks to a technician is pinned to them (``dispatch.edits`` records the
    lock; the pin waits for publishing, so a version discarded unpublished pins nothing),
    and the pin of each lock it could not keep, or that it releases (a lock with no flag
    left, on the technician the job is pinned to), is taken off (left behind, a pin would
    hold the job to that technician in every later run: a promise pinned to someone who
    works no more refuses each re-plan)."""
    pins: dict[str, str | None] = {}
    released: dict[str, str] = {}  # a lock taken off (no flag left): the pin it set goes too
    for record in plan.locks or ():
        job_id = str(record["job_id"])
        if record.get("technician"):
            pins.setdefault(job_id, str(record["technician_id"]))
        elif any(x.get("lock") == "technician" for x in record.get("not_kept", ())):
            pins.setdefault(job_id, None)
        elif not (record.get("order") or record.get("time")) and record.get("technician_id") is not None:
            released[job_id] = str(record["technician_id"])
    for job_id, holder in released.items():
        row = session.get(JobRow, job_id)
        if job_id not in pins and row is not None and row.pinned_technician_id == holder:
            pins[job_id] = None
    for job_id, technician_id in pins.items():
        row = session.get(JobRow, job_id)
        if row is None or row.pinned_technician_id == technician_id:
            continue
        row.pinned_technician_id = technician_id
        row.updated_at = to_storage(now)
        session.add(row)
