"""One emulator served on one address: the way every server starts, whether `task-emulator
serve` runs it, the test fixtures do (`server.EmulatorServer`, from a loop thread) or the
benchmark does. The application is built from a configuration (or given), and served by
`serving.Listener` under `ServeLimits`: `start()` listens and reads the port back, `stop()`
stops as the Listener does, and `async with` does both. What each caller keeps is its own:
the CLI its signals, banner and event loop, the fixture its loop thread, the benchmark what
it measures.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Self

from aiohttp import web

from .app import create_app
from .config import EmulatorConfig
from .errors import ConfigError
from .serving import Listener, ServeLimits
from .state import RUNTIME, Runtime


class EmulatorService:
    """`served` (an application, or the configuration `create_app` builds one from; None:
    the defaults) on `host`:`port`, or on the listening socket `sock`, under `limits`. Port
    0 is a free port, the real one read back once listening. An access-log line a request
    unless `access_log` is False."""

    def __init__(
        self,
        served: web.Application | EmulatorConfig | None = None,
        limits: ServeLimits | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        sock: socket.socket | None = None,
        access_log: bool = True,
    ) -> None:
        self.app = served if isinstance(served, web.Application) else create_app(served or EmulatorConfig())
        self.host = host
        self.limits = limits or ServeLimits()
        self.port: int | None = None  # while listening
        self._requested_port = port
        self._sock = sock
        self._access_log = access_log
        self._listener: Listener | None = None

    @property
    def runtime(self) -> Runtime:
        return self.app[RUNTIME]

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server is not started")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> int:
        """Listen; returns the port (at once when listening already). ConfigError when it
        cannot (the port is taken, the address is not this machine's)."""
        if self._listener is not None:
            if self.port is None:
                raise RuntimeError("the server is stopping")
            return self.port
        listener = Listener(self.app, self.limits, access_log=self._access_log)
        sock = self._sock
        try:
            if sock is None and not self._requested_port:
                sock = _free_port_socket(self.host)
            self.port = await listener.start(self.host, self._requested_port, sock=sock)
        except BaseException as error:
            if sock is not None and sock is not self._sock:
                sock.close()
            if isinstance(error, OSError):
                where = f"{self.host}:{self._requested_port}"
                raise ConfigError(f"cannot listen on {where}: {error.strerror or error}") from None
            raise
        self._listener = listener
        return self.port

    async def stop(self) -> list[str]:
        """Stop as `Listener.stop` does, within the limits' shutdown grace; the requests
        whose answers were cut short. Calling it again is harmless."""
        listener = self._listener
        if listener is None or self.port is None:  # not listening, or stopping already
            return []
        self.port = None
        try:
            return await listener.stop()
        finally:
            self._listener = None

    def hurry(self) -> None:
        """End the grace period of a `stop()` now, or make the next one have none."""
        if self._listener is not None:
            self._listener.hurry()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


def _free_port_socket(host: str) -> socket.socket:
    """A socket bound to a free port of `host`: one socket, so the port read back is the
    one port (listening on every address `host` resolves to, each would get its own), of
    the family of `host` (IPv6 for an IPv6 address), as aiohttp's BaseTestServer binds."""
    try:
        ipv6 = ipaddress.ip_address(host).version == 6
    except ValueError:  # a name, or "" for every interface
        ipv6 = False
    return socket.create_server((host, 0), family=socket.AF_INET6 if ipv6 else socket.AF_INET)
