"""The event feed: what changed, for whom (every role, each seeing its own)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.deps import PrincipalDep, SessionDep
from api.schemas import FeedPageOut
from dispatch import feed

router = APIRouter(prefix="/v1", tags=["events"])


@router.get("/events", response_model=FeedPageOut)
def get_events(
    session: SessionDep,
    principal: PrincipalDep,
    after: Annotated[str | None, Query(max_length=40, description="the `next` of an earlier answer")] = None,
    limit: Annotated[int, Query(ge=1, le=feed.MAX_LIMIT)] = 100,
) -> JSONResponse:
    """Events after the cursor ``after`` (from the beginning without it), oldest first:
    job status, windows, assignments, ETAs and published plans. A dispatcher sees
    every event, the booking role those of jobs it booked, an installer their own.
    Ask again with ``next``: no event is skipped or repeated."""
    page = feed.events_after(session, principal, after, limit)
    # The events exactly as a webhook receives them (feed.event_json), not re-serialized.
    return JSONResponse({"events": [feed.event_json(row) for row in page.events], "next": page.next})
