"""A planning horizon (``solver.horizon``): several days in one solve, jobs over a range
of days with a preferred day, dependencies across days, jobs longer than a day, and
the checker's rules for them (docs/model.md, "Planning horizon")."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from solver import (
    Break,
    CostProfile,
    Dependency,
    HaversineProvider,
    Job,
    JobKind,
    Location,
    ProblemError,
    ReasonCode,
    Shift,
    SolveOptions,
    Technician,
    TimeWindow,
    ViolationKind,
    Weights,
    check,
    problem_travel,
)
from solver import horizon as hz
from solver.problem import DAY_S, Part, Problem
from solver.solution import Solution, Unassigned
from tests.solver.bruteforce import optimum_units
from tests.solver.test_checker import HOME, A, B, hm, provider, route, visit
from tests.solver.test_properties import PROPERTY

H = 3600
MULTI_DAY = ViolationKind.MULTI_DAY
DEPENDENCY = ViolationKind.DEPENDENCY


def person(person_id: str, days: tuple[int, ...] = (0, 1, 2), home: Location = HOME, **fields: Any) -> hz.Person:
    """A person working 08:00–16:00 with a 30-minute lunch on ``days``."""
    tech = Technician(person_id, home, Shift(0, 1), cost=CostProfile(per_hour_cents=3000, per_km_cents=40), **fields)
    lunch = Break(hm(11), hm(13), 1800)
    return hz.Person(tech, tuple(hz.WorkDay(d, Shift(hm(8), hm(16), lunch)) for d in days))


def hjob(job_id: str, first: int = 0, last: int = 2, location: Location = A, **fields: Any) -> hz.HorizonJob:
    """A one-hour job that may go on ``first``..``last``."""
    extra = {
        k: fields.pop(k) for k in ("preferred_day", "days", "day_windows", "after_end_s", "done_by") if k in fields
    }
    return hz.HorizonJob(Job(job_id, location, **{"duration_s": H, **fields}), first, last, **extra)


def solved(h: hz.Horizon, seconds: float = 2.0) -> tuple[Solution, Any]:
    """The solution of ``h`` and the checker's report on it (the solve checks too)."""
    solution = hz.solve(h, SolveOptions(time_limit_s=seconds))
    points, travel = problem_travel(h.problem, HaversineProvider())
    held = {u.job_id for u in h.held}
    planned = dataclasses.replace(solution, unassigned=tuple(u for u in solution.unassigned if u.job_id not in held))
    return solution, check(h.problem, planned, points, travel)


def where(h: hz.Horizon, solution: Solution) -> dict[str, tuple[str, int, int]]:
    """Per served job id: (person, day, start)."""
    out = {}
    for r in solution.routes:
        who, day = hz.person_day(h.problem, r.technician_id)
        for v in r.visits:
            out[v.job_id] = (who, day, v.start_s)
    return out


# --- Building a horizon ------------------------------------------------------------------------------------


def test_each_working_day_of_a_person_is_a_technician_in_horizon_time() -> None:
    h = hz.build([person("P1", (0, 2))], [hjob("J1")], 3)
    techs = h.problem.technicians
    assert [t.id for t in techs] == ["P1@0", "P1@2"]
    assert [(t.person_id, t.day) for t in techs] == [("P1", 0), ("P1", 2)]
    assert techs[1].shift.start_s == 2 * DAY_S + hm(8)
    assert techs[1].shift.lunch is not None and techs[1].shift.lunch.earliest_s == 2 * DAY_S + hm(11)
    assert hz.person_day(h.problem, "P1@2") == ("P1", 2)


def test_a_job_over_a_range_of_days_has_its_day_windows_on_every_day_of_the_range() -> None:
    h = hz.build([person("P1")], [hjob("J1", 1, 2, windows=(TimeWindow(hm(9), hm(10)),), preferred_day=1)], 3)
    job = h.problem.job("J1")
    assert job.windows == (
        TimeWindow(DAY_S + hm(9), DAY_S + hm(10)),
        TimeWindow(2 * DAY_S + hm(9), 2 * DAY_S + hm(10)),
    )
    assert job.preferred_day == 1


def test_a_days_own_windows_replace_the_jobs_windows_on_that_day() -> None:
    own = {2: (TimeWindow(hm(14), hm(15)),)}
    h = hz.build([person("P1")], [hjob("J1", 1, 2, windows=(TimeWindow(hm(9), hm(10)),), day_windows=own)], 3)
    assert h.problem.job("J1").windows[1] == TimeWindow(2 * DAY_S + hm(14), 2 * DAY_S + hm(15))


@pytest.mark.parametrize(
    ("people", "jobs", "days", "message"),
    [
        ([person("P1")], [hjob("J1")], 15, r"days must be in 1\.\.14"),
        ([person("P1", (0, 3))], [hjob("J1")], 3, r"person P1: days\[3\]\.day is outside"),
        ([person("P1")], [hjob("J1", 2, 3)], 3, r"job J1: first_day\.\.last_day must lie in 0\.\.2"),
        ([person("P1")], [hjob("J1", 0, 1, preferred_day=2)], 3, r"job J1: preferred_day must lie"),
        ([person("P1")], [hjob("J1", 0, 0, days=2)], 3, r"job J1: days must be at least 1"),
        ([person("P1")], [hjob("J1", preferred_window=TimeWindow(0, 60))], 3, r"job J1: preferred_window"),
        ([person("P1")], [hjob("J1", windows=(TimeWindow(hm(23), hm(25)),))], 3, r"job J1: windows are times"),
        ([person("P1")], [hjob("J1", pinned_technician_id="P9")], 3, r"job J1: pinned_technician_id P9"),
        ([person("P1")], [hjob("J1", pinned_technician_id="P1")], 3, r"works 3 days"),
        ([person("P1")], [hjob("I", after=Dependency("M"))], 3, r"job I: after\.job_id M is neither"),
    ],
)
def test_a_bad_horizon_is_refused_naming_the_field(
    people: list[hz.Person], jobs: list[hz.HorizonJob], days: int, message: str
) -> None:
    with pytest.raises(ProblemError, match=message):
        hz.build(people, jobs, days)


def test_a_person_whose_day_runs_into_the_next_is_refused() -> None:
    late = hz.WorkDay(0, Shift(hm(8), hm(23)), max_overtime_s=10 * H)
    p = hz.Person(person("P1").technician, (late, hz.WorkDay(1, Shift(hm(8), hm(16)))))
    with pytest.raises(ProblemError, match=r"person P1: day 0 \(with overtime\) runs into day 1"):
        hz.build([p], [hjob("J1", 0, 1)], 2)


# --- Planning a horizon ------------------------------------------------------------------------------------


def test_a_job_goes_on_its_preferred_day_when_there_is_room() -> None:
    h = hz.build([person("P1")], [hjob("J1", 0, 2, preferred_day=2), hjob("J2", 0, 2, B, preferred_day=1)], 3)
    solution, report = solved(h)
    assert report.feasible
    at = where(h, solution)
    assert (at["J1"][1], at["J2"][1]) == (2, 1)
    assert solution.objective.day_away_penalty == 0


@pytest.mark.parametrize(("late", "early", "day"), [(700, 300, 0), (300, 700, 2)])
def test_a_day_away_from_the_preferred_day_costs_its_weight_and_the_cheaper_side_is_taken(
    late: int, early: int, day: int
) -> None:
    # P1 works days 0 and 2 only; the job prefers day 1 and may go on 0..2.
    weights = Weights(day_late_cents=late, day_early_cents=early)
    h = hz.build([person("P1", (0, 2))], [hjob("J1", 0, 2, preferred_day=1)], 3, weights)
    solution, report = solved(h)
    assert report.feasible and solution.served_job_ids() == {"J1"}
    assert where(h, solution)["J1"][1] == day
    assert solution.objective.day_away_penalty == min(late, early)  # cents
    assert report.objective.day_away_penalty == min(late, early)


def test_a_job_fixed_to_a_day_stays_on_it() -> None:
    h = hz.build([person("P1")], [hjob("J1", 2, 2)], 3)
    solution, report = solved(h)
    assert report.feasible and where(h, solution)["J1"][1] == 2


def test_max_jobs_holds_per_person_day() -> None:
    base = person("P1")
    capped = hz.Person(base.technician, tuple(dataclasses.replace(d, max_jobs=1) for d in base.days))
    h = hz.build([capped], [hjob(f"J{k}", preferred_day=0) for k in range(3)], 3)
    solution, report = solved(h)
    assert report.feasible
    assert sorted(day for _, day, _ in where(h, solution).values()) == [0, 1, 2]


def test_an_install_waits_its_lag_in_hours_across_days() -> None:
    jobs = [
        hjob("M", 0, 2, A, preferred_day=0),
        hjob("I", 0, 2, B, preferred_day=0, after=Dependency("M", min_lag_s=30 * H)),
    ]
    h = hz.build([person("P1"), person("P2", home=B)], jobs, 3)
    solution, report = solved(h)
    assert report.feasible and solution.served_job_ids() == {"M", "I"}
    at = where(h, solution)
    measured_end = at["M"][2] + H
    assert at["I"][2] >= measured_end + 30 * H


def test_a_dependent_of_a_job_of_an_earlier_plan_is_cut_to_its_end_plus_the_lag() -> None:
    # The measure ended at 15:00 the day before the horizon; the install needs 40 h after.
    jobs = [hjob("I", 0, 2, after=Dependency("M0", min_lag_s=40 * H), after_end_s=-DAY_S + hm(15), done_by="P2")]
    h = hz.build([person("P1"), person("P2")], jobs, 3)
    assert h.problem.job("I").after is None
    assert h.problem.job("I").start_windows()[0].start_s == DAY_S + hm(7)
    assert h.problem.job("I").preferred_technician_id == "P2"
    solution, report = solved(h)
    assert report.feasible
    who, day, _ = where(h, solution)["I"]
    assert (who, day) == ("P2", 1)  # continuity: the person who measured


def test_a_follow_up_planned_in_the_same_solve_goes_to_the_fitter_of_its_install() -> None:
    # The install lies by P1's home; its adjustment a day later lies at P2's door. Without
    # continuity P2 would take the adjustment (no driving at all).
    near_p1 = Location(59.99, 24.00)
    jobs = [
        hjob("I", 0, 0, near_p1),
        hjob("F", 1, 2, B, kind=JobKind.REPAIR, after=Dependency("I", min_lag_s=20 * H)),
    ]
    h = hz.build([person("P1"), person("P2", home=B)], jobs, 3)
    solution, report = solved(h)
    assert report.feasible and solution.served_job_ids() == {"I", "F"}
    at = where(h, solution)
    assert at["F"][0] == at["I"][0]


def test_a_follow_up_the_install_fitter_is_not_qualified_for_goes_to_whoever_is_best() -> None:
    near_p1 = Location(59.99, 24.00)
    jobs = [
        hjob("I", 0, 0, near_p1),
        hjob("F", 1, 2, B, skills={"glass": 1}, after=Dependency("I", min_lag_s=20 * H)),
    ]
    h = hz.build([person("P1"), person("P2", home=B, skills={"glass": 1})], jobs, 3)
    solution, report = solved(h)
    assert report.feasible and solution.served_job_ids() == {"I", "F"}
    assert where(h, solution)["F"][0] == "P2"
    assert solution.objective.preference_penalty == 0


def test_a_dependent_whose_lag_ends_after_the_horizon_is_held_with_its_reason_and_so_are_its_followers() -> None:
    jobs = [
        hjob("I", 0, 2, after=Dependency("M0", min_lag_s=5 * DAY_S), after_end_s=0),
        hjob("F", 0, 2, after=Dependency("I")),
        hjob("J1"),
    ]
    h = hz.build([person("P1")], jobs, 3)
    assert [u.job_id for u in h.held] == ["I", "F"]
    assert all(u.code is ReasonCode.DEPENDENCY_NOT_MET for u in h.held)
    assert "day 5 00:00" in h.held[0].reason
    solution, report = solved(h)
    assert report.feasible
    assert {u.job_id for u in solution.unassigned} == {"I", "F"}


def test_a_job_of_a_later_day_is_explained_in_its_own_days_times_and_people_not_the_plans() -> None:
    # A 2-hour job may start 15:00-21:00 on day 1, when P1 works until 16:00, another
    # only 18:00-19:00 on day 2; two
    # 5-hour jobs of day 1 do not both fit P1's day.
    jobs = [
        hjob("EVE", 1, 1, duration_s=2 * H, day_windows={1: (TimeWindow(hm(15), hm(21)),)}),
        hjob("LATE", 2, 2, day_windows={2: (TimeWindow(hm(18), hm(19)),)}),
        hjob("LONG1", 1, 1, duration_s=5 * H),
        hjob("LONG2", 1, 1, duration_s=5 * H),
    ]
    h = hz.build([person("P1")], jobs, 3)
    solution, report = solved(h)
    assert report.feasible
    out = {u.job_id: u for u in solution.unassigned}
    assert out["EVE"].code is ReasonCode.NO_SHIFT_IN_WINDOW
    assert "(15:00–16:00)" in out["EVE"].reason
    assert "(18:00–19:00; the qualified technicians are available 08:00–16:00)" in out["LATE"].reason
    (left,) = {"LONG1", "LONG2"} & set(out)
    assert out[left].code is ReasonCode.NEEDS_OVERTIME
    assert "(P1; 0 min allowed)" in out[left].reason and hz.DAY_SEPARATOR not in out[left].reason


def test_a_crew_job_only_one_person_is_skilled_for_says_so_over_several_days() -> None:
    """P1 alone holds kitchen 2, on three days: three person-days are one person, so no
    crew. Before, the days counted as technicians and the reason sent the dispatcher to
    free time ("no shift in window", "day full") instead of finding a second person."""
    kitchen = {"kitchen": 2}
    h = hz.build([person("P1", skills=kitchen), person("P2")], [hjob("CREW", crew_size=2, skills=kitchen)], 3)
    solution, report = solved(h, 1.0)
    assert report.feasible
    (why,) = solution.unassigned
    assert why.code is ReasonCode.NO_CREW, why
    assert "only P1 has it" in why.reason and hz.DAY_SEPARATOR not in why.reason, why


# --- Jobs longer than a day --------------------------------------------------------------------------------


def test_a_two_day_job_goes_to_one_person_on_consecutive_working_days() -> None:
    # P1 works days 0, 2 and 3: days 0 and 2 are consecutive working days of theirs.
    h = hz.build([person("P1", (0, 2, 3))], [hjob("K", 0, 2, days=2, duration_s=6 * H, preferred_day=0)], 4)
    parts = [j for j in h.problem.jobs if j.part is not None]
    assert [(j.id, j.pinned_technician_id) for j in parts] == [("K#1", "P1@0"), ("K#2", "P1@2")]
    solution, report = solved(h)
    assert report.feasible and solution.served_job_ids() == {"K#1", "K#2"}
    assert hz.job_of(h.problem, "K#2") == "K"


def test_a_multi_day_job_without_consecutive_days_with_room_is_left_out_whole_with_a_reason() -> None:
    h = hz.build([person("P1", (0,))], [hjob("K", 0, 0, days=1), hjob("L", 0, 1, days=2)], 2)
    solution, report = solved(h)
    assert report.feasible
    out = {u.job_id: u for u in solution.unassigned}
    assert set(out) == {"L#1", "L#2"}
    assert "consecutive working days" in out["L#1"].reason


def test_a_day_of_a_multi_day_job_that_cannot_fit_takes_the_other_days_out_too() -> None:
    # Day 1's shift is too short for the 6-hour part: the whole job is out.
    p = person("P1", (0, 1))
    short = hz.Person(p.technician, (p.days[0], hz.WorkDay(1, Shift(hm(8), hm(12)))))
    jobs = [hjob("K", 0, 1, days=2, duration_s=6 * H)]
    problem = hz.build([p], jobs, 2).problem
    # Pinned to the chosen days, then day 1 made shorter than the part.
    shorter = dataclasses.replace(problem, technicians=hz.technicians([short], 2))
    solution = hz.solve(hz.Horizon(shorter))
    assert solution.served_job_ids() == set()
    reasons = {u.job_id: u.reason for u in solution.unassigned}
    assert "Day 1 of 2 of job K" in reasons["K#1"] and "Day 2 of 2 of job K" in reasons["K#2"]


def _two_day_problem(days: tuple[int, ...] = (0, 1, 2)) -> Problem:
    techs = tuple(
        Technician(f"{p}@{d}", HOME, Shift(d * DAY_S + hm(8), d * DAY_S + hm(16)), person_id=p, day=d)
        for p in ("P1", "P2")
        for d in days
    )
    parts = tuple(Job(f"K#{k + 1}", A, H, part=Part("K", k, 2)) for k in range(2))
    return Problem(techs, parts)


def _at(tech_id: str, day: int) -> Any:
    start = day * DAY_S + hm(9)
    return route(tech_id, visit("K", start), start_s=start - 600, end_s=start + H + 600)


@pytest.mark.parametrize(
    ("first", "second", "fine"),
    [
        (("P1@0", 0), ("P1@1", 1), True),
        (("P1@0", 0), ("P1@2", 2), False),  # a working day skipped
        (("P1@1", 1), ("P1@0", 0), False),  # out of order
        (("P1@0", 0), ("P2@1", 1), False),  # two people
    ],
)
def test_the_checker_wants_a_multi_day_job_on_one_persons_consecutive_working_days_in_order(
    first: tuple[str, int], second: tuple[str, int], fine: bool
) -> None:
    problem = _two_day_problem()
    r1, r2 = (
        dataclasses.replace(_at(*first), visits=(dataclasses.replace(_at(*first).visits[0], job_id="K#1"),)),
        dataclasses.replace(_at(*second), visits=(dataclasses.replace(_at(*second).visits[0], job_id="K#2"),)),
    )
    idle = [route(t.id, start_s=t.shift.start_s, end_s=t.shift.start_s) for t in problem.technicians]
    routes = tuple(
        r1 if r.technician_id == r1.technician_id else r2 if r.technician_id == r2.technician_id else r for r in idle
    )
    points, travel = problem_travel(problem, provider())
    report = check(problem, Solution(routes, ()), points, travel)
    assert (MULTI_DAY in report.kinds) is not fine


def test_the_checker_flags_a_multi_day_job_served_without_one_of_its_days() -> None:
    problem = _two_day_problem()
    r1 = _at("P1@0", 0)
    r1 = dataclasses.replace(r1, visits=(dataclasses.replace(r1.visits[0], job_id="K#1"),))
    idle = [route(t.id, start_s=t.shift.start_s, end_s=t.shift.start_s) for t in problem.technicians[1:]]
    points, travel = problem_travel(problem, provider())
    report = check(problem, Solution((r1, *idle), (Unassigned("K#2", ReasonCode.DAY_FULL, "full"),)), points, travel)
    assert [v.kind for v in report.violations] == [MULTI_DAY]


def test_malformed_parts_are_refused() -> None:
    techs = (Technician("T1", HOME, Shift(hm(8), hm(16))),)
    with pytest.raises(ProblemError, match=r"job K: its parts must be days 0\.\.1 of 2"):
        Problem(techs, (Job("K#1", A, H, part=Part("K", 0, 2)),))
    with pytest.raises(ProblemError, match=r"part of K: index must be in 0\.\.1"):
        Part("K", 2, 2)


# --- Against brute force and at random ---------------------------------------------------------------------


def tiny_horizon(seed: int) -> hz.Horizon:
    """Two people over two or three days (a day off at random), up to five jobs with
    ranges, preferred days, windows, and maybe a two-day job."""
    rng = random.Random(seed)

    def spot() -> Location:
        return Location(60.15 + rng.random() * 0.08, 24.85 + rng.random() * 0.2)

    n_days = rng.choice([2, 3])
    people = []
    for p in ("P1", "P2"):
        days = tuple(d for d in range(n_days) if rng.random() < 0.8) or (0,)
        tech = Technician(p, spot(), Shift(0, 1), cost=CostProfile(3600, 30, 0, 5400))
        shifts = tuple(hz.WorkDay(d, Shift(hm(8), hm(rng.choice([11, 13]))), max_overtime_s=1800) for d in days)
        people.append(hz.Person(tech, shifts))
    jobs = []
    for i in range(rng.randint(3, 5)):
        first = rng.randrange(n_days)
        last = rng.randrange(first, n_days)
        windows = (TimeWindow(hm(rng.randint(8, 10)), hm(rng.randint(11, 12))),) if rng.random() < 0.5 else ()
        jobs.append(
            hz.HorizonJob(
                Job(f"J{i}", spot(), rng.choice([1, 2]) * H, windows=windows, priority=rng.choice([2, 3])),
                first,
                last,
                preferred_day=rng.randint(first, last),
            )
        )
    if rng.random() < 0.5:
        jobs.append(hz.HorizonJob(Job("K", spot(), 2 * H), 0, n_days - 1, days=2))
    weights = Weights(day_late_cents=rng.choice([0, 3000]), day_early_cents=rng.choice([0, 1500]))
    return hz.build(people, jobs, n_days, weights)


@pytest.mark.parametrize("seed", range(6))
def test_the_solver_reaches_the_brute_force_optimum_on_a_tiny_horizon(seed: int) -> None:
    h = tiny_horizon(seed)
    solution, report = solved(h, 2.0)
    assert report.feasible
    assert solution.objective.total_units == optimum_units(h.problem)


@PROPERTY
@given(st.integers(0, 10_000))
def test_every_random_small_horizon_is_planned_without_violations_and_every_job_accounted_for(seed: int) -> None:
    h = tiny_horizon(seed)
    solution = hz.solve(h, SolveOptions(time_limit_s=0.5))
    points, travel = problem_travel(h.problem, HaversineProvider())
    report = check(h.problem, solution, points, travel)
    assert report.violations == ()
    served = solution.served_job_ids()
    assert served | {u.job_id for u in solution.unassigned} == {j.id for j in h.problem.jobs}
    parts = {j.id for j in h.problem.jobs if j.part is not None}
    assert parts <= served or not parts & served
    assert solution.objective == report.objective


def test_an_install_waits_its_lag_in_working_days_over_the_weekend() -> None:
    """Day 0 is a Friday and the people work every day: two working days after the
    measure on Friday is Tuesday (day 4), though the install prefers Friday."""
    friday = 4
    days = (0, 1, 2, 3, 4)
    jobs = [
        hjob("M", 0, 0, A),
        hjob("I", 0, 4, B, preferred_day=0, after=Dependency("M", min_lag_days=2, first_weekday=friday)),
    ]
    h = hz.build([person("P1", days), person("P2", days, home=B)], jobs, 5)
    solution, report = solved(h)
    assert report.feasible and solution.served_job_ids() == {"M", "I"}
    assert where(h, solution)["I"][1] == 4


@PROPERTY
@given(st.integers(0, 10_000))
def test_random_lags_in_working_days_are_kept_and_checked_on_small_horizons(seed: int) -> None:
    """A measure and its install over up to six days starting on any weekday, lags in
    working days and hours at random: the plan keeps them by the checker's own count,
    and leaves the install out only when no two days of the horizon allow the pair."""
    rng = random.Random(seed)
    n_days = rng.randint(2, 6)
    first_weekday = rng.randrange(7)
    people = [person(p, tuple(range(n_days))) for p in ("P1", "P2")]
    min_days = rng.randint(0, 3)
    max_days = rng.choice([None, min_days, min_days + 1])
    dep = Dependency(
        "M", min_lag_s=rng.choice([0, 4 * H]), min_lag_days=min_days, max_lag_days=max_days, first_weekday=first_weekday
    )
    m_last = rng.randrange(n_days)
    jobs = [hjob("M", 0, m_last, A), hjob("I", 0, n_days - 1, B, preferred_day=0, after=dep)]
    h = hz.build(people, jobs, n_days)
    solution = hz.solve(h, SolveOptions(time_limit_s=0.5))
    points, travel = problem_travel(h.problem, HaversineProvider())
    report = check(h.problem, solution, points, travel)
    assert report.violations == ()
    at = where(h, solution)
    if "I" in at:
        measured_end = at["M"][2] + H
        assert dep.allows(at["I"][2], measured_end)
    else:
        # Left out only when no later day of the horizon is far enough from any day of the measure.
        pairs = [
            (dm, di)
            for dm in range(m_last + 1)
            for di in range(dm + 1, n_days)
            if dep.allows(di * DAY_S + hm(12), dm * DAY_S + hm(16))
        ]
        assert not pairs, f"the install fits on day {pairs[0][1]} after a measure on day {pairs[0][0]}"
