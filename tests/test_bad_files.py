"""Bad files and paths: scenario and config files a person got wrong, and paths that play
tricks (links that loop, folders where a file is expected, `..`, a FIFO). Each mistake is
reported as `file[:line]: message`, every one at once; nothing loads; the server does not
start; and no traceback is printed, on the command line or in a test using the fixture.

Scenario mistakes of content (unknown API, duplicate names and ids, schema errors) are in
test_scenarios.py; this file is about files that break the loader itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.apis import API_CLASSES
from emulator.cli import load_settings
from emulator.config import EmulatorConfig
from emulator.errors import ConfigError
from emulator.scenario_loader import check_files, load_catalog
from emulator.state import load_schemas

from .helpers import write

SCHEMAS = load_schemas()
GOOD = "api: traffic_ops\nname: good\nlifecycle:\n  - {phase: running, polls: 2}\n  - {phase: succeeded}\n"
# An alias inside the value it names: a list that holds itself.
SELF_CONTAINING = "api: traffic_ops\nname: endless\nlifecycle: &steps\n  - {phase: succeeded}\n  - *steps\n"
NESTED_TOO_DEEP = "api: traffic_ops\nname: deep\nlifecycle: [{phase: succeeded}]\ntask:\n  message: " + "[" * 1000 + "]" * 1000 + "\n"
NOT_UTF8 = b"api: traffic_ops\nname: latin\ndescription: caf\xe9\nlifecycle: [{phase: succeeded}]\n"


def alias_bomb() -> str:
    """Nine aliases, each nine of the one before: 9**9 values from a 600-byte file."""
    lines = ["api: traffic_ops", "name: laughs", "lifecycle: [{phase: succeeded}]", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def problems_in(*paths: Path) -> list[str]:
    return [str(problem) for problem in check_files(list(paths), API_CLASSES, SCHEMAS)]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


# ---- files the YAML loader itself must survive ------------------------------------------------


def test_a_value_that_contains_itself_is_named_not_a_recursion_error(tmp_path: Path) -> None:
    path = write(tmp_path, "endless.yaml", SELF_CONTAINING)
    assert problems_in(path) == [
        f"{path}:3: lifecycle[1]: an alias refers to a value that contains it, which would make it endless"
    ]


def test_an_alias_bomb_is_refused_in_bounded_time(tmp_path: Path) -> None:
    path = write(tmp_path, "laughs.yaml", alias_bomb())
    assert problems_in(path) == [
        f"{path}: the document holds more than 1,000,000 values (each use of an alias counted in full): too big to check"
    ]


def test_values_nested_too_deeply_are_named_with_their_line(tmp_path: Path) -> None:
    path = write(tmp_path, "deep.yaml", NESTED_TOO_DEEP)
    assert problems_in(path) == [f"{path}:5: not valid YAML: values nested too deeply (more than 64 levels)"]


def test_a_file_that_is_not_utf8_names_the_line_and_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(NOT_UTF8)
    assert problems_in(path) == [f"{path}:3: cannot read the file: not UTF-8 text (byte 0xe9)"]


def test_the_good_scenarios_beside_a_broken_file_do_not_load_either(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", GOOD)
    write(tmp_path, "endless.yaml", SELF_CONTAINING)
    with pytest.raises(Exception, match="endless.yaml:3"):
        load_catalog([tmp_path], API_CLASSES, SCHEMAS)


# ---- paths that play tricks -------------------------------------------------------------------


def test_links_that_loop_or_lead_nowhere_are_named_given_or_found(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    write(folder, "good.yaml", GOOD)
    (folder / "loop-a.yaml").symlink_to("loop-b.yaml")
    (folder / "loop-b.yaml").symlink_to("loop-a.yaml")
    (folder / "gone.yml").symlink_to(tmp_path / "deleted.yaml")
    (folder / "up").symlink_to("..")  # a link to a folder above: not followed, so no loop
    assert problems_in(folder) == [
        f"{folder / 'gone.yml'}: cannot read the file: No such file or directory",
        f"{folder / 'loop-a.yaml'}: cannot read the file: Too many levels of symbolic links",
        f"{folder / 'loop-b.yaml'}: cannot read the file: Too many levels of symbolic links",
    ]
    assert problems_in(folder / "loop-a.yaml") == [
        f"{folder / 'loop-a.yaml'}: cannot read the file: Too many levels of symbolic links"
    ]


def test_a_folder_where_a_file_is_expected_is_searched_as_a_folder(tmp_path: Path) -> None:
    odd = tmp_path / "odd.yaml"  # a folder with a scenario file's name
    write(odd, "inside.yaml", GOOD)
    write(tmp_path, "nested/also.yaml/x.txt", "not a scenario")  # a folder named .yaml, in a folder
    catalog = load_catalog([odd, tmp_path / "nested"], API_CLASSES, SCHEMAS)
    assert list(catalog.scenarios) == [("traffic_ops", "good")]


def test_dot_dot_in_a_path_is_the_path_the_system_resolves(tmp_path: Path) -> None:
    write(tmp_path, "shared/good.yaml", GOOD)
    (tmp_path / "project").mkdir()
    catalog = load_catalog([tmp_path / "project" / ".." / "shared" / "good.yaml"], API_CLASSES, SCHEMAS)
    assert catalog.get("traffic_ops", "good") is not None
    assert problems_in(tmp_path / "project" / ".." / "missing.yaml") == [
        f"{tmp_path / 'project' / '..' / 'missing.yaml'}: cannot read the file: No such file or directory"
    ]


# ---- the command line --------------------------------------------------------------------------


@pytest.fixture
def broken_folder(tmp_path: Path) -> Path:
    """One folder holding a file for each way the loader can be broken, and a good one."""
    folder = tmp_path / "broken"
    write(folder, "good.yaml", GOOD)
    write(folder, "endless.yaml", SELF_CONTAINING)
    write(folder, "deep.yaml", NESTED_TOO_DEEP)
    (folder / "latin.yaml").write_bytes(NOT_UTF8)
    (folder / "loop.yaml").symlink_to("loop.yaml")
    write(folder, "unknown-api.yaml", GOOD.replace("traffic_ops", "traffic-ops"))
    return folder


def test_check_reports_every_broken_file_at_once(broken_folder: Path) -> None:
    os.mkfifo(broken_folder / "fifo.yaml")  # a read of it would wait for ever
    result = run_cli("check", str(broken_folder), str(broken_folder / "fifo.yaml"))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{broken_folder / 'deep.yaml'}:5: not valid YAML: values nested too deeply (more than 64 levels)",
        f"{broken_folder / 'endless.yaml'}:3: lifecycle[1]: an alias refers to a value that contains it, which would make it endless",
        f"{broken_folder / 'latin.yaml'}:3: cannot read the file: not UTF-8 text (byte 0xe9)",
        f"{broken_folder / 'loop.yaml'}: cannot read the file: Too many levels of symbolic links",
        f"{broken_folder / 'unknown-api.yaml'}:1: api: unknown API 'traffic-ops': use one of dataarts, ops_center, spectrum_discover, traffic_ops",
        f"{broken_folder / 'fifo.yaml'}: cannot read the file: not a regular file",
    ]
    no_traceback(result)


def test_serve_refuses_to_start_on_broken_files(broken_folder: Path) -> None:
    result = run_cli("serve", "--port", "0", "--scenarios", str(broken_folder))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "task-emulator: the scenarios have mistakes:"
    assert f"  {broken_folder / 'loop.yaml'}: cannot read the file: Too many levels of symbolic links" in lines
    assert len(lines) == 6 and "listening" not in result.stdout
    no_traceback(result)


def test_scenario_paths_with_dot_dot_on_the_command_line(tmp_path: Path) -> None:
    write(tmp_path, "shared/good.yaml", GOOD)
    project = tmp_path / "project"
    project.mkdir()
    result = run_cli("scenarios", "--no-builtin", "--scenarios", "../shared/good.yaml", cwd=project)
    assert result.returncode == 0 and "good" in result.stdout
    result = run_cli("scenarios", "--scenarios", "../shared/missing.yaml", cwd=project)
    assert result.returncode == 1
    assert result.stderr.strip() == "task-emulator: --scenarios: no such file or folder: ../shared/missing.yaml"
    no_traceback(result)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--time-scale", "1e300"], "task-emulator: the time scale must be a positive number up to 1e+06, not 1e+300"),
        (["--config", "{config}"], "task-emulator: {config}:1: a[0]: an alias refers to a value that contains it"),
    ],
)
def test_serve_refuses_absurd_settings_in_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    config = write(tmp_path, "settings.yaml", "a: &a [*a]\n")
    result = run_cli("serve", "--port", "0", *[a.format(config=config) for a in args])
    assert result.returncode == 1
    assert result.stderr.strip().startswith(message.format(config=config))
    no_traceback(result)


# ---- config files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"traffic_ops: 5\n", "{path}:1: traffic_ops: an API's settings are a mapping of setting names to values, not 5"),
        (b"traffic_ops: [a]\n", "{path}:1: traffic_ops: an API's settings are a mapping of setting names to values, not ['a']"),
        (b"- traffic_ops\n", "{path}: a config file maps API ids to their settings"),
        (b"traffic_ops: {}\ntraffic_ops: {}\n", "{path}:2: traffic_ops: this key is given twice"),
        (b"traffic_ops: {}\n---\ndataarts: {}\n", "{path}:3: a config file is one YAML document"),
        (b"traffic_ops:\n  users: [\n", "{path}:3: not valid YAML"),
        (b"a: &a [*a]\n", "{path}:1: a[0]: an alias refers to a value that contains it"),
        (b"traffic_ops:\n  users: caf\xe9\n", "cannot read the config file {path}:2: not UTF-8 text (byte 0xe9)"),
        (b"[" * 1000 + b"]" * 1000, "{path}:1: not valid YAML: values nested too deeply (more than 64 levels)"),
    ],
    ids=["number", "list", "not-a-mapping", "duplicate", "two-documents", "syntax", "endless", "not-utf8", "deep"],
)
def test_config_file_mistakes_name_the_file_and_line(tmp_path: Path, text: bytes, message: str) -> None:
    path = tmp_path / "settings.yaml"
    path.write_bytes(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value).startswith(message.format(path=path))


def test_a_config_path_that_is_a_folder_or_a_loop(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file .*: Is a directory"):
        load_settings(tmp_path)
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    with pytest.raises(ConfigError, match="cannot read the config file .*: Too many levels of symbolic links"):
        load_settings(tmp_path / "loop.yaml")


def test_settings_given_in_python_are_checked_too() -> None:
    with pytest.raises(ConfigError, match="settings traffic_ops: a mapping of setting names to values, not 5"):
        EmulatorConfig(api_settings={"traffic_ops": 5})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="settings for unknown API 5"):
        EmulatorConfig(api_settings={5: {}})  # type: ignore[dict-item]


# ---- the pytest fixture --------------------------------------------------------------------------


def test_marker_paths_are_relative_to_the_test_file_and_mistakes_have_no_traceback(pytester: pytest.Pytester) -> None:
    pytester.mkdir("shared")
    pytester.path.joinpath("shared", "one.yaml").write_text(GOOD)
    pytester.mkdir("tests")
    pytester.path.joinpath("shared", "endless.yaml").write_text(SELF_CONTAINING)
    pytester.path.joinpath("tests", "test_paths.py").write_text(
        """
import pytest

@pytest.mark.task_emulator(scenarios=["../shared/one.yaml"])
def test_dot_dot(task_emulator):
    assert task_emulator.create_task("traffic_ops", "good").phase == "running"

@pytest.mark.task_emulator(scenarios=["../shared/missing.yaml"])
def test_missing(task_emulator):
    pass

@pytest.mark.task_emulator(scenarios=["../shared/endless.yaml"])
def test_endless(task_emulator):
    pass

@pytest.mark.task_emulator(clock="sometimes")
def test_bad_clock(task_emulator):
    pass
"""
    )
    result = pytester.runpytest("-q", "tests")
    result.assert_outcomes(passed=1, errors=3)
    result.stdout.fnmatch_lines(
        [
            "task-emulator: the scenarios have mistakes:",
            "  */tests/../shared/missing.yaml: cannot read the file: No such file or directory",
            "task-emulator: the scenarios have mistakes:",
            "  */tests/../shared/endless.yaml:3: lifecycle?1?: an alias refers to a value that contains it*",
            "*@pytest.mark.task_emulator(clock=...): 'sometimes' is not one of real, virtual",
        ]
    )
    output = result.stdout.str()
    assert "Traceback" not in output and "pytest_plugin.py" not in output and "raise " not in output


def test_a_scenario_file_too_large_is_refused_with_its_size(tmp_path: Path) -> None:
    path = write(tmp_path, "huge.yaml", GOOD + "# " + "x" * 4_100_000 + "\n")
    [problem] = problems_in(path)
    assert problem.startswith(f"{path}: the file is 4.1 MB: a scenario file holds at most 4 MB")


def test_mistakes_by_the_thousand_are_cut_short(tmp_path: Path) -> None:
    preload = "".join(f"  - {{id: '{i}', colour: red}}\n" for i in range(2, 1000))
    path = write(tmp_path, "many.yaml", GOOD + "preload:\n" + preload)
    problems = problems_in(path)
    assert len(problems) == 201
    assert problems[-1] == f"{path}: … and 798 more mistakes"
