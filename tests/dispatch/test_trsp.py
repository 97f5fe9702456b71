"""The TRSP reader (dispatch/trsp.py) on a real instance of Pillac et al. (2013), and bench.trsp's scoring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.trsp import DEPOT_STOP, evaluate, least_duration_timing, run_ours
from dispatch.trsp import SCALE, TrspError, ceil_distances, load_trsp, read_bks, servable_bound
from solver import Problem, SolveOptions, check, problem_travel, solve

DATA = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "trsp" / "pillac2013"
C101 = DATA / "txt" / "C101.100_25-5-5-5.txt"
R101 = DATA / "txt" / "R101.100_25-5-5-5.txt"
needs_data = pytest.mark.skipif(not C101.exists(), reason=f"TRSP data not found at {DATA}")


def test_distances_are_rounded_up_exactly() -> None:
    d = ceil_distances([(0, 0), (3, 4), (1, 1)])
    assert d[0, 1] == 500  # exactly 5.00
    assert d[0, 2] == 142  # 141.42... rounded up
    assert (d == d.T).all() and (np.diag(d) == 0).all()


@needs_data
def test_c101_has_its_crew_requests_and_mapping() -> None:
    inst = load_trsp(C101)
    assert inst.name == "C101.100_25-5-5-5"
    assert (len(inst.technicians), len(inst.requests)) == (25, 100)
    assert (inst.n_skills, inst.n_tools, inst.n_parts) == (5, 5, 5)
    problem = inst.problem
    assert len(problem.technicians) == 25 and len(problem.jobs) == 100
    # Technician 1: home (9, 6), window 0–1236, skills [1,3,4], tools [1,2,3], parts [3,0,4,4,0].
    t1 = problem.technicians[0]
    assert t1.id == "T1" and t1.shift.end_s == 1236 * SCALE
    assert t1.skills == {"skill1": 1, "skill3": 1, "skill4": 1, "tool1": 1, "tool2": 1, "tool3": 1}
    assert t1.capacity == {"part0": 3, "part1": 0, "part2": 4, "part3": 4, "part4": 0}
    # Request 26: window 912–967, service 90, skill [4], no tools, parts [1,0,1,0,0].
    j26 = problem.jobs[0]
    assert j26.id == "26" and j26.duration_s == 90 * SCALE
    assert (j26.windows[0].start_s, j26.windows[0].end_s) == (912 * SCALE, 967 * SCALE)
    assert j26.skills == {"skill4": 1} and j26.demand == {"part0": 1, "part2": 1}
    assert problem.resource_types == ("part0", "part1", "part2", "part3", "part4")
    assert servable_bound(inst) == 100


@needs_data
def test_r101_cannot_serve_every_request_without_reloading() -> None:
    assert servable_bound(load_trsp(R101)) == 95
    assert servable_bound(load_trsp(R101), reload=True) == 100


@needs_data
def test_the_depot_lends_every_tool_and_parts_without_limit_and_can_be_left_out() -> None:
    inst = load_trsp(C101)
    depot = inst.problem.depot
    assert depot is not None and depot.stop_s == 0
    assert depot.skills == {f"tool{t}": 1 for t in range(5)}
    needed = {kind: sum(j.demand.get(kind, 0) for j in inst.problem.jobs) for kind in depot.restock}
    assert all(depot.restock[kind] >= amount for kind, amount in needed.items())
    assert load_trsp(C101, reload=False).problem.depot is None


@needs_data
def test_bks_takes_the_better_row() -> None:
    bks = read_bks(DATA / "bks_trsp.csv")
    assert len(bks) == 29
    assert bks["C101.100_25-5-5-5"] == pytest.approx(10717.516)


@needs_data
def test_a_tiny_solve_passes_the_checker_and_the_bench_scoring() -> None:
    inst = load_trsp(C101)
    # The first 12 requests and 4 technicians: a day the engine plans in a second.
    small = Problem(inst.problem.technicians[:4], inst.problem.jobs[:12])
    solution = solve(small, SolveOptions(time_limit_s=2), inst.provider)
    points, travel = problem_travel(small, inst.provider)
    assert check(small, solution, points, travel).feasible
    assert solution.routes and any(r.visits for r in solution.routes)
    # The whole instance through the bench's re-timing and checker.
    plan = run_ours(inst, 3.0, 0)
    assert plan is not None
    outcome = evaluate(inst, "ours", plan, 3.0, 100, 10717.516)
    assert outcome.violations == 0
    assert outcome.served == sum(1 for seq in plan.values() for r in seq if r != DEPOT_STOP)
    assert outcome.reloads == sum(seq.count(DEPOT_STOP) for seq in plan.values())
    assert outcome.duration is not None and outcome.duration >= 90 * outcome.served
    for k, seq in plan.items():
        timing = least_duration_timing(inst, k, seq)
        assert timing.depart_s >= inst.technicians[k].tw_start * SCALE


def test_a_file_that_is_not_an_instance_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("hello\n1 2 3\n")
    with pytest.raises(TrspError, match="CREW COUNT"):
        load_trsp(bad)
    with pytest.raises(TrspError, match="no such file"):
        load_trsp(tmp_path / "missing.txt")
