"""bench.scale: splitting a day into areas, and one measured run."""

from __future__ import annotations

from pathlib import Path

from bench.scale import run_one, split_areas, work_load
from dispatch.dayfile import load_day

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def test_areas_share_out_every_job_and_technician_once() -> None:
    problem = load_day(SAMPLES / "helsinki-day.json").problem
    areas = split_areas(problem, 3)
    assert len(areas) == 3
    assert sorted(j.id for a in areas for j in a.jobs) == sorted(j.id for j in problem.jobs)
    assert sorted(t.id for a in areas for t in a.technicians) == sorted(t.id for t in problem.technicians)
    for area in areas:
        assert area.technicians and area.jobs
        ids = {t.id for t in area.technicians}
        # Pinned jobs follow their technician; a preference for someone elsewhere is dropped.
        assert all(j.pinned_technician_id in ids for j in area.jobs if j.pinned_technician_id)
        assert all(j.preferred_technician_id in ids for j in area.jobs if j.preferred_technician_id)
    # West to east (pinned jobs aside): the first area's jobs lie west of the last area's.
    west = [j.location.lon for j in areas[0].jobs if not j.pinned_technician_id]
    east = [j.location.lon for j in areas[2].jobs if not j.pinned_technician_id]
    assert max(west) <= min(east)
    assert split_areas(problem, 1) == [problem]


def test_one_run_reports_a_checked_plan() -> None:
    row = run_one(SAMPLES / "small-day.json", 2.0, 0, 1)
    assert row["violations"] == 0
    assert row["jobs"] == 12 and row["served"] <= row["servable"] == 11
    assert row["first_s"] is None or row["first_s"] <= row["wall_s"]
    assert row["peak_mb"] >= row["peak_solve_mb"] > 0
    assert 0.5 < row["load"] < 1.5


def test_the_sample_day_is_not_overloaded() -> None:
    assert work_load(load_day(SAMPLES / "helsinki-day.json").problem) < 1.0


def test_a_job_goes_where_someone_is_qualified() -> None:
    problem = load_day(SAMPLES / "helsinki-day.json").problem
    for area in split_areas(problem, 4):
        for job in area.jobs:
            whole = sum(t.has_skills(job.skills) for t in problem.technicians)
            here = sum(t.has_skills(job.skills) for t in area.technicians)
            assert here >= job.crew_size or whole < job.crew_size, job.id
