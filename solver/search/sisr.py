"""Ruin-and-recreate search in compiled code, for days OR-Tools' search leaves far
from the best plan (docs/model.md, "Ruin and recreate").

It plans days whose jobs each have a start window or more: Solomon-like days,
TRSP days with their depot and product days. Crew jobs are placed beforehand
(by the engine's construction) and their two visits stay where they were put.
A preferred window costs its penalty at the visit's earliest start (the route timer's later start may cost less). A
lunch is an element of its technician's route, taken where the technician
is (or on site during a long visit) before driving on; the route timer then
places it at least as well. A depot stop is an element too, put right before
the first job that needs it (a tool the depot lends, or stock beyond what the
technician set out with) and taken out when no job needs it any more. A
technician already out is on the clock from ``on_clock_from_s`` and drives home
even with no job (``Technician.out``). A re-plan starts from the routes it is
given, as far as they keep every rule. One search runs per thread (numba
releases the interpreter lock), each from its own seed; the best plan is kept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from solver.objective import Coefficients, coefficients
from solver.problem import RELOAD_ID, Job, Location, Problem, Shift, Technician, TimeWindow
from solver.schedule import RouteTimer
from solver.search import sisr_kernel as kernel
from solver.search.types import CrewAssignment, ProgressHook, RawResult, RawRoute, RawVisit, SearchInput
from solver.travel import PointIndex, TravelMatrices

IntArray = npt.NDArray[np.int64]
# The status of a result of this search.
STATUS = "ruin_and_recreate"
# The compiled functions, called with the kernel's records of arrays.
_retime_kernel: Callable[[int, kernel.Routes, kernel.Data], bool] = kernel.retime
_search_kernel: Callable[[int, float, float, kernel.Routes, kernel.Pool, kernel.Data], tuple[int, int, int]] = (
    kernel.search
)
_alone_costs_kernel: Callable[[kernel.Data], IntArray] = kernel.alone_costs
# How many nearest jobs the ruin step walks from its centre.
NEIGHBOURS = 100
# Steps per call into compiled code: short enough to keep to the deadline and report.
CHUNK_S = 0.05
# Simulated annealing: the temperature falls from START × the first plan's cost per
# served job to END × it over the budget (one setting for every day).
TEMPERATURE_START = 1.0
TEMPERATURE_END = 0.01


def eligible(problem: Problem, jobs: Sequence[Job]) -> bool:
    """True when the ruin-and-recreate search can plan ``jobs`` of ``problem`` (see the
    module doc for what it models; crew jobs only as placed beforehand), from scratch
    or from given routes."""
    if not jobs or not problem.technicians:
        return False
    return all(job.start_windows() for job in jobs)


@dataclass(frozen=True)
class _Entry:
    """A job to plan, or one technician's visit of a crew job placed beforehand."""

    job: Job
    tech_index: int | None = None
    start_s: int = 0


def _entries(problem: Problem, jobs: Sequence[Job], crews: Mapping[str, CrewAssignment]) -> list[_Entry]:
    """The jobs (crew jobs not among ``crews`` left out), then two fixed visits per crew."""
    index = {t.id: k for k, t in enumerate(problem.technicians)}
    out = [_Entry(j) for j in jobs if j.crew_size == 1]
    by_id = {j.id: j for j in jobs}
    for job_id, crew in sorted(crews.items()):
        for tech_id in (crew.first_id, crew.second_id):
            out.append(_Entry(by_id[job_id], index[tech_id], crew.start_s))
    return out


def _soft(job: Job, coeffs: Coefficients) -> tuple[int, int, int, int]:
    """The kernel's row for ``job``'s preferred window: its start, its end, the cost per
    second outside it and the cost of being outside at all (zeros: no cost)."""
    rate, step = coeffs.soft_per_s.get(job.id, 0), coeffs.soft_step.get(job.id, 0)
    if job.preferred_window is None or rate == step == 0:
        return (0, 0, 0, 0)
    return (job.preferred_window.start_s, job.preferred_window.end_s, rate, step)


def _qualified(problem: Problem, entries: Sequence[_Entry], after_stop: bool) -> npt.NDArray[np.bool_]:
    """``[v, j]``: technician ``v`` may do entry ``j`` as they set out (or, with
    ``after_stop``, after a depot stop); a crew's visit only on its own technician."""
    techs = problem.technicians
    held = [problem.skills_after_reload(t) if after_stop else t.skills for t in techs]
    codes = sorted({code for e in entries for code in e.job.skills})
    out = np.ones((len(techs), len(entries)), dtype=np.bool_)
    for code in codes:
        have = np.array([h.get(code, 0) for h in held], dtype=np.int64)
        need = np.array([e.job.skills.get(code, 0) for e in entries], dtype=np.int64)
        out &= have[:, None] >= need[None, :]
    index = {t.id: v for v, t in enumerate(techs)}
    for j, e in enumerate(entries):
        if e.tech_index is not None:
            out[:, j] = False
            out[e.tech_index, j] = True
        elif e.job.pinned_technician_id is not None:
            pinned = index.get(e.job.pinned_technician_id)
            keep = pinned is not None and bool(out[pinned, j])
            out[:, j] = False
            if pinned is not None:
                out[pinned, j] = keep
    return out


def _meets(techs: Sequence[Technician], job_w: IntArray) -> npt.NDArray[np.bool_] | bool:
    """``[v, j]``: in a horizon, technician ``v``'s day (shift start to latest return)
    meets one of entry ``j``'s start windows (``job_w``, padded with ``kernel.FAR``):
    the search then never tries a job on a day it cannot go on. True (no mask) for a
    one-day problem."""
    if not any(t.day is not None for t in techs):
        return True
    t0 = np.array([t.shift.start_s for t in techs], dtype=np.int64)[:, None]
    lim = np.array([t.latest_end_s for t in techs], dtype=np.int64)[:, None]
    out = np.zeros((len(techs), job_w.shape[0]), dtype=np.bool_)
    for w in range(job_w.shape[1]):
        out |= (job_w[None, :, w, 0] <= lim) & (t0 <= job_w[None, :, w, 1])
    return out


def qualified(problem: Problem, jobs: Sequence[Job]) -> npt.NDArray[np.bool_]:
    """``[v, j]``: technician ``v`` has the skills ``jobs[j]`` needs, and its pin (if
    any) is ``v``."""
    return _qualified(problem, [_Entry(j) for j in jobs], after_stop=False)


def _missed(problem: Problem, entries: Sequence[_Entry], coeffs: Coefficients) -> IntArray:
    """``[v, j]``: what entry ``j`` costs on technician ``v`` for not being with its
    preferred technician (or person), and for the days away from its preferred day."""
    techs = problem.technicians
    out = np.zeros((len(techs), len(entries)), dtype=np.int64)
    days = np.array([-1 if t.day is None else t.day for t in techs], dtype=np.int64)
    for j, e in enumerate(entries):
        if e.tech_index is not None:
            continue
        if e.job.preferred_technician_id is not None:
            out[:, j] = [0 if t.prefers(e.job) else coeffs.preference_miss for t in techs]
        if e.job.preferred_day is not None and (coeffs.day_late or coeffs.day_early):
            after = days - e.job.preferred_day
            cost = np.where(after >= 0, after * coeffs.day_late, -after * coeffs.day_early)
            out[:, j] += np.where(days >= 0, cost, 0)
    return out


_NEAREST_ROWS = 256


def _nearest(dist: IntArray, job_loc: IntArray, k: int) -> IntArray:
    """``[j, :]``: the ``k`` jobs nearest job ``j`` by distance, nearest first (ties by index)."""
    n = len(job_loc)
    if k <= 0:
        return np.zeros((n, 0), dtype=np.int64)
    out = np.empty((n, k), dtype=np.int64)
    index = np.arange(n, dtype=np.int64)
    # A block of rows at a time: on a large day whole-matrix temporaries cost more in
    # page faults than the sort.
    for lo in range(0, n, _NEAREST_ROWS):
        rows = index[lo : lo + _NEAREST_ROWS]
        # Distance and index in one key, so that the order is that of a stable sort by distance.
        key = dist[np.ix_(job_loc[rows], job_loc)] * n + index[None, :]
        key[np.arange(len(rows)), rows] = np.iinfo(np.int64).max
        part = np.argpartition(key, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(key, part, axis=1).argsort(axis=1)
        out[rows] = np.take_along_axis(part, order, axis=1)
    return out


def _data(
    problem: Problem, entries: Sequence[_Entry], points: PointIndex, travel: TravelMatrices, coeffs: Coefficients
) -> kernel.Data:
    """The kernel's arrays for these entries."""
    techs = problem.technicians
    kinds = problem.resource_types
    caps = coeffs.capacity
    caps2 = coeffs.capacity_after_reload or caps
    depot = problem.depot
    jobs = [e.job for e in entries]
    fixed = [e.tech_index is not None for e in entries]
    job_loc = np.array([points.job[j.id] for j in jobs], dtype=np.int64)
    windows = [
        [TimeWindow(e.start_s, e.start_s)] if e.tech_index is not None else e.job.start_windows() for e in entries
    ]
    far = int(kernel.FAR)
    width = max(2, *(len(w) for w in windows)) if windows else 2
    job_w = np.full((len(entries), width, 2), far, dtype=np.int64)
    for j, starts in enumerate(windows):
        job_w[j, : len(starts)] = [(w.start_s, w.end_s) for w in starts]
    dist = np.ascontiguousarray(travel.distance_m, dtype=np.int64)
    dur = np.ascontiguousarray(travel.duration_s, dtype=np.int64)
    v_start = np.array([points.tech_start[t.id] for t in techs], dtype=np.int64)
    homes = dist[np.ix_(v_start, job_loc)].mean(axis=0) if len(techs) else np.zeros(len(jobs))
    data = kernel.Data(
        job_loc=job_loc,
        job_dur=np.array([j.duration_s for j in jobs], dtype=np.int64),
        job_e=np.array([w[0].start_s for w in windows], dtype=np.int64),
        job_l=np.array([w[-1].end_s for w in windows], dtype=np.int64),
        job_w=job_w,
        job_dem=np.array([[j.demand.get(kind, 0) for kind in kinds] for j in jobs], dtype=np.int64).reshape(
            len(jobs), len(kinds)
        ),
        job_drop=np.array(
            [0 if f else coeffs.search_drop_cost(j) for j, f in zip(jobs, fixed, strict=True)], dtype=np.int64
        ),
        job_far=np.asarray(homes, dtype=np.float64),
        job_long=np.array([problem.long_visit(j) for j in jobs], dtype=np.bool_),
        job_soft=np.array(
            [(0, 0, 0, 0) if f else _soft(j, coeffs) for j, f in zip(jobs, fixed, strict=True)], dtype=np.int64
        ).reshape(len(jobs), 4),
        job_fixed=np.array(fixed, dtype=np.bool_),
        qual=_qualified(problem, entries, after_stop=False) & _meets(techs, job_w),
        qual2=_qualified(problem, entries, after_stop=True) & _meets(techs, job_w),
        miss=_missed(problem, entries, coeffs),
        alone=np.zeros((0, 0, 3), dtype=np.int64),
        neighbours=_nearest(dist, job_loc, min(NEIGHBOURS, len(jobs) - 1)),
        v_start=v_start,
        v_end=np.array([points.tech_end[t.id] for t in techs], dtype=np.int64),
        v_t0=np.array([t.shift.start_s for t in techs], dtype=np.int64),
        v_lim=np.array([t.latest_end_s for t in techs], dtype=np.int64),
        v_day=np.array(
            [
                (
                    *((lunch.earliest_s, lunch.latest_s, lunch.duration_s) if (lunch := t.shift.lunch) else (0, 0, -1)),
                    t.shift.end_s,
                    coeffs.overtime_per_s[t.id],
                    kernel.NOT_OUT if t.on_clock_from_s is None else t.on_clock_from_s,
                    lunch is None or lunch.on_site,
                )
                for t in techs
            ],
            dtype=np.int64,
        ).reshape(len(techs), 7),
        v_cap=np.array([[caps[t.id][kind] for kind in kinds] for t in techs], dtype=np.int64).reshape(
            len(techs), len(kinds)
        ),
        v_cap2=np.array([[caps2[t.id][kind] for kind in kinds] for t in techs], dtype=np.int64).reshape(
            len(techs), len(kinds)
        ),
        depot=np.array(
            [points.job[RELOAD_ID], depot.stop_s] if depot is not None else [-1, 0],
            dtype=np.int64,
        ),
        v_max_jobs=np.array([len(jobs) if t.max_jobs is None else t.max_jobs for t in techs], dtype=np.int64),
        per_m=np.array([coeffs.per_m[t.id] for t in techs], dtype=np.int64),
        per_s=np.array([coeffs.per_s[t.id] for t in techs], dtype=np.int64),
        per_job=np.array([coeffs.per_job[t.id] for t in techs], dtype=np.int64),
        dist=dist,
        dur=dur,
    )
    return data._replace(alone=_alone_costs_kernel(data))


class _Run:
    """One search's state: the current plan, the best plan, and their totals."""

    def __init__(self, data: kernel.Data, entries: Sequence[_Entry], order: npt.NDArray[np.int64]) -> None:
        n_veh = len(data.v_start)
        n_jobs = len(entries)
        self.data = data
        width = n_jobs + 2  # every job, a lunch and a depot stop
        self.route = np.zeros((n_veh, width), dtype=np.int64)
        self.rlen = np.zeros(n_veh, dtype=np.int64)
        self.rstart = np.zeros((n_veh, width), dtype=np.int64)
        self.rlatest = np.zeros((n_veh, width), dtype=np.int64)
        self.rleave = np.zeros((n_veh, width), dtype=np.int64)
        self.rloc = np.zeros((n_veh, width), dtype=np.int64)
        self.rload = np.zeros((n_veh, data.job_dem.shape[1]), dtype=np.int64)
        self.rload2 = np.zeros((n_veh, data.job_dem.shape[1]), dtype=np.int64)
        self.rdep = np.full(n_veh, -1, dtype=np.int64)
        self.rcost = np.zeros(n_veh, dtype=np.int64)
        self.route_of = np.full(n_jobs, -1, dtype=np.int64)
        self.pos_of = np.zeros(n_jobs, dtype=np.int64)
        movable = [int(i) for i in order if entries[i].tech_index is None]
        self.unassigned = np.zeros(n_jobs, dtype=np.int64)
        self.unassigned[: len(movable)] = movable
        self.n_unassigned = np.array([len(movable)], dtype=np.int64)
        self.best_route = np.zeros((n_veh, width), dtype=np.int64)
        self.best_len = np.zeros(n_veh, dtype=np.int64)
        self.best_total = np.array([np.iinfo(np.int64).max], dtype=np.int64)
        self.routes = kernel.Routes(
            self.route,
            self.rlen,
            self.rstart,
            self.rlatest,
            self.rleave,
            self.rloc,
            self.rload,
            self.rload2,
            self.rdep,
            self.rcost,
            self.route_of,
            self.pos_of,
        )
        self.pool = kernel.Pool(self.unassigned, self.n_unassigned, self.best_route, self.best_len, self.best_total)
        self.order = order
        for v in np.flatnonzero(data.v_day[:, 5] != kernel.NOT_OUT):
            self._retime(int(v))  # the way home of a technician already out costs from the start

    def place_fixed(self, entries: Sequence[_Entry]) -> list[int]:
        """Put the crews' visits in their routes by start, each route's lunch where it
        fits; the technicians whose routes cannot hold them (none: all placed)."""
        fixed = sorted((e.tech_index, e.start_s, i) for i, e in enumerate(entries) if e.tech_index is not None)
        for v, _, i in fixed:
            self.route[v, self.rlen[v]] = i
            self.rlen[v] += 1
        crowded = []
        for v in range(len(self.rlen)):
            m = int(self.rlen[v])
            if m == 0:
                continue
            if self.data.v_day[v, 2] < 0:
                if not self._retime(v):
                    crowded.append(v)
                continue
            seq = [int(j) for j in self.route[v, :m]]
            for k in range(m + 1):
                self.route[v, : m + 1] = [*seq[:k], kernel.LUNCH, *seq[k:]]
                self.rlen[v] = m + 1
                if self._retime(v):
                    break
            else:
                crowded.append(v)
        return crowded

    def place_initial(self, entries: Sequence[_Entry], given: Sequence[Sequence[int]]) -> list[int]:
        """Start from ``given`` routes (per technician: entry indexes and ``kernel.DEPOT``
        in visiting order): each route as given where it times, keeps its technician's
        skills, stock and job cap (a depot stop put in before the first job that needs
        one it lacks), else its longest such beginning; a route that leaves out a crew
        visit of its technician holds the crews' visits alone (``place_fixed``). The
        rest of the jobs are out. The technicians whose routes cannot hold their crews'
        visits (none when ``search`` placed the crews)."""
        crowded: list[int] = []
        own: dict[int, list[int]] = {}
        for i, e in enumerate(entries):
            if e.tech_index is not None:
                own.setdefault(e.tech_index, []).append(i)
        for v in range(len(self.rlen)):
            seq = [int(x) for x in given[v]] if v < len(given) else []
            fixed = sorted(own.get(v, []), key=lambda i: entries[i].start_s)
            if not set(fixed) <= set(seq):
                seq = fixed
            seq = self._with_needed_stop(v, seq)
            while not self._fits(v, seq):
                last = max((k for k, x in enumerate(seq) if x >= 0 and x not in fixed), default=None)
                if last is None:
                    crowded.append(v)
                    seq = []
                    break
                seq = self._with_needed_stop(v, [x for k, x in enumerate(seq) if k != last])
        placed: set[int] = set()
        for v in range(len(self.rlen)):
            placed.update(int(j) for j in self.route[v, : self.rlen[v]] if j >= 0)
        self.route_of[:] = -1
        for v in range(len(self.rlen)):
            self._retime(v)
        movable = [int(i) for i in self.order if entries[i].tech_index is None and int(i) not in placed]
        self.unassigned[: len(movable)] = movable
        self.n_unassigned[0] = len(movable)
        return crowded

    def _with_needed_stop(self, v: int, seq: list[int]) -> list[int]:
        """``seq`` with a depot stop right before its first job that needs one (a skill
        the technician lacks, stock beyond theirs), if it has none and there is a depot;
        without a stop no job needs any more."""
        data = self.data
        jobs = [x for x in seq if x != kernel.DEPOT]
        load = np.zeros(data.job_dem.shape[1], dtype=np.int64)
        for k, j in enumerate(jobs):
            load += data.job_dem[j]
            if not data.qual[v, j] or (load > data.v_cap[v]).any():
                return [*jobs[:k], kernel.DEPOT, *jobs[k:]] if data.depot[0] >= 0 else jobs
        return jobs

    def _fits(self, v: int, seq: list[int]) -> bool:
        """Route ``v`` becomes ``seq`` (the lunch where it first times) when that keeps
        every rule: skills and stock before and after its depot stop, the job cap, the
        windows and the shift; else route ``v`` is left empty and False."""
        data = self.data
        cut = seq.index(kernel.DEPOT) if kernel.DEPOT in seq else len(seq)
        before, after = seq[:cut], seq[cut + 1 :]
        ok = seq.count(kernel.DEPOT) <= 1 and len(seq) - seq.count(kernel.DEPOT) <= data.v_max_jobs[v]
        ok = ok and all(data.qual[v, j] for j in before) and all(data.qual2[v, j] for j in after)
        if before:
            ok = ok and bool((data.job_dem[before].sum(axis=0) <= data.v_cap[v]).all())
        if after:
            ok = ok and bool((data.job_dem[after].sum(axis=0) <= data.v_cap2[v]).all())
        if ok and seq:
            lunches = range(len(seq) + 1) if data.v_day[v, 2] >= 0 else [None]
            for k in lunches:
                elements = seq if k is None else [*seq[:k], kernel.LUNCH, *seq[k:]]
                self.route[v, : len(elements)] = elements
                self.rlen[v] = len(elements)
                if self._retime(v):
                    return True
            ok = False
        self.rlen[v] = 0
        self._retime(v)
        return ok or not seq

    def _retime(self, v: int) -> bool:
        return bool(_retime_kernel(v, self.routes, self.data))

    def step(self, iterations: int, temperature: float, temperature_end: float) -> tuple[int, int, int]:
        """Run steps in compiled code; (current total, best total, improvements)."""
        total, best, improved = _search_kernel(
            iterations, temperature, temperature_end, self.routes, self.pool, self.data
        )
        return int(total), int(best), int(improved)

    def served_cost(self) -> tuple[int, int]:
        """(served jobs, their routes' cost) of the current plan."""
        return int((self.route_of >= 0).sum()), int(self.rcost.sum())

    def best_routes(self) -> list[list[int]]:
        """The best plan as job indexes per technician, ``kernel.DEPOT`` for a depot
        stop (lunches left out)."""
        return [
            [int(j) for j in self.best_route[v, : self.best_len[v]] if j != kernel.LUNCH]
            for v in range(len(self.best_len))
        ]


def search(
    problem: Problem,
    jobs: Sequence[Job],
    points: PointIndex,
    travel: TravelMatrices,
    coeffs: Coefficients,
    deadline: float,
    seed: int,
    threads: int = 1,
    on_solution: ProgressHook | None = None,
    stop: Callable[[], bool] | None = None,
    crews: Mapping[str, CrewAssignment] | None = None,
    initial_routes: Mapping[str, Sequence[str]] | None = None,
) -> RawResult:
    """The best plan ruin and recreate finds by ``deadline`` (time.monotonic()), in the
    model's result shape, times and lunches as the route timer sets them. ``threads``
    searches run side by side from seeds ``seed``, ``seed + 1``, … Crew jobs are
    planned only as placed in ``crews`` (both visits fixed); where those visits leave
    a technician no room for the search's lunch, that technician's crews are left
    out (for the repair step). With ``initial_routes`` (job ids per technician, depot
    stops as ``RELOAD_ID``) each search starts from those routes as far as they keep
    every rule (``_Run.place_initial``), the other jobs put in where they add least:
    the plan returned costs no more than that start.
    """
    started = time.monotonic()
    kept = dict(crews or {})
    while True:
        entries = _entries(problem, jobs, kept)
        data = _data(problem, entries, points, travel, coeffs)
        n_jobs = len(entries)
        crowded = _Run(data, entries, np.arange(n_jobs, dtype=np.int64)).place_fixed(entries)
        if not crowded:
            break
        # All at once: each round builds the data anew, which takes long on a large day.
        out = {problem.technicians[v].id for v in crowded}
        kept = {j: c for j, c in kept.items() if not out & {c.first_id, c.second_id}}
    given = _given(problem, entries, initial_routes) if initial_routes else None
    runs: dict[int, _Run] = {}
    results: list[tuple[int, int]] = []
    first_s: list[float] = []
    lock = threading.Lock()
    count = [0]

    def work(index: int) -> None:
        kernel.seed_rng(seed + index)
        order = np.random.default_rng(seed + index).permutation(n_jobs).astype(np.int64)
        run = _Run(data, entries, order)
        if given is not None:
            run.place_initial(entries, given)
        else:
            run.place_fixed(entries)
        with lock:
            runs[index] = run
        _, best, _ = run.step(0, 0.0, 0.0)
        served, cost = run.served_cost()
        with lock:
            first_s.append(time.monotonic() - started)
            count[0] += 1
            if on_solution is not None:
                on_solution(count[0], best)
        per_job = cost / max(1, served)
        hot, cold = TEMPERATURE_START * per_job, TEMPERATURE_END * per_job
        begin = time.monotonic()
        span = max(1e-3, deadline - begin)
        chunk = 50
        while True:
            now = time.monotonic()
            if now >= deadline or (stop is not None and stop()):
                break
            frac = (now - begin) / span
            t0 = hot * (cold / hot) ** frac if hot > 0 else 0.0
            t_start = time.monotonic()
            _, new_best, improved = run.step(chunk, t0, t0)
            took = time.monotonic() - t_start
            if improved:
                with lock:
                    count[0] += improved
                    if on_solution is not None and new_best < best:
                        on_solution(count[0], new_best)
                best = min(best, new_best)
            # Keep each call near CHUNK_S and within the time left.
            rate = chunk / max(took, 1e-6)
            chunk = int(max(1, min(rate * CHUNK_S, rate * max(0.0, deadline - time.monotonic()) + 1)))
        with lock:
            results.append((best, index))

    pool = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(1, threads)]
    for thread in pool:
        thread.start()
    work(0)
    for thread in pool:
        thread.join()
    best_total, best_index = min(results)
    run = runs[best_index]
    routes = _raw_routes(problem, entries, run.best_routes(), points, travel, coeffs)
    return RawResult(
        routes=routes,
        status=STATUS,
        found=True,
        solutions=count[0],
        first_solution_s=min(first_s) if first_s else None,
        objective_units=best_total,
    )


def _given(problem: Problem, entries: Sequence[_Entry], routes: Mapping[str, Sequence[str]]) -> list[list[int]]:
    """``routes`` (job ids per technician) as entry indexes per technician, a depot stop
    as ``kernel.DEPOT``; ids of no entry (jobs not planned here, a crew visit of
    another technician) are left out."""
    single = {e.job.id: i for i, e in enumerate(entries) if e.tech_index is None}
    crew = {(e.job.id, e.tech_index): i for i, e in enumerate(entries) if e.tech_index is not None}
    out: list[list[int]] = []
    for v, tech in enumerate(problem.technicians):
        seq: list[int] = []
        for job_id in routes.get(tech.id, ()):
            if job_id == RELOAD_ID and problem.depot is not None:
                seq.append(int(kernel.DEPOT))
            elif (job_id, v) in crew:
                seq.append(crew[(job_id, v)])
            elif job_id in single:
                seq.append(single[job_id])
        out.append(seq)
    return out


def _raw_routes(
    problem: Problem,
    entries: Sequence[_Entry],
    routes: list[list[int]],
    points: PointIndex,
    travel: TravelMatrices,
    coeffs: Coefficients,
) -> tuple[RawRoute, ...]:
    """Routes of job indexes (``kernel.DEPOT`` a depot stop) as the model's routes, timed
    (lunches too) by the route timer."""
    timer = RouteTimer(points, travel, coeffs, problem.lunch_on_site_min_s)
    stop = problem.reload_job()
    out = []
    for tech, indexes in zip(problem.technicians, routes, strict=True):
        seq: list[Job] = []
        for i in indexes:
            if i >= 0:
                seq.append(entries[i].job)
            elif stop is not None:
                seq.append(stop)
            else:
                raise AssertionError("ruin and recreate made a depot stop on a day without a depot")
        starts = [entries[i].start_s if i >= 0 and entries[i].tech_index is not None else None for i in indexes]
        timing = timer.timing(tech, seq, fixed_starts=starts)
        if timing is None:
            raise AssertionError(f"ruin and recreate built a route for {tech.id} that does not time")
        visits = tuple(RawVisit(j.id, s) for j, s in zip(seq, timing.starts_s, strict=True))
        out.append(RawRoute(tech.id, visits, timing.depart_s, timing.return_s, timing.lunch_start_s))
    return tuple(out)


_ready = threading.Event()
_warming_lock = threading.Lock()
_warming: list[threading.Thread] = []


def warm_up() -> None:
    """Make the compiled search ready to run: compiled on this machine's first use
    (about 10 s), loaded from numba's cache (about a second) after that."""
    if _ready.is_set():
        return
    here = Location(0.0, 0.0)
    tech = Technician("t", here, Shift(0, 3600))
    job = Job("j", here, 60)
    problem = Problem((tech,), (job,))
    points = PointIndex((here,), {"t": 0}, {"t": 0}, {"j": 0})
    zero = np.zeros((1, 1), dtype=np.int64)
    travel = TravelMatrices(zero, zero)
    coeffs = coefficients(problem, travel)
    entries = _entries(problem, [job], {})
    data = _data(problem, entries, points, travel, coeffs)
    kernel.seed_rng(0)
    run = _Run(data, entries, np.zeros(1, dtype=np.int64))
    run.place_fixed(entries)
    run.step(0, 0.0, 0.0)
    run.step(2, 1.0, 1.0)
    _ready.set()


def ready() -> bool:
    """True when the compiled search can run at once; if not, it starts getting ready
    in the background (once) so that a later solve can use it."""
    if _ready.is_set():
        return True
    with _warming_lock:
        if not _warming:
            thread = threading.Thread(target=warm_up, name="sisr-warm-up", daemon=True)
            _warming.append(thread)
            thread.start()
    return False


@dataclass(frozen=True)
class CompiledSearch:
    """The compiled ruin and recreate as a ``Search``: ``threads`` searches side by
    side, crews as the task fixes them, from the task's ``initial_routes`` when given
    (see ``search``; ``eligible`` says which days it plans)."""

    threads: int = 1

    @property
    def name(self) -> str:
        """The search and its threads."""
        return f"ruin and recreate x {self.threads}"

    def run(self, task: SearchInput) -> RawResult:
        """``search`` on the task."""
        return search(
            task.problem,
            task.jobs,
            task.points,
            task.travel,
            task.coeffs,
            task.deadline,
            task.seed,
            self.threads,
            on_solution=task.on_solution,
            stop=task.stop,
            crews=task.crews,
            initial_routes=task.initial_routes,
        )
