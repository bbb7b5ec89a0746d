"""What every emulated vendor API is made of.

An API is a `VendorApi` subclass in its own module. Its class attributes describe it to the
scenario loader and the engine (`ApiSpec`: name, trigger routes, scope, ids); an instance,
made per server with the API's settings, serves its vendor routes. Responses go out through
`Vendor.respond`, which validates the body against the API's schemas first.
"""

from __future__ import annotations

import functools
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from aiohttp import BasicAuth, web

from ..requestkeys import JOURNAL_TASK, JOURNAL_VIOLATION, OBSERVED
from ..resources import builtin_scenarios, builtin_schemas
from ..scenario import EMPTY
from ..vendor import IdSource, Secrets, TriggerRoute

if TYPE_CHECKING:
    from ..engine import Engine
    from ..keyring import Keyring
    from ..lifecycle import Phase
    from ..options import ValidationMode
    from ..scenario import Scenario
    from ..schemas import SchemaSet
    from ..store import TaskStore
    from ..task import Task, TaskView

log = logging.getLogger("task_emulator.validation")

Rendered = TypeVar("Rendered")


class VendorContext(Protocol):
    """What a vendor API sees of the server it runs in: the tasks and their clock, the
    schemas its answers are checked against, the wall clock its credentials are judged by.
    Not the server itself: an API cannot reach the journal, the faults or other APIs."""

    @property
    def engine(self) -> Engine:
        """The scenarios and the clock's mode; tasks are read and made through `store`."""
        ...

    @property
    def store(self) -> TaskStore: ...

    @property
    def schemas(self) -> SchemaSet: ...

    @property
    def validate(self) -> ValidationMode: ...

    @property
    def time_scale(self) -> float:
        """How much faster than real time a real clock runs (1 on a virtual clock)."""
        ...

    def wall_clock(self) -> float: ...

    async def tell(self, api: str, detail: str) -> None:
        """`detail` handed to `api`'s `hear` on every replica (this one too); returns when
        each has heard it."""
        ...

    def keyring(self, api: str) -> Keyring:
        """The keys `api` signs its credentials with: the same on every replica, moved on
        by expire_credentials and reset before the API's own hooks are called."""
        ...


@functools.lru_cache(maxsize=256)
def basic_credentials(authorization: str) -> tuple[str, str] | None:
    """(username, password) from an `Authorization: Basic …` value, or None. Kept per value:
    a client sends the same one with every poll."""
    try:
        auth = BasicAuth.decode(authorization, encoding="utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return auth.login, auth.password


# Entries a per-value cache of an API keeps (a checked cookie, an opened token) before it
# starts again: a client sends the same credential poll after poll.
REMEMBERED = 4096


def remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    """Store `value` under `key` in a cache that starts again when it holds REMEMBERED."""
    if len(cache) >= REMEMBERED:
        cache.clear()
    cache[key] = value


class RenderCache(Generic[Rendered]):
    """What an API rendered for a task, kept with the task's state: a poll of a task that
    has not moved since is answered without rendering again. Only for renderings that are a
    function of the task's state (not of the clock, the read count or the request). Bounded:
    it starts again when full."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._entries: dict[Task, tuple[tuple[object, ...], Rendered]] = {}

    def get(self, view: TaskView, render: Callable[[], Rendered]) -> Rendered:
        """What `render` makes of `view`, rendered again only if the task's state differs
        from the one last rendered (the state the view saw, not the task's latest: a read
        can move the task on after it was seen)."""
        task, state = view.task, view.state
        known = self._entries.get(task)
        if known is not None and known[0] == state:
            return known[1]
        rendered = render()
        if len(self._entries) >= self.LIMIT:
            self._entries.clear()
        self._entries[task] = (state, rendered)
        return rendered

    def clear(self) -> None:
        self._entries.clear()


class VendorApi(ABC):
    name: ClassVar[str]
    title: ClassVar[str]
    triggers: ClassVar[tuple[TriggerRoute, ...]] = ()
    # Keys that place a task (project, workspace, dataset …) and their default values.
    scope_defaults: ClassVar[Mapping[str, str]] = EMPTY
    # Built-in settings (users, roles …), documented in the README; configuration replaces
    # them key by key, checked against schemas/<api>/settings.schema.json.
    default_settings: ClassVar[Mapping[str, Any]] = EMPTY
    # What of this API's requests and settings is a credential: the journal, the logs and
    # the banner redact by it (see emulator.redact).
    secrets: ClassVar[Secrets] = Secrets()
    # Where a client of this API points its base URL (an SDK's endpoint, a session's root).
    base_path: ClassVar[str] = "/"

    def __init__(self, runtime: VendorContext, settings: Mapping[str, Any]) -> None:
        self.runtime = runtime
        self.settings = settings

    # ---- the spec: class-level, used before any server exists ---------------------------

    @classmethod
    def schemas_dir(cls) -> Path:
        """The folder of this API's schemas: its answers' `*.schema.json`, its
        `scenario.schema.json` and `settings.schema.json`, and `openapi.json`, the table of
        its routes. A vendor installed as a plugin returns a folder of its own package."""
        return builtin_schemas() / cls.name

    @classmethod
    def scenarios_dir(cls) -> Path | None:
        """The folder of this API's built-in scenarios, if it has any."""
        folder = builtin_scenarios() / cls.name
        return folder if folder.is_dir() else None

    @classmethod
    def trigger_route(cls, method: str, path: str) -> TriggerRoute | None:
        for route in cls.triggers:
            if route.method == method and route.path == path:
                return route
        return None

    @classmethod
    @abstractmethod
    def check_task_id(cls, raw: object) -> str:
        """The canonical text of a task id given by a person; ValueError says what is wrong."""

    @classmethod
    @abstractmethod
    def new_task_id(cls, ids: IdSource) -> str:
        """A fresh id, drawn from the engine's seeded source or sequence."""

    @classmethod
    def new_subtask_id(cls, ids: IdSource, parent_id: str, index: int) -> str:
        return f"{parent_id}-{index + 1}"

    @classmethod
    def settings_problems(cls, settings: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
        """Mistakes in `settings` (already valid against the settings schema) that a schema
        cannot see, such as a user's role that no role defines: (key path, message) each."""
        return []

    @classmethod
    def forced_fields(cls, phase: Phase, message: str, current: Mapping[str, Any]) -> Mapping[str, Any]:
        """The fields that show `message` on a task forced into `phase` (a transition, a
        `fail` with a message), laid over the fields of its current step `current`. Most
        APIs show it as `message`; one with another place for it says so here."""
        return {"message": message}

    @classmethod
    def default_facts(cls, ids: IdSource) -> Mapping[str, Any]:
        """Request facts (`body`, `query` …) that fill the ${...} placeholders of a task made
        without a vendor request (control API, preload). None by default: they render empty."""
        return EMPTY

    # ---- serving -------------------------------------------------------------------------

    @abstractmethod
    def routes(self) -> list[web.RouteDef]:
        """The vendor routes this API answers."""

    @abstractmethod
    def status_path(self, task: Task) -> str:
        """The path (with query) a client polls for `task`'s status."""

    def credentials(self) -> dict[str, str]:
        """Ready-to-use credentials that pass this API's auth (for tests and the banner)."""
        return {}

    def describe(self) -> str:
        """One line for the start-up banner: the status path and how to authenticate."""
        return ""

    def scope_problem(self, scope: Mapping[str, str]) -> str | None:
        """What is wrong with a task scope given through the control API (a place this
        server does not have, so the task could never be reached), or None."""
        return None

    # ---- the steps every vendor route takes, in one place --------------------------------
    # A route that reads a status or starts a task goes through these: the journal files the
    # request under its task, fault rules scoped to a task or a step see the read, and no
    # vendor can forget a step.

    async def find_task(self, task_id: str) -> Task | None:
        """This API's task with `task_id`, or None. Only a lookup: nothing is counted."""
        return await self.runtime.store.find(self.name, task_id)

    async def read_status(self, request: web.Request, task: Task, *, count: bool = True) -> TaskView:
        """A client's status read of `task`, as of now: counted (a step may end after so
        many reads; reading may move the task on) and shown to fault rules scoped to a task
        or a step. `count=False` only looks (a HEAD, a creator's first answer)."""
        request[JOURNAL_TASK] = task.id
        view = await self.runtime.store.read(task, count=count)
        if count:
            request[OBSERVED] = view
        return view

    def read_again(self, request: web.Request, view: TaskView) -> None:
        """The counted read's answer is rendered from `view`, a later look (after a wait
        for the task, say): fault rules see what the client is shown."""
        request[OBSERVED] = view

    async def look(self, task: Task) -> TaskView:
        """`task` as of now, for the API's own decisions (is it still running?): not a
        client's read, so not counted, filed or shown to fault rules."""
        return await self.runtime.store.read(task, count=False)

    async def force(
        self, task: Task, phase: Phase, message: str | None = None, fields: Mapping[str, Any] | None = None
    ) -> TaskView:
        """`task` forced into `phase` by a vendor request (an abort, say): Engine.transition."""
        return await self.runtime.store.transition(task, phase, message, fields)

    def trigger_scenario(self, method: str, path: str, facts: Mapping[str, Any]) -> Scenario | None:
        """The scenario a request to this trigger route with these facts starts, or None."""
        return self.runtime.engine.catalog.for_trigger(self.name, method, path, facts)

    async def start_task(self, request: web.Request, scenario: Scenario, **create: Any) -> Task:
        """A task of `scenario`, made by `request` (the engine's `create_task` keywords)."""
        task = await self.runtime.store.create(scenario, **create)
        request[JOURNAL_TASK] = task.id
        return task

    def reset(self) -> None:
        """Forget sessions and other per-run state (tasks are the engine's)."""

    def expire_credentials(self) -> None:
        """Make every credential issued so far (sessions, tokens, cookies) expired: its next
        use gets exactly the answer the vendor gives an expired one. Called after the API's
        keyring moved on, on every replica: credentials signed with it need nothing more. An
        API whose credentials never expire (a fixed password, an AK/SK pair) has nothing to
        do either."""

    def shutdown(self) -> None:
        """The server is stopping: answer now whatever requests this API holds (a wait for a
        task), so that none of them holds up the shutdown."""

    async def tell_every_replica(self, detail: str) -> None:
        """This API's `hear(detail)` run on every replica of a shared store (on this server
        alone otherwise): for what a replica keeps in memory about a task another changed."""
        await self.runtime.tell(self.name, detail)

    def hear(self, detail: str) -> None:
        """What `tell_every_replica` said, on this replica."""

    def wall_time(self) -> float:
        """Now on the wall clock: what credential lifetimes and signature dates are judged by."""
        return self.runtime.wall_clock()

    @abstractmethod
    def error_response(self, request: web.Request, status: int, retry_after: int | None) -> web.Response:
        """This vendor's own answer for an injected error `status` (500, 503 or 429): its error
        body, content type and headers, with `Retry-After: <retry_after>` when given."""

    def respond(
        self,
        request: web.Request,
        status: int,
        data: Any,
        *,
        schema: str,
        encode: Callable[[Any], bytes],
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> web.Response:
        """A response whose body is `data`, checked against `schemas/<api>/<schema>.schema.json`.

        `body` is `data` already encoded, when the caller kept it from an earlier response.
        A body that breaks its schema is a bug in a scenario or in the emulator: in strict
        mode the client gets a 500 that says what broke, in warn mode it is sent and logged.
        """
        runtime = self.runtime
        if body is None:
            try:
                body = encode(data)
            except (TypeError, ValueError):
                body = None  # not JSON: the schema check says why, or encoding fails below as before
        if runtime.validate != "off":
            violation = runtime.schemas.violation(f"{self.name}/{schema}.schema.json", data, encoded=body)
            if violation is not None:
                request[JOURNAL_VIOLATION] = str(violation)
                log.error("response to %s %s breaks its schema: %s", request.method, request.path, violation)
                if runtime.validate == "strict":
                    return web.json_response(
                        {
                            "error": "the emulator's response failed schema validation",
                            "schema": violation.schema,
                            "path": violation.path,
                            "violation": violation.message,
                            "status": status,
                        },
                        status=500,
                        headers={"X-Task-Emulator-Violation": violation.schema},
                    )
        # Content-Type set as written: aiohttp's content_type argument would normalise it.
        all_headers = {"Content-Type": content_type, **headers} if headers else {"Content-Type": content_type}
        return web.Response(status=status, body=encode(data) if body is None else body, headers=all_headers)
