"""Which engine a benchmark ran: the commit and any uncommitted change under solver/."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def engine_version() -> str:
    """``"engine 1a2b3c4"``, with the solver files that differ from that commit, or ``"engine ?"`` outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "diff", "--name-only", "HEAD", "--", "solver"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return "engine ?"
    return f"engine {head}" + (f" + uncommitted {', '.join(dirty)}" if dirty else "")
