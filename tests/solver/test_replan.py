"""``solver.replan.remaining`` on days with stock and a depot: a technician who set
out keeps going home at the end, and carries what the visits done left of their stock."""

from __future__ import annotations

import dataclasses

import pytest

from solver import (
    Break,
    CostProfile,
    Depot,
    HaversineProvider,
    Job,
    Location,
    Problem,
    Shift,
    SolveOptions,
    Technician,
    check,
    problem_travel,
    solve,
)
from solver.replan import (
    Absence,
    Position,
    Stability,
    Told,
    changes,
    lunch_taken_until,
    remaining,
    tells,
    with_absence,
)
from solver.search.strategy import SearchSettings
from solver.solution import Route, Solution, Visit
from tests.solver.conftest import equidistant

H = 3600
HOME = Location(60.00, 24.00)
A = Location(60.01, 24.00)
B = Location(60.02, 24.00)
W = Location(60.05, 24.00)


def day(depot: Depot | None = None) -> Problem:
    """One technician from HOME with 3 panels and a screwdriver; jobs at A and B."""
    tech = Technician("t", HOME, Shift(8 * H, 16 * H), skills={"screwdriver": 1}, capacity={"panel": 3, "cable": 1})
    jobs = (Job("a", A, H, demand={"panel": 2}), Job("b", B, H, demand={"panel": 1}))
    return Problem((tech,), jobs, depot=depot)


def test_a_technician_who_set_out_still_ends_at_home() -> None:
    left = remaining(day(), 10 * H, positions={"t": Position(A, 11 * H, served=1)}, settled={"a"})
    tech = left.technicians[0]
    assert tech.start == A and tech.end_location == HOME
    assert tech.shift.start_s == 11 * H


def test_without_a_position_nothing_changes_but_the_start_time() -> None:
    problem = day()
    tech = remaining(problem, 9 * H).technicians[0]
    assert tech.start == HOME and tech.end is None
    assert tech.capacity == problem.technicians[0].capacity and tech.skills == problem.technicians[0].skills


def test_what_settled_visits_used_is_gone_from_the_stock() -> None:
    position = Position(A, 11 * H, served=1, used={"panel": 2})
    tech = remaining(day(), 10 * H, positions={"t": position}, settled={"a"}).technicians[0]
    assert tech.capacity == {"panel": 1, "cable": 1}


def test_after_a_settled_depot_stop_the_technician_holds_its_tools_and_restock() -> None:
    depot = Depot(W, restock={"panel": 10}, skills={"drill": 1})
    position = Position(A, 11 * H, served=1, used={"panel": 2}, reloaded=True)
    tech = remaining(day(depot), 10 * H, positions={"t": position}, settled={"a"}).technicians[0]
    assert tech.skills == {"screwdriver": 1, "drill": 1}
    # Topped up to the larger of their own stock and the restock, less what was used since.
    assert tech.capacity == {"panel": 8, "cable": 1}


def test_reloaded_means_nothing_without_a_depot() -> None:
    position = Position(A, 11 * H, used={"panel": 1}, reloaded=True)
    tech = remaining(day(), 10 * H, positions={"t": position}).technicians[0]
    assert tech.skills == {"screwdriver": 1} and tech.capacity == {"panel": 2, "cable": 1}


NEAR = Location(60.005, 24.00)


def one_fits() -> Problem:
    """A two-hour shift with room for one of two one-hour jobs: ``far`` at A, ``near`` closer to HOME."""
    tech = Technician("t", HOME, Shift(8 * H, 10 * H), cost=CostProfile(per_hour_cents=3600, per_km_cents=30))
    return Problem((tech,), (Job("far", A, H), Job("near", NEAR, H)))


@pytest.mark.parametrize("settings", [SearchSettings(), SearchSettings(ruin_and_recreate=False)])
def test_a_re_plan_with_stability_keeps_a_told_visit_rather_than_swap_it_for_a_cheaper_one(
    settings: SearchSettings,
) -> None:
    problem = one_fits()
    told = {"far": Told("t", 8 * H + 600)}
    options = SolveOptions(time_limit_s=1.0, search=settings)
    plain = remaining(problem, 8 * H, told=told)
    stable = remaining(problem, 8 * H, told=told, stability=Stability())
    without, kept = solve(plain, options), solve(stable, options)
    for left, solution in ((plain, without), (stable, kept)):
        assert check(left, solution, *problem_travel(left, HaversineProvider())).feasible
    # Without stability the cheaper job is served; with it, leaving the told visit out
    # costs its told technician as a move would, so the told visit stays.
    assert without.served_job_ids() == {"near"}
    assert kept.served_job_ids() == {"far"}
    assert kept.objective.preference_penalty == 0


def test_a_customer_is_told_only_when_their_arrival_moves_more_than_the_threshold() -> None:
    assert not tells(15 * 60, 15) and not tells(-15 * 60, 15)
    assert tells(15 * 60 + 1, 15) and tells(-(15 * 60 + 1), 15)
    assert not tells(0, 15)


def test_the_change_report_tells_the_customers_moved_beyond_the_threshold_and_not_the_one_on_it() -> None:
    told = {
        "on": Told("T1", 10 * H),
        "beyond": Told("T1", 11 * H),
        "earlier": Told("T1", 13 * H),
    }
    visits = (
        Visit("on", 10 * H + 15 * 60, 10 * H + 15 * 60, 10 * H + 45 * 60, 0, 0),
        Visit("beyond", 11 * H + 16 * 60, 11 * H + 16 * 60, 11 * H + 46 * 60, 0, 0),
        Visit("earlier", 12 * H + 44 * 60, 12 * H + 44 * 60, 13 * H + 14 * 60, 0, 0),
    )
    solution = Solution((Route("T1", visits, 8 * H, 14 * H),), ())
    found = changes(told, {"T1": ("on", "beyond", "earlier")}, solution, 15)
    assert [r.job_id for r in found.retimed] == ["beyond", "earlier"]
    assert found.notify == ("beyond", "earlier")
    assert not found.moved and not found.dropped and not found.routes_changed


def crew_solution(first: str, second: str) -> Solution:
    """A crew job at 11:30 with ``first`` there at 11:00 and ``second`` at 11:30."""
    routes = (
        Route(first, (Visit("crew", 11 * H, 11 * H + 1800, 15 * H, 0, 0),), 10 * H, 16 * H),
        Route(second, (Visit("crew", 11 * H + 1800, 11 * H + 1800, 15 * H, 0, 0),), 11 * H, 16 * H),
    )
    return Solution(routes, ())


@pytest.mark.parametrize("told_with", ["T21", "T25"])
def test_a_crew_job_kept_by_the_same_two_technicians_is_neither_moved_nor_retimed(told_with: str) -> None:
    told = {"crew": Told(told_with, 11 * H)}  # the first of the crew to arrive
    found = changes(told, {"T21": ("crew",), "T25": ("crew",)}, crew_solution("T21", "T25"), 15)
    assert not found.moved and not found.retimed and not found.routes_changed


def test_a_crew_job_that_changes_one_partner_is_moved_from_the_one_who_no_longer_comes() -> None:
    told = {"crew": Told("T25", 11 * H)}
    found = changes(told, {"T21": ("crew",), "T25": ("crew",)}, crew_solution("T21", "T30"), 15)
    assert [(m.job_id, m.from_technician_id, m.to_technician_id) for m in found.moved] == [("crew", "T25", "T30")]
    assert not found.retimed  # T21 still arrives first, at 11:00


def test_a_crew_job_given_two_new_technicians_is_moved_once_for_each_of_them() -> None:
    """Before, only the first pair was named; the second showed only as a route changed."""
    told = {"crew": Told("T21", 11 * H)}
    found = changes(told, {"T21": ("crew",), "T25": ("crew",)}, crew_solution("T30", "T31"), 15)
    assert [(m.job_id, m.from_technician_id, m.to_technician_id) for m in found.moved] == [
        ("crew", "T21", "T30"),
        ("crew", "T25", "T31"),
    ]


def test_a_visit_nobody_was_told_of_is_added_with_whoever_arrives_first_and_told_nothing_new() -> None:
    told = {"kept": Told("T1", 9 * H)}
    urgent = Route(
        "T1",
        (
            Visit("kept", 9 * H, 9 * H, 10 * H, 0, 0),
            Visit("urgent", 10 * H + 600, 10 * H + 600, 11 * H, 0, 0),
        ),
        8 * H,
        12 * H,
    )
    crew = crew_solution("T21", "T25").routes
    found = changes(told, {"T1": ("kept",)}, Solution((urgent, *crew), ()), 15)
    added = [(a.job_id, a.technician_id, a.arrival_s) for a in found.added]
    assert added == [("crew", "T21", 11 * H), ("urgent", "T1", 10 * H + 600)]
    assert not found.moved and not found.retimed and not found.dropped
    assert found.notify == ()  # a new visit's customer hears of it with the publication, as any visit planned
    assert found.routes_changed == ("T1", "T21", "T25")


P1, PJ, HOME2 = Location(60.03, 24.00), Location(60.04, 24.00), Location(60.06, 24.00)


def late_or_dear() -> Problem:
    """At 09:40 the job at PJ, told 09:50, can go to ``t1``, already out and free at P1
    only at 10:20 (36 euros an hour: it would start 10:30, 25 minutes outside the told
    arrival's quarter hour), or to ``t2`` at home (60 euros an hour, on time); 10 minutes
    between any two places."""
    t1 = Technician("t1", HOME, Shift(8 * H, 16 * H), cost=CostProfile(per_hour_cents=3600))
    t2 = Technician("t2", HOME2, Shift(8 * H, 16 * H), cost=CostProfile(per_hour_cents=6000))
    return Problem((t1, t2), (Job("j", PJ, H),))


@pytest.mark.parametrize(("told_cents", "goes_to"), [(0, "t1"), (3000, "t2")])
def test_a_cost_per_customer_told_sends_the_dearer_technician_who_keeps_the_told_arrival(
    told_cents: int, goes_to: str
) -> None:
    """``t1`` late costs 70 minutes of its hour (42 euros) and 25 minutes outside at 0.50
    euros (12.50): 54.50 euros against ``t2``'s 80 minutes (80 euros). With 30 euros for
    telling the customer a new time, ``t1`` costs 84.50 and ``t2`` goes."""
    travel = equidistant([HOME, P1, PJ, HOME2])
    stability = Stability(move_cents=0, per_min_cents=50, told_cents=told_cents)
    left = remaining(
        late_or_dear(),
        9 * H + 2400,
        positions={"t1": Position(P1, 10 * H + 1200, served=1)},
        told={"j": Told("t1", 9 * H + 3000)},
        stability=stability,
    )
    solution = solve(left, SolveOptions(time_limit_s=1.0, seed=1), travel)
    assert check(left, solution, *problem_travel(left, travel)).feasible
    [route] = [r for r in solution.routes if r.visits]
    assert route.technician_id == goes_to
    report = changes({"j": Told("t1", 9 * H + 3000)}, {"t1": ("j",)}, solution, stability.tolerance_min)
    assert report.notify == (() if goes_to == "t2" else ("j",))


LUNCH = Break(11 * H, 13 * H, 30 * 60)


def lunch_day() -> Problem:
    """``day()`` with a lunch taken between 11:00 and 13:00 for 30 minutes."""
    problem = day()
    tech = problem.technicians[0]
    return dataclasses.replace(problem, technicians=(dataclasses.replace(tech, shift=Shift(8 * H, 16 * H, LUNCH)),))


def test_a_lunch_planned_inside_a_visit_still_under_way_has_been_taken() -> None:
    # The lunch 11:30-12:00 inside a visit planned 09:00-13:30 (expected to end then).
    assert lunch_taken_until((41400, 43200), 13 * H + 1800, 13 * H + 1800, 10 * H) == 43200
    left = remaining(
        lunch_day(),
        10 * H,
        positions={"t": Position(A, 13 * H + 1800, served=1)},
        settled={"a"},
        lunch_taken={"t": 43200},
    )
    tech = left.technicians[0]
    assert tech.shift.lunch is None and tech.shift.start_s == 13 * H + 1800


def test_a_lunch_still_ahead_of_a_busy_technician_is_left_to_plan() -> None:
    # Visit under way until 12:00, the lunch planned after it: not taken at 11:45.
    assert lunch_taken_until((12 * H, 12 * H + 1800), 12 * H, 12 * H, 11 * H + 2700) is None
    tech = remaining(lunch_day(), 11 * H + 2700, positions={"t": Position(A, 12 * H, served=1)}).technicians[0]
    assert tech.shift.lunch is not None


def test_a_lunch_whose_time_came_while_the_technician_was_free_is_taken_from_then_for_its_length() -> None:
    # Free since 11:00, the lunch planned 11:10-11:40, re-planned at 11:20: at lunch until 11:40.
    assert lunch_taken_until((11 * H + 600, 11 * H + 2400), 11 * H, 11 * H, 11 * H + 1200) == 11 * H + 2400
    # Free only at 11:15 (an overrun), the lunch planned 11:10-11:40: taken 11:15-11:45.
    assert lunch_taken_until((11 * H + 600, 11 * H + 2400), 11 * H, 11 * H + 900, 11 * H + 1200) == 11 * H + 2700
    left = remaining(lunch_day(), 11 * H + 1200, lunch_taken={"t": 11 * H + 2400})
    assert left.technicians[0].shift.lunch is None and left.technicians[0].shift.start_s == 11 * H + 2400
    assert lunch_taken_until(None, None, 8 * H, 12 * H) is None


def test_a_told_window_reaches_from_the_told_arrival_to_the_told_start() -> None:
    """A crew starts together after its first arrival: the preferred window of the start
    runs from the told arrival to the told start, each with the tolerance."""
    stability = Stability()
    tolerance = stability.tolerance_min * 60
    told = {"a": Told("t", 10 * H, 10 * H + 1800), "b": Told("t", 12 * H)}
    left = remaining(day(), 9 * H, told=told, stability=stability)
    windows = {j.id: j.preferred_window for j in left.jobs}
    assert windows["a"] is not None and (windows["a"].start_s, windows["a"].end_s) == (
        10 * H - tolerance,
        10 * H + 1800 + tolerance,
    )
    assert windows["b"] is not None and (windows["b"].start_s, windows["b"].end_s) == (
        12 * H - tolerance,
        12 * H + tolerance,
    )


@pytest.mark.parametrize(
    "absence",
    [Absence(12 * H), Absence(7 * H, 10 * H), Absence(14 * H, 15 * H), Absence(11 * H + 1800, 12 * H), Absence(7 * H)],
)
@pytest.mark.parametrize("now_s", [9 * H, 11 * H + 2700, 14 * H + 1800])
def test_an_absence_already_in_the_day_changes_nothing_when_a_re_plan_takes_it_again(
    absence: Absence, now_s: int
) -> None:
    """Every plan of a day has a technician's unavailability in their shift
    (``with_absence``); a re-plan given it again at any instant plans the same technician."""
    problem = lunch_day()
    once = remaining(problem, now_s, absences={"t": (absence,)})
    day_of = with_absence(problem.technicians[0], absence)
    if day_of is None:
        assert absence.from_s <= 8 * H and absence.until_s is None and once.technicians == ()
        return
    twice = remaining(dataclasses.replace(problem, technicians=(day_of,)), now_s, absences={"t": (absence,)})
    if not once.technicians:  # gone for the rest of the day by now
        assert twice.technicians == ()
        return
    (a,), (b,) = once.technicians, twice.technicians
    without_lunch = Shift(a.shift.start_s, a.shift.end_s)
    assert dataclasses.replace(b, shift=Shift(b.shift.start_s, b.shift.end_s)) == dataclasses.replace(
        a, shift=without_lunch
    )
    # The one difference allowed: away for a while inside the shift, the absence holds the
    # lunch (as a re-plan made before it planned); re-planned while away, it was had there.
    inside = absence.until_s is not None and 8 * H < absence.from_s <= now_s < absence.until_s
    assert b.shift.lunch == a.shift.lunch or (inside and b.shift.lunch is None)


def test_a_whole_day_with_an_absence_starts_later_ends_earlier_or_pauses_for_it() -> None:
    tech = lunch_day().technicians[0]
    late = with_absence(tech, Absence(7 * H, 10 * H))
    early = with_absence(tech, Absence(12 * H))
    away = with_absence(tech, Absence(14 * H, 15 * H))
    assert late is not None and late.shift.start_s == 10 * H and late.shift.lunch == LUNCH
    assert early is not None and (early.shift.end_s, early.max_overtime_s) == (12 * H, 0)
    assert away is not None and away.shift.lunch == Break(14 * H, 14 * H, H, on_site=False)
    assert with_absence(tech, Absence(8 * H)) is None


def test_a_reported_absence_and_a_stored_one_inside_the_shift_are_both_kept_as_one_pause() -> None:
    """Already away 14:00-15:00 (the dentist, the day's pause off site), then reported
    away 10:00-11:00: the engine holds one pause a day, so it runs from 10:00 to 15:00;
    before, the dentist was forgotten and visits could be planned in it. One still to
    come when a re-plan starts is kept the same way; one already begun is not merged."""
    tech = lunch_day().technicians[0]
    dentist = Break(14 * H, 14 * H, H, on_site=False)
    stored = dataclasses.replace(tech, shift=Shift(8 * H, 16 * H, dentist))
    both = with_absence(stored, Absence(10 * H, 11 * H))
    assert both is not None and both.shift.lunch == Break(10 * H, 10 * H, 5 * H, on_site=False)
    after = with_absence(stored, Absence(15 * H + 1800, 15 * H + 2700))
    assert after is not None and after.shift.lunch == Break(14 * H, 14 * H, int(1.75 * H), on_site=False)
    problem = dataclasses.replace(lunch_day(), technicians=(stored,))
    (left,) = remaining(problem, 9 * H, absences={"t": (Absence(10 * H, 11 * H),)}).technicians
    assert left.shift.lunch == Break(10 * H, 10 * H, 5 * H, on_site=False)
    # A lunch (on site) is taken within the absence as before: no longer than the absence.
    plain = with_absence(tech, Absence(14 * H, 15 * H))
    assert plain is not None and plain.shift.lunch == Break(14 * H, 14 * H, H, on_site=False)


def test_an_absence_under_way_at_the_re_plan_keeps_the_technician_away_until_its_end() -> None:
    """An absence's pause begun by the re-plan's instant is away time to its end, whatever
    the lunch: before, its time having passed read as a lunch already had, and visits
    were planned at the dentist from the instant on."""
    dentist = Break(14 * H, 14 * H, H, on_site=False)
    stored = dataclasses.replace(lunch_day().technicians[0], shift=Shift(8 * H, 16 * H, dentist))
    problem = dataclasses.replace(lunch_day(), technicians=(stored,))
    (left,) = remaining(problem, 14 * H + 1800).technicians
    assert (left.shift.start_s, left.shift.lunch) == (15 * H, None)
    # The lunch had at 11:30 (the plan published before the absence was entered) does not
    # count as the absence had.
    (left,) = remaining(problem, 14 * H + 1800, lunch_taken={"t": 12 * H}).technicians
    assert (left.shift.start_s, left.shift.lunch) == (15 * H, None)
    # Reported away from before now until 14:30: back at 15:00, when the dentist is over.
    (left,) = remaining(problem, 14 * H, absences={"t": (Absence(13 * H, 14 * H + 1800),)}).technicians
    assert (left.shift.start_s, left.shift.lunch) == (15 * H, None)


def test_a_reported_absence_reaching_a_stored_one_keeps_all_of_it_and_a_lunch_fits_the_day_left() -> None:
    """Away 09:00-10:00 stored and reported away 08:00-09:30: the day starts at 10:00
    (before, at 09:30 with the rest of the dentist forgotten). Stored 14:00-15:00 and
    reported away from 14:30: the day ends at 14:00 (before, at 14:30 with a pause
    past its end, and nothing could be planned). Reported away from 11:10 with the lunch
    to start 11:00-13:00: no lunch is left to plan (before, the whole morning was lost
    to it); from 13:15, the lunch ends by then."""
    tech = lunch_day().technicians[0]
    early = dataclasses.replace(tech, shift=Shift(8 * H, 16 * H, Break(9 * H, 9 * H, H, on_site=False)))
    day = with_absence(early, Absence(8 * H, 9 * H + 1800))
    assert day is not None and (day.shift.start_s, day.shift.lunch) == (10 * H, None)
    late = dataclasses.replace(tech, shift=Shift(8 * H, 16 * H, Break(14 * H, 14 * H, H, on_site=False)))
    day = with_absence(late, Absence(14 * H + 1800))
    assert day is not None and (day.shift.end_s, day.shift.lunch) == (14 * H, None)
    day = with_absence(tech, Absence(11 * H + 600))
    assert day is not None and (day.shift.end_s, day.shift.lunch) == (11 * H + 600, None)
    day = with_absence(tech, Absence(13 * H + 900))
    assert day is not None and day.shift.lunch == Break(11 * H, 13 * H + 900 - 1800, 1800)


def test_an_absence_from_after_the_shift_never_makes_the_day_longer() -> None:
    """Away from after the shift's end cuts only the overtime still before it; before,
    the day was made to end at the absence (23:30 for a shift to 16:00)."""
    tech = dataclasses.replace(lunch_day().technicians[0], max_overtime_s=H)
    late_evening = with_absence(tech, Absence(23 * H + 1800))
    in_overtime = with_absence(tech, Absence(16 * H + 1200))
    assert late_evening is not None and (late_evening.shift.end_s, late_evening.max_overtime_s) == (16 * H, H)
    assert in_overtime is not None and (in_overtime.shift.end_s, in_overtime.max_overtime_s) == (16 * H, 1200)


def test_a_job_only_technicians_done_for_the_day_could_do_names_them_not_a_missing_skill() -> None:
    """Re-planned at 13:00, the only glazier went home at 12:00: the glass job is left
    out because the glazier works no more, not because nobody has the skill (before:
    "No technician working this day has glass level 1.")."""
    glazier = Technician("g", HOME, Shift(8 * H, 12 * H), skills={"glass": 1, "wardrobe": 1})
    fitter = Technician("f", HOME, Shift(8 * H, 16 * H), skills={"wardrobe": 1})
    pair = Technician("p", HOME, Shift(8 * H, 16 * H), skills={"glass": 1, "wardrobe": 1})
    jobs = (
        Job("glass", A, H, skills={"glass": 1}),
        Job("crew", B, H, skills={"wardrobe": 1, "glass": 1}, crew_size=2),
        Job("wardrobe", B, H, skills={"wardrobe": 1}),
    )
    left = remaining(Problem((glazier, fitter), jobs[:1] + jobs[2:]), 13 * H)
    assert [t.id for t in left.off_duty] == ["g"]
    solution = solve(left, SolveOptions(time_limit_s=1))
    assert check(left, solution, *problem_travel(left, HaversineProvider())).feasible
    (out,) = solution.unassigned
    assert out.job_id == "glass" and out.code == "no_shift_in_window"
    assert out.reason == "No technician with glass level 1 works any more this day: g (day over or away)."
    crew_left = remaining(Problem((glazier, pair), jobs[1:2]), 13 * H)
    (crew_out,) = solve(crew_left, SolveOptions(time_limit_s=1)).unassigned
    assert crew_out.reason == (
        "Needs a crew of 2 with glass level 1, wardrobe level 1: g works no more this day (day over or away), "
        "leaving only p."
    )


def test_a_reason_names_five_technicians_done_for_the_day_and_counts_the_others() -> None:
    gone = tuple(Technician(f"g{i}", HOME, Shift(8 * H, 12 * H), skills={"glass": 1}) for i in range(7))
    left = remaining(Problem(gone, (Job("glass", A, H, skills={"glass": 1}),)), 13 * H)
    (out,) = solve(left, SolveOptions(time_limit_s=1)).unassigned
    assert out.reason == (
        "No technician with glass level 1 works any more this day: g0, g1, g2, g3, g4 and 2 more (day over or away)."
    )


def test_a_crews_customer_is_told_the_first_arrival_kept_with_the_first_technician_and_the_common_start() -> None:
    first = Told.joined(None, "t1", 10 * H, 10 * H + 600)
    assert first == Told("t1", 10 * H, 10 * H + 600)
    assert Told.joined(first, "t2", 10 * H - 600, 10 * H + 600) == Told("t1", 10 * H - 600, 10 * H + 600)
    assert Told.joined(first, "t2", 10 * H + 300, 10 * H + 600) == Told("t1", 10 * H, 10 * H + 600)
    assert Told.joined(None, "t1", 9 * H) == Told("t1", 9 * H, None)
