"""pytest plugin: the emulator as a fixture. Installing task-emulator registers it.

    def test_job_finishes(task_emulator):
        task = task_emulator.create_task("traffic_ops", "acme-autorenew")
        task_emulator.advance(120)
        assert task.phase == "succeeded"

Fixtures:
- `task_emulator`: a fresh emulator for each test, on its own port of 127.0.0.1, with its
  own state and (by default) a virtual clock; stopped after the test.
- `task_emulator_session`: one emulator shared by the session, reset before each test that
  uses it (faster; state never leaks from one test to the next). Markers cannot change a
  shared server: a test that marks one fails and says so.
- `task_emulator_config`: the `EmulatorConfig` the `task_emulator` fixture uses; override
  it in a conftest.py for full control.

Configuration, closest first: the marker `@pytest.mark.task_emulator(scenarios=[...],
seed=..., clock="virtual"|"real", clock_start=..., validate="strict"|"warn"|"off",
settings={api: {...}})`, the command-line options `--task-emulator-*`, the ini keys
`task_emulator_*`. Every value is checked the same way wherever it comes from. Marker
scenario paths are relative to the test file's folder; command-line paths to the folder
pytest was started in; ini paths to the ini file's folder.

In strict mode a response that broke its schema fails the test that caused it, with the
schema, the JSON path and the violation, even when the client swallowed the 500.

All servers of a session (or of an xdist worker) share one event-loop thread; each binds
its own free port, so parallel workers never share state or ports.

This module imports only pytest and light modules at the top: pytest imports every
installed plugin at start-up, and a project that has task-emulator installed should not pay
for loading a server in a run where no test uses one. The server is loaded by the first
fixture that needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from .options import CLOCK_MODES, VALIDATION_MODES, parse_clock_start, parse_seed

if TYPE_CHECKING:
    from .config import EmulatorConfig
    from .scenario import Catalog
    from .schemas import SchemaSet
    from .server import EmulatorServer, LoopThread
    from .testing import TaskEmulator

T = TypeVar("T")
MARKER = "task_emulator"
MARKER_KEYS = ("scenarios", "seed", "clock", "clock_start", "validate", "settings")
_HANDLES = pytest.StashKey[list["TaskEmulator"]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("task-emulator", "task-emulator fixture")
    group.addoption(
        "--task-emulator-scenarios", action="append", default=None, metavar="PATH",
        help="scenario file or folder added to the built-in ones (repeatable)",
    )
    group.addoption("--task-emulator-seed", default=None, help="seed for ids and fake data")
    group.addoption("--task-emulator-clock", choices=CLOCK_MODES, default=None,
                    help="the fixture's clock (default: virtual)")
    group.addoption("--task-emulator-clock-start", default=None, metavar="TIME",
                    help="where the virtual clock starts: epoch seconds or an ISO time "
                    "(with a seed, every id and body replays)")
    group.addoption("--task-emulator-validate", choices=VALIDATION_MODES, default=None,
                    help="response validation (default: strict)")
    group.addoption("--task-emulator-settings", default=None, metavar="FILE",
                    help="YAML or JSON file of per-API settings (users, lifetimes …), as serve --config")
    parser.addini("task_emulator_scenarios", "scenario files or folders added to the built-in ones", type="paths", default=[])
    parser.addini("task_emulator_seed", "seed for ids and fake data", default="")
    parser.addini("task_emulator_clock", "virtual or real (default: virtual)", default="virtual")
    parser.addini("task_emulator_clock_start", "where the virtual clock starts: epoch seconds or an ISO time", default="")
    parser.addini("task_emulator_validate", "strict, warn or off (default: strict)", default="strict")
    parser.addini("task_emulator_settings", "settings file (per-API users, lifetimes …)", type="paths", default=[])


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_DEFAULTS] = _options(config)
    config.addinivalue_line(
        "markers",
        f"{MARKER}(scenarios=[...], seed=None, clock='virtual', clock_start=None, validate='strict', "
        "settings={api: {...}}): configure the task_emulator fixture for this test",
    )


def _checked(where: str, name: str, value: Any) -> Any:
    """`value` of setting `name` as EmulatorConfig takes it; UsageError naming `where`
    (an option, an ini key or a marker) when it is wrong."""
    try:
        if name == "seed":
            return None if value is None else parse_seed(value)
        if name == "clock_start":
            return None if value is None else parse_clock_start(value)
        if name == "clock" and value not in CLOCK_MODES:
            raise ValueError(f"{value!r} is not one of {', '.join(CLOCK_MODES)}")
        if name == "validate" and value not in VALIDATION_MODES:
            raise ValueError(f"{value!r} is not one of {', '.join(VALIDATION_MODES)}")
        if name == "settings" and not (
            isinstance(value, Mapping) and all(isinstance(v, Mapping) for v in value.values())
        ):
            raise ValueError(f"a mapping of API ids to their settings, not {value!r}")
    except ValueError as error:
        raise pytest.UsageError(f"{where}: {error}") from None
    return value


_DEFAULTS = pytest.StashKey[dict[str, Any]]()
_SETTINGS_FILE = pytest.StashKey[Path | None]()


def _options(config: pytest.Config) -> dict[str, Any]:
    """Project-wide settings, command line over ini, checked when pytest starts: a wrong
    value stops the run with one line naming the option or the ini key."""
    settings: dict[str, Any] = {}
    for name in ("seed", "clock", "clock_start", "validate"):
        option = "--task-emulator-" + name.replace("_", "-")
        given = config.getoption(option)
        if given is not None:
            settings[name] = _checked(option, name, given)
        elif config.getini(f"task_emulator_{name}"):
            settings[name] = _checked(f"task_emulator_{name} (ini)", name, config.getini(f"task_emulator_{name}"))
    settings.setdefault("clock", "virtual")
    settings.setdefault("validate", "strict")
    start = config.invocation_params.dir
    paths = [start / p for p in config.getoption("--task-emulator-scenarios") or []]  # `/` keeps absolute ones
    paths += [Path(p) for p in config.getini("task_emulator_scenarios")]
    settings["scenario_paths"] = tuple(paths)
    return settings


def _defaults(config: pytest.Config) -> dict[str, Any]:
    """The options' settings, with the settings file's API settings (read when a fixture
    first needs them: a mistake in the file fails each test that uses the emulator)."""
    defaults: dict[str, Any] = config.stash[_DEFAULTS]
    settings = dict(defaults)
    if _SETTINGS_FILE not in config.stash:
        given = config.getoption("--task-emulator-settings")
        ini_files = config.getini("task_emulator_settings")
        if given is not None:
            config.stash[_SETTINGS_FILE] = config.invocation_params.dir / given
        else:
            config.stash[_SETTINGS_FILE] = Path(ini_files[0]) if ini_files else None
    path = config.stash[_SETTINGS_FILE]
    if path is not None:
        settings["api_settings"] = _or_fail(lambda: _load_settings(path))
    return settings


def _load_settings(path: Path) -> dict[str, Any]:
    from .settings_file import load_settings

    return load_settings(path)


def _marker_settings(node: pytest.Item) -> dict[str, Any]:
    """The marker's settings; a mistake in them fails the test (not the run), saying what."""
    try:
        return _read_marker(node)
    except pytest.UsageError as error:
        message = str(error)
    pytest.fail(message, pytrace=False)


def _read_marker(node: pytest.Item) -> dict[str, Any]:
    marker = node.get_closest_marker(MARKER)
    if marker is None:
        return {}
    where = f"{node.nodeid}: @pytest.mark.{MARKER}"
    if marker.args:
        raise pytest.UsageError(f"{where} takes keyword arguments only")
    unknown = sorted(set(marker.kwargs) - set(MARKER_KEYS))
    if unknown:
        raise pytest.UsageError(f"{where} has no argument {unknown[0]!r} (it takes {', '.join(MARKER_KEYS)})")
    settings = {name: _checked(f"{where}({name}=...)", name, value) for name, value in marker.kwargs.items()}
    if "settings" in settings:
        settings["api_settings"] = settings.pop("settings")
    if "scenarios" in settings:
        scenarios = settings.pop("scenarios")
        if isinstance(scenarios, (str, Path)):
            scenarios = [scenarios]
        base = node.path.parent
        settings["scenario_paths"] = tuple(base / p for p in map(Path, scenarios))
    return settings


class _Loaded:
    """Schemas and catalogs loaded once per session: they never change while tests run."""

    def __init__(self) -> None:
        self._schemas: SchemaSet | None = None
        self._catalogs: dict[tuple[tuple[Path, ...], bool], Catalog] = {}

    def schemas(self) -> SchemaSet:
        from .state import load_schemas

        if self._schemas is None:
            self._schemas = load_schemas()
        return self._schemas

    def catalog(self, config: EmulatorConfig) -> Catalog:
        from .state import load_scenarios

        key = (config.scenario_paths, config.builtin_scenarios)
        if key not in self._catalogs:
            self._catalogs[key] = load_scenarios(config, self.schemas())
        return self._catalogs[key]

    def server(self, config: EmulatorConfig, loop_thread: LoopThread) -> EmulatorServer:
        from .app import create_app
        from .server import EmulatorServer
        from .state import build_runtime

        runtime = build_runtime(config, schemas=self.schemas(), catalog=self.catalog(config))
        return EmulatorServer(app=create_app(runtime=runtime), loop_thread=loop_thread)


@pytest.fixture(scope="session")
def _task_emulator_loop() -> Iterator[tuple[LoopThread, _Loaded]]:
    from .server import LoopThread

    loop_thread = LoopThread("task-emulator-fixtures")
    yield loop_thread, _Loaded()
    loop_thread.stop()


def _or_fail(make: Callable[[], T]) -> T:
    """`make()`; a wrong setting or a broken scenario fails the test with what is wrong,
    where a traceback through this plugin would bury it."""
    from .errors import EmulatorError, ScenarioError

    try:
        return make()
    except ScenarioError as error:
        lines = "\n".join(f"  {problem}" for problem in error.problems)
        message = f"task-emulator: the scenarios have mistakes:\n{lines}"
    except EmulatorError as error:
        message = f"task-emulator: {error}"
    # Raised outside the except block, so that pytest does not print the error chained.
    pytest.fail(message, pytrace=False)


def _config(settings: dict[str, Any]) -> EmulatorConfig:
    from .config import EmulatorConfig

    return _or_fail(lambda: EmulatorConfig(**settings))


@pytest.fixture
def task_emulator_config(request: pytest.FixtureRequest) -> EmulatorConfig:
    """The configuration of this test's `task_emulator`: marker over options over ini."""
    settings = _defaults(request.config)
    settings.update(_marker_settings(request.node))
    return _config(settings)


@pytest.fixture
def task_emulator(
    request: pytest.FixtureRequest,
    task_emulator_config: EmulatorConfig,
    _task_emulator_loop: tuple[LoopThread, _Loaded],
) -> Iterator[TaskEmulator]:
    """A fresh emulator for this test, listening on 127.0.0.1."""
    from .testing import TaskEmulator

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
    from .testing import TaskEmulator

    loop_thread, loaded = _task_emulator_loop
    config = _config(_defaults(pytestconfig))
    server = _or_fail(lambda: loaded.server(config, loop_thread))
    handle = TaskEmulator(server.start())
    yield handle
    handle.stop()


@pytest.fixture
def task_emulator_session(request: pytest.FixtureRequest) -> TaskEmulator:
    """The session's shared emulator, reset for this test. It is configured by the options
    and ini keys only: a marker on the test fails it, since it could not apply."""
    if request.node.get_closest_marker(MARKER) is not None:
        pytest.fail(
            f"{request.node.nodeid}: @pytest.mark.{MARKER} configures the task_emulator fixture; "
            "task_emulator_session is shared by the whole session and cannot take it. Use "
            "task_emulator for this test, or set the --task-emulator-* options or ini keys.",
            pytrace=False,
        )
    shared: TaskEmulator = request.getfixturevalue("_task_emulator_shared")
    shared.reset()
    shared.new_violations()  # what earlier tests caused is theirs
    request.node.stash.setdefault(_HANDLES, []).append(shared)
    return shared


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
