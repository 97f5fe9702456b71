"""The figures a plan is judged by (domain.md), computed from a checked solution.

Definitions (docs/kpis.md):
- travel share: driving time / door-to-door time of the technicians used;
- utilisation: (on-site + driving time, depot stops included) / paid time
  (shift minus lunch) of the technicians used; wrench share is time on site at
  jobs alone over the same paid time;
- partner share: visits by partners / all visits (depot stops are not visits);
- SLA kept: jobs with a deadline served by it / all jobs with a deadline.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from solver import RELOAD_ID, Problem, Solution, TechnicianKind


@dataclass(frozen=True)
class Kpis:
    """One plan's figures; shares are 0–1, times in minutes."""

    jobs_total: int
    jobs_served: int
    visits: int
    technicians_used: int
    travel_min: float
    work_min: float
    travel_share: float
    utilisation: float
    wrench_share: float
    overtime_min: float
    partner_share: float
    sla_jobs: int
    sla_kept: int
    cost_eur: float

    @property
    def served_share(self) -> float:
        """Jobs served / jobs in the day."""
        return self.jobs_served / self.jobs_total if self.jobs_total else 1.0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values, the served share included."""
        return {**asdict(self), "served_share": self.served_share}


def compute_kpis(problem: Problem, solution: Solution) -> Kpis:
    """The figures of ``solution`` for ``problem``."""
    techs = {t.id: t for t in problem.technicians}
    used = [r for r in solution.routes if r.visits]
    travel = sum(r.travel_s for r in used)
    work = sum(r.work_s for r in used)
    depot = sum(r.depot_s for r in used)  # busy, but neither driving nor wrench time
    span = sum(r.span_s for r in used)
    paid = 0
    overtime = 0
    for route in used:
        tech = techs[route.technician_id]
        lunch = tech.shift.lunch.duration_s if tech.shift.lunch is not None else 0
        paid += max(tech.shift.end_s - tech.shift.start_s - lunch, route.span_s - lunch)
        overtime += max(0, route.end_s - tech.shift.end_s)
    visits = sum(1 for r in used for v in r.visits if v.job_id != RELOAD_ID)
    partner_visits = sum(
        1
        for r in used
        for v in r.visits
        if v.job_id != RELOAD_ID and techs[r.technician_id].kind is TechnicianKind.PARTNER
    )
    served = solution.served_job_ids()
    starts = {v.job_id: v.start_s for r in used for v in r.visits}
    with_deadline = [j for j in problem.jobs if j.deadline_s is not None]
    kept = sum(1 for j in with_deadline if j.id in starts and starts[j.id] <= (j.deadline_s or 0))
    return Kpis(
        jobs_total=len(problem.jobs),
        jobs_served=len(served),
        visits=visits,
        technicians_used=len(used),
        travel_min=travel / 60,
        work_min=work / 60,
        travel_share=travel / span if span else 0.0,
        utilisation=(travel + work + depot) / paid if paid else 0.0,
        wrench_share=work / paid if paid else 0.0,
        overtime_min=overtime / 60,
        partner_share=partner_visits / visits if visits else 0.0,
        sla_jobs=len(with_deadline),
        sla_kept=kept,
        cost_eur=solution.objective.cost / 100,
    )
