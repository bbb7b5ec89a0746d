"""What the control API answers with: a task, a scenario and the clock as JSON. Pure
functions of what they are given; their shapes are schemas/control/openapi.json's `task`,
`scenarios` and `clock`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .lifecycle import Lifecycle
from .scenario import Scenario
from .task import TaskView


def task_json(view: TaskView, status_path: str, origin: str) -> dict[str, Any]:
    """A task as it is seen now; `origin` (scheme and host) makes its status URL."""
    task = view.task
    return {
        "api": task.api,
        "id": task.id,
        "scenario": task.scenario.name,
        "phase": view.phase.value,
        "step": view.step_index,
        "changed_at": view.entered_at,
        "created_at": task.created_at,
        "reads": task.reads,
        # Where the current step began (time, read count) and whether a transition
        # replaced the scenario's lifecycle: what the dashboard's timeline is laid from.
        "step_entered_at": task.position.entered_at,
        "step_reads_at": task.position.reads_at_entry,
        "forced": task.lifecycle is not task.scenario.lifecycle,
        "fields": {key: view.fields[key] for key in view.fields},
        "scope": dict(task.scope),
        "status_path": status_path,
        "status_url": f"{origin}{status_path}",
        "subtasks": [
            {"id": sub.id, "name": sub.name, "phase": sub.phase.value, "changed_at": sub.entered_at}
            for sub in view.subtasks
        ],
    }


def scenario_json(scenario: Scenario) -> dict[str, Any]:
    trigger = scenario.trigger
    return {
        "api": scenario.api,
        "name": scenario.name,
        "description": scenario.description,
        "source": str(scenario.source),
        "lifecycle": scenario.summary(),
        "steps": steps_json(scenario.lifecycle),
        "subtasks": [{"name": sub.name, "steps": steps_json(sub.lifecycle)} for sub in scenario.subtasks],
        "trigger": None
        if trigger is None
        else {"method": trigger.method, "path": trigger.path, "when": dict(trigger.when)},
        "preload": [p.id for p in scenario.preload],
        "faults": [fault.to_json() for fault in scenario.faults],
    }


def steps_json(lifecycle: Lifecycle | None) -> list[dict[str, Any]]:
    """A lifecycle's steps as data: phase, `for` (seconds) and `polls`, None when unbounded."""
    if lifecycle is None:
        return []
    return [{"phase": s.phase.value, "for": s.duration, "polls": s.polls} for s in lifecycle.steps]


def clock_json(mode: str, now: float) -> dict[str, Any]:
    return {"mode": mode, "now": now, "iso": _iso(now)}


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat().replace("+00:00", "Z")
