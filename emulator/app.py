"""The aiohttp application: a server's state (`emulator.state`) in, vendor routes and the
control API out, every vendor request journaled and open to injected faults.
`create_app(config)` is the one way in, for the CLI, the test fixtures and the benchmark."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from .config import EmulatorConfig
from .control import control_app
from .errors import TaskGone, TaskRefused
from .fault_http import end_delays, serve_with_faults
from .requestkeys import JOURNAL_TASK, JOURNAL_VIOLATION
from .routing import CONTROL_PREFIX, no_route
from .state import RUNTIME, Runtime, build_runtime
from .store import MemoryStore, StoreUnavailable

# Requests bigger than this are refused before any handler reads them.
MAX_BODY_BYTES = 1024 * 1024

log = logging.getLogger("task_emulator")


def create_app(config: EmulatorConfig | None = None, runtime: Runtime | None = None) -> web.Application:
    """The emulator as an aiohttp application. Raises ScenarioError or ConfigError when the
    scenarios or settings are wrong, so a server never starts half-loaded."""
    if runtime is None:
        runtime = build_runtime(config or EmulatorConfig())
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[RUNTIME] = runtime
    # A memory store never loses a task a route found; a shared one can (see again_if_gone).
    shared = not isinstance(runtime.store, MemoryStore)
    for api in runtime.apis.values():
        app.add_routes(
            web.RouteDef(
                r.method, r.path, journaled(runtime, api.name, again_if_gone(r.handler) if shared else r.handler),
                r.kwargs,
            )
            for r in api.routes()
        )
    app.add_subapp(CONTROL_PREFIX, control_app(runtime))
    # On on_shutdown, not in a cleanup_ctx: aiohttp (and serving.Listener, with its grace
    # period) waits for the requests in flight after on_shutdown and before the clean-up,
    # and an answer held back would hold that wait for as long as it was told to.
    app.on_shutdown.append(functools.partial(_let_go, runtime))
    app.cleanup_ctx.append(functools.partial(_store_open, runtime))
    # Last, so it only gets what no vendor or control route takes: still journaled, and
    # still hit by faults that match every request.
    app.router.add_route("*", "/{tail:.*}", journaled(runtime, None, no_route))
    return app


async def _store_open(runtime: Runtime, app: web.Application) -> AsyncIterator[None]:
    """The store's connections and listeners, open as long as the application (closed after
    the requests in flight, which may still use them)."""
    await runtime.store.open()  # on a shared store, what every replica shares read first
    yield
    await runtime.store.close()


async def _let_go(runtime: Runtime, app: web.Application) -> None:
    """The server is stopping: every answer held back is let go now, not after its wait (or
    the grace period). A request an API holds (Ops Center's x-waitTime) is answered with what
    it has; one a latency fault holds back becomes a 503, a slow_body dribble is cut."""
    end_delays(runtime.faults)
    for api in runtime.apis.values():
        api.shutdown()


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
        except StoreUnavailable as error:
            response = unavailable(runtime, request, api, error)
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
        except StoreUnavailable as error:
            return unavailable(runtime, request, api, error)
        except Exception:
            return crashed(runtime, request, api)

    return answer


def again_if_gone(handler: Handler) -> Handler:
    """`handler` answering once more from the start when it found a task and then could not
    read it (on a shared store, another replica reset the tasks in between, or since this one
    last saw the task). The store has forgotten the task by then, so the route's lookup finds
    nothing and it answers as its vendor answers an unknown id. A route that made a task and
    lost it before its first look makes another: as if the request had come after the reset."""

    @functools.wraps(handler)
    async def answer(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except TaskGone:
            return await handler(request)

    return answer


def refused(runtime: Runtime, request: web.Request, api: str | None, error: TaskRefused) -> web.StreamResponse:
    """A vendor request that would make a task past the server's bounds: the vendor's own
    error body (503 when the task limit is reached, as a server out of room answers; 500
    for fields too large, since no vendor documents a limit), and a log line saying which
    bound and how to change it."""
    log.warning("%s %s refused: %s", request.method, request.path, error)
    return _vendor_error(runtime, request, api, 503 if error.status == 429 else 500, None, str(error))


def unavailable(runtime: Runtime, request: web.Request, api: str | None, error: StoreUnavailable) -> web.StreamResponse:
    """A request that needs the shared store while it cannot be reached: the vendor's own
    503 (as a vendor whose database is down answers), asked to come back in a second."""
    log.warning("%s %s: %s", request.method, request.path, error)
    return _vendor_error(runtime, request, api, 503, 1, str(error))


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
    return _vendor_error(runtime, request, api, 500, None, "500 Internal Server Error\n\nServer got itself in trouble")


def _vendor_error(
    runtime: Runtime, request: web.Request, api: str | None, status: int, retry_after: int | None, plain: str
) -> web.StreamResponse:
    """`api`'s own error answer for `status` (with `Retry-After` when given); `plain` as
    text for a path no API has."""
    vendor = runtime.apis.get(api) if api is not None else None
    if vendor is None:
        headers = None if retry_after is None else {"Retry-After": str(retry_after)}
        return web.Response(status=status, text=plain, headers=headers)
    return vendor.error_response(request, status, retry_after)


async def _with_faults(
    request: web.Request, handler: Handler, runtime: Runtime, api: str | None
) -> web.StreamResponse:
    try:
        outcome = await serve_with_faults(request, handler, runtime.faults, runtime.apis, api, runtime.fault_claim)
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


__all__ = ["RUNTIME", "EmulatorConfig", "Runtime", "build_runtime", "create_app"]
