"""The working plan: per technician, jobs in visiting order with the agreed start of
each crew visit fixed.

One idea, two forms. ``WorkingRoute`` names the jobs by id: it is what is stored
(``routes_to_json``/``routes_from_json``, the JSON of ``LiveScheduleRow.routes``),
what a re-plan starts from (``SolveOptions.initial_routes``) and what the slot
evaluator takes and gives. ``Plan`` holds the jobs themselves and each route as
the route timer timed it: construction, repair and the conversion of a search's
``RawResult`` work on it, and it gives its ``WorkingRoute``s back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from solver.problem import RELOAD_ID, Job, Problem, ProblemError, Technician
from solver.schedule import RouteTimer, arrival_time, told_arrival
from solver.search.types import CrewAssignment, RawResult, RawRoute, RawVisit
from solver.solution import BreakTaken, Route, Visit


@dataclass(frozen=True)
class WorkingRoute:
    """One technician's jobs in visiting order; ``fixed_starts`` holds the agreed
    start (seconds) of crew visits and None for the rest."""

    technician_id: str
    job_ids: tuple[str, ...]
    fixed_starts: tuple[int | None, ...] = ()

    def __post_init__(self) -> None:
        if not self.fixed_starts:
            object.__setattr__(self, "fixed_starts", (None,) * len(self.job_ids))
        if len(self.fixed_starts) != len(self.job_ids):
            raise ProblemError(f"route of {self.technician_id}: one fixed start (or None) per job")

    def visits(self) -> list[tuple[str, int | None]]:
        """(job id, fixed start or None) in visiting order."""
        return list(zip(self.job_ids, self.fixed_starts, strict=True))

    def with_visit(self, position: int, job_id: str, start: int | None = None) -> WorkingRoute:
        """This route with ``job_id`` at ``position`` (``start``: its fixed start)."""
        at, ids, starts = position, self.job_ids, self.fixed_starts
        return WorkingRoute(self.technician_id, (*ids[:at], job_id, *ids[at:]), (*starts[:at], start, *starts[at:]))

    def without(self, job_id: str) -> WorkingRoute:
        """This route with ``job_id`` taken out."""
        keep = [k for k, i in enumerate(self.job_ids) if i != job_id]
        return WorkingRoute(
            self.technician_id, tuple(self.job_ids[k] for k in keep), tuple(self.fixed_starts[k] for k in keep)
        )

    def to_json(self) -> list[Any]:
        """``[technician_id, [[job_id, fixed_start_s | null], ...]]``, as stored."""
        return [self.technician_id, [[i, s] for i, s in self.visits()]]

    @classmethod
    def from_json(cls, data: Sequence[Any]) -> WorkingRoute:
        """The route ``to_json`` wrote (job ids stored as numbers read as strings)."""
        tech_id, visits = data
        return cls(str(tech_id), tuple(str(i) for i, _ in visits), tuple(s for _, s in visits))


def routes_to_json(routes: Iterable[WorkingRoute]) -> list[list[Any]]:
    """A working plan as stored in ``LiveScheduleRow.routes``: one ``to_json`` per
    route that holds a job (empty routes are not stored)."""
    return [r.to_json() for r in routes if r.job_ids]


def routes_from_json(data: Iterable[Sequence[Any]] | None) -> list[WorkingRoute]:
    """The working plan ``routes_to_json`` stored (what ``LiveScheduleRow.routes``
    holds, rows written before this module included); ``[]`` for None."""
    return [WorkingRoute.from_json(row) for row in data or ()]


def as_working_routes(
    routes: Iterable[WorkingRoute] | Mapping[str, Sequence[tuple[str, int | None]]],
) -> tuple[WorkingRoute, ...]:
    """Routes given as ``WorkingRoute``s, or as the older mapping of technician id to
    (job id, fixed start or None) pairs, as ``WorkingRoute``s."""
    if isinstance(routes, Mapping):
        return tuple(
            WorkingRoute(t, tuple(i for i, _ in visits), tuple(s for _, s in visits)) for t, visits in routes.items()
        )
    return tuple(routes)


Saved = dict[str, tuple[list[Job], list[int | None], Route]]


@dataclass
class Plan:
    """The working plan being built: jobs in order per technician, crew starts fixed
    (None for other visits), and each route as the route timer timed it."""

    jobs: dict[str, list[Job]]
    fixed: dict[str, list[int | None]]
    routes: dict[str, Route]
    costs: dict[str, int | None] = dataclasses.field(default_factory=dict)
    # Jobs the search offered no place at all (crews the construction had no time for).
    untried: set[str] = dataclasses.field(default_factory=set)
    # Jobs out of the plan that the search did not offer every place, so the repair does:
    # crews the construction placed that the compiled search left out (their times left a
    # technician no room for its lunch, as it takes lunches), and jobs the repair took off
    # a route it gave back to its technician for a promise.
    not_offered: set[str] = dataclasses.field(default_factory=set)

    @classmethod
    def empty(cls, problem: Problem) -> Plan:
        """Every technician of ``problem`` with an empty route."""
        return cls(
            {t.id: [] for t in problem.technicians},
            {t.id: [] for t in problem.technicians},
            {t.id: _empty_route(t) for t in problem.technicians},
        )

    def retime(self, tech: Technician, timer: RouteTimer) -> bool:
        """Recompute one technician's route from its jobs; False when it no longer fits."""
        self.costs.pop(tech.id, None)
        timing = timer.timing(tech, self.jobs[tech.id], fixed_starts=self.fixed[tech.id])
        if timing is None:
            return False
        self.routes[tech.id] = timer.route(tech, self.jobs[tech.id], timing)
        return True

    def base_cost(self, tech: Technician, timer: RouteTimer) -> int | None:
        """The cost of one technician's current sequence (cached until it changes)."""
        if tech.id not in self.costs:
            self.costs[tech.id] = timer.sequence_cost(tech, self.jobs[tech.id], self.fixed[tech.id])
        return self.costs[tech.id]

    def saved(self, tech_ids: Iterable[str]) -> Saved:
        """A copy of these technicians' sequences and routes, for ``restore``."""
        return {t: (list(self.jobs[t]), list(self.fixed[t]), self.routes[t]) for t in tech_ids}

    def restore(self, saved: Saved) -> None:
        """Put back what ``saved`` copied; ``saved`` stays as it was, so it may be restored again."""
        for tech_id, (seq, fixed, route) in saved.items():
            self.jobs[tech_id], self.fixed[tech_id], self.routes[tech_id] = list(seq), list(fixed), route
            self.costs.pop(tech_id, None)

    def insert(self, tech_id: str, position: int, job: Job, start: int | None = None) -> None:
        """Put ``job`` into one technician's sequence at ``position`` (``start``: its fixed
        start, for a crew visit); the route is timed again by ``retime``."""
        self.costs.pop(tech_id, None)
        self.jobs[tech_id].insert(position, job)
        self.fixed[tech_id].insert(position, start)

    def remove(self, tech_id: str, job_id: str) -> None:
        """Take a job out of one technician's sequence."""
        self.costs.pop(tech_id, None)
        pos = next(i for i, j in enumerate(self.jobs[tech_id]) if j.id == job_id)
        del self.jobs[tech_id][pos]
        del self.fixed[tech_id][pos]

    def clear(self, tech: Technician) -> None:
        """Empty one technician's route."""
        self.costs.pop(tech.id, None)
        self.jobs[tech.id], self.fixed[tech.id] = [], []
        self.routes[tech.id] = _empty_route(tech)

    def served(self) -> set[str]:
        """Ids of the jobs (and depot stops) in any route."""
        return {j.id for seq in self.jobs.values() for j in seq}

    def crews(self) -> dict[str, CrewAssignment]:
        """The crew jobs of the plan: their two technicians and common start."""
        members: dict[str, list[tuple[str, int]]] = {}
        for tech_id, seq in self.jobs.items():
            for job, start in zip(seq, self.fixed[tech_id], strict=True):
                if job.crew_size == 2 and start is not None:
                    members.setdefault(job.id, []).append((tech_id, start))
        return {
            job_id: CrewAssignment(crew[0][0], crew[1][0], crew[0][1])
            for job_id, crew in members.items()
            if len(crew) == 2
        }

    def drop_lone_crew_visits(self, technicians: Sequence[Technician], timer: RouteTimer) -> list[str]:
        """Take out every crew visit whose partner's visit is not in the plan with it
        (half a crew serves nobody) and time those routes again; the ids taken out."""
        out: list[str] = []
        while True:
            crews = self.crews()
            lone = [(t, j.id) for t in technicians for j in self.jobs[t.id] if j.crew_size == 2 and j.id not in crews]
            if not lone:
                return out
            for tech, job_id in lone:
                self.remove(tech.id, job_id)
                out.append(job_id)
            for tech in {t.id: t for t, _ in lone}.values():
                if not self.retime(tech, timer):
                    self.clear(tech)  # only through rounding; the repair re-places its jobs

    def working_routes(self) -> list[WorkingRoute]:
        """The plan by job ids, one route per technician."""
        return [
            WorkingRoute(tech_id, tuple(j.id for j in seq), tuple(self.fixed[tech_id]))
            for tech_id, seq in self.jobs.items()
        ]

    def to_raw(self, status: str = "construction") -> RawResult:
        """The plan in a search's result shape (for when the search found nothing better)."""
        routes = tuple(
            RawRoute(
                route.technician_id,
                tuple(RawVisit(v.job_id, v.start_s) for v in route.visits),
                route.start_s,
                route.end_s,
                route.lunch.start_s if route.lunch is not None else None,
            )
            for route in self.routes.values()
        )
        return RawResult(routes, status, True, 0, None, None)

    @classmethod
    def from_raw(cls, problem: Problem, raw: RawResult, timer: RouteTimer, retime_all: bool = False) -> Plan:
        """The working plan of a search result; times as the search set them unless
        ``retime_all`` (then the route timer's, crew starts not fixed)."""
        plan = cls.empty(problem)
        jobs = {j.id: j for j in problem.jobs}
        reload = problem.reload_job()
        if reload is not None:
            jobs[RELOAD_ID] = reload
        for raw_route in raw.routes:
            tech = problem.technician(raw_route.technician_id)
            seq = [jobs[v.job_id] for v in raw_route.visits]
            plan.jobs[tech.id] = seq
            plan.fixed[tech.id] = [v.start_s if jobs[v.job_id].crew_size == 2 else None for v in raw_route.visits]
            if not seq:
                continue
            if retime_all:
                plan.fixed[tech.id] = [None] * len(seq)
                if not plan.retime(tech, timer):
                    raise AssertionError(f"route of {tech.id} from the search does not time")
                continue
            plan.routes[tech.id] = route_from_raw(problem, tech, seq, raw_route, timer)
        return plan


def _empty_route(tech: Technician) -> Route:
    return Route(tech.id, (), tech.shift.start_s, tech.shift.start_s)


def plan_adding_lunch(problem: Problem, raw: RawResult, timer: RouteTimer) -> Plan:
    """The plan of a search result that had no lunch: each lunch goes into a gap of the
    search's times where one fits, else the route is re-timed; a route that cannot hold
    its lunch loses its least urgent jobs (they go back to the repair step)."""
    plan = Plan.from_raw(problem, raw, timer)
    raw_routes = {r.technician_id: r for r in raw.routes}
    for tech in problem.technicians:
        seq = plan.jobs[tech.id]
        if not seq or tech.shift.lunch is None:
            continue
        raw_route = raw_routes[tech.id]
        lunch_at = _lunch_gap(problem, tech, seq, raw_route, timer)
        if lunch_at is not None:
            plan.routes[tech.id] = route_from_raw(
                problem, tech, seq, dataclasses.replace(raw_route, lunch_start_s=lunch_at), timer
            )
            continue
        while not plan.retime(tech, timer):
            if all(j.id == RELOAD_ID for j in plan.jobs[tech.id]):
                plan.clear(tech)
                break
            victim = _one_to_drop(tech, plan, timer) or max(
                (j for j in plan.jobs[tech.id] if j.id != RELOAD_ID),
                key=lambda j: (j.crew_size == 1, j.priority, j.duration_s),
            )
            for tech_id, other in plan.jobs.items():
                if any(j.id == victim.id for j in other):
                    plan.remove(tech_id, victim.id)
                    if tech_id != tech.id and not plan.retime(problem.technician(tech_id), timer):
                        raise AssertionError(f"removing {victim.id} broke {tech_id}")
            if not plan.jobs[tech.id]:
                plan.routes[tech.id] = _empty_route(tech)
                break
    return plan


def _one_to_drop(tech: Technician, plan: Plan, timer: RouteTimer) -> Job | None:
    """The least urgent solo job whose removal alone lets ``tech``'s route time with
    its lunch (the longest of those, then the first), or None when no one job does."""
    seq, fixed = plan.jobs[tech.id], plan.fixed[tech.id]
    best: Job | None = None
    for i, job in enumerate(seq):
        if job.id == RELOAD_ID or job.crew_size != 1:
            continue
        if best is not None and (job.priority, job.duration_s) <= (best.priority, best.duration_s):
            continue
        if timer.timing(tech, [*seq[:i], *seq[i + 1 :]], fixed_starts=[*fixed[:i], *fixed[i + 1 :]]) is not None:
            best = job
    return best


def _lunch_gap(
    problem: Problem, tech: Technician, seq: list[Job], raw_route: RawRoute, timer: RouteTimer
) -> int | None:
    """A lunch start that fits the search's times unchanged, or None."""
    lunch = tech.shift.lunch
    assert lunch is not None
    d = lunch.duration_s
    depart, back = raw_route.depart_s, raw_route.return_s
    if lunch.earliest_s + d <= depart:
        return lunch.earliest_s
    nodes = _nodes(tech, seq, timer)
    free_from, busy_end = depart, depart
    starts = [v.start_s for v in raw_route.visits] + [back]
    for k, next_start in enumerate(starts):
        b = max(free_from, lunch.earliest_s)
        leg = int(timer.duration[nodes[k], nodes[k + 1]])
        if b <= lunch.latest_s and b + d <= next_start and next_start - busy_end >= leg + d:
            return b
        if k < len(seq):
            busy_end = next_start + seq[k].duration_s
            free_from = next_start if problem.lunch_on_site(seq[k], tech) else busy_end
    b = max(back, lunch.earliest_s)
    return b if b <= lunch.latest_s else None


def _nodes(tech: Technician, seq: Sequence[Job], timer: RouteTimer) -> list[int]:
    """The matrix rows of a route: start, each job, end."""
    points = timer.points
    return [points.tech_start[tech.id], *(points.job[j.id] for j in seq), points.tech_end[tech.id]]


def route_from_raw(problem: Problem, tech: Technician, seq: list[Job], raw_route: RawRoute, timer: RouteTimer) -> Route:
    """``tech``'s route at the times the search set (``seq`` its jobs in order)."""
    nodes = _nodes(tech, seq, timer)
    lunch = None
    if raw_route.lunch_start_s is not None and tech.shift.lunch is not None:
        lunch = BreakTaken(raw_route.lunch_start_s, tech.shift.lunch.duration_s)
    visits = []
    prev_end = prev_from = raw_route.depart_s
    pause_on_site = tech.shift.lunch is None or tech.shift.lunch.on_site
    for k, (job, raw_visit) in enumerate(zip(seq, raw_route.visits, strict=True)):
        travel_s = int(timer.duration[nodes[k], nodes[k + 1]])
        visits.append(
            Visit(
                job.id,
                told_arrival(
                    arrival_time(prev_end, travel_s, lunch, raw_visit.start_s, prev_from, pause_on_site),
                    raw_visit.start_s,
                ),
                raw_visit.start_s,
                raw_visit.start_s + job.duration_s,
                travel_s,
                int(timer.distance[nodes[k], nodes[k + 1]]),
            )
        )
        prev_end = raw_visit.start_s + job.duration_s
        prev_from = raw_visit.start_s if problem.lunch_on_site(job, tech) else prev_end
    return Route(
        tech.id,
        tuple(visits),
        raw_route.depart_s,
        raw_route.return_s,
        lunch,
        int(timer.duration[nodes[-2], nodes[-1]]),
        int(timer.distance[nodes[-2], nodes[-1]]),
    )
