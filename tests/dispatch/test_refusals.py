"""Why a re-plan is refused (``dispatch.planning.broken_promises``): readable however
many promises a morning without reports leaves out."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from dispatch.mapping import Day, JobInfo
from dispatch.planning import UNREPORTED_SHOWN, broken_promises
from solver import Job, Location, Problem
from solver.solution import ReasonCode, Solution, Unassigned

HERE = Location(60.17, 24.94)


def day_of(count: int) -> tuple[Day, Solution, dict[str, str]]:
    """``count`` promised jobs, all left out, each due with nothing reported."""
    ids = [f"J{i:02d}" for i in range(1, count + 1)]
    problem = Problem((), tuple(Job(i, HERE, 3600, priority=0) for i in ids))
    day = Day(dt.date(2026, 12, 8), ZoneInfo("Europe/Helsinki"), problem)
    out = tuple(Unassigned(i, ReasonCode.NO_SHIFT_IN_WINDOW, "too late") for i in ids)
    unreported = {i: f"T1 was due there at 08:{n:02d} and nothing was reported" for n, i in enumerate(ids)}
    return day, Solution((), out), unreported


def test_a_few_promises_left_for_want_of_a_report_are_each_explained() -> None:
    day, solution, unreported = day_of(3)
    assert broken_promises(day, solution, [], unreported) == [
        "promised job J01 would be left out: T1 was due there at 08:00 and nothing was reported (too late)",
        "promised job J02 would be left out: T1 was due there at 08:01 and nothing was reported (too late)",
        "promised job J03 would be left out: T1 was due there at 08:02 and nothing was reported (too late)",
        "record what happened to the visits nothing was reported for (field events en_route, arrived, "
        "completed or failed, by POST /v1/jobs/{id}/events or the board's Today page) and re-plan",
    ]


def test_a_morning_of_promises_without_reports_explains_ten_and_names_the_rest_by_id() -> None:
    day, solution, unreported = day_of(UNREPORTED_SHOWN + 5)
    sentences = broken_promises(day, solution, [], unreported)
    assert len(sentences) == UNREPORTED_SHOWN + 2
    assert sentences[UNREPORTED_SHOWN - 1].startswith(f"promised job J{UNREPORTED_SHOWN:02d} would be left out: T1")
    assert sentences[UNREPORTED_SHOWN] == (
        "and 5 more promised jobs whose visits were due with nothing reported: J11, J12, J13, J14, J15"
    )
    assert sentences[-1].endswith("and re-plan")


def test_promises_left_out_for_another_reason_are_all_explained_beside_them() -> None:
    day, solution, unreported = day_of(UNREPORTED_SHOWN + 2)
    del unreported["J12"]
    sentences = broken_promises(day, solution, [], unreported)
    assert "promised job J12 would be left out (too late)" in sentences
    assert "and 1 more promised job whose visit was due with nothing reported: J11" in sentences


def test_promises_no_plan_can_keep_end_with_how_to_withdraw_each_kind() -> None:
    day, solution, _ = day_of(2)
    info = {"J01": JobInfo(confirmed=True), "J02": JobInfo(confirmed=True, booked=True)}
    day = dataclasses.replace(day, job_info=info)
    sentences = broken_promises(day, solution, [], {})
    assert sentences[:2] == [
        "confirmed job J01 would be left out (too late)",
        "booked job J02 would be left out (too late)",
    ]
    assert sentences[-1] == (
        "to plan without a promise: tell its customer, withdraw a confirmed job's promise (PUT /v1/jobs/{id} "
        'with "confirmed": false) or cancel a booked job\'s booking (DELETE /v1/bookings/{id}) and book it again, '
        "and re-plan"
    )
    # Left out only for want of a report: recording it is what to do, not withdrawing.
    due = {i: f"T1 was due there at 0{n}:00 and nothing was reported" for n, i in ((8, "J01"), (9, "J02"))}
    unheard = broken_promises(day, solution, [], due)
    assert not any(s.startswith("to plan without a promise") for s in unheard)
