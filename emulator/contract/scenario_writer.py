"""A recorded task as a scenario: the phases it went through in order, how long and how
many status reads each step lasted, what each step rendered, and the request that started it.

Each step but the last gets `polls` (the reads that showed it) and `for` (from the moment the
previous step ended to halfway between the last answer that showed it and the first that
showed the next), whichever comes first. Served back to a client that polls at the recorded
pace, the reads end every step exactly where they did; a slower client sees the time the
real provider took. A step seen only in the trigger's own answer (no read showed it) ends
by time alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..lifecycle import format_duration
from .model import TERMINAL, Exchange, Observation
from .vendors import VendorContract

SHORTEST_STEP = 0.001  # seconds: a `for` of 0 would end a step before anyone saw it


@dataclass
class RecordedTask:
    """What the proxy saw of one task: its trigger (None for a task it only saw polled),
    when it began, where it lives, and every observation with the time it came."""

    id: str
    created: float
    trigger: Exchange | None = None
    scope: dict[str, str] = field(default_factory=dict)
    observations: list[tuple[float, Observation]] = field(default_factory=list)


@dataclass
class _Group:
    phase: str
    key: str
    fields: dict[str, Any]
    first: float
    last: float
    reads: int = 0
    last_read: float | None = None


def steps(
    contract: VendorContract,
    seen: Sequence[tuple[float, Observation]],
    created: float,
    *,
    timed: bool = True,
) -> list[dict[str, Any]]:
    """The lifecycle steps of one task (or subtask) from its observations, in time order.
    Not `timed`: steps seen by reads end by reads alone (a preloaded task, made when the
    server starts, has no trigger to count time from)."""
    groups: list[_Group] = []
    for at, observation in seen:
        fields = contract.step_fields(observation)
        key = observation.phase + json.dumps(fields, sort_keys=True, default=str)
        if groups and groups[-1].key == key:
            group = groups[-1]
            group.last = at
        elif groups and groups[-1].phase in TERMINAL:
            break  # a task never leaves an end; verify reports a provider that does
        else:
            group = _Group(observation.phase, key, fields, at, at)
            groups.append(group)
        if observation.read:
            group.reads += 1
            group.last_read = at
    written: list[dict[str, Any]] = []
    start = created
    for index, group in enumerate(groups):
        step: dict[str, Any] = {"phase": group.phase}
        if index < len(groups) - 1:
            duration = max(SHORTEST_STEP, (group.last + groups[index + 1].first) / 2 - start)
            if timed or not group.reads:
                step["for"] = format_duration(round(duration, 3))
            if group.reads:
                step["polls"] = group.reads
            # Where the next step's time counts from: the read that ended this one, at the
            # recorded pace, or the end of its time.
            start = group.last_read if group.last_read is not None else start + duration
        step.update(group.fields)
        written.append(step)
    return written


def scenario(contract: VendorContract, task: RecordedTask, name: str) -> dict[str, Any]:
    """The scenario document of a recorded task (what `task-emulator check` accepts)."""
    observations = [observation for _, observation in task.observations]
    timed = task.trigger is not None
    shown = _runs(observation.shown for observation in observations)
    document: dict[str, Any] = {
        "api": contract.api,
        "name": name,
        "description": f"Recorded from a real {contract.api} server: "
        f"{' -> '.join(shown) or 'no answer yet'}.",
    }
    trigger = contract.trigger_of(task.trigger) if task.trigger is not None else None
    if trigger is not None:
        method, path, when = trigger
        document["trigger"] = {"method": method, "path": path}
        if when:
            document["trigger"]["when"] = {key: glob_literal(value) for key, value in when.items()}
    fields = {
        key: placeholder_literal(value) for key, value in contract.task_fields(observations).items()
    }
    if fields:
        document["task"] = fields
    if task.observations:
        document["lifecycle"] = steps(contract, task.observations, task.created, timed=timed)
    else:  # a trigger whose task was never polled: it is known to exist, nothing more
        document["lifecycle"] = [{"phase": "running"}]
    subtasks = _subtasks(contract, task, timed)
    if subtasks:
        document["subtasks"] = subtasks
    results = contract.results(observations)
    if results:
        document["results"] = results
    if trigger is None:
        document["preload"] = [{"id": task.id, **({"scope": task.scope} if task.scope else {})}]
    return document


def _subtasks(contract: VendorContract, task: RecordedTask, timed: bool) -> list[dict[str, Any]]:
    by_id: dict[str, list[tuple[float, Observation]]] = {}
    for at, observation in task.observations:
        for sub in observation.subtasks:
            by_id.setdefault(sub.task, []).append((at, sub))
    found = []
    for seen in by_id.values():
        names = [o.fields["name"] for _, o in seen if isinstance(o.fields.get("name"), str)]
        found.append(
            {
                "name": names[-1] if names else "subtask",
                "lifecycle": steps(contract, seen, task.created, timed=timed),
            }
        )
    return found


def to_yaml(document: dict[str, Any]) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: a big result in a blink
    text: str = yaml.dump(
        document,
        Dumper=dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=None,
    )
    return (
        "# Recorded by task-emulator record. Edit freely; `task-emulator check` checks it.\n" + text
    )


def glob_literal(text: str) -> str:
    """`text` as a `when:` glob matching exactly itself (fnmatch's brackets quote)."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def placeholder_literal(value: Any) -> Any:
    """A task field as written, with `$` doubled so no `${…}` is read as a placeholder."""
    return value.replace("$", "$$") if isinstance(value, str) else value


def _runs(words: Iterable[str]) -> list[str]:
    runs: list[list[Any]] = []
    for word in words:
        if runs and runs[-1][0] == word:
            runs[-1][1] += 1
        else:
            runs.append([word, 1])
    return [f"{w} x{n}" if n > 1 else str(w) for w, n in runs]
