"""The application factory: ``create_app(settings)`` builds everything, nothing at import."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from api import errors, security
from api.deps import AppState, known_query
from api.routers import booking, clock, disruptions, events, field, imports, live, master, plans, webhooks
from api.security import FailedAuthLimiter
from dispatch.auth import ensure_bootstrap_token
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


def create_app(
    settings: Settings | None = None, geocoder: Geocoder | None = None, *, prepared: bool = False
) -> FastAPI:
    """The v1 API over the database of ``settings`` (migrated, and seeded when empty).
    ``geocoder`` places addresses without coordinates; by default a cached
    Nominatim at ``settings.geocoder_url`` (none when that is empty).

    Unless ``prepared`` (a worker of ``python -m api``, whose parent did it), the
    dispatcher bootstrap token is stored (``settings.admin_token``, else a new one,
    printed) and any earlier bootstrap token retired; ``ValueError`` naming
    ``DISPATCH_ADMIN_TOKEN`` for a token too short to be safe."""
    cfg = settings or Settings.from_env()
    tz = ZoneInfo(cfg.timezone)
    engine = make_engine(cfg.database_url)
    migrate(engine)
    admin_token = cfg.admin_token or secrets.token_urlsafe(24)
    now = cfg.clock.now()
    today = now.astimezone(tz).date()
    with session_scope(engine) as session:
        if not prepared:
            try:
                ensure_bootstrap_token(session, admin_token, now=now)
            except ValueError as exc:
                raise ValueError(f"DISPATCH_ADMIN_TOKEN: {exc}") from None
            if cfg.seed_samples and cfg.sample_day.exists():
                day = sample_date(today)
                seed_sample_day(session, cfg.sample_day, tz, cfg.default_region, day=day, now=now)
        first_day = next_day_with_jobs(session, today, cfg.default_region)
    if cfg.admin_token is None and not prepared:
        print(f"Dispatcher token (set DISPATCH_ADMIN_TOKEN to choose one): {admin_token}", flush=True)
    runner = PlanRunner.from_settings(engine, cfg, cfg.solver_workers)
    deliveries = DeliveryLoop(engine, cfg.clock, cfg.webhooks)
    watch = EtaWatch(engine, tz, cfg.clock, cfg.eta)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if cfg.webhooks.deliver:
            deliveries.start()
        watch.start()
        runner.start()
        try:
            yield
        finally:
            watch.stop()
            deliveries.stop()
            runner.shutdown()
            engine.dispose()  # the pool's connections close now, not when the app is collected

    # The /docs page's scripts come from the installed package, not a CDN: it works offline.
    app = FastAPIOffline(
        title="Furniture dispatch API",
        version="1.0.0",
        description="Plans, installer job lists and bookings for field installation and repair.",
        lifespan=lifespan,
        dependencies=[Depends(known_query)],
    )
    if geocoder is None:
        geocoder = CachedGeocoder.from_settings(cfg, engine)
    booking_service = BookingService(tz, cfg.default_region, cfg.booking, geocoder, cfg.clock)
    limiter = FailedAuthLimiter(cfg.auth_failures_per_min)
    app.state.dispatch = AppState(cfg, engine, runner, tz, geocoder, booking_service, cfg.clock, first_day, limiter)
    errors.install(app)
    security.install(app, cfg.cors_origins)
    routers = (master, imports, plans, disruptions, field, booking, live, clock, events, webhooks)
    for module in routers:
        app.include_router(module.router)
    app.include_router(clock.probe)
    return app
