"""Journeys: each API driven by its real client through the installed pytest fixture, across
clock jumps of the length real jobs take. A jump stands for time in which the client kept
polling, so after it the client's credentials still work and its next poll sees the
scripted phase without logging in again. The explicit expiry path (`expire_credentials`)
is where a client's re-login is tested."""

from __future__ import annotations

import dataclasses

import pytest

from emulator.config import EmulatorConfig
from emulator.testing import TaskEmulator

# From a poll interval to a month: every lifetime the vendors give a credential (15 minutes
# of signature skew, Traffic Ops' 6-hour cookie, a 24-hour IAM token) is crossed.
JUMPS = {"1m": 60, "30m": 30 * 60, "2h": 2 * 3600, "1d": 86400, "30d": 30 * 86400}


# The fixtures a user can pick: a fresh server per test, the shared one, and a fresh server
# keeping its state on a Redis store (as replicas do), configured the documented way, by
# overriding `task_emulator_config`.
FIXTURES = ["task_emulator", "task_emulator_session", "task_emulator on redis"]


@pytest.fixture(params=FIXTURES)
def emulator(request: pytest.FixtureRequest) -> TaskEmulator:
    handle: TaskEmulator = request.getfixturevalue(request.param.partition(" ")[0])
    on_redis = request.param.endswith("on redis")
    assert handle.server.runtime.store.name.startswith("redis://") == on_redis, handle.server.runtime.store.name
    return handle


@pytest.fixture
def task_emulator_config(task_emulator_config: EmulatorConfig, request: pytest.FixtureRequest) -> EmulatorConfig:
    """The plugin's configuration, on a real redis-server for the `on redis` journeys."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is None or callspec.params.get("emulator") != "task_emulator on redis":
        return task_emulator_config
    server = request.getfixturevalue("redis_server")
    server.flush()
    return dataclasses.replace(task_emulator_config, store=server.url)


@pytest.fixture(params=list(JUMPS.values()), ids=list(JUMPS))
def jump(request: pytest.FixtureRequest) -> int:
    """Seconds the test moves the emulator clock while its client holds its credentials."""
    seconds: int = request.param
    return seconds
