"""Lifecycles: the scripted steps a task goes through, and where a task stands in them.

Everything here is pure. Where a task stands is computed when it is observed, from where it
stood when last observed, the clock and its count of status reads. Nothing runs between
observations, so idle tasks cost memory and nothing else, and moving a virtual clock by an
hour moves every task through every step that hour covers.

A step ends after `duration` seconds, after `polls` status reads, or whichever comes first.
The last step never ends.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import shown


class Phase(str, enum.Enum):
    """The generic phases every API maps onto its own vocabulary."""

    SCHEDULED = "scheduled"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (Phase.SUCCEEDED, Phase.FAILED)

    @classmethod
    def parse(cls, value: str) -> Phase:
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(p.value for p in cls)
            raise ValueError(f"unknown phase {shown(value)}: use one of {names}") from None


@dataclass(frozen=True, slots=True)
class Step:
    """One stretch of a lifecycle. `fields` are what the API renders during it (message …)."""

    phase: Phase
    duration: float | None = None
    polls: int | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ends(self) -> bool:
        return self.duration is not None or self.polls is not None


@dataclass(frozen=True, slots=True)
class Lifecycle:
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        problems = lifecycle_problems(self.steps)
        if problems:
            raise ValueError("; ".join(message for _, message in problems))

    @property
    def final(self) -> Step:
        return self.steps[-1]

    def index_of(self, phase: Phase) -> int:
        for index, step in enumerate(self.steps):
            if step.phase is phase:
                return index
        phases = ", ".join(dict.fromkeys(step.phase.value for step in self.steps))
        raise ValueError(f"this lifecycle has no {phase.value!r} step (it has: {phases})")


def lifecycle_problems(steps: tuple[Step, ...]) -> list[tuple[int | None, str]]:
    """What is wrong with a list of steps, as (step index or None, message) pairs."""
    if not steps:
        return [(None, "a lifecycle needs at least one step")]
    problems: list[tuple[int | None, str]] = []
    last = len(steps) - 1
    for index, step in enumerate(steps):
        if index < last:
            if step.phase.is_terminal:
                problems.append(
                    (index, f"'{step.phase.value}' is terminal, so it can only be the last step")
                )
            elif not step.ends:
                problems.append(
                    (index, "this step never ends: give it 'for' (a duration), 'polls', or both")
                )
        elif step.ends:
            problems.append(
                (index, "the last step lasts for ever: remove its 'for' and 'polls'")
            )
        if step.duration is not None and not (0 <= step.duration < math.inf):
            problems.append((index, f"'for' must be a finite duration >= 0, not {step.duration}"))
        if step.polls is not None and step.polls < 1:
            problems.append((index, f"'polls' must be at least 1, not {step.polls}"))
    return problems


@dataclass(frozen=True, slots=True)
class Position:
    """Where a task stands: the step, when it began, and the read count when it began."""

    index: int
    entered_at: float
    reads_at_entry: int


def start(at: float, reads: int = 0, index: int = 0) -> Position:
    return Position(index, at, reads)


def advance(lifecycle: Lifecycle, position: Position, now: float, reads: int) -> Position:
    """Move `position` through every step that has ended by time `now` after `reads` reads.

    Callers advance before counting a read (so a read sees the step it falls into) and again
    after counting it (so a step used up by polls ends at the moment of its last read). A
    step ended by time is left at its deadline, so the next step's time starts then, however
    late the task is observed.
    """
    steps = lifecycle.steps
    index, entered_at, reads_at_entry = position.index, position.entered_at, position.reads_at_entry
    last = len(steps) - 1
    while index < last:
        step = steps[index]
        ends_at = math.inf if step.duration is None else entered_at + step.duration
        if step.polls is not None and reads - reads_at_entry >= step.polls:
            # Used up by reads; the latest of them happened no later than now.
            ends_at = min(ends_at, now)
        if ends_at > now:
            break
        index, entered_at, reads_at_entry = index + 1, ends_at, reads
    if index == position.index:
        return position
    return Position(index, entered_at, reads_at_entry)


def format_duration(seconds: float) -> str:
    """`seconds` as a person writes a duration: 7200 -> `2h`, 90 -> `1m30s`, 0.5 -> `500ms`
    (what `parse_duration` reads back to the same number)."""
    if seconds < 1 and seconds != 0:
        return f"{seconds * 1000:g}ms"
    parts = []
    rest = seconds
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        whole = int(rest // size)
        if whole:
            parts.append(f"{whole}{unit}")
            rest -= whole * size
    if rest or not parts:
        parts.append(f"{round(rest, 6):g}s")
    return "".join(parts)


def parse_duration(value: str | float) -> float:
    """Seconds in `30`, `30s`, `1.5m`, `2h`, `1h30m`, `500ms` (a bare number is seconds)."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        seconds = _parse_duration_text(value)
    if not (0 <= seconds < math.inf):
        raise ValueError(f"a duration must be finite and >= 0, not {value!r}")
    return seconds


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _parse_duration_text(text: str) -> float:
    compact = text.strip().replace(" ", "")
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        if re.fullmatch(r"\d+(?:\.\d+)?", compact):
            return float(compact)
        raise ValueError(
            f"not a duration: {text!r} (write e.g. 30s, 1.5m, 2h, 1h30m, 500ms or a number of seconds)"
        )
    return sum(float(number) * _UNITS[unit] for number, unit in parts)
