"""What the board reads from the v1 API, as typed objects.

These mirror the API's response documents (``../shared/docs/API.md``) and
ignore fields they do not know, so a newer server does not break the board.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PlanStatus = Literal["queued", "running", "done", "failed", "cancelled"]
FINISHED: frozenset[str] = frozenset({"done", "failed", "cancelled"})


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class Clock(ApiModel):
    """The service's time (``GET /v1/clock``)."""

    now: dt.datetime
    today: dt.date
    timezone: str
    urgent_due_min: int
    """The service's repair standard: urgent work entered now is due this many minutes later."""


class LatLon(ApiModel):
    lat: float
    lon: float


class Window(ApiModel):
    start: dt.datetime
    end: dt.datetime


class Break(ApiModel):
    earliest: str
    latest: str
    duration_min: int


class Shift(ApiModel):
    date: dt.date
    start: str
    end: str
    break_: Break | None = Field(default=None, alias="break")


class WeekdayShift(ApiModel):
    """One weekday of a technician's weekly template (1 = Monday ... 7 = Sunday)."""

    weekday: int
    start: str
    end: str
    break_: Break | None = Field(default=None, alias="break")


class Absence(ApiModel):
    start: dt.datetime
    end: dt.datetime
    reason: str = ""


class WorkingLunch(ApiModel):
    earliest: dt.datetime
    latest: dt.datetime
    duration_min: int


class WorkingDay(ApiModel):
    """A technician's working time on one date as plans see it (``GET /v1/working-time``):
    the explicit shift, else the weekly template's weekday, less absences."""

    date: dt.date
    technician_id: str
    start: dt.datetime
    end: dt.datetime
    lunch: WorkingLunch | None = None
    max_overtime_min: int = 0
    minutes: int


class Cost(ApiModel):
    per_hour: float = 0.0
    per_km: float = 0.0
    per_job: float = 0.0
    overtime_per_hour: float = 0.0


class Technician(ApiModel):
    id: str
    name: str = ""
    kind: str = "employee"
    region: str = ""
    home: LatLon
    end: LatLon | None = None
    skills: dict[str, int] = Field(default_factory=dict)
    shifts: list[Shift] = Field(default_factory=list)
    week: list[WeekdayShift] = Field(default_factory=list)
    absences: list[Absence] = Field(default_factory=list)
    max_jobs: int | None = None
    max_overtime_min: int = 0
    cost: Cost = Field(default_factory=Cost)

    def shift_on(self, day: dt.date) -> Shift | None:
        """The technician's shift of ``day`` as entered: the explicit one, else the weekly
        template's weekday, else None (absences not taken out: ``WorkingDay`` does that)."""
        explicit = next((s for s in self.shifts if s.date == day), None)
        if explicit is not None:
            return explicit
        template = next((w for w in self.week if w.weekday == day.isoweekday()), None)
        if template is None:
            return None
        return Shift.model_validate(
            {"date": day, "start": template.start, "end": template.end, "break": template.break_}
        )

    def absent_on(self, day: dt.date) -> list[Absence]:
        """The absences that touch ``day``, read in the offsets the API gave them (the
        dispatch time zone's)."""
        tick = dt.timedelta(microseconds=1)
        return [a for a in self.absences if a.start.date() <= day <= (a.end - tick).date()]

    def put_body(self, **changes: Any) -> dict[str, Any]:
        """The technician whole as ``PUT /v1/technicians/{id}`` takes it, with ``changes``."""
        body = self.model_dump(mode="json", by_alias=True, exclude={"id"})
        body.update(changes)
        return body


class Customer(ApiModel):
    name: str = ""
    phone: str = ""


class Job(ApiModel):
    id: str
    kind: str
    status: str = "open"
    region: str = ""
    date: dt.date
    location: LatLon
    address: str = ""
    customer: Customer = Field(default_factory=Customer)
    duration_min: int
    skills: dict[str, int] = Field(default_factory=dict)
    crew_size: int = 1
    windows: list[Window] = Field(default_factory=list)
    preferred_window: Window | None = None
    release_at: dt.datetime | None = None
    deadline: dt.datetime | None = None
    priority: int = 3
    pinned_technician_id: str | None = None
    preferred_technician_id: str | None = None
    # The job this one waits for: {"job_id", "min_lag_hours", "max_lag_hours", "min_lag_days", "max_lag_days"}
    # (docs/model.md).
    depends_on: dict[str, Any] | None = None
    notes: str = ""
    booked: bool = False


class Visit(ApiModel):
    job_id: str
    seq: int
    arrival: dt.datetime
    start: dt.datetime
    end: dt.datetime
    travel_min: float = 0.0


class Route(ApiModel):
    technician_id: str
    depart: dt.datetime | None = None
    return_: dt.datetime | None = Field(default=None, alias="return")
    lunch_start: dt.datetime | None = None
    lunch_end: dt.datetime | None = None
    visits: list[Visit] = Field(default_factory=list)
    travel_min: float = 0.0
    work_min: float = 0.0
    distance_km: float = 0.0


class Unassigned(ApiModel):
    job_id: str
    code: str = ""
    reason: str


class Moved(ApiModel):
    """A visit a re-plan gives to another technician."""

    job_id: str
    from_technician_id: str
    to_technician_id: str


class Retimed(ApiModel):
    """A customer whose arrival a re-plan moves by more than the notification threshold."""

    job_id: str
    old_arrival: dt.datetime
    new_arrival: dt.datetime


class Added(ApiModel):
    """A visit a re-plan plans that nobody was told of (new to the day, left out before, or a revisit)."""

    job_id: str
    technician_id: str
    arrival: dt.datetime


class LockNotKept(ApiModel):
    """A dispatcher's lock a re-plan could not keep (released for it and later runs), and why."""

    job_id: str
    technician_id: str
    lock: str
    reason: str


class PlanStability(ApiModel):
    """A re-plan's costs for changes, as its search weighed them (``stability`` of a plan)."""

    move_eur: float
    minute_eur: float
    tolerance_min: int
    told_eur: float


class PlanChanges(ApiModel):
    """A re-plan's changes against the published plan (``changes`` of a plan)."""

    from_: dt.datetime | None = Field(default=None, alias="from")
    moved: list[Moved] = Field(default_factory=list)
    retimed: list[Retimed] = Field(default_factory=list)
    dropped: list[str] = Field(default_factory=list)
    added: list[Added] = Field(default_factory=list)
    notify: list[str] = Field(default_factory=list)
    routes_changed: list[str] = Field(default_factory=list)
    settled: list[str] = Field(default_factory=list)
    locks_not_kept: list[LockNotKept] = Field(default_factory=list)


class Plan(ApiModel):
    id: int
    date: dt.date
    date_to: dt.date | None = None
    horizon_id: int | None = None
    region: str
    status: PlanStatus
    progress: float = 0.0
    time_limit_s: float = 0.0
    published: bool = False
    error: str | None = None
    created_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    routes: list[Route] | None = None
    unassigned: list[Unassigned] | None = None
    kpis: dict[str, Any] | None = None
    replan_from: dt.datetime | None = None
    stability: PlanStability | None = None
    changes: PlanChanges | None = None

    @property
    def finished(self) -> bool:
        """True once the run ended: done, failed or cancelled."""
        return self.status in FINISHED

    def served_job_ids(self) -> set[str]:
        """Jobs with at least one visit in this plan."""
        return {v.job_id for r in self.routes or [] for v in r.visits}


class RunProgress(ApiModel):
    """Where a plan run stands: one event of ``GET /v1/plans/{id}/events``, or the same
    fields of ``GET /v1/plans/{id}`` when the board polls."""

    id: int
    status: PlanStatus
    phase: str | None = None
    progress: float = 0.0
    first_answer_s: float | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        """True once the run ended: done, failed or cancelled."""
        return self.status in FINISHED

    @classmethod
    def of(cls, plan: Plan) -> RunProgress:
        """The run state of a polled plan."""
        return cls(id=plan.id, status=plan.status, progress=plan.progress, error=plan.error)


class EditViolation(ApiModel):
    """One hard rule a move by hand breaks (``POST /v1/plans/{id}/edits``)."""

    job_id: str
    code: str
    detail: str = ""
    technician_id: str | None = None
    standing: bool = False


class EditResult(ApiModel):
    """A move by hand evaluated (and, once applied, the new version's id); checked from an
    instant (``from_``), with its changes against what was told."""

    violations: list[EditViolation] = Field(default_factory=list)
    kpis: dict[str, Any] = Field(default_factory=dict)
    base_kpis: dict[str, Any] | None = None
    plan_id: int | None = None
    from_: dt.datetime | None = Field(default=None, alias="from")
    changes: PlanChanges | None = None


class ImportRowError(ApiModel):
    line: int
    field: str = ""
    message: str


class ImportResult(ApiModel):
    imported: int
    job_ids: list[str] = Field(default_factory=list)
    errors: list[ImportRowError] = Field(default_factory=list)


class LiveVisit(ApiModel):
    """One visit of the day as it goes (``GET /v1/live``)."""

    job_id: str
    seq: int
    state: Literal["done", "under_way", "next", "later"]
    status: str = ""
    kind: str = ""
    priority: int = 3
    planned_arrival: dt.datetime
    planned_start: dt.datetime
    planned_end: dt.datetime
    actual_start: dt.datetime | None = None
    actual_end: dt.datetime | None = None
    eta: dt.datetime | None = None
    expected_end: dt.datetime | None = None
    delay_min: int = 0
    at_risk: bool = False
    risk: str | None = None
    window: Window | None = None


class LiveTechnician(ApiModel):
    technician_id: str
    name: str = ""
    visits: list[LiveVisit] = Field(default_factory=list)


class UrgentJob(ApiModel):
    job_id: str
    kind: str = ""
    status: str = "open"
    address: str = ""
    deadline: dt.datetime | None = None
    windows: list[Window] = Field(default_factory=list)
    created_at: dt.datetime | None = None


class LiveDay(ApiModel):
    """The published plan of a day re-timed from field facts, and urgent work not in it."""

    date: dt.date
    region: str
    now: dt.datetime
    plan_id: int | None = None
    technicians: list[LiveTechnician] = Field(default_factory=list)
    urgent: list[UrgentJob] = Field(default_factory=list)


class Disruption(ApiModel):
    """A recorded disruption of a day (``POST /v1/disruptions``)."""

    id: int
    type: str
    date: dt.date
    region: str = ""
    technician_id: str | None = None
    job_id: str | None = None
    from_: dt.datetime | None = Field(default=None, alias="from")
    until: dt.datetime | None = None
    expected_end: dt.datetime | None = None
    at: dt.datetime | None = None
    location: LatLon | None = None


class FieldEvent(ApiModel):
    """A field report on a job as stored (``POST /v1/jobs/{id}/events``)."""

    id: int
    job_id: str
    technician_id: str | None = None
    type: str
    at: dt.datetime
    note: str = ""
    reason: str | None = None
