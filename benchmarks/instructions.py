"""Instructions per request, counted by valgrind's callgrind: a figure this VM's neighbours
cannot move (the same code and inputs give the same count to a fraction of a percent),
where requests/s moved by a third between runs.

Each server runs under callgrind with counting off; after a warm-up the counting is turned
on (`callgrind_control -i on`), a fixed number of requests is sent over `connections`
keep-alive connections, counting is turned off, and the server is stopped, which writes
the total. The count is of the server process's own instructions (Python, aiohttp, the
event loop, libc): not the kernel's work on its sockets, which is about the same for every
server here, so ratios of these counts understate how close the servers are in time.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from .load import Load
from .procs import Server

WARM_UP_REQUESTS = 640
STOP_SECONDS = 120.0  # a server under valgrind shuts down slowly


def have_callgrind() -> bool:
    return shutil.which("valgrind") is not None and shutil.which("callgrind_control") is not None


def instructions_per_request(
    start: Callable[[list[str]], Server], load_for: Callable[[str], Load], *, requests: int, connections: int
) -> float:
    """Instructions the server started by `start(valgrind_command)` spends per request of
    `load_for(its base URL)`."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        server = start(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"])
        try:
            load = load_for(server.url)
            asyncio.run(_send(load, WARM_UP_REQUESTS, connections))
            _instrument(server, "on")
            sent = asyncio.run(_send(load, requests, connections))
            _instrument(server, "off")
        finally:
            server.stop(timeout=STOP_SECONDS)  # callgrind writes its totals as the process ends
        return _total(out) / sent


def _instrument(server: Server, switch: str) -> None:
    subprocess.run(["callgrind_control", "-i", switch, str(server.process.pid)], check=True, capture_output=True)


def _total(out: Path) -> int:
    """The instructions counted: callgrind writes a total line per part of its output, the
    parts before counting was switched on holding 0."""
    totals = [int(line.split()[1]) for line in out.read_text().splitlines() if line.startswith(("summary:", "totals:"))]
    if not totals or max(totals) == 0:
        raise RuntimeError(f"callgrind counted nothing in {out}")
    return max(totals)


async def _send(load: Load, requests: int, connections: int) -> int:
    """`requests` requests (rounded down to a multiple of `connections`), each connection
    sending its next when the answer to its last is read whole; the count sent."""
    per_connection = max(1, requests // connections)
    await asyncio.gather(*(_connection(load, per_connection) for _ in range(connections)))
    return per_connection * connections


async def _connection(load: Load, count: int) -> None:
    target = urlsplit(load.url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    path = target.path + (f"?{target.query}" if target.query else "")
    head = [f"{load.method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    head += [f"{name}: {value}" for name, value in load.headers.items()]
    if load.body:
        head.append(f"Content-Length: {len(load.body)}")
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + load.body
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for _ in range(count):
            writer.write(request)
            answer = await reader.readuntil(b"\r\n\r\n")
            status = int(answer.split(b" ", 2)[1])
            if status >= 400:
                raise RuntimeError(f"{load.url} answered {status}")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", answer)
            if length is None:
                raise RuntimeError(f"{load.url}: an answer without Content-Length")
            await reader.readexactly(int(length.group(1)))
    finally:
        writer.close()
