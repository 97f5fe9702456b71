"""Plan the sample day at several time limits and print the figures as a table.

    .venv/bin/python -m bench.sample_day --time-limits 10 30

Every plan goes through the independent checker; the table shows its
violation count next to jobs served, travel share, utilisation and solve time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench import seconds
from bench.gen_days import SAMPLE_DAY
from dispatch.dayfile import DayFileError, load_day
from dispatch.kpis import compute_kpis
from solver import HaversineProvider, SolveOptions, check, prepare, problem_travel, solve


def main() -> None:
    """Run the benchmark and print one row per time limit."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--day", type=Path, default=SAMPLE_DAY)
    parser.add_argument("--time-limits", type=seconds, nargs="+", default=[10.0, 30.0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    # The compiled search first (compiled once per machine, then loaded from cache):
    # without it the engine would plan with OR-Tools alone.
    try:
        day = load_day(args.day)
    except DayFileError as exc:
        parser.error(f"--day: {exc}")
    prepare(wait=True)
    problem = day.problem
    points, travel = problem_travel(problem, HaversineProvider())
    print(f"{args.day.name}: {len(problem.technicians)} technicians, {len(problem.jobs)} jobs")
    header = (
        f"{'limit s':>7} {'served':>9} {'share':>6} {'travel share':>12} {'utilisation':>11} "
        f"{'overtime min':>12} {'partner':>7} {'SLA':>6} {'cost €':>9} {'first s':>7} {'wall s':>6} {'violations':>10}"
    )
    print(header)
    print("-" * len(header))
    for limit in args.time_limits:
        started = time.monotonic()
        solution = solve(problem, SolveOptions(time_limit_s=limit, seed=args.seed))
        wall = time.monotonic() - started
        report = check(problem, solution, points, travel)
        k = compute_kpis(problem, solution)
        first = solution.stats.first_solution_s
        print(
            f"{limit:>7g} {k.jobs_served:>4}/{k.jobs_total:<4} {k.served_share:>6.1%} {k.travel_share:>12.1%} "
            f"{k.utilisation:>11.1%} {k.overtime_min:>12.0f} {k.partner_share:>7.1%} "
            f"{k.sla_kept:>2}/{k.sla_jobs:<3} {k.cost_eur:>9.0f} {first if first is not None else float('nan'):>7.2f} "
            f"{wall:>6.1f} {len(report.violations):>10}"
        )


if __name__ == "__main__":
    main()
