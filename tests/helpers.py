"""Helpers shared by the tests."""

from __future__ import annotations

from pathlib import Path

import requests
from aiohttp import web
from aiohttp.test_utils import TestClient

from emulator.server import EmulatorServer
from emulator.state import RUNTIME, Runtime
from emulator.task import Task

# A fixed moment for the virtual clock, so rendered times are stable: 2026-01-02T03:04:05Z.
CLOCK_START = 1767323045.0

Client = TestClient  # type: ignore[type-arg]


def runtime_of(client: Client) -> Runtime:
    app: web.Application = client.app  # type: ignore[assignment]
    return app[RUNTIME]


async def tasks_of(client: Client, api: str) -> list[Task]:
    """Every task of `api` the client's server holds, in the order made, on any store."""
    views, _ = await runtime_of(client).store.page(api, scenario=None, phase=None, offset=0, limit=100_000)
    return [view.task for view in views]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# Header bytes that are not UTF-8: aiohttp hands them to handlers as lone surrogates, which
# neither aiohttp's client nor `requests` will send, so tests write the request themselves.
NOT_UTF8 = b"\xe9\xff"


async def raw_status(client: Client, method: str, path: str, headers: dict[str, bytes]) -> int:
    """The status a server answers to a request written byte for byte."""
    import asyncio

    reader, writer = await asyncio.open_connection(client.host, client.port)
    lines = [f"{method} {path} HTTP/1.1".encode(), f"Host: {client.host}".encode(), b"Connection: close"]
    lines += [name.encode() + b": " + value for name, value in headers.items()]
    writer.write(b"\r\n".join(lines) + b"\r\nContent-Length: 0\r\n\r\n")
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


def advance_over_http(server: EmulatorServer, seconds: float) -> None:
    """Move a running server's clock the way a person or a CI job would: the control API."""
    response = requests.post(f"{server.url}/_emulator/clock/advance", json={"seconds": seconds}, timeout=10)
    assert response.status_code == 200, response.text
