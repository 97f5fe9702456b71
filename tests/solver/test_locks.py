"""The dispatcher's locks in a later solve (``solver.locks``): a locked technician and
start hold even where the cheapest plan would change them, an order lock is put back
after the search, and a lock that cannot be kept is released and said so."""

from __future__ import annotations

import dataclasses

import pytest

from solver import CostProfile, Job, Location, Problem, Shift, SolveOptions, Technician, TimeWindow, check, solve
from solver.locks import ORDER, TECHNICIAN, TIME, VisitLock, apply, not_kept, unpinned
from solver.travel import HaversineProvider, problem_travel

H = 3600
WEST, EAST = Location(60.17, 24.80), Location(60.17, 25.10)


def near(base: Location, k: int) -> Location:
    return Location(base.lat + 0.004 * k, base.lon)


def two_installers() -> Problem:
    """T1 based west, T2 based east, 8:00–16:00; three one-hour jobs near each, any time."""
    techs = tuple(
        Technician(t, home, Shift(8 * H, 16 * H), skills={"wardrobe": 1}, cost=CostProfile(3800, 35))
        for t, home in (("T1", WEST), ("T2", EAST))
    )
    jobs = tuple(Job(f"W{k}", near(WEST, k + 1), H, skills={"wardrobe": 1}) for k in range(3)) + tuple(
        Job(f"E{k}", near(EAST, k + 1), H, skills={"wardrobe": 1}) for k in range(3)
    )
    return Problem(techs, jobs)


def solved(problem: Problem, ordered: tuple[tuple[str, tuple[str, ...]], ...] = ()) -> dict[str, tuple[str, int]]:
    solution = solve(problem, SolveOptions(time_limit_s=1, ordered=ordered))
    assert check(problem, solution, *problem_travel(problem, HaversineProvider())).feasible
    return {v.job_id: (r.technician_id, v.start_s) for r in solution.routes for v in r.visits}


def test_a_locked_technician_and_start_hold_where_the_cheapest_plan_would_change_both() -> None:
    problem = two_installers()
    free = solved(problem)
    assert free["E0"][0] == "T2" and free["E0"][1] != 14 * H
    lock = VisitLock("E0", "T1", technician=True, time=True, seq=1, start_s=14 * H)
    locked = apply(problem, [lock], now_s=10 * H)
    assert locked.released == ()
    plan = solved(locked.problem)
    assert plan["E0"] == ("T1", 14 * H)


def test_an_order_lock_is_put_back_after_the_search() -> None:
    problem = two_installers()
    free = solved(problem)
    west = sorted((start, job) for job, (tech, start) in free.items() if tech == "T1")
    natural = tuple(job for _, job in west)
    assert len(natural) == 3
    wanted = tuple(reversed(natural))
    locks = [VisitLock(j, "T1", order=True, seq=k + 1) for k, j in enumerate(wanted)]
    locked = apply(problem, locks)
    assert locked.ordered == (("T1", wanted),)
    plan = solved(locked.problem, locked.ordered)
    assert tuple(sorted(wanted, key=lambda j: plan[j][1])) == wanted


def test_an_order_the_route_cannot_keep_is_reported_with_the_visits_out_of_order() -> None:
    base = two_installers()
    early = Job("W0", near(WEST, 1), H, skills={"wardrobe": 1}, windows=(TimeWindow(8 * H, 9 * H),))
    late = Job("W1", near(WEST, 2), H, skills={"wardrobe": 1}, windows=(TimeWindow(14 * H, 15 * H),))
    problem = Problem(base.technicians, (early, late, *base.jobs[2:]))
    locks = [VisitLock("W1", "T1", technician=True, order=True, seq=1), VisitLock("W0", "T1", order=True, seq=2)]
    locked = apply(problem, locks)
    solution = solve(locked.problem, SolveOptions(time_limit_s=1, ordered=locked.ordered))
    lost = not_kept(solution, locked, locks)
    assert [(x.job_id, x.lock) for x in lost] == [("W0", ORDER)]
    assert "does not time" in lost[0].reason


@pytest.mark.parametrize(
    ("lock", "now_s", "reason"),
    [
        (VisitLock("E0", "T9", technician=True, seq=1, start_s=12 * H), None, "T9 works no more today"),
        (VisitLock("E0", "T2", time=True, seq=1, start_s=9 * H), 10 * H, "its locked start 09:00 has passed"),
        (VisitLock("E0", "T2", time=True, seq=1, start_s=20 * H), None, "its locked start 20:00 is outside its window"),
    ],
)
def test_a_lock_that_cannot_be_kept_is_released_and_says_why(lock: VisitLock, now_s: int | None, reason: str) -> None:
    base = two_installers()
    morning = Job("E0", near(EAST, 1), H, skills={"wardrobe": 1}, windows=(TimeWindow(8 * H, 13 * H),))
    problem = Problem(base.technicians, (*base.jobs[:3], morning, *base.jobs[4:]))
    locked = apply(problem, [lock], now_s)
    assert [x.job_id for x in locked.released] == ["E0"]
    assert reason in locked.released[0].reason
    assert locked.problem.job("E0") == problem.job("E0")


def test_time_locks_a_technician_can_no_longer_reach_in_order_are_released() -> None:
    problem = two_installers()
    # The same technician cannot be at both at 10:00.
    locks = [
        VisitLock("W0", "T1", time=True, seq=1, start_s=10 * H),
        VisitLock("W1", "T1", time=True, seq=2, start_s=10 * H),
    ]
    locked = apply(problem, locks)
    assert [(x.job_id, x.lock) for x in locked.released] == [("W1", TIME)]
    assert locked.problem.job("W0").windows == (TimeWindow(10 * H, 10 * H),)
    assert locked.problem.job("W1").windows == ()


def test_unpinned_takes_off_only_the_pins_its_technician_locks_set() -> None:
    base = two_installers()
    jobs = tuple(dataclasses.replace(j, pinned_technician_id="T1") if j.id in ("W0", "W1") else j for j in base.jobs)
    problem = Problem(base.technicians, jobs)
    out = unpinned(problem, [VisitLock("W0", "T1", technician=True), VisitLock("W1", "T2", technician=True)])
    assert out.job("W0").pinned_technician_id is None
    assert out.job("W1").pinned_technician_id == "T1"


def test_a_locked_job_left_out_is_reported_for_each_lock_it_held() -> None:
    base = two_installers()
    kitchen = Job("K0", near(WEST, 4), H, skills={"kitchen": 1})
    problem = Problem(base.technicians, (*base.jobs, kitchen))
    locks = [VisitLock("K0", "T1", technician=True, time=True, seq=1, start_s=12 * H)]
    locked = apply(problem, locks)
    assert locked.released == ()
    solution = solve(locked.problem, SolveOptions(time_limit_s=1))
    lost = not_kept(solution, locked, locks)
    assert {x.lock for x in lost} == {TECHNICIAN, TIME}
    assert all(x.reason.startswith("the job is left out") for x in lost)


def test_a_technician_lock_its_technician_can_no_longer_reach_is_released_and_the_job_planned_by_another() -> None:
    base = two_installers()
    late = dataclasses.replace(base.technicians[0], shift=Shift(12 * H + 50 * 60, 16 * H))
    morning = Job("E0", near(EAST, 1), H, skills={"wardrobe": 1}, windows=(TimeWindow(8 * H, 13 * H),))
    problem = Problem((late, base.technicians[1]), (*base.jobs[:3], morning, *base.jobs[4:]))
    # T1 is free from 12:50 in the west; the job is in the east and must start by 13:00.
    locked = apply(problem, [VisitLock("E0", "T1", technician=True, seq=1, start_s=10 * H)], now_s=12 * H + 50 * 60)
    assert [(x.job_id, x.lock) for x in locked.released] == [("E0", TECHNICIAN)]
    assert locked.released[0].reason == "T1 can no longer reach it inside its window"
    assert locked.problem.job("E0").pinned_technician_id is None
    assert solved(locked.problem)["E0"][0] == "T2"


def test_a_technician_lock_its_technician_can_still_reach_holds() -> None:
    base = two_installers()
    late = dataclasses.replace(base.technicians[0], shift=Shift(11 * H, 16 * H))
    morning = Job("E0", near(EAST, 1), H, skills={"wardrobe": 1}, windows=(TimeWindow(8 * H, 13 * H),))
    problem = Problem((late, base.technicians[1]), (*base.jobs[:3], morning, *base.jobs[4:]))
    locked = apply(problem, [VisitLock("E0", "T1", technician=True, seq=1, start_s=10 * H)], now_s=11 * H)
    assert locked.released == ()
    assert solved(locked.problem)["E0"][0] == "T1"


def test_a_lock_to_someone_kept_in_the_day_only_for_their_settled_visits_is_released_as_working_no_more() -> None:
    base = two_installers()
    # A re-plan keeps a technician off for the rest of the day in it, able to take nothing.
    off = dataclasses.replace(base.technicians[1], max_jobs=0)
    problem = Problem((base.technicians[0], off), base.jobs)
    locked = apply(problem, [VisitLock("E0", "T2", technician=True, seq=1, start_s=10 * H)], now_s=9 * H)
    assert [(x.job_id, x.lock, x.reason) for x in locked.released] == [("E0", TECHNICIAN, "T2 works no more today")]
    assert locked.problem.job("E0").pinned_technician_id is None


def test_a_crew_locked_to_two_technicians_reports_the_lock_of_the_one_who_does_not_go() -> None:
    """A job holds one pin: the crew keeps T1, and its partner is whoever suits (T3, next
    to it, not T2 from the east). Before, T2's lock was neither kept nor reported."""
    base = two_installers()
    third = Technician("T3", near(WEST, 6), Shift(8 * H, 16 * H), skills={"wardrobe": 1}, cost=CostProfile(3800, 35))
    crew = Job("C", near(WEST, 5), H, skills={"wardrobe": 1}, crew_size=2)
    problem = Problem((*base.technicians, third), (*base.jobs, crew))
    locks = [VisitLock("C", "T1", technician=True, seq=1), VisitLock("C", "T2", technician=True, seq=1)]
    locked = apply(problem, locks)
    solution = solve(locked.problem, SolveOptions(time_limit_s=1))
    crew_by = sorted(r.technician_id for r in solution.routes for v in r.visits if v.job_id == "C")
    assert crew_by == ["T1", "T3"], crew_by
    lost = not_kept(solution, locked, locks)
    assert [(x.job_id, x.technician_id, x.lock, x.reason) for x in lost] == [
        ("C", "T2", TECHNICIAN, "it is done by T1 and T3")
    ]
