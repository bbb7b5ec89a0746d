"""A load balancer for tests: nginx's round-robin over local replicas, in-process."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Self

from .serve_process import ServeProcess

# Bounds: connections a proxy takes in all, and seconds a connection may stay silent.
PROXY_CONNECTIONS = 400
PROXY_IDLE = 10.0


class RoundRobinProxy:
    """Each new connection to 127.0.0.1:<port> goes to the next backend in turn, its bytes
    copied both ways: nginx's round-robin, in-process. At most PROXY_CONNECTIONS
    connections, each closed after PROXY_IDLE seconds without a byte."""

    def __init__(self, backends: list[int]) -> None:
        self._next = itertools.cycle(backends)
        self.sent_to: Counter[int] = Counter()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> Self:
        self._thread.start()
        assert self._ready.wait(10), "the proxy did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._connection, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            # Every connection ended before the loop closes: one still pending would be
            # collected later, on a closed loop, and its warning land in another test.
            tasks = asyncio.all_tasks(self._loop)
            for task in tasks:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if sum(self.sent_to.values()) >= PROXY_CONNECTIONS:
            writer.close()
            return
        backend = next(self._next)
        self.sent_to[backend] += 1
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", backend), 5)
        except (OSError, TimeoutError):
            writer.close()
            return
        try:
            await asyncio.gather(_copy(reader, up_writer), _copy(up_reader, writer))
        finally:
            writer.close()
            up_writer.close()


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Bytes from `source` to `sink` until the end (passed on as a half close) or an error
    (the connection then closed both ways)."""
    try:
        while data := await asyncio.wait_for(source.read(65536), PROXY_IDLE):
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except (OSError, TimeoutError):
        sink.close()


@contextmanager
def behind_a_balancer(
    starts: Iterable[Callable[[], ServeProcess]],
) -> Iterator[tuple[RoundRobinProxy, list[ServeProcess]]]:
    """Replicas (each started by one of `starts`) once healthy, behind a RoundRobinProxy;
    each stopped cleanly (exit 0) after, and closed however the test ended."""
    replicas: list[ServeProcess] = []
    try:
        for start in starts:
            replicas.append(start())
        for replica in replicas:
            replica.wait_healthy()
        with RoundRobinProxy([replica.port for replica in replicas]) as proxy:
            yield proxy, replicas
        for replica in replicas:
            assert replica.stop() == 0
    finally:
        for replica in replicas:
            replica.close()
