"""The dispatcher's own moves (docs/replan.md, "Moving visits by hand").

A done plan version, some visits moved by hand (to another technician, position
or time) and some locked (besides the locks the version holds, which stay while
their visit stays on its technician), is timed and checked against the day as stored now
(``solver.edit.evaluate``: the route timer and the independent checker). What it
breaks comes back as violations a dispatcher reads — ``window``, ``shift``,
``skill``, ``crew``, ``promise``, ``capacity``, ``other``, each naming a job —
with the day's figures, before anything is stored. Applied, it becomes a new
plan version (published the normal way); with a hard violation only on an
explicit override, which the version records.

During the day an edit is evaluated from an instant (``from``; a re-plan's own instant
by default): what is done or under way stays as the field reported it and is not the
dispatcher's to move, each technician starts where they are then (``dispatch.replan.day_from``,
what a re-plan from that instant plans), and the edit reports its changes against what
technicians and customers were told, as a re-plan does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from dispatch import jobstate, live, replan
from dispatch.errors import Conflict, Invalid
from dispatch.export import plan_json
from dispatch.mapping import Day, load_day
from dispatch.planning import (
    changes_json,
    get_plan,
    horizon_days,
    plan_contents,
    store_replan,
    store_solution,
    stored_stability,
)
from dispatch.tables import JobRow, PlanRow, TechnicianRow, VisitRow
from dispatch.timeutil import from_storage, to_storage
from solver import Problem, ReasonCode, Solution, Unassigned, Violation, ViolationKind
from solver.edit import evaluate
from solver.plan import WorkingRoute
from solver.replan import Stability

CODES: dict[ViolationKind, str] = {
    ViolationKind.WINDOW: "window",
    ViolationKind.RELEASE: "window",
    ViolationKind.DEADLINE: "window",
    ViolationKind.SHIFT: "shift",
    ViolationKind.BREAK: "shift",
    ViolationKind.MAX_JOBS: "shift",
    ViolationKind.TRAVEL: "shift",
    ViolationKind.SKILL: "skill",
    ViolationKind.CREW_SYNC: "crew",
    ViolationKind.CAPACITY: "capacity",
    ViolationKind.RELOAD: "capacity",
}
"""The code a dispatcher reads for each rule the checker finds broken; any other is ``other``."""

TIMING_KINDS = {ViolationKind.WINDOW, ViolationKind.RELEASE, ViolationKind.DEADLINE}


@dataclass(frozen=True)
class Move:
    """Put ``job_id`` on ``technician_id``'s route at ``position`` (0 = first; past the end appends)."""

    job_id: str
    technician_id: str
    position: int


@dataclass(frozen=True)
class Lock:
    """Hold ``job_id``'s technician (a pin on the job), order and/or time in the new version."""

    job_id: str
    technician: bool = False
    order: bool = False
    time: bool = False


@dataclass(frozen=True)
class EditViolation:
    """One hard rule the edited plan breaks, named by the job it concerns; ``standing``:
    the plan edited breaks it too (the same rule at the same job and technician), so the
    edit did not cause it."""

    job_id: str
    code: str
    detail: str
    technician_id: str | None = None
    standing: bool = False


@dataclass(frozen=True)
class EditResult:
    """An evaluated edit: its violations, the day's figures with it and, before it, the
    figures of the plan it edits; ``plan``: the new version when it was applied.
    Evaluated from an instant (``at``), the figures are those of what is left of the day
    then, with and without the edit, and ``changes`` what the edit changes against what
    technicians and customers were told (as a re-plan's ``changes``)."""

    violations: tuple[EditViolation, ...]
    kpis: dict[str, Any]
    base_kpis: dict[str, Any] | None
    plan: PlanRow | None = None
    at: dt.datetime | None = None
    changes: dict[str, Any] | None = None


def edit_plan(
    session: Session,
    plan_id: int,
    moves: Sequence[Move],
    locks: Sequence[Lock],
    *,
    tz: ZoneInfo,
    now: dt.datetime,
    apply: bool = False,
    override: bool = False,
    by: Mapping[str, Any] | None = None,
    slot_s: Mapping[str, int] | None = None,
    at: dt.datetime | None = None,
    stability: Stability | None = None,
    notify_min: int = 15,
) -> EditResult:
    """Evaluate ``moves`` and ``locks`` on a done plan version against its day as stored
    now; with ``apply`` store the result as a new done version (``Conflict`` naming
    ``moves`` when it breaks a hard rule, unless ``override``: then ``by`` and the
    violations are recorded on it). A job or technician the day does not know is
    ``Invalid`` naming the field, as are a second lock of the same job (its ``job_id``),
    a lock that sets no flag and releases no lock (``locks.<n>``), ``apply`` of an edit
    that changes nothing (no move and no lock, or moves that leave every visit where it is
    and locks the version holds already: ``moves``, or ``locks`` with locks only; it would
    store a copy) and ``override`` without ``apply`` (it would do nothing); a
    plan not done is a ``Conflict`` naming ``status``, a run over several days one naming
    ``plan_id`` (its day plans are edited).

    From the instant ``at`` (default: the plan's own ``replan_from``, if it is a re-plan)
    only what is left of the day then is evaluated, as a re-plan from it would plan it:
    moving a visit done or under way is ``Invalid`` naming the move's ``job_id``; the
    result carries the changes against what was told (``notify_min``: the threshold a
    customer is told from), and applied it is stored as a re-plan from ``at`` is."""
    if override and not apply:
        raise Invalid(
            "override: only an edit that is applied (apply: true) is stored, and so can be stored despite its "
            "violations; without apply the plan is only checked",
            "override",
        )
    if apply and not moves and not locks:
        raise Invalid(
            "moves: nothing to apply; give at least one move or lock (without apply, the plan is only checked)",
            "moves",
        )
    _refuse_locked_twice(locks)
    plan = get_plan(session, plan_id)
    _refuse_horizon_run(session, plan)
    if plan.status != "done":
        raise Conflict(f"plan {plan_id} is {plan.status}; only a done plan can be edited", "status")
    _refuse_empty_locks(plan.locks, locks)
    if at is None and plan.replan_from is not None:
        at = from_storage(plan.replan_from, tz)
    if at is None and plan.date == now.astimezone(tz).date() and _reported(session, plan):
        at = now  # the day is under way: what the field reported is not the dispatcher's to move
    if at is not None and at.astimezone(tz).date() != plan.date:
        raise Invalid(f"from: an edit of the plan of {plan.date} is checked from an instant of that day", "from")
    base_version = live.version(session, plan.date, plan.region)
    left: replan.DayFrom | None = None
    if at is None:
        day, unplannable = load_day(session, plan.date, plan.region, tz)
    else:
        # Weighed as the version edited was, when it is a re-plan that stored its own.
        weigh = stored_stability(plan, stability or Stability())
        left = replan.day_from(session, plan.date, plan.region, tz, at, weigh)
        day, unplannable = left.day, left.unplannable
        _refuse_settled(session, moves, at, tz)
    routes, starts = _stored_routes(session, plan_id, day)
    before = {tech_id: list(ids) for tech_id, ids in routes.items()}
    _move(session, routes, moves, day, plan.region)
    solution, violations, lock_rows = _evaluated(session, plan, day, routes, starts, locks, {m.job_id for m in moves})
    # The plan edited, evaluated the same way: which violations the edit did not cause.
    unedited, already, _ = _evaluated(session, plan, day, before, starts, (), set())
    held = {(v.job_id, v.code, v.technician_id) for v in already}
    violations = tuple(dataclasses.replace(v, standing=(v.job_id, v.code, v.technician_id) in held) for v in violations)
    kpis: dict[str, Any] = plan_json(day, solution)["kpis"]
    # The stored figures are of the day as it was planned; since then jobs may have been
    # done, cancelled or added (and from an instant only the rest of the day counts):
    # the plan edited is compared as evaluated the same way.
    result = EditResult(violations, kpis, plan_json(day, unedited)["kpis"])
    if left is not None:
        result = dataclasses.replace(result, at=at, changes=changes_json(left, solution, notify_min))
    if not apply:
        return result
    if routes == before and _lock_set(lock_rows) == _lock_set(plan.locks):
        field = "moves" if moves else "locks"
        raise Invalid(
            f"{field}: nothing to apply; the edit leaves every visit where plan {plan_id} has it and every lock as "
            "the plan holds it, so it would store a copy of the plan (without apply, the plan is only checked)",
            field,
        )
    if violations and not override:
        first = violations[0]
        raise Conflict(
            f"the edit breaks {len(violations)} hard rule(s), e.g. {first.code} at job {first.job_id}: "
            f"{first.detail}. Send override: true to store it anyway.",
            "moves" if moves else "override",
        )
    stored = _store(session, plan, day, solution, unplannable, slot_s, base_version, now, left, notify_min)
    stored.locks = _lock_records([*lock_rows, *_carried(plan.locks, locks, moves, lock_rows)], solution, day)
    if violations:
        stored.override = {
            "by": dict(by or {}),
            "at": now.isoformat(),
            "violations": [dataclasses.asdict(v) for v in violations],
        }
    # A technician lock becomes its job's pin when this version is published
    # (dispatch.locks.sync_pins), not now: a version discarded unpublished leaves no pin.
    session.add(stored)
    session.flush()
    return dataclasses.replace(result, plan=stored)


def _evaluated(
    session: Session,
    plan: PlanRow,
    day: Day,
    routes: dict[str, list[str]],
    starts: Mapping[tuple[str, str], int],
    locks: Sequence[Lock],
    moved: set[str],
) -> tuple[Solution, tuple[EditViolation, ...], list[dict[str, Any]]]:
    """``routes`` timed and checked on ``day`` with ``locks`` and the plan's own locks
    that still hold: the solution, its violations named for a dispatcher and the lock
    records."""
    assert plan.id is not None
    inherited = _inherited(plan.locks, routes, locks)
    problem, fixed, lock_rows = _lock(routes, starts, [*locks, *inherited], day, _held_pins(plan.locks, locks))
    working = [
        WorkingRoute(tech_id, tuple(ids), tuple(fixed.get((tech_id, i)) for i in ids))
        for tech_id, ids in routes.items()
    ]
    evaluation = evaluate(problem, working, _reasons(session, plan.id, day))
    solution = evaluation.solution
    # How many days a job moved off its pin takes (its words say what holds it there).
    pinned = [v.job_id for v in evaluation.violations if v.kind is ViolationKind.PIN and v.job_id is not None]
    days = dict(session.exec(select(JobRow.id, JobRow.days).where(col(JobRow.id).in_(pinned))).all()) if pinned else {}
    return solution, _named(evaluation.violations, problem, solution, moved, days), lock_rows


def _refuse_locked_twice(locks: Sequence[Lock]) -> None:
    """``Invalid`` naming the ``job_id`` of a second lock of the same job: each lock of a
    job replaces what the version held, so two (say, technician and none) contradict each
    other, and both were stored."""
    seen: dict[str, int] = {}
    for k, lock in enumerate(locks):
        if lock.job_id in seen:
            raise Invalid(
                f"job {lock.job_id} is locked twice (locks.{seen[lock.job_id]} and locks.{k}): give one lock "
                "per job with every flag it should hold",
                f"locks.{k}.job_id",
            )
        seen[lock.job_id] = k


def _refuse_empty_locks(records: Sequence[Mapping[str, Any]] | None, locks: Sequence[Lock]) -> None:
    """``Invalid`` naming a lock that sets none of ``technician``, ``order`` and ``time`` on
    a job the edited version (``records``) holds no lock of: it would lock nothing and
    release nothing (on a job the version locks, it releases that lock)."""
    held = {job_id for job_id, *_ in _lock_set(records)}
    for k, lock in enumerate(locks):
        if not (lock.technician or lock.order or lock.time) and lock.job_id not in held:
            raise Invalid(
                f"locks.{k}: the lock of job {lock.job_id} sets none of technician, order and time, and the plan "
                "holds no lock of it to release: it would change nothing",
                f"locks.{k}",
            )


def _lock_set(records: Sequence[Mapping[str, Any]] | None) -> set[tuple[str, str, bool, bool, bool]]:
    """The locks ``records`` hold (job, technician, and the technician, order and time
    flags), leaving out records that hold nothing."""
    out: set[tuple[str, str, bool, bool, bool]] = set()
    for r in records or ():
        flags = (bool(r.get("technician")), bool(r.get("order")), bool(r.get("time")))
        if any(flags):
            out.add((str(r["job_id"]), str(r["technician_id"]), *flags))
    return out


def _refuse_horizon_run(session: Session, plan: PlanRow) -> None:
    """``Conflict`` naming ``plan_id`` when ``plan`` is a run over several days: its answer is
    stored as one plan per day (docs/horizon.md) and the run itself holds no route, so an
    edit of it was evaluated, stored and published as a day plan without the run's visits."""
    if plan.date_to is None:
        return
    days = horizon_days(session, plan.id or 0)
    which = (
        "one of its day plans: " + ", ".join(f"plan {d.id} ({d.date})" for d in days)
        if days
        else "one of its day plans once it is done"
    )
    raise Conflict(
        f"plan {plan.id} is a plan over several days ({plan.date}..{plan.date_to}); its answer is stored as one "
        f"plan per day, and a move is made on one day's plan: edit {which} (GET /v1/plans?date=<day> lists them)",
        "plan_id",
    )


def _reported(session: Session, plan: PlanRow) -> bool:
    """Whether the field has reported a visit of ``plan`` done or under way."""
    query = (
        select(JobRow.id)
        .join(VisitRow, col(VisitRow.job_id) == col(JobRow.id))
        .where(VisitRow.plan_id == plan.id, col(JobRow.status).in_(replan.SETTLED))
        .limit(1)
    )
    return session.exec(query).first() is not None


def _refuse_settled(session: Session, moves: Sequence[Move], at: dt.datetime, tz: ZoneInfo) -> None:
    """``Invalid`` naming the first move of a job done or under way: it stays as the field
    reported it (a visit is never taken from a technician already on the way to it)."""
    for k, move in enumerate(moves):
        row = session.get(JobRow, move.job_id)
        if row is None or row.status not in replan.SETTLED:
            continue
        state = "done" if row.status == jobstate.COMPLETED else f"under way ({row.status.replace('_', ' ')})"
        raise Invalid(
            f"job {move.job_id} is {state}: a visit done or under way at {at.astimezone(tz):%H:%M} stays with "
            "its technician. To give it to someone else, record it as could not be completed first",
            f"moves.{k}.job_id",
        )


def _stored_routes(session: Session, plan_id: int, day: Day) -> tuple[dict[str, list[str]], dict[tuple[str, str], int]]:
    """Per technician of the day, the job ids the plan sends them to in order, and each
    visit's stored start (seconds); visits to jobs no longer to be planned (completed,
    cancelled) are left out, as a re-plan leaves them out."""
    _, visits, _ = plan_contents(session, plan_id)
    stops = day.stops()
    routes: dict[str, list[str]] = {t.id: [] for t in day.problem.technicians}
    starts: dict[tuple[str, str], int] = {}
    for v in visits:
        if v.technician_id in routes and v.job_id in stops:
            routes[v.technician_id].append(v.job_id)
            starts[(v.technician_id, v.job_id)] = day.clock.from_stored(v.start)
    return routes, starts


def _not_working(session: Session, technician_id: str, region: str, day: Day) -> str:
    """Why a move cannot give a visit to ``technician_id``, who has no route in the plan of
    ``region`` on ``day``: they work in another region (whose plans route them), or do
    not work that day."""
    tech = session.get(TechnicianRow, technician_id)
    if tech is not None and tech.region != region:
        return (
            f"technician {technician_id} works in region {tech.region}, the plan is of {region}: a move gives a "
            f"visit to a technician of {region}"
        )
    return f"technician {technician_id} does not work on {day.date}"


def _move(session: Session, routes: dict[str, list[str]], moves: Sequence[Move], day: Day, region: str) -> None:
    """Apply ``moves`` of the plan of ``region`` in order: the first move of a job takes it
    off every route (a second one of the same job adds the second visit of a crew). A job
    moved more often than its crew has technicians is ``Invalid`` naming the move too many:
    a one-person job moved twice went on two technicians' lists."""
    crew_sizes = {j.id: j.crew_size for j in day.problem.jobs}
    placed: dict[str, list[str]] = {}
    for k, move in enumerate(moves):
        if move.job_id not in crew_sizes:
            raise Invalid(f"job {move.job_id} is not to be planned on {day.date}", f"moves.{k}.job_id")
        if move.technician_id not in routes:
            raise Invalid(_not_working(session, move.technician_id, region, day), f"moves.{k}.technician_id")
        earlier = placed.setdefault(move.job_id, [])
        if earlier and move.technician_id not in earlier and len(earlier) >= crew_sizes[move.job_id]:
            crew = crew_sizes[move.job_id]
            raise Invalid(
                f"job {move.job_id} is done by {'one technician' if crew == 1 else f'a crew of {crew}'} and is "
                f"already moved to {' and '.join(earlier)}: a job is moved once "
                f"{'' if crew == 1 else 'per technician of its crew '}(a second move of a crew job adds its "
                "second technician)",
                f"moves.{k}.job_id",
            )
        if not earlier:
            for ids in routes.values():
                if move.job_id in ids:
                    ids.remove(move.job_id)
        earlier.append(move.technician_id)
        target = routes[move.technician_id]
        if move.job_id in target:
            raise Invalid(f"job {move.job_id} is moved to {move.technician_id} twice", f"moves.{k}.technician_id")
        target.insert(min(move.position, len(target)), move.job_id)


def _inherited(
    records: Sequence[Mapping[str, Any]] | None, routes: Mapping[str, list[str]], locks: Sequence[Lock]
) -> list[Lock]:
    """The locks the edited version holds (``records``) that the edit keeps: those of
    jobs it does not lock anew, still on the technician they were locked on."""
    anew = {lock.job_id for lock in locks}
    out: dict[str, Lock] = {}
    for r in records or ():
        job_id = str(r["job_id"])
        held = Lock(job_id, bool(r.get("technician")), bool(r.get("order")), bool(r.get("time")))
        if not (held.technician or held.order or held.time) or job_id in anew or job_id in out:
            continue
        if job_id in routes.get(str(r["technician_id"]), []):
            out[job_id] = held
    return list(out.values())


def _carried(
    records: Sequence[Mapping[str, Any]] | None,
    locks: Sequence[Lock],
    moves: Sequence[Move],
    kept: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """A technician lock for each job moved (by override) off the technician the edited
    version locked it to: the dispatcher's latest word is the technician it moved to.
    Published, its pin follows (``locks.sync_pins``); left behind, the old pin held the
    job to the technician it was taken from in every later run."""
    held = _held_pins(records, locks)
    locked = {str(r["job_id"]) for r in kept}
    return [
        {"job_id": m.job_id, "technician_id": m.technician_id, "technician": True, "order": False, "time": False}
        for m in moves
        if held.get(m.job_id, m.technician_id) != m.technician_id and m.job_id not in locked
    ]


def _held_pins(records: Sequence[Mapping[str, Any]] | None, locks: Sequence[Lock]) -> dict[str, str]:
    """The technician each technician lock of the edited version (``records``) holds its
    job to, for jobs the edit does not lock anew: moving such a job elsewhere breaks the
    lock (a pin), whether or not the version is published yet."""
    anew = {lock.job_id for lock in locks}
    out: dict[str, str] = {}
    for r in records or ():
        job_id = str(r["job_id"])
        if r.get("technician") and job_id not in anew:
            out.setdefault(job_id, str(r["technician_id"]))
    return out


def _lock(
    routes: dict[str, list[str]],
    starts: Mapping[tuple[str, str], int],
    locks: Sequence[Lock],
    day: Day,
    held: Mapping[str, str] | None = None,
) -> tuple[Problem, dict[tuple[str, str], int], list[dict[str, Any]]]:
    """The problem with technician locks as pins (``held``: the pins of the edited
    version's own technician locks, by job), the fixed start of each visit (crews keep
    their common start, a time lock its stored start) and one record per lock and
    technician serving the locked job."""
    problem = day.problem
    crews = {j.id for j in problem.jobs if j.crew_size == 2}
    was = {job_id: start for (_, job_id), start in starts.items()}
    # A crew keeps the common start the plan gave it, whichever two technicians it has now.
    fixed = {(t, i): was[i] for t, ids in routes.items() for i in ids if i in crews and i in was}
    records: list[dict[str, Any]] = []
    pins: dict[str, str] = dict(held or {})
    for k, lock in enumerate(locks):
        serving = [tech_id for tech_id, ids in routes.items() if lock.job_id in ids]
        if not serving:
            raise Invalid(f"job {lock.job_id} is in no route of the edited plan", f"locks.{k}.job_id")
        for tech_id in serving:
            # A time lock keeps the start the plan gave the visit, on whichever technician it is now.
            old = starts.get((tech_id, lock.job_id), was.get(lock.job_id))
            if lock.time and old is not None:
                fixed[(tech_id, lock.job_id)] = old
            records.append(
                {
                    "job_id": lock.job_id,
                    "technician_id": tech_id,
                    "technician": lock.technician,
                    "order": lock.order,
                    "time": lock.time,
                }
            )
        if lock.technician:
            pins[lock.job_id] = serving[0]
    if pins:
        jobs = tuple(
            dataclasses.replace(j, pinned_technician_id=pins[j.id]) if j.id in pins else j for j in problem.jobs
        )
        problem = dataclasses.replace(problem, jobs=jobs)
    return problem, fixed, records


def _reasons(session: Session, plan_id: int, day: Day) -> dict[str, Unassigned]:
    """Why the plan left each job out, as it said (for jobs still left out)."""
    _, _, unassigned = plan_contents(session, plan_id)
    out: dict[str, Unassigned] = {}
    for u in unassigned:
        try:
            code = ReasonCode(u.code)
        except ValueError:
            code = ReasonCode.DAY_FULL
        out[u.job_id] = Unassigned(u.job_id, code, u.reason)
    return out


def _named(
    found: Sequence[Violation],
    problem: Problem,
    solution: Solution,
    moved: set[str],
    days: Mapping[str, int] | None = None,
) -> tuple[EditViolation, ...]:
    """The checker's violations in a dispatcher's codes, each naming a job: a rule of a
    whole route (its shift, its lunch) is named by the moved job on it, else its last
    visit. A promised job started outside its promise or left out is a ``promise``. A
    pinned job served by another is told in words: what holds it there (``days``: a job
    of several days, by id, is held by its other days) and how to move it."""
    promised = {j.id for j in problem.jobs if j.priority == 0}
    out: list[EditViolation] = []
    for v in found:
        job_id = v.job_id
        if job_id is None and v.technician_id is not None:
            visits = [x.job_id for x in solution.route(v.technician_id).visits]
            job_id = next((i for i in visits if i in moved), visits[-1] if visits else None)
        if job_id is None:
            continue
        code = CODES.get(v.kind, "other")
        if v.kind in TIMING_KINDS and job_id in promised:
            code = "promise"
        detail = v.detail
        if v.kind is ViolationKind.PIN and (job := problem.job(job_id)).pinned_technician_id is not None:
            holder = job.pinned_technician_id
            several = (days or {}).get(job_id, 1)
            if several > 1:
                detail = (
                    f"{job_id} takes {several} days, all of them {holder}'s: "
                    "give it to another technician with a plan over its days"
                )
            else:
                detail = f"{job_id} is pinned to {holder}: lock it to the technician it moves to (locks, technician)"
        out.append(EditViolation(job_id, code, detail, v.technician_id))
    for u in solution.unassigned:
        if u.job_id in promised:
            out.append(EditViolation(u.job_id, "promise", f"promised job left out ({u.reason})"))
    return tuple(out)


def _store(
    session: Session,
    source: PlanRow,
    day: Day,
    solution: Solution,
    unplannable: list[str],
    slot_s: Mapping[str, int] | None,
    base_version: int,
    now: dt.datetime,
    left: replan.DayFrom | None = None,
    notify_min: int = 15,
) -> PlanRow:
    """The edited plan as a new done version of ``source``'s day; from an instant
    (``left``: what was left of the day then), stored as a re-plan from it is."""
    stamp = to_storage(now)
    plan = PlanRow(
        date=source.date,
        region=source.region,
        status="done",
        progress=1.0,
        time_limit_s=0.0,
        base_version=base_version,
        created_at=stamp,
        started_at=stamp,
        finished_at=stamp,
        edited_from=source.id,
        replan_from=to_storage(left.at) if left is not None else None,
    )
    session.add(plan)
    session.flush()
    if left is None:
        store_solution(session, plan, day, solution, unplannable, slot_s)
    else:
        store_replan(session, plan, left, solution, slot_s or {}, notify_min)
    return plan


def _lock_records(records: list[dict[str, Any]], solution: Solution, day: Day) -> list[dict[str, Any]]:
    """Each lock with the visit's place in its route (``seq``, from 1) and start, as stored."""
    out = []
    for record in records:
        route = solution.route(record["technician_id"])
        seq = next(n for n, v in enumerate(route.visits, start=1) if v.job_id == record["job_id"])
        start = day.to_datetime(route.visits[seq - 1].start_s).isoformat()
        out.append({**record, "seq": seq, "start": start})
    return out
