"""API tokens with roles. Only a token's SHA-256 is stored; tokens are random
256-bit strings, so a fast hash is enough (no password stretching needed)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, col, select

from dispatch.db import give_back
from dispatch.errors import Conflict, Invalid, NotFound
from dispatch.tables import TechnicianRow, TokenRow
from dispatch.timeutil import from_storage, to_storage

Role = Literal["dispatcher", "installer", "booking"]
ROLES: tuple[Role, ...] = ("dispatcher", "installer", "booking")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role, and for an installer the technician they are."""

    role: Role
    technician_id: str | None = None
    token_id: int | None = None


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


MIN_TOKEN_LENGTH = 16
"""The shortest bootstrap token accepted (issued tokens have 43 characters)."""
MAX_EXPIRY_DAYS = 3650
USE_RESOLUTION_S = 60
"""``last_used_at`` is written at most this often per token (a read of the token is
on every request; a write on each would be one more transaction per request)."""
BOOTSTRAP_LABEL = "admin (DISPATCH_ADMIN_TOKEN)"
_UTC = ZoneInfo("UTC")


def create_token(
    session: Session,
    role: Role,
    technician_id: str | None = None,
    label: str = "",
    *,
    now: dt.datetime,
    expires_in_days: int | None = None,
) -> tuple[str, TokenRow]:
    """A new token for ``role``, created ``now`` (an installer token is bound to one
    technician), refused from ``expires_in_days`` days later when given; the secret
    (shown once, never stored) and its stored row (flushed)."""
    if role == "installer":
        if technician_id is None:
            raise Invalid("technician_id: required for an installer token", "technician_id")
        if session.get(TechnicianRow, technician_id) is None:
            raise Invalid(f"technician_id: technician {technician_id} does not exist", "technician_id")
    elif technician_id is not None:
        raise Invalid(f"technician_id: only an installer token is bound to a technician, not {role}", "technician_id")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise Invalid(f"expires_in_days: between 1 and {MAX_EXPIRY_DAYS}", "expires_in_days")
    token = secrets.token_urlsafe(32)
    row = TokenRow(
        token_hash=hash_token(token),
        role=role,
        technician_id=technician_id,
        label=label,
        created_at=to_storage(now),
        expires_at=to_storage(now + dt.timedelta(days=expires_in_days)) if expires_in_days is not None else None,
    )
    session.add(row)
    session.flush()
    return token, row


def ensure_bootstrap_token(session: Session, token: str, *, now: dt.datetime) -> None:
    """Make ``token`` (``DISPATCH_ADMIN_TOKEN``, or the one generated at start) the
    dispatcher bootstrap token: stored when new, working again if it had been revoked
    (whoever starts the service decides), and every other bootstrap token revoked, so
    rotating the variable retires the old one. ``ValueError`` for a token shorter than
    ``MIN_TOKEN_LENGTH``."""
    if len(token) < MIN_TOKEN_LENGTH or any(ch.isspace() for ch in token):
        raise ValueError(f"at least {MIN_TOKEN_LENGTH} characters without spaces, not {len(token)}")
    digest = hash_token(token)
    found = session.exec(select(TokenRow).where(TokenRow.token_hash == digest)).first()
    if found is None:
        session.add(TokenRow(token_hash=digest, role="dispatcher", label=BOOTSTRAP_LABEL, created_at=to_storage(now)))
    elif found.revoked_at is not None or found.expires_at is not None:
        found.revoked_at = None
        found.expires_at = None
        session.add(found)
    for old in session.exec(
        select(TokenRow).where(
            TokenRow.label == BOOTSTRAP_LABEL, TokenRow.token_hash != digest, col(TokenRow.revoked_at).is_(None)
        )
    ).all():
        old.revoked_at = to_storage(now)
        session.add(old)


def usable(row: TokenRow, now: dt.datetime) -> bool:
    """Whether a stored token is accepted at ``now``: not revoked, not expired."""
    if row.revoked_at is not None:
        return False
    return row.expires_at is None or from_storage(row.expires_at, _UTC) > now


def still_usable(session: Session, token_id: int | None, now: dt.datetime) -> bool:
    """Whether the token ``token_id`` (a principal's, authenticated earlier) is still
    accepted at ``now``: for a long answer, such as an event stream, to stop serving a
    token revoked or expired since the request began. Reads only; None (no stored
    token) is never usable."""
    row = session.get(TokenRow, token_id) if token_id is not None else None
    return row is not None and row.role in ROLES and usable(row, now)


def authenticate(session: Session, token: str, now: dt.datetime) -> Principal | None:
    """The principal a token stands for at ``now``, or None for an unknown, revoked or
    expired token. Its ``last_used_at`` is brought up to ``now`` in a transaction of its
    own when it is older than ``USE_RESOLUTION_S``; the caller's read transaction is
    ended first (it is the request's first read), so a request never holds two pooled
    connections at once: a burst of tokens used for the first time cannot exhaust the pool."""
    row = session.exec(select(TokenRow).where(TokenRow.token_hash == hash_token(token))).first()
    if row is None or row.role not in ROLES or not usable(row, now):
        return None
    principal = Principal(row.role, row.technician_id, row.id)
    last = from_storage(row.last_used_at, _UTC) if row.last_used_at is not None else None
    if last is None or (now - last).total_seconds() >= USE_RESOLUTION_S:
        give_back(session)
        with Session(session.get_bind()) as own:
            used = col(TokenRow.last_used_at)
            own.execute(
                update(TokenRow)
                .where(col(TokenRow.id) == principal.token_id, used.is_(None) | (used < to_storage(now)))
                .values(last_used_at=to_storage(now))
            )
            own.commit()
    return principal


def list_tokens(session: Session) -> list[TokenRow]:
    """Every token ever issued (revoked and expired ones too), oldest first."""
    return list(session.exec(select(TokenRow).order_by(col(TokenRow.id))).all())


def revoke_token(session: Session, token_id: int, *, now: dt.datetime) -> TokenRow:
    """Revoke a token at ``now`` (``NotFound`` naming ``token_id``): it is refused from the
    next request on, by every process, since every request reads the token's row.
    Revoking a revoked token keeps its first revocation. The last dispatcher token still
    working is not revoked (``Conflict`` naming ``token_id``): nobody could issue another."""
    row = session.get(TokenRow, token_id)
    if row is None:
        raise NotFound(f"token {token_id} does not exist", "token_id")
    if row.role == "dispatcher" and usable(row, now) and not _other_dispatcher(session, token_id, now):
        raise Conflict(
            f"token {token_id} is the only dispatcher token still working: revoking it would lock every "
            "dispatcher out until the service is restarted. Issue another dispatcher token first",
            "token_id",
        )
    if row.revoked_at is None:
        row.revoked_at = to_storage(now)
        session.add(row)
        session.flush()
    return row


def _other_dispatcher(session: Session, token_id: int, now: dt.datetime) -> bool:
    """Whether a dispatcher token other than ``token_id`` is accepted at ``now``."""
    others = select(TokenRow).where(
        TokenRow.role == "dispatcher", col(TokenRow.id) != token_id, col(TokenRow.revoked_at).is_(None)
    )
    return any(usable(row, now) for row in session.exec(others))
