"""The plan's figures as Vega-Lite specs drawn on a canvas: a route map and a Gantt per technician.

Plain dicts, shown with ``st.vega_lite_chart``. A canvas draws the
thousand-odd marks of a 200-job day at once, where plotly's SVG built DOM
nodes per mark and took more than twice as long to appear (docs/board.md).
The map is a Mercator projection of homes and stops over a graticule, with
no tile server, so it renders offline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from dashboard.frames import clock
from dashboard.models import Job, Plan, Technician
from dashboard.timeline import Timeline, row_label

Spec = dict[str, Any]
GOLDEN_ANGLE = 137.508
CANVAS = {"embedOptions": {"renderer": "canvas", "actions": False}}
FONT = "Source Sans Pro, sans-serif"
ROW_PX = 22
LABEL_MIN_WORK = dt.timedelta(minutes=40)
# Legend entry, colour and bar thickness (share of the row) of each kind of bar.
BARS: dict[str, tuple[str, str, float]] = {
    "window": ("job window", "#cfe3f3", 0.9),
    "travel": ("travel", "#f0a030", 0.55),
    "waiting": ("waiting", "#bdbdbd", 0.55),
    "work": ("work", "#2f6db5", 0.55),
    "lunch": ("lunch", "#3aa655", 0.3),
}
FLAGS = {"late": ("late", "#d62728", "cross"), "at risk": ("at risk", "#ff8c00", "triangle-down")}
CREW_COLOUR = "#7b3fa0"
UNASSIGNED_COLOUR = "#d62728"


def technician_colours(technician_ids: Sequence[str]) -> dict[str, str]:
    """One distinct colour per technician: hues a golden angle apart, so neighbours differ."""
    return {
        tid: f"hsl({(i * GOLDEN_ANGLE) % 360:.0f}, 70%, {42 if i % 2 else 52}%)"
        for i, tid in enumerate(sorted(technician_ids))
    }


def _iso(moment: dt.datetime) -> str:
    """A naive local time, which Vega-Lite reads as local time."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def route_map(plan: Plan, jobs: Sequence[Job], technicians: Sequence[Technician]) -> Spec:
    """Every route in its technician's colour, stops numbered in visit order,
    homes as squares, unassigned jobs as red crosses, on a Mercator graticule."""
    by_job = {j.id: j for j in jobs}
    by_tech = {t.id: t for t in technicians}
    routes = sorted((r for r in plan.routes or [] if r.visits), key=lambda r: r.technician_id)
    colours = technician_colours([r.technician_id for r in routes])
    path: list[dict[str, Any]] = []
    for route in routes:
        tech = by_tech.get(route.technician_id)
        stops = [(v, by_job[v.job_id]) for v in route.visits if v.job_id in by_job]
        if tech is None or not stops:
            continue
        label = row_label(route.technician_id, by_tech)
        end = tech.end or tech.home
        path.append(
            {
                "tech": label,
                "order": 0,
                "lon": tech.home.lon,
                "lat": tech.home.lat,
                "kind": "home",
                "seq": "",
                "tip": f"{label}: home",
            }
        )
        for visit, job in stops:
            path.append(
                {
                    "tech": label,
                    "order": visit.seq,
                    "lon": job.location.lon,
                    "lat": job.location.lat,
                    "kind": "stop",
                    "seq": str(visit.seq),
                    "tip": f"{label}: stop {visit.seq}, {job.id} {job.kind} at {clock(visit.start)}, {job.address}",
                }
            )
        path.append(
            {
                "tech": label,
                "order": len(stops) + 1,
                "lon": end.lon,
                "lat": end.lat,
                "kind": "home",
                "seq": "",
                "tip": f"{label}: home",
            }
        )
    idle = [
        {"lon": t.home.lon, "lat": t.home.lat, "tip": f"{row_label(t.id, by_tech)}: home (no route)"}
        for t in technicians
        if t.id not in colours
    ]
    left_out = [
        {"lon": by_job[u.job_id].location.lon, "lat": by_job[u.job_id].location.lat, "tip": f"{u.job_id}: {u.reason}"}
        for u in plan.unassigned or []
        if u.job_id in by_job
    ]
    labels = [row_label(t, by_tech) for t in colours]
    tech_colour = {
        "field": "tech",
        "type": "nominal",
        "scale": {"domain": labels, "range": list(colours.values())},
        "legend": None,
    }
    where = {
        "longitude": {"field": "lon", "type": "quantitative"},
        "latitude": {"field": "lat", "type": "quantitative"},
    }
    tip = [{"field": "tip", "type": "nominal", "title": None}]
    lons = [p["lon"] for p in [*path, *idle, *left_out]] or [24.9]
    lats = [p["lat"] for p in [*path, *idle, *left_out]] or [60.2]
    pad = 0.01
    extent = [[min(lons) - pad, min(lats) - pad], [max(lons) + pad, max(lats) + pad]]
    layers: list[Spec] = [
        {
            "data": {"graticule": {"extent": extent, "step": [0.05, 0.025]}},
            "mark": {"type": "geoshape", "stroke": "#dcdcd6", "strokeWidth": 0.5, "filled": False},
        },
        {
            "data": {"name": "path"},
            "mark": {"type": "line", "strokeWidth": 2},
            "encoding": {**where, "color": tech_colour, "detail": {"field": "tech"}, "order": {"field": "order"}},
        },
        {
            "data": {"name": "path"},
            "mark": {"type": "point", "filled": True, "stroke": "#222", "strokeWidth": 0.8, "opacity": 1},
            "encoding": {
                **where,
                "color": tech_colour,
                "shape": {
                    "field": "kind",
                    "type": "nominal",
                    "scale": {"domain": ["home", "stop"], "range": ["square", "circle"]},
                    "legend": None,
                },
                "size": {
                    "field": "kind",
                    "type": "nominal",
                    "scale": {"domain": ["home", "stop"], "range": [90, 50]},
                    "legend": None,
                },
                "tooltip": tip,
            },
        },
        {
            "data": {"name": "path"},
            "mark": {"type": "text", "dy": -9, "fontSize": 10, "font": FONT},
            "encoding": {**where, "text": {"field": "seq"}},
        },
    ]
    if idle:
        layers.append(
            {
                "data": {"values": idle},
                "mark": {"type": "square", "filled": False, "stroke": "#888", "size": 60},
                "encoding": {**where, "tooltip": tip},
            }
        )
    if left_out:
        layers.append(
            {
                "data": {"values": left_out},
                "mark": {
                    "type": "point",
                    "shape": "cross",
                    "filled": True,
                    "color": UNASSIGNED_COLOUR,
                    "size": 120,
                    "angle": 45,
                },
                "encoding": {**where, "tooltip": tip},
            }
        )
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "usermeta": CANVAS,
        "datasets": {"path": path},
        "height": 600,
        "width": "container",
        "projection": {"type": "mercator"},
        "layer": layers,
        "config": {"view": {"stroke": None, "fill": "#f7f7f4"}, "font": FONT},
    }


def gantt(timeline: Timeline) -> Spec:
    """One row per technician: windows behind, then travel, waiting, work and
    lunch bars; crews of two joined by a line; late and at-risk visits marked."""
    segments = timeline.segments
    bars = [
        {
            "row": row,
            "kind": BARS[category][0],
            "start": _iso(start),
            "end": _iso(end),
            "tip": detail,
        }
        for row, category, start, end, detail in zip(
            segments["row"], segments["category"], segments["start"], segments["end"], segments["detail"], strict=True
        )
    ]
    work = segments[(segments["category"] == "work") & (segments["end"] - segments["start"] >= LABEL_MIN_WORK)]
    labels = [
        {"row": row, "at": _iso(s + (e - s) / 2), "job": job}
        for row, s, e, job in zip(work["row"], work["start"], work["end"], work["job_id"], strict=True)
    ]
    links = [
        {"job": job, "row": row, "at": _iso(at)}
        for job, at, a, b in zip(
            timeline.links["job_id"],
            timeline.links["at"],
            timeline.links["row_a"],
            timeline.links["row_b"],
            strict=True,
        )
        for row in (a, b)
    ]
    flags = [
        {"row": row, "at": _iso(at), "kind": FLAGS[flag][0], "tip": detail}
        for row, at, flag, detail in zip(
            timeline.flags["row"], timeline.flags["at"], timeline.flags["flag"], timeline.flags["detail"], strict=True
        )
    ]
    kinds = [name for name, _, _ in BARS.values()] + [name for name, _, _ in FLAGS.values()] + ["crew of two"]
    colours = [c for _, c, _ in BARS.values()] + [c for _, c, _ in FLAGS.values()] + [CREW_COLOUR]
    colour = {
        "field": "kind",
        "type": "nominal",
        "scale": {"domain": kinds, "range": colours},
        "legend": {"orient": "top", "title": None, "direction": "horizontal", "columns": 0},
    }
    y = {"field": "row", "type": "nominal", "sort": timeline.rows, "title": None, "axis": {"labelFontSize": 10}}
    x = {
        "field": "start",
        "type": "temporal",
        "title": None,
        "axis": {
            "format": "%H:%M",
            "orient": "top",
            "grid": True,
            "gridColor": "#eee",
            "labelOverlap": "greedy",
        },
    }
    tip = [{"field": "tip", "type": "nominal", "title": None}]

    def bar_layer(category: str) -> Spec:
        name, _, thickness = BARS[category]
        return {
            "data": {"name": "bars"},
            "transform": [{"filter": {"field": "kind", "equal": name}}],
            "mark": {"type": "bar", "height": {"band": thickness}},
            "encoding": {"x": x, "x2": {"field": "end"}, "y": y, "color": colour, "tooltip": tip},
        }

    layers = [bar_layer(c) for c in BARS]
    layers.append(
        {
            "data": {"values": labels},
            "mark": {"type": "text", "color": "white", "fontSize": 9, "font": FONT},
            "encoding": {"x": {**x, "field": "at"}, "y": y, "text": {"field": "job"}},
        }
    )
    if links:
        layers.append(
            {
                "data": {"values": links},
                "mark": {"type": "line", "strokeDash": [2, 2], "strokeWidth": 1.5, "color": CREW_COLOUR},
                "encoding": {"x": {**x, "field": "at"}, "y": y, "detail": {"field": "job"}},
            }
        )
    if flags:
        layers.append(
            {
                "data": {"values": flags},
                "mark": {"type": "point", "filled": True, "size": 80, "stroke": "white", "strokeWidth": 1},
                "encoding": {
                    "x": {**x, "field": "at"},
                    "y": y,
                    "color": colour,
                    "shape": {
                        "field": "kind",
                        "type": "nominal",
                        "scale": {
                            "domain": [n for n, _, _ in FLAGS.values()],
                            "range": [s for _, _, s in FLAGS.values()],
                        },
                        "legend": None,
                    },
                    "tooltip": tip,
                },
            }
        )
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "usermeta": CANVAS,
        "datasets": {"bars": bars},
        "height": {"step": ROW_PX},
        "width": "container",
        "layer": layers,
        "config": {"font": FONT, "axis": {"labelFont": FONT}},
    }
