"""The engine end to end on small days: every answer is checked and explained."""

from __future__ import annotations

import dataclasses
import multiprocessing
import threading
import time
from typing import Any

import pytest

from solver import (
    Break,
    Cancelled,
    CostProfile,
    HaversineProvider,
    Job,
    Location,
    Problem,
    Progress,
    ReasonCode,
    SearchSettings,
    Shift,
    SolveOptions,
    Technician,
    TimeWindow,
    Unassigned,
    check,
    problem_travel,
    solve,
)
from solver.insertion import insert as _insert
from solver.insertion import insert_clearing as _insert_clearing
from solver.insertion import insert_displacing as _insert_displacing
from solver.insertion import insert_moving_one as _insert_moving_one
from solver.objective import coefficients
from solver.plan import Plan as _Plan
from solver.plan import WorkingRoute
from solver.repair import repair
from solver.schedule import RouteTimer
from solver.search.strategy import Forked as _ColdSearch
from solver.solution import Solution
from solver.travel import PointIndex, TravelMatrices
from tests.solver.conftest import H, grid


def test_a_mixed_day_is_planned_without_violations_and_every_job_is_accounted_for(mixed_day: Problem) -> None:
    solution = solve(mixed_day, SolveOptions(time_limit_s=2))
    report = check(mixed_day, solution, *problem_travel(mixed_day, HaversineProvider()))
    assert report.violations == ()
    served = solution.served_job_ids()
    unassigned = {u.job_id for u in solution.unassigned}
    assert served | unassigned == {j.id for j in mixed_day.jobs}
    assert not served & unassigned


def test_a_repair_whose_possible_starts_began_the_evening_before_says_so_in_its_reason() -> None:
    """An urgent repair entered at 00:30 with the standard four hours: possible from the
    evening before to 04:30, which no shift reaches. Before, its reason read
    "-2:00–04:30"."""
    tech = Technician("T", grid(0), Shift(8 * H, 16 * H), cost=CostProfile(3600, 30))
    repair_job = Job("R", grid(1), H, windows=(TimeWindow(-2 * H, 4 * H + 1800),), priority=1)
    solution = solve(Problem((tech,), (repair_job,)), SolveOptions(time_limit_s=0.5))
    (left,) = solution.unassigned
    assert left.code == ReasonCode.NO_SHIFT_IN_WINDOW
    assert "(22:00 the day before–04:30; the qualified technicians are available 08:00–16:00)" in left.reason, (
        left.reason
    )


def test_a_job_nobody_is_qualified_for_is_explained_before_the_solve(mixed_day: Problem) -> None:
    solution = solve(mixed_day, SolveOptions(time_limit_s=1))
    reasons = {u.job_id: u for u in solution.unassigned}
    assert reasons["NOSKILL"].code is ReasonCode.NO_SKILL
    assert "glass level 3" in reasons["NOSKILL"].reason


def test_a_day_nobody_works_says_so_rather_than_blaming_a_skill() -> None:
    job = Job("J", grid(1), H, skills={"kitchen": 1})
    solution = solve(Problem(technicians=(), jobs=(job,)), SolveOptions(time_limit_s=1))
    (why,) = solution.unassigned
    assert why.code is ReasonCode.NO_SHIFT_IN_WINDOW
    assert why.reason == "Nobody works this day: plan it on a day someone works."


def _one_technician_day(job: Job) -> Problem:
    tech = Technician("T1", grid(0), Shift(8 * H, 16 * H), skills={"kitchen": 2})
    return Problem(technicians=(tech,), jobs=(job,))


def test_a_full_day_names_each_qualified_technicians_own_count_of_jobs_not_their_sum() -> None:
    """Three five-hour kitchens that must start 08:00-09:00, two kitchen fitters: one is
    left out, its reason giving each fitter's one job. Before: "every qualified
    technician is booked with 2 jobs", the two fitters' jobs added up."""
    techs = tuple(Technician(t, grid(0), Shift(8 * H, 16 * H), skills={"kitchen": 2}) for t in ("T1", "T2"))
    jobs = tuple(
        Job(j, grid(1), 5 * H, skills={"kitchen": 1}, windows=(TimeWindow(8 * H, 9 * H),)) for j in ("K1", "K2", "K3")
    )
    solution = solve(Problem(technicians=techs, jobs=jobs), SolveOptions(time_limit_s=1))
    (why,) = solution.unassigned
    assert why.code is ReasonCode.DAY_FULL
    assert "(T1 1, T2 1)" in why.reason, why.reason


def test_a_job_of_any_time_that_no_day_has_room_for_says_so_in_words_not_in_hours_of_other_days() -> None:
    long_one = Job("LONG", grid(3), 9 * H, skills={"kitchen": 1})
    solution = solve(_one_technician_day(long_one), SolveOptions(time_limit_s=1))
    (why,) = solution.unassigned
    assert why.code is ReasonCode.TOO_LONG
    # Shorter than the shift, but not with the drives there and home: too long all the same.
    late = Job("LATE", grid(3), 8 * H - 60, skills={"kitchen": 1}, windows=(TimeWindow(-24 * H, 360 * H),))
    solution = solve(_one_technician_day(late), SolveOptions(time_limit_s=1))
    (why,) = solution.unassigned
    assert why.code is ReasonCode.TOO_LONG
    assert "with the drive there and back" in why.reason
    assert "-24" not in why.reason and "360" not in why.reason


def test_a_job_that_fits_the_day_only_without_the_drives_is_too_long_not_out_of_reach_of_its_window() -> None:
    job = Job("ALLDAY", grid(3), 8 * H - 60, skills={"kitchen": 1}, windows=(TimeWindow(8 * H, 9 * H),))
    solution = solve(_one_technician_day(job), SolveOptions(time_limit_s=1))
    (why,) = solution.unassigned
    assert why.code is ReasonCode.TOO_LONG
    # A shorter one that only misses its window is still told so.
    short = dataclasses.replace(job, duration_s=2 * H, windows=(TimeWindow(6 * H, 8 * H),))
    solution = solve(_one_technician_day(short), SolveOptions(time_limit_s=1))
    (why,) = solution.unassigned
    assert why.code is ReasonCode.NO_SHIFT_IN_WINDOW
    assert "(06:00–08:00; the qualified technicians are available 08:00–16:00)" in why.reason


def test_a_window_that_no_shift_reaches_is_shown_inside_the_technicians_day() -> None:
    job = Job("EVENING", grid(3), 2 * H, skills={"kitchen": 1}, windows=(TimeWindow(15 * H, 30 * H),))
    solution = solve(_one_technician_day(job), SolveOptions(time_limit_s=1))
    (why,) = solution.unassigned
    assert why.code is ReasonCode.NO_SHIFT_IN_WINDOW
    assert "(15:00–16:00)" in why.reason
    after = dataclasses.replace(job, windows=(TimeWindow(17 * H, 19 * H),))
    (why,) = solve(_one_technician_day(after), SolveOptions(time_limit_s=1)).unassigned
    assert "(17:00–19:00; the qualified technicians are available 08:00–16:00)" in why.reason


def test_goods_ready_the_next_morning_are_said_to_be_ready_then_not_at_that_hour_of_the_day() -> None:
    """Before: "Goods are ready at 09:30, after every qualified shift ends" of a day to 16:00."""
    job = Job("LATE_GOODS", grid(3), H, skills={"kitchen": 1}, release_s=33 * H + 1800)
    (why,) = solve(_one_technician_day(job), SolveOptions(time_limit_s=1)).unassigned
    assert why.code is ReasonCode.RELEASED_TOO_LATE
    assert why.reason == "Goods are ready at 09:30 the next day, after every qualified shift ends.", why


def test_a_crew_of_two_is_served_by_two_technicians_starting_together() -> None:
    lunch = Break(11 * H, 13 * H, 1800)
    techs = tuple(
        Technician(t, grid(i), Shift(8 * H, 16 * H, lunch), skills={"kitchen": 2}, cost=CostProfile(3600, 30))
        for i, t in enumerate(("T1", "T2", "T3"))
    )
    jobs = (
        Job("CREW", grid(6), 3 * H, skills={"kitchen": 1}, windows=(TimeWindow(9 * H, 10 * H),), crew_size=2),
        Job("SOLO1", grid(8), H, windows=(TimeWindow(9 * H, 12 * H),)),
        Job("SOLO2", grid(9), H),
    )
    problem = Problem(techs, jobs)
    solution = solve(problem, SolveOptions(time_limit_s=2))
    crew = [(r.technician_id, v.start_s) for r in solution.routes for v in r.visits if v.job_id == "CREW"]
    assert len(crew) == 2
    assert crew[0][0] != crew[1][0]
    assert crew[0][1] == crew[1][1]
    assert 9 * H <= crew[0][1] <= 10 * H


def test_progress_is_reported_during_the_search_and_ends_at_done(mixed_day: Problem) -> None:
    seen: list[Progress] = []
    solve(mixed_day, SolveOptions(time_limit_s=1, progress_interval_s=0.1), progress=seen.append)
    assert len(seen) >= 3
    assert seen[-1].phase == "done"
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions)
    assert all(0.0 <= f <= 1.0 for f in fractions)


def test_a_cancelled_solve_raises_instead_of_returning_a_plan(mixed_day: Problem) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        solve(mixed_day, SolveOptions(time_limit_s=30), cancel=cancel)


def _no_crew_day() -> Problem:
    """Four technicians and twenty single jobs with windows: the portfolio starts its
    cold search at once on such a day."""
    techs = tuple(
        Technician(t, grid(i), Shift(8 * H, 17 * H), cost=CostProfile(3600, 30)) for i, t in enumerate("ABCD")
    )
    jobs = tuple(
        Job(f"J{i}", grid(i + 2), 1800, windows=(TimeWindow((8 + i % 6) * H, (10 + i % 6) * H),) if i % 2 else ())
        for i in range(20)
    )
    return Problem(techs, jobs)


@pytest.mark.parametrize("portfolio", [True, False])
def test_with_and_without_the_portfolio_the_plan_is_checked_and_complete(portfolio: bool) -> None:
    problem = _no_crew_day()
    options = SolveOptions(time_limit_s=1.5, search=SearchSettings(portfolio=portfolio))
    solution = solve(problem, options)
    report = check(problem, solution, *problem_travel(problem, HaversineProvider()))
    assert report.violations == ()
    assert solution.served_job_ids() == {j.id for j in problem.jobs}
    assert solution.stats is not None and solution.stats.wall_time_s <= 1.5 + 0.1


def test_the_portfolio_keeps_the_time_limit_and_leaves_no_process_behind(mixed_day: Problem) -> None:
    started = time.monotonic()
    solution = solve(mixed_day, SolveOptions(time_limit_s=1.0))
    assert time.monotonic() - started < 1.0 + 0.15
    assert check(mixed_day, solution, *problem_travel(mixed_day, HaversineProvider())).violations == ()
    assert multiprocessing.active_children() == []


def test_cancelling_during_the_portfolio_search_raises_soon_and_ends_the_cold_search() -> None:
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        solve(_no_crew_day(), SolveOptions(time_limit_s=20), cancel=cancel)
    assert time.monotonic() - started < 2.0
    assert multiprocessing.active_children() == []


def test_the_cold_search_answers_by_its_deadline_and_a_cancel_stops_the_wait() -> None:
    problem = _no_crew_day()
    points, travel = problem_travel(problem, HaversineProvider())
    coeffs = coefficients(problem, travel)
    jobs = list(problem.jobs)
    deadline = time.monotonic() + 0.5
    settings = SearchSettings()
    cold = _ColdSearch.start(
        problem, jobs, points, travel, coeffs, deadline, settings, settings.cold_searches, {}, True, 0
    )
    assert cold is not None
    try:
        raw = cold.result(deadline + 0.5, None)
    finally:
        cold.close()
    assert raw is not None and raw.found
    assert {v.job_id for r in raw.routes for v in r.visits} == {j.id for j in jobs}

    cancel = threading.Event()
    cancel.set()
    cold = _ColdSearch.start(
        problem, jobs, points, travel, coeffs, time.monotonic() + 30, settings, settings.cold_searches, {}, True, 0
    )
    assert cold is not None
    started = time.monotonic()
    try:
        assert cold.result(time.monotonic() + 30, cancel) is None
    finally:
        cold.close()
    assert time.monotonic() - started < 1.0
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize(
    "settings",
    [
        # The compiled ruin and recreate (the default for such a day), and OR-Tools' cold searches.
        SearchSettings(),
        SearchSettings(ruin_and_recreate=False),
        SearchSettings(portfolio=False, ruin_and_recreate=False),
        # Restarts: every search stalls at once, so several run one after another.
        SearchSettings(stall_ratio=0.0, stall_min_fraction=0.0, restart_min_fraction=0.05, ruin_and_recreate=False),
    ],
)
def test_a_large_day_without_crews_gets_a_checked_complete_plan(settings: SearchSettings) -> None:
    lunch = Break(11 * H, 13 * H, 1800)
    techs = tuple(
        Technician(f"T{i}", grid(i), Shift(7 * H, 19 * H, lunch), cost=CostProfile(3600, 30)) for i in range(8)
    )
    jobs = tuple(
        Job(f"J{i}", grid(i * 7 % 25), 900, windows=(TimeWindow((8 + i % 8) * H, (11 + i % 8) * H),) if i % 3 else ())
        for i in range(70)
    )
    problem = Problem(techs, jobs)
    assert len(jobs) > SearchSettings().detailed_model_max_visits
    solution = solve(problem, SolveOptions(time_limit_s=3, search=settings))
    assert check(problem, solution, *problem_travel(problem, HaversineProvider())).violations == ()
    # A route that cannot hold its lunch after the search gives a job back to the repair
    # step, which may run out of budget on a loaded machine: that job then says so.
    assert solution.served_job_ids() | {u.job_id for u in solution.unassigned} == {j.id for j in jobs}
    assert all(u.code is ReasonCode.TIME_LIMIT for u in solution.unassigned)
    assert len(solution.unassigned) <= 2
    assert solution.stats is not None and solution.stats.wall_time_s <= 3 + 0.1


def test_a_crew_leaves_free_the_one_technician_who_can_do_another_job() -> None:
    # T1 is nearest the crew job, but only T1 can fit glass; the crew goes to T2 and T3.
    techs = tuple(
        Technician(t, grid(i), Shift(8 * H, 16 * H), skills=skills, cost=CostProfile(3600, 30))
        for t, i, skills in (
            ("T1", 0, {"kitchen": 1, "glass": 1}),
            ("T2", 10, {"kitchen": 1}),
            ("T3", 11, {"kitchen": 1}),
        )
    )
    jobs = (
        Job("CREW", grid(1), 6 * H, skills={"kitchen": 1}, windows=(TimeWindow(9 * H, 10 * H),), crew_size=2),
        Job("GLASS", grid(2), 4 * H, skills={"glass": 1}, windows=(TimeWindow(9 * H, 12 * H),)),
    )
    problem = Problem(techs, jobs)

    solution = solve(problem, SolveOptions(time_limit_s=2))

    assert check(problem, solution, *problem_travel(problem, HaversineProvider())).violations == ()
    assert solution.unassigned == ()
    on = sorted((v.job_id, r.technician_id) for r in solution.routes for v in r.visits)
    assert on == [("CREW", "T2"), ("CREW", "T3"), ("GLASS", "T1")]


def _glass_day(first: Job, **glass_fields: Any) -> tuple[Problem, RouteTimer, _Plan, Job, PointIndex, TravelMatrices]:
    """T1 alone has the glass skill; its 3-hour day already holds ``first`` (2 hours),
    so the 2-hour glass job returned (with ``glass_fields``) fits nowhere as the plan stands."""
    techs = (
        Technician("T1", grid(0), Shift(8 * H, 11 * H), skills={"glass": 1}, cost=CostProfile(3600, 30)),
        Technician("T2", grid(1), Shift(8 * H, 11 * H), cost=CostProfile(3600, 30)),
    )
    glass = Job("GLASS", grid(3), 2 * H, skills={"glass": 1}, **glass_fields)
    problem = Problem(techs, (first, glass))
    points, travel = problem_travel(problem, HaversineProvider())
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    plan = _Plan.empty(problem)
    plan.jobs["T1"], plan.fixed["T1"] = [first], [None]
    assert plan.retime(techs[0], timer)
    return problem, timer, plan, glass, points, travel


def test_the_repair_places_a_job_that_fits_nowhere_by_moving_another_job_to_a_technician_who_can_take_it() -> None:
    problem, timer, plan, glass, points, travel = _glass_day(Job("ANYONE", grid(2), 2 * H))

    assert not _insert(glass, problem, timer, plan)
    assert _insert_moving_one(glass, problem, timer, plan, time.monotonic() + 5)

    assert [j.id for j in plan.jobs["T1"]] == ["GLASS"]
    assert [j.id for j in plan.jobs["T2"]] == ["ANYONE"]
    solution = Solution(tuple(plan.routes[t.id] for t in problem.technicians), ())
    assert check(problem, solution, points, travel).violations == ()


def test_the_repair_never_moves_a_job_pinned_to_its_technician() -> None:
    problem, timer, plan, glass, _, _ = _glass_day(Job("PINNED", grid(2), 2 * H, pinned_technician_id="T1"))

    assert not _insert_moving_one(glass, problem, timer, plan, time.monotonic() + 5)
    assert [j.id for j in plan.jobs["T1"]] == ["PINNED"]
    assert plan.jobs["T2"] == []


def test_a_promise_that_fits_nowhere_takes_the_place_of_a_less_urgent_job_which_is_then_left_out() -> None:
    # T1's day holds a pinned priority-2 job: nothing can move, so the promised glass job
    # (priority 0) takes its place.
    problem, timer, plan, glass, points, travel = _glass_day(Job("PINNED", grid(2), 2 * H, pinned_technician_id="T1"))
    promise = dataclasses.replace(glass, priority=0)
    problem = dataclasses.replace(problem, jobs=(problem.jobs[0], promise))

    out = _insert_displacing(promise, problem, timer, plan, time.monotonic() + 5)

    assert out is not None and out.id == "PINNED"
    assert [j.id for j in plan.jobs["T1"]] == ["GLASS"]
    unassigned = (Unassigned("PINNED", ReasonCode.DAY_FULL, "taken out for a promise"),)
    assert check(
        problem, Solution(tuple(plan.routes[t.id] for t in problem.technicians), unassigned), points, travel
    ).feasible


def test_a_promise_blocked_by_a_crew_job_on_its_only_technician_is_kept_and_the_crew_goes_to_another_pair() -> None:
    """A1 alone may do the promise (pinned: its visit under way, say), to start 10:00-10:30
    for 75 minutes; the less urgent four-hour crew job, to start 10:00-11:00 next to A1's
    and B1's homes, is cheapest on A1 and B1. The promise is kept and the crew job goes to
    B1 and C1 (before, the promise was left out: crew visits never moved for it)."""
    techs = tuple(
        Technician(t, grid(i), Shift(7 * H, 16 * H), skills={"w": 2}) for i, t in enumerate(("A1", "B1", "C1"))
    )
    crew = Job("CREW", grid(1), 4 * H, skills={"w": 1}, windows=(TimeWindow(10 * H, 11 * H),), crew_size=2)
    promise = Job(
        "PROMISE",
        grid(8),
        75 * 60,
        skills={"w": 1},
        windows=(TimeWindow(10 * H, 10 * H + 1800),),
        priority=0,
        pinned_technician_id="A1",
    )
    solution = solve(Problem(techs, (crew, promise)), SolveOptions(time_limit_s=1))
    routes = {r.technician_id: [v.job_id for v in r.visits] for r in solution.routes}
    assert solution.unassigned == ()
    assert routes["A1"] == ["PROMISE"] and routes["B1"] == ["CREW"] and routes["C1"] == ["CREW"]


def _two_pinned_glass_day(priority: int) -> tuple[Problem, RouteTimer, _Plan, Job, PointIndex, TravelMatrices]:
    """T1 alone has the glass skill; its 3-hour day holds two 1-hour jobs pinned to it
    (of ``priority``), so a 2-hour promise fits there only with both taken out."""
    problem, timer, plan, glass, points, travel = _glass_day(
        Job("A", grid(2), H, pinned_technician_id="T1", priority=priority)
    )
    second = Job("B", grid(4), H, pinned_technician_id="T1", priority=priority)
    promise = dataclasses.replace(glass, priority=0)
    problem = dataclasses.replace(problem, jobs=(problem.jobs[0], second, promise))
    points, travel = problem_travel(problem, HaversineProvider())
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    plan = _Plan.empty(problem)
    plan.jobs["T1"], plan.fixed["T1"] = [problem.jobs[0], second], [None, None]
    assert plan.retime(problem.technicians[0], timer)
    return problem, timer, plan, promise, points, travel


def test_a_promise_that_one_exchange_cannot_place_clears_its_technicians_less_urgent_jobs() -> None:
    problem, timer, plan, promise, points, travel = _two_pinned_glass_day(priority=2)
    assert _insert_displacing(promise, problem, timer, plan, time.monotonic() + 5) is None

    out = _insert_clearing(promise, problem, timer, plan, time.monotonic() + 5)

    assert out is not None and sorted(o.id for o in out) == ["A", "B"]
    assert [j.id for j in plan.jobs["T1"]] == ["GLASS"]
    unassigned = tuple(Unassigned(o.id, ReasonCode.DAY_FULL, "taken out for a promise") for o in out)
    solution = Solution(tuple(plan.routes[t.id] for t in problem.technicians), unassigned)
    assert check(problem, solution, points, travel).violations == ()


def test_a_crew_promise_clears_two_technicians_who_then_start_it_together() -> None:
    techs = tuple(
        Technician(t, grid(i), Shift(8 * H, 11 * H), skills={"kitchen": 1}, cost=CostProfile(3600, 30))
        for i, t in enumerate(("T1", "T2"))
    )
    busy = [Job(f"B{i}", grid(3 + i), 2 * H, pinned_technician_id=t.id, priority=2) for i, t in enumerate(techs)]
    crew = Job(
        "CREW", grid(6), 2 * H, skills={"kitchen": 1}, windows=(TimeWindow(8 * H + 30 * 60, 9 * H),), crew_size=2
    )
    crew = dataclasses.replace(crew, priority=0)
    problem = Problem(techs, (*busy, crew))
    points, travel = problem_travel(problem, HaversineProvider())
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    plan = _Plan.empty(problem)
    for tech, job in zip(techs, busy, strict=True):
        plan.jobs[tech.id], plan.fixed[tech.id] = [job], [None]
        assert plan.retime(tech, timer)
    assert not _insert(crew, problem, timer, plan)

    out = _insert_clearing(crew, problem, timer, plan, time.monotonic() + 5)

    assert out is not None and sorted(o.id for o in out) == ["B0", "B1"]
    starts = {r.technician_id: [(v.job_id, v.start_s) for v in r.visits] for r in plan.routes.values()}
    assert starts["T1"] == starts["T2"] and starts["T1"][0][0] == "CREW"
    unassigned = tuple(Unassigned(o.id, ReasonCode.DAY_FULL, "taken out for a promise") for o in out)
    solution = Solution(tuple(plan.routes[t.id] for t in problem.technicians), unassigned)
    assert check(problem, solution, points, travel).violations == ()


def test_a_crew_promise_never_clears_a_partner_whose_day_is_full_of_what_cannot_move() -> None:
    techs = (
        Technician("T1", grid(0), Shift(8 * H, 16 * H), skills={"kitchen": 1}, cost=CostProfile(3600, 30), max_jobs=1),
        Technician("T2", grid(1), Shift(8 * H, 16 * H), skills={"kitchen": 1}, cost=CostProfile(3600, 30)),
    )
    fixed = Job("FIXED", grid(3), H, pinned_technician_id="T1")
    busy = Job("BUSY", grid(4), 6 * H, pinned_technician_id="T2", priority=2)
    crew = Job("CREW", grid(6), 2 * H, skills={"kitchen": 1}, windows=(TimeWindow(12 * H, 13 * H),), crew_size=2)
    crew = dataclasses.replace(crew, priority=0)
    problem = Problem(techs, (fixed, busy, crew))
    points, travel = problem_travel(problem, HaversineProvider())
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    plan = _Plan.empty(problem)
    plan.jobs["T1"], plan.fixed["T1"] = [fixed], [9 * H]
    plan.jobs["T2"], plan.fixed["T2"] = [busy], [None]
    assert plan.retime(techs[0], timer) and plan.retime(techs[1], timer)

    assert _insert_clearing(crew, problem, timer, plan, time.monotonic() + 5) is None
    assert [j.id for j in plan.jobs["T1"]] == ["FIXED"] and [j.id for j in plan.jobs["T2"]] == ["BUSY"]


def test_a_promise_never_clears_jobs_as_urgent_as_itself() -> None:
    problem, timer, plan, promise, _, _ = _two_pinned_glass_day(priority=0)

    assert _insert_clearing(promise, problem, timer, plan, time.monotonic() + 5) is None
    assert [j.id for j in plan.jobs["T1"]] == ["A", "B"]


def test_a_job_never_takes_the_place_of_one_as_urgent_as_itself() -> None:
    problem, timer, plan, glass, _, _ = _glass_day(Job("PROMISED", grid(2), 2 * H, priority=0))
    promise = dataclasses.replace(glass, priority=0)

    assert _insert_displacing(promise, problem, timer, plan, time.monotonic() + 5) is None
    assert [j.id for j in plan.jobs["T1"]] == ["PROMISED"]


def test_a_route_given_back_for_its_promise_takes_its_crew_partners_visit_out_too() -> None:
    """After a search that lost a promise of T1's starting route, the repair gives T1
    that route back. The route it replaces held one visit of a crew job, so the other
    technician's visit of it goes too, and the repair places the whole job again where
    it fits (before, T2 was left with half the crew job, and the engine's checker
    refused the re-plan: seen in a disrupted day's replay)."""
    techs = tuple(
        Technician(t, grid(i), Shift(8 * H, 17 * H), skills={"kitchen": 1}) for i, t in enumerate(("T1", "T2"))
    )
    promise = Job("PROMISE", grid(3), H, windows=(TimeWindow(9 * H, 10 * H),), priority=0)
    crew = Job("CREW", grid(6), 3 * H, skills={"kitchen": 1}, crew_size=2)
    problem = Problem(techs, (promise, crew))
    points, travel = problem_travel(problem, HaversineProvider())
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    plan = _Plan.empty(problem)
    for tech in techs:
        plan.insert(tech.id, 0, crew, 9 * H)
        assert plan.retime(tech, timer)
    left, _ = repair(problem, [promise, crew], plan, timer, time.monotonic() + 5, [WorkingRoute("T1", ("PROMISE",))])
    visits = {t: [j.id for j in seq] for t, seq in plan.jobs.items()}
    assert "PROMISE" in visits["T1"], visits
    assert sum(ids.count("CREW") for ids in visits.values()) in (0, 2), visits
    assert [j.id for j in left] == ([] if "CREW" in visits["T2"] else ["CREW"])


@pytest.mark.parametrize("level", [1, 2])
def test_an_urgent_repair_that_fits_nowhere_takes_the_place_of_less_urgent_work(level: int) -> None:
    """T1 alone has the glass skill and its day is full with ordinary glass work
    (priority 3, which nobody else can take); an urgent glass repair (level 1 or 2:
    "higher levels outrank ordinary work") then comes in. Leaving it out costs more
    than leaving out every less urgent job, so the repair gives it that work's place
    and leaves the ordinary job out (before, only a promise could, then level 1 too:
    a re-plan in a disrupted day's replay kept an urgent repair out that a search
    from another seed served)."""
    ordinary = Job("ORDINARY", grid(2), 2 * H, skills={"glass": 1}, priority=3)
    problem, timer, plan, urgent, points, travel = _glass_day(ordinary, priority=level, deadline_s=10 * H)

    left, _ = repair(problem, [ordinary, urgent], plan, timer, time.monotonic() + 5)

    assert [j.id for j in plan.jobs["T1"]] == ["GLASS"]
    assert [j.id for j in left] == ["ORDINARY"]
    out = (Unassigned("ORDINARY", ReasonCode.DAY_FULL, "its place went to the urgent repair"),)
    solution = Solution(tuple(plan.routes[t.id] for t in problem.technicians), out)
    assert check(problem, solution, points, travel).violations == ()


def test_crew_jobs_the_search_leaves_out_for_want_of_its_lunch_are_offered_by_the_repair() -> None:
    """The construction puts crew J3 on T1 and T2 and crew J7 on T2 and T3, timed with T2's
    lunch taken during the drive between them, which the compiled search does not do: it
    left both crews out, and the repair, taking every job as offered everywhere by the
    search, never tried them ("No two qualified technicians are free at the same time"
    while three technicians were idle). A day found by a helper's random search."""
    lunch = Break(41400, 46800, 1800)
    techs = (
        Technician(
            "T0",
            Location(60.216132, 24.836326),
            Shift(28800, 54000, lunch),
            skills={"kitchen": 3, "glass": 1},
            cost=CostProfile(3800, 30),
        ),
        Technician(
            "T1",
            Location(60.218144, 24.999469),
            Shift(28800, 57600),
            skills={"wardrobe": 1, "kitchen": 3},
            cost=CostProfile(3000, 0),
        ),
        Technician(
            "T2",
            Location(60.205817, 25.044039),
            Shift(25200, 57600, lunch),
            skills={"glass": 3},
            cost=CostProfile(3000, 35),
        ),
        Technician(
            "T3",
            Location(60.214073, 24.820666),
            Shift(28800, 61200, Break(41400, 48600, 1800)),
            skills={"kitchen": 3, "glass": 1},
            cost=CostProfile(3000, 35),
        ),
        Technician(
            "T4",
            Location(60.183523, 24.892816),
            Shift(28800, 57600),
            skills={"kitchen": 2, "glass": 1},
            cost=CostProfile(4500, 35),
        ),
    )
    jobs = (
        Job(
            "J0",
            Location(60.227192, 24.825653),
            2700,
            skills={"wardrobe": 2},
            windows=(TimeWindow(29700, 36900),),
            priority=2,
            crew_size=2,
        ),
        Job("J1", Location(60.213693, 24.813015), 5400, skills={"kitchen": 2}, windows=(TimeWindow(48600, 52200),)),
        Job(
            "J2",
            Location(60.196473, 24.937214),
            3600,
            skills={"glass": 2},
            windows=(TimeWindow(36900, 44100),),
            priority=2,
            crew_size=2,
        ),
        Job("J3", Location(60.241545, 25.000343), 2700, windows=(TimeWindow(35100, 45900),), crew_size=2),
        Job("J4", Location(60.200360, 24.805977), 2700, skills={"glass": 1}, windows=(TimeWindow(43200, 46800),)),
        Job("J5", Location(60.197739, 24.956751), 3600, skills={"wardrobe": 1}),
        Job("J6", Location(60.237317, 24.869576), 3600),
        Job("J7", Location(60.202098, 24.807129), 10800, windows=(TimeWindow(41400, 52200),), crew_size=2),
        Job("J8", Location(60.170027, 24.917943), 1800, priority=2),
    )
    problem = Problem(techs, jobs)

    solution = solve(problem, SolveOptions(time_limit_s=2))

    assert check(problem, solution, *problem_travel(problem, HaversineProvider())).violations == ()
    assert "J3" in solution.served_job_ids(), solution.unassigned


def test_a_crew_job_starts_when_the_technician_with_less_room_can_when_the_other_is_free_then() -> None:
    """T0 is free all morning before a 13:00 visit, T1 only until noon after an early
    visit. Before, the crew was tried at the later of the two technicians' own cheapest
    starts (T0's, just before 13:00: past T1's day) and left out as "No two qualified
    technicians are free at the same time"."""
    techs = (
        Technician("T0", grid(0), Shift(8 * H, 16 * H), cost=CostProfile(3600, 30)),
        Technician("T1", grid(1), Shift(8 * H, 12 * H), cost=CostProfile(3600, 30)),
    )
    jobs = (
        Job("X", grid(3), H, windows=(TimeWindow(13 * H, 13 * H),), priority=1),
        Job("D", grid(4), H, deadline_s=9 * H, priority=1),
        Job("C", grid(2), 90 * 60, priority=3, crew_size=2),
    )
    problem = Problem(techs, jobs)

    solution = solve(problem, SolveOptions(time_limit_s=0.5))

    assert check(problem, solution, *problem_travel(problem, HaversineProvider())).violations == ()
    assert solution.unassigned == (), solution.unassigned


def test_a_promise_takes_the_place_of_a_less_urgent_crew_pinned_to_its_only_partner() -> None:
    """The crew C (priority 1) is pinned to A and can only go with B, at P's hour; the
    promise P fits only on B then. Before, the pinned crew kept B and P was left out as
    "the day is full" (which refuses a plan run); the repair never moved a pinned crew."""
    techs = (
        Technician("A", grid(0), Shift(8 * H, 16 * H), cost=CostProfile(3600, 30)),
        Technician("B", grid(1), Shift(8 * H, 16 * H), cost=CostProfile(3600, 30)),
    )
    hour = (TimeWindow(10 * H, 10 * H + 1800),)
    jobs = (
        Job("P", grid(2), 2 * H, windows=hour, priority=0),
        Job("C", grid(3), 2 * H, windows=hour, priority=1, crew_size=2, pinned_technician_id="A"),
    )
    problem = Problem(techs, jobs)

    solution = solve(problem, SolveOptions(time_limit_s=0.5, seed=0))

    assert check(problem, solution, *problem_travel(problem, HaversineProvider())).violations == ()
    assert solution.served_job_ids() == {"P"}, solution.unassigned


def test_the_room_a_displaced_crew_frees_is_offered_to_the_work_still_left_out() -> None:
    """The crew C holds both technicians at 10:00; U (priority 1, only T1 is qualified)
    takes its place on T1 and C finds no other pair. Before, J (priority 3, any time from
    09:30 to 10:30), tried before C moved, stayed out beside an idle T0."""
    techs = (
        Technician("T0", grid(0), Shift(8 * H, 16 * H), cost=CostProfile(3600, 30)),
        Technician("T1", grid(1), Shift(8 * H, 16 * H), skills={"a": 1}, cost=CostProfile(3600, 30)),
    )
    jobs = (
        Job("C", grid(2), 2 * H, windows=(TimeWindow(10 * H, 10 * H + 900),), priority=2, crew_size=2),
        Job("U", grid(3), 2 * H, windows=(TimeWindow(9 * H + 1800, 10 * H + 1800),), skills={"a": 1}, priority=1),
        Job("J", grid(4), 2 * H, windows=(TimeWindow(9 * H + 1800, 10 * H + 1800),), priority=3),
    )
    problem = Problem(techs, jobs)

    solution = solve(problem, SolveOptions(time_limit_s=0.5))

    assert check(problem, solution, *problem_travel(problem, HaversineProvider())).violations == ()
    served = {v.job_id: r.technician_id for r in solution.routes for v in r.visits}
    assert served == {"U": "T1", "J": "T0"}, (served, solution.unassigned)


def test_urgent_work_takes_a_less_urgent_crew_jobs_place_and_the_crew_is_placed_again() -> None:
    """Only T0 fits glass; the construction put the priority-3 crew job on T0 and T1, the
    nearest pair, over U's only hour. Before, U (priority 1) was left out as "the day is
    full"; only a promise could take a crew job's place."""
    techs = (
        Technician("T0", grid(0), Shift(8 * H, 16 * H), skills={"glass": 1}, cost=CostProfile(3000, 30)),
        Technician("T1", grid(3), Shift(8 * H, 16 * H), cost=CostProfile(3800, 30)),
        Technician("T2", grid(6), Shift(8 * H, 16 * H), cost=CostProfile(4500, 30)),
    )
    jobs = (
        Job("C", grid(1), 2 * H, windows=(TimeWindow(9 * H, 10 * H),), crew_size=2, priority=3),
        Job("U", grid(1), H, windows=(TimeWindow(9 * H, 10 * H),), skills={"glass": 1}, priority=1),
    )
    problem = Problem(techs, jobs)

    solution = solve(problem, SolveOptions(time_limit_s=1))

    assert check(problem, solution, *problem_travel(problem, HaversineProvider())).violations == ()
    assert solution.unassigned == ()
