"""Tasks, their status reads and the clock kept in Redis, so that replicas act as one.

The engine still makes tasks and computes what a read sees; Redis holds each task's record,
its positions and read count, the id sequences and the clock. A status read is one script
(`shared_lua.READ`): counted and moved on atomically, whichever replica answered. Each
replica keeps the tasks it has seen, keyed by their record, so a poll of a task it knows is
one round trip; a task gone from Redis (a reset elsewhere) is looked up again (`TaskGone`).

redis-py's asyncio client is imported only when a Redis store is asked for: the memory
store needs nothing new.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from .clock import ClockMode, _check_step
from .engine import Subtask, Task, TaskView
from .errors import Conflict
from .lifecycle import Lifecycle, Phase, Position, Step
from .scenario import EMPTY, Scenario
from .shared_lua import ADVANCE, NOW, READ, SETUP, WRITE

if TYPE_CHECKING:
    from .engine import Engine

PREFIX = "task-emulator"
# Every Redis call gives up after this long: a lost Redis is an answer, not a hang.
TIMEOUT = 2.0
ID_ATTEMPTS = 32


class StoreUnavailable(Exception):
    """Redis could not be reached (or stopped answering): what a vendor answers 503 for."""


class TaskGone(Exception):
    """A task this replica knew is no longer in the store (reset by another replica)."""


class SharedClock:
    """The shared clock as last seen in Redis, read between round trips from the local wall
    clock (replicas on one machine, or with synchronised clocks, agree)."""

    def __init__(self, mode: ClockMode) -> None:
        self.mode: ClockMode = mode
        self._base = time.time()
        self._offset = 0.0
        self._scale = 1.0

    def update(self, fields: list[Any]) -> None:
        mode, base, offset, scale = (_text(f) for f in fields)
        self.mode = "virtual" if mode == "virtual" else "real"
        self._base, self._offset, self._scale = float(base), float(offset), float(scale)

    def now(self) -> float:
        if self.mode == "virtual":
            return self._base + self._offset
        if self._scale == 1.0:
            return time.time() + self._offset
        return self._base + (time.time() - self._base) * self._scale + self._offset

    def advance(self, seconds: float) -> float:
        raise RuntimeError("the shared clock moves through SharedStore.advance_clock")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def encode_lifecycle(lifecycle: Lifecycle | None) -> str:
    if lifecycle is None:
        return ""
    return ",".join(
        f"{_opt(None if s.duration is None else float(s.duration))}|{_opt(s.polls)}"
        for s in lifecycle.steps
    )


def _opt(value: float | int | None) -> str:
    return "" if value is None else repr(value)


def encode_position(position: Position) -> str:
    return f"{position.index},{position.entered_at!r},{position.reads_at_entry}"


def decode_position(text: str) -> Position:
    index, entered_at, reads_at = text.split(",")
    return Position(int(index), float(entered_at), int(reads_at))


def forced_json(lifecycle: Lifecycle) -> list[Any]:
    step = lifecycle.steps[0]
    return [step.phase.value, dict(step.fields)]


def forced_lifecycle(data: list[Any]) -> Lifecycle:
    return Lifecycle((Step(Phase(data[0]), fields=MappingProxyType(dict(data[1]))),))


class SharedStore:
    """The Redis store of one replica: `engine` computes, Redis remembers."""

    def __init__(self, url: str, engine: Engine, *, prefix: str = PREFIX) -> None:
        import redis.asyncio as aioredis  # the optional extra: only a Redis store needs it

        self.url = url
        self.engine = engine
        self.prefix = prefix
        self.redis = aioredis.Redis.from_url(
            url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, health_check_interval=5
        )
        self._read = self.redis.register_script(READ)
        self._write = self.redis.register_script(WRITE)
        self._setup = self.redis.register_script(SETUP)
        self._advance = self.redis.register_script(ADVANCE)
        self._now = self.redis.register_script(NOW)
        self._errors: tuple[type[BaseException], ...] = (
            aioredis.ConnectionError,
            aioredis.TimeoutError,
            OSError,
        )
        self._response_error: type[Exception] = aioredis.ResponseError
        # The tasks this replica has seen: (api, id) -> (record, task).
        self._known: dict[tuple[str, str], tuple[bytes, Task]] = {}
        self.clock = SharedClock(engine.clock.mode)
        self._clock_args = self._local_clock_args()

    def _local_clock_args(self) -> list[str]:
        """The clock this replica would make (mode, start, scale), from the engine's own."""
        clock = self.engine.clock
        start = getattr(clock, "_now", None) if clock.mode == "virtual" else None
        scale = float(getattr(clock, "_scale", 1.0))
        return [clock.mode, "" if start is None else repr(float(start)), repr(scale)]

    async def _call(self, call: Callable[[], Awaitable[Any]], *, again: bool = True) -> Any:
        try:
            return await call()
        except self._errors as error:
            raise StoreUnavailable(
                f"Redis at {self.redacted_url} is unavailable: {error}"
            ) from None
        except self._response_error as error:
            if not again or "NOCLOCK" not in str(error):
                raise
        await self.start()  # Redis came back empty: clock and preloads made again
        return await self._call(call, again=False)

    @property
    def redacted_url(self) -> str:
        """The store's address without any password in it."""
        scheme, sep, rest = self.url.partition("://")
        return f"{scheme}{sep}{rest.rpartition('@')[2]}"

    # ---- set-up, reset and health ------------------------------------------------------

    async def start(self, *, replace: bool = False) -> None:
        """The clock made (kept if another replica made it, unless `replace`), and the
        preloaded tasks written where absent. The engine's clock becomes the shared one."""
        mode, start, scale = self._clock_args
        args = [self.prefix, mode, start, scale, "1" if replace else "0", *self.engine.apis]
        self.clock.update(await self._call(lambda: self._setup(args=args), again=False))
        self.engine.clock = self.clock
        self._known.clear()
        if not any(True for _ in self.engine.tasks()):
            self.engine.load_preloads()
        for api in self.engine.apis:
            for task in list(self.engine.tasks(api)):
                await self._insert(task, explicit=False, replace=False)
            self.engine._tasks[api].clear()

    async def reset(self) -> None:
        """Every replica's tasks, reads, sequences and clock back to the start at once."""
        self.engine.reset()  # the random sequence restarted, preloads made locally …
        self._clock_args = self._local_clock_args()  # … and a fresh clock: its start and scale
        await self.start(replace=True)

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except self._errors:
            return False

    async def count(self) -> int:
        async def lengths() -> int:
            pipe = self.redis.pipeline(transaction=False)
            for api in self.engine.apis:
                pipe.hlen(f"{self.prefix}:rec:{api}")
            return sum(await pipe.execute())

        return cast(int, await self._call(lengths))

    async def close(self) -> None:
        await self.redis.aclose()

    # ---- the clock -----------------------------------------------------------------------

    async def now(self) -> float:
        result = await self._call(lambda: self._now(args=[self.prefix]))
        self.clock.update(result[1:])
        return float(result[0])

    async def advance_clock(self, seconds: float) -> float:
        _check_step(seconds, await self.now())
        result = await self._call(lambda: self._advance(args=[self.prefix, repr(float(seconds))]))
        self.clock.update(result[1:])
        return float(result[0])

    # ---- tasks ---------------------------------------------------------------------------

    async def find(self, api: str, task_id: str) -> Task | None:
        """A task this replica knows costs nothing here (the read checks it still exists);
        another is read, uncounted, from Redis."""
        known = self._known.get((api, task_id))
        if known is not None:
            return known[1]
        return await self._fetch(api, task_id)

    async def _fetch(self, api: str, task_id: str) -> Task | None:
        try:
            return (await self._run_read(api, task_id, count=False)).task
        except TaskGone:
            return None

    async def read(self, task: Task, *, count: bool) -> TaskView:
        """A status read: counted (when `count`) and the task moved on, in one round trip."""
        return await self._run_read(task.api, task.id, count=count)

    async def _run_read(self, api: str, task_id: str, *, count: bool) -> TaskView:
        args = [self.prefix, api, task_id, "1" if count else "0"]
        result = await self._call(lambda: self._read(args=args))
        if result is None:
            self._known.pop((api, task_id), None)
            raise TaskGone(task_id)
        record, seen, reads, now = result[0], _text(result[1]), int(result[2]), float(result[3])
        self.clock.update(result[4:8])
        task = self._task(api, task_id, record)
        positions = seen.split(";")
        if task.lifecycle is not None:
            task.position = decode_position(positions[0])
        for sub, text in zip(task.subtasks, positions[1:]):
            sub.position = decode_position(text)
        task.reads = reads
        return self.engine._view(task, now)

    def _task(self, api: str, task_id: str, record: bytes) -> Task:
        known = self._known.get((api, task_id))
        if known is not None and known[0] == record:
            return known[1]
        data = json.loads(record)
        scenario = self.engine.scenario(api, data["s"])
        forced = data.get("f") or [None] * (1 + len(scenario.subtasks))
        lifecycle = scenario.lifecycle if forced[0] is None else forced_lifecycle(forced[0])
        subtasks = tuple(
            Subtask(
                sub_id,
                index,
                scenario.subtasks[index].lifecycle
                if forced[n + 1] is None
                else forced_lifecycle(forced[n + 1]),
                Position(0, data["c"], 0),
            )
            for n, (sub_id, index) in enumerate(data["sub"])
        )
        task = Task(
            api,
            task_id,
            scenario,
            data["c"],
            data["seed"],
            lifecycle,
            Position(0, data["c"], 0),
            _frozen(data["o"]),
            _frozen(data["sc"]),
            subtasks,
        )
        self._known[(api, task_id)] = (record, task)
        return task

    async def create(self, scenario: Scenario, **create: Any) -> Task:
        """A new task in Redis: its id drawn as the engine draws it, a taken one (made by
        another replica) drawn again; an id asked for and taken is a Conflict."""
        engine = self.engine
        api = scenario.api
        explicit = create.get("task_id") is not None
        for _ in range(ID_ATTEMPTS):
            serial = await self._call(lambda: self.redis.incr(f"{self.prefix}:seq:{api}"))
            await self.now()  # the clock as of now, for the task's birth
            engine._serials[api] = int(serial) - 1
            task = engine.create_task(scenario, **create)
            engine._tasks[api].pop(task.id, None)
            if await self._insert(task, explicit=explicit, replace=False):
                return task
            if explicit:
                raise Conflict(f"a {api} task with id {task.id!r} already exists")
        raise Conflict(f"no free {api} task id after {ID_ATTEMPTS} draws")

    async def transition(self, task: Task, phase: Phase, message: str | None) -> TaskView:
        """Force a task into `phase` (see Engine.transition), written back for every replica."""
        await self.read(task, count=False)
        fresh = self._known[(task.api, task.id)][1]
        view = self.engine.transition(fresh, phase, message)
        await self._insert(fresh, explicit=True, replace=True)
        return view

    async def _insert(self, task: Task, *, explicit: bool, replace: bool) -> bool:
        scenario = task.scenario
        forced: list[Any] = [
            None
            if task.lifecycle is scenario.lifecycle or task.lifecycle is None
            else forced_json(task.lifecycle)
        ]
        forced += [
            None
            if sub.lifecycle is scenario.subtasks[sub.spec_index].lifecycle
            else forced_json(sub.lifecycle)
            for sub in task.subtasks
        ]
        data = {
            "s": scenario.name,
            "c": task.created_at,
            "seed": task.seed,
            "o": dict(task.overrides),
            "sc": dict(task.scope),
            "sub": [[sub.id, sub.spec_index] for sub in task.subtasks],
        }
        if any(f is not None for f in forced):
            data["f"] = forced
        record = json.dumps(data, separators=(",", ":"), sort_keys=True)
        lifecycles = ";".join(
            [encode_lifecycle(task.lifecycle)]
            + [encode_lifecycle(s.lifecycle) for s in task.subtasks]
        )
        positions = ";".join(
            [encode_position(task.position) if task.lifecycle is not None else ""]
            + [encode_position(s.position) for s in task.subtasks]
        )
        args = [
            self.prefix,
            task.api,
            task.id,
            record,
            lifecycles,
            positions,
            "1" if replace else "0",
        ]
        written = await self._call(lambda: self._write(args=args))
        if written:
            self._known[(task.api, task.id)] = (record.encode(), task)
        return bool(written)

    async def tasks(self, api: str) -> list[TaskView]:
        """Every task of `api` as it stands (uncounted): one read each."""
        ids = await self._call(lambda: self.redis.hkeys(f"{self.prefix}:rec:{api}"))
        views = []
        for raw in sorted(ids, key=_text):
            try:
                views.append(await self._run_read(api, _text(raw), count=False))
            except TaskGone:
                continue
        return views


def _frozen(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(data)) if data else EMPTY
