"""Week: technicians × days of the week of the board's day, each cell the day's load
(planned against working hours), jobs, and per day the jobs and unassigned; a day
opens in the day view (Plan)."""

from __future__ import annotations

import streamlit as st

from dashboard import data
from dashboard.week import column, days_frame, load_colour, week_frames, week_of
from dashboard.widgets import DAY_KEY, current_board, optimize, shown_errors

WEEK_RUN_KEY = "week_run"


def _pick_day() -> None:
    """Before the next run (the sidebar's day widget is not drawn yet): the picked day is the board's day."""
    st.session_state[DAY_KEY] = st.session_state["week_open"]
    st.session_state["_day_set"] = True


board = current_board()
dates = week_of(board.day)
st.title(f"Week {dates[0]:%d %b}–{dates[-1]:%d %b %Y}" + (f" · {board.region}" if board.region else ""))
st.caption(
    "Each cell: planned hours / working hours · jobs · load, from the day's published plan "
    "(else its newest done version). Working hours are the explicit shift, else the weekly "
    "template, less absences."
)

with shown_errors():
    days = data.week(board, dates)
    everyone = data.technicians(board.base_url, board.token, board.region)
    shown = [t for t in everyone if any(t.id in d.working for d in days) or t.week or t.shifts]
    text, load = week_frames(shown, days)
    heads = [column(d) for d in dates]
    styled = text.style.apply(
        lambda _: load[heads].map(load_colour).reindex(columns=text.columns, fill_value=""), axis=None
    )
    # Containers with keys: the browser test finds them by their CSS class (st-key-...).
    with st.container(key="week-grid"):
        st.dataframe(styled, hide_index=True, key="week_grid", height=min(800, 35 * (len(text) + 1) + 3))
    st.subheader("Days")
    with st.container(key="week-days"):
        st.dataframe(days_frame(days), hide_index=True, key="week_days")

    labels = {d: f"{d:%a %d %b}" for d in dates}
    pick_col, link_col = st.columns([3, 2], vertical_alignment="bottom")
    if st.session_state.get("week_open") not in dates:
        st.session_state["week_open"] = board.day
    pick_col.selectbox("Day", dates, format_func=labels.__getitem__, key="week_open", on_change=_pick_day)
    link_col.page_link("views/plan.py", label=f"Open {board.day:%a %d %b} in the day view", icon=":material/map:")

st.subheader("Plan the week in one solve")
st.caption(
    "Plans every day of the week together (docs/horizon.md): jobs with a date range go on any day of it, "
    "jobs of several days to one technician on consecutive days, dependencies across days. Each day's "
    "answer becomes a plan of that day; publishing the week publishes them all."
)
with shown_errors():
    made = optimize(board, "week_plan_form", "Plan the week", days=(dates[0], dates[-1]))
    if made is not None:
        st.session_state[WEEK_RUN_KEY] = made.id
        st.rerun()
    run_id = st.session_state.get(WEEK_RUN_KEY)
    if isinstance(run_id, int):
        run = board.client.plan(run_id)
        served = len(run.served_job_ids())
        with st.container(key="week-run"):
            state = "published" if run.published else "not published"
            st.success(
                f"Week plan #{run.id} ({run.date:%d %b}–{run.date_to or run.date:%d %b}): {served} jobs served, "
                f"{len(run.unassigned or [])} unassigned; {state}.",
                icon=":material/calendar_month:",
            )
            if not run.published and st.button("Publish the week", key="week_publish", type="primary"):
                board.client.publish(run.id)
                data.forget_plans()
                st.rerun()
