"""Typed dependencies: the app's state, a database session, the caller."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Path, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.security import FailedAuthLimiter
from dispatch.auth import Principal, Role, authenticate
from dispatch.booking import BookingService
from dispatch.catalog import Geocoder
from dispatch.clock import Clock
from dispatch.errors import DispatchError, Forbidden
from dispatch.inputs import ID_PATTERN, NO_NUL, SERVED_DATES, IsoDate
from dispatch.planning import PlanRunner
from dispatch.settings import Settings

IdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
"""A technician or job id in a path."""
RegionQuery = Annotated[str | None, Query(max_length=64, pattern=NO_NUL)]
"""An optional region filter."""
DateQuery = Annotated[IsoDate, Query(description="YYYY-MM-DD"), SERVED_DATES]
"""A date in a query, one the service plans for (the bounds of a plan's date)."""
OptionalDateQuery = Annotated[IsoDate | None, Query(description="YYYY-MM-DD"), SERVED_DATES]
"""An optional date in a query, one the service plans for."""


class Unauthorized(DispatchError):
    status = 401
    title = "Unauthorized"


@dataclass
class AppState:
    """What every request may use; built once by ``create_app``."""

    settings: Settings
    engine: Engine
    runner: PlanRunner
    tz: ZoneInfo
    geocoder: Geocoder | None
    booking: BookingService
    clock: Clock
    # The first day from today on with jobs in the default region, at start-up
    # (the sample day on a freshly seeded database); None when there is none.
    first_day: dt.date | None = None
    auth_limiter: FailedAuthLimiter = field(default_factory=lambda: FailedAuthLimiter(0))


async def known_query(request: Request) -> None:
    """Refuse (422 naming it) a query parameter the route does not take: ignored, a
    misspelt filter (``?technicain=T1``) would look accepted and change nothing; and one
    given more than once (every query parameter takes one value): only the last would
    count, without a word (``?after=5&after=9``)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    taken = _query_names(route)
    unknown = sorted(set(request.query_params) - taken)
    if unknown:
        offer = f"it takes {', '.join(sorted(taken))}" if taken else "it takes none"
        raise RequestValidationError(
            [
                {"loc": ("query", name), "msg": f"unknown query parameter: {offer}", "type": "extra_forbidden"}
                for name in unknown
            ]
        )
    repeated = sorted(name for name in set(request.query_params) if len(request.query_params.getlist(name)) > 1)
    if repeated:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": f"given {len(request.query_params.getlist(name))} times: give it once",
                    "type": "value_error",
                }
                for name in repeated
            ]
        )


def _query_names(route: APIRoute) -> frozenset[str]:
    def walk(dependant: Dependant) -> Iterator[str]:
        yield from (param.alias for param in dependant.query_params)
        for sub in dependant.dependencies:
            yield from walk(sub)

    return frozenset(walk(route.dependant))


async def get_state(request: Request) -> AppState:
    """The app's state (async: nothing to wait for, so no hop to the thread pool)."""
    state: AppState = request.app.state.dispatch
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    """A session per request; endpoints that write commit it themselves."""
    with Session(state.engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
bearer = HTTPBearer(auto_error=False, description="A token from POST /v1/tokens or DISPATCH_ADMIN_TOKEN")


def get_principal(
    request: Request,
    session: SessionDep,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer <token>`` (401 when missing, unknown,
    revoked or expired; 429 with ``Retry-After`` once the client's address sent too many
    wrong tokens in the last minute)."""
    address = request.client.host if request.client is not None else "unknown"
    state.auth_limiter.check(address)
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("missing bearer token", "Authorization")
    principal = authenticate(session, credentials.credentials, state.clock.now())
    if principal is None:
        state.auth_limiter.failed(address)
        raise Unauthorized("unknown, revoked or expired token", "Authorization")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting only callers with one of ``roles`` (403 otherwise)."""

    async def check(principal: PrincipalDep) -> Principal:  # async: pure, no hop to the thread pool
        if principal.role not in roles:
            raise Forbidden(f"this needs the {' or '.join(roles)} role; your token is {principal.role}")
        return principal

    return check


Dispatcher = Annotated[Principal, Depends(require("dispatcher"))]
Installer = Annotated[Principal, Depends(require("installer"))]
FieldUser = Annotated[Principal, Depends(require("dispatcher", "installer"))]
Booker = Annotated[Principal, Depends(require("booking", "dispatcher"))]
