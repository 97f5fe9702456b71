"""Seeding the sample day: always on the next working day after today, with two
weeks of shifts after it, at the same local clock times whatever the season."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

from dispatch.catalog import list_technicians
from dispatch.db import make_engine, migrate, session_scope
from dispatch.seed import next_day_with_jobs, sample_date, seed_sample_day
from dispatch.tables import JobRow, TechnicianRow
from tests.conftest import HELSINKI

pytestmark = pytest.mark.clock
SMALL_DAY = Path(__file__).resolve().parents[2] / "data" / "samples" / "small-day.json"
NOW = dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        ("2026-12-02", "2026-12-03"),  # Wednesday: Thursday
        ("2026-12-04", "2026-12-07"),  # Friday: Monday
        ("2026-12-05", "2026-12-07"),  # Saturday: Monday
        ("2026-12-06", "2026-12-07"),  # Sunday: Monday
        ("2026-12-31", "2027-01-01"),  # over the year's end
        ("2027-03-26", "2027-03-29"),  # Friday before the clocks go forward
    ],
)
def test_the_sample_day_is_the_next_working_day_after_today(today: str, expected: str) -> None:
    assert sample_date(dt.date.fromisoformat(today)) == dt.date.fromisoformat(expected)


def seeded(tmp_path: Path, day: dt.date) -> Session:
    engine = make_engine(f"sqlite:///{tmp_path / 'seed.db'}")
    migrate(engine)
    with session_scope(engine) as session:
        assert seed_sample_day(session, SMALL_DAY, HELSINKI, "helsinki", day=day, now=NOW)
    return Session(engine)


def test_seeding_moves_every_job_to_the_day_and_keeps_its_local_clock_times_in_summer(tmp_path: Path) -> None:
    day = dt.date(2027, 6, 15)  # summer time: +03:00 where the file's day was +02:00
    in_file = {j["id"]: j["windows"] for j in json.loads(SMALL_DAY.read_text(encoding="utf-8"))["jobs"]}
    with seeded(tmp_path, day) as session:
        jobs = session.exec(select(JobRow)).all()
        assert {j.id for j in jobs} == set(in_file) and {j.date for j in jobs} == {day}
        assert any(j.windows for j in jobs)
        for job in jobs:
            stored = [
                [dt.datetime.fromisoformat(moment).astimezone(HELSINKI) for moment in window] for window in job.windows
            ]
            assert [[m.strftime("%H:%M") for m in w] for w in stored] == [
                [w["start"], w["end"]] for w in in_file[job.id]
            ]
            assert all(m.date() == day and m.utcoffset() == dt.timedelta(hours=3) for w in stored for m in w)


def test_every_technician_works_the_sample_day_and_the_working_days_of_the_two_weeks_after(tmp_path: Path) -> None:
    day = dt.date(2026, 12, 7)  # a Monday: ten working days follow within two weeks
    with seeded(tmp_path, day) as session:
        technicians = list_technicians(session)
        assert technicians
        for record in technicians:
            dates = sorted(s.date for s in record.shifts)
            assert dates[0] == day and len(dates) == 11
            assert all(d.weekday() < 5 for d in dates) and dates[-1] == dt.date(2026, 12, 21)
            assert len({(s.start_min, s.end_min) for s in record.shifts}) == 1


def test_an_existing_database_is_never_seeded_again(tmp_path: Path) -> None:
    with seeded(tmp_path, dt.date(2026, 12, 3)) as session:
        assert not seed_sample_day(session, SMALL_DAY, HELSINKI, "helsinki", day=dt.date(2026, 12, 4), now=NOW)
        assert {j.date for j in session.exec(select(JobRow)).all()} == {dt.date(2026, 12, 3)}
        assert len(session.exec(select(TechnicianRow)).all()) == 3


def test_the_first_day_with_jobs_counts_from_today(tmp_path: Path) -> None:
    with seeded(tmp_path, dt.date(2026, 12, 3)) as session:
        assert next_day_with_jobs(session, dt.date(2026, 12, 2), "helsinki") == dt.date(2026, 12, 3)
        assert next_day_with_jobs(session, dt.date(2026, 12, 3), "helsinki") == dt.date(2026, 12, 3)
        assert next_day_with_jobs(session, dt.date(2026, 12, 4), "helsinki") is None
        assert next_day_with_jobs(session, dt.date(2026, 12, 2), "elsewhere") is None
