"""What a vendor handler tells the server about the request it answered, kept on the
request: the task it concerned and a schema violation for the journal, and a status read's
view of its task for fault rules scoped to a task or a step. The base helpers of
`emulator.apis.base` set them; the server's journal and fault wrapper read them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .task import TaskView

JOURNAL_TASK = web.RequestKey("task_emulator_task", str)
JOURNAL_VIOLATION = web.RequestKey("task_emulator_violation", str)
OBSERVED: web.RequestKey[TaskView] = web.RequestKey("task_emulator_observed")
