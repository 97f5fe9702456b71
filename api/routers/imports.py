"""CSV import of jobs (dispatcher): the good rows are stored, the bad ones listed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile

from api.deps import Dispatcher, SessionDep, StateDep
from api.schemas import ImportErrorOut, ImportOut, Problem
from dispatch import audit, imports
from dispatch.inputs import SERVED_DATES, IsoDate

router = APIRouter(prefix="/v1", tags=["master data"])


@router.post(
    "/jobs/import",
    response_model=ImportOut,
    responses={
        400: {"model": Problem, "description": "The upload is not valid multipart form data"},
        422: {"model": Problem, "description": "Not a jobs CSV (the field is `file`)"},
    },
)
def import_jobs(
    file: Annotated[UploadFile, File(description="The jobs CSV of docs/day-file.md, one job a row")],
    session: SessionDep,
    state: StateDep,
    who: Dispatcher,
    date: Annotated[
        IsoDate | None,
        Query(description="Plan date of rows without a `date` column value; HH:MM times are on it"),
        SERVED_DATES,
    ] = None,
) -> ImportOut:
    """Import jobs from a CSV file. Rows that pass are stored (an existing id is
    replaced); every refused row is listed with its line (header = line 1), the
    column and the reason, and nothing of it is written. Addresses without
    `lat`/`lon` are geocoded."""
    data = file.file.read(imports.MAX_BYTES + 1)
    result = imports.import_jobs(
        session,
        data,
        state.booking,
        geocode=state.geocoder,
        default_date=date,
        now=state.clock.now(),
    )
    detail = {"imported": result.imported, "refused_rows": len({e.line for e in result.errors})}
    audit.record(session, who, audit.JOBS_IMPORTED, file.filename or "jobs.csv", now=state.clock.now(), detail=detail)
    session.commit()
    return ImportOut(
        imported=result.imported,
        job_ids=result.job_ids,
        errors=[ImportErrorOut(line=e.line, field=e.field, message=e.message) for e in result.errors],
    )
