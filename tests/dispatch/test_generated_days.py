"""The seeded day generator (data/samples/generate.py) at benchmark sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.gen_days import day_path, generator, make_day, parse_size
from dispatch.dayfile import load_day

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def test_the_default_day_is_the_committed_sample_byte_for_byte(tmp_path: Path) -> None:
    gen = generator()
    day = gen.make_helsinki_day(gen.SEED, gen.DEFAULT_TECHNICIANS, gen.DEFAULT_JOBS)
    gen.write_json(day, tmp_path / "day.json")
    assert (tmp_path / "day.json").read_bytes() == (SAMPLES / "helsinki-day.json").read_bytes()


def test_a_large_day_has_its_size_unique_names_and_is_seeded() -> None:
    first = make_day(200, 2000, seed=7)
    assert len(first["technicians"]) == 200
    assert len(first["jobs"]) == 2000
    # 2,200 people need more than the 2,052 first-name and surname pairs.
    names = [j["customer"]["name"] for j in first["jobs"]]
    assert len(set(names)) == len(names)
    assert first == make_day(200, 2000, seed=7)
    assert first != make_day(200, 2000, seed=8)


def test_a_generated_day_has_every_feature_the_scale_benchmark_needs(tmp_path: Path) -> None:
    path = day_path(50, 400, tmp_path, seed=3)
    assert path == day_path(50, 400, tmp_path, seed=3)  # reused, not rewritten
    problem = load_day(path).problem
    assert len(problem.technicians) == 50 and len(problem.jobs) == 400
    assert any(j.crew_size == 2 for j in problem.jobs)
    assert {j.priority for j in problem.jobs} == {1, 2, 3}
    assert any(j.windows for j in problem.jobs) and any(j.preferred_window for j in problem.jobs)
    assert all(t.shift.lunch is not None for t in problem.technicians)
    assert json.loads(path.read_text())["jobs"][0]["id"] == "J0001"


@pytest.mark.parametrize("text", ["200", "x10", "0x100", "2x40", "10x5", "ax10"])
def test_a_bad_size_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="TECHNICIANSxJOBS"):
        parse_size(text)


@pytest.mark.parametrize("size", ["3x10", "4x20", "6x30", "8x40"])
def test_a_small_day_is_generated_with_what_it_has_room_for(size: str, tmp_path: Path) -> None:
    """Small sizes the command takes make a valid day (before, 6 × 30 crashed: no job of
    a kind was left to pin to a technician)."""
    techs, jobs = parse_size(size)
    problem = load_day(day_path(techs, jobs, tmp_path)).problem
    assert (len(problem.technicians), len(problem.jobs)) == (techs, jobs)
