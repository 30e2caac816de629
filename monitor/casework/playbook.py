"""The crisis playbook: deadlines per level, reminders, the escalation chain, the rotation.

Validated once when loaded; an incident keeps a snapshot of it (`Playbook.model_dump`),
so editing the file changes the incidents opened afterwards, never one already running.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitor.settings import LEVELS, LevelName, ZoneName, load_yaml_model

DEFAULT_PLAYBOOK = Path(__file__).with_name("playbook.yaml")
DEADLINES = ("response", "statement", "solution")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday"]
WEEKDAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Deadlines(_Frozen):
    response_minutes: int = Field(30, ge=1, description="First response (acknowledged).")
    statement_minutes: int = Field(120, ge=1, description="Public statement published.")
    solution_minutes: int = Field(1440, ge=1, description="Solution delivered (resolved).")

    def minutes(self, deadline: str) -> int:
        return int(getattr(self, f"{deadline}_minutes"))

    @model_validator(mode="after")
    def _ordered(self) -> Deadlines:
        if not self.response_minutes <= self.statement_minutes <= self.solution_minutes:
            raise ValueError("deadlines must not shrink: response <= statement <= solution")
        return self


class Reminders(_Frozen):
    at_fraction: tuple[float, ...] = Field((0.5,), description="Of the time allowed.")
    minutes_before: tuple[int, ...] = Field((5,), description="Before the deadline.")

    @field_validator("at_fraction")
    @classmethod
    def _fractions(cls, values: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < value < 1 for value in values):
            raise ValueError("fractions must lie between 0 and 1")
        return values


class Person(_Frozen):
    name: str = Field(min_length=1)
    phone: str = ""
    email: str = ""


class Tier(_Frozen):
    name: str = Field(min_length=1, description="The role, as alerts show it.")
    on_call: bool = Field(False, description="The person on duty in the rotation.")
    people: tuple[Person, ...] = ()

    @model_validator(mode="after")
    def _someone(self) -> Tier:
        if not self.on_call and not self.people:
            raise ValueError(f"tier {self.name!r} needs people or on_call: true")
        return self


class Shift(_Frozen):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    who: Person
    days: tuple[Day, ...] = Field(min_length=1)
    start: time = Field(alias="from")
    end: time = Field(alias="to")

    def covers(self, day: Day, previous_day: Day, moment: time) -> bool:
        """Does the shift cover `moment` on `day`? A shift past midnight started on the
        previous day."""
        if self.start < self.end:
            return day in self.days and self.start <= moment < self.end
        return (day in self.days and moment >= self.start) or (
            previous_day in self.days and moment < self.end
        )


class Rotation(_Frozen):
    timezone: ZoneName = "Asia/Shanghai"
    holidays: tuple[date, ...] = ()
    shifts: tuple[Shift, ...] = Field(min_length=1)

    def on_duty(self, at: datetime) -> Person | None:
        """The person whose shift covers `at`; the first listed wins an overlap."""
        local = at.astimezone(ZoneInfo(self.timezone))
        day, previous = self._day(local.date()), self._day(local.date() - timedelta(days=1))
        for shift in self.shifts:
            if shift.covers(day, previous, local.time()):
                return shift.who
        return None

    def _day(self, moment: date) -> Day:
        return "holiday" if moment in self.holidays else WEEKDAYS[moment.weekday()]


class Playbook(_Frozen):
    levels: dict[LevelName, Deadlines] = Field(
        default_factory=lambda: {level: Deadlines() for level in LEVELS}
    )
    reminders: Reminders = Reminders()
    ack_minutes: int = Field(15, ge=1, description="Wait this long, then page the next tier.")
    chain: tuple[Tier, ...] = Field(min_length=1)
    rotation: Rotation

    @model_validator(mode="after")
    def _complete(self) -> Playbook:
        missing = set(LEVELS) - set(self.levels)
        if missing:
            raise ValueError(f"deadlines missing for level(s): {', '.join(sorted(missing))}")
        return self

    def tier_people(self, tier: int, at: datetime) -> tuple[Person, ...]:
        """Who is paged at `tier` (clamped to the top of the chain) at time `at`."""
        chosen = self.chain[min(tier, len(self.chain) - 1)]
        if chosen.on_call:
            person = self.rotation.on_duty(at)
            return (person,) if person else chosen.people
        return chosen.people


def load_playbook(path: str = "") -> Playbook:
    return load_yaml_model(Path(path) if path else DEFAULT_PLAYBOOK, Playbook, "playbook")
