"""The re-plan's stability settings and the booking settings, read from the environment (euros, minutes, shares)."""

from __future__ import annotations

import pytest

from dispatch.settings import Settings
from solver.replan import Stability


def test_the_stability_settings_default_to_the_engines_and_are_read_in_euros(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REPLAN_MOVE_EUR", "REPLAN_MINUTE_EUR", "REPLAN_TOLERANCE_MIN", "REPLAN_TOLD_EUR"):
        monkeypatch.delenv(name, raising=False)
    assert Settings.from_env().stability == Stability()
    monkeypatch.setenv("REPLAN_MOVE_EUR", "40")
    monkeypatch.setenv("REPLAN_MINUTE_EUR", "0.75")
    monkeypatch.setenv("REPLAN_TOLERANCE_MIN", "10")
    monkeypatch.setenv("REPLAN_TOLD_EUR", "0")
    assert Settings.from_env().stability == Stability(move_cents=4000, per_min_cents=75, tolerance_min=10, told_cents=0)


def test_a_bad_cost_per_customer_told_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("-5", "fifteen"):
        monkeypatch.setenv("REPLAN_TOLD_EUR", bad)
        with pytest.raises(ValueError, match="REPLAN_TOLD_EUR"):
            Settings.from_env()


def test_the_repair_standard_is_read_in_minutes_and_nought_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOOKING_URGENT_DUE_MIN", raising=False)
    assert Settings.from_env().booking.urgent_deadline_min == 240
    monkeypatch.setenv("BOOKING_URGENT_DUE_MIN", "120")
    assert Settings.from_env().booking.urgent_deadline_min == 120
    for bad in ("0", "two hours"):
        monkeypatch.setenv("BOOKING_URGENT_DUE_MIN", bad)
        with pytest.raises(ValueError, match="BOOKING_URGENT_DUE_MIN"):
            Settings.from_env()


def test_the_booking_settings_are_read_and_a_bad_one_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOKING_LEAD_MIN", "90")
    monkeypatch.setenv("BOOKING_URGENT_RESERVE", "0.2")
    booking = Settings.from_env().booking
    assert (booking.lead_min, booking.urgent_reserve_share) == (90, 0.2)
    for name, bad in (("BOOKING_LEAD_MIN", "two"), ("BOOKING_LEAD_MIN", "-30"), ("BOOKING_URGENT_RESERVE", "1.5")):
        monkeypatch.setenv("BOOKING_LEAD_MIN", "90")
        monkeypatch.setenv("BOOKING_URGENT_RESERVE", "0.2")
        monkeypatch.setenv(name, bad)
        with pytest.raises(ValueError, match=name):
            Settings.from_env()
