"""The compiled ruin-and-recreate search: which days it plans, and that its plans
are exact (brute force), valid (the checker) and complete."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given

from solver import (
    Break,
    CostProfile,
    Depot,
    HaversineProvider,
    Job,
    Location,
    Problem,
    SearchSettings,
    Shift,
    SolveOptions,
    Technician,
    TimeWindow,
    check,
    problem_travel,
    solve,
)
from solver.objective import coefficients
from solver.schedule import RouteTimer
from solver.search import sisr
from solver.search.sisr import eligible
from solver.search.types import CrewAssignment
from tests.solver.bruteforce import optimum_units
from tests.solver.conftest import grid
from tests.solver.test_properties import PROPERTY, days

H = 3600
RUIN_AND_RECREATE = "ruin_and_recreate"


def spotter(rng: random.Random) -> Callable[[], Location]:
    """Random places in a 9 km × 11 km area of Helsinki."""

    def spot() -> Location:
        return Location(60.15 + rng.random() * 0.08, 24.85 + rng.random() * 0.2)

    return spot


def plain_day(seed: int) -> Problem:
    """Two or three technicians without lunch, up to seven jobs with one window or
    none, skills, a pin, a preferred technician, priorities, a van capacity, a job
    cap, hourly costs and paid overtime."""
    rng = random.Random(seed)
    spot = spotter(rng)
    techs = tuple(
        Technician(
            f"T{k}",
            spot(),
            Shift(8 * H, rng.choice([13, 15]) * H),
            end=spot() if rng.random() < 0.3 else None,
            skills={"kitchen": rng.choice([1, 2])},
            max_jobs=rng.choice([None, 3]),
            max_overtime_s=rng.choice([0, H]),
            cost=CostProfile(
                rng.choice([3000, 5000]), rng.choice([0, 40]), rng.choice([0, 3000]), rng.choice([0, 9000])
            ),
            capacity={"panel": rng.choice([2, 4])},
        )
        for k in range(rng.randint(2, 3))
    )
    jobs = []
    for i in range(rng.randint(5, 7)):
        start = rng.randint(8, 13) * H
        jobs.append(
            Job(
                f"J{i}",
                spot(),
                rng.choice([30, 60, 90]) * 60,
                skills=rng.choice([{}, {"kitchen": 2}]),
                windows=(TimeWindow(start, start + rng.choice([1, 2]) * H),) if rng.random() < 0.6 else (),
                priority=rng.choice([1, 2, 3]),
                pinned_technician_id="T0" if i == 0 and rng.random() < 0.4 else None,
                preferred_technician_id="T1" if i == 1 else None,
                demand={"panel": rng.choice([0, 1, 2])},
            )
        )
    return Problem(techs, tuple(jobs))


@pytest.mark.parametrize("seed", range(6))
def test_ruin_and_recreate_reaches_the_brute_force_optimum_on_a_tiny_plain_day(seed: int) -> None:
    problem = plain_day(seed)
    solution = solve(problem, SolveOptions(time_limit_s=1.0))
    assert solution.stats is not None and solution.stats.status == RUIN_AND_RECREATE
    assert solution.objective.total_units == optimum_units(problem)


def depot_day(seed: int) -> Problem:
    """``plain_day(seed)`` with a depot that lends kitchen skills at level 2 and tops
    panels up to six (a quarter of an hour there)."""
    at = spotter(random.Random(seed + 100))()
    return replace(plain_day(seed), depot=Depot(at, 900, restock={"panel": 6}, skills={"kitchen": 2}))


def two_window_day(seed: int) -> Problem:
    """``plain_day(seed)`` where every job with a window also has one three hours
    later (a customer who is in in the morning and again after lunch)."""
    day = plain_day(seed)

    def later(job: Job) -> Job:
        if not job.windows:
            return job
        (w,) = job.windows
        return replace(job, windows=(w, TimeWindow(w.start_s + 3 * H, w.end_s + 3 * H)))

    return replace(day, jobs=tuple(later(j) for j in day.jobs))


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("day", [depot_day, two_window_day])
def test_it_reaches_the_brute_force_optimum_on_tiny_days_with_a_depot_or_two_windows_a_job(
    day: Callable[[int], Problem], seed: int
) -> None:
    """Depot stops for the lent skill and for panels beyond the stock where they pay
    (seven of the eight depot days have some); a job's later window where it pays."""
    problem = day(seed)
    solution = solve(problem, SolveOptions(time_limit_s=1.0))
    assert solution.stats is not None and solution.stats.status == RUIN_AND_RECREATE
    points, travel = problem_travel(problem, HaversineProvider())
    assert check(problem, solution, points, travel).violations == ()
    assert solution.objective.total_units == optimum_units(problem)


@PROPERTY
@given(days())
def test_every_random_day_is_planned_validly_by_it(problem: Problem) -> None:
    """Lunches, crews, preferences and overtime: no violation, every job accounted for."""
    day = problem
    solution = solve(day, SolveOptions(time_limit_s=0.3))
    points, travel = problem_travel(day, HaversineProvider())
    report = check(day, solution, points, travel)
    assert report.violations == ()
    assert solution.objective == report.objective
    served = solution.served_job_ids()
    assert served | {u.job_id for u in solution.unassigned} == {j.id for j in day.jobs}
    assert solution.stats is not None
    # Only crews placed so that a technician has no room for the lunch (rarely) keep
    # a day from it.
    if served and all(j.crew_size == 1 for j in day.jobs):
        assert solution.stats.status == RUIN_AND_RECREATE


def test_a_day_of_long_kitchens_takes_each_lunch_on_site_and_serves_everything() -> None:
    """Six-hour kitchens span the lunch window: the lunch is taken on site."""
    lunch = Break(11 * H, 13 * H, 1800)
    techs = tuple(
        Technician(f"T{i}", grid(i), Shift(7 * H, 17 * H, lunch), cost=CostProfile(3600, 30)) for i in range(3)
    )
    kitchens = tuple(Job(f"K{i}", grid(i + 5), 6 * H, windows=(TimeWindow(8 * H, 9 * H),)) for i in range(3))
    visits = tuple(Job(f"M{i}", grid(i + 10), 1800) for i in range(6))
    problem = Problem(techs, kitchens + visits)
    solution = solve(problem, SolveOptions(time_limit_s=1.0))
    assert solution.stats is not None and solution.stats.status == RUIN_AND_RECREATE
    assert solution.served_job_ids() == {j.id for j in problem.jobs}
    points, travel = problem_travel(problem, HaversineProvider())
    assert check(problem, solution, points, travel).violations == ()
    for route in solution.routes:
        assert route.lunch is not None
        kitchen = next(v for v in route.visits if v.job_id.startswith("K"))
        assert kitchen.start_s <= route.lunch.start_s < kitchen.end_s


def test_it_plans_every_kind_of_day_but_one_with_a_job_that_cannot_start_at_all() -> None:
    tech = Technician("T", grid(0), Shift(8 * H, 16 * H))
    job = Job("J", grid(1), 3600)
    assert eligible(Problem((tech,), (job,)), (job,))
    never = replace(job, windows=(TimeWindow(8 * H, 9 * H),), deadline_s=7 * H)
    assert not eligible(Problem((tech,), (never,)), (never,))
    # Two windows, depots, crews (placed beforehand), preferred windows and
    # technicians, and paid overtime are for it.
    two_windows = replace(job, windows=(TimeWindow(8 * H, 9 * H), TimeWindow(12 * H, 13 * H)))
    assert eligible(Problem((tech,), (two_windows,)), (two_windows,))
    assert eligible(Problem((tech,), (job,), depot=Depot(grid(2))), (job,))
    for other in (
        replace(job, crew_size=2),
        replace(job, preferred_window=TimeWindow(9 * H, 10 * H)),
        replace(job, preferred_technician_id="T"),
    ):
        assert eligible(Problem((tech,), (other,)), (other,))
    paid_overtime = replace(tech, max_overtime_s=H, cost=CostProfile(overtime_per_hour_cents=6000))
    assert eligible(Problem((paid_overtime,), (job,)), (job,))


def test_crews_keep_their_two_technicians_and_common_start_while_the_rest_is_searched() -> None:
    lunch = Break(11 * H, 13 * H, 1800)
    techs = tuple(
        Technician(f"T{i}", grid(i), Shift(7 * H, 17 * H, lunch), cost=CostProfile(3600, 30)) for i in range(4)
    )
    crews = tuple(Job(f"C{i}", grid(i + 6), 2 * H, crew_size=2) for i in range(3))
    singles = tuple(Job(f"S{i}", grid(i + 9), 1800, windows=(TimeWindow((8 + i) * H, (10 + i) * H),)) for i in range(8))
    problem = Problem(techs, crews + singles)
    solution = solve(problem, SolveOptions(time_limit_s=1.5))
    assert solution.stats is not None and solution.stats.status == RUIN_AND_RECREATE
    # The crews stay where the construction put them, as in the OR-Tools search: that
    # search serves no more.
    or_tools = solve(problem, SolveOptions(time_limit_s=1.5, search=SearchSettings(ruin_and_recreate=False)))
    assert {c.id for c in crews} <= solution.served_job_ids()
    assert len(solution.served_job_ids()) >= len(or_tools.served_job_ids())
    points, travel = problem_travel(problem, HaversineProvider())
    assert check(problem, solution, points, travel).violations == ()
    for crew in crews:
        visits = [(r.technician_id, v.start_s) for r in solution.routes for v in r.visits if v.job_id == crew.id]
        assert len(visits) == 2 and visits[0][0] != visits[1][0] and visits[0][1] == visits[1][1]


def test_when_the_vans_cannot_carry_everything_the_most_urgent_jobs_go() -> None:
    techs = tuple(Technician(f"T{i}", grid(i), Shift(8 * H, 18 * H), capacity={"panel": 3}) for i in range(2))
    jobs = tuple(Job(f"J{i}", grid(i + 5), 1800, priority=1 if i < 4 else 3, demand={"panel": 1}) for i in range(10))
    problem = Problem(techs, jobs)
    solution = solve(problem, SolveOptions(time_limit_s=1.0))
    assert solution.stats is not None and solution.stats.status == RUIN_AND_RECREATE
    served = solution.served_job_ids()
    assert len(served) == 6
    assert {f"J{i}" for i in range(4)} <= served
    points, travel = problem_travel(problem, HaversineProvider())
    assert check(problem, solution, points, travel).violations == ()


def test_its_route_costs_are_the_route_timers() -> None:
    problem = plain_day(3)
    solution = solve(problem, SolveOptions(time_limit_s=0.5))
    points, travel = problem_travel(problem, HaversineProvider())
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    jobs = {j.id: j for j in problem.jobs}
    total = 0
    for route in solution.routes:
        tech = problem.technician(route.technician_id)
        seq = [jobs[v.job_id] for v in route.visits]
        timing = timer.timing(tech, seq)
        assert timing is not None
        total += timer.route_cost(tech, seq, timing)
    dropped = sum(coefficients(problem, travel).drop_cost(jobs[u.job_id].priority, 1) for u in solution.unassigned)
    assert solution.objective.total_units == total + dropped


def test_crews_that_leave_their_technicians_no_room_for_lunch_are_left_out_and_the_rest_is_planned() -> None:
    """Two crews back to back over the lunch window on each of two pairs: no lunch
    fits on any of the four technicians, so every crew is left out (for the repair
    step) and the one-person jobs are still planned."""
    lunch = Break(11 * H, 13 * H, 1800)
    techs = tuple(
        Technician(f"T{i}", grid(i), Shift(8 * H, 16 * H, lunch), cost=CostProfile(3600, 30)) for i in range(5)
    )
    crews = {
        f"C{pair}{k}": CrewAssignment(f"T{2 * pair}", f"T{2 * pair + 1}", start)
        for pair in (0, 1)
        for k, start in ((1, 10 * H + 1800), (2, 12 * H))
    }
    jobs = tuple(Job(job_id, grid(7), 5400, crew_size=2) for job_id in crews) + tuple(
        Job(f"S{i}", grid(10 + i), H) for i in range(3)
    )
    problem = Problem(techs, jobs)
    points, travel = problem_travel(problem, HaversineProvider())

    raw = sisr.search(
        problem, problem.jobs, points, travel, coefficients(problem, travel), time.monotonic() + 0.3, 1, crews=crews
    )

    planned = {v.job_id for r in raw.routes for v in r.visits}
    assert planned == {"S0", "S1", "S2"}


EVERY_ENGINE = pytest.mark.parametrize(
    "search",
    [
        SearchSettings(),
        SearchSettings(ruin_and_recreate=False),
        SearchSettings(portfolio=False, ruin_and_recreate=False),
    ],
    ids=["compiled", "portfolio", "ortools"],
)
"""The compiled search, the portfolio without it, and OR-Tools alone."""


@EVERY_ENGINE
def test_a_visit_after_an_absence_is_reached_once_the_absence_is_over_not_before_it(search: SearchSettings) -> None:
    """Away 12:00-13:30 (the day's pause, off site) and a visit that may start from
    13:30 only: the technician is not at the customer's during the absence, so the
    visit's arrival is 13:30, not 12:00 with the absence spent on the doorstep (which
    told the customer an arrival an hour and a half before the work). A lunch (on site)
    is still taken between the two, and B's arrival is still its start: the customer is
    told when the work begins, not the lunch before it (docs/live-day.md)."""
    away = Break(12 * H, 12 * H, int(1.5 * H), on_site=False)
    tech = Technician("T", grid(0), Shift(8 * H, 17 * H, away), cost=CostProfile(3600, 30))
    first = Job("A", grid(1), H, windows=(TimeWindow(10 * H, 11 * H),))
    after = Job("B", grid(2), H, windows=(TimeWindow(13 * H + 1800, 14 * H),))
    problem = Problem((tech,), (first, after))
    solution = solve(problem, SolveOptions(time_limit_s=1.0, search=search))
    points, travel = problem_travel(problem, HaversineProvider())
    assert check(problem, solution, points, travel).violations == ()
    visits = {v.job_id: v for v in solution.routes[0].visits}
    assert visits["B"].arrival_s == visits["B"].start_s == 13 * H + 1800, visits["B"]
    lunch = replace(tech, shift=Shift(8 * H, 17 * H, Break(12 * H, 12 * H, int(1.5 * H))))
    with_lunch = solve(Problem((lunch,), (first, after)), SolveOptions(time_limit_s=1.0, search=search))
    at_b = next(v for v in with_lunch.routes[0].visits if v.job_id == "B")
    taken = with_lunch.routes[0].lunch
    assert taken is not None and taken.end_s <= at_b.start_s, with_lunch.routes[0]
    assert at_b.arrival_s == at_b.start_s, at_b


@EVERY_ENGINE
def test_a_long_visit_never_holds_an_absence_as_it_holds_a_lunch(search: SearchSettings) -> None:
    """Away 11:00-12:00 (the day's pause, off site): a five-hour kitchen that may start
    from 07:00 starts after the absence, though a lunch there is taken on site; the
    route timer and the checker refuse the kitchen over the absence."""
    away = Break(11 * H, 11 * H, H, on_site=False)
    tech = Technician("T", grid(0), Shift(7 * H, 19 * H, away), cost=CostProfile(3600, 30))
    kitchen = Job("K", grid(1), 5 * H, windows=(TimeWindow(7 * H, 13 * H),))
    problem = Problem((tech,), (kitchen,))
    solution = solve(problem, SolveOptions(time_limit_s=1.0, search=search))
    points, travel = problem_travel(problem, HaversineProvider())
    assert check(problem, solution, points, travel).violations == ()
    (route,) = solution.routes
    (visit,) = route.visits
    assert route.lunch is not None and route.lunch.start_s == 11 * H
    assert visit.start_s >= 12 * H, visit
    # The same route with the kitchen over the absence is refused.
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    at_seven = timer.timing(tech, [kitchen], fixed_starts=[8 * H])
    assert at_seven is None
    # On site from 08:00 to 13:00 with the hour inside, home an hour later.
    in_work = replace(visit, arrival_s=8 * H, start_s=8 * H, end_s=13 * H)
    home = 14 * H + route.return_travel_s
    over = replace(solution, routes=(replace(route, start_s=8 * H - visit.travel_s, end_s=home, visits=(in_work,)),))
    said = {(v.kind.value, v.detail) for v in check(problem, over, points, travel).violations}
    assert ("break", "lunch overlaps work (away 11:00:00-12:00:00)") in said, said
    # As a lunch (on site), the kitchen may hold it.
    lunch = replace(tech, shift=Shift(7 * H, 19 * H, Break(11 * H, 11 * H, H)))
    with_lunch = Problem((lunch,), (kitchen,))
    assert timer.timing(lunch, [kitchen], fixed_starts=[8 * H]) is not None
    assert check(with_lunch, over, points, travel).violations == ()
