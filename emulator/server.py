"""An emulator server on its own event-loop thread, for code that polls it synchronously
(`requests`, vendor SDKs) from the calling thread.

It binds port 0 on 127.0.0.1 and reads the real port back, so parallel test runs never race
for a port. `call()` runs a function on the server's loop, so the caller never touches the
engine from a second thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
from typing import Any, Callable, TypeVar

from aiohttp import web

from .app import RUNTIME, EmulatorConfig, Runtime, create_app

T = TypeVar("T")


class EmulatorServer:
    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = create_app(config or EmulatorConfig())
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def runtime(self) -> Runtime:
        return self.app[RUNTIME]

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmulatorServer:
        if self._thread is not None:
            return self
        started: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name="task-emulator", daemon=True
        )
        self._thread.start()
        self.port = started.result(timeout=30)
        return self

    def _run(self, started: concurrent.futures.Future[int]) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
            loop.run_until_complete(self._runner.setup())
            sock = socket.create_server((self.host, self._requested_port))
            loop.run_until_complete(web.SockSite(self._runner, sock).start())
            started.set_result(sock.getsockname()[1])
        except BaseException as error:  # reported to start(), which re-raises it
            started.set_exception(error)
            loop.close()
            return
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def call(self, function: Callable[[], T]) -> T:
        """Run `function` on the server's loop (where the engine lives) and return its result."""
        loop = self._loop
        if loop is None or self._thread is None:
            return function()

        async def run() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=30)

    def stop(self) -> None:
        """Stop the server; in-flight requests finish first. Calling it twice is harmless."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        self._loop = None
        self.port = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
