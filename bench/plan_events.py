"""Following a plan run: polling ``GET /v1/plans/{id}`` against its event stream.

    .venv/bin/python -m bench.plan_events [--time-limit 5] [--followers 1 10 50] [--database-url ...]

Starts ``python -m api`` on a free loopback port (``bench.api.server``: a fresh SQLite
file unless ``--database-url`` names an empty database; the sample day, 70
technicians and 180 jobs). Then, one run after the other, plans the sample day with
``--time-limit`` seconds while it is followed:

- by one client polling ``GET /v1/plans/{id}`` every ``--poll`` s (the board before the
  stream: 0.3 s);
- by N clients each reading ``GET /v1/plans/{id}/events`` to its ``end``, for each N of
  ``--followers``.

One row per way of following: the states each follower saw (mean), how long after the
run was stored finished a follower learned it (p50 and max over followers, in ms; the
run's ``finished_at`` against the client's clock, both this machine's, through the
offset ``GET /v1/clock`` gives), the requests the followers made, the API process's CPU
seconds from the POST until every follower was done, and the jobs the run served (the
solve shares the API's two cores with its followers). The load average is printed
before and after: the machine may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import seconds
from bench.api import HOST, SAMPLE_DAY, server

TICK_S = os.sysconf("SC_CLK_TCK")
HEADER = "| following | followers | states seen | told after end p50/max ms | requests | API CPU s | served | status |"


@dataclass
class Row:
    """One way of following one run."""

    name: str
    followers: int
    states_seen: float
    told_p50_ms: float
    told_max_ms: float
    requests: int
    server_cpu_s: float
    served: int
    status: str


def server_pid(port: int) -> int | None:
    """The process serving ``port`` (``python -m api ... --port PORT``), read from /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"api" in argv and b"--port" in argv and str(port).encode() in argv:
            return int(entry.name)
    return None


def cpu_s(pid: int | None) -> float:
    """User and system CPU seconds of ``pid`` so far (NaN when unknown)."""
    if pid is None:
        return math.nan
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK_S


async def poll(client: httpx.AsyncClient, plan_id: int, every_s: float) -> tuple[list[Any], float, int]:
    """Poll until the run ends: the (status, progress) seen, when the end was seen, requests."""
    seen: list[Any] = []
    requests = 0
    while True:
        plan = (await client.get(f"/v1/plans/{plan_id}")).raise_for_status().json()
        requests += 1
        state = (plan["status"], plan["progress"])
        if not seen or seen[-1] != state:
            seen.append(state)
        if plan["status"] in ("done", "failed", "cancelled"):
            return seen, time.time(), requests
        await asyncio.sleep(every_s)


async def stream(client: httpx.AsyncClient, plan_id: int) -> tuple[list[Any], float, int]:
    """Read the run's event stream to its ``end``: the states seen, when ``end`` came, 1 request."""
    seen: list[Any] = []
    kind = ""
    async with client.stream("GET", f"/v1/plans/{plan_id}/events") as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and kind == "progress":
                seen.append(json.loads(line.split(":", 1)[1]))
            elif line.startswith("data:") and kind == "end":
                return seen, time.time(), 1
    raise SystemExit(f"the event stream of plan {plan_id} closed without `end`")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1] if ordered else math.nan


async def follow_one_run(
    base: str, token: str, day: str, limit: float, name: str, followers: int, poll_s: float, pid: int | None
) -> Row:
    """Post one run and follow it by ``followers`` clients; the row of figures."""
    headers = {"Authorization": f"Bearer {token}"}
    timeout = httpx.Timeout(60, read=limit + 120)
    limits = httpx.Limits(max_connections=followers + 5)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout, limits=limits) as client:
        before = time.time()
        served_now = dt.datetime.fromisoformat((await client.get("/v1/clock")).raise_for_status().json()["now"])
        offset_s = served_now.timestamp() - (before + time.time()) / 2  # the served clock runs from DISPATCH_NOW
        cpu_before = cpu_s(pid)
        body = {"date": day, "time_limit_s": limit}
        plan_id = (await client.post("/v1/plans", json=body)).raise_for_status().json()["id"]
        if name.startswith("poll"):
            results = [await poll(client, plan_id, poll_s)]
        else:
            results = await asyncio.gather(*(stream(client, plan_id) for _ in range(followers)))
        cpu = cpu_s(pid) - cpu_before
        final = (await client.get(f"/v1/plans/{plan_id}")).raise_for_status().json()
    finished = dt.datetime.fromisoformat(final["finished_at"]).timestamp() - offset_s
    told_ms = [(seen_at - finished) * 1000 for _, seen_at, _ in results]
    served = len({v["job_id"] for r in final.get("routes") or [] for v in r["visits"]})
    return Row(
        name,
        followers,
        sum(len(seen) for seen, _, _ in results) / len(results),
        percentile(told_ms, 50),
        max(told_ms),
        sum(requests for _, _, requests in results),
        cpu,
        served,
        final["status"],
    )


def main(argv: list[str] | None = None) -> list[Row]:
    """Follow one run per way of following and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit", type=seconds, default=5.0, help="solver seconds of each run")
    parser.add_argument("--followers", type=int, nargs="+", default=[1, 10, 50], help="stream followers per run")
    parser.add_argument("--poll", type=float, default=0.3, help="seconds between polls of the polling follower")
    parser.add_argument("--database-url", help="an empty database (default: a fresh SQLite file)")
    args = parser.parse_args(argv)
    day = json.loads(SAMPLE_DAY.read_text(encoding="utf-8"))["date"]
    token = secrets.token_urlsafe(24)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        shown = url.split("@")[-1] if "@" in url else url
        print(f"server: python -m api on {HOST}, database {shown}; sample day {day}, runs of {args.time_limit:g} s")
        with server(url, 1, token, Path(tmp) / "server.log") as base:
            pid = server_pid(int(base.rsplit(":", 1)[1]))
            ways = [(f"poll every {args.poll:g} s", 1)] + [(f"stream x{n}", n) for n in args.followers]
            for name, followers in ways:
                row = asyncio.run(follow_one_run(base, token, day, args.time_limit, name, followers, args.poll, pid))
                rows.append(row)
    print()
    print(HEADER)
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r.name} | {r.followers} | {r.states_seen:.1f} | {r.told_p50_ms:.0f} / {r.told_max_ms:.0f} "
            f"| {r.requests} | {r.server_cpu_s:.2f} | {r.served} | {r.status} |"
        )
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return rows


if __name__ == "__main__":
    main()
