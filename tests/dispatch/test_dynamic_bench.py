"""bench.dynamic on a small cut of C101 at a tiny budget: every request is served or
rejected exactly once, committed visits never move between re-plans, and the driven
routes pass the checker (no timing or quality is asserted)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from bench.dynamic import (
    DynamicOutcome,
    Stop,
    main,
    read_anchors,
    read_release_dates,
    release_file,
    simulate,
    table,
    wait_first,
)
from dispatch.trsp import TrspInstance, load_trsp
from solver import RELOAD_ID, Job, Location, TimeWindow

DATA = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "trsp" / "pillac2013"
C101 = DATA / "txt" / "C101.100_25-5-5-5.txt"
needs_data = pytest.mark.skipif(
    not release_file(DATA, C101.stem, 70).exists(), reason=f"no dynamic TRSP data at {DATA}"
)


def cut(instance: TrspInstance, n_requests: int, n_techs: int) -> TrspInstance:
    """The instance with its first requests and technicians only."""
    problem = instance.problem
    small = dataclasses.replace(problem, technicians=problem.technicians[:n_techs], jobs=problem.jobs[:n_requests])
    return dataclasses.replace(
        instance, technicians=instance.technicians[:n_techs], requests=instance.requests[:n_requests], problem=small
    )


@needs_data
def test_the_release_dates_and_anchors_read() -> None:
    releases = read_release_dates(release_file(DATA, C101.stem, 30))
    assert len(releases) == 100 and sum(rd >= 0 for rd in releases.values()) == 30
    assert read_anchors(DATA / "dyn_anchors_palns.csv")[("C101", 30)][1] == 0


@needs_data
def test_a_small_day_replayed_keeps_what_was_committed_and_passes_the_checker() -> None:
    instance = cut(load_trsp(C101), 25, 8)
    releases = read_release_dates(release_file(DATA, C101.stem, 70))
    releases = {j.id: releases[j.id] for j in instance.problem.jobs}
    assert sum(rd > 0 for rd in releases.values()) >= 5, "the cut needs requests revealed during the day"
    out = simulate(instance, releases, budget_s=0.1, dod=70)

    ids = {j.id for j in instance.problem.jobs}
    assert out.served_ids | out.rejected_ids == ids and not out.served_ids & out.rejected_ids
    assert (out.served, out.rejected) == (len(out.served_ids), len(out.rejected_ids))
    visits = [s.job_id for stops in out.driven.values() for s in stops if s.job_id != RELOAD_ID]
    assert sorted(visits) == sorted(out.served_ids)  # each served exactly once
    assert out.replans == 1 + len({rd for rd in releases.values() if rd > 0})
    # Committed visits only ever grow at the end of each route, unchanged.
    for before, after in zip(out.committed_log, out.committed_log[1:], strict=False):
        for tech_id, stops in before.items():
            assert after[tech_id][: len(stops)] == stops
    for tech_id, stops in out.committed_log[-1].items():
        assert out.driven[tech_id][: len(stops)] == stops
    # A technician who went home (out, free, given nothing more) gets nothing after;
    # on this cut of 8 technicians some finish early.
    assert out.home_step
    for tech_id, step in out.home_step.items():
        assert out.driven[tech_id] == out.committed_log[step][tech_id]
    assert sum(len(s) for s in out.committed_log[-1].values()) > 0
    assert out.violations == 0, out.note
    assert out.duration > 0 and out.retimed is not None and out.retimed <= out.duration + 1e-6


def test_technicians_wait_where_they_are_and_set_out_as_late_as_the_rest_of_the_route_allows() -> None:
    """Home 0, a visit at node 1 (window 100-400), the depot 2, a visit at node 3 (window
    0-250), home again by 600; 50 between any two nodes. Planned as early as possible,
    each visit moves as late as what follows allows, the second up to its window's end."""
    travel = np.full((4, 4), 50, dtype=np.int64)
    np.fill_diagonal(travel, 0)
    here = Location(60.0, 24.0)
    jobs = {
        "a": Job("a", here, 30, windows=(TimeWindow(100, 400),)),
        "b": Job("b", here, 20, windows=(TimeWindow(0, 250),)),
    }
    planned = [Stop("a", 1, 100, 130), Stop(RELOAD_ID, 2, 180, 190), Stop("b", 3, 240, 260)]
    late = wait_first(planned, 600, 0, travel, jobs)
    # b: back 600 - 50 - 20 = 530, but its window ends at 250; the stop: 250 - 50 - 10;
    # a: 190 - 50 - 30.
    assert late == [Stop("a", 1, 110, 140), Stop(RELOAD_ID, 2, 190, 200), Stop("b", 3, 250, 270)]
    # Never earlier than planned, and the same when nothing can move.
    assert wait_first(late, 270 + 50, 0, travel, jobs) == late


def test_a_data_folder_without_instances_is_a_usage_error_that_says_what_it_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for folder in (tmp_path / "nowhere", tmp_path):
        with pytest.raises(SystemExit) as stopped:
            main(["--data", str(folder)])
        assert stopped.value.code == 2
        assert f"--data {folder}: " in capsys.readouterr().err
    (tmp_path / "txt").mkdir()
    with pytest.raises(SystemExit):
        main(["--data", str(tmp_path)])
    assert "txt/ holds no instance" in capsys.readouterr().err


def test_the_table_has_a_row_for_every_family_the_run_has_not_only_pillacs_three() -> None:
    def outcome(instance: str, rejected: int) -> DynamicOutcome:
        return DynamicOutcome(instance, 30, 100, 100 - rejected, rejected, 1000.0, None, 0, 5, None, 1.0)

    text = table(
        [outcome("R201.100_8-3-3-3", 2), outcome("C101.100_25-5-5-5", 0), outcome("RC208.50_6-3-3-3", 1)], {}, {}
    )
    rows = [line.split("|")[1].strip() for line in text.splitlines()[2:]]
    assert rows == ["C1", "R2", "RC2", "**all**"]
    r2 = next(line for line in text.splitlines() if line.startswith("| R2 "))
    assert "| 98 / 100 | 2 |" in r2
