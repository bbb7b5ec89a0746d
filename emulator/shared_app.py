"""A server whose tasks live in a shared Redis store: the store made and started with the
application, and vendor routes that answer the vendor's own 503 while Redis is away."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from .shared import SharedStore, StoreUnavailable, TaskGone
from .state import Runtime

log = logging.getLogger("task_emulator")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def attach_store(
    app: web.Application, runtime: Runtime
) -> Callable[[Runtime, str | None, Handler], Handler]:
    """Give `runtime` its shared store (started when the application starts, retried on the
    first request if Redis is not there yet) and return the wrapper for vendor routes."""
    assert runtime.config.store is not None
    store = SharedStore(runtime.config.store, runtime.engine)
    runtime.shared = store
    state = {"started": False}

    async def ensure_started() -> None:
        if not state["started"]:
            await store.start()
            state["started"] = True

    async def on_startup(app: web.Application) -> None:
        try:
            await ensure_started()
        except StoreUnavailable as error:
            log.warning("%s; serving 503 until it answers", error)

    async def on_cleanup(app: web.Application) -> None:
        await store.close()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)

    def wrap(runtime: Runtime, api: str | None, handler: Handler) -> Handler:
        vendor = runtime.apis[api] if api is not None else None

        async def shared(request: web.Request) -> web.StreamResponse:
            try:
                await ensure_started()
                try:
                    return await handler(request)
                except TaskGone:  # a task reset away by another replica: look again
                    return await handler(request)
            except StoreUnavailable as error:
                log.warning("%s %s: %s", request.method, request.path, error)
                if vendor is None:
                    return web.Response(status=503, text="503 Service Unavailable")
                return vendor.error_response(request, 503, None)

        return shared

    return wrap
