"""bench.live_day: the generated truth is a consistent, seeded day, and the quick
replay on SQLite loses and duplicates no event (no timing is asserted)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bench.live_day import generate_truth, main
from dispatch.jobstate import next_status

HKI = dt.timezone(dt.timedelta(hours=2))


def at(hour: int, minute: int = 0) -> str:
    return dt.datetime(2026, 12, 1, hour, minute, tzinfo=HKI).isoformat()


def visit(job_id: str, seq: int, arrival: tuple[int, int], end: tuple[int, int], travel: float) -> dict[str, Any]:
    return {"job_id": job_id, "seq": seq, "arrival": at(*arrival), "start": at(*arrival), "end": at(*end),
            "travel_min": travel}  # fmt: skip


PLAN = {
    "routes": [
        {
            "technician_id": "T1",
            "depart": at(8),
            "lunch_start": at(11, 30),
            "lunch_end": at(12),
            "visits": [
                visit("A", 1, (8, 20), (9, 30), 20),
                visit("CREW", 2, (9, 45), (11, 0), 15),
                visit("B", 3, (12, 15), (14, 0), 15),
            ],
        },
        {
            "technician_id": "T2",
            "depart": at(9, 15),
            "lunch_start": None,
            "lunch_end": None,
            "visits": [visit("CREW", 1, (9, 45), (11, 0), 30), visit("C", 2, (11, 20), (12, 0), 20)],
        },
        {"technician_id": "T3", "depart": None, "lunch_start": None, "lunch_end": None, "visits": []},
    ]
}


def test_the_truth_is_seeded_and_every_technicians_events_follow_each_other() -> None:
    for seed in range(40):
        truth = generate_truth(PLAN, seed)
        assert truth == generate_truth(PLAN, seed)
        assert set(truth.arrivals) == {("T1", "A"), ("T1", "CREW"), ("T1", "B"), ("T2", "CREW"), ("T2", "C")}
        assert [e.at for e in truth.events] == sorted(e.at for e in truth.events)
        # Every job's events are valid transitions from `scheduled`, posted by one technician;
        # the crew job's by its first technician only.
        by_job: dict[str, list[Any]] = {}
        for e in truth.events:
            by_job.setdefault(e.job_id, []).append(e)
        assert set(by_job) == {"A", "CREW", "B", "C"}
        assert {e.technician_id for e in by_job["CREW"]} == {"T1"}
        for events in by_job.values():
            status = "scheduled"
            for e in events:
                status = next_status(status, e.type)
            assert events[0].type == "en_route" and events[-1].type in ("completed", "failed")
            assert (events[-1].reason is not None) == (events[-1].type == "failed")
        # A late job pushes the rest: a technician leaves for a visit only after the previous one ended.
        t1 = [e for e in truth.events if e.technician_id == "T1"]
        ends = [e.at for e in t1 if e.type in ("completed", "failed")]
        leaves = [e.at for e in t1 if e.type == "en_route"]
        assert all(leave >= end for end, leave in zip(ends, leaves[1:], strict=False))
        # A crew visit starts once both are there.
        crew_start = next(e.at for e in by_job["CREW"] if e.type in ("started", "failed"))
        assert crew_start >= max(truth.arrivals[("T1", "CREW")], truth.arrivals[("T2", "CREW")])
    assert generate_truth(PLAN, 1) != generate_truth(PLAN, 2)


def test_the_quick_replay_on_sqlite_loses_and_duplicates_nothing() -> None:
    [run] = main(["--quick", "--sqlite-only", "--rate", "50", "--time-limit", "2", "--pollers", "2", "--drain", "120"])
    assert run.events > 50
    assert (run.lost_feed, run.lost_webhook, run.duplicated, run.bad_signatures, run.errors) == (0, 0, 0, 0, 0)
    assert run.post_statuses == {"201": run.events}
    [eta] = run.eta
    assert eta.errors_min  # visits not reached at 10:00 were estimated
