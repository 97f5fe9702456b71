"""Edit: move a visit by hand (checked before it is stored), pin or take out jobs, lock a route,
re-optimize, compare two versions, publish one."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st

from dashboard import data
from dashboard.client import BoardError
from dashboard.frames import jobs_frame, working_on
from dashboard.kpis import kpi_deltas
from dashboard.models import EditResult, Job
from dashboard.widgets import current_board, optimize, pick_version, shown_errors

ENDED = ("cancelled", "completed")
NO_PIN = "(no pin)"

board = current_board()
st.title(f"Edit {board.day:%a %d %b %Y}" + (f" · {board.region}" if board.region else ""))


def edit_summary(checked: EditResult, tz: ZoneInfo) -> list[str]:
    """What a checked move was checked from and what it changes for technicians and
    customers (empty for a move checked over the whole day)."""
    if checked.from_ is None:
        return []
    lines = [
        f"Checked from {checked.from_.astimezone(tz):%H:%M}: what is done or under way stays as reported, "
        "and the figures are those of the rest of the day."
    ]
    if checked.changes is not None:
        moved, told = len(checked.changes.moved), len(checked.changes.notify)
        lines.append(
            f"Against what was told: {moved} visit(s) to another technician, {told} customer(s) told a new time."
        )
    return lines


def violation_rows(checked: EditResult) -> list[dict[str, str]]:
    """The violations a dispatcher reads, those the move causes first."""
    ordered = sorted(checked.violations, key=lambda v: v.standing)
    return [
        {
            "job": v.job_id,
            "rule": v.code,
            "detail": v.detail,
            "technician": v.technician_id or "",
            "caused by": "the version already" if v.standing else "this move",
        }
        for v in ordered
    ]


Move = tuple[list[dict[str, Any]], list[dict[str, Any]]]
"""A move as ``POST /v1/plans/{id}/edits`` takes it: its ``moves`` and its ``locks``."""


def move_of(job_id: str, tech_id: str, place: int, lock_tech: bool, lock_time: bool) -> Move:
    """The move the form describes: ``job_id`` to ``tech_id`` at ``place`` (1 = first), locks included."""
    moves = [{"job_id": job_id, "technician_id": tech_id, "position": place - 1}]
    locks = [{"job_id": job_id, "technician": lock_tech, "time": lock_time}] if lock_tech or lock_time else []
    return moves, locks


def move_said(move: Move) -> str:
    """A move as the dispatcher reads it: "J0003 to T05 at place 2, technician and time locked"."""
    moves, locks = move
    what = ", ".join(f"{m['job_id']} to {m['technician_id']} at place {m['position'] + 1}" for m in moves)
    locked = [name for name in ("technician", "time") if any(lock[name] for lock in locks)]
    return what + (f", {' and '.join(locked)} locked" if locked else "")


def job_label(job: Job) -> str:
    pin = f" · pinned to {job.pinned_technician_id}" if job.pinned_technician_id else ""
    return f"{job.id} · {job.kind} · priority {job.priority} · {job.address}{pin}"


with shown_errors():
    client = board.client
    day_jobs = data.jobs(board.base_url, board.token, board.day, board.region)
    techs = working_on(data.technicians(board.base_url, board.token, board.region), data.working_on(board))
    names = {t.id: f"{t.id} {t.name} ({t.kind})" for t in techs}
    by_id = {j.id: j for j in day_jobs}
    open_ids = [j.id for j in day_jobs if j.status in ("open", "scheduled")]  # not yet under way
    cancelled_ids = [j.id for j in day_jobs if j.status == "cancelled"]

    st.subheader("Move a visit")
    st.caption(
        "Moves one job in a version to a technician and place by hand; the API times and checks it at once. "
        "Nothing is stored until you apply it, as a new version."
    )
    edited = pick_version(board, "Version to edit", "move_version")
    if edited is None:
        st.info("No plan for this day yet.")
    else:
        now = client.clock()
        # During its day the published plan is checked from now; a re-plan always from its own instant.
        from_now = (
            st.checkbox(
                f"Check from now ({now.now.astimezone(ZoneInfo(now.timezone)):%H:%M}): what is done or under way stays",
                value=True,
                key="move_from_now",
            )
            if board.day == now.today and edited.published and edited.replan_from is None
            else False
        )
        # Apply is a submit button of the form itself, so that it sends the move on screen (a form's
        # fields reach the page only when one of its buttons is pressed); it applies that move only
        # when it is the one checked.
        with st.form("move_form"):
            move_job = st.selectbox("Job", open_ids, format_func=lambda i: job_label(by_id[i]), key="move_job")
            move_tech = st.selectbox("To technician", list(names), format_func=lambda i: names[i], key="move_tech")
            position = st.number_input("At place (1 = first)", min_value=1, max_value=200, value=1, key="move_place")
            lock_tech = st.checkbox("Lock the technician (pin)", key="move_lock_tech")
            lock_time = st.checkbox("Lock its time", key="move_lock_time")
            check_pressed = st.form_submit_button("Check move")
            in_form = (
                move_of(move_job, move_tech, int(position), lock_tech, lock_time)
                if move_job is not None and move_tech is not None
                else None
            )
            refused: str | None = None  # the API's refusal of the check or the apply, shown in the form
            if check_pressed and in_form is not None:
                moves, locks = in_form
                try:
                    checked = client.edit_plan(edited.id, moves, locks, from_=now.now if from_now else None)
                except BoardError as exc:
                    st.session_state.pop("move_pending", None)
                    refused = str(exc)
                else:
                    st.session_state["move_pending"] = (edited.id, in_form, from_now, checked)
            pending = st.session_state.get("move_pending")
            if pending is not None and pending[0] != edited.id:
                pending = None
            review = st.container(key="board-move")
            if refused is not None:
                review.error(refused, icon=":material/error:")
            apply_pressed = st.form_submit_button("Apply move", key="move_apply", disabled=pending is None)
        if apply_pressed and pending is not None and (pending[1], pending[2]) != (in_form, from_now):
            # The form (or the from-now box) changed since the check: the check is dropped.
            del st.session_state["move_pending"]
            review.info(
                f"The move in the form is not the one checked ({move_said(pending[1])}): check it first.",
                icon=":material/info:",
            )
            pending = None
        if pending is not None:
            _, (moves, locks), _, checked = pending
            assert isinstance(checked, EditResult)
            with review:
                st.markdown(f"**Checked: {move_said((moves, locks))}**")
                for line in edit_summary(checked, ZoneInfo(now.timezone)):
                    st.caption(line)
                caused = [v for v in checked.violations if not v.standing]
                if caused:
                    st.warning(f"The move breaks {len(caused)} hard rule(s).")
                elif checked.violations:
                    st.warning(
                        f"The move breaks no hard rule itself; the version already breaks {len(checked.violations)}."
                    )
                else:
                    st.success("The move breaks no hard rule.")
                if checked.violations:
                    st.dataframe(violation_rows(checked), hide_index=True, key="move_violations")
                st.markdown("KPI deltas")
                st.table(kpi_deltas(checked.base_kpis or {}, checked.kpis), hide_index=True)
                override = (
                    st.checkbox("Store it despite the violations (recorded)", key="move_override")
                    if checked.violations
                    else False
                )
            if apply_pressed and checked.violations and not override:
                review.error("The move breaks hard rules: tick the recorded override to store it anyway.")
            elif apply_pressed:
                since = checked.from_ if from_now else None
                del st.session_state["move_pending"]
                try:
                    applied = client.edit_plan(edited.id, moves, locks, apply=True, override=override, from_=since)
                except BoardError as exc:
                    review.error(str(exc), icon=":material/error:")
                else:
                    data.forget_plans()
                    data.forget_jobs()
                    st.session_state["compare_before"] = edited.id
                    if applied.plan_id is not None:
                        # Compared and offered for publishing below: "publish it below" means this one.
                        st.session_state["compare_after"] = applied.plan_id
                        st.session_state["publish_version"] = applied.plan_id
                    st.success(f"Plan #{applied.plan_id} is stored with the move: compare or publish it below.")

    pin_col, out_col = st.columns(2)
    with pin_col:
        st.subheader("Pin a job for the next plan run")
        with st.form("pin_form"):
            job_id = st.selectbox("Job", open_ids, format_func=lambda i: job_label(by_id[i]), key="pin_job")
            tech_id = st.selectbox(
                "Technician", [NO_PIN, *names], format_func=lambda i: names.get(i, i), key="pin_technician"
            )
            pin_pressed = st.form_submit_button("Pin")
        if pin_pressed and job_id is not None:
            pinned = client.pin_job(job_id, None if tech_id == NO_PIN else tech_id)
            data.forget_jobs()
            st.success(
                f"{pinned.id} is pinned to {pinned.pinned_technician_id}."
                if pinned.pinned_technician_id
                else f"{pinned.id} is no longer pinned."
            )
    with out_col:
        st.subheader("Take a job out")
        with st.form("take_out_form"):
            out_id = st.selectbox("Job", open_ids, format_func=lambda i: job_label(by_id[i]), key="take_out_job")
            out_pressed = st.form_submit_button("Take out")
        if out_pressed and out_id is not None:
            client.cancel_job(out_id)
            data.forget_jobs()
            st.success(f"{out_id} is taken out: later plans leave it out.")
        if cancelled_ids:
            with st.form("put_back_form"):
                back_id = st.selectbox("Taken out", cancelled_ids, key="put_back_job")
                back_pressed = st.form_submit_button("Put back")
            if back_pressed and back_id is not None:
                client.restore_job(back_id)
                data.forget_jobs()
                st.success(f"{back_id} is back in the day.")

    pinned_jobs = [j for j in by_id.values() if j.pinned_technician_id]
    with st.expander(f"Pinned jobs ({len(pinned_jobs)})"):
        st.dataframe(jobs_frame(pinned_jobs), hide_index=True, key="pinned_table")

    st.subheader("Lock a route")
    st.caption("Pins every job of one technician's route in a version to that technician.")
    source = pick_version(board, "From version", "lock_version")
    if source is not None:
        plan = data.finished_plan(board, source.id)
        busy = [r.technician_id for r in plan.routes or [] if r.visits]
        with st.form("lock_form"):
            lock_id = st.selectbox("Technician", busy, format_func=lambda i: names.get(i, i), key="lock_technician")
            lock_pressed = st.form_submit_button("Lock route")
        if lock_pressed and lock_id is not None:
            route = next(r for r in plan.routes or [] if r.technician_id == lock_id)
            # Done or cancelled since the version was made: pinning would reopen them.
            ended = {v.job_id for v in route.visits if by_id.get(v.job_id) and by_id[v.job_id].status in ENDED}
            locked = [v.job_id for v in route.visits if v.job_id not in ended]
            for job_id in locked:
                client.pin_job(job_id, lock_id)
            data.forget_jobs()
            st.success(f"Locked {len(locked)} jobs to {lock_id}: {', '.join(locked)}.")
            if ended:
                st.info(f"Left as they are (done or cancelled since): {', '.join(sorted(ended))}.")

    st.divider()
    st.subheader("Re-optimize")
    st.caption("Plans the day again; pinned jobs stay with their technicians.")
    rerun = optimize(board, "reoptimize_form", "Re-optimize")
    if rerun is not None:
        st.success(f"Plan #{rerun.id} is done: compare or publish it below.")
        done_before = [
            p.id
            for p in data.plans(board.base_url, board.token, board.day, board.region)
            if p.status == "done" and p.id != rerun.id
        ]
        if done_before:
            st.session_state["compare_before"] = done_before[0]
        st.session_state["compare_after"] = rerun.id
        st.session_state["publish_version"] = rerun.id

    st.subheader("Compare two versions")
    before_col, after_col = st.columns(2)
    with before_col:
        before = pick_version(board, "Before", "compare_before", default=1)
    with after_col:
        after = pick_version(board, "After", "compare_after")
    if before is None or after is None:
        st.info("No plan for this day yet.")
    elif before.id == after.id:
        st.info("Pick two different versions.")
    else:
        diff = data.plan_diff(board, before.id, after.id)
        with st.container(key="board-diff"):
            st.markdown(
                f"**#{before.id} → #{after.id}: {len(diff.moved)} jobs moved, {len(diff.shifted)} starts shifted**"
            )
            moved_col, shifted_col, kpi_col = st.columns([2, 3, 2])
            moved_col.markdown("Jobs moved")
            moved_col.dataframe(diff.moved, hide_index=True, key="diff_moved")
            shifted_col.markdown("Times shifted (min)")
            shifted_col.dataframe(diff.shifted, hide_index=True, key="diff_shifted")
            kpi_col.markdown("KPI deltas")
            kpi_col.table(diff.kpis, hide_index=True)

    st.divider()
    st.subheader("Publish")
    to_publish = pick_version(board, "Version to publish", "publish_version")
    if to_publish is not None:
        if to_publish.published:
            st.caption(f"#{to_publish.id} is the published plan of the day.")
        if st.button(f"Publish #{to_publish.id}", key="publish_button", disabled=to_publish.published):
            client.publish(to_publish.id)
            data.forget_plans()
            st.success(f"Plan #{to_publish.id} is published: installers see it now.")
