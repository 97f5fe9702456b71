"""Re-planning a day through a served API, checked at every re-plan (issue 18).

    .venv/bin/python -m bench.replan_api [--seed 1] [--steps 09:00 10:00 ...] [--time-limit 3]
        [--sqlite-only] [--database-url ...] [--quick]

``bench.disrupted`` compares re-plan policies in process; this drives the product as its
users do, over HTTP, and checks what the issue's "Done when" promises on a day of
random disruptions rather than on one built for a test. For each database (a fresh
SQLite file with one API worker; PostgreSQL with ``--workers`` API workers, the
database created or its ``public`` schema dropped first), with a solver worker process beside the API
(``bench.api.server``: the sample day seeded, the API's clock on the day before, so
the field's reports are dated later than the clock, as the tests post them):

1. the sample day is planned and published with ``confirm_windows``: every visit's
   window is its customer's promise;
2. at each step (default every hour, 09:00-16:00, seeded by ``--seed``):

   a. *the field*: the published plan is driven up to the step. Each visit takes its
      planned length times a lognormal factor, and some overrun further
      (``bench.live_day``'s distributions); a technician leaves for the next visit
      when the previous one ends, or as planned. The reports (``en_route``,
      ``arrived``, ``started``, ``completed``) are posted, and a visit still going at
      its planned end is reported as an ``overrun`` with its drawn end;
   b. *the ordering system* searches slots for a repair near a job of the day and
      books the first one offered;
   c. *one disruption*, drawn: a technician unavailable from the step (for the rest
      of the day or one to two hours), an urgent repair (level 1, deadline four hours
      on), or a cancellation;
   d. *a re-plan from the step* (``POST /v1/plans`` with ``from``). When it is
      refused for promises it cannot keep, the dispatcher does what the refusal says
      (the customers are called): a confirmed job is read and PUT back with
      ``confirmed`` false, a booking is cancelled; then re-plans once more;
   e. the checks below, then the re-plan is published;
   f. every second step, *a hand move*: a promised visit more than an hour ahead is
      moved to another technician at the place its start falls in their route, with
      its technician and time locked (``POST /v1/plans/{id}/edits``), checked first
      and applied only when it causes no violation; that version is published.

Checks (each failure is printed with the step and counted):

- every visit done or under way (``changes.settled``) is where and when the
  published plan had it;
- nothing completed, cancelled or on site is planned again, and a visit whose
  technician is on the way stays theirs;
- every confirmed job planned starts (or its technician arrives) within its promise;
- no technician has a visit during their unavailability;
- the change report is the difference between the published plan and the re-plan:
  the jobs moved to another technician, dropped and added;
- a refused re-plan leaves the published plan and the live schedule's plan as they were,
  and a run that ends without a plan is a refusal (its error starts "refused"), never
  anything else (the engine's own checker refusing its plan, a crash);
- a hand move's change report lists the visit as moved, and every later re-plan keeps
  the locked visit with its technician at its locked start, or lists the lock in
  ``changes.locks_not_kept`` (a lock of a visit done, cancelled or withdrawn since is over);
- the first slot offered is booked (201), and no call answers 5xx.

The table gives per database the steps, re-plans (refused, promises withdrawn),
bookings, the changes published, the re-plan's wall time from ``POST`` to ``done``
(p50 / p95), check failures and server errors. Target: no check failure and no
server error; the command exits 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
import re
import secrets
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from bench import seconds
from bench.api import SAMPLE_DAY, database_options, reset_database, server, wait_for_plan
from bench.live_day import OVERRUN_MIN, OVERRUN_SHARE, WORK_SIGMA, instant, lognormal

STEPS = ("09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00")
QUICK_STEPS = ("09:30", "11:00", "13:00")
REFUSED_FOR_PROMISES = re.compile(r"(confirmed|booked) job (\S+) (?:would be left out|cannot be planned)")
CUSTOMER = {"name": "Bench Customer", "phone": "+358400000000"}

Visits = dict[str, dict[str, dict[str, Any]]]
"""Job id → technician id → the visit as a plan shows it (a crew job has two)."""


@dataclass
class Run:
    """What one database's day gave."""

    label: str
    steps: int = 0
    replans: int = 0
    refused: int = 0
    withdrawn: int = 0
    booked: int = 0
    no_slot: int = 0
    hand_moves: int = 0
    locks_released: int = 0
    moved: int = 0
    retimed: int = 0
    dropped: int = 0
    added: int = 0
    wall_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    server_errors: int = 0

    def fail(self, step: str, message: str) -> None:
        """Count a failed check, printed as it is found."""
        self.failures.append(f"{step}: {message}")
        print(f"  CHECK FAILED at {step}: {message}")


def visits_of(plan: dict[str, Any]) -> Visits:
    """The plan's visits by job and technician."""
    out: Visits = {}
    for route in plan["routes"]:
        for visit in route["visits"]:
            out.setdefault(visit["job_id"], {})[route["technician_id"]] = visit
    return out


class Day:
    """The day as it goes: the API client, the field's draws and what was recorded."""

    def __init__(self, client: httpx.Client, day: dt.date, tz: ZoneInfo, seed: int, run: Run) -> None:
        self.client, self.day, self.tz, self.run = client, day, tz, run
        self.rng = random.Random(seed)
        self.drawn: dict[str, tuple[float, float]] = {}
        self.overrun_told: set[str] = set()
        self.absences: list[dict[str, Any]] = []
        # Job id → (technician, start) of the hand moves' locks still to keep.
        self.locks: dict[str, tuple[str, str]] = {}

    def at(self, hhmm: str) -> dt.datetime:
        """``HH:MM`` on the day, in its time zone."""
        hour, minute = map(int, hhmm.split(":"))
        return dt.datetime.combine(self.day, dt.time(hour, minute), self.tz)

    def jobs(self) -> dict[str, dict[str, Any]]:
        """The day's jobs as ``GET /v1/jobs`` shows them now, by id."""
        got = self.client.get("/v1/jobs", params={"date": self.day.isoformat()}).raise_for_status().json()
        return {j["id"]: j for j in got}

    def length(self, job_id: str, planned: dt.timedelta) -> dt.timedelta:
        """How long the job really takes: its planned length times a factor, plus the
        overrun of a late job (``bench.live_day``'s draws, made once per job)."""
        if job_id not in self.drawn:
            factor = lognormal(self.rng, WORK_SIGMA)
            self.drawn[job_id] = (factor, self.rng.uniform(*OVERRUN_MIN) if self.rng.random() < OVERRUN_SHARE else 0.0)
        factor, overrun_min = self.drawn[job_id]
        return planned * factor + dt.timedelta(minutes=overrun_min)

    def report(self, step: str, job_id: str, kind: str, when: dt.datetime) -> None:
        """Post a field event; anything but 201 is a failed check."""
        answer = self.client.post(f"/v1/jobs/{job_id}/events", json={"type": kind, "at": when.isoformat()})
        if answer.status_code != 201:
            self.run.fail(step, f"report {kind} of {job_id} at {when:%H:%M}: {answer.status_code} {answer.text[:200]}")

    def drive(self, plan: dict[str, Any], until: dt.datetime, step: str) -> None:
        """Post what the field did on ``plan``'s routes up to ``until`` (module docstring, 2a)."""
        jobs = self.jobs()
        reported: set[str] = set()  # a crew job is reported once, by its first technician
        for route in sorted(plan["routes"], key=lambda r: r["technician_id"]):
            free: dt.datetime | None = None
            for visit in route["visits"]:
                job_id = visit["job_id"]
                job = jobs.get(job_id)
                if job is None or job["status"] == "cancelled":
                    continue
                if job["actual_end"] is not None and job["status"] in ("completed", "open"):
                    free = instant(job["actual_end"])
                    continue
                planned = instant(visit["end"]) - instant(visit["start"])
                length = planned if job["crew_size"] == 2 else self.length(job_id, planned)
                if job["actual_start"] is not None:
                    start = instant(job["actual_start"])
                else:
                    drive = dt.timedelta(minutes=visit["travel_min"])
                    left = instant(visit["arrival"]) - drive
                    left = max(left, free) if free is not None else left
                    arrival = left + drive
                    start = max(arrival, instant(visit["start"]))
                    if job_id not in reported:
                        if job["status"] == "scheduled" and left <= until:
                            self.report(step, job_id, "en_route", left)
                        if job["status"] in ("scheduled", "en_route") and arrival <= until:
                            self.report(step, job_id, "arrived", arrival)
                        if start <= until:
                            self.report(step, job_id, "started", start)
                end = start + length
                if job_id not in reported and start <= until:
                    if end <= until:
                        self.report(step, job_id, "completed", end)
                    elif instant(visit["end"]) <= until and job_id not in self.overrun_told:
                        body = {"type": "overrun", "job_id": job_id, "expected_end": end.isoformat()}
                        answer = self.client.post("/v1/disruptions", json=body)
                        if answer.status_code != 201:
                            self.run.fail(step, f"overrun of {job_id}: {answer.status_code} {answer.text[:200]}")
                        self.overrun_told.add(job_id)
                reported.add(job_id)
                free = end

    def book(self, step: str, n: int) -> None:
        """The ordering system books the first slot offered for a repair near a job (2b)."""
        near = self.rng.choice(sorted(self.jobs().values(), key=lambda j: j["id"]))
        where = {
            "lat": near["location"]["lat"] + self.rng.uniform(-0.02, 0.02),
            "lon": near["location"]["lon"] + self.rng.uniform(-0.03, 0.03),
        }
        wanted = {
            "kind": "repair",
            "location": where,
            "duration_min": self.rng.choice((30, 60, 90)),
            "skills": {k: 1 for k in sorted(near["skills"])[:1]},
        }
        found = self.client.post("/v1/slots/search", json={**wanted, "date_from": self.day.isoformat()})
        if found.status_code != 200:
            self.run.fail(step, f"slot search: {found.status_code} {found.text[:200]}")
            return
        slots = found.json()["slots"]
        if not slots:
            self.run.no_slot += 1
            return
        slot = {"start": slots[0]["start"], "end": slots[0]["end"]}
        booking = self.client.post(
            "/v1/bookings",
            json={**wanted, "customer": CUSTOMER, "slot": slot},
            headers={"Idempotency-Key": f"bench-replan-{n}-{secrets.token_hex(4)}"},
        )
        if booking.status_code == 201:
            self.run.booked += 1
        else:
            self.run.fail(step, f"the first slot offered ({slot['start']}) was not booked: {booking.status_code}")

    def disrupt(self, at: dt.datetime, n: int) -> str:
        """One drawn disruption at ``at`` (2c); says what it was."""
        kind = self.rng.choice(("unavailable", "urgent", "urgent", "cancel"))
        if kind == "unavailable":
            live = self.client.get("/v1/live", params={"date": self.day.isoformat()}).raise_for_status().json()
            busy = sorted(
                t["technician_id"]
                for t in live["technicians"]
                if any(v["state"] in ("next", "later") for v in t["visits"])
            )
            if busy:
                body: dict[str, Any] = {
                    "type": "technician_unavailable",
                    "technician_id": self.rng.choice(busy),
                    "from": at.isoformat(),
                }
                if self.rng.random() < 0.5:
                    body["until"] = (at + dt.timedelta(minutes=self.rng.choice((60, 90, 120)))).isoformat()
                self.client.post("/v1/disruptions", json=body).raise_for_status()
                self.absences.append(body)
                return f"{body['technician_id']} unavailable"
        scheduled = sorted(j["id"] for j in self.jobs().values() if j["status"] == "scheduled")
        if kind == "cancel" and scheduled:
            job_id = self.rng.choice(scheduled)
            self.client.delete(f"/v1/jobs/{job_id}").raise_for_status()
            return f"{job_id} cancelled"
        near = self.rng.choice(sorted(self.jobs().values(), key=lambda j: j["id"]))
        job_id = f"URGENT-{n}"
        body = {
            "kind": "repair",
            "date": self.day.isoformat(),
            "location": {"lat": near["location"]["lat"] + 0.01, "lon": near["location"]["lon"] - 0.01},
            "duration_min": self.rng.choice((30, 45, 60, 90)),
            "priority": 1,
            "deadline": (at + dt.timedelta(hours=4)).isoformat(),
            "skills": {k: 1 for k in sorted(near["skills"])[:1]},
            "customer": CUSTOMER,
        }
        self.client.put(f"/v1/jobs/{job_id}", json=body).raise_for_status()
        return f"urgent {job_id}"

    def replan(self, at: dt.datetime, limit_s: float, step: str, published: dict[str, Any]) -> dict[str, Any] | None:
        """A re-plan from ``at``; refused for promises, those are withdrawn and it runs once more (2d)."""
        for attempt in range(2):
            started = time.monotonic()
            body = {"date": self.day.isoformat(), "from": at.isoformat(), "time_limit_s": limit_s}
            plan = wait_for_plan(
                self.client, self.client.post("/v1/plans", json=body).raise_for_status().json()["id"], {}, 300
            )
            self.run.wall_s.append(time.monotonic() - started)
            self.run.replans += 1
            if plan["status"] == "done":
                return plan
            if not (plan["error"] or "").startswith("refused"):
                # Not a refusal the day explains: a run that broke (the engine's own checker, a crash).
                self.run.fail(step, f"re-plan {plan['id']} {plan['status']}: {(plan['error'] or '')[:300]}")
                return None
            self.run.refused += 1
            self.check_refusal_kept_the_day(step, published)
            named = sorted(set(REFUSED_FOR_PROMISES.findall(plan["error"] or "")))
            if not named or attempt:
                print(f"  {step}: re-plan {plan['id']} {plan['status']}: {(plan['error'] or '')[:200]}")
                return None
            for kind, job_id in named:
                if kind == "booked":
                    answer = self.client.delete(f"/v1/bookings/{job_id}")
                else:
                    shown = self.client.get(f"/v1/jobs/{job_id}").raise_for_status().json()
                    answer = self.client.put(f"/v1/jobs/{job_id}", json={**shown, "confirmed": False})
                if answer.status_code != 200:
                    self.run.fail(
                        step, f"withdrawing the promise of {job_id}: {answer.status_code} {answer.text[:200]}"
                    )
            self.run.withdrawn += len(named)
        return None

    def check_refusal_kept_the_day(self, step: str, published: dict[str, Any]) -> None:
        """After a refused re-plan, ``published`` is still the day's published plan and its live schedule's."""
        versions = self.client.get("/v1/plans", params={"date": self.day.isoformat()}).raise_for_status().json()
        now_published = max(p["id"] for p in versions if p["published"])
        live = self.client.get("/v1/live", params={"date": self.day.isoformat()}).raise_for_status().json()
        if now_published != published["id"] or live["plan_id"] != published["id"]:
            self.run.fail(step, f"a refused re-plan changed the day: published {now_published}, live {live['plan_id']}")

    def check(self, step: str, at: dt.datetime, published: dict[str, Any], plan: dict[str, Any]) -> None:
        """The checks of the module docstring on a done re-plan against the plan it re-plans."""
        jobs = self.jobs()
        for failure in check_replan(at, published, plan, jobs, self.absences):
            self.run.fail(step, failure)
        failures, released, ended = check_locks(self.locks, plan, jobs)
        for failure in failures:
            self.run.fail(step, failure)
        self.run.locks_released += len(released)
        for job_id in released | ended:
            del self.locks[job_id]

    def hand_move(self, at: dt.datetime, published: dict[str, Any], step: str) -> dict[str, Any]:
        """Move a promised visit more than an hour ahead to another technician, locked there,
        when the edit check finds a place causing no violation; returns the plan published (2f)."""
        jobs = self.jobs()
        shown = visits_of(published)
        ahead = sorted(
            (job_id, tech, instant(visit["start"]))
            for job_id, by in shown.items()
            for tech, visit in by.items()
            if jobs.get(job_id, {}).get("status") == "scheduled"
            and jobs[job_id]["crew_size"] == 1
            and instant(visit["start"]) > at + dt.timedelta(hours=1)
        )
        tries = [
            (job_id, route["technician_id"], sum(1 for v in route["visits"] if instant(v["start"]) < start))
            for job_id, tech, start in self.rng.sample(ahead, min(6, len(ahead)))
            for route in published["routes"]
            if route["technician_id"] != tech
        ]
        for job_id, to, position in self.rng.sample(tries, min(80, len(tries))):
            body = {
                "from": at.isoformat(),
                "moves": [{"job_id": job_id, "technician_id": to, "position": position}],
                "locks": [{"job_id": job_id, "technician": True, "time": True}],
            }
            checked = self.client.post(f"/v1/plans/{published['id']}/edits", json=body).raise_for_status().json()
            if any(not v["standing"] for v in checked["violations"]):
                continue
            applied = self.client.post(f"/v1/plans/{published['id']}/edits", json={**body, "apply": True})
            edited = applied.raise_for_status().json()
            if job_id not in {m["job_id"] for m in edited["changes"]["moved"]}:
                self.run.fail(step, f"the hand move of {job_id} to {to} is not in its changes.moved")
            self.client.post(f"/v1/plans/{edited['plan_id']}/publish").raise_for_status()
            version = self.client.get(f"/v1/plans/{edited['plan_id']}").raise_for_status().json()
            self.locks[job_id] = (to, visits_of(version)[job_id][to]["start"])
            self.run.hand_moves += 1
            return version
        return published


def check_replan(
    at: dt.datetime,
    published: dict[str, Any],
    plan: dict[str, Any],
    jobs: dict[str, dict[str, Any]],
    absences: list[dict[str, Any]],
) -> list[str]:
    """What is wrong with ``plan``, a done re-plan from ``at`` of the day whose published
    plan was ``published``, given the day's ``jobs`` as the API shows them after it and
    the ``technician_unavailable`` disruptions recorded (module docstring, "Checks")."""
    failures: list[str] = []
    old, new = visits_of(published), visits_of(plan)
    changes = plan["changes"]
    settled = set(changes["settled"])
    for job_id in sorted(settled):
        for tech, visit in new.get(job_id, {}).items():
            was = old.get(job_id, {}).get(tech)
            if was is None or any(instant(was[k]) != instant(visit[k]) for k in ("arrival", "start", "end")):
                failures.append(f"{job_id} done or under way moved ({tech})")
        if job_id not in new:
            failures.append(f"{job_id} done or under way is missing from the re-plan")
    for job_id, by in sorted(new.items()):
        job = jobs.get(job_id)
        if job_id in settled:
            continue
        if job is None:
            failures.append(f"{job_id} is planned but is no job of the day")
            continue
        if job["status"] in ("completed", "cancelled", "on_site"):
            failures.append(f"{job_id} is planned again while {job['status']}")
        if job["status"] == "en_route" and set(by) != set(old.get(job_id, {})):
            failures.append(f"{job_id} was taken from the technician on the way to it")
        promise = job["promised_window"]
        for tech, visit in by.items():
            if promise is not None:
                lo, hi = instant(promise["start"]), instant(promise["end"])
                if not (lo <= instant(visit["start"]) <= hi or lo <= instant(visit["arrival"]) <= hi):
                    failures.append(f"promise of {job_id} broken: {tech} starts {visit['start']}")
            for away in absences:
                if away["technician_id"] != tech:
                    continue
                until = instant(away["until"]) if "until" in away else at + dt.timedelta(days=1)
                if instant(visit["start"]) < until and instant(visit["end"]) > instant(away["from"]):
                    failures.append(f"{job_id} planned for {tech} while they are unavailable")
    gone = {j for j, job in jobs.items() if job["status"] in ("cancelled", "completed")}
    told = {j: by for j, by in old.items() if j not in settled and j not in gone}
    planned = {j: by for j, by in new.items() if j not in settled}
    expected = {
        "moved": sorted(j for j in told if j in planned and set(planned[j]) - set(told[j])),
        "dropped": sorted(j for j in told if j not in planned),
        "added": sorted(j for j in planned if j not in told),
    }
    reported = {
        "moved": sorted(m["job_id"] for m in changes["moved"]),
        "dropped": sorted(changes["dropped"]),
        "added": sorted(a["job_id"] for a in changes["added"]),
    }
    for kind, want in expected.items():
        if reported[kind] != want:
            failures.append(f"changes.{kind} {reported[kind]} is not the difference {want}")
    return failures


def check_locks(
    locks: dict[str, tuple[str, str]], plan: dict[str, Any], jobs: dict[str, dict[str, Any]]
) -> tuple[list[str], set[str], set[str]]:
    """The hand moves' ``locks`` (job id → technician, start) in a done re-plan: the
    failures (a locked visit elsewhere or at another time with nothing said), the locks
    it released (in ``changes.locks_not_kept``) and those that are over (the visit done
    or under way, cancelled, open again or carried to another day)."""
    changes, new = plan["changes"], visits_of(plan)
    said = {r["job_id"] for r in changes["locks_not_kept"]}
    failures: list[str] = []
    released: set[str] = set()
    ended: set[str] = set()
    for job_id, (tech, start) in sorted(locks.items()):
        status = jobs.get(job_id, {}).get("status")
        if job_id in changes["settled"] or status in (None, "cancelled", "completed", "open"):
            ended.add(job_id)
        elif job_id in said:
            released.add(job_id)
        else:
            visit = new.get(job_id, {}).get(tech)
            if visit is None or instant(visit["start"]) != instant(start):
                failures.append(f"{job_id}, locked to {tech} at {start}, moved without saying so")
    return failures, released, ended


def one_day(url: str, workers: int, label: str, args: argparse.Namespace) -> Run:
    """Serve a fresh database, publish the sample day with promises and re-plan it step by step."""
    sample = json.loads(SAMPLE_DAY.read_text(encoding="utf-8"))
    day, tz = dt.date.fromisoformat(sample["date"]), ZoneInfo(sample["timezone"])
    if url.startswith("postgresql"):
        reset_database(url)
    token = secrets.token_urlsafe(24)
    run = Run(label)

    def count_server_errors(response: httpx.Response) -> None:
        if response.status_code >= 500:
            run.server_errors += 1
            print(f"  SERVER ERROR {response.status_code} on {response.request.method} {response.request.url.path}")

    steps = QUICK_STEPS if args.quick else tuple(args.steps)
    with tempfile.TemporaryDirectory(prefix="bench-replan-") as tmp:
        log = Path(tmp) / "server.log"
        with (
            server(url, workers, token, log) as base,
            httpx.Client(
                base_url=base,
                headers={"Authorization": f"Bearer {token}"},
                timeout=120,
                limits=httpx.Limits(keepalive_expiry=2.0),  # under uvicorn's 5 s: no request on a closing connection
                event_hooks={"response": [count_server_errors]},
            ) as client,
        ):
            started = client.post("/v1/plans", json={"date": day.isoformat(), "time_limit_s": args.time_limit})
            published = wait_for_plan(client, started.raise_for_status().json()["id"], {}, 300)
            client.post(f"/v1/plans/{published['id']}/publish", json={"confirm_windows": True}).raise_for_status()
            print(f"{label}: plan {published['id']} published with every window promised")
            the_day = Day(client, day, tz, args.seed, run)
            for n, step in enumerate(steps):
                at = the_day.at(step)
                run.steps += 1
                the_day.drive(published, at, step)
                the_day.book(step, n)
                what = the_day.disrupt(at, n)
                plan = the_day.replan(at, args.time_limit, step, published)
                if plan is None:
                    continue
                the_day.check(step, at, published, plan)
                changes = plan["changes"]
                run.moved += len(changes["moved"])
                run.retimed += len(changes["retimed"])
                run.dropped += len(changes["dropped"])
                run.added += len(changes["added"])
                print(
                    f"  {step}: {what}; re-plan {plan['id']}: {len(changes['moved'])} moved, "
                    f"{len(changes['retimed'])} retimed, {len(changes['dropped'])} dropped, "
                    f"{len(changes['added'])} added"
                )
                client.post(f"/v1/plans/{plan['id']}/publish").raise_for_status()
                published = client.get(f"/v1/plans/{plan['id']}").raise_for_status().json()
                if n % 2:
                    published = the_day.hand_move(at, published, step)
        if run.server_errors:
            print("  server log (end):\n" + log.read_text(errors="replace")[-3000:])
    return run


def table(runs: list[Run]) -> str:
    """The markdown table of the runs."""
    head = (
        "| database | steps | re-plans (refused) | promises withdrawn | booked (no slot) | hand moves (locks "
        "released) | moved | retimed | dropped | added | re-plan p50 / p95 s | check failures | server errors |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = []
    for r in runs:
        p50 = statistics.median(r.wall_s) if r.wall_s else math.nan
        p95 = statistics.quantiles(r.wall_s, n=20)[-1] if len(r.wall_s) > 1 else p50
        rows.append(
            f"| {r.label} | {r.steps} | {r.replans} ({r.refused}) | {r.withdrawn} | {r.booked} ({r.no_slot}) | "
            f"{r.hand_moves} ({r.locks_released}) | {r.moved} | {r.retimed} | {r.dropped} | {r.added} | "
            f"{p50:.2f} / {p95:.2f} | {len(r.failures)} | {r.server_errors} |"
        )
    return "\n".join([head, *rows])


def main(argv: list[str] | None = None) -> list[Run]:
    """Run the days and print the table; exits 1 when a check failed or the server erred."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1, help="seed of the field's draws and the disruptions")
    parser.add_argument("--steps", nargs="+", default=list(STEPS), help="re-plan instants (HH:MM) on the sample day")
    parser.add_argument("--time-limit", type=seconds, default=3.0, help="solver seconds for each plan and re-plan")
    database_options(parser)
    parser.add_argument("--quick", action="store_true", help=f"SQLite, re-plans at {', '.join(QUICK_STEPS)} only")
    args = parser.parse_args(argv)
    for step in args.steps:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", step):
            parser.error(f"--steps: '{step}' is not a time of day as HH:MM")
    if sorted(args.steps) != list(args.steps):
        parser.error("--steps: give the instants in order, earliest first")
    databases = [("SQLite", None, 1)]
    if not (args.sqlite_only or args.quick):
        databases.append(("PostgreSQL", args.database_url, args.workers))
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-replan-db-") as tmp:
        for name, url, workers in databases:
            runs.append(one_day(url or f"sqlite:///{Path(tmp) / 'replan.db'}", workers, name, args))
    print()
    print(f"seed {args.seed}, {args.time_limit:g} s a plan and re-plan, the sample day with every window promised")
    print(table(runs))
    bad = [r for r in runs if r.failures or r.server_errors]
    print(
        "- no check failed and no server error: "
        + ("met" if not bad else "MISSED on " + ", ".join(r.label for r in bad))
    )
    if bad:
        raise SystemExit(1)
    return runs


if __name__ == "__main__":
    main()
