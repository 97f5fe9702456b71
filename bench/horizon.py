"""A planning horizon: a generated working week planned in one solve, day by day, and by hand.

    .venv/bin/python -m bench.horizon                 # 70 × 900 and 200 × 3,000 over five days
    .venv/bin/python -m bench.horizon --quick         # 20 × 200, a smoke run
    .venv/bin/python -m bench.horizon --sizes 70x900 --time-limit 50

*The week* (``make_week``, seeded, ``--seed``, default 20261201): N people with
homes in a 30 × 20 km box of the Helsinki area, working days 0–4 08:00–16:00
with a 30-minute lunch between 11:00 and 13:00 and up to one hour of overtime;
each person-day is, with 8 % chance, an absence: a day off (4 %) or a half day
(08:00–12:00 or 12:00–16:00, no lunch: 4 %). Everyone measures; 70 % install
(level 1 or 2). M jobs, in this mix:

- 15 % of the jobs are measure → install pairs: the measure (1 h, days 0–1,
  preferred day 0) and its install (3 h, install level 1, days 1–4, preferred
  day 2) waiting at least 20 h after the measure ends (at most 96 h);
- 4 % two-day installs (5 h a day, install level 2, any two consecutive
  working days of one person in days 0–4, preferred first day random);
- 2 % installs waiting for a measure done in an earlier plan (ended the day
  before the week at 15:00, 40 h lag, ``done_by`` its person: continuity);
- the rest single visits (repairs and small installs) of 45–120 min: 40 % fixed
  to a day, 60 % over a range of two to four days; the preferred day is the
  range's first; 30 % with a morning (08–12) or afternoon (12–16) window;
  priority 3, 15 % priority 2.

*Plans compared* (one time budget per week, ``--time-limit``, default 50 s):

- (a) **week**: the product planning the week in one solve (``solver.horizon``);
- (b) **day by day**: the product planning each day alone in date order, the
  week's budget split evenly; a job not served is carried to its next day in
  range; a dependent enters a day once its predecessor is planned on an earlier
  day (its end fixed; lags kept against it); a two-day install is committed on
  the day its first day is planned (its second day pinned to that person's next
  working day, planned first on that day);
- (c) **by hand**: ``solver.baseline.plan_by_hand`` on the same day-by-day loop.

Every plan is joined into one week and goes through the checker against the
week problem (multi-day parts unpinned: the rule checked is ``multi_day``).
Columns: *served* horizon jobs (a two-day job counts once, when whole); *days
away* from the preferred day summed over served jobs (*late*: after it);
*dep. viol.* the checker's ``dependency`` violations; *same fitter* the installs
whose measure is in the week too that went to the person who measured (of those
served with their measure: continuity); *viol.* all violations;
*travel km*, *overtime h*; *first s* (a) the first answer of the one solve;
*wall s*; *peak MB* (each plan runs in its own process: ``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import random
import resource
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench import seconds
from bench.gen_days import parse_size
from solver import (
    Break,
    CostProfile,
    Dependency,
    HaversineProvider,
    Job,
    JobKind,
    Location,
    Problem,
    Shift,
    Solution,
    SolveOptions,
    Technician,
    TimeWindow,
    Unassigned,
    ViolationKind,
    check,
    prepare,
    problem_travel,
)
from solver import horizon as hz
from solver.baseline import plan_by_hand
from solver.problem import DAY_S
from solver.solution import ReasonCode, Route

H = 3600
DAYS = 5
DEFAULT_SEED = 20261201
SIZES = ("70x900", "200x3000")
QUICK = ("20x200",)
LIMIT_S = 50.0


@dataclasses.dataclass(frozen=True)
class Week:
    """The generated week: people and jobs for ``solver.horizon.build``."""

    people: tuple[hz.Person, ...]
    jobs: tuple[hz.HorizonJob, ...]


def make_week(n_people: int, n_jobs: int, seed: int = DEFAULT_SEED) -> Week:
    """The week described in the module doc: same sizes and seed, same week."""
    rng = random.Random(seed)

    def spot() -> Location:
        return Location(60.15 + rng.random() * 0.18, 24.65 + rng.random() * 0.55)

    people = []
    for i in range(n_people):
        skills = {"measure": 1}
        if rng.random() < 0.7:
            skills["install"] = rng.choice([1, 2])
        tech = Technician(
            f"P{i:03d}",
            spot(),
            Shift(0, 1),
            skills=skills,
            cost=CostProfile(per_hour_cents=3500, per_km_cents=50, overtime_per_hour_cents=5000),
        )
        days = []
        for d in range(DAYS):
            roll = rng.random()
            if roll < 0.04:
                continue
            if roll < 0.08:
                half = rng.choice([(8 * H, 12 * H), (12 * H, 16 * H)])
                days.append(hz.WorkDay(d, Shift(*half), max_overtime_s=H))
            else:
                days.append(hz.WorkDay(d, Shift(8 * H, 16 * H, Break(11 * H, 13 * H, 1800)), max_overtime_s=H))
        people.append(hz.Person(tech, tuple(days)))
    jobs: list[hz.HorizonJob] = []
    k = 0
    while len(jobs) < n_jobs:
        roll = rng.random()
        jid = f"J{k:04d}"
        k += 1
        if roll < 0.075 and len(jobs) + 2 <= n_jobs:
            m = Job(f"{jid}m", spot(), H, kind=JobKind.MEASURE, skills={"measure": 1})
            jobs.append(hz.HorizonJob(m, 0, 1, preferred_day=0))
            after = Dependency(m.id, 20 * H, 96 * H)
            install = Job(f"{jid}i", spot(), 3 * H, skills={"install": 1}, after=after)
            jobs.append(hz.HorizonJob(install, 1, 4, preferred_day=2))
        elif roll < 0.115:
            job = Job(jid, spot(), 5 * H, skills={"install": 2})
            jobs.append(hz.HorizonJob(job, 0, 4, preferred_day=rng.randint(0, 3), days=2))
        elif roll < 0.135:
            done_by = people[rng.randrange(n_people)].technician.id
            job = Job(jid, spot(), 2 * H, skills={"install": 1}, after=Dependency(f"{jid}m0", 40 * H))
            jobs.append(hz.HorizonJob(job, 0, 4, preferred_day=1, after_end_s=-DAY_S + 15 * H, done_by=done_by))
        else:
            first = rng.randrange(DAYS)
            last = first if rng.random() < 0.4 else min(DAYS - 1, first + rng.randint(1, 3))
            windows: tuple[TimeWindow, ...] = ()
            if rng.random() < 0.3:
                windows = (rng.choice([TimeWindow(8 * H, 12 * H), TimeWindow(12 * H, 16 * H)]),)
            kind = rng.choice([JobKind.REPAIR, JobKind.INSTALL])
            job = Job(
                jid,
                spot(),
                rng.choice([45, 60, 90, 120]) * 60,
                kind=kind,
                skills={"install": 1} if kind is JobKind.INSTALL else {"measure": 1},
                windows=windows,
                priority=2 if rng.random() < 0.15 else 3,
            )
            jobs.append(hz.HorizonJob(job, first, last, preferred_day=first))
    return Week(tuple(people), tuple(jobs))


def _check_problem(week: Week, week_problem: Problem) -> Problem:
    """The week problem with multi-day parts unpinned and given their job's whole range:
    any plan's days are checked by the ``multi_day`` rule, not against the one solve's
    choice of days."""
    by_id = {hj.job.id: hj for hj in week.jobs}

    def free(job: Job) -> Job:
        if job.part is None:
            return job
        hj = by_id[job.part.job_id]
        days = range(hj.first_day, hj.last_day + 1)
        return dataclasses.replace(job, pinned_technician_id=None, windows=hz.windows_on(hj, days))

    return dataclasses.replace(week_problem, jobs=tuple(free(j) for j in week_problem.jobs))


# --- (a) the week in one solve ------------------------------------------------------------------------------


def plan_week(week: Week, limit_s: float) -> tuple[Solution, float | None]:
    """The week planned in one solve; and when its first answer came (s)."""
    started = time.monotonic()
    first: list[float] = []
    h = hz.build(week.people, week.jobs, DAYS)
    solution = hz.solve(
        h, SolveOptions(time_limit_s=limit_s), first_answer=lambda _: first.append(time.monotonic() - started)
    )
    return solution, first[0] if first else None


# --- (b), (c) day by day ------------------------------------------------------------------------------------


Planner = Callable[[hz.Horizon, float], Solution]


def _product(h: hz.Horizon, limit_s: float) -> Solution:
    return hz.solve(h, SolveOptions(time_limit_s=limit_s))


def _by_hand(h: hz.Horizon, limit_s: float) -> Solution:
    del limit_s
    solution = plan_by_hand(h.problem)
    return dataclasses.replace(solution, unassigned=solution.unassigned + h.held)


def plan_day_by_day(week: Week, limit_s: float, planner: Planner) -> Solution:
    """Each day planned alone in date order (module doc), joined into one week's solution."""
    by_id = {hj.job.id: hj for hj in week.jobs}
    ends: dict[str, int] = {}  # job id -> planned end (horizon time): fixed for later days
    who: dict[str, str] = {}  # job id -> person
    served: set[str] = set()
    committed: dict[int, list[hz.HorizonJob]] = {}  # day -> second days of two-day jobs
    routes: dict[str, Route] = {}
    for d in range(DAYS):
        people = [
            hz.Person(p.technician, tuple(w for w in p.days if w.day == d or (w.day > d and _next(p, d) == w.day)))
            for p in week.people
        ]
        people = [p for p in people if p.days]
        today: list[hz.HorizonJob] = list(committed.get(d, []))
        for hj in week.jobs:
            job = hj.job
            if job.id in served or not hj.first_day <= d <= hj.last_day:
                continue
            if hj.days > 1:
                if d > hj.last_day - 1:
                    continue
                today.append(dataclasses.replace(hj, first_day=d, last_day=hj.last_day, preferred_day=None))
                continue
            dep = job.after
            if dep is not None and hj.after_end_s is None:
                if dep.job_id not in ends:
                    continue  # its predecessor is not planned on an earlier day
                today.append(
                    dataclasses.replace(
                        hj,
                        first_day=d,
                        last_day=d,
                        preferred_day=None,
                        after_end_s=ends[dep.job_id],
                        done_by=who[dep.job_id],
                    )
                )
                continue
            today.append(dataclasses.replace(hj, first_day=d, last_day=d, preferred_day=None))
        h = hz.build(people, today, DAYS)
        # Only the day's own technicians plan single jobs; the next working days are
        # there for the second day of a two-day job started today.
        solution = planner(h, limit_s / DAYS)
        in_plan = solution.served_job_ids()
        for r in solution.routes:
            _, day = hz.person_day(h.problem, r.technician_id)
            for v in r.visits:
                job = h.problem.job(v.job_id)
                if job.part is not None and job.part.index == 1:
                    if hz.part_id(job.part.job_id, 0) not in in_plan:
                        continue  # by hand: a second day without its first is not committed
                    second = by_id[job.part.job_id]
                    # Committed: planned first on its day (priority 0), on the same person.
                    pinned = dataclasses.replace(
                        second.job,
                        id=v.job_id,
                        priority=0,
                        pinned_technician_id=hz.person_day(h.problem, r.technician_id)[0],
                    )
                    committed.setdefault(day, []).append(hz.HorizonJob(pinned, day, day))
                    continue
                if day != d:
                    raise AssertionError("a single job went to another day")
                owner = hz.job_of(h.problem, v.job_id)
                served.add(owner)
                ends[owner] = max(ends.get(owner, v.end_s), v.end_s)
                who[owner] = hz.person_day(h.problem, r.technician_id)[0]
            if day == d:
                routes[r.technician_id] = r
    return _joined(week, routes)


def _next(person: hz.Person, d: int) -> int | None:
    later = [w.day for w in person.days if w.day > d]
    return min(later) if later else None


def _joined(week: Week, routes: dict[str, Route]) -> Solution:
    """One week's solution from the days' routes; every job of the week not in a route
    listed unassigned."""
    problem = hz.build(week.people, week.jobs, DAYS).problem
    all_routes = tuple(routes.get(t.id, Route(t.id, (), t.shift.start_s, t.shift.start_s)) for t in problem.technicians)
    done = {v.job_id for r in all_routes for v in r.visits}
    unassigned = tuple(
        Unassigned(j.id, ReasonCode.DAY_FULL, "Not planned on any day of its range.")
        for j in problem.jobs
        if j.id not in done
    )
    return Solution(all_routes, unassigned)


# --- Measuring ----------------------------------------------------------------------------------------------


def measure(size: str, mode: str, seed: int, limit_s: float) -> dict[str, Any]:
    """One plan of one week, in this process: its figures (module doc)."""
    prepare(wait=True)
    n_people, n_jobs = parse_size(size, least=(1, 1))
    week = make_week(n_people, n_jobs, seed)
    started = time.monotonic()
    first: float | None = None
    if mode == "a week":
        solution, first = plan_week(week, limit_s)
    elif mode == "b day by day":
        solution = plan_day_by_day(week, limit_s, _product)
    else:
        solution = plan_day_by_day(week, limit_s, _by_hand)
    wall = time.monotonic() - started
    week_problem = hz.build(week.people, week.jobs, DAYS)
    problem = _check_problem(week, week_problem.problem)
    held = {u.job_id for u in week_problem.held}
    planned = dataclasses.replace(solution, unassigned=tuple(u for u in solution.unassigned if u.job_id not in held))
    points, travel = problem_travel(problem, HaversineProvider())
    report = check(problem, planned, points, travel)
    return {"size": size, "mode": mode, "wall_s": wall, "first_s": first, **_figures(problem, planned, report)}


def _figures(problem: Problem, solution: Solution, report: Any) -> dict[str, Any]:
    techs = {t.id: t for t in problem.technicians}
    served_parts: dict[str, int] = {}
    away = late = 0
    for r in solution.routes:
        day = techs[r.technician_id].day or 0
        for v in r.visits:
            job = problem.job(v.job_id)
            owner = job.part.job_id if job.part is not None else job.id
            served_parts[owner] = served_parts.get(owner, 0) + 1
            if job.preferred_day is not None:
                away += abs(day - job.preferred_day)
                late += max(0, day - job.preferred_day)
    counts: dict[str, int] = {}
    for j in problem.jobs:
        owner = j.part.job_id if j.part is not None else j.id
        counts[owner] = counts.get(owner, 0) + 1
    whole = sum(1 for owner, n in served_parts.items() if n == counts[owner])
    person = {v.job_id: techs[r.technician_id].person for r in solution.routes for v in r.visits}
    pairs = [(j.id, j.after.job_id) for j in problem.jobs if j.after is not None and j.after.job_id in person]
    served_pairs = [(a, b) for a, b in pairs if a in person]
    return {
        "jobs": len(counts),
        "served": whole,
        "days_away": away,
        "days_late": late,
        "dep_violations": report.kinds.get(ViolationKind.DEPENDENCY, 0),
        "continuity": (sum(1 for a, b in served_pairs if person[a] == person[b]), len(served_pairs)),
        "violations": len(report.violations),
        "travel_km": sum(r.distance_m for r in solution.routes) / 1000,
        "overtime_h": sum(max(0, r.end_s - techs[r.technician_id].shift.end_s) for r in solution.routes if r.visits)
        / H,
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _run(args: tuple[str, str, int, float]) -> dict[str, Any]:
    return measure(*args)


def table(rows: Sequence[dict[str, Any]]) -> str:
    """A markdown table, one line per week and plan."""
    lines = [
        "| week | plan | served | days away | late | dep. viol. | same fitter | viol. | travel km | overtime h "
        "| first s | wall s | peak MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        first = "—" if r["first_s"] is None else f"{r['first_s']:.1f}"
        lines.append(
            f"| {r['size']} | {r['mode']} | {r['served']}/{r['jobs']} | {r['days_away']} | {r['days_late']} | "
            f"{r['dep_violations']} | {r['continuity'][0]}/{r['continuity'][1]} | {r['violations']} | "
            f"{r['travel_km']:,.0f} | {r['overtime_h']:.1f} | {first} | "
            f"{r['wall_s']:.1f} | {r['peak_mb']:,} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Plan every week three ways, each in its own process; print the table. 0 when
    no plan of the product broke a rule."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=None, help=f"PEOPLExJOBS (default {' '.join(SIZES)})")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK[0]} with a 10 s budget")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--time-limit", type=seconds, default=None, help=f"seconds per week (default {LIMIT_S:g})")
    args = parser.parse_args(argv)
    sizes = args.sizes or (QUICK if args.quick else SIZES)
    for size in sizes:
        try:
            parse_size(size, least=(1, 1))
        except ValueError:
            parser.error(f"--sizes: {size!r} is not PEOPLExJOBS with at least 1 of each (e.g. 10x120)")
    limit = args.time_limit or (10.0 if args.quick else LIMIT_S)
    rows = []
    ctx = multiprocessing.get_context("spawn")
    for size in sizes:
        for mode in ("a week", "b day by day", "c by hand"):
            with ctx.Pool(1) as pool:
                row = pool.apply(_run, ((size, mode, args.seed, limit),))
            rows.append(row)
            print(table([row]).splitlines()[-1], flush=True)
    print()
    print(f"Budget {limit:g} s a week (day by day: {limit / DAYS:g} s a day), seed {args.seed}.")
    print(table(rows))
    bad = [r for r in rows if r["mode"] != "c by hand" and r["violations"]]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
