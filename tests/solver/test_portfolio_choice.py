"""Which of the two cores' plans a portfolio search keeps (``solver.search.types.replaces``)."""

from __future__ import annotations

from solver.search.types import RawResult, RawRoute, RawVisit, replaces


def result(visits: int, objective: int | None, status: str = "search") -> RawResult:
    route = RawRoute("T1", tuple(RawVisit(f"J{i}", 3600 * (8 + i)) for i in range(visits)), 7 * 3600, 17 * 3600, None)
    return RawResult((route,), status, True, 1, 0.1, objective)


def test_a_cheaper_plan_from_the_other_core_replaces_a_priced_one() -> None:
    assert replaces(result(5, 800), result(5, 900))
    assert not replaces(result(5, 1000), result(5, 900))


def test_the_construction_standing_in_unpriced_is_replaced_only_by_a_plan_serving_as_much() -> None:
    stand_in = result(8, None, "construction")
    assert not replaces(result(6, 100), stand_in)  # fewer visits: the work the construction placed is kept
    assert replaces(result(8, 100), stand_in)
    assert replaces(result(9, 100), stand_in)
    assert not replaces(RawResult((), "no_solution", False, 0, None, None), stand_in)
