"""API tokens with roles. Only a token's SHA-256 is stored; tokens are random
256-bit strings, so a fast hash is enough (no password stretching needed)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

from sqlmodel import Session, select

from dispatch.errors import Invalid
from dispatch.tables import TechnicianRow, TokenRow

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


def create_token(
    session: Session, role: Role, technician_id: str | None = None, label: str = "", *, now: dt.datetime
) -> str:
    """A new token for ``role``, created ``now`` (an installer token is bound to one technician)."""
    if role == "installer":
        if technician_id is None:
            raise Invalid("technician_id: required for an installer token", "technician_id")
        if session.get(TechnicianRow, technician_id) is None:
            raise Invalid(f"technician_id: technician {technician_id} does not exist", "technician_id")
    elif technician_id is not None:
        raise Invalid(f"technician_id: only an installer token is bound to a technician, not {role}", "technician_id")
    token = secrets.token_urlsafe(32)
    session.add(
        TokenRow(token_hash=hash_token(token), role=role, technician_id=technician_id, label=label, created_at=now)
    )
    return token


def ensure_token(session: Session, token: str, role: Role, label: str, *, now: dt.datetime) -> None:
    """Store a known token (the admin bootstrap token), created ``now``, if it is not stored yet."""
    digest = hash_token(token)
    if session.exec(select(TokenRow).where(TokenRow.token_hash == digest)).first() is None:
        session.add(TokenRow(token_hash=digest, role=role, label=label, created_at=now))


def authenticate(session: Session, token: str) -> Principal | None:
    """The principal a token stands for, or None for an unknown token."""
    row = session.exec(select(TokenRow).where(TokenRow.token_hash == hash_token(token))).first()
    if row is None or row.role not in ROLES:
        return None
    return Principal(row.role, row.technician_id, row.id)
