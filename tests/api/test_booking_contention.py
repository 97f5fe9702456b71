"""A booking prepared while another booking of the same day commits (issue 19).

A booking is evaluated before the day's lock and only confirmed under it. When
another booking commits in between, the prepared insertion is kept only if the
routes it touches did not change; otherwise the slot is evaluated again on the
newest live schedule, and the booking lands on another technician or is refused
with 409, never on the capacity the other booking took. Two booking services (two
API workers, each with its own cache), real threads and sessions, on a real SQLite
file and the real PostgreSQL; afterwards the stored live schedule is timed again
and checked by the independent checker (``bench.booking.overbookings``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bench.booking import REGION, TZ, overbookings
from dispatch import catalog
from dispatch.auth import create_token
from dispatch.booking import BookingResult, BookingService, PreparedBooking
from dispatch.clock import SYSTEM_CLOCK
from dispatch.db import make_engine, migrate
from dispatch.errors import Conflict
from dispatch.inputs import BookingIn, TechnicianIn
from dispatch.live import routes_of
from dispatch.settings import BookingSettings
from dispatch.tables import BookingRow, FeedEventRow, JobRow, LiveScheduleRow
from tests.conftest import today

DAY = today() + dt.timedelta(days=9)
NEAR = {"lat": 60.17, "lon": 24.94}  # central Helsinki
FAR = {"lat": 60.25, "lon": 25.10}  # about 13 km north-east, some 25 minutes away


@dataclasses.dataclass
class PausingService(BookingService):
    """The real booking service, pausing once after a booking is prepared until told to
    go on: a worker that prepared its booking while another worker booked."""

    prepared: threading.Event = dataclasses.field(default_factory=threading.Event)
    go_on: threading.Event = dataclasses.field(default_factory=threading.Event)

    def prepare(self, *args: Any, **kwargs: Any) -> PreparedBooking | BookingResult:
        out = super().prepare(*args, **kwargs)
        if not self.prepared.is_set():
            self.prepared.set()
            assert self.go_on.wait(60)
        return out


def technician(home: dict[str, float]) -> TechnicianIn:
    """08:00-12:00 without lunch: room for exactly one 2-hour job that must start by 10:00."""
    shift = {"date": DAY.isoformat(), "start": "08:00", "end": "12:00"}
    return TechnicianIn.model_validate({"home": home, "skills": {"wardrobe": 1}, "shifts": [shift]})


def booking(where: dict[str, float], name: str) -> BookingIn:
    """A 2-hour wardrobe job a few hundred metres from ``where``, in the slot 08:00-10:00."""
    slot = {
        "start": dt.datetime.combine(DAY, dt.time(8), tzinfo=TZ),
        "end": dt.datetime.combine(DAY, dt.time(10), tzinfo=TZ),
    }
    return BookingIn.model_validate(
        {
            "kind": "install",
            "location": {"lat": where["lat"] + 0.003, "lon": where["lon"] + 0.004},
            "duration_min": 120,
            "skills": {"wardrobe": 1},
            "customer": {"name": name},
            "slot": slot,
        }
    )


@pytest.fixture
def engine(database_url: str) -> Engine:
    """A migrated, empty database (SQLite file or the real PostgreSQL)."""
    made = make_engine(database_url)
    migrate(made)
    return made


def set_up(engine: Engine, homes: dict[str, dict[str, float]]) -> int:
    """The technicians, and a booking token (its id: keys are scoped to it)."""
    with Session(engine) as session:
        for tech_id, home in homes.items():
            catalog.put_technician(session, tech_id, technician(home), REGION, TZ, now=SYSTEM_CLOCK.now())
        _, token = create_token(session, "booking", now=SYSTEM_CLOCK.now())
        session.commit()
        assert token.id is not None
        return token.id


def race(engine: Engine, token_id: int, first: BookingIn, second: BookingIn) -> tuple[Any, BookingResult]:
    """``first`` is prepared by one worker, which then waits while another worker books
    ``second`` from start to commit; then ``first`` goes on. Returns what ``first``
    got (its result, or the ``Conflict`` it raised) and the second booking's result."""
    slow = PausingService(TZ, REGION, BookingSettings())
    fast = BookingService(TZ, REGION, BookingSettings())
    got: dict[str, Any] = {}

    def book_first() -> None:
        with Session(engine) as session:
            try:
                got["first"] = slow.book_and_commit(session, "first", first, SYSTEM_CLOCK.now(), token_id)
            except Conflict as exc:
                got["first"] = exc

    worker = threading.Thread(target=book_first)
    worker.start()
    assert slow.prepared.wait(60)
    with Session(engine) as session:
        done = fast.book_and_commit(session, "second", second, SYSTEM_CLOCK.now(), token_id)
    slow.go_on.set()
    worker.join(60)
    assert not worker.is_alive()
    return got["first"], done


def live_routes(engine: Engine) -> dict[str, tuple[str, ...]]:
    with Session(engine) as session:
        plan = session.get(LiveScheduleRow, (DAY, REGION))
        return {r.technician_id: r.job_ids for r in routes_of(plan) if r.job_ids}


def no_broken_promise(engine: Engine, booked: int) -> None:
    """Every open booked job once in the live schedule, inside its slot; the checker finds nothing."""
    checked, violations = overbookings(engine, BookingService(TZ, REGION, BookingSettings()), [DAY])
    assert violations == []
    assert checked == booked


def test_a_booking_whose_slot_was_taken_while_it_prepared_is_refused_and_leaves_nothing(engine: Engine) -> None:
    token_id = set_up(engine, {"ONLY": NEAR})
    first, second = race(engine, token_id, booking(NEAR, "First"), booking(NEAR, "Second"))

    assert isinstance(first, Conflict)
    assert first.field == "slot"
    assert live_routes(engine) == {"ONLY": (second.body["job_id"],)}
    with Session(engine) as session:  # the refused booking wrote nothing, not even its prepared rows
        assert session.exec(select(JobRow.id)).all() == [second.body["job_id"]]
        assert session.exec(select(BookingRow.idempotency_key)).all() == ["second"]
        told = session.exec(select(FeedEventRow.job_id).order_by(col(FeedEventRow.id))).all()
        assert set(told) == {second.body["job_id"]}
    no_broken_promise(engine, booked=1)


def test_a_booking_whose_technician_was_taken_while_it_prepared_goes_to_another_who_can_keep_the_slot(
    engine: Engine,
) -> None:
    token_id = set_up(engine, {"NEAR": NEAR, "FAR": FAR})
    first, second = race(engine, token_id, booking(NEAR, "First"), booking(NEAR, "Second"))

    assert isinstance(first, BookingResult), first
    assert first.timing is not None and first.timing.check == "re-evaluated"
    assert live_routes(engine) == {"NEAR": (second.body["job_id"],), "FAR": (first.body["job_id"],)}
    no_broken_promise(engine, booked=2)


def test_a_booking_prepared_while_another_technician_was_booked_keeps_its_prepared_insertion(engine: Engine) -> None:
    token_id = set_up(engine, {"NEAR": NEAR, "FAR": FAR})
    first, second = race(engine, token_id, booking(NEAR, "First"), booking(FAR, "Second"))

    assert isinstance(first, BookingResult), first
    assert first.timing is not None and first.timing.check == "revalidated"
    assert live_routes(engine) == {"NEAR": (first.body["job_id"],), "FAR": (second.body["job_id"],)}
    no_broken_promise(engine, booked=2)


def test_a_booking_prepared_with_nothing_booked_meanwhile_is_kept_as_prepared(engine: Engine) -> None:
    token_id = set_up(engine, {"NEAR": NEAR, "FAR": FAR})
    service = BookingService(TZ, REGION, BookingSettings())
    with Session(engine) as session:
        made = service.book_and_commit(session, "alone", booking(NEAR, "Alone"), SYSTEM_CLOCK.now(), token_id)

    assert made.timing is not None and made.timing.check == "unchanged"
    assert live_routes(engine) == {"NEAR": (made.body["job_id"],)}
    no_broken_promise(engine, booked=1)
