"""The textbook OR-Tools CVRPTW model, as a benchmark peer.

Built the way the OR-Tools routing samples (vrp_time_windows, cvrptw) build
it: Python transit callbacks, a distance arc cost, a time dimension (travel
plus service at the origin, waiting allowed up to the horizon) with the
windows on its cumul variables, a capacity dimension, a fixed fleet, and
PATH_CHEAPEST_ARC followed by guided local search until the time limit. No
disjunctions: a customer that does not fit makes the whole instance fail,
as in the samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from ortools.constraint_solver import pywrapcp, routing_enums_pb2


def solve(
    distance: npt.NDArray[np.int64],
    service: Sequence[int],
    windows: Sequence[tuple[int, int]],
    demand: Sequence[int],
    capacity: int,
    vehicles: int,
    time_limit_s: float,
) -> list[list[int]] | None:
    """Routes (node numbers, depot 0 left out) or None when no solution was found in time.

    All times and distances are integers in the same unit (DIMACS tenths);
    travel time equals distance.
    """
    n = len(demand)
    dist = distance.tolist()
    manager = pywrapcp.RoutingIndexManager(n, vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)

    def distance_callback(from_index: int, to_index: int) -> int:
        return int(dist[manager.IndexToNode(from_index)][manager.IndexToNode(to_index)])

    def time_callback(from_index: int, to_index: int) -> int:
        origin = manager.IndexToNode(from_index)
        return int(service[origin] + dist[origin][manager.IndexToNode(to_index)])

    def demand_callback(from_index: int) -> int:
        return int(demand[manager.IndexToNode(from_index)])

    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitCallback(distance_callback))

    horizon = int(windows[0][1])
    routing.AddDimension(routing.RegisterTransitCallback(time_callback), horizon, horizon, False, "Time")
    time_dimension = routing.GetDimensionOrDie("Time")
    for node in range(1, n):
        time_dimension.CumulVar(manager.NodeToIndex(node)).SetRange(int(windows[node][0]), int(windows[node][1]))
    for v in range(vehicles):
        for index in (routing.Start(v), routing.End(v)):
            time_dimension.CumulVar(index).SetRange(int(windows[0][0]), horizon)
        routing.AddVariableMinimizedByFinalizer(time_dimension.CumulVar(routing.Start(v)))
        routing.AddVariableMinimizedByFinalizer(time_dimension.CumulVar(routing.End(v)))

    demand_index = routing.RegisterUnaryTransitCallback(demand_callback)
    routing.AddDimensionWithVehicleCapacity(demand_index, 0, [capacity] * vehicles, True, "Capacity")

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    assignment = routing.SolveWithParameters(params)
    if assignment is None:
        return None
    routes = []
    for v in range(vehicles):
        route = []
        index = assignment.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = assignment.Value(routing.NextVar(index))
        if route:
            routes.append(route)
    return routes
