"""The window a customer is told around a planned start (``dispatch.live.customer_window``):
a slot of the grid's length holding the start, with room after it for the delays a
day brings, inside the job's own window."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from dispatch.dayfile import load_day
from dispatch.live import customer_window
from dispatch.mapping import Day
from dispatch.planning import told_windows
from solver import Job, Solution, TimeWindow
from solver.solution import Route, Visit

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"

H = 3600
M = 60


def test_a_start_on_the_opening_of_its_own_window_is_told_a_whole_slot_not_an_instant() -> None:
    assert customer_window(9 * H, H, [TimeWindow(9 * H, 10 * H)]) == TimeWindow(9 * H, 10 * H)


def test_a_start_on_the_closing_of_its_own_window_is_told_the_last_whole_slot() -> None:
    assert customer_window(10 * H, H, [TimeWindow(8 * H, 10 * H)]) == TimeWindow(9 * H, 10 * H)


def test_the_told_window_leaves_room_after_the_start_for_delays() -> None:
    assert customer_window(9 * H + 44 * M, H, []) == TimeWindow(9 * H + 30 * M, 10 * H + 30 * M)
    assert customer_window(14 * H + 12 * M, H, []) == TimeWindow(14 * H, 15 * H)


def test_a_two_hour_slot_starts_on_the_last_half_hour_before_the_start() -> None:
    assert customer_window(11 * H + 5 * M, 2 * H, [TimeWindow(8 * H, 16 * H)]) == TimeWindow(11 * H, 13 * H)


def test_every_told_window_holds_the_start_inside_the_jobs_own_window() -> None:
    own = TimeWindow(8 * H + 15 * M, 12 * H + 40 * M)
    for start in range(own.start_s, own.end_s + 1, 7 * M):
        for length in (H, 2 * H):
            told = customer_window(start, length, [own])
            assert told.start_s <= start <= told.end_s
            assert own.start_s <= told.start_s and told.end_s <= own.end_s
            assert told.end_s - told.start_s <= length
            assert told.end_s - start >= min(length - 30 * M, own.end_s - start)


def _day_with(job: Job) -> Day:
    day = load_day(SAMPLES / "small-day.json")
    return dataclasses.replace(day, problem=dataclasses.replace(day.problem, jobs=(job,)), job_info={})


def _visiting(job_id: str, start_s: int) -> Solution:
    visit = Visit(job_id, start_s, start_s, start_s + H, 0, 0)
    return Solution((Route("T1", (visit,), start_s - 20 * M, start_s + 2 * H),), ())


def test_a_customer_is_never_told_a_window_past_the_jobs_sla_deadline() -> None:
    day = load_day(SAMPLES / "small-day.json")
    job = dataclasses.replace(
        day.problem.jobs[0], windows=(TimeWindow(8 * H, 16 * H),), deadline_s=11 * H + 30 * M, release_s=None
    )
    told = told_windows(_day_with(job), _visiting(job.id, 11 * H + 30 * M), {job.kind.value: 2 * H})
    assert told[job.id] == TimeWindow(9 * H + 30 * M, 11 * H + 30 * M)
    # Without the deadline the same start is told the slot with room after it.
    free = dataclasses.replace(job, deadline_s=None)
    told = told_windows(_day_with(free), _visiting(job.id, 11 * H + 30 * M), {job.kind.value: 2 * H})
    assert told[job.id] == TimeWindow(11 * H + 30 * M, 13 * H + 30 * M)


def test_a_customer_is_never_told_a_window_before_the_goods_are_ready() -> None:
    day = load_day(SAMPLES / "small-day.json")
    job = dataclasses.replace(
        day.problem.jobs[0], windows=(TimeWindow(8 * H, 16 * H),), deadline_s=None, release_s=10 * H + 45 * M
    )
    told = told_windows(_day_with(job), _visiting(job.id, 10 * H + 50 * M), {job.kind.value: 2 * H})
    assert told[job.id] == TimeWindow(10 * H + 45 * M, 12 * H + 30 * M)
