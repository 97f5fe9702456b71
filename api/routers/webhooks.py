"""Webhook subscriptions and their deliveries (dispatcher)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status

from api.convert import delivery_out, webhook_out
from api.deps import Dispatcher, SessionDep, StateDep
from api.schemas import DeliveryOut, WebhookCreatedOut, WebhookIn, WebhookOut
from dispatch import audit, webhooks

router = APIRouter(prefix="/v1", tags=["events"])
WebhookId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("/webhooks", status_code=status.HTTP_201_CREATED, response_model=WebhookCreatedOut)
def post_webhook(body: WebhookIn, session: SessionDep, state: StateDep, who: Dispatcher) -> WebhookCreatedOut:
    """Subscribe ``url`` to the feed events of ``types``: each is POSTed as JSON, signed
    with ``secret`` (``X-Dispatch-Signature: sha256=<hex HMAC-SHA256 of the body>``),
    retried with back-off until a 2xx answer. The secret is never shown again."""
    row = webhooks.subscribe(session, body.url, body.secret, body.types, now=state.clock.now())
    detail = {"url": body.url, "types": sorted(body.types)}
    audit.record(session, who, audit.WEBHOOK_SUBSCRIBED, f"webhook {row.id}", now=state.clock.now(), detail=detail)
    session.commit()
    assert row.id is not None
    return WebhookCreatedOut(id=row.id)


@router.get("/webhooks", response_model=list[WebhookOut])
def get_webhooks(session: SessionDep, state: StateDep, _: Dispatcher) -> list[WebhookOut]:
    """Every subscription (without its secret), with its deliveries counted by state."""
    return [webhook_out(item, state.tz) for item in webhooks.list_webhooks(session)]


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_webhook(webhook_id: WebhookId, session: SessionDep, state: StateDep, who: Dispatcher) -> Response:
    """Unsubscribe: the subscription and its outbox are deleted; nothing more is sent."""
    webhooks.unsubscribe(session, webhook_id)
    audit.record(session, who, audit.WEBHOOK_UNSUBSCRIBED, f"webhook {webhook_id}", now=state.clock.now())
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryOut])
def get_deliveries(
    webhook_id: WebhookId,
    session: SessionDep,
    state: StateDep,
    _: Dispatcher,
    delivery_state: Annotated[Literal["pending", "delivered", "failed"] | None, Query(alias="state")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryOut]:
    """A subscription's deliveries, newest first: state, attempts, the last answer or
    error, and when the next attempt is due."""
    rows = webhooks.deliveries(session, webhook_id, delivery_state, limit)
    return [delivery_out(row, kind, state.tz) for row, kind in rows]
