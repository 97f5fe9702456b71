"""``solver.schedule.drive_on``: timing the rest of a route from a place and a time."""

from __future__ import annotations

import numpy as np

from solver import TravelMatrices
from solver.schedule import Stop, StopTimes, drive_on

M = 60
# 0 → 1: 10 min, 1 → 2: 20 min (and back).
SECONDS = np.array([[0, 600, 1500], [600, 0, 1200], [1500, 1200, 0]], dtype=np.int64)
TRAVEL = TravelMatrices(SECONDS, SECONDS * 10)


def test_each_visit_is_reached_by_the_matrix_drive_and_lasts_its_duration() -> None:
    times = drive_on(TRAVEL, 0, 1000, [Stop(1, 30 * M), Stop(2, 45 * M)])
    assert times == (StopTimes(1600, 1600, 3400), StopTimes(4600, 4600, 7300))


def test_a_visit_is_neither_reached_nor_begun_before_it_may_be() -> None:
    """Reached at 1600 but not before 2000; begun not before 2500."""
    times = drive_on(TRAVEL, 0, 1000, [Stop(1, 100, arrive_not_before_s=2000, start_not_before_s=2500)])
    assert times == (StopTimes(2000, 2500, 2600),)


def test_breaks_on_the_way_on_site_and_in_the_work_add_their_length_where_they_lie() -> None:
    on_way = drive_on(TRAVEL, 0, 0, [Stop(1, 100, pause_on_way_s=300)])
    on_site = drive_on(TRAVEL, 0, 0, [Stop(1, 100, pause_on_site_s=300)])
    in_work = drive_on(TRAVEL, 0, 0, [Stop(1, 100, pause_in_work_s=300)])
    assert on_way == (StopTimes(900, 900, 1000),)
    assert on_site == (StopTimes(600, 900, 1000),)
    assert in_work == (StopTimes(600, 600, 1000),)


def test_a_late_visit_starts_late_rather_than_being_refused() -> None:
    assert drive_on(TRAVEL, 2, 50_000, [Stop(0, 60)]) == (StopTimes(51_500, 51_500, 51_560),)
