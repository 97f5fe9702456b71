"""Jobs longer than a day: their parts go together or not at all (docs/model.md,
"Jobs longer than a day").

A job of N days is N jobs of the problem, each with ``Job.part`` (which day of
which job) and pinned to the technician (person-day) chosen for it beforehand
(``solver.horizon`` chooses one person and N consecutive working days of theirs).
The search plans each part as a pinned job; the engine then keeps the parts linked:

1. ``set_aside``, before the search: the parts of a job some part of which no plan
   can serve (the pre-checks set it aside, or it has no pinned day) are set aside too.
2. ``broken``, after the search and the repair: the parts of a job not served whole,
   or not on consecutive working days of one person in order; the engine takes them
   out until none is left (``solver.engine``).
3. ``explain``: a part left out says which job it belongs to and why.

The checker verifies every multi-day job from scratch (``multi_day`` violations).
"""

from __future__ import annotations

from collections.abc import Mapping

from solver.plan import Plan
from solver.problem import Job, Problem, Technician
from solver.solution import ReasonCode, Unassigned


def groups(problem: Problem) -> dict[str, list[Job]]:
    """The parts of each job longer than a day, by that job's id, in day order."""
    out: dict[str, list[Job]] = {}
    for job in problem.jobs:
        if job.part is not None:
            out.setdefault(job.part.job_id, []).append(job)
    for parts in out.values():
        parts.sort(key=lambda j: j.part.index if j.part is not None else 0)
    return out


def working_days(problem: Problem) -> dict[str, list[int]]:
    """Per person, the days they work in ``problem`` (sorted); a technician without
    a day counts as day 0 of their own."""
    out: dict[str, set[int]] = {}
    for tech in problem.technicians:
        out.setdefault(tech.person, set()).add(tech.day if tech.day is not None else 0)
    return {person: sorted(days) for person, days in out.items()}


def consecutive(problem: Problem, tech_ids: list[str]) -> bool:
    """True when ``tech_ids`` are one person's consecutive working days, in order."""
    techs = {t.id: t for t in problem.technicians}
    if not tech_ids or any(t not in techs for t in tech_ids):
        return False
    people = {techs[t].person for t in tech_ids}
    if len(people) != 1:
        return False
    days = working_days(problem)[people.pop()]
    mine = [_day_of(techs[t]) for t in tech_ids]
    if mine[0] not in days:
        return False
    first = days.index(mine[0])
    return days[first : first + len(mine)] == mine


def _day_of(tech: Technician) -> int:
    return tech.day if tech.day is not None else 0


def set_aside(problem: Problem, pre: Mapping[str, Unassigned]) -> dict[str, Unassigned]:
    """The parts of jobs longer than a day that no plan can serve, with their reason:
    every part of a job with a part the pre-checks set aside (in ``pre``; its reason
    told as a day of the job) or with no day chosen (no pinned technician)."""
    out: dict[str, Unassigned] = {}
    for job_id, parts in groups(problem).items():
        count = len(parts)
        if any(p.pinned_technician_id is None for p in parts):
            for part in parts:
                out[part.id] = Unassigned(
                    part.id,
                    ReasonCode.NO_SHIFT_IN_WINDOW,
                    f"Day {_day(part)} of {count} of job {job_id}: no qualified person has {count} consecutive "
                    "working days in its date range with room for it.",
                )
            continue
        blocked = [p for p in parts if p.id in pre]
        if not blocked:
            continue
        first = blocked[0]
        for part in parts:
            if part in blocked:
                why = pre[part.id]
                if not why.reason.startswith("Day "):
                    out[part.id] = Unassigned(part.id, why.code, _prefixed(part, job_id, count, why.reason))
            else:
                out[part.id] = Unassigned(
                    part.id,
                    pre[first.id].code,
                    f"Day {_day(part)} of {count} of job {job_id}, whose days go together: day {_day(first)} "
                    f"cannot be planned ({pre[first.id].reason})",
                )
    return out


def _day(part: Job) -> int:
    return part.part.index + 1 if part.part is not None else 1


def _prefixed(part: Job, job_id: str, count: int, reason: str) -> str:
    """``reason`` said as a day of its job (once)."""
    if reason.startswith("Day "):
        return reason
    return f"Day {_day(part)} of {count} of job {job_id}: {reason}"


def broken(problem: Problem, plan: Plan) -> list[str]:
    """The parts ``plan`` serves of a job it does not serve whole, or not on
    consecutive working days of one person in day order."""
    holder: dict[str, list[str]] = {}
    for tech_id, seq in plan.jobs.items():
        for job in seq:
            holder.setdefault(job.id, []).append(tech_id)
    out: list[str] = []
    for parts in groups(problem).values():
        served = [p for p in parts if p.id in holder]
        if not served:
            continue
        whole = len(served) == len(parts) and all(len(holder[p.id]) == 1 for p in parts)
        if not whole or not consecutive(problem, [holder[p.id][0] for p in parts]):
            out.extend(p.id for p in served)
    return out


def explain(part: Job, problem: Problem, left: set[str], inner: Unassigned) -> Unassigned:
    """Why ``part`` is out: its own explanation (``inner``), said as a day of its job,
    naming the other days of the job that are out too (``left``: the ids out)."""
    assert part.part is not None
    job_id, count = part.part.job_id, part.part.count
    others = [str(_day(p)) for p in groups(problem)[job_id] if p.id != part.id and p.id in left]
    tail = f" Its days go together; day(s) {', '.join(others)} of it are out too." if others else ""
    return Unassigned(part.id, inner.code, _prefixed(part, job_id, count, inner.reason) + tail)
