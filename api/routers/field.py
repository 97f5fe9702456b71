"""What installers fetch and report; events are also open to dispatchers."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.convert import event_out, my_job_out
from api.deps import FieldUser, IdPath, Installer, OptionalDateQuery, SessionDep, StateDep
from api.schemas import EventIn, EventOut, MyJobOut
from dispatch import field

router = APIRouter(prefix="/v1", tags=["installers"])


@router.get("/me/jobs", response_model=list[MyJobOut])
def get_my_jobs(session: SessionDep, state: StateDep, me: Installer, date: OptionalDateQuery = None) -> list[MyJobOut]:
    """My visits of the published plan of ``date`` (default today), in order."""
    assert me.technician_id is not None
    day = date or state.clock.today(state.tz)
    return [my_job_out(v, state.tz) for v in field.my_visits(session, me.technician_id, day)]


@router.get("/me/calendar.ics", response_class=Response, responses={200: {"content": {"text/calendar": {}}}})
def get_my_calendar(session: SessionDep, state: StateDep, me: Installer) -> Response:
    """My published visits from today on, as an iCalendar feed a phone can subscribe to."""
    assert me.technician_id is not None
    body = field.calendar_feed(session, me.technician_id, state.tz, state.clock.now())
    return Response(body, media_type="text/calendar; charset=utf-8")


@router.post("/jobs/{job_id}/events", status_code=status.HTTP_201_CREATED, response_model=EventOut)
def post_event(
    job_id: IdPath,
    body: EventIn,
    session: SessionDep,
    state: StateDep,
    who: FieldUser,
) -> EventOut:
    """Report en route / arrived / completed / failed (installers: own published jobs only)."""
    row = field.record_event(session, who, job_id, body.type, body.at, body.note, now=state.clock.now())
    session.commit()
    return event_out(row, state.tz)
