"""Travel matrices: how long and how far between any two points.

A provider turns a list of points into whole integer matrices; the model
never asks for single arcs. The default is straight-line (haversine) distance
stretched by a road factor and driven at a constant speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from solver.problem import RELOAD_ID, Location, Problem

EARTH_RADIUS_M = 6_371_008.8

IntMatrix = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TravelMatrices:
    """Square integer matrices indexed like the points they were made from."""

    duration_s: IntMatrix
    distance_m: IntMatrix

    def __post_init__(self) -> None:
        if self.duration_s.shape != self.distance_m.shape:
            raise ValueError("duration and distance matrices differ in shape")
        if self.duration_s.ndim != 2 or self.duration_s.shape[0] != self.duration_s.shape[1]:
            raise ValueError("travel matrices must be square")
        if self.duration_s.size and (self.duration_s.min() < 0 or self.distance_m.min() < 0):
            raise ValueError("travel matrices must not hold negative values")

    @property
    def size(self) -> int:
        """Number of points."""
        return int(self.duration_s.shape[0])

    def take(self, index: Sequence[int] | npt.NDArray[np.int64]) -> TravelMatrices:
        """The sub-matrices for these point indices, in this order (repeats allowed)."""
        idx = np.asarray(index, dtype=np.int64)
        grid = np.ix_(idx, idx)
        return TravelMatrices(self.duration_s[grid], self.distance_m[grid])


class TravelProvider(Protocol):
    """Anything that gives travel matrices for a list of points."""

    def matrices(self, points: Sequence[Location]) -> TravelMatrices:
        """Duration and distance from every point to every other point."""
        ...


# Rows of the travel matrix computed together (see ``HaversineProvider.between``).
_ROWS = 128


@dataclass(frozen=True)
class HaversineProvider:
    """Great-circle distance × ``road_factor``, driven at ``speed_kmh``.

    Defaults (road factor 1.35, 32 km/h door to door) fit a Nordic metro area
    with parking and stairs included; see docs/travel.md.
    """

    road_factor: float = 1.35
    speed_kmh: float = 32.0

    def __post_init__(self) -> None:
        if self.road_factor < 1.0:
            raise ValueError("road_factor must be at least 1")
        if self.speed_kmh <= 0:
            raise ValueError("speed_kmh must be positive")

    def matrices(self, points: Sequence[Location]) -> TravelMatrices:
        """Road-factored haversine matrices, rounded to whole metres and seconds."""
        duration, distance = self.between(points, points)
        return TravelMatrices(duration_s=duration, distance_m=distance)

    def between(self, origins: Sequence[Location], destinations: Sequence[Location]) -> tuple[IntMatrix, IntMatrix]:
        """Durations (s) and distances (m) from each origin (rows) to each
        destination (columns), rounded as in ``matrices``."""
        lat1 = np.radians(np.array([p.lat for p in origins], dtype=np.float64))
        lon1 = np.radians(np.array([p.lon for p in origins], dtype=np.float64))
        lat2 = np.radians(np.array([p.lat for p in destinations], dtype=np.float64))
        lon2 = np.radians(np.array([p.lon for p in destinations], dtype=np.float64))
        cos2 = np.cos(lat2)[None, :]
        duration = np.empty((len(lat1), len(lat2)), dtype=np.int64)
        distance = np.empty((len(lat1), len(lat2)), dtype=np.int64)
        # A block of rows at a time: the same arithmetic, element by element, as on the
        # whole matrix, without whole-matrix temporaries (a 5,500-point day would
        # allocate and fault in a dozen arrays of 240 MB each).
        for lo in range(0, len(lat1), _ROWS):
            hi = lo + _ROWS
            dlat = lat1[lo:hi, None] - lat2[None, :]
            dlon = lon1[lo:hi, None] - lon2[None, :]
            a = np.sin(dlat / 2) ** 2 + np.cos(lat1[lo:hi])[:, None] * cos2 * np.sin(dlon / 2) ** 2
            metres = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))) * self.road_factor
            seconds = metres / (self.speed_kmh / 3.6)
            duration[lo:hi] = np.rint(seconds)
            distance[lo:hi] = np.rint(metres)
        return duration, distance


@dataclass(frozen=True)
class FixedMatrixProvider:
    """Matrices supplied by the caller, for exactly the points given at creation."""

    points: tuple[Location, ...]
    travel: TravelMatrices

    def matrices(self, points: Sequence[Location]) -> TravelMatrices:
        """The supplied matrices re-indexed to ``points`` (each must be a known point)."""
        position = {p: i for i, p in enumerate(self.points)}
        try:
            index = [position[p] for p in points]
        except KeyError as exc:
            raise ValueError(f"no travel data for point {exc.args[0]}") from None
        return self.travel.take(index)


@dataclass(frozen=True)
class PointIndex:
    """The distinct points of a problem and where each technician and job sits."""

    points: tuple[Location, ...]
    tech_start: dict[str, int]
    tech_end: dict[str, int]
    job: dict[str, int]


def index_points(problem: Problem) -> PointIndex:
    """Number the distinct locations of ``problem`` (homes, ends, jobs, and the depot
    under the job id ``RELOAD_ID`` when there is one)."""
    position: dict[Location, int] = {}

    def at(loc: Location) -> int:
        return position.setdefault(loc, len(position))

    starts = {t.id: at(t.start) for t in problem.technicians}
    ends = {t.id: at(t.end_location) for t in problem.technicians}
    jobs = {j.id: at(j.location) for j in problem.jobs}
    if problem.depot is not None:
        jobs[RELOAD_ID] = at(problem.depot.location)
    return PointIndex(tuple(position), starts, ends, jobs)


def problem_travel(problem: Problem, provider: TravelProvider) -> tuple[PointIndex, TravelMatrices]:
    """The point index of ``problem`` and the provider's matrices over it."""
    index = index_points(problem)
    return index, provider.matrices(index.points)
