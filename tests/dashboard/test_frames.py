"""Tables and filters of the Plan and Technicians pages."""

from __future__ import annotations

import datetime as dt

from dashboard.frames import (
    JobFilter,
    default_day,
    filter_jobs,
    jobs_frame,
    run_failure,
    technicians_frame,
    unassigned_frame,
    with_weekdays,
)
from tests.dashboard.factories import job, plan, technician, working_day


def test_filters_combine_and_an_empty_filter_keeps_everything() -> None:
    jobs = [
        job("A", kind="install", priority=3, skills={"kitchen": 2}),
        job("B", kind="repair", priority=1, skills={"glass": 1}),
        job("C", kind="repair", priority=2, skills={"wardrobe": 1}, status="cancelled"),
    ]
    assert [j.id for j in filter_jobs(jobs, JobFilter())] == ["A", "B", "C"]
    assert [j.id for j in filter_jobs(jobs, JobFilter(kinds=["repair"]))] == ["B", "C"]
    assert [j.id for j in filter_jobs(jobs, JobFilter(kinds=["repair"], statuses=["open"]))] == ["B"]
    assert [j.id for j in filter_jobs(jobs, JobFilter(skills=["glass", "kitchen"]))] == ["A", "B"]
    assert [j.id for j in filter_jobs(jobs, JobFilter(priorities=[2]))] == ["C"]


def test_the_jobs_table_writes_skills_and_windows_as_text() -> None:
    row = jobs_frame([job("A", [("09:00", "10:00")], skills={"plumbing": 1, "kitchen": 2})]).iloc[0]
    assert (row["skills"], row["windows"]) == ("kitchen 2, plumbing 1", "09:00–10:00")


def test_the_day_opens_on_the_first_working_day_from_today() -> None:
    techs = [
        technician("T1", shifts=[{"date": "2026-11-20", "start": "08:00", "end": "16:00"}]),
        technician("T2", shifts=[{"date": "2026-12-01", "start": "08:00", "end": "16:00"}]),
    ]
    assert default_day(techs, dt.date(2026, 11, 23)) == dt.date(2026, 12, 1)
    assert default_day(techs, dt.date(2026, 12, 5)) == dt.date(2026, 12, 1)
    assert default_day([], dt.date(2026, 12, 5)) == dt.date(2026, 12, 6)


def test_technicians_off_that_day_have_an_empty_shift() -> None:
    working = {"T1": working_day("T1", "08:00", "16:00", lunch=("11:00", "12:30", 30))}
    table = technicians_frame([technician("T1"), technician("T2", shifts=[])], working)
    assert list(table["shift"]) == ["08:00–16:00", ""]
    assert list(table["break"]) == ["30 min in 11:00–12:30", ""]


def test_the_day_opens_on_the_first_weekday_of_a_weekly_template_when_no_shift_comes_sooner() -> None:
    template = technician("T1", shifts=[], week=[{"weekday": 3, "start": "08:00", "end": "16:00"}])
    assert default_day([template], dt.date(2026, 12, 5)) == dt.date(2026, 12, 9)  # Saturday -> Wednesday
    explicit = technician("T2", shifts=[{"date": "2026-12-07", "start": "08:00", "end": "16:00"}])
    assert default_day([template, explicit], dt.date(2026, 12, 5)) == dt.date(2026, 12, 7)


def test_unassigned_jobs_come_most_urgent_first_with_their_reasons() -> None:
    jobs = [job("A", priority=3), job("B", priority=1)]
    day = plan(1, [], [("A", "The day is full"), ("B", "No technician has glass level 3")])
    table = unassigned_frame(day, jobs)
    assert table[["job", "priority", "reason"]].to_dict("records") == [
        {"job": "B", "priority": 1, "reason": "No technician has glass level 3"},
        {"job": "A", "priority": 3, "reason": "The day is full"},
    ]


def test_a_refused_run_lists_each_promise_it_would_break_on_a_line_of_its_own() -> None:
    error = (
        "refused: confirmed job J1 would be left out: T1 was due there at 09:00 and nothing was reported (far); "
        "booked job J2 would be left out (glass); record what happened (field events) and re-plan"
    )
    refused = plan(7, []).model_copy(update={"status": "failed", "error": error})
    assert run_failure(refused) == (
        "Plan #7 was refused (3 reasons):\n\n"
        "- confirmed job J1 would be left out: T1 was due there at 09:00 and nothing was reported (far)\n"
        "- booked job J2 would be left out (glass)\n"
        "- record what happened (field events) and re-plan"
    )
    crashed = plan(8, []).model_copy(update={"status": "failed", "error": "the worker stopped"})
    assert run_failure(crashed) == "Plan #8 failed: the worker stopped"


def test_a_weekly_template_refusal_names_the_weekday_not_the_place_among_the_rows_sent() -> None:
    sent = [{"weekday": 6, "start": "18:00", "end": "08:00"}, {"weekday": 7, "start": "08:00", "end": "16:00"}]
    said = "week.0.end: shift end must be after its start (field week.0.end)"
    assert with_weekdays(said, sent) == "week.Sat.end: shift end must be after its start (field week.Sat.end)"
    assert with_weekdays("week.5.end: x", sent) == "week.5.end: x"  # a row not sent stays as said
