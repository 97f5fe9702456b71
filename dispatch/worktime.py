"""Working time (docs/working-time.md): which shift a technician has on a date, and
what their absences leave of it.

- ``shift_on``: the explicit shift of the date, else the weekly template's weekday.
- ``Away``: an absence on a day's clock (seconds since the date's local midnight).
- ``honour``: a technician's day with their absences taken out: none when an absence
  covers the shift (a holiday, a day off); a later start or an earlier end when it
  touches the start or the end; a fixed pause for a few hours inside the shift, merged
  with the lunch (or holding it, apart from its window). What the engine's one pause a
  day cannot hold (a second pause) is refused
  (``Invalid`` naming the absence) rather than ignored.

The engine (``solver``) knows one ``Shift`` with one lunch ``Break`` per technician and
day; this module is where absences become that shape, for every caller of
``dispatch.mapping.technicians_on`` (plan runs, slot search and booking, re-plans).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from dispatch.errors import Invalid
from dispatch.tables import ShiftRow, WeekShiftRow
from solver import Break, Shift, Technician


@dataclass(frozen=True)
class Away:
    """An absence on one day's clock, from ``from_s`` until ``until_s`` (seconds since
    the date's local midnight; either may lie outside the day), and the input field it
    came from (``absences.3``), named when it cannot be honoured."""

    from_s: int
    until_s: int
    field: str = "absences"


@dataclass(frozen=True)
class WorkingDay:
    """A technician's working time on one date as people read it: aware start and end,
    the day's one pause (the lunch, or an absence with the lunch merged in) to start
    between ``pause_earliest`` and ``pause_latest`` for ``pause_min`` minutes, the
    overtime allowed, and the minutes of work the day holds (no overtime)."""

    date: dt.date
    technician_id: str
    start: dt.datetime
    end: dt.datetime
    pause_earliest: dt.datetime | None
    pause_latest: dt.datetime | None
    pause_min: int
    max_overtime_min: int

    @property
    def minutes(self) -> int:
        """Minutes of work: from start to end less the pause."""
        return int((self.end - self.start).total_seconds()) // 60 - self.pause_min


def working_day(day: dt.date, tech: Technician, midnight: dt.datetime) -> WorkingDay:
    """``tech``'s day (after ``honour``) on ``day``, whose clock starts at ``midnight``."""

    def at(seconds: int) -> dt.datetime:
        return midnight + dt.timedelta(seconds=seconds)

    lunch = tech.shift.lunch
    return WorkingDay(
        date=day,
        technician_id=tech.id,
        start=at(tech.shift.start_s),
        end=at(tech.shift.end_s),
        pause_earliest=at(lunch.earliest_s) if lunch is not None else None,
        pause_latest=at(lunch.latest_s) if lunch is not None else None,
        pause_min=lunch.duration_s // 60 if lunch is not None else 0,
        max_overtime_min=tech.max_overtime_s // 60,
    )


def shift_on(day: dt.date, explicit: ShiftRow | None, week: Mapping[int, WeekShiftRow]) -> ShiftRow | None:
    """The shift of ``day``: its explicit shift, else the template's shift of that
    weekday (as an unsaved ``ShiftRow`` of the date), else None (not working)."""
    if explicit is not None:
        return explicit
    template = week.get(day.isoweekday())
    if template is None:
        return None
    return ShiftRow(
        technician_id=template.technician_id,
        date=day,
        start_min=template.start_min,
        end_min=template.end_min,
        break_earliest_min=template.break_earliest_min,
        break_latest_min=template.break_latest_min,
        break_duration_min=template.break_duration_min,
    )


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _merged(away: Iterable[Away]) -> list[Away]:
    """Absences that overlap or touch as one, in order (the first one's field named)."""
    out: list[Away] = []
    for a in sorted(away, key=lambda a: (a.from_s, a.until_s)):
        if out and a.from_s <= out[-1].until_s:
            last = out[-1]
            out[-1] = Away(last.from_s, max(last.until_s, a.until_s), last.field)
        else:
            out.append(a)
    return out


def _pause_with_lunch(lunch: Break, a: Away, start_s: int, end_s: int) -> Break | None:
    """One fixed pause for an absence inside the shift and the lunch, or None when the
    lunch's window neither touches nor overlaps the absence. In order of preference:
    the lunch right after the absence, right before it, or within it (the absence
    covers a whole lunch that may start inside it)."""
    e, latest, d = lunch.earliest_s, lunch.latest_s, lunch.duration_s
    candidates = []
    if e <= a.until_s <= latest:
        candidates.append(Break(a.from_s, a.from_s, a.until_s - a.from_s + d, on_site=False))
    if e <= a.from_s - d <= latest:
        candidates.append(Break(a.from_s - d, a.from_s - d, a.until_s - a.from_s + d, on_site=False))
    within = max(e, a.from_s)
    if within <= latest and within + d <= a.until_s:
        candidates.append(Break(a.from_s, a.from_s, a.until_s - a.from_s, on_site=False))
    for pause in candidates:
        if start_s < pause.earliest_s and pause.earliest_s + pause.duration_s < end_s:
            return pause
    return None


def _lunch_within(lunch: Break, a: Away, start_s: int, end_s: int) -> Break | None:
    """The fixed pause of an absence inside the shift apart from the lunch window: the
    lunch is taken within it (the pause lasts at least the lunch), as a re-plan does
    with a technician unavailable for a few hours (``solver.replan``); None when that
    pause would not end before the shift does."""
    pause = Break(a.from_s, a.from_s, max(a.until_s - a.from_s, lunch.duration_s), on_site=False)
    return pause if start_s < pause.earliest_s and pause.earliest_s + pause.duration_s < end_s else None


def honour(tech: Technician, away: Sequence[Away], day: dt.date) -> Technician | None:
    """``tech``'s day on ``day`` with the absences ``away`` taken out, or None when they
    leave no working time (an absence covers the shift: a holiday or day off).

    An absence touching the shift's start starts it later (a lunch whose window has
    passed by then was taken while away); one touching the end ends it earlier with no
    overtime (a lunch that no longer fits before is dropped); one inside the overtime
    allowed cuts the overtime. An absence inside the shift is a fixed pause: alone when
    the day has no lunch, else merged with the lunch (the lunch right after the absence,
    right before it, or within it when the absence covers a whole lunch); one apart from
    the lunch window holds the lunch (the pause lasts at least the lunch). A second
    pause inside the shift is refused (``Invalid`` naming the absence's field): the
    engine holds one pause a day."""
    start, end = tech.shift.start_s, tech.shift.end_s
    overtime = tech.max_overtime_s
    lunch = tech.shift.lunch
    fixed = False  # the lunch is already an absence's fixed pause
    for a in _merged(away):
        if a.until_s <= start or a.from_s >= end + overtime:
            continue
        if a.from_s <= start and a.until_s >= end:
            return None
        if a.from_s <= start:
            start = a.until_s
            if lunch is not None:
                if lunch.latest_s < start:
                    lunch = None
                elif lunch.earliest_s < start:
                    lunch = dataclasses.replace(lunch, earliest_s=start)
            continue
        if a.from_s >= end:
            overtime = a.from_s - end
            continue
        if a.until_s >= end:
            end, overtime = a.from_s, 0
            if lunch is not None and fixed:
                if lunch.earliest_s + lunch.duration_s >= end:  # away from the pause on
                    end, lunch = lunch.earliest_s, None
            elif lunch is not None:
                if lunch.earliest_s + lunch.duration_s > end:
                    lunch = None
                elif lunch.latest_s + lunch.duration_s > end:
                    lunch = dataclasses.replace(lunch, latest_s=end - lunch.duration_s)
            continue
        span = f"away {_clock(a.from_s)}–{_clock(a.until_s)} on {day}"
        if lunch is None:
            lunch, fixed = Break(a.from_s, a.from_s, a.until_s - a.from_s, on_site=False), True
            continue
        if fixed:
            raise Invalid(
                f"{a.field}: {span} is a second pause inside the shift (another absence is from "
                f"{_clock(lunch.earliest_s)}); a planned day holds one pause besides a later start or "
                "an earlier end: make the absences touch each other, the shift's start or its end",
                a.field,
            )
        pause = _pause_with_lunch(lunch, a, start, end) or _lunch_within(lunch, a, start, end)
        if pause is None:
            raise Invalid(
                f"{a.field}: {span} is shorter than the lunch ({lunch.duration_s // 60} min), which is "
                f"taken within it as it lies apart from the lunch window, and the two do not end before "
                f"the shift's end {_clock(end)}: let the absence touch the shift's end or the lunch window",
                a.field,
            )
        lunch, fixed = pause, True
    if start >= end:
        return None
    return dataclasses.replace(tech, shift=Shift(start, end, lunch), max_overtime_s=overtime)
