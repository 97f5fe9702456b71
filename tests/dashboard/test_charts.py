"""The figures are valid Vega-Lite (checked against the schema) and say what they should."""

from __future__ import annotations

from typing import Any

import altair as alt

from dashboard.charts import BARS, gantt, route_map, technician_colours
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


def layer_data(spec: dict[str, Any], mark: str) -> list[dict[str, Any]]:
    """The rows drawn by the first layer with ``mark`` (inline or a named dataset)."""
    layer = next(layer for layer in spec["layer"] if layer["mark"]["type"] == mark)
    data = layer["data"]
    rows: list[dict[str, Any]] = data["values"] if "values" in data else spec["datasets"][data["name"]]
    return rows


def test_the_map_draws_each_route_home_to_home_with_numbered_stops_and_the_unassigned_apart() -> None:
    jobs, techs, day = sample()
    spec = route_map(day, jobs, techs)
    alt.LayerChart.from_dict(spec)  # valid against the Vega-Lite schema
    assert spec["usermeta"]["embedOptions"]["renderer"] == "canvas"
    assert spec["projection"]["type"] == "mercator"
    path = spec["datasets"]["path"]
    aino = [p for p in path if p["tech"] == "T1 Aino"]
    assert [(p["kind"], p["seq"]) for p in sorted(aino, key=lambda p: p["order"])] == [
        ("home", ""),
        ("stop", "1"),
        ("stop", "2"),
        ("home", ""),
    ]
    colours = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "line")["encoding"]["color"]["scale"]
    assert colours["domain"] == ["T1 Aino", "T2 Mikko"] and len(set(colours["range"])) == 2
    shapes = [layer for layer in spec["layer"] if layer["mark"]["type"] in ("point", "square")]
    idle = next(layer for layer in shapes if layer["mark"]["type"] == "square")["data"]["values"]
    assert [p["tip"] for p in idle] == ["T3 Idle: home (no route)"]
    crosses = next(layer for layer in shapes if layer["mark"].get("shape") == "cross")["data"]["values"]
    assert crosses == [{"lon": 25.0, "lat": 60.2, "tip": "U: No technician working this day has glass level 3."}]


def test_the_gantt_draws_each_bar_kind_the_crew_link_labels_and_rows_in_id_order() -> None:
    jobs, techs, day = sample()
    spec = gantt(build_timeline(day, jobs, techs))
    alt.LayerChart.from_dict(spec)
    assert spec["usermeta"]["embedOptions"]["renderer"] == "canvas"
    kinds = {b["kind"] for b in spec["datasets"]["bars"]}
    assert kinds == {"job window", "travel", "waiting", "work", "lunch"}
    filters = [layer["transform"][0]["filter"]["equal"] for layer in spec["layer"][:5]]
    assert filters == [name for name, _, _ in BARS.values()]
    links = layer_data(spec, "line")
    assert sorted((p["job"], p["row"]) for p in links) == [("K", "T1 Aino"), ("K", "T2 Mikko")]
    assert sorted(p["job"] for p in layer_data(spec, "text")) == ["A", "B", "K", "K"]
    assert spec["layer"][0]["encoding"]["y"]["sort"] == ["T1 Aino", "T2 Mikko"]
    legend = spec["layer"][0]["encoding"]["color"]["scale"]["domain"]
    assert legend == ["job window", "travel", "waiting", "work", "lunch", "late", "at risk", "crew of two"]


def test_colours_differ_between_technicians() -> None:
    colours = technician_colours([f"T{i:02d}" for i in range(70)])
    assert len(set(colours.values())) == 70
