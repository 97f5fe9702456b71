"""The client turns every failure into one readable ``BoardError``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import httpx
import pytest

from dashboard.client import BoardError, DispatchClient
from tests.dashboard.conftest import free_port

PROBLEM = "application/problem+json"


def client_answering(handler: Callable[[httpx.Request], httpx.Response]) -> DispatchClient:
    return DispatchClient("http://api.test", "tok", transport=httpx.MockTransport(handler))


def problem(status: int, title: str, detail: str, **extra: object) -> httpx.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return httpx.Response(status, content=json.dumps(body), headers={"content-type": PROBLEM})


def test_connection_refused_names_the_address_and_how_to_start_the_api() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BoardError) as caught:
        DispatchClient(url, "tok").technicians()
    assert caught.value.kind == "unreachable"
    assert str(caught.value).startswith(f"The dispatch API at {url} cannot be reached (connection refused).")


def test_a_401_says_the_token_was_refused() -> None:
    client = client_answering(lambda _: problem(401, "Unauthorized", "unknown token"))
    with pytest.raises(BoardError) as caught:
        client.jobs(dt.date(2026, 12, 1))
    assert caught.value.kind == "unauthorized" and caught.value.status == 401
    assert str(caught.value) == "The API refused the token (unknown token). Check the dispatcher token in the sidebar."


def test_a_403_says_a_dispatcher_token_is_needed() -> None:
    client = client_answering(lambda _: problem(403, "Forbidden", "this needs the dispatcher role"))
    with pytest.raises(BoardError) as caught:
        client.plans(dt.date(2026, 12, 1))
    assert caught.value.kind == "forbidden"
    assert "needs a dispatcher token" in str(caught.value)


def test_a_problem_keeps_its_detail_field_and_row_errors() -> None:
    errors = [{"field": "duration_min", "message": "must be > 0"}]
    client = client_answering(
        lambda _: problem(422, "Invalid input", "duration_min: must be > 0", field="duration_min", errors=errors)
    )
    with pytest.raises(BoardError) as caught:
        client.start_plan(dt.date(2026, 12, 1), None, 5)
    assert str(caught.value) == "duration_min: must be > 0 (field duration_min)"
    assert caught.value.field == "duration_min" and caught.value.errors == errors


def test_a_missing_import_endpoint_is_called_unsupported() -> None:
    client = client_answering(lambda _: problem(404, "Not Found", "Not Found"))
    with pytest.raises(BoardError) as caught:
        client.import_jobs("jobs.csv", b"id\n")
    assert caught.value.kind == "unsupported"
    assert "no CSV import" in str(caught.value)


def test_an_answer_that_is_not_json_is_reported_not_raised_raw() -> None:
    client = client_answering(lambda _: httpx.Response(502, text="Bad gateway"))
    with pytest.raises(BoardError) as caught:
        client.technicians()
    assert str(caught.value) == "Bad gateway" and caught.value.status == 502
    odd = client_answering(lambda _: httpx.Response(200, json={"unexpected": True}))
    with pytest.raises(BoardError, match="does not understand"):
        odd.plan(1)


def test_pinning_puts_the_job_back_whole_with_only_the_pin_changed() -> None:
    stored = {
        "id": "J1",
        "status": "open",
        "booked": True,
        "kind": "repair",
        "date": "2026-12-01",
        "location": {"lat": 60.1, "lon": 24.9},
        "duration_min": 30,
        "pinned_technician_id": None,
    }
    sent: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            body = json.loads(request.content)
            sent.append(body)
            return httpx.Response(200, json={**stored, **body})
        return httpx.Response(200, json=stored)

    pinned = client_answering(handler).pin_job("J1", "T7")
    assert pinned.pinned_technician_id == "T7"
    writable = {k: v for k, v in stored.items() if k not in ("id", "status", "booked")}
    assert sent == [{**writable, "pinned_technician_id": "T7"}]


def test_waiting_for_a_plan_reports_each_poll_until_it_ends() -> None:
    answers = iter(["queued", "running", "done"])
    seen: list[str] = []

    def handler(_: httpx.Request) -> httpx.Response:
        status = next(answers)
        body = {"id": 3, "date": "2026-12-01", "region": "helsinki", "status": status, "progress": 0.5}
        return httpx.Response(200, json=body)

    final = client_answering(handler).wait_for_plan(3, lambda p: seen.append(p.status), poll_s=0)
    assert final.status == "done" and seen == ["queued", "running", "done"]


def test_a_re_plan_sends_from_and_an_open_ended_absence_sends_no_until() -> None:
    sent: list[tuple[str, dict[str, object]]] = []
    start = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sent.append((request.url.path, body))
        if request.url.path == "/v1/plans":
            plan = {"id": 4, "date": "2026-12-01", "region": "helsinki", "status": "queued"}
            return httpx.Response(202, json=plan)
        return httpx.Response(201, json={"id": 1, "date": "2026-12-01", **body})

    client = client_answering(handler)
    assert client.start_replan(dt.date(2026, 12, 1), None, start, 2.0).status == "queued"
    assert client.technician_unavailable("T01", start).technician_id == "T01"
    assert client.running_late("T02", start, 60.2, 24.9).location is not None
    assert sent == [
        ("/v1/plans", {"date": "2026-12-01", "time_limit_s": 2.0, "from": "2026-12-01T09:30:00+02:00"}),
        ("/v1/disruptions", {"type": "technician_unavailable", "technician_id": "T01", "from": start.isoformat()}),
        (
            "/v1/disruptions",
            {
                "type": "running_late",
                "technician_id": "T02",
                "at": start.isoformat(),
                "location": {"lat": 60.2, "lon": 24.9},
            },
        ),
    ]
