"""Strong ETags over response bodies and ``If-None-Match`` (RFC 9110, 8.8.3 and 13.1.2)."""

from __future__ import annotations

import hashlib


def strong_etag(body: bytes) -> str:
    """A strong entity tag of ``body``: its SHA-256, quoted."""
    return '"' + hashlib.sha256(body).hexdigest() + '"'


def none_match(if_none_match: str | None, etag: str) -> bool:
    """True when ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 asks for
    this header) or is ``*``: the client's copy is current."""
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)
