"""Conversions between local aware datetimes at the edges and UTC in storage."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

UTC = dt.UTC
WORKING_WEEKDAYS = frozenset(range(5))
"""Monday to Friday (``date.weekday()``): the days the sample technicians work, and
where a revisit goes when no technician's working time says."""


def weekday_from(day: dt.date) -> dt.date:
    """The first working weekday (``WORKING_WEEKDAYS``) on or after ``day``."""
    while day.weekday() not in WORKING_WEEKDAYS:
        day += dt.timedelta(days=1)
    return day


def to_storage(moment: dt.datetime) -> dt.datetime:
    """An aware datetime in UTC."""
    return moment.astimezone(UTC)


def stored_utc(moment: dt.datetime) -> dt.datetime:
    """A stored datetime as an aware one: SQLite hands UTC back without a zone
    (PostgreSQL with one, returned as it is)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def from_storage(moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """A stored datetime (UTC; SQLite hands it back without a zone) in the local zone."""
    return stored_utc(moment).astimezone(tz)


def local_midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """Midnight at the start of ``day`` in ``tz``, aware."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz)
