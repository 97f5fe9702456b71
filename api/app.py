"""The application factory: ``create_app(settings)`` builds everything, nothing at import."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from zoneinfo import ZoneInfo

from fastapi import FastAPI

from api import errors
from api.deps import AppState
from api.routers import booking, clock, disruptions, events, field, imports, live, master, plans, webhooks
from dispatch.auth import ensure_token
from dispatch.booking import BookingService
from dispatch.catalog import Geocoder
from dispatch.db import make_engine, migrate, session_scope
from dispatch.eta_watch import EtaWatch
from dispatch.geocode import CachedGeocoder
from dispatch.planning import PlanRunner
from dispatch.seed import next_day_with_jobs, sample_date, seed_sample_day
from dispatch.settings import Settings
from dispatch.webhooks import DeliveryLoop

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, geocoder: Geocoder | None = None) -> FastAPI:
    """The v1 API over the database of ``settings`` (migrated, and seeded when empty).
    ``geocoder`` places addresses without coordinates; by default a cached
    Nominatim at ``settings.geocoder_url`` (none when that is empty)."""
    cfg = settings or Settings.from_env()
    tz = ZoneInfo(cfg.timezone)
    engine = make_engine(cfg.database_url)
    migrate(engine)
    admin_token = cfg.admin_token or secrets.token_urlsafe(24)
    now = cfg.clock.now()
    today = now.astimezone(tz).date()
    with session_scope(engine) as session:
        ensure_token(session, admin_token, "dispatcher", "admin (DISPATCH_ADMIN_TOKEN)", now=now)
        if cfg.seed_samples and cfg.sample_day.exists():
            day = sample_date(today)
            seed_sample_day(session, cfg.sample_day, tz, cfg.default_region, day=day, now=now)
        first_day = next_day_with_jobs(session, today, cfg.default_region)
    if cfg.admin_token is None:
        print(f"Dispatcher token (set DISPATCH_ADMIN_TOKEN to choose one): {admin_token}", flush=True)
    runner = PlanRunner(
        engine, tz, cfg.solver_workers, cfg.clock, cfg.booking.slot_minutes, cfg.stability, cfg.eta.notify_min
    )
    deliveries = DeliveryLoop(engine, cfg.clock, cfg.webhooks)
    watch = EtaWatch(engine, tz, cfg.clock, cfg.eta)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if cfg.webhooks.deliver:
            deliveries.start()
        watch.start()
        try:
            yield
        finally:
            watch.stop()
            deliveries.stop()
            runner.shutdown()

    app = FastAPI(
        title="Furniture dispatch API",
        version="1.0.0",
        description="Plans, installer job lists and bookings for field installation and repair.",
        lifespan=lifespan,
    )
    if geocoder is None:
        geocoder = CachedGeocoder.from_settings(cfg, engine)
    booking_service = BookingService(tz, cfg.default_region, cfg.booking, geocoder)
    app.state.dispatch = AppState(cfg, engine, runner, tz, geocoder, booking_service, cfg.clock, first_day)
    errors.install(app)
    routers = (master, imports, plans, disruptions, field, booking, live, clock, events, webhooks)
    for module in routers:
        app.include_router(module.router)
    return app
