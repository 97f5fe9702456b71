"""The week view's tables (``dashboard.week``): technicians × days with each day's load,
jobs and unassigned, from per-day reads of the API."""

from __future__ import annotations

import datetime as dt
import math

from dashboard.models import Plan, Technician
from dashboard.week import WeekDay, day_plan, days_frame, load_colour, week_frames, week_of
from tests.dashboard.factories import job, plan, route, technician, visit, working_day

DAY = dt.date(2026, 12, 1)  # a Tuesday


def test_the_week_runs_monday_to_sunday_around_the_day() -> None:
    assert week_of(DAY) == [dt.date(2026, 11, 30) + dt.timedelta(days=n) for n in range(7)]
    assert week_of(dt.date(2026, 11, 30))[0] == dt.date(2026, 11, 30)


def test_a_day_is_read_from_its_published_plan_else_its_newest_done_one() -> None:
    def version(plan_id: int, status: str = "done", published: bool = False) -> Plan:
        return Plan.model_validate(
            {"id": plan_id, "date": "2026-12-01", "region": "r", "status": status, "published": published}
        )

    assert day_plan([version(3), version(2, published=True), version(4, "failed")]).id == 2  # type: ignore[union-attr]
    assert day_plan([version(3), version(5), version(6, "running")]).id == 5  # type: ignore[union-attr]
    assert day_plan([version(6, "running")]) is None


def _day() -> tuple[list[Technician], WeekDay]:
    techs = [
        technician("T1", "Aino"),
        technician(
            "T2",
            "Beni",
            absences=[{"start": "2026-12-01T00:00:00+02:00", "end": "2026-12-02T00:00:00+02:00", "reason": "holiday"}],
        ),
        technician("T3", "Cecilia", shifts=[]),
    ]
    routes = [
        route(
            "T1",
            [visit("A", 1, "08:20", "08:30", "10:30", 20), visit("B", 2, "10:40", "11:00", "13:00", 10)],
            "08:00",
            "13:30",
            40,
        )
    ]
    day = WeekDay(
        date=DAY,
        jobs=[job("A"), job("B"), job("C"), job("D", status="cancelled")],
        plan=plan(7, routes, [("C", "The day is full")]),
        working={"T1": working_day("T1", "08:00", "16:00", lunch=("11:00", "12:30", 30))},
    )
    return techs, day


def test_each_cell_shows_planned_against_working_hours_jobs_and_load_or_why_not_working() -> None:
    techs, day = _day()
    text, load = week_frames(techs, [day])
    cells = dict(zip(text["id"], text["Tue 01 Dec"], strict=True))
    assert cells == {"T1": "4.0/7.5 h · 2 jobs · 53%", "T2": "away: holiday", "T3": "off"}
    shares = dict(zip(load["id"], load["Tue 01 Dec"], strict=True))
    assert math.isclose(shares["T1"], 240 / 450) and math.isnan(shares["T2"]) and math.isnan(shares["T3"])


def test_each_day_counts_its_jobs_planned_unassigned_and_load() -> None:
    _, day = _day()
    empty = WeekDay(date=DAY + dt.timedelta(days=1), jobs=[job("E")], plan=None, working={})
    rows = days_frame([day, empty]).to_dict("records")
    assert rows[0] == {
        "date": "2026-12-01",
        "technicians": 1,
        "jobs": 3,
        "planned": 2,
        "unassigned": 1,
        "planned_h": 4.0,
        "working_h": 7.5,
        "load_pct": 53,
        "plan": "#7 newest",
    }
    assert (rows[1]["jobs"], rows[1]["planned"], rows[1]["plan"]) == (1, 0, "")
    assert rows[1]["unassigned"] is None or math.isnan(rows[1]["unassigned"])


def test_overloaded_cells_stand_out_from_light_and_idle_ones() -> None:
    assert load_colour(1.2) != load_colour(0.9) != load_colour(0.2)
    assert "#888" in load_colour(float("nan"))
