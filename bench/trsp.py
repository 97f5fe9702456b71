"""Technician routing with skills, tools and spare parts (TRSP of Pillac, Guéret & Medaglia 2013).

    .venv/bin/python -m bench.trsp --time-limit 10          # all 29 instances, three solvers
    .venv/bin/python -m bench.trsp --quick                  # C101 R102 RC105 at 2 s
    .venv/bin/python -m bench.trsp --instances C101 R101 --solvers ours,vroom --csv runs.csv

Instances: ``../shared/benchmarks/trsp/pillac2013/txt`` (families C1, R1, RC1;
100 requests, 25 technicians with homes, 5 skills, 5 tools, 5 spare-part
types), read by dispatch/trsp.py. Tools are capabilities, spare parts a stock
per part type that each served request uses up. **Reloading**, as in the
paper: a technician may stop once at the depot to pick up any tool and parts
(``ours``); ``ours-noreload`` and the peers never do, so on 4 of the 29
instances they cannot serve every request.

Solvers, each with the same wall-clock budget per instance, one after the other:
``ours`` (solver.solve, with the depot), ``ours-noreload`` (the same without
it; not run by default), ``vroom`` (pyvroom, exploration level 5, skills for
skills and tools, capacity = stock, delivery = parts), ``ortools`` (the
textbook OR-Tools model: Python callbacks, homes as starts and ends, a time
dimension with its span cost, one capacity dimension per part type, allowed
vehicles per request, a drop penalty per request, PATH_CHEAPEST_ARC then
guided local search).

Every result goes through our checker (solver.check) after the same re-timing:
each route's visit order is kept and timed for its least duration (latest
departure that keeps the earliest return). The objective is the total route
duration (travel + service + waiting, departure to return), in instance units.
Gaps are to ``bks_trsp.csv`` (total duration), only where a solver serves every
request (otherwise the durations are not comparable). The bound is what skills,
tools, stock and reach allow, with reloading for ``ours`` and without for the rest.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench import families, family, seconds
from bench.provenance import engine_version
from dispatch.trsp import SCALE, TrspInstance, can_serve, load_trsp, read_bks, servable_bound
from solver import (
    RELOAD_ID,
    ReasonCode,
    Route,
    Solution,
    SolveOptions,
    Unassigned,
    check,
    prepare,
    problem_travel,
    solve,
)
from solver.objective import coefficients
from solver.schedule import RouteTimer, Timing

DATA = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "trsp" / "pillac2013"
QUICK = ("C101", "R102", "RC105")
SOLVERS = ("ours", "vroom", "ortools")
RELOADING = ("ours",)  # the solvers that may stop at the depot
PEER_PACKAGES = {"vroom": "vroom", "ortools": "ortools"}
VROOM_THREADS = 2  # this machine's cores
# Textbook model: what leaving a request out costs (far above any day's duration).
DROP_PENALTY = 10**8

# Per technician (index into instance.technicians) the requests (indices into instance.requests) in order.
Plan = dict[int, list[int]]


@dataclass
class Outcome:
    """One solver on one instance, after our checker."""

    instance: str
    solver: str
    duration: float | None
    served: int
    bound: int
    requests: int
    violations: int
    wall_s: float
    gap: float | None = None
    note: str = ""
    reloads: int = 0

    @property
    def all_served(self) -> bool:
        """Every request served, no checker violation."""
        return self.duration is not None and self.violations == 0 and self.served == self.requests

    @property
    def bound_served(self) -> bool:
        """As many requests served as skills, tools, stock and reach allow, no violation."""
        return self.duration is not None and self.violations == 0 and self.served >= self.bound


def short(name: str) -> str:
    """C101.100_25-5-5-5 → C101."""
    return name.split(".")[0]


# --- The solvers ----------------------------------------------------------------------------------------------


DEPOT_STOP = -1  # a depot stop in a Plan's sequence


def run_ours(instance: TrspInstance, time_limit_s: float, seed: int, reload: bool = True) -> Plan | None:
    """The planning engine on the converted problem (with its depot unless not ``reload``)."""
    problem = instance.problem if reload else dataclasses.replace(instance.problem, depot=None)
    solution = solve(problem, SolveOptions(time_limit_s=time_limit_s, seed=seed), instance.provider)
    tech_index = {instance.tech_id(k): k for k in range(len(instance.technicians))}
    job_index = {instance.job_id(r): r for r in range(len(instance.requests))}
    job_index[RELOAD_ID] = DEPOT_STOP
    return {tech_index[r.technician_id]: [job_index[v.job_id] for v in r.visits] for r in solution.routes if r.visits}


def run_vroom(instance: TrspInstance, time_limit_s: float, seed: int) -> Plan | None:
    """VROOM at exploration level 5: skills and tools as skills, stock as capacity, parts as delivery."""
    import vroom

    n_skills = instance.n_skills
    problem = vroom.Input()
    matrix = instance.travel.astype("uint32")
    problem.set_durations_matrix(profile="car", matrix_input=matrix)
    problem.set_costs_matrix(profile="car", matrix_input=matrix)
    for k, tech in enumerate(instance.technicians):
        problem.add_vehicle(
            vroom.Vehicle(
                id=k + 1,
                start=tech.id,
                end=tech.id,
                capacity=list(tech.parts),
                skills={*tech.skills, *(n_skills + t for t in tech.tools)},
                time_window=vroom.TimeWindow(tech.tw_start * SCALE, tech.tw_end * SCALE),
            )
        )
    for r, request in enumerate(instance.requests):
        problem.add_job(
            vroom.Job(
                id=r + 1,
                location=request.id,
                default_service=request.service * SCALE,
                delivery=list(request.parts),
                skills={*request.skills, *(n_skills + t for t in request.tools)},
                time_windows=[vroom.TimeWindow(request.tw_start * SCALE, request.tw_end * SCALE)],
            )
        )
    solution = problem.solve(
        exploration_level=5, nb_threads=VROOM_THREADS, timeout=datetime.timedelta(seconds=time_limit_s)
    )
    steps = solution.routes
    jobs = steps[steps["type"] == "job"]
    return {int(v) - 1: [int(i) - 1 for i in group["id"]] for v, group in jobs.groupby("vehicle_id", sort=True)}


def run_ortools(instance: TrspInstance, time_limit_s: float, seed: int) -> Plan | None:
    """The textbook OR-Tools model: routing-sample style, with homes, skills, stock and drop penalties."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    techs, requests = instance.technicians, instance.requests
    n_techs = len(techs)
    # Routing nodes: the homes 0..T-1, then the requests T..T+R-1.
    nodes = [t.id for t in techs] + [r.id for r in requests]
    service = [0] * n_techs + [r.service * SCALE for r in requests]
    travel = instance.travel[nodes][:, nodes].tolist()
    homes = list(range(n_techs))
    manager = pywrapcp.RoutingIndexManager(len(nodes), n_techs, homes, homes)
    routing = pywrapcp.RoutingModel(manager)

    def travel_callback(from_index: int, to_index: int) -> int:
        return int(travel[manager.IndexToNode(from_index)][manager.IndexToNode(to_index)])

    def time_callback(from_index: int, to_index: int) -> int:
        origin = manager.IndexToNode(from_index)
        return int(service[origin] + travel[origin][manager.IndexToNode(to_index)])

    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitCallback(travel_callback))
    horizon = max(t.tw_end for t in techs) * SCALE
    routing.AddDimension(routing.RegisterTransitCallback(time_callback), horizon, horizon, False, "Time")
    time_dim = routing.GetDimensionOrDie("Time")
    time_dim.SetSpanCostCoefficientForAllVehicles(1)
    for k, tech in enumerate(techs):
        for index in (routing.Start(k), routing.End(k)):
            time_dim.CumulVar(index).SetRange(tech.tw_start * SCALE, tech.tw_end * SCALE)
        routing.AddVariableMaximizedByFinalizer(time_dim.CumulVar(routing.Start(k)))
        routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(routing.End(k)))
    for p in range(instance.n_parts):
        parts = [0] * n_techs + [r.parts[p] for r in requests]

        def demand_callback(from_index: int, parts: list[int] = parts) -> int:
            return parts[manager.IndexToNode(from_index)]

        routing.AddDimensionWithVehicleCapacity(
            routing.RegisterUnaryTransitCallback(demand_callback), 0, [t.parts[p] for t in techs], True, f"part{p}"
        )
    for r, request in enumerate(requests):
        index = manager.NodeToIndex(n_techs + r)
        time_dim.CumulVar(index).SetRange(request.tw_start * SCALE, request.tw_end * SCALE)
        allowed = [k for k, tech in enumerate(techs) if can_serve(tech, request)]
        routing.AddDisjunction([index], DROP_PENALTY)
        # The samples' way to restrict vehicles (SetAllowedVehiclesForIndex does not take a
        # Python list in this OR-Tools); -1 is "not performed".
        routing.VehicleVar(index).SetValues([-1, *allowed])

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    assignment = routing.SolveWithParameters(params)
    if assignment is None:
        return None
    plan: Plan = {}
    for k in range(n_techs):
        index = assignment.Value(routing.NextVar(routing.Start(k)))
        seq = []
        while not routing.IsEnd(index):
            seq.append(manager.IndexToNode(index) - n_techs)
            index = assignment.Value(routing.NextVar(index))
        if seq:
            plan[k] = seq
    return plan


def run_ours_noreload(instance: TrspInstance, time_limit_s: float, seed: int) -> Plan | None:
    """The planning engine without the depot (no reloading, like the peers)."""
    return run_ours(instance, time_limit_s, seed, reload=False)


RUNNERS: dict[str, Callable[[TrspInstance, float, int], Plan | None]] = {
    "ours": run_ours,
    "ours-noreload": run_ours_noreload,
    "vroom": run_vroom,
    "ortools": run_ortools,
}


# --- Every result through our checker -------------------------------------------------------------------------


def least_duration_timing(instance: TrspInstance, k: int, seq: Sequence[int]) -> Timing:
    """Times for a visit order that give the least route duration (solver units).

    The latest departure from which every visit still starts in its window
    (backward pass), then earliest starts from there (forward pass). When the
    order cannot be timed the forward pass from the shift start is returned;
    the checker then reports what breaks.
    """
    tech = instance.technicians[k]
    reqs = [instance.depot if r == DEPOT_STOP else instance.requests[r] for r in seq]
    d = instance.travel
    home = tech.id
    latest = tech.tw_end * SCALE
    following = home
    for req in reversed(reqs):
        latest = min(req.tw_end * SCALE, latest - int(d[req.id, following]) - req.service * SCALE)
        following = req.id
    depart = latest - int(d[home, following])
    depart = max(tech.tw_start * SCALE, depart)

    def forward(depart_s: int) -> tuple[list[int], int, bool]:
        t, at, starts, ok = depart_s, home, [], True
        for req in reqs:
            start = max(t + int(d[at, req.id]), req.tw_start * SCALE)
            ok = ok and start <= req.tw_end * SCALE
            starts.append(start)
            t, at = start + req.service * SCALE, req.id
        back = t + int(d[at, home])
        return starts, back, ok and back <= tech.tw_end * SCALE

    starts, back, ok = forward(depart)
    if not ok:
        depart = tech.tw_start * SCALE
        starts, back, _ = forward(depart)
    return Timing(depart, tuple(starts), back, None, 0)


def as_solution(instance: TrspInstance, plan: Plan, timer: RouteTimer) -> tuple[Solution, list[str]]:
    """The plan as a solver Solution (least-duration times); requests nobody visits are unassigned."""
    problem = instance.problem
    notes = []
    routes = []
    for k, tech in enumerate(problem.technicians):
        seq = plan.get(k, [])
        bad = [r for r in seq if not (0 <= r < len(instance.requests) or r == DEPOT_STOP)]
        if bad:
            notes.append(f"unknown requests {bad}")
            seq = [r for r in seq if r not in bad]
        depot_stop = problem.reload_job()
        if DEPOT_STOP in seq and depot_stop is None:
            notes.append("a depot stop, but the problem has no depot")
            seq = [r for r in seq if r != DEPOT_STOP]
        jobs = [depot_stop if r == DEPOT_STOP and depot_stop else problem.jobs[r] for r in seq]
        if not jobs:
            routes.append(Route(tech.id, (), tech.shift.start_s, tech.shift.start_s))
            continue
        routes.append(timer.route(tech, jobs, least_duration_timing(instance, k, seq)))
    unknown = set(plan) - set(range(len(problem.technicians)))
    if unknown:
        notes.append(f"routes of unknown technicians {sorted(unknown)}")
    served = {v.job_id for r in routes for v in r.visits if v.job_id != RELOAD_ID}
    unassigned = tuple(Unassigned(j.id, ReasonCode.DAY_FULL, "not served") for j in problem.jobs if j.id not in served)
    return Solution(tuple(routes), unassigned), notes


def evaluate(
    instance: TrspInstance,
    solver: str,
    plan: Plan | None,
    wall_s: float,
    bound: int,
    bks: float | None,
    error: str = "",
) -> Outcome:
    """Check one result; its total duration (instance units), requests served and gap."""
    n = len(instance.requests)
    name = short(instance.name)
    if plan is None:
        return Outcome(name, solver, None, 0, bound, n, 0, wall_s, note=error or "no solution")
    problem = instance.problem
    points, travel = problem_travel(problem, instance.provider)
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    solution, notes = as_solution(instance, plan, timer)
    report = check(problem, solution, points, travel)
    duration = sum(r.end_s - r.start_s for r in solution.routes if r.visits) / SCALE
    served = n - len(solution.unassigned)
    outcome = Outcome(name, solver, duration, served, bound, n, len(report.violations), wall_s, note="; ".join(notes))
    outcome.reloads = sum(seq.count(DEPOT_STOP) for seq in plan.values())
    if report.violations:
        kinds = sorted({str(v.kind) for v in report.violations})
        outcome.note = "; ".join([*notes, f"violations: {', '.join(kinds)}"])
    if outcome.all_served and bks is not None:
        outcome.gap = 100.0 * (duration - bks) / bks
    return outcome


# --- Tables ---------------------------------------------------------------------------------------------------


@dataclass
class Row:
    """Aggregates of one solver over a set of instances."""

    runs: int = 0
    reloads: int = 0
    served: int = 0
    requests: int = 0
    bound: int = 0
    full: int = 0
    at_bound: int = 0
    violations: int = 0
    gaps: list[float] = field(default_factory=list)
    common: list[float] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}%"


def table(outcomes: Sequence[Outcome], solvers: Sequence[str]) -> str:
    """A markdown table: per family and overall, one line per solver."""
    lines = [
        "| family | solver | reloads | instances | requests served / bound / all | all served | at bound | violations "
        "| depot stops | mean gap (all served) | max gap | mean gap (common) | mean wall s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by_instance: dict[str, dict[str, Outcome]] = {}
    for o in outcomes:
        by_instance.setdefault(o.instance, {})[o.solver] = o
    # Instances every solver of the run served completely: the gaps there compare like with like.
    common = {name for name, runs in by_instance.items() if all(s in runs and runs[s].all_served for s in solvers)}
    groups = [(f, [o for o in outcomes if family(o.instance) == f]) for f in families(o.instance for o in outcomes)]
    groups.append(("all", list(outcomes)))
    for label, group in groups:
        if not group:
            continue
        rows = {s: Row() for s in solvers}
        for o in group:
            row = rows[o.solver]
            row.runs += 1
            row.reloads += o.reloads
            row.served += o.served
            row.requests += o.requests
            row.bound += o.bound
            row.full += o.all_served
            row.at_bound += o.bound_served
            row.violations += o.violations
            row.walls.append(o.wall_s)
            if o.gap is not None:
                row.gaps.append(o.gap)
                if o.instance in common:
                    row.common.append(o.gap)
        n_common = len({o.instance for o in group if o.instance in common})
        for solver in solvers:
            row = rows[solver]
            if not row.runs:
                continue
            name = f"**{label}**" if label == "all" else label
            lines.append(
                f"| {name} | {solver} | {'yes' if solver in RELOADING else 'no'} | {row.runs} | "
                f"{row.served} / {row.bound} / {row.requests} | "
                f"{row.full}/{row.runs} | {row.at_bound}/{row.runs} | {row.violations} | {row.reloads} | "
                f"{_pct(statistics.fmean(row.gaps) if row.gaps else None)} | "
                f"{_pct(max(row.gaps) if row.gaps else None)} | "
                f"{_pct(statistics.fmean(row.common) if row.common else None)} ({n_common}) | "
                f"{statistics.fmean(row.walls):.2f} |"
            )
    return "\n".join(lines)


# --- Command --------------------------------------------------------------------------------------------------


def available(solvers: Sequence[str]) -> tuple[list[str], list[str]]:
    """The solvers whose packages are installed, and the ones skipped."""
    ok, skipped = [], []
    for s in solvers:
        package = PEER_PACKAGES.get(s)
        (ok if package is None or importlib.util.find_spec(package) is not None else skipped).append(s)
    return ok, skipped


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table; 0 when every plan of ours passed the checker."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit", type=seconds, default=None, help="seconds per solver and instance (10)")
    parser.add_argument("--instances", nargs="+", default=None, help="names such as C101 RC105 (default: all 29)")
    parser.add_argument("--solvers", default=",".join(SOLVERS), help=f"comma-separated, of {','.join(SOLVERS)}")
    parser.add_argument("--quick", action="store_true", help=f"{', '.join(QUICK)} at 2 s")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DATA, help="folder with txt/ and bks_trsp.csv")
    parser.add_argument("--csv", type=Path, default=None, help="also write one line per run here")
    args = parser.parse_args(argv)
    # The compiled search is compiled once per machine (numba's cache), outside any timing.
    prepare(wait=True)

    time_limit = args.time_limit if args.time_limit is not None else (2.0 if args.quick else 10.0)
    txt = args.data / "txt"
    if not txt.is_dir() or not (args.data / "bks_trsp.csv").is_file():
        parser.error(f"--data {args.data}: give a folder shaped like pillac2013 (txt/ and bks_trsp.csv)")
    files = {short(p.name): p for p in sorted(txt.glob("*.txt"))}
    names = [n.upper() for n in args.instances] if args.instances else (list(QUICK) if args.quick else list(files))
    missing = [n for n in names if n not in files]
    if missing:
        print(f"no such instances in {txt}: {', '.join(missing)}", file=sys.stderr)
        return 2
    requested = [s.strip() for s in args.solvers.split(",") if s.strip()]
    unknown = [s for s in requested if s not in RUNNERS]
    if unknown:
        parser.error(f"unknown solvers {unknown}; choose from {', '.join(SOLVERS)}")
    solvers, skipped = available(requested)
    if skipped:
        print(f"skipped (not installed; pip install -e '.[bench]'): {', '.join(skipped)}", file=sys.stderr)
    bks = {short(k): v for k, v in read_bks(args.data / "bks_trsp.csv").items()}

    started = time.monotonic()
    outcomes: list[Outcome] = []
    for name in names:
        instance = load_trsp(files[name])
        bounds = {False: servable_bound(instance), True: servable_bound(instance, reload=True)}
        cells = []
        for solver in solvers:
            t0 = time.monotonic()
            error = ""
            try:
                plan = RUNNERS[solver](instance, time_limit, args.seed)
            except Exception as exc:  # a crashing solver is a result, not the end of the run
                plan, error = None, f"{type(exc).__name__}: {exc}"
            wall = time.monotonic() - t0
            bound = bounds[solver in RELOADING]
            outcome = evaluate(instance, solver, plan, wall, bound, bks.get(name), error)
            outcomes.append(outcome)
            shown = f"{outcome.served}/{outcome.requests} " + (
                _pct(outcome.gap) if outcome.gap is not None else f"{outcome.duration or 0:.0f}"
            )
            if outcome.violations or outcome.note:
                shown += f" ({outcome.note})"
            cells.append(f"{solver} {shown} {wall:.1f}s")
        print(
            f"{name:>6} bound {bounds[False]:>3} ({bounds[True]} reloading)  " + " | ".join(cells),
            file=sys.stderr,
            flush=True,
        )

    print(
        f"\nTRSP (Pillac et al. 2013), {len(names)} instances, {time_limit:g} s per solver and instance, "
        f"seed {args.seed}, reloading for {', '.join(s for s in solvers if s in RELOADING) or 'none'}, "
        f"{engine_version()}, {datetime.date.today().isoformat()} "
        f"({time.monotonic() - started:.0f} s in all)\n"
    )
    print(table(outcomes, solvers))
    if args.csv is not None:
        with args.csv.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(
                ["instance", "solver", "duration", "served", "bound", "violations", "wall_s", "gap", "reloads", "note"]
            )
            for o in outcomes:
                writer.writerow(
                    [
                        o.instance,
                        o.solver,
                        o.duration,
                        o.served,
                        o.bound,
                        o.violations,
                        f"{o.wall_s:.2f}",
                        o.gap,
                        o.reloads,
                        o.note,
                    ]
                )
    # A failure is a plan the checker refuses or none at all; serving fewer than the bound
    # is a result (with reloading the bound is only an upper bound), shown in the table.
    ours_bad = [o for o in outcomes if o.solver.startswith("ours") and (o.duration is None or o.violations)]
    return 1 if ours_bad else 0


if __name__ == "__main__":
    sys.exit(main())
