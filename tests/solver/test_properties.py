"""Properties of ``solve`` on random small days, judged by the independent checker."""

from __future__ import annotations

import math
from dataclasses import replace

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from solver import (
    RELOAD_ID,
    Break,
    CheckReport,
    CostProfile,
    Depot,
    HaversineProvider,
    Job,
    Location,
    Problem,
    SearchSettings,
    Shift,
    Solution,
    SolveOptions,
    Technician,
    TechnicianKind,
    TimeWindow,
    TravelMatrices,
    ViolationKind,
    check,
    problem_travel,
    solve,
)
from solver.replan import Position, remaining
from solver.travel import PointIndex

H = 3600
CODES = ("wardrobe", "kitchen", "glass")
ORIGIN_LAT, ORIGIN_LON = 60.17, 24.93
M_PER_DEG_LAT = 111_320.0
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(ORIGIN_LAT))

PROPERTY = settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.filter_too_much]
)


@st.composite
def locations(draw: st.DrawFn) -> Location:
    """A point in a 5 km × 5 km box in Helsinki."""
    north_m = draw(st.integers(0, 5000))
    east_m = draw(st.integers(0, 5000))
    return Location(ORIGIN_LAT + north_m / M_PER_DEG_LAT, ORIGIN_LON + east_m / M_PER_DEG_LON)


@st.composite
def technicians(draw: st.DrawFn, tech_id: str, codes: tuple[str, ...]) -> Technician:
    start_h = draw(st.integers(7, 9))
    end_h = start_h + draw(st.integers(6, 9))
    lunch = None
    if draw(st.booleans()):
        earliest = draw(st.sampled_from([11 * H, 11 * H + 1800, 12 * H]))
        lunch = Break(earliest, earliest + draw(st.sampled_from([0, H, 2 * H])), draw(st.sampled_from([1800, 2700])))
    partner = draw(st.sampled_from([False, False, False, True]))
    cost = CostProfile(
        per_hour_cents=draw(st.integers(2000, 6000)),
        per_km_cents=0 if partner else draw(st.integers(0, 60)),
        per_job_cents=draw(st.sampled_from([2000, 5000])) if partner else 0,
        overtime_per_hour_cents=draw(st.sampled_from([0, 6000])),
    )
    return Technician(
        tech_id,
        draw(locations()),
        Shift(start_h * H, end_h * H, lunch),
        end=draw(st.none() | locations()),
        kind=TechnicianKind.PARTNER if partner else TechnicianKind.EMPLOYEE,
        skills={code: level for code in codes if (level := draw(st.sampled_from([0, 1, 2, 3, 3]))) > 0},
        max_jobs=draw(st.sampled_from([None, None, None, 0, 2, 3, 4])),
        max_overtime_s=draw(st.sampled_from([0, 0, 1800, 3600])),
        cost=cost,
    )


@st.composite
def windows(draw: st.DrawFn) -> tuple[TimeWindow, ...]:
    """No window, one window, or two windows with a gap between them."""
    count = draw(st.integers(0, 2))
    if count == 0:
        return ()
    start = draw(st.integers(8 * 4, 14 * 4)) * 900
    first = TimeWindow(start, start + draw(st.integers(1, 4)) * 1800)
    if count == 1:
        return (first,)
    second_start = first.end_s + draw(st.integers(1, 4)) * 1800
    return first, TimeWindow(second_start, second_start + draw(st.integers(1, 4)) * 1800)


@st.composite
def jobs(draw: st.DrawFn, job_id: str, codes: tuple[str, ...], techs: tuple[Technician, ...]) -> Job:
    levels = {code: draw(st.sampled_from([0, 0, 1, 2])) for code in codes}
    skills = {code: level for code, level in levels.items() if level > 0}
    qualified = [t.id for t in techs if t.has_skills(skills)]
    pinned = draw(st.sampled_from(qualified)) if qualified and draw(st.sampled_from([0, 0, 0, 1])) else None
    preferred_window = None
    if draw(st.sampled_from([0, 0, 1])):
        start = draw(st.integers(8, 15)) * H
        preferred_window = TimeWindow(start, start + draw(st.integers(1, 3)) * H)
    return Job(
        job_id,
        draw(locations()),
        draw(st.integers(1, 12)) * 900,
        skills=skills,
        windows=draw(windows()),
        preferred_window=preferred_window,
        soft_penalty_per_min_cents=draw(st.integers(0, 100)) if preferred_window else 0,
        soft_penalty_cents=draw(st.sampled_from([0, 0, 1500])) if preferred_window else 0,
        release_s=draw(st.none() | st.integers(8, 13).map(lambda h: h * H)),
        deadline_s=draw(st.none() | st.integers(10, 18).map(lambda h: h * H)),
        priority=draw(st.integers(1, 3)),
        pinned_technician_id=pinned,
        preferred_technician_id=draw(st.none() | st.sampled_from([t.id for t in techs])),
        crew_size=draw(st.sampled_from([1, 1, 1, 1, 2])),
    )


@st.composite
def days(draw: st.DrawFn) -> Problem:
    """2–3 technicians and 2–7 jobs, with skills from 2–3 codes and a bit of everything."""
    codes = CODES[: draw(st.integers(2, 3))]
    techs = tuple(draw(technicians(f"T{i}", codes)) for i in range(draw(st.integers(2, 3))))
    day_jobs = tuple(draw(jobs(f"J{i}", codes, techs)) for i in range(draw(st.integers(2, 7))))
    return Problem(techs, day_jobs)


@st.composite
def days_with_a_depot(draw: st.DrawFn) -> Problem:
    """A random day where technicians carry a few panels, jobs use some, and a depot
    lends glass tools at level 2 and restocks panels (see ``Depot``)."""
    day = draw(days())
    techs = tuple(replace(t, capacity={"panel": draw(st.integers(0, 3))}) for t in day.technicians)
    day_jobs = tuple(replace(j, demand={"panel": draw(st.integers(0, 2))}) for j in day.jobs)
    depot = Depot(
        draw(locations()),
        stop_s=draw(st.sampled_from([0, 600, 1800])),
        restock={"panel": draw(st.integers(0, 6))},
        skills={"glass": 2},
    )
    return replace(day, technicians=techs, jobs=day_jobs, depot=depot)


@st.composite
def days_re_planned(draw: st.DrawFn) -> Problem:
    """A random day (with a depot or not) re-planned at an instant between 9:00 and
    15:00, some technicians out somewhere, free again up to two hours before or after
    it, after a visit or two (``solver.replan.remaining``)."""
    day = draw(days() | days_with_a_depot())
    now = draw(st.integers(9, 15)) * H
    positions = {
        t.id: Position(draw(locations()), now + draw(st.integers(-2 * H, 2 * H)), served=draw(st.integers(0, 2)))
        for t in day.technicians
        if draw(st.booleans())
    }
    return remaining(day, now, positions=positions)


def solve_and_check(problem: Problem) -> tuple[Solution, PointIndex, TravelMatrices, CheckReport]:
    solution = solve(problem, SolveOptions(time_limit_s=0.5))
    points, travel = problem_travel(problem, HaversineProvider())
    return solution, points, travel, check(problem, solution, points, travel)


@PROPERTY
@given(days())
def test_every_random_day_is_planned_without_violations_and_every_job_is_accounted_for(problem: Problem) -> None:
    """No violation, each job served or unassigned with a reason, and the objective the checker recomputes."""
    solution, _, _, report = solve_and_check(problem)
    assert report.violations == ()
    served = solution.served_job_ids()
    unassigned = {u.job_id for u in solution.unassigned}
    assert served | unassigned == {j.id for j in problem.jobs}
    assert not served & unassigned
    assert all(u.reason.strip() for u in solution.unassigned)
    assert solution.objective == report.objective


@PROPERTY
@given(days(), st.integers(0, 2))
def test_moving_a_routes_last_visit_three_hours_later_is_caught_by_the_checker(problem: Problem, pick: int) -> None:
    """Only the drive home (and maybe lunch) follows a last visit, so 3 h later cannot fit."""
    solution, points, travel, _ = solve_and_check(problem)
    used = [r for r in solution.routes if r.visits]
    assume(used)
    route = used[pick % len(used)]
    last = route.visits[-1]
    moved = replace(last, start_s=last.start_s + 3 * H, end_s=last.end_s + 3 * H)
    tampered = replace(route, visits=(*route.visits[:-1], moved))
    routes = tuple(tampered if r is route else r for r in solution.routes)
    report = check(problem, replace(solution, routes=routes), points, travel)
    assert set(report.kinds) & {ViolationKind.WINDOW, ViolationKind.TRAVEL, ViolationKind.SHIFT}


@PROPERTY
@given(days_with_a_depot())
def test_every_random_day_with_a_depot_is_planned_without_violations(problem: Problem) -> None:
    """Depot stops at most once a route, stock and lent tools as the checker counts them, every job accounted for."""
    solution, _, _, report = solve_and_check(problem)
    assert report.violations == ()
    assert all(sum(v.job_id == RELOAD_ID for v in r.visits) <= 1 for r in solution.routes)
    assert all(r.visits[-1].job_id != RELOAD_ID for r in solution.routes if r.visits)  # no idle stop at the end
    served = solution.served_job_ids()
    assert served | {u.job_id for u in solution.unassigned} == {j.id for j in problem.jobs}
    assert solution.objective == report.objective


@PROPERTY
@given(days_re_planned())
def test_every_random_day_re_planned_with_technicians_out_is_planned_without_violations(problem: Problem) -> None:
    """Technicians out are paid from when they were free and drive home in any case; the
    plan keeps every rule, accounts for every job, and reports the checker's objective."""
    solution, _, _, report = solve_and_check(problem)
    assert report.violations == ()
    served = solution.served_job_ids()
    assert served | {u.job_id for u in solution.unassigned} == {j.id for j in problem.jobs}
    assert solution.objective == report.objective


@PROPERTY
@given(days_re_planned())
def test_every_random_day_re_planned_with_technicians_out_is_planned_without_violations_by_or_tools_too(
    problem: Problem,
) -> None:
    """The same with OR-Tools planning (as until the compiled search is ready)."""
    options = SolveOptions(time_limit_s=0.5, search=SearchSettings(ruin_and_recreate=False, portfolio=False))
    solution = solve(problem, options)
    points, travel = problem_travel(problem, HaversineProvider())
    report = check(problem, solution, points, travel)
    assert report.violations == ()
    assert solution.served_job_ids() | {u.job_id for u in solution.unassigned} == {j.id for j in problem.jobs}
