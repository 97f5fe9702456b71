"""Streamlit pieces more than one page uses: the sidebar, errors, Optimize, the results."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import streamlit as st

from dashboard import data
from dashboard.client import BoardError
from dashboard.frames import default_day, run_failure, version_label
from dashboard.kpis import KpiCard
from dashboard.models import Plan, RunProgress

TOKEN_KEY = "token"
DAY_KEY = "day"
REGION_KEY = "region"
PLAN_KEY = "plan_version"
_DAY_SET = "_day_set"
DEFAULT_TIME_LIMIT_S = 10.0


@contextmanager
def shown_errors() -> Iterator[None]:
    """Show a failed API call as a message and stop the page: never a traceback."""
    try:
        yield
    except BoardError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()


def attempt(call: Callable[[], object], done: str, explain: Callable[[str], str] | None = None) -> bool:
    """Make one change through the API: ``done`` as a success message, or the API's
    refusal (field named; ``explain`` rewords it for the form it came from) as an error;
    never a traceback. True when it went through."""
    try:
        call()
    except BoardError as exc:
        st.error(explain(str(exc)) if explain is not None else str(exc), icon=":material/error:")
        return False
    st.success(done, icon=":material/check:")
    return True


def _day_touched() -> None:
    st.session_state[_DAY_SET] = True


def sidebar() -> None:
    """API address, dispatcher token, day and region. The day and region follow a
    token: the day defaults to the first day that has shifts from the service's
    today on (``GET /v1/clock``: the board and the API agree on the date)."""
    base_url = data.api_url()
    side = st.sidebar
    side.markdown("### Planning board")
    side.caption(f"API: {base_url}")
    side.text_input(
        "Dispatcher token",
        key=TOKEN_KEY,
        type="password",
        help="A dispatcher token from POST /v1/tokens, or DISPATCH_ADMIN_TOKEN of the server.",
    )
    token = str(st.session_state.get(TOKEN_KEY) or "").strip()
    if not token:
        return
    try:
        techs = data.technicians(base_url, token)
        today = data.today(base_url, token)
    except BoardError:
        return  # the page says what is wrong
    regions = sorted({t.region for t in techs if t.region})
    if not st.session_state.get(_DAY_SET) or DAY_KEY not in st.session_state:
        st.session_state[DAY_KEY] = default_day(techs, today)
        st.session_state[_DAY_SET] = bool(techs)
    side.date_input("Day", key=DAY_KEY, on_change=_day_touched)
    if regions:
        if st.session_state.get(REGION_KEY) not in regions:
            st.session_state[REGION_KEY] = regions[0]
        side.selectbox("Region", regions, key=REGION_KEY)
    if side.button("Reload from the API", key="reload", help="Jobs and plans are cached for up to a minute."):
        st.cache_data.clear()


def current_board() -> data.Board:
    """The board the sidebar describes; stops the page until a token is given
    (and with the reason when the API refuses it or cannot be reached)."""
    token = str(st.session_state.get(TOKEN_KEY) or "").strip()
    if not token:
        st.info("Enter the dispatcher token in the sidebar to start.", icon=":material/key:")
        st.stop()
    day = st.session_state.get(DAY_KEY)
    if not isinstance(day, dt.date):
        with shown_errors():
            day = data.today(data.api_url(), token)
    region = st.session_state.get(REGION_KEY)
    return data.Board(data.api_url(), token, day, str(region) if region else None)


def optimize(
    board: data.Board, form_key: str, button: str = "Optimize", days: tuple[dt.date, dt.date] | None = None
) -> Plan | None:
    """A time limit and a button; runs a plan of the board's day (with ``days``: of the
    days from the first to the last in one solve), showing its progress, and returns it
    when it ends."""
    with st.form(form_key, border=False):
        left, right = st.columns([1, 3], vertical_alignment="bottom")
        limit = left.number_input(
            "Time limit (s)", min_value=1.0, max_value=600.0, value=DEFAULT_TIME_LIMIT_S, step=1.0
        )
        pressed = right.form_submit_button(button, type="primary")
    if not pressed:
        return None
    first, last = days if days is not None else (board.day, None)
    started = board.client.start_plan(first, board.region, float(limit), last)
    final = follow_plan(board, started)
    if final is not None and days is None:
        st.session_state[PLAN_KEY] = final.id
    return final


def follow_plan(board: data.Board, started: Plan) -> Plan | None:
    """Show a started run's progress bar until it ends, fed by the run's event stream
    (polling ``GET /v1/plans/{id}`` when the stream cannot be had); the done plan, or
    None (with the reason shown) when it failed or was cancelled."""
    bar = st.progress(0.0, text=f"Plan #{started.id}: queued")

    def report(run: RunProgress) -> None:
        bar.progress(min(max(run.progress, 0.0), 1.0), text=f"Plan #{run.id}: {run.status} {run.progress:.0%}")

    final = board.client.wait_for_plan(started.id, report, poll_s=0.3, timeout_s=started.time_limit_s + 120)
    data.forget_plans()
    if final.status != "done":
        bar.empty()
        st.error(run_failure(final), icon=":material/error:")
        return None
    bar.progress(1.0, text=f"Plan #{final.id}: done")
    return final


def pick_version(board: data.Board, label: str, key: str, default: int = 0) -> Plan | None:
    """A picker of the day's done versions, newest first (``default``: which one
    to start on, 0 = newest); None when there is none."""
    versions = [p for p in data.plans(board.base_url, board.token, board.day, board.region) if p.status == "done"]
    if not versions:
        return None
    ids = [p.id for p in versions]
    if st.session_state.get(key) not in ids:
        st.session_state[key] = ids[min(default, len(ids) - 1)]
    by_id = {p.id: p for p in versions}
    chosen = st.selectbox(label, ids, key=key, format_func=lambda i: version_label(by_id[i]))
    return by_id.get(chosen) if isinstance(chosen, int) else None


def kpi_cards(cards: list[KpiCard], key: str) -> None:
    """The KPI cards of a plan, in one row."""
    with st.container(key=key, horizontal=True):
        for card in cards:
            st.metric(card.label, card.value, help=card.help, border=True)


def results(board: data.Board, plan_id: int) -> None:
    """KPI cards, route map, unassigned jobs and the Gantt of a done plan.

    Their containers are keyed ``board-kpis-<id>``, ``board-map-<id>``,
    ``board-unassigned-<id>`` and ``board-gantt-<id>`` (CSS class ``st-key-...``)."""
    view = data.plan_view(board, plan_id)
    plan = view.plan
    served = len(plan.served_job_ids())
    st.subheader(f"Plan #{plan.id}" + (" (published)" if plan.published else ""))
    st.caption(f"{served} jobs served, {len(plan.unassigned or [])} unassigned; time limit {plan.time_limit_s:g} s.")
    kpi_cards(view.cards, f"board-kpis-{plan_id}")
    # theme=None: the specs carry their own colours (one per technician, one per bar kind).
    map_col, side_col = st.columns([3, 2])
    with map_col, st.container(key=f"board-map-{plan_id}"):
        st.vega_lite_chart(view.route_map, key=f"map-{plan_id}", theme=None)
        st.caption("Squares: homes (hollow: no route today). Numbers: stop order. Red crosses: unassigned jobs.")
    with side_col, st.container(key=f"board-unassigned-{plan_id}"):
        st.markdown(f"**Unassigned jobs ({len(view.unassigned)})**")
        if view.unassigned.empty:
            st.success("Every job of the day has a visit.")
        else:
            with st.container(height=560, border=False):
                st.table(view.unassigned[["job", "kind", "priority", "reason"]], hide_index=True)
    with st.container(key=f"board-gantt-{plan_id}"):
        st.markdown("**Timeline per technician**")
        st.vega_lite_chart(view.gantt, key=f"gantt-{plan_id}", theme=None)
    flags = view.timeline.flags
    if not flags.empty:
        with st.expander(f"Late or at-risk visits ({len(flags)})"):
            st.dataframe(flags[["technician_id", "job_id", "flag", "detail"]], hide_index=True)
