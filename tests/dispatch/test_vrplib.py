"""VRPLIB VRPTW files (Solomon) read into solver problems, solved and written back.

Every check that matters here is recomputed from the raw file, independently
of dispatch.vrplib: distances as ``isqrt(100 × squared euclid)`` tenths, times
by a forward pass with earliest starts.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import vrplib
from typer.testing import CliRunner

from dispatch.cli import app
from dispatch.vrplib import VrplibError, VrplibResult, load_vrplib, routes_cost, solve_instance, solve_vrplib

SOLOMON = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "vrptw" / "solomon" / "vrp"
C101 = SOLOMON / "C101.vrp"
runner = CliRunner()


class Raw:
    """The instance as the file states it (no scaling)."""

    def __init__(self, path: Path) -> None:
        data = vrplib.read_instance(str(path), compute_edge_weights=False)
        self.coords = [(int(x), int(y)) for x, y in data["node_coord"]]
        self.demand = [int(d) for d in data["demand"]]
        self.windows = [(int(a), int(b)) for a, b in data["time_window"]]
        self.service = [0] + [int(data["service_time"])] * (len(self.coords) - 1)
        self.capacity = int(data["capacity"])
        self.vehicles = int(data["vehicles"])

    def tenths(self, a: int, b: int) -> int:
        (xa, ya), (xb, yb) = self.coords[a], self.coords[b]
        return math.isqrt(100 * ((xa - xb) ** 2 + (ya - yb) ** 2))

    def cost_tenths(self, routes: list[list[int]]) -> int:
        return sum(self.tenths(a, b) for r in routes for a, b in zip([0, *r], [*r, 0], strict=True))

    def late_stops(self, route: list[int]) -> list[int]:
        """Stops (customers, 0 for the return) reached after their window with earliest starts, in tenths."""
        late = []
        t = 10 * self.windows[0][0]
        for prev, node in zip([0, *route], [*route, 0], strict=True):
            t = max(t + self.tenths(prev, node), 10 * self.windows[node][0])
            if t > 10 * self.windows[node][1]:
                late.append(node)
            t += 10 * self.service[node]
        return late


def read_sol(path: Path) -> tuple[list[list[int]], float]:
    routes, cost = [], math.nan
    for line in path.read_text().splitlines():
        if line.startswith("Route"):
            routes.append([int(c) for c in line.split(":")[1].split()])
        elif line.startswith("Cost"):
            cost = float(line.split()[1])
    return routes, cost


def tiny_instance(folder: Path, demand_of_3: int = 1) -> Path:
    """Depot (0,0); customers 1 (3,4), 2 (6,8), 3 (0,-5); capacity 2 per vehicle, 2 vehicles;
    customer 1 closes at 20, customer 2 opens at 50."""
    path = folder / "tiny.vrp"
    path.write_text(
        "NAME : tiny\nTYPE : CVRPTW\nDIMENSION : 4\nVEHICLES : 2\nCAPACITY : 2\nSERVICE_TIME : 1\n"
        "EDGE_WEIGHT_TYPE : EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 3 4\n3 6 8\n4 0 -5\n"
        f"DEMAND_SECTION\n1 0\n2 1\n3 1\n4 {demand_of_3}\n"
        "TIME_WINDOW_SECTION\n1 0 100\n2 0 20\n3 50 60\n4 0 100\n"
        "DEPOT_SECTION\n1\n-1\nEOF\n"
    )
    return path


@pytest.fixture(scope="module")
def c101_solved() -> VrplibResult:
    # 2 s suffice on an idle machine; the margin keeps the test meaningful on a busy one.
    return solve_instance(load_vrplib(C101), time_limit_s=5)


# --- Reading -----------------------------------------------------------------------------------------------


def test_c101_becomes_25_identical_technicians_and_100_jobs_in_tenths() -> None:
    instance = load_vrplib(C101)
    raw = Raw(C101)
    problem = instance.problem
    assert (instance.name, instance.customers, instance.vehicles, instance.capacity) == ("C101", 100, 25, 200)
    assert len(problem.technicians) == 25
    assert {(t.shift.start_s, t.shift.end_s) for t in problem.technicians} == {(0, 12360)}
    assert {tuple(t.capacity.items()) for t in problem.technicians} == {(("load", 200),)}
    first = problem.job("1")
    assert (first.duration_s, first.demand) == (900, {"load": 10})
    assert [(w.start_s, w.end_s) for w in first.windows] == [(9120, 9670)]
    assert instance.distance[0, 1] == raw.tenths(0, 1) == 186  # floor(10 × sqrt(25 + 324))
    assert all(instance.distance[a, b] == raw.tenths(a, b) for a in range(0, 101, 7) for b in range(0, 101, 3))


def test_every_best_known_solution_recomputes_to_its_cost_line() -> None:
    """The DIMACS convention exactly: all 56 stored solutions cost what their file says."""
    sols = sorted(SOLOMON.glob("*.sol"))
    assert len(sols) == 56
    for sol in sols:
        routes, cost = read_sol(sol)
        assert routes_cost(load_vrplib(sol.with_suffix(".vrp")), routes) == pytest.approx(cost, abs=1e-9), sol.name


def test_a_missing_file_is_a_clear_error() -> None:
    with pytest.raises(VrplibError, match="no such file"):
        load_vrplib(SOLOMON / "X999.vrp")


def test_a_solution_file_is_not_taken_for_an_instance() -> None:
    with pytest.raises(VrplibError, match="not a VRPLIB instance"):
        load_vrplib(SOLOMON / "C101.sol")


def test_an_instance_without_time_windows_is_refused(tmp_path: Path) -> None:
    cvrp = tmp_path / "tiny.vrp"
    cvrp.write_text(
        "NAME : tiny\nTYPE : CVRP\nDIMENSION : 3\nCAPACITY : 10\nEDGE_WEIGHT_TYPE : EUC_2D\n"
        "NODE_COORD_SECTION\n1 0 0\n2 3 4\n3 6 8\nDEMAND_SECTION\n1 0\n2 1\n3 1\nDEPOT_SECTION\n1\n-1\nEOF\n"
    )
    with pytest.raises(VrplibError, match="no time_window"):
        load_vrplib(cvrp)


# --- Solving a tiny instance by hand -------------------------------------------------------------------------


def test_a_tiny_instance_is_solved_to_its_hand_computed_optimum(tmp_path: Path) -> None:
    """One route must be 0-1-2-0 (5 + 5 + 10 = 20: 1 closes early, 2 opens late), the other
    0-3-0 (10): 30. The other pairings cost 5 + 9.4 + 5 + 20 = 39.4 and 10 + 14.3 + 5 + 10 = 39.3."""
    result = solve_vrplib(tiny_instance(tmp_path), time_limit_s=1)
    assert sorted(result["routes"]) == [[1, 2], [3]]
    assert result["cost"] == 30.0


# --- Solving C101 ------------------------------------------------------------------------------------------


def test_every_customer_of_c101_is_served_exactly_once(c101_solved: VrplibResult) -> None:
    visited = sorted(c for route in c101_solved.routes for c in route)
    assert visited == list(range(1, 101))
    assert c101_solved.unserved == []


def test_the_reported_cost_is_the_sum_of_truncated_distances(c101_solved: VrplibResult) -> None:
    assert c101_solved.cost == Raw(C101).cost_tenths(c101_solved.routes) / 10


def test_no_route_exceeds_the_capacity_or_the_fleet(c101_solved: VrplibResult) -> None:
    raw = Raw(C101)
    assert len(c101_solved.routes) <= raw.vehicles
    assert max(sum(raw.demand[c] for c in route) for route in c101_solved.routes) <= raw.capacity


def test_every_time_window_is_kept_with_earliest_starts(c101_solved: VrplibResult) -> None:
    raw = Raw(C101)
    assert [raw.late_stops(route) for route in c101_solved.routes] == [[] for _ in c101_solved.routes]


# --- The command -------------------------------------------------------------------------------------------


def test_the_command_writes_routes_and_cost_as_json(tmp_path: Path) -> None:
    out = tmp_path / "tiny.json"
    result = runner.invoke(app, ["solve-vrplib", str(tiny_instance(tmp_path)), "--time-limit", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert set(written) == {"routes", "cost"}
    assert sorted(written["routes"]) == [[1, 2], [3]]
    assert written["cost"] == 30.0


def test_the_command_fails_naming_a_customer_no_vehicle_can_carry(tmp_path: Path) -> None:
    """Customer 3 needs 3 units, every vehicle carries 2: the others are written, exit code 1."""
    out = tmp_path / "tiny.json"
    path = tiny_instance(tmp_path, demand_of_3=3)
    result = runner.invoke(app, ["solve-vrplib", str(path), "--time-limit", "1", "--out", str(out)])
    assert result.exit_code == 1
    assert "1 customers not served: [3]" in result.output
    assert json.loads(out.read_text())["routes"] == [[1, 2]]


def test_the_command_explains_a_missing_file_without_a_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["solve-vrplib", str(tmp_path / "none.vrp"), "--out", str(tmp_path / "o.json")])
    assert result.exit_code == 2
    assert "Cannot read the instance" in result.output
    assert "no such file" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o.json").exists()


def test_the_command_explains_a_file_that_is_not_an_instance(tmp_path: Path) -> None:
    bad = tmp_path / "bad.vrp"
    bad.write_text("hello\n")
    result = runner.invoke(app, ["solve-vrplib", str(bad)])
    assert result.exit_code == 2
    assert "not a VRPLIB instance" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
