"""The client turns every failure into one readable ``BoardError``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import httpx
import pytest

from dashboard.client import BoardError, DispatchClient, server_sent_events
from dashboard.models import RunProgress
from tests.dashboard.conftest import ADMIN, DAY, TIME_LIMIT_S, Api, free_port

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


def test_waiting_for_a_plan_without_an_event_stream_polls_and_reports_each_answer_until_it_ends() -> None:
    answers = iter(["queued", "running", "done"])
    seen: list[str] = []
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path.endswith("/events"):  # an API from before the stream
            return problem(404, "Not Found", "Not Found")
        status = next(answers)
        body = {"id": 3, "date": "2026-12-01", "region": "helsinki", "status": status, "progress": 0.5}
        return httpx.Response(200, json=body)

    final = client_answering(handler).wait_for_plan(3, lambda p: seen.append(p.status), poll_s=0)
    assert final.status == "done" and seen == ["queued", "running", "done"]
    assert paths == ["/v1/plans/3/events"] + ["/v1/plans/3"] * 3


def sse(*events: tuple[str, dict[str, object]], keep_alive: bool = False) -> bytes:
    """A ``text/event-stream`` body of ``events`` (with a keep-alive comment first)."""
    text = ": keep-alive\n\n" if keep_alive else ""
    text += "".join(f"event: {kind}\ndata: {json.dumps(data)}\n\n" for kind, data in events)
    return text.encode()


def test_server_sent_events_are_read_with_their_type_and_data_and_comments_show_time_passing() -> None:
    lines = ["event: progress", 'data: {"a":', "data: 1}", "", ": keep-alive", "", "data:x", "id: 7", "", "", "data: y"]
    # A keep-alive is a comment; a field without its space is read alike; data never ended is no event.
    assert list(server_sent_events(lines)) == [("progress", '{"a":\n1}'), None, ("message", "x")]


def test_a_stream_that_breaks_before_the_run_ends_is_followed_by_polling() -> None:
    running = {"id": 3, "status": "running", "phase": "solving", "progress": 0.4, "first_answer_s": None, "error": None}
    seen: list[tuple[str, float]] = []
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path.endswith("/events"):  # one event, then the connection is cut
            body = sse(("progress", running), keep_alive=True)
            return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
        plan = {"id": 3, "date": "2026-12-01", "region": "helsinki", "status": "done", "progress": 1.0}
        return httpx.Response(200, json=plan)

    final = client_answering(handler).wait_for_plan(3, lambda p: seen.append((p.status, p.progress)), poll_s=0)
    assert final.status == "done"
    assert seen == [("running", 0.4), ("done", 1.0)]
    assert paths == ["/v1/plans/3/events", "/v1/plans/3"]


def test_a_stream_that_ends_with_the_run_is_read_to_its_end_and_the_plan_fetched_once() -> None:
    state = {"id": 3, "status": "queued", "phase": None, "progress": 0.0, "first_answer_s": None, "error": None}
    solving = {**state, "status": "running", "phase": "solving", "progress": 0.5}
    done = {**state, "status": "done", "progress": 1.0}
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path.endswith("/events"):
            body = sse(("progress", state), ("progress", solving), ("progress", done), ("end", done))
            return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
        plan = {"id": 3, "date": "2026-12-01", "region": "helsinki", "status": "done", "progress": 1.0}
        return httpx.Response(200, json=plan)

    seen: list[RunProgress] = []
    final = client_answering(handler).wait_for_plan(3, seen.append)
    assert final.status == "done"
    assert [(s.status, s.phase, s.progress) for s in seen] == [
        ("queued", None, 0.0),
        ("running", "solving", 0.5),
        ("done", None, 1.0),
    ]
    assert paths == ["/v1/plans/3/events", "/v1/plans/3"]


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


class Recording(httpx.HTTPTransport):
    """The real transport, noting the path of every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return super().handle_request(request)


def test_waiting_for_a_plan_of_the_real_api_reads_its_event_stream_and_fetches_the_plan_once(api: Api) -> None:
    transport = Recording()
    client = DispatchClient(api.url, ADMIN, transport=transport)
    started = client.start_plan(dt.date.fromisoformat(DAY), None, TIME_LIMIT_S)
    seen: list[RunProgress] = []
    final = client.wait_for_plan(started.id, seen.append)
    assert final.status == "done" and final.routes
    assert transport.paths == ["/v1/plans", f"/v1/plans/{started.id}/events", f"/v1/plans/{started.id}"]
    assert seen[-1].status == "done" and seen[-1].progress == 1.0
    progress = [s.progress for s in seen]
    assert progress == sorted(progress)
    assert len(set(seen)) == len(seen)  # one report per change


OTHER_DAY = "2027-06-01"  # not the sample day the board's other tests read


def new_job(**extra: object) -> dict[str, object]:
    return {"kind": "repair", "location": {"lat": 60.17, "lon": 24.94}, "duration_min": 60, "date": OTHER_DAY, **extra}


def test_adding_a_job_never_replaces_one_that_exists_and_an_empty_id_is_asked_for(api: Api) -> None:
    client = DispatchClient(api.url, ADMIN)
    first = client.add_job("BRD-ADD-1", new_job(notes="the first customer"))
    with pytest.raises(BoardError) as taken:
        client.add_job("BRD-ADD-1", new_job(duration_min=30))
    assert taken.value.field == "job_id" and "already exists" in str(taken.value)
    assert client.job("BRD-ADD-1") == first
    with pytest.raises(BoardError) as empty:
        client.add_job("", new_job())
    assert str(empty.value) == "Enter a job id." and empty.value.field == "job_id"


def test_an_id_with_url_characters_is_sent_as_one_id_and_refused_by_the_api_not_stored_as_another(api: Api) -> None:
    client = DispatchClient(api.url, ADMIN)
    with pytest.raises(BoardError) as caught:
        client.add_job("BRD-Q?x=1", new_job())
    assert caught.value.status == 422 and caught.value.field == "job_id", caught.value
    assert api.http.get("/v1/jobs/BRD-Q").status_code == 404


def test_pinning_a_cancelled_job_is_refused_and_leaves_it_cancelled(api: Api) -> None:
    client = DispatchClient(api.url, ADMIN)
    client.add_job("BRD-CXL-1", new_job())
    client.cancel_job("BRD-CXL-1")
    with pytest.raises(BoardError) as caught:
        client.pin_job("BRD-CXL-1", "T01")
    assert "is cancelled" in str(caught.value) and caught.value.field == "job_id"
    assert client.job("BRD-CXL-1").status == "cancelled"


def test_a_finished_plan_read_before_it_was_published_reads_published_after_the_board_publishes(api: Api) -> None:
    """Finished plans are cached long (their routes never change), but publishing changes
    whether they are published: the Week page and the Plan page's heading read it."""
    from dashboard import data

    board = data.Board(api.url, ADMIN, dt.date.fromisoformat(OTHER_DAY), None)
    plan_id = int(str(api.plan(day=OTHER_DAY)["id"]))
    assert data.finished_plan(board, plan_id).published is False
    board.client.publish(plan_id)
    data.forget_plans()  # what the board does after publishing
    assert data.finished_plan(board, plan_id).published is True
