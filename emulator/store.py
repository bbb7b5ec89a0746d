"""Where the server's tasks, read counts, clock and id sequences live: one interface, two homes.

`MemoryStore` keeps them in this process (the default: the engine's own dictionaries, no
round trip, nothing new to install). A shared store (`emulator.redis_store`) keeps them in
Redis, so that replicas act as one server. Everything that reads or moves a task goes
through a `TaskStore`, and every call is awaited, because a shared store answers over the
network; the memory store answers at once and costs an `await` (a tenth of a percent of a
status poll).

The engine still does the work of both: it makes tasks and computes what a read sees. A
store only decides where a task is kept and that a read is counted once.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .engine import Engine
    from .journal import Journal
    from .keyring import KeyState
    from .lifecycle import Phase
    from .scenario import Scenario
    from .task import Task, TaskView


# What a server does on an event every replica must act on (see TaskStore.broadcast).
EventHandler = Callable[[str, str], Awaitable[None]]
# The event a server hears when it may have missed others (cut off from a shared store and
# back): whatever it keeps a copy of is read again.
RESYNC = "resync"


class StoreUnavailable(Exception):
    """The store could not be reached or stopped answering: vendors answer their own 503,
    the control API and health say so. Not an EmulatorError: nobody's input was wrong."""


class SharedRules(Protocol):
    """Fault rules kept where every replica reads them, and their `times` counted there."""

    async def add(self, rule: dict[str, Any], limit: int) -> str | None:
        """Keep `rule` (the control API's JSON) after the others: its id, None at `limit`."""
        ...

    async def remove(self, fault_id: str, declared: list[str]) -> bool:
        """Drop a run-time rule, or one of the scenario-declared `declared`."""
        ...

    async def clear(self) -> None: ...

    async def reset(self) -> None: ...

    async def rules(self) -> tuple[list[tuple[str, dict[str, Any]]], set[str] | None]:
        """The run-time rules in order (id, JSON), and the declared ids in force (None: all)."""
        ...

    async def applied(self) -> dict[str, int]: ...

    async def claim(self, fault_id: str, times: int) -> bool:
        """One application of a rule with `times` counted; False when none is left."""
        ...


class SharedLog(Protocol):
    """A journal every replica sends its requests to (see redis_store/journal.py)."""

    def follow(self, local: Journal) -> None:
        """Send what `local` records to the shared journal."""
        ...

    async def send(self) -> None:
        """What was recorded here and not sent yet, sent now."""
        ...

    async def entries(self, api: str | None, task: str | None, after: int, limit: int | None) -> list[dict[str, Any]]:
        ...

    async def clear(self) -> None: ...

    def forget_local(self) -> None:
        """What was recorded here so far is not to be sent (the journal was cleared)."""
        ...


class SharedKeys(Protocol):
    """The keyrings' root and states kept where every replica reads them (see
    emulator/keyring.py and redis_store/keys.py)."""

    async def load(self, root: bytes, states: Mapping[str, KeyState]) -> tuple[bytes, dict[str, KeyState]]:
        """The root and the states every replica uses. `root` and `states` (this replica's
        own) are kept first where there are none: the first replica's, or after the shared
        store came back empty."""
        ...

    async def move(
        self, apis: list[str], *, forget: bool, now: float, root: bytes, states: Mapping[str, KeyState]
    ) -> None:
        """The rings of `apis` moved on (expired at `now`, or forgotten) where every replica
        reads them; `root` and `states` as for `load`."""
        ...


class TaskStore(Protocol):
    """What the vendor routes, the control API and the test handle keep their tasks in."""

    engine: Engine
    @property
    def shared_faults(self) -> SharedRules | None:
        """Fault rules shared by replicas (None: each server keeps its own, in its FaultSet)."""
        ...

    @property
    def shared_journal(self) -> SharedLog | None:
        """The journal of every replica (None: each server shows its own requests)."""
        ...

    @property
    def shared_keys(self) -> SharedKeys | None:
        """The keys credentials are signed with, shared by replicas (None: this server's own)."""
        ...

    @property
    def name(self) -> str:
        """`memory`, or the shared store's address without its password."""
        ...

    async def find(self, api: str, task_id: str) -> Task | None:
        """The task, or None. Only a lookup: nothing is counted or moved."""
        ...

    async def get(self, api: str, task_id: str) -> Task:
        """The task, or NotFound naming it."""
        ...

    async def read(self, task: Task, *, count: bool) -> TaskView:
        """The task as of now: a client's status read when `count` (counted, and the task
        moved on, atomically), a look otherwise."""
        ...

    async def create(self, scenario: Scenario, **create: Any) -> Task:
        """A new task (Engine.create_task's keywords): Conflict for an id already taken,
        TaskRefused at the task limit."""
        ...

    async def transition(
        self, task: Task, phase: Phase, message: str | None = None, fields: Mapping[str, Any] | None = None
    ) -> TaskView:
        """`task` forced into `phase` from now on (see Engine.transition)."""
        ...

    async def page(
        self, api: str | None, *, scenario: str | None, phase: Phase | None, offset: int, limit: int
    ) -> tuple[list[TaskView], int | None]:
        """A page of the tasks (of `api`, of `scenario`, in `phase`) as they stand, uncounted,
        in the order they were made: `limit` of them after skipping `offset` matching ones,
        and the offset of the next page (None: this is the last)."""
        ...

    async def count(self) -> int: ...

    async def note(self, key: str) -> str | None:
        """What a vendor noted under `key` (a name of its own, from a fixed set: the task
        that holds a one-at-a-time slot, say), as every replica sees it; a reset forgets it."""
        ...

    async def set_note(self, key: str, value: str) -> None: ...

    async def now(self) -> float:
        """Now on the emulator clock every replica shares."""
        ...

    async def advance_clock(self, seconds: float) -> float: ...

    async def reset(self) -> None:
        """Back to the scenarios' preloaded tasks, a fresh clock and the sequences restarted."""
        ...

    async def problem(self) -> str | None:
        """Why the store cannot be used now (health's answer), or None."""
        ...

    def listen(self, handler: EventHandler) -> None:
        """`handler(event, detail)` runs on this server for every `broadcast`, whichever
        replica sent it (this one included), and for `resync` when events may have been
        missed (a replica cut off from the store and back)."""
        ...

    async def broadcast(self, event: str, detail: str = "") -> None:
        """Every replica's handler run for `event`; returns when each has acted on it."""
        ...

    async def open(self) -> None:
        """The server starts: connections and listeners that live as long as it, with the
        listener's first `resync` run (what every replica shares read) before it serves."""
        ...

    async def close(self) -> None: ...


class MemoryStore:
    """The tasks in this process: the engine's own. Every call answers at once."""

    name = "memory"
    shared_faults = None
    shared_journal = None
    shared_keys = None

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._handler: EventHandler | None = None
        self._notes: dict[str, str] = {}

    async def find(self, api: str, task_id: str) -> Task | None:
        return self.engine.find(api, task_id)

    async def get(self, api: str, task_id: str) -> Task:
        return self.engine.get(api, task_id)

    async def read(self, task: Task, *, count: bool) -> TaskView:
        return self.engine.observe(task, count_read=count)

    async def create(self, scenario: Scenario, **create: Any) -> Task:
        return self.engine.create_task(scenario, **create)

    async def transition(
        self, task: Task, phase: Phase, message: str | None = None, fields: Mapping[str, Any] | None = None
    ) -> TaskView:
        return self.engine.transition(task, phase, message, fields)

    async def page(
        self, api: str | None, *, scenario: str | None, phase: Phase | None, offset: int, limit: int
    ) -> tuple[list[TaskView], int | None]:
        return page_of(self.engine.tasks(api), self.engine.observe, scenario, phase, offset, limit)

    async def count(self) -> int:
        return self.engine.count()

    async def note(self, key: str) -> str | None:
        return self._notes.get(key)

    async def set_note(self, key: str, value: str) -> None:
        self._notes[key] = value

    async def now(self) -> float:
        return self.engine.now()

    async def advance_clock(self, seconds: float) -> float:
        return self.engine.advance_clock(seconds)

    async def reset(self) -> None:
        self.engine.reset()
        self._notes.clear()

    async def problem(self) -> str | None:
        return None

    def listen(self, handler: EventHandler) -> None:
        self._handler = handler

    async def broadcast(self, event: str, detail: str = "") -> None:
        if self._handler is not None:
            await self._handler(event, detail)

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None


class Page:
    """A page of task views, offered in the order the tasks were made: those of `phase`
    (None: any), `offset` of them skipped, then `limit` kept; `next_offset` is set once one
    more was offered past them (then `offer` says stop)."""

    def __init__(self, phase: Phase | None, offset: int, limit: int) -> None:
        self.phase = phase
        self.offset = offset
        self.limit = limit
        self.skip = offset
        self.found: list[TaskView] = []
        self.next_offset: int | None = None

    def offer(self, view: TaskView) -> bool:
        """Take `view` if it belongs on the page; True when the page is complete."""
        if self.phase is not None and view.phase is not self.phase:
            return False
        if self.skip:
            self.skip -= 1
        elif len(self.found) == self.limit:  # one past the page: there is a next one
            self.next_offset = self.offset + self.limit
            return True
        else:
            self.found.append(view)
        return False


def page_of(
    tasks: Iterable[Task],
    observe: Callable[..., TaskView],
    scenario: str | None,
    phase: Phase | None,
    offset: int,
    limit: int,
) -> tuple[list[TaskView], int | None]:
    """A page of `tasks` (see TaskStore.page). Without a phase filter the skipped tasks are
    not even looked at, so a late page of a million tasks is cheap; a phase is known only by
    looking."""
    if scenario is not None:
        tasks = (task for task in tasks if task.scenario.name == scenario)
    page = Page(phase, offset, limit)
    if phase is None:
        tasks, page.skip = itertools.islice(tasks, offset, None), 0
    for task in tasks:
        if page.offer(observe(task, count_read=False)):
            break
    return page.found, page.next_offset
