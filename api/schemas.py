"""Response schemas, and the request bodies that are not ``dispatch.inputs``
(those refuse unknown fields too: they extend ``Strict``). Secrets never reach these."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from dispatch.inputs import MAX_HORIZON_DAYS, NO_NUL, CustomerIn, Id, LatLon, Moment, PlanDate, Strict, field_error


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = None
    errors: list[dict[str, Any]] | None = None


class TokenRequest(Strict):
    role: Literal["dispatcher", "installer", "booking"]
    technician_id: Id | None = None
    label: str = Field(default="", max_length=200)
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="refused from this many days on; none: until revoked"
    )


class TokenOut(BaseModel):
    token: str = Field(description="the secret, shown this once")
    id: int
    role: str
    technician_id: str | None = None
    expires_at: dt.datetime | None = None


class TokenInfoOut(BaseModel):
    """An issued token as a dispatcher sees it: never its secret."""

    id: int
    role: str
    technician_id: str | None
    label: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None = Field(description="to the minute")
    revoked_at: dt.datetime | None
    active: bool = Field(description="accepted now: neither revoked nor expired")


class AuditActorOut(BaseModel):
    token_id: int | None
    role: str
    label: str


class AuditEntryOut(BaseModel):
    id: int
    at: dt.datetime
    actor: AuditActorOut
    action: str = Field(description="plan.published, plan.edited, token.issued, token.revoked, job.cancelled, ...")
    subject: str
    detail: dict[str, Any]


class AuditPageOut(BaseModel):
    entries: list[AuditEntryOut]
    next: str = Field(description="the cursor to ask with next time (`after`)")


class HealthOut(BaseModel):
    """The process is up and serving HTTP."""

    status: Literal["ok"] = Field(description="Always ok: an answer at all is the signal")


class ClockOut(BaseModel):
    """The service's time, so that every client agrees on what "today" is."""

    now: dt.datetime = Field(description="The current instant, in the dispatch time zone")
    today: dt.date = Field(description="Today's date in the dispatch time zone")
    timezone: str = Field(description="The dispatch area's IANA time zone")
    urgent_due_min: int = Field(
        description="The repair standard: minutes after it is entered that urgent work without a deadline is due "
        "(the board's default deadline for an urgent repair)"
    )


class BreakOut(BaseModel):
    earliest: str
    latest: str
    duration_min: int


class ShiftOut(BaseModel):
    date: dt.date
    start: str
    end: str
    break_: BreakOut | None = Field(default=None, serialization_alias="break")


class WeekdayShiftOut(BaseModel):
    weekday: int = Field(description="ISO weekday: 1 = Monday ... 7 = Sunday")
    start: str
    end: str
    break_: BreakOut | None = Field(default=None, serialization_alias="break")


class AbsenceOut(BaseModel):
    start: dt.datetime
    end: dt.datetime
    reason: str


class WorkingLunchOut(BaseModel):
    earliest: dt.datetime = Field(description="the lunch starts no earlier")
    latest: dt.datetime = Field(description="the lunch starts no later")
    duration_min: int


class WorkingDayOut(BaseModel):
    """One technician's working time on one date, as plans and slot search see it."""

    date: dt.date
    technician_id: str
    start: dt.datetime
    end: dt.datetime
    lunch: WorkingLunchOut | None = Field(
        description="the day's one pause: the lunch, or an absence inside the shift (with the lunch merged in)"
    )
    max_overtime_min: int
    minutes: int = Field(description="minutes of work the day holds: end - start - the pause (no overtime)")


class CostOut(BaseModel):
    per_hour: float
    per_km: float
    per_job: float
    overtime_per_hour: float


class TechnicianOut(BaseModel):
    id: str
    name: str
    kind: str
    region: str
    home: LatLon
    end: LatLon | None
    skills: dict[str, int]
    shifts: list[ShiftOut]
    week: list[WeekdayShiftOut] = Field(description="the weekly template (dispatch time zone), by weekday")
    absences: list[AbsenceOut] = Field(description="absences in the dispatch time zone, by start")
    max_jobs: int | None
    max_overtime_min: int
    cost: CostOut


class WindowOut(BaseModel):
    start: dt.datetime
    end: dt.datetime


class FailedVisitOut(BaseModel):
    technician_id: str | None
    at: dt.datetime
    reason: str | None
    events: str = Field(description="where the job's field events are listed")


class DependsOnOut(BaseModel):
    job_id: str
    min_lag_hours: float = 0.0
    max_lag_hours: float | None = None
    min_lag_days: int = 0
    max_lag_days: int | None = None


class DateRangeOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: dt.date = Field(alias="from")
    to: dt.date


class JobOut(BaseModel):
    id: str
    kind: str
    status: str
    region: str
    date: dt.date
    date_range: DateRangeOut | None = Field(default=None, description="days a plan over several days may pick")
    preferred_date: dt.date | None = None
    days: int = Field(default=1, description="consecutive working days; duration_min is per day")
    location: LatLon
    address: str
    customer: CustomerIn
    duration_min: int
    skills: dict[str, int]
    crew_size: int
    windows: list[WindowOut]
    preferred_window: WindowOut | None
    soft_penalty_per_min: float
    release_at: dt.datetime | None
    deadline: dt.datetime | None
    priority: int
    pinned_technician_id: str | None
    preferred_technician_id: str | None
    depends_on: DependsOnOut | None = Field(
        default=None, description="the job this one waits for and the lags after its end (hours)"
    )
    notes: str
    booked: bool
    confirmed: bool = Field(default=False, description="its window is promised to the customer (booked jobs are)")
    promised_window: WindowOut | None = Field(
        default=None, description="the promise: hard for slot search, booking and every plan run"
    )
    reason: str | None = Field(default=None, description="why the last visit failed (the job is open again)")
    actual_start: dt.datetime | None = Field(default=None, description="when the visit began (arrived or started)")
    actual_end: dt.datetime | None = Field(default=None, description="when the visit ended (completed or failed)")
    failed_visit: FailedVisitOut | None = Field(
        default=None, description="the last failed visit (who, when, why) of a job open again after one"
    )


class StabilityIn(Strict):
    """A re-plan's costs for changing what technicians and customers were told; each
    left out is the service's setting (REPLAN_MOVE_EUR, ...; docs/replan.md)."""

    move_eur: float | None = Field(default=None, ge=0, le=10_000, description="per visit given to another technician")
    minute_eur: float | None = Field(
        default=None, ge=0, le=1_000, description="per minute a customer's arrival moves beyond the tolerance"
    )
    tolerance_min: int | None = Field(
        default=None, ge=0, le=240, description="minutes an arrival may move either way at no cost"
    )
    told_eur: float | None = Field(
        default=None, ge=0, le=10_000, description="per customer whose arrival moves beyond the tolerance at all"
    )


class StabilityOut(BaseModel):
    move_eur: float
    minute_eur: float
    tolerance_min: int
    told_eur: float


class PlanRequest(Strict):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    date: PlanDate | None = Field(default=None, description="the day to plan (or date_from and date_to)")
    date_from: PlanDate | None = Field(
        default=None, description="with date_to instead of date: plan these days in one solve (at most 14)"
    )
    date_to: PlanDate | None = Field(default=None, description="the last day of a plan over several days")
    region: str | None = Field(default=None, min_length=1, max_length=64, pattern=NO_NUL)
    time_limit_s: float = Field(default=10.0, gt=0, le=600)
    from_: Moment | None = Field(
        default=None,
        alias="from",
        description="re-plan what is left of the day at this instant (done and under-way visits stay)",
    )
    stability: StabilityIn | None = Field(
        default=None,
        description="with from: this re-plan's costs for changes (default: the service's settings); "
        "all 0 re-plans for the best plan whatever it changes",
    )

    @model_validator(mode="after")
    def _days(self) -> PlanRequest:
        if self.date is not None and (self.date_from is not None or self.date_to is not None):
            raise field_error("PlanRequest", "date", "give date, or date_from and date_to, not both", None)
        if self.date is None:
            for name in ("date_from", "date_to"):
                if getattr(self, name) is None:
                    raise field_error("PlanRequest", name, "give date, or date_from and date_to", None)
            assert self.date_from is not None and self.date_to is not None
            if self.date_to < self.date_from:
                raise field_error("PlanRequest", "date_to", "date_to is before date_from", self.date_to.isoformat())
            if (self.date_to - self.date_from).days >= MAX_HORIZON_DAYS:
                raise field_error(
                    "PlanRequest", "date_to", f"a plan covers at most {MAX_HORIZON_DAYS} days", self.date_to.isoformat()
                )
            if self.from_ is not None:
                raise field_error("PlanRequest", "from", "a re-plan is of one day: give date, not date_from", None)
        if self.stability is not None and self.from_ is None:
            raise field_error(
                "PlanRequest",
                "stability",
                "only a re-plan (with from) weighs changes against what was told; give from, or leave stability out",
                None,
            )
        return self

    @property
    def first_day(self) -> dt.date:
        """The (first) day planned."""
        day = self.date if self.date is not None else self.date_from
        assert day is not None
        return day


class PublishIn(Strict):
    confirm_windows: StrictBool | None = Field(
        default=None,
        description="promise every visit's window to its customer; default: the service setting "
        "DISPATCH_CONFIRM_ON_PUBLISH",
    )


class MoveIn(Strict):
    job_id: Id
    technician_id: Id
    position: int = Field(ge=0, le=10_000, description="0 = first visit; past the end of the route appends")


class LockIn(Strict):
    """One lock per job: it replaces the lock the version holds of it (with no flag set, it releases it)."""

    job_id: Id
    technician: StrictBool = Field(default=False, description="pin the job to the technician it is on")
    order: StrictBool = Field(default=False, description="keep its place in the route (recorded on the version)")
    time: StrictBool = Field(default=False, description="keep the start the plan gave it")


class EditIn(Strict):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    moves: list[MoveIn] = Field(default_factory=list, max_length=200)
    locks: list[LockIn] = Field(default_factory=list, max_length=200)
    from_: Moment | None = Field(
        default=None,
        alias="from",
        description="check the edit from this instant of the plan's day: what is done or under way stays, "
        "technicians start where they are (default: a re-plan's own instant)",
    )
    apply: StrictBool = Field(
        default=False,
        description="store the result as a new plan version (an edit that changes nothing is a 422: it would "
        "store a copy)",
    )
    override: StrictBool = Field(
        default=False, description="with apply: store it despite hard violations (recorded on the version)"
    )


class EditViolationOut(BaseModel):
    job_id: str
    code: Literal["window", "shift", "skill", "crew", "promise", "capacity", "other"]
    detail: str
    technician_id: str | None = None
    standing: bool = Field(
        default=False, description="the plan edited breaks it too: not caused by the edit (it still needs override)"
    )


class EditOut(BaseModel):
    violations: list[EditViolationOut]
    kpis: dict[str, Any] = Field(description="the day's figures with the edit (as a plan run stores them)")
    base_kpis: dict[str, Any] | None = Field(default=None, description="the figures of the plan edited")
    plan_id: int | None = Field(default=None, description="the new plan version, once applied")
    from_: dt.datetime | None = Field(
        default=None,
        serialization_alias="from",
        description="the instant the edit was checked from (null: the whole day); the figures are then those of "
        "what is left of the day, with and without the edit",
    )
    changes: dict[str, Any] | None = Field(
        default=None, description="checked from an instant: what the edit changes against what was told"
    )


class PlanVisitOut(BaseModel):
    job_id: str
    seq: int
    arrival: dt.datetime
    start: dt.datetime
    end: dt.datetime
    travel_min: float
    window: WindowOut | None = Field(
        default=None, description="the window the customer is told (the promise once confirmed)"
    )


class PlanRouteOut(BaseModel):
    technician_id: str
    date: dt.date | None = Field(default=None, description="the route's day (plans over several days)")
    depart: dt.datetime | None
    return_: dt.datetime | None = Field(serialization_alias="return")
    lunch_start: dt.datetime | None
    lunch_end: dt.datetime | None
    visits: list[PlanVisitOut]
    travel_min: float
    work_min: float
    distance_km: float


class UnassignedOut(BaseModel):
    job_id: str
    code: str
    reason: str


class PlanOut(BaseModel):
    id: int
    date: dt.date
    date_to: dt.date | None = Field(default=None, description="the last day of a plan over several days")
    horizon_id: int | None = Field(
        default=None, description="the plan over several days this day's plan is part of (publish it there)"
    )
    region: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: float
    time_limit_s: float
    published: bool
    phase: Literal["solving", "improving", "catching_up"] | None = Field(
        default=None,
        description="while running: solving; improving once a first answer is readable (routes, unassigned, "
        "kpis and changes are it, replaced at the end); catching_up when the day changed meanwhile",
    )
    first_answer_s: float | None = Field(
        default=None, description="seconds from the run's start until its first answer was readable"
    )
    error: str | None = None
    attempt: int = Field(
        default=1, description="which attempt solves it: 2 when the worker of the first stopped (killed, lost)"
    )
    worker: str | None = Field(default=None, description="the solver worker (host:pid) solving or that solved it")
    created_at: dt.datetime
    finished_at: dt.datetime | None = None
    routes: list[PlanRouteOut] | None = None
    unassigned: list[UnassignedOut] | None = None
    kpis: dict[str, Any] | None = None
    objective: dict[str, Any] | None = None
    replan_from: dt.datetime | None = Field(default=None, description="a re-plan of what was left at this instant")
    stability: StabilityOut | None = Field(
        default=None, description="a re-plan's costs for changes, as its search weighed them"
    )
    changes: dict[str, Any] | None = Field(
        default=None, description="a re-plan's changes against the published plan: moved, retimed, notify, ..."
    )
    edited_from: int | None = Field(default=None, description="the plan version this one was edited from by hand")
    locks: list[dict[str, Any]] | None = Field(default=None, description="visits locked by hand in this version")
    override: dict[str, Any] | None = Field(
        default=None, description="who stored this version despite hard violations, when, and which"
    )


class MyJobOut(BaseModel):
    job_id: str
    plan_id: int = Field(description="the published plan version this visit is from")
    seq: int
    kind: str
    arrival: dt.datetime
    start: dt.datetime
    end: dt.datetime
    windows: list[WindowOut]
    window: WindowOut | None = Field(
        default=None,
        description="the window the customer was told (their promise when the job is confirmed); null when none",
    )
    address: str
    location: LatLon
    customer: CustomerIn
    duration_min: int = Field(description="the visit's work time (of this day, for a job of several days)")
    days: int = Field(default=1, description="how many working days the job takes")
    day: int = Field(default=1, description="which of them this visit is, from 1")
    crew: list[str]
    notes: str
    status: Literal["scheduled", "en_route", "on_site", "completed", "failed"] = Field(
        description="how the visit stands: scheduled until the first event; failed when the job is open again"
    )


class EventIn(Strict):
    type: Literal["en_route", "arrived", "started", "completed", "failed"]
    at: Moment | None = Field(default=None, description="when it happened (with offset); default now")
    note: str = Field(default="", max_length=2000)
    reason: Literal["customer_absent", "parts_missing", "second_visit", "other"] | None = Field(
        default=None, description="required with failed, and only there"
    )


class EventOut(BaseModel):
    id: int
    job_id: str
    technician_id: str | None
    type: str
    at: dt.datetime
    note: str
    reason: str | None = None


class ImportErrorOut(BaseModel):
    line: int
    field: str
    message: str


class ImportOut(BaseModel):
    imported: int
    job_ids: list[str]
    errors: list[ImportErrorOut]


class SlotOut(BaseModel):
    """An offered slot: the visit starts inside [start, end]."""

    start: dt.datetime
    end: dt.datetime
    score: float = Field(description="100 for the best slot; lower is worse (cost, later date, thin slack)")
    added_travel_min: float
    added_cost_eur: float
    slack_min: int = Field(description="minutes the visit could slip before a window, lunch or shift end breaks")
    risk: Literal["low", "medium", "high"]
    days: list[WindowOut] = Field(
        default_factory=list,
        description="a job of several days: its window on each of its days (the same technician each day); "
        "empty for one day",
    )


UnavailableCode = Literal[
    "no_technician",
    "no_skill",
    "no_crew",
    "outside_hours",
    "day_full",
    "urgent_reserve",
    "released_too_late",
    "past_deadline",
    "technician_away",
    "too_soon",
    "dependency_not_met",
    "no_run_of_days",
]
"""Why a window is not offered (docs/booking.md, "Slot search")."""


class UnavailableOut(BaseModel):
    """A candidate window that is not offered, with a reason that can be said to the customer."""

    start: dt.datetime
    end: dt.datetime
    code: UnavailableCode
    reason: str


class SlotsOut(BaseModel):
    slots: list[SlotOut]
    unavailable: list[UnavailableOut]


class SlotWindowOut(BaseModel):
    start: dt.datetime
    end: dt.datetime


class BookingOut(BaseModel):
    job_id: str
    slot: SlotWindowOut
    date: dt.date
    region: str
    status: Literal["booked", "cancelled"]
    days: list[SlotWindowOut] = Field(
        default_factory=list,
        description="a job of several days: the window promised on each of its days (the first is slot), "
        "all with one technician; empty for one day",
    )


class FeedEventOut(BaseModel):
    """One change, for whom: the same object a webhook receives (instants in UTC)."""

    id: int = Field(description="unique and growing; a receiver de-duplicates by it")
    at: dt.datetime = Field(description="when the change was recorded")
    type: Literal[
        "job.status", "job.window", "job.assigned", "job.unassigned", "job.eta", "plan.published", "disruption"
    ]
    job_id: str | None
    technician_id: str | None = Field(description="the technician the change concerns, if any")
    data: dict[str, Any]


class FeedPageOut(BaseModel):
    events: list[FeedEventOut] = Field(description="oldest first")
    next: str = Field(description="the cursor to ask with next time (?after=); the same one when nothing was new")


class WebhookIn(Strict):
    url: str = Field(max_length=2000, description="http:// or https://; receives one POST per event")
    secret: str = Field(min_length=16, max_length=200, description="signs each body (HMAC-SHA256); never shown again")
    types: list[str] = Field(min_length=1, max_length=10, description="event types to receive")


class WebhookCreatedOut(BaseModel):
    id: int


class DeliveryCountsOut(BaseModel):
    pending: int
    delivered: int
    failed: int


class WebhookOut(BaseModel):
    """A subscription (never its secret) and how its deliveries stand."""

    id: int
    url: str
    types: list[str]
    created_at: dt.datetime
    deliveries: DeliveryCountsOut


class DeliveryOut(BaseModel):
    id: int
    event_id: int
    type: str
    state: Literal["pending", "delivered", "failed"] = Field(
        description="pending: to send (again) at next_attempt_at; delivered: a 2xx answer; failed: given up"
    )
    attempts: int
    next_attempt_at: dt.datetime | None = Field(description="when it is tried (again); null unless pending")
    last_status: int | None = Field(description="the HTTP status of the last answer; null when there was none")
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None


class JobStatusOut(BaseModel):
    """What a customer may be told of their job (``GET /v1/jobs/{id}/status``)."""

    job_id: str
    status: str = Field(
        description="scheduled, en_route, on_site, completed, failed in a published plan; else as stored"
    )
    window: WindowOut | None = Field(description="the promised window (or the customer's window of the visit)")
    eta: dt.datetime | None = Field(description="expected arrival; null once arrived, done, or not in a published plan")
    technician_first_name: str | None


class LiveVisitOut(BaseModel):
    job_id: str
    seq: int
    state: Literal["done", "under_way", "next", "later"]
    status: str
    kind: str
    priority: int
    planned_arrival: dt.datetime
    planned_start: dt.datetime
    planned_end: dt.datetime
    actual_start: dt.datetime | None
    actual_end: dt.datetime | None
    eta: dt.datetime | None = Field(description="expected arrival of a visit not reached yet")
    expected_end: dt.datetime | None = Field(description="expected (or actual) end")
    delay_min: int = Field(description="against the planned arrival; negative when early")
    at_risk: bool
    risk: Literal["unavailable", "window", "shift", "dependency"] | None = Field(
        description="unavailable: its technician is unavailable then (a disruption); window: expected after "
        "the promised window's end; shift: cannot end within the shift; dependency: the job it waits for is "
        "not done and not planned to end before it (failed, cancelled, re-dated or late)"
    )
    window: WindowOut | None = Field(description="the promised window")


class LiveTechnicianOut(BaseModel):
    technician_id: str
    name: str
    visits: list[LiveVisitOut]


class UrgentJobOut(BaseModel):
    job_id: str
    kind: str
    status: str
    address: str
    deadline: dt.datetime | None
    windows: list[WindowOut]
    created_at: dt.datetime


class LiveDayOut(BaseModel):
    """The day as it goes (``GET /v1/live``): the published plan re-timed from field facts."""

    date: dt.date
    region: str
    now: dt.datetime
    plan_id: int | None = Field(description="the published plan; null when the day has none")
    technicians: list[LiveTechnicianOut]
    urgent: list[UrgentJobOut] = Field(description="open priority-1 work not in the published plan")


class DisruptionOut(BaseModel):
    id: int
    type: str
    date: dt.date
    region: str
    technician_id: str | None
    job_id: str | None
    from_: dt.datetime | None = Field(serialization_alias="from")
    until: dt.datetime | None
    expected_end: dt.datetime | None
    at: dt.datetime | None
    location: LatLon | None
    created_at: dt.datetime
