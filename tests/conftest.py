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
from .redis_server import RedisServer

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


# The modules whose tests run on each store: this process's memory and a real Redis (the
# vendor and control suites and the hostile-input ones, whole: parametrised, not copied).
ON_EVERY_STORE = frozenset(
    {
        "tests.test_control",
        "tests.test_traffic_ops",
        "tests.test_dataarts",
        "tests.test_ops_center",
        "tests.test_spectrum_discover",
        "tests.test_bad_input",
        "tests.test_hostile_control",
        "tests.test_hostile_journal",
        "tests.test_slow_clients",
    }
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    servers = {"make_client", "make_server"}
    if metafunc.module.__name__ in ON_EVERY_STORE and servers & set(metafunc.fixturenames):
        metafunc.fixturenames.append("store")
        metafunc.parametrize("store", ["memory", "redis"], indirect=True)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One real redis-server per test process, on a free port (flushed by each test)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def store(request: pytest.FixtureRequest) -> str | None:
    """The store a test's servers keep their state in: None for memory, or a Redis URL."""
    if getattr(request, "param", "memory") == "memory":
        return None
    server = request.getfixturevalue("redis_server")
    server.flush()
    return str(server.url)


@pytest.fixture
def make_client(aiohttp_client: Any, store: str | None) -> MakeClient:
    """A test client for an emulator app; keyword arguments override the test config
    (a virtual clock at CLOCK_START and seed 7, on the test's store). On Redis each client
    gets a database of its own: two clients of one test are two servers, as on memory."""
    databases = iter(range(16))

    async def make(**overrides: Any) -> Client:
        where = None if store is None else f"{store.rpartition('/')[0]}/{next(databases)}"
        settings: dict[str, Any] = {"clock": "virtual", "clock_start": CLOCK_START, "seed": 7, "store": where}
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
