from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Mapping

import pytest

from emulator.app import create_app
from emulator.config import EmulatorConfig
from emulator.scenario import Catalog
from emulator.schemas import SchemaSet
from emulator.state import build_runtime, load_scenarios, load_schemas

from .helpers import CLOCK_START, Client

MakeClient = Callable[..., Awaitable[Client]]

# The example plugin vendor's own tests run where it is installed: test_fifth_vendor.py
# installs it through its entry point and runs them there, not in this process.
collect_ignore = ["fifth_vendor"]

# The modules whose async tests run on every event loop `task-emulator serve` can use.
ON_EVERY_LOOP = frozenset({"tests.test_fault_injection"})


@pytest.hookimpl(optionalhook=True)
def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> Mapping[str, Callable[[], Any]]:
    factories: dict[str, Callable[[], Any]] = {"asyncio": asyncio.new_event_loop}
    module = getattr(item, "module", None)
    if module is not None and module.__name__ in ON_EVERY_LOOP:
        try:
            import uvloop
        except ImportError:  # not installed on Windows (see pyproject.toml)
            return factories
        factories["uvloop"] = uvloop.new_event_loop
    return factories


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
