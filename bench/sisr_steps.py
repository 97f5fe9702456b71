"""Speed of the compiled ruin-and-recreate search: seconds for a fixed number of steps.

    .venv/bin/python -m bench.sisr_steps                      # R201, 20,000 steps
    .venv/bin/python -m bench.sisr_steps --instances R201 C101 --steps 50000

Each instance is read as ``bench.solomon`` reads it, the kernel builds its first
plan from seed 1, and the steps then run at a fixed temperature schedule (the
same on every run), so two runs of the same code give the same plan and the same
totals: a change that should not alter the search can be checked to keep the
trajectory (the totals) while the seconds show its speed. The table gives, per
instance, the seconds, steps per second, the final and best totals and how many
steps improved the best.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.solomon import DATA
from dispatch.vrplib import load_vrplib
from solver import prepare, problem_travel
from solver.objective import coefficients
from solver.search import sisr, sisr_kernel


def run(path: Path, steps: int) -> tuple[float, int, int, int]:
    """(seconds, current total, best total, improvements) of ``steps`` steps on ``path``."""
    instance = load_vrplib(path)
    problem = instance.problem
    points, travel = problem_travel(problem, instance.provider)
    coeffs = coefficients(problem, travel)
    entries = sisr._entries(problem, list(problem.jobs), {})
    data = sisr._data(problem, entries, points, travel, coeffs)
    search = sisr._Run(data, entries, np.arange(len(entries), dtype=np.int64))
    search.place_fixed(entries)
    sisr_kernel.seed_rng(1)
    search.step(0, 0.0, 0.0)
    served, cost = search.served_cost()
    per_job = cost / max(1, served)
    started = time.perf_counter()
    total, best, improved = search.step(steps, per_job, 0.01 * per_job)
    return time.perf_counter() - started, total, best, improved


def main(argv: Sequence[str] | None = None) -> int:
    """Print one row per instance."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", nargs="+", default=["R201"], help="Solomon names such as R201 C101")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--data", type=Path, default=DATA, help="folder with solomon/vrp")
    args = parser.parse_args(argv)
    prepare(wait=True)
    print("| instance | steps | seconds | steps/s | total | best | improvements |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in args.instances:
        path = args.data / "solomon" / "vrp" / f"{name}.vrp"
        if not path.exists():
            parser.error(f"no instance {name} in {path.parent}")
        seconds, total, best, improved = run(path, args.steps)
        rate = args.steps / seconds
        print(f"| {name} | {args.steps:,} | {seconds:.2f} | {rate:,.0f} | {total:,} | {best:,} | {improved} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
