"""Why a job is not in the plan, in words a dispatcher can act on.

Before the solve, jobs that no plan could serve are set aside with their
reason (skill, crew, pin, release, windows, length). After the solve, each
job the search left out is tried in every position of every qualified
technician's route to tell overtime from a full day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from solver.problem import DAY_S, Job, Problem, Technician, TimeWindow
from solver.schedule import RouteTimer, earliest_in
from solver.solution import ReasonCode, Unassigned
from solver.travel import PointIndex, TravelMatrices


def _hhmm(t_s: int) -> str:
    return f"{t_s // 3600:02d}:{t_s % 3600 // 60:02d}"


def _moment(t_s: int, day: int = 0) -> str:
    """A time of ``day`` (of the plan: 0 is its first), or of another day counted
    from it: "10:30 the next day", "23:00 the day before"."""
    days, rest = divmod(t_s - day * DAY_S, DAY_S)
    if days == 0:
        return _hhmm(rest)
    if days < 0:
        return f"{_hhmm(rest)} " + ("the day before" if days == -1 else f"{-days} days before")
    return f"{_hhmm(rest)} " + ("the next day" if days == 1 else f"{days} days later")


def _job_day(job: Job) -> int:
    """The day of the plan a job's reasons speak of: the day its first possible start
    falls on (0 in a one-day plan; a job of a later day of a horizon reads its own
    times, "09:00", not "09:00 2 days later")."""
    windows = job.start_windows()
    return max(0, windows[0].start_s // DAY_S) if windows else 0


def _own_day(job: Job) -> int:
    """The day of the plan a job is on before its release or deadline cut it: its first
    window's day (0 without windows)."""
    return max(0, min(w.start_s for w in job.windows) // DAY_S) if job.windows else 0


def _name(tech: Technician, day: int) -> str:
    """Who ``tech`` is in a reason about a job of ``day``: the person, with their day
    when a horizon's person-day is of another day than the job's."""
    if tech.day is None or tech.day == day:
        return tech.person
    days = tech.day - day
    if days > 0:
        return f"{tech.person} " + ("the next day" if days == 1 else f"{days} days later")
    return f"{tech.person} " + ("the day before" if days == -1 else f"{-days} days before")


def _drives(job: Job, tech: Technician, points: PointIndex, travel: TravelMatrices) -> tuple[int, int]:
    """The drive from ``tech``'s start to ``job`` and from it to their end, in seconds."""
    there = int(travel.duration_s[points.tech_start[tech.id], points.job[job.id]])
    back = int(travel.duration_s[points.job[job.id], points.tech_end[tech.id]])
    return there, back


def _room_s(problem: Problem, job: Job, tech: Technician, points: PointIndex, travel: TravelMatrices) -> int:
    """The longest ``tech`` could work at ``job``'s place: from arriving at the start of
    the shift to setting out home in time (windows and lunch aside)."""
    out_s, back_s = _drives(job, tech, points, travel)
    arrive = tech.shift.start_s + out_s
    return problem.latest_return_s(tech, job, arrive + job.duration_s) - back_s - arrive


# At most this many technicians are named in one reason; the others are counted.
_NAMES_SHOWN = 5


def _skills_text(skills: dict[str, int]) -> str:
    return ", ".join(f"{code} level {level}" for code, level in sorted(skills.items())) or "no skills"


def _reachable(
    problem: Problem,
    job: Job,
    windows: list[TimeWindow],
    tech: Technician,
    points: PointIndex,
    travel: TravelMatrices,
) -> bool:
    """Could ``tech`` start ``job`` inside one of ``windows`` (its start windows) and still
    get home in time (lunch ignored; ``Problem.latest_return_s``)?"""
    out_s, back_s = _drives(job, tech, points, travel)
    start = earliest_in(windows, tech.shift.start_s + out_s)
    if start is None:
        return False
    end = start + job.duration_s
    return end + back_s <= problem.latest_return_s(tech, job, end)


def precheck(problem: Problem, points: PointIndex, travel: TravelMatrices) -> dict[str, Unassigned]:
    """Jobs that no plan can serve, by id, each with its reason."""
    out: dict[str, Unassigned] = {}
    techs = problem.technicians
    # Who is qualified depends on the skills a job needs alone; days have few such sets.
    by_need: dict[tuple[tuple[str, int], ...], list[Technician]] = {}
    for job in problem.jobs:
        need = tuple(sorted(job.skills.items()))
        if need not in by_need:
            by_need[need] = [t for t in techs if problem.qualified(t, job)]
        reason = _precheck_job(problem, job, techs, by_need[need], points, travel)
        if reason is not None:
            out[job.id] = reason
    return out


def _too_few(problem: Problem, job: Job, qualified: Sequence[Technician], need: str, day: int) -> Unassigned:
    """Why ``job`` has fewer ``qualified`` technicians working than its crew needs: those
    with its skills whose day is over or who are away (``Problem.off_duty``), else that
    nobody working has the skills, or not enough of them for a crew."""
    off_duty = [t for t in problem.off_duty if problem.qualified(t, job)]
    if off_duty:
        names = ", ".join(_name(t, day) for t in off_duty[:_NAMES_SHOWN])
        if len(off_duty) > _NAMES_SHOWN:
            names += f" and {len(off_duty) - _NAMES_SHOWN} more"
        if not qualified:
            why = f"No technician with {need} works any more this day: {names} (day over or away)."
        else:
            works = "works" if len(off_duty) == 1 else "work"
            why = (
                f"Needs a crew of {job.crew_size} with {need}: {names} {works} no more this day (day over or "
                f"away), leaving only {_name(qualified[0], day)}."
            )
        return Unassigned(job.id, ReasonCode.NO_SHIFT_IN_WINDOW, why)
    if not qualified and not problem.technicians:
        # Not a missing skill: nobody works at all (a weekend, a holiday, everyone away).
        return Unassigned(
            job.id, ReasonCode.NO_SHIFT_IN_WINDOW, "Nobody works this day: plan it on a day someone works."
        )
    if not qualified:
        return Unassigned(job.id, ReasonCode.NO_SKILL, f"No technician working this day has {need}.")
    return Unassigned(
        job.id,
        ReasonCode.NO_CREW,
        f"Needs a crew of {job.crew_size} with {need}; only {_name(qualified[0], day)} has it this day.",
    )


def _precheck_job(
    problem: Problem,
    job: Job,
    techs: Sequence[Technician],
    qualified: Sequence[Technician],
    points: PointIndex,
    travel: TravelMatrices,
) -> Unassigned | None:
    need = _skills_text(job.skills)
    day = _job_day(job)
    # A crew is two people: a horizon's days of one person count once.
    if len({t.person for t in qualified}) < job.crew_size:
        return _too_few(problem, job, qualified, need, day)
    if job.pinned_technician_id is not None:
        pinned = next(t for t in techs if t.id == job.pinned_technician_id)
        if pinned not in qualified:
            return Unassigned(
                job.id, ReasonCode.PINNED_UNAVAILABLE, f"Pinned to {_name(pinned, day)}, who lacks {need}."
            )
    day_end = max(t.latest_end_s for t in qualified)
    if job.release_s is not None and job.release_s >= day_end:
        return Unassigned(
            job.id,
            ReasonCode.RELEASED_TOO_LATE,
            # Read against the job's own day, not its first start (which the release moves).
            f"Goods are ready at {_moment(job.release_s, _own_day(job))}, after every qualified shift ends.",
        )
    longest = max(t.latest_end_s - t.shift.start_s for t in qualified)
    if job.duration_s > longest:
        return Unassigned(
            job.id,
            ReasonCode.TOO_LONG,
            f"Takes {job.duration_s // 60} min, longer than the working time any qualified technician has that day "
            f"({longest // 60} min).",
        )
    rooms = sorted((_room_s(problem, job, t, points, travel) for t in qualified), reverse=True)
    if job.duration_s > rooms[job.crew_size - 1]:
        return Unassigned(
            job.id,
            ReasonCode.TOO_LONG,
            f"Takes {job.duration_s // 60} min; with the drive there and back, no qualified technician's day "
            f"(overtime included) leaves more than {max(0, rooms[job.crew_size - 1]) // 60} min there.",
        )
    windows = job.start_windows()
    if job.pinned_technician_id is not None and not _reachable(problem, job, windows, pinned, points, travel):
        return Unassigned(
            job.id,
            ReasonCode.PINNED_UNAVAILABLE,
            f"Pinned to {_name(pinned, day)}, whose shift cannot reach it inside its window.",
        )
    able = 0
    for tech in qualified:
        if able >= job.crew_size:
            break
        able += _reachable(problem, job, windows, tech, points, travel)
    if able < job.crew_size:
        return Unassigned(
            job.id,
            ReasonCode.NO_SHIFT_IN_WINDOW,
            f"No qualified technician's shift can reach it within its possible start times "
            f"({_within_day(windows, qualified, day)}).",
        )
    return None


def _within_day(windows: Sequence[TimeWindow], qualified: Sequence[Technician], day: int = 0) -> str:
    """A job's start windows as the qualified technicians' days see them: clipped to the
    times any of them works, from a start to a latest end ("any time of their day" when
    nothing narrower bounds it); when none is inside, the windows and those hours."""
    working: list[tuple[int, int]] = []
    for start, end in sorted((t.shift.start_s, t.latest_end_s) for t in qualified):
        if working and start <= working[-1][1]:
            working[-1] = (working[-1][0], max(working[-1][1], end))
        else:
            working.append((start, end))
    inside = sorted(
        (max(w.start_s, lo), min(w.end_s, hi)) for w in windows for lo, hi in working if w.end_s > lo and w.start_s < hi
    )
    if not inside:
        if not windows:
            return "none left"
        told = ", ".join(f"{_moment(w.start_s, day)}–{_moment(w.end_s, day)}" for w in windows)
        hours = [(lo, hi) for lo, hi in working if lo < (day + 1) * DAY_S and hi > day * DAY_S]
        if not hours:
            return f"{told}; no qualified technician works that day"
        return f"{told}; the qualified technicians are available " + ", ".join(
            f"{_moment(lo, day)}–{_moment(hi, day)}" for lo, hi in hours
        )
    if inside == working:
        return "any time of their day"
    return ", ".join(f"{_moment(lo, day)}–{_moment(hi, day)}" for lo, hi in inside)


@dataclass(frozen=True)
class Insertion:
    """The cheapest way found to add one job to one technician's route."""

    technician_id: str
    position: int
    cost_units: int
    overtime_s: int


def explain_dropped(
    job: Job,
    problem: Problem,
    timer: RouteTimer,
    routes: dict[str, list[Job]],
    fixed: dict[str, list[int | None]],
    thorough: bool = True,
) -> Unassigned:
    """Why the search left ``job`` out, given the final routes (jobs in order per technician).

    ``thorough`` tries every insertion to tell overtime and max-jobs apart from a
    full day; without it (the time budget is spent) the answer says so.
    """
    if job.crew_size == 2:
        return Unassigned(
            job.id,
            ReasonCode.DAY_FULL,
            "No two qualified technicians are free at the same time for this crew job.",
        )
    if not thorough:
        return Unassigned(
            job.id, ReasonCode.TIME_LIMIT, "Not placed within the time limit; a longer solve may place it."
        )
    qualified = [t for t in problem.technicians if problem.qualified(t, job)]
    if job.pinned_technician_id is not None:
        qualified = [t for t in qualified if t.id == job.pinned_technician_id]
    day = _job_day(job)
    best_ot: tuple[int, str] | None = None
    at_max: list[str] = []
    for tech in qualified:
        current = routes.get(tech.id, [])
        for pos in range(len(current) + 1):
            seq = [*current[:pos], job, *current[pos:]]
            starts = fixed.get(tech.id, [None] * len(current))
            timing = timer.timing(
                tech, seq, latest_end_s=tech.shift.end_s + 12 * 3600, fixed_starts=[*starts[:pos], None, *starts[pos:]]
            )
            if timing is None:
                continue
            overtime = max(0, timing.return_s - tech.shift.end_s)
            if overtime <= tech.max_overtime_s and tech.is_full(current):
                at_max.append(_name(tech, day))
            elif overtime > tech.max_overtime_s and (best_ot is None or overtime < best_ot[0]):
                best_ot = (overtime, tech.id)
    if at_max:
        names = ", ".join(sorted(set(at_max)))
        return Unassigned(
            job.id,
            ReasonCode.MAX_JOBS,
            f"Qualified technicians with time left ({names}) are at their max jobs per day.",
        )
    if best_ot is not None:
        minutes = -(-best_ot[0] // 60)
        allowed = problem.technician(best_ot[1]).max_overtime_s // 60
        return Unassigned(
            job.id,
            ReasonCode.NEEDS_OVERTIME,
            f"Would need {minutes} min of overtime "
            f"({_name(problem.technician(best_ot[1]), day)}; {allowed} min allowed).",
        )
    short = [t for t in qualified if not timer.fits_capacity(t, [*routes.get(t.id, []), job])]
    if job.demand and qualified and len(short) == len(qualified):
        kinds = ", ".join(sorted(job.demand))
        return Unassigned(
            job.id,
            ReasonCode.NO_STOCK,
            f"Needs {kinds}: every qualified technician's stock is used up by their other jobs or is too small.",
        )
    # Each qualified technician's count, not their sum: "booked with 4" read as each having 4.
    counts_of = ((sum(1 for j in routes.get(t.id, []) if j.priority <= job.priority), _name(t, day)) for t in qualified)
    booked = sorted(counts_of, key=lambda item: (-item[0], item[1]))
    counts = ", ".join(f"{name} {count}" for count, name in booked[:_NAMES_SHOWN])
    if len(booked) > _NAMES_SHOWN:
        counts += f" and {len(booked) - _NAMES_SHOWN} more"
    return Unassigned(
        job.id,
        ReasonCode.DAY_FULL,
        "The day is full: the qualified technicians are booked with jobs of equal or higher priority "
        f"({counts}) and none has room left for it.",
    )
