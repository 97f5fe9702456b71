"""Today: per technician what is done, under way and next, delays against the plan,
visits at risk and new urgent work; refreshes itself from the API."""

from __future__ import annotations

import streamlit as st

from dashboard.client import BoardError
from dashboard.today import REFRESH_S, highlight_at_risk, summary_frame, urgent_frame, visits_frame
from dashboard.widgets import current_board

board = current_board()
st.title(f"Today {board.day:%a %d %b %Y}" + (f" · {board.region}" if board.region else ""))


@st.fragment(run_every=REFRESH_S)
def live_view() -> None:
    """Reads ``GET /v1/live`` on every run of the fragment: no page reload needed."""
    try:
        live = board.client.live(board.day, board.region)
    except BoardError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    st.caption(f"As of {live.now:%H:%M:%S}; refreshes every {REFRESH_S} s.")
    if live.plan_id is None:
        st.info("No published plan for this day: publish one on the Edit page.")
    else:
        summary = summary_frame(live)
        risky = visits_frame(live, only_at_risk=True)
        st.markdown(f"**Plan #{live.plan_id}: {len(summary)} technicians, {len(risky)} visits at risk**")
        with st.container(key="today-summary"):
            st.table(summary.style.apply(highlight_at_risk, axis=1), hide_index=True)
        if not risky.empty:
            with st.container(key="today-at-risk"):
                st.markdown("**Visits at risk**")
                st.dataframe(risky, hide_index=True, key="today_at_risk")
        with st.expander("Every visit"):
            visits = visits_frame(live)
            st.dataframe(visits.style.apply(highlight_at_risk, axis=1), hide_index=True, key="today_visits")
    with st.container(key="today-urgent"):
        urgent = urgent_frame(live)
        st.markdown(f"**New urgent work ({len(urgent)})**")
        if urgent.empty:
            st.success("No urgent job waits outside the plan.")
        else:
            st.table(urgent)


live_view()
