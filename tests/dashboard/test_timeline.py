"""The Gantt's bars, flags and crew links, on a hand-made day."""

from __future__ import annotations

import datetime as dt

from dashboard.models import Visit
from dashboard.timeline import AT_RISK_SLACK_MIN, build_timeline, visit_flag, visit_slack
from tests.dashboard.factories import at, job, plan, route, technician, visit


def naive(clock: str) -> dt.datetime:
    return at(clock).replace(tzinfo=None)


def test_a_route_becomes_travel_waiting_work_lunch_and_window_bars() -> None:
    """Drive 08:00–08:20, wait for the 09:00 window, work, drive, work, lunch, drive home."""
    jobs = [job("A", [("09:00", "10:00")]), job("B")]
    day = plan(
        1,
        [
            route(
                "T1",
                [visit("A", 1, "08:20", "09:00", "10:00", 20), visit("B", 2, "10:10", "10:10", "11:00", 10)],
                "08:00",
                "11:50",
                50,
                lunch_start="11:00",
                lunch_end="11:30",
            )
        ],
    )
    timeline = build_timeline(day, jobs, [technician("T1", "Aino")])
    assert timeline.rows == ["T1 Aino"]
    bars = [(r.category, r.start, r.end, r.job_id) for r in timeline.segments.itertuples()]
    assert sorted(bars, key=lambda b: (b[1], b[0])) == sorted(
        [
            ("window", naive("09:00"), naive("10:00"), "A"),
            ("travel", naive("08:00"), naive("08:20"), "A"),
            ("waiting", naive("08:20"), naive("09:00"), "A"),
            ("work", naive("09:00"), naive("10:00"), "A"),
            ("travel", naive("10:00"), naive("10:10"), "B"),
            ("work", naive("10:10"), naive("11:00"), "B"),
            ("lunch", naive("11:00"), naive("11:30"), ""),
            ("travel", naive("11:30"), naive("11:50"), ""),
        ],
        key=lambda b: (b[1], b[0]),
    )
    assert timeline.flags.empty and timeline.links.empty


def test_idle_time_between_stops_is_waiting_except_the_lunch_inside_it() -> None:
    jobs = [job("A"), job("B")]
    day = plan(
        1,
        [
            route(
                "T1",
                [visit("A", 1, "08:10", "08:10", "10:00", 10), visit("B", 2, "13:00", "13:00", "14:00", 15)],
                "08:00",
                "14:10",
                35,
                lunch_start="11:00",
                lunch_end="11:30",
            )
        ],
    )
    waiting = build_timeline(day, jobs, []).segments.query("category == 'waiting'")
    assert list(zip(waiting["start"], waiting["end"], strict=True)) == [
        (naive("10:00"), naive("11:00")),
        (naive("11:30"), naive("12:45")),
    ]


def test_a_start_near_the_end_of_its_window_is_at_risk_and_one_past_its_deadline_is_late() -> None:
    risky = job("R", [("10:00", "10:20")])
    late = job("L", deadline=at("11:00"))
    fine = job("F", [("12:00", "14:00")])
    assert visit_flag(visit_slack(risky, Visit.model_validate(visit("R", 1, "10:10", "10:10", "11:00", 5)))) == (
        "at risk"
    )
    assert visit_flag(visit_slack(late, Visit.model_validate(visit("L", 1, "11:05", "11:05", "12:00", 5)))) == "late"
    assert visit_flag(visit_slack(fine, Visit.model_validate(visit("F", 1, "12:00", "12:00", "13:00", 5)))) is None
    assert visit_slack(job("N"), Visit.model_validate(visit("N", 1, "12:00", "12:00", "13:00", 5))) is None
    assert AT_RISK_SLACK_MIN == 15


def test_a_preferred_window_missed_is_late_with_the_reason_named() -> None:
    soft = job("S", preferred_window={"start": at("09:00"), "end": at("10:00")})
    day = plan(1, [route("T1", [visit("S", 1, "10:30", "10:30", "11:00", 5)], "10:25", "11:05", 10)])
    flags = build_timeline(day, [soft], []).flags
    assert list(flags["flag"]) == ["late"]
    assert flags["detail"].iloc[0] == "S starts 30 min after its preferred window"


def test_a_crew_of_two_is_linked_between_both_technicians_rows() -> None:
    crew = job("K", crew_size=2)
    day = plan(
        1,
        [
            route("T1", [visit("K", 1, "09:00", "09:00", "12:00", 10)], "08:50", "12:10", 20),
            route("T2", [visit("K", 1, "08:55", "09:00", "12:00", 15)], "08:40", "12:15", 30),
        ],
    )
    links = build_timeline(day, [crew], [technician("T1", "Aino"), technician("T2", "Mikko")]).links
    assert links.to_dict("records") == [{"job_id": "K", "at": naive("09:00"), "row_a": "T1 Aino", "row_b": "T2 Mikko"}]
