"""A task as Redis keeps it, and back: the record (what never changes but by a transition),
its lifecycles as the read script walks them, and the positions reached in them.

Numbers cross as text, repr() here and %.17g in Lua, so a float makes the round trip
unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..lifecycle import Lifecycle, Phase, Position, Step
from ..scenario import EMPTY, Scenario
from ..task import Subtask, Task


def encode_lifecycle(lifecycle: Lifecycle | None) -> str:
    """`duration|polls` per step, `,` between steps; empty for none."""
    if lifecycle is None:
        return ""
    return ",".join(
        f"{_number(None if s.duration is None else float(s.duration))}|{_number(s.polls)}" for s in lifecycle.steps
    )


def encode_position(position: Position) -> str:
    return f"{position.index},{position.entered_at!r},{position.reads_at_entry}"


def decode_position(text: str) -> Position:
    index, entered_at, reads_at = text.split(",")
    return Position(int(index), float(entered_at), int(reads_at))


def lifecycles_of(task: Task) -> str:
    """The task's own lifecycle and each subtask's, `;` between them."""
    return ";".join([encode_lifecycle(task.lifecycle)] + [encode_lifecycle(s.lifecycle) for s in task.subtasks])


def positions_of(task: Task) -> str:
    own = encode_position(task.position) if task.lifecycle is not None else ""
    return ";".join([own] + [encode_position(s.position) for s in task.subtasks])


def record_of(task: Task) -> str:
    """What a replica needs to make `task` again: its scenario's name, birth, seed, fields,
    scope, subtask ids, and the one-step lifecycle of each part a transition forced."""
    scenario = task.scenario
    forced: list[Any] = [None if task.lifecycle is scenario.lifecycle or task.lifecycle is None else _forced(task.lifecycle)]
    forced += [
        None if sub.lifecycle is scenario.subtasks[sub.spec_index].lifecycle else _forced(sub.lifecycle)
        for sub in task.subtasks
    ]
    data: dict[str, Any] = {
        "s": scenario.name,
        "c": task.created_at,
        "seed": task.seed,
        "o": dict(task.overrides),
        "sc": dict(task.scope),
        "sub": [[sub.id, sub.spec_index] for sub in task.subtasks],
    }
    if any(f is not None for f in forced):
        data["f"] = forced
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def task_from(api: str, task_id: str, scenario: Scenario, record: bytes | str) -> Task:
    """The task a record describes, at its start (the read script gives its positions)."""
    data = json.loads(record)
    forced = data.get("f") or [None] * (1 + len(scenario.subtasks))
    lifecycle = scenario.lifecycle if forced[0] is None else _unforced(forced[0])
    start = Position(0, data["c"], 0)
    subtasks = tuple(
        Subtask(
            sub_id,
            index,
            scenario.subtasks[index].lifecycle if forced[n + 1] is None else _unforced(forced[n + 1]),
            start,
        )
        for n, (sub_id, index) in enumerate(data["sub"])
    )
    return Task(
        api, task_id, scenario, data["c"], data["seed"], lifecycle, start, _frozen(data["o"]), _frozen(data["sc"]), subtasks
    )


def scenario_name(record: bytes | str) -> str:
    return str(json.loads(record)["s"])


def _forced(lifecycle: Lifecycle) -> list[Any]:
    step = lifecycle.steps[0]
    return [step.phase.value, dict(step.fields)]


def _unforced(data: list[Any]) -> Lifecycle:
    return Lifecycle((Step(Phase(data[0]), fields=MappingProxyType(dict(data[1]))),))


def _number(value: float | None) -> str:
    return "" if value is None else repr(value)


def _frozen(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(data)) if data else EMPTY
