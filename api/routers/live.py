"""The live day: a job's customer-facing status (the ordering system, for the jobs it
booked) and the day as it goes, re-timed from field facts (dispatcher)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.convert import job_status_out, live_day_out
from api.deps import Booker, Dispatcher, IdPath, OptionalDateQuery, RegionQuery, SessionDep, StateDep
from api.schemas import JobStatusOut, LiveDayOut
from dispatch import catalog, eta
from dispatch.inputs import Moment

router = APIRouter(prefix="/v1", tags=["live day"])


@router.get(
    "/jobs/{job_id}/status",
    response_model=JobStatusOut,
    responses={404: {"description": "No such job, or (booking role) not a job this token booked"}},
)
def get_job_status(job_id: IdPath, session: SessionDep, state: StateDep, who: Booker) -> JobStatusOut:
    """Status, promised window, ETA and the technician's first name of one job. A
    booking token sees only the jobs it booked: any other answers 404, as if it did
    not exist."""
    return job_status_out(eta.job_status(session, who, job_id, state.tz, state.clock.now()))


@router.get("/live", response_model=LiveDayOut)
def get_live(
    session: SessionDep,
    state: StateDep,
    _: Dispatcher,
    date: OptionalDateQuery = None,
    region: RegionQuery = None,
    at: Annotated[
        Moment | None,
        Query(description="estimate as of this instant (with offset; default: the service clock's now)"),
    ] = None,
) -> LiveDayOut:
    """The published plan of ``date`` (default: the service's today) and ``region``
    as it goes: per technician each visit's state (done, under_way, next, later),
    planned and actual times, ETA, delay against the plan and whether it is at risk;
    and the open urgent (priority 1) work not in the plan. ``at`` re-times the day as
    of that instant instead of now, from the facts stored so far (it does not hide
    facts recorded with a later time). A region no technician or job has is a 422."""
    catalog.check_filter(session, region, state.settings.default_region)
    day = date or state.clock.today(state.tz)
    now = at if at is not None else state.clock.now()
    found = eta.live_day(session, day, region or state.settings.default_region, state.tz, now)
    return live_day_out(found, state.tz)
