"""Plan runs, versions and publishing (dispatcher)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Path, Request, status
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from api.convert import horizon_out, plan_out, stability_in
from api.deps import DateQuery, Dispatcher, RegionQuery, SessionDep, StateDep
from api.schemas import EditIn, EditOut, EditViolationOut, PlanOut, PlanRequest, PublishIn
from dispatch import audit, catalog, edits, field, planning, runs
from dispatch.auth import still_usable
from dispatch.errors import Invalid, NotFound
from dispatch.reporting import day_kpis

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["plans"])
PlanId = Annotated[int, Path(ge=1, le=2**31 - 1)]  # plans.id is a 32-bit INTEGER in PostgreSQL


@router.post("/plans", status_code=status.HTTP_202_ACCEPTED, response_model=PlanOut)
def post_plan(body: PlanRequest, session: SessionDep, state: StateDep, _: Dispatcher) -> PlanOut:
    """Start a plan run for a date (with ``from``: a re-plan of what is left of it at
    that instant, its changes against the published plan in ``changes``), or for the
    days ``date_from``..``date_to`` in one solve (docs/horizon.md); poll
    GET /v1/plans/{id} for progress."""
    planning.check_time_limit(body.time_limit_s, state.settings.max_time_limit_s)
    if body.from_ is not None and body.from_.astimezone(state.tz).date() != body.date:
        raise Invalid(f"from: a re-plan starts at an instant of its date ({body.date})", "from")
    region = body.region or state.settings.default_region
    catalog.check_region(session, region)
    if body.date_to is not None:
        planning.check_days_not_under_way(session, body.first_day, body.date_to, region)
    stability = None if body.stability is None else stability_in(body.stability, state.settings.stability)
    today = state.clock.today(state.tz)
    if (body.date_to or body.first_day) >= today and field.carry_overdue(session, region, today, state.tz):
        session.commit()  # before the run is queued: its worker reads the days afresh
    plan = state.runner.submit(
        body.first_day, region, body.time_limit_s, body.from_, last_day=body.date_to, stability=stability
    )
    return plan_out(plan, False, state.tz)


@router.get("/plans/{plan_id}", response_model=PlanOut, response_model_by_alias=True)
def get_plan(plan_id: PlanId, session: SessionDep, state: StateDep, _: Dispatcher) -> PlanOut:
    """A plan's status and progress; routes, unassigned jobs and KPIs once done."""
    plan = planning.get_plan(session, plan_id)
    if plan.date_to is not None:
        days = [(day, planning.plan_contents(session, day.id or 0)) for day in planning.horizon_days(session, plan_id)]
        published = bool(days) and all(
            planning.published_plan_id(session, day.date, day.region) == day.id for day, _ in days
        )
        return horizon_out(plan, published, state.tz, days)
    published = planning.published_plan_id(session, plan.date, plan.region) == plan.id
    return plan_out(plan, published, state.tz, planning.plan_contents(session, plan_id))


def current_run(plan_id: PlanId, session: SessionDep) -> runs.RunState:
    """The run state of ``plan_id`` now (404 naming ``plan_id`` when there is no such plan)."""
    state = runs.plan_state(session.connection(), plan_id)
    # The request's session would otherwise keep its pooled connection for the whole
    # stream; the stream reads with short connections of its own.
    session.close()
    if state is None:
        raise NotFound(f"plan {plan_id} does not exist", "plan_id")
    return state


def _read_state(engine: Engine, plan_id: int) -> runs.RunState | None:
    with engine.connect() as connection:
        return runs.plan_state(connection, plan_id)


def _token_usable(engine: Engine, token_id: int | None, now: dt.datetime) -> bool:
    with Session(engine) as session:
        return still_usable(session, token_id, now)


def _state_event(kind: str, state: runs.RunState) -> ServerSentEvent:
    return ServerSentEvent(event=kind, data=state.as_json())


EVENTS_DESCRIPTION = """Follow a plan run without polling: a `text/event-stream` (server-sent events).

* `event: progress` at once with the run's state, then each time it changes. The
  stream reads the run's stored state (every `PLAN_EVENTS_POLL_S`, 0.25 s by
  default), so any API process follows a run whichever process solves it. `data` is JSON:
  `{"id", "status", "phase", "progress", "first_answer_s", "error"}`, the fields of
  the same name of `GET /v1/plans/{id}`. While a run is solved, `progress` never
  goes down.
* A comment line (`: keep-alive`) when nothing was sent for `PLAN_EVENTS_KEEPALIVE_S`
  (15 s by default). The token is checked again as often: a stream whose token was
  revoked or has expired meanwhile closes without `end`.
* `event: end` once the status is `done`, `failed` or `cancelled`, with the same
  `data` as the last `progress`; then the server closes the stream. A stream opened
  on a finished run sends one `progress` and `end` at once.

Events carry no `id`, and `Last-Event-ID` is ignored: every event holds the whole
state, and a stream (re)opened sends the current state first, so a client that
reconnects misses nothing it needs. Fetch the plan itself (routes, unassigned jobs,
KPIs) with `GET /v1/plans/{id}` once `end` says `done`. Polling that endpoint keeps
working as before."""


@router.get(
    "/plans/{plan_id}/events",
    response_class=EventSourceResponse,
    summary="Follow a plan run (server-sent events)",
    description=EVENTS_DESCRIPTION,
    responses={200: {"description": "`progress` events, keep-alive comments, then `end`"}},
)
async def get_plan_events(
    plan_id: PlanId,
    request: Request,
    state: StateDep,
    who: Dispatcher,
    first: Annotated[runs.RunState, Depends(current_run)],
) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events of a plan run: its state at once and on every change, keep-alive
    comments, and ``end`` once it is finished. Stops when the client goes away, and
    (without ``end``) when its token has been revoked or has expired meanwhile."""
    poll_s, keepalive_s = state.settings.plan_events.poll_s, state.settings.plan_events.keepalive_s
    current = first
    try:
        yield _state_event("progress", current)
        last_sent = last_checked = time.monotonic()
        while not current.finished:
            await anyio.sleep(poll_s)
            # uvicorn cancels this generator when the client goes away; a server that only
            # says so when asked is asked here, so the loop never outlives its client.
            if await request.is_disconnected():
                return
            try:
                if time.monotonic() - last_checked >= keepalive_s:
                    now = state.clock.now()
                    if not await anyio.to_thread.run_sync(_token_usable, state.engine, who.token_id, now):
                        log.info("plan %s events: the token was revoked or expired; closing", plan_id)
                        return
                    last_checked = time.monotonic()
                seen = await anyio.to_thread.run_sync(_read_state, state.engine, plan_id)
            except SQLAlchemyError as exc:
                # The client sees the stream close without `end` and can reconnect or poll.
                log.warning("plan %s events: the database could not be read (%s); closing", plan_id, exc)
                return
            if seen is None:
                return
            if seen != current:
                current = seen
                yield _state_event("progress", current)
                last_sent = time.monotonic()
            elif time.monotonic() - last_sent >= keepalive_s:
                yield ServerSentEvent(comment="keep-alive")
                last_sent = time.monotonic()
        yield _state_event("end", current)
    finally:
        log.debug("plan %s events: stream closed (%s)", plan_id, current.status)


@router.get("/plans", response_model=list[PlanOut])
def get_plans(
    session: SessionDep,
    state: StateDep,
    _: Dispatcher,
    date: DateQuery,
    region: RegionQuery = None,
) -> list[PlanOut]:
    """Plan versions of a date, newest first, the published one marked (a region no technician
    or job has: 422)."""
    catalog.check_filter(session, region, state.settings.default_region)
    plans = planning.list_plans(session, date, region)
    current = {(p.date, p.region): planning.published_plan_id(session, p.date, p.region) for p in plans}
    return [plan_out(p, current[(p.date, p.region)] == p.id, state.tz) for p in plans]


@router.post(
    "/plans/{plan_id}/publish",
    response_model=PlanOut,
    responses={409: {"description": "The plan is not done, or no longer holds on the day as it is now"}},
)
def post_publish(
    plan_id: PlanId, session: SessionDep, state: StateDep, who: Dispatcher, body: PublishIn | None = None
) -> PlanOut:
    """Make a done plan the current one of its day (409 for any other status, or when the
    day changed since it was made and the plan no longer keeps its promises). With
    ``confirm_windows`` every visit's window becomes its customer's promise."""
    confirm = body.confirm_windows if body is not None and body.confirm_windows is not None else None
    if confirm is None:
        confirm = state.settings.confirm_on_publish
    target = planning.get_plan(session, plan_id)
    publish = planning.publish_horizon if target.date_to is not None else planning.publish
    plan = publish(
        session,
        plan_id,
        now=state.clock.now(),
        tz=state.tz,
        confirm_windows=confirm,
        notify_min=state.settings.eta.notify_min,
    )
    detail = {"date": plan.date, "date_to": plan.date_to, "region": plan.region, "confirm_windows": confirm}
    audit.record(session, who, audit.PLAN_PUBLISHED, f"plan {plan_id}", now=state.clock.now(), detail=detail)
    session.commit()
    return plan_out(plan, True, state.tz)


@router.post(
    "/plans/{plan_id}/edits",
    response_model=EditOut,
    response_model_by_alias=True,
    responses={
        409: {
            "description": "The plan is not done or is a plan over several days (edit its day plans), "
            "or the edit breaks a hard rule and override is not set"
        },
        404: {"description": "No such plan"},
    },
)
def post_edits(plan_id: PlanId, body: EditIn, session: SessionDep, state: StateDep, who: Dispatcher) -> EditOut:
    """Move visits by hand and lock them: the edited plan is timed and checked against the
    day as it is now (with ``from``, or on a re-plan: what is left of it at that instant,
    with the changes against what was told), and its violations and figures returned. With ``apply`` it is stored
    as a new plan version (409 on a hard violation unless ``override``, which is recorded)."""
    result = edits.edit_plan(
        session,
        plan_id,
        [edits.Move(m.job_id, m.technician_id, m.position) for m in body.moves],
        [edits.Lock(lock.job_id, lock.technician, lock.order, lock.time) for lock in body.locks],
        tz=state.tz,
        now=state.clock.now(),
        apply=body.apply,
        override=body.override,
        by={"role": who.role, "token_id": who.token_id},
        slot_s=state.runner.slot_s,
        at=body.from_,
        stability=state.settings.stability,
        notify_min=state.settings.eta.notify_min,
    )
    if result.plan is not None:
        detail = {"edited_from": plan_id, "moves": len(body.moves), "locks": len(body.locks), "override": body.override}
        subject = f"plan {result.plan.id}"
        audit.record(session, who, audit.PLAN_EDITED, subject, now=state.clock.now(), detail=detail)
        session.commit()
    return EditOut(
        violations=[
            EditViolationOut(
                job_id=v.job_id,
                code=v.code,  # type: ignore[arg-type]
                detail=v.detail,
                technician_id=v.technician_id,
                standing=v.standing,
            )
            for v in result.violations
        ],
        kpis=result.kpis,
        base_kpis=result.base_kpis,
        plan_id=result.plan.id if result.plan is not None else None,
        from_=result.at.astimezone(state.tz) if result.at is not None else None,
        changes=result.changes,
    )


@router.post(
    "/plans/{plan_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PlanOut,
    responses={409: {"description": "The plan is not queued or running"}},
)
def post_cancel(plan_id: PlanId, session: SessionDep, state: StateDep, _: Dispatcher) -> PlanOut:
    """Ask a queued or running plan to stop; it ends as cancelled and changes nothing. The
    answer shows the run as it stands after the request: a queued run is `cancelled`
    already, a running one still `running` until its worker stops it."""
    state.runner.cancel(plan_id)
    return plan_out(planning.get_plan(session, plan_id), False, state.tz)


@router.get("/kpis")
def get_kpis(
    session: SessionDep,
    state: StateDep,
    _: Dispatcher,
    date: DateQuery,
    region: RegionQuery = None,
) -> dict[str, object]:
    """The day's figures: planned (published plan) and reported (status events); a region no
    technician or job has is a 422."""
    catalog.check_filter(session, region, state.settings.default_region)
    return day_kpis(session, date, region or state.settings.default_region, state.tz)
