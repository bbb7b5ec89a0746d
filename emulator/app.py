"""The aiohttp application: configuration in, a server's worth of state, vendor routes and
the control API out. `create_app(config)` is the one way in, for the CLI and for tests."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from . import __version__
from .apis import API_CLASSES, VendorApi
from .requestkeys import JOURNAL_TASK, JOURNAL_VIOLATION
from .clock import ClockMode, make_clock
from .engine import Engine
from .errors import ConfigError, SettingsError, TaskRefused
from .fault_http import end_delays, serve_with_faults
from .faults import FaultSet
from .journal import Journal
from .options import VALIDATION_MODES, ValidationMode
from .resources import builtin_scenarios, builtin_schemas
from .scenario import EMPTY, Catalog, explain_schema_error, load_catalog
from .schemas import SchemaSet
from .yamlsource import format_path

CONTROL_PREFIX = "/_emulator"
# Requests bigger than this are refused before any handler reads them.
MAX_BODY_BYTES = 1024 * 1024
# A real clock this much faster than real time runs into year 9999 (see clock.LATEST) in
# days rather than in minutes.
MAX_TIME_SCALE = 1_000_000.0

log = logging.getLogger("task_emulator")


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything a server is started with. The defaults are `task-emulator serve`'s."""

    scenario_paths: tuple[Path, ...] = ()
    builtin_scenarios: bool = True
    seed: int | None = None
    clock: ClockMode = "real"
    time_scale: float = 1.0
    # Where a virtual clock starts (epoch seconds); default: the time the server starts.
    clock_start: float | None = None
    validate: ValidationMode = "strict"
    journal_limit: int = 10_000
    # Tasks a server holds at most (every task is kept until a reset); None: no limit.
    task_limit: int | None = 100_000
    # Per-API settings (users, roles …) replacing the built-in ones key by key.
    api_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    admin_token: str | None = None

    def __post_init__(self) -> None:
        if self.validate not in VALIDATION_MODES:
            raise ConfigError(f"unknown validation mode {self.validate!r}: use strict, warn or off")
        if self.clock not in ("real", "virtual"):
            raise ConfigError(f"unknown clock {self.clock!r}: use real or virtual")
        if not 0 < self.time_scale <= MAX_TIME_SCALE:
            raise ConfigError(
                f"the time scale must be a positive number up to {MAX_TIME_SCALE:g}, not {self.time_scale!r}"
            )
        if self.task_limit is not None and self.task_limit < 1:
            raise ConfigError(f"the task limit must be at least 1, not {self.task_limit!r}")
        if self.journal_limit < 1:
            raise ConfigError(f"the journal limit must be at least 1, not {self.journal_limit!r}")
        unknown = sorted(set(self.api_settings) - set(API_CLASSES), key=str)
        if unknown:
            raise ConfigError(
                f"settings for unknown API {unknown[0]!r}: use one of {', '.join(API_CLASSES)}"
            )
        for name, settings in self.api_settings.items():
            if not isinstance(settings, Mapping):
                raise ConfigError(f"settings {name}: a mapping of setting names to values, not {settings!r}")

    def scenario_sources(self) -> list[Path]:
        # User scenarios first: their triggers win over the built-in ones.
        return [*self.scenario_paths, *([builtin_scenarios()] if self.builtin_scenarios else [])]


@dataclass
class Runtime:
    """One server's state: what handlers reach through `request.app[RUNTIME]`."""

    config: EmulatorConfig
    schemas: SchemaSet
    engine: Engine
    journal: Journal
    apis: dict[str, VendorApi] = field(default_factory=dict)
    # Injected faults: the scenarios' and those added at run time (empty: no cost per request).
    faults: FaultSet = field(default_factory=FaultSet)
    # What every credential is judged by (token and cookie lifetimes, a signature's date):
    # the wall clock, as the real systems do, never the emulator clock. A jump of a virtual
    # clock stands for time in which a real client would have kept its session alive, so it
    # must not expire a credential by itself (`expire_credentials` does that on purpose).
    wall_clock: Callable[[], float] = time.time

    @property
    def validate(self) -> ValidationMode:
        return self.config.validate

    def reset(self) -> None:
        self.engine.reset()
        self.journal.clear()
        self.faults.reset()
        end_delays(self.faults)
        for api in self.apis.values():
            api.reset()

    def expire_credentials(self, api: str | None = None) -> list[str]:
        """Expire every credential issued so far by `api` (None: by every API), so that its
        next use gets the vendor's own "expired" answer and a client's re-login path runs.
        Credentials issued afterwards are valid as usual. Returns the APIs it was done for."""
        names = sorted(self.apis) if api is None else [api]
        for name in names:
            self.apis[name].expire_credentials()
        return names


RUNTIME = web.AppKey("task_emulator_runtime", Runtime)


def load_schemas() -> SchemaSet:
    return SchemaSet(builtin_schemas())


def load_scenarios(config: EmulatorConfig, schemas: SchemaSet) -> Catalog:
    """The scenarios `config` names; raises ScenarioError listing every mistake."""
    return load_catalog(config.scenario_sources(), API_CLASSES, schemas, shipped=[builtin_scenarios()])


def build_runtime(
    config: EmulatorConfig, *, schemas: SchemaSet | None = None, catalog: Catalog | None = None
) -> Runtime:
    """A server's state. `schemas` and `catalog`, when given, are used as they are (both are
    immutable, so servers of one test session can share what was loaded once)."""
    if schemas is None:
        schemas = load_schemas()
    if catalog is None:
        catalog = load_scenarios(config, schemas)
    engine = Engine(
        catalog,
        API_CLASSES,
        lambda: make_clock(config.clock, time_scale=config.time_scale, start=config.clock_start),
        seed=config.seed,
        task_limit=config.task_limit,
    )
    for yours, builtin in catalog.replaced:
        log.info(
            "scenario %s/%s from %s replaces the built-in scenario %s/%s (%s)",
            yours.api, yours.name, yours.source, builtin.api, builtin.name, builtin.source.file,
        )
    declared = [fault for scenario in catalog.scenarios.values() for fault in scenario.faults]
    runtime = Runtime(config, schemas, engine, Journal(config.journal_limit), faults=FaultSet(declared, config.seed))
    for name, api_class in API_CLASSES.items():
        settings = api_settings(api_class, config.api_settings.get(name, EMPTY), schemas)
        runtime.apis[name] = api_class(runtime, settings)
    return runtime


def api_settings(
    api_class: type[VendorApi], overrides: Mapping[str, Any], schemas: SchemaSet
) -> Mapping[str, Any]:
    """`api_class`'s built-in settings with `overrides` in their place, checked against the
    API's settings schema and its own rules. SettingsError says where and what is wrong."""
    settings = {**api_class.default_settings, **overrides}
    if not overrides:  # the built-in settings are checked by a test
        return settings
    schema = f"{api_class.name}/settings.schema.json"
    if schema in schemas:
        for error in sorted(schemas.errors(schema, settings), key=lambda e: list(map(str, e.absolute_path))):
            path, message = explain_schema_error(error)
            key_path = (api_class.name, *path)
            raise SettingsError(key_path, f"settings {format_path(key_path)}: {message}")
    for path, message in api_class.settings_problems(settings):
        key_path = (api_class.name, *path)
        raise SettingsError(key_path, f"settings {format_path(key_path)}: {message}")
    return settings


def create_app(config: EmulatorConfig | None = None, runtime: Runtime | None = None) -> web.Application:
    """The emulator as an aiohttp application. Raises ScenarioError or ConfigError when the
    scenarios or settings are wrong, so a server never starts half-loaded."""
    from .control import control_app

    if runtime is None:
        runtime = build_runtime(config or EmulatorConfig())
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[RUNTIME] = runtime
    for api in runtime.apis.values():
        app.add_routes(
            web.RouteDef(r.method, r.path, journaled(runtime, api.name, r.handler), r.kwargs) for r in api.routes()
        )
    app.add_subapp(CONTROL_PREFIX, control_app(runtime))
    # aiohttp sends on_shutdown before it waits for the requests in flight.
    app.on_shutdown.append(functools.partial(_stop_holding, runtime))
    # Last, so it only gets what no vendor or control route takes: still journaled, and
    # still hit by faults that match every request.
    app.router.add_route("*", "/{tail:.*}", journaled(runtime, None, no_route))
    return app


async def _stop_holding(runtime: Runtime, app: web.Application) -> None:
    """Requests an API holds (Ops Center's x-waitTime) are answered at once, not after
    their wait (or aiohttp's shutdown timeout)."""
    for api in runtime.apis.values():
        api.shutdown()


async def no_route(request: web.Request) -> web.StreamResponse:
    """aiohttp's own 404, or its 405 when the path is a route's with other methods."""
    allowed = await methods_elsewhere(request)
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()


async def methods_elsewhere(request: web.Request) -> set[str]:
    """The methods the other routes of the request's router allow on its path (the router
    passes over a route whose path fits but whose method does not, to reach a fallback)."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is not request.match_info.route.resource and not isinstance(resource, web.PrefixedSubAppResource):
            allowed |= (await resource.resolve(request))[1]
    return allowed


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def journaled(runtime: Runtime, api: str | None, handler: Handler) -> Handler:
    """`handler`, one of `api`'s routes (None: a path no API has), with its requests
    recorded in the journal (with the answer's status) and injected faults applied. A
    wrapper per route, not a middleware: a middleware anywhere in the application makes
    aiohttp build and run a middleware chain for every request, a tenth of a poll's cost."""

    @functools.wraps(handler)
    async def journal(request: web.Request) -> web.StreamResponse:
        if runtime.faults:  # the only cost of fault injection when there is none
            return await _with_faults(request, guarded(runtime, api, handler), runtime, api)
        try:
            response = await handler(request)
        except web.HTTPException as error:
            _record(runtime, request, await _body(request), api, error.status)
            raise
        except TaskRefused as error:  # free on the way that raises nothing (Python 3.11)
            response = refused(runtime, request, api, error)
        except Exception:  # a bug
            response = crashed(runtime, request, api)
        # `body_exists` looked at here as well: a poll has none, and makes no coroutine to read it.
        _record(runtime, request, await _body(request) if request.body_exists else b"", api, response.status)
        return response

    return journal


def guarded(runtime: Runtime, api: str | None, handler: Handler) -> Handler:
    """`handler`, a bug in it answered as `crashed` does (for the fault path, whose
    applying code calls the handler itself)."""

    async def answer(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except TaskRefused as error:
            return refused(runtime, request, api, error)
        except Exception:
            return crashed(runtime, request, api)

    return answer


def refused(runtime: Runtime, request: web.Request, api: str | None, error: TaskRefused) -> web.StreamResponse:
    """A vendor request that would make a task past the server's bounds: the vendor's own
    error body (503 when the task limit is reached, as a server out of room answers; 500
    for fields too large, since no vendor documents a limit), and a log line saying which
    bound and how to change it."""
    log.warning("%s %s refused: %s", request.method, request.path, error)
    vendor = runtime.apis.get(api) if api is not None else None
    status = 503 if error.status == 429 else 500
    if vendor is None:
        return web.Response(status=status, text=str(error))
    return vendor.error_response(request, status, None)


def crashed(runtime: Runtime, request: web.Request, api: str | None) -> web.StreamResponse:
    """The answer to a request whose handler raised by mistake: logged with its traceback
    (the method and path, never the headers or body, which may hold credentials), then
    the vendor's own 500 body, journaled like any answer. A streamed answer already under
    way cannot be replaced: the error goes on to aiohttp, which ends the connection so the
    client sees a broken answer, never a clean short one."""
    log.exception("bug: %s %s raised instead of answering", request.method, request.path)
    writer = request.writer
    if writer is not None and writer.output_size > 0:
        raise  # noqa: PLE0704 - called from an except block: re-raises the error being handled
    vendor = runtime.apis.get(api) if api is not None else None
    if vendor is None:
        return web.Response(status=500, text="500 Internal Server Error\n\nServer got itself in trouble")
    return vendor.error_response(request, 500, None)


async def _with_faults(
    request: web.Request, handler: Handler, runtime: Runtime, api: str | None
) -> web.StreamResponse:
    try:
        outcome = await serve_with_faults(request, handler, runtime.faults, runtime.apis, api)
    except web.HTTPException as error:
        _record(runtime, request, await _body(request), api, error.status)
        raise
    fault = outcome.fault.kind if outcome.fault else None
    _record(runtime, request, await _body(request), api, outcome.status, fault)
    return outcome.response


async def _body(request: web.Request) -> bytes:
    """The request's body as the journal keeps it. Not read for a method that takes none: a
    client that sends one anyway (and then stalls) holds neither the answer nor memory."""
    if not request.body_exists or request.method in ("GET", "HEAD"):
        return b""
    try:
        return await request.read()  # cached by aiohttp when the handler read it
    except web.HTTPException:  # too large: the journal keeps no body
        return b""


def _record(
    runtime: Runtime, request: web.Request, body: bytes, api: str | None, status: int | None,
    fault: str | None = None,
) -> None:
    runtime.journal.record(
        time=runtime.engine.clock.now(),
        api=api,
        task=request.get(JOURNAL_TASK),
        method=request.method,
        # The parsed URL and headers, not copies or parts: the journal reads them only when
        # it is read.
        url=request.rel_url,
        headers=request.headers,
        body=body,
        status=status,
        violation=request.get(JOURNAL_VIOLATION),
        fault=fault,
    )


__all__ = ["RUNTIME", "EmulatorConfig", "Runtime", "__version__", "build_runtime", "create_app"]
