"""Emulator servers on a background event-loop thread, for code that polls them
synchronously (`requests`, vendor SDKs) from the calling thread.

A `LoopThread` is one event loop on one thread; any number of `EmulatorServer`s can live on
it, which is how the pytest plugin gives every test a fresh server without starting a thread
per test. A server binds port 0 on 127.0.0.1 and reads the real port back, so parallel runs
never race for a port. `call()` runs a function on the server's loop, so the calling thread
never touches the engine while a request is being answered.

It starts as `task-emulator serve` does (`service.EmulatorService`), and stopping it ends
every delayed or dribbled answer at once: a test's tear-down never waits out an injected
latency.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

from .config import EmulatorConfig
from .service import EmulatorService
from .serving import ServeLimits
from .state import Runtime

T = TypeVar("T")
TIMEOUT = 30.0
# What answers still in flight get when a server stops, well under TIMEOUT.
STOP_GRACE = 5.0


class LoopThread:
    """An asyncio event loop running on a daemon thread until `stop()`."""

    def __init__(
        self, name: str = "task-emulator", loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    ) -> None:
        self.loop = (loop_factory or asyncio.new_event_loop)()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the loop and wait for its result (from another thread)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=TIMEOUT)

    def call(self, function: Callable[[], T]) -> T:
        async def run() -> T:
            return function()

        return self.run(run())

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=TIMEOUT)


class EmulatorServer:
    """An emulator started as every server is (`service.EmulatorService`), run from a loop
    thread: listening on `host` (port 0: a free port).

    Without a `loop_thread` it makes its own and stops it with the server.
    """

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        app: web.Application | None = None,
        loop_thread: LoopThread | None = None,
        limits: ServeLimits | None = None,
    ) -> None:
        limits = limits or ServeLimits(shutdown_grace=STOP_GRACE)
        served = app if app is not None else config
        self._service = EmulatorService(served, limits, host=host, port=port, access_log=False)
        self._loop_thread = loop_thread
        self._owns_loop = loop_thread is None

    @property
    def app(self) -> web.Application:
        return self._service.app

    @property
    def host(self) -> str:
        return self._service.host

    @property
    def port(self) -> int | None:
        """The port while listening, else None."""
        return self._service.port

    @property
    def runtime(self) -> Runtime:
        return self._service.runtime

    @property
    def url(self) -> str:
        return self._service.url

    def start(self) -> EmulatorServer:
        if self._loop_thread is None:
            self._loop_thread = LoopThread()
        self._loop_thread.run(self._service.start())  # at once when listening already
        return self

    def call(self, function: Callable[[], T]) -> T:
        """Run `function` on the server's loop (where the engine lives) and return its result."""
        if self._loop_thread is None:
            return function()
        return self._loop_thread.call(function)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the server's loop (where its store is used) and return its result."""
        if self._loop_thread is None:
            raise RuntimeError("the server is not started")
        return self._loop_thread.run(coroutine)

    def stop(self) -> None:
        """Stop the server: delayed and dribbled answers end at once, other requests in flight
        get STOP_GRACE seconds to finish. Calling it twice is harmless."""
        loop_thread = self._loop_thread
        if self.port is None or loop_thread is None:
            return
        loop_thread.run(self._service.stop())
        if self._owns_loop:
            loop_thread.stop()
            self._loop_thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
