"""The command line, run as a person runs it: a subprocess, its output and exit status."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import write

BROKEN = "api: traffic_ops\nname: broken\nlifecycle:\n  - phase: running\n    pols: 3\n  - phase: succeeded\n"
GOOD = "api: traffic_ops\nname: good\nlifecycle:\n  - {phase: running, polls: 2}\n  - {phase: succeeded}\n"


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.banner = ""


def start_server(*args: str) -> Served:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    served = Served(process, port)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(served.url + "/_emulator/health", timeout=1) as response:
                if response.status == 200:
                    return served
        except OSError:
            if process.poll() is not None:
                raise AssertionError(f"the server exited: {process.stderr.read() if process.stderr else ''}")
            time.sleep(0.05)
    process.kill()
    raise AssertionError("the server did not answer within 20 s")


@pytest.fixture
def server() -> Iterator[Served]:
    served = start_server("--clock", "virtual")
    yield served
    if served.process.poll() is None:
        served.process.kill()
        served.process.wait(timeout=10)


def test_version_and_help() -> None:
    assert run("--version").stdout.strip().startswith("task-emulator ")
    for command in ("serve", "check", "scenarios", "health"):
        result = run(command, "--help")
        assert result.returncode == 0 and "example" in result.stdout, command
    assert "TASK_EMULATOR_PORT" in run("serve", "--help").stdout


def test_check_exit_codes(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", GOOD)
    broken = write(tmp_path, "broken.yaml", BROKEN)
    assert run("check", str(good)).returncode == 0
    result = run("check", str(good), str(broken))
    assert result.returncode == 1
    assert result.stdout.strip() == f"{broken}:5: lifecycle[0].pols: unknown key (allowed here: for, message, phase, polls)"
    result = run("check", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "no such file or folder" in result.stderr
    assert run("check").returncode == 2


def test_scenarios_lists_what_would_load(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", GOOD)
    result = run("scenarios", "--scenarios", str(tmp_path), "--no-builtin")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["API", "NAME", "TRIGGER", "SOURCE", "LIFECYCLE"]
    source = f"{tmp_path / 'good.yaml'}:1"
    assert lines[1].split() == ["traffic_ops", "good", "-", source, "running", "2", "polls", "→", "succeeded"]
    builtin = run("scenarios").stdout
    assert "acme-autorenew" in builtin
    # Built-in scenarios are named by their place in the package, durations as people write them.
    assert re.search(r"acme-autorenew .* builtin:traffic_ops/\S+\.yaml:\d+ ", builtin)
    assert " 2m" in builtin or "h" in builtin


@pytest.mark.parametrize(
    ("args", "env", "status", "message"),
    [
        (["serve", "--port", "abc"], {}, 2, "argument --port: invalid"),
        (["serve"], {"TASK_EMULATOR_PORT": "99999"}, 2, "argument --port: invalid"),
        (["serve"], {"TASK_EMULATOR_CLOCK": "sometimes"}, 2, "TASK_EMULATOR_CLOCK: 'sometimes' is not one of real, virtual"),
        (["serve", "--time-scale", "-1"], {}, 2, "argument --time-scale: invalid"),
        (["serve"], {"TASK_EMULATOR_LOOP": "fast"}, 2, "TASK_EMULATOR_LOOP: 'fast' is not one of auto, asyncio, uvloop"),
        (["serve", "--scenarios", "/no/such/folder"], {}, 1, "--scenarios: no such file or folder: /no/such/folder"),
        (["serve", "--config", "/no/such/file.yaml"], {}, 1, "cannot read the config file /no/such/file.yaml"),
        (["frobnicate"], {}, 2, "invalid choice: 'frobnicate'"),
    ],
)
def test_mistakes_get_one_clear_line(args: list[str], env: dict[str, str], status: int, message: str) -> None:
    result = run(*args, env=env)
    assert result.returncode == status
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_broken_scenario_stops_the_server_from_starting(tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.yaml", BROKEN)
    result = run("serve", "--port", str(free_port()), "--scenarios", str(broken))
    assert result.returncode == 1
    assert f"{broken}:5: lifecycle[0].pols: unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_settings_are_named(tmp_path: Path) -> None:
    config = write(tmp_path, "settings.yaml", "traffic_ops:\n  users: [{username: x}]\n")
    result = run("serve", "--port", str(free_port()), "--config", str(config))
    assert result.returncode == 1
    assert "settings.yaml:2: settings traffic_ops.users[0]: 'password' is missing" in result.stderr


def test_a_port_in_use_is_one_line(server: Served) -> None:
    result = run("serve", "--port", str(server.port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{server.port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_prints_what_a_newcomer_needs_and_stops_cleanly_on_sigterm(server: Served) -> None:
    with urllib.request.urlopen(server.url + "/_emulator/clock", timeout=5) as response:
        assert json.loads(response.read())["mode"] == "virtual"
    assert run("health", "--url", server.url).returncode == 0
    server.process.send_signal(signal.SIGTERM)
    out, _ = server.process.communicate(timeout=20)
    assert server.process.returncode == 0
    assert f"listening on {server.url}" in out
    for needed in ("/api/4.0/async_status/{id}", "admin/twelve12", "fred/fred", "sdadmin/Passw0rd",
                   "EMULATORAK0000000001", f"control API: {server.url}/_emulator/"):
        assert needed in out, needed
    # Every control route, as the OpenAPI document lists them.
    document = json.loads(run("openapi").stdout)
    for path, operations in document["paths"].items():
        if path.startswith("/_emulator/"):
            for method in operations:
                assert re.search(rf"^ +{method.upper()} +{re.escape(path)}$", out, re.MULTILINE), (method, path)
    assert run("health", "--url", server.url).returncode == 1


def test_health_finds_the_server_where_serve_put_it(server: Served) -> None:
    env = {"TASK_EMULATOR_HOST": "0.0.0.0", "TASK_EMULATOR_PORT": str(server.port)}
    assert run("health", env=env).returncode == 0
    env["TASK_EMULATOR_PORT"] = str(free_port())
    assert run("health", env=env).returncode == 1


@pytest.mark.parametrize("loop", ["asyncio", "uvloop", "auto"])
def test_serve_runs_on_the_loop_asked_for(loop: str) -> None:
    served = start_server("--loop", loop)
    try:
        assert run("health", "--url", served.url).returncode == 0
        served.process.send_signal(signal.SIGTERM)
        out, _ = served.process.communicate(timeout=20)
    finally:
        if served.process.poll() is None:
            served.process.kill()
    assert served.process.returncode == 0
    installed = importlib.util.find_spec("uvloop") is not None
    expected = ("uvloop" if installed else "asyncio") if loop == "auto" else loop
    assert f"loop: {expected})" in out.splitlines()[0]


def test_asking_for_uvloop_where_it_is_not_installed_is_one_line(tmp_path: Path) -> None:
    # A uvloop that cannot be imported, as on a machine without it.
    write(tmp_path, "uvloop/__init__.py", "raise ImportError('No module named uvloop')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    result = run("serve", "--port", str(free_port()), "--loop", "uvloop", env=env)
    assert result.returncode == 1
    assert "--loop uvloop: uvloop is not installed (pip install 'task-emulator[fast]'" in result.stderr
    assert "Traceback" not in result.stderr
    # auto falls back to asyncio's loop.
    served = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--port", str(free_port())],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env},
    )
    try:
        assert served.stdout is not None
        assert "loop: asyncio)" in served.stdout.readline()
    finally:
        served.kill()
        served.communicate(timeout=10)


def test_sigint_stops_it_too(server: Served) -> None:
    server.process.send_signal(signal.SIGINT)
    server.process.communicate(timeout=20)
    assert server.process.returncode == 0


def test_json_logs_and_the_open_control_api_warning() -> None:
    served = start_server("--host", "0.0.0.0", "--log-format", "json")
    try:
        served.process.send_signal(signal.SIGTERM)
        _, err = served.process.communicate(timeout=20)
    finally:
        if served.process.poll() is None:
            served.process.kill()
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    warning = next(r for r in records if r["level"] == "warning")
    assert "without --admin-token" in warning["message"]
