"""Journeys: each API driven by its real client through the installed pytest fixture, across
clock jumps of the length real jobs take. A jump stands for time in which the client kept
polling, so after it the client's credentials still work and its next poll sees the
scripted phase without logging in again. The explicit expiry path (`expire_credentials`)
is where a client's re-login is tested."""

from __future__ import annotations

import pytest

from emulator.testing import TaskEmulator

# From a poll interval to a month: every lifetime the vendors give a credential (15 minutes
# of signature skew, Traffic Ops' 6-hour cookie, a 24-hour IAM token) is crossed.
JUMPS = {"1m": 60, "30m": 30 * 60, "2h": 2 * 3600, "1d": 86400, "30d": 30 * 86400}


@pytest.fixture(params=["task_emulator", "task_emulator_session"])
def emulator(request: pytest.FixtureRequest) -> TaskEmulator:
    """Both fixtures a user can pick: a fresh server per test, and the shared one."""
    handle: TaskEmulator = request.getfixturevalue(request.param)
    return handle


@pytest.fixture(params=list(JUMPS.values()), ids=list(JUMPS))
def jump(request: pytest.FixtureRequest) -> int:
    """Seconds the test moves the emulator clock while its client holds its credentials."""
    seconds: int = request.param
    return seconds
