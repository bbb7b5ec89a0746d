"""What hostile requests cost a server in memory: its resident set size (RSS, from /proc)
before and after each attack, and after the journal is cleared. A report, not a test:

    python -m tests.hostile_memory [--count 1000]

Attacks, each on a fresh `task-emulator serve` (no admin token, as a sidecar often runs):
bodies of 1 MB (the most a server takes) POSTed to a path no API has, and to Traffic Ops'
login; requests with 100 headers of 8 KB each (aiohttp takes up to 128 of up to 8,190
bytes); 8 KB request lines.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


async def send(port: int, request: bytes, count: int, connections: int = 8) -> None:
    """`count` copies of `request`, over `connections` keep-alive connections."""

    async def one_connection(share: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(share):
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
                0,
            )
            await reader.readexactly(length)
        writer.close()

    await asyncio.gather(*(one_connection(count // connections) for _ in range(connections)))


def body_attack(count: int) -> bytes:
    body = b"x" * (MB - 64)
    return b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def login_attack(count: int) -> bytes:
    body = b"x" * (MB - 64)
    head = b"POST /api/4.0/user/login HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    return head + body


def header_attack(count: int) -> bytes:
    headers = b"".join(b"X-Pad-%03d: %s\r\n" % (i, b"h" * 8150) for i in range(100))
    return b"GET /nowhere HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n"


def url_attack(count: int) -> bytes:
    return b"GET /nowhere?q=" + b"u" * 8000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"


ATTACKS: dict[str, Callable[[int], bytes]] = {
    "1 MB bodies to an unrouted path": body_attack,
    "1 MB bodies to a login route": login_attack,
    "100 headers of 8 KB": header_attack,
    "8 KB request lines": url_attack,
}


def measure(name: str, make: Callable[[int], bytes], count: int) -> tuple[int, int, int, int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_emulator/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.05)
        before = rss(process.pid)
        asyncio.run(send(port, make(count), count))
        after = rss(process.pid)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/_emulator/requests", method="DELETE")
        urllib.request.urlopen(request, timeout=10).close()
        cleared = rss(process.pid)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_emulator/health", timeout=10) as health:
            status = health.status
        return before, after, cleared, status
    finally:
        process.terminate()
        process.communicate(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.hostile_memory", description=__doc__)
    parser.add_argument("--count", type=int, default=1000, help="requests per attack (default: 1000)")
    args = parser.parse_args()
    print(f"| attack ({args.count:,} requests) | RSS before | after | journal cleared |")
    print("|---|---:|---:|---:|")
    for name, make in ATTACKS.items():
        before, after, cleared, status = measure(name, make, args.count)
        assert status == 200
        print(f"| {name} | {before / MB:.0f} MB | {after / MB:.0f} MB | {cleared / MB:.0f} MB |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
