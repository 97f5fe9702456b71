"""Benchmarks: one module per command (``python -m bench.NAME``), each printing a table."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Iterable


def seconds(text: str) -> float:
    """An argparse type for a time limit: a positive number of seconds, or a usage
    error saying so (a limit of 0 or less would plan nothing, or be refused deep inside)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive number of seconds")
    return value


def family(name: str) -> str:
    """An instance's family, from its name: C101 → C1, RC208 → RC2, R1_2_1 → R1,
    C101.100_25-5-5-5 → C1; a name of another shape is its own family."""
    base = name.split(".")[0]
    found = re.match(r"[A-Za-z]+\d?", base)
    return found.group(0) if found else base


def families(names: Iterable[str]) -> list[str]:
    """The families of these instances, each once, in name order (C1, C2, R1, R2, RC1,
    RC2): a table groups by the families a run has, whatever the data folder holds."""
    return sorted({family(n) for n in names})
