"""Dynamic technician routing: the TRSP day replayed with requests revealed as it runs
(Pillac et al.'s dynamic TRSP; issue 18, benchmark 1; docs/benchmarks-dynamic.md).

    .venv/bin/python -m bench.dynamic                        # all 29 instances, dod 30 and 70, 2 s a re-plan
    .venv/bin/python -m bench.dynamic --quick                # C101 R102 RC105, dod 30 and 70, 0.5 s a re-plan
    .venv/bin/python -m bench.dynamic --instances C101 R101 --dod 30 --budget 1 --csv runs.csv

Data (``--data``, shaped like ``../shared/benchmarks/trsp/pillac2013``): the static
instances in ``txt/``, the release date of every request in
``dyn/<instance>_rd_<dod>.txt`` (instance time units; -1: known at the start),
``bks_trsp.csv`` (the static best known: the bound with perfect information) and
``dyn_anchors_palns.csv`` (Pillac et al.'s dynamic pALNS: driven duration and
requests rejected per instance and dod).

The day runs from 0. At 0 the product plans the requests known then; at each
distinct release date after that the clock moves there, every visit whose
technician has left for it (departure = start - travel ≤ now) or that has started
is committed (technicians wait where they are and set out as late as the plan
allows: each planned visit as late as the rest of its route allows with the same
return home, the waiting strategy; a technician out, free and given nothing more
has gone home and is done for the day), and the product re-plans what is known and
not committed from that instant with ``solver.replan.remaining`` (technicians start
at their committed position, never before now, on the clock since they were free
again, with what is left of their parts; depot stops as in ``bench.trsp.run_ours``),
warm-started from the current plan with its depot stops, within ``--budget`` seconds.
A request released then that the re-plan does not serve is rejected for good. The
routes driven are the committed visits and the last plan. Their total duration
(departure from home to return home, instance units) is compared with
``bks_trsp.csv``; each driven route goes through the checker on the static problem
restricted to the requests served.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from bench import families, family, seconds
from bench.provenance import engine_version
from bench.trsp import DATA, DEPOT_STOP, QUICK, Plan, evaluate, short
from dispatch.trsp import SCALE, IntMatrix, TrspInstance, load_trsp, read_bks
from solver import RELOAD_ID, Job, Route, Solution, SolveOptions, Visit, check, prepare, problem_travel, solve
from solver.plan import WorkingRoute
from solver.replan import Position, remaining
from solver.schedule import latest_in

DODS = (30, 70)
BUDGET_S = 2.0
QUICK_BUDGET_S = 0.5
KNOWN_AT_START = -1


class DynamicDataError(ValueError):
    """A release-date or anchor file that is missing or not in the expected format."""


@dataclass(frozen=True)
class Stop:
    """One visit of a route (a request, or the depot under ``RELOAD_ID``): its node in
    the instance file and its times (solver units)."""

    job_id: str
    node: int
    start_s: int
    end_s: int


@dataclass
class DynamicOutcome:
    """One instance at one degree of dynamism, after the checker."""

    instance: str
    dod: int
    requests: int
    served: int
    rejected: int
    duration: float
    gap: float | None
    violations: int
    replans: int
    retimed: float | None
    wall_s: float
    # Requests accepted, then left out by a later re-plan (they stay known; counted
    # rejected only if the last plan leaves them out too).
    dropped: int = 0
    reloads: int = 0
    note: str = ""
    # For the tests: each technician's committed visits after every step, the step at
    # which each technician sent home went, and what was driven.
    committed_log: list[dict[str, tuple[Stop, ...]]] = field(default_factory=list, repr=False)
    home_step: dict[str, int] = field(default_factory=dict, repr=False)
    driven: dict[str, tuple[Stop, ...]] = field(default_factory=dict, repr=False)
    served_ids: frozenset[str] = frozenset()
    rejected_ids: frozenset[str] = frozenset()


def read_release_dates(path: Path) -> dict[str, int]:
    """Release date per request (job id = node number), instance units; -1 = known at the start."""
    if not path.is_file():
        raise DynamicDataError(f"{path}: no such file")
    out: dict[str, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0].isdigit() and fields[1].lstrip("-").isdigit():
            out[fields[0]] = int(fields[1])
    if not out:
        raise DynamicDataError(f"{path}: no 'ID RD' lines")
    return out


def release_file(data: Path, instance_stem: str, dod: int) -> Path:
    """``dyn/<instance>_rd_<dod>.txt`` of the instance whose txt file is ``<instance>.txt``."""
    return data / "dyn" / f"{instance_stem}_rd_{dod}.txt"


def read_anchors(path: Path) -> dict[tuple[str, int], tuple[float, int]]:
    """Pillac et al.'s dynamic results: (short name, dod) → (driven duration, rejected)."""
    out: dict[tuple[str, int], tuple[float, int]] = {}
    if not path.is_file():
        return out
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            out[(short(row["instance"]), int(row["dod"]))] = (float(row["final_duration"]), int(row["rejected_count"]))
    return out


# --- The simulation -------------------------------------------------------------------------------------------


def simulate(
    instance: TrspInstance, releases: dict[str, int], budget_s: float = BUDGET_S, seed: int = 0, dod: int = 0
) -> DynamicOutcome:
    """Replay the day of ``instance`` with requests known from their ``releases``
    (instance units, -1 or 0: known at the start), re-planning at each release date
    within ``budget_s`` (see the module doc)."""
    started = time.monotonic()
    problem = instance.problem  # with its depot, as bench.trsp.run_ours plans by default
    jobs = {j.id: j for j in problem.jobs}
    missing = set(jobs) - set(releases)
    if missing:
        raise DynamicDataError(f"{instance.name}: no release date for requests {sorted(missing, key=int)[:5]}")
    home = {instance.tech_id(k): t.id for k, t in enumerate(instance.technicians)}
    depot_node = instance.depot.id
    depot_location = problem.depot.location if problem.depot is not None else None
    d = instance.travel

    committed: dict[str, list[Stop]] = {t: [] for t in home}
    plan: dict[str, list[Stop]] = {t: [] for t in home}
    known: set[str] = set()
    rejected: set[str] = set()
    dropped: set[str] = set()
    log: list[dict[str, tuple[Stop, ...]]] = []
    gone: set[str] = set()
    home_step: dict[str, int] = {}

    def node_of(job_id: str) -> int:
        return depot_node if job_id == RELOAD_ID else int(job_id)

    def commit(now_s: int) -> None:
        for tech_id, stops in plan.items():
            done = committed[tech_id]
            while stops:
                prev = done[-1].node if done else home[tech_id]
                if stops[0].start_s - int(d[prev, stops[0].node]) > now_s:
                    break
                done.append(stops.pop(0))
            if done and not stops and done[-1].end_s <= now_s:
                gone.add(tech_id)  # out, free and given nothing more: went home, done for the day
                home_step.setdefault(tech_id, len(log))
        log.append({t: tuple(s) for t, s in committed.items()})

    def positions() -> dict[str, Position]:
        out = {}
        for tech_id, done in committed.items():
            if not done or tech_id in gone:
                continue
            last = done[-1]
            cut = max((k for k, s in enumerate(done) if s.job_id == RELOAD_ID), default=-1)
            used: dict[str, int] = {}
            for stop in done[cut + 1 :]:
                for kind, amount in jobs[stop.job_id].demand.items():
                    used[kind] = used.get(kind, 0) + amount
            where = depot_location if last.job_id == RELOAD_ID else jobs[last.job_id].location
            assert where is not None
            served = sum(s.job_id != RELOAD_ID for s in done)
            out[tech_id] = Position(where, last.end_s, served, used, reloaded=cut >= 0)
        return out

    def replan(now_s: int, new: set[str]) -> None:
        known.update(new)
        settled = {s.job_id for stops in committed.values() for s in stops}
        working = tuple(t for t in problem.technicians if t.id not in gone)
        day = dataclasses.replace(problem, technicians=working, jobs=tuple(j for j in problem.jobs if j.id in known))
        left = remaining(day, now_s, positions=positions(), settled=settled)
        warm = [WorkingRoute(t, tuple(s.job_id for s in stops)) for t, stops in plan.items() if stops]
        options = SolveOptions(time_limit_s=budget_s, seed=seed, initial_routes=warm or None)
        solution = solve(left, options, instance.provider)
        for tech_id in plan:
            plan[tech_id] = []
        for route in solution.routes:
            stops = [Stop(v.job_id, node_of(v.job_id), v.start_s, v.end_s) for v in route.visits]
            plan[route.technician_id] = wait_first(stops, route.end_s, home[route.technician_id], d, jobs)
        for u in solution.unassigned:
            if u.job_id in new:
                known.discard(u.job_id)
                rejected.add(u.job_id)
            else:
                dropped.add(u.job_id)

    dates = sorted({max(0, rd) for rd in releases.values() if rd >= KNOWN_AT_START})
    first = {j for j, rd in releases.items() if rd <= 0 and j in jobs}
    commit(0)
    replan(0, first)
    replans = 1
    for rd in dates:
        if rd <= 0:
            continue
        now_s = rd * SCALE
        commit(now_s)
        replan(now_s, {j for j, r in releases.items() if r == rd and j in jobs})
        replans += 1
    driven = {t: tuple(committed[t] + plan[t]) for t in home}
    log.append({t: tuple(s) for t, s in committed.items()})

    served_ids = frozenset(s.job_id for stops in driven.values() for s in stops if s.job_id != RELOAD_ID)
    rejected_ids = frozenset(j for j in jobs if j not in served_ids)
    duration, violations, notes = _measure(instance, driven)
    n_served = len(served_ids)
    n_visits = sum(s.job_id != RELOAD_ID for stops in driven.values() for s in stops)
    if n_visits != n_served:
        violations += 1
        notes.append(f"{n_visits - n_served} requests visited twice")
    index = {instance.tech_id(k): k for k in range(len(instance.technicians))}
    as_plan: Plan = {
        index[t]: [DEPOT_STOP if s.job_id == RELOAD_ID else int(s.job_id) - instance.requests[0].id for s in stops]
        for t, stops in driven.items()
        if stops
    }
    retimed = evaluate(instance, "ours", as_plan, 0.0, len(jobs), None).duration
    return DynamicOutcome(
        instance=short(instance.name),
        dod=dod,
        requests=len(jobs),
        served=n_served,
        rejected=len(rejected_ids),
        duration=duration,
        gap=None,
        violations=violations,
        replans=replans,
        retimed=retimed,
        wall_s=time.monotonic() - started,
        dropped=len(dropped),
        reloads=sum(s.job_id == RELOAD_ID for stops in driven.values() for s in stops),
        note="; ".join(notes),
        committed_log=log,
        home_step=home_step,
        driven=driven,
        served_ids=served_ids,
        rejected_ids=rejected_ids,
    )


def wait_first(
    stops: Sequence[Stop], back_s: int, home_node: int, travel: IntMatrix, jobs: Mapping[str, Job]
) -> list[Stop]:
    """The planned ``stops`` each as late as the rest of the route allows with the same
    return home (``back_s``, at ``home_node``; ``travel`` between nodes, solver units):
    technicians wait where they are and set out as late as they can, so a visit is
    committed as late as possible. Each stays inside its windows and never earlier
    than planned."""
    out: list[Stop] = []
    nxt_node, nxt_start = home_node, back_s
    for stop in reversed(stops):
        latest = nxt_start - int(travel[stop.node, nxt_node]) - (stop.end_s - stop.start_s)
        if stop.job_id != RELOAD_ID:
            fits = latest_in(jobs[stop.job_id].start_windows(), latest)
            latest = stop.start_s if fits is None else fits
        start = max(stop.start_s, latest)
        out.append(dataclasses.replace(stop, start_s=start, end_s=start + stop.end_s - stop.start_s))
        nxt_node, nxt_start = stop.node, start
    return out[::-1]


def _measure(instance: TrspInstance, driven: dict[str, tuple[Stop, ...]]) -> tuple[float, int, list[str]]:
    """Total duration of the driven routes (departure from home to return home, instance
    units) and the checker's violations on the static problem restricted to the requests served.

    Technicians wait where they are and leave just in time: each visit is reached at its
    start (departure = start - travel), as the simulation commits them.
    """
    problem = instance.problem
    served = {s.job_id for stops in driven.values() for s in stops}
    day = dataclasses.replace(problem, jobs=tuple(j for j in problem.jobs if j.id in served))
    d = instance.travel
    routes = []
    total = 0
    for k, tech in enumerate(instance.technicians):
        tech_id = instance.tech_id(k)
        stops = driven.get(tech_id, ())
        if not stops:
            shift = day.technicians[k].shift
            routes.append(Route(tech_id, (), shift.start_s, shift.start_s))
            continue
        visits, prev = [], tech.id
        for s in stops:
            leg = int(d[prev, s.node])
            visits.append(Visit(s.job_id, s.start_s, s.start_s, s.end_s, leg, leg))
            prev = s.node
        back_leg = int(d[prev, tech.id])
        depart = stops[0].start_s - int(d[tech.id, stops[0].node])
        back = stops[-1].end_s + back_leg
        total += back - depart
        routes.append(Route(tech_id, tuple(visits), depart, back, None, back_leg, back_leg))
    points, travel = problem_travel(day, instance.provider)
    report = check(day, Solution(tuple(routes), ()), points, travel)
    notes = []
    if report.violations:
        notes.append("violations: " + ", ".join(sorted({str(v.kind) for v in report.violations})))
    return total / SCALE, len(report.violations), notes


# --- Tables ---------------------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}%"


def table(
    outcomes: Sequence[DynamicOutcome], anchors: dict[tuple[str, int], tuple[float, int]], bks: dict[str, float]
) -> str:
    """A markdown table per family and degree of dynamism, with Pillac et al.'s pALNS
    on the same instances; the target: nothing rejected and a lower mean gap than theirs."""
    lines = [
        "| family | dod | instances | served / requests | rejected | violations | mean duration "
        "| mean gap to static BKS | pALNS mean gap | pALNS rejected | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    dods = sorted({o.dod for o in outcomes})
    for dod in dods:
        groups = [
            (f, [o for o in outcomes if o.dod == dod and family(o.instance) == f])
            for f in families(o.instance for o in outcomes)
        ]
        groups.append(("**all**", [o for o in outcomes if o.dod == dod]))
        for label, group in groups:
            if not group:
                continue
            gaps = [o.gap for o in group if o.gap is not None]
            theirs = [anchors[(o.instance, dod)] for o in group if (o.instance, dod) in anchors]
            their_gaps = [
                100.0 * (anchors[(o.instance, dod)][0] - bks[o.instance]) / bks[o.instance]
                for o in group
                if (o.instance, dod) in anchors and o.instance in bks
            ]
            ours_gap = statistics.fmean(gaps) if len(gaps) == len(group) else None
            their_gap = statistics.fmean(their_gaps) if len(their_gaps) == len(group) else None
            rejected = sum(o.rejected for o in group)
            if ours_gap is None or their_gap is None:
                target = "—"
            else:
                target = "met" if rejected == 0 and ours_gap < their_gap else "missed"
            lines.append(
                f"| {label} | {dod} | {len(group)} | {sum(o.served for o in group)} / {sum(o.requests for o in group)} "
                f"| {rejected} | {sum(o.violations for o in group)} "
                f"| {statistics.fmean(o.duration for o in group):.1f} | {_pct(ours_gap)} | {_pct(their_gap)} "
                f"| {sum(r for _, r in theirs) if len(theirs) == len(group) else '—'} | {target} |"
            )
    return "\n".join(lines)


CSV_COLUMNS = (
    "instance",
    "dod",
    "served",
    "rejected",
    "duration",
    "gap",
    "violations",
    "replans",
    "dropped",
    "reloads",
    "retimed_duration",
    "wall_s",
    "note",
)


def _csv_row(o: DynamicOutcome) -> list[object]:
    gap = "" if o.gap is None else f"{o.gap:.4f}"
    retimed = "" if o.retimed is None else f"{o.retimed:.2f}"
    return [
        *(o.instance, o.dod, o.served, o.rejected, f"{o.duration:.2f}", gap, o.violations, o.replans, o.dropped),
        *(o.reloads, retimed, f"{o.wall_s:.1f}", o.note),
    ]


# --- Command --------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the replay and print the table; 0 when every driven plan passed the checker."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="folder with txt/, dyn/, bks_trsp.csv (pillac2013)")
    parser.add_argument("--dod", type=int, nargs="+", default=list(DODS), help="degrees of dynamism (30 70)")
    parser.add_argument("--instances", nargs="+", default=None, help="names such as C101 RC105 (default: all)")
    parser.add_argument("--budget", type=seconds, default=None, help=f"seconds per re-plan ({BUDGET_S:g})")
    parser.add_argument("--quick", action="store_true", help=f"{', '.join(QUICK)} at {QUICK_BUDGET_S:g} s a re-plan")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--csv", type=Path, default=None, help="one row per instance and dod, written as they finish")
    args = parser.parse_args(argv)
    budget = args.budget if args.budget is not None else (QUICK_BUDGET_S if args.quick else BUDGET_S)

    txt = args.data / "txt"
    if not txt.is_dir():
        parser.error(
            f"--data {args.data}: no txt/ folder there; give a folder shaped like pillac2013 (txt/, dyn/, bks_trsp.csv)"
        )
    files = {short(p.name): p for p in sorted(txt.glob("*.txt"))}
    if not files:
        parser.error(f"--data {args.data}: txt/ holds no instance (*.txt)")
    names = [n.upper() for n in args.instances] if args.instances else (list(QUICK) if args.quick else list(files))
    missing = [n for n in names if n not in files]
    if missing:
        print(f"no such instances in {txt}: {', '.join(missing)}", file=sys.stderr)
        return 2
    for name in names:
        for dod in args.dod:
            path = release_file(args.data, files[name].stem, dod)
            if not path.is_file():
                print(f"no release dates for {name} at dod {dod}: {path}", file=sys.stderr)
                return 2
    bks_path = args.data / "bks_trsp.csv"
    bks = {short(k): v for k, v in read_bks(bks_path).items()} if bks_path.is_file() else {}
    if not bks:
        print(f"no best-known results in {bks_path}: the gaps show as —", file=sys.stderr)
    anchors = read_anchors(args.data / "dyn_anchors_palns.csv")
    # The compiled search is compiled once per machine (numba's cache), outside any timing.
    prepare(wait=True)

    started = time.monotonic()
    outcomes: list[DynamicOutcome] = []
    out: TextIO | None = args.csv.open("w", newline="") if args.csv is not None else None
    try:
        writer = csv.writer(out) if out is not None else None
        if writer is not None:
            writer.writerow(CSV_COLUMNS)
        for name in names:
            instance = load_trsp(files[name])
            for dod in args.dod:
                releases = read_release_dates(release_file(args.data, files[name].stem, dod))
                o = simulate(instance, releases, budget, args.seed, dod)
                if name in bks:
                    o.gap = 100.0 * (o.duration - bks[name]) / bks[name]
                outcomes.append(o)
                theirs = anchors.get((name, dod))
                their = f"pALNS {100.0 * (theirs[0] - bks[name]) / bks[name]:.2f}%" if theirs and name in bks else ""
                print(
                    f"{name:>6} dod {dod:>2}: served {o.served}/{o.requests}, rejected {o.rejected}, "
                    f"duration {o.duration:.1f}, gap {_pct(o.gap)} {their}, {o.replans} re-plans, "
                    f"{o.reloads} depot stops, violations {o.violations}, {o.wall_s:.0f} s {o.note}",
                    file=sys.stderr,
                    flush=True,
                )
                if writer is not None and out is not None:
                    writer.writerow(_csv_row(o))
                    out.flush()
    finally:
        if out is not None:
            out.close()

    print(
        f"\nDynamic TRSP (Pillac et al. 2013), {len(names)} instances, dod {' '.join(map(str, args.dod))}, "
        f"{budget:g} s a re-plan, seed {args.seed}, depot stops allowed, {engine_version()}, "
        f"{datetime.date.today().isoformat()} ({time.monotonic() - started:.0f} s in all)\n"
    )
    print(table(outcomes, anchors, bks))
    return 1 if any(o.violations for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
