"""Reading day files: good files become problems, bad ones say what to fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dispatch.dayfile import DayFileError, load_day

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def small_day() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / "small-day.json").read_text(encoding="utf-8"))
    return data


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "day.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_small_sample_day_reads_into_a_problem_with_local_times() -> None:
    day = load_day(SAMPLES / "small-day.json")
    assert day.date.isoformat() == "2026-12-01"
    assert len(day.problem.technicians) == 3
    assert len(day.problem.jobs) == 12
    first = day.problem.technicians[0]
    assert first.shift.start_s == 7 * 3600 + 30 * 60
    assert day.to_datetime(first.shift.start_s).isoformat() == "2026-12-01T07:30:00+02:00"


def test_the_csv_sample_is_the_same_day_as_the_json_sample() -> None:
    from_json = load_day(SAMPLES / "helsinki-day.json")
    from_csv = load_day(SAMPLES / "helsinki-day" / "jobs.csv", plan_date="2026-12-01")
    assert from_csv.problem.jobs == from_json.problem.jobs
    assert from_csv.problem.technicians == from_json.problem.technicians


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["jobs"][2].update(duration_min=-5), "jobs[2], field duration_min: must not be negative"),
        (lambda d: d["jobs"][0].update(duration_min="long"), "jobs[0], field duration_min: expected a number"),
        (
            lambda d: d["jobs"][1].update(windows=[{"start": "12:00", "end": "11:00"}]),
            "jobs[1], field windows.[0].end: window ends before it starts",
        ),
        (lambda d: d["jobs"][3].update(location={"lat": 95, "lon": 24.9}), "jobs[3], field location.lat: latitude"),
        (lambda d: d["jobs"][0].update(crew_size=3), "jobs[0], field crew_size: must be 1 or 2"),
        (lambda d: d["jobs"][0].update(kind="paint"), "jobs[0], field kind: must be one of measure, install, repair"),
        (lambda d: d["jobs"][0].pop("location"), "jobs[0], field location: is required"),
        (lambda d: d["technicians"][1].pop("home"), "technicians[1], field home: is required"),
        (lambda d: d["jobs"][4].update(release_at="9 o'clock"), "jobs[4], field release_at: expected HH:MM"),
        (lambda d: d.update(timezone="Mars/Olympus"), "field timezone: unknown time zone"),
        (lambda d: d["jobs"][2].update(duration_min=100000), "jobs[2]: job S03: duration is longer than"),
        (
            lambda d: d["jobs"][1].update(window=[{"start": "09:00", "end": "11:00"}]),
            "jobs[1], field window: not a field of the day file \\(did you mean windows\\?\\)",
        ),
        (lambda d: d["technicians"][2].update(max_job=3), "technicians[2], field max_job: not a field"),
        (lambda d: d.update(dat="2026-12-01"), "day.json, field dat: not a field of the day file"),
        (
            lambda d: d["technicians"][0]["shifts"][0]["break"].update(earliest="18:00", latest="19:00"),
            "technicians[0], field shift.break: a break of 30 min starting 18:00-19:00 does not fit in the shift "
            "07:30-16:30",
        ),
        (lambda d: d["technicians"][0].update(max_jobs=1e20), "technicians[0], field max_jobs: 1e\\+20 is too large"),
        (
            lambda d: d["technicians"][0].update(cost={"per_hour": float("inf")}),
            "technicians[0], field cost.per_hour: expected a finite number",
        ),
        (
            lambda d: d["technicians"][1].update(id=d["technicians"][0]["id"]),
            "technicians[1], field id: technician T1 is also day.json technicians[0]",
        ),
    ],
)
def test_a_bad_field_is_named_with_its_row(tmp_path: Path, change: Any, expected: str) -> None:
    data = small_day()
    change(data)
    with pytest.raises(DayFileError, match=expected.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        load_day(write(tmp_path, data))


def test_a_duplicate_job_id_is_refused(tmp_path: Path) -> None:
    data = small_day()
    data["jobs"][1]["id"] = data["jobs"][0]["id"]
    with pytest.raises(DayFileError, match="appears twice"):
        load_day(write(tmp_path, data))


def test_broken_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "day.json"
    path.write_text('{\n  "date": "2026-12-01",\n  "jobs": [\n', encoding="utf-8")
    with pytest.raises(DayFileError, match=r"day\.json line \d+: not valid JSON"):
        load_day(path)


def test_a_bad_csv_row_names_the_file_line_and_field(tmp_path: Path) -> None:
    source = SAMPLES / "helsinki-day"
    lines = (source / "jobs.csv").read_text(encoding="utf-8").splitlines()
    lines[4] = (
        lines[4]
        .replace(",install,", ",instal,", 1)
        .replace(",measure,", ",instal,", 1)
        .replace(",repair,", ",instal,", 1)
    )
    (tmp_path / "jobs.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "technicians.csv").write_text((source / "technicians.csv").read_text(encoding="utf-8"))
    with pytest.raises(DayFileError, match=r"jobs\.csv line 5, field kind: must be one of"):
        load_day(tmp_path / "jobs.csv", plan_date="2026-12-01")


def test_a_csv_value_too_long_to_read_is_called_that_not_unpaired_quotes(tmp_path: Path) -> None:
    source = SAMPLES / "helsinki-day"
    lines = (source / "jobs.csv").read_text(encoding="utf-8").splitlines()
    lines[2] = "x" * 200_000 + lines[2]  # an unquoted value (the id) past what the reader takes
    (tmp_path / "jobs.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "technicians.csv").write_text((source / "technicians.csv").read_text(encoding="utf-8"))
    with pytest.raises(DayFileError, match=r"jobs\.csv line 3: a value is longer than 131,072 characters"):
        load_day(tmp_path / "jobs.csv", plan_date="2026-12-01")


def test_a_technician_without_a_shift_that_day_is_not_planned(tmp_path: Path) -> None:
    day = load_day(SAMPLES / "small-day.json", plan_date="2026-12-02")
    assert day.problem.technicians == ()


def test_a_weekly_template_gives_the_shift_of_a_date_without_one_and_absences_are_honoured(tmp_path: Path) -> None:
    """2026-12-01 is a Tuesday (weekday 2); docs/working-time.md."""
    data = small_day()
    lunch = {"earliest": "11:00", "latest": "12:30", "duration_min": 30}
    first, second, third = data["technicians"][:3]
    for tech in (first, second, third):
        tech.pop("shifts")
        tech["week"] = [{"weekday": 2, "start": "08:00", "end": "16:00", "break": lunch}]
    first["absences"] = [{"start": "2026-12-01T14:00:00+02:00", "end": "2026-12-01T18:00:00+02:00"}]
    second["absences"] = [{"start": "2026-12-01T00:00:00+02:00", "end": "2026-12-02T00:00:00+02:00"}]
    day = load_day(write(tmp_path, data))
    techs = {t.id: t for t in day.problem.technicians}
    assert sorted(techs) == [first["id"], third["id"]]
    assert (techs[first["id"]].shift.start_s, techs[first["id"]].shift.end_s) == (8 * 3600, 14 * 3600)
    assert techs[third["id"]].shift.end_s == 16 * 3600

    third["absences"] = [{"start": "09:00", "end": "10:00"}]
    day = load_day(write(tmp_path, data))
    held = next(t for t in day.problem.technicians if t.id == third["id"]).shift.lunch
    assert held is not None and (held.earliest_s, held.duration_s) == (9 * 3600, 3600)  # the lunch within it
    third["absences"] = [{"start": "09:00", "end": "10:00"}, {"start": "14:00", "end": "15:00"}]
    with pytest.raises(DayFileError, match=r"technicians\[2\], field absences\[1\]: away 14:00–15:00"):
        load_day(write(tmp_path, data))
    third["week"] = [{"weekday": 9, "start": "08:00", "end": "16:00"}]
    with pytest.raises(DayFileError, match=r"technicians\[2\], field week\[0\]\.weekday: must be 1"):
        load_day(write(tmp_path, data))


def test_a_misspelt_csv_column_is_refused_not_ignored(tmp_path: Path) -> None:
    source = SAMPLES / "helsinki-day"
    jobs = (source / "jobs.csv").read_text(encoding="utf-8").replace(",windows,", ",window,", 1)
    (tmp_path / "jobs.csv").write_text(jobs, encoding="utf-8")
    (tmp_path / "technicians.csv").write_text((source / "technicians.csv").read_text(encoding="utf-8"))
    with pytest.raises(DayFileError, match=r"jobs\.csv: unknown column 'window' \(did you mean windows\?\)"):
        load_day(tmp_path / "jobs.csv", plan_date="2026-12-01")
