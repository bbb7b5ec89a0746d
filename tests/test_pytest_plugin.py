"""The pytest plugin, used as a user would: consumer test files run by pytester."""

from __future__ import annotations

# Imported here so that inline pytester runs share these modules with this process (a
# module first imported inside an inline run is dropped after it, splitting its classes).
import http.cookiejar  # noqa: F401

import aiohttp  # noqa: F401
import pytest
import requests  # noqa: F401

pytest_plugins = ["pytester"]

LOGIN = """
import requests

def session_for(emu):
    http = requests.Session()
    creds = emu.credentials("traffic_ops")
    r = http.post(emu.url_for("traffic_ops") + "user/login", json={"u": creds["username"], "p": creds["password"]}, timeout=5)
    r.raise_for_status()
    return http
"""


def test_a_sync_test_polls_with_requests_and_a_virtual_clock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        LOGIN
        + """
def test_renewal(task_emulator):
    http = session_for(task_emulator)
    task = task_emulator.create_task("traffic_ops", "acme-autorenew")
    assert task.status_url == task_emulator.url + "/api/4.0/async_status/" + task.id
    assert http.get(task.status_url, timeout=5).json()["response"]["status"] == "PENDING"
    task_emulator.advance(30 * 60)
    body = http.get(task.status_url, timeout=5).json()["response"]
    assert body["status"] == "SUCCEEDED"
    assert task.phase == "succeeded"
    assert [e["status"] for e in task_emulator.requests(task=task)] == [200, 200]

def test_forced_outcomes(task_emulator):
    http = session_for(task_emulator)
    ok = task_emulator.create_task("traffic_ops", "acme-autorenew")
    bad = task_emulator.create_task("traffic_ops", "acme-autorenew", message="custom start")
    task_emulator.complete(ok)
    task_emulator.fail(bad, "ACME renewal failed.")
    assert http.get(ok.status_url, timeout=5).json()["response"]["status"] == "SUCCEEDED"
    body = http.get(bad.status_url, timeout=5).json()["response"]
    assert (body["status"], body["message"]) == ("FAILED", "ACME renewal failed.")

def test_fresh_state_per_test(task_emulator):
    task = task_emulator.create_task("traffic_ops", "acme-autorenew")
    assert task.id == "2"  # nothing left over from the tests before
"""
    )
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=3)


def test_an_asyncio_test_uses_the_same_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        """
import aiohttp
import pytest

@pytest.mark.asyncio
async def test_async_client(task_emulator):
    creds = task_emulator.credentials("traffic_ops")
    # aiohttp keeps no cookies from IP addresses unless told to.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await http.post(task_emulator.url_for("traffic_ops") + "user/login", json={"u": creds["username"], "p": creds["password"]})
        task = task_emulator.create_task("traffic_ops", "dnssec-refresh")
        async with http.get(task.status_url) as response:
            assert (await response.json())["response"]["status"] == "PENDING"
        task_emulator.advance(60)
        async with http.get(task.status_url) as response:
            assert (await response.json())["response"]["status"] == "SUCCEEDED"
"""
    )
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=1)


def test_the_marker_configures_scenarios_seed_and_clock(pytester: pytest.Pytester) -> None:
    pytester.mkdir("scenarios")
    pytester.path.joinpath("scenarios", "mine.yaml").write_text(
        "api: traffic_ops\nname: mine\nlifecycle:\n  - {phase: running, polls: 2}\n  - {phase: succeeded}\n"
    )
    pytester.makepyfile(
        """
import pytest

@pytest.mark.task_emulator(scenarios=["scenarios"], clock="real")
def test_marker(task_emulator):
    task = task_emulator.create_task("traffic_ops", "mine")
    assert task.phase == "running"
    assert task_emulator.server.runtime.engine.clock.mode == "real"

@pytest.mark.task_emulator(seed=5)
def test_seed(task_emulator):
    assert task_emulator.server.runtime.engine.random.seed == 5
    assert task_emulator.server.runtime.engine.clock.mode == "virtual"

@pytest.mark.task_emulator(colour="red")
def test_bad_marker(task_emulator):
    pass
"""
    )
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*has no argument 'colour' (it takes scenarios, seed, clock, clock_start, validate, settings)*"])


def test_options_and_ini_set_defaults(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntask_emulator_seed = 11\ntask_emulator_validate = warn\n")
    pytester.makepyfile(
        """
def test_defaults(task_emulator):
    config = task_emulator.server.runtime.config
    assert (config.seed, config.validate, config.clock) == (11, "warn", "real")
"""
    )
    result = pytester.runpytest("-q", "--task-emulator-clock", "real")
    result.assert_outcomes(passed=1)
    result = pytester.runpytest("-q", "--task-emulator-seed", "12")
    result.assert_outcomes(failed=1)


def test_a_schema_violation_fails_the_test_even_when_the_client_swallows_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        LOGIN
        + """
import json, shutil
from emulator.resources import builtin_schemas
from emulator.schemas import SchemaSet

def test_drift(task_emulator, tmp_path):
    root = tmp_path / "schemas"
    shutil.copytree(builtin_schemas(), root)
    path = root / "traffic_ops" / "async_status.schema.json"
    schema = json.loads(path.read_text())
    schema["properties"]["response"]["properties"]["message"]["maxLength"] = 5
    path.write_text(json.dumps(schema))
    task_emulator.server.runtime.schemas = SchemaSet(root)
    http = session_for(task_emulator)
    http.get(task_emulator.url + "/api/4.0/async_status/1", timeout=5)  # a 500, ignored
"""
    )
    result = pytester.runpytest("-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*task-emulator sent responses that break their schema*",
        "*GET /api/4.0/async_status/1 -> traffic_ops/async_status.schema.json: at $.response.message: 'Async job has started.' is too long*",
    ])


def test_the_session_fixture_is_shared_and_reset(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
ports = []

def test_one(task_emulator_session):
    ports.append(task_emulator_session.server.port)
    task_emulator_session.create_task("traffic_ops", "acme-autorenew", id=50)
    task_emulator_session.advance(100)

def test_two(task_emulator_session):
    ports.append(task_emulator_session.server.port)
    assert ports[0] == ports[1]
    task_emulator_session.create_task("traffic_ops", "acme-autorenew", id=50)  # no duplicate: reset
    assert task_emulator_session.now() == task_emulator_session.server.runtime.engine.clock.now()
"""
    )
    result = pytester.runpytest("-q", "-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_xdist_workers_never_share_state_or_ports(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    out = pytester.mkdir("ports")
    monkeypatch.setenv("PORTS_DIR", str(out))
    pytester.makepyfile(
        """
import os, pytest, time

@pytest.mark.parametrize("n", range(6))
def test_own_server(task_emulator, n):
    task = task_emulator.create_task("traffic_ops", "acme-autorenew")
    assert task.id == "2"  # never a task of another test or worker
    worker = os.environ["PYTEST_XDIST_WORKER"]
    with open(os.path.join(os.environ["PORTS_DIR"], f"{worker}-{n}"), "w") as f:
        f.write(str(task_emulator.server.port))
"""
    )
    result = pytester.runpytest_subprocess("-q", "-n", "2")
    result.assert_outcomes(passed=6)
    workers = {p.name.split("-")[0] for p in out.iterdir()}
    assert workers == {"gw0", "gw1"}


def test_the_plugin_is_registered_by_installing_the_package(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--fixtures")
    result.stdout.fnmatch_lines(["*task_emulator*", "*task_emulator_session*"])
