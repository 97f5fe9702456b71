"""Booking: ranked appointment slots while the customer waits, and bookings
that can never be sold twice (API.md, "Booking"; docs/booking.md).

Each day and region keeps one *live schedule* (``dispatch.live``): the published
plan as carried out, with every booking since. A slot search asks the slot
evaluator (``solver.slots``) where the new job fits among its *promised* jobs
(booked or confirmed, each inside its promise; unconfirmed work stays flexible),
per candidate window of the slot grid; a booking takes the day's lock (a row lock
on PostgreSQL, an immediate transaction on SQLite), checks the insertion again
against the newest live schedule, stores the job with its slot as its promise and
the live schedule with the job in it, all in one transaction.

Plan runs treat promised jobs as hard: they outrank all other work (priority
tier 0) and a run that would leave one out is refused (``dispatch.planning``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dispatch import catalog, feed, live
from dispatch.errors import Conflict, DispatchError, Invalid, NotFound
from dispatch.inputs import BookingIn, CustomerIn, JobIn, LatLon, SlotSearchIn, WindowIn
from dispatch.jobstate import PLANNABLE
from dispatch.mapping import DayClock, Span, job_from, job_of, predecessor_end, technicians_on
from dispatch.settings import BookingSettings
from dispatch.tables import BookingRow, JobRow, LiveScheduleRow, TechnicianRow
from dispatch.timeutil import to_storage
from solver import Job, Location, Problem, ReasonCode, TimeWindow
from solver.plan import routes_from_json
from solver.slots import Insertion, SlotEvaluator, SlotReason, WindowAnswer, WorkingRoute

SEARCH_JOB_ID = "slot-search"
# Ranking: each day later than the first date searched weighs like this many cents of
# added cost, and each minute of slack below THIN_SLACK_MIN like RISK_CENTS_PER_MIN.
LATER_DAY_CENTS = 1500
THIN_SLACK_MIN = 30
RISK_CENTS_PER_MIN = 50
# Score = 100 for the best slot, falling by a factor e for each SCORE_SCALE_CENTS of rank key.
SCORE_SCALE_CENTS = 5000

Geocode = Callable[[str], LatLon]


class BadIdempotencyKey(DispatchError):
    """The same Idempotency-Key came with a different request body."""

    status = 422
    title = "Idempotency key reused"


@dataclass(frozen=True)
class OfferedSlot:
    """A window the ordering system may offer, with what it costs and how safe it is."""

    start: dt.datetime
    end: dt.datetime
    score: float
    added_travel_min: float
    added_cost_eur: float
    slack_min: int
    risk: str


@dataclass(frozen=True)
class UnavailableSlot:
    """A candidate window that is not offered, and why (no other customer named)."""

    start: dt.datetime
    end: dt.datetime
    code: str
    reason: str


@dataclass(frozen=True)
class Waits:
    """A job the slot's job waits for (``depends_on``): its end, and from when until
    when (None: no limit) the slot's job may start."""

    job_id: str
    end: dt.datetime
    earliest: dt.datetime
    latest: dt.datetime | None

    def too_soon(self, start: dt.datetime, end: dt.datetime) -> UnavailableSlot:
        """The window from ``start`` to ``end``, not offered: it starts before ``earliest``."""
        return UnavailableSlot(
            start,
            end,
            ReasonCode.DEPENDENCY_NOT_MET.value,
            f"Waits for job {self.job_id}, which ends {self.end:%Y-%m-%d %H:%M}: "
            f"slots start from {self.earliest:%Y-%m-%d %H:%M}.",
        )

    def sentence(self) -> str:
        """When a slot for the waiting job may lie, in words."""
        until = "" if self.latest is None else f" and end by {self.latest:%Y-%m-%d %H:%M}"
        return (
            f"waits for job {self.job_id}, which ends {self.end:%Y-%m-%d %H:%M}: a slot must start "
            f"from {self.earliest:%Y-%m-%d %H:%M}{until}"
        )

    def keeps(self, start: dt.datetime, end: dt.datetime) -> bool:
        """True when a slot from ``start`` to ``end`` starts and ends within the lags."""
        return start >= self.earliest and (self.latest is None or end <= self.latest)


@dataclass(frozen=True)
class SlotAnswer:
    """The offered slots, best first, and the windows not offered."""

    slots: list[OfferedSlot]
    unavailable: list[UnavailableSlot]


@dataclass(frozen=True)
class BookingResult:
    """The answer to a booking request; ``replayed`` when it is the stored first answer."""

    body: dict[str, Any]
    replayed: bool = False
    # The day's evaluator with this booking in it, and the cache stamp it has once committed.
    evaluator: SlotEvaluator | None = dataclasses.field(default=None, repr=False, compare=False)
    stamp: tuple[Any, ...] | None = None


class DayCache:
    """Slot evaluators per day and region, reused while nothing they depend on
    changed (live schedule version, technicians of the region). Thread-safe."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: dict[tuple[dt.date, str], tuple[tuple[Any, ...], SlotEvaluator]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[dt.date, str], stamp: tuple[Any, ...]) -> SlotEvaluator | None:
        """The cached evaluator for ``key`` if it was built at ``stamp``."""
        with self._lock:
            item = self._items.get(key)
        return item[1] if item is not None and item[0] == stamp else None

    def latest(self, key: tuple[dt.date, str]) -> tuple[tuple[Any, ...], SlotEvaluator] | None:
        """The evaluator last cached for ``key``, whatever its stamp, with that stamp."""
        with self._lock:
            return self._items.get(key)

    def put(self, key: tuple[dt.date, str], stamp: tuple[Any, ...], evaluator: SlotEvaluator) -> None:
        """Remember ``evaluator`` for ``key`` as built at ``stamp``."""
        with self._lock:
            if len(self._items) >= self.size and key not in self._items:
                self._items.pop(next(iter(self._items)))
            self._items[key] = (stamp, evaluator)


@dataclass
class BookingService:
    """Slot search, booking and cancellation for one service (settings, zone, cache)."""

    tz: ZoneInfo
    default_region: str
    settings: BookingSettings
    geocode: Geocode | None = None
    cache: DayCache = dataclasses.field(default_factory=DayCache)
    _locks: dict[tuple[dt.date, str], threading.Lock] = dataclasses.field(default_factory=dict, repr=False)
    _locks_guard: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    # ----- slot search -------------------------------------------------------------

    def search(self, session: Session, req: SlotSearchIn, now: dt.datetime) -> SlotAnswer:
        """Every window of the slot grid on the dates asked that the live schedule
        can take the job in, ranked best first, and the windows it cannot take
        with a reason. Each slot offered can be booked at this moment."""
        cfg = self.settings
        region = req.region or self.default_region
        last = req.date_to or req.date_from
        if (last - req.date_from).days + 1 > cfg.max_days:
            raise Invalid(f"date_to: search at most {cfg.max_days} days at a time", "date_to")
        today = now.astimezone(self.tz).date()
        if last < today:
            raise Invalid("date_to: the dates searched are all in the past", "date_to")
        self._check_skills(session, region, req.skills)
        location = self._location(req.location, req.address)
        urgent = req.priority == 1
        earliest = now + dt.timedelta(minutes=0 if urgent else cfg.lead_min)
        deadline = req.deadline
        if urgent and deadline is None:
            deadline = now + dt.timedelta(minutes=cfg.urgent_deadline_min)
        found: list[tuple[float, dt.date, WindowAnswer, DayClock]] = []
        unavailable: list[UnavailableSlot] = []
        first = max(req.date_from, today)
        waits = self._waits(session, req)
        if isinstance(waits, UnavailableSlot):  # the job it waits for is not done or planned: no slot
            return SlotAnswer([], [waits])
        if waits is not None and waits.latest is not None:
            deadline = waits.latest if deadline is None else min(deadline, waits.latest)
        for offset in range((last - first).days + 1):
            day = first + dt.timedelta(days=offset)
            clock = DayClock(day, self.tz)
            if deadline is not None and clock.midnight > deadline:
                break
            evaluator = self._evaluator(session, day, region)
            job = self._job(SEARCH_JOB_ID, location, req, clock, deadline)
            windows = self._windows(evaluator, req.kind, urgent, clock, earliest, deadline)
            candidates = []
            for w in windows:
                start = clock.moment(w.start_s)
                if waits is not None and start < waits.earliest:
                    unavailable.append(waits.too_soon(start, clock.moment(w.end_s)))
                elif start < earliest and not urgent:
                    unavailable.append(
                        UnavailableSlot(
                            start,
                            clock.moment(w.end_s),
                            "too_soon",
                            f"Slots start at least {cfg.lead_min} minutes from now.",
                        )
                    )
                else:
                    candidates.append(w)
            budget = cfg.search_move_budget_ms / 1000
            for answer in evaluator.evaluate(job, candidates, use_reserve=urgent, move_budget_s=budget):
                start, end = clock.moment(answer.window.start_s), clock.moment(answer.window.end_s)
                if answer.insertion is None:
                    reason = answer.reason or SlotReason.DAY_FULL
                    unavailable.append(UnavailableSlot(start, end, reason.value, reason.sentence))
                    continue
                found.append((self._rank_key(answer.insertion, offset, urgent, start), day, answer, clock))
        found.sort(key=lambda item: (item[0], item[2].window.start_s, item[1]))
        limit = req.limit or cfg.max_slots
        best = found[0][0] if found else 0.0
        slots = [self._offer(key, best, answer, clock, urgent) for key, _, answer, clock in found[:limit]]
        unavailable.sort(key=lambda u: u.start)
        return SlotAnswer(slots, unavailable)

    def _waits(self, session: Session, req: SlotSearchIn | BookingIn) -> Waits | UnavailableSlot | None:
        """When a job that waits for another (``req.depends_on``) may start: from that
        job's end plus the minimum lag, until its end plus the maximum lag; an
        ``UnavailableSlot`` over the dates asked (or the slot) when that job is neither
        done nor in a published plan. ``Invalid`` naming ``depends_on.job_id`` for an
        unknown job."""
        dep = req.depends_on
        if dep is None:
            return None
        if session.get(JobRow, dep.job_id) is None:
            raise Invalid(f"depends_on.job_id: job {dep.job_id} does not exist", "depends_on.job_id")
        end, where = predecessor_end(session, dep.job_id, self.tz)
        if end is None:
            if isinstance(req, SlotSearchIn):
                first = DayClock(req.date_from, self.tz).midnight
                last = DayClock((req.date_to or req.date_from) + dt.timedelta(days=1), self.tz).midnight
            else:
                first, last = req.slot.start, req.slot.end
            sentence = f"Waits for job {dep.job_id}, {where}: no slot can be offered before it is."
            return UnavailableSlot(first, last, ReasonCode.DEPENDENCY_NOT_MET.value, sentence)
        latest = None if dep.max_lag_min is None else end + dt.timedelta(minutes=dep.max_lag_min)
        return Waits(dep.job_id, end, end + dt.timedelta(minutes=dep.min_lag_min), latest)

    def _rank_key(self, ins: Insertion, day_offset: int, urgent: bool, start: dt.datetime) -> float:
        if urgent:  # the earliest arrival first; cost only breaks ties
            return start.timestamp() * 100 + min(ins.added_cost_cents, 99)
        thin = max(0, THIN_SLACK_MIN - ins.slack_s // 60)
        return ins.added_cost_cents + day_offset * LATER_DAY_CENTS + thin * RISK_CENTS_PER_MIN

    def _offer(self, key: float, best: float, answer: WindowAnswer, clock: DayClock, urgent: bool) -> OfferedSlot:
        ins = answer.insertion
        assert ins is not None
        scale = SCORE_SCALE_CENTS * (100 if urgent else 1)
        slack_min = ins.slack_s // 60
        return OfferedSlot(
            start=clock.moment(answer.window.start_s),
            end=clock.moment(answer.window.end_s),
            score=round(100 * math.exp(-(key - best) / scale), 1),
            added_travel_min=round(ins.added_travel_s / 60, 1),
            added_cost_eur=round(ins.added_cost_cents / 100, 2),
            slack_min=slack_min,
            risk="high" if slack_min < 15 else "medium" if slack_min < 45 else "low",
        )

    def _windows(
        self,
        evaluator: SlotEvaluator,
        kind: str,
        urgent: bool,
        clock: DayClock,
        earliest: dt.datetime,
        deadline: dt.datetime | None,
    ) -> list[TimeWindow]:
        """The candidate windows of one day: the grid of the job kind between the
        first shift start and the last shift end (08:00-17:00 on a day nobody
        works), or for urgent work rolling windows from now to the deadline."""
        cfg = self.settings
        techs = evaluator.problem.technicians
        day_start = min((t.shift.start_s for t in techs), default=8 * 3600)
        day_end = max((t.shift.end_s for t in techs), default=17 * 3600)
        due = day_end if deadline is None else min(day_end, clock.seconds(deadline))
        if urgent:
            step = cfg.urgent_step_min * 60
            from_s = max(day_start, clock.seconds(earliest))
            from_s = -(-from_s // step) * step
            length = cfg.urgent_window_min * 60
            return [TimeWindow(s, min(s + length, due)) for s in range(from_s, due + 1, step)]
        length = cfg.slot_minutes.get(kind, 60) * 60
        out = []
        start = day_start - day_start % 3600  # windows on the hour
        while start + length <= day_end and start <= due:
            out.append(TimeWindow(start, min(start + length, due) if deadline is not None else start + length))
            start += length
        return out

    def _job(
        self,
        job_id: str,
        location: LatLon,
        req: SlotSearchIn | BookingIn,
        clock: DayClock,
        deadline: dt.datetime | None,
        window: Span | None = None,
    ) -> Job:
        """The job a slot search or booking asks about, on ``clock``'s day."""
        return job_from(
            clock,
            job_id,
            Location(location.lat, location.lon),
            req.duration_min * 60,
            kind=req.kind,
            skills=req.skills,
            windows=(window,) if window is not None else (),
            release_at=req.release_at,
            deadline=deadline,
            priority=req.priority,
            crew_size=req.crew_size,
        )

    def _location(self, location: LatLon | None, address: str) -> LatLon:
        if location is not None:
            return location
        if self.geocode is None:
            raise Invalid("location: required (no geocoder configured for the address)", "location")
        return self.geocode(address)

    def _check_skills(self, session: Session, region: str, skills: dict[str, int]) -> None:
        if not skills:
            return
        held: dict[str, int] = {}
        for row_skills in session.exec(select(TechnicianRow.skills).where(TechnicianRow.region == region)).all():
            for code, level in row_skills.items():
                held[code] = max(level, held.get(code, 0))
        for code, level in sorted(skills.items()):
            if code not in held:
                raise Invalid(f"skills: no technician in region {region} has the skill {code!r}", "skills")
            if level > held[code]:
                raise Invalid(
                    f"skills: {code!r} at level {level} is above what anyone in region {region} holds ({held[code]})",
                    "skills",
                )

    # ----- the live schedule's promises -------------------------------------------------------

    def _stamp(self, session: Session, day: dt.date, region: str, version: int) -> tuple[Any, ...]:
        changed, count = session.exec(
            select(func.max(TechnicianRow.updated_at), func.count()).where(TechnicianRow.region == region)
        ).one()
        return (version, str(changed), count)

    def _evaluator(
        self, session: Session, day: dt.date, region: str, plan: LiveScheduleRow | None = None
    ) -> SlotEvaluator:
        return self._stamped_evaluator(session, day, region, plan)[0]

    def _stamped_evaluator(
        self, session: Session, day: dt.date, region: str, plan: LiveScheduleRow | None = None
    ) -> tuple[SlotEvaluator, tuple[Any, ...]]:
        """The slot evaluator of a day at its newest live schedule (cached by version), and its stamp."""
        if plan is None:
            plan = session.get(LiveScheduleRow, (day, region))
        stamp = self._stamp(session, day, region, plan.version if plan is not None else 0)
        cached = self.cache.get((day, region), stamp)
        if cached is not None:
            return cached, stamp
        evaluator = None
        previous = self.cache.latest((day, region))
        if previous is not None and previous[0][1:] == stamp[1:] and plan is not None:
            # The same technicians, another version of the plan (another worker booked or
            # cancelled): bring the cached evaluator up to date instead of building it again.
            evaluator = self._updated_evaluator(session, previous[1], plan)
        if evaluator is None:
            evaluator = self.build_evaluator(session, day, region, plan)
        self.cache.put((day, region), stamp, evaluator)
        return evaluator, stamp

    def _updated_evaluator(self, session: Session, old: SlotEvaluator, plan: LiveScheduleRow) -> SlotEvaluator | None:
        """``old`` at the stored plan ``plan``: only jobs it does not know are read, only
        changed routes timed again (``SlotEvaluator.updated``); None when that cannot be
        done (then build afresh)."""
        routes = routes_from_json(plan.routes)
        ids = {job_id for r in routes for job_id in r.job_ids}
        open_ids: set[str] = set()
        if ids:
            query = select(JobRow.id).where(
                col(JobRow.id).in_(ids), col(JobRow.status).in_(PLANNABLE), col(JobRow.confirmed).is_(True)
            )
            open_ids = set(session.exec(query).all())
        known = {j.id: j for j in old.problem.jobs}
        jobs = [known[i] for i in sorted(open_ids & known.keys())]
        new_ids = open_ids - known.keys()
        if new_ids:
            tech_ids = {t.id for t in old.problem.technicians}
            jobs += self._open_jobs(session, new_ids, plan.date, plan.region, tech_ids)
        return old.updated(jobs, _keeping(routes, open_ids))

    def _open_jobs(self, session: Session, ids: set[str], day: dt.date, region: str, tech_ids: set[str]) -> list[Job]:
        """The promised jobs still to serve among ``ids`` as the slot evaluator takes them (no pins: a booking
        promises a slot, not a technician)."""
        if not ids:
            return []
        clock = DayClock(day, self.tz)
        rows = session.exec(
            select(JobRow).where(
                col(JobRow.id).in_(ids), col(JobRow.status).in_(PLANNABLE), col(JobRow.confirmed).is_(True)
            )
        ).all()
        return [dataclasses.replace(job_of(row, clock, tech_ids), pinned_technician_id=None) for row in rows]

    def build_evaluator(
        self, session: Session, day: dt.date, region: str, plan: LiveScheduleRow | None = None
    ) -> SlotEvaluator:
        """The slot evaluator of the stored live schedule of a day and region:
        its technicians' shifts and its promised jobs (repaired where a
        technician left or a route no longer times; see ``unplaced``)."""
        technicians = technicians_on(session, day, region)
        routes = routes_from_json(plan.routes if plan is not None else None)
        ids = {job_id for r in routes for job_id in r.job_ids}
        jobs = self._open_jobs(session, ids, day, region, {t.id for t in technicians})
        return SlotEvaluator(
            Problem(technicians, tuple(jobs)),
            _keeping(routes, {j.id for j in jobs}),
            reserve_share=self.settings.urgent_reserve_share,
            repair=True,
        )

    # ----- booking ------------------------------------------------------------------

    def book(
        self, session: Session, key: str | None, req: BookingIn, now: dt.datetime, token_id: int | None = None
    ) -> BookingResult:
        """Book ``req.slot`` for the job, or refuse: ``Conflict`` (409) when the
        live schedule can no longer take it there. The same key with the same
        body answers the first answer again; with another body it is refused.
        The feed tells the new booking (``job.status`` booked, ``job.window``).
        The caller commits; nothing is written when this raises."""
        if not key:
            raise DispatchError("Idempotency-Key: this header is required for a booking", "Idempotency-Key")
        if len(key) > 200:
            raise DispatchError("Idempotency-Key: at most 200 characters", "Idempotency-Key")
        digest = _request_hash(req)
        prior = self._prior(session, key, digest, token_id)
        if prior is not None:
            return prior
        region = req.region or self.default_region
        start, end = self._slot(req, now)
        day = start.date()
        urgent = req.priority == 1
        waits = self._waits(session, req)
        if isinstance(waits, UnavailableSlot):
            raise Conflict(f"slot: {waits.reason}", "slot")
        if waits is not None and not waits.keeps(start, end):
            raise Conflict(f"slot: {waits.sentence()}", "slot")
        self._check_skills(session, region, req.skills)
        location = self._location(req.location, req.address)

        plan = live.lock(session, day, region, now)
        prior = self._prior(session, key, digest, token_id)  # a twin request may have finished while we waited
        if prior is not None:
            return prior
        evaluator, stamp = self._stamped_evaluator(session, day, region, plan)
        job_id = f"bk-{uuid.uuid4().hex[:12]}"
        job = self._job(job_id, location, req, DayClock(day, self.tz), req.deadline, (start, end))
        [window] = job.windows
        [answer] = evaluator.evaluate(
            dataclasses.replace(job, windows=()),
            [window],
            use_reserve=urgent,
            move_budget_s=self.settings.booking_move_budget_ms / 1000,
        )
        if answer.insertion is None:
            reason = answer.reason or SlotReason.DAY_FULL
            raise Conflict(f"slot: can no longer be kept. {reason.sentence}", "slot")
        row, _ = catalog.put_job(
            session, job_id, self._job_in(req, region, location), self.tz, region, booked=True, now=now
        )
        live.confirm(row, (start, end), now)  # a booking is a promise
        session.add(row)
        promised = evaluator.with_insertion(job, answer.insertion)
        live.store_routes(plan, live.merged(live.routes_of(plan), promised, _ids(promised)), now)
        session.add(plan)
        body = {
            "job_id": job_id,
            "slot": {"start": start.isoformat(), "end": end.isoformat()},
            "date": day.isoformat(),
            "region": region,
            "status": "booked",
        }
        session.add(_booking_row(key, digest, body, (start, end), token_id, now))
        session.flush()
        status = {"status": "booked", "date": body["date"], "region": region}
        feed.emit(session, feed.JOB_STATUS, job_id=job_id, technician_id=None, data=status, now=now)
        told = {"start": start, "end": end, "confirmed": True}
        feed.emit(session, feed.JOB_WINDOW, job_id=job_id, technician_id=None, data=told, now=now)
        grown = evaluator.with_job(job, answer.insertion)
        return BookingResult(body, evaluator=grown, stamp=(plan.version, *stamp[1:]))

    def _slot(self, req: BookingIn, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """The slot asked for in local time; refused when it spans two days, is past,
        or (routine work) starts sooner than the lead time from ``now``."""
        start, end = req.slot.start.astimezone(self.tz), req.slot.end.astimezone(self.tz)
        day = start.date()
        if end.date() != day and end != DayClock(day + dt.timedelta(days=1), self.tz).midnight:
            raise Invalid("slot: a slot starts and ends on the same day", "slot")
        if start < now:
            raise Invalid("slot.start: the slot is in the past", "slot.start")
        if req.priority != 1 and start < now + dt.timedelta(minutes=self.settings.lead_min):
            raise Conflict(
                f"slot: routine slots start at least {self.settings.lead_min} minutes from now; search again", "slot"
            )
        return start, end

    def book_and_commit(
        self, session: Session, key: str | None, req: BookingIn, now: dt.datetime, token_id: int | None = None
    ) -> BookingResult:
        """``book`` and commit. Bookings of one day and region in this process wait
        for each other on a lock here (which wakes at once, where the database
        lock would poll), and the day's evaluator with the new job is kept for the
        next search. A twin request with the same key that committed first is
        answered with its stored answer."""
        region = req.region or self.default_region
        day = req.slot.start.astimezone(self.tz).date()
        with self._day_lock(day, region):
            try:
                result = self.book(session, key, req, now, token_id)
                session.commit()
            except IntegrityError as exc:
                session.rollback()
                replay = self.replay(session, key, req, token_id)
                if replay is None:
                    raise Conflict(
                        "Idempotency-Key: a booking with this key is being made; retry shortly", "Idempotency-Key"
                    ) from exc
                return replay
            except BaseException:
                session.rollback()
                raise
            if result.evaluator is not None and result.stamp is not None:
                self.cache.put((day, region), result.stamp, result.evaluator)
            return result

    def _day_lock(self, day: dt.date, region: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault((day, region), threading.Lock())

    def replay(
        self, session: Session, key: str | None, req: BookingIn, token_id: int | None = None
    ) -> BookingResult | None:
        """The stored answer for ``key`` of the client ``token_id`` (after a write lost a
        race on the same key), if any."""
        if not key:
            return None
        return self._prior(session, key, _request_hash(req), token_id)

    def _prior(self, session: Session, key: str, digest: str, token_id: int | None) -> BookingResult | None:
        """The first answer to ``key`` of the client ``token_id``: keys are the client's
        own, so another client's key never answers with that client's booking."""
        owner = col(BookingRow.token_id)
        row = session.exec(
            select(BookingRow)
            .where(BookingRow.idempotency_key == key, owner == token_id if token_id is not None else owner.is_(None))
            .execution_options(populate_existing=True)
        ).first()
        if row is None:
            return None
        if row.request_hash != digest:
            raise BadIdempotencyKey(
                "Idempotency-Key: this key was used for a different booking; use a new key for a new request",
                "Idempotency-Key",
            )
        assert row.response is not None
        return BookingResult(dict(row.response), replayed=True)

    def _job_in(self, req: BookingIn, region: str, location: LatLon) -> JobIn:
        start = req.slot.start.astimezone(self.tz)
        return JobIn(
            kind=req.kind,
            region=region,
            date=start.date(),
            location=location,
            address=req.address,
            customer=CustomerIn(name=req.customer.name, phone=req.customer.phone),
            duration_min=req.duration_min,
            skills=dict(req.skills),
            crew_size=req.crew_size,
            windows=[WindowIn(start=req.slot.start, end=req.slot.end)],
            release_at=req.release_at,
            deadline=req.deadline,
            priority=req.priority,
            depends_on=req.depends_on,
            notes=req.notes,
        )

    # ----- reading and cancelling -----------------------------------------------------

    def get(self, session: Session, job_id: str, token_id: int | None) -> BookingRow:
        """A booking by its job id; a booking token sees only its own (NotFound otherwise).
        ``token_id`` None means a dispatcher, who sees every booking."""
        row = session.exec(select(BookingRow).where(BookingRow.job_id == job_id)).first()
        if row is None or (token_id is not None and row.token_id != token_id):
            raise NotFound(f"booking {job_id} does not exist", "job_id")
        return row

    def cancel(self, session: Session, job_id: str, now: dt.datetime, token_id: int | None = None) -> JobRow:
        """Cancel a job (booked or not) and take it out of the live schedule: a promised
        job's capacity is free again at once. The caller commits."""
        if token_id is not None:
            self.get(session, job_id, token_id)
        row = catalog.get_job(session, job_id)
        plan = live.lock(session, row.date, row.region, now)
        routes = live.routes_of(plan)
        if row.confirmed and row.status in PLANNABLE:
            evaluator = self._evaluator(session, row.date, row.region, plan)
            promised = evaluator.without(job_id)
            routes = live.merged(routes, promised, _ids(evaluator.routes()))
        live.store_routes(plan, live.without_job(routes, job_id), now)
        session.add(plan)
        if row.booked:
            booking = session.exec(select(BookingRow).where(BookingRow.job_id == job_id)).first()
            if booking is not None:
                booking.status = "cancelled"
                booking.cancelled_at = to_storage(now)
                session.add(booking)
        return catalog.cancel_job(session, job_id, now=now)

    def put_job(
        self, session: Session, job_id: str, data: JobIn, geocode: Geocode | None, now: dt.datetime
    ) -> tuple[JobRow, bool]:
        """``catalog.put_job`` (stamped ``now``) that keeps promises: a booked job's place, length,
        skills, crew, date and slot can only change by cancelling and booking
        again (``Conflict``); its notes, customer and technician pins may change."""
        row = session.get(JobRow, job_id)
        before = _promise(row) if row is not None and row.booked else None
        if row is not None and row.booked and row.status == "cancelled":
            raise Conflict(f"job {job_id} was a cancelled booking; book again instead of reopening it", "job_id")
        catalog.check_references(session, job_id, data)
        if data.location is None and geocode is not None:
            # Geocode before the day's lock: the geocoder's cache writes on its own connection.
            data = data.model_copy(update={"location": geocode(data.address)})
        days = {(row.date, row.region)} if row is not None else set()
        days.add((catalog.job_date(data, self.tz), data.region or self.default_region))
        for day, region in sorted(days):  # the day changes: its live schedule first (the lock order)
            live.touch(session, day, region, now)
        stored, created = catalog.put_job(session, job_id, data, self.tz, self.default_region, geocode=geocode, now=now)
        if before is not None and _promise(stored) != before:
            raise Conflict(
                f"job {job_id} is booked: its place, length, skills, crew and slot are promised; "
                "cancel the booking and book again to change them",
                "job_id",
            )
        clock = DayClock(stored.date, self.tz)
        was_confirmed = stored.confirmed and not created
        live.set_confirmed(session, stored, data.confirmed, clock, now)
        live.check_promise_kept(stored, clock)
        session.add(stored)
        session.flush()
        if stored.confirmed and not was_confirmed and stored.status in PLANNABLE:
            self._place_promise(session, stored, clock, now)
        if stored.confirmed != was_confirmed:  # the customer's window became (or stopped being) a promise
            kept = live.promise(stored, clock) or live.told_window(session, stored, clock)
            told = {"start": kept[0], "end": kept[1]} if kept is not None else {"start": None, "end": None}
            window = {**told, "confirmed": stored.confirmed}
            feed.emit(session, feed.JOB_WINDOW, job_id=stored.id, technician_id=None, data=window, now=now)
        return stored, created

    def _place_promise(self, session: Session, row: JobRow, clock: DayClock, now: dt.datetime) -> None:
        """Put a newly confirmed job into the live schedule of its day where its promise
        can be kept, as a booking would be (``Conflict`` naming ``confirmed`` when it
        cannot); a job already in the live routes keeps its place."""
        plan = live.lock(session, row.date, row.region, now)
        routes = live.routes_of(plan)
        if any(row.id in r.job_ids for r in routes):
            return
        evaluator = self._evaluator(session, row.date, row.region, plan)
        tech_ids = {t.id for t in evaluator.problem.technicians}
        job = dataclasses.replace(job_of(row, clock, tech_ids), pinned_technician_id=None)
        [answer] = evaluator.evaluate(
            dataclasses.replace(job, windows=()),
            list(job.windows),
            use_reserve=row.priority == 1,
            move_budget_s=self.settings.booking_move_budget_ms / 1000,
        )
        if answer.insertion is None:
            reason = answer.reason or SlotReason.DAY_FULL
            raise Conflict(f"confirmed: the window of job {row.id} cannot be kept. {reason.sentence}", "confirmed")
        promised = evaluator.with_insertion(job, answer.insertion)
        live.store_routes(plan, live.merged(routes, promised, _ids(promised)), now)
        session.add(plan)


def _booking_row(
    key: str,
    digest: str,
    body: dict[str, Any],
    slot: tuple[dt.datetime, dt.datetime],
    token_id: int | None,
    now: dt.datetime,
) -> BookingRow:
    """The stored booking of the answer ``body`` (job, date and region as answered)."""
    return BookingRow(
        idempotency_key=key,
        request_hash=digest,
        job_id=body["job_id"],
        status="booked",
        response=body,
        created_at=to_storage(now),
        date=dt.date.fromisoformat(body["date"]),
        region=body["region"],
        slot_start=to_storage(slot[0]),
        slot_end=to_storage(slot[1]),
        token_id=token_id,
    )


def _request_hash(req: BookingIn) -> str:
    """What makes two booking requests the same (for idempotency keys)."""
    return hashlib.sha256(json.dumps(req.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


def _promise(row: JobRow) -> tuple[Any, ...]:
    return (
        row.date,
        row.region,
        round(row.lat, 7),
        round(row.lon, 7),
        row.duration_min,
        dict(row.skills),
        row.crew_size,
        [list(w) for w in row.windows],
        row.release_at,
        row.deadline,
    )


def _keeping(routes: list[WorkingRoute], job_ids: set[str]) -> list[WorkingRoute]:
    """The routes with only these jobs (the open ones) left in them."""
    return [
        WorkingRoute(
            r.technician_id,
            tuple(i for i in r.job_ids if i in job_ids),
            tuple(s for i, s in zip(r.job_ids, r.fixed_starts, strict=True) if i in job_ids),
        )
        for r in routes
    ]


def _ids(routes: list[WorkingRoute]) -> set[str]:
    """Every job id in ``routes``."""
    return {job_id for r in routes for job_id in r.job_ids}


def booked_open_jobs(session: Session, day: dt.date, region: str) -> list[JobRow]:
    """The booked jobs of a day and region still to serve (``jobstate.PLANNABLE``, as
    plan runs load them): the promises a plan must keep."""
    return list(
        session.exec(
            select(JobRow).where(
                JobRow.date == day,
                JobRow.region == region,
                col(JobRow.status).in_(PLANNABLE),
                col(JobRow.booked).is_(True),
            )
        ).all()
    )
