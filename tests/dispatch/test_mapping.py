"""The one mapping to the engine: the day's clock, jobs from plain values, and the
CSV form of the day format shared by the command line and the API import."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest

from dispatch.csvfile import TableError, job_record, read_table
from dispatch.dayfile import DayFileError, load_day, read_json
from dispatch.mapping import DayClock, job_from
from solver import JobKind, Location, TimeWindow
from tests.conftest import HELSINKI

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
H = 3600


@pytest.mark.parametrize("day", ["2026-12-01", "2027-03-28", "2027-10-31", "2027-06-15"])
def test_the_day_clock_counts_local_wall_clock_seconds_on_every_date(day: str) -> None:
    clock = DayClock(dt.date.fromisoformat(day), HELSINKI)
    nine = dt.datetime.combine(clock.date, dt.time(9), tzinfo=HELSINKI)
    assert clock.seconds(nine) == 9 * H
    assert clock.seconds(nine.astimezone(dt.UTC)) == 9 * H  # read in the day's zone first
    assert clock.moment(9 * H) == nine and clock.moment(9 * H).utcoffset() == nine.utcoffset()
    stored = clock.to_stored(9 * H)
    assert stored.tzinfo == dt.UTC and clock.from_stored(stored.replace(tzinfo=None)) == 9 * H


def test_a_job_is_built_from_plain_values_and_aware_datetimes() -> None:
    clock = DayClock(dt.date(2027, 3, 28), HELSINKI)

    def at(hour: int) -> dt.datetime:
        return dt.datetime.combine(clock.date, dt.time(hour), tzinfo=HELSINKI)

    job = job_from(
        clock,
        "J1",
        Location(60.2, 24.9),
        3600,
        kind="repair",
        skills={"kitchen": 2},
        windows=[(at(9), at(10))],
        preferred_window=(at(9), at(12)),
        release_at=at(8).astimezone(dt.UTC),
        deadline=at(13),
    )
    assert job.kind is JobKind.REPAIR and job.skills == {"kitchen": 2}
    assert job.windows == (TimeWindow(9 * H, 10 * H),) and job.preferred_window == TimeWindow(9 * H, 12 * H)
    assert (job.release_s, job.deadline_s) == (8 * H, 13 * H)


def test_a_csv_table_may_have_a_byte_order_mark_semicolons_and_a_loose_header() -> None:
    table = read_table("\ufeffID;Kind;Lat\n\nJ1; install ;60.1\nJ2;repair;60.2;extra\n".encode())
    assert table.header == ["id", "kind", "lat"]
    rows = list(table.rows())
    assert [(r.line, r.values) for r in rows[:1]] == [(3, {"id": "J1", "kind": "install", "lat": "60.1"})]
    assert rows[1].line == 4 and rows[1].values == {}
    assert rows[1].problem == "this line has 4 cells, the header 3; quote commas in values"
    with pytest.raises(TableError, match="is empty"):
        read_table(b"\n\n")


def test_a_jobs_row_becomes_a_record_of_the_json_day_format() -> None:
    record = job_record(
        {"id": "J1", "lat": "60.1", "lon": "", "customer_phone": "+358", "notes": "", "windows": "9-10"}
    )
    assert record == {
        "id": "J1",
        "windows": "9-10",
        "location": {"lat": "60.1", "lon": ""},
        "customer": {"name": "", "phone": "+358"},
    }


def test_the_command_line_reads_a_spreadsheets_semicolon_csv_as_the_same_day(tmp_path: Path) -> None:
    source = SAMPLES / "helsinki-day"
    for name in ("jobs.csv", "technicians.csv"):
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL)  # skills hold ';' too
        writer.writerows(csv.reader((source / name).read_text(encoding="utf-8").splitlines()))
        (tmp_path / name).write_text("\ufeff" + out.getvalue(), encoding="utf-8")
    from_semicolons = load_day(tmp_path / "jobs.csv", plan_date="2026-12-01")
    from_commas = load_day(source / "jobs.csv", plan_date="2026-12-01")
    assert from_semicolons.problem == from_commas.problem


def test_a_csv_record_whose_quotes_do_not_pair_up_is_reported_and_the_rows_after_it_are_read() -> None:
    data = (
        b'id,kind,notes\nJ1,install,"Gate code 12"34"\nJ2,repair,"fine, quoted"\n'
        b'J3,install,"never closed\nJ4,install,plain\nJ5,repair,"two\nlines"\n'
    )
    rows = list(read_table(data).rows())
    assert [r.line for r in rows] == [2, 3, 4, 5, 6]
    assert [r.problem is not None for r in rows] == [True, False, True, False, False]
    assert rows[0].problem is not None and "quotes do not pair up" in rows[0].problem
    assert rows[1].values["notes"] == "fine, quoted" and rows[3].values["id"] == "J4"
    assert rows[4].values["notes"] == "two\nlines"  # a quoted value may span lines


def test_a_csv_line_with_too_many_cells_is_refused_by_the_command_line(tmp_path: Path) -> None:
    source = SAMPLES / "helsinki-day"
    (tmp_path / "technicians.csv").write_text((source / "technicians.csv").read_text(encoding="utf-8"))
    lines = (source / "jobs.csv").read_text(encoding="utf-8").splitlines()
    (tmp_path / "jobs.csv").write_text("\n".join([*lines[:3], lines[3] + ",x,y", *lines[4:]]) + "\n")
    with pytest.raises(DayFileError, match=r"jobs\.csv line 4: this line has \d+ cells, the header \d+"):
        load_day(tmp_path / "jobs.csv", plan_date="2026-12-01")


def test_the_json_reader_gives_the_raw_records_with_where_they_stand() -> None:
    records = read_json(SAMPLES / "small-day.json")
    assert records.date == dt.date(2026, 12, 1) and records.timezone == HELSINKI
    assert records.jobs[0][0] == "small-day.json jobs[0]" and records.jobs[0][1]["id"]
