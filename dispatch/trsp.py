"""Technician routing and scheduling (TRSP) instances of Pillac, Guéret & Medaglia (2013) as solver problems.

The instances (``../shared/benchmarks/trsp/pillac2013/txt/*.txt``) are the
Solomon 100-customer instances with a crew of technicians added: each
technician has a home (start and end of the route), a working window, skills,
the tools they carry and a stock of each spare-part type; each request (a
Solomon customer: same point, window and service time) needs one skill, a set
of tools and a quantity of each part type. Node 0 is the central depot where,
in the paper, technicians may pick up tools and parts.

The mapping to ``solver.Problem``:

- a required skill ``s`` → job skill ``skill<s>`` at level 1; a tool ``t`` →
  job skill ``tool<t>`` at level 1 (a tool is a capability the technician
  carries, never used up); the technician holds level 1 of each skill and tool
  they have;
- spare parts → capacity per part type: the technician carries
  ``{"part<p>": stock}`` and a request demands ``{"part<p>": quantity}``, used
  up by each served request;
- times are hundredths of the instance's unit (windows, service and shift × 100);
  travel time = distance = ``ceil(100 × euclid)``, rounded *up* so that a plan
  that keeps the windows here keeps them with the paper's real-valued distances
  too (the duration is overstated by at most 0.01 a leg);
- reloading (the paper's model; ``load_trsp(..., reload=False)`` leaves it out):
  node 0 is the problem's ``Depot``, where a technician may stop once (no time on
  site) to pick up every tool (``tool<t>`` lent at level 1) and as many parts of
  each type as all requests together need, i.e. without limit; skills are the
  technician's own and cannot be fetched;
- the cost is the route duration only (1 cent per hundredth, no distance cost),
  so the engine's objective below the served-job tiers is the paper's total
  route duration (travel + service + waiting, departure to return).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from solver import (
    CostProfile,
    Depot,
    FixedMatrixProvider,
    Job,
    Location,
    Problem,
    ProblemError,
    Shift,
    Technician,
    TimeWindow,
    TravelMatrices,
)

IntMatrix = npt.NDArray[np.int64]
SCALE = 100  # solver "seconds" per instance time unit
_LIST = re.compile(r"\[([0-9,\s]*)\]")


class TrspError(ValueError):
    """A file that is missing or not a TRSP instance in the txt format of Pillac et al."""


@dataclass(frozen=True)
class TrspNode:
    """One line of the instance: the depot, a technician or a request (instance units)."""

    id: int
    x: int
    y: int
    tw_start: int
    tw_end: int
    service: int
    skills: tuple[int, ...]
    tools: tuple[int, ...]
    parts: tuple[int, ...]


@dataclass(frozen=True)
class TrspInstance:
    """One TRSP instance, its solver problem and the integer travel matrix (hundredths)."""

    name: str
    depot: TrspNode
    technicians: tuple[TrspNode, ...]
    requests: tuple[TrspNode, ...]
    n_skills: int
    n_tools: int
    n_parts: int
    problem: Problem
    provider: FixedMatrixProvider
    # Over all nodes in file order: depot 0, technician homes 1..T, requests T+1..T+R.
    travel: IntMatrix

    def tech_id(self, k: int) -> str:
        """The solver id of the ``k``-th technician (0-based)."""
        return f"T{self.technicians[k].id}"

    def job_id(self, r: int) -> str:
        """The solver id of the ``r``-th request (0-based): its node number in the file."""
        return str(self.requests[r].id)


def ceil_distances(coords: npt.ArrayLike, scale: int = SCALE) -> IntMatrix:
    """``ceil(scale × euclid)`` between every two integer points, computed exactly."""
    xy = np.asarray(coords, dtype=np.int64)
    delta = xy[:, None, :] - xy[None, :, :]
    squared = scale * scale * (delta**2).sum(axis=2)
    root = np.floor(np.sqrt(squared.astype(np.float64))).astype(np.int64)
    root -= (root * root > squared).astype(np.int64)
    root += ((root + 1) * (root + 1) <= squared).astype(np.int64)
    exact: IntMatrix = root + (root * root < squared).astype(np.int64)
    return exact


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v.strip())


def parse_nodes(path: Path) -> tuple[str, tuple[int, int, int, int], list[TrspNode]]:
    """The name, header counts (crew, skills, tools, parts) and node lines of a txt instance."""
    if not path.is_file():
        raise TrspError(f"{path}: no such file")
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise TrspError(f"{path}: empty file")
    name = lines[0].strip()
    counts: tuple[int, int, int, int] | None = None
    nodes: list[TrspNode] = []
    for k, line in enumerate(lines):
        if line.strip().startswith("CREW COUNT") and k + 1 < len(lines):
            numbers = lines[k + 1].split()
            if len(numbers) != 4 or not all(n.isdigit() for n in numbers):
                raise TrspError(f"{path}: line {k + 2}: expected 4 counts after CREW COUNT")
            counts = (int(numbers[0]), int(numbers[1]), int(numbers[2]), int(numbers[3]))
        fields = line.split()
        if len(fields) < 9 or not fields[0].isdigit():
            continue
        lists = _LIST.findall(line)
        if len(lists) != 3:
            raise TrspError(f"{path}: line {k + 1}: expected [skills] [tools] [spare parts]")
        try:
            ident, x, y, tws, twe, serv = (int(v) for v in fields[:6])
        except ValueError:
            raise TrspError(f"{path}: line {k + 1}: ID X Y TWS TWE Serv must be integers") from None
        nodes.append(TrspNode(ident, x, y, tws, twe, serv, *(_ints(v) for v in lists)))
    if counts is None:
        raise TrspError(f"{path}: no CREW COUNT header")
    if [n.id for n in nodes] != list(range(len(nodes))):
        raise TrspError(f"{path}: nodes are not numbered 0, 1, 2, ...")
    if len(nodes) < counts[0] + 2:
        raise TrspError(f"{path}: {len(nodes)} nodes for a crew of {counts[0]}")
    return name, counts, nodes


def load_trsp(path: Path | str, reload: bool = True) -> TrspInstance:
    """Read a txt TRSP instance into a solver problem (see the module doc for the mapping);
    with ``reload`` the depot is where technicians may fetch tools and parts."""
    path = Path(path)
    name, (crew, n_skills, n_tools, n_parts), nodes = parse_nodes(path)
    depot, techs, requests = nodes[0], tuple(nodes[1 : crew + 1]), tuple(nodes[crew + 1 :])
    for node in nodes[1:]:
        if len(node.parts) != n_parts:
            raise TrspError(f"{path}: node {node.id} lists {len(node.parts)} part types, not {n_parts}")
        if any(s >= n_skills for s in node.skills) or any(t >= n_tools for t in node.tools):
            raise TrspError(f"{path}: node {node.id} names a skill or tool beyond the header's counts")
    travel = ceil_distances([(n.x, n.y) for n in nodes])
    points = tuple(Location(i * 1e-6, 0.0) for i in range(len(nodes)))
    try:
        technicians = tuple(
            Technician(
                f"T{t.id}",
                points[t.id],
                Shift(t.tw_start * SCALE, t.tw_end * SCALE),
                skills={**{f"skill{s}": 1 for s in t.skills}, **{f"tool{v}": 1 for v in t.tools}},
                cost=CostProfile(per_hour_cents=3600),
                capacity={f"part{p}": q for p, q in enumerate(t.parts)},
            )
            for t in techs
        )
        jobs = tuple(
            Job(
                str(r.id),
                points[r.id],
                r.service * SCALE,
                skills={**{f"skill{s}": 1 for s in r.skills}, **{f"tool{v}": 1 for v in r.tools}},
                windows=(TimeWindow(r.tw_start * SCALE, r.tw_end * SCALE),),
                demand={f"part{p}": q for p, q in enumerate(r.parts) if q},
            )
            for r in requests
        )
        store = None
        if reload:
            store = Depot(
                points[0],
                restock={f"part{p}": sum(r.parts[p] for r in requests) for p in range(n_parts)},
                skills={f"tool{t}": 1 for t in range(n_tools)},
            )
        problem = Problem(technicians, jobs, depot=store)
    except ProblemError as exc:
        raise TrspError(f"{path}: {exc}") from None
    provider = FixedMatrixProvider(points, TravelMatrices(travel, travel))
    return TrspInstance(name, depot, techs, requests, n_skills, n_tools, n_parts, problem, provider, travel)


def can_serve(tech: TrspNode, request: TrspNode) -> bool:
    """True when the technician has the request's skills and tools and enough of each part at the start."""
    return (
        set(request.skills) <= set(tech.skills)
        and set(request.tools) <= set(tech.tools)
        and all(need <= have for need, have in zip(request.parts, tech.parts, strict=True))
    )


def reachable(instance: TrspInstance, k: int, r: int) -> bool:
    """True when technician ``k`` can go from home to request ``r`` alone, in its window, and be back in time."""
    tech, request = instance.technicians[k], instance.requests[r]
    there, back = instance.travel[tech.id, request.id], instance.travel[request.id, tech.id]
    start = max(tech.tw_start * SCALE + int(there), request.tw_start * SCALE)
    return start <= request.tw_end * SCALE and start + request.service * SCALE + int(back) <= tech.tw_end * SCALE


def reachable_via_depot(instance: TrspInstance, k: int, r: int) -> bool:
    """True when technician ``k`` can go from home to the depot, then to request ``r`` in
    its window, and be back in time (the least a reload before ``r`` needs)."""
    tech, request, depot = instance.technicians[k], instance.requests[r], instance.depot.id
    d = instance.travel
    start = max(tech.tw_start * SCALE + int(d[tech.id, depot]) + int(d[depot, request.id]), request.tw_start * SCALE)
    back = int(d[request.id, tech.id])
    return start <= request.tw_end * SCALE and start + request.service * SCALE + back <= tech.tw_end * SCALE


def servable_bound(instance: TrspInstance, time_limit_s: float = 5.0, reload: bool = False) -> int:
    """How many requests skills, tools, stock and reach allow at most.

    With ``reload``: the requests that some technician with the skill can reach,
    via the depot where they lack its tools or parts (there they get any tool and
    any number of parts, so stock binds no one who reloads).

    Without:
    The largest set of requests that can be shared out among the technicians
    so that each gets only requests it is qualified for and can reach alone in
    time (``reachable``), and its stock of each part covers their sum. Other
    time interactions are ignored, so this is an upper bound on what a plan
    serves (CP-SAT; exact unless it runs out of time, then its bound).
    """
    if reload:
        return sum(
            any(
                set(request.skills) <= set(tech.skills)
                and (reachable_via_depot(instance, k, r) or (can_serve(tech, request) and reachable(instance, k, r)))
                for k, tech in enumerate(instance.technicians)
            )
            for r, request in enumerate(instance.requests)
        )
    from solver.search.ortools_sat import assignment_bound

    allowed = [
        [k for k, tech in enumerate(instance.technicians) if can_serve(tech, request) and reachable(instance, k, r)]
        for r, request in enumerate(instance.requests)
    ]
    demand = [list(request.parts[: instance.n_parts]) for request in instance.requests]
    capacity = [list(tech.parts[: instance.n_parts]) for tech in instance.technicians]
    bound = assignment_bound(allowed, demand, capacity, time_limit_s)
    return len(instance.requests) if bound is None else bound


def read_bks(path: Path) -> dict[str, float]:
    """Best-known total durations by instance name (the lower of the rows per instance)."""
    out: dict[str, float] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row.get("bks_duration"):
                value = float(row["bks_duration"])
                out[row["instance"]] = min(value, out.get(row["instance"], value))
    return out
