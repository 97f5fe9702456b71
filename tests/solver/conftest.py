"""Small, hand-checkable days shared by the solver tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from solver import (
    Break,
    CostProfile,
    FixedMatrixProvider,
    Job,
    Location,
    Problem,
    Shift,
    Technician,
    TechnicianKind,
    TimeWindow,
    TravelMatrices,
)

H = 3600


def equidistant(points: Sequence[Location], seconds: int = 600, metres: int = 5000) -> FixedMatrixProvider:
    """Travel between ``points``: ``seconds`` and ``metres`` between any two different ones."""
    off_diagonal = 1 - np.eye(len(points), dtype=np.int64)
    return FixedMatrixProvider(tuple(points), TravelMatrices(off_diagonal * seconds, off_diagonal * metres))


def grid(i: int) -> Location:
    """Points on a ~1 km grid in central Helsinki."""
    return Location(60.17 + 0.009 * (i % 5), 24.93 + 0.018 * (i // 5))


@pytest.fixture
def mixed_day() -> Problem:
    """The mixed day of ``make_mixed_day``."""
    return make_mixed_day()


def make_mixed_day() -> Problem:
    """Three technicians (one partner), fourteen jobs with windows, priorities,
    a crew of two, a soft window, and one job nobody is qualified for."""
    lunch = Break(11 * H, 13 * H, 1800)
    techs = (
        Technician(
            "T1",
            grid(0),
            Shift(8 * H, 16 * H, lunch),
            skills={"wardrobe": 2, "measure": 1},
            max_jobs=6,
            max_overtime_s=H,
            cost=CostProfile(3800, 35, 0, 5700),
        ),
        Technician(
            "T2", grid(7), Shift(8 * H, 16 * H, lunch), skills={"wardrobe": 1, "kitchen": 2}, cost=CostProfile(3600, 30)
        ),
        Technician(
            "T3",
            grid(12),
            Shift(9 * H, 17 * H),
            kind=TechnicianKind.PARTNER,
            skills={"wardrobe": 3, "kitchen": 3},
            cost=CostProfile(5000, 0, 5000),
        ),
    )
    jobs = [
        Job(
            f"J{i}",
            grid(i + 3),
            3600 + 600 * (i % 4),
            skills={"wardrobe": 1} if i % 3 else {"kitchen": 2},
            windows=(TimeWindow((8 + i % 8) * H, (9 + i % 8) * H),) if i % 2 else (),
            priority=1 + i % 3,
            crew_size=2 if i == 5 else 1,
            preferred_window=TimeWindow(9 * H, 12 * H) if i == 4 else None,
            soft_penalty_per_min_cents=50,
        )
        for i in range(14)
    ]
    jobs.append(Job("NOSKILL", grid(2), 1800, skills={"glass": 3}))
    return Problem(techs, tuple(jobs))
