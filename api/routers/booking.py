"""Slot search and bookings (the ordering system; dispatchers may book too)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response, status
from fastapi.responses import JSONResponse

from api.deps import Booker, IdPath, SessionDep, StateDep
from api.errors import REQUIRED_HEADER
from api.schemas import BookingOut, SlotsOut
from dispatch import audit
from dispatch.auth import Principal
from dispatch.inputs import BookingIn, SlotSearchIn
from dispatch.timeutil import from_storage

router = APIRouter(prefix="/v1", tags=["booking"])
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The slot can no longer be kept, or the same key is being booked right now"}
}


def _own(principal: Principal) -> int | None:
    """Whose bookings the caller may see: a booking token its own, a dispatcher all (None)."""
    return principal.token_id if principal.role == "booking" else None


@router.post("/slots/search", response_model=SlotsOut)
def search_slots(body: SlotSearchIn, session: SessionDep, state: StateDep, principal: Booker) -> Any:
    """Windows the working plan can really keep for this job, best first, and the
    ones it cannot with a reason. Every slot offered can be booked at this moment."""
    answer = state.booking.search(session, body, state.clock.now())
    return {
        "slots": [{**s.__dict__, "days": [{"start": a, "end": b} for a, b in s.days]} for s in answer.slots],
        "unavailable": [u.__dict__ for u in answer.unavailable],
    }


@router.post(
    "/bookings",
    status_code=status.HTTP_201_CREATED,
    response_model=BookingOut,
    responses={
        201: {
            "description": "Booked",
            "headers": {
                "Server-Timing": {
                    "description": "Where the booking's time went on the server, in ms: prepare (before the "
                    "day's lock), lock-wait and lock-hold; lock-hold's desc says how the prepared insertion was "
                    "confirmed under the lock (docs/booking.md, 'Booking under contention'). Not on a replay.",
                    "schema": {"type": "string"},
                },
                "Idempotent-Replayed": {
                    "description": "true when this is the stored first answer to the same key",
                    "schema": {"type": "string"},
                },
            },
        },
        **CONFLICT,
        400: {"description": "The Idempotency-Key header is missing"},
    },
)
def post_booking(
    body: BookingIn,
    session: SessionDep,
    state: StateDep,
    principal: Booker,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=200,
            description="Required: a key of your choosing per booking (per booking token); the same key "
            "again answers the first answer instead of booking twice",
            json_schema_extra={REQUIRED_HEADER: True},
        ),
    ] = None,
) -> Any:
    """Book a slot: checked again under the day's lock; 409 when it can no longer
    be kept. The same Idempotency-Key again answers the first answer."""
    result = state.booking.book_and_commit(session, idempotency_key, body, state.clock.now(), principal.token_id)
    if result.replayed:
        replayed = BookingOut.model_validate(result.body).model_dump(mode="json")  # as first answered
        return JSONResponse(replayed, status_code=status.HTTP_201_CREATED, headers={"Idempotent-Replayed": "true"})
    response.status_code = status.HTTP_201_CREATED
    if result.timing is not None:
        response.headers["Server-Timing"] = result.timing.header()
    return result.body


@router.get("/bookings/{job_id}", response_model=BookingOut)
def get_booking(job_id: IdPath, session: SessionDep, state: StateDep, principal: Booker) -> Any:
    """One booking (a booking token sees only the bookings it made)."""
    row = state.booking.get(session, job_id, _own(principal))
    return _booking_out(row, state)


@router.delete("/bookings/{job_id}", response_model=BookingOut)
def delete_booking(job_id: IdPath, session: SessionDep, state: StateDep, principal: Booker) -> Any:
    """Cancel a booking: its capacity is free for other bookings at once. A job that is
    not a booking (of this booking token) is a 404, and nothing is cancelled."""
    state.booking.get(session, job_id, _own(principal))  # refused before anything is written
    state.booking.cancel(session, job_id, state.clock.now(), _own(principal))
    if principal.role == "dispatcher":
        audit.record(session, principal, audit.BOOKING_CANCELLED, f"job {job_id}", now=state.clock.now())
    session.commit()
    row = state.booking.get(session, job_id, None)
    return _booking_out(row, state)


def _booking_out(row: Any, state: Any) -> dict[str, Any]:
    assert row.slot_start is not None and row.slot_end is not None and row.date is not None
    return {
        "job_id": row.job_id,
        "slot": {"start": from_storage(row.slot_start, state.tz), "end": from_storage(row.slot_end, state.tz)},
        "date": row.date,
        "region": row.region,
        "status": row.status,
        "days": (row.response or {}).get("days", []),
    }
