"""The default travel model: road-factored great-circle distance at a fixed speed."""

from __future__ import annotations

import random

import numpy as np
import pytest

from solver import HaversineProvider, Location
from solver.objective import _teleports, max_speed_mps
from solver.travel import TravelMatrices


def test_one_degree_of_latitude_is_about_111_km_times_the_road_factor_at_32_kmh() -> None:
    seconds, metres = HaversineProvider().between([Location(60.0, 25.0)], [Location(61.0, 25.0)])
    assert abs(int(metres[0, 0]) - 111_195 * 1.35) < 5  # 1° of a great circle on a 6,371 km sphere
    assert int(seconds[0, 0]) == round(metres[0, 0] / (32 / 3.6))


def test_a_large_matrix_holds_the_same_values_as_each_pair_asked_alone() -> None:
    rng = random.Random(7)
    points = [Location(60.1 + rng.random() * 0.3, 24.6 + rng.random() * 0.6) for _ in range(300)]
    provider = HaversineProvider()
    matrices = provider.matrices(points)  # more rows than one block
    assert matrices.duration_s.shape == (300, 300)
    assert (np.diag(matrices.distance_m) == 0).all()
    assert (matrices.distance_m == matrices.distance_m.T).all()
    for i, j in [(0, 1), (127, 128), (128, 299), (299, 5), (200, 200)]:
        seconds, metres = provider.between([points[i]], [points[j]])
        assert (matrices.duration_s[i, j], matrices.distance_m[i, j]) == (seconds[0, 0], metres[0, 0])


def test_no_origins_give_an_empty_matrix() -> None:
    seconds, metres = HaversineProvider().between([], [Location(60.0, 25.0)])
    assert seconds.shape == metres.shape == (0, 1)


def test_matrices_with_a_negative_value_are_refused() -> None:
    durations = np.zeros((3, 3), dtype=np.int64)
    distances = np.zeros((3, 3), dtype=np.int64)
    distances[2, 1] = -1
    with pytest.raises(ValueError, match="negative"):
        TravelMatrices(durations, distances)


def test_the_fastest_arc_is_found_wherever_it_is_in_a_large_matrix() -> None:
    durations = np.full((600, 600), 100, dtype=np.int64)
    distances = np.full((600, 600), 500, dtype=np.int64)
    durations[555, 3] = 10  # 50 m/s, far past the first block of rows
    distances[0, 1] = 10**6
    durations[0, 1] = 0  # a distance with no time: no speed, but it "teleports"
    assert max_speed_mps(TravelMatrices(durations, distances)) == 50.0
    assert _teleports(TravelMatrices(durations, distances))
