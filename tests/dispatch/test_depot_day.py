"""A day file with a depot, tools and parts, planned from the command line.

An installer carries some tools and a stock of parts; a job may need tools and
parts; the day's depot (warehouse) lends tools and restocks parts. The plan
shows the depot stop where a job needs what the installer does not carry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from dispatch.cli import app
from dispatch.dayfile import TOOL_PREFIX, load_day
from solver import RELOAD_ID

runner = CliRunner()
DEPOT = {
    "location": {"lat": 60.2100, "lon": 24.8500},
    "stop_min": 15,
    "tools": ["glass-lifter"],
    "restock": {"hinge": 20},
}


def day(depot: dict[str, Any] | None = DEPOT) -> dict[str, Any]:
    """Aino carries a drill and 4 hinges; three Espoo jobs, one needing a glass lifter, 10 hinges in all."""

    def job(job_id: str, lat: float, hinges: int, tools: list[str]) -> dict[str, Any]:
        return {
            "id": job_id,
            "kind": "install",
            "location": {"lat": lat, "lon": 24.80},
            "duration_min": 60,
            "skills": {"wardrobe": 1},
            "tools": tools,
            "parts": {"hinge": hinges},
            "windows": [{"start": "09:00", "end": "15:00"}],
        }

    data: dict[str, Any] = {
        "date": "2026-12-01",
        "timezone": "Europe/Helsinki",
        "technicians": [
            {
                "id": "T01",
                "name": "Aino Virtanen",
                "home": {"lat": 60.2000, "lon": 24.8000},
                "skills": {"wardrobe": 2},
                "tools": ["drill"],
                "stock": {"hinge": 4},
                "shift": {"start": "08:00", "end": "17:00"},
                "cost": {"per_hour": 38.0, "per_km": 0.35},
            }
        ],
        "jobs": [
            job("J1", 60.2050, 4, ["drill"]),
            job("J2", 60.2150, 4, []),
            job("J3", 60.2250, 2, ["drill", "glass-lifter"]),
        ],
    }
    if depot is not None:
        data["depot"] = depot
    return data


def plan(tmp_path: Path, data: dict[str, Any]) -> tuple[Any, dict[str, Any] | None, dict[str, Any] | None]:
    path = tmp_path / "day.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = runner.invoke(app, ["plan", str(path), "--time-limit", "2", "--out", str(tmp_path / "p")])
    if result.exit_code != 0:
        return result, None, None
    written = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
    geo = json.loads((tmp_path / "p.geojson").read_text(encoding="utf-8"))
    return result, written, geo


def test_tools_stock_and_parts_are_read_as_skills_capacity_and_demand(tmp_path: Path) -> None:
    path = tmp_path / "day.json"
    path.write_text(json.dumps(day()), encoding="utf-8")
    problem = load_day(path).problem
    aino = problem.technicians[0]
    assert aino.skills == {"wardrobe": 2, TOOL_PREFIX + "drill": 1} and aino.capacity == {"hinge": 4}
    assert problem.jobs[2].skills == {"wardrobe": 1, TOOL_PREFIX + "drill": 1, TOOL_PREFIX + "glass-lifter": 1}
    assert problem.jobs[2].demand == {"hinge": 2}
    assert problem.depot is not None and problem.depot.stop_s == 15 * 60
    assert problem.depot.skills == {TOOL_PREFIX + "glass-lifter": 1} and problem.depot.restock == {"hinge": 20}


def test_the_plan_stops_at_the_depot_for_what_the_installer_does_not_carry(tmp_path: Path) -> None:
    result, written, geo = plan(tmp_path, day())
    assert result.exit_code == 0, result.output
    assert written is not None and geo is not None
    assert "depot" in result.output and "restock" in result.output
    stops = [v for r in written["routes"] for v in r["visits"]]
    assert {v["job_id"] for v in stops} == {"J1", "J2", "J3", RELOAD_ID}
    order = [v["job_id"] for v in stops]
    assert order.index(RELOAD_ID) < order.index("J3")  # the glass lifter is fetched first
    depot_stop = next(v for v in stops if v["job_id"] == RELOAD_ID)
    assert depot_stop["kind"] == "depot"
    assert written["unassigned"] == []
    assert written["kpis"]["jobs_served"] == 3 and written["kpis"]["visits"] == 3
    assert any(f["properties"]["type"] == "depot" for f in geo["features"])


def test_without_a_depot_what_the_installer_cannot_carry_or_do_is_left_out(tmp_path: Path) -> None:
    result, written, _ = plan(tmp_path, day(depot=None))
    assert result.exit_code == 0, result.output
    assert written is not None
    left = {u["job_id"]: u["code"] for u in written["unassigned"]}
    assert left.pop("J3") == "no_skill"
    assert list(left.values()) == ["no_stock"] and left.keys() <= {"J1", "J2"}  # 4 hinges carried, 8 needed
    assert RELOAD_ID not in {v["job_id"] for r in written["routes"] for v in r["visits"]}


def test_a_bad_depot_gets_a_message_naming_the_field(tmp_path: Path) -> None:
    cases = [
        ({**DEPOT, "location": {"lat": 95, "lon": 24.8}}, "field depot.location.lat: latitude 95"),
        ({**DEPOT, "tools": "glass-lifter;"}, None),  # a ;-separated text is a list of names too
        ({**DEPOT, "tools": [{"name": "x"}]}, "field depot.tools.[0]: expected a tool name"),
        ({**DEPOT, "restock": {"hinge": -1}}, "field depot.restock.hinge: must not be negative"),
        ("warehouse", "field depot: expected an object"),
    ]
    for depot, message in cases:
        result, _, _ = plan(tmp_path, day(depot))  # type: ignore[arg-type]
        if message is None:
            assert result.exit_code == 0, result.output
            continue
        assert result.exit_code == 2, (depot, result.output)
        assert message in result.output and "Traceback" not in result.output
