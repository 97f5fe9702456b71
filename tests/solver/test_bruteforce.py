"""On tiny days the solver's plan is as good as the exact optimum."""

from __future__ import annotations

import random

import pytest

from solver import (
    Break,
    CostProfile,
    Job,
    Location,
    Problem,
    Shift,
    SolveOptions,
    Technician,
    TechnicianKind,
    TimeWindow,
    solve,
)
from tests.solver.bruteforce import optimum_units

H = 3600


def tiny_day(seed: int) -> Problem:
    """Two technicians (one a partner), up to seven jobs with windows, lunch,
    priorities, skills, release, deadline, a pin, a preference and overtime."""
    rng = random.Random(seed)

    def spot() -> Location:
        return Location(60.15 + rng.random() * 0.08, 24.85 + rng.random() * 0.2)

    lunch = Break(11 * H, 13 * H, 30 * 60)
    techs = (
        Technician(
            "E1",
            spot(),
            Shift(8 * H, 14 * H, lunch),
            skills={"wardrobe": 2, "kitchen": 1},
            max_jobs=rng.choice([None, 4]),
            max_overtime_s=H,
            cost=CostProfile(3600, 30, 0, 5400),
        ),
        Technician(
            "P1",
            spot(),
            Shift(9 * H, 15 * H),
            kind=TechnicianKind.PARTNER,
            skills={"wardrobe": 1, "kitchen": 2},
            cost=CostProfile(5000, 0, 4000),
        ),
    )
    jobs = []
    for i in range(rng.randint(5, 7)):
        start = rng.randint(8, 14) * H
        windows: tuple[TimeWindow, ...] = ()
        roll = rng.random()
        if roll < 0.5:
            windows = (TimeWindow(start, start + H),)
        elif roll < 0.65:
            windows = (TimeWindow(8 * H, 9 * H), TimeWindow(13 * H, 14 * H))
        jobs.append(
            Job(
                f"J{i}",
                spot(),
                rng.choice([30, 60, 90, 120]) * 60,
                skills=rng.choice([{}, {"wardrobe": 1}, {"wardrobe": 2}, {"kitchen": 2}]),
                windows=windows,
                release_s=10 * H if rng.random() < 0.15 else None,
                deadline_s=12 * H if rng.random() < 0.15 else None,
                priority=rng.choice([1, 2, 3, 3]),
                pinned_technician_id="E1" if i == 0 and rng.random() < 0.5 else None,
                preferred_technician_id="P1" if i == 1 else None,
            )
        )
    return Problem(techs, tuple(jobs))


@pytest.mark.parametrize("seed", range(8))
def test_the_solver_reaches_the_brute_force_optimum_on_a_tiny_day(seed: int) -> None:
    problem = tiny_day(seed)
    solution = solve(problem, SolveOptions(time_limit_s=2.0))
    assert solution.objective.total_units == optimum_units(problem)
