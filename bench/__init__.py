"""Benchmarks: one module per command (``python -m bench.NAME``), each printing a table."""

from __future__ import annotations

import argparse
import math


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
