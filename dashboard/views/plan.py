"""Plan: Optimize and the plan on a map, a Gantt and KPI cards; the day's jobs
and technicians with filters; CSV import."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.client import BoardError
from dashboard.frames import JobFilter, filter_jobs, jobs_frame, skill_codes, technicians_frame, working_on
from dashboard.widgets import PLAN_KEY, current_board, optimize, pick_version, results, shown_errors

TAB_KEY = "plan_tab"

board = current_board()
st.title(f"Plan {board.day:%a %d %b %Y}" + (f" · {board.region}" if board.region else ""))

with shown_errors():
    day_jobs = data.jobs(board.base_url, board.token, board.day, board.region)
    working = data.working_on(board)
    techs = working_on(data.technicians(board.base_url, board.token, board.region), working)
    st.caption(f"{len(day_jobs)} jobs, {len(techs)} technicians working.")

    # Only the open tab runs, so the plan's figures never wait for the tables.
    plan_tab, jobs_tab, techs_tab, import_tab = st.tabs(
        ["Plan", "Jobs", "Technicians working", "Import CSV"], key=TAB_KEY, on_change="rerun"
    )
    if plan_tab.open:
        with plan_tab:
            optimize_col, version_col = st.columns([2, 3], vertical_alignment="bottom")
            with optimize_col:
                finished = optimize(board, "optimize_form")
            with version_col:
                chosen = pick_version(board, "Plan version", PLAN_KEY)
            if finished is not None:
                st.success(f"Plan #{finished.id} is done.")
            if chosen is None:
                st.info("No plan for this day yet: press Optimize.")
            else:
                results(board, chosen.id)

    if jobs_tab.open:
        with jobs_tab:
            kind_col, prio_col, skill_col, status_col = st.columns(4)
            wanted = JobFilter(
                kinds=kind_col.multiselect("Kind", sorted({j.kind for j in day_jobs}), key="filter_kind"),
                priorities=prio_col.multiselect("Priority", [1, 2, 3], key="filter_priority"),
                skills=skill_col.multiselect("Skill", skill_codes(day_jobs), key="filter_skill"),
                statuses=status_col.multiselect("Status", sorted({j.status for j in day_jobs}), key="filter_status"),
            )
            shown = filter_jobs(day_jobs, wanted)
            st.caption(f"{len(shown)} of {len(day_jobs)} jobs")
            st.dataframe(jobs_frame(shown), hide_index=True, key="jobs_table", height=600)

    if techs_tab.open:
        with techs_tab:
            st.dataframe(technicians_frame(techs, working), hide_index=True, key="technicians_table", height=600)

    if import_tab.open:
        with import_tab:
            st.caption("Columns as in docs/day-file.md; rows without a date fall on the day picked in the sidebar.")
            upload = st.file_uploader("CSV of jobs, one job a row", type=["csv"], key="import_file")
            if st.button("Import", disabled=upload is None, key="import_button") and upload is not None:
                try:
                    outcome = board.client.import_jobs(upload.name, upload.getvalue(), board.day)
                except BoardError as exc:
                    st.error(str(exc), icon=":material/error:")
                    if exc.errors:
                        st.dataframe(pd.DataFrame(exc.errors), hide_index=True, key="import_problem_rows")
                else:
                    data.forget_jobs()
                    st.success(f"Imported {outcome.imported} jobs.")
                    if outcome.errors:
                        rows = len({e.line for e in outcome.errors})
                        problems = f" ({len(outcome.errors)} problems)" if len(outcome.errors) > rows else ""
                        st.warning(f"{rows} rows were refused{problems}:")
                        refused = [e.model_dump() for e in outcome.errors]
                        st.dataframe(pd.DataFrame(refused, columns=["line", "field", "message"]), hide_index=True)
