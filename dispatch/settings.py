"""Service settings, read once from the environment (see README, "Settings")."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Everything the service needs to start; ``from_env`` documents the variables."""

    database_url: str = "sqlite:///dispatch.db"
    admin_token: str | None = None
    timezone: str = "Europe/Helsinki"
    default_region: str = "helsinki"
    geocoder_url: str = "https://nominatim.openstreetmap.org"
    geocoder_user_agent: str = "furniture-dispatch"
    geocoder_timeout_s: float = 5.0
    solver_workers: int = 1
    max_time_limit_s: float = 600.0
    seed_samples: bool = True
    sample_day: Path = field(
        default_factory=lambda: Path(__file__).resolve().parents[1] / "data" / "samples" / "helsinki-day.json"
    )

    @classmethod
    def from_env(cls) -> Settings:
        """``DATABASE_URL``, ``DISPATCH_ADMIN_TOKEN``, ``DISPATCH_TIMEZONE``,
        ``GEOCODER_URL``, ``SOLVER_WORKERS``, ``DISPATCH_SEED_SAMPLES`` (1/0)."""
        env = os.environ
        return cls(
            database_url=env.get("DATABASE_URL", cls.database_url),
            admin_token=env.get("DISPATCH_ADMIN_TOKEN") or None,
            timezone=env.get("DISPATCH_TIMEZONE", cls.timezone),
            geocoder_url=env.get("GEOCODER_URL", cls.geocoder_url),
            solver_workers=int(env.get("SOLVER_WORKERS", cls.solver_workers)),
            seed_samples=env.get("DISPATCH_SEED_SAMPLES", "1") != "0",
        )
