"""Recall and precision of the slot search against exhaustive enumeration.

On 15 small seeded days (2-3 technicians, 4-6 booked jobs, seeds 1-15) every
hourly window 08-16 for one new job is judged by enumeration over every
assignment and order of all jobs (``bench.booking_recall``). Measured when
written, 120 windows, 60 truly feasible:

- plain insertion (``move_budget_s=0``): 54 offered, recall 0.900;
- with one promised job moved to another technician (a budget these tiny days
  never exhaust, so the answer does not depend on the machine's speed): 59
  offered, recall 0.983.

Over larger samples recall is lower (seeds 1-60: 0.808 plain, 0.948 with a
move; raising ``max_checks`` changes nothing: the windows missed need booked
jobs to change technician or order beyond one move). Precision must be
exactly 1; each recall floor is the value measured here less a margin of 0.05.
"""

from __future__ import annotations

from bench.booking_recall import recall, recall_of_day

PLAIN_FLOOR = 0.85
WITH_MOVE_FLOOR = 0.93
UNBOUNDED_S = 10.0  # the move search of a tiny day ends long before this


def test_every_window_offered_is_truly_feasible_and_most_feasible_ones_are_offered() -> None:
    counts = recall(15, seed=1)
    assert counts.windows == 120
    assert counts.precision == 1.0, counts
    assert counts.recall >= PLAIN_FLOOR, counts


def test_moving_one_promised_job_finds_more_windows_and_still_offers_only_feasible_ones() -> None:
    plain = recall(15, seed=1)
    moved = recall(15, seed=1, move_budget_s=UNBOUNDED_S)
    assert moved.precision == 1.0, moved
    assert moved.recall >= WITH_MOVE_FLOOR, moved
    assert moved.both >= plain.both


def test_on_an_empty_day_the_search_offers_exactly_the_feasible_windows() -> None:
    for seed in range(1, 6):
        counts = recall_of_day(seed, booked=0)
        assert counts.offered == counts.feasible == counts.both, counts
