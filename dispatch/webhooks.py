"""Webhook subscriptions, and delivering the outbox (docs/feed.md).

``feed.emit`` writes one pending ``DeliveryRow`` per subscribed webhook in the
transaction of the change, so a committed change always has its deliveries and
a rolled-back one none. ``deliver_due`` sends what is due, oldest first, one
POST at a time: it *claims* a few deliveries in a short transaction (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL, an immediate transaction on SQLite) by
moving their ``next_attempt_at`` a lease ahead, POSTs them outside any
transaction, then records the answers in one transaction. Another process never
claims a delivery while its lease runs, and a process that dies mid-POST leaves
deliveries that are due again when their leases end: at least once, never twice
at the same time. Two transactions per few deliveries rather than per delivery
keep the loop light beside the API's requests.

``DeliveryLoop`` runs ``deliver_due`` on a thread of the API process (a later
issue moves it to a task engine; ``deliver_due`` is the unit of work).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import idna
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from dispatch.clock import Clock
from dispatch.errors import Invalid, NotFound
from dispatch.feed import EVENT_TYPES, event_json
from dispatch.feed import PENDING as PENDING  # the outbox writes it; re-exported with the other states
from dispatch.settings import WebhookSettings
from dispatch.tables import DeliveryRow, FeedEventRow, WebhookRow
from dispatch.timeutil import stored_utc, to_storage

log = logging.getLogger(__name__)

DELIVERED = "delivered"
FAILED = "failed"
STATES = (PENDING, DELIVERED, FAILED)
MIN_SECRET = 16
MAX_SECRET = 200
MAX_URL = 2000
LEASE_MARGIN_S = 30.0
"""A claimed delivery is not due again for the POST's timeout plus this."""


# ----- subscriptions ---------------------------------------------------------------


def check_url(url: str) -> str:
    """``url`` if it is an absolute http or https URL with a host; ``Invalid`` naming ``url``."""
    if len(url) > MAX_URL or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise Invalid(f"url: an http(s) URL of at most {MAX_URL} characters without spaces", "url")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises on a port that is not a number)
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise Invalid(f"url: not a URL ({exc})", "url") from None
    if parts.scheme not in ("http", "https") or not host:
        raise Invalid("url: must be an absolute http:// or https:// URL with a host", "url")
    if parts.username is not None or parts.password is not None:
        raise Invalid(
            "url: no user name or password in the URL (every dispatcher can list it): a receiver checks "
            "X-Dispatch-Signature, made with the subscription's secret",
            "url",
        )
    if parts.port == 0:
        raise Invalid("url: port 0 is no port a receiver can listen on", "url")
    _check_host(host)
    return url


def _check_host(host: str) -> None:
    """Refuse (``Invalid`` naming ``url``) a host no delivery could reach because it cannot
    be encoded for the network (an empty label, a label over 63 characters, a malformed
    ``xn--`` label): before, such a URL was accepted and every delivery failed until
    given up."""
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    try:
        host.encode("idna")
        idna.encode(host, uts46=True)
    except (UnicodeError, idna.IDNAError) as exc:
        raise Invalid(f"url: {host[:80]!r} is not a host name ({exc})", "url") from None


def subscribe(session: Session, url: str, secret: str, types: Sequence[str], *, now: dt.datetime) -> WebhookRow:
    """A new subscription (flushed, not committed): every feed event of ``types``
    emitted after it commits is POSTed to ``url``, signed with ``secret``. Refused
    naming the field: a URL that is not http(s), a secret shorter than 16 characters,
    no types or an unknown one."""
    check_url(url)
    if not MIN_SECRET <= len(secret) <= MAX_SECRET:
        raise Invalid(f"secret: between {MIN_SECRET} and {MAX_SECRET} characters", "secret")
    if not types:
        raise Invalid(f"types: name at least one of {', '.join(EVENT_TYPES)}", "types")
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        raise Invalid(f"types: unknown {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}", "types")
    row = WebhookRow(url=url, secret=secret, types=sorted(set(types)), created_at=to_storage(now))
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class Subscription:
    """A subscription and how many of its deliveries stand in each state."""

    row: WebhookRow
    counts: dict[str, int]


def list_webhooks(session: Session) -> list[Subscription]:
    """Every subscription, oldest first, with its deliveries counted by state."""
    rows = session.exec(select(WebhookRow).order_by(col(WebhookRow.id))).all()
    counted = session.exec(
        select(DeliveryRow.webhook_id, DeliveryRow.state, func.count()).group_by(
            col(DeliveryRow.webhook_id), col(DeliveryRow.state)
        )
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for webhook_id, state, n in counted:
        counts.setdefault(webhook_id, {})[state] = n
    return [Subscription(r, {s: counts.get(r.id or 0, {}).get(s, 0) for s in STATES}) for r in rows]


def get_webhook(session: Session, webhook_id: int) -> WebhookRow:
    """One subscription (``NotFound`` naming ``webhook_id``)."""
    row = session.get(WebhookRow, webhook_id)
    if row is None:
        raise NotFound(f"webhook {webhook_id} does not exist", "webhook_id")
    return row


def unsubscribe(session: Session, webhook_id: int) -> None:
    """Delete a subscription and its outbox: nothing more is sent to it (a POST under
    way finishes, its answer is not recorded)."""
    row = get_webhook(session, webhook_id)
    for delivery in session.exec(select(DeliveryRow).where(DeliveryRow.webhook_id == webhook_id)).all():
        session.delete(delivery)
    session.flush()
    session.delete(row)
    session.flush()


def deliveries(
    session: Session, webhook_id: int, state: str | None = None, limit: int = 100
) -> list[tuple[DeliveryRow, str]]:
    """A subscription's deliveries, newest first (of one state when given), each with
    its event's type."""
    get_webhook(session, webhook_id)
    if state is not None and state not in STATES:
        raise Invalid(f"state: one of {', '.join(STATES)}", "state")
    query = (
        select(DeliveryRow, FeedEventRow.type)
        .join(FeedEventRow, col(FeedEventRow.id) == col(DeliveryRow.event_id))
        .where(DeliveryRow.webhook_id == webhook_id)
    )
    if state is not None:
        query = query.where(DeliveryRow.state == state)
    rows = session.exec(query.order_by(col(DeliveryRow.id).desc()).limit(limit)).all()
    return [(row, kind) for row, kind in rows]


# ----- sending ---------------------------------------------------------------------


def signature(secret: str, body: bytes) -> str:
    """The ``X-Dispatch-Signature`` of ``body``: ``sha256=`` and the hex HMAC-SHA256 with ``secret``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def event_body(event: FeedEventRow) -> bytes:
    """The body a webhook receives: the event as ``GET /v1/events`` lists it, as compact JSON."""
    return json.dumps(event_json(event), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def backoff_s(attempts: int, settings: WebhookSettings, rng: random.Random | None = None) -> float:
    """How long to wait after the ``attempts``-th failed attempt: doubling from
    ``backoff_base_s`` up to ``backoff_cap_s``, less up to a quarter at random so that
    deliveries that failed together do not all come back at once."""
    exponent = min(max(attempts - 1, 0), 60)
    delay: float = min(settings.backoff_cap_s, settings.backoff_base_s * 2.0**exponent)
    return delay * (1 - 0.25 * (rng or random).random())


@dataclass(frozen=True)
class _Claim:
    delivery_id: int
    webhook_id: int
    url: str
    secret: str
    event_id: int
    body: bytes
    created_at: dt.datetime
    due_at: dt.datetime


@dataclass(frozen=True)
class _Outcome:
    claim: _Claim
    status: int | None
    error: str | None
    at: dt.datetime


def _due(now: dt.datetime, skip: set[int]) -> SelectOfScalar[DeliveryRow]:
    query = select(DeliveryRow).where(DeliveryRow.state == PENDING, DeliveryRow.next_attempt_at <= to_storage(now))
    return query.where(col(DeliveryRow.webhook_id).not_in(skip)) if skip else query


def _claim(engine: Engine, now: dt.datetime, settings: WebhookSettings, skip: set[int], limit: int) -> list[_Claim]:
    """The oldest due pending deliveries (at most ``limit``, of webhooks not in
    ``skip``), each leased to this caller until its POST's timeout has surely passed
    (the n-th of them is sent after at most n - 1 others, each within the timeout);
    none when nothing is due."""
    with Session(engine, expire_on_commit=False) as session:
        if session.exec(_due(now, skip).limit(1)).first() is None:
            return []  # the common case, without taking SQLite's write lock
        session.rollback()
        connection = session.connection()
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            raw = connection.connection.dbapi_connection
            if raw is not None and not getattr(raw, "in_transaction", True):
                connection.exec_driver_sql("BEGIN IMMEDIATE")
        query = _due(now, skip).order_by(col(DeliveryRow.next_attempt_at), col(DeliveryRow.id)).limit(limit)
        if not sqlite:
            query = query.with_for_update(skip_locked=True)
        rows = session.exec(query).all()
        if not rows:
            session.rollback()
            return []
        hooks = {
            h.id: h
            for h in session.exec(select(WebhookRow).where(col(WebhookRow.id).in_({r.webhook_id for r in rows})))
        }
        events = {
            e.id: e
            for e in session.exec(select(FeedEventRow).where(col(FeedEventRow.id).in_({r.event_id for r in rows})))
        }
        claims = []
        for n, delivery in enumerate(rows, start=1):
            hook, event = hooks[delivery.webhook_id], events[delivery.event_id]
            assert delivery.id is not None
            claims.append(
                _Claim(
                    delivery.id,
                    delivery.webhook_id,
                    hook.url,
                    hook.secret,
                    delivery.event_id,
                    event_body(event),
                    delivery.created_at,
                    delivery.next_attempt_at,
                )
            )
            lease_s = n * settings.timeout_s + LEASE_MARGIN_S
            delivery.next_attempt_at = to_storage(now) + dt.timedelta(seconds=lease_s)
            session.add(delivery)
        session.commit()
        return claims


def _post(client: httpx.Client, claim: _Claim, timeout_s: float) -> tuple[int | None, str | None]:
    """Send one delivery: (HTTP status, None) on any answer, (status or None, error) on failure."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "furniture-dispatch-webhooks/1",
        "X-Dispatch-Event-Id": str(claim.event_id),
        "X-Dispatch-Delivery-Id": str(claim.delivery_id),
        "X-Dispatch-Signature": signature(claim.secret, claim.body),
    }
    try:
        response = client.post(claim.url, content=claim.body, headers=headers, timeout=timeout_s)
    except Exception as exc:  # any failure to send (a host name httpx cannot encode too) is a failed attempt
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"[:500]


def _record(engine: Engine, outcomes: list[_Outcome], released: list[_Claim], settings: WebhookSettings) -> None:
    """Store in one transaction how each attempt went (delivered, due again after the
    back-off, or given up), and give the ``released`` claims (not sent) back as they were."""
    ids = [o.claim.delivery_id for o in outcomes] + [c.delivery_id for c in released]
    with Session(engine, expire_on_commit=False) as session:
        rows = {d.id: d for d in session.exec(select(DeliveryRow).where(col(DeliveryRow.id).in_(ids))).all()}
        for claim in released:
            delivery = rows.get(claim.delivery_id)
            if delivery is not None and delivery.state == PENDING:
                delivery.next_attempt_at = claim.due_at
                session.add(delivery)
        for outcome in outcomes:
            delivery = rows.get(outcome.claim.delivery_id)
            if delivery is None or delivery.state != PENDING:  # unsubscribed meanwhile
                continue
            delivery.attempts += 1
            delivery.last_status = outcome.status
            delivery.last_error = outcome.error
            if outcome.error is None:
                delivery.state = DELIVERED
                delivery.delivered_at = to_storage(outcome.at)
            else:
                age_s = (outcome.at - stored_utc(outcome.claim.created_at)).total_seconds()
                if settings.give_up_after_s and age_s >= settings.give_up_after_s:
                    delivery.state = FAILED
                else:
                    delivery.next_attempt_at = to_storage(outcome.at) + dt.timedelta(
                        seconds=backoff_s(delivery.attempts, settings)
                    )
            session.add(delivery)
        session.commit()


CLAIM_BATCH = 10
"""Deliveries claimed (and recorded) per transaction."""


def deliver_due(
    engine: Engine,
    now: dt.datetime,
    settings: WebhookSettings,
    client: httpx.Client,
    limit: int | None = None,
) -> int:
    """Send the deliveries due at ``now`` (at most ``limit``, default the settings'
    batch size), oldest first, one at a time, and record each answer; returns how many
    were sent.

    A 2xx answer delivers; any other answer, or none within ``timeout_s``, is retried
    after ``backoff_s`` (a webhook that failed is not tried again in this call), and
    given up (state failed) once the delivery is ``give_up_after_s`` old. Safe to run
    in several processes at once: deliveries are claimed (``CLAIM_BATCH`` in one
    transaction) before they are sent, and their answers recorded together after."""
    started = time.monotonic()
    skip: set[int] = set()
    sent = 0
    budget = limit or settings.batch_size
    while sent < budget:
        at = now + dt.timedelta(seconds=time.monotonic() - started)
        claims = _claim(engine, at, settings, skip, min(CLAIM_BATCH, budget - sent))
        if not claims:
            break
        outcomes: list[_Outcome] = []
        released: list[_Claim] = []
        for claim in claims:
            if claim.webhook_id in skip:
                released.append(claim)
                continue
            status, error = _post(client, claim, settings.timeout_s)
            sent += 1
            if error is not None:
                skip.add(claim.webhook_id)
                log.info("webhook %s: delivery %s failed: %s", claim.webhook_id, claim.delivery_id, error)
            outcomes.append(_Outcome(claim, status, error, now + dt.timedelta(seconds=time.monotonic() - started)))
        _record(engine, outcomes, released, settings)
    return sent


class DeliveryLoop:
    """``deliver_due`` on a background thread, every ``poll_s`` (at once again when a
    full batch was sent). ``start`` after ``stop`` starts a new thread."""

    def __init__(self, engine: Engine, clock: Clock, settings: WebhookSettings) -> None:
        self.engine = engine
        self.clock = clock
        self.settings = settings
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        """Start delivering (no-op when already running)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(self._stop,), name="webhook-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop and wait for the thread (a POST under way ends within its timeout)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=self.settings.timeout_s + 5)

    def _run(self, stop: threading.Event) -> None:
        with httpx.Client(follow_redirects=False) as client:
            while not stop.is_set():
                try:
                    sent = deliver_due(self.engine, self.clock.now(), self.settings, client)
                except Exception:  # a database hiccup must not end deliveries for good
                    log.exception("webhook delivery round failed")
                    sent = 0
                if sent < self.settings.batch_size:
                    stop.wait(self.settings.poll_s)
