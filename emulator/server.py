"""Emulator servers on a background event-loop thread, for code that polls them
synchronously (`requests`, vendor SDKs) from the calling thread.

A `LoopThread` is one event loop on one thread; any number of `EmulatorServer`s can live on
it, which is how the pytest plugin gives every test a fresh server without starting a thread
per test. A server binds port 0 on 127.0.0.1 and reads the real port back, so parallel runs
never race for a port. `call()` runs a function on the server's loop, so the calling thread
never touches the engine while a request is being answered.

It is served by `serving.Listener`, as `task-emulator serve` is, and stopping it ends every
delayed or dribbled answer at once: a test's tear-down never waits out an injected latency.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

from .app import create_app
from .config import EmulatorConfig
from .serving import Listener, ServeLimits
from .state import RUNTIME, Runtime

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
    """One emulator, listening on `host` (port 0: a free port), served from a loop thread.

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
        self.app = app if app is not None else create_app(config or EmulatorConfig())
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self._loop_thread = loop_thread
        self._owns_loop = loop_thread is None
        self._limits = limits or ServeLimits(shutdown_grace=STOP_GRACE)
        self._listener: Listener | None = None

    @property
    def runtime(self) -> Runtime:
        return self.app[RUNTIME]

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmulatorServer:
        if self._listener is not None:
            return self
        if self._loop_thread is None:
            self._loop_thread = LoopThread()
        self.port = self._loop_thread.run(self._start())
        return self

    async def _start(self) -> int:
        listener = Listener(self.app, self._limits, access_log=False)
        sock = socket.create_server((self.host, self._requested_port))
        port = await listener.start(sock=sock)
        self._listener = listener
        return port

    def call(self, function: Callable[[], T]) -> T:
        """Run `function` on the server's loop (where the engine lives) and return its result."""
        if self._loop_thread is None:
            return function()
        return self._loop_thread.call(function)

    def stop(self) -> None:
        """Stop the server: delayed and dribbled answers end at once, other requests in flight
        get STOP_GRACE seconds to finish. Calling it twice is harmless."""
        listener, loop_thread = self._listener, self._loop_thread
        if listener is None or loop_thread is None:
            return
        self._listener = None
        self.port = None
        loop_thread.run(listener.stop())
        if self._owns_loop:
            loop_thread.stop()
            self._loop_thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
