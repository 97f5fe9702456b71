"""Slot evaluation: which windows a new job can still get, and why others cannot."""

from __future__ import annotations

import dataclasses
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver import Break, Job, Location, Problem, Shift, Technician, TimeWindow, check, problem_travel
from solver.slots import SlotEvaluator, SlotReason, WorkingRoute, working_solution
from solver.travel import HaversineProvider

H = 3600
LUNCH = Break(11 * H, 13 * H, 1800)


def point(i: int) -> Location:
    return Location(60.17 + 0.01 * (i % 7), 24.90 + 0.02 * (i // 7))


def tech(tid: str, at: int, skills: dict[str, int] | None = None, shift: tuple[int, int] = (8, 16)) -> Technician:
    return Technician(tid, point(at), Shift(shift[0] * H, shift[1] * H, LUNCH), skills=skills or {"wardrobe": 2})


def hourly(first: int = 8, last: int = 17) -> list[TimeWindow]:
    return [TimeWindow(h * H, (h + 1) * H) for h in range(first, last)]


def book_all(
    problem: Problem, routes: list[WorkingRoute], job: Job, window: TimeWindow
) -> tuple[Problem, list[WorkingRoute]]:
    """Book ``job`` in ``window`` on the working plan; asserts it was offered."""
    ev = SlotEvaluator(problem, routes)
    [answer] = ev.evaluate(job, [window], move_budget_s=5.0)
    assert answer.insertion is not None, answer.reason
    booked = dataclasses.replace(job, windows=(window,))
    return Problem(problem.technicians, (*problem.jobs, booked)), ev.with_insertion(booked, answer.insertion)


def assert_checker_accepts(problem: Problem, routes: list[WorkingRoute]) -> None:
    solution = working_solution(problem, routes)
    points, travel = problem_travel(problem, HaversineProvider())
    report = check(problem, solution, points, travel)
    assert report.feasible, report.violations
    assert not solution.unassigned


def test_an_empty_day_offers_every_window_a_technician_can_reach_and_finish() -> None:
    problem = Problem((tech("T1", 0),), ())
    job = Job("new", point(3), 2 * H, skills={"wardrobe": 1})
    answers = SlotEvaluator(problem, []).evaluate(job, hourly(7, 17))
    offered = [a.window.start_s // H for a in answers if a.insertion is not None]
    # Leaves home at 8:00 and must be back by 16:00 after a 2-hour visit, the drive and the lunch.
    assert offered[0] == 8 and offered[-1] in (12, 13)
    assert answers[-1].reason is SlotReason.OUTSIDE_HOURS
    assert answers[0].reason is SlotReason.OUTSIDE_HOURS  # 7:00-8:00 is before anyone leaves home


def test_a_skill_nobody_holds_is_refused_for_every_window() -> None:
    problem = Problem((tech("T1", 0),), ())
    job = Job("new", point(3), H, skills={"glass": 1})
    answers = SlotEvaluator(problem, []).evaluate(job, hourly())
    assert {a.reason for a in answers} == {SlotReason.NO_SKILL}


def test_a_day_without_technicians_says_nobody_works() -> None:
    answers = SlotEvaluator(Problem((), ()), []).evaluate(Job("new", point(1), H), hourly(9, 10))
    assert answers[0].reason is SlotReason.NO_TECHNICIAN


def test_a_window_taken_by_a_booked_job_is_full_while_others_stay_open() -> None:
    problem = Problem((tech("T1", 0),), ())
    routes: list[WorkingRoute] = []
    job = Job("a", point(2), 3 * H - 1800, skills={"wardrobe": 1})
    problem, routes = book_all(problem, routes, job, TimeWindow(9 * H, 10 * H))
    answers = SlotEvaluator(problem, routes).evaluate(Job("b", point(2), 2 * H), hourly(8, 14))
    by_hour = {a.window.start_s // H: a for a in answers}
    assert by_hour[9].reason is SlotReason.DAY_FULL
    assert by_hour[13].insertion is not None
    assert_checker_accepts(problem, routes)


def test_booking_each_offered_slot_keeps_every_promise_and_the_checker_agrees() -> None:
    rng = random.Random(7)
    problem = Problem((tech("T1", 0), tech("T2", 20), tech("T3", 40, {"kitchen": 1})), ())
    routes: list[WorkingRoute] = []
    booked = 0
    for i in range(30):
        job = Job(f"J{i}", point(rng.randrange(49)), rng.choice([1, 2, 3]) * 1800, skills={"wardrobe": 1})
        answers = SlotEvaluator(problem, routes).evaluate(job, hourly())
        offers = [a for a in answers if a.insertion is not None]
        if not offers:
            continue
        problem, routes = book_all(problem, routes, job, rng.choice(offers).window)
        booked += 1
        assert_checker_accepts(problem, routes)
    assert booked >= 8


def test_the_new_visit_keeps_other_jobs_inside_their_own_windows_while_it_moves_them() -> None:
    # T1 has one job 9-10; a new job next door at 9:00-9:30 fits only if the booked one moves later.
    problem = Problem((tech("T1", 0),), (Job("a", point(1), H, windows=(TimeWindow(9 * H, 11 * H),)),))
    routes = [WorkingRoute("T1", ("a",))]
    [answer] = SlotEvaluator(problem, routes).evaluate(Job("b", point(1), H), [TimeWindow(9 * H, 9 * H + 1800)])
    assert answer.insertion is not None and answer.insertion.positions == (0,)
    assert answer.insertion.slack_s <= H


def test_routine_bookings_leave_the_urgent_reserve_free_but_urgent_ones_may_use_it() -> None:
    problem = Problem((tech("T1", 0),), ())
    job = Job("big", point(1), 6 * H)
    ev = SlotEvaluator(problem, [], reserve_share=0.3)
    [routine] = ev.evaluate(job, [TimeWindow(8 * H, 9 * H)])
    [urgent] = ev.evaluate(job, [TimeWindow(8 * H, 9 * H)], use_reserve=True)
    assert routine.reason is SlotReason.URGENT_RESERVE
    assert urgent.insertion is not None and urgent.insertion.uses_reserve


def test_a_crew_job_is_offered_only_where_two_qualified_technicians_can_meet() -> None:
    problem = Problem((tech("T1", 0), tech("T2", 1), tech("T3", 2, {"kitchen": 1})), ())
    crew = Job("crew", point(3), 2 * H, skills={"wardrobe": 1}, crew_size=2)
    [answer] = SlotEvaluator(problem, []).evaluate(crew, [TimeWindow(10 * H, 11 * H)])
    assert answer.insertion is not None
    assert set(answer.insertion.technician_ids) == {"T1", "T2"}
    booked = dataclasses.replace(crew, windows=(TimeWindow(10 * H, 11 * H),))
    routes = SlotEvaluator(problem, []).with_insertion(booked, answer.insertion)
    problem = Problem(problem.technicians, (booked,))
    assert_checker_accepts(problem, routes)
    lone = Problem((tech("T1", 0), tech("T3", 2, {"kitchen": 1})), ())
    [alone] = SlotEvaluator(lone, []).evaluate(crew, [TimeWindow(10 * H, 11 * H)])
    assert alone.insertion is None


def test_cancelling_a_job_frees_its_window_again() -> None:
    problem = Problem((tech("T1", 0),), ())
    problem, routes = book_all(problem, [], Job("a", point(2), 7 * H), TimeWindow(8 * H, 9 * H))
    new = Job("b", point(2), 2 * H)
    [before] = SlotEvaluator(problem, routes).evaluate(new, [TimeWindow(9 * H, 10 * H)])
    freed = SlotEvaluator(problem, routes).without("a")
    [after] = SlotEvaluator(problem, freed).evaluate(new, [TimeWindow(9 * H, 10 * H)])
    assert before.insertion is None and after.insertion is not None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000))
def test_every_offer_on_a_random_day_is_bookable_and_the_plan_stays_checked(seed: int) -> None:
    rng = random.Random(seed)
    techs = tuple(
        Technician(
            f"T{k}",
            point(rng.randrange(49)),
            Shift(rng.choice([7, 8, 9]) * H, rng.choice([15, 16, 17]) * H, LUNCH if rng.random() < 0.7 else None),
            skills={"wardrobe": rng.choice([1, 2]), **({"kitchen": 1} if rng.random() < 0.5 else {})},
        )
        for k in range(3)
    )
    problem = Problem(techs, ())
    routes: list[WorkingRoute] = []
    for i in range(12):
        job = Job(
            f"J{i}",
            point(rng.randrange(49)),
            rng.choice([30, 60, 120, 240]) * 60,
            skills=rng.choice([{"wardrobe": 1}, {"wardrobe": 2}, {"kitchen": 1}]),
            crew_size=2 if rng.random() < 0.15 else 1,
        )
        answers = SlotEvaluator(problem, routes, reserve_share=0.1).evaluate(job, hourly(7, 17), move_budget_s=0.05)
        offers = [a for a in answers if a.insertion is not None]
        if offers:
            problem, routes = book_all(problem, routes, job, rng.choice(offers).window)
            assert_checker_accepts(problem, routes)


def test_repair_places_the_promises_of_a_technician_who_left_with_someone_else() -> None:
    problem = Problem((tech("T1", 0), tech("T2", 1)), ())
    problem, routes = book_all(problem, [], Job("a", point(2), H), TimeWindow(9 * H, 10 * H))
    holder = next(r.technician_id for r in routes if r.job_ids)
    stays = next(t for t in problem.technicians if t.id != holder)
    after = Problem((stays,), problem.jobs)
    ev = SlotEvaluator(after, routes, repair=True)
    assert ev.unplaced == []
    assert [r.job_ids for r in ev.routes()] == [("a",)]
    assert_checker_accepts(after, ev.routes())


def test_repair_lists_a_promise_that_fits_nowhere_any_more() -> None:
    problem = Problem((tech("T1", 0),), ())
    problem, routes = book_all(problem, [], Job("a", point(2), H), TimeWindow(14 * H, 15 * H))
    shorter = Problem((tech("T1", 0, shift=(8, 12)),), problem.jobs)
    ev = SlotEvaluator(shorter, routes, repair=True)
    assert ev.unplaced == ["a"]
    assert ev.routes()[0].job_ids == ()


def test_a_full_window_opens_when_a_promised_job_can_move_to_another_technician() -> None:
    # Only T1 fits kitchens; T1's 9-10 wardrobe job can be done by T2 instead.
    problem = Problem((tech("T1", 0, {"kitchen": 1, "wardrobe": 1}), tech("T2", 8)), ())
    x = Job("X", point(1), 2 * H, skills={"wardrobe": 1}, windows=(TimeWindow(9 * H, 10 * H),))
    problem = Problem(problem.technicians, (x,))
    routes = [WorkingRoute("T1", ("X",))]
    kitchen = Job("K", point(2), 2 * H, skills={"kitchen": 1})
    window = [TimeWindow(9 * H, 10 * H)]
    [plain] = SlotEvaluator(problem, routes).evaluate(kitchen, window)
    assert plain.reason is SlotReason.DAY_FULL
    ev = SlotEvaluator(problem, routes)
    [moved] = ev.evaluate(kitchen, window, move_budget_s=1.0)
    assert moved.insertion is not None and moved.insertion.moves == (("X", "T1", "T2", 0),)
    booked = dataclasses.replace(kitchen, windows=tuple(window))
    after = ev.with_insertion(booked, moved.insertion)
    assert {r.technician_id: r.job_ids for r in after} == {"T1": ("K",), "T2": ("X",)}
    assert_checker_accepts(Problem(problem.technicians, (*problem.jobs, booked)), after)


def test_a_job_pinned_to_its_technician_is_never_moved_to_make_room() -> None:
    # As above, but X is pinned to T1 (a day of a job whose other days are T1's).
    problem = Problem((tech("T1", 0, {"kitchen": 1, "wardrobe": 1}), tech("T2", 8)), ())
    x = Job(
        "X", point(1), 2 * H, skills={"wardrobe": 1}, windows=(TimeWindow(9 * H, 10 * H),), pinned_technician_id="T1"
    )
    problem = Problem(problem.technicians, (x,))
    kitchen = Job("K", point(2), 2 * H, skills={"kitchen": 1})
    [answer] = SlotEvaluator(problem, [WorkingRoute("T1", ("X",))]).evaluate(
        kitchen, [TimeWindow(9 * H, 10 * H)], move_budget_s=1.0
    )
    assert answer.insertion is None and answer.reason is SlotReason.DAY_FULL


def test_an_evaluator_grown_by_one_booking_answers_like_one_built_afresh() -> None:
    rng = random.Random(3)
    problem = Problem((tech("T1", 0), tech("T2", 20), tech("T3", 40)), ())
    routes: list[WorkingRoute] = []
    grown = SlotEvaluator(problem, routes)
    for i in range(10):
        job = Job(f"J{i}", point(rng.randrange(49)), rng.choice([1, 2, 3]) * 1800)
        offers = [a for a in grown.evaluate(job, hourly(), move_budget_s=1.0) if a.insertion is not None]
        if not offers:
            continue
        chosen = rng.choice(offers)
        assert chosen.insertion is not None
        booked = dataclasses.replace(job, windows=(chosen.window,))
        routes = grown.with_insertion(booked, chosen.insertion)
        grown = grown.with_job(booked, chosen.insertion)
        problem = Problem(problem.technicians, (*problem.jobs, booked))
        fresh = SlotEvaluator(problem, routes)
        assert grown.routes() == fresh.routes()
        probe = Job(f"P{i}", point(rng.randrange(49)), 3600)
        assert grown.evaluate(probe, hourly()) == fresh.evaluate(probe, hourly())


def _answers(ev: SlotEvaluator, job: Job) -> list[tuple[int, object, object]]:
    """What an evaluator answers for ``job`` by the hour: window start, added cost, technicians or reason."""
    out: list[tuple[int, object, object]] = []
    for a in ev.evaluate(job, hourly(7, 17)):
        if a.insertion is None:
            out.append((a.window.start_s, None, a.reason))
        else:
            out.append((a.window.start_s, a.insertion.added_cost_cents, a.insertion.technician_ids))
    return out


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000))
def test_an_evaluator_brought_up_to_date_answers_as_a_new_one_of_the_same_plan(seed: int) -> None:
    """Another process booked and cancelled meanwhile: only the changed routes are timed again."""
    rng = random.Random(seed)
    techs = tuple(tech(f"T{k}", rng.randrange(49), {"wardrobe": 2, "kitchen": 1}) for k in range(3))
    problem, routes = Problem(techs, ()), []
    for i in range(6):
        job = Job(f"J{i}", point(rng.randrange(49)), rng.choice([60, 120]) * 60, skills={"wardrobe": 1})
        offers = [a for a in SlotEvaluator(problem, routes).evaluate(job, hourly(8, 15)) if a.insertion is not None]
        if offers:
            problem, routes = book_all(problem, routes, job, rng.choice(offers).window)
    seen = SlotEvaluator(problem, routes)  # what this process cached
    later_problem, later_routes = problem, routes
    for i in range(6, 9):  # what the other process did since
        job = Job(f"J{i}", point(rng.randrange(49)), 60 * 60, skills={"kitchen": 1})
        offers = [a for a in SlotEvaluator(later_problem, later_routes).evaluate(job, hourly(8, 15)) if a.insertion]
        if offers:
            later_problem, later_routes = book_all(later_problem, later_routes, job, rng.choice(offers).window)
    if later_problem.jobs:
        gone = later_problem.jobs[0].id
        later_routes = SlotEvaluator(later_problem, later_routes).without(gone)
        later_problem = dataclasses.replace(later_problem, jobs=tuple(j for j in later_problem.jobs if j.id != gone))

    updated = seen.updated(later_problem.jobs, later_routes)

    assert updated is not None
    fresh = SlotEvaluator(later_problem, later_routes)
    assert updated.routes() == fresh.routes()
    probe = Job("new", point(rng.randrange(49)), H, skills={"wardrobe": 1})
    assert _answers(updated, probe) == _answers(fresh, probe)


def test_an_evaluator_is_not_brought_up_to_date_to_a_plan_of_other_technicians() -> None:
    problem = Problem((tech("T1", 0),), ())
    assert SlotEvaluator(problem, []).updated((), [WorkingRoute("T9", ())]) is None


def test_a_booked_job_its_technician_is_no_longer_qualified_for_is_placed_again_and_its_hour_not_sold_twice() -> None:
    """W1 held a wardrobe job booked 13:00-14:00 and lost the wardrobe skill; W2 is the only
    wardrobe fitter left. Repaired, the booked job goes to W2, so W2's 13:00 is not offered
    to another wardrobe job; the same when W1's max jobs fell to none. Before, W1 kept it
    and W2's 13:00 was sold as well: two promises needed W2 at 13:00."""
    booked = Job("BOOKED", point(3), 90 * 60, skills={"wardrobe": 1}, windows=(TimeWindow(13 * H, 14 * H),))
    routes = [WorkingRoute("W1", ("BOOKED",)), WorkingRoute("W2", ())]
    new = Job("new", point(3), 90 * 60, skills={"wardrobe": 1})
    for w1 in (
        tech("W1", 0, {"kitchen": 1}, shift=(12, 15)),
        dataclasses.replace(tech("W1", 0, shift=(12, 15)), max_jobs=0),
    ):
        problem = Problem((w1, tech("W2", 1, shift=(12, 15))), (booked,))
        ev = SlotEvaluator(problem, routes, repair=True)
        held = {r.technician_id: r.job_ids for r in ev.routes()}
        assert held == {"W1": (), "W2": ("BOOKED",)} and not ev.unplaced, held
        [answer] = ev.evaluate(new, [TimeWindow(13 * H, 14 * H)])
        assert answer.insertion is None, answer
