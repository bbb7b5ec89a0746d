from __future__ import annotations

from typing import Any, Awaitable, Callable

import pytest

from emulator.app import EmulatorConfig, build_runtime, create_app, load_scenarios, load_schemas
from emulator.scenario import Catalog
from emulator.schemas import SchemaSet

from .helpers import CLOCK_START, Client

MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
def make_client(aiohttp_client: Any) -> MakeClient:
    """A test client for an emulator app; keyword arguments override the test config
    (a virtual clock at CLOCK_START and seed 7)."""

    async def make(**overrides: Any) -> Client:
        settings: dict[str, Any] = {"clock": "virtual", "clock_start": CLOCK_START, "seed": 7}
        settings.update(overrides)
        config = EmulatorConfig(**settings)
        runtime = build_runtime(config, schemas=_schemas(), catalog=_catalog(config))
        return await aiohttp_client(create_app(runtime=runtime))

    return make


@pytest.fixture
async def client(make_client: MakeClient) -> Client:
    return await make_client()


# Schemas and scenario catalogs are immutable once loaded: load each once per test run.
_loaded_schemas: list[SchemaSet] = []
_catalogs: dict[tuple[Any, ...], Catalog] = {}


def _schemas() -> SchemaSet:
    if not _loaded_schemas:
        _loaded_schemas.append(load_schemas())
    return _loaded_schemas[0]


def _catalog(config: EmulatorConfig) -> Catalog:
    key = (config.scenario_paths, config.builtin_scenarios)
    if key not in _catalogs:
        _catalogs[key] = load_scenarios(config, _schemas())
    return _catalogs[key]
