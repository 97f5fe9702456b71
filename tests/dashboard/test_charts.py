"""The figures are valid plotly (checked in full here, since the board skips it) and say what they should."""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go

from dashboard.charts import figure, gantt, route_map, technician_colours
from dashboard.models import Job, Plan, Technician
from dashboard.timeline import build_timeline
from tests.dashboard.factories import job, plan, route, technician, visit


def sample() -> tuple[list[Job], list[Technician], Plan]:
    jobs = [
        job("A", [("09:00", "10:00")], location={"lat": 60.17, "lon": 24.94}),
        job("B", location={"lat": 60.18, "lon": 24.95}),
        job("K", crew_size=2, location={"lat": 60.16, "lon": 24.93}),
        job("U", location={"lat": 60.2, "lon": 25.0}),
    ]
    techs = [technician("T1", "Aino"), technician("T2", "Mikko"), technician("T3", "Idle")]
    day = plan(
        1,
        [
            route(
                "T1",
                [visit("A", 1, "09:00", "09:00", "10:00", 10), visit("K", 2, "10:10", "10:10", "12:00", 10)],
                "08:50",
                "12:10",
                30,
                lunch_start="11:00",
                lunch_end="11:30",
            ),
            route(
                "T2",
                [visit("B", 1, "08:20", "09:00", "10:00", 20), visit("K", 2, "10:10", "10:10", "12:00", 10)],
                "08:00",
                "12:20",
                40,
            ),
        ],
        [("U", "No technician working this day has glass level 3.")],
    )
    return jobs, techs, day


def test_the_map_has_a_numbered_route_per_technician_homes_and_the_unassigned_apart() -> None:
    jobs, techs, day = sample()
    spec = route_map(day, jobs, techs)
    go.Figure(spec)  # full validation
    routes = [t for t in spec["data"] if t.get("mode") == "lines+markers+text"]
    assert [t["name"] for t in routes] == ["T1 Aino", "T2 Mikko"]
    assert routes[0]["text"] == ["", "1", "2", ""]
    assert routes[0]["marker"]["symbol"][0] == "square"
    assert len({t["line"]["color"] for t in routes}) == 2
    idle, unassigned = spec["data"][-2], spec["data"][-1]
    assert idle["name"] == "home, no route" and len(idle["x"]) == 1
    assert unassigned["name"] == "unassigned (1)"
    assert "glass level 3" in unassigned["hovertext"][0]
    ratio = spec["layout"]["yaxis"]["scaleratio"]
    assert 1.9 < ratio < 2.1  # about 1/cos(60°): a kilometre is as long both ways
    assert math.isclose(ratio, 1 / math.cos(math.radians(sum(_lats(spec)) / len(_lats(spec)))))


def _lats(spec: dict[str, Any]) -> list[float]:
    return [y for t in spec["data"] for y in t["y"]]


def test_the_gantt_draws_each_bar_kind_the_crew_link_and_rows_in_id_order() -> None:
    jobs, techs, day = sample()
    spec = gantt(build_timeline(day, jobs, techs))
    go.Figure(spec)
    names = [t["name"] for t in spec["data"]]
    assert names[:5] == ["job window", "travel", "waiting", "work", "lunch"]
    assert "crew of two" in names
    labels = next(t for t in spec["data"] if t.get("mode") == "text")
    assert sorted(labels["text"]) == ["A", "B", "K", "K"]
    assert spec["layout"]["yaxis"]["categoryarray"] == ["T2 Mikko", "T1 Aino"]
    assert spec["layout"]["barmode"] == "overlay"


def test_the_unvalidated_figure_is_the_same_as_the_validated_one() -> None:
    jobs, techs, day = sample()
    spec = gantt(build_timeline(day, jobs, techs))
    assert figure(spec).to_dict()["data"] == go.Figure(spec).to_dict()["data"]


def test_colours_differ_between_technicians() -> None:
    colours = technician_colours([f"T{i:02d}" for i in range(70)])
    assert len(set(colours.values())) == 70
