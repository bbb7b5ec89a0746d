"""DataArts Factory system tasks as the service writes them: ids, bodies, statuses. Pure.

Task ids are Hibernate "uuid.hex" ids: the server's IP address, the JVM's start time, the
creation time in milliseconds and a counter, as 8+8+4+8+4 hex digits. The doc's ids decode
that way (`008aae2e 675d3bcb 0167 5d3c66f2 0000`: 0x01675d3c66f2 ms is 0.1 s before that
task's startTime, and the counter runs on across the examples).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from ...lifecycle import Phase
from ...randomness import faker_for
from ...task import SubtaskView, TaskView

STATUS_BY_PHASE = {
    Phase.SCHEDULED: "RUNNING",
    Phase.RUNNING: "RUNNING",
    Phase.SUCCEEDED: "SUCCESSFUL",
    Phase.FAILED: "FAILED",
}
COUNTER_SPAN = 0x8000  # Hibernate's counter is a Java short that restarts at 0


def millis(seconds: float) -> int:
    """Epoch milliseconds, as every DataArts time is written (13 digits)."""
    return round(seconds * 1000)


def server_prefix(seed: int | None) -> str:
    """The IP and JVM parts of this emulated server's ids: fixed by the seed."""
    source = random.Random(f"dataarts-ids-{seed}") if seed is not None else random.SystemRandom()
    return f"{source.getrandbits(32):08x}{source.getrandbits(32):08x}"


def hex_task_id(prefix: str, created_ms: int, serial: int) -> str:
    """The id for the `serial`-th id (from 0) of a server, made at `created_ms`. When the
    counter wraps, the time part moves on by 1 ms per wrap, so ids stay unique even when a
    frozen clock makes more than 32768 at one instant."""
    moment = created_ms + serial // COUNTER_SPAN
    counter = serial % COUNTER_SPAN
    return f"{prefix}{(moment >> 32) & 0xFFFF:04x}{moment & 0xFFFFFFFF:08x}{counter:04x}"


def default_obs_path(seed: int) -> str:
    """An OBS path for a task that names none, drawn from the task's own seed."""
    fake = faker_for(seed)
    return f"obs://{fake.word()}-{fake.word()}/{fake.file_name(extension='zip')}"


def task_name(view: TaskView) -> str:
    name = view.fields.get("name")
    if name:
        return str(name)
    path = view.fields.get("path") or default_obs_path(view.task.seed)
    return f"Import the job from {path}."


def _failed_first(subtasks: Sequence[SubtaskView]) -> SubtaskView | None:
    failed = [s for s in subtasks if s.phase is Phase.FAILED]
    return min(failed, key=lambda s: s.entered_at) if failed else None


def end_time(view: TaskView) -> float | None:
    """When the task became SUCCESSFUL or FAILED; None while it runs. A task whose phase
    comes from its subtasks ended when the first subtask failed, or when the last one
    succeeded."""
    if not view.phase.is_terminal:
        return None
    if view.step is not None:
        # A terminal step is the last of its lifecycle, so the position no longer moves.
        return view.task.position.entered_at
    if view.phase is Phase.FAILED:
        first = _failed_first(view.subtasks)
        return first.entered_at if first is not None else view.entered_at
    return max((s.entered_at for s in view.subtasks), default=view.entered_at)


def task_message(view: TaskView) -> str | None:
    """The task's message. A failed task says why: a task whose phase comes from its
    subtasks with the failing subtask's message; any failed task with its
    `failure_message` (which, unlike a step's message, may use ${body.path}) when no step
    gives one."""
    if view.phase is Phase.FAILED:
        if view.step is None:
            first = _failed_first(view.subtasks)
            if first is not None and first.fields.get("message"):
                return str(first.fields["message"])
        if not (view.step is not None and view.step.fields.get("message")):
            failure = view.fields.get("failure_message")
            if failure:
                return str(failure)
    return view.message


def subtask_body(
    sub: SubtaskView, sub_id: str, task_id: str, *, with_times: bool
) -> dict[str, Any]:
    """A SubTask; keys in the order the service writes them (alphabetical)."""
    body: dict[str, Any] = {}
    if with_times and sub.phase.is_terminal:
        body["endTime"] = millis(sub.entered_at)
    body["id"] = sub_id
    body["lastUpdate"] = millis(sub.entered_at)
    message = sub.fields.get("message")
    if message:
        body["message"] = str(message)
    body["name"] = sub.name
    if with_times:
        body["startTime"] = millis(sub.started_at)
    body["status"] = STATUS_BY_PHASE[sub.phase]
    body["taskId"] = task_id
    return body


def system_task_body(view: TaskView, options: Mapping[str, Any]) -> dict[str, Any]:
    """GET system-tasks/{task_id}. The doc's examples list keys alphabetically (as the
    service's JSON writer sorts them); endTime is left out until the task has ended."""
    ids: Sequence[str] = view.fields.get("subtask_ids") or ()
    body: dict[str, Any] = {}
    ended = end_time(view)
    if ended is not None:
        body["endTime"] = millis(ended)
    body["id"] = view.id
    body["lastUpdate"] = millis(view.entered_at)
    message = task_message(view)
    if message:
        body["message"] = message
    body["name"] = task_name(view)
    body["projectId"] = view.task.scope["project_id"]
    body["startTime"] = millis(view.created_at)
    body["status"] = STATUS_BY_PHASE[view.phase]
    with_times = bool(options.get("subtask_times", False))
    body["subtasks"] = [
        subtask_body(sub, ids[index] if index < len(ids) else sub.id, view.id, with_times=with_times)
        for index, sub in enumerate(view.subtasks)
    ]
    return body
