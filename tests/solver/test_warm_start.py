"""A solve that starts from given routes (the booking working plan) keeps every
promise they hold and plans the other jobs around them."""

from __future__ import annotations

import dataclasses
import random

from solver import Break, Job, Location, Problem, Shift, SolveOptions, Technician, TimeWindow, solve
from solver.slots import SlotEvaluator, WorkingRoute

H = 3600


def point(rng: random.Random) -> Location:
    return Location(60.15 + rng.random() * 0.12, 24.80 + rng.random() * 0.30)


def booked_day(seed: int, technicians: int, booked: int, loose: int) -> tuple[Problem, list[WorkingRoute]]:
    """Technicians, ``booked`` jobs promised through the slot evaluator (priority 0,
    one hourly slot each) and ``loose`` unbooked jobs of priority 3."""
    rng = random.Random(seed)
    lunch = Break(11 * H, 13 * H, 1800)
    techs = tuple(
        Technician(f"T{k}", point(rng), Shift(8 * H, 16 * H, lunch), skills={"wardrobe": 1}, cost=_cost())
        for k in range(technicians)
    )
    problem = Problem(techs, ())
    routes: list[WorkingRoute] = []
    for i in range(booked * 3):
        if len(problem.jobs) == booked:
            break
        job = Job(f"B{i}", point(rng), rng.choice([60, 90, 120]) * 60, skills={"wardrobe": 1}, priority=0)
        windows = [TimeWindow(h * H, (h + 1) * H) for h in range(8, 15)]
        ev = SlotEvaluator(problem, routes)
        offers = [a for a in ev.evaluate(job, windows) if a.insertion is not None]
        if not offers:
            continue
        answer = rng.choice(offers)
        assert answer.insertion is not None
        promised = dataclasses.replace(job, windows=(answer.window,))
        routes = ev.with_insertion(promised, answer.insertion)
        problem = Problem(techs, (*problem.jobs, promised))
    extra = tuple(Job(f"L{i}", point(rng), rng.choice([60, 120]) * 60, skills={"wardrobe": 1}) for i in range(loose))
    return Problem(techs, (*problem.jobs, *extra)), routes


def _cost():  # type: ignore[no-untyped-def]
    from solver import CostProfile

    return CostProfile(per_hour_cents=3800, per_km_cents=35)


def initial(routes: list[WorkingRoute]) -> dict[str, list[tuple[str, int | None]]]:
    return {r.technician_id: list(zip(r.job_ids, r.fixed_starts, strict=True)) for r in routes}


def test_a_large_day_started_from_the_working_plan_serves_every_promise_inside_its_slot() -> None:
    problem, routes = booked_day(seed=1, technicians=8, booked=30, loose=60)
    promised = {j.id for j in problem.jobs if j.priority == 0}
    assert len(promised) >= 20
    solution = solve(problem, SolveOptions(time_limit_s=4, initial_routes=initial(routes)))
    served = {v.job_id for r in solution.routes for v in r.visits}
    assert promised <= served
    assert len(served) > len(promised)  # the loose jobs fill the gaps around the promises


def test_routes_that_no_longer_time_are_left_out_of_the_start_and_the_jobs_placed_anew() -> None:
    problem, routes = booked_day(seed=2, technicians=3, booked=8, loose=0)
    busy = next(r for r in routes if len(r.job_ids) >= 2)
    broken = [WorkingRoute(busy.technician_id, tuple(reversed(busy.job_ids)))] + [r for r in routes if r is not busy]
    solution = solve(problem, SolveOptions(time_limit_s=2, initial_routes=initial(broken)))
    served = {v.job_id for r in solution.routes for v in r.visits}
    assert {j.id for j in problem.jobs} == served | {u.job_id for u in solution.unassigned}
    assert set(busy.job_ids) <= served
