"""What every search takes and returns, and the one interface they share.

A search (the OR-Tools routing model, ``solver.search.ortools``; the compiled
ruin and recreate, ``solver.search.sisr``) gets a ``SearchInput`` and returns a
``RawResult``: routes as the search placed them, and facts about the search.
``solver.search.strategy`` decides which one runs, and where.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from solver.objective import Coefficients
from solver.problem import Job, Problem
from solver.travel import PointIndex, TravelMatrices


@dataclass(frozen=True)
class CrewAssignment:
    """A crew job's two technicians and their common start."""

    first_id: str
    second_id: str
    start_s: int


@dataclass(frozen=True)
class RawVisit:
    """A visit as the search placed it (job id, start time)."""

    job_id: str
    start_s: int


@dataclass(frozen=True)
class RawRoute:
    """One technician's route straight from a search."""

    technician_id: str
    visits: tuple[RawVisit, ...]
    depart_s: int
    return_s: int
    lunch_start_s: int | None


@dataclass(frozen=True)
class RawResult:
    """What a search found: routes (may be empty when no solution) and search facts.

    ``objective_units`` is the search's own objective; two results compare by it
    only when both searched the same model on the same jobs.
    """

    routes: tuple[RawRoute, ...]
    status: str
    found: bool
    solutions: int
    first_solution_s: float | None
    objective_units: int | None


ProgressHook = Callable[[int, int], None]
"""Called with (solutions found so far, best objective units) on each new solution."""


@dataclass(frozen=True)
class SearchInput:
    """One search's task: route ``jobs`` (the ones that passed the pre-checks) of
    ``problem`` until ``deadline`` (time.monotonic()).

    ``crews`` fixes crew jobs on two technicians and a common start; ``initial_routes``
    (job ids per technician) is a plan to start from, for a search that can; ``seed``
    makes the search reproducible; ``on_solution`` hears of each new best plan and
    ``stop`` returning True ends the search early.
    """

    problem: Problem
    jobs: Sequence[Job]
    points: PointIndex
    travel: TravelMatrices
    coeffs: Coefficients
    deadline: float
    seed: int = 0
    crews: Mapping[str, CrewAssignment] = field(default_factory=dict)
    initial_routes: Mapping[str, Sequence[str]] | None = None
    on_solution: ProgressHook | None = None
    stop: Callable[[], bool] | None = None


class Search(Protocol):
    """A search: given a task, the best plan it finds by the task's deadline."""

    @property
    def name(self) -> str:
        """A short name for logs."""
        ...

    def run(self, task: SearchInput) -> RawResult:
        """The best plan found for ``task`` by its deadline (``found`` False when none);
        never later than the deadline by more than one search step."""
        ...


def replaces(other: RawResult, here: RawResult) -> bool:
    """Whether the other core's result ``other`` replaces ``here``: cheaper by the
    objective (``better``), and, when ``here`` is the construction standing in without
    an objective (the search here found nothing in time), serving at least as many
    visits, so a plan that drops work never wins for want of a price to compare."""
    if not better(other, here):
        return False
    if here.objective_units is not None:
        return True
    return visits_of(other) >= visits_of(here)


def over_construction(searched: RawResult, built: RawResult) -> RawResult:
    """What stands for the search here after the construction ``built`` (its routes, no
    objective): ``searched`` when it found a plan serving at least as many visits, else
    ``built``. A search warm-started from the construction only improves on it; one whose
    warm start the model refused starts over and, out of time (a loaded machine, a short
    limit), may return the plan that drops every job: the construction's work is kept."""
    if searched.found and visits_of(searched) >= visits_of(built):
        return searched
    return built


def visits_of(raw: RawResult) -> int:
    """How many visits ``raw``'s routes make."""
    return sum(len(r.visits) for r in raw.routes)


def better(raw: RawResult, than: RawResult | None) -> bool:
    """``raw`` found a plan and it is cheaper by the search's objective than ``than``
    (which may be missing or have found none)."""
    if not raw.found or raw.objective_units is None:
        return False
    return than is None or than.objective_units is None or raw.objective_units < than.objective_units
