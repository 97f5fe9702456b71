"""Today: per technician what is done, under way and next, delays against the plan,
visits at risk and new urgent work (refreshing itself from the API); disruptions
recorded as they come; a re-plan from now, reviewed, then published or discarded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import streamlit as st

from dashboard import data
from dashboard.client import BoardError
from dashboard.frames import working_on
from dashboard.replan import (
    FAILURE_REASONS,
    FIELD_REPORTS,
    NOW_HELP,
    REPLAN_STABILITY,
    REPLAN_STABILITY_HELP,
    URGENT_DEADLINE_HELP,
    URGENT_DEFAULT_DURATION_MIN,
    URGENT_LEVEL_HELP,
    URGENT_LEVELS,
    change_rows,
    changed_visits,
    changes_summary,
    default_deadline,
    default_time,
    field_report_said,
    on_day,
    parse_skills,
    proposal_header,
    proposal_is_for,
    replan_instant,
    stability_label,
    urgent_job_body,
)
from dashboard.today import REFRESH_S, highlight_at_risk, summary_frame, urgent_frame, visits_frame
from dashboard.widgets import DEFAULT_TIME_LIMIT_S, attempt, current_board, follow_plan, shown_errors

PROPOSAL_KEY = "replan_proposal"
FLASH_KEY = "replan_flash"
REPORT_FLASH_KEY = "report_flash"
URGENT_FLASH_KEY = "urgent_flash"
CANCEL_FLASH_KEY = "cancel_flash"


def changed_then_rerun(call: Callable[[], object], done: str, flash_key: str) -> None:
    """Make a change to the day's jobs; once the API took it, run the page again so that
    the live view and the job lists above show it at once, and say ``done`` there (the
    API's refusal, field named, otherwise)."""
    try:
        call()
    except BoardError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    data.forget_jobs()
    st.session_state[flash_key] = done
    st.rerun()


def flash(flash_key: str) -> None:
    """The message a change left before the page ran again, once."""
    if said := st.session_state.pop(flash_key, None):
        st.success(str(said), icon=":material/check:")


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


with shown_errors():
    now = board.client.clock()
    techs = working_on(data.technicians(board.base_url, board.token, board.region), data.working_on(board))
    day_jobs = data.jobs(board.base_url, board.token, board.day, board.region)
    several_regions = len({t.region for t in data.technicians(board.base_url, board.token) if t.region}) > 1
tech_ids = [t.id for t in techs]
open_jobs = [j.id for j in day_jobs if j.status not in ("cancelled", "completed")]
under_way = [j.id for j in day_jobs if j.status in ("en_route", "on_site")]
start_at = default_time(now, board.day)


def instant(at: dt.time) -> dt.datetime:
    return on_day(board.day, at, now.timezone)


def entered_or_now(at: dt.time | None) -> dt.time:
    """The time entered in a field, or (left empty) the API's now when the button is
    pressed, to the minute (08:00 on another day). A default filled in when the page
    was drawn would be hours old by the time the dispatcher records with it."""
    return at if at is not None else default_time(board.client.clock(), board.day)


st.subheader("Disruptions")
unavailable_tab, overrun_tab, report_tab, late_tab, urgent_tab, cancel_tab = st.tabs(
    ["Technician unavailable", "Job overrun", "Field report", "Running late", "Urgent repair", "Cancel a job"]
)
with unavailable_tab:
    with st.form("unavailable_form"):
        tech = st.selectbox("Technician", tech_ids, key="unavailable_tech")
        from_col, until_col, rest_col = st.columns(3, vertical_alignment="bottom")
        start_in = from_col.time_input("From", value=None, key="unavailable_from", help=NOW_HELP)
        until = until_col.time_input("Until", value=dt.time(17, 0), key="unavailable_until")
        rest = rest_col.checkbox("Rest of the day", value=True, key="unavailable_rest")
        sent = st.form_submit_button("Record unavailable")
    if sent and tech:
        start = entered_or_now(start_in)
        attempt(
            lambda: board.client.technician_unavailable(tech, instant(start), None if rest else instant(until)),
            f"{tech} is unavailable from {start:%H:%M}" + ("" if rest else f" until {until:%H:%M}") + ".",
        )
with overrun_tab:
    st.caption("A visit under way (on the way or on site) that will end later, or earlier, than planned.")
    with st.form("overrun_form"):
        job = st.selectbox("Job", under_way, key="overrun_job")
        end = st.time_input("Expected end", value=start_at, key="overrun_end")
        sent = st.form_submit_button("Record overrun")
    if sent and job:
        attempt(lambda: board.client.job_overrun(job, instant(end)), f"{job} now ends at {end:%H:%M}.")
with report_tab:
    flash(REPORT_FLASH_KEY)
    st.caption(
        "What an installer told you by phone: on the way, arrived, done (early or late), or could not "
        "complete (the job is open again for its revisit). Re-plans start from what the field reported."
    )
    with st.form("report_form"):
        job_col, what_col, at_col, reason_col = st.columns(4)
        job = job_col.selectbox("Job", open_jobs, key="report_job")
        what = what_col.selectbox("What happened", list(FIELD_REPORTS), key="report_what")
        at_in = at_col.time_input("At", value=None, key="report_at", help=NOW_HELP)
        reason = reason_col.selectbox("Reason (could not complete)", FAILURE_REASONS, key="report_reason")
        sent = st.form_submit_button("Record report")
    if sent and job and what:
        at = entered_or_now(at_in)
        kind = FIELD_REPORTS[what]
        why = reason if kind == "failed" else None
        try:
            board.client.field_report(job, kind, instant(at), why)
        except BoardError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            # The job lists above (overrun, cancel, this one) follow its new status at once.
            data.forget_jobs()
            revisit = None
            if kind == "failed":
                moved_to = board.client.job(job).date
                revisit = moved_to if moved_to != board.day else None
            st.session_state[REPORT_FLASH_KEY] = field_report_said(job, what, at, why, revisit)
            st.rerun()
with late_tab:
    with st.form("late_form"):
        tech = st.selectbox("Technician", tech_ids, key="late_tech")
        at_col, lat_col, lon_col = st.columns(3)
        late_in = at_col.time_input("At", value=None, key="late_at", help=NOW_HELP)
        lat = lat_col.number_input("Latitude", -90.0, 90.0, 60.17, format="%.5f", key="late_lat")
        lon = lon_col.number_input("Longitude", -180.0, 180.0, 24.94, format="%.5f", key="late_lon")
        sent = st.form_submit_button("Record running late")
    if sent and tech:
        at = entered_or_now(late_in)
        attempt(
            lambda: board.client.running_late(tech, instant(at), float(lat), float(lon)),
            f"{tech} is running late: at ({lat:.4f}, {lon:.4f}) at {at:%H:%M}.",
        )
with urgent_tab:
    flash(URGENT_FLASH_KEY)
    with st.form("urgent_form"):
        id_col, level_col, deadline_col, duration_col = st.columns(4)
        job_id = id_col.text_input("Job id", key="urgent_id")
        level = level_col.selectbox("Level", URGENT_LEVELS, key="urgent_level", help=URGENT_LEVEL_HELP)
        deadline_in = deadline_col.time_input("Deadline", value=None, key="urgent_deadline", help=URGENT_DEADLINE_HELP)
        duration = duration_col.number_input(
            "Duration (min)", 1, 24 * 60, URGENT_DEFAULT_DURATION_MIN, key="urgent_duration"
        )
        lat_col, lon_col, skills_col = st.columns(3)
        lat = lat_col.number_input("Latitude", -90.0, 90.0, 60.17, format="%.5f", key="urgent_lat")
        lon = lon_col.number_input("Longitude", -180.0, 180.0, 24.94, format="%.5f", key="urgent_lon")
        skills_text = skills_col.text_input("Skills", placeholder="electrical:2, plumbing", key="urgent_skills")
        address = st.text_input("Address (optional)", key="urgent_address")
        sent = st.form_submit_button("Add urgent repair")
    if sent:
        try:
            skills = parse_skills(skills_text)
        except ValueError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            deadline = deadline_in if deadline_in is not None else default_deadline(board.client.clock(), board.day)
            body = urgent_job_body(
                board.day,
                float(lat),
                float(lon),
                instant(deadline),
                int(duration),
                skills,
                address.strip(),
                level=int(level or 1),
                region=board.region,
            )
            changed_then_rerun(
                lambda: board.client.add_job(job_id.strip(), body),
                f"Urgent repair {job_id.strip()} added (level {level}, deadline {deadline:%H:%M}).",
                URGENT_FLASH_KEY,
            )
with cancel_tab:
    flash(CANCEL_FLASH_KEY)
    with st.form("cancel_form"):
        job = st.selectbox("Job", open_jobs, key="cancel_job")
        sent = st.form_submit_button("Cancel job")
    if sent and job:
        changed_then_rerun(
            lambda: board.client.cancel_job(job), f"{job} is cancelled: later plans leave it out.", CANCEL_FLASH_KEY
        )

st.subheader("Re-plan from now")
flash(FLASH_KEY)
with st.form("replan_form", border=False):
    limit_col, changes_col, button_col = st.columns([1, 2, 2], vertical_alignment="bottom")
    limit = limit_col.number_input(
        "Time limit (s)", min_value=1.0, max_value=600.0, value=DEFAULT_TIME_LIMIT_S, step=1.0, key="replan_limit"
    )
    keep = changes_col.selectbox("Changes", list(REPLAN_STABILITY), key="replan_changes", help=REPLAN_STABILITY_HELP)
    pressed = button_col.form_submit_button("Re-plan from now", type="primary")
if pressed:
    # A new re-plan replaces the proposal under review, even when it is refused or not started.
    st.session_state.pop(PROPOSAL_KEY, None)
    try:
        api_now = board.client.clock()
        start_from = replan_instant(api_now, board.day)
        if start_from is None:
            st.warning(
                f"A re-plan from now re-plans today ({api_now.today:%a %d %b}); pick today in the sidebar.",
                icon=":material/warning:",
            )
        else:
            stability = REPLAN_STABILITY[keep or next(iter(REPLAN_STABILITY))]
            started = board.client.start_replan(board.day, board.region, start_from, float(limit), stability)
            final = follow_plan(board, started)
            if final is not None:
                st.session_state[PROPOSAL_KEY] = final.id
    except BoardError as exc:
        st.error(str(exc), icon=":material/error:")

proposal_id = st.session_state.get(PROPOSAL_KEY)
if isinstance(proposal_id, int):
    with shown_errors():
        proposal = data.finished_plan(board, proposal_id)
    if not proposal_is_for(proposal, board.day, board.region):
        st.caption(
            f"Re-plan #{proposal.id} of {proposal.region} on {proposal.date:%a %d %b} awaits review there: "
            "pick its day and region in the sidebar."
        )
    else:
        with shown_errors():
            # Read afresh on every run: it may have been published elsewhere (the Edit page, another board).
            versions = board.client.plans(proposal.date, proposal.region)
        published = any(p.id == proposal.id and p.published for p in versions)
        rows = change_rows(proposal)
        with st.container(key="replan-review"):
            state = "published" if published else "not published"
            st.markdown(f"{proposal_header(proposal, several_regions)} ({state})")
            st.caption(changes_summary(rows))
            if proposal.stability is not None:
                st.caption(stability_label(proposal.stability))
            moved_col, retimed_col, dropped_col, added_col = st.columns(4)
            with moved_col, st.container(key="replan-moved"):
                st.markdown(f"**Moved ({len(rows.moved)})**")
                if not rows.moved.empty:
                    st.table(rows.moved, hide_index=True)
            with retimed_col, st.container(key="replan-retimed"):
                st.markdown(f"**Retimed ({len(rows.retimed)})**")
                if not rows.retimed.empty:
                    st.table(rows.retimed, hide_index=True)
            with dropped_col, st.container(key="replan-dropped"):
                st.markdown(f"**Dropped ({len(rows.dropped)})**")
                if not rows.dropped.empty:
                    st.table(rows.dropped, hide_index=True)
            with added_col, st.container(key="replan-added"):
                st.markdown(f"**Added ({len(rows.added)})**")
                if not rows.added.empty:
                    st.table(rows.added, hide_index=True)
            if not rows.locks_not_kept.empty:
                with st.container(key="replan-locks"):
                    st.markdown(
                        f"**Locks not kept ({len(rows.locks_not_kept)})**: released for this plan and later runs"
                    )
                    st.table(rows.locks_not_kept, hide_index=True)
            st.markdown("**Customers to notify:** " + (", ".join(rows.notify) if rows.notify else "none"))
            with shown_errors():
                view = data.plan_view(board, proposal.id)
            gantt_col, changed_col = st.columns([3, 1])
            with gantt_col, st.container(key="replan-gantt"):
                st.vega_lite_chart(view.gantt, key=f"replan-gantt-{proposal.id}", theme=None)
            with changed_col, st.container(key="replan-changed"):
                st.markdown("**Changed visits**")
                changed = changed_visits(proposal)
                if changed.empty:
                    st.caption("No visit moved, retimed or added.")
                else:
                    st.table(changed, hide_index=True)
            if published:
                st.info(
                    f"Plan #{proposal.id} was published elsewhere since it was proposed: "
                    "nothing to publish or discard.",
                    icon=":material/info:",
                )
                if st.button("Close the review", key="replan_close"):
                    st.session_state.pop(PROPOSAL_KEY, None)
                    st.rerun()
            else:
                publish_col, discard_col = st.columns(2)
                if publish_col.button("Publish", type="primary", key="replan_publish"):
                    try:
                        board.client.publish(proposal.id)
                    except BoardError as exc:
                        st.error(f"Not published: {exc}", icon=":material/error:")
                    else:
                        data.forget_plans()
                        st.session_state.pop(PROPOSAL_KEY, None)
                        st.session_state[FLASH_KEY] = f"Plan #{proposal.id} is published."
                        st.rerun()
                if discard_col.button("Discard", key="replan_discard"):
                    st.session_state.pop(PROPOSAL_KEY, None)
                    st.session_state[FLASH_KEY] = f"Re-plan #{proposal.id} discarded; nothing was published."
                    st.rerun()
