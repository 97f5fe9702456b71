"""The planning board's entrypoint: ``streamlit run dashboard/app.py``.

The sidebar (token, day, region) lives here so every page shares it; the
pages under ``views/`` only lay out what ``dashboard``'s modules compute.
"""

from __future__ import annotations

import streamlit as st

from dashboard.widgets import sidebar

st.set_page_config(page_title="Planning board", page_icon=":material/map:", layout="wide")
page = st.navigation(
    [
        st.Page("views/plan.py", title="Plan", icon=":material/map:", default=True),
        st.Page("views/week.py", title="Week", icon=":material/calendar_view_week:"),
        st.Page("views/edit.py", title="Edit", icon=":material/edit:"),
        st.Page("views/today.py", title="Today", icon=":material/schedule:"),
        st.Page("views/technicians.py", title="Technicians", icon=":material/engineering:"),
    ]
)
sidebar()
page.run()
