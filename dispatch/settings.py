"""Service settings, read once from the environment (see README, "Settings")."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dispatch.clock import SYSTEM_CLOCK, Clock, parse_instant
from solver.replan import Stability


@dataclass(frozen=True)
class BookingSettings:
    """How appointment slots are cut and what routine bookings may use (docs/booking.md)."""

    # Window length per job kind, in minutes: 1-hour install windows ("3+1"), 2-hour measures.
    slot_minutes: dict[str, int] = field(default_factory=lambda: {"measure": 120, "install": 60, "repair": 120})
    # Share of each technician's working time that only urgent (priority 1) bookings may fill.
    urgent_reserve_share: float = 0.15
    # A routine slot starts at least this long after the booking is made.
    lead_min: int = 120
    # Urgent repairs: arrival windows this long, offered from now on until the deadline.
    urgent_window_min: int = 30
    urgent_step_min: int = 15
    # Without a deadline in the request, an urgent repair is due on site within this (the repair standard).
    urgent_deadline_min: int = 240
    max_days: int = 14
    max_slots: int = 50
    # Time a search may spend per day on windows that need a promised job moved to another
    # technician; a booking re-checks its one window with the larger budget.
    search_move_budget_ms: int = 20
    booking_move_budget_ms: int = 60


@dataclass(frozen=True)
class WebhookSettings:
    """How webhook deliveries are sent and retried (docs/feed.md, "Retries")."""

    # The delivery loop looks for due deliveries this often (and sends up to batch_size each time).
    poll_s: float = 1.0
    batch_size: int = 50
    # One POST may take this long (connect and answer) before it counts as no answer.
    timeout_s: float = 5.0
    # Retry n waits min(backoff_cap_s, backoff_base_s * 2**(n-1)), less up to a quarter of it at random.
    backoff_base_s: float = 5.0
    backoff_cap_s: float = 3600.0
    # A delivery still failing this long after its event is given up (state failed); 0: never.
    give_up_after_s: float = 3 * 24 * 3600.0
    # False: no delivery loop in this process (deliveries wait in the outbox for one that has it).
    deliver: bool = True


@dataclass(frozen=True)
class EtaSettings:
    """When a customer is told their arrival moved (``job.eta``; dispatch/eta_watch.py)."""

    # An expected arrival moved more than this from the one last told is told again.
    notify_min: int = 15
    # The watcher re-times today's plans this often; 0: no watcher in this process.
    poll_s: float = 30.0


@dataclass(frozen=True)
class PlanEventSettings:
    """How ``GET /v1/plans/{id}/events`` follows a run's row (README, "Following a plan run")."""

    # The stream reads the run's row this often and sends an event when it changed.
    poll_s: float = 0.25
    # A keep-alive comment is sent when nothing was sent for this long (proxies close idle streams).
    keepalive_s: float = 15.0


@dataclass(frozen=True)
class Settings:
    """Everything the service needs to start; ``from_env`` documents the variables."""

    database_url: str = "sqlite:///dispatch.db"
    admin_token: str | None = None
    timezone: str = "Europe/Helsinki"
    default_region: str = "helsinki"
    geocoder_url: str = "https://nominatim.openstreetmap.org"
    geocoder_user_agent: str = "furniture-dispatch"
    geocoder_timeout_s: float = 5.0
    # Plan runs solved at once inside each API process (threads on the task queue);
    # 0: the API only enqueues and solver workers (python -m dispatch.worker) solve.
    solver_workers: int = 0
    # The task queue's broker (dispatch/tasks.py); None: the one the database implies.
    broker_url: str | None = None
    # A running plan whose worker has not heartbeaten for this long is taken as lost:
    # tried again once, then failed (dispatch/leases.py).
    plan_lease_s: float = 20.0
    max_time_limit_s: float = 600.0
    seed_samples: bool = True
    # Publishing confirms every visit's window to its customer (a promise) unless the
    # request says otherwise; off: the dispatcher confirms per job or per publish.
    confirm_on_publish: bool = False
    # What time it is for every decision of the service (dispatch/clock.py).
    clock: Clock = field(default_factory=lambda: SYSTEM_CLOCK)
    booking: BookingSettings = field(default_factory=lambda: BookingSettings())
    webhooks: WebhookSettings = field(default_factory=lambda: WebhookSettings())
    eta: EtaSettings = field(default_factory=lambda: EtaSettings())
    plan_events: PlanEventSettings = field(default_factory=lambda: PlanEventSettings())
    # Web origins (scheme://host[:port]) whose pages may call the API from a browser
    # (the ordering system's web shop); none: no cross-origin calls (docs/security.md).
    cors_origins: tuple[str, ...] = ()
    # Failed authentications one client address may make in a minute before it is
    # answered 429 with Retry-After (per API process); 0: no limit.
    auth_failures_per_min: int = 20
    # What a re-plan pays for changing what technicians and customers were told (docs/replan.md).
    stability: Stability = field(default_factory=lambda: Stability())
    sample_day: Path = field(
        default_factory=lambda: Path(__file__).resolve().parents[1] / "data" / "samples" / "helsinki-day.json"
    )

    @classmethod
    def from_env(cls) -> Settings:
        """``DATABASE_URL``, ``DISPATCH_ADMIN_TOKEN``, ``DISPATCH_TIMEZONE``,
        ``GEOCODER_URL``, ``SOLVER_WORKERS`` (solves inside the API; default 0), ``BROKER_URL``,
        ``PLAN_LEASE_S`` (a silent worker's runs are taken over after it),
        ``DISPATCH_SEED_SAMPLES`` (1/0),
        ``BOOKING_URGENT_RESERVE`` (share, e.g. 0.15), ``BOOKING_LEAD_MIN``,
        ``BOOKING_URGENT_DUE_MIN`` (the repair standard, minutes),
        ``DISPATCH_NOW`` (an instant with offset: the clock starts there and runs;
        unset: the real time), ``DISPATCH_CONFIRM_ON_PUBLISH`` (1/0), ``WEBHOOK_POLL_S``, ``WEBHOOK_TIMEOUT_S``,
        ``WEBHOOK_BACKOFF_BASE_S``, ``WEBHOOK_BACKOFF_CAP_S``, ``WEBHOOK_GIVE_UP_AFTER_S``
        (0: never), ``WEBHOOK_DELIVER`` (1/0), ``ETA_NOTIFY_MIN``
        (minutes an arrival must move to be told), ``ETA_POLL_S`` (0: no watcher),
        ``REPLAN_MOVE_EUR``, ``REPLAN_MINUTE_EUR``, ``REPLAN_TOLERANCE_MIN``, ``REPLAN_TOLD_EUR`` (re-plan stability),
        ``DISPATCH_CORS_ORIGINS`` (comma-separated web origins), ``AUTH_FAILURES_PER_MIN`` (0: no limit),
        ``PLAN_EVENTS_POLL_S``, ``PLAN_EVENTS_KEEPALIVE_S`` (how a plan run's event stream follows it).
        A malformed value is a ValueError naming the variable."""
        env = os.environ
        raw_now = env.get("DISPATCH_NOW", "").strip()
        urgent_due_min = _count(env, "BOOKING_URGENT_DUE_MIN", BookingSettings.urgent_deadline_min)
        if urgent_due_min == 0:
            raise ValueError("BOOKING_URGENT_DUE_MIN must be at least 1 (minutes after entry urgent work is due)")
        return cls(
            clock=Clock(parse_instant(raw_now, "DISPATCH_NOW")) if raw_now else SYSTEM_CLOCK,
            database_url=env.get("DATABASE_URL", cls.database_url),
            admin_token=env.get("DISPATCH_ADMIN_TOKEN") or None,
            timezone=env.get("DISPATCH_TIMEZONE", cls.timezone),
            geocoder_url=env.get("GEOCODER_URL", cls.geocoder_url),
            solver_workers=_count(env, "SOLVER_WORKERS", cls.solver_workers),
            broker_url=env.get("BROKER_URL", "").strip() or None,
            plan_lease_s=_seconds(env, "PLAN_LEASE_S", cls.plan_lease_s),
            seed_samples=env.get("DISPATCH_SEED_SAMPLES", "1") != "0",
            confirm_on_publish=_flag(env.get("DISPATCH_CONFIRM_ON_PUBLISH", "0"), "DISPATCH_CONFIRM_ON_PUBLISH"),
            cors_origins=_origins(env.get("DISPATCH_CORS_ORIGINS", "")),
            auth_failures_per_min=int(_seconds(env, "AUTH_FAILURES_PER_MIN", cls.auth_failures_per_min, zero=True)),
            booking=BookingSettings(
                urgent_reserve_share=_share(env, "BOOKING_URGENT_RESERVE", BookingSettings.urgent_reserve_share),
                lead_min=_count(env, "BOOKING_LEAD_MIN", BookingSettings.lead_min),
                urgent_deadline_min=urgent_due_min,
            ),
            stability=Stability(
                move_cents=round(_seconds(env, "REPLAN_MOVE_EUR", Stability.move_cents / 100, zero=True) * 100),
                per_min_cents=round(_seconds(env, "REPLAN_MINUTE_EUR", Stability.per_min_cents / 100, zero=True) * 100),
                tolerance_min=int(_seconds(env, "REPLAN_TOLERANCE_MIN", Stability.tolerance_min, zero=True)),
                told_cents=round(_seconds(env, "REPLAN_TOLD_EUR", Stability.told_cents / 100, zero=True) * 100),
            ),
            eta=EtaSettings(
                notify_min=int(_seconds(env, "ETA_NOTIFY_MIN", EtaSettings.notify_min)),
                poll_s=_seconds(env, "ETA_POLL_S", EtaSettings.poll_s, zero=True),
            ),
            plan_events=PlanEventSettings(
                poll_s=_seconds(env, "PLAN_EVENTS_POLL_S", PlanEventSettings.poll_s),
                keepalive_s=_seconds(env, "PLAN_EVENTS_KEEPALIVE_S", PlanEventSettings.keepalive_s),
            ),
            webhooks=WebhookSettings(
                poll_s=_seconds(env, "WEBHOOK_POLL_S", WebhookSettings.poll_s),
                timeout_s=_seconds(env, "WEBHOOK_TIMEOUT_S", WebhookSettings.timeout_s),
                backoff_base_s=_seconds(env, "WEBHOOK_BACKOFF_BASE_S", WebhookSettings.backoff_base_s),
                backoff_cap_s=_seconds(env, "WEBHOOK_BACKOFF_CAP_S", WebhookSettings.backoff_cap_s),
                give_up_after_s=_seconds(env, "WEBHOOK_GIVE_UP_AFTER_S", WebhookSettings.give_up_after_s, zero=True),
                deliver=env.get("WEBHOOK_DELIVER", "1") != "0",
            ),
        )


def _origins(raw: str) -> tuple[str, ...]:
    """Comma-separated web origins; ValueError naming ``DISPATCH_CORS_ORIGINS`` for one
    that is not ``http(s)://host[:port]`` (no path, no wildcard)."""
    origins = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or "*" in origin:
            raise ValueError(f"DISPATCH_CORS_ORIGINS: {origin!r} is not an origin like https://shop.example.com")
    return origins


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    """A whole number from 0 up from ``env[name]`` (``default`` when unset); ValueError naming ``name``."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ValueError(f"{name} must be a whole number from 0 up, not {raw!r}")
    return int(raw)


def _share(env: Mapping[str, str], name: str, default: float) -> float:
    """A share from 0 up to, not including, 1 from ``env[name]`` (``default`` when unset);
    ValueError naming ``name``."""
    return _number(env, name, default, "a share from 0 up to (not including) 1, such as 0.15", lambda v: 0 <= v < 1)


def _flag(raw: str, name: str) -> bool:
    """A 1/0 (or true/false) environment value; ValueError naming the variable otherwise."""
    value = raw.strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no", ""):
        return False
    raise ValueError(f"{name} must be 1 or 0, not {raw!r}")


def _seconds(env: Mapping[str, str], name: str, default: float, zero: bool = False) -> float:
    """A number of seconds from ``env[name]`` (``default`` when unset; 0 only with ``zero``);
    ValueError naming ``name``."""
    if zero:
        return _number(env, name, default, "a number of seconds from 0 up", lambda v: v >= 0)
    return _number(env, name, default, "a positive number of seconds", lambda v: v > 0)


def _number(env: Mapping[str, str], name: str, default: float, kind: str, accept: Callable[[float], bool]) -> float:
    """A finite number from ``env[name]`` that ``accept`` takes (``default`` when unset);
    else a ValueError saying it must be ``kind``, naming ``name``."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not accept(value):
        raise ValueError(f"{name} must be {kind}, not {raw!r}")
    return value
