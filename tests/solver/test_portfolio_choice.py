"""Which plan an OR-Tools search keeps: the construction or the search's own
(``solver.search.types.over_construction``), then the other core's or its own
(``solver.search.types.replaces``)."""

from __future__ import annotations

from solver.search.types import RawResult, RawRoute, RawVisit, over_construction, replaces


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


def test_a_search_that_started_over_and_dropped_every_job_does_not_stand_in_for_the_construction() -> None:
    # Seen on the sample day with OR-Tools under load: the warm start refused, the search
    # from scratch out of time with its all-dropped plan; the construction had placed 159.
    built = result(8, None, "construction")
    dropped_all = RawResult((), "partial_success_time_limit", True, 0, 0.2, 122_865_127_869_120)
    assert over_construction(dropped_all, built) is built
    assert over_construction(result(3, 100), built) is built


def test_a_search_serving_at_least_as_much_as_the_construction_stands_in_for_it() -> None:
    built = result(8, None, "construction")
    searched = result(8, 100)
    assert over_construction(searched, built) is searched
    assert over_construction(result(9, 90), built).objective_units == 90


def test_a_search_that_found_nothing_leaves_the_construction() -> None:
    built = result(0, None, "construction")
    assert over_construction(RawResult((), "fail_timeout", False, 0, None, None), built) is built
