"""Plan runs: stored data → solver Problem → checked Solution → an immutable plan version.

Runs are asynchronous: ``PlanRunner.submit`` stores a queued plan, enqueues it on
the task engine (``dispatch.tasks``) and returns at once; a solver worker solves it,
writing progress and heartbeats as it goes (``dispatch.leases``). A run that starts
from routes (a re-plan, or a day with a live schedule) stores a first, checked
answer within about a second and replaces it with the improved one at the end; it
stays ``running`` (not publishable) until then. A failed or cancelled run never
touches the published plan, and keeps no routes; publishing switches a pointer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from huey.consumer import Consumer
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, or_, select, update

from dispatch import feed, jobdays, leases, live, locks, tasks
from dispatch.clock import SYSTEM_CLOCK, Clock
from dispatch.db import session_scope
from dispatch.errors import Conflict, Invalid, NotFound, Unavailable
from dispatch.export import objective_eur, plan_json
from dispatch.horizon import LoadedHorizon, load_horizon, split_by_day
from dispatch.horizon import broken_promises as horizon_broken_promises
from dispatch.jobstate import CANCELLED, COMPLETED, EN_ROUTE, ON_SITE, OPEN, SCHEDULED
from dispatch.kpis import compute_kpis
from dispatch.mapping import (
    Day,
    DayClock,
    broken_lags,
    disruptions_of,
    load_day,
    on_the_way_with,
    promised_days,
    solution_rows,
    unavailability,
    under_way_on,
)
from dispatch.settings import BookingSettings, Settings
from dispatch.tables import (
    DisruptionRow,
    JobRow,
    LiveScheduleRow,
    PlanRow,
    PublishedPlanRow,
    RouteRow,
    UnassignedRow,
    VisitRow,
)
from dispatch.timeutil import from_storage, stored_utc, to_storage
from solver import (
    Cancelled,
    Job,
    Problem,
    Progress,
    ReasonCode,
    Solution,
    SolveOptions,
    Technician,
    TimeWindow,
    prepare,
    solve,
)
from solver import locks as lock_rules
from solver.horizon import solve as solve_horizon
from solver.plan import WorkingRoute
from solver.replan import Stability, first_to_arrive, tells
from solver.replan import changes as replan_changes

if TYPE_CHECKING:  # replan imports this module
    from dispatch.replan import DayFrom

log = logging.getLogger(__name__)


def told_windows(day: Day, solution: Solution, slot_s: Mapping[str, int]) -> dict[str, TimeWindow]:
    """The window each served job's customer is told: its promise when confirmed, else
    the slot grid's window of its kind around the planned start (``live.customer_window``)
    inside the times the visit may start (its windows, goods' release and SLA deadline:
    a customer is never told a time the job may not start at)."""
    jobs = {j.id: j for j in day.problem.jobs}
    out: dict[str, TimeWindow] = {}
    for route in solution.routes:
        for visit in route.visits:
            job = jobs.get(visit.job_id)
            if job is None or visit.job_id in out:
                continue
            info = day.job_info.get(job.id)
            if info is not None and info.confirmed and job.windows:
                out[job.id] = job.windows[0]
            else:
                out[job.id] = live.customer_window(visit.start_s, slot_s.get(job.kind.value, 3600), job.start_windows())
    return out


def _promised_on(session: Session, row: JobRow, day: dt.date, tz: ZoneInfo) -> bool:
    """Whether the confirmed job ``row``'s promise is for ``day``: its promised day (for
    a job of several, each day its customer was told: ``mapping.promised_days``, else its
    days from the promised one), or any day when no promised time is stored. A range job
    promised on another day of its range is that day's promise, not this one's: a plan of
    this day that cannot plan it breaks nothing."""
    if row.promised_start is None:
        return True
    told = promised_days(session, row, tz)
    if told is not None:
        return day in told
    first = from_storage(row.promised_start, tz).date()
    return first <= day <= first + dt.timedelta(days=row.days - 1)


def store_solution(
    session: Session,
    plan: PlanRow,
    day: Day,
    solution: Solution,
    unplannable: list[str],
    slot_s: Mapping[str, int] | None = None,
) -> None:
    """Write a checked solution as the routes, visits (with the window each customer
    is told; ``slot_s``: the slot grid's length per kind) and unassigned jobs of ``plan``."""
    assert plan.id is not None

    windows = told_windows(day, solution, slot_s or {})
    for row in solution_rows(plan.id, day.clock, solution, windows):
        session.add(row)
    for u in solution.unassigned:
        session.add(UnassignedRow(plan_id=plan.id, job_id=u.job_id, code=u.code.value, reason=u.reason))
    for job_id in unplannable:
        held = day.held_back.get(job_id)
        session.add(
            UnassignedRow(
                plan_id=plan.id,
                job_id=job_id,
                code=held.code.value if held is not None else "pinned_unavailable",
                reason=held.reason if held is not None else "Pinned to a technician who has no shift this day.",
            )
        )
    summary = plan_json(day, solution)
    plan.kpis = summary["kpis"]
    plan.objective = summary["objective_eur"]


def stored_stability(plan: PlanRow, default: Stability) -> Stability:
    """The stability a re-plan's run weighs changes with: the one stored with it (every
    field of ``Stability``, as ``dataclasses.asdict`` wrote it), else ``default`` (a run
    queued before runs stored theirs, or a whole-day run)."""
    return default if plan.stability is None else Stability(**plan.stability)


class PlanRefused(RuntimeError):
    """The plan would break a promise (leave a confirmed job out); it is not stored."""


def run_seed(plan_id: int) -> int:
    """The seed a plan run searches from: its own id, so that running a plan again
    (a re-plan refused because the search left a promise out, say) explores other
    plans than the run before, and any run can be repeated from its id."""
    return plan_id % 2**31


UNREPORTED_SHOWN = 10
"""Promised jobs left out for want of a report that a refusal explains one by one."""


def broken_promises(
    day: Day, solution: Solution, promised_unplannable: list[str], unreported: Mapping[str, str] | None = None
) -> list[str]:
    """One sentence per promised job (confirmed, priority tier 0) the solution leaves
    out, and per promised job that could not even be planned. Served promised jobs
    are inside their promise: it is their only, hard window (``mapping.job_of``).
    ``unreported`` (a re-plan's ``DayFrom.unreported``): for a job left out whose visit
    was due with nothing reported, that is said first (past ``UNREPORTED_SHOWN`` such
    jobs, the others in one sentence by id), and a last sentence says what to do
    about it. Promises left out for another reason end with how a dispatcher plans
    without them: withdraw a dispatcher's promise, or cancel a booking and book again,
    once the customer is told."""
    promised = {j.id for j in day.problem.jobs if j.priority == 0}
    unreported = unreported or {}

    def kind(job_id: str) -> str:
        info = day.job_info.get(job_id)
        return info.promise_kind if info is not None else "promised"

    def due(job_id: str) -> str:
        return f": {unreported[job_id]}" if job_id in unreported else ""

    held = {
        i: day.held_back[i].reason if i in day.held_back else "Pinned to a technician without a shift."
        for i in promised_unplannable
    }
    said = [
        (u.job_id, f"{kind(u.job_id)} job {u.job_id} would be left out{due(u.job_id)} ({u.reason})")
        for u in solution.unassigned
        if u.job_id in promised
    ]
    said += [(i, f"{kind(i)} job {i} cannot be planned{due(i)} ({held[i]})") for i in promised_unplannable]
    unheard = [i for i, _ in said if i in unreported]
    # A morning without reports leaves every promise of it out: past a few, the rest
    # are named by id only, so that the refusal stays readable.
    hidden = unheard[UNREPORTED_SHOWN:]
    by_id_only = set(hidden)
    out = [sentence for i, sentence in said if i not in by_id_only]
    if unheard:
        if hidden:
            more = f"{len(hidden)} more promised " + (
                "job whose visit was" if len(hidden) == 1 else "jobs whose visits were"
            )
            out.append(f"and {more} due with nothing reported: " + ", ".join(hidden))
        out.append(
            "record what happened to the visits nothing was reported for (field events en_route, arrived, "
            "completed or failed, by POST /v1/jobs/{id}/events or the board's Today page) and re-plan"
        )
    unkept = {kind(i) for i, _ in said if i not in unreported}
    if unkept:
        ways = []
        if "confirmed" in unkept:
            ways.append('withdraw a confirmed job\'s promise (PUT /v1/jobs/{id} with "confirmed": false)')
        if "booked" in unkept:
            ways.append("cancel a booked job's booking (DELETE /v1/bookings/{id}) and book it again")
        out.append(
            "to plan without a promise: tell its customer, "
            + (" or ".join(ways) if ways else "withdraw it")
            + ", and re-plan"
        )
    return out


def _same_work(a: Day, b: Day) -> bool:
    """Both days ask the engine the same question (technicians and jobs alike)."""
    return a.problem.technicians == b.problem.technicians and a.problem.jobs == b.problem.jobs


# A run whose day changed while it solved re-plans from its own result for this share of
# its time limit (at least MIN_CATCH_UP_S), at most CATCH_UPS times, before it gives up.
CATCH_UP_SHARE = 0.2
MIN_CATCH_UP_S = 1.0
CATCH_UPS = 3


@dataclass
class _Run:
    """One attempt of a run solved by this process: its cancel signal, its task token,
    whether another attempt took the run over (it then stops without writing), and
    whether its worker is stopping (it then goes back to the queue)."""

    cancel: threading.Event
    token: str
    lost: bool = False
    hand_back: bool = False


TASK_NAME = "plan_run"
# How often a worker looks for cancels of its runs (and heartbeats, every leases.HEARTBEAT_S
# or a quarter of the lease when shorter),
# and how often every process looks for runs whose worker died.
CANCEL_POLL_S = 0.25
REAP_S = 5.0
# How long a stopping worker waits for its runs to go back to the queue.
HAND_BACK_S = 30.0


@dataclass(frozen=True)
class _Loaded:
    """A day as a plan run reads it: the day, its unplannable (and among them promised)
    jobs, the live-schedule version read, for a re-plan what is left of the day, and
    the published plan's locks with the problem that keeps what it can of them."""

    day: Day
    unplannable: list[str]
    promised: list[str]
    version: int
    left: DayFrom | None
    locks: tuple[lock_rules.VisitLock, ...] = ()
    locked: lock_rules.Locked | None = None

    @property
    def problem(self) -> Problem:
        """What the engine solves: the day's problem with the locks that can be kept."""
        return self.locked.problem if self.locked is not None else self.day.problem

    @property
    def unreported(self) -> dict[str, str]:
        """A re-plan's visits due with nothing reported (``DayFrom.unreported``)."""
        return self.left.unreported if self.left is not None else {}

    @property
    def ordered(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The order locks, per technician."""
        return self.locked.ordered if self.locked is not None else ()

    def same_question(self, other: _Loaded) -> bool:
        """Both ask the engine the same question: the same work and the same locks."""
        return _same_work(self.day, other.day) and self.unplannable == other.unplannable and self.locks == other.locks


def _keep_under_way(session: Session, day: Day) -> Day:
    """The day with every job under way (en route, on site) pinned to the technician who
    has it in the published plan (``mapping.on_the_way_with``: of a crew, the one who
    reported it): a plan never takes a
    visit from a technician already on the way to it (docs/replan.md)."""
    working = {t.id for t in day.problem.technicians}
    # A job holds one pin: a crew's goes to the one who reported it (both reported: either).
    with_whom = {
        job_id: min(techs & working)
        for job_id, techs in on_the_way_with(session, day.date, day.region).items()
        if techs & working
    }
    if not with_whom:
        return day
    jobs = tuple(
        dataclasses.replace(j, pinned_technician_id=with_whom[j.id]) if j.id in with_whom else j
        for j in day.problem.jobs
    )
    return dataclasses.replace(day, problem=dataclasses.replace(day.problem, jobs=jobs))


def check_days_not_under_way(session: Session, first: dt.date, last: dt.date, region: str) -> None:
    """Refuse a plan over ``first``..``last`` when one of its days is under way (a visit
    of its published plan on the way or on site): a plan over several days plans each
    day whole, and the day under way is re-planned from now instead (docs/horizon.md).
    ``Conflict`` saying which day and what to run, naming ``date_from`` when that day is
    the first (or one between) and ``date_to`` when it is the last: the bound to move."""
    for day, jobs in sorted(under_way_on(session, first, last, region, crews=True).items()):
        busy = sorted(jobs)
        shown = ", ".join(busy[:5]) + (f" and {len(busy) - 5} more" if len(busy) > 5 else "")
        before = f"; plan the days before it with date_to {day - dt.timedelta(days=1)}" if day > first else ""
        after = f"; plan the days after it with date_from {day + dt.timedelta(days=1)}" if day < last else ""
        field = "date_to" if first < day == last else "date_from"
        which = "date_from: " + str(day) if day == first else f"{field}: {day}, a day of the plan,"
        raise Conflict(
            f"{which} is under way ({shown} on the way or on site): re-plan it from now "
            f'with "date": "{day}" and "from"{before}{after}',
            field,
        )


def _within(routes: list[WorkingRoute], job_ids: set[str]) -> list[WorkingRoute]:
    """The routes with only the jobs among ``job_ids`` left in them."""
    out = []
    for r in routes:
        keep = [(i, s) for i, s in r.visits() if i in job_ids]
        out.append(WorkingRoute(r.technician_id, tuple(i for i, _ in keep), tuple(s for _, s in keep)))
    return out


def store_replan(
    session: Session, plan: PlanRow, left: DayFrom, solution: Solution, slot_s: Mapping[str, int], notify_min: int
) -> None:
    """Store a re-plan: the settled visits of the published plan as they are, and those
    over without being done that it does not plan again (``DayFrom.ended``), first on
    their technicians' routes, then the checked solution of what was left, and
    the changes against what was told (``solver.replan.changes``) and the stability
    they were weighed with."""
    assert plan.id is not None
    store_solution(session, plan, left.day, solution, left.unplannable, slot_s)
    session.flush()
    # The visits kept as they were (done, under way, or over without being done) go first
    # on their routes, in their old order, numbered from 1; the planned ones after them.
    kept = sorted([*left.settled, *left.ended], key=lambda v: (v.technician_id, v.seq))
    offset: dict[str, int] = {}
    for old in kept:
        offset[old.technician_id] = offset.get(old.technician_id, 0) + 1
    if offset:
        for row in session.exec(select(VisitRow).where(VisitRow.plan_id == plan.id)).all():
            row.seq += offset.get(row.technician_id, 0)
            session.add(row)
    if left.lunches_taken:
        clock = left.day.clock
        for route in session.exec(select(RouteRow).where(RouteRow.plan_id == plan.id)).all():
            had = left.lunches_taken.get(route.technician_id)
            if had is not None and route.lunch_start is None:
                # The lunch they have had stays on their route (what later re-plans and the live day read).
                route.lunch_start, route.lunch_end = clock.to_stored(had[0]), clock.to_stored(had[1])
                session.add(route)
    placed: dict[str, int] = {}
    for old in kept:
        seq = placed[old.technician_id] = placed.get(old.technician_id, 0) + 1
        copy = VisitRow(
            plan_id=plan.id,
            technician_id=old.technician_id,
            job_id=old.job_id,
            seq=seq,
            arrival=old.arrival,
            start=old.start,
            end=old.end,
            travel_min=old.travel_min,
            distance_km=old.distance_km,
            window_start=old.window_start,
            window_end=old.window_end,
        )
        session.add(copy)
    plan.changes = changes_json(left, solution, notify_min)
    plan.stability = dataclasses.asdict(left.stability)


def changes_json(left: DayFrom, solution: Solution, notify_min: int) -> dict[str, Any]:
    """What ``solution`` (of what was left at ``left.at``) changes against what technicians
    and customers were told (``solver.replan.changes``), as a re-plan stores it."""
    found = replan_changes(left.told, left.told_routes, solution, notify_min)
    clock = left.day.clock
    return {
        "from": left.at.isoformat(),
        "moved": [
            {"job_id": m.job_id, "from_technician_id": m.from_technician_id, "to_technician_id": m.to_technician_id}
            for m in found.moved
        ],
        "retimed": [
            {
                "job_id": r.job_id,
                "old_arrival": clock.moment(r.old_arrival_s).isoformat(),
                "new_arrival": clock.moment(r.new_arrival_s).isoformat(),
            }
            for r in found.retimed
        ],
        "dropped": list(found.dropped),
        "added": [
            {"job_id": a.job_id, "technician_id": a.technician_id, "arrival": clock.moment(a.arrival_s).isoformat()}
            for a in found.added
        ],
        "notify": list(found.notify),
        "routes_changed": list(found.routes_changed),
        "settled": sorted({v.job_id for v in left.settled}),
        "ended": sorted({v.job_id for v in left.ended}),
        "locks_not_kept": [],
    }


def clear_answer(session: Session, plan_id: int) -> None:
    """Take a running plan's stored answer out (its routes, visits and unassigned
    jobs, figures and changes), for a better one or because the run ended without one."""
    for table in (VisitRow, RouteRow, UnassignedRow):
        session.exec(delete(table).where(col(table.plan_id) == plan_id))
    plan = session.get(PlanRow, plan_id)
    if plan is not None:
        plan.kpis = plan.objective = plan.changes = plan.locks = None
        session.add(plan)


def store_answer(
    session: Session, plan: PlanRow, loaded: _Loaded, solution: Solution, slot_s: Mapping[str, int], notify_min: int
) -> None:
    """Store a checked answer of a run as its current one (replacing any answer stored
    before): a re-plan with its changes, else the solution; and the locks it kept (with
    what it could not keep, also in a re-plan's ``changes.locks_not_kept``)."""
    assert plan.id is not None
    clear_answer(session, plan.id)
    session.flush()
    if loaded.left is not None:
        store_replan(session, plan, loaded.left, solution, slot_s, notify_min)
    else:
        store_solution(session, plan, loaded.day, solution, loaded.unplannable, slot_s)
    if loaded.locked is None:
        return
    lost = [*loaded.locked.released, *lock_rules.not_kept(solution, loaded.locked, loaded.locks)]
    session.flush()
    planned = {j.id for j in loaded.locked.problem.jobs}
    plan.locks = locks.records_after(session, plan.id, loaded.locks, planned, lost, loaded.day.clock)
    if plan.changes is not None:
        plan.changes = {**plan.changes, "locks_not_kept": locks.not_kept_json(lost)}


def _caught_up(loaded: _Loaded, solution: Solution, seconds: float, seed: int, cancel: threading.Event) -> Solution:
    """``solution`` re-planned briefly (``seconds``) on the day as ``loaded`` now has it,
    starting from its routes: a run's answer brought up to date with a change made
    while it solved."""
    start = [
        WorkingRoute(r.technician_id, tuple(v.job_id for v in r.visits), tuple(v.start_s for v in r.visits))
        for r in solution.routes
    ]
    options = SolveOptions(time_limit_s=seconds, initial_routes=start, ordered=loaded.ordered, seed=seed)
    return solve(loaded.problem, options, cancel=cancel)


def claim_finish(session: Session, plan_id: int, token: str) -> PlanRow:
    """The run's row, held (locked until the commit) so that its answer can be stored:
    ``Cancelled`` when a cancel was requested first, ``RunSuperseded`` when another
    attempt holds the run. One conditional update, so a cancel requested at the same
    moment either comes first (the run ends cancelled) or finds the run done (a 409):
    never a cancel answered as accepted on a run that then ends done."""
    claimed = session.exec(
        update(PlanRow)
        .where(leases.held(plan_id, token, "running"))
        .values(status="running")  # no change: the row is held until the commit
    )
    plan = session.get(PlanRow, plan_id, populate_existing=True)
    if claimed.rowcount == 1 and plan is not None:
        return plan
    if plan is not None and plan.task_token == token and plan.cancel_requested:
        raise Cancelled("cancelled")
    raise RunSuperseded(f"plan {plan_id} is no longer this attempt's")


class RunSuperseded(RuntimeError):
    """The run is no longer this task's: another attempt took it over, or it was deleted."""


class PlanRunner:
    """Plan runs on the task engine (``dispatch.tasks``): ``submit`` stores a queued run
    and enqueues its task; whichever process consumes the queue solves it (``workers``
    threads of this process, or ``python -m dispatch.worker`` processes anywhere),
    heartbeating it and polling for a cancel from any process (``dispatch.leases``).

    Every runner also watches for runs whose worker died and queues them again (or
    ends them ``failed``), so a lone API process recovers a run its only worker lost.
    Consuming starts with ``start`` or the first submit, and again after ``shutdown``,
    so an app whose lifespan runs more than once (as test clients do) keeps planning."""

    def __init__(
        self,
        engine: Engine,
        tz: ZoneInfo,
        workers: int = 1,
        clock: Clock = SYSTEM_CLOCK,
        slot_minutes: Mapping[str, int] | None = None,
        stability: Stability | None = None,
        notify_min: int = 15,
        broker_url: str | None = None,
        lease_s: float = leases.LEASE_S,
    ) -> None:
        self.engine = engine
        self.lease_s = lease_s
        # Several heartbeats a lease, however short the lease is set: a beat held up for
        # a moment (a loaded machine, a thread starved of the GIL) must not lose the run.
        self.beat_s = min(leases.HEARTBEAT_S, lease_s / 4)
        self.tz = tz
        self.clock = clock
        # The slot grid's window length per job kind: each visit's window told to its customer.
        self.slot_s = live.slot_lengths_s(slot_minutes or BookingSettings().slot_minutes)
        # A re-plan's costs for changing what was told, and the arrival move customers hear of.
        self.stability = stability or Stability()
        self.notify_min = notify_min
        self.broker_url = broker_url or tasks.default_broker_url(engine.url.render_as_string(hide_password=False))
        self.queue = tasks.make_queue(self.broker_url)
        self._task = self.queue.task(name=TASK_NAME, retries=0)(self.execute)
        self.identity = f"{socket.gethostname()}:{os.getpid()}"
        self._threads = max(0, workers)
        self._consumer: Consumer | None = None
        self._watch: threading.Thread | None = None
        self._stop = threading.Event()
        self._runs: dict[int, _Run] = {}
        self._lock = threading.Lock()
        if self._threads:
            prepare()  # the compiled search gets ready in the background meanwhile

    @classmethod
    def from_settings(cls, engine: Engine, settings: Settings, workers: int) -> PlanRunner:
        """The runner a service configured by ``settings`` uses, solving ``workers`` runs at
        once in this process (0: it only enqueues, and watches for dead workers)."""
        return cls(
            engine,
            ZoneInfo(settings.timezone),
            workers,
            settings.clock,
            settings.booking.slot_minutes,
            settings.stability,
            settings.eta.notify_min,
            broker_url=settings.broker_url,
            lease_s=settings.plan_lease_s,
        )

    def start(self) -> None:
        """Start the watch and this process's solver threads (if any); idempotent. The
        threads take runs once the compiled search is ready, as a worker does
        (``consume``): until then runs wait in the queue, shown queued."""
        with self._lock:
            if self._watch is not None:
                return
            self._stop = threading.Event()
            if self._threads:
                threading.Thread(
                    target=self._consume_when_ready, args=(self._stop,), name="plan-consumer-start", daemon=True
                ).start()
            self._watch = threading.Thread(target=self._watching, args=(self._stop,), name="plan-watch", daemon=True)
            self._watch.start()

    def _consume_when_ready(self, stop: threading.Event) -> None:
        prepare(wait=True)
        with self._lock:
            if stop.is_set() or self._consumer is not None:
                return
            self._consumer = tasks.consumer(self.queue, self._threads, own_signals=False)
            self._consumer.start()

    def consume(self) -> None:
        """Solve runs from the queue on this (main) thread's process until SIGINT or SIGTERM
        (``python -m dispatch.worker``): ``workers`` threads, the watch beside them. A
        worker takes runs once its compiled search is ready (loaded from its cache in
        well under a second; compiled on a machine's first run, about 10 s), so none is
        searched by OR-Tools alone, which in a short time limit on a loaded machine can
        leave most of a day out (a 2-s plan of the sample day served 13 of 180 jobs)."""
        if not prepare():
            log.info("getting the compiled search ready before taking plan runs")
            prepare(wait=True)
        with self._lock:
            self._stop = threading.Event()
            self._watch = threading.Thread(target=self._watching, args=(self._stop,), name="plan-watch", daemon=True)
            self._watch.start()
        try:
            tasks.consumer(self.queue, max(1, self._threads), own_signals=True).run()
        finally:
            # Stopped at once (SIGTERM): the runs under way go back to the queue for
            # another worker (or this one's next start) instead of being lost or cancelled.
            with self._lock:
                for run in self._runs.values():
                    run.hand_back = True
                    run.cancel.set()
            deadline = time.monotonic() + HAND_BACK_S
            while self._runs and time.monotonic() < deadline:
                time.sleep(0.05)
            self._stop.set()

    def submit(
        self,
        day: dt.date,
        region: str,
        time_limit_s: float,
        replan_from: dt.datetime | None = None,
        last_day: dt.date | None = None,
        stability: Stability | None = None,
    ) -> PlanRow:
        """Store a queued plan run (a re-plan of what is left of the day at
        ``replan_from`` when given, weighing changes with ``stability``, default the
        runner's, stored with the run so that whichever worker solves it weighs them
        alike; the days ``day``..``last_day`` in one solve when ``last_day`` is given,
        docs/horizon.md) and enqueue it; returns at once.
        ``Unavailable`` naming ``BROKER_URL`` (and the run stored as ``failed``) when
        the queue cannot be reached."""
        token = leases.new_token()
        with session_scope(self.engine) as session:
            plan = PlanRow(
                date=day,
                date_to=last_day,
                region=region,
                status="queued",
                time_limit_s=time_limit_s,
                created_at=self.clock.now(),
                replan_from=to_storage(replan_from) if replan_from is not None else None,
                stability=dataclasses.asdict(stability or self.stability) if replan_from is not None else None,
                task_token=token,
            )
            session.add(plan)
            session.flush()
            assert plan.id is not None
            plan_id = plan.id
        self.start()
        try:
            self._task(plan_id, token)
        except Exception as exc:
            log.exception("plan %s could not be queued", plan_id)
            problem = f"the task queue could not be reached: {type(exc).__name__}: {str(exc)[:200]}"
            self._end(plan_id, "failed", problem)
            raise Unavailable(f"plan {plan_id} was not started: {problem}", tasks.BROKER_ENV) from None
        return plan

    def cancel(self, plan_id: int) -> None:
        """Stop a queued or running plan; it ends as ``cancelled``. A queued one ends at
        once; a running one within about a second, whichever process solves it (the
        request is stored and its worker polls for it). Both steps are conditional
        updates, so a worker claiming the run at the same moment either sees the request
        or never starts it."""
        with session_scope(self.engine) as session:
            asked = session.exec(
                update(PlanRow)
                .where(col(PlanRow.id) == plan_id, col(PlanRow.status).in_(("queued", "running")))
                .values(cancel_requested=True)
            )
            if asked.rowcount != 1:
                plan = session.get(PlanRow, plan_id)
                if plan is None:
                    raise NotFound(f"plan {plan_id} does not exist", "plan_id")
                raise Conflict(f"plan {plan_id} is {plan.status}, not running", "plan_id")
            session.exec(
                update(PlanRow)
                .where(col(PlanRow.id) == plan_id, col(PlanRow.status) == "queued")
                .values(status="cancelled", phase=None, error="cancelled", finished_at=self.clock.now())
            )
        with self._lock:
            run = self._runs.get(plan_id)
        if run is not None:
            run.cancel.set()

    def shutdown(self) -> None:
        """Cancel every run this process solves, stop its solver threads and watch, and
        close the queue's connection."""
        self._cancel_all()
        with self._lock:
            consumer, self._consumer = self._consumer, None
            watch, self._watch = self._watch, None
            self._stop.set()
        if consumer is not None:
            consumer.stop(graceful=True)
        if watch is not None:
            watch.join()
        self.queue.storage.close()

    def _cancel_all(self) -> None:
        with self._lock:
            for run in self._runs.values():
                run.cancel.set()

    def _watching(self, stop: threading.Event) -> None:
        """Heartbeat this process's runs, pass cancels on, and take runs of dead workers."""
        last_beat = last_reap = 0.0
        while not stop.wait(CANCEL_POLL_S):
            try:
                with self._lock:
                    runs = {i: r.token for i, r in self._runs.items()}
                if runs:
                    due = time.monotonic() - last_beat >= self.beat_s
                    with session_scope(self.engine) as session:
                        seen = leases.beat(session, runs, leases.db_now(session) if due else None)
                    if due:
                        last_beat = time.monotonic()
                    with self._lock:
                        for plan_id in seen.cancelled | seen.lost:
                            run = self._runs.get(plan_id)
                            if run is not None:
                                run.lost = run.lost or plan_id in seen.lost
                                run.cancel.set()
                if time.monotonic() - last_reap >= REAP_S:
                    last_reap = time.monotonic()
                    self.take_stale()
            except Exception:  # the watch outlives a database hiccup
                log.exception("plan watch")

    def take_stale(self) -> list[leases.Taken]:
        """Take the runs whose worker stopped heartbeating for ``lease_s``
        (``dispatch.leases.take_stale``): clear what they stored, queue again those with
        an attempt left and no cancel asked for."""
        with session_scope(self.engine) as session:
            taken = leases.take_stale(session, leases.db_now(session), self.clock.now(), self.lease_s)
            for t in taken:
                clear_answer(session, t.plan_id)
        for t in taken:
            if t.token is not None:
                log.warning("plan %s: its worker stopped; queued again", t.plan_id)
                self._task(t.plan_id, t.token)
            elif t.cancelled:
                log.warning("plan %s: its worker stopped; cancelled as asked", t.plan_id)
            else:
                log.warning("plan %s: its worker stopped; failed", t.plan_id)
        return taken

    def _set(self, plan_id: int, run: _Run, **values: object) -> None:
        with session_scope(self.engine) as session:
            plan = self._mine(session, plan_id, run)
            for key, value in values.items():
                setattr(plan, key, value)
            session.add(plan)

    @staticmethod
    def _mine(session: Session, plan_id: int, run: _Run) -> PlanRow:
        """The run's row, if it is still this attempt's (``RunSuperseded`` if not)."""
        plan = session.get(PlanRow, plan_id)
        if plan is None or plan.task_token != run.token:
            run.lost = True
            raise RunSuperseded(f"plan {plan_id} is no longer this attempt's")
        return plan

    def _report_progress(self, plan_id: int, run: _Run, fraction: float) -> bool:
        """Store progress; True when a cancel has been requested meanwhile."""
        with session_scope(self.engine) as session:
            plan = session.get(PlanRow, plan_id)
            if plan is None or plan.task_token != run.token:
                run.lost = True
                return True
            plan.progress = fraction
            session.add(plan)
            return plan.cancel_requested

    def _load(
        self, session: Session, day: dt.date, region: str, replan_from: dt.datetime | None, stability: Stability
    ) -> _Loaded:
        """The day to plan as stored now (what is left of it at ``replan_from`` for a
        re-plan, changes weighed with ``stability``), and the live-schedule version it
        was read at."""
        from dispatch import replan  # replan reads ETAs, which read the published plan here

        base = live.version(session, day, region)
        left = None
        if replan_from is not None:
            left = replan.day_from(session, day, region, self.tz, replan_from, stability)
            loaded, unplannable = left.day, left.unplannable
            held, locked = left.locks, left.locked
        else:
            loaded, unplannable = load_day(session, day, region, self.tz)
            loaded = _keep_under_way(session, loaded)
            # A whole-day run keeps the published plan's locks too (none has passed: it plans the whole day).
            held = tuple(locks.published(session, day, region, loaded.clock))
            locked = lock_rules.apply(loaded.problem, held) if held else None
        promised = [
            i
            for i in unplannable
            if (row := session.get(JobRow, i)) and row.confirmed and _promised_on(session, row, day, self.tz)
        ]
        return _Loaded(loaded, unplannable, promised, base, left, held, locked)

    def _store_first(self, plan_id: int, run: _Run, loaded: _Loaded, solution: Solution, started: float) -> None:
        """Store a run's first answer as its current result (it stays running), unless it
        breaks a promise or the run is being cancelled; never raises into the solve."""
        try:
            broken = broken_promises(loaded.day, solution, loaded.promised, loaded.unreported)
            if broken:
                log.info("plan %s: no first answer (%s)", plan_id, "; ".join(broken))
                return
            with session_scope(self.engine) as session:
                plan = self._mine(session, plan_id, run)
                if plan.status != "running" or plan.cancel_requested:
                    return
                store_answer(session, plan, loaded, solution, self.slot_s, self.notify_min)
                plan.first_answer_s = round(time.monotonic() - started, 3)
                plan.phase = "improving"
                session.add(plan)
        except Exception:
            log.exception("plan %s: the first answer could not be stored", plan_id)

    def _end(self, plan_id: int, status: str, error: str, run: _Run | None = None) -> None:
        """End a run without a result: no answer of it stays stored (nothing at all when
        ``run`` is no longer this attempt's)."""
        with session_scope(self.engine) as session:
            plan = session.get(PlanRow, plan_id)
            if plan is None or (run is not None and plan.task_token != run.token):
                return
            clear_answer(session, plan_id)
            plan.status, plan.phase, plan.error, plan.finished_at = status, None, error, self.clock.now()
            session.add(plan)

    def _hand_back(self, plan_id: int, run: _Run) -> None:
        """Put a run this stopping worker was solving back in the queue (same attempt, a
        new token), unless it was cancelled meanwhile: then it ends ``cancelled``."""
        token = leases.new_token()
        with session_scope(self.engine) as session:
            plan = session.get(PlanRow, plan_id)
            if plan is None or plan.task_token != run.token:
                return
            clear_answer(session, plan_id)
            if plan.cancel_requested:
                plan.status, plan.phase, plan.error, plan.finished_at = "cancelled", None, "cancelled", self.clock.now()
                session.add(plan)
                return
            plan.status, plan.phase, plan.progress, plan.first_answer_s = "queued", None, 0.0, None
            plan.task_token, plan.worker, plan.heartbeat_at = token, None, None
            session.add(plan)
        log.info("plan %s: handed back to the queue (this worker is stopping)", plan_id)
        self._task(plan_id, token)

    def execute(self, plan_id: int, token: str) -> None:
        """The task: solve attempt ``token`` of run ``plan_id`` if it is still queued for
        it (a stale or cancelled task does nothing), heartbeating it meanwhile."""
        with session_scope(self.engine) as session:
            if not leases.claim(session, plan_id, token, self.identity, leases.db_now(session)):
                log.info("plan %s: task %s is stale or cancelled; skipped", plan_id, token)
                return
        run = _Run(threading.Event(), token)
        with self._lock:
            self._runs[plan_id] = run
        try:
            self._run(plan_id, run)
        finally:
            with self._lock:
                self._runs.pop(plan_id, None)

    def _run(self, plan_id: int, run: _Run) -> None:
        try:
            with session_scope(self.engine) as session:
                plan = self._mine(session, plan_id, run)
                if run.cancel.is_set() or plan.cancel_requested:
                    raise Cancelled("cancelled before it started")
                date, region, limit = plan.date, plan.region, plan.time_limit_s
                replan_from = from_storage(plan.replan_from, self.tz) if plan.replan_from is not None else None
                stability = stored_stability(plan, self.stability)
                last_day = plan.date_to
            if last_day is not None:
                self._run_horizon(plan_id, run, date, last_day, region, limit)
                return
            with session_scope(self.engine) as session:
                started = time.monotonic()
                loaded = self._load(session, date, region, replan_from, stability)
                # Start from the live schedule: the published plan as carried out, every
                # promise already has a place there (a re-plan: what is left of it).
                initial = live.routes_of(session.get(LiveScheduleRow, (date, region)))
                if loaded.left is not None:
                    initial = _within(initial, {j.id for j in loaded.day.problem.jobs})
            self._set(
                plan_id,
                run,
                phase="solving",
                started_at=self.clock.now(),
                progress=0.0,
                base_version=loaded.version,
            )
            last = [0.0]

            def on_progress(p: Progress) -> None:
                if time.monotonic() - last[0] >= 0.5:
                    last[0] = time.monotonic()
                    if self._report_progress(plan_id, run, round(min(p.fraction, 0.99), 3)):
                        run.cancel.set()

            def on_first(first: Solution) -> None:
                self._store_first(plan_id, run, loaded, first, started)

            seed = run_seed(plan_id)
            options = SolveOptions(
                time_limit_s=limit, initial_routes=initial or None, ordered=loaded.ordered, seed=seed
            )
            # A first answer where there are routes to start from: the live schedule repaired.
            first = on_first if initial else None
            solution = solve(loaded.problem, options, progress=on_progress, cancel=run.cancel, first_answer=first)
            if run.lost:
                raise RunSuperseded(f"plan {plan_id} is no longer this attempt's")
            for attempt in range(CATCH_UPS + 1):
                broken = broken_promises(loaded.day, solution, loaded.promised, loaded.unreported)
                if broken:
                    raise PlanRefused("refused: " + "; ".join(broken))
                with session_scope(self.engine) as session:
                    held = attempt == CATCH_UPS
                    if held:
                        # The day kept changing while it caught up: this last time the run
                        # holds the day (a booking or report that changes it waits about a
                        # second) so that the run ends. Nothing here opens another session.
                        live.lock(session, date, region, self.clock.now())
                    now = self._load(session, date, region, replan_from, stability)
                    if held and not loaded.same_question(now):
                        loaded, solution = now, _caught_up(now, solution, MIN_CATCH_UP_S, seed, run.cancel)
                        broken = broken_promises(now.day, solution, now.promised, now.unreported)
                        if broken:
                            raise PlanRefused("refused: " + "; ".join(broken))
                    if loaded.same_question(now):
                        # Nothing the plan depends on moved (field events and the like may
                        # have): store it as made from the newest version.
                        plan = claim_finish(session, plan_id, run.token)
                        store_answer(session, plan, now, solution, self.slot_s, self.notify_min)
                        plan.status, plan.progress, plan.finished_at = "done", 1.0, self.clock.now()
                        plan.phase, plan.base_version, plan.error = None, now.version, None
                        session.add(plan)
                        return
                # The day changed while it solved (a booking, a cancellation, a completed
                # job): re-plan briefly from this result on the newest picture.
                log.info("plan %s: the day changed while it solved; catching up", plan_id)
                self._set(plan_id, run, phase="catching_up")
                loaded = now
                catch_up = max(MIN_CATCH_UP_S, limit * CATCH_UP_SHARE)
                solution = _caught_up(loaded, solution, catch_up, seed, run.cancel)
            raise AssertionError("the last catch-up holds the day and stores its answer")
        except RunSuperseded:
            log.warning("plan %s: taken over by another attempt; this one stops without writing", plan_id)
        except Cancelled:
            if run.lost:
                log.warning("plan %s: taken over by another attempt; this one stops without writing", plan_id)
            elif run.hand_back:
                self._hand_back(plan_id, run)
            else:
                self._end(plan_id, "cancelled", "cancelled", run)
        except PlanRefused as exc:
            log.warning("plan %s refused: %s", plan_id, exc)
            self._end(plan_id, "failed", str(exc), run)
        except Exception as exc:  # a failed run is recorded, never raised into the worker
            log.exception("plan %s failed", plan_id)
            self._end(plan_id, "failed", f"{type(exc).__name__}: {exc}", run)

    def _run_horizon(self, plan_id: int, run: _Run, first: dt.date, last: dt.date, region: str, limit: float) -> None:
        """Solve the days ``first``..``last`` in one solve and store the answer as one plan
        per day (``store_horizon``); when the days changed while it solved, catch up as a
        run of one day does. Raises as ``_run`` handles (cancelled, refused)."""
        started = time.monotonic()
        with session_scope(self.engine) as session:
            loaded = load_horizon(session, first, last, region, self.tz)
        self._set(plan_id, run, phase="solving", started_at=self.clock.now(), progress=0.0)
        last_report = [0.0]

        def on_progress(p: Progress) -> None:
            if time.monotonic() - last_report[0] >= 0.5:
                last_report[0] = time.monotonic()
                if self._report_progress(plan_id, run, round(min(p.fraction, 0.99), 3)):
                    run.cancel.set()

        seed = run_seed(plan_id)
        options = SolveOptions(time_limit_s=limit, seed=seed)
        solution = solve_horizon(loaded.horizon, options, progress=on_progress, cancel=run.cancel)
        if run.lost:
            raise RunSuperseded(f"plan {plan_id} is no longer this attempt's")
        for attempt in range(CATCH_UPS + 1):
            broken = horizon_broken_promises(loaded, solution)
            if broken:
                raise PlanRefused("refused: " + "; ".join(broken))
            with session_scope(self.engine) as session:
                held = attempt == CATCH_UPS
                if held:
                    # The days kept changing while it caught up: this last time the run
                    # holds them, in date order as every writer takes days, so that it ends.
                    for day in sorted(loaded.days):
                        live.lock(session, day, region, self.clock.now())
                now = load_horizon(session, first, last, region, self.tz)
                if held and not loaded.same_question(now):
                    loaded, solution = now, self._horizon_caught_up(now, solution, MIN_CATCH_UP_S, seed, run)
                    broken = horizon_broken_promises(loaded, solution)
                    if broken:
                        raise PlanRefused("refused: " + "; ".join(broken))
                if loaded.same_question(now):
                    # Nothing the plan depends on moved (field events and the like may have):
                    # store it as made from the newest versions.
                    versions = {d: live.version(session, d, region) for d in now.days}
                    plan = claim_finish(session, plan_id, run.token)
                    store_horizon(session, plan, now, solution, self.slot_s, versions, self.clock.now())
                    plan.status, plan.progress, plan.finished_at = "done", 1.0, self.clock.now()
                    plan.phase, plan.error = None, None
                    plan.first_answer_s = round(time.monotonic() - started, 3)
                    session.add(plan)
                    return
            # The days changed while it solved (a booking, a cancellation, a completed job):
            # re-plan briefly from this result on the newest picture, as a run of one day does.
            log.info("plan %s: the days changed while it solved; catching up", plan_id)
            self._set(plan_id, run, phase="catching_up")
            loaded = now
            solution = self._horizon_caught_up(loaded, solution, max(MIN_CATCH_UP_S, limit * CATCH_UP_SHARE), seed, run)
        raise AssertionError("the last catch-up holds the days and stores its answer")

    @staticmethod
    def _horizon_caught_up(loaded: LoadedHorizon, solution: Solution, seconds: float, seed: int, run: _Run) -> Solution:
        """A horizon answer re-planned for ``seconds`` on the newest days ``loaded``, from
        ``solution``'s routes."""
        start = {r.technician_id: [(v.job_id, None) for v in r.visits] for r in solution.routes if r.visits}
        options = SolveOptions(time_limit_s=seconds, initial_routes=start, seed=seed)
        return solve_horizon(loaded.horizon, options, cancel=run.cancel)


def store_horizon(
    session: Session,
    run: PlanRow,
    loaded: LoadedHorizon,
    solution: Solution,
    slot_s: Mapping[str, int],
    versions: Mapping[dt.date, int],
    now: dt.datetime,
) -> list[PlanRow]:
    """Store a checked horizon answer of the run ``run``: one done plan per day (its
    routes, visits, told windows and unassigned jobs, made from the live-schedule
    version ``versions`` gives), each naming ``run`` in ``horizon_id``; the run's own
    figures are those of the whole horizon. Returns the day plans, by date."""
    assert run.id is not None
    out = []
    for answer in split_by_day(loaded, solution):
        plan = PlanRow(
            date=answer.day.date,
            region=run.region,
            status="done",
            progress=1.0,
            time_limit_s=run.time_limit_s,
            created_at=now,
            started_at=run.started_at,
            finished_at=now,
            base_version=versions.get(answer.day.date),
            horizon_id=run.id,
            attempt=run.attempt,
            worker=run.worker,
        )
        session.add(plan)
        session.flush()
        store_solution(session, plan, answer.day, answer.solution, answer.unplannable, slot_s)
        session.add(plan)
        out.append(plan)
    run.kpis = compute_kpis(loaded.problem, solution).as_dict()
    run.objective = objective_eur(solution.objective)
    return out


def horizon_days(session: Session, run_id: int) -> list[PlanRow]:
    """The day plans a horizon run made, by date (none before it is done)."""
    query = select(PlanRow).where(PlanRow.horizon_id == run_id).order_by(col(PlanRow.date))
    return list(session.exec(query).all())


def publish_horizon(
    session: Session,
    run_id: int,
    *,
    now: dt.datetime,
    tz: ZoneInfo,
    confirm_windows: bool = False,
    notify_min: int = 15,
) -> PlanRow:
    """Publish every day plan of a done horizon run (``publish`` each, in date order, in
    the caller's transaction: all of them or, on a ``Conflict``, none)."""
    run = get_plan(session, run_id)
    if run.status != "done":
        raise Conflict(f"plan {run_id} is {run.status}; only a done plan can be published", "status")
    days = horizon_days(session, run_id)
    for day_plan in days:
        assert day_plan.id is not None
        publish(
            session, day_plan.id, now=now, tz=tz, confirm_windows=confirm_windows, notify_min=notify_min, lags=False
        )
    _refuse_broken_lags(session, run_id, {p.date for p in days}, run.region, tz)
    return run


def _refuse_broken_lags(session: Session, plan_id: int, days: set[dt.date], region: str, tz: ZoneInfo) -> None:
    """``Conflict`` naming ``plan_id`` when, published, the plan of ``days`` breaks a lag
    between two jobs (``mapping.broken_lags``: one of them on another day's plan); the
    caller's transaction then stores none of it. Before, such a plan was published:
    the follow-up stayed on its day, too soon after the job it waits for."""
    broken = broken_lags(session, days, region, tz)
    if broken:
        more = f" and {len(broken) - 3} more" if len(broken) > 3 else ""
        raise Conflict(
            f"plan {plan_id} cannot be published: {'; '.join(broken[:3])}{more}. Plan the days of both jobs "
            "in one plan over several days (POST /v1/plans with date_from and date_to) and publish that.",
            "plan_id",
        )


def get_plan(session: Session, plan_id: int) -> PlanRow:
    """One plan version (NotFound when unknown)."""
    plan = session.get(PlanRow, plan_id)
    if plan is None:
        raise NotFound(f"plan {plan_id} does not exist", "plan_id")
    return plan


def plan_contents(session: Session, plan_id: int) -> tuple[list[RouteRow], list[VisitRow], list[UnassignedRow]]:
    """Routes, visits (in route order) and unassigned jobs of a plan."""
    routes = session.exec(
        select(RouteRow).where(RouteRow.plan_id == plan_id).order_by(col(RouteRow.technician_id))
    ).all()
    visits = session.exec(
        select(VisitRow).where(VisitRow.plan_id == plan_id).order_by(col(VisitRow.technician_id), col(VisitRow.seq))
    ).all()
    unassigned = session.exec(
        select(UnassignedRow).where(UnassignedRow.plan_id == plan_id).order_by(col(UnassignedRow.job_id))
    ).all()
    return list(routes), list(visits), list(unassigned)


def published_plan_id(session: Session, day: dt.date, region: str) -> int | None:
    """The id of the published plan of a day and region, if any."""
    row = session.get(PublishedPlanRow, (day, region))
    return row.plan_id if row is not None else None


def publish(
    session: Session,
    plan_id: int,
    *,
    now: dt.datetime,
    tz: ZoneInfo,
    confirm_windows: bool = False,
    notify_min: int = 15,
    lags: bool = True,
) -> PlanRow:
    """Make a finished plan the current one for its day and region, as of ``now``: its
    routes become the live schedule, its still-open jobs ``scheduled``, its jobs' pins
    those of the technician locks it holds (``locks.sync_pins``), and with
    ``confirm_windows`` every visit's told window its customer's promise. A plan made
    from an older live schedule is checked against the day as it is now first
    (``Conflict`` naming ``plan_id`` with what no longer holds), and so is one that,
    published, breaks a lag with a job of another day (``lags``: checked here; a plan
    over several days checks them once all its days are published).

    The feed tells it: ``plan.published``, then ``job.assigned`` for each visit whose
    technician the previously published plan of the day did not send to that job,
    ``job.unassigned`` for each technician that plan sent to a job this one does not
    (the job not cancelled), and ``job.window`` for each job whose customer window is
    set and differs from the one it had there."""
    plan = get_plan(session, plan_id)
    if plan.status != "done":
        raise Conflict(f"plan {plan_id} is {plan.status}; only a done plan can be published", "status")
    clock = DayClock(plan.date, tz)
    row = live.lock(session, plan.date, plan.region, now)
    taken = taken_from_the_field(session, plan)
    if taken:
        raise Conflict(f"plan {plan_id} cannot be published: {'; '.join(taken)}. Re-plan from now.", "plan_id")
    past = (
        planned_in_the_past(session, plan, now - dt.timedelta(minutes=notify_min), tz) if _begun(session, plan) else []
    )
    if past:
        shown = ", ".join(f"{job_id} at {start.astimezone(tz):%H:%M}" for job_id, start in past[:5])
        more = f" and {len(past) - 5} more" if len(past) > 5 else ""
        raise Conflict(
            f"plan {plan_id} cannot be published: it starts {len(past)} visits not yet begun more than "
            f"{notify_min} minutes before now ({now.astimezone(tz):%H:%M}): {shown}{more}. The day is under way: "
            're-plan it from now (POST /v1/plans with "from") and publish that.',
            "plan_id",
        )
    pointer = session.get(PublishedPlanRow, (plan.date, plan.region))
    _refuse_overtaken(plan, pointer, tz)
    if plan.base_version is not None and plan.base_version != row.version:
        stale = stale_reasons(session, plan, tz)
        if stale:
            raise Conflict(
                f"plan {plan_id} was made before the day changed and no longer holds: {'; '.join(stale)}. "
                "Run the plan again.",
                "plan_id",
            )
    previous = pointer.plan_id if pointer is not None else None
    if pointer is None:
        pointer = PublishedPlanRow(date=plan.date, region=plan.region, plan_id=plan_id, published_at=to_storage(now))
    else:
        pointer.plan_id = plan_id
        pointer.published_at = to_storage(now)
    session.add(pointer)
    if plan.first_published_at is None:
        plan.first_published_at = to_storage(now)
    live.mark_scheduled(session, plan_id, previous, now, plan.date, tz)
    confirmed = live.confirm_visits(session, plan_id, now) if confirm_windows else []
    live.follow_plan(session, plan_id, plan.date, plan.region, clock, now)
    locks.sync_pins(session, plan, now)
    plan.base_version = row.version
    session.add(plan)
    session.flush()
    if lags:
        _refuse_broken_lags(session, plan_id, {plan.date}, plan.region, tz)
    # The feed's events are the last write: its lock is held until the commit.
    _tell_published(session, plan, previous, set(confirmed), now, notify_min)
    return plan


def _refuse_overtaken(plan: PlanRow, pointer: PublishedPlanRow | None, tz: ZoneInfo) -> None:
    """Refuse (``Conflict`` naming ``plan_id``) a re-plan made before another plan of its
    day was published: its change list, what the dispatcher approves, is against the plan
    published before, and published over the newer one it would move what the list does
    not show. (A whole-day plan may be published again: going back to it is a choice.)"""
    if plan.replan_from is None or plan.finished_at is None or pointer is None or pointer.plan_id == plan.id:
        return
    if stored_utc(pointer.published_at) > stored_utc(plan.finished_at):
        raise Conflict(
            f"plan {plan.id} cannot be published: plan {pointer.plan_id} was published at "
            f"{from_storage(pointer.published_at, tz):%H:%M}, after this re-plan was made "
            f"({from_storage(plan.finished_at, tz):%H:%M}), and its changes are against the plan before. "
            "Re-plan from now.",
            "plan_id",
        )


def _begun(session: Session, plan: PlanRow) -> bool:
    """True when the field has reported on the published plan of ``plan``'s day: a visit
    of it under way, done or failed (the day is under way, not merely late to publish)."""
    current = published_plan_id(session, plan.date, plan.region)
    if current is None:
        return False
    reported = session.exec(
        select(VisitRow.job_id)
        .join(JobRow, col(JobRow.id) == col(VisitRow.job_id))
        .where(
            VisitRow.plan_id == current,
            or_(col(JobRow.status).in_((EN_ROUTE, ON_SITE, COMPLETED)), col(JobRow.actual_start).is_not(None)),
        )
        .limit(1)
    ).first()
    return reported is not None


def planned_in_the_past(
    session: Session, plan: PlanRow, before: dt.datetime, tz: ZoneInfo
) -> list[tuple[str, dt.datetime]]:
    """The jobs not yet begun (open or scheduled) that ``plan`` starts before ``before``,
    each with its first start, earliest first: published, it would tell technicians and
    customers times already gone (a whole-day run made while the day is under way). A
    visit of the plan's day that is over (a failed visit a re-plan keeps, its revisit
    on another day: ``jobdays.on_day``) is not one of them."""
    rows = session.exec(
        select(VisitRow.job_id, VisitRow.start, JobRow)
        .join(JobRow, col(JobRow.id) == col(VisitRow.job_id))
        .where(
            VisitRow.plan_id == plan.id,
            col(JobRow.status).in_((OPEN, SCHEDULED)),
            col(VisitRow.start) < to_storage(before),
        )
    ).all()
    first: dict[str, dt.datetime] = {}
    for job_id, start, job in rows:
        if jobdays.on_day(session, job, plan.date, tz) is not job:
            continue
        moment = stored_utc(start)
        if job_id not in first or moment < first[job_id]:
            first[job_id] = moment
    return sorted(first.items(), key=lambda item: (item[1], item[0]))


def taken_from_the_field(session: Session, plan: PlanRow) -> list[str]:
    """The visits a plan would take from a technician already on the way or on site:
    a job under way (``en_route``, ``on_site``) that the plan gives to nobody who has it
    in the published plan, or a job completed since that it gives to others
    (``_done_by_others``). Never allowed (docs/replan.md)."""
    assert plan.id is not None
    current = published_plan_id(session, plan.date, plan.region)
    if current is None or current == plan.id:
        return []
    moved = _lock_jobs_it_moves(session, current, plan.id)
    done = _done_by_others(session, current, plan.id, moved)
    now_with = on_the_way_with(session, plan.date, plan.region)
    if not now_with:
        return done
    planned: dict[str, set[str]] = {}
    for job_id, tech in session.exec(
        select(VisitRow.job_id, VisitRow.technician_id).where(
            VisitRow.plan_id == plan.id, col(VisitRow.job_id).in_(sorted(now_with))
        )
    ).all():
        planned.setdefault(job_id, set()).add(tech)
    return done + [
        f"job {job_id} is under way with {', '.join(sorted(techs))} and the plan "
        + (f"gives it to {', '.join(sorted(planned[job_id]))}" if job_id in planned else "leaves it out")
        for job_id, techs in sorted(now_with.items())
        if not techs <= planned.get(job_id, set())
    ]


def _done_by_others(session: Session, current: int, plan_id: int, moved: list[str]) -> list[str]:
    """Of the jobs ``moved`` (plan ``plan_id`` gives them to other technicians than the
    published plan ``current``), those completed since with the published plan's
    technicians, each with what the plan does: it was made before their report, and
    published it would list the job as done by someone who never came."""
    if not moved:
        return []
    done = set(session.exec(select(JobRow.id).where(col(JobRow.id).in_(moved), JobRow.status == COMPLETED)).all())
    if not done:
        return []
    techs: dict[tuple[int, str], set[str]] = {}
    for owner, job_id, tech in session.exec(
        select(VisitRow.plan_id, VisitRow.job_id, VisitRow.technician_id).where(
            col(VisitRow.plan_id).in_([current, plan_id]), col(VisitRow.job_id).in_(sorted(done))
        )
    ).all():
        techs.setdefault((owner, job_id), set()).add(tech)
    return [
        f"job {job_id} was completed by {', '.join(sorted(techs[(current, job_id)]))} and the plan gives it to "
        f"{', '.join(sorted(techs[(plan_id, job_id)]))}"
        for job_id in sorted(done)
        if (current, job_id) in techs and (plan_id, job_id) in techs
    ]


def _lock_jobs_it_moves(session: Session, current: int, plan_id: int) -> list[str]:
    """Lock (as a field report does, ``field.record_event``) the jobs whose technicians
    plan ``plan_id`` changes from the published plan ``current``, in id order: a report
    stored meanwhile is read once committed, and one that comes after reads the plan as
    published. Without it, on PostgreSQL an installer's ``en_route`` and a publish that
    gives that job to another technician could both be accepted. Returns those jobs."""
    techs: dict[tuple[int, str], set[str]] = {}
    for owner, job_id, tech in session.exec(
        select(VisitRow.plan_id, VisitRow.job_id, VisitRow.technician_id).where(
            col(VisitRow.plan_id).in_([current, plan_id])
        )
    ).all():
        techs.setdefault((owner, job_id), set()).add(tech)
    jobs = {job_id for _, job_id in techs}
    moved = sorted(j for j in jobs if techs.get((current, j), set()) != techs.get((plan_id, j), set()))
    if moved:
        session.exec(
            select(JobRow.id).where(col(JobRow.id).in_(moved)).order_by(col(JobRow.id)).with_for_update(key_share=True)
        ).all()
    return moved


def stale_reasons(session: Session, plan: PlanRow, tz: ZoneInfo) -> list[str]:
    """What of a plan no longer holds on its day as stored now: promised jobs it leaves
    out or starts outside their promise, technicians it routes who no longer work that
    day, or no longer hold the skills of a visit not begun, jobs it visits that moved to
    another region. (Work completed or cancelled since is no reason: installers see it as
    it is.)"""
    assert plan.id is not None
    day, unplannable = load_day(session, plan.date, plan.region, tz)
    routes, visits, _ = plan_contents(session, plan.id)
    starts: dict[str, int] = {}
    clock = day.clock
    for v in visits:
        starts.setdefault(v.job_id, clock.from_stored(v.start))
    # Visits begun (on the way, on site, done) stay where they are whatever happens since:
    # an absence cutting a working time short is no reason to refuse a plan that keeps them.
    begun = set(
        session.exec(
            select(JobRow.id).where(
                col(JobRow.id).in_({v.job_id for v in visits}), col(JobRow.status).not_in((OPEN, SCHEDULED))
            )
        )
    )
    ahead = [v for v in visits if v.job_id not in begun]
    working = {t.id: t for t in day.problem.technicians}
    out = [f"technician {t} no longer works that day" for t in sorted({v.technician_id for v in ahead} - set(working))]
    outside: dict[str, list[str]] = {}
    for v in ahead:
        tech = working.get(v.technician_id)
        if tech is not None and not (
            tech.shift.start_s <= clock.from_stored(v.start)
            and clock.from_stored(v.end) <= tech.shift.end_s + tech.max_overtime_s
        ):
            outside.setdefault(tech.id, []).append(f"{v.job_id} at {from_storage(v.start, clock.tz):%H:%M}")
    jobs_by_id = {j.id: j for j in day.problem.jobs}
    ahead_of: dict[str, list[VisitRow]] = {}
    for v in ahead:
        ahead_of.setdefault(v.technician_id, []).append(v)
    for route in routes:
        tech = working.get(route.technician_id)
        mine = ahead_of.get(route.technician_id)
        if tech is not None and mine and (shown := _off_the_pause(route, mine, tech, jobs_by_id, day.problem, clock)):
            outside.setdefault(tech.id, []).extend(shown)
    out += [f"technician {t}'s working time no longer holds {', '.join(jobs)}" for t, jobs in sorted(outside.items())]
    # A technician's skills or a job's needs changed since: the plan would send someone
    # who cannot do the work.
    unqualified: dict[str, list[str]] = {}
    for v in ahead:
        tech, job = working.get(v.technician_id), jobs_by_id.get(v.job_id)
        if tech is not None and job is not None and not day.problem.qualified(tech, job):
            needs = ", ".join(f"{code} {level}" for code, level in sorted(job.skills.items()))
            unqualified.setdefault(tech.id, []).append(f"{job.id} (needs {needs})")
    out += [f"technician {t} lacks the skills of {', '.join(jobs)}" for t, jobs in sorted(unqualified.items())]
    for job in day.problem.jobs:
        if job.priority != 0:
            continue
        if job.id not in starts:
            out.append(f"promised job {job.id} is not in it")
        elif not any(w.start_s <= starts[job.id] <= w.end_s for w in job.windows):
            out.append(f"promised job {job.id} starts outside its promised window")
    # Of the jobs the day holds back (a multi-day job a plan of one day leaves to a plan
    # over its days, a job waiting for another), only a promise pinned to a technician
    # who no longer works that day is a reason: it cannot keep its visit.
    out += [
        f"promised job {i} is pinned to a technician without a shift"
        for i in unplannable
        if i in starts
        and (info := day.job_info.get(i)) is not None
        and info.confirmed
        and (held := day.held_back.get(i)) is not None
        and held.code == ReasonCode.PINNED_UNAVAILABLE
    ]
    # A job moved to another region since: publishing would put it on this region's lists
    # while the other region plans it too.
    elsewhere = session.exec(
        select(JobRow.id, JobRow.region)
        .where(col(JobRow.id).in_({v.job_id for v in visits}), JobRow.region != plan.region)
        .order_by(col(JobRow.id))
    ).all()
    out += [f"job {job_id} is in region {region} now" for job_id, region in elsewhere]
    return out + _inside_absences(session, plan, ahead, clock) + _reports_not_held(session, plan, visits, ahead, clock)


def _off_the_pause(
    route: RouteRow, ahead: list[VisitRow], tech: Technician, jobs: Mapping[str, Job], problem: Problem, clock: DayClock
) -> list[str]:
    """What of a route's visits ``ahead`` no longer fits its technician's lunch or pause as
    it is now (an absence entered since inside the shift is a fixed pause,
    ``worktime.honour``): the route's lunch when taken outside the lunch's hours or
    shorter than it, and the visits (not long enough to hold it) over the hours every
    placement of it covers."""
    lunch = tech.shift.lunch
    if lunch is None:
        return []
    out = []
    if route.lunch_start is not None and route.lunch_end is not None:
        start, end = clock.from_stored(route.lunch_start), clock.from_stored(route.lunch_end)
        if not (lunch.earliest_s <= start <= lunch.latest_s and end - start >= lunch.duration_s):
            out.append(f"the lunch at {clock.moment(start):%H:%M}")
    core = (lunch.latest_s, lunch.earliest_s + lunch.duration_s)  # inside every lunch it may take

    def holds_lunch(v: VisitRow) -> bool:
        job = jobs.get(v.job_id)
        if job is not None:
            return problem.lunch_on_site(job, tech)
        # A job the day's load holds back (a day of a job of several days that a plan over
        # its days places): its visit's planned length says whether it holds the lunch.
        length = clock.from_stored(v.end) - clock.from_stored(v.start)
        return lunch.on_site and length >= problem.lunch_on_site_min_s

    return out + [
        f"{v.job_id} at {clock.moment(clock.from_stored(v.start)):%H:%M}"
        for v in ahead
        if clock.from_stored(v.start) < core[1] and clock.from_stored(v.end) > core[0] and not holds_lunch(v)
    ]


def _inside_absences(session: Session, plan: PlanRow, ahead: list[VisitRow], clock: DayClock) -> list[str]:
    """The visits of ``ahead`` (those of ``plan`` not yet begun) it gives a technician inside
    the time they are reported unavailable (a ``technician_unavailable`` disruption
    recorded since the plan was made), one sentence per technician."""
    away = unavailability(disruptions_of(session, plan.date, plan.region), clock)
    if not away:
        return []
    inside: dict[str, list[str]] = {}
    for v in ahead:
        start, end = clock.from_stored(v.start), clock.from_stored(v.end)
        if any(a.overlaps(start, end) for a in away.get(v.technician_id, ())):
            inside.setdefault(v.technician_id, []).append(f"{v.job_id} at {clock.moment(start):%H:%M}")
    out = []
    for tech_id, shown in sorted(inside.items()):
        spans = " and ".join(
            f"from {clock.moment(a.from_s):%H:%M}" + (f" until {clock.moment(a.until_s):%H:%M}" if a.until_s else "")
            for a in away[tech_id]
        )
        out.append(f"technician {tech_id} is unavailable {spans} and the plan gives them {', '.join(shown)}")
    return out


# An expected end this much past the plan's is the same end (seconds rounded away).
_REPORT_SLACK = dt.timedelta(minutes=1)


def _reports_not_held(
    session: Session, plan: PlanRow, visits: list[VisitRow], ahead: list[VisitRow], clock: DayClock
) -> list[str]:
    """What the field reported that ``plan`` does not hold while it has the technician go
    on to visits not yet begun: a visit expected to end (an ``overrun``, the last one of
    its job) later than the plan has the technician leave it for their next visit, and a
    ``running_late`` report recorded after the plan was made. One sentence each.

    A re-plan keeps a visit under way with its published times (docs/replan.md), so
    what holds an overrun is when the next visit's drive begins, not the visit's end."""
    going_on = {v.technician_id for v in ahead}
    not_begun = {id(v) for v in ahead}
    next_of: dict[int, VisitRow] = {}
    route: dict[str, list[VisitRow]] = {}
    for v in sorted(visits, key=lambda v: (v.technician_id, v.seq)):
        route.setdefault(v.technician_id, []).append(v)
    for mine in route.values():
        next_of |= {id(v): w for v, w in itertools.pairwise(mine) if id(w) in not_begun}
    made = stored_utc(plan.finished_at) if plan.finished_at is not None else None
    ends: dict[str, dt.datetime] = {}
    late: dict[str, DisruptionRow] = {}
    for d in disruptions_of(session, plan.date, plan.region):
        if d.type == "overrun" and d.job_id is not None and d.expected_end is not None:
            ends[d.job_id] = stored_utc(d.expected_end)
        elif d.type == "running_late" and d.technician_id is not None and made and stored_utc(d.created_at) > made:
            late[d.technician_id] = d  # reported since: a re-plan made after it starts them from there
    out = []
    for v in visits:
        expected, following = ends.get(v.job_id), next_of.get(id(v))
        if expected is None or following is None:
            continue
        leaves = max(stored_utc(v.end), stored_utc(following.arrival) - dt.timedelta(minutes=following.travel_min))
        if expected > leaves + _REPORT_SLACK:
            out.append(
                f"job {v.job_id} is expected to end at {expected.astimezone(clock.tz):%H:%M} (an overrun) and the plan "
                f"has technician {v.technician_id} leave it at {leaves.astimezone(clock.tz):%H:%M}"
            )
    for tech_id, d in sorted(late.items()):
        if tech_id in going_on and d.at is not None:
            out.append(
                f"technician {tech_id} reported running late at {from_storage(d.at, clock.tz):%H:%M}, after the plan "
                "was made"
            )
    return out


def _tell_published(
    session: Session, plan: PlanRow, previous: int | None, confirmed: set[str], now: dt.datetime, notify_min: int
) -> None:
    """The feed events of publishing ``plan`` over the plan ``previous`` (None: the first of
    its day); ``confirmed``: jobs whose window the publication made a promise; a customer
    whose arrival moved more than ``notify_min`` minutes from the one last told (or the
    previous plan's) hears the new one (``job.eta``)."""
    assert plan.id is not None
    visits = _visits(session, plan.id)
    before = _visits(session, previous) if previous is not None else []
    # A crew's customer sees the first of the two arrive: one arrival per job.
    earlier = first_to_arrive(before, lambda v: v.job_id, lambda v: v.arrival)
    arrived_before = {job_id: v.arrival for job_id, v in earlier.items()}
    first = first_to_arrive(visits, lambda v: v.job_id, lambda v: v.arrival)
    moved: list[tuple[VisitRow, dt.datetime]] = []
    jobs = {j.id: j for j in session.exec(select(JobRow).where(col(JobRow.id).in_({v.job_id for v in visits}))).all()}
    for v in first.values():
        job = jobs.get(v.job_id)
        if job is None or job.status not in (SCHEDULED, EN_ROUTE):
            continue
        last = job.told_eta if job.told_eta is not None else arrived_before.get(v.job_id)
        if last is not None and tells((stored_utc(v.arrival) - stored_utc(last)).total_seconds(), notify_min):
            moved.append((v, last))
            job.told_eta = v.arrival
            session.add(job)
    session.flush()
    # The feed's events last: its lock is held until the commit.
    published = {"plan_id": plan.id, "date": plan.date, "region": plan.region}
    feed.emit(session, feed.PLAN_PUBLISHED, job_id=None, technician_id=None, data=published, now=now)
    was_assigned = {(v.job_id, v.technician_id) for v in before}
    # Work cancelled since the plan was made is nobody's to do: nobody is told it.
    gone = {job_id for job_id, job in jobs.items() if job.status == CANCELLED}
    for v in visits:
        if (v.job_id, v.technician_id) not in was_assigned and v.job_id not in gone:
            assigned = {"technician_id": v.technician_id, "plan_id": plan.id}
            feed.emit(
                session, feed.JOB_ASSIGNED, job_id=v.job_id, technician_id=v.technician_id, data=assigned, now=now
            )
    # The technician a job was taken from hears it too: their phone may follow the feed.
    now_with: dict[str, list[str]] = {}
    for v in visits:
        now_with.setdefault(v.job_id, []).append(v.technician_id)
    taken = sorted((job_id, tech) for job_id, tech in was_assigned if tech not in now_with.get(job_id, []))
    cancelled = set(
        session.exec(
            select(JobRow.id).where(col(JobRow.id).in_({j for j, _ in taken}), JobRow.status == CANCELLED)
        ).all()
    )
    for job_id, tech in taken:
        if job_id not in cancelled:
            unassigned = {"technician_id": tech, "plan_id": plan.id, "to": sorted(now_with.get(job_id, []))}
            feed.emit(session, feed.JOB_UNASSIGNED, job_id=job_id, technician_id=tech, data=unassigned, now=now)
    old_windows = {v.job_id: (v.window_start, v.window_end) for v in before}
    told: set[str] = set()
    for v in visits:
        if v.window_start is None or v.window_end is None or v.job_id in told or v.job_id in gone:
            continue
        told.add(v.job_id)
        if old_windows.get(v.job_id) != (v.window_start, v.window_end) or v.job_id in confirmed:
            job = session.get(JobRow, v.job_id)
            window = {"start": v.window_start, "end": v.window_end, "confirmed": bool(job and job.confirmed)}
            feed.emit(session, feed.JOB_WINDOW, job_id=v.job_id, technician_id=v.technician_id, data=window, now=now)
    for v, last in moved:
        data = {"eta": v.arrival, "previous": last, "plan_id": plan.id}
        feed.emit(session, feed.JOB_ETA, job_id=v.job_id, technician_id=v.technician_id, data=data, now=now)


def _visits(session: Session, plan_id: int) -> list[VisitRow]:
    query = select(VisitRow).where(VisitRow.plan_id == plan_id)
    return list(session.exec(query.order_by(col(VisitRow.technician_id), col(VisitRow.seq))).all())


def list_plans(session: Session, day: dt.date, region: str | None = None) -> list[PlanRow]:
    """Plan versions of a day (and region), newest first."""
    query = select(PlanRow).where(PlanRow.date == day).order_by(col(PlanRow.id).desc())
    if region is not None:
        query = query.where(PlanRow.region == region)
    return list(session.exec(query).all())


def check_time_limit(time_limit_s: float, maximum: float) -> None:
    """Refuse time limits the service will not run."""
    if not 0 < time_limit_s <= maximum:
        raise Invalid(f"time_limit_s must be in (0, {maximum:g}]", "time_limit_s")
