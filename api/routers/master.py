"""Tokens, technicians and jobs (dispatcher)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlmodel import Session

from api.convert import job_out, technician_out
from api.deps import AppState, Dispatcher, IdPath, OptionalDateQuery, RegionQuery, SessionDep, StateDep
from api.schemas import JobOut, TechnicianOut, TokenOut, TokenRequest
from dispatch import catalog
from dispatch.auth import create_token
from dispatch.inputs import JobIn, TechnicianIn
from dispatch.tables import JobRow

router = APIRouter(prefix="/v1", tags=["master data"])


@router.post("/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenOut)
def post_token(body: TokenRequest, session: SessionDep, state: StateDep, _: Dispatcher) -> TokenOut:
    """Issue a token: installer (bound to one technician) or booking or dispatcher."""
    token = create_token(session, body.role, body.technician_id, body.label, now=state.clock.now())
    session.commit()
    return TokenOut(token=token, role=body.role, technician_id=body.technician_id)


@router.put(
    "/technicians/{technician_id}",
    response_model=TechnicianOut,
    responses={201: {"model": TechnicianOut, "description": "Created"}},
)
def put_technician(
    technician_id: IdPath, body: TechnicianIn, session: SessionDep, state: StateDep, _: Dispatcher, response: Response
) -> TechnicianOut:
    """Create or replace a technician with all their shifts."""
    record, created = catalog.put_technician(
        session, technician_id, body, state.settings.default_region, now=state.clock.now()
    )
    session.commit()
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return technician_out(record)


@router.get("/technicians", response_model=list[TechnicianOut])
def get_technicians(session: SessionDep, _: Dispatcher, region: RegionQuery = None) -> list[TechnicianOut]:
    """All technicians (of one region when given)."""
    return [technician_out(r) for r in catalog.list_technicians(session, region)]


@router.get("/technicians/{technician_id}", response_model=TechnicianOut)
def get_technician(technician_id: IdPath, session: SessionDep, _: Dispatcher) -> TechnicianOut:
    """One technician."""
    return technician_out(catalog.get_technician(session, technician_id))


@router.put(
    "/jobs/{job_id}",
    response_model=JobOut,
    responses={
        201: {"model": JobOut, "description": "Created"},
        409: {"description": "The job is booked and the change would break the promised slot"},
        503: {"description": "The address needs geocoding and the geocoder cannot be reached"},
    },
)
def put_job(
    job_id: IdPath, body: JobIn, session: SessionDep, state: StateDep, _: Dispatcher, response: Response
) -> JobOut:
    """Create or replace a job; an address without a location is geocoded."""
    row, created = state.booking.put_job(session, job_id, body, state.geocoder, state.clock.now())
    session.commit()
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return _job_out(session, row, state)


@router.get("/jobs", response_model=list[JobOut])
def get_jobs(
    session: SessionDep,
    state: StateDep,
    _: Dispatcher,
    date: OptionalDateQuery = None,
    region: RegionQuery = None,
) -> list[JobOut]:
    """Jobs of a date (and region), cancelled ones included with their status."""
    rows = catalog.list_jobs(session, date, region)
    failed = catalog.last_failures(session, rows)
    return [job_out(r, state.tz, failed.get(r.id)) for r in rows]


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: IdPath, session: SessionDep, state: StateDep, _: Dispatcher) -> JobOut:
    """One job, with its last failed visit when it is open again after one."""
    return _job_out(session, catalog.get_job(session, job_id), state)


@router.delete("/jobs/{job_id}", response_model=JobOut)
def delete_job(job_id: IdPath, session: SessionDep, state: StateDep, _: Dispatcher) -> JobOut:
    """Cancel a job: later plans leave it out; its history stays. A booked job's
    capacity is free for new bookings at once."""
    row = state.booking.cancel(session, job_id, state.clock.now())
    session.commit()
    return _job_out(session, row, state)


def _job_out(session: Session, row: JobRow, state: AppState) -> JobOut:
    return job_out(row, state.tz, catalog.last_failures(session, [row]).get(row.id))
