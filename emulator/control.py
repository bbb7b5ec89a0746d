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

Here are the sub-application, its route table and the handlers. What a request sends is read
and checked by control_input (every error a 4xx with `{"error": "<what is wrong>"}`, and a
refused request changes nothing); what a handler answers is built by control_json.
"""

from __future__ import annotations

import functools
import hmac
import os
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from . import __version__
from .control_input import (
    ControlError,
    check_new_task,
    fault_from_json,
    int_query,
    known_api,
    read_body,
)
from .control_json import clock_json, scenario_json, task_json
from .errors import ConfigError, Conflict, NotFound, TaskRefused, shown
from .lifecycle import Phase
from .openapi import build_document
from .routing import methods_elsewhere
from .state import Runtime
from .store import StoreUnavailable
from .task import Task, TaskView
from .ui import PATHS as UI_PATHS
from .ui import ui_routes

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DEFAULT_TASK_LIMIT = 1000
# Fault ids an unknown id's 404 lists; beyond, it gives their number.
FEW_IDS = 10


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
        limit = int_query(request.query, "limit", DEFAULT_TASK_LIMIT, minimum=1)
        # A page of a long list (the dashboard's): skip `offset` matching tasks. Unfiltered,
        # skipped tasks are not even looked at, so a late page of a million tasks is cheap.
        offset = int_query(request.query, "offset", 0, minimum=0)
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
            now = await self.store.advance_clock(float(body["seconds"]))
        except ValueError as error:  # the clock refuses and stays where it was
            raise ControlError(400, f"seconds: {error}") from None
        return web.json_response(clock_json(self.engine.clock.mode, now))

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
        # The newest `limit` entries past seq `after` (all of them by default): what a live
        # view asks for each second, built without building the rest of the journal.
        after = int_query(request.query, "after", 0, minimum=0)
        limit = int_query(request.query, "limit", 1, minimum=1) if "limit" in request.query else None
        entries = await self.runtime.journal_entries(api, task, after, limit)
        return web.json_response({"requests": entries})

    async def clear_requests(self, request: web.Request) -> web.Response:
        await self.runtime.clear_journal()
        return web.json_response({"requests": []})

    async def faults(self, request: web.Request) -> web.Response:
        return web.json_response({"faults": await self.runtime.describe_faults(self.runtime.faults.rules())})

    async def add_fault(self, request: web.Request) -> web.Response:
        body = await self._body(request, "fault")
        try:
            fault = fault_from_json(self.runtime, body)
        except ValueError as error:
            raise ControlError(400, str(error)) from None
        fault = await self.runtime.add_fault(body, fault)  # Conflict (409) when the set is full
        return web.json_response((await self.runtime.describe_faults([fault]))[0], status=201)

    async def clear_faults(self, request: web.Request) -> web.Response:
        await self.runtime.clear_faults()
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
        (described,) = await self.runtime.describe_faults([fault])
        await self.runtime.remove_fault(fault.id)
        return web.json_response(described)

    async def openapi(self, request: web.Request) -> web.Response:
        if self._openapi is None:  # the routes and tables never change while a server runs
            self._openapi = build_document(self.runtime, control_routes(self))
        return web.json_response(self._openapi)

    # ---- helpers -------------------------------------------------------------------------

    async def _body(self, request: web.Request, schema: str) -> dict[str, Any]:
        return await read_body(request, self.runtime.schemas, schema)

    def _api(self, name: str) -> str:
        return known_api(self.runtime.apis, name)

    async def _task(self, request: web.Request) -> Task:
        api = self._api(request.match_info["api"])
        return await self.store.get(api, request.match_info["id"])

    async def _clock_json(self) -> dict[str, Any]:
        return clock_json(self.engine.clock.mode, await self.store.now())

    def _task_json(self, request: web.Request, view: TaskView) -> dict[str, Any]:
        status_path = self.runtime.apis[view.task.api].status_path(view.task)
        return task_json(view, status_path, f"{request.scheme}://{request.host}")
