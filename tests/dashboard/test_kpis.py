"""KPI cards and deltas are written the way a dispatcher reads them."""

from __future__ import annotations

from dashboard.kpis import duration, kpi_cards, kpi_deltas, percent

SAMPLE = {
    "jobs_total": 180,
    "jobs_served": 156,
    "travel_share": 0.12414,
    "utilisation": 0.80685,
    "overtime_min": 541.43,
    "partner_share": 0.09202,
    "sla_jobs": 14,
    "sla_kept": 13,
}


def test_the_six_cards_show_served_travel_utilisation_overtime_partners_and_sla() -> None:
    cards = {c.label: c.value for c in kpi_cards(SAMPLE)}
    assert cards == {
        "Jobs served": "156 / 180",
        "Travel share": "12.4 %",
        "Utilisation": "80.7 %",
        "Overtime": "9 h 01 min",
        "Partner share": "9.2 %",
        "SLA kept": "13 / 14",
    }


def test_a_day_without_deadlines_shows_a_dash_for_sla() -> None:
    cards = {c.label: c.value for c in kpi_cards({"jobs_total": 0, "jobs_served": 0})}
    assert cards["SLA kept"] == "—" and cards["Jobs served"] == "0 / 0"


def test_durations_and_shares() -> None:
    assert duration(45) == "45 min"
    assert duration(60) == "1 h 00 min"
    assert duration(-75) == "-1 h 15 min"
    assert percent(0.5) == "50.0 %"


def test_deltas_are_signed_in_units_and_percentage_points() -> None:
    deltas = kpi_deltas(SAMPLE, {**SAMPLE, "jobs_served": 150, "overtime_min": 601.43, "travel_share": 0.1})
    rows = deltas.set_index("kpi")["change"].to_dict()
    assert rows["jobs served"] == "-6"
    assert rows["overtime"] == "+1 h 00 min"
    assert rows["travel share"] == "-2.4 pp"
    assert rows["utilisation"] == "+0.0 pp" or rows["utilisation"] == "0.0 pp"
