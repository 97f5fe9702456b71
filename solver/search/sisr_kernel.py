"""The compiled core of the ruin-and-recreate search (``solver.search.sisr``).

Slack induction by string removals (Christiaens and Vanden Berghe, 2020):
each step removes a few strings of consecutive visits from routes near a
random visit, puts every job that is out back where it adds least cost
(skipping a position now and then), and simulated annealing decides whether
the new plan replaces the current one.

Everything here works on integer arrays so that numba compiles it, passed as
three records (``Data``: the problem, read only; ``Routes``: the plan; ``Pool``:
the jobs out and the best plan), NamedTuples of arrays that numba takes as they
are; the Python side (``solver.search.sisr``) builds them from a problem and reads
routes back. A job's start windows are ``job_w[j]`` (sorted, disjoint, padded with
``FAR``; at least two columns), ``job_e``/``job_l`` the first start and the
last end; a route's cost is what the route timer
charges (distance, span from the latest useful departure to the earliest
return, per job), a job left out costs its drop penalty.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numba import njit

# A route may not be this late: "infinitely" late, yet safe to add travel to.
FAR = np.int64(2**50)

# Ruin: about this many jobs out per step, strings of at most this many visits.
_MEAN_REMOVED = 10.0
_MAX_STRING = 10.0
# Ruin: the share of steps that empty the route with the fewest jobs instead.
_WHOLE_ROUTE = 0.01
# Recreate: each position is skipped with this probability.
_BLINK = 0.01
# A technician's lunch and depot stop in a route (job indexes are 0 and up).
LUNCH = -1
DEPOT = -2
# ``v_day[v, 5]`` of a technician who is not out (``Technician.out``).
NOT_OUT = -FAR

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class Data(NamedTuple):
    """The problem as the kernel's arrays, read only (``solver.search.sisr`` builds it).

    Jobs: place, duration, first start, last start end, start windows (``[j, i]`` =
    (start, end), padded with ``FAR``), demand per resource, drop penalty, mean
    distance from the technicians' homes, may hold the lunch, preferred window
    (start, end, units per second outside), fixed (a crew's visit). ``qual``/``qual2``
    ``[v, j]``: may do it as set out / after a depot stop; ``miss[v, j]`` what ``j``
    costs on ``v`` away from its preferred technician; ``alone`` is ``alone_costs``;
    ``neighbours[j]`` the nearest jobs. Technicians: start and end place, shift start,
    hard latest return, ``v_day[v]`` = (lunch earliest, latest, duration or -1, shift
    end, overtime units per second, on the clock from or ``NOT_OUT``: a technician
    already out is paid from then and drives home even with no job,
    ``Technician.out``, 1 when a long visit may hold the pause: 0 for an absence),
    capacity as set out / after a stop, job cap;
    ``depot`` = (place or -1, seconds on site); rates per metre, second and job; the
    distance and duration matrices.
    """

    job_loc: IntArray
    job_dur: IntArray
    job_e: IntArray
    job_l: IntArray
    job_w: IntArray
    job_dem: IntArray
    job_drop: IntArray
    job_far: FloatArray
    job_long: BoolArray
    job_soft: IntArray
    job_fixed: BoolArray
    qual: BoolArray
    qual2: BoolArray
    miss: IntArray
    alone: IntArray
    neighbours: IntArray
    v_start: IntArray
    v_end: IntArray
    v_t0: IntArray
    v_lim: IntArray
    v_day: IntArray
    v_cap: IntArray
    v_cap2: IntArray
    v_max_jobs: IntArray
    depot: IntArray
    per_m: IntArray
    per_s: IntArray
    per_job: IntArray
    dist: IntArray
    dur: IntArray


class Routes(NamedTuple):
    """The routes of one plan, changed in place: per technician the elements
    (``route[v, :rlen[v]]``: job indexes, ``LUNCH``, ``DEPOT``), each element's
    earliest start, latest start, departure and place, the load before and after the
    depot stop, the stop's position (-1: none) and the route's cost; per job its
    route (-1: out) and position there."""

    route: IntArray
    rlen: IntArray
    rstart: IntArray
    rlatest: IntArray
    rleave: IntArray
    rloc: IntArray
    rload: IntArray
    rload2: IntArray
    rdep: IntArray
    rcost: IntArray
    route_of: IntArray
    pos_of: IntArray


class Pool(NamedTuple):
    """The jobs out (``unassigned[:n_unassigned[0]]``) and the best plan seen
    (``best_route[v, :best_len[v]]``, its total in ``best_total[0]``)."""

    unassigned: IntArray
    n_unassigned: IntArray
    best_route: IntArray
    best_len: IntArray
    best_total: IntArray


@njit(cache=True, nogil=True)
def seed_rng(seed: int) -> None:
    """Seed numba's random stream of the calling thread."""
    np.random.seed(seed)


@njit(cache=True, nogil=True, inline="always")
def _outside(s, lo, hi):
    """Seconds from ``s`` to the window [lo, hi] (0 inside)."""
    if s < lo:
        return lo - s
    if s > hi:
        return s - hi
    return 0


@njit(cache=True, nogil=True, inline="always")
def _soft_cost(s, j, job_soft):
    """What job ``j`` starting at ``s`` costs outside its preferred window: per second
    (``job_soft[j, 2]``) and once for being outside (``job_soft[j, 3]``)."""
    outside = _outside(s, job_soft[j, 0], job_soft[j, 1])
    if outside == 0:
        return 0
    return job_soft[j, 2] * outside + job_soft[j, 3]


@njit(cache=True, nogil=True)
def _open_from(c, s, job_w):
    """The earliest start of job ``c`` at or after ``s`` in one of its windows
    (``FAR`` when none is left)."""
    for i in range(job_w.shape[1]):
        if s <= job_w[c, i, 1]:
            return s if s > job_w[c, i, 0] else job_w[c, i, 0]
    return FAR


@njit(cache=True, nogil=True)
def _open_until(c, x, job_w):
    """The latest start of job ``c`` at or before ``x`` in one of its windows
    (``-FAR`` when none is)."""
    for i in range(job_w.shape[1] - 1, -1, -1):
        if x >= job_w[c, i, 0]:
            return x if x < job_w[c, i, 1] else job_w[c, i, 1]
    return -FAR


@njit(cache=True, nogil=True)
def retime(v, routes, data):
    """Earliest starts and departures, latest starts, places, loads and cost of route
    ``v``; False when it does not time (a window missed or back too late).

    A lunch is the element ``LUNCH``: taken where the technician is (after the
    previous visit, or on site during a long one), before driving on. A depot stop
    is the element ``DEPOT``: at ``depot[0]`` for ``depot[1]`` seconds, any time;
    ``rdep[v]`` is its position (-1 without one), ``rload`` the load before it and
    ``rload2`` the load after it.
    """
    job_loc, job_dur, job_e, job_l = data.job_loc, data.job_dur, data.job_e, data.job_l
    job_w, job_dem, job_long, job_soft, miss = data.job_w, data.job_dem, data.job_long, data.job_soft, data.miss
    v_start, v_end, v_t0, v_lim, v_day, depot = data.v_start, data.v_end, data.v_t0, data.v_lim, data.v_day, data.depot
    per_m, per_s, per_job, dist, dur = data.per_m, data.per_s, data.per_job, data.dist, data.dur
    route, rlen, rstart, rlatest, rleave, rloc, rload, rload2, rdep, rcost, route_of, pos_of = routes
    m = rlen[v]
    n_res = job_dem.shape[1]
    for r in range(n_res):
        rload[v, r] = 0
        rload2[v, r] = 0
    rdep[v] = -1
    lo, hi, d = v_day[v, 0], v_day[v, 1], v_day[v, 2]
    prev = v_start[v]
    depart = v_t0[v]
    free = depart
    metres = 0
    soft = 0
    ok = True
    real = 0
    for k in range(m):
        j = route[v, k]
        if j == LUNCH:
            s = free if free > lo else lo
            if s > hi:
                ok = False
            rstart[v, k] = s
            depart = (depart if depart > s else s) + d
            free = depart
            rleave[v, k] = depart
            rloc[v, k] = prev
            continue
        if j == DEPOT:
            loc = depot[0]
            s = depart + dur[prev, loc]
            rstart[v, k] = s
            depart = s + depot[1]
            free = depart
            rleave[v, k] = depart
            rloc[v, k] = loc
            metres += dist[prev, loc]
            prev = loc
            rdep[v] = k
            continue
        real += 1
        loc = job_loc[j]
        s = depart + dur[prev, loc]
        if s < job_e[j]:
            s = job_e[j]
        if job_w[j, 1, 0] < FAR:
            s = _open_from(j, s, job_w)
        if s > job_l[j]:
            ok = False
        rstart[v, k] = s
        route_of[j] = v
        pos_of[j] = k
        soft += _soft_cost(s, j, job_soft)
        soft += miss[v, j]
        depart = s + job_dur[j]
        free = s if job_long[j] and v_day[v, 6] != 0 else depart
        rleave[v, k] = depart
        rloc[v, k] = loc
        metres += dist[prev, loc]
        prev = loc
        if rdep[v] < 0:
            for r in range(n_res):
                rload[v, r] += job_dem[j, r]
        else:
            for r in range(n_res):
                rload2[v, r] += job_dem[j, r]
    if real == 0:
        rcost[v] = 0
        if v_day[v, 5] != NOT_OUT:
            # Already out with nothing left: straight home.
            home = v_t0[v] + dur[v_start[v], v_end[v]]
            late = home - v_day[v, 3]
            rcost[v] = per_m[v] * dist[v_start[v], v_end[v]] + per_s[v] * (home - v_t0[v])
            if late > 0:
                rcost[v] += v_day[v, 4] * late
        return ok
    back = depart + dur[prev, v_end[v]]
    metres += dist[prev, v_end[v]]
    if back > v_lim[v]:
        ok = False
    # Latest starts that keep the rest of the route feasible (``rlatest``), and the
    # same for a return at ``back`` (``keep``: the span the timer charges).
    nxt = v_end[v]
    latest = v_lim[v]
    keep = back
    after_lunch = False
    lunch_x = lunch_dep = keep_x = keep_dep = 0
    for k in range(m - 1, -1, -1):
        j = route[v, k]
        if j == LUNCH:
            loc = rloc[v, k]
            lunch_dep = latest - dur[loc, nxt] - d
            lunch_x = lunch_dep if lunch_dep < hi else hi
            rlatest[v, k] = lunch_x
            keep_dep = keep - dur[loc, nxt] - d
            keep_x = keep_dep if keep_dep < hi else hi
            after_lunch = True
            continue
        if j == DEPOT:
            loc, du, late, on_site = depot[0], depot[1], FAR, False
        else:
            loc, du, late, on_site = job_loc[j], job_dur[j], job_l[j], job_long[j] and v_day[v, 6] != 0
        if after_lunch:
            if on_site:
                x = min(lunch_x, lunch_dep - du)
                y = min(keep_x, keep_dep - du)
            else:
                x = lunch_x - du
                y = keep_x - du
        else:
            x = latest - dur[loc, nxt] - du
            y = keep - dur[loc, nxt] - du
        if x > late:
            x = late
        if y > late:
            y = late
        if j >= 0 and job_w[j, 1, 0] < FAR:
            x = _open_until(j, x, job_w)
            y = _open_until(j, y, job_w)
        rlatest[v, k] = x
        latest = x
        keep = y
        nxt = loc
        after_lunch = False
    # Lunch at home before leaving: the day starts when the technician leaves.
    leave = keep_dep + d if after_lunch else keep - dur[v_start[v], nxt]
    if leave < v_t0[v]:
        leave = v_t0[v]
    if v_day[v, 5] != NOT_OUT:
        leave = v_day[v, 5]  # on the clock already, wherever they wait
    overtime = back - v_day[v, 3]
    if overtime < 0:
        overtime = 0
    rcost[v] = per_m[v] * metres + per_s[v] * (back - leave) + per_job[v] * real + soft + v_day[v, 4] * overtime
    return ok


@njit(cache=True, nogil=True, inline="always")
def _copy_route(v, source, target):
    """Route ``v`` of ``source`` into ``target`` (both the ten route arrays of ``Routes``,
    without ``route_of`` and ``pos_of``)."""
    route, rlen, rstart, rlatest, rleave, rloc, rload, rload2, rdep, rcost = source
    to_route, to_len, to_start, to_latest, to_leave, to_loc, to_load, to_load2, to_dep, to_cost = target
    m = rlen[v]
    to_len[v] = m
    to_cost[v] = rcost[v]
    to_dep[v] = rdep[v]
    for k in range(m):
        to_route[v, k] = route[v, k]
        to_start[v, k] = rstart[v, k]
        to_latest[v, k] = rlatest[v, k]
        to_leave[v, k] = rleave[v, k]
        to_loc[v, k] = rloc[v, k]
    for r in range(rload.shape[1]):
        to_load[v, r] = rload[v, r]
        to_load2[v, r] = rload2[v, r]


@njit(cache=True, nogil=True, inline="always")
def _backup(v, changed, state, backup):
    """Keep route ``v`` as it was before this step's first change to it."""
    if changed[v]:
        return
    changed[v] = True
    _copy_route(v, state, backup)


@njit(cache=True, nogil=True, inline="always")
def _restore(v, state, backup, route_of, pos_of):
    """Put route ``v`` back as ``_backup`` kept it."""
    _copy_route(v, backup, state)
    route, rlen = state[0], state[1]
    for k in range(rlen[v]):
        j = route[v, k]
        if j >= 0:
            route_of[j] = v
            pos_of[j] = k


@njit(cache=True, nogil=True, inline="always")
def _served(v, route, rlen):
    """Jobs in route ``v`` (its lunch and depot stop not counted)."""
    n = 0
    for k in range(rlen[v]):
        if route[v, k] >= 0:
            n += 1
    return n


@njit(cache=True, nogil=True)
def alone_costs(data):
    """``out[v, c, k]``: what job ``c`` adds as the only job of technician ``v`` (to
    the way home of one already out), the lunch after it (``k == 0``), before it
    (``k == 1``), or a depot stop before it (``k == 2``, the lunch after it); ``FAR``
    where that does not fit or there is no such lunch or depot."""
    job_loc, job_dur, job_e, job_l, job_w = data.job_loc, data.job_dur, data.job_e, data.job_l, data.job_w
    job_long, job_soft, miss = data.job_long, data.job_soft, data.miss
    v_start, v_end, v_t0, v_lim, v_day, depot = data.v_start, data.v_end, data.v_t0, data.v_lim, data.v_day, data.depot
    per_m, per_s, per_job, dist, dur = data.per_m, data.per_s, data.per_job, data.dist, data.dur
    n_veh = v_start.shape[0]
    n_jobs = job_loc.shape[0]
    out = np.full((n_veh, n_jobs, 3), FAR, dtype=np.int64)
    # Written out in the loop, not called per entry: a call costs a reference count per
    # array, which on 500 technicians × 5,000 jobs took a second.
    for v in range(n_veh):
        lo, hi, d = v_day[v, 0], v_day[v, 1], v_day[v, 2]
        for c in range(n_jobs):
            c_loc = job_loc[c]
            for k in range(3):
                if (k == 1 and d < 0) or (k == 2 and depot[0] < 0):
                    continue
                p = v_start[v]
                t0 = v_t0[v]
                via_m = 0
                via_s = 0
                if k == 2:
                    p = depot[0]
                    via_m = dist[v_start[v], p]
                    via_s = dur[v_start[v], p] + depot[1]
                    t0 += via_s
                s = t0
                if k == 1:
                    # Lunch at home first, then c.
                    sl = t0 if t0 > lo else lo
                    if sl > hi:
                        continue
                    s = sl + d
                s += dur[p, c_loc]
                if s < job_e[c]:
                    s = job_e[c]
                if job_w[c, 1, 0] < FAR:
                    s = _open_from(c, s, job_w)
                if s > job_l[c]:
                    continue
                leave = s + job_dur[c]
                if k != 1 and d >= 0:
                    # The lunch after c (on site during a long visit).
                    free = s if job_long[c] and v_day[v, 6] != 0 else leave
                    sl = free if free > lo else lo
                    if sl > hi:
                        continue
                    leave = (leave if leave > sl else sl) + d
                if leave + dur[c_loc, v_end[v]] > v_lim[v]:
                    continue
                delta = per_m[v] * (via_m + dist[p, c_loc] + dist[c_loc, v_end[v]])
                if v_day[v, 5] != NOT_OUT:
                    # On the clock from v_day[v, 5] until back, instead of driving home at once.
                    delta -= per_m[v] * dist[v_start[v], v_end[v]]
                    delta += per_s[v] * (leave + dur[c_loc, v_end[v]] - v_day[v, 5] - dur[v_start[v], v_end[v]])
                else:
                    delta += per_s[v] * (via_s + dur[p, c_loc] + dur[c_loc, v_end[v]] + job_dur[c])
                delta += per_job[v] + miss[v, c] + _soft_cost(s, c, job_soft)
                out[v, c, k] = delta
    return out


@njit(cache=True, nogil=True)
def _ruin(routes, data, state, backup, changed, ruined, removed):
    """Ruin: strings of visits out of routes near a random served job (now and then
    the route with the fewest jobs whole), into ``removed``; (how many, the change
    of the total, whether a route broke)."""
    job_loc, job_fixed, neighbours = data.job_loc, data.job_fixed, data.neighbours
    route, rlen, rcost, route_of, pos_of = routes.route, routes.rlen, routes.rcost, routes.route_of, routes.pos_of
    n_veh = route.shape[0]
    n_jobs = job_loc.shape[0]
    n_removed = 0
    change = 0
    broken = False
    served = 0
    used = 0
    for v in range(n_veh):
        if rlen[v] > 0:
            served += _served(v, route, rlen)
            used += 1
    movable = 0
    for j in range(n_jobs):
        if route_of[j] >= 0 and not job_fixed[j]:
            movable += 1
    if movable > 0:
        string_max = min(_MAX_STRING, served / used)
        strings_max = 4.0 * _MEAN_REMOVED / (1.0 + string_max) - 1.0
        strings = int(np.random.random() * strings_max) + 1
        centre = -1
        # Now and then the route with the fewest jobs goes whole: its jobs may
        # fit into the others, which strings alone seldom find (a route too many).
        whole = used > 1 and np.random.random() < _WHOLE_ROUTE
        if whole:
            # The route with the fewest jobs (ties: the one holding the lowest
            # movable job), centred on that job.
            fewest = n_jobs + 1
            for v in range(n_veh):
                first = n_jobs
                for k in range(rlen[v]):
                    j = route[v, k]
                    if 0 <= j < first and not job_fixed[j]:
                        first = j
                if first == n_jobs:
                    continue
                count = _served(v, route, rlen)
                if count < fewest or (count == fewest and first < centre):
                    fewest = count
                    centre = first
            strings = 1
        while centre < 0:
            centre = int(np.random.random() * n_jobs)
            if route_of[centre] < 0 or job_fixed[centre]:
                centre = -1
        done = 0
        for a in range(-1, neighbours.shape[1]):
            c = centre if a < 0 else neighbours[centre, a]
            v = route_of[c]
            if v < 0 or ruined[v]:
                continue
            m = rlen[v]
            length_max = min(float(m), string_max)
            length = m if whole else int(np.random.random() * length_max) + 1
            _backup(v, changed, state, backup)
            p = pos_of[c]
            keep = 0
            span = length
            if not whole and np.random.random() < 0.5 and length < m:
                # Split string: a window of length + keep visits around c of
                # which a random run of ``keep`` stays.
                keep = 1
                while length + keep < m and np.random.random() < 0.5:
                    keep += 1
                span = length + keep
            lo = p - span + 1
            if lo < 0:
                lo = 0
            hi = p
            if hi > m - span:
                hi = m - span
            first = lo + int(np.random.random() * (hi - lo + 1))
            keep_at = first + int(np.random.random() * (span - keep + 1)) if keep > 0 else first
            w = 0
            real = 0
            for k in range(m):
                j = route[v, k]
                inside = first <= k < first + span and not (keep_at <= k < keep_at + keep)
                if inside and j >= 0 and not job_fixed[j]:
                    removed[n_removed] = j
                    n_removed += 1
                    route_of[j] = -1
                else:
                    route[v, w] = j
                    w += 1
                    if j >= 0:
                        real += 1
            # A route left with its lunch or depot stop alone is empty.
            rlen[v] = w if real > 0 else 0
            change -= rcost[v]
            if not retime(v, routes, data):
                broken = True
            change += rcost[v]
            ruined[v] = True
            done += 1
            if done >= strings:
                break
    return n_removed, change, broken


@njit(cache=True, nogil=True)
def _recreate(iterations, routes, pool, data, state, backup, changed, removed, n_removed, keys):
    """Recreate: ``removed[:n_removed]`` and some of the jobs out before go back where
    each adds least (``iterations == 0``: every job out, most urgent first);
    (the change of the total, whether a route broke)."""
    job_loc, job_dur, job_e, job_l, job_w = data.job_loc, data.job_dur, data.job_e, data.job_l, data.job_w
    job_dem, job_drop, job_far, job_long = data.job_dem, data.job_drop, data.job_far, data.job_long
    job_soft, qual, qual2, miss, alone = data.job_soft, data.qual, data.qual2, data.miss, data.alone
    v_start, v_end, v_t0, v_lim, v_day, v_cap = data.v_start, data.v_end, data.v_t0, data.v_lim, data.v_day, data.v_cap
    v_cap2, v_max_jobs, depot, per_m, per_s = data.v_cap2, data.v_max_jobs, data.depot, data.per_m, data.per_s
    per_job, dist, dur = data.per_job, data.dist, data.dur
    route, rlen, rlatest, rleave, rloc = routes.route, routes.rlen, routes.rlatest, routes.rleave, routes.rloc
    rload, rload2, rdep, rcost = routes.rload, routes.rload2, routes.rdep, routes.rcost
    unassigned, n_unassigned = pool.unassigned, pool.n_unassigned
    n_veh = route.shape[0]
    n_res = job_dem.shape[1]
    change = 0
    broken = False
    # Recreate: some of what was out before goes back in as well (at most as many as
    # were just removed, and at least _MEAN_REMOVED: on an overbooked day trying every
    # job that is out in every step would take most of the time).
    out = n_unassigned[0]
    extra = min(out, max(int(_MEAN_REMOVED), n_removed)) if iterations > 0 else out
    for i in range(extra):
        pick = i + int(np.random.random() * (out - i)) if iterations > 0 else i
        j = unassigned[pick]
        unassigned[pick] = unassigned[i]
        unassigned[i] = j
        removed[n_removed] = j
        n_removed += 1
        change -= job_drop[j]
    for i in range(extra, out):
        unassigned[i - extra] = unassigned[i]
    n_unassigned[0] = out - extra
    rule = np.random.random() * 11.0
    for i in range(n_removed):
        j = removed[i]
        if rule < 4.0:
            keys[i] = np.random.random()
        elif rule < 8.0:
            dem = 0.0
            for r in range(n_res):
                dem += job_dem[j, r]
            keys[i] = -dem - 1e-3 * np.random.random()
        elif rule < 10.0:
            keys[i] = -job_far[j]
        else:
            keys[i] = job_far[j]
        if iterations == 0:
            # The first plan: the most urgent jobs first (drop penalties differ by
            # orders of magnitude between priorities), then by the rule.
            keys[i] -= 1e-3 * job_drop[j]
    order = np.argsort(keys[:n_removed])
    for oi in range(n_removed):
        c = removed[order[oi]]
        c_loc = job_loc[c]
        multi = job_w[c, 1, 0] < FAR
        best_delta = FAR
        best_v = -1
        best_k = -1
        best_via = False
        for v in range(n_veh):
            # Where c may go on v: before its depot stop or without one (``pre``),
            # after its stop (``post``), or after a new stop right before c (``via``,
            # only where c fits no other way and v has no stop yet).
            pre = qual[v, c]
            if pre:
                for r in range(n_res):
                    if rload[v, r] + job_dem[c, r] > v_cap[v, r]:
                        pre = False
                        break
            has_stop = rdep[v] >= 0
            post = has_stop and qual2[v, c]
            if post:
                for r in range(n_res):
                    if rload2[v, r] + job_dem[c, r] > v_cap2[v, r]:
                        post = False
                        break
            via = depot[0] >= 0 and not has_stop and not pre and qual2[v, c]
            if via:
                for r in range(n_res):
                    if rload[v, r] + job_dem[c, r] > v_cap2[v, r]:
                        via = False
                        break
            if not (pre or post or via):
                continue
            m = rlen[v]
            if m >= v_max_jobs[v] and ((m == 0 and v_max_jobs[v] < 1) or _served(v, route, rlen) >= v_max_jobs[v]):
                continue
            if m == 0:
                for k in range(3):
                    if (k == 2) != via or (k == 1 and v_day[v, 2] < 0) or np.random.random() < _BLINK:
                        continue
                    delta = alone[v, c, k]
                    if delta < best_delta:
                        best_delta = delta
                        best_v = v
                        best_k = k
                        best_via = via
                continue
            lo, hi, d = v_day[v, 0], v_day[v, 1], v_day[v, 2]
            # Positions up to the stop are before it, those after it after it.
            k_first = 0 if pre or via else rdep[v] + 1
            k_last = rdep[v] if has_stop and not post else m
            # The insertion cost is written out here rather than called: an inlined
            # function taking the arrays costs a reference count per array per
            # position, which took most of the time.
            for k in range(k_first, k_last + 1):
                if np.random.random() < _BLINK:
                    continue
                # c before element k (after a new depot stop when ``via``); a lunch
                # there moves to c's place (taken after c, or on site), and the
                # route goes on with k + 1.
                if k == 0:
                    p_loc = v_start[v]
                    depart = v_t0[v]
                else:
                    p_loc = rloc[v, k - 1]
                    depart = rleave[v, k - 1]
                from_loc = p_loc
                via_m = 0
                via_s = 0
                if via:
                    from_loc = depot[0]
                    via_m = dist[p_loc, from_loc]
                    via_s = dur[p_loc, from_loc] + depot[1]
                    depart += via_s
                arrive = depart + dur[from_loc, c_loc]
                s = arrive if arrive > job_e[c] else job_e[c]
                if multi:
                    s = _open_from(c, s, job_w)
                if s > job_l[c]:
                    continue
                leave = s + job_dur[c]
                nk = k
                if k < m and route[v, k] == LUNCH:
                    free = s if job_long[c] and v_day[v, 6] != 0 else leave
                    sl = free if free > lo else lo
                    if sl > hi:
                        continue
                    leave = (leave if leave > sl else sl) + d
                    nk = k + 1
                if nk == m:
                    n_loc = v_end[v]
                    if leave + dur[c_loc, n_loc] > v_lim[v]:
                        continue
                else:
                    n_loc = rloc[v, nk]
                    if leave + dur[c_loc, n_loc] > rlatest[v, nk]:
                        continue
                delta = per_m[v] * (via_m + dist[from_loc, c_loc] + dist[c_loc, n_loc] - dist[p_loc, n_loc])
                delta += per_s[v] * (
                    via_s + dur[from_loc, c_loc] + dur[c_loc, n_loc] - dur[p_loc, n_loc] + job_dur[c] + s - arrive
                )
                delta += per_job[v] + miss[v, c]
                delta += _soft_cost(s, c, job_soft)
                if delta < best_delta:
                    best_delta = delta
                    best_v = v
                    best_k = k
                    best_via = via
        if best_v < 0:
            unassigned[n_unassigned[0]] = c
            n_unassigned[0] += 1
            change += job_drop[c]
            continue
        v = best_v
        _backup(v, changed, state, backup)
        m = rlen[v]
        if m == 0:
            w = 0
            if best_k == 2:
                route[v, w] = DEPOT
                w += 1
            if best_k == 1:
                route[v, w] = LUNCH
                w += 1
            route[v, w] = c
            w += 1
            if best_k != 1 and v_day[v, 2] >= 0:
                route[v, w] = LUNCH
                w += 1
            rlen[v] = w
        else:
            shift = 2 if best_via else 1
            for k in range(m - 1, best_k - 1, -1):
                route[v, k + shift] = route[v, k]
            if best_via:
                route[v, best_k] = DEPOT
            route[v, best_k + shift - 1] = c
            rlen[v] = m + shift
        change -= rcost[v]
        if not retime(v, routes, data):
            broken = True
        change += rcost[v]
    return change, broken


@njit(cache=True, nogil=True)
def _drop_idle_stops(routes, data, changed):
    """A depot stop of a changed route that no job after it needs any more goes (when
    the route times without it); (the change of the total, whether a route broke)."""
    route, rlen, rload, rload2, rdep = routes.route, routes.rlen, routes.rload, routes.rload2, routes.rdep
    rcost = routes.rcost
    qual, v_cap = data.qual, data.v_cap
    n_veh, n_res = rload.shape
    change = 0
    broken = False
    for v in range(n_veh):
        pd = rdep[v]
        if not changed[v] or pd < 0:
            continue
        needed = False
        for k in range(pd + 1, rlen[v]):
            j = route[v, k]
            if j >= 0 and not qual[v, j]:
                needed = True
                break
        for r in range(n_res):
            if rload[v, r] + rload2[v, r] > v_cap[v, r]:
                needed = True
        if needed:
            continue
        m = rlen[v]
        for k in range(pd, m - 1):
            route[v, k] = route[v, k + 1]
        rlen[v] = m - 1
        if _served(v, route, rlen) == 0:
            rlen[v] = 0
        change -= rcost[v]
        if not retime(v, routes, data):
            # Without the stop a window is missed (travel that breaks the triangle
            # inequality): it goes back.
            for k in range(m - 1, pd, -1):
                route[v, k] = route[v, k - 1]
            route[v, pd] = DEPOT
            rlen[v] = m
            if not retime(v, routes, data):
                broken = True
        change += rcost[v]
    return change, broken


@njit(cache=True, nogil=True)
def _keep_best(routes, pool):
    """The current plan becomes the best plan seen."""
    route, rlen = routes.route, routes.rlen
    for v in range(rlen.shape[0]):
        pool.best_len[v] = rlen[v]
        for k in range(rlen[v]):
            pool.best_route[v, k] = route[v, k]


@njit(cache=True, nogil=True)
def search(iterations, temperature, temperature_end, routes, pool, data):
    """Run ``iterations`` ruin-and-recreate steps from the current plan (``routes`` and
    ``pool``, changed in place), the temperature falling geometrically from
    ``temperature`` to ``temperature_end``. The best plan seen is kept in ``pool``;
    returns (current total, best total, improvements). ``iterations == 0`` only
    builds a first plan by inserting every job that is out. ``data.job_fixed`` jobs
    (a crew's visits) never leave their route. A route stops at the depot at most
    once, right before a job that needs it, and is then qualified by ``data.qual2``
    and limited by ``data.v_cap2``; a stop no job needs any more is taken out.
    """
    job_loc, job_drop = data.job_loc, data.job_drop
    route, rlen, rstart, rlatest, rleave = routes.route, routes.rlen, routes.rstart, routes.rlatest, routes.rleave
    rloc, rload, rload2, rdep, rcost = routes.rloc, routes.rload, routes.rload2, routes.rdep, routes.rcost
    route_of, pos_of = routes.route_of, routes.pos_of
    unassigned, n_unassigned, best_total = pool.unassigned, pool.n_unassigned, pool.best_total
    n_veh = route.shape[0]
    n_jobs = job_loc.shape[0]
    state = (route, rlen, rstart, rlatest, rleave, rloc, rload, rload2, rdep, rcost)
    backup = (
        np.empty_like(route), np.empty_like(rlen), np.empty_like(rstart), np.empty_like(rlatest),
        np.empty_like(rleave), np.empty_like(rloc), np.empty_like(rload), np.empty_like(rload2),
        np.empty_like(rdep), np.empty_like(rcost),
    )  # fmt: skip
    bk_cost = backup[9]

    changed = np.zeros(n_veh, dtype=np.bool_)
    bk_unassigned = np.empty_like(unassigned)
    removed = np.empty(n_jobs, dtype=np.int64)
    ruined = np.zeros(n_veh, dtype=np.bool_)
    keys = np.empty(n_jobs, dtype=np.float64)

    total = 0
    for v in range(n_veh):
        total += rcost[v]
    for i in range(n_unassigned[0]):
        total += job_drop[unassigned[i]]
    best = best_total[0]
    improvements = 0
    steps = max(iterations, 1)
    cool = (temperature_end / temperature) ** (1.0 / steps) if temperature > 0 and temperature_end > 0 else 1.0
    t = temperature

    for _ in range(steps):
        n_removed = 0
        broken = False
        for v in range(n_veh):
            changed[v] = False
            ruined[v] = False
        n_bk_unassigned = n_unassigned[0]
        for i in range(n_bk_unassigned):
            bk_unassigned[i] = unassigned[i]

        if iterations > 0:
            n_removed, delta, broken = _ruin(routes, data, state, backup, changed, ruined, removed)
            total += delta
        delta, broke = _recreate(iterations, routes, pool, data, state, backup, changed, removed, n_removed, keys)
        total += delta
        broken = broken or broke
        delta, broke = _drop_idle_stops(routes, data, changed)
        total += delta
        broken = broken or broke

        if iterations == 0:
            break
        # Accept or undo.
        old = total
        for v in range(n_veh):
            if changed[v]:
                old += bk_cost[v] - rcost[v]
        for i in range(n_bk_unassigned):
            old += job_drop[bk_unassigned[i]]
        for i in range(n_unassigned[0]):
            old -= job_drop[unassigned[i]]
        if not broken and total < old - t * np.log(1.0 - np.random.random()):
            if total < best:
                best = total
                improvements += 1
                _keep_best(routes, pool)
        else:
            for i in range(n_unassigned[0]):
                route_of[unassigned[i]] = -1
            for v in range(n_veh):
                if changed[v]:
                    _restore(v, state, backup, route_of, pos_of)
            n_unassigned[0] = n_bk_unassigned
            for i in range(n_bk_unassigned):
                unassigned[i] = bk_unassigned[i]
                route_of[bk_unassigned[i]] = -1
            total = old
        t *= cool

    if iterations == 0 and total < best:
        best = total
        _keep_best(routes, pool)
    best_total[0] = best
    return total, best, improvements
