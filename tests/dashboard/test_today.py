"""The Today page's tables (``dashboard.today``) on a small hand-made live day."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dashboard.models import LiveDay
from dashboard.today import AT_RISK_STYLE, highlight_at_risk, summary_frame, urgent_frame, visits_frame
from tests.dashboard.factories import at


def visit(job_id: str, seq: int, state: str, planned: str, **extra: Any) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "seq": seq,
        "state": state,
        "planned_arrival": at(planned),
        "planned_start": at(planned),
        "planned_end": at(planned) + dt.timedelta(hours=1),
        **extra,
    }


LIVE = LiveDay.model_validate(
    {
        "date": "2026-12-01",
        "region": "helsinki",
        "now": at("10:05"),
        "plan_id": 7,
        "technicians": [
            {
                "technician_id": "T1",
                "name": "Aino Virtanen",
                "visits": [
                    visit(
                        "A",
                        1,
                        "done",
                        "08:30",
                        status="completed",
                        actual_start=at("08:40"),
                        actual_end=at("10:00"),
                        delay_min=10,
                    ),
                    visit("B", 2, "next", "09:50", status="scheduled", eta=at("10:20"), delay_min=30),
                    visit(
                        "C",
                        3,
                        "later",
                        "11:10",
                        status="scheduled",
                        eta=at("11:30"),
                        delay_min=20,
                        at_risk=True,
                        risk="window",
                        window={"start": at("11:00"), "end": at("11:15")},
                    ),
                ],
            },
            {
                "technician_id": "T2",
                "name": "Ben",
                "visits": [
                    visit("D", 1, "under_way", "09:00", status="on_site", actual_start=at("09:05"), delay_min=5)
                ],
            },
        ],
        "urgent": [{"job_id": "U1", "kind": "repair", "deadline": at("14:00")}],
    }
)


def test_the_summary_says_per_technician_what_is_done_under_way_and_next() -> None:
    rows = summary_frame(LIVE).to_dict("records")
    assert rows == [
        {
            "technician": "T1",
            "name": "Aino Virtanen",
            "done": "1 / 3",
            "under_way": "",
            "next": "B",
            "next_eta": "10:20",
            "delay_min": 30,
            "at_risk": 1,
        },
        {
            "technician": "T2",
            "name": "Ben",
            "done": "0 / 1",
            "under_way": "D (on_site)",
            "next": "",
            "next_eta": "",
            "delay_min": 5,
            "at_risk": 0,
        },
    ]


def test_a_failed_visit_is_not_counted_done_and_an_overrun_makes_the_delay_the_next_customers() -> None:
    """T3 got to E 25 minutes early, but E overruns and F is 42 minutes late; T4's only
    visit failed. Before, the summary read T3 25 minutes early and T4 "1 / 1" done."""
    live = LiveDay.model_validate(
        {
            "date": "2026-12-01",
            "region": "helsinki",
            "now": at("10:05"),
            "plan_id": 7,
            "technicians": [
                {
                    "technician_id": "T3",
                    "name": "Eero",
                    "visits": [
                        visit("E", 1, "under_way", "09:00", status="on_site", actual_start=at("08:35"), delay_min=-25),
                        visit("F", 2, "next", "10:10", status="scheduled", eta=at("10:52"), delay_min=42),
                    ],
                },
                {
                    "technician_id": "T4",
                    "name": "Fanni",
                    "visits": [
                        visit(
                            "G", 1, "done", "08:30", status="failed", actual_start=at("08:30"), actual_end=at("08:40")
                        )
                    ],
                },
            ],
            "urgent": [],
        }
    )
    rows = {r["technician"]: r for r in summary_frame(live).to_dict("records")}
    assert rows["T3"]["delay_min"] == 42 and rows["T3"]["done"] == "0 / 2"
    assert rows["T4"]["done"] == "0 / 1, 1 failed"


def test_every_visit_shows_planned_eta_and_actual_times_and_at_risk_ones_stand_out() -> None:
    visits = visits_frame(LIVE)
    assert list(visits["job"]) == ["A", "B", "C", "D"]
    a, c = visits.iloc[0], visits.iloc[2]
    assert (a["state"], a["planned"], a["eta"], a["actual"]) == ("done", "08:30", "", "08:40–10:00")
    assert (c["eta"], c["window"], c["risk"], c["at_risk"]) == ("11:30", "11:00–11:15", "window", True)
    assert list(visits_frame(LIVE, only_at_risk=True)["job"]) == ["C"]
    assert set(highlight_at_risk(c)) == {AT_RISK_STYLE} and set(highlight_at_risk(a)) == {""}


def test_urgent_work_not_in_the_plan_is_listed_with_its_deadline() -> None:
    assert urgent_frame(LIVE).to_dict("records") == [
        {"job": "U1", "kind": "repair", "status": "open", "deadline": "14:00", "windows": "", "address": ""}
    ]
