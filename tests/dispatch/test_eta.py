"""Estimated arrival from field facts (``dispatch.eta.estimate``), on a hand-made day.

Points: 0 T1's home, 1 A, 2 B, 3 C, 4 T2's home; drives in minutes:
home–A 30, A–B 20, B–C 10, C–home 30. T1 leaves at 08:00:
A 08:30–09:30, B arrives 09:50 and waits for its window to start at 10:00 (until
11:00), C 11:10–12:10, home at 12:40. Every number below is worked out by hand from
these.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dispatch.eta import (
    DONE,
    LATER,
    NEXT,
    SHIFT,
    UNAVAILABLE,
    UNDER_WAY,
    WINDOW,
    RouteFacts,
    VisitEta,
    VisitFacts,
    estimate,
)
from solver import TravelMatrices
from solver.replan import Absence

M = 60
H = 3600
MINUTES = {(0, 1): 30, (1, 2): 20, (2, 3): 10, (3, 0): 30, (0, 2): 40, (4, 2): 15, (3, 4): 20, (1, 3): 25}


def travel() -> TravelMatrices:
    seconds = np.zeros((5, 5), dtype=np.int64)
    for (a, b), minutes in MINUTES.items():
        seconds[a, b] = seconds[b, a] = minutes * M
    return TravelMatrices(seconds, seconds * 10)


TRAVEL = travel()


def at(hours: int, minutes: int = 0) -> int:
    return hours * H + minutes * M


A = VisitFacts("A", 1, at(8, 30), at(8, 30), at(9, 30), 60 * M)
B = VisitFacts("B", 2, at(9, 50), at(10), at(11), 60 * M)
C = VisitFacts("C", 3, at(11, 10), at(11, 10), at(12, 10), 60 * M)
T1 = RouteFacts("T1", home=0, end=0, depart_s=at(8), latest_end_s=at(16), visits=(A, B, C))


def with_facts(route: RouteFacts, **changes: VisitFacts) -> RouteFacts:
    return dataclasses.replace(route, visits=tuple(changes.get(v.job_id, v) for v in route.visits))


def by_job(estimates: list[VisitEta]) -> dict[str, VisitEta]:
    return {e.job_id: e for e in estimates}


def test_without_facts_every_visit_keeps_its_planned_arrival() -> None:
    got = by_job(estimate([T1], TRAVEL, now_s=at(7)))
    assert [(got[j].eta_s, got[j].delay_min, got[j].state) for j in "ABC"] == [
        (at(8, 30), 0, NEXT),
        (at(9, 50), 0, LATER),
        (at(11, 10), 0, LATER),
    ]
    assert not any(e.at_risk for e in got.values())


def test_a_job_finished_late_moves_the_next_visits_later_less_any_waiting() -> None:
    """A ends at 10:00 instead of 09:30: B arrives 10:20 (+30); B had 10 minutes of
    waiting for its window, so it ends 11:20 and C arrives 11:30 (+20)."""
    done = dataclasses.replace(A, status="completed", actual_start_s=at(9), actual_end_s=at(10))
    got = by_job(estimate([with_facts(T1, A=done)], TRAVEL, now_s=at(10)))
    assert (got["A"].state, got["A"].eta_s, got["A"].delay_min) == (DONE, None, 30)
    assert (got["B"].state, got["B"].eta_s, got["B"].delay_min, got["B"].end_s) == (NEXT, at(10, 20), 30, at(11, 20))
    assert (got["C"].state, got["C"].eta_s, got["C"].delay_min) == (LATER, at(11, 30), 20)


def test_a_technician_still_on_site_past_the_planned_end_delays_the_rest() -> None:
    """B on site since 10:00 (planned end 11:00); at 11:40 it is still going, so it is
    expected to end now and C to be reached at 11:50 (+40)."""
    a = dataclasses.replace(A, status="completed", actual_start_s=at(8, 30), actual_end_s=at(9, 30))
    b = dataclasses.replace(B, status="on_site", actual_start_s=at(10))
    got = by_job(estimate([with_facts(T1, A=a, B=b)], TRAVEL, now_s=at(11, 40)))
    assert (got["B"].state, got["B"].eta_s, got["B"].end_s, got["B"].delay_min) == (UNDER_WAY, None, at(11, 40), 10)
    assert (got["C"].state, got["C"].eta_s, got["C"].delay_min) == (NEXT, at(11, 50), 40)


def test_an_overrun_reported_for_the_visit_under_way_moves_the_rest_either_way() -> None:
    """B on site since 10:00 (planned end 11:00). An overrun says it ends at 12:00: C is
    expected at 12:10. A later report says 10:40 (it goes faster): C at 11:10, as planned;
    a reported end already past is now."""
    a = dataclasses.replace(A, status="completed", actual_start_s=at(8, 30), actual_end_s=at(9, 30))
    b = dataclasses.replace(B, status="on_site", actual_start_s=at(10))
    late = by_job(estimate([with_facts(T1, A=a, B=dataclasses.replace(b, reported_end_s=at(12)))], TRAVEL, at(10, 30)))
    assert (late["B"].end_s, late["C"].eta_s, late["C"].delay_min) == (at(12), at(12, 10), 60)
    early = by_job(
        estimate([with_facts(T1, A=a, B=dataclasses.replace(b, reported_end_s=at(10, 40)))], TRAVEL, at(10, 30))
    )
    assert (early["B"].end_s, early["C"].eta_s) == (at(10, 40), at(11, 10))
    past = by_job(estimate([with_facts(T1, A=a, B=dataclasses.replace(b, reported_end_s=at(10, 40)))], TRAVEL, at(11)))
    assert (past["B"].end_s, past["C"].eta_s) == (at(11), at(11, 10))


def test_a_technician_running_late_is_driven_from_where_they_reported_unless_a_later_visit_says_otherwise() -> None:
    """A done at 09:30; at 10:00 the technician reports being at point 4 (15 min from
    B): B is expected at 10:15 (+25), and C after it. A report from before A ended moves
    nothing. Before any visit is reached, a report is where they set out from: at point
    3 at 08:20, A (25 min away) is expected at 08:45 (+15)."""
    a = dataclasses.replace(A, status="completed", actual_start_s=at(8, 30), actual_end_s=at(9, 30))
    late = dataclasses.replace(with_facts(T1, A=a), reported=(4, at(10)))
    got = by_job(estimate([late], TRAVEL, now_s=at(10)))
    assert (got["B"].eta_s, got["B"].delay_min, got["C"].eta_s) == (at(10, 15), 25, at(11, 25))
    stale = dataclasses.replace(with_facts(T1, A=a), reported=(4, at(9)))
    assert by_job(estimate([stale], TRAVEL, now_s=at(10)))["B"].eta_s == at(10)
    early = dataclasses.replace(T1, reported=(3, at(8, 20)))
    assert by_job(estimate([early], TRAVEL, now_s=at(8, 20)))["A"].eta_s == at(8, 45)


def test_the_visits_a_technician_made_unavailable_cannot_make_are_at_risk_and_the_rest_are_not() -> None:
    """Unavailable 10:30-11:05: B (10:00-11:00) overlaps it, C (from 11:10) does not;
    for the rest of the day from 11:00, C is at risk too. A is done: never at risk; a
    visit under way is when they leave before it ends."""
    a = dataclasses.replace(A, status="completed", actual_start_s=at(8, 30), actual_end_s=at(9, 30))
    away = dataclasses.replace(with_facts(T1, A=a), unavailable=(Absence(at(10, 30), at(11, 5)),))
    got = by_job(estimate([away], TRAVEL, now_s=at(9, 40)))
    assert [(got[j].at_risk, got[j].risk) for j in "ABC"] == [(False, None), (True, UNAVAILABLE), (False, None)]
    gone = dataclasses.replace(with_facts(T1, A=a), unavailable=(Absence(at(11)),))
    got = by_job(estimate([gone], TRAVEL, now_s=at(9, 40)))
    assert [got[j].risk for j in "ABC"] == [None, None, UNAVAILABLE]
    # On site at B when they fall ill at 10:30: B will not be finished by them either.
    on_site = dataclasses.replace(B, status="on_site", actual_start_s=at(10))
    ill = dataclasses.replace(with_facts(T1, A=a, B=on_site), unavailable=(Absence(at(10, 30)),))
    got = by_job(estimate([ill], TRAVEL, now_s=at(10, 30)))
    assert [got[j].risk for j in "ABC"] == [None, UNAVAILABLE, UNAVAILABLE]


def test_a_visit_is_at_risk_when_its_eta_passes_the_promised_windows_end() -> None:
    c = dataclasses.replace(C, promised=(at(11), at(11, 30)))
    on_time = by_job(estimate([with_facts(T1, C=c)], TRAVEL, now_s=at(7)))
    assert not on_time["C"].at_risk
    b = dataclasses.replace(B, status="on_site", actual_start_s=at(10))
    late = by_job(estimate([with_facts(T1, B=b, C=c)], TRAVEL, now_s=at(11, 40)))
    assert (late["C"].eta_s, late["C"].at_risk, late["C"].risk) == (at(11, 50), True, WINDOW)


def test_an_en_route_technician_left_the_previous_place_at_the_events_time() -> None:
    """Left A at 09:40 (A completed 09:30): B reached 10:00, 10 minutes later than planned."""
    a = dataclasses.replace(A, status="completed", actual_start_s=at(8, 30), actual_end_s=at(9, 30))
    b = dataclasses.replace(B, status="en_route", en_route_at_s=at(9, 40))
    got = by_job(estimate([with_facts(T1, A=a, B=b)], TRAVEL, now_s=at(9, 45)))
    assert (got["B"].state, got["B"].eta_s, got["B"].delay_min) == (UNDER_WAY, at(10), 10)
    assert (got["C"].state, got["C"].eta_s, got["C"].delay_min) == (NEXT, at(11, 10), 0)


def test_nothing_reported_is_never_expected_earlier_than_now() -> None:
    """At 09:00 with no report, A is expected now (+30), B at 10:20 (+30), C at 11:30 (+20)."""
    got = by_job(estimate([T1], TRAVEL, now_s=at(9)))
    assert [(got[j].eta_s, got[j].delay_min) for j in "ABC"] == [(at(9), 30), (at(10, 20), 30), (at(11, 30), 20)]


def test_a_visit_that_cannot_end_before_the_shift_does_is_at_risk() -> None:
    """C ends 12:10 and home is 30 minutes away: past a 12:30 hard end."""
    short = dataclasses.replace(T1, latest_end_s=at(12, 30))
    got = by_job(estimate([short], TRAVEL, now_s=at(7)))
    assert (got["C"].at_risk, got["C"].risk) == (True, SHIFT)
    assert not got["B"].at_risk  # B ends 11:00: C is 10 minutes on, home 30 more


def test_the_lunch_on_the_way_keeps_its_length() -> None:
    """Lunch 09:30–10:00 between A and B: the plan reaches B at 10:20. A done 30 minutes
    late still takes the lunch: B at 10:50."""
    plan = RouteFacts(
        "T1",
        home=0,
        end=0,
        depart_s=at(8),
        latest_end_s=at(16),
        visits=(
            A,
            dataclasses.replace(B, planned_arrival_s=at(10, 20), planned_start_s=at(10, 20), planned_end_s=at(11, 20)),
        ),
        lunch_start_s=at(9, 30),
        lunch_duration_s=30 * M,
    )
    assert by_job(estimate([plan], TRAVEL, now_s=at(7)))["B"].eta_s == at(10, 20)
    done = dataclasses.replace(A, status="completed", actual_start_s=at(9), actual_end_s=at(10))
    assert by_job(estimate([with_facts(plan, A=done)], TRAVEL, now_s=at(10)))["B"].eta_s == at(10, 50)


def crew_partner(**facts: object) -> RouteFacts:
    """T2: leaves home at 09:45, planned at the crew job B at 10:00 (with ``facts`` of
    what the field reported there), then C."""
    b = dataclasses.replace(B, planned_arrival_s=at(10), **facts)  # type: ignore[arg-type]
    return RouteFacts("T2", home=4, end=4, depart_s=at(9, 45), latest_end_s=at(16), visits=(b, C))


def test_a_crew_visit_starts_when_the_later_of_the_two_arrives() -> None:
    """B is a crew job: T2 leaves home at 09:45, reaches B at 10:00, then C 11:10. T1
    reaches B 20 minutes late (A ended 10:00), so T2 waits and starts at 10:20: C at 11:30."""
    t2 = crew_partner()
    t1 = RouteFacts("T1", home=0, end=0, depart_s=at(8), latest_end_s=at(16), visits=(A, B))
    done = dataclasses.replace(A, status="completed", actual_start_s=at(9), actual_end_s=at(10))
    got = estimate([with_facts(t1, A=done), t2], TRAVEL, now_s=at(10))
    second = {e.job_id: e for e in got if e.technician_id == "T2"}
    assert (second["B"].eta_s, second["B"].end_s) == (at(10), at(11, 20))
    assert (second["C"].eta_s, second["C"].delay_min) == (at(11, 30), 20)


def test_one_of_a_crew_on_site_waits_for_the_partner_still_coming() -> None:
    """B is a crew job. T2 arrived at B at 10:00 (on site by their own report); T1 is
    still on A until 10:00 (an overrun) and drives 20 minutes: the work starts at 10:20,
    so T2's B ends 11:20 and C is reached 11:30. Before, the partner's arrival made the
    crew's work start at 10:00 on T2's route."""
    t2 = crew_partner(status="on_site", actual_start_s=at(10))
    t1 = RouteFacts("T1", home=0, end=0, depart_s=at(8), latest_end_s=at(16), visits=(A, B))
    busy = dataclasses.replace(A, status="on_site", actual_start_s=at(9), reported_end_s=at(10))
    got = estimate([with_facts(t1, A=busy), t2], TRAVEL, now_s=at(9, 55))
    first = {e.job_id: e for e in got if e.technician_id == "T1"}
    second = {e.job_id: e for e in got if e.technician_id == "T2"}
    assert (first["B"].state, first["B"].eta_s, first["B"].end_s) == (NEXT, at(10, 20), at(11, 20))
    assert (second["B"].state, second["B"].end_s) == (UNDER_WAY, at(11, 20))
    assert second["C"].eta_s == at(11, 30)


def test_one_of_a_crew_there_early_is_early_not_late_while_the_work_waits_for_the_partner() -> None:
    """B is a crew job. T2 arrived at B at 09:57, three minutes before the planned 10:00;
    T1 reaches B only at 10:20. T2 is early for their customer (delay -3), while the
    crew's work still starts at 10:20: B ends 11:20 and C is reached 11:30. Before, T2's
    arrival read as 10:20, 20 minutes late."""
    t2 = crew_partner(status="on_site", actual_start_s=at(9, 57))
    t1 = RouteFacts("T1", home=0, end=0, depart_s=at(8), latest_end_s=at(16), visits=(A, B))
    busy = dataclasses.replace(A, status="on_site", actual_start_s=at(9), reported_end_s=at(10))
    got = estimate([with_facts(t1, A=busy), t2], TRAVEL, now_s=at(9, 58))
    second = {e.job_id: e for e in got if e.technician_id == "T2"}
    assert (second["B"].state, second["B"].arrival_s, second["B"].delay_min) == (UNDER_WAY, at(9, 57), -3)
    assert (second["B"].at_risk, second["B"].end_s) == (False, at(11, 20))
    assert (second["C"].eta_s, second["C"].delay_min) == (at(11, 30), 20)


def test_a_cancelled_visit_is_skipped_and_a_failed_one_is_done() -> None:
    """A failed at 09:00 (open again with its end); B cancelled: C is driven to from A,
    25 minutes: 09:25, but never before its planned 11:10."""
    a = dataclasses.replace(A, status="open", actual_start_s=at(8, 30), actual_end_s=at(9))
    b = dataclasses.replace(B, status="cancelled")
    got = by_job(estimate([with_facts(T1, A=a, B=b)], TRAVEL, now_s=at(9)))
    assert set(got) == {"A", "C"} and got["A"].state == DONE
    assert (got["C"].state, got["C"].eta_s, got["C"].seq) == (NEXT, at(11, 10), 3)


def test_a_visit_cancelled_after_its_technician_got_there_starts_the_rest_from_its_place() -> None:
    """T1 got to A late, at 09:40, and its customer cancelled: B is driven to from A
    (20 minutes), 10:00, not from home as if A had never been on the route (09:50)."""
    a = dataclasses.replace(A, status="cancelled", actual_start_s=at(9, 40))
    got = by_job(estimate([with_facts(T1, A=a)], TRAVEL, now_s=at(9, 45)))
    assert set(got) == {"B", "C"}
    assert (got["B"].state, got["B"].eta_s) == (NEXT, at(10))
