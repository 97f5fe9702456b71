"""Each benchmark command refuses what it cannot run with a usage line that says what
to give, never a traceback (run as a user runs them: a process of its own)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["bench.solomon", "--data", "/nonexistent"], "--data /nonexistent: give a folder holding solomon/vrp/"),
        (["bench.trsp", "--data", "/nonexistent"], "--data /nonexistent: give a folder shaped like pillac2013"),
        (["bench.dynamic", "--data", "/nonexistent"], "--data /nonexistent: no txt/ folder there"),
        (["bench.sample_day", "--day", "/nonexistent.json"], "--day: /nonexistent.json: file not found"),
        (["bench.by_hand", "--days", "big"], "--days: size 'big' is not TECHNICIANSxJOBS"),
        (["bench.by_hand", "--days", "/nonexistent.json"], "--days: no day file /nonexistent.json"),
        (["bench.disrupted", "--days", "big"], "a day file (*.json) or sample"),
        (["bench.horizon", "--sizes", "0x0"], "--sizes: '0x0' is not PEOPLExJOBS"),
        (["bench.sample_day", "--time-limits", "-1"], "--time-limits: '-1': give a positive number of seconds"),
        (["bench.solomon", "--time-limit", "0"], "--time-limit: '0': give a positive number of seconds"),
        (["bench.workers", "--time-limit", "soon"], "--time-limit: 'soon' is not a number of seconds"),
        (["bench.scale", "--sizes", "big"], "--sizes: size 'big' is not TECHNICIANSxJOBS"),
        (["bench.scale", "--areas", "nowhere"], "--areas: 'nowhere' is not a whole number from 1 up, or auto"),
    ],
)
def test_a_benchmark_given_what_it_cannot_run_says_what_to_give_without_a_traceback(
    command: list[str], said: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2, done.stderr
    assert said in done.stderr
    assert "Traceback" not in done.stderr
