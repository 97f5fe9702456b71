"""Tokens, technicians and jobs (dispatcher)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from sqlmodel import Session

from api.convert import audit_entry_out, job_out, technician_out, token_info_out, working_day_out
from api.deps import AppState, DateQuery, Dispatcher, IdPath, OptionalDateQuery, RegionQuery, SessionDep, StateDep
from api.schemas import (
    AuditPageOut,
    JobOut,
    TechnicianOut,
    TokenInfoOut,
    TokenOut,
    TokenRequest,
    WorkingDayOut,
)
from dispatch import audit, auth, catalog
from dispatch.inputs import JobIn, TechnicianIn
from dispatch.tables import JobRow
from dispatch.timeutil import from_storage

router = APIRouter(prefix="/v1", tags=["master data"])
TokenId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenOut)
def post_token(body: TokenRequest, session: SessionDep, state: StateDep, who: Dispatcher) -> TokenOut:
    """Issue a token: installer (bound to one technician) or booking or dispatcher,
    refused from ``expires_in_days`` days on when given. The secret is shown this once."""
    now = state.clock.now()
    token, row = auth.create_token(
        session, body.role, body.technician_id, body.label, now=now, expires_in_days=body.expires_in_days
    )
    detail = {"role": body.role, "technician_id": body.technician_id, "expires_at": row.expires_at}
    audit.record(session, who, audit.TOKEN_ISSUED, f"token {row.id}", now=now, detail=detail)
    session.commit()
    assert row.id is not None
    return TokenOut(
        token=token,
        id=row.id,
        role=body.role,
        technician_id=body.technician_id,
        expires_at=from_storage(row.expires_at, state.tz) if row.expires_at is not None else None,
    )


@router.get("/tokens", response_model=list[TokenInfoOut])
def get_tokens(session: SessionDep, state: StateDep, _: Dispatcher) -> list[TokenInfoOut]:
    """Every token issued, oldest first, revoked and expired ones too (never a secret)."""
    return [token_info_out(row, state.tz, state.clock.now()) for row in auth.list_tokens(session)]


@router.delete(
    "/tokens/{token_id}",
    response_model=TokenInfoOut,
    responses={409: {"description": "The token is the last dispatcher token still working"}},
)
def delete_token(token_id: TokenId, session: SessionDep, state: StateDep, who: Dispatcher) -> TokenInfoOut:
    """Revoke a token: every API process refuses it from the next request on (404 for an
    unknown id). Revoking your own token ends your access too; the last dispatcher token
    still working is kept (409): nobody could issue another."""
    now = state.clock.now()
    row = auth.revoke_token(session, token_id, now=now)
    audit.record(session, who, audit.TOKEN_REVOKED, f"token {token_id}", now=now, detail={"role": row.role})
    session.commit()
    return token_info_out(row, state.tz, now)


@router.get("/audit", response_model=AuditPageOut)
def get_audit(
    session: SessionDep,
    state: StateDep,
    _: Dispatcher,
    after: Annotated[str | None, Query(max_length=20, description="The `next` of an earlier answer")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPageOut:
    """Dispatcher actions after the cursor ``after``, oldest first: who (the token, its role
    and label), what, to what, when. Ask again with ``next`` for what came since."""
    page = audit.entries_after(session, after, limit)
    return AuditPageOut(entries=[audit_entry_out(e, state.tz) for e in page.entries], next=page.next)


@router.put(
    "/technicians/{technician_id}",
    response_model=TechnicianOut,
    responses={201: {"model": TechnicianOut, "description": "Created"}},
)
def put_technician(
    technician_id: IdPath, body: TechnicianIn, session: SessionDep, state: StateDep, who: Dispatcher, response: Response
) -> TechnicianOut:
    """Create or replace a technician with all their shifts, weekly template (``week``)
    and absences; an explicit shift overrides the template on its date, and an absence
    a planned day cannot honour is refused naming it (docs/working-time.md)."""
    now = state.clock.now()
    record, created = catalog.put_technician(
        session, technician_id, body, state.settings.default_region, state.tz, now=now
    )
    detail = {"created": created, "shifts": len(body.shifts), "absences": len(body.absences)}
    audit.record(session, who, audit.TECHNICIAN_SAVED, f"technician {technician_id}", now=now, detail=detail)
    session.commit()
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return technician_out(record, state.tz)


@router.get("/technicians", response_model=list[TechnicianOut])
def get_technicians(
    session: SessionDep, state: StateDep, _: Dispatcher, region: RegionQuery = None
) -> list[TechnicianOut]:
    """All technicians (of one region when given)."""
    return [technician_out(r, state.tz) for r in catalog.list_technicians(session, region)]


@router.get("/technicians/{technician_id}", response_model=TechnicianOut)
def get_technician(technician_id: IdPath, session: SessionDep, state: StateDep, _: Dispatcher) -> TechnicianOut:
    """One technician."""
    return technician_out(catalog.get_technician(session, technician_id), state.tz)


@router.get("/working-time", response_model=list[WorkingDayOut])
def get_working_time(
    session: SessionDep,
    state: StateDep,
    _: Dispatcher,
    date_from: DateQuery,
    date_to: DateQuery,
    region: RegionQuery = None,
) -> list[WorkingDayOut]:
    """Each technician's working time on each date from ``date_from`` to ``date_to`` (at
    most 31 dates; the default region unless given), by date and technician: the date's
    explicit shift, else the weekly template's weekday, less absences, as plan runs and
    slot search see it (docs/working-time.md). A technician off that day has no entry."""
    days = catalog.working_days(session, date_from, date_to, region or state.settings.default_region, state.tz)
    return [working_day_out(day, state.tz) for day in days]


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
    job_id: IdPath, body: JobIn, session: SessionDep, state: StateDep, who: Dispatcher, response: Response
) -> JobOut:
    """Create or replace a job; an address without a location is geocoded."""
    now = state.clock.now()
    row, created = state.booking.put_job(session, job_id, body, state.geocoder, now)
    detail = {"created": created, "date": row.date, "confirmed": row.confirmed}
    audit.record(session, who, audit.JOB_SAVED, f"job {job_id}", now=now, detail=detail)
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
    """Jobs of a date (and region), cancelled ones included with their status (a region no
    technician or job has: 422)."""
    catalog.check_filter(session, region, state.settings.default_region)
    rows = catalog.list_jobs(session, date, region)
    failed = catalog.last_failures(session, rows)
    return [job_out(r, state.tz, failed.get(r.id)) for r in rows]


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: IdPath, session: SessionDep, state: StateDep, _: Dispatcher) -> JobOut:
    """One job, with its last failed visit when it is open again after one."""
    return _job_out(session, catalog.get_job(session, job_id), state)


@router.delete("/jobs/{job_id}", response_model=JobOut)
def delete_job(job_id: IdPath, session: SessionDep, state: StateDep, who: Dispatcher) -> JobOut:
    """Cancel a job: it is kept, with status `cancelled` and its history, and later plans
    leave it out. A booked job's capacity is free for new bookings at once."""
    row = state.booking.cancel(session, job_id, state.clock.now())
    audit.record(session, who, audit.JOB_CANCELLED, f"job {job_id}", now=state.clock.now())
    session.commit()
    return _job_out(session, row, state)


def _job_out(session: Session, row: JobRow, state: AppState) -> JobOut:
    return job_out(row, state.tz, catalog.last_failures(session, [row]).get(row.id))
