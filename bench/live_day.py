"""Replay a generated day's execution through a served API (issue 17's live day).

    .venv/bin/python -m bench.live_day [--rate 20] [--seed 7] [--sqlite-only] [--database-url ...] [--quick]

For each database (a fresh SQLite file with 1 worker; then PostgreSQL with
``--workers 2``, whose ``public`` schema is dropped and created again first):

1. ``python -m api`` is started on a free loopback port (``bench.api.server``:
   ``DISPATCH_NOW`` on the day before the sample day, which is seeded on
   2026-12-01), with the product's webhook settings (``WEBHOOK_*`` unset);
2. a webhook to a local receiver (stdlib ``http.server`` in a thread, checking
   the HMAC, keeping receipt times by ``X-Dispatch-Event-Id``) is subscribed to
   every feed type, then the sample day is planned (``--time-limit``) and
   published, and every technician with visits gets an installer token;
3. the **truth** of the day is drawn from the published plan with a seeded RNG
   (``generate_truth``, distributions below) and turned into field events;
4. the events are posted in order of ``at`` by the installers' own tokens,
   paced at ``--rate`` events/s (a technician's next event waits for the answer
   to their previous one), while ``--pollers`` phones poll ``GET /v1/me/jobs``
   with ``If-None-Match`` every ``--poll-interval`` s and a dispatcher pages
   ``GET /v1/events?after=`` continuously (0.1 s pause when nothing is new);
5. when the next event's ``at`` passes 10:00 (and 14:00) local, the posts in
   flight are awaited and ``GET /v1/live?at=10:00`` is asked: the ETAs of the
   visits not reached yet are compared with the truth's arrivals. The live view
   reads the facts stored so far, so asking before the first later event is posted
   is what makes it "as of 10:00"; the pause is not counted in the rate;
6. at the end the feed is read to its end and the receiver is given (at most
   ``--drain`` s) to receive every event of the feed.

Unless ``--no-capacity`` (or ``--quick``), each database also replays the same
kind of day on a fresh database unpaced (``rate max``): ``--concurrency`` posts
in flight, still in order of ``at``, which measures the sustained events/s.

The truth (``generate_truth``; every draw from ``random.Random(seed)`` in a fixed
order, so a seed and a plan give one day):

- each technician leaves home at the planned departure plus U(-5, +10) min;
- a drive takes the plan's ``travel_min`` times a lognormal factor (median 1,
  sigma 0.25); a visit starts at the later of the arrival and the planned start
  (the plan's start already waits for the customer's window) and, for a crew job,
  the arrival of every crew member;
- work takes the planned duration times a lognormal factor (median 1, sigma
  0.2); 10 % of jobs overrun by a further U(20, 90) min (the late jobs);
- 6 % of jobs fail: ``customer_absent`` (half: ``arrived``, then ``failed``
  U(5, 15) min later, never started), ``parts_missing`` (30 %),
  ``second_visit`` (10 %) and ``other`` (10 %): started, failed after
  U(20, 70) % of the drawn work;
- the lunch stays in the gap where the plan put it and keeps its length (taken
  before leaving for the visit it precedes, or inside the visit it lies in);
- a late job pushes the rest of the route: each drive starts at the previous end.

Events per visit: ``en_route`` (leaving), ``arrived``, ``started``,
``completed``/``failed`` (with ``reason``), each with its ``at``. A crew job's
events are posted by its first technician (by id) only (events are per job).

Measured per run: events posted, sustained events/s (posted over the replay's
wall time without the ETA pauses), event post p50/p95 ms, installer list p95 ms,
feed lag p95 (POST answered -> the event read by the feed reader), webhook lag p95
(POST answered -> received), events lost (posted but not in the feed, or in the
feed but never received) and duplicated (a field event stored twice, or received
that is not in the feed) after de-duplication by id, ETA mean absolute error and
p90 in minutes at 10:00 and 14:00, and errors (non-2xx other than 304 on the list).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import math
import random
import secrets
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from bench import seconds
from bench.api import (
    HOST,
    SAMPLE_DAY,
    database_options,
    free_port,
    installer_tokens,
    plan_and_publish,
    reset_database,
    server,
)

FEED_TYPES = ["job.status", "job.window", "job.assigned", "job.eta", "plan.published"]
CHECKPOINTS = (dt.time(10, 0), dt.time(14, 0))
QUICK_UNTIL = dt.time(10, 30)
"""``--quick`` replays the events before 10:30 (the 10:00 checkpoint included)."""

# The truth's distributions (module docstring); changing one changes every seed's day.
DEPART_JITTER_MIN = (-5.0, 10.0)
TRAVEL_SIGMA = 0.25
WORK_SIGMA = 0.2
OVERRUN_SHARE, OVERRUN_MIN = 0.10, (20.0, 90.0)
FAIL_SHARE = 0.06
FAIL_REASONS = (("customer_absent", 0.5), ("parts_missing", 0.3), ("second_visit", 0.1), ("other", 0.1))
ABSENT_WAIT_MIN = (5.0, 15.0)
FAIL_WORK_SHARE = (0.2, 0.7)

TARGET_POST_P95_MS = 50.0
TARGET_RATE = 20.0
TARGET_FEED_LAG_P95_MS = 1000.0
FEED_IDLE_S = 0.1


# ----- the truth ---------------------------------------------------------------------


@dataclass(frozen=True)
class FieldEvent:
    """One event a technician posts: what happened to which job, and when."""

    at: dt.datetime
    technician_id: str
    job_id: str
    type: str
    reason: str | None = None

    @property
    def key(self) -> tuple[str, str, dt.datetime]:
        """How the feed tells this event: job, type and the instant (in UTC)."""
        return (self.job_id, self.type, self.at.astimezone(dt.UTC))


@dataclass
class Truth:
    """The replayed day: its events in order of ``at``, and every visit's actual arrival."""

    events: list[FieldEvent]
    arrivals: dict[tuple[str, str], dt.datetime]
    visits: int
    failed: int
    overrun: int


def instant(text: str) -> dt.datetime:
    """An instant as the API writes it."""
    return dt.datetime.fromisoformat(text)


def lognormal(rng: random.Random, sigma: float) -> float:
    """A factor of median 1: ``exp`` of a normal draw of deviation ``sigma``."""
    return math.exp(rng.gauss(0.0, sigma))


def generate_truth(plan: dict[str, Any], seed: int) -> Truth:
    """The day as it really went, drawn around the published ``plan`` (the plan's JSON
    as ``GET /v1/plans/{id}`` answers it) from ``random.Random(seed)``; the
    distributions are in the module docstring."""
    rng = random.Random(seed)
    routes = sorted((r for r in plan["routes"] if r["visits"]), key=lambda r: r["technician_id"])
    # Every draw in a fixed order before any timing, so the crew iteration below draws nothing.
    depart_jitter = {r["technician_id"]: rng.uniform(*DEPART_JITTER_MIN) for r in routes}
    travel_factor = {
        (r["technician_id"], v["job_id"]): lognormal(rng, TRAVEL_SIGMA) for r in routes for v in r["visits"]
    }
    crew: dict[str, list[str]] = {}
    for r in routes:
        for v in r["visits"]:
            crew.setdefault(v["job_id"], []).append(r["technician_id"])
    work_factor: dict[str, float] = {}
    overrun_min: dict[str, float] = {}
    failure: dict[str, tuple[str, float]] = {}
    reasons = [r for r, _ in FAIL_REASONS]
    weights = [w for _, w in FAIL_REASONS]
    for job_id in sorted(crew):
        work_factor[job_id] = lognormal(rng, WORK_SIGMA)
        overrun_min[job_id] = rng.uniform(*OVERRUN_MIN) if rng.random() < OVERRUN_SHARE else 0.0
        if rng.random() < FAIL_SHARE:
            reason = rng.choices(reasons, weights)[0]
            share = rng.uniform(*ABSENT_WAIT_MIN) if reason == "customer_absent" else rng.uniform(*FAIL_WORK_SHARE)
            failure[job_id] = (reason, share)
    minute = dt.timedelta(minutes=1)

    def walk(
        route: dict[str, Any], crew_start: dict[str, dt.datetime]
    ) -> list[tuple[str, dt.datetime, dt.datetime, dt.datetime, dt.datetime]]:
        """(job, left, arrival, start, end) of each visit of the route."""
        tech = route["technician_id"]
        visits = route["visits"]
        depart = instant(route["depart"]) if route["depart"] else instant(visits[0]["arrival"])
        free = depart + depart_jitter[tech] * minute
        lunch_s = instant(route["lunch_start"]) if route["lunch_start"] else None
        lunch_e = instant(route["lunch_end"]) if route["lunch_end"] else None
        lunch = (lunch_e - lunch_s) if lunch_s and lunch_e else None
        out = []
        for v in visits:
            job_id = v["job_id"]
            p_start, p_end = instant(v["start"]), instant(v["end"])
            in_work = dt.timedelta(0)
            planned_work = p_end - p_start
            if lunch is not None and lunch_s is not None:
                if lunch_s < p_start:  # on the way or on site before work: taken before leaving
                    free += lunch
                    lunch = None
                elif lunch_s < p_end:  # inside the visit
                    in_work, planned_work, lunch = lunch, planned_work - lunch, None
            left = free
            arrival = left + v["travel_min"] * travel_factor[(tech, job_id)] * minute
            start = max(arrival, p_start, crew_start.get(job_id, arrival))
            work = planned_work * work_factor[job_id] + overrun_min[job_id] * minute + in_work
            if job_id in failure:
                reason, share = failure[job_id]
                if reason == "customer_absent":
                    start = arrival if len(crew[job_id]) == 1 else start
                    end = start + share * minute
                else:
                    end = start + work * share
            else:
                end = start + work
            out.append((job_id, left, arrival, start, end))
            free = end
        return out

    crew_jobs = {j for j, techs in crew.items() if len(techs) > 1}
    crew_start: dict[str, dt.datetime] = {}
    walked = {r["technician_id"]: walk(r, crew_start) for r in routes}
    for _ in range(len(crew_jobs) + 1):  # crew starts only move later: a fixed point
        later: dict[str, dt.datetime] = {}
        for items in walked.values():
            for job_id, _left, arrival, _start, _end in items:
                if job_id in crew_jobs:
                    later[job_id] = max(later.get(job_id, arrival), arrival)
        if all(crew_start.get(j) == s for j, s in later.items()):
            break
        crew_start = later
        walked = {r["technician_id"]: walk(r, crew_start) for r in routes}

    events: list[FieldEvent] = []
    arrivals: dict[tuple[str, str], dt.datetime] = {}
    for tech, items in walked.items():
        for job_id, left, arrival, start, end in items:
            arrivals[(tech, job_id)] = arrival
            if tech != min(crew[job_id]):
                continue  # a crew job's events come from its first technician
            events.append(FieldEvent(left, tech, job_id, "en_route"))
            events.append(FieldEvent(arrival, tech, job_id, "arrived"))
            why = failure[job_id][0] if job_id in failure else None
            if why != "customer_absent":
                events.append(FieldEvent(start, tech, job_id, "started"))
            if why is None:
                events.append(FieldEvent(end, tech, job_id, "completed"))
            else:
                events.append(FieldEvent(end, tech, job_id, "failed", why))
    events.sort(key=lambda e: e.at)  # stable: a technician's own events keep their order
    return Truth(events, arrivals, len(arrivals), len(failure), sum(1 for m in overrun_min.values() if m > 0))


# ----- the webhook receiver ----------------------------------------------------------


class Receiver:
    """A webhook receiver on a loopback port: checks each signature and keeps the
    first receipt time (``time.monotonic``) of each ``X-Dispatch-Event-Id``."""

    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}/hook"
        self.calls = 0
        self.redelivered = 0
        self.bad = 0
        self.received: dict[int, float] = {}
        self.bodies: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                code = receiver.take(body, self.headers.get("X-Dispatch-Event-Id"), self.headers)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, self.port), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def take(self, body: bytes, event_id: str | None, headers: Any) -> int:
        """Record one delivery; 204, or 401 for a bad signature (or id)."""
        now = time.monotonic()
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        with self._lock:
            self.calls += 1
            if not hmac.compare_digest(expected, headers.get("X-Dispatch-Signature", "")):
                self.bad += 1
                return 401
            event = json.loads(body)
            if event_id is None or int(event_id) != event["id"]:
                self.bad += 1
                return 401
            if event["id"] in self.received:
                self.redelivered += 1
            else:
                self.received[event["id"]] = now
                self.bodies[event["id"]] = event
            return 204

    def snapshot(self) -> tuple[dict[int, float], dict[int, dict[str, Any]]]:
        """What was received so far (receipt times and bodies by event id)."""
        with self._lock:
            return dict(self.received), dict(self.bodies)


# ----- the replay --------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (nan for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


@dataclass
class EtaError:
    """ETA against the truth at one instant: absolute errors in minutes."""

    at: dt.time
    errors_min: list[float] = field(default_factory=list)

    def cell(self) -> str:
        """``MAE / p90 (n)``, or a dash when nothing was estimated."""
        if not self.errors_min:
            return "-"
        mae, p90 = statistics.fmean(self.errors_min), percentile(self.errors_min, 90)
        return f"{mae:.1f} / {p90:.1f} ({len(self.errors_min)})"


@dataclass
class Run:
    """What one replay measured."""

    database: str
    workers: int
    rate: float
    events: int = 0
    posted_s: float = 0.0
    post_ms: list[float] = field(default_factory=list)
    list_ms: list[float] = field(default_factory=list)
    list_statuses: dict[str, int] = field(default_factory=dict)
    post_statuses: dict[str, int] = field(default_factory=dict)
    feed_lag_ms: list[float] = field(default_factory=list)
    webhook_lag_ms: list[float] = field(default_factory=list)
    lost_feed: int = 0
    lost_webhook: int = 0
    duplicated: int = 0
    redelivered: int = 0
    bad_signatures: int = 0
    feed_events: int = 0
    eta: list[EtaError] = field(default_factory=list)
    errors: int = 0
    client_cpu: float = 0.0
    drain_s: float = 0.0

    @property
    def events_per_s(self) -> float:
        """Events posted over the replay's wall time (ETA pauses left out)."""
        return self.events / self.posted_s if self.posted_s else math.nan

    @property
    def lost(self) -> int:
        """Posted but not in the feed, plus in the feed but never received."""
        return self.lost_feed + self.lost_webhook


FeedKey = tuple[str, str, dt.datetime]


@dataclass
class Observed:
    """What the replay's client saw: when each field event's POST was answered (by its
    feed key), every feed event read (by id) and when, and the feed ids of each key."""

    answered: dict[FeedKey, float] = field(default_factory=dict)
    feed: dict[int, dict[str, Any]] = field(default_factory=dict)
    seen_at: dict[int, float] = field(default_factory=dict)
    by_key: dict[FeedKey, list[int]] = field(default_factory=dict)


def local_instant(day: dt.date, at: dt.time, tz: ZoneInfo) -> dt.datetime:
    """``at`` on ``day`` in ``tz``, aware."""
    return dt.datetime.combine(day, at, tzinfo=tz)


async def replay(
    base: str,
    admin: dict[str, str],
    tokens: dict[str, str],
    truth: Truth,
    day: dt.date,
    tz: ZoneInfo,
    run: Run,
    args: argparse.Namespace,
    checkpoints: tuple[dt.time, ...],
) -> Observed:
    """Post the truth's events (paced at ``run.rate``; 0: ``args.concurrency`` in
    flight) while pollers read installer lists and a reader pages the feed; asks the
    live view at each checkpoint. Returns what the client saw."""
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    seen_obs = Observed()
    answered, seen, seen_at = seen_obs.answered, seen_obs.feed, seen_obs.seen_at
    stop = asyncio.Event()
    in_flight: set[asyncio.Task[None]] = set()
    last_of: dict[str, asyncio.Task[None]] = {}
    gate = asyncio.Semaphore(args.concurrency if run.rate <= 0 else 10_000)

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def post(event: FieldEvent, before: asyncio.Task[None] | None) -> None:
            try:
                if before is not None:
                    await asyncio.wait([before])
                body: dict[str, Any] = {"type": event.type, "at": event.at.isoformat()}
                if event.reason is not None:
                    body["reason"] = event.reason
                headers = {"Authorization": f"Bearer {tokens[event.technician_id]}"}
                began = time.perf_counter()
                try:
                    response = await client.post(f"/v1/jobs/{event.job_id}/events", json=body, headers=headers)
                    status = str(response.status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                run.post_ms.append((time.perf_counter() - began) * 1000)
                if status in ("200", "201"):
                    answered[event.key] = time.monotonic()
                run.post_statuses[status] = run.post_statuses.get(status, 0) + 1
            finally:
                gate.release()

        async def poller(index: int) -> None:
            techs = sorted(tokens)
            etags: dict[str, str] = {}
            turn = index
            while not stop.is_set():
                tech = techs[turn % len(techs)]
                turn += args.pollers
                headers = {"Authorization": f"Bearer {tokens[tech]}"}
                if tech in etags:
                    headers["If-None-Match"] = etags[tech]
                began = time.perf_counter()
                try:
                    response = await client.get("/v1/me/jobs", params={"date": day.isoformat()}, headers=headers)
                    status = str(response.status_code)
                    if response.status_code == 200:
                        etags[tech] = response.headers["ETag"]
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                run.list_ms.append((time.perf_counter() - began) * 1000)
                run.list_statuses[status] = run.list_statuses.get(status, 0) + 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), args.poll_interval)

        cursor: str | None = None

        async def read_feed_page() -> int:
            nonlocal cursor
            params: dict[str, Any] = {"limit": 1000}
            if cursor is not None:
                params["after"] = cursor
            page = (await client.get("/v1/events", params=params, headers=admin)).raise_for_status().json()
            now = time.monotonic()
            for event in page["events"]:
                seen[event["id"]] = event
                seen_at[event["id"]] = now
            cursor = page["next"]
            return len(page["events"])

        async def feed_reader() -> None:
            while not stop.is_set():
                if not await read_feed_page():
                    await asyncio.sleep(FEED_IDLE_S)

        async def ask_live(at: dt.time) -> None:
            asked = local_instant(day, at, tz)
            params = {"date": day.isoformat(), "at": asked.isoformat()}
            live = (await client.get("/v1/live", params=params, headers=admin)).raise_for_status().json()
            errors = EtaError(at)
            for tech in live["technicians"]:
                for v in tech["visits"]:
                    actual = truth.arrivals.get((tech["technician_id"], v["job_id"]))
                    if v["eta"] is None or actual is None:
                        continue
                    errors.errors_min.append(abs((instant(v["eta"]) - actual).total_seconds()) / 60)
            run.eta.append(errors)

        background = [asyncio.create_task(poller(i)) for i in range(args.pollers)]
        background.append(asyncio.create_task(feed_reader()))
        cpu, started = time.process_time(), time.monotonic()
        paused = 0.0
        pending = [local_instant(day, t, tz) for t in checkpoints]
        for i, event in enumerate(truth.events):
            while pending and event.at > pending[0]:
                halt = time.monotonic()
                if in_flight:
                    await asyncio.wait(in_flight)
                await ask_live(pending.pop(0).time())
                paused += time.monotonic() - halt
            if run.rate > 0:
                delay = started + paused + i / run.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await gate.acquire()
            task = asyncio.create_task(post(event, last_of.get(event.technician_id)))
            last_of[event.technician_id] = task
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.wait(in_flight)
        run.posted_s = time.monotonic() - started - paused
        run.events = len(truth.events)
        for checkpoint in pending:  # a checkpoint after the last event
            await ask_live(checkpoint.time())

        # Let the reader catch up with every answered event (bounded), then stop the load.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            keys = {_feed_key(e) for e in seen.values()}
            if all(k in keys for k in answered):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*background)
        while await read_feed_page():
            pass
        run.client_cpu = (time.process_time() - cpu) / max(1e-9, time.monotonic() - started)

    for event_id, body in seen.items():
        key = _feed_key(body)
        if key is not None:
            seen_obs.by_key.setdefault(key, []).append(event_id)
    for key, answered_at in answered.items():
        ids = seen_obs.by_key.get(key)
        if not ids:
            run.lost_feed += 1
            continue
        run.feed_lag_ms.append((seen_at[min(ids)] - answered_at) * 1000)
    run.duplicated += sum(len(ids) - 1 for ids in seen_obs.by_key.values())
    return seen_obs


def _feed_key(event: dict[str, Any]) -> tuple[str, str, dt.datetime] | None:
    """A field event's key (job, type, at in UTC) from its feed ``job.status`` event."""
    data = event.get("data") or {}
    if event.get("type") != "job.status" or "event_type" not in data or not event.get("job_id"):
        return None
    return (event["job_id"], data["event_type"], instant(data["event_at"]).astimezone(dt.UTC))


def count_deliveries(
    run: Run, receiver: Receiver, observed: Observed, feed: dict[int, dict[str, Any]], drain_s: float
) -> None:
    """Wait (at most ``drain_s``) for the receiver to hold every event of ``feed``, then
    count the lost, the unexpected and the webhook lag of the field events."""
    started = time.monotonic()
    while time.monotonic() - started < drain_s:
        received, _ = receiver.snapshot()
        if all(i in received for i in feed):
            break
        time.sleep(0.1)
    run.drain_s = time.monotonic() - started
    received, bodies = receiver.snapshot()
    run.feed_events = len(feed)
    run.lost_webhook = sum(1 for i in feed if i not in received)
    run.duplicated += sum(1 for i in received if i not in feed)
    run.redelivered = receiver.redelivered
    run.bad_signatures = receiver.bad
    for key, answered_at in observed.answered.items():
        ids = [i for i in observed.by_key.get(key, []) if i in received]
        if ids:
            run.webhook_lag_ms.append((received[min(ids)] - answered_at) * 1000)
    mismatched = sum(1 for i, body in bodies.items() if i in feed and body != feed[i])
    if mismatched:
        print(f"  {mismatched} webhook bodies differ from the feed's")


def settle_publishing(client: httpx.Client, admin: dict[str, str], receiver: Receiver, drain_s: float) -> int:
    """Wait (at most ``drain_s``) until the receiver has every event in the feed so
    far (the plan's publication: hundreds of ``job.assigned`` and ``job.window``),
    so the replay starts with an empty outbox, as a day does whose plan was
    published the evening before; returns how many events that was."""
    ids: set[int] = set()
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 1000, **({"after": cursor} if cursor else {})}
        page = client.get("/v1/events", params=params, headers=admin).raise_for_status().json()
        ids.update(e["id"] for e in page["events"])
        if not page["events"]:
            break
        cursor = page["next"]
    deadline = time.monotonic() + drain_s
    while time.monotonic() < deadline and not ids <= set(receiver.snapshot()[0]):
        time.sleep(0.1)
    return len(ids)


def one_run(url: str, workers: int, rate: float, args: argparse.Namespace, label: str) -> Run:
    """Serve a fresh database, set the day up, replay it and count the deliveries."""
    sample = json.loads(SAMPLE_DAY.read_text(encoding="utf-8"))
    day, tz = dt.date.fromisoformat(sample["date"]), ZoneInfo(sample["timezone"])
    if url.startswith("postgresql"):
        reset_database(url)
    token = secrets.token_urlsafe(24)
    admin = {"Authorization": f"Bearer {token}"}
    run = Run(label, workers, rate)
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        log = Path(tmp) / "server.log"
        with Receiver(secrets.token_urlsafe(24)) as receiver, server(url, workers, token, log) as base:
            with httpx.Client(base_url=base, timeout=60) as client:
                client.post(
                    "/v1/webhooks",
                    json={"url": receiver.url, "secret": receiver.secret.decode(), "types": FEED_TYPES},
                    headers=admin,
                ).raise_for_status()
                before = client.get("/v1/events", params={"limit": 1000}, headers=admin).raise_for_status().json()
                plan = plan_and_publish(client, admin, day.isoformat(), args.time_limit)
                busy = [r["technician_id"] for r in plan["routes"] if r["visits"]]
                tokens = installer_tokens(client, admin, busy)
                published = settle_publishing(client, admin, receiver, args.drain)
            truth = generate_truth(plan, args.seed)
            checkpoints: tuple[dt.time, ...] = CHECKPOINTS
            if args.quick:
                cut = local_instant(day, QUICK_UNTIL, tz)
                truth.events = [e for e in truth.events if e.at < cut]
                checkpoints = tuple(t for t in CHECKPOINTS if t < QUICK_UNTIL)
            print(
                f"{label}, rate {'max' if rate <= 0 else f'{rate:g}/s'}: plan {plan['id']}, {truth.visits} visits "
                f"on {len(busy)} routes, {len(plan['unassigned'])} unassigned; truth seed {args.seed}: "
                f"{truth.failed} failed, {truth.overrun} overrunning jobs; {len(truth.events)} events to replay "
                f"(after the {published} events of publishing were delivered)"
            )
            observed = asyncio.run(replay(base, admin, tokens, truth, day, tz, run, args, checkpoints))
            earlier = {e["id"] for e in before["events"]}
            expected = {i: e for i, e in observed.feed.items() if i not in earlier}
            count_deliveries(run, receiver, observed, expected, args.drain)
        statuses = {**{f"post {k}": v for k, v in run.post_statuses.items() if k not in ("201",)}}
        statuses.update({f"list {k}": v for k, v in run.list_statuses.items() if k not in ("200", "304")})
        run.errors = sum(statuses.values())
        if statuses:
            print(f"  unexpected answers: {statuses}")
            print("  server log (errors only):\n" + log.read_text(errors="replace")[-3000:])
    print(
        f"  feed events {run.feed_events}, receiver re-deliveries {run.redelivered}, bad signatures "
        f"{run.bad_signatures}, drained in {run.drain_s:.1f} s; installer lists {len(run.list_ms)} "
        f"({run.list_statuses}); client CPU {run.client_cpu:.0%} of one core"
    )
    return run


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def table(runs: list[Run]) -> str:
    """The results, one row per run (markdown)."""
    lines = [
        "| database | workers | rate | events | events/s | post p50 ms | post p95 ms | list p95 ms | "
        "feed lag p95 ms | webhook lag p95 ms | lost | dup | ETA 10:00 MAE / p90 min (n) | "
        "ETA 14:00 MAE / p90 min (n) | errors |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for r in runs:
        eta = {e.at: e.cell() for e in r.eta}
        lines.append(
            f"| {r.database} | {r.workers} | {'max' if r.rate <= 0 else f'{r.rate:g}/s'} | {r.events} | "
            f"{r.events_per_s:.1f} | {_ms(percentile(r.post_ms, 50))} | {_ms(percentile(r.post_ms, 95))} | "
            f"{_ms(percentile(r.list_ms, 95))} | {_ms(percentile(r.feed_lag_ms, 95))} | "
            f"{_ms(percentile(r.webhook_lag_ms, 95))} | {r.lost} | {r.duplicated} | "
            f"{eta.get(CHECKPOINTS[0], '-')} | {eta.get(CHECKPOINTS[1], '-')} | {r.errors} |"
        )
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def targets(runs: list[Run]) -> str:
    """Each run against the issue's targets: met or missed."""
    out = []
    for r in runs:
        name = f"{r.database}, {'max' if r.rate <= 0 else f'{r.rate:g}/s'}"
        checks = []
        if r.rate > 0:
            post = percentile(r.post_ms, 95)
            at = "" if r.rate >= TARGET_RATE else f" (at {r.rate:g}/s, not {TARGET_RATE:g}/s)"
            checks.append(f"post p95 <= {TARGET_POST_P95_MS:g} ms{at}: {_verdict(post <= TARGET_POST_P95_MS)}")
        lag = percentile(r.feed_lag_ms, 95)
        checks.append(f"feed lag p95 <= {TARGET_FEED_LAG_P95_MS:g} ms: {_verdict(lag <= TARGET_FEED_LAG_P95_MS)}")
        checks.append(f"0 lost, 0 duplicated: {_verdict(r.lost == 0 and r.duplicated == 0)}")
        out.append(f"- {name}: " + "; ".join(checks))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> list[Run]:
    """Run the replays and print the table; returns the runs."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="events posted per second (paced)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated truth")
    database_options(parser)
    parser.add_argument("--quick", action="store_true", help=f"replay the events before {QUICK_UNTIL:%H:%M} only")
    parser.add_argument("--no-capacity", action="store_true", help="skip the unpaced runs")
    parser.add_argument("--concurrency", type=int, default=8, help="posts in flight in the unpaced runs")
    parser.add_argument("--pollers", type=int, default=10, help="clients polling installer lists")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="seconds between one poller's requests")
    parser.add_argument("--time-limit", type=seconds, default=5.0, help="solver seconds for the published plan")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds to wait for webhook deliveries at the end")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.concurrency < 1 or args.pollers < 1 or args.poll_interval <= 0:
        parser.error("--rate and --poll-interval must be positive, --concurrency and --pollers at least 1")
    databases = [("SQLite", None, 1)]
    if not args.sqlite_only:
        databases.append(("PostgreSQL", args.database_url, args.workers))
    rates = [args.rate] if args.quick or args.no_capacity else [args.rate, 0.0]
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-live-db-") as tmp:
        for name, url, workers in databases:
            for n, rate in enumerate(rates):
                runs.append(one_run(url or f"sqlite:///{Path(tmp) / f'live-{n}.db'}", workers, rate, args, name))
    print()
    print(
        f"seed {args.seed}, {args.pollers} installer-list pollers every {args.poll_interval:g} s, "
        f"feed reader idle {FEED_IDLE_S:g} s; unpaced runs: {args.concurrency} posts in flight"
    )
    print(table(runs))
    print(targets(runs))
    return runs


if __name__ == "__main__":
    main()
