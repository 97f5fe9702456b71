"""OR-Tools' CP-SAT solver for a bound that a benchmark needs (``dispatch.trsp``);
with ``ortools`` beside it, the only modules that import OR-Tools."""

from __future__ import annotations

from collections.abc import Sequence

from ortools.sat.python import cp_model


def assignment_bound(
    allowed: Sequence[Sequence[int]],
    demand: Sequence[Sequence[int]],
    capacity: Sequence[Sequence[int]],
    time_limit_s: float,
) -> int | None:
    """How many items can be assigned at most, each to at most one of the agents
    ``allowed[i]``, when for every agent ``k`` and resource ``p`` the ``demand[i][p]``
    of its items add up to at most ``capacity[k][p]``: exact unless CP-SAT runs out
    of ``time_limit_s``, then its upper bound; None when it found no answer at all."""
    model = cp_model.CpModel()
    chosen = []
    by_agent: list[list[tuple[int, cp_model.IntVar]]] = [[] for _ in capacity]
    for i, agents in enumerate(allowed):
        options = []
        for k in agents:
            var = model.new_bool_var(f"x{i}_{k}")
            options.append(var)
            by_agent[k].append((i, var))
        if options:
            model.add(sum(options) <= 1)
            chosen.extend(options)
    for k, caps in enumerate(capacity):
        for p, cap in enumerate(caps):
            used = [demand[i][p] * var for i, var in by_agent[k] if demand[i][p]]
            if used:
                model.add(sum(used) <= cap)
    model.maximize(sum(chosen))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = 1
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return int(solver.best_objective_bound)
