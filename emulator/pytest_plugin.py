"""pytest plugin: the emulator as a fixture. Installing task-emulator registers it.

    def test_job_finishes(task_emulator):
        task = task_emulator.create_task("traffic_ops", "acme-autorenew")
        task_emulator.advance(120)
        assert task.phase == "succeeded"

Fixtures:
- `task_emulator`: a fresh emulator for each test, on its own port of 127.0.0.1, with its
  own state and (by default) a virtual clock; stopped after the test.
- `task_emulator_session`: one emulator shared by the session, reset before each test that
  uses it (faster; state never leaks from one test to the next).
- `task_emulator_config`: the `EmulatorConfig` the `task_emulator` fixture uses; override
  it in a conftest.py for full control.

Configuration, closest first: the marker `@pytest.mark.task_emulator(scenarios=[...],
seed=..., clock="virtual"|"real", validate="strict"|"warn"|"off")`, the command-line
options `--task-emulator-*`, the ini keys `task_emulator_*`. Marker scenario paths are
relative to the test file's folder; option and ini paths to the rootdir.

In strict mode a response that broke its schema fails the test that caused it, with the
schema, the JSON path and the violation, even when the client swallowed the 500.

All servers of a session (or of an xdist worker) share one event-loop thread; each binds
its own free port, so parallel workers never share state or ports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from .app import VALIDATION_MODES, EmulatorConfig, load_scenarios, load_schemas
from .errors import EmulatorError, ScenarioError
from .scenario import Catalog
from .schemas import SchemaSet
from .server import EmulatorServer, LoopThread
from .testing import TaskEmulator

T = TypeVar("T")
MARKER = "task_emulator"
_HANDLES = pytest.StashKey[list[TaskEmulator]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("task-emulator", "task-emulator fixture")
    group.addoption(
        "--task-emulator-scenarios", action="append", default=None, metavar="PATH",
        help="scenario file or folder added to the built-in ones (repeatable)",
    )
    group.addoption("--task-emulator-seed", type=int, default=None, help="seed for ids and fake data")
    group.addoption("--task-emulator-clock", choices=("virtual", "real"), default=None,
                    help="the fixture's clock (default: virtual)")
    group.addoption("--task-emulator-validate", choices=VALIDATION_MODES, default=None,
                    help="response validation (default: strict)")
    parser.addini("task_emulator_scenarios", "scenario files or folders added to the built-in ones", type="paths", default=[])
    parser.addini("task_emulator_seed", "seed for ids and fake data", default="")
    parser.addini("task_emulator_clock", "virtual or real (default: virtual)", default="virtual")
    parser.addini("task_emulator_validate", "strict, warn or off (default: strict)", default="strict")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(scenarios=[...], seed=None, clock='virtual', validate='strict'): "
        "configure the task_emulator fixture for this test",
    )


def _defaults(config: pytest.Config) -> dict[str, Any]:
    """Project-wide settings: command line over ini."""
    seed = config.getoption("--task-emulator-seed")
    if seed is None and config.getini("task_emulator_seed"):
        raw = config.getini("task_emulator_seed")
        try:
            seed = int(raw)
        except ValueError:
            raise pytest.UsageError(f"task_emulator_seed: not a whole number: {raw!r}") from None
    paths = [Path(p) for p in config.getoption("--task-emulator-scenarios") or []]
    paths = [p if p.is_absolute() else config.rootpath / p for p in paths]
    paths += [Path(p) for p in config.getini("task_emulator_scenarios")]
    clock = config.getoption("--task-emulator-clock") or config.getini("task_emulator_clock")
    validate = config.getoption("--task-emulator-validate") or config.getini("task_emulator_validate")
    for name, value, allowed in (("clock", clock, ("virtual", "real")), ("validate", validate, VALIDATION_MODES)):
        if value not in allowed:
            raise pytest.UsageError(f"task_emulator_{name}: {value!r} is not one of {', '.join(allowed)}")
    return {"scenario_paths": tuple(paths), "seed": seed, "clock": clock, "validate": validate}


def _marker_settings(node: pytest.Item) -> dict[str, Any]:
    marker = node.get_closest_marker(MARKER)
    if marker is None:
        return {}
    if marker.args:
        raise pytest.UsageError(f"{node.nodeid}: @pytest.mark.{MARKER} takes keyword arguments only")
    unknown = sorted(set(marker.kwargs) - {"scenarios", "seed", "clock", "validate"})
    if unknown:
        raise pytest.UsageError(
            f"{node.nodeid}: @pytest.mark.{MARKER} has no argument {unknown[0]!r} "
            "(it takes scenarios, seed, clock, validate)"
        )
    settings = dict(marker.kwargs)
    if "scenarios" in settings:
        scenarios = settings.pop("scenarios")
        if isinstance(scenarios, (str, Path)):
            scenarios = [scenarios]
        base = node.path.parent
        settings["scenario_paths"] = tuple(p if Path(p).is_absolute() else base / p for p in map(Path, scenarios))
    return settings


class _Loaded:
    """Schemas and catalogs loaded once per session: they never change while tests run."""

    def __init__(self) -> None:
        self._schemas: SchemaSet | None = None
        self._catalogs: dict[tuple[tuple[Path, ...], bool], Catalog] = {}

    def schemas(self) -> SchemaSet:
        if self._schemas is None:
            self._schemas = load_schemas()
        return self._schemas

    def catalog(self, config: EmulatorConfig) -> Catalog:
        key = (config.scenario_paths, config.builtin_scenarios)
        if key not in self._catalogs:
            self._catalogs[key] = load_scenarios(config, self.schemas())
        return self._catalogs[key]

    def server(self, config: EmulatorConfig, loop_thread: LoopThread) -> EmulatorServer:
        from .app import build_runtime, create_app

        runtime = build_runtime(config, schemas=self.schemas(), catalog=self.catalog(config))
        return EmulatorServer(app=create_app(runtime=runtime), loop_thread=loop_thread)


@pytest.fixture(scope="session")
def _task_emulator_loop() -> Iterator[tuple[LoopThread, _Loaded]]:
    loop_thread = LoopThread("task-emulator-fixtures")
    yield loop_thread, _Loaded()
    loop_thread.stop()


def _or_fail(make: Callable[[], T]) -> T:
    """`make()`; a wrong setting or a broken scenario fails the test with what is wrong,
    where a traceback through this plugin would bury it."""
    try:
        return make()
    except ScenarioError as error:
        lines = "\n".join(f"  {problem}" for problem in error.problems)
        message = f"task-emulator: the scenarios have mistakes:\n{lines}"
    except EmulatorError as error:
        message = f"task-emulator: {error}"
    # Raised outside the except block, so that pytest does not print the error chained.
    pytest.fail(message, pytrace=False)


@pytest.fixture
def task_emulator_config(request: pytest.FixtureRequest) -> EmulatorConfig:
    """The configuration of this test's `task_emulator`: marker over options over ini."""
    settings = _defaults(request.config)
    settings.update(_marker_settings(request.node))
    return _or_fail(lambda: EmulatorConfig(**settings))


@pytest.fixture
def task_emulator(
    request: pytest.FixtureRequest,
    task_emulator_config: EmulatorConfig,
    _task_emulator_loop: tuple[LoopThread, _Loaded],
) -> Iterator[TaskEmulator]:
    """A fresh emulator for this test, listening on 127.0.0.1."""
    loop_thread, loaded = _task_emulator_loop
    server = _or_fail(lambda: loaded.server(task_emulator_config, loop_thread))
    handle = TaskEmulator(server.start())
    request.node.stash.setdefault(_HANDLES, []).append(handle)
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def _task_emulator_shared(
    pytestconfig: pytest.Config, _task_emulator_loop: tuple[LoopThread, _Loaded]
) -> Iterator[TaskEmulator]:
    loop_thread, loaded = _task_emulator_loop
    server = _or_fail(lambda: loaded.server(EmulatorConfig(**_defaults(pytestconfig)), loop_thread))
    handle = TaskEmulator(server.start())
    yield handle
    handle.stop()


@pytest.fixture
def task_emulator_session(request: pytest.FixtureRequest, _task_emulator_shared: TaskEmulator) -> TaskEmulator:
    """The session's shared emulator, reset for this test (markers do not apply to it)."""
    _task_emulator_shared.reset()
    _task_emulator_shared.new_violations()  # what earlier tests caused is theirs
    request.node.stash.setdefault(_HANDLES, []).append(_task_emulator_shared)
    return _task_emulator_shared


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    result = yield
    # The test passed; a response that broke its schema still fails it.
    problems = [v for handle in item.stash.get(_HANDLES, []) for v in handle.new_violations()]
    if problems:
        lines = [
            f"  {p['method']} {p['path']} -> {p['violation']}" for p in problems
        ]
        raise AssertionError(
            "task-emulator sent responses that break their schema (strict mode answered 500):\n"
            + "\n".join(lines)
        )
    return result


__all__ = ["task_emulator", "task_emulator_config", "task_emulator_session"]
