"""The plan's figures (plotly): a route map and a Gantt per technician.

The map is a plain scatter of longitude against latitude with the axes scaled
to the local latitude, and no tile server: it renders offline, in a headless
browser and behind a firewall alike (docs/board.md says why).

Figures are built as plain plotly specs (``{"data": [...], "layout": {...}}``):
they cache cheaply, and ``figure`` wraps one without plotly's per-property
validation, which for 60 routes costs more than everything else the board
does (the tests validate every spec in full instead).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from dashboard.frames import clock
from dashboard.models import Job, Plan, Technician
from dashboard.timeline import Category, Timeline, row_label

CATEGORY_STYLE: dict[Category, tuple[str, str, float, str]] = {
    # category: (legend name, colour, bar thickness as a share of the row, fill pattern)
    "window": ("job window", "rgba(60, 140, 200, 0.20)", 0.9, ""),
    "travel": ("travel", "#f0a030", 0.55, ""),
    "waiting": ("waiting", "#e3e3e3", 0.55, "/"),
    "work": ("work", "#2f6db5", 0.55, ""),
    "lunch": ("lunch", "#3aa655", 0.3, ""),
}
FLAG_STYLE = {"late": ("#d62728", "x"), "at risk": ("#ff8c00", "triangle-down")}
UNASSIGNED_COLOUR = "#d62728"
ROW_PX = 24
LABEL_MIN_WORK = dt.timedelta(minutes=40)
GOLDEN_ANGLE = 137.508
Spec = dict[str, Any]


FONT = {"family": '"Source Sans Pro", sans-serif', "size": 12, "color": "#31333f"}


def figure(spec: Spec) -> go.Figure:
    """A plotly figure of ``spec``, trusted (built here, validated by the tests)."""
    return go.Figure(data=spec["data"], layout=spec["layout"], _validate=False)


def technician_colours(technician_ids: Sequence[str]) -> dict[str, str]:
    """One distinct colour per technician: hues a golden angle apart, so neighbours differ."""
    return {
        tid: f"hsl({(i * GOLDEN_ANGLE) % 360:.0f}, 70%, {42 if i % 2 else 52}%)"
        for i, tid in enumerate(sorted(technician_ids))
    }


def route_map(plan: Plan, jobs: Sequence[Job], technicians: Sequence[Technician]) -> Spec:
    """Every route in its technician's colour, stops numbered in visit order,
    homes marked with squares, unassigned jobs as red crosses in a trace of their own."""
    by_job = {j.id: j for j in jobs}
    by_tech = {t.id: t for t in technicians}
    routes = sorted((r for r in plan.routes or [] if r.visits), key=lambda r: r.technician_id)
    colours = technician_colours([r.technician_id for r in routes])
    traces: list[Spec] = []
    lats: list[float] = []
    for route in routes:
        tech = by_tech.get(route.technician_id)
        stops = [(v, by_job[v.job_id]) for v in route.visits if v.job_id in by_job]
        if tech is None or not stops:
            continue
        end = tech.end or tech.home
        label = row_label(route.technician_id, by_tech)
        xs = [tech.home.lon, *(j.location.lon for _, j in stops), end.lon]
        ys = [tech.home.lat, *(j.location.lat for _, j in stops), end.lat]
        lats.extend(ys)
        traces.append(
            dict(
                type="scatter",
                x=xs,
                y=ys,
                mode="lines+markers+text",
                name=label,
                showlegend=False,
                line={"color": colours[route.technician_id], "width": 2},
                marker={
                    "color": colours[route.technician_id],
                    "size": [11, *([9] * len(stops)), 11],
                    "symbol": ["square", *(["circle"] * len(stops)), "square"],
                    "line": {"color": "#222", "width": 1},
                },
                text=["", *(str(v.seq) for v, _ in stops), ""],
                textposition="top center",
                textfont={"size": 10},
                hovertext=[
                    f"{label}: home",
                    *(f"{label}: stop {v.seq}, {j.id} {j.kind} at {clock(v.start)}<br>{j.address}" for v, j in stops),
                    f"{label}: home",
                ],
                hoverinfo="text",
            )
        )
    idle = [t for t in technicians if t.id not in colours]
    if idle:
        traces.append(
            dict(
                type="scatter",
                x=[t.home.lon for t in idle],
                y=[t.home.lat for t in idle],
                mode="markers",
                name="home, no route",
                marker={"color": "rgba(0,0,0,0)", "size": 8, "symbol": "square", "line": {"color": "#888", "width": 1}},
                hovertext=[f"{row_label(t.id, by_tech)}: home (no route)" for t in idle],
                hoverinfo="text",
            )
        )
        lats.extend(t.home.lat for t in idle)
    left_out = [(u, by_job[u.job_id]) for u in plan.unassigned or [] if u.job_id in by_job]
    if left_out:
        traces.append(
            dict(
                type="scatter",
                x=[j.location.lon for _, j in left_out],
                y=[j.location.lat for _, j in left_out],
                mode="markers",
                name=f"unassigned ({len(left_out)})",
                marker={"color": UNASSIGNED_COLOUR, "size": 12, "symbol": "x-thin", "line": {"width": 3}},
                hovertext=[f"{u.job_id} unassigned: {u.reason}" for u, _ in left_out],
                hoverinfo="text",
            )
        )
        lats.extend(j.location.lat for _, j in left_out)
    mid_lat = sum(lats) / len(lats) if lats else 60.0
    layout = {
        # No template: every style is set here, and the browser skips merging one.
        "template": "none",
        "font": FONT,
        "height": 620,
        "margin": {"l": 10, "r": 10, "t": 60, "b": 10},
        "plot_bgcolor": "#f7f7f4",
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "font": {"size": 11}},
        "hovermode": "closest",
        "xaxis": {"showgrid": True, "gridcolor": "#e5e5e0", "zeroline": False, "ticksuffix": "°E", "automargin": True},
        # One degree of longitude is cos(latitude) of a degree of latitude on the ground.
        "yaxis": {
            "scaleanchor": "x",
            "scaleratio": 1 / math.cos(math.radians(mid_lat)),
            "showgrid": True,
            "gridcolor": "#e5e5e0",
            "zeroline": False,
            "ticksuffix": "°N",
            "automargin": True,
        },
    }
    return {"data": traces, "layout": layout}


def gantt(timeline: Timeline) -> Spec:
    """One row per technician: windows behind, then travel, waiting, work and
    lunch bars; crews of two joined by a dashed line; late and at-risk visits marked."""
    traces: list[Spec] = []
    segments = timeline.segments
    for category, (name, colour, width, pattern) in CATEGORY_STYLE.items():
        part = segments[segments["category"] == category]
        if part.empty:
            continue
        durations_ms = [(e - s).total_seconds() * 1000 for s, e in zip(part["start"], part["end"], strict=True)]
        traces.append(
            dict(
                type="bar",
                x=durations_ms,
                base=list(part["start"]),
                y=list(part["row"]),
                orientation="h",
                name=name,
                marker={
                    "color": colour,
                    "line": {"width": 0},
                    "pattern": {"shape": pattern, "fgcolor": "#9a9a9a", "size": 5},
                },
                width=width,
                hovertext=list(part["detail"]),
                hoverinfo="text",
            )
        )
    # Job ids on the work bars long enough to hold one, as one text trace: far
    # cheaper for the browser than fitting a text into each of hundreds of bars.
    work = segments[(segments["category"] == "work") & (segments["end"] - segments["start"] >= LABEL_MIN_WORK)]
    if not work.empty:
        traces.append(
            dict(
                type="scatter",
                x=[s + (e - s) / 2 for s, e in zip(work["start"], work["end"], strict=True)],
                y=list(work["row"]),
                mode="text",
                name="job ids",
                text=list(work["job_id"]),
                textfont={"size": 9, "color": "white"},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    links = timeline.links
    if not links.empty:
        xs: list[object] = []
        ys: list[object] = []
        for at, a, b in zip(links["at"], links["row_a"], links["row_b"], strict=True):
            xs += [at, at, None]
            ys += [a, b, None]
        traces.append(
            dict(
                type="scatter",
                x=xs,
                y=ys,
                mode="lines",
                name="crew of two",
                line={"color": "rgba(123, 63, 160, 0.7)", "width": 1.5, "dash": "dot"},
                hoverinfo="skip",
            )
        )
    for flag, (colour, symbol) in FLAG_STYLE.items():
        part = timeline.flags[timeline.flags["flag"] == flag]
        if part.empty:
            continue
        traces.append(
            dict(
                type="scatter",
                x=list(part["at"]),
                y=list(part["row"]),
                mode="markers",
                name=f"{flag} ({len(part)})",
                marker={"color": colour, "size": 11, "symbol": symbol, "line": {"color": "white", "width": 1}},
                hovertext=list(part["detail"]),
                hoverinfo="text",
            )
        )
    top_px, bottom_px = 80, 20
    height = max(260, ROW_PX * len(timeline.rows) + top_px + bottom_px)
    layout = {
        "template": "none",
        "font": FONT,
        "plot_bgcolor": "white",
        "barmode": "overlay",
        "height": height,
        "margin": {"l": 10, "r": 10, "t": top_px, "b": bottom_px},
        # The legend sits above the clock ticks of the top axis.
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1 + 30 / (height - top_px - bottom_px), "x": 0},
        "hovermode": "closest",
        "bargap": 0.1,
        "xaxis": {
            "type": "date",
            "tickformat": "%H:%M",
            "side": "top",
            "showgrid": True,
            "gridcolor": "#eee",
            "automargin": True,
        },
        "yaxis": {
            "type": "category",
            "categoryorder": "array",
            "categoryarray": list(reversed(timeline.rows)),
            "tickfont": {"size": 10},
            "automargin": True,
        },
    }
    return {"data": traces, "layout": layout}
