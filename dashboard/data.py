"""What the pages read, fetched through the client and cached by Streamlit.

The client is a ``st.cache_resource`` (one connection pool per API and token);
answers and the frames and figures built from them are ``st.cache_data`` with
a time to live, cleared at once after the board changes something.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.client import BoardError, DispatchClient
from dashboard.diff import PlanDiff, compare
from dashboard.frames import unassigned_frame
from dashboard.kpis import KpiCard, kpi_cards
from dashboard.models import Job, Plan, Technician, WorkingDay
from dashboard.timeline import Timeline, build_timeline
from dashboard.week import WeekDay, day_plan

DEFAULT_API_URL = "http://127.0.0.1:8000"


def api_url() -> str:
    """``DISPATCH_API_URL``, default ``http://127.0.0.1:8000``."""
    return os.environ.get("DISPATCH_API_URL", "").strip() or DEFAULT_API_URL


@dataclass(frozen=True)
class Board:
    """Who is asking (API and token) and about what (day and region)."""

    base_url: str
    token: str
    day: dt.date
    region: str | None

    @property
    def client(self) -> DispatchClient:
        return get_client(self.base_url, self.token)


@st.cache_resource(max_entries=16, show_spinner=False)
def get_client(base_url: str, token: str) -> DispatchClient:
    """One client per API and token, shared by every session."""
    return DispatchClient(base_url, token)


@st.cache_data(ttl=60, show_spinner=False, max_entries=64)
def today(base_url: str, token: str) -> dt.date:
    """Today's date in the dispatch time zone, as the API counts it."""
    return get_client(base_url, token).clock().today


@st.cache_data(ttl=3600, show_spinner=False, max_entries=64)
def timezone(base_url: str, token: str) -> str:
    """The dispatch time zone's IANA name, as the API counts dates."""
    return get_client(base_url, token).clock().timezone


@st.cache_data(ttl=60, show_spinner=False, max_entries=64)
def technicians(base_url: str, token: str, region: str | None = None) -> list[Technician]:
    return get_client(base_url, token).technicians(region)


@st.cache_data(ttl=60, show_spinner=False, max_entries=64)
def working_time(
    base_url: str, token: str, date_from: dt.date, date_to: dt.date, region: str | None
) -> list[WorkingDay]:
    return get_client(base_url, token).working_time(date_from, date_to, region)


def working_on(board: Board) -> dict[str, WorkingDay]:
    """Who works on the board's day (explicit shift or weekly template, less absences), by technician id."""
    days = working_time(board.base_url, board.token, board.day, board.day, board.region)
    return {d.technician_id: d for d in days}


@st.cache_data(ttl=30, show_spinner=False, max_entries=64)
def jobs(base_url: str, token: str, day: dt.date, region: str | None) -> list[Job]:
    return get_client(base_url, token).jobs(day, region)


@st.cache_data(ttl=5, show_spinner=False, max_entries=64)
def plans(base_url: str, token: str, day: dt.date, region: str | None) -> list[Plan]:
    return get_client(base_url, token).plans(day, region)


@st.cache_data(ttl=3600, show_spinner=False, max_entries=64)
def _finished_plan(base_url: str, token: str, plan_id: int) -> Plan:
    plan = get_client(base_url, token).plan(plan_id)
    if not plan.finished:
        raise BoardError(f"Plan {plan_id} is still {plan.status}.", "problem")
    return plan


def finished_plan(board: Board, plan_id: int) -> Plan:
    """A done, failed or cancelled version: its routes never change again, so it is cached
    long (until ``forget_plans``: publishing changes its ``published``)."""
    return _finished_plan(board.base_url, board.token, plan_id)


@dataclass(frozen=True)
class PlanView:
    """Everything the results section shows of one done plan."""

    plan: Plan
    cards: list[KpiCard]
    route_map: charts.Spec
    timeline: Timeline
    gantt: charts.Spec
    unassigned: pd.DataFrame


@st.cache_data(ttl=300, show_spinner=False, max_entries=32)
def _plan_view(base_url: str, token: str, plan_id: int) -> PlanView:
    plan = _finished_plan(base_url, token, plan_id)
    client = get_client(base_url, token)
    # Read afresh (not the cached lists): the plan may hold jobs added since.
    day_jobs = client.jobs(plan.date, plan.region)
    techs = client.technicians(plan.region)
    timeline = build_timeline(plan, day_jobs, techs)
    return PlanView(
        plan=plan,
        cards=kpi_cards(plan.kpis or {}),
        route_map=charts.route_map(plan, day_jobs, techs),
        timeline=timeline,
        gantt=charts.gantt(timeline),
        unassigned=unassigned_frame(plan, day_jobs),
    )


def plan_view(board: Board, plan_id: int) -> PlanView:
    """The map, Gantt, KPI cards and unassigned table of a done plan."""
    return _plan_view(board.base_url, board.token, plan_id)


@st.cache_data(ttl=300, show_spinner=False, max_entries=32)
def _plan_diff(base_url: str, token: str, before_id: int, after_id: int) -> PlanDiff:
    return compare(_finished_plan(base_url, token, before_id), _finished_plan(base_url, token, after_id))


def plan_diff(board: Board, before_id: int, after_id: int) -> PlanDiff:
    """Jobs moved, starts shifted and KPI deltas from one version to another."""
    return _plan_diff(board.base_url, board.token, before_id, after_id)


def week(board: Board, dates: list[dt.date]) -> list[WeekDay]:
    """Each of ``dates`` with its jobs, its plan (published, else newest done; read in
    full) and who works, from the API's per-day reads."""
    working = working_time(board.base_url, board.token, dates[0], dates[-1], board.region)
    out = []
    for day in dates:
        chosen = day_plan(plans(board.base_url, board.token, day, board.region))
        out.append(
            WeekDay(
                date=day,
                jobs=jobs(board.base_url, board.token, day, board.region),
                plan=finished_plan(board, chosen.id) if chosen is not None else None,
                working={w.technician_id: w for w in working if w.date == day},
            )
        )
    return out


def forget_technicians() -> None:
    """After the board changed a technician: read technicians and working time again."""
    technicians.clear()
    working_time.clear()
    _plan_view.clear()


def forget_jobs() -> None:
    """After the board changed jobs: read them (and anything drawn from them) again."""
    jobs.clear()
    _plan_view.clear()


def forget_plans() -> None:
    """After a plan run or a publish: list the versions again, and read finished ones
    again too (their routes never change, but whether they are published does)."""
    plans.clear()
    _plan_view.clear()
    _finished_plan.clear()
