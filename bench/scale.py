"""Scale: generated realistic days of 50 × 400, 200 × 2,000 and 500 × 5,000, planned at 10 s and 60 s.

    .venv/bin/python -m bench.scale                         # all three sizes, 10 s and 60 s
    .venv/bin/python -m bench.scale --quick                 # 50 × 400 only
    .venv/bin/python -m bench.scale --sizes 200x2000 --time-limits 10 60
    .venv/bin/python -m bench.scale --sizes 500x5000 --areas auto   # about 500 jobs an area, two at a time

Days come from data/samples/generate.py through bench/gen_days.py (seed
20261201 unless ``--seed``): the sample day's mix of measures, installs and
repairs, skills with levels, hard and preferred windows, lunch breaks, crews
of two, priorities 1–3, releases, deadlines, pinned and preferred technicians,
in the Helsinki metro area; the travel model is the engine's default
(HaversineProvider).

Each (size, time limit) runs in its own process, so the peak memory
(``ru_maxrss``, largest process) is that run's alone. Columns:

- *load*: person-time on site of all jobs / paid shift time less lunch (travel
  not counted): above 100 % not every job can be served, whatever the plan;
- *matrices s*: until the engine reports its model phase (travel matrices,
  pre-checks, coefficients done);
- *first solution s*: until the engine's progress callback first reports a
  solution (the OR-Tools search accepted the construction or found its own),
  from the start of ``solve``;
- *served*: jobs in routes / all jobs, and the share of the *servable* jobs
  (those the pre-checks do not rule out: no skill, too late, ...);
- *on site*: person-time on site in the plan / paid shift time less lunch
  (what share of the paid day is work; travel takes most of the rest);
- *cost €*: what the plan costs to run plus soft-window and preference
  penalties (the objective below the served-job tiers);
- *violations*: our checker (``solver.check``) on the returned plan, run again
  after the solve with fresh matrices.

With ``--areas K`` (``auto``: one area per 500 jobs) the day is cut into K
areas by longitude (technicians by home, each area's share of technicians in
proportion to its job minutes; pinned jobs go to their technician's area),
each area is planned by its own process (two at a time on this machine, the
engine's own second search process turned off) with the time limit × 2 / K,
and the joined plan is checked as one day. The first solution is then the
moment every area has one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import seconds
from bench.gen_days import DEFAULT_SEED, day_path, parse_size
from bench.provenance import engine_version
from dispatch.dayfile import load_day
from solver import (
    HaversineProvider,
    Problem,
    Progress,
    SearchSettings,
    Solution,
    SolveOptions,
    check,
    prepare,
    problem_travel,
    solve,
)

SIZES = ("50x400", "200x2000", "500x5000")
QUICK_SIZES = ("50x400",)
AREA_JOBS = 500  # --areas auto: about this many jobs an area
LIMITS = (10.0, 60.0)
WORKERS = 2  # this machine's cores
PRECHECK_REASONS = {"no_skill", "no_crew", "pinned_unavailable", "released_too_late", "no_shift_in_window", "too_long"}


@dataclass
class AreaResult:
    """One area's plan and when its search found a first solution (seconds after ``started``)."""

    solution: Solution
    started: float
    model_s: float | None
    first_s: float | None
    wall_s: float


def solve_timed(problem: Problem, time_limit_s: float, seed: int, portfolio: bool = True) -> AreaResult:
    """Solve with a progress callback that records when the model and the first solution were ready.

    ``portfolio=False`` turns off the engine's second search process (areas already use both cores).
    """
    marks: dict[str, float] = {}
    started = time.monotonic()
    search = SearchSettings()
    if not portfolio and hasattr(search, "portfolio"):
        search = dataclasses.replace(search, portfolio=False)

    def progress(p: Progress) -> None:
        now = time.monotonic() - started
        marks.setdefault("model", now)  # the first report comes once the matrices and pre-checks are done
        if p.solutions >= 1:
            marks.setdefault("first", now)

    solution = solve(problem, SolveOptions(time_limit_s=time_limit_s, seed=seed, search=search), progress=progress)
    wall = time.monotonic() - started
    return AreaResult(solution, started, marks.get("model"), marks.get("first"), wall)


def split_areas(problem: Problem, areas: int) -> list[Problem]:
    """Cut a day into ``areas`` longitude strips of about equal job minutes.

    Each strip gets the technicians based in it, as many as its share of the
    job minutes (technicians sorted by home longitude); a pinned job goes with
    its technician, and a job nobody in its strip is qualified for (or not
    enough people for a crew) goes to the nearest strip where enough are.
    Every job and technician is in exactly one area.
    """
    if areas <= 1:
        return [problem]
    jobs = sorted(problem.jobs, key=lambda j: (j.location.lon, j.id))
    total = sum(j.duration_s * j.crew_size for j in jobs)
    cuts: list[list[Any]] = [[] for _ in range(areas)]
    acc = 0
    for job in jobs:
        k = min(areas - 1, acc * areas // max(1, total))
        cuts[k].append(job)
        acc += job.duration_s * job.crew_size
    techs = sorted(problem.technicians, key=lambda t: (t.start.lon, t.id))
    shares = [sum(j.duration_s * j.crew_size for j in c) for c in cuts]
    counts = [round(len(techs) * s / max(1, total)) for s in shares]
    counts[-1] = len(techs) - sum(counts[:-1])
    tech_area: dict[str, int] = {}
    pos = 0
    for k, count in enumerate(counts):
        for tech in techs[pos : pos + count]:
            tech_area[tech.id] = k
        pos += count
    staff: list[list[Any]] = [[] for _ in range(areas)]
    for tech in problem.technicians:
        staff[tech_area[tech.id]].append(tech)

    def staffed(job: Any, k: int) -> bool:
        return sum(t.has_skills(job.skills) for t in staff[k]) >= job.crew_size

    area_jobs: list[list[Any]] = [[] for _ in range(areas)]
    for k, cut in enumerate(cuts):
        for job in cut:
            pinned = job.pinned_technician_id
            home = tech_area[pinned] if pinned is not None else k
            if pinned is None and not staffed(job, home):
                near = sorted(range(areas), key=lambda a: (abs(a - k), a))
                home = next((a for a in near if staffed(job, a)), k)
            area_jobs[home].append(job)
    out = []
    for k in range(areas):
        members = {t for t, a in tech_area.items() if a == k}
        area_techs = tuple(t for t in problem.technicians if t.id in members)
        preferred_ok = {t.id for t in area_techs}
        fixed = []
        for job in area_jobs[k]:
            if job.preferred_technician_id is not None and job.preferred_technician_id not in preferred_ok:
                # The preferred technician works in another area: the wish cannot be met here.
                job = _replace_job(job, preferred_technician_id=None)
            fixed.append(job)
        out.append(Problem(area_techs, tuple(sorted(fixed, key=lambda j: j.id)), problem.weights))
    return out


def _replace_job(job: Any, **changes: Any) -> Any:
    return dataclasses.replace(job, **changes)


def _solve_area(args: tuple[Problem, float, int]) -> AreaResult:
    problem, limit, seed = args
    return solve_timed(problem, limit, seed, portfolio=False)


def run_one(path: Path, time_limit_s: float, seed: int, areas: int) -> dict[str, Any]:
    """Plan one day file once (in this process) and measure it; the JSON-able figures."""
    t0 = time.monotonic()
    day = load_day(path)
    problem = day.problem
    load_s = time.monotonic() - t0
    started = time.monotonic()
    if areas <= 1:
        result = solve_timed(problem, time_limit_s, seed)
        solution, model_s, first_s = result.solution, result.model_s, result.first_s
        area_walls = [result.wall_s]
    else:
        parts = split_areas(problem, areas)
        limit = time_limit_s * min(WORKERS, areas) / areas
        with ProcessPoolExecutor(max_workers=min(WORKERS, areas)) as pool:
            results = list(pool.map(_solve_area, [(p, limit, seed) for p in parts]))
        routes = {r.technician_id: r for res in results for r in res.solution.routes}
        unassigned = {u.job_id: u for res in results for u in res.solution.unassigned}
        solution = Solution(
            tuple(routes[t.id] for t in problem.technicians),
            tuple(unassigned[j.id] for j in problem.jobs if j.id in unassigned),
        )
        # Seconds from the start of the whole run until every area had reached the mark
        # (time.monotonic is one clock for all processes on Linux).
        models = [None if r.model_s is None else r.started + r.model_s - started for r in results]
        firsts = [None if r.first_s is None else r.started + r.first_s - started for r in results]
        model_s = None if None in models else max(m for m in models if m is not None)
        first_s = None if None in firsts else max(f for f in firsts if f is not None)
        area_walls = [r.wall_s for r in results]
    wall_s = time.monotonic() - started
    solve_peak_mb = _peak_mb()

    report = check(problem, solution, *problem_travel(problem, HaversineProvider()))
    reasons = Counter(str(u.code) for u in solution.unassigned)
    objective = report.objective
    served = len(problem.jobs) - len(solution.unassigned)
    on_site = sum(v.end_s - v.start_s for r in solution.routes for v in r.visits)
    servable = len(problem.jobs) - sum(n for r, n in reasons.items() if r in PRECHECK_REASONS)
    return {
        "technicians": len(problem.technicians),
        "load": round(work_load(problem), 2),
        "on_site_share": round(on_site / max(1, paid_time(problem)), 3),
        "jobs": len(problem.jobs),
        "time_limit_s": time_limit_s,
        "areas": areas,
        "load_s": round(load_s, 2),
        "model_s": None if model_s is None else round(model_s, 2),
        "first_s": None if first_s is None else round(first_s, 2),
        "wall_s": round(wall_s, 2),
        "area_walls_s": [round(w, 2) for w in area_walls],
        "served": served,
        "servable": servable,
        "cost_eur": round((objective.cost + objective.soft_window_penalty + objective.preference_penalty) / 100, 2),
        "violations": len(report.violations),
        "unassigned": dict(sorted(reasons.items())),
        "peak_solve_mb": solve_peak_mb,
        "peak_mb": _peak_mb(),
    }


def paid_time(problem: Problem) -> int:
    """Shift time less lunch of all technicians, in seconds."""
    return sum(
        t.shift.end_s - t.shift.start_s - (t.shift.lunch.duration_s if t.shift.lunch else 0)
        for t in problem.technicians
    )


def work_load(problem: Problem) -> float:
    """Person-time on site of all jobs (crews counted per member) / paid shift time less lunch."""
    return sum(j.duration_s * j.crew_size for j in problem.jobs) / max(1, paid_time(problem))


def _peak_mb() -> int:
    """The largest resident set of this process or any of its finished children, in MB (Linux: kB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024)


def _cell(value: float | None, fmt: str = ".1f") -> str:
    return "—" if value is None else format(value, fmt)


def table(rows: Sequence[dict[str, Any]]) -> str:
    """A markdown table, one line per size and time limit."""
    lines = [
        "| day | load | areas | limit s | matrices s | first solution s | served | of servable | on site | cost € "
        "| wall s | peak MB (solve) | peak MB (with re-check) | violations |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['size']} | | {r['areas']} | {r['time_limit_s']:g} | failed: {r['error']} |")
            continue
        lines.append(
            f"| {r['technicians']} × {r['jobs']} | {r['load']:.0%} | {r['areas']} | {r['time_limit_s']:g} | "
            f"{_cell(r['model_s'])} | "
            f"{_cell(r['first_s'])} | {r['served']}/{r['jobs']} ({r['served'] / r['jobs']:.1%}) | "
            f"{r['served'] / max(1, r['servable']):.1%} | {r['on_site_share']:.0%} | {r['cost_eur']:,.0f} | "
            f"{r['wall_s']:.1f} | "
            f"{r['peak_solve_mb']:,} | {r['peak_mb']:,} | {r['violations']} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every size and time limit in its own process and print the table; 0 when no plan broke a rule."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=None, help=f"TECHNICIANSxJOBS (default {' '.join(SIZES)})")
    parser.add_argument("--time-limits", type=seconds, nargs="+", default=list(LIMITS))
    parser.add_argument("--quick", action="store_true", help="50x400 only")
    parser.add_argument(
        "--areas", default="1", help=f"split each day into this many areas; auto: one per {AREA_JOBS} jobs (1)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the generated days")
    parser.add_argument("--days", type=Path, default=Path("out") / "days", help="where generated days are kept")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--memory-limit-gb", type=float, default=12.0, help="address-space cap a run, 0: none (12)")
    parser.add_argument(
        "--timeout-factor", type=float, default=4.0, help="a run is stopped after limit × this + 120 s (4)"
    )
    parser.add_argument("--logs", type=Path, default=None, help="keep each run's engine log in this folder")
    parser.add_argument("--run", type=Path, default=None, help=argparse.SUPPRESS)  # child: one day file
    args = parser.parse_args(argv)
    if args.areas != "auto" and not (args.areas.isdigit() and int(args.areas) >= 1):
        parser.error(f"--areas: {args.areas!r} is not a whole number from 1 up, or auto")
    for size in args.sizes or ():
        try:
            parse_size(size)
        except ValueError as exc:
            parser.error(f"--sizes: {exc}")
    # The compiled search is compiled once per machine (numba's cache), outside any timing.
    prepare(wait=True)

    if args.run is not None:
        if args.memory_limit_gb > 0:
            cap = int(args.memory_limit_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr, format="%(relativeCreated)8.0f ms %(name)s: %(message)s"
        )
        row = run_one(args.run, args.time_limits[0], 0, int(args.areas))
        row["engine"] = engine_version()
        print(json.dumps(row))
        return 0
    sizes = args.sizes or list(QUICK_SIZES if args.quick else SIZES)
    args.days.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for size in sizes:
        t0 = time.monotonic()
        n_techs, n_jobs = parse_size(size)
        path = day_path(n_techs, n_jobs, args.days, args.seed)
        areas = max(1, round(n_jobs / AREA_JOBS)) if args.areas == "auto" else int(args.areas)
        print(f"{size}: day {path} ({time.monotonic() - t0:.1f} s to generate or find)", file=sys.stderr)
        for limit in args.time_limits:
            cmd = [sys.executable, "-m", "bench.scale", "--run", str(path), "--time-limits", str(limit)]
            cmd += ["--areas", str(areas), "--memory-limit-gb", str(args.memory_limit_gb)]
            timeout = limit * args.timeout_factor + 120
            row: dict[str, Any] = {"size": size, "areas": areas, "time_limit_s": limit}
            t0 = time.monotonic()
            try:
                done = subprocess.run(
                    cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, timeout=timeout
                )
                stdout, stderr = done.stdout, done.stderr
                if done.returncode != 0:
                    tail = stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
                    row["error"] = f"{tail[0][:160]} after {time.monotonic() - t0:.0f} s"
                else:
                    row = json.loads(stdout.strip().splitlines()[-1])
            except subprocess.TimeoutExpired as exc:
                stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
                row["error"] = f"no plan after {timeout:.0f} s (stopped)"
            if args.logs is not None:
                args.logs.mkdir(parents=True, exist_ok=True)
                (args.logs / f"{size}-{limit:g}s-areas{areas}.log").write_text(stderr)
            rows.append(row)
            print(f"  {limit:g} s: {json.dumps(row)}", file=sys.stderr, flush=True)
    print()
    when = time.strftime("%Y-%m-%d")
    print(f"Scale, generated days (seed {args.seed}), {WORKERS} cores, {engine_version()}, {when}\n")
    print(table(rows))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 1 if any("error" in r or r["violations"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
