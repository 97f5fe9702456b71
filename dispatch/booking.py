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

import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from dispatch import catalog, feed, live, replan
from dispatch.clock import SYSTEM_CLOCK, Clock
from dispatch.db import give_back
from dispatch.errors import Conflict, DispatchError, Invalid, NotFound
from dispatch.inputs import LATEST_DATE, BookingIn, CustomerIn, DateRangeIn, JobIn, LatLon, SlotSearchIn, WindowIn
from dispatch.jobstate import CANCELLED, COMPLETED, OPEN, PLANNABLE, UNDER_WAY
from dispatch.mapping import DayClock, Span, day_problem, job_from, job_of, lags, predecessor_end, technicians_on
from dispatch.settings import BookingSettings
from dispatch.tables import BookingRow, DisruptionRow, JobRow, LiveScheduleRow, TechnicianRow
from dispatch.timeutil import to_storage
from solver import Job, Location, Problem, ReasonCode, TimeWindow
from solver.plan import routes_from_json
from solver.slots import Insertion, SlotEvaluator, SlotReason, WindowAnswer, WorkingRoute, working_span

SEARCH_JOB_ID = "slot-search"
# Ranking: each day later than the first date searched weighs like this many cents of
# added cost, and each minute of slack below THIN_SLACK_MIN like RISK_CENTS_PER_MIN.
LATER_DAY_CENTS = 1500
THIN_SLACK_MIN = 30
RISK_CENTS_PER_MIN = 50
# Score = 100 for the best slot, falling by a factor e for each SCORE_SCALE_CENTS of rank key.
SCORE_SCALE_CENTS = 5000
# A booking is prepared (evaluated before the day's lock) at most this many times; each try
# whose routes changed while it waited is prepared again, and the last one is evaluated again
# under the lock instead (docs/booking.md, "Booking under contention").
PREPARE_TRIES = 3

Geocode = Callable[[str], LatLon]


class StalePreparation(Exception):
    """A prepared booking whose routes changed while it waited for the day's lock
    (``BookingService.place`` with ``reevaluate`` False): roll back and prepare again."""


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
    # A job of several days: its window on each of its days (the first is start..end),
    # all with the same technician. Empty for a job of one day.
    days: tuple[Span, ...] = ()


# A job of several days: the technicians tried for a window (the best one first) and how
# far ahead the rest of its working days may lie.
MULTI_DAY_TECHNICIANS = 6
MULTI_DAY_LOOK_AHEAD = 7
NO_RUN_OF_DAYS = "no_run_of_days"


def _no_run_sentence(days: int) -> str:
    return f"No technician can come in this window on {days} consecutive working days."


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
class BookingTiming:
    """Where one booking's time went on the server, in seconds: preparing it before
    the day's lock, waiting for the lock, and holding it until the commit; ``check``
    says how the insertion was confirmed under the lock."""

    prepare_s: float
    wait_s: float
    hold_s: float
    check: str
    tries: int = 1

    def header(self) -> str:
        """The figures as an HTTP ``Server-Timing`` value (milliseconds; those of the last try)."""
        check = self.check if self.tries == 1 else f"{self.check} on try {self.tries}"
        return (
            f"prepare;dur={self.prepare_s * 1000:.1f}, lock-wait;dur={self.wait_s * 1000:.1f}, "
            f'lock-hold;dur={self.hold_s * 1000:.1f};desc="{check}"'
        )


@dataclass(frozen=True)
class BookingResult:
    """The answer to a booking request; ``replayed`` when it is the stored first answer."""

    body: dict[str, Any]
    replayed: bool = False
    timing: BookingTiming | None = None
    # The day's evaluator with this booking in it (made on demand, after the commit), and
    # the cache stamp it has once committed.
    grown: Callable[[], SlotEvaluator] | None = dataclasses.field(default=None, repr=False, compare=False)
    stamp: tuple[Any, ...] | None = None
    locked_at: float | None = None  # time.perf_counter() when the day's lock was taken


@dataclass(frozen=True)
class _Asked:
    """A booking request as checked before any evaluation (``BookingService._asked``)."""

    key: str
    digest: str
    region: str
    slot: Span
    location: LatLon


@dataclass(frozen=True)
class PreparedBooking:
    """A booking evaluated before the day's lock (``BookingService.prepare``): the
    request, the job it makes, the insertion found, and what it was found on (the
    evaluator and its stamp, the live routes as read) to check it under the lock."""

    key: str
    digest: str
    token_id: int | None
    day: dt.date
    region: str
    slot: Span
    job: Job
    request: BookingIn
    location: LatLon
    body: dict[str, Any]
    evaluator: SlotEvaluator = dataclasses.field(repr=False, compare=False)
    stamp: tuple[Any, ...]
    insertion: Insertion
    routes: list[WorkingRoute]
    row: JobRow | None  # the booked job's row when it is in the transaction already (with the booking's)
    prepare_s: float


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
        """Remember ``evaluator`` for ``key`` as built at ``stamp``, unless the one held is of a
        newer version of the same technicians (puts from several threads may come late)."""
        with self._lock:
            held = self._items.get(key)
            if held is not None and held[0][1:] == stamp[1:] and held[0][0] > stamp[0]:
                return
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
    clock: Clock = SYSTEM_CLOCK
    """Says which day is today: its slots are evaluated from where technicians are now."""
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
        if req.deadline is not None and req.deadline <= now:
            raise Invalid(catalog.past_deadline(req.deadline, now, self.tz), "deadline")
        location = self._checked_place(session, region, req)
        urgent = req.priority == 1
        earliest = now + dt.timedelta(minutes=0 if urgent else cfg.lead_min)
        deadline = req.deadline
        if urgent and deadline is None:
            deadline = catalog.urgent_due(now, dt.timedelta(minutes=cfg.urgent_deadline_min))
        found: list[tuple[float, dt.date, WindowAnswer, DayClock, tuple[Span, ...]]] = []
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
                parts: tuple[Span, ...] = ()
                if req.days > 1:
                    run = self._run_of_days(session, region, evaluator, job, answer, clock, req, urgent)
                    if run is None:
                        unavailable.append(UnavailableSlot(start, end, NO_RUN_OF_DAYS, _no_run_sentence(req.days)))
                        continue
                    answer, parts = run
                assert answer.insertion is not None
                key = self._rank_key(answer.insertion, offset, urgent, start)
                found.append((key, day, answer, clock, parts))
        if not found and not unavailable and deadline is not None:
            unavailable.append(self._nothing_before(deadline, req, waits, first, last, now))
        found.sort(key=lambda item: (item[0], item[2].window.start_s, item[1]))
        limit = req.limit or cfg.max_slots
        best = found[0][0] if found else 0.0
        slots = [
            dataclasses.replace(self._offer(key, best, answer, clock, urgent), days=parts)
            for key, _, answer, clock, parts in found[:limit]
        ]
        unavailable.sort(key=lambda u: u.start)
        return SlotAnswer(slots, unavailable)

    def _nothing_before(
        self,
        deadline: dt.datetime,
        req: SlotSearchIn,
        waits: Waits | None,
        first: dt.date,
        last: dt.date,
        now: dt.datetime,
    ) -> UnavailableSlot:
        """Why a search with a deadline has not one window to offer or refuse: the dates
        searched begin after it (``past_deadline``), or nobody works between now (or the
        first date searched) and it (``outside_hours``; after the day's shifts, say, when
        an urgent repair's default deadline, the repair standard, falls before anyone
        starts again); ``dependency_not_met`` when the deadline is the one the job it waits
        for sets. Says what to search instead."""
        begin = max(now, DayClock(first, self.tz).midnight)
        when = f"{deadline.astimezone(self.tz):%Y-%m-%d %H:%M}"
        if waits is not None and waits.latest == deadline:
            end = max(deadline, DayClock(last, self.tz).next_midnight)
            sentence = f"The job {waits.sentence()}, and no window is left before then."
            return UnavailableSlot(begin, end, ReasonCode.DEPENDENCY_NOT_MET.value, sentence)
        if req.deadline is None:
            minutes = self.settings.urgent_deadline_min
            within = f"{minutes // 60} hours" if minutes % 60 == 0 else f"{minutes} minutes"
            due = f"{when}, when the repair standard (on site within {within}) runs out"
            instead = "search it as routine work (priority 2 or 3) or give a later deadline"
        else:
            due, instead = f"the latest time the visit may start ({when})", "give a later deadline"
        if deadline <= begin:
            end = DayClock(last, self.tz).next_midnight
            sentence = f"The dates searched begin after {due}: {instead}."
            return UnavailableSlot(begin, end, SlotReason.PAST_DEADLINE.value, sentence)
        sentence = f"Nobody works between now and {due}: {instead}."
        return UnavailableSlot(begin, deadline, SlotReason.OUTSIDE_HOURS.value, sentence)

    def _run_of_days(
        self,
        session: Session,
        region: str,
        evaluator: SlotEvaluator,
        job: Job,
        answer: WindowAnswer,
        clock: DayClock,
        req: SlotSearchIn | BookingIn,
        urgent: bool,
    ) -> tuple[WindowAnswer, tuple[Span, ...]] | None:
        """A job of ``req.days`` days in ``answer``'s window on ``clock``'s day: the same
        window on the next working days of one technician who can take it on each
        (the technician of ``answer`` first, then the others qualified that day, the
        nearest first). The first day's answer for that technician and the window of
        every day; None when no technician has such a run of days."""
        assert answer.insertion is not None
        window = answer.window
        first = answer.insertion.technician_ids[0]
        others = sorted(
            (t for t in evaluator.problem.technicians if t.id != first and t.has_skills(job.skills)),
            key=lambda t: (t.start.lat - job.location.lat) ** 2 + (t.start.lon - job.location.lon) ** 2,
        )
        for tech_id in [first, *(t.id for t in others[: MULTI_DAY_TECHNICIANS - 1])]:
            if tech_id == first:
                today = answer
            else:
                pinned = dataclasses.replace(job, pinned_technician_id=tech_id)
                [today] = evaluator.evaluate(pinned, [window], use_reserve=urgent)
                if today.insertion is None:
                    continue
            later = self._later_days(session, region, tech_id, clock.date, window, job.location, req, urgent)
            if later is not None:
                return today, ((clock.moment(window.start_s), clock.moment(window.end_s)), *later)
        return None

    def _later_days(
        self,
        session: Session,
        region: str,
        tech_id: str,
        day: dt.date,
        window: TimeWindow,
        location: Location,
        req: SlotSearchIn | BookingIn,
        urgent: bool,
    ) -> list[Span] | None:
        """The window's hours on the ``req.days - 1`` working days of ``tech_id`` after
        ``day`` (days off skipped, at most a week ahead), when their live schedule takes
        the job there each day; None when one does not."""
        out: list[Span] = []
        for ahead in range(1, MULTI_DAY_LOOK_AHEAD + 1):
            if len(out) == req.days - 1:
                break
            clock = DayClock(day + dt.timedelta(days=ahead), self.tz)
            evaluator = self._evaluator(session, clock.date, region)
            if all(t.id != tech_id for t in evaluator.problem.technicians):
                continue  # a day off: the run of working days goes on after it
            job = dataclasses.replace(
                self._job(SEARCH_JOB_ID, LatLon(lat=location.lat, lon=location.lon), req, clock, None),
                release_s=None,
                pinned_technician_id=tech_id,
            )
            [answer] = evaluator.evaluate(job, [window], use_reserve=urgent)
            if answer.insertion is None:
                return None
            out.append((clock.moment(window.start_s), clock.moment(window.end_s)))
        return out if len(out) == req.days - 1 else None

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
        clock = DayClock(end.astimezone(self.tz).date(), self.tz)
        after = lags(dep.job_id, dep.min_lag_min, dep.max_lag_min, dep.min_lag_days, dep.max_lag_days, clock.date)
        end_s = clock.seconds(end)
        latest_s = after.latest_s(end_s)
        latest = None if latest_s is None else clock.moment(latest_s)
        return Waits(dep.job_id, end, clock.moment(after.earliest_s(end_s)), latest)

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
        works), or for urgent work rolling windows from now to the deadline. A window
        cut by the deadline ends on it; every window lasts longer than an instant, as
        a booking's slot must."""
        cfg = self.settings
        day_start, day_end = evaluator.day_span_s
        due = day_end if deadline is None else min(day_end, clock.seconds(deadline))
        if urgent:
            step = cfg.urgent_step_min * 60
            from_s = max(day_start, clock.seconds(earliest))
            from_s = -(-from_s // step) * step
            length = cfg.urgent_window_min * 60
            # A window starting on ``due`` would be the instant due-due, which no booking takes.
            return [TimeWindow(s, min(s + length, due)) for s in range(from_s, due, step)]
        length = cfg.slot_minutes.get(kind, 60) * 60
        out = []
        start = day_start - day_start % 3600  # windows on the hour
        while start + length <= day_end and start < due:
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

    def _checked_place(self, session: Session, region: str, req: SlotSearchIn | BookingIn) -> LatLon:
        """Where the job asked about is, once its region, skills and place are shown to be
        ones the region's technicians could serve, as ``PUT /v1/jobs`` shows them
        (``catalog.check_place``): a misspelt region is ``Invalid`` naming ``region``, a
        place farther than ``catalog.FAR_KM`` from all their homes naming ``location``,
        where an empty answer (or a 409 for the slot) would hide the mistake."""
        homes = {region: catalog.check_region(session, region)}
        self._check_skills(session, region, req.skills)
        location = self._location(req.location, req.address)
        catalog.check_place(session, region, location, homes=homes)
        return location

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

    # An evaluator's stamp: what it was built from (the live schedule's version, the
    # region's technicians, the newest disruption of the day: an absence changes a
    # technician's day without changing the technician; and for today the instant its
    # picture is of, ``_picture_at``: where technicians are moves with the clock).

    def _stamp(self, session: Session, day: dt.date, region: str, version: int) -> tuple[Any, ...]:
        changed, count = session.exec(
            select(func.max(TechnicianRow.updated_at), func.count()).where(TechnicianRow.region == region)
        ).one()
        disruption = session.exec(_newest_disruption(day, region)).one()
        return (version, str(changed), count, disruption, self._picture_at(day))

    def _picture_at(self, day: dt.date) -> dt.datetime | None:
        """The instant today's slot picture is of: the service's clock rounded up to the
        minute (so nobody is pictured setting out before now, and one picture serves the
        searches and bookings of that minute); None for any other day."""
        now = self.clock.now()
        if day != now.astimezone(self.tz).date():
            return None
        minute = now.replace(second=0, microsecond=0)
        return minute if minute == now else minute + dt.timedelta(minutes=1)

    def _evaluator(
        self, session: Session, day: dt.date, region: str, plan: LiveScheduleRow | None = None
    ) -> SlotEvaluator:
        return self._stamped_evaluator(session, day, region, plan)[0]

    def _lock(
        self, session: Session, day: dt.date, region: str, now: dt.datetime
    ) -> tuple[LiveScheduleRow, tuple[Any, ...]]:
        """``live.lock`` of the day, and the stamp of its evaluator read under the lock: on
        PostgreSQL in the locking statement itself (each round trip under a contended
        lock counts)."""
        if session.get_bind().dialect.name == "postgresql":
            found = self._read_stamped(session, day, region, lock=True)
            if found is not None:
                return found
        plan = live.lock(session, day, region, now)
        return plan, self._stamp(session, day, region, plan.version)

    def _read_stamped(
        self, session: Session, day: dt.date, region: str, lock: bool
    ) -> tuple[LiveScheduleRow, tuple[Any, ...]] | None:
        """The day's live schedule row (locked with ``lock``) and its evaluator's stamp in
        one statement; None for a day without a live schedule."""
        changed = select(func.max(TechnicianRow.updated_at)).where(TechnicianRow.region == region)
        count = select(func.count()).select_from(TechnicianRow).where(TechnicianRow.region == region)
        disrupted = _newest_disruption(day, region)
        query = select(
            LiveScheduleRow, changed.scalar_subquery(), count.scalar_subquery(), disrupted.scalar_subquery()
        ).where(LiveScheduleRow.date == day, LiveScheduleRow.region == region)
        if lock:
            query = query.with_for_update(of=LiveScheduleRow)
        found = session.exec(query.execution_options(populate_existing=True)).first()
        if found is None:
            return None
        plan, last_change, technician_count, disruption = found
        return plan, (plan.version, str(last_change), technician_count, disruption, self._picture_at(day))

    def _stamped_evaluator(
        self,
        session: Session,
        day: dt.date,
        region: str,
        plan: LiveScheduleRow | None = None,
        stamp: tuple[Any, ...] | None = None,
    ) -> tuple[SlotEvaluator, tuple[Any, ...]]:
        """The slot evaluator of a day at its newest live schedule (cached by version), and its
        stamp (``stamp``, when the caller has just read it for ``plan``)."""
        if plan is None:
            plan = session.get(LiveScheduleRow, (day, region))
        if stamp is None:
            stamp = self._stamp(session, day, region, plan.version if plan is not None else 0)
        cached = self.cache.get((day, region), stamp)
        if cached is not None:
            return cached, stamp
        evaluator = None
        previous = self.cache.latest((day, region))
        picture = stamp[-1]  # today's instant: where technicians are moves with every field event
        if previous is not None and previous[0][1:] == stamp[1:] and plan is not None and picture is None:
            # The same technicians, another version of the plan (another worker booked or
            # cancelled): bring the cached evaluator up to date instead of building it again.
            evaluator = self._updated_evaluator(session, previous[1], plan)
        if evaluator is None:
            evaluator = self.build_evaluator(session, day, region, plan, picture)
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
            jobs += self._open_jobs(session, new_ids, plan.date, plan.region, tech_ids, routes)
        return old.updated(jobs, _keeping(routes, open_ids))

    def _open_jobs(
        self, session: Session, ids: set[str], day: dt.date, region: str, tech_ids: set[str], routes: list[WorkingRoute]
    ) -> list[Job]:
        """The promised jobs still to serve among ``ids`` as the slot evaluator takes them (no pins: a booking
        promises a slot, not a technician; but a job of several days stays with the technician whose
        ``routes`` hold it, who has it on its other days too)."""
        if not ids:
            return []
        clock = DayClock(day, self.tz)
        rows = session.exec(
            select(JobRow).where(
                col(JobRow.id).in_(ids), col(JobRow.status).in_(PLANNABLE), col(JobRow.confirmed).is_(True)
            )
        ).all()
        holder = {job_id: r.technician_id for r in routes for job_id in r.job_ids}
        return [
            dataclasses.replace(
                job_of(row, clock, tech_ids), pinned_technician_id=holder.get(row.id) if row.days > 1 else None
            )
            for row in rows
        ]

    def build_evaluator(
        self,
        session: Session,
        day: dt.date,
        region: str,
        plan: LiveScheduleRow | None = None,
        now: dt.datetime | None = None,
    ) -> SlotEvaluator:
        """The slot evaluator of the stored live schedule of a day and region:
        its technicians' shifts and its promised jobs (repaired where a
        technician left or a route no longer times; see ``unplaced``); when the
        day is today at ``now`` (default: the service's clock), as the field has it then."""
        technicians = technicians_on(session, day, region, self.tz)
        routes = routes_from_json(plan.routes if plan is not None else None)
        ids = {job_id for r in routes for job_id in r.job_ids}
        jobs = self._open_jobs(session, ids, day, region, {t.id for t in technicians}, routes)
        planned = day_problem(technicians, jobs)
        problem = planned
        now = self.clock.now() if now is None else now
        if day == now.astimezone(self.tz).date():
            problem = self._as_it_goes(session, planned, day, region, now)
        return SlotEvaluator(
            problem,
            _keeping(routes, {j.id for j in problem.jobs}),
            reserve_share=self.settings.urgent_reserve_share,
            repair=True,
            day_span_s=working_span(planned),  # the day's slot grid stays where it was
        )

    def _as_it_goes(self, session: Session, problem: Problem, day: dt.date, region: str, now: dt.datetime) -> Problem:
        """Today's ``problem`` as a re-plan from ``now`` has it (``replan.starting_points``,
        the reading ``replan.day_from`` makes): every technician starts again where they
        are, never before ``now`` (after their visits done or under way, an overrun
        reported keeping them on site until its expected end; where they reported running
        late; else from where their day starts), and the promised visits done or under
        way are out. So a slot of today is one a re-plan from now could keep."""
        points = replan.starting_points(session, day, region, self.tz, now, problem.technicians)
        return points.left(problem)

    # ----- booking ------------------------------------------------------------------
    #
    # A booking is prepared before the day's lock (the expensive part: the day's
    # evaluator, the insertion for the slot, the move search when it needs one) and
    # only confirmed under the lock: when the live schedule's version did not move,
    # the prepared insertion is what the newest schedule says; when it moved, the
    # routes the insertion touches are compared with the ones it was found on; only
    # when they changed is the slot evaluated again under the lock (plain insertion;
    # when none is left, the booking is prepared again, at most PREPARE_TRIES times;
    # docs/booking.md, "Booking under contention").

    def book(
        self, session: Session, key: str | None, req: BookingIn, now: dt.datetime, token_id: int | None = None
    ) -> BookingResult:
        """Book ``req.slot`` for the job, or refuse: ``Conflict`` (409) when the
        live schedule can no longer take it there. The same key with the same
        body answers the first answer again; with another body it is refused.
        The feed tells the new booking (``job.status`` booked, ``job.window``).
        The caller commits; nothing is written when this raises."""
        if req.days > 1:
            return self.book_days(session, key, req, now, token_id)
        prepared = self.prepare(session, key, req, now, token_id)
        if isinstance(prepared, BookingResult):
            return prepared
        return self.place(session, prepared, now)

    def prepare(
        self, session: Session, key: str | None, req: BookingIn, now: dt.datetime, token_id: int | None = None
    ) -> PreparedBooking | BookingResult:
        """Everything a booking needs before the day's lock: the request checked, the
        insertion of the job into the slot found on the live schedule as it is now
        (``Conflict`` when there is none: the slot cannot be kept at this moment), and
        on PostgreSQL the job and booking rows written (a twin request with the same
        key then waits on the key's unique index and fails with ``IntegrityError``).
        The stored first answer when the key was used before. Takes no lock."""
        began = time.perf_counter()
        asked = self._asked(session, key, req, now, token_id)
        if isinstance(asked, BookingResult):
            return asked
        key, digest, region, location = asked.key, asked.digest, asked.region, asked.location
        start, end = asked.slot
        day = start.date()
        stamped = self._read_stamped(session, day, region, lock=False)
        plan, read_stamp = stamped if stamped is not None else (None, None)
        evaluator, stamp = self._stamped_evaluator(session, day, region, plan, read_stamp)
        job = self._job(
            f"bk-{uuid.uuid4().hex[:12]}", location, req, DayClock(day, self.tz), req.deadline, (start, end)
        )
        insertion = self._insertion(evaluator, job, req.priority == 1)
        body = {
            "job_id": job.id,
            "slot": {"start": start.isoformat(), "end": end.isoformat()},
            "date": day.isoformat(),
            "region": region,
            "status": "booked",
        }
        # New rows lock nothing another booking needs, so on PostgreSQL they go in before the
        # day's lock (a twin request then waits on the key's unique index, which a key of no
        # client does not have). On SQLite the first write would take the one write lock.
        early = session.get_bind().dialect.name == "postgresql" and token_id is not None
        prepared = PreparedBooking(
            key=key,
            digest=digest,
            token_id=token_id,
            day=day,
            region=region,
            slot=(start, end),
            job=job,
            request=req,
            location=location,
            body=body,
            evaluator=evaluator,
            stamp=stamp,
            insertion=insertion,
            routes=live.routes_of(plan),
            row=None,
            prepare_s=0.0,
        )
        if early:
            prepared = dataclasses.replace(prepared, row=self._write_rows(session, prepared, now))
        return dataclasses.replace(prepared, prepare_s=time.perf_counter() - began)

    def _asked(
        self, session: Session, key: str | None, req: BookingIn, now: dt.datetime, token_id: int | None
    ) -> _Asked | BookingResult:
        """A booking request checked before anything is evaluated (its key, slot, the job it
        waits for, skills and place), or the stored first answer when the key was used before."""
        key = _checked_key(key)
        digest = _request_hash(req)
        prior = self._prior(session, key, digest, token_id)
        if prior is not None:
            return prior
        region = req.region or self.default_region
        if req.deadline is not None and req.deadline <= now:
            raise Invalid(catalog.past_deadline(req.deadline, now, self.tz), "deadline")
        start, end = self._slot(req, now)
        waits = self._waits(session, req)
        if isinstance(waits, UnavailableSlot):
            raise Conflict(f"slot: {waits.reason}", "slot")
        if waits is not None and not waits.keeps(start, end):
            raise Conflict(f"slot: {waits.sentence()}", "slot")
        return _Asked(key, digest, region, (start, end), self._checked_place(session, region, req))

    def place(
        self,
        session: Session,
        prepared: PreparedBooking,
        now: dt.datetime,
        waited_since: float | None = None,
        reevaluate: bool = True,
    ) -> BookingResult:
        """Take the day's lock and book the prepared insertion if it still holds on the
        newest live schedule. When the routes it touches changed meanwhile, the slot
        is evaluated again under the lock (``Conflict`` when it can no longer be
        kept), or with ``reevaluate`` False ``StalePreparation`` is raised (roll back
        and prepare again). The caller commits; the result's ``timing.hold_s`` counts
        to the end of this call (``book_and_commit`` counts it to the commit)."""
        day, region, job = prepared.day, prepared.region, prepared.job
        asked = time.perf_counter() if waited_since is None else waited_since
        plan, stamp = self._lock(session, day, region, now)
        locked = time.perf_counter()
        if prepared.token_id is None:  # keys of no client have no unique index to catch a twin request
            prior = self._prior(session, prepared.key, prepared.digest, None)
            if prior is not None:
                return prior
        evaluator, insertion = prepared.evaluator, prepared.insertion
        base: SlotEvaluator | None = None  # the evaluator of the locked version, to grow by the job
        if stamp == prepared.stamp:
            check = "unchanged"
            routes = live.merged(live.routes_of(plan), *_promised(evaluator, job, insertion, None))
            base = evaluator
        elif stamp[1:] == prepared.stamp[1:] and stamp[-1] is None and self._still_holds(session, prepared, plan):
            # Not today's: there a field report (a visit done late) moves the version and
            # where a technician starts again without changing any route.
            check = "revalidated"
            touched = _touched(insertion)
            routes = _replaced(live.routes_of(plan), *_promised(evaluator, job, insertion, touched))
            current = self.cache.get((day, region), stamp)
            held = [r for r in evaluator.routes() if r.technician_id in touched]
            if current is not None and all(r in current.routes() for r in held):
                base = current
        else:
            # Routes it touches changed: the slot again on the newest schedule, without the
            # move search unless this is the last try (a retry searches moves before the lock).
            check = "re-evaluated"
            evaluator, stamp = self._stamped_evaluator(session, day, region, plan, stamp)
            try:
                insertion = self._insertion(evaluator, job, prepared.request.priority == 1, moves=reevaluate)
            except Conflict:
                if reevaluate:
                    raise
                raise StalePreparation(f"no plain insertion into {prepared.slot} is left") from None
            routes = live.merged(live.routes_of(plan), *_promised(evaluator, job, insertion, None))
            base = evaluator
        row = prepared.row if prepared.row is not None else self._write_rows(session, prepared, now)
        live.store_routes(plan, routes, now)
        session.add(plan)
        session.flush()
        start, end = prepared.slot
        status = {"status": "booked", "date": day.isoformat(), "region": region}
        told = {"start": start, "end": end, "confirmed": True}
        told_events = [
            feed.NewEvent(feed.JOB_STATUS, job.id, None, status),
            feed.NewEvent(feed.JOB_WINDOW, job.id, None, told),
        ]
        feed.emit_all(session, told_events, now=now)
        timing = BookingTiming(prepared.prepare_s, locked - asked, time.perf_counter() - locked, check)
        grown = None
        if base is not None:  # the job as the evaluators of other workers will read it from its row
            tech_ids = {t.id for t in base.problem.technicians}
            stored = dataclasses.replace(job_of(row, DayClock(day, self.tz), tech_ids), pinned_technician_id=None)
            grown = functools.partial(base.with_job, stored, insertion)
        new_stamp = (plan.version, *stamp[1:]) if base is not None else None
        return BookingResult(prepared.body, timing=timing, grown=grown, stamp=new_stamp, locked_at=locked)

    def _insertion(self, evaluator: SlotEvaluator, job: Job, urgent: bool, moves: bool = True) -> Insertion:
        """The cheapest insertion of ``job`` into its one window (the slot), or ``Conflict``;
        with ``moves``, one that moves another promised job is searched for when no plain one fits."""
        [window] = job.windows
        [answer] = evaluator.evaluate(
            dataclasses.replace(job, windows=()),
            [window],
            use_reserve=urgent,
            move_budget_s=self.settings.booking_move_budget_ms / 1000 if moves else 0.0,
        )
        if answer.insertion is None:
            raise Conflict(f"slot: {_refusal(answer.reason)}", "slot")
        return answer.insertion

    def _still_holds(self, session: Session, prepared: PreparedBooking, plan: LiveScheduleRow) -> bool:
        """Whether the prepared insertion is still right on the locked live schedule
        ``plan`` of the same technicians: every route it touches (the new job's, and
        both routes of a moved job) is the same sequence as when it was prepared, and
        the promised jobs on them are the same jobs, still open and promised, as the
        prepared evaluator holds. Other routes do not matter to the insertion."""
        touched = _touched(prepared.insertion)
        now_routes = live.routes_of(plan)
        if any(_route_of(now_routes, t) != _route_of(prepared.routes, t) for t in touched):
            return False
        ids = {job_id for t in touched for job_id in _route_of(now_routes, t).job_ids}
        tech_ids = {t.id for t in prepared.evaluator.problem.technicians}
        fresh = {j.id: j for j in self._open_jobs(session, ids, prepared.day, prepared.region, tech_ids, now_routes)}
        known = {j.id: j for j in prepared.evaluator.problem.jobs}
        if any(known.get(job_id) != j for job_id, j in fresh.items()):
            return False
        promised_now = _keeping([_route_of(now_routes, t) for t in touched], set(fresh))
        held = prepared.evaluator.routes()
        return all(_route_of(held, r.technician_id) == r for r in promised_now)

    def _write_rows(
        self, session: Session, prepared: PreparedBooking, now: dt.datetime, spans: tuple[Span, ...] = ()
    ) -> JobRow:
        """The booked job (its slot its promise; a job of several days, the window of each
        of its days ``spans``) and the booking with its answer, flushed; the job's row."""
        row, _ = catalog.put_job(
            session,
            prepared.job.id,
            self._job_in(prepared.request, prepared.region, prepared.location, spans),
            self.tz,
            prepared.region,
            booked=True,
            now=now,
            flush=False,  # written once below, confirmed
            place_checked=True,  # its slot was evaluated from the region's technicians
        )
        live.confirm(row, prepared.slot, now)  # a booking is a promise
        session.add(row)
        session.add(_booking_row(prepared.key, prepared.digest, prepared.body, prepared.slot, prepared.token_id, now))
        session.flush()
        return row

    def _slot(self, req: BookingIn, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """The slot asked for in local time; refused when it spans two days, is past,
        or (routine work) starts sooner than the lead time from ``now``."""
        start, end = req.slot.start.astimezone(self.tz), req.slot.end.astimezone(self.tz)
        day = start.date()
        if end.date() != day and end != DayClock(day, self.tz).next_midnight:
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
        """``book`` and commit. The booking is prepared before any lock; bookings of
        one day and region in this process then wait for each other on a lock here
        (which wakes at once, where the database lock would poll) around the placing
        and the commit only, and the day's evaluator with the new job is kept for the
        next search. When the routes the prepared insertion touches changed while it
        waited, it is rolled back and prepared again (``PREPARE_TRIES`` in all; the
        last try evaluates under the lock), so the lock is seldom held for an
        evaluation. On SQLite the lock here is taken before preparing, as before
        issue 19. A twin request with the same key that committed first is answered
        with its stored answer."""
        # SQLite serves one process (docs/booking.md): preparing beside other bookings there
        # only adds threads competing for the GIL, so its bookings take the day's lock first.
        serial = session.get_bind().dialect.name == "sqlite"
        region = req.region or self.default_region
        queued = 0.0
        try:
            if req.days > 1:
                give_back(session)
                days = self.book_days(session, key, req, now, token_id)
                session.commit()
                return days
            with contextlib.ExitStack() as stack:
                if serial:
                    # The token's read took a connection: with more waiting bookings than the
                    # pool has, the rest timed out.
                    give_back(session)
                    began = time.perf_counter()
                    stack.enter_context(self._day_lock(req.slot.start.astimezone(self.tz).date(), region))
                    queued = time.perf_counter() - began
                for tries in range(1, PREPARE_TRIES + 1):
                    prepared = self.prepare(session, key, req, now, token_id)
                    if isinstance(prepared, BookingResult):
                        return prepared
                    day_key = (prepared.day, prepared.region)
                    asked = time.perf_counter()
                    with contextlib.nullcontext() if serial else self._day_lock(*day_key):
                        try:
                            result = self.place(session, prepared, now, asked, reevaluate=tries == PREPARE_TRIES)
                        except StalePreparation:
                            session.rollback()
                            continue
                        session.commit()
                        committed = time.perf_counter()
                    break
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
        if result.grown is not None and result.stamp is not None:  # after the locks: others need not wait for it
            self.cache.put(day_key, result.stamp, result.grown())
        if result.timing is not None and result.locked_at is not None:
            held = dataclasses.replace(
                result.timing, wait_s=result.timing.wait_s + queued, hold_s=committed - result.locked_at, tries=tries
            )
            result = dataclasses.replace(result, timing=held)
        return result

    # ----- a job of several days ---------------------------------------------------------
    #
    # Rare beside one-day bookings, so kept simple: the run of days is found before any
    # lock (as the slot search found it), then each of its days is locked in date order (a
    # one-day booking locks one day, so the order cannot deadlock) and the job evaluated
    # again on each, pinned to the run's technician, on the newest live schedule.

    def book_days(
        self, session: Session, key: str | None, req: BookingIn, now: dt.datetime, token_id: int | None = None
    ) -> BookingResult:
        """Book a job of ``req.days`` days: ``req.slot`` on its first day and the same hours on
        the next working days of one technician, as a slot search offers it (``days``). Every
        day's live schedule holds the job on that technician's route and each day's window
        is promised. ``Conflict`` (409) naming ``slot`` when no technician can keep it on
        every day any more. The caller commits; nothing is written when this raises."""
        asked = self._asked(session, key, req, now, token_id)
        if isinstance(asked, BookingResult):
            return asked
        key, digest, region, location = asked.key, asked.digest, asked.region, asked.location
        start, end = asked.slot
        urgent = req.priority == 1
        clock = DayClock(start.date(), self.tz)
        window = clock.window((start, end))
        job_id = f"bk-{uuid.uuid4().hex[:12]}"
        probe = self._job(job_id, location, req, clock, req.deadline)
        budget = self.settings.booking_move_budget_ms / 1000
        evaluator = self._evaluator(session, clock.date, region)
        [answer] = evaluator.evaluate(probe, [window], use_reserve=urgent, move_budget_s=budget)
        if answer.insertion is None:
            raise Conflict(f"slot: {_refusal(answer.reason)}", "slot")
        run = self._run_of_days(session, region, evaluator, probe, answer, clock, req, urgent)
        if run is None:
            raise Conflict(f"slot: can no longer be kept. {_no_run_sentence(req.days)}", "slot")
        first, spans = run
        assert first.insertion is not None
        tech_id = first.insertion.technician_ids[0]
        plans = [self._lock(session, span[0].date(), region, now)[0] for span in spans]
        placed: list[list[WorkingRoute]] = []
        for k, (span, plan) in enumerate(zip(spans, plans, strict=True)):
            day_clock = DayClock(span[0].date(), self.tz)
            day_job = dataclasses.replace(
                self._job(job_id, location, req, day_clock, req.deadline if k == 0 else None),
                release_s=probe.release_s if k == 0 else None,
                pinned_technician_id=tech_id,
            )
            day_evaluator = self._stamped_evaluator(session, day_clock.date, region, plan)[0]
            [kept] = day_evaluator.evaluate(day_job, [day_clock.window(span)], use_reserve=urgent, move_budget_s=budget)
            if kept.insertion is None:
                reason = kept.reason or SlotReason.DAY_FULL
                raise Conflict(f"slot: can no longer be kept on {day_clock.date}. {reason.sentence}", "slot")
            placed.append(live.merged(live.routes_of(plan), *_promised(day_evaluator, day_job, kept.insertion, None)))
        days_out = [{"start": a.isoformat(), "end": b.isoformat()} for a, b in spans]
        body = {
            "job_id": job_id,
            "slot": {"start": start.isoformat(), "end": end.isoformat()},
            "date": clock.date.isoformat(),
            "region": region,
            "status": "booked",
            "days": days_out,
        }
        prepared = PreparedBooking(
            key=key,
            digest=digest,
            token_id=token_id,
            day=clock.date,
            region=region,
            slot=(start, end),
            job=probe,
            request=req,
            location=location,
            body=body,
            evaluator=evaluator,
            stamp=(),
            insertion=first.insertion,
            routes=[],
            row=None,
            prepare_s=0.0,
        )
        self._write_rows(session, prepared, now, spans)
        for plan, routes in zip(plans, placed, strict=True):
            live.store_routes(plan, routes, now)
            session.add(plan)
        session.flush()
        status = {"status": "booked", "date": clock.date.isoformat(), "region": region}
        told = {"start": start, "end": end, "confirmed": True, "days": days_out}
        feed.emit_all(
            session,
            [feed.NewEvent(feed.JOB_STATUS, job_id, None, status), feed.NewEvent(feed.JOB_WINDOW, job_id, None, told)],
            now=now,
        )
        return BookingResult(body)

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

    def _job_in(self, req: BookingIn, region: str, location: LatLon, spans: tuple[Span, ...] = ()) -> JobIn:
        """The stored job of a booking: its slot its only window, or for a job of several
        days (``spans``, one window a day) those windows, its days as its date range."""
        start = req.slot.start.astimezone(self.tz)
        if spans and spans[-1][0].astimezone(self.tz).date() > LATEST_DATE:
            raise Invalid(
                f"slot: its {req.days} days from {start.date()} run past {LATEST_DATE}, the last date served",
                "slot",
            )
        windows = [WindowIn(start=a, end=b) for a, b in spans] or [WindowIn(start=req.slot.start, end=req.slot.end)]
        date_range = None
        if spans:
            date_range = DateRangeIn.model_validate({"from": spans[0][0].date(), "to": spans[-1][0].date()})
        return JobIn(
            kind=req.kind,
            region=region,
            date=start.date(),
            date_range=date_range,
            days=req.days,
            location=location,
            address=req.address,
            customer=CustomerIn(name=req.customer.name, phone=req.customer.phone),
            duration_min=req.duration_min,
            skills=dict(req.skills),
            crew_size=req.crew_size,
            windows=windows,
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
        if row.status == COMPLETED:
            raise Conflict(f"job {job_id} is completed: what was done stays, so it cannot be cancelled", "job_id")
        if row.status != CANCELLED:
            catalog.check_not_awaited(session, job_id)
        for day in live.days_holding(session, row):  # a job of several days: each of its days
            plan = live.lock(session, day, row.region, now)
            routes = live.routes_of(plan)
            if row.confirmed and row.status in PLANNABLE:
                evaluator = self._evaluator(session, day, row.region, plan)
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
        self,
        session: Session,
        job_id: str,
        data: JobIn,
        geocode: Geocode | None,
        now: dt.datetime,
        *,
        homes: dict[str, list[tuple[float, float]]] | None = None,
    ) -> tuple[JobRow, bool]:
        """``catalog.put_job`` (stamped ``now``) that keeps promises: a booked job's place, length,
        skills, crew, date and slot can only change by cancelling and booking
        again (``Conflict``); its notes, customer and technician pins may change.
        ``homes``: as ``catalog.put_job``'s, kept by a caller that stores many jobs."""
        row = session.get(JobRow, job_id)
        _check_read_only(job_id, data, row)
        before = _promise(row) if row is not None and row.booked else None
        pinned_before = row.pinned_technician_id if row is not None else None
        if row is not None and row.booked and row.status == "cancelled":
            raise Conflict(f"job {job_id} was a cancelled booking; book again instead of reopening it", "job_id")
        region = data.region or self.default_region
        catalog.check_spelling(session, region, self.default_region)
        catalog.check_references(session, job_id, data, region)
        if data.location is None and geocode is not None:
            # Geocode before the day's lock: the geocoder's cache writes on its own connection.
            data = data.model_copy(update={"location": geocode(data.address)})
        days = {(row.date, row.region)} if row is not None else set()
        days.add((catalog.job_date(data, self.tz), region))
        for day, touched in sorted(days):  # the day changes: its live schedule first (the lock order)
            live.touch(session, day, touched, now)
        if row is not None:
            # As it is now that its day is ours: a request that changed it meanwhile
            # (confirmed it, say) is not undone or told twice.
            session.refresh(row)
            if row.region != region and not row.booked:  # a booking's region is promised: refused below
                self._check_region_change(session, row, region, now)
        stored, created = catalog.put_job(
            session,
            job_id,
            data,
            self.tz,
            self.default_region,
            geocode=geocode,
            now=now,
            urgent_deadline=dt.timedelta(minutes=self.settings.urgent_deadline_min),
            homes=homes,
        )
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
        if stored.pinned_technician_id != pinned_before or (stored.confirmed and not was_confirmed):
            self._check_pin_keeps_promise(session, stored)
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

    def _check_pin_keeps_promise(self, session: Session, row: JobRow) -> None:
        """Refuse (``Conflict`` naming ``pinned_technician_id``) pinning a promised job of one
        day to a technician who does not work its day (no shift, away): no plan of that day
        could keep the promise, and every one would be refused for it."""
        pin = row.pinned_technician_id
        if pin is None or not row.confirmed or row.days > 1 or row.status not in PLANNABLE:
            return
        if any(t.id == pin for t in technicians_on(session, row.date, row.region, self.tz)):
            return
        raise Conflict(
            f"pinned_technician_id: job {row.id} is promised to its customer on {row.date} and {pin} does not work "
            "that day (no shift, or away): no plan could keep the promise; pin someone who works that day, or "
            "withdraw the promise first (confirmed: false)",
            "pinned_technician_id",
        )

    def _check_region_change(self, session: Session, row: JobRow, region: str, now: dt.datetime) -> None:
        """Refuse (``Conflict`` naming ``region``) moving the job ``row`` to ``region`` while
        its region counts on it: a visit of it is under way, or a live schedule of today or
        later holds it (a published plan put it on an installer's list, which a plan of
        the new region would not take it off: it would be on two lists). Says where it is
        and what to do first."""
        if row.status in UNDER_WAY:
            raise Conflict(
                f"region: job {row.id} is under way ({row.status.replace('_', ' ')}) in region {row.region}: a "
                f"visit on the way or on site stays with its technician's region; it cannot move to {region} now",
                "region",
            )
        held = live.holders_from(session, row.id, row.region, now.astimezone(self.tz).date())
        if held:
            shown = ", ".join(f"{day} ({tech_id})" for day, tech_id in held)
            days = " and ".join(str(day) for day, _ in held)
            raise Conflict(
                f"region: job {row.id} is in the published plan of region {row.region} on {shown}; moved to "
                f"{region} it would stay on that list while {region} plans it too. Take it off first: cancel it "
                f"(DELETE /v1/jobs/{row.id}), re-plan and publish {days} in {row.region} without it, then PUT it "
                f"again with region {region}",
                "region",
            )

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


def _refusal(reason: SlotReason | None) -> str:
    """Why a slot asked for is refused: "can no longer be kept" when the day's work took it
    (it may have been offered a moment ago), "cannot be kept" when it never could be (the
    goods, the deadline, the working hours, an absence)."""
    reason = reason or SlotReason.DAY_FULL
    taken = reason in (SlotReason.DAY_FULL, SlotReason.URGENT_RESERVE)
    return f"{'can no longer be kept' if taken else 'cannot be kept'}. {reason.sentence}"


def _checked_key(key: str | None) -> str:
    """The Idempotency-Key of a booking, refused when missing or too long."""
    if not key:
        raise DispatchError("Idempotency-Key: this header is required for a booking", "Idempotency-Key")
    if len(key) > 200:
        raise DispatchError("Idempotency-Key: at most 200 characters", "Idempotency-Key")
    return key


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


def _check_read_only(job_id: str, data: JobIn, row: JobRow | None) -> None:
    """Refuse a PUT whose read-only fields (``id``, ``status``, ``booked``) say other than
    the job does (a new job: open, not booked; ``status`` may also be the one the PUT
    gives, open for a cancelled job): they are accepted only so that a job read with GET
    can be PUT back, and changing them takes another path, named."""
    if data.id is not None and data.id != job_id:
        raise Invalid(f"id: '{data.id}' is not the job of the path ('{job_id}'); leave id out or give that one", "id")
    status = row.status if row is not None else OPEN
    allowed = {status, OPEN} if status == CANCELLED else {status}
    if data.status is not None and data.status not in allowed:
        raise Invalid(
            f"status is read-only (the job is {status}): field events (POST /v1/jobs/{job_id}/events) and "
            f"cancelling (DELETE /v1/jobs/{job_id}) change it; leave status out",
            "status",
        )
    booked = row.booked if row is not None else False
    if data.booked is not None and data.booked != booked:
        raise Invalid(
            f"booked is read-only (the job is {'' if booked else 'not '}booked): a booking is made with "
            "POST /v1/bookings and cancelled with DELETE /v1/bookings/{id}; leave booked out",
            "booked",
        )


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


def _newest_disruption(day: dt.date, region: str) -> SelectOfScalar[int | None]:
    """The id of the newest disruption recorded for a day and region (None: none)."""
    return select(func.max(DisruptionRow.id)).where(DisruptionRow.date == day, DisruptionRow.region == region)


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


def _touched(insertion: Insertion) -> set[str]:
    """The technicians whose routes an insertion changes (its moves' too)."""
    return set(insertion.technician_ids) | {t for _, source, target, _ in insertion.moves for t in (source, target)}


def _route_of(routes: list[WorkingRoute], technician_id: str) -> WorkingRoute:
    """The route of one technician in ``routes`` (empty when it has none)."""
    return next((r for r in routes if r.technician_id == technician_id), WorkingRoute(technician_id, ()))


def _promised(
    evaluator: SlotEvaluator, job: Job, insertion: Insertion, only: set[str] | None
) -> tuple[list[WorkingRoute], set[str]]:
    """The evaluator's promised routes with the job inserted (of the technicians ``only``,
    when given), and the job ids in them: ``live.merged``'s second and third arguments."""
    promised = evaluator.with_insertion(job, insertion)
    if only is not None:
        promised = [r for r in promised if r.technician_id in only]
    return promised, _ids(promised)


def _replaced(routes: list[WorkingRoute], promised: list[WorkingRoute], moved: set[str]) -> list[WorkingRoute]:
    """``live.merged`` on the routes of the technicians of ``promised`` only; every other
    live route stays as it is."""
    techs = {r.technician_id for r in promised}
    merged = {r.technician_id: r for r in live.merged([r for r in routes if r.technician_id in techs], promised, moved)}
    out = [merged.pop(r.technician_id, r) for r in routes]
    return out + list(merged.values())


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
