"""The plain input of the solver: one day's (or a horizon's) technicians and jobs.

Times are integer seconds since midnight of the plan date (of a horizon's first
day: ``solver.horizon``), distances integer
metres and money integer cents. Conversion from calendar times and currency
happens at the edge (``dispatch``), never here.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

DAY_S = 24 * 3600
# The most days one solve plans (a horizon, docs/model.md "Planning horizon").
HORIZON_DAYS = 14
# The engine plans times in [0, MAX_TIME_S] from the first day's midnight (the OR-Tools
# model's time dimension): the horizon's days and a night after the last one (a shift
# with its overtime may run past midnight); a shift, window or job beyond it is refused.
MAX_TIME_S = (HORIZON_DAYS + 1) * DAY_S
# What a plan of ONE date covers from its midnight (the day and the night after): the
# limit a caller planning one date holds its inputs to (dispatch/catalog.py's check of
# a job's preferred window), now that the engine itself plans up to a horizon.
DAY_PLAN_S = 2 * DAY_S
# The job id of a stop at the depot in a route (``Problem.depot``); no job may use it.
RELOAD_ID = "@reload"


class ProblemError(ValueError):
    """Raised when a problem is malformed; the message names the offending field."""


class TechnicianKind(StrEnum):
    EMPLOYEE = "employee"
    PARTNER = "partner"


class JobKind(StrEnum):
    MEASURE = "measure"
    INSTALL = "install"
    REPAIR = "repair"


@dataclass(frozen=True, slots=True)
class Location:
    """A WGS84 point."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not -90.0 <= self.lat <= 90.0:
            raise ProblemError(f"lat {self.lat} is outside -90..90")
        if not -180.0 <= self.lon <= 180.0:
            raise ProblemError(f"lon {self.lon} is outside -180..180")


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A closed interval [start_s, end_s] of seconds since midnight."""

    start_s: int
    end_s: int

    def __post_init__(self) -> None:
        if self.end_s < self.start_s:
            raise ProblemError(f"window ends ({self.end_s}) before it starts ({self.start_s})")

    def contains(self, t_s: int) -> bool:
        """True when ``t_s`` lies inside the window (bounds included)."""
        return self.start_s <= t_s <= self.end_s

    def distance_s(self, t_s: int) -> int:
        """Seconds from ``t_s`` to the window (0 when inside)."""
        return max(0, self.start_s - t_s) + max(0, t_s - self.end_s)


@dataclass(frozen=True, slots=True)
class Break:
    """A lunch break that must start in [earliest_s, latest_s] and lasts duration_s.

    ``on_site``: a long visit may hold it (the technician stops work on site,
    ``Problem.lunch_on_site_min_s``), as a lunch may; False for an absence made the
    day's pause (``solver.replan.with_absence``, ``dispatch.worktime``): the
    technician is away, so no visit overlaps it."""

    earliest_s: int
    latest_s: int
    duration_s: int
    on_site: bool = True

    def __post_init__(self) -> None:
        if self.latest_s < self.earliest_s:
            raise ProblemError("break.latest is before break.earliest")
        if self.duration_s < 0:
            raise ProblemError("break.duration must not be negative")


@dataclass(frozen=True, slots=True)
class Shift:
    """Door-to-door working time: leave the start location at or after start_s,
    be back at the end location by end_s (plus allowed overtime)."""

    start_s: int
    end_s: int
    lunch: Break | None = None

    def __post_init__(self) -> None:
        if self.end_s <= self.start_s:
            raise ProblemError("shift.end must be after shift.start")


@dataclass(frozen=True, slots=True)
class CostProfile:
    """What a technician costs, in cents.

    Employees are paid per hour of route span and per km; partners per job plus
    per hour. Overtime is paid per hour beyond the shift end.
    """

    per_hour_cents: int = 0
    per_km_cents: int = 0
    per_job_cents: int = 0
    overtime_per_hour_cents: int = 0

    def __post_init__(self) -> None:
        for name in ("per_hour_cents", "per_km_cents", "per_job_cents", "overtime_per_hour_cents"):
            if getattr(self, name) < 0:
                raise ProblemError(f"cost.{name} must not be negative")


@dataclass(frozen=True, slots=True)
class Technician:
    """One technician's day.

    In a horizon (``solver.horizon``) each working day of a person is one technician:
    ``person_id`` names the person and ``day`` the day (0 = the horizon's first day).
    A one-day problem leaves both None: the technician is their own person.
    """

    id: str
    start: Location
    shift: Shift
    end: Location | None = None
    name: str = ""
    kind: TechnicianKind = TechnicianKind.EMPLOYEE
    skills: dict[str, int] = field(default_factory=dict)
    max_jobs: int | None = None
    max_overtime_s: int = 0
    cost: CostProfile = field(default_factory=CostProfile)
    # What the vehicle carries per resource type (load, a stock of a part type).
    # See ``Problem.capacity_limits`` for how an unlisted type counts.
    capacity: dict[str, int] = field(default_factory=dict)
    # Already out when the day is re-planned (``solver.replan.remaining``): at ``start``
    # and on the clock from this instant (no later than the shift start). Their route's
    # time counts from here, waiting where they are included, and with no visit left
    # they still drive home: the way from ``start`` to ``end_location`` is their cost.
    on_clock_from_s: int | None = None
    person_id: str | None = None
    day: int | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ProblemError("technician.id must not be empty")
        if self.day is not None and not 0 <= self.day < HORIZON_DAYS:
            raise ProblemError(f"technician {self.id}: day must be in 0..{HORIZON_DAYS - 1}")
        if self.person_id == "":
            raise ProblemError(f"technician {self.id}: person_id must not be empty")
        if self.on_clock_from_s is not None and self.on_clock_from_s > self.shift.start_s:
            raise ProblemError(f"technician {self.id}: on_clock_from must not be after shift.start")
        if self.max_jobs is not None and self.max_jobs < 0:
            raise ProblemError(f"technician {self.id}: max_jobs must not be negative")
        if self.max_overtime_s < 0:
            raise ProblemError(f"technician {self.id}: max_overtime must not be negative")
        if self.shift.start_s < 0:
            raise ProblemError(f"technician {self.id}: shift.start is before the plan date's midnight")
        if self.latest_end_s > MAX_TIME_S:
            raise ProblemError(
                f"technician {self.id}: shift.end plus max_overtime ends {_hours(self.latest_end_s)} after midnight, "
                f"beyond the {_hours(MAX_TIME_S)} the engine plans"
            )
        lunch = self.shift.lunch
        if lunch is not None and (lunch.earliest_s < 0 or lunch.latest_s + lunch.duration_s > MAX_TIME_S):
            raise ProblemError(f"technician {self.id}: shift.lunch lies beyond the {_hours(MAX_TIME_S)} planned")
        for kind, amount in self.capacity.items():
            if amount < 0:
                raise ProblemError(f"technician {self.id}: capacity {kind} must not be negative")

    @property
    def end_location(self) -> Location:
        """Where the day ends: ``end`` when given, else the start location."""
        return self.end if self.end is not None else self.start

    @property
    def latest_end_s(self) -> int:
        """The hard latest return time: shift end plus allowed overtime."""
        return self.shift.end_s + self.max_overtime_s

    @property
    def person(self) -> str:
        """The person working this day: ``person_id``, else the technician id."""
        return self.person_id if self.person_id is not None else self.id

    @property
    def out(self) -> bool:
        """Already out (``on_clock_from_s`` set): paid from then, and driving home in any case."""
        return self.on_clock_from_s is not None

    def prefers(self, job: Job) -> bool:
        """True when ``job`` has no preferred technician or prefers this one (by
        technician id, or by person in a horizon)."""
        pref = job.preferred_technician_id
        return pref is None or pref == self.id or pref == self.person_id

    def days_after(self, job: Job) -> int:
        """Days this technician's day lies after ``job``'s preferred day, negative when
        before it (0 when either is unset)."""
        if self.day is None or job.preferred_day is None:
            return 0
        return self.day - job.preferred_day

    def has_skills(self, required: dict[str, int]) -> bool:
        """True when this technician holds every required skill at its minimum level."""
        return all(self.skills.get(code, 0) >= level for code, level in required.items())

    def is_full(self, route: Sequence[Job]) -> bool:
        """True when ``route`` holds ``max_jobs`` jobs already (a depot stop is no job)."""
        return self.max_jobs is not None and sum(j.id != RELOAD_ID for j in route) >= self.max_jobs


def _hours(t_s: int) -> str:
    return f"{t_s / 3600:g} h"


MONDAY_TO_FRIDAY = frozenset(range(5))


@dataclass(frozen=True, slots=True)
class Dependency:
    """A job waits for another (``job_id``, of the same problem): it starts no earlier
    than ``min_lag_s`` after that job ends and, with ``max_lag_s``, no later than
    ``max_lag_s`` after it ends; it is served only when that job is.

    Lags in working days hold as well: with ``min_lag_days`` N it starts no earlier
    than the midnight opening the N-th working day after the day that job ends on;
    with ``max_lag_days`` M it starts no later than the end of the M-th working day
    after it (0: the same day). Working days are the weekdays ``working_weekdays``
    (0 = Monday), day 0 of the problem being a ``first_weekday``; days are ``DAY_S``
    long from the problem's time 0."""

    job_id: str
    min_lag_s: int = 0
    max_lag_s: int | None = None
    min_lag_days: int = 0
    max_lag_days: int | None = None
    first_weekday: int = 0
    working_weekdays: frozenset[int] = MONDAY_TO_FRIDAY

    def __post_init__(self) -> None:
        if not self.job_id:
            raise ProblemError("after.job_id must not be empty")
        if self.min_lag_s < 0:
            raise ProblemError(f"after.min_lag must not be negative (depends on {self.job_id})")
        if self.max_lag_s is not None and self.max_lag_s < self.min_lag_s:
            raise ProblemError(f"after.max_lag is below after.min_lag (depends on {self.job_id})")
        if self.min_lag_days < 0:
            raise ProblemError(f"after.min_lag_days must not be negative (depends on {self.job_id})")
        if self.max_lag_days is not None and self.max_lag_days < self.min_lag_days:
            raise ProblemError(f"after.max_lag_days is below after.min_lag_days (depends on {self.job_id})")
        if not 0 <= self.first_weekday <= 6:
            raise ProblemError(f"after.first_weekday must be in 0..6 (depends on {self.job_id})")
        if not self.working_weekdays or not self.working_weekdays <= frozenset(range(7)):
            raise ProblemError(f"after.working_weekdays must be some of 0..6 (depends on {self.job_id})")

    def working_day_after(self, day: int, n: int) -> int:
        """The day index of the ``n``-th working day after day ``day`` (``day`` itself for 0)."""
        found = day
        while n > 0:
            found += 1
            if (self.first_weekday + found) % 7 in self.working_weekdays:
                n -= 1
        return found

    def earliest_s(self, end_s: int) -> int:
        """The earliest start allowed when the job waited for ends at ``end_s``."""
        earliest = end_s + self.min_lag_s
        if self.min_lag_days:
            earliest = max(earliest, self.working_day_after(end_s // DAY_S, self.min_lag_days) * DAY_S)
        return earliest

    def latest_s(self, end_s: int) -> int | None:
        """The latest start allowed when the job waited for ends at ``end_s`` (None: no limit)."""
        latest = None if self.max_lag_s is None else end_s + self.max_lag_s
        if self.max_lag_days is not None:
            by_days = (self.working_day_after(end_s // DAY_S, self.max_lag_days) + 1) * DAY_S - 1
            latest = by_days if latest is None else min(latest, by_days)
        return latest

    def allows(self, start_s: int, end_s: int) -> bool:
        """True when a start at ``start_s`` keeps this dependency on a job ending at ``end_s``."""
        latest = self.latest_s(end_s)
        return self.earliest_s(end_s) <= start_s and (latest is None or start_s <= latest)


@dataclass(frozen=True, slots=True)
class Part:
    """This job is day ``index`` (0-based) of the ``count``-day job ``job_id``: the
    ``count`` parts are served together or not at all, by one person on ``count``
    consecutive working days of theirs, in index order (docs/model.md, "Jobs longer
    than a day")."""

    job_id: str
    index: int
    count: int

    def __post_init__(self) -> None:
        if not self.job_id:
            raise ProblemError("part.job_id must not be empty")
        if not 2 <= self.count <= HORIZON_DAYS:
            raise ProblemError(f"part of {self.job_id}: days must be in 2..{HORIZON_DAYS}")
        if not 0 <= self.index < self.count:
            raise ProblemError(f"part of {self.job_id}: index must be in 0..{self.count - 1}")


@dataclass(frozen=True, slots=True)
class Job:
    """One visit to a customer.

    ``windows`` are hard arrival windows (the visit starts inside one); none
    means any time in a shift. ``release_s`` (goods ready) and ``deadline_s``
    (repair SLA) bound the start as well. ``preferred_window`` is soft: each
    minute outside it costs ``soft_penalty_per_min_cents``, and a start outside
    it at all ``soft_penalty_cents`` once (on a re-plan: a customer told a new
    time, ``solver.replan.Stability.told_cents``). ``demand`` is what
    a visit uses up of each resource type the technician carries (every
    visiting technician of a crew carries it). ``after``: the job it waits for,
    with the lags (docs/model.md, "Dependencies"). ``preferred_day`` (0 = a
    horizon's first day) is soft: each day after it costs ``Weights.day_late_cents``,
    each day before it ``Weights.day_early_cents``, on a technician with a ``day``. ``part``: one day of a
    job longer than a day.
    """

    id: str
    location: Location
    duration_s: int
    kind: JobKind = JobKind.INSTALL
    skills: dict[str, int] = field(default_factory=dict)
    windows: tuple[TimeWindow, ...] = ()
    preferred_window: TimeWindow | None = None
    soft_penalty_per_min_cents: int = 0
    soft_penalty_cents: int = 0
    release_s: int | None = None
    deadline_s: int | None = None
    priority: int = 3
    pinned_technician_id: str | None = None
    preferred_technician_id: str | None = None
    crew_size: int = 1
    demand: dict[str, int] = field(default_factory=dict)
    after: Dependency | None = None
    preferred_day: int | None = None
    part: Part | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ProblemError("job.id must not be empty")
        if self.preferred_day is not None and not 0 <= self.preferred_day < HORIZON_DAYS:
            raise ProblemError(f"job {self.id}: preferred_day must be in 0..{HORIZON_DAYS - 1}")
        if self.part is not None and self.crew_size != 1:
            raise ProblemError(f"job {self.id}: a job longer than a day takes a crew of 1")
        if self.duration_s < 0:
            raise ProblemError(f"job {self.id}: duration must not be negative")
        if self.duration_s > MAX_TIME_S:
            raise ProblemError(f"job {self.id}: duration is longer than the {_hours(MAX_TIME_S)} the engine plans")
        for k, w in enumerate(self.windows):
            if w.end_s < 0 or w.start_s > MAX_TIME_S:
                raise ProblemError(
                    f"job {self.id}: windows[{k}] lies outside the {_hours(MAX_TIME_S)} from the plan date's "
                    "midnight that the engine plans"
                )
        pw = self.preferred_window
        if pw is not None and (pw.end_s < 0 or pw.start_s > MAX_TIME_S):
            raise ProblemError(f"job {self.id}: preferred_window lies beyond the {_hours(MAX_TIME_S)} the engine plans")
        if self.after is not None and self.after.job_id == self.id:
            raise ProblemError(f"job {self.id}: after names the job itself")
        if self.priority not in (0, 1, 2, 3):
            raise ProblemError(f"job {self.id}: priority must be 0, 1, 2 or 3")
        if self.crew_size not in (1, 2):
            raise ProblemError(f"job {self.id}: crew_size must be 1 or 2")
        if self.soft_penalty_per_min_cents < 0:
            raise ProblemError(f"job {self.id}: soft_penalty_per_min must not be negative")
        if self.soft_penalty_cents < 0:
            raise ProblemError(f"job {self.id}: soft_penalty must not be negative")
        for code, level in self.skills.items():
            if level < 0:
                raise ProblemError(f"job {self.id}: skill {code} level must not be negative")
        for kind, amount in self.demand.items():
            if amount < 0:
                raise ProblemError(f"job {self.id}: demand {kind} must not be negative")

    def start_windows(self) -> list[TimeWindow]:
        """The hard windows for the visit start, release and deadline applied,
        sorted and merged; empty when no start time is possible."""
        lo = self.release_s if self.release_s is not None else -DAY_S
        hi = self.deadline_s if self.deadline_s is not None else MAX_TIME_S
        raw = self.windows or (TimeWindow(-DAY_S, MAX_TIME_S),)
        clipped = sorted((max(w.start_s, lo), min(w.end_s, hi)) for w in raw if max(w.start_s, lo) <= min(w.end_s, hi))
        merged: list[TimeWindow] = []
        for start, end in clipped:
            if merged and start <= merged[-1].end_s:
                last = merged.pop()
                merged.append(TimeWindow(last.start_s, max(last.end_s, end)))
            else:
                merged.append(TimeWindow(start, end))
        return merged

    def start_allowed(self, t_s: int) -> bool:
        """True when a visit may start at ``t_s`` (windows, release, deadline)."""
        return any(w.contains(t_s) for w in self.start_windows())


@dataclass(frozen=True, slots=True)
class Depot:
    """The warehouse where a technician may stop once a day to pick up goods and tools.

    After the stop each constrained resource type is topped up to the larger of
    the technician's own capacity and ``restock`` (so a technician who set out
    with none of a part can fetch it), and the technician holds the
    ``skills`` lent there (tools) on top of their own for the rest of the day.
    The stop takes ``stop_s`` on site; the depot has no opening window of its
    own beyond the technician's shift.
    """

    location: Location
    stop_s: int = 0
    restock: dict[str, int] = field(default_factory=dict)
    skills: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.stop_s < 0:
            raise ProblemError("depot.stop must not be negative")
        for kind, amount in self.restock.items():
            if amount < 0:
                raise ProblemError(f"depot.restock {kind} must not be negative")
        for code, level in self.skills.items():
            if level < 0:
                raise ProblemError(f"depot.skills {code} level must not be negative")


@dataclass(frozen=True, slots=True)
class Weights:
    """Objective weights, in cents; documented in docs/objective.md."""

    preferred_technician_miss_cents: int = 2000
    # Each day a job is served after its ``preferred_day`` (the customer waits longer).
    day_late_cents: int = 20000
    # Each day a job is served before it (inside the days the customer gave: sooner, but
    # not the day asked for): an eighth of a day late (docs/objective.md).
    day_early_cents: int = 2500

    def __post_init__(self) -> None:
        if self.preferred_technician_miss_cents < 0:
            raise ProblemError("weights.preferred_technician_miss_cents must not be negative")
        if self.day_late_cents < 0:
            raise ProblemError("weights.day_late_cents must not be negative")
        if self.day_early_cents < 0:
            raise ProblemError("weights.day_early_cents must not be negative")


def _check_dependencies(jobs: tuple[Job, ...]) -> None:
    """Every ``after`` names a job of the problem, and no job waits for itself through others."""
    after = {j.id: j.after.job_id for j in jobs if j.after is not None}
    ids = {j.id for j in jobs}
    for job_id, pred in after.items():
        if pred not in ids:
            raise ProblemError(f"job {job_id}: after.job_id {pred} is not a job of this problem")
    done: set[str] = set()
    for job_id in after:
        chain: list[str] = []
        at: str | None = job_id
        while at is not None and at not in done:
            if at in chain:
                raise ProblemError(f"job {job_id}: after makes a cycle ({' -> '.join([*chain, at])})")
            chain.append(at)
            at = after.get(at)
        done.update(chain)


def _check_parts(jobs: tuple[Job, ...]) -> None:
    """The parts of each job longer than a day are all there, once each, and agree on the count."""
    groups: dict[str, list[Part]] = {}
    for job in jobs:
        if job.part is not None:
            groups.setdefault(job.part.job_id, []).append(job.part)
    for job_id, parts in groups.items():
        count = parts[0].count
        if any(p.count != count for p in parts) or sorted(p.index for p in parts) != list(range(count)):
            raise ProblemError(f"job {job_id}: its parts must be days 0..{count - 1} of {count}, each once")


def _check_person_days(techs: tuple[Technician, ...]) -> None:
    """A person works at most one day per ``day``, and their days do not overlap in time."""
    by_person: dict[str, list[Technician]] = {}
    for tech in techs:
        if tech.person_id is not None:
            if tech.day is None:
                raise ProblemError(f"technician {tech.id}: a person's day needs day as well as person_id")
            by_person.setdefault(tech.person_id, []).append(tech)
    for person, days in by_person.items():
        days.sort(key=lambda t: t.shift.start_s)
        if len({t.day for t in days}) != len(days):
            raise ProblemError(f"person {person}: two technicians for one day")
        for a, b in itertools.pairwise(days):
            if a.latest_end_s > b.shift.start_s:
                raise ProblemError(f"person {person}: day {a.day} (with overtime) runs into day {b.day}")


def return_limits(latest_end_s: int, last: Job | None, late_home_s: int) -> tuple[int, int]:
    """(by when the last visit must end, by when the technician must be back) for a
    day that must end by ``latest_end_s`` with ``last`` as its last visit: after a
    promise (priority 0) the way home may take ``late_home_s`` more
    (``Problem.promise_late_home_s``)."""
    if last is not None and last.priority == 0:
        return latest_end_s, latest_end_s + late_home_s
    return latest_end_s, latest_end_s


@dataclass(frozen=True, slots=True)
class Problem:
    """One day to plan: who can work, what must be done."""

    technicians: tuple[Technician, ...]
    jobs: tuple[Job, ...]
    weights: Weights = field(default_factory=Weights)
    # Visits at least this long may hold the lunch: the technician stops work on
    # site, so the stay grows by the lunch (a 6-hour kitchen spans any lunch window).
    lunch_on_site_min_s: int = 3 * 3600
    # Where technicians may reload mid-day; None: no depot stops (docs/model.md).
    depot: Depot | None = None
    # How much later than their latest end (shift end plus overtime) a technician may
    # get home when their last visit is a promise (priority 0) that itself ends by
    # then: they finish the promised visit in their working time and drive home late
    # (paid as overtime). 0: never (docs/model.md, "Promises").
    promise_late_home_s: int = 0
    # Technicians of the day who work no more (a re-plan from an instant past their day,
    # or while they are away for the rest of it): they take nothing, and a job only
    # they could do is explained by them rather than by a skill nobody has.
    off_duty: tuple[Technician, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.promise_late_home_s <= 4 * 3600:
            raise ProblemError("promise_late_home_s must be between 0 and 4 hours")
        tech_ids = [t.id for t in self.technicians]
        if len(set(tech_ids)) != len(tech_ids):
            raise ProblemError("technician ids must be unique")
        job_ids = [j.id for j in self.jobs]
        if len(set(job_ids)) != len(job_ids):
            dup = next(i for i in job_ids if job_ids.count(i) > 1)
            raise ProblemError(f"job id {dup} appears twice")
        if RELOAD_ID in job_ids:
            raise ProblemError(f"job id {RELOAD_ID} is reserved for depot stops")
        known = set(tech_ids)
        people = {t.person_id for t in self.technicians if t.person_id is not None}
        for job in self.jobs:
            value = job.pinned_technician_id
            if value is not None and value not in known:
                raise ProblemError(f"job {job.id}: pinned_technician_id {value} is not a technician of this day")
            value = job.preferred_technician_id
            if value is not None and value not in known and value not in people:
                raise ProblemError(f"job {job.id}: preferred_technician_id {value} is not a technician of this day")
        _check_dependencies(self.jobs)
        _check_parts(self.jobs)
        _check_person_days(self.technicians)

    def latest_return_s(self, tech: Technician, last: Job | None, last_end_s: int | None) -> int:
        """When ``tech`` must be back at the latest, their last visit being ``last``
        (ending at ``last_end_s``): their latest end, or up to ``promise_late_home_s``
        after it when that visit is a promise ending by their latest end."""
        visit_by, back_by = return_limits(tech.latest_end_s, last, self.promise_late_home_s)
        return back_by if last_end_s is not None and last_end_s <= visit_by else visit_by

    @property
    def resource_types(self) -> tuple[str, ...]:
        """The constrained resource types: those any technician lists a capacity for (sorted).

        A type that no technician lists is not limited, however much jobs demand of it.
        """
        return tuple(sorted({kind for t in self.technicians for kind in t.capacity}))

    def capacity_limits(self) -> dict[str, dict[str, int]]:
        """Per technician id, the capacity of every constrained resource type.

        A constrained type the technician does not list counts as capacity 0:
        such a technician may only serve jobs that demand none of it.
        """
        kinds = self.resource_types
        return {t.id: {kind: t.capacity.get(kind, 0) for kind in kinds} for t in self.technicians}

    def skills_after_reload(self, tech: Technician) -> dict[str, int]:
        """What ``tech`` holds after a depot stop: their skills with the depot's tools added."""
        held = dict(tech.skills)
        if self.depot is not None:
            for code, level in self.depot.skills.items():
                held[code] = max(level, held.get(code, 0))
        return held

    def qualified(self, tech: Technician, job: Job) -> bool:
        """True when ``tech`` holds ``job``'s skills as they set out or after a depot stop."""
        if tech.has_skills(job.skills):
            return True
        held = self.skills_after_reload(tech)
        return self.depot is not None and all(held.get(code, 0) >= level for code, level in job.skills.items())

    def capacity_after_reload(self) -> dict[str, dict[str, int]]:
        """Per technician id, what each constrained resource type is topped up to at the
        depot (``capacity_limits`` when there is no depot)."""
        limits = self.capacity_limits()
        if self.depot is None:
            return limits
        restock = self.depot.restock
        return {t: {kind: max(cap, restock.get(kind, 0)) for kind, cap in caps.items()} for t, caps in limits.items()}

    def reload_job(self) -> Job | None:
        """The depot stop as a visit the route timer can place (id ``RELOAD_ID``), or None."""
        if self.depot is None:
            return None
        return Job(RELOAD_ID, self.depot.location, self.depot.stop_s, priority=0)

    def long_visit(self, job: Job) -> bool:
        """True when a visit to ``job`` is long enough to hold a lunch on site."""
        return job.duration_s >= self.lunch_on_site_min_s

    def lunch_on_site(self, job: Job, tech: Technician) -> bool:
        """True when ``tech`` may take their pause during a visit to ``job``: a long
        visit holds a lunch, never an absence (``Break.on_site``)."""
        lunch = tech.shift.lunch
        return self.long_visit(job) and (lunch is None or lunch.on_site)

    def technician(self, tech_id: str) -> Technician:
        """The technician with this id (KeyError when unknown)."""
        for tech in self.technicians:
            if tech.id == tech_id:
                return tech
        raise KeyError(tech_id)

    def job(self, job_id: str) -> Job:
        """The job with this id (KeyError when unknown)."""
        for job in self.jobs:
            if job.id == job_id:
                return job
        raise KeyError(job_id)
