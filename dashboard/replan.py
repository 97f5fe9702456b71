"""Disruptions and re-planning on the Today page (no Streamlit here).

Turns what the dispatcher types (clock times on the board's day, a skills
list) into what the API takes, and a re-plan's ``changes`` into the rows the
review shows: moved, retimed, dropped, added, the customers to tell, and the
visits of the proposed plan that changed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from dashboard.frames import clock
from dashboard.models import Clock, Plan, PlanChanges, PlanStability

MOVED_COLUMNS = ["job", "from", "to"]
RETIMED_COLUMNS = ["job", "old_arrival", "new_arrival", "shift_min"]
DROPPED_COLUMNS = ["job", "reason"]
ADDED_COLUMNS = ["job", "technician", "arrival"]
LOCKS_NOT_KEPT_COLUMNS = ["job", "technician", "lock", "reason"]
CHANGED_VISIT_COLUMNS = ["technician", "seq", "job", "arrival", "change"]
URGENT_DEFAULT_DURATION_MIN = 60
URGENT_LEVELS = (1, 2, 3)
URGENT_PRIORITY = {1: 1, 2: 2, 3: 2}
"""The job priority of each emergency level: every level outranks ordinary work
(priority 3, domain.md), level 1 all other work; levels 2 and 3 share the middle tier
and differ by their deadline (2 and 4 hours)."""
URGENT_LEVEL_HELP = (
    "Emergency response level: 1 service outage, act at once; 2 answer within 2 hours; "
    "3 within 4 hours. Every level outranks ordinary work, level 1 all other work."
)
URGENT_DEADLINE_HELP = (
    "When it must be started on site; empty: the repair standard (4 hours) from when you press the button. "
    "A time already past is refused."
)
NOW_HELP = "Empty: the time you press the button (08:00 on another day than today)."
REPLAN_STABILITY: dict[str, dict[str, float] | None] = {
    "Few changes": None,
    "Best plan, whatever it changes": {"move_eur": 0, "minute_eur": 0, "told_eur": 0},
}
"""How much a re-plan may change what technicians and customers were told (label → the
``stability`` the API takes): the service's costs for changes, or none (the best plan
for the rest of the day; promises still hold)."""
REPLAN_STABILITY_HELP = (
    "Few changes: moving a visit to another technician or a customer's time costs what the service's "
    "settings say, so the re-plan changes what it must. Best plan: those changes cost nothing; promised "
    "windows and visits under way still hold."
)


FIELD_REPORTS = {"On the way": "en_route", "Arrived": "arrived", "Done": "completed", "Could not complete": "failed"}
"""What the dispatcher can record for the field (label → the event type the API takes)."""
FAILURE_REASONS = ("customer_absent", "parts_missing", "second_visit", "other")
"""Why a visit could not be completed, as the API takes it (docs/live-day.md)."""


def stability_label(stability: PlanStability) -> str:
    """How a re-plan weighed its changes, as the board's choice names it: "Best plan,
    whatever it changes" when changes cost nothing, else "Few changes" with the costs."""
    if stability.move_eur == stability.minute_eur == stability.told_eur == 0:
        return "Best plan, whatever it changes"
    return (
        f"Few changes: {stability.move_eur:g} € a visit moved to another technician, "
        f"{stability.minute_eur:g} € a minute a customer's time moves beyond {stability.tolerance_min} min, "
        f"{stability.told_eur:g} € a customer told a new time"
    )


def field_report_said(job_id: str, label: str, at: dt.time, reason: str | None, revisit: dt.date | None = None) -> str:
    """The line the board shows once a field report is recorded; ``revisit``: the later
    day a failed visit's job was carried to (nothing of its day was left for it)."""
    if FIELD_REPORTS[label] == "failed":
        said = (
            f"{job_id} could not be completed at {at:%H:%M} ({(reason or 'other').replace('_', ' ')}): "
            "it is open again, and a promise it had is spent."
        )
        if revisit is not None:
            said += f" Nothing of the day is left for it: its revisit is open work on {revisit:%a %d %b}."
        return said
    return f"{job_id}: {label.lower()} at {at:%H:%M}."


def on_day(day: dt.date, at: dt.time, timezone: str) -> dt.datetime:
    """``at`` o'clock on ``day`` in the service's time zone (``Clock.timezone``), aware."""
    return dt.datetime.combine(day, at, tzinfo=ZoneInfo(timezone))


def replan_instant(now: Clock, day: dt.date) -> dt.datetime | None:
    """The instant a re-plan of ``day`` starts from: the API's now, when ``day`` is the
    API's today; None otherwise (the API re-plans a day only from an instant of it)."""
    return now.now if now.today == day else None


def default_time(now: Clock, day: dt.date) -> dt.time:
    """What a time field on the board's ``day`` starts at: the API's now (to the minute)
    when ``day`` is today, else 08:00."""
    if now.today != day:
        return dt.time(8, 0)
    local = now.now.astimezone(ZoneInfo(now.timezone))
    return dt.time(local.hour, local.minute)


def default_deadline(now: Clock, day: dt.date) -> dt.time:
    """What an urgent repair's deadline field starts at: the service's repair standard
    (``Clock.urgent_due_min``) after the field's default time (``default_time``), on the
    quarter hour after, at the latest 23:45 of the day. A fixed time would already be
    past late in the day."""
    start = default_time(now, day)
    minutes = start.hour * 60 + start.minute + now.urgent_due_min
    minutes = min(-(-minutes // 15) * 15, 23 * 60 + 45)
    return dt.time(minutes // 60, minutes % 60)


def parse_skills(text: str) -> dict[str, int]:
    """``"electrical:2, hvac"`` → ``{"electrical": 2, "hvac": 1}`` (level 1 when left out).

    Raises ``ValueError`` naming the part it cannot read."""
    skills: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        code, _, level = part.partition(":")
        code = code.strip()
        if not code:
            raise ValueError(f"skills: no skill name in {part!r}")
        try:
            skills[code] = int(level) if level.strip() else 1
        except ValueError:
            raise ValueError(f"skills: the level in {part!r} is not a whole number") from None
    return skills


def urgent_job_body(
    day: dt.date,
    lat: float,
    lon: float,
    deadline: dt.datetime,
    duration_min: int,
    skills: dict[str, int],
    address: str = "",
    notes: str = "",
    level: int = 1,
    region: str | None = None,
) -> dict[str, Any]:
    """The ``PUT /v1/jobs/{id}`` body of an urgent repair with a deadline, at the priority
    of its emergency ``level`` (1, service outage; 2; 3: domain.md's response levels;
    ``URGENT_PRIORITY``), in ``region`` (the board's; the service's default region when
    None, as the API takes a job without one)."""
    body: dict[str, Any] = {
        "kind": "repair",
        "date": day.isoformat(),
        "location": {"lat": lat, "lon": lon},
        "duration_min": duration_min,
        "skills": skills,
        "deadline": deadline.isoformat(),
        "priority": URGENT_PRIORITY[level],
    }
    if region:
        body["region"] = region
    if address:
        body["address"] = address
    if notes:
        body["notes"] = notes
    return body


@dataclass(frozen=True)
class ChangeRows:
    """A re-plan's changes as the tables the review shows."""

    moved: pd.DataFrame
    retimed: pd.DataFrame
    dropped: pd.DataFrame
    added: pd.DataFrame
    notify: list[str]
    routes_changed: list[str]
    locks_not_kept: pd.DataFrame

    @property
    def empty(self) -> bool:
        """True when the re-plan changes nothing a technician or customer was told, nor a lock."""
        tables = (self.moved, self.retimed, self.dropped, self.added, self.locks_not_kept)
        return all(t.empty for t in tables) and not self.routes_changed


def change_rows(plan: Plan) -> ChangeRows:
    """The moved (job, from → to technician), retimed (job, old → new arrival and by how
    many minutes), dropped (job, with the reason it is unassigned) and added (job, its
    technician and arrival) rows of a re-plan, the dispatcher's locks it could not keep
    (job, technician, lock, why), and the customers to notify. A plan without
    ``changes`` gives empty tables."""
    changes = plan.changes or PlanChanges()
    reasons = {u.job_id: u.reason for u in plan.unassigned or []}
    moved = [{"job": m.job_id, "from": m.from_technician_id, "to": m.to_technician_id} for m in changes.moved]
    retimed = [
        {
            "job": r.job_id,
            "old_arrival": clock(r.old_arrival),
            "new_arrival": clock(r.new_arrival),
            "shift_min": round((r.new_arrival - r.old_arrival).total_seconds() / 60),
        }
        for r in changes.retimed
    ]
    dropped = [{"job": j, "reason": reasons.get(j, "")} for j in changes.dropped]
    added = [{"job": a.job_id, "technician": a.technician_id, "arrival": clock(a.arrival)} for a in changes.added]
    released = [
        {"job": x.job_id, "technician": x.technician_id, "lock": x.lock, "reason": x.reason}
        for x in changes.locks_not_kept
    ]
    return ChangeRows(
        moved=pd.DataFrame(moved, columns=MOVED_COLUMNS),
        retimed=pd.DataFrame(retimed, columns=RETIMED_COLUMNS),
        dropped=pd.DataFrame(dropped, columns=DROPPED_COLUMNS),
        added=pd.DataFrame(added, columns=ADDED_COLUMNS),
        notify=list(changes.notify),
        routes_changed=list(changes.routes_changed),
        locks_not_kept=pd.DataFrame(released, columns=LOCKS_NOT_KEPT_COLUMNS),
    )


def changed_visits(plan: Plan) -> pd.DataFrame:
    """The visits of the proposed plan that a re-plan moved, retimed or added, in route
    order, with what changed (the timeline has no highlight: this goes beside it)."""
    changes = plan.changes or PlanChanges()
    moved = {m.job_id: m for m in changes.moved}
    retimed = {r.job_id: r for r in changes.retimed}
    added = {a.job_id for a in changes.added}
    rows = []
    for route in sorted(plan.routes or [], key=lambda r: r.technician_id):
        for v in route.visits:
            what = ["new"] if v.job_id in added else []
            if v.job_id in moved:
                what.append(f"from {moved[v.job_id].from_technician_id}")
            if v.job_id in retimed:
                r = retimed[v.job_id]
                what.append(f"was {clock(r.old_arrival)}")
            if what:
                rows.append(
                    {
                        "technician": route.technician_id,
                        "seq": v.seq,
                        "job": v.job_id,
                        "arrival": clock(v.arrival),
                        "change": ", ".join(what),
                    }
                )
    return pd.DataFrame(rows, columns=CHANGED_VISIT_COLUMNS)


def proposal_is_for(plan: Plan, day: dt.date, region: str | None) -> bool:
    """True when a re-plan proposal belongs on the board showing ``day`` and ``region``
    (any region when the board has none): a proposal of another day or region is never
    shown, nor offered for publishing, there."""
    return plan.date == day and (region is None or plan.region == region)


def proposal_header(plan: Plan, name_region: bool) -> str:
    """The review's heading: the re-plan, its region when the board has several
    (``name_region``), and the instant it starts from."""
    where = f" of {plan.region}" if name_region else ""
    return f"**Proposed re-plan #{plan.id}{where} from {clock(plan.replan_from)}**"


def changes_summary(rows: ChangeRows) -> str:
    """One line: how many visits move, are retimed, dropped or added, customers to tell,
    and (when any) the locks the re-plan could not keep."""
    released = len(rows.locks_not_kept)
    locks = f" {released} lock{'s' if released != 1 else ''} not kept." if released else ""
    return (
        f"{len(rows.moved)} moved, {len(rows.retimed)} retimed, {len(rows.dropped)} dropped, "
        f"{len(rows.added)} added; "
        f"{len(rows.notify)} customers to notify; {len(rows.routes_changed)} routes changed.{locks}"
    )
