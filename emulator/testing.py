"""`TaskEmulator`: a running emulator as a test sees it, with a small typed handle API.

The pytest plugin hands these out as fixtures; other test runners can use one directly:

    with TaskEmulator.start() as emu:
        task = emu.create_task("traffic_ops", "acme-autorenew")
        ...

Every call runs on the server's own event loop (see `server.EmulatorServer.call`), so the
handle can be used from a synchronous test, from another thread, or from an asyncio test
while the server keeps answering.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .apis import VendorApi
from .config import EmulatorConfig
from .control_input import ControlError, check_new_task, fault_from_json
from .fault_effects import FaultKind
from .lifecycle import Phase
from .server import EmulatorServer, LoopThread
from .task import Task as EngineTask


@dataclass(frozen=True)
class Task:
    """A task made through the handle. `phase` is read live (without counting as a poll)."""

    emulator: TaskEmulator
    api: str
    id: str
    status_url: str

    @property
    def phase(self) -> str:
        return self.emulator.phase(self)

    def __str__(self) -> str:
        return self.id


@dataclass(frozen=True)
class Fault:
    """A fault injected through the handle. `applied` is read live."""

    emulator: TaskEmulator
    id: str
    kind: FaultKind

    @property
    def applied(self) -> int:
        """How many requests this fault has hit so far."""
        return self.emulator.server.run(self.emulator.server.runtime.fault_applied(self.id))

    def remove(self) -> None:
        """Stop injecting this fault (harmless when it is gone already, by a reset too: ids
        never repeat, so this never removes another fault)."""
        self.emulator.server.run(self.emulator.server.runtime.remove_fault(self.id))


class TaskEmulator:
    __test__ = False

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self._checked_seq = 0

    @classmethod
    def start(cls, config: EmulatorConfig | None = None, *, loop_thread: LoopThread | None = None) -> TaskEmulator:
        """A new emulator (virtual clock unless `config` says otherwise), already listening."""
        config = config or EmulatorConfig(clock="virtual")
        return cls(EmulatorServer(config, loop_thread=loop_thread).start())

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> TaskEmulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- where things are ----------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's base URL, `http://127.0.0.1:<port>`."""
        return self.server.url

    @property
    def host(self) -> str:
        """The address the server listens on (`127.0.0.1`), for clients that take the host
        and the port apart, like Traffic Ops' `TOSession(host, port)`."""
        return self.server.host

    @property
    def port(self) -> int:
        """The port the server listens on (a free one, chosen when it started)."""
        port = self.server.port
        if port is None:
            raise RuntimeError("the emulator is not running (stopped, or never started)")
        return port

    def url_for(self, api: str) -> str:
        """The base URL a client of `api` is configured with (its SDK endpoint or API root)."""
        return self.server.url + self._api(api).base_path

    def credentials(self, api: str) -> dict[str, str]:
        """Credentials that pass `api`'s auth, e.g. {"username": ..., "password": ...}."""
        return self.server.call(lambda: self._api(api).credentials())

    # ---- tasks and time ------------------------------------------------------------------

    def create_task(
        self, api: str, scenario: str, *, id: str | int | None = None, scope: dict[str, str] | None = None, **fields: Any
    ) -> Task:
        """A new task of `api` from `scenario`; keyword arguments set its fields."""

        async def create() -> EngineTask:
            runtime = self.server.runtime
            spec = self._api(api)
            task_id = None if id is None else spec.check_task_id(id)
            found = runtime.engine.scenario(api, scenario)
            try:  # the control API's own check: a typo or a wrong type is refused either way
                checked_fields, checked_scope = check_new_task(runtime, api, fields, scope or {})
            except ControlError as error:
                raise ValueError(error.message) from None
            return await runtime.store.create(found, task_id=task_id, fields=checked_fields, scope=checked_scope)

        made = self.server.run(create())
        return Task(self, api, made.id, self.server.url + self._api(api).status_path(made))

    def phase(self, task: Task | str, api: str | None = None) -> str:
        engine_task = self._engine_task(task, api)
        return self.server.run(self.server.runtime.store.read(engine_task, count=False)).phase.value

    def advance(self, seconds: float) -> float:
        """Move the emulator clock forward; every task moves with it. Returns the new time."""
        return self.server.run(self.server.runtime.store.advance_clock(seconds))

    def now(self) -> float:
        return self.server.run(self.server.runtime.store.now())

    def transition(self, task: Task, phase: str, message: str | None = None) -> None:
        engine_task = self._engine_task(task)
        target = Phase.parse(phase)
        self.server.run(self.server.runtime.store.transition(engine_task, target, message))

    def complete(self, task: Task) -> None:
        """Make `task` succeed now."""
        self.transition(task, "succeeded")

    def fail(self, task: Task, message: str | None = None) -> None:
        """Make `task` fail now, with `message` where the API shows one."""
        self.transition(task, "failed", message)

    def reset(self) -> None:
        """Back to the loaded scenarios and preloaded tasks, as at start."""
        self.server.run(self.server.runtime.reset())

    def expire_credentials(self, api: str | None = None) -> list[str]:
        """Expire every credential issued so far (of `api` only, when given): the next call
        with one gets the vendor's own "expired" answer, as after its real lifetime. Moving
        the clock never does this (credentials are judged by the wall clock), so a test of a
        client's re-login path says so here. Returns the APIs it was done for."""
        if api is not None:
            self._api(api)
        return self.server.run(self.server.runtime.expire_credentials(api))

    # ---- faults --------------------------------------------------------------------------

    def inject(
        self,
        kind: FaultKind,
        *,
        api: str | None = None,
        method: str | None = None,
        path: str | None = None,
        query: dict[str, str] | None = None,
        scenario: str | None = None,
        task: Task | str | None = None,
        step: str | int | None = None,
        probability: float | None = None,
        times: int | None = None,
        seconds: float | None = None,
        distribution: Literal["uniform", "exponential"] | None = None,
        min: float | None = None,
        max: float | None = None,
        mean: float | None = None,
        status: Literal[500, 503, 429] | None = None,
        retry_after: int | None = None,
        fraction: float | None = None,
        chunk_bytes: int | None = None,
        interval: float | None = None,
    ) -> Fault:
        """Inject a fault, as `POST /_emulator/faults` does (the same keys, the same checks:
        ValueError says what is wrong). A `task` handle also sets `api`."""
        if isinstance(task, Task):
            api = api or task.api
        given = {
            "kind": kind, "api": api, "method": method, "path": path, "query": query,
            "scenario": scenario, "task": None if task is None else str(task), "step": step,
            "probability": probability, "times": times, "seconds": seconds,
            "distribution": distribution, "min": min, "max": max, "mean": mean, "status": status,
            "retry_after": retry_after, "fraction": fraction, "chunk_bytes": chunk_bytes,
            "interval": interval,
        }
        body = {key: value for key, value in given.items() if value is not None}

        async def add() -> str:
            runtime = self.server.runtime
            return (await runtime.add_fault(body, fault_from_json(runtime, body))).id

        return Fault(self, self.server.run(add()), kind)

    def faults(self) -> list[dict[str, Any]]:
        """Every fault, as `GET /_emulator/faults` lists them."""
        runtime = self.server.runtime
        return self.server.run(runtime.describe_faults(runtime.faults.rules()))

    def clear_faults(self) -> None:
        """Remove every fault, the scenarios' included (a reset restores theirs)."""
        self.server.run(self.server.runtime.clear_faults())

    # ---- what happened -------------------------------------------------------------------

    def requests(self, api: str | None = None, task: Task | str | None = None) -> list[dict[str, Any]]:
        """The journal of vendor requests answered (credentials redacted), oldest first."""
        task_id = None if task is None else str(task)
        return self.server.run(self.server.runtime.journal_entries(api, task_id))

    def new_violations(self) -> list[dict[str, Any]]:
        """Responses that broke their schema since the last call (or the last reset)."""
        entries = [e for e in self.requests() if e["seq"] > self._checked_seq]
        if entries:
            self._checked_seq = entries[-1]["seq"]
        return [e for e in entries if e["violation"]]

    # ---- helpers -------------------------------------------------------------------------

    def _api(self, api: str) -> VendorApi:
        apis = self.server.runtime.apis
        if api not in apis:
            raise ValueError(f"unknown api {api!r}: use one of {', '.join(sorted(apis))}")
        return apis[api]

    def _engine_task(self, task: Task | str, api: str | None = None) -> EngineTask:
        if isinstance(task, Task):
            api, task_id = task.api, task.id
        elif api is None:
            raise ValueError("give the api with a task id")
        else:
            task_id = task
        return self.server.run(self.server.runtime.store.get(str(api), task_id))
