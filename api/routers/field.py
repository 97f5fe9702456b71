"""What installers fetch and report; events are also open to dispatchers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response, status
from pydantic import TypeAdapter

from api.convert import event_out, my_job_out
from api.deps import Dispatcher, FieldUser, IdPath, Installer, OptionalDateQuery, SessionDep, StateDep
from api.etag import none_match, strong_etag
from api.schemas import EventIn, EventOut, MyJobOut
from dispatch import catalog, field

router = APIRouter(prefix="/v1", tags=["installers"])


_MY_JOBS = TypeAdapter(list[MyJobOut])


@router.get(
    "/me/jobs",
    response_model=list[MyJobOut],
    responses={304: {"description": "Not modified: If-None-Match named the current ETag"}},
)
def get_my_jobs(
    session: SessionDep,
    state: StateDep,
    me: Installer,
    date: OptionalDateQuery = None,
    if_none_match: Annotated[str | None, Header(max_length=2000)] = None,
) -> Response:
    """My visits of the published plan of ``date`` (default today), in order, each with
    its status. The answer carries a strong ``ETag``; ``If-None-Match`` with it is a 304."""
    assert me.technician_id is not None
    day = date or state.clock.today(state.tz)
    items = [my_job_out(v, state.tz) for v in field.my_visits(session, me.technician_id, day, state.tz)]
    body = _MY_JOBS.dump_json(items, by_alias=True)
    etag = strong_etag(body)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if none_match(if_none_match, etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.get("/me/calendar.ics", response_class=Response, responses={200: {"content": {"text/calendar": {}}}})
def get_my_calendar(session: SessionDep, state: StateDep, me: Installer) -> Response:
    """My published visits from today on, as an iCalendar feed a phone can subscribe to."""
    assert me.technician_id is not None
    body = field.calendar_feed(session, me.technician_id, state.tz, state.clock.now())
    return Response(body, media_type="text/calendar; charset=utf-8")


@router.post(
    "/jobs/{job_id}/events",
    status_code=status.HTTP_201_CREATED,
    response_model=EventOut,
    responses={
        200: {"model": EventOut, "description": "The same event (job, type, technician, at) was stored before"},
        409: {"description": "The event cannot happen in the job's status (field: type)"},
    },
)
def post_event(
    job_id: IdPath,
    body: EventIn,
    session: SessionDep,
    state: StateDep,
    who: FieldUser,
    response: Response,
) -> EventOut:
    """Report en route / arrived / started / completed / failed (with a reason), moving
    the job's status (installers: own published jobs only). 201 when stored; 200 with
    the stored event when the same event was sent before."""
    recorded = field.record_event(
        session, who, job_id, body.type, body.at, body.note, now=state.clock.now(), tz=state.tz, reason=body.reason
    )
    session.commit()
    response.status_code = status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK
    return event_out(recorded.event, state.tz)


@router.get("/jobs/{job_id}/events", response_model=list[EventOut])
def get_job_events(job_id: IdPath, session: SessionDep, state: StateDep, _: Dispatcher) -> list[EventOut]:
    """What the field reported on a job, oldest first: every visit, a failed first
    visit with its reason included (404 for an unknown job)."""
    catalog.get_job(session, job_id)
    return [event_out(e, state.tz) for e in catalog.job_events(session, job_id)]
