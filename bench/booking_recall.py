"""Recall and precision of the slot search on small days, against exhaustive enumeration.

A small day (a few technicians, a few jobs already booked through the slot
evaluator itself, each kept in its booked one-hour window) gets one more job.
For every candidate hourly window the slot evaluator says offered or not; the
truth is decided by trying every assignment of the booked jobs and the new one
to the technicians and every visiting order, each timed by the exact route
timer (``solver.schedule.RouteTimer``), with every job inside its window. So a
window is *truly feasible* when some re-planning of the whole day keeps every
promise and takes the new job there; the evaluator only inserts into the
routes as they are (the other jobs may shift in time, not swap technician or
order), so its recall is below 1 by design. Its precision must be exactly 1:
every window it offers is verified with the same timer.

Single-technician jobs only (crew visits are coupled in time). The urgent
reserve is off here (``reserve_share=0``): it is a policy, not a miss.

    .venv/bin/python -m bench.booking_recall [--days 40] [--seed 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import random
from dataclasses import dataclass

from solver import Break, Job, JobKind, Location, Problem, Shift, Technician, TimeWindow, problem_travel
from solver.objective import coefficients
from solver.schedule import RouteTimer
from solver.slots import SlotEvaluator, WorkingRoute
from solver.travel import HaversineProvider

H = 3600
LUNCH = Break(11 * H, 13 * H, 1800)
SKILLS = ("wardrobe", "kitchen", "measure")
WINDOWS = tuple(TimeWindow(h * H, (h + 1) * H) for h in range(8, 16))


@dataclass(frozen=True)
class RecallCounts:
    """Windows over all cases: offered, truly feasible, and both."""

    cases: int = 0
    windows: int = 0
    offered: int = 0
    feasible: int = 0
    both: int = 0

    def __add__(self, other: RecallCounts) -> RecallCounts:
        return RecallCounts(
            *(a + b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other), strict=True))
        )

    @property
    def recall(self) -> float:
        """Offered and feasible over feasible (1.0 when nothing was feasible)."""
        return self.both / self.feasible if self.feasible else 1.0

    @property
    def precision(self) -> float:
        """Offered and feasible over offered (1.0 when nothing was offered)."""
        return self.both / self.offered if self.offered else 1.0


def _where(rng: random.Random) -> Location:
    return Location(60.15 + rng.random() * 0.12, 24.80 + rng.random() * 0.30)


def _job(rng: random.Random, job_id: str, techs: tuple[Technician, ...]) -> Job:
    """A random job needing one skill at a level some technician of the day holds."""
    holder = rng.choice(techs)
    skill = rng.choice(sorted(holder.skills))
    return Job(
        job_id,
        _where(rng),
        rng.choice((30, 45, 60, 90, 120, 150, 180)) * 60,
        kind=JobKind.MEASURE if skill == "measure" else JobKind.INSTALL,
        skills={skill: rng.randint(1, holder.skills[skill])},
    )


def small_day(
    seed: int, technicians: int | None = None, booked: int | None = None
) -> tuple[Problem, list[WorkingRoute]]:
    """A seeded small day: 2-3 technicians (08:00-16:00, 30-min lunch 11-13) and
    4-6 jobs booked one after another into a random offered hourly window
    (fewer when the day fills up). Returns the day and its working plan."""
    rng = random.Random(seed)
    n_tech = technicians if technicians is not None else rng.choice((2, 3))
    techs = tuple(
        Technician(
            f"T{i}",
            _where(rng),
            Shift(8 * H, 16 * H, LUNCH),
            skills={s: rng.choice((1, 2)) for s in SKILLS if rng.random() < 0.7} or {"wardrobe": 2},
        )
        for i in range(n_tech)
    )
    problem = Problem(techs, ())
    routes: list[WorkingRoute] = []
    target = booked if booked is not None else rng.choice((4, 5, 6))
    for attempt in range(4 * target):
        if len(problem.jobs) >= target:
            break
        job = _job(rng, f"b{attempt}", techs)
        evaluator = SlotEvaluator(problem, routes)
        offered = [a for a in evaluator.evaluate(job, WINDOWS) if a.insertion is not None]
        if not offered:
            continue
        answer = rng.choice(offered)
        assert answer.insertion is not None
        kept = dataclasses.replace(job, windows=(answer.window,))
        routes = evaluator.with_insertion(kept, answer.insertion)
        problem = Problem(techs, (*problem.jobs, kept))
    return problem, routes


def _orders(jobs: list[Job], members: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Every order of ``members`` in which each visit could start after the one
    before it ended (window start plus duration at most the next window's end)."""
    out = []
    for order in itertools.permutations(members):
        if all(
            jobs[a].start_windows()[0].start_s + jobs[a].duration_s <= jobs[b].start_windows()[-1].end_s
            for a, b in itertools.pairwise(order)
        ):
            out.append(order)
    return out


def _feasible_masks(problem: Problem, timer: RouteTimer, tech: Technician, members_of: list[int]) -> set[int]:
    """Bit masks (over ``problem.jobs``) of the job sets ``tech`` can serve in some
    order, restricted to sets of jobs listed in ``members_of``."""
    jobs = list(problem.jobs)
    able = [i for i in members_of if tech.has_skills(jobs[i].skills)]
    span = tech.latest_end_s - tech.shift.start_s
    found: set[int] = set()
    for size in range(1, len(able) + 1):
        for members in itertools.combinations(able, size):
            if sum(jobs[i].duration_s for i in members) > span:
                continue  # visits never overlap: a necessary condition
            for order in _orders(jobs, members):
                if timer.timing(tech, [jobs[i] for i in order]) is not None:
                    found.add(sum(1 << i for i in members))
                    break
    return found


def truly_feasible(problem: Problem, new: Job, window: TimeWindow) -> bool:
    """True when some assignment and order of every job of ``problem`` plus ``new``
    (started inside ``window``) times on the route timer with every job inside
    its windows. Exhaustive; meant for a handful of jobs."""
    assert all(j.crew_size == 1 for j in problem.jobs) and new.crew_size == 1, "crews are not enumerated"
    placed = dataclasses.replace(new, windows=(window,))
    day = Problem(problem.technicians, (*problem.jobs, placed))
    points, travel = problem_travel(day, HaversineProvider())
    timer = RouteTimer(points, travel, coefficients(day, travel), day.lunch_on_site_min_s)
    n = len(day.jobs)
    everyone = list(range(n))
    per_tech = [_feasible_masks(day, timer, t, everyone) for t in day.technicians]
    cover = {0}
    for masks in per_tech:
        cover |= {used | m for used in cover for m in masks if not used & m}
    return (1 << n) - 1 in cover


def recall_of_day(
    seed: int, technicians: int | None = None, booked: int | None = None, move_budget_s: float = 0.0
) -> RecallCounts:
    """Offered versus truly feasible hourly windows for one new job on one small
    seeded day; ``move_budget_s`` is passed to ``SlotEvaluator.evaluate`` (0: plain
    insertion; the booking service gives ``search_move_budget_ms`` a day)."""
    problem, routes = small_day(seed, technicians, booked)
    rng = random.Random(seed * 7919 + 1)
    new = _job(rng, "new", problem.technicians)
    answers = SlotEvaluator(problem, routes).evaluate(new, WINDOWS, move_budget_s=move_budget_s)
    counts = RecallCounts(cases=1)
    for answer in answers:
        offered = answer.insertion is not None
        feasible = truly_feasible(problem, new, answer.window)
        counts = counts + RecallCounts(0, 1, int(offered), int(feasible), int(offered and feasible))
    return counts


def recall(days: int, seed: int = 1, move_budget_s: float = 0.0) -> RecallCounts:
    """Recall counts summed over ``days`` small days seeded ``seed``, ``seed + 1``, ...
    (``move_budget_s`` as for ``recall_of_day``)."""
    total = RecallCounts()
    for s in range(seed, seed + days):
        total = total + recall_of_day(s, move_budget_s=move_budget_s)
    return total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=40, help="small seeded days")
    parser.add_argument("--seed", type=int, default=1, help="first seed")
    parser.add_argument("--move-budget-ms", type=float, default=20.0, help="for the second line (the search's)")
    args = parser.parse_args(argv)
    for name, budget in (("insertion only", 0.0), (f"one move, {args.move_budget_ms:g} ms", args.move_budget_ms)):
        c = recall(args.days, args.seed, budget / 1000)
        print(
            f"{name}: {c.cases} days, {c.windows} windows: offered {c.offered}, truly feasible {c.feasible}, "
            f"both {c.both}; recall {c.recall:.3f}, precision {c.precision:.3f}"
        )


if __name__ == "__main__":
    main()
