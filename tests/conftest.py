from __future__ import annotations

from typing import Any, Awaitable, Callable

import pytest

from emulator.app import EmulatorConfig, create_app

from .helpers import CLOCK_START, Client

MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
def make_client(aiohttp_client: Any) -> MakeClient:
    """A test client for an emulator app; keyword arguments override the test config
    (a virtual clock at CLOCK_START and seed 7)."""

    async def make(**overrides: Any) -> Client:
        settings: dict[str, Any] = {"clock": "virtual", "clock_start": CLOCK_START, "seed": 7}
        settings.update(overrides)
        return await aiohttp_client(create_app(EmulatorConfig(**settings)))

    return make


@pytest.fixture
async def client(make_client: MakeClient) -> Client:
    return await make_client()
