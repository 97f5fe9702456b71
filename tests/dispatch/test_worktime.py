"""What absences leave of a technician's day (``dispatch.worktime.honour``), and which
shift a date has (``shift_on``: the explicit one, else the weekly template's)."""

from __future__ import annotations

import datetime as dt

import pytest

from dispatch.errors import Invalid
from dispatch.tables import ShiftRow, WeekShiftRow
from dispatch.worktime import Away, honour, shift_on
from solver import Break, Location, Shift, Technician

DAY = dt.date(2026, 12, 7)  # a Monday
H = 3600


def tech(start_h: float = 8, end_h: float = 16, lunch: Break | None = None, overtime_h: float = 0) -> Technician:
    return Technician(
        "T1",
        Location(60.2, 24.9),
        Shift(int(start_h * H), int(end_h * H), lunch),
        max_overtime_s=int(overtime_h * H),
    )


def away(from_h: float, until_h: float, field: str = "absences.0") -> Away:
    return Away(int(from_h * H), int(until_h * H), field)


LUNCH = Break(11 * H, int(12.5 * H), 30 * 60)  # to start 11:00-12:30, 30 min


def test_an_absence_covering_the_shift_is_a_day_off() -> None:
    assert honour(tech(lunch=LUNCH), [away(-2, 30)], DAY) is None
    assert honour(tech(), [away(8, 16)], DAY) is None


def test_absences_before_or_after_the_working_time_change_nothing() -> None:
    t = tech(lunch=LUNCH, overtime_h=1)
    assert honour(t, [away(-10, 8), away(17, 30)], DAY) == t


def test_an_absence_touching_the_start_starts_the_shift_when_it_ends() -> None:
    day = honour(tech(lunch=LUNCH), [away(7, 10)], DAY)
    assert day is not None and day.shift == Shift(10 * H, 16 * H, LUNCH)


def test_an_absence_through_the_lunch_window_from_the_start_takes_the_lunch_with_it() -> None:
    day = honour(tech(lunch=LUNCH), [away(8, 13)], DAY)
    assert day is not None and day.shift == Shift(13 * H, 16 * H, None)


def test_an_absence_touching_the_end_ends_the_shift_early_without_overtime() -> None:
    day = honour(tech(lunch=LUNCH, overtime_h=2), [away(14, 18)], DAY)
    assert day is not None and day.shift == Shift(8 * H, 14 * H, LUNCH) and day.max_overtime_s == 0


def test_an_early_end_before_the_lunch_window_drops_the_lunch_and_one_inside_narrows_it() -> None:
    early = honour(tech(lunch=LUNCH), [away(11, 16)], DAY)
    assert early is not None and early.shift == Shift(8 * H, 11 * H, None)
    narrowed = honour(tech(lunch=LUNCH), [away(12.5, 16)], DAY)
    assert narrowed is not None and narrowed.shift.lunch == Break(11 * H, 12 * H, 30 * 60)


def test_an_absence_inside_the_overtime_allowed_cuts_the_overtime() -> None:
    day = honour(tech(overtime_h=3), [away(17, 20)], DAY)
    assert day is not None and day.shift.end_s == 16 * H and day.max_overtime_s == 1 * H


def test_an_absence_inside_a_shift_without_lunch_is_a_fixed_pause() -> None:
    day = honour(tech(), [away(9, 10.5)], DAY)
    assert day is not None and day.shift.lunch == Break(9 * H, 9 * H, int(1.5 * H), on_site=False)


def test_the_lunch_goes_right_after_an_absence_ending_in_its_window() -> None:
    day = honour(tech(lunch=LUNCH), [away(10, 11.5)], DAY)
    assert day is not None and day.shift.lunch == Break(10 * H, 10 * H, 2 * H, on_site=False)


def test_the_lunch_goes_right_before_an_absence_starting_after_its_window() -> None:
    day = honour(tech(lunch=LUNCH), [away(13, 14)], DAY)
    assert day is not None and day.shift.lunch == Break(int(12.5 * H), int(12.5 * H), int(1.5 * H), on_site=False)


def test_a_long_absence_over_the_whole_lunch_window_holds_the_lunch() -> None:
    day = honour(tech(lunch=LUNCH), [away(10.5, 12.9)], DAY)
    assert day is not None and day.shift.lunch == Break(int(10.5 * H), int(10.5 * H), int(2.4 * H), on_site=False)


def test_touching_absences_are_one() -> None:
    day = honour(tech(), [away(10, 11, "absences.0"), away(9, 10, "absences.1")], DAY)
    assert day is not None and day.shift.lunch == Break(9 * H, 9 * H, 2 * H, on_site=False)


def test_an_absence_apart_from_the_lunch_window_holds_the_lunch() -> None:
    day = honour(tech(lunch=LUNCH), [away(14, 15.5, "absences.4")], DAY)
    assert day is not None and day.shift == Shift(8 * H, 16 * H, Break(14 * H, 14 * H, int(1.5 * H), on_site=False))


def test_an_absence_shorter_than_the_lunch_apart_from_its_window_lasts_the_lunch() -> None:
    day = honour(tech(lunch=LUNCH), [away(9, 9.25)], DAY)
    assert day is not None and day.shift.lunch == Break(9 * H, 9 * H, 30 * 60, on_site=False)


def test_an_absence_holding_the_lunch_that_would_end_past_the_shift_is_refused_naming_it() -> None:
    with pytest.raises(Invalid) as refused:
        honour(tech(lunch=LUNCH), [away(15.75, 15.9, "absences.2")], DAY)
    assert refused.value.field == "absences.2"
    assert "15:45–15:54 on 2026-12-07" in str(refused.value) and "16:00" in str(refused.value)


def test_a_second_pause_inside_the_shift_is_refused_naming_it() -> None:
    with pytest.raises(Invalid) as refused:
        honour(tech(), [away(9, 10, "absences.0"), away(14, 15, "absences.1")], DAY)
    assert refused.value.field == "absences.1" and "second pause" in str(refused.value)


def test_a_start_end_and_pause_can_all_come_from_absences_on_one_day() -> None:
    day = honour(tech(lunch=LUNCH), [away(7, 9), away(11.5, 12), away(15, 17)], DAY)
    assert day is not None
    assert day.shift == Shift(9 * H, 15 * H, Break(int(11.5 * H), int(11.5 * H), 60 * 60, on_site=False))


def test_an_explicit_shift_overrides_the_template_which_fills_the_other_dates() -> None:
    week = {1: WeekShiftRow(technician_id="T1", weekday=1, start_min=7 * 60, end_min=15 * 60)}
    explicit = ShiftRow(technician_id="T1", date=DAY, start_min=10 * 60, end_min=18 * 60)
    assert shift_on(DAY, explicit, week) is explicit
    templated = shift_on(DAY + dt.timedelta(days=7), None, week)
    assert templated is not None and (templated.date, templated.start_min) == (DAY + dt.timedelta(days=7), 420)
    assert shift_on(DAY + dt.timedelta(days=1), None, week) is None
