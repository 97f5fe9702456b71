"""What callers hand the services: validated input models shared by the API
(request bodies) and the CSV import. Table rows are built from these, never
the other way round."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
SkillCode = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


def clock_minutes(text: str) -> int:
    """``HH:MM`` as minutes since midnight."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LatLon(Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class BreakIn(Strict):
    earliest: str = Field(description="HH:MM local time")
    latest: str = Field(description="HH:MM local time")
    duration_min: int = Field(ge=0, le=240)

    @field_validator("earliest", "latest")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not CLOCK.match(value):
            raise ValueError("expected HH:MM")
        return value

    @model_validator(mode="after")
    def _order(self) -> BreakIn:
        if clock_minutes(self.latest) < clock_minutes(self.earliest):
            raise ValueError("break.latest is before break.earliest")
        return self


class ShiftIn(Strict):
    date: dt.date
    start: str = Field(description="HH:MM local time")
    end: str = Field(description="HH:MM local time")
    break_: BreakIn | None = Field(default=None, alias="break")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not CLOCK.match(value):
            raise ValueError("expected HH:MM")
        return value

    @model_validator(mode="after")
    def _order(self) -> ShiftIn:
        if clock_minutes(self.end) <= clock_minutes(self.start):
            raise ValueError("shift end must be after its start")
        return self


class CostIn(Strict):
    per_hour: float = Field(default=0.0, ge=0, description="euros per hour")
    per_km: float = Field(default=0.0, ge=0, description="euros per km")
    per_job: float = Field(default=0.0, ge=0, description="euros per visit")
    overtime_per_hour: float = Field(default=0.0, ge=0, description="euros per overtime hour, on top of per_hour")


class TechnicianIn(Strict):
    """A technician with their shifts (PUT replaces the whole technician)."""

    name: str = Field(default="", max_length=200)
    kind: Literal["employee", "partner"] = "employee"
    region: str | None = Field(default=None, max_length=64)
    home: LatLon
    end: LatLon | None = None
    skills: dict[SkillCode, Annotated[int, Field(ge=0, le=10)]] = Field(default_factory=dict)
    shifts: list[ShiftIn] = Field(default_factory=list, max_length=400)
    max_jobs: int | None = Field(default=None, ge=0, le=100)
    max_overtime_min: int = Field(default=0, ge=0, le=600)
    cost: CostIn = Field(default_factory=CostIn)

    @field_validator("shifts")
    @classmethod
    def _one_shift_a_day(cls, value: list[ShiftIn]) -> list[ShiftIn]:
        dates = [s.date for s in value]
        if len(set(dates)) != len(dates):
            raise ValueError("two shifts on one date")
        return value


class WindowIn(Strict):
    start: dt.datetime
    end: dt.datetime

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-12-01T09:00:00+02:00")
        return value

    @model_validator(mode="after")
    def _order(self) -> WindowIn:
        if self.end < self.start:
            raise ValueError("window ends before it starts")
        return self


class CustomerIn(Strict):
    name: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=40)


class JobIn(Strict):
    """A job (PUT creates or replaces it). ``location`` may be left out when
    ``address`` is given: the address is then geocoded."""

    kind: Literal["measure", "install", "repair"] = "install"
    region: str | None = Field(default=None, max_length=64)
    date: dt.date | None = Field(default=None, description="plan date; defaults to the first window's date")
    location: LatLon | None = None
    address: str = Field(default="", max_length=300)
    customer: CustomerIn = Field(default_factory=CustomerIn)
    duration_min: int = Field(gt=0, le=24 * 60)
    skills: dict[SkillCode, Annotated[int, Field(ge=0, le=10)]] = Field(default_factory=dict)
    crew_size: Literal[1, 2] = 1
    windows: list[WindowIn] = Field(default_factory=list, max_length=20)
    preferred_window: WindowIn | None = None
    soft_penalty_per_min: float = Field(default=0.0, ge=0)
    release_at: dt.datetime | None = None
    deadline: dt.datetime | None = None
    priority: Literal[1, 2, 3] = 3
    pinned_technician_id: Id | None = None
    preferred_technician_id: Id | None = None
    depends_on: Id | None = None
    notes: str = Field(default="", max_length=2000)

    @field_validator("release_at", "deadline")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-12-01T09:00:00+02:00")
        return value

    @model_validator(mode="after")
    def _where_and_when(self) -> JobIn:
        if self.location is None and not self.address:
            raise ValueError("give a location or an address")
        if self.date is None and not self.windows and self.release_at is None and self.deadline is None:
            raise ValueError("give a date, a window, a release_at or a deadline")
        if self.release_at and self.deadline and self.deadline < self.release_at:
            raise ValueError("deadline is before release_at")
        return self
