"""The emulator on a TCP port, with the limits a server shared by a CI fleet or a load test
needs, and a stop that never passes a cut answer off as a whole one.

- At most `max_connections` connections are served at once. One more is answered
  `503 Service Unavailable` and closed, and the log says so (a line every 10 s at most).
- A request, head and body, must come in whole within `read_timeout` of its first byte (a
  new connection's first request: of the connection). A head that does not is answered
  `408` and the connection closed; a body that does not makes the handler's read fail with
  `408`. A connection with no request in progress is closed after `idle_timeout`.
- `Listener.stop()` takes no new connections, sends the application's `on_shutdown` (as
  aiohttp does before it waits for the requests in flight: what the application holds back
  is let go there), closes the idle connections and gives the answers in flight
  `shutdown_grace` seconds to reach their clients (written and flushed, not only handed to
  the loop). One still going then is cut with a TCP reset: its client sees an error, never
  a clean end of a short body. The application's `cleanup_ctx` and `on_cleanup` come last.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web
from aiohttp.streams import EMPTY_PAYLOAD, StreamReader
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger("task_emulator")

# Refused connections kept open for a moment after their 503 (see _Refused), at most this
# many at once: past that a refusal is a bare reset, so refusing costs no more descriptors.
MAX_REFUSING = 128
REFUSED_LINGER = 0.5
# Descriptors the process needs besides its connections (listening sockets, files, pipes).
SPARE_FILES = 64
# How long aiohttp's own clean-up may wait for a handler once its connection is cut.
CANCEL_WAIT = 0.25
LOG_EVERY = 10.0

_REFUSAL_BODY = b'{"error": "the emulator is serving as many connections as it may (--max-connections)"}\n'
REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(_REFUSAL_BODY)
) + _REFUSAL_BODY
REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


@dataclass(frozen=True)
class ServeLimits:
    """The bounds a server keeps; the defaults are `task-emulator serve`'s."""

    max_connections: int = 1000
    read_timeout: float = 15.0
    idle_timeout: float = 75.0
    shutdown_grace: float = 5.0

    def __post_init__(self) -> None:
        if self.max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {self.max_connections!r}")
        for name in ("read_timeout", "idle_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {getattr(self, name)!r}")
        if not self.shutdown_grace >= 0:
            raise ValueError(f"shutdown_grace must be 0 or more seconds, not {self.shutdown_grace!r}")


class Throttled:
    """A log line that is written at most once every `every` seconds; the next one written
    says how many were left out meanwhile."""

    def __init__(self, every: float = LOG_EVERY) -> None:
        self._every = every
        self._next = 0.0
        self._skipped = 0

    def __call__(self, level: int, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now < self._next:
            self._skipped += 1
            return
        self._next = now + self._every
        if self._skipped:
            message += f" (and {self._skipped} more since the last such line)"
            self._skipped = 0
        log.log(level, message, *args)


def reset_connection(transport: asyncio.BaseTransport) -> None:
    """Close at once with a TCP reset (SO_LINGER 0): whatever was not sent is dropped and the
    client's next read fails, so it cannot take what it got for the whole answer."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    cast(asyncio.Transport, transport).abort()


class Listener:
    """An aiohttp application served under `limits`, on one listening address."""

    def __init__(self, app: web.Application, limits: ServeLimits | None = None, *, access_log: bool = True) -> None:
        self.limits = limits or ServeLimits()
        # The same arguments reach aiohttp's runner (for its own handlers, if any) and ours.
        self._handler_args: dict[str, Any] = {"keepalive_timeout": self.limits.idle_timeout}
        if not access_log:
            self._handler_args["access_log"] = None
        self._runner = _Runner(app, handle_signals=False, shutdown_timeout=CANCEL_WAIT, **self._handler_args)
        self._site: _Site | None = None
        self._connections: set[_Guarded] = set()
        self._refusing = 0
        self._stopping = False
        self._hurried = False
        self._drained: asyncio.Future[None] | None = None
        self.refusals = Throttled()
        self.timeouts = Throttled()

    async def start(self, host: str | None = None, port: int = 0, *, sock: socket.socket | None = None) -> int:
        """Listen on `sock`, or on `host`:`port`; returns the port. OSError: cannot listen."""
        await self._runner.setup()
        self._site = _Site(self, host, port, sock)
        try:
            await self._site.start()
        except BaseException:
            self._site = None
            await self._runner.cleanup()
            raise
        return self._site.port

    @property
    def connections(self) -> int:
        return len(self._connections)

    async def stop(self, grace: float | None = None) -> list[str]:
        """Stop: see the module's doc. Returns the requests whose answers were cut short
        (`hurry()` ends the grace period at once)."""
        if grace is None:
            grace = self.limits.shutdown_grace
        self._stopping = True
        if self._site is not None:
            await self._site.stop()
            self._site = None
        await self._runner.shutdown()
        self._drained = asyncio.get_running_loop().create_future()
        if self._hurried:
            self._drained.set_result(None)
        for connection in list(self._connections):
            connection.finish_up()
        if self._connections and not self._drained.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._drained), grace)
            except TimeoutError:
                pass
        cut = [connection.cut() for connection in list(self._connections)]
        await self._runner.cleanup()
        return cut

    def hurry(self) -> None:
        """End the grace period of a `stop()` now, or make the next one have none."""
        self._hurried = True
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # ---- connections ---------------------------------------------------------------------

    def _protocol(self) -> asyncio.Protocol:
        if len(self._connections) >= self.limits.max_connections or self._stopping:
            return _Refused(self)
        return _Guarded(self)

    def _opened(self, connection: _Guarded) -> None:
        self._connections.add(connection)

    def _closed(self, connection: _Guarded) -> None:
        self._connections.discard(connection)
        if not self._connections and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)


class _Runner(web.AppRunner):
    """aiohttp's AppRunner, sending the application's `on_shutdown` once: `Listener.stop`
    sends it before the grace period, where aiohttp's `cleanup()` would send it again."""

    __slots__ = ("_shut_down",)

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._shut_down = False

    async def shutdown(self) -> None:
        if not self._shut_down:
            self._shut_down = True
            await super().shutdown()


class _Site(web.BaseSite):
    """aiohttp's TCPSite/SockSite, with our protocol factory in place of aiohttp's."""

    def __init__(self, listener: Listener, host: str | None, port: int, sock: socket.socket | None) -> None:
        super().__init__(listener._runner)
        self._listener = listener
        self._host = host
        self._port = port
        self._sock = sock

    @property
    def name(self) -> str:
        return f"http://{self._host or '0.0.0.0'}:{self.port}"

    @property
    def port(self) -> int:
        server = self._server
        sockets = server.sockets if isinstance(server, asyncio.Server) else getattr(server, "sockets", ())
        return int(sockets[0].getsockname()[1]) if sockets else self._port

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        factory = self._listener._protocol
        if self._sock is not None:
            self._server = await loop.create_server(factory, sock=self._sock, backlog=self._backlog)
        else:
            self._server = await loop.create_server(factory, self._host, self._port, backlog=self._backlog)


class _Refused(asyncio.Protocol):
    """A connection over the limit: a 503, then a close. The close waits a moment, reading
    and dropping what the client sends, because closing a socket with unread data sends a
    reset, which could reach the client before it has read the 503."""

    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        listener = self._listener
        listener._refusing += 1
        if listener._stopping:
            reset_connection(transport)
            return
        listener.refusals(
            logging.WARNING, "refused a connection: %d are open, the most --max-connections allows",
            listener.limits.max_connections,
        )
        if listener._refusing > MAX_REFUSING:
            reset_connection(transport)
            return
        stream = cast(asyncio.Transport, transport)
        stream.write(REFUSAL)
        if stream.can_write_eof():
            stream.write_eof()
        self._timer = asyncio.get_running_loop().call_later(REFUSED_LINGER, stream.close)

    def data_received(self, data: bytes) -> None:
        pass  # dropped: see the class's doc

    def eof_received(self) -> bool:
        return False  # the client is done too: close now

    def connection_lost(self, exc: Exception | None) -> None:
        self._listener._refusing -= 1
        if self._timer is not None:
            self._timer.cancel()


class _Guarded(RequestHandler):
    """aiohttp's connection handler, with a deadline on receiving each request.

    The deadline is set by the first bytes of a request (or by the connection's opening) and
    cleared once the request is in whole; the timer behind it is made once and moved, not
    remade, so a keep-alive connection's polls make no timers at all."""

    __slots__ = ("_body", "_deadline", "_heard", "_listener", "_message", "_timer")

    def __init__(self, listener: Listener) -> None:
        server = listener._runner.server
        assert server is not None
        super().__init__(server, loop=asyncio.get_running_loop(), **listener._handler_args)
        self._listener = listener
        self._deadline = 0.0  # 0: no request is being received
        self._timer: asyncio.TimerHandle | None = None
        self._body: StreamReader | None = None  # of a request whose head is in, not its body
        self._heard = False  # whether the request being received has sent anything
        self._message: Any = None  # the last request's head, to name it in the log
        # Counted from here, not from connection_made: a loop may accept several connections
        # (calling the factory for each) before any of them is told it is connected.
        listener._opened(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self._listener._stopping:  # accepted just before the listening socket closed
            self.force_close()
            return
        self._arm()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._listener._closed(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        count = self._request_count
        super().data_received(data)
        if self._request_count != count:  # a request's head came in whole
            if self._messages:
                self._message, body = self._messages[-1]
            else:
                body = EMPTY_PAYLOAD
            if body is EMPTY_PAYLOAD or body.is_eof():
                self._deadline = 0.0
                self._body = None
            else:
                self._body = body
                if not self._deadline:
                    self._arm()
        elif self._body is not None:
            if self._body.is_eof():
                self._deadline = 0.0
                self._body = None
        elif data:  # part of a head
            self._heard = True
            if not self._deadline:
                self._arm()

    def _arm(self) -> None:
        self._deadline = self._loop.time() + self._listener.limits.read_timeout
        if self._timer is None:
            self._timer = self._loop.call_at(self._deadline, self._expire)

    def _expire(self) -> None:
        self._timer = None
        deadline = self._deadline
        if not deadline or self.transport is None:
            return
        if self._loop.time() < deadline:  # moved since the timer was set
            self._timer = self._loop.call_at(deadline, self._expire)
            return
        self._deadline = 0.0
        body, self._body = self._body, None
        heard, self._heard = self._heard, False
        limit = self._listener.limits.read_timeout
        self._listener.timeouts(
            logging.INFO, "closed a connection whose request did not come in whole within %gs (--read-timeout)", limit
        )
        if body is not None and self._request_in_progress:
            # The handler (or the journal) is reading, or may read, the body: let the read
            # fail as 408, and do not linger for the rest once the answer is out.
            self._lingering_time = 0.0
            body.set_exception(web.HTTPRequestTimeout(text=f"the request body did not come in within {limit:g}s"))
        elif body is not None:
            body.feed_eof()  # ends aiohttp's lingering read of the rest
            self.force_close()
        elif self._request_in_progress or self._messages:
            self.close()  # a pipelined request half sent: none after the one in progress
        else:
            if heard:
                self.transport.write(REQUEST_TIMEOUT)
            self.force_close()

    # ---- stopping ------------------------------------------------------------------------

    def finish_up(self) -> None:
        """No request after the one in progress; an idle connection closes now (after
        whatever was written to it has gone out)."""
        if self._request_in_progress or self._messages:
            self.close()
        else:
            self.force_close()

    def cut(self) -> str:
        """Reset the connection now; returns the request it was answering, for the log."""
        message = self._message
        transport = self.transport
        if transport is not None:
            reset_connection(transport)
        self.force_close()
        return "a connection" if message is None else f"{message.method} {message.path}"


def raise_open_file_limit(max_connections: int) -> None:
    """Make the soft open-file limit room enough for `max_connections` (raising it up to the
    hard limit), or say in the log that it is not: past it a new client gets nothing."""
    try:
        import resource
    except ImportError:  # not on Windows
        return
    needed = max_connections + MAX_REFUSING + SPARE_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    except (ValueError, OSError):
        pass
    if soft < needed:
        log.warning(
            "the open-file limit (%d) is below what --max-connections %d needs (%d): lower "
            "--max-connections or raise the limit (ulimit -n)", soft, max_connections, needed,
        )
