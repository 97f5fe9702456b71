"""The board's one way to the service: a small typed client of the v1 API.

Every failure leaves as a ``BoardError`` whose message a dispatcher can act on
(API down, wrong token, the API's own problem detail); callers show
``str(error)`` and never a traceback.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal, NoReturn, TypeVar
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter, ValidationError

from dashboard.models import (
    Clock,
    Disruption,
    EditResult,
    FieldEvent,
    ImportResult,
    Job,
    LiveDay,
    Plan,
    RunProgress,
    Technician,
    WorkingDay,
)

ErrorKind = Literal["unreachable", "timeout", "unauthorized", "forbidden", "not_found", "unsupported", "problem"]
DEFAULT_TIMEOUT_S = 15.0
STREAM_SILENCE_S = 60.0
"""An event stream that sends nothing for this long is taken as broken (the API sends a
keep-alive at least every 15 s)."""
log = logging.getLogger(__name__)
T = TypeVar("T")
_TECHNICIANS = TypeAdapter(list[Technician])
_TECHNICIAN = TypeAdapter(Technician)
_WORKING_DAYS = TypeAdapter(list[WorkingDay])
_JOBS = TypeAdapter(list[Job])
_JOB = TypeAdapter(Job)
_PLANS = TypeAdapter(list[Plan])
_PLAN = TypeAdapter(Plan)
_IMPORT = TypeAdapter(ImportResult)
_CLOCK = TypeAdapter(Clock)
_LIVE = TypeAdapter(LiveDay)
_DISRUPTION = TypeAdapter(Disruption)
_FIELD_EVENT = TypeAdapter(FieldEvent)
_EDIT = TypeAdapter(EditResult)
_PROGRESS = TypeAdapter(RunProgress)
# Fields of a job as GET shows it that PUT does not take back.
_READ_ONLY_JOB_FIELDS = (
    "id",
    "status",
    "booked",
    "reason",
    "actual_start",
    "actual_end",
    "promised_window",
    "failed_visit",
)


def _segment(value: str) -> str:
    """``value`` as one segment of a URL path: an id with ``?``, ``/`` or ``#`` in it is
    sent as it is, not as a query or another path (the API then names what is wrong)."""
    return quote(value, safe="")


class BoardError(Exception):
    """A failed API call, with a message meant for the dispatcher's screen."""

    def __init__(
        self,
        message: str,
        kind: ErrorKind = "problem",
        status: int | None = None,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.status = status
        self.field = field
        self.errors = errors or []

    def __str__(self) -> str:
        return self.message


def _problem_text(response: httpx.Response) -> tuple[str, str | None, list[dict[str, Any]]]:
    """The ``detail`` (or title), ``field`` and ``errors`` of a problem response."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()[:200] or response.reason_phrase
        return text, None, []
    if not isinstance(body, dict):
        return str(body)[:200], None, []
    detail = str(body.get("detail") or body.get("title") or response.reason_phrase)
    field = body.get("field")
    errors = body.get("errors")
    return detail, str(field) if field else None, errors if isinstance(errors, list) else []


def server_sent_events(lines: Iterable[str]) -> Iterator[tuple[str, str] | None]:
    """The events of a ``text/event-stream``, read line by line: ``(event, data)`` for
    each event (``message`` when it names none; multi-line data joined by newlines) and
    None for each comment (a keep-alive), so that a reader sees time pass. Fields other
    than ``event`` and ``data`` (``id``, ``retry``) are skipped: the API sends none."""
    kind = ""
    data: list[str] = []
    for line in lines:
        if line.startswith(":"):
            yield None
            continue
        if not line:
            if data:
                yield kind or "message", "\n".join(data)
            kind, data = "", []
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            kind = value
        elif name == "data":
            data.append(value)


class DispatchClient:
    """Calls the v1 API as one dispatcher (``token``) at ``base_url``."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token.strip()}", "Accept": "application/json"},
            timeout=timeout_s,
            transport=transport,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # -- the service -------------------------------------------------------

    def clock(self) -> Clock:
        """The service's now and today (the dispatch area's date, not this machine's)."""
        return self._parse(_CLOCK, self._request("GET", "/v1/clock"))

    # -- master data -------------------------------------------------------

    def technicians(self, region: str | None = None) -> list[Technician]:
        """All technicians (of ``region`` when given)."""
        params = {"region": region} if region else None
        return self._parse(_TECHNICIANS, self._request("GET", "/v1/technicians", params=params))

    def put_technician(self, technician_id: str, body: dict[str, Any]) -> Technician:
        """Create or replace a technician whole (``PUT /v1/technicians/{id}``)."""
        return self._parse(_TECHNICIAN, self._request("PUT", f"/v1/technicians/{_segment(technician_id)}", json=body))

    def working_time(self, date_from: dt.date, date_to: dt.date, region: str | None = None) -> list[WorkingDay]:
        """Each technician's working time on each date from ``date_from`` to ``date_to``
        (``GET /v1/working-time``): who works, from when to when, with which pause."""
        params = {
            "date_from": date_from.isoformat(),
            "date_to": date_to.isoformat(),
            **({"region": region} if region else {}),
        }
        return self._parse(_WORKING_DAYS, self._request("GET", "/v1/working-time", params=params))

    def jobs(self, day: dt.date, region: str | None = None) -> list[Job]:
        """The jobs of ``day`` (cancelled ones included, with their status)."""
        params = {"date": day.isoformat(), **({"region": region} if region else {})}
        return self._parse(_JOBS, self._request("GET", "/v1/jobs", params=params))

    def job(self, job_id: str) -> Job:
        """One job."""
        return self._parse(_JOB, self._request("GET", f"/v1/jobs/{_segment(job_id)}"))

    def pin_job(self, job_id: str, technician_id: str | None) -> Job:
        """Pin ``job_id`` to ``technician_id`` (None removes the pin). A cancelled job
        is refused (``BoardError``): putting it back whole would reopen it.

        The API has no partial update, so this reads the job and puts it back
        whole with the new pin."""
        return self._replace_job(job_id, keep_cancelled=True, pinned_technician_id=technician_id)

    def restore_job(self, job_id: str) -> Job:
        """Put a taken-out (cancelled) job back: PUT reopens it."""
        return self._replace_job(job_id)

    def cancel_job(self, job_id: str) -> Job:
        """Take a job out of later plans (DELETE /v1/jobs/{id})."""
        return self._parse(_JOB, self._request("DELETE", f"/v1/jobs/{_segment(job_id)}"))

    def put_job(self, job_id: str, body: dict[str, Any]) -> Job:
        """Create or replace a job whole (``PUT /v1/jobs/{id}``)."""
        return self._parse(_JOB, self._request("PUT", f"/v1/jobs/{_segment(job_id)}", json=body))

    def add_job(self, job_id: str, body: dict[str, Any]) -> Job:
        """Create a new job; ``BoardError`` naming ``job_id`` when the id is empty or
        already taken (``PUT`` would replace that job, its customer's details lost)."""
        if not job_id:
            raise BoardError("Enter a job id.", field="job_id")
        try:
            self._request("GET", f"/v1/jobs/{_segment(job_id)}")
        except BoardError as exc:
            if exc.status != 404:
                raise
        else:
            raise BoardError(f"Job {job_id} already exists: choose another id for the new job.", field="job_id")
        return self.put_job(job_id, body)

    def import_jobs(self, filename: str, content: bytes, day: dt.date | None = None) -> ImportResult:
        """Import a CSV of jobs (rows without a date fall on ``day``); the answer
        lists the rows refused, by line and field."""
        files = {"file": (filename, content, "text/csv")}
        params = {"date": day.isoformat()} if day is not None else None
        try:
            response = self._request("POST", "/v1/jobs/import", files=files, params=params)
        except BoardError as exc:
            if exc.status in (404, 405) and exc.kind in ("not_found", "problem"):
                raise BoardError(
                    f"This API has no CSV import (POST /v1/jobs/import answered {exc.status}).",
                    "unsupported",
                    exc.status,
                ) from None
            raise
        return self._parse(_IMPORT, response)

    # -- plans -------------------------------------------------------------

    def start_plan(
        self, day: dt.date, region: str | None, time_limit_s: float, last_day: dt.date | None = None
    ) -> Plan:
        """Start a plan run of ``day`` (with ``last_day``: of the days ``day``..``last_day``
        in one solve, docs/horizon.md); it comes back queued."""
        body: dict[str, Any] = {"date": day.isoformat(), "time_limit_s": time_limit_s}
        if last_day is not None:
            body = {"date_from": day.isoformat(), "date_to": last_day.isoformat(), "time_limit_s": time_limit_s}
        if region:
            body["region"] = region
        return self._parse(_PLAN, self._request("POST", "/v1/plans", json=body))

    def start_replan(
        self,
        day: dt.date,
        region: str | None,
        at: dt.datetime,
        time_limit_s: float,
        stability: Mapping[str, float] | None = None,
    ) -> Plan:
        """Start a re-plan of what is left of ``day`` at the instant ``at`` (``POST
        /v1/plans`` with ``from``; ``stability``: its own costs for changes, default the
        service's); it comes back queued, and once done its ``changes`` say what it
        changes against the published plan."""
        body: dict[str, Any] = {"date": day.isoformat(), "time_limit_s": time_limit_s, "from": at.isoformat()}
        if stability is not None:
            body["stability"] = dict(stability)
        if region:
            body["region"] = region
        return self._parse(_PLAN, self._request("POST", "/v1/plans", json=body))

    def plan(self, plan_id: int) -> Plan:
        """One plan version: status and progress, and its contents once done."""
        return self._parse(_PLAN, self._request("GET", f"/v1/plans/{plan_id}"))

    def plans(self, day: dt.date, region: str | None = None) -> list[Plan]:
        """The plan versions of ``day``, newest first, the published one marked."""
        params = {"date": day.isoformat(), **({"region": region} if region else {})}
        return self._parse(_PLANS, self._request("GET", "/v1/plans", params=params))

    def publish(self, plan_id: int) -> Plan:
        """Make a done version the current plan of its day."""
        return self._parse(_PLAN, self._request("POST", f"/v1/plans/{plan_id}/publish"))

    def edit_plan(
        self,
        plan_id: int,
        moves: list[dict[str, Any]],
        locks: list[dict[str, Any]] | None = None,
        *,
        apply: bool = False,
        override: bool = False,
        from_: dt.datetime | None = None,
    ) -> EditResult:
        """Evaluate moves (``{job_id, technician_id, position}``) and locks on a done version:
        the violations and the day's figures; with ``apply`` store it as a new version
        (a hard violation is a 409 unless ``override``). ``from_``: checked from that
        instant of the day (a re-plan is by default from its own)."""
        body: dict[str, Any] = {"moves": moves, "locks": locks or [], "apply": apply, "override": override}
        if from_ is not None:
            body["from"] = from_.isoformat()
        return self._parse(_EDIT, self._request("POST", f"/v1/plans/{plan_id}/edits", json=body))

    def cancel_plan(self, plan_id: int) -> Plan:
        """Ask a running plan to stop."""
        return self._parse(_PLAN, self._request("POST", f"/v1/plans/{plan_id}/cancel"))

    def plan_events(self, plan_id: int, *, timeout_s: float = 900.0) -> Iterator[RunProgress]:
        """Follow a run through its server-sent events (``GET /v1/plans/{id}/events``):
        its state at once, then each change, the last one finished. ``BoardError`` when
        the stream cannot be opened or breaks before the run ends (kind ``unsupported``
        for an API without it), and of kind ``timeout`` when the run has not ended
        after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        path = f"/v1/plans/{plan_id}/events"
        timeout = httpx.Timeout(self._http.timeout.connect, read=STREAM_SILENCE_S)
        last: RunProgress | None = None
        try:
            with self._http.stream("GET", path, headers={"Accept": "text/event-stream"}, timeout=timeout) as response:
                if not response.is_success:
                    response.read()
                    self._raise_for(response)
                if not response.headers.get("content-type", "").startswith("text/event-stream"):
                    raise BoardError(f"This API has no event stream at {path}.", "unsupported", response.status_code)
                for event in server_sent_events(response.iter_lines()):
                    if event is not None:
                        kind, data = event
                        state = self._parse(_PROGRESS, response, data)
                        if state != last:
                            yield state
                            last = state
                        if kind == "end" or state.finished:
                            return
                    if time.monotonic() > deadline:
                        status = last.status if last is not None else "unknown"
                        raise BoardError(f"Plan {plan_id} is still {status} after {timeout_s:.0f} s.", "timeout")
        except httpx.HTTPError as exc:
            raise BoardError(f"The event stream of plan {plan_id} broke: {exc!r}.", "unreachable") from None
        raise BoardError(f"The event stream of plan {plan_id} ended before the run did.", "unreachable")

    def wait_for_plan(
        self,
        plan_id: int,
        on_progress: Callable[[RunProgress], None] | None = None,
        *,
        poll_s: float = 0.5,
        timeout_s: float = 900.0,
    ) -> Plan:
        """Follow a plan until it is done, failed or cancelled, reporting each state it
        passes through, and return it whole. It follows the run's event stream, and polls
        ``GET /v1/plans/{id}`` every ``poll_s`` instead when the stream cannot be had or
        breaks (an API without it, a proxy that cuts it); ``BoardError`` of kind
        ``timeout`` when the run has not ended after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        try:
            for state in self.plan_events(plan_id, timeout_s=timeout_s):
                if on_progress is not None:
                    on_progress(state)
            return self.plan(plan_id)
        except BoardError as exc:
            if exc.kind == "timeout":
                raise
            log.info("plan %s: following it by polling (%s)", plan_id, exc)
        while True:
            plan = self.plan(plan_id)
            if on_progress is not None:
                on_progress(RunProgress.of(plan))
            if plan.finished:
                return plan
            if time.monotonic() > deadline:
                raise BoardError(f"Plan {plan_id} is still {plan.status} after {timeout_s:.0f} s.", "timeout")
            time.sleep(poll_s)

    # -- the day as it goes ------------------------------------------------

    def live(self, day: dt.date, region: str | None = None) -> LiveDay:
        """The published plan of ``day`` re-timed from field facts: per technician
        what is done, under way and next, ETAs, delays and visits at risk; and the
        urgent work not in the plan (``GET /v1/live``)."""
        params = {"date": day.isoformat(), **({"region": region} if region else {})}
        return self._parse(_LIVE, self._request("GET", "/v1/live", params=params))

    # -- disruptions -------------------------------------------------------

    def technician_unavailable(
        self, technician_id: str, start: dt.datetime, until: dt.datetime | None = None
    ) -> Disruption:
        """Record that a technician takes no new visit from ``start`` (until ``until``,
        or the rest of the day when None)."""
        body: dict[str, Any] = {"type": "technician_unavailable", "technician_id": technician_id}
        body["from"] = start.isoformat()
        if until is not None:
            body["until"] = until.isoformat()
        return self._disruption(body)

    def job_overrun(self, job_id: str, expected_end: dt.datetime) -> Disruption:
        """Record that the visit under way at ``job_id`` now ends at ``expected_end``."""
        return self._disruption({"type": "overrun", "job_id": job_id, "expected_end": expected_end.isoformat()})

    def running_late(self, technician_id: str, at: dt.datetime, lat: float, lon: float) -> Disruption:
        """Record that a technician is at (``lat``, ``lon``) at ``at``, running late."""
        body = {
            "type": "running_late",
            "technician_id": technician_id,
            "at": at.isoformat(),
            "location": {"lat": lat, "lon": lon},
        }
        return self._disruption(body)

    def field_report(self, job_id: str, kind: str, at: dt.datetime, reason: str | None = None) -> FieldEvent:
        """Record what the field did at ``job_id`` (``kind``: ``en_route``, ``arrived``,
        ``started``, ``completed`` or ``failed`` with its ``reason``), as an installer's
        phone would (``POST /v1/jobs/{id}/events``): a dispatcher told by phone."""
        body: dict[str, Any] = {"type": kind, "at": at.isoformat()}
        if reason is not None:
            body["reason"] = reason
        return self._parse(_FIELD_EVENT, self._request("POST", f"/v1/jobs/{_segment(job_id)}/events", json=body))

    def _disruption(self, body: dict[str, Any]) -> Disruption:
        return self._parse(_DISRUPTION, self._request("POST", "/v1/disruptions", json=body))

    # -- plumbing ----------------------------------------------------------

    def _replace_job(self, job_id: str, keep_cancelled: bool = False, **changes: Any) -> Job:
        current = self._request("GET", f"/v1/jobs/{_segment(job_id)}").json()
        if keep_cancelled and current.get("status") == "cancelled":
            raise BoardError(f"Job {job_id} is cancelled: put it back first.", field="job_id")
        body = {k: v for k, v in current.items() if k not in _READ_ONLY_JOB_FIELDS}
        body.update(changes)
        return self._parse(_JOB, self._request("PUT", f"/v1/jobs/{_segment(job_id)}", json=body))

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.ConnectError:
            raise BoardError(
                f"The dispatch API at {self.base_url} cannot be reached (connection refused). "
                "Is it running? Start it with `make serve`, or set DISPATCH_API_URL.",
                "unreachable",
            ) from None
        except httpx.TimeoutException:
            raise BoardError(f"The dispatch API at {self.base_url} did not answer in time.", "timeout") from None
        except httpx.HTTPError as exc:
            raise BoardError(f"Could not talk to the dispatch API at {self.base_url}: {exc}.", "unreachable") from None
        if response.is_success:
            return response
        self._raise_for(response)

    def _raise_for(self, response: httpx.Response) -> NoReturn:
        """The ``BoardError`` for a refused request: 401, 403, 404 or the API's problem."""
        detail, field, errors = _problem_text(response)
        status = response.status_code
        if status == 401:
            raise BoardError(
                f"The API refused the token ({detail}). Check the dispatcher token in the sidebar.",
                "unauthorized",
                status,
            )
        if status == 403:
            raise BoardError(
                f"This token may not do that ({detail}). The board needs a dispatcher token.", "forbidden", status
            )
        kind: ErrorKind = "not_found" if status == 404 else "problem"
        where = f" (field {field})" if field and field != "body" else ""
        raise BoardError(f"{detail}{where}", kind, status, field, errors)

    def _parse(self, adapter: TypeAdapter[T], response: httpx.Response, text: str | None = None) -> T:
        """``text`` (default: the response's body) as ``adapter``'s type, or a ``BoardError``."""
        try:
            return adapter.validate_json(response.content if text is None else text)
        except ValidationError as exc:
            raise BoardError(
                f"The API answered {response.request.method} {response.request.url.path} "
                f"with something the board does not understand: {exc.errors()[0]['msg']}.",
                "problem",
                response.status_code,
            ) from None
