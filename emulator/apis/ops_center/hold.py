"""`x-waitTime` on a real clock: a request held until its query is over or the wait ends.

The real server keeps a query or getStatus request open up to `x-waitTime` seconds for the
query to finish, then answers with what it has. On a real clock the emulator does the
same, without holding up any other request: a held request sleeps (asyncio) until the time
its task's current step ends, looks again, and so on, until the task is over or the wait
has passed. Nothing runs while it sleeps: no timer scans tasks, no loop spins. A step that
ends only after so many status reads cannot be waited past; the request sleeps to the end
of its wait. The wait is in the emulator's seconds, like every time a scenario gives, so a
clock running N times faster holds a request 1/N as long in real time.

A request held on a query that is aborted meanwhile (through any replica: the abort is told
to every one) is woken by `wake(task_id)` and answers the abort. Every held request is let
go at once by `release_all()`, which the server calls when it stops: a long wait never holds
up a shutdown. A held request also ends, like any coroutine, when its asyncio task is
cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...task import Task, TaskView


def step_ends_at(view: TaskView) -> float | None:
    """When the step `view` saw ends by time alone (None: only by reads, or never)."""
    step = view.step
    if step is None or step.duration is None:
        return None
    return view.entered_at + step.duration


class Holder:
    """The requests one API holds on one server."""

    def __init__(self, time_scale: float) -> None:
        self.time_scale = time_scale
        # The sleeping requests, by the id of the task each waits on.
        self._sleepers: dict[str, set[asyncio.Future[None]]] = {}
        self._released = False

    @property
    def holding(self) -> int:
        """How many requests are held right now."""
        return sum(map(len, self._sleepers.values()))

    async def until_over(
        self, look: Callable[[Task], Awaitable[TaskView]], task: Task, view: TaskView, wait: float
    ) -> TaskView:
        """`task` as seen when it is over or `wait` seconds after `view` was taken, whichever
        comes first (at once when it is over already, or the server is stopping). Looking
        again is not a status read: the request was counted once, when it came in."""
        deadline = view.observed_at + wait
        while not view.phase.is_terminal and not self._released:
            ends_at = step_ends_at(view)
            wake_at = deadline if ends_at is None else min(ends_at, deadline)
            delay = wake_at - view.observed_at
            if delay > 0:
                await self._sleep(task.id, delay / self.time_scale)
            view = await look(task)
            if view.observed_at >= deadline:
                break
        return view

    def wake(self, task_id: str) -> None:
        """Let the requests held on task `task_id` look again now: it was moved (aborted)."""
        for sleeper in self._sleepers.get(task_id, ()):
            _wake(sleeper)

    def release_all(self) -> None:
        """End every hold now and every later one at once: the server is stopping."""
        self._released = True
        for sleepers in self._sleepers.values():
            for sleeper in sleepers:
                _wake(sleeper)

    async def _sleep(self, task_id: str, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        sleeper: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(seconds, _wake, sleeper)
        sleepers = self._sleepers.setdefault(task_id, set())
        sleepers.add(sleeper)
        try:
            await sleeper
        finally:
            timer.cancel()
            sleepers.discard(sleeper)
            if not sleepers:
                self._sleepers.pop(task_id, None)


def _wake(sleeper: asyncio.Future[None]) -> None:
    if not sleeper.done():
        sleeper.set_result(None)
