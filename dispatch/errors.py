"""Errors the services raise; the API maps each to a 4xx problem (RFC 9457)."""

from __future__ import annotations


class DispatchError(Exception):
    """Base of every expected failure; ``status`` is the HTTP status it maps to."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class NotFound(DispatchError):
    status = 404
    title = "Not found"


class Invalid(DispatchError):
    status = 422
    title = "Invalid input"


class Conflict(DispatchError):
    status = 409
    title = "Conflict"


class Forbidden(DispatchError):
    status = 403
    title = "Forbidden"


class Unavailable(DispatchError):
    """A service this one depends on (the geocoder) could not be reached."""

    status = 503
    title = "Dependency unavailable"
