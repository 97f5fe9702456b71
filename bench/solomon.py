"""Solomon VRPTW benchmark: our engine against PyVRP, VROOM and the textbook OR-Tools model.

    .venv/bin/python -m bench.solomon --time-limit 10
    .venv/bin/python -m bench.solomon --quick                      # 6 instances, 2 s
    .venv/bin/python -m bench.solomon --time-limit 2 --instances C101 R101 --solvers ours,pyvrp

Every solver gets the same wall-clock budget per instance, one after the
other. Every result is re-timed with earliest starts and goes through our
checker (solver.check); a result is counted infeasible or incomplete when the
checker finds a violation, a customer is not served, or it uses more routes
than VEHICLES. Gaps are to the best-known solutions of bks.csv with
``convention == dimacs`` (distances truncated to one decimal), over the
feasible complete results only. The peers need the ``bench`` extra:
``.venv/bin/pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench import families, family, seconds
from dispatch.vrplib import VrplibInstance, load_vrplib, routes_cost, solve_instance
from solver import ReasonCode, Route, Solution, Unassigned, check, prepare, problem_travel
from solver.objective import coefficients
from solver.schedule import RouteTimer, Timing

DATA = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "vrptw"
QUICK = ("C101", "C201", "R101", "R201", "RC101", "RC201")
SOLVERS = ("ours", "pyvrp", "vroom", "ortools")
PEER_PACKAGES = {"pyvrp": "pyvrp", "vroom": "vroom", "ortools": "ortools"}
VROOM_THREADS = 2  # this machine's cores

Routes = list[list[int]]


@dataclass
class Outcome:
    """One solver on one instance, after our checker."""

    instance: str
    solver: str
    cost: float | None
    routes: int
    unserved: int
    violations: int
    wall_s: float
    gap: float | None = None
    note: str = ""

    @property
    def valid(self) -> bool:
        """Feasible and complete: no violation, every customer served, within the fleet."""
        return self.cost is not None and self.violations == 0 and self.unserved == 0 and not self.note


@dataclass
class Row:
    """Aggregates of one solver over a set of instances."""

    solver: str
    runs: int = 0
    gaps: list[float] = field(default_factory=list)
    bad: int = 0
    walls: list[float] = field(default_factory=list)

    @property
    def mean_gap(self) -> float | None:
        """Mean gap in percent over valid results."""
        return statistics.fmean(self.gaps) if self.gaps else None


def read_bks(path: Path) -> dict[str, float]:
    """Best-known distances under the DIMACS convention, by instance name."""
    with path.open(newline="") as f:
        return {r["instance"]: float(r["bks_distance"]) for r in csv.DictReader(f) if r["convention"] == "dimacs"}


def windows_of(instance: VrplibInstance) -> list[tuple[int, int]]:
    """Per node (depot first) its window in tenths: the depot's is the shift."""
    shift = instance.problem.technicians[0].shift
    out = [(shift.start_s, shift.end_s)]
    out += [(j.windows[0].start_s, j.windows[0].end_s) for j in instance.problem.jobs]
    return out


def service_of(instance: VrplibInstance) -> list[int]:
    """Per node (depot first) its service time in tenths."""
    return [0] + [j.duration_s for j in instance.problem.jobs]


# --- The solvers: each returns routes of customer numbers (1 … n-1), or None -------------------------------


def run_ours(instance: VrplibInstance, path: Path, time_limit_s: float, seed: int) -> Routes | None:
    """Our planning engine through dispatch.vrplib."""
    return solve_instance(instance, time_limit_s, seed=seed).routes


def run_pyvrp(instance: VrplibInstance, path: Path, time_limit_s: float, seed: int) -> Routes | None:
    """PyVRP's iterated local search, reading the file itself with DIMACS rounding."""
    import pyvrp
    from pyvrp.stop import MaxRuntime

    data = pyvrp.read(str(path), round_func="dimacs")
    result = pyvrp.Model.from_data(data).solve(stop=MaxRuntime(time_limit_s), seed=seed, display=False)
    offset = data.num_depots
    return [[a.idx + offset for a in route if a.is_client()] for route in result.best.routes()]


def run_vroom(instance: VrplibInstance, path: Path, time_limit_s: float, seed: int) -> Routes | None:
    """VROOM at its deepest exploration level (5), on our integer matrix, stopped at the budget."""
    import vroom

    problem = vroom.Input()
    matrix = instance.distance.astype("uint32")
    problem.set_durations_matrix(profile="car", matrix_input=matrix)
    problem.set_costs_matrix(profile="car", matrix_input=matrix)
    windows = windows_of(instance)
    service = service_of(instance)
    depot = vroom.TimeWindow(*windows[0])
    for v in range(1, instance.vehicles + 1):
        problem.add_vehicle(vroom.Vehicle(id=v, start=0, end=0, capacity=[instance.capacity], time_window=depot))
    for c in range(1, instance.customers + 1):
        problem.add_job(
            vroom.Job(
                id=c,
                location=c,
                default_service=service[c],
                delivery=[instance.demand[c]],
                time_windows=[vroom.TimeWindow(*windows[c])],
            )
        )
    solution = problem.solve(
        exploration_level=5, nb_threads=VROOM_THREADS, timeout=datetime.timedelta(seconds=time_limit_s)
    )
    steps = solution.routes
    jobs = steps[steps["type"] == "job"]
    return [[int(i) for i in group["id"]] for _, group in jobs.groupby("vehicle_id", sort=True)]


def run_ortools(instance: VrplibInstance, path: Path, time_limit_s: float, seed: int) -> Routes | None:
    """The textbook OR-Tools model (bench/ortools_textbook.py)."""
    from bench import ortools_textbook

    return ortools_textbook.solve(
        instance.distance,
        service_of(instance),
        windows_of(instance),
        instance.demand,
        instance.capacity,
        instance.vehicles,
        time_limit_s,
    )


RUNNERS: dict[str, Callable[[VrplibInstance, Path, float, int], Routes | None]] = {
    "ours": run_ours,
    "pyvrp": run_pyvrp,
    "vroom": run_vroom,
    "ortools": run_ortools,
}


# --- Every result through our checker -----------------------------------------------------------------------


def as_solution(instance: VrplibInstance, routes: Routes, timer: RouteTimer) -> tuple[Solution, list[str]]:
    """The routes as a solver Solution, each timed with earliest starts (wait when early).

    Customers nobody visits are listed unassigned; the notes say what could not
    be represented (routes beyond the fleet, unknown customer numbers).
    """
    problem = instance.problem
    jobs = {j.id: j for j in problem.jobs}
    notes = []
    if len(routes) > instance.vehicles:
        notes.append(f"{len(routes)} routes for {instance.vehicles} vehicles")
    built = []
    for tech, customers in zip(problem.technicians, routes, strict=False):
        unknown = [c for c in customers if str(c) not in jobs]
        if unknown:
            notes.append(f"unknown customers {unknown}")
        seq = [jobs[str(c)] for c in customers if str(c) in jobs]
        if not seq:
            continue
        nodes = [timer.points.tech_start[tech.id]] + [timer.points.job[j.id] for j in seq]
        nodes.append(timer.points.tech_end[tech.id])
        t = depart = tech.shift.start_s
        starts = []
        for k, job in enumerate(seq):
            t = max(t + int(timer.duration[nodes[k], nodes[k + 1]]), job.windows[0].start_s)
            starts.append(t)
            t += job.duration_s
        back = t + int(timer.duration[nodes[-2], nodes[-1]])
        built.append((tech, timer.route(tech, seq, Timing(depart, tuple(starts), back, None, 0))))
    by_tech = {tech.id: route for tech, route in built}
    all_routes = tuple(
        by_tech.get(t.id, Route(t.id, (), t.shift.start_s, t.shift.start_s)) for t in problem.technicians
    )
    served = {v.job_id for r in all_routes for v in r.visits}
    unassigned = tuple(Unassigned(j.id, ReasonCode.DAY_FULL, "not served") for j in problem.jobs if j.id not in served)
    return Solution(all_routes, unassigned), notes


def evaluate(
    instance: VrplibInstance, solver: str, routes: Routes | None, wall_s: float, bks: float | None, error: str = ""
) -> Outcome:
    """Check one result and measure its cost and gap."""
    name = instance.name
    if routes is None:
        return Outcome(name, solver, None, 0, instance.customers, 0, wall_s, None, error or "no solution")
    problem = instance.problem
    points, travel = problem_travel(problem, instance.provider)
    timer = RouteTimer(points, travel, coefficients(problem, travel), problem.lunch_on_site_min_s)
    solution, notes = as_solution(instance, routes, timer)
    report = check(problem, solution, points, travel)
    violations = list(report.violations)
    cost = routes_cost(instance, routes)
    outcome = Outcome(
        name,
        solver,
        cost,
        sum(1 for r in routes if r),
        len(solution.unassigned),
        len(violations),
        wall_s,
        note="; ".join(notes),
    )
    if violations:
        kinds = sorted({str(v.kind) for v in violations})
        outcome.note = "; ".join([*notes, f"violations: {', '.join(kinds)}"])
    if outcome.valid and bks is not None:
        outcome.gap = 100.0 * (cost - bks) / bks
    return outcome


# --- Tables ------------------------------------------------------------------------------------------------


def aggregate(outcomes: Sequence[Outcome], solvers: Sequence[str]) -> dict[str, Row]:
    """Per solver: runs, gaps of valid results, infeasible or incomplete count, wall times."""
    rows = {s: Row(s) for s in solvers}
    for o in outcomes:
        row = rows[o.solver]
        row.runs += 1
        row.walls.append(o.wall_s)
        if o.valid and o.gap is not None:
            row.gaps.append(o.gap)
        elif not o.valid:
            row.bad += 1
    return rows


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}%"


def table(outcomes: Sequence[Outcome], solvers: Sequence[str]) -> str:
    """A markdown table: per family and overall, one line per solver."""
    lines = [
        "| family | solver | instances | mean gap | max gap | infeasible/incomplete | mean wall s | ours/peer gap |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    groups = [(f, [o for o in outcomes if family(o.instance) == f]) for f in families(o.instance for o in outcomes)]
    groups.append(("all", list(outcomes)))
    for name, group in groups:
        if not group:
            continue
        rows = aggregate(group, solvers)
        ours = rows["ours"].mean_gap if "ours" in rows else None
        for solver in solvers:
            row = rows[solver]
            if not row.runs:
                continue
            ratio = "—"
            if solver != "ours" and ours is not None and row.mean_gap:
                ratio = f"{ours / row.mean_gap:.2f}"
            label = f"**{name}**" if name == "all" else name
            lines.append(
                f"| {label} | {solver} | {row.runs} | {_pct(row.mean_gap)} | "
                f"{_pct(max(row.gaps) if row.gaps else None)} | {row.bad} | "
                f"{statistics.fmean(row.walls):.2f} | {ratio} |"
            )
    return "\n".join(lines)


# --- Command -----------------------------------------------------------------------------------------------


def available(solvers: Sequence[str]) -> tuple[list[str], list[str]]:
    """The solvers whose packages are installed, and the ones skipped."""
    ok, skipped = [], []
    for s in solvers:
        package = PEER_PACKAGES.get(s)
        if package is None or importlib.util.find_spec(package) is not None:
            ok.append(s)
        else:
            skipped.append(s)
    return ok, skipped


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the tables; 0 when every run of ours was valid."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit", type=seconds, default=None, help="seconds per solver and instance (10)")
    parser.add_argument("--instances", nargs="+", default=None, help="names such as C101 R205 (default: all 56)")
    parser.add_argument("--solvers", default=",".join(SOLVERS), help=f"comma-separated, of {','.join(SOLVERS)}")
    parser.add_argument("--quick", action="store_true", help=f"{len(QUICK)} instances, one per family, 2 s")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DATA, help="folder with solomon/vrp and bks.csv")
    parser.add_argument("--csv", type=Path, default=None, help="also write one line per run here")
    args = parser.parse_args(argv)

    time_limit = args.time_limit if args.time_limit is not None else (2.0 if args.quick else 10.0)
    vrp_dir = args.data / "solomon" / "vrp"
    if not vrp_dir.is_dir() or not (args.data / "bks.csv").is_file():
        parser.error(f"--data {args.data}: give a folder holding solomon/vrp/ and bks.csv")
    names = args.instances or (list(QUICK) if args.quick else sorted(p.stem for p in vrp_dir.glob("*.vrp")))
    requested = [s.strip() for s in args.solvers.split(",") if s.strip()]
    unknown = [s for s in requested if s not in RUNNERS]
    if unknown:
        parser.error(f"unknown solvers {unknown}; choose from {', '.join(SOLVERS)}")
    solvers, skipped = available(requested)
    if skipped:
        print(f"skipped (not installed; pip install -e '.[bench]'): {', '.join(skipped)}", file=sys.stderr)
    missing = [n for n in names if not (vrp_dir / f"{n}.vrp").is_file()]
    if missing:
        print(f"no such instances in {vrp_dir}: {', '.join(missing)}", file=sys.stderr)
        return 2
    bks = read_bks(args.data / "bks.csv")

    # Compiled once per machine (numba's cache): not part of any instance's time.
    prepare(wait=True)
    started = time.monotonic()
    outcomes: list[Outcome] = []
    for name in names:
        path = vrp_dir / f"{name}.vrp"
        instance = load_vrplib(path)
        cells = []
        for solver in solvers:
            t0 = time.monotonic()
            error = ""
            try:
                routes = RUNNERS[solver](instance, path, time_limit, args.seed)
            except Exception as exc:  # a crashing solver is a result, not the end of the run
                routes, error = None, f"{type(exc).__name__}: {exc}"
            wall = time.monotonic() - t0
            outcome = evaluate(instance, solver, routes, wall, bks.get(name), error)
            outcomes.append(outcome)
            shown = _pct(outcome.gap) if outcome.valid else f"INVALID ({outcome.note})"
            cells.append(f"{solver} {shown} {wall:.1f}s")
        print(f"{name:>6}  " + " | ".join(cells), file=sys.stderr, flush=True)

    print(
        f"\nSolomon VRPTW, {len(names)} instances, {time_limit:g} s per solver and instance, "
        f"seed {args.seed}, {datetime.date.today().isoformat()} ({time.monotonic() - started:.0f} s in all)\n"
    )
    print(table(outcomes, solvers))
    if args.csv is not None:
        with args.csv.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["instance", "solver", "cost", "routes", "unserved", "violations", "wall_s", "gap", "note"])
            for o in outcomes:
                writer.writerow(
                    [o.instance, o.solver, o.cost, o.routes, o.unserved, o.violations, f"{o.wall_s:.2f}", o.gap, o.note]
                )
    ours_bad = [o for o in outcomes if o.solver == "ours" and not o.valid]
    return 1 if ours_bad else 0


if __name__ == "__main__":
    sys.exit(main())
