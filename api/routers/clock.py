"""The service's time: one clock for every client (the board's default day, phones);
and the liveness probe of one API process."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import PrincipalDep, StateDep
from api.schemas import ClockOut, HealthOut

router = APIRouter(prefix="/v1", tags=["service"])
probe = APIRouter(tags=["service"])


@probe.get("/health", response_model=HealthOut)
async def get_health() -> HealthOut:
    """Liveness of this API process, for a load balancer in front of several: no token,
    no database, no work (async: answered on the event loop). A process that answers
    serves HTTP; whether its database is reachable shows on any ``/v1`` call."""
    return HealthOut(status="ok")


@router.get("/clock", response_model=ClockOut)
def get_clock(state: StateDep, _: PrincipalDep) -> ClockOut:
    """Now and today's date in the dispatch time zone, as the service counts them
    (any role): "today" for an installer's job list, the calendar feed and booking lead times;
    and the repair standard that urgent work entered now is due by."""
    now = state.clock.now().astimezone(state.tz)
    return ClockOut(
        now=now,
        today=now.date(),
        timezone=state.settings.timezone,
        urgent_due_min=state.booking.settings.urgent_deadline_min,
    )
