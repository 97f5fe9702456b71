"""The service's time: one clock for every client (the board's default day, phones)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import PrincipalDep, StateDep
from api.schemas import ClockOut

router = APIRouter(prefix="/v1", tags=["service"])


@router.get("/clock", response_model=ClockOut)
def get_clock(state: StateDep, _: PrincipalDep) -> ClockOut:
    """Now and today's date in the dispatch time zone, as the service counts them
    (any role): "today" for an installer's job list, the calendar feed and booking lead times."""
    now = state.clock.now().astimezone(state.tz)
    return ClockOut(now=now, today=now.date(), timezone=state.settings.timezone)
