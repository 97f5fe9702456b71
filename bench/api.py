"""Load the API's two hottest read endpoints through a real uvicorn on loopback.

    .venv/bin/python -m bench.api [--clients 50] [--seconds 10]
    .venv/bin/python -m bench.api --database-url postgresql+psycopg://postgres@127.0.0.1:5432/dispatch_bench --workers 2
    .venv/bin/python -m bench.api --issue19 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_w1 \
        --reset-database

Starts ``python -m api`` on a free 127.0.0.1 port (a fresh SQLite file unless
``--database-url`` is given; that database should be empty, or be emptied with
``--reset-database``: it is migrated and seeded with the sample day) with
``--solvers`` solver worker processes beside it (``python -m dispatch.worker``; the API
only enqueues), plans the sample day and publishes the plan, then keeps
``--clients`` concurrent clients busy for ``--seconds`` (at most ``--max-requests``
requests) on each endpoint in turn:

- ``GET /v1/me/jobs?date=``: installer tokens of different technicians, round robin;
- ``GET /v1/plans/{id}``: the dispatcher polling the published plan (with its routes).

With ``--during-solve`` both are measured again while ``--solving`` other plan runs of
the day solve on the workers (with a time limit longer than the measurement; their
status and progress are printed before and after the load, and they are cancelled
after). ``--issue19`` measures the installer job list alone and during 2 solves in the
two configurations of issue 19, one after the other: SQLite with 1 API worker and 1
solver worker (solving both runs at once on 2 threads), and the PostgreSQL database of
``--database-url`` with 2 API workers and 2 solver workers; one table, and a target
line (p95 <= 100 ms while solving) per configuration; also with each client asking
once every ``--paced`` seconds (default 1), as phones refreshing a list do, rather than
back to back; and ``GET /health`` (no token, no database, no work) back to back, the
floor the HTTP stack and the client leave on this machine. Each installer token is used
once, alone, before the load.

Prints one row per endpoint: requests, p50/p95/p99 latency in ms, throughput in
req/s, errors (non-2xx or transport). The clients are one asyncio process (httpx); its
CPU use is printed too, since a saturated client understates the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from bench import seconds
from bench.gen_days import SAMPLE_DAY

ROOT = Path(__file__).resolve().parents[1]
# The served clock starts the working day before the sample file's date, so seeding
# places the sample day on the file's own date (2026-12-01) and every run is alike.
SERVER_NOW = "2026-11-30T12:00:00+02:00"
HOST = "127.0.0.1"  # loopback only


@dataclass
class Result:
    """What one endpoint did under load."""

    name: str
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    wall_s: float = 0.0
    client_cpu_s: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return len(self.latencies_s)

    def percentile_ms(self, q: float) -> float:
        """Nearest-rank percentile of the latencies, in ms."""
        if not self.latencies_s:
            return math.nan
        ordered = sorted(self.latencies_s)
        rank = max(1, math.ceil(q / 100 * len(ordered)))
        return ordered[rank - 1] * 1000

    @property
    def throughput(self) -> float:
        return (self.requests - self.errors) / self.wall_s if self.wall_s else math.nan


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def server(
    database_url: str,
    workers: int,
    token: str,
    log: Path,
    seed: bool = True,
    solvers: int = 1,
    solver_threads: int = 1,
) -> Iterator[str]:
    """``python -m api`` on a free loopback port (seeded with the sample day unless
    ``seed`` is False, no access log) with ``solvers`` solver worker processes beside it
    (``python -m dispatch.worker`` on the queue the database implies, each solving
    ``solver_threads`` runs at once; the API only enqueues); yields its base URL, stops
    them all on exit."""
    port = free_port()
    dropped = ("PORT", "HOST", "WEB_CONCURRENCY", "BROKER_URL", "SOLVER_THREADS")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["SOLVER_THREADS"] = str(solver_threads)
    env.update(DATABASE_URL=database_url, DISPATCH_ADMIN_TOKEN=token, DISPATCH_SEED_SAMPLES="1" if seed else "0")
    if seed:
        env["DISPATCH_NOW"] = SERVER_NOW
    env["PYTHONUNBUFFERED"] = "1"
    env["SOLVER_WORKERS"] = "0"
    cmd = [sys.executable, "-m", "api", "--host", HOST, "--port", str(port), "--workers", str(workers)]
    with log.open("wb") as sink:
        process = subprocess.Popen([*cmd, "--no-access-log"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    processes = [process]
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the server did not answer within 180 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        for i in range(solvers):  # after the API prepared the database
            with log.with_name(f"{log.stem}-worker{i}.log").open("wb") as sink:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "dispatch.worker"],
                        cwd=ROOT,
                        env=env,
                        stdout=sink,
                        stderr=subprocess.STDOUT,
                    )
                )
        yield base
    finally:
        for running in processes:
            running.terminate()
        for running in processes:
            try:
                running.wait(timeout=60)
            except subprocess.TimeoutExpired:
                running.kill()
                running.wait()


def wait_for_plan(client: httpx.Client, plan_id: int, headers: dict[str, str], timeout_s: float) -> dict[str, Any]:
    """Poll a plan run until it is done, failed or cancelled (SystemExit after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        plan: dict[str, Any] = client.get(f"/v1/plans/{plan_id}", headers=headers).raise_for_status().json()
        if plan["status"] in ("done", "failed", "cancelled"):
            return plan
        time.sleep(0.25)
    raise SystemExit(f"plan {plan_id} did not finish within {timeout_s:.0f} s")


def plan_and_publish(client: httpx.Client, admin: dict[str, str], day: str, time_limit_s: float) -> dict[str, Any]:
    """Plan ``day`` (``POST /v1/plans``), wait for it and publish it; returns the plan with its routes."""
    jobs = client.get("/v1/jobs", params={"date": day}, headers=admin).raise_for_status().json()
    if not jobs:
        raise SystemExit(f"no jobs on {day}: the database was not empty, so the sample day was not seeded")
    started = client.post("/v1/plans", json={"date": day, "time_limit_s": time_limit_s}, headers=admin)
    plan = wait_for_plan(client, started.raise_for_status().json()["id"], admin, time_limit_s + 120)
    if plan["status"] != "done":
        raise SystemExit(f"the plan ended {plan['status']}: {plan.get('error')}")
    client.post(f"/v1/plans/{plan['id']}/publish", headers=admin).raise_for_status()
    return plan


def installer_tokens(client: httpx.Client, admin: dict[str, str], technician_ids: list[str]) -> dict[str, str]:
    """A new installer token per technician (``POST /v1/tokens``), by technician id."""
    return {
        tech: client.post("/v1/tokens", json={"role": "installer", "technician_id": tech}, headers=admin)
        .raise_for_status()
        .json()["token"]
        for tech in technician_ids
    }


def setup_day(
    base: str, admin: dict[str, str], day: str, time_limit_s: float, installers: int
) -> tuple[int, list[str]]:
    """Plan and publish the day; returns the plan id and installer tokens of busy technicians."""
    with httpx.Client(base_url=base, timeout=60) as client:
        plan = plan_and_publish(client, admin, day, time_limit_s)
        busy = sorted((r for r in plan["routes"] if r["visits"]), key=lambda r: -len(r["visits"]))[:installers]
        tokens = list(installer_tokens(client, admin, [r["technician_id"] for r in busy]).values())
        # Each token's first use writes its last_used_at (dispatch.auth.authenticate); used
        # here once, one at a time, so that the load measures reads, as installers who
        # signed in before make them.
        for installer in tokens:
            me = client.get("/v1/me/jobs", params={"date": day}, headers={"Authorization": f"Bearer {installer}"})
            me.raise_for_status()
        visits = sum(len(r["visits"]) for r in plan["routes"])
        print(
            f"plan {plan['id']}: {visits} visits on {len([r for r in plan['routes'] if r['visits']])} routes, "
            f"{len(plan['unassigned'])} unassigned; {len(tokens)} installer tokens"
        )
        return int(plan["id"]), tokens


async def load(
    base: str,
    name: str,
    requests: list[tuple[str, dict[str, str]]],
    clients: int,
    seconds: float,
    max_requests: int,
    warmup_s: float,
    interval_s: float = 0.0,
) -> Result:
    """``clients`` concurrent loops over ``requests`` (path, headers) until time or count runs out;
    each client sends its next request as soon as it has an answer, or with ``interval_s``
    one request every ``interval_s`` (clients staggered over the interval; a late answer
    delays the next request, so an overloaded server is still not sent more).

    The first ``warmup_s`` carry the same load unrecorded (connections opened,
    caches warm). The load never pauses between warm-up and measurement, so no
    kept-alive connection idles into the server's 5 s keep-alive timeout (a
    request sent as the server closes its connection fails as a ReadError).
    """
    result = Result(name)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        started, cpu = time.monotonic(), time.process_time()
        measure_from = started + warmup_s
        stop_at = measure_from + seconds
        recorded = 0

        async def worker(index: int) -> None:
            nonlocal recorded
            turn = index
            if interval_s:
                await asyncio.sleep(interval_s * index / clients)
            while (now := time.monotonic()) < stop_at and recorded < max_requests:
                counted = now >= measure_from
                recorded += 1 if counted else 0
                path, headers = requests[turn % len(requests)]
                turn += clients
                began = time.perf_counter()
                try:
                    response = await client.get(path, headers=headers)
                    status, ok = str(response.status_code), response.is_success
                except httpx.HTTPError as exc:
                    status, ok = type(exc).__name__, False
                took = time.perf_counter() - began
                if counted:
                    result.latencies_s.append(took)
                    result.statuses[status] = result.statuses.get(status, 0) + 1
                    result.errors += 0 if ok else 1
                if interval_s > took:
                    await asyncio.sleep(max(0.0, min(interval_s - took, stop_at - time.monotonic())))

        await asyncio.gather(*(worker(i) for i in range(clients)))
        result.wall_s = time.monotonic() - measure_from
        result.client_cpu_s = (time.process_time() - cpu) * result.wall_s / (time.monotonic() - started)
    return result


def table(results: list[Result]) -> str:
    lines = [
        "| endpoint | requests | p50 ms | p95 ms | p99 ms | req/s | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.requests} | {r.percentile_ms(50):.1f} | {r.percentile_ms(95):.1f} | "
            f"{r.percentile_ms(99):.1f} | {r.throughput:.0f} | {r.errors} |"
        )
    return "\n".join(lines)


# Issue 19: the installer job list while 2 plan runs solve answers at p95 <= 100 ms.
TARGET_P95_MS = 100.0
JOB_LIST = "GET /v1/me/jobs"
# The floor: the same load on an endpoint that does nothing (no token, no database), so the
# run shows what the HTTP stack and the client alone allow on this machine.
FLOOR = "GET /health (no work: the floor)"
# (name, requests to cycle through, seconds between a client's requests; 0: back to back)
Phases = list[tuple[str, list[tuple[str, dict[str, str]]], float]]


@dataclass(frozen=True)
class Setup:
    """One server configuration: the database, API worker processes, solver worker
    processes and the runs each of those solves at once."""

    label: str
    database_url: str
    workers: int
    solvers: int
    solver_threads: int

    def describe(self) -> str:
        url = make_url(self.database_url)
        where = "SQLite" if url.get_backend_name() == "sqlite" else f"PostgreSQL {url.database}"
        threads = f" ({self.solver_threads} runs at once each)" if self.solver_threads > 1 else ""
        return f"{where}, {self.workers} API worker(s) + {self.solvers} solver worker(s){threads}"


@dataclass
class Measured:
    """A configuration's results, and whether its plan runs were running throughout the
    load measured during solving (None: none was measured)."""

    setup: Setup
    results: list[Result]
    solving_throughout: bool | None
    log: Path


DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/dispatch_bench"


def database_options(parser: argparse.ArgumentParser) -> None:
    """``--sqlite-only``, ``--database-url`` (default ``DEFAULT_PG_URL``, created or
    emptied by ``reset_database``) and ``--workers`` (API workers on PostgreSQL): the
    options of a benchmark run on SQLite and then on PostgreSQL."""
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument(
        "--database-url", default=DEFAULT_PG_URL, help="PostgreSQL database (created, or its public schema dropped)"
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers on PostgreSQL")


def reset_database(database_url: str) -> None:
    """Empty a PostgreSQL database (its public schema), creating it when it does not
    exist: the benchmark seeds it afresh. Exits with one line when the server refuses."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    url = make_url(database_url)
    name = url.database or ""
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"--database-url: {name!r} is not a plain database name")
    try:
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    except OperationalError as refused:
        reason = str(refused.orig).strip().splitlines()[0] if refused.orig else str(refused)
        raise SystemExit(f"--database-url: cannot prepare {url.render_as_string()}: {reason}") from None


def main(argv: list[str] | None = None) -> list[Measured]:
    """Run the benchmark, print its table, and return what it measured."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (1..500)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per endpoint (1..120)")
    parser.add_argument("--max-requests", type=int, default=50_000, help="cap on recorded requests per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0, help="unrecorded seconds of load before each measurement")
    parser.add_argument("--database-url", help="an empty database (default: a fresh SQLite file)")
    parser.add_argument("--reset-database", action="store_true", help="empty the PostgreSQL --database-url first")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (PostgreSQL for more than 1)")
    parser.add_argument(
        "--solvers", type=int, help="solver worker processes (default: 1 on SQLite, 2 on PostgreSQL, as in issue 19)"
    )
    parser.add_argument(
        "--solver-threads", type=int, help="runs each solver worker solves at once (default: enough for --solving)"
    )
    parser.add_argument("--time-limit", type=seconds, default=10.0, help="solver seconds for the published plan")
    parser.add_argument("--installers", type=int, default=20, help="installer tokens, one per busy technician")
    parser.add_argument("--during-solve", action="store_true", help="measure again while plan runs solve")
    parser.add_argument("--solving", type=int, default=2, help="plan runs solving during --during-solve (1..8)")
    parser.add_argument(
        "--paced",
        type=float,
        default=1.0,
        help="with --issue19, also measure the job list with each client asking once every PACED s (0: not)",
    )
    parser.add_argument(
        "--issue19",
        action="store_true",
        help="the job list alone and while 2 runs solve, on SQLite (1 API + 1 solver worker) and on the "
        "PostgreSQL --database-url (2 + 2); one table with the target",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 500 or not 1 <= args.seconds <= 120 or args.max_requests < 1:
        parser.error("--clients must be in 1..500, --seconds in 1..120, --max-requests at least 1")
    if not 0 <= args.warmup <= 30:
        parser.error("--warmup must be in 0..30")
    if not 1 <= args.solving <= 8 or (args.solvers is not None and args.solvers < 1):
        parser.error("--solving must be in 1..8, --solvers at least 1")
    if args.solver_threads is not None and args.solver_threads < 1:
        parser.error("--solver-threads must be at least 1")
    if not 0 <= args.paced <= 60:
        parser.error("--paced must be in 0..60 seconds")
    postgres = args.database_url is not None and make_url(args.database_url).get_backend_name() == "postgresql"
    if args.issue19 and not postgres:
        parser.error("--issue19 needs --database-url of an expendable PostgreSQL database")
    if args.reset_database and not postgres:
        parser.error("--reset-database empties a PostgreSQL --database-url; a SQLite run always starts afresh")
    day = json.loads(SAMPLE_DAY.read_text(encoding="utf-8"))["date"]
    token = secrets.token_urlsafe(24)
    measured: list[Measured] = []
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        sqlite = f"sqlite:///{Path(tmp) / 'bench.db'}"
        if args.issue19:
            args.during_solve = True
            setups = [_setup("SQLite 1+1", sqlite, 1, 1, args), _setup("PostgreSQL 2+2", args.database_url, 2, 2, args)]
        else:
            url = args.database_url or sqlite
            solvers = args.solvers or (2 if postgres else 1)
            setups = [_setup("", url, args.workers, solvers, args)]
        for setup in setups:  # before any measuring: a database that cannot be used fails at once
            if args.reset_database and make_url(setup.database_url).get_backend_name() == "postgresql":
                reset_database(setup.database_url)
        for setup in setups:
            log = Path(tmp) / f"server-{len(measured)}.log"
            measured.append(measure(setup, day, token, log, args))
        results = [r for m in measured for r in m.results]
        print()
        print(f"{args.clients} clients, {args.seconds:g} s per endpoint")
        for m in measured:
            print(f"  {m.setup.label or 'server'}: {m.setup.describe()}")
        print(table(results))
        for r in results:
            others = {k: v for k, v in r.statuses.items() if k != "200"}
            note = f", not 200: {others}" if others else ""
            print(f"  {r.name}: client CPU {r.client_cpu_s / r.wall_s:.0%} of one core{note}")
        for m in measured:
            print(target_line(m, args.solving))
        print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        for m in measured:
            if any(r.errors for r in m.results):
                print(f"\nserver log of {m.setup.label or 'the server'} (access log off, so errors only):")
                print(m.log.read_text(errors="replace")[-4000:])
    return measured


def _setup(label: str, url: str, workers: int, solvers: int, args: Any) -> Setup:
    solvers = args.solvers or solvers
    threads = args.solver_threads or math.ceil(args.solving / solvers)
    return Setup(label, url, workers, solvers, threads)


def target_line(m: Measured, solving: int) -> str:
    """Issue 19's target for the job list while plans solve: met, MISSED, or why not judged."""
    name = m.setup.label or m.setup.describe()
    during = [r for r in m.results if r.name.endswith(f"{JOB_LIST} ({solving} solving)")]
    if not during:
        return f"target {name}: job list p95 <= {TARGET_P95_MS:g} ms while plans solve: not measured"
    if not m.solving_throughout:
        return f"target {name}: not judged: the plan runs were not all running throughout the load"
    lines = []
    floor = [r for r in m.results if r.name.endswith(f"{FLOOR} ({solving} solving)")]
    for r in floor:
        lines.append(
            f"floor {name}: {FLOOR} back to back with {solving} plans solving: p95 {r.percentile_ms(95):.1f} ms, "
            f"{r.throughput:.0f} req/s"
        )
    for r in [*during, *(r for r in m.results if "a client (" in r.name)]:
        verdict = "met" if r.percentile_ms(95) <= TARGET_P95_MS and not r.errors else "MISSED"
        how = "back to back" if r is during[0] else "paced"
        lines.append(
            f"target {name}: job list p95 <= {TARGET_P95_MS:g} ms with {solving} plans solving ({how}): "
            f"{r.percentile_ms(95):.1f} ms, {r.errors} errors: {verdict}"
        )
    return "\n".join(lines)


def measure(setup: Setup, day: str, token: str, log: Path, args: Any) -> Measured:
    """Start the configuration's server and workers, plan and publish the day, and load
    the endpoints (the job list alone with ``--issue19``), idle and, with
    ``--during-solve``, while ``--solving`` plan runs solve."""
    admin = {"Authorization": f"Bearer {token}"}
    print(f"{setup.label or 'server'}: python -m api on {HOST}, {setup.describe()}", flush=True)
    with server(
        setup.database_url, setup.workers, token, log, solvers=setup.solvers, solver_threads=setup.solver_threads
    ) as base:
        plan_id, tokens = setup_day(base, admin, day, args.time_limit, args.installers)
        mine = [(f"/v1/me/jobs?date={day}", {"Authorization": f"Bearer {t}"}) for t in tokens]
        status = [(f"/v1/plans/{plan_id}", admin)]
        size = len(httpx.get(f"{base}{status[0][0]}", headers=admin, timeout=30).content)
        print(f"GET /v1/plans/{plan_id} answers {size / 1024:.0f} KiB (the full plan)")
        phases: Phases = [(JOB_LIST, mine, 0.0)]
        if args.issue19 and args.paced:
            phases.append((f"{JOB_LIST}, 1 per {args.paced:g} s a client", mine, args.paced))
        if args.issue19:
            phases.append((FLOOR, [("/health", {})], 0.0))
        if not args.issue19:
            phases.append(("GET /v1/plans/{id}", status, 0.0))
        prefix = f"{setup.label}: " if setup.label else ""
        phases = [(prefix + name, reqs, interval) for name, reqs, interval in phases]
        results = [
            asyncio.run(load(base, name, reqs, args.clients, args.seconds, args.max_requests, args.warmup, interval))
            for name, reqs, interval in phases
        ]
        throughout = None
        if args.during_solve:
            more, throughout = during_solve(base, admin, day, phases, args)
            results += more
    return Measured(setup, results, throughout, log)


def _describe_run(plan: dict[str, Any]) -> str:
    return (
        f"plan {plan['id']}: {plan['status']} ({plan.get('phase') or '-'}), progress {plan['progress']:.2f}, "
        f"attempt {plan.get('attempt', 1)}, worker {plan.get('worker') or '-'}"
    )


def during_solve(base: str, admin: dict[str, str], day: str, phases: Phases, args: Any) -> tuple[list[Result], bool]:
    """The same load while ``args.solving`` plan runs of the day solve on the workers, with a
    time limit longer than the whole measurement; the runs' status is printed before and
    after, and they are cancelled after. Returns the results and whether every run was
    ``running`` both before and after the load."""
    budget = len(phases) * (args.seconds + args.warmup) + 60
    ids: list[int] = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(args.solving):
            started = client.post("/v1/plans", json={"date": day, "time_limit_s": budget}, headers=admin)
            ids.append(int(started.raise_for_status().json()["id"]))
        deadline = time.monotonic() + 60
        while True:
            plans = [client.get(f"/v1/plans/{i}", headers=admin).raise_for_status().json() for i in ids]
            if all(p["status"] == "running" for p in plans) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        before = all(p["status"] == "running" for p in plans)
        print(f"before the load ({args.solving} solving):")
        for plan in plans:
            print("  " + _describe_run(plan))
    results = []
    for name, reqs, interval in phases:
        label = f"{name} ({args.solving} solving)"
        measured = load(base, label, reqs, args.clients, args.seconds, args.max_requests, args.warmup, interval)
        results.append(asyncio.run(measured))
    with httpx.Client(base_url=base, timeout=30) as client:
        plans = [client.get(f"/v1/plans/{i}", headers=admin).raise_for_status().json() for i in ids]
        after = all(p["status"] == "running" for p in plans)
        print("after the load:")
        for plan in plans:
            print("  " + _describe_run(plan))
        # A cancel is stored and reaches the run's worker process, whichever API worker takes it.
        for plan_id in ids:
            answer = client.post(f"/v1/plans/{plan_id}/cancel", headers=admin)
            if answer.status_code != 202:
                print(f"  cancel of plan {plan_id}: {answer.status_code} {answer.text[:200]}")
        for plan_id in ids:
            ended = wait_for_plan(client, plan_id, admin, 60)
            print(f"  plan {plan_id}: {ended['status']} after the cancel")
    if not (before and after):
        print(f"WARNING: the {args.solving} plan runs were not all running throughout the load")
    return results, before and after


if __name__ == "__main__":
    main()
