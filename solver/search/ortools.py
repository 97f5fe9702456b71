"""The OR-Tools routing search. With ``ortools_sat`` beside it, the only modules that import OR-Tools.

Shape as in the OR-Tools samples: nodes → index manager → model → transit
matrices → arc costs → dimensions → search parameters → solve → extraction.
Node numbers (rows of our matrices) and solver indices are kept apart.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.util import optional_boolean_pb2

from solver.objective import Coefficients
from solver.problem import MAX_TIME_S, RELOAD_ID, Job, Problem, Technician, TimeWindow
from solver.search.types import CrewAssignment, RawResult, RawRoute, RawVisit, SearchInput, better
from solver.travel import TravelMatrices

log = logging.getLogger(__name__)

# What the engine plans at most (solver.problem refuses anything beyond it).
HORIZON_S = MAX_TIME_S
# At most this many arc cost classes (each is a full transit matrix in OR-Tools: 110 of
# them took 5 GB and 90 s to build at 200 × 2,000, docs/benchmarks.md "Scale").
MAX_ARC_CLASSES = 8
FIRST_SOLUTION = {
    "parallel_cheapest_insertion": routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION,
    "local_cheapest_insertion": routing_enums_pb2.FirstSolutionStrategy.LOCAL_CHEAPEST_INSERTION,
    "savings": routing_enums_pb2.FirstSolutionStrategy.SAVINGS,
    "path_cheapest_arc": routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC,
    "christofides": routing_enums_pb2.FirstSolutionStrategy.CHRISTOFIDES,
    "automatic": routing_enums_pb2.FirstSolutionStrategy.AUTOMATIC,
}
_INSERTION_LNS = (
    "use_global_cheapest_insertion_path_lns",
    "use_local_cheapest_insertion_path_lns",
    "use_relocate_path_global_cheapest_insertion_insert_unperformed",
    "use_global_cheapest_insertion_visit_types_lns",
    "use_local_cheapest_insertion_visit_types_lns",
)
METAHEURISTIC = {
    "guided_local_search": routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH,
    "simulated_annealing": routing_enums_pb2.LocalSearchMetaheuristic.SIMULATED_ANNEALING,
    "tabu_search": routing_enums_pb2.LocalSearchMetaheuristic.TABU_SEARCH,
    "greedy_descent": routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT,
}


@dataclass(frozen=True)
class OrToolsSettings:
    """How the OR-Tools search runs; names are the lower-case OR-Tools enum names.

    Why these defaults: docs/benchmarks.md, "Search settings".
    """

    first_solution: str = "parallel_cheapest_insertion"
    metaheuristic: str = "tabu_search"
    # Above this many visits the model has no lunch break and no preferred windows
    # (the route timer places the lunch after the search; docs/model.md).
    detailed_model_max_visits: int = 60
    # Above this many nodes (visits plus two per technician) the LNS operators that run
    # a whole cheapest insertion are off: they ignore the time limit.
    insertion_lns_max_nodes: int = 1000
    # Such a large model is not searched with less than this many seconds left, and its
    # search is told to end this many seconds early.
    large_min_search_s: float = 5.0
    large_search_margin_s: float = 4.0
    # Cold searches (OR-Tools' own first solution, no construction) as (first solution,
    # metaheuristic) pairs, run in turn; with stall_ratio set, a search ends once its
    # best has not improved for stall_ratio x the time it took to reach it (at least
    # stall_min_fraction of the budget) while restart_min_fraction of it is left.
    cold_searches: tuple[tuple[str, str], ...] = (("path_cheapest_arc", "guided_local_search"),)
    stall_ratio: float | None = None
    stall_min_fraction: float = 0.25
    restart_min_fraction: float = 0.2
    # What the portfolio's other core runs on large days without crews.
    portfolio_searches: tuple[tuple[str, str], ...] = (("savings", "tabu_search"),)
    # Local search operators switched on beyond OR-Tools' defaults (``use_*`` field
    # names of ``LocalSearchNeighborhoodOperators`` without ``use_``).
    extra_operators: tuple[str, ...] = ()


def solve_model(
    task: SearchInput,
    settings: OrToolsSettings,
    sync_crews: bool = True,
    detailed: bool = True,
    stall_ratio: float | None = None,
    min_stall_s: float = 0.0,
) -> RawResult:
    """Route ``task.jobs`` (the ones that passed the pre-checks) until ``task.deadline``
    (time.monotonic()).

    Crews of two: with ``sync_crews`` both members start together; without it
    only "two different technicians, both or neither" holds (a fast relaxation
    whose times the caller aligns). ``task.crews`` fixes a crew job's two
    technicians and start instead. ``task.initial_routes`` (job ids per technician)
    warm-starts the search; it is ignored if the model refuses it. Without
    ``detailed`` no break is modelled (each day is shortened by its lunch
    instead and the caller places the lunch afterwards) and preferred windows
    carry no cost in the search. With ``stall_ratio`` the search also ends when
    the best cost has not improved for ``stall_ratio`` × the time it took to
    reach it (at least ``min_stall_s``): checked as solutions arrive, so the
    caller can restart from another first solution.
    """
    deadline, stop = task.deadline, task.stop

    def out_of_time() -> bool:
        """The budget is gone (or the caller stopped): building on would only overrun it."""
        if time.monotonic() >= deadline or (stop is not None and stop()):
            log.info("model build stopped: no time left")
            return True
        return False

    timeout = RawResult((), "model_build_timeout", False, 0, None, None)
    model, time_matrix, sub = _layout(task, detailed)
    if not _arc_costs(model, time_matrix, sub.distance_m, out_of_time):
        return timeout
    _shifts(model)
    _lunches(model)
    crew_pairs, crew_nodes = _job_nodes(model, task.jobs, task.crews)
    if out_of_time():
        return timeout
    _crews(model, crew_pairs, sync_crews)
    _job_counts(model)
    _capacities(model)
    _preferences(model, task.jobs)
    if out_of_time():
        return timeout
    n_nodes = model.n_nodes
    if n_nodes > settings.insertion_lns_max_nodes and deadline - time.monotonic() < settings.large_min_search_s:
        # A large model's first improving step can take far longer than what is left
        # (12 s with 2 s left at 200 × 2,000): the caller keeps its construction.
        log.info("large model, %.1f s left: no search", deadline - time.monotonic())
        return RawResult((), "no_time_to_search", False, 0, None, None)
    params, search_deadline = _parameters(settings, n_nodes, deadline)
    return _search(model, task, params, search_deadline, crew_nodes, stall_ratio, min_stall_s)


@dataclass
class _Model:
    """A routing model being built: OR-Tools' objects and our node layout (per
    technician a start and an end node, then one node per visit, then with a depot
    one optional depot stop per technician)."""

    problem: Problem
    coeffs: Coefficients
    detailed: bool
    routing: Any
    manager: Any
    time_dim: Any
    visit_job: list[Job]
    first_visit: int
    first_reload: int
    n_nodes: int
    service: npt.NDArray[np.int64]
    # Per vehicle, the drive from its start to its end (the way home of one already out).
    home_leg: list[int]

    @property
    def techs(self) -> tuple[Technician, ...]:
        """The vehicles, in order."""
        return self.problem.technicians

    @property
    def n_reload(self) -> int:
        """How many depot stop nodes there are (one per technician, or none)."""
        return self.n_nodes - self.first_reload

    def stranded(self, v: int) -> bool:
        """Vehicle ``v`` is a technician already out who is back late even driving home
        at once: they go home and do nothing else."""
        tech = self.techs[v]
        reserve = tech.shift.lunch.duration_s if tech.shift.lunch is not None and not self.detailed else 0
        return tech.out and tech.shift.start_s + self.home_leg[v] > tech.latest_end_s - reserve


def _layout(task: SearchInput, detailed: bool) -> tuple[_Model, npt.NDArray[np.int64], TravelMatrices]:
    """The nodes, the index manager, the routing model and its time dimension (service
    at the origin plus driving); with the time matrix and the nodes' travel matrices."""
    problem, points, techs = task.problem, task.points, task.problem.technicians
    n_veh = len(techs)
    visit_job: list[Job] = []
    for job in task.jobs:
        visit_job.extend([job] * job.crew_size)
    node_point = [points.tech_start[t.id] for t in techs] + [points.tech_end[t.id] for t in techs]
    node_point += [points.job[j.id] for j in visit_job]
    first_visit = 2 * n_veh
    # Then, with a depot, one optional depot stop per technician (see _add_reloads).
    first_reload = len(node_point)
    if problem.depot is not None:
        node_point += [points.job[RELOAD_ID]] * n_veh
    n_nodes = len(node_point)
    sub = task.travel.take(node_point)
    service = np.zeros(n_nodes, dtype=np.int64)
    service[first_visit:first_reload] = [j.duration_s for j in visit_job]
    if problem.depot is not None:
        service[first_reload:] = problem.depot.stop_s

    manager = pywrapcp.RoutingIndexManager(n_nodes, n_veh, list(range(n_veh)), list(range(n_veh, 2 * n_veh)))
    routing = pywrapcp.RoutingModel(manager)
    time_matrix = sub.duration_s + service[:, None]
    np.fill_diagonal(time_matrix, 0)
    time_cb = routing.RegisterTransitMatrix(time_matrix.tolist())
    routing.AddDimension(time_cb, HORIZON_S, HORIZON_S, False, "Time")
    time_dim = routing.GetDimensionOrDie("Time")
    model = _Model(
        problem,
        task.coeffs,
        detailed,
        routing,
        manager,
        time_dim,
        visit_job,
        first_visit,
        first_reload,
        n_nodes,
        service,
        [int(sub.duration_s[v, n_veh + v]) for v in range(n_veh)],
    )
    return model, time_matrix, sub


def _arc_costs(
    m: _Model, time_matrix: npt.NDArray[np.int64], distance_m: npt.NDArray[np.int64], out_of_time: Callable[[], bool]
) -> bool:
    """Arc costs per cost class: (driving + service) at the hourly rate plus distance at
    the km rate; waiting is charged through slack, so the total is span × hourly rate +
    distance × km rate. False when the time ran out on the way.

    Each class is a full matrix in OR-Tools: past MAX_ARC_CLASSES rate pairs, vehicles
    share a class's arc costs (see arc_classes) and the time they pay above its hourly
    rate is charged as span cost, so only the distance term of the model's objective is
    approximate.
    """
    routing, time_dim, coeffs = m.routing, m.time_dim, m.coeffs
    keys = [(coeffs.per_s[t.id], coeffs.per_m[t.id]) for t in m.techs]
    moving = int(time_matrix.sum())
    classes = arc_classes(keys, MAX_ARC_CLASSES, float(distance_m.sum()) / moving if moving else 0.0)
    class_cb: dict[tuple[int, int], int] = {}
    for v, (per_s, _) in enumerate(keys):
        key = classes[v]
        if key not in class_cb:
            if out_of_time():
                return False
            matrix = time_matrix * key[0] + distance_m * key[1]
            class_cb[key] = routing.RegisterTransitMatrix(matrix.tolist())
            del matrix
        routing.SetArcCostEvaluatorOfVehicle(class_cb[key], v)
        if key[0] > 0:
            time_dim.SetSlackCostCoefficientForVehicle(key[0], v)
        if per_s > key[0]:
            time_dim.SetSpanCostCoefficientForVehicle(per_s - key[0], v)
    log.info("%d arc cost classes for %d rate pairs", len(class_cb), len(set(keys)))
    return True


def _shifts(m: _Model) -> None:
    """Each vehicle leaves and is back within its shift (shortened by the lunch when the
    model has no break), overtime past the shift end at its cost. A technician already
    out (``Technician.out``) is on the clock from ``on_clock_from_s``: a later departure
    costs the time waited (a soft bound on the start at the hourly rate) and a route
    that is used the time from then to the shift start (a fixed cost), while an empty
    route still costs the way home (used when empty), however late that is."""
    routing, time_dim, coeffs = m.routing, m.time_dim, m.coeffs
    for v, tech in enumerate(m.techs):
        start_var = time_dim.CumulVar(routing.Start(v))
        end_var = time_dim.CumulVar(routing.End(v))
        reserve = tech.shift.lunch.duration_s if tech.shift.lunch is not None and not m.detailed else 0
        latest = tech.latest_end_s - reserve
        if tech.on_clock_from_s is not None:
            per_s = coeffs.per_s[tech.id]
            if per_s > 0:
                time_dim.SetCumulVarSoftUpperBound(routing.Start(v), tech.shift.start_s, per_s)
                routing.SetFixedCostOfVehicle((tech.shift.start_s - tech.on_clock_from_s) * per_s, v)
            routing.SetVehicleUsedWhenEmpty(True, v)
            latest = max(latest, tech.shift.start_s + m.home_leg[v])
        start_var.SetRange(tech.shift.start_s, latest)
        end_var.SetRange(tech.shift.start_s, latest)
        if tech.max_overtime_s > 0 and coeffs.overtime_per_s[tech.id] > 0:
            time_dim.SetCumulVarSoftUpperBound(
                routing.End(v), tech.shift.end_s - reserve, coeffs.overtime_per_s[tech.id]
            )


def _lunches(m: _Model) -> None:
    """On a detailed model, each lunch as a break interval: it may not overlap a visit,
    except a long one, which may hold it (docs/model.md)."""
    routing, manager = m.routing, m.manager
    nodes = [manager.IndexToNode(index) for index in range(routing.Size())]
    service = [int(m.service[node]) for node in nodes]
    long_visit = np.zeros(m.n_nodes, dtype=bool)
    long_visit[m.first_visit : m.first_reload] = [m.problem.long_visit(j) for j in m.visit_job]
    # A lunch may overlap a long visit (no transit counted), an absence no visit.
    held_on_site = [0 if long_visit[node] else service[i] for i, node in enumerate(nodes)]
    for v, tech in enumerate(m.techs):
        lunch = tech.shift.lunch
        if lunch is None or not m.detailed:
            continue
        interval = routing.solver().FixedDurationIntervalVar(
            lunch.earliest_s, lunch.latest_s, lunch.duration_s, False, f"lunch-{v}"
        )
        m.time_dim.SetBreakIntervalsOfVehicle([interval], v, held_on_site if lunch.on_site else service)


def _job_nodes(
    m: _Model, jobs: Sequence[Job], crew_fixed: Mapping[str, CrewAssignment]
) -> tuple[list[tuple[int, int]], dict[str, tuple[int, int]]]:
    """Each job's visit nodes: windows, who may serve them (skills, pins, stock, a fixed
    crew's two technicians and start), drop penalty and preferred window; (the crews'
    index pairs, the crews' node pairs by job id)."""
    problem, coeffs, routing, manager, time_dim = m.problem, m.coeffs, m.routing, m.manager, m.time_dim
    techs, n_veh = m.techs, len(m.techs)
    solver = routing.solver()
    tech_pos = {t.id: v for v, t in enumerate(techs)}
    node = m.first_visit
    crew_pairs: list[tuple[int, int]] = []
    crew_nodes: dict[str, tuple[int, int]] = {}
    stranded = {v for v in range(n_veh) if m.stranded(v)}
    for job in jobs:
        # Qualified, and able to carry the job's demand at all (see the capacity dimensions);
        # with a depot, maybe only after a stop there.
        allowed = [v for v, t in enumerate(techs) if _able(problem, coeffs, t, job) and v not in stranded]
        if job.pinned_technician_id is not None and job.crew_size == 1:
            allowed = [v for v in allowed if v == tech_pos[job.pinned_technician_id]]
        windows = job.start_windows()
        member_vehicles: list[list[int]] = [allowed] * job.crew_size
        if job.id in crew_fixed:
            crew = crew_fixed[job.id]
            first_v, second_v = sorted((tech_pos[crew.first_id], tech_pos[crew.second_id]))
            member_vehicles = [[first_v], [second_v]]
            windows = [TimeWindow(crew.start_s, crew.start_s)]
        indices = []
        for member in range(job.crew_size):
            allowed = member_vehicles[member]
            index = manager.NodeToIndex(node)
            indices.append(index)
            cumul = time_dim.CumulVar(index)
            cumul.SetRange(max(0, windows[0].start_s), min(HORIZON_S, windows[-1].end_s))
            for a, b in itertools.pairwise(windows):
                cumul.RemoveInterval(a.end_s + 1, b.start_s - 1)
            # SetAllowedVehiclesForIndex has no working Python binding in 9.15; restrict the domain
            # (only when it restricts anything: every constraint slows the local search).
            if len(allowed) < n_veh:
                routing.VehicleVar(index).SetValues([-1, *allowed])
            routing.AddDisjunction([index], coeffs.search_drop_cost(job))
            node += 1
        # Soft bounds are linear: the fixed cost of starting outside the window at all
        # (``Job.soft_penalty_cents``) is left to the compiled search, the waiting step
        # and the checker, which price it.
        if m.detailed and job.preferred_window is not None and coeffs.soft_per_s[job.id] > 0:
            time_dim.SetCumulVarSoftLowerBound(indices[0], job.preferred_window.start_s, coeffs.soft_per_s[job.id])
            time_dim.SetCumulVarSoftUpperBound(indices[0], job.preferred_window.end_s, coeffs.soft_per_s[job.id])
        if job.crew_size == 2:
            crew_nodes[job.id] = (node - 2, node - 1)
            crew_pairs.append((indices[0], indices[1]))
            if job.pinned_technician_id is not None:
                pinned = tech_pos[job.pinned_technician_id]
                on_a = solver.IsEqualCstVar(routing.VehicleVar(indices[0]), pinned)
                on_b = solver.IsEqualCstVar(routing.VehicleVar(indices[1]), pinned)
                solver.Add(on_a + on_b >= routing.ActiveVar(indices[0]))
    return crew_pairs, crew_nodes


def _crews(m: _Model, crew_pairs: list[tuple[int, int]], sync_crews: bool) -> None:
    """A crew's two visits: both or neither, two different technicians (ordered, to
    break symmetry), and with ``sync_crews`` on site at the same minute."""
    routing, solver = m.routing, m.routing.solver()
    for lead, second in crew_pairs:
        active = routing.ActiveVar(lead)
        solver.Add(active == routing.ActiveVar(second))
        solver.Add(routing.VehicleVar(second) - routing.VehicleVar(lead) >= active)
        if sync_crews:
            solver.Add(m.time_dim.CumulVar(lead) == m.time_dim.CumulVar(second))


def _job_counts(m: _Model) -> None:
    """Jobs per day and partner cost per job (a dimension only when some technician has
    either)."""
    routing, coeffs, techs = m.routing, m.coeffs, m.techs
    if any(t.max_jobs is not None or coeffs.per_job[t.id] > 0 for t in techs):
        job_count = [0] * m.first_visit + [1] * len(m.visit_job) + [0] * m.n_reload
        count_cb = routing.RegisterUnaryTransitVector(job_count)
        caps = [t.max_jobs if t.max_jobs is not None else m.n_nodes for t in techs]
        routing.AddDimensionWithVehicleCapacity(count_cb, 0, caps, True, "Jobs")
        jobs_dim = routing.GetDimensionOrDie("Jobs")
        for v, tech in enumerate(techs):
            if coeffs.per_job[tech.id] > 0:
                jobs_dim.SetCumulVarSoftUpperBound(routing.End(v), 0, coeffs.per_job[tech.id])


def _capacities(m: _Model) -> None:
    """Capacity: one dimension per constrained resource type; each visit uses up its
    job's demand (every member of a crew carries it), never more than the vehicle
    carries. With a depot, stock and lent tools as ``_add_reloads`` models them."""
    limits = m.coeffs.capacity
    kinds = sorted({kind for per_tech in limits.values() for kind in per_tech})
    if m.problem.depot is not None:
        stranded = [v for v in range(len(m.techs)) if m.stranded(v)]
        _add_reloads(m.problem, m.routing, m.manager, m.coeffs, m.visit_job, m.first_visit, m.first_reload, stranded)
        kinds = []  # modelled there, with the top-up at the depot
    for kind in kinds:
        demand = [0] * m.first_visit + [j.demand.get(kind, 0) for j in m.visit_job]
        demand_cb = m.routing.RegisterUnaryTransitVector(demand)
        vehicle_caps = [limits.get(t.id, {}).get(kind, 0) for t in m.techs]
        m.routing.AddDimensionWithVehicleCapacity(demand_cb, 0, vehicle_caps, True, f"Capacity:{kind}")


def _preferences(m: _Model, jobs: Sequence[Job]) -> None:
    """Preferred technician (continuity): a miss counts once per crew-of-one job; and
    the days each job is served away from its preferred day (a horizon)."""
    coeffs = m.coeffs
    preferred = {j.id for j in jobs if j.crew_size == 1 and j.preferred_technician_id}
    if preferred and coeffs.preference_miss > 0:
        missed = lambda t, j: int(j.id in preferred and not t.prefers(j))  # noqa: E731
        _per_visit_count(m, "Preference", coeffs.preference_miss, missed)
    if any(j.preferred_day is not None for j in jobs):
        if coeffs.day_late > 0:
            _per_visit_count(m, "DaysLate", coeffs.day_late, lambda t, j: max(0, t.days_after(j)))
        if coeffs.day_early > 0:
            _per_visit_count(m, "DaysEarly", coeffs.day_early, lambda t, j: max(0, -t.days_after(j)))


def _per_visit_count(m: _Model, name: str, cost: int, count: Callable[[Technician, Job], int]) -> None:
    """A dimension summing ``count(technician, job)`` over each route's visits, each
    unit costing ``cost``."""
    routing, n_veh = m.routing, len(m.techs)
    callbacks: dict[tuple[int, ...], int] = {}
    per_vehicle = []
    total = 0
    for tech in m.techs:
        vector = [0] * m.first_visit + [count(tech, j) for j in m.visit_job] + [0] * m.n_reload
        total = max(total, sum(vector))
        key = tuple(vector)
        if key not in callbacks:
            callbacks[key] = routing.RegisterUnaryTransitVector(vector)
        per_vehicle.append(callbacks[key])
    routing.AddDimensionWithVehicleTransitAndCapacity(per_vehicle, 0, [max(1, total)] * n_veh, True, name)
    dim = routing.GetDimensionOrDie(name)
    for v in range(n_veh):
        dim.SetCumulVarSoftUpperBound(routing.End(v), 0, cost)


def _parameters(settings: OrToolsSettings, n_nodes: int, deadline: float) -> tuple[Any, float]:
    """The search parameters, and when the search is to end: the budget is what is left
    once the model is built (the caller's deadline is kept); a large model's local
    search steps take seconds and the limit is only checked between them, so its
    search is told to end a margin earlier."""
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = FIRST_SOLUTION[settings.first_solution]
    params.local_search_metaheuristic = METAHEURISTIC[settings.metaheuristic]
    for name in settings.extra_operators:
        setattr(params.local_search_operators, f"use_{name}", optional_boolean_pb2.BOOL_TRUE)
    if n_nodes > settings.insertion_lns_max_nodes:
        # These operators run a whole cheapest insertion each and check no time limit:
        # at 200 × 2,000 a warm-started search with 1 s left ran 12 s over its deadline.
        ops = params.local_search_operators
        for name in _INSERTION_LNS:
            setattr(ops, name, optional_boolean_pb2.BOOL_FALSE)
    margin = settings.large_search_margin_s if n_nodes > settings.insertion_lns_max_nodes else 0.0
    search_deadline = deadline - margin
    params.time_limit.FromMilliseconds(max(1, int((search_deadline - time.monotonic()) * 1000)))
    return params, search_deadline


_STATUS = {
    0: "not_solved",
    1: "success",
    2: "partial_success_time_limit",
    3: "fail",
    4: "fail_timeout",
    5: "invalid",
    6: "infeasible",
    7: "optimal",
}


def _search(
    m: _Model,
    task: SearchInput,
    params: Any,
    search_deadline: float,
    crew_nodes: Mapping[str, tuple[int, int]],
    stall_ratio: float | None,
    min_stall_s: float,
) -> RawResult:
    """Search the built model (from ``task.initial_routes`` when the model takes them)
    and read the routes off the best assignment."""
    routing, manager = m.routing, m.manager
    solver = routing.solver()
    deadline, on_solution, stop, initial_routes = task.deadline, task.on_solution, task.stop, task.initial_routes
    started = time.monotonic()
    stats = _SearchStats()

    def on_new_solution() -> None:
        now = time.monotonic()
        stats.solutions += 1
        if stats.first_s is None:
            stats.first_s = now - started
        cost = int(routing.CostVar().Value())
        if stats.best is None or cost < stats.best:
            stats.best, stats.best_at = cost, now
        if on_solution is not None:
            on_solution(stats.solutions, cost)
        if stop is not None and stop():
            solver.FinishCurrentSearch()
        elif stall_ratio is not None and now - stats.best_at > max(
            min_stall_s, stall_ratio * (stats.best_at - started)
        ):
            stats.stalled = True
            solver.FinishCurrentSearch()

    routing.AddAtSolutionCallback(on_new_solution)
    # Keep the limit referenced until the solve returns: OR-Tools holds no Python reference.
    stop_limit = solver.CustomLimit(stop) if stop is not None else None
    if stop_limit is not None:
        routing.AddSearchMonitor(stop_limit)
    assignment = None
    log.info("model built with %d nodes, %.1f s left", m.n_nodes, deadline - time.monotonic())
    if initial_routes:
        routing.CloseModelWithParameters(params)
        log.info("model closed, %.1f s left", deadline - time.monotonic())
        start = routing.ReadAssignmentFromRoutes(
            _seed_routes(m.techs, initial_routes, m.visit_job, m.first_visit, crew_nodes, manager, m.first_reload), True
        )
        log.info("warm start read (%s), %.1f s left", start is not None, deadline - time.monotonic())
        if start is not None:
            params.time_limit.FromMilliseconds(max(1, int((search_deadline - time.monotonic()) * 1000)))
            assignment = routing.SolveFromAssignmentWithParameters(start, params)
            log.info("search done, %.1f s left", deadline - time.monotonic())
        else:
            log.info("warm start refused by the model; solving from scratch")
            assignment = routing.SolveWithParameters(params)
    else:
        assignment = routing.SolveWithParameters(params)
    status = routing.status()
    status_name = _STATUS.get(int(status), str(status))
    if stats.stalled:
        status_name = "stalled"
    if assignment is None:
        return RawResult((), status_name, False, stats.solutions, None, None)
    return RawResult(
        _routes(m, assignment), status_name, True, stats.solutions, stats.first_s, int(assignment.ObjectiveValue())
    )


def _routes(m: _Model, assignment: Any) -> tuple[RawRoute, ...]:
    """The routes of an assignment: per vehicle its visits' starts, departure, return and
    lunch (on a detailed model)."""
    lunches: dict[str, int] = {}
    intervals = assignment.IntervalVarContainer()
    for i in range(intervals.Size()):
        element = intervals.Element(i)
        name = element.Var().Name()
        if name.startswith("lunch-") and element.PerformedValue():
            lunches[name] = element.StartValue()

    routes = []
    for v, tech in enumerate(m.techs):
        index = m.routing.Start(v)
        depart = assignment.Value(m.time_dim.CumulVar(index))
        visits = []
        index = assignment.Value(m.routing.NextVar(index))
        while not m.routing.IsEnd(index):
            node = m.manager.IndexToNode(index)
            job_id = RELOAD_ID if node >= m.first_reload else m.visit_job[node - m.first_visit].id
            visits.append(RawVisit(job_id, assignment.Value(m.time_dim.CumulVar(index))))
            index = assignment.Value(m.routing.NextVar(index))
        back = assignment.Value(m.time_dim.CumulVar(index))
        routes.append(RawRoute(tech.id, tuple(visits), depart, back, lunches.get(f"lunch-{v}")))
    return tuple(routes)


def _able(problem: Problem, coeffs: Coefficients, tech: Technician, job: Job) -> bool:
    """Whether ``tech`` may serve ``job`` at all: qualified and able to carry its demand,
    as they set out or after a depot stop."""
    limits = coeffs.capacity.get(tech.id, {})
    if tech.has_skills(job.skills) and all(job.demand.get(kind, 0) <= cap for kind, cap in limits.items()):
        return True
    if problem.depot is None:
        return False
    after = coeffs.capacity_after_reload.get(tech.id, {})
    return problem.qualified(tech, job) and all(job.demand.get(kind, 0) <= cap for kind, cap in after.items())


def _add_reloads(
    problem: Problem,
    routing: Any,
    manager: Any,
    coeffs: Coefficients,
    visit_job: Sequence[Job],
    first_visit: int,
    first_reload: int,
    stranded: Sequence[int] = (),
) -> None:
    """Depot stops: node ``first_reload + v`` is vehicle v's optional stop (free to leave
    out; none for the ``stranded`` vehicles, see ``_Model.stranded``).

    Stock is modelled as what is left: each visit takes its demand off, the depot
    stop's slack tops it up (to ``capacity_after_reload``), and it never goes below
    zero. A tool the depot lends is a 0..level dimension that only the depot stop's
    slack can raise; a visit needing it requires the level on arrival. Every other
    slack is fixed at zero.
    """
    depot = problem.depot
    assert depot is not None
    techs = problem.technicians
    n_veh = len(techs)
    n_nodes = first_reload + n_veh
    for v in range(n_veh):
        index = manager.NodeToIndex(first_reload + v)
        routing.VehicleVar(index).SetValues([-1] if v in stranded else [-1, v])
        routing.AddDisjunction([index], 0)
    slack_free = [i for i in range(routing.Size()) if not routing.IsEnd(i)]

    def dimension(transit: list[int], start: list[int], top: list[int], name: str) -> Any:
        """A dimension of per-vehicle ``top`` starting at ``start``, raised only at the depot."""
        callback = routing.RegisterUnaryTransitVector(transit)
        routing.AddDimensionWithVehicleCapacity(callback, max(top), top, False, name)
        dim = routing.GetDimensionOrDie(name)
        for index in slack_free:
            node = manager.IndexToNode(index)
            if node < first_reload:
                dim.SlackVar(index).SetValue(0)
            else:
                v = node - first_reload
                dim.SlackVar(index).SetRange(0, top[v])
        for v in range(n_veh):
            dim.CumulVar(routing.Start(v)).SetValue(start[v])
        return dim

    for kind in sorted({kind for per_tech in coeffs.capacity.values() for kind in per_tech}):
        transit = [0] * first_visit + [-j.demand.get(kind, 0) for j in visit_job] + [0] * n_veh
        start = [coeffs.capacity[t.id].get(kind, 0) for t in techs]
        top = [max(s, coeffs.capacity_after_reload[t.id].get(kind, 0)) for s, t in zip(start, techs, strict=True)]
        dimension(transit, start, top, f"Stock:{kind}")
    for code, lent in sorted(depot.skills.items()):
        needs = [(first_visit + k, j.skills[code]) for k, j in enumerate(visit_job) if j.skills.get(code, 0) > 0]
        own = [t.skills.get(code, 0) for t in techs]
        if not any(level > min(own) for _, level in needs):
            continue  # every technician holds it already where it is needed
        top = [max(level, lent) for level in own]
        dim = dimension([0] * n_nodes, own, top, f"Lent:{code}")
        for node, level in needs:
            if level <= max(top):  # else no vehicle may take it (its vehicle domain) and it stays out
                dim.CumulVar(manager.NodeToIndex(node)).SetMin(level)


def arc_classes(keys: Sequence[tuple[int, int]], max_classes: int, m_per_s: float) -> list[tuple[int, int]]:
    """The arc cost (per second, per metre) pair each vehicle is given, from its exact rate pair.

    At most ``max_classes`` distinct pairs. With few enough pairs each vehicle keeps
    its own; else the distinct pairs are clustered by Ward's method (weighted by how
    many vehicles have each) on the cost a second of arc time, (per second,
    per metre × ``m_per_s``), and a cluster's pair is its lowest per-second rate (so
    the rest can be charged exactly as span cost) with its vehicles' mean per-metre
    rate. Deterministic: ties merge the lowest-numbered clusters.
    """
    distinct = sorted(set(keys))
    if len(distinct) <= max_classes:
        return list(keys)
    count: dict[tuple[int, int], int] = {}
    for key in keys:
        count[key] = count.get(key, 0) + 1
    weight = np.array([count[k] for k in distinct], dtype=float)
    centre = np.array([(k[0], k[1] * m_per_s) for k in distinct], dtype=float)
    members: list[list[int]] = [[i] for i in range(len(distinct))]
    alive = np.ones(len(distinct), dtype=bool)
    for _ in range(len(distinct) - max_classes):
        # Ward: merging clusters i and j adds w_i w_j / (w_i + w_j) × |c_i - c_j|² of squared error.
        gap = ((centre[:, None, :] - centre[None, :, :]) ** 2).sum(axis=2)
        cost = gap * np.outer(weight, weight) / (weight[:, None] + weight[None, :])
        cost[~alive, :] = np.inf
        cost[:, ~alive] = np.inf
        np.fill_diagonal(cost, np.inf)
        i, j = np.unravel_index(int(np.argmin(cost)), cost.shape)
        i, j = min(i, j), max(i, j)
        total = weight[i] + weight[j]
        centre[i] = (centre[i] * weight[i] + centre[j] * weight[j]) / total
        weight[i] = total
        members[i] += members[j]
        alive[j] = False
    pair: dict[tuple[int, int], tuple[int, int]] = {}
    for i in np.flatnonzero(alive):
        group = [distinct[m] for m in members[i]]
        per_s = min(k[0] for k in group)
        per_m = round(sum(k[1] * count[k] for k in group) / sum(count[k] for k in group))
        for key in group:
            pair[key] = (per_s, per_m)
    return [pair[key] for key in keys]


def _seed_routes(
    techs: Sequence[Technician],
    initial_routes: Mapping[str, Sequence[str]],
    visit_job: Sequence[Job],
    first_visit: int,
    crew_nodes: Mapping[str, tuple[int, int]],
    manager: Any,
    first_reload: int,
) -> list[list[int]]:
    """Solver indices per vehicle for a plan given as job ids per technician."""
    tech_pos = {t.id: v for v, t in enumerate(techs)}
    job_node: dict[str, int] = {}
    for n, job in enumerate(visit_job, start=first_visit):
        job_node.setdefault(job.id, n)
    seeded = []
    for v, tech in enumerate(techs):
        nodes = []
        for job_id in initial_routes.get(tech.id, ()):
            if job_id in crew_nodes:
                lead_node, second_node = crew_nodes[job_id]
                partner = next(t for t in initial_routes if t != tech.id and job_id in initial_routes[t])
                nodes.append(lead_node if v < tech_pos[partner] else second_node)
            elif job_id == RELOAD_ID:
                nodes.append(first_reload + v)
            elif job_id in job_node:
                nodes.append(job_node[job_id])
        seeded.append([manager.NodeToIndex(n) for n in nodes])
    return seeded


@dataclass
class _SearchStats:
    solutions: int = 0
    first_s: float | None = None
    best: int | None = None
    best_at: float = 0.0
    stalled: bool = False


@dataclass(frozen=True)
class OrToolsSearch:
    """The OR-Tools search as a ``Search``: one model, warm-started from the task's
    ``initial_routes`` when given, crews fixed as the task's ``crews`` say.

    Without ``detailed`` the model has no lunch break and no preferred windows
    (``solve_model``); ``stall_ratio`` and ``min_stall_s`` end a stalled search.
    """

    settings: OrToolsSettings
    detailed: bool = True
    stall_ratio: float | None = None
    min_stall_s: float = 0.0

    @property
    def name(self) -> str:
        """The first solution strategy and metaheuristic."""
        return f"or-tools {self.settings.first_solution} + {self.settings.metaheuristic}"

    def run(self, task: SearchInput) -> RawResult:
        """``solve_model`` on the task."""
        return solve_model(task, self.settings, True, self.detailed, self.stall_ratio, self.min_stall_s)


@dataclass(frozen=True)
class ColdRuns:
    """Cold OR-Tools searches one after another until the deadline, as a ``Search``:
    each (first solution, metaheuristic) pair of ``strategies`` in turn, then again
    on shuffled job orders (from the task's seed). With ``settings.stall_ratio`` a
    search that stalls hands the rest of the time to the next (while
    ``restart_min_fraction`` of the budget is left); without it the first search has
    the whole budget. The best result by the model's objective, with the solutions
    of all searches counted."""

    settings: OrToolsSettings
    strategies: tuple[tuple[str, str], ...]
    detailed: bool = True

    @property
    def name(self) -> str:
        """The strategies, in turn."""
        return "or-tools cold " + ", ".join(f"{a} + {b}" for a, b in self.strategies)

    def run(self, task: SearchInput) -> RawResult:
        """The best of the cold searches on the task (its ``initial_routes`` unused)."""
        settings = self.settings
        budget = max(1e-3, task.deadline - time.monotonic())
        rng = random.Random(task.seed)
        best: RawResult | None = None
        solutions = 0
        for k in itertools.count():
            order = list(task.jobs)
            if k >= len(self.strategies):
                rng.shuffle(order)
            first_solution, metaheuristic = self.strategies[k % len(self.strategies)]
            cold = dataclasses.replace(settings, first_solution=first_solution, metaheuristic=metaheuristic)
            search = OrToolsSearch(cold, self.detailed, settings.stall_ratio, settings.stall_min_fraction * budget)
            raw = search.run(dataclasses.replace(task, jobs=order, initial_routes=None))
            solutions += raw.solutions
            if better(raw, best):
                best = raw
            log.info("cold search %d (%s): %s, objective %s", k, cold.first_solution, raw.status, raw.objective_units)
            left = task.deadline - time.monotonic()
            stopped = task.stop is not None and task.stop()
            if raw.status != "stalled" or left < settings.restart_min_fraction * budget or stopped:
                break
        result = best if best is not None else raw
        return dataclasses.replace(result, solutions=solutions)
