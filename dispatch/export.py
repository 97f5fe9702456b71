"""A plan as JSON (for people and programs) and GeoJSON (for maps)."""

from __future__ import annotations

from typing import Any

from dispatch.kpis import compute_kpis
from dispatch.mapping import Day
from solver import RELOAD_ID, Solution
from solver.solution import ObjectiveBreakdown


def _iso(day: Day, seconds: int) -> str:
    return day.to_datetime(seconds).isoformat()


def plan_json(day: Day, solution: Solution) -> dict[str, Any]:
    """The plan in the shape of the API's plan resource (API.md)."""
    jobs = day.stops()
    routes = []
    for route in solution.routes:
        visits = []
        for seq, visit in enumerate(route.visits, start=1):
            job = jobs[visit.job_id]
            info = day.job_info.get(job.id)
            visits.append(
                {
                    "seq": seq,
                    "job_id": job.id,
                    "kind": "depot" if job.id == RELOAD_ID else job.kind.value,
                    "arrival": _iso(day, visit.arrival_s),
                    "start": _iso(day, visit.start_s),
                    "end": _iso(day, visit.end_s),
                    "travel_min": round(visit.travel_s / 60, 1),
                    "distance_km": round(visit.distance_m / 1000, 2),
                    "windows": [{"start": _iso(day, w.start_s), "end": _iso(day, w.end_s)} for w in job.windows],
                    "address": info.address if info else "",
                    "location": {"lat": job.location.lat, "lon": job.location.lon},
                    "crew_size": job.crew_size,
                }
            )
        routes.append(
            {
                "technician_id": route.technician_id,
                "name": day.technician_names.get(route.technician_id, ""),
                "depart": _iso(day, route.start_s) if route.visits else None,
                "return": _iso(day, route.end_s) if route.visits else None,
                "lunch": (
                    {"start": _iso(day, route.lunch.start_s), "end": _iso(day, route.lunch.end_s)}
                    if route.lunch is not None
                    else None
                ),
                "visits": visits,
                "travel_min": round(route.travel_s / 60, 1),
                "work_min": round(route.work_s / 60, 1),
                "distance_km": round(route.distance_m / 1000, 2),
            }
        )
    objective = solution.objective
    return {
        "date": day.date.isoformat(),
        "region": day.region,
        "routes": routes,
        "unassigned": [{"job_id": u.job_id, "code": u.code.value, "reason": u.reason} for u in solution.unassigned],
        "kpis": compute_kpis(day.problem, solution).as_dict(),
        "objective_eur": objective_eur(objective),
        "solve": {
            "status": solution.stats.status,
            "wall_time_s": round(solution.stats.wall_time_s, 3),
            "first_solution_s": solution.stats.first_solution_s,
            "solutions_found": solution.stats.solutions_found,
        },
    }


def objective_eur(objective: ObjectiveBreakdown) -> dict[str, float]:
    """The objective's terms in euros, as the plan resource shows them."""
    return {
        "time": objective.time_cost / 100,
        "distance": objective.distance_cost / 100,
        "per_job": objective.job_cost / 100,
        "overtime": objective.overtime_cost / 100,
        "soft_windows": objective.soft_window_penalty / 100,
        "preference": objective.preference_penalty / 100,
    }


def plan_geojson(day: Day, solution: Solution) -> dict[str, Any]:
    """Routes as LineStrings, stops and homes as Points, unassigned jobs apart."""
    jobs = day.stops()
    techs = {t.id: t for t in day.problem.technicians}
    features: list[dict[str, Any]] = []
    for route in solution.routes:
        tech = techs[route.technician_id]
        features.append(_point(tech.start.lon, tech.start.lat, {"type": "home", "technician_id": tech.id}))
        if not route.visits:
            continue
        line = [[tech.start.lon, tech.start.lat]]
        for seq, visit in enumerate(route.visits, start=1):
            loc = jobs[visit.job_id].location
            line.append([loc.lon, loc.lat])
            features.append(
                _point(
                    loc.lon,
                    loc.lat,
                    {
                        "type": "depot" if visit.job_id == RELOAD_ID else "visit",
                        "technician_id": tech.id,
                        "seq": seq,
                        "job_id": visit.job_id,
                        "start": _iso(day, visit.start_s),
                    },
                )
            )
        end = tech.end_location
        line.append([end.lon, end.lat])
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": line},
                "properties": {"type": "route", "technician_id": tech.id},
            }
        )
    for u in solution.unassigned:
        loc = jobs[u.job_id].location
        features.append(_point(loc.lon, loc.lat, {"type": "unassigned", "job_id": u.job_id, "reason": u.reason}))
    return {"type": "FeatureCollection", "features": features}


def _point(lon: float, lat: float, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}
