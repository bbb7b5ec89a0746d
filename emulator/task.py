"""A task and what one observation of it sees: the records the engine keeps and the views
every response is rendered from. Plain data, no behaviour but bringing a task up to a time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import TaskRefused
from .lifecycle import Lifecycle, Phase, Position, Step, advance
from .scenario import Scenario


def over_limit(limit: int) -> TaskRefused:
    return TaskRefused(
        429,
        f"the server holds {limit:,} tasks, its task limit: reset it "
        "(POST /_emulator/reset) or start it with a higher --task-limit",
    )


class Subtask:
    __slots__ = ("id", "lifecycle", "position", "spec_index")

    def __init__(self, id: str, spec_index: int, lifecycle: Lifecycle, position: Position) -> None:
        self.id = id
        self.spec_index = spec_index
        self.lifecycle = lifecycle
        self.position = position


class Task:
    """One emulated task. Slotted and small: a million of them must fit in memory."""

    __slots__ = (
        "api",
        "created_at",
        "id",
        "lifecycle",
        "overrides",
        "position",
        "reads",
        "scenario",
        "scope",
        "seed",
        "subtasks",
    )

    def __init__(
        self,
        api: str,
        id: str,
        scenario: Scenario,
        created_at: float,
        seed: int,
        lifecycle: Lifecycle | None,
        position: Position,
        overrides: Mapping[str, Any],
        scope: Mapping[str, str],
        subtasks: tuple[Subtask, ...],
    ) -> None:
        self.api = api
        self.id = id
        self.scenario = scenario
        self.created_at = created_at
        self.seed = seed
        self.reads = 0
        # The scenario's lifecycle until a forced transition replaces it.
        self.lifecycle = lifecycle
        self.position = position
        self.overrides = overrides
        self.scope = scope
        self.subtasks = subtasks

    def state(self) -> tuple[object, ...]:
        """What this task's observable state is made of. Two observations with equal states
        (the same objects, mostly: positions are replaced, never changed) see the same
        phases, steps and fields, so what was rendered from one serves the other."""
        return (self.lifecycle, self.position, self.overrides, *[s.position for s in self.subtasks])

    def settle(self, now: float) -> None:
        """Bring every position up to `now` and the current read count."""
        if self.lifecycle is not None:
            self.position = advance(self.lifecycle, self.position, now, self.reads)
        for sub in self.subtasks:
            sub.position = advance(sub.lifecycle, sub.position, now, self.reads)


# Not frozen: a frozen dataclass pays a setattr call per field, and views are made per poll.
@dataclass(slots=True)
class SubtaskView:
    id: str
    name: str
    phase: Phase
    step: Step
    entered_at: float
    started_at: float
    fields: Mapping[str, Any]


@dataclass(slots=True)
class TaskView:
    """A task as one observation saw it: what every response is rendered from."""

    task: Task
    phase: Phase
    step: Step | None
    step_index: int | None
    entered_at: float  # when the task last changed (its step, or any subtask's)
    fields: Mapping[str, Any]
    subtasks: tuple[SubtaskView, ...]
    observed_at: float
    reads: int  # reads before this one
    state: tuple[object, ...]  # the task's state when seen (Task.state)

    @property
    def id(self) -> str:
        return self.task.id

    @property
    def created_at(self) -> float:
        return self.task.created_at

    @property
    def message(self) -> str | None:
        value = self.fields.get("message")
        return None if value is None else str(value)


def derived_phase(phases: list[Phase]) -> Phase:
    """A parent's phase from its subtasks': failed as soon as one failed, succeeded when all
    succeeded, scheduled while none has started, running otherwise."""
    if any(p is Phase.FAILED for p in phases):
        return Phase.FAILED
    if phases and all(p is Phase.SUCCEEDED for p in phases):
        return Phase.SUCCEEDED
    if all(p is Phase.SCHEDULED for p in phases):
        return Phase.SCHEDULED
    return Phase.RUNNING
