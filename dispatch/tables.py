"""The stored shape of the product: SQLModel tables (one kind of thing of three:
domain objects live in ``solver``, API schemas in ``api.schemas``).

Datetimes are stored in UTC; the service converts to local time at its edges.
"""

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class TechnicianRow(SQLModel, table=True):
    __tablename__ = "technicians"

    id: str = Field(primary_key=True, max_length=64)
    name: str = ""
    kind: str = "employee"
    region: str = Field(default="helsinki", index=True)
    home_lat: float
    home_lon: float
    end_lat: float | None = None
    end_lon: float | None = None
    skills: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    max_jobs: int | None = None
    max_overtime_min: int = 0
    cost_per_hour_cents: int = 0
    cost_per_km_cents: int = 0
    cost_per_job_cents: int = 0
    overtime_per_hour_cents: int = 0
    updated_at: dt.datetime


class ShiftRow(SQLModel, table=True):
    __tablename__ = "shifts"
    __table_args__ = (UniqueConstraint("technician_id", "date"),)

    id: int | None = Field(default=None, primary_key=True)
    technician_id: str = Field(foreign_key="technicians.id", index=True, ondelete="CASCADE")
    date: dt.date
    start_min: int
    end_min: int
    break_earliest_min: int | None = None
    break_latest_min: int | None = None
    break_duration_min: int | None = None


class WeekShiftRow(SQLModel, table=True):
    """One weekday of a technician's weekly template (docs/working-time.md): the shift
    of every such date in the dispatch time zone that has no ``ShiftRow`` of its own."""

    __tablename__ = "week_shifts"
    __table_args__ = (UniqueConstraint("technician_id", "weekday"),)

    id: int | None = Field(default=None, primary_key=True)
    technician_id: str = Field(foreign_key="technicians.id", index=True, ondelete="CASCADE")
    # ISO weekday: 1 = Monday ... 7 = Sunday.
    weekday: int
    start_min: int
    end_min: int
    break_earliest_min: int | None = None
    break_latest_min: int | None = None
    break_duration_min: int | None = None


class AbsenceRow(SQLModel, table=True):
    """A technician away from ``start`` until ``end`` (UTC): a holiday or day off when it
    covers a day's shift, else a few hours inside it (docs/working-time.md)."""

    __tablename__ = "absences"

    id: int | None = Field(default=None, primary_key=True)
    technician_id: str = Field(foreign_key="technicians.id", index=True, ondelete="CASCADE")
    start: dt.datetime
    end: dt.datetime
    reason: str = Field(default="", max_length=200)


class JobRow(SQLModel, table=True):
    __tablename__ = "jobs"

    id: str = Field(primary_key=True, max_length=64)
    region: str = Field(default="helsinki", index=True)
    date: dt.date = Field(index=True)
    # Days a plan over several days may put it on (None: only ``date``), the day the
    # customer prefers, and its length in consecutive working days (docs/horizon.md).
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    preferred_date: dt.date | None = None
    days: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    kind: str = "install"
    status: str = "open"
    lat: float
    lon: float
    address: str = ""
    customer_name: str = ""
    customer_phone: str = ""
    duration_min: int
    skills: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    crew_size: int = 1
    windows: list[list[str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    preferred_start: dt.datetime | None = None
    preferred_end: dt.datetime | None = None
    soft_penalty_per_min_cents: int = 0
    release_at: dt.datetime | None = None
    deadline: dt.datetime | None = None
    priority: int = 3
    pinned_technician_id: str | None = None
    preferred_technician_id: str | None = None
    depends_on: str | None = None
    # The lags of ``depends_on`` (docs/model.md, "Dependencies"): the job starts at least
    # ``depends_min_lag_min`` and, when set, at most ``depends_max_lag_min`` after that job ends.
    depends_min_lag_min: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    depends_max_lag_min: int | None = None
    # And in working days (Monday to Friday) after the day that job ends.
    depends_min_lag_days: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    depends_max_lag_days: int | None = None
    notes: str = ""
    booked: bool = False
    # A promise (docs/booking.md): the window confirmed to the customer, hard for every plan.
    confirmed: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    promised_start: dt.datetime | None = None
    promised_end: dt.datetime | None = None
    # The arrival the feed last told (job.eta); None: the planned arrival stands.
    told_eta: dt.datetime | None = None
    # The live day (docs/live-day.md): why the last visit failed, and when the visit really ran.
    reason: str | None = Field(default=None, max_length=32)
    actual_start: dt.datetime | None = None
    actual_end: dt.datetime | None = None
    created_at: dt.datetime
    updated_at: dt.datetime


class PlanRow(SQLModel, table=True):
    """One plan version. Immutable once done: routes and visits are never rewritten (while
    it runs, a first answer stored early is replaced by the final one)."""

    __tablename__ = "plans"

    id: int | None = Field(default=None, primary_key=True)
    date: dt.date = Field(index=True)
    # A run over several days (dispatch/horizon.py): its last day (``date`` its first).
    # Its answer is one done plan per day, each naming the run in ``horizon_id``.
    date_to: dt.date | None = None
    horizon_id: int | None = Field(default=None, index=True)
    region: str = "default"
    status: str = "queued"
    progress: float = 0.0
    time_limit_s: float = 10.0
    # Set by a cancel request from any API process; the solving process polls it.
    cancel_requested: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    error: str | None = None
    # The live schedule's version when the run loaded the day (None: made before it existed).
    base_version: int | None = None
    # A re-plan of the day from this instant (docs/replan.md); None: the whole day.
    replan_from: dt.datetime | None = None
    # A re-plan's stability: what its search charged for changing what was told, in cents
    # (solver.replan.Stability's fields); None for a whole-day run.
    stability: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # A re-plan's changes against the published plan (moved, retimed, notify, ...).
    changes: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    kpis: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    objective: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    # When this version was first published (None: never). The pointer of its day
    # (``PublishedPlanRow``) names only the current version; this keeps the ones it replaced.
    first_published_at: dt.datetime | None = None
    # A version the dispatcher made by hand (docs/replan.md): the plan it was edited from,
    # the visits locked in it ([{job_id, technician_id, technician, order, time, seq, start}])
    # and, when it was stored despite hard violations, who overrode which ({by, at, violations}).
    edited_from: int | None = None
    # While running: "solving", then "improving" once a first answer is readable (its
    # routes stored, replaced at the end), "catching_up" when the day changed meanwhile.
    phase: str | None = None
    # Seconds from the run's start to its first answer being readable (None: it had none).
    first_answer_s: float | None = None
    locks: list[Any] | None = Field(default=None, sa_column=Column(JSON))
    override: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # On the task engine (dispatch/tasks.py): the attempt solving it (a run whose worker
    # died is tried again once), the token its task carries (a task whose token is not
    # the row's is stale and does nothing), the worker solving it ("host:pid") and that
    # worker's last sign of life (wall-clock UTC, not the business clock).
    attempt: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    task_token: str | None = None
    worker: str | None = None
    heartbeat_at: dt.datetime | None = None


class PublishedPlanRow(SQLModel, table=True):
    """Which plan version is current for a day and region (the pointer publishing switches)."""

    __tablename__ = "published_plans"

    date: dt.date = Field(primary_key=True)
    region: str = Field(primary_key=True, max_length=64)
    plan_id: int = Field(foreign_key="plans.id")
    published_at: dt.datetime


class RouteRow(SQLModel, table=True):
    __tablename__ = "plan_routes"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plans.id", index=True)
    technician_id: str
    depart: dt.datetime | None = None
    return_at: dt.datetime | None = None
    lunch_start: dt.datetime | None = None
    lunch_end: dt.datetime | None = None
    travel_min: float = 0.0
    work_min: float = 0.0
    distance_km: float = 0.0


class VisitRow(SQLModel, table=True):
    __tablename__ = "plan_visits"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plans.id", index=True)
    technician_id: str = Field(index=True)
    job_id: str = Field(index=True)
    seq: int
    arrival: dt.datetime
    start: dt.datetime
    end: dt.datetime
    travel_min: float
    distance_km: float
    # The window the customer is (or would be) told for this visit (docs/live-day.md).
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None


class UnassignedRow(SQLModel, table=True):
    __tablename__ = "plan_unassigned"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plans.id", index=True)
    job_id: str
    code: str
    reason: str


class EventRow(SQLModel, table=True):
    """A status report from the field (en route, arrived, started, completed, failed).

    The same report again (job, type, technician and ``at``) is stored once."""

    __tablename__ = "status_events"

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(foreign_key="jobs.id", index=True)
    technician_id: str | None = None
    type: str
    at: dt.datetime
    note: str = ""
    reason: str | None = Field(default=None, max_length=32)
    recorded_at: dt.datetime


class TokenRow(SQLModel, table=True):
    """An API token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    role: str
    technician_id: str | None = None
    label: str = ""
    created_at: dt.datetime
    # Refused from then on (None: never expires).
    expires_at: dt.datetime | None = None
    # Refused from then on (None: not revoked).
    revoked_at: dt.datetime | None = None
    # The last request it authenticated, to the minute (``dispatch.auth.USE_RESOLUTION_S``).
    last_used_at: dt.datetime | None = None


class AuditRow(SQLModel, table=True):
    """One dispatcher action (a plan published, a token issued or revoked, a job
    cancelled, ...): who, what, when (docs/security.md). Ids grow in commit order, as
    the feed's do (``dispatch.audit``), so they are the audit's cursor."""

    __tablename__ = "audit_log"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime
    # The token that acted (kept even once revoked; tokens are never deleted).
    token_id: int | None = Field(default=None, foreign_key="api_tokens.id", index=True)
    role: str = Field(max_length=16)
    action: str = Field(max_length=40)
    subject: str = Field(default="", max_length=200)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class BookingRow(SQLModel, table=True):
    """One booking by the ordering system, found again by its idempotency key.

    ``response`` is the first answer, returned again for the same key and body.
    """

    __tablename__ = "bookings"
    # An idempotency key is its client's own (the booking token's).
    __table_args__ = (Index("uq_bookings_token_key", "token_id", "idempotency_key", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(index=True, max_length=200)
    request_hash: str
    job_id: str | None = Field(default=None, index=True)
    status: str = "booked"
    response: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: dt.datetime
    date: dt.date | None = None
    region: str | None = Field(default=None, max_length=64)
    slot_start: dt.datetime | None = None
    slot_end: dt.datetime | None = None
    token_id: int | None = None
    cancelled_at: dt.datetime | None = None


class LiveScheduleRow(SQLModel, table=True):
    """The live schedule of one day and region: the published plan as it is being
    carried out, with every booking inserted since (docs/live-day.md). Booking,
    slot search and plan runs start from it; it is the row a booking locks.

    ``routes`` is a list of ``[technician_id, [[job_id, fixed_start_s | null], ...]]``;
    ``version`` grows with every change to the day (booking, cancellation, field
    event, confirmation, publication), so a plan run can tell the day moved on.
    """

    __tablename__ = "live_schedules"

    date: dt.date = Field(primary_key=True)
    region: str = Field(primary_key=True, max_length=64)
    version: int = 0
    routes: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    plan_id: int | None = None
    updated_at: dt.datetime


class FeedEventRow(SQLModel, table=True):
    """One entry of the event feed: what changed, for which job and technician (docs/feed.md).

    Ids only grow, in commit order (``dispatch.feed``), so they are the feed's cursor."""

    __tablename__ = "feed_events"
    __table_args__ = {"sqlite_autoincrement": True}  # never reuse an id a reader may have passed

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime
    type: str = Field(max_length=32)
    job_id: str | None = Field(default=None, max_length=64, index=True)
    technician_id: str | None = Field(default=None, max_length=64, index=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class WebhookRow(SQLModel, table=True):
    """A webhook subscription: feed events of ``types`` are POSTed to ``url``, signed
    with ``secret`` (stored as given: it is needed to sign; never shown again)."""

    __tablename__ = "webhooks"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=200)
    types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime


class DeliveryRow(SQLModel, table=True):
    """The outbox: one feed event to send to one webhook, written in the transaction of
    the change. ``state`` is pending (to send; ``next_attempt_at`` says when),
    delivered, or failed (given up, docs/feed.md)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(foreign_key="webhooks.id", index=True, ondelete="CASCADE")
    event_id: int = Field(foreign_key="feed_events.id")
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: dt.datetime
    last_status: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: dt.datetime
    delivered_at: dt.datetime | None = None


class GeocodeRow(SQLModel, table=True):
    """A cached geocoder answer (found or not) for a normalised address."""

    __tablename__ = "geocode_cache"

    query: str = Field(primary_key=True, max_length=500)
    lat: float | None = None
    lon: float | None = None
    display_name: str = ""
    created_at: dt.datetime


class DisruptionRow(SQLModel, table=True):
    """Something that upset a day: a technician unavailable, a job overrunning, a
    technician running late (docs/replan.md). Re-plans of its day take it in."""

    __tablename__ = "disruptions"

    id: int | None = Field(default=None, primary_key=True)
    date: dt.date = Field(index=True)
    region: str = Field(max_length=64)
    type: str = Field(max_length=32)
    technician_id: str | None = Field(default=None, max_length=64)
    job_id: str | None = Field(default=None, max_length=64)
    from_at: dt.datetime | None = None
    until_at: dt.datetime | None = None
    expected_end: dt.datetime | None = None
    at: dt.datetime | None = None
    lat: float | None = None
    lon: float | None = None
    created_at: dt.datetime
