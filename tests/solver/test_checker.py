"""The independent checker, rule by rule, on tiny days with hand-computed numbers.

Every day uses the same four points (home H, jobs at A, B, C) and a fixed
matrix: 600 s and 5000 m between any two different points, 0 on the diagonal.
Each violation test first shows a valid plan has no violation, then makes one
small change and expects exactly the one violation it causes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from solver import (
    Break,
    BreakTaken,
    CostProfile,
    FixedMatrixProvider,
    Job,
    Location,
    Problem,
    ReasonCode,
    Route,
    Shift,
    Solution,
    Technician,
    TechnicianKind,
    TimeWindow,
    TravelMatrices,
    Unassigned,
    ViolationKind,
    Visit,
    Weights,
    check,
    problem_travel,
)
from solver.checker import CheckReport
from solver.objective import coefficients

H = 3600
HOME = Location(60.00, 24.00)
A = Location(60.01, 24.00)
B = Location(60.02, 24.00)
C = Location(60.03, 24.00)
POINTS = (HOME, A, B, C)

WINDOW = ViolationKind.WINDOW
SHIFT = ViolationKind.SHIFT
BREAK = ViolationKind.BREAK
SKILL = ViolationKind.SKILL
CREW_SYNC = ViolationKind.CREW_SYNC
PIN = ViolationKind.PIN
RELEASE = ViolationKind.RELEASE
DEADLINE = ViolationKind.DEADLINE
MAX_JOBS = ViolationKind.MAX_JOBS
DUPLICATE_JOB = ViolationKind.DUPLICATE_JOB
MISSING_JOB = ViolationKind.MISSING_JOB
TRAVEL = ViolationKind.TRAVEL
UNKNOWN = ViolationKind.UNKNOWN
REPORT = ViolationKind.REPORT

Found = list[tuple[ViolationKind, str | None, str | None]]


def hm(hours: int, minutes: int = 0) -> int:
    """Seconds since midnight of hh:mm."""
    return hours * H + minutes * 60


def provider(travel_s: int = 600, metres: int = 5000) -> FixedMatrixProvider:
    """``travel_s`` and ``metres`` between any two different points of POINTS."""
    off_diagonal = 1 - np.eye(len(POINTS), dtype=np.int64)
    return FixedMatrixProvider(POINTS, TravelMatrices(off_diagonal * travel_s, off_diagonal * metres))


def tech(tech_id: str = "T1", **fields: Any) -> Technician:
    """An 08:00–16:00 technician living at HOME with wardrobe level 2."""
    defaults: dict[str, Any] = {"start": HOME, "shift": Shift(hm(8), hm(16)), "skills": {"wardrobe": 2}}
    return Technician(tech_id, **{**defaults, **fields})


def job(job_id: str, location: Location, **fields: Any) -> Job:
    """A one-hour job."""
    return Job(job_id, location, **{"duration_s": H, **fields})


def visit(
    job_id: str,
    start_s: int,
    *,
    arrival_s: int | None = None,
    duration_s: int = H,
    travel_s: int = 600,
    distance_m: int = 5000,
) -> Visit:
    """A visit that arrives at ``start_s`` unless told otherwise."""
    arrival = start_s if arrival_s is None else arrival_s
    return Visit(job_id, arrival, start_s, start_s + duration_s, travel_s, distance_m)


def route(
    tech_id: str,
    *visits: Visit,
    start_s: int,
    end_s: int,
    lunch: BreakTaken | None = None,
    return_travel_s: int = 600,
    return_distance_m: int = 5000,
) -> Route:
    return Route(tech_id, visits, start_s, end_s, lunch, return_travel_s, return_distance_m)


def idle(tech_id: str) -> Route:
    """The empty route of a technician who does not work."""
    return Route(tech_id, (), hm(8), hm(8))


def day_full(job_id: str) -> Unassigned:
    return Unassigned(job_id, ReasonCode.DAY_FULL, "The day is full.")


def run(
    problem: Problem, *routes: Route, unassigned: tuple[Unassigned, ...] = (), travel: FixedMatrixProvider | None = None
) -> CheckReport:
    points, matrices = problem_travel(problem, travel or provider())
    return check(problem, Solution(routes, unassigned), points, matrices)


def found(report: CheckReport) -> Found:
    """(kind, job id, technician id) of every violation, in the checker's order."""
    return [(v.kind, v.job_id, v.technician_id) for v in report.violations]


# --- Windows -----------------------------------------------------------------------------------------------


def one_windowed_job() -> Problem:
    return Problem((tech(),), (job("J1", A, windows=(TimeWindow(hm(9), hm(10)),)),))


def test_a_visit_starting_at_the_last_second_of_its_window_is_valid() -> None:
    plan = route("T1", visit("J1", hm(10), arrival_s=hm(8, 10)), start_s=hm(8), end_s=hm(11, 10))
    assert found(run(one_windowed_job(), plan)) == []


def test_a_visit_starting_after_its_window_is_a_window_violation() -> None:
    late = route("T1", visit("J1", hm(10, 1), arrival_s=hm(8, 10)), start_s=hm(8), end_s=hm(11, 11))
    assert found(run(one_windowed_job(), late)) == [(WINDOW, "J1", "T1")]


def test_a_visit_starting_before_its_window_is_a_window_violation() -> None:
    early = route("T1", visit("J1", hm(8, 59), arrival_s=hm(8, 10)), start_s=hm(8), end_s=hm(10, 9))
    assert found(run(one_windowed_job(), early)) == [(WINDOW, "J1", "T1")]


def test_a_visit_between_two_windows_is_a_window_violation_but_inside_the_second_is_not() -> None:
    windows = (TimeWindow(hm(8), hm(9)), TimeWindow(hm(12), hm(13)))
    problem = Problem((tech(),), (job("J1", A, windows=windows),))

    def starting(start_s: int) -> Route:
        return route("T1", visit("J1", start_s, arrival_s=hm(8, 10)), start_s=hm(8), end_s=start_s + H + 600)

    assert found(run(problem, starting(hm(12, 30)))) == []
    assert found(run(problem, starting(hm(10)))) == [(WINDOW, "J1", "T1")]


# --- Shift -------------------------------------------------------------------------------------------------


def test_leaving_home_before_the_shift_starts_is_a_shift_violation() -> None:
    problem = Problem((tech(),), (job("J1", A),))
    on_time = route("T1", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20))
    early = route("T1", visit("J1", hm(8, 10)), start_s=hm(7, 59), end_s=hm(9, 20))
    assert found(run(problem, on_time)) == []
    assert found(run(problem, early)) == [(SHIFT, None, "T1")]


def test_coming_back_after_the_allowed_overtime_is_a_shift_violation() -> None:
    """Shift ends 16:00 with 30 min overtime allowed: back at 16:30 is fine, 16:31 is not."""
    problem = Problem((tech(max_overtime_s=1800),), (job("J1", A),))
    in_overtime = route("T1", visit("J1", hm(15, 20)), start_s=hm(15, 10), end_s=hm(16, 30))
    too_late = route("T1", visit("J1", hm(15, 21), arrival_s=hm(15, 20)), start_s=hm(15, 10), end_s=hm(16, 31))
    assert found(run(problem, in_overtime)) == []
    assert found(run(problem, too_late)) == [(SHIFT, None, "T1")]


# --- Lunch break -------------------------------------------------------------------------------------------

LUNCH = Break(hm(11, 30), hm(13), 1800)


def lunch_day() -> Problem:
    """T1 must start a 30 min lunch between 11:30 and 13:00."""
    return Problem((tech(shift=Shift(hm(8), hm(16), LUNCH)),), (job("J1", A), job("J2", B)))


LUNCH_AT_11_30 = BreakTaken(hm(11, 30), 1800)
J2_AFTER_LUNCH = hm(12, 10)


def lunch_route(j2_start_s: int = J2_AFTER_LUNCH, lunch: BreakTaken | None = LUNCH_AT_11_30) -> Route:
    """J1 10:30–11:30 at A, lunch 11:30–12:00, drive 10 min, J2 at B from 12:10, home at 13:20.

    The gap J1 → J2 is exactly 600 s of driving plus 1800 s of lunch."""
    return route(
        "T1",
        visit("J1", hm(10, 30)),
        visit("J2", j2_start_s),
        start_s=hm(10, 20),
        end_s=j2_start_s + H + 600,
        lunch=lunch,
    )


def test_a_lunch_between_two_visits_with_room_for_the_drive_is_valid() -> None:
    assert found(run(lunch_day(), lunch_route())) == []


def test_a_missing_lunch_is_a_break_violation() -> None:
    assert found(run(lunch_day(), lunch_route(lunch=None))) == [(BREAK, None, "T1")]


def test_a_lunch_shorter_than_required_is_a_break_violation() -> None:
    assert found(run(lunch_day(), lunch_route(lunch=BreakTaken(hm(11, 30), 1799)))) == [(BREAK, None, "T1")]


def test_a_lunch_overlapping_a_visit_is_a_break_violation() -> None:
    """Lunch 12:00–12:30 runs into J2, which starts at 12:10."""
    assert found(run(lunch_day(), lunch_route(lunch=BreakTaken(hm(12), 1800)))) == [(BREAK, None, "T1")]


def test_a_lunch_after_coming_home_must_still_start_inside_its_window() -> None:
    """J1 09:00–10:00, home at 10:10: lunch at 13:00 is fine, at 13:01 it is too late."""
    problem = Problem((tech(shift=Shift(hm(8), hm(16), LUNCH)),), (job("J1", A),))

    def with_lunch_at(start_s: int) -> Route:
        return route("T1", visit("J1", hm(9)), start_s=hm(8, 50), end_s=hm(10, 10), lunch=BreakTaken(start_s, 1800))

    assert found(run(problem, with_lunch_at(hm(13)))) == []
    assert found(run(problem, with_lunch_at(hm(13, 1)))) == [(BREAK, None, "T1")]


def test_a_lunch_before_its_window_opens_is_a_break_violation() -> None:
    """Lunch 11:00–11:30 sits between J1 (ends 11:00) and J2 (from 11:40) but opens before 11:30."""
    problem = lunch_day()
    plan = route(
        "T1",
        visit("J1", hm(10)),
        visit("J2", hm(11, 40)),
        start_s=hm(9, 50),
        end_s=hm(12, 50),
        lunch=BreakTaken(hm(11), 1800),
    )
    assert found(run(problem, plan)) == [(BREAK, None, "T1")]


def test_a_gap_too_short_for_the_drive_plus_lunch_is_reported_as_a_travel_violation_on_the_next_visit() -> None:
    """Lunch 11:30–12:00 still fits between J1 and J2, but J2 at 12:09 leaves 2340 s for 600 s + 1800 s."""
    assert found(run(lunch_day(), lunch_route(j2_start_s=hm(12, 9)))) == [(TRAVEL, "J2", "T1")]


# --- Skills, crews, pins -----------------------------------------------------------------------------------


def test_a_technician_below_the_required_skill_level_is_a_skill_violation() -> None:
    problem = Problem((tech("T1"), tech("T2", skills={"wardrobe": 1})), (job("J1", A, skills={"wardrobe": 2}),))
    by_t1 = run(problem, route("T1", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20)), idle("T2"))
    by_t2 = run(problem, idle("T1"), route("T2", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20)))
    assert found(by_t1) == []
    assert found(by_t2) == [(SKILL, "J1", "T2")]


def test_a_technician_lacking_a_skill_code_entirely_is_a_skill_violation() -> None:
    problem = Problem((tech("T1"),), (job("J1", A, skills={"kitchen": 1}),))
    plan = route("T1", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20))
    assert found(run(problem, plan)) == [(SKILL, "J1", "T1")]


def crew_day() -> Problem:
    return Problem((tech("T1"), tech("T2")), (job("J1", A, crew_size=2),))


def test_a_crew_of_two_starting_together_is_valid() -> None:
    t1 = route("T1", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20))
    t2 = route("T2", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20))
    assert found(run(crew_day(), t1, t2)) == []


def test_a_crew_of_two_starting_five_minutes_apart_is_a_crew_sync_violation() -> None:
    t1 = route("T1", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20))
    t2 = route("T2", visit("J1", hm(8, 15), arrival_s=hm(8, 10)), start_s=hm(8), end_s=hm(9, 25))
    assert found(run(crew_day(), t1, t2)) == [(CREW_SYNC, "J1", None)]


def test_a_crew_job_served_by_only_one_member_is_a_crew_sync_violation() -> None:
    t1 = route("T1", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20))
    assert found(run(crew_day(), t1, idle("T2"))) == [(CREW_SYNC, "J1", None)]


def test_a_pinned_job_served_by_another_technician_is_a_pin_violation() -> None:
    problem = Problem((tech("T1"), tech("T2")), (job("J1", A, pinned_technician_id="T1"),))
    by_t1 = run(problem, route("T1", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20)), idle("T2"))
    by_t2 = run(problem, idle("T1"), route("T2", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20)))
    assert found(by_t1) == []
    assert found(by_t2) == [(PIN, "J1", None)]


# --- Release and deadline ----------------------------------------------------------------------------------


def starting_at(start_s: int) -> Route:
    """T1 leaves 08:00, arrives at A 08:10, waits and works on J1 from ``start_s``."""
    return route("T1", visit("J1", start_s, arrival_s=hm(8, 10)), start_s=hm(8), end_s=start_s + H + 600)


def test_a_visit_starting_before_the_goods_are_ready_is_a_release_violation() -> None:
    problem = Problem((tech(),), (job("J1", A, release_s=hm(10)),))
    assert found(run(problem, starting_at(hm(10)))) == []
    assert found(run(problem, starting_at(hm(9, 59)))) == [(RELEASE, "J1", "T1")]


def test_a_visit_starting_after_the_deadline_is_a_deadline_violation() -> None:
    problem = Problem((tech(),), (job("J1", A, deadline_s=hm(10)),))
    assert found(run(problem, starting_at(hm(10)))) == []
    assert found(run(problem, starting_at(hm(10, 1)))) == [(DEADLINE, "J1", "T1")]


# --- Jobs per day ------------------------------------------------------------------------------------------


def test_more_visits_than_max_jobs_is_a_max_jobs_violation() -> None:
    problem = Problem((tech("T1", max_jobs=1), tech("T2")), (job("J1", A), job("J2", B)))
    split = run(
        problem,
        route("T1", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20)),
        route("T2", visit("J2", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20)),
    )
    both_on_t1 = run(
        problem,
        route("T1", visit("J1", hm(8, 10)), visit("J2", hm(9, 20)), start_s=hm(8), end_s=hm(10, 30)),
        idle("T2"),
    )
    assert found(split) == []
    assert found(both_on_t1) == [(MAX_JOBS, None, "T1")]


def test_max_jobs_of_zero_forbids_any_visit() -> None:
    problem = Problem((tech("T1", max_jobs=0),), (job("J1", A),))
    assert found(run(problem, idle("T1"), unassigned=(day_full("J1"),))) == []
    assert found(run(problem, route("T1", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20)))) == [
        (MAX_JOBS, None, "T1")
    ]


# --- Every job exactly once --------------------------------------------------------------------------------


def two_job_day() -> Problem:
    return Problem((tech(),), (job("J1", A), job("J2", B)))


ONLY_J1 = route("T1", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20))


def test_serving_one_job_and_explaining_the_other_is_valid() -> None:
    assert found(run(two_job_day(), ONLY_J1, unassigned=(day_full("J2"),))) == []


def test_a_job_visited_twice_by_one_technician_is_a_duplicate_job_violation() -> None:
    """The second visit at the same place needs no drive; both findings concern J1."""
    twice = route(
        "T1", visit("J1", hm(8, 10)), visit("J1", hm(9, 10), travel_s=0, distance_m=0), start_s=hm(8), end_s=hm(10, 20)
    )
    assert found(run(two_job_day(), twice, unassigned=(day_full("J2"),))) == [
        (DUPLICATE_JOB, "J1", None),  # visited twice by one technician
        (DUPLICATE_JOB, "J1", None),  # two visits for a crew of one
    ]


def test_a_crew_of_one_served_by_two_technicians_is_a_duplicate_job_violation() -> None:
    problem = Problem((tech("T1"), tech("T2")), (job("J1", A),))
    t1 = route("T1", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20))
    t2 = route("T2", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20))
    assert found(run(problem, t1, idle("T2"))) == []
    assert found(run(problem, t1, t2)) == [(DUPLICATE_JOB, "J1", None)]


def test_a_job_both_served_and_listed_unassigned_is_a_duplicate_job_violation() -> None:
    both = (day_full("J1"), day_full("J2"))
    assert found(run(two_job_day(), ONLY_J1, unassigned=both)) == [(DUPLICATE_JOB, "J1", None)]


def test_a_job_listed_unassigned_twice_is_a_duplicate_job_violation() -> None:
    twice = (day_full("J2"), day_full("J2"))
    assert found(run(two_job_day(), ONLY_J1, unassigned=twice)) == [(DUPLICATE_JOB, "J2", None)]


def test_a_job_neither_served_nor_unassigned_is_a_missing_job_violation() -> None:
    assert found(run(two_job_day(), ONLY_J1)) == [(MISSING_JOB, "J2", None)]


# --- Travel between stops ----------------------------------------------------------------------------------


def two_visits(j1_start_s: int = hm(8, 10), j2_start_s: int = hm(9, 20), end_s: int = hm(10, 30)) -> Route:
    """Home → J1 (A) → J2 (B) → home, each drive 600 s."""
    return route("T1", visit("J1", j1_start_s), visit("J2", j2_start_s), start_s=hm(8), end_s=end_s)


def test_back_to_back_visits_exactly_one_drive_apart_are_valid() -> None:
    assert found(run(two_job_day(), two_visits())) == []


def test_less_time_between_two_visits_than_the_drive_is_a_travel_violation() -> None:
    """J1 ends 09:10; J2 at 09:19 leaves 540 s for a 600 s drive."""
    assert found(run(two_job_day(), two_visits(j2_start_s=hm(9, 19), end_s=hm(10, 29)))) == [(TRAVEL, "J2", "T1")]


def test_starting_the_first_visit_before_the_drive_from_home_is_over_is_a_travel_violation() -> None:
    assert found(run(two_job_day(), two_visits(j1_start_s=hm(8, 9)))) == [(TRAVEL, "J1", "T1")]


def test_coming_home_before_the_drive_back_is_over_is_a_travel_violation() -> None:
    assert found(run(two_job_day(), two_visits(end_s=hm(10, 29)))) == [(TRAVEL, None, "T1")]


# --- Unknown ids -------------------------------------------------------------------------------------------


def test_a_visit_to_a_job_not_in_the_problem_is_an_unknown_violation() -> None:
    ghost = Visit("GHOST", hm(9, 20), hm(9, 20), hm(10, 20), 600, 5000)
    plan = route("T1", visit("J1", hm(8, 10)), ghost, start_s=hm(8), end_s=hm(9, 20))
    assert found(run(one_job_day(), plan)) == [(UNKNOWN, "GHOST", "T1")]


def test_a_route_of_a_technician_not_in_the_problem_is_an_unknown_violation() -> None:
    plan = route("T1", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20))
    assert found(run(one_job_day(), plan)) == []
    assert found(run(one_job_day(), plan, idle("T9"))) == [(UNKNOWN, None, "T9")]


def test_two_routes_for_one_technician_are_an_unknown_violation() -> None:
    plan = route("T1", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20))
    assert found(run(one_job_day(), plan, idle("T1"))) == [(UNKNOWN, None, "T1")]


def test_an_unassigned_entry_for_a_job_not_in_the_problem_is_an_unknown_violation() -> None:
    plan = route("T1", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20))
    assert found(run(one_job_day(), plan, unassigned=(day_full("GHOST"),))) == [(UNKNOWN, "GHOST", None)]


def one_job_day() -> Problem:
    return Problem((tech(),), (job("J1", A),))


# --- What the plan reports about itself --------------------------------------------------------------------


def test_a_reported_drive_time_that_differs_from_the_matrix_is_a_report_violation() -> None:
    plan = route("T1", visit("J1", hm(8, 10), travel_s=599), start_s=hm(8), end_s=hm(9, 20))
    assert found(run(one_job_day(), plan)) == [(REPORT, "J1", "T1")]


def test_a_reported_drive_distance_that_differs_from_the_matrix_is_a_report_violation() -> None:
    plan = route("T1", visit("J1", hm(8, 10), distance_m=5001), start_s=hm(8), end_s=hm(9, 20))
    assert found(run(one_job_day(), plan)) == [(REPORT, "J1", "T1")]


def test_a_reported_drive_home_that_differs_from_the_matrix_is_a_report_violation() -> None:
    plan = route("T1", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20), return_distance_m=4000)
    assert found(run(one_job_day(), plan)) == [(REPORT, None, "T1")]


def test_time_on_site_that_differs_from_the_job_duration_is_a_report_violation() -> None:
    plan = route("T1", visit("J1", hm(8, 10), duration_s=H - 60), start_s=hm(8), end_s=hm(9, 19))
    assert found(run(one_job_day(), plan)) == [(REPORT, "J1", "T1")]


def test_an_arrival_after_the_visit_starts_is_a_report_violation() -> None:
    plan = route("T1", visit("J1", hm(8, 10), arrival_s=hm(8, 11)), start_s=hm(8), end_s=hm(9, 20))
    assert found(run(one_job_day(), plan)) == [(REPORT, "J1", "T1")]


def test_an_unassigned_job_without_a_reason_is_a_report_violation() -> None:
    blank = Unassigned("J2", ReasonCode.DAY_FULL, "  ")
    assert found(run(two_job_day(), ONLY_J1, unassigned=(blank,))) == [(REPORT, "J2", None)]


# --- Objective recomputation -------------------------------------------------------------------------------


def test_hourly_and_per_km_rates_become_milli_cents_per_second_and_per_metre() -> None:
    """3600 cents/h → 1000 mc/s; 36 cents/km → 36 mc/m; 7200 cents/h overtime → 2000 mc/s."""
    problem = Problem((tech(cost=CostProfile(per_hour_cents=3600, per_km_cents=36, overtime_per_hour_cents=7200)),), ())
    coeffs = coefficients(problem, provider().travel)
    assert coeffs.unit_mc == 1
    assert coeffs.per_s == {"T1": 1000}
    assert coeffs.per_m == {"T1": 36}
    assert coeffs.overtime_per_s == {"T1": 2000}


def test_a_two_hour_route_of_ten_km_costs_its_span_at_the_hourly_rate_plus_its_distance_at_the_km_rate() -> None:
    """08:00–10:00 is 7200 s × 1000 mc = 7200.00 cents; 2 × 5000 m × 36 mc = 360.00 cents."""
    problem = Problem((tech(cost=CostProfile(per_hour_cents=3600, per_km_cents=36)),), (job("J1", A, duration_s=6000),))
    plan = route("T1", visit("J1", hm(8, 10), duration_s=6000), start_s=hm(8), end_s=hm(10))
    report = run(problem, plan)
    assert report.feasible
    assert report.objective.time_cost == 7200.0
    assert report.objective.distance_cost == 360.0
    assert report.objective.cost == 7560.0
    assert report.objective.total_units == 7_560_000


def test_an_unused_technician_costs_nothing() -> None:
    problem = Problem((tech(cost=CostProfile(per_hour_cents=3600, per_km_cents=36, per_job_cents=5000)),), ())
    assert run(problem, idle("T1")).objective.total_units == 0


def test_overtime_is_paid_on_top_of_the_hourly_rate_for_every_second_after_the_shift_end() -> None:
    """Out 15:10, back 16:30 with the shift ending 16:00: 4800 s × 1000 mc + 1800 s × 2000 mc."""
    cost = CostProfile(per_hour_cents=3600, overtime_per_hour_cents=7200)
    problem = Problem((tech(max_overtime_s=H, cost=cost),), (job("J1", A),))
    plan = route("T1", visit("J1", hm(15, 20)), start_s=hm(15, 10), end_s=hm(16, 30))
    report = run(problem, plan)
    assert report.feasible
    assert report.objective.time_cost == 4800.0
    assert report.objective.overtime_cost == 3600.0
    assert report.objective.total_units == 8_400_000


def test_a_partner_is_paid_per_job_served() -> None:
    """Two jobs at 5000 cents each; no hourly or km rate."""
    partner = tech(kind=TechnicianKind.PARTNER, cost=CostProfile(per_job_cents=5000))
    problem = Problem((partner,), (job("J1", A), job("J2", B)))
    report = run(problem, two_visits())
    assert report.feasible
    assert report.objective.job_cost == 10000.0
    assert report.objective.time_cost == 0.0
    assert report.objective.total_units == 10_000_000


def test_each_partner_of_a_crew_is_paid_for_the_crew_job() -> None:
    partners = tuple(tech(t, kind=TechnicianKind.PARTNER, cost=CostProfile(per_job_cents=5000)) for t in ("T1", "T2"))
    problem = Problem(partners, (job("J1", A, crew_size=2),))
    t1 = route("T1", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20))
    t2 = route("T2", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20))
    assert run(problem, t1, t2).objective.job_cost == 10000.0


@pytest.mark.parametrize(
    ("start_s", "penalty_cents"),
    [(hm(8, 45), 900.0), (hm(9), 0.0), (hm(9, 30), 0.0), (hm(10), 0.0), (hm(10, 15), 900.0), (hm(11), 3600.0)],
)
def test_each_minute_outside_the_preferred_window_costs_the_soft_penalty(start_s: int, penalty_cents: float) -> None:
    """Preferred 09:00–10:00 at 60 cents a minute: 15 minutes early or late cost 900 cents."""
    soft = job("J1", A, preferred_window=TimeWindow(hm(9), hm(10)), soft_penalty_per_min_cents=60)
    problem = Problem((tech(),), (soft,))
    report = run(problem, starting_at(start_s))
    assert report.feasible
    assert report.objective.soft_window_penalty == penalty_cents


@pytest.mark.parametrize(
    ("start_s", "penalty_cents"),
    [(hm(8, 59), 60.0 + 1500.0), (hm(9), 0.0), (hm(10), 0.0), (hm(10, 1), 60.0 + 1500.0), (hm(11), 3600.0 + 1500.0)],
)
def test_a_start_outside_the_preferred_window_costs_its_fixed_penalty_once_besides_the_minutes(
    start_s: int, penalty_cents: float
) -> None:
    """Preferred 09:00-10:00 at 60 cents a minute and 15 euros for being outside at all
    (a customer told a new time): one minute out costs 15.60 euros, inside nothing."""
    soft = job(
        "J1", A, preferred_window=TimeWindow(hm(9), hm(10)), soft_penalty_per_min_cents=60, soft_penalty_cents=1500
    )
    report = run(Problem((tech(),), (soft,)), starting_at(start_s))
    assert report.feasible
    assert report.objective.soft_window_penalty == penalty_cents


def test_a_crew_job_outside_its_preferred_window_is_penalised_once() -> None:
    soft = job("J1", A, crew_size=2, preferred_window=TimeWindow(hm(9), hm(10)), soft_penalty_per_min_cents=60)
    problem = Problem((tech("T1"), tech("T2")), (soft,))
    t1 = route("T1", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20))
    t2 = route("T2", visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20))
    report = run(problem, t1, t2)
    assert report.feasible
    assert report.objective.soft_window_penalty == 50 * 60.0


@pytest.mark.parametrize(
    ("weights", "served_by", "penalty_cents"),
    [(Weights(), "T1", 0.0), (Weights(), "T2", 2000.0), (Weights(preferred_technician_miss_cents=500), "T2", 500.0)],
)
def test_serving_a_job_without_its_preferred_technician_costs_the_preference_weight(
    weights: Weights, served_by: str, penalty_cents: float
) -> None:
    problem = Problem((tech("T1"), tech("T2")), (job("J1", A, preferred_technician_id="T1"),), weights)
    routes = {t: idle(t) for t in ("T1", "T2")}
    routes[served_by] = route(served_by, visit("J1", hm(8, 10)), start_s=hm(8), end_s=hm(9, 20))
    report = run(problem, *routes.values())
    assert report.feasible
    assert report.objective.preference_penalty == penalty_cents


def test_leaving_out_a_job_with_a_preferred_technician_also_costs_the_preference_weight() -> None:
    """Nobody serves it, so its preferred technician does not either (a re-plan's told technician)."""
    weights = Weights(preferred_technician_miss_cents=500)
    preferred = job("J1", A, preferred_technician_id="T1")
    problem = Problem((tech("T1"),), (preferred, job("J2", B)), weights)
    _, matrices = problem_travel(problem, provider())
    coeffs = coefficients(problem, matrices)
    report = run(problem, idle("T1"), unassigned=(day_full("J1"), day_full("J2")))
    assert report.feasible
    assert report.objective.preference_penalty == 500.0
    assert coeffs.left_out_cost(preferred) == coeffs.drop_cost(preferred.priority, 1) + 500_000
    assert coeffs.left_out_cost(problem.jobs[1]) == coeffs.drop_cost(problem.jobs[1].priority, 1)


def priority_day() -> Problem:
    """One 08:00–16:00 technician (3600 c/h, 36 c/km) and one job of each priority at A, B, C."""
    return Problem(
        (tech(cost=CostProfile(per_hour_cents=3600, per_km_cents=36)),),
        (job("P1", A, priority=1), job("P2", B, priority=2), job("P3", C, priority=3)),
    )


# 600 s and 6000 m per leg: 10 m/s, so the day's km bound is exact.
FAST = provider(travel_s=600, metres=6000)


def test_drop_penalties_are_stacked_above_every_cost_of_the_day() -> None:
    """Each priority tier is one unit more than every cost plus every lower tier's drops."""
    problem = priority_day()
    _, matrices = problem_travel(problem, FAST)
    coeffs = coefficients(problem, matrices)
    # 8 h span × 1000 mc/s + (8 h × 10 m/s + 1 m) × 36 mc/m + 3 preference misses × 2000 cents.
    bound = 28_800 * 1000 + 288_001 * 36 + 3 * 2_000_000
    assert bound == 45_168_036
    assert coeffs.drop_penalty == {
        3: bound + 1,
        2: bound + (bound + 1) + 1,
        1: bound + (bound + 1) + (2 * bound + 2) + 1,
        # The tier of booked appointments, above the one priority-1 job.
        0: bound + (bound + 1) + (2 * bound + 2) + (4 * bound + 4) + 1,
    }
    assert coeffs.drop_penalty == {3: 45_168_037, 2: 90_336_074, 1: 180_672_148, 0: 361_344_296}
    assert coeffs.drop_cost(2, 2) == 2 * 90_336_074


def test_dropping_a_priority_1_job_costs_more_than_dropping_every_lower_priority_job_and_working_all_day() -> None:
    problem = priority_day()
    # Serves P2 and P3 in 2.5 h and drops P1.
    drop_p1 = run(
        problem,
        route(
            "T1",
            visit("P2", hm(8, 10), distance_m=6000),
            visit("P3", hm(9, 20), distance_m=6000),
            start_s=hm(8),
            end_s=hm(10, 30),
            return_distance_m=6000,
        ),
        unassigned=(day_full("P1"),),
        travel=FAST,
    )
    # Serves P1 on the longest legal day, 08:00–16:00, and drops P2 and P3.
    drop_p2_p3 = run(
        problem,
        route(
            "T1",
            visit("P1", hm(14, 50), arrival_s=hm(8, 10), distance_m=6000),
            start_s=hm(8),
            end_s=hm(16),
            return_distance_m=6000,
        ),
        unassigned=(day_full("P2"), day_full("P3")),
        travel=FAST,
    )
    assert drop_p1.feasible and drop_p2_p3.feasible
    assert drop_p1.objective.unassigned_penalty == 180_672.148
    assert drop_p2_p3.objective.unassigned_penalty == 135_504.111
    assert drop_p2_p3.objective.cost == 28_800.0 + 432.0
    assert drop_p1.objective.total_units > drop_p2_p3.objective.total_units


def test_dropping_a_crew_job_costs_its_priority_penalty_once_per_member() -> None:
    problem = Problem((tech("T1"), tech("T2")), (job("J1", A, priority=2, crew_size=2),))
    _, matrices = problem_travel(problem, provider())
    coeffs = coefficients(problem, matrices)
    report = run(problem, idle("T1"), idle("T2"), unassigned=(day_full("J1"),))
    assert report.objective.total_units == 2 * coeffs.drop_penalty[2]


def test_serving_a_job_far_outside_its_preferred_window_costs_less_than_dropping_it() -> None:
    """Preferred 00:00–01:00 at 60 c/min but only 14:00 is possible: 13 h late outweighs a priority-3 drop."""
    soft = job(
        "J1",
        A,
        windows=(TimeWindow(hm(14), hm(14)),),
        preferred_window=TimeWindow(hm(0), hm(1)),
        soft_penalty_per_min_cents=60,
    )
    problem = Problem((tech(),), (soft,))
    served = run(problem, starting_at(hm(14)))
    dropped = run(problem, idle("T1"), unassigned=(day_full("J1"),))
    assert served.feasible and dropped.feasible
    # 13 h = 46 800 s × 1000 mc/s.
    assert served.objective.soft_window_penalty == 46_800.0
    assert served.objective.total_units < dropped.objective.total_units
