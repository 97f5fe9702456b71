"""Plan runs per hour on the task engine: 20 regions' days, 1 and 2 solver worker processes.

    .venv/bin/python -m bench.workers                        # SQLite, PostgreSQL, Redis rows
    .venv/bin/python -m bench.workers --quick --sqlite-only  # 2 regions at 1 s (the test)

For each queue (a SQLite database with its queue file; PostgreSQL queueing in its own
tables; PostgreSQL with Redis as the broker) it empties the database, loads
``--regions`` generated regions' days through the product (``dispatch.seed.load_day_file``:
``catalog.put_technician`` and ``catalog.put_job``), then for each worker count of
``--workers``:

- starts that many ``python -m dispatch.worker`` processes (one solve at a time each),
  enqueues one plan run per region at once (``PlanRunner.submit`` in this process, as an
  API process does, each with ``--time-limit``) and watches the runs' rows every 50 ms
  until all have ended: wall time, runs per hour, queue wait (submitted → seen
  ``running``), overhead beyond the time limit (seen ``running`` → seen ended, minus the
  limit: loading the day, the checker, storing), retried runs;
- re-checks every stored plan: ``dispatch.edits.edit_plan`` with no moves times the
  stored routes again and runs the independent checker on them (the worker's ``solve``
  already refused any solution the checker rejects: ``solver.engine._checked``);
- with more than one worker: ``--cancels`` cancels sent from this process
  (``PlanRunner.cancel``, which only writes the request to the database) while a worker
  process solves, timed until the row says ``cancelled``; and ``--kills`` workers killed
  with SIGKILL mid-solve, timed until their run is ``running`` again on the other worker
  (workers and this process run with ``PLAN_LEASE_S=--lease``; a replacement worker is
  started after each kill).

Prints one table, with the load average, and the peak resident memory of the workers.
With ``--sample-rss`` a fresh worker also solves the sample Helsinki day (70
technicians, 180 jobs) and its peak RSS is printed. The days are the sample day's
generator (``data/samples/generate.py``, ``bench.gen_days``): region ``i``'s size is drawn
from ``--seed`` (15-25 technicians, 50-80 jobs), its day from ``--seed + i``; ids get the
region's prefix (``R03-T01``, ``R03-J0042``) since technician and job ids are global.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, col, select

from bench import seconds
from bench.gen_days import SAMPLE_DAY, generator
from dispatch import tasks
from dispatch.clock import SYSTEM_CLOCK
from dispatch.db import make_engine, migrate, safe_url, session_scope
from dispatch.edits import edit_plan
from dispatch.planning import REAP_S, PlanRunner, plan_contents
from dispatch.seed import load_day_file
from dispatch.tables import PlanRow
from dispatch.worker import DEFAULT_NICE

ROOT = Path(__file__).resolve().parents[1]
TZ = ZoneInfo("Europe/Helsinki")
# Every region's day keeps the generator's date; nothing a plan run does depends on today.
DAY = dt.date(2026, 12, 1)
DEFAULT_SEED = 20261219
TECHNICIANS = (15, 25)
JOBS = (50, 80)
POLL_S = 0.05
ENDED = ("done", "failed", "cancelled")
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_w1"
REDIS_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_w2"
REDIS_URL = "redis://127.0.0.1:6379/5"
# A run to cancel or to kill the worker of solves far longer than the measurement.
LONG_LIMIT_S = 300.0


# ------------------------------------------------------------------------------ the days


def region_name(index: int) -> str:
    """The region of the ``index``-th generated day (0-based): ``region-01``, ..."""
    return f"region-{index + 1:02d}"


def region_sizes(regions: int, seed: int) -> list[tuple[int, int]]:
    """(technicians, jobs) of each region, drawn uniformly from ``TECHNICIANS`` and ``JOBS``."""
    rng = random.Random(seed)
    return [(rng.randint(*TECHNICIANS), rng.randint(*JOBS)) for _ in range(regions)]


def _prefixed(day: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The day with every technician and job id (and every reference to one) prefixed."""

    def ref(value: str | None) -> str | None:
        return f"{prefix}{value}" if value else value

    technicians = [{**t, "id": f"{prefix}{t['id']}"} for t in day["technicians"]]
    jobs = []
    for job in day["jobs"]:
        renamed = {**job, "id": f"{prefix}{job['id']}"}
        for key in ("pinned_technician_id", "preferred_technician_id", "depends_on"):
            if key in renamed:
                renamed[key] = ref(renamed[key])
        jobs.append(renamed)
    return {**day, "technicians": technicians, "jobs": jobs}


def region_day(index: int, technicians: int, jobs: int, seed: int) -> dict[str, Any]:
    """Region ``index``'s day (docs/day-file.md), its ids prefixed ``R<nn>-``. The generator
    is made for larger days and cannot always place its pinned jobs in a small fleet: then
    the next seed (``+ 1000``) is tried, so the day stays a function of its arguments."""
    gen = generator()
    for attempt in range(20):
        try:
            day: dict[str, Any] = gen.make_helsinki_day(seed + index + 1000 * attempt, technicians, jobs)
            gen.validate(day, unservable=2)
        except (IndexError, ValueError):
            continue
        day["region"] = region_name(index)
        return _prefixed(day, f"R{index + 1:02d}-")
    raise RuntimeError(f"no valid {technicians}x{jobs} day for region {index} from seed {seed}")


def load_regions(engine: Engine, regions: int, seed: int, folder: Path) -> list[tuple[str, int, int]]:
    """Generate and store the regions' days on ``DAY``; returns (region, technicians, jobs) each."""
    out = []
    with session_scope(engine) as session:
        for index, (techs, jobs) in enumerate(region_sizes(regions, seed)):
            day = region_day(index, techs, jobs, seed)
            path = folder / f"{day['region']}.json"
            generator().write_json(day, path)
            load_day_file(session, path, TZ, day["region"], day=DAY, now=SYSTEM_CLOCK.now(), days_ahead=0)
            out.append((day["region"], techs, jobs))
    return out


# -------------------------------------------------------------------------- the workers


@dataclass
class Worker:
    """A ``python -m dispatch.worker`` process and its log."""

    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def peak_rss_mib(self) -> float:
        """The process's peak resident memory so far (VmHWM), in MiB; NaN once it exited."""
        return _proc_kib(self.process.pid, "VmHWM") / 1024

    def rss_mib(self) -> float:
        """The process's resident memory now (VmRSS), in MiB."""
        return _proc_kib(self.process.pid, "VmRSS") / 1024


def _proc_kib(pid: int, key: str) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return float(line.split()[1])
    return math.nan


@dataclass(frozen=True)
class Queue:
    """One configuration: a database and the broker its runs are queued on."""

    name: str
    database_url: str
    broker_url: str | None  # None: the queue the database implies


class Pool:
    """The worker processes of one configuration."""

    def __init__(self, queue: Queue, lease_s: float, folder: Path, settle_s: float, nice: int | None) -> None:
        self.queue, self.lease_s, self.folder, self.settle_s, self.nice = queue, lease_s, folder, settle_s, nice
        self.workers: list[Worker] = []
        self.started = 0

    def start(self, count: int = 1) -> list[Worker]:
        """Start ``count`` workers and wait until each consumes (plus ``settle_s`` for the
        compiled search to load from its cache in the background)."""
        drop = ("DISPATCH_NOW", "BROKER_URL", "SOLVER_THREADS", "SOLVER_WORKERS", "DATABASE_URL", "SOLVER_NICE")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env.update(
            DATABASE_URL=self.queue.database_url,
            BROKER_URL=self.queue.broker_url or "",
            PLAN_LEASE_S=f"{self.lease_s:g}",
            PYTHONUNBUFFERED="1",
        )
        if self.nice is not None:
            env["SOLVER_NICE"] = str(self.nice)
        fresh = []
        for _ in range(count):
            log = self.folder / f"worker-{self.started}.log"
            self.started += 1
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    [sys.executable, "-m", "dispatch.worker"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
                )
            fresh.append(Worker(process, log))
        deadline = time.monotonic() + 120
        for worker in fresh:
            while "Solver worker" not in worker.output():
                if worker.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"a solver worker did not start:\n{worker.output()[-3000:]}")
                time.sleep(0.1)
        time.sleep(self.settle_s)
        self.workers += fresh
        return fresh

    def by_identity(self, identity: str | None) -> Worker | None:
        """The worker whose ``host:pid`` is ``identity``."""
        pid = (identity or "").rpartition(":")[2]
        return next((w for w in self.workers if str(w.process.pid) == pid), None)

    def peak_rss_mib(self) -> float:
        """The largest peak RSS among the live workers, in MiB."""
        peaks = [w.peak_rss_mib() for w in self.workers if w.process.poll() is None]
        return max(peaks, default=math.nan)

    def kill(self, worker: Worker) -> None:
        worker.process.kill()  # SIGKILL: no chance to hand its run back
        worker.process.wait()
        self.workers.remove(worker)

    def stop(self) -> None:
        """SIGTERM every worker (they hand their runs back) and wait for them."""
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
        self.workers = []


# -------------------------------------------------------------------------- measuring


@dataclass
class Seen:
    """What the bench saw of one run: when it was submitted, first seen running, seen ended."""

    plan_id: int
    submitted: float
    running: float | None = None
    ended: float | None = None
    status: str = "queued"
    attempt: int = 1
    worker: str | None = None


def watch(engine: Engine, runs: dict[int, Seen], timeout_s: float, until: str = "ended") -> None:
    """Poll the runs' rows every ``POLL_S`` until each has ended (``until="ended"``) or been
    seen running (``"running"``); SystemExit after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        with Session(engine) as session:
            rows = session.exec(
                select(PlanRow.id, PlanRow.status, PlanRow.attempt, PlanRow.worker).where(
                    col(PlanRow.id).in_(list(runs))
                )
            ).all()
        now = time.monotonic()
        for plan_id, status, attempt, worker in rows:
            assert plan_id is not None
            seen = runs[plan_id]
            seen.status, seen.attempt, seen.worker = status, attempt, worker or seen.worker
            if status == "running" and seen.running is None:
                seen.running = now
            if status in ENDED and seen.ended is None:
                seen.ended = now
        if all(s.ended is not None or (until == "running" and s.running is not None) for s in runs.values()):
            return
        if now > deadline:
            stuck = {i: s.status for i, s in runs.items() if s.ended is None}
            raise SystemExit(f"runs did not get there within {timeout_s:.0f} s: {stuck}")
        time.sleep(POLL_S)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def recheck(engine: Engine, plan_id: int) -> int:
    """Hard-rule violations of a stored plan, timed again from its stored routes and run
    through the independent checker (``edit_plan`` with no moves, nothing stored); -1 when
    the plan stored no visits."""
    with Session(engine) as session:
        _, visits, _ = plan_contents(session, plan_id)
        if not visits:
            return -1
        result = edit_plan(session, plan_id, [], [], tz=TZ, now=SYSTEM_CLOCK.now())
        session.rollback()
        return len(result.violations)


@dataclass
class Row:
    """One line of the table: a queue and a number of workers."""

    queue: str
    workers: int
    runs: int
    statuses: dict[str, int]
    rechecked: int  # done plans with routes and no violation found by the checker
    wall_s: float
    waits_s: list[float]
    overheads_s: list[float]
    retried: int
    peak_rss_mib: float
    load: float
    cancels_s: list[float] = field(default_factory=list)
    recoveries_s: list[float] = field(default_factory=list)
    requeues_s: list[float] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.statuses.get("done", 0)

    @property
    def runs_per_hour(self) -> float:
        return self.runs / self.wall_s * 3600 if self.wall_s else math.nan


def throughput(
    engine: Engine, runner: PlanRunner, regions: list[str], time_limit_s: float, workers: int
) -> dict[int, Seen]:
    """Enqueue one run per region at once and watch them all end."""
    runs: dict[int, Seen] = {}
    for region in regions:
        submitted = time.monotonic()
        plan = runner.submit(DAY, region, time_limit_s)
        assert plan.id is not None
        runs[plan.id] = Seen(plan.id, submitted)
    waves = math.ceil(len(regions) / workers)
    watch(engine, runs, timeout_s=waves * (time_limit_s + 60) + 120)
    return runs


def cancel_latencies(engine: Engine, runner: PlanRunner, regions: list[str], count: int) -> list[float]:
    """Seconds from ``runner.cancel`` (this process) until a worker process's solve ends
    ``cancelled``, ``count`` times; each run is cancelled a moment into its solve."""
    out = []
    for i in range(count):
        plan = runner.submit(DAY, regions[i % len(regions)], LONG_LIMIT_S)
        assert plan.id is not None
        seen = {plan.id: Seen(plan.id, time.monotonic())}
        watch(engine, seen, timeout_s=120, until="running")
        time.sleep(0.5)  # into the search, past loading the day
        began = time.monotonic()
        runner.cancel(plan.id)
        watch(engine, seen, timeout_s=60)
        run = seen[plan.id]
        if run.status != "cancelled" or run.ended is None:
            raise SystemExit(f"plan {plan.id} ended {run.status}, not cancelled")
        out.append(run.ended - began)
    return out


def kill_recoveries(
    engine: Engine, runner: PlanRunner, pool: Pool, regions: list[str], count: int
) -> tuple[list[float], list[float]]:
    """``count`` times: SIGKILL the worker solving a run, time until the run is queued
    again and until it is ``running`` on another worker; a replacement worker is started
    after each. Returns (seconds to queued again, seconds to running again)."""
    requeued_s, running_s = [], []
    for i in range(count):
        plan = runner.submit(DAY, regions[i % len(regions)], LONG_LIMIT_S)
        assert plan.id is not None
        seen = {plan.id: Seen(plan.id, time.monotonic())}
        watch(engine, seen, timeout_s=120, until="running")
        time.sleep(0.5)
        victim = pool.by_identity(seen[plan.id].worker)
        if victim is None:
            raise SystemExit(f"plan {plan.id} runs on {seen[plan.id].worker}, not one of this bench's workers")
        pool.kill(victim)
        killed = time.monotonic()
        requeued = None
        deadline = killed + 4 * runner.lease_s + 60
        while True:
            with Session(engine) as session:
                row = session.get(PlanRow, plan.id)
                assert row is not None
                status, attempt = row.status, row.attempt
            now = time.monotonic()
            if attempt > 1 and requeued is None:
                requeued = now
            if status == "running" and attempt > 1:
                break
            if status in ENDED or now > deadline:
                raise SystemExit(f"plan {plan.id} after its worker was killed: {status}, attempt {attempt}")
            time.sleep(POLL_S)
        assert requeued is not None
        requeued_s.append(requeued - killed)
        running_s.append(now - killed)
        runner.cancel(plan.id)
        watch(engine, seen, timeout_s=60)
        pool.start(1)
    return requeued_s, running_s


def reset(queue: Queue) -> None:
    """Empty the configuration's database (and its Redis database)."""
    url = make_url(queue.database_url)
    if url.get_backend_name() == "postgresql":
        engine = make_engine(queue.database_url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    if queue.broker_url and queue.broker_url.startswith("redis"):
        import redis

        client = redis.Redis.from_url(queue.broker_url)
        client.flushdb()
        client.close()


@contextlib.contextmanager
def configured(queue: Queue, lease_s: float) -> Iterator[tuple[Engine, PlanRunner]]:
    """The migrated database and a runner that only enqueues and watches, as an API process."""
    engine = make_engine(queue.database_url)
    migrate(engine)
    runner = PlanRunner(engine, TZ, workers=0, broker_url=queue.broker_url, lease_s=lease_s)
    try:
        yield engine, runner
    finally:
        runner.shutdown()
        engine.dispose()


def measure(queue: Queue, args: argparse.Namespace, folder: Path) -> list[Row]:
    """Every worker count's row of one configuration."""
    reset(queue)
    rows: list[Row] = []
    with configured(queue, args.lease) as (engine, runner):
        loaded = load_regions(engine, args.regions, args.seed, folder)
        regions = [r for r, _, _ in loaded]
        sizes = ", ".join(f"{t}x{j}" for _, t, j in loaded)
        print(f"{queue.name}: {len(loaded)} regions loaded ({sizes}); queue {safe_url(runner.broker_url)}", flush=True)
        for count in args.workers:
            pool = Pool(queue, args.lease, folder, args.settle, args.nice)
            try:
                pool.start(count)
                began = time.monotonic()
                runs = throughput(engine, runner, regions, args.time_limit, count)
                ended = max(s.ended for s in runs.values() if s.ended is not None)
                statuses: dict[str, int] = {}
                for s in runs.values():
                    statuses[s.status] = statuses.get(s.status, 0) + 1
                row = Row(
                    queue=queue.name,
                    workers=count,
                    runs=len(runs),
                    statuses=statuses,
                    rechecked=sum(1 for i, s in runs.items() if s.status == "done" and recheck(engine, i) == 0),
                    wall_s=ended - began,
                    waits_s=[s.running - s.submitted for s in runs.values() if s.running is not None],
                    overheads_s=[
                        s.ended - s.running - args.time_limit
                        for s in runs.values()
                        if s.running is not None and s.ended is not None and s.status == "done"
                    ],
                    retried=sum(1 for s in runs.values() if s.attempt > 1),
                    peak_rss_mib=pool.peak_rss_mib(),
                    load=os.getloadavg()[0],
                )
                print(f"  {count} worker(s): {statuses} in {row.wall_s:.1f} s", flush=True)
                if count > 1:
                    row.cancels_s = cancel_latencies(engine, runner, regions, args.cancels)
                    row.requeues_s, row.recoveries_s = kill_recoveries(engine, runner, pool, regions, args.kills)
                    row.load = os.getloadavg()[0]
                rows.append(row)
            finally:
                pool.stop()
    return rows


def sample_day_rss(queue: Queue, args: argparse.Namespace, folder: Path) -> tuple[float, float, str]:
    """A fresh worker's resident memory before and at its peak while solving the sample
    Helsinki day once (MiB), and how the run ended."""
    with configured(queue, args.lease) as (engine, runner):
        with session_scope(engine) as session:
            load_day_file(session, SAMPLE_DAY, TZ, "helsinki", day=DAY, now=SYSTEM_CLOCK.now(), days_ahead=0)
        pool = Pool(queue, args.lease, folder, args.settle, args.nice)
        try:
            [worker] = pool.start(1)
            idle = worker.rss_mib()
            plan = runner.submit(DAY, "helsinki", args.time_limit)
            assert plan.id is not None
            seen = {plan.id: Seen(plan.id, time.monotonic())}
            watch(engine, seen, timeout_s=args.time_limit + 180)
            return idle, worker.peak_rss_mib(), seen[plan.id].status
        finally:
            pool.stop()


# ------------------------------------------------------------------------------ output


def _ms_pair(values: Sequence[float]) -> str:
    return f"{percentile(values, 50):.2f} / {max(values):.2f}" if values else "—"


def table(rows: list[Row], time_limit_s: float, lease_s: float, nice: int) -> str:
    """The results as a Markdown table."""
    # docs/task-engine.md: a dead worker's run is queued again within PLAN_LEASE_S + the
    # reaper's period, and picked up within the queue's poll after that.
    requeue_bound = lease_s + REAP_S
    bound = requeue_bound + tasks.MAX_POLL_S
    lines = [
        "| queue | workers | runs | done (re-checked) | wall s | runs/h | wait p50 / p95 s "
        "| overhead p50 / max s | retried | cancel p50 / max s | requeued p50 / max s "
        "| running again p50 / max s | peak RSS MiB | load 1 min |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.queue} | {r.workers} | {r.runs} | {r.done} ({r.rechecked}) | {r.wall_s:.1f} | "
            f"{r.runs_per_hour:.0f} | "
            f"{percentile(r.waits_s, 50):.1f} / {percentile(r.waits_s, 95):.1f} | "
            f"{percentile(r.overheads_s, 50):.2f} / {max(r.overheads_s, default=math.nan):.2f} | {r.retried} | "
            f"{_ms_pair(r.cancels_s)} | {_ms_pair(r.requeues_s)} | {_ms_pair(r.recoveries_s)} | "
            f"{r.peak_rss_mib:.0f} | {r.load:.1f} |"
        )
    lines.append("")
    lines.append(f"time limit {time_limit_s:g} s a run; PLAN_LEASE_S={lease_s:g}; workers at nice {nice}")
    for r in rows:
        if r.cancels_s:
            verdict = "met" if max(r.cancels_s) <= 1.0 else "MISSED"
            lines.append(f"target {r.queue}: cancel within 1 s (max {max(r.cancels_s):.2f} s): {verdict}")
        if r.recoveries_s:
            verdict = "met" if max(r.requeues_s) <= requeue_bound else "MISSED"
            lines.append(
                f"target {r.queue}: queued again within PLAN_LEASE_S + {REAP_S:g} s = {requeue_bound:g} s "
                f"(max {max(r.requeues_s):.2f} s): {verdict}"
            )
            verdict = "met" if max(r.recoveries_s) <= bound else "MISSED"
            lines.append(
                f"target {r.queue}: running again on the other worker within that + {tasks.MAX_POLL_S:g} s pick-up "
                f"= {bound:g} s (max {max(r.recoveries_s):.2f} s): {verdict}"
            )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regions", type=int, default=20, help="regions, one day and one plan run each (1..200)")
    parser.add_argument("--time-limit", type=seconds, default=10.0, help="solver seconds of every run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to measure")
    parser.add_argument("--cancels", type=int, default=10, help="cancels timed (with more than one worker)")
    parser.add_argument("--kills", type=int, default=3, help="workers killed mid-solve (with more than one worker)")
    parser.add_argument("--lease", type=float, default=5.0, help="PLAN_LEASE_S of the workers and this process")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds a new worker gets before runs arrive")
    parser.add_argument(
        "--nice", type=int, help=f"SOLVER_NICE of the workers (default: the worker's own, {DEFAULT_NICE})"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--sqlite-only", action="store_true", help="only the SQLite row(s)")
    parser.add_argument("--postgres-url", default=POSTGRES_URL, help="an expendable PostgreSQL database (emptied)")
    parser.add_argument("--redis-postgres-url", default=REDIS_POSTGRES_URL, help="another, for the Redis rows")
    parser.add_argument("--redis-url", default=REDIS_URL, help="the Redis broker (its database is emptied)")
    parser.add_argument("--sample-rss", action="store_true", help="also: peak RSS of a worker on the sample day")
    parser.add_argument("--quick", action="store_true", help="2 regions, 1 s, 2 cancels, 1 kill")
    args = parser.parse_args(argv)
    if args.quick:
        args.regions, args.time_limit, args.cancels, args.kills = 2, 1.0, 2, 1
    if not 1 <= args.regions <= 200 or args.time_limit <= 0 or args.cancels < 0 or args.kills < 0:
        parser.error("--regions must be in 1..200, --time-limit above 0, --cancels and --kills at least 0")
    if any(n < 1 for n in args.workers) or args.lease < 1 or args.settle < 0:
        parser.error("--workers counts must be at least 1, --lease at least 1 s, --settle at least 0")
    if args.nice is not None and not 0 <= args.nice <= 19:
        parser.error("--nice must be in 0..19")
    return args


def main(argv: Sequence[str] | None = None) -> list[Row]:
    """Run the benchmark, print its table, and return its rows."""
    args = parse_args(argv)
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        folder = Path(tmp)
        sqlite = Queue("SQLite (queue file)", f"sqlite:///{folder / 'bench.db'}", None)
        queues = [sqlite]
        if not args.sqlite_only:
            queues += [
                Queue("PostgreSQL (queue in DB)", args.postgres_url, None),
                Queue("PostgreSQL + Redis", args.redis_postgres_url, args.redis_url),
            ]
        for queue in queues:
            rows += measure(queue, args, folder)
        rss = None
        if args.sample_rss:
            rss = sample_day_rss(Queue("SQLite (sample day)", f"sqlite:///{folder / 'sample.db'}", None), args, folder)
    print()
    print(table(rows, args.time_limit, args.lease, DEFAULT_NICE if args.nice is None else args.nice))
    if rss is not None:
        idle, peak, status = rss
        print(
            f"sample day (70 technicians, 180 jobs, {args.time_limit:g} s, {status}): worker RSS {idle:.0f} MiB "
            f"after start, peak {peak:.0f} MiB"
        )
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return rows


if __name__ == "__main__":
    main()
