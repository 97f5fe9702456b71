"""Webhooks (docs/feed.md) against a real local HTTP receiver: it fails its first
three calls, is down for a while, comes back, and ends with every event once it
de-duplicates by id, each signed; a served API killed and started again between
the event and its delivery loses nothing (the outbox survives); the subscription
API refuses bad input naming the field and is the dispatcher's alone."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api import create_app
from dispatch import webhooks
from dispatch.settings import WebhookSettings
from tests.api.conftest import DISPATCHER, POSTGRES_URL, auth, reset_postgres, settings_for
from tests.api.test_e2e_uvicorn import free_port, start_server, stop_server
from tests.conftest import today

SECRET = "a-shared-secret-of-the-receiver"
FAST = WebhookSettings(poll_s=0.05, timeout_s=1.0, backoff_base_s=0.1, backoff_cap_s=0.4, give_up_after_s=0)
FAST_ENV = {
    "WEBHOOK_POLL_S": "0.05",
    "WEBHOOK_TIMEOUT_S": "1",
    "WEBHOOK_BACKOFF_BASE_S": "0.1",
    "WEBHOOK_BACKOFF_CAP_S": "0.4",
    "WEBHOOK_GIVE_UP_AFTER_S": "0",
}
DAY = (today() + dt.timedelta(days=7)).isoformat()


class Receiver:
    """A webhook receiver on a loopback port: answers 500 to its first ``fail_first``
    calls, checks each signature, and keeps each event once by ``X-Dispatch-Event-Id``."""

    def __init__(self, secret: str, fail_first: int = 0) -> None:
        self.secret = secret
        self.fail_first = fail_first
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.calls = 0
        self.events: dict[int, dict[str, Any]] = {}
        self.duplicates = 0
        self.bad_signatures = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver.take(body, self.headers.get("X-Dispatch-Event-Id"), self.headers)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        """Down: the port is closed (connections are refused) until ``start`` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def take(self, body: bytes, event_id: str | None, headers: Any) -> int:
        with self._lock:
            self.calls += 1
            if self.calls <= self.fail_first:
                return 500
            expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, headers.get("X-Dispatch-Signature", "")):
                self.bad_signatures += 1
                return 401
            event = json.loads(body)
            assert event_id is not None and int(event_id) == event["id"]
            if event["id"] in self.events:
                self.duplicates += 1
            else:
                self.events[event["id"]] = event
            return 204

    def received(self) -> dict[int, dict[str, Any]]:
        with self._lock:
            return dict(self.events)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(SECRET, fail_first=3)
    yield r
    r.stop()


def until(condition: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"waited {timeout_s} s for {what}")


def put_jobs(http: TestClient | httpx.Client, ids: list[str]) -> None:
    job = {"location": {"lat": 60.17, "lon": 24.94}, "duration_min": 60, "date": DAY}
    for job_id in ids:
        response = http.put(f"/v1/jobs/{job_id}", json=job, headers=DISPATCHER)
        assert response.status_code in (200, 201), response.text


def cancel(http: TestClient | httpx.Client, job_id: str) -> None:
    assert http.delete(f"/v1/jobs/{job_id}", headers=DISPATCHER).status_code == 200


def feed_ids(http: TestClient | httpx.Client) -> dict[int, dict[str, Any]]:
    page = http.get("/v1/events", params={"limit": 1000}, headers=DISPATCHER).json()
    return {e["id"]: e for e in page["events"]}


def deliveries(http: TestClient | httpx.Client, hook_id: int) -> list[dict[str, Any]]:
    response = http.get(f"/v1/webhooks/{hook_id}/deliveries", params={"limit": 1000}, headers=DISPATCHER)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def subscribe(http: TestClient | httpx.Client, url: str) -> int:
    body = {"url": url, "secret": SECRET, "types": ["job.status"]}
    response = http.post("/v1/webhooks", json=body, headers=DISPATCHER)
    assert response.status_code == 201, response.text
    hook_id: int = response.json()["id"]
    return hook_id


def test_every_event_reaches_a_receiver_that_fails_then_is_down_for_a_while_signed_and_once_by_id(
    database_url: str, receiver: Receiver
) -> None:
    settings = dataclasses.replace(settings_for(database_url, seed=False), webhooks=FAST)
    with TestClient(create_app(settings)) as client:
        hook = subscribe(client, receiver.url)
        put_jobs(client, [f"J{i}" for i in range(8)])
        receiver.start()
        for i in range(4):
            cancel(client, f"J{i}")
        until(lambda: len(receiver.received()) == 4, "the first four events")
        until(lambda: sum(d["state"] == "delivered" for d in deliveries(client, hook)) == 4, "four delivered")
        assert receiver.calls >= 3 + 4  # three 500s, then the four

        receiver.stop()  # down for a while: events keep coming, deliveries keep failing
        for i in range(4, 8):
            cancel(client, f"J{i}")

        def failing() -> bool:
            pending = [d for d in deliveries(client, hook) if d["state"] == "pending"]
            retried = any(d["attempts"] >= 2 and d["last_status"] is None for d in pending)
            return retried and len(pending) == 4 and all(d["last_error"] for d in pending)

        until(failing, "every delivery failing against the closed port, one of them twice")
        pending = [d for d in deliveries(client, hook) if d["state"] == "pending"]
        assert len(pending) == 4 and all(d["last_error"] and d["next_attempt_at"] for d in pending)
        [listed] = client.get("/v1/webhooks", headers=DISPATCHER).json()
        assert listed["deliveries"] == {"pending": 4, "delivered": 4, "failed": 0}

        receiver.start()
        until(lambda: len(receiver.received()) == 8, "every event after the receiver came back")
        feed = feed_ids(client)
        assert receiver.received() == {i: e for i, e in feed.items() if e["type"] == "job.status"}
        assert receiver.bad_signatures == 0
        # A delivery is recorded once the receiver has answered: the last one may still be
        # pending for a moment after its event arrived.
        until(lambda: all(d["state"] != "pending" for d in deliveries(client, hook)), "the last answer recorded")
        shown = deliveries(client, hook)
        assert {d["state"] for d in shown} == {"delivered"} and {d["event_id"] for d in shown} == set(feed)
        assert max(d["attempts"] for d in shown) >= 2 and all(d["last_status"] == 204 for d in shown)


def test_a_served_api_killed_and_started_again_before_delivering_loses_nothing(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in FAST_ENV.items():
        monkeypatch.setenv(name, value)
    url = f"sqlite:///{tmp_path / 'served.db'}"
    server = start_server(tmp_path, url)
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            hook = subscribe(http, receiver.url)
            put_jobs(http, ["K1", "K2", "K3"])
            for job_id in ("K1", "K2", "K3"):
                cancel(http, job_id)
            # The receiver is down: each delivery is tried and waits in the outbox.
            until(lambda: all(d["attempts"] >= 1 for d in deliveries(http, hook)), "failed first attempts")
            told = feed_ids(http)
        server.process.kill()  # no clean shutdown
        server.process.wait()
    finally:
        stop_server(server)

    receiver.fail_first = 0
    receiver.start()
    server = start_server(tmp_path, url)
    try:
        until(lambda: len(receiver.received()) == 3, "the three events after the restart")
        assert receiver.received() == told and receiver.bad_signatures == 0
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            until(lambda: all(d["state"] != "pending" for d in deliveries(http, hook)), "the last answer recorded")
            assert {d["state"] for d in deliveries(http, hook)} == {"delivered"}
    finally:
        stop_server(server)


def test_the_subscription_api_names_the_wrong_field_and_never_shows_the_secret(client: TestClient) -> None:
    good = {"url": "https://example.invalid/hook", "secret": SECRET, "types": ["job.status", "plan.published"]}
    for change, field in (
        ({"url": "ftp://example.invalid/hook"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https:///no-host"}, "url"),
        # Hosts no delivery can reach, a port none listens on, and credentials every
        # dispatcher would read back: each was accepted before.
        ({"url": "https://a..b/hook"}, "url"),
        ({"url": "https://xn--/hook"}, "url"),
        ({"url": f"https://{'x' * 64}.example/hook"}, "url"),
        ({"url": "https://example.invalid:0/hook"}, "url"),
        ({"url": "https://user:password@example.invalid/hook"}, "url"),
        ({"secret": "short"}, "secret"),
        ({"types": []}, "types"),
        ({"types": ["job.teleported"]}, "types"),
    ):
        response = client.post("/v1/webhooks", json={**good, **change}, headers=DISPATCHER)
        assert response.status_code == 422, (change, response.text)
        assert response.json()["field"] == field, response.text
    created = client.post("/v1/webhooks", json=good, headers=DISPATCHER)
    assert created.status_code == 201 and set(created.json()) == {"id"}
    hook = created.json()["id"]
    [listed] = client.get("/v1/webhooks", headers=DISPATCHER).json()
    assert listed["url"] == good["url"] and listed["types"] == ["job.status", "plan.published"]
    assert SECRET not in json.dumps(listed)

    booking = auth(client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"])
    assert client.post("/v1/webhooks", json=good, headers=booking).status_code == 403
    assert client.get("/v1/webhooks", headers=booking).status_code == 403
    assert client.get(f"/v1/webhooks/{hook}/deliveries", headers=booking).status_code == 403

    assert client.delete(f"/v1/webhooks/{hook}", headers=DISPATCHER).status_code == 204
    assert client.delete(f"/v1/webhooks/{hook}", headers=DISPATCHER).status_code == 404
    missing = client.get(f"/v1/webhooks/{hook}/deliveries", headers=DISPATCHER)
    assert missing.status_code == 404 and missing.json()["field"] == "webhook_id"
    assert client.get("/v1/webhooks", headers=DISPATCHER).json() == []


def test_a_served_api_on_postgresql_with_two_workers_delivers_each_event_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes run the delivery loop on one outbox: each delivery is claimed by one."""
    for name, value in FAST_ENV.items():
        monkeypatch.setenv(name, value)
    reset_postgres()
    receiver = Receiver(SECRET)
    receiver.start()
    server = start_server(tmp_path, POSTGRES_URL, workers=2)
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            subscribe(http, receiver.url)
            ids = [f"P{i}" for i in range(12)]
            put_jobs(http, ids)
            for job_id in ids:
                cancel(http, job_id)
            until(lambda: len(receiver.received()) == 12, "twelve events")
            told = feed_ids(http)
        assert receiver.received() == told and receiver.duplicates == 0
    finally:
        stop_server(server)
        receiver.stop()


def test_a_failing_webhook_gets_one_attempt_a_round_and_its_other_claimed_deliveries_wait_untouched(
    tmp_path: Path,
) -> None:
    good, bad = Receiver(SECRET), Receiver(SECRET, fail_first=10**6)
    good.start()
    bad.start()
    quiet = dataclasses.replace(FAST, deliver=False)  # no loop: this test sends the rounds itself
    settings = dataclasses.replace(settings_for(f"sqlite:///{tmp_path / 'd.db'}", seed=False), webhooks=quiet)
    try:
        with TestClient(create_app(settings)) as client, httpx.Client() as http:
            good_hook, bad_hook = subscribe(client, good.url), subscribe(client, bad.url)
            put_jobs(client, ["A", "B", "C"])
            for job_id in ("A", "B", "C"):
                cancel(client, job_id)
            state = client.app.state.dispatch  # type: ignore[attr-defined]
            now = state.clock.now()

            sent = webhooks.deliver_due(state.engine, now, quiet, http)

            assert len(good.received()) == 3 and bad.calls == 1 and sent == 4
            assert {d["state"] for d in deliveries(client, good_hook)} == {"delivered"}
            waiting = sorted(deliveries(client, bad_hook), key=lambda d: d["attempts"])
            assert [d["attempts"] for d in waiting] == [0, 0, 1] and {d["state"] for d in waiting} == {"pending"}
            untouched = [dt.datetime.fromisoformat(d["next_attempt_at"]) for d in waiting[:2]]
            assert all(at <= now for at in untouched)  # due again at once, not leased away

            webhooks.deliver_due(state.engine, now, quiet, http)  # the next round: one more attempt
            assert bad.calls == 2 and len(good.received()) == 3
    finally:
        good.stop()
        bad.stop()
