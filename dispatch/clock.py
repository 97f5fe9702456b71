"""The service's one source of "what time is it".

Every decision that depends on the present (booking lead time, the calendar
feed's window, an installer's default day, the sample day's date, the stamps
on stored rows) asks a ``Clock``. By default it is the real time; a clock
started at a given instant (``DISPATCH_NOW``) runs from there at real speed,
for demos, replays and tests of a served API. In-process tests set the time
with time-machine, which the real clock follows.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

UTC = dt.UTC


def _real_now() -> dt.datetime:
    return dt.datetime.now(UTC)


class Clock:
    """Now, in UTC; real time, or real time shifted so that it read ``start`` when created."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("a clock's start needs a UTC offset, e.g. 2026-12-04T07:30:00+02:00")
        self.start = start
        self._offset = (start - _real_now()) if start is not None else dt.timedelta(0)

    def now(self) -> dt.datetime:
        """The current instant, aware, in UTC (the storage convention)."""
        return _real_now() + self._offset

    def today(self, tz: ZoneInfo) -> dt.date:
        """Today's date in ``tz`` (a dispatch area's day, not UTC's)."""
        return self.now().astimezone(tz).date()

    def __repr__(self) -> str:
        return "Clock(real time)" if self.start is None else f"Clock(started at {self.start.isoformat()})"


SYSTEM_CLOCK = Clock()
"""The real time: the default wherever no clock is given."""


def parse_instant(raw: str, name: str) -> dt.datetime:
    """An ISO 8601 instant with an offset (``Z`` allowed), or ValueError naming ``name``."""
    text = raw.strip()
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} must be an ISO 8601 instant such as 2026-12-04T07:30:00+02:00, not {raw!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} needs a UTC offset (e.g. +02:00 or Z): {raw!r}")
    return moment
