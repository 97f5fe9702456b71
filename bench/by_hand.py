"""Against planning by hand: the engine versus a dispatcher's rule of thumb.

    .venv/bin/python -m bench.by_hand [--time-limit 10] [--days sample 50x400 200x2000 500x5000]
    .venv/bin/python -m bench.by_hand --days data/samples/small-day.json   # a day file of one's own

"By hand" (solver/baseline.py) takes jobs in booking order and gives each to
the nearest qualified technician who can still make the window at the end of
their day. "Same jobs" is the engine given only the jobs by hand served: the
same work, planned by the engine, so the travel it saves is routing alone (on
the whole day the engine also chooses which jobs to serve). Every plan goes
through the checker. "Home legs" is the share of travel spent on the way to
the first job and back home. Generated days come from
data/samples/generate.py through bench/gen_days.py (seeded, as bench.scale):
NxM means N technicians and M jobs; a path ending in .json is a day file of
one's own (docs/day-file.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from bench import seconds
from bench.gen_days import day_arg, day_file
from dispatch.dayfile import load_day
from dispatch.kpis import Kpis, compute_kpis
from solver import HaversineProvider, Problem, Solution, SolveOptions, check, prepare, problem_travel, solve
from solver.baseline import plan_by_hand


def checked(problem: Problem, solution: Solution) -> tuple[Kpis, int, float]:
    """KPIs, checker violations and the recomputed cost (euros)."""
    report = check(problem, solution, *problem_travel(problem, HaversineProvider()))
    return compute_kpis(problem, solution), len(report.violations), report.objective.cost / 100


def home_legs(solution: Solution) -> float:
    """The share of driving time on the way out to the first job and back home."""
    used = [r for r in solution.routes if r.visits]
    total = sum(r.travel_s for r in used)
    return sum(r.visits[0].travel_s + r.return_travel_s for r in used) / total if total else 0.0


def main() -> None:
    """Print three rows per day (by hand, engine, engine on by hand's jobs) and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit", type=seconds, default=10.0)
    parser.add_argument(
        "--days",
        nargs="+",
        type=day_arg,
        default=["sample", "50x400"],
        help="sample, TECHNICIANSxJOBS and/or day files (*.json)",
    )
    args = parser.parse_args()
    # The compiled search is compiled once per machine (numba's cache), outside any timing.
    prepare(wait=True)
    header = (
        f"{'day':<8} {'planner':<10} {'served':>9} {'travel share':>12} {'utilisation':>11} {'overtime min':>12} "
        f"{'travel h':>8} {'home legs':>9} {'cost €':>9} {'wall s':>6} {'violations':>10}"
    )
    print(header)
    print("-" * len(header))
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for given in args.days:
            day = load_day(day_file(given, Path(tmp)))
            name = Path(given).stem if given.endswith(".json") else given  # a day file by its name
            rows = {}
            served: set[str] = set()
            for planner in ("by hand", "engine", "same jobs"):
                problem = day.problem
                if planner == "same jobs":
                    problem = dataclasses.replace(problem, jobs=tuple(j for j in problem.jobs if j.id in served))
                started = time.monotonic()
                if planner == "by hand":
                    solution = plan_by_hand(problem)
                    served = set(solution.served_job_ids())
                else:
                    solution = solve(problem, SolveOptions(time_limit_s=args.time_limit))
                wall = time.monotonic() - started
                k, violations, cost = checked(problem, solution)
                rows[planner] = k
                print(
                    f"{name:<8} {planner:<10} {k.jobs_served:>4}/{k.jobs_total:<4} {k.travel_share:>12.1%} "
                    f"{k.utilisation:>11.1%} {k.overtime_min:>12.0f} {k.travel_min / 60:>8.1f} "
                    f"{home_legs(solution):>9.0%} {cost:>9.0f} {wall:>6.1f} {violations:>10}"
                )
            ratios.append((name, rows["by hand"], rows["engine"], rows["same jobs"]))
    print()
    print("engine / by hand: travel per job served, utilisation, jobs served; same jobs / by hand: travel")
    for name, hand, engine, same in ratios:
        per_job_hand = hand.travel_min / max(1, hand.jobs_served)
        per_job_engine = engine.travel_min / max(1, engine.jobs_served)
        print(
            f"{name:<8} travel/job {per_job_engine / per_job_hand:.2f}×  utilisation "
            f"{engine.utilisation / hand.utilisation:.2f}×  served {engine.jobs_served / max(1, hand.jobs_served):.2f}×"
            f"  |  same jobs: travel {same.travel_min / max(1e-9, hand.travel_min):.2f}×, "
            f"served {same.jobs_served}/{hand.jobs_served}"
        )


if __name__ == "__main__":
    main()
