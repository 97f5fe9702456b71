"""The dispatch command line, as a dispatcher uses it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dispatch.cli import app
from dispatch.dayfile import load_day
from solver import HaversineProvider, Solution, check, problem_travel
from solver.solution import Route, Unassigned, Visit

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
runner = CliRunner()


def solution_from_plan(plan: dict[str, object], day_path: Path) -> Solution:
    """Rebuild a solver Solution from the written plan JSON (to re-check it)."""
    day = load_day(day_path)
    from datetime import datetime

    def s(text: str) -> int:
        return day.to_seconds(datetime.fromisoformat(text))

    routes = []
    for r in plan["routes"]:  # type: ignore[attr-defined]
        visits = tuple(Visit(v["job_id"], s(v["arrival"]), s(v["start"]), s(v["end"]), 0, 0) for v in r["visits"])
        start = s(r["depart"]) if r["depart"] else 0
        end = s(r["return"]) if r["return"] else 0
        routes.append(Route(r["technician_id"], visits, start, end))
    unassigned = tuple(Unassigned(u["job_id"], u["code"], u["reason"]) for u in plan["unassigned"])  # type: ignore[attr-defined]
    return Solution(tuple(routes), unassigned)


def test_planning_the_small_day_prints_routes_and_writes_json_and_geojson(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["plan", str(SAMPLES / "small-day.json"), "--time-limit", "2", "--out", str(tmp_path / "p")]
    )
    assert result.exit_code == 0, result.output
    assert "Jobs served" in result.output
    assert "Unassigned jobs" in result.output
    plan = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
    geo = json.loads((tmp_path / "p.geojson").read_text(encoding="utf-8"))
    assert geo["type"] == "FeatureCollection"
    assert {f["properties"]["type"] for f in geo["features"]} >= {"home", "visit", "route", "unassigned"}
    served = {v["job_id"] for r in plan["routes"] for v in r["visits"]}
    unassigned = {u["job_id"] for u in plan["unassigned"]}
    day = load_day(SAMPLES / "small-day.json")
    assert served | unassigned == {j.id for j in day.problem.jobs}
    assert all(u["reason"] for u in plan["unassigned"])


def test_the_written_plan_keeps_every_window_and_crew(tmp_path: Path) -> None:
    runner.invoke(app, ["plan", str(SAMPLES / "small-day.json"), "--time-limit", "2", "--out", str(tmp_path / "p")])
    plan = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
    solution = solution_from_plan(plan, SAMPLES / "small-day.json")
    day = load_day(SAMPLES / "small-day.json")
    report = check(day.problem, solution, *problem_travel(day.problem, HaversineProvider()))
    # The JSON drops travel figures and lunch, so only judge what it carries.
    kinds = {v.kind.value for v in report.violations}
    assert kinds <= {"report", "break", "travel"}
    assert not any(v.kind.value in {"window", "crew_sync", "skill", "deadline", "release"} for v in report.violations)


def test_a_bad_file_gets_a_message_naming_the_field_not_a_traceback(tmp_path: Path) -> None:
    data = json.loads((SAMPLES / "small-day.json").read_text(encoding="utf-8"))
    data["jobs"][5]["duration_min"] = -30
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = runner.invoke(app, ["plan", str(path), "--time-limit", "1"])
    assert result.exit_code == 2
    assert "jobs[5], field duration_min: must not be negative" in result.output
    assert "Traceback" not in result.output


def test_a_missing_file_is_reported_plainly(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", str(tmp_path / "nope.json")])
    assert result.exit_code == 2
    assert "file not found" in result.output


def test_an_out_path_that_cannot_be_written_is_refused_before_solving(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    out = tmp_path / "a-file" / "plan"
    result = runner.invoke(app, ["plan", str(SAMPLES / "small-day.json"), "--time-limit", "1", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Cannot write the plan: --out" in result.output and "Planning" not in result.output


def test_a_technicians_file_beside_a_json_day_is_refused_not_ignored(tmp_path: Path) -> None:
    technicians = SAMPLES / "helsinki-day" / "technicians.csv"
    result = runner.invoke(app, ["plan", str(SAMPLES / "small-day.json"), "--technicians", str(technicians)])
    assert result.exit_code == 2, result.output
    assert "--technicians goes with a jobs CSV" in result.output and "Planning" not in result.output


def test_on_the_night_the_clocks_skip_an_hour_no_visit_runs_across_it_and_each_lasts_its_length(
    tmp_path: Path,
) -> None:
    """Every shift of the small day on 2027-03-28 (Helsinki: 03:00 is 04:00) from 01:00 to
    10:00, and S01 wanted 03:00-04:00: the plan times visits on real time, inside their
    windows, never across the skipped hour."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    day = "2027-03-28"
    data = json.loads((SAMPLES / "small-day.json").read_text(encoding="utf-8"))
    data["date"] = day
    for tech in data["technicians"]:
        tech["shifts"] = [
            {
                "date": day,
                "start": "01:00",
                "end": "10:00",
                "break": {"earliest": "05:00", "latest": "07:00", "duration_min": 30},
            }
        ]
    for job in data["jobs"]:
        job["windows"] = [{"start": "03:00", "end": "04:00"}] if job["id"] == "S01" else []
    path = tmp_path / "dst.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = runner.invoke(app, ["plan", str(path), "--time-limit", "2", "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    plan = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
    lengths = {j["id"]: timedelta(minutes=j["duration_min"]) for j in data["jobs"]}
    skipped_until = datetime(2027, 3, 28, 4, 0, tzinfo=ZoneInfo("Europe/Helsinki"))
    visits = [v for r in plan["routes"] for v in r["visits"] if v["job_id"] in lengths]
    assert visits
    for v in visits:
        start, end = datetime.fromisoformat(v["start"]), datetime.fromisoformat(v["end"])
        assert end - start == lengths[v["job_id"]], v
        assert start >= skipped_until, v
    assert "S01" in {u["job_id"] for u in plan["unassigned"]}  # its window lies in the hour that never was
