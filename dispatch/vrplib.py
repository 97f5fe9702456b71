"""VRPLIB VRPTW instances (Solomon, Homberger) as solver problems, and back.

The DIMACS convention of the VRPTW benchmarks is kept exactly by working in
integer tenths: the distance between two nodes is ``floor(10 × euclid)``
tenths, travel time equals distance, and time windows and service times are
multiplied by 10. The solver's "seconds" and "metres" are then tenths of the
instance's units, and the cost profile (1 cent per km = 1 unit per metre, no
time cost) makes the objective exactly the total distance.

Each vehicle of the instance becomes an identical technician at the depot
whose shift is the depot's window and who carries ``{"load": CAPACITY}``;
each customer becomes a job with demand ``{"load": d}``. Customers are
numbered as in the ``.sol`` files: 1 … n-1, the depot (node 0) left out.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import vrplib

from solver import (
    CostProfile,
    FixedMatrixProvider,
    Job,
    Location,
    Problem,
    ProblemError,
    Shift,
    Solution,
    SolveOptions,
    Technician,
    TimeWindow,
    TravelMatrices,
    solve,
)
from solver.engine import ProgressCallback
from solver.problem import DAY_S

IntMatrix = npt.NDArray[np.int64]
LOAD = "load"
# The OR-Tools model's time horizon (two days of solver seconds, here tenths).
MAX_HORIZON = 2 * DAY_S


class VrplibError(ValueError):
    """A file that is missing or not a VRPTW instance this reader understands."""


@dataclass(frozen=True)
class VrplibInstance:
    """One VRPTW instance as a solver problem, with the integer distances (tenths)."""

    name: str
    problem: Problem
    provider: FixedMatrixProvider
    distance: IntMatrix
    vehicles: int
    capacity: int
    demand: tuple[int, ...]

    @property
    def customers(self) -> int:
        """Number of customers (nodes less the depot)."""
        return len(self.demand) - 1


@dataclass(frozen=True)
class VrplibResult:
    """Routes as customer numbers, their total distance, and who was left out."""

    routes: list[list[int]]
    cost: float
    unserved: list[int]
    solution: Solution


def truncated_distances(coords: npt.ArrayLike) -> IntMatrix:
    """``floor(10 × euclidean distance)`` between every two points, as integers (tenths).

    Integer coordinates are computed exactly (integer square root); others in floating point.
    """
    xy = np.asarray(coords)
    if np.issubdtype(xy.dtype, np.integer):
        delta = xy[:, None, :].astype(np.int64) - xy[None, :, :].astype(np.int64)
        squared = 100 * (delta**2).sum(axis=2)
        root = np.floor(np.sqrt(squared.astype(np.float64))).astype(np.int64)
        # Correct the float root to the exact integer square root.
        root -= (root * root > squared).astype(np.int64)
        root += ((root + 1) * (root + 1) <= squared).astype(np.int64)
        exact: IntMatrix = root
        return exact
    delta_f = xy[:, None, :].astype(np.float64) - xy[None, :, :].astype(np.float64)
    floored: IntMatrix = np.floor(10 * np.sqrt((delta_f**2).sum(axis=2))).astype(np.int64)
    return floored


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise VrplibError(f"{path}: no such file")
    if not path.is_file():
        raise VrplibError(f"{path}: not a file")
    try:
        data: dict[str, Any] = vrplib.read_instance(str(path), compute_edge_weights=False)
    except (RuntimeError, ValueError, IndexError, KeyError, UnicodeDecodeError) as exc:
        raise VrplibError(f"{path}: not a VRPLIB instance ({exc})") from None
    missing = [key for key in ("node_coord", "demand", "time_window", "capacity", "depot") if key not in data]
    if missing:
        raise VrplibError(f"{path}: not a VRPTW instance, no {', '.join(missing)}")
    return data


def load_vrplib(path: Path | str) -> VrplibInstance:
    """Read a VRPLIB CVRPTW file into a solver problem (DIMACS tenths, see the module doc)."""
    path = Path(path)
    data = _read(path)
    if str(data.get("edge_weight_type", "EUC_2D")).upper() != "EUC_2D":
        raise VrplibError(f"{path}: EDGE_WEIGHT_TYPE {data['edge_weight_type']} is not supported (EUC_2D only)")
    depots = [int(d) for d in np.atleast_1d(data["depot"])]
    if depots != [0]:
        raise VrplibError(f"{path}: exactly one depot, the first node, is supported (found {depots})")
    coords = np.asarray(data["node_coord"])
    n = len(coords)
    demand = [int(d) for d in np.asarray(data["demand"]).reshape(-1)]
    windows = np.asarray(data["time_window"]).reshape(-1, 2)
    if n < 2 or len(demand) != n or len(windows) != n:
        raise VrplibError(f"{path}: sections disagree on the number of nodes ({n}, {len(demand)}, {len(windows)})")
    service_raw = data.get("service_time", 0)
    if np.ndim(service_raw) == 0:
        # One SERVICE_TIME for every customer; the depot has none.
        service = [0] + [int(service_raw)] * (n - 1)
    else:
        service = [int(s) for s in np.asarray(service_raw).reshape(-1)]
        service[0] = 0
    capacity = int(data["capacity"])
    vehicles = int(data.get("vehicles", n - 1))
    horizon = (int(10 * windows[0][0]), int(10 * windows[0][1]))
    if horizon[1] > MAX_HORIZON:
        raise VrplibError(f"{path}: depot window ends at {windows[0][1]}, beyond what the solver plans")
    distance = truncated_distances(coords)
    points = tuple(Location(i * 1e-6, 0.0) for i in range(n))
    try:
        shift = Shift(*horizon)
        techs = tuple(
            Technician(
                f"V{v}",
                points[0],
                shift,
                cost=CostProfile(per_km_cents=1),
                capacity={LOAD: capacity},
            )
            for v in range(1, vehicles + 1)
        )
        jobs = tuple(
            Job(
                str(i),
                points[i],
                10 * service[i],
                windows=(TimeWindow(int(10 * windows[i][0]), int(10 * windows[i][1])),),
                demand={LOAD: demand[i]},
            )
            for i in range(1, n)
        )
        problem = Problem(techs, jobs)
    except (ProblemError, TypeError, ValueError) as exc:
        raise VrplibError(f"{path}: {exc}") from None
    provider = FixedMatrixProvider(points, TravelMatrices(distance, distance))
    name = str(data.get("name", path.stem))
    return VrplibInstance(name, problem, provider, distance, vehicles, capacity, tuple(demand))


def routes_cost(instance: VrplibInstance, routes: Sequence[Sequence[int]]) -> float:
    """Total distance of routes (customer numbers, depot implicit at both ends), in instance units."""
    tenths = 0
    for route in routes:
        if not route:
            continue
        nodes = [0, *route, 0]
        tenths += sum(int(instance.distance[a, b]) for a, b in itertools.pairwise(nodes))
    return tenths / 10


def solve_instance(
    instance: VrplibInstance, time_limit_s: float, seed: int = 0, progress: ProgressCallback | None = None
) -> VrplibResult:
    """Solve a loaded instance with the planning engine within ``time_limit_s``."""
    solution = solve(
        instance.problem,
        SolveOptions(time_limit_s=time_limit_s, seed=seed),
        travel_provider=instance.provider,
        progress=progress,
    )
    routes = [[int(v.job_id) for v in r.visits] for r in solution.routes if r.visits]
    unserved = sorted(int(u.job_id) for u in solution.unassigned)
    return VrplibResult(routes, routes_cost(instance, routes), unserved, solution)


def solve_vrplib(path: Path | str, time_limit_s: float) -> dict[str, Any]:
    """Solve a VRPLIB VRPTW file: ``{"routes": [[customer, ...], ...], "cost": distance}``.

    Customers are numbered as in the ``.sol`` files (1 … n-1); the cost is
    the total DIMACS distance (tenths truncated) in the instance's units.
    """
    result = solve_instance(load_vrplib(path), time_limit_s)
    return {"routes": result.routes, "cost": result.cost}
