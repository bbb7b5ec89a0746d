"""Tasks, their status reads, the clock and the id sequences kept in Redis, so that replicas
act as one server (a `TaskStore`; see emulator/store.py).

The engine still makes tasks and computes what a read sees; Redis holds each task's record,
its positions and read count, the id sequences, the draws of randomness and the clock. A
status read is one script (`lua.READ`): counted and moved on atomically, whichever replica
answered. Each replica keeps the tasks it has seen, keyed by their record, so a poll of one
of them is one round trip; a task gone from Redis (a reset elsewhere) is a task not found.

redis-py's asyncio client is imported only when a Redis store is asked for: the memory
store needs nothing new.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..clock import ClockMode, _check_step
from ..config import without_password
from ..engine import Engine
from ..errors import Conflict, NotFound, TaskGone, shown
from ..randomness import RandomSource
from ..store import EventHandler, Page, StoreUnavailable
from ..task import Task, TaskView, over_limit
from . import lua
from .events import Replicas
from .faults import SharedFaults
from .journal import SharedJournal
from .keys import SharedKeyrings
from .records import (
    decode_position,
    lifecycles_of,
    positions_of,
    record_of,
    scenario_name,
    task_from,
)
from .replies import text

if TYPE_CHECKING:
    from ..lifecycle import Phase
    from ..scenario import Scenario

log = logging.getLogger("task_emulator.store")

PREFIX = "task-emulator"
# Every Redis call gives up after this long: a lost Redis is an answer, not a hang.
TIMEOUT = 2.0
# Ids drawn again when another replica took the one drawn; an id asked for is not.
ID_ATTEMPTS = 32
# The tasks a replica remembers having seen (their records and lifecycles, decoded once).
KNOWN_LIMIT = 100_000
# Ids fetched at a time when a listing walks the tasks of an API.
PAGE_IDS = 500


class SharedClock:
    """The shared clock as last seen in Redis, carried on by this machine's wall clock until
    the next round trip (a virtual one stands still): what the journal's times are read
    from, without a round trip per request. Every read of a task gets the clock from Redis."""

    def __init__(self, mode: ClockMode, now: float) -> None:
        self.mode: ClockMode = mode
        self._seen = now
        self._seen_at = time.time()
        self._scale = 1.0

    def update(self, now: float, fields: list[Any]) -> None:
        mode = text(fields[0])
        self.mode = "virtual" if mode == "virtual" else "real"
        self._scale = float(text(fields[3]))
        self._seen, self._seen_at = now, time.time()

    def now(self) -> float:
        if self.mode == "virtual":
            return self._seen
        return self._seen + (time.time() - self._seen_at) * self._scale

    def advance(self, seconds: float) -> float:
        raise RuntimeError("the shared clock moves through RedisStore.advance_clock")


class DrawnIds:
    """What a task made on a shared store draws its id and seed from (an `IdSource`): the
    API's sequence number and a draw number handed out by Redis, so that no two replicas
    draw the same, and a seeded run replays its ids."""

    def __init__(self, seed_base: int, serials: range, draw: int, now: float) -> None:
        digest = hashlib.sha256(f"{seed_base}:{draw}".encode()).digest()
        self.random = RandomSource(int.from_bytes(digest[:8], "big"))
        # What names the server in its ids (DataArts' prefix) is the store's seed, shared by
        # every replica; the draws of this task come from its own.
        self.random.seed = seed_base
        self._serials = iter(serials)
        self._now = now

    def now(self) -> float:
        return self._now

    def next_serial(self, api: str) -> int:
        return next(self._serials)

    def taken(self, api: str, task_id: str) -> bool:
        return False  # the write refuses a taken id, and the id is drawn again


class RedisStore:
    """One replica's view of the tasks every replica shares: `engine` computes, Redis keeps."""

    def __init__(self, url: str, engine: Engine, *, time_scale: float = 1.0, prefix: str = PREFIX) -> None:
        import redis.asyncio as aioredis  # the optional extra: only a Redis store needs it

        self.url = url
        self.engine = engine
        self.time_scale = time_scale  # the clock's, as this replica was started
        self.prefix = prefix
        self.redis = aioredis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        self._read = self.redis.register_script(lua.READ)
        self._write = self.redis.register_script(lua.WRITE)
        self._setup = self.redis.register_script(lua.SETUP)
        self._ids = self.redis.register_script(lua.IDS)
        self._advance = self.redis.register_script(lua.ADVANCE)
        self._now = self.redis.register_script(lua.NOW)
        self._unavailable: tuple[type[BaseException], ...] = (aioredis.ConnectionError, aioredis.TimeoutError, OSError)
        self._response_error: type[Exception] = aioredis.ResponseError
        # The tasks this replica has seen: (api, id) -> (record, task), oldest first.
        self._known: OrderedDict[tuple[str, str], tuple[bytes, Task]] = OrderedDict()
        # The engine's own clock says how this replica was started (mode, start, scale); the
        # engine reads the shared one from now on.
        self._own_clock = engine.clock
        self.clock = SharedClock(engine.clock.mode, engine.clock.now())
        engine.clock = self.clock
        # Every replica draws from one base: the configured seed, or one the first replica drew.
        self._seed_base = engine.random.seed if engine.random.seed is not None else secrets.randbits(63)
        self._started = False
        self.replicas = Replicas(self.redis, prefix, self._unavailable)
        self.shared_faults = SharedFaults(self.redis, prefix, self._call)
        self.shared_journal = SharedJournal(self.redis, prefix, self._call)
        self.shared_keys = SharedKeyrings(self.redis, prefix, self._call)

    @property
    def name(self) -> str:
        """The store's address without any password in it."""
        return without_password(self.url)

    async def _call(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """`call`'s answer; StoreUnavailable when Redis cannot be reached. After Redis was
        away (it may come back empty) or is found without its clock (restarted, flushed),
        the store is set up again first: a server goes on without a restart."""
        for attempt in (1, 2):
            try:
                if not self._started:
                    await self.start()
                return await call()
            except self._unavailable as error:
                self._started = False
                raise StoreUnavailable(f"the store at {self.name} is unavailable: {type(error).__name__}") from None
            except self._response_error as error:
                if "NOCLOCK" not in str(error) or attempt == 2:
                    raise
                self._started = False
        raise AssertionError("unreachable")

    # ---- set-up, reset and health ------------------------------------------------------

    async def start(self, *, replace: bool = False) -> None:
        """The shared clock made (kept if another replica made it, unless `replace`), and the
        scenarios' preloaded tasks written where absent."""
        clock = self._own_clock
        start = repr(clock.now()) if clock.mode == "virtual" else ""
        scale = repr(float(self.time_scale))
        args = [self.prefix, clock.mode, start, scale, "1" if replace else "0", str(self._seed_base), *self.engine.apis]
        result = await self._setup(args=args)
        self.clock.update(float(result[0]), result[1:5])
        self._seed_base = int(result[5])
        self._known.clear()
        self._started = True
        for scenario in self.engine.catalog.scenarios.values():
            for preload in scenario.preload:
                ids = DrawnIds(self._seed_base, range(1, 1 + len(scenario.subtasks) + 1), 0, self.clock.now())
                task = self.engine.build_task(
                    scenario, ids, task_id=preload.id, fields=preload.fields, scope=preload.scope,
                    created_at=preload.created_at, at=preload.at,
                )
                await self._insert(task, replace=False)

    async def reset(self) -> None:
        """Every replica's tasks, reads, sequences and clock back to the start at once."""
        self._own_clock = self.engine.new_clock()  # its start and scale, as this replica was started
        await self._call(lambda: self.start(replace=True))

    async def problem(self) -> str | None:
        try:
            await self._call(self.redis.ping)
        except StoreUnavailable as error:
            return str(error)
        return None

    async def count(self) -> int:
        return int(await self._call(lambda: self.redis.get(f"{self.prefix}:count")) or 0)

    async def note(self, key: str) -> str | None:
        value = await self._call(lambda: self.redis.hget(f"{self.prefix}:notes", key))
        return None if value is None else text(value)

    async def set_note(self, key: str, value: str) -> None:
        await self._call(lambda: self.redis.hset(f"{self.prefix}:notes", key, value))

    def listen(self, handler: EventHandler) -> None:
        self.replicas.listen(handler)

    async def broadcast(self, event: str, detail: str = "") -> None:
        await self._call(lambda: self.replicas.broadcast(event, detail))

    async def open(self) -> None:
        await self.replicas.open()
        await self.shared_journal.open()

    async def close(self) -> None:
        """Every connection closed, each step bounded: a server's clean-up must end even when
        Redis stopped answering mid-way."""
        await self.shared_journal.close()
        await self.replicas.close()
        try:
            await asyncio.wait_for(self.redis.aclose(), TIMEOUT)
        except TimeoutError:
            log.warning("the connections to the store at %s were not closed in %g s", self.name, TIMEOUT)
        except self._unavailable:
            pass  # Redis is away: nothing left to say goodbye to

    # ---- the clock -----------------------------------------------------------------------

    async def now(self) -> float:
        result = await self._call(lambda: self._now(args=[self.prefix]))
        now = float(result[0])
        self.clock.update(now, result[1:])
        return now

    async def advance_clock(self, seconds: float) -> float:
        _check_step(seconds, await self.now())
        result = await self._call(lambda: self._advance(args=[self.prefix, repr(float(seconds))]))
        now = float(result[0])
        self.clock.update(now, result[1:])
        return now

    # ---- tasks ---------------------------------------------------------------------------

    async def find(self, api: str, task_id: str) -> Task | None:
        """A task this replica knows costs nothing here (its read checks it still exists);
        another is looked up, uncounted."""
        known = self._known.get((api, task_id))
        if known is not None:
            return known[1]
        view = await self._run_read(api, task_id, count=False)
        return None if view is None else view.task

    async def get(self, api: str, task_id: str) -> Task:
        """The task as it stands now (looked up, uncounted: its reads and positions fresh)."""
        view = await self._run_read(api, task_id, count=False)
        if view is None:
            raise NotFound(f"no {api} task with id {shown(task_id)}")
        return view.task

    async def read(self, task: Task, *, count: bool) -> TaskView:
        view = await self._run_read(task.api, task.id, count=count)
        if view is None:  # forgotten here too: a second find looks it up
            raise TaskGone(f"no {task.api} task with id {shown(task.id)}")
        return view

    async def _run_read(self, api: str, task_id: str, *, count: bool) -> TaskView | None:
        args = [self.prefix, api, task_id, "1" if count else "0"]
        result = await self._call(lambda: self._read(args=args))
        if result is None:
            self._known.pop((api, task_id), None)
            return None
        record, seen, reads, now = result[0], text(result[1]), int(result[2]), float(result[3])
        self.clock.update(now, result[4:8])
        task = self._task(api, task_id, record)
        positions = seen.split(";")
        if task.lifecycle is not None:
            task.position = decode_position(positions[0])
        for sub, encoded in zip(task.subtasks, positions[1:]):
            sub.position = decode_position(encoded)
        task.reads = reads
        return self.engine.view(task, now)

    def _task(self, api: str, task_id: str, record: bytes) -> Task:
        key = (api, task_id)
        known = self._known.get(key)
        if known is not None and known[0] == record:
            return known[1]
        task = task_from(api, task_id, self.engine.scenario(api, scenario_name(record)), record)
        self._remember(key, record, task)
        return task

    def _remember(self, key: tuple[str, str], record: bytes, task: Task) -> None:
        known = self._known
        known[key] = (record, task)
        if len(known) > KNOWN_LIMIT:
            known.popitem(last=False)

    async def create(self, scenario: Scenario, **create: Any) -> Task:
        """A new task in Redis: its id drawn from Redis's sequence and draw counter, a taken
        one (made by another replica under that id) drawn again; an id asked for and taken
        is a Conflict."""
        api = scenario.api
        explicit = create.get("task_id") is not None
        for _ in range(ID_ATTEMPTS):
            count = 1 + len(scenario.subtasks)
            args = [self.prefix, api, str(count)]
            result = await self._call(lambda: self._ids(args=args))  # noqa: B023 - awaited here
            now = float(result[2])
            self.clock.update(now, result[3:])
            last = int(result[0])
            ids = DrawnIds(self._seed_base, range(last - count + 1, last + 1), int(result[1]), now)
            task = self.engine.build_task(scenario, ids, **create)
            written = await self._insert(task, replace=False)
            if written == 1:
                return task
            if written == -1:
                raise over_limit(self.engine.task_limit or 0)
            if explicit:
                raise Conflict(f"a {api} task with id {shown(task.id)} already exists")
        raise Conflict(f"no free {api} task id after {ID_ATTEMPTS} draws")

    async def transition(
        self, task: Task, phase: Phase, message: str | None = None, fields: Mapping[str, Any] | None = None
    ) -> TaskView:
        """Force a task into `phase` (see Engine.transition), written back for every replica.
        Not atomic with reads that come meanwhile: a read between the look and the write is
        counted, and the forced step starts from the count seen here."""
        seen = await self.read(task, count=False)
        fresh = seen.task
        self.engine.force(fresh, phase, message, fields, now=seen.observed_at)
        if await self._insert(fresh, replace=True) != 1:
            self._known.pop((task.api, task.id), None)
            raise TaskGone(f"no {task.api} task with id {shown(task.id)}")
        return await self.read(fresh, count=False)

    async def _insert(self, task: Task, *, replace: bool) -> int:
        record = record_of(task)
        limit = "" if self.engine.task_limit is None else str(self.engine.task_limit)
        args = [
            self.prefix, task.api, task.id, record, lifecycles_of(task), positions_of(task),
            "1" if replace else "0", limit,
        ]
        written = int(await self._call(lambda: self._write(args=args)))
        if written == 1:
            self._remember((task.api, task.id), record.encode(), task)
        return written

    async def page(
        self, api: str | None, *, scenario: str | None, phase: Phase | None, offset: int, limit: int
    ) -> tuple[list[TaskView], int | None]:
        """A page of the tasks in the order they were made (see TaskStore.page): ids fetched
        PAGE_IDS at a time; unfiltered, the skipped ones are not even looked at."""
        page = Page(phase, offset, limit)
        skip_unseen = 0 if scenario is not None or phase is not None else offset
        page.skip -= skip_unseen
        for name in self.engine.apis if api is None else (api,):
            start = 0
            while True:
                key, first = f"{self.prefix}:order:{name}", start
                chunk = await self._call(
                    lambda: self.redis.lrange(key, first, first + PAGE_IDS - 1)  # noqa: B023 - awaited here
                )
                if not chunk:
                    break
                start += len(chunk)
                for raw in chunk:
                    if skip_unseen:
                        skip_unseen -= 1
                        continue
                    view = await self._run_read(name, text(raw), count=False)
                    if view is None or (scenario is not None and view.task.scenario.name != scenario):
                        continue
                    if page.offer(view):
                        return page.found, page.next_offset
        return page.found, page.next_offset

