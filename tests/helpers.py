"""Helpers shared by the tests."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient

from emulator.app import RUNTIME, Runtime

# A fixed moment for the virtual clock, so rendered times are stable: 2026-01-02T03:04:05Z.
CLOCK_START = 1767323045.0

Client = TestClient  # type: ignore[type-arg]


def runtime_of(client: Client) -> Runtime:
    app: web.Application = client.app  # type: ignore[assignment]
    return app[RUNTIME]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
