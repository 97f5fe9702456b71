"""KPI cards and KPI deltas, from a plan's ``kpis`` (definitions: docs/kpis.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class KpiCard:
    """One card: a label, its value as text, and a line saying what it counts."""

    label: str
    value: str
    help: str


def _num(kpis: Mapping[str, Any], key: str) -> float:
    value = kpis.get(key)
    return float(value) if isinstance(value, int | float) else 0.0


def percent(share: float) -> str:
    """``0.1241`` → ``12.4 %``."""
    return f"{share * 100:.1f} %"


def duration(minutes: float) -> str:
    """``541.4`` → ``9 h 01 min``; under an hour ``45 min``."""
    total = round(minutes)
    if abs(total) < 60:
        return f"{total} min"
    sign = "-" if total < 0 else ""
    hours, rest = divmod(abs(total), 60)
    return f"{sign}{hours} h {rest:02d} min"


def kpi_cards(kpis: Mapping[str, Any]) -> list[KpiCard]:
    """The six cards of a plan: jobs served, travel share, utilisation,
    overtime, partner share, SLA kept."""
    served, total = int(_num(kpis, "jobs_served")), int(_num(kpis, "jobs_total"))
    sla_kept, sla_jobs = int(_num(kpis, "sla_kept")), int(_num(kpis, "sla_jobs"))
    return [
        KpiCard(
            "Jobs served",
            f"{served} / {total}",
            f"{percent(served / total) if total else '—'} of the day's jobs have a visit",
        ),
        KpiCard("Travel share", percent(_num(kpis, "travel_share")), "driving time / door-to-door time"),
        KpiCard("Utilisation", percent(_num(kpis, "utilisation")), "(on site + driving) / paid time"),
        KpiCard("Overtime", duration(_num(kpis, "overtime_min")), "past shift ends, all technicians"),
        KpiCard("Partner share", percent(_num(kpis, "partner_share")), "visits by partners / all visits"),
        KpiCard(
            "SLA kept",
            f"{sla_kept} / {sla_jobs}" if sla_jobs else "—",
            "jobs with a deadline served by it",
        ),
    ]


# (key, label, kind): kind says how a value and a difference are written.
DELTA_ROWS: tuple[tuple[str, str, str], ...] = (
    ("jobs_served", "jobs served", "count"),
    ("visits", "visits", "count"),
    ("technicians_used", "technicians used", "count"),
    ("travel_min", "travel", "minutes"),
    ("travel_share", "travel share", "share"),
    ("utilisation", "utilisation", "share"),
    ("overtime_min", "overtime", "minutes"),
    ("partner_share", "partner share", "share"),
    ("sla_kept", "SLA kept", "count"),
    ("cost_eur", "cost", "euros"),
)


def _text(value: float, kind: str, signed: bool = False) -> str:
    sign = "+" if signed and value > 0 else ""
    if kind == "share":
        return f"{sign}{value * 100:.1f}" + (" pp" if signed else " %")
    if kind == "minutes":
        return sign + duration(value)
    if kind == "euros":
        return f"{sign}{value:,.0f} €"
    return f"{sign}{value:.0f}"


def kpi_deltas(before: Mapping[str, Any], after: Mapping[str, Any]) -> pd.DataFrame:
    """``before``, ``after`` and the change for each KPI both plans report."""
    rows = []
    for key, label, kind in DELTA_ROWS:
        if key not in before and key not in after:
            continue
        a, b = _num(before, key), _num(after, key)
        rows.append(
            {"kpi": label, "before": _text(a, kind), "after": _text(b, kind), "change": _text(b - a, kind, True)}
        )
    return pd.DataFrame(rows, columns=["kpi", "before", "after", "change"])
