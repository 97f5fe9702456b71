"""What every answer carries and what every caller is held to (docs/security.md):
security headers, CORS for the ordering system's web origin, and a brake on
repeated failed authentication from one client address."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch.errors import DispatchError

WINDOW_S = 60.0


class TooManyFailures(DispatchError):
    """A client address failed to authenticate too often; it may try again after ``retry_after_s``."""

    status = 429
    title = "Too many failed authentications"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"too many failed authentications from your address; try again in {retry_after_s} s", "Authorization"
        )
        self.headers = {"Retry-After": str(retry_after_s)}


class FailedAuthLimiter:
    """Counts failed authentications per client address over the last minute. Once an
    address has ``per_min`` of them, its requests are refused (``TooManyFailures``) before
    any token is looked at, until the oldest failure is a minute old. Per process: with N
    API processes an address gets at most N × ``per_min`` guesses a minute."""

    def __init__(self, per_min: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_min = per_min
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.get(address)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - WINDOW_S:
            failures.popleft()
        if not failures:
            del self._failures[address]
        return failures

    def check(self, address: str) -> None:
        """Raise ``TooManyFailures`` when ``address`` is held back now."""
        if self.per_min <= 0:
            return
        with self._lock:
            now = self._clock()
            failures = self._recent(address, now)
            if len(failures) >= self.per_min:
                raise TooManyFailures(max(1, math.ceil(failures[0] + WINDOW_S - now)))

    def failed(self, address: str) -> None:
        """Count one failed authentication of ``address``."""
        if self.per_min <= 0:
            return
        with self._lock:
            now = self._clock()
            if len(self._failures) > 100_000:  # a flood of addresses: keep memory bounded
                self._failures.clear()
            self._failures.setdefault(address, deque()).append(now)


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP answer, and ``Cache-Control:
    no-store`` on an answer to an authenticated request that sets no ``Cache-Control`` of
    its own or is an event stream. Written on the ASGI messages rather than as an
    ``@app.middleware("http")`` function, which runs each request in a task of its own
    with streams between (about a millisecond of CPU a request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authenticated = any(name == b"authorization" for name, _ in scope["headers"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if authenticated and (
                    "cache-control" not in headers or headers.get("content-type", "").startswith("text/event-stream")
                ):
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI, cors_origins: tuple[str, ...]) -> None:
    """Security headers on every answer, ``Cache-Control: no-store`` on every answer to
    an authenticated request that does not set its own (``/v1/me/jobs`` revalidates with
    its ETag instead) and on event streams (FastAPI marks them ``no-cache``), and CORS
    for ``cors_origins`` only."""
    app.add_middleware(SecurityHeaders)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-None-Match"],
            expose_headers=["ETag", "Retry-After", "Location"],
            max_age=600,
        )
