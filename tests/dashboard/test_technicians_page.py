"""The Technicians page: skills, shifts and breaks, employee or partner."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import DAY, signed_in

TECHNICIANS = "views/technicians.py"


def all_technicians(at: AppTest) -> pd.DataFrame:
    frame: pd.DataFrame = next(d.value for d in at.dataframe if "per_job_eur" in d.value.columns)
    return frame


def test_the_page_lists_everyone_with_skills_shift_and_break(board: Callable[..., AppTest]) -> None:
    at = signed_in(board()).switch_page(TECHNICIANS).run()
    assert not at.exception
    table = all_technicians(at)
    assert len(table) == 70
    t01 = table[table["id"] == "T01"].iloc[0]
    assert (t01["kind"], t01["skills"], t01["shift"]) == (
        "employee",
        "kitchen 2, plumbing 2, worktop_stone 1",
        "08:00–17:00",
    )
    assert t01["break"] == "30 min in 11:00–13:00"


def test_partners_and_skills_filter_the_list(board: Callable[..., AppTest]) -> None:
    at = signed_in(board()).switch_page(TECHNICIANS).run()
    at.multiselect(key="tech_kind").set_value(["partner"]).run()
    partners = all_technicians(at)
    assert len(partners) == 22 and set(partners["kind"]) == {"partner"}
    at.multiselect(key="tech_skill").set_value(["glass"]).run()
    glaziers = all_technicians(at)
    assert len(glaziers) > 0 and glaziers["skills"].str.contains("glass").all()
    assert set(glaziers["kind"]) == {"partner"}


@pytest.mark.clock
def test_one_technician_s_shifts_are_listed_with_their_break(board: Callable[..., AppTest]) -> None:
    at = signed_in(board()).switch_page(TECHNICIANS).run()
    at.selectbox(key="tech_detail").set_value("T02").run()
    shifts = next(d.value for d in at.dataframe if "break_min" in d.value.columns)
    records = shifts.to_dict("records")
    assert records[0] == {
        "date": DAY,
        "start": "07:00",
        "end": "16:00",
        "break_earliest": "11:00",
        "break_latest": "13:00",
        "break_min": 30,
    }
    # The seeded shift again on the working days of the two weeks after the sample day.
    assert len(records) == 11 and all({**r, "date": DAY} == records[0] for r in records)
