"""Disruptions of a day (dispatcher): recorded, in the feed, taken in by re-plans."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from api.convert import disruption_out
from api.deps import DateQuery, Dispatcher, RegionQuery, SessionDep, StateDep
from api.schemas import DisruptionOut
from dispatch import audit, catalog, mapping, replan
from dispatch.inputs import DisruptionIn

router = APIRouter(prefix="/v1", tags=["re-planning"])

DisruptionId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post(
    "/disruptions",
    status_code=status.HTTP_201_CREATED,
    response_model=DisruptionOut,
    responses={
        200: {"description": "The same disruption is in effect already (a retry): that one, stored once"},
        404: {"description": "The technician or job does not exist (field named)"},
    },
)
def post_disruption(
    body: DisruptionIn, response: Response, session: SessionDep, state: StateDep, who: Dispatcher
) -> DisruptionOut:
    """Record a technician unavailable, a job overrunning or a technician running late;
    it appears in the event feed, and every re-plan of its day takes it in
    (``POST /v1/plans`` with ``from``). The same disruption sent again while the first
    is in effect answers 200 with that one, stored and told once."""
    now = state.clock.now()
    recorded = replan.record_disruption(session, body, state.settings.default_region, state.tz, now)
    row = recorded.row
    if not recorded.created:
        response.status_code = status.HTTP_200_OK
        return disruption_out(row, state.tz)
    detail = {"type": row.type, "date": row.date, "technician_id": row.technician_id, "job_id": row.job_id}
    audit.record(session, who, audit.DISRUPTION_RECORDED, f"disruption {row.id}", now=now, detail=detail)
    session.commit()
    return disruption_out(row, state.tz)


@router.get("/disruptions", response_model=list[DisruptionOut])
def get_disruptions(
    session: SessionDep, state: StateDep, _: Dispatcher, date: DateQuery, region: RegionQuery = None
) -> list[DisruptionOut]:
    """The disruptions recorded for a day, oldest first (a region no technician or job has: 422)."""
    catalog.check_filter(session, region, state.settings.default_region)
    rows = mapping.disruptions_of(session, date, region or state.settings.default_region)
    return [disruption_out(r, state.tz) for r in rows]


@router.delete(
    "/disruptions/{disruption_id}",
    response_model=DisruptionOut,
    responses={
        404: {"description": "No such disruption (field: disruption_id)"},
        409: {"description": "A later disruption replaced it: it has no effect to withdraw (field: disruption_id)"},
    },
)
def delete_disruption(
    disruption_id: DisruptionId, session: SessionDep, state: StateDep, who: Dispatcher
) -> DisruptionOut:
    """Withdraw a disruption recorded by mistake: its day is planned, booked and shown as
    if it had never been recorded, and the feed tells it (``withdrawn: true``). Answers
    the disruption as it was. One a later disruption replaced is a 409 naming the one in effect."""
    now = state.clock.now()
    row = replan.withdraw_disruption(session, disruption_id, state.tz, now)
    detail = {"type": row.type, "date": row.date, "technician_id": row.technician_id, "job_id": row.job_id}
    audit.record(session, who, audit.DISRUPTION_WITHDRAWN, f"disruption {disruption_id}", now=now, detail=detail)
    out = disruption_out(row, state.tz)
    session.commit()
    return out
