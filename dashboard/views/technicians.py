"""Technicians: skills, shifts and breaks, employee or partner."""

from __future__ import annotations

import streamlit as st

from dashboard import data
from dashboard.frames import shifts_frame, skill_codes, technicians_frame
from dashboard.widgets import current_board, shown_errors

board = current_board()
st.title("Technicians" + (f" · {board.region}" if board.region else ""))

with shown_errors():
    everyone = data.technicians(board.base_url, board.token, board.region)
    kind_col, skill_col, day_col = st.columns(3)
    kinds = kind_col.multiselect("Employee or partner", ["employee", "partner"], key="tech_kind")
    skills = skill_col.multiselect("Holds skill", skill_codes(everyone), key="tech_skill")
    only_working = day_col.checkbox(f"Working on {board.day:%d %b}", value=False, key="tech_working")
    shown = [
        t
        for t in everyone
        if (not kinds or t.kind in kinds)
        and (not skills or all(s in t.skills for s in skills))
        and (not only_working or t.shift_on(board.day) is not None)
    ]
    partners = sum(1 for t in shown if t.kind == "partner")
    st.caption(f"{len(shown)} technicians: {len(shown) - partners} employees, {partners} partners")
    st.dataframe(technicians_frame(shown, board.day), hide_index=True, key="technicians_all")

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
