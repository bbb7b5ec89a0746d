"""The control API under /_emulator: JSON in and out, for tests and people driving the emulator.

    GET    /health                          is the server up
    GET    /scenarios                       the loaded scenarios
    POST   /tasks                           create a task from a scenario
    GET    /tasks                           tasks (filters: api, phase, scenario; limit, offset)
    GET    /tasks/{api}/{id}                one task
    POST   /tasks/{api}/{id}/transition     force a task into a phase
    GET    /clock                           the emulator's time
    POST   /clock/advance                   move the clock forward
    POST   /reset                           back to the loaded scenarios and preloaded tasks
    POST   /credentials/expire              expire the credentials issued so far (all, or one API's)
    GET    /requests                        the request journal (filters: api, task; after, limit)
    DELETE /requests                        clear the journal
    GET    /faults                          the injected faults, with how often each applied
    POST   /faults                          inject a fault
    DELETE /faults                          remove every fault (a reset restores the scenarios')
    DELETE /faults/{id}                     remove one fault
    GET    /openapi.json                    the OpenAPI 3.1 document of every route
    GET    /ui                              the dashboard (emulator/ui): static files only

Request bodies are held to jsonbody.MAX_DEPTH levels of nesting, then checked against
schemas/control/*.schema.json. Every error is a 4xx with `{"error": "<what is wrong>"}`, at
most MESSAGE_LIMIT characters whatever was sent, and a refused request changes nothing.
"""

from __future__ import annotations

import functools
import hmac
import os
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from . import __version__
from .errors import (
    SHOWN_CHARACTERS,
    ConfigError,
    Conflict,
    EmulatorError,
    NotFound,
    TaskRefused,
    shown,
)
from .faults import Fault
from .faultspec import FaultError, parse_fault
from .jsonbody import TooDeep, parse_json
from .lifecycle import Lifecycle, Phase
from .openapi import build_document
from .routing import methods_elsewhere
from .scenario import Scenario
from .scenario_loader import explain_schema_error
from .state import Runtime
from .store import StoreUnavailable
from .task import Task, TaskView
from .ui import PATHS as UI_PATHS
from .ui import ui_routes
from .yamlsource import JsonPath, format_path

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DEFAULT_TASK_LIMIT = 1000
# The largest `limit`, `offset` or `after` a query takes: past any count a server can hold,
# and small enough for every index (a page far past the end is simply empty).
MAX_QUERY_NUMBER = 1_000_000_000
# The longest error message a control route answers: what was wrong, never the whole input
# echoed back (a key or a value can be as long as the body).
MESSAGE_LIMIT = 400
# Fault ids an unknown id's 404 lists; beyond, it gives their number.
FEW_IDS = 10


class ControlError(EmulatorError):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = capped(message)


def capped(message: str) -> str:
    if len(message) <= MESSAGE_LIMIT:
        return message
    return f"{message[:MESSAGE_LIMIT]}… ({len(message):,} characters)"


def admin_token_problem(token: str | None) -> str | None:
    """What is wrong with an admin token, None when nothing is (or there is none). An empty
    token (`TASK_EMULATOR_ADMIN_TOKEN=` from an unset CI secret) or one with spaces or
    control characters around it could never be sent back in an Authorization header as
    it was given: the server would start with its control API locked to everyone."""
    if token is None:
        return None
    if not token:
        return "the admin token is empty: give one, or leave it unset for an open control API"
    if token != token.strip() or not token.isprintable():
        return (
            "the admin token starts or ends with a space or holds a control character, "
            "which no client can send as given"
        )
    return None


def control_app(runtime: Runtime) -> web.Application:
    """The control routes as a sub-application. Errors become JSON and the admin token is
    checked by a wrapper around each handler, not by middleware: a middleware anywhere in
    the application makes aiohttp run a middleware chain for every vendor request too."""
    problem = admin_token_problem(runtime.config.admin_token)
    if problem is not None:
        raise ConfigError(problem)
    app = web.Application()
    guard = _guard(runtime.config.admin_token)
    # The dashboard's page and files stay open, like health: they hold no state, and the
    # page asks for the token and sends it on its control API calls.
    app.add_routes(
        web.RouteDef(r.method, r.path, r.handler if r.path in UI_PATHS else guard(r.handler), r.kwargs)
        for r in control_routes(ControlApi(runtime))
    )
    app.router.add_route("*", "/{tail:.*}", guard(no_route))
    return app


def control_routes(api: ControlApi) -> list[web.RouteDef]:
    """The control routes, below /_emulator; the OpenAPI document is built from them."""
    return [
        web.get("/health", api.health),
        web.get("/scenarios", api.scenarios),
        web.post("/tasks", api.create_task),
        web.get("/tasks", api.list_tasks),
        web.get("/tasks/{api}/{id}", api.get_task),
        web.post("/tasks/{api}/{id}/transition", api.transition),
        web.get("/clock", api.clock),
        web.post("/clock/advance", api.advance_clock),
        web.post("/reset", api.reset),
        web.post("/credentials/expire", api.expire_credentials),
        web.get("/requests", api.requests),
        web.delete("/requests", api.clear_requests),
        web.get("/faults", api.faults),
        web.post("/faults", api.add_fault),
        web.delete("/faults", api.clear_faults),
        web.delete("/faults/{id}", api.remove_fault),
        web.get("/openapi.json", api.openapi),
        *ui_routes(),
    ]


def _guard(token: str | None) -> Callable[[Handler], Handler]:
    """Wraps a control handler: the admin token checked first (when the server has one),
    and the handler's refusals turned into `{"error": ...}` with their status."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            # Health stays open: container health checks carry no credentials.
            if token is not None and request.path != "/_emulator/health":
                given = request.headers.get("Authorization", "")
                # Header bytes that are not UTF-8 arrive as lone surrogates: compared as sent.
                if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), f"Bearer {token}".encode()):
                    return web.json_response(
                        {"error": "the control API needs 'Authorization: Bearer <admin token>'"},
                        status=401,
                        headers={"WWW-Authenticate": "Bearer"},
                    )
            try:
                return await handler(request)
            except ControlError as error:
                return web.json_response({"error": error.message}, status=error.status)
            except NotFound as error:
                return web.json_response({"error": str(error)}, status=404)
            except Conflict as error:
                return web.json_response({"error": str(error)}, status=409)
            except TaskRefused as error:
                return web.json_response({"error": str(error)}, status=error.status)
            except StoreUnavailable as error:
                return web.json_response({"error": str(error)}, status=503, headers={"Retry-After": "1"})
            except web.HTTPRequestEntityTooLarge as error:
                return web.json_response({"error": error.text}, status=413)

        return guarded

    return wrap


async def no_route(request: web.Request) -> web.Response:
    """Below /_emulator but no control route: 405 naming the allowed methods when the path
    is a route's, else 404."""
    allowed = await methods_elsewhere(request)
    if not allowed:
        raise ControlError(404, f"no control route {request.path}")
    methods = ", ".join(sorted(allowed))
    return web.json_response(
        {"error": f"{request.method} is not allowed on {request.path} (allowed: {methods})"},
        status=405,
        headers={"Allow": methods},
    )


class ControlApi:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.engine = runtime.engine
        self.store = runtime.store
        self._openapi: dict[str, Any] | None = None

    async def health(self, request: web.Request) -> web.Response:
        problem = await self.store.problem()
        if problem is not None:
            return web.json_response(
                {"status": "unavailable", "version": __version__, "store": self.store.name, "error": problem,
                 "pid": os.getpid()},
                status=503,
            )
        return web.json_response(
            {
                "status": "ok",
                "version": __version__,
                "apis": sorted(self.runtime.apis),
                "scenarios": len(self.engine.catalog.scenarios),
                "tasks": await self.store.count(),
                "clock": await self._clock_json(),
                "store": self.store.name,
                # Which process answered: one of several workers (serve --workers) or replicas.
                "pid": os.getpid(),
            }
        )

    async def scenarios(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"scenarios": [scenario_json(s) for s in self.engine.catalog.scenarios.values()]}
        )

    async def create_task(self, request: web.Request) -> web.Response:
        body = await self._body(request, "create_task")
        api = self._api(body["api"])
        scenario = self.engine.scenario(api, body["scenario"])
        spec = self.runtime.apis[api]
        task_id = None
        if "id" in body:
            try:
                task_id = spec.check_task_id(body["id"])
            except ValueError as error:
                raise ControlError(400, f"id: {error}") from None
        fields, scope = check_new_task(self.runtime, api, body.get("fields", {}), body.get("scope", {}))
        task = await self.store.create(scenario, task_id=task_id, fields=fields, scope=scope)
        view = await self.store.read(task, count=False)
        return web.json_response(self._task_json(request, view), status=201)

    async def list_tasks(self, request: web.Request) -> web.Response:
        api = request.query.get("api")
        if api is not None:
            self._api(api)
        phase = None
        if "phase" in request.query:
            try:
                phase = Phase.parse(request.query["phase"])
            except ValueError as error:
                raise ControlError(400, f"phase: {error}") from None
        scenario = request.query.get("scenario")
        limit = self._int_query(request, "limit", DEFAULT_TASK_LIMIT, minimum=1)
        # A page of a long list (the dashboard's): skip `offset` matching tasks. Unfiltered,
        # skipped tasks are not even looked at, so a late page of a million tasks is cheap.
        offset = self._int_query(request, "offset", 0, minimum=0)
        views, next_offset = await self.store.page(api, scenario=scenario, phase=phase, offset=offset, limit=limit)
        found = [self._task_json(request, view) for view in views]
        return web.json_response({"tasks": found, "next_offset": next_offset})

    async def get_task(self, request: web.Request) -> web.Response:
        view = await self.store.read(await self._task(request), count=False)
        return web.json_response(self._task_json(request, view))

    async def transition(self, request: web.Request) -> web.Response:
        task = await self._task(request)
        body = await self._body(request, "transition")
        view = await self.store.transition(task, Phase(body["phase"]), body.get("message"))
        return web.json_response(self._task_json(request, view))

    async def clock(self, request: web.Request) -> web.Response:
        return web.json_response(await self._clock_json())

    async def advance_clock(self, request: web.Request) -> web.Response:
        body = await self._body(request, "advance_clock")
        try:
            await self.store.advance_clock(float(body["seconds"]))
        except ValueError as error:  # the clock refuses and stays where it was
            raise ControlError(400, f"seconds: {error}") from None
        return web.json_response(await self._clock_json())

    async def reset(self, request: web.Request) -> web.Response:
        await self.runtime.reset()
        return web.json_response({"status": "reset", "tasks": await self.store.count()})

    async def expire_credentials(self, request: web.Request) -> web.Response:
        body = await self._body(request, "expire_credentials") if request.body_exists else {}
        api = self._api(body["api"]) if "api" in body else None
        return web.json_response({"expired": await self.runtime.expire_credentials(api)})

    async def requests(self, request: web.Request) -> web.Response:
        api = request.query.get("api")
        if api is not None:
            self._api(api)
        task = request.query.get("task")
        if "after" in request.query or "limit" in request.query:
            # The newest `limit` entries past seq `after`: what a live view asks for each
            # second, built without building the rest of the journal.
            after = self._int_query(request, "after", 0, minimum=0)
            limit = self._int_query(request, "limit", len(self.runtime.journal) or 1, minimum=1)
            entries = self.runtime.journal.latest(limit, after=after, api=api, task=task)
        else:
            entries = self.runtime.journal.entries(api=api, task=task)
        return web.json_response({"requests": [entry.to_json() for entry in entries]})

    async def clear_requests(self, request: web.Request) -> web.Response:
        self.runtime.journal.clear()
        return web.json_response({"requests": []})

    async def faults(self, request: web.Request) -> web.Response:
        faults = self.runtime.faults
        return web.json_response({"faults": [faults.describe(f) for f in faults.rules()]})

    async def add_fault(self, request: web.Request) -> web.Response:
        body = await self._body(request, "fault")
        try:
            fault = fault_from_json(self.runtime, body)
        except ValueError as error:
            raise ControlError(400, str(error)) from None
        fault = self.runtime.faults.add(fault)  # Conflict (409) when the set is full
        return web.json_response(self.runtime.faults.describe(fault), status=201)

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.runtime.faults.clear()
        return web.json_response({"faults": []})

    async def remove_fault(self, request: web.Request) -> web.Response:
        faults = self.runtime.faults
        fault = faults.get(request.match_info["id"])
        if fault is None:
            # The ids when they are few; there can be a thousand, each then costing every
            # mistyped id a line of the answer.
            ids = [f.id for f in faults.rules()]
            there = ", ".join(ids) or "none"
            if len(ids) > FEW_IDS:
                there = f"{len(ids):,}, listed by GET /_emulator/faults"
            wanted = shown(request.match_info["id"])
            raise ControlError(404, f"no fault with id {wanted} (there are: {there})")
        described = faults.describe(fault)
        faults.remove(fault.id)
        return web.json_response(described)

    async def openapi(self, request: web.Request) -> web.Response:
        if self._openapi is None:  # the routes and tables never change while a server runs
            self._openapi = build_document(self.runtime, control_routes(self))
        return web.json_response(self._openapi)

    # ---- helpers -------------------------------------------------------------------------

    async def _body(self, request: web.Request, schema: str) -> dict[str, Any]:
        raw = await request.read()
        try:
            body = parse_json(raw)
        except TooDeep as error:
            if error.unread:  # deeper than the parser goes: not read to its end
                raise ControlError(400, f"the body is not valid JSON: {error}") from None
            raise ControlError(400, str(error)) from None
        except ValueError as error:
            raise ControlError(400, f"the body is not valid JSON: {error}") from None
        for problem in self.runtime.schemas.errors(f"control/{schema}.schema.json", body):
            path, message = schema_problem(problem)
            where = format_path(path)
            raise ControlError(400, f"{where}: {message}" if where else message)
        return body  # type: ignore[no-any-return]

    def _api(self, name: str) -> str:
        if name not in self.runtime.apis:
            raise ControlError(400, f"unknown api {shown(name)}: use one of {', '.join(sorted(self.runtime.apis))}")
        return name

    async def _task(self, request: web.Request) -> Task:
        api = self._api(request.match_info["api"])
        return await self.store.get(api, request.match_info["id"])

    @staticmethod
    def _int_query(request: web.Request, name: str, default: int, minimum: int) -> int:
        raw = request.query.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ControlError(400, f"{name}: not a whole number: {shown(raw)}") from None
        if value < minimum:
            raise ControlError(400, f"{name}: must be at least {minimum}, not {value}")
        if value > MAX_QUERY_NUMBER:
            raise ControlError(400, f"{name}: must be at most {MAX_QUERY_NUMBER:,}, not {shown(raw)}")
        return value

    async def _clock_json(self) -> dict[str, Any]:
        now = await self.store.now()
        return {"mode": self.engine.clock.mode, "now": now, "iso": _iso(now)}

    def _task_json(self, request: web.Request, view: TaskView) -> dict[str, Any]:
        task = view.task
        status_path = self.runtime.apis[task.api].status_path(task)
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
            "fields": _plain(view.fields),
            "scope": dict(task.scope),
            "status_path": status_path,
            "status_url": f"{request.scheme}://{request.host}{status_path}",
            "subtasks": [
                {"id": sub.id, "name": sub.name, "phase": sub.phase.value, "changed_at": sub.entered_at}
                for sub in view.subtasks
            ],
        }


def check_new_task(
    runtime: Runtime, api: str, fields: Mapping[str, Any], scope: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The fields and scope of a task made by a person (control API or test handle), checked
    as a scenario's `task:` block is: ControlError names the first mistake."""
    # Field values obey the same rules as a scenario's `task:` block.
    for problem in runtime.schemas.errors(f"{api}/scenario.schema.json", {"task": dict(fields)}) if fields else ():
        path, message = schema_problem(problem)
        raise ControlError(400, f"{format_path(('fields', *path[1:]))}: {message}")
    spec = runtime.apis[api]
    unknown = sorted(map(str, set(scope) - set(spec.scope_defaults)))
    if unknown:
        allowed = ", ".join(spec.scope_defaults) or "none"
        raise ControlError(400, f"scope: {api} tasks have no scope {shown(unknown[0])} (they have: {allowed})")
    plain_scope = {str(k): str(v) for k, v in scope.items()}
    problem = spec.scope_problem(plain_scope)
    if problem is not None:
        raise ControlError(400, problem)
    return dict(fields), plain_scope


def fault_from_json(runtime: Runtime, body: Any) -> Fault:
    """A run-time fault from its JSON (the control API's body, the pytest handle's keywords),
    checked as a scenario's faults are; ValueError says where and what is wrong."""
    for problem in runtime.schemas.errors("control/fault.schema.json", body):
        path, message = schema_problem(problem)
        where = format_path(path)
        raise ValueError(f"{where}: {message}" if where else message)
    try:
        return parse_fault(body, apis=runtime.apis, catalog=runtime.engine.catalog)
    except FaultError as error:
        where = format_path(error.path)
        raise ValueError(f"{where}: {error.message}" if where else error.message) from None


def schema_problem(error: Any) -> tuple[JsonPath, str]:
    """`explain_schema_error`, with the value the message quotes cut short: jsonschema puts
    the whole offending value in its message (`[[[[...]]]] is not of type 'string'`)."""
    path, message = explain_schema_error(error)
    instance = error.instance
    if isinstance(instance, (str, list, dict)) and len(instance) > 0:
        quoted = repr(instance)
        if len(quoted) > SHOWN_CHARACTERS:
            message = message.replace(quoted, shown(instance))
    return path, message


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


def _plain(fields: Any) -> dict[str, Any]:
    return {key: fields[key] for key in fields}


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat().replace("+00:00", "Z")
