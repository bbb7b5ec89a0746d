from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Mapping

import pytest

from emulator.app import create_app
from emulator.config import EmulatorConfig
from emulator.state import build_runtime, load_scenarios, load_schemas
from emulator.scenario import Catalog
from emulator.schemas import SchemaSet

from .helpers import CLOCK_START, Client
from .redis_server import RedisServer

MakeClient = Callable[..., Awaitable[Client]]

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


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One real redis-server per test process (flushed by each test that uses it)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_stores: runs on the memory store and on a Redis store")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_stores") is not None:
        metafunc.fixturenames.append("store")
        metafunc.parametrize("store", ["memory", "redis"], indirect=True)


@pytest.fixture
def store(request: pytest.FixtureRequest) -> str | None:
    """The store a `both_stores` test's server keeps its state in (None: memory)."""
    if getattr(request, "param", "memory") == "memory":
        return None
    server = request.getfixturevalue("redis_server")
    server.flush()
    return str(server.url)


@pytest.fixture
def make_client(aiohttp_client: Any, request: pytest.FixtureRequest) -> MakeClient:
    """A test client for an emulator app; keyword arguments override the test config
    (a virtual clock at CLOCK_START and seed 7). A `both_stores` test runs it on each store."""
    store = request.getfixturevalue("store") if "store" in request.fixturenames else None

    async def make(**overrides: Any) -> Client:
        settings: dict[str, Any] = {"clock": "virtual", "clock_start": CLOCK_START, "seed": 7, "store": store}
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
