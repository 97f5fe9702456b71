"""How soon a plan run's first answer is readable through the API, on the sample day.

    .venv/bin/python -m bench.first_answer [--time-limit 10] [--database-url ...]

Starts ``python -m api`` on a free loopback port (``bench.api.server``: a fresh SQLite
file unless ``--database-url`` names an empty database; the sample day, 70
technicians and 180 jobs, seeded on 2026-12-01), plans the day with
``--plan-limit`` seconds and publishes it. Then, one after the other, on the same day:

1. a whole-day run over the published day (``POST /v1/plans``, no ``from``);
2. a re-plan from 10:00, after the field events of the published plan up to then
   (each visit ended by 10:00 completed, one begun by then on site);
3. a re-plan from 13:00, after the events up to then and the technician with the most
   visits left falling ill at 13:00 (``technician_unavailable``).

Each run gets ``--time-limit`` seconds and is polled every ``--poll`` s from the
moment it was posted until its first answer is readable (``first_answer_s`` set,
status still ``running``), then until it is done. One row per run: seconds from the
POST until the first answer was read by the client, the server's own
``first_answer_s`` (from the run's start), jobs served, the plan's cost (the
objective's euro terms) and the jobs left out per priority (0/1/2/3: the objective
ranks one more urgent job served above any cost) of the first and the final
answer, and the run's wall time. The load average is printed before
and after: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import seconds
from bench.api import HOST, SAMPLE_DAY, plan_and_publish, server, wait_for_plan


@dataclass
class Row:
    """One run's first and final answer."""

    name: str
    first_client_s: float | None
    first_server_s: float | None
    first_served: int | None
    first_cost: float | None
    first_out: str | None
    final_served: int
    final_cost: float
    final_out: str
    wall_s: float
    status: str


def served(plan: dict[str, Any]) -> int:
    return len({v["job_id"] for r in plan["routes"] for v in r["visits"]})


def cost(plan: dict[str, Any]) -> float:
    return float(sum((plan.get("objective") or {}).values()))


def left_out(plan: dict[str, Any], priority: dict[str, int]) -> str:
    """The jobs left out per priority, most urgent first: ``0/1/2/5`` is five of priority 3."""
    counts = [0, 0, 0, 0]
    for u in plan["unassigned"]:
        counts[priority.get(u["job_id"], 3)] += 1
    return "/".join(str(c) for c in counts)


def local(day: str, clock: str) -> str:
    return f"{day}T{clock}:00+02:00"  # Helsinki in December


def run(
    client: httpx.Client,
    admin: dict[str, str],
    name: str,
    body: dict[str, Any],
    poll_s: float,
    priority: dict[str, int],
) -> Row:
    """Post one plan run and poll it to its first answer and to its end."""
    posted = time.monotonic()
    plan_id = client.post("/v1/plans", json=body, headers=admin).raise_for_status().json()["id"]
    first: dict[str, Any] | None = None
    first_at: float | None = None
    while True:
        plan: dict[str, Any] = client.get(f"/v1/plans/{plan_id}", headers=admin).raise_for_status().json()
        if plan["status"] not in ("queued", "running"):
            break
        if plan["first_answer_s"] is not None and plan["routes"] is not None:
            first, first_at = plan, time.monotonic() - posted
            break
        time.sleep(poll_s)
    final = wait_for_plan(client, plan_id, admin, body["time_limit_s"] + 120)
    wall = time.monotonic() - posted
    if final["status"] != "done":
        return Row(name, first_at, None, None, None, None, 0, 0.0, "-", wall, final["status"])
    return Row(
        name,
        first_at,
        final["first_answer_s"],
        served(first) if first is not None else None,
        cost(first) if first is not None else None,
        left_out(first, priority) if first is not None else None,
        served(final),
        cost(final),
        left_out(final, priority),
        wall,
        final["status"],
    )


def replay_until(client: httpx.Client, admin: dict[str, str], plan: dict[str, Any], until: str, done: set[str]) -> None:
    """The published plan carried out as planned until ``until``: a visit ended by then is
    completed, one begun by then is on site (events not posted before, ``done``)."""
    for route in plan["routes"]:
        for visit in route["visits"]:
            job_id = visit["job_id"]
            events = []
            if visit["arrival"] <= until and f"{job_id}:arrived" not in done:
                events.append(("arrived", visit["arrival"]))
            if visit["end"] <= until and f"{job_id}:completed" not in done:
                events.append(("completed", visit["end"]))
            for kind, moment in events:
                answer = client.post(f"/v1/jobs/{job_id}/events", json={"type": kind, "at": moment}, headers=admin)
                if answer.status_code in (200, 201):
                    done.add(f"{job_id}:{kind}")


def table(rows: list[Row]) -> str:
    head = (
        f"{'run':<28} {'first read s':>12} {'first_answer_s':>14} {'served 1st':>10} {'cost 1st €':>10} "
        f"{'left out 1st':>12} {'served end':>10} {'cost end €':>10} {'left out end':>12} {'wall s':>7}"
    )

    def num(x: float | int | None, fmt: str) -> str:
        return format(x, fmt) if x is not None else "-"

    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.name:<28} {num(r.first_client_s, '12.2f')} {num(r.first_server_s, '14.3f')} "
            f"{num(r.first_served, '10d')} {num(r.first_cost, '10.0f')} {r.first_out or '-':>12} "
            f"{r.final_served:>10d} {r.final_cost:>10.0f} {r.final_out:>12} {r.wall_s:>7.1f}"
            + ("" if r.status == "done" else f" {r.status}")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the three plan runs and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit", type=seconds, default=10.0, help="solver seconds of each measured run")
    parser.add_argument("--plan-limit", type=float, default=10.0, help="solver seconds of the published plan")
    parser.add_argument("--poll", type=float, default=0.02, help="seconds between polls")
    parser.add_argument("--database-url", help="an empty database (default: a fresh SQLite file)")
    args = parser.parse_args(argv)
    day = json.loads(SAMPLE_DAY.read_text(encoding="utf-8"))["date"]
    token = secrets.token_urlsafe(24)
    admin = {"Authorization": f"Bearer {token}"}
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="bench-first-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        shown = url.split("@")[-1] if "@" in url else url
        print(f"server: python -m api on {HOST}, database {shown}; sample day {day}")
        with server(url, 1, token, Path(tmp) / "server.log") as base, httpx.Client(base_url=base, timeout=60) as client:
            published = plan_and_publish(client, admin, day, args.plan_limit)
            print(f"published plan {published['id']}: {served(published)} jobs served")
            jobs = client.get("/v1/jobs", params={"date": day}, headers=admin).raise_for_status().json()
            priority = {j["id"]: int(j["priority"]) for j in jobs}
            limit = args.time_limit
            whole = {"date": day, "time_limit_s": limit}
            rows = [run(client, admin, "whole day (published)", whole, args.poll, priority)]
            done: set[str] = set()
            ten = local(day, "10:00")
            replay_until(client, admin, published, ten, done)
            body = {"date": day, "time_limit_s": limit, "from": ten}
            rows.append(run(client, admin, "re-plan from 10:00", body, args.poll, priority))
            one = local(day, "13:00")
            replay_until(client, admin, published, one, done)
            left = {r["technician_id"]: sum(1 for v in r["visits"] if v["start"] > one) for r in published["routes"]}
            ill = max(sorted(left), key=lambda t: left[t])
            client.post(
                "/v1/disruptions",
                json={"type": "technician_unavailable", "technician_id": ill, "from": one},
                headers=admin,
            ).raise_for_status()
            body = {**body, "from": one}
            rows.append(run(client, admin, f"re-plan from 13:00, {ill} ill", body, args.poll, priority))
    print()
    print(f"{limit:g} s per run, polled every {args.poll:g} s, {shown}")
    print(table(rows))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
