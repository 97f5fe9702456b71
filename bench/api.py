"""Load the API's two hottest read endpoints through a real uvicorn on loopback.

    .venv/bin/python -m bench.api [--clients 50] [--seconds 10]
    .venv/bin/python -m bench.api --database-url postgresql+psycopg://postgres@127.0.0.1:5432/dispatch_bench --workers 2

Starts ``python -m api`` on a free 127.0.0.1 port (a fresh SQLite file unless
``--database-url`` is given; that database should be empty: it is migrated and
seeded with the sample day), plans the sample day and publishes the plan, then
keeps ``--clients`` concurrent clients busy for ``--seconds`` (at most
``--max-requests`` requests) on each endpoint in turn:

- ``GET /v1/me/jobs?date=``: installer tokens of different technicians, round robin;
- ``GET /v1/plans/{id}``: the dispatcher polling the published plan (with its routes).

With ``--during-solve`` both are measured again while another plan of the day
is being solved in the server. Prints one row per endpoint: requests,
p50/p95/p99 latency in ms, throughput in req/s, errors (non-2xx or transport).
The clients are one asyncio process (httpx); its CPU use is printed too, since a
saturated client understates the server.
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

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DAY = ROOT / "data" / "samples" / "helsinki-day.json"
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
    database_url: str, workers: int, token: str, log: Path, seed: bool = True, solvers: int = 1
) -> Iterator[str]:
    """``python -m api`` on a free loopback port (seeded with the sample day unless
    ``seed`` is False, no access log) with ``solvers`` solver worker processes beside it
    (``python -m dispatch.worker`` on the queue the database implies; the API only
    enqueues); yields its base URL, stops them all on exit."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "HOST", "WEB_CONCURRENCY", "BROKER_URL")}
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
) -> Result:
    """``clients`` concurrent loops over ``requests`` (path, headers) until time or count runs out.

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
                if counted:
                    result.latencies_s.append(time.perf_counter() - began)
                    result.statuses[status] = result.statuses.get(status, 0) + 1
                    result.errors += 0 if ok else 1

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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (1..500)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per endpoint (1..120)")
    parser.add_argument("--max-requests", type=int, default=50_000, help="cap on recorded requests per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0, help="unrecorded seconds of load before each measurement")
    parser.add_argument("--database-url", help="an empty database (default: a fresh SQLite file)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (PostgreSQL for more than 1)")
    parser.add_argument("--time-limit", type=float, default=10.0, help="solver seconds for the published plan")
    parser.add_argument("--installers", type=int, default=20, help="installer tokens, one per busy technician")
    parser.add_argument("--during-solve", action="store_true", help="measure again while a plan is being solved")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 500 or not 1 <= args.seconds <= 120 or args.max_requests < 1:
        parser.error("--clients must be in 1..500, --seconds in 1..120, --max-requests at least 1")
    if not 0 <= args.warmup <= 30:
        parser.error("--warmup must be in 0..30")
    day = json.loads(SAMPLE_DAY.read_text(encoding="utf-8"))["date"]
    token = secrets.token_urlsafe(24)
    admin = {"Authorization": f"Bearer {token}"}
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        log = Path(tmp) / "server.log"
        shown = url.split("@")[-1] if "@" in url else url
        print(f"server: python -m api --workers {args.workers} on {HOST}, database {shown}")
        with server(url, args.workers, token, log) as base:
            plan_id, tokens = setup_day(base, admin, day, args.time_limit, args.installers)
            mine = [(f"/v1/me/jobs?date={day}", {"Authorization": f"Bearer {t}"}) for t in tokens]
            status = [(f"/v1/plans/{plan_id}", admin)]
            size = len(httpx.get(f"{base}{status[0][0]}", headers=admin, timeout=30).content)
            print(f"GET /v1/plans/{plan_id} answers {size / 1024:.0f} KiB (the full plan)")
            phases: list[tuple[str, list[tuple[str, dict[str, str]]]]] = [
                ("GET /v1/me/jobs", mine),
                ("GET /v1/plans/{id}", status),
            ]
            results = [
                asyncio.run(load(base, name, reqs, args.clients, args.seconds, args.max_requests, args.warmup))
                for name, reqs in phases
            ]
            if args.during_solve:
                results += during_solve(base, admin, day, phases, args)
        print()
        print(f"{args.clients} clients, {args.seconds:g} s per endpoint, {args.workers} worker(s), {shown}")
        print(table(results))
        for r in results:
            others = {k: v for k, v in r.statuses.items() if k != "200"}
            note = f", not 200: {others}" if others else ""
            print(f"  {r.name}: client CPU {r.client_cpu_s / r.wall_s:.0%} of one core{note}")
        if any(r.errors for r in results):
            print("\nserver log (access log off, so errors only):\n" + log.read_text(errors="replace")[-4000:])


def during_solve(
    base: str, admin: dict[str, str], day: str, phases: list[tuple[str, list[tuple[str, dict[str, str]]]]], args: Any
) -> list[Result]:
    """The same load while the server solves another plan of the day; the run is cancelled after."""
    budget = 2 * (args.seconds + args.warmup) + 30
    with httpx.Client(base_url=base, timeout=30) as client:
        plan_id = (
            client.post("/v1/plans", json={"date": day, "time_limit_s": budget}, headers=admin)
            .raise_for_status()
            .json()["id"]
        )
        while client.get(f"/v1/plans/{plan_id}", headers=admin).json()["status"] == "queued":
            time.sleep(0.1)
    results = [
        asyncio.run(load(base, f"{name} (solving)", reqs, args.clients, args.seconds, args.max_requests, args.warmup))
        for name, reqs in phases
    ]
    # With several workers only the one running the plan can cancel it: try on fresh connections.
    for _ in range(50):
        with httpx.Client(base_url=base, timeout=30) as client:
            if client.post(f"/v1/plans/{plan_id}/cancel", headers=admin).status_code == 202:
                break
            if client.get(f"/v1/plans/{plan_id}", headers=admin).json()["status"] != "running":
                break
    return results


if __name__ == "__main__":
    main()
