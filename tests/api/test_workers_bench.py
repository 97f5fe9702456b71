"""bench.workers: the generated regions' days are seeded and distinct, and the quick
run on SQLite (real worker processes, the queue file) plans every region's day to
``done``, re-checked by the checker, cancels from another process, and takes a
killed worker's run to the other worker (no timing is asserted)."""

from __future__ import annotations

from bench.workers import main, region_day, region_sizes


def test_each_regions_day_is_seeded_sized_within_bounds_and_has_ids_of_its_own() -> None:
    sizes = region_sizes(3, seed=5)
    assert sizes == region_sizes(3, seed=5)
    assert all(15 <= techs <= 25 and 50 <= jobs <= 80 for techs, jobs in sizes)
    days = [region_day(i, techs, jobs, seed=5) for i, (techs, jobs) in enumerate(sizes)]
    assert days[0] == region_day(0, *sizes[0], seed=5)
    assert [d["region"] for d in days] == ["region-01", "region-02", "region-03"]
    for day, (techs, jobs) in zip(days, sizes, strict=True):
        assert (len(day["technicians"]), len(day["jobs"])) == (techs, jobs)
    ids = [x["id"] for d in days for x in (*d["technicians"], *d["jobs"])]
    assert len(ids) == len(set(ids))
    second = days[1]
    technicians = {t["id"] for t in second["technicians"]}
    assert all(i.startswith("R02-") for i in technicians)
    pinned = [j["pinned_technician_id"] for j in second["jobs"] if j["pinned_technician_id"]]
    assert pinned and set(pinned) <= technicians


def test_the_quick_run_on_sqlite_plans_every_region_to_done_and_recovers_a_killed_worker() -> None:
    rows = main(["--quick", "--sqlite-only", "--settle", "1"])
    assert [(r.queue, r.workers) for r in rows] == [("SQLite (queue file)", 1), ("SQLite (queue file)", 2)]
    for row in rows:
        assert row.runs == 2
        assert row.statuses == {"done": 2}
        assert row.rechecked == 2  # every stored plan passes the checker again
        assert row.retried == 0
        assert len(row.waits_s) == len(row.overheads_s) == 2
    two = rows[1]
    assert len(two.cancels_s) == 2  # each ended `cancelled`, not done or failed
    assert len(two.requeues_s) == len(two.recoveries_s) == 1  # running again as attempt 2
