"""Technicians: skills, shifts and breaks, employee or partner; each one's weekly
template and absences, edited here (docs/working-time.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st

from dashboard import data
from dashboard.frames import (
    WEEKDAYS,
    absence_label,
    absences_frame,
    shifts_frame,
    skill_codes,
    technicians_frame,
    week_template_frame,
    with_weekdays,
)
from dashboard.models import Technician
from dashboard.widgets import attempt, current_board, shown_errors

board = current_board()
st.title("Technicians" + (f" · {board.region}" if board.region else ""))


def _week_form(tech: Technician) -> list[dict[str, Any]] | None:
    """The weekly template form: one row a weekday; the template to save once submitted."""
    by_day = {w.weekday: w for w in tech.week}
    with st.form(f"week_form_{tech.id}"):
        st.markdown("**Weekly template** (an explicit shift overrides it on its date)")
        week = []
        for n, name in enumerate(WEEKDAYS, start=1):
            current = by_day.get(n)
            brk = current.break_ if current is not None else None
            on, start, end, earliest, latest, minutes = st.columns([1, 1, 1, 1, 1, 1])
            key = f"week_{tech.id}_{n}"
            works = on.checkbox(name, value=current is not None, key=f"{key}_on")
            row: dict[str, Any] = {
                "weekday": n,
                "start": start.text_input("Start", current.start if current else "08:00", key=f"{key}_start"),
                "end": end.text_input("End", current.end if current else "16:00", key=f"{key}_end"),
            }
            lunch = (
                earliest.text_input("Lunch from", brk.earliest if brk else "", key=f"{key}_earliest"),
                latest.text_input("Lunch by", brk.latest if brk else "", key=f"{key}_latest"),
                minutes.number_input("Lunch min", 0, 240, brk.duration_min if brk else 0, key=f"{key}_min"),
            )
            if lunch[0] or lunch[1]:
                row["break"] = {"earliest": lunch[0], "latest": lunch[1] or lunch[0], "duration_min": lunch[2]}
            if works:
                week.append(row)
        if st.form_submit_button("Save weekly template"):
            return week
    return None


def _add_absence(tech: Technician, tz: ZoneInfo) -> dict[str, Any] | None:
    """The form adding an absence (local dates and times); the absence once submitted."""
    # Not cleared on submit: a refused absence stays in the form to be corrected; an
    # absence the API took is cleared (``ABSENCE_FIELDS`` forgotten before the rerun).
    with st.form(f"absence_form_{tech.id}"):
        st.markdown("**Add an absence** (a whole day off: 00:00 to 00:00 of the next day)")
        start_day, start_time, end_day, end_time, reason = st.columns([2, 1, 2, 1, 3])
        day = board.day
        values = (
            start_day.date_input("From", day, key=f"absence_{tech.id}_from_day"),
            start_time.text_input("at", "00:00", key=f"absence_{tech.id}_from_time"),
            end_day.date_input("Until", day + dt.timedelta(days=1), key=f"absence_{tech.id}_until_day"),
            end_time.text_input("at", "00:00", key=f"absence_{tech.id}_until_time"),
            reason.text_input("Reason", "", key=f"absence_{tech.id}_reason"),
        )
        if not st.form_submit_button("Add absence"):
            return None
    try:
        start = dt.datetime.combine(values[0], dt.time.fromisoformat(values[1]), tzinfo=tz)
        end = dt.datetime.combine(values[2], dt.time.fromisoformat(values[3]), tzinfo=tz)
    except (TypeError, ValueError):
        st.error("An absence's times are written HH:MM, e.g. 08:00.", icon=":material/error:")
        return None
    return {"start": start.isoformat(), "end": end.isoformat(), "reason": values[4]}


SAVED_KEY = "tech_saved"


def _absence_keys(tech: Technician) -> list[str]:
    return [f"absence_{tech.id}_{field}" for field in ("from_day", "from_time", "until_day", "until_time", "reason")]


def _save(
    tech: Technician,
    done: str,
    explain: Callable[[str], str] | None = None,
    forget: Sequence[str] = (),
    **changes: Any,
) -> None:
    """Put the technician back whole with ``changes``; once the API took it, read
    everything again, empty the form fields ``forget`` and say ``done`` (the API's
    refusal, field named, otherwise, with the form as it was)."""
    if attempt(lambda: board.client.put_technician(tech.id, tech.put_body(**changes)), done, explain):
        data.forget_technicians()
        for key in forget:
            st.session_state.pop(key, None)
        st.session_state[SAVED_KEY] = done
        st.rerun()


if SAVED_KEY in st.session_state:
    st.success(st.session_state.pop(SAVED_KEY), icon=":material/check:")


with shown_errors():
    everyone = data.technicians(board.base_url, board.token, board.region)
    working = data.working_on(board)
    kind_col, skill_col, day_col = st.columns(3)
    kinds = kind_col.multiselect("Employee or partner", ["employee", "partner"], key="tech_kind")
    skills = skill_col.multiselect("Holds skill", skill_codes(everyone), key="tech_skill")
    only_working = day_col.checkbox(f"Working on {board.day:%d %b}", value=False, key="tech_working")
    shown = [
        t
        for t in everyone
        if (not kinds or t.kind in kinds)
        and (not skills or all(s in t.skills for s in skills))
        and (not only_working or t.id in working)
    ]
    partners = sum(1 for t in shown if t.kind == "partner")
    st.caption(f"{len(shown)} technicians: {len(shown) - partners} employees, {partners} partners")
    st.dataframe(technicians_frame(shown, working), hide_index=True, key="technicians_all")

    if shown:
        names = {t.id: f"{t.id} {t.name} ({t.kind})" for t in shown}
        picked = st.selectbox("Shifts of", list(names), format_func=lambda i: names[i], key="tech_detail")
        tech = next(t for t in shown if t.id == picked)
        home = f"home {tech.home.lat:.4f}, {tech.home.lon:.4f}"
        cost = (
            f"{tech.cost.per_hour:g} €/h, {tech.cost.per_km:g} €/km, {tech.cost.per_job:g} €/job, "
            f"overtime {tech.cost.overtime_per_hour:g} €/h up to {tech.max_overtime_min} min"
        )
        st.caption(f"{tech.kind} · {home} · {cost}")
        st.dataframe(shifts_frame(tech), hide_index=True, key="tech_shifts")

        st.subheader("Working time")
        st.dataframe(week_template_frame(tech), hide_index=True, key="tech_week")
        week = _week_form(tech)
        if week is not None:
            sent = week
            _save(tech, f"Weekly template of {tech.id} saved.", lambda text: with_weekdays(text, sent), week=sent)

        st.dataframe(absences_frame(tech), hide_index=True, key="tech_absences")
        tz = ZoneInfo(data.timezone(board.base_url, board.token))
        added = _add_absence(tech, tz)
        if added is not None:
            kept = [a.model_dump(mode="json") for a in tech.absences]
            _save(tech, f"Absence of {tech.id} added.", absences=[*kept, added], forget=_absence_keys(tech))
        if tech.absences:
            labels = {i: absence_label(a.start, a.end, a.reason) for i, a in enumerate(tech.absences)}
            gone = st.multiselect(
                "Absences to remove", list(labels), format_func=labels.__getitem__, key=f"absence_{tech.id}_remove"
            )
            if st.button("Remove absences", key=f"absence_{tech.id}_remove_button", disabled=not gone):
                left = [a.model_dump(mode="json") for i, a in enumerate(tech.absences) if i not in gone]
                _save(tech, f"Absences of {tech.id} removed.", absences=left)
